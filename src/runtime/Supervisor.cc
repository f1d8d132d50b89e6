#include "reka/api/Supervisor.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/ProcessStats.h"

namespace reka {

namespace {

std::atomic<int> gInterrupted{0};
std::atomic<bool> gSavepointRequested{false};

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

/// After an interrupt the process ends within the deadline whatever the job does: an operator
/// stuck in user code or a source that never returns cannot keep it alive.
class ExitWatchdog {
 public:
  explicit ExitWatchdog(std::chrono::seconds deadline) : deadline_(deadline) {}
  ~ExitWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      disarmed_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  void arm() {
    if (thread_.joinable()) return;
    thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mutex_);
      if (cv_.wait_for(lock, deadline_, [this] { return disarmed_; })) return;
      std::fprintf(stderr,
                   "\nreka: the job did not stop within %lld s of the interrupt (an operator or source does not "
                   "return); exiting without it (a run with --state-dir resumes from its last checkpoint)\n",
                   static_cast<long long>(deadline_.count()));
      std::fflush(stderr);
      ::_exit(130);
    });
  }

 private:
  std::chrono::seconds deadline_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::thread thread_;
};

std::string mebibytes(int64_t bytes) {
  if (bytes < (1 << 20)) return fmt::format("{:.0f} KiB", static_cast<double>(bytes) / (1 << 10));
  return fmt::format("{:.0f} MiB", static_cast<double>(bytes) / (1 << 20));
}

/// Why the memory budget stopped the job: the resident memory, and the operators' state at the
/// last checkpoint, largest first (the runtime measures state when it writes it).
std::string overBudgetMessage(JobClient& client, int64_t resident, const SupervisorOptions& options) {
  const JobMetrics m = client.metrics();
  std::map<std::string, int64_t> byOperator;
  for (const OperatorStats& op : m.operators)
    if (op.stateBytes > 0) byOperator[op.name] += op.stateBytes;
  std::vector<std::pair<std::string, int64_t>> largest(byOperator.begin(), byOperator.end());
  std::sort(largest.begin(), largest.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string msg = fmt::format(
      "memory budget of {} reached: the process holds {} ({:.0f} % of it), so the job was stopped before crossing it",
      mebibytes(options.memoryBudgetBytes), mebibytes(resident),
      100.0 * static_cast<double>(resident) / static_cast<double>(options.memoryBudgetBytes));
  if (largest.empty()) {
    msg += "; no checkpoint has measured the operators' state yet (with checkpoints, this message names each operator's state)";
  } else {
    msg += "; state at the last checkpoint:";
    for (size_t i = 0; i < largest.size() && i < 5; ++i)
      msg += fmt::format("{} operator '{}' {}", i == 0 ? "" : ",", largest[i].first, mebibytes(largest[i].second));
  }
  msg += ". Keep keyed state on disk (state backend rocksdb), let it expire (a state TTL), or give the job a larger budget";
  return msg;
}

}  // namespace

void installStopSignals(bool savepointSignal) {
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  if (savepointSignal) std::signal(SIGUSR1, onSavepointSignal);
}

int interruptCount() { return gInterrupted.load(); }

SupervisedRun superviseJob(JobClient& client, const SupervisorOptions& options) {
  installStopSignals(true);
  SupervisedRun run;
  ExitWatchdog watchdog(options.exitDeadline);  // outlives the wait below
  const char* who = options.who.c_str();
  const bool budget = options.memoryBudgetBytes > 0;
  const auto step = budget ? std::min(options.tick, options.memoryCheck) : options.tick;
  auto nextTick = std::chrono::steady_clock::now() + options.tick;
  std::string overBudget;
  while (!client.waitFor(step)) {
    if (budget) {
      const int64_t resident = residentBytes();
      if (resident >= 0 && static_cast<double>(resident) >= options.memoryStopFraction * static_cast<double>(options.memoryBudgetBytes)) {
        overBudget = overBudgetMessage(client, resident, options);
        client.cancel();
        break;
      }
    }
    if (gSavepointRequested.exchange(false)) {
      auto sp = client.savepoint(false, std::chrono::seconds(60));
      if (sp.isOk()) std::fprintf(stderr, "\n%s: savepoint written to %s\n", who, sp->c_str());
      else std::fprintf(stderr, "\n%s: savepoint failed: %s\n", who, sp.status().message().c_str());
    }
    if (gInterrupted.load() == 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= nextTick) {
        nextTick = now + options.tick;
        if (options.onTick) options.onTick(client);
      }
      continue;
    }
    run.interrupted = true;
    watchdog.arm();
    if (options.savepointOnStop) {
      std::fprintf(stderr, "\n%s: stopping with a savepoint (interrupt again to exit at once)\n", who);
      auto sp = client.savepoint(true, options.savepointTimeout);
      if (sp.isOk()) {
        run.savepoint = *sp;
        std::fprintf(stderr, "%s: stopped with savepoint %s; run the same command to resume\n", who, sp->c_str());
        break;
      }
      std::fprintf(stderr, "%s: savepoint failed (%s); stopping without one\n", who, sp.status().message().c_str());
    } else {
      std::fprintf(stderr, "\n%s: interrupted, stopping (interrupt again to exit at once)\n", who);
    }
    client.cancel();
    break;
  }
  run.status = client.wait();
  // The interrupt is handled: a program that goes on (an embedder running its next job) starts
  // again from "not interrupted", so that its next Ctrl-C stops that job instead of exiting.
  if (run.interrupted) gInterrupted.store(0);
  if (!overBudget.empty()) {
    run.overBudget = true;
    run.status = Status::resourceExhausted(overBudget);
  }
  return run;
}

}  // namespace reka
