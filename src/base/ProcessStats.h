#pragma once

#include <cstdint>

namespace reka {

/// What the whole process has used so far.
struct ProcessUsage {
  double userSeconds = 0;
  double systemSeconds = 0;  ///< CPU time in the kernel on the process's behalf (page faults, I/O)
  int64_t minorFaults = 0;   ///< page faults served without I/O: first touches of memory, mostly
};
ProcessUsage processUsage();
/// CPU time (user + system) of the whole process so far, in seconds.
double processCpuSeconds();
/// CPU time of the calling thread so far, in nanoseconds.
int64_t threadCpuNanos();
/// Peak resident set size of the process so far, in bytes.
int64_t peakRssBytes();
/// The process's resident set size now, in bytes (/proc/self/statm); -1 if it cannot be read.
int64_t residentBytes();

}  // namespace reka
