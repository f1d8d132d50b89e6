// Joins run as jobs on files: inner joins of append-only inputs, the changelog of outer joins
// in order (a row padded with nulls retracted when its first match arrives), duplicates,
// NULL keys, a join over a changelog, and the messages of joins that cannot run. Expected rows
// are worked out by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sql/SqlTesting.h"

namespace reka::sql {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using V = std::vector<std::string>;

class JoinTest : public testing::SqlFileTest {
 protected:
  void SetUp() override {
    SqlFileTest::SetUp();
    // Orders 1 and 2 of customer 10, order 3 of customer 30 (no such customer), order 4 with none.
    std::ofstream(dir_ / "orders.json") << R"({"id":1,"customer":10,"amount":5})" "\n"
                                           R"({"id":2,"customer":10,"amount":7})" "\n"
                                           R"({"id":3,"customer":30,"amount":9})" "\n"
                                           R"({"id":4,"customer":null,"amount":1})" "\n";
    std::ofstream(dir_ / "customers.json") << R"({"cid":10,"name":"ann"})" "\n"
                                              R"({"cid":20,"name":"bob"})" "\n";
  }

  std::string tables() const {
    return "CREATE TABLE orders (id BIGINT, customer BIGINT, amount INT) WITH ('connector' = 'filesystem', 'path' = '" +
           (dir_ / "orders.json").string() + "', 'format' = 'json');\n" +
           "CREATE TABLE customers (cid BIGINT, name STRING) WITH ('connector' = 'filesystem', 'path' = '" +
           (dir_ / "customers.json").string() + "', 'format' = 'json');\n";
  }
};

TEST_F(JoinTest, InnerJoinsOfAppendOnlyInputs) {
  const V want = {R"({"id":1,"name":"ann","amount":5})", R"({"id":2,"name":"ann","amount":7})"};
  for (int p : {1, 2}) {
    EXPECT_EQ(run(tables() + out("id BIGINT, name STRING, amount INT") +
                      "INSERT INTO out SELECT o.id, c.name, o.amount FROM orders o JOIN customers c ON o.customer = c.cid;", p),
              want) << "JOIN … ON at parallelism " << p;
    EXPECT_EQ(run(tables() + out("id BIGINT, name STRING, amount INT") +
                      "INSERT INTO out SELECT id, name, amount FROM orders, customers WHERE customer = cid AND amount > 0;", p),
              want) << "a comma join at parallelism " << p;
  }
  // A condition on one side filters it before the join; one on both filters the joined rows.
  EXPECT_EQ(run(tables() + out("id BIGINT") +
                "INSERT INTO out SELECT o.id FROM orders o INNER JOIN customers c ON o.customer = c.cid AND o.amount > 5 AND o.amount < c.cid;"),
            (V{R"({"id":2})"}));
}

TEST_F(JoinTest, OuterJoinsPadWithNullsAndRetractWhenAMatchComes) {
  // Orders 3 (customer 30) and 4 (no customer) never match; customer 20 has no order.
  const std::string cols = "id BIGINT, name STRING";
  const std::string left = tables() + out(cols, "changelog-json") + "INSERT INTO out SELECT o.id, c.name FROM orders o LEFT JOIN customers c ON o.customer = c.cid;";
  const std::string right = tables() + out(cols, "changelog-json") + "INSERT INTO out SELECT o.id, c.name FROM orders o RIGHT JOIN customers c ON o.customer = c.cid;";
  const std::string full = tables() + out(cols, "changelog-json") + "INSERT INTO out SELECT o.id, c.name FROM orders o FULL OUTER JOIN customers c ON o.customer = c.cid;";
  for (int p : {1, 2}) {
    EXPECT_EQ(applied(run(left, p)), (V{R"({"id":1,"name":"ann"})", R"({"id":2,"name":"ann"})", R"({"id":3,"name":null})", R"({"id":4,"name":null})"}))
        << "LEFT JOIN at parallelism " << p;
    EXPECT_EQ(applied(run(right, p)), (V{R"({"id":1,"name":"ann"})", R"({"id":2,"name":"ann"})", R"({"id":null,"name":"bob"})"}))
        << "RIGHT JOIN at parallelism " << p;
    EXPECT_EQ(applied(run(full, p)), (V{R"({"id":1,"name":"ann"})", R"({"id":2,"name":"ann"})", R"({"id":3,"name":null})",
                                       R"({"id":4,"name":null})", R"({"id":null,"name":"bob"})"}))
        << "FULL JOIN at parallelism " << p;
  }
  // An outer join's result updates: an append-only table is refused.
  EXPECT_THAT(error(tables() + out(cols) + "INSERT INTO out SELECT o.id, c.name FROM orders o LEFT JOIN customers c ON o.customer = c.cid;"),
              HasSubstr("the query's result is updating"));
}

TEST_F(JoinTest, OrderOfALeftJoinsChangelog) {
  // Customers first, then orders: a left join of customers to orders, at parallelism 1, reads
  // the customers file and the orders file in some interleaving; whatever it is, every padded
  // row of ann (cid 10) is retracted once her first order arrives, and bob's stays.
  const V lines = run(tables() + out("cid BIGINT, id BIGINT", "changelog-json") +
                      "INSERT INTO out SELECT c.cid, o.id FROM customers c LEFT JOIN orders o ON c.cid = o.customer;");
  EXPECT_EQ(applied(lines), (V{R"({"cid":10,"id":1})", R"({"cid":10,"id":2})", R"({"cid":20,"id":null})"}));
  const auto padded = std::count(lines.begin(), lines.end(), R"({"cid":10,"id":null,"op":"+I"})");
  EXPECT_EQ(std::count(lines.begin(), lines.end(), R"({"cid":10,"id":null,"op":"-D"})"), padded);
}

TEST_F(JoinTest, AJoinOverAChangelogRetractsJoinedRows) {
  // Customer 10 renamed ann → amy, customer 20 deleted.
  std::ofstream(dir_ / "changes.json") << R"({"before":null,"after":{"cid":10,"name":"ann"},"op":"c"})" "\n"
                                          R"({"before":null,"after":{"cid":20,"name":"bob"},"op":"c"})" "\n"
                                          R"({"before":{"cid":10,"name":"ann"},"after":{"cid":10,"name":"amy"},"op":"u"})" "\n"
                                          R"({"before":{"cid":20,"name":"bob"},"after":null,"op":"d"})" "\n";
  const std::string script = tables() + "CREATE TABLE changes (cid BIGINT, name STRING) WITH ('connector' = 'filesystem', 'path' = '" +
                             (dir_ / "changes.json").string() + "', 'format' = 'debezium-json');\n" + out("id BIGINT, name STRING", "changelog-json") +
                             "INSERT INTO out SELECT o.id, c.name FROM orders o JOIN changes c ON o.customer = c.cid;";
  for (int p : {1, 2}) EXPECT_EQ(applied(run(script, p)), (V{R"({"id":1,"name":"amy"})", R"({"id":2,"name":"amy"})"})) << "parallelism " << p;
}

TEST_F(JoinTest, DuplicateRowsJoinOncePerCopy) {
  std::ofstream(dir_ / "orders.json") << R"({"id":1,"customer":10,"amount":5})" "\n" R"({"id":1,"customer":10,"amount":5})" "\n";
  std::ofstream(dir_ / "customers.json") << R"({"cid":10,"name":"ann"})" "\n" R"({"cid":10,"name":"ann"})" "\n";
  EXPECT_EQ(run(tables() + out("id BIGINT, name STRING") + "INSERT INTO out SELECT id, name FROM orders JOIN customers ON customer = cid;"),
            (V(4, R"({"id":1,"name":"ann"})")));
}

TEST_F(JoinTest, UnionAll) {
  EXPECT_EQ(run(tables() + out("id BIGINT, n INT") +
                "INSERT INTO out SELECT id, amount FROM orders WHERE id < 3 UNION ALL SELECT cid, 0 FROM customers UNION ALL SELECT 7, 7 FROM customers WHERE cid = 20;", 2),
            (V{R"({"id":1,"n":5})", R"({"id":10,"n":0})", R"({"id":2,"n":7})", R"({"id":20,"n":0})", R"({"id":7,"n":7})"}));
  EXPECT_EQ(run(tables() + out("name STRING, n BIGINT", "changelog-json") +
                "INSERT INTO out SELECT k, COUNT(*) FROM (SELECT name AS k FROM customers UNION ALL SELECT name FROM customers) GROUP BY k;"),
            (V{R"({"name":"ann","n":1,"op":"+I"})", R"({"name":"ann","n":1,"op":"-U"})", R"({"name":"ann","n":2,"op":"+U"})",
               R"({"name":"bob","n":1,"op":"+I"})", R"({"name":"bob","n":1,"op":"-U"})", R"({"name":"bob","n":2,"op":"+U"})"}));
  EXPECT_THAT(error(tables() + out("id BIGINT") + "INSERT INTO out SELECT id FROM orders UNION ALL SELECT cid, name FROM customers;"),
              HasSubstr("the query gives 2 columns, the first gives 1"));
  EXPECT_THAT(error(tables() + out("id BIGINT") + "INSERT INTO out SELECT id FROM orders UNION ALL SELECT name FROM customers;"),
              HasSubstr("column 1 is STRING here and BIGINT in the first query"));
  EXPECT_THAT(error(tables() + out("id BIGINT") + "INSERT INTO out SELECT id FROM orders UNION SELECT cid FROM customers;"),
              HasSubstr("write UNION ALL"));
}

TEST_F(JoinTest, JoinsThatCannotRunSayWhy) {
  EXPECT_THAT(error(tables() + out("id BIGINT") + "INSERT INTO out SELECT id FROM orders JOIN customers ON amount > 1;"),
              HasSubstr("no equality between its sides"));
  EXPECT_THAT(error(tables() + out("id BIGINT") + "INSERT INTO out SELECT id FROM orders JOIN customers ON customer = name;"),
              HasSubstr("cannot compare BIGINT with STRING"));
  EXPECT_THAT(error(tables() + out("id BIGINT", "changelog-json") +
                    "INSERT INTO out SELECT id FROM orders LEFT JOIN customers ON customer = cid AND amount > 1;"),
              HasSubstr("in the ON of an outer join is not supported yet"));
  EXPECT_THAT(error(tables() + out("id BIGINT") + "INSERT INTO out SELECT id FROM orders o JOIN customers c ON o.customer = c.cid AND x.id = 1;"),
              HasSubstr("unknown table or alias 'x'"));
  // Both tables have no column 'cid2'; a column both have must be qualified.
  EXPECT_THAT(error(tables() + out("id BIGINT") + "INSERT INTO out SELECT cid2 FROM orders JOIN customers ON customer = cid;"),
              HasSubstr("column 'cid2' not found in orders, customers"));
  EXPECT_THAT(error(tables() + "CREATE TABLE o2 (id BIGINT, cid BIGINT) WITH ('connector' = 'blackhole');\n" + out("id BIGINT") +
                    "INSERT INTO out SELECT o.cid FROM customers c JOIN customers o ON c.cid = o.cid JOIN orders x ON cid = x.customer;"),
              HasSubstr("ambiguous"));
}

}  // namespace
}  // namespace reka::sql
