#pragma once

// A JSON event as the rule engine sees it: its top-level fields, typed as JSON types them, and
// the line it came from (what alerts carry). Cheap to copy: the fields are shared.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reka/base/Status.h"
#include "reka/state/Serde.h"

namespace reka::cep {

/// One field's value: JSON's scalar types (an integer stays an integer); a nested object or
/// array is kept as its JSON text (kJson).
struct Value {
  enum class Kind : uint8_t { kNull, kBool, kInt, kDouble, kString, kJson };
  Kind kind = Kind::kNull;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string_view s;  ///< kString (unescaped), kJson (as written)

  static Value null() { return {}; }
  static Value boolean(bool v) {
    Value x;
    x.kind = Kind::kBool;
    x.b = v;
    return x;
  }
  static Value integer(int64_t v) {
    Value x;
    x.kind = Kind::kInt;
    x.i = v;
    return x;
  }
  static Value number(double v) {
    Value x;
    x.kind = Kind::kDouble;
    x.d = v;
    return x;
  }
  static Value string(std::string_view v) {
    Value x;
    x.kind = Kind::kString;
    x.s = v;
    return x;
  }
  bool isNull() const { return kind == Kind::kNull; }
  bool isNumber() const { return kind == Kind::kInt || kind == Kind::kDouble; }
  double asDouble() const { return kind == Kind::kInt ? static_cast<double>(i) : d; }
};

/// An event: a JSON object's top-level fields in the order written, its timestamp and key (as
/// the job reads them), and the text it was parsed from.
class Event {
 public:
  struct Field {
    uint32_t nameOffset = 0, nameLength = 0;  ///< in text()
    Value::Kind kind = Value::Kind::kNull;
    bool b = false;
    int64_t i = 0;
    double d = 0;
    uint32_t offset = 0, length = 0;  ///< kString, kJson: in text()
  };
  struct Data {
    std::string json;   ///< the object as read
    std::string text;   ///< field names and string values (unescaped)
    std::vector<Field> fields;
    int64_t timestamp = 0;
    std::string key;
  };

  Event() : d_(empty()) {}
  explicit Event(std::shared_ptr<const Data> d) : d_(std::move(d)) {}

  /// Parses one JSON object. Errors say what is wrong ("malformed JSON: …", "not an object").
  static Result<Event> parse(std::string_view json);
  /// The same, with the event's timestamp and key set.
  static Result<Event> parse(std::string_view json, int64_t timestamp, std::string key);

  size_t fieldCount() const { return d_->fields.size(); }
  std::string_view fieldName(size_t i) const {
    const Field& f = d_->fields[i];
    return std::string_view(d_->text).substr(f.nameOffset, f.nameLength);
  }
  Value value(size_t i) const {
    const Field& f = d_->fields[i];
    Value v;
    v.kind = f.kind;
    v.b = f.b;
    v.i = f.i;
    v.d = f.d;
    if (f.kind == Value::Kind::kString || f.kind == Value::Kind::kJson) v.s = std::string_view(d_->text).substr(f.offset, f.length);
    return v;
  }
  /// The field called `name` (-1: none). `hint`: where to look first (a cached index).
  int find(std::string_view name, int hint = -1) const {
    const auto& fs = d_->fields;
    if (hint >= 0 && static_cast<size_t>(hint) < fs.size() && fieldName(static_cast<size_t>(hint)) == name) return hint;
    for (size_t i = 0; i < fs.size(); ++i)
      if (fs[i].nameLength == name.size() && fieldName(i) == name) return static_cast<int>(i);
    return -1;
  }
  /// The value of field `name` (null if the event has none).
  Value get(std::string_view name) const {
    const int i = find(name);
    return i < 0 ? Value::null() : value(static_cast<size_t>(i));
  }
  std::string_view json() const { return d_->json; }
  int64_t timestamp() const { return d_->timestamp; }
  const std::string& key() const { return d_->key; }
  const std::shared_ptr<const Data>& data() const { return d_; }

  /// A copy with the timestamp and key set (what the job's --time and --key fields give).
  Event withTimeAndKey(int64_t timestamp, std::string key) const {
    auto d = std::make_shared<Data>(*d_);
    d->timestamp = timestamp;
    d->key = std::move(key);
    return Event(std::move(d));
  }

 private:
  static const std::shared_ptr<const Data>& empty() {
    static const std::shared_ptr<const Data> kEmpty = std::make_shared<const Data>();
    return kEmpty;
  }
  std::shared_ptr<const Data> d_;
};

/// Reads JSON events: the object, then the time field (epoch milliseconds as a number, or an
/// ISO-8601 string) and the key field (any scalar; its text is the key). Keeps simdjson's parser
/// and buffers between calls: one per thread.
class EventReader {
 public:
  /// timeField empty: the events carry no time (processing time); keyField empty: no key.
  EventReader(std::string timeField, std::string keyField);
  ~EventReader();
  EventReader(EventReader&&) noexcept;
  /// One event, or what is wrong with the line (malformed JSON, a missing or mistyped time or
  /// key field).
  Result<Event> read(std::string_view json);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Milliseconds since the epoch of an ISO-8601 date-time ("2026-12-07T10:15:30.250Z",
/// "2026-12-07 10:15:30", an offset "+01:00"); false if it is not one.
bool parseIsoTimestamp(std::string_view text, int64_t& ms);

}  // namespace reka::cep

namespace reka {
/// An event in state: its JSON text, key and timestamp (fields parsed again when read).
template <>
struct Serde<cep::Event> {
  static void write(const cep::Event& e, std::string& out) {
    Serde<std::string>::write(std::string(e.json()), out);
    Serde<std::string>::write(e.key(), out);
    Serde<int64_t>::write(e.timestamp(), out);
  }
  static bool read(std::string_view& in, cep::Event& e) {
    std::string json, key;
    int64_t ts = 0;
    if (!Serde<std::string>::read(in, json) || !Serde<std::string>::read(in, key) || !Serde<int64_t>::read(in, ts)) return false;
    auto parsed = cep::Event::parse(json, ts, std::move(key));
    if (!parsed.isOk()) return false;
    e = std::move(parsed.value());
    return true;
  }
};
}  // namespace reka
