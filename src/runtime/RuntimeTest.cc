#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "reka/data/StringArena.h"
#include "reka/reka.h"
#include "testing/JobTesting.h"

namespace reka {
namespace {

using testing::collectInto;
using testing::Collector;
using ::testing::HasSubstr;
using testing::runJob;

std::vector<int64_t> range(int64_t from, int64_t to) {
  std::vector<int64_t> v(static_cast<size_t>(to - from));
  std::iota(v.begin(), v.end(), from);
  return v;
}

template <class T>
std::vector<T> sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// ---------------------------------------------------------------------------------------------
// Stateless chains

TEST(RuntimeTest, MapFilterSinkDeliversEveryRecordOnce) {
  StreamEnvironment env;
  env.config().parallelism = 2;
  std::vector<int64_t> in = range(0, 10000);
  auto out = std::make_shared<Collector<int64_t>>();
  env.fromCollection("numbers", in)
      .rebalance()
      .map("times3", [](int64_t x) { return x * 3; })
      .filter("even", [](int64_t x) { return x % 2 == 0; })
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());
  std::vector<int64_t> expected;
  for (int64_t x : in)
    if ((x * 3) % 2 == 0) expected.push_back(x * 3);
  EXPECT_EQ(sorted(out->values()), expected);
}

struct Point {
  int64_t x = 0;
  int64_t y = 0;
};

TEST(RuntimeTest, MapFilterFlatMapChainMatchesReference) {
  const std::vector<int64_t> in = range(0, 3000);
  // Reference: the same functions applied in a plain loop.
  std::vector<std::string> expected;
  for (int64_t v : in) {
    Point p{v, v * v % 101};
    if ((p.x + p.y) % 3 == 0) continue;
    expected.push_back(std::to_string(p.x) + ":" + std::to_string(p.y));
    if (p.y % 5 == 0) expected.push_back("five:" + std::to_string(p.x));
  }
  std::sort(expected.begin(), expected.end());

  for (bool chaining : {true, false}) {
    SCOPED_TRACE(chaining ? "chaining on" : "chaining off");
    StreamEnvironment env;
    env.config().parallelism = 3;
    env.config().chaining = chaining;
    env.config().batchSize = 7;
    env.config().workerThreads = 3;
    auto out = std::make_shared<Collector<std::string>>();
    env.fromCollection("numbers", in)
        .rebalance()
        .map("toPoint",
             [](int64_t v) {
               return Point{v, v * v % 101};
             })
        .filter("notDivisibleBy3", [](const Point& p) { return (p.x + p.y) % 3 != 0; })
        .flatMap<std::string>("explode",
                              [](const Point& p, Emitter<std::string>& e) {
                                e.emit(std::to_string(p.x) + ":" + std::to_string(p.y));
                                if (p.y % 5 == 0) e.emit("five:" + std::to_string(p.x));
                              })
        .sink("collect", collectInto(out));
    ASSERT_TRUE(runJob(env).isOk());
    EXPECT_EQ(sorted(out->values()), expected);
  }
}

// Idle workers that poll the run queue before parking (ExecutionConfig::idleSpin) run the same
// job to the same result, with more workers than tasks and tasks that yield after every batch,
// so workers keep finding the queue empty, spinning, parking and being woken.
TEST(RuntimeTest, IdleSpinningWorkersRunJobsExactly) {
  using KV = std::pair<int64_t, int64_t>;
  std::vector<int64_t> in = range(0, 20'000);
  std::map<int64_t, int64_t> expected;  // key -> sum of tripled values
  for (int64_t v : in) expected[v % 13] += v * 3;

  for (int64_t spinUs : {1, 50, 2000}) {
    SCOPED_TRACE("idleSpin " + std::to_string(spinUs) + " us");
    StreamEnvironment env;
    env.config().parallelism = 2;
    env.config().workerThreads = 4;
    env.config().batchSize = 16;
    env.config().forceYield = true;
    env.config().idleSpin = std::chrono::microseconds(spinUs);
    auto out = std::make_shared<Collector<KV>>();
    env.fromCollection("numbers", in)
        .rebalance()
        .map("triple", [](int64_t v) { return KV{v % 13, v * 3}; })
        .keyBy([](const KV& kv) { return kv.first; })
        .reduce("sum", [](const KV& a, const KV& b) { return KV{a.first, a.second + b.second}; })
        .sink("collect", collectInto(out));
    ASSERT_TRUE(runJob(env).isOk());
    // The reduce emits a running sum per record; values are not negative, so the largest
    // running sum of a key is its total.
    std::map<int64_t, int64_t> totals;
    for (const KV& kv : out->values()) totals[kv.first] = std::max(totals[kv.first], kv.second);
    EXPECT_EQ(out->values().size(), in.size());
    EXPECT_EQ(totals, expected);
  }
}

// A task that yields goes back to the queue without waking a parked worker when nothing else
// waits: the worker that ran it takes it again. One chained task yielding after every batch of
// 16 (1250 steps) on four workers that park at once wakes a worker a handful of times, not at
// every step (which it did: a futex wake, on a VM an interrupt to a halted vCPU).
TEST(RuntimeTest, ALoneYieldingTaskDoesNotWakeParkedWorkers) {
  std::vector<int64_t> in = range(0, 20'000);
  StreamEnvironment env;
  env.config().parallelism = 1;
  env.config().workerThreads = 4;
  env.config().batchSize = 16;
  env.config().forceYield = true;
  env.config().idleSpin = std::chrono::microseconds(0);
  auto out = std::make_shared<Collector<int64_t>>();
  env.fromCollection("numbers", in).map("double", [](int64_t v) { return 2 * v; }).sink("collect", collectInto(out));
  auto job = env.executeAsync();
  ASSERT_TRUE(job.isOk());
  ASSERT_TRUE(testing::awaitJob(**job).isOk());
  std::vector<int64_t> expected;
  for (int64_t v : in) expected.push_back(2 * v);
  EXPECT_EQ(out->values(), expected);
  EXPECT_LT((*job)->metrics().workerWakeups, 20);
}

TEST(RuntimeTest, FilterThatDropsEverythingEndsCleanly) {
  StreamEnvironment env;
  env.config().parallelism = 2;
  auto out = std::make_shared<Collector<int64_t>>();
  env.fromCollection("numbers", range(0, 500))
      .rebalance()
      .filter("none", [](int64_t) { return false; })
      .map("inc", [](int64_t x) { return x + 1; })
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());
  EXPECT_EQ(out->size(), 0u);
}

TEST(RuntimeTest, CollectionSourceWithMoreSubtasksThanElements) {
  StreamEnvironment env;
  env.config().parallelism = 2;
  auto out = std::make_shared<Collector<int64_t>>();
  env.fromCollection("three", std::vector<int64_t>{10, 20, 30})
      .parallelism(5)
      .rebalance()
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());
  EXPECT_EQ(sorted(out->values()), (std::vector<int64_t>{10, 20, 30}));
}

TEST(RuntimeTest, CompositeKeysPartitionAndKeepStatePerPair) {
  using Key = std::pair<int64_t, std::string>;
  struct PairCount {
    ValueState<Key, int64_t> n;
    void open(KeyedStateRegistry<Key>& r) { n = r.valueState<int64_t>("n"); }
    void processElement(const int64_t&, KeyedContext<Key, std::string>& ctx) {
      int64_t& c = n.getOrCreate();
      ++c;
      ctx.emit(std::to_string(ctx.currentKey().first) + "/" + ctx.currentKey().second + "#" +
               std::to_string(c));
    }
  };
  StreamEnvironment env;
  env.config().parallelism = 3;
  auto out = std::make_shared<Collector<std::string>>();
  env.fromCollection("numbers", range(0, 600))
      .rebalance()
      .map("id", [](int64_t x) { return x; })
      .keyBy([](int64_t x) {
        return Key{x % 3, x % 4 == 0 ? "four" : "other"};
      })
      .process<std::string>("pairCount", PairCount{})
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());
  std::map<Key, int64_t> counts;
  std::vector<std::string> expected;
  for (int64_t x = 0; x < 600; ++x) {
    Key k{x % 3, x % 4 == 0 ? "four" : "other"};
    expected.push_back(std::to_string(k.first) + "/" + k.second + "#" +
                       std::to_string(++counts[k]));
  }
  EXPECT_EQ(sorted(out->values()), sorted(expected));
}

// ---------------------------------------------------------------------------------------------
// Records that view into batch-owned buffers

/// A record whose text lives in an arena that only the batches carrying it keep alive.
struct TextView {
  int64_t id = 0;
  std::string_view text;
};

std::string textOf(int64_t id) {
  return "record-" + std::to_string(id) + "-with-a-payload";
}

/// Emits batches of irregular sizes, each with a fresh arena that the source itself drops at
/// once: after a poll, only the batch (and whatever retains it downstream) keeps it alive.
class ArenaSource final : public SourceFunction<TextView> {
 public:
  explicit ArenaSource(int64_t n) : n_(n) {}
  SourceOperator::Poll poll(RecordBatch<TextView>& out, size_t maxRecords) override {
    static constexpr size_t kSizes[] = {1, 5, 2, 7, 3, 1, 6, 8, 2};
    auto arena = std::make_shared<StringArena>(64);
    const size_t k = std::min(kSizes[turn_++ % std::size(kSizes)], maxRecords);
    for (size_t i = 0; i < k && next_ < n_; ++i, ++next_)
      out.records.push_back({next_, arena->copy(textOf(next_))});
    out.retain(std::shared_ptr<const void>(std::move(arena)));
    return next_ < n_ ? SourceOperator::Poll::kMore : SourceOperator::Poll::kEnd;
  }

 private:
  const int64_t n_;
  int64_t next_ = 0;
  size_t turn_ = 0;
};

constexpr int64_t kArenaRecords = 3000;

std::vector<std::string> expectedTexts(int copies) {
  std::vector<std::string> v;
  for (int64_t id = 0; id < kArenaRecords; ++id)
    for (int c = 0; c < copies; ++c) v.push_back(textOf(id));
  std::sort(v.begin(), v.end());
  return v;
}

/// Batches of 8: source batches of 1-3 records are buffered by the exchange, and the larger
/// ones that follow then overflow the buffered batch part-way through.
StreamEnvironment arenaEnv() {
  StreamEnvironment env;
  env.config().parallelism = 2;
  env.config().batchSize = 8;
  env.config().channelCapacity = 2;
  return env;
}

TEST(RuntimeTest, ViewsIntoBatchBuffersSurviveARebalanceExchange) {
  StreamEnvironment env = arenaEnv();
  auto out = std::make_shared<Collector<std::string>>();
  env.addSource<TextView>(
         "arena", [] { return std::make_unique<ArenaSource>(kArenaRecords); }, 1)
      .rebalance()
      .map("own", [](const TextView& v) { return std::string(v.text); })
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());
  EXPECT_EQ(sorted(out->values()), expectedTexts(1));
}

TEST(RuntimeTest, ViewsIntoBatchBuffersSurviveAHashExchange) {
  StreamEnvironment env = arenaEnv();
  auto out = std::make_shared<Collector<std::string>>();
  env.addSource<TextView>(
         "arena", [] { return std::make_unique<ArenaSource>(kArenaRecords); }, 1)
      .keyBy([](const TextView& v) { return v.id % 7; })
      .process<std::string>("own",
                            [](const TextView& v, KeyedContext<int64_t, std::string>& ctx) {
                              ctx.emit(std::string(v.text));
                            })
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());
  EXPECT_EQ(sorted(out->values()), expectedTexts(1));
}

TEST(RuntimeTest, ViewsIntoBatchBuffersSurviveABroadcastExchange) {
  struct CopyBroadcast {
    void processElement(const int64_t&, Emitter<std::string>&) {}
    void processBroadcastElement(const TextView& v, Emitter<std::string>& out) {
      out.emit(std::string(v.text));
    }
  };
  StreamEnvironment env = arenaEnv();
  auto out = std::make_shared<Collector<std::string>>();
  auto side = env.addSource<TextView>(
      "arena", [] { return std::make_unique<ArenaSource>(kArenaRecords); }, 1);
  env.fromCollection("main", range(0, 10))
      .connectBroadcast<std::string>("copy", side.broadcast(), CopyBroadcast{})
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());
  EXPECT_EQ(sorted(out->values()), expectedTexts(2));  // once per subtask of "copy"
}

// ---------------------------------------------------------------------------------------------
// Keyed state of every kind, checked against a std::map reference

struct Event {
  std::string user;
  int64_t value = 0;  // 0 resets the user's state; < 0 removes -value from the occurrence map
};

struct Observation {
  std::string user;
  bool reset = false;
  bool hadState = false;  // ValueState::get() was non-null before this record
  int64_t count = 0;      // ValueState
  size_t listSize = 0;    // ListState
  int64_t listSum = 0;
  std::vector<std::pair<int64_t, int64_t>> occurrences;  // MapState, sorted
  bool removed = false;                                  // MapState::remove's answer
  int64_t max = 0;                                       // ReducingState
  double mean = 0;                                       // AggregatingState
  bool operator==(const Observation&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Observation& o) {
  os << "{" << o.user << " reset=" << o.reset << " had=" << o.hadState << " count=" << o.count
     << " list=" << o.listSize << "/" << o.listSum << " occ=[";
  for (auto& [k, v] : o.occurrences) os << k << ":" << v << " ";
  return os << "] removed=" << o.removed << " max=" << o.max << " mean=" << o.mean << "}";
}

struct MaxFn {
  int64_t operator()(int64_t a, int64_t b) const { return std::max(a, b); }
};

struct MeanAgg {
  struct Acc {
    int64_t sum = 0;
    int64_t n = 0;
  };
  Acc createAccumulator() const { return {}; }
  void add(int64_t v, Acc& acc) const {
    acc.sum += v;
    ++acc.n;
  }
  double getResult(const Acc& acc) const {
    return acc.n == 0 ? 0.0 : static_cast<double>(acc.sum) / static_cast<double>(acc.n);
  }
};

/// Uses all five keyed state kinds, keyed by a view into the record (stored owned).
struct AllStatesFn {
  using K = std::string_view;
  ValueState<K, int64_t> count;
  ListState<K, int64_t> values;
  MapState<K, int64_t, int64_t> occurrences;
  ReducingState<K, int64_t, MaxFn> max;
  AggregatingState<K, int64_t, MeanAgg> mean;

  void open(KeyedStateRegistry<K>& r) {
    count = r.valueState<int64_t>("count");
    values = r.listState<int64_t>("values");
    occurrences = r.mapState<int64_t, int64_t>("occurrences");
    max = r.reducingState<int64_t>("max", MaxFn{});
    mean = r.aggregatingState<int64_t>("mean", MeanAgg{});
  }

  void processElement(const Event& e, KeyedContext<K, Observation>& ctx) {
    Observation o;
    o.user = std::string(ctx.currentKey());
    if (e.value == 0) {
      count.clear();
      values.clear();
      occurrences.clear();
      max.clear();
      mean.clear();
      o.reset = true;
      o.hadState = count.contains() || values.contains() || occurrences.contains() ||
                   max.contains() || mean.contains();
      ctx.emit(std::move(o));
      return;
    }
    o.hadState = count.get() != nullptr;
    count.update((o.hadState ? *count.get() : 0) + 1);
    o.count = *count.get();
    values.add(e.value);
    o.listSize = values.get().size();
    o.listSum = std::accumulate(values.get().begin(), values.get().end(), int64_t{0});
    if (e.value > 0) {
      const int64_t* prev = occurrences.get(e.value);
      occurrences.put(e.value, prev == nullptr ? 1 : *prev + 1);
    } else {
      o.removed = occurrences.remove(-e.value);
    }
    for (const auto& [k, v] : occurrences.entries()) o.occurrences.emplace_back(k, v);
    std::sort(o.occurrences.begin(), o.occurrences.end());
    o.max = max.add(e.value);
    mean.add(e.value);
    o.mean = mean.get();
    ctx.emit(std::move(o));
  }
};

/// The same semantics as AllStatesFn over plain std containers.
std::map<std::string, std::vector<Observation>> referenceObservations(
    const std::vector<Event>& events) {
  struct Ref {
    int64_t count = 0;
    std::vector<int64_t> values;
    std::map<int64_t, int64_t> occurrences;
    std::optional<int64_t> max;
    int64_t sum = 0;
  };
  std::map<std::string, Ref> state;
  std::map<std::string, std::vector<Observation>> out;
  for (const Event& e : events) {
    Observation o;
    o.user = e.user;
    if (e.value == 0) {
      state.erase(e.user);
      o.reset = true;
      out[e.user].push_back(o);
      continue;
    }
    o.hadState = state.contains(e.user);
    Ref& r = state[e.user];
    o.count = ++r.count;
    r.values.push_back(e.value);
    o.listSize = r.values.size();
    for (int64_t v : r.values) o.listSum += v;
    if (e.value > 0) {
      ++r.occurrences[e.value];
    } else {
      o.removed = r.occurrences.erase(-e.value) > 0;
    }
    o.occurrences.assign(r.occurrences.begin(), r.occurrences.end());
    r.max = r.max ? std::max(*r.max, e.value) : e.value;
    o.max = *r.max;
    r.sum += e.value;
    o.mean = static_cast<double>(r.sum) / static_cast<double>(r.count);
    out[e.user].push_back(o);
  }
  return out;
}

TEST(RuntimeTest, KeyedProcessWithEveryStateKindMatchesReference) {
  std::vector<Event> events;
  for (int64_t i = 0; i < 3000; ++i) {
    events.push_back({"user" + std::to_string((i * 7919) % 23), (i * 31) % 17 - 4});
  }
  const auto expected = referenceObservations(events);

  StreamEnvironment env;
  env.config().parallelism = 3;
  env.config().batchSize = 16;
  auto out = std::make_shared<Collector<Observation>>();
  // Source parallelism 1 and a hash exchange: each user's records arrive in source order, so the
  // per-user sequence of observations is deterministic.
  env.fromCollection("events", events)
      .keyBy([](const Event& e) { return std::string_view(e.user); })
      .process<Observation>("allStates", AllStatesFn{})
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());

  std::map<std::string, std::vector<Observation>> actual;
  for (const Observation& o : out->values()) actual[o.user].push_back(o);
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [user, obs] : expected) {
    SCOPED_TRACE(user);
    EXPECT_EQ(actual[user], obs);
  }
}

TEST(RuntimeTest, KeyedStateIsPerKeyAndPerOperator) {
  // Two keyed operators in one job, each with a ValueState called "n": they must not share it.
  struct CountFn {
    ValueState<int64_t, int64_t> n;
    void open(KeyedStateRegistry<int64_t>& r) { n = r.valueState<int64_t>("n"); }
    void processElement(const int64_t& x, KeyedContext<int64_t, int64_t>& ctx) {
      n.update((n.get() ? *n.get() : 0) + 1);
      ctx.emit(x * 1000 + *n.get());
    }
  };
  StreamEnvironment env;
  env.config().parallelism = 2;
  auto out = std::make_shared<Collector<int64_t>>();
  std::vector<int64_t> in;
  for (int64_t i = 0; i < 40; ++i) in.push_back(i % 4);  // keys 0..3, 10 times each
  env.fromCollection("keys", in)
      .keyBy([](int64_t x) { return x; })
      .process<int64_t>("first", CountFn{})
      .map("decode", [](int64_t v) { return v / 1000; })  // back to the key
      .keyBy([](int64_t x) { return x; })
      .process<int64_t>("second", CountFn{})
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());
  std::vector<int64_t> expected;
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t n = 1; n <= 10; ++n) expected.push_back(k * 1000 + n);
  EXPECT_EQ(sorted(out->values()), expected);
}

// ---------------------------------------------------------------------------------------------
// Rolling reduce and aggregate

struct KV {
  int64_t key = 0;
  int64_t value = 0;
  bool operator==(const KV&) const = default;
};

std::ostream& operator<<(std::ostream& os, const KV& kv) {
  return os << kv.key << "=" << kv.value;
}

TEST(RuntimeTest, RollingReduceEmitsRunningValuePerKey) {
  std::vector<KV> in;
  for (int64_t i = 0; i < 700; ++i) in.push_back({i % 7, i});
  std::map<int64_t, std::vector<int64_t>> expected;
  std::map<int64_t, int64_t> running;
  for (const KV& kv : in) expected[kv.key].push_back(running[kv.key] += kv.value);

  StreamEnvironment env;
  env.config().parallelism = 3;
  env.config().batchSize = 10;
  auto out = std::make_shared<Collector<KV>>();
  env.fromCollection("kv", in)
      .keyBy([](const KV& kv) { return kv.key; })
      .reduce("sum",
              [](const KV& a, const KV& b) {
                return KV{a.key, a.value + b.value};
              })
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());
  std::map<int64_t, std::vector<int64_t>> actual;
  for (const KV& kv : out->values()) actual[kv.key].push_back(kv.value);
  EXPECT_EQ(actual, expected);
}

struct Stats {
  int64_t key = -1;
  int64_t count = 0;
  int64_t sum = 0;
  int64_t min = 0;
  bool operator==(const Stats&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Stats& s) {
  return os << "{" << s.key << " n=" << s.count << " sum=" << s.sum << " min=" << s.min << "}";
}

struct StatsAgg {
  Stats createAccumulator() const { return {}; }
  void add(const KV& kv, Stats& acc) const {
    acc.min = acc.count == 0 ? kv.value : std::min(acc.min, kv.value);
    acc.key = kv.key;
    ++acc.count;
    acc.sum += kv.value;
  }
  Stats getResult(const Stats& acc) const { return acc; }
};

TEST(RuntimeTest, RollingAggregateEmitsCurrentResultPerKey) {
  std::vector<KV> in;
  for (int64_t i = 0; i < 600; ++i) in.push_back({(i * 13) % 5, 1000 - (i * 37) % 211});
  std::map<int64_t, std::vector<Stats>> expected;
  std::map<int64_t, Stats> acc;
  for (const KV& kv : in) {
    Stats& s = acc[kv.key];
    s.min = s.count == 0 ? kv.value : std::min(s.min, kv.value);
    s.key = kv.key;
    ++s.count;
    s.sum += kv.value;
    expected[kv.key].push_back(s);
  }

  StreamEnvironment env;
  env.config().parallelism = 2;
  env.config().batchSize = 9;
  auto out = std::make_shared<Collector<Stats>>();
  env.fromCollection("kv", in)
      .keyBy([](const KV& kv) { return kv.key; })
      .aggregate("stats", StatsAgg{})
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());
  std::map<int64_t, std::vector<Stats>> actual;
  for (const Stats& s : out->values()) actual[s.key].push_back(s);
  EXPECT_EQ(actual, expected);
}

// ---------------------------------------------------------------------------------------------
// Union, connect, broadcast

TEST(RuntimeTest, UnionOfThreeStreamsDeliversEachRecordOnce) {
  StreamEnvironment env;
  env.config().parallelism = 2;
  env.config().batchSize = 13;
  auto out = std::make_shared<Collector<int64_t>>();
  auto a = env.fromCollection("a", range(0, 1000));
  auto b = env.fromCollection("b", range(1000, 2000))
               .rebalance()
               .map("b+0", [](int64_t x) { return x; })
               .parallelism(3);
  auto c =
      env.fromCollection("c", range(2000, 3000)).parallelism(3).filter("c-even", [](int64_t x) {
        return x % 2 == 0;
      });
  a.unionWith(b, c).sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());
  std::vector<int64_t> expected = range(0, 2000);
  for (int64_t x = 2000; x < 3000; x += 2) expected.push_back(x);
  EXPECT_EQ(sorted(out->values()), expected);
}

struct Order {
  int64_t customer = 0;
  int64_t amount = 0;
};
struct Payment {
  int64_t customer = 0;
  int64_t paid = 0;
};
struct Balance {
  int64_t customer = 0;
  int64_t events = 0;   // records seen for the customer, from both inputs
  int64_t balance = 0;  // orders minus payments
};

/// Keyed co-process: both inputs update one ValueState per customer.
struct BalanceFn {
  struct Acc {
    int64_t events = 0;
    int64_t balance = 0;
  };
  ValueState<int64_t, Acc> acc;
  void open(KeyedStateRegistry<int64_t>& r) { acc = r.valueState<Acc>("balance"); }
  void processElement1(const Order& o, KeyedContext<int64_t, Balance>& ctx) {
    apply(o.amount, ctx);
  }
  void processElement2(const Payment& p, KeyedContext<int64_t, Balance>& ctx) {
    apply(-p.paid, ctx);
  }
  void apply(int64_t delta, KeyedContext<int64_t, Balance>& ctx) {
    Acc& a = acc.getOrCreate();
    ++a.events;
    a.balance += delta;
    ctx.emit(Balance{ctx.currentKey(), a.events, a.balance});
  }
};

TEST(RuntimeTest, ConnectedKeyedStreamsShareKeyedState) {
  std::vector<Order> orders;
  std::vector<Payment> payments;
  std::map<int64_t, std::multiset<int64_t>> deltas;  // per customer: +amount, -paid
  for (int64_t i = 0; i < 900; ++i) {
    orders.push_back({i % 11, 10 + i % 17});
    deltas[i % 11].insert(10 + i % 17);
  }
  for (int64_t i = 0; i < 600; ++i) {
    payments.push_back({(i * 5) % 11, 1 + i % 7});
    deltas[(i * 5) % 11].insert(-(1 + i % 7));
  }

  StreamEnvironment env;
  env.config().parallelism = 3;
  env.config().batchSize = 8;
  auto out = std::make_shared<Collector<Balance>>();
  auto o = env.fromCollection("orders", orders).keyBy([](const Order& x) { return x.customer; });
  auto p = env.fromCollection("payments", payments).parallelism(2).keyBy([](const Payment& x) {
    return x.customer;
  });
  o.connect(p).process<Balance>("balance", BalanceFn{}).sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());

  // Per customer, sorted by event count: counts are 1..n, and consecutive balances differ by the
  // record applied at that step; the differences are exactly that customer's orders and payments.
  std::map<int64_t, std::vector<Balance>> byCustomer;
  for (const Balance& b : out->values()) byCustomer[b.customer].push_back(b);
  ASSERT_EQ(byCustomer.size(), deltas.size());
  for (auto& [customer, seq] : byCustomer) {
    SCOPED_TRACE("customer " + std::to_string(customer));
    std::sort(seq.begin(), seq.end(),
              [](const Balance& a, const Balance& b) { return a.events < b.events; });
    ASSERT_EQ(seq.size(), deltas[customer].size());
    std::multiset<int64_t> seen;
    int64_t prev = 0;
    for (size_t i = 0; i < seq.size(); ++i) {
      ASSERT_EQ(seq[i].events, static_cast<int64_t>(i) + 1);
      seen.insert(seq[i].balance - prev);
      prev = seq[i].balance;
    }
    EXPECT_EQ(seen, deltas[customer]);
    EXPECT_EQ(seq.back().balance,
              std::accumulate(deltas[customer].begin(), deltas[customer].end(), int64_t{0}));
  }
}

struct Tagged {
  int instance = -1;
  bool side = false;
  int64_t value = 0;
  int64_t tableSize = 0;
  int64_t tableSum = 0;
};

/// Broadcast function: keeps the broadcast values as its table; tags every output with the
/// (lazily numbered) instance that produced it.
struct TableFn {
  explicit TableFn(std::shared_ptr<std::atomic<int>> ids) : nextInstance(std::move(ids)) {}
  std::shared_ptr<std::atomic<int>> nextInstance;
  int instance = -1;
  std::set<int64_t> table;
  int64_t tableSum = 0;

  void identify() {
    if (instance < 0) instance = nextInstance->fetch_add(1);
  }
  void processElement(const int64_t& x, Emitter<Tagged>& out) {
    identify();
    out.emit(Tagged{instance, false, x, static_cast<int64_t>(table.size()), tableSum});
  }
  void processBroadcastElement(const int64_t& r, Emitter<Tagged>& out) {
    identify();
    if (table.insert(r).second) tableSum += r;
    out.emit(Tagged{instance, true, r, static_cast<int64_t>(table.size()), tableSum});
  }
};

void runBroadcast(BroadcastMode mode) {
  constexpr int kParallelism = 3;
  constexpr int64_t kRules = 300;
  StreamEnvironment env;
  env.config().parallelism = kParallelism;
  env.config().batchSize = 4;
  env.config().channelCapacity = 2;
  auto out = std::make_shared<Collector<Tagged>>();
  auto main = env.fromCollection("main", range(0, 2000));
  // The broadcast side takes a longer path (two exchanges, tiny batches), so that without the
  // side-input-first mode main records would overtake it.
  auto rules = env.fromCollection("rules", range(1, kRules + 1))
                   .parallelism(2)
                   .rebalance()
                   .map("rules1", [](int64_t x) { return x; })
                   .rebalance()
                   .map("rules2", [](int64_t x) { return x; });
  main.connectBroadcast<Tagged>("table", rules.broadcast(),
                                TableFn{std::make_shared<std::atomic<int>>(0)}, mode)
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env).isOk());

  std::vector<Tagged> all = out->values();
  std::map<int, std::vector<Tagged>> byInstance;
  std::vector<int64_t> mainValues;
  for (const Tagged& t : all) {
    byInstance[t.instance].push_back(t);
    if (!t.side) mainValues.push_back(t.value);
  }
  EXPECT_EQ(sorted(mainValues), range(0, 2000));
  ASSERT_EQ(byInstance.size(), static_cast<size_t>(kParallelism));
  for (const auto& [instance, seq] : byInstance) {
    SCOPED_TRACE("instance " + std::to_string(instance));
    // Each instance sees every broadcast value exactly once, and each main record sees exactly
    // the broadcast values that instance processed before it (outputs keep processing order: the
    // sink is chained behind the operator).
    std::vector<int64_t> sideValues;
    int64_t seen = 0;
    int64_t seenSum = 0;
    for (const Tagged& t : seq) {
      if (t.side) {
        sideValues.push_back(t.value);
        ++seen;
        seenSum += t.value;
        continue;
      }
      ASSERT_EQ(t.tableSize, seen);
      ASSERT_EQ(t.tableSum, seenSum);
      if (mode == BroadcastMode::kSideInputFirst) {
        ASSERT_EQ(t.tableSize, kRules)
            << "main record " << t.value << " saw an incomplete side table";
        ASSERT_EQ(t.tableSum, kRules * (kRules + 1) / 2);
      }
    }
    EXPECT_EQ(sorted(sideValues), range(1, kRules + 1));
  }
}

TEST(RuntimeTest, BroadcastAsArrivesReachesEverySubtask) {
  runBroadcast(BroadcastMode::kAsArrives);
}

TEST(RuntimeTest, BroadcastSideInputFirstGivesEveryMainRecordTheCompleteTable) {
  runBroadcast(BroadcastMode::kSideInputFirst);
}

TEST(RuntimeTest, SideInputFirstFedByTheSameUpstreamAsTheMainInputFinishes) {
  // Main and broadcast inputs both come from one upstream task. The broadcast input ends only
  // when that task ends, and it must not be stopped by backpressure from the main input, which
  // the operator does not read until then.
  constexpr int64_t kN = 2000;
  StreamEnvironment env;
  env.config().parallelism = 2;
  env.config().batchSize = 4;
  env.config().channelCapacity = 2;
  auto out = std::make_shared<Collector<Tagged>>();
  auto s = env.fromCollection("source", range(0, kN)).map("same", [](int64_t x) { return x; });
  s.connectBroadcast<Tagged>("table", s.broadcast(), TableFn{std::make_shared<std::atomic<int>>(0)},
                             BroadcastMode::kSideInputFirst)
      .sink("collect", collectInto(out));
  auto client = env.executeAsync();
  if (!client.isOk()) {
    // Refusing the graph up front, naming the operator, is an acceptable answer; hanging is not.
    EXPECT_THAT(client.status().message(), HasSubstr("table")) << client.status().toString();
    return;
  }
  Status st = testing::awaitJob(**client, std::chrono::seconds(10));
  ASSERT_TRUE(st.isOk()) << st.toString();
  int64_t mainRecords = 0;
  for (const Tagged& t : out->values()) {
    if (t.side) continue;
    ++mainRecords;
    EXPECT_EQ(t.tableSize, kN);
  }
  EXPECT_EQ(mainRecords, kN);
}

// ---------------------------------------------------------------------------------------------
// Side outputs

TEST(RuntimeTest, SideOutputsCollectEverythingAndLoseNothing) {
  const OutputTag<std::string> oddTag("odd");
  const OutputTag<int64_t> bigTag("big");
  const OutputTag<int64_t> unreadTag("nobody reads this");
  StreamEnvironment env;
  env.config().parallelism = 3;
  env.config().batchSize = 5;
  auto evens = std::make_shared<Collector<int64_t>>();
  auto odds = std::make_shared<Collector<std::string>>();
  auto bigs = std::make_shared<Collector<int64_t>>();
  auto split = env.fromCollection("numbers", range(0, 1000))
                   .rebalance()
                   .process<int64_t>(
                       "split", [oddTag, bigTag, unreadTag](const int64_t& x, Emitter<int64_t>& e) {
                         if (x % 2 == 0) {
                           e.emit(x);
                         } else {
                           e.output(oddTag, "odd" + std::to_string(x));
                         }
                         if (x >= 900) e.output(bigTag, x);
                         e.output(unreadTag, x);
                       });
  split.sink("evens", collectInto(evens));
  split.sideOutput(oddTag).sink("odds", collectInto(odds));
  split.sideOutput(bigTag)
      .rebalance()
      .map("negate", [](int64_t x) { return -x; })
      .parallelism(2)
      .sink("bigs", collectInto(bigs));
  ASSERT_TRUE(runJob(env).isOk());

  std::vector<int64_t> expectedEvens, expectedBigs;
  std::vector<std::string> expectedOdds;
  for (int64_t x = 0; x < 1000; ++x) {
    if (x % 2 == 0) {
      expectedEvens.push_back(x);
    } else {
      expectedOdds.push_back("odd" + std::to_string(x));
    }
    if (x >= 900) expectedBigs.push_back(-x);
  }
  EXPECT_EQ(sorted(evens->values()), sorted(expectedEvens));
  EXPECT_EQ(sorted(odds->values()), sorted(expectedOdds));
  EXPECT_EQ(sorted(bigs->values()), sorted(expectedBigs));
}

TEST(RuntimeTest, OutputTagsOfDifferentTypesHaveDistinctIds) {
  // Emitter::output and DataStream::sideOutput find a side output by tag id alone, so ids must
  // be unique across all tags, whatever their element type.
  struct First {};
  struct Second {};
  const OutputTag<First> a("a");
  const OutputTag<Second> b("b");
  const OutputTag<First> c("c");
  EXPECT_NE(a.id(), b.id());
  EXPECT_NE(b.id(), c.id());
  EXPECT_NE(a.id(), c.id());
}

TEST(RuntimeTest, KeyedFunctionSideOutput) {
  // Per key, the first occurrence goes to the main output, repeats to the side output.
  const OutputTag<KV> repeats("repeats");
  struct FirstSeen {
    OutputTag<KV> repeats;
    ValueState<int64_t, int64_t> seen;
    void open(KeyedStateRegistry<int64_t>& r) { seen = r.valueState<int64_t>("seen"); }
    void processElement(const KV& kv, KeyedContext<int64_t, KV>& ctx) {
      int64_t& n = seen.getOrCreate();
      if (n++ == 0) {
        ctx.emit(kv);
      } else {
        ctx.output(repeats, KV{kv.key, n});
      }
    }
  };
  std::vector<KV> in;
  for (int64_t i = 0; i < 500; ++i) in.push_back({i % 20, i});
  StreamEnvironment env;
  env.config().parallelism = 2;
  auto firsts = std::make_shared<Collector<KV>>();
  auto reps = std::make_shared<Collector<KV>>();
  auto s = env.fromCollection("kv", in)
               .keyBy([](const KV& kv) { return kv.key; })
               .process<KV>("firstSeen", FirstSeen{repeats, {}});
  s.sink("firsts", collectInto(firsts));
  s.sideOutput(repeats).sink("repeats", collectInto(reps));
  ASSERT_TRUE(runJob(env).isOk());
  std::vector<KV> expectedFirsts, expectedReps;
  for (int64_t k = 0; k < 20; ++k) {
    expectedFirsts.push_back({k, k});
    for (int64_t n = 2; n <= 25; ++n) expectedReps.push_back({k, n});
  }
  auto byKeyValue = [](const KV& a, const KV& b) {
    return std::tie(a.key, a.value) < std::tie(b.key, b.value);
  };
  auto f = firsts->values();
  auto r = reps->values();
  std::sort(f.begin(), f.end(), byKeyValue);
  std::sort(r.begin(), r.end(), byKeyValue);
  EXPECT_EQ(f, expectedFirsts);
  EXPECT_EQ(r, expectedReps);
}

// ---------------------------------------------------------------------------------------------
// Parallelism, names, metrics

struct SinkInfo {
  std::string name;
  int subtask = -1;
  int parallelism = -1;
};

/// A sink class: records what open() was told and how often finish() ran.
template <class T>
struct InspectingSink {
  std::shared_ptr<Collector<SinkInfo>> opened;
  std::shared_ptr<std::atomic<int>> finished;
  std::shared_ptr<Collector<T>> values;
  Status open(const OperatorContext& ctx) {
    opened->add({ctx.name, ctx.subtask, ctx.parallelism});
    return Status::ok();
  }
  void invoke(const T& v) { values->add(v); }
  void finish() { finished->fetch_add(1); }
};

TEST(RuntimeTest, PerOperatorParallelismAndNames) {
  constexpr int64_t kN = 1000;
  StreamEnvironment env;
  env.config().parallelism = 4;  // every operator below overrides it
  env.config().batchSize = 10;
  auto opened = std::make_shared<Collector<SinkInfo>>();
  auto finished = std::make_shared<std::atomic<int>>(0);
  auto values = std::make_shared<Collector<KV>>();  // key, keyed subtask
  env.fromCollection("src", range(0, kN))
      .map("map", [](int64_t x) { return x * 2; })
      .parallelism(3)
      .keyBy([](int64_t x) { return x % 10; })
      .process<KV>("keyed",
                   [](const int64_t& x, KeyedContext<int64_t, KV>& ctx) {
                     ctx.emit(KV{x % 10, ctx.subtask()});
                   })
      .parallelism(2)
      .sink("sink", InspectingSink<KV>{opened, finished, values})
      .parallelism(1);
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  ASSERT_TRUE(testing::awaitJob(**client).isOk());

  std::map<std::string, std::vector<OperatorStats>> byName;
  for (const auto& op : (*client)->metrics().operators) byName[op.name].push_back(op);
  ASSERT_EQ(byName.size(), 4u);
  EXPECT_EQ(byName["src"].size(), 1u);
  EXPECT_EQ(byName["map"].size(), 3u);
  EXPECT_EQ(byName["keyed"].size(), 2u);
  EXPECT_EQ(byName["sink"].size(), 1u);
  EXPECT_EQ((*client)->metrics().sourceRecords, kN);
  // The source emits 100 batches of 10, dealt round-robin to the 3 map subtasks: 34, 33, 33.
  std::map<int, int64_t> mapIn;
  for (const auto& st : byName["map"]) mapIn[st.subtask] = st.recordsIn;
  EXPECT_EQ(mapIn, (std::map<int, int64_t>{{0, 340}, {1, 330}, {2, 330}}));

  // Every record reached the keyed subtask that owns its key's key group (reference: ownership
  // by key group range), and the keyed metrics count exactly those records.
  std::map<int, int64_t> expectedKeyedIn;
  for (int64_t x = 0; x < kN; ++x) {
    int64_t key = (x * 2) % 10;
    KeyGroup kg = keyGroupFor(hashKey(key), 128);
    int owner = keyGroupRangeFor(128, 2, 0).contains(kg) ? 0 : 1;
    ++expectedKeyedIn[owner];
  }
  std::map<int, int64_t> keyedIn;
  for (const auto& st : byName["keyed"]) keyedIn[st.subtask] = st.recordsIn;
  EXPECT_EQ(keyedIn, expectedKeyedIn);
  std::map<int, int64_t> seenBySubtask;
  for (const KV& kv : values->values()) {
    KeyGroup kg = keyGroupFor(hashKey(kv.key), 128);
    EXPECT_TRUE(keyGroupRangeFor(128, 2, static_cast<int>(kv.value)).contains(kg))
        << "key " << kv.key;
    ++seenBySubtask[static_cast<int>(kv.value)];
  }
  EXPECT_EQ(seenBySubtask, expectedKeyedIn);

  auto infos = opened->values();
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_EQ(infos[0].name, "sink");
  EXPECT_EQ(infos[0].subtask, 0);
  EXPECT_EQ(infos[0].parallelism, 1);
  EXPECT_EQ(finished->load(), 1);
}

// ---------------------------------------------------------------------------------------------
// Failures

/// An unbounded source: 0, 1, 2, ... until cancelled.
class CountingSource final : public SourceFunction<int64_t> {
 public:
  SourceOperator::Poll poll(RecordBatch<int64_t>& out, size_t maxRecords) override {
    for (size_t i = 0; i < maxRecords; ++i) out.records.push_back(next_++);
    return SourceOperator::Poll::kMore;
  }

 private:
  int64_t next_ = 0;
};

TEST(RuntimeTest, ExceptionInMapFailsJobNamingTheOperator) {
  for (bool rebalance : {false, true}) {
    SCOPED_TRACE(rebalance ? "map behind an exchange" : "map chained to the source");
    StreamEnvironment env;
    env.config().parallelism = 2;
    auto src = env.fromCollection("numbers", range(0, 5000));
    auto in = rebalance ? src.rebalance() : src;
    in.map("explodingMap", [](int64_t x) {
        if (x == 777) throw std::runtime_error("bad record 777");
        return x;
      }).sink("discard", [](int64_t) {});
    Status s = runJob(env);
    EXPECT_EQ(s.code(), StatusCode::kUserCodeError) << s.toString();
    EXPECT_THAT(s.message(), HasSubstr("explodingMap"));
    EXPECT_THAT(s.message(), HasSubstr("bad record 777"));
  }
}

TEST(RuntimeTest, ExceptionInKeyedFunctionFailsJobNamingTheOperator) {
  StreamEnvironment env;
  env.config().parallelism = 3;
  env.fromCollection("numbers", range(0, 5000))
      .keyBy([](int64_t x) { return x % 10; })
      .process<int64_t>("explodingKeyed",
                        [](const int64_t& x, KeyedContext<int64_t, int64_t>& ctx) {
                          if (ctx.currentKey() == 5 && x > 2000)
                            throw std::out_of_range("key 5 overflowed");
                          ctx.emit(x);
                        })
      .sink("discard", [](int64_t) {});
  Status s = runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kUserCodeError) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("explodingKeyed"));
  EXPECT_THAT(s.message(), HasSubstr("key 5 overflowed"));
}

TEST(RuntimeTest, ExceptionInSinkAndNonStdExceptionNameTheOperator) {
  StreamEnvironment env;
  env.config().parallelism = 2;
  env.fromCollection("numbers", range(0, 100))
      .rebalance()
      .map("fine", [](int64_t x) { return x; })
      .sink("throwsInt", [](int64_t x) {
        if (x == 50) throw 42;
      });
  Status s = runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kUserCodeError) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("throwsInt"));
}

TEST(RuntimeTest, ExceptionBehindAnUnboundedSourceStillEndsTheJob) {
  StreamEnvironment env;
  env.config().parallelism = 2;
  env.addSource<int64_t>(
         "forever", [] { return std::make_unique<CountingSource>(); }, 2)
      .rebalance()
      .map("failsLater",
           [](int64_t x) {
             if (x == 20000) throw std::runtime_error("reached 20000");
             return x;
           })
      .sink("discard", [](int64_t) {});
  Status s = runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kUserCodeError) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("failsLater"));
}

TEST(RuntimeTest, ExceptionInEndOfInputNamesTheOperator) {
  struct FailsAtEnd {
    void processElement(const int64_t& x, KeyedContext<int64_t, int64_t>& ctx) { ctx.emit(x); }
    void onEndOfInput(Emitter<int64_t>&) { throw std::runtime_error("cannot finish"); }
  };
  StreamEnvironment env;
  env.config().parallelism = 2;
  env.fromCollection("numbers", range(0, 100))
      .keyBy([](int64_t x) { return x; })
      .process<int64_t>("failsAtEnd", FailsAtEnd{})
      .sink("discard", [](int64_t) {});
  Status s = runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kUserCodeError) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("failsAtEnd"));
  EXPECT_THAT(s.message(), HasSubstr("cannot finish"));
}

TEST(RuntimeTest, FailingOpenNamesTheOperator) {
  struct RefusingSink {
    Status open(const OperatorContext&) { return Status::ioError("disk full"); }
    void invoke(const int64_t&) {}
  };
  StreamEnvironment env;
  env.config().parallelism = 1;
  env.fromCollection("numbers", range(0, 10)).sink("refusingSink", RefusingSink{});
  Status s = runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("refusingSink"));
  EXPECT_THAT(s.message(), HasSubstr("disk full"));
}

/// A source whose open() or close() throws what it is given.
template <class E>
class ThrowingSource final : public SourceFunction<int64_t> {
 public:
  ThrowingSource(bool inOpen, E error) : inOpen_(inOpen), error_(error) {}
  Status open(const OperatorContext&) override {
    if (inOpen_) throw error_;
    return Status::ok();
  }
  SourceOperator::Poll poll(RecordBatch<int64_t>& out, size_t) override {
    out.records.push_back(1);
    return SourceOperator::Poll::kEnd;
  }
  void close() override {
    if (!inOpen_) throw error_;
  }

 private:
  bool inOpen_;
  E error_;
};

TEST(RuntimeTest, ExceptionInOpenFailsTheJobNamingTheOperator) {
  StreamEnvironment env;
  env.config().parallelism = 1;
  env.addSource<int64_t>(
         "brokenSource",
         [] {
           return std::make_unique<ThrowingSource<std::runtime_error>>(
               true, std::runtime_error("no broker"));
         },
         1)
      .sink("discard", [](int64_t) {});
  Status s = runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kUserCodeError) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("brokenSource"));
  EXPECT_THAT(s.message(), HasSubstr("no broker"));
}

TEST(RuntimeTest, NonStdExceptionsFromOpenAndCloseDoNotEscapeTheEngine) {
  // User code may throw anything; the engine turns it into a Status and never rethrows it.
  {
    StreamEnvironment env;
    env.config().parallelism = 1;
    env.addSource<int64_t>(
           "throwsInOpen", [] { return std::make_unique<ThrowingSource<int>>(true, 7); }, 1)
        .sink("discard", [](int64_t) {});
    Status s;
    EXPECT_NO_THROW(s = runJob(env));
    EXPECT_FALSE(s.isOk());
    EXPECT_THAT(s.message(), HasSubstr("throwsInOpen"));
  }
  {
    StreamEnvironment env;
    env.config().parallelism = 1;
    env.addSource<int64_t>(
           "throwsInClose", [] { return std::make_unique<ThrowingSource<int>>(false, 7); }, 1)
        .sink("discard", [](int64_t) {});
    EXPECT_NO_THROW((void)runJob(env));
  }
}

TEST(RuntimeTest, NonStdExceptionInAChainedFinishNamesThatOperator) {
  struct FinishThrows {
    void invoke(const int64_t&) {}
    void finish() { throw 42; }
  };
  StreamEnvironment env;
  env.config().parallelism = 1;
  env.fromCollection("numbers", range(0, 10))
      .map("head", [](int64_t x) { return x; })
      .sink("finishThrows", FinishThrows{});
  Status s = runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kUserCodeError) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("finishThrows"));
}

TEST(RuntimeTest, StateRegisteredTwiceWithDifferentTypesFailsOpen) {
  struct Conflicting {
    ValueState<int64_t, int64_t> a;
    ListState<int64_t, int64_t> b;
    void open(KeyedStateRegistry<int64_t>& r) {
      a = r.valueState<int64_t>("s");
      b = r.listState<int64_t>("s");
    }
    void processElement(const int64_t&, KeyedContext<int64_t, int64_t>&) {}
  };
  StreamEnvironment env;
  env.config().parallelism = 1;
  env.fromCollection("numbers", range(0, 10))
      .keyBy([](int64_t x) { return x; })
      .process<int64_t>("conflictingState", Conflicting{})
      .sink("discard", [](int64_t) {});
  Status s = runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("conflictingState"));
}

// ---------------------------------------------------------------------------------------------
// Lifecycle: empty input, cancel

TEST(RuntimeTest, EmptySourceFinishesEveryOperatorOnce) {
  struct EndCounter {
    std::shared_ptr<std::atomic<int>> ends;
    void processElement(const int64_t& x, KeyedContext<int64_t, int64_t>& ctx) { ctx.emit(x); }
    void onEndOfInput(Emitter<int64_t>&) { ends->fetch_add(1); }
  };
  StreamEnvironment env;
  env.config().parallelism = 3;
  auto opened = std::make_shared<Collector<SinkInfo>>();
  auto finished = std::make_shared<std::atomic<int>>(0);
  auto ends = std::make_shared<std::atomic<int>>(0);
  auto values = std::make_shared<Collector<int64_t>>();
  env.fromCollection("empty", std::vector<int64_t>{})
      .rebalance()
      .map("inc", [](int64_t x) { return x + 1; })
      .keyBy([](int64_t x) { return x; })
      .process<int64_t>("ends", EndCounter{ends})
      .keyBy([](int64_t x) { return x; })
      .reduce("sum", [](int64_t a, int64_t b) { return a + b; })
      .sink("sink", InspectingSink<int64_t>{opened, finished, values});
  ASSERT_TRUE(runJob(env).isOk());
  EXPECT_EQ(values->size(), 0u);
  EXPECT_EQ(ends->load(), 3);
  EXPECT_EQ(finished->load(), 3);
  EXPECT_EQ(opened->size(), 3u);
}

TEST(RuntimeTest, CancelStopsAnUnboundedJob) {
  StreamEnvironment env;
  env.config().parallelism = 2;
  auto seen = std::make_shared<std::atomic<int64_t>>(0);
  auto running = std::make_shared<std::promise<void>>();
  auto signalled = std::make_shared<std::atomic<bool>>(false);
  env.addSource<int64_t>(
         "forever", [] { return std::make_unique<CountingSource>(); }, 2)
      .rebalance()
      .map("inc", [](int64_t x) { return x + 1; })
      .sink("count", [seen, running, signalled](int64_t) {
        if (seen->fetch_add(1) + 1 == 10000 && !signalled->exchange(true)) running->set_value();
      });
  std::future<void> runningFuture = running->get_future();
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  JobClient& job = **client;
  if (runningFuture.wait_for(testing::kJobTimeout) != std::future_status::ready) {
    job.cancel();
    FAIL() << "the job did not deliver 10000 records in time";
  }
  EXPECT_FALSE(job.waitFor(std::chrono::milliseconds(20))) << "an unbounded job ended by itself";
  // Metrics can be read while the job runs; the sources have emitted at least what the sink saw.
  EXPECT_GE(job.metrics().sourceRecords, 10000);
  job.cancel();
  ASSERT_TRUE(job.waitFor(std::chrono::seconds(30))) << "cancel did not end the job";
  Status s = job.wait();
  EXPECT_EQ(s.code(), StatusCode::kCancelled) << s.toString();
  EXPECT_GE(seen->load(), 10000);
}

TEST(RuntimeTest, CancelStopsAJobWhoseSourceIsIdle) {
  // A source with nothing to emit (it waits for a wakeup that never comes).
  class IdleSource final : public SourceFunction<int64_t> {
   public:
    explicit IdleSource(std::shared_ptr<std::promise<void>> polled) : polled_(std::move(polled)) {}
    SourceOperator::Poll poll(RecordBatch<int64_t>&, size_t) override {
      if (!signalled_) {
        signalled_ = true;
        polled_->set_value();
      }
      return SourceOperator::Poll::kNothingNow;
    }

   private:
    std::shared_ptr<std::promise<void>> polled_;
    bool signalled_ = false;
  };
  StreamEnvironment env;
  env.config().parallelism = 1;
  auto polled = std::make_shared<std::promise<void>>();
  env.addSource<int64_t>(
         "idle", [polled] { return std::make_unique<IdleSource>(polled); }, 1)
      .sink("discard", [](int64_t) {});
  std::future<void> polledFuture = polled->get_future();
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  JobClient& job = **client;
  if (polledFuture.wait_for(testing::kJobTimeout) != std::future_status::ready) {
    job.cancel();
    FAIL() << "the source was never polled";
  }
  job.cancel();
  ASSERT_TRUE(job.waitFor(std::chrono::seconds(30)));
  EXPECT_EQ(job.wait().code(), StatusCode::kCancelled);
}

TEST(RuntimeTest, CancelAfterTheEndKeepsTheOkStatus) {
  StreamEnvironment env;
  env.config().parallelism = 2;
  auto out = std::make_shared<Collector<int64_t>>();
  env.fromCollection("numbers", range(0, 100)).rebalance().sink("collect", collectInto(out));
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk());
  ASSERT_TRUE((*client)->waitFor(testing::kJobTimeout));
  (*client)->cancel();
  EXPECT_TRUE((*client)->wait().isOk());
  EXPECT_EQ(out->size(), 100u);
}

TEST(RuntimeTest, DestroyingTheClientOfARunningJobStopsIt) {
  StreamEnvironment env;
  env.config().parallelism = 2;
  auto running = std::make_shared<std::promise<void>>();
  auto signalled = std::make_shared<std::atomic<bool>>(false);
  env.addSource<int64_t>(
         "forever", [] { return std::make_unique<CountingSource>(); }, 1)
      .rebalance()
      .sink("count", [running, signalled](int64_t) {
        if (!signalled->exchange(true)) running->set_value();
      });
  std::future<void> runningFuture = running->get_future();
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk());
  std::unique_ptr<JobClient> job = std::move(*client);
  if (runningFuture.wait_for(testing::kJobTimeout) != std::future_status::ready) {
    job->cancel();
    FAIL() << "the job produced nothing";
  }
  // The destructor cancels and joins the workers; bound it by running it on another thread.
  std::promise<void> destroyed;
  std::future<void> destroyedFuture = destroyed.get_future();
  std::thread destroyer([&job, &destroyed] {
    job.reset();
    destroyed.set_value();
  });
  bool done = destroyedFuture.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  if (!done) {
    destroyer.detach();
    FAIL() << "destroying the client of a running job did not return";
  }
  destroyer.join();
}

// ---------------------------------------------------------------------------------------------
// Configuration

TEST(RuntimeTest, ExecutionConfigValidateNamesTheBadField) {
  struct Case {
    std::string field;
    std::function<void(ExecutionConfig&)> set;
  };
  const std::vector<Case> cases = {
      {"parallelism", [](ExecutionConfig& c) { c.parallelism = 0; }},
      {"parallelism", [](ExecutionConfig& c) { c.parallelism = -3; }},
      {"workerThreads", [](ExecutionConfig& c) { c.workerThreads = -1; }},
      {"maxParallelism", [](ExecutionConfig& c) { c.maxParallelism = 0; }},
      {"maxParallelism", [](ExecutionConfig& c) { c.maxParallelism = 32769; }},
      {"maxParallelism",
       [](ExecutionConfig& c) {
         c.parallelism = 9;
         c.maxParallelism = 8;
       }},
      {"batchSize", [](ExecutionConfig& c) { c.batchSize = 0; }},
      {"channelCapacity", [](ExecutionConfig& c) { c.channelCapacity = 0; }},
      {"maxBatchesPerStep", [](ExecutionConfig& c) { c.maxBatchesPerStep = 0; }},
      {"idleSpin", [](ExecutionConfig& c) { c.idleSpin = std::chrono::microseconds(-1); }},
      {"idleSpin", [](ExecutionConfig& c) { c.idleSpin = std::chrono::microseconds(1'000'001); }},
  };
  for (const Case& c : cases) {
    ExecutionConfig config;
    config.parallelism = 1;
    c.set(config);
    Status s = config.validate();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.field << ": " << s.toString();
    EXPECT_THAT(s.message(), HasSubstr(c.field));
  }

  ExecutionConfig ok;
  ok.parallelism = 1;
  ok.maxParallelism = 1;
  EXPECT_TRUE(ok.validate().isOk());
  ok.parallelism = 32768;
  ok.maxParallelism = 32768;
  ok.batchSize = 1;
  ok.channelCapacity = 1;
  ok.maxBatchesPerStep = 1;
  ok.idleSpin = std::chrono::microseconds(1'000'000);
  EXPECT_TRUE(ok.validate().isOk());
}

TEST(RuntimeTest, InvalidConfigOrGraphIsRejectedBeforeStart) {
  {
    StreamEnvironment env;
    env.config().parallelism = 1;
    env.config().channelCapacity = 0;
    env.fromCollection("numbers", range(0, 10)).sink("discard", [](int64_t) {});
    auto client = env.executeAsync();
    ASSERT_FALSE(client.isOk());
    EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(client.status().message(), HasSubstr("channelCapacity"));
  }
  {
    StreamEnvironment env;
    env.config().parallelism = 2;
    env.config().maxParallelism = 4;
    env.fromCollection("numbers", range(0, 10))
        .rebalance()
        .map("tooWide", [](int64_t x) { return x; })
        .parallelism(5)
        .sink("discard", [](int64_t) {});
    Status s = runJob(env);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.toString();
    EXPECT_THAT(s.message(), HasSubstr("tooWide"));
  }
  {
    StreamEnvironment env;
    EXPECT_EQ(runJob(env).code(), StatusCode::kInvalidArgument);  // no operators at all
  }
}

}  // namespace
}  // namespace reka
