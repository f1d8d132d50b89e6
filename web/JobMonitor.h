#pragma once

#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "reka/api/Environment.h"
#include "reka/web/RestServer.h"

namespace reka::web {

/// Per-second figures of one operator subtask between two samples.
struct SubtaskRates {
  double recordsInPerSecond = 0;
  double recordsOutPerSecond = 0;
  double busyMsPerSecond = 0;           ///< Flink's busyTimeMsPerSecond
  double backpressuredMsPerSecond = 0;  ///< backPressuredTimeMsPerSecond
  double idleMsPerSecond = 0;           ///< idleTimeMsPerSecond
};

/// One point of a job's throughput history (the dashboard's chart).
struct HistoryPoint {
  int64_t timeMs = 0;
  double recordsPerSecond = 0;  ///< records the sources emitted per second
  int64_t watermark = INT64_MIN;
  double backpressured = 0;     ///< the largest backpressured share of any vertex, 0–1
};

/// Samples the metrics of the jobs of a RestServer: keeps each job's latest figures (also after
/// it ended), per-second rates from the two latest samples, a throughput history and a histogram
/// of checkpoint durations. Thread-safe.
class JobMonitor {
 public:
  static constexpr size_t kHistoryPoints = 600;
  /// Checkpoint duration histogram bounds, seconds (Prometheus `le`).
  static constexpr double kDurationBuckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

  /// Counts the calls into a job's client in flight, so that removal waits for them.
  struct Gate {
    std::mutex mutex;
    std::condition_variable cv;
    int calls = 0;
    bool closed = false;
  };

  struct Job {
    JobRegistration registration;
    std::shared_ptr<Gate> gate = std::make_shared<Gate>();
    bool live = true;  ///< its client may be asked (removed jobs keep their last figures)
    JobMetrics latest;
    std::chrono::steady_clock::time_point latestAt{};
    JobMetrics previous;
    std::chrono::steady_clock::time_point previousAt{};
    bool hasPrevious = false;
    std::deque<HistoryPoint> history;
    int64_t lastObservedCheckpoint = 0;
    std::vector<int64_t> durationBuckets = std::vector<int64_t>(std::size(kDurationBuckets) + 1, 0);  // +Inf last
    double durationSum = 0;
    int64_t durationCount = 0;
  };

  void add(JobRegistration registration);
  void remove(const std::string& jobId);
  /// Takes a sample of every live job.
  void sampleAll();

  /// Calls `f(job)` under the monitor's lock for the job with `id` (false: none).
  template <class F>
  bool withJob(const std::string& id, F&& f) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return false;
    f(it->second);
    return true;
  }
  template <class F>
  void forEach(F&& f) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, job] : jobs_) f(job);
  }
  /// Calls `f(client)` for the live client of job `id`, outside the monitor's lock (a savepoint
  /// takes seconds); remove() waits for such calls to end. False: no live job with that id.
  bool callClient(const std::string& id, const std::function<void(JobClient&)>& f);

  /// Rates of operator subtask `index` (into latest.operators) of `job`.
  static SubtaskRates rates(const Job& job, size_t index);

 private:
  void sample(Job& job);
  std::mutex mutex_;
  std::map<std::string, Job> jobs_;
};

}  // namespace reka::web
