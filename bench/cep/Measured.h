#pragma once

// What the CEP benchmarks measure of one run in its own child process: CPU and wall time,
// events, matches and their checksum, peak RSS.

#include <chrono>
#include <cstring>
#include <string>

#include "../common/ChildProcess.h"
#include "base/ProcessStats.h"

namespace reka::bench {

struct Measured {
  double cpu = 0, wall = 0;
  int64_t events = 0, matches = 0;
  uint64_t checksum = 0;
  int64_t peakRss = 0;
  int64_t bytes = 0;  ///< what the body measured itself (the memory of its state)
  bool ok = false;
  double perCpu() const { return cpu > 0 ? static_cast<double>(events) / cpu : 0; }
};

/// Runs `prepare()` (not measured), then `body(input, m)` with its CPU and wall time, in a child
/// process (bench/common/ChildProcess.h).
template <class Prepare, class Body>
Measured measureInChild(Prepare prepare, Body body) {
  const std::string bytes = runInChild([&] {
    auto input = prepare();
    Measured m;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = processCpuSeconds();
    body(input, m);
    m.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m.cpu = processCpuSeconds() - c0;
    m.peakRss = peakRssBytes();
    return std::string(reinterpret_cast<const char*>(&m), sizeof m);
  });
  Measured m;
  if (bytes.size() == sizeof m) std::memcpy(&m, bytes.data(), sizeof m);
  return m;
}

}  // namespace reka::bench
