// The rule operator: rules added, changed and removed between events, refused rules, per-rule
// figures, checkpoint and restore in the middle of a match (rules included), processing time,
// and a whole job with a watched rule file on the heap and RocksDB backends. Expected alerts
// are worked out by hand in the comments.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "reka/cep/RuleSource.h"
#include "reka/cep/RuleStream.h"
#include "reka/reka.h"
#include "testing/JobTesting.h"
#include "testing/OperatorHarness.h"

namespace reka::cep {
namespace {

using testing::CollectingOutput;
using testing::OperatorHarness;

Event ev(const std::string& key, int64_t ts, const std::string& json) {
  auto e = Event::parse(json);
  EXPECT_TRUE(e.isOk()) << json;
  return e.value().withTimeAndKey(ts, key);
}

/// A charge: {"amount": a}.
Event charge(const std::string& card, int64_t ts, double amount) {
  return ev(card, ts, "{\"card\":\"" + card + "\",\"ts\":" + std::to_string(ts) + ",\"amount\":" + std::to_string(amount) + "}");
}

/// Two small charges (< threshold) in a row, then a large one (> 100), within 1000 ms.
RuleSpec smallThenLarge(int64_t version, double threshold) {
  RuleSpec r;
  r.id = "small-large";
  r.version = version;
  r.json = R"({"id":"small-large","version":)" + std::to_string(version) + R"(,"pattern":[
      {"name":"small","where":"amount < )" + std::to_string(threshold) + R"(","times":2,"loop":"strict"},
      {"name":"large","contiguity":"strict","where":"amount > 100"}],
    "within":1000,"skip":"skip-past-last-event","emit":{"total":"SUM(small.amount) + large.amount"}})";
  return r;
}

RuleSpec bigOne() {
  RuleSpec r;
  r.id = "big";
  r.json = R"({"id":"big","pattern":[{"name":"x","where":"amount >= 1000"}],"emit":{"amount":"x.amount"}})";
  return r;
}

RuleUpdate update(std::vector<RuleSpec> rules, bool complete = true, std::vector<std::string> removed = {}) {
  RuleUpdate u;
  u.complete = complete;
  u.rules = std::move(rules);
  u.removed = std::move(removed);
  u.origin = "test";
  return u;
}

struct Harness {
  explicit Harness(RuleOptions o = {}) : h(std::make_unique<detail::RuleOperator>(o, nullptr), {&out}, 0) {}
  CollectingOutput<Alert> out;
  OperatorHarness h;
  detail::RuleOperator& op() { return static_cast<detail::RuleOperator&>(h.op()); }
  void rules(RuleUpdate u) {
    RecordBatch<RuleUpdate> b;
    b.records.push_back(std::move(u));
    h.op().processBatch(1, b);
  }
  void events(std::vector<Event> es) {
    RecordBatch<Event> b;
    b.records = std::move(es);
    h.op().processBatch(0, b);
  }
  /// "rule@version key start-end" per alert, then clears them.
  std::vector<std::string> take() {
    std::vector<std::string> s;
    for (const Alert& a : out.out)
      s.push_back(a.rule + "@" + std::to_string(a.version) + " " + a.key + " " + std::to_string(a.start) + "-" + std::to_string(a.end) +
                  (a.timedOut ? " timeout" : ""));
    out.out.clear();
    return s;
  }
  const RuleStats* stats(const std::string& id) {
    static std::vector<RuleStats> all;
    all = op().ruleStats();
    for (const auto& s : all)
      if (s.id == id) return &s;
    return nullptr;
  }
};

using Lines = std::vector<std::string>;

TEST(RuleOperatorTest, EventsWaitForTheFirstRulesAndTheWatermark) {
  Harness t;
  ASSERT_TRUE(t.h.open().isOk());
  EXPECT_FALSE(t.h.op().acceptsInput(0));  // no rules yet: events are held back
  t.rules(update({smallThenLarge(1, 10)}));
  EXPECT_TRUE(t.h.op().acceptsInput(0));
  // Card A out of order: 5, 1, 3 arrive as 3 1 5 → in time 1 (small) 3 (small) 5 (large).
  // Card B: small, normal, small, large: the normal charge breaks the strict loop.
  t.events({charge("A", 3, 2), charge("B", 1, 1), charge("A", 1, 1), charge("B", 2, 50), charge("A", 5, 500), charge("B", 3, 2),
            charge("B", 4, 200)});
  EXPECT_TRUE(t.take().empty());
  t.h.op().processWatermark(4);
  EXPECT_TRUE(t.take().empty());  // A's large (5) still waits
  t.h.op().processWatermark(5);
  EXPECT_EQ(t.take(), (Lines{"small-large@1 A 1-5"}));
  ASSERT_EQ(t.out.out.size(), 0u);
  EXPECT_EQ(t.stats("small-large")->matches, 1);
}

TEST(RuleOperatorTest, AlertsCarryTheMeasuresAsJson) {
  Harness t;
  ASSERT_TRUE(t.h.open().isOk());
  t.rules(update({smallThenLarge(3, 10)}));
  t.events({charge("A", 1, 1.5), charge("A", 2, 2.25), charge("A", 3, 300)});
  t.h.op().processWatermark(10);
  ASSERT_EQ(t.out.out.size(), 1u);
  // 1.5 + 2.25 + 300 = 303.75
  EXPECT_EQ(t.out.out[0].json, R"({"rule":"small-large","version":3,"key":"A","start":1,"end":3,"measures":{"total":303.75}})");
}

TEST(RuleOperatorTest, AChangedRuleStartsOverAndItsAlertsCarryTheNewVersion) {
  Harness t;
  ASSERT_TRUE(t.h.open().isOk());
  t.rules(update({smallThenLarge(1, 10)}));
  // Two smalls under version 1 (threshold 10): a partial match waiting for the large one.
  t.events({charge("A", 1, 5), charge("A", 2, 5)});
  t.h.op().processWatermark(2);
  // Version 2 lowers the threshold to 3: the partial match of version 1 is dropped, so the
  // large charge at 3 completes nothing; 4 and 5 (2, 2) and the large at 6 match under v2.
  t.rules(update({smallThenLarge(2, 3)}));
  t.events({charge("A", 3, 500), charge("A", 4, 2), charge("A", 5, 2), charge("A", 6, 500)});
  t.h.op().processWatermark(10);
  EXPECT_EQ(t.take(), (Lines{"small-large@2 A 4-6"}));
  EXPECT_EQ(t.stats("small-large")->version, 2);
  EXPECT_EQ(t.stats("small-large")->matches, 1);
}

TEST(RuleOperatorTest, ARemovedRuleStopsAndAnAddedOneStarts) {
  Harness t;
  ASSERT_TRUE(t.h.open().isOk());
  t.rules(update({smallThenLarge(1, 10)}));
  t.events({charge("A", 1, 5), charge("A", 2, 5), charge("A", 3, 2000)});
  t.h.op().processWatermark(3);
  EXPECT_EQ(t.take(), (Lines{"small-large@1 A 1-3"}));
  // A complete update without small-large removes it; "big" is added.
  t.rules(update({bigOne()}));
  t.events({charge("A", 4, 5), charge("A", 5, 5), charge("A", 6, 2000)});
  t.h.op().processWatermark(6);
  EXPECT_EQ(t.take(), (Lines{"big@1 A 6-6"}));
  EXPECT_EQ(t.stats("small-large"), nullptr);
  // An incremental update removes "big" by id and adds small-large back.
  t.rules(update({smallThenLarge(1, 10)}, false, {"big"}));
  t.events({charge("A", 7, 5), charge("A", 8, 5), charge("A", 9, 2000)});
  t.h.op().processWatermark(9);
  EXPECT_EQ(t.take(), (Lines{"small-large@1 A 7-9"}));
}

TEST(RuleOperatorTest, ABadRuleIsRefusedAndTheJobKeepsTheRulesItHad) {
  Harness t;
  ASSERT_TRUE(t.h.open().isOk());
  t.rules(update({smallThenLarge(1, 10)}));
  RuleSpec bad = smallThenLarge(2, 10);
  bad.json = R"({"id":"small-large","version":2,"pattern":[{"name":"small","where":"amount <"}]})";
  RuleSpec worse;
  worse.id = "new";
  worse.json = R"({"id":"new","pattern":[{"name":"a","contiguity":"sideways"}]})";
  t.rules(update({bad, worse}));
  const RuleStats* s = t.stats("small-large");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->version, 1);  // still running version 1
  EXPECT_EQ(s->refused, 1);
  EXPECT_NE(s->error.find("rule 'small-large'"), std::string::npos) << s->error;
  const RuleStats* n = t.stats("new");
  ASSERT_NE(n, nullptr);
  EXPECT_NE(n->error.find("\"contiguity\""), std::string::npos) << n->error;
  EXPECT_EQ(t.h.ctx().metrics->ruleErrors.load(), 2);
  t.events({charge("A", 1, 5), charge("A", 2, 5), charge("A", 3, 2000)});
  t.h.op().processWatermark(3);
  EXPECT_EQ(t.take(), (Lines{"small-large@1 A 1-3"}));
  // A document that did not parse (errors only) changes nothing either.
  RuleUpdate broken;
  broken.complete = true;
  broken.errors.push_back("rule file x: malformed JSON");
  t.rules(broken);
  EXPECT_EQ(t.stats("small-large")->version, 1);
  EXPECT_EQ(t.h.ctx().metrics->ruleErrors.load(), 3);
}

TEST(RuleOperatorTest, TimedOutPartialMatchesAreAlertsWhenTheRuleAsksForThem) {
  Harness t;
  ASSERT_TRUE(t.h.open().isOk());
  RuleSpec r;
  r.id = "pair";
  r.json = R"({"id":"pair","pattern":[{"name":"a","where":"amount < 10"},{"name":"b","where":"amount > 100"}],
              "within":"10 ms","emitTimeouts":true})";
  t.rules(update({r}));
  t.events({charge("K", 100, 1)});
  t.h.op().processWatermark(109);
  EXPECT_TRUE(t.take().empty());
  t.h.op().processWatermark(110);  // 100 + 10: the partial match times out
  EXPECT_EQ(t.take(), (Lines{"pair@1 K 100-100 timeout"}));
  EXPECT_EQ(t.stats("pair")->timedOut, 1);
}

TEST(RuleOperatorTest, ANegatedLastStepAlertsWhenItsWindowPassesWithoutIt) {
  Harness t;
  ASSERT_TRUE(t.h.open().isOk());
  RuleSpec r;
  r.id = "unconfirmed";
  r.json = R"({"id":"unconfirmed","pattern":[{"name":"order","where":"amount > 100"},
              {"name":"confirm","negated":true,"where":"amount = 0"}],"within":"10 ms"})";
  t.rules(update({r}));
  // Card A: an order at 1, confirmed (amount 0) at 5: nothing. Card B: an order at 2, never
  // confirmed: an alert once the watermark reaches 2 + 10.
  t.events({charge("A", 1, 500), charge("B", 2, 300), charge("A", 5, 0), charge("B", 6, 7)});
  t.h.op().processWatermark(11);
  EXPECT_TRUE(t.take().empty());
  t.h.op().processWatermark(12);
  EXPECT_EQ(t.take(), (Lines{"unconfirmed@1 B 2-2"}));
}

TEST(RuleOperatorTest, ACheckpointInTheMiddleOfAMatchRestoresRulesAndPartialMatches) {
  auto first = std::make_unique<Harness>();
  ASSERT_TRUE(first->h.open().isOk());
  first->rules(update({smallThenLarge(4, 10), bigOne()}));
  first->events({charge("A", 1, 5), charge("A", 2, 5), charge("B", 2, 7)});
  first->h.op().processWatermark(2);
  auto cp = first->h.checkpoint();
  first.reset();

  Harness second;
  ASSERT_TRUE(second.h.openAndRestore(cp).isOk());
  EXPECT_TRUE(second.h.op().acceptsInput(0));  // the rules came back with the checkpoint
  // A's two smalls were matched before the checkpoint: the large completes them. B's one small
  // needs one more.
  second.events({charge("A", 3, 2000), charge("B", 3, 1), charge("B", 4, 150)});
  second.h.op().processWatermark(10);
  // One event's alerts come in the order of the rules' ids.
  EXPECT_EQ(second.take(), (Lines{"big@1 A 3-3", "small-large@4 A 1-3", "small-large@4 B 2-4"}));
}

TEST(RuleOperatorTest, LateEventsGoToTheSideOutputWhenOneIsAsked) {
  static const OutputTag<Event> late("late");
  RuleOptions o;
  o.lateDataTag = late.id();
  CollectingOutput<Alert> main;
  CollectingOutput<Event> lateOut;
  auto ports = std::make_shared<reka::detail::SidePorts>(
      reka::detail::SidePorts{{late.id(), [] { return std::make_unique<RecordBatch<Event>>(); }}});
  OperatorHarness h(std::make_unique<detail::RuleOperator>(o, ports), {&main, &lateOut}, 0);
  ASSERT_TRUE(h.open().isOk());
  RecordBatch<RuleUpdate> r;
  r.records.push_back(update({bigOne()}));
  h.op().processBatch(1, r);
  RecordBatch<Event> b;
  b.records = {charge("A", 5, 2000)};
  h.op().processBatch(0, b);
  h.op().processWatermark(10);
  ASSERT_EQ(main.out.size(), 1u);
  // At 3 and 10, behind the watermark (10): to the side output (and counted), not matched.
  RecordBatch<Event> lateBatch;
  lateBatch.records = {charge("A", 3, 5000), charge("B", 10, 7000)};
  h.op().processBatch(0, lateBatch);
  h.op().processWatermark(20);
  EXPECT_EQ(main.out.size(), 1u);
  ASSERT_EQ(lateOut.out.size(), 2u);
  EXPECT_EQ(lateOut.out[0].key(), "A");
  EXPECT_EQ(lateOut.out[1].timestamp(), 10);
  EXPECT_EQ(h.ctx().metrics->lateRecords.load(), 2);
}

TEST(RuleOperatorTest, ProcessingTimeMatchesEventsAsTheyArrive) {
  RuleOptions o;
  o.processingTime = true;
  Harness t(o);
  ASSERT_TRUE(t.h.open().isOk());
  t.rules(update({smallThenLarge(1, 10)}));
  t.h.time().advance(1000, t.h.op());
  t.events({charge("A", 0, 1), charge("A", 0, 1), charge("A", 0, 500)});  // timestamps ignored
  EXPECT_EQ(t.take(), (Lines{"small-large@1 A 1000-1000"}));
}

TEST(RuleOperatorTest, KeyStateRoundTripsThroughSerde) {
  detail::RuleKeyState s;
  s.pending.emplace_back(5, charge("A", 5, 1));
  auto rule = compileRule(smallThenLarge(1, 10));
  ASSERT_TRUE(rule.isOk());
  auto nfa = Nfa<Event>::compile(rule.value()->pattern());
  ASSERT_TRUE(nfa.isOk());
  detail::RuleKeyState::Active a{"small-large", 1, nfa.value()->initialState()};
  std::vector<Match<Event>> matches;
  ASSERT_TRUE(nfa.value()->process(a.nfa, charge("A", 4, 1), 4, matches).isOk());
  s.active.push_back(a);
  s.timer = 6;
  std::string bytes;
  Serde<detail::RuleKeyState>::write(s, bytes);
  std::string_view in = bytes;
  detail::RuleKeyState back;
  ASSERT_TRUE(Serde<detail::RuleKeyState>::read(in, back));
  EXPECT_TRUE(in.empty());
  ASSERT_EQ(back.pending.size(), 1u);
  EXPECT_EQ(back.pending[0].second.json(), s.pending[0].second.json());
  EXPECT_EQ(back.pending[0].second.key(), "A");
  EXPECT_EQ(back.pending[0].second.timestamp(), 5);
  ASSERT_EQ(back.active.size(), 1u);
  EXPECT_EQ(back.active[0].rule, "small-large");
  // The restored NFA state goes on: one more small and a large complete the match.
  ASSERT_TRUE(nfa.value()->process(back.active[0].nfa, charge("A", 5, 1), 5, matches).isOk());
  ASSERT_TRUE(nfa.value()->process(back.active[0].nfa, charge("A", 6, 900), 6, matches).isOk());
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].get("small").size(), 2u);
}

/// A whole job: events from memory keyed by card, rules from a file, at parallelism 1 and 3 on
/// the heap and RocksDB backends; every run gives the same alerts.
void runRuleJob(int parallelism, bool rocksdb) {
  const auto dir = std::filesystem::temp_directory_path() / ("reka-cep-rules-job-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string rules = (dir / "rules.json").string();
  std::ofstream(rules) << "[" << smallThenLarge(1, 10).json << "," << bigOne().json << "]";
  // 20 cards; card c gets small, small, large at 10c+1..3 (a small-large match, a big one when
  // c is even) and a lone large at 10c+5 (a big match when c is even).
  std::vector<Event> events;
  std::multiset<std::string> expected;
  for (int c = 0; c < 20; ++c) {
    const std::string card = "c" + std::to_string(c);
    const int64_t t0 = 10 * c;
    const double large = c % 2 == 0 ? 1500 : 150;
    events.push_back(charge(card, t0 + 1, 1));
    events.push_back(charge(card, t0 + 2, 2));
    events.push_back(charge(card, t0 + 3, large));
    events.push_back(charge(card, t0 + 5, large));
    expected.insert("small-large " + card + " " + std::to_string(t0 + 1) + "-" + std::to_string(t0 + 3));
    if (c % 2 == 0) {
      expected.insert("big " + card + " " + std::to_string(t0 + 3) + "-" + std::to_string(t0 + 3));
      expected.insert("big " + card + " " + std::to_string(t0 + 5) + "-" + std::to_string(t0 + 5));
    }
  }
  ExecutionConfig config;
  config.parallelism = parallelism;
  config.watermarkInterval = std::chrono::milliseconds(0);
  if (rocksdb) {
    config.stateBackend.kind = StateBackendConfig::Kind::kRocksDb;
    config.stateBackend.rocksdb.localDir = (dir / "rocksdb").string();
  }
  StreamEnvironment env(config);
  auto source = env.fromCollection("events", events)
                    .assignTimestampsAndWatermarks(watermarks::monotonousTimestamps<Event>([](const Event& e) { return e.timestamp(); }));
  RuleFileOptions ro;
  ro.path = rules;
  ro.watch = false;
  auto alerts = applyRules(source, ruleFileSource(env, ro), "rules");
  auto collected = std::make_shared<testing::Collector<std::string>>();
  alerts.map("describe", [](const Alert& a) { return a.rule + " " + a.key + " " + std::to_string(a.start) + "-" + std::to_string(a.end); })
      .sink("collect", testing::collectInto(collected));
  ASSERT_TRUE(testing::runJob(env).isOk());
  auto got = collected->values();
  EXPECT_EQ(std::multiset<std::string>(got.begin(), got.end()), expected);
  std::filesystem::remove_all(dir);
}

TEST(RuleJobTest, TheSameAlertsAtEveryParallelismOnTheHeap) {
  runRuleJob(1, false);
  runRuleJob(3, false);
}

TEST(RuleJobTest, TheSameAlertsOnRocksDb) { runRuleJob(2, true); }

}  // namespace
}  // namespace reka::cep
