#include "SqlCommand.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "Checkpointing.h"
#include "Config.h"
#include "JobControl.h"
#include "reka/base/Units.h"
#include "checkpoint/StateDirectoryLock.h"
#include "nexmark/QueryJob.h"
#include "reka/reka.h"
#include "reka/sql/Sql.h"

namespace reka::cli {

namespace {

struct SqlFlags {
  std::string file;
  int parallelism = -1;
  CheckpointFlags checkpoints;
  OperationFlags ops;
};

std::optional<std::string> readScript(const std::string& path, std::string& out) {
  std::ifstream in(path);
  if (!in) return "cannot read " + path;
  std::stringstream s;
  s << in.rdbuf();
  out = s.str();
  return std::nullopt;
}

/// The settings a script can change (SET or -D), with Flink's keys.
const std::vector<std::string> kSettings = {"parallelism.default", "pipeline.name", "execution.checkpointing.interval",
                                            "table.optimizer.reuse-sub-plan-enabled", "table.exec.mini-batch.enabled",
                                            "table.exec.mini-batch.allow-latency", "table.exec.mini-batch.size"};

/// Applies the script's SET statements to `config` where the command line (a flag or -D) did
/// not set the key; a message names a bad key or value.
std::optional<std::string> applySettings(const std::map<std::string, std::string>& set, ExecutionConfig& config, SqlFlags& flags) {
  for (const auto& [k, v] : set) {
    const std::string source = flags.ops.effective.source(k);
    if (source.rfind("flag", 0) == 0 || source == "-D") continue;  // the command line wins over SET
    if (k == "pipeline.name") {
      config.jobName = v;
      continue;
    }
    if (k == "parallelism.default") {
      int p = 0;
      try {
        p = std::stoi(v);
      } catch (...) {
        p = 0;
      }
      if (p < 1 || p > 1024) return "'parallelism.default' = '" + v + "': expected a number from 1 to 1024";
      config.parallelism = p;
    } else if (k == "table.optimizer.reuse-sub-plan-enabled") {
      // Read by the planner (SqlScript::addTo); checked here.
      if (v != "true" && v != "false") return "'table.optimizer.reuse-sub-plan-enabled' = '" + v + "': expected true or false";
    } else if (k.rfind("table.exec.mini-batch.", 0) == 0 && std::find(kSettings.begin(), kSettings.end(), k) != kSettings.end()) {
      continue;  // read and checked by the planner (SqlScript::addTo: the three together)
    } else if (k == "execution.checkpointing.interval") {
      if (!parseDuration(v)) return "'execution.checkpointing.interval' = '" + v + "': expected a duration such as 10s";
      flags.checkpoints.interval = v;
    } else {
      std::string accepted;
      for (const auto& s : kSettings) accepted += (accepted.empty() ? "" : ", ") + s;
      return "unknown setting '" + k + "'; accepted: " + accepted;
    }
  }
  return std::nullopt;
}

int runSql(SqlFlags flags, bool explainOnly, CLI::App* cmd) {
  const char* who = explainOnly ? "reka explain" : "reka run";
  std::string text;
  if (auto bad = readScript(flags.file, text)) {
    std::fprintf(stderr, "%s: %s\n", who, bad->c_str());
    return 2;
  }
  nexmark::registerNexmarkConnector();
  auto script = sql::SqlScript::compile(text);
  if (!script.isOk()) {
    std::fprintf(stderr, "%s: %s: %s\n", who, flags.file.c_str(), script.status().message().c_str());
    return 2;
  }
  if (explainOnly) {
    std::fputs(script->explain().c_str(), stdout);
    return 0;
  }
  ExecutionConfig config;
  if (auto bad = flags.ops.prepare(cmd)) {
    std::fprintf(stderr, "%s: %s\n", who, bad->c_str());
    return 2;
  }
  config.jobName = flags.ops.name;
  if (flags.parallelism > 0) config.parallelism = flags.parallelism;
  if (auto bad = applySettings(script->settings(), config, flags)) {
    std::fprintf(stderr, "%s: %s\n", who, bad->c_str());
    return 2;
  }
  if (auto bad = flags.checkpoints.apply(config); bad || (bad = flags.ops.apply(config))) {
    std::fprintf(stderr, "%s: %s\n", who, bad->c_str());
    return 2;
  }
  const std::string& stateDir = flags.checkpoints.stateDir;
  std::optional<checkpoint::StateDirectoryLock> lock;
  if (int refused = lockStateDir(who, stateDir, lock)) return refused;
  StreamEnvironment env(config);
  if (Status s = script->addTo(env); !s.isOk()) {
    std::fprintf(stderr, "%s: %s\n", who, s.message().c_str());
    return 2;
  }
  return superviseJob(env, who, stateDir, flags.ops);
}

}  // namespace

void addSqlCommands(CLI::App& app, int& exitCode) {
  auto flags = std::make_shared<SqlFlags>();
  auto* run = app.add_subcommand("run", "run the INSERT statements of a SQL file (Flink's dialect) as one job");
  run->add_option("file", flags->file, "the SQL file")->required();
  run->add_option("--parallelism", flags->parallelism, "parallel subtasks (default: 'parallelism.default', else the number of cores)")
      ->check(numberIn(0, 1024));
  flags->checkpoints.add(run);
  flags->ops.add(run, "");
  run->callback([flags, run, &exitCode] {
    if (flags->ops.name.empty()) {  // the script's name, unless pipeline.name or --name says otherwise
      const size_t slash = flags->file.find_last_of('/');
      flags->ops.name = flags->file.substr(slash == std::string::npos ? 0 : slash + 1);
    }
    reka::installStopSignals(true);
    exitCode = runSql(*flags, false, run);
  });

  auto explainFlags = std::make_shared<SqlFlags>();
  auto* explain = app.add_subcommand("explain", "print the plan of the INSERT statements of a SQL file");
  explain->add_option("file", explainFlags->file, "the SQL file")->required();
  explain->callback([explainFlags, explain, &exitCode] { exitCode = runSql(*explainFlags, true, explain); });
}

}  // namespace reka::cli
