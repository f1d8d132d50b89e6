// The `reka` command: thin, public API only.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <optional>
#include <string>

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

/// After a failed parse: the word given where a command belongs when it names none ("reka
/// bogus"), to be reported as such instead of "a subcommand is required".
std::optional<std::string> unknownCommand(CLI::App& app) {
  if (!app.get_subcommands().empty() || app.remaining().empty()) return std::nullopt;
  const std::string word = app.remaining().front();
  if (word.empty() || word[0] == '-') return std::nullopt;
  return word;
}

std::string commandNames(CLI::App& app) {
  std::string names;
  for (const CLI::App* cmd : app.get_subcommands([](CLI::App*) { return true; }))
    names += (names.empty() ? "" : ", ") + cmd->get_name();
  return names;
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
    if (auto word = unknownCommand(app)) {
      std::fprintf(stderr, "reka: unknown command '%s'; the commands are %s (reka --help says more)\n", word->c_str(),
                   commandNames(app).c_str());
      return 2;
    }
    // --help and --version end well; every usage error exits with 2, as in every command
    // (docs/operations.md, "Exit codes").
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return exitCode;
}
