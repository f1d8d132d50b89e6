#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace reka::runtime {

class Task;

/// A fixed set of worker threads running ready tasks from one run queue. Tasks yield
/// cooperatively; a worker never blocks inside a task.
class WorkerPool {
 public:
  explicit WorkerPool(int threads) : threadCount_(threads) {}
  ~WorkerPool() { stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void start();
  /// Stops the workers after the steps they are running; tasks still queued are not run.
  void stop();
  /// Adds a ready task to the run queue. Thread-safe.
  void enqueue(Task* task);

 private:
  void run();

  int threadCount_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Task*> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace reka::runtime
