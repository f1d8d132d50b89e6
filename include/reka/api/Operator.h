#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "reka/base/Status.h"
#include "reka/data/Batch.h"
#include "reka/state/StateBackend.h"

namespace reka {

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
};

/// Counters a task publishes for progress displays and metrics. Written by the owning task
/// only, read by anyone (relaxed atomics: monotone counters).
struct OperatorMetrics {
  std::atomic<int64_t> recordsIn{0};
  std::atomic<int64_t> recordsOut{0};
  /// Sources: the event time they have reached (for progress lines), INT64_MIN if none.
  std::atomic<int64_t> eventTime{INT64_MIN};
};

/// What an operator subtask gets at open().
struct OperatorContext {
  std::string name;        ///< operator name, for errors and metrics
  int subtask = 0;         ///< this instance's index in [0, parallelism)
  int parallelism = 1;
  int maxParallelism = 128;
  KeyGroupRange keyGroups;  ///< the key groups this subtask owns
  StateBackend* state = nullptr;
  std::vector<Output*> outputs;  ///< by port: 0 = main output, then side outputs
  size_t batchSize = 1024;       ///< preferred records per batch
  OperatorMetrics* metrics = nullptr;
  /// Thread-safe: asks the runtime to poll this (source) task again. For sources whose data
  /// arrives on a connector thread.
  std::function<void()> wakeup;
};

/// The small interface through which the runtime drives every operator. Typed operators
/// implement it once per batch; user functions inline inside them.
/// Lifecycle: open → processBatch* (interleaved with endInput per input) → finish → close.
/// Thread-safety: an instance is driven by one task at a time, never concurrently.
class Operator {
 public:
  virtual ~Operator() = default;
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
