// JSON events for the rule engine: simdjson's on-demand parser over a padded copy of the line.
#include "reka/cep/Event.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace reka::cep {
namespace {

Status malformed(simdjson::error_code err) {
  return Status::invalidArgument(std::string("malformed JSON: ") + simdjson::error_message(err));
}

/// Parses `json` into `d` (json, text, fields) with `parser` (simdjson's DOM: nested values are
/// kept as their minified JSON text).
Status parseInto(simdjson::dom::parser& parser, std::string_view json, Event::Data& d) {
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root)) return malformed(err);
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return Status::invalidArgument("an event must be a JSON object");
  d.json.assign(json);
  d.text.clear();
  d.fields.clear();
  for (auto [key, v] : obj) {
    Event::Field field;
    field.nameOffset = static_cast<uint32_t>(d.text.size());
    field.nameLength = static_cast<uint32_t>(key.size());
    d.text.append(key);
    switch (v.type()) {
      case simdjson::dom::element_type::NULL_VALUE: field.kind = Value::Kind::kNull; break;
      case simdjson::dom::element_type::BOOL:
        field.kind = Value::Kind::kBool;
        field.b = v.get_bool().value_unsafe();
        break;
      case simdjson::dom::element_type::INT64:
        field.kind = Value::Kind::kInt;
        field.i = v.get_int64().value_unsafe();
        break;
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE:
        field.kind = Value::Kind::kDouble;
        field.d = v.get_double().value_unsafe();
        break;
      case simdjson::dom::element_type::STRING: {
        const std::string_view s = v.get_string().value_unsafe();
        field.kind = Value::Kind::kString;
        field.offset = static_cast<uint32_t>(d.text.size());
        field.length = static_cast<uint32_t>(s.size());
        d.text.append(s);
        break;
      }
      case simdjson::dom::element_type::ARRAY:
      case simdjson::dom::element_type::OBJECT: {
        const std::string raw = simdjson::minify(v);
        field.kind = Value::Kind::kJson;
        field.offset = static_cast<uint32_t>(d.text.size());
        field.length = static_cast<uint32_t>(raw.size());
        d.text.append(raw);
        break;
      }
    }
    d.fields.push_back(field);
  }
  return Status::ok();
}

int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

bool parseIsoTimestamp(std::string_view s, int64_t& ms) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' || !digits(s, 8, 2, d) ||
      (s[10] != 'T' && s[10] != ' ') || !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, sec))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  size_t p = 19;
  int64_t frac = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    int n = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (n < 3) frac = frac * 10 + (s[p] - '0');
      ++n;
      ++p;
    }
    if (n == 0) return false;
    for (; n < 3; ++n) frac *= 10;
  }
  int64_t offsetMin = 0;
  if (p < s.size()) {
    if (s[p] == 'Z' && p + 1 == s.size()) {
      ++p;
    } else if ((s[p] == '+' || s[p] == '-') && p + 6 == s.size() && s[p + 3] == ':') {
      int oh, om;
      if (!digits(s, p + 1, 2, oh) || !digits(s, p + 4, 2, om)) return false;
      offsetMin = (s[p] == '-' ? -1 : 1) * (oh * 60 + om);
      p += 6;
    } else {
      return false;
    }
  }
  const int64_t days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  ms = ((days * 24 + h) * 60 + mi) * 60000 + sec * 1000 + frac - offsetMin * 60000;
  return true;
}

Result<Event> Event::parse(std::string_view json) { return parse(json, 0, std::string()); }

Result<Event> Event::parse(std::string_view json, int64_t timestamp, std::string key) {
  thread_local simdjson::dom::parser parser;
  auto d = std::make_shared<Data>();
  REKA_RETURN_IF_ERROR(parseInto(parser, json, *d));
  d->timestamp = timestamp;
  d->key = std::move(key);
  return Event(std::move(d));
}

struct EventReader::Impl {
  std::string timeField, keyField;
  simdjson::dom::parser parser;
};

EventReader::EventReader(std::string timeField, std::string keyField) : impl_(std::make_unique<Impl>()) {
  impl_->timeField = std::move(timeField);
  impl_->keyField = std::move(keyField);
}
EventReader::~EventReader() = default;
EventReader::EventReader(EventReader&&) noexcept = default;

Result<Event> EventReader::read(std::string_view json) {
  auto d = std::make_shared<Event::Data>();
  REKA_RETURN_IF_ERROR(parseInto(impl_->parser, json, *d));
  Event probe(d);
  if (!impl_->timeField.empty()) {
    const Value t = probe.get(impl_->timeField);
    if (t.kind == Value::Kind::kInt) {
      d->timestamp = t.i;
    } else if (t.kind == Value::Kind::kDouble && std::isfinite(t.d) && std::fabs(t.d) < 9e15) {
      d->timestamp = static_cast<int64_t>(std::floor(t.d));
    } else if (t.kind == Value::Kind::kString && parseIsoTimestamp(t.s, d->timestamp)) {
    } else if (t.isNull()) {
      return Status::invalidArgument("the time field \"" + impl_->timeField + "\" is missing or null");
    } else {
      return Status::invalidArgument("the time field \"" + impl_->timeField +
                                     "\" must be epoch milliseconds (a number within ±9e15) or an ISO-8601 date-time string");
    }
  }
  if (!impl_->keyField.empty()) {
    const Value k = probe.get(impl_->keyField);
    switch (k.kind) {
      case Value::Kind::kString: d->key.assign(k.s); break;
      case Value::Kind::kInt: d->key = std::to_string(k.i); break;
      case Value::Kind::kBool: d->key = k.b ? "true" : "false"; break;
      case Value::Kind::kDouble: {
        // The shortest text that reads back as the same number (0.1, not 0.10000000000000001).
        char buf[32];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, k.d);
        d->key.assign(buf, ec == std::errc() ? end : buf);
        break;
      }
      default:
        return Status::invalidArgument("the key field \"" + impl_->keyField + "\" is missing, null or not a scalar");
    }
  }
  return Event(std::move(d));
}

}  // namespace reka::cep
