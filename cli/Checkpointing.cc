#include "Checkpointing.h"

#include "Config.h"
#include "JobsCommand.h"

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "reka/base/Units.h"
#include "checkpoint/CheckpointStorage.h"
#include "checkpoint/StateDirectoryLock.h"

namespace reka::cli {

void CheckpointFlags::add(CLI::App* cmd) {
  cmd->add_option("--state-dir", stateDir,
                  "directory for checkpoints and savepoints; a run resumes from the newest complete one found there");
  cmd->add_option("--checkpoint-interval", interval, "time between checkpoints, e.g. 500ms, 1s, 2m (default 0: none)");
  cmd->add_option("--delivery", delivery, "exactly-once (default), at-least-once or at-most-once")
      ->check(CLI::IsMember({"exactly-once", "at-least-once", "at-most-once"}));
  cmd->add_option("--checkpoint-timeout", timeout, "abort a checkpoint not complete after this long (default 60s)");
  cmd->add_option("--checkpoint-min-pause", minPause, "least time from the end of a checkpoint to the next (default 0)");
  cmd->add_option("--retain-checkpoints", retained, "complete checkpoints kept (default 3)")->check(numberIn(1, 1000));
  cmd->add_option("--checkpoint-mode", checkpointMode,
                  "incremental (default: write only what changed since the last checkpoint) or full (write all state every time)")
      ->check(CLI::IsMember({"incremental", "full"}));
  cmd->add_option("--restart-attempts", restartAttempts, "restart a failed job in-process this many times (default 0)")
      ->check(numberIn(0, 1000000));
  cmd->add_option("--restart-delay", restartDelay, "wait before a restart, e.g. 100ms, 1s (default 1s)");
  cmd->add_option("--from-savepoint", fromSavepoint, "resume from this savepoint or checkpoint directory")->check(CLI::ExistingDirectory);
  cmd->add_flag("--allow-non-restored-state", allowNonRestoredState,
                "on a restore, drop the state of operators the job no longer has (matched by uid) instead of refusing to start");
}

std::optional<std::string> CheckpointFlags::apply(ExecutionConfig& config) const {
  auto every = parseDuration(interval);
  if (!every) return "--checkpoint-interval '" + interval + "' is not a duration; accepted: a whole number with ms, s, m, h or d, e.g. 500ms, 1s, 2m, or 0";
  auto timeoutValue = parseDuration(timeout);
  if (!timeoutValue || timeoutValue->count() <= 0)
    return "--checkpoint-timeout '" + timeout + "' is not a positive duration; accepted: e.g. 30s, 10m";
  auto pause = parseDuration(minPause);
  if (!pause) return "--checkpoint-min-pause '" + minPause + "' is not a duration; accepted: e.g. 0, 500ms, 5s";
  auto delay = parseDuration(restartDelay);
  if (!delay) return "--restart-delay '" + restartDelay + "' is not a duration; accepted: a whole number with ms, s, m, h or d, e.g. 100ms, 1s";
  if (stateDir.empty()) {
    if (every->count() > 0) return "--checkpoint-interval needs --state-dir DIR (where checkpoints are written)";
    if (restartAttempts > 0) return "--restart-attempts needs --state-dir DIR (restarts resume from checkpoints)";
    if (!fromSavepoint.empty()) return "--from-savepoint needs --state-dir DIR";
  }
  config.checkpoints.stateDir = stateDir;
  config.checkpoints.interval = *every;
  config.checkpoints.timeout = *timeoutValue;
  config.checkpoints.minPause = *pause;
  config.checkpoints.retained = retained;
  config.checkpoints.incremental = checkpointMode != "full";
  config.checkpoints.resumeFrom = fromSavepoint;
  config.checkpoints.allowNonRestoredState = allowNonRestoredState;
  config.checkpoints.guarantee = delivery == "at-least-once"  ? DeliveryGuarantee::kAtLeastOnce
                                 : delivery == "at-most-once" ? DeliveryGuarantee::kAtMostOnce
                                                              : DeliveryGuarantee::kExactlyOnce;
  config.restart.maxAttempts = restartAttempts;
  config.restart.delay = *delay;
  return std::nullopt;
}

namespace {

struct SavepointFlags {
  std::string job;
  std::string address;
  std::string token;
  std::string stateDir;
  bool stop = false;
  std::string timeout = "60s";
};

int newestSavepoint(const std::string& stateDir, std::string& dir) {
  checkpoint::CheckpointStorage storage(stateDir, nullptr);
  int64_t best = 0;
  for (const auto& [id, d] : storage.listComplete()) {
    if (d.find("/savepoints/") != std::string::npos && id > best) {
      best = id;
      dir = d;
    }
  }
  return static_cast<int>(best);
}

int runSavepoint(const SavepointFlags& flags) {
  auto timeout = parseDuration(flags.timeout);
  if (!timeout || timeout->count() <= 0) {
    std::fprintf(stderr, "reka savepoint: --timeout '%s' is not a positive duration (e.g. 30s, 2m)\n", flags.timeout.c_str());
    return 2;
  }
  // The job is whoever holds the state directory's lock now: the kernel says so, and drops the
  // lock when the job dies, so no stale or reused process id can be signalled.
  auto owner = checkpoint::StateDirectoryLock::owner(flags.stateDir);
  if (!owner.isOk()) {
    std::fprintf(stderr, "reka savepoint: %s\n", owner.status().message().c_str());
    return 1;
  }
  if (!owner->has_value()) {
    std::fprintf(stderr, "reka savepoint: no running reka job uses %s (nobody holds %s)\n", flags.stateDir.c_str(),
                 checkpoint::StateDirectoryLock::lockPath(flags.stateDir).c_str());
    return 1;
  }
  const pid_t pid = **owner;
  std::string before;
  const int idBefore = newestSavepoint(flags.stateDir, before);
  if (::kill(pid, flags.stop ? SIGTERM : SIGUSR1) != 0) {
    std::fprintf(stderr, "reka savepoint: cannot signal the job (process %ld): %s\n", static_cast<long>(pid), std::strerror(errno));
    return 1;
  }
  const auto deadline = std::chrono::steady_clock::now() + *timeout;
  std::string dir;
  while (std::chrono::steady_clock::now() < deadline) {
    if (newestSavepoint(flags.stateDir, dir) > idBefore) {
      bool done = !flags.stop;
      if (flags.stop) {
        auto still = checkpoint::StateDirectoryLock::owner(flags.stateDir);
        done = still.isOk() && (!still->has_value() || **still != pid);
      }
      if (done) {
        std::printf("%s\n", dir.c_str());
        return 0;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "reka savepoint: no new savepoint in %s/savepoints within %s\n", flags.stateDir.c_str(), flags.timeout.c_str());
  return 1;
}

}  // namespace

void addSavepointCommand(CLI::App& app, int& exitCode) {
  auto flags = std::make_shared<SavepointFlags>();
  auto* cmd = app.add_subcommand("savepoint", "Take a savepoint of a running job (through its REST API, or by signal with --state-dir)");
  cmd->add_option("job", flags->job, "the job: its id (or its first characters) or its name, as `reka list` shows");
  cmd->add_option("--state-dir", flags->stateDir, "the running job's --state-dir (works without the REST API: signals the job)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--address", flags->address, "HOST:PORT of the job's REST API");
  cmd->add_option("--token", flags->token, "the REST API's bearer token (default: the one the job registered)");
  cmd->add_flag("--stop", flags->stop, "stop the job once the savepoint is complete (stop-with-savepoint)");
  cmd->add_option("--timeout", flags->timeout, "how long to wait for the savepoint (default 60s)");
  cmd->callback([flags, &exitCode] {
    if (flags->job.empty() == flags->stateDir.empty()) {
      std::fprintf(stderr, "reka savepoint: give the job (an id or name, as `reka list` shows) or --state-dir DIR, not both\n");
      exitCode = 2;
      return;
    }
    exitCode = flags->job.empty() ? runSavepoint(*flags)
                                  : *savepointThroughRest(flags->job, flags->address, flags->token, flags->stop, flags->timeout);
  });
}

}  // namespace reka::cli
