#include "reka/nexmark/JsonCodec.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <span>
#include <utility>

#include "reka/base/Check.h"

namespace reka::nexmark {

namespace {

namespace od = simdjson::ondemand;

// ---------------------------------------------------------------------------------------------
// Writing

// How appendEscaped treats each byte: copy, escape, or check as the start of a UTF-8 sequence.
enum : uint8_t { kCopy = 0, kEscape = 1, kMultiByte = 2 };

constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = kEscape;
  t['"'] = kEscape;
  t['\\'] = kEscape;
  for (int c = 0x80; c < 0x100; ++c) t[c] = kMultiByte;
  return t;
}();

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence starting at `p` (Unicode table 3-7), 0 if there is
// none: a stray continuation byte, an overlong form, a surrogate, or a truncated sequence.
size_t utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  auto cont = [](unsigned char c) { return c >= 0x80 && c <= 0xBF; };
  unsigned char c0 = p[0];
  size_t left = static_cast<size_t>(end - p);
  if (c0 < 0x80) return 1;
  if (c0 < 0xC2) return 0;
  if (c0 < 0xE0) return left >= 2 && cont(p[1]) ? 2 : 0;
  if (c0 < 0xF0) {
    if (left < 3) return 0;
    unsigned char lo = c0 == 0xE0 ? 0xA0 : 0x80;
    unsigned char hi = c0 == 0xED ? 0x9F : 0xBF;
    return p[1] >= lo && p[1] <= hi && cont(p[2]) ? 3 : 0;
  }
  if (c0 < 0xF5) {
    if (left < 4) return 0;
    unsigned char lo = c0 == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = c0 == 0xF4 ? 0x8F : 0xBF;
    return p[1] >= lo && p[1] <= hi && cont(p[2]) && cont(p[3]) ? 4 : 0;
  }
  return 0;
}

void appendEscapedByte(unsigned char c, std::string& out) {
  switch (c) {
    case '"':
      out.append("\\\"");
      return;
    case '\\':
      out.append("\\\\");
      return;
    case '\b':
      out.append("\\b");
      return;
    case '\f':
      out.append("\\f");
      return;
    case '\n':
      out.append("\\n");
      return;
    case '\r':
      out.append("\\r");
      return;
    case '\t':
      out.append("\\t");
      return;
    default: {
      constexpr char kHex[] = "0123456789abcdef";
      char buf[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(buf, sizeof buf);
    }
  }
}

// Appends `s` as a quoted JSON string. Runs of plain bytes are appended in one go.
void appendQuoted(std::string_view s, std::string& out) {
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  const auto* run = p;
  while (p < end) {
    uint8_t cls = kByteClass[*p];
    if (cls == kCopy) {
      ++p;
      continue;
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
    if (cls == kEscape) {
      appendEscapedByte(*p, out);
      ++p;
    } else if (size_t n = utf8SequenceLength(p, end); n > 0) {
      out.append(reinterpret_cast<const char*>(p), n);
      p += n;
    } else {
      out.append(kReplacementChar);
      ++p;
    }
    run = p;
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
  out.push_back('"');
}

void appendInt(int64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

// ---------------------------------------------------------------------------------------------
// Parsing

bool isJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view typeName(od::json_type t) {
  switch (t) {
    case od::json_type::array:
      return "array";
    case od::json_type::object:
      return "object";
    case od::json_type::number:
      return "number";
    case od::json_type::string:
      return "string";
    case od::json_type::boolean:
      return "boolean";
    case od::json_type::null:
      return "null";
  }
  return "unknown";
}

Status malformed(simdjson::error_code err) {
  return Status::invalidArgument(fmt::format("malformed JSON: {}", simdjson::error_message(err)));
}

// simdjson reports a line whose last token is not the closing '}' as "ended early", whether it
// was cut short or has something after its object. Tell the two apart by matching brackets
// outside strings (error path only, one pass).
Status unbalanced(std::string_view line) {
  int64_t depth = 0;
  bool inString = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (inString) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        inString = false;
      }
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth <= 0) {
        size_t next = i + 1;
        while (next < line.size() && isJsonSpace(line[next])) ++next;
        if (next == line.size()) break;
        return Status::invalidArgument(
            fmt::format("malformed JSON: trailing content at byte {}", next));
      }
    }
  }
  if (inString) return Status::invalidArgument("malformed JSON: unclosed string");
  return Status::invalidArgument("malformed JSON: the line ends inside an object or array");
}

// `prefix` + `name` spell the field's path ("bid." + "price"); only joined on the error path.
struct FieldPath {
  std::string_view prefix;
  std::string_view name;
};

Status malformed(simdjson::error_code err, FieldPath path) {
  return Status::invalidArgument(fmt::format("malformed JSON in field \"{}{}\": {}", path.prefix,
                                             path.name, simdjson::error_message(err)));
}

Status wrongType(FieldPath path, std::string_view expected, std::string_view got) {
  return Status::invalidArgument(
      fmt::format("field \"{}{}\" must be {}, got {}", path.prefix, path.name, expected, got));
}

Status readType(od::value& v, FieldPath path, od::json_type& type) {
  if (auto err = v.type().get(type)) return malformed(err, path);
  return Status::ok();
}

// A raw token without the whitespace that follows it.
std::string_view trimmed(std::string_view token) {
  while (!token.empty() && isJsonSpace(token.back())) token.remove_suffix(1);
  return token;
}

// RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool isJsonNumber(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

// A number token for an error message, cut if long.
std::string shownToken(std::string_view token) {
  token = trimmed(token);
  constexpr size_t kMaxShown = 32;
  if (token.size() <= kMaxShown) return std::string(token);
  return std::string(token.substr(0, kMaxShown)) + "...";
}

Status readInt(od::value& v, FieldPath path, int64_t& out) {
  od::json_type type{};
  REKA_RETURN_IF_ERROR(readType(v, path, type));
  if (type != od::json_type::number) return wrongType(path, "an integer", typeName(type));
  if (v.get_int64().get(out) != simdjson::SUCCESS) {
    return wrongType(path, "an integer", shownToken(v.raw_json_token()));
  }
  return Status::ok();
}

Status readString(od::value& v, FieldPath path, StringArena& arena, std::string_view& out) {
  od::json_type type{};
  REKA_RETURN_IF_ERROR(readType(v, path, type));
  if (type != od::json_type::string) return wrongType(path, "a string", typeName(type));
  std::string_view s;
  // Without escapes the string is its raw bytes: copy them straight from the line (stage 1
  // has already checked UTF-8 and refused raw control characters). The value stays
  // unconsumed; the enclosing object iteration steps over it.
  std::string_view token = trimmed(v.raw_json_token());
  if (token.size() >= 2 && token.back() == '"' &&
      std::memchr(token.data() + 1, '\\', token.size() - 2) == nullptr) {
    s = token.substr(1, token.size() - 2);
  } else if (auto err = v.get_string().get(s)) {
    return malformed(err, path);
  }
  // Either way `s` points into memory the next line overwrites, hence the copy. An empty
  // string needs none (and StringArena::allocate(0) on an arena without a chunk is unsafe).
  out = s.empty() ? std::string_view() : arena.copy(s);
  return Status::ok();
}

// Validates a value nobody asked for, so that a line is accepted only if it is JSON throughout.
// Recursion is bounded by EventParser::kMaxDepth.
Status validateValue(od::value& v, int depth, FieldPath path) {
  od::json_type type{};
  REKA_RETURN_IF_ERROR(readType(v, path, type));
  switch (type) {
    case od::json_type::object: {
      if (depth >= EventParser::kMaxDepth) break;
      od::object object;
      if (auto err = v.get_object().get(object)) return malformed(err, path);
      for (auto fieldResult : object) {
        od::field field;
        if (auto err = std::move(fieldResult).get(field)) return malformed(err, path);
        std::string_view key;
        if (auto err = field.unescaped_key().get(key)) return malformed(err, path);
        REKA_RETURN_IF_ERROR(validateValue(field.value(), depth + 1, path));
      }
      return Status::ok();
    }
    case od::json_type::array: {
      if (depth >= EventParser::kMaxDepth) break;
      od::array array;
      if (auto err = v.get_array().get(array)) return malformed(err, path);
      for (auto elementResult : array) {
        od::value element;
        if (auto err = std::move(elementResult).get(element)) return malformed(err, path);
        REKA_RETURN_IF_ERROR(validateValue(element, depth + 1, path));
      }
      return Status::ok();
    }
    case od::json_type::string: {
      std::string_view s;
      if (auto err = v.get_string().get(s)) return malformed(err, path);
      return Status::ok();
    }
    case od::json_type::number: {
      // Checked against the grammar, not parsed: numbers beyond 64 bits are valid JSON too.
      // The unconsumed token is skipped by the enclosing iteration.
      if (!isJsonNumber(trimmed(v.raw_json_token()))) {
        return malformed(simdjson::NUMBER_ERROR, path);
      }
      return Status::ok();
    }
    case od::json_type::boolean: {
      bool b;
      if (auto err = v.get_bool().get(b)) return malformed(err, path);
      return Status::ok();
    }
    case od::json_type::null: {
      bool isNull = false;
      if (auto err = v.is_null().get(isNull)) return malformed(err, path);
      if (!isNull) return malformed(simdjson::N_ATOM_ERROR, path);
      return Status::ok();
    }
  }
  return Status::invalidArgument(fmt::format("nesting deeper than {} levels in field \"{}{}\"",
                                             EventParser::kMaxDepth, path.prefix, path.name));
}

// True if the key whose raw bytes (after the opening quote) start at `raw` is exactly `name`.
// Reading name.size() + 1 bytes stays within the line's padding even at its end.
bool rawKeyIs(const char* raw, std::string_view name) {
  return std::memcmp(raw, name.data(), name.size()) == 0 && raw[name.size()] == '"';
}

// One field of a record type: its JSON name, its path for messages, and where it goes.
template <class R>
struct FieldSpec {
  std::string_view name;
  int64_t R::*intMember = nullptr;
  std::string_view R::*stringMember = nullptr;
};

constexpr FieldSpec<Person> kPersonFields[] = {
    {"id", &Person::id, nullptr},
    {"name", nullptr, &Person::name},
    {"emailAddress", nullptr, &Person::emailAddress},
    {"creditCard", nullptr, &Person::creditCard},
    {"city", nullptr, &Person::city},
    {"state", nullptr, &Person::state},
    {"dateTime", &Person::dateTime, nullptr},
    {"extra", nullptr, &Person::extra},
};

constexpr FieldSpec<Auction> kAuctionFields[] = {
    {"id", &Auction::id, nullptr},
    {"itemName", nullptr, &Auction::itemName},
    {"description", nullptr, &Auction::description},
    {"initialBid", &Auction::initialBid, nullptr},
    {"reserve", &Auction::reserve, nullptr},
    {"dateTime", &Auction::dateTime, nullptr},
    {"expires", &Auction::expires, nullptr},
    {"seller", &Auction::seller, nullptr},
    {"category", &Auction::category, nullptr},
    {"extra", nullptr, &Auction::extra},
};

constexpr FieldSpec<Bid> kBidFields[] = {
    {"auction", &Bid::auction, nullptr}, {"bidder", &Bid::bidder, nullptr},
    {"price", &Bid::price, nullptr},     {"channel", nullptr, &Bid::channel},
    {"url", nullptr, &Bid::url},         {"dateTime", &Bid::dateTime, nullptr},
    {"extra", nullptr, &Bid::extra},
};

// Reads the object `v` into `out`: every field of `specs` exactly once, others validated and
// ignored. `prefix` is "bid." etc.
template <class R, size_t N>
Status readRecord(od::value& v, std::string_view objectName, std::string_view prefix,
                  const FieldSpec<R> (&specs)[N], StringArena& arena, R& out) {
  static_assert(N <= 32);
  FieldPath objectPath{"", objectName};
  od::json_type type{};
  REKA_RETURN_IF_ERROR(readType(v, objectPath, type));
  if (type != od::json_type::object) return wrongType(objectPath, "an object", typeName(type));
  od::object object;
  if (auto err = v.get_object().get(object)) return malformed(err, objectPath);
  uint32_t seen = 0;
  size_t expected = 0;  // writers emit the documented order: try the next field first
  for (auto fieldResult : object) {
    od::field field;
    if (auto err = std::move(fieldResult).get(field)) return malformed(err, objectPath);
    // Keys are matched on their raw bytes; only a key that matches none is unescaped (an
    // unknown field, or a known name spelled with escapes).
    const char* raw = field.key().raw();
    size_t index = N;
    if (expected < N && rawKeyIs(raw, specs[expected].name)) {
      index = expected;
    } else {
      for (size_t i = 0; i < N; ++i) {
        if (rawKeyIs(raw, specs[i].name)) {
          index = i;
          break;
        }
      }
    }
    std::string_view key;
    if (index == N) {
      if (auto err = field.unescaped_key().get(key)) return malformed(err, objectPath);
      for (size_t i = 0; i < N; ++i) {
        if (specs[i].name == key) {
          index = i;
          break;
        }
      }
    }
    if (index == N) {
      // The record object is level 2 of the line; its members are level 3.
      REKA_RETURN_IF_ERROR(validateValue(field.value(), 3, FieldPath{prefix, key}));
      continue;
    }
    expected = index + 1;
    const FieldSpec<R>& spec = specs[index];
    FieldPath path{prefix, spec.name};
    if (seen & (uint32_t{1} << index)) {
      return Status::invalidArgument(
          fmt::format("duplicate field \"{}{}\"", path.prefix, path.name));
    }
    seen |= uint32_t{1} << index;
    if (spec.intMember != nullptr) {
      REKA_RETURN_IF_ERROR(readInt(field.value(), path, out.*(spec.intMember)));
    } else {
      REKA_RETURN_IF_ERROR(readString(field.value(), path, arena, out.*(spec.stringMember)));
    }
  }
  constexpr uint32_t kAll = N == 32 ? ~uint32_t{0} : (uint32_t{1} << N) - 1;
  if (seen != kAll) {
    for (size_t i = 0; i < N; ++i) {
      if (!(seen & (uint32_t{1} << i))) {
        return Status::invalidArgument(
            fmt::format("missing field \"{}{}\"", prefix, specs[i].name));
      }
    }
  }
  return Status::ok();
}

bool isBlank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), isJsonSpace);
}

constexpr std::string_view kRecordNames[] = {"person", "auction", "bid"};

}  // namespace

// ---------------------------------------------------------------------------------------------
// EventParser

struct EventParser::Impl {
  explicit Impl(size_t maxLineBytes) : maxLineBytes(maxLineBytes) {}

  Result<Event> parse(std::string_view line, StringArena& arena);
  Status ensureCapacity(size_t length);

  size_t maxLineBytes;
  od::parser parser;
  // A copy of the current line followed by SIMDJSON_PADDING zero bytes, as simdjson requires.
  std::unique_ptr<char[]> buffer;
  size_t bufferCapacity = 0;
};

Status EventParser::Impl::ensureCapacity(size_t length) {
  // Both grow geometrically, so a run of ever longer lines costs linear time in total.
  size_t needed = length + simdjson::SIMDJSON_PADDING;
  if (bufferCapacity < needed) {
    size_t capacity = std::max({needed, 2 * bufferCapacity, size_t{4096}});
    buffer = std::make_unique_for_overwrite<char[]>(capacity);
    bufferCapacity = capacity;
  }
  if (parser.capacity() < length) {
    size_t capacity = std::max({length, 2 * parser.capacity(), size_t{4096}});
    if (auto err = parser.allocate(capacity, parser.max_depth())) {
      return Status::resourceExhausted(fmt::format("cannot allocate a JSON parser for {} bytes: {}",
                                                   capacity, simdjson::error_message(err)));
    }
  }
  return Status::ok();
}

Result<Event> EventParser::Impl::parse(std::string_view line, StringArena& arena) {
  if (line.size() > maxLineBytes) {
    return Status::invalidArgument(
        fmt::format("line of {} bytes exceeds the {}-byte limit", line.size(), maxLineBytes));
  }
  if (isBlank(line)) return Status::invalidArgument("empty line");
  REKA_RETURN_IF_ERROR(ensureCapacity(line.size()));
  std::memcpy(buffer.get(), line.data(), line.size());
  std::memset(buffer.get() + line.size(), 0, simdjson::SIMDJSON_PADDING);

  od::document doc;
  if (auto err = parser.iterate(buffer.get(), line.size(), bufferCapacity).get(doc)) {
    return malformed(err);
  }
  od::json_type type{};
  if (auto err = doc.type().get(type)) return malformed(err);
  if (type != od::json_type::object) {
    return Status::invalidArgument(fmt::format("expected a JSON object, got {}", typeName(type)));
  }
  od::object object;
  if (auto err = doc.get_object().get(object)) {
    if (err == simdjson::INCOMPLETE_ARRAY_OR_OBJECT) return unbalanced(line);
    return malformed(err);
  }

  int64_t eventType = -1;
  bool haveEventType = false;
  bool haveRecord[3] = {false, false, false};
  Person person{};
  Auction auction{};
  Bid bid{};
  for (auto fieldResult : object) {
    od::field field;
    if (auto err = std::move(fieldResult).get(field)) return malformed(err);
    std::string_view key;
    const char* raw = field.key().raw();
    for (std::string_view name : {"event_type", "bid", "auction", "person"}) {
      if (rawKeyIs(raw, name)) {
        key = name;
        break;
      }
    }
    if (key.empty()) {
      if (auto err = field.unescaped_key().get(key)) return malformed(err);
    }
    int record = -1;
    if (key == "event_type") {
      if (haveEventType) return Status::invalidArgument("duplicate field \"event_type\"");
      haveEventType = true;
      REKA_RETURN_IF_ERROR(readInt(field.value(), FieldPath{"", "event_type"}, eventType));
      continue;
    }
    if (key == "bid") {
      record = 2;
    } else if (key == "auction") {
      record = 1;
    } else if (key == "person") {
      record = 0;
    } else {
      REKA_RETURN_IF_ERROR(validateValue(field.value(), 2, FieldPath{"", key}));
      continue;
    }
    std::string_view name = kRecordNames[record];
    if (haveRecord[record]) {
      return Status::invalidArgument(fmt::format("duplicate field \"{}\"", name));
    }
    haveRecord[record] = true;
    switch (record) {
      case 0:
        REKA_RETURN_IF_ERROR(
            readRecord(field.value(), name, "person.", kPersonFields, arena, person));
        break;
      case 1:
        REKA_RETURN_IF_ERROR(
            readRecord(field.value(), name, "auction.", kAuctionFields, arena, auction));
        break;
      default:
        REKA_RETURN_IF_ERROR(readRecord(field.value(), name, "bid.", kBidFields, arena, bid));
        break;
    }
  }
  const char* location = nullptr;
  if (doc.current_location().get(location) == simdjson::SUCCESS) {
    return Status::invalidArgument(
        fmt::format("malformed JSON: trailing content at byte {}", location - buffer.get()));
  }

  if (!haveEventType) return Status::invalidArgument("missing field \"event_type\"");
  if (eventType < 0 || eventType > 2) {
    return Status::invalidArgument(fmt::format("event_type must be 0, 1 or 2, got {}", eventType));
  }
  if (!haveRecord[eventType]) {
    return Status::invalidArgument(
        fmt::format("event_type {} requires object \"{}\"", eventType, kRecordNames[eventType]));
  }
  for (int other = 0; other < 3; ++other) {
    if (other != eventType && haveRecord[other]) {
      return Status::invalidArgument(fmt::format("event_type {} must not carry object \"{}\"",
                                                 eventType, kRecordNames[other]));
    }
  }
  switch (eventType) {
    case 0:
      return Event::of(person);
    case 1:
      return Event::of(auction);
    default:
      return Event::of(bid);
  }
}

EventParser::EventParser(size_t maxLineBytes) : impl_(std::make_unique<Impl>(maxLineBytes)) {}
EventParser::~EventParser() = default;
EventParser::EventParser(EventParser&&) noexcept = default;
EventParser& EventParser::operator=(EventParser&&) noexcept = default;

Result<Event> EventParser::parse(std::string_view line, StringArena& arena) {
  return impl_->parse(line, arena);
}

// ---------------------------------------------------------------------------------------------
// appendEventJson

void appendEventJson(const Event& event, std::string& out) {
  switch (event.type) {
    case EventType::kPerson: {
      const Person& p = event.person;
      out.append(R"({"event_type":0,"person":{"id":)");
      appendInt(p.id, out);
      out.append(R"(,"name":)");
      appendQuoted(p.name, out);
      out.append(R"(,"emailAddress":)");
      appendQuoted(p.emailAddress, out);
      out.append(R"(,"creditCard":)");
      appendQuoted(p.creditCard, out);
      out.append(R"(,"city":)");
      appendQuoted(p.city, out);
      out.append(R"(,"state":)");
      appendQuoted(p.state, out);
      out.append(R"(,"dateTime":)");
      appendInt(p.dateTime, out);
      out.append(R"(,"extra":)");
      appendQuoted(p.extra, out);
      out.append("}}");
      return;
    }
    case EventType::kAuction: {
      const Auction& a = event.auction;
      out.append(R"({"event_type":1,"auction":{"id":)");
      appendInt(a.id, out);
      out.append(R"(,"itemName":)");
      appendQuoted(a.itemName, out);
      out.append(R"(,"description":)");
      appendQuoted(a.description, out);
      out.append(R"(,"initialBid":)");
      appendInt(a.initialBid, out);
      out.append(R"(,"reserve":)");
      appendInt(a.reserve, out);
      out.append(R"(,"dateTime":)");
      appendInt(a.dateTime, out);
      out.append(R"(,"expires":)");
      appendInt(a.expires, out);
      out.append(R"(,"seller":)");
      appendInt(a.seller, out);
      out.append(R"(,"category":)");
      appendInt(a.category, out);
      out.append(R"(,"extra":)");
      appendQuoted(a.extra, out);
      out.append("}}");
      return;
    }
    case EventType::kBid: {
      const Bid& b = event.bid;
      out.append(R"({"event_type":2,"bid":{"auction":)");
      appendInt(b.auction, out);
      out.append(R"(,"bidder":)");
      appendInt(b.bidder, out);
      out.append(R"(,"price":)");
      appendInt(b.price, out);
      out.append(R"(,"channel":)");
      appendQuoted(b.channel, out);
      out.append(R"(,"url":)");
      appendQuoted(b.url, out);
      out.append(R"(,"dateTime":)");
      appendInt(b.dateTime, out);
      out.append(R"(,"extra":)");
      appendQuoted(b.extra, out);
      out.append("}}");
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// JsonRowWriter

void JsonRowWriter::begin() {
  out_->push_back('{');
  firstField_ = true;
}

void JsonRowWriter::key(std::string_view name) {
  if (!firstField_) out_->push_back(',');
  firstField_ = false;
  appendQuoted(name, *out_);
  out_->push_back(':');
}

void JsonRowWriter::field(std::string_view name, int64_t value) {
  key(name);
  appendInt(value, *out_);
}

void JsonRowWriter::field(std::string_view name, std::string_view value) {
  key(name);
  appendQuoted(value, *out_);
}

void JsonRowWriter::fieldDecimal(std::string_view name, int64_t scaledValue, int scale) {
  constexpr int kMaxScale = 18;
  REKA_CHECK_GE(scale, 0);
  REKA_CHECK_LE(scale, kMaxScale);
  key(name);
  // Work on the magnitude as unsigned so that INT64_MIN is exact.
  uint64_t magnitude = scaledValue < 0 ? uint64_t{0} - static_cast<uint64_t>(scaledValue)
                                       : static_cast<uint64_t>(scaledValue);
  if (scaledValue < 0) out_->push_back('-');
  uint64_t divisor = 1;
  for (int i = 0; i < scale; ++i) divisor *= 10;
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, magnitude / divisor);
  out_->append(buf, static_cast<size_t>(r.ptr - buf));
  if (scale == 0) return;
  uint64_t fraction = magnitude % divisor;
  char digits[kMaxScale + 1];
  digits[0] = '.';
  for (int i = scale; i >= 1; --i) {
    digits[i] = static_cast<char>('0' + fraction % 10);
    fraction /= 10;
  }
  out_->append(digits, static_cast<size_t>(scale) + 1);
}

void JsonRowWriter::fieldDouble(std::string_view name, double value) {
  key(name);
  if (!std::isfinite(value)) {
    out_->append("null");
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  out_->append(buf, static_cast<size_t>(r.ptr - buf));
}

void JsonRowWriter::fieldNull(std::string_view name) {
  key(name);
  out_->append("null");
}

void JsonRowWriter::end() {
  out_->append("}\n");
}

}  // namespace reka::nexmark
