// Session windows: merging (bridging and touching records), allowed lateness (+I then -U/+U),
// late data (side output and metrics), full-window process(), processing time, and rejected
// configurations. Expected results are worked out by hand in the comments.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/reka.h"
#include "testing/BackendSetup.h"
#include "testing/JobTesting.h"

namespace reka {
namespace {

using namespace std::chrono_literals;
using testing::Collector;
using ::testing::HasSubstr;

/// A record that owns its data (records are kept in window state).
struct Event {
  std::string key;
  int64_t ts = 0;
  int64_t value = 0;
};

auto tsOf = [](const Event& e) { return e.ts; };
auto keyOf = [](const Event& e) { return std::string_view(e.key); };

/// (count, sum of values).
struct CountSumAgg {
  struct Acc {
    int64_t count = 0;
    int64_t sum = 0;
  };
  Acc createAccumulator() const { return {}; }
  void add(const Event& e, Acc& a) const {
    ++a.count;
    a.sum += e.value;
  }
  void merge(const Acc& from, Acc& into) const {
    into.count += from.count;
    into.sum += from.sum;
  }
  std::pair<int64_t, int64_t> getResult(const Acc& a) const { return {a.count, a.sum}; }
};

}  // namespace

/// Session windows keep their accumulators in the state backend: on RocksDB they need a Serde.
template <>
struct Serde<CountSumAgg::Acc> {
  static void write(const CountSumAgg::Acc& a, std::string& out) {
    Serde<int64_t>::write(a.count, out);
    Serde<int64_t>::write(a.sum, out);
  }
  static bool read(std::string_view& in, CountSumAgg::Acc& a) {
    return Serde<int64_t>::read(in, a.count) && Serde<int64_t>::read(in, a.sum);
  }
};
template <>
struct Serde<Event> {
  static void write(const Event& e, std::string& out) {
    Serde<std::string>::write(e.key, out);
    Serde<int64_t>::write(e.ts, out);
    Serde<int64_t>::write(e.value, out);
  }
  static bool read(std::string_view& in, Event& e) {
    return Serde<std::string>::read(in, e.key) && Serde<int64_t>::read(in, e.ts) && Serde<int64_t>::read(in, e.value);
  }
};

namespace {

using Result = WindowResult<std::string_view, std::pair<int64_t, int64_t>>;

/// "key [start,end) kind count/sum": readable in failure messages, sortable.
std::string describe(const Result& r) {
  return r.key + " [" + std::to_string(r.window.start) + "," + std::to_string(r.window.end) + ") " +
         rowKindCode(r.kind) + " " + std::to_string(r.value.first) + "/" +
         std::to_string(r.value.second);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// The results of one key, in the order the sink received them.
std::vector<std::string> ofKey(const std::vector<std::string>& all, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& s : all)
    if (s.starts_with(key + " ")) out.push_back(s);
  return out;
}

/// One record per batch and a watermark after every batch: the watermark each record sees is
/// fixed by the input order (one source subtask, its watermarks follow its records on every
/// channel).
ExecutionConfig configFor(testing::BackendSetup setup) {
  ExecutionConfig c;
  setup.applyTo(c);
  c.batchSize = 1;
  c.watermarkInterval = 0ms;
  return c;
}

class SessionWindowTest : public ::testing::TestWithParam<testing::BackendSetup> {};

TEST_P(SessionWindowTest, MergesOverlappingTouchingAndBridgedSessions) {
  // Gap 10, out-of-orderness 5: watermark = highest timestamp - 6. value = ts.
  std::vector<Event> in = {
      {"a", 0, 0},    // a: [0,10)                                   wm -6
      {"b", 1, 1},    // b: [1,11)                                   wm -5
      {"a", 4, 4},    // a: [4,14) merges → [0,14)                   wm -2
      {"a", 3, 3},    // a: inside [0,14) (disorder 1)               wm -2
      {"b", 11, 11},  // b: [11,21) touches [1,11) → [1,21)          wm 5
      {"a", 30, 30},  // a: [30,40); wm 24 fires a [0,14) (maxTs 13) and b [1,21) (maxTs 20)
      {"a", 42, 42},  // a: [42,52), apart from [30,40)              wm 36
      {"a", 38, 38},  // a: [38,48) bridges [30,40) and [42,52) → [30,52) (disorder 4)
      {"b", 40, 40},  // b: [40,50)                                  wm 36
      {"b", 50, 50},  // b: [50,60) touches [40,50) → [40,60)        wm 44
      {"b", 49, 49},  // b: inside [40,60) (disorder 1)              wm 44
  };
  // End of input fires a [30,52) and b [40,60).
  StreamEnvironment env(configFor(GetParam()));
  auto out = std::make_shared<Collector<std::string>>();
  env.fromCollection("events", in)
      .assignTimestampsAndWatermarks(watermarks::boundedOutOfOrderness<Event>(5ms, tsOf))
      .keyBy(keyOf)
      .window(SessionWindows::withGap(10ms), tsOf)
      .aggregate("sessions", CountSumAgg{})
      .sink("collect", [out](const Result& r) { out->add(describe(r)); });
  ASSERT_TRUE(testing::runJob(env).isOk());
  EXPECT_EQ(sorted(out->values()), sorted({
                                       "a [0,14) +I 3/7",     // 0 + 4 + 3
                                       "a [30,52) +I 3/110",  // 30 + 42 + 38
                                       "b [1,21) +I 2/12",    // 1 + 11
                                       "b [40,60) +I 3/139",  // 40 + 50 + 49
                                   }));
}

TEST_P(SessionWindowTest, LateRecordsUpdateWithinLatenessAndGoToTheSideOutputBeyond) {
  // Gap 10, out-of-orderness 2 (watermark = highest - 3), allowed lateness 20. value = ts.
  // a 0, a 5, a 4 (disorder 1): a [0,15).
  // x 25: x [25,35); wm 22 fires a [0,15) (maxTs 14): +I 3/9, kept until wm 14 + 20 = 34.
  // a 8 (late, within lateness): [8,18) joins [0,15) → [0,18), maxTs 17 <= 22: fires at once,
  //   -U 3/9, +U 4/17.
  // x 50: x [50,60); wm 47 fires x [25,35) (maxTs 34) and drops a [0,18) (17 + 20 = 37).
  // a 10: [10,20), 19 + 20 = 39 <= 47 and no kept session to join: late → side output.
  // a 30: [30,40), 39 + 20 = 59 > 47 but maxTs 39 <= 47: a new session that fires at once (+I).
  std::vector<Event> in = {{"a", 0, 0}, {"a", 5, 5},   {"a", 4, 4},   {"x", 25, 25},
                           {"a", 8, 8}, {"x", 50, 50}, {"a", 10, 10}, {"a", 30, 30}};
  // End of input fires x [50,60).
  StreamEnvironment env(configFor(GetParam()));
  auto out = std::make_shared<Collector<std::string>>();
  auto late = std::make_shared<Collector<std::string>>();
  OutputTag<Event> lateTag("late");
  auto results =
      env.fromCollection("events", in)
          .assignTimestampsAndWatermarks(watermarks::boundedOutOfOrderness<Event>(2ms, tsOf))
          .keyBy(keyOf)
          .window(SessionWindows::withGap(10ms), tsOf)
          .allowedLateness(20ms)
          .sideOutputLateData(lateTag)
          .aggregate("sessions", CountSumAgg{});
  results.sink("collect", [out](const Result& r) { out->add(describe(r)); });
  results.sideOutput(lateTag).sink(
      "late", [late](const Event& e) { late->add(e.key + "@" + std::to_string(e.ts)); });
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  ASSERT_TRUE(testing::awaitJob(**client).isOk());

  // A key's results reach its sink subtask in the order they were emitted.
  EXPECT_EQ(ofKey(out->values(), "a"),
            (std::vector<std::string>{
                "a [0,15) +I 3/9",    // 0 + 5 + 4
                "a [0,15) -U 3/9",    // retracted by the late record 8
                "a [0,18) +U 4/17",   // 9 + 8
                "a [30,40) +I 1/30",  // late record within lateness, new session
            }));
  EXPECT_EQ(ofKey(out->values(), "x"),
            (std::vector<std::string>{"x [25,35) +I 1/25", "x [50,60) +I 1/50"}));
  EXPECT_EQ(late->values(), std::vector<std::string>{"a@10"});
  JobMetrics m = (*client)->metrics();
  EXPECT_EQ(m.lateRecords, 1);  // a@10
  EXPECT_EQ(m.lateUpdates, 2);  // a@8 and a@30
}

TEST_P(SessionWindowTest, LateRecordWithoutLateOutputIsCountedAndDropped) {
  // Gap 10, monotonous watermark (highest - 1), no lateness.
  std::vector<Event> in = {
      {"a", 0, 1},   // a: [0,10)                              wm -1
      {"a", 20, 2},  // a: [20,30); wm 19 fires a [0,10)
      {"a", 5, 4},   // [5,15): maxTs 14 <= 19, [0,10) dropped: late
      {"a", 29, 8},  // [29,39) joins [20,30) → [20,39)        wm 28
  };
  StreamEnvironment env(configFor(GetParam()));
  auto out = std::make_shared<Collector<std::string>>();
  env.fromCollection("events", in)
      .assignTimestampsAndWatermarks(watermarks::monotonousTimestamps<Event>(tsOf))
      .keyBy(keyOf)
      .window(SessionWindows::withGap(10ms), tsOf)
      .aggregate("sessions", CountSumAgg{})
      .sink("collect", [out](const Result& r) { out->add(describe(r)); });
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  ASSERT_TRUE(testing::awaitJob(**client).isOk());
  EXPECT_EQ(out->values(), (std::vector<std::string>{"a [0,10) +I 1/1", "a [20,39) +I 2/10"}));
  EXPECT_EQ((*client)->metrics().lateRecords, 1);
  EXPECT_EQ((*client)->metrics().lateUpdates, 0);
}

TEST_P(SessionWindowTest,
       LateRecordBridgingAFiredAndAnOpenSessionUpdatesWhenTheMergedSessionFires) {
  // Gap 10, out-of-orderness 2 (watermark = highest - 3), allowed lateness 100.
  std::vector<Event> in = {
      {"a", 0, 1},   // a: [0,10)                                      wm -3
      {"a", 15, 2},  // a: [15,25); wm 12 fires [0,10): +I 1/1 (kept until wm 109)
      {"a", 8, 4},   // [8,18) joins [0,10) and [15,25) → [0,25), maxTs 24 > 12: not fired yet
      {"b", 40, 8},  // b: [40,50); wm 37 fires a [0,25): -U 1/1 (its earlier result), +U 3/7
  };
  // End of input fires b [40,50).
  StreamEnvironment env(configFor(GetParam()));
  auto out = std::make_shared<Collector<std::string>>();
  env.fromCollection("events", in)
      .assignTimestampsAndWatermarks(watermarks::boundedOutOfOrderness<Event>(2ms, tsOf))
      .keyBy(keyOf)
      .window(SessionWindows::withGap(10ms), tsOf)
      .allowedLateness(100ms)
      .aggregate("sessions", CountSumAgg{})
      .sink("collect", [out](const Result& r) { out->add(describe(r)); });
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  ASSERT_TRUE(testing::awaitJob(**client).isOk());
  EXPECT_EQ(ofKey(out->values(), "a"),
            (std::vector<std::string>{"a [0,10) +I 1/1", "a [0,10) -U 1/1", "a [0,25) +U 3/7"}));
  EXPECT_EQ(ofKey(out->values(), "b"), std::vector<std::string>{"b [40,50) +I 1/8"});
  EXPECT_EQ((*client)->metrics().lateRecords, 0);
}

TEST_P(SessionWindowTest, ProcessSeesEveryRecordOfTheSession) {
  // Gap 10, out-of-orderness 5 (watermark = highest - 6). Records carry owned strings.
  std::vector<Event> in = {
      {"k", 10, 1}, {"k", 14, 2}, {"k", 12, 3},  // k: [10,24)
      {"j", 11, 4},                              // j: [11,21)
      {"k", 40, 5},                              // k: [40,50); wm 34 fires k [10,24) and j [11,21)
      {"k", 45, 6},                              // k: → [40,55)
  };
  StreamEnvironment env(configFor(GetParam()));
  auto out = std::make_shared<Collector<std::string>>();
  env.fromCollection("events", in)
      .assignTimestampsAndWatermarks(watermarks::boundedOutOfOrderness<Event>(5ms, tsOf))
      .keyBy(keyOf)
      .window(SessionWindows::withGap(10ms), tsOf)
      .process<std::string>("list",
                            [](const std::string& key, const TimeWindow& w,
                               const std::vector<Event>& records, Emitter<std::string>& emit) {
                              std::vector<int64_t> values;
                              for (const Event& e : records) values.push_back(e.value);
                              std::sort(values.begin(), values.end());
                              std::string s = key + " [" + std::to_string(w.start) + "," +
                                              std::to_string(w.end) + "):";
                              for (int64_t v : values) s += " " + std::to_string(v);
                              emit.emit(s);
                            })
      .sink("collect", testing::collectInto(out));
  ASSERT_TRUE(testing::runJob(env).isOk());
  EXPECT_EQ(sorted(out->values()), sorted({"k [10,24): 1 2 3", "j [11,21): 4", "k [40,55): 5 6"}));
}

TEST_P(SessionWindowTest, ProcessingTimeSessionsFireAtTheEndOfInput) {
  // A one-hour gap: no session closes while the job runs; the end of input fires them all.
  std::vector<Event> in;
  for (int i = 0; i < 30; ++i) in.push_back({i % 3 == 0 ? "p" : "q", 0, i});
  StreamEnvironment env(configFor(GetParam()));
  auto out = std::make_shared<Collector<std::string>>();
  env.fromCollection("events", in)
      .keyBy(keyOf)
      .window(SessionWindows::processingTimeWithGap(1h))
      .aggregate("sessions", CountSumAgg{})
      .sink("collect", [out](const Result& r) {
        EXPECT_GE(r.window.end - r.window.start, 3'600'000);
        out->add(r.key + " " + rowKindCode(r.kind) + " " + std::to_string(r.value.first) + "/" +
                 std::to_string(r.value.second));
      });
  ASSERT_TRUE(testing::runJob(env).isOk());
  // p: i = 0, 3, ..., 27 (10 records, sum 135); q: the other 20 (sum 435 - 135 = 300).
  EXPECT_EQ(sorted(out->values()), sorted({"p +I 10/135", "q +I 20/300"}));
}

struct Tick {
  int64_t key = 0;
  int64_t ts = 0;
};

/// Per key, the sessions of all its timestamps (sorted, then a timestamp within gap of the
/// current session's end, touching included, extends it) and their record counts.
std::vector<std::string> referenceSessions(const std::vector<Tick>& in, int64_t gap) {
  std::map<int64_t, std::vector<int64_t>> byKey;
  for (const Tick& t : in) byKey[t.key].push_back(t.ts);
  std::vector<std::string> out;
  for (auto& [key, ts] : byKey) {
    std::sort(ts.begin(), ts.end());
    int64_t start = ts[0], end = ts[0] + gap, count = 0;
    for (int64_t t : ts) {
      if (t > end) {
        out.push_back(std::to_string(key) + " [" + std::to_string(start) + "," +
                      std::to_string(end) + ") " + std::to_string(count));
        start = t;
        count = 0;
      }
      end = std::max(end, t + gap);
      ++count;
    }
    out.push_back(std::to_string(key) + " [" + std::to_string(start) + "," + std::to_string(end) +
                  ") " + std::to_string(count));
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct TickCount {
  int64_t createAccumulator() const { return 0; }
  void add(const Tick&, int64_t& acc) const { ++acc; }
  void merge(const int64_t& from, int64_t& into) const { into += from; }
  int64_t getResult(const int64_t& acc) const { return acc; }
};

TEST_P(SessionWindowTest, MatchesAReferenceOnDisorderedInput) {
  // Timestamps rise by 2 per record with up to 20 ms of jitter (an LCG, so the data is fixed),
  // over 13 keys: the disorder (at most 18 ms) stays below the 25 ms bound, so no record is late
  // and no record reaches a session that has fired: the result is that of the sorted input.
  std::vector<Tick> in;
  uint64_t x = 987654321;
  for (int i = 0; i < 2000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t jitter = static_cast<int64_t>((x >> 33) % 21);
    in.push_back({static_cast<int64_t>((x >> 17) % 13), 1000 + 2 * i - jitter});
  }
  for (int64_t gap : {5, 26, 60}) {
    ExecutionConfig config = configFor(GetParam());
    config.batchSize = 7;
    StreamEnvironment env(config);
    auto out = std::make_shared<Collector<std::string>>();
    auto tickTs = [](const Tick& t) { return t.ts; };
    env.fromCollection("ticks", in)
        .assignTimestampsAndWatermarks(watermarks::boundedOutOfOrderness<Tick>(25ms, tickTs))
        .keyBy([](const Tick& t) { return t.key; })
        .window(SessionWindows::withGap(std::chrono::milliseconds(gap)), tickTs)
        .aggregate("sessions", TickCount{})
        .sink("collect", [out](const WindowResult<int64_t, int64_t>& r) {
          EXPECT_EQ(r.kind, RowKind::kInsert);
          out->add(std::to_string(r.key) + " [" + std::to_string(r.window.start) + "," +
                   std::to_string(r.window.end) + ") " + std::to_string(r.value));
        });
    auto client = env.executeAsync();
    ASSERT_TRUE(client.isOk()) << client.status().toString();
    ASSERT_TRUE(testing::awaitJob(**client).isOk());
    EXPECT_EQ(sorted(out->values()), referenceSessions(in, gap)) << "gap " << gap;
    EXPECT_EQ((*client)->metrics().lateRecords, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Parallelism, SessionWindowTest, ::testing::ValuesIn(testing::onBothBackends({1, 4})),
                         testing::BackendSetupName{});

TEST(SessionWindowConfigTest, CustomTriggerIsRejectedAtStart) {
  StreamEnvironment env(configFor(1));
  env.fromCollection("events", std::vector<Event>{{"a", 1, 1}})
      .assignTimestampsAndWatermarks(watermarks::monotonousTimestamps<Event>(tsOf))
      .keyBy(keyOf)
      .window(SessionWindows::withGap(10ms), tsOf)
      .trigger(Trigger::countOf(3))
      .aggregate("sessions", CountSumAgg{})
      .sink("collect", [](const Result&) {});
  Status s = testing::runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("session windows support only the default trigger"));
  EXPECT_THAT(s.message(), HasSubstr("operator 'sessions"));
}

TEST(SessionWindowConfigTest, NonPositiveGapIsRejectedAtStart) {
  StreamEnvironment env(configFor(1));
  env.fromCollection("events", std::vector<Event>{{"a", 1, 1}})
      .assignTimestampsAndWatermarks(watermarks::monotonousTimestamps<Event>(tsOf))
      .keyBy(keyOf)
      .window(SessionWindows::withGap(0ms), tsOf)
      .aggregate("sessions", CountSumAgg{})
      .sink("collect", [](const Result&) {});
  Status s = testing::runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("session gap must be positive, got 0 ms"));
}

}  // namespace
}  // namespace reka
