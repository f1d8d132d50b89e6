#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "reka/base/Status.h"
#include "reka/api/Operator.h"
#include "reka/graph/JobGraph.h"
#include "reka/state/RocksDbBackend.h"

namespace reka {

class CheckpointFileSystem;

/// Checkpoints: when they are taken, where they are kept, what is restored.
struct CheckpointConfig {
  /// Time between the start of one checkpoint and the trigger of the next; 0: no periodic
  /// checkpoints (savepoints and the restore of a state directory still work).
  std::chrono::milliseconds interval{0};
  /// Directory for checkpoints and savepoints (see docs/checkpoints.md for its layout). Empty:
  /// no checkpoints.
  std::string stateDir;
  DeliveryGuarantee guarantee = DeliveryGuarantee::kExactlyOnce;
  /// Complete checkpoints kept (older ones are deleted); savepoints are never deleted.
  int retained = 3;
  /// A checkpoint not complete after this long is aborted (and the job goes on).
  std::chrono::milliseconds timeout{60'000};
  /// The least time between the end of one checkpoint and the trigger of the next (Flink's
  /// execution.checkpointing.min-pause), so that slow checkpoints leave the job time to work.
  std::chrono::milliseconds minPause{0};
  /// Resume from the newest complete checkpoint or savepoint in stateDir, if there is one.
  bool resume = true;
  /// Resume from this checkpoint or savepoint directory instead (empty: the newest in stateDir).
  std::string resumeFrom;
  /// A restore matches state to operators by uid (DataStream::uid, else the operator's name):
  /// operators new to the job start empty; state of operators the job no longer has is an
  /// error unless this is set (Flink's --allowNonRestoredState), when it is dropped.
  bool allowNonRestoredState = false;
  /// Incremental checkpoints: a task whose previous snapshot belongs to the last complete
  /// checkpoint writes only what changed since (keyed state, window panes); a restore reads its
  /// last full snapshot and the deltas after it. A task writes a full snapshot again when the
  /// records its deltas replaced or deleted outnumber its live entries, after maxDeltaChain
  /// deltas, after a failed checkpoint, after a restore and for savepoints. False: every
  /// checkpoint is full.
  bool incremental = true;
  /// The longest run of deltas after a full snapshot (bounds the files a restore reads).
  int maxDeltaChain = 200;
  /// Where checkpoint files are written (null: the local file system). Tests inject faults here.
  std::shared_ptr<CheckpointFileSystem> fileSystem;
};

/// What happens when a job fails: restart in-process from the last complete checkpoint after a
/// fixed delay, at most maxAttempts times (0: never; the job fails).
struct RestartPolicy {
  int maxAttempts = 0;
  std::chrono::milliseconds delay{1000};
};

/// How a job runs. Defaults suit production; the debug knobs (forceYield, tiny channels and
/// batches) shake out ordering and backpressure bugs in tests.
/// Where keyed state lives (Flink's `state.backend.type`).
struct StateBackendConfig {
  enum class Kind {
    kHeap,     ///< hash maps in memory (Flink's hashmap): the fastest; state must fit in memory
    kRocksDb,  ///< RocksDB on local disk: state larger than memory, at the cost of encoding
  };
  Kind kind = Kind::kHeap;
  RocksDbOptions rocksdb;
  /// The TTL of keyed state registered without one of its own (Flink SQL's
  /// `table.exec.state.ttl`; `--state-ttl`): none unless set.
  StateTtlConfig defaultTtl;
};

struct ExecutionConfig {
  static int defaultParallelism() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
  }

  /// The job's name (Flink's `pipeline.name`), in logs, metrics and the REST API.
  std::string jobName = "reka job";
  /// The job's id (32 hex digits); empty: a random one is made when the job starts.
  std::string jobId;
  int parallelism = defaultParallelism();  ///< default operator parallelism
  int workerThreads = 0;                   ///< 0: one per core
  int maxParallelism = 128;                ///< number of key groups
  size_t batchSize = 1024;                 ///< records per batch
  size_t channelCapacity = 16;             ///< batches a channel holds before backpressure
  std::chrono::microseconds flushInterval{5000};  ///< partial batches are sent at least this often
  bool chaining = true;                    ///< fuse forward-connected operators into one task
  bool forceYield = false;                 ///< debug: a task yields after every batch
  int maxBatchesPerStep = 64;              ///< batches a task handles before it yields
  /// How long an idle worker thread polls the run queue before it parks (0: park at once).
  /// Polling keeps the core awake, so a task that becomes ready runs within microseconds
  /// instead of waiting for a parked thread (and, on a virtual machine, a halted vCPU) to
  /// wake; it costs up to this much CPU per idle period. For latency-sensitive jobs.
  std::chrono::microseconds idleSpin{0};
  /// How often sources send a changed watermark (Flink's autoWatermarkInterval); 0: after every
  /// batch (deterministic tests).
  std::chrono::milliseconds watermarkInterval{200};
  CheckpointConfig checkpoints;
  RestartPolicy restart;
  StateBackendConfig stateBackend;

  /// Checks the values; the message names the field and what is accepted.
  Status validate() const;
};

/// Progress of one operator subtask.
struct OperatorStats {
  std::string name;
  int subtask = 0;
  int64_t recordsIn = 0;
  int64_t recordsOut = 0;
  int64_t watermark = INT64_MIN;  ///< the watermark this subtask reached
  int64_t lateRecords = 0;        ///< records dropped or sent to a late-data output
  int64_t lateUpdates = 0;        ///< late records within allowed lateness (updated results)
  int64_t discardedPartialMatches = 0;  ///< pattern operators: partial matches over the per-key limit
  int64_t ruleErrors = 0;               ///< rule operators: refused rule updates
  std::vector<RuleStats> rules;         ///< rule operators: per rule
  int64_t firedResults = 0;       ///< window results emitted by firings
  int64_t firingNanos = 0;        ///< time spent firing windows
  int node = 0;                   ///< the operator's vertex (JobMetrics::vertices)
  int parallelism = 1;
  int64_t inputWatermark = INT64_MIN;  ///< the minimum over the subtask's input channels
  /// Per input channel: the upstream vertex and subtask it comes from, and its watermark
  /// (INT64_MAX for an idle or ended channel, which does not hold the minimum back).
  struct Channel {
    int node = 0;
    int subtask = 0;
    int64_t watermark = INT64_MIN;
  };
  std::vector<Channel> inputChannels;
  int64_t nextEventTimer = INT64_MAX;  ///< the earliest pending event-time timer (INT64_MAX: none)
  int64_t bytesIn = 0;
  int64_t bytesOut = 0;
  int64_t deadLetters = 0;
  int64_t lag = -1;                ///< sources: records behind the end of their input (-1: unknown)
  /// Bytes of the subtask's state in checkpoint storage (last full snapshot + deltas since);
  /// -1: none taken yet.
  int64_t stateBytes = -1;
  std::vector<SplitProgress> splits;  ///< sources with splits: each split's watermark
  /// Time the subtask's task (its chain) spent working, and waiting for room in a full output
  /// channel (backpressure), since it started; the rest of the wall time it was idle.
  double busyMs = 0;
  double backpressuredMs = 0;
  double inputQueueUsage = 0;   ///< the fullest input channel, 0–1 of its capacity
  double outputQueueUsage = 0;  ///< the fullest output channel
};

/// An operator of the running job's graph (the physical vertex; chained operators are
/// separate vertices).
struct VertexInfo {
  int id = 0;
  std::string name;
  std::string kind;  ///< graph::Node::kind: map, window, keyed-process, sql-aggregate, …
  std::string uid;   ///< what its state is matched by on a restore
  int parallelism = 1;
  bool source = false;
  bool chained = false;  ///< runs in its input's task (a direct call)
  struct Input {
    int from = 0;
    std::string partitioning;  ///< forward, hash, rebalance, broadcast
  };
  std::vector<Input> inputs;
};

/// The lifecycle of a job, as Flink names it.
enum class JobState : uint8_t { kCreated, kRunning, kRestarting, kFinished, kFailed, kCancelled };
const char* jobStateName(JobState s);  ///< "CREATED", "RUNNING", … (Flink's names)

/// One checkpoint or savepoint of this run, in the history the REST API and dashboard show.
struct CheckpointRecord {
  int64_t id = 0;
  bool savepoint = false;
  enum class Outcome : uint8_t { kInProgress, kCompleted, kFailed } outcome = Outcome::kInProgress;
  int64_t triggerTimeMs = 0;  ///< wall clock, epoch milliseconds
  double durationMs = 0;      ///< trigger to manifest written (or to the failure)
  double syncMs = 0;          ///< the longest time one task spent copying its state
  double alignmentMs = 0;     ///< the longest time one task held inputs back for barrier alignment
  int64_t bytes = 0;
  bool incremental = false;   ///< some task snapshots were deltas
  std::string path;           ///< its directory (completed ones)
  std::string failure;        ///< why it failed
};

/// A failure the job saw (it failed, or restarted after it).
struct JobException {
  int64_t timeMs = 0;  ///< wall clock, epoch milliseconds
  std::string message;
};

/// A snapshot of a running (or finished) job's counters.
struct JobMetrics {
  std::string jobId;
  std::string jobName;
  JobState state = JobState::kCreated;
  int64_t startTimeMs = 0;  ///< wall clock, epoch milliseconds
  int64_t endTimeMs = 0;    ///< 0 while it runs
  std::vector<VertexInfo> vertices;
  std::vector<CheckpointRecord> checkpointHistory;  ///< the newest last, at most 100
  std::vector<JobException> exceptions;             ///< the newest last, at most 100
  int64_t sourceRecords = 0;       ///< records emitted by all sources
  int64_t workerWakeups = 0;       ///< times a parked worker thread was signalled to take queued work
  int64_t eventTime = INT64_MIN;   ///< minimum over source subtasks of the event time reached
  int64_t watermark = INT64_MIN;   ///< minimum over sink-side (last) operators of their watermark
  int64_t lateRecords = 0;         ///< sum over operators
  int64_t lateUpdates = 0;         ///< sum over operators
  std::vector<OperatorStats> operators;

  // Checkpoints.
  int64_t completedCheckpoints = 0;   ///< checkpoints and savepoints completed by this run
  int64_t failedCheckpoints = 0;      ///< aborted: write failure, timeout, an operator's error
  int64_t lastCheckpointId = 0;       ///< the newest complete one (0: none)
  int64_t lastCheckpointBytes = 0;    ///< bytes written for it (incremental ones refer to earlier files too)
  double lastCheckpointMs = 0;        ///< trigger to manifest written
  double lastCheckpointSyncMs = 0;    ///< longest time one task spent copying its state for it
  int64_t largestCheckpointBytes = 0;  ///< over the checkpoints of this run
  int64_t deltaTaskSnapshots = 0;      ///< task snapshots in completed checkpoints written as deltas
  int64_t fullTaskSnapshots = 0;       ///< and written in full
  double longestCheckpointMs = 0;
  double longestCheckpointSyncMs = 0;
  double longestDeltaCheckpointSyncMs = 0;  ///< the same over checkpoints whose task snapshots were all deltas
  double checkpointCopyCpuMs = 0;   ///< CPU time tasks spent copying state into snapshots at barriers
  double checkpointWriteCpuMs = 0;  ///< CPU time of the coordinator: writing files and manifests, retention
  int64_t restoredCheckpointId = 0;   ///< the checkpoint this run resumed from (0: fresh start)
  double restoreMs = 0;               ///< reading, checking and restoring it
  int restarts = 0;                   ///< in-process restarts after failures
};

/// Handle on a job started with executeAsync(). Thread-safe.
class JobClient {
 public:
  virtual ~JobClient() = default;
  /// Waits up to `timeout` for the job to end; true if it has ended.
  virtual bool waitFor(std::chrono::milliseconds timeout) = 0;
  /// Waits for the end and returns how it ended (ok, or the first failure, or Cancelled).
  virtual Status wait() = 0;
  /// Stops the job (an unbounded job runs until this is called).
  virtual void cancel() = 0;
  virtual JobMetrics metrics() const = 0;
  /// Takes a savepoint (a checkpoint kept until deleted by hand, in stateDir/savepoints) and
  /// waits up to `timeout` for it; returns its directory. With `stop`, the sources stop at the
  /// savepoint's barrier, and the job ends (Cancelled) once the savepoint is complete.
  virtual Result<std::string> savepoint(bool stop, std::chrono::milliseconds timeout) = 0;
};

/// Starts a job described by `graph` on a fresh worker pool.
Result<std::unique_ptr<JobClient>> startJob(graph::JobGraph graph, const ExecutionConfig& config);

}  // namespace reka
