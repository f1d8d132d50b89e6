#pragma once

// Writing JSON text: the writers fill raw memory sized by an upper bound, so the per-byte work
// involves no std::string calls; appendBounded() then appends the result in one go. Shared by
// the JSON formats, the JSON row writer and the NEXMark event encoder (private to Reka).

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace reka::connector::json {

// ---------------------------------------------------------------------------------------------
// Writing. The writers fill raw memory sized by an upper bound, so the per-byte work involves
// no std::string calls; appendBounded() then appends the result in one go.

// How writeQuoted treats each byte: copy, escape, or check as the start of a UTF-8 sequence.
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

// Most bytes std::to_chars writes for an int64_t ("-9223372036854775808").
constexpr size_t kIntBytes = 20;
// Most bytes std::to_chars writes for a double in shortest form ("-2.2250738585072014e-308").
constexpr size_t kDoubleBytes = 32;

// Most bytes writeQuoted writes for `s`: a byte becomes at most 6 (\u00XX), quotes around.
inline size_t quotedBound(std::string_view s) {
  return 6 * s.size() + 2;
}

// Length of the well-formed UTF-8 sequence starting at `p` (Unicode table 3-7), 0 if there is
// none: a stray continuation byte, an overlong form, a surrogate, or a truncated sequence.
inline size_t utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
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

inline char* writeLiteral(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

inline char* writeInt(char* p, int64_t v) {
  return std::to_chars(p, p + kIntBytes, v).ptr;
}

inline char* writeEscape(char* p, unsigned char c) {
  char shortForm = 0;
  switch (c) {
    case '"':
      shortForm = '"';
      break;
    case '\\':
      shortForm = '\\';
      break;
    case '\b':
      shortForm = 'b';
      break;
    case '\f':
      shortForm = 'f';
      break;
    case '\n':
      shortForm = 'n';
      break;
    case '\r':
      shortForm = 'r';
      break;
    case '\t':
      shortForm = 't';
      break;
    default:
      break;
  }
  *p++ = '\\';
  if (shortForm != 0) {
    *p++ = shortForm;
    return p;
  }
  constexpr char kHex[] = "0123456789abcdef";
  *p++ = 'u';
  *p++ = '0';
  *p++ = '0';
  *p++ = kHex[c >> 4];
  *p++ = kHex[c & 0xF];
  return p;
}

// True if any of the 8 bytes in `word` may need more than a plain copy: below 0x20, '"', '\\'
// or 0x80 and above. (The zero-byte tricks can report a false positive, never a false negative.)
inline bool needsCare(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHigh = 0x8080808080808080;
  uint64_t quote = word ^ (kOnes * '"');
  uint64_t backslash = word ^ (kOnes * '\\');
  uint64_t special = ((word - kOnes * 0x20) & ~word) | ((quote - kOnes) & ~quote) |
                     ((backslash - kOnes) & ~backslash);
  return ((special | word) & kHigh) != 0;
}

// Writes `s` as a quoted JSON string: at most quotedBound(s) bytes. Bytes that are not valid
// UTF-8 become U+FFFD, so the output is always valid JSON.
inline char* writeQuoted(char* p, std::string_view s) {
  *p++ = '"';
  const auto* in = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = in + s.size();
  while (in < end) {
    if (end - in >= 8) {
      uint64_t word;
      std::memcpy(&word, in, 8);
      if (!needsCare(word)) {
        std::memcpy(p, &word, 8);
        p += 8;
        in += 8;
        continue;
      }
    }
    unsigned char c = *in;
    uint8_t cls = kByteClass[c];
    if (cls == kCopy) {
      *p++ = static_cast<char>(c);
      ++in;
    } else if (cls == kEscape) {
      p = writeEscape(p, c);
      ++in;
    } else if (size_t n = utf8SequenceLength(in, end); n > 0) {
      std::memcpy(p, in, n);
      p += n;
      in += n;
    } else {
      p = writeLiteral(p, kReplacementChar);
      ++in;
    }
  }
  *p++ = '"';
  return p;
}

// Appends what `write(char* begin) -> char* end` writes, which must be at most `bound` bytes, by
// growing `out` to the bound and trimming it back.
template <class Write>
void appendGrowing(std::string& out, size_t bound, Write write) {
  size_t old = out.size();
  out.resize(old + bound);
  char* end = write(out.data() + old);
  out.resize(static_cast<size_t>(end - out.data()));
}

// Like appendGrowing, but through a stack buffer when that is big enough, so that `out` is not
// zero-filled first.
template <size_t kStackBytes, class Write>
void appendBounded(std::string& out, size_t bound, Write write) {
  if (bound > kStackBytes) {
    appendGrowing(out, bound, write);
    return;
  }
  char buffer[kStackBytes];
  char* end = write(buffer);
  out.append(buffer, static_cast<size_t>(end - buffer));
}


}  // namespace reka::connector::json
