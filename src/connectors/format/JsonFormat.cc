// The "json" and "debezium-json" formats: rows as JSON objects (decoded with simdjson's
// on-demand parser, encoded with JsonRowWriter), and Debezium's change events around them.

#include <fmt/format.h>
#include <simdjson.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>

#include "connectors/format/Formats.h"
#include "connectors/format/JsonWriter.h"

namespace reka::connector::builtin {

namespace {

namespace od = simdjson::ondemand;

struct JsonOptions {
  bool failOnMissingField = false;
  bool ignoreParseErrors = false;
  bool isoTimestamps = false;  ///< timestamp-format.standard: ISO-8601 ('T') instead of SQL (' ')
};

Result<JsonOptions> jsonOptions(const Options& o) {
  JsonOptions j;
  REKA_ASSIGN_OR_RETURN(j.failOnMissingField, o.getBool("fail-on-missing-field", false));
  REKA_ASSIGN_OR_RETURN(j.ignoreParseErrors, o.getBool("ignore-parse-errors", false));
  Result<std::string> standard = o.getEnum("timestamp-format.standard", "SQL", {"SQL", "ISO-8601"});
  if (!standard.isOk()) return standard.status();
  j.isoTimestamps = *standard == "ISO-8601";
  return j;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string_view jsonTypeName(od::json_type t) {
  switch (t) {
    case od::json_type::array: return "an array";
    case od::json_type::object: return "an object";
    case od::json_type::number: return "a number";
    case od::json_type::string: return "a string";
    case od::json_type::boolean: return "a boolean";
    case od::json_type::null: return "null";
  }
  return "a value";
}

/// Reads JSON objects into rows of a schema. Holds the padded copy simdjson needs.
class JsonRowReader {
 public:
  explicit JsonRowReader(JsonOptions options) : options_(options) {}

  /// Parses `bytes` as one JSON document; the caller reads it through the returned document.
  Status iterate(std::string_view bytes, od::document& doc) {
    buffer_.assign(bytes.data(), bytes.size());
    buffer_.append(simdjson::SIMDJSON_PADDING, '\0');
    if (auto err = parser_.iterate(buffer_.data(), bytes.size(), buffer_.size()).get(doc))
      return Status::invalidArgument(fmt::format("malformed JSON: {}", simdjson::error_message(err)));
    return Status::ok();
  }
  /// After the document's value was read: anything but whitespace after it is an error.
  Status checkEnd(od::document& doc) {
    const char* location = nullptr;
    if (doc.current_location().get(location) == simdjson::SUCCESS)
      return Status::invalidArgument(fmt::format("malformed JSON: trailing content at byte {}", location - buffer_.data()));
    return Status::ok();
  }

  /// Reads the object `v` into row `row` of `cols` (the columns of `schema`). `path` names the
  /// enclosing field for messages ("" at the top).
  Status readObject(od::value v, const Schema& schema, std::vector<Column>& cols, RowBatch& out, size_t row,
                    const std::string& path) {
    od::object obj;
    if (auto err = v.get_object().get(obj)) return malformed(err, path);
    return readFields(obj, schema, cols, out, row, path);
  }
  Status readFields(od::object& obj, const Schema& schema, std::vector<Column>& cols, RowBatch& out, size_t row,
                    const std::string& path) {
    // Which fields were given: a bit each (no allocation per record) up to 64 fields.
    uint64_t seenBits = 0;
    std::vector<uint8_t> seenMore(schema.size() > 64 ? schema.size() : 0, 0);
    auto seen = [&](size_t i) { return i < 64 ? (seenBits >> i & 1) != 0 : seenMore[i] != 0; };
    auto markSeen = [&](size_t i) {
      if (i < 64) {
        seenBits |= uint64_t{1} << i;
      } else {
        seenMore[i] = 1;
      }
    };
    size_t hint = 0;
    for (auto f : obj) {
      if (auto err = f.error()) return malformed(err, path);
      std::string_view key;
      if (auto err = f.unescaped_key().get(key)) return malformed(err, path);
      int index = -1;
      if (hint < schema.size() && schema.field(hint).name == key) {
        index = static_cast<int>(hint);
      } else {
        index = schema.indexOf(key);
      }
      if (index < 0) {
        continue;  // unknown fields are skipped (the parser still checks their brackets), as in Flink
      }
      hint = static_cast<size_t>(index) + 1;
      const Field& def = schema.field(static_cast<size_t>(index));
      if (seen(static_cast<size_t>(index))) return Status::invalidArgument("duplicate field \"" + path + def.name + "\"");
      markSeen(static_cast<size_t>(index));
      REKA_RETURN_IF_ERROR(readValue(f.value(), def, cols[static_cast<size_t>(index)], out, row, path));
    }
    for (size_t i = 0; i < schema.size(); ++i) {
      if (seen(i)) continue;
      const Field& def = schema.field(i);
      if (options_.failOnMissingField) return Status::invalidArgument("missing field \"" + path + def.name + "\"");
      if (!def.type.nullable) return Status::invalidArgument("missing field \"" + path + def.name + "\" (NOT NULL)");
    }
    return Status::ok();
  }

 private:
  Status malformed(simdjson::error_code err, const std::string& path) {
    if (path.empty()) return Status::invalidArgument(fmt::format("malformed JSON: {}", simdjson::error_message(err)));
    return Status::invalidArgument(
        fmt::format("malformed JSON in \"{}\": {}", path.substr(0, path.size() - 1), simdjson::error_message(err)));
  }

  Status readValue(od::value v, const Field& def, Column& col, RowBatch& out, size_t row, const std::string& path) {
    od::json_type type;
    if (auto err = v.type().get(type)) return malformed(err, path + def.name + ".");
    if (type == od::json_type::null) {
      bool isNull = false;
      if (auto err = v.is_null().get(isNull); err || !isNull) return malformed(err ? err : simdjson::N_ATOM_ERROR, path + def.name + ".");
      if (!def.type.nullable) return Status::invalidArgument("field \"" + path + def.name + "\" is null but its type is NOT NULL");
      return Status::ok();
    }
    Status s = convert(v, type, def, col, out, row, path);
    if (s.isOk() || !options_.ignoreParseErrors || !def.type.nullable || s.message().starts_with("malformed JSON")) return s;
    // ignore-parse-errors: a value of the wrong type becomes null; a malformed record is still bad.
    RowBatch::setNull(col, row);
    return Status::ok();
  }

  Status wrongType(const Field& def, const std::string& path, od::json_type type, std::string_view detail = {}) {
    return Status::invalidArgument(fmt::format("field \"{}{}\" ({}) cannot be {}{}", path, def.name, def.type.toString(),
                                               jsonTypeName(type), detail));
  }

  Status convert(od::value v, od::json_type type, const Field& def, Column& col, RowBatch& out, size_t row,
                 const std::string& path) {
    // The field's path, only built for a message.
    auto name = [&] { return path + def.name; };
    auto bad = [&](const Status& why) {
      return Status::invalidArgument(fmt::format("field \"{}\" ({}): {}", name(), def.type.toString(), why.message()));
    };
    std::string_view text;
    const bool isString = type == od::json_type::string;
    if (isString && def.type.kind != TypeKind::kRow) {
      if (auto err = v.get_string().get(text)) return malformed(err, name() + ".");
    }
    switch (def.type.kind) {
      case TypeKind::kBoolean: {
        if (type == od::json_type::boolean) {
          bool b = false;
          if (auto err = v.get_bool().get(b)) return malformed(err, name() + ".");
          RowBatch::setInt(col, row, b ? 1 : 0);
          return Status::ok();
        }
        if (isString && (text == "true" || text == "false")) {
          RowBatch::setInt(col, row, text == "true" ? 1 : 0);
          return Status::ok();
        }
        return wrongType(def, path, type);
      }
      case TypeKind::kInt:
      case TypeKind::kBigint: {
        int64_t n = 0;
        if (type == od::json_type::number) {
          if (v.get_int64().get(n) != simdjson::SUCCESS) {
            std::string_view token = trim(v.raw_json_token());
            return Status::invalidArgument(fmt::format("field \"{}\" ({}): {} is not an integer in range", name(),
                                                       def.type.toString(), token.substr(0, 40)));
          }
        } else if (isString) {
          std::string_view t = trim(text);
          auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
          if (ec != std::errc() || p != t.data() + t.size() || t.empty())
            return wrongType(def, path, type, fmt::format(" \"{}\"", text.substr(0, 40)));
        } else {
          return wrongType(def, path, type);
        }
        if (def.type.kind == TypeKind::kInt && (n < INT32_MIN || n > INT32_MAX))
          return Status::invalidArgument(fmt::format("field \"{}\" (INT): {} is out of range", name(), n));
        RowBatch::setInt(col, row, n);
        return Status::ok();
      }
      case TypeKind::kDouble: {
        double d = 0;
        if (type == od::json_type::number) {
          if (auto err = v.get_double().get(d)) return malformed(err, name() + ".");
        } else if (isString) {
          std::string_view t = trim(text);
          auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
          if (ec != std::errc() || p != t.data() + t.size() || t.empty())
            return wrongType(def, path, type, fmt::format(" \"{}\"", text.substr(0, 40)));
        } else {
          return wrongType(def, path, type);
        }
        RowBatch::setDouble(col, row, d);
        return Status::ok();
      }
      case TypeKind::kDecimal: {
        if (type == od::json_type::number) {
          text = trim(v.raw_json_token());
        } else if (!isString) {
          return wrongType(def, path, type);
        }
        Result<Decimal> d = parseDecimal(trim(text), def.type.precision, def.type.scale);
        if (!d.isOk()) return bad(d.status());
        RowBatch::setDecimal(col, row, *d);
        return Status::ok();
      }
      case TypeKind::kString: {
        if (!isString) {
          // Flink writes any other JSON value's text into a STRING column.
          std::string_view raw;
          simdjson::error_code err = simdjson::SUCCESS;
          if (type == od::json_type::object) {
            od::object o;
            err = v.get_object().get(o);
            if (!err) err = o.raw_json().get(raw);
          } else if (type == od::json_type::array) {
            od::array a;
            err = v.get_array().get(a);
            if (!err) err = a.raw_json().get(raw);
          } else {
            raw = v.raw_json_token();
          }
          if (err) return malformed(err, name() + ".");
          text = trim(raw);
        }
        out.setString(col, row, text);
        return Status::ok();
      }
      case TypeKind::kBytes: {
        if (!isString) return wrongType(def, path, type);
        Result<std::string> bytes = decodeBase64(text);
        if (!bytes.isOk()) return bad(bytes.status());
        out.setString(col, row, *bytes);
        return Status::ok();
      }
      case TypeKind::kTimestamp:
      case TypeKind::kTimestampLtz: {
        int64_t ms = 0;
        if (isString) {
          Result<int64_t> t = parseTimestamp(trim(text));
          if (!t.isOk()) return bad(t.status());
          ms = *t;
        } else if (type == od::json_type::number) {
          // Epoch milliseconds.
          if (v.get_int64().get(ms) != simdjson::SUCCESS) return wrongType(def, path, type, " (epoch milliseconds must be an integer)");
        } else {
          return wrongType(def, path, type);
        }
        // SQL's TIMESTAMP holds years 0000 to 9999 (what a timestamp's text can say).
        constexpr int64_t kFirst = -62'167'219'200'000, kLast = 253'402'300'799'999;
        if (ms < kFirst || ms > kLast)
          return Status::invalidArgument(fmt::format("field \"{}\" ({}): {} ms is outside years 0000 to 9999", name(), def.type.toString(), ms));
        RowBatch::setInt(col, row, ms);
        return Status::ok();
      }
      case TypeKind::kRow: {
        if (type != od::json_type::object) return wrongType(def, path, type);
        RowBatch::setPresent(col, row);
        return readObject(v, *def.type.fields, col.children, out, row, name() + ".");
      }
    }
    return Status::internal("unhandled type");
  }

  JsonOptions options_;
  od::parser parser_;
  std::string buffer_;
};

/// Writes row `row` of `cols` (the columns of `schema`) as fields of the current JSON object.
void writeFields(JsonRowWriter& w, const Schema& schema, const std::vector<Column>& cols, size_t row, bool iso,
                 std::string& scratch) {
  for (size_t i = 0; i < schema.size(); ++i) {
    const Field& f = schema.field(i);
    const Column& c = cols[i];
    if (c.isNull(row)) {
      w.fieldNull(f.name);
      continue;
    }
    switch (f.type.kind) {
      case TypeKind::kBoolean: w.fieldBool(f.name, c.ints[row] != 0); break;
      case TypeKind::kInt:
      case TypeKind::kBigint: w.field(f.name, c.ints[row]); break;
      case TypeKind::kDouble: w.fieldDouble(f.name, c.doubles[row]); break;
      case TypeKind::kDecimal:
        scratch.clear();
        appendDecimal(c.decimals[row], f.type.scale, scratch);
        w.fieldRaw(f.name, scratch);
        break;
      case TypeKind::kString: w.field(f.name, c.strings[row]); break;
      case TypeKind::kBytes:
        scratch.clear();
        appendBase64(c.strings[row], scratch);
        w.field(f.name, std::string_view(scratch));
        break;
      case TypeKind::kTimestamp:
      case TypeKind::kTimestampLtz:
        scratch.clear();
        appendTimestamp(c.ints[row], f.type.precision, iso, f.type.kind == TypeKind::kTimestampLtz, scratch);
        w.field(f.name, std::string_view(scratch));
        break;
      case TypeKind::kRow:
        w.beginObject(f.name);
        writeFields(w, *f.type.fields, c.children, row, iso, scratch);
        w.endObject();
        break;
    }
  }
}

/// The json format's decoder; with `readKind`, changelog-json's: an "op" field ("+I", "-U",
/// "+U", "-D"; absent: an insert) gives the row kind.
class JsonDecoder final : public Decoder {
 public:
  JsonDecoder(std::shared_ptr<const Schema> schema, JsonOptions options, bool readKind = false)
      : schema_(std::move(schema)), reader_(options), readKind_(readKind) {}
  Status decode(std::string_view bytes, RowBatch& out) override {
    od::document doc;
    REKA_RETURN_IF_ERROR(reader_.iterate(bytes, doc));
    od::object obj;
    if (auto err = doc.get_object().get(obj)) {
      return Status::invalidArgument(err == simdjson::INCORRECT_TYPE
                                         ? fmt::format("malformed JSON: a row must be a JSON object, the record starts with '{}'",
                                                       trim(bytes).substr(0, 20))
                                         : fmt::format("malformed JSON: {}", simdjson::error_message(err)));
    }
    RowKind kind = RowKind::kInsert;
    if (readKind_) {
      // "op" first (wherever it is), then the fields from the start: the object is read to its end.
      std::string_view op;
      auto err = obj.find_field_unordered("op").get_string().get(op);
      if (err && err != simdjson::NO_SUCH_FIELD)
        return Status::invalidArgument(fmt::format("field \"op\" must be a string: {}", simdjson::error_message(err)));
      if (!err) {
        if (op == "+I") kind = RowKind::kInsert;
        else if (op == "-U") kind = RowKind::kUpdateBefore;
        else if (op == "+U") kind = RowKind::kUpdateAfter;
        else if (op == "-D") kind = RowKind::kDelete;
        else return Status::invalidArgument(fmt::format("field \"op\" is '{}'; accepted: +I, -U, +U, -D", op));
      }
      if (auto e = obj.reset().error()) return Status::invalidArgument(fmt::format("malformed JSON: {}", simdjson::error_message(e)));
    }
    const size_t row = out.appendRow(kind);
    Status s = reader_.readFields(obj, *schema_, out.columns, out, row, "");
    if (s.isOk()) s = reader_.checkEnd(doc);
    if (!s.isOk()) out.resize(row);
    return s;
  }

 private:
  std::shared_ptr<const Schema> schema_;
  JsonRowReader reader_;
  bool readKind_;
};

/// The json format's encoder; with `writeKind`, changelog-json's: an "op" field after the
/// fields holds the row kind.
class JsonEncoder final : public Encoder {
 public:
  JsonEncoder(std::shared_ptr<const Schema> schema, JsonOptions options, bool writeKind = false)
      : schema_(std::move(schema)), options_(options), writeKind_(writeKind) {}
  Status encode(const RowBatch& rows, size_t row, std::string& out) override {
    JsonRowWriter w(out);
    w.begin();
    writeFields(w, *schema_, rows.columns, row, options_.isoTimestamps, scratch_);
    if (writeKind_) w.field("op", std::string_view(rowKindCode(rows.kinds[row])));
    w.end(false);
    return Status::ok();
  }

 private:
  std::shared_ptr<const Schema> schema_;
  JsonOptions options_;
  bool writeKind_;
  std::string scratch_;
};

// ---- Debezium JSON --------------------------------------------------------------------------

/// {"before": {…} | null, "after": {…} | null, "op": "c" | "r" | "u" | "d", …} (or the same under
/// "payload" when the messages include Debezium's schema). An update gives -U (before) and +U
/// (after); a tombstone (an empty message) gives nothing.
class DebeziumDecoder final : public Decoder {
 public:
  DebeziumDecoder(std::shared_ptr<const Schema> schema, JsonOptions options, bool schemaInclude)
      : schema_(std::move(schema)), reader_(options), schemaInclude_(schemaInclude) {}

  Status decode(std::string_view bytes, RowBatch& out) override {
    if (trim(bytes).empty() || trim(bytes) == "null") return Status::ok();  // a tombstone follows a delete
    od::document doc;
    REKA_RETURN_IF_ERROR(reader_.iterate(bytes, doc));
    const size_t first = out.size();
    Status s = read(doc, out);
    if (!s.isOk()) out.resize(first);
    return s;
  }

 private:
  Status read(od::document& doc, RowBatch& out) {
    od::object top;
    if (auto err = doc.get_object().get(top))
      return Status::invalidArgument(err == simdjson::INCORRECT_TYPE ? std::string("a Debezium message must be a JSON object")
                                                                     : fmt::format("malformed JSON: {}", simdjson::error_message(err)));
    od::object envelope = top;
    if (schemaInclude_) {
      od::value payload;
      if (auto err = top.find_field_unordered("payload").get(payload))
        return Status::invalidArgument(err == simdjson::NO_SUCH_FIELD ? std::string("missing field \"payload\" (debezium-json.schema-include is true)")
                                                                      : fmt::format("malformed JSON: {}", simdjson::error_message(err)));
      if (payload.get_object().get(envelope) != simdjson::SUCCESS)
        return Status::invalidArgument("field \"payload\" must be an object");
    }
    // The op decides what to read, but may come after before/after: note their positions by
    // reading into rows first and fixing the kinds afterwards.
    std::string op;
    bool haveBefore = false, haveAfter = false;
    size_t beforeRow = 0, afterRow = 0;
    for (auto f : envelope) {
      if (auto err = f.error()) return Status::invalidArgument(fmt::format("malformed JSON: {}", simdjson::error_message(err)));
      std::string_view key;
      if (auto err = f.unescaped_key().get(key)) return Status::invalidArgument(fmt::format("malformed JSON: {}", simdjson::error_message(err)));
      if (key == "op") {
        std::string_view v;
        if (f.value().get_string().get(v)) return Status::invalidArgument("field \"op\" must be a string");
        op = std::string(v);
      } else if (key == "before" || key == "after") {
        od::value v = f.value();
        bool isNull = false;
        if (v.is_null().get(isNull) == simdjson::SUCCESS && isNull) continue;
        const size_t row = out.appendRow(RowKind::kInsert);
        REKA_RETURN_IF_ERROR(reader_.readObject(v, *schema_, out.columns, out, row, std::string(key) + "."));
        (key == "before" ? haveBefore : haveAfter) = true;
        (key == "before" ? beforeRow : afterRow) = row;
      }  // other fields (source, ts_ms, transaction) are not needed
    }
    if (!schemaInclude_) REKA_RETURN_IF_ERROR(reader_.checkEnd(doc));
    // Keep the rows the op needs, in the order -U, +U.
    RowBatch picked(out.schemaPtr());
    auto take = [&](size_t row, RowKind kind) {
      picked.appendFrom(out, row);
      picked.kinds.back() = kind;
    };
    if (op == "c" || op == "r") {
      if (!haveAfter) return Status::invalidArgument("op \"" + op + "\" without \"after\"");
      take(afterRow, RowKind::kInsert);
    } else if (op == "u") {
      if (!haveBefore)
        return Status::invalidArgument("op \"u\" without \"before\" (the source table needs REPLICA IDENTITY FULL or an equivalent)");
      if (!haveAfter) return Status::invalidArgument("op \"u\" without \"after\"");
      take(beforeRow, RowKind::kUpdateBefore);
      take(afterRow, RowKind::kUpdateAfter);
    } else if (op == "d") {
      if (!haveBefore) return Status::invalidArgument("op \"d\" without \"before\"");
      take(beforeRow, RowKind::kDelete);
    } else if (op.empty()) {
      return Status::invalidArgument("missing field \"op\"");
    } else {
      return Status::invalidArgument("unknown op \"" + op + "\"; accepted: c, r, u, d");
    }
    const size_t first = std::min(haveBefore ? beforeRow : SIZE_MAX, haveAfter ? afterRow : SIZE_MAX);
    out.resize(first);
    for (size_t i = 0; i < picked.size(); ++i) out.appendFrom(picked, i);
    return Status::ok();
  }

  std::shared_ptr<const Schema> schema_;
  JsonRowReader reader_;
  bool schemaInclude_;
};

/// +I and +U as {"before":null,"after":{…},"op":"c"}, -D and -U as {"before":{…},"after":null,
/// "op":"d"}, as Flink's debezium-json writes them.
class DebeziumEncoder final : public Encoder {
 public:
  DebeziumEncoder(std::shared_ptr<const Schema> schema, JsonOptions options) : schema_(std::move(schema)), options_(options) {}
  Status encode(const RowBatch& rows, size_t row, std::string& out) override {
    const bool insert = rows.kinds[row] == RowKind::kInsert || rows.kinds[row] == RowKind::kUpdateAfter;
    JsonRowWriter w(out);
    w.begin();
    if (insert) {
      w.fieldNull("before");
      w.beginObject("after");
    } else {
      w.beginObject("before");
    }
    writeFields(w, *schema_, rows.columns, row, options_.isoTimestamps, scratch_);
    w.endObject();
    if (!insert) w.fieldNull("after");
    w.field("op", std::string_view(insert ? "c" : "d"));
    w.end(false);
    return Status::ok();
  }

 private:
  std::shared_ptr<const Schema> schema_;
  JsonOptions options_;
  std::string scratch_;
};

}  // namespace

FormatFactory json() {
  FormatFactory f;
  f.name = "json";
  f.description = "one JSON object per record, fields by name (simdjson)";
  f.options = {"fail-on-missing-field", "ignore-parse-errors", "timestamp-format.standard"};
  f.makeDecoder = [](std::shared_ptr<const Schema> schema, const Options& o) -> Result<std::unique_ptr<Decoder>> {
    REKA_ASSIGN_OR_RETURN(JsonOptions j, jsonOptions(o));
    return std::unique_ptr<Decoder>(std::make_unique<JsonDecoder>(std::move(schema), j));
  };
  f.makeEncoder = [](std::shared_ptr<const Schema> schema, const Options& o) -> Result<std::unique_ptr<Encoder>> {
    REKA_ASSIGN_OR_RETURN(JsonOptions j, jsonOptions(o));
    return std::unique_ptr<Encoder>(std::make_unique<JsonEncoder>(std::move(schema), j));
  };
  return f;
}

FormatFactory debeziumJson() {
  FormatFactory f;
  f.name = "debezium-json";
  f.description = "Debezium change events in JSON: a changelog in and out";
  f.options = {"schema-include", "ignore-parse-errors", "timestamp-format.standard"};
  f.changelog = true;
  f.makeDecoder = [](std::shared_ptr<const Schema> schema, const Options& o) -> Result<std::unique_ptr<Decoder>> {
    REKA_ASSIGN_OR_RETURN(JsonOptions j, jsonOptions(o));
    REKA_ASSIGN_OR_RETURN(bool schemaInclude, o.getBool("schema-include", false));
    return std::unique_ptr<Decoder>(std::make_unique<DebeziumDecoder>(std::move(schema), j, schemaInclude));
  };
  f.makeEncoder = [](std::shared_ptr<const Schema> schema, const Options& o) -> Result<std::unique_ptr<Encoder>> {
    REKA_ASSIGN_OR_RETURN(JsonOptions j, jsonOptions(o));
    REKA_ASSIGN_OR_RETURN(bool schemaInclude, o.getBool("schema-include", false));
    if (schemaInclude) return Status::notSupported("debezium-json.schema-include is not supported when writing");
    return std::unique_ptr<Encoder>(std::make_unique<DebeziumEncoder>(std::move(schema), j));
  };
  return f;
}

/// changelog-json: a row as json writes it plus an "op" field holding its row kind, as Flink's
/// changelog-json format and the NEXMark result files write an updating result (applying the
/// rows in order gives the table); the json decoder and encoder with the row kind.
FormatFactory changelogJson() {
  FormatFactory f;
  f.name = "changelog-json";
  f.description = "a JSON object per row with an \"op\" field (+I, -U, +U, -D): an updating result as rows";
  f.options = {"fail-on-missing-field", "timestamp-format.standard"};
  f.changelog = true;
  f.makeDecoder = [](std::shared_ptr<const Schema> schema, const Options& o) -> Result<std::unique_ptr<Decoder>> {
    REKA_ASSIGN_OR_RETURN(JsonOptions j, jsonOptions(o));
    if (schema->indexOf("op") >= 0) return Status::invalidArgument("changelog-json: the table has a column 'op', which the format uses for the row kind");
    return std::unique_ptr<Decoder>(std::make_unique<JsonDecoder>(std::move(schema), j, true));
  };
  f.makeEncoder = [](std::shared_ptr<const Schema> schema, const Options& o) -> Result<std::unique_ptr<Encoder>> {
    REKA_ASSIGN_OR_RETURN(JsonOptions j, jsonOptions(o));
    if (schema->indexOf("op") >= 0) return Status::invalidArgument("changelog-json: the table has a column 'op', which the format uses for the row kind");
    return std::unique_ptr<Encoder>(std::make_unique<JsonEncoder>(std::move(schema), j, true));
  };
  return f;
}

}  // namespace reka::connector::builtin
