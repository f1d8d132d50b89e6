#include "reka/base/Units.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <random>
#include <utility>

namespace reka {

namespace {

/// Splits `text` into its leading decimal digits (as a value) and the rest. nullopt when there
/// are no digits or the number does not fit in int64.
std::optional<std::pair<int64_t, std::string_view>> splitNumber(std::string_view text) {
  size_t digits = 0;
  int64_t value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    if (__builtin_mul_overflow(value, int64_t{10}, &value) ||
        __builtin_add_overflow(value, int64_t{text[digits] - '0'}, &value))
      return std::nullopt;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  return std::make_pair(value, text.substr(digits));
}

std::optional<int64_t> scaled(int64_t value, int64_t unit) {
  int64_t out = 0;
  if (__builtin_mul_overflow(value, unit, &out)) return std::nullopt;
  return out;
}

}  // namespace

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  auto number = splitNumber(text);
  if (!number) return std::nullopt;
  auto [n, unit] = *number;
  const bool spaced = !unit.empty() && unit.front() == ' ';
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);  // "1 min", as Flink writes it
  if (spaced && unit.empty()) return std::nullopt;                    // "0 ": a space and no unit
  // Flink's names too (TimeUtils): "1 min", "10 s", "2 hours", "500 milliseconds".
  static constexpr std::array<std::pair<std::string_view, int64_t>, 21> kUnits = {{
      {"ms", 1},          {"milli", 1},        {"millis", 1},       {"millisecond", 1}, {"milliseconds", 1},
      {"s", 1000},        {"sec", 1000},       {"secs", 1000},      {"second", 1000},   {"seconds", 1000},
      {"m", 60'000},      {"min", 60'000},     {"mins", 60'000},    {"minute", 60'000}, {"minutes", 60'000},
      {"h", 3'600'000},   {"hour", 3'600'000}, {"hours", 3'600'000},
      {"d", 86'400'000},  {"day", 86'400'000}, {"days", 86'400'000}}};
  if (unit.empty()) {
    if (n == 0) return std::chrono::milliseconds(0);
    return std::nullopt;  // "5" could mean seconds or milliseconds: say which
  }
  for (const auto& [name, ms] : kUnits) {
    if (unit != name) continue;
    auto total = scaled(n, ms);
    if (!total) return std::nullopt;
    return std::chrono::milliseconds(*total);
  }
  return std::nullopt;
}

std::optional<int64_t> parseByteSize(std::string_view text) {
  auto number = splitNumber(text);
  if (!number) return std::nullopt;
  const auto [n, unit] = *number;
  static constexpr std::array<std::pair<std::string_view, int>, 14> kUnits = {{
      {"", 0}, {"B", 0}, {"K", 10}, {"KB", 10}, {"KiB", 10}, {"M", 20}, {"MB", 20}, {"MiB", 20},
      {"G", 30}, {"GB", 30}, {"GiB", 30}, {"T", 40}, {"TB", 40}, {"TiB", 40}}};
  for (const auto& [name, shift] : kUnits) {
    // Any case: Flink writes sizes as 64mb, 1g, 256 mb.
    if (unit.size() == name.size() &&
        std::equal(unit.begin(), unit.end(), name.begin(), [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); }))
      return scaled(n, int64_t{1} << shift);
  }
  return std::nullopt;
}

std::string formatUtcMillis(int64_t ms) {
  if (ms == INT64_MIN) return "-";
  if (ms == INT64_MAX) return "end";
  const int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;  // floor, for times before 1970
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms - secs * 1000));
  return buf;
}

std::string randomHex(size_t bytes) {
  std::random_device rd;
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (size_t i = 0; i < bytes; i += 4) {
    uint32_t r = rd();
    for (size_t j = 0; j < 4 && i + j < bytes; ++j, r >>= 8) {
      out += kDigits[(r >> 4) & 0xf];
      out += kDigits[r & 0xf];
    }
  }
  return out;
}

}  // namespace reka
