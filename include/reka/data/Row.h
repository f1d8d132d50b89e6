#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reka/base/Status.h"
#include "reka/data/Batch.h"
#include "reka/data/StringArena.h"

namespace reka {

/// Row kinds of a changelog (Flink's RowKind): how an updating result changes.
enum class RowKind : uint8_t { kInsert, kUpdateBefore, kUpdateAfter, kDelete };

inline const char* rowKindCode(RowKind k) {
  switch (k) {
    case RowKind::kInsert: return "+I";
    case RowKind::kUpdateBefore: return "-U";
    case RowKind::kUpdateAfter: return "+U";
    case RowKind::kDelete: return "-D";
  }
  return "?";
}

/// The types a runtime-typed row holds, with Flink SQL's names and meaning.
/// BOOLEAN, INT and BIGINT, TIMESTAMP(p) and TIMESTAMP_LTZ(p) (milliseconds since the epoch;
/// TIMESTAMP has no time zone, TIMESTAMP_LTZ is an instant) are held as int64; DOUBLE as
/// double; DECIMAL(p, s) as a 128-bit unscaled integer (p ≤ 38); STRING (VARCHAR) and BYTES
/// as views into the batch's arena; ROW<…> as one column per nested field.
enum class TypeKind : uint8_t { kBoolean, kInt, kBigint, kDouble, kDecimal, kString, kBytes, kTimestamp, kTimestampLtz, kRow };

class Schema;

struct DataType {
  TypeKind kind = TypeKind::kString;
  bool nullable = true;
  int precision = 0;  ///< DECIMAL: 1..38; TIMESTAMP and TIMESTAMP_LTZ: 0..3
  int scale = 0;      ///< DECIMAL: 0..precision
  std::shared_ptr<const Schema> fields;  ///< ROW: the nested fields

  static DataType of(TypeKind kind, int precision = 0, int scale = 0) {
    DataType t;
    t.kind = kind;
    t.precision = precision;
    t.scale = scale;
    return t;
  }
  static DataType boolean() { return of(TypeKind::kBoolean); }
  static DataType integer() { return of(TypeKind::kInt); }
  static DataType bigint() { return of(TypeKind::kBigint); }
  static DataType float64() { return of(TypeKind::kDouble); }
  static DataType decimal(int precision, int scale) { return of(TypeKind::kDecimal, precision, scale); }
  static DataType string() { return of(TypeKind::kString); }
  static DataType bytes() { return of(TypeKind::kBytes); }
  static DataType timestamp(int precision = 3) { return of(TypeKind::kTimestamp, precision); }
  static DataType timestampLtz(int precision = 3) { return of(TypeKind::kTimestampLtz, precision); }
  static DataType row(Schema fields);
  DataType notNull() const {
    DataType t = *this;
    t.nullable = false;
    return t;
  }

  /// Held as int64 (BOOLEAN, INT, BIGINT, TIMESTAMP, TIMESTAMP_LTZ).
  bool isIntegral() const {
    return kind == TypeKind::kBoolean || kind == TypeKind::kInt || kind == TypeKind::kBigint ||
           kind == TypeKind::kTimestamp || kind == TypeKind::kTimestampLtz;
  }
  /// Flink SQL's spelling: "BIGINT NOT NULL", "DECIMAL(10, 2)", "ROW<`a` INT, `b` STRING>".
  std::string toString() const;
  bool operator==(const DataType& o) const;
};

struct Field {
  std::string name;
  DataType type;
};

/// The fields of a row, in order. Names are case-sensitive, as in Flink SQL.
class Schema {
 public:
  Schema() = default;
  explicit Schema(std::vector<Field> fields) : fields_(std::move(fields)) {}

  /// Parses Flink SQL column definitions: "id BIGINT NOT NULL, name STRING, price DECIMAL(10, 2),
  /// ts TIMESTAMP(3), r ROW<a INT, b STRING>" (VARCHAR(n), CHAR(n), INTEGER, TINYINT, SMALLINT,
  /// FLOAT, BINARY, VARBINARY and TIMESTAMP WITH LOCAL TIME ZONE are accepted as their Reka
  /// type; backquotes quote names).
  static Result<Schema> parse(std::string_view text);

  const std::vector<Field>& fields() const { return fields_; }
  size_t size() const { return fields_.size(); }
  const Field& field(size_t i) const { return fields_[i]; }
  /// The index of the field called `name`, or -1.
  int indexOf(std::string_view name) const;
  /// "`a` INT, `b` STRING" (parse() reads it back).
  std::string toString() const;
  bool operator==(const Schema& o) const;

 private:
  std::vector<Field> fields_;
};

Result<DataType> parseDataType(std::string_view text);

/// DECIMAL values: unscaled 128-bit integers.
using Decimal = __int128;
/// The largest unscaled value of `precision` digits (10^precision - 1).
Decimal decimalLimit(int precision);
/// Reads a decimal number ("-12.345", "1e3", "7") as DECIMAL(precision, scale), rounding half
/// up to `scale` digits as Flink does; an error if it does not fit `precision` digits.
Result<Decimal> parseDecimal(std::string_view text, int precision, int scale);
/// "-12.30" for unscaled -1230 at scale 2.
void appendDecimal(Decimal unscaled, int scale, std::string& out);

/// The year, month (1..12) and day (1..31) of a day counted from 1970-01-01, and back.
void civilFromDays(int64_t epochDay, int64_t& year, unsigned& month, unsigned& day);
int64_t daysFromCivil(int64_t year, unsigned month, unsigned day);
/// "2026-12-06" for days since 1970-01-01.
void appendDate(int64_t epochDay, std::string& out);
/// "2026-12-06 08:33:18.123" (SQL format) or "2026-12-06T08:33:18.123" (ISO-8601) for epoch
/// milliseconds, with `precision` fraction digits (0..3); TIMESTAMP_LTZ adds "Z".
void appendTimestamp(int64_t epochMillis, int precision, bool iso, bool utcSuffix, std::string& out);
/// Reads "YYYY-MM-DD[ T]HH:MM[:SS[.fff…]][Z|±HH:MM]" or "YYYY-MM-DD" as epoch milliseconds
/// (an offset is applied; without one the time is taken as UTC).
Result<int64_t> parseTimestamp(std::string_view text);

/// The values of one field for every row of a batch. Only the vector that the field's type
/// uses is filled (see TypeKind); a null row holds a zero value there, so indices line up.
struct Column {
  std::vector<uint8_t> nulls;             ///< 1: the row's value is null
  std::vector<int64_t> ints;              ///< BOOLEAN (0/1), INT, BIGINT, TIMESTAMP, TIMESTAMP_LTZ
  std::vector<double> doubles;            ///< DOUBLE
  std::vector<Decimal> decimals;          ///< DECIMAL (unscaled)
  std::vector<std::string_view> strings;  ///< STRING, BYTES (into the batch's arena)
  std::vector<Column> children;           ///< ROW: one column per nested field

  bool isNull(size_t row) const { return nulls[row] != 0; }
};

/// A record type for the typed API: DataStream<Row> carries RowBatch batches of runtime-typed
/// rows (what formats decode and connectors from the registry read and write).
struct Row {};

/// A batch of runtime-typed rows: columnar, strings in an arena, a row kind per row, and the
/// schema it follows. What formats decode into and encode from; what DataStream<Row> carries.
class RowBatch final : public Batch {
 public:
  explicit RowBatch(std::shared_ptr<const Schema> schema = nullptr);

  size_t size() const override { return kinds.size(); }
  void clear() override;
  std::unique_ptr<Batch> clone() const override { return std::make_unique<RowBatch>(*this); }

  const Schema& schema() const { return *schema_; }
  const std::shared_ptr<const Schema>& schemaPtr() const { return schema_; }
  /// Replaces the schema (and empties the batch).
  void setSchema(std::shared_ptr<const Schema> schema);

  /// Appends a row of `kind` whose fields are all null (zero values); returns its index. Set
  /// its fields through the set…() calls.
  size_t appendRow(RowKind kind = RowKind::kInsert);
  /// Appends `n` such rows at once (cheaper than n appendRow calls); returns the first index.
  size_t appendRows(size_t n, RowKind kind = RowKind::kInsert);
  /// Keeps the first `n` rows (n ≤ size()): how a decoder takes back a row it could not finish.
  void resize(size_t n);
  /// Appends a copy of row `row` of `other` (same schema), retaining its buffers.
  void appendFrom(const RowBatch& other, size_t row);

  /// Setters for the last-appended rows. `col` is a column of this batch or a child of one
  /// (for ROW fields, see Column::children); string values are copied into the batch's arena.
  static void setNull(Column& col, size_t row);
  static void setInt(Column& col, size_t row, int64_t v);
  static void setDouble(Column& col, size_t row, double v);
  static void setDecimal(Column& col, size_t row, Decimal v);
  void setString(Column& col, size_t row, std::string_view v);
  /// Makes a ROW value non-null (its children keep their own nulls).
  static void setPresent(Column& col, size_t row);

  /// Appends row `row` as text, "+I[1, abc, null]" (Flink's print format).
  void appendText(size_t row, std::string& out) const;
  /// The batch's arena, created on first use and kept alive by the batch.
  StringArena& arena();

  std::vector<Column> columns;
  std::vector<RowKind> kinds;

 private:
  std::shared_ptr<const Schema> schema_;
  std::shared_ptr<StringArena> arena_;
};

/// The text of a value as Flink's print connector and CSV write it ("null" for null).
void appendValueText(const Column& col, const DataType& type, size_t row, std::string& out);

/// How the typed API stores records of type T in batches: RecordBatch<T> for plain structs,
/// RowBatch for Row. `records(b)` is what connectors append to and count.
template <class T>
struct BatchTraits {
  using type = RecordBatch<T>;
  static std::vector<T>& records(RecordBatch<T>& b) { return b.records; }
};
template <>
struct BatchTraits<Row> {
  using type = RowBatch;
  static RowBatch& records(RowBatch& b) { return b; }
};
template <class T>
using BatchOf = typename BatchTraits<T>::type;

/// Appends the values of `columns` of row `row` as one binary key (what GROUP BY and keyed
/// exchanges of rows hash and store): equal values give equal bytes. ROW columns are not keys.
void appendRowKey(const RowBatch& rows, size_t row, const std::vector<int>& columns, std::string& out);
/// Reads `count` values that appendRowKey wrote into columns [first, first + count) of row `row`
/// of `out` (whose schema is `schema`), consuming them from `key`; false if `key` is malformed.
bool readRowKey(std::string_view& key, const Schema& schema, size_t first, size_t count, RowBatch& out, size_t row);

}  // namespace reka
