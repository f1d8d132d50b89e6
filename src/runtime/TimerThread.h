#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <queue>
#include <thread>
#include <utility>
#include <vector>

#include "reka/api/Operator.h"
#include "reka/data/Batch.h"

namespace reka::runtime {

class Task;

/// Wall-clock time in epoch milliseconds: Reka's processing time.
int64_t wallClockMs();

/// One thread per job that wakes tasks when a processing-time callback they asked for is due.
/// Thread-safe.
class TimerThread {
 public:
  TimerThread() = default;
  ~TimerThread() { stop(); }
  TimerThread(const TimerThread&) = delete;
  TimerThread& operator=(const TimerThread&) = delete;

  void start();
  void stop();
  /// Schedules `task` at wall-clock time `atMs` (or at once if that has passed).
  void add(int64_t atMs, Task* task);

 private:
  void run();

  using Entry = std::pair<int64_t, Task*>;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

/// The processing-time service of one operator instance: remembers the earliest requested
/// callback (read by the owning task) and registers it with the job's timer thread.
class InstanceTimeService final : public ProcessingTimeService {
 public:
  InstanceTimeService(TimerThread* timers, Task* task) : timers_(timers), task_(task) {}
  int64_t now() const override { return wallClockMs(); }
  void requestCallback(int64_t atMs) override {
    if (atMs >= due_) return;
    due_ = atMs;
    timers_->add(atMs, task_);
  }
  /// The earliest requested callback time, kMaxTime if none (owning task only).
  int64_t due() const { return due_; }
  void clearDue() { due_ = kMaxTime; }

 private:
  TimerThread* timers_;
  Task* task_;
  int64_t due_ = kMaxTime;
};

}  // namespace reka::runtime
