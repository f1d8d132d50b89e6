#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "reka/base/Units.h"
#include "reka/reka.h"

namespace reka::cli {

/// The checkpoint flags shared by the commands that run jobs:
/// --state-dir, --checkpoint-interval, --delivery, --retain-checkpoints, --restart-attempts,
/// --restart-delay, --from-savepoint.
struct CheckpointFlags {
  std::string stateDir;
  std::string interval = "0";
  std::string timeout = "60s";
  std::string minPause = "0";
  std::string delivery = "exactly-once";
  int retained = 3;
  std::string checkpointMode = "incremental";
  int restartAttempts = 0;
  std::string restartDelay = "1s";
  std::string fromSavepoint;
  bool allowNonRestoredState = false;

  void add(CLI::App* cmd);
  /// Fills `config`; on a bad value returns a message that says what is accepted.
  std::optional<std::string> apply(ExecutionConfig& config) const;
};

/// Adds `reka savepoint --state-dir DIR [--stop] [--timeout T]`.
void addSavepointCommand(CLI::App& app, int& exitCode);

}  // namespace reka::cli
