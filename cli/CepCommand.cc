#include "CepCommand.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "Checkpointing.h"
#include "Config.h"
#include "JobControl.h"
#include "nexmark/Sinks.h"
#include "reka/cep/RuleSource.h"
#include "reka/cep/RuleStream.h"
#include "reka/connector/DeadLetters.h"
#include "reka/connector/FileSource.h"
#include "reka/connector/Kafka.h"
#include "reka/connector/SplitSource.h"
#include "reka/base/Units.h"
#include "reka/reka.h"

namespace reka::cli {

namespace {

struct CepFlags {
  std::string rules;
  std::string input;
  std::string key;
  std::string time;
  std::string output;
  std::string deadLetter;
  std::string lateOutput;
  std::string outOfOrderness = "0s";
  bool follow = false;
  bool unbounded = false;
  bool watchRules = false;
  bool noWatchRules = false;
  int parallelism = -1;
  size_t maxLineBytes = 1 << 20;
  CheckpointFlags checkpoints;
  OperationFlags ops;
};

/// One line of --input as an event, or why it is not one (a dead letter).
struct DecodeLine {
  DecodeLine(std::string time, std::string key) : time(std::move(time)), key(std::move(key)), reader(std::make_shared<cep::EventReader>(this->time, this->key)) {}
  DecodeLine(const DecodeLine& o) : time(o.time), key(o.key), reader(std::make_shared<cep::EventReader>(o.time, o.key)) {}
  Status operator()(std::string_view line, std::vector<cep::Event>& out, StringArena&) const {
    REKA_ASSIGN_OR_RETURN(cep::Event e, reader->read(line));
    out.push_back(std::move(e));
    return Status::ok();
  }
  std::string time, key;
  std::shared_ptr<cep::EventReader> reader;
};

struct DecodeMessage {
  DecodeMessage(std::string time, std::string key, std::shared_ptr<nexmark::QueryCounters> counters)
      : line(std::move(time), std::move(key)), counters(std::move(counters)) {}
  Status operator()(const connector::kafka::KafkaMessage& m, std::vector<cep::Event>& out, StringArena& arena) const {
    counters->inputLines.fetch_add(1, std::memory_order_relaxed);
    if (!m.value) return Status::invalidArgument("a null value (tombstone) is not an event");
    return line(*m.value, out, arena);
  }
  DecodeLine line;
  std::shared_ptr<nexmark::QueryCounters> counters;
};

struct EventTime {
  int64_t operator()(const cep::Event& e) const { return e.timestamp(); }
};

struct EventLine {
  void operator()(const cep::Event& e, std::string& out) const {
    out += e.json();
    out += '\n';
  }
};

struct AlertLine {
  void operator()(const cep::Alert& a, std::string& out) const {
    out += a.json;
    out += '\n';
  }
};

/// The events of --input: a file (read once or followed), a pattern, or a Kafka topic.
Result<DataStream<cep::Event>> eventSource(StreamEnvironment& env, const CepFlags& f, std::shared_ptr<nexmark::QueryCounters> counters,
                                           int64_t outOfOrdernessMs) {
  const bool kafka = connector::kafka::isKafkaUri(f.input);
  const bool eventTime = !f.time.empty();
  auto strategy = watermarks::boundedOutOfOrderness<cep::Event>(std::chrono::milliseconds(outOfOrdernessMs), EventTime{});
  if (f.follow || (kafka && f.unbounded)) strategy = strategy.withIdleness(std::chrono::seconds(10));
  auto deadLetters = std::make_shared<connector::DeadLetterOutput>(f.deadLetter, kafka ? &counters->badRecords : nullptr);
  if (kafka) {
    REKA_ASSIGN_OR_RETURN(connector::kafka::KafkaUri uri, connector::kafka::parseKafkaUri(f.input));
    connector::kafka::KafkaSourceOptions o = connector::kafka::sourceOptions(uri);
    o.bounded = !f.unbounded;
    REKA_RETURN_IF_ERROR(o.validate());
    auto spec = connector::kafka::kafkaSource<cep::Event>(o, DecodeMessage(f.time, f.key, counters), connector::kafka::BadRecordPolicy::kDeadLetter,
                                                          std::make_shared<connector::KafkaDeadLetters>(deadLetters));
    if (eventTime) return connector::fromSource(env, "events", std::move(spec), strategy);
    return connector::fromSource(env, "events", std::move(spec));
  }
  connector::file::FileSourceOptions o;
  o.path = f.input;
  o.follow = f.follow;
  o.maxLineBytes = f.maxLineBytes;
  connector::file::FileSourceCounters c{&counters->inputLines, &counters->badRecords, counters};
  auto spec = connector::file::fileSource<cep::Event>(o, DecodeLine(f.time, f.key), connector::BadRecordPolicy::kDeadLetter, deadLetters, c);
  if (eventTime) return connector::fromSource(env, "events", std::move(spec), strategy, 1);
  return connector::fromSource(env, "events", std::move(spec), 1);
}

std::optional<std::string> readFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read " + path;
  std::stringstream s;
  s << in.rdbuf();
  out = s.str();
  return std::nullopt;
}

int runCep(CepFlags flags, CLI::App* cmd) {
  const char* who = "reka cep run";
  if (auto bad = flags.ops.prepare(cmd)) {
    std::fprintf(stderr, "%s: %s\n", who, bad->c_str());
    return 2;
  }
  // A rule file is checked before the job starts: a bad one is a usage error here (while the job
  // runs, a bad change is refused and the job keeps its rules). A topic's rules are checked as
  // they are read.
  const bool kafkaRules = connector::kafka::isKafkaUri(flags.rules);
  std::optional<connector::kafka::KafkaUri> rulesUri;
  if (kafkaRules) {
    auto uri = connector::kafka::parseKafkaUri(flags.rules);
    if (!uri.isOk()) {
      std::fprintf(stderr, "%s: --rules: %s\n", who, uri.status().message().c_str());
      return 2;
    }
    rulesUri = uri.value();
  } else {
    std::string text;
    if (auto bad = readFile(flags.rules, text)) {
      std::fprintf(stderr, "%s: --rules: %s\n", who, bad->c_str());
      return 2;
    }
    auto doc = cep::parseRuleDocument(text, true);
    if (!doc.isOk()) {
      std::fprintf(stderr, "%s: --rules %s: %s\n", who, flags.rules.c_str(), doc.status().message().c_str());
      return 2;
    }
    for (const auto& r : doc->rules) {
      if (auto c = cep::compileRule(r); !c.isOk()) {
        std::fprintf(stderr, "%s: --rules %s: %s\n", who, flags.rules.c_str(), c.status().message().c_str());
        return 2;
      }
    }
  }
  const bool kafka = connector::kafka::isKafkaUri(flags.input);
  if (flags.unbounded && !kafka) {
    std::fprintf(stderr, "%s: --unbounded needs a Kafka --input (kafka://HOST:PORT/TOPIC); a file is followed with --follow\n", who);
    return 2;
  }
  if (flags.follow && kafka) {
    std::fprintf(stderr, "%s: --follow reads files; a Kafka --input is read to its end unless --unbounded\n", who);
    return 2;
  }
  auto outOfOrderness = parseDuration(flags.outOfOrderness);
  if (!outOfOrderness) {
    std::fprintf(stderr, "%s: --out-of-orderness '%s': expected a duration such as 0s, 500ms, 5s\n", who, flags.outOfOrderness.c_str());
    return 2;
  }
  ExecutionConfig config;
  config.jobName = flags.ops.name;
  if (flags.parallelism > 0) config.parallelism = flags.parallelism;
  if (auto bad = flags.checkpoints.apply(config); bad || (bad = flags.ops.apply(config))) {
    std::fprintf(stderr, "%s: %s\n", who, bad->c_str());
    return 2;
  }
  const std::string& stateDir = flags.checkpoints.stateDir;
  std::optional<checkpoint::StateDirectoryLock> lock;
  if (int refused = lockStateDir(who, stateDir, lock)) return refused;
  StreamEnvironment env(config);
  auto counters = std::make_shared<nexmark::QueryCounters>();
  auto events = eventSource(env, flags, counters, outOfOrderness->count());
  if (!events.isOk()) {
    std::fprintf(stderr, "%s: --input: %s\n", who, events.status().message().c_str());
    return 2;
  }
  const bool unboundedInput = flags.follow || (kafka && flags.unbounded);
  const bool watch = flags.watchRules || (unboundedInput && !flags.noWatchRules);
  cep::RuleOptions options;
  options.processingTime = flags.time.empty();
  std::optional<DataStream<cep::RuleUpdate>> rules;
  if (kafkaRules) {
    // Watched: read from the topic's start and on as rules are written; the first events may
    // meet only the rules read so far (an empty topic must not hold them back). Read once: to
    // the end offsets at start, before any event.
    connector::kafka::KafkaSourceOptions ko = connector::kafka::sourceOptions(*rulesUri);
    ko.bounded = !watch;
    if (Status s = ko.validate(); !s.isOk()) {
      std::fprintf(stderr, "%s: --rules: %s\n", who, s.message().c_str());
      return 2;
    }
    rules = cep::ruleKafkaSource(env, ko);
    options.waitForRules = false;
    options.rulesToEndFirst = !watch;
  } else {
    cep::RuleFileOptions ro;
    ro.path = flags.rules;
    ro.watch = watch;
    rules = cep::ruleFileSource(env, ro);
    options.rulesToEndFirst = !watch;
  }
  static const OutputTag<cep::Event> kLate("late events");
  if (!flags.lateOutput.empty()) options.lateDataTag = kLate.id();
  auto alerts = cep::applyRules(events.value(), *rules, "cep-rules", options);
  if (!flags.lateOutput.empty())
    alerts.sideOutput(kLate).rebalance().sink("late events", nexmark::JsonLinesFileSink<cep::Event, EventLine>(flags.lateOutput, counters, false, 0)).parallelism(1);
  if (flags.output.empty()) {
    alerts.rebalance()
        .sink("alerts",
              [](const cep::Alert& a) {
                std::fwrite(a.json.data(), 1, a.json.size(), stdout);
                std::fputc('\n', stdout);
                std::fflush(stdout);  // alerts are read as they come
              })
        .parallelism(1);
  } else {
    alerts.rebalance().sink("alerts", nexmark::JsonLinesFileSink<cep::Alert, AlertLine>(flags.output, counters, true, 0)).parallelism(1);
  }
  const int code = superviseJob(env, who, stateDir, flags.ops);
  std::fflush(stdout);
  if (!flags.output.empty())
    std::fprintf(stderr, "%s: %lld alerts written to %s\n", who, static_cast<long long>(counters->outputRows.load()), flags.output.c_str());
  return code;
}

int checkRules(const std::string& path) {
  std::string text;
  if (auto bad = readFile(path, text)) {
    std::fprintf(stderr, "reka cep check: %s\n", bad->c_str());
    return 2;
  }
  auto doc = cep::parseRuleDocument(text, true);
  if (!doc.isOk()) {
    std::fprintf(stderr, "reka cep check: %s: %s\n", path.c_str(), doc.status().message().c_str());
    return 1;
  }
  int bad = 0;
  for (const auto& r : doc->rules) {
    auto c = cep::compileRule(r);
    if (c.isOk()) {
      std::printf("ok      %s (version %lld%s)\n", r.id.c_str(), static_cast<long long>(r.version), r.enabled ? "" : ", disabled");
    } else {
      ++bad;
      std::printf("refused %s: %s\n", r.id.c_str(), c.status().message().c_str());
    }
  }
  for (const auto& id : doc->removed) std::printf("removes %s\n", id.c_str());
  return bad > 0 ? 1 : 0;
}

}  // namespace

void addCepCommands(CLI::App& app, int& exitCode) {
  auto* cep = app.add_subcommand("cep", "complex event processing: JSON rules over JSON events (docs/guides/cep-rules.md)");
  cep->require_subcommand(1);
  auto flags = std::make_shared<CepFlags>();
  auto* run = cep->add_subcommand("run", "run the rules of a file over JSON events; alerts are JSON lines");
  run->add_option("--rules", flags->rules,
                  "JSON rule file (array, {\"rules\": [...]} or JSON lines), or kafka://HOST:PORT/TOPIC (one rule per message; a null value "
                  "removes the rule its key names)")
      ->required();
  run->add_option("--input", flags->input, "JSON-lines event file, a glob pattern (with --follow), or kafka://HOST:PORT/TOPIC")->required();
  run->add_option("--key", flags->key, "the field that keys events (a card, a user): rules match per key")->required();
  run->add_option("--time", flags->time, "the event-time field (epoch ms or ISO-8601); without it: processing time");
  run->add_option("--output", flags->output, "file the alerts are appended to, following the checkpoints (default: stdout)");
  run->add_option("--dead-letter", flags->deadLetter, "file or kafka:// URI for lines that are not events (default: stderr)");
  run->add_option("--out-of-orderness", flags->outOfOrderness, "how late an event may arrive behind the newest (default 0s)");
  run->add_option("--late-output", flags->lateOutput, "file the events that arrive behind the watermark are appended to (default: counted and dropped)");
  run->add_flag("--follow", flags->follow, "keep reading the input file(s) as they grow; the rule file is watched");
  run->add_flag("--unbounded", flags->unbounded, "read the Kafka topic until stopped; the rule file is watched");
  run->add_flag("--watch-rules", flags->watchRules, "apply changes of the rule file or topic while the job runs (the default with --follow and --unbounded)");
  run->add_flag("--no-watch-rules", flags->noWatchRules, "read the rule file once (a topic: to its end at start)");
  run->add_option("--parallelism", flags->parallelism, "parallel subtasks of the rule operator (default: the number of cores)")
      ->check(numberIn(0, 1024));
  flags->checkpoints.add(run);
  flags->ops.add(run, "reka-cep");
  run->callback([flags, run, &exitCode] {
    reka::installStopSignals(true);
    exitCode = runCep(*flags, run);
  });

  auto rulesPath = std::make_shared<std::string>();
  auto* check = cep->add_subcommand("check", "check a rule file: each rule compiles, or why not (exit 1 if any does not)");
  check->add_option("--rules", *rulesPath, "the rule file")->required();
  check->callback([rulesPath, &exitCode] { exitCode = checkRules(*rulesPath); });
}

}  // namespace reka::cli
