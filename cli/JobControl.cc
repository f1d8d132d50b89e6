#include "JobControl.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "reka/base/ProcessStats.h"

namespace reka::cli {

std::atomic<int> gInterrupted{0};
std::atomic<bool> gSavepointRequested{false};

namespace {
/// SIGINT/SIGTERM: the first asks the job to stop (with a savepoint where it can), a second
/// exits at once, like Flink's CLI: a restart resumes from the last complete checkpoint.
void onSignal(int) {
  if (gInterrupted.fetch_add(1) == 0) return;
  static const char kMessage[] =
      "\nreka: interrupted again: exiting now without waiting for the job (a run with --state-dir resumes from its last "
      "checkpoint)\n";
  (void)!::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  ::_exit(130);
}
void onSavepointSignal(int) { gSavepointRequested.store(true); }

}  // namespace

void installStopSignals(bool savepointSignal) {
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  if (savepointSignal) std::signal(SIGUSR1, onSavepointSignal);
}

StopWatchdog::~StopWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    disarmed_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StopWatchdog::arm() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mutex_);
    if (cv_.wait_for(lock, kStopTimeout, [this] { return disarmed_; })) return;
    std::fprintf(stderr,
                 "\nreka: the job did not stop within %lld s of the interrupt (an operator or source does not "
                 "return); exiting without it (a run with --state-dir resumes from its last checkpoint)\n",
                 static_cast<long long>(kStopTimeout.count()));
    std::fflush(stderr);
    ::_exit(130);
  });
}

std::optional<std::string> lockStateDir(const std::string& stateDir, std::optional<checkpoint::StateDirectoryLock>& lock) {
  if (stateDir.empty()) return std::nullopt;
  auto acquired = checkpoint::StateDirectoryLock::acquire(stateDir);
  if (!acquired.isOk()) return acquired.status().message();
  lock.emplace(std::move(*acquired));
  return std::nullopt;
}

int superviseJob(StreamEnvironment& env, const char* who, const std::string& stateDir) {
  StopWatchdog watchdog;
  const double cpuStart = processCpuSeconds();
  auto client = env.executeAsync();
  if (!client.isOk()) {
    std::fprintf(stderr, "%s: %s\n", who, client.status().message().c_str());
    return 1;
  }
  bool stoppedWithSavepoint = false;
  while (!(*client)->waitFor(std::chrono::milliseconds(100))) {
    if (gSavepointRequested.exchange(false)) {
      auto sp = (*client)->savepoint(false, std::chrono::seconds(60));
      if (sp.isOk()) std::fprintf(stderr, "%s: savepoint written to %s\n", who, sp->c_str());
      else std::fprintf(stderr, "%s: savepoint failed: %s\n", who, sp.status().message().c_str());
    }
    if (gInterrupted.load() == 0) continue;
    watchdog.arm();
    if (!stateDir.empty()) {
      std::fprintf(stderr, "%s: stopping with a savepoint (interrupt again to exit at once)\n", who);
      auto sp = (*client)->savepoint(true, std::chrono::seconds(15));
      if (sp.isOk()) {
        stoppedWithSavepoint = true;
        std::fprintf(stderr, "%s: stopped with savepoint %s; run the same command to resume\n", who, sp->c_str());
        break;
      }
      std::fprintf(stderr, "%s: savepoint failed (%s); stopping without one\n", who, sp.status().message().c_str());
    }
    (*client)->cancel();
    break;
  }
  Status status = (*client)->wait();
  JobMetrics m = (*client)->metrics();
  const double cpu = processCpuSeconds() - cpuStart;
  if (!status.isOk() && status.code() != StatusCode::kCancelled) {
    std::fprintf(stderr, "%s: job failed: %s\n", who, status.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "%s: %lld rows read, %.2f CPU-s%s\n", who, static_cast<long long>(m.sourceRecords), cpu,
               stoppedWithSavepoint ? " (stopped with a savepoint)" : status.isOk() ? "" : " (interrupted)");
  return status.isOk() || stoppedWithSavepoint ? 0 : 130;
}

}  // namespace reka::cli
