// MATCH_RECOGNIZE: Flink's documented ticker example, quantifiers, the four AFTER MATCH SKIP
// forms, WITHIN, measures, partitions at several parallelisms, and the errors. Expected rows are
// worked out by hand in the comments.
#include <gtest/gtest.h>

#include <fstream>

#include "sql/SqlTesting.h"

namespace reka::sql {
namespace {

using testing::Lines;

class MatchRecognizeTest : public testing::SqlFileTest {
 protected:
  /// Rows (symbol, second, price) as a JSON-lines table `ticker` with event time.
  std::string ticker(const std::vector<std::tuple<std::string, int, int>>& rows) {
    const auto path = dir_ / "ticker.json";
    std::ofstream f(path);
    for (const auto& [symbol, second, price] : rows)
      f << R"({"symbol":")" << symbol << R"(","rowtime":"2011-04-01 10:00:)" << (second < 10 ? "0" : "") << second << R"(","price":)" << price
        << "}\n";
    return "CREATE TABLE ticker (symbol STRING, rowtime TIMESTAMP(3), price BIGINT, WATERMARK FOR rowtime AS rowtime - INTERVAL '1' SECOND) "
           "WITH ('connector' = 'filesystem', 'path' = '" +
           path.string() + "', 'format' = 'json');\n";
  }
};

TEST_F(MatchRecognizeTest, FlinksTickerExample) {
  // Prices 12 17 19 21 25 18 15 14 24 25 19 at 10:00:00..10. A fall from 25 (04) through 18 15 14
  // (07), then a rise to 24 (08). Runs starting at 18 and 15 end on the same row, but AFTER MATCH
  // SKIP TO LAST PRICE_UP resumes at 08 and drops them; from 25 (09) the fall to 19 never rises.
  const std::string script =
      ticker({{"ACME", 0, 12}, {"ACME", 1, 17}, {"ACME", 2, 19}, {"ACME", 3, 21}, {"ACME", 4, 25}, {"ACME", 5, 18},
              {"ACME", 6, 15}, {"ACME", 7, 14}, {"ACME", 8, 24}, {"ACME", 9, 25}, {"ACME", 10, 19}}) +
      out("symbol STRING, start_tstamp TIMESTAMP(3), bottom_tstamp TIMESTAMP(3), end_tstamp TIMESTAMP(3)") +
      "INSERT INTO out SELECT * FROM ticker MATCH_RECOGNIZE (\n"
      "  PARTITION BY symbol\n"
      "  ORDER BY rowtime\n"
      "  MEASURES START_ROW.rowtime AS start_tstamp, LAST(PRICE_DOWN.rowtime) AS bottom_tstamp, LAST(PRICE_UP.rowtime) AS end_tstamp\n"
      "  ONE ROW PER MATCH\n"
      "  AFTER MATCH SKIP TO LAST PRICE_UP\n"
      "  PATTERN (START_ROW PRICE_DOWN+ PRICE_UP)\n"
      "  DEFINE\n"
      "    PRICE_DOWN AS (LAST(PRICE_DOWN.price, 1) IS NULL AND PRICE_DOWN.price < START_ROW.price) OR\n"
      "                  PRICE_DOWN.price < LAST(PRICE_DOWN.price, 1),\n"
      "    PRICE_UP AS PRICE_UP.price > LAST(PRICE_DOWN.price, 1)\n"
      ") MR;\n";
  EXPECT_EQ(run(script), (Lines{R"({"symbol":"ACME","start_tstamp":"2011-04-01 10:00:04.000","bottom_tstamp":"2011-04-01 10:00:07.000","end_tstamp":"2011-04-01 10:00:08.000"})"}));
}

/// A+ B over prices 1 2 3 10 (A: < 5, B: >= 5) under a skip strategy.
std::string aPlusB(const std::string& skip) {
  return "INSERT INTO out SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime\n"
         "  MEASURES FIRST(A.price) AS fa, LAST(A.price) AS la, B.price AS b, COUNT(A.price) AS n, SUM(A.price) AS s, AVG(A.price) AS avg_a\n"
         "  AFTER MATCH " + skip + "\n"
         "  PATTERN (A+ B) DEFINE A AS price < 5, B AS price >= 5) AS T;\n";
}

TEST_F(MatchRecognizeTest, TheFourSkipStrategies) {
  const std::string in = ticker({{"k", 1, 1}, {"k", 2, 2}, {"k", 3, 3}, {"k", 4, 10}}) +
                         out("symbol STRING, fa BIGINT, la BIGINT, b BIGINT, n BIGINT, s BIGINT, avg_a DOUBLE");
  const std::string all = R"({"symbol":"k","fa":1,"la":3,"b":10,"n":3,"s":6,"avg_a":2})";  // the json format writes 2.0 as 2
  const std::string from2 = R"({"symbol":"k","fa":2,"la":3,"b":10,"n":2,"s":5,"avg_a":2.5})";
  const std::string from3 = R"({"symbol":"k","fa":3,"la":3,"b":10,"n":1,"s":3,"avg_a":3})";
  // Past the last row: the runs from 2 and 3, which end on the same row, are dropped.
  EXPECT_EQ(run(in + aPlusB("SKIP PAST LAST ROW")), (Lines{all}));
  // To the next row: every start gives its match.
  EXPECT_EQ(run(in + aPlusB("SKIP TO NEXT ROW")), (Lines{all, from2, from3}));
  // To the last A (row 3): the run that starts there is kept.
  EXPECT_EQ(run(in + aPlusB("SKIP TO LAST A")), (Lines{all, from3}));
  EXPECT_EQ(run(in + aPlusB("SKIP TO A")), (Lines{all, from3}));
  // To the first B (row 4): every run before it is dropped.
  const std::string toB = "INSERT INTO out SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime\n"
                          "  MEASURES FIRST(A.price) AS fa, LAST(A.price) AS la, B.price AS b, COUNT(A.price) AS n, SUM(A.price) AS s, "
                          "AVG(A.price) AS avg_a\n"
                          "  AFTER MATCH SKIP TO FIRST B PATTERN (A+ B C?) DEFINE A AS price < 5, B AS price >= 5, C AS price > 100) AS T;\n";
  EXPECT_EQ(run(in + toB), (Lines{all}));
}

TEST_F(MatchRecognizeTest, QuantifiersAndWithin) {
  // Prices 1 2 3 10 20 1 10 at seconds 1..7.
  const std::string in = ticker({{"k", 1, 1}, {"k", 2, 2}, {"k", 3, 3}, {"k", 4, 10}, {"k", 5, 20}, {"k", 6, 1}, {"k", 7, 10}}) +
                         out("symbol STRING, fa BIGINT, b BIGINT");
  auto q = [](const std::string& pattern, const std::string& within = "") {
    return "INSERT INTO out SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime\n"
           "  MEASURES FIRST(A.price) AS fa, FIRST(B.price) AS b AFTER MATCH SKIP TO NEXT ROW PATTERN (" + pattern + ") " + within +
           " DEFINE A AS price < 5, B AS price >= 5) T;\n";
  };
  // Exactly two As then a B: 2 3 10.
  EXPECT_EQ(run(in + q("A{2} B")), (Lines{R"({"symbol":"k","fa":2,"b":10})"}));
  // Two or more: 1 2 3 10 and 2 3 10.
  EXPECT_EQ(run(in + q("A{2,} B")), (Lines{R"({"symbol":"k","fa":1,"b":10})", R"({"symbol":"k","fa":2,"b":10})"}));
  // One to two As: 2 3 10, 3 10, 1 10.
  EXPECT_EQ(run(in + q("A{1,2} B")),
            (Lines{R"({"symbol":"k","fa":1,"b":10})", R"({"symbol":"k","fa":2,"b":10})", R"({"symbol":"k","fa":3,"b":10})"}));
  // An optional A then B: each B with the A before it, and each B alone (the second B, 20, has
  // no A before it; 10 at 4 and at 7 have one).
  EXPECT_EQ(run(in + q("A? B")), (Lines{R"({"symbol":"k","fa":1,"b":10})", R"({"symbol":"k","fa":3,"b":10})",
                                        R"({"symbol":"k","fa":null,"b":10})", R"({"symbol":"k","fa":null,"b":10})",
                                        R"({"symbol":"k","fa":null,"b":20})"}));
  // A B within 1.5 s: 3 10 (one second apart) and 1 10 (seconds 6 and 7); 2 3 10 is too long
  // for A{2} B.
  EXPECT_EQ(run(in + q("A B", "WITHIN INTERVAL '1.5' SECOND")), (Lines{R"({"symbol":"k","fa":1,"b":10})", R"({"symbol":"k","fa":3,"b":10})"}));
  EXPECT_EQ(run(in + q("A{2} B", "WITHIN INTERVAL '1.5' SECOND")), Lines{});
  // A reluctant loop at the end stops at its first row: 1 2 3 then B? there is no B after A+?:
  // B must follow, so A+? B gives the same as A+ B with skip to next.
  EXPECT_EQ(run(in + q("A+? B")),
            (Lines{R"({"symbol":"k","fa":1,"b":10})", R"({"symbol":"k","fa":1,"b":10})", R"({"symbol":"k","fa":2,"b":10})",
                   R"({"symbol":"k","fa":3,"b":10})"}));
}

TEST_F(MatchRecognizeTest, PartitionsAreMatchedAloneAtEveryParallelism) {
  // Two symbols interleaved: x falls 5 4 then rises 9; y rises only.
  const std::string script = ticker({{"x", 1, 5}, {"y", 1, 1}, {"x", 2, 4}, {"y", 2, 2}, {"x", 3, 9}, {"y", 3, 3}}) +
                             out("symbol STRING, top BIGINT, bottom BIGINT, up BIGINT") +
                             "INSERT INTO out SELECT symbol, top, bottom, up FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime\n"
                             "  MEASURES S.price AS top, LAST(D.price) AS bottom, U.price AS up\n"
                             "  PATTERN (S D+ U) DEFINE D AS D.price < S.price, U AS U.price > LAST(D.price)) AS T WHERE up > 5;\n";
  const Lines want = {R"({"symbol":"x","top":5,"bottom":4,"up":9})"};
  EXPECT_EQ(run(script, 1), want);
  EXPECT_EQ(run(script, 2), want);
}

TEST_F(MatchRecognizeTest, MistakesSayWhatIsWrongAndWhatIsAccepted) {
  const std::string in = ticker({{"k", 1, 1}}) + out("symbol STRING, a BIGINT");
  auto q = [&](const std::string& body) { return in + "INSERT INTO out SELECT * FROM ticker MATCH_RECOGNIZE (" + body + ") T;\n"; };
  EXPECT_NE(error(q("PARTITION BY symbol ORDER BY price MEASURES A.price AS a PATTERN (A B) DEFINE A AS price > 1")).find("ORDER BY one time attribute"),
            std::string::npos);
  EXPECT_NE(error(q("PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a PATTERN (A B+) DEFINE A AS price > 1"))
                .find("a greedy quantifier cannot end the pattern"),
            std::string::npos);
  EXPECT_NE(error(q("PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a PATTERN (A B) DEFINE C AS price > 1")).find("DEFINE C: not a variable"),
            std::string::npos);
  EXPECT_NE(error(q("PARTITION BY symbol ORDER BY rowtime MEASURES Z.price AS a PATTERN (A B) DEFINE A AS price > 1")).find("'Z' is not a step"),
            std::string::npos);
  EXPECT_NE(error(q("PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a ALL ROWS PER MATCH PATTERN (A) DEFINE A AS price > 1"))
                .find("ALL ROWS PER MATCH"),
            std::string::npos);
  EXPECT_NE(error(q("PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a PATTERN (A | B) DEFINE A AS price > 1")).find("alternatives"),
            std::string::npos);
  EXPECT_NE(error(q("PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a PATTERN (A?? B) DEFINE A AS price > 1")).find("reluctant optional"),
            std::string::npos);
  EXPECT_NE(error(q("PARTITION BY symbol ORDER BY rowtime MEASURES A.nope AS a PATTERN (A) DEFINE A AS price > 1")).find("'nope'"),
            std::string::npos);
}

/// MATCH_ROWTIME() and CLASSIFIER(): the time and the variable of each match's last row; the
/// MATCH_ROWTIME() column is the output's event-time attribute, so a window can follow.
TEST_F(MatchRecognizeTest, MatchRowtimeAndClassifierAndAWindowOverTheMatches) {
  // A (price < 5) then B (>= 5): matches end at seconds 2, 4, 7 and 13.
  const std::string in = ticker({{"k", 1, 1}, {"k", 2, 10}, {"k", 3, 1}, {"k", 4, 10}, {"k", 6, 1}, {"k", 7, 10}, {"k", 12, 1}, {"k", 13, 10}});
  const std::string match = "SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime\n"
                            "  MEASURES MATCH_ROWTIME() AS mt, CLASSIFIER() AS cls, A.price AS a\n"
                            "  PATTERN (A B) DEFINE A AS price < 5, B AS price >= 5) T";
  EXPECT_EQ(run(in + out("symbol STRING, mt TIMESTAMP(3), cls STRING, a BIGINT") + "INSERT INTO out " + match + ";\n"),
            (Lines{R"({"symbol":"k","mt":"2011-04-01 10:00:02.000","cls":"B","a":1})", R"({"symbol":"k","mt":"2011-04-01 10:00:04.000","cls":"B","a":1})",
                   R"({"symbol":"k","mt":"2011-04-01 10:00:07.000","cls":"B","a":1})", R"({"symbol":"k","mt":"2011-04-01 10:00:13.000","cls":"B","a":1})"}));
  // 5-second windows over mt: two matches in [0, 5), one in [5, 10), one in [10, 15).
  const std::string windows = in + out("window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT") + "CREATE VIEW m AS " + match +
                              ";\n"
                              "INSERT INTO out SELECT window_start, window_end, COUNT(*) AS n\n"
                              "  FROM TABLE(TUMBLE(TABLE m, DESCRIPTOR(mt), INTERVAL '5' SECOND)) GROUP BY window_start, window_end;\n";
  const Lines want = {R"({"window_start":"2011-04-01 10:00:00.000","window_end":"2011-04-01 10:00:05.000","n":2})",
                      R"({"window_start":"2011-04-01 10:00:05.000","window_end":"2011-04-01 10:00:10.000","n":1})",
                      R"({"window_start":"2011-04-01 10:00:10.000","window_end":"2011-04-01 10:00:15.000","n":1})"};
  EXPECT_EQ(run(windows, 1), want);
  EXPECT_EQ(run(windows, 2), want);
  // In a condition they are refused: they read the completed match.
  EXPECT_NE(error(in + out("symbol STRING, a BIGINT") +
                  "INSERT INTO out SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a "
                  "PATTERN (A) DEFINE A AS CLASSIFIER() = 'A') T;\n")
                .find("CLASSIFIER() reads the completed match"),
            std::string::npos);
}

TEST_F(MatchRecognizeTest, ExplainShowsThePattern) {
  const std::string script = ticker({{"k", 1, 1}}) + out("symbol STRING, a BIGINT") +
                             "INSERT INTO out SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a "
                             "PATTERN (A B) DEFINE A AS price > 1) T;\n";
  const std::string plan = explain(script);
  EXPECT_NE(plan.find("MatchRecognize: pattern=[A B]"), std::string::npos) << plan;
}

}  // namespace
}  // namespace reka::sql
