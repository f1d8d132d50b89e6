#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "reka/base/Status.h"
#include "connectors/format/JsonWriter.h"
#include "reka/data/StringArena.h"
#include "nexmark/Model.h"

namespace reka::nexmark {

/// Parses NEXMark events from JSON lines in the three shapes of docs/nexmark.md (Events: Event files):
/// `{"event_type":0,"person":{...}}`, `{"event_type":1,"auction":{...}}` and
/// `{"event_type":2,"bid":{...}}`. Fields may come in any order; unknown fields are validated as
/// JSON and ignored. Every record field is required and must have its type (integers for ids,
/// prices and timestamps; strings otherwise); duplicates, trailing content after the object,
/// nesting deeper than kMaxDepth and lines longer than the configured limit are refused, and so
/// are integers beyond ±kMaxJsonSafeInteger and timestamps (`dateTime`, `expires`) outside
/// [kMinEventTimestamp, kMaxEventTimestamp] (years 0000 to 9999).
///
/// Reusable: one instance per thread, one line at a time. Not thread-safe.
class EventParser {
 public:
  /// Lines longer than this are refused without being copied or indexed.
  static constexpr size_t kDefaultMaxLineBytes = size_t{1} << 20;
  /// Integers beyond ±(2^53 − 1) are refused: JSON tools read them rounded (RFC 7493), and
  /// the bound keeps the queries' arithmetic (q1's price × 908) within 64 bits.
  static constexpr int64_t kMaxJsonSafeInteger = (int64_t{1} << 53) - 1;
  /// Deepest object/array nesting accepted anywhere in a line (the line's object is level 1).
  static constexpr int kMaxDepth = 64;

  explicit EventParser(size_t maxLineBytes = kDefaultMaxLineBytes);
  ~EventParser();
  EventParser(EventParser&&) noexcept;
  EventParser& operator=(EventParser&&) noexcept;
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  /// Parses one line (without its newline). The returned event's strings are unescaped copies
  /// in `arena`, so they stay valid as long as the arena, whatever this parser does next. On
  /// error returns InvalidArgument with the reason (`missing field "bid.price"`,
  /// `malformed JSON: ...`, ...); the arena may then hold some unused bytes.
  Result<Event> parse(std::string_view line, StringArena& arena);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Appends `event` as one section 7 JSON object (fields in the documented order, no newline).
/// Strings are escaped as JSON requires; invalid UTF-8 bytes become U+FFFD, so the output is
/// always valid JSON that EventParser reads back to the same event.
void appendEventJson(const Event& event, std::string& out);

/// Result rows are written with the connectors' JSON row writer.
using connector::JsonRowWriter;

}  // namespace reka::nexmark
