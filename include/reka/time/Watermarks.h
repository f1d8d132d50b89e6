#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "reka/data/Batch.h"
#include "reka/time/WatermarkValve.h"

namespace reka {

/// A user-defined watermark generator (Flink's WatermarkGenerator), one instance per source
/// split. onEvent() sees every record's timestamp; currentWatermark() is asked after each batch
/// and periodically. It may return kMinTime for "no watermark yet".
class WatermarkGenerator {
 public:
  virtual ~WatermarkGenerator() = default;
  virtual void onEvent(int64_t timestamp) = 0;
  virtual int64_t currentWatermark() const = 0;
};

/// How timestamps become watermarks, independent of the record type.
struct WatermarkOptions {
  enum class Kind { kBoundedOutOfOrderness, kCustom };
  Kind kind = Kind::kBoundedOutOfOrderness;
  /// Bounded out-of-orderness: watermark = highest timestamp − bound − 1 (monotonous: bound 0).
  int64_t maxOutOfOrdernessMs = 0;
  std::function<std::unique_ptr<WatermarkGenerator>()> makeGenerator;  ///< kCustom
  /// A split with no records for this long (processing time) is idle and stops holding the
  /// watermark back; 0: splits never go idle.
  int64_t idleTimeoutMs = 0;
  /// One record may move a split's highest timestamp at most this far beyond the highest seen
  /// before it, so a single far-future timestamp cannot push time ahead; 0: no cap.
  int64_t maxAheadMs = 0;
};

/// A timestamp assigner plus watermark options: what a source (per split) or
/// assignTimestampsAndWatermarks() needs to produce event time.
template <class T, class TsFn>
class WatermarkStrategy {
 public:
  using Record = T;
  WatermarkStrategy(TsFn timestampFn, WatermarkOptions options)
      : timestampFn_(std::move(timestampFn)), options_(std::move(options)) {}

  /// Marks a split idle after `timeout` without records.
  WatermarkStrategy withIdleness(std::chrono::milliseconds timeout) const {
    WatermarkStrategy s = *this;
    s.options_.idleTimeoutMs = timeout.count();
    return s;
  }
  /// Caps how far one record can move time ahead (see WatermarkOptions::maxAheadMs).
  WatermarkStrategy withMaxAhead(std::chrono::milliseconds cap) const {
    WatermarkStrategy s = *this;
    s.options_.maxAheadMs = cap.count();
    return s;
  }

  int64_t timestampOf(const T& record) const { return timestampFn_(record); }
  const TsFn& timestampFn() const { return timestampFn_; }
  const WatermarkOptions& options() const { return options_; }

 private:
  TsFn timestampFn_;
  WatermarkOptions options_;
};

namespace watermarks {
/// Watermarks that trail the highest timestamp seen by `bound` (Flink's forBoundedOutOfOrderness).
template <class T, class TsFn>
WatermarkStrategy<T, TsFn> boundedOutOfOrderness(std::chrono::milliseconds bound, TsFn timestampFn) {
  WatermarkOptions o;
  o.maxOutOfOrdernessMs = bound.count();
  return WatermarkStrategy<T, TsFn>(std::move(timestampFn), o);
}
/// For timestamps that never decrease within a split.
template <class T, class TsFn>
WatermarkStrategy<T, TsFn> monotonousTimestamps(TsFn timestampFn) {
  return boundedOutOfOrderness<T>(std::chrono::milliseconds(0), std::move(timestampFn));
}
/// A user-defined generator, made once per split.
template <class T, class TsFn>
WatermarkStrategy<T, TsFn> custom(std::function<std::unique_ptr<WatermarkGenerator>()> make, TsFn timestampFn) {
  WatermarkOptions o;
  o.kind = WatermarkOptions::Kind::kCustom;
  o.makeGenerator = std::move(make);
  return WatermarkStrategy<T, TsFn>(std::move(timestampFn), o);
}
}  // namespace watermarks

/// Tracks the watermark of each split of one source subtask and merges them (minimum over the
/// active splits, see WatermarkValve). Records are observed per split; poll() turns what was
/// observed into watermark and idleness changes. Not thread-safe (owned by one task).
class SplitWatermarks {
 public:
  SplitWatermarks() = default;
  SplitWatermarks(const WatermarkOptions& options, int splits, int64_t nowMs) { init(options, splits, nowMs); }

  void init(const WatermarkOptions& options, int splits, int64_t nowMs) {
    options_ = options;
    splits_.clear();
    splits_.resize(static_cast<size_t>(std::max(1, splits)));
    for (auto& s : splits_) {
      s.lastActivityMs = nowMs;
      if (options_.kind == WatermarkOptions::Kind::kCustom) s.custom = options_.makeGenerator();
    }
    valve_.reset(splits_.size());
  }
  size_t splitCount() const { return splits_.size(); }

  /// A record with `timestamp` was read from split `split`. Inline: runs per record.
  void observe(size_t split, int64_t timestamp) {
    Split& s = splits_[split];
    if (options_.maxAheadMs > 0 && s.maxTimestamp != kMinTime && timestamp - s.maxTimestamp > options_.maxAheadMs) {
      timestamp = s.maxTimestamp + options_.maxAheadMs;
      ++capped_;
    }
    // The highest timestamp is tracked for custom generators too: the cap above needs it.
    if (timestamp > s.maxTimestamp) s.maxTimestamp = timestamp;
    if (s.custom) s.custom->onEvent(timestamp);
    s.active = true;
  }

  /// Updates per-split watermarks and idleness at processing time `nowMs`; returns the change of
  /// the merged watermark/status.
  WatermarkValve::Change poll(int64_t nowMs) {
    WatermarkValve::Change total;
    for (size_t i = 0; i < splits_.size(); ++i) {
      Split& s = splits_[i];
      if (s.active) {
        s.active = false;
        s.lastActivityMs = nowMs;
        if (valve_.inputIdle(i)) merge(total, valve_.onStatus(i, false));
      } else if (options_.idleTimeoutMs > 0 && !valve_.inputIdle(i) && nowMs - s.lastActivityMs >= options_.idleTimeoutMs) {
        merge(total, valve_.onStatus(i, true));
      }
      int64_t wm = splitWatermark(s);
      if (wm != kMinTime) merge(total, valve_.onWatermark(i, wm));
    }
    return total;
  }

  int64_t current() const { return valve_.current(); }
  bool idle() const { return valve_.idle(); }
  /// Records whose timestamp was capped by maxAheadMs.
  int64_t cappedRecords() const { return capped_; }

 private:
  struct Split {
    int64_t maxTimestamp = kMinTime;
    int64_t lastActivityMs = 0;
    bool active = false;
    std::unique_ptr<WatermarkGenerator> custom;
  };
  int64_t splitWatermark(const Split& s) const {
    if (s.custom) return s.custom->currentWatermark();
    if (s.maxTimestamp == kMinTime) return kMinTime;
    return s.maxTimestamp - options_.maxOutOfOrdernessMs - 1;
  }
  static void merge(WatermarkValve::Change& into, const WatermarkValve::Change& c) {
    if (c.advanced) {
      into.advanced = true;
      into.watermark = c.watermark;
    }
    if (c.statusChanged) {
      into.statusChanged = !into.statusChanged || into.idle != c.idle ? true : into.statusChanged;
      into.idle = c.idle;
    }
  }

  WatermarkOptions options_;
  std::vector<Split> splits_;
  WatermarkValve valve_;
  int64_t capped_ = 0;
};

}  // namespace reka
