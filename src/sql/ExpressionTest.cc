#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/data/Row.h"
#include "sql/Ast.h"
#include "sql/Expression.h"

namespace reka::sql {
namespace {

using ::testing::HasSubstr;
using V = std::vector<std::string>;

std::shared_ptr<const Schema> parseSchema(std::string_view text) {
  Result<Schema> r = Schema::parse(text);
  EXPECT_TRUE(r.isOk()) << text << ": " << r.status().message();
  return std::make_shared<const Schema>(r.isOk() ? *r : Schema());
}

// Row 0: every field set; row 1: negative numbers and b null; row 2: only b set.
RowBatch makeSample() {
  RowBatch b(parseSchema("a INT, b BIGINT, d DECIMAL(10, 2), x DOUBLE, s STRING, t TIMESTAMP(3)"));
  size_t r = b.appendRow();
  RowBatch::setInt(b.columns[0], r, 7);
  RowBatch::setInt(b.columns[1], r, 10);
  RowBatch::setDecimal(b.columns[2], r, 250);  // 2.50
  RowBatch::setDouble(b.columns[3], r, 1.25);
  b.setString(b.columns[4], r, "x");
  RowBatch::setInt(b.columns[5], r, 1796544000000);  // 2026-12-06 08:00:00.000 (20793 days + 8 h)
  r = b.appendRow();
  RowBatch::setInt(b.columns[0], r, -7);
  RowBatch::setNull(b.columns[1], r);
  RowBatch::setDecimal(b.columns[2], r, -250);  // -2.50
  RowBatch::setDouble(b.columns[3], r, -0.25);
  b.setString(b.columns[4], r, "abc");
  RowBatch::setInt(b.columns[5], r, 1748781000500);  // 2025-06-01 12:30:00.500
  r = b.appendRow();
  RowBatch::setInt(b.columns[1], r, 3);
  return b;
}

const RowBatch& sample() {
  static const RowBatch b = makeSample();
  return b;
}

Result<BoundPtr> bindText(const std::string& text, const Schema& schema) {
  Result<ExprPtr> e = parseExpression(text);
  if (!e.isOk()) return e.status();
  return bind(**e, Scope{&schema, "t1", "o", nullptr, {}});
}

std::vector<std::string> eval(const std::string& text, const RowBatch& batch) {
  Result<BoundPtr> bound = bindText(text, batch.schema());
  EXPECT_TRUE(bound.isOk()) << text << ": " << bound.status().message();
  if (!bound.isOk()) return {"<bind error>"};
  Column col;
  StringArena arena;
  Status st = (*bound)->evaluate(batch, col, arena);
  EXPECT_TRUE(st.isOk()) << text << ": " << st.message();
  if (!st.isOk()) return {"<evaluation error>"};
  std::vector<std::string> out;
  for (size_t i = 0; i < batch.size(); ++i) {
    std::string v;
    appendValueText(col, (*bound)->type, i, v);
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<std::string> eval(const std::string& text) { return eval(text, sample()); }

std::string typeOf(const std::string& text) {
  Result<BoundPtr> bound = bindText(text, sample().schema());
  EXPECT_TRUE(bound.isOk()) << text << ": " << bound.status().message();
  return bound.isOk() ? (*bound)->type.toString() : "<bind error>";
}

/// The message of a parse or bind failure ("" when both succeed).
std::string bindError(const std::string& text) {
  Result<BoundPtr> bound = bindText(text, sample().schema());
  EXPECT_FALSE(bound.isOk()) << text << " was expected to fail";
  return bound.isOk() ? "" : bound.status().message();
}

/// The message of an evaluation failure (binding must succeed).
std::string evalError(const std::string& text) {
  Result<BoundPtr> bound = bindText(text, sample().schema());
  EXPECT_TRUE(bound.isOk()) << text << ": " << bound.status().message();
  if (!bound.isOk()) return "<bind error>";
  Column col;
  StringArena arena;
  Status st = (*bound)->evaluate(sample(), col, arena);
  EXPECT_FALSE(st.isOk()) << text << " was expected to fail";
  return st.message();
}

std::string scriptError(const std::string& script) {
  Result<std::vector<Statement>> r = parseScript(script);
  EXPECT_FALSE(r.isOk()) << script << " was expected to fail";
  return r.isOk() ? "" : r.status().message();
}

// ---- Arithmetic -----------------------------------------------------------------------------

TEST(ExpressionTest, IntegerArithmetic) {
  EXPECT_EQ(eval("a + b"), (V{"17", "null", "null"}));
  EXPECT_EQ(typeOf("a + b"), "BIGINT");
  EXPECT_EQ(eval("a / 2"), (V{"3", "-3", "null"}));  // truncates toward zero
  EXPECT_EQ(typeOf("a / 2"), "INT");
  EXPECT_EQ(eval("a % 3"), (V{"1", "-1", "null"}));
  EXPECT_EQ(eval("-a"), (V{"-7", "7", "null"}));
  EXPECT_EQ(eval("`a` * 2"), (V{"14", "-14", "null"}));
  EXPECT_EQ(eval("a /* two */ + -- to the end of the line\n 1"), (V{"8", "-6", "null"}));
}

TEST(ExpressionTest, DecimalArithmeticFollowsFlinkTypes) {
  EXPECT_EQ(eval("d + 1"), (V{"3.50", "-1.50", "null"}));
  EXPECT_EQ(typeOf("d + 1"), "DECIMAL(13, 2)");
  EXPECT_EQ(eval("d * d"), (V{"6.2500", "6.2500", "null"}));
  EXPECT_EQ(typeOf("d * d"), "DECIMAL(20, 4)");
  // Scale max(6, 2 + 10 + 1) = 13; precision 10 - 2 + 0 + 13 = 21.
  EXPECT_EQ(eval("d / 4"), (V{"0.6250000000000", "-0.6250000000000", "null"}));
  EXPECT_EQ(typeOf("d / 4"), "DECIMAL(21, 13)");
}

TEST(ExpressionTest, DoubleArithmetic) {
  EXPECT_EQ(eval("x * 2"), (V{"2.5", "-0.5", "null"}));
  EXPECT_EQ(typeOf("x * 2"), "DOUBLE");
}

TEST(ExpressionTest, DivisionByZeroIsAnErrorNamingThePosition) {
  EXPECT_THAT(evalError("a / 0"), HasSubstr("division by zero"));
  EXPECT_THAT(evalError("a / 0"), HasSubstr("line 1, column 3"));
  EXPECT_THAT(evalError("a % 0"), HasSubstr("division by zero"));
  EXPECT_THAT(evalError("d / 0"), HasSubstr("division by zero"));
}

// ---- Comparisons and logic ------------------------------------------------------------------

TEST(ExpressionTest, ThreeValuedLogic) {
  EXPECT_EQ(eval("a > 1 AND s = 'x'"), (V{"true", "false", "null"}));
  EXPECT_EQ(eval("(a > 1) OR (b IS NULL)"), (V{"true", "true", "null"}));
  EXPECT_EQ(eval("(a > 1) AND (b > 5)"), (V{"true", "false", "false"}));  // false AND null is false
  EXPECT_EQ(eval("(a < 0) OR (b > 5)"), (V{"true", "true", "null"}));     // true OR null is true
  EXPECT_EQ(eval("NOT (a > 1)"), (V{"false", "true", "null"}));
  EXPECT_EQ(eval("a IS NULL"), (V{"false", "false", "true"}));
  EXPECT_EQ(typeOf("a IS NULL"), "BOOLEAN NOT NULL");
  EXPECT_EQ(eval("s IS NOT NULL"), (V{"true", "true", "false"}));
}

TEST(ExpressionTest, ComparisonsAcrossTypes) {
  EXPECT_EQ(eval("d > x"), (V{"true", "false", "null"}));  // DECIMAL with DOUBLE
  EXPECT_EQ(eval("d > 2"), (V{"true", "false", "null"}));  // DECIMAL with INT
  EXPECT_EQ(eval("d = 2.5"), (V{"true", "false", "null"}));
  EXPECT_EQ(eval("a <> b"), (V{"true", "null", "null"}));
  EXPECT_EQ(eval("s < 'b'"), (V{"false", "true", "null"}));
  EXPECT_EQ(eval("t > '2026-01-01 00:00:00'"), (V{"true", "false", "null"}));
}

// ---- CASE, COALESCE, CAST, functions --------------------------------------------------------

TEST(ExpressionTest, CaseAndCoalesce) {
  EXPECT_EQ(eval("CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' ELSE 'none' END"), (V{"pos", "neg", "none"}));
  EXPECT_EQ(eval("CASE WHEN a > 0 THEN a END"), (V{"7", "null", "null"}));
  EXPECT_EQ(eval("CASE WHEN a > 0 THEN d ELSE 0 END"), (V{"2.50", "0.00", "0.00"}));
  EXPECT_EQ(typeOf("CASE WHEN a > 0 THEN d ELSE 0 END"), "DECIMAL(12, 2)");
  EXPECT_EQ(eval("COALESCE(s, 'none')"), (V{"x", "abc", "none"}));
}

// The usual guard against a division by zero: the THEN branch must not be evaluated (nor fail)
// for rows whose condition is not true, as in Flink.
TEST(ExpressionTest, CaseDoesNotFailInBranchesItDoesNotTake) {
  RowBatch b(parseSchema("a INT"));
  RowBatch::setInt(b.columns[0], b.appendRow(), 5);
  RowBatch::setInt(b.columns[0], b.appendRow(), 0);
  b.appendRow();
  EXPECT_EQ(eval("CASE WHEN a <> 0 THEN 100 / a ELSE 0 END", b), (V{"20", "0", "0"}));
}

TEST(ExpressionTest, Casts) {
  EXPECT_EQ(eval("CAST(d AS BIGINT)"), (V{"2", "-2", "null"}));  // toward zero
  EXPECT_EQ(typeOf("CAST(d AS BIGINT)"), "BIGINT");
  EXPECT_EQ(eval("CAST(a AS STRING)"), (V{"7", "-7", "null"}));
  EXPECT_EQ(eval("CAST('2.345' AS DECIMAL(5, 2))"), (V{"2.35", "2.35", "2.35"}));  // half up
  EXPECT_EQ(eval("CAST('-2.345' AS DECIMAL(5, 2))"), (V{"-2.35", "-2.35", "-2.35"}));
  EXPECT_EQ(typeOf("CAST('2.345' AS DECIMAL(5, 2))"), "DECIMAL(5, 2)");
  EXPECT_EQ(eval("CAST(x AS DECIMAL(5, 1))"), (V{"1.3", "-0.3", "null"}));
  EXPECT_EQ(eval("CAST(' 42 ' AS INT)"), (V{"42", "42", "42"}));
  EXPECT_THAT(evalError("CAST(s AS INT)"), HasSubstr("'x' is not an INT"));
}

TEST(ExpressionTest, StringFunctions) {
  EXPECT_EQ(eval("UPPER(s)"), (V{"X", "ABC", "null"}));
  EXPECT_EQ(eval("LOWER('HeLLo')"), (V{"hello", "hello", "hello"}));
  // ASCII letters only: the bytes around them ('@' before A, '[' after Z, '`' before a, '{'
  // after z) and UTF-8 sequences stay as they are.
  EXPECT_EQ(eval("LOWER('@AZ[`az{ÉÀ')"), (V{"@az[`az{ÉÀ", "@az[`az{ÉÀ", "@az[`az{ÉÀ"}));
  EXPECT_EQ(eval("UPPER('@AZ[`az{éà')"), (V{"@AZ[`AZ{éà", "@AZ[`AZ{éà", "@AZ[`AZ{éà"}));
  EXPECT_EQ(eval("LOWER('')"), (V{"", "", ""}));
  EXPECT_EQ(eval("CHAR_LENGTH(s)"), (V{"1", "3", "null"}));
  EXPECT_EQ(eval("CHAR_LENGTH('h\xC3\xA9llo')"), (V{"5", "5", "5"}));  // code points, not bytes
  EXPECT_EQ(eval("CONCAT(s, '-', a)"), (V{"x-7", "abc--7", "null"}));
  EXPECT_EQ(eval("s || '!'"), (V{"x!", "abc!", "null"}));
}

TEST(ExpressionTest, InBetweenAndLike) {
  // Rows: a = 7, -7, null; s = "x", "abc", null.
  EXPECT_EQ(eval("a IN (1, 7, 9)"), (std::vector<std::string>{"true", "false", "null"}));
  EXPECT_EQ(eval("a NOT IN (7)"), (std::vector<std::string>{"false", "true", "null"}));
  EXPECT_EQ(eval("a BETWEEN -7 AND 0"), (std::vector<std::string>{"false", "true", "null"}));
  EXPECT_EQ(eval("a NOT BETWEEN -7 AND 0"), (std::vector<std::string>{"true", "false", "null"}));
  EXPECT_EQ(eval("s LIKE 'a%'"), (std::vector<std::string>{"false", "true", "null"}));
  EXPECT_EQ(eval("s LIKE '_b_'"), (std::vector<std::string>{"false", "true", "null"}));
  EXPECT_EQ(eval("s NOT LIKE '%c'"), (std::vector<std::string>{"true", "false", "null"}));
}

TEST(ExpressionTest, SplitIndexAndRegexpExtract) {
  EXPECT_EQ(eval("SPLIT_INDEX('a/b/c', '/', 1)"), (std::vector<std::string>{"b", "b", "b"}));
  EXPECT_EQ(eval("SPLIT_INDEX('a/b/c', '/', 3)"), (std::vector<std::string>{"null", "null", "null"}));
  EXPECT_EQ(eval("SPLIT_INDEX(s, 'b', 0)"), (std::vector<std::string>{"x", "a", "null"}));
  EXPECT_EQ(eval("REGEXP_EXTRACT('k=1&channel_id=42&z', '(&|^)channel_id=([^&]*)', 2)"), (std::vector<std::string>{"42", "42", "42"}));
  EXPECT_EQ(eval("REGEXP_EXTRACT(s, '([a-c]+)')"), (std::vector<std::string>{"null", "abc", "null"}));
  EXPECT_EQ(eval("REGEXP_EXTRACT(s, '(b)(c)', 5)"), (std::vector<std::string>{"null", "null", "null"}));
}

TEST(ExpressionTest, JsonFunctions) {
  using S = std::vector<std::string>;
  const std::string doc = R"('{"a":{"b":[10,{"c":"x y"}],"f":1.5,"t":true,"n":null},"k.q":7}')";
  EXPECT_EQ(eval("JSON_VALUE(" + doc + ", '$.a.b[0]')"), (S{"10", "10", "10"}));
  EXPECT_EQ(eval("JSON_VALUE(" + doc + ", '$.a.b[1].c')"), (S{"x y", "x y", "x y"}));
  EXPECT_EQ(eval("JSON_VALUE(" + doc + ", 'lax $.a.f')"), (S{"1.5", "1.5", "1.5"}));
  EXPECT_EQ(eval("JSON_VALUE(" + doc + ", '$.a.t')"), (S{"true", "true", "true"}));
  EXPECT_EQ(eval("JSON_VALUE(" + doc + ", '$[''k.q'']')"), (S{"7", "7", "7"}));
  // Missing, JSON null, not a scalar, not JSON: NULL (Flink's defaults).
  EXPECT_EQ(eval("JSON_VALUE(" + doc + ", '$.a.zz')"), (S{"null", "null", "null"}));
  EXPECT_EQ(eval("JSON_VALUE(" + doc + ", '$.a.n')"), (S{"null", "null", "null"}));
  EXPECT_EQ(eval("JSON_VALUE(" + doc + ", '$.a.b')"), (S{"null", "null", "null"}));
  EXPECT_EQ(eval("JSON_VALUE(s, '$.a')"), (S{"null", "null", "null"}));
  EXPECT_EQ(eval("CAST(JSON_VALUE(" + doc + ", '$.a.b[0]') AS INT) + 1"), (S{"11", "11", "11"}));
  EXPECT_EQ(eval("JSON_QUERY(" + doc + ", '$.a.b')"), (S{R"([10,{"c":"x y"}])", R"([10,{"c":"x y"}])", R"([10,{"c":"x y"}])"}));
  EXPECT_EQ(eval("JSON_QUERY(" + doc + ", '$.a.f')"), (S{"null", "null", "null"}));
  EXPECT_EQ(eval("JSON_EXISTS(" + doc + ", '$.a.n')"), (S{"true", "true", "true"}));
  EXPECT_EQ(eval("JSON_EXISTS(s, '$.a')"), (S{"false", "false", "null"}));
  EXPECT_EQ(typeOf("JSON_VALUE(s, '$.a')"), "STRING");
  EXPECT_THAT(bindError("JSON_VALUE(s, 'a.b')"), HasSubstr("JSON path 'a.b': a path starts with $"));
  EXPECT_THAT(bindError("JSON_VALUE(s, '$.a[x]')"), HasSubstr("an array index is [n]"));
}

TEST(ExpressionTest, TimestampsAndIntervals) {
  EXPECT_EQ(eval("t"), (V{"2026-12-06 08:00:00.000", "2025-06-01 12:30:00.500", "null"}));
  EXPECT_EQ(eval("t + INTERVAL '1' SECOND"), (V{"2026-12-06 08:00:01.000", "2025-06-01 12:30:01.500", "null"}));
  EXPECT_EQ(typeOf("t + INTERVAL '1' SECOND"), "TIMESTAMP(3)");
  EXPECT_EQ(eval("t - INTERVAL '1' DAY"), (V{"2026-12-05 08:00:00.000", "2025-05-31 12:30:00.500", "null"}));
}

/// DATE_FORMAT shares the text of rows within one span of its pattern's resolution: rows on
/// both sides of a day's or an hour's boundary, before the epoch too, each get their own.
TEST(ExpressionTest, DateFormatAcrossBoundariesInOneBatch) {
  RowBatch b(parseSchema("t TIMESTAMP(3)"));
  // 1969-12-31 23:59:59.999, 1970-01-01 00:00:00.000, 00:59:59.999, 01:00:00.000, 23:59:59.999,
  // 1970-01-02 00:00:00.000, then 1970-01-01 00:00:00.001 again (not sorted).
  for (int64_t ms : {int64_t{-1}, int64_t{0}, int64_t{3'599'999}, int64_t{3'600'000}, int64_t{86'399'999}, int64_t{86'400'000}, int64_t{1}})
    RowBatch::setInt(b.columns[0], b.appendRow(), ms);
  EXPECT_EQ(eval("DATE_FORMAT(t, 'yyyy-MM-dd')", b),
            (V{"1969-12-31", "1970-01-01", "1970-01-01", "1970-01-01", "1970-01-01", "1970-01-02", "1970-01-01"}));
  EXPECT_EQ(eval("DATE_FORMAT(t, 'dd HH')", b), (V{"31 23", "01 00", "01 00", "01 01", "01 23", "02 00", "01 00"}));
  EXPECT_EQ(eval("DATE_FORMAT(t, 'HH:mm:ss.SSS')", b),
            (V{"23:59:59.999", "00:00:00.000", "00:59:59.999", "01:00:00.000", "23:59:59.999", "00:00:00.000", "00:00:00.001"}));
}

TEST(ExpressionTest, DateAndTimeFunctions) {
  // t: 2026-12-06 08:00:00.000 (a Sunday), 2025-06-01 12:30:00.500 (a Sunday), null.
  EXPECT_EQ(eval("DATE_FORMAT(t, 'yyyy-MM-dd HH:mm')"), (V{"2026-12-06 08:00", "2025-06-01 12:30", "null"}));
  EXPECT_EQ(eval("DATE_FORMAT(t, 'dd.MM.yy ''at'' HH:mm:ss.SSS')"), (V{"06.12.26 at 08:00:00.000", "01.06.25 at 12:30:00.500", "null"}));
  EXPECT_EQ(eval("HOUR(t)"), (V{"8", "12", "null"}));
  EXPECT_EQ(eval("MINUTE(t)"), (V{"0", "30", "null"}));
  EXPECT_EQ(typeOf("HOUR(t)"), "BIGINT");
  EXPECT_EQ(eval("EXTRACT(YEAR FROM t)"), (V{"2026", "2025", "null"}));
  EXPECT_EQ(eval("EXTRACT(QUARTER FROM t)"), (V{"4", "2", "null"}));
  EXPECT_EQ(eval("EXTRACT(DOW FROM t)"), (V{"1", "1", "null"}));    // Sunday is 1
  EXPECT_EQ(eval("EXTRACT(DOY FROM t)"), (V{"340", "152", "null"}));  // 334 + 6; 151 + 1
  EXPECT_EQ(eval("EXTRACT(WEEK FROM t)"), (V{"49", "22", "null"}));   // ISO weeks from Mon 2025-12-29 and Mon 2024-12-30
  EXPECT_EQ(eval("EXTRACT(MILLISECOND FROM t)"), (V{"0", "500", "null"}));
  EXPECT_EQ(eval("FLOOR(t TO HOUR)"), (V{"2026-12-06 08:00:00.000", "2025-06-01 12:00:00.000", "null"}));
  EXPECT_EQ(eval("CEIL(t TO HOUR)"), (V{"2026-12-06 08:00:00.000", "2025-06-01 13:00:00.000", "null"}));
  EXPECT_EQ(eval("FLOOR(t TO MONTH)"), (V{"2026-12-01 00:00:00.000", "2025-06-01 00:00:00.000", "null"}));
  EXPECT_EQ(eval("CEIL(t TO MONTH)"), (V{"2027-01-01 00:00:00.000", "2025-07-01 00:00:00.000", "null"}));
  EXPECT_EQ(eval("FLOOR(t TO WEEK)"), (V{"2026-11-30 00:00:00.000", "2025-05-26 00:00:00.000", "null"}));
  EXPECT_EQ(eval("TO_TIMESTAMP('2026-12-06 08:00:00')"), (V{"2026-12-06 08:00:00.000", "2026-12-06 08:00:00.000", "2026-12-06 08:00:00.000"}));
  EXPECT_EQ(eval("TO_TIMESTAMP('06/12/2026 08', 'dd/MM/yyyy HH')"), (V{"2026-12-06 08:00:00.000", "2026-12-06 08:00:00.000", "2026-12-06 08:00:00.000"}));
  EXPECT_EQ(eval("TO_TIMESTAMP(s)"), (V{"null", "null", "null"}));  // text that is no timestamp gives null, as in Flink
  EXPECT_EQ(eval("REPLACE(s, 'b', 'XY')"), (V{"x", "aXYc", "null"}));
  EXPECT_THAT(bindError("DATE_FORMAT(t, 'yyyy-QQ')"), HasSubstr("'Q'"));
  EXPECT_THAT(bindError("EXTRACT(FORTNIGHT FROM t)"), HasSubstr("accepted: YEAR"));
  EXPECT_THAT(bindError("HOUR(s)"), HasSubstr("needs a TIMESTAMP"));
  EXPECT_THAT(bindError("COUNT(a) + 1"), HasSubstr("aggregate COUNT is only allowed"));
}

// ---- Binding errors -------------------------------------------------------------------------

TEST(ExpressionTest, BindErrorsNameWhatIsWrong) {
  const std::string unknownColumn = bindError("a + nope");
  EXPECT_THAT(unknownColumn, HasSubstr("'nope'"));
  EXPECT_THAT(unknownColumn, HasSubstr("a, b, d, x, s, t"));
  EXPECT_THAT(unknownColumn, HasSubstr("line 1, column 5"));
  const std::string unknownFunction = bindError("FOO(a)");
  EXPECT_THAT(unknownFunction, HasSubstr("FOO"));
  EXPECT_THAT(unknownFunction, HasSubstr("UPPER, LOWER, CHAR_LENGTH, CONCAT, REPLACE, ABS, MOD, COALESCE, SPLIT_INDEX"));
  EXPECT_THAT(bindError("'abc' + 1"), HasSubstr("needs numbers"));
  EXPECT_THAT(bindError("'abc' + 1"), HasSubstr("line 1, column 7"));
  EXPECT_THAT(bindError("a AND s = 'x'"), HasSubstr("AND needs BOOLEAN operands, not INT"));
  EXPECT_THAT(bindError("CASE WHEN a THEN 1 END"), HasSubstr("WHEN needs a BOOLEAN"));
}

TEST(ExpressionTest, QualifiersNameTheTableOrItsAlias) {
  EXPECT_EQ(eval("o.a"), (V{"7", "-7", "null"}));
  EXPECT_EQ(eval("t1.a + 1"), (V{"8", "-6", "null"}));
  EXPECT_THAT(bindError("z.a"), HasSubstr("'z'"));
}

// ---- Parser ---------------------------------------------------------------------------------

constexpr const char* kScript = R"(-- a source table
CREATE TABLE bids (
  id BIGINT,
  `select` STRING, /* a reserved word,
                      quoted */
  price DECIMAL(10, 2),
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,
  PRIMARY KEY (id) NOT ENFORCED
) WITH ('connector' = 'filesystem', 'path' = 'x');
CREATE VIEW cheap AS SELECT id, `select` AS s FROM bids;
SET 'a' = 'b';
INSERT INTO out SELECT id, price * 2 AS doubled FROM bids b WHERE price > 10 AND b.id IS NOT NULL;
)";

TEST(ParserTest, ParsesAScript) {
  Result<std::vector<Statement>> r = parseScript(kScript);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  const std::vector<Statement>& s = *r;
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].kind, Statement::Kind::kCreateTable);
  EXPECT_EQ(s[1].kind, Statement::Kind::kCreateView);
  EXPECT_EQ(s[2].kind, Statement::Kind::kSet);
  EXPECT_EQ(s[3].kind, Statement::Kind::kInsert);
  EXPECT_EQ(s[0].pos.line, 2);
  EXPECT_EQ(s[3].pos.line, 13);  // the /* */ comment spans two lines

  const CreateTable& ct = s[0].createTable;
  EXPECT_EQ(ct.name, "bids");
  ASSERT_EQ(ct.columns.size(), 4u);
  EXPECT_EQ(ct.columns[0].name, "id");
  EXPECT_EQ(ct.columns[0].type.toString(), "BIGINT");
  EXPECT_EQ(ct.columns[1].name, "select");
  EXPECT_EQ(ct.columns[1].type.toString(), "STRING");
  EXPECT_EQ(ct.columns[2].name, "price");
  EXPECT_EQ(ct.columns[2].type.toString(), "DECIMAL(10, 2)");
  EXPECT_EQ(ct.columns[2].pos.toString(), "line 6, column 3");
  EXPECT_EQ(ct.columns[3].name, "ts");
  EXPECT_EQ(ct.columns[3].type.toString(), "TIMESTAMP(3)");
  ASSERT_TRUE(ct.watermarkColumn.has_value());
  EXPECT_EQ(*ct.watermarkColumn, "ts");
  ASSERT_TRUE(ct.watermarkExpr != nullptr);
  EXPECT_EQ(ct.watermarkExpr->kind, Expr::Kind::kBinary);
  EXPECT_EQ(ct.watermarkExpr->op, "-");
  ASSERT_EQ(ct.watermarkExpr->args.size(), 2u);
  EXPECT_EQ(ct.watermarkExpr->args[0]->name, "ts");
  EXPECT_EQ(ct.watermarkExpr->args[1]->kind, Expr::Kind::kInterval);
  EXPECT_EQ(ct.watermarkExpr->args[1]->millis, 5000);
  EXPECT_EQ(ct.primaryKey, (std::vector<std::string>{"id"}));
  EXPECT_EQ(ct.options, (std::vector<std::pair<std::string, std::string>>{{"connector", "filesystem"}, {"path", "x"}}));

  const CreateView& view = s[1].createView;
  EXPECT_EQ(view.name, "cheap");
  EXPECT_EQ(view.query.from, "bids");
  ASSERT_EQ(view.query.items.size(), 2u);
  EXPECT_EQ(view.query.items[1].expr->kind, Expr::Kind::kColumn);
  EXPECT_EQ(view.query.items[1].expr->name, "select");
  EXPECT_EQ(view.query.items[1].alias, "s");

  EXPECT_EQ(s[2].set.key, "a");
  EXPECT_EQ(s[2].set.value, "b");

  const Insert& insert = s[3].insert;
  EXPECT_EQ(insert.table, "out");
  EXPECT_EQ(insert.query.from, "bids");
  EXPECT_EQ(insert.query.alias, "b");
  ASSERT_EQ(insert.query.items.size(), 2u);
  EXPECT_EQ(insert.query.items[0].expr->name, "id");
  EXPECT_EQ(insert.query.items[1].alias, "doubled");
  ASSERT_TRUE(insert.query.where != nullptr);
  EXPECT_EQ(insert.query.where->op, "AND");
}

// 1.005 × 1000 in doubles is 1004.99999…: the milliseconds must be rounded, not truncated.
TEST(ParserTest, IntervalsWithAFraction) {
  Result<ExprPtr> e = parseExpression("INTERVAL '1.005' SECOND");
  ASSERT_TRUE(e.isOk()) << e.status().message();
  EXPECT_EQ((*e)->millis, 1005);
}

TEST(ParserTest, DeepNestingIsAnErrorNotAStackOverflow) {
  const auto nested = [](const std::string& open, const std::string& inner, const std::string& close, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += open;
    s += inner;
    for (int i = 0; i < n; ++i) s += close;
    return s;
  };
  const std::string head = "CREATE TABLE t (a INT) WITH ('connector' = 'blackhole');\nINSERT INTO t SELECT ";
  EXPECT_THAT(scriptError(head + nested("(", "1", ")", 5000) + " FROM t;"), HasSubstr("nests too deeply (parentheses, calls"));
  EXPECT_THAT(scriptError(head + nested("f(", "1", ")", 5000) + " FROM t;"), HasSubstr("nests too deeply"));
  EXPECT_THAT(scriptError(head + nested("NOT ", "TRUE", "", 5000) + " FROM t;"), HasSubstr("nests too deeply"));
  EXPECT_THAT(scriptError(head + nested("- ", "1", "", 5000) + " FROM t;"), HasSubstr("nests too deeply"));
  EXPECT_THAT(scriptError(head + "a FROM " + nested("(SELECT a FROM ", "t", ")", 5000) + ";"), HasSubstr("nests too deeply"));
  // 50 levels are fine.
  EXPECT_EQ(eval(nested("(", "1", ")", 50)), (V{"1", "1", "1"}));
}

TEST(ParserTest, ErrorsSayWhatWasExpectedAndWhere) {
  const std::string missingParen = scriptError("INSERT INTO o\nSELECT UPPER(s\nFROM t");
  EXPECT_THAT(missingParen, HasSubstr("expected ')'"));
  EXPECT_THAT(missingParen, HasSubstr("line 3, column 1"));
  EXPECT_THAT(scriptError("SET 'a' = 'b"), HasSubstr("'string' at line 1, column 11 is not closed"));
  EXPECT_THAT(scriptError("SELECT a FROM t"), HasSubstr("INSERT INTO"));
  const std::string orderBy = scriptError("INSERT INTO o SELECT a FROM t ORDER BY a");
  EXPECT_THAT(orderBy, HasSubstr("ORDER at line 1, column 31"));
  EXPECT_THAT(orderBy, HasSubstr("not supported yet"));
  const std::string unit = bindError("t + INTERVAL '1' WEEK");
  EXPECT_THAT(unit, HasSubstr("'WEEK'"));
  EXPECT_THAT(unit, HasSubstr("MILLISECOND, SECOND, MINUTE, HOUR, DAY"));
}

}  // namespace
}  // namespace reka::sql
