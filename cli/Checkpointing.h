#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "reka/reka.h"

namespace reka::cli {

/// Parses a duration such as "500ms", "1s", "2m" or "0" (off). Returns nullopt for anything else.
std::optional<std::chrono::milliseconds> parseDuration(const std::string& text);

/// The checkpoint flags shared by the commands that run jobs:
/// --state-dir, --checkpoint-interval, --delivery, --retain-checkpoints, --restart-attempts,
/// --restart-delay, --from-savepoint.
struct CheckpointFlags {
  std::string stateDir;
  std::string interval = "0";
  std::string delivery = "exactly-once";
  int retained = 3;
  std::string checkpointMode = "incremental";
  int restartAttempts = 0;
  std::string restartDelay = "1s";
  std::string fromSavepoint;

  void add(CLI::App* cmd);
  /// Fills `config`; on a bad value returns a message that says what is accepted.
  std::optional<std::string> apply(ExecutionConfig& config) const;
};

/// The pid file a running job keeps in its state directory (for `reka savepoint`).
std::string pidFilePath(const std::string& stateDir);
/// Writes the pid file; fails if another live process holds the directory.
std::optional<std::string> claimStateDir(const std::string& stateDir);
void releaseStateDir(const std::string& stateDir);

/// Adds `reka savepoint --state-dir DIR [--stop] [--timeout T]`.
void addSavepointCommand(CLI::App& app, int& exitCode);

}  // namespace reka::cli
