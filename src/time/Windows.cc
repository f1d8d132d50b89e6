#include "reka/time/Windows.h"

namespace reka {

Status TumblingWindows::validate() const {
  if (sizeMs <= 0) return Status::invalidArgument("tumbling window size must be positive, got " + std::to_string(sizeMs) + " ms");
  if (offsetMs < 0 || offsetMs >= sizeMs)
    return Status::invalidArgument("tumbling window offset must be in [0, size), got " + std::to_string(offsetMs) + " ms");
  return Status::ok();
}

Status SlidingWindows::validate() const {
  if (sizeMs <= 0) return Status::invalidArgument("sliding window size must be positive, got " + std::to_string(sizeMs) + " ms");
  if (slideMs <= 0 || slideMs > sizeMs)
    return Status::invalidArgument("sliding window slide must be in (0, size], got " + std::to_string(slideMs) + " ms");
  if (offsetMs < 0 || offsetMs >= slideMs)
    return Status::invalidArgument("sliding window offset must be in [0, slide), got " + std::to_string(offsetMs) + " ms");
  return Status::ok();
}

Status SessionWindows::validate() const {
  if (gapMs <= 0) return Status::invalidArgument("session gap must be positive, got " + std::to_string(gapMs) + " ms");
  return Status::ok();
}

Status CountWindows::validate() const {
  if (size <= 0) return Status::invalidArgument("count window size must be positive, got " + std::to_string(size));
  if (slide <= 0 || slide > size)
    return Status::invalidArgument("count window slide must be in (0, size], got " + std::to_string(slide));
  return Status::ok();
}

}  // namespace reka
