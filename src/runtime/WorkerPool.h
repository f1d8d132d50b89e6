#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace reka::runtime {

class Task;

/// A fixed set of worker threads running ready tasks from one run queue. Tasks yield
/// cooperatively; a worker never blocks inside a task.
///
/// An idle worker polls the queue for `idleSpin` before it parks on the condition variable;
/// `enqueue` only signals when a worker is parked. A task that yields goes back to the queue
/// through `requeue`, which wakes a parked worker only when another task is waiting as well:
/// the worker that ran it looks for work next and takes it, so a lone busy task stays on its
/// worker instead of waking an idle one at every step (a futex wake and, on a VM, an
/// interrupt to a halted vCPU, which showed as millisecond latency stalls).
class WorkerPool {
 public:
  explicit WorkerPool(int threads, std::chrono::microseconds idleSpin = std::chrono::microseconds{0})
      : threadCount_(threads), idleSpin_(idleSpin) {}
  ~WorkerPool() { stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void start();
  /// Stops the workers after the steps they are running; tasks still queued are not run.
  void stop();
  /// Adds a ready task to the run queue. Thread-safe.
  void enqueue(Task* task);
  /// Puts back the task the calling worker just ran (it yielded): the caller looks for work
  /// next, so a parked worker is woken only if other tasks are queued too. Worker threads only.
  void requeue(Task* task);
  /// How many times a parked worker was signalled (metrics). Thread-safe.
  int64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

 private:
  void run();
  /// Queues `task`; wakes a parked worker unless the queue holds no more than the
  /// `takenByCaller` tasks the calling worker will take itself.
  void push(Task* task, size_t takenByCaller);
  /// Takes the first queued task; mutex_ held and the queue not empty.
  Task* popLocked();
  /// Pops a task if one is queued; never waits. Null if none (or stopping).
  Task* tryPop();
  /// Looks for a queued task, and keeps polling for up to idleSpin_. Null if none (or stopping).
  Task* pollForTask();

  int threadCount_;
  std::chrono::microseconds idleSpin_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Task*> queue_;
  std::atomic<size_t> queued_{0};  ///< queue_.size(), readable without the lock
  std::atomic<bool> stopping_{false};
  int parked_ = 0;                 ///< workers waiting on ready_ (guarded by mutex_)
  std::atomic<int64_t> wakeups_{0};
  std::vector<std::thread> threads_;
};

}  // namespace reka::runtime
