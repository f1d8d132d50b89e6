#include "runtime/WorkerPool.h"

#include "base/CpuRelax.h"
#include "runtime/Task.h"

namespace reka::runtime {

void WorkerPool::start() {
  stopping_.store(false, std::memory_order_relaxed);
  for (int i = 0; i < threadCount_; ++i) threads_.emplace_back([this] { run(); });
}

void WorkerPool::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true, std::memory_order_relaxed);
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void WorkerPool::enqueue(Task* task) { push(task, 0); }

void WorkerPool::requeue(Task* task) { push(task, 1); }  // the caller takes one queued task next

void WorkerPool::push(Task* task, size_t takenByCaller) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(task);
    queued_.store(queue_.size(), std::memory_order_release);
    // Spinning workers see queued_; parked ones need the signal, unless the caller will take
    // what is queued itself.
    wake = parked_ > 0 && queue_.size() > takenByCaller;
  }
  if (wake) {
    wakeups_.fetch_add(1, std::memory_order_relaxed);
    ready_.notify_one();
  }
}

Task* WorkerPool::popLocked() {
  Task* task = queue_.front();
  queue_.pop_front();
  queued_.store(queue_.size(), std::memory_order_release);
  return task;
}

Task* WorkerPool::tryPop() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_.load(std::memory_order_relaxed) || queue_.empty()) return nullptr;
  return popLocked();
}

Task* WorkerPool::pollForTask() {
  std::chrono::steady_clock::time_point deadline;
  for (int i = 0;; ++i) {
    if (stopping_.load(std::memory_order_relaxed)) return nullptr;
    if (queued_.load(std::memory_order_acquire) > 0) {
      if (Task* task = tryPop()) return task;
    }
    if (idleSpin_.count() <= 0) return nullptr;
    if (i == 0) deadline = std::chrono::steady_clock::now() + idleSpin_;
    cpuRelax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= deadline) return nullptr;
  }
}

void WorkerPool::run() {
  for (;;) {
    Task* task = pollForTask();
    if (task == nullptr) {
      std::unique_lock<std::mutex> lock(mutex_);
      ++parked_;
      ready_.wait(lock, [this] { return stopping_.load(std::memory_order_relaxed) || !queue_.empty(); });
      --parked_;
      if (stopping_.load(std::memory_order_relaxed)) return;
      task = popLocked();
    }
    task->runStep();
  }
}

}  // namespace reka::runtime
