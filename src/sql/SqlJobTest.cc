// SQL scripts run as jobs: tables through the registry (files), projections, filters, views,
// conversions to the sink's types, and the messages a wrong script gets. Expected rows are
// worked out by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "reka/sql/Functions.h"
#include "reka/sql/Sql.h"
#include "testing/JobTesting.h"

namespace reka::sql {
namespace {

namespace fs = std::filesystem;

class SqlJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("reka-sql-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "orders.csv") << "1,alice,2.5,2026-12-06 08:00:00\n"
                                          "2,bob,12.25,2026-12-06 08:00:01\n"
                                          "3,,40,2026-12-06 08:00:02\n"
                                          "4,dave,-7.125,2026-12-06 08:00:03\n";  // DECIMAL(10, 2) rounds half up: -7.13
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string ordersTable() const {
    return "CREATE TABLE orders (id BIGINT, name STRING, price DECIMAL(10, 2), ts TIMESTAMP(3),\n"
           "  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)\n"
           "WITH ('connector' = 'filesystem', 'path' = '" + (dir_ / "orders.csv").string() + "', 'format' = 'csv');\n";
  }
  std::string outTable(const std::string& columns, const std::string& name = "out") const {
    return "CREATE TABLE " + name + " (" + columns + ") WITH ('connector' = 'filesystem', 'path' = '" + (dir_ / name).string() +
           "', 'format' = 'json');\n";
  }
  /// Runs the script at parallelism 1 and returns the sorted lines written under `out`.
  std::vector<std::string> run(const std::string& script, const std::string& out = "out") {
    auto compiled = SqlScript::compile(script);
    EXPECT_TRUE(compiled.isOk()) << compiled.status().toString();
    if (!compiled.isOk()) return {};
    ExecutionConfig config;
    config.parallelism = 1;
    StreamEnvironment env(config);
    Status added = compiled->addTo(env);
    EXPECT_TRUE(added.isOk()) << added.toString();
    Status ran = testing::runJob(env);
    EXPECT_TRUE(ran.isOk()) << ran.toString();
    return testing::linesUnder(dir_ / out);
  }
  std::string error(const std::string& script) {
    auto compiled = SqlScript::compile(script);
    return compiled.isOk() ? std::string("(compiled)") : compiled.status().message();
  }
  fs::path dir_;
};

TEST_F(SqlJobTest, ProjectsAndFilters) {
  const auto lines = run(ordersTable() + outTable("id BIGINT, who STRING, doubled DECIMAL(12, 2), size STRING") +
                         "INSERT INTO out SELECT id, UPPER(name), price * 2,\n"
                         "  CASE WHEN price >= 20 THEN 'large' WHEN price > 0 THEN 'small' ELSE 'refund' END\n"
                         "FROM orders WHERE id > 1;");
  // id 1 is filtered out; id 3 has an empty name, which CSV reads as the empty string.
  EXPECT_EQ(lines, (std::vector<std::string>{
                       R"({"id":2,"who":"BOB","doubled":24.50,"size":"small"})",
                       R"({"id":3,"who":"","doubled":80.00,"size":"large"})",
                       R"({"id":4,"who":"DAVE","doubled":-14.26,"size":"refund"})",
                   }));
}

TEST_F(SqlJobTest, SelectStarViewsAndConversions) {
  const auto lines = run(ordersTable() + outTable("id INT, price DOUBLE, ts TIMESTAMP(3)") +
                         "CREATE VIEW recent AS SELECT * FROM orders;\n"
                         "-- DECIMAL goes into a DOUBLE column, BIGINT into INT: converted like CAST.\n"
                         "INSERT INTO out SELECT id, price, ts + INTERVAL '1' MINUTE FROM recent WHERE price < 10;");
  EXPECT_EQ(lines, (std::vector<std::string>{
                       R"({"id":1,"price":2.5,"ts":"2026-12-06 08:01:00.000"})",
                       R"({"id":4,"price":-7.13,"ts":"2026-12-06 08:01:03.000"})",
                   }));
}

TEST_F(SqlJobTest, SeveralInsertsRunAsOneJob) {
  run(ordersTable() + outTable("id BIGINT", "a") + outTable("name STRING", "b") +
          "INSERT INTO a SELECT id FROM orders WHERE price > 10;\n"
          "INSERT INTO b SELECT name FROM orders WHERE id = 1;",
      "a");
  EXPECT_EQ(run(ordersTable() + outTable("id BIGINT", "a2") + "INSERT INTO a2 SELECT id FROM orders WHERE price > 10;", "a2"),
            (std::vector<std::string>{R"({"id":2})", R"({"id":3})"}));
}

TEST_F(SqlJobTest, ScriptMistakesSayWhereAndWhat) {
  const std::string t = ordersTable() + outTable("id BIGINT");
  EXPECT_NE(error(t + "INSERT INTO out SELECT idd FROM orders;").find("column 'idd' not found"), std::string::npos);
  EXPECT_NE(error(t + "INSERT INTO out SELECT idd FROM orders;").find("line 5"), std::string::npos);
  EXPECT_NE(error(t + "INSERT INTO out SELECT id FROM nowhere;").find("table 'nowhere'"), std::string::npos);
  EXPECT_NE(error(t + "INSERT INTO out SELECT id, name FROM orders;").find("the query gives 2 columns, the table has 1"),
            std::string::npos);
  EXPECT_NE(error(t + "INSERT INTO out SELECT id FROM orders WHERE price;").find("needs a BOOLEAN"), std::string::npos);
  EXPECT_NE(error(t + "INSERT INTO out SELECT id FROM orders GROUP BY name;").find("column 'id'"), std::string::npos);
  EXPECT_NE(error(t).find("no INSERT INTO"), std::string::npos);
  EXPECT_NE(error("CREATE TABLE x (a INT) WITH ('connector' = 'nope'); ").find("unknown connector 'nope'"), std::string::npos);
  EXPECT_NE(error("CREATE TABLE x (a INTT) WITH ('connector' = 'print');").find("unknown type 'INTT'"), std::string::npos);
  EXPECT_NE(error(t + "INSERT INTO out SELECT name FROM orders;").find("is BIGINT but the query gives STRING"), std::string::npos)
      << error(t + "INSERT INTO out SELECT name FROM orders;");
}

TEST_F(SqlJobTest, UserFunctionsRegisteredInCpp) {
  registerScalarFunction(rowFunction<int64_t, int64_t>("test.Twice", "2 × x", [](int64_t x) { return 2 * x; }));
  registerScalarFunction(rowFunction<std::string, std::string_view, int32_t>("test.Repeat", "s repeated n times", [](std::string_view v, int32_t n) {
    std::string out;
    for (int32_t i = 0; i < n; ++i) out += v;
    return out;
  }));
  const std::string t = ordersTable() + outTable("a BIGINT, b STRING") +
                        "CREATE FUNCTION twice AS 'test.Twice';\nCREATE TEMPORARY FUNCTION IF NOT EXISTS rep AS 'test.Repeat' LANGUAGE JAVA;\n";
  // The INT literal 2 is the function's INT; id 3's empty name (CSV) repeats as empty.
  EXPECT_EQ(run(t + "INSERT INTO out SELECT twice(id), rep(name, 2) FROM orders WHERE id < 4;"),
            (std::vector<std::string>{R"({"a":2,"b":"alicealice"})", R"({"a":4,"b":"bobbob"})", R"({"a":6,"b":""})"}));
  EXPECT_NE(error(ordersTable() + outTable("a BIGINT") + "CREATE FUNCTION f AS 'no.Such';\nINSERT INTO out SELECT id FROM orders;")
                .find("unknown function 'no.Such'; registered functions: "),
            std::string::npos);
  EXPECT_NE(error(t + "INSERT INTO out SELECT twice(id, id), name FROM orders;").find("TWICE takes 1 arguments, not 2"), std::string::npos);
}

/// A subexpression written more than once in a Calc (its WHERE and select list) is computed once
/// per row, as Calcite shares a program's common expressions; a function that says it is not
/// deterministic is computed at every call, and a shared expression in a CASE branch still sees
/// only the rows that reach the branch.
TEST_F(SqlJobTest, ASubexpressionWrittenTwiceIsComputedOncePerRow) {
  static std::atomic<int64_t> counted{0}, volatileCalls{0};
  counted = 0;
  volatileCalls = 0;
  registerScalarFunction(rowFunction<int64_t, int64_t>("test.Counted", "10 × x, counting its calls", [](int64_t x) {
    ++counted;
    return 10 * x;
  }));
  ScalarFunction notDeterministic = rowFunction<int64_t, int64_t>("test.Volatile", "10 × x, counting its calls", [](int64_t x) {
    ++volatileCalls;
    return 10 * x;
  });
  notDeterministic.deterministic = false;
  registerScalarFunction(notDeterministic);
  const std::string t = ordersTable() + outTable("a BIGINT, b BIGINT") + "CREATE FUNCTION counted AS 'test.Counted';\nCREATE FUNCTION vol AS 'test.Volatile';\n";
  const std::string shared = t + "INSERT INTO out SELECT counted(id), counted(id) + 1 FROM orders WHERE counted(id) > 10;";
  const std::vector<std::string> expected = {R"({"a":20,"b":21})", R"({"a":30,"b":31})", R"({"a":40,"b":41})"};
  EXPECT_EQ(run(shared), expected);
  EXPECT_EQ(counted.load(), 4);  // once per row of the 4, not 3 times
  auto compiled = SqlScript::compile(shared);
  ASSERT_TRUE(compiled.isOk());
  EXPECT_NE(compiled->explain().find("shared=1"), std::string::npos) << compiled->explain();

  fs::remove_all(dir_ / "out");
  EXPECT_EQ(run(t + "INSERT INTO out SELECT vol(id), vol(id) + 1 FROM orders WHERE vol(id) > 10;"), expected);
  EXPECT_GE(volatileCalls.load(), 4 + 3 + 3);  // every call on every row it sees

  // 10 / (id - 1) fails on id 1, which neither branch lets through.
  fs::remove_all(dir_ / "out");
  EXPECT_EQ(run(ordersTable() + outTable("id BIGINT, a INT, b INT") +
                "INSERT INTO out SELECT id, CASE WHEN id > 1 THEN CAST(10 / (id - 1) AS INT) ELSE -1 END,\n"
                "  CASE WHEN id > 1 THEN CAST(10 / (id - 1) AS INT) ELSE -2 END FROM orders;"),
            (std::vector<std::string>{R"({"id":1,"a":-1,"b":-2})", R"({"id":2,"a":10,"b":10})", R"({"id":3,"a":5,"b":5})",
                                      R"({"id":4,"a":3,"b":3})"}));
}

TEST_F(SqlJobTest, ExecuteSqlStartsTheJob) {
  StreamEnvironment env;
  auto client = executeSql(env, "SET 'parallelism.default' = '2';\n" + ordersTable() + outTable("id BIGINT") +
                                    "INSERT INTO out SELECT id FROM orders WHERE id > 2;");
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  ASSERT_TRUE((*client)->waitFor(std::chrono::seconds(60)));
  EXPECT_TRUE((*client)->wait().isOk());
  EXPECT_EQ(env.config().parallelism, 2);
  EXPECT_EQ(testing::linesUnder(dir_ / "out"), (std::vector<std::string>{R"({"id":3})", R"({"id":4})"}));
  StreamEnvironment other;
  EXPECT_FALSE(executeSql(other, "INSERT INTO nowhere SELECT 1 FROM nothing;").isOk());
}

TEST_F(SqlJobTest, ExplainShowsSinkCalcAndSource) {
  auto compiled = SqlScript::compile(ordersTable() + outTable("id BIGINT") + "INSERT INTO out SELECT id FROM orders WHERE price > 10;");
  ASSERT_TRUE(compiled.isOk()) << compiled.status().toString();
  const std::string plan = compiled->explain();
  EXPECT_NE(plan.find("Sink: out [connector=filesystem, format=json"), std::string::npos) << plan;
  EXPECT_NE(plan.find("Calc: select=[id] where=[(price > 10)]"), std::string::npos) << plan;
  EXPECT_NE(plan.find("Source: orders [connector=filesystem, format=csv"), std::string::npos) << plan;
  EXPECT_NE(plan.find("watermark=(ts - INTERVAL '5000' MILLISECOND)"), std::string::npos) << plan;
}

/// q5's shape: counts per user and window, joined with the largest count of each window. Both
/// sides count the same table through the same stages; with sub-plan reuse (Flink's default)
/// that is done once, and the results are the same either way.
TEST_F(SqlJobTest, ASubPlanReadTwiceIsComputedOnceUnlessReuseIsOff) {
  std::ofstream(dir_ / "clicks.csv") << "a,2026-12-06 08:00:00\nb,2026-12-06 08:00:01\na,2026-12-06 08:00:02\n"
                                        "a,2026-12-06 08:00:03\nb,2026-12-06 08:00:05\n";
  const std::string counts =
      "SELECT user_name, COUNT(*) AS num, window_start AS ws, window_end AS we "
      "FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '4' SECOND)) GROUP BY user_name, window_start, window_end";
  const std::string script =
      "CREATE TABLE clicks (user_name STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)\n"
      "WITH ('connector' = 'filesystem', 'path' = '" + (dir_ / "clicks.csv").string() + "', 'format' = 'csv');\n" +
      outTable("user_name STRING, num BIGINT") +
      "INSERT INTO out SELECT a.user_name, a.num FROM (" + counts + ") AS a JOIN (SELECT MAX(c.num) AS maxn, c.ws, c.we FROM (" + counts +
      ") AS c GROUP BY c.ws, c.we) AS m ON a.ws = m.ws AND a.we = m.we AND a.num >= m.maxn;";
  // [08:00:00, 08:00:04): a 3 times, b once; [08:00:04, 08:00:08): b once.
  const std::vector<std::string> want = {R"({"user_name":"a","num":3})", R"({"user_name":"b","num":1})"};
  auto aggregates = [](const std::string& plan) {
    size_t n = 0;
    for (size_t at = plan.find("(kind sql-aggregate"); at != std::string::npos; at = plan.find("(kind sql-aggregate", at + 1)) ++n;
    return n;
  };
  for (const bool reuse : {true, false}) {
    const std::string full = (reuse ? "" : "SET 'table.optimizer.reuse-sub-plan-enabled' = 'false';\n") + script;
    auto compiled = SqlScript::compile(full);
    ASSERT_TRUE(compiled.isOk()) << compiled.status().toString();
    const std::string plan = compiled->explain();
    // Counts per user and window, then the maximum per window: 2 aggregates shared, 3 not.
    EXPECT_EQ(aggregates(plan), reuse ? 2u : 3u) << plan;
    fs::remove_all(dir_ / "out");
    EXPECT_EQ(run(full), want) << (reuse ? "with" : "without") << " sub-plan reuse";
  }
}

}  // namespace
}  // namespace reka::sql
