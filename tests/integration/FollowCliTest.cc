// `reka nexmark run --input PATTERN --follow`: a job that follows growing event files, stops
// with a savepoint on SIGTERM and resumes where it was.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "NexmarkTestKit.h"

#ifndef REKA_CLI_PATH
#error "REKA_CLI_PATH must name the reka binary"
#endif

extern char** environ;

namespace reka::nexmark::it {
namespace {

using namespace std::chrono_literals;

class FollowCliTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return dir_.file(name); }

  /// `reka nexmark generate` into a file; returns its lines.
  std::vector<std::string> generate(int events, int seed) {
    const std::string file = path("gen-" + std::to_string(seed) + ".jsonl");
    const std::string cmd = "timeout 60 '" REKA_CLI_PATH "' nexmark generate --events " + std::to_string(events) + " --seed " +
                            std::to_string(seed) + " --output '" + file + "' 2>/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    return readLines(file);
  }
  static void append(const std::string& file, const std::vector<std::string>& lines, size_t from, size_t to) {
    std::ofstream f(file, std::ios::app | std::ios::binary);
    for (size_t i = from; i < to; ++i) f << lines[i] << "\n";
  }

  /// Starts the follow job in the background.
  pid_t start() {
    std::vector<std::string> args = {REKA_CLI_PATH, "nexmark", "run", "--query", "q2", "--input", path("logs") + "/*.jsonl",
                                     "--follow", "--output", path("q2.jsonl"), "--state-dir", path("state"),
                                     "--checkpoint-interval", "100ms", "--parallelism", "1", "--no-progress"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, path("stderr.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&actions, 1, path("stdout.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, REKA_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
  }
  /// Waits until the output file has `rows` lines (60 s at most).
  bool waitForRows(size_t rows) {
    for (int i = 0; i < 600; ++i) {
      if (std::filesystem::exists(path("q2.jsonl")) && readLines(path("q2.jsonl")).size() >= rows) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  static int stop(pid_t pid) {
    kill(pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 300; ++i) {
      if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      std::this_thread::sleep_for(100ms);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  /// q2's rows for `lines`: bids whose auction is a multiple of 123.
  static std::vector<std::string> q2Of(const std::vector<std::string>& lines) {
    std::vector<std::string> rows;
    for (const auto& line : lines) {
      nlohmann::json j = nlohmann::json::parse(line);
      if (j["event_type"] == 2 && j["bid"]["auction"].get<int64_t>() % 123 == 0)
        rows.push_back(std::to_string(j["bid"]["auction"].get<int64_t>()) + "/" + std::to_string(j["bid"]["price"].get<int64_t>()));
    }
    std::sort(rows.begin(), rows.end());
    return rows;
  }
  std::vector<std::string> outputRows() {
    std::vector<std::string> rows;
    for (const auto& line : readLines(path("q2.jsonl"))) {
      nlohmann::json j = nlohmann::json::parse(line);
      rows.push_back(std::to_string(j["auction"].get<int64_t>()) + "/" + std::to_string(j["price"].get<int64_t>()));
    }
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  ScratchDir dir_;
};

TEST_F(FollowCliTest, FollowsAppendsAndNewFilesStopsWithASavepointAndResumes) {
  const auto a = generate(10000, 1), b = generate(10000, 2);
  std::filesystem::create_directories(path("logs"));
  const std::string fa = path("logs") + "/a.jsonl", fb = path("logs") + "/b.jsonl";
  append(fa, a, 0, 3000);
  std::vector<std::string> written(a.begin(), a.begin() + 3000);

  pid_t pid = start();
  ASSERT_TRUE(waitForRows(q2Of(written).size())) << readFile(path("stderr.log"));
  // Appends, one of them cut in the middle of a line for a while; then a new file.
  append(fa, a, 3000, 7000);
  {
    std::ofstream f(fa, std::ios::app | std::ios::binary);
    f << a[7000].substr(0, 10);
  }
  std::this_thread::sleep_for(300ms);
  {
    std::ofstream f(fa, std::ios::app | std::ios::binary);
    f << a[7000].substr(10) << "\n";
  }
  append(fb, b, 0, 5000);
  written.insert(written.end(), a.begin() + 3000, a.begin() + 7001);
  written.insert(written.end(), b.begin(), b.begin() + 5000);
  ASSERT_TRUE(waitForRows(q2Of(written).size())) << readFile(path("stderr.log"));
  EXPECT_EQ(stop(pid), 0) << readFile(path("stderr.log"));
  EXPECT_THAT(readFile(path("stderr.log")), ::testing::HasSubstr("stopped with savepoint"));

  // Written while the job was down, read once it resumes.
  append(fa, a, 7001, 10000);
  append(fb, b, 5000, 10000);
  written.insert(written.end(), a.begin() + 7001, a.end());
  written.insert(written.end(), b.begin() + 5000, b.end());
  pid = start();
  ASSERT_TRUE(waitForRows(q2Of(written).size())) << readFile(path("stderr.log"));
  std::this_thread::sleep_for(500ms);  // nothing more may come
  EXPECT_EQ(stop(pid), 0) << readFile(path("stderr.log"));
  EXPECT_EQ(outputRows(), q2Of(written));
}

}  // namespace
}  // namespace reka::nexmark::it
