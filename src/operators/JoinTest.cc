// Interval join and window join of two keyed streams, through the public API: results against
// brute-force nested loops over the inputs, hand-worked boundary cases, late records, bad specs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "reka/reka.h"
#include "testing/BackendSetup.h"
#include "testing/JobTesting.h"

namespace reka {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

struct Event {
  int64_t key = 0;
  int64_t ts = 0;
  int64_t id = 0;
};

}  // namespace

/// The window and join operators keep records in the state backend: on RocksDB they need a Serde.
template <>
struct Serde<Event> {
  static void write(const Event& v, std::string& out) {
    Serde<int64_t>::write(v.key, out);
    Serde<int64_t>::write(v.ts, out);
    Serde<int64_t>::write(v.id, out);
  }
  static bool read(std::string_view& in, Event& v) {
    return Serde<int64_t>::read(in, v.key) &&
           Serde<int64_t>::read(in, v.ts) &&
           Serde<int64_t>::read(in, v.id);
  }
};

namespace {

/// One joined pair; `start`/`end` are the window (0 for the interval join).
struct Joined {
  int64_t key = 0;
  int64_t a = 0;
  int64_t b = 0;
  int64_t start = 0;
  int64_t end = 0;
  friend auto operator<=>(const Joined&, const Joined&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Joined& j) {
    return os << "{key " << j.key << ", a " << j.a << ", b " << j.b << ", [" << j.start << ", "
              << j.end << ")}";
  }
};

int64_t eventTime(const Event& e) {
  return e.ts;
}

/// `n` events over `keys` keys, timestamps i*step + U[0, bound]: out of order by at most `bound`.
std::vector<Event> disordered(uint32_t seed, int n, int64_t keys, int64_t step, int64_t bound,
                              int64_t firstId) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> jitter(0, bound);
  std::uniform_int_distribution<int64_t> key(0, keys - 1);
  std::vector<Event> out;
  for (int i = 0; i < n; ++i) out.push_back({key(rng), i * step + jitter(rng), firstId + i});
  return out;
}

std::vector<Joined> sorted(std::vector<Joined> v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// What `actual` lacks and what it has in excess of `expected` (both sorted), for failure messages.
std::string difference(const std::vector<Joined>& actual, const std::vector<Joined>& expected) {
  std::vector<Joined> missing, unexpected;
  std::set_difference(expected.begin(), expected.end(), actual.begin(), actual.end(),
                      std::back_inserter(missing));
  std::set_difference(actual.begin(), actual.end(), expected.begin(), expected.end(),
                      std::back_inserter(unexpected));
  std::ostringstream os;
  os << actual.size() << " results, " << expected.size() << " expected\n";
  auto list = [&os](const char* what, const std::vector<Joined>& v) {
    os << what << " (" << v.size() << "):";
    for (size_t i = 0; i < v.size() && i < 10; ++i) os << " " << v[i];
    os << "\n";
  };
  list("missing", missing);
  list("unexpected", unexpected);
  return os.str();
}

std::vector<Joined> intervalReference(const std::vector<Event>& as, const std::vector<Event>& bs,
                                      int64_t lower, int64_t upper) {
  std::vector<Joined> out;
  for (const Event& a : as) {
    for (const Event& b : bs) {
      if (a.key == b.key && a.ts + lower <= b.ts && b.ts <= a.ts + upper)
        out.push_back({a.key, a.id, b.id, 0, 0});
    }
  }
  return sorted(std::move(out));
}

/// Windows [start, start + size) with start = k * slide (offset 0).
std::vector<Joined> windowReference(const std::vector<Event>& as, const std::vector<Event>& bs,
                                    int64_t size, int64_t slide) {
  std::vector<Joined> out;
  for (const Event& a : as) {
    for (const Event& b : bs) {
      if (a.key != b.key) continue;
      for (int64_t start = windowStartFor(a.ts, 0, slide); start > a.ts - size; start -= slide) {
        if (b.ts >= start && b.ts < start + size)
          out.push_back({a.key, a.id, b.id, start, start + size});
      }
    }
  }
  return sorted(std::move(out));
}

StreamEnvironment makeEnv(testing::BackendSetup setup) {
  ExecutionConfig config;
  setup.applyTo(config);
  config.watermarkInterval = milliseconds(0);
  config.batchSize = 4;
  return StreamEnvironment(config);
}

auto keyOf = [](const Event& e) { return e.key; };

/// A source stream of `events` with bounded-out-of-orderness watermarks, keyed by Event::key.
auto keyedSource(StreamEnvironment& env, const std::string& name, std::vector<Event> events,
                 int64_t boundMs) {
  return env.fromCollection(name, std::move(events))
      .assignTimestampsAndWatermarks(
          watermarks::boundedOutOfOrderness<Event>(milliseconds(boundMs), eventTime))
      .keyBy(keyOf);
}

auto emitPair = [](const Event& a, const Event& b, Emitter<Joined>& out) {
  out.emit({a.key, a.id, b.id, 0, 0});
};
auto emitWindowPair = [](const Event& a, const Event& b, const TimeWindow& w,
                         Emitter<Joined>& out) {
  out.emit({a.key, a.id, b.id, w.start, w.end});
};

struct JobOutput {
  Status status;
  std::vector<Joined> joined;  // sorted
  int64_t lateRecords = 0;
};

JobOutput runIntervalJoin(const std::vector<Event>& as, const std::vector<Event>& bs,
                          int64_t boundMs, int64_t lower, int64_t upper, testing::BackendSetup parallelism) {
  StreamEnvironment env = makeEnv(parallelism);
  auto collector = std::make_shared<testing::Collector<Joined>>();
  intervalJoin<Joined>("join", keyedSource(env, "a", as, boundMs),
                       keyedSource(env, "b", bs, boundMs), eventTime, eventTime,
                       milliseconds(lower), milliseconds(upper), emitPair)
      .sink("collect", testing::collectInto(collector));
  auto client = env.executeAsync();
  if (!client.isOk()) return {client.status(), {}, 0};
  Status s = testing::awaitJob(**client);
  return {s, sorted(collector->values()), (*client)->metrics().lateRecords};
}

template <class Assigner>
JobOutput runWindowJoin(const std::vector<Event>& as, const std::vector<Event>& bs, int64_t boundMs,
                        Assigner windows, testing::BackendSetup parallelism) {
  StreamEnvironment env = makeEnv(parallelism);
  auto collector = std::make_shared<testing::Collector<Joined>>();
  windowJoin<Joined>("join", keyedSource(env, "a", as, boundMs), keyedSource(env, "b", bs, boundMs),
                     eventTime, eventTime, windows, emitWindowPair)
      .sink("collect", testing::collectInto(collector));
  auto client = env.executeAsync();
  if (!client.isOk()) return {client.status(), {}, 0};
  Status s = testing::awaitJob(**client);
  return {s, sorted(collector->values()), (*client)->metrics().lateRecords};
}

class JoinParallelismTest : public ::testing::TestWithParam<testing::BackendSetup> {};

TEST_P(JoinParallelismTest, IntervalJoinWithNegativeLowerBoundMatchesBruteForce) {
  const int64_t bound = 8;
  auto as = disordered(1, 200, 5, 3, bound, 0);
  auto bs = disordered(2, 200, 5, 3, bound, 1000);
  JobOutput out = runIntervalJoin(as, bs, bound, -30, 20, GetParam());
  ASSERT_TRUE(out.status.isOk()) << out.status.toString();
  auto expected = intervalReference(as, bs, -30, 20);
  EXPECT_GT(expected.size(), 100u);
  EXPECT_TRUE(out.joined == expected) << difference(out.joined, expected);
  EXPECT_EQ(out.lateRecords, 0);
}

TEST_P(JoinParallelismTest, IntervalJoinWithPositiveBoundsMatchesBruteForce) {
  const int64_t bound = 10;
  auto as = disordered(3, 150, 3, 2, bound, 0);
  auto bs = disordered(4, 150, 3, 2, bound, 1000);
  JobOutput out = runIntervalJoin(as, bs, bound, 5, 12, GetParam());
  ASSERT_TRUE(out.status.isOk()) << out.status.toString();
  auto expected = intervalReference(as, bs, 5, 12);
  EXPECT_GT(expected.size(), 50u);
  EXPECT_TRUE(out.joined == expected) << difference(out.joined, expected);
}

TEST_P(JoinParallelismTest, TumblingWindowJoinMatchesBruteForce) {
  const int64_t bound = 8;
  auto as = disordered(5, 200, 5, 3, bound, 0);
  auto bs = disordered(6, 200, 5, 3, bound, 1000);
  JobOutput out =
      runWindowJoin(as, bs, bound, TumblingWindows::eventTime(milliseconds(20)), GetParam());
  ASSERT_TRUE(out.status.isOk()) << out.status.toString();
  auto expected = windowReference(as, bs, 20, 20);
  EXPECT_GT(expected.size(), 100u);
  EXPECT_TRUE(out.joined == expected) << difference(out.joined, expected);
  EXPECT_EQ(out.lateRecords, 0);
}

TEST_P(JoinParallelismTest, SlidingWindowJoinMatchesBruteForce) {
  const int64_t bound = 8;
  auto as = disordered(7, 200, 5, 3, bound, 0);
  auto bs = disordered(8, 200, 5, 3, bound, 1000);
  JobOutput out = runWindowJoin(
      as, bs, bound, SlidingWindows::eventTime(milliseconds(30), milliseconds(10)), GetParam());
  ASSERT_TRUE(out.status.isOk()) << out.status.toString();
  auto expected = windowReference(as, bs, 30, 10);
  EXPECT_GT(expected.size(), 100u);
  EXPECT_TRUE(out.joined == expected) << difference(out.joined, expected);
  EXPECT_EQ(out.lateRecords, 0);
}

INSTANTIATE_TEST_SUITE_P(Parallelism, JoinParallelismTest, ::testing::ValuesIn(testing::onBothBackends({1, 4})),
                         testing::BackendSetupName{});

TEST(JoinTest, IntervalJoinBoundsAreInclusive) {
  // a at 100 with [-10, +10]: b at 90 and 110 (the bounds) and 100 match, 89 and 111 do not;
  // key 2 has no a.
  std::vector<Event> as = {{1, 100, 1}};
  std::vector<Event> bs = {{1, 89, 10},  {1, 90, 11},  {1, 100, 12},
                           {1, 110, 13}, {1, 111, 14}, {2, 100, 15}};
  JobOutput out = runIntervalJoin(as, bs, 0, -10, 10, 2);
  ASSERT_TRUE(out.status.isOk()) << out.status.toString();
  EXPECT_EQ(out.joined,
            (std::vector<Joined>{{1, 1, 11, 0, 0}, {1, 1, 12, 0, 0}, {1, 1, 13, 0, 0}}));
}

TEST(JoinTest, IntervalJoinWithBothBoundsNegative) {
  // b must be 5 to 20 ms before a: a at 100 matches b at 80 and 95, not 79, 96 or 100.
  std::vector<Event> as = {{7, 100, 1}};
  std::vector<Event> bs = {{7, 79, 10}, {7, 80, 11}, {7, 95, 12}, {7, 96, 13}, {7, 100, 14}};
  JobOutput out = runIntervalJoin(as, bs, 0, -20, -5, 1);
  ASSERT_TRUE(out.status.isOk()) << out.status.toString();
  EXPECT_EQ(out.joined, (std::vector<Joined>{{7, 1, 11, 0, 0}, {7, 1, 12, 0, 0}}));
}

TEST(JoinTest, TumblingWindowJoinAtWindowEdges) {
  // Windows of 10: a at 10 (a start) meets b at 19 (end - 1) in [10, 20); b at 20 is in the next
  // window, and a at 9 / b at 10 sit on either side of the edge at 10.
  std::vector<Event> as = {{1, 10, 1}, {1, 9, 2}};
  std::vector<Event> bs = {{1, 19, 10}, {1, 20, 11}, {1, 10, 12}};
  JobOutput out = runWindowJoin(as, bs, 0, TumblingWindows::eventTime(milliseconds(10)), 1);
  ASSERT_TRUE(out.status.isOk()) << out.status.toString();
  EXPECT_EQ(out.joined, (std::vector<Joined>{{1, 1, 10, 10, 20}, {1, 1, 12, 10, 20}}));
}

TEST(JoinTest, SlidingWindowJoinEmitsAPairOncePerSharedWindow) {
  // Size 10, slide 5: a at 7 and b at 8 share [0, 10) and [5, 15); a at 7 and b at 12 share only
  // [5, 15); keys never mix.
  std::vector<Event> as = {{1, 7, 1}, {2, 7, 2}};
  std::vector<Event> bs = {{1, 8, 10}, {1, 12, 11}, {3, 8, 12}};
  JobOutput out =
      runWindowJoin(as, bs, 0, SlidingWindows::eventTime(milliseconds(10), milliseconds(5)), 4);
  ASSERT_TRUE(out.status.isOk()) << out.status.toString();
  EXPECT_EQ(out.joined,
            (std::vector<Joined>{{1, 1, 10, 0, 10}, {1, 1, 10, 5, 15}, {1, 1, 11, 5, 15}}));
}

TEST(JoinTest, IntervalJoinRejectsLowerAboveUpper) {
  JobOutput out = runIntervalJoin({{1, 1, 1}}, {{1, 1, 2}}, 0, 10, 5, 1);
  EXPECT_EQ(out.status.code(), StatusCode::kInvalidArgument) << out.status.toString();
  EXPECT_THAT(out.status.message(),
              HasSubstr("lower bound (10 ms) must not be above the upper bound (5 ms)"));
}

TEST(JoinTest, WindowJoinRejectsInvalidWindows) {
  JobOutput out =
      runWindowJoin({{1, 1, 1}}, {{1, 1, 2}}, 0, TumblingWindows::eventTime(milliseconds(0)), 1);
  EXPECT_EQ(out.status.code(), StatusCode::kInvalidArgument) << out.status.toString();
  EXPECT_THAT(out.status.message(), HasSubstr("window size must be positive"));

  out = runWindowJoin({{1, 1, 1}}, {{1, 1, 2}}, 0,
                      SlidingWindows::eventTime(milliseconds(10), milliseconds(20)), 1);
  EXPECT_EQ(out.status.code(), StatusCode::kInvalidArgument) << out.status.toString();
  EXPECT_THAT(out.status.message(), HasSubstr("slide must be in (0, size]"));

  out = runWindowJoin({{1, 1, 1}}, {{1, 1, 2}}, 0,
                      TumblingWindows::processingTime(milliseconds(10)), 1);
  EXPECT_EQ(out.status.code(), StatusCode::kInvalidArgument) << out.status.toString();
  EXPECT_THAT(out.status.message(), HasSubstr("event-time windows"));
}

/// Lets a test hold back part of a source until the job has reached a point it waits for.
struct Gate {
  std::mutex mutex;
  bool open = false;
  std::function<void()> wakeup;

  void release() {
    std::function<void()> w;
    {
      std::lock_guard<std::mutex> lock(mutex);
      open = true;
      w = wakeup;
    }
    if (w) w();
  }
  bool isOpen() {
    std::lock_guard<std::mutex> lock(mutex);
    return open;
  }
};

/// Emits `before`, then nothing until the gate opens, then `after`.
class GatedSource final : public SourceFunction<Event> {
 public:
  GatedSource(std::vector<Event> before, std::vector<Event> after, std::shared_ptr<Gate> gate)
      : before_(std::move(before)), after_(std::move(after)), gate_(std::move(gate)) {}
  Status open(const OperatorContext& ctx) override {
    std::lock_guard<std::mutex> lock(gate_->mutex);
    gate_->wakeup = ctx.wakeup;
    return Status::ok();
  }
  SourceOperator::Poll poll(RecordBatch<Event>& out, size_t) override {
    if (!sentBefore_) {
      sentBefore_ = true;
      out.records = before_;
      return SourceOperator::Poll::kNothingNow;
    }
    if (!gate_->isOpen()) return SourceOperator::Poll::kNothingNow;
    out.records = after_;
    return SourceOperator::Poll::kEnd;
  }

 private:
  std::vector<Event> before_;
  std::vector<Event> after_;
  std::shared_ptr<Gate> gate_;
  bool sentBefore_ = false;
};

/// Waits until every subtask of operator `name` has reached watermark `wm`.
bool awaitWatermark(JobClient& client, const std::string& name, int64_t wm) {
  const auto deadline = std::chrono::steady_clock::now() + testing::kJobTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    JobMetrics m = client.metrics();
    bool reached = false;
    for (const OperatorStats& op : m.operators) {
      if (op.name != name) continue;
      reached = op.watermark >= wm;
      if (!reached) break;
    }
    if (reached) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return false;
}

/// Input a: a gated source (watermarks trail by 0 ms); input b: `bs`, which ends at once so the
/// join's watermark is a's. Runs `join` over them, opens the gate when the join has reached
/// watermark `wm`.
template <class Join>
JobOutput runWithLateA(std::vector<Event> before, std::vector<Event> after, std::vector<Event> bs,
                       int64_t wm, testing::BackendSetup parallelism, Join join) {
  StreamEnvironment env = makeEnv(parallelism);
  auto gate = std::make_shared<Gate>();
  auto a = env.addSource<Event>(
                  "a", [=] { return std::make_unique<GatedSource>(before, after, gate); }, 1)
               .assignTimestampsAndWatermarks(
                   watermarks::boundedOutOfOrderness<Event>(milliseconds(0), eventTime))
               .keyBy(keyOf);
  auto b = keyedSource(env, "b", std::move(bs), 1000);
  auto collector = std::make_shared<testing::Collector<Joined>>();
  join(a, b).sink("collect", testing::collectInto(collector));
  auto client = env.executeAsync();
  if (!client.isOk()) return {client.status(), {}, 0};
  EXPECT_TRUE(awaitWatermark(**client, "join", wm));
  gate->release();
  Status s = testing::awaitJob(**client);
  return {s, sorted(collector->values()), (*client)->metrics().lateRecords};
}

TEST(JoinTest, IntervalJoinCountsAndDropsLateRecords) {
  // [0, +10]. a at 1000 moves the watermark to 999. Then a at 999 (at the watermark) is late and
  // dropped; a at 1000 is on time and joins b at 1000 and 1003. b at 985 was dropped at
  // watermark 999 (985 - 0 <= 999), so no result names it.
  for (int p : {1, 4}) {
    JobOutput out = runWithLateA(
        {{1, 1000, 1}}, {{1, 999, 2}, {1, 1000, 3}}, {{1, 985, 10}, {1, 1000, 11}, {1, 1003, 12}},
        999, p, [](const auto& a, const auto& b) {
          return intervalJoin<Joined>("join", a, b, eventTime, eventTime, milliseconds(0),
                                      milliseconds(10), emitPair);
        });
    ASSERT_TRUE(out.status.isOk()) << out.status.toString();
    EXPECT_EQ(out.joined,
              (std::vector<Joined>{
                  {1, 1, 11, 0, 0}, {1, 1, 12, 0, 0}, {1, 3, 11, 0, 0}, {1, 3, 12, 0, 0}}))
        << "p=" << p;
    EXPECT_EQ(out.lateRecords, 1) << "p=" << p;
  }
}

TEST(JoinTest, IntervalJoinProbesOnTimeRecordsThatCannotMatchLaterOnes) {
  // [-10, -2]: b 2 to 10 ms before a. At watermark 999, a at 1001 can meet no later b
  // (1001 - 2 <= 999) but is on time: it still joins the buffered b at 995. a at 999 is late.
  JobOutput out =
      runWithLateA({{1, 1000, 1}}, {{1, 999, 2}, {1, 1001, 3}}, {{1, 995, 10}, {1, 989, 11}}, 999,
                   1, [](const auto& a, const auto& b) {
                     return intervalJoin<Joined>("join", a, b, eventTime, eventTime,
                                                 milliseconds(-10), milliseconds(-2), emitPair);
                   });
  ASSERT_TRUE(out.status.isOk()) << out.status.toString();
  EXPECT_EQ(out.joined, (std::vector<Joined>{{1, 1, 10, 0, 0}, {1, 3, 10, 0, 0}}));
  EXPECT_EQ(out.lateRecords, 1);
}

TEST(JoinTest, TumblingWindowJoinCountsAndDropsLateRecords) {
  // Windows of 10; watermark 999 has fired [990, 1000). a at 995 is late; a at 1005 is not.
  JobOutput out = runWithLateA(
      {{1, 1000, 1}}, {{1, 995, 2}, {1, 1005, 3}}, {{1, 995, 10}, {1, 1002, 11}}, 999, 2,
      [](const auto& a, const auto& b) {
        return windowJoin<Joined>("join", a, b, eventTime, eventTime,
                                  TumblingWindows::eventTime(milliseconds(10)), emitWindowPair);
      });
  ASSERT_TRUE(out.status.isOk()) << out.status.toString();
  EXPECT_EQ(out.joined, (std::vector<Joined>{{1, 1, 11, 1000, 1010}, {1, 3, 11, 1000, 1010}}));
  EXPECT_EQ(out.lateRecords, 1);
}

TEST(JoinTest, SlidingWindowJoinKeepsRecordsWithAnOpenWindow) {
  // Size 20, slide 10; watermark 999 has fired [970, 990) and [980, 1000). a at 985 is in those
  // two only: late. a at 995 is also in [990, 1010), which it joins.
  JobOutput out = runWithLateA({{1, 1000, 1}}, {{1, 985, 2}, {1, 995, 3}}, {{1, 1002, 11}}, 999, 1,
                               [](const auto& a, const auto& b) {
                                 return windowJoin<Joined>(
                                     "join", a, b, eventTime, eventTime,
                                     SlidingWindows::eventTime(milliseconds(20), milliseconds(10)),
                                     emitWindowPair);
                               });
  ASSERT_TRUE(out.status.isOk()) << out.status.toString();
  EXPECT_EQ(out.joined, (std::vector<Joined>{
                            {1, 1, 11, 990, 1010}, {1, 1, 11, 1000, 1020}, {1, 3, 11, 990, 1010}}));
  EXPECT_EQ(out.lateRecords, 1);
}

}  // namespace
}  // namespace reka
