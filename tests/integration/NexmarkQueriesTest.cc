// Every NEXMark query Reka implements, run end to end through buildQueryJob (JSON-lines file in,
// JSON-lines file out) at parallelism 1 and 4, against reference results computed here from the
// same events with plain loops and maps (docs/nexmark.md: Queries, and Events: Output rows). Then hand-written inputs
// for the cases a generated stream rarely or never shows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "NexmarkTestKit.h"

namespace reka::nexmark::it {
namespace {

// ---- Datasets ----------------------------------------------------------------------------------

GeneratorConfig datasetConfig(const std::string& name) {
  GeneratorConfig c;
  c.events = 20000;
  if (name == "inorder") {
    // One generator, in order, one event per 10 s of event time: ~2.3 days, so every hour of
    // the day (q14) and several days (q15, q17) appear.
    c.seed = 42;
    c.rate = 0.1;
  } else {
    // Two generators with disorder groups of 16 (10000 per generator: whole groups, so ids stay
    // unique) at 20 000 events/s: 10 events per ms per generator, so groups straddle
    // milliseconds (the file is out of order) and many bids share a timestamp (q18 ties).
    c.seed = 7;
    c.rate = 20000;
    c.generators = 2;
    c.outOfOrderGroupSize = 16;
  }
  return c;
}

/// Each dataset is generated and written once per process.
const Dataset& dataset(const std::string& name) {
  static DatasetCache cache(datasetConfig);
  return cache.get(name);
}

// ---- References (docs/nexmark.md, Queries: Query details; written from the spec) ----------------------------------

std::vector<std::string> withOp(std::vector<std::string> columns) {
  columns.insert(columns.begin(), "op");
  return columns;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::vector<std::string> kAuctionColumns = {"auction_id",       "auction_itemName", "auction_description",
                                                  "auction_initialBid", "auction_reserve",  "auction_dateTime",
                                                  "auction_expires",  "auction_seller",   "auction_category",
                                                  "auction_extra"};

const std::vector<std::string> kDayCountColumns = {
    "total_bids",    "rank1_bids",    "rank2_bids",    "rank3_bids",     "total_bidders",  "rank1_bidders",
    "rank2_bidders", "rank3_bidders", "total_auctions", "rank1_auctions", "rank2_auctions", "rank3_auctions"};

const std::vector<std::string> kQ17Columns = {"auction",    "day",       "total_bids", "rank1_bids", "rank2_bids",
                                              "rank3_bids", "min_price", "max_price",  "avg_price",  "sum_price"};

std::vector<std::string> columnsOf(const std::string& q) {
  if (q == "q0") return bidColumns();
  if (q == "q1") return {"auction", "bidder", "price", "dateTime"};
  if (q == "q2") return {"auction", "price"};
  if (q == "q3") return {"name", "city", "state", "id"};
  if (q == "q13") return concat(bidColumns(), {"value"});
  if (q == "q14") return {"auction", "bidder", "price", "bidTimeType", "dateTime", "extra", "c_counts"};
  if (q == "q15") return withOp(concat({"day"}, kDayCountColumns));
  if (q == "q17") return withOp(kQ17Columns);
  if (q == "q18") return withOp(bidColumns());
  if (q == "q19") return withOp(concat(bidColumns(), {"rank"}));
  if (q == "q20") return concat(bidColumns(), kAuctionColumns);
  if (q == "q21") return {"auction", "bidder", "price", "channel", "channel_id"};
  if (q == "q22") return {"auction", "bidder", "price", "channel", "dir1", "dir2", "dir3"};
  ADD_FAILURE() << "no columns for " << q;
  return {};
}

Row auctionValues(const AuctionRec& a) {
  return {num(a.id),       str(a.itemName), str(a.description), num(a.initialBid), num(a.reserve),
          num(a.dateTime), num(a.expires),  num(a.seller),      num(a.category),   str(a.extra)};
}

std::string bidTimeType(int64_t dateTime) {
  int hour = utc(dateTime).tm_hour;
  if (hour >= 8 && hour <= 18) return "dayTime";
  if (hour <= 6 || hour >= 20) return "nightTime";
  return "otherTime";
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// q21's channel id, or nullopt when the row is dropped.
std::optional<std::string> q21ChannelId(const BidRec& b) {
  static const std::map<std::string, std::string> kHot = {{"apple", "0"}, {"google", "1"}, {"facebook", "2"}, {"baidu", "3"}};
  if (auto it = kHot.find(lower(b.channel)); it != kHot.end()) return it->second;
  // REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2): split the url at '&'; every piece starts
  // the string or follows '&', and [^&]* takes the rest of its piece. The leftmost match wins.
  constexpr std::string_view kKey = "channel_id=";
  size_t start = 0;
  while (true) {
    size_t amp = b.url.find('&', start);
    std::string piece = b.url.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    if (piece.rfind(kKey, 0) == 0) return piece.substr(kKey.size());
    if (amp == std::string::npos) return std::nullopt;
    start = amp + 1;
  }
}

/// SPLIT_INDEX(url, '/', i) for i = 3, 4, 5: every token kept, null past the end.
Row q22Dirs(const std::string& url) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : url) {
    if (c == '/') {
      parts.push_back(current);
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  parts.push_back(current);
  Row dirs;
  for (size_t i = 3; i <= 5; ++i) dirs.push_back(i < parts.size() ? str(parts[i]) : kNull);
  return dirs;
}

template <class R>
std::map<int64_t, R> byId(const std::vector<R>& records) {
  std::map<int64_t, R> m;
  for (const auto& r : records) {
    bool inserted = m.emplace(r.id, r).second;
    EXPECT_TRUE(inserted) << "the dataset repeats id " << r.id << "; the references assume unique ids";
  }
  return m;
}

/// The rows of an append-only query.
std::vector<Row> appendOnlyReference(const std::string& q, const std::vector<EventRec>& events) {
  std::vector<Row> rows;
  const auto bids = recordsOf<BidRec>(events);
  if (q == "q0") {
    for (const auto& b : bids) rows.push_back(bidValues(b));
  } else if (q == "q1") {
    for (const auto& b : bids) rows.push_back({num(b.auction), num(b.bidder), decimal3(b.price * 908), num(b.dateTime)});
  } else if (q == "q2") {
    for (const auto& b : bids)
      if (b.auction % 123 == 0) rows.push_back({num(b.auction), num(b.price)});
  } else if (q == "q3") {
    const auto persons = byId(recordsOf<PersonRec>(events));
    for (const auto& a : recordsOf<AuctionRec>(events)) {
      if (a.category != 10) continue;
      auto p = persons.find(a.seller);
      if (p == persons.end()) continue;
      const std::string& s = p->second.state;
      if (s == "OR" || s == "ID" || s == "CA") rows.push_back({str(p->second.name), str(p->second.city), str(s), num(a.id)});
    }
  } else if (q == "q13") {
    for (const auto& b : bids) {
      Row r = bidValues(b);
      r.push_back(str("value-" + std::to_string(b.auction % 10000)));
      rows.push_back(r);
    }
  } else if (q == "q14") {
    for (const auto& b : bids) {
      const int64_t milli = b.price * 908;  // 0.908 × price in thousandths, exact
      if (milli <= 1'000'000'000 || milli >= 50'000'000'000) continue;
      rows.push_back({num(b.auction), num(b.bidder), decimal3(milli), str(bidTimeType(b.dateTime)), num(b.dateTime),
                      str(b.extra), num(std::count(b.extra.begin(), b.extra.end(), 'c'))});
    }
  } else if (q == "q20") {
    const auto auctions = byId(recordsOf<AuctionRec>(events));
    for (const auto& b : bids) {
      auto a = auctions.find(b.auction);
      if (a == auctions.end() || a->second.category != 10) continue;
      rows.push_back(concat(bidValues(b), auctionValues(a->second)));
    }
  } else if (q == "q21") {
    for (const auto& b : bids)
      if (auto id = q21ChannelId(b)) rows.push_back({num(b.auction), num(b.bidder), num(b.price), str(b.channel), str(*id)});
  } else if (q == "q22") {
    for (const auto& b : bids) rows.push_back(concat({num(b.auction), num(b.bidder), num(b.price), str(b.channel)}, q22Dirs(b.url)));
  } else {
    ADD_FAILURE() << "no append-only reference for " << q;
  }
  return rows;
}

int tier(int64_t price) { return price < 10000 ? 1 : price < 1000000 ? 2 : 3; }

/// A double column's text, normalised: the value read back and printed with 17 digits.
std::string normalizedDouble(const std::string& text) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", std::strtod(text.c_str(), nullptr));
  return buf;
}
std::string normalizedDouble(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// q15's final table: day → the row after "op".
std::map<ChangelogTable::Key, Row> q15Reference(const std::vector<EventRec>& events) {
  struct Day {
    int64_t bids[4] = {0, 0, 0, 0};
    std::set<int64_t> bidders[4], auctions[4];
  };
  std::map<std::string, Day> days;
  for (const auto& b : recordsOf<BidRec>(events)) {
    Day& d = days[utcDay(b.dateTime)];
    for (int t : {0, tier(b.price)}) {
      ++d.bids[t];
      d.bidders[t].insert(b.bidder);
      d.auctions[t].insert(b.auction);
    }
  }
  std::map<ChangelogTable::Key, Row> table;
  for (const auto& [day, d] : days) {
    Row r = {str(day)};
    for (int t = 0; t < 4; ++t) r.push_back(num(d.bids[t]));
    for (int t = 0; t < 4; ++t) r.push_back(num(static_cast<int64_t>(d.bidders[t].size())));
    for (int t = 0; t < 4; ++t) r.push_back(num(static_cast<int64_t>(d.auctions[t].size())));
    table[{str(day)}] = r;
  }
  return table;
}

constexpr size_t kQ17Avg = 8;  // index of avg_price among q17's columns (after "op")

/// q17's final table: (auction, day) → the row after "op" (avg normalised).
std::map<ChangelogTable::Key, Row> q17Reference(const std::vector<EventRec>& events) {
  struct Stats {
    int64_t count = 0, tiers[4] = {0, 0, 0, 0}, min = INT64_MAX, max = INT64_MIN, sum = 0;
  };
  std::map<std::pair<int64_t, std::string>, Stats> groups;
  for (const auto& b : recordsOf<BidRec>(events)) {
    Stats& s = groups[{b.auction, utcDay(b.dateTime)}];
    ++s.count;
    ++s.tiers[tier(b.price)];
    s.min = std::min(s.min, b.price);
    s.max = std::max(s.max, b.price);
    s.sum += b.price;
  }
  std::map<ChangelogTable::Key, Row> table;
  for (const auto& [key, s] : groups) {
    table[{num(key.first), str(key.second)}] = {num(key.first), str(key.second), num(s.count), num(s.tiers[1]),
                                                num(s.tiers[2]), num(s.tiers[3]), num(s.min), num(s.max),
                                                normalizedDouble(static_cast<double>(s.sum) / static_cast<double>(s.count)),
                                                num(s.sum)};
  }
  return table;
}

// ---- Checking output ---------------------------------------------------------------------------

/// Fails once if any row's keys differ from `columns` (names and order).
void expectColumns(const std::vector<FlatRow>& rows, const std::vector<std::string>& columns) {
  for (size_t i = 0; i < rows.size(); ++i) {
    if (keysOf(rows[i]) != columns) {
      ADD_FAILURE() << "row " << i << " has columns " << ::testing::PrintToString(keysOf(rows[i])) << ", expected "
                    << ::testing::PrintToString(columns);
      return;
    }
  }
}

/// Applies an updating query's output; `keyOf` picks the key from a row's values (after "op").
template <class KeyFn>
ChangelogTable applyChangelog(std::vector<FlatRow> rows, KeyFn keyOf, std::optional<size_t> doubleColumn = {}) {
  ChangelogTable table;
  for (auto& flat : rows) {
    if (flat.empty()) continue;
    std::string op = flat.front().second.substr(1);  // drop the string marker
    flat.erase(flat.begin());
    Row values = takeValues(flat);
    if (doubleColumn && *doubleColumn < values.size()) values[*doubleColumn] = normalizedDouble(values[*doubleColumn]);
    ChangelogTable::Key key = keyOf(values);
    table.apply(op, key, std::move(values));
  }
  table.finish();
  for (const auto& e : table.errors()) ADD_FAILURE() << e;
  return table;
}

void expectSameTable(const std::map<ChangelogTable::Key, Row>& actual, const std::map<ChangelogTable::Key, Row>& expected) {
  std::vector<Row> a, e;
  for (const auto& [k, r] : actual) a.push_back(r);
  for (const auto& [k, r] : expected) e.push_back(r);
  expectSameRows(a, e, "final table");
}

/// q18: per (bidder, auction) the last bid; on equal dateTime any of the latest may win.
void checkQ18(std::vector<FlatRow> rows, const std::vector<EventRec>& events) {
  auto table = applyChangelog(std::move(rows), [](const Row& v) { return ChangelogTable::Key{v[1], v[0]}; });
  struct Latest {
    int64_t dateTime = INT64_MIN;
    std::set<Row> candidates;
  };
  std::map<ChangelogTable::Key, Latest> expected;
  for (const auto& b : recordsOf<BidRec>(events)) {
    Latest& l = expected[{num(b.bidder), num(b.auction)}];
    if (b.dateTime > l.dateTime) {
      l.dateTime = b.dateTime;
      l.candidates.clear();
    }
    if (b.dateTime == l.dateTime) l.candidates.insert(bidValues(b));
  }
  EXPECT_EQ(table.rows().size(), expected.size()) << "number of (bidder, auction) keys";
  int reported = 0;
  for (const auto& [key, l] : expected) {
    auto it = table.rows().find(key);
    if (it == table.rows().end()) {
      if (reported++ < 5) ADD_FAILURE() << "no final row for (bidder, auction) " << describe(key);
      continue;
    }
    if (!l.candidates.count(it->second) && reported++ < 5) {
      ADD_FAILURE() << "final row for " << describe(key) << " is " << describe(it->second)
                    << ", not one of the latest bids (dateTime " << l.dateTime << ", " << l.candidates.size()
                    << " candidates, first " << describe(*l.candidates.begin()) << ")";
    }
  }
}

/// q19: per auction the 10 highest bids with ranks 1..n; ties in price may go either way.
void checkQ19(std::vector<FlatRow> rows, const std::vector<EventRec>& events) {
  auto table = applyChangelog(std::move(rows), [](const Row& v) { return ChangelogTable::Key{v[0], v[7]}; });
  const auto bids = recordsOf<BidRec>(events);
  std::map<int64_t, std::vector<const BidRec*>> bidsByAuction;
  for (const auto& b : bids) bidsByAuction[b.auction].push_back(&b);
  // The final table grouped by auction: rank → row.
  std::map<int64_t, std::map<int64_t, Row>> actual;
  for (const auto& [key, row] : table.rows()) actual[std::stoll(key[0])][std::stoll(key[1])] = row;
  EXPECT_EQ(actual.size(), bidsByAuction.size()) << "auctions with a top-10";
  int reported = 0;
  auto fail = [&](const std::string& m) {
    if (reported++ < 5) ADD_FAILURE() << m;
  };
  for (const auto& [auction, auctionBids] : bidsByAuction) {
    std::vector<int64_t> prices;
    std::multimap<int64_t, const BidRec*> byPrice;  // the bids not yet matched to a rank
    for (const BidRec* b : auctionBids) {
      prices.push_back(b->price);
      byPrice.emplace(b->price, b);
    }
    std::sort(prices.rbegin(), prices.rend());
    prices.resize(std::min<size_t>(prices.size(), 10));
    const auto& ranks = actual[auction];
    std::vector<int64_t> actualPrices;
    int64_t expectRank = 1;
    for (const auto& [rank, row] : ranks) {
      if (rank != expectRank) fail("auction " + std::to_string(auction) + ": rank " + std::to_string(rank) + " where " + std::to_string(expectRank) + " was due");
      ++expectRank;
      const int64_t price = std::stoll(row[2]);
      actualPrices.push_back(price);
      const Row bid(row.begin(), row.begin() + 7);
      auto [first, last] = byPrice.equal_range(price);
      auto match = std::find_if(first, last, [&](const auto& entry) { return bidValues(*entry.second) == bid; });
      if (match == last) {
        fail("auction " + std::to_string(auction) + " rank " + std::to_string(rank) + ": " + describe(bid) + " is not one of its bids (or is listed twice)");
      } else {
        byPrice.erase(match);
      }
    }
    if (actualPrices != prices) {
      fail("auction " + std::to_string(auction) + ": top prices by rank " + ::testing::PrintToString(actualPrices) + ", expected " +
           ::testing::PrintToString(prices));
    }
  }
}

// ---- The parameterized test --------------------------------------------------------------------

using QueryCase = std::tuple<std::string, int, std::string>;  // query, parallelism, dataset

class NexmarkQueryTest : public ::testing::TestWithParam<QueryCase> {};

TEST_P(NexmarkQueryTest, MatchesReference) {
  const auto& [q, parallelism, datasetName] = GetParam();
  const Dataset& data = dataset(datasetName);
  ASSERT_EQ(data.events.size(), 20000u);
  ScratchDir dir;
  QueryJobOptions options;
  options.query = q;
  options.inputPath = data.path;
  options.outputPath = dir.file("out.jsonl");
  options.badInput = BadInputPolicy::kFail;
  QueryRun run = runQueryJob(options, parallelism);
  ASSERT_TRUE(run.status.isOk()) << run.status.toString();
  EXPECT_EQ(run.counters->outputRows.load(), static_cast<int64_t>(run.rows.size()));
  EXPECT_EQ(run.counters->badRecords.load(), 0);
  EXPECT_EQ(run.counters->inputLines.load(), static_cast<int64_t>(data.events.size()));
  expectColumns(run.rows, columnsOf(q));

  if (q == "q15") {
    auto expected = q15Reference(data.events);
    ASSERT_FALSE(expected.empty());
    expectSameTable(applyChangelog(std::move(run.rows), [](const Row& v) { return ChangelogTable::Key{v[0]}; }).rows(), expected);
  } else if (q == "q17") {
    auto expected = q17Reference(data.events);
    ASSERT_FALSE(expected.empty());
    auto table = applyChangelog(std::move(run.rows), [](const Row& v) { return ChangelogTable::Key{v[0], v[1]}; }, kQ17Avg);
    expectSameTable(table.rows(), expected);
  } else if (q == "q18") {
    checkQ18(std::move(run.rows), data.events);
  } else if (q == "q19") {
    checkQ19(std::move(run.rows), data.events);
  } else {
    auto expected = appendOnlyReference(q, data.events);
    ASSERT_FALSE(expected.empty()) << "the dataset gives " << q << " nothing to check";
    std::vector<Row> actual;
    for (const auto& r : run.rows) actual.push_back(valuesOf(r));
    expectSameRows(actual, expected, q);
  }
}

std::string caseName(const ::testing::TestParamInfo<QueryCase>& info) {
  return std::get<0>(info.param) + "_p" + std::to_string(std::get<1>(info.param)) + "_" + std::get<2>(info.param);
}

INSTANTIATE_TEST_SUITE_P(AllQueries, NexmarkQueryTest,
                         ::testing::Combine(::testing::Values("q0", "q1", "q2", "q3", "q13", "q14", "q15", "q17", "q18",
                                                              "q19", "q20", "q21", "q22"),
                                            ::testing::Values(1, 4), ::testing::Values("inorder")),
                         caseName);

// Disorder, two generators and ties matter to the stateful queries: joins whose sides arrive
// in either order, last-by-time, top-N, per-day aggregates.
INSTANTIATE_TEST_SUITE_P(Disorder, NexmarkQueryTest,
                         ::testing::Combine(::testing::Values("q3", "q15", "q17", "q18", "q19", "q20"),
                                            ::testing::Values(1, 4), ::testing::Values("disorder")),
                         caseName);

TEST(NexmarkQueryTest, EveryImplementedQueryIsCovered) {
  // This file covers the unwindowed queries; AuctionQueriesTest.cc covers q4/q6/q9 and
  // WindowedQueriesTest.cc q5/q7/q8/q11/q12, Q10Test.cc q10. A new query must get tests before
  // it is listed.
  EXPECT_THAT(supportedQueries(),
              ::testing::UnorderedElementsAre("q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12",
                                              "q13", "q14", "q15", "q17", "q18", "q19", "q20", "q21", "q22"));
}

TEST(NexmarkQueryTest, InorderDatasetCoversDaysAndHourClasses) {
  // q15/q17 need several days and q14 every class of hour, or their checks prove little.
  const Dataset& data = dataset("inorder");
  std::set<std::string> days, types;
  for (const auto& b : recordsOf<BidRec>(data.events)) {
    days.insert(utcDay(b.dateTime));
    types.insert(bidTimeType(b.dateTime));
  }
  EXPECT_GE(days.size(), 3u);
  EXPECT_THAT(types, ::testing::ElementsAre("dayTime", "nightTime", "otherTime"));
  int64_t q14Types = 0;
  std::set<std::string> q14Seen;
  for (const auto& row : appendOnlyReference("q14", data.events)) q14Types += q14Seen.insert(row[3]).second;
  EXPECT_EQ(q14Types, 3);
}

TEST(NexmarkQueryTest, DisorderDatasetHasDisorderAndTies) {
  // The disorder dataset is only worth having if its file really is out of timestamp order and
  // q18 meets ties (bids of one bidder on one auction with the same, latest, dateTime).
  const Dataset& data = dataset("disorder");
  int64_t inversions = 0, previous = INT64_MIN;
  for (const auto& e : data.events) {
    int64_t t = std::visit([](const auto& r) { return r.dateTime; }, e);
    inversions += t < previous;
    previous = t;
  }
  EXPECT_GT(inversions, 100);
  std::map<std::pair<int64_t, int64_t>, std::pair<int64_t, int>> latest;  // (bidder, auction) → (dateTime, bids at it)
  for (const auto& b : recordsOf<BidRec>(data.events)) {
    auto [it, fresh] = latest.try_emplace({b.bidder, b.auction}, b.dateTime, 0);
    if (b.dateTime > it->second.first) it->second = {b.dateTime, 0};
    if (b.dateTime == it->second.first) ++it->second.second;
  }
  int64_t tiedKeys = 0;
  for (const auto& [key, l] : latest) tiedKeys += l.second > 1;
  EXPECT_GT(tiedKeys, 10);
}

// ---- Hand-written inputs -----------------------------------------------------------------------

constexpr int64_t kBase = 1436918400000;  // 2015-07-15T00:00:00Z

BidRec bid(int64_t auction, int64_t bidder, int64_t price, int64_t dateTime, std::string channel = "channel-5",
           std::string url = "https://www.nexmark.com/aa/bb/cc/item.htm?query=1&channel_id=5", std::string extra = "") {
  return BidRec{auction, bidder, price, std::move(channel), std::move(url), dateTime, std::move(extra)};
}

PersonRec person(int64_t id, std::string name, std::string city, std::string state, int64_t dateTime) {
  return PersonRec{id, std::move(name), "kate@abc.com", "1234 5678 9012 3456", std::move(city), std::move(state), dateTime, "x"};
}

AuctionRec auction(int64_t id, int64_t seller, int64_t category, int64_t dateTime) {
  return AuctionRec{id, "item" + std::to_string(id), "desc", 100, 200, dateTime, dateTime + 100000, seller, category, "y"};
}

class HandWrittenTest : public ::testing::Test {
 protected:
  /// Runs `query` over `events` at parallelism 1 (every channel FIFO, so the order of one
  /// input is kept) and returns the output rows.
  std::vector<FlatRow> run(const std::string& query, const std::vector<EventRec>& events, int parallelism = 1) {
    QueryJobOptions options;
    options.query = query;
    options.inputPath = dir_.file("in.jsonl");
    options.outputPath = dir_.file("out-" + std::to_string(runs_++) + ".jsonl");
    options.badInput = BadInputPolicy::kFail;
    writeEventFile(options.inputPath, events);
    QueryRun r = runQueryJob(options, parallelism, /*batchSize=*/1);
    EXPECT_TRUE(r.status.isOk()) << r.status.toString();
    expectColumns(r.rows, columnsOf(query));
    return r.rows;
  }
  static std::vector<Row> values(const std::vector<FlatRow>& rows) {
    std::vector<Row> v;
    for (const auto& r : rows) v.push_back(valuesOf(r));
    return v;
  }

  ScratchDir dir_;
  int runs_ = 0;
};

TEST_F(HandWrittenTest, Q1ConvertsToEuroExactly) {
  auto rows = run("q1", {bid(1000, 1, 123, kBase), bid(1000, 1, 100, kBase), bid(1000, 1, 1, kBase),
                         bid(1000, 1, 100000000, kBase), person(1000, "a", "b", "OR", kBase)});
  EXPECT_THAT(values(rows), ::testing::ElementsAre(Row{"1000", "1", "111.684", num(kBase)}, Row{"1000", "1", "90.800", num(kBase)},
                                                   Row{"1000", "1", "0.908", num(kBase)},
                                                   Row{"1000", "1", "90800000.000", num(kBase)}));
}

TEST_F(HandWrittenTest, Q14FiltersByEuroPriceAndClassifiesHours) {
  const int64_t h = 3600000;
  std::vector<EventRec> events = {
      bid(1, 1, 1101321, kBase + 10 * h),           // 999 999.468 €: not above 1 000 000
      bid(2, 1, 1101322, kBase + 10 * h, "c", "u", "abc cc"),  // 1 000 000.376 €
      bid(3, 1, 55066079, kBase + 7 * h - 1),       // 49 999 999.732 €, 06:59:59.999
      bid(4, 1, 55066080, kBase + 12 * h),          // 50 000 000.640 €: not below 50 000 000
      bid(5, 1, 2000000, kBase + 7 * h),            // 07:00
      bid(6, 1, 2000000, kBase + 8 * h),            // 08:00
      bid(7, 1, 2000000, kBase + 19 * h - 1),       // 18:59:59.999
      bid(8, 1, 2000000, kBase + 19 * h),           // 19:00
      bid(9, 1, 2000000, kBase + 20 * h - 1),       // 19:59:59.999
      bid(10, 1, 2000000, kBase + 20 * h),          // 20:00
      bid(11, 1, 2000000, kBase + 24 * h - 1),      // 23:59:59.999
  };
  auto row = [](int64_t a, const std::string& price, const std::string& type, int64_t t, const std::string& extra, int64_t cs) {
    return Row{num(a), "1", price, str(type), num(t), str(extra), num(cs)};
  };
  EXPECT_THAT(values(run("q14", events)),
              ::testing::ElementsAre(row(2, "1000000.376", "dayTime", kBase + 10 * h, "abc cc", 3),
                                     row(3, "49999999.732", "nightTime", kBase + 7 * h - 1, "", 0),
                                     row(5, "1816000.000", "otherTime", kBase + 7 * h, "", 0),
                                     row(6, "1816000.000", "dayTime", kBase + 8 * h, "", 0),
                                     row(7, "1816000.000", "dayTime", kBase + 19 * h - 1, "", 0),
                                     row(8, "1816000.000", "otherTime", kBase + 19 * h, "", 0),
                                     row(9, "1816000.000", "otherTime", kBase + 20 * h - 1, "", 0),
                                     row(10, "1816000.000", "nightTime", kBase + 20 * h, "", 0),
                                     row(11, "1816000.000", "nightTime", kBase + 24 * h - 1, "", 0)));
}

TEST_F(HandWrittenTest, Q3JoinsAuctionsThatArriveBeforeTheirSeller) {
  std::vector<EventRec> events = {
      auction(1000, 2000, 10, kBase),  // before its seller
      auction(1001, 2001, 10, kBase),  // seller in WA
      auction(1002, 2000, 11, kBase),  // not category 10
      auction(1006, 2999, 10, kBase),  // seller never arrives
      person(2000, "Kate Smith", "Bend", "OR", kBase + 1),
      person(2001, "Paul Jones", "Seattle", "WA", kBase + 1),
      auction(1003, 2000, 10, kBase + 2),  // after its seller
      auction(1004, 2001, 10, kBase + 2),
      person(2002, "Vicky Noris", "Los Angeles", "CA", kBase + 3),
      person(2003, "John White", "Boise", "ID", kBase + 3),
      auction(1005, 2002, 10, kBase + 4),
      auction(1007, 2003, 10, kBase + 4),
      auction(1008, 2003, 12, kBase + 4),
  };
  EXPECT_THAT(values(run("q3", events)),
              ::testing::UnorderedElementsAre(Row{str("Kate Smith"), str("Bend"), str("OR"), "1000"},
                                              Row{str("Kate Smith"), str("Bend"), str("OR"), "1003"},
                                              Row{str("Vicky Noris"), str("Los Angeles"), str("CA"), "1005"},
                                              Row{str("John White"), str("Boise"), str("ID"), "1007"}));
}

TEST_F(HandWrittenTest, Q20JoinsBidsThatArriveBeforeTheirAuctionAndOnlyCategory10) {
  BidRec early = bid(1000, 1, 100, kBase);
  BidRec late = bid(1000, 2, 300, kBase + 2);
  AuctionRec a1000 = auction(1000, 5000, 10, kBase + 1);
  std::vector<EventRec> events = {
      early,
      bid(1001, 1, 200, kBase),  // its auction is category 11
      a1000,
      auction(1001, 5000, 11, kBase + 1),
      late,
      bid(1001, 2, 400, kBase + 2),
      bid(1002, 3, 500, kBase + 2),  // its auction never arrives
  };
  EXPECT_THAT(values(run("q20", events)),
              ::testing::UnorderedElementsAre(concat(bidValues(early), auctionValues(a1000)),
                                              concat(bidValues(late), auctionValues(a1000))));
}

std::vector<std::string> opsAndValues(const std::vector<FlatRow>& rows, std::initializer_list<const char*> columns) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    std::string s = field(r, "op").value_or("?").substr(1);
    for (const char* c : columns) s += " " + field(r, c).value_or("?");
    out.push_back(s);
  }
  return out;
}

TEST_F(HandWrittenTest, Q19BidPushesTheLowestOutOfTheTop10) {
  std::vector<EventRec> events;
  for (int i = 0; i < 10; ++i) events.push_back(bid(1000, 100 + i, 1000 - 100 * i, kBase + i));  // 1000, 900, …, 100
  events.push_back(bid(1000, 200, 550, kBase + 20));  // between 600 (rank 5) and 500 (rank 6)
  events.push_back(bid(1000, 201, 50, kBase + 21));   // below the 10th: no change
  events.push_back(bid(1001, 202, 7, kBase + 22));
  auto rows = run("q19", events);
  std::vector<std::string> inserts;
  for (int i = 0; i < 10; ++i) inserts.push_back("+I " + std::to_string(1000 - 100 * i) + " " + std::to_string(i + 1));
  // Ranks 6..10 change: 500..100 leave them, 550 and 500..200 take them. All -U then all +U, or
  // each rank's -U followed by its +U: both are well-formed changelogs.
  std::vector<std::string> grouped = inserts, interleaved = inserts;
  for (int r = 6; r <= 10; ++r) grouped.push_back("-U " + std::to_string(1100 - 100 * r) + " " + std::to_string(r));
  for (int r = 6; r <= 10; ++r) grouped.push_back("+U " + std::to_string(r == 6 ? 550 : 1200 - 100 * r) + " " + std::to_string(r));
  for (int r = 6; r <= 10; ++r) {
    interleaved.push_back("-U " + std::to_string(1100 - 100 * r) + " " + std::to_string(r));
    interleaved.push_back("+U " + std::to_string(r == 6 ? 550 : 1200 - 100 * r) + " " + std::to_string(r));
  }
  grouped.push_back("+I 7 1");
  interleaved.push_back("+I 7 1");
  EXPECT_THAT(opsAndValues(rows, {"price", "rank"}), ::testing::AnyOf(::testing::ElementsAreArray(grouped),
                                                                        ::testing::ElementsAreArray(interleaved)));
  // The whole bid travels with its rank.
  auto table = applyChangelog(rows, [](const Row& v) { return ChangelogTable::Key{v[0], v[7]}; });
  EXPECT_EQ(table.rows().at({"1000", "6"}), concat(bidValues(std::get<BidRec>(events[10])), {"6"}));
  EXPECT_EQ(table.rows().at({"1000", "10"}), concat(bidValues(std::get<BidRec>(events[8])), {"10"}));
}

TEST_F(HandWrittenTest, Q18OlderBidDoesNotReplaceNewerOne) {
  std::vector<EventRec> events = {
      bid(1000, 1, 10, kBase + 2000),
      bid(1000, 1, 20, kBase + 1000),  // older: ignored
      bid(1000, 2, 5, kBase + 500),    // another bidder: its own key
      bid(1000, 1, 30, kBase + 3000),  // newer: replaces
      bid(1001, 1, 40, kBase + 100),   // another auction: its own key
  };
  EXPECT_THAT(opsAndValues(run("q18", events), {"bidder", "auction", "price", "dateTime"}),
              ::testing::ElementsAre("+I 1 1000 10 " + num(kBase + 2000), "+I 2 1000 5 " + num(kBase + 500),
                                     "-U 1 1000 10 " + num(kBase + 2000), "+U 1 1000 30 " + num(kBase + 3000),
                                     "+I 1 1001 40 " + num(kBase + 100)));
}

TEST_F(HandWrittenTest, Q21ExtractsChannelIdsAndDropsRowsWithout) {
  std::vector<EventRec> events = {
      bid(1, 1, 1, kBase, "channel-1", "https://www.nexmark.com/a/b/c/item.htm?query=1"),  // dropped
      bid(2, 1, 1, kBase, "GOOGLE", "https://www.nexmark.com/a/b/c/item.htm?query=1"),
      bid(3, 1, 1, kBase, "Apple", "u"),
      bid(4, 1, 1, kBase, "facebook", "u&channel_id=99"),
      bid(5, 1, 1, kBase, "Baidu", "u"),
      bid(6, 1, 1, kBase, "channel-2", "https://www.nexmark.com/a/b/c/item.htm?query=1&channel_id=42"),
      bid(7, 1, 1, kBase, "channel-3", "channel_id=7&x=1"),
      bid(8, 1, 1, kBase, "channel-4", "https://x/item.htm?xchannel_id=5&channel_id=8&channel_id=9"),
      bid(9, 1, 1, kBase, "channel-5", "https://x/item.htm?query=1&channel_id="),
      bid(10, 1, 1, kBase, "channel-6", "https://x/item.htm?query=1&mychannel_id=5"),  // dropped
      bid(11, 1, 1, kBase, "googles", "https://x/item.htm?query=1"),                   // dropped
  };
  std::vector<Row> got;
  for (const auto& r : run("q21", events)) got.push_back({*field(r, "auction"), *field(r, "channel_id")});
  EXPECT_THAT(got, ::testing::ElementsAre(Row{"2", str("1")}, Row{"3", str("0")}, Row{"4", str("2")}, Row{"5", str("3")},
                                          Row{"6", str("42")}, Row{"7", str("7")}, Row{"8", str("8")}, Row{"9", str("")}));
}

TEST_F(HandWrittenTest, Q22SplitsUrlsAndGivesNullsForMissingParts) {
  std::vector<EventRec> events = {
      bid(1, 1, 1, kBase, "c", "https://www.nexmark.com/p1/p2/p3/item.htm?query=1"),
      bid(2, 1, 1, kBase, "c", "https://www.nexmark.com/only"),
      bid(3, 1, 1, kBase, "c", "noslashes"),
      bid(4, 1, 1, kBase, "c", "https://www.nexmark.com/a/b/"),
      bid(5, 1, 1, kBase, "c", "https://www.nexmark.com/a//c/d"),
      bid(6, 1, 1, kBase, "c", ""),
  };
  std::vector<Row> got;
  for (const auto& r : run("q22", events)) got.push_back({*field(r, "auction"), *field(r, "dir1"), *field(r, "dir2"), *field(r, "dir3")});
  EXPECT_THAT(got, ::testing::ElementsAre(Row{"1", str("p1"), str("p2"), str("p3")}, Row{"2", str("only"), kNull, kNull},
                                          Row{"3", kNull, kNull, kNull}, Row{"4", str("a"), str("b"), str("")},
                                          Row{"5", str("a"), str(""), str("c")}, Row{"6", kNull, kNull, kNull}));
}

TEST_F(HandWrittenTest, Q15AndQ17CountPerDayAndTier) {
  const int64_t day = 86400000;
  std::vector<EventRec> events = {
      bid(1000, 1, 9999, kBase),             // tier 1
      bid(1000, 2, 10000, kBase + 1),        // tier 2
      bid(1001, 1, 999999, kBase + 2),       // tier 2
      bid(1001, 1, 1000000, kBase + day - 1),  // tier 3, still 2015-07-15
      bid(1000, 3, 5, kBase + day),          // 2015-07-16
  };
  auto q15 = applyChangelog(run("q15", events), [](const Row& v) { return ChangelogTable::Key{v[0]}; });
  EXPECT_THAT(q15.rows(), ::testing::ElementsAre(
                              ::testing::Pair(ChangelogTable::Key{str("2015-07-15")},
                                              Row{str("2015-07-15"), "4", "1", "2", "1", "2", "1", "2", "1", "2", "1", "2", "1"}),
                              ::testing::Pair(ChangelogTable::Key{str("2015-07-16")},
                                              Row{str("2015-07-16"), "1", "1", "0", "0", "1", "1", "0", "0", "1", "1", "0", "0"})));
  auto q17 = applyChangelog(run("q17", events), [](const Row& v) { return ChangelogTable::Key{v[0], v[1]}; }, kQ17Avg);
  EXPECT_THAT(q17.rows(),
              ::testing::ElementsAre(
                  ::testing::Pair(ChangelogTable::Key{"1000", str("2015-07-15")},
                                  Row{"1000", str("2015-07-15"), "2", "1", "1", "0", "9999", "10000", normalizedDouble(9999.5), "19999"}),
                  ::testing::Pair(ChangelogTable::Key{"1000", str("2015-07-16")},
                                  Row{"1000", str("2015-07-16"), "1", "1", "0", "0", "5", "5", normalizedDouble(5.0), "5"}),
                  ::testing::Pair(ChangelogTable::Key{"1001", str("2015-07-15")},
                                  Row{"1001", str("2015-07-15"), "2", "0", "1", "1", "999999", "1000000",
                                      normalizedDouble(999999.5), "1999999"})));
}

}  // namespace
}  // namespace reka::nexmark::it
