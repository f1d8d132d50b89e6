#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "runtime/JobExecution.h"

namespace reka::runtime {

namespace {

/// A job under a restart policy: when a run fails (not when it is cancelled), it waits the
/// policy's delay and starts the job again, which resumes from the newest complete checkpoint
/// in the state directory; after maxAttempts restarts the failure is final.
class RestartingJob final : public JobClient {
 public:
  RestartingJob(graph::JobGraph graph, ExecutionConfig config, std::unique_ptr<JobExecution> first)
      : graph_(std::move(graph)), config_(std::move(config)), current_(std::move(first)) {
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
        status_ = s;
        done_ = true;
        cv_.notify_all();
        return;
      }
      ++restarts_;
      std::fprintf(stderr, "reka: job failed: %s; restart %d of %d in %lld ms from the last checkpoint\n", s.message().c_str(),
                   restarts_, config_.restart.maxAttempts, static_cast<long long>(config_.restart.delay.count()));
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
      if (cancelled_) current_->cancel();
    }
  }

  graph::JobGraph graph_;
  ExecutionConfig config_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::unique_ptr<JobExecution> current_;
  JobMetrics last_;
  int restarts_ = 0;
  bool cancelled_ = false;
  bool done_ = false;
  Status status_;
  std::thread thread_;
};

}  // namespace

}  // namespace reka::runtime

namespace reka {

Result<std::unique_ptr<JobClient>> startJob(graph::JobGraph graph, const ExecutionConfig& config) {
  if (config.restart.maxAttempts == 0) {
    REKA_ASSIGN_OR_RETURN(auto job, runtime::JobExecution::make(std::move(graph), config));
    return std::unique_ptr<JobClient>(std::move(job));
  }
  REKA_ASSIGN_OR_RETURN(auto job, runtime::JobExecution::make(graph, config));
  return std::unique_ptr<JobClient>(std::make_unique<runtime::RestartingJob>(std::move(graph), config, std::move(job)));
}

}  // namespace reka
