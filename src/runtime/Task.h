#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "reka/api/Operator.h"
#include "checkpoint/CheckpointStorage.h"
#include "runtime/Channel.h"
#include "runtime/TimerThread.h"
#include "reka/time/WatermarkValve.h"

namespace reka::runtime {

class WorkerPool;
class JobExecution;
class CheckpointCoordinator;

/// Thrown inside a task when an operator's code throws: carries the operator's name so that
/// the job's error says which operator failed.
struct OperatorFailure {
  std::string operatorName;
  std::string what;
  bool outOfMemory = false;  ///< an allocation failed (std::bad_alloc)
};

/// The failure of operator `name` for the exception being handled: call it inside a catch
/// block. An OperatorFailure passes unchanged (it already names its operator); std::bad_alloc
/// becomes an out-of-memory failure that says how much the process held.
OperatorFailure currentFailure(const std::string& name);

/// One parallel instance of a chain of operators: a head (a source, or the operator that reads
/// the task's input channels) and the operators chained behind it, called directly.
/// A task runs cooperatively on the worker pool: step() processes input until the input is
/// empty, an output channel is full, or its share of the worker is used, then yields.
/// Scheduling is lock-free: schedule() may be called from any thread at any time.
class Task {
 public:
  enum class StepResult { kMore, kBlocked, kFinished };

  struct Input {
    Channel* channel;
    int input;  ///< index of the head operator's input this channel belongs to
    bool ended = false;
    bool blocked = false;      ///< exactly-once alignment: its barrier came, the others' have not
    bool barrierSeen = false;  ///< the barrier being aligned has arrived on this channel
  };

  /// An operator of the chain as checkpoints see it: where its state goes in a snapshot.
  struct Member {
    Operator* op;
    int32_t node;
    int32_t subtask;
    std::string name;
    StateBackend* state;
    OperatorMetrics* metrics;
    int64_t nativeBytes = 0;  ///< the files of its last native snapshot (counted in stateBytes)
  };

  Task(std::string name, WorkerPool* pool, JobExecution* job) : name_(std::move(name)), pool_(pool), job_(job) {}

  /// Makes sure the task runs (again) soon. Thread-safe, idempotent.
  void schedule();
  /// Called by a worker thread for a task it took from the run queue.
  void runStep();

  // Wiring, before the job starts.
  void setHead(Operator* head, std::string headName, OperatorMetrics* metrics, SourceOperator* source);
  void addChained(Operator* op, std::string name) {
    chain_.push_back(op);
    chainNames_.push_back(std::move(name));
  }
  /// The processing-time services of the chain's operators, in chain order (after wiring).
  void setTimeServices(std::vector<InstanceTimeService*> services) { timeServices_ = std::move(services); }
  void addInput(Channel* channel, int input);
  void addOutputChannel(Channel* channel) { outChannels_.push_back(channel); }
  void addNetworkOutput(Output* output) { networkOutputs_.push_back(output); }
  /// Checkpointing: the task's index in the job, its coordinator (null: no checkpoints), the
  /// chain's operators in chain order, and whether barriers are aligned (exactly-once).
  void setCheckpointing(size_t index, CheckpointCoordinator* coordinator, std::vector<Member> members, bool align);
  /// The task's state was restored from checkpoint `id`, whose chain for this task has `deltas`
  /// deltas after its full snapshot: the next snapshot may be a delta on it.
  void continueChain(int64_t id, int deltas) {
    lastSnapshotId_ = id;
    deltaChain_ = deltas;
  }
  /// Checkpoint `id` is complete: the chain's operators are told on the task's thread (soon).
  /// Thread-safe.
  void checkpointComplete(int64_t id);
  /// For a finished task, on the caller's thread: tells the chain's operators that `id` is
  /// complete (the task will never run again, so the caller may call into its operators).
  void checkpointCompleteAfterFinish(int64_t id);
  /// Snapshots the chain (after finish(), by the job at the end; or by the task at a barrier):
  /// in full, or (`delta`) only what changed since the task's snapshot for checkpoint `baseId`.
  /// `native`: backends that can snapshot natively do (RocksDB's files, shared in storage
  /// with the snapshot of checkpoint `nativeBase`, the last complete one).
  Status snapshotChain(int64_t id, checkpoint::TaskSnapshot& out, bool delta = false, int64_t baseId = 0, bool native = false,
                       int64_t nativeBase = 0);
  const std::string& name() const { return name_; }

  /// Figures for metrics, readable from any thread (relaxed).
  struct Timing {
    int64_t busyNanos = 0;           ///< inside step()
    int64_t backpressuredNanos = 0;  ///< from a step that stopped at a full output to the next step
  };
  Timing timing() const {
    return {busyNanos_.load(std::memory_order_relaxed), backpressuredNanos_.load(std::memory_order_relaxed)};
  }
  /// The watermark of the task's input (the minimum over its channels), and of each channel
  /// (INT64_MAX for an idle or ended channel, which holds nothing back).
  int64_t inputWatermark() const { return inputWatermark_.load(std::memory_order_relaxed); }
  std::vector<int64_t> channelWatermarks() const;
  const std::vector<Input>& inputs() const { return inputs_; }
  const std::vector<Channel*>& outputChannels() const { return outChannels_; }

 private:
  enum State : int { kIdle, kQueued, kRunning, kRunningNotified, kDone };

  StepResult step();
  StepResult stepSource();
  StepResult stepInputs();
  void handleElement(size_t index, StreamElement& element);
  void fireProcessingTime();
  void advanceWatermark(const WatermarkValve::Change& change);
  void publishChannelWatermark(size_t index);
  template <class Call>
  void callNamed(size_t chainIndex, Call&& call);
  void finishChain();
  bool outputsFull();
  void flushOutputs();
  void flushIfDue();
  void notifyCompleted();
  void checkpointAndForward(int64_t id);
  void onBarrier(size_t index, int64_t id);
  void barrierArrived(size_t index);
  /// Whether the snapshot for checkpoint `id` may be a delta on `baseId` (0: must be full).
  bool deltaAllowed(int64_t baseId);

  std::string name_;
  WorkerPool* pool_;
  JobExecution* job_;
  std::atomic<int> state_{kIdle};

  Operator* head_ = nullptr;
  std::string headName_;
  OperatorMetrics* headMetrics_ = nullptr;
  SourceOperator* source_ = nullptr;
  std::vector<Operator*> chain_;  ///< head first, then chained operators in topological order
  std::vector<std::string> chainNames_;
  std::vector<Input> inputs_;
  std::vector<int> openChannelsPerInput_;
  size_t openInputs_ = 0;
  size_t nextInput_ = 0;
  std::vector<Channel*> outChannels_;
  std::vector<Output*> networkOutputs_;
  std::vector<InstanceTimeService*> timeServices_;
  WatermarkValve valve_;
  std::unique_ptr<std::atomic<int64_t>[]> channelWatermarks_;  ///< mirrors the valve for metrics
  std::atomic<int64_t> inputWatermark_{INT64_MIN};
  std::atomic<int64_t> busyNanos_{0};
  std::atomic<int64_t> backpressuredNanos_{0};
  bool blockedOnOutput_ = false;  ///< the last step stopped at a full output channel
  std::chrono::steady_clock::time_point stepEnded_{};
  std::chrono::steady_clock::time_point alignStarted_{};  ///< the first barrier of aligning_ came
  int64_t alignmentNanos_ = 0;  ///< for the checkpoint being acknowledged
  std::chrono::steady_clock::time_point lastFlush_{};
  bool finished_ = false;

  // Checkpoints.
  size_t index_ = 0;
  CheckpointCoordinator* coordinator_ = nullptr;
  std::vector<Member> members_;
  bool align_ = true;
  int64_t lastBarrier_ = 0;      ///< the newest checkpoint this task snapshotted
  int64_t aligning_ = 0;         ///< the checkpoint whose barriers are arriving (0: none)
  size_t barriersMissing_ = 0;   ///< open inputs whose barrier for aligning_ has not come
  std::atomic<int64_t> completed_{0};
  int64_t notified_ = 0;
  size_t lastSnapshotBytes_ = 0;  ///< to size the next full snapshot's buffer
  size_t lastDeltaBytes_ = 0;     ///< and the next delta's
  int64_t lastSnapshotId_ = 0;    ///< the checkpoint of this task's last snapshot (0: none since start)
  int deltaChain_ = 0;            ///< deltas since this task's last full snapshot
};

}  // namespace reka::runtime
