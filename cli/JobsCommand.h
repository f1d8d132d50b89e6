#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace reka::cli {

/// Adds `reka list`, `reka status JOB`, `reka stop JOB [--savepoint]` and `reka cancel JOB`: job
/// control through the REST API of jobs running on this machine (found in the job registry, or
/// by their state directory) or at --address.
void addJobsCommands(CLI::App& app, int& exitCode);

/// `reka savepoint JOB`: takes a savepoint (and stops, with `stop`) through the REST API; prints
/// its directory. Returns the exit status.
std::optional<int> savepointThroughRest(const std::string& job, const std::string& address, const std::string& token, bool stop,
                                        const std::string& timeout);

}  // namespace reka::cli
