// Tumbling and sliding windows (aligned, by panes): results against a brute-force reference
// that assigns every record to every window covering it, plus hand-worked cases.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <thread>
#include <tuple>
#include <vector>

#include "reka/reka.h"
#include "testing/BackendSetup.h"
#include "testing/JobTesting.h"

namespace reka {
namespace {

using namespace std::chrono_literals;
using testing::Collector;

struct Ev {
  int64_t key;
  int64_t ts;
  int64_t value;
};

}  // namespace

/// The window and join operators keep records in the state backend: on RocksDB they need a Serde.
template <>
struct Serde<Ev> {
  static void write(const Ev& v, std::string& out) {
    Serde<int64_t>::write(v.key, out);
    Serde<int64_t>::write(v.ts, out);
    Serde<int64_t>::write(v.value, out);
  }
  static bool read(std::string_view& in, Ev& v) {
    return Serde<int64_t>::read(in, v.key) &&
           Serde<int64_t>::read(in, v.ts) &&
           Serde<int64_t>::read(in, v.value);
  }
};

namespace {

struct CountAgg {
  int64_t createAccumulator() const { return 0; }
  void add(const Ev&, int64_t& acc) const { ++acc; }
  void merge(const int64_t& from, int64_t& into) const { into += from; }
  int64_t getResult(const int64_t& acc) const { return acc; }
};

using Result = WindowResult<int64_t, int64_t>;
// (key, start, end, value, kind) for comparisons.
using Row = std::tuple<int64_t, int64_t, int64_t, int64_t, int>;

Row rowOf(const Result& r) { return {r.key, r.window.start, r.window.end, r.value, static_cast<int>(r.kind)}; }

std::vector<Row> sorted(const std::vector<Result>& rs) {
  std::vector<Row> out;
  for (const auto& r : rs) out.push_back(rowOf(r));
  std::sort(out.begin(), out.end());
  return out;
}

constexpr int kInsert = static_cast<int>(RowKind::kInsert);
constexpr int kBefore = static_cast<int>(RowKind::kUpdateBefore);
constexpr int kAfter = static_cast<int>(RowKind::kUpdateAfter);

ExecutionConfig configFor(testing::BackendSetup setup, size_t batchSize = 7) {
  ExecutionConfig c;
  setup.applyTo(c);
  c.batchSize = batchSize;
  c.watermarkInterval = 0ms;
  return c;
}

auto tsOf = [](const Ev& e) { return e.ts; };
auto keyOf = [](const Ev& e) { return e.key; };

/// Counts per (key, window) by enumerating every window that covers each record.
std::vector<Row> referenceCounts(const std::vector<Ev>& in, int64_t size, int64_t slide) {
  std::map<std::tuple<int64_t, int64_t, int64_t>, int64_t> counts;
  for (const Ev& e : in) {
    // Window starts are multiples of slide; [s, s + size) covers ts when s <= ts < s + size.
    int64_t s = e.ts - ((e.ts % slide) + slide) % slide;
    for (; s > e.ts - size; s -= slide) ++counts[{e.key, s, s + size}];
  }
  std::vector<Row> out;
  for (const auto& [k, v] : counts) out.emplace_back(std::get<0>(k), std::get<1>(k), std::get<2>(k), v, kInsert);
  std::sort(out.begin(), out.end());
  return out;
}

/// Timestamps rising with jitter of up to 40 ms (an LCG, so the data is fixed).
std::vector<Ev> disordered(int n, int keys) {
  std::vector<Ev> out;
  uint64_t x = 12345;
  for (int i = 0; i < n; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t jitter = static_cast<int64_t>((x >> 33) % 41);
    out.push_back({static_cast<int64_t>((x >> 20) % static_cast<uint64_t>(keys)), 1000 + i * 3 - jitter, i});
  }
  return out;
}

template <class Windows>
std::vector<Result> runCount(const std::vector<Ev>& in, Windows windows, testing::BackendSetup parallelism) {
  StreamEnvironment env(configFor(parallelism));
  auto out = std::make_shared<Collector<Result>>();
  env.fromCollection("events", in)
      .assignTimestampsAndWatermarks(watermarks::boundedOutOfOrderness<Ev>(50ms, tsOf))
      .keyBy(keyOf)
      .window(windows, tsOf)
      .aggregate("count", CountAgg{})
      .sink("collect", testing::collectInto(out));
  EXPECT_TRUE(testing::runJob(env).isOk());
  return out->values();
}

class AlignedWindowTest : public ::testing::TestWithParam<testing::BackendSetup> {};

TEST_P(AlignedWindowTest, TumblingCountsMatchReferenceOnDisorderedInput) {
  auto in = disordered(3000, 17);
  EXPECT_EQ(sorted(runCount(in, TumblingWindows::eventTime(100ms), GetParam())), referenceCounts(in, 100, 100));
}

TEST_P(AlignedWindowTest, SlidingCountsMatchReferenceOnDisorderedInput) {
  auto in = disordered(3000, 17);
  EXPECT_EQ(sorted(runCount(in, SlidingWindows::eventTime(100ms, 20ms), GetParam())), referenceCounts(in, 100, 20));
  // Size not a multiple of the slide: panes of gcd(100, 30) = 10 ms.
  EXPECT_EQ(sorted(runCount(in, SlidingWindows::eventTime(100ms, 30ms), GetParam())), referenceCounts(in, 100, 30));
}

TEST_P(AlignedWindowTest, BoundaryTimestampsGoToTheWindowThatStartsThere) {
  std::vector<Ev> in = {{1, 0, 0}, {1, 9, 0}, {1, 10, 0}, {1, 19, 0}, {1, 20, 0}};
  // Half-open windows: 0 and 9 in [0,10); 10 and 19 in [10,20); 20 in [20,30).
  std::vector<Row> tumbling = {{1, 0, 10, 2, kInsert}, {1, 10, 20, 2, kInsert}, {1, 20, 30, 1, kInsert}};
  EXPECT_EQ(sorted(runCount(in, TumblingWindows::eventTime(10ms), GetParam())), tumbling);
  // Size 10, slide 5: 0 → [-5,5),[0,10); 9 → [0,10),[5,15); 10 → [5,15),[10,20);
  // 19 → [10,20),[15,25); 20 → [15,25),[20,30).
  std::vector<Row> sliding = {{1, -5, 5, 1, kInsert},  {1, 0, 10, 2, kInsert},  {1, 5, 15, 2, kInsert},
                              {1, 10, 20, 2, kInsert}, {1, 15, 25, 2, kInsert}, {1, 20, 30, 1, kInsert}};
  EXPECT_EQ(sorted(runCount(in, SlidingWindows::eventTime(10ms, 5ms), GetParam())), sliding);
}

TEST_P(AlignedWindowTest, LateRecordsUpdateWithinLatenessAndGoToTheSideOutputBeyond) {
  // Watermark = highest timestamp - 1 (monotonous), one record per batch.
  std::vector<Ev> in = {{1, 1, 0}, {1, 5, 0}, {1, 12, 0}, {1, 3, 0}, {1, 20, 0}, {1, 4, 0}};
  StreamEnvironment env(configFor(GetParam(), 1));
  auto out = std::make_shared<Collector<Result>>();
  auto late = std::make_shared<Collector<Ev>>();
  OutputTag<Ev> lateTag("late");
  auto result = env.fromCollection("events", in)
                    .assignTimestampsAndWatermarks(watermarks::monotonousTimestamps<Ev>(tsOf))
                    .keyBy(keyOf)
                    .window(TumblingWindows::eventTime(10ms), tsOf)
                    .allowedLateness(5ms)
                    .sideOutputLateData(lateTag)
                    .aggregate("count", CountAgg{});
  result.sink("collect", testing::collectInto(out));
  result.sideOutput(lateTag).sink("late", testing::collectInto(late));
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk());
  ASSERT_TRUE(testing::awaitJob(**client).isOk());
  // 12 moves the watermark to 11: [0,10) fires with 2 (1 and 5). 3 arrives at watermark 11,
  // within 9 + 5 = 14: the result is updated to 3. 20 moves it to 19: [10,20) fires with 1
  // and [0,10) is cleaned up (14 <= 19), so 4 is late. The end of input fires [20,30).
  std::vector<Row> expected = {{1, 0, 10, 2, kInsert}, {1, 0, 10, 2, kBefore}, {1, 0, 10, 3, kAfter},
                               {1, 10, 20, 1, kInsert}, {1, 20, 30, 1, kInsert}};
  std::vector<Row> got;
  for (const auto& r : out->values()) got.push_back(rowOf(r));
  EXPECT_EQ(got, expected);  // one key: arrival order is the order of results
  ASSERT_EQ(late->size(), 1u);
  EXPECT_EQ(late->values()[0].ts, 4);
  auto m = (*client)->metrics();
  EXPECT_EQ(m.lateRecords, 1);
  EXPECT_EQ(m.lateUpdates, 1);
}

TEST_P(AlignedWindowTest, ProcessFunctionSeesEveryRecordOfTheWindow) {
  std::vector<Ev> in = {{1, 1, 10}, {2, 2, 20}, {1, 7, 30}, {1, 11, 40}, {2, 15, 50}, {2, 4, 60}};
  StreamEnvironment env(configFor(GetParam()));
  using Sum = std::tuple<int64_t, int64_t, int64_t, int64_t>;  // key, start, count, sum
  auto out = std::make_shared<Collector<Sum>>();
  env.fromCollection("events", in)
      .assignTimestampsAndWatermarks(watermarks::boundedOutOfOrderness<Ev>(20ms, tsOf))
      .keyBy(keyOf)
      .window(SlidingWindows::eventTime(10ms, 5ms), tsOf)
      .process<Sum>("sum", [](const int64_t& key, const TimeWindow& w, const std::vector<Ev>& records, Emitter<Sum>& e) {
        int64_t sum = 0;
        for (const auto& r : records) sum += r.value;
        e.emit(Sum{key, w.start, static_cast<int64_t>(records.size()), sum});
      })
      .sink("collect", testing::collectInto(out));
  ASSERT_TRUE(testing::runJob(env).isOk());
  auto got = out->values();
  std::sort(got.begin(), got.end());
  // Key 1: ts 1 → [-5,5),[0,10); 7 → [0,10),[5,15); 11 → [5,15),[10,20).
  // Key 2: ts 2 → [-5,5),[0,10); 4 → [-5,5),[0,10); 15 → [10,20),[15,25).
  std::vector<Sum> expected = {{1, -5, 1, 10}, {1, 0, 2, 40},  {1, 5, 2, 70},  {1, 10, 1, 40},
                               {2, -5, 2, 80}, {2, 0, 2, 80}, {2, 10, 1, 50}, {2, 15, 1, 50}};
  EXPECT_EQ(got, expected);
}

INSTANTIATE_TEST_SUITE_P(Parallelism, AlignedWindowTest, ::testing::ValuesIn(testing::onBothBackends({1, 4})),
                         testing::BackendSetupName{});

TEST(AlignedWindowTest, ProcessingTimeWindowsCountEveryRecordOnce) {
  auto in = disordered(2000, 5);
  StreamEnvironment env(configFor(2));
  auto out = std::make_shared<Collector<Result>>();
  env.fromCollection("events", in)
      .keyBy(keyOf)
      .window(TumblingWindows::processingTime(50ms))
      .aggregate("count", CountAgg{})
      .sink("collect", testing::collectInto(out));
  ASSERT_TRUE(testing::runJob(env).isOk());
  std::map<int64_t, int64_t> perKey, expected;
  for (const auto& e : in) ++expected[e.key];
  for (const auto& r : out->values()) {
    EXPECT_EQ(r.window.end - r.window.start, 50);
    EXPECT_EQ(r.window.start % 50, 0);
    EXPECT_EQ(r.kind, RowKind::kInsert);
    perKey[r.key] += r.value;
  }
  EXPECT_EQ(perKey, expected);
}

/// Emits three records at event time 100..102, then stays quiet (no watermark progress) for
/// `quiet`, then ends: early firings must show the partial result before the end.
class QuietSource final : public SourceFunction<Ev> {
 public:
  SourceOperator::Poll poll(RecordBatch<Ev>& out, size_t) override {
    if (!sent_) {
      for (int64_t i = 0; i < 3; ++i) out.records.push_back({7, 100 + i, i});
      sent_ = true;
      start_ = std::chrono::steady_clock::now();
      return SourceOperator::Poll::kMore;
    }
    if (std::chrono::steady_clock::now() - start_ < 300ms) {
      std::this_thread::sleep_for(5ms);
      return SourceOperator::Poll::kMore;
    }
    return SourceOperator::Poll::kEnd;
  }

 private:
  bool sent_ = false;
  std::chrono::steady_clock::time_point start_;
};

TEST(AlignedWindowTest, EarlyFiringEmitsPartialResultsThenTheFinalUpdate) {
  StreamEnvironment env(configFor(1));
  auto out = std::make_shared<Collector<Result>>();
  env.fromSource<Ev>("quiet", [] { return std::make_unique<QuietSource>(); },
                     watermarks::monotonousTimestamps<Ev>(tsOf), 1)
      .keyBy(keyOf)
      .window(TumblingWindows::eventTime(1000ms), tsOf)
      .trigger(Trigger::earlyEvery(50ms))
      .aggregate("count", CountAgg{})
      .sink("collect", testing::collectInto(out));
  ASSERT_TRUE(testing::runJob(env).isOk());
  auto got = out->values();
  ASSERT_GE(got.size(), 3u);
  // First an early +I with the three records, then (possibly repeated) -U/+U pairs; the last
  // row is the final result.
  EXPECT_EQ(rowOf(got.front()), (Row{7, 0, 1000, 3, kInsert}));
  EXPECT_EQ(rowOf(got.back()), (Row{7, 0, 1000, 3, kAfter}));
  for (size_t i = 1; i < got.size(); ++i) EXPECT_EQ(got[i].kind, i % 2 == 1 ? RowKind::kUpdateBefore : RowKind::kUpdateAfter);
}

TEST(AlignedWindowTest, InvalidWindowsFailTheJobWithAClearMessage) {
  StreamEnvironment env(configFor(1));
  env.fromCollection("events", std::vector<Ev>{{1, 1, 1}})
      .keyBy(keyOf)
      .window(SlidingWindows::eventTime(10ms, 20ms), tsOf)
      .aggregate("count", CountAgg{})
      .sink("collect", [](const Result&) {});
  Status s = testing::runJob(env);
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("slide must be in (0, size]"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace reka
