#include "connectors/format/JsonWriter.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "connectors/format/JsonText.h"
#include "reka/base/Check.h"

namespace reka::connector {

using namespace json;  // NOLINT: the JSON text writers

namespace {

char* writeKey(char* p, bool first, std::string_view name) {
  if (!first) *p++ = ',';
  // Names are nearly always plain ASCII: then a copy does, without the per-byte branches.
  uint8_t classes = 0;
  for (char c : name) classes |= kByteClass[static_cast<unsigned char>(c)];
  if (classes == kCopy) {
    *p++ = '"';
    p = writeLiteral(p, name);
    *p++ = '"';
  } else {
    p = writeQuoted(p, name);
  }
  *p++ = ':';
  return p;
}

size_t keyBound(std::string_view name) {
  return quotedBound(name) + 2;
}

// Sign, integer digits, point and up to 18 fraction digits.
constexpr int kMaxDecimalScale = 18;
constexpr size_t kDecimalBytes = 2 + kIntBytes + kMaxDecimalScale;

constexpr std::array<uint64_t, kMaxDecimalScale + 1> kPowersOf10 = [] {
  std::array<uint64_t, kMaxDecimalScale + 1> t{};
  uint64_t v = 1;
  for (auto& x : t) {
    x = v;
    v *= 10;
  }
  return t;
}();

char* writeDecimal(char* p, int64_t scaledValue, int scale) {
  // Work on the magnitude as unsigned so that INT64_MIN is exact.
  uint64_t magnitude = scaledValue < 0 ? uint64_t{0} - static_cast<uint64_t>(scaledValue)
                                       : static_cast<uint64_t>(scaledValue);
  if (scaledValue < 0) *p++ = '-';
  uint64_t divisor = kPowersOf10[static_cast<size_t>(scale)];
  p = std::to_chars(p, p + kIntBytes, magnitude / divisor).ptr;
  if (scale == 0) return p;
  uint64_t fraction = magnitude % divisor;
  *p = '.';
  for (int i = scale; i >= 1; --i) {
    p[i] = static_cast<char>('0' + fraction % 10);
    fraction /= 10;
  }
  return p + scale + 1;
}

char* writeDouble(char* p, double value) {
  if (!std::isfinite(value)) return writeLiteral(p, "null");
  return std::to_chars(p, p + kDoubleBytes, value).ptr;
}

}  // namespace

char* JsonRowWriter::reserve(size_t bytes) {
  if (used_ + bytes <= kBufferBytes) return buffer_ + used_;
  flush();
  return bytes <= kBufferBytes ? buffer_ : nullptr;
}

void JsonRowWriter::flush() {
  out_->append(buffer_, used_);
  used_ = 0;
}

template <class Write>
void JsonRowWriter::add(size_t bound, Write write) {
  if (char* p = reserve(bound); p != nullptr) {
    used_ = static_cast<size_t>(write(p) - buffer_);
  } else {
    // A huge name or string: straight into the string (the buffer was flushed).
    appendGrowing(*out_, bound, write);
  }
  firstField_ = false;
}

void JsonRowWriter::begin() {
  char* p = reserve(1);
  *p = '{';
  ++used_;
  firstField_ = true;
}

void JsonRowWriter::field(std::string_view name, int64_t value) {
  add(keyBound(name) + kIntBytes,
      [&](char* p) { return writeInt(writeKey(p, firstField_, name), value); });
}

void JsonRowWriter::fieldInt128(std::string_view name, __int128 value) {
  if (value >= INT64_MIN && value <= INT64_MAX) return field(name, static_cast<int64_t>(value));
  // Digits from the least significant; 40 hold any 128-bit value.
  char digits[40];
  int n = 0;
  unsigned __int128 magnitude = value < 0 ? -static_cast<unsigned __int128>(value) : static_cast<unsigned __int128>(value);
  while (magnitude != 0) {
    digits[n++] = static_cast<char>('0' + static_cast<int>(magnitude % 10));
    magnitude /= 10;
  }
  std::string text = value < 0 ? "-" : "";
  while (n > 0) text.push_back(digits[--n]);
  add(keyBound(name) + text.size(), [&](char* p) {
    p = writeKey(p, firstField_, name);
    std::memcpy(p, text.data(), text.size());
    return p + text.size();
  });
}

void JsonRowWriter::field(std::string_view name, std::string_view value) {
  add(keyBound(name) + quotedBound(value),
      [&](char* p) { return writeQuoted(writeKey(p, firstField_, name), value); });
}

void JsonRowWriter::fieldDecimal(std::string_view name, int64_t scaledValue, int scale) {
  REKA_CHECK_GE(scale, 0);
  REKA_CHECK_LE(scale, kMaxDecimalScale);
  add(keyBound(name) + kDecimalBytes,
      [&](char* p) { return writeDecimal(writeKey(p, firstField_, name), scaledValue, scale); });
}

void JsonRowWriter::fieldDouble(std::string_view name, double value) {
  add(keyBound(name) + kDoubleBytes,
      [&](char* p) { return writeDouble(writeKey(p, firstField_, name), value); });
}

void JsonRowWriter::fieldNull(std::string_view name) {
  add(keyBound(name) + 4,
      [&](char* p) { return writeLiteral(writeKey(p, firstField_, name), "null"); });
}

void JsonRowWriter::fieldBool(std::string_view name, bool value) {
  add(keyBound(name) + 5, [&](char* p) { return writeLiteral(writeKey(p, firstField_, name), value ? "true" : "false"); });
}

void JsonRowWriter::fieldRaw(std::string_view name, std::string_view json) {
  add(keyBound(name) + json.size(), [&](char* p) { return writeLiteral(writeKey(p, firstField_, name), json); });
}

void JsonRowWriter::beginObject(std::string_view name) {
  add(keyBound(name) + 1, [&](char* p) {
    p = writeKey(p, firstField_, name);
    *p++ = '{';
    return p;
  });
  firstField_ = true;
}

void JsonRowWriter::endObject() {
  char* p = reserve(1);
  *p = '}';
  ++used_;
  firstField_ = false;
}

void JsonRowWriter::end(bool newline) {
  char* p = reserve(2);
  p[0] = '}';
  used_ += 1;
  if (newline) {
    p[1] = '\n';
    used_ += 1;
  }
  flush();
}

}  // namespace reka::connector
