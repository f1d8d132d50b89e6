#include "NexmarkCommand.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <csignal>
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "Checkpointing.h"
#include "Config.h"
#include "JobControl.h"
#include "RunPaths.h"
#include "checkpoint/StateDirectoryLock.h"
#include "base/ProcessStats.h"
#include "reka/connector/Kafka.h"
#include "reka/data/StringArena.h"
#include "nexmark/Generator.h"
#include "nexmark/JsonCodec.h"
#include "nexmark/QueryJob.h"
#include "reka/reka.h"

namespace reka::cli {

namespace {

struct GeneratorFlags {
  int64_t events = -1;
  double rate = 10'000'000;
  int generators = 1;
  uint64_t seed = 0;
  int64_t outOfOrder = 1;

  void add(CLI::App* cmd, bool eventsRequired) {
    auto* e = cmd->add_option("--events", events, "number of events to generate")->check(numberIn(0, 1e18));
    if (eventsRequired) e->required();
    cmd->add_option("--rate", rate, "aggregate event-time rate R in events/s (default 10000000)")->check(numberIn(1e-9, 1e18, false));
    cmd->add_option("--generators", generators, "parallel generators n with disjoint id ranges (default 1)")
        ->check(numberIn(1, 1024));
    cmd->add_option("--seed", seed, "random seed (default 0)");
    cmd->add_option("--out-of-order", outOfOrder, "disorder group size g (default 1: in order)")->check(numberIn(1, 1099511627776.0));
  }
  nexmark::GeneratorConfig config() const {
    nexmark::GeneratorConfig c;
    c.events = events;
    c.rate = rate;
    c.generators = generators;
    c.seed = seed;
    c.outOfOrderGroupSize = outOfOrder;
    return c;
  }
};

std::string humanBytes(int64_t v) {
  char buf[32];
  if (v >= (1 << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(v) / (1 << 30));
  else if (v >= (1 << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(v) / (1 << 20));
  else if (v >= (1 << 10)) std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(v) / (1 << 10));
  else std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(v));
  return buf;
}

std::string humanCount(double v) {
  char buf[32];
  if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fK", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

/// `generate --output kafka://…`: one event per message (JSON), message k to partition k mod
/// partitions, timestamped with the event's dateTime; creates the topic if it is missing.
int runGenerateKafka(nexmark::Generator& generator, int generators, const std::string& output, int partitions) {
  namespace kafka = connector::kafka;
  auto uri = kafka::parseKafkaUri(output);
  if (!uri.isOk()) {
    std::fprintf(stderr, "reka nexmark generate: --output: %s\n", uri.status().message().c_str());
    return 2;
  }
  auto existing = kafka::partitionOffsets(uri->bootstrapServers, uri->topic);
  if (!existing.isOk() || existing->empty()) {
    Status created = kafka::createTopic(uri->bootstrapServers, uri->topic, partitions);
    if (!created.isOk())
      std::fprintf(stderr, "reka nexmark generate: could not create topic %s (%s); relying on the broker to create it\n",
                   uri->topic.c_str(), created.message().c_str());
    existing = kafka::partitionOffsets(uri->bootstrapServers, uri->topic);
  }
  if (!existing.isOk()) {
    std::fprintf(stderr, "reka nexmark generate: %s\n", existing.status().message().c_str());
    return 1;
  }
  const int actual = static_cast<int>(existing->size());
  if (actual != partitions)
    std::fprintf(stderr, "reka nexmark generate: topic %s has %d partitions; writing to all of them\n", uri->topic.c_str(), actual);
  kafka::KafkaSinkOptions o;
  o.bootstrapServers = uri->bootstrapServers;
  o.topic = uri->topic;
  o.properties = uri->properties;
  auto writer = kafka::SinkWriter::open(o, 0, false);
  if (!writer.isOk()) {
    std::fprintf(stderr, "reka nexmark generate: %s\n", writer.status().message().c_str());
    return 1;
  }
  int64_t longest = 0;
  for (int g = 0; g < generators; ++g) longest = std::max(longest, generator.eventCount(g));
  StringArena arena;
  kafka::ProducerRecord record;
  int64_t written = 0;
  for (int64_t k = 0; k < longest && reka::interruptCount() == 0; ++k) {
    for (int g = 0; g < generators; ++g) {
      if (k >= generator.eventCount(g)) continue;
      nexmark::Event e = generator.event(g, k, arena);
      record.clear();
      nexmark::appendEventJson(e, record.value);
      record.partition = static_cast<int32_t>(written % actual);
      record.timestampMs = e.dateTime();
      Status s = (*writer)->write(record);
      if (!s.isOk()) {
        std::fprintf(stderr, "reka nexmark generate: %s\n", s.message().c_str());
        return 1;
      }
      ++written;
    }
    if ((k & 4095) == 0) arena = StringArena();
  }
  Status s = (*writer)->finish();
  (*writer)->close();
  if (!s.isOk()) {
    std::fprintf(stderr, "reka nexmark generate: %s\n", s.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "reka nexmark generate: wrote %lld events to %s (%d partitions)\n", static_cast<long long>(written),
               output.c_str(), actual);
  return reka::interruptCount() > 0 ? 130 : 0;
}

int runGenerate(const GeneratorFlags& flags, const std::string& output, int partitions) {
  auto generator = nexmark::Generator::make(flags.config());
  if (!generator.isOk()) {
    std::fprintf(stderr, "reka nexmark generate: %s\n", generator.status().message().c_str());
    return 2;
  }
  if (connector::kafka::isKafkaUri(output)) return runGenerateKafka(*generator, flags.generators, output, partitions);
  std::FILE* out = stdout;
  if (!output.empty()) {
    // The checks of `nexmark run`'s outputs: a path refused before anything is written is a
    // usage error.
    RunPaths paths;
    paths.outputFiles.emplace_back("--output", output);
    if (auto bad = checkRunPaths(paths)) {
      std::fprintf(stderr, "reka nexmark generate: %s\n", bad->c_str());
      return 2;
    }
    // Never through a symlink planted at the path (O_NOFOLLOW).
    const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    out = fd < 0 ? nullptr : ::fdopen(fd, "w");
    if (out == nullptr) {
      std::fprintf(stderr, "reka nexmark generate: cannot open %s for writing: %s\n", output.c_str(),
                   errno == ELOOP ? "it is a symbolic link (Reka does not write through links)" : std::strerror(errno));
      if (fd >= 0) ::close(fd);
      return 1;
    }
  }
  const int n = flags.generators;
  int64_t longest = 0;
  for (int g = 0; g < n; ++g) longest = std::max(longest, generator->eventCount(g));
  std::string buffer;
  buffer.reserve(1 << 21);
  StringArena arena;
  int64_t written = 0;
  // Generators interleave event by event, as their timestamps do.
  for (int64_t k = 0; k < longest && reka::interruptCount() == 0; ++k) {
    for (int g = 0; g < n; ++g) {
      if (k >= generator->eventCount(g)) continue;
      nexmark::appendEventJson(generator->event(g, k, arena), buffer);
      buffer.push_back('\n');
      ++written;
    }
    if (buffer.size() >= (1 << 20)) {
      if (std::fwrite(buffer.data(), 1, buffer.size(), out) != buffer.size()) {
        std::fprintf(stderr, "reka nexmark generate: write failed\n");
        return 1;
      }
      buffer.clear();
      arena = StringArena();
    }
  }
  bool ok = std::fwrite(buffer.data(), 1, buffer.size(), out) == buffer.size();
  ok = std::fflush(out) == 0 && ok;
  if (out != stdout) ok = std::fclose(out) == 0 && ok;
  if (!ok) {
    std::fprintf(stderr, "reka nexmark generate: write failed\n");
    return 1;
  }
  if (!output.empty()) std::fprintf(stderr, "reka nexmark generate: wrote %lld events to %s\n", static_cast<long long>(written), output.c_str());
  return reka::interruptCount() > 0 ? 130 : 0;
}

struct RunFlags {
  std::string query;
  std::string input;
  std::string output;
  std::string outputDir;
  std::string report;
  std::string deadLetter;
  std::string lateOutput;
  std::string maxAhead = "10m";
  std::string maxLineBytes = "1MiB";
  bool overwriteOutput = false;
  bool unbounded = false;
  bool follow = false;
  std::string onBadInput = "dead-letter";
  int parallelism = ExecutionConfig::defaultParallelism();
  int workers = 0;
  int64_t idleSpinUs = 0;
  size_t batchSize = 1024;
  bool noProgress = false;
  CheckpointFlags checkpoints;
  OperationFlags ops;
};

/// Checks every path and flag value of a run before anything starts; fills `options` and
/// `config`. A message says what is wrong (exit status 2).
std::optional<std::string> prepareRun(const RunFlags& flags, const CLI::App& cmd, nexmark::QueryJobOptions& options,
                                      ExecutionConfig& config) {
  for (const char* flag : {"--output", "--output-dir", "--dead-letter", "--late-output", "--report", "--state-dir"}) {
    if (cmd.count(flag) == 0) continue;
    const auto* opt = cmd.get_option(flag);
    if (opt->as<std::string>().empty()) return std::string(flag) + " needs a path (an empty one would write nowhere)";
  }
  auto maxAhead = parseDuration(flags.maxAhead);
  if (!maxAhead)
    return "--max-ahead '" + flags.maxAhead + "' is not a duration; accepted: a whole number with ms, s, m, h or d (e.g. 10m), or 0 for no cap";
  auto maxLine = parseByteSize(flags.maxLineBytes);
  if (!maxLine || *maxLine < 1 || *maxLine > (int64_t{1} << 30))
    return "--max-line-bytes '" + flags.maxLineBytes + "' is not a size from 1 byte to 1GiB; accepted: e.g. 65536, 64KiB, 1MiB";
  options.maxAheadMs = maxAhead->count();
  options.maxLineBytes = static_cast<size_t>(*maxLine);
  if (auto bad = flags.checkpoints.apply(config)) return bad;
  if (auto bad = flags.ops.apply(config)) return bad;
  const bool kafkaInput = connector::kafka::isKafkaUri(flags.input);
  const bool kafkaOutput = connector::kafka::isKafkaUri(flags.output);
  if (kafkaInput) {
    auto uri = connector::kafka::parseKafkaUri(flags.input);
    if (!uri.isOk()) return "--input: " + uri.status().message();
  }
  if (kafkaOutput) {
    auto uri = connector::kafka::parseKafkaUri(flags.output);
    if (!uri.isOk()) return "--output: " + uri.status().message();
  }
  const bool kafkaDeadLetters = connector::kafka::isKafkaUri(flags.deadLetter);
  if (kafkaDeadLetters) {
    auto uri = connector::kafka::parseKafkaUri(flags.deadLetter);
    if (!uri.isOk()) return "--dead-letter: " + uri.status().message();
  }
  if (flags.unbounded && !kafkaInput) return "--unbounded needs a Kafka --input (kafka://HOST:PORT/TOPIC)";
  if (flags.follow && (kafkaInput || flags.input.empty()))
    return "--follow needs a file --input (a path or a glob pattern such as 'logs/*.jsonl')";
  const bool pattern = !kafkaInput && flags.input.find_first_of("*?[") != std::string::npos;
  if (pattern && !flags.follow && !std::filesystem::exists(flags.input))
    return "--input '" + flags.input + "' is a pattern: give --follow to read the files it matches";
  RunPaths paths;
  paths.input = kafkaInput || pattern ? "" : flags.input;
  paths.outputDir = flags.outputDir;
  paths.stateDir = flags.checkpoints.stateDir;
  for (const auto& [flag, path] : {std::pair<std::string, std::string>{"--output", kafkaOutput ? "" : flags.output},
                                   {"--dead-letter", kafkaDeadLetters ? "" : flags.deadLetter},
                                   {"--late-output", flags.lateOutput},
                                   {"--report", flags.report}}) {
    if (!path.empty()) paths.outputFiles.emplace_back(flag, path);
  }
  return checkRunPaths(paths);
}

int runQuery(const GeneratorFlags& gen, const RunFlags& flags, const CLI::App& cmd) {
  nexmark::QueryJobOptions options;
  options.query = flags.query;
  options.generator = gen.config();
  options.inputPath = flags.input;
  options.outputPath = flags.output;
  options.outputDir = flags.outputDir;
  options.deadLetterPath = flags.deadLetter;
  options.lateOutputPath = flags.lateOutput;
  options.badInput = flags.onBadInput == "fail" ? nexmark::BadInputPolicy::kFail : nexmark::BadInputPolicy::kDeadLetter;
  options.kafkaBounded = !flags.unbounded;
  options.follow = flags.follow;
  if (!flags.checkpoints.stateDir.empty()) options.kafkaTransactionLogDir = flags.checkpoints.stateDir + "/kafka-transactions";

  ExecutionConfig config;
  config.jobName = flags.ops.name.empty() ? "nexmark " + flags.query : flags.ops.name;
  config.parallelism = flags.parallelism;
  config.workerThreads = flags.workers;
  config.idleSpin = std::chrono::microseconds(flags.idleSpinUs);
  config.batchSize = flags.batchSize;
  // A file's watermark advances after every batch, not every 200 ms of wall time: which records
  // are late then depends on the input and --batch-size only (at parallelism 1; see
  // docs/nexmark.md, "Late data"), not on how fast the machine reads.
  if (!flags.input.empty()) config.watermarkInterval = std::chrono::milliseconds(0);
  if (auto bad = prepareRun(flags, cmd, options, config)) {
    std::fprintf(stderr, "reka nexmark run: %s\n", bad->c_str());
    return 2;
  }
  const std::string& stateDir = flags.checkpoints.stateDir;
  // One job per state directory, held until this function returns (the kernel drops the lock
  // if the process dies).
  std::optional<checkpoint::StateDirectoryLock> lock;
  if (int refused = lockStateDir("reka nexmark run", stateDir, lock)) return refused;
  const bool resuming = !flags.checkpoints.fromSavepoint.empty() || hasCompleteCheckpoint(stateDir);
  if (auto refused = checkFreshOutputDir(flags.outputDir, stateDir, resuming, flags.overwriteOutput)) {
    std::fprintf(stderr, "reka nexmark run: %s\n", refused->c_str());
    return 2;
  }
  StreamEnvironment env(config);
  auto counters = nexmark::buildQueryJob(env, options);
  if (!counters.isOk()) {
    std::fprintf(stderr, "reka nexmark run: %s\n", counters.status().message().c_str());
    return 2;
  }

  const auto start = std::chrono::steady_clock::now();
  const double cpuStart = processCpuSeconds();
  auto client = env.executeAsync();
  if (!client.isOk()) {
    std::fprintf(stderr, "reka nexmark run: %s\n", client.status().message().c_str());
    return 1;
  }
  auto rest = RestSession::start("reka nexmark run", flags.ops, stateDir, **client);
  if (!rest.isOk()) {
    std::fprintf(stderr, "reka nexmark run: %s\n", rest.status().message().c_str());
    (*client)->cancel();
    (void)(*client)->wait();
    return 1;
  }
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto progressEvery = std::chrono::milliseconds(tty ? 500 : 10000);
  auto lastProgress = start;
  int64_t lastEvents = 0;
  bool printedProgress = false;
  SupervisorOptions supervision;
  supervision.who = "reka nexmark run";
  supervision.memoryBudgetBytes = flags.ops.memoryBudgetBytes();
  supervision.savepointOnStop = !stateDir.empty() && config.checkpoints.guarantee != DeliveryGuarantee::kAtMostOnce;
  supervision.onTick = [&](JobClient& job) {
    auto now = std::chrono::steady_clock::now();
    if (flags.noProgress || now - lastProgress < progressEvery) return;
    JobMetrics m = job.metrics();
    double dt = std::chrono::duration<double>(now - lastProgress).count();
    const int64_t bad = (*counters)->badRecords.load();
    std::fprintf(stderr, "%s[%s] events %s  %s/s  watermark %s  rows %s%s%s%s", tty ? "\r" : "", flags.query.c_str(),
                 humanCount(static_cast<double>(m.sourceRecords)).c_str(),
                 humanCount(static_cast<double>(m.sourceRecords - lastEvents) / dt).c_str(), formatUtcMillis(m.watermark != INT64_MIN ? m.watermark : m.eventTime).c_str(),
                 humanCount(static_cast<double>((*counters)->outputRows.load())).c_str(),
                 m.lateRecords > 0 ? ("  late " + humanCount(static_cast<double>(m.lateRecords))).c_str() : "",
                 bad > 0 ? ("  bad " + humanCount(static_cast<double>(bad))).c_str() : "", tty ? "   " : "\n");
    std::fflush(stderr);
    printedProgress = tty;
    lastEvents = m.sourceRecords;
    lastProgress = now;
  };
  const SupervisedRun run = reka::superviseJob(**client, supervision);
  bool stoppedWithSavepoint = !run.savepoint.empty();
  const Status& status = run.status;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = processCpuSeconds() - cpuStart;
  JobMetrics m = (*client)->metrics();
  if (printedProgress) std::fprintf(stderr, "\n");
  (*rest)->close();  // waits for a REST stop in flight, so that stopped() is final
  const bool stoppedByRest = (*rest)->stopped();
  if (stoppedByRest) {
    stoppedWithSavepoint = !(*rest)->savepoint().empty();
    if (stoppedWithSavepoint)
      std::fprintf(stderr, "reka nexmark run: stopped through the REST API with savepoint %s\n", (*rest)->savepoint().c_str());
    else
      std::fprintf(stderr, "reka nexmark run: cancelled through the REST API\n");
  }
  if (!status.isOk() && status.code() != StatusCode::kCancelled) {
    std::fprintf(stderr, "reka nexmark run: job failed: %s\n", status.message().c_str());
    return 1;
  }

  const auto& c = **counters;
  // State in checkpoint storage per operator (its subtasks together), for those that have any.
  std::vector<std::pair<std::string, int64_t>> stateByOperator;
  for (const auto& op : m.operators) {
    if (op.stateBytes <= 0) continue;
    auto it = std::find_if(stateByOperator.begin(), stateByOperator.end(), [&](const auto& e) { return e.first == op.name; });
    if (it == stateByOperator.end()) stateByOperator.emplace_back(op.name, op.stateBytes);
    else it->second += op.stateBytes;
  }
  int64_t eventCount = 0;
  for (const auto& op : m.operators)
    if (op.name == nexmark::kEventSourceName) eventCount += op.recordsOut;
  const double events = static_cast<double>(eventCount);
  std::string json;
  {
    nexmark::JsonRowWriter w(json);
    w.begin();
    w.field("query", flags.query);
    w.field("events", eventCount);
    if (flags.input.empty()) {
      w.fieldDouble("rate", gen.rate);
    } else {
      w.fieldNull("rate");
      w.field("input", flags.input);
      w.field("bad_records", c.badRecords.load());
    }
    w.field("parallelism", flags.parallelism);
    w.fieldDouble("wall_s", wall);
    w.fieldDouble("cpu_s", cpu);
    w.fieldDouble("events_per_s", wall > 0 ? events / wall : 0);
    w.fieldDouble("events_per_cpu_s", cpu > 0 ? events / cpu : 0);
    w.field("output_rows", c.outputRows.load());
    w.field("late_records", m.lateRecords);
    w.field("peak_rss_bytes", peakRssBytes());
    w.field("checksum", static_cast<int64_t>(c.checksum.load()));
    w.field("status", status.isOk() ? "finished" : stoppedWithSavepoint ? "stopped-with-savepoint" : "cancelled");
    if (!stateDir.empty()) {
      w.field("delivery", deliveryGuaranteeName(config.checkpoints.guarantee));
      w.field("checkpoint_interval_ms", static_cast<int64_t>(config.checkpoints.interval.count()));
      w.field("checkpoints_completed", m.completedCheckpoints);
      w.field("checkpoints_failed", m.failedCheckpoints);
      w.field("last_checkpoint_bytes", m.lastCheckpointBytes);
      w.fieldDouble("last_checkpoint_ms", m.lastCheckpointMs);
      w.fieldDouble("last_checkpoint_sync_ms", m.lastCheckpointSyncMs);
      w.fieldDouble("checkpoint_copy_cpu_ms", m.checkpointCopyCpuMs);
      w.fieldDouble("checkpoint_write_cpu_ms", m.checkpointWriteCpuMs);
      w.field("restored_checkpoint", m.restoredCheckpointId);
      w.fieldDouble("restore_ms", m.restoreMs);
      w.field("restarts", static_cast<int64_t>(m.restarts));
      w.beginObject("state_bytes");
      for (const auto& [name, bytes] : stateByOperator) w.field(name, bytes);
      w.endObject();
    }
    w.end();
  }
  std::string extra;
  if (!flags.input.empty()) extra += ", " + std::to_string(c.badRecords.load()) + " bad input lines";
  if (m.lateRecords > 0)
    extra += ", " + std::to_string(m.lateRecords) + " late records" +
             (flags.lateOutput.empty() ? " (counted only; --late-output FILE writes them)"
                                       : " (late-output " + flags.lateOutput + "; see docs/nexmark.md for which are written)");
  std::printf("%s: %lld events in %.3f s wall, %.3f s CPU (%s events/s, %s events/CPU-s), %lld output rows, peak RSS %.1f MiB%s\n",
              flags.query.c_str(), static_cast<long long>(eventCount), wall, cpu,
              humanCount(wall > 0 ? events / wall : 0).c_str(), humanCount(cpu > 0 ? events / cpu : 0).c_str(),
              static_cast<long long>(c.outputRows.load()), static_cast<double>(peakRssBytes()) / (1 << 20), extra.c_str());
  if (!flags.report.empty()) {
    if (auto failed = writeWholeFile(flags.report, json)) {
      std::fprintf(stderr, "reka nexmark run: %s\n", failed->c_str());
      return 1;
    }
  }
  if (!stateDir.empty())
    std::printf(
        "checkpoints: %lld completed, %lld failed, last %lld bytes in %.1f ms, largest %lld bytes, longest copy %.1f ms (of "
        "deltas only: %.1f ms); task snapshots %lld incremental, %lld full; CPU %.0f ms copying state, %.0f ms writing%s\n",
        static_cast<long long>(m.completedCheckpoints), static_cast<long long>(m.failedCheckpoints),
        static_cast<long long>(m.lastCheckpointBytes), m.lastCheckpointMs, static_cast<long long>(m.largestCheckpointBytes),
        m.longestCheckpointSyncMs, m.longestDeltaCheckpointSyncMs, static_cast<long long>(m.deltaTaskSnapshots),
        static_cast<long long>(m.fullTaskSnapshots), m.checkpointCopyCpuMs, m.checkpointWriteCpuMs,
        m.restoredCheckpointId > 0 ? (", resumed from " + std::to_string(m.restoredCheckpointId)).c_str() : "");
  if (!stateDir.empty() && !stateByOperator.empty()) {
    std::string line = "state in checkpoints:";
    for (size_t i = 0; i < stateByOperator.size(); ++i)
      line += (i > 0 ? ", " : " ") + stateByOperator[i].first + " " + humanBytes(stateByOperator[i].second);
    std::printf("%s\n", line.c_str());
  }
  return status.isOk() || stoppedWithSavepoint || stoppedByRest ? 0 : 130;
}

}  // namespace

void addNexmarkCommand(CLI::App& app, int& exitCode) {
  auto* nexmark = app.add_subcommand("nexmark", "Generate NEXMark events and run NEXMark queries");
  // Not require_subcommand(): then an unknown word is reported by name ("not expected: x").
  nexmark->callback([nexmark] {
    if (nexmark->get_subcommands().empty()) throw CLI::RequiredError("reka nexmark: a command (generate or run)");
  });

  auto genFlags = std::make_shared<GeneratorFlags>();
  auto genOutput = std::make_shared<std::string>();
  auto* generate = nexmark->add_subcommand("generate", "Write the NEXMark event stream as JSON lines");
  genFlags->add(generate, true);
  auto genPartitions = std::make_shared<int>(8);
  generate->add_option("--output", *genOutput, "file to write, or kafka://HOST:PORT/TOPIC (one event per message) (default: stdout)");
  generate->add_option("--partitions", *genPartitions, "Kafka output: partitions of the topic if it is created (default 8)")
      ->check(numberIn(1, 100000));
  generate->callback([genFlags, genOutput, genPartitions, &exitCode] {
    reka::installStopSignals(false);
    exitCode = runGenerate(*genFlags, *genOutput, *genPartitions);
  });

  auto runGen = std::make_shared<GeneratorFlags>();
  auto run = std::make_shared<RunFlags>();
  auto* runCmd = nexmark->add_subcommand("run", "Run a NEXMark query on generated events or an event file");
  runCmd->add_option("--query", run->query, "the query to run (required)")
      ->check(CLI::IsMember(nexmark::supportedQueries()));
  runGen->add(runCmd, false);
  auto* eventsOpt = runCmd->get_option("--events");
  auto* inputOpt =
      runCmd
          ->add_option("--input", run->input,
                       "JSON-lines event file (docs/nexmark.md), a FIFO, or kafka://HOST:PORT/TOPIC (one event per message)")
          ->check(CLI::Validator(
              [](std::string& v) {
                if (connector::kafka::isKafkaUri(v) || v.find_first_of("*?[") != std::string::npos) return std::string();
                return CLI::ExistingFile(v);
              },
              "FILE, PATTERN (with --follow) or kafka://HOST:PORT/TOPIC"));
  eventsOpt->excludes(inputOpt);
  inputOpt->excludes(eventsOpt);
  runCmd->add_option("--parallelism", run->parallelism, "parallel subtasks per operator (default: number of cores)")
      ->check(numberIn(1, 128));
  runCmd->add_option("--workers", run->workers, "worker threads (default: number of cores)")->check(numberIn(0, 1024));
  runCmd->add_option("--idle-spin-us", run->idleSpinUs,
                     "µs an idle worker polls for work before it sleeps: lower latency for more CPU (default 0)")
      ->check(numberIn(0, 1000000));
  runCmd->add_option("--batch-size", run->batchSize, "records per batch (default 1024)")->check(numberIn(1, 1 << 20));
  auto* outputOpt = runCmd->add_option(
      "--output", run->output,
      "write result rows as JSON lines to this file, or as JSON messages to kafka://HOST:PORT/TOPIC (transactions under "
      "exactly-once with --state-dir) (default: discard after touching every field)");
  runCmd->add_flag("--follow", run->follow,
                   "file input: keep reading appended lines and new files matching --input (a glob pattern may be given), "
                   "through rotation, until SIGTERM/Ctrl-C");
  runCmd->add_flag("--unbounded", run->unbounded,
                   "Kafka input: keep reading new messages until stopped (default: stop at the end offsets present at start)");
  auto* outputDirOpt = runCmd->add_option(
      "--output-dir", run->outputDir,
      "write result rows as JSON lines into part files under this directory, exactly once (each subtask its own files; q10 partitioned by dt/hm)");
  outputOpt->excludes(outputDirOpt);
  outputDirOpt->excludes(outputOpt);
  runCmd->add_option("--report", run->report, "write the run summary as JSON to this file");
  runCmd->add_option("--dead-letter", run->deadLetter,
                     "write unparseable input lines here as JSON lines with their position and reason, or as JSON messages to "
                     "kafka://HOST:PORT/TOPIC (default: stderr, first 20)");
  runCmd->add_option("--late-output", run->lateOutput,
                     "write records too late for their windows here, as input events (default: count them only)");
  runCmd->add_option("--max-ahead", run->maxAhead,
                     "far-future cap: one event moves event time at most this far past the highest before it (default 10m; 0: no cap)");
  runCmd->add_option("--max-line-bytes", run->maxLineBytes, "longer input lines are dead letters (default 1MiB; e.g. 64KiB)");
  runCmd->add_flag("--overwrite-output", run->overwriteOutput,
                   "start over: delete the committed part files in --output-dir when there is no checkpoint to resume from");
  runCmd->add_option("--on-bad-input", run->onBadInput, "dead-letter (count and continue) or fail")
      ->check(CLI::IsMember({"dead-letter", "fail"}));
  runCmd->add_flag("--no-progress", run->noProgress, "no progress line on stderr");
  run->checkpoints.add(runCmd);
  run->ops.add(runCmd, "");
  runCmd->callback([runGen, run, runCmd, &exitCode] {
    if (auto bad = run->ops.prepare(runCmd)) {
      std::fprintf(stderr, "reka nexmark run: %s\n", bad->c_str());
      exitCode = 2;
      return;
    }
    if (run->query.empty()) throw CLI::RequiredError("--query (or the configuration key reka.query)");
    if (runCmd->count("--events") == 0 && runCmd->count("--input") == 0) {
      throw CLI::RequiredError("reka nexmark run needs --events N (in-process generator) or --input FILE");
    }
    reka::installStopSignals(true);
    exitCode = runQuery(*runGen, *run, *runCmd);
  });
}

}  // namespace reka::cli
