#pragma once

#include <chrono>
#include <cstdint>
#include <numeric>
#include <string>

#include "reka/api/Functions.h"
#include "reka/base/Status.h"
#include "reka/data/Batch.h"
#include "reka/time/TimeArithmetic.h"
#include "reka/time/Timers.h"

namespace reka {

/// A window of time [start, end): half-open, so a record at `end` belongs to the next window.
struct TimeWindow {
  int64_t start = 0;
  int64_t end = 0;
  /// The last timestamp inside the window; the window fires when the watermark reaches it.
  int64_t maxTimestamp() const { return end - 1; }
  bool intersects(const TimeWindow& o) const { return start <= o.end && o.start <= end; }
  friend bool operator==(const TimeWindow&, const TimeWindow&) = default;
};

/// The start of the window of size `size` (aligned to the epoch plus `offset`, 0 ≤ offset <
/// size) that holds `ts`. Never overflows: a start below the 64-bit range is kMinTime.
inline int64_t windowStartFor(int64_t ts, int64_t offset, int64_t size) {
  int64_t r = (ts % size - offset) % size;  // both terms lie in (−size, size): no overflow
  if (r < 0) r += size;
  return subSaturating(ts, r);
}

/// The longest window size, slide, gap or offset a window assigner accepts: the whole range of
/// event timestamps (10 000 years), so that a window end never leaves 64 bits.
inline constexpr int64_t kMaxWindowSpanMs = kMaxEventTimestamp - kMinEventTimestamp;

/// Fixed-size, non-overlapping windows aligned to the epoch (plus offset).
struct TumblingWindows {
  int64_t sizeMs = 0;
  int64_t offsetMs = 0;
  TimeDomain domain = TimeDomain::kEventTime;
  static TumblingWindows eventTime(std::chrono::milliseconds size, std::chrono::milliseconds offset = {}) {
    return {size.count(), offset.count(), TimeDomain::kEventTime};
  }
  static TumblingWindows processingTime(std::chrono::milliseconds size, std::chrono::milliseconds offset = {}) {
    return {size.count(), offset.count(), TimeDomain::kProcessingTime};
  }
  Status validate() const;
};

/// Windows of `size` starting every `slide` (HOP). Computed by slices ("panes") of
/// gcd(size, slide): a record is aggregated into one pane; a window merges its panes.
struct SlidingWindows {
  int64_t sizeMs = 0;
  int64_t slideMs = 0;
  int64_t offsetMs = 0;
  TimeDomain domain = TimeDomain::kEventTime;
  static SlidingWindows eventTime(std::chrono::milliseconds size, std::chrono::milliseconds slide,
                                  std::chrono::milliseconds offset = {}) {
    return {size.count(), slide.count(), offset.count(), TimeDomain::kEventTime};
  }
  static SlidingWindows processingTime(std::chrono::milliseconds size, std::chrono::milliseconds slide,
                                       std::chrono::milliseconds offset = {}) {
    return {size.count(), slide.count(), offset.count(), TimeDomain::kProcessingTime};
  }
  int64_t paneMs() const { return std::gcd(sizeMs, slideMs); }
  Status validate() const;
};

/// Per-key windows that close after `gap` without records; a record at ts opens
/// [ts, ts + gap), and overlapping windows of a key merge.
struct SessionWindows {
  int64_t gapMs = 0;
  TimeDomain domain = TimeDomain::kEventTime;
  static SessionWindows withGap(std::chrono::milliseconds gap) { return {gap.count(), TimeDomain::kEventTime}; }
  static SessionWindows processingTimeWithGap(std::chrono::milliseconds gap) {
    return {gap.count(), TimeDomain::kProcessingTime};
  }
  Status validate() const;
};

/// Windows of `size` records per key, every `slide` records (slide == size: tumbling).
struct CountWindows {
  int64_t size = 0;
  int64_t slide = 0;
  static CountWindows of(int64_t size) { return {size, size}; }
  static CountWindows sliding(int64_t size, int64_t slide) { return {size, slide}; }
  Status validate() const;
};

/// One window per key holding all its records; results come from the trigger (a count, a
/// processing-time period) and at the end of a bounded input.
struct GlobalWindows {
  Status validate() const { return Status::ok(); }
};

/// When a window emits a result. The default fires once when the watermark passes the end
/// (event time) or the clock does (processing time).
struct Trigger {
  enum class Kind { kDefault, kCount, kEarlyPeriodic, kProcessingTimePeriodic };
  Kind kind = Kind::kDefault;
  int64_t count = 0;       ///< kCount: fire every `count` records of a key's window
  int64_t intervalMs = 0;  ///< kEarlyPeriodic / kProcessingTimePeriodic: processing-time period
  /// Fires the default trigger, plus early (partial) results every `interval` of processing
  /// time before it; later firings update the earlier results (-U/+U).
  static Trigger earlyEvery(std::chrono::milliseconds interval) {
    return {Kind::kEarlyPeriodic, 0, interval.count()};
  }
  /// Fires every `n` records of a key's window (and at the window's end).
  static Trigger countOf(int64_t n) { return {Kind::kCount, n, 0}; }
  /// Global windows: fires every `interval` of processing time.
  static Trigger processingTimeEvery(std::chrono::milliseconds interval) {
    return {Kind::kProcessingTimePeriodic, 0, interval.count()};
  }
};

/// One result of a window: the key, the window, the value, and its row kind. The first result
/// of a (key, window) is +I; a later firing (early results, late records within the allowed
/// lateness) retracts the previous value with -U and emits the new one with +U.
template <class K, class R>
struct WindowResult {
  StoredKeyOf<K> key;
  TimeWindow window;
  R value;
  RowKind kind = RowKind::kInsert;
};

/// Options shared by every window operator.
struct WindowOptions {
  int64_t allowedLatenessMs = 0;
  Trigger trigger;
  int lateTagId = 0;  ///< the late-data side output's tag id, 0: none (late records are counted and dropped)
};

}  // namespace reka
