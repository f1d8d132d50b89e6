// Checkpoint costs: NEXMark throughput with checkpoints every second vs none (q5, q7, q18),
// checkpoint duration and size, and the time from a restart to resumed processing.
//
//   reka_checkpoint_bench [--events N] [--rate R] [--queries q5 q7 q18] [--interval-ms 1000]
//                         [--restart-events N] [--state-dir DIR] [--prefault-mb MB]
//
// On a virtual machine, the first touch of a page of memory can cost the host's work of backing
// it: on the 2-core VM these figures come from, 2.5 µs per 4 KiB page when the host still backs
// it and 10 µs when it does not (the balloon's free page reporting hands freed memory back after
// about 2 s). q18 grows ~3.5 GB of state per 30 M events, so that cost alone moves a run's CPU by
// ±20 % between identical runs. Each run therefore reports its kernel time and page faults, and
// `--prefault-mb` hands each run a heap arena that was touched before its clock started, so that
// both configurations measure the engine on memory the process already has (as a long-running job
// does once its state has grown).

#include <CLI/CLI.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../common/ChildProcess.h"
#include "base/ProcessStats.h"
#include "checkpoint/CheckpointStorage.h"
#include "nexmark/QueryJob.h"
#include "reka/reka.h"

#if REKA_WITH_MIMALLOC
#include <mimalloc.h>
#endif

namespace {

using namespace reka;
using Clock = std::chrono::steady_clock;

struct Run {
  bool ok = false;
  double wall = 0;
  double cpu = 0;
  double sysCpu = 0;       // the kernel's part of `cpu`
  int64_t pageFaults = 0;  // minor faults: first touches of memory
  int64_t events = 0;
  int64_t rows = 0;
  JobMetrics metrics;
  double perCpu() const { return cpu > 0 ? static_cast<double>(events) / cpu : 0; }
};

/// Maps `mb` MiB, touches every page and hands the range to the allocator as an arena, so that
/// the run's allocations find memory the process already has. Returns false with a message if
/// that is not possible.
bool prefaultHeap(int64_t mb) {
  if (mb <= 0) return true;
#if REKA_WITH_MIMALLOC
  // The allocator finds a segment's header by masking a pointer, so the arena starts on a
  // segment boundary (64 MiB covers every mimalloc 2 segment size).
  constexpr size_t kAlign = size_t{64} << 20;
  const size_t bytes = static_cast<size_t>(mb) << 20;
  void* raw = ::mmap(nullptr, bytes + kAlign, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    std::fprintf(stderr, "--prefault-mb %lld: mmap failed\n", static_cast<long long>(mb));
    return false;
  }
  auto* p = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(raw) + kAlign - 1) & ~(kAlign - 1));
  for (size_t i = 0; i < bytes; i += 4096) p[i] = 0;  // the first touch, before the clock
  if (!mi_manage_os_memory(p, bytes, /*is_committed=*/true, /*is_large=*/false, /*is_zero=*/true, /*numa_node=*/-1)) {
    std::fprintf(stderr, "--prefault-mb %lld: the allocator did not take the arena\n", static_cast<long long>(mb));
    return false;
  }
  return true;
#else
  std::fprintf(stderr, "--prefault-mb needs the benchmark built with mimalloc (REKA_MIMALLOC=ON)\n");
  return false;
#endif
}

Run runQuery(const std::string& query, const nexmark::GeneratorConfig& gen, const CheckpointConfig& checkpoints) {
  ExecutionConfig config;
  config.parallelism = 1;
  config.checkpoints = checkpoints;
  StreamEnvironment env(config);
  nexmark::QueryJobOptions options;
  options.query = query;
  options.generator = gen;
  auto counters = nexmark::buildQueryJob(env, options);
  Run r;
  if (!counters.isOk()) {
    std::fprintf(stderr, "%s: %s\n", query.c_str(), counters.status().toString().c_str());
    return r;
  }
  const auto start = Clock::now();
  const ProcessUsage u0 = processUsage();
  auto job = env.executeAsync();
  if (!job.isOk()) {
    std::fprintf(stderr, "%s: %s\n", query.c_str(), job.status().toString().c_str());
    return r;
  }
  Status s = (*job)->wait();
  const ProcessUsage u1 = processUsage();
  r.sysCpu = u1.systemSeconds - u0.systemSeconds;
  r.cpu = u1.userSeconds - u0.userSeconds + r.sysCpu;
  r.pageFaults = u1.minorFaults - u0.minorFaults;
  r.wall = std::chrono::duration<double>(Clock::now() - start).count();
  r.metrics = (*job)->metrics();
  r.ok = s.isOk();
  if (!s.isOk()) std::fprintf(stderr, "%s: %s\n", query.c_str(), s.toString().c_str());
  r.events = r.metrics.sourceRecords;
  r.rows = (*counters)->outputRows.load();
  return r;
}

/// Runs `runQuery` in a child process, so that no run inherits another's heap or threads.
Run runIsolated(const std::string& query, const nexmark::GeneratorConfig& gen, const CheckpointConfig& checkpoints,
                int64_t prefaultMb) {
  const std::string text = bench::runInChild([&] {
    if (!prefaultHeap(prefaultMb)) return std::string();
    Run r = runQuery(query, gen, checkpoints);
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.6f %lld %d %.6f %.6f %lld %lld %lld %lld %.3f %.3f %.3f %.3f %.3f %lld %lld", r.sysCpu, static_cast<long long>(r.pageFaults), r.ok ? 1 : 0, r.wall, r.cpu,
                  static_cast<long long>(r.events), static_cast<long long>(r.rows),
                  static_cast<long long>(r.metrics.completedCheckpoints), static_cast<long long>(r.metrics.largestCheckpointBytes),
                  r.metrics.longestCheckpointMs, r.metrics.longestCheckpointSyncMs, r.metrics.longestDeltaCheckpointSyncMs,
                  r.metrics.checkpointCopyCpuMs, r.metrics.checkpointWriteCpuMs, static_cast<long long>(r.metrics.deltaTaskSnapshots), static_cast<long long>(r.metrics.fullTaskSnapshots));
    return std::string(buf);
  });
  Run r;
  int ok = 0;
  long long events = 0, rows = 0, completed = 0, bytes = 0, deltas = 0, fulls = 0, faults = 0;
  if (std::sscanf(text.c_str(), "%lf %lld %d %lf %lf %lld %lld %lld %lld %lf %lf %lf %lf %lf %lld %lld", &r.sysCpu, &faults, &ok, &r.wall, &r.cpu, &events, &rows,
                  &completed, &bytes, &r.metrics.longestCheckpointMs, &r.metrics.longestCheckpointSyncMs,
                  &r.metrics.longestDeltaCheckpointSyncMs, &r.metrics.checkpointCopyCpuMs, &r.metrics.checkpointWriteCpuMs, &deltas,
                  &fulls) == 16) {
    r.pageFaults = faults;
    r.metrics.deltaTaskSnapshots = deltas;
    r.metrics.fullTaskSnapshots = fulls;
    r.ok = ok == 1;
    r.events = events;
    r.rows = rows;
    r.metrics.completedCheckpoints = completed;
    r.metrics.largestCheckpointBytes = bytes;
  } else {
    std::fprintf(stderr, "%s: the run reported no result (\"%s\")\n", query.c_str(), text.c_str());
  }
  return r;
}

/// Builds state with q18 (the last bid per bidder and auction) until a checkpoint of it is
/// complete, abandons the job like a crash, then starts it again and measures the time to the
/// first record the restored job processes.
void restartTime(const std::string& stateDir, int64_t events) {
  namespace fs = std::filesystem;
  fs::remove_all(stateDir);
  nexmark::GeneratorConfig gen;
  gen.events = events;
  gen.rate = 10'000'000;
  CheckpointConfig cc;
  cc.stateDir = stateDir;
  cc.interval = std::chrono::milliseconds(0);  // one savepoint, taken below
  auto build = [&](StreamEnvironment& env) {
    nexmark::QueryJobOptions options;
    options.query = "q18";
    options.generator = gen;
    auto counters = nexmark::buildQueryJob(env, options);
    REKA_CHECK(counters.isOk());
  };
  int64_t stateBytes = 0;
  {
    ExecutionConfig config;
    config.parallelism = 1;
    config.checkpoints = cc;
    StreamEnvironment env(config);
    build(env);
    auto job = env.executeAsync();
    REKA_CHECK(job.isOk());
    // Let it build state over most of the input, then take a savepoint and abandon the run.
    while ((*job)->metrics().sourceRecords < events * 8 / 10 && !(*job)->waitFor(std::chrono::milliseconds(5))) {
    }
    auto sp = (*job)->savepoint(false, std::chrono::seconds(120));
    if (!sp.isOk()) {
      std::printf("restart: could not take the savepoint: %s\n", sp.status().toString().c_str());
      return;
    }
    stateBytes = (*job)->metrics().lastCheckpointBytes;
    std::printf("restart: savepoint of q18 state after %lld events: %.1f MB, written in %.0f ms (copy %.0f ms)\n",
                static_cast<long long>((*job)->metrics().sourceRecords), static_cast<double>(stateBytes) / 1e6,
                (*job)->metrics().lastCheckpointMs, (*job)->metrics().lastCheckpointSyncMs);
    (*job)->cancel();
    (void)(*job)->wait();
  }
  ExecutionConfig config;
  config.parallelism = 1;
  config.checkpoints = cc;
  StreamEnvironment env(config);
  build(env);
  const auto start = Clock::now();
  auto job = env.executeAsync();  // reads, checks and restores the savepoint, then starts
  REKA_CHECK(job.isOk());
  const auto restored = Clock::now();
  const int64_t before = 0;
  while ((*job)->metrics().sourceRecords <= before && !(*job)->waitFor(std::chrono::milliseconds(0))) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  const auto resumed = Clock::now();
  JobMetrics m = (*job)->metrics();
  (*job)->cancel();
  (void)(*job)->wait();
  std::printf("restart: %.1f MB of state: restore %.0f ms (read + verify + rebuild), start to first record processed %.0f ms (executeAsync returned at %.0f ms)\n",
              static_cast<double>(stateBytes) / 1e6, m.restoreMs,
              std::chrono::duration<double, std::milli>(resumed - start).count(),
              std::chrono::duration<double, std::milli>(restored - start).count());
  fs::remove_all(stateDir);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Reka checkpoint benchmark: throughput with and without checkpoints, duration, size, restart time"};
  int64_t events = 50'000'000;
  double rate = 10'000'000;
  std::vector<std::string> queries = {"q5", "q7", "q18"};
  int intervalMs = 1000;
  int64_t restartEvents = 3'000'000;
  std::string stateDir = "/tmp/reka-checkpoint-bench-" + std::to_string(::getpid());
  int repeat = 2;
  std::string mode = "incremental";
  app.add_option("--mode", mode, "checkpoint mode: incremental (default) or full")->check(CLI::IsMember({"incremental", "full"}));
  app.add_option("--events", events, "events per run (default 50000000)")->check(CLI::PositiveNumber);
  app.add_option("--rate", rate, "event-time rate R (default 10000000)")->check(CLI::PositiveNumber);
  app.add_option("--queries", queries, "queries (default q5 q7 q18)");
  app.add_option("--interval-ms", intervalMs, "checkpoint interval (default 1000)")->check(CLI::Range(1, 3'600'000));
  app.add_option("--restart-events", restartEvents, "events of q18 state for the restart measurement (0: skip)");
  app.add_option("--state-dir", stateDir, "scratch state directory (deleted afterwards)");
  int64_t prefaultMb = 0;
  std::string only;
  app.add_option("--only", only, "run one configuration alone, for profiling: off or on (default: both, alternating)")
      ->check(CLI::IsMember({"off", "on"}));
  app.add_option("--prefault-mb", prefaultMb,
                 "give each run a heap arena of this many MiB, touched before its clock starts (needs mimalloc; default 0: none)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  app.add_option("--repeat", repeat, "runs per configuration, best counts (default 2)")->check(CLI::Range(1, 20));
  CLI11_PARSE(app, argc, argv);

  nexmark::GeneratorConfig gen;
  gen.events = events;
  gen.rate = rate;
  std::printf("Checkpoints (%s), NEXMark generator in-process, N = %lld, R = %.0f/s, P = 1, exactly-once, %ld cores, %s\n\n",
              mode.c_str(), static_cast<long long>(events), rate, sysconf(_SC_NPROCESSORS_ONLN),
              prefaultMb > 0 ? ("heap prefaulted: " + std::to_string(prefaultMb) + " MiB").c_str() : "fresh heap");
  std::printf("| query | off: events/CPU-s | %d ms: events/CPU-s | on/off | on/off per pair: median (min–max) | on/off events/s (wall) | checkpoints "
              "| task snapshots incr/full | largest MB | longest ms | longest copy ms | longest copy of deltas ms "
              "| CPU in checkpoints: copy + write | kernel CPU off/on | page faults off/on | rows equal |\n",
              intervalMs);
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  bool ok = true;
  std::vector<std::string> pendingNotes;  // printed under the table
  for (const auto& q : queries) {
    // Each configuration runs `repeat` times in fresh processes, in pairs of neighbouring runs
    // (off, on, on, off, ...); the best of each counts (the machine's noise only ever slows a
    // run down). On a shared machine the speed of memory drifts by tens of percent between
    // minutes, so the ratio within each pair is reported too: its median is the steadier figure.
    CheckpointConfig cc;
    cc.stateDir = stateDir;
    cc.interval = std::chrono::milliseconds(intervalMs);
    cc.incremental = mode == "incremental";
    Run off, on;
    std::vector<double> pairs;
    std::string pairText;  // every pair, in the order run: "off → on (ratio)"
    auto runOff = [&] { return runIsolated(q, gen, CheckpointConfig{}, prefaultMb); };
    auto runOn = [&] {
      Run r = runIsolated(q, gen, cc, prefaultMb);
      std::filesystem::remove_all(stateDir);
      return r;
    };
    for (int i = 0; i < repeat; ++i) {
      if (only == "on" || only == "off") {
        Run r = only == "on" ? runOn() : runOff();
        std::printf("%s %s run %d: %.2f M events/CPU-s, %.1f %% kernel, %lld page faults, checkpoints: %lld, copy %.0f ms, write %.0f ms\n",
                    q.c_str(), only.c_str(), i + 1, r.perCpu() / 1e6, r.cpu > 0 ? 100.0 * r.sysCpu / r.cpu : 0.0,
                    static_cast<long long>(r.pageFaults), static_cast<long long>(r.metrics.completedCheckpoints),
                    r.metrics.checkpointCopyCpuMs, r.metrics.checkpointWriteCpuMs);
        ok = ok && r.ok;
        continue;
      }
      // Off first in even pairs and on first in odd ones (off, on, on, off, ...): a machine
      // that speeds up or slows down over minutes favours neither configuration.
      Run a, b;
      if (i % 2 == 0) {
        a = runOff();
        b = runOn();
      } else {
        b = runOn();
        a = runOff();
      }
      if (i == 0 || a.perCpu() > off.perCpu()) off = a;
      if (i == 0 || b.perCpu() > on.perCpu()) on = b;
      ok = ok && a.ok && b.ok && a.rows == b.rows;
      if (a.perCpu() > 0) pairs.push_back(b.perCpu() / a.perCpu());
      char pair[96];
      std::snprintf(pair, sizeof pair, "%s%.2f → %.2f M (%.2f)", pairText.empty() ? "" : ", ", a.perCpu() / 1e6, b.perCpu() / 1e6,
                    a.perCpu() > 0 ? b.perCpu() / a.perCpu() : 0.0);
      pairText += pair;
    }
    if (!only.empty()) continue;
    std::sort(pairs.begin(), pairs.end());
    const double median = pairs.empty() ? 0 : pairs.size() % 2 == 1 ? pairs[pairs.size() / 2]
                                                                     : (pairs[pairs.size() / 2 - 1] + pairs[pairs.size() / 2]) / 2;
    ok = ok && off.ok && on.ok && off.rows == on.rows;
    auto perWall = [](const Run& r) { return r.wall > 0 ? static_cast<double>(r.events) / r.wall : 0.0; };
    auto share = [&](double ms) { return on.cpu > 0 ? 100.0 * ms / (1000.0 * on.cpu) : 0.0; };
    auto kernel = [](const Run& r) { return r.cpu > 0 ? 100.0 * r.sysCpu / r.cpu : 0.0; };
    std::printf("| %s | %.2f M | %.2f M | %.2f | %.2f (%.2f–%.2f) | %.2f | %lld | %lld/%lld | %.2f | %.1f | %.1f | %.1f | %.1f %% + %.1f %% | %.1f %% / %.1f %% | %.2f M / %.2f M | %s |\n", q.c_str(),
                off.perCpu() / 1e6, on.perCpu() / 1e6, off.perCpu() > 0 ? on.perCpu() / off.perCpu() : 0, median,
                pairs.empty() ? 0 : pairs.front(), pairs.empty() ? 0 : pairs.back(), perWall(off) > 0 ? perWall(on) / perWall(off) : 0, static_cast<long long>(on.metrics.completedCheckpoints),
                static_cast<long long>(on.metrics.deltaTaskSnapshots), static_cast<long long>(on.metrics.fullTaskSnapshots),
                static_cast<double>(on.metrics.largestCheckpointBytes) / 1e6, on.metrics.longestCheckpointMs,
                on.metrics.longestCheckpointSyncMs, on.metrics.longestDeltaCheckpointSyncMs,
                share(on.metrics.checkpointCopyCpuMs), share(on.metrics.checkpointWriteCpuMs), kernel(off), kernel(on),
                static_cast<double>(off.pageFaults) / 1e6, static_cast<double>(on.pageFaults) / 1e6, off.ok && on.ok && off.rows == on.rows ? "yes" : "NO");
    pendingNotes.push_back(q + " pairs, events/CPU-s off → on (ratio): " + pairText);
    std::fflush(stdout);
  }
  if (!pendingNotes.empty()) std::printf("\n");
  for (const auto& n : pendingNotes) std::printf("%s\n", n.c_str());
  if (restartEvents > 0) {
    std::printf("\n");
    restartTime(stateDir, restartEvents);
  }
  return ok ? 0 : 1;
}
