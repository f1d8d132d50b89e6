#include "reka/time/Windows.h"

namespace reka {

namespace {
Status checkSpan(const char* what, int64_t ms) {
  if (ms <= kMaxWindowSpanMs) return Status::ok();
  return Status::invalidArgument(std::string(what) + " of " + std::to_string(ms) + " ms exceeds the longest accepted, " +
                                 std::to_string(kMaxWindowSpanMs) + " ms (10 000 years)");
}
}  // namespace

Status TumblingWindows::validate() const {
  if (sizeMs <= 0) return Status::invalidArgument("tumbling window size must be positive, got " + std::to_string(sizeMs) + " ms");
  if (offsetMs < 0 || offsetMs >= sizeMs)
    return Status::invalidArgument("tumbling window offset must be in [0, size), got " + std::to_string(offsetMs) + " ms");
  return checkSpan("tumbling window size", sizeMs);
}

Status SlidingWindows::validate() const {
  if (sizeMs <= 0) return Status::invalidArgument("sliding window size must be positive, got " + std::to_string(sizeMs) + " ms");
  if (slideMs <= 0 || slideMs > sizeMs)
    return Status::invalidArgument("sliding window slide must be in (0, size], got " + std::to_string(slideMs) + " ms");
  if (offsetMs < 0 || offsetMs >= slideMs)
    return Status::invalidArgument("sliding window offset must be in [0, slide), got " + std::to_string(offsetMs) + " ms");
  return checkSpan("sliding window size", sizeMs);
}

Status SessionWindows::validate() const {
  if (gapMs <= 0) return Status::invalidArgument("session gap must be positive, got " + std::to_string(gapMs) + " ms");
  return checkSpan("session gap", gapMs);
}

Status CountWindows::validate() const {
  if (size <= 0) return Status::invalidArgument("count window size must be positive, got " + std::to_string(size));
  if (slide <= 0 || slide > size)
    return Status::invalidArgument("count window slide must be in (0, size], got " + std::to_string(slide));
  return Status::ok();
}

}  // namespace reka
