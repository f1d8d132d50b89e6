#include "runtime/TimerThread.h"

#include "runtime/Task.h"

namespace reka::runtime {

int64_t wallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void TimerThread::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void TimerThread::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TimerThread::add(int64_t atMs, Task* task) {
  bool earliest;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    earliest = queue_.empty() || atMs < queue_.top().first;
    queue_.push({atMs, task});
  }
  if (earliest) cv_.notify_all();
}

void TimerThread::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    int64_t at = queue_.top().first;
    int64_t now = wallClockMs();
    if (at > now) {
      cv_.wait_for(lock, std::chrono::milliseconds(at - now));
      continue;
    }
    Task* task = queue_.top().second;
    queue_.pop();
    lock.unlock();
    task->schedule();
    lock.lock();
  }
}

}  // namespace reka::runtime
