// Checkpoints end to end in one process: barriers, alignment, snapshots, the manifest, restore,
// restarts, savepoints, corrupt and failing storage. The output goes through a two-phase-commit
// test sink whose commit log outlives the jobs (like files on disk), so that lost and repeated
// rows are visible; the expected output is computed by a plain loop.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <utility>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <thread>

#define XXH_INLINE_ALL  // the reference checksum, independent of the library storage links
#include <xxhash.h>

#include "checkpoint/CheckpointStorage.h"
#include "reka/base/Log.h"
#include "reka/reka.h"
#include "testing/JobTesting.h"

namespace reka {
namespace {

using testing::awaitJob;
namespace fs = std::filesystem;

/// What the test sink has made visible, across job runs (the analogue of committed files).
struct CommitLog {
  std::mutex mutex;
  std::set<std::tuple<int64_t, int64_t, int64_t>> transactions;  ///< (subtask, run, seq) committed
  std::vector<std::string> rows;
  std::vector<int64_t> snapshotIds;  ///< every sink snapshot's checkpoint id (0: end of input)
  std::vector<int64_t> takeSnapshotIds() {
    std::lock_guard<std::mutex> lock(mutex);
    return std::exchange(snapshotIds, {});
  }
  std::vector<std::string> values() {
    std::lock_guard<std::mutex> lock(mutex);
    return rows;
  }
};

/// A two-phase-commit sink: rows wait in the open transaction; snapshot() stages it under the
/// checkpoint; commit(id) appends staged transactions ≤ id to the log, once (idempotent by
/// transaction id, as a rename is); restore() commits what the checkpoint staged and drops the
/// rest (it will be replayed).
class TwoPhaseSink {
 public:
  explicit TwoPhaseSink(std::shared_ptr<CommitLog> log) : log_(std::move(log)) {}
  Status open(const OperatorContext& ctx) {
    subtask_ = ctx.subtask;
    checkpointing_ = ctx.checkpointing;
    run_ = nextRun.fetch_add(1);  // new transactions never reuse a committed one's id
    return Status::ok();
  }
  void invoke(const std::string& row) { open_.push_back(row); }
  void finish() {
    if (!checkpointing_) {
      stage(0);
      commit(0);
    }
  }
  Status snapshot(int64_t id, std::string& out) {
    {
      std::lock_guard<std::mutex> lock(log_->mutex);
      log_->snapshotIds.push_back(id);
    }
    stage(id);
    Serde<int64_t>::write(nextSeq_, out);
    Serde<uint64_t>::write(staged_.size(), out);
    for (const auto& t : staged_) {
      Serde<int64_t>::write(t.checkpoint, out);
      Serde<int64_t>::write(t.run, out);
      Serde<int64_t>::write(t.seq, out);
      Serde<std::vector<std::string>>::write(t.rows, out);
    }
    return Status::ok();
  }
  Status restore(std::string_view in) {
    uint64_t n = 0;
    if (!Serde<int64_t>::read(in, nextSeq_) || !Serde<uint64_t>::read(in, n)) return Status::corruption("bad sink state");
    staged_.resize(n);
    for (auto& t : staged_) {
      if (!Serde<int64_t>::read(in, t.checkpoint) || !Serde<int64_t>::read(in, t.run) || !Serde<int64_t>::read(in, t.seq) ||
          !Serde<std::vector<std::string>>::read(in, t.rows))
        return Status::corruption("bad sink state");
    }
    commit(INT64_MAX);  // staged for a checkpoint that completed
    return Status::ok();
  }
  void commit(int64_t id) {
    std::lock_guard<std::mutex> lock(log_->mutex);
    auto it = staged_.begin();
    while (it != staged_.end()) {
      if (it->checkpoint > id) {
        ++it;
        continue;
      }
      if (log_->transactions.insert({subtask_, it->run, it->seq}).second)
        log_->rows.insert(log_->rows.end(), it->rows.begin(), it->rows.end());
      it = staged_.erase(it);
    }
  }

 private:
  struct Txn {
    int64_t checkpoint = 0;
    int64_t run = 0;
    int64_t seq = 0;
    std::vector<std::string> rows;
  };
  void stage(int64_t id) {
    if (open_.empty()) return;
    staged_.push_back(Txn{id, run_, nextSeq_++, std::move(open_)});
    open_.clear();
  }
  std::shared_ptr<CommitLog> log_;
  static inline std::atomic<int64_t> nextRun{1};
  int subtask_ = 0;
  int64_t run_ = 0;
  bool checkpointing_ = false;
  std::vector<std::string> open_;
  std::vector<Txn> staged_;
  int64_t nextSeq_ = 0;
};

/// Holds sources at a position until the test opens it (or 60 s pass: tests never hang).
struct Gate {
  int64_t at = INT64_MAX;
  std::atomic<bool> open{true};
  std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();
  bool closedAt(int64_t position) const {
    return position >= at && !open.load() && std::chrono::steady_clock::now() - created < std::chrono::seconds(60);
  }
};

/// Emits [begin, end) in batches of 64, pausing between batches so that a run spans many
/// checkpoints, and waiting at the gate. Subtask s of P emits the values ≡ s (mod P).
class PacedSource final : public SourceFunction<int64_t> {
 public:
  PacedSource(int64_t begin, int64_t end, std::chrono::microseconds pause, std::shared_ptr<Gate> gate)
      : begin_(begin), end_(end), pause_(pause), gate_(std::move(gate)) {}
  Status open(const OperatorContext& ctx) override {
    next_ = begin_ + ctx.subtask;
    stride_ = ctx.parallelism;
    return Status::ok();
  }
  SourceOperator::Poll poll(RecordBatch<int64_t>& out, size_t) override {
    if (gate_->closedAt(next_)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return SourceOperator::Poll::kMore;
    }
    for (int i = 0; i < 64 && next_ < end_; ++i, next_ += stride_) out.records.push_back(next_);
    if (pause_.count() > 0) std::this_thread::sleep_for(pause_);
    return next_ < end_ ? SourceOperator::Poll::kMore : SourceOperator::Poll::kEnd;
  }
  Status snapshotPosition(std::string& out) const override {
    Serde<int64_t>::write(next_, out);
    return Status::ok();
  }
  Status restorePosition(std::string_view in) override {
    if (!Serde<int64_t>::read(in, next_) || !in.empty()) return Status::corruption("bad paced source position");
    return Status::ok();
  }

 private:
  int64_t begin_, end_;
  std::chrono::microseconds pause_;
  std::shared_ptr<Gate> gate_;
  int64_t next_ = 0;
  int64_t stride_ = 1;
};

/// Per key (x mod 7): the running count, emitted as "key#count" for every record.
struct RunningCount {
  ValueState<int64_t, int64_t> n;
  void open(KeyedStateRegistry<int64_t>& r) { n = r.valueState<int64_t>("n"); }
  void processElement(const int64_t&, KeyedContext<int64_t, std::string>& ctx) {
    ctx.emit(std::to_string(ctx.currentKey()) + "#" + std::to_string(++n.getOrCreate()));
  }
};

/// The key of record x: x mod 7 (few keys, all changing all the time), or x / keyDiv (new keys
/// keep coming and old ones stop changing, as with q18's bidder/auction pairs).
int64_t keyOf(int64_t x, int64_t keyDiv) { return keyDiv > 0 ? x / keyDiv : x % 7; }

std::vector<std::string> expectedCounts(int64_t n, int64_t keyDiv = 0) {
  std::map<int64_t, int64_t> counts;
  std::vector<std::string> out;
  for (int64_t x = 0; x < n; ++x) {
    const int64_t k = keyOf(x, keyDiv);
    out.push_back(std::to_string(k) + "#" + std::to_string(++counts[k]));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

struct TempDir {
  TempDir() {
    path = (fs::temp_directory_path() / ("reka-ckpt-" + std::to_string(::getpid()) + "-" + std::to_string(counter++))).string();
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
  static inline std::atomic<int> counter{0};
};

/// The log lines written while it lives, as the JSON format writes them (the default sink is
/// back at its end).
class CapturedLog {
 public:
  CapturedLog() {
    setLogSink([this](const LogRecord& r) {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.push_back(formatLogRecord(r, LogFormat::kJson));
    });
  }
  ~CapturedLog() { setLogSink(nullptr); }
  /// The lines that contain `text`.
  std::vector<std::string> with(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> found;
    for (const auto& l : lines_)
      if (l.find(text) != std::string::npos) found.push_back(l);
    return found;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

/// Fails the record `failAt` once per process-wide flag (the first run that sees it).
struct FailOnce {
  std::shared_ptr<std::atomic<bool>> armed;
  int64_t failAt;
  int64_t operator()(int64_t x) const {
    if (x == failAt && armed->exchange(false)) throw std::runtime_error("injected failure at " + std::to_string(x));
    return x;
  }
};

struct JobSpec {
  int64_t records = 20000;
  int parallelism = 1;
  std::chrono::microseconds pause{200};
  std::shared_ptr<std::atomic<bool>> failArmed = std::make_shared<std::atomic<bool>>(false);
  int64_t failAt = -1;
  int64_t keyDiv = 0;  ///< see keyOf
  bool rocksdb = false;  ///< keyed state in RocksDB (native, shared-file checkpoints)
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  /// Closes the gate at `at`: the sources wait there until open() (a run that must not end).
  JobSpec& holdAt(int64_t at) {
    gate = std::make_shared<Gate>();
    gate->at = at;
    gate->open = false;
    return *this;
  }
};

/// The parallelism, threads, watermarks and backend of a test job built from `spec`.
void configureJob(StreamEnvironment& env, const JobSpec& spec) {
  env.config().parallelism = spec.parallelism;
  env.config().workerThreads = 2;
  env.config().watermarkInterval = std::chrono::milliseconds(0);
  if (spec.rocksdb) {
    env.config().stateBackend.kind = StateBackendConfig::Kind::kRocksDb;
    env.config().stateBackend.rocksdb.blockCacheBytes = 8 << 20;
    env.config().stateBackend.rocksdb.writeBufferBytes = 8 << 20;
  }
}

/// source (P) → rebalance → fail-once map → keyBy(x mod 7) → running count → 2PC sink.
void buildJob(StreamEnvironment& env, const JobSpec& spec, std::shared_ptr<CommitLog> log) {
  configureJob(env, spec);
  const int64_t n = spec.records;
  const auto pause = spec.pause;
  const int64_t keyDiv = spec.keyDiv;
  auto gate = spec.gate;
  env.addSource<int64_t>("paced", [n, pause, gate] { return std::make_unique<PacedSource>(0, n, pause, gate); })
      .rebalance()
      .map("fail-once", FailOnce{spec.failArmed, spec.failAt})
      .keyBy([keyDiv](int64_t x) { return keyOf(x, keyDiv); })
      .process<std::string>("count", RunningCount{})
      .sink("2pc", TwoPhaseSink(log));
}

CheckpointConfig checkpoints(const std::string& dir, int intervalMs = 10) {
  CheckpointConfig c;
  c.stateDir = dir;
  c.interval = std::chrono::milliseconds(intervalMs);
  return c;
}

/// Waits until the job has completed `n` checkpoints (bounded; false on timeout or if it ended).
bool awaitCheckpoints(JobClient& job, int64_t n, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (job.metrics().completedCheckpoints >= n) return true;
    if (job.waitFor(std::chrono::milliseconds(2))) return job.metrics().completedCheckpoints >= n;
  }
  return false;
}

/// Lets a job built from `spec`, which fails once at spec.failAt, run to its end: the failure
/// came, the job restarted once, and every count was committed exactly once.
void expectOneRestartAndExactCounts(const JobSpec& spec, JobClient& job, CommitLog& log, int p) {
  spec.gate->open = true;
  Status s = awaitJob(job);
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_FALSE(spec.failArmed->load()) << "the failure was not injected";
  EXPECT_EQ(job.metrics().restarts, 1);
  EXPECT_EQ(sorted(log.values()), expectedCounts(spec.records, spec.keyDiv)) << "p=" << p;
}

// The writer checksums the file as it goes (hashing each closed part while it is in the cache);
// the result must be the XXH3-64 of the whole file, padding before it excluded, even though
// length fields are patched after the bytes around them were written.
TEST(CheckpointTest, StateFileWriterChecksumIsTheXxh3OfTheWholeFile) {
  for (size_t padding : {size_t{0}, size_t{13}, size_t{4096}}) {
    for (size_t blobBytes : {size_t{0}, size_t{1}, size_t{300}, size_t{1} << 20}) {
      SCOPED_TRACE("padding " + std::to_string(padding) + ", blob " + std::to_string(blobBytes));
      std::string out(padding, '\0');
      checkpoint::StateFileWriter w(out, 2, true, 7);
      for (int op = 0; op < 2; ++op) {
        // The layout Task::snapshotChain writes: one keyed table of three key groups, no
        // operator lists, then the operator's own blob.
        w.beginOperator(op, 0, "op" + std::to_string(op));
        w.u32(1);
        w.str("table");
        w.u32(3);
        for (int kg = 0; kg < 3; ++kg) {
          w.u32(static_cast<uint32_t>(kg));
          const size_t at = w.beginBytes();
          for (size_t i = 0; i < blobBytes; ++i) w.out().push_back(static_cast<char>((i * 31 + kg + op) & 0xff));
          w.endBytes(at);
        }
        w.u32(0);
        w.u8(1);
        const size_t at = w.beginBytes();
        w.str("operator blob");
        w.endBytes(at);
        w.native(nullptr);
      }
      const uint64_t got = w.finish();
      EXPECT_EQ(got, XXH3_64bits(out.data() + padding, out.size() - padding));
      // And the file decodes: the patched lengths are the ones that were hashed.
      checkpoint::DecodedStateFile decoded;
      Status s = checkpoint::decodeTaskSnapshot(std::string_view(out).substr(padding), decoded);
      ASSERT_TRUE(s.isOk()) << s.toString();
      ASSERT_EQ(decoded.operators.size(), 2u);
      EXPECT_EQ(decoded.baseId, 7);
      EXPECT_EQ(decoded.operators[1].keyed.at("table").at(2).size(), blobBytes);
    }
  }
}

TEST(CheckpointTest, CheckpointsCompleteWhileTheJobRunsAndOutputIsExact) {
  for (int p : {1, 3}) {
    TempDir dir;
    auto log = std::make_shared<CommitLog>();
    JobSpec spec;
    spec.parallelism = p;
    spec.holdAt(spec.records / 2);
    StreamEnvironment env;
    buildJob(env, spec, log);
    env.config().checkpoints = checkpoints(dir.path);
    auto job = env.executeAsync();
    ASSERT_TRUE(job.isOk()) << job.status().toString();
    ASSERT_TRUE(awaitCheckpoints(**job, 2));
    spec.gate->open = true;
    ASSERT_TRUE(awaitJob(**job).isOk());
    JobMetrics m = (*job)->metrics();
    EXPECT_GE(m.completedCheckpoints, 3) << "p=" << p;  // periodic ones plus the final one
    EXPECT_GT(m.largestCheckpointBytes, 0);  // the final one may write nothing new
    // Where checkpoints spent CPU: tasks copying state, the coordinator writing files.
    EXPECT_GT(m.checkpointCopyCpuMs, 0) << "p=" << p;
    EXPECT_GT(m.checkpointWriteCpuMs, 0) << "p=" << p;
    EXPECT_LE(m.longestDeltaCheckpointSyncMs, m.longestCheckpointSyncMs) << "p=" << p;
    EXPECT_EQ(sorted(log->values()), expectedCounts(spec.records)) << "p=" << p;
    // Layout: at most `retained` complete checkpoints, each with a manifest.
    int complete = 0;
    for (const auto& e : fs::directory_iterator(dir.path + "/checkpoints")) {
      if (fs::exists(e.path() / "MANIFEST")) ++complete;
    }
    EXPECT_GE(complete, 1);
    EXPECT_LE(complete, 3);
  }
}

TEST(CheckpointTest, FailureRestartsFromTheLastCheckpointWithoutLosingOrRepeatingRows) {
  for (bool aligned : {true}) {
    for (int p : {1, 2}) {
      TempDir dir;
      auto log = std::make_shared<CommitLog>();
      JobSpec spec;
      spec.parallelism = p;
      spec.failAt = 12345;
      spec.failArmed->store(true);
      spec.holdAt(12000);
      CapturedLog logs;
      StreamEnvironment env;
      buildJob(env, spec, log);
      env.config().jobName = "restarts";
      env.config().checkpoints = checkpoints(dir.path);
      env.config().checkpoints.guarantee = aligned ? DeliveryGuarantee::kExactlyOnce : DeliveryGuarantee::kAtLeastOnce;
      env.config().restart.maxAttempts = 2;
      env.config().restart.delay = std::chrono::milliseconds(5);
      auto job = env.executeAsync();
      ASSERT_TRUE(job.isOk());
      ASSERT_TRUE(awaitCheckpoints(**job, 2));  // the failure comes after some checkpoints
      expectOneRestartAndExactCounts(spec, **job, *log, p);
      EXPECT_GT((*job)->metrics().restoredCheckpointId, 0) << "p=" << p;
      // The log: created once, running once per run, the restart as a warning, checkpoints at info.
      const std::string ids = "\"job\":\"restarts\",\"job_id\":\"" + (*job)->metrics().jobId + "\"";
      EXPECT_EQ(logs.with("\"level\":\"info\",\"message\":\"job created\"," + ids).size(), 1u);
      EXPECT_EQ(logs.with("\"message\":\"job running: ").size(), 2u);
      const auto restarting = logs.with("\"level\":\"warn\",\"message\":\"job restarting (1 of 2 in 5 ms, from the last checkpoint): ");
      ASSERT_EQ(restarting.size(), 1u);
      EXPECT_THAT(restarting[0], ::testing::HasSubstr("injected failure at 12345"));
      EXPECT_THAT(restarting[0], ::testing::HasSubstr(ids));
      EXPECT_FALSE(logs.with("\"level\":\"info\",\"message\":\"checkpoint 1 completed (").empty());
    }
  }
}

TEST(CheckpointTest, AtLeastOnceLosesNothing) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  spec.parallelism = 2;
  spec.failAt = 9000;
  spec.failArmed->store(true);
  StreamEnvironment env;
  buildJob(env, spec, log);
  env.config().checkpoints = checkpoints(dir.path);
  env.config().checkpoints.guarantee = DeliveryGuarantee::kAtLeastOnce;
  env.config().restart.maxAttempts = 1;
  env.config().restart.delay = std::chrono::milliseconds(1);
  auto job = env.executeAsync();
  ASSERT_TRUE(job.isOk());
  ASSERT_TRUE(awaitJob(**job).isOk());
  // Every expected row is there (a row may be there twice).
  const auto rows = log->values();
  std::multiset<std::string> got(rows.begin(), rows.end());
  for (const auto& row : expectedCounts(spec.records)) ASSERT_TRUE(got.count(row) >= 1) << "lost " << row;
}

TEST(CheckpointTest, AtMostOnceNeverRepeatsARecordAfterARestart) {
  for (int p : {1, 2}) {
    TempDir dir;
    auto out = std::make_shared<testing::Collector<int64_t>>();
    auto armed = std::make_shared<std::atomic<bool>>(true);
    const int64_t n = 20000;
    StreamEnvironment env;
    env.config().parallelism = p;
    env.config().workerThreads = 2;
    env.config().checkpoints.stateDir = dir.path;
    env.config().checkpoints.guarantee = DeliveryGuarantee::kAtMostOnce;
    env.config().restart.maxAttempts = 1;
    env.config().restart.delay = std::chrono::milliseconds(1);
    // The source waits at 10000 until the failure (at 7777) has restarted the job, so that the
    // end of the input always comes after the restart, however slow the machine.
    auto gate = std::make_shared<Gate>();
    gate->at = 10000;
    gate->open = false;
    env.addSource<int64_t>("paced", [n, gate] { return std::make_unique<PacedSource>(0, n, std::chrono::microseconds(100), gate); })
        .rebalance()
        .map("fail-once", FailOnce{armed, 7777})
        .sink("collect", testing::collectInto(out));
    auto job = env.executeAsync();
    ASSERT_TRUE(job.isOk()) << job.status().toString();
    for (int i = 0; i < 6000 && (*job)->metrics().restarts < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    gate->open = true;
    ASSERT_TRUE(awaitJob(**job).isOk());
    EXPECT_FALSE(armed->load());
    EXPECT_EQ((*job)->metrics().restarts, 1);
    auto values = out->values();
    std::set<int64_t> unique(values.begin(), values.end());
    EXPECT_EQ(unique.size(), values.size()) << "a record was emitted twice, p=" << p;
    EXPECT_FALSE(unique.count(7777)) << "the record that failed cannot have been delivered";
    // The restart went on from the logged positions, not from the start: the end is there.
    EXPECT_TRUE(unique.count(n - 1));
    EXPECT_TRUE(fs::exists(dir.path + "/positions/0-0.pos"));
  }
}

TEST(CheckpointTest, WithoutRestartPolicyTheFailureIsFinalAndNamesTheOperator) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  spec.failAt = 5000;
  spec.failArmed->store(true);
  StreamEnvironment env;
  buildJob(env, spec, log);
  env.config().checkpoints = checkpoints(dir.path);
  auto job = env.executeAsync();
  ASSERT_TRUE(job.isOk());
  Status s = awaitJob(**job);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("fail-once"), std::string::npos) << s.message();
  // What was committed is a prefix of each key's counts: nothing repeated.
  auto rows = log->values();
  std::set<std::string> unique(rows.begin(), rows.end());
  EXPECT_EQ(unique.size(), rows.size());
  // A second run resumes and completes the output exactly.
  StreamEnvironment env2;
  buildJob(env2, spec, log);
  env2.config().checkpoints = checkpoints(dir.path);
  auto job2 = env2.executeAsync();
  ASSERT_TRUE(job2.isOk());
  ASSERT_TRUE(awaitJob(**job2).isOk());
  EXPECT_EQ(sorted(log->values()), expectedCounts(spec.records));
}

/// State of a type without a Serde specialisation.
struct Opaque {
  int64_t n = 0;
};
struct OpaqueCount {
  ValueState<int64_t, Opaque> n;
  void open(KeyedStateRegistry<int64_t>& r) { n = r.valueState<Opaque>("opaque"); }
  void processElement(const int64_t&, KeyedContext<int64_t, std::string>& ctx) {
    ctx.emit(std::to_string(ctx.currentKey()) + "#" + std::to_string(++n.getOrCreate().n));
  }
};

TEST(CheckpointTest, StateWithoutSerdeStopsAJobWithCheckpointsAtItsStart) {
  auto build = [](StreamEnvironment& env, std::shared_ptr<testing::Collector<std::string>> out) {
    env.addSource<int64_t>("paced", [] { return std::make_unique<PacedSource>(0, 1000, std::chrono::microseconds(0), std::make_shared<Gate>()); })
        .keyBy([](int64_t x) { return x % 7; })
        .process<std::string>("opaque-count", OpaqueCount{})
        .sink("collect", testing::collectInto(out));
  };
  {
    // Without checkpoints the state needs no serializer.
    StreamEnvironment env;
    auto out = std::make_shared<testing::Collector<std::string>>();
    build(env, out);
    ASSERT_TRUE(testing::runJob(env).isOk());
    EXPECT_EQ(sorted(out->values()), expectedCounts(1000));
  }
  TempDir dir;
  StreamEnvironment env;
  auto out = std::make_shared<testing::Collector<std::string>>();
  build(env, out);
  env.config().checkpoints = checkpoints(dir.path, 1000);
  // The job does not start: executeAsync() returns the error.
  auto job = env.executeAsync();
  ASSERT_FALSE(job.isOk());
  const Status& s = job.status();
  EXPECT_EQ(s.code(), StatusCode::kNotSupported) << s.toString();
  EXPECT_NE(s.message().find("opening operator 'opaque-count (1/2)' failed: keyed state 'opaque-count/opaque' has a key or value type without a Serde"),
            std::string::npos)
      << s.message();
  EXPECT_TRUE(out->values().empty());
}

TEST(CheckpointTest, CancelledJobResumesFromItsLatestCheckpoint) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  spec.parallelism = 2;
  spec.holdAt(spec.records / 2);
  {
    StreamEnvironment env;
    buildJob(env, spec, log);
    env.config().checkpoints = checkpoints(dir.path);
    auto job = env.executeAsync();
    ASSERT_TRUE(job.isOk());
    ASSERT_TRUE(awaitCheckpoints(**job, 2));
    (*job)->cancel();  // like a crash: what was staged after the last checkpoint is lost
    (void)(*job)->wait();
  }
  EXPECT_LT(log->values().size(), static_cast<size_t>(spec.records));
  spec.gate->open = true;
  StreamEnvironment env;
  buildJob(env, spec, log);
  env.config().checkpoints = checkpoints(dir.path);
  auto job = env.executeAsync();
  ASSERT_TRUE(job.isOk());
  ASSERT_TRUE(awaitJob(**job).isOk());
  EXPECT_GT((*job)->metrics().restoredCheckpointId, 0);
  EXPECT_EQ(sorted(log->values()), expectedCounts(spec.records));
  // Starting again after the end resumes from the final checkpoint and adds nothing.
  StreamEnvironment again;
  buildJob(again, spec, log);
  again.config().checkpoints = checkpoints(dir.path);
  ASSERT_TRUE(testing::runJob(again).isOk());
  EXPECT_EQ(sorted(log->values()), expectedCounts(spec.records));
}

TEST(CheckpointTest, StopWithSavepointThenResume) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  spec.parallelism = 2;
  spec.holdAt(spec.records / 2);
  std::string savepointDir;
  {
    StreamEnvironment env;
    buildJob(env, spec, log);
    env.config().checkpoints = checkpoints(dir.path, 0);  // no periodic checkpoints
    auto job = env.executeAsync();
    ASSERT_TRUE(job.isOk());
    for (int i = 0; i < 6000 && (*job)->metrics().sourceRecords < spec.records / 4; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto sp = (*job)->savepoint(true, std::chrono::seconds(60));
    ASSERT_TRUE(sp.isOk()) << sp.status().toString();
    savepointDir = *sp;
    Status s = awaitJob(**job);
    EXPECT_EQ(s.code(), StatusCode::kCancelled) << s.toString();
  }
  EXPECT_NE(savepointDir.find("/savepoints/sp-"), std::string::npos);
  EXPECT_TRUE(fs::exists(savepointDir + "/MANIFEST"));
  const size_t before = log->values().size();
  EXPECT_GT(before, 0u);
  EXPECT_LT(before, static_cast<size_t>(spec.records));
  spec.gate->open = true;
  StreamEnvironment env;
  buildJob(env, spec, log);
  env.config().checkpoints = checkpoints(dir.path, 0);
  env.config().checkpoints.resumeFrom = savepointDir;
  log->takeSnapshotIds();
  ASSERT_TRUE(testing::runJob(env).isOk());
  EXPECT_EQ(sorted(log->values()), expectedCounts(spec.records));
  // Without periodic checkpoints the resumed run snapshots only at the end of its input: not
  // the savepoint's barrier again as it starts.
  EXPECT_EQ(log->takeSnapshotIds(), std::vector<int64_t>(2, 0));
}

TEST(CheckpointTest, SavepointWithoutStateDirectoryIsRefused) {
  StreamEnvironment env;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  buildJob(env, spec, log);
  auto job = env.executeAsync();
  ASSERT_TRUE(job.isOk());
  auto sp = (*job)->savepoint(false, std::chrono::seconds(1));
  EXPECT_EQ(sp.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(sp.status().message().find("state directory"), std::string::npos);
  (*job)->cancel();
  (void)(*job)->wait();
}

// --- Corrupt and failing storage -------------------------------------------------------------

/// Runs the job until `n` checkpoints are complete, then cancels it (a crash).
void runUntilCheckpoints(const std::string& dir, JobSpec spec, std::shared_ptr<CommitLog> log, int64_t n) {
  spec.holdAt(spec.records / 2);
  StreamEnvironment env;
  buildJob(env, spec, log);
  env.config().checkpoints = checkpoints(dir);
  auto job = env.executeAsync();
  ASSERT_TRUE(job.isOk());
  ASSERT_TRUE(awaitCheckpoints(**job, n));
  (*job)->cancel();
  (void)(*job)->wait();
}

/// Every expected row is there; with `exact`, each exactly once.
void expectNoLoss(const std::vector<std::string>& rows, int64_t records, bool exact) {
  std::multiset<std::string> got(rows.begin(), rows.end());
  for (const auto& row : expectedCounts(records)) ASSERT_GE(got.count(row), 1u) << "lost " << row;
  if (exact) {
    EXPECT_EQ(rows.size(), static_cast<size_t>(records));
  }
}

std::vector<fs::path> completeCheckpoints(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir + "/checkpoints"))
    if (fs::exists(e.path() / "MANIFEST")) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(CheckpointTest, CorruptOrTruncatedNewestCheckpointFallsBackToThePreviousOne) {
  for (int damage = 0; damage < 3; ++damage) {  // flipped byte, truncated file, missing manifest
    TempDir dir;
    auto log = std::make_shared<CommitLog>();
    JobSpec spec;
    runUntilCheckpoints(dir.path, spec, log, 3);
    auto chks = completeCheckpoints(dir.path);
    ASSERT_GE(chks.size(), 2u);
    const fs::path newest = chks.back();
    const fs::path file = newest / "task-0.state";
    if (damage == 0) {
      std::FILE* f = std::fopen(file.c_str(), "r+b");
      ASSERT_NE(f, nullptr);
      std::fseek(f, 20, SEEK_SET);
      int c = std::fgetc(f);
      std::fseek(f, 20, SEEK_SET);
      std::fputc(c ^ 0x5a, f);
      std::fclose(f);
    } else if (damage == 1) {
      fs::resize_file(file, fs::file_size(file) / 2);
    } else {
      fs::remove(newest / "MANIFEST");  // an attempt that never completed
    }
    checkpoint::CheckpointStorage storage(dir.path, nullptr);
    std::vector<std::string> logged;
    auto latest = storage.loadLatest([&](const std::string& l) { logged.push_back(l); });
    ASSERT_TRUE(latest.isOk()) << latest.status().toString();
    ASSERT_TRUE(latest->has_value());
    EXPECT_EQ(fs::path((*latest)->directory), chks[chks.size() - 2]) << "damage " << damage;
    if (damage < 2) {
      ASSERT_EQ(logged.size(), 1u);
      EXPECT_NE(logged[0].find(damage == 0 ? "checksum mismatch" : "truncated"), std::string::npos) << logged[0];
      EXPECT_NE(logged[0].find("falling back"), std::string::npos);
    } else {
      EXPECT_TRUE(logged.empty());  // not a checkpoint at all: skipped silently
    }
    // The job resumes from the older checkpoint: nothing is lost. Rows that the damaged
    // checkpoint had already committed may be repeated (the log line says so).
    StreamEnvironment env;
    buildJob(env, spec, log);
    env.config().checkpoints = checkpoints(dir.path);
    ASSERT_TRUE(testing::runJob(env).isOk());
    expectNoLoss(log->values(), spec.records, false);
  }
}

TEST(CheckpointTest, NoUsableCheckpointIsAnErrorNotAFreshStart) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  runUntilCheckpoints(dir.path, spec, log, 2);
  for (const auto& chk : completeCheckpoints(dir.path)) fs::resize_file(chk / "task-0.state", 3);
  StreamEnvironment env;
  buildJob(env, spec, log);
  env.config().checkpoints = checkpoints(dir.path);
  auto job = env.executeAsync();
  ASSERT_FALSE(job.isOk());
  EXPECT_EQ(job.status().code(), StatusCode::kCorruption);
  EXPECT_NE(job.status().message().find("no usable checkpoint"), std::string::npos) << job.status().message();
}

TEST(CheckpointTest, CheckpointOfADifferentJobIsRefused) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  runUntilCheckpoints(dir.path, spec, log, 1);
  {
    // Same operators, other parallelism: the source keeps its position in state of its own,
    // which cannot be split between subtasks (keyed and operator-list state could be).
    JobSpec rescaled = spec;
    rescaled.parallelism = 2;
    StreamEnvironment env;
    buildJob(env, rescaled, log);
    env.config().checkpoints = checkpoints(dir.path);
    auto job = env.executeAsync();
    ASSERT_FALSE(job.isOk());
    EXPECT_NE(job.status().message().find("keeps state of its own (18 bytes) that cannot be redistributed: restore it at parallelism 1"),
              std::string::npos)
        << job.status().message();
  }
  // Other operators: refused as another job's checkpoint.
  StreamEnvironment env;
  env.fromCollection("other", std::vector<int>{1, 2, 3}).sink("discard", [](const int&) {});
  env.config().checkpoints = checkpoints(dir.path);
  auto job = env.executeAsync();
  ASSERT_FALSE(job.isOk());
  EXPECT_NE(job.status().message().find("has state of operators this job does not have (uids"), std::string::npos) << job.status().message();
}

/// source → [a new filter] → keyBy(x mod 7) → running count, uid "count" (named "running count"
/// in the changed job) → 2PC sink: a job whose operators change between a savepoint and its
/// restore while the count keeps its uid.
void buildCountJob(StreamEnvironment& env, const JobSpec& spec, std::shared_ptr<CommitLog> log, bool changed) {
  configureJob(env, spec);
  const int64_t n = spec.records;
  auto gate = spec.gate;
  DataStream<int64_t> in = env.addSource<int64_t>("paced", [n, gate] {
    return std::make_unique<PacedSource>(0, n, std::chrono::microseconds(200), gate);
  });
  if (changed) in = in.filter("added", [](int64_t) { return true; });
  in.keyBy([](int64_t x) { return x % 7; })
      .process<std::string>(changed ? "running count" : "count", RunningCount{})
      .uid("count")
      .sink("2pc", TwoPhaseSink(log));
}

/// Runs the count job to a savepoint at half its input; returns the savepoint's directory.
std::string savepointAtHalf(const std::string& dir, JobSpec& spec, std::shared_ptr<CommitLog> log) {
  spec.holdAt(spec.records / 2);
  StreamEnvironment env;
  buildCountJob(env, spec, log, false);
  env.config().checkpoints = checkpoints(dir, 0);
  auto job = env.executeAsync();
  if (!job.isOk()) return "";
  for (int i = 0; i < 6000 && (*job)->metrics().sourceRecords < spec.records / 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto sp = (*job)->savepoint(true, std::chrono::seconds(60));
  (void)awaitJob(**job);
  return sp.isOk() ? *sp : "";
}

TEST(CheckpointTest, ASavepointRestoresByUidIntoAJobWhoseOperatorsChanged) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  const std::string savepoint = savepointAtHalf(dir.path, spec, log);
  ASSERT_FALSE(savepoint.empty());
  // A new operator before the count, and the count renamed: its state is found by its uid, the
  // new filter starts empty, and every running count continues exactly where it was.
  spec.gate->open = true;
  StreamEnvironment env;
  buildCountJob(env, spec, log, true);
  env.config().checkpoints = checkpoints(dir.path, 0);
  env.config().checkpoints.resumeFrom = savepoint;
  CapturedLog captured;
  const Status s = testing::runJob(env);
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_EQ(sorted(log->values()), expectedCounts(spec.records));
  EXPECT_EQ(captured.with("has no state of 'added': they start empty").size(), 1u);
}

TEST(CheckpointTest, StateOfARemovedOperatorIsRefusedUnlessAllowedToBeDropped) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  const std::string savepoint = savepointAtHalf(dir.path, spec, log);
  ASSERT_FALSE(savepoint.empty());
  auto build = [&](StreamEnvironment& env, bool allow) {
    configureJob(env, spec);
    env.addSource<int64_t>("paced", [n = spec.records] { return std::make_unique<PacedSource>(0, n, std::chrono::microseconds(0), std::make_shared<Gate>()); })
        .map("as text", [](int64_t x) { return std::to_string(x); })
        .sink("2pc", TwoPhaseSink(std::make_shared<CommitLog>()));
    env.config().checkpoints = checkpoints(dir.path, 0);
    env.config().checkpoints.resumeFrom = savepoint;
    env.config().checkpoints.allowNonRestoredState = allow;
  };
  StreamEnvironment refused;
  build(refused, false);
  auto job = refused.executeAsync();
  ASSERT_FALSE(job.isOk());
  EXPECT_NE(job.status().message().find("has state of operators this job does not have (uids 'count';"), std::string::npos)
      << job.status().message();
  EXPECT_NE(job.status().message().find("--allow-non-restored-state"), std::string::npos) << job.status().message();
  StreamEnvironment allowed;
  build(allowed, true);
  Status s = testing::runJob(allowed);
  EXPECT_TRUE(s.isOk()) << s.toString();
}

TEST(CheckpointTest, TwoOperatorsWithOneUidAreRefused) {
  StreamEnvironment env;
  env.fromCollection("numbers", std::vector<int>{1, 2}).uid("x").map("twice", [](int v) { return 2 * v; }).uid("x").sink("out", [](const int&) {});
  Status s = testing::runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("two operators have uid 'x'"), std::string::npos) << s.message();
}

/// Injects faults into the checkpoint file system: the next `failWrites` state-file writes fail;
/// with `diskBytes` >= 0 writes beyond that many bytes fail with "No space left on device"
/// after writing what fits (a partial file); `tearWrites` state files are silently written
/// half (a torn write that reports success).
class FaultyFileSystem final : public CheckpointFileSystem {
 public:
  std::atomic<int> failWrites{0};
  std::atomic<int> tearWrites{0};
  std::atomic<int64_t> diskBytes{-1};
  std::atomic<int> failures{0};

  Status makeDirs(const std::string& p) override { return real_->makeDirs(p); }
  Status writeFile(const std::string& p, std::string_view data) override {
    const bool stateFile = p.find(".state") != std::string::npos;
    if (stateFile && failWrites.load() > 0) {
      --failWrites;
      ++failures;
      return Status::ioError("injected write failure on " + p);
    }
    int64_t budget = diskBytes.load();
    if (budget >= 0) {
      if (static_cast<int64_t>(data.size()) > budget) {
        (void)real_->writeFile(p, data.substr(0, static_cast<size_t>(budget)));
        diskBytes.store(0);
        ++failures;
        return Status::ioError("cannot write " + p + ": No space left on device");
      }
      diskBytes.store(budget - static_cast<int64_t>(data.size()));
    }
    if (stateFile && tearWrites.load() > 0) {
      --tearWrites;
      return real_->writeFile(p, data.substr(0, data.size() / 2));
    }
    return real_->writeFile(p, data);
  }
  Result<std::string> readFile(const std::string& p) override { return real_->readFile(p); }
  Status rename(const std::string& a, const std::string& b) override { return real_->rename(a, b); }
  Result<std::vector<std::string>> list(const std::string& p) override { return real_->list(p); }
  bool exists(const std::string& p) override { return real_->exists(p); }
  Status removeAll(const std::string& p) override { return real_->removeAll(p); }

 private:
  std::shared_ptr<CheckpointFileSystem> real_ = localFileSystem();
};

TEST(CheckpointTest, WriteFailuresAbortCheckpointsAndTheJobGoesOn) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  auto faulty = std::make_shared<FaultyFileSystem>();
  faulty->failWrites = 3;
  JobSpec spec;
  spec.holdAt(spec.records / 2);
  CapturedLog logs;
  StreamEnvironment env;
  buildJob(env, spec, log);
  env.config().checkpoints = checkpoints(dir.path);
  env.config().checkpoints.fileSystem = faulty;
  auto job = env.executeAsync();
  ASSERT_TRUE(job.isOk());
  ASSERT_TRUE(awaitCheckpoints(**job, 1));  // only after the three failed ones
  // Each failure is a warning line that says why.
  const auto failed = logs.with("\"level\":\"warn\",\"message\":\"checkpoint ");
  ASSERT_EQ(failed.size(), 3u);
  for (const auto& line : failed) EXPECT_THAT(line, ::testing::ContainsRegex("checkpoint [0-9]+ failed: .*injected write failure"));
  spec.gate->open = true;
  ASSERT_TRUE(awaitJob(**job).isOk());
  JobMetrics m = (*job)->metrics();
  EXPECT_EQ(faulty->failures.load(), 3);
  EXPECT_EQ(m.failedCheckpoints, 3);
  EXPECT_GE(m.completedCheckpoints, 1);
  EXPECT_EQ(sorted(log->values()), expectedCounts(spec.records));
  // No directory of a failed attempt is left behind as a checkpoint: every complete one reads
  // back whole (the final one may only refer to earlier files: the tasks had finished).
  checkpoint::CheckpointStorage storage(dir.path, nullptr);
  for (const auto& chk : completeCheckpoints(dir.path)) EXPECT_TRUE(storage.load(chk.string()).isOk()) << chk;
}

TEST(CheckpointTest, FullDiskFailsTheFinalCheckpointAndNothingIsRepeatedAfterwards) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  auto faulty = std::make_shared<FaultyFileSystem>();
  JobSpec spec;
  spec.holdAt(spec.records / 2);
  {
    StreamEnvironment env;
    buildJob(env, spec, log);
    // 50 ms between checkpoints: failed checkpoints follow each other one interval apart, and at
    // 10 ms the source's snapshots of them could take all its time in a slow (TSan) build, so
    // that it never reached its end (a hang seen in 1 run of 4).
    env.config().checkpoints = checkpoints(dir.path, 50);
    env.config().checkpoints.fileSystem = faulty;
    auto job = env.executeAsync();
    ASSERT_TRUE(job.isOk());
    ASSERT_TRUE(awaitCheckpoints(**job, 2));
    faulty->diskBytes = 100;  // the disk fills up
    spec.gate->open = true;
    Status s = awaitJob(**job);
    ASSERT_FALSE(s.isOk());
    EXPECT_NE(s.message().find("final checkpoint"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("No space left"), std::string::npos) << s.message();
    EXPECT_GT((*job)->metrics().failedCheckpoints, 0);
  }
  auto rows = log->values();
  EXPECT_EQ(std::set<std::string>(rows.begin(), rows.end()).size(), rows.size());
  // Space is freed; the next run resumes from the last good checkpoint and completes exactly.
  StreamEnvironment env;
  buildJob(env, spec, log);
  env.config().checkpoints = checkpoints(dir.path);
  ASSERT_TRUE(testing::runJob(env).isOk());
  EXPECT_EQ(sorted(log->values()), expectedCounts(spec.records));
}

TEST(CheckpointTest, TornWriteIsCaughtOnRestore) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  auto faulty = std::make_shared<FaultyFileSystem>();
  JobSpec spec;
  spec.holdAt(spec.records / 2);
  {
    StreamEnvironment env;
    buildJob(env, spec, log);
    env.config().checkpoints = checkpoints(dir.path);
    env.config().checkpoints.fileSystem = faulty;
    auto job = env.executeAsync();
    ASSERT_TRUE(job.isOk());
    ASSERT_TRUE(awaitCheckpoints(**job, 2));
    faulty->tearWrites = 1000;  // from now on every state file is torn, yet reported written
    const int64_t before = (*job)->metrics().completedCheckpoints;
    ASSERT_TRUE(awaitCheckpoints(**job, before + 1));
    (*job)->cancel();
    (void)(*job)->wait();
  }
  std::vector<std::string> logged;
  checkpoint::CheckpointStorage storage(dir.path, nullptr);
  auto latest = storage.loadLatest([&](const std::string& l) { logged.push_back(l); });
  ASSERT_TRUE(latest.isOk()) << latest.status().toString();
  ASSERT_FALSE(logged.empty());
  EXPECT_NE(logged[0].find("truncated"), std::string::npos) << logged[0];
  spec.gate->open = true;
  StreamEnvironment env;
  buildJob(env, spec, log);
  env.config().checkpoints = checkpoints(dir.path);
  ASSERT_TRUE(testing::runJob(env).isOk());
  expectNoLoss(log->values(), spec.records, false);
}

TEST(CheckpointTest, ConfigErrorsSayWhatIsAccepted) {
  ExecutionConfig c;
  c.checkpoints.interval = std::chrono::milliseconds(100);
  EXPECT_NE(c.validate().message().find("state directory"), std::string::npos);
  c.checkpoints.stateDir = "/tmp/x";
  c.checkpoints.retained = 0;
  EXPECT_NE(c.validate().message().find("retained"), std::string::npos);
  ExecutionConfig r;
  r.restart.maxAttempts = 3;
  EXPECT_NE(r.validate().message().find("state directory"), std::string::npos);
}


// ---- Incremental checkpoints ----

std::string readAll(const fs::path& p) {
  std::string out;
  std::FILE* f = std::fopen(p.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

/// The sibling checkpoint directories a manifest refers to ("../chk-<digits>/...").
std::set<std::string> sharedDirectories(const fs::path& checkpointDir) {
  const std::string m = readAll(checkpointDir / "MANIFEST");
  std::set<std::string> dirs;
  for (size_t at = m.find("../chk-"); at != std::string::npos; at = m.find("../chk-", at + 1)) {
    const size_t slash = m.find('/', at + 3);
    if (slash != std::string::npos) dirs.insert(m.substr(at + 3, slash - at - 3));
  }
  return dirs;
}

/// Opens the gate and runs the job again on `dir` to the end: the committed output must then
/// be exactly the expected one.
void resumeToTheEndExactly(const std::string& dir, const JobSpec& spec, std::shared_ptr<CommitLog> log) {
  spec.gate->open = true;
  StreamEnvironment env;
  buildJob(env, spec, log);
  env.config().checkpoints = checkpoints(dir);
  ASSERT_TRUE(testing::runJob(env).isOk());
  EXPECT_EQ(sorted(log->values()), expectedCounts(spec.records, spec.keyDiv));
}

TEST(CheckpointTest, IncrementalCheckpointsShareFilesAndARestartReplaysTheChainExactly) {
  for (int p : {1, 2}) {
    TempDir dir;
    auto log = std::make_shared<CommitLog>();
    JobSpec spec;
    spec.parallelism = p;
    spec.keyDiv = 40;  // new keys keep coming: deltas stay small and chains grow
    spec.failAt = 15001;
    spec.failArmed->store(true);
    spec.holdAt(12000);
    StreamEnvironment env;
    buildJob(env, spec, log);
    env.config().checkpoints = checkpoints(dir.path);
    env.config().restart.maxAttempts = 1;
    env.config().restart.delay = std::chrono::milliseconds(5);
    auto job = env.executeAsync();
    ASSERT_TRUE(job.isOk());
    ASSERT_TRUE(awaitCheckpoints(**job, 5));
    JobMetrics before = (*job)->metrics();
    EXPECT_GT(before.deltaTaskSnapshots, 0) << "p=" << p;
    EXPECT_GT(before.fullTaskSnapshots, 0) << "p=" << p;  // the first checkpoint is full
    // The newest checkpoint refers to files of earlier ones, and every one it needs is there.
    auto chks = completeCheckpoints(dir.path);
    ASSERT_FALSE(chks.empty());
    const auto shared = sharedDirectories(chks.back());
    EXPECT_FALSE(shared.empty()) << "p=" << p;
    for (const auto& d : shared) EXPECT_TRUE(fs::exists(fs::path(dir.path) / "checkpoints" / d)) << d;
    checkpoint::CheckpointStorage storage(dir.path, nullptr);
    auto data = storage.load(chks.back().string());
    ASSERT_TRUE(data.isOk()) << data.status().toString();
    size_t deltas = 0;
    for (const auto& [key, op] : data->operators) deltas += op.keyedDeltas.size();
    EXPECT_GT(deltas, 0u) << "p=" << p;
    // The failure comes after more (incremental) checkpoints; the restart restores a chain.
    expectOneRestartAndExactCounts(spec, **job, *log, p);
  }
}

TEST(CheckpointTest, PruningKeepsExactlyTheFilesRetainedCheckpointsStillRead) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  spec.keyDiv = 40;
  spec.holdAt(spec.records / 2);
  StreamEnvironment env;
  buildJob(env, spec, log);
  env.config().checkpoints = checkpoints(dir.path);
  env.config().checkpoints.retained = 1;
  auto job = env.executeAsync();
  ASSERT_TRUE(job.isOk());
  ASSERT_TRUE(awaitCheckpoints(**job, 8));
  (*job)->cancel();
  (void)(*job)->wait();
  auto chks = completeCheckpoints(dir.path);
  ASSERT_EQ(chks.size(), 1u);
  // On disk: the retained checkpoint plus the directories its chains refer to, and only the
  // files of those that it reads (each retired directory lost its manifest).
  std::set<std::string> expected = sharedDirectories(chks.back());
  EXPECT_FALSE(expected.empty());
  expected.insert(chks.back().filename().string());
  std::set<std::string> present;
  for (const auto& e : fs::directory_iterator(dir.path + "/checkpoints")) {
    const std::string name = e.path().filename().string();
    // The attempt after the newest complete one may be in progress when the job was cancelled.
    if (!fs::exists(e.path() / "MANIFEST") && name > chks.back().filename().string()) continue;
    present.insert(name);
  }
  EXPECT_EQ(present, expected);
  checkpoint::CheckpointStorage storage(dir.path, nullptr);
  auto data = storage.load(chks.back().string());
  ASSERT_TRUE(data.isOk()) << data.status().toString();
  // Resuming from it completes the output exactly.
  resumeToTheEndExactly(dir.path, spec, log);
}

TEST(CheckpointTest, WithIncrementalOffEveryCheckpointIsFullAndSelfContained) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  spec.keyDiv = 40;
  spec.holdAt(spec.records / 2);
  StreamEnvironment env;
  buildJob(env, spec, log);
  env.config().checkpoints = checkpoints(dir.path);
  env.config().checkpoints.incremental = false;
  auto job = env.executeAsync();
  ASSERT_TRUE(job.isOk());
  ASSERT_TRUE(awaitCheckpoints(**job, 4));
  spec.gate->open = true;
  ASSERT_TRUE(awaitJob(**job).isOk());
  EXPECT_EQ((*job)->metrics().deltaTaskSnapshots, 0);
  for (const auto& chk : completeCheckpoints(dir.path)) EXPECT_TRUE(sharedDirectories(chk).empty()) << chk;
  EXPECT_EQ(sorted(log->values()), expectedCounts(spec.records, spec.keyDiv));
}

TEST(CheckpointTest, SavepointsAreFullEvenBetweenIncrementalCheckpoints) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  spec.parallelism = 2;
  spec.keyDiv = 40;
  spec.holdAt(spec.records / 2);
  std::string savepointDir;
  {
    StreamEnvironment env;
    buildJob(env, spec, log);
    env.config().checkpoints = checkpoints(dir.path);
    auto job = env.executeAsync();
    ASSERT_TRUE(job.isOk());
    ASSERT_TRUE(awaitCheckpoints(**job, 4));
    ASSERT_GT((*job)->metrics().deltaTaskSnapshots, 0);
    auto sp = (*job)->savepoint(true, std::chrono::seconds(60));
    ASSERT_TRUE(sp.isOk()) << sp.status().toString();
    savepointDir = *sp;
    (void)awaitJob(**job);
  }
  EXPECT_TRUE(sharedDirectories(savepointDir).empty());
  EXPECT_EQ(readAll(fs::path(savepointDir) / "MANIFEST").find(".."), std::string::npos);
  // The savepoint alone restores the job: remove every checkpoint first.
  fs::remove_all(dir.path + "/checkpoints");
  spec.gate->open = true;
  StreamEnvironment env;
  buildJob(env, spec, log);
  env.config().checkpoints = checkpoints(dir.path);
  env.config().checkpoints.resumeFrom = savepointDir;
  ASSERT_TRUE(testing::runJob(env).isOk());
  EXPECT_EQ(sorted(log->values()), expectedCounts(spec.records, spec.keyDiv));
}

TEST(CheckpointTest, ACorruptSharedFileMakesEveryCheckpointThatReadsItUnusable) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  spec.keyDiv = 40;
  runUntilCheckpoints(dir.path, spec, log, 5);
  auto chks = completeCheckpoints(dir.path);
  ASSERT_FALSE(chks.empty());
  const auto shared = sharedDirectories(chks.back());
  ASSERT_FALSE(shared.empty());
  // Damage the oldest file the newest checkpoint's chain starts from (its full snapshot).
  const fs::path base = fs::path(dir.path) / "checkpoints" / *shared.begin() / "task-0.state";
  ASSERT_TRUE(fs::exists(base));
  fs::resize_file(base, fs::file_size(base) - 1);
  checkpoint::CheckpointStorage storage(dir.path, nullptr);
  std::vector<std::string> logged;
  auto latest = storage.loadLatest([&](const std::string& l) { logged.push_back(l); });
  ASSERT_FALSE(logged.empty());
  EXPECT_NE(logged[0].find("../" + *shared.begin() + "/task-0.state"), std::string::npos) << logged[0];
  EXPECT_NE(logged[0].find("truncated"), std::string::npos) << logged[0];
  if (latest.isOk() && latest->has_value()) {
    // A checkpoint whose chain does not read the damaged file is still usable.
    EXPECT_EQ(sharedDirectories((*latest)->directory).count(*shared.begin()), 0u);
  } else {
    EXPECT_FALSE(latest.isOk());
    EXPECT_NE(latest.status().message().find("no usable checkpoint"), std::string::npos) << latest.status().toString();
  }
}

TEST(CheckpointTest, AfterARestoreTheNextCheckpointsContinueTheRestoredChain) {
  TempDir dir;
  auto log = std::make_shared<CommitLog>();
  JobSpec spec;
  spec.parallelism = 2;
  spec.keyDiv = 40;
  spec.holdAt(spec.records / 2);
  int64_t restoredFrom = 0;
  for (int run = 0; run < 2; ++run) {  // two runs cancelled like a crash, each after checkpoints
    StreamEnvironment env;
    buildJob(env, spec, log);
    env.config().checkpoints = checkpoints(dir.path);
    log->takeSnapshotIds();
    auto job = env.executeAsync();
    ASSERT_TRUE(job.isOk());
    ASSERT_TRUE(awaitCheckpoints(**job, 3));
    JobMetrics m = (*job)->metrics();
    (*job)->cancel();
    (void)(*job)->wait();
    // Every snapshot is of a checkpoint after the restored one (none of it again).
    for (int64_t id : log->takeSnapshotIds()) EXPECT_GT(id, restoredFrom);
    if (run == 0) {
      EXPECT_GT(m.fullTaskSnapshots, 0);  // a fresh start: the first checkpoint is full
      restoredFrom = m.lastCheckpointId;
    } else {
      EXPECT_EQ(m.restoredCheckpointId, restoredFrom);
      EXPECT_EQ(m.fullTaskSnapshots, 0) << "the checkpoints after the restore should all be deltas";
      EXPECT_GT(m.deltaTaskSnapshots, 0);
      // The newest checkpoint's chains run through the restored checkpoint's files.
      auto chks = completeCheckpoints(dir.path);
      ASSERT_FALSE(chks.empty());
      char restored[32];
      std::snprintf(restored, sizeof restored, "chk-%010lld", static_cast<long long>(restoredFrom));
      EXPECT_EQ(sharedDirectories(chks.back()).count(restored), 1u) << chks.back();
    }
  }
  resumeToTheEndExactly(dir.path, spec, log);
}

TEST(CheckpointTest, IncrementalChainLimitIsValidated) {
  ExecutionConfig c;
  c.checkpoints.maxDeltaChain = 0;
  EXPECT_NE(c.validate().message().find("maxDeltaChain"), std::string::npos);
}

/// The shared table files a checkpoint's manifest lists (names in checkpoints/shared).
std::set<std::string> sharedTableFiles(const fs::path& checkpointDir) {
  auto m = checkpoint::CheckpointStorage::parseManifest(readAll(checkpointDir / "MANIFEST"));
  EXPECT_TRUE(m.isOk()) << m.status().toString();
  std::set<std::string> out;
  if (m.isOk())
    for (const auto& f : m->files)
      if (f.name.rfind("../shared/", 0) == 0) out.insert(f.name.substr(10));
  return out;
}

// RocksDB's incremental checkpoints: each lists the database's table files in the shared
// directory, consecutive checkpoints share most of them, retired ones take theirs along, and a
// restart restores the files in place and replays exactly.
TEST(CheckpointTest, RocksDbCheckpointsShareTableFilesAndARestartRestoresThemExactly) {
  for (int p : {1, 2}) {
    TempDir dir;
    auto log = std::make_shared<CommitLog>();
    JobSpec spec;
    spec.parallelism = p;
    spec.keyDiv = 40;
    spec.rocksdb = true;
    spec.failAt = 15001;
    spec.failArmed->store(true);
    spec.holdAt(12000);
    StreamEnvironment env;
    buildJob(env, spec, log);
    env.config().checkpoints = checkpoints(dir.path, 20);
    env.config().restart.maxAttempts = 1;
    env.config().restart.delay = std::chrono::milliseconds(5);
    auto job = env.executeAsync();
    ASSERT_TRUE(job.isOk());
    ASSERT_TRUE(awaitCheckpoints(**job, 6));
    expectOneRestartAndExactCounts(spec, **job, *log, p);
    // The directory once the job has ended: while it runs, checkpoints keep coming and retiring
    // (every 20 ms), so a manifest listed a moment ago may be gone when it is read.
    auto chks = completeCheckpoints(dir.path);
    ASSERT_GE(chks.size(), 2u);
    const auto newest = sharedTableFiles(chks.back());
    const auto previous = sharedTableFiles(chks[chks.size() - 2]);
    ASSERT_FALSE(newest.empty()) << "p=" << p;
    size_t common = 0;
    for (const auto& f : newest) {
      common += previous.count(f);
      EXPECT_TRUE(fs::exists(fs::path(dir.path) / "checkpoints" / "shared" / f)) << f;
    }
    EXPECT_GT(common, 0u) << "p=" << p << ": consecutive checkpoints share no table file";
    // Only what a retained checkpoint lists (or the one in flight adds) is in the directory.
    std::set<std::string> listed;
    for (const auto& c : completeCheckpoints(dir.path))
      for (const auto& f : sharedTableFiles(c)) listed.insert(f);
    size_t unlisted = 0;
    for (const auto& e : fs::directory_iterator(fs::path(dir.path) / "checkpoints" / "shared"))
      unlisted += listed.count(e.path().filename().string()) == 0 ? 1 : 0;
    EXPECT_LE(unlisted, static_cast<size_t>(4 * p)) << "table files of retired checkpoints were not deleted";
    // The state files carry no copy of the keyed state: it is in the table files.
    checkpoint::CheckpointStorage storage(dir.path, nullptr);
    auto data = storage.load(chks.back().string());
    ASSERT_TRUE(data.isOk()) << data.status().toString();
    for (const auto& [key, op] : data->operators) {
      if (op.name.rfind("count", 0) != 0) continue;
      ASSERT_TRUE(op.native.has_value()) << op.name;
      EXPECT_FALSE(op.native->files.empty());
      EXPECT_EQ(op.keyed.count("count/n"), 0u);
    }
  }
}

// A table file of the newest checkpoint damaged (same size, one byte changed) or missing: the
// checksum in the manifest catches it, the previous checkpoint (which does not list that file)
// is used, and the job completes its output exactly from there.
TEST(CheckpointTest, ADamagedOrMissingTableFileFallsBackToThePreviousCheckpoint) {
  for (bool missing : {false, true}) {
    TempDir dir;
    auto log = std::make_shared<CommitLog>();
    JobSpec spec;
    spec.keyDiv = 40;
    spec.rocksdb = true;
    // Slow enough that records arrive between every two checkpoints (each then flushes a new
    // table file), and held well after the checkpoints the test waits for.
    spec.pause = std::chrono::microseconds(2000);
    spec.holdAt(spec.records * 3 / 4);
    StreamEnvironment env;
    buildJob(env, spec, log);
    env.config().checkpoints = checkpoints(dir.path, 20);
    auto job = env.executeAsync();
    ASSERT_TRUE(job.isOk());
    ASSERT_TRUE(awaitCheckpoints(**job, 4));
    (*job)->cancel();
    (void)(*job)->wait();
    auto chks = completeCheckpoints(dir.path);
    ASSERT_GE(chks.size(), 2u);
    const auto newest = sharedTableFiles(chks.back());
    const auto previous = sharedTableFiles(chks[chks.size() - 2]);
    std::string victim;
    for (const auto& f : newest)
      if (previous.count(f) == 0) victim = f;
    ASSERT_FALSE(victim.empty()) << "the newest checkpoint added no table file";
    const fs::path file = fs::path(dir.path) / "checkpoints" / "shared" / victim;
    if (missing) {
      fs::remove(file);
    } else {
      std::string bytes = readAll(file);
      ASSERT_FALSE(bytes.empty());
      bytes[bytes.size() / 2] ^= 0x20;
      std::FILE* f = std::fopen(file.c_str(), "wb");
      ASSERT_NE(f, nullptr);
      ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
      std::fclose(f);
    }
    checkpoint::CheckpointStorage storage(dir.path, nullptr);
    std::vector<std::string> logged;
    auto latest = storage.loadLatest([&](const std::string& l) { logged.push_back(l); });
    ASSERT_FALSE(logged.empty());
    EXPECT_NE(logged[0].find("../shared/" + victim), std::string::npos) << logged[0];
    EXPECT_NE(logged[0].find(missing ? "missing" : "checksum mismatch"), std::string::npos) << logged[0];
    ASSERT_TRUE(latest.isOk()) << latest.status().toString();
    ASSERT_TRUE(latest->has_value());
    EXPECT_EQ(fs::path((*latest)->directory), chks[chks.size() - 2]);
    // Resumed from there, nothing is lost and every count is right (the restored state is the
    // previous checkpoint's). Rows the newer checkpoint had committed come again (the log line
    // says so), as for any fallback.
    spec.gate->open = true;
    StreamEnvironment again;
    buildJob(again, spec, log);
    again.config().checkpoints = checkpoints(dir.path, 20);
    ASSERT_TRUE(testing::runJob(again).isOk());
    const auto rows = log->values();
    const auto expected = expectedCounts(spec.records, spec.keyDiv);
    EXPECT_EQ(std::set<std::string>(rows.begin(), rows.end()), std::set<std::string>(expected.begin(), expected.end()));
    EXPECT_GE(rows.size(), expected.size());
  }
}


/// Sums (and counts) the values of a window.
struct SumCount {
  std::pair<int64_t, int64_t> createAccumulator() const { return {0, 0}; }
  void add(int64_t x, std::pair<int64_t, int64_t>& acc) const {
    acc.first += x;
    ++acc.second;
  }
  void merge(const std::pair<int64_t, int64_t>& from, std::pair<int64_t, int64_t>& into) const {
    into.first += from.first;
    into.second += from.second;
  }
  std::pair<int64_t, int64_t> getResult(const std::pair<int64_t, int64_t>& acc) const { return acc; }
};

/// Per key, an event-time timer 5 ms after each record; a timer emits "P key time".
struct TimerAfterFive {
  void processElement(const int64_t& x, KeyedContext<int64_t, std::string>& ctx) {
    ctx.timerService().registerEventTimeTimer(x + 5);
  }
  void onTimer(int64_t ts, KeyedContext<int64_t, std::string>& ctx) {
    ctx.emit("P " + std::to_string(ctx.currentKey()) + " " + std::to_string(ts));
  }
};

/// A job whose state is all windows, joins and timers, over the paced source's values x (event
/// time x ms, in order within each source subtask): a tumbling count per x mod 7, a sliding sum
/// per x mod 5, sessions per x / 50, a window join of the multiples of 100 with the values 50
/// past them, an interval join of the multiples of 100 with the values 3 and 60 past them, and
/// a timer per value, per x mod 11; each result is a line in the two-phase-commit sink.
void buildWindowJob(StreamEnvironment& env, const JobSpec& spec, std::shared_ptr<CommitLog> log) {
  using namespace std::chrono_literals;
  using Result = WindowResult<int64_t, std::pair<int64_t, int64_t>>;
  configureJob(env, spec);
  env.config().stateBackend.rocksdb.valueCacheBytes = 4 << 10;  // evicts and reads back all the time
  const int64_t n = spec.records;
  const auto pause = spec.pause;
  auto gate = spec.gate;
  auto ts = [](int64_t x) { return x; };
  auto xs = env.addSource<int64_t>("paced", [n, pause, gate] { return std::make_unique<PacedSource>(0, n, pause, gate); })
                .assignTimestampsAndWatermarks(watermarks::boundedOutOfOrderness<int64_t>(0ms, ts));
  auto line = [](std::string tag) {
    return [tag](const Result& r) {
      return tag + " " + std::to_string(r.key) + " " + std::to_string(r.window.start) + " " + std::to_string(r.window.end) +
             " " + std::to_string(r.value.first) + " " + std::to_string(r.value.second);
    };
  };
  auto tumbling = xs.keyBy([](int64_t x) { return x % 7; })
                      .window(TumblingWindows::eventTime(100ms), ts)
                      .aggregate("w-tumbling", SumCount{})
                      .map("t", line("T"));
  auto sliding = xs.keyBy([](int64_t x) { return x % 5; })
                     .window(SlidingWindows::eventTime(300ms, 100ms), ts)
                     .aggregate("w-sliding", SumCount{})
                     .map("s", line("S"));
  auto sessions = xs.keyBy([](int64_t x) { return x / 50; })
                      .window(SessionWindows::withGap(10ms), ts)
                      .aggregate("w-sessions", SumCount{})
                      .map("w", line("W"));
  auto hundreds = xs.filter("hundreds", [](int64_t x) { return x % 100 == 0; }).keyBy([](int64_t x) { return x / 100; });
  auto fifties = xs.filter("fifties", [](int64_t x) { return x % 100 == 50; }).keyBy([](int64_t x) { return x / 100; });
  auto windowJoined = windowJoin<std::string>("j-window", hundreds, fifties, ts, ts, TumblingWindows::eventTime(200ms),
                                              [](int64_t a, int64_t b, const TimeWindow& w, Emitter<std::string>& out) {
                                                out.emit("J " + std::to_string(a) + " " + std::to_string(b) + " " +
                                                         std::to_string(w.start));
                                              });
  auto probes = xs.filter("probes", [](int64_t x) { return x % 100 == 3 || x % 100 == 60; })
                    .keyBy([](int64_t x) { return (x + 50) / 100; });
  auto intervalJoined = intervalJoin<std::string>("j-interval", hundreds, probes, ts, ts, -50ms, 50ms,
                                                  [](int64_t a, int64_t b, Emitter<std::string>& out) {
                                                    out.emit("I " + std::to_string(a) + " " + std::to_string(b));
                                                  });
  auto timers = xs.keyBy([](int64_t x) { return x % 11; }).process<std::string>("t-timers", TimerAfterFive{});
  tumbling.unionWith(sliding, sessions, windowJoined, intervalJoined, timers).sink("2pc", TwoPhaseSink(log));
}

/// What buildWindowJob writes for the values [0, n), computed by plain loops.
std::vector<std::string> expectedWindowLines(int64_t n) {
  std::map<std::tuple<char, int64_t, int64_t, int64_t>, std::pair<int64_t, int64_t>> windows;  // (tag, key, start, end)
  auto add = [&](char tag, int64_t key, int64_t start, int64_t end, int64_t x) {
    auto& w = windows[{tag, key, start, end}];
    w.first += x;
    ++w.second;
  };
  std::map<int64_t, std::pair<int64_t, int64_t>> sessionSpan;  // key → (first, last)
  std::vector<std::string> out;
  for (int64_t x = 0; x < n; ++x) {
    add('T', x % 7, x / 100 * 100, x / 100 * 100 + 100, x);
    for (int64_t start = x / 100 * 100; start > x - 300; start -= 100) add('S', x % 5, start, start + 300, x);
    out.push_back("P " + std::to_string(x % 11) + " " + std::to_string(x + 5));
    auto [it, fresh] = sessionSpan.try_emplace(x / 50, x, x);
    if (!fresh) it->second.second = x;
  }
  for (const auto& [key, span] : sessionSpan)
    for (int64_t x = span.first; x <= span.second; ++x) add('W', key, span.first, span.second + 10, x);
  for (const auto& [w, v] : windows)
    out.push_back(std::string(1, std::get<0>(w)) + " " + std::to_string(std::get<1>(w)) + " " + std::to_string(std::get<2>(w)) +
                  " " + std::to_string(std::get<3>(w)) + " " + std::to_string(v.first) + " " + std::to_string(v.second));
  for (int64_t a = 0; a < n; a += 100) {
    if (a + 50 < n) out.push_back("J " + std::to_string(a) + " " + std::to_string(a + 50) + " " + std::to_string(a / 200 * 200));
    for (int64_t b = 0; b < n; ++b) {
      const bool probe = b % 100 == 3 || b % 100 == 60;
      if (probe && (b + 50) / 100 == a / 100 && b - a >= -50 && b - a <= 50)
        out.push_back("I " + std::to_string(a) + " " + std::to_string(b));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Windows (tumbling, sliding, sessions), joins (window, interval) and timers keep their contents
// in the backend's store on RocksDB: the checkpoint holds them in the database's table files,
// the operators' own snapshots stay a few bytes. A checkpoint taken on one backend restores on the
// other (the contents move between the operator's snapshot and the store), and the output of
// the resumed job is exactly the reference's.
TEST(CheckpointTest, WindowJoinAndTimerStateLivesInTheBackendAndRestoresOnTheOther) {
  constexpr int64_t kRecords = 10000;
  const std::vector<std::string> expected = expectedWindowLines(kRecords);
  ASSERT_GT(expected.size(), 1000u);
  for (auto [from, to] : std::vector<std::pair<bool, bool>>{{false, true}, {true, false}, {true, true}}) {
    SCOPED_TRACE(std::string(from ? "rocksdb" : "heap") + " -> " + (to ? "rocksdb" : "heap"));
    TempDir dir;
    auto log = std::make_shared<CommitLog>();
    JobSpec spec;
    spec.records = kRecords;
    spec.parallelism = 2;
    spec.rocksdb = from;
    spec.holdAt(spec.records / 2);
    {
      StreamEnvironment env;
      buildWindowJob(env, spec, log);
      env.config().checkpoints = checkpoints(dir.path, 50);
      auto job = env.executeAsync();
      ASSERT_TRUE(job.isOk()) << job.status().toString();
      ASSERT_TRUE(awaitCheckpoints(**job, 3));
      (*job)->cancel();  // like a crash: what was staged after the last checkpoint is lost
      (void)(*job)->wait();
    }
    if (from) {
      auto chks = completeCheckpoints(dir.path);
      ASSERT_FALSE(chks.empty());
      checkpoint::CheckpointStorage storage(dir.path, nullptr);
      auto data = storage.load(chks.back().string());
      ASSERT_TRUE(data.isOk()) << data.status().toString();
      int stateful = 0;
      for (const auto& [key, op] : data->operators) {
        if (op.name.rfind("w-", 0) != 0 && op.name.rfind("j-", 0) != 0 && op.name.rfind("t-", 0) != 0) continue;
        ++stateful;
        ASSERT_TRUE(op.native.has_value()) << op.name << ": no table files";
        EXPECT_TRUE(op.keyed.empty()) << op.name << ": keyed state outside the table files";
        EXPECT_LT(op.blob.size(), 200u) << op.name << ": the operator's own snapshot holds contents";
      }
      EXPECT_EQ(stateful, 12);  // six operators, two subtasks each
    }
    EXPECT_LT(log->values().size(), expected.size());
    spec.gate->open = true;
    spec.rocksdb = to;
    StreamEnvironment env;
    buildWindowJob(env, spec, log);
    env.config().checkpoints = checkpoints(dir.path, 50);
    auto job = env.executeAsync();
    ASSERT_TRUE(job.isOk()) << job.status().toString();
    Status s = awaitJob(**job);
    ASSERT_TRUE(s.isOk()) << s.toString();
    EXPECT_GT((*job)->metrics().restoredCheckpointId, 0);
    EXPECT_EQ((*job)->metrics().lateRecords, 0);
    const auto got = sorted(log->values());
    EXPECT_EQ(got.size(), expected.size());
    EXPECT_TRUE(got == expected) << "the resumed job's output differs from the reference";
  }
}

}  // namespace
}  // namespace reka
