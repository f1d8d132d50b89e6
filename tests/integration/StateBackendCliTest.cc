// `reka nexmark run --state-backend rocksdb`: the queries whose keyed functions, windows and
// joins keep state in the backend give exactly the heap backend's rows; bad backend settings are
// refused with a message that says what is accepted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
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

class StateBackendCliTest : public ::testing::TestWithParam<std::string> {
 protected:
  CommandResult reka(const std::string& args) {
    return runCommand(REKA_CLI_PATH, args, dir_, calls_, 120);
  }

  /// The result of `query` over the in-process generator at parallelism 2: its rows, sorted,
  /// with an updating result's changelog applied (the order in which two subtasks' updates of
  /// one key interleave varies from run to run; what they end in does not).
  std::vector<std::string> rows(const std::string& query, const std::string& backend, const std::string& extra = "") {
    const std::string out = dir_.file(query + "-" + backend + std::to_string(calls_) + ".jsonl");
    CommandResult r =
        reka("nexmark run --query " + query +
             " --events 10000 --rate 10000 --parallelism 2 --no-progress --rest-port 0" +
             " --state-backend " + backend + " --rocksdb-localdir '" + dir_.file("rocksdb") +
             "' --output '" + out + "' " + extra);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    std::multiset<std::string> table;
    for (const std::string& line : readLines(out)) {
      nlohmann::json row = nlohmann::json::parse(line);
      const std::string op = row.value("op", "+I");
      row.erase("op");
      const std::string key = row.dump();
      if (op == "+I" || op == "+U") {
        table.insert(key);
      } else {
        auto it = table.find(key);
        EXPECT_NE(it, table.end()) << query << ": " << op << " of a row that is not in the result: " << line;
        if (it != table.end()) table.erase(it);
      }
    }
    return std::vector<std::string>(table.begin(), table.end());
  }

  ScratchDir dir_;
  int calls_ = 0;
};

TEST_P(StateBackendCliTest, RocksDbGivesTheHeapRows) {
  const std::string query = GetParam();
  const std::vector<std::string> heap = rows(query, "heap");
  ASSERT_FALSE(heap.empty()) << query << " wrote nothing: the comparison would prove nothing";
  const std::vector<std::string> rocksdb = rows(query, "rocksdb");
  EXPECT_EQ(rocksdb.size(), heap.size());
  EXPECT_TRUE(rocksdb == heap) << query
                               << ": the RocksDB backend's rows differ from the heap backend's";
  // A value cache too small for the keys: entries are evicted and read back all the time.
  const std::vector<std::string> evicting = rows(query, "rocksdb", "--rocksdb-value-cache 1m");
  EXPECT_TRUE(evicting == heap) << query << ": with a 1 MiB value cache the rows differ from the heap backend's";
  // No value cache: each state keeps the key in use only.
  const std::vector<std::string> uncached = rows(query, "rocksdb", "--rocksdb-value-cache 0");
  EXPECT_TRUE(uncached == heap) << query << ": without a value cache the rows differ from the heap backend's";
  // The job's working directory is gone; only the local directory it was made in is left.
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir_.file("rocksdb")))
    left.push_back(e.path().string());
  EXPECT_TRUE(left.empty()) << left.front();
}

// The queries whose keyed functions keep their state through the state handles, and those whose
// windows (q5 sliding, q7 tumbling, q11 sessions) and window join (q8) keep their contents in
// the backend.
INSTANTIATE_TEST_SUITE_P(Queries, StateBackendCliTest,
                         ::testing::Values("q3", "q4", "q5", "q6", "q7", "q8", "q9", "q11", "q15",
                                           "q17", "q18", "q19", "q20"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

class StateBackendFlagsTest : public StateBackendCliTest {};

/// The state each operator keeps in checkpoint storage, on the summary line and in the report:
/// the keyed join's state is there, and with full checkpoints the operators' state together
/// fits in the last checkpoint's files.
TEST_F(StateBackendFlagsTest, TheStateOfEachOperatorIsReported) {
  for (const std::string backend : {"heap", "rocksdb"}) {
    const std::string report = dir_.file("report-" + backend + ".json");
    CommandResult r = reka("nexmark run --query q20 --events 200000 --rate 100000 --parallelism 2 --no-progress --rest-port 0 --state-backend " +
                           backend + " --rocksdb-localdir '" + dir_.file("rocksdb") + "' --state-dir '" + dir_.file("state-" + backend) +
                           "' --checkpoint-interval 100ms --checkpoint-mode full --output-dir '" + dir_.file("out-" + backend) +
                           "' --report '" + report + "'");
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("state in checkpoints: "));
    nlohmann::json rep = nlohmann::json::parse(readFile(report));
    ASSERT_TRUE(rep.contains("state_bytes")) << rep.dump();
    const nlohmann::json& states = rep["state_bytes"];
    ASSERT_TRUE(states.is_object());
    int64_t total = 0;
    for (const auto& [name, bytes] : states.items()) {
      EXPECT_GT(bytes.get<int64_t>(), 0) << name;
      total += bytes.get<int64_t>();
    }
    EXPECT_TRUE(states.contains("q20")) << states.dump();
    EXPECT_GT(rep.value("checkpoints_completed", int64_t{0}), 0);
    EXPECT_LE(total, rep.value("last_checkpoint_bytes", int64_t{0})) << states.dump();
  }
}

TEST_F(StateBackendFlagsTest, BadSettingsSayWhatIsAccepted) {
  CommandResult r = reka("nexmark run --query q18 --events 10 --no-progress --state-backend lmdb");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("lmdb"));
  EXPECT_THAT(r.err, HasSubstr("rocksdb"));
  r = reka(
      "nexmark run --query q18 --events 10 --no-progress --state-backend rocksdb "
      "--rocksdb-block-cache 12q");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("reka.rocksdb-block-cache '12q': expected a size of at least 1m"));
  r = reka("nexmark run --query q18 --events 10 --no-progress --state-backend rocksdb --rocksdb-value-cache 100k");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("reka.rocksdb-value-cache '100k': expected 0 (off) or a size of at least 1m, such as 64m"));
  r = reka("nexmark run --query q18 --events 10 --no-progress --state-ttl forever");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(
      r.err,
      HasSubstr(
          "table.exec.state.ttl 'forever': expected a duration such as 10m, 1h or 0 (never)"));
  r = reka(
      "nexmark run --query q18 --events 10 --no-progress -D state.backend.type=rocksdb -D "
      "state.backend.rocksdb.localdir=/proc/nope");
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot create a RocksDB working directory in '/proc/nope'"));
}

}  // namespace
}  // namespace reka::nexmark::it
