#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "reka/api/Environment.h"
#include "reka/base/Log.h"
#include "graph/Planner.h"
#include "reka/graph/JobGraph.h"
#include "runtime/Channel.h"
#include "runtime/CheckpointCoordinator.h"
#include "runtime/Task.h"
#include "runtime/TimerThread.h"
#include "runtime/WorkerPool.h"

namespace reka::runtime {

/// 128 random bits in hex, like Flink's JobID.
std::string newJobId();

/// A running job: the physical instances made from a JobGraph (operators, state backends,
/// channels, tasks) and the worker pool that runs them.
/// Build with make(); the job starts at once; wait() or cancel() end it.
class JobExecution final : public JobClient {
 public:
  static Result<std::unique_ptr<JobExecution>> make(graph::JobGraph graph, const ExecutionConfig& config);
  ~JobExecution() override;

  bool waitFor(std::chrono::milliseconds timeout) override;
  Status wait() override;
  void cancel() override;
  JobMetrics metrics() const override;
  Result<std::string> savepoint(bool stop, std::chrono::milliseconds timeout) override;

  // Called by tasks.
  const ExecutionConfig& config() const { return config_; }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  void taskFinished(Task* task);
  void fail(Status status);
  /// Writes a line about this job (its name and id as fields).
  void logEvent(LogLevel level, const std::string& message) const;
  // Called by the checkpoint coordinator.
  void finishedAfterFinalCheckpoint() { signalDone(); }
  void stopAfterSavepoint();

 private:
  struct Instance {
    std::unique_ptr<Operator> op;
    std::unique_ptr<StateBackend> state;
    std::unique_ptr<OperatorMetrics> metrics;
    std::unique_ptr<InstanceTimeService> time;
    OperatorContext ctx;
    std::string name;  ///< "operator (subtask/parallelism)", for errors
    Task* task = nullptr;
    bool opened = false;
  };

  JobExecution(graph::JobGraph graph, const ExecutionConfig& config);
  Status build();
  /// `ownShared`: the checkpoint is one of this state directory's, so its native snapshots'
  /// files are in the shared directory later checkpoints write to (and may refer to).
  Status restore(const checkpoint::CheckpointData& data, bool ownShared);
  /// Restore at another parallelism: hands `inst` the own state (Operator::snapshotState) of
  /// the old subtasks `old` as its ownStateRescale() says.
  Status absorbRescaledState(const graph::Node& node, Instance& inst, const std::vector<const checkpoint::OperatorSnapshot*>& old);
  /// Where a node's state comes from in a restored checkpoint.
  struct RestoredFrom {
    int index = -1;       ///< the operator of the checkpoint with the node's uid (-1: none, it starts empty)
    int parallelism = 0;  ///< that operator's parallelism then
  };
  /// For each node of this job, the operator of `data` whose state it takes (by uid). Operators
  /// of `data` that no node takes are an error unless CheckpointConfig::allowNonRestoredState.
  Result<std::vector<RestoredFrom>> matchRestoredOperators(const checkpoint::CheckpointData& data);
  std::string fingerprint() const;
  void fillVertices(JobMetrics& m) const;
  void fillTaskFigures(const Instance& inst, OperatorStats& st) const;
  void start();
  void signalDone();
  void shutdown();

  graph::JobGraph graph_;
  ExecutionConfig config_;
  graph::PhysicalPlan plan_;
  std::vector<int> parallelism_;            // by node
  std::vector<bool> chained_;               // by node: fused into its forward predecessor's task
  /// The RocksDB working directory and cache of the job's subtasks (RocksDB backend only).
  std::shared_ptr<RocksDbEnvironment> rocksdb_;
  std::vector<std::vector<Instance>> instances_;  // by node, by subtask
  std::vector<std::unique_ptr<Task>> tasks_;
  std::vector<std::unique_ptr<Channel>> channels_;
  std::unordered_map<const Channel*, std::pair<int, int>> channelFrom_;  ///< channel → (node, subtask) it comes from
  std::vector<std::unique_ptr<Output>> outputs_;
  std::unique_ptr<WorkerPool> pool_;
  TimerThread timers_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
  int64_t restoredId_ = 0;
  bool rescaled_ = false;  ///< the restored checkpoint was taken at another parallelism
  bool reshaped_ = false;  ///< ... or by a job with other operators (or in another order)
  double restoreMs_ = 0;

  std::atomic<JobState> state_{JobState::kCreated};
  int64_t startTimeMs_ = 0;
  int64_t endTimeMs_ = 0;  ///< guarded by mutex_
  std::vector<JobException> exceptions_;  ///< guarded by mutex_
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> remainingTasks_{0};
  mutable std::mutex mutex_;
  std::condition_variable doneCv_;
  bool done_ = false;
  bool shutDown_ = false;
  Status status_;
};

}  // namespace reka::runtime
