#pragma once

// Running a job the way the `reka` command does, in one call: Ctrl-C (SIGINT) or SIGTERM stops
// the job with a savepoint (or cancels it when it keeps no checkpoints), a second one exits at
// once, SIGUSR1 takes a savepoint and goes on, and the process ends within a deadline even if
// an operator never returns.

#include <chrono>
#include <functional>
#include <string>

#include "reka/api/Environment.h"

namespace reka {

struct SupervisorOptions {
  /// The prefix of the messages written to stderr ("reka run", "my-app").
  std::string who = "reka";
  /// Whether an interrupt stops the job at a savepoint (it needs a state directory); false:
  /// an interrupt cancels it.
  bool savepointOnStop = true;
  std::chrono::milliseconds savepointTimeout{15000};
  /// After an interrupt the process exits (status 130) if the job has not stopped by then.
  std::chrono::seconds exitDeadline{25};
  /// Called every `tick` while the job runs (a progress line, a REST check).
  std::chrono::milliseconds tick{100};
  std::function<void(JobClient&)> onTick;
  /// The process's memory budget in bytes (`--memory`, `reka.memory.budget`); 0: none. The
  /// resident memory is read every `memoryCheck`; once it reaches `memoryStopFraction` of the
  /// budget the job is cancelled and the run ends with ResourceExhausted, whose message gives
  /// the resident memory and each operator's state at the last checkpoint, largest first: the
  /// job stops with a clear error before the budget is crossed, instead of being killed by the
  /// kernel or a container limit after it.
  int64_t memoryBudgetBytes = 0;
  double memoryStopFraction = 0.9;
  std::chrono::milliseconds memoryCheck{20};
};

/// How a supervised run ended.
struct SupervisedRun {
  Status status;             ///< the job's own ending (Cancelled when it was stopped)
  bool interrupted = false;  ///< a signal stopped it
  std::string savepoint;     ///< the savepoint it stopped at (empty: none)
  bool overBudget = false;   ///< the memory budget stopped it (status is ResourceExhausted)
};

/// Installs the process's handlers for SIGINT, SIGTERM (and, with `savepointSignal`, SIGUSR1).
/// Idempotent. superviseJob() installs them itself; call this earlier to cover work done
/// before the job starts.
void installStopSignals(bool savepointSignal = true);
/// The number of interrupts (SIGINT, SIGTERM) received so far.
int interruptCount();

/// Runs `client`'s job to its end on this thread, handling the signals as described above. Once
/// an interrupt has stopped the job, the count of interrupts starts again from zero, so that a
/// program may run another job under the same handling.
SupervisedRun superviseJob(JobClient& client, const SupervisorOptions& options = {});

}  // namespace reka
