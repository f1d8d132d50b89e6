// NEXMark in SQL: Flink's DDL and queries (sql/nexmark/) run by the SQL planner on the nexmark
// connector; the rows must be what a plain loop over the generator's events gives.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <sstream>

#include "NexmarkTestKit.h"
#include "reka/data/Row.h"
#include "nexmark/Generator.h"
#include "nexmark/QueryJob.h"
#include "reka/sql/Sql.h"
#include "testing/JobTesting.h"

#ifndef REKA_SOURCE_DIR
#error "REKA_SOURCE_DIR must name the source tree"
#endif

namespace reka::nexmark::it {
namespace {

constexpr int64_t kEvents = 20000;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

/// q13's side table, "k,value-k" for k = 0 … 9999 (the C++ q13's), written under `dir` once.
std::string sideInput(const ScratchDir& dir) {
  const std::string path = dir.file("side_input.txt");
  if (!std::filesystem::exists(path)) {
    std::ofstream out(path);
    for (int k = 0; k < 10000; ++k) out << k << ",value-" << k << "\n";
  }
  return path;
}

/// Runs sql/nexmark/<query>.sql at `parallelism` with its sink turned into JSON files; the lines.
std::vector<std::string> runQuery(const std::string& query, int parallelism, const ScratchDir& dir,
                                  const std::string& format = "json", int64_t rate = 10'000'000,
                                  const std::function<void(ExecutionConfig&)>& configure = {}) {
  registerNexmarkConnector();
  const std::string root = std::string(REKA_SOURCE_DIR) + "/sql/nexmark/";
  std::string script = readFile(root + "ddl.sql") + readFile(root + query + ".sql");
  script = replaceAll(script, "${EVENTS_NUM}", std::to_string(kEvents));
  script = replaceAll(script, "${FLINK_HOME}/data/side_input.txt", sideInput(dir));
  script = replaceAll(script, "'10000000'", "'" + std::to_string(rate) + "'");
  const std::string out = dir.file(query + "-p" + std::to_string(parallelism));
  script = replaceAll(script, "'connector' = 'blackhole'", "'connector' = 'filesystem', 'path' = '" + out + "', 'format' = '" + format + "'");
  auto compiled = sql::SqlScript::compile(script);
  EXPECT_TRUE(compiled.isOk()) << compiled.status().toString();
  if (!compiled.isOk()) return {};
  ExecutionConfig config;
  config.parallelism = parallelism;
  if (configure) configure(config);
  StreamEnvironment env(config);
  Status added = compiled->addTo(env);
  EXPECT_TRUE(added.isOk()) << added.toString();
  Status ran = testing::runJob(env);
  EXPECT_TRUE(ran.isOk()) << ran.toString();
  return reka::testing::linesUnder(out);
}

/// The bids of the stream, in order, from the generator itself (their strings live in `g`).
std::vector<Bid> bids(StringArena& arena, std::optional<Generator>& g) {
  GeneratorConfig config;
  config.events = kEvents;
  config.rate = 10'000'000;
  auto made = Generator::make(config);
  EXPECT_TRUE(made.isOk());
  g.emplace(*made);
  std::vector<Bid> out;
  for (int64_t k = 0; k < g->eventCount(0); ++k) {
    Event e = g->event(0, k, arena);
    if (e.isBid()) out.push_back(e.bid);
  }
  return out;
}

std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string timestamp(int64_t ms) {
  std::string out;
  appendTimestamp(ms, 3, false, false, out);
  return "\"" + out + "\"";
}

TEST(NexmarkSqlTest, Q0Q1Q2GiveTheRowsOfALoopOverTheGenerator) {
  ScratchDir dir;
  StringArena arena;
  std::optional<Generator> generator;
  const std::vector<Bid> all = bids(arena, generator);
  ASSERT_GT(all.size(), 10000u);
  std::vector<std::string> q0, q1, q2;
  for (const Bid& b : all) {
    const std::string tail = ",\"dateTime\":" + timestamp(b.dateTime) + ",\"extra\":" + jsonString(b.extra) + "}";
    q0.push_back("{\"auction\":" + std::to_string(b.auction) + ",\"bidder\":" + std::to_string(b.bidder) +
                 ",\"price\":" + std::to_string(b.price) + tail);
    // 0.908 * price with three decimals.
    const int64_t milli = b.price * 908;
    char price[64];
    std::snprintf(price, sizeof price, "%lld.%03lld", static_cast<long long>(milli / 1000), static_cast<long long>(milli % 1000));
    q1.push_back("{\"auction\":" + std::to_string(b.auction) + ",\"bidder\":" + std::to_string(b.bidder) + ",\"price\":" + price + tail);
    if (b.auction % 123 == 0) q2.push_back("{\"auction\":" + std::to_string(b.auction) + ",\"price\":" + std::to_string(b.price) + "}");
  }
  for (auto* v : {&q0, &q1, &q2}) std::sort(v->begin(), v->end());
  ASSERT_FALSE(q2.empty());
  for (int p : {1, 2}) {
    EXPECT_EQ(runQuery("q0", p, dir), q0) << "q0 at parallelism " << p;
    EXPECT_EQ(runQuery("q1", p, dir), q1) << "q1 at parallelism " << p;
    EXPECT_EQ(runQuery("q2", p, dir), q2) << "q2 at parallelism " << p;
  }
}

TEST(NexmarkSqlTest, Q13JoinsEveryBidWithItsRowOfTheSideTable) {
  ScratchDir dir;
  StringArena arena;
  std::optional<Generator> generator;
  std::vector<std::string> q13;
  for (const Bid& b : bids(arena, generator))
    q13.push_back(fmt::format("{{\"auction\":{},\"bidder\":{},\"price\":{},\"dateTime\":{},\"value\":\"value-{}\"}}", b.auction, b.bidder,
                              b.price, timestamp(b.dateTime), b.auction % 10000));
  std::sort(q13.begin(), q13.end());
  ASSERT_GT(q13.size(), 10000u);
  for (int p : {1, 4}) EXPECT_EQ(runQuery("q13", p, dir), q13) << "q13 at parallelism " << p;
}

TEST(NexmarkSqlTest, Q14WithAUserFunctionGivesTheRowsOfALoopOverTheGenerator) {
  ScratchDir dir;
  StringArena arena;
  std::optional<Generator> generator;
  const std::vector<Bid> all = bids(arena, generator);
  std::vector<std::string> want;
  for (const Bid& b : all) {
    const int64_t milli = b.price * 908;  // 0.908 × price in thousandths
    if (milli <= 1'000'000'000 || milli >= 50'000'000'000) continue;
    const int64_t hour = (b.dateTime % 86'400'000) / 3'600'000;
    const char* type = hour >= 8 && hour <= 18 ? "dayTime" : hour <= 6 || hour >= 20 ? "nightTime" : "otherTime";
    const auto cs = std::count(b.extra.begin(), b.extra.end(), 'c');
    want.push_back(fmt::format("{{\"auction\":{},\"bidder\":{},\"price\":{}.{:03},\"bidTimeType\":\"{}\",\"dateTime\":{},\"extra\":{},"
                               "\"c_counts\":{}}}",
                               b.auction, b.bidder, milli / 1000, milli % 1000, type, timestamp(b.dateTime), jsonString(b.extra), cs));
  }
  std::sort(want.begin(), want.end());
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(runQuery("q14", 2, dir), want);
}

std::string orNull(const std::optional<std::string>& v) { return v ? jsonString(*v) : "null"; }

TEST(NexmarkSqlTest, Q21Q22GiveTheRowsOfALoopOverTheGenerator) {
  ScratchDir dir;
  StringArena arena;
  std::optional<Generator> generator;
  const std::vector<Bid> all = bids(arena, generator);
  std::vector<std::string> q21, q22;
  for (const Bid& b : all) {
    const std::string head = "{\"auction\":" + std::to_string(b.auction) + ",\"bidder\":" + std::to_string(b.bidder) +
                             ",\"price\":" + std::to_string(b.price) + ",\"channel\":" + jsonString(b.channel);
    // q22: the URL's pieces between '/' number 3, 4 and 5 (from 0), null where there are fewer.
    std::vector<std::string> pieces;
    std::string url(b.url);
    for (size_t start = 0;;) {
      const size_t slash = url.find('/', start);
      pieces.push_back(url.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    auto piece = [&](size_t k) { return k < pieces.size() ? std::optional<std::string>(pieces[k]) : std::nullopt; };
    q22.push_back(head + ",\"dir1\":" + orNull(piece(3)) + ",\"dir2\":" + orNull(piece(4)) + ",\"dir3\":" + orNull(piece(5)) + "}");
    // q21: a known channel's number, else the URL's channel_id; rows with neither are dropped.
    std::string lower(b.channel);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // (&|^)channel_id=([^&]*): the first "channel_id=" at the start or after '&', up to the next '&'.
    std::optional<std::string> fromUrl;
    for (size_t at = url.find("channel_id="); at != std::string::npos; at = url.find("channel_id=", at + 1)) {
      if (at != 0 && url[at - 1] != '&') continue;
      const size_t from = at + 11;
      fromUrl = url.substr(from, url.find('&', from) == std::string::npos ? std::string::npos : url.find('&', from) - from);
      break;
    }
    const std::map<std::string, std::string> known = {{"apple", "0"}, {"google", "1"}, {"facebook", "2"}, {"baidu", "3"}};
    auto k = known.find(lower);
    if (k == known.end() && !fromUrl) continue;
    q21.push_back(head + ",\"channel_id\":" + orNull(k != known.end() ? std::optional<std::string>(k->second) : fromUrl) + "}");
  }
  std::sort(q21.begin(), q21.end());
  std::sort(q22.begin(), q22.end());
  ASSERT_FALSE(q21.empty());
  EXPECT_EQ(runQuery("q21", 2, dir), q21);
  EXPECT_EQ(runQuery("q22", 2, dir), q22);
}

/// The table an updating result's rows (changelog-json lines) give when applied in order: each
/// row's fields as JSON text, sorted. A retraction of a row that is not in the table fails.
std::vector<std::string> applyChangelog(const std::vector<std::string>& lines) {
  // Lines come from several part files: apply each file's rows in order. linesUnder sorts
  // lines, so rows are applied by kind: every insert first, then the retractions.
  std::multiset<std::string> table;
  std::vector<std::string> retracted;
  for (const std::string& line : lines) {
    const size_t op = line.rfind(",\"op\":\"");
    EXPECT_NE(op, std::string::npos) << line;
    if (op == std::string::npos) continue;
    const std::string kind = line.substr(op + 7, 2);
    const std::string row = line.substr(0, op) + "}";
    if (kind == "+I" || kind == "+U") {
      table.insert(row);
    } else {
      retracted.push_back(row);
    }
  }
  for (const std::string& row : retracted) {
    auto it = table.find(row);
    EXPECT_NE(it, table.end()) << "a retraction of a row the result never held: " << row;
    if (it != table.end()) table.erase(it);
  }
  return {table.begin(), table.end()};
}

std::string day(int64_t ms) {
  std::string out;
  appendDate(ms >= 0 ? ms / 86'400'000 : (ms - 86'399'999) / 86'400'000, out);
  return out;
}

/// q15's twelve counts over a set of bids: total and per tier, of bids, distinct bidders and
/// distinct auctions.
struct TierCounts {
  int64_t bids[4] = {0, 0, 0, 0};
  std::set<int64_t> bidders[4], auctions[4];
  void add(const Bid& b) {
    const int tier = b.price < 10000 ? 1 : b.price < 1000000 ? 2 : 3;
    for (int t : {0, tier}) {
      ++bids[t];
      bidders[t].insert(b.bidder);
      auctions[t].insert(b.auction);
    }
  }
  std::string json() const {
    static const char* kTier[] = {"total", "rank1", "rank2", "rank3"};
    std::string out;
    for (int t = 0; t < 4; ++t) out += fmt::format(",\"{}_bids\":{}", kTier[t], bids[t]);
    for (int t = 0; t < 4; ++t) out += fmt::format(",\"{}_bidders\":{}", kTier[t], bidders[t].size());
    for (int t = 0; t < 4; ++t) out += fmt::format(",\"{}_auctions\":{}", kTier[t], auctions[t].size());
    return out;
  }
};

TEST(NexmarkSqlTest, Q15Q16Q17UpdatingResultsGiveTheTablesOfALoopOverTheGenerator) {
  ScratchDir dir;
  StringArena arena;
  std::optional<Generator> generator;
  const std::vector<Bid> all = bids(arena, generator);
  std::map<std::string, TierCounts> q15;
  std::map<std::pair<std::string, std::string>, std::pair<std::string, TierCounts>> q16;
  struct Stats {
    int64_t n = 0, tiers[3] = {0, 0, 0}, min = INT64_MAX, max = INT64_MIN, sum = 0;
  };
  std::map<std::pair<int64_t, std::string>, Stats> q17;
  for (const Bid& b : all) {
    const std::string d = day(b.dateTime);
    q15[d].add(b);
    auto& c = q16[{std::string(b.channel), d}];
    std::string minute;
    appendTimestamp(b.dateTime, 0, false, false, minute);
    minute = minute.substr(11, 5);  // HH:mm
    c.first = std::max(c.first, minute);
    c.second.add(b);
    Stats& s = q17[{b.auction, d}];
    ++s.n;
    ++s.tiers[b.price < 10000 ? 0 : b.price < 1000000 ? 1 : 2];
    s.min = std::min(s.min, b.price);
    s.max = std::max(s.max, b.price);
    s.sum += b.price;
  }
  std::vector<std::string> want15, want16, want17;
  for (const auto& [d, c] : q15) want15.push_back("{\"day\":\"" + d + "\"" + c.json() + "}");
  for (const auto& [k, c] : q16)
    want16.push_back("{\"channel\":" + jsonString(k.first) + ",\"day\":\"" + k.second + "\",\"minute\":\"" + c.first + "\"" + c.second.json() + "}");
  for (const auto& [k, s] : q17)
    want17.push_back(fmt::format("{{\"auction\":{},\"day\":\"{}\",\"total_bids\":{},\"rank1_bids\":{},\"rank2_bids\":{},\"rank3_bids\":{},"
                                 "\"min_price\":{},\"max_price\":{},\"avg_price\":{},\"sum_price\":{}}}",
                                 k.first, k.second, s.n, s.tiers[0], s.tiers[1], s.tiers[2], s.min, s.max, s.sum / s.n, s.sum));
  for (auto* v : {&want15, &want16, &want17}) std::sort(v->begin(), v->end());
  ASSERT_GT(want17.size(), 100u);
  for (int p : {1, 4}) {
    EXPECT_EQ(applyChangelog(runQuery("q15", p, dir, "changelog-json")), want15) << "q15 at parallelism " << p;
    EXPECT_EQ(applyChangelog(runQuery("q16", p, dir, "changelog-json")), want16) << "q16 at parallelism " << p;
    EXPECT_EQ(applyChangelog(runQuery("q17", p, dir, "changelog-json")), want17) << "q17 at parallelism " << p;
  }
}

/// Every event of the stream at `rate` events per second (strings in `g`'s arena).
std::vector<Event> eventsAt(int64_t rate, StringArena& arena, std::optional<Generator>& g) {
  GeneratorConfig config;
  config.events = kEvents;
  config.rate = rate;
  auto made = Generator::make(config);
  EXPECT_TRUE(made.isOk());
  g.emplace(*made);
  std::vector<Event> out;
  for (int64_t k = 0; k < g->eventCount(0); ++k) out.push_back(g->event(0, k, arena));
  return out;
}

std::string auctionJson(const Auction& a, const std::string& dateName, const std::string& extraName) {
  return fmt::format("\"itemName\":{},\"description\":{},\"initialBid\":{},\"reserve\":{},\"{}\":{},\"expires\":{},\"seller\":{},"
                     "\"category\":{},\"{}\":{}",
                     jsonString(a.itemName), jsonString(a.description), a.initialBid, a.reserve, dateName, timestamp(a.dateTime),
                     timestamp(a.expires), a.seller, a.category, extraName, jsonString(a.extra));
}

TEST(NexmarkSqlTest, Q3Q4Q6Q20JoinsGiveTheRowsOfALoopOverTheGenerator) {
  ScratchDir dir;
  StringArena arena;
  std::optional<Generator> generator;
  const std::vector<Event> all = eventsAt(10'000'000, arena, generator);
  std::vector<Person> persons;
  std::vector<Auction> auctions;
  std::vector<Bid> bidList;
  for (const Event& e : all) {
    if (e.isPerson()) persons.push_back(e.person);
    if (e.isAuction()) auctions.push_back(e.auction);
    if (e.isBid()) bidList.push_back(e.bid);
  }
  // q3: auctions of category 10 ⋈ sellers in OR, ID, CA.
  std::vector<std::string> q3;
  for (const Auction& a : auctions) {
    if (a.category != 10) continue;
    for (const Person& p : persons)
      if (p.id == a.seller && (p.state == "OR" || p.state == "ID" || p.state == "CA"))
        q3.push_back(fmt::format("{{\"name\":{},\"city\":{},\"state\":{},\"id\":{}}}", jsonString(p.name), jsonString(p.city), jsonString(p.state), a.id));
  }
  // q20: bids ⋈ auctions of category 10.
  std::vector<std::string> q20;
  std::map<int64_t, const Auction*> byId;
  for (const Auction& a : auctions) byId[a.id] = &a;
  for (const Bid& b : bidList) {
    auto a = byId.find(b.auction);
    if (a == byId.end() || a->second->category != 10) continue;
    q20.push_back(fmt::format("{{\"auction\":{},\"bidder\":{},\"price\":{},\"channel\":{},\"url\":{},\"bid_dateTime\":{},\"bid_extra\":{},{}}}", b.auction,
                              b.bidder, b.price, jsonString(b.channel), jsonString(b.url), timestamp(b.dateTime), jsonString(b.extra),
                              auctionJson(*a->second, "auction_dateTime", "auction_extra")));
  }
  // q4: per auction the highest bid within its time; per category the (truncated) mean of those.
  std::map<int64_t, int64_t> winning;
  for (const Bid& b : bidList) {
    auto a = byId.find(b.auction);
    if (a == byId.end() || b.dateTime < a->second->dateTime || b.dateTime > a->second->expires) continue;
    auto [it, fresh] = winning.emplace(b.auction, b.price);
    if (!fresh) it->second = std::max(it->second, b.price);
  }
  std::map<int64_t, std::pair<int64_t, int64_t>> perCategory;  // sum, count
  for (const auto& [id, price] : winning) {
    auto& c = perCategory[byId[id]->category];
    c.first += price;
    ++c.second;
  }
  std::vector<std::string> q4;
  for (const auto& [category, c] : perCategory) q4.push_back(fmt::format("{{\"id\":{},\"final\":{}}}", category, c.first / c.second));
  // q6: per seller, the (truncated) mean of the winning prices of the 10 auctions that close
  // last (by expiry, then id).
  std::map<int64_t, std::vector<std::tuple<int64_t, int64_t, int64_t>>> perSeller;  // expires, id, price
  for (const auto& [id, price] : winning) perSeller[byId[id]->seller].emplace_back(byId[id]->expires, id, price);
  std::vector<std::string> q6;
  for (auto& [seller, closed] : perSeller) {
    std::sort(closed.begin(), closed.end());
    int64_t sum = 0, n = 0;
    for (size_t k = closed.size() > 10 ? closed.size() - 10 : 0; k < closed.size(); ++k, ++n) sum += std::get<2>(closed[k]);
    q6.push_back(fmt::format("{{\"seller\":{},\"avg_price\":{}}}", seller, sum / n));
  }
  for (auto* v : {&q3, &q4, &q6, &q20}) std::sort(v->begin(), v->end());
  ASSERT_FALSE(q3.empty());
  ASSERT_GT(q20.size(), 100u);
  ASSERT_GT(q4.size(), 2u);
  for (int p : {1, 4}) {
    EXPECT_EQ(runQuery("q3", p, dir), q3) << "q3 at parallelism " << p;
    EXPECT_EQ(runQuery("q20", p, dir), q20) << "q20 at parallelism " << p;
    EXPECT_EQ(applyChangelog(runQuery("q4", p, dir, "changelog-json")), q4) << "q4 at parallelism " << p;
    EXPECT_EQ(applyChangelog(runQuery("q6", p, dir, "changelog-json")), q6) << "q6 at parallelism " << p;
  }
}

TEST(NexmarkSqlTest, Q7JoinsBidsWithTheMaximumOfTheirWindow) {
  // At 1000 events per second, 20 000 events span 20 s: windows [0, 10 s), [10 s, 20 s), …
  ScratchDir dir;
  StringArena arena;
  std::optional<Generator> generator;
  const std::vector<Event> all = eventsAt(1000, arena, generator);
  std::map<int64_t, int64_t> maxOf;  // window end → highest price
  for (const Event& e : all) {
    if (!e.isBid()) continue;
    const int64_t end = (e.bid.dateTime / 10000 + 1) * 10000;
    auto [it, fresh] = maxOf.emplace(end, e.bid.price);
    if (!fresh) it->second = std::max(it->second, e.bid.price);
  }
  ASSERT_GE(maxOf.size(), 2u);
  std::vector<std::string> want;
  for (const Event& e : all) {
    if (!e.isBid()) continue;
    const Bid& b = e.bid;
    // Joined on price with every window whose [end - 10 s, end] holds the bid (both ends included).
    for (const auto& [end, price] : maxOf)
      if (b.price == price && b.dateTime >= end - 10000 && b.dateTime <= end)
        // Flink's q7 selects auction, price, bidder into the columns auction, bidder, price.
        want.push_back(fmt::format("{{\"auction\":{},\"bidder\":{},\"price\":{},\"dateTime\":{},\"extra\":{}}}", b.auction, b.price, b.bidder,
                                   timestamp(b.dateTime), jsonString(b.extra)));
  }
  std::sort(want.begin(), want.end());
  for (int p : {1, 4}) EXPECT_EQ(runQuery("q7", p, dir, "json", 1000), want) << "q7 at parallelism " << p;
}

TEST(NexmarkSqlTest, Q8Q11GroupWindowsGiveTheRowsOfALoopOverTheGenerator) {
  // At 1000 events per second: 20 s of events, so several windows and sessions.
  ScratchDir dir;
  StringArena arena;
  std::optional<Generator> generator;
  const std::vector<Event> all = eventsAt(1000, arena, generator);
  // q8: a person's (id, name, 10 s window) with an auction of that seller in the same window.
  std::set<std::tuple<int64_t, std::string, int64_t>> people;
  std::set<std::pair<int64_t, int64_t>> sellers;
  std::map<int64_t, std::vector<int64_t>> bidTimes;
  for (const Event& e : all) {
    if (e.isPerson()) people.insert({e.person.id, std::string(e.person.name), e.person.dateTime / 10000 * 10000});
    if (e.isAuction()) sellers.insert({e.auction.seller, e.auction.dateTime / 10000 * 10000});
    if (e.isBid()) bidTimes[e.bid.bidder].push_back(e.bid.dateTime);
  }
  std::vector<std::string> q8, q11;
  for (const auto& [id, name, start] : people)
    if (sellers.count({id, start})) q8.push_back(fmt::format("{{\"id\":{},\"name\":{},\"stime\":{}}}", id, jsonString(name), timestamp(start)));
  // q11: a bidder's bids split into sessions where two bids are 10 s apart or more.
  for (auto& [bidder, times] : bidTimes) {
    std::sort(times.begin(), times.end());
    size_t first = 0;
    for (size_t k = 1; k <= times.size(); ++k) {
      if (k < times.size() && times[k] < times[k - 1] + 10000) continue;
      q11.push_back(fmt::format("{{\"bidder\":{},\"bid_count\":{},\"starttime\":{},\"endtime\":{}}}", bidder, k - first, timestamp(times[first]),
                                timestamp(times[k - 1] + 10000)));
      first = k;
    }
  }
  std::sort(q8.begin(), q8.end());
  std::sort(q11.begin(), q11.end());
  ASSERT_FALSE(q8.empty());
  ASSERT_GT(q11.size(), 10u);
  for (int p : {1, 4}) {
    EXPECT_EQ(runQuery("q8", p, dir, "json", 1000), q8) << "q8 at parallelism " << p;
    EXPECT_EQ(runQuery("q11", p, dir, "json", 1000), q11) << "q11 at parallelism " << p;
  }
}

std::string bidJson(const Bid& b) {
  return fmt::format("\"auction\":{},\"bidder\":{},\"price\":{},\"channel\":{},\"url\":{},\"dateTime\":{},\"extra\":{}", b.auction, b.bidder,
                     b.price, jsonString(b.channel), jsonString(b.url), timestamp(b.dateTime), jsonString(b.extra));
}

/// The value of `"field":` in a JSON line (up to the next ',' or '}').
std::string fieldOf(const std::string& line, const std::string& field) {
  const size_t at = line.find("\"" + field + "\":");
  if (at == std::string::npos) return "?";
  const size_t from = at + field.size() + 3;
  return line.substr(from, line.find_first_of(",}", from) - from);
}

std::vector<std::string> project(const std::vector<std::string>& lines, const std::vector<std::string>& fields) {
  std::vector<std::string> out;
  for (const auto& l : lines) {
    std::string p;
    for (const auto& f : fields) p += fieldOf(l, f) + "|";
    out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(NexmarkSqlTest, Q9Q18Q19TopNGiveTheTablesOfALoopOverTheGenerator) {
  // Ties go to the row that came first. At parallelism 1 the rows arrive in the generator's
  // order; at 4 they interleave, so only what ties cannot change is compared.
  ScratchDir dir;
  StringArena arena;
  std::optional<Generator> generator;
  const std::vector<Event> all = eventsAt(10'000'000, arena, generator);
  std::map<int64_t, const Auction*> auctions;
  std::map<std::pair<int64_t, int64_t>, const Bid*> last;  // q18: (bidder, auction) → latest bid
  std::map<int64_t, std::vector<const Bid*>> byAuction;    // q19: bids per auction, in order
  std::map<int64_t, const Bid*> winner;                    // q9: auction → winning bid
  for (const Event& e : all)
    if (e.isAuction()) auctions[e.auction.id] = &e.auction;  // a bid joins its auction whichever comes first
  for (const Event& e : all) {
    if (!e.isBid()) continue;
    const Bid& b = e.bid;
    auto& l = last[{b.bidder, b.auction}];
    if (l == nullptr || b.dateTime > l->dateTime) l = &b;
    byAuction[b.auction].push_back(&b);
    auto a = auctions.find(b.auction);
    if (a != auctions.end() && b.dateTime >= a->second->dateTime && b.dateTime <= a->second->expires) {
      auto& w = winner[b.auction];
      if (w == nullptr || b.price > w->price || (b.price == w->price && b.dateTime < w->dateTime)) w = &b;
    }
  }
  std::vector<std::string> q9, q18, q19;
  for (const auto& [key, b] : last) q18.push_back("{" + bidJson(*b) + "}");
  for (auto& [auction, list] : byAuction) {
    std::stable_sort(list.begin(), list.end(), [](const Bid* x, const Bid* y) { return x->price > y->price; });
    for (size_t r = 0; r < list.size() && r < 10; ++r) q19.push_back("{" + bidJson(*list[r]) + ",\"rank_number\":" + std::to_string(r + 1) + "}");
  }
  for (const auto& [id, b] : winner) {
    const Auction& a = *auctions[id];
    q9.push_back(fmt::format("{{\"id\":{},{},\"auction\":{},\"bidder\":{},\"price\":{},\"bid_dateTime\":{},\"bid_extra\":{}}}", a.id,
                             auctionJson(a, "dateTime", "extra"), b->auction, b->bidder, b->price, timestamp(b->dateTime), jsonString(b->extra)));
  }
  for (auto* v : {&q9, &q18, &q19}) std::sort(v->begin(), v->end());
  ASSERT_GT(q9.size(), 10u);
  EXPECT_EQ(applyChangelog(runQuery("q9", 1, dir, "changelog-json")), q9);
  EXPECT_EQ(applyChangelog(runQuery("q18", 1, dir, "changelog-json")), q18);
  EXPECT_EQ(applyChangelog(runQuery("q19", 1, dir, "changelog-json")), q19);
  EXPECT_EQ(project(applyChangelog(runQuery("q9", 4, dir, "changelog-json")), {"id", "price", "bid_dateTime"}),
            project(q9, {"id", "price", "bid_dateTime"}));
  EXPECT_EQ(project(applyChangelog(runQuery("q18", 4, dir, "changelog-json")), {"bidder", "auction", "dateTime"}),
            project(q18, {"bidder", "auction", "dateTime"}));
  EXPECT_EQ(project(applyChangelog(runQuery("q19", 4, dir, "changelog-json")), {"auction", "price", "rank_number"}),
            project(q19, {"auction", "price", "rank_number"}));
}

TEST(NexmarkSqlTest, Q5HotItemsGiveTheTableOfALoopOverTheGenerator) {
  ScratchDir dir;
  StringArena arena;
  std::optional<Generator> generator;
  const std::vector<Event> all = eventsAt(1000, arena, generator);
  // Windows of 10 s every 2 s: a bid at t is in the windows starting at the multiples of 2 s in (t - 10 s, t].
  std::map<int64_t, std::map<int64_t, int64_t>> counts;  // window start → auction → bids
  for (const Event& e : all) {
    if (!e.isBid()) continue;
    for (int64_t start = e.bid.dateTime / 2000 * 2000; start > e.bid.dateTime - 10000; start -= 2000) ++counts[start][e.bid.auction];
  }
  std::vector<std::string> want;
  for (const auto& [start, perAuction] : counts) {
    int64_t max = 0;
    for (const auto& [a, n] : perAuction) max = std::max(max, n);
    for (const auto& [a, n] : perAuction)
      if (n == max) want.push_back(fmt::format("{{\"auction\":{},\"num\":{}}}", a, n));
  }
  std::sort(want.begin(), want.end());
  ASSERT_GT(counts.size(), 5u);
  for (int p : {1, 4}) EXPECT_EQ(applyChangelog(runQuery("q5", p, dir, "changelog-json", 1000)), want) << "q5 at parallelism " << p;
}

TEST(NexmarkSqlTest, Q12ProcessingTimeWindowsCountEveryBidOnce) {
  // Which wall-clock window a bid falls in depends on when it runs; every bid is counted in
  // exactly one window of its bidder, every window is 10 s on a 10 s boundary, and all fire at
  // the end of the input.
  ScratchDir dir;
  StringArena arena;
  std::optional<Generator> generator;
  std::map<int64_t, int64_t> perBidder;
  for (const Bid& b : bids(arena, generator)) ++perBidder[b.bidder];
  std::map<int64_t, int64_t> counted;
  const auto lines = runQuery("q12", 2, dir);
  ASSERT_FALSE(lines.empty());
  for (const auto& line : lines) {
    counted[std::stoll(fieldOf(line, "bidder"))] += std::stoll(fieldOf(line, "bid_count"));
    const std::string start = fieldOf(line, "starttime"), end = fieldOf(line, "endtime");
    auto ms = [](const std::string& quoted) {
      auto t = parseTimestamp(quoted.substr(1, quoted.size() - 2));
      return t.isOk() ? *t : int64_t{-1};
    };
    EXPECT_EQ(ms(end) - ms(start), 10000) << line;
    EXPECT_EQ(ms(start) % 10000, 0) << line;
  }
  EXPECT_EQ(counted, perBidder);
}

TEST(NexmarkSqlTest, Q10WritesPartitionDirectoriesWithSuccessFiles) {
  // At 1000 events per second the bids span 20 s: partitions of minute 00:00 (and maybe 00:01).
  registerNexmarkConnector();
  ScratchDir dir;
  StringArena arena;
  std::optional<Generator> generator;
  const std::vector<Event> all = eventsAt(1000, arena, generator);
  std::map<std::string, std::vector<std::string>> want;  // partition directory → CSV lines
  for (const Event& e : all) {
    if (!e.isBid()) continue;
    const Bid& b = e.bid;
    std::string ts;
    appendTimestamp(b.dateTime, 3, false, false, ts);
    want["dt=" + ts.substr(0, 10) + "/hm=" + ts.substr(11, 2) + "%3A" + ts.substr(14, 2)].push_back(
        fmt::format("{},{},{},{},{}", b.auction, b.bidder, b.price, ts, b.extra));
  }
  const std::string root = std::string(REKA_SOURCE_DIR) + "/sql/nexmark/";
  std::string script = readFile(root + "ddl.sql") + readFile(root + "q10.sql");
  script = replaceAll(script, "${EVENTS_NUM}", std::to_string(kEvents));
  script = replaceAll(script, "'10000000'", "'1000'");
  script = replaceAll(script, "file://${NEXMARK_DIR}/data/output/${SUBMIT_TIME}/bid/", "file://" + dir.file("q10"));
  auto compiled = sql::SqlScript::compile(script);
  ASSERT_TRUE(compiled.isOk()) << compiled.status().toString();
  ExecutionConfig config;
  config.parallelism = 2;
  StreamEnvironment env(config);
  Status added = compiled->addTo(env);
  ASSERT_TRUE(added.isOk()) << added.toString();
  Status ran = testing::runJob(env);
  ASSERT_TRUE(ran.isOk()) << ran.toString();
  for (auto& [partition, lines] : want) {
    std::sort(lines.begin(), lines.end());
    EXPECT_EQ(reka::testing::linesUnder(dir.file("q10") + "/" + partition), lines) << partition;
    EXPECT_TRUE(std::filesystem::exists(dir.file("q10") + "/" + partition + "/_SUCCESS")) << partition;
  }
  size_t partitions = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.file("q10")))
    partitions += e.is_directory() && e.path().filename().string().rfind("hm=", 0) == 0;
  EXPECT_EQ(partitions, want.size());
}

TEST(NexmarkSqlTest, TheExampleJobsRun) {
  // examples/sql/*.sql with their paths made absolute, print made blackhole (and the generator
  // made small); each must compile and run. enrich.sql's join is checked against its inputs.
  registerNexmarkConnector();
  ScratchDir dir;
  const std::string root = std::string(REKA_SOURCE_DIR) + "/examples/sql/";
  for (const char* name : {"main", "top-auctions", "sessions", "enrich", "moving-average"}) {
    std::string script = readFile(root + name + ".sql");
    ASSERT_FALSE(script.empty()) << name;
    script = replaceAll(script, "'examples/sql/data/", "'" + root + "data/");
    script = replaceAll(script, "'/tmp/reka-sessions'", "'" + dir.file("sessions") + "'");
    script = replaceAll(script, "'events.num' = '100000000'", "'events.num' = '20000'");
    if (std::string(name) == "enrich") {
      script = replaceAll(script, "CREATE TABLE expensive_bids (item STRING, seller BIGINT, bidder BIGINT, price BIGINT) WITH ('connector' = 'print')",
                          "CREATE TABLE expensive_bids (item STRING, seller BIGINT, bidder BIGINT, price BIGINT) WITH ('connector' = "
                          "'filesystem', 'path' = '" + dir.file("expensive") + "', 'format' = 'csv')");
    }
    script = replaceAll(script, "'connector' = 'print'", "'connector' = 'blackhole'");
    auto compiled = sql::SqlScript::compile(script);
    ASSERT_TRUE(compiled.isOk()) << name << ": " << compiled.status().toString();
    ExecutionConfig config;
    config.parallelism = 2;
    StreamEnvironment env(config);
    ASSERT_TRUE(compiled->addTo(env).isOk()) << name;
    Status ran = testing::runJob(env);
    EXPECT_TRUE(ran.isOk()) << name << ": " << ran.toString();
  }
  // Every bid of 500 or more with its auction's item and seller.
  std::map<std::string, std::pair<std::string, std::string>> items;
  for (const auto& line : readLines(root + "data/auctions.csv")) {
    const size_t a = line.find(','), b = line.find(',', a + 1);
    items[line.substr(0, a)] = {line.substr(a + 1, b - a - 1), line.substr(b + 1)};
  }
  std::vector<std::string> want;
  for (const auto& line : readLines(root + "data/bids.csv")) {
    std::vector<std::string> f;
    for (size_t from = 0;;) {
      const size_t comma = line.find(',', from);
      f.push_back(line.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
      if (comma == std::string::npos) break;
      from = comma + 1;
    }
    if (std::stoll(f[2]) >= 500) want.push_back(items[f[0]].first + "," + items[f[0]].second + "," + f[1] + "," + f[2]);
  }
  std::sort(want.begin(), want.end());
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(reka::testing::linesUnder(dir.file("expensive")), want);
  EXPECT_GT(reka::testing::linesUnder(dir.file("sessions")).size(), 50u);
}

/// SQL operators keep their state (groups, join sides, top-N lists, sessions, windows) in the
/// job's state backend: on RocksDB, without a value cache (every access reads and writes the
/// database) and with one too small for the keys (evictions all the time), each query gives the
/// heap backend's rows: append-only results line by line (sorted), updating ones as the tables
/// their changelogs end in.
TEST(NexmarkSqlTest, TheRocksDbBackendGivesTheHeapRows) {
  ScratchDir heapDir, cachedDir, uncachedDir;
  const std::vector<std::tuple<std::string, std::string, int64_t>> queries = {
      // a join with an updating aggregate after it (q4), a window join of two window
      // aggregates (q8), session windows (q11), top-N (q19); SqlCliTest covers OVER and
      // interval joins on RocksDB
      {"q4", "changelog-json", 10'000'000}, {"q8", "json", 1000}, {"q11", "json", 1000}, {"q19", "changelog-json", 10'000'000}};
  for (const auto& [query, format, rate] : queries) {
    SCOPED_TRACE(query);
    const std::vector<std::string> heap = runQuery(query, 1, heapDir, format, rate);
    ASSERT_FALSE(heap.empty()) << "the comparison would prove nothing";
    for (int64_t cache : {int64_t{0}, int64_t{64} << 10}) {
      const ScratchDir& dir = cache == 0 ? uncachedDir : cachedDir;
      const std::vector<std::string> rocksdb = runQuery(query, 1, dir, format, rate, [&](ExecutionConfig& c) {
        c.stateBackend.kind = StateBackendConfig::Kind::kRocksDb;
        c.stateBackend.rocksdb.localDir = dir.file("rocksdb");
        c.stateBackend.rocksdb.valueCacheBytes = cache;
      });
      if (format == "changelog-json") {
        // The order in which a join meets the stored rows of a key may differ (a hash map read
        // back from RocksDB), and so may the updates in between: the tables they end in may not.
        EXPECT_EQ(applyChangelog(rocksdb), applyChangelog(heap)) << "value cache " << cache;
      } else {
        EXPECT_EQ(rocksdb.size(), heap.size()) << "value cache " << cache;
        EXPECT_TRUE(rocksdb == heap) << "value cache " << cache << ": the RocksDB backend's rows differ from the heap's";
      }
    }
  }
}

}  // namespace
}  // namespace reka::nexmark::it
