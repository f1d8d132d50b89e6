#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "reka/data/Batch.h"

namespace reka {

/// Merges the watermarks of several inputs (channels, or source splits) into one: the minimum
/// over the inputs that are active. An idle input is left out of the minimum so that it does
/// not hold time back; when it becomes active again it rejoins only once its own watermark has
/// caught up with the merged one, so the merged watermark never moves backwards.
/// When every input is idle the merged status is idle, and the merged watermark moves to the
/// highest input watermark (no input can advance it any more). Not thread-safe (one task owns it).
class WatermarkValve {
 public:
  /// What changed after an input event.
  struct Change {
    bool advanced = false;       ///< the merged watermark moved forward to `watermark`
    int64_t watermark = kMinTime;
    bool statusChanged = false;  ///< the merged status changed to `idle`
    bool idle = false;
  };

  explicit WatermarkValve(size_t inputs = 0) { reset(inputs); }
  void reset(size_t inputs) {
    inputs_.assign(inputs, InputState{});
    current_ = kMinTime;
    idle_ = false;
  }
  size_t inputs() const { return inputs_.size(); }
  /// Adds an input (a source split discovered while running) and returns its index. It starts
  /// with no watermark, so it holds the merged one where it is until it catches up; the merged
  /// watermark never moves back.
  size_t addInput() {
    inputs_.push_back(InputState{});
    return inputs_.size() - 1;
  }

  /// Input `i` reports watermark `wm` (smaller values than it reported before are ignored).
  Change onWatermark(size_t i, int64_t wm);
  /// Input `i` went idle (true) or became active (false).
  Change onStatus(size_t i, bool idle);
  /// Input `i` ended: it no longer holds time back (as a watermark of kMaxTime).
  Change onEnd(size_t i);

  int64_t current() const { return current_; }
  bool idle() const { return idle_; }
  int64_t inputWatermark(size_t i) const { return inputs_[i].watermark; }
  bool inputIdle(size_t i) const { return inputs_[i].idle; }

 private:
  struct InputState {
    int64_t watermark = kMinTime;
    bool idle = false;
    bool aligned = true;  ///< counts towards the minimum (false after idleness, until caught up)
  };
  Change recompute();

  std::vector<InputState> inputs_;
  int64_t current_ = kMinTime;
  bool idle_ = false;
};

}  // namespace reka
