// The `reka` command: thin, public API only.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "Checkpointing.h"
#include "NexmarkCommand.h"
#include "reka/reka.h"

int main(int argc, char** argv) {
  CLI::App app{"Reka: a native stream processing engine", "reka"};
  app.set_version_flag("--version", std::string("reka ") + reka::version());
  app.require_subcommand(1);
  int exitCode = 0;
  reka::cli::addNexmarkCommand(app, exitCode);
  reka::cli::addSavepointCommand(app, exitCode);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exitCode;
}
