#pragma once

// The configuration of the commands that run jobs: a YAML file (--config FILE), REKA_…
// environment variables and -D key=value, with Flink's keys where the meaning is the same
// (parallelism.default, execution.checkpointing.interval, rest.port, …) and `reka.` keys for the
// rest. Every flag of a job command is a key: a value for it from any of those sources is given
// to the flag as if it had been typed, and checked by the flag's own rules. Precedence, lowest
// first: the flag's default, the file, the environment, -D, the flag on the command line.

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "reka/web/RestServer.h"

namespace reka::cli {

/// The flags every job command has for its configuration.
struct ConfigFlags {
  std::string file;
  std::vector<std::string> defines;
};

/// Adds --config FILE and -D KEY=VALUE to `cmd`.
void addConfigOptions(CLI::App* cmd, ConfigFlags& flags);

/// The effective configuration of a command: every key with its value and where it came from.
struct EffectiveConfig {
  std::vector<web::ConfigEntry> entries;
  /// The value of `key` (empty if it has none).
  std::string get(const std::string& key) const;
  /// Where the value of `key` came from ("default" if it has none).
  std::string source(const std::string& key) const;
};

/// Applies the configuration to the options of `cmd` (call first in its callback, after CLI11
/// parsed the command line) and returns what is in effect. A message names the key, the value,
/// where it came from and what is accepted, for an unknown key, a bad value or a bad file.
std::optional<std::string> applyConfiguration(CLI::App* cmd, const ConfigFlags& flags, EffectiveConfig& out);

/// The key of flag `flag` ("--parallelism" → "parallelism.default", "--events" → "reka.events").
std::string keyOfFlag(const std::string& flag);

/// A validator for a numeric flag: a value that is not a number, or lies outside [lo, hi], gets
/// a message that says so in plain words ("'abc' is not a number: expected a whole number from 1
/// to 128"). `whole`: integers only.
CLI::Validator numberIn(double lo, double hi, bool whole = true);

/// Adds `reka config show [--command C] [--config FILE] [-D KEY=VALUE]…` and `reka config keys`.
void addConfigCommands(CLI::App& app, int& exitCode);

}  // namespace reka::cli
