#include "ConnectorsCommand.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "Checkpointing.h"
#include "Config.h"
#include "JobControl.h"
#include "checkpoint/StateDirectoryLock.h"
#include "reka/connector/Registry.h"
#include "reka/reka.h"

namespace reka::cli {

namespace {

std::string list(const std::vector<std::string>& items) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) s += (i > 0 ? ", " : "") + items[i];
  return s.empty() ? "-" : s;
}

int showConnectors() {
  std::printf("Connectors ('connector' = NAME):\n");
  for (const auto* c : connector::connectors()) {
    std::printf("  %s: %s\n", c->name.c_str(), c->description.c_str());
    if (c->makeSource) std::printf("    source options: %s\n", list(c->sourceOptions).c_str());
    if (c->makeSink) std::printf("    sink options: %s\n", list(c->sinkOptions).c_str());
  }
  std::printf("\nFormats ('format' = NAME; options as 'NAME.option'):\n");
  for (const auto* f : connector::formats()) {
    std::printf("  %s: %s%s\n", f->name.c_str(), f->description.c_str(), f->changelog ? " (a changelog)" : "");
    std::printf("    options: %s\n", list(f->options).c_str());
  }
  return 0;
}

/// "key=value" items as options; a message names the item that is not one.
std::optional<std::string> parseOptions(const std::vector<std::string>& items, const char* flag, connector::Options& out) {
  for (const auto& item : items) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return std::string(flag) + " '" + item + "' is not KEY=VALUE (e.g. " + flag + " connector=kafka)";
    out.set(item.substr(0, eq), item.substr(eq + 1));
  }
  return std::nullopt;
}

struct CopyFlags {
  std::string schema;
  std::vector<std::string> from;
  std::vector<std::string> to;
  int parallelism = 0;
  CheckpointFlags checkpoints;
  OperationFlags ops;
};

int runCopy(const CopyFlags& flags) {
  auto schema = Schema::parse(flags.schema);
  if (!schema.isOk()) {
    std::fprintf(stderr, "reka copy: --schema: %s\n", schema.status().message().c_str());
    return 2;
  }
  connector::Options from, to;
  for (const auto& bad : {parseOptions(flags.from, "--from", from), parseOptions(flags.to, "--to", to)}) {
    if (bad) {
      std::fprintf(stderr, "reka copy: %s\n", bad->c_str());
      return 2;
    }
  }
  ExecutionConfig config;
  config.jobName = flags.ops.name;
  if (flags.parallelism > 0) config.parallelism = flags.parallelism;
  if (auto bad = flags.checkpoints.apply(config); bad || (bad = flags.ops.apply(config))) {
    std::fprintf(stderr, "reka copy: %s\n", bad->c_str());
    return 2;
  }
  const std::string& stateDir = flags.checkpoints.stateDir;
  std::optional<checkpoint::StateDirectoryLock> lock;
  if (int refused = lockStateDir("reka copy", stateDir, lock)) return refused;
  // Exactly-once into Kafka logs open transactions in the state directory unless told otherwise.
  const std::string sink = to.get("connector");
  if (!stateDir.empty() && (sink == "kafka" || sink == "upsert-kafka") && !to.has("sink.transaction-log-dir"))
    to.set("sink.transaction-log-dir", stateDir + "/kafka-transactions");
  StreamEnvironment env(config);
  auto rows = connector::readTable(env, "from", *schema, from);
  if (!rows.isOk()) {
    std::fprintf(stderr, "reka copy: --from: %s\n", rows.status().message().c_str());
    return 2;
  }
  if (Status s = connector::writeTable(*rows, "to", *schema, to); !s.isOk()) {
    std::fprintf(stderr, "reka copy: --to: %s\n", s.message().c_str());
    return 2;
  }
  return superviseJob(env, "reka copy", stateDir, flags.ops);
}

}  // namespace

void addConnectorsCommands(CLI::App& app, int& exitCode) {
  auto* connectors = app.add_subcommand("connectors", "list the connectors and formats a table can use, with their options");
  connectors->callback([&exitCode] { exitCode = showConnectors(); });

  auto flags = std::make_shared<CopyFlags>();
  auto* copy = app.add_subcommand(
      "copy",
      "read a table through one connector and write it through another (e.g. a Kafka topic of JSON into CSV files)");
  copy->add_option("--schema", flags->schema, "the columns, in Flink SQL: 'id BIGINT, name STRING, ts TIMESTAMP(3)' (required)");
  copy->add_option("--from", flags->from, "a source option KEY=VALUE (repeat; required): connector=kafka, topic=…, format=json, …");
  copy->add_option("--to", flags->to, "a sink option KEY=VALUE (repeat; required): connector=filesystem, path=…, format=csv, …");
  copy->add_option("--parallelism", flags->parallelism, "parallel subtasks (default: number of cores)")->check(numberIn(0, 1024));
  flags->checkpoints.add(copy);
  flags->ops.add(copy, "copy");
  copy->callback([flags, copy, &exitCode] {
    if (auto bad = flags->ops.prepare(copy)) {
      std::fprintf(stderr, "reka copy: %s\n", bad->c_str());
      exitCode = 2;
      return;
    }
    if (flags->schema.empty()) throw CLI::RequiredError("--schema (or the configuration key reka.schema)");
    if (flags->from.empty()) throw CLI::RequiredError("--from (or the configuration key reka.from)");
    if (flags->to.empty()) throw CLI::RequiredError("--to (or the configuration key reka.to)");
    reka::installStopSignals(true);
    exitCode = runCopy(*flags);
  });
}

}  // namespace reka::cli
