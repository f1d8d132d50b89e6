// The datagen connector through SQL: a bounded table of a sequence and random columns, each row
// once at any parallelism, values within their bounds, the same rows on every run, and the
// messages of options it does not take.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "sql/SqlTesting.h"

namespace reka::sql {
namespace {

using ::testing::HasSubstr;
using V = std::vector<std::string>;

class DatagenTest : public testing::SqlFileTest {
 protected:
  static std::string table(const std::string& extra = "") {
    return "CREATE TABLE g (id BIGINT, v INT, d DOUBLE, s STRING, b BOOLEAN, t TIMESTAMP(3)) WITH ('connector' = 'datagen', "
           "'rows-per-second' = '1000000', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '500', "
           "'fields.v.min' = '5', 'fields.v.max' = '9', 'fields.d.min' = '0.5', 'fields.d.max' = '1.5', 'fields.s.length' = '4'" + extra +
           ");\n";
  }
};

TEST_F(DatagenTest, ASequenceBoundsTheTableAndRandomValuesStayInTheirBounds) {
  const std::string query = "INSERT INTO out SELECT id, v, d >= 0.5 AND d <= 1.5, CHAR_LENGTH(s), b IS NOT NULL, t IS NOT NULL FROM g;";
  const std::string cols = "id BIGINT, v INT, din BOOLEAN, len INT, hasB BOOLEAN, hasT BOOLEAN";
  const V first = run(table() + out(cols) + query, 1);
  ASSERT_EQ(first.size(), 500u);
  std::set<int64_t> ids;
  std::set<int> values;
  for (const auto& line : first) {
    int64_t id = 0;
    int v = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), R"({"id":%ld,"v":%d,)", &id, &v), 2) << line;
    ids.insert(id);
    values.insert(v);
    EXPECT_THAT(line, HasSubstr(R"("din":true,"len":4,"hasB":true,"hasT":true)"));
  }
  EXPECT_EQ(ids.size(), 500u);
  EXPECT_EQ(*ids.begin(), 1);
  EXPECT_EQ(*ids.rbegin(), 500);
  EXPECT_EQ(values, (std::set<int>{5, 6, 7, 8, 9}));  // 500 draws from 5 values: each is seen
  // The same rows at another parallelism and on another run (random values are seeded per row).
  EXPECT_EQ(run(table() + out(cols) + query, 3), first);
  EXPECT_EQ(run(table() + out("id BIGINT, s STRING") + "INSERT INTO out SELECT id, s FROM g;", 1),
            run(table() + out("id BIGINT, s STRING") + "INSERT INTO out SELECT id, s FROM g;", 2));
}

TEST_F(DatagenTest, NumberOfRowsAndNullRate) {
  const V lines = run(table(", 'number-of-rows' = '40', 'fields.v.null-rate' = '1.0'") + out("id BIGINT, v INT") + "INSERT INTO out SELECT id, v FROM g;", 2);
  ASSERT_EQ(lines.size(), 40u);
  for (const auto& l : lines) EXPECT_THAT(l, HasSubstr(R"("v":null)"));
}

TEST_F(DatagenTest, FewerRowsThanSplitsEndTheTable) {
  // 3 rows over 16 lanes: the lanes without a row end too, so the bounded job ends.
  EXPECT_EQ(run(table(", 'number-of-rows' = '3'") + out("id BIGINT") + "INSERT INTO out SELECT id FROM g;", 2),
            (V{R"({"id":1})", R"({"id":2})", R"({"id":3})"}));
  EXPECT_EQ(run(table(", 'number-of-rows' = '0'") + out("id BIGINT") + "INSERT INTO out SELECT id FROM g;"), V{});
}

TEST_F(DatagenTest, OptionsItDoesNotTakeSayWhatItTakes) {
  const std::string q = out("id BIGINT") + "INSERT INTO out SELECT id FROM g;";
  EXPECT_THAT(buildError(table(", 'fields.nope.kind' = 'random'") + q), HasSubstr("the table has no column 'nope'"));
  EXPECT_THAT(buildError(table(", 'fields.v.colour' = 'red'") + q), HasSubstr("accepted per column: kind, min, max"));
  EXPECT_THAT(buildError(table(", 'fields.v.kind' = 'sequence'") + q), HasSubstr("needs options 'fields.v.start' and 'fields.v.end'"));
  EXPECT_THAT(buildError(table(", 'fields.b.kind' = 'sequence', 'fields.b.start' = '1', 'fields.b.end' = '2'") + q), HasSubstr("cannot be a sequence"));
  EXPECT_THAT(buildError(table(", 'fields.v.kind' = 'often'") + q), HasSubstr("often"));
  EXPECT_THAT(buildError(table(", 'rows-per-second' = 'fast'") + q), HasSubstr("'rows-per-second' = 'fast' is not a number"));
}

TEST_F(DatagenTest, MetadataColumnsAreDeclaredAndChecked) {
  // Kafka has the metadata; the plan shows the columns it fills (no broker is reached to plan).
  const std::string kafka =
      "CREATE TABLE k (id BIGINT, p INT METADATA FROM 'partition', `offset` BIGINT METADATA VIRTUAL, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp') "
      "WITH ('connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = '127.0.0.1:9', 'format' = 'json');\n";
  const std::string plan = explain(kafka + out("id BIGINT, p INT, o BIGINT") + "INSERT INTO out SELECT id, p, `offset` FROM k;");
  EXPECT_THAT(plan, HasSubstr("metadata.offset=offset"));
  EXPECT_THAT(plan, HasSubstr("metadata.p=partition"));
  EXPECT_THAT(error(kafka + "INSERT INTO k SELECT id, 1, 2, ts FROM k;"), HasSubstr("writing a table with metadata columns is not supported"));
  // datagen has no metadata.
  EXPECT_THAT(buildError("CREATE TABLE g (id BIGINT, p INT METADATA FROM 'partition') WITH ('connector' = 'datagen', 'number-of-rows' = '1');\n" +
                         out("id BIGINT") + "INSERT INTO out SELECT id FROM g;"),
              HasSubstr("connector 'datagen' has no metadata 'partition'; it has none"));
}

}  // namespace
}  // namespace reka::sql
