// The "csv" format (RFC 4180 with Flink's csv options) and the "raw" format (the record's bytes
// as one STRING or BYTES column).

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>

#include "connectors/format/Formats.h"

namespace reka::connector::builtin {

namespace {

struct CsvOptions {
  char delimiter = ',';
  char quote = '"';
  bool quoting = true;
  char escape = 0;  ///< 0: none
  bool allowComments = false;
  bool ignoreParseErrors = false;
  bool hasNullLiteral = false;
  std::string nullLiteral;
};

Result<CsvOptions> csvOptions(const Options& o) {
  CsvOptions c;
  REKA_ASSIGN_OR_RETURN(c.delimiter, o.getChar("field-delimiter", ','));
  REKA_ASSIGN_OR_RETURN(c.quote, o.getChar("quote-character", '"'));
  REKA_ASSIGN_OR_RETURN(bool disableQuote, o.getBool("disable-quote-character", false));
  c.quoting = !disableQuote;
  REKA_ASSIGN_OR_RETURN(c.escape, o.getChar("escape-character", 0));
  REKA_ASSIGN_OR_RETURN(c.allowComments, o.getBool("allow-comments", false));
  REKA_ASSIGN_OR_RETURN(c.ignoreParseErrors, o.getBool("ignore-parse-errors", false));
  c.hasNullLiteral = o.has("null-literal");
  c.nullLiteral = o.get("null-literal");
  if (c.quoting && c.quote == c.delimiter)
    return Status::invalidArgument("csv.quote-character and csv.field-delimiter must differ");
  return c;
}

/// Reads one value of `type` from `text` into row `row` of `col`.
Status parseValue(std::string_view text, const DataType& type, Column& col, RowBatch& out, size_t row) {
  switch (type.kind) {
    case TypeKind::kBoolean:
      if (text == "true" || text == "TRUE" || text == "True") {
        RowBatch::setInt(col, row, 1);
      } else if (text == "false" || text == "FALSE" || text == "False") {
        RowBatch::setInt(col, row, 0);
      } else {
        return Status::invalidArgument("'" + std::string(text.substr(0, 40)) + "' is not a boolean");
      }
      return Status::ok();
    case TypeKind::kInt:
    case TypeKind::kBigint:
    case TypeKind::kTimestamp:
    case TypeKind::kTimestampLtz: {
      if (type.kind == TypeKind::kTimestamp || type.kind == TypeKind::kTimestampLtz) {
        REKA_ASSIGN_OR_RETURN(int64_t ms, parseTimestamp(text));
        RowBatch::setInt(col, row, ms);
        return Status::ok();
      }
      int64_t n = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || p != text.data() + text.size() || text.empty() ||
          (type.kind == TypeKind::kInt && (n < INT32_MIN || n > INT32_MAX)))
        return Status::invalidArgument("'" + std::string(text.substr(0, 40)) + "' is not a valid " + type.toString());
      RowBatch::setInt(col, row, n);
      return Status::ok();
    }
    case TypeKind::kDouble: {
      double d = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
      if (ec != std::errc() || p != text.data() + text.size() || text.empty())
        return Status::invalidArgument("'" + std::string(text.substr(0, 40)) + "' is not a DOUBLE");
      RowBatch::setDouble(col, row, d);
      return Status::ok();
    }
    case TypeKind::kDecimal: {
      REKA_ASSIGN_OR_RETURN(Decimal d, parseDecimal(text, type.precision, type.scale));
      RowBatch::setDecimal(col, row, d);
      return Status::ok();
    }
    case TypeKind::kString:
    case TypeKind::kBytes: out.setString(col, row, text); return Status::ok();
    case TypeKind::kRow: return Status::notSupported("csv cannot hold a ROW column");
  }
  return Status::internal("unhandled type");
}

class CsvDecoder final : public Decoder {
 public:
  CsvDecoder(std::shared_ptr<const Schema> schema, CsvOptions o) : schema_(std::move(schema)), o_(std::move(o)) {}

  Status decode(std::string_view bytes, RowBatch& out) override {
    if (!bytes.empty() && bytes.back() == '\r') bytes.remove_suffix(1);
    if (o_.allowComments && !bytes.empty() && bytes.front() == '#') return Status::ok();
    REKA_RETURN_IF_ERROR(split(bytes));
    if (fields_.size() != schema_->size())
      return Status::invalidArgument(fmt::format("the record has {} fields, the schema has {}", fields_.size(), schema_->size()));
    const size_t row = out.appendRow(RowKind::kInsert);
    for (size_t i = 0; i < fields_.size(); ++i) {
      const Field& def = schema_->field(i);
      const auto& [text, quoted] = fields_[i];
      const bool isNull = (o_.hasNullLiteral && text == o_.nullLiteral && !quoted) ||
                          (text.empty() && !quoted && def.type.kind != TypeKind::kString && def.type.kind != TypeKind::kBytes);
      Status s = isNull ? Status::ok() : parseValue(text, def.type, out.columns[i], out, row);
      if (!s.isOk() && o_.ignoreParseErrors && def.type.nullable) {
        RowBatch::setNull(out.columns[i], row);
        s = Status::ok();
      }
      if (isNull && !def.type.nullable) s = Status::invalidArgument("is null but its type is NOT NULL");
      if (!s.isOk()) {
        out.resize(row);
        return Status::invalidArgument(fmt::format("field {} \"{}\" ({}): {}", i + 1, def.name, def.type.toString(), s.message()));
      }
    }
    return Status::ok();
  }

 private:
  /// Splits a record into fields (RFC 4180: quoted fields may hold the delimiter, line breaks and
  /// doubled quotes).
  Status split(std::string_view s) {
    fields_.clear();
    scratch_.clear();
    scratch_.reserve(s.size());
    // Field texts are views into scratch_, which holds unquoted copies; reserve keeps it in place.
    size_t i = 0;
    for (;;) {
      const size_t start = scratch_.size();
      if (o_.quoting && i < s.size() && s[i] == o_.quote) {
        ++i;
        for (;;) {
          if (i >= s.size()) return Status::invalidArgument(fmt::format("field {}: a quoted field is not closed", fields_.size() + 1));
          const char c = s[i];
          if (o_.escape != 0 && c == o_.escape && i + 1 < s.size()) {
            scratch_ += s[i + 1];
            i += 2;
          } else if (c == o_.quote) {
            if (i + 1 < s.size() && s[i + 1] == o_.quote) {
              scratch_ += o_.quote;
              i += 2;
            } else {
              ++i;
              break;
            }
          } else {
            scratch_ += c;
            ++i;
          }
        }
        if (i < s.size() && s[i] != o_.delimiter)
          return Status::invalidArgument(fmt::format("field {}: text after a closing quote", fields_.size() + 1));
        fields_.push_back({std::string_view(scratch_).substr(start), true});
      } else if (o_.escape == 0) {
        // The common case: the field is a slice of the record, no copy.
        const void* hit = i < s.size() ? std::memchr(s.data() + i, o_.delimiter, s.size() - i) : nullptr;
        const size_t end = hit == nullptr ? s.size() : static_cast<size_t>(static_cast<const char*>(hit) - s.data());
        fields_.push_back({s.substr(i, end - i), false});
        i = end;
      } else {
        while (i < s.size() && s[i] != o_.delimiter) {
          if (s[i] == o_.escape && i + 1 < s.size()) ++i;
          scratch_ += s[i++];
        }
        fields_.push_back({std::string_view(scratch_).substr(start), false});
      }
      if (i >= s.size()) break;
      ++i;  // the delimiter
    }
    // Views taken before a reallocation would dangle: reserve made that impossible (the
    // unquoted text is never longer than the record).
    return Status::ok();
  }

  std::shared_ptr<const Schema> schema_;
  CsvOptions o_;
  std::string scratch_;
  std::vector<std::pair<std::string_view, bool>> fields_;
};

class CsvEncoder final : public Encoder {
 public:
  CsvEncoder(std::shared_ptr<const Schema> schema, CsvOptions o) : schema_(std::move(schema)), o_(std::move(o)) {
    for (const auto& f : schema_->fields())
      if (f.type.kind == TypeKind::kRow) rowColumn_ = true;
  }
  Status encode(const RowBatch& rows, size_t row, std::string& out) override {
    if (rowColumn_) return Status::notSupported("csv cannot hold a ROW column");
    for (size_t i = 0; i < schema_->size(); ++i) {
      if (i > 0) out += o_.delimiter;
      const Column& c = rows.columns[i];
      if (c.isNull(row)) {
        if (o_.hasNullLiteral) out += o_.nullLiteral;
        continue;  // an empty field
      }
      value_.clear();
      appendValueText(c, schema_->field(i).type, row, value_);
      appendField(value_, schema_->field(i).type.kind == TypeKind::kString || schema_->field(i).type.kind == TypeKind::kBytes, out);
    }
    return Status::ok();
  }

 private:
  void appendField(std::string_view v, bool text, std::string& out) const {
    bool needsQuote = text && v.empty();  // an empty string is "" (an empty field is null)
    for (char c : v)
      if (c == o_.delimiter || c == o_.quote || c == '\n' || c == '\r' || (o_.escape != 0 && c == o_.escape)) needsQuote = true;
    if (o_.hasNullLiteral && v == o_.nullLiteral) needsQuote = true;
    if (!needsQuote || !o_.quoting) {
      out += v;
      return;
    }
    out += o_.quote;
    for (char c : v) {
      if (c == o_.quote) out += o_.quote;
      out += c;
    }
    out += o_.quote;
  }

  std::shared_ptr<const Schema> schema_;
  CsvOptions o_;
  bool rowColumn_ = false;
  std::string value_;
};

Status checkRawSchema(const Schema& schema) {
  if (schema.size() != 1 || (schema.field(0).type.kind != TypeKind::kString && schema.field(0).type.kind != TypeKind::kBytes))
    return Status::invalidArgument("the raw format needs a schema of one STRING or BYTES column, not (" + schema.toString() + ")");
  return Status::ok();
}

Status checkRawOptions(const Options& o) {
  REKA_ASSIGN_OR_RETURN(std::string charset, o.getEnum("charset", "UTF-8", {"UTF-8"}));
  (void)charset;
  return Status::ok();
}

class RawDecoder final : public Decoder {
 public:
  Status decode(std::string_view bytes, RowBatch& out) override {
    const size_t row = out.appendRow(RowKind::kInsert);
    out.setString(out.columns[0], row, bytes);
    return Status::ok();
  }
};

class RawEncoder final : public Encoder {
 public:
  Status encode(const RowBatch& rows, size_t row, std::string& out) override {
    if (!rows.columns[0].isNull(row)) out += rows.columns[0].strings[row];
    return Status::ok();
  }
};

}  // namespace

FormatFactory csv() {
  FormatFactory f;
  f.name = "csv";
  f.description = "comma-separated values (RFC 4180), fields in schema order";
  f.options = {"field-delimiter", "quote-character", "disable-quote-character", "escape-character", "allow-comments",
               "ignore-parse-errors", "null-literal"};
  f.makeDecoder = [](std::shared_ptr<const Schema> schema, const Options& o) -> Result<std::unique_ptr<Decoder>> {
    REKA_ASSIGN_OR_RETURN(CsvOptions c, csvOptions(o));
    for (const auto& field : schema->fields())
      if (field.type.kind == TypeKind::kRow) return Status::notSupported("csv cannot hold ROW column '" + field.name + "'");
    return std::unique_ptr<Decoder>(std::make_unique<CsvDecoder>(std::move(schema), std::move(c)));
  };
  f.makeEncoder = [](std::shared_ptr<const Schema> schema, const Options& o) -> Result<std::unique_ptr<Encoder>> {
    REKA_ASSIGN_OR_RETURN(CsvOptions c, csvOptions(o));
    for (const auto& field : schema->fields())
      if (field.type.kind == TypeKind::kRow) return Status::notSupported("csv cannot hold ROW column '" + field.name + "'");
    return std::unique_ptr<Encoder>(std::make_unique<CsvEncoder>(std::move(schema), std::move(c)));
  };
  return f;
}

FormatFactory raw() {
  FormatFactory f;
  f.name = "raw";
  f.description = "the record's bytes as one STRING or BYTES column";
  f.options = {"charset"};
  f.makeDecoder = [](std::shared_ptr<const Schema> schema, const Options& o) -> Result<std::unique_ptr<Decoder>> {
    REKA_RETURN_IF_ERROR(checkRawSchema(*schema));
    REKA_RETURN_IF_ERROR(checkRawOptions(o));
    return std::unique_ptr<Decoder>(std::make_unique<RawDecoder>());
  };
  f.makeEncoder = [](std::shared_ptr<const Schema> schema, const Options& o) -> Result<std::unique_ptr<Encoder>> {
    REKA_RETURN_IF_ERROR(checkRawSchema(*schema));
    REKA_RETURN_IF_ERROR(checkRawOptions(o));
    return std::unique_ptr<Encoder>(std::make_unique<RawEncoder>());
  };
  return f;
}

}  // namespace reka::connector::builtin
