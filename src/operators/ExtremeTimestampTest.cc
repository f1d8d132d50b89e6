// Records whose timestamps no clock means (near the 64-bit limits) must not hang, wrap or
// exhaust a window operator: the hostile tester's q7 spun forever and q5 allocated 22.8 GB on
// one such bid. They are late (counted, sent to the late output); the other records' results
// are those of a reference that never saw them.

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>
#include <vector>

#include "reka/reka.h"
#include "testing/JobTesting.h"

namespace reka {
namespace {

using namespace std::chrono_literals;
using testing::Collector;

struct Ev {
  int64_t key;
  int64_t ts;
};

struct CountAgg {
  int64_t createAccumulator() const { return 0; }
  void add(const Ev&, int64_t& acc) const { ++acc; }
  void merge(const int64_t& from, int64_t& into) const { into += from; }
  int64_t getResult(const int64_t& acc) const { return acc; }
};

using Result = WindowResult<int64_t, int64_t>;
using Row = std::tuple<int64_t, int64_t, int64_t, int64_t>;  // key, start, end, count

auto tsOf = [](const Ev& e) { return e.ts; };
auto keyOf = [](const Ev& e) { return e.key; };

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
/// The four timestamps the tester used, and the edge of the 64-bit range.
const std::vector<int64_t> kInvalid = {kMax, kMin, kMin + 1, 9223372036854771805};

/// Normal records at 1000 + 3i with the invalid ones in the middle and at the end.
std::vector<Ev> input() {
  std::vector<Ev> in;
  for (int i = 0; i < 200; ++i) {
    in.push_back({i % 3, 1000 + 3 * i});
    if (i == 100)
      for (int64_t bad : kInvalid) in.push_back({1, bad});
  }
  for (int64_t bad : kInvalid) in.push_back({2, bad});
  return in;
}

std::vector<Row> reference(const std::vector<Ev>& in, int64_t size, int64_t slide) {
  std::map<std::tuple<int64_t, int64_t, int64_t>, int64_t> counts;
  for (const Ev& e : in) {
    if (!isValidEventTimestamp(e.ts)) continue;
    int64_t s = e.ts - ((e.ts % slide) + slide) % slide;
    for (; s > e.ts - size; s -= slide) ++counts[{e.key, s, s + size}];
  }
  std::vector<Row> out;
  for (const auto& [k, v] : counts) out.emplace_back(std::get<0>(k), std::get<1>(k), std::get<2>(k), v);
  return out;
}

/// What a window job made of input(): its results and the records it sent to the late output.
struct Outcome {
  std::vector<Row> rows;
  std::vector<int64_t> lateTs;
  int64_t lateRecords = 0;
};

template <class Windows>
Outcome run(Windows windows, int parallelism) {
  ExecutionConfig config;
  config.parallelism = parallelism;
  config.batchSize = 16;
  config.watermarkInterval = 0ms;
  StreamEnvironment env(config);
  auto out = std::make_shared<Collector<Result>>();
  auto late = std::make_shared<Collector<Ev>>();
  OutputTag<Ev> lateTag("late");
  // No watermarks from the source: only the end of input fires windows, so every valid record
  // is on time and the invalid ones are late for a reason of their own.
  auto result = env.fromCollection("events", input())
                    .keyBy(keyOf)
                    .window(windows, tsOf)
                    .sideOutputLateData(lateTag)
                    .aggregate("count", CountAgg{});
  result.sink("collect", testing::collectInto(out));
  result.sideOutput(lateTag).sink("late", testing::collectInto(late));
  Outcome o;
  auto client = env.executeAsync();
  EXPECT_TRUE(client.isOk());
  if (!client.isOk()) return o;
  EXPECT_TRUE(testing::awaitJob(**client, 30s).isOk());
  for (const auto& r : out->values()) o.rows.emplace_back(r.key, r.window.start, r.window.end, r.value);
  std::sort(o.rows.begin(), o.rows.end());
  for (const Ev& e : late->values()) o.lateTs.push_back(e.ts);
  std::sort(o.lateTs.begin(), o.lateTs.end());
  o.lateRecords = (*client)->metrics().lateRecords;
  return o;
}

/// Each invalid timestamp twice (keys 1 and 2), sorted.
std::vector<int64_t> expectedLate() {
  std::vector<int64_t> expected = kInvalid;
  expected.insert(expected.end(), kInvalid.begin(), kInvalid.end());
  std::sort(expected.begin(), expected.end());
  return expected;
}

void expectInvalidOnesAreLate(const Outcome& o, const std::vector<Row>& expectedRows) {
  EXPECT_EQ(o.rows, expectedRows);
  EXPECT_EQ(o.lateTs, expectedLate());
  EXPECT_EQ(o.lateRecords, static_cast<int64_t>(expectedLate().size()));
}

class ExtremeTimestampTest : public ::testing::TestWithParam<int> {};

TEST_P(ExtremeTimestampTest, TumblingWindowsCountThemLateAndFinish) {
  expectInvalidOnesAreLate(run(TumblingWindows::eventTime(10s), GetParam()), reference(input(), 10'000, 10'000));
}

TEST_P(ExtremeTimestampTest, SlidingWindowsCountThemLateAndFinish) {
  expectInvalidOnesAreLate(run(SlidingWindows::eventTime(10s, 2s), GetParam()), reference(input(), 10'000, 2'000));
}

TEST_P(ExtremeTimestampTest, SessionWindowsCountThemLateAndFinish) {
  // The valid records of each key are 9 ms apart: one session per key, [first, last + 10 s).
  std::vector<Row> expected;
  for (int64_t k = 0; k < 3; ++k) {
    const int64_t first = 1000 + 3 * k, last = 1000 + 3 * (199 - (199 - k) % 3);
    expected.emplace_back(k, first, last + 10'000, (200 - k + 2) / 3);
  }
  expectInvalidOnesAreLate(run(SessionWindows::withGap(10s), GetParam()), expected);
}

// A valid record at the last millisecond of year 9999 is an ordinary (far-future) record: its
// window starts and ends within 64 bits and fires at the end of input.
TEST(ExtremeTimestampTest, TheLastValidMillisecondHasAWindow) {
  StreamEnvironment env(ExecutionConfig{});
  auto out = std::make_shared<Collector<Result>>();
  std::vector<Ev> in = {{1, 1000}, {1, kMaxEventTimestamp}};
  env.fromCollection("events", in)
      .assignTimestampsAndWatermarks(watermarks::boundedOutOfOrderness<Ev>(50ms, tsOf))
      .keyBy(keyOf)
      .window(SlidingWindows::eventTime(10s, 2s), tsOf)
      .aggregate("count", CountAgg{})
      .sink("collect", testing::collectInto(out));
  ASSERT_TRUE(testing::runJob(env, 30s).isOk());
  std::vector<Row> got;
  for (const auto& r : out->values()) got.emplace_back(r.key, r.window.start, r.window.end, r.value);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, reference(in, 10'000, 2'000));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, ExtremeTimestampTest, ::testing::Values(1, 3));

}  // namespace
}  // namespace reka
