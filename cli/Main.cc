// The `reka` command: thin, public API only.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>

#include "CepCommand.h"
#include "Checkpointing.h"
#include "Config.h"
#include "ConnectorsCommand.h"
#include "JobsCommand.h"
#include "SqlCommand.h"
#include "NexmarkCommand.h"
#include "base/ProcessStats.h"
#include "reka/reka.h"

namespace {

/// An exception that escaped everything (an allocation failure outside any operator, on a
/// runtime thread) ends the process with a message instead of a bare abort.
[[noreturn]] void onTerminate() {
  const char* what = "an unknown error";
  bool outOfMemory = false;
  if (auto current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const std::bad_alloc&) {
      outOfMemory = true;
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
  }
  if (outOfMemory) {
    std::fprintf(stderr,
                 "reka: out of memory: an allocation failed outside any operator (peak RSS %lld MiB); give the job more "
                 "memory or less state\n",
                 static_cast<long long>(reka::peakRssBytes() >> 20));
  } else {
    std::fprintf(stderr, "reka: fatal: %s\n", what);
  }
  std::fflush(stderr);
  std::abort();
}

}  // namespace

int main(int argc, char** argv) {
  std::set_terminate(onTerminate);
  CLI::App app{"Reka: a native stream processing engine", "reka"};
  app.set_version_flag("--version", std::string("reka ") + reka::version());
  app.require_subcommand(1);
  int exitCode = 0;
  reka::cli::addNexmarkCommand(app, exitCode);
  reka::cli::addSavepointCommand(app, exitCode);
  reka::cli::addConnectorsCommands(app, exitCode);
  reka::cli::addSqlCommands(app, exitCode);
  reka::cli::addCepCommands(app, exitCode);
  reka::cli::addJobsCommands(app, exitCode);
  reka::cli::addConfigCommands(app, exitCode);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end well; every usage error exits with 2, as in every command
    // (docs/operations.md, "Exit codes").
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return exitCode;
}
