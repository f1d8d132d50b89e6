#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
// libstdc++ 12's <regex> trips -Wmaybe-uninitialized at -O1 with sanitizers (a known false
// positive inside std::function); this test file is the only user of <regex>.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "nexmark/Generator.h"

namespace reka::nexmark {
namespace {

// Reference formulas, written out from docs/nexmark.md (Events) independently of the implementation.
constexpr int64_t kBase = 1436918400000;

int64_t refLastPerson(int64_t e) {
  int64_t ep = e / 50;
  int64_t off = e % 50;
  if (off >= 1) off = 0;
  return ep + off;
}

int64_t refLastAuction(int64_t e) {
  int64_t ep = e / 50;
  int64_t off = e % 50;
  if (off < 1) {
    ep -= 1;
    off = 2;
  } else if (off >= 4) {
    off = 2;
  } else {
    off -= 1;
  }
  return ep * 3 + off;
}

// ts for event number `num` with n generators at aggregate rate R.
int64_t refTimestamp(int64_t num, int n, double rate) {
  double d = 1e6 * n / rate;
  auto micros = static_cast<int64_t>(std::floor(static_cast<double>(num) * d));
  return kBase + micros / 1000;
}

int64_t refBitReverseAbs(uint32_t c) {
  uint32_t r = 0;
  for (int i = 0; i < 32; ++i) {
    if ((c >> i) & 1U) r |= 1U << (31 - i);
  }
  int64_t v = static_cast<int32_t>(r);
  return v < 0 ? -v : v;
}

// extra(cur, avg) length bounds [lo, hi) as the spec defines them.
std::pair<int64_t, int64_t> refExtraBounds(int64_t cur, int64_t avg) {
  if (cur > avg) return {0, 1};
  int64_t want = avg - cur;
  auto delta = static_cast<int64_t>(std::llround(0.2 * static_cast<double>(want)));
  return {want - delta, want + std::max<int64_t>(delta, 1)};
}

Generator makeGenerator(const GeneratorConfig& config) {
  auto result = Generator::make(config);
  EXPECT_TRUE(result.isOk()) << result.status().toString();
  return std::move(result).value();
}

GeneratorConfig configOf(int64_t events, double rate = 10'000'000, uint64_t seed = 42) {
  GeneratorConfig config;
  config.seed = seed;
  config.events = events;
  config.rate = rate;
  return config;
}

std::vector<Event> generateAll(const Generator& gen, int g, StringArena& arena) {
  std::vector<Event> events;
  const int64_t count = gen.eventCount(g);
  events.reserve(static_cast<size_t>(count));
  for (int64_t k = 0; k < count; ++k) events.push_back(gen.event(g, k, arena));
  return events;
}

bool lettersAndSpaces(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || (c >= 'a' && c <= 'z'); });
}

bool trimmed(std::string_view s) {
  return s.empty() || (s.front() != ' ' && s.back() != ' ');
}

bool sameEvent(const Event& a, const Event& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case EventType::kPerson: {
      const Person& x = a.person;
      const Person& y = b.person;
      return x.id == y.id && x.name == y.name && x.emailAddress == y.emailAddress &&
             x.creditCard == y.creditCard && x.city == y.city && x.state == y.state &&
             x.dateTime == y.dateTime && x.extra == y.extra;
    }
    case EventType::kAuction: {
      const Auction& x = a.auction;
      const Auction& y = b.auction;
      return x.id == y.id && x.itemName == y.itemName && x.description == y.description &&
             x.initialBid == y.initialBid && x.reserve == y.reserve && x.dateTime == y.dateTime &&
             x.expires == y.expires && x.seller == y.seller && x.category == y.category &&
             x.extra == y.extra;
    }
    case EventType::kBid: {
      const Bid& x = a.bid;
      const Bid& y = b.bid;
      return x.auction == y.auction && x.bidder == y.bidder && x.price == y.price &&
             x.channel == y.channel && x.url == y.url && x.dateTime == y.dateTime &&
             x.extra == y.extra;
    }
  }
  return false;
}

TEST(GeneratorTest, TypesFollowPositionOneThreeFortySix) {
  Generator gen = makeGenerator(configOf(100000));
  StringArena arena;
  int64_t counts[3] = {0, 0, 0};
  for (int64_t k = 0; k < 100000; ++k) {
    Event ev = gen.event(0, k, arena);
    int64_t off = k % 50;
    EventType expected = off < 1   ? EventType::kPerson
                         : off < 4 ? EventType::kAuction
                                   : EventType::kBid;
    ASSERT_EQ(ev.type, expected) << "k=" << k;
    ++counts[static_cast<int>(ev.type)];
  }
  EXPECT_EQ(counts[0], 2000);
  EXPECT_EQ(counts[1], 6000);
  EXPECT_EQ(counts[2], 92000);
}

TEST(GeneratorTest, PersonAndAuctionIdsAreConsecutiveFrom1000) {
  Generator gen = makeGenerator(configOf(50000));
  StringArena arena;
  int64_t nextPerson = 1000;
  int64_t nextAuction = 1000;
  for (int64_t k = 0; k < 50000; ++k) {
    Event ev = gen.event(0, k, arena);
    if (ev.isPerson()) {
      ASSERT_EQ(ev.person.id, nextPerson++);
    } else if (ev.isAuction()) {
      ASSERT_EQ(ev.auction.id, nextAuction++);
    }
  }
  EXPECT_EQ(nextPerson, 1000 + 1000);
  EXPECT_EQ(nextAuction, 1000 + 3000);
}

TEST(GeneratorTest, LastPersonAndLastAuctionHandWorked) {
  // Hand-worked from the spec: (e, lastPerson, lastAuction).
  struct Case {
    int64_t e, lastPerson, lastAuction;
  };
  const Case cases[] = {{0, 0, -1},     {1, 0, 0},      {2, 0, 1},     {3, 0, 2},
                        {4, 0, 2},      {49, 0, 2},     {50, 1, 2},    {51, 1, 3},
                        {53, 1, 5},     {54, 1, 5},     {120, 2, 8},   {1000, 20, 59},
                        {1001, 20, 60}, {1003, 20, 62}, {1004, 20, 62}};
  for (const Case& c : cases) {
    EXPECT_EQ(refLastPerson(c.e), c.lastPerson) << c.e;
    EXPECT_EQ(refLastAuction(c.e), c.lastAuction) << c.e;
  }
  Generator gen = makeGenerator(configOf(2000));
  StringArena arena;
  EXPECT_EQ(gen.event(0, 0, arena).person.id, 1000);
  EXPECT_EQ(gen.event(0, 50, arena).person.id, 1001);
  EXPECT_EQ(gen.event(0, 1000, arena).person.id, 1020);
  EXPECT_EQ(gen.event(0, 1, arena).auction.id, 1000);
  EXPECT_EQ(gen.event(0, 51, arena).auction.id, 1003);
  EXPECT_EQ(gen.event(0, 53, arena).auction.id, 1005);
  EXPECT_EQ(gen.event(0, 1001, arena).auction.id, 1060);
  EXPECT_EQ(gen.event(0, 1003, arena).auction.id, 1062);
}

TEST(GeneratorTest, ForeignKeysStayWithinTheirWindows) {
  GeneratorConfig config = configOf(100000);
  Generator gen = makeGenerator(config);
  StringArena arena;
  for (int64_t k = 0; k < config.events; ++k) {
    Event ev = gen.event(0, k, arena);
    const int64_t e = k;
    const int64_t lp = refLastPerson(e);
    const int64_t la = refLastAuction(e);
    // randomPerson ∈ [np − active, np + 9]; the hot person is floor(lp/100)·100 (+1 for bidders).
    const int64_t personLo = std::min(lp + 1 - std::min<int64_t>(lp + 1, 1000), lp / 100 * 100);
    if (ev.isBid()) {
      const Bid& b = ev.bid;
      ASSERT_GE(b.auction - 1000, std::min(std::max<int64_t>(la - 100, 0), la / 100 * 100));
      ASSERT_LE(b.auction - 1000, la + 10);
      ASSERT_GE(b.bidder - 1000, personLo);
      ASSERT_LE(b.bidder - 1000, lp + 10);
    } else if (ev.isAuction()) {
      ASSERT_GE(ev.auction.seller - 1000, personLo);
      ASSERT_LE(ev.auction.seller - 1000, lp + 10);
    }
  }
}

TEST(GeneratorTest, TimestampsAtTenMillionPerSecond) {
  GeneratorConfig config = configOf(200'000'000, 10'000'000);
  Generator gen = makeGenerator(config);
  // d = 0.1 µs: 10 000 events per millisecond.
  EXPECT_EQ(gen.timestamp(0, 0), kBase);
  EXPECT_EQ(gen.timestamp(0, 9999), kBase);
  EXPECT_EQ(gen.timestamp(0, 10000), kBase + 1);
  EXPECT_EQ(gen.timestamp(0, 19999), kBase + 1);
  EXPECT_EQ(gen.timestamp(0, 20000), kBase + 2);
  EXPECT_EQ(gen.timestamp(0, 99'999'999), kBase + 9999);
  EXPECT_EQ(gen.timestamp(0, 100'000'000), kBase + 10000);
  EXPECT_EQ(gen.timestamp(0, 123'456'789), kBase + 12345);
  StringArena arena;
  EXPECT_EQ(gen.event(0, 123'456'789, arena).dateTime(), kBase + 12345);
  for (int64_t k = 0; k < 50000; k += 7) {
    ASSERT_EQ(gen.timestamp(0, k), refTimestamp(k, 1, config.rate)) << k;
  }
}

TEST(GeneratorTest, TimestampsAtOneThousandPerSecond) {
  Generator gen = makeGenerator(configOf(1'000'000, 1000));
  for (int64_t k : {0, 1, 2, 999, 1000, 123456, 999999}) {
    EXPECT_EQ(gen.timestamp(0, k), kBase + k);
  }
  StringArena arena;
  for (int64_t k = 0; k < 5000; ++k) ASSERT_EQ(gen.event(0, k, arena).dateTime(), kBase + k);

  // Three per second: d = 333 333.33 µs.
  Generator slow = makeGenerator(configOf(100, 3));
  EXPECT_EQ(slow.timestamp(0, 1), kBase + 333);
  EXPECT_EQ(slow.timestamp(0, 2), kBase + 666);
  EXPECT_EQ(slow.timestamp(0, 4), kBase + 1333);
}

TEST(GeneratorTest, OutOfOrderGroupOfThreeIsAPermutation) {
  GeneratorConfig config = configOf(300, 1000);
  config.outOfOrderGroupSize = 3;
  Generator gen = makeGenerator(config);
  // 953 mod 3 = 2: offsets 0, 2, 1 within each group.
  const int64_t expected[] = {0, 2, 1, 3, 5, 4, 6, 8, 7};
  for (int64_t k = 0; k < 9; ++k) {
    EXPECT_EQ(gen.eventId(0, k), expected[k]) << k;
    EXPECT_EQ(gen.timestamp(0, k), kBase + expected[k]) << k;
  }
  StringArena arena;
  std::vector<int64_t> ids;
  for (int64_t k = 0; k < 300; ++k) {
    const int64_t id = gen.eventId(0, k);
    ASSERT_EQ(id / 3, k / 3) << "an id leaves its group, k=" << k;
    Event ev = gen.event(0, k, arena);
    ASSERT_EQ(ev.dateTime(), kBase + id);
    if (ev.isPerson()) {
      ASSERT_EQ(ev.person.id, refLastPerson(id) + 1000);
    }
    if (ev.isAuction()) {
      ASSERT_EQ(ev.auction.id, refLastAuction(id) + 1000);
    }
    ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  for (int64_t i = 0; i < 300; ++i) ASSERT_EQ(ids[static_cast<size_t>(i)], i);
}

TEST(GeneratorTest, OutOfOrderOneIsIdentityAndFiveIsAPermutation) {
  GeneratorConfig config = configOf(1000, 1000);
  Generator inOrder = makeGenerator(config);
  for (int64_t k = 0; k < 1000; ++k) ASSERT_EQ(inOrder.eventId(0, k), k);
  config.outOfOrderGroupSize = 5;
  Generator shuffled = makeGenerator(config);
  std::set<int64_t> ids;
  for (int64_t k = 0; k < 1000; ++k) {
    const int64_t id = shuffled.eventId(0, k);
    ASSERT_EQ(id, k / 5 * 5 + (k * 953) % 5);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(*ids.rbegin(), 999);
}

TEST(GeneratorTest, ParallelGeneratorsGetDisjointRangesAndTheLastTakesTheRemainder) {
  GeneratorConfig config = configOf(1003, 1000);
  config.generators = 4;
  Generator gen = makeGenerator(config);
  EXPECT_EQ(gen.eventCount(0), 250);
  EXPECT_EQ(gen.eventCount(1), 250);
  EXPECT_EQ(gen.eventCount(2), 250);
  EXPECT_EQ(gen.eventCount(3), 253);
  StringArena arena;
  std::vector<int> seen(1003, 0);
  std::set<int64_t> personIds;
  for (int g = 0; g < 4; ++g) {
    for (int64_t k = 0; k < gen.eventCount(g); ++k) {
      const int64_t id = gen.eventId(g, k);
      ASSERT_EQ(id, g * 250 + k);
      ++seen[static_cast<size_t>(id)];
      // d = 1e6 · 4 / 1000 µs = 4 ms; the timelines of the generators interleave.
      ASSERT_EQ(gen.timestamp(g, k), kBase + 4 * k);
      Event ev = gen.event(g, k, arena);
      ASSERT_EQ(ev.dateTime(), kBase + 4 * k);
      const int64_t off = id % 50;
      ASSERT_EQ(ev.isPerson(), off == 0);
      ASSERT_EQ(ev.isAuction(), off >= 1 && off < 4);
      if (ev.isPerson()) {
        ASSERT_EQ(ev.person.id, id / 50 + 1000);
        ASSERT_TRUE(personIds.insert(ev.person.id).second);
      }
    }
  }
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));

  GeneratorConfig offset = config;
  offset.firstEventId = 5000;
  Generator shifted = makeGenerator(offset);
  EXPECT_EQ(shifted.eventId(0, 0), 5000);
  EXPECT_EQ(shifted.eventId(2, 7), 5000 + 500 + 7);
}

TEST(GeneratorTest, FirstEventNumberShiftsIdsAndTimestamps) {
  GeneratorConfig config = configOf(100, 1000);
  config.firstEventNumber = 1000;
  config.firstEventId = 7;
  Generator gen = makeGenerator(config);
  // num = 1000 + k; id = firstEventId + num; ts = baseTime + num ms at 1000/s.
  EXPECT_EQ(gen.eventId(0, 0), 1007);
  EXPECT_EQ(gen.timestamp(0, 0), kBase + 1000);
  EXPECT_EQ(gen.eventId(0, 43), 1050);
  StringArena arena;
  Event ev = gen.event(0, 43, arena);
  ASSERT_TRUE(ev.isPerson());
  EXPECT_EQ(ev.person.id, 1050 / 50 + 1000);
  EXPECT_EQ(ev.person.dateTime, kBase + 1043);
}

TEST(GeneratorTest, SameConfigGivesTheSameStreamAndAnotherSeedAnother) {
  GeneratorConfig config = configOf(5000);
  Generator a = makeGenerator(config);
  Generator b = makeGenerator(config);
  StringArena arenaA;
  StringArena arenaB;
  std::vector<Event> streamA = generateAll(a, 0, arenaA);
  std::vector<Event> streamB = generateAll(b, 0, arenaB);
  for (size_t i = 0; i < streamA.size(); ++i) ASSERT_TRUE(sameEvent(streamA[i], streamB[i])) << i;

  // Any order of access gives the same events: the generator is a pure function of k.
  StringArena arenaC;
  for (int64_t k = config.events - 1; k >= 0; k -= 3) {
    ASSERT_TRUE(sameEvent(a.event(0, k, arenaC), streamA[static_cast<size_t>(k)])) << k;
  }

  config.seed = 43;
  Generator other = makeGenerator(config);
  StringArena arenaD;
  std::vector<Event> streamD = generateAll(other, 0, arenaD);
  int64_t differentPrices = 0;
  int64_t bids = 0;
  for (size_t i = 0; i < streamA.size(); ++i) {
    ASSERT_EQ(streamA[i].type, streamD[i].type);
    ASSERT_EQ(streamA[i].dateTime(), streamD[i].dateTime());
    if (streamA[i].isBid()) {
      ++bids;
      if (streamA[i].bid.price != streamD[i].bid.price) ++differentPrices;
    }
  }
  EXPECT_GT(differentPrices, bids * 99 / 100);
}

TEST(GeneratorTest, CopiesShareThePoolsAndOutliveTheOriginal) {
  std::optional<Generator> original = makeGenerator(configOf(1000));
  Generator copy = *original;
  StringArena arena;
  Event before = original->event(0, 7, arena);
  original.reset();
  Event after = copy.event(0, 7, arena);
  ASSERT_TRUE(after.isBid());
  EXPECT_TRUE(sameEvent(before, after));
  // The views point into the pools that `copy` keeps alive (ASan checks the reads).
  EXPECT_EQ(std::string(before.bid.url), std::string(after.bid.url));
  EXPECT_EQ(std::string(before.bid.extra), std::string(after.bid.extra));
}

TEST(GeneratorTest, BidsDoNotUseTheArena) {
  Generator gen = makeGenerator(configOf(1000));
  StringArena arena;
  for (int64_t k = 4; k < 50; ++k) ASSERT_TRUE(gen.event(0, k, arena).isBid());
  EXPECT_EQ(arena.chunkCount(), 0u);
}

TEST(GeneratorTest, HotSellersAuctionsBiddersAndChannels) {
  // Far into the stream, so randomPerson draws from the full 1000 active people.
  GeneratorConfig config = configOf(200000);
  config.firstEventId = 10'000'000;
  Generator gen = makeGenerator(config);
  StringArena arena;
  int64_t bids = 0, hotAuction = 0, hotBidder = 0, hotChannel = 0;
  int64_t auctions = 0, hotSeller = 0;
  std::map<std::string, int64_t> hotChannels;
  for (int64_t k = 0; k < config.events; ++k) {
    const int64_t e = gen.eventId(0, k);
    Event ev = gen.event(0, k, arena);
    if (ev.isBid()) {
      ++bids;
      if (ev.bid.auction == refLastAuction(e) / 100 * 100 + 1000) ++hotAuction;
      if (ev.bid.bidder == refLastPerson(e) / 100 * 100 + 1 + 1000) ++hotBidder;
      std::string channel(ev.bid.channel);
      if (channel == "Google" || channel == "Facebook" || channel == "Baidu" ||
          channel == "Apple") {
        ++hotChannel;
        ++hotChannels[channel];
      }
    } else if (ev.isAuction()) {
      ++auctions;
      if (ev.auction.seller == refLastPerson(e) / 100 * 100 + 1000) ++hotSeller;
    }
  }
  const double b = static_cast<double>(bids);
  EXPECT_GE(hotAuction / b, 0.49);
  EXPECT_LE(hotAuction / b, 0.52);
  EXPECT_NEAR(hotBidder / b, 0.75, 0.01);
  EXPECT_NEAR(hotChannel / b, 0.5, 0.01);
  EXPECT_EQ(hotChannels.size(), 4u);
  for (const auto& [name, count] : hotChannels) EXPECT_NEAR(count / b, 0.125, 0.01) << name;
  EXPECT_NEAR(hotSeller / static_cast<double>(auctions), 0.75, 0.02);
}

TEST(GeneratorTest, PricesCategoriesAndExpiries) {
  GeneratorConfig config = configOf(200000, 1000);
  Generator gen = makeGenerator(config);
  StringArena arena;
  int64_t prices = 0, below1e4 = 0, below1e6 = 0;
  std::map<int64_t, int64_t> categories;
  int64_t auctions = 0;
  double lengthSum = 0;
  auto countPrice = [&](int64_t price) {
    // round(10^(6u)·100): 10^8 itself needs u > 1 − 3.6e-10, practically never.
    EXPECT_GE(price, 100);
    EXPECT_LE(price, 100'000'000);
    ++prices;
    if (price < 10'000) ++below1e4;
    if (price < 1'000'000) ++below1e6;
  };
  for (int64_t k = 0; k < config.events; ++k) {
    Event ev = gen.event(0, k, arena);
    if (ev.isBid()) {
      countPrice(ev.bid.price);
    } else if (ev.isAuction()) {
      const Auction& a = ev.auction;
      ++auctions;
      countPrice(a.initialBid);
      ASSERT_GT(a.reserve, a.initialBid);
      countPrice(a.reserve - a.initialBid);
      ASSERT_GE(a.category, 10);
      ASSERT_LT(a.category, 15);
      ++categories[a.category];
      // R = 1000/s: h = 1666 ms, so expires − dateTime ∈ [1, 2h].
      ASSERT_GT(a.expires, a.dateTime);
      ASSERT_LE(a.expires - a.dateTime, 2 * 1666);
      lengthSum += static_cast<double>(a.expires - a.dateTime);
    }
  }
  // Log-uniform over six decades: a third below 10^4, two thirds below 10^6.
  EXPECT_NEAR(below1e4 / static_cast<double>(prices), 1.0 / 3, 0.01);
  EXPECT_NEAR(below1e6 / static_cast<double>(prices), 2.0 / 3, 0.01);
  for (int64_t c = 10; c < 15; ++c) {
    EXPECT_NEAR(categories[c] / static_cast<double>(auctions), 0.2, 0.015) << c;
  }
  EXPECT_NEAR(lengthSum / static_cast<double>(auctions), 1666.5, 40);
}

TEST(GeneratorTest, ExpiresFollowsTheHorizonAtOtherRates) {
  GeneratorConfig config = configOf(20000, 7'000'000);
  config.generators = 2;
  Generator gen = makeGenerator(config);
  StringArena arena;
  for (int g = 0; g < 2; ++g) {
    for (int64_t k = 0; k < gen.eventCount(g); ++k) {
      Event ev = gen.event(g, k, arena);
      if (!ev.isAuction()) continue;
      const int64_t h = refTimestamp(k + 1666, 2, config.rate) - refTimestamp(k, 2, config.rate);
      ASSERT_GT(ev.auction.expires, ev.auction.dateTime);
      ASSERT_LE(ev.auction.expires - ev.auction.dateTime, std::max<int64_t>(2 * h, 1));
    }
  }
}

TEST(GeneratorTest, ChannelsAndUrls) {
  GeneratorConfig config = configOf(300000);
  Generator gen = makeGenerator(config);
  StringArena arena;
  const std::regex urlShape(
      R"(https://www\.nexmark\.com/[a-z_]{3,4}/[a-z_]{3,4}/[a-z_]{3,4}/item\.htm\?query=1(&channel_id=(\d+))?)");
  std::map<std::string, std::string> urlOfChannel;
  int64_t coldBids = 0, coldWithId = 0;
  for (int64_t k = 0; k < config.events; ++k) {
    Event ev = gen.event(0, k, arena);
    if (!ev.isBid()) continue;
    std::string channel(ev.bid.channel);
    std::string url(ev.bid.url);
    auto [it, inserted] = urlOfChannel.emplace(channel, url);
    ASSERT_EQ(it->second, url) << "channel " << channel << " has two urls";
    const bool hot =
        channel == "Google" || channel == "Facebook" || channel == "Baidu" || channel == "Apple";
    if (!hot) {
      ++coldBids;
      if (url.find("&channel_id=") != std::string::npos) ++coldWithId;
    }
  }
  int64_t channelsWithId = 0;
  int64_t coldChannels = 0;
  for (const auto& [channel, url] : urlOfChannel) {
    std::smatch match;
    ASSERT_TRUE(std::regex_match(url, match, urlShape)) << url;
    if (channel == "Google" || channel == "Facebook" || channel == "Baidu" || channel == "Apple") {
      EXPECT_FALSE(match[1].matched) << "hot url with channel_id: " << url;
      continue;
    }
    ASSERT_EQ(channel.rfind("channel-", 0), 0u) << channel;
    const int c = std::stoi(channel.substr(8));
    ASSERT_GE(c, 0);
    ASSERT_LT(c, 10000);
    ASSERT_EQ(channel, "channel-" + std::to_string(c));
    ++coldChannels;
    if (match[1].matched) {
      ++channelsWithId;
      EXPECT_EQ(std::stoll(match[2].str()), refBitReverseAbs(static_cast<uint32_t>(c))) << url;
    }
  }
  EXPECT_EQ(urlOfChannel.size(), 4u + static_cast<size_t>(coldChannels));
  EXPECT_GT(coldChannels, 9900);  // ~138 000 cold bids over 10 000 channels
  EXPECT_NEAR(channelsWithId / static_cast<double>(coldChannels), 0.9, 0.015);
  EXPECT_NEAR(coldWithId / static_cast<double>(coldBids), 0.9, 0.015);
  // Hand-worked bit reversals: 1 → 0x80000000 (|INT32_MIN| in 64 bits), 2 → 0x40000000.
  EXPECT_EQ(refBitReverseAbs(1), 2147483648LL);
  EXPECT_EQ(refBitReverseAbs(2), 1073741824LL);
  EXPECT_EQ(refBitReverseAbs(3), 1073741824LL);  // 0xC0000000 = −2^30
}

TEST(GeneratorTest, PersonFields) {
  GeneratorConfig config = configOf(200000);
  Generator gen = makeGenerator(config);
  StringArena arena;
  const std::set<std::string> first = {"Peter", "Paul",  "Luke",  "John",   "Saul",  "Vicky",
                                       "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
  const std::set<std::string> last = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                      "Walton", "Smith",  "Jones",   "Noris"};
  const std::set<std::string> cities = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                        "Portland", "Bend",        "Redmond",       "Seattle",
                                        "Kent",     "Cheyenne"};
  const std::set<std::string> states = {"AZ", "CA", "ID", "OR", "WA", "WY"};
  const std::regex card(R"(\d{4} \d{4} \d{4} \d{4})");
  std::set<std::string> names;
  std::set<std::string> seenStates;
  double totalSize = 0;
  int64_t persons = 0;
  for (int64_t k = 0; k < config.events; k += 50) {
    Event ev = gen.event(0, k, arena);
    ASSERT_TRUE(ev.isPerson());
    const Person& p = ev.person;
    ++persons;
    std::string name(p.name);
    const size_t space = name.find(' ');
    ASSERT_NE(space, std::string::npos);
    ASSERT_TRUE(first.count(name.substr(0, space))) << name;
    ASSERT_TRUE(last.count(name.substr(space + 1))) << name;
    names.insert(name);
    std::string email(p.emailAddress);
    const size_t at = email.find('@');
    ASSERT_NE(at, std::string::npos) << email;
    ASSERT_EQ(email.substr(email.size() - 4), ".com") << email;
    const std::string user = email.substr(0, at);
    const std::string host = email.substr(at + 1, email.size() - 4 - at - 1);
    ASSERT_LE(user.size(), 6u);
    ASSERT_LE(host.size(), 4u);
    ASSERT_TRUE(lettersAndSpaces(user) && trimmed(user)) << email;
    ASSERT_TRUE(lettersAndSpaces(host) && trimmed(host)) << email;
    ASSERT_TRUE(std::regex_match(std::string(p.creditCard), card)) << p.creditCard;
    ASSERT_TRUE(cities.count(std::string(p.city))) << p.city;
    ASSERT_TRUE(states.count(std::string(p.state))) << p.state;
    seenStates.insert(std::string(p.state));
    ASSERT_EQ(p.dateTime, gen.timestamp(0, k));
    const auto cur = static_cast<int64_t>(8 + p.name.size() + p.emailAddress.size() +
                                          p.creditCard.size() + p.city.size() + p.state.size());
    const auto [lo, hi] = refExtraBounds(cur, 200);
    ASSERT_GE(static_cast<int64_t>(p.extra.size()), lo);
    ASSERT_LT(static_cast<int64_t>(p.extra.size()), hi);
    ASSERT_TRUE(lettersAndSpaces(p.extra));
    totalSize += static_cast<double>(cur + static_cast<int64_t>(p.extra.size()));
  }
  EXPECT_EQ(names.size(), 99u);
  EXPECT_EQ(seenStates.size(), 6u);
  // The extra pads a person to about 200 bytes (U[0, 2δ) averages δ − 1/2).
  EXPECT_NEAR(totalSize / static_cast<double>(persons), 199.5, 2.0);
}

TEST(GeneratorTest, AuctionStringsAndExtra) {
  GeneratorConfig config = configOf(200000);
  Generator gen = makeGenerator(config);
  StringArena arena;
  double itemSum = 0, descriptionSum = 0, totalSize = 0, spaces = 0, chars = 0;
  int64_t auctions = 0;
  for (int64_t k = 0; k < config.events; ++k) {
    if (k % 50 < 1 || k % 50 >= 4) continue;
    Event ev = gen.event(0, k, arena);
    ASSERT_TRUE(ev.isAuction());
    const Auction& a = ev.auction;
    ++auctions;
    // str(max): raw length 3 + U[0, max − 3), then trimmed.
    ASSERT_LE(a.itemName.size(), 19u);
    ASSERT_LE(a.description.size(), 99u);
    ASSERT_TRUE(lettersAndSpaces(a.itemName) && trimmed(a.itemName)) << a.itemName;
    ASSERT_TRUE(lettersAndSpaces(a.description) && trimmed(a.description)) << a.description;
    itemSum += static_cast<double>(a.itemName.size());
    descriptionSum += static_cast<double>(a.description.size());
    spaces += static_cast<double>(std::count(a.description.begin(), a.description.end(), ' '));
    chars += static_cast<double>(a.description.size());
    const auto cur = static_cast<int64_t>(8 + a.itemName.size() + a.description.size() + 40);
    const auto [lo, hi] = refExtraBounds(cur, 500);
    ASSERT_GE(static_cast<int64_t>(a.extra.size()), lo);
    ASSERT_LT(static_cast<int64_t>(a.extra.size()), hi);
    totalSize += static_cast<double>(cur + static_cast<int64_t>(a.extra.size()));
  }
  const double n = static_cast<double>(auctions);
  // Mean raw lengths 11 and 51, a little less after trimming.
  EXPECT_NEAR(itemSum / n, 10.85, 0.3);
  EXPECT_NEAR(descriptionSum / n, 50.85, 0.5);
  EXPECT_NEAR(spaces / chars, 1.0 / 13, 0.005);
  EXPECT_NEAR(totalSize / n, 499.5, 3.0);
}

TEST(GeneratorTest, BidExtraLengths) {
  GeneratorConfig config = configOf(100000);
  Generator gen = makeGenerator(config);
  StringArena arena;
  double sum = 0;
  int64_t bids = 0;
  std::set<size_t> lengths;
  for (int64_t k = 0; k < config.events; ++k) {
    Event ev = gen.event(0, k, arena);
    if (!ev.isBid()) continue;
    ++bids;
    // extra(32, 100): want 68, δ = round(13.6) = 14, length ∈ [54, 82).
    ASSERT_GE(ev.bid.extra.size(), 54u);
    ASSERT_LT(ev.bid.extra.size(), 82u);
    ASSERT_TRUE(lettersAndSpaces(ev.bid.extra));
    lengths.insert(ev.bid.extra.size());
    sum += static_cast<double>(ev.bid.extra.size());
  }
  EXPECT_EQ(lengths.size(), 28u);
  EXPECT_NEAR(sum / static_cast<double>(bids), 67.5, 0.3);
}

TEST(GeneratorTest, MakeRejectsBadConfigs) {
  struct Case {
    GeneratorConfig config;
    std::string field;
  };
  std::vector<Case> cases;
  auto add = [&](std::string field, auto change) {
    GeneratorConfig config = configOf(100);
    change(config);
    cases.push_back({config, std::move(field)});
  };
  add("events", [](GeneratorConfig& c) { c.events = -1; });
  add("rate", [](GeneratorConfig& c) { c.rate = 0; });
  add("rate", [](GeneratorConfig& c) { c.rate = -5; });
  add("rate", [](GeneratorConfig& c) { c.rate = std::nan(""); });
  add("rate", [](GeneratorConfig& c) { c.rate = INFINITY; });
  add("generators", [](GeneratorConfig& c) { c.generators = 0; });
  add("outOfOrderGroupSize", [](GeneratorConfig& c) { c.outOfOrderGroupSize = 0; });
  add("firstEventId", [](GeneratorConfig& c) { c.firstEventId = -1; });
  add("firstEventNumber", [](GeneratorConfig& c) { c.firstEventNumber = -1; });
  for (const Case& c : cases) {
    auto result = Generator::make(c.config);
    ASSERT_FALSE(result.isOk()) << c.field;
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(result.status().message().find(c.field), std::string::npos)
        << result.status().message();
  }
  GeneratorConfig empty = configOf(0);
  auto result = Generator::make(empty);
  ASSERT_TRUE(result.isOk());
  EXPECT_EQ(result->eventCount(0), 0);
  GeneratorConfig fewerEventsThanGenerators = configOf(3);
  fewerEventsThanGenerators.generators = 5;
  auto few = Generator::make(fewerEventsThanGenerators);
  ASSERT_TRUE(few.isOk());
  EXPECT_EQ(few->eventCount(0), 0);
  EXPECT_EQ(few->eventCount(4), 3);
}

}  // namespace
}  // namespace reka::nexmark
