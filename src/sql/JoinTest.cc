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

/// Orders and shipments with event times (epoch milliseconds), each file in time order.
class IntervalJoinTest : public testing::SqlFileTest {
 protected:
  void SetUp() override {
    SqlFileTest::SetUp();
    std::ofstream(dir_ / "orders.json") << R"({"id":1,"ots":1000})" "\n" R"({"id":2,"ots":2000})" "\n" R"({"id":3,"ots":3000})" "\n"
                                           R"({"id":1,"ots":50000})" "\n";
    std::ofstream(dir_ / "shipments.json") << R"({"oid":2,"sts":1500})" "\n" R"({"oid":1,"sts":5000})" "\n" R"({"oid":3,"sts":13000})" "\n"
                                              R"({"oid":1,"sts":55000})" "\n" R"({"oid":1,"sts":61000})" "\n";
  }
  std::string tables() const {
    return "CREATE TABLE orders (id BIGINT, ots TIMESTAMP(3), WATERMARK FOR ots AS ots - INTERVAL '1' SECOND) WITH ('connector' = 'filesystem', 'path' = '" +
           (dir_ / "orders.json").string() + "', 'format' = 'json');\n" +
           "CREATE TABLE shipments (oid BIGINT, sts TIMESTAMP(3), WATERMARK FOR sts AS sts - INTERVAL '1' SECOND) WITH ('connector' = 'filesystem', 'path' = '" +
           (dir_ / "shipments.json").string() + "', 'format' = 'json');\n";
  }
};

TEST_F(IntervalJoinTest, RowsJoinWithinTheTimeBounds) {
  // A shipment within 10 s after its order (bounds inclusive): order 1 at 1 s with the shipment
  // at 5 s, order 3 at 3 s with 13 s, the second order 1 at 50 s with 55 s. Shipment 2 at 1.5 s
  // is before its order; shipment 1 at 61 s is 11 s after the nearest order.
  const V want = {R"({"id":1,"ots":"1970-01-01 00:00:01.000","sts":"1970-01-01 00:00:05.000"})",
                  R"({"id":1,"ots":"1970-01-01 00:00:50.000","sts":"1970-01-01 00:00:55.000"})",
                  R"({"id":3,"ots":"1970-01-01 00:00:03.000","sts":"1970-01-01 00:00:13.000"})"};
  const std::string cols = "id BIGINT, ots TIMESTAMP(3), sts TIMESTAMP(3)";
  for (int p : {1, 2}) {
    EXPECT_EQ(run(tables() + out(cols) +
                      "INSERT INTO out SELECT o.id, o.ots, s.sts FROM orders o JOIN shipments s ON o.id = s.oid "
                      "AND s.sts BETWEEN o.ots AND o.ots + INTERVAL '10' SECOND;", p),
              want) << "BETWEEN in ON at parallelism " << p;
    // The same bounds written the other way round, in WHERE of a comma join.
    EXPECT_EQ(run(tables() + out(cols) +
                      "INSERT INTO out SELECT id, ots, sts FROM orders, shipments WHERE id = oid AND ots <= sts AND sts - INTERVAL '10' SECOND <= ots;", p),
              want) << "a comma join at parallelism " << p;
  }
  // Strict bounds leave out the rows on them (order 3 with 13 s is exactly 10 s apart).
  EXPECT_EQ(run(tables() + out(cols) +
                "INSERT INTO out SELECT o.id, o.ots, s.sts FROM orders o JOIN shipments s ON o.id = s.oid WHERE s.sts > o.ots AND s.sts < o.ots + INTERVAL '10' SECOND;"),
            (V{want[0], want[1]}));
  const std::string plan = explain(tables() + out(cols) +
                                   "INSERT INTO out SELECT o.id, o.ots, s.sts FROM orders o JOIN shipments s ON o.id = s.oid AND s.sts BETWEEN o.ots AND o.ots + INTERVAL '10' SECOND;");
  EXPECT_THAT(plan, HasSubstr("IntervalInnerJoin: on=[(o.id = s.oid)]"));
  EXPECT_THAT(plan, HasSubstr("(-10000 ms <= left - right <= 0 ms)"));
}

TEST_F(IntervalJoinTest, OuterRowsThatNeverMatchArePaddedWhenTheyExpire) {
  // An outer interval join is append-only: a row that found no match is given, padded with
  // nulls, once the watermark shows that none can come.
  const std::string cols = "id BIGINT, sts TIMESTAMP(3)";
  const std::string on = " ON o.id = s.oid AND s.sts BETWEEN o.ots AND o.ots + INTERVAL '10' SECOND;";
  for (int p : {1, 2}) {
    EXPECT_EQ(run(tables() + out(cols) + "INSERT INTO out SELECT o.id, s.sts FROM orders o LEFT JOIN shipments s" + on, p),
              (V{R"({"id":1,"sts":"1970-01-01 00:00:05.000"})", R"({"id":1,"sts":"1970-01-01 00:00:55.000"})", R"({"id":2,"sts":null})",
                 R"({"id":3,"sts":"1970-01-01 00:00:13.000"})"}))
        << "LEFT at parallelism " << p;
    EXPECT_EQ(run(tables() + out(cols) + "INSERT INTO out SELECT o.id, s.sts FROM orders o FULL JOIN shipments s" + on, p),
              (V{R"({"id":1,"sts":"1970-01-01 00:00:05.000"})", R"({"id":1,"sts":"1970-01-01 00:00:55.000"})", R"({"id":2,"sts":null})",
                 R"({"id":3,"sts":"1970-01-01 00:00:13.000"})", R"({"id":null,"sts":"1970-01-01 00:00:01.500"})",
                 R"({"id":null,"sts":"1970-01-01 00:01:01.000"})"}))
        << "FULL at parallelism " << p;
  }
  EXPECT_THAT(error(tables() + out(cols) + "INSERT INTO out SELECT o.id, s.sts FROM orders o JOIN shipments s ON o.id = s.oid "
                                           "AND s.sts BETWEEN o.ots AND o.ots - INTERVAL '1' SECOND;"),
              HasSubstr("admit no rows"));
}

TEST_F(JoinTest, LookupJoinsReadTheTableFirst) {
  const std::string orders = "(SELECT *, PROCTIME() AS pt FROM orders) o";
  const std::string asOf = " FOR SYSTEM_TIME AS OF o.pt AS c ON ";
  const std::string cols = "id BIGINT, name STRING";
  for (int p : {1, 2}) {
    EXPECT_EQ(run(tables() + out(cols) + "INSERT INTO out SELECT o.id, c.name FROM " + orders + " JOIN customers" + asOf + "o.customer = c.cid;", p),
              (V{R"({"id":1,"name":"ann"})", R"({"id":2,"name":"ann"})"})) << "parallelism " << p;
    // A left lookup join is append-only: orders 3 and 4 find no customer.
    EXPECT_EQ(run(tables() + out(cols) + "INSERT INTO out SELECT o.id, c.name FROM " + orders + " LEFT JOIN customers" + asOf + "o.customer = c.cid;", p),
              (V{R"({"id":1,"name":"ann"})", R"({"id":2,"name":"ann"})", R"({"id":3,"name":null})", R"({"id":4,"name":null})"}))
        << "parallelism " << p;
  }
  // The key may be an expression of the other side (an INT one is compared as the table's BIGINT).
  EXPECT_EQ(run(tables() + out(cols) + "INSERT INTO out SELECT o.id, c.name FROM " + orders + " JOIN customers" + asOf + "o.customer * 2 = c.cid;"),
            (V{R"({"id":1,"name":"bob"})", R"({"id":2,"name":"bob"})"}));
  EXPECT_EQ(run(tables() + out(cols) + "INSERT INTO out SELECT o.id, c.name FROM " + orders + " JOIN customers" + asOf + "c.cid = o.amount + 3;"),
            (V{R"({"id":2,"name":"ann"})"}));
  // A condition on the table filters it; one on both sides filters the joined rows.
  EXPECT_EQ(run(tables() + out(cols) + "INSERT INTO out SELECT o.id, c.name FROM " + orders + " JOIN customers" + asOf + "o.customer = c.cid AND c.name <> 'ann';"),
            V{});
  EXPECT_EQ(run(tables() + out(cols) + "INSERT INTO out SELECT o.id, c.name FROM " + orders + " JOIN customers" + asOf + "o.customer = c.cid AND o.amount > c.cid - 4;"),
            (V{R"({"id":2,"name":"ann"})"}));
  EXPECT_THAT(explain(tables() + out(cols) + "INSERT INTO out SELECT o.id, c.name FROM " + orders + " JOIN customers" + asOf + "o.customer = c.cid;"),
              HasSubstr("LookupJoin: table=customers on=[(o.customer = c.cid)] as of=o.pt"));
  EXPECT_THAT(error(tables() + out(cols) + "INSERT INTO out SELECT o.id, c.name FROM orders o JOIN customers FOR SYSTEM_TIME AS OF o.id AS c ON o.customer = c.cid;"),
              HasSubstr("joins a table as of a processing time"));
  EXPECT_THAT(error(tables() + out(cols) + "INSERT INTO out SELECT o.id, c.name FROM " + orders + " JOIN customers" + asOf + "o.customer > c.cid;"),
              HasSubstr("needs an equality between a column of 'customers' and an expression of the other side"));
  EXPECT_THAT(error(tables() + "CREATE TABLE live (cid BIGINT, name STRING) WITH ('connector' = 'filesystem', 'path' = '" + (dir_ / "customers.json").string() +
                    "', 'format' = 'json', 'source.monitor-interval' = '1s');\n" + out(cols) +
                    "INSERT INTO out SELECT o.id, c.name FROM " + orders + " JOIN live FOR SYSTEM_TIME AS OF o.pt AS c ON o.customer = c.cid;"),
              HasSubstr("must be a bounded 'filesystem' table"));
}

TEST_F(JoinTest, JoinsThatCannotRunSayWhy) {
  EXPECT_THAT(error(tables() + out("id BIGINT") + "INSERT INTO out SELECT id FROM orders JOIN customers ON amount > 1;"),
              HasSubstr("no equality between its sides"));
  EXPECT_THAT(error(tables() + out("id BIGINT") + "INSERT INTO out SELECT id FROM orders JOIN customers ON customer = name;"),
              HasSubstr("cannot compare BIGINT with STRING"));
  EXPECT_THAT(error(tables() + out("id BIGINT", "changelog-json") +
                    "INSERT INTO out SELECT id FROM orders LEFT JOIN customers ON customer = cid AND amount > 1;"),
              HasSubstr("in the ON of an outer join is not supported"));
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
