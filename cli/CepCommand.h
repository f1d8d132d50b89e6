#pragma once

#include <CLI/CLI.hpp>

namespace reka::cli {

/// Adds `reka cep run` (JSON rules over JSON events, rules changed while it runs) and
/// `reka cep check` (compiles a rule file).
void addCepCommands(CLI::App& app, int& exitCode);

}  // namespace reka::cli
