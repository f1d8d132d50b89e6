#pragma once

// What the SQL job tests share: a scratch directory per test, output tables in it, scripts run
// as jobs, and the table a changelog gives.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "reka/sql/Sql.h"
#include "testing/JobTesting.h"

namespace reka::sql::testing {

using Lines = std::vector<std::string>;

class SqlFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("reka-sql-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  /// CREATE TABLE out (columns) as files under out/ in `format`.
  std::string out(const std::string& columns, const std::string& format = "json") const {
    return "CREATE TABLE out (" + columns + ") WITH ('connector' = 'filesystem', 'path' = '" + (dir_ / "out").string() +
           "', 'format' = '" + format + "');\n";
  }
  /// Runs the script (out/ emptied first) and returns the lines written under out/: sorted, or
  /// in the order written (`sorted` false: one subtask, one file).
  Lines run(const std::string& script, int parallelism = 1, bool sorted = true) {
    std::filesystem::remove_all(dir_ / "out");
    auto compiled = SqlScript::compile(script);
    EXPECT_TRUE(compiled.isOk()) << compiled.status().toString();
    if (!compiled.isOk()) return {};
    ExecutionConfig config;
    config.parallelism = parallelism;
    StreamEnvironment env(config);
    Status added = compiled->addTo(env);
    EXPECT_TRUE(added.isOk()) << added.toString();
    Status ran = reka::testing::runJob(env);
    EXPECT_TRUE(ran.isOk()) << ran.toString();
    if (sorted) return reka::testing::linesUnder(dir_ / "out");
    Lines lines;
    size_t files = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / "out")) {
      if (!e.is_regular_file() || e.path().filename().string()[0] == '.') continue;
      ++files;
      std::ifstream in(e.path());
      for (std::string line; std::getline(in, line);) lines.push_back(line);
    }
    EXPECT_EQ(files, 1u) << "one subtask should write one file";
    return lines;
  }
  /// The message a script that does not compile gets.
  static std::string error(const std::string& script) {
    auto compiled = SqlScript::compile(script);
    return compiled.isOk() ? std::string("(compiled)") : compiled.status().message();
  }
  /// The message a script gets when it compiles but its job cannot be built (a connector's
  /// options are checked then, before anything runs).
  static std::string buildError(const std::string& script) {
    auto compiled = SqlScript::compile(script);
    if (!compiled.isOk()) return compiled.status().message();
    StreamEnvironment env;
    Status added = compiled->addTo(env);
    return added.isOk() ? std::string("(built)") : added.message();
  }
  /// The plan `explain` prints for a script (or its error).
  static std::string explain(const std::string& script) {
    auto compiled = SqlScript::compile(script);
    return compiled.isOk() ? compiled->explain() : compiled.status().toString();
  }
  /// The table changelog-json lines give: +I/+U add a row, -U/-D remove one (which must be there).
  static Lines applied(const Lines& lines) {
    std::multiset<std::string> table;
    Lines removed;
    for (const auto& l : lines) {
      const size_t op = l.rfind(",\"op\":\"");
      EXPECT_NE(op, std::string::npos) << l;
      if (op == std::string::npos) continue;
      const std::string row = l.substr(0, op) + "}";
      if (l[op + 7] == '+') table.insert(row);
      else removed.push_back(row);
    }
    for (const auto& r : removed) {
      auto it = table.find(r);
      EXPECT_NE(it, table.end()) << "retracts a row never added: " << r;
      if (it != table.end()) table.erase(it);
    }
    return {table.begin(), table.end()};
  }

  std::filesystem::path dir_;
};

}  // namespace reka::sql::testing
