#include "runtime/WorkerPool.h"

#include "runtime/Task.h"

namespace reka::runtime {

void WorkerPool::start() {
  for (int i = 0; i < threadCount_; ++i) threads_.emplace_back([this] { run(); });
}

void WorkerPool::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void WorkerPool::enqueue(Task* task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(task);
  }
  ready_.notify_one();
}

void WorkerPool::run() {
  for (;;) {
    Task* task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      task = queue_.front();
      queue_.pop_front();
    }
    task->runStep();
  }
}

}  // namespace reka::runtime
