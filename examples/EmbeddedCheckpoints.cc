// Checkpoints, stop-with-savepoint and restore in an embedded program. A job with an unbounded
// source (a counter 0, 1, 2, … that can say and restore its position) and a keyed running count
// takes periodic checkpoints into a state directory. reka::superviseJob runs it the way the
// `reka` command runs its jobs: Ctrl-C (SIGINT) or SIGTERM stops it with a savepoint, a second
// Ctrl-C exits at once. So that CI needs no terminal, the source sends the process that SIGINT
// itself once it reached a given record. Started again on the same state directory, the job
// resumes from the savepoint: the source goes on from the position it had, the keyed counts
// from the state they had. Prints what each run saw (deterministic: the source holds at the
// stop position); removes its state directory at the end.
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "reka/api/Supervisor.h"
#include "reka/reka.h"

// ---- The job ------------------------------------------------------------------------------

/// What the runs report back to main(): where the source resumed and the counts the sink saw.
struct Observed {
  std::atomic<int64_t> resumedAt{-1};  ///< the position restorePosition() got (-1: a fresh start)
  std::mutex mutex;
  std::map<int64_t, int64_t> counts;  ///< per key: the highest running count seen by the sink
};

/// An unbounded source of 0, 1, 2, … Its position (the next number) goes into every checkpoint
/// and comes back through restorePosition() when a job resumes. For the example it stops
/// emitting at `holdAt` and interrupts the process as Ctrl-C would, so each run ends at a known
/// position.
class CounterSource final : public reka::SourceFunction<int64_t> {
 public:
  CounterSource(int64_t holdAt, std::shared_ptr<Observed> observed) : holdAt_(holdAt), observed_(std::move(observed)) {}

  reka::SourceOperator::Poll poll(reka::RecordBatch<int64_t>& out, size_t maxRecords) override {
    if (next_ >= holdAt_) {
      if (!interrupted_) std::raise(SIGINT);  // what Ctrl-C sends; once: a second one exits at once
      interrupted_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return reka::SourceOperator::Poll::kMore;  // unbounded: never kEnd
    }
    // 10 numbers per poll and a short pause (about 0.1 s for 1000 numbers), so that periodic
    // checkpoints happen on the way.
    const size_t n = std::min<size_t>(maxRecords, 10);
    while (out.records.size() < n && next_ < holdAt_) out.records.push_back(next_++);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return reka::SourceOperator::Poll::kMore;
  }

  reka::Status snapshotPosition(std::string& out) const override {
    reka::Serde<int64_t>::write(next_, out);
    return reka::Status::ok();
  }
  reka::Status restorePosition(std::string_view in) override {
    if (!reka::Serde<int64_t>::read(in, next_) || !in.empty()) return reka::Status::corruption("bad counter position");
    observed_->resumedAt.store(next_);
    return reka::Status::ok();
  }

 private:
  int64_t holdAt_;
  std::shared_ptr<Observed> observed_;
  int64_t next_ = 0;
  bool interrupted_ = false;
};

struct Count {
  int64_t key;
  int64_t count;
};

/// Per key (even numbers: 0, odd: 1) the number of records so far, in checkpointed value state.
struct RunningCount {
  reka::ValueState<int64_t, int64_t> n;
  void open(reka::KeyedStateRegistry<int64_t>& registry) { n = registry.valueState<int64_t>("n"); }
  void processElement(const int64_t&, reka::KeyedContext<int64_t, Count>& ctx) {
    ctx.emit(Count{ctx.currentKey(), ++n.getOrCreate()});
  }
};

/// What one run ended with.
struct RunReport {
  int64_t sourceRecords = 0;
  int64_t restoredCheckpointId = 0;
  int64_t completedCheckpoints = 0;
  std::string savepoint;
};

/// Runs the job on `stateDir` until a stop is requested, then stops it with a savepoint.
std::optional<RunReport> runJob(const std::string& stateDir, int64_t holdAt, std::shared_ptr<Observed> observed) {
  reka::ExecutionConfig config;
  config.parallelism = 2;
  // Checkpoints every 20 ms into stateDir; resume (the default) restores the newest complete
  // checkpoint or savepoint found there when the job starts.
  config.checkpoints.stateDir = stateDir;
  config.checkpoints.interval = std::chrono::milliseconds(20);
  reka::StreamEnvironment env(config);
  env.addSource<int64_t>("counter", [holdAt, observed] { return std::make_unique<CounterSource>(holdAt, observed); },
                         /*parallelism=*/1)
      .keyBy([](int64_t x) { return x % 2; })
      .process<Count>("running count", RunningCount{})
      .sink("collect", [observed](const Count& c) {
        std::lock_guard<std::mutex> lock(observed->mutex);
        int64_t& highest = observed->counts[c.key];
        highest = std::max(highest, c.count);
      });

  auto started = env.executeAsync();  // returns at once; the job runs on its worker threads
  if (!started.isOk()) {
    std::fprintf(stderr, "the job did not start: %s\n", started.status().toString().c_str());
    return std::nullopt;
  }
  reka::JobClient& job = **started;

  // Runs the job to its end on this thread (a program with work of its own would call it on
  // another): SIGINT or SIGTERM stops the job with a savepoint (the sources stop right after the
  // savepoint's barrier, the savepoint completes, the job ends Cancelled); if none can be taken
  // it cancels the job, and a restart resumes from the last complete checkpoint.
  reka::SupervisorOptions options;
  options.who = "embedded_checkpoints";
  const reka::SupervisedRun run = reka::superviseJob(job, options);
  if (!run.interrupted || run.savepoint.empty()) {
    std::fprintf(stderr, "the job did not stop with a savepoint: %s\n", run.status.toString().c_str());
    return std::nullopt;
  }
  if (run.status.code() != reka::StatusCode::kCancelled) {
    std::fprintf(stderr, "the job should have ended Cancelled after the savepoint: %s\n", run.status.toString().c_str());
    return std::nullopt;
  }
  const reka::JobMetrics metrics = job.metrics();
  RunReport report;
  report.sourceRecords = metrics.sourceRecords;
  report.restoredCheckpointId = metrics.restoredCheckpointId;
  report.completedCheckpoints = metrics.completedCheckpoints;
  report.savepoint = run.savepoint;
  // For people watching: how many checkpoints the run took varies with timing.
  std::fprintf(stderr, "%lld checkpoints and savepoints completed\n", static_cast<long long>(metrics.completedCheckpoints));
  return report;
}

/// The lines main() prints for one run.
bool describe(int run, const RunReport& report, const Observed& observed, std::string& out) {
  char line[160];
  const int64_t resumedAt = observed.resumedAt.load();
  if (resumedAt < 0) {
    if (report.restoredCheckpointId != 0) return false;
    std::snprintf(line, sizeof line, "run %d: fresh start\n", run);
  } else {
    if (report.restoredCheckpointId <= 0) return false;
    std::snprintf(line, sizeof line, "run %d: restored from the state directory, resumed at %lld\n", run,
                  static_cast<long long>(resumedAt));
  }
  out += line;
  if (report.completedCheckpoints < 1 || report.savepoint.find("/savepoints/sp-") == std::string::npos) return false;
  std::snprintf(line, sizeof line, "run %d: source emitted %lld records, stopped with a savepoint\n", run,
                static_cast<long long>(report.sourceRecords));
  out += line;
  const auto even = observed.counts.find(0), odd = observed.counts.find(1);
  if (even == observed.counts.end() || odd == observed.counts.end()) return false;
  std::snprintf(line, sizeof line, "run %d: running counts even=%lld odd=%lld\n", run, static_cast<long long>(even->second),
                static_cast<long long>(odd->second));
  out += line;
  return true;
}

std::string makeTempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "reka-checkpoints-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return "";
  return pattern;
}

int runBoth(const std::string& stateDir) {
  std::string summary;
  // Run 1: a fresh start; stops with a savepoint at 1000.
  auto first = std::make_shared<Observed>();
  std::optional<RunReport> one = runJob(stateDir, 1000, first);
  if (!one || !describe(1, *one, *first, summary)) return 1;
  // Run 2: the same job on the same state directory resumes from that savepoint; stops at 2000.
  auto second = std::make_shared<Observed>();
  std::optional<RunReport> two = runJob(stateDir, 2000, second);
  if (!two || !describe(2, *two, *second, summary)) return 1;
  std::fputs(summary.c_str(), stdout);
  return 0;
}

int main() {
  const std::string stateDir = makeTempDir();
  if (stateDir.empty()) {
    std::perror("mkdtemp");
    return 1;
  }
  const int rc = runBoth(stateDir);
  std::error_code ignored;
  std::filesystem::remove_all(stateDir, ignored);
  if (rc != 0) std::fprintf(stderr, "embedded checkpoints failed\n");
  return rc;
}
