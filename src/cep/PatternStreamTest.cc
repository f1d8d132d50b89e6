// The pattern operator: events reordered by the watermark, per-key matching, timeouts to a side
// output, late events, checkpoint and restore in the middle of a match, and whole jobs at
// several parallelisms on both state backends, against the NFA run per key in timestamp order.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "reka/cep/PatternStream.h"
#include "reka/reka.h"
#include "testing/JobTesting.h"
#include "testing/OperatorHarness.h"

namespace reka {
namespace cep {
namespace {

struct Ev {
  int64_t key = 0;
  int64_t ts = 0;
  std::string name;  // "a3": kind 'a'
};

}  // namespace
}  // namespace cep

template <>
struct Serde<cep::Ev> {
  static void write(const cep::Ev& e, std::string& out) {
    Serde<int64_t>::write(e.key, out);
    Serde<int64_t>::write(e.ts, out);
    Serde<std::string>::write(e.name, out);
  }
  static bool read(std::string_view& in, cep::Ev& e) {
    return Serde<int64_t>::read(in, e.key) && Serde<int64_t>::read(in, e.ts) && Serde<std::string>::read(in, e.name);
  }
};

namespace cep {
namespace {

using testing::CollectingOutput;
using testing::OperatorHarness;

auto kind(char k) {
  return [k](const Ev& e) { return !e.name.empty() && e.name[0] == k; };
}

/// a, then b directly after it, then c at some point, all within 10 ms.
Pattern<Ev> threeSteps() {
  return Pattern<Ev>::begin("a").where(kind('a')).next("b").where(kind('b')).followedBy("c").where(kind('c')).within(10);
}

std::string describe(const Match<Ev>& m) {
  std::string s = std::to_string(m.get("a").empty() ? -1 : m.get("a")[0].key) + ":";
  for (const Ev* e : m.events()) s += " " + e->name;
  return s;
}

struct Out {
  std::string text;
  bool timedOut = false;
};

OutputTag<std::string>& timeoutTag() {
  static OutputTag<std::string> tag("timed-out");
  return tag;
}

struct Describe {
  void processMatch(const Match<Ev>& m, KeyedContext<int64_t, std::string>& ctx) { ctx.emit(describe(m)); }
  void processTimedOutMatch(const Match<Ev>& m, KeyedContext<int64_t, std::string>& ctx) {
    ctx.output(timeoutTag(), "timeout " + describe(m));
  }
};

using KeyOf = int64_t (*)(const Ev&);
using TsOf = int64_t (*)(const Ev&);
int64_t keyOf(const Ev& e) { return e.key; }
int64_t tsOf(const Ev& e) { return e.ts; }
using Op = detail::CepOperator<Ev, int64_t, std::string, KeyOf, TsOf, Describe>;

struct OpHarness {
  CollectingOutput<std::string> main, timeouts;
  std::shared_ptr<reka::detail::SidePorts> ports = std::make_shared<reka::detail::SidePorts>(
      reka::detail::SidePorts{{timeoutTag().id(), [] { return std::make_unique<RecordBatch<std::string>>(); }}});
  OperatorHarness h{std::make_unique<Op>(&keyOf, &tsOf, false, threeSteps(), PatternOptions{}, -1, Describe{}, ports),
                    {&main, &timeouts}, 0};
  void feed(std::vector<Ev> events) {
    RecordBatch<Ev> b;
    b.records = std::move(events);
    h.op().processBatch(0, b);
  }
  std::vector<std::string> all() {
    std::vector<std::string> out = main.out;
    for (auto& t : timeouts.out) out.push_back(t);
    return out;
  }
};

TEST(PatternStreamTest, EventsWaitForTheWatermarkAndAreMatchedInTimestampOrder) {
  OpHarness t;
  ASSERT_TRUE(t.h.open().isOk());
  // Key 1 arrives out of order: c3 a1 b2 (in time: a1 b2 c3). Key 2: a1 x2 b3 c4 (x breaks next).
  t.feed({{1, 3, "c3"}, {2, 1, "a1"}, {1, 1, "a1"}, {2, 2, "x2"}, {1, 2, "b2"}, {2, 3, "b3"}, {2, 4, "c4"}});
  EXPECT_TRUE(t.main.out.empty());  // nothing before the watermark
  t.h.op().processWatermark(2);
  EXPECT_TRUE(t.main.out.empty());  // c3 still waits
  t.h.op().processWatermark(3);
  EXPECT_EQ(t.main.out, (std::vector<std::string>{"1: a1 b2 c3"}));
  t.h.op().processWatermark(100);
  EXPECT_EQ(t.main.out, (std::vector<std::string>{"1: a1 b2 c3"}));
  EXPECT_TRUE(t.timeouts.out.empty()) << t.timeouts.out[0];  // key 2's a1 was discarded by x2, not timed out
}

TEST(PatternStreamTest, PartialMatchesTimeOutAtTheWatermarkAndLateEventsAreCounted) {
  OpHarness t;
  ASSERT_TRUE(t.h.open().isOk());
  t.feed({{7, 10, "a10"}, {7, 11, "b11"}});
  t.h.op().processWatermark(15);
  EXPECT_TRUE(t.timeouts.out.empty());
  t.feed({{7, 12, "x12"}});  // behind the watermark: late
  EXPECT_EQ(t.h.ctx().metrics->lateRecords.load(), 1);
  t.h.op().processWatermark(19);
  EXPECT_TRUE(t.timeouts.out.empty());  // 19 - 10 < 10
  t.h.op().processWatermark(20);
  EXPECT_EQ(t.timeouts.out, (std::vector<std::string>{"timeout 7: a10 b11"}));
  t.feed({{7, 25, "c25"}});
  t.h.op().processWatermark(30);
  EXPECT_TRUE(t.main.out.empty());
}

/// A script of batches and watermarks over 3 keys; a checkpoint after any step, restored into a
/// fresh operator, gives the same output as the uninterrupted run.
TEST(PatternStreamTest, ACheckpointInTheMiddleOfAMatchRestoresIt) {
  std::vector<std::vector<Ev>> batches = {
      {{1, 1, "a1"}, {2, 1, "a1"}, {3, 2, "a2"}},
      {{1, 2, "b2"}, {2, 3, "b3"}, {3, 3, "b3"}},
      {{1, 4, "x4"}, {2, 2, "x2"}, {3, 5, "a5"}},
      {{1, 6, "c6"}, {2, 6, "c6"}, {3, 6, "b6"}},
      {{3, 9, "c9"}, {1, 20, "a20"}},
      {{1, 21, "b21"}},
  };
  std::vector<int64_t> watermarks = {0, 1, 3, 5, 8, 40};
  auto runFrom = [&](size_t cut, std::vector<std::string>* out) {
    OpHarness first;
    EXPECT_TRUE(first.h.open().isOk());
    std::vector<std::string> produced;
    for (size_t i = 0; i < cut; ++i) {
      first.feed(batches[i]);
      first.h.op().processWatermark(watermarks[i]);
    }
    auto checkpoint = first.h.checkpoint();
    produced = first.all();
    OpHarness second;
    EXPECT_TRUE(second.h.openAndRestore(checkpoint).isOk());
    for (size_t i = cut; i < batches.size(); ++i) {
      second.feed(batches[i]);
      second.h.op().processWatermark(watermarks[i]);
    }
    for (auto& s : second.all()) produced.push_back(s);
    std::sort(produced.begin(), produced.end());
    *out = produced;
  };
  // By hand: key 1 a1 b2 c6 (x4 is allowed by followedBy); key 2 in time order a1 x2 b3: no
  // match; key 3 a2 b3 c9 and a5 b6 c9; key 1 a20 b21 times out at 40.
  const std::vector<std::string> expected = {"1: a1 b2 c6", "3: a2 b3 c9", "3: a5 b6 c9", "timeout 1: a20 b21"};
  for (size_t cut = 0; cut <= batches.size(); ++cut) {
    std::vector<std::string> got;
    runFrom(cut, &got);
    EXPECT_EQ(got, expected) << "checkpoint after step " << cut;
  }
}

TEST(PatternStreamTest, ABadPatternFailsTheOperatorAtOpenWithItsReason) {
  CollectingOutput<std::string> main;
  auto bad = Pattern<Ev>::begin("a").followedBy("a");
  OperatorHarness h(std::make_unique<Op>(&keyOf, &tsOf, false, bad, PatternOptions{}, -1, Describe{}, nullptr), {&main}, 0);
  Status s = h.open();
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("'a' is used twice"), std::string::npos) << s.message();
}

TEST(PatternStreamTest, ThePerKeyLimitDiscardsTheOldestPartialMatches) {
  CollectingOutput<std::string> main;
  PatternOptions o;
  o.maxPartialMatchesPerKey = 2;
  // a followedByAny b: every a opens a partial match that waits for a b.
  auto p = Pattern<Ev>::begin("a").where(kind('a')).followedByAny("b").where(kind('b'));
  auto* op = new Op(&keyOf, &tsOf, false, p, o, -1, Describe{}, nullptr);
  OperatorHarness h(std::unique_ptr<Operator>(op), {&main}, 0);
  ASSERT_TRUE(h.open().isOk());
  RecordBatch<Ev> b;
  b.records = {{1, 1, "a1"}, {1, 2, "a2"}, {1, 3, "a3"}, {1, 4, "a4"}, {1, 5, "b5"}};
  h.op().processBatch(0, b);
  h.op().processWatermark(10);
  std::sort(main.out.begin(), main.out.end());
  EXPECT_EQ(main.out, (std::vector<std::string>{"1: a3 b5", "1: a4 b5"}));
  EXPECT_EQ(op->discardedPartialMatches(), 2);
  EXPECT_EQ(h.ctx().metrics->discardedPartialMatches.load(), 2);
}

// ---- whole jobs ----

/// Random events over `keys` keys, with timestamps up to 3 ms out of order.
std::vector<Ev> randomEvents(int keys, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Ev> out;
  for (int i = 0; i < n; ++i) {
    const int64_t ts = i / keys * 2 + static_cast<int64_t>(rng() % 4);
    const char k = "abcx"[rng() % 4];
    out.push_back({static_cast<int64_t>(rng() % keys), ts, std::string(1, k) + std::to_string(i)});
  }
  return out;
}

/// The reference: per key, the events in timestamp order (ties in input order) through the NFA,
/// dropping the events a watermark trailing the highest timestamp by 3 would make late.
std::vector<std::string> reference(const std::vector<Ev>& events) {
  std::map<int64_t, std::vector<Ev>> byKey;
  int64_t maxTs = INT64_MIN;
  for (const auto& e : events) {
    maxTs = std::max(maxTs, e.ts);
    (void)maxTs;
    byKey[e.key].push_back(e);
  }
  std::vector<std::string> out;
  auto nfa = Nfa<Ev>::compile(threeSteps()).value();
  for (auto& [key, evs] : byKey) {
    std::stable_sort(evs.begin(), evs.end(), [](const Ev& a, const Ev& b) { return a.ts < b.ts; });
    auto s = nfa->initialState();
    std::vector<Match<Ev>> matches, timedOut;
    for (const auto& e : evs) {
      EXPECT_TRUE(nfa->advanceTime(s, e.ts, matches, &timedOut).isOk());
      EXPECT_TRUE(nfa->process(s, e, e.ts, matches).isOk());
    }
    EXPECT_TRUE(nfa->advanceTime(s, INT64_MAX, matches, &timedOut).isOk());
    for (const auto& m : matches) out.push_back(describe(m));
    for (const auto& m : timedOut) out.push_back("timeout " + describe(m));
  }
  std::sort(out.begin(), out.end());
  return out;
}

class PatternJobTest : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(PatternJobTest, MatchesAreTheSameAtEveryParallelismAndOnBothBackends) {
  const auto [parallelism, rocksdb] = GetParam();
  // Timestamps are in order per key at the source (one source subtask), so no event is late.
  std::vector<Ev> events = randomEvents(50, 4000, 7);
  std::stable_sort(events.begin(), events.end(), [](const Ev& a, const Ev& b) { return a.ts < b.ts; });
  ExecutionConfig config;
  config.parallelism = parallelism;
  config.batchSize = 64;
  const auto dir = std::filesystem::temp_directory_path() / ("reka-cep-job-" + std::to_string(::getpid()));
  if (rocksdb) {
    config.stateBackend.kind = StateBackendConfig::Kind::kRocksDb;
    config.stateBackend.rocksdb.localDir = dir.string();
  }
  StreamEnvironment env(config);
  auto input = env.fromCollection("events", events).assignTimestampsAndWatermarks(
      watermarks::boundedOutOfOrderness<Ev>(std::chrono::milliseconds(3), [](const Ev& e) { return e.ts; }));
  auto matches = cep::pattern(input.keyBy([](const Ev& e) { return e.key; }), threeSteps(), [](const Ev& e) { return e.ts; })
                     .process<std::string>("cep", Describe{});
  auto collected = std::make_shared<testing::Collector<std::string>>();
  matches.sink("matches", testing::collectInto(collected));
  matches.sideOutput(timeoutTag()).sink("timeouts", testing::collectInto(collected));
  ASSERT_TRUE(testing::runJob(env).isOk());
  auto got = collected->values();
  std::sort(got.begin(), got.end());
  const auto expected = reference(events);
  EXPECT_GT(expected.size(), 20u);
  EXPECT_EQ(got, expected);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Cep, PatternJobTest,
                         ::testing::Combine(::testing::Values(1, 3), ::testing::Bool()));

}  // namespace
}  // namespace cep
}  // namespace reka
