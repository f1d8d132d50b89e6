// RocksDB checkpoints: duration and size of incremental (native: the database's table files,
// shared between checkpoints) against full ones (every record written out), and the time a job
// takes from its start to its first processed record when it restores a large state natively
// from a checkpoint or record by record from a savepoint.
//
//   reka_rocksdb_checkpoint_bench [--keys N] [--value-bytes B] [--interval-ms I] [--updates U]
//                                 [--mode incremental|full|both] [--restore [--cold]] [--state-dir DIR]
//
// The job: a source of `keys` new keys followed by `updates` updates of random keys, keyed by
// the key, each record setting a ValueState<std::string> of `value-bytes` incompressible bytes in
// RocksDB. The source then waits (it never ends by itself), so the state stays what it is.
// 1. For each mode: the job runs with checkpoints every `interval-ms` until every record has
//    been processed and one more checkpoint completed after that; it reports every completed
//    checkpoint's duration and the bytes it wrote, and the job's events per CPU-second.
// 2. With --restore (after an incremental run): a savepoint of the same state is taken, then two
//    jobs start on it, one restoring the last checkpoint (natively: the table files are linked
//    back and opened) and one the savepoint (each record read and written into a new
//    database); each source emits 1 000 more records, and the time from the job's start to its
//    first processed record is reported with the restore time the job logs. A third job
//    restores the checkpoint with the keyed operator at parallelism 2 (a rescale: each subtask
//    reads its key groups out of the checkpoint's table files into its own database). With
//    --cold, the first two again after emptying the page cache (root only), so that the files
//    come from the device.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include <unistd.h>
#include <vector>

#include "base/ProcessStats.h"
#include "reka/reka.h"

namespace {

using namespace reka;
using Clock = std::chrono::steady_clock;

struct Settings {
  int64_t keys = 2'000'000;
  int64_t updates = 200'000;
  int valueBytes = 100;
  int intervalMs = 2000;
};

/// Record i: key i for the first `keys` records, then a random key. Holds at `holdAt` until the
/// job is cancelled; ends at `end` (a restored run's extra records).
class StateSource final : public SourceFunction<int64_t> {
 public:
  StateSource(Settings s, int64_t holdAt, int64_t end) : s_(s), holdAt_(holdAt), end_(end) {}
  Status open(const OperatorContext&) override { return Status::ok(); }
  SourceOperator::Poll poll(RecordBatch<int64_t>& out, size_t) override {
    if (next_ >= holdAt_ && next_ < end_ && holding_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      return SourceOperator::Poll::kMore;
    }
    for (int i = 0; i < 256 && next_ < end_ && !(holding_ && next_ >= holdAt_); ++i, ++next_)
      out.records.push_back(next_ < s_.keys ? next_ : static_cast<int64_t>(mix(static_cast<uint64_t>(next_)) % static_cast<uint64_t>(s_.keys)));
    return next_ < end_ ? SourceOperator::Poll::kMore : SourceOperator::Poll::kEnd;
  }
  Status snapshotPosition(std::string& out) const override {
    Serde<int64_t>::write(next_, out);
    return Status::ok();
  }
  Status restorePosition(std::string_view in) override {
    if (!Serde<int64_t>::read(in, next_)) return Status::corruption("bad position");
    holding_ = false;  // a restored run goes on to `end`
    return Status::ok();
  }
  static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
  }

 private:
  Settings s_;
  int64_t holdAt_, end_;
  int64_t next_ = 0;
  bool holding_ = true;
};

std::atomic<int64_t> gProcessed{0};
std::atomic<int64_t> gFirstRecordNs{0};

/// Sets the key's value to `valueBytes` bytes that do not compress.
struct SetValue {
  explicit SetValue(int bytes) : valueBytes(bytes) {}
  int valueBytes = 100;
  ValueState<int64_t, std::string> v;
  void open(KeyedStateRegistry<int64_t>& r) { v = r.valueState<std::string>("v"); }
  void processElement(const int64_t& x, KeyedContext<int64_t, int64_t>&) {
    if (gFirstRecordNs.load(std::memory_order_relaxed) == 0)
      gFirstRecordNs.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    std::string& s = v.getOrCreate();
    s.resize(static_cast<size_t>(valueBytes));
    uint64_t h = static_cast<uint64_t>(x) * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(gProcessed.load(std::memory_order_relaxed));
    for (size_t i = 0; i < s.size(); i += 8) {
      h = StateSource::mix(h + i);
      std::memcpy(s.data() + i, &h, std::min<size_t>(8, s.size() - i));
    }
    gProcessed.fetch_add(1, std::memory_order_relaxed);
  }
};

/// The job; the keyed operator at `parallelism` (a restore at another one rescales its state).
void build(StreamEnvironment& env, const Settings& s, int64_t end, int parallelism = 1) {
  env.config().parallelism = 1;
  env.config().stateBackend.kind = StateBackendConfig::Kind::kRocksDb;
  const int64_t holdAt = s.keys + s.updates;
  env.addSource<int64_t>("source", [s, holdAt, end] { return std::make_unique<StateSource>(s, holdAt, end); })
      .keyBy([](int64_t x) { return x; })
      .process<int64_t>("set", SetValue(s.valueBytes))
      .parallelism(parallelism)
      .sink("discard", [](const int64_t&) {});
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

/// Runs the job until every record is processed and a checkpoint completed after that.
/// Returns the job (still running, held) or null.
std::unique_ptr<JobClient> fill(const Settings& s, const std::string& dir, bool incremental) {
  gProcessed = 0;
  StreamEnvironment env;
  build(env, s, INT64_MAX);
  env.config().checkpoints.stateDir = dir;
  env.config().checkpoints.interval = std::chrono::milliseconds(s.intervalMs);
  env.config().checkpoints.incremental = incremental;
  env.config().checkpoints.timeout = std::chrono::minutes(10);
  const int64_t total = s.keys + s.updates;
  const double cpu0 = reka::processCpuSeconds();
  const auto t0 = Clock::now();
  auto job = env.executeAsync();
  if (!job.isOk()) {
    std::fprintf(stderr, "%s\n", job.status().toString().c_str());
    return nullptr;
  }
  while (gProcessed.load() < total) {
    if ((*job)->waitFor(std::chrono::milliseconds(50))) {
      std::fprintf(stderr, "the job ended: %s\n", (*job)->wait().toString().c_str());
      return nullptr;
    }
  }
  const double cpu = reka::processCpuSeconds() - cpu0;
  const double wall = seconds(Clock::now() - t0);
  const int64_t after = (*job)->metrics().completedCheckpoints;
  while ((*job)->metrics().completedCheckpoints < after + 1) {
    if ((*job)->waitFor(std::chrono::milliseconds(50))) return nullptr;
  }
  const JobMetrics m = (*job)->metrics();
  std::printf("\n%s checkpoints every %d ms, %lld keys x %d B + %lld updates: %.0f events/CPU-s (%.1f s wall, %.1f s CPU)\n",
              incremental ? "incremental (native)" : "full", s.intervalMs, static_cast<long long>(s.keys), s.valueBytes,
              static_cast<long long>(s.updates), static_cast<double>(total) / cpu, wall, cpu);
  std::printf("  %-6s %10s %10s %12s\n", "id", "ms", "sync ms", "MB written");
  double sumMs = 0, maxMs = 0, sumMb = 0;
  int n = 0;
  for (const auto& r : m.checkpointHistory) {
    if (r.outcome != CheckpointRecord::Outcome::kCompleted) continue;
    std::printf("  %-6lld %10.0f %10.0f %12.1f\n", static_cast<long long>(r.id), r.durationMs, r.syncMs, static_cast<double>(r.bytes) / 1e6);
    sumMs += r.durationMs;
    maxMs = std::max(maxMs, r.durationMs);
    sumMb += static_cast<double>(r.bytes) / 1e6;
    ++n;
  }
  if (n > 0) std::printf("  mean %.0f ms, longest %.0f ms, mean %.1f MB written per checkpoint, %.1f MB in all\n", sumMs / n, maxMs, sumMb / n, sumMb);
  uint64_t shared = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/checkpoints/shared", ec)) shared += e.file_size(ec);
  std::printf("  checkpoint directory: %.1f MB of shared table files\n", static_cast<double>(shared) / 1e6);
  return std::move(*job);
}

/// Writes dirty pages out and empties the page cache (root only), so that a restore reads its
/// files from the device.
bool dropCaches() {
  ::sync();
  std::FILE* f = std::fopen("/proc/sys/vm/drop_caches", "w");
  if (f == nullptr) return false;
  const bool ok = std::fputs("3\n", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

void restoreRun(const Settings& s, const std::string& dir, const std::string& from, const char* what, bool cold,
                int parallelism = 1) {
  if (cold && !dropCaches()) std::printf("  (could not drop the page cache: not root?)\n");
  gFirstRecordNs = 0;
  gProcessed = 0;
  StreamEnvironment env;
  const int64_t end = s.keys + s.updates + 1000;
  build(env, s, end, parallelism);
  env.config().checkpoints.stateDir = dir;
  env.config().checkpoints.resumeFrom = from;
  const auto t0 = Clock::now();
  auto job = env.executeAsync();
  if (!job.isOk()) {
    std::fprintf(stderr, "%s: %s\n", what, job.status().toString().c_str());
    return;
  }
  Status st = (*job)->wait();
  const JobMetrics m = (*job)->metrics();
  const double first = gFirstRecordNs.load() == 0 ? -1 : static_cast<double>(gFirstRecordNs.load() - t0.time_since_epoch().count()) / 1e9;
  std::printf("  %-34s first record after %.2f s (restore %.2f s, %lld records, %s)\n", what, first, m.restoreMs / 1000,
              static_cast<long long>(gProcessed.load()), st.isOk() ? "ok" : st.toString().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"RocksDB checkpoints: incremental vs full, and restore time"};
  Settings s;
  std::string mode = "both";
  bool restore = false;
  bool cold = false;
  std::string stateDir;
  app.add_option("--keys", s.keys, "distinct keys (the state: keys x value bytes)");
  app.add_option("--updates", s.updates, "updates of random keys after every key is set");
  app.add_option("--value-bytes", s.valueBytes, "bytes per value");
  app.add_option("--interval-ms", s.intervalMs, "checkpoint interval");
  app.add_option("--mode", mode, "incremental, full or both")->check(CLI::IsMember({"incremental", "full", "both"}));
  app.add_flag("--restore", restore, "after the incremental run, measure restores from the checkpoint and a savepoint");
  app.add_flag("--cold", cold, "also restore with an empty page cache (drops it: needs root)");
  app.add_option("--state-dir", stateDir, "where checkpoints go (default: a directory under $TMPDIR, removed at the end)");
  CLI11_PARSE(app, argc, argv);
  const bool ownDir = stateDir.empty();
  if (ownDir) stateDir = (std::filesystem::temp_directory_path() / ("reka-rocksdb-bench-" + std::to_string(::getpid()))).string();
  for (const char* m : {"full", "incremental"}) {
    if (mode != "both" && mode != m) continue;
    const bool incremental = std::string(m) == "incremental";
    std::filesystem::remove_all(stateDir);
    auto job = fill(s, stateDir, incremental);
    if (!job) return 1;
    if (incremental && restore) {
      const auto t0 = Clock::now();
      auto sp = job->savepoint(false, std::chrono::minutes(10));
      if (!sp.isOk()) {
        std::fprintf(stderr, "savepoint: %s\n", sp.status().toString().c_str());
        return 1;
      }
      std::printf("  savepoint (every record written out) took %.1f s\n", seconds(Clock::now() - t0));
      const JobMetrics m = job->metrics();
      std::string checkpointDir;
      for (const auto& r : m.checkpointHistory)
        if (r.outcome == CheckpointRecord::Outcome::kCompleted && !r.savepoint) checkpointDir = r.path;
      job->cancel();
      (void)job->wait();
      std::printf("\nrestore and resume (%lld keys x %d B):\n", static_cast<long long>(s.keys), s.valueBytes);
      restoreRun(s, stateDir, checkpointDir, "from the checkpoint (native)", false);
      restoreRun(s, stateDir, *sp, "from the savepoint (record by record)", false);
      // Rescaling: two subtasks each read their key groups out of the checkpoint's table files.
      restoreRun(s, stateDir, checkpointDir, "from the checkpoint at parallelism 2", false, 2);
      if (cold) {
        std::printf("with an empty page cache:\n");
        restoreRun(s, stateDir, checkpointDir, "from the checkpoint (native)", true);
        restoreRun(s, stateDir, *sp, "from the savepoint (record by record)", true);
      }
    } else {
      job->cancel();
      (void)job->wait();
    }
  }
  if (ownDir) std::filesystem::remove_all(stateDir);
  return 0;
}
