// Window benchmarks: keyed tumbling count over 10 000 and 1 000 000 keys against a hand-written
// loop doing the same work, the cost of emitting one window result, and in-process latency
// (record in → result out) at half the maximum throughput for a q1-like map and a keyed window.
// Each measurement runs in its own child process so CPU time is its own.
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "../common/Format.h"
#include "nexmark/Rows.h"
#include "base/CpuRelax.h"
#include "base/ProcessStats.h"
#include "reka/reka.h"

namespace {

using namespace reka;
using namespace std::chrono_literals;

struct Rec {
  int64_t key;
  int64_t ts;       ///< event time, ms
  int64_t sentNs;   ///< latency runs: when the record was due to enter (wall clock, ns)
};

/// The synthetic stream: record i has key (i·A) mod K (every key once per K records, spread
/// over the key space) and event time i·window / perWindow, so each window holds `perWindow`
/// records.
struct Stream {
  int64_t records = 0;
  int64_t keys = 0;
  int64_t perWindow = 0;
  int64_t windowMs = 1000;
  int64_t keyOf(int64_t i) const { return static_cast<int64_t>((static_cast<uint64_t>(i) * 2654435761ULL) % static_cast<uint64_t>(keys)); }
  int64_t tsOf(int64_t i) const { return i * windowMs / perWindow; }
};

uint64_t touchResult(int64_t key, int64_t count, int64_t start) {
  using nexmark::combine;
  using nexmark::touchInt;
  return combine(touchInt(key), combine(touchInt(count), touchInt(start)));
}

int64_t wallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// Emits the stream; with a rate, records are released on schedule and stamped with the time
/// they were due (so queueing delay in the source counts as latency).
class SyntheticSource final : public SourceFunction<Rec> {
 public:
  SyntheticSource(Stream s, double rate, bool wallTime) : s_(s), rate_(rate), wallTime_(wallTime) {}
  Status open(const OperatorContext&) override {
    startNs_ = wallNs();
    return Status::ok();
  }
  SourceOperator::Poll poll(RecordBatch<Rec>& out, size_t max) override {
    int64_t end = std::min(s_.records, next_ + static_cast<int64_t>(max));
    if (rate_ > 0) {
      int64_t now = wallNs();
      int64_t due = static_cast<int64_t>(static_cast<double>(now - startNs_) * rate_ / 1e9);
      end = std::min(end, due);
      if (end <= next_) {
        // Nothing due: wait 20 µs busy rather than asleep, as a polling source does, so the
        // core does not halt (waking a halted vCPU can take milliseconds).
        const int64_t until = now + 20'000;
        while (wallNs() < until) cpuRelax();
        return SourceOperator::Poll::kMore;
      }
    }
    // Unthrottled runs compute the same schedule (as if at 1 event/ns) so they do the same work.
    const double nsPerRecord = rate_ > 0 ? 1e9 / rate_ : 1.0;
    for (int64_t i = next_; i < end; ++i) {
      int64_t sent = startNs_ + static_cast<int64_t>(static_cast<double>(i) * nsPerRecord);
      out.records.push_back(Rec{s_.keyOf(i), wallTime_ ? sent / 1000000 : s_.tsOf(i), sent});
    }
    next_ = end;
    return next_ < s_.records ? SourceOperator::Poll::kMore : SourceOperator::Poll::kEnd;
  }

 private:
  Stream s_;
  double rate_;
  bool wallTime_;
  int64_t startNs_ = 0;
  int64_t next_ = 0;
};

struct CountAgg {
  int64_t createAccumulator() const { return 0; }
  void add(const Rec&, int64_t& acc) const { ++acc; }
  void merge(const int64_t& from, int64_t& into) const { into += from; }
  int64_t getResult(const int64_t& acc) const { return acc; }
};
using Result = WindowResult<int64_t, int64_t>;

struct Measured {
  double cpu = 0, wall = 0;
  int64_t events = 0, rows = 0;
  uint64_t checksum = 0;
  int64_t firedResults = 0, firingNanos = 0;
  double p50 = 0, p99 = 0, p999 = 0;  // latency µs
  bool ok = false;
  double perCpu() const { return cpu > 0 ? static_cast<double>(events) / cpu : 0; }
};

Measured inChild(const std::function<void(Measured&)>& body) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Measured m;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = processCpuSeconds();
    body(m);
    m.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m.cpu = processCpuSeconds() - c0;
    if (write(fds[1], &m, sizeof m) != static_cast<ssize_t>(sizeof m)) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  Measured m;
  if (read(fds[0], &m, sizeof m) != static_cast<ssize_t>(sizeof m)) m.ok = false;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return m;
}

/// The hand-written loop: the same records, one hash map per open window, every result touched.
Measured handWrittenTumbling(const Stream& s) {
  return inChild([&](Measured& m) {
    absl::flat_hash_map<int64_t, int64_t> counts;
    int64_t windowStart = s.tsOf(0) - s.tsOf(0) % s.windowMs;
    auto fire = [&] {
      for (const auto& [k, c] : counts) m.checksum += touchResult(k, c, windowStart);
      m.rows += static_cast<int64_t>(counts.size());
      counts.clear();
    };
    for (int64_t i = 0; i < s.records; ++i) {
      int64_t ts = s.tsOf(i);
      if (ts >= windowStart + s.windowMs) {
        fire();
        windowStart = ts - ts % s.windowMs;
      }
      ++counts[s.keyOf(i)];
    }
    fire();
    m.events = s.records;
    m.ok = true;
  });
}

/// Touches every result (the same hash as the loop) into per-subtask sums.
struct ResultSink {
  std::shared_ptr<std::atomic<uint64_t>> sum;
  std::shared_ptr<std::atomic<int64_t>> rows;
  uint64_t local = 0;
  int64_t n = 0;
  void invoke(const Result& r) {
    local += touchResult(r.key, r.value, r.window.start);
    ++n;
  }
  void finish() {
    sum->fetch_add(local);
    rows->fetch_add(n);
  }
};

Measured engineTumbling(const Stream& s, int parallelism) {
  return inChild([&](Measured& m) {
    ExecutionConfig config;
    config.parallelism = parallelism;
    StreamEnvironment env(config);
    auto sum = std::make_shared<std::atomic<uint64_t>>(0);
    auto rows = std::make_shared<std::atomic<int64_t>>(0);
    env.fromSource<Rec>("records", [s] { return std::make_unique<SyntheticSource>(s, 0, false); },
                        watermarks::monotonousTimestamps<Rec>([](const Rec& r) { return r.ts; }), 1)
        .keyBy([](const Rec& r) { return r.key; })
        .window(TumblingWindows::eventTime(std::chrono::milliseconds(s.windowMs)), [](const Rec& r) { return r.ts; })
        .aggregate("count", CountAgg{})
        .sink("touch", ResultSink{sum, rows});
    auto client = env.executeAsync();
    if (!client.isOk()) return;
    Status st = (*client)->wait();
    for (const auto& op : (*client)->metrics().operators) {
      m.firedResults += op.firedResults;
      m.firingNanos += op.firingNanos;
    }
    m.ok = st.isOk();
    m.events = s.records;
    m.rows = rows->load();
    m.checksum = sum->load();
  });
}

/// Latency samples from the first half second (start-up: allocation, page faults) are left out.
constexpr int64_t kWarmUpNs = 500'000'000;
/// Worker threads of the latency runs (0: one per core).
int gWorkers = 0;
/// Idle workers of the latency runs poll this long before parking (ExecutionConfig::idleSpin).
std::chrono::microseconds gIdleSpin{200};

/// Latency histogram in µs (exact to 1 µs up to 1 s).
struct Histogram {
  std::vector<int64_t> buckets = std::vector<int64_t>(1'000'001, 0);
  int64_t count = 0;
  void add(int64_t ns) {
    int64_t us = std::clamp<int64_t>(ns / 1000, 0, 1'000'000);
    ++buckets[static_cast<size_t>(us)];
    ++count;
  }
  double quantile(double q) const {
    int64_t target = static_cast<int64_t>(q * static_cast<double>(count));
    int64_t seen = 0;
    for (size_t i = 0; i < buckets.size(); ++i) {
      seen += buckets[i];
      if (seen > target) return static_cast<double>(i);
    }
    return 1e6;
  }
};

/// q1-like: the price conversion map, latency from the time a record was due to the sink. As
/// q1 runs (source, map and sink chained in one task), or with `exchange` a rebalance between
/// the map and the sink (a channel to another task: queueing, flushing, waking it).
Measured latencyMap(const Stream& s, double rate, bool measure, bool exchange) {
  return inChild([&](Measured& m) {
    ExecutionConfig config;
    config.parallelism = 1;
    config.flushInterval = 200us;
    config.workerThreads = gWorkers;
    config.idleSpin = gIdleSpin;
    StreamEnvironment env(config);
    auto hist = std::make_shared<Histogram>();
    const int64_t warmUpEnd = wallNs() + kWarmUpNs;
    auto mapped = env.addSource<Rec>("records", [s, rate] { return std::make_unique<SyntheticSource>(s, rate, true); }, 1)
                      .map("euro", [](const Rec& r) { return Rec{r.key, r.ts * 908 / 1000, r.sentNs}; });
    (exchange ? mapped.rebalance() : mapped)
        .sink("latency", [hist, measure, warmUpEnd, n = int64_t{0}](const Rec& r) mutable {
          // Every 16th record is timed, in the maximum-throughput run as well (same work).
          if ((++n & 15) == 0) {
            int64_t ns = wallNs() - r.sentNs;
            if (measure && r.sentNs >= warmUpEnd) hist->add(ns);
          }
        })
        .parallelism(1);
    m.ok = env.execute().isOk();
    m.events = s.records;
    m.rows = hist->count;
    if (measure) {
      m.p50 = hist->quantile(0.5);
      m.p99 = hist->quantile(0.99);
      m.p999 = hist->quantile(0.999);
    }
  });
}

/// Keyed tumbling window on wall-clock event time: latency of a result = when it reaches the
/// sink minus the window's end (the window length itself is excluded). The keyBy is a channel
/// between tasks; with `exchange` a rebalance between the window and the sink adds another.
Measured latencyWindow(const Stream& s, double rate, int64_t windowMs, bool exchange) {
  return inChild([&](Measured& m) {
    ExecutionConfig config;
    config.parallelism = 1;
    config.flushInterval = 200us;
    config.watermarkInterval = 0ms;
    config.workerThreads = gWorkers;
    config.idleSpin = gIdleSpin;
    StreamEnvironment env(config);
    auto hist = std::make_shared<Histogram>();
    const int64_t warmUpEnd = wallNs() + kWarmUpNs;
    auto counts = env.fromSource<Rec>("records", [s, rate] { return std::make_unique<SyntheticSource>(s, rate, true); },
                                      watermarks::monotonousTimestamps<Rec>([](const Rec& r) { return r.ts; }), 1)
                      .keyBy([](const Rec& r) { return r.key; })
                      .window(TumblingWindows::eventTime(std::chrono::milliseconds(windowMs)), [](const Rec& r) { return r.ts; })
                      .aggregate("count", CountAgg{});
    (exchange ? counts.rebalance() : counts)
        .sink("latency", [hist, warmUpEnd](const Result& r) {
          if (r.window.end * 1000000 >= warmUpEnd) hist->add(wallNs() - r.window.end * 1000000);
        })
        .parallelism(1);
    m.ok = env.execute().isOk();
    m.events = s.records;
    m.rows = hist->count;
    m.p50 = hist->quantile(0.5);
    m.p99 = hist->quantile(0.99);
    m.p999 = hist->quantile(0.999);
  });
}


}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Reka window benchmarks: keyed tumbling count vs hand-written loop, result cost, latency"};
  int64_t records = 20'000'000;
  double latencySeconds = 4;
  bool latency = true;
  double load = 0.5;
  int64_t probeRecords = 100'000'000;
  app.add_option("--records", records, "records per tumbling-count run (default 20000000)")->check(CLI::PositiveNumber);
  app.add_option("--latency-seconds", latencySeconds, "length of each latency run (default 4)")->check(CLI::PositiveNumber);
  app.add_flag("!--no-latency", latency, "skip the latency runs");
  app.add_option("--latency-workers", gWorkers, "worker threads in the latency runs (default 0: one per core)")
      ->check(CLI::NonNegativeNumber);
  int64_t idleSpinUs = gIdleSpin.count();
  app.add_option("--latency-idle-spin", idleSpinUs,
                 "µs an idle worker polls before parking in the latency runs (ExecutionConfig::idleSpin; default 200, 0: park at once)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000}));
  app.add_option("--latency-load", load, "latency runs at this fraction of the maximum throughput (default 0.5)")
      ->check(CLI::Range(0.01, 1.0));
  app.add_option("--latency-probe-records", probeRecords,
                 "records per unthrottled run that measures a latency pipeline's maximum throughput (default 100000000)")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  gIdleSpin = std::chrono::microseconds(idleSpinUs);

  std::printf("Keyed tumbling count (P=1, synthetic source in-process, 1 s windows, %lld records)\n\n",
              static_cast<long long>(records));
  std::printf("| keys | records per key and window | engine events/CPU-s | hand-written events/CPU-s | engine/hand | results | ns per result (firing) | checksum |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  bool ok = true;
  for (int64_t keys : {int64_t{10'000}, int64_t{1'000'000}}) {
    Stream s{records, keys, keys * 10, 1000};
    Measured hand = handWrittenTumbling(s);
    Measured eng = engineTumbling(s, 1);
    ok = ok && eng.ok;
    bool same = hand.rows == eng.rows && hand.checksum == eng.checksum;
    double perResult = eng.firedResults > 0 ? static_cast<double>(eng.firingNanos) / static_cast<double>(eng.firedResults) : 0;
    std::printf("| %lld | 10 | %s | %s | %.2f | %lld | %.1f | %s |\n", static_cast<long long>(keys), bench::formatRate(eng.perCpu()).c_str(),
                bench::formatRate(hand.perCpu()).c_str(), eng.perCpu() / hand.perCpu(), static_cast<long long>(eng.rows), perResult,
                same ? "equal" : "MISMATCH");
    std::fflush(stdout);
    ok = ok && same;
  }

  if (latency) {
    // Maximum throughput of each pipeline (unthrottled, wall clock), then half of it.
    Stream probe{probeRecords, 1000, 1000 * 100, 100};
    // The median of three unthrottled runs of about a second or more each: a short run (20 M
    // records: 0.15 s) on a shared machine can come out far above what the pipeline sustains
    // (80–170 M/s from run to run), and half of that would not be half load.
    auto medianRate = [](const char* what, const std::function<Measured()>& run) {
      std::vector<double> rates;
      for (int i = 0; i < 3; ++i) {
        Measured m = run();
        rates.push_back(static_cast<double>(m.events) / m.wall);
      }
      std::printf("maximum throughput, %s: %s, %s, %s events/s\n", what, bench::formatRate(rates[0]).c_str(), bench::formatRate(rates[1]).c_str(),
                  bench::formatRate(rates[2]).c_str());
      std::sort(rates.begin(), rates.end());
      return rates[1];
    };
    std::printf("\n");
    // Unthrottled: sentNs is 0, nothing is recorded.
    const double mapRates[2] = {medianRate("map, chained", [&] { return latencyMap(probe, 0, false, false); }),
                                medianRate("map + rebalance", [&] { return latencyMap(probe, 0, false, true); })};
    const double winRate = medianRate("window", [&] { return engineTumbling(probe, 1); });
    std::printf("\nIn-process latency at %.2f of the maximum throughput (P=1, %.0f s runs, idle spin %lld µs)\n\n", load,
                latencySeconds, static_cast<long long>(gIdleSpin.count()));
    std::printf("| pipeline | max events/s | run at events/s | results measured | p50 µs | p99 µs | p999 µs |\n|---|---|---|---|---|---|---|\n");
    for (bool exchange : {false, true}) {
      const double mapRate = mapRates[exchange ? 1 : 0];
      double r = mapRate * load;
      Stream s{static_cast<int64_t>(r * latencySeconds), 1000, 1000, 1000};
      Measured m = latencyMap(s, r, true, exchange);
      ok = ok && m.ok;
      std::printf("| q1-like map%s (record → sink, every 16th record timed) | %s | %s | %lld | %.0f | %.0f | %.0f |\n",
                  exchange ? " + rebalance before the sink" : ", chained as q1 runs", bench::formatRate(mapRate).c_str(),
                  bench::formatRate(r).c_str(), static_cast<long long>(m.rows), m.p50, m.p99, m.p999);
    }
    for (bool exchange : {false, true}) {
      double r = winRate * load;
      Stream s{static_cast<int64_t>(r * latencySeconds), 1000, 1000, 1000};
      Measured m = latencyWindow(s, r, 100, exchange);
      ok = ok && m.ok;
      std::printf("| keyed tumbling count, 1000 keys, 100 ms windows%s (window end → sink) | %s | %s | %lld | %.0f | %.0f | %.0f |\n",
                  exchange ? " + rebalance before the sink" : ", sink chained", bench::formatRate(winRate).c_str(), bench::formatRate(r).c_str(),
                  static_cast<long long>(m.rows), m.p50, m.p99, m.p999);
    }
  }
  return ok ? 0 : 1;
}
