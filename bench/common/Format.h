#pragma once

// How the benchmarks print figures.

#include <cstdio>
#include <string>

namespace reka::bench {

/// A rate per second as the results tables print it: "3.99 M" from a million up, "470 K" below.
inline std::string formatRate(double v) {
  char buf[32];
  if (v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2f M", v / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.0f K", v / 1e3);
  return buf;
}

}  // namespace reka::bench
