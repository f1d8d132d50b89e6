#include "JobControl.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>

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

}  // namespace reka::cli
