#pragma once

#include <cstdint>

namespace reka {

/// CPU time (user + system) of the whole process so far, in seconds.
double processCpuSeconds();
/// CPU time of the calling thread so far, in nanoseconds.
int64_t threadCpuNanos();
/// Peak resident set size of the process so far, in bytes.
int64_t peakRssBytes();

}  // namespace reka
