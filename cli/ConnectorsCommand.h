#pragma once

#include <CLI/CLI.hpp>

namespace reka::cli {

/// Adds `reka connectors` (the registered connectors and formats with their options) and
/// `reka copy` (a table read through one connector and written through another).
void addConnectorsCommands(CLI::App& app, int& exitCode);

}  // namespace reka::cli
