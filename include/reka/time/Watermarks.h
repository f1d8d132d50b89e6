#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/base/Status.h"
#include "reka/data/Batch.h"
#include "reka/state/Serde.h"
#include "reka/time/TimeArithmetic.h"
#include "reka/time/WatermarkValve.h"

namespace reka {

/// A user-defined watermark generator (Flink's WatermarkGenerator), one instance per source
/// split. onEvent() sees every record's timestamp; currentWatermark() is asked after each batch
/// and periodically. It may return kMinTime for "no watermark yet". Generators are not
/// checkpointed: after a restore a new one sees the split's highest timestamp (onEvent) first,
/// and the split's watermark does not go back below the one it had reached.
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
  /// Adds a split (found while running, or restored) and returns its index; it holds the merged
  /// watermark back until it catches up (or goes idle).
  size_t addSplit(int64_t nowMs) {
    Split s;
    s.lastActivityMs = nowMs;
    if (options_.kind == WatermarkOptions::Kind::kCustom) s.custom = options_.makeGenerator();
    splits_.push_back(std::move(s));
    return valve_.addInput();
  }
  /// The highest timestamp observed on split `split` (kMinTime: none).
  int64_t highestTimestamp(size_t split) const { return splits_[split].maxTimestamp; }
  /// Split `split` goes idle now, whatever the idle timeout (a source subtask that has no split
  /// yet, for instance), until records arrive on it.
  WatermarkValve::Change markIdle(size_t split) { return valve_.onStatus(split, true); }
  /// Split `split` has ended (a bounded split read to its end): it no longer holds time back.
  WatermarkValve::Change endSplit(size_t split) { return valve_.onEnd(split); }

  /// A record with `timestamp` was read from split `split`. Inline: runs per record.
  void observe(size_t split, int64_t timestamp) {
    Split& s = splits_[split];
    if (options_.maxAheadMs > 0 && s.maxTimestamp != kMinTime &&
        subSaturating(timestamp, s.maxTimestamp) > options_.maxAheadMs) {
      timestamp = addSaturating(s.maxTimestamp, options_.maxAheadMs);
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
  /// Split `split`'s own watermark (kMinTime: none yet) and whether it is idle.
  int64_t splitWatermarkAt(size_t split) const { return valve_.inputWatermark(split); }
  bool splitIdle(size_t split) const { return valve_.inputIdle(split); }
  /// Records whose timestamp was capped by maxAheadMs.
  int64_t cappedRecords() const { return capped_; }

  /// Checkpoints: appends u32 splits, i64 merged watermark, i64 capped records, then per split
  /// i64 highest timestamp, u8 observed since the last poll, i64 watermark, u8 idle.
  /// Processing times are not written: they mean nothing in the run that restores.
  void snapshot(std::string& out) const {
    Serde<uint32_t>::write(static_cast<uint32_t>(splits_.size()), out);
    Serde<int64_t>::write(valve_.current(), out);
    Serde<int64_t>::write(capped_, out);
    for (size_t i = 0; i < splits_.size(); ++i) {
      Serde<int64_t>::write(splits_[i].maxTimestamp, out);
      Serde<uint8_t>::write(splits_[i].active ? 1 : 0, out);
      Serde<int64_t>::write(valve_.inputWatermark(i), out);
      Serde<uint8_t>::write(valve_.inputIdle(i) ? 1 : 0, out);
    }
  }
  /// Restores what snapshot() wrote (consumed from the front of `in`) into an instance init()ed
  /// with the same options and number of splits, at processing time `nowMs` (idleness counts
  /// from there).
  Status restore(std::string_view& in, int64_t nowMs);

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
    // Saturating: a timestamp near the 64-bit minimum must not wrap the watermark to +∞.
    return subSaturating(subSaturating(s.maxTimestamp, options_.maxOutOfOrdernessMs), 1);
  }
  struct SplitSnapshot {
    int64_t watermark = kMinTime;
    bool idle = false;
  };
  Status restoreValve(const std::vector<SplitSnapshot>& inputs, int64_t merged);
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

inline Status SplitWatermarks::restore(std::string_view& in, int64_t nowMs) {
  uint32_t count = 0;
  int64_t merged = kMinTime, capped = 0;
  if (!Serde<uint32_t>::read(in, count) || !Serde<int64_t>::read(in, merged) || !Serde<int64_t>::read(in, capped))
    return Status::corruption("truncated source watermarks in a checkpoint");
  if (count != splits_.size())
    return Status::invalidArgument("the checkpoint's source watermarks are for " + std::to_string(count) +
                                   " splits, this source subtask reads " + std::to_string(splits_.size()));
  std::vector<SplitSnapshot> valveInputs(count);
  for (size_t i = 0; i < count; ++i) {
    Split& s = splits_[i];
    uint8_t active = 0, idle = 0;
    if (!Serde<int64_t>::read(in, s.maxTimestamp) || !Serde<uint8_t>::read(in, active) ||
        !Serde<int64_t>::read(in, valveInputs[i].watermark) || !Serde<uint8_t>::read(in, idle) || active > 1 || idle > 1)
      return Status::corruption("truncated or malformed source watermarks in a checkpoint");
    s.active = active == 1;
    s.lastActivityMs = nowMs;
    valveInputs[i].idle = idle == 1;
    if (s.custom && s.maxTimestamp != kMinTime) s.custom->onEvent(s.maxTimestamp);
  }
  capped_ = capped;
  return restoreValve(valveInputs, merged);
}

// The valve does not expose its state, so it is rebuilt by replaying inputs. Its invariants
// give the state that is not written: an active input counts towards the minimum ("aligned")
// exactly when its watermark has reached the merged one, an idle input never does, and while an
// input is aligned the merged watermark is the minimum over the aligned inputs.
inline Status SplitWatermarks::restoreValve(const std::vector<SplitSnapshot>& inputs, int64_t merged) {
  const size_t n = inputs.size();
  valve_.reset(n);
  auto aligned = [&](size_t i) { return !inputs[i].idle && inputs[i].watermark >= merged; };
  bool anyAligned = false;
  for (size_t i = 0; i < n; ++i) {
    if (aligned(i)) {
      anyAligned = true;
    } else {
      valve_.onStatus(i, true);
    }
  }
  if (anyAligned) {
    for (size_t i = 0; i < n; ++i)
      if (aligned(i)) valve_.onWatermark(i, inputs[i].watermark);
  } else if (merged != kMinTime) {
    // Every input is out of the minimum: lift the merged watermark through one that has reached
    // it (merged watermarks come from input watermarks, which never go back), then park it again.
    size_t j = 0;
    while (j < n && inputs[j].watermark < merged) ++j;
    if (j == n) return Status::corruption("source watermarks in a checkpoint are inconsistent (no split reached the merged one)");
    valve_.onStatus(j, false);
    valve_.onWatermark(j, merged);
    valve_.onStatus(j, true);
  }
  for (size_t i = 0; i < n; ++i) {
    if (aligned(i)) continue;
    valve_.onWatermark(i, inputs[i].watermark);
    if (!inputs[i].idle) valve_.onStatus(i, false);
  }
  bool consistent = valve_.current() == merged;
  for (size_t i = 0; i < n; ++i)
    consistent = consistent && valve_.inputWatermark(i) == inputs[i].watermark && valve_.inputIdle(i) == inputs[i].idle;
  if (!consistent) return Status::corruption("source watermarks in a checkpoint are inconsistent");
  return Status::ok();
}

}  // namespace reka
