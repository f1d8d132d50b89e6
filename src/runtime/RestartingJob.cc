#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "reka/base/Log.h"
#include "runtime/JobExecution.h"

namespace reka::runtime {

namespace {

/// A job under a restart policy: when a run fails (not when it is cancelled), it waits the
/// policy's delay and starts the job again, which resumes from the newest complete checkpoint
/// in the state directory; after maxAttempts restarts the failure is final.
class RestartingJob final : public JobClient {
 public:
  RestartingJob(graph::JobGraph graph, ExecutionConfig config, std::unique_ptr<JobExecution> first)
      : graph_(std::move(graph)), config_(std::move(config)), current_(std::move(first)),
        startTimeMs_(current_->metrics().startTimeMs) {
    thread_ = std::thread([this] { supervise(); });
  }
  ~RestartingJob() override {
    cancel();
    if (thread_.joinable()) thread_.join();
  }

  bool waitFor(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return done_; });
  }
  Status wait() override {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return done_; });
    return status_;
  }
  void cancel() override {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
    if (current_) current_->cancel();
    cv_.notify_all();
  }
  JobMetrics metrics() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    JobMetrics m = current_ ? current_->metrics() : last_;
    m.restarts = restarts_;
    m.startTimeMs = startTimeMs_;
    // The figures of earlier runs come first; a run between a failure and its restart shows
    // as RESTARTING.
    m.exceptions.insert(m.exceptions.begin(), exceptions_.begin(), exceptions_.end());
    m.checkpointHistory.insert(m.checkpointHistory.begin(), history_.begin(), history_.end());
    if (m.checkpointHistory.size() > 100) m.checkpointHistory.erase(m.checkpointHistory.begin(), m.checkpointHistory.end() - 100);
    if (restarting_) m.state = JobState::kRestarting;
    return m;
  }
  Result<std::string> savepoint(bool stop, std::chrono::milliseconds timeout) override {
    JobExecution* job;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!current_) return Status::failedPrecondition("the job is restarting; try again");
      job = current_.get();
    }
    // The supervisor replaces current_ only after the run ended, which a savepoint outlives
    // by at most its timeout: the run's own coordinator answers then.
    return job->savepoint(stop, timeout);
  }

 private:
  void supervise() {
    for (;;) {
      JobExecution* job;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        job = current_.get();
      }
      Status s = job->wait();
      std::unique_lock<std::mutex> lock(mutex_);
      last_ = current_->metrics();
      const bool retry = !s.isOk() && s.code() != StatusCode::kCancelled && !cancelled_ && restarts_ < config_.restart.maxAttempts;
      if (!retry) {
        if (!s.isOk() && s.code() != StatusCode::kCancelled)
          logEvent(LogLevel::kError, "job failed after " + std::to_string(restarts_) + " restarts: " + s.message());
        status_ = s;
        done_ = true;
        cv_.notify_all();
        return;
      }
      ++restarts_;
      restarting_ = true;
      // Keep the run's history: the next run starts its own.
      exceptions_.insert(exceptions_.end(), last_.exceptions.begin(), last_.exceptions.end());
      history_.insert(history_.end(), last_.checkpointHistory.begin(), last_.checkpointHistory.end());
      if (history_.size() > 100) history_.erase(history_.begin(), history_.end() - 100);
      if (exceptions_.size() > 100) exceptions_.erase(exceptions_.begin(), exceptions_.end() - 100);
      logEvent(LogLevel::kWarn, "job restarting (" + std::to_string(restarts_) + " of " + std::to_string(config_.restart.maxAttempts) +
                                    " in " + std::to_string(config_.restart.delay.count()) + " ms, from the last checkpoint): " +
                                    s.message());
      cv_.wait_for(lock, config_.restart.delay, [this] { return cancelled_; });
      if (cancelled_) {
        status_ = Status::cancelled("job cancelled");
        done_ = true;
        cv_.notify_all();
        return;
      }
      ExecutionConfig cfg = config_;
      cfg.checkpoints.resume = true;
      cfg.checkpoints.resumeFrom.clear();
      lock.unlock();
      auto next = JobExecution::make(graph_, cfg);
      lock.lock();
      if (!next.isOk()) {
        status_ = Status(next.status().code(), "restart failed: " + next.status().message());
        done_ = true;
        cv_.notify_all();
        return;
      }
      current_ = std::move(*next);
      restarting_ = false;
      if (cancelled_) current_->cancel();
    }
  }

  graph::JobGraph graph_;
  ExecutionConfig config_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::unique_ptr<JobExecution> current_;
  void logEvent(LogLevel level, const std::string& message) const {
    log(level, message, {{"job", config_.jobName}, {"job_id", config_.jobId}});
  }

  JobMetrics last_;
  int64_t startTimeMs_ = 0;
  std::vector<JobException> exceptions_;       ///< of earlier runs
  std::vector<CheckpointRecord> history_;      ///< of earlier runs
  bool restarting_ = false;
  int restarts_ = 0;
  bool cancelled_ = false;
  bool done_ = false;
  Status status_;
  std::thread thread_;
};

}  // namespace

}  // namespace reka::runtime

namespace reka {

Result<std::unique_ptr<JobClient>> startJob(graph::JobGraph graph, const ExecutionConfig& givenConfig) {
  ExecutionConfig config = givenConfig;
  if (config.jobId.empty()) config.jobId = runtime::newJobId();  // one id for every run under a restart policy
  // Once per submitted job, not per run: restarts log "job restarting" and "job running".
  log(LogLevel::kInfo, "job created", {{"job", config.jobName}, {"job_id", config.jobId}});
  if (config.restart.maxAttempts == 0) {
    REKA_ASSIGN_OR_RETURN(auto job, runtime::JobExecution::make(std::move(graph), config));
    return std::unique_ptr<JobClient>(std::move(job));
  }
  REKA_ASSIGN_OR_RETURN(auto job, runtime::JobExecution::make(graph, config));
  return std::unique_ptr<JobClient>(std::make_unique<runtime::RestartingJob>(std::move(graph), config, std::move(job)));
}

}  // namespace reka
