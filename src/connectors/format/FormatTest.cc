#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/connector/Format.h"
#include "reka/data/Row.h"

namespace reka::connector {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Rows = std::vector<std::string>;

std::shared_ptr<const Schema> schemaOf(std::string_view columns) {
  Result<Schema> r = Schema::parse(columns);
  EXPECT_TRUE(r.isOk()) << columns << ": " << r.status().message();
  return std::make_shared<const Schema>(r.isOk() ? *r : Schema());
}

// Each row as RowBatch::appendText writes it ("+I[1, abc, 2.50]").
Rows allText(const RowBatch& b) {
  Rows rows(b.size());
  for (size_t i = 0; i < b.size(); ++i) b.appendText(i, rows[i]);
  return rows;
}

// Decodes `inputs` in order into one batch with format `format`: the rows as text, or the first
// error's message.
struct Decoded {
  Rows rows;
  std::string error;
  bool ok;
};

Decoded decode(std::string_view format, std::string_view columns, const std::vector<std::string>& inputs,
               const Options& options = {}) {
  std::shared_ptr<const Schema> schema = schemaOf(columns);
  Result<std::unique_ptr<Decoder>> decoder = makeDecoder(format, schema, options);
  if (!decoder.isOk()) return {{}, decoder.status().message(), false};
  RowBatch batch(schema);
  for (const auto& in : inputs) {
    if (Status s = (*decoder)->decode(in, batch); !s.isOk()) return {{}, s.message(), false};
  }
  return {allText(batch), "", true};
}

// The rows (failing the test on an error), or the error message (failing it on success).
Rows rowsOf(std::string_view format, std::string_view columns, const std::vector<std::string>& inputs,
            const Options& options = {}) {
  Decoded d = decode(format, columns, inputs, options);
  EXPECT_TRUE(d.ok) << d.error;
  return d.rows;
}
std::string errorOf(std::string_view format, std::string_view columns, const std::vector<std::string>& inputs,
                    const Options& options = {}) {
  Decoded d = decode(format, columns, inputs, options);
  EXPECT_FALSE(d.ok) << "decoded: " << (d.rows.empty() ? "no rows" : d.rows.front());
  return d.error;
}

// Every row of `rows` encoded with format `format`.
Rows encodeAll(std::string_view format, const RowBatch& rows, const Options& options = {}) {
  Result<std::unique_ptr<Encoder>> e = makeEncoder(format, rows.schemaPtr(), options);
  EXPECT_TRUE(e.isOk()) << e.status().message();
  Rows out(e.isOk() ? rows.size() : size_t{0});
  for (size_t i = 0; i < out.size(); ++i) {
    Status s = (*e)->encode(rows, i, out[i]);
    EXPECT_TRUE(s.isOk()) << s.message();
  }
  return out;
}

// Rows to encode, read from JSON objects by the json format (whose decoding is tested below).
RowBatch jsonRows(std::string_view columns, const std::vector<std::string>& objects) {
  std::shared_ptr<const Schema> schema = schemaOf(columns);
  RowBatch batch(schema);
  Result<std::unique_ptr<Decoder>> decoder = makeDecoder("json", schema, Options{});
  for (const auto& o : objects) {
    Status s = decoder.isOk() ? (*decoder)->decode(o, batch) : decoder.status();
    EXPECT_TRUE(s.isOk()) << o << ": " << s.message();
  }
  return batch;
}

constexpr std::string_view kAbc = "a BIGINT, b STRING, c DECIMAL(5, 2)";

// ---- json -----------------------------------------------------------------------------------

TEST(JsonFormatTest, DecodesFieldsByName) {
  EXPECT_THAT(rowsOf("json", kAbc, {R"({"c":2.50,"b":"abc","a":1})"}), ElementsAre("+I[1, abc, 2.50]"));
  EXPECT_THAT(rowsOf("json", kAbc, {R"({"a":1,"zz":{"q":[1,{"r":2}]},"b":"x","c":7})"}), ElementsAre("+I[1, x, 7.00]"));
  EXPECT_THAT(rowsOf("json", kAbc, {R"({"a":"42","c":"2.345"})"}), ElementsAre("+I[42, null, 2.35]"));
  // Missing nullable fields are null; whitespace may follow the object.
  EXPECT_THAT(rowsOf("json", kAbc, {R"({"a":null,"b":null,"c":null})", "{\"a\":1}  \n"}),
              ElementsAre("+I[null, null, null]", "+I[1, null, null]"));
  EXPECT_THAT(rowsOf("json", "s STRING", {R"({"s":{"k":[1,2]}})", R"({"s":12.5})", R"({"s":[true]})"}),
              ElementsAre(R"(+I[{"k":[1,2]}])", "+I[12.5]", "+I[[true]]"));
  EXPECT_THAT(rowsOf("json", "b BYTES", {R"({"b":"Zm9v"})"}), ElementsAre("+I[foo]"));
}

TEST(JsonFormatTest, DecodesTimestampsAndNestedRows) {
  EXPECT_THAT(rowsOf("json", "ts TIMESTAMP(3)", {R"({"ts":"2026-12-06 08:33:18.123"})", R"({"ts":1000})"}),
              ElementsAre("+I[2026-12-06 08:33:18.123]", "+I[1970-01-01 00:00:01.000]"));
  const char* nested = "id INT, r ROW<x BIGINT, s STRING>";
  EXPECT_THAT(rowsOf("json", nested, {R"({"id":1,"r":{"s":"hi","x":2}})", R"({"id":2,"r":null})", R"({"id":3,"r":{}})"}),
              ElementsAre("+I[1, (2, hi)]", "+I[2, null]", "+I[3, (null, null)]"));
  EXPECT_THAT(errorOf("json", nested, {R"({"id":1,"r":{"x":"bad"}})"}), HasSubstr("r.x"));
}

TEST(JsonFormatTest, MissingNullAndBadValues) {
  Options failOnMissing{{"json.fail-on-missing-field", "true"}};
  EXPECT_THAT(errorOf("json", kAbc, {R"({"a":1,"c":1})"}, failOnMissing), HasSubstr("\"b\""));
  EXPECT_THAT(rowsOf("json", kAbc, {R"({"a":1,"b":null,"c":1})"}, failOnMissing), ElementsAre("+I[1, null, 1.00]"));

  const char* notNull = "a BIGINT NOT NULL, b STRING";
  EXPECT_THAT(errorOf("json", notNull, {R"({"a":null,"b":"x"})"}), HasSubstr("\"a\""));
  EXPECT_THAT(errorOf("json", notNull, {R"({"b":"x"})"}), HasSubstr("\"a\""));

  EXPECT_THAT(errorOf("json", kAbc, {R"({"a":"x","b":"y"})"}), HasSubstr("\"a\""));
  EXPECT_THAT(errorOf("json", kAbc, {R"({"a":1.5})"}), HasSubstr("\"a\""));
  EXPECT_THAT(errorOf("json", kAbc, {R"({"c":1000})"}), HasSubstr("\"c\""));  // 1000.00 is not DECIMAL(5, 2)
  EXPECT_THAT(errorOf("json", "b BYTES", {R"({"b":"Zg="})"}), HasSubstr("\"b\""));
  EXPECT_THAT(errorOf("json", kAbc, {R"({"a":1,"a":2})"}), HasSubstr("duplicate"));
  // Not an object, not closed, trailing content.
  for (const char* bad : {"[1]", "{\"a\":", "{\"a\":1} x", "{\"a\":1} {\"a\":2}"})
    EXPECT_FALSE(errorOf("json", kAbc, {bad}).empty());

  Options ignore{{"json.ignore-parse-errors", "true"}};
  EXPECT_THAT(rowsOf("json", kAbc, {R"({"a":"x","b":"y","c":2.5})"}, ignore), ElementsAre("+I[null, y, 2.50]"));
  EXPECT_FALSE(errorOf("json", kAbc, {"{\"a\":"}, ignore).empty());
}

TEST(JsonFormatTest, AFailedDecodeAppendsNoRow) {
  std::shared_ptr<const Schema> schema = schemaOf(kAbc);
  Result<std::unique_ptr<Decoder>> decoder = makeDecoder("json", schema, Options{});
  ASSERT_TRUE(decoder.isOk()) << decoder.status().message();
  RowBatch batch(schema);
  ASSERT_TRUE((*decoder)->decode(R"({"a":1,"b":"ok"})", batch).isOk());
  EXPECT_FALSE((*decoder)->decode(R"({"b":"half","a":"x"})", batch).isOk());
  EXPECT_FALSE((*decoder)->decode(R"({"a":2,"b":"z"} trailing)", batch).isOk());
  ASSERT_EQ(batch.size(), 1u);
  ASSERT_TRUE((*decoder)->decode(R"({"a":3})", batch).isOk());
  EXPECT_THAT(allText(batch), ElementsAre("+I[1, ok, null]", "+I[3, null, null]"));
}

TEST(JsonFormatTest, EncodesAndDecodesBack) {
  const char* columns = "id BIGINT, name STRING, price DECIMAL(10, 2), d DOUBLE, ts TIMESTAMP(3), ok BOOLEAN, "
                        "note STRING, r ROW<x INT, y STRING>";
  std::shared_ptr<const Schema> schema = schemaOf(columns);
  RowBatch rows(schema);
  size_t r = rows.appendRow();
  RowBatch::setInt(rows.columns[0], r, 7);
  rows.setString(rows.columns[1], r, "a\"b");
  RowBatch::setDecimal(rows.columns[2], r, 1230);
  RowBatch::setDouble(rows.columns[3], r, 2.5);
  RowBatch::setInt(rows.columns[4], r, 1000);
  RowBatch::setInt(rows.columns[5], r, 1);
  RowBatch::setPresent(rows.columns[7], r);
  RowBatch::setInt(rows.columns[7].children[0], r, 1);
  const std::string text = R"(+I[7, a"b, 12.30, 2.5, 1970-01-01 00:00:01.000, true, null, (1, null)])";
  ASSERT_THAT(allText(rows), ElementsAre(text));

  const Rows json = encodeAll("json", rows);
  EXPECT_THAT(json, ElementsAre(R"({"id":7,"name":"a\"b","price":12.30,"d":2.5,"ts":"1970-01-01 00:00:01.000","ok":true,)"
                                R"("note":null,"r":{"x":1,"y":null}})"));
  EXPECT_THAT(rowsOf("json", columns, json), ElementsAre(text));

  RowBatch times = jsonRows("ts TIMESTAMP(3), z TIMESTAMP_LTZ(3), b BYTES", {R"({"ts":1000,"z":1000,"b":"Zm9v"})"});
  EXPECT_THAT(encodeAll("json", times, Options{{"json.timestamp-format.standard", "ISO-8601"}}),
              ElementsAre(R"({"ts":"1970-01-01T00:00:01.000","z":"1970-01-01T00:00:01.000Z","b":"Zm9v"})"));
}

// ---- csv ------------------------------------------------------------------------------------

TEST(CsvFormatTest, Decodes) {
  EXPECT_THAT(rowsOf("csv", kAbc, {"1,abc,2.50", R"(1,"a,""b""",3.00)", ",x,1", R"(1,"",1)", "1,,1", "2,y,0.5\r"}),
              ElementsAre("+I[1, abc, 2.50]", R"(+I[1, a,"b", 3.00])", "+I[null, x, 1.00]", "+I[1, , 1.00]",
                          "+I[1, , 1.00]", "+I[2, y, 0.50]"));
  EXPECT_THAT(errorOf("csv", kAbc, {"1,2"}), HasSubstr("fields"));
  EXPECT_THAT(errorOf("csv", kAbc, {"1,2,3,4"}), HasSubstr("fields"));
  EXPECT_FALSE(errorOf("csv", kAbc, {R"(1,"abc,2)"}).empty());
  EXPECT_THAT(errorOf("csv", kAbc, {"x,abc,1"}), HasSubstr("\"a\""));
  EXPECT_FALSE(errorOf("csv", "a BIGINT NOT NULL, b STRING", {",x"}).empty());
  EXPECT_FALSE(errorOf("csv", "r ROW<x INT>", {}).empty());  // refused at makeDecoder
}

TEST(CsvFormatTest, Options) {
  EXPECT_THAT(rowsOf("csv", kAbc, {"1|a,b|2.5"}, Options{{"csv.field-delimiter", "|"}}), ElementsAre("+I[1, a,b, 2.50]"));
  EXPECT_THAT(rowsOf("csv", kAbc, {"1\tx\t0.5"}, Options{{"csv.field-delimiter", "\\t"}}), ElementsAre("+I[1, x, 0.50]"));
  EXPECT_THAT(rowsOf("csv", kAbc, {"1\tx\t0.5"}, Options{{"csv.field-delimiter", "\t"}}), ElementsAre("+I[1, x, 0.50]"));

  Options comments{{"csv.allow-comments", "true"}};
  EXPECT_THAT(rowsOf("csv", kAbc, {"# a comment", "1,x,1"}, comments), ElementsAre("+I[1, x, 1.00]"));
  EXPECT_THAT(rowsOf("csv", kAbc, {"# only a comment"}, comments), IsEmpty());
  EXPECT_FALSE(errorOf("csv", kAbc, {"# a comment"}).empty());  // without the option: one field

  Options nulls{{"csv.null-literal", "NULL"}};
  EXPECT_THAT(rowsOf("csv", kAbc, {"NULL,NULL,NULL", R"(1,"NULL",1)"}, nulls),
              ElementsAre("+I[null, null, null]", "+I[1, NULL, 1.00]"));
}

TEST(CsvFormatTest, EncodesAndDecodesBack) {
  RowBatch rows = jsonRows(kAbc, {R"({"a":1,"b":"x,y"})", R"({"b":"say \"hi\"","c":12.34})", R"({"a":2,"b":"","c":0.05})",
                                   R"({"a":3,"b":"NULL"})"});
  const Rows text = {"+I[1, x,y, null]", R"(+I[null, say "hi", 12.34])", "+I[2, , 0.05]", "+I[3, NULL, null]"};
  ASSERT_EQ(allText(rows), text);

  const Rows lines = encodeAll("csv", rows);
  EXPECT_THAT(lines, ElementsAre(R"(1,"x,y",)", R"(,"say ""hi""",12.34)", R"(2,"",0.05)", "3,NULL,"));
  EXPECT_EQ(rowsOf("csv", kAbc, lines), text);

  Options nulls{{"csv.null-literal", "NULL"}};
  const Rows withNulls = encodeAll("csv", rows, nulls);
  EXPECT_THAT(withNulls, ElementsAre(R"(1,"x,y",NULL)", R"(NULL,"say ""hi""",12.34)", R"(2,"",0.05)", R"(3,"NULL",NULL)"));
  EXPECT_EQ(rowsOf("csv", kAbc, withNulls, nulls), text);

  EXPECT_THAT(encodeAll("csv", rows, Options{{"csv.field-delimiter", "|"}}),
              ElementsAre("1|x,y|", R"(|"say ""hi"""|12.34)", R"(2|""|0.05)", "3|NULL|"));
}

// ---- raw ------------------------------------------------------------------------------------

TEST(RawFormatTest, PassesBytesThrough) {
  EXPECT_THAT(rowsOf("raw", "line STRING", {"hello, \"world\" {", ""}), ElementsAre("+I[hello, \"world\" {]", "+I[]"));
  EXPECT_THAT(errorOf("raw", "a STRING, b STRING", {}), HasSubstr("raw"));  // refused at makeDecoder
  EXPECT_THAT(errorOf("raw", "n BIGINT", {}), HasSubstr("raw"));
  EXPECT_THAT(encodeAll("raw", jsonRows("s STRING", {R"({"s":"a,b\n"})", "{}"})), ElementsAre("a,b\n", ""));
}

// ---- debezium-json --------------------------------------------------------------------------

constexpr std::string_view kIdName = "id BIGINT, name STRING";
Rows changes(const std::vector<std::string>& messages, const Options& options = {}) {
  return rowsOf("debezium-json", kIdName, messages, options);
}
std::string changeError(const std::string& message, const Options& options = {}) {
  return errorOf("debezium-json", kIdName, {message}, options);
}

TEST(DebeziumJsonFormatTest, DecodesChangeEvents) {
  const std::string a = R"({"id":1,"name":"a"})", b = R"({"id":1,"name":"b"})";
  EXPECT_THAT(changes({R"({"before":null,"after":)" + a + R"(,"op":"c"})"}), ElementsAre("+I[1, a]"));
  EXPECT_THAT(changes({R"({"op":"r","after":)" + a + R"(,"source":{"db":"x"}})"}), ElementsAre("+I[1, a]"));
  // An update gives -U then +U, wherever "op" is and whichever image comes first.
  EXPECT_THAT(changes({R"({"op":"u","before":)" + a + R"(,"after":)" + b + "}"}), ElementsAre("-U[1, a]", "+U[1, b]"));
  EXPECT_THAT(changes({R"({"after":)" + b + R"(,"before":)" + a + R"(,"op":"u"})"}), ElementsAre("-U[1, a]", "+U[1, b]"));
  EXPECT_THAT(changes({R"({"before":)" + a + R"(,"after":null,"op":"d"})"}), ElementsAre("-D[1, a]"));
  EXPECT_THAT(changes({""}), IsEmpty());  // a tombstone
  EXPECT_THAT(changes({R"({"after":)" + a + R"(,"op":"c"})", "", R"({"before":)" + a + R"(,"after":)" + b + R"(,"op":"u"})",
                       R"({"before":)" + b + R"(,"after":null,"op":"d"})"}),
              ElementsAre("+I[1, a]", "-U[1, a]", "+U[1, b]", "-D[1, b]"));
  // With debezium-json.schema-include, the event is under "payload".
  Options include{{"debezium-json.schema-include", "true"}};
  EXPECT_THAT(changes({R"({"schema":{"type":"struct"},"payload":{"before":null,"after":)" + a + R"(,"op":"c"}})"}, include),
              ElementsAre("+I[1, a]"));
  EXPECT_FALSE(changeError(R"({"before":null,"after":)" + a + R"(,"op":"c"})", include).empty());
}

TEST(DebeziumJsonFormatTest, Errors) {
  const std::string a = R"({"id":1,"name":"a"})";
  EXPECT_THAT(changeError(R"({"before":null,"after":)" + a + "}"), HasSubstr("op"));
  EXPECT_THAT(changeError(R"({"before":null,"after":)" + a + R"(,"op":"x"})"), HasSubstr("\"x\""));
  EXPECT_THAT(changeError(R"({"before":null,"after":)" + a + R"(,"op":"u"})"), HasSubstr("REPLICA IDENTITY"));
  EXPECT_FALSE(changeError(R"({"before":null,"after":null,"op":"c"})").empty());
  EXPECT_FALSE(changeError(R"({"after":{"id":"x"},"op":"c"})").empty());

  // A failed message leaves the batch as it was.
  std::shared_ptr<const Schema> schema = schemaOf(kIdName);
  Result<std::unique_ptr<Decoder>> decoder = makeDecoder("debezium-json", schema, Options{});
  ASSERT_TRUE(decoder.isOk()) << decoder.status().message();
  RowBatch batch(schema);
  ASSERT_TRUE((*decoder)->decode(R"({"after":)" + a + R"(,"op":"c"})", batch).isOk());
  EXPECT_FALSE((*decoder)->decode(R"({"before":)" + a + R"(,"after":)" + a + R"(,"op":"x"})", batch).isOk());
  EXPECT_THAT(allText(batch), ElementsAre("+I[1, a]"));
}

TEST(DebeziumJsonFormatTest, Encodes) {
  const std::string a = R"({"id":1,"name":"a"})";
  RowBatch rows = jsonRows(kIdName, {a, a, a, a});
  rows.kinds = {RowKind::kInsert, RowKind::kDelete, RowKind::kUpdateBefore, RowKind::kUpdateAfter};
  const std::string insert = R"({"before":null,"after":{"id":1,"name":"a"},"op":"c"})";
  const std::string del = R"({"before":{"id":1,"name":"a"},"after":null,"op":"d"})";
  // -U is written as a delete, +U as an insert.
  EXPECT_THAT(encodeAll("debezium-json", rows), ElementsAre(insert, del, del, insert));
  EXPECT_THAT(changes({insert, del}), ElementsAre("+I[1, a]", "-D[1, a]"));
  EXPECT_FALSE(makeEncoder("debezium-json", rows.schemaPtr(), Options{{"debezium-json.schema-include", "true"}}).isOk());
}

// ---- changelog-json ---------------------------------------------------------------------------

TEST(JsonFormatTest, TimestampsOutsideYears0To9999AreRefused) {
  // Epoch milliseconds of year 670 000, and a time that an offset moves before year 0000: their
  // text could not be read back.
  EXPECT_THAT(errorOf("json", "t TIMESTAMP(3)", {R"({"t":21111111111111111})"}), HasSubstr("outside years 0000 to 9999"));
  EXPECT_THAT(errorOf("json", "t TIMESTAMP(3)", {R"({"t":"0000-01-01T00:00:00+01:00"})"}), HasSubstr("outside years 0000 to 9999"));
  EXPECT_THAT(rowsOf("json", "t TIMESTAMP(3)", {R"({"t":253402300799999})"}), ElementsAre("+I[9999-12-31 23:59:59.999]"));
}

TEST(ChangelogJsonFormatTest, WritesAndReadsRowKinds) {
  const std::string a = R"({"id":1,"name":"a"})";
  RowBatch rows = jsonRows(kIdName, {a, a, a, a});
  rows.kinds = {RowKind::kInsert, RowKind::kUpdateBefore, RowKind::kUpdateAfter, RowKind::kDelete};
  const Rows encoded = encodeAll("changelog-json", rows);
  EXPECT_THAT(encoded, ElementsAre(R"({"id":1,"name":"a","op":"+I"})", R"({"id":1,"name":"a","op":"-U"})",
                                   R"({"id":1,"name":"a","op":"+U"})", R"({"id":1,"name":"a","op":"-D"})"));
  EXPECT_THAT(rowsOf("changelog-json", kIdName, encoded), ElementsAre("+I[1, a]", "-U[1, a]", "+U[1, a]", "-D[1, a]"));
  // "op" may come first; without one a row is an insert.
  EXPECT_THAT(rowsOf("changelog-json", kIdName, {R"({"op":"-D","id":2,"name":"b"})", R"({"id":3})"}), ElementsAre("-D[2, b]", "+I[3, null]"));
  EXPECT_THAT(errorOf("changelog-json", kIdName, {R"({"id":1,"op":"x"})"}), HasSubstr("accepted: +I, -U, +U, -D"));
  EXPECT_THAT(errorOf("changelog-json", kIdName, {R"({"id":1,"op":7})"}), HasSubstr("\"op\" must be a string"));
  EXPECT_FALSE(makeEncoder("changelog-json", schemaOf("op STRING"), Options{}).isOk());
}

// ---- Registry and options -------------------------------------------------------------------

TEST(FormatRegistryTest, FindsFormatsAndChecksTheirOptions) {
  Result<const FormatFactory*> csv = findFormat("csv");
  EXPECT_TRUE(csv.isOk() && (*csv)->name == "csv");
  Result<const FormatFactory*> debezium = findFormat("debezium-json");
  EXPECT_TRUE(debezium.isOk() && (*debezium)->changelog);

  Result<const FormatFactory*> avro = findFormat("avro");
  ASSERT_FALSE(avro.isOk());
  EXPECT_THAT(avro.status().message(), AllOf(HasSubstr("avro"), HasSubstr("json"), HasSubstr("csv")));

  std::shared_ptr<const Schema> schema = schemaOf(kAbc);
  Result<std::unique_ptr<Decoder>> bad = makeDecoder("json", schema, Options{{"json.no-such", "1"}});
  ASSERT_FALSE(bad.isOk());
  EXPECT_THAT(bad.status().message(), AllOf(HasSubstr("no-such"), HasSubstr("fail-on-missing-field")));
  // Keys of other formats and of the connector are not the format's business.
  EXPECT_TRUE(makeDecoder("json", schema, Options{{"topic", "t"}, {"csv.field-delimiter", "|"}}).isOk());
  EXPECT_FALSE(makeDecoder("json", schema, Options{{"json.fail-on-missing-field", "maybe"}}).isOk());
  EXPECT_FALSE(makeEncoder("json", schema, Options{{"json.timestamp-format.standard", "RFC"}}).isOk());
  // A prefix ("key.") selects the options under "key.json.".
  Options keyed{{"key.json.fail-on-missing-field", "true"}};
  Result<std::unique_ptr<Decoder>> prefixed = makeDecoder("json", schema, keyed, "key.");
  ASSERT_TRUE(prefixed.isOk()) << prefixed.status().message();
  RowBatch batch(schema);
  EXPECT_FALSE((*prefixed)->decode(R"({"a":1})", batch).isOk());  // "b" and "c" are missing
}

TEST(OptionsTest, TypedGetters) {
  Options o{{"yes", "yes"}, {"upper", "TRUE"}, {"tab", "\\t"}, {"pipe", "|"}, {"two", "ab"}, {"bad-n", "1x"}};
  Result<bool> b = o.getBool("yes", false);
  ASSERT_FALSE(b.isOk());
  EXPECT_THAT(b.status().message(), HasSubstr("true or false"));
  auto flag = [&](const char* key, bool fallback) {
    Result<bool> r = o.getBool(key, fallback);
    return r.isOk() && *r;
  };
  EXPECT_TRUE(flag("upper", false));  // case does not matter
  EXPECT_TRUE(flag("absent", true));

  Result<char> c = o.getChar("tab", ',');
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(*c, '\t');
  c = o.getChar("pipe", ',');
  EXPECT_TRUE(c.isOk() && *c == '|');
  EXPECT_FALSE(o.getChar("two", ',').isOk());

  EXPECT_FALSE(o.getInt("bad-n", 0).isOk());
  Options prefixed{{"csv.a", "1"}, {"csvx", "2"}, {"json.b", "3"}};
  EXPECT_EQ(prefixed.withPrefix("csv").values(), (std::map<std::string, std::string, std::less<>>{{"a", "1"}}));
}

TEST(OptionsTest, CheckKeysAcceptsWildcards) {
  const std::vector<std::string> accepted = {"topic", "properties.*"};
  EXPECT_TRUE(Options({{"topic", "t"}, {"properties.group.id", "g"}}).checkKeys("connector 'kafka'", accepted).isOk());
  Status s = Options({{"topic", "t"}, {"bogus", "1"}}).checkKeys("connector 'kafka'", accepted);
  ASSERT_FALSE(s.isOk());
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("'bogus'"), HasSubstr("connector 'kafka'"), HasSubstr("topic"), HasSubstr("properties.*")));
  EXPECT_FALSE(Options({{"propertiesgroup", "g"}}).checkKeys("connector 'kafka'", accepted).isOk());
}

// ---- Base64 ---------------------------------------------------------------------------------

TEST(Base64Test, Rfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}, {std::string("\x00\xff\xfe", 3), "AP/+"}};
  for (const auto& [plain, encoded] : vectors) {
    std::string out;
    appendBase64(plain, out);
    EXPECT_EQ(out, encoded);
    Result<std::string> back = decodeBase64(encoded);
    ASSERT_TRUE(back.isOk()) << encoded << ": " << back.status().message();
    EXPECT_EQ(*back, plain);
  }
  // A bad length, a bad character, padding anywhere but at the very end.
  for (const char* bad : {"Zg=", "Z!==", "=AAA", "Zm=v", "Zg==Zg=="}) EXPECT_FALSE(decodeBase64(bad).isOk()) << bad;
}

}  // namespace
}  // namespace reka::connector
