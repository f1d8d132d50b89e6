#pragma once

#include <CLI/CLI.hpp>

namespace reka::cli {

/// Adds `reka run FILE.sql` (the script's INSERTs as one job) and `reka explain FILE.sql`.
void addSqlCommands(CLI::App& app, int& exitCode);

}  // namespace reka::cli
