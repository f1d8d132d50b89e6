// What a hostile tester broke in the `reka` command, each as the reproduction that failed:
// extreme timestamps, stuck stops, dead letters, the pid file, paths, late data, wrong numbers,
// quiet restarts into committed output, and the smaller findings. Every process has a deadline.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "NexmarkTestKit.h"

#ifndef REKA_CLI_PATH
#error "REKA_CLI_PATH must name the reka binary"
#endif

namespace reka::nexmark::it {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using Exit = CommandResult;

class HardeningTest : public ::testing::Test {
 protected:
  ~HardeningTest() override {
    for (pid_t p : children_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, WNOHANG);
    }
  }

  std::string path(const std::string& name) const { return dir_.file(name); }

  Running start(const std::string& args) { return background_.start(REKA_CLI_PATH, args); }

  /// Waits for `r` at most `limit`; kills it (code -1) past that.
  Exit finish(const Running& r, std::chrono::milliseconds limit = 60s) { return background_.finish(r, limit); }

  Exit reka(const std::string& args, std::chrono::milliseconds limit = 60s) { return finish(start(args), limit); }

  /// A file of `n` generated events, with `insert` lines placed after line `at`.
  std::string events(const std::string& name, int n, const std::vector<std::string>& insert = {}, size_t at = 0) {
    const std::string clean = path(name + ".clean");
    Exit g = reka("nexmark generate --events " + std::to_string(n) + " --rate 1000 --output '" + clean + "'");
    EXPECT_EQ(g.exitCode, 0) << g.err;
    std::vector<std::string> lines = readLines(clean);
    lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(std::min(at, lines.size())), insert.begin(), insert.end());
    std::string content;
    for (const auto& l : lines) content += l + "\n";
    const std::string file = path(name);
    writeFile(file, content);
    return file;
  }

  static std::string bid(const std::string& dateTime, const std::string& price = "100", int64_t auction = 1000) {
    return R"({"event_type":2,"bid":{"auction":)" + std::to_string(auction) + R"(,"bidder":1001,"price":)" + price +
           R"(,"channel":"Google","url":"https://x/y","dateTime":)" + dateTime + R"(,"extra":""}})";
  }

  static std::vector<std::string> sortedLines(const std::string& file) {
    auto lines = readLines(file);
    std::sort(lines.begin(), lines.end());
    return lines;
  }

  std::string makeFifo(const std::string& name) {
    const std::string p = path(name);
    EXPECT_EQ(::mkfifo(p.c_str(), 0600), 0);
    return p;
  }

  ScratchDir dir_;
  BackgroundCommands background_{dir_};
  std::vector<pid_t> children_;  ///< other processes a test starts
};

// ---- 1. Extreme timestamps -----------------------------------------------------------------------

TEST_F(HardeningTest, ExtremeTimestampsAreDeadLetteredAndQ5AndQ7FinishWithTheCleanResult) {
  const std::vector<std::string> extreme = {bid("9223372036854775807"), bid("-9223372036854775808"),
                                            bid("9223372036854771805")};
  const std::string input = events("extreme.jsonl", 3000, extreme, 1500);
  const std::string clean = path("extreme.jsonl.clean");
  for (const std::string q : {"q5", "q7"}) {
    SCOPED_TRACE(q);
    Exit run = reka("nexmark run --query " + q + " --input '" + input + "' --no-progress --output '" + path(q + ".out") +
                        "' --dead-letter '" + path(q + ".dl") + "'",
                    30s);
    ASSERT_EQ(run.exitCode, 0) << run.err;
    Exit ref = reka("nexmark run --query " + q + " --input '" + clean + "' --no-progress --output '" + path(q + ".ref") + "'", 30s);
    ASSERT_EQ(ref.exitCode, 0) << ref.err;
    EXPECT_EQ(sortedLines(path(q + ".out")), sortedLines(path(q + ".ref")));
    const auto dead = readLines(path(q + ".dl"));
    ASSERT_EQ(dead.size(), 3u);
    for (size_t i = 0; i < dead.size(); ++i) {
      EXPECT_THAT(dead[i], HasSubstr("\"line\":" + std::to_string(1501 + i)));
      EXPECT_THAT(dead[i], HasSubstr("is not a timestamp this engine accepts"));
    }
    EXPECT_THAT(run.out, HasSubstr("3 bad input lines"));
  }
}

// ---- 2. Stopping a stuck job ---------------------------------------------------------------------

TEST_F(HardeningTest, SigtermStopsAJobWhoseFifoWriterStaysSilent) {
  const std::string fifo = makeFifo("silent.fifo");
  const int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);  // held open, never closed by a write end
  ASSERT_GE(writer, 0);
  const std::string some = readFile(events("some.jsonl", 200));
  ASSERT_EQ(::write(writer, some.data(), some.size()), static_cast<ssize_t>(some.size()));
  Running job = start("nexmark run --query q0 --input '" + fifo + "' --no-progress");
  std::this_thread::sleep_for(1s);
  const auto signalled = std::chrono::steady_clock::now();
  ::kill(job.pid, SIGTERM);
  Exit e = finish(job, 30s);
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 10s);
  EXPECT_EQ(e.exitCode, 130) << e.err;
  EXPECT_THAT(e.err, HasSubstr("interrupted, stopping"));
  EXPECT_THAT(e.out, HasSubstr("q0: 200 events"));
  ::close(writer);
}

TEST_F(HardeningTest, SigintStopsAJobWaitingForAFifoWriterThatNeverComes) {
  const std::string fifo = makeFifo("nobody.fifo");
  Running job = start("nexmark run --query q1 --input '" + fifo + "' --no-progress");
  std::this_thread::sleep_for(500ms);
  ::kill(job.pid, SIGINT);
  Exit e = finish(job, 30s);
  EXPECT_EQ(e.exitCode, 130) << e.err;
}

TEST_F(HardeningTest, ASecondInterruptExitsAtOnceWithAMessage) {
  // A long generated run with checkpoints: the first interrupt starts a stop with a savepoint.
  Running job = start("nexmark run --query q5 --events 1000000000 --no-progress --state-dir '" + path("twice-state") +
                      "' --checkpoint-interval 1s");
  std::this_thread::sleep_for(1s);
  ::kill(job.pid, SIGINT);
  // Two signals sent back to back can merge into one pending signal; 20 ms apart both are
  // delivered, and the second still comes before the main loop (every 100 ms) acts on the first.
  std::this_thread::sleep_for(20ms);
  ::kill(job.pid, SIGINT);
  Exit e = finish(job, 10s);
  EXPECT_EQ(e.exitCode, 130);
  EXPECT_THAT(e.err, HasSubstr("interrupted again: exiting now"));
}

// ---- 4. The state directory's owner --------------------------------------------------------------

TEST_F(HardeningTest, SavepointNeverSignalsAProcessThatIsNotTheJob) {
  // A stale pid file and lock file (kill -9 left them) naming an unrelated live process.
  pid_t bystander = ::fork();
  if (bystander == 0) {
    ::execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  children_.push_back(bystander);
  const std::string state = path("stale-state");
  fs::create_directories(state);
  writeFile(state + "/reka.pid", std::to_string(bystander) + "\n");
  writeFile(state + "/reka.lock", std::to_string(bystander) + "\n");
  for (const char* stop : {"", " --stop"}) {
    Exit e = reka("savepoint --state-dir '" + state + "' --timeout 2s" + stop, 20s);
    EXPECT_EQ(e.exitCode, 1);
    EXPECT_THAT(e.err, HasSubstr("no running reka job uses"));
  }
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(::waitpid(bystander, nullptr, WNOHANG), 0) << "the bystander was signalled";
  EXPECT_EQ(::kill(bystander, 0), 0);
}

TEST_F(HardeningTest, TwoRunsCannotShareAStateDirectoryAndSavepointReachesTheOwner) {
  const std::string state = path("shared-state");
  Running first = start("nexmark run --query q0 --events 1000000000 --no-progress --state-dir '" + state +
                        "' --checkpoint-interval 200ms");
  // Wait until it holds the lock (its pid is in the file once it does).
  for (int i = 0; i < 500 && readFile(state + "/reka.lock") != std::to_string(first.pid) + "\n"; ++i) std::this_thread::sleep_for(10ms);
  Exit second = reka("nexmark run --query q0 --events 1000 --no-progress --state-dir '" + state + "'", 20s);
  EXPECT_EQ(second.exitCode, 1);
  EXPECT_THAT(second.err, HasSubstr("in use by process " + std::to_string(first.pid)));
  // `reka savepoint --stop` reaches the job through the lock and stops it with a savepoint.
  Exit sp = reka("savepoint --state-dir '" + state + "' --stop --timeout 20s", 30s);
  EXPECT_EQ(sp.exitCode, 0) << sp.err;
  EXPECT_THAT(sp.out, HasSubstr("/savepoints/"));
  Exit e = finish(first, 30s);
  EXPECT_EQ(e.exitCode, 0) << e.err;
}

// ---- 5. Symlinks and path mistakes ---------------------------------------------------------------

TEST_F(HardeningTest, PathMistakesAreRefusedBeforeAnythingRuns) {
  const std::string input = events("paths.jsonl", 500);
  const std::string before = readFile(input);
  const std::string run = "nexmark run --query q1 --no-progress --input '" + input + "' ";
  struct Case {
    std::string flags;
    std::string message;
  };
  writeFile(path("victim"), "precious\n");
  fs::create_symlink(path("victim"), path("link.jsonl"));
  fs::create_directories(path("state-with-link"));
  fs::create_symlink(path("victim"), path("state-with-link/reka.lock"));
  fs::create_directories(path("outdir-with-input"));
  const std::string fifo = makeFifo("paths.fifo");
  const std::vector<Case> cases = {
      {"--output '" + input + "'", "is the input file"},
      {"--dead-letter '" + input + "'", "is the input file"},
      {"--output '" + path("o.jsonl") + "' --dead-letter '" + path("o.jsonl") + "'", "name the same file"},
      {"--output-dir ''", "--output-dir needs a path"},
      {"--output ''", "--output needs a path"},
      {"--dead-letter '" + path("missing/dl.jsonl") + "'", "does not exist"},
      {"--report '" + path("missing/report.json") + "'", "does not exist"},
      {"--output '" + path("link.jsonl") + "'", "symbolic link"},
      {"--report '" + path("link.jsonl") + "'", "symbolic link"},
      {"--state-dir '" + path("state-with-link") + "'", "symbolic link"},
      {"--output-dir '" + dir_.path().string() + "'", "contains the input"},
      {"--max-ahead 5", "is not a duration"},
      {"--max-line-bytes 2GiB", "is not a size"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.flags);
    Exit e = reka(run + c.flags, 20s);
    EXPECT_EQ(e.exitCode, 2) << "a path refused before the run is a usage error: " << e.err;
    EXPECT_THAT(e.err, HasSubstr(c.message));
    EXPECT_THAT(e.out, Not(HasSubstr("events in")));  // nothing ran
  }
  EXPECT_EQ(readFile(input), before);
  EXPECT_EQ(readFile(path("victim")), "precious\n");
  // A FIFO cannot be read again from a checkpoint's position: no checkpoints on one.
  Exit fifoState = reka("nexmark run --query q1 --no-progress --input '" + fifo + "' --state-dir '" + path("fifo-state") + "'", 20s);
  EXPECT_EQ(fifoState.exitCode, 2);
  EXPECT_THAT(fifoState.err, HasSubstr("is not a regular file"));
}

// ---- 6. Late data --------------------------------------------------------------------------------

TEST_F(HardeningTest, LateRecordsAreShownAndWrittenToTheLateOutputAsInputEvents) {
  // A bid in year 9999 in the middle: with no cap, every later bid is late.
  const std::string input = events("late.jsonl", 4000, {bid("253402300799999")}, 2000);
  Exit e = reka("nexmark run --query q7 --parallelism 1 --input '" + input + "' --no-progress --max-ahead 0 --late-output '" +
                    path("late.out") + "' --report '" + path("late.json") + "'",
                30s);
  ASSERT_EQ(e.exitCode, 0) << e.err;
  const auto report = nlohmann::json::parse(readFile(path("late.json")));
  const int64_t late = report["late_records"].get<int64_t>();
  EXPECT_GT(late, 1000);
  EXPECT_THAT(e.out, HasSubstr(std::to_string(late) + " late records (late-output " + path("late.out")));
  const auto lines = readLines(path("late.out"));
  EXPECT_EQ(static_cast<int64_t>(lines.size()), late);
  // The late file is input again: read back, it gives the same bids (no bad lines).
  Exit again = reka("nexmark run --query q0 --input '" + path("late.out") + "' --no-progress", 30s);
  EXPECT_EQ(again.exitCode, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr(", 0 bad input lines"));
  // With the default far-future cap (10 minutes) the same bid moves time 10 minutes only: the
  // file's 4 s of events stay late all the same, and they are counted, not silently dropped.
  Exit capped = reka("nexmark run --query q7 --parallelism 1 --input '" + input + "' --no-progress", 30s);
  EXPECT_EQ(capped.exitCode, 0);
  EXPECT_THAT(capped.out, HasSubstr("late records (counted only; --late-output FILE writes them)"));
}

// ---- 7. Silent wrong numbers ---------------------------------------------------------------------

TEST_F(HardeningTest, Q17SumsBeyond64BitsAreExactAndAHugePriceIsADeadLetter) {
  // 1025 bids of 2^53 − 1 on one auction in one day: the sum needs more than 63 bits.
  std::vector<std::string> bids;
  for (int i = 0; i < 1025; ++i) bids.push_back(bid(std::to_string(1436918400000 + i), "9007199254740991", 7));
  bids.push_back(bid("1436918400000", "9223372036854775807", 7));
  std::string content;
  for (const auto& b : bids) content += b + "\n";
  writeFile(path("sums.jsonl"), content);
  Exit e = reka("nexmark run --query q17 --input '" + path("sums.jsonl") + "' --no-progress --output '" + path("q17.out") +
                    "' --dead-letter '" + path("q17.dl") + "'",
                30s);
  ASSERT_EQ(e.exitCode, 0) << e.err;
  const auto rows = readLines(path("q17.out"));
  ASSERT_FALSE(rows.empty());
  // 1025 × 9007199254740991 = 9232379236109515775 > 2^63 − 1.
  EXPECT_THAT(rows.back(), HasSubstr("\"total_bids\":1025"));
  EXPECT_THAT(rows.back(), HasSubstr("\"sum_price\":9232379236109515775"));
  const auto dead = readLines(path("q17.dl"));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_THAT(dead[0], HasSubstr("outside the integers JSON exchanges exactly"));
}

// ---- 8. Quiet restarts into committed output -----------------------------------------------------

TEST_F(HardeningTest, ARunWithoutACheckpointRefusesCommittedOutputUnlessToldToStartOver) {
  const std::string out = path("committed");
  const std::string state = path("state");
  const std::string run = "nexmark run --query q5 --events 20000 --rate 10000 --parallelism 2 --no-progress --output-dir '" +
                          out + "' --state-dir '" + state + "' --checkpoint-interval 100ms";
  Exit first = reka(run, 60s);
  ASSERT_EQ(first.exitCode, 0) << first.err;
  auto committed = [&] {
    std::vector<std::string> rows;
    for (const auto& f : fs::recursive_directory_iterator(out))
      if (f.path().filename().string().rfind("part-", 0) == 0)
        for (auto& l : readLines(f.path().string())) rows.push_back(l);
    std::sort(rows.begin(), rows.end());
    return rows;
  };
  const auto reference = committed();
  ASSERT_FALSE(reference.empty());
  // Every manifest gone: no checkpoint to resume from.
  for (const auto& f : fs::recursive_directory_iterator(state))
    if (f.path().filename() == "MANIFEST") fs::remove(f.path());
  Exit refused = reka(run, 30s);
  EXPECT_EQ(refused.exitCode, 2);
  EXPECT_THAT(refused.err, HasSubstr("already holds"));
  EXPECT_THAT(refused.err, HasSubstr("was rejected: it has no MANIFEST"));
  EXPECT_THAT(refused.err, HasSubstr("--overwrite-output"));
  EXPECT_EQ(committed(), reference);
  // Told to start over: the old files go, the new run writes the same rows once.
  Exit over = reka(run + " --overwrite-output", 60s);
  EXPECT_EQ(over.exitCode, 0) << over.err;
  EXPECT_EQ(committed(), reference);
  // Without a state directory a second run into the same directory is refused too.
  Exit again = reka("nexmark run --query q5 --events 20000 --rate 10000 --no-progress --output-dir '" + out + "'", 30s);
  EXPECT_EQ(again.exitCode, 2);
  EXPECT_THAT(again.err, HasSubstr("the run has no --state-dir"));
}

// ---- 9. The smaller findings ---------------------------------------------------------------------

TEST_F(HardeningTest, ACancelledRunReportsTheRowsItWrote) {
  const std::string fifo = makeFifo("rows.fifo");
  const int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  const std::string some = readFile(events("rows.jsonl", 3000));
  Running job = start("nexmark run --query q0 --input '" + fifo + "' --no-progress --output '" + path("rows.out") + "'");
  // More than a pipe holds: the write returns once the job has read all but the last 64 KiB.
  ASSERT_EQ(::write(writer, some.data(), some.size()), static_cast<ssize_t>(some.size()));
  std::this_thread::sleep_for(1500ms);  // all 3000 are read; the writer stays silent
  ::kill(job.pid, SIGINT);
  Exit e = finish(job, 30s);
  EXPECT_EQ(e.exitCode, 130) << e.err;
  const auto written = readLines(path("rows.out"));
  EXPECT_EQ(written.size(), 2760u);  // the bids among the 3000 events (q0 passes bids through)
  EXPECT_THAT(e.out, HasSubstr(std::to_string(written.size()) + " output rows"));
  ::close(writer);
}

TEST_F(HardeningTest, AByteOrderMarkIsNotABadRecord) {
  const std::string input = events("bom.jsonl", 100);
  writeFile(path("bom2.jsonl"), "\xEF\xBB\xBF" + readFile(input));
  Exit e = reka("nexmark run --query q0 --input '" + path("bom2.jsonl") + "' --no-progress", 30s);
  EXPECT_EQ(e.exitCode, 0);
  EXPECT_THAT(e.out, HasSubstr("q0: 100 events"));
  EXPECT_THAT(e.out, HasSubstr(", 0 bad input lines"));
}

TEST_F(HardeningTest, StateFilesArePrivate) {
  const std::string state = path("private-state");
  Exit e = reka("nexmark run --query q5 --events 20000 --rate 10000 --no-progress --state-dir '" + state +
                    "' --checkpoint-interval 50ms",
                60s);
  ASSERT_EQ(e.exitCode, 0) << e.err;
  int files = 0;
  for (const auto& f : fs::recursive_directory_iterator(state)) {
    struct stat st {};
    ASSERT_EQ(::lstat(f.path().c_str(), &st), 0);
    if (S_ISDIR(st.st_mode)) {
      EXPECT_EQ(st.st_mode & 0777, 0700u) << f.path();
    } else {
      EXPECT_EQ(st.st_mode & 0777, 0600u) << f.path();
      ++files;
    }
  }
  EXPECT_GT(files, 2);
  struct stat st {};
  ASSERT_EQ(::stat(state.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

}  // namespace
}  // namespace reka::nexmark::it
