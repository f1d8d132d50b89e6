#pragma once

#include <cstdint>

#include "reka/data/Batch.h"

namespace reka {

/// The event timestamps that data from outside may carry, in epoch milliseconds: the range of
/// SQL's TIMESTAMP(3), 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z. Decoders refuse
/// (dead-letter) a timestamp outside it: no clock means it, and keeping every timestamp about
/// 2^58 away from the 64-bit limits leaves room for window, lateness and watermark arithmetic.
inline constexpr int64_t kMinEventTimestamp = -62'167'219'200'000;
inline constexpr int64_t kMaxEventTimestamp = 253'402'300'799'999;

inline constexpr bool isValidEventTimestamp(int64_t ts) {
  return ts >= kMinEventTimestamp && ts <= kMaxEventTimestamp;
}

/// a + b, clamped to [kMinTime, kMaxTime] instead of overflowing. Time arithmetic in operators
/// (window ends, lateness, gaps, watermark delays) goes through these, so that a timestamp near
/// the 64-bit limits (from the C++ API, where nothing refused it) ends in a defined place.
inline constexpr int64_t addSaturating(int64_t a, int64_t b) {
  int64_t out = 0;
  if (!__builtin_add_overflow(a, b, &out)) return out;
  return b > 0 ? kMaxTime : kMinTime;
}

/// a − b, clamped to [kMinTime, kMaxTime] instead of overflowing.
inline constexpr int64_t subSaturating(int64_t a, int64_t b) {
  int64_t out = 0;
  if (!__builtin_sub_overflow(a, b, &out)) return out;
  return b > 0 ? kMinTime : kMaxTime;
}

}  // namespace reka
