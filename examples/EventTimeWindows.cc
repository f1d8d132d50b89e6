// Event time: sensor readings arrive out of order; a bounded-out-of-orderness watermark strategy
// says how far behind the newest reading a late one may be, readings with a negative value go to
// a side output, and a tumbling one-second event-time window sums the values per sensor.
// Prints "sensor window_start window_end sum" per window, sorted, then the rejected readings.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "reka/reka.h"

struct Reading {
  std::string sensor;
  int64_t ts;  // event time, epoch milliseconds
  int64_t value;
};

/// Sums the values of a window, incrementally: one accumulator per key and window.
struct SumValues {
  int64_t createAccumulator() const { return 0; }
  void add(const Reading& r, int64_t& acc) const { acc += r.value; }
  void merge(const int64_t& from, int64_t& into) const { into += from; }
  int64_t getResult(const int64_t& acc) const { return acc; }
};

int main() {
  // Timestamps are out of order by at most 500 ms: each one is at least the highest seen
  // before it minus 500, so the watermark (highest - 500 - 1) never passes a reading that is
  // still to come, and no reading is late.
  const std::vector<Reading> readings = {
      {"kitchen", 1200, 5}, {"porch", 1500, 3},  {"kitchen", 2100, 2},  {"kitchen", 1900, 4}, {"porch", 2600, 7},
      {"kitchen", 2300, 1}, {"porch", 2400, 6},  {"porch", 2500, -1},   {"kitchen", 3500, 10}, {"porch", 3100, 2},
      {"porch", 3999, 1},   {"kitchen", 4000, 8}, {"porch", 3600, 3},
  };

  reka::StreamEnvironment env;  // one subtask per core for the keyed window operator
  auto eventTime = [](const Reading& r) { return r.ts; };
  auto withTime = env.fromCollection("readings", readings)
                      .assignTimestampsAndWatermarks(
                          reka::watermarks::boundedOutOfOrderness<Reading>(std::chrono::milliseconds(500), eventTime));

  // A side output for readings that fail validation.
  const reka::OutputTag<Reading> rejected("rejected");
  auto valid = withTime.process<Reading>("validate", [rejected](const Reading& r, reka::Emitter<Reading>& out) {
    if (r.value < 0) {
      out.output(rejected, r);
    } else {
      out.emit(r);
    }
  });

  using Result = reka::WindowResult<std::string, int64_t>;
  std::mutex mutex;
  std::vector<std::tuple<std::string, int64_t, int64_t, int64_t>> results;
  std::vector<Reading> rejects;

  valid.keyBy([](const Reading& r) { return r.sensor; })
      .window(reka::TumblingWindows::eventTime(std::chrono::seconds(1)), eventTime)
      .aggregate("sum per second", SumValues{})
      .sink("collect", [&](const Result& r) {
        std::lock_guard<std::mutex> lock(mutex);
        results.emplace_back(r.key, r.window.start, r.window.end, r.value);
      });
  valid.sideOutput(rejected).sink("rejects", [&](const Reading& r) {
    std::lock_guard<std::mutex> lock(mutex);
    rejects.push_back(r);
  });

  // At the end of the bounded input the watermark jumps to the end of time: every window fires.
  if (reka::Status status = env.execute(); !status.isOk()) {
    std::fprintf(stderr, "event-time windows failed: %s\n", status.toString().c_str());
    return 1;
  }
  if (results.size() != 7 || rejects.size() != 1) {
    std::fprintf(stderr, "expected 7 window results and 1 rejected reading, got %zu and %zu\n", results.size(), rejects.size());
    return 1;
  }
  std::sort(results.begin(), results.end());
  for (const auto& [sensor, start, end, sum] : results)
    std::printf("%s %lld %lld %lld\n", sensor.c_str(), static_cast<long long>(start), static_cast<long long>(end),
                static_cast<long long>(sum));
  for (const Reading& r : rejects)
    std::printf("rejected: %s %lld %lld\n", r.sensor.c_str(), static_cast<long long>(r.ts), static_cast<long long>(r.value));
  return 0;
}
