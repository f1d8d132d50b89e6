#include "reka/time/WatermarkValve.h"

#include <algorithm>

namespace reka {

WatermarkValve::Change WatermarkValve::onWatermark(size_t i, int64_t wm) {
  InputState& in = inputs_[i];
  if (wm <= in.watermark) return {};
  in.watermark = wm;
  if (!in.aligned && !in.idle && wm >= current_) in.aligned = true;
  if (in.idle) return {};  // counted once the input says it is active again
  return recompute();
}

WatermarkValve::Change WatermarkValve::onStatus(size_t i, bool idle) {
  InputState& in = inputs_[i];
  if (in.idle == idle) return {};
  in.idle = idle;
  if (idle) {
    in.aligned = false;
  } else {
    // Rejoins the minimum only when it cannot pull the merged watermark backwards.
    in.aligned = in.watermark >= current_;
  }
  return recompute();
}

WatermarkValve::Change WatermarkValve::onEnd(size_t i) {
  InputState& in = inputs_[i];
  in.watermark = kMaxTime;
  in.idle = false;
  in.aligned = true;
  return recompute();
}

WatermarkValve::Change WatermarkValve::recompute() {
  Change c;
  bool allIdle = !inputs_.empty();
  bool anyAligned = false;
  int64_t minWm = kMaxTime;
  for (const InputState& in : inputs_) {
    if (in.idle) continue;
    allIdle = false;
    if (!in.aligned) continue;
    anyAligned = true;
    minWm = std::min(minWm, in.watermark);
  }
  if (allIdle != idle_) {
    idle_ = allIdle;
    c.statusChanged = true;
    c.idle = allIdle;
    if (allIdle) {
      // No input will advance any more: flush the highest input watermark, as Flink's
      // StatusWatermarkValve does, so that inputs going idle together do not stall time at
      // the one that happened to go idle last.
      int64_t maxWm = kMinTime;
      for (const InputState& in : inputs_) maxWm = std::max(maxWm, in.watermark);
      if (maxWm > current_) {
        current_ = maxWm;
        c.advanced = true;
        c.watermark = maxWm;
      }
    }
  }
  if (anyAligned && minWm > current_) {
    current_ = minWm;
    c.advanced = true;
    c.watermark = minWm;
  }
  return c;
}

}  // namespace reka
