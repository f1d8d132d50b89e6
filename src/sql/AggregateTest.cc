// GROUP BY and window aggregation run as jobs on files: the changelog of an updating result in
// order, window results of TUMBLE, HOP and CUMULATE, HAVING, DISTINCT, a changelog input, the
// result at parallelism 2, and the messages of queries that cannot run. Expected rows are worked
// out by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "reka/sql/Functions.h"
#include "sql/SqlTesting.h"

namespace reka::sql {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using V = std::vector<std::string>;

class AggregateTest : public testing::SqlFileTest {
 protected:
  void SetUp() override {
    SqlFileTest::SetUp();
    // Bids in time order; windows of 10 s: [0, 10) holds the first two, [10, 20) the next two.
    std::ofstream(dir_ / "bids.json") << R"({"auction":1,"price":5,"channel":"a","ts":"2026-01-01 00:00:01"})" "\n"
                                         R"({"auction":2,"price":50,"channel":"a","ts":"2026-01-01 00:00:02"})" "\n"
                                         R"({"auction":1,"price":15,"channel":"b","ts":"2026-01-01 00:00:12"})" "\n"
                                         R"({"auction":1,"price":15,"channel":"b","ts":"2026-01-01 00:00:13"})" "\n"
                                         R"({"auction":2,"price":7,"channel":"c","ts":"2026-01-01 00:00:25"})" "\n";
  }

  std::string bids() const {
    return "CREATE TABLE bids (auction BIGINT, price BIGINT, channel STRING, ts TIMESTAMP(3),\n"
           "  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)\n"
           "WITH ('connector' = 'filesystem', 'path' = '" + (dir_ / "bids.json").string() + "', 'format' = 'json');\n";
  }
};

TEST_F(AggregateTest, GroupByEmitsAnUpdatingResultInOrder) {
  const V lines = run(bids() + out("auction BIGINT, n BIGINT, total BIGINT, hi BIGINT, lo BIGINT, av BIGINT, chans BIGINT, big BIGINT",
                                   "changelog-json") +
                          "INSERT INTO out SELECT auction, COUNT(*), SUM(price), MAX(price), MIN(price), AVG(price),\n"
                          "  COUNT(DISTINCT channel), COUNT(*) FILTER (WHERE price > 10) FROM bids GROUP BY auction;",
                      1, false);
  EXPECT_EQ(lines, (V{
                       R"({"auction":1,"n":1,"total":5,"hi":5,"lo":5,"av":5,"chans":1,"big":0,"op":"+I"})",
                       R"({"auction":2,"n":1,"total":50,"hi":50,"lo":50,"av":50,"chans":1,"big":1,"op":"+I"})",
                       R"({"auction":1,"n":1,"total":5,"hi":5,"lo":5,"av":5,"chans":1,"big":0,"op":"-U"})",
                       R"({"auction":1,"n":2,"total":20,"hi":15,"lo":5,"av":10,"chans":2,"big":1,"op":"+U"})",
                       R"({"auction":1,"n":2,"total":20,"hi":15,"lo":5,"av":10,"chans":2,"big":1,"op":"-U"})",
                       R"({"auction":1,"n":3,"total":35,"hi":15,"lo":5,"av":11,"chans":2,"big":2,"op":"+U"})",  // AVG of BIGINT truncates
                       R"({"auction":2,"n":1,"total":50,"hi":50,"lo":50,"av":50,"chans":1,"big":1,"op":"-U"})",
                       R"({"auction":2,"n":2,"total":57,"hi":50,"lo":7,"av":28,"chans":2,"big":1,"op":"+U"})",
                   }));
}

TEST_F(AggregateTest, AnUnchangedResultEmitsNothing) {
  // The second bid of channel b at price 15 leaves MAX(price) of channel b unchanged.
  const V lines = run(bids() + out("channel STRING, hi BIGINT", "changelog-json") +
                          "INSERT INTO out SELECT channel, MAX(price) FROM bids GROUP BY channel;",
                      1, false);
  EXPECT_EQ(lines, (V{R"({"channel":"a","hi":5,"op":"+I"})", R"({"channel":"a","hi":5,"op":"-U"})", R"({"channel":"a","hi":50,"op":"+U"})",
                      R"({"channel":"b","hi":15,"op":"+I"})", R"({"channel":"c","hi":7,"op":"+I"})"}));
}

TEST_F(AggregateTest, TumbleHopAndCumulateWindows) {
  EXPECT_EQ(run(bids() + out("ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, mx BIGINT") +
                "INSERT INTO out SELECT window_start, window_end, COUNT(*), MAX(price)\n"
                "FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end;"),
            (V{R"({"ws":"2026-01-01 00:00:00.000","we":"2026-01-01 00:00:10.000","n":2,"mx":50})",
               R"({"ws":"2026-01-01 00:00:10.000","we":"2026-01-01 00:00:20.000","n":2,"mx":15})",
               R"({"ws":"2026-01-01 00:00:20.000","we":"2026-01-01 00:00:30.000","n":1,"mx":7})"}));
  fs::remove_all(dir_ / "out");
  // Windows of 20 s every 10 s: [-10, 10) 2 bids, [0, 20) 4, [10, 30) 3, [20, 40) 1; per auction.
  EXPECT_EQ(run(bids() + out("auction BIGINT, we TIMESTAMP(3), n BIGINT") +
                "INSERT INTO out SELECT auction, window_end, COUNT(*)\n"
                "FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '20' SECOND))\n"
                "GROUP BY auction, window_start, window_end;", 2),
            (V{R"({"auction":1,"we":"2026-01-01 00:00:10.000","n":1})", R"({"auction":1,"we":"2026-01-01 00:00:20.000","n":3})",
               R"({"auction":1,"we":"2026-01-01 00:00:30.000","n":2})", R"({"auction":2,"we":"2026-01-01 00:00:10.000","n":1})",
               R"({"auction":2,"we":"2026-01-01 00:00:20.000","n":1})", R"({"auction":2,"we":"2026-01-01 00:00:30.000","n":1})",
               R"({"auction":2,"we":"2026-01-01 00:00:40.000","n":1})"}));
  fs::remove_all(dir_ / "out");
  // Windows growing by 10 s up to 30 s from 0: [0, 10) 2 bids, [0, 20) 4, [0, 30) 5.
  EXPECT_EQ(run(bids() + out("ws TIMESTAMP(3), we TIMESTAMP(3), total BIGINT") +
                "INSERT INTO out SELECT window_start, window_end, SUM(price)\n"
                "FROM TABLE(CUMULATE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '30' SECOND))\n"
                "GROUP BY window_start, window_end;"),
            (V{R"({"ws":"2026-01-01 00:00:00.000","we":"2026-01-01 00:00:10.000","total":55})",
               R"({"ws":"2026-01-01 00:00:00.000","we":"2026-01-01 00:00:20.000","total":85})",
               R"({"ws":"2026-01-01 00:00:00.000","we":"2026-01-01 00:00:30.000","total":92})"}));
}

TEST_F(AggregateTest, GroupWindowsTumbleAndSession) {
  EXPECT_EQ(run(bids() + out("ws TIMESTAMP(3), wt TIMESTAMP(3), n BIGINT") +
                "INSERT INTO out SELECT TUMBLE_START(ts, INTERVAL '10' SECOND), TUMBLE_ROWTIME(ts, INTERVAL '10' SECOND), COUNT(*)\n"
                "FROM bids GROUP BY TUMBLE(ts, INTERVAL '10' SECOND);"),
            (V{R"({"ws":"2026-01-01 00:00:00.000","wt":"2026-01-01 00:00:09.999","n":2})",
               R"({"ws":"2026-01-01 00:00:10.000","wt":"2026-01-01 00:00:19.999","n":2})",
               R"({"ws":"2026-01-01 00:00:20.000","wt":"2026-01-01 00:00:29.999","n":1})"}));
  fs::remove_all(dir_ / "out");
  // Bids at 1, 2, 12, 13 and 25 s: sessions with a 5 s gap are [1, 7), [12, 18) and [25, 30).
  for (int p : {1, 2}) {
    fs::remove_all(dir_ / "out");
    EXPECT_EQ(run(bids() + out("s TIMESTAMP(3), e TIMESTAMP(3), n BIGINT, total BIGINT, chans BIGINT") +
                      "INSERT INTO out SELECT SESSION_START(ts, INTERVAL '5' SECOND), SESSION_END(ts, INTERVAL '5' SECOND), COUNT(*),\n"
                      "  SUM(price), COUNT(DISTINCT channel) FROM bids GROUP BY SESSION(ts, INTERVAL '5' SECOND);", p),
              (V{R"({"s":"2026-01-01 00:00:01.000","e":"2026-01-01 00:00:07.000","n":2,"total":55,"chans":1})",
                 R"({"s":"2026-01-01 00:00:12.000","e":"2026-01-01 00:00:18.000","n":2,"total":30,"chans":1})",
                 R"({"s":"2026-01-01 00:00:25.000","e":"2026-01-01 00:00:30.000","n":1,"total":7,"chans":1})"}))
        << "parallelism " << p;
  }
  fs::remove_all(dir_ / "out");
  // Per auction, a 12 s gap: auction 1 at 1, 12, 13 s is one session [1, 25); auction 2 at 2 and
  // 25 s two. (With an 11 s gap, [1, 12) and [12, 23) would only touch: two sessions.)
  EXPECT_EQ(run(bids() + out("auction BIGINT, e TIMESTAMP(3), n BIGINT") +
                "INSERT INTO out SELECT auction, SESSION_END(ts, INTERVAL '12' SECOND), COUNT(*) FROM bids\n"
                "GROUP BY auction, SESSION(ts, INTERVAL '12' SECOND);"),
            (V{R"({"auction":1,"e":"2026-01-01 00:00:25.000","n":3})", R"({"auction":2,"e":"2026-01-01 00:00:14.000","n":1})",
               R"({"auction":2,"e":"2026-01-01 00:00:37.000","n":1})"}));
}

TEST_F(AggregateTest, TopNAndDeduplication) {
  EXPECT_EQ(run(bids() + out("auction BIGINT, price BIGINT, rn BIGINT", "changelog-json") +
                    "INSERT INTO out SELECT auction, price, rn FROM (\n"
                    "  SELECT auction, price, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bids)\n"
                    "WHERE rn <= 2;",
                1, false),
            (V{R"({"auction":1,"price":5,"rn":1,"op":"+I"})", R"({"auction":2,"price":50,"rn":1,"op":"+I"})",
               R"({"auction":1,"price":5,"rn":1,"op":"-U"})", R"({"auction":1,"price":5,"rn":2,"op":"+U"})",  // 15 pushes 5 down
               R"({"auction":1,"price":15,"rn":1,"op":"+I"})",
               R"({"auction":1,"price":5,"rn":2,"op":"-D"})", R"({"auction":1,"price":15,"rn":2,"op":"+I"})",  // the second 15 ties: after the first
               R"({"auction":2,"price":7,"rn":2,"op":"+I"})"}));
  fs::remove_all(dir_ / "out");
  // The first row of each channel (ORDER BY time ascending, rn = 1): a deduplication.
  EXPECT_EQ(run(bids() + out("channel STRING, auction BIGINT", "changelog-json") +
                "INSERT INTO out SELECT channel, auction FROM (\n"
                "  SELECT *, ROW_NUMBER() OVER (PARTITION BY channel ORDER BY ts) AS rn FROM bids) WHERE rn = 1;"),
            (V{R"({"channel":"a","auction":1,"op":"+I"})", R"({"channel":"b","auction":1,"op":"+I"})", R"({"channel":"c","auction":2,"op":"+I"})"}));
  EXPECT_THAT(error(bids() + out("auction BIGINT, rn BIGINT", "changelog-json") +
                    "INSERT INTO out SELECT auction, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price) FROM bids;"),
              HasSubstr("must be filtered by the enclosing query"));
  EXPECT_THAT(error(bids() + out("auction BIGINT", "changelog-json") +
                    "INSERT INTO out SELECT auction FROM (SELECT auction, ROW_NUMBER() OVER (ORDER BY price) AS rn FROM bids) WHERE rn > 3;"),
              HasSubstr("needs a filter in the enclosing query: WHERE rn <= N"));
}

TEST_F(AggregateTest, TopNOverAChangelogMovesTheNextRowUp) {
  // Per-auction sums of channel x: 1 → 10, 2 → 20, then 1 → 25 (-U 10, +U 25).
  std::ofstream(dir_ / "bids.json") << R"({"auction":1,"price":10,"channel":"x","ts":"2026-01-01 00:00:01"})" "\n"
                                       R"({"auction":2,"price":20,"channel":"x","ts":"2026-01-01 00:00:02"})" "\n"
                                       R"({"auction":1,"price":15,"channel":"x","ts":"2026-01-01 00:00:03"})" "\n";
  const std::string query = "INSERT INTO out SELECT auction, total, rn FROM (\n"
                            "  SELECT auction, total, ROW_NUMBER() OVER (PARTITION BY channel ORDER BY total) AS rn FROM (\n"
                            "    SELECT channel, auction, SUM(price) AS total FROM bids GROUP BY channel, auction))\n";
  const std::string cols = "auction BIGINT, total BIGINT, rn BIGINT";
  // Top 2: when 1's 10 leaves, 2 moves up to rank 1; 1's 25 enters at rank 2.
  EXPECT_EQ(run(bids() + out(cols, "changelog-json") + query + "WHERE rn <= 2;", 1, false),
            (V{R"({"auction":1,"total":10,"rn":1,"op":"+I"})", R"({"auction":2,"total":20,"rn":2,"op":"+I"})",
               R"({"auction":1,"total":10,"rn":1,"op":"-D"})", R"({"auction":2,"total":20,"rn":2,"op":"-U"})",
               R"({"auction":2,"total":20,"rn":1,"op":"+U"})", R"({"auction":1,"total":25,"rn":2,"op":"+I"})"}));
  // Top 1: 2 was kept outside the top and enters it when 1's 10 leaves; 25 stays outside.
  EXPECT_EQ(run(bids() + out(cols, "changelog-json") + query + "WHERE rn = 1;", 1, false),
            (V{R"({"auction":1,"total":10,"rn":1,"op":"+I"})", R"({"auction":1,"total":10,"rn":1,"op":"-D"})",
               R"({"auction":2,"total":20,"rn":1,"op":"+I"})"}));
  EXPECT_THAT(explain(bids() + out(cols, "changelog-json") + query + "WHERE rn = 1;"), HasSubstr("Deduplicate (retracting)"));
}

struct ProductAcc {
  int64_t product;
  int64_t rows;
};

TEST_F(AggregateTest, UserAggregateFunctionsRegisteredInCpp) {
  // The product of a group's values (retract divides), and the sum of the products of two.
  registerAggregateFunction(aggregateFunction<ProductAcc, int64_t, int64_t>(
      "test.Product", "the product of the values",
      [](ProductAcc& a, int64_t v) { a.product = (a.rows++ == 0 ? 1 : a.product) * v; },
      [](const ProductAcc& a) { return a.rows == 0 ? int64_t{0} : a.product; },
      std::function<void(ProductAcc&, int64_t)>([](ProductAcc& a, int64_t v) {
        a.product /= v;
        --a.rows;
      })));
  registerAggregateFunction(aggregateFunction<int64_t, int64_t, int64_t, int64_t>(
      "test.Dot", "the sum of a × b", [](int64_t& a, int64_t x, int64_t y) { a += x * y; }, [](const int64_t& a) { return a; }));
  const std::string t = bids() + "CREATE FUNCTION prod AS 'test.Product';\nCREATE FUNCTION dot AS 'test.Dot';\n";
  // Auction 1: 5 × 15 × 15 and 5·1 + 15·1 + 15·1; auction 2: 50 × 7 and 50·2 + 7·2 (an INT
  // argument is converted to the function's BIGINT).
  for (int p : {1, 2})
    EXPECT_EQ(applied(run(t + out("auction BIGINT, p BIGINT, d BIGINT", "changelog-json") +
                              "INSERT INTO out SELECT auction, prod(price), dot(price, CAST(auction AS INT)) FROM bids GROUP BY auction;", p)),
              (V{R"({"auction":1,"p":1125,"d":35})", R"({"auction":2,"p":350,"d":114})"})) << "parallelism " << p;
  // In an OVER aggregation: the running product per auction.
  EXPECT_EQ(run(t + out("auction BIGINT, p BIGINT") + "INSERT INTO out SELECT auction, prod(price) OVER (PARTITION BY auction ORDER BY ts) FROM bids;"),
            (V{R"({"auction":1,"p":1125})", R"({"auction":1,"p":5})", R"({"auction":1,"p":75})", R"({"auction":2,"p":350})", R"({"auction":2,"p":50})"}));
  // Over a changelog: the bid counts per auction end at 3 and 2; each update retracts the
  // count before it, so the product ends at 6.
  const std::string counts = "(SELECT auction, COUNT(*) AS c FROM bids GROUP BY auction)";
  EXPECT_EQ(applied(run(t + out("p BIGINT", "changelog-json") + "INSERT INTO out SELECT prod(c) FROM " + counts + ";")), (V{R"({"p":6})"}));
  // Without a retract function it cannot read a changelog.
  EXPECT_THAT(error(t + out("p BIGINT", "changelog-json") + "INSERT INTO out SELECT dot(c, c) FROM " + counts + ";"),
              HasSubstr("reads an updating result, but it has no retract function"));
  EXPECT_THAT(error(t + out("p BIGINT", "changelog-json") + "INSERT INTO out SELECT prod(price, price) FROM bids;"), HasSubstr("takes 1 arguments, not 2"));
  EXPECT_THAT(error(t + out("p BIGINT") + "INSERT INTO out SELECT prod(price) FROM bids GROUP BY auction, SESSION(ts, INTERVAL '1' SECOND);"),
              HasSubstr("cannot be used in a SESSION window"));
  EXPECT_THAT(error(bids() + "CREATE FUNCTION f AS 'no.Such';\n"), HasSubstr("registerAggregateFunction"));
}

TEST_F(AggregateTest, HavingDistinctAndAWholeTableAggregate) {
  EXPECT_EQ(run(bids() + out("auction BIGINT, n BIGINT", "changelog-json") +
                "INSERT INTO out SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction HAVING SUM(price) > 20;", 1, false),
            (V{R"({"auction":2,"n":1,"op":"+I"})", R"({"auction":1,"n":3,"op":"+U"})", R"({"auction":2,"n":1,"op":"-U"})",
               R"({"auction":2,"n":2,"op":"+U"})"}))
      << "HAVING filters the changelog's rows: those of auction 1 with SUM(price) 5 and 20 do not pass";
  fs::remove_all(dir_ / "out");
  // DISTINCT: a GROUP BY of every selected column; each distinct row once.
  const V distinct = run(bids() + out("channel STRING, auction BIGINT", "changelog-json") +
                         "INSERT INTO out SELECT DISTINCT channel, auction FROM bids;", 2);
  EXPECT_EQ(distinct, (V{R"({"channel":"a","auction":1,"op":"+I"})", R"({"channel":"a","auction":2,"op":"+I"})",
                         R"({"channel":"b","auction":1,"op":"+I"})", R"({"channel":"c","auction":2,"op":"+I"})"}));
  fs::remove_all(dir_ / "out");
  const V whole = run(bids() + out("n BIGINT, total BIGINT", "changelog-json") + "INSERT INTO out SELECT COUNT(*), SUM(price) FROM bids;", 2);
  ASSERT_FALSE(whole.empty());
  EXPECT_EQ(std::count_if(whole.begin(), whole.end(), [](const std::string& l) { return l.find("+I") != std::string::npos; }), 1);
  EXPECT_NE(std::find(whole.begin(), whole.end(), R"({"n":5,"total":92,"op":"+U"})"), whole.end());
}

TEST_F(AggregateTest, AChangelogInputIsRetracted) {
  // Debezium changes: a=1 and b=2 inserted, a updated 1 → 5, b deleted, c=3 inserted.
  std::ofstream(dir_ / "changes.json") << R"({"before":null,"after":{"k":"a","v":1},"op":"c"})" "\n"
                                          R"({"before":null,"after":{"k":"b","v":2},"op":"c"})" "\n"
                                          R"({"before":{"k":"a","v":1},"after":{"k":"a","v":5},"op":"u"})" "\n"
                                          R"({"before":{"k":"b","v":2},"after":null,"op":"d"})" "\n"
                                          R"({"before":null,"after":{"k":"c","v":3},"op":"c"})" "\n";
  const std::string changes = "CREATE TABLE changes (k STRING, v BIGINT) WITH ('connector' = 'filesystem', 'path' = '" +
                              (dir_ / "changes.json").string() + "', 'format' = 'debezium-json');\n";
  EXPECT_EQ(run(changes + out("n BIGINT, total BIGINT, keys BIGINT", "changelog-json") +
                    "INSERT INTO out SELECT COUNT(*), SUM(v), COUNT(DISTINCT k) FROM changes;",
                1, false),
            (V{R"({"n":1,"total":1,"keys":1,"op":"+I"})", R"({"n":1,"total":1,"keys":1,"op":"-U"})",
               R"({"n":2,"total":3,"keys":2,"op":"+U"})",  // b inserted
               R"({"n":2,"total":3,"keys":2,"op":"-U"})", R"({"n":1,"total":2,"keys":1,"op":"+U"})",  // a's old row retracted
               R"({"n":1,"total":2,"keys":1,"op":"-U"})", R"({"n":2,"total":7,"keys":2,"op":"+U"})",  // a's new row
               R"({"n":2,"total":7,"keys":2,"op":"-U"})", R"({"n":1,"total":5,"keys":1,"op":"+U"})",  // b deleted
               R"({"n":1,"total":5,"keys":1,"op":"-U"})", R"({"n":2,"total":8,"keys":2,"op":"+U"})"}));  // c inserted
  fs::remove_all(dir_ / "out");
  // A group whose every row is retracted is deleted.
  EXPECT_EQ(run(changes + out("k STRING, n BIGINT", "changelog-json") + "INSERT INTO out SELECT k, COUNT(*) FROM changes GROUP BY k;", 1, false),
            (V{R"({"k":"a","n":1,"op":"+I"})", R"({"k":"b","n":1,"op":"+I"})", R"({"k":"a","n":1,"op":"-D"})",
               R"({"k":"a","n":1,"op":"+I"})", R"({"k":"b","n":1,"op":"-D"})", R"({"k":"c","n":1,"op":"+I"})"}));
}

TEST_F(AggregateTest, ParallelGroupsGiveTheSameTable) {
  const std::string script = bids() + out("channel STRING, n BIGINT, total BIGINT", "changelog-json") +
                             "INSERT INTO out SELECT channel, COUNT(*), SUM(price) FROM bids GROUP BY channel;";
  // The final rows: the last +I/+U of each channel.
  for (int p : {1, 2}) {
    fs::remove_all(dir_ / "out");
    const V lines = run(script, p);
    for (const char* last : {R"({"channel":"a","n":2,"total":55,"op":"+U"})", R"({"channel":"b","n":2,"total":30,"op":"+U"})",
                             R"({"channel":"c","n":1,"total":7,"op":"+I"})"})
      EXPECT_NE(std::find(lines.begin(), lines.end(), last), lines.end()) << last << " at parallelism " << p;
    EXPECT_EQ(lines.size(), 7u) << "3 inserts and 2 updates of 2 rows each, at parallelism " << p;
  }
}

TEST_F(AggregateTest, QueriesThatCannotRunSayWhy) {
  EXPECT_THAT(error(bids() + out("auction BIGINT, n BIGINT", "changelog-json") +
                    "INSERT INTO out SELECT auction, price FROM bids GROUP BY auction;"),
              HasSubstr("column 'price' at line 5, column 33 is neither in GROUP BY nor inside an aggregate"));
  EXPECT_THAT(error(bids() + out("auction BIGINT, n BIGINT") + "INSERT INTO out SELECT auction, COUNT(*) FROM bids GROUP BY auction;"),
              HasSubstr("the query's result is updating"));
  EXPECT_THAT(error(bids() + out("n BIGINT") + "INSERT INTO out SELECT COUNT(*) FROM bids WHERE COUNT(*) > 1;"),
              HasSubstr("filter aggregates with HAVING"));
  EXPECT_THAT(error(bids() + out("n BIGINT", "changelog-json") + "INSERT INTO out SELECT SUM(channel) FROM bids;"),
              HasSubstr("SUM needs a number, not STRING"));
  EXPECT_THAT(error(bids() + out("n BIGINT", "changelog-json") + "INSERT INTO out SELECT COUNT(DISTINCT *) FROM bids;"),
              HasSubstr("name a column"));
  EXPECT_THAT(error(bids() + out("n BIGINT", "changelog-json") +
                    "INSERT INTO out SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(price), INTERVAL '1' SECOND)) GROUP BY window_start, window_end;"),
              HasSubstr("must be a TIMESTAMP(3) time attribute, not BIGINT"));
  EXPECT_THAT(error(bids() + out("n BIGINT") +
                    "INSERT INTO out SELECT COUNT(*) FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end;"),
              HasSubstr("takes a slide and a size"));
}

TEST_F(AggregateTest, MinAndMaxOverAChangelogFindTheNextValueWhenOneLeaves) {
  std::ofstream(dir_ / "changes.json") << R"({"before":null,"after":{"k":"a","v":5},"op":"c"})" "\n"
                                          R"({"before":null,"after":{"k":"b","v":9},"op":"c"})" "\n"
                                          R"({"before":{"k":"b","v":9},"after":{"k":"b","v":3},"op":"u"})" "\n"
                                          R"({"before":{"k":"a","v":5},"after":null,"op":"d"})" "\n";
  const std::string changes = "CREATE TABLE changes (k STRING, v BIGINT) WITH ('connector' = 'filesystem', 'path' = '" +
                              (dir_ / "changes.json").string() + "', 'format' = 'debezium-json');\n";
  EXPECT_EQ(run(changes + out("mx BIGINT, mn BIGINT, mk STRING", "changelog-json") + "INSERT INTO out SELECT MAX(v), MIN(v), MIN(k) FROM changes;", 1, false),
            (V{R"({"mx":5,"mn":5,"mk":"a","op":"+I"})",
               R"({"mx":5,"mn":5,"mk":"a","op":"-U"})", R"({"mx":9,"mn":5,"mk":"a","op":"+U"})",   // b 9 arrives
               R"({"mx":9,"mn":5,"mk":"a","op":"-U"})", R"({"mx":5,"mn":5,"mk":"a","op":"+U"})",   // 9 leaves: 5 is the maximum again
               R"({"mx":5,"mn":5,"mk":"a","op":"-U"})", R"({"mx":5,"mn":3,"mk":"a","op":"+U"})",   // b 3
               R"({"mx":5,"mn":3,"mk":"a","op":"-U"})", R"({"mx":3,"mn":3,"mk":"b","op":"+U"})"}));  // a 5 leaves
}

TEST_F(AggregateTest, ExplainShowsTheAggregationPlan) {
  auto compiled = SqlScript::compile(bids() + out("auction BIGINT, we TIMESTAMP(3), n BIGINT") +
                                     "INSERT INTO out SELECT auction, window_end, COUNT(*) FROM TABLE(\n"
                                     "  HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '20' SECOND))\n"
                                     "GROUP BY auction, window_start, window_end;");
  ASSERT_TRUE(compiled.isOk()) << compiled.status().toString();
  const std::string plan = compiled->explain();
  EXPECT_THAT(plan, HasSubstr("WindowAggregate: groupBy=[auction, window_start, window_end] select=[COUNT(*)] emit=window end"));
  EXPECT_THAT(plan, HasSubstr("Window: HOP(time=ts, slide=10000 ms, size=20000 ms)"));
}

/// Flink's mini-batch (table.exec.mini-batch.*): the rows of a run fold into one update per
/// group. The file's five rows arrive as one batch, so runs of 50 000 rows give each group's
/// final result once, and runs of 2 rows give one update per group and run.
TEST_F(AggregateTest, MiniBatchGivesOneUpdatePerGroupAndRun) {
  const std::string query = out("auction BIGINT, n BIGINT, total BIGINT, hi BIGINT, lo BIGINT, av BIGINT, chans BIGINT, big BIGINT", "changelog-json") +
                            "INSERT INTO out SELECT auction, COUNT(*), SUM(price), MAX(price), MIN(price), AVG(price),\n"
                            "  COUNT(DISTINCT channel), COUNT(*) FILTER (WHERE price > 10) FROM bids GROUP BY auction;";
  const auto settings = [](const std::string& size) {
    return "SET 'table.exec.mini-batch.enabled' = 'true';\nSET 'table.exec.mini-batch.allow-latency' = '2s';\n"
           "SET 'table.exec.mini-batch.size' = '" + size + "';\n";
  };
  EXPECT_EQ(run(settings("50000") + bids() + query, 1, false),
            (V{
                R"({"auction":1,"n":3,"total":35,"hi":15,"lo":5,"av":11,"chans":2,"big":2,"op":"+I"})",
                R"({"auction":2,"n":2,"total":57,"hi":50,"lo":7,"av":28,"chans":2,"big":1,"op":"+I"})",
            }));
  fs::remove_all(dir_ / "out");
  // Runs [1, 2], [1, 1], [2].
  EXPECT_EQ(run(settings("2") + bids() + query, 1, false),
            (V{
                R"({"auction":1,"n":1,"total":5,"hi":5,"lo":5,"av":5,"chans":1,"big":0,"op":"+I"})",
                R"({"auction":2,"n":1,"total":50,"hi":50,"lo":50,"av":50,"chans":1,"big":1,"op":"+I"})",
                R"({"auction":1,"n":1,"total":5,"hi":5,"lo":5,"av":5,"chans":1,"big":0,"op":"-U"})",
                R"({"auction":1,"n":3,"total":35,"hi":15,"lo":5,"av":11,"chans":2,"big":2,"op":"+U"})",
                R"({"auction":2,"n":1,"total":50,"hi":50,"lo":50,"av":50,"chans":1,"big":1,"op":"-U"})",
                R"({"auction":2,"n":2,"total":57,"hi":50,"lo":7,"av":28,"chans":2,"big":1,"op":"+U"})",
            }));
}

/// Over a changelog, a mini-batch retracts and deletes groups as the rows one by one would: the
/// counts of groups per count, folded, end as without mini-batch.
TEST_F(AggregateTest, MiniBatchOverAChangelogEndsWhereRowByRowEnds) {
  const std::string query = out("n BIGINT, groups BIGINT", "changelog-json") +
                            "INSERT INTO out SELECT n, COUNT(*) FROM (SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction) GROUP BY n;";
  // The changelog applied: +I and +U add a row, -U and -D take one away.
  const auto materialize = [](const V& lines) {
    std::multiset<std::string> rows;
    for (const auto& l : lines) {
      const size_t at = l.find(",\"op\":\"");
      const std::string row = l.substr(0, at), op = l.substr(at + 7, 2);
      if (op == "+I" || op == "+U") {
        rows.insert(row);
      } else {
        auto it = rows.find(row);
        EXPECT_NE(it, rows.end()) << "retracts a row not there: " << l;
        if (it != rows.end()) rows.erase(it);
      }
    }
    return V(rows.begin(), rows.end());
  };
  const V expected = {R"({"n":2,"groups":1)", R"({"n":3,"groups":1)"};  // auction 1 has 3 bids, auction 2 has 2
  for (const std::string size : {"1", "2", "3", "50000"}) {
    fs::remove_all(dir_ / "out");
    const V lines = run("SET 'table.exec.mini-batch.enabled' = 'true';\nSET 'table.exec.mini-batch.allow-latency' = '1 s';\n"
                        "SET 'table.exec.mini-batch.size' = '" + size + "';\n" + bids() + query,
                        1, false);
    EXPECT_EQ(materialize(lines), expected) << "mini-batch size " << size;
  }
  fs::remove_all(dir_ / "out");
  EXPECT_EQ(materialize(run(bids() + query, 1, false)), expected);
}

TEST_F(AggregateTest, MiniBatchSettingsAreChecked) {
  const std::string query = bids() + out("auction BIGINT, n BIGINT", "changelog-json") + "INSERT INTO out SELECT auction, COUNT(*) FROM bids GROUP BY auction;";
  const auto addError = [&](const std::string& settings) {
    auto compiled = SqlScript::compile(settings + query);
    if (!compiled.isOk()) return compiled.status().message();
    StreamEnvironment env;
    return compiled->addTo(env).message();
  };
  EXPECT_THAT(addError("SET 'table.exec.mini-batch.enabled' = 'yes';\n"), HasSubstr("expected true or false"));
  EXPECT_THAT(addError("SET 'table.exec.mini-batch.enabled' = 'true';\nSET 'table.exec.mini-batch.size' = '100';\n"),
              HasSubstr("needs 'table.exec.mini-batch.allow-latency' set to a duration above 0"));
  EXPECT_THAT(addError("SET 'table.exec.mini-batch.enabled' = 'true';\nSET 'table.exec.mini-batch.allow-latency' = '2s';\n"
                       "SET 'table.exec.mini-batch.size' = '-1';\n"),
              HasSubstr("needs 'table.exec.mini-batch.size' set to a number of rows above 0 (such as 50000), not '-1'"));
  EXPECT_EQ(addError("SET 'table.exec.mini-batch.enabled' = 'false';\n"), "");
}

/// DISTINCT calls over one column share a set of its values with a count per call (as Flink's
/// distinct state): each call still counts only its own rows (its FILTER), retractions take a
/// value away from the calls that had it, and sessions merge their sets.
TEST_F(AggregateTest, DistinctCallsOverOneColumnShareTheirValues) {
  // auction 1: channels a, b, b at prices 5, 15, 15; auction 2: channels a, c at prices 50, 7.
  EXPECT_EQ(run("SET 'table.exec.mini-batch.enabled' = 'true';\nSET 'table.exec.mini-batch.allow-latency' = '2s';\n"
                "SET 'table.exec.mini-batch.size' = '50000';\n" + bids() +
                    out("auction BIGINT, chans BIGINT, bigChans BIGINT, prices BIGINT, priceSum BIGINT, smallPrices BIGINT", "changelog-json") +
                    "INSERT INTO out SELECT auction, COUNT(DISTINCT channel), COUNT(DISTINCT channel) FILTER (WHERE price > 10),\n"
                    "  COUNT(DISTINCT price), SUM(DISTINCT price), COUNT(DISTINCT price) FILTER (WHERE price < 10) FROM bids GROUP BY auction;",
                1, false),
            (V{R"({"auction":1,"chans":2,"bigChans":1,"prices":2,"priceSum":20,"smallPrices":1,"op":"+I"})",
               R"({"auction":2,"chans":2,"bigChans":1,"prices":2,"priceSum":57,"smallPrices":1,"op":"+I"})"}));
  // Over a changelog: bids per auction go 1, 1, 2, 3, 2 (auction 1 ends at 3, auction 2 at 2),
  // so the counts pass through values that are retracted; the last row is the final result.
  fs::remove_all(dir_ / "out");
  const V lines = run(bids() + out("ns BIGINT, bigNs BIGINT, nSum BIGINT", "changelog-json") +
                          "INSERT INTO out SELECT COUNT(DISTINCT n), COUNT(DISTINCT n) FILTER (WHERE n > 1), SUM(DISTINCT n)\n"
                          "FROM (SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction);",
                      1, false);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), R"({"ns":2,"bigNs":2,"nSum":5,"op":"+U"})");  // n = 3 and 2
  // Sessions of 15 s per auction: auction 1 at 1, 12, 13 s merges into one; auction 2 at 2 and 25 s is two.
  fs::remove_all(dir_ / "out");
  EXPECT_EQ(run(bids() + out("auction BIGINT, chans BIGINT, bigChans BIGINT, priceSum BIGINT") +
                "INSERT INTO out SELECT auction, COUNT(DISTINCT channel), COUNT(DISTINCT channel) FILTER (WHERE price > 10), SUM(DISTINCT price)\n"
                "FROM bids GROUP BY auction, SESSION(ts, INTERVAL '15' SECOND);"),
            (V{R"({"auction":1,"chans":2,"bigChans":1,"priceSum":20})", R"({"auction":2,"chans":1,"bigChans":0,"priceSum":7})",
               R"({"auction":2,"chans":1,"bigChans":1,"priceSum":50})"}));
}

}  // namespace
}  // namespace reka::sql
