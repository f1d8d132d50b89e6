// The `reka` command (docs/nexmark.md, The command), run as a separate process under `timeout`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "NexmarkTestKit.h"

#ifndef REKA_CLI_PATH
#error "REKA_CLI_PATH must name the reka binary"
#endif

namespace reka::nexmark::it {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CliTest : public ::testing::Test {
 protected:
  /// Runs `reka <args>` (args are passed to the shell as written) with a 60 s limit.
  CommandResult reka(const std::string& args) { return runCommand(REKA_CLI_PATH, args, dir_, calls_); }

  std::string path(const std::string& name) const { return dir_.file(name); }

  /// Writes a small event file with `reka nexmark generate`.
  std::string generate(int events, const std::string& extraFlags = "") {
    std::string file = path("events-" + std::to_string(events) + ".jsonl");
    CommandResult r = reka("nexmark generate --events " + std::to_string(events) + " " + extraFlags + " --output '" + file + "'");
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return file;
  }

  ScratchDir dir_;
  int calls_ = 0;
};

TEST_F(CliTest, Version) {
  CommandResult r = reka("--version");
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_THAT(r.out, ::testing::ContainsRegex("reka [0-9]+\\.[0-9]+\\.[0-9]+"));
}

TEST_F(CliTest, Help) {
  CommandResult r = reka("--help");
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_THAT(r.out, HasSubstr("nexmark"));

  r = reka("nexmark --help");
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_THAT(r.out, HasSubstr("generate"));
  EXPECT_THAT(r.out, HasSubstr("run"));

  r = reka("nexmark run --help");
  EXPECT_EQ(r.exitCode, 0);
  for (const char* flag : {"--query", "--events", "--rate", "--input", "--parallelism", "--output", "--report"})
    EXPECT_THAT(r.out, HasSubstr(flag));

  r = reka("nexmark generate --help");
  EXPECT_EQ(r.exitCode, 0);
  for (const char* flag : {"--events", "--rate", "--generators", "--seed", "--out-of-order", "--output"})
    EXPECT_THAT(r.out, HasSubstr(flag));
}

TEST_F(CliTest, GenerateWritesEventsInTheDocumentedProportions) {
  std::string file = generate(100);
  std::vector<std::string> lines = readLines(file);
  ASSERT_EQ(lines.size(), 100u);
  std::map<int, int> byType;
  for (size_t i = 0; i < lines.size(); ++i) {
    nlohmann::json j = nlohmann::json::parse(lines[i], nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(j.is_discarded()) << "line " << i + 1 << " is not JSON";
    int type = j.value("event_type", -1);
    ++byType[type];
    // Event id i: offset i mod 50 < 1 is a person, < 4 an auction, else a bid (section 1).
    int off = static_cast<int>(i % 50);
    EXPECT_EQ(type, off < 1 ? 0 : off < 4 ? 1 : 2) << "line " << i + 1;
    EXPECT_TRUE(j.contains(type == 0 ? "person" : type == 1 ? "auction" : "bid")) << lines[i];
  }
  EXPECT_EQ(byType[0], 2);
  EXPECT_EQ(byType[1], 6);
  EXPECT_EQ(byType[2], 92);
}

TEST_F(CliTest, GenerateToStdoutMatchesTheFile) {
  std::string file = generate(200, "--seed 9 --generators 2 --out-of-order 4");
  CommandResult r = reka("nexmark generate --events 200 --seed 9 --generators 2 --out-of-order 4");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, readFile(file));
}

TEST_F(CliTest, RunWritesRowsAndTheReport) {
  std::string events = generate(5000);
  std::string out = path("q2.jsonl"), report = path("report.json");
  CommandResult r = reka("nexmark run --query q2 --input '" + events + "' --output '" + out + "' --report '" + report +
                         "' --parallelism 2 --no-progress");
  ASSERT_EQ(r.exitCode, 0) << r.err;

  // The rows: bids with auction mod 123 = 0, computed from the event file.
  std::vector<Row> expected;
  for (const auto& line : readLines(events)) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j["event_type"] == 2 && j["bid"]["auction"].get<int64_t>() % 123 == 0)
      expected.push_back({num(j["bid"]["auction"].get<int64_t>()), num(j["bid"]["price"].get<int64_t>())});
  }
  ASSERT_FALSE(expected.empty());
  std::vector<Row> actual;
  for (const auto& row : readRows(out)) actual.push_back(valuesOf(row));
  expectSameRows(actual, expected, "q2 rows");

  nlohmann::json rep = nlohmann::json::parse(readFile(report), nullptr, false);
  ASSERT_TRUE(rep.is_object()) << readFile(report);
  for (const char* key : {"query", "events", "rate", "parallelism", "wall_s", "cpu_s", "events_per_s", "events_per_cpu_s",
                          "output_rows", "peak_rss_bytes"})
    EXPECT_TRUE(rep.contains(key)) << "report lacks " << key << ": " << rep.dump();
  EXPECT_EQ(rep.value("query", ""), "q2");
  EXPECT_EQ(rep.value("events", int64_t{-1}), 5000);
  EXPECT_EQ(rep.value("parallelism", -1), 2);
  EXPECT_EQ(rep.value("output_rows", int64_t{-1}), static_cast<int64_t>(readLines(out).size()));
  EXPECT_GT(rep.value("peak_rss_bytes", int64_t{0}), 0);
  EXPECT_GE(rep.value("wall_s", -1.0), 0.0);
  EXPECT_GE(rep.value("cpu_s", -1.0), 0.0);
  EXPECT_THAT(r.out, HasSubstr("q2"));  // the summary line
}

TEST_F(CliTest, RunWithTheInProcessGenerator) {
  std::string report = path("report-gen.json");
  CommandResult r = reka("nexmark run --query q0 --events 3000 --rate 50000 --parallelism 2 --no-progress --report '" + report + "'");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  nlohmann::json rep = nlohmann::json::parse(readFile(report), nullptr, false);
  ASSERT_TRUE(rep.is_object()) << readFile(report);
  EXPECT_EQ(rep.value("events", int64_t{-1}), 3000);
  EXPECT_EQ(rep.value("rate", -1.0), 50000.0);
  // q0 passes every bid through: events 0..2999 hold 60 persons, 180 auctions, 2760 bids.
  EXPECT_EQ(rep.value("output_rows", int64_t{-1}), 2760);
}

TEST_F(CliTest, RunFailsOnABadLineWhenAskedTo) {
  std::string events = generate(100);
  std::string content = readFile(events);
  std::string bad = path("bad.jsonl");
  // Line 51 is malformed.
  size_t pos = 0;
  for (int i = 0; i < 50; ++i) pos = content.find('\n', pos) + 1;
  writeFile(bad, content.substr(0, pos) + "{not json\n" + content.substr(pos));

  CommandResult r = reka("nexmark run --query q0 --input '" + bad + "' --on-bad-input fail --no-progress --output '" + path("o.jsonl") + "'");
  EXPECT_NE(r.exitCode, 0);
  EXPECT_THAT(r.err, HasSubstr("line 51"));

  std::string dead = path("dead.jsonl"), report = path("bad-report.json");
  r = reka("nexmark run --query q0 --input '" + bad + "' --dead-letter '" + dead + "' --no-progress --report '" + report + "'");
  EXPECT_EQ(r.exitCode, 0) << r.err;
  std::vector<FlatRow> deadRows = readRows(dead);
  ASSERT_EQ(deadRows.size(), 1u);
  EXPECT_EQ(field(deadRows[0], "line"), "51");
  nlohmann::json rep = nlohmann::json::parse(readFile(report), nullptr, false);
  ASSERT_TRUE(rep.is_object());
  EXPECT_EQ(rep.value("events", int64_t{-1}), 100);
  EXPECT_EQ(rep.value("output_rows", int64_t{-1}), 92);
}

struct BadFlags {
  std::string name;
  std::string args;
  std::vector<std::string> errMentions;  // what the message on stderr must name
};

class CliBadFlagsTest : public CliTest, public ::testing::WithParamInterface<BadFlags> {};

TEST_P(CliBadFlagsTest, IsAUsageErrorWithAClearMessage) {
  const BadFlags& p = GetParam();
  std::string args = p.args;
  if (size_t pos = args.find("EVENTS"); pos != std::string::npos) args.replace(pos, 6, "'" + generate(50) + "'");
  CommandResult r = reka(args);
  EXPECT_EQ(r.exitCode, 2) << "a usage error, refused before any job starts: " << r.err;
  EXPECT_FALSE(r.err.empty());
  for (const auto& m : p.errMentions) EXPECT_THAT(r.err, HasSubstr(m));
  EXPECT_THAT(r.err, Not(HasSubstr("AddressSanitizer")));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CliBadFlagsTest,
    ::testing::Values(
        BadFlags{"UnknownQuery", "nexmark run --query q99 --events 10", {"q99", "q0", "q3", "q22"}},
        BadFlags{"NegativeEvents", "nexmark run --query q0 --events -5", {"--events", "-5"}},
        BadFlags{"NonNumericEvents", "nexmark run --query q0 --events abc", {"--events", "abc"}},
        BadFlags{"ZeroParallelism", "nexmark run --query q0 --events 10 --parallelism 0", {"--parallelism", "0"}},
        BadFlags{"EventsAndInput", "nexmark run --query q0 --events 10 --input EVENTS", {"--events", "--input"}},
        BadFlags{"NeitherEventsNorInput", "nexmark run --query q0", {"--events", "--input"}},
        BadFlags{"MissingInputFile", "nexmark run --query q0 --input /nonexistent/events.jsonl", {"/nonexistent/events.jsonl"}},
        BadFlags{"MissingQuery", "nexmark run --events 10", {"--query"}},
        BadFlags{"GenerateNegativeEvents", "nexmark generate --events -1", {"--events"}},
        BadFlags{"GenerateZeroRate", "nexmark generate --events 10 --rate 0", {"--rate"}},
        BadFlags{"UnknownSubcommand", "nexmark frobnicate", {"frobnicate"}},
        BadFlags{"UnknownCommand", "bogus-command", {"unknown command 'bogus-command'", "nexmark, ", "status"}},
        BadFlags{"RestPortNotANumber",
                 "nexmark run --query q0 --events 10 --rest-port abc",
                 {"rest.port 'abc': expected a port (1-65535), a range such as 8081-8099, or 0 (off)"}},
        BadFlags{"RestPortTooHigh", "nexmark run --query q0 --events 10 --rest-port 99999", {"rest.port '99999'"}},
        BadFlags{"RestPortRangeBackwards", "nexmark run --query q0 --events 10 --rest-port 9000-8000", {"rest.port '9000-8000'"}},
        BadFlags{"RestAddressNotAnAddress",
                 "nexmark run --query q0 --events 10 --rest-address notanaddress",
                 {"rest.address 'notanaddress': expected an IP address", "localhost"}},
        BadFlags{"CepRestPort",
                 "cep run --rules EVENTS --input EVENTS --key k --time t --rest-port abc",
                 {"reka cep run: rest.port 'abc'"}},
        BadFlags{"RunOutputInMissingDirectory",
                 "nexmark run --query q0 --events 10 --output /nonexistent/dir/x",
                 {"--output /nonexistent/dir/x: the directory /nonexistent/dir does not exist"}},
        BadFlags{"GenerateOutputInMissingDirectory",
                 "nexmark generate --events 10 --output /nonexistent/dir/x",
                 {"reka nexmark generate: --output /nonexistent/dir/x: the directory /nonexistent/dir does not exist"}},
        BadFlags{"StateDirCannotBeCreated",
                 "nexmark run --query q0 --events 10 --state-dir /proc/reka-state",
                 {"--state-dir /proc/reka-state: cannot create directory"}}),
    [](const ::testing::TestParamInfo<BadFlags>& info) { return info.param.name; });

}  // namespace
}  // namespace reka::nexmark::it
