// q10 (bids with their UTC day and minute, docs/nexmark.md, Queries) end to end: with an output
// directory every row must land, exactly once, in the part files of its own dt=…/hm=…
// partition, and the rows must equal a reference computed with a plain loop over the bids. Also
// the single-file and touching sinks, and the `reka` command's --output-dir flag.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "NexmarkTestKit.h"

#ifndef REKA_CLI_PATH
#error "REKA_CLI_PATH must name the reka binary"
#endif

namespace reka::nexmark::it {
namespace {

namespace fs = std::filesystem;

GeneratorConfig q10Config(const std::string& name) {
  GeneratorConfig c;
  if (name == "minutes") {
    // Two generators, disorder groups of 16, 10 events/s: about 10 minutes of event time, bids
    // of neighbouring minutes interleaved (several partitions open at once).
    c.events = 6000;
    c.seed = 3;
    c.rate = 10;
    c.generators = 2;
    c.outOfOrderGroupSize = 16;
  } else {
    // One event per 500 s: about 1.4 days, so the day changes at midnight. Nearly every bid
    // has a minute of its own: a file (and two fsyncs) per bid.
    c.events = 250;
    c.seed = 11;
    c.rate = 0.002;
  }
  return c;
}

const Dataset& dataset(const std::string& name) {
  static DatasetCache cache(q10Config);
  return cache.get(name);
}

std::vector<std::string> q10Columns() {
  std::vector<std::string> columns = bidColumns();
  columns.push_back("dt");
  columns.push_back("hm");
  return columns;
}

std::string utcMinute(int64_t ms) {
  std::tm tm = utc(ms);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M", &tm);
  return buf;
}

/// The reference: every bid, with its UTC day and HH:mm.
std::vector<Row> referenceRows(const std::vector<EventRec>& events) {
  std::vector<Row> rows;
  for (const BidRec& b : recordsOf<BidRec>(events)) {
    Row r = bidValues(b);
    r.push_back(str(utcDay(b.dateTime)));
    r.push_back(str(utcMinute(b.dateTime)));
    rows.push_back(std::move(r));
  }
  return rows;
}

/// A committed q10 part file's path relative to the output directory, taken apart.
struct PartPath {
  std::string day;     ///< yyyy-MM-dd
  std::string minute;  ///< HH:mm
  int subtask = -1;
};

/// Parses `dt=yyyy-MM-dd/hm=HH-mm/part-<subtask>-<seq>.jsonl` (digits where the shape has 9s).
/// (No std::regex: GCC 12 warns inside it under the sanitizers.)
std::optional<PartPath> parsePartPath(const std::string& relative) {
  constexpr std::string_view kShape = "dt=9999-99-99/hm=99-99/part-";
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (relative.size() <= kShape.size()) return std::nullopt;
  for (size_t i = 0; i < kShape.size(); ++i)
    if (kShape[i] == '9' ? !digit(relative[i]) : relative[i] != kShape[i]) return std::nullopt;
  std::string_view rest = std::string_view(relative).substr(kShape.size());
  const size_t dash = rest.find('-');
  if (dash == 0 || dash == std::string_view::npos || !rest.ends_with(".jsonl")) return std::nullopt;
  const std::string_view seq = rest.substr(dash + 1, rest.size() - dash - 1 - 6);
  if (seq.empty() ||
      !std::all_of(rest.begin(), rest.begin() + static_cast<ptrdiff_t>(dash), digit) ||
      !std::all_of(seq.begin(), seq.end(), digit))
    return std::nullopt;
  PartPath p;
  p.day = relative.substr(3, 10);
  p.minute = relative.substr(17, 2) + ":" + relative.substr(20, 2);
  p.subtask = std::stoi(std::string(rest.substr(0, dash)));
  return p;
}

/// Reads every part file under `dir`, checking that it is a committed part file of a subtask
/// below `parallelism` in the partition of each of its rows.
std::vector<Row> readPartitionedOutput(const fs::path& dir, int parallelism,
                                       std::set<std::string>* partitions) {
  std::vector<Row> rows;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string relative = fs::relative(entry.path(), dir).string();
    const std::optional<PartPath> part = parsePartPath(relative);
    if (!part) {
      ADD_FAILURE() << "unexpected file in the output directory: " << relative;
      continue;
    }
    EXPECT_LT(part->subtask, parallelism) << relative;
    partitions->insert(fs::path(relative).parent_path().string());
    const std::vector<FlatRow> fileRows = readRows(entry.path().string());
    EXPECT_FALSE(fileRows.empty()) << relative << " is empty";
    for (FlatRow row : fileRows) {
      EXPECT_EQ(keysOf(row), q10Columns()) << relative;
      EXPECT_EQ(field(row, "dt"), str(part->day)) << relative;
      EXPECT_EQ(field(row, "hm"), str(part->minute)) << relative;
      rows.push_back(takeValues(row));
    }
  }
  return rows;
}

class Q10Test : public ::testing::TestWithParam<std::tuple<std::string, int, bool>> {};

TEST_P(Q10Test, OutputDirHoldsEveryBidInItsDayAndMinute) {
  const auto& [name, parallelism, fromFile] = GetParam();
  const Dataset& data = dataset(name);
  ScratchDir out;
  QueryJobOptions options;
  options.query = "q10";
  if (fromFile) {
    options.inputPath = data.path;
  } else {
    options.generator = q10Config(name);
  }
  options.outputDir = out.file("q10");

  ExecutionConfig config;
  config.parallelism = parallelism;
  config.batchSize = 64;
  StreamEnvironment env(config);
  auto counters = buildQueryJob(env, options);
  ASSERT_TRUE(counters.isOk()) << counters.status().toString();
  Status status = runJob(env);
  ASSERT_TRUE(status.isOk()) << status.toString();

  std::set<std::string> partitions;
  std::vector<Row> actual = readPartitionedOutput(options.outputDir, parallelism, &partitions);
  const std::vector<Row> expected = referenceRows(data.events);
  std::set<std::string> expectedPartitions;
  for (const Row& r : expected) {
    std::string hm = r[8].substr(1);
    hm[2] = '-';
    expectedPartitions.insert("dt=" + r[7].substr(1) + "/hm=" + hm);
  }
  EXPECT_EQ(partitions, expectedPartitions);
  if (name == "days") {
    EXPECT_NE(expected.front()[7], expected.back()[7]) << "the days dataset should cross midnight";
  }
  EXPECT_EQ((*counters)->outputRows.load(), static_cast<int64_t>(expected.size()));
  expectSameRows(std::move(actual), expected, "q10 " + name);
}

INSTANTIATE_TEST_SUITE_P(Q10, Q10Test,
                         ::testing::Combine(::testing::Values("minutes", "days"),
                                            ::testing::Values(1, 4), ::testing::Bool()),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_P" +
                                  std::to_string(std::get<1>(info.param)) +
                                  (std::get<2>(info.param) ? "_file" : "_generator");
                         });

TEST(Q10SinksTest, OutputFileAndTouchSinkGiveTheSameRows) {
  const Dataset& data = dataset("minutes");
  const std::vector<Row> expected = referenceRows(data.events);
  ScratchDir out;
  QueryJobOptions options;
  options.query = "q10";
  options.inputPath = data.path;
  options.outputPath = out.file("q10.jsonl");
  QueryRun run = runQueryJob(options, 3);
  ASSERT_TRUE(run.status.isOk()) << run.status.toString();
  std::vector<Row> actual;
  for (FlatRow& row : run.rows) {
    EXPECT_EQ(keysOf(row), q10Columns());
    actual.push_back(takeValues(row));
  }
  expectSameRows(std::move(actual), expected, "q10 --output");

  // The touching sink sees the same rows: same count and checksum.
  options.outputPath.clear();
  ExecutionConfig config;
  config.parallelism = 3;
  StreamEnvironment env(config);
  auto counters = buildQueryJob(env, options);
  ASSERT_TRUE(counters.isOk());
  ASSERT_TRUE(runJob(env).isOk());
  EXPECT_EQ((*counters)->outputRows.load(), static_cast<int64_t>(expected.size()));
  EXPECT_EQ((*counters)->checksum.load(), run.counters->checksum.load());
}

TEST(Q10SinksTest, OutputFileAndOutputDirExcludeEachOther) {
  QueryJobOptions options;
  options.query = "q10";
  options.generator.events = 10;
  options.outputPath = "/tmp/x.jsonl";
  options.outputDir = "/tmp/x";
  StreamEnvironment env(ExecutionConfig{});
  auto counters = buildQueryJob(env, options);
  ASSERT_FALSE(counters.isOk());
  EXPECT_EQ(counters.status().code(), StatusCode::kInvalidArgument);
}

int runCli(const std::string& args, const ScratchDir& dir) {
  const std::string command = "timeout 60 '" REKA_CLI_PATH "' " + args + " </dev/null >'" +
                              dir.file("stdout") + "' 2>'" + dir.file("stderr") + "'";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(Q10CliTest, OutputDirFlag) {
  ScratchDir dir;
  const std::string outDir = dir.file("out");
  ASSERT_EQ(runCli("nexmark run --query q10 --events 3000 --rate 10 --parallelism 2 --no-progress "
                   "--output-dir '" +
                       outDir + "'",
                   dir),
            0)
      << readFile(dir.file("stderr"));
  GeneratorConfig config;
  config.events = 3000;
  config.rate = 10;
  std::set<std::string> partitions;
  std::vector<Row> actual = readPartitionedOutput(outDir, 2, &partitions);
  expectSameRows(std::move(actual), referenceRows(generateEvents(config)),
                 "reka nexmark run --output-dir");

  // Any query writes to a directory (unpartitioned): q0, every bid.
  const std::string q0Dir = dir.file("q0");
  ASSERT_EQ(
      runCli("nexmark run --query q0 --events 3000 --parallelism 2 --no-progress --output-dir '" +
                 q0Dir + "'",
             dir),
      0)
      << readFile(dir.file("stderr"));
  int64_t lines = 0;
  for (const auto& entry : fs::directory_iterator(q0Dir)) {
    EXPECT_THAT(entry.path().filename().string(),
                ::testing::MatchesRegex("part-[01]-[0-9]+\\.jsonl"));
    lines += static_cast<int64_t>(readLines(entry.path().string()).size());
  }
  GeneratorConfig q0Config;
  q0Config.events = 3000;
  EXPECT_EQ(lines, static_cast<int64_t>(recordsOf<BidRec>(generateEvents(q0Config)).size()));

  EXPECT_NE(runCli("nexmark run --query q10 --events 10 --output '" + dir.file("a") +
                       "' --output-dir '" + dir.file("b") + "'",
                   dir),
            0);
  EXPECT_THAT(readFile(dir.file("stderr")), ::testing::HasSubstr("--output"));
}

}  // namespace
}  // namespace reka::nexmark::it
