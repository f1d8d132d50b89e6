#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "reka/data/Row.h"

namespace reka {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<const Schema> parseSchema(std::string_view text) {
  Result<Schema> r = Schema::parse(text);
  EXPECT_TRUE(r.isOk()) << text << ": " << r.status().message();
  return std::make_shared<const Schema>(r.isOk() ? *r : Schema());
}

std::string rowText(const RowBatch& b, size_t row) {
  std::string out;
  b.appendText(row, out);
  return out;
}

// Decimals compared through int64 (the values in these tests are small; gtest need not print
// 128-bit integers).
int64_t asInt64(Decimal d) { return static_cast<int64_t>(d); }

// ---- Schema -------------------------------------------------------------------------------

TEST(SchemaTest, ParsesFlinkColumnDefinitions) {
  Result<Schema> r =
      Schema::parse("id BIGINT NOT NULL, name STRING, price DECIMAL(10, 2), ts TIMESTAMP(3), r ROW<a INT, `b c` STRING>");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  const Schema& s = *r;
  ASSERT_EQ(s.size(), 5u);

  EXPECT_EQ(s.field(0).name, "id");
  EXPECT_EQ(s.field(0).type.kind, TypeKind::kBigint);
  EXPECT_FALSE(s.field(0).type.nullable);
  EXPECT_EQ(s.field(1).name, "name");
  EXPECT_EQ(s.field(1).type.kind, TypeKind::kString);
  EXPECT_TRUE(s.field(1).type.nullable);
  EXPECT_EQ(s.field(2).type.kind, TypeKind::kDecimal);
  EXPECT_EQ(s.field(2).type.precision, 10);
  EXPECT_EQ(s.field(2).type.scale, 2);
  EXPECT_EQ(s.field(3).type.kind, TypeKind::kTimestamp);
  EXPECT_EQ(s.field(3).type.precision, 3);
  ASSERT_EQ(s.field(4).type.kind, TypeKind::kRow);
  ASSERT_NE(s.field(4).type.fields, nullptr);
  const Schema& nested = *s.field(4).type.fields;
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(nested.field(0).name, "a");
  EXPECT_EQ(nested.field(0).type.kind, TypeKind::kInt);
  EXPECT_EQ(nested.field(1).name, "b c");
  EXPECT_EQ(nested.field(1).type.kind, TypeKind::kString);

  EXPECT_EQ(s.indexOf("price"), 2);
  EXPECT_EQ(s.indexOf("PRICE"), -1);  // names are case-sensitive
  EXPECT_EQ(s.indexOf("missing"), -1);
}

TEST(SchemaTest, ToStringParsesBackToAnEqualSchema) {
  std::shared_ptr<const Schema> s =
      parseSchema("id BIGINT NOT NULL, name STRING, price DECIMAL(10, 2), ts TIMESTAMP(3), r ROW<a INT, `b c` STRING>");
  EXPECT_EQ(s->toString(),
            "`id` BIGINT NOT NULL, `name` STRING, `price` DECIMAL(10, 2), `ts` TIMESTAMP(3), `r` ROW<`a` INT, `b c` STRING>");
  Result<Schema> again = Schema::parse(s->toString());
  ASSERT_TRUE(again.isOk()) << again.status().message();
  EXPECT_TRUE(*again == *s);
  // A backquote inside a name is doubled and read back.
  std::shared_ptr<const Schema> odd = parseSchema("`a``b` INT");
  EXPECT_EQ(odd->field(0).name, "a`b");
  Result<Schema> oddAgain = Schema::parse(odd->toString());
  ASSERT_TRUE(oddAgain.isOk()) << oddAgain.status().message();
  EXPECT_TRUE(*oddAgain == *odd);
}

TEST(SchemaTest, AliasesAndTimestampPrecision) {
  std::shared_ptr<const Schema> s = parseSchema(
      "v VARCHAR(20), i INTEGER, t TIMESTAMP, t6 TIMESTAMP(6), t0 TIMESTAMP(0), "
      "l TIMESTAMP WITH LOCAL TIME ZONE, l1 TIMESTAMP(1) WITH LOCAL TIME ZONE, d DECIMAL");
  EXPECT_EQ(s->field(0).type.kind, TypeKind::kString);
  EXPECT_EQ(s->field(1).type.kind, TypeKind::kInt);
  EXPECT_EQ(s->field(2).type.kind, TypeKind::kTimestamp);
  EXPECT_EQ(s->field(2).type.precision, 3);  // Flink's default 6, kept at milliseconds
  EXPECT_EQ(s->field(3).type.precision, 3);
  EXPECT_EQ(s->field(4).type.precision, 0);
  EXPECT_EQ(s->field(5).type.kind, TypeKind::kTimestampLtz);
  EXPECT_EQ(s->field(5).type.precision, 3);
  EXPECT_EQ(s->field(6).type.kind, TypeKind::kTimestampLtz);
  EXPECT_EQ(s->field(6).type.precision, 1);
  EXPECT_EQ(s->field(7).type.precision, 10);  // DECIMAL is DECIMAL(10, 0)
  EXPECT_EQ(s->field(7).type.scale, 0);

  Result<DataType> t = parseDataType("decimal(5, 1) not null");
  ASSERT_TRUE(t.isOk()) << t.status().message();
  EXPECT_EQ(t->toString(), "DECIMAL(5, 1) NOT NULL");
}

TEST(SchemaTest, Errors) {
  Result<Schema> unknown = Schema::parse("a INT, b FOOBAR");
  ASSERT_FALSE(unknown.isOk());
  EXPECT_THAT(unknown.status().message(), HasSubstr("FOOBAR"));
  EXPECT_THAT(unknown.status().message(), HasSubstr("accepted"));

  Result<Schema> twice = Schema::parse("a INT, a STRING");
  ASSERT_FALSE(twice.isOk());
  EXPECT_THAT(twice.status().message(), HasSubstr("'a'"));

  Result<Schema> wide = Schema::parse("d DECIMAL(40, 0)");
  ASSERT_FALSE(wide.isOk());
  EXPECT_THAT(wide.status().message(), HasSubstr("40"));

  EXPECT_FALSE(Schema::parse("d DECIMAL(5, 6)").isOk());  // scale above precision
  EXPECT_FALSE(Schema::parse("a INT b").isOk());          // trailing garbage
  EXPECT_FALSE(Schema::parse("a INT,").isOk());
  EXPECT_FALSE(Schema::parse("").isOk());
  EXPECT_FALSE(Schema::parse("r ROW<a INT").isOk());      // not closed
  EXPECT_FALSE(Schema::parse("1a INT").isOk());
  EXPECT_FALSE(Schema::parse("a INT NOT").isOk());
}

// ---- Decimals -----------------------------------------------------------------------------

TEST(DecimalTest, ParsesAndRoundsHalfUp) {
  Result<Decimal> d = parseDecimal("12.345", 10, 2);
  ASSERT_TRUE(d.isOk()) << d.status().message();
  EXPECT_EQ(asInt64(*d), 1235);  // 12.345 → 12.35

  d = parseDecimal("-0.005", 5, 2);  // the magnitude rounds up: -0.01
  ASSERT_TRUE(d.isOk()) << d.status().message();
  EXPECT_EQ(asInt64(*d), -1);

  d = parseDecimal("1e3", 10, 0);
  ASSERT_TRUE(d.isOk()) << d.status().message();
  EXPECT_EQ(asInt64(*d), 1000);

  d = parseDecimal("7", 5, 2);  // scaled up: 7.00
  ASSERT_TRUE(d.isOk());
  EXPECT_EQ(asInt64(*d), 700);

  d = parseDecimal("+1.5E-1", 5, 2);  // 0.15
  ASSERT_TRUE(d.isOk()) << d.status().message();
  EXPECT_EQ(asInt64(*d), 15);

  d = parseDecimal("0.049", 5, 1);  // drops below the half: 0.0
  ASSERT_TRUE(d.isOk());
  EXPECT_EQ(asInt64(*d), 0);
}

TEST(DecimalTest, RejectsOverflowAndGarbage) {
  EXPECT_FALSE(parseDecimal("123456", 5, 0).isOk());
  EXPECT_FALSE(parseDecimal("99999.5", 5, 0).isOk());  // rounds up to 100000: six digits
  EXPECT_TRUE(parseDecimal("99999.4", 5, 0).isOk());
  EXPECT_FALSE(parseDecimal("1000", 5, 2).isOk());      // 1000.00 needs six digits
  EXPECT_FALSE(parseDecimal("1.2.3", 10, 2).isOk());
  EXPECT_FALSE(parseDecimal("", 10, 2).isOk());
  EXPECT_FALSE(parseDecimal("-", 10, 2).isOk());
  EXPECT_FALSE(parseDecimal("1e", 10, 2).isOk());
  EXPECT_FALSE(parseDecimal("abc", 10, 2).isOk());
}

TEST(DecimalTest, ThirtyEightDigitsFitAndThirtyNineDoNot) {
  // 39 nines do not fit DECIMAL(38, 0), whose largest value is 38 nines (and 10^39 is beyond
  // the range of a signed 128-bit integer, about 1.7e38).
  EXPECT_FALSE(parseDecimal(std::string(39, '9'), 38, 0).isOk());
  EXPECT_FALSE(parseDecimal(std::string(39, '9'), 38, 2).isOk());
  Result<Decimal> max = parseDecimal(std::string(38, '9'), 38, 0);
  ASSERT_TRUE(max.isOk()) << max.status().message();
  EXPECT_TRUE(*max == decimalLimit(38));
}

TEST(DecimalTest, AppendsWithScale) {
  auto text = [](Decimal v, int scale) {
    std::string out;
    appendDecimal(v, scale, out);
    return out;
  };
  EXPECT_EQ(text(-1230, 2), "-12.30");
  EXPECT_EQ(text(5, 3), "0.005");
  EXPECT_EQ(text(-5, 3), "-0.005");
  EXPECT_EQ(text(0, 0), "0");
  EXPECT_EQ(text(0, 2), "0.00");
  EXPECT_EQ(text(123, 0), "123");
  EXPECT_TRUE(decimalLimit(3) == 999);
}

// ---- Dates and timestamps -----------------------------------------------------------------

// 2026-01-01 is day 20454 (56 years, 14 of them leap); 2026-12-06 is 339 days later.
constexpr int64_t kDay20261206 = 20454 + 339;
constexpr int64_t kMsPerDay = 86400000;

TEST(TimestampTest, AppendsSqlAndIsoText) {
  auto ts = [](int64_t ms, int precision, bool iso, bool utc) {
    std::string out;
    appendTimestamp(ms, precision, iso, utc, out);
    return out;
  };
  EXPECT_EQ(ts(0, 3, false, false), "1970-01-01 00:00:00.000");
  EXPECT_EQ(ts(-1, 3, false, false), "1969-12-31 23:59:59.999");
  EXPECT_EQ(ts(1500, 3, true, true), "1970-01-01T00:00:01.500Z");
  EXPECT_EQ(ts(1500, 0, false, false), "1970-01-01 00:00:01");
  EXPECT_EQ(ts(1500, 1, false, false), "1970-01-01 00:00:01.5");
  const int64_t ms = kDay20261206 * kMsPerDay + ((8 * 60 + 33) * 60 + 18) * 1000 + 123;
  EXPECT_EQ(ms, 1796545998123);
  EXPECT_EQ(ts(ms, 3, false, false), "2026-12-06 08:33:18.123");

  std::string date;
  appendDate(kDay20261206, date);
  EXPECT_EQ(date, "2026-12-06");
  date.clear();
  appendDate(-1, date);
  EXPECT_EQ(date, "1969-12-31");
  date.clear();
  appendDate(19723 + 31 + 28, date);  // 2024-01-01 is day 19723
  EXPECT_EQ(date, "2024-02-29");
}

TEST(TimestampTest, Parses) {
  const int64_t midnight = kDay20261206 * kMsPerDay;
  const int64_t timeOfDay = ((8 * 60 + 33) * 60 + 18) * 1000;

  Result<int64_t> t = parseTimestamp("2026-12-06 08:33:18.123");
  ASSERT_TRUE(t.isOk()) << t.status().message();
  EXPECT_EQ(*t, midnight + timeOfDay + 123);

  t = parseTimestamp("2026-12-06T08:33:18Z");
  ASSERT_TRUE(t.isOk()) << t.status().message();
  EXPECT_EQ(*t, midnight + timeOfDay);

  t = parseTimestamp("2026-12-06T08:33:18+01:00");  // 07:33:18 UTC
  ASSERT_TRUE(t.isOk()) << t.status().message();
  EXPECT_EQ(*t, midnight + timeOfDay - 3600000);

  t = parseTimestamp("2026-12-06T08:33:18-02:30");
  ASSERT_TRUE(t.isOk()) << t.status().message();
  EXPECT_EQ(*t, midnight + timeOfDay + 150 * 60000);

  t = parseTimestamp("2026-12-06");
  ASSERT_TRUE(t.isOk()) << t.status().message();
  EXPECT_EQ(*t, midnight);

  t = parseTimestamp("2026-12-06 08:33:18.5");  // one fraction digit: 500 ms
  ASSERT_TRUE(t.isOk());
  EXPECT_EQ(*t, midnight + timeOfDay + 500);

  t = parseTimestamp("1969-12-31 23:59:59.999");
  ASSERT_TRUE(t.isOk());
  EXPECT_EQ(*t, -1);

  EXPECT_FALSE(parseTimestamp("2026-13-01").isOk());
  EXPECT_FALSE(parseTimestamp("yesterday").isOk());
  EXPECT_FALSE(parseTimestamp("2026-12-06 24:00:00").isOk());
  EXPECT_FALSE(parseTimestamp("2026-12-06 08:33:18.").isOk());
  EXPECT_FALSE(parseTimestamp("2026-12-06 08:33:18 x").isOk());
  EXPECT_FALSE(parseTimestamp("").isOk());
}

// ---- RowBatch ------------------------------------------------------------------------------

TEST(RowBatchTest, AppendRowStartsNullAndSettersFillIt) {
  RowBatch b(parseSchema("a BIGINT, b STRING, c DOUBLE"));
  EXPECT_EQ(b.size(), 0u);
  size_t r = b.appendRow();
  EXPECT_EQ(r, 0u);
  EXPECT_EQ(rowText(b, 0), "+I[null, null, null]");
  RowBatch::setInt(b.columns[0], r, 1);
  b.setString(b.columns[1], r, "abc");
  EXPECT_EQ(rowText(b, 0), "+I[1, abc, null]");

  r = b.appendRow(RowKind::kDelete);
  EXPECT_EQ(r, 1u);
  RowBatch::setDouble(b.columns[2], r, 2.5);
  EXPECT_EQ(rowText(b, 1), "-D[null, null, 2.5]");
  RowBatch::setNull(b.columns[0], 0);
  EXPECT_EQ(rowText(b, 0), "+I[null, abc, null]");
  EXPECT_EQ(b.size(), 2u);
}

TEST(RowBatchTest, TextOfEveryKindOfValue) {
  RowBatch b(parseSchema("f BOOLEAN, d DECIMAL(10, 2), t TIMESTAMP(3), z TIMESTAMP_LTZ(0)"));
  size_t r = b.appendRow(RowKind::kUpdateAfter);
  RowBatch::setInt(b.columns[0], r, 1);
  RowBatch::setDecimal(b.columns[1], r, -1230);
  RowBatch::setInt(b.columns[2], r, -1);
  RowBatch::setInt(b.columns[3], r, 1500);
  EXPECT_EQ(rowText(b, r), "+U[true, -12.30, 1969-12-31 23:59:59.999, 1970-01-01 00:00:01Z]");
  b.kinds[r] = RowKind::kUpdateBefore;
  RowBatch::setInt(b.columns[0], r, 0);
  EXPECT_EQ(rowText(b, r).substr(0, 9), "-U[false,");
}

TEST(RowBatchTest, ResizeDropsRows) {
  RowBatch b(parseSchema("a BIGINT, s STRING, r ROW<x INT>"));
  for (int64_t i = 0; i < 3; ++i) {
    size_t r = b.appendRow();
    RowBatch::setInt(b.columns[0], r, i);
  }
  b.resize(5);  // larger than the batch: nothing changes
  EXPECT_EQ(b.size(), 3u);
  b.resize(1);
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(b.columns[0].nulls.size(), 1u);
  EXPECT_EQ(b.columns[0].ints.size(), 1u);
  EXPECT_EQ(b.columns[1].strings.size(), 1u);
  EXPECT_EQ(b.columns[2].children[0].ints.size(), 1u);
  EXPECT_EQ(rowText(b, 0), "+I[0, null, null]");
  // A row appended after the resize lines up with the others.
  size_t r = b.appendRow();
  EXPECT_EQ(r, 1u);
  RowBatch::setInt(b.columns[0], r, 9);
  EXPECT_EQ(rowText(b, 1), "+I[9, null, null]");

  b.clear();
  EXPECT_EQ(b.size(), 0u);
  EXPECT_TRUE(b.keepAlive.empty());
}

TEST(RowBatchTest, AppendFromCopiesNestedRows) {
  std::shared_ptr<const Schema> schema = parseSchema("id INT, r ROW<x BIGINT, s STRING>");
  RowBatch src(schema);
  size_t r0 = src.appendRow(RowKind::kUpdateAfter);
  RowBatch::setInt(src.columns[0], r0, 7);
  RowBatch::setPresent(src.columns[1], r0);
  RowBatch::setInt(src.columns[1].children[0], r0, 3);
  src.setString(src.columns[1].children[1], r0, "hi");
  size_t r1 = src.appendRow();
  RowBatch::setPresent(src.columns[1], r1);  // a present ROW whose fields are null
  src.appendRow();                           // all null
  EXPECT_EQ(rowText(src, 0), "+U[7, (3, hi)]");
  EXPECT_EQ(rowText(src, 1), "+I[null, (null, null)]");
  EXPECT_EQ(rowText(src, 2), "+I[null, null]");

  RowBatch dst(schema);
  dst.appendFrom(src, 2);
  dst.appendFrom(src, 0);
  dst.appendFrom(src, 1);
  ASSERT_EQ(dst.size(), 3u);
  EXPECT_EQ(rowText(dst, 0), "+I[null, null]");
  EXPECT_EQ(rowText(dst, 1), "+U[7, (3, hi)]");
  EXPECT_EQ(rowText(dst, 2), "+I[null, (null, null)]");
}

TEST(RowBatchTest, AppendFromKeepsStringsAliveAfterTheSourceIsGone) {
  std::shared_ptr<const Schema> schema = parseSchema("s STRING");
  RowBatch dst(schema);
  const std::string expected = "a string long enough to live on the heap, not in a small-string buffer";
  {
    RowBatch src(schema);
    std::string value = expected;
    size_t r = src.appendRow();
    src.setString(src.columns[0], r, value);
    value.assign(value.size(), 'x');  // the batch holds its own copy
    dst.appendFrom(src, r);
  }
  ASSERT_EQ(dst.size(), 1u);
  EXPECT_EQ(dst.columns[0].strings[0], expected);
  EXPECT_EQ(rowText(dst, 0), "+I[" + expected + "]");
}

}  // namespace
}  // namespace reka
