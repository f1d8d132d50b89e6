// Operating a running `reka` job from outside: the configuration (file, environment, -D,
// flags), JSON logs, the job registry, and `reka list / status / savepoint / stop / cancel`
// against the REST API of a job running in the background on 127.0.0.1.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <sstream>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "NexmarkTestKit.h"

#ifndef REKA_CLI_PATH
#error "REKA_CLI_PATH must name the reka binary"
#endif

namespace reka::nexmark::it {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

class OperationsCliTest : public ::testing::Test {
 protected:
  OperationsCliTest() {
    ::mkdir(runtimeDir_.c_str(), 0700);
    env_ = "XDG_RUNTIME_DIR='" + runtimeDir_ + "'";
  }

  /// Runs `reka args` to its end (a private job registry for this test).
  CommandResult reka(const std::string& args, const std::string& extraEnv = "", std::chrono::seconds limit = 60s) {
    return background_.finish(background_.start(REKA_CLI_PATH, args, env_ + (extraEnv.empty() ? "" : " " + extraEnv)), limit);
  }
  Running start(const std::string& args) { return background_.start(REKA_CLI_PATH, args, env_); }

  /// Starts an endless q5 with checkpoints and waits for its REST address line; the job's id.
  std::string startJob(Running& job, const std::string& extra = "") {
    // The default port range: the first free port of 8081-8099.
    job = start("nexmark run --query q5 --events 1000000000 --rate 20000 --no-progress --name ops-test --state-dir '" +
                dir_.file("state") + "' --checkpoint-interval 100ms " + extra);
    EXPECT_TRUE(BackgroundCommands::awaitText(job.err, "dashboard and REST API at")) << readFile(job.err);
    // "… at http://127.0.0.1:PORT/ (job ID)"
    const std::string err = readFile(job.err);
    const size_t at = err.find("at http://127.0.0.1:");
    const size_t id = err.find("(job ", at);
    if (at == std::string::npos || id == std::string::npos || id + 5 + 32 > err.size()) {
      ADD_FAILURE() << "no REST address in: " << err;
      return "";
    }
    url_ = err.substr(at + 3, id - 1 - (at + 3));
    EXPECT_THAT(err.substr(id + 5, 33), ::testing::MatchesRegex("[0-9a-f]{32}\\)"));
    return err.substr(id + 5, 32);
  }

  ScratchDir dir_;
  std::string runtimeDir_ = dir_.file("runtime");
  std::string env_;
  BackgroundCommands background_{dir_};
  std::string url_;
};

TEST_F(OperationsCliTest, ConfigShowSaysWhereEveryValueComesFrom) {
  const std::string file = dir_.file("reka.yaml");
  writeFile(file,
            "parallelism.default: 3\n"
            "execution:\n"
            "  checkpointing:\n"
            "    interval: 10s\n"
            "    mode: AT_LEAST_ONCE\n"
            "rest:\n"
            "  port: 9100\n"
            "reka.events: 5000\n");
  CommandResult r = reka("config show --command 'nexmark run' --config '" + file + "' -D rest.port=9200 --rest-port 9300",
                         "REKA_EXECUTION_CHECKPOINTING_INTERVAL=20s REKA_BATCH_SIZE=512");
  // `config show` takes no --rest-port: the flag is refused, naming it.
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--rest-port"));
  r = reka("config show --command 'nexmark run' --config '" + file + "' -D rest.port=9200",
           "REKA_EXECUTION_CHECKPOINTING_INTERVAL=20s REKA_BATCH_SIZE=512");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  // "key  value  # source" per line.
  auto line = [&](const std::string& key) {
    std::istringstream lines(r.out);
    for (std::string l; std::getline(lines, l);) {
      std::istringstream words(l);
      std::string k, v, hash;
      words >> k >> v >> hash;
      if (k != key || hash != "#") continue;
      std::string source;
      std::getline(words >> std::ws, source);
      return std::make_pair(v, source);
    }
    ADD_FAILURE() << key << " is not in\n" << r.out;
    return std::make_pair(std::string(), std::string());
  };
  EXPECT_EQ(line("parallelism.default"), std::make_pair(std::string("3"), "file " + file));
  EXPECT_EQ(line("execution.checkpointing.interval"), std::make_pair(std::string("20s"), std::string("env REKA_EXECUTION_CHECKPOINTING_INTERVAL")));
  EXPECT_EQ(line("execution.checkpointing.mode"), std::make_pair(std::string("at-least-once"), "file " + file));
  EXPECT_EQ(line("rest.port"), std::make_pair(std::string("9200"), std::string("-D")));
  EXPECT_EQ(line("reka.batch-size"), std::make_pair(std::string("512"), std::string("env REKA_BATCH_SIZE")));
  EXPECT_EQ(line("reka.events"), std::make_pair(std::string("5000"), "file " + file));
  EXPECT_EQ(line("state.checkpoints.num-retained"), std::make_pair(std::string("3"), std::string("default")));

  // `reka config keys` lists every key with its flag and variable.
  r = reka("config keys");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("execution.checkpointing.min-pause +--checkpoint-min-pause +REKA_EXECUTION_CHECKPOINTING_MIN_PAUSE"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("reka.events +--events +REKA_EVENTS"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex(
                         "execution.savepoint.ignore-unclaimed-state +--allow-non-restored-state +REKA_EXECUTION_SAVEPOINT_IGNORE_UNCLAIMED_STATE"));
}

TEST_F(OperationsCliTest, BadKeysAndValuesAreErrorsThatNameThem) {
  const std::string file = dir_.file("bad.yaml");
  writeFile(file, "parallelism.defualt: 3\n");
  CommandResult r = reka("nexmark run --query q1 --events 10 --config '" + file + "'");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown configuration key 'parallelism.defualt'"));
  EXPECT_THAT(r.err, HasSubstr("parallelism.default"));

  r = reka("nexmark run --query q1 --events 10 -D parallelism.default=many");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("'parallelism.default' = 'many' (-D)"));
  EXPECT_THAT(r.err, HasSubstr("'many' is not a number: expected a whole number from 1 to 128"));

  // A numeric flag that gets text says so in plain words.
  r = reka("nexmark run --query q1 --events lots");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("'lots' is not a number: expected a whole number at least 0"));
  r = reka("nexmark run --query q1 --events 10 --batch-size 0");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("0 is out of range: expected a whole number from 1 to 1048576"));

  r = reka("nexmark run --query q1 --events 10", "REKA_PARALELISM=2");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown configuration variable REKA_PARALELISM"));

  r = reka("nexmark run --query q1 --events 10 -D execution.checkpointing.mode=sometimes");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("execution.checkpointing.mode"));
  EXPECT_THAT(r.err, HasSubstr("exactly-once"));

  r = reka("nexmark run --query q1 --events 10 -D state.backend.type=lmdb");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("state.backend.type"));
  EXPECT_THAT(r.err, HasSubstr("rocksdb"));

  writeFile(file, "rest: [1, 2]\n");
  r = reka("nexmark run --query q1 --events 10 --config '" + file + "'");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("'rest' has a list"));

  r = reka("nexmark run --events 10");
  EXPECT_EQ(r.exitCode, 2) << "a usage error: " << r.err;
  EXPECT_THAT(r.err, HasSubstr("--query"));

  // The configuration gives the query and the events as well as flags do.
  writeFile(file, "reka:\n  query: q1\n  events: 2000\nrest.port: 0\n");
  r = reka("nexmark run --no-progress --config '" + file + "'");
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("q1: 2000 events"));
}

/// The JSON log lines of a run's stderr (each must parse and carry a time and a level). Lines
/// that are not JSON must be the command's own output, never an engine warning ("reka: …").
std::vector<nlohmann::json> jsonLogLines(const std::string& err) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(err);
  for (std::string l; std::getline(in, l);) {
    EXPECT_NE(l.rfind("reka: ", 0), 0u) << "an engine line outside the logger: " << l;
    if (l.empty() || l[0] != '{') continue;
    nlohmann::json j = nlohmann::json::parse(l, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << l;
    if (j.is_discarded()) continue;
    EXPECT_TRUE(j.contains("time") && j.contains("level")) << l;
    lines.push_back(std::move(j));
  }
  return lines;
}

/// The first line whose message contains `text` (a null object if none).
nlohmann::json lineWith(const std::vector<nlohmann::json>& lines, const std::string& text) {
  for (const auto& j : lines)
    if (j.value("message", "").find(text) != std::string::npos) return j;
  return {};
}

TEST_F(OperationsCliTest, JsonLogsCarryTheJobAndItsStateChanges) {
  CommandResult r = reka("nexmark run --query q1 --events 2000 --no-progress --rest-port 0 --log-format json --name json-logs");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::vector<std::string> messages;
  std::string jobId;
  for (const auto& j : jsonLogLines(r.err)) {
    if (j.value("job", "") != "json-logs") continue;
    messages.push_back(j.value("message", ""));
    jobId = j.value("job_id", "");
  }
  EXPECT_THAT(jobId, ::testing::MatchesRegex("[0-9a-f]{32}"));
  ASSERT_GE(messages.size(), 3u) << r.err;
  EXPECT_EQ(messages[0], "job created");
  EXPECT_THAT(messages[1], HasSubstr("job running"));
  EXPECT_EQ(messages.back(), "job finished");
}

TEST_F(OperationsCliTest, JsonLogsShowCheckpointsRestartsAndDeadLetters) {
  const std::string events = dir_.file("events.jsonl");
  ASSERT_EQ(reka("nexmark generate --events 2000 --output '" + events + "'").exitCode, 0);
  std::string content = readFile(events);
  size_t at = 0;
  for (int i = 0; i < 499; ++i) at = content.find('\n', at) + 1;
  writeFile(events, content.substr(0, at) + "{not json\n" + content.substr(at));
  const std::string run = "nexmark run --query q1 --no-progress --rest-port 0 --log-format json --input '" + events + "' ";

  // Checkpoints complete at info, with their size and duration.
  CommandResult r = reka(run + "--state-dir '" + dir_.file("state") + "' --checkpoint-interval 20ms");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::vector<nlohmann::json> lines = jsonLogLines(r.err);
  nlohmann::json completed = lineWith(lines, "completed");
  EXPECT_EQ(completed.value("level", ""), "info") << r.err;
  EXPECT_THAT(completed.value("message", ""), ::testing::MatchesRegex("checkpoint [0-9]+ completed \\(.* MB.*, [0-9]+ ms\\)"));
  EXPECT_THAT(completed.value("job_id", ""), ::testing::MatchesRegex("[0-9a-f]{32}"));
  // A dead letter is a warning line of the log too.
  nlohmann::json dead = lineWith(lines, "sent to dead letters");
  EXPECT_EQ(dead.value("level", ""), "warn") << r.err;
  EXPECT_THAT(dead.value("message", ""), HasSubstr("line 500"));

  // A job that fails restarts under the restart strategy, then fails for good.
  r = reka(run + "--on-bad-input fail --restart-attempts 1 --restart-delay 10ms --state-dir '" + dir_.file("state2") + "'");
  EXPECT_EQ(r.exitCode, 1) << r.err;
  lines = jsonLogLines(r.err);
  nlohmann::json restarting = lineWith(lines, "job restarting");
  EXPECT_EQ(restarting.value("level", ""), "warn") << r.err;
  EXPECT_THAT(restarting.value("message", ""), HasSubstr("(1 of 1 in 10 ms"));
  EXPECT_THAT(restarting.value("message", ""), HasSubstr("line 500"));
  EXPECT_EQ(lineWith(lines, "job failed after 1 restarts").value("level", ""), "error") << r.err;
}

TEST_F(OperationsCliTest, ListStatusSavepointAndStopARunningJob) {
  Running job;
  const std::string id = startJob(job);
  ASSERT_FALSE(id.empty());

  // The registry entry and the state directory's rest.json are private to the user.
  for (const std::string& f : {runtimeDir_ + "/reka/" + id + ".json", dir_.file("state") + "/rest.json"}) {
    struct stat st{};
    ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }

  CommandResult list = reka("list");
  ASSERT_EQ(list.exitCode, 0) << list.err;
  EXPECT_THAT(list.out, ::testing::ContainsRegex(id + " +RUNNING .*ops-test"));

  CommandResult status = reka("status " + id.substr(0, 8));
  ASSERT_EQ(status.exitCode, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("job ops-test (" + id + ")"));
  EXPECT_THAT(status.out, HasSubstr("state RUNNING"));
  EXPECT_THAT(status.out, HasSubstr("q5-count"));

  CommandResult sp = reka("savepoint ops-test");
  ASSERT_EQ(sp.exitCode, 0) << sp.err;
  const std::string savepoint = sp.out.substr(0, sp.out.find('\n'));
  struct stat st{};
  EXPECT_EQ(::stat(savepoint.c_str(), &st), 0) << savepoint;
  EXPECT_THAT(savepoint, HasSubstr("/savepoints/"));

  // A wrong token is refused; the job keeps running.
  CommandResult refused = reka("cancel " + id + " --token wrong");
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_THAT(refused.err, HasSubstr("HTTP 401"));
  EXPECT_EQ(reka("status " + id).exitCode, 0);

  CommandResult stop = reka("stop '" + dir_.file("state") + "' --savepoint");
  ASSERT_EQ(stop.exitCode, 0) << stop.err;
  EXPECT_THAT(stop.out, HasSubstr("/savepoints/"));
  CommandResult ended = background_.finish(job, 30s);
  EXPECT_EQ(ended.exitCode, 0) << ended.err;
  EXPECT_THAT(ended.err, HasSubstr("stopped through the REST API with savepoint"));

  list = reka("list");
  EXPECT_THAT(list.out, Not(HasSubstr(id))) << "the registry entry is gone with the job";
  CommandResult gone = reka("status " + id);
  EXPECT_EQ(gone.exitCode, 1);
  EXPECT_THAT(gone.err, HasSubstr("no running job"));

  // The run resumes from the savepoint the stop took.
  Running again;
  const std::string id2 = startJob(again);
  CommandResult cancel = reka("cancel " + id2);
  ASSERT_EQ(cancel.exitCode, 0) << cancel.err;
  CommandResult ended2 = background_.finish(again, 30s);
  EXPECT_EQ(ended2.exitCode, 0) << ended2.err;
  EXPECT_THAT(ended2.err, HasSubstr("resumed from savepoint"));
  EXPECT_THAT(ended2.err, HasSubstr("cancelled through the REST API"));
}

TEST_F(OperationsCliTest, JobCommandsReachAJobAtItsAddressWithoutTheRegistry) {
  Running job;
  const std::string id = startJob(job, "--rest-token ops-secret");
  ASSERT_FALSE(id.empty());
  ASSERT_THAT(url_, ::testing::MatchesRegex("http://127\\.0\\.0\\.1:[0-9]+/"));
  const std::string address = url_.substr(7, url_.size() - 8);
  // Another registry, empty: only --address finds the job.
  const std::string elsewhere = dir_.file("other-runtime");
  ::mkdir(elsewhere.c_str(), 0700);
  const std::string noRegistry = "XDG_RUNTIME_DIR='" + elsewhere + "'";
  EXPECT_EQ(reka("status " + id, noRegistry).exitCode, 1);

  CommandResult list = reka("list --address " + address, noRegistry);
  ASSERT_EQ(list.exitCode, 0) << list.err;
  EXPECT_THAT(list.out, ::testing::ContainsRegex(id + " +RUNNING .*ops-test"));
  CommandResult status = reka("status ops-test --address " + address, noRegistry);
  ASSERT_EQ(status.exitCode, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("job ops-test (" + id + ")"));
  EXPECT_THAT(status.out, HasSubstr("state RUNNING"));
  status = reka("status " + id.substr(0, 8) + " --address " + address, noRegistry);
  EXPECT_EQ(status.exitCode, 0) << status.err;

  CommandResult missing = reka("status nope --address " + address, noRegistry);
  EXPECT_EQ(missing.exitCode, 1);
  EXPECT_THAT(missing.err, HasSubstr("no job 'nope' at " + address));
  CommandResult bad = reka("status ops-test --address nowhere", noRegistry);
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_THAT(bad.err, HasSubstr("--address 'nowhere': expected HOST:PORT"));

  // Control calls need the job's token.
  CommandResult cancel = reka("cancel " + id + " --address " + address + " --token ops-secret", noRegistry);
  ASSERT_EQ(cancel.exitCode, 0) << cancel.err;
  CommandResult ended = background_.finish(job, 30s);
  EXPECT_EQ(ended.exitCode, 0) << ended.err;
  EXPECT_THAT(ended.err, HasSubstr("cancelled through the REST API"));
}

/// The peak resident memory a run printed in its summary line ("peak RSS 123.4 MiB"), in MiB.
double peakRssMiB(const std::string& out) {
  const size_t at = out.find("peak RSS ");
  return at == std::string::npos ? -1 : std::atof(out.c_str() + at + 9);
}

TEST_F(OperationsCliTest, AMemoryBudgetStopsTheJobWithTheStateOfEachOperator) {
  CommandResult r = reka("nexmark run --query q1 --events 10 --memory 10m");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("reka.memory.budget '10m': expected 0 (no budget) or a size of at least 64m"));
  r = reka("nexmark run --query q1 --events 10 -D reka.memory.budget=lots");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("reka.memory.budget 'lots'"));

  // What the command holds for a small run, then a budget 48 MiB above it: q18 (the last bid of
  // every bidder and auction) grows past that on the heap, and would go on growing.
  r = reka("nexmark run --query q18 --events 1000 --parallelism 1 --rest-port 0");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const double base = peakRssMiB(r.out);
  ASSERT_GT(base, 0) << r.out;
  const int budget = static_cast<int>(base) + 48;
  const std::string state = dir_.file("state");
  r = reka("nexmark run --query q18 --events 20000000 --parallelism 1 --rest-port 0 --state-dir '" + state +
           "' --checkpoint-interval 100ms --memory " + std::to_string(budget) + "m");
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("memory budget of " + std::to_string(budget) + " MiB reached"));
  EXPECT_THAT(r.err, HasSubstr("so the job was stopped before crossing it; state at the last checkpoint: operator '"));
  EXPECT_THAT(r.err, HasSubstr("state backend rocksdb"));
}

}  // namespace
}  // namespace reka::nexmark::it
