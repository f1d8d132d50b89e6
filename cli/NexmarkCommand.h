#pragma once

#include <CLI/CLI.hpp>

namespace reka::cli {

/// Adds `reka nexmark generate` and `reka nexmark run` (docs/nexmark.md, The command) to `app`.
/// The chosen command runs from the callback; `exitCode` receives its result.
void addNexmarkCommand(CLI::App& app, int& exitCode);

}  // namespace reka::cli
