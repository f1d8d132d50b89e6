#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace reka::connector {

/// Writes rows as JSON objects, one per line, to a caller-owned string. A row is
/// assembled in a small buffer inside the writer and appended to the string by end() (a row
/// too long for that buffer reaches the string in parts before); nothing is allocated beyond
/// growing the string. Usage:
/// `w.begin(); w.field("auction", 7); w.fieldDecimal("price", 111684, 3); w.end();`
/// Not thread-safe; the string must outlive the writer.
class JsonRowWriter {
 public:
  explicit JsonRowWriter(std::string& out) : out_(&out) {}

  /// Starts a row: `{`.
  void begin();
  /// Adds `"name":value`.
  void field(std::string_view name, int64_t value);
  /// A 128-bit integer (exact sums), written in full as a JSON number.
  void fieldInt128(std::string_view name, __int128 value);
  /// Adds `"name":"value"` with JSON escaping (invalid UTF-8 bytes become U+FFFD).
  void field(std::string_view name, std::string_view value);
  /// Floating-point values go through fieldDouble or fieldDecimal, never silently truncated.
  template <std::floating_point T>
  void field(std::string_view name, T value) = delete;
  /// Adds the exact decimal `scaledValue / 10^scale` with `scale` fraction digits
  /// (111684, 3 gives 111.684; -5, 3 gives -0.005). `scale` must be in [0, 18].
  void fieldDecimal(std::string_view name, int64_t scaledValue, int scale);
  /// Adds the shortest representation that reads back to `value`; NaN and infinities are
  /// written as null.
  void fieldDouble(std::string_view name, double value);
  /// Adds `"name":null`.
  void fieldNull(std::string_view name);
  /// Adds `"name":true` or `"name":false`.
  void fieldBool(std::string_view name, bool value);
  /// Adds `"name":` followed by `json`, which must be a JSON value (not checked).
  void fieldRaw(std::string_view name, std::string_view json);
  /// Starts a nested object `"name":{`; its fields follow, then endObject().
  void beginObject(std::string_view name);
  void endObject();
  /// Ends the row with `}` and (unless `newline` is false) a newline and appends it to the
  /// string.
  void end(bool newline = true);

 private:
  static constexpr size_t kBufferBytes = 1024;

  /// Room for `bytes` more in buffer_ (flushing it to the string if needed), or nullptr when
  /// they cannot fit even in an empty buffer.
  char* reserve(size_t bytes);
  void flush();
  /// Adds one field that `write(char* begin) -> char* end` writes in at most `bound` bytes.
  template <class Write>
  void add(size_t bound, Write write);

  std::string* out_;
  bool firstField_ = true;
  size_t used_ = 0;
  char buffer_[kBufferBytes];
};

}  // namespace reka::connector
