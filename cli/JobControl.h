#pragma once

// What every command that runs a job shares: signals (SIGINT/SIGTERM stop, SIGUSR1 savepoint)
// and the watchdog that ends the process if a stop does not finish.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "reka/checkpoint/StateDirectoryLock.h"
#include "reka/reka.h"

namespace reka::cli {

/// Interrupts received (SIGINT/SIGTERM); the second one exits at once.
extern std::atomic<int> gInterrupted;
/// SIGUSR1 asks for a savepoint (the run keeps going).
extern std::atomic<bool> gSavepointRequested;

/// Installs the handlers: SIGINT and SIGTERM count into gInterrupted (a second exits with 130),
/// and, with `savepointSignal`, SIGUSR1 sets gSavepointRequested.
void installStopSignals(bool savepointSignal);

/// After an interrupt the process ends within kStopTimeout whatever the job does: an operator
/// stuck in user code or a source that never returns cannot keep it alive.
class StopWatchdog {
 public:
  static constexpr std::chrono::seconds kStopTimeout{25};
  ~StopWatchdog();
  void arm();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::thread thread_;
};

/// One job per state directory: takes its lock into `lock` (held until the caller drops it;
/// the kernel drops it if the process dies). Empty `stateDir`: nothing. Returns why it could not.
std::optional<std::string> lockStateDir(const std::string& stateDir, std::optional<checkpoint::StateDirectoryLock>& lock);

/// Runs the job of `env` to its end on this thread: SIGUSR1 takes a savepoint; an interrupt
/// stops the job (with a savepoint when `stateDir` is set) within the watchdog's time. Prints a
/// summary and problems prefixed with `who`; returns the exit status (0, 1 failed, 130
/// interrupted without a savepoint).
int superviseJob(StreamEnvironment& env, const char* who, const std::string& stateDir);

}  // namespace reka::cli
