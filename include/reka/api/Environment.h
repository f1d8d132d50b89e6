#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "reka/base/Status.h"
#include "reka/graph/JobGraph.h"

namespace reka {

/// How a job runs. Defaults suit production; the debug knobs (forceYield, tiny channels and
/// batches) shake out ordering and backpressure bugs in tests.
struct ExecutionConfig {
  static int defaultParallelism() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
  }

  int parallelism = defaultParallelism();  ///< default operator parallelism
  int workerThreads = 0;                   ///< 0: one per core
  int maxParallelism = 128;                ///< number of key groups
  size_t batchSize = 1024;                 ///< records per batch
  size_t channelCapacity = 16;             ///< batches a channel holds before backpressure
  std::chrono::microseconds flushInterval{5000};  ///< partial batches are sent at least this often
  bool chaining = true;                    ///< fuse forward-connected operators into one task
  bool forceYield = false;                 ///< debug: a task yields after every batch
  int maxBatchesPerStep = 64;              ///< batches a task handles before it yields
  /// How often sources send a changed watermark (Flink's autoWatermarkInterval); 0: after every
  /// batch (deterministic tests).
  std::chrono::milliseconds watermarkInterval{200};

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
  int64_t firedResults = 0;       ///< window results emitted by firings
  int64_t firingNanos = 0;        ///< time spent firing windows
};

/// A snapshot of a running (or finished) job's counters.
struct JobMetrics {
  int64_t sourceRecords = 0;       ///< records emitted by all sources
  int64_t eventTime = INT64_MIN;   ///< minimum over source subtasks of the event time reached
  int64_t watermark = INT64_MIN;   ///< minimum over sink-side (last) operators of their watermark
  int64_t lateRecords = 0;         ///< sum over operators
  int64_t lateUpdates = 0;         ///< sum over operators
  std::vector<OperatorStats> operators;
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
};

/// Starts a job described by `graph` on a fresh worker pool.
Result<std::unique_ptr<JobClient>> startJob(graph::JobGraph graph, const ExecutionConfig& config);

}  // namespace reka
