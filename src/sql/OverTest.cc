// OVER aggregations run as jobs on files: ROWS and RANGE frames, bounded and unbounded, peers
// of a RANGE frame, rows out of order within the watermark's bound, processing time, and the
// messages of windows that cannot run. Expected rows are worked out by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "sql/SqlTesting.h"

namespace reka::sql {
namespace {

using ::testing::HasSubstr;
using V = std::vector<std::string>;

class OverTest : public testing::SqlFileTest {
 protected:
  void SetUp() override {
    SqlFileTest::SetUp();
    // User a's rows in time order: 1 at 1 s, 4 at 2.5 s (it arrives after a row at 3 s, within
    // the watermark's 1 s bound), 2 and 8 both at 3 s (peers, in that order), 16 at 9.5 s.
    std::ofstream(dir_ / "events.json") << R"({"u":"a","amt":1,"ts":1000})" "\n" R"({"u":"b","amt":10,"ts":1500})" "\n"
                                           R"({"u":"a","amt":2,"ts":3000})" "\n" R"({"u":"a","amt":4,"ts":2500})" "\n"
                                           R"({"u":"a","amt":8,"ts":3000})" "\n" R"({"u":"b","amt":20,"ts":9000})" "\n"
                                           R"({"u":"a","amt":16,"ts":9500})" "\n";
  }
  std::string events() const {
    return "CREATE TABLE events (u STRING, amt INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ("
           "'connector' = 'filesystem', 'path' = '" + (dir_ / "events.json").string() + "', 'format' = 'json');\n";
  }
  static V rows(const std::vector<std::pair<int, std::string>>& amtAndRest, const std::string& user) {
    V out;
    for (const auto& [amt, rest] : amtAndRest) out.push_back(R"({"u":")" + user + R"(","amt":)" + std::to_string(amt) + "," + rest + "}");
    return out;
  }
};

V sorted(V v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST_F(OverTest, RowsFrameOfTheRowAndTheOneBefore) {
  V want = rows({{1, R"("s":1)"}, {4, R"("s":5)"}, {2, R"("s":6)"}, {8, R"("s":10)"}, {16, R"("s":24)"}}, "a");
  for (auto& r : rows({{10, R"("s":10)"}, {20, R"("s":30)"}}, "b")) want.push_back(r);
  for (int p : {1, 2})
    EXPECT_EQ(run(events() + out("u STRING, amt INT, s INT") +
                      "INSERT INTO out SELECT u, amt, SUM(amt) OVER (PARTITION BY u ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM events;", p),
              sorted(want)) << "parallelism " << p;
}

TEST_F(OverTest, UnboundedRangeGivesPeersTheSameResult) {
  // Without a frame: RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW; the rows at 3 s both
  // see 1 + 4 + 2 + 8.
  V want = rows({{1, R"("s":1,"n":1)"}, {4, R"("s":5,"n":2)"}, {2, R"("s":15,"n":4)"}, {8, R"("s":15,"n":4)"}, {16, R"("s":31,"n":5)"}}, "a");
  for (auto& r : rows({{10, R"("s":10,"n":1)"}, {20, R"("s":30,"n":2)"}}, "b")) want.push_back(r);
  EXPECT_EQ(run(events() + out("u STRING, amt INT, s INT, n BIGINT") +
                "INSERT INTO out SELECT u, amt, SUM(amt) OVER w1 AS s, COUNT(*) OVER w1 AS n FROM events "
                "WINDOW w1 AS (PARTITION BY u ORDER BY ts);"),
            sorted(want));
  EXPECT_EQ(run(events() + out("u STRING, amt INT, s INT, n BIGINT") +
                "INSERT INTO out SELECT u, amt, SUM(amt) OVER (PARTITION BY u ORDER BY ts), COUNT(*) OVER (PARTITION BY u ORDER BY ts) FROM events;", 2),
            sorted(want));
}

TEST_F(OverTest, RangeFrameOfOneSecond) {
  // Rows at most 1 s older and the row's peers: at 3 s, the rows at 2.5 s and 3 s.
  V want = rows({{1, R"("n":1,"m":1)"}, {4, R"("n":1,"m":4)"}, {2, R"("n":3,"m":8)"}, {8, R"("n":3,"m":8)"}, {16, R"("n":1,"m":16)"}}, "a");
  for (auto& r : rows({{10, R"("n":1,"m":10)"}, {20, R"("n":1,"m":20)"}}, "b")) want.push_back(r);
  EXPECT_EQ(run(events() + out("u STRING, amt INT, n BIGINT, m INT") +
                "INSERT INTO out SELECT u, amt, COUNT(*) OVER w, MAX(amt) OVER w FROM events "
                "WINDOW w AS (PARTITION BY u ORDER BY ts RANGE BETWEEN INTERVAL '1' SECOND PRECEDING AND CURRENT ROW);"),
            sorted(want));
  // No PARTITION BY: one partition of every row (b's 10 at 1.5 s falls in a's frames).
  EXPECT_EQ(run(events() + out("amt INT, n BIGINT") +
                "INSERT INTO out SELECT amt, COUNT(*) OVER (ORDER BY ts RANGE BETWEEN INTERVAL '1' SECOND PRECEDING AND CURRENT ROW) FROM events;", 2),
            sorted(V{R"({"amt":1,"n":1})", R"({"amt":10,"n":2})", R"({"amt":4,"n":2})", R"({"amt":2,"n":3})", R"({"amt":8,"n":3})",
                     R"({"amt":20,"n":1})", R"({"amt":16,"n":2})"}));
}

TEST_F(OverTest, ProcessingTimeTakesRowsAsTheyArrive) {
  EXPECT_EQ(run(events() + out("u STRING, amt INT, n BIGINT") +
                "INSERT INTO out SELECT u, amt, COUNT(*) OVER (PARTITION BY u ORDER BY pt ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) "
                "FROM (SELECT *, PROCTIME() AS pt FROM events);"),
            sorted(V{R"({"u":"a","amt":1,"n":1})", R"({"u":"a","amt":2,"n":2})", R"({"u":"a","amt":4,"n":3})", R"({"u":"a","amt":8,"n":4})",
                     R"({"u":"a","amt":16,"n":5})", R"({"u":"b","amt":10,"n":1})", R"({"u":"b","amt":20,"n":2})"}));
}

TEST_F(OverTest, PlanAndErrors) {
  const std::string o = out("u STRING, s INT");
  EXPECT_THAT(explain(events() + o + "INSERT INTO out SELECT u, SUM(amt) OVER (PARTITION BY u ORDER BY ts ROWS 2 PRECEDING) FROM events;"),
              HasSubstr("OverAggregate: partitionBy=[u] orderBy=[ts] ROWS BETWEEN 2 PRECEDING AND CURRENT ROW select=[SUM(amt)]"));
  EXPECT_THAT(error(events() + o + "INSERT INTO out SELECT u, SUM(amt) OVER (PARTITION BY u ORDER BY amt) FROM events;"),
              HasSubstr("must be ORDER BY one time attribute, ascending"));
  EXPECT_THAT(error(events() + o + "INSERT INTO out SELECT u, SUM(amt) OVER (PARTITION BY u ORDER BY ts DESC) FROM events;"),
              HasSubstr("must be ORDER BY one time attribute, ascending"));
  EXPECT_THAT(error(events() + o + "INSERT INTO out SELECT u, SUM(amt) OVER (PARTITION BY u ORDER BY ts ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM events;"),
              HasSubstr("must end at CURRENT ROW"));
  EXPECT_THAT(error(events() + o + "INSERT INTO out SELECT u, SUM(amt) OVER (PARTITION BY u ORDER BY ts RANGE BETWEEN 3 PRECEDING AND CURRENT ROW) FROM events;"),
              HasSubstr("INTERVAL '…' unit PRECEDING"));
  EXPECT_THAT(error(events() + o + "INSERT INTO out SELECT u, SUM(amt) OVER (PARTITION BY u ORDER BY ts) + MAX(amt) OVER (ORDER BY ts) FROM events;"),
              HasSubstr("all aggregates of a query must use the same window"));
  EXPECT_THAT(error(events() + o + "INSERT INTO out SELECT u, SUM(amt) OVER (PARTITION BY u ORDER BY ts) + MAX(amt) FROM events;"),
              HasSubstr("has no OVER"));
  EXPECT_THAT(error(events() + o + "INSERT INTO out SELECT u, SUM(amt) OVER w FROM events;"), HasSubstr("window 'w' at line 3, column 27 is not defined"));
  EXPECT_THAT(error(events() + out("u STRING, s BIGINT", "changelog-json") +
                    "INSERT INTO out SELECT u, SUM(c) OVER (PARTITION BY u ORDER BY ts) FROM (SELECT u, COUNT(*) AS c, MAX(ts) AS ts FROM events GROUP BY u);"),
              HasSubstr("OVER aggregations need an append-only input"));
}

TEST_F(OverTest, RowsWaitingForTheWatermarkArePendingTimers) {
  // The table is followed (unbounded): the watermark stops at 9.5 s - 1 s = 8.5 s, so the row
  // at 9.5 s waits; the runtime reports it as the OVER operator's next event-time timer (the
  // dashboard's "why has this window not fired?").
  std::ofstream(dir_ / "events.json") << R"({"u":"a","amt":1,"ts":1000})" "\n" R"({"u":"a","amt":2,"ts":3000})" "\n"
                                         R"({"u":"a","amt":16,"ts":9500})" "\n";
  StreamEnvironment env;
  auto client = executeSql(env, "CREATE TABLE events (u STRING, amt INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ("
                                "'connector' = 'filesystem', 'path' = '" + (dir_ / "events.json").string() +
                                "', 'format' = 'json', 'source.monitor-interval' = '50ms');\n" +
                                out("u STRING, amt INT, s INT") +
                                "INSERT INTO out SELECT u, amt, SUM(amt) OVER (PARTITION BY u ORDER BY ts) AS s FROM events;");
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  int64_t next = INT64_MAX, input = INT64_MIN;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline && next != 9'500) {
    for (const OperatorStats& op : (*client)->metrics().operators) {
      if (op.name.rfind("OverAggregate", 0) != 0) continue;
      next = op.nextEventTimer;
      input = op.inputWatermark;
    }
    if (next != 9'500) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  (*client)->cancel();
  EXPECT_TRUE((*client)->waitFor(std::chrono::seconds(30)));
  EXPECT_EQ(next, 9'500) << "the row at 9.5 s waits for the watermark";
  EXPECT_GE(input, 3'000) << "the rows before have been given";
  EXPECT_LT(input, 9'500);
}

}  // namespace
}  // namespace reka::sql
