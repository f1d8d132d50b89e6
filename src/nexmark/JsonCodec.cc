#include "nexmark/JsonCodec.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <utility>

#include "reka/base/Check.h"
#include "reka/time/TimeArithmetic.h"
#include "connectors/format/JsonText.h"

namespace reka::nexmark {

namespace {

namespace od = simdjson::ondemand;
using namespace connector::json;  // NOLINT: the JSON text writers

// Room for the fixed parts of any event line: keys, punctuation and 10 integers.
constexpr size_t kEventFixedBytes = 256 + 10 * kIntBytes;
// A typical event line fits this stack buffer; only huge ones grow the output directly.
constexpr size_t kEventStackBytes = 8192;

char* writePerson(char* p, const Person& v) {
  p = writeLiteral(p, R"({"event_type":0,"person":{"id":)");
  p = writeInt(p, v.id);
  p = writeLiteral(p, R"(,"name":)");
  p = writeQuoted(p, v.name);
  p = writeLiteral(p, R"(,"emailAddress":)");
  p = writeQuoted(p, v.emailAddress);
  p = writeLiteral(p, R"(,"creditCard":)");
  p = writeQuoted(p, v.creditCard);
  p = writeLiteral(p, R"(,"city":)");
  p = writeQuoted(p, v.city);
  p = writeLiteral(p, R"(,"state":)");
  p = writeQuoted(p, v.state);
  p = writeLiteral(p, R"(,"dateTime":)");
  p = writeInt(p, v.dateTime);
  p = writeLiteral(p, R"(,"extra":)");
  p = writeQuoted(p, v.extra);
  return writeLiteral(p, "}}");
}

char* writeAuction(char* p, const Auction& v) {
  p = writeLiteral(p, R"({"event_type":1,"auction":{"id":)");
  p = writeInt(p, v.id);
  p = writeLiteral(p, R"(,"itemName":)");
  p = writeQuoted(p, v.itemName);
  p = writeLiteral(p, R"(,"description":)");
  p = writeQuoted(p, v.description);
  p = writeLiteral(p, R"(,"initialBid":)");
  p = writeInt(p, v.initialBid);
  p = writeLiteral(p, R"(,"reserve":)");
  p = writeInt(p, v.reserve);
  p = writeLiteral(p, R"(,"dateTime":)");
  p = writeInt(p, v.dateTime);
  p = writeLiteral(p, R"(,"expires":)");
  p = writeInt(p, v.expires);
  p = writeLiteral(p, R"(,"seller":)");
  p = writeInt(p, v.seller);
  p = writeLiteral(p, R"(,"category":)");
  p = writeInt(p, v.category);
  p = writeLiteral(p, R"(,"extra":)");
  p = writeQuoted(p, v.extra);
  return writeLiteral(p, "}}");
}

char* writeBid(char* p, const Bid& v) {
  p = writeLiteral(p, R"({"event_type":2,"bid":{"auction":)");
  p = writeInt(p, v.auction);
  p = writeLiteral(p, R"(,"bidder":)");
  p = writeInt(p, v.bidder);
  p = writeLiteral(p, R"(,"price":)");
  p = writeInt(p, v.price);
  p = writeLiteral(p, R"(,"channel":)");
  p = writeQuoted(p, v.channel);
  p = writeLiteral(p, R"(,"url":)");
  p = writeQuoted(p, v.url);
  p = writeLiteral(p, R"(,"dateTime":)");
  p = writeInt(p, v.dateTime);
  p = writeLiteral(p, R"(,"extra":)");
  p = writeQuoted(p, v.extra);
  return writeLiteral(p, "}}");
}

// ---------------------------------------------------------------------------------------------
// Parsing

bool isJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool isBlank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), isJsonSpace);
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

// simdjson reports a line whose last token is not the closing '}' as "ended early", whether it
// was cut short or has something after its object. Tell the two apart by matching brackets
// outside strings (error path only, one pass).
[[gnu::cold]] Status unbalancedLine(std::string_view line) {
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

// True if the key whose raw bytes (after the opening quote) start at `raw` is exactly `name`.
// Reading name.size() + 1 bytes stays within the line's padding even at its end.
bool rawKeyIs(const char* raw, std::string_view name) {
  return std::memcmp(raw, name.data(), name.size()) == 0 && raw[name.size()] == '"';
}

// `prefix` + `name` spell a field's path ("bid." + "price"); only joined on the error path.
struct FieldPath {
  std::string_view prefix;
  std::string_view name;
};

// One field of a record type: its JSON name and where its value goes.
template <class R>
struct FieldSpec {
  std::string_view name;
  int64_t R::*intMember = nullptr;
  std::string_view R::*stringMember = nullptr;
  /// An event time (epoch ms): must lie in [kMinEventTimestamp, kMaxEventTimestamp].
  bool isTime = false;
};

// clang-format off
constexpr FieldSpec<Person> kPersonFields[] = {
    {"id", &Person::id, nullptr},
    {"name", nullptr, &Person::name},
    {"emailAddress", nullptr, &Person::emailAddress},
    {"creditCard", nullptr, &Person::creditCard},
    {"city", nullptr, &Person::city},
    {"state", nullptr, &Person::state},
    {"dateTime", &Person::dateTime, nullptr, true},
    {"extra", nullptr, &Person::extra},
};

constexpr FieldSpec<Auction> kAuctionFields[] = {
    {"id", &Auction::id, nullptr},
    {"itemName", nullptr, &Auction::itemName},
    {"description", nullptr, &Auction::description},
    {"initialBid", &Auction::initialBid, nullptr},
    {"reserve", &Auction::reserve, nullptr},
    {"dateTime", &Auction::dateTime, nullptr, true},
    {"expires", &Auction::expires, nullptr, true},
    {"seller", &Auction::seller, nullptr},
    {"category", &Auction::category, nullptr},
    {"extra", nullptr, &Auction::extra},
};

constexpr FieldSpec<Bid> kBidFields[] = {
    {"auction", &Bid::auction, nullptr},
    {"bidder", &Bid::bidder, nullptr},
    {"price", &Bid::price, nullptr},
    {"channel", nullptr, &Bid::channel},
    {"url", nullptr, &Bid::url},
    {"dateTime", &Bid::dateTime, nullptr, true},
    {"extra", nullptr, &Bid::extra},
};
// clang-format on

constexpr std::string_view kRecordNames[] = {"person", "auction", "bid"};

// Reads one line's document into an Event. Methods return false after recording the reason in
// error_: a Status (with its string) is only built on failure, keeping the per-field path lean.
class DocumentReader {
 public:
  DocumentReader(StringArena& arena, const char* lineStart)
      : arena_(arena), lineStart_(lineStart) {}

  bool readEvent(od::document& doc, od::object& object, Event& event);
  Status takeError() { return std::move(error_); }

 private:
  bool fail(Status status) {
    error_ = std::move(status);
    return false;
  }
  [[gnu::cold]] bool malformed(simdjson::error_code err) {
    return fail(
        Status::invalidArgument(fmt::format("malformed JSON: {}", simdjson::error_message(err))));
  }
  [[gnu::cold]] bool malformed(simdjson::error_code err, FieldPath path) {
    return fail(
        Status::invalidArgument(fmt::format("malformed JSON in field \"{}{}\": {}", path.prefix,
                                            path.name, simdjson::error_message(err))));
  }
  [[gnu::cold]] bool wrongType(FieldPath path, std::string_view expected, std::string_view got) {
    return fail(Status::invalidArgument(
        fmt::format("field \"{}{}\" must be {}, got {}", path.prefix, path.name, expected, got)));
  }

  bool readType(od::value& v, FieldPath path, od::json_type& type) {
    if (auto err = v.type().get(type)) return malformed(err, path);
    return true;
  }
  bool readInt(od::value& v, FieldPath path, bool isTime, int64_t& out);
  bool readString(od::value& v, FieldPath path, std::string_view& out);
  bool validateValue(od::value& v, int depth, FieldPath path);
  template <class R, size_t N>
  bool readRecord(od::value& v, std::string_view objectName, std::string_view prefix,
                  const FieldSpec<R> (&specs)[N], R& out);

  StringArena& arena_;
  const char* lineStart_;
  Status error_;
};

bool DocumentReader::readInt(od::value& v, FieldPath path, bool isTime, int64_t& out) {
  od::json_type type{};
  if (!readType(v, path, type)) return false;
  if (type != od::json_type::number) return wrongType(path, "an integer", typeName(type));
  if (v.get_int64().get(out) != simdjson::SUCCESS) {
    return wrongType(path, "an integer", shownToken(v.raw_json_token()));
  }
  if (isTime && !isValidEventTimestamp(out)) {
    return fail(Status::invalidArgument(fmt::format(
        "field \"{}{}\": {} is not a timestamp this engine accepts (epoch ms from {} to {}: years 0000 to 9999)",
        path.prefix, path.name, out, kMinEventTimestamp, kMaxEventTimestamp)));
  }
  // Beyond ±(2^53 − 1) JSON numbers are not interoperable (RFC 7493): other tools read them
  // rounded. Refusing them also bounds what the queries compute (price × 908 fits in 64 bits).
  if (out > EventParser::kMaxJsonSafeInteger || out < -EventParser::kMaxJsonSafeInteger) {
    return fail(Status::invalidArgument(fmt::format(
        "field \"{}{}\": {} is outside the integers JSON exchanges exactly (±{}, RFC 7493)", path.prefix,
        path.name, out, EventParser::kMaxJsonSafeInteger)));
  }
  return true;
}

bool DocumentReader::readString(od::value& v, FieldPath path, std::string_view& out) {
  od::json_type type{};
  if (!readType(v, path, type)) return false;
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
  out = s.empty() ? std::string_view() : arena_.copy(s);
  return true;
}

// Validates a value nobody asked for, so that a line is accepted only if it is JSON throughout.
// Recursion is bounded by EventParser::kMaxDepth.
bool DocumentReader::validateValue(od::value& v, int depth, FieldPath path) {
  od::json_type type{};
  if (!readType(v, path, type)) return false;
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
        if (!validateValue(field.value(), depth + 1, path)) return false;
      }
      return true;
    }
    case od::json_type::array: {
      if (depth >= EventParser::kMaxDepth) break;
      od::array array;
      if (auto err = v.get_array().get(array)) return malformed(err, path);
      for (auto elementResult : array) {
        od::value element;
        if (auto err = std::move(elementResult).get(element)) return malformed(err, path);
        if (!validateValue(element, depth + 1, path)) return false;
      }
      return true;
    }
    case od::json_type::string: {
      std::string_view s;
      if (auto err = v.get_string().get(s)) return malformed(err, path);
      return true;
    }
    case od::json_type::number:
      // Checked against the grammar, not parsed: numbers beyond 64 bits are valid JSON too.
      // The unconsumed token is skipped by the enclosing iteration.
      if (!isJsonNumber(trimmed(v.raw_json_token())))
        return malformed(simdjson::NUMBER_ERROR, path);
      return true;
    case od::json_type::boolean: {
      bool b = false;
      if (auto err = v.get_bool().get(b)) return malformed(err, path);
      return true;
    }
    case od::json_type::null: {
      bool isNull = false;
      if (auto err = v.is_null().get(isNull)) return malformed(err, path);
      if (!isNull) return malformed(simdjson::N_ATOM_ERROR, path);
      return true;
    }
  }
  return fail(Status::invalidArgument(fmt::format("nesting deeper than {} levels in field \"{}{}\"",
                                                  EventParser::kMaxDepth, path.prefix, path.name)));
}

// Reads the object `v` into `out`: every field of `specs` exactly once, others validated and
// ignored. `prefix` is "bid." etc.
template <class R, size_t N>
bool DocumentReader::readRecord(od::value& v, std::string_view objectName, std::string_view prefix,
                                const FieldSpec<R> (&specs)[N], R& out) {
  static_assert(N < 32);
  FieldPath objectPath{"", objectName};
  od::json_type type{};
  if (!readType(v, objectPath, type)) return false;
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
      if (!validateValue(field.value(), 3, FieldPath{prefix, key})) return false;
      continue;
    }
    expected = index + 1;
    const FieldSpec<R>& spec = specs[index];
    FieldPath path{prefix, spec.name};
    if (seen & (uint32_t{1} << index)) {
      return fail(
          Status::invalidArgument(fmt::format("duplicate field \"{}{}\"", path.prefix, path.name)));
    }
    seen |= uint32_t{1} << index;
    bool ok = spec.intMember != nullptr ? readInt(field.value(), path, spec.isTime, out.*(spec.intMember))
                                        : readString(field.value(), path, out.*(spec.stringMember));
    if (!ok) return false;
  }
  constexpr uint32_t kAll = (uint32_t{1} << N) - 1;
  if (seen != kAll) {
    for (size_t i = 0; i < N; ++i) {
      if (!(seen & (uint32_t{1} << i))) {
        return fail(
            Status::invalidArgument(fmt::format("missing field \"{}{}\"", prefix, specs[i].name)));
      }
    }
  }
  return true;
}

bool DocumentReader::readEvent(od::document& doc, od::object& object, Event& event) {
  int64_t eventType = -1;
  bool haveEventType = false;
  bool haveRecord[3] = {false, false, false};
  // The first record object is read straight into `event`; any other one only into a scratch
  // event, to validate it before the line is refused.
  bool haveAnyRecord = false;
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
    if (key == "event_type") {
      if (haveEventType) return fail(Status::invalidArgument("duplicate field \"event_type\""));
      haveEventType = true;
      if (!readInt(field.value(), FieldPath{"", "event_type"}, false, eventType)) return false;
      continue;
    }
    EventType record;
    if (key == "bid") {
      record = EventType::kBid;
    } else if (key == "auction") {
      record = EventType::kAuction;
    } else if (key == "person") {
      record = EventType::kPerson;
    } else {
      if (!validateValue(field.value(), 2, FieldPath{"", key})) return false;
      continue;
    }
    auto index = static_cast<size_t>(record);
    std::string_view name = kRecordNames[index];
    if (haveRecord[index]) {
      return fail(Status::invalidArgument(fmt::format("duplicate field \"{}\"", name)));
    }
    haveRecord[index] = true;
    Event scratch;
    Event& target = haveAnyRecord ? scratch : event;
    haveAnyRecord = true;
    target.type = record;
    bool ok = false;
    switch (record) {
      case EventType::kPerson:
        target.person = Person{};
        ok = readRecord(field.value(), name, "person.", kPersonFields, target.person);
        break;
      case EventType::kAuction:
        target.auction = Auction{};
        ok = readRecord(field.value(), name, "auction.", kAuctionFields, target.auction);
        break;
      case EventType::kBid:
        target.bid = Bid{};
        ok = readRecord(field.value(), name, "bid.", kBidFields, target.bid);
        break;
    }
    if (!ok) return false;
  }
  const char* location = nullptr;
  if (doc.current_location().get(location) == simdjson::SUCCESS) {
    return fail(Status::invalidArgument(
        fmt::format("malformed JSON: trailing content at byte {}", location - lineStart_)));
  }

  if (!haveEventType) return fail(Status::invalidArgument("missing field \"event_type\""));
  if (eventType < 0 || eventType > 2) {
    return fail(
        Status::invalidArgument(fmt::format("event_type must be 0, 1 or 2, got {}", eventType)));
  }
  if (!haveRecord[eventType]) {
    return fail(Status::invalidArgument(
        fmt::format("event_type {} requires object \"{}\"", eventType, kRecordNames[eventType])));
  }
  for (int other = 0; other < 3; ++other) {
    if (other != eventType && haveRecord[other]) {
      return fail(Status::invalidArgument(fmt::format("event_type {} must not carry object \"{}\"",
                                                      eventType, kRecordNames[other])));
    }
  }
  // Here `event` holds the only record, the one event_type names.
  return true;
}

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
    return Status::invalidArgument(fmt::format("malformed JSON: {}", simdjson::error_message(err)));
  }
  od::json_type type{};
  if (auto err = doc.type().get(type)) {
    return Status::invalidArgument(fmt::format("malformed JSON: {}", simdjson::error_message(err)));
  }
  if (type != od::json_type::object) {
    return Status::invalidArgument(fmt::format("expected a JSON object, got {}", typeName(type)));
  }
  od::object object;
  if (auto err = doc.get_object().get(object)) {
    // simdjson refuses a line whose last token is not '}' up front; say precisely why.
    if (err == simdjson::INCOMPLETE_ARRAY_OR_OBJECT) return unbalancedLine(line);
    return Status::invalidArgument(fmt::format("malformed JSON: {}", simdjson::error_message(err)));
  }
  DocumentReader reader(arena, buffer.get());
  Event event;
  if (!reader.readEvent(doc, object, event)) return reader.takeError();
  return event;
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
      const Person& v = event.person;
      size_t bound = kEventFixedBytes + quotedBound(v.name) + quotedBound(v.emailAddress) +
                     quotedBound(v.creditCard) + quotedBound(v.city) + quotedBound(v.state) +
                     quotedBound(v.extra);
      appendBounded<kEventStackBytes>(out, bound, [&](char* p) { return writePerson(p, v); });
      return;
    }
    case EventType::kAuction: {
      const Auction& v = event.auction;
      size_t bound = kEventFixedBytes + quotedBound(v.itemName) + quotedBound(v.description) +
                     quotedBound(v.extra);
      appendBounded<kEventStackBytes>(out, bound, [&](char* p) { return writeAuction(p, v); });
      return;
    }
    case EventType::kBid: {
      const Bid& v = event.bid;
      size_t bound =
          kEventFixedBytes + quotedBound(v.channel) + quotedBound(v.url) + quotedBound(v.extra);
      appendBounded<kEventStackBytes>(out, bound, [&](char* p) { return writeBid(p, v); });
      return;
    }
  }
}

}  // namespace reka::nexmark
