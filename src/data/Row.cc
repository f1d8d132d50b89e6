#include "reka/data/Row.h"

#include <cstring>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace reka {

DataType DataType::row(Schema fields) {
  DataType t = of(TypeKind::kRow);
  t.fields = std::make_shared<const Schema>(std::move(fields));
  return t;
}

namespace {
std::string quoteName(const std::string& name) {
  std::string out = "`";
  for (char c : name) {
    out += c;
    if (c == '`') out += '`';
  }
  return out + "`";
}
}  // namespace

std::string DataType::toString() const {
  std::string s;
  switch (kind) {
    case TypeKind::kBoolean: s = "BOOLEAN"; break;
    case TypeKind::kInt: s = "INT"; break;
    case TypeKind::kBigint: s = "BIGINT"; break;
    case TypeKind::kDouble: s = "DOUBLE"; break;
    case TypeKind::kDecimal: s = fmt::format("DECIMAL({}, {})", precision, scale); break;
    case TypeKind::kString: s = "STRING"; break;
    case TypeKind::kBytes: s = "BYTES"; break;
    case TypeKind::kTimestamp: s = fmt::format("TIMESTAMP({})", precision); break;
    case TypeKind::kTimestampLtz: s = fmt::format("TIMESTAMP_LTZ({})", precision); break;
    case TypeKind::kRow: s = "ROW<" + fields->toString() + ">"; break;
  }
  if (!nullable) s += " NOT NULL";
  return s;
}

bool DataType::operator==(const DataType& o) const {
  if (kind != o.kind || nullable != o.nullable || precision != o.precision || scale != o.scale) return false;
  if (kind != TypeKind::kRow) return true;
  return *fields == *o.fields;
}

int Schema::indexOf(std::string_view name) const {
  for (size_t i = 0; i < fields_.size(); ++i)
    if (fields_[i].name == name) return static_cast<int>(i);
  return -1;
}

std::string Schema::toString() const {
  std::string s;
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (i > 0) s += ", ";
    s += quoteName(fields_[i].name) + " " + fields_[i].type.toString();
  }
  return s;
}

bool Schema::operator==(const Schema& o) const {
  if (fields_.size() != o.fields_.size()) return false;
  for (size_t i = 0; i < fields_.size(); ++i)
    if (fields_[i].name != o.fields_[i].name || !(fields_[i].type == o.fields_[i].type)) return false;
  return true;
}

// ---- Parsing column definitions -----------------------------------------------------------

namespace {

class TypeParser {
 public:
  explicit TypeParser(std::string_view text) : text_(text) {}

  Result<Schema> fieldList(char end) {
    std::vector<Field> fields;
    skipSpace();
    if (atEnd(end)) return Status::invalidArgument(error("a field name"));
    for (;;) {
      Field f;
      REKA_ASSIGN_OR_RETURN(f.name, name());
      for (const auto& existing : fields)
        if (existing.name == f.name) return Status::invalidArgument("field '" + f.name + "' is defined twice");
      REKA_ASSIGN_OR_RETURN(f.type, type());
      fields.push_back(std::move(f));
      skipSpace();
      if (atEnd(end)) break;
      if (!take(',')) return Status::invalidArgument(error("',' or the end of the field list"));
    }
    return Schema(std::move(fields));
  }

  Result<DataType> type() {
    REKA_ASSIGN_OR_RETURN(std::string word, keyword());
    DataType t;
    if (word == "BOOLEAN") {
      t = DataType::boolean();
    } else if (word == "INT" || word == "INTEGER" || word == "TINYINT" || word == "SMALLINT") {
      t = DataType::integer();
    } else if (word == "BIGINT") {
      t = DataType::bigint();
    } else if (word == "DOUBLE" || word == "FLOAT" || word == "REAL") {
      if (word == "DOUBLE") acceptWord("PRECISION");
      t = DataType::float64();
    } else if (word == "DECIMAL" || word == "DEC" || word == "NUMERIC") {
      int p = 10, s = 0;  // Flink's default DECIMAL is DECIMAL(10, 0)
      if (take('(')) {
        REKA_ASSIGN_OR_RETURN(p, number());
        if (take(',')) {
          REKA_ASSIGN_OR_RETURN(s, number());
        }
        if (!take(')')) return Status::invalidArgument(error("')'"));
      }
      if (p < 1 || p > 38) return Status::invalidArgument(fmt::format("DECIMAL precision {} is not in 1..38", p));
      if (s < 0 || s > p) return Status::invalidArgument(fmt::format("DECIMAL scale {} is not in 0..{}", s, p));
      t = DataType::decimal(p, s);
    } else if (word == "STRING" || word == "VARCHAR" || word == "CHAR") {
      if (word != "STRING") REKA_RETURN_IF_ERROR(optionalLength());
      t = DataType::string();
    } else if (word == "BYTES" || word == "BINARY" || word == "VARBINARY") {
      if (word != "BYTES") REKA_RETURN_IF_ERROR(optionalLength());
      t = DataType::bytes();
    } else if (word == "TIMESTAMP" || word == "TIMESTAMP_LTZ") {
      int p = 6;  // Flink's default precision; Reka keeps milliseconds
      if (take('(')) {
        REKA_ASSIGN_OR_RETURN(p, number());
        if (!take(')')) return Status::invalidArgument(error("')'"));
      }
      if (p < 0 || p > 9) return Status::invalidArgument(fmt::format("{} precision {} is not in 0..9", word, p));
      bool ltz = word == "TIMESTAMP_LTZ";
      if (!ltz && acceptWord("WITH")) {
        if (!acceptWord("LOCAL")) return Status::invalidArgument("TIMESTAMP WITH TIME ZONE is not supported; use TIMESTAMP_LTZ (TIMESTAMP WITH LOCAL TIME ZONE)");
        ltz = true;
        if (!acceptWord("TIME") || !acceptWord("ZONE"))
          return Status::invalidArgument(error("TIME ZONE (TIMESTAMP WITH LOCAL TIME ZONE)"));
      } else if (!ltz && acceptWord("WITHOUT")) {
        if (!acceptWord("TIME") || !acceptWord("ZONE")) return Status::invalidArgument(error("TIME ZONE"));
      }
      // Reka holds milliseconds: a finer precision is kept at 3 digits.
      t = ltz ? DataType::timestampLtz(std::min(p, 3)) : DataType::timestamp(std::min(p, 3));
    } else if (word == "ROW") {
      char close;
      if (take('<')) {
        close = '>';
      } else if (take('(')) {
        close = ')';
      } else {
        return Status::invalidArgument(error("'<' after ROW"));
      }
      REKA_ASSIGN_OR_RETURN(Schema nested, fieldList(close));
      take(close);
      t = DataType::row(std::move(nested));
    } else {
      return Status::invalidArgument("unknown type '" + word +
                                     "'; accepted: BOOLEAN, INT, BIGINT, DOUBLE, DECIMAL(p, s), STRING, VARCHAR(n), BYTES, "
                                     "TIMESTAMP(p), TIMESTAMP_LTZ(p), ROW<…>");
    }
    if (acceptWord("NOT")) {
      if (!acceptWord("NULL")) return Status::invalidArgument(error("NULL after NOT"));
      t.nullable = false;
    } else {
      acceptWord("NULL");
    }
    return t;
  }

  Status finish() {
    skipSpace();
    if (pos_ != text_.size()) return Status::invalidArgument(error("the end"));
    return Status::ok();
  }

 private:
  void skipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool atEnd(char end) {
    skipSpace();
    return end == 0 ? pos_ == text_.size() : pos_ < text_.size() && text_[pos_] == end;
  }
  bool take(char c) {
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::string error(const std::string& expected) const {
    std::string_view rest = text_.substr(pos_, 20);
    return fmt::format("column definitions: expected {} at offset {} ('{}')", expected, pos_,
                       pos_ < text_.size() ? std::string(rest) : std::string("end of text"));
  }
  Result<std::string> name() {
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == '`') {
      std::string out;
      for (++pos_; pos_ < text_.size(); ++pos_) {
        if (text_[pos_] == '`') {
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '`') {
            out += '`';
            ++pos_;
            continue;
          }
          ++pos_;
          if (out.empty()) return Status::invalidArgument("column definitions: an empty name ``");
          return out;
        }
        out += text_[pos_];
      }
      return Status::invalidArgument("column definitions: a backquoted name is not closed");
    }
    size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_' || text_[pos_] == '$'))
      ++pos_;
    if (pos_ == start || std::isdigit(static_cast<unsigned char>(text_[start])))
      return Status::invalidArgument(error("a field name"));
    return std::string(text_.substr(start, pos_ - start));
  }
  Result<std::string> keyword() {
    skipSpace();
    size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) ++pos_;
    if (pos_ == start) return Status::invalidArgument(error("a type"));
    std::string w(text_.substr(start, pos_ - start));
    for (char& c : w) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return w;
  }
  bool acceptWord(std::string_view w) {
    skipSpace();
    size_t end = pos_;
    while (end < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_')) ++end;
    if (end - pos_ != w.size()) return false;
    for (size_t i = 0; i < w.size(); ++i)
      if (std::toupper(static_cast<unsigned char>(text_[pos_ + i])) != w[i]) return false;
    pos_ = end;
    return true;
  }
  Result<int> number() {
    skipSpace();
    int v = 0;
    auto [p, ec] = std::from_chars(text_.data() + pos_, text_.data() + text_.size(), v);
    if (ec != std::errc()) return Status::invalidArgument(error("a number"));
    pos_ = static_cast<size_t>(p - text_.data());
    return v;
  }
  Status optionalLength() {
    if (!take('(')) return Status::ok();
    REKA_ASSIGN_OR_RETURN(int n, number());
    (void)n;
    if (!take(')')) return Status::invalidArgument(error("')'"));
    return Status::ok();
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Result<Schema> Schema::parse(std::string_view text) {
  TypeParser p(text);
  REKA_ASSIGN_OR_RETURN(Schema s, p.fieldList(0));
  REKA_RETURN_IF_ERROR(p.finish());
  return s;
}

Result<DataType> parseDataType(std::string_view text) {
  TypeParser p(text);
  REKA_ASSIGN_OR_RETURN(DataType t, p.type());
  REKA_RETURN_IF_ERROR(p.finish());
  return t;
}

// ---- Decimals -----------------------------------------------------------------------------

Decimal decimalLimit(int precision) {
  static const auto limits = [] {
    std::array<Decimal, 39> t{};
    Decimal v = 1;  // 10^i; 10^39 does not fit, so stop multiplying after 10^38
    for (size_t i = 0; i < t.size(); ++i) {
      t[i] = v - 1;
      if (i + 1 < t.size()) v *= 10;
    }
    return t;
  }();
  return limits[static_cast<size_t>(std::clamp(precision, 0, 38))];
}

Result<Decimal> parseDecimal(std::string_view text, int precision, int scale) {
  auto bad = [&] { return Status::invalidArgument("'" + std::string(text) + "' is not a decimal number"); };
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  // Digits before and after the point, then an exponent: value = digits × 10^(exp - fraction).
  std::string digits;
  int fraction = 0;
  bool point = false, any = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      any = true;
      if (!(digits.empty() && c == '0')) digits += c;
      if (point) ++fraction;
    } else if (c == '.' && !point) {
      point = true;
    } else {
      break;
    }
  }
  if (!any) return bad();
  int exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    auto [p, ec] = std::from_chars(text.data() + i + 1 + (i + 1 < text.size() && text[i + 1] == '+'), text.data() + text.size(), exponent);
    if (ec != std::errc() || p != text.data() + text.size() || exponent < -400 || exponent > 400) return bad();
    i = text.size();
  }
  if (i != text.size()) return bad();
  // Scale the digits to `scale`: shift = scale - (fraction - exponent).
  int shift = scale - (fraction - exponent);
  bool roundUp = false;
  if (shift < 0) {
    int drop = -shift;
    if (drop > static_cast<int>(digits.size())) {
      digits.clear();
    } else {
      roundUp = digits[digits.size() - static_cast<size_t>(drop)] >= '5';
      digits.resize(digits.size() - static_cast<size_t>(drop));
    }
    shift = 0;
  }
  if (static_cast<int>(digits.size()) + shift > precision)
    return Status::invalidArgument(fmt::format("'{}' does not fit DECIMAL({}, {})", text, precision, scale));
  Decimal v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  for (int k = 0; k < shift; ++k) v *= 10;
  if (roundUp) ++v;
  if (v > decimalLimit(precision))
    return Status::invalidArgument(fmt::format("'{}' does not fit DECIMAL({}, {})", text, precision, scale));
  return negative ? -v : v;
}

void appendDecimal(Decimal unscaled, int scale, std::string& out) {
  if (unscaled < 0) out += '-';
  unsigned __int128 v = unscaled < 0 ? static_cast<unsigned __int128>(-(unscaled + 1)) + 1 : static_cast<unsigned __int128>(unscaled);
  char buf[48];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  } while (v != 0);
  while (n <= scale) buf[n++] = '0';  // at least one digit before the point
  for (int k = n - 1; k >= 0; --k) {
    out += buf[k];
    if (k == scale && scale > 0) out += '.';
  }
}

// ---- Timestamps ---------------------------------------------------------------------------

// Civil dates from and to days since 1970-01-01 (Howard Hinnant's algorithms).
void civilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  if (m <= 2) ++y;
}

int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

namespace {
int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
}  // namespace

void appendDate(int64_t epochDay, std::string& out) {
  int64_t y;
  unsigned m, d;
  civilFromDays(epochDay, y, m, d);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}", y, m, d);
}

void appendTimestamp(int64_t epochMillis, int precision, bool iso, bool utcSuffix, std::string& out) {
  const int64_t day = floorDiv(epochMillis, 86400000);
  const int64_t ms = epochMillis - day * 86400000;
  appendDate(day, out);
  fmt::format_to(std::back_inserter(out), "{}{:02}:{:02}:{:02}", iso ? 'T' : ' ', ms / 3600000, ms / 60000 % 60, ms / 1000 % 60);
  if (precision > 0) {
    const std::string frac = fmt::format("{:03}", ms % 1000);
    out += '.';
    out.append(frac, 0, static_cast<size_t>(std::min(precision, 3)));
  }
  if (utcSuffix) out += 'Z';
}

Result<int64_t> parseTimestamp(std::string_view text) {
  auto bad = [&] {
    return Status::invalidArgument("'" + std::string(text) + "' is not a timestamp (expected 'YYYY-MM-DD HH:MM:SS[.fff]')");
  };
  size_t i = 0;
  auto digits = [&](int n, int64_t& v) {
    v = 0;
    for (int k = 0; k < n; ++k, ++i) {
      if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
      v = v * 10 + (text[i] - '0');
    }
    return true;
  };
  int64_t y, mo, d, h = 0, mi = 0, s = 0, ms = 0;
  if (!digits(4, y) || i >= text.size() || text[i++] != '-' || !digits(2, mo) || i >= text.size() || text[i++] != '-' || !digits(2, d))
    return bad();
  static constexpr int kDaysInMonth[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > kDaysInMonth[mo - 1] || (mo == 2 && d == 29 && !leap)) return bad();
  if (i < text.size() && (text[i] == ' ' || text[i] == 'T')) {
    ++i;
    if (!digits(2, h) || i >= text.size() || text[i++] != ':' || !digits(2, mi)) return bad();
    if (i < text.size() && text[i] == ':') {
      ++i;
      if (!digits(2, s)) return bad();
      if (i < text.size() && text[i] == '.') {
        ++i;
        int n = 0;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++n)
          if (n < 3) ms = ms * 10 + (text[i] - '0');
        if (n == 0) return bad();
        for (; n < 3; ++n) ms *= 10;
      }
    }
    if (h > 23 || mi > 59 || s > 59) return bad();
  }
  int64_t offsetMinutes = 0;
  if (i < text.size() && text[i] == 'Z') {
    ++i;
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    const int sign = text[i++] == '-' ? -1 : 1;
    int64_t oh, om = 0;
    if (!digits(2, oh)) return bad();
    if (i < text.size() && text[i] == ':') ++i;
    if (i < text.size() && !digits(2, om)) return bad();
    offsetMinutes = sign * (oh * 60 + om);
  }
  if (i != text.size()) return bad();
  int64_t days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return ((days * 24 + h) * 60 + mi - offsetMinutes) * 60000 + s * 1000 + ms;
}

// ---- Batches ------------------------------------------------------------------------------

namespace {
void initColumns(const Schema& schema, std::vector<Column>& columns) {
  columns.assign(schema.size(), Column{});
  for (size_t i = 0; i < schema.size(); ++i)
    if (schema.field(i).type.kind == TypeKind::kRow) initColumns(*schema.field(i).type.fields, columns[i].children);
}

void resizeColumn(Column& c, const DataType& t, size_t n) {
  c.nulls.resize(n, 1);  // rows added are null
  switch (t.kind) {
    case TypeKind::kDouble: c.doubles.resize(n); break;
    case TypeKind::kDecimal: c.decimals.resize(n); break;
    case TypeKind::kString:
    case TypeKind::kBytes: c.strings.resize(n); break;
    case TypeKind::kRow:
      for (size_t i = 0; i < t.fields->size(); ++i) resizeColumn(c.children[i], t.fields->field(i).type, n);
      break;
    default: c.ints.resize(n); break;
  }
}

void copyValue(Column& dst, const Column& src, const DataType& t, size_t row) {
  dst.nulls.push_back(src.nulls[row]);
  switch (t.kind) {
    case TypeKind::kDouble: dst.doubles.push_back(src.doubles[row]); break;
    case TypeKind::kDecimal: dst.decimals.push_back(src.decimals[row]); break;
    case TypeKind::kString:
    case TypeKind::kBytes: dst.strings.push_back(src.strings[row]); break;
    case TypeKind::kRow:
      for (size_t i = 0; i < t.fields->size(); ++i) copyValue(dst.children[i], src.children[i], t.fields->field(i).type, row);
      break;
    default: dst.ints.push_back(src.ints[row]); break;
  }
}

void clearColumn(Column& c) {
  c.nulls.clear();
  c.ints.clear();
  c.doubles.clear();
  c.decimals.clear();
  c.strings.clear();
  for (auto& child : c.children) clearColumn(child);
}
}  // namespace

RowBatch::RowBatch(std::shared_ptr<const Schema> schema) { setSchema(std::move(schema)); }

void RowBatch::setSchema(std::shared_ptr<const Schema> schema) {
  schema_ = schema ? std::move(schema) : std::make_shared<const Schema>();
  initColumns(*schema_, columns);
  kinds.clear();
}

void RowBatch::clear() {
  for (auto& c : columns) clearColumn(c);
  kinds.clear();
  keepAlive.clear();
  arena_.reset();
}

size_t RowBatch::appendRows(size_t n, RowKind kind) {
  const size_t first = kinds.size();
  for (size_t i = 0; i < columns.size(); ++i) resizeColumn(columns[i], schema_->field(i).type, first + n);
  kinds.resize(first + n, kind);
  return first;
}

size_t RowBatch::appendRow(RowKind kind) { return appendRows(1, kind); }

void RowBatch::resize(size_t n) {
  if (n >= kinds.size()) return;
  for (size_t i = 0; i < columns.size(); ++i) resizeColumn(columns[i], schema_->field(i).type, n);
  kinds.resize(n);
}

void RowBatch::appendFrom(const RowBatch& other, size_t row) {
  for (size_t i = 0; i < columns.size(); ++i) copyValue(columns[i], other.columns[i], schema_->field(i).type, row);
  kinds.push_back(other.kinds[row]);
  if (&other != this) retain(other);
}

void RowBatch::setNull(Column& col, size_t row) { col.nulls[row] = 1; }
void RowBatch::setInt(Column& col, size_t row, int64_t v) {
  col.nulls[row] = 0;
  col.ints[row] = v;
}
void RowBatch::setDouble(Column& col, size_t row, double v) {
  col.nulls[row] = 0;
  col.doubles[row] = v;
}
void RowBatch::setDecimal(Column& col, size_t row, Decimal v) {
  col.nulls[row] = 0;
  col.decimals[row] = v;
}
void RowBatch::setString(Column& col, size_t row, std::string_view v) {
  col.nulls[row] = 0;
  col.strings[row] = arena().copy(v);
}
void RowBatch::setPresent(Column& col, size_t row) { col.nulls[row] = 0; }

StringArena& RowBatch::arena() {
  if (!arena_) {
    arena_ = std::make_shared<StringArena>(16 * 1024);
    retain(arena_);
  }
  return *arena_;
}

void appendValueText(const Column& col, const DataType& type, size_t row, std::string& out) {
  if (col.isNull(row)) {
    out += "null";
    return;
  }
  switch (type.kind) {
    case TypeKind::kBoolean: out += col.ints[row] != 0 ? "true" : "false"; break;
    case TypeKind::kInt:
    case TypeKind::kBigint: fmt::format_to(std::back_inserter(out), "{}", col.ints[row]); break;
    case TypeKind::kDouble: {
      // As Java (Flink) prints a double: a whole number keeps ".0".
      const size_t start = out.size();
      fmt::format_to(std::back_inserter(out), "{}", col.doubles[row]);
      if (out.find_first_of(".eEn", start) == std::string::npos) out += ".0";
      break;
    }
    case TypeKind::kDecimal: appendDecimal(col.decimals[row], type.scale, out); break;
    case TypeKind::kString:
    case TypeKind::kBytes: out += col.strings[row]; break;
    case TypeKind::kTimestamp: appendTimestamp(col.ints[row], type.precision, false, false, out); break;
    case TypeKind::kTimestampLtz: appendTimestamp(col.ints[row], type.precision, false, true, out); break;
    case TypeKind::kRow:
      out += '(';
      for (size_t i = 0; i < type.fields->size(); ++i) {
        if (i > 0) out += ", ";
        appendValueText(col.children[i], type.fields->field(i).type, row, out);
      }
      out += ')';
      break;
  }
}

void RowBatch::appendText(size_t row, std::string& out) const {
  out += rowKindCode(kinds[row]);
  out += '[';
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out += ", ";
    appendValueText(columns[i], schema_->field(i).type, row, out);
  }
  out += ']';
}

// ---- Keys ----------------------------------------------------------------------------------

void appendRowKey(const RowBatch& rows, size_t row, const std::vector<int>& columns, std::string& out) {
  for (int k : columns) {
    const Column& c = rows.columns[static_cast<size_t>(k)];
    if (c.nulls[row] != 0) {
      out += '\0';
      continue;
    }
    out += '\1';
    switch (rows.schema().field(static_cast<size_t>(k)).type.kind) {
      case TypeKind::kDouble: {
        double d = c.doubles[row];
        if (d == 0) d = 0;  // -0.0 and 0.0 are one key
        out.append(reinterpret_cast<const char*>(&d), sizeof d);
        break;
      }
      case TypeKind::kDecimal: out.append(reinterpret_cast<const char*>(&c.decimals[row]), sizeof(Decimal)); break;
      case TypeKind::kString:
      case TypeKind::kBytes: {
        const auto n = static_cast<uint32_t>(c.strings[row].size());
        out.append(reinterpret_cast<const char*>(&n), sizeof n);
        out.append(c.strings[row]);
        break;
      }
      case TypeKind::kRow: break;  // not a key type (the planner refuses it)
      default: out.append(reinterpret_cast<const char*>(&c.ints[row]), sizeof(int64_t)); break;
    }
  }
}

bool readRowKey(std::string_view& key, const Schema& schema, size_t first, size_t count, RowBatch& out, size_t row) {
  auto take = [&](void* to, size_t n) {
    if (key.size() < n) return false;
    std::memcpy(to, key.data(), n);
    key.remove_prefix(n);
    return true;
  };
  for (size_t k = first; k < first + count; ++k) {
    Column& c = out.columns[k];
    char present = 0;
    if (!take(&present, 1)) return false;
    if (present == 0) {
      RowBatch::setNull(c, row);
      continue;
    }
    switch (schema.field(k).type.kind) {
      case TypeKind::kDouble: {
        double d;
        if (!take(&d, sizeof d)) return false;
        RowBatch::setDouble(c, row, d);
        break;
      }
      case TypeKind::kDecimal: {
        Decimal d;
        if (!take(&d, sizeof d)) return false;
        RowBatch::setDecimal(c, row, d);
        break;
      }
      case TypeKind::kString:
      case TypeKind::kBytes: {
        uint32_t n;
        if (!take(&n, sizeof n) || key.size() < n) return false;
        out.setString(c, row, key.substr(0, n));
        key.remove_prefix(n);
        break;
      }
      case TypeKind::kRow: return false;
      default: {
        int64_t v;
        if (!take(&v, sizeof v)) return false;
        RowBatch::setInt(c, row, v);
        break;
      }
    }
  }
  return true;
}

}  // namespace reka
