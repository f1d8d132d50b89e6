// The windowed NEXMark queries q5, q7, q8, q11 (event time) and q12 (processing time) run end
// to end through buildQueryJob at parallelism 1 and 4, with a watermark after every source batch
// (so windows fire while the input is still read), against references computed here from the
// same events with plain loops over epoch-aligned half-open windows (docs/nexmark.md, Queries; no
// windows API). Then hand-worked inputs for window bounds, ties and session merging, and one run
// of each query through `reka nexmark run`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "NexmarkTestKit.h"

#ifndef REKA_CLI_PATH
#error "REKA_CLI_PATH must name the reka binary"
#endif

namespace reka::nexmark::it {
namespace {

constexpr int64_t kTumble = 10000;      // q7, q8, q12: TUMBLE 10 s
constexpr int64_t kHopSize = 10000;     // q5: HOP 10 s …
constexpr int64_t kHopSlide = 2000;     // … sliding by 2 s
constexpr int64_t kSessionGap = 10000;  // q11: SESSION 10 s

// ---- Datasets ----------------------------------------------------------------------------------

GeneratorConfig datasetConfig(const std::string& name) {
  GeneratorConfig c;
  c.events = 12000;
  c.rate = 200;  // 60 s of event time: six tumbling windows, about thirty hopping ones
  if (name == "inorder") {
    c.seed = 42;
  } else {
    // Two generators (6000 events each: whole disorder groups, so ids stay unique), groups of
    // 16 at 10 ms per event and generator: up to ~0.15 s out of order, inside the 4 s bound.
    c.seed = 7;
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

int64_t timeOf(const EventRec& e) {
  return std::visit([](const auto& r) { return r.dateTime; }, e);
}

// ---- References (docs/nexmark.md, Queries: Query details; written from the spec) ----------------------------------

/// The start of the epoch-aligned window of length `size` holding `t` (t may be negative).
int64_t alignDown(int64_t t, int64_t size) {
  return t - ((t % size) + size) % size;
}

/// q5: per HOP window (start a multiple of 2 s in (t − 10 s, t] for a bid at t), the auctions
/// with the window's highest bid count.
std::vector<Row> q5Reference(const std::vector<EventRec>& events) {
  std::map<int64_t, std::map<int64_t, int64_t>> counts;  // window start → auction → bids
  for (const auto& b : recordsOf<BidRec>(events))
    for (int64_t start = alignDown(b.dateTime, kHopSlide); start > b.dateTime - kHopSize;
         start -= kHopSlide)
      ++counts[start][b.auction];
  std::vector<Row> rows;
  for (const auto& [start, perAuction] : counts) {
    int64_t max = 0;
    for (const auto& [auction, n] : perAuction) max = std::max(max, n);
    for (const auto& [auction, n] : perAuction)
      if (n == max) rows.push_back({num(auction), num(n), num(start), num(start + kHopSize)});
  }
  return rows;
}

/// q7: per TUMBLE window, every bid with the window's highest price.
std::vector<Row> q7Reference(const std::vector<EventRec>& events) {
  std::map<int64_t, std::vector<BidRec>> byWindow;
  for (const auto& b : recordsOf<BidRec>(events))
    byWindow[alignDown(b.dateTime, kTumble)].push_back(b);
  std::vector<Row> rows;
  for (const auto& [start, bids] : byWindow) {
    int64_t max = INT64_MIN;
    for (const auto& b : bids) max = std::max(max, b.price);
    for (const auto& b : bids)
      if (b.price == max)
        rows.push_back(
            {num(b.auction), num(b.bidder), num(b.price), num(b.dateTime), num(start + kTumble)});
  }
  return rows;
}

/// q8: persons with at least one auction (as seller) in the TUMBLE window of their own event.
std::vector<Row> q8Reference(const std::vector<EventRec>& events) {
  std::set<std::pair<int64_t, int64_t>> sellerWindows;  // (seller, window start)
  for (const auto& a : recordsOf<AuctionRec>(events))
    sellerWindows.emplace(a.seller, alignDown(a.dateTime, kTumble));
  std::vector<Row> rows;
  for (const auto& p : recordsOf<PersonRec>(events)) {
    const int64_t start = alignDown(p.dateTime, kTumble);
    if (sellerWindows.count({p.id, start})) rows.push_back({num(p.id), str(p.name), num(start)});
  }
  return rows;
}

/// q11: per bidder, sessions of bids each at most 10 s after the one before (windows
/// [t, t + gap) merge when they overlap or touch); window_end = last bid + gap.
std::vector<Row> q11Reference(const std::vector<EventRec>& events) {
  std::map<int64_t, std::vector<int64_t>> times;  // bidder → bid times
  for (const auto& b : recordsOf<BidRec>(events)) times[b.bidder].push_back(b.dateTime);
  std::vector<Row> rows;
  for (auto& [bidder, ts] : times) {
    std::sort(ts.begin(), ts.end());
    size_t first = 0;
    for (size_t i = 1; i <= ts.size(); ++i) {
      if (i < ts.size() && ts[i] <= ts[i - 1] + kSessionGap) continue;
      rows.push_back({num(bidder), num(static_cast<int64_t>(i - first)), num(ts[first]),
                      num(ts[i - 1] + kSessionGap)});
      first = i;
    }
  }
  return rows;
}

std::vector<Row> referenceFor(const std::string& q, const std::vector<EventRec>& events) {
  if (q == "q5") return q5Reference(events);
  if (q == "q7") return q7Reference(events);
  if (q == "q8") return q8Reference(events);
  if (q == "q11") return q11Reference(events);
  ADD_FAILURE() << "no reference for " << q;
  return {};
}

/// docs/nexmark.md's output columns (Queries).
std::vector<std::string> columnsOf(const std::string& q) {
  if (q == "q5") return {"auction", "num", "window_start", "window_end"};
  if (q == "q7") return {"auction", "bidder", "price", "dateTime", "window_end"};
  if (q == "q8") return {"id", "name", "window_start"};
  if (q == "q11" || q == "q12") return {"bidder", "bid_count", "window_start", "window_end"};
  ADD_FAILURE() << "no columns for " << q;
  return {};
}

// ---- Checking output ---------------------------------------------------------------------------

/// Fails once if any row's keys differ from `columns` (names and order).
void expectColumns(const std::vector<FlatRow>& rows, const std::vector<std::string>& columns) {
  for (size_t i = 0; i < rows.size(); ++i) {
    if (keysOf(rows[i]) != columns) {
      ADD_FAILURE() << "row " << i << " has columns " << ::testing::PrintToString(keysOf(rows[i]))
                    << ", expected " << ::testing::PrintToString(columns);
      return;
    }
  }
}

std::vector<Row> valuesOfAll(const std::vector<FlatRow>& rows) {
  std::vector<Row> values;
  for (const auto& r : rows) values.push_back(valuesOf(r));
  return values;
}

/// q12 depends on when records are processed, so only its invariants are checked: every bid is
/// counted once in some window of its bidder, and windows are 10 s long and epoch-aligned.
void checkQ12(const std::vector<FlatRow>& rows, const std::vector<EventRec>& events) {
  std::map<int64_t, int64_t> expected;  // bidder → bids
  for (const auto& b : recordsOf<BidRec>(events)) ++expected[b.bidder];
  std::map<int64_t, int64_t> counted;
  std::set<std::pair<int64_t, int64_t>> seen;  // (bidder, window start)
  int reported = 0;
  auto fail = [&](const std::string& m) {
    if (reported++ < 5) ADD_FAILURE() << m;
  };
  for (const auto& r : rows) {
    const Row v = valuesOf(r);
    if (v.size() != 4) continue;  // expectColumns reports it
    const int64_t bidder = std::stoll(v[0]), count = std::stoll(v[1]), start = std::stoll(v[2]),
                  end = std::stoll(v[3]);
    counted[bidder] += count;
    if (count <= 0) fail("q12 row with a count of " + v[1] + ": " + describe(v));
    if (end - start != kTumble || alignDown(start, kTumble) != start)
      fail("q12 window is not an aligned 10 s one: " + describe(v));
    if (!seen.emplace(bidder, start).second)
      fail("q12 gives bidder " + v[0] + " window " + v[2] + " twice");
  }
  EXPECT_EQ(counted, expected) << "bids per bidder, summed over q12's windows";
}

// ---- Running ------------------------------------------------------------------------------------

bool isSupported(const std::string& q) {
  const auto& all = supportedQueries();
  return std::find(all.begin(), all.end(), q) != all.end();
}

// ---- Generated inputs --------------------------------------------------------------------------

using QueryCase = std::tuple<std::string, int, std::string>;  // query, parallelism, dataset

class WindowedQueryTest : public ::testing::TestWithParam<QueryCase> {};

TEST_P(WindowedQueryTest, MatchesReference) {
  const auto& [q, parallelism, datasetName] = GetParam();
  const Dataset& data = dataset(datasetName);
  ASSERT_EQ(data.events.size(), 12000u);
  ScratchDir dir;
  QueryJobOptions options;
  options.query = q;
  options.inputPath = data.path;
  options.outputPath = dir.file("out.jsonl");
  options.badInput = BadInputPolicy::kFail;
  QueryRun run = runWithEagerWatermarks(options, parallelism, 256);
  ASSERT_TRUE(run.status.isOk()) << run.status.toString();
  EXPECT_EQ(run.counters->outputRows.load(), static_cast<int64_t>(run.rows.size()));
  EXPECT_EQ(run.counters->badRecords.load(), 0);
  EXPECT_EQ(run.counters->inputLines.load(), static_cast<int64_t>(data.events.size()));
  expectColumns(run.rows, columnsOf(q));
  if (q == "q12") {
    checkQ12(run.rows, data.events);
    return;
  }
  // No record is late (the disorder is inside the 4 s bound), so the result is exact.
  const auto expected = referenceFor(q, data.events);
  ASSERT_GE(expected.size(), 5u) << "the dataset gives " << q << " little to check";
  expectSameRows(valuesOfAll(run.rows), expected, q);
}

std::string caseName(const ::testing::TestParamInfo<QueryCase>& info) {
  return std::get<0>(info.param) + "_p" + std::to_string(std::get<1>(info.param)) + "_" +
         std::get<2>(info.param);
}

INSTANTIATE_TEST_SUITE_P(WindowedQueries, WindowedQueryTest,
                         ::testing::Combine(::testing::Values("q5", "q7", "q8", "q11", "q12"),
                                            ::testing::Values(1, 4),
                                            ::testing::Values("inorder", "disorder")),
                         caseName);

TEST(WindowedQueriesCoverageTest, EveryWindowedQueryIsSupported) {
  for (const char* q : {"q5", "q7", "q8", "q11", "q12"})
    EXPECT_TRUE(isSupported(q)) << q << " is not in supportedQueries()";
}

TEST(WindowedQueryDatasetTest, DatasetsSpanManyWindowsAndGiveEachQuerySomethingToCheck) {
  for (const std::string name : {"inorder", "disorder"}) {
    SCOPED_TRACE(name);
    const Dataset& data = dataset(name);
    int64_t minTime = INT64_MAX, maxSeen = INT64_MIN, maxLag = 0, inversions = 0;
    for (const auto& e : data.events) {
      const int64_t t = timeOf(e);
      minTime = std::min(minTime, t);
      inversions += t < maxSeen;
      if (maxSeen != INT64_MIN) maxLag = std::max(maxLag, maxSeen - t);
      maxSeen = std::max(maxSeen, t);
    }
    EXPECT_GT(maxSeen - minTime, 30000) << "event time covers too few windows";
    // Behind the highest time seen by at most the watermark delay: no record is ever late.
    EXPECT_LT(maxLag, kWatermarkDelayMs);
    if (name == "disorder") {
      EXPECT_GT(inversions, 100);
    } else {
      EXPECT_EQ(inversions, 0);
    }
    EXPECT_GE(q8Reference(data.events).size(), 5u);
    // Sessions: some bidders have several, some sessions hold several bids.
    std::map<std::string, int> sessionsPerBidder;
    int64_t multiBid = 0;
    for (const auto& row : q11Reference(data.events)) {
      ++sessionsPerBidder[row[0]];
      multiBid += std::stoll(row[1]) > 1;
    }
    int64_t multiSession = 0;
    for (const auto& [bidder, n] : sessionsPerBidder) multiSession += n > 1;
    EXPECT_GT(multiSession, 10);
    EXPECT_GT(multiBid, 10);
  }
}

// ---- Hand-worked cases --------------------------------------------------------------------------

constexpr int64_t kBase = GeneratorConfig::kBaseTime;  // 2015-07-15T00:00:00Z, a multiple of 10 s

BidRec bid(int64_t auction, int64_t bidder, int64_t price, int64_t dateTime) {
  return BidRec{
      auction,  bidder, price, "channel-5", "https://www.nexmark.com/aa/bb/cc/item.htm?query=1",
      dateTime, ""};
}

PersonRec person(int64_t id, std::string name, int64_t dateTime) {
  return PersonRec{
      id, std::move(name), "kate@abc.com", "1234 5678 9012 3456", "Bend", "OR", dateTime, "x"};
}

AuctionRec auction(int64_t id, int64_t seller, int64_t dateTime) {
  return AuctionRec{id,       "item" + std::to_string(id), "desc", 100, 200,
                    dateTime, dateTime + 100000,           seller, 10,  "y"};
}

class WindowedHandWrittenTest : public ::testing::TestWithParam<int> {
 protected:
  std::vector<Row> run(const std::string& query, const std::vector<EventRec>& events) {
    QueryJobOptions options;
    options.query = query;
    options.inputPath = dir_.file("in-" + std::to_string(runs_) + ".jsonl");
    options.outputPath = dir_.file("out-" + std::to_string(runs_++) + ".jsonl");
    options.badInput = BadInputPolicy::kFail;
    writeEventFile(options.inputPath, events);
    QueryRun r = runWithEagerWatermarks(options, GetParam(), /*batchSize=*/1);
    EXPECT_TRUE(r.status.isOk()) << r.status.toString();
    expectColumns(r.rows, columnsOf(query));
    return valuesOfAll(r.rows);
  }

  ScratchDir dir_;
  int runs_ = 0;
};

TEST_P(WindowedHandWrittenTest, Q5AssignsEachBidToFiveHopsAndKeepsTies) {
  const std::vector<EventRec> events = {
      bid(1, 9, 100, kBase + 2000),   // exactly on a slide: in the hops starting −6 s … +2 s
      bid(2, 9, 100, kBase + 3999),   // the hops starting −6 s … +2 s
      bid(2, 9, 100, kBase + 4000),   // the hops starting −4 s … +4 s
      bid(1, 9, 100, kBase + 11999),  // the hops starting +2 s … +10 s
  };
  auto row = [](int64_t auction, int64_t n, int64_t start) {
    return Row{num(auction), num(n), num(kBase + start), num(kBase + start + 10000)};
  };
  const std::vector<Row> expected = {
      row(1, 1, -6000), row(2, 1, -6000),  // a tie: both auctions
      row(2, 2, -4000), row(2, 2, -2000), row(2, 2, 0),
      row(1, 2, 2000),  row(2, 2, 2000),  // a tie at 2
      row(2, 1, 4000),  row(1, 1, 4000),  row(1, 1, 6000),
      row(1, 1, 8000),  row(1, 1, 10000),
  };
  EXPECT_THAT(run("q5", events), ::testing::UnorderedElementsAreArray(expected));
  EXPECT_THAT(q5Reference(events), ::testing::UnorderedElementsAreArray(expected));
}

TEST_P(WindowedHandWrittenTest, Q7GivesABidOnlyToItsOwnWindowAndKeepsTies) {
  const std::vector<EventRec> events = {
      bid(1, 10, 500, kBase),
      bid(2, 11, 700, kBase + 3000),
      bid(3, 12, 700, kBase + 9999),   // ties 700, last ms of [0, 10 s)
      bid(4, 13, 900, kBase + 10000),  // first ms of [10 s, 20 s): not a max of the first window
      bid(5, 14, 100, kBase + 12000),
      bid(6, 15, 50, kBase + 30000),  // alone in [30 s, 40 s); [20 s, 30 s) has no bid
  };
  auto row = [](int64_t auction, int64_t bidder, int64_t price, int64_t t, int64_t end) {
    return Row{num(auction), num(bidder), num(price), num(kBase + t), num(kBase + end)};
  };
  const std::vector<Row> expected = {row(2, 11, 700, 3000, 10000), row(3, 12, 700, 9999, 10000),
                                     row(4, 13, 900, 10000, 20000), row(6, 15, 50, 30000, 40000)};
  EXPECT_THAT(run("q7", events), ::testing::UnorderedElementsAreArray(expected));
  EXPECT_THAT(q7Reference(events), ::testing::UnorderedElementsAreArray(expected));
}

TEST_P(WindowedHandWrittenTest, Q8JoinsPersonsAndSellersOfTheSameWindowOnly) {
  const std::vector<EventRec> events = {
      person(2000, "Kate Smith", kBase + 100),
      auction(1000, 2000, kBase + 200),
      auction(1001, 2000, kBase + 9999),  // a second auction in the window: still one row
      person(2001, "Paul Jones", kBase + 9999),
      auction(1002, 2001, kBase + 10000),  // the next window: no row for 2001
      auction(1003, 2002, kBase + 10500),  // before its seller, same window
      person(2002, "Luke White", kBase + 11000),
      person(2003, "Saul Noris", kBase + 12000),  // no auction at all
      auction(1004, 2000, kBase + 25000),         // 2000 again, but no person event in this window
  };
  const std::vector<Row> expected = {{num(2000), str("Kate Smith"), num(kBase)},
                                     {num(2002), str("Luke White"), num(kBase + 10000)}};
  EXPECT_THAT(run("q8", events), ::testing::UnorderedElementsAreArray(expected));
  EXPECT_THAT(q8Reference(events), ::testing::UnorderedElementsAreArray(expected));
}

TEST_P(WindowedHandWrittenTest, Q11MergesSessionsThatTouchAndSplitsAtLargerGaps) {
  const std::vector<EventRec> events = {
      bid(1, 7, 1, kBase),
      bid(1, 8, 1, kBase + 500),
      bid(1, 7, 1,
          kBase + 10000),  // exactly one gap after the last: the windows touch, one session
      bid(1, 8, 1, kBase + 10501),  // one ms more than a gap after 8's last bid: a new session
      bid(1, 7, 1, kBase + 15000),
      bid(1, 7, 1, kBase + 25001),  // 10 001 ms after 7's last bid: a new session
      bid(1, 7, 1, kBase + 25001),  // same time: same session
  };
  auto row = [](int64_t bidder, int64_t n, int64_t start, int64_t last) {
    return Row{num(bidder), num(n), num(kBase + start), num(kBase + last + 10000)};
  };
  const std::vector<Row> expected = {row(7, 3, 0, 15000), row(7, 2, 25001, 25001),
                                     row(8, 1, 500, 500), row(8, 1, 10501, 10501)};
  EXPECT_THAT(run("q11", events), ::testing::UnorderedElementsAreArray(expected));
  EXPECT_THAT(q11Reference(events), ::testing::UnorderedElementsAreArray(expected));
}

TEST_P(WindowedHandWrittenTest, Q11MergesSessionsBridgedByALaterOutOfOrderBid) {
  // Two sessions 12 s apart until a bid 3 s behind the newest one arrives between them.
  const std::vector<EventRec> events = {
      bid(1, 7, 1, kBase), bid(1, 7, 1, kBase + 12000),
      bid(1, 7, 1, kBase + 9000),   // within the 4 s bound: not late; within a gap of both
      bid(1, 9, 1, kBase + 40000),  // moves the watermark past all of them
  };
  const std::vector<Row> expected = {{num(7), num(3), num(kBase), num(kBase + 22000)},
                                     {num(9), num(1), num(kBase + 40000), num(kBase + 50000)}};
  EXPECT_THAT(run("q11", events), ::testing::UnorderedElementsAreArray(expected));
  EXPECT_THAT(q11Reference(events), ::testing::UnorderedElementsAreArray(expected));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, WindowedHandWrittenTest, ::testing::Values(1, 4),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return "p" + std::to_string(info.param);
                         });

// ---- Through the command line -------------------------------------------------------------------

/// `reka nexmark run --events …` (the in-process generator, at parallelism 2): rows parse, have
/// exactly section 6's columns, and match the reference over the same generated stream.
class WindowedCliTest : public ::testing::TestWithParam<std::string> {};

TEST_P(WindowedCliTest, RunWritesExactlyTheDocumentedColumns) {
  const std::string q = GetParam();
  GeneratorConfig config;
  config.events = 6000;
  config.rate = 150;  // 40 s of event time
  config.seed = 5;
  ScratchDir dir;
  const std::string out = dir.file(q + ".jsonl"), err = dir.file("stderr");
  const std::string command = "timeout 60 '" REKA_CLI_PATH "' nexmark run --query " + q +
                              " --events 6000 --rate 150 --seed 5" +
                              " --parallelism 2 --no-progress --output '" + out +
                              "' </dev/null >/dev/null 2>'" + err + "'";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command << "\n" << readFile(err);
  const std::vector<FlatRow> rows = readRows(out);
  ASSERT_EQ(readLines(out).size(), rows.size()) << "every output line parses";
  ASSERT_FALSE(rows.empty());
  expectColumns(rows, columnsOf(q));
  const auto events = generateEvents(config);
  if (q == "q12") {
    checkQ12(rows, events);
  } else {
    expectSameRows(valuesOfAll(rows), referenceFor(q, events), q);
  }
}

INSTANTIATE_TEST_SUITE_P(Queries, WindowedCliTest,
                         ::testing::Values("q5", "q7", "q8", "q11", "q12"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace reka::nexmark::it
