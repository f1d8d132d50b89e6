// `reka cep run` and `reka cep check`: JSON rules over JSON events from the command line; a
// rule file changed while the job follows its input (added, changed, refused); SIGKILL and a
// restart from the last checkpoint with every alert written once. Expected alerts are worked
// out by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
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
#include "connectors/kafka/MockCluster.h"
#include "reka/connector/Kafka.h"

#ifndef REKA_CLI_PATH
#error "REKA_CLI_PATH must name the reka binary"
#endif

namespace reka::nexmark::it {
namespace {

using ::testing::HasSubstr;

const char* kRules = R"json([
  {"id": "test-charges", "version": 1,
   "pattern": [{"name": "small", "where": "amount < 2", "times": 3, "loop": "strict"},
               {"name": "large", "contiguity": "strict", "where": "amount > 500"}],
   "within": "10 minutes", "skip": "skip-past-last-event",
   "emit": {"smalls": "SUM(small.amount)", "large": "large.amount"}},
  {"id": "big", "pattern": [{"name": "x", "where": "amount >= 5000"}], "emit": {"amount": "x.amount"}}
])json";

std::string charge(const std::string& card, int64_t ts, const std::string& amount) {
  return R"({"card":")" + card + R"(","ts":)" + std::to_string(ts) + R"(,"amount":)" + amount + "}\n";
}

TEST(CepCliTest, RunWritesOneAlertPerMatchAndBadLinesAreDeadLetters) {
  ScratchDir dir;
  std::ofstream(dir.file("rules.json")) << kRules;
  // Card a: three test charges then a large one (a match; the large one is not >= 5000).
  // Card b: two small charges, a normal one, a small one and a large one: the normal charge
  // breaks the strict loop. Card c: a charge of 7000 (big). Line 10 is not an event. b's 1200
  // comes after a's 1250: within the 1 s of out-of-orderness, so it is put back in order.
  std::ofstream(dir.file("events.json")) << charge("a", 1000, "0.5") << charge("b", 1100, "1") << charge("a", 1250, "1.5")
                                         << charge("b", 1200, "1") << charge("b", 1300, "40") << charge("a", 1350, "1")
                                         << charge("b", 1400, "1") << charge("a", 1450, "900") << charge("b", 1500, "800")
                                         << "{\"card\":\"c\",\"amount\":3}\n"
                                         << charge("c", 5000, "7000");
  int calls = 0;
  CommandResult r = runCommand(REKA_CLI_PATH,
                               "cep run --rules '" + dir.file("rules.json") + "' --input '" + dir.file("events.json") +
                                   "' --key card --time ts --out-of-orderness 1s --parallelism 2 --rest-port 0",
                               dir, calls);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::multiset<std::string> lines;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) lines.insert(l);
  EXPECT_EQ(lines, (std::multiset<std::string>{
                       R"({"rule":"test-charges","version":1,"key":"a","start":1000,"end":1450,"measures":{"smalls":3,"large":900}})",
                       R"({"rule":"big","version":1,"key":"c","start":5000,"end":5000,"measures":{"amount":7000}})"}));
  EXPECT_THAT(r.err, HasSubstr("line 10"));
  EXPECT_THAT(r.err, HasSubstr("the time field \"ts\" is missing"));
}

TEST(CepCliTest, CheckSaysWhichRulesCompileAndWhyOthersDoNot) {
  ScratchDir dir;
  std::ofstream(dir.file("rules.json")) << R"({"id":"ok","pattern":[{"name":"a","where":"x > 1"}]}
{"id":"bad","pattern":[{"name":"a","where":"b.x > 1"}]}
{"id":"gone","removed":true}
)";
  int calls = 0;
  CommandResult r = runCommand(REKA_CLI_PATH, "cep check --rules '" + dir.file("rules.json") + "'", dir, calls);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.out, HasSubstr("ok      ok (version 1)"));
  EXPECT_THAT(r.out, HasSubstr("refused bad: rule 'bad', step 'a', \"where\": at line 1, column 1: 'b' is not a step of this rule (steps: a)"));
  EXPECT_THAT(r.out, HasSubstr("removes gone"));
  // A run refuses a bad rule file before it starts.
  r = runCommand(REKA_CLI_PATH, "cep run --rules '" + dir.file("rules.json") + "' --input x --key card", dir, calls);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("'b' is not a step of this rule"));
}

pid_t startReka(const std::vector<std::string>& args, const ScratchDir& dir) { return startProcess(REKA_CLI_PATH, args, dir); }

int stopReka(pid_t pid) { return stopProcess(pid); }

/// Waits up to 60 s for `done()`.
template <class Done>
bool waitUntil(Done done) {
  for (int i = 0; i < 600; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

void replaceFile(const std::string& path, const std::string& content) {
  // As editors do: write a new file, then rename it over the old one.
  std::ofstream(path + ".tmp") << content;
  std::filesystem::rename(path + ".tmp", path);
}

TEST(CepCliTest, RulesChangeWhileTheJobRunsAndABadChangeKeepsTheRulesItHad) {
  ScratchDir dir;
  const std::string rules = dir.file("rules.json"), events = dir.file("events.json"), out = dir.file("alerts.json");
  auto big = [](int version, int threshold) {
    return R"({"id":"big","version":)" + std::to_string(version) + R"(,"pattern":[{"name":"x","where":"amount >= )" +
           std::to_string(threshold) + R"("}],"emit":{"amount":"x.amount"}})";
  };
  std::ofstream(rules) << "[" << big(1, 1000) << "]";
  std::ofstream(events) << "";
  auto append = [&](const std::string& lines) { std::ofstream(events, std::ios::app) << lines; };
  pid_t pid = startReka({"cep", "run", "--rules", rules, "--input", events, "--follow", "--key", "card", "--time", "ts", "--output", out,
                         "--state-dir", dir.file("state"), "--parallelism", "2", "--rest-port", "0", "--late-output", dir.file("late.json")},
                        dir);
  auto alerts = [&] { return readFile(out); };
  auto err = [&] { return readFile(dir.file("stderr.log")); };
  // An event at 2000 on another card moves the watermark past the one at 1000.
  append(charge("a", 1000, "1500") + charge("z", 2000, "1"));
  ASSERT_TRUE(waitUntil([&] { return count(alerts(), "\"key\":\"a\"") == 1; })) << err();
  EXPECT_THAT(alerts(), HasSubstr(R"({"rule":"big","version":1,"key":"a","start":1000,"end":1000,"measures":{"amount":1500}})"));
  // The watermark has passed 1000: an event at 500 is late, written out as read and not matched.
  append(charge("late", 500, "9000"));
  ASSERT_TRUE(waitUntil([&] { return readFile(dir.file("late.json")) == charge("late", 500, "9000"); })) << err();

  // Version 2 raises the threshold to 5000 and a second rule is added.
  replaceFile(rules, "[" + big(2, 5000) + R"(, {"id":"tiny","pattern":[{"name":"t","where":"amount < 0.1"}]}])");
  ASSERT_TRUE(waitUntil([&] { return count(err(), "rule installed") >= 3; })) << err();  // big v1, big v2, tiny
  append(charge("b", 3000, "1500") + charge("c", 4000, "6000") + charge("d", 4500, "0.05") + charge("z", 5000, "1"));
  ASSERT_TRUE(waitUntil([&] { return count(alerts(), "\"key\":\"d\"") == 1 && count(alerts(), "\"key\":\"c\"") == 1; })) << alerts() << err();
  EXPECT_EQ(count(alerts(), "\"key\":\"b\""), 0u) << alerts();  // 1500 is below version 2's threshold
  EXPECT_THAT(alerts(), HasSubstr(R"({"rule":"big","version":2,"key":"c")"));
  EXPECT_THAT(alerts(), HasSubstr(R"({"rule":"tiny","version":1,"key":"d")"));

  // A change whose rule does not compile is refused: big stays at version 2. The file no longer
  // holds tiny, so tiny is removed (the file is the rule set).
  replaceFile(rules, R"([{"id":"big","version":3,"pattern":[{"name":"x","where":"amount >>> 1"}]}])");
  ASSERT_TRUE(waitUntil([&] { return count(err(), "rule refused") >= 1 && count(err(), "rule removed") >= 1; })) << err();
  EXPECT_THAT(err(), HasSubstr("rule 'big'"));
  append(charge("e", 6000, "9000") + charge("f", 6500, "0.01") + charge("z", 7000, "1"));
  ASSERT_TRUE(waitUntil([&] { return count(alerts(), "\"key\":\"e\"") == 1; })) << alerts() << err();
  EXPECT_THAT(alerts(), HasSubstr(R"({"rule":"big","version":2,"key":"e")"));
  EXPECT_EQ(count(alerts(), "\"key\":\"f\""), 0u) << alerts();
  EXPECT_EQ(count(alerts(), "\"key\":\"late\""), 0u) << alerts();
  EXPECT_EQ(stopReka(pid), 0) << err();
}

TEST(CepCliTest, AfterSigkillTheJobResumesFromItsCheckpointAndWritesEveryAlertOnce) {
  ScratchDir dir;
  const std::string rules = dir.file("rules.json"), events = dir.file("events.json"), out = dir.file("alerts.json");
  std::ofstream(rules) << kRules;
  // Card k (k = 0..): three test charges and a large one at 100k + 1..4 seconds: one alert each.
  auto append = [&](int from, int to) {
    std::ofstream f(events, std::ios::app);
    for (int k = from; k < to; ++k) {
      const int64_t t = 100'000LL * k;
      const std::string card = "card" + std::to_string(k);
      f << charge(card, t + 1000, "1") << charge(card, t + 2000, "1") << charge(card, t + 3000, "1") << charge(card, t + 4000, "700");
    }
  };
  auto expected = [](int n) {
    std::multiset<std::string> want;
    for (int k = 0; k < n; ++k) {
      const int64_t t = 100'000LL * k;
      want.insert(R"({"rule":"test-charges","version":1,"key":"card)" + std::to_string(k) + R"(","start":)" + std::to_string(t + 1000) +
                  R"(,"end":)" + std::to_string(t + 4000) + R"(,"measures":{"smalls":3,"large":700}})");
    }
    return want;
  };
  auto written = [&] {
    std::multiset<std::string> got;
    std::istringstream in(readFile(out));
    for (std::string l; std::getline(in, l);) got.insert(l);
    return got;
  };
  const std::vector<std::string> args = {"cep", "run", "--rules", rules, "--input", events, "--follow", "--key", "card", "--time", "ts",
                                         "--output", out, "--state-dir", dir.file("state"), "--checkpoint-interval", "100ms",
                                         "--parallelism", "2", "--rest-port", "0"};
  // The last card's alert waits for a later event's watermark: the expected count is n - 1.
  append(0, 200);
  pid_t pid = startReka(args, dir);
  ASSERT_TRUE(waitUntil([&] { return written() == expected(199); })) << readFile(dir.file("stderr.log"));
  append(200, 260);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // checkpoints every 100 ms
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  append(260, 400);
  pid = startReka(args, dir);
  const bool done = waitUntil([&] { return written() == expected(399); });
  EXPECT_EQ(stopReka(pid), 0);
  EXPECT_TRUE(done) << written().size() << " alerts\n" << readFile(dir.file("stderr.log"));
  EXPECT_THAT(readFile(dir.file("stderr.log")), HasSubstr("resumed from checkpoint"));
}

TEST(CepCliTest, RulesFromAKafkaTopicAreAddedChangedAndRemovedWhileTheJobRuns) {
  auto m = connector::kafka::MockCluster::start(1);
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  auto mock = std::move(*m);
  ASSERT_TRUE(mock->createTopic("rules", 1).isOk());
  // One message per rule, keyed by its id (a compacted topic); a null value removes the rule.
  auto produce = [&](const std::string& key, const std::optional<std::string>& value) {
    connector::kafka::KafkaSinkOptions o;
    o.bootstrapServers = mock->bootstrapServers();
    o.topic = "rules";
    auto w = connector::kafka::SinkWriter::open(o, 0, false);
    ASSERT_TRUE(w.isOk()) << w.status().toString();
    connector::kafka::ProducerRecord rec;
    rec.key = key;
    rec.hasKey = true;
    rec.hasValue = value.has_value();
    if (value) rec.value = *value;
    ASSERT_TRUE((*w)->write(rec).isOk());
    ASSERT_TRUE((*w)->finish().isOk());
  };
  auto big = [](int version, int threshold) {
    return R"({"id":"big","version":)" + std::to_string(version) + R"(,"pattern":[{"name":"x","where":"amount >= )" +
           std::to_string(threshold) + R"("}]})";
  };
  produce("big", big(1, 1000));
  ScratchDir dir;
  const std::string events = dir.file("events.json"), out = dir.file("alerts.json");
  std::ofstream(events) << "";
  auto append = [&](const std::string& lines) { std::ofstream(events, std::ios::app) << lines; };
  auto alerts = [&] { return readFile(out); };
  auto err = [&] { return readFile(dir.file("stderr.log")); };
  pid_t pid = startReka({"cep", "run", "--rules", "kafka://" + mock->bootstrapServers() + "/rules", "--input", events, "--follow", "--key", "card",
                         "--time", "ts", "--output", out, "--state-dir", dir.file("state"), "--parallelism", "2", "--rest-port", "0"},
                        dir);
  ASSERT_TRUE(waitUntil([&] { return count(err(), "rule installed rule=big version=1") == 1; })) << err();
  append(charge("a", 1000, "1500") + charge("z", 2000, "1"));
  ASSERT_TRUE(waitUntil([&] { return count(alerts(), "\"key\":\"a\"") == 1; })) << err();
  EXPECT_THAT(alerts(), HasSubstr(R"({"rule":"big","version":1,"key":"a")"));

  produce("big", big(2, 5000));
  ASSERT_TRUE(waitUntil([&] { return count(err(), "rule installed rule=big version=2") == 1; })) << err();
  append(charge("b", 3000, "1500") + charge("c", 4000, "6000") + charge("z", 5000, "1"));
  ASSERT_TRUE(waitUntil([&] { return count(alerts(), "\"key\":\"c\"") == 1; })) << alerts() << err();
  EXPECT_EQ(count(alerts(), "\"key\":\"b\""), 0u) << alerts();
  EXPECT_THAT(alerts(), HasSubstr(R"({"rule":"big","version":2,"key":"c")"));

  // A message that is not a rule is refused with its position; the job goes on.
  produce("oops", std::string("this is not JSON"));
  ASSERT_TRUE(waitUntil([&] { return count(err(), "rule refused") == 1; })) << err();
  EXPECT_THAT(err(), HasSubstr("topic rules partition 0 offset 2"));
  // A tombstone removes big; a new rule shows when the removal has been read.
  produce("big", std::nullopt);
  produce("tiny", std::string(R"({"id":"tiny","pattern":[{"name":"t","where":"amount < 0.1"}]})"));
  ASSERT_TRUE(waitUntil([&] { return count(err(), "rule removed rule=big") == 1 && count(err(), "rule installed rule=tiny") == 1; })) << err();
  append(charge("d", 6000, "9000") + charge("e", 6500, "0.01") + charge("z", 7000, "1"));
  ASSERT_TRUE(waitUntil([&] { return count(alerts(), "\"key\":\"e\"") == 1; })) << alerts() << err();
  EXPECT_EQ(count(alerts(), "\"key\":\"d\""), 0u) << alerts();
  EXPECT_EQ(stopReka(pid), 0) << err();
}

}  // namespace
}  // namespace reka::nexmark::it
