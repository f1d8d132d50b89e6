// Fuzzes reka::parseDuration and reka::parseByteSize (include/reka/base/Units.h) against a
// reference written here with 128-bit arithmetic, and checks that what they accept prints back
// to the same value: a duration as "<n>ms", a byte size as "<n>" and "<n>B".

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "reka/base/Units.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

/// The documented grammar: one or more decimal digits (the value must fit in int64), then (for
/// durations, after optional spaces) a unit from `units` (multipliers; with `anyCase`, in any
/// letter case, as byte sizes are). nullopt for anything
/// else or on overflow.
template <size_t N>
std::optional<int64_t> reference(std::string_view text, const std::pair<std::string_view, int64_t> (&units)[N],
                                 bool spaceBeforeUnit = false, bool anyCase = false) {
  size_t digits = 0;
  __int128 value = 0;
  constexpr __int128 kMax = INT64_MAX;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    value = value * 10 + (text[digits] - '0');
    if (value > kMax) return std::nullopt;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  std::string_view unit = text.substr(digits);
  while (spaceBeforeUnit && !unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  for (const auto& [name, multiplier] : units) {
    if (unit.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < unit.size(); ++i) {
      const char a = anyCase && unit[i] >= 'A' && unit[i] <= 'Z' ? static_cast<char>(unit[i] - 'A' + 'a') : unit[i];
      const char b = anyCase && name[i] >= 'A' && name[i] <= 'Z' ? static_cast<char>(name[i] - 'A' + 'a') : name[i];
      same = same && a == b;
    }
    if (!same) continue;
    const __int128 total = value * multiplier;
    if (total > kMax) return std::nullopt;
    return static_cast<int64_t>(total);
  }
  return std::nullopt;
}

// Reka's short units and Flink's long names, after optional spaces ("1 min").
constexpr std::pair<std::string_view, int64_t> kDurationUnits[] = {
    {"ms", 1},        {"milli", 1},        {"millis", 1},       {"millisecond", 1}, {"milliseconds", 1},
    {"s", 1000},      {"sec", 1000},       {"secs", 1000},      {"second", 1000},   {"seconds", 1000},
    {"m", 60'000},    {"min", 60'000},     {"mins", 60'000},    {"minute", 60'000}, {"minutes", 60'000},
    {"h", 3'600'000}, {"hour", 3'600'000}, {"hours", 3'600'000},
    {"d", 86'400'000}, {"day", 86'400'000}, {"days", 86'400'000}};

constexpr std::pair<std::string_view, int64_t> kByteUnits[] = {
    {"", 1},           {"B", 1},           {"K", int64_t{1} << 10}, {"KB", int64_t{1} << 10},
    {"KiB", int64_t{1} << 10}, {"M", int64_t{1} << 20}, {"MB", int64_t{1} << 20}, {"MiB", int64_t{1} << 20},
    {"G", int64_t{1} << 30}, {"GB", int64_t{1} << 30}, {"GiB", int64_t{1} << 30}, {"T", int64_t{1} << 40},
    {"TB", int64_t{1} << 40}, {"TiB", int64_t{1} << 40}};

void fuzzDuration(std::string_view text) {
  const auto parsed = reka::parseDuration(text);
  std::optional<int64_t> expected = reference(text, kDurationUnits, true);
  // A bare number is refused (seconds or milliseconds?), except zero ("0", "00", ...: off).
  if (!text.empty() && text.find_first_not_of('0') == std::string_view::npos) expected = 0;
  check(parsed.has_value() == expected.has_value());
  if (!parsed) return;
  const int64_t ms = parsed->count();
  check(ms == *expected);
  check(ms >= 0);
  const auto again = reka::parseDuration(std::to_string(ms) + "ms");
  check(again.has_value() && again->count() == ms);
}

void fuzzByteSize(std::string_view text) {
  const auto parsed = reka::parseByteSize(text);
  const std::optional<int64_t> expected = reference(text, kByteUnits, false, true);  // units in any case: 64m, 1gib
  check(parsed.has_value() == expected.has_value());
  if (!parsed) return;
  check(*parsed == *expected);
  check(*parsed >= 0);
  const std::string digits = std::to_string(*parsed);
  const auto plain = reka::parseByteSize(digits);
  check(plain.has_value() && *plain == *parsed);
  const auto withUnit = reka::parseByteSize(digits + "B");
  check(withUnit.has_value() && *withUnit == *parsed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzzDuration(text);
  fuzzByteSize(text);
  return 0;
}
