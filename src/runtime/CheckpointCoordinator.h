#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "reka/base/Log.h"
#include "reka/api/Environment.h"
#include "checkpoint/CheckpointStorage.h"

namespace reka::runtime {

class Task;
class JobExecution;

/// Triggers checkpoints, collects what every task snapshotted, writes it and completes the
/// checkpoint (Flink's CheckpointCoordinator, for one process).
///
/// A checkpoint: the coordinator raises `triggered()`; every source task snapshots its chain
/// and sends a barrier behind the records it emitted; every other task snapshots when the
/// barrier has arrived on all its inputs (aligned for exactly-once) and forwards it. Tasks hand
/// their snapshot to acknowledge() and go on; the coordinator's thread writes one file per task
/// and, once every task has answered, the manifest. Then it tells every task (sinks commit).
/// A task that has finished answers with the snapshot it took when it finished. One checkpoint
/// is in flight at a time; one that fails (an operator's error, a write error, the timeout) is
/// aborted and the next one is triggered on schedule.
///
/// Thread-safety: every public method is thread-safe.
class CheckpointCoordinator {
 public:
  CheckpointCoordinator(JobExecution* job, CheckpointConfig config, std::string jobFingerprint, int64_t lastId,
                        std::vector<Task*> tasks, std::vector<bool> isSource);
  ~CheckpointCoordinator();

  /// Before start(): the job was restored from checkpoint `id` of this state directory, whose
  /// chains (by task) the next deltas build on.
  void continueChains(int64_t id, std::vector<std::vector<checkpoint::CheckpointStorage::FileEntry>> chains);
  /// Before start(): files of the shared directory the restored checkpoint lists (its native
  /// snapshots'), which the next checkpoint refers to.
  void knowSharedFiles(const std::vector<checkpoint::CheckpointStorage::FileEntry>& files);
  void start();
  /// Stops the thread; a checkpoint in flight is abandoned (its directory is cleaned up later).
  void stop();

  /// The newest checkpoint whose barrier sources must emit (0: none yet).
  int64_t triggered() const { return triggered_.load(std::memory_order_acquire); }
  /// Sources stop reading once they have emitted the barrier of this checkpoint (stop with
  /// savepoint); INT64_MAX: never.
  int64_t suspendAfter() const { return suspendAfter_.load(std::memory_order_acquire); }

  /// For a task about to snapshot for checkpoint `id`: the checkpoint a delta may build on
  /// (the last complete one, whose chains the coordinator holds), or 0 if the snapshot must be
  /// full (incremental checkpoints off, a savepoint, the final checkpoint, none complete yet).
  int64_t deltaBaseFor(int64_t id) const;
  /// For a task about to snapshot for checkpoint `id` (0: its state at the end of input):
  /// whether backends that can should snapshot natively (incremental checkpoints, not a
  /// savepoint), and the last complete checkpoint, whose shared files a snapshot refers to.
  struct NativePlan {
    bool native = false;
    int64_t base = 0;
  };
  NativePlan nativePlanFor(int64_t id) const;
  int maxDeltaChain() const { return config_.maxDeltaChain; }
  bool incremental() const { return config_.incremental; }
  /// A buffer for the next snapshot: one whose file was written (emptied, capacity kept), so
  /// that snapshots do not fault in fresh memory every time; or an empty string.
  std::string takeBuffer();

  // Called by tasks.
  /// CPU time a task's thread spent copying state for a snapshot (metrics).
  void addSnapshotCpu(int64_t nanos) { snapshotCpuNanos_.fetch_add(nanos, std::memory_order_relaxed); }
  void acknowledge(size_t taskIndex, int64_t id, checkpoint::TaskSnapshot snapshot, int64_t syncNanos, int64_t alignmentNanos);
  void decline(size_t taskIndex, int64_t id, const Status& why);
  /// The task has finished; `snapshot` is its chain's state after finish() (used for every
  /// checkpoint from now on). Called on the task's thread.
  void taskFinished(size_t taskIndex, checkpoint::TaskSnapshot snapshot);
  /// Every task has finished: take the final checkpoint (marked finished), commit it, then
  /// call the job's signalDone(). Returns at once; the work runs on the coordinator thread.
  void allTasksFinished();
  /// The task processed the completion of `id` (sinks committed).
  void taskNotified(size_t taskIndex, int64_t id);

  /// A savepoint now (after the checkpoint in flight, if any); waits for it up to `timeout`.
  Result<std::string> savepoint(bool stop, std::chrono::milliseconds timeout);

  /// Fills the checkpoint counters of `m`.
  void fillMetrics(JobMetrics& m) const;

 private:
  struct Pending {
    int64_t id = 0;
    checkpoint::CheckpointKind kind = checkpoint::CheckpointKind::kCheckpoint;
    bool finalCheckpoint = false;
    std::chrono::steady_clock::time_point started;
    std::vector<bool> answered;
    std::vector<bool> fromFinished;  ///< answered with the task's state at its end
    size_t remaining = 0;
    /// Per task, the files a restore reads: its chain (full snapshot, then deltas).
    std::vector<std::vector<checkpoint::CheckpointStorage::FileEntry>> chains;
    /// Per task, the shared files its native snapshots refer to.
    std::vector<std::vector<checkpoint::CheckpointStorage::FileEntry>> shared;
    int64_t bytes = 0;
    int deltas = 0;  ///< task snapshots written as deltas
    int fulls = 0;   ///< and in full (a finished task whose chain is reused writes neither)
    bool sharesFiles = false;  ///< some native snapshot refers to files an earlier one stored
    int64_t maxSyncNanos = 0;
    int64_t maxAlignmentNanos = 0;
    Status failure;
  };
  struct Ack {
    size_t task;
    int64_t id;
    std::optional<checkpoint::TaskSnapshot> snapshot;  ///< nullopt: declined
    Status why;
    int64_t syncNanos = 0;
    int64_t alignmentNanos = 0;
  };
  struct SavepointRequest {
    bool stop = false;
    bool done = false;
    Result<std::string> result = Status::internal("savepoint not taken");
  };

  void run();
  void trigger(std::unique_lock<std::mutex>& lock, checkpoint::CheckpointKind kind, bool finalCheckpoint);
  void handleAck(std::unique_lock<std::mutex>& lock, Ack ack);
  void answerFromFinished(std::unique_lock<std::mutex>& lock);
  void completePending(std::unique_lock<std::mutex>& lock);
  void abortPending(std::unique_lock<std::mutex>& lock, const std::string& why);
  /// Writes a task's state file and puts the files its native snapshots need into the shared
  /// directory (then `snapshot.uploads` is empty: a finished task's snapshot is written again).
  void writeTaskFile(std::unique_lock<std::mutex>& lock, size_t task, checkpoint::TaskSnapshot& snapshot);
  void log(LogLevel level, const std::string& line) const;
  /// The history's record of checkpoint `id` (null if it has left the history).
  CheckpointRecord* record(int64_t id);

  JobExecution* job_;
  CheckpointConfig config_;
  std::string fingerprint_;
  std::deque<CheckpointRecord> history_;  ///< the newest last, at most kHistory
  static constexpr size_t kHistory = 100;
  checkpoint::CheckpointStorage storage_;
  std::vector<Task*> tasks_;
  std::vector<bool> isSource_;

  std::atomic<int64_t> triggered_{0};
  std::atomic<int64_t> suspendAfter_{INT64_MAX};

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable savepointCv_;
  std::thread thread_;
  bool stopping_ = false;
  bool allFinished_ = false;
  bool finalDone_ = false;
  int64_t lastId_ = 0;
  std::optional<Pending> pending_;
  std::deque<Ack> acks_;
  std::vector<std::optional<checkpoint::TaskSnapshot>> finished_;  ///< by task
  std::vector<std::shared_ptr<SavepointRequest>> savepointQueue_;
  /// The chains of the last complete checkpoint (chainsId_), as references from a later one.
  std::vector<std::vector<checkpoint::CheckpointStorage::FileEntry>> chains_;
  /// Per task, the shared files of its native snapshots in that checkpoint.
  std::vector<std::vector<checkpoint::CheckpointStorage::FileEntry>> shared_;
  /// Files in the shared directory by name: those of the last complete checkpoint and those
  /// put there since (a snapshot refers to one by name; the manifest needs its size and
  /// checksum).
  std::map<std::string, checkpoint::CheckpointStorage::FileEntry> knownShared_;
  int64_t chainsId_ = 0;
  /// The task has finished and chains_ holds its state at the end: later checkpoints refer to
  /// that chain and write nothing for it.
  std::vector<bool> finishedInChain_;
  std::vector<std::string> spareBuffers_;  ///< written snapshots' buffers, for takeBuffer()
  std::shared_ptr<SavepointRequest> inFlightSavepoint_;
  std::chrono::steady_clock::time_point nextTrigger_;
  // Waiting for tasks to commit a stop-with-savepoint before the job is cancelled.
  int64_t stopAfterNotified_ = 0;
  std::vector<int64_t> notified_;
  /// Set (under the mutex) by everything that may give the coordinator work; the thread
  /// clears it before it looks, so no event between the look and the wait is missed.
  bool wakeup_ = false;

  // Metrics.
  int64_t completed_ = 0;
  int64_t failed_ = 0;
  int64_t lastCompletedId_ = 0;
  int64_t lastBytes_ = 0;
  double lastMs_ = 0;
  double lastSyncMs_ = 0;
  int64_t largestBytes_ = 0;
  int64_t deltaSnapshots_ = 0;
  int64_t fullSnapshots_ = 0;
  double longestMs_ = 0;
  double longestSyncMs_ = 0;
  double longestDeltaSyncMs_ = 0;  ///< over checkpoints of deltas only
  std::atomic<int64_t> snapshotCpuNanos_{0};  ///< task threads, in snapshotChain
  int64_t threadCpuNanos_ = 0;                ///< the coordinator thread's, as of its last wait
};

}  // namespace reka::runtime
