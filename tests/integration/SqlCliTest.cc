// `reka run FILE.sql` and `reka explain FILE.sql`: a script's INSERTs as one job from the
// command line. Expected rows are written out by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "NexmarkTestKit.h"
#include "testing/JobTesting.h"

#ifndef REKA_CLI_PATH
#error "REKA_CLI_PATH must name the reka binary"
#endif

extern char** environ;

namespace reka::nexmark::it {
namespace {

using ::testing::HasSubstr;

std::string script(const ScratchDir& dir, const std::string& where) {
  return "SET 'parallelism.default' = '1';\n"
         "CREATE TABLE readings (sensor STRING, celsius DOUBLE, at TIMESTAMP(3)) WITH (\n"
         "  'connector' = 'filesystem', 'path' = '" + dir.file("in.json") + "', 'format' = 'json');\n"
         "CREATE TABLE alerts (sensor STRING, fahrenheit DOUBLE, at TIMESTAMP(3)) WITH ('connector' = 'print');\n"
         "INSERT INTO alerts SELECT UPPER(sensor), celsius * 9 / 5 + 32, at FROM readings " + where + ";\n";
}

TEST(SqlCliTest, RunPrintsTheRowsOfTheInsert) {
  ScratchDir dir;
  std::ofstream(dir.file("in.json")) << R"({"sensor":"a","celsius":20,"at":"2026-12-06 08:00:00"})" "\n"
                                        R"({"sensor":"b","celsius":35.5,"at":"2026-12-06 08:00:01"})" "\n"
                                        R"({"sensor":"c","celsius":"hot","at":"2026-12-06 08:00:02"})" "\n";
  std::ofstream(dir.file("job.sql")) << script(dir, "WHERE celsius > 30");
  int calls = 0;
  CommandResult r = runCommand(REKA_CLI_PATH, "run '" + dir.file("job.sql") + "'", dir, calls);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  // 35.5 °C = 95.9 °F; "hot" is a bad record (dead letters on stderr), not a row.
  EXPECT_EQ(r.out, "+I[B, 95.9, 2026-12-06 08:00:01.000]\n");
  EXPECT_THAT(r.err, HasSubstr("line 3"));
  EXPECT_THAT(r.err, HasSubstr("celsius"));

  r = runCommand(REKA_CLI_PATH, "explain '" + dir.file("job.sql") + "'", dir, calls);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Sink: alerts [connector=print]"));
  EXPECT_THAT(r.out, HasSubstr("where=[(celsius > 30)]"));
  EXPECT_THAT(r.out, HasSubstr("Source: readings [connector=filesystem, format=json"));
  // The physical plan: the operators of the job graph with their kind, uid, parallelism, task
  // and the partitioning of each input.
  EXPECT_THAT(r.out, HasSubstr("== Physical plan (parallelism.default "));
  EXPECT_THAT(r.out, HasSubstr("(kind source, uid 'readings'"));
  EXPECT_THAT(r.out, HasSubstr("(kind sql-calc, uid"));
  EXPECT_THAT(r.out, HasSubstr("(kind sink, uid 'alerts'"));
  EXPECT_THAT(r.out, HasSubstr("    <- [0] forward\n"));
}

TEST(SqlCliTest, MistakesGetPositionsAndWhatIsAccepted) {
  ScratchDir dir;
  int calls = 0;
  std::ofstream(dir.file("bad.sql")) << script(dir, "WHERE celsus > 30");
  CommandResult r = runCommand(REKA_CLI_PATH, "run '" + dir.file("bad.sql") + "'", dir, calls);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("column 'celsus' not found; the columns are sensor, celsius, at (at line 5"));

  std::ofstream(dir.file("set.sql")) << "SET 'paralelism.default' = '2';\n" << script(dir, "");
  r = runCommand(REKA_CLI_PATH, "run '" + dir.file("set.sql") + "'", dir, calls);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown setting 'paralelism.default'; accepted: parallelism.default"));

  r = runCommand(REKA_CLI_PATH, "run '" + dir.file("missing.sql") + "'", dir, calls);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot read"));
}

TEST(SqlCliTest, RestFlagsAndTheStateDirectoryAreRefusedBeforeTheJobStarts) {
  ScratchDir dir;
  int calls = 0;
  std::ofstream(dir.file("in.json")) << R"({"sensor":"a","celsius":40,"at":"2026-12-06 08:00:00"})" "\n";
  std::ofstream(dir.file("job.sql")) << script(dir, "");
  const std::string run = "run '" + dir.file("job.sql") + "' ";
  for (const auto& [flags, message] : std::vector<std::pair<std::string, std::string>>{
           {"--rest-port abc", "reka run: rest.port 'abc': expected a port (1-65535)"},
           {"--rest-port 99999", "reka run: rest.port '99999'"},
           {"--rest-address notanaddress", "reka run: rest.address 'notanaddress': expected an IP address"},
           {"--state-dir /proc/reka-state", "reka run: --state-dir /proc/reka-state: cannot create directory"}}) {
    CommandResult r = runCommand(REKA_CLI_PATH, run + flags, dir, calls);
    EXPECT_EQ(r.exitCode, 2) << flags << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(message));
    EXPECT_THAT(r.out, ::testing::Not(HasSubstr("+I["))) << "no job ran";
  }
}

pid_t startReka(const std::vector<std::string>& args, const ScratchDir& dir) { return startProcess(REKA_CLI_PATH, args, dir); }

int stopReka(pid_t pid) { return stopProcess(pid); }

/// The table the committed changelog-json rows under `dir` give (+I/+U add a row, -U/-D remove one).
std::multiset<std::string> appliedTable(const std::string& dir) {
  std::multiset<std::string> table;
  std::vector<std::string> removed;
  if (!std::filesystem::exists(dir)) return table;
  for (const auto& line : reka::testing::linesUnder(dir)) {
    const size_t op = line.rfind(",\"op\":\"");
    if (op == std::string::npos) continue;
    (line[op + 7] == '+' ? static_cast<void>(table.insert(line.substr(0, op) + "}")) : removed.push_back(line.substr(0, op) + "}"));
  }
  for (const auto& r : removed)
    if (auto it = table.find(r); it != table.end()) table.erase(it);
  return table;
}

/// A GROUP BY over a followed file into exactly-once part files: stopped after the first
/// readings (with a savepoint, or by SIGKILL after a checkpoint), resumed after more were
/// appended; the committed changelog must give the counts of every reading once.
void stopAndResume(bool kill9, bool rocksdb = false) {
  ScratchDir dir;
  const std::string in = dir.file("in.json");
  auto append = [&](int from, int to) {
    std::ofstream f(in, std::ios::app);
    for (int i = from; i < to; ++i) f << R"({"sensor":"s)" << i % 3 << R"(","celsius":)" << i << "}\n";
  };
  auto expected = [](int n) {
    std::multiset<std::string> t;
    for (int s = 0; s < 3; ++s) {
      int64_t count = 0, sum = 0;
      for (int i = s; i < n; i += 3) {
        ++count;
        sum += i;
      }
      t.insert(fmt::format("{{\"sensor\":\"s{}\",\"readings\":{},\"total\":{}}}", s, count, sum));
    }
    return t;
  };
  std::ofstream(dir.file("job.sql")) << "CREATE TABLE readings (sensor STRING, celsius BIGINT) WITH ('connector' = 'filesystem', 'path' = '" << in
                                     << "', 'format' = 'json', 'source.monitor-interval' = '50ms');\n"
                                        "CREATE TABLE totals (sensor STRING, readings BIGINT, total BIGINT) WITH ('connector' = 'filesystem', 'path' = '"
                                     << dir.file("out") << "', 'format' = 'changelog-json');\n"
                                        "INSERT INTO totals SELECT sensor, COUNT(*), SUM(celsius) FROM readings GROUP BY sensor;\n";
  std::vector<std::string> args = {"run", dir.file("job.sql"), "--state-dir", dir.file("state"), "--checkpoint-interval", "100ms",
                                   "--parallelism", "2"};
  if (rocksdb) args.insert(args.end(), {"--state-backend", "rocksdb", "--rocksdb-localdir", dir.file("rocksdb")});
  auto waitFor = [&](const std::multiset<std::string>& want) {
    for (int i = 0; i < 600; ++i) {
      if (appliedTable(dir.file("out")) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  append(0, 300);
  pid_t pid = startReka(args, dir);
  if (!waitFor(expected(300))) {
    ADD_FAILURE() << readFile(dir.file("stderr.log"));
    stopReka(pid);
    return;
  }
  if (kill9) {
    // Some more rows, then SIGKILL: whatever was not checkpointed is read again and what its
    // uncommitted files held is discarded.
    append(300, 450);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    append(450, 700);
  } else {
    EXPECT_EQ(stopReka(pid), 0) << readFile(dir.file("stderr.log"));
    EXPECT_THAT(readFile(dir.file("stderr.log")), HasSubstr("stopped with savepoint"));
    append(300, 700);  // while the job is down
  }
  pid = startReka(args, dir);
  const bool done = waitFor(expected(700));
  EXPECT_EQ(stopReka(pid), 0);
  EXPECT_TRUE(done) << readFile(dir.file("stderr.log"));
}

/// An OVER aggregation and an interval join (a self-join) over a followed file of readings one
/// second apart, into exactly-once part files: stopped with a savepoint (or SIGKILL) and resumed
/// after more readings were appended; every row must be there once. The OVER rows of the last
/// seconds wait for the watermark (1.5 s behind the newest reading), so the expected rows are
/// those the watermark has passed.
void timedStateResumes(bool kill9, bool rocksdb = false) {
  ScratchDir dir;
  const std::string in = dir.file("in.json");
  auto append = [&](int from, int to) {
    std::ofstream f(in, std::ios::app);
    for (int i = from; i < to; ++i) f << R"({"sensor":"s)" << i % 3 << R"(","celsius":)" << i << R"(,"ts":)" << i * 1000 << "}\n";
  };
  auto expected = [](int n) {
    std::multiset<std::string> over, pairs;
    for (int i = 0; i <= n - 3; ++i) over.insert(fmt::format("{{\"celsius\":{},\"total\":{}}}", i, i >= 3 ? 2 * i - 3 : i));
    for (int i = 0; i + 3 <= n - 1; ++i) pairs.insert(fmt::format("{{\"a\":{},\"b\":{}}}", i, i + 3));
    return std::make_pair(over, pairs);
  };
  std::ofstream(dir.file("job.sql"))
      << "CREATE TABLE readings (sensor STRING, celsius BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1.5' SECOND) WITH ("
         "'connector' = 'filesystem', 'path' = '" << in << "', 'format' = 'json', 'source.monitor-interval' = '50ms');\n"
         "CREATE TABLE running (celsius BIGINT, total BIGINT) WITH ('connector' = 'filesystem', 'path' = '" << dir.file("over") << "', 'format' = 'json');\n"
         "CREATE TABLE pairs (a BIGINT, b BIGINT) WITH ('connector' = 'filesystem', 'path' = '" << dir.file("pairs") << "', 'format' = 'json');\n"
         "INSERT INTO running SELECT celsius, SUM(celsius) OVER (PARTITION BY sensor ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM readings;\n"
         "INSERT INTO pairs SELECT a.celsius, b.celsius FROM readings a JOIN readings b ON a.sensor = b.sensor "
         "AND b.ts > a.ts AND b.ts <= a.ts + INTERVAL '3' SECOND;\n";
  // One subtask: the file is one split, and an unbounded source's other subtask would hold the
  // watermark back.
  std::vector<std::string> args = {"run", dir.file("job.sql"), "--state-dir", dir.file("state"), "--checkpoint-interval", "100ms",
                                   "--parallelism", "1"};
  if (rocksdb) args.insert(args.end(), {"--state-backend", "rocksdb", "--rocksdb-localdir", dir.file("rocksdb")});
  auto lines = [&](const std::string& sub) {
    std::multiset<std::string> out;
    if (std::filesystem::exists(dir.file(sub)))
      for (const auto& l : reka::testing::linesUnder(dir.file(sub))) out.insert(l);
    return out;
  };
  auto waitFor = [&](const std::pair<std::multiset<std::string>, std::multiset<std::string>>& want) {
    for (int i = 0; i < 600; ++i) {
      if (lines("over") == want.first && lines("pairs") == want.second) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "OVER rows: " << lines("over").size() << " of " << want.first.size() << "; pairs: " << lines("pairs").size() << " of "
                  << want.second.size();
    return false;
  };
  append(0, 200);
  pid_t pid = startReka(args, dir);
  if (!waitFor(expected(200))) {
    ADD_FAILURE() << readFile(dir.file("stderr.log"));
    stopReka(pid);
    return;
  }
  if (kill9) {
    append(200, 260);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    append(260, 400);
  } else {
    EXPECT_EQ(stopReka(pid), 0) << readFile(dir.file("stderr.log"));
    append(200, 400);
  }
  pid = startReka(args, dir);
  const bool done = waitFor(expected(400));
  EXPECT_EQ(stopReka(pid), 0);
  EXPECT_TRUE(done) << readFile(dir.file("stderr.log"));
}

TEST(SqlCliTest, AnUpdatingJobStopsWithASavepointAndResumesExactlyOnce) { stopAndResume(false); }

TEST(SqlCliTest, OverAndIntervalJoinStateResumeAfterASavepoint) { timedStateResumes(false); }

TEST(SqlCliTest, OverAndIntervalJoinStateResumeAfterSigkill) { timedStateResumes(true); }

TEST(SqlCliTest, AnUpdatingJobKilledWithSigkillResumesExactlyOnce) { stopAndResume(true); }

// The same with the SQL operators' state in RocksDB: the restart after SIGKILL restores the
// groups, the OVER partitions and the interval join's rows from native checkpoints.
TEST(SqlCliTest, AnUpdatingJobOnRocksDbKilledWithSigkillResumesExactlyOnce) { stopAndResume(true, true); }

TEST(SqlCliTest, OverAndIntervalJoinStateOnRocksDbResumeAfterSigkill) { timedStateResumes(true, true); }

}  // namespace
}  // namespace reka::nexmark::it
