// Concurrency stress: no record is lost or duplicated, and per-key order holds, whatever the
// thread timing. Each job runs under debug knobs (forced yields, tiny channels and batches) over
// a grid of thread counts and parallelisms; every result is checked exactly against a reference
// computed from the input.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "reka/reka.h"
#include "testing/JobTesting.h"

namespace reka {
namespace {

using testing::collectInto;
using testing::Collector;
using testing::runJob;

constexpr int64_t kKeys = 97;

std::vector<int64_t> range(int64_t from, int64_t to) {
  std::vector<int64_t> v(static_cast<size_t>(to - from));
  std::iota(v.begin(), v.end(), from);
  return v;
}

/// What the keyed running count + sum emits for every record.
struct CountSum {
  int64_t key = 0;
  int64_t count = 0;  // records of this key seen so far, this one included
  int64_t sum = 0;    // their sum
  int64_t value = 0;  // this record
};

struct RunningCountSum {
  struct Acc {
    int64_t count = 0;
    int64_t sum = 0;
  };
  ValueState<int64_t, Acc> acc;
  void open(KeyedStateRegistry<int64_t>& r) { acc = r.valueState<Acc>("acc"); }
  void processElement(const int64_t& v, KeyedContext<int64_t, CountSum>& ctx) {
    Acc& a = acc.getOrCreate();
    ++a.count;
    a.sum += v;
    ctx.emit(CountSum{ctx.currentKey(), a.count, a.sum, v});
  }
};

/// Checks the outputs of a running count + sum keyed by value mod kKeys against the values that
/// entered it: per key, the counts are exactly 1..n, each step adds exactly the record's value,
/// and the records are exactly that key's input values (each once).
::testing::AssertionResult checkCountSum(const std::vector<CountSum>& out,
                                         const std::vector<int64_t>& input) {
  std::map<int64_t, std::vector<int64_t>> expectedValues;
  for (int64_t v : input) expectedValues[v % kKeys].push_back(v);
  if (out.size() != input.size())
    return ::testing::AssertionFailure()
           << out.size() << " outputs for " << input.size() << " inputs";
  std::map<int64_t, std::vector<CountSum>> byKey;
  for (const CountSum& c : out) {
    if (c.key != c.value % kKeys)
      return ::testing::AssertionFailure()
             << "value " << c.value << " processed under key " << c.key;
    byKey[c.key].push_back(c);
  }
  if (byKey.size() != expectedValues.size())
    return ::testing::AssertionFailure()
           << byKey.size() << " keys, expected " << expectedValues.size();
  for (auto& [key, seq] : byKey) {
    std::sort(seq.begin(), seq.end(),
              [](const CountSum& a, const CountSum& b) { return a.count < b.count; });
    std::vector<int64_t> values;
    int64_t prevSum = 0;
    for (size_t i = 0; i < seq.size(); ++i) {
      if (seq[i].count != static_cast<int64_t>(i) + 1)
        return ::testing::AssertionFailure()
               << "key " << key << ": count " << seq[i].count << " at position " << i;
      if (seq[i].sum != prevSum + seq[i].value)
        return ::testing::AssertionFailure() << "key " << key << ": sum " << seq[i].sum << " after "
                                             << prevSum << " + " << seq[i].value;
      prevSum = seq[i].sum;
      values.push_back(seq[i].value);
    }
    std::vector<int64_t>& expected = expectedValues[key];
    std::sort(values.begin(), values.end());
    std::sort(expected.begin(), expected.end());
    if (values != expected)
      return ::testing::AssertionFailure() << "key " << key << ": wrong multiset of values";
    const int64_t total = std::accumulate(expected.begin(), expected.end(), int64_t{0});
    if (prevSum != total)
      return ::testing::AssertionFailure()
             << "key " << key << ": final sum " << prevSum << " != " << total;
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------------------
// The grid: source → rebalance → map → keyBy(mod 97) → running count + sum → sink

using GridParam = std::tuple<bool, size_t, size_t, int,
                             int>;  // forceYield, capacity, batch, threads, parallelism

std::string gridName(const ::testing::TestParamInfo<GridParam>& info) {
  auto [forceYield, capacity, batch, threads, parallelism] = info.param;
  return std::string(forceYield ? "yield" : "noyield") + "_cap" + std::to_string(capacity) +
         "_batch" + std::to_string(batch) + "_threads" + std::to_string(threads) + "_p" +
         std::to_string(parallelism);
}

void configure(ExecutionConfig& c, bool forceYield, size_t capacity, size_t batch, int threads,
               int parallelism) {
  c.forceYield = forceYield;
  c.channelCapacity = capacity;
  c.batchSize = batch;
  c.workerThreads = threads;
  c.parallelism = parallelism;
}

class StressGridTest : public ::testing::TestWithParam<GridParam> {};

TEST_P(StressGridTest, KeyedCountSumLosesAndDuplicatesNothing) {
  constexpr int64_t kN = 4000;
  auto [forceYield, capacity, batch, threads, parallelism] = GetParam();
  StreamEnvironment env;
  configure(env.config(), forceYield, capacity, batch, threads, parallelism);
  auto out = std::make_shared<Collector<CountSum>>();
  env.fromCollection("source", range(0, kN))
      .rebalance()
      .map("scale", [](int64_t x) { return x * 3 + 1; })
      .keyBy([](int64_t v) { return v % kKeys; })
      .process<CountSum>("countSum", RunningCountSum{})
      .sink("collect", collectInto(out));
  Status s = runJob(env);
  ASSERT_TRUE(s.isOk()) << s.toString();
  std::vector<int64_t> input;
  for (int64_t x = 0; x < kN; ++x) input.push_back(x * 3 + 1);
  EXPECT_TRUE(checkCountSum(out->values(), input));
}

INSTANTIATE_TEST_SUITE_P(Grid, StressGridTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Values<size_t>(1, 2, 16),
                                            ::testing::Values<size_t>(1, 3, 1024),
                                            ::testing::Values(1, 2, 4), ::testing::Values(1, 3, 4)),
                         gridName);

// ---------------------------------------------------------------------------------------------
// Diamond: one stream read by two branches, then unioned

using DiamondParam =
    std::tuple<bool, bool, size_t, size_t>;  // chaining, forceYield, capacity, batch

class StressDiamondTest : public ::testing::TestWithParam<DiamondParam> {};

TEST_P(StressDiamondTest, UnionOfTwoBranchesOfOneStreamIsExact) {
  constexpr int64_t kN = 2000;
  auto [chaining, forceYield, capacity, batch] = GetParam();
  StreamEnvironment env;
  configure(env.config(), forceYield, capacity, batch, 3, 3);
  env.config().chaining = chaining;
  auto out = std::make_shared<Collector<int64_t>>();
  auto base = env.fromCollection("source", range(0, kN)).rebalance().map("base", [](int64_t x) {
    return x + 1;
  });
  auto left = base.map("left", [](int64_t x) { return x * 10; });
  auto right =
      base.filter("right-filter", [](int64_t x) { return x % 3 == 0; }).map("right", [](int64_t x) {
        return -x;
      });
  auto wide = base.rebalance().map("wide", [](int64_t x) { return 1000000 + x; }).parallelism(2);
  left.unionWith(right, wide).sink("collect", collectInto(out));
  Status s = runJob(env);
  ASSERT_TRUE(s.isOk()) << s.toString();
  std::vector<int64_t> expected;
  for (int64_t x = 1; x <= kN; ++x) {
    expected.push_back(x * 10);
    if (x % 3 == 0) expected.push_back(-x);
    expected.push_back(1000000 + x);
  }
  std::sort(expected.begin(), expected.end());
  std::vector<int64_t> actual = out->values();
  std::sort(actual.begin(), actual.end());
  EXPECT_EQ(actual, expected);
}

std::string diamondName(const ::testing::TestParamInfo<DiamondParam>& info) {
  auto [chaining, forceYield, capacity, batch] = info.param;
  return std::string(chaining ? "chained" : "unchained") + (forceYield ? "_yield" : "_noyield") +
         "_cap" + std::to_string(capacity) + "_batch" + std::to_string(batch);
}

INSTANTIATE_TEST_SUITE_P(Diamond, StressDiamondTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool(),
                                            ::testing::Values<size_t>(1, 16),
                                            ::testing::Values<size_t>(1, 1024)),
                         diamondName);

// ---------------------------------------------------------------------------------------------
// Hash partitioning with maxParallelism 7 and parallelism 5

struct Placement {
  int64_t key = 0;
  int subtask = -1;
  int32_t keyGroup = -1;
  int64_t count = 0;  // occurrences of the key so far, this one included
};

struct PlacementFn {
  ValueState<int64_t, int64_t> count;
  void open(KeyedStateRegistry<int64_t>& r) { count = r.valueState<int64_t>("count"); }
  void processElement(const int64_t& x, KeyedContext<int64_t, Placement>& ctx) {
    int64_t& n = count.getOrCreate();
    ctx.emit(Placement{x % 50, ctx.subtask(), ctx.currentKeyGroup().value, ++n});
  }
};

using SmallKeySpaceParam = std::tuple<bool, size_t, size_t>;  // forceYield, capacity, batch

class StressHashTest : public ::testing::TestWithParam<SmallKeySpaceParam> {};

TEST_P(StressHashTest, EveryKeyLandsOnTheSubtaskOwningItsKeyGroup) {
  constexpr int64_t kN = 3000;
  auto [forceYield, capacity, batch] = GetParam();
  StreamEnvironment env;
  configure(env.config(), forceYield, capacity, batch, 3, 5);
  env.config().maxParallelism = 7;
  auto out = std::make_shared<Collector<Placement>>();
  env.fromCollection("source", range(0, kN))
      .parallelism(2)
      .keyBy([](int64_t x) { return x % 50; })
      .process<Placement>("place", PlacementFn{})
      .sink("collect", collectInto(out));
  Status s = runJob(env);
  ASSERT_TRUE(s.isOk()) << s.toString();

  // Key groups 0..6 over 5 subtasks (ranges of near-equal size, worked out by hand):
  // [0,1] [2] [3,4] [5] [6].
  const int ownerOf[7] = {0, 0, 1, 2, 2, 3, 4};
  std::vector<Placement> placements = out->values();
  ASSERT_EQ(placements.size(), static_cast<size_t>(kN));
  std::map<int64_t, std::vector<int64_t>> countsByKey;
  std::map<int64_t, int> subtaskByKey;
  std::set<int32_t> groupsSeen;
  for (const Placement& p : placements) {
    KeyGroup kg = keyGroupFor(hashKey(p.key), 7);
    ASSERT_EQ(p.keyGroup, kg.value) << "key " << p.key;
    ASSERT_EQ(p.subtask, ownerOf[kg.value]) << "key " << p.key << " in key group " << kg.value;
    auto it = subtaskByKey.emplace(p.key, p.subtask).first;
    ASSERT_EQ(it->second, p.subtask) << "key " << p.key << " processed by two subtasks";
    countsByKey[p.key].push_back(p.count);
    groupsSeen.insert(p.keyGroup);
  }
  EXPECT_EQ(groupsSeen.size(), 7u) << "50 keys should hit all 7 key groups";
  ASSERT_EQ(countsByKey.size(), 50u);
  for (auto& [key, counts] : countsByKey) {
    std::sort(counts.begin(), counts.end());
    EXPECT_EQ(counts, range(1, kN / 50 + 1)) << "key " << key;
  }
}

std::string smallName(const ::testing::TestParamInfo<SmallKeySpaceParam>& info) {
  auto [forceYield, capacity, batch] = info.param;
  return std::string(forceYield ? "yield" : "noyield") + "_cap" + std::to_string(capacity) +
         "_batch" + std::to_string(batch);
}

INSTANTIATE_TEST_SUITE_P(Hash, StressHashTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Values<size_t>(1, 16),
                                            ::testing::Values<size_t>(1, 3, 1024)),
                         smallName);

// ---------------------------------------------------------------------------------------------
// Per-key order through hash partitioning

struct Ordered {
  int64_t key = 0;
  int64_t value = 0;
  bool inOrder = false;  // value was above the key's previous value when the keyed function saw it
};

struct OrderCheckFn {
  ValueState<int64_t, int64_t> last;
  void open(KeyedStateRegistry<int64_t>& r) { last = r.valueState<int64_t>("last"); }
  void processElement(const int64_t& x, KeyedContext<int64_t, Ordered>& ctx) {
    const int64_t* prev = last.get();
    bool inOrder = prev == nullptr || *prev < x;
    last.update(x);
    ctx.emit(Ordered{ctx.currentKey(), x, inOrder});
  }
};

using OrderParam = std::tuple<bool, size_t, size_t, int>;  // forceYield, capacity, batch, threads

class StressOrderTest : public ::testing::TestWithParam<OrderParam> {};

TEST_P(StressOrderTest, PerKeyOrderIsPreservedEndToEnd) {
  constexpr int64_t kN = 3000;
  auto [forceYield, capacity, batch, threads] = GetParam();
  StreamEnvironment env;
  configure(env.config(), forceYield, capacity, batch, threads, 4);
  auto out = std::make_shared<Collector<Ordered>>();
  env.fromCollection("source", range(0, kN))  // parallelism 1: one producer per key
      .map("identity", [](int64_t x) { return x; })
      .keyBy([](int64_t x) { return x % 13; })
      .process<Ordered>("orderCheck", OrderCheckFn{})
      .sink("collect", collectInto(out))
      .parallelism(1);
  Status s = runJob(env);
  ASSERT_TRUE(s.isOk()) << s.toString();

  std::map<int64_t, std::vector<int64_t>> expected;
  for (int64_t x = 0; x < kN; ++x) expected[x % 13].push_back(x);
  std::map<int64_t, std::vector<int64_t>> atSink;
  for (const Ordered& o : out->values()) {
    ASSERT_TRUE(o.inOrder) << "key " << o.key << ": value " << o.value
                           << " reached the keyed function out of order";
    atSink[o.key].push_back(o.value);
  }
  EXPECT_EQ(atSink,
            expected);  // the sink (one subtask) also sees every key's values in source order
}

std::string orderName(const ::testing::TestParamInfo<OrderParam>& info) {
  auto [forceYield, capacity, batch, threads] = info.param;
  return std::string(forceYield ? "yield" : "noyield") + "_cap" + std::to_string(capacity) +
         "_batch" + std::to_string(batch) + "_threads" + std::to_string(threads);
}

INSTANTIATE_TEST_SUITE_P(Order, StressOrderTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Values<size_t>(1, 16),
                                            ::testing::Values<size_t>(1, 3, 1024),
                                            ::testing::Values(1, 4)),
                         orderName);

// ---------------------------------------------------------------------------------------------
// A source fed by its own thread, which wakes the source task up (the connector pattern)

/// Records handed from a producer thread to a source subtask.
struct Handoff {
  std::mutex mutex;
  std::deque<int64_t> queue;
  bool done = false;
};

/// Emits what its producer thread hands over; kNothingNow while the queue is empty, kEnd once the
/// producer is done and everything was emitted. Subtask s produces s, s + P, s + 2P, ... < n.
class ThreadFedSource final : public SourceFunction<int64_t> {
 public:
  explicit ThreadFedSource(int64_t n) : n_(n) {}
  ~ThreadFedSource() override { joinProducer(); }

  Status open(const OperatorContext& ctx) override {
    const int64_t first = ctx.subtask;
    const int64_t stride = ctx.parallelism;
    std::function<void()> wakeup = ctx.wakeup;
    producer_ = std::thread([this, first, stride, wakeup] {
      int64_t sinceWakeup = 0;
      for (int64_t v = first; v < n_; v += stride) {
        {
          std::lock_guard<std::mutex> lock(handoff_.mutex);
          handoff_.queue.push_back(v);
        }
        // Wake up irregularly: sometimes per record, sometimes after a few.
        if (++sinceWakeup >= 1 + (v % 5)) {
          wakeup();
          sinceWakeup = 0;
        }
      }
      {
        std::lock_guard<std::mutex> lock(handoff_.mutex);
        handoff_.done = true;
      }
      wakeup();
    });
    return Status::ok();
  }
  SourceOperator::Poll poll(RecordBatch<int64_t>& out, size_t maxRecords) override {
    std::lock_guard<std::mutex> lock(handoff_.mutex);
    while (!handoff_.queue.empty() && out.records.size() < maxRecords) {
      out.records.push_back(handoff_.queue.front());
      handoff_.queue.pop_front();
    }
    if (!handoff_.queue.empty()) return SourceOperator::Poll::kMore;
    if (handoff_.done) return SourceOperator::Poll::kEnd;
    return SourceOperator::Poll::kNothingNow;
  }
  void close() override { joinProducer(); }

 private:
  void joinProducer() {
    if (producer_.joinable()) producer_.join();
  }
  const int64_t n_;
  Handoff handoff_;
  std::thread producer_;
};

using WakeupParam = std::tuple<bool, size_t, size_t, int>;  // forceYield, capacity, batch, threads

class StressWakeupTest : public ::testing::TestWithParam<WakeupParam> {};

constexpr int64_t kFedRecords = 4000;

TEST_P(StressWakeupTest, ThreadFedSourceDeliversEverythingThroughWakeups) {
  auto [forceYield, capacity, batch, threads] = GetParam();
  StreamEnvironment env;
  configure(env.config(), forceYield, capacity, batch, threads, 3);
  env.config().maxBatchesPerStep = 1;
  env.config().flushInterval = std::chrono::microseconds(0);
  auto out = std::make_shared<Collector<CountSum>>();
  env.addSource<int64_t>(
         "fed", [] { return std::make_unique<ThreadFedSource>(kFedRecords); }, 2)
      .keyBy([](int64_t v) { return v % kKeys; })
      .process<CountSum>("countSum", RunningCountSum{})
      .sink("collect", collectInto(out));
  Status s = runJob(env);
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_TRUE(checkCountSum(out->values(), range(0, kFedRecords)));
}

std::string wakeupName(const ::testing::TestParamInfo<WakeupParam>& info) {
  auto [forceYield, capacity, batch, threads] = info.param;
  return std::string(forceYield ? "yield" : "noyield") + "_cap" + std::to_string(capacity) +
         "_batch" + std::to_string(batch) + "_threads" + std::to_string(threads);
}

INSTANTIATE_TEST_SUITE_P(Wakeup, StressWakeupTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Values<size_t>(1, 16),
                                            ::testing::Values<size_t>(1, 64),
                                            ::testing::Values(1, 4)),
                         wakeupName);

}  // namespace
}  // namespace reka
