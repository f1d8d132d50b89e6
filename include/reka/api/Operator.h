#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "reka/base/Status.h"
#include "reka/data/Batch.h"
#include "reka/state/StateBackend.h"

namespace reka {

/// What a job promises about its results when it fails and restarts (chosen per job).
enum class DeliveryGuarantee : uint8_t {
  /// Every record affects the committed output exactly once: barriers are aligned, state and
  /// source positions are restored from the last complete checkpoint, and sinks commit
  /// (two-phase) only when a checkpoint completes.
  kExactlyOnce,
  /// No record is lost, some may be counted twice after a restart: barriers are not aligned and
  /// sinks write directly, flushing at every checkpoint.
  kAtLeastOnce,
  /// No record is counted twice, some may be lost: there is no replay. After a restart the
  /// sources go on from where they had got to, with fresh state.
  kAtMostOnce,
};

const char* deliveryGuaranteeName(DeliveryGuarantee g);

/// Where an operator sends the batches it emits: the next chained operator (a direct call), a
/// partitioner in front of channels, or several of those. One virtual call per batch.
class Output {
 public:
  virtual ~Output() = default;
  /// Takes the records of `batch`. The receiver may consume or modify them; the caller must
  /// clear() the batch before refilling it.
  virtual void push(Batch& batch) = 0;
  /// Sends any records buffered for downstream tasks now (end of a step, end of input).
  virtual void flush() {}
  /// Event time has reached `watermark`: no record with a smaller or equal timestamp is expected
  /// any more. Sent behind every record pushed before it (buffered records are flushed first).
  virtual void emitWatermark(int64_t watermark) = 0;
  /// The producer went idle (it excludes itself from downstream watermark minimums) or is
  /// active again.
  virtual void emitWatermarkStatus(bool idle) = 0;
};

/// Processing time (wall clock, epoch milliseconds) and callbacks at a given processing time.
/// Used from the operator's own task only.
class ProcessingTimeService {
 public:
  virtual ~ProcessingTimeService() = default;
  virtual int64_t now() const = 0;
  /// Asks the runtime to call the operator's onProcessingTime() at or soon after `atMs`.
  /// Requests merge: one call covers every request up to the time of the call.
  virtual void requestCallback(int64_t atMs) = 0;
};

/// Where one split of a source subtask is (a Kafka partition, a file): for "why has this window
/// not fired" down to the split.
struct SplitProgress {
  std::string id;
  int64_t watermark = INT64_MIN;  ///< the split's own watermark (INT64_MIN: none yet)
  bool idle = false;              ///< idle: it does not hold the subtask's watermark back
  bool ended = false;             ///< read to its end
};

/// One rule of a rule operator (CEP rules that change at run time): its version, the matches
/// and timed-out partial matches of this version on this subtask, and its last refusal.
struct RuleStats {
  std::string id;
  int64_t version = 0;
  bool enabled = true;
  int64_t matches = 0;
  int64_t timedOut = 0;
  int64_t refused = 0;  ///< updates of this rule that were refused
  std::string error;    ///< why the last refused update was refused (empty: none)
};

/// Counters a task publishes for progress displays and metrics. Written by the owning task
/// only, read by anyone (relaxed atomics: monotone counters).
struct OperatorMetrics {
  std::atomic<int64_t> recordsIn{0};
  std::atomic<int64_t> recordsOut{0};
  /// Sources: the event time they have reached (for progress lines), INT64_MIN if none.
  std::atomic<int64_t> eventTime{INT64_MIN};
  /// The watermark this operator subtask has reached (INT64_MIN: none yet).
  std::atomic<int64_t> watermark{INT64_MIN};
  /// Records that arrived too late for their window (after its allowed lateness) or timer.
  std::atomic<int64_t> lateRecords{0};
  /// Late records that were still within allowed lateness and updated a fired result.
  std::atomic<int64_t> lateUpdates{0};
  /// Pattern operators (CEP): partial matches discarded by the per-key limit.
  std::atomic<int64_t> discardedPartialMatches{0};
  /// Rule operators: rule updates refused (malformed, not compiling).
  std::atomic<int64_t> ruleErrors{0};  // (session windows: also late records that open a new session within lateness)
  /// Window operators: results emitted by firings, and the time spent firing (emitting
  /// included), for the cost of a window result.
  std::atomic<int64_t> firedResults{0};
  std::atomic<int64_t> firingNanos{0};
  /// Sources: bytes read from outside (files, Kafka messages); sinks: bytes written out.
  std::atomic<int64_t> bytesIn{0};
  std::atomic<int64_t> bytesOut{0};
  /// Records that could not be decoded and went to the dead-letter output.
  std::atomic<int64_t> deadLetters{0};
  /// Sources that know it: records between their position and the end of their input (Kafka:
  /// the partitions' high watermarks minus the positions); -1: unknown.
  std::atomic<int64_t> lag{-1};
  /// Event-time operators: the earliest event-time timer still pending (a window's end, a
  /// join's cleanup), INT64_MAX: none. Published when the watermark moves; for "why has this
  /// window not fired".
  std::atomic<int64_t> nextEventTimer{INT64_MAX};
  /// Bytes of this subtask's state in checkpoint storage: its last full snapshot plus the
  /// deltas written since (what a restore reads; Flink's full checkpoint data size). -1: no
  /// snapshot yet.
  std::atomic<int64_t> stateBytes{-1};
  /// Sources with splits: each split's watermark, published at the watermark interval.
  void publishSplits(std::vector<SplitProgress> splits) {
    std::lock_guard<std::mutex> lock(publishedMutex_);
    splits_ = std::move(splits);
  }
  std::vector<SplitProgress> splits() const {
    std::lock_guard<std::mutex> lock(publishedMutex_);
    return splits_;
  }
  /// Rule operators: each rule's figures, published when rules change and at watermarks.
  void publishRules(std::vector<RuleStats> rules) {
    std::lock_guard<std::mutex> lock(publishedMutex_);
    rules_ = std::move(rules);
  }
  std::vector<RuleStats> rules() const {
    std::lock_guard<std::mutex> lock(publishedMutex_);
    return rules_;
  }

 private:
  mutable std::mutex publishedMutex_;  ///< guards splits_ and rules_
  std::vector<SplitProgress> splits_;
  std::vector<RuleStats> rules_;
};

/// What an operator subtask gets at open().
struct OperatorContext {
  std::string name;        ///< operator name, for errors and metrics
  std::string uid;         ///< the operator's uid (graph::Node::uid, else its name): names its state
  /// What the operator's state is named after: its uid (its name where none was given, as in
  /// tests that make contexts by hand), so that state survives a renamed operator.
  const std::string& stateScope() const { return uid.empty() ? name : uid; }
  int subtask = 0;         ///< this instance's index in [0, parallelism)
  int parallelism = 1;
  int maxParallelism = 128;
  KeyGroupRange keyGroups;  ///< the key groups this subtask owns
  /// Whether `key` (hashed as the key type K, as the keyed exchange hashes it) is in this
  /// subtask's key groups.
  template <class K, class Q>
  bool ownsKey(const Q& key) const {
    return keyGroups.contains(keyGroupFor(hashKey(K(key)), maxParallelism));
  }
  StateBackend* state = nullptr;
  std::vector<Output*> outputs;  ///< by port: 0 = main output, then side outputs
  size_t batchSize = 1024;       ///< preferred records per batch
  OperatorMetrics* metrics = nullptr;
  ProcessingTimeService* time = nullptr;
  /// Sources: how often a changed watermark is sent downstream (0: after every batch).
  int64_t watermarkIntervalMs = 200;
  /// Thread-safe: asks the runtime to poll this (source) task again. For sources whose data
  /// arrives on a connector thread.
  std::function<void()> wakeup;
  /// Set once the job is cancelled, failed or stopping (never cleared). A source that waits for
  /// input in I/O checks it and gives up the wait, so that the job stops in bounded time.
  const std::atomic<bool>* stopRequested = nullptr;
  /// What the job promises about its output after a failure (sinks choose how they write).
  DeliveryGuarantee guarantee = DeliveryGuarantee::kExactlyOnce;
  /// Whether the job takes checkpoints (sinks that stage output commit it at checkpoints;
  /// without checkpoints they commit at the end of input).
  bool checkpointing = false;
  /// At-most-once sources: the file in which the source logs its position before it emits each
  /// batch, and from which it resumes (empty: none).
  std::string positionFile;
};

/// The small interface through which the runtime drives every operator. Typed operators
/// implement it once per batch; user functions inline inside them.
/// Lifecycle: open → processBatch* (interleaved with endInput per input) → finish → close.
/// Thread-safety: an instance is driven by one task at a time, never concurrently.
class Operator {
 public:
  virtual ~Operator() = default;
  /// Called by the runtime before open(); gives the default hooks below their outputs.
  void bindContext(OperatorContext* ctx) { context_ = ctx; }
  virtual Status open(OperatorContext& ctx) = 0;
  /// Processes one batch from input `input` (its index among the node's inputs). The operator
  /// may consume or modify the batch's records.
  virtual void processBatch(int input, Batch& batch) = 0;
  /// Input `input` has ended (all its upstream subtasks finished).
  virtual void endInput(int /*input*/) {}
  /// All inputs ended: emit what is left (final results), then flush.
  virtual void finish() {}
  virtual void close() {}
  /// Whether the task may read input `input` now (e.g. a side input is read to its end first).
  virtual bool acceptsInput(int /*input*/) const { return true; }
  /// The combined watermark of all inputs advanced to `watermark` (kMaxTime at the end of a
  /// bounded input). Operators with event-time logic fire what is due, emit it, then forward.
  virtual void processWatermark(int64_t watermark) { forwardWatermark(watermark); }
  /// All inputs went idle (or one became active again).
  virtual void processWatermarkStatus(bool idle) {
    if (context_ == nullptr) return;
    for (Output* o : context_->outputs) o->emitWatermarkStatus(idle);
  }
  /// A processing-time callback requested through ctx.time->requestCallback() is due.
  virtual void onProcessingTime(int64_t /*nowMs*/) {}
  /// The earliest event-time timer still pending (a window's end), INT64_MAX if none or not
  /// known. Read by the runtime after each watermark, for metrics ("why has this window not
  /// fired"); called on the operator's task.
  virtual int64_t nextEventTimer() const { return INT64_MAX; }

  // Checkpoints. The runtime snapshots the state backend (keyed tables, operator lists) itself.
  // An operator that keeps state in its own memory (window contents, timers, join buffers, a
  // source's position, a sink's staged files) writes it in snapshotState.

  /// The barrier of checkpoint `checkpointId` has reached this operator: append a copy of the
  /// operator's own state to `out`. Runs on the task's thread between two batches; the operator
  /// goes on processing afterwards, so `out` must not refer to live memory. A sink pre-commits
  /// here (closes and stages what it wrote since the last checkpoint).
  virtual Status snapshotState(int64_t /*checkpointId*/, std::string& /*out*/) { return Status::ok(); }
  /// Restores what snapshotState wrote. Called after open() (so state is registered) and after
  /// the state backend was restored, before the first record, watermark or timer.
  virtual Status restoreState(std::string_view /*in*/) { return Status::ok(); }
  // Incremental snapshots (optional): an operator that keeps large state of its own can write
  // only what changed. The runtime then calls snapshotDelta instead of snapshotState for a
  // checkpoint that builds on the previous one, and on restore calls restoreState with the base
  // and restoreDelta with each delta after it, in order. Any snapshot (full or delta) and any
  // restore starts the next delta afresh.

  /// Whether snapshotDelta/restoreDelta are implemented.
  virtual bool supportsDeltaSnapshots() const { return false; }
  /// Whether the operator's own state can be written to a checkpoint: an error that names the
  /// type without a Serde otherwise. A job with checkpoints asks every operator after open(), so
  /// that a missing serializer stops the job at its start, not at its first checkpoint.
  virtual Status checkSnapshottable() const { return Status::ok(); }
  /// Appends what changed since the last snapshotState, snapshotDelta or restore.
  virtual Status snapshotDelta(int64_t /*checkpointId*/, std::string& /*out*/) {
    return Status::notSupported("this operator does not write incremental snapshots");
  }
  /// Applies what snapshotDelta wrote on top of the restored state.
  virtual Status restoreDelta(std::string_view /*in*/) {
    return Status::notSupported("this operator does not read incremental snapshots");
  }
  /// Live entries and superseded delta records of the operator's own state (see DeltaStats).
  virtual DeltaStats deltaStats() const { return {}; }

  // Restore at another parallelism. Keyed state in the backend moves with its key groups and
  // operator lists are redistributed by the runtime; state an operator keeps in its own memory
  // (window panes, timers, join buffers, a sink's staged files) moves as ownStateRescale() says.
  // For each old subtask whose snapshot holds such state (in the way the mode picks, below), the
  // runtime makes a scratch instance of the operator, opens it as that old subtask (its index,
  // parallelism and key groups, a throwaway state backend, outputs that drop what they get, a
  // clock that never calls back), restores the old subtask's chain into it and hands it to
  // absorbRescaled() of the new instance; then closes it. This happens after open() and the
  // backend's restore, before the first record, in the order of the old subtasks.

  /// How the operator's own state is redistributed at another parallelism.
  enum class OwnStateRescale {
    kNotSupported,   ///< it cannot be: such a restore fails, naming the operator
    kByKeyGroup,     ///< keyed: every new subtask absorbs every old subtask's state, keeping
                     ///< the keys of its own key groups (Flink's raw keyed state)
    kToOneSubtask,   ///< old subtask j goes to new subtask j mod P (a sink's staged files:
                     ///< the scratch's restore commits or discards them; nothing to absorb)
    kCopyPerSubtask  ///< new subtask i gets old subtask i mod P_old's state (broadcast-built state)
  };
  virtual OwnStateRescale ownStateRescale() const { return OwnStateRescale::kNotSupported; }
  /// What the runtime hands absorbRescaled besides the scratch instance.
  struct RescaledPart {
    int subtask = 0;      ///< the old subtask's index
    int parallelism = 1;  ///< the old parallelism
    std::string_view base;                       ///< its full snapshot (snapshotState's bytes)
    const std::vector<std::string>* deltas = nullptr;  ///< then its deltas, in order
  };
  /// Takes this subtask's part of `scratch` (an instance of the same operator, restored from the
  /// old subtask `part`). The default takes nothing (right for kToOneSubtask).
  virtual Status absorbRescaled(Operator& /*scratch*/, const RescaledPart& /*part*/) { return Status::ok(); }

  /// Checkpoint `checkpointId` is complete (its manifest is durable): a sink commits what it
  /// staged for it and for earlier checkpoints. Runs on the task's thread (or, after the job
  /// ended, on the job's thread).
  virtual void notifyCheckpointComplete(int64_t /*checkpointId*/) {}

 protected:
  /// Records the watermark in the metrics and sends it to every output port.
  void forwardWatermark(int64_t watermark) {
    if (context_ == nullptr) return;
    if (context_->metrics != nullptr) context_->metrics->watermark.store(watermark, std::memory_order_relaxed);
    for (Output* o : context_->outputs) o->emitWatermark(watermark);
  }
  OperatorContext* context_ = nullptr;
};

/// An operator with no inputs that produces batches when polled.
class SourceOperator : public Operator {
 public:
  enum class Poll { kMore, kNothingNow, kEnd };
  /// Emits at most about one batch; kNothingNow means wait for ctx.wakeup(); kEnd: exhausted.
  virtual Poll pollNext() = 0;
  void processBatch(int, Batch&) final {}
};

}  // namespace reka
