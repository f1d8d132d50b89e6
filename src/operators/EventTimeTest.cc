// End-to-end tests of event time: watermarks from sources (per split, idleness, far-future
// cap), their merge at multi-input operators, and keyed event-time and processing-time timers.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
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
using testing::awaitJob;
using testing::collectInto;
using testing::Collector;
using testing::runJob;

constexpr int64_t kNone = INT64_MIN;
/// How long a test waits for something that should happen within milliseconds.
constexpr milliseconds kDeadline{3000};

/// A record: its key and event time, and optionally a timer to register or delete.
struct Event {
  int64_t key = 0;
  int64_t ts = 0;
  int64_t registerAt = kNone;  ///< kNone: a timer at the record's own timestamp
  int64_t deleteAt = kNone;    ///< kNone: delete nothing
};

/// One timer that fired, as seen in onTimer.
struct Fired {
  int64_t key = 0;
  int64_t ts = 0;
  int64_t watermark = kMinTime;  ///< ctx.timerService().currentWatermark() in onTimer
  TimeDomain domain = TimeDomain::kEventTime;
  int64_t firedAtMs = 0;  ///< processing time in onTimer
  int subtask = 0;
};

auto eventTs = [](const Event& e) { return e.ts; };
auto eventKey = [](const Event& e) { return e.key; };

ExecutionConfig eventTimeConfig(testing::BackendSetup setup) {
  ExecutionConfig c;
  setup.applyTo(c);
  c.workerThreads = 2;
  c.batchSize = 4;
  c.watermarkInterval = milliseconds(0);  // a watermark after every batch
  return c;
}

/// Registers an event-time timer per record (at registerAt, else at its timestamp), deletes
/// deleteAt, and emits every timer that fires. Counts records that arrive at or behind the
/// watermark (their timer would be due at once).
struct EventTimerFn {
  std::shared_ptr<std::atomic<int64_t>> lateRecords = std::make_shared<std::atomic<int64_t>>(0);

  void processElement(const Event& e, KeyedContext<int64_t, Fired>& ctx) {
    if (e.ts <= ctx.timerService().currentWatermark()) lateRecords->fetch_add(1);
    if (e.deleteAt != kNone) {
      ctx.timerService().deleteEventTimeTimer(e.deleteAt);
    } else {
      ctx.timerService().registerEventTimeTimer(e.registerAt == kNone ? e.ts : e.registerAt);
    }
  }
  void onTimer(int64_t ts, KeyedContext<int64_t, Fired>& ctx) {
    ctx.emit(Fired{ctx.currentKey(), ts, ctx.timerService().currentWatermark(), ctx.timeDomain(),
                   ctx.timerService().currentProcessingTime(), ctx.subtask()});
  }
};

/// The same for two inputs (connect): both register a timer at the record's timestamp.
struct CoEventTimerFn {
  void processElement1(const Event& e, KeyedContext<int64_t, Fired>& ctx) {
    ctx.timerService().registerEventTimeTimer(e.ts);
  }
  void processElement2(const Event& e, KeyedContext<int64_t, Fired>& ctx) {
    ctx.timerService().registerEventTimeTimer(e.ts);
  }
  void onTimer(int64_t ts, KeyedContext<int64_t, Fired>& ctx) {
    ctx.emit(Fired{ctx.currentKey(), ts, ctx.timerService().currentWatermark(), ctx.timeDomain(),
                   ctx.timerService().currentProcessingTime(), ctx.subtask()});
  }
};

/// A bounded source over a shared vector; subtask i emits elements i, i+P, i+2P, ...
class VectorSource final : public SourceFunction<Event> {
 public:
  explicit VectorSource(std::shared_ptr<const std::vector<Event>> values) : values_(std::move(values)) {}
  Status open(const OperatorContext& ctx) override {
    next_ = static_cast<size_t>(ctx.subtask);
    stride_ = static_cast<size_t>(ctx.parallelism);
    return Status::ok();
  }
  SourceOperator::Poll poll(RecordBatch<Event>& out, size_t maxRecords) override {
    while (next_ < values_->size() && out.records.size() < maxRecords) {
      out.records.push_back((*values_)[next_]);
      next_ += stride_;
    }
    return next_ < values_->size() ? SourceOperator::Poll::kMore : SourceOperator::Poll::kEnd;
  }

 private:
  std::shared_ptr<const std::vector<Event>> values_;
  size_t next_ = 0;
  size_t stride_ = 1;
};

/// What one poll of a ScriptedSource emits: records of one split.
struct ScriptStep {
  int split = 0;
  std::vector<Event> records;
};

/// Emits a script of per-split record runs (at most maxRecords per poll, one split per poll),
/// then ends (bounded) or has nothing more forever (unbounded, until cancelled).
class ScriptedSource final : public SourceFunction<Event> {
 public:
  ScriptedSource(std::shared_ptr<const std::vector<ScriptStep>> steps, int splits, bool bounded)
      : steps_(std::move(steps)), splits_(splits), bounded_(bounded) {}
  SourceOperator::Poll poll(RecordBatch<Event>& out, size_t maxRecords) override {
    while (step_ < steps_->size() && offset_ >= (*steps_)[step_].records.size()) {
      ++step_;
      offset_ = 0;
    }
    if (step_ >= steps_->size()) return bounded_ ? SourceOperator::Poll::kEnd : SourceOperator::Poll::kNothingNow;
    const ScriptStep& s = (*steps_)[step_];
    lastSplit_ = s.split;
    while (offset_ < s.records.size() && out.records.size() < maxRecords) out.records.push_back(s.records[offset_++]);
    return SourceOperator::Poll::kMore;
  }
  int splitCount() const override { return splits_; }
  int lastSplit() const override { return lastSplit_; }

 private:
  std::shared_ptr<const std::vector<ScriptStep>> steps_;
  int splits_;
  bool bounded_;
  size_t step_ = 0;
  size_t offset_ = 0;
  int lastSplit_ = 0;
};

template <class Pred>
bool waitUntil(Pred&& pred, milliseconds timeout = kDeadline) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

/// The watermarks of every subtask of operator `name`.
std::vector<int64_t> watermarksOf(const JobMetrics& m, const std::string& name) {
  std::vector<int64_t> out;
  for (const OperatorStats& s : m.operators)
    if (s.name == name) out.push_back(s.watermark);
  return out;
}
int64_t minWatermarkOf(const JobMetrics& m, const std::string& name) {
  std::vector<int64_t> w = watermarksOf(m, name);
  return w.empty() ? kMinTime : *std::min_element(w.begin(), w.end());
}
int64_t recordsOutOf(const JobMetrics& m, const std::string& name) {
  int64_t n = 0;
  for (const OperatorStats& s : m.operators)
    if (s.name == name) n += s.recordsOut;
  return n;
}

/// Firings per key, in the order they fired.
std::map<int64_t, std::vector<int64_t>> byKey(const std::vector<Fired>& fired) {
  std::map<int64_t, std::vector<int64_t>> out;
  for (const Fired& f : fired) out[f.key].push_back(f.ts);
  return out;
}

/// Cancels an unbounded job and checks that it ended as cancelled.
void cancelAndAwait(JobClient& client) {
  client.cancel();
  Status s = awaitJob(client, kDeadline);
  EXPECT_EQ(s.code(), StatusCode::kCancelled) << s.toString();
}

// On both backends: on RocksDB the timers are kept in the backend's store.
class EventTimeTest : public ::testing::TestWithParam<testing::BackendSetup> {};

INSTANTIATE_TEST_SUITE_P(Parallelism, EventTimeTest, ::testing::ValuesIn(testing::onBothBackends({1, 4})),
                         testing::BackendSetupName{});

// ---------------------------------------------------------------------------------------------
// Event-time timers over a bounded input

TEST_P(EventTimeTest, TimersFireInTimestampOrderPerKeyExactlyOnceAndNotBeforeTheWatermark) {
  const int p = GetParam().parallelism;
  StreamEnvironment env(eventTimeConfig(GetParam()));
  // Out of order by at most 5 ms (ts = 3i + jitter, jitter in [0, 8]), bound 10 ms: no record
  // is late. Per key (i mod 8) the timestamps are distinct.
  constexpr int64_t kRecords = 800;
  auto events = std::make_shared<std::vector<Event>>();
  std::map<int64_t, std::vector<int64_t>> expected;
  for (int64_t i = 0; i < kRecords; ++i) {
    Event e{i % 8, 3 * i + (i * 7) % 9};
    events->push_back(e);
    expected[e.key].push_back(e.ts);
    if (i % 5 == 0) events->push_back(e);  // the same timer registered again
  }
  for (auto& [key, ts] : expected) std::sort(ts.begin(), ts.end());

  EventTimerFn fn;
  auto out = std::make_shared<Collector<Fired>>();
  auto strategy = watermarks::boundedOutOfOrderness<Event>(milliseconds(10), eventTs);
  env.fromSource<Event>("events", [events] { return std::make_unique<VectorSource>(events); }, strategy, p)
      .keyBy(eventKey)
      .process<Fired>("timers", fn)
      .sink("collect", collectInto(out));
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  Status s = awaitJob(**client, kDeadline);
  ASSERT_TRUE(s.isOk()) << s.toString();

  std::vector<Fired> fired = out->values();
  EXPECT_EQ(fired.size(), static_cast<size_t>(kRecords)) << "every timer fires exactly once";
  EXPECT_EQ(byKey(fired), expected) << "per key, timers fire in timestamp order";
  EXPECT_EQ(fn.lateRecords->load(), 0) << "the watermark ran ahead of the out-of-orderness bound";
  int64_t beforeTheEnd = 0;
  for (const Fired& f : fired) {
    EXPECT_EQ(f.domain, TimeDomain::kEventTime);
    EXPECT_GE(f.watermark, f.ts) << "timer " << f.ts << " of key " << f.key << " fired before the watermark reached it";
    if (f.watermark != kMaxTime) ++beforeTheEnd;
  }
  // Watermarks flow while the job runs: most timers fire before the final kMaxTime.
  EXPECT_GT(beforeTheEnd, kRecords / 2);

  JobMetrics m = (*client)->metrics();
  EXPECT_EQ(watermarksOf(m, "timers"), std::vector<int64_t>(static_cast<size_t>(p), kMaxTime));
  EXPECT_EQ(watermarksOf(m, "collect"), std::vector<int64_t>(static_cast<size_t>(p), kMaxTime));
}

TEST_P(EventTimeTest, TimerRegisteredTwiceFiresOnceAndDeletedTimerNeverFires) {
  const int p = GetParam().parallelism;
  StreamEnvironment env(eventTimeConfig(GetParam()));
  constexpr int64_t kKeys = 8;
  auto events = std::make_shared<std::vector<Event>>();
  auto at = [&](int64_t ts, auto&& perKey) {
    for (int64_t k = 0; k < kKeys; ++k) events->push_back(perKey(k, ts));
  };
  at(10, [](int64_t k, int64_t ts) { return Event{k, ts, 500}; });
  at(20, [](int64_t k, int64_t ts) { return Event{k, ts, 500}; });  // again, from another record
  at(30, [](int64_t k, int64_t ts) { return Event{k, ts, 600}; });
  at(40, [](int64_t k, int64_t ts) { return Event{k, ts, kNone, 600}; });  // deleted before due
  at(45, [](int64_t k, int64_t ts) { return Event{k, ts, kNone, 800}; });  // delete of nothing
  at(46, [](int64_t k, int64_t ts) { return Event{k, ts, 800}; });
  at(50, [](int64_t k, int64_t ts) { return Event{k, ts, 700 + k}; });
  // Deleting another key's timestamp deletes nothing: timers belong to (timestamp, key).
  at(60, [](int64_t k, int64_t ts) { return Event{k, ts, kNone, 700 + (k + 1) % kKeys}; });
  at(70, [](int64_t k, int64_t ts) { return Event{k, ts, 900}; });
  // Timestamps up to 2000 move the watermark past every timer while the job runs; the records
  // register their timers far beyond the end, which fire at the end.
  for (int64_t ts = 100; ts <= 2000; ts += 50) at(ts, [](int64_t k, int64_t t) { return Event{k, t, 1'000'000}; });
  // Deleting a timer that already fired changes nothing.
  at(2001, [](int64_t k, int64_t ts) { return Event{k, ts, kNone, 500}; });

  EventTimerFn fn;
  auto out = std::make_shared<Collector<Fired>>();
  auto strategy = watermarks::monotonousTimestamps<Event>(eventTs);
  env.fromSource<Event>("events", [events] { return std::make_unique<VectorSource>(events); }, strategy, 1)
      .keyBy(eventKey)
      .process<Fired>("timers", fn)
      .parallelism(p)
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env, kDeadline).isOk());

  std::map<int64_t, std::vector<int64_t>> expected;
  for (int64_t k = 0; k < kKeys; ++k) expected[k] = {500, 700 + k, 800, 900, 1'000'000};
  std::vector<Fired> fired = out->values();
  EXPECT_EQ(byKey(fired), expected);
  for (const Fired& f : fired) {
    if (f.ts < 1'000'000) {
      EXPECT_LT(f.watermark, kMaxTime) << "timer " << f.ts << " should fire while the job runs";
      EXPECT_GE(f.watermark, f.ts);
    } else {
      EXPECT_EQ(f.watermark, kMaxTime);
    }
  }
  EXPECT_EQ(fn.lateRecords->load(), 0);
}

TEST_P(EventTimeTest, RemainingEventTimeTimersFireAtTheEndOfABoundedInput) {
  const int p = GetParam().parallelism;
  StreamEnvironment env(eventTimeConfig(GetParam()));
  auto events = std::make_shared<std::vector<Event>>();
  std::map<int64_t, std::vector<int64_t>> expected;
  for (int64_t ts = 0; ts < 100; ++ts) {
    Event e{ts % 5, ts, ts + 1'000'000};
    events->push_back(e);
    expected[e.key].push_back(e.registerAt);
  }
  auto out = std::make_shared<Collector<Fired>>();
  env.fromSource<Event>("events", [events] { return std::make_unique<VectorSource>(events); },
                        watermarks::monotonousTimestamps<Event>(eventTs), p)
      .keyBy(eventKey)
      .process<Fired>("timers", EventTimerFn{})
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env, kDeadline).isOk());

  std::vector<Fired> fired = out->values();
  EXPECT_EQ(byKey(fired), expected);
  for (const Fired& f : fired) EXPECT_EQ(f.watermark, kMaxTime) << "timer " << f.ts << " fired before the end";
}

/// Records the size of every batch it is given, and passes nothing on.
class BatchSizes final : public Operator {
 public:
  explicit BatchSizes(std::shared_ptr<Collector<size_t>> sizes) : sizes_(std::move(sizes)) {}
  Status open(OperatorContext&) override { return Status::ok(); }
  void processBatch(int, Batch& batch) override { sizes_->add(static_cast<RecordBatch<Fired>&>(batch).records.size()); }

 private:
  std::shared_ptr<Collector<size_t>> sizes_;
};

TEST_P(EventTimeTest, ManyTimersFiringAtOneWatermarkLeaveInBatchesOfTheBatchSize) {
  // 100 keys, each with a timer far ahead: the end of the input fires them all in one advance.
  // What they emit goes on in batches of at most the batch size (4), not as one batch held
  // until the last timer has fired.
  const int p = GetParam().parallelism;
  StreamEnvironment env(eventTimeConfig(GetParam()));
  auto events = std::make_shared<std::vector<Event>>();
  for (int64_t k = 0; k < 100; ++k) events->push_back(Event{k, k, 1'000'000});
  auto sizes = std::make_shared<Collector<size_t>>();
  env.fromSource<Event>("events", [events] { return std::make_unique<VectorSource>(events); },
                        watermarks::monotonousTimestamps<Event>(eventTs), p)
      .keyBy(eventKey)
      .process<Fired>("timers", EventTimerFn{})
      .transform<Fired>("batch-sizes", [sizes] { return std::make_unique<BatchSizes>(sizes); });
  ASSERT_TRUE(runJob(env, kDeadline).isOk());
  size_t total = 0, largest = 0;
  for (size_t n : sizes->values()) {
    total += n;
    largest = std::max(largest, n);
  }
  EXPECT_EQ(total, 100u);
  EXPECT_LE(largest, 4u);
}

TEST_P(EventTimeTest, TimerRegisteredInOnTimerAtOrBeforeTheWatermarkFiresInTheSameAdvance) {
  const int p = GetParam().parallelism;
  StreamEnvironment env(eventTimeConfig(GetParam()));
  // onTimer(ts) registers ts + 1 up to ts 5 of a chain started at ts 0: all fire, in order.
  struct ChainFn {
    void processElement(const Event& e, KeyedContext<int64_t, Fired>& ctx) {
      if (e.ts == 0) ctx.timerService().registerEventTimeTimer(0);
    }
    void onTimer(int64_t ts, KeyedContext<int64_t, Fired>& ctx) {
      ctx.emit(Fired{ctx.currentKey(), ts, ctx.timerService().currentWatermark(), ctx.timeDomain(), 0, ctx.subtask()});
      if (ts < 5) ctx.timerService().registerEventTimeTimer(ts + 1);
    }
  };
  auto events = std::make_shared<std::vector<Event>>();
  for (int64_t ts = 0; ts <= 200; ++ts) events->push_back(Event{ts % 3, ts});
  auto out = std::make_shared<Collector<Fired>>();
  env.fromSource<Event>("events", [events] { return std::make_unique<VectorSource>(events); },
                        watermarks::monotonousTimestamps<Event>(eventTs), 1)
      .keyBy(eventKey)
      .process<Fired>("chain", ChainFn{})
      .parallelism(p)
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env, kDeadline).isOk());
  std::map<int64_t, std::vector<int64_t>> expected{{0, {0, 1, 2, 3, 4, 5}}};
  EXPECT_EQ(byKey(out->values()), expected);
  for (const Fired& f : out->values()) EXPECT_GE(f.watermark, f.ts);
}

// ---------------------------------------------------------------------------------------------
// Processing-time timers

TEST_P(EventTimeTest, ProcessingTimeTimersFireAndDeletedOnesDoNot) {
  const int p = GetParam().parallelism;
  StreamEnvironment env(eventTimeConfig(GetParam()));
  constexpr int64_t kKeys = 8;
  // Per key: timers at now+20 (fires), now+40 (deleted), now+80 (fires).
  struct ProcessingTimerFn {
    void processElement(const Event&, KeyedContext<int64_t, Fired>& ctx) {
      int64_t now = ctx.timerService().currentProcessingTime();
      ctx.timerService().registerProcessingTimeTimer(now + 20);
      ctx.timerService().registerProcessingTimeTimer(now + 40);
      ctx.timerService().deleteProcessingTimeTimer(now + 40);
      ctx.timerService().registerProcessingTimeTimer(now + 80);
    }
    void onTimer(int64_t ts, KeyedContext<int64_t, Fired>& ctx) {
      ctx.emit(Fired{ctx.currentKey(), ts, ctx.timerService().currentWatermark(), ctx.timeDomain(),
                     ctx.timerService().currentProcessingTime(), ctx.subtask()});
    }
  };
  std::vector<ScriptStep> script(1);
  for (int64_t k = 0; k < kKeys; ++k) script[0].records.push_back(Event{k, 0});
  auto steps = std::make_shared<const std::vector<ScriptStep>>(std::move(script));
  auto out = std::make_shared<Collector<Fired>>();
  env.addSource<Event>("keys", [steps] { return std::make_unique<ScriptedSource>(steps, 1, /*bounded=*/false); }, 1)
      .keyBy(eventKey)
      .process<Fired>("timers", ProcessingTimerFn{})
      .parallelism(p)
      .sink("collect", collectInto(out));
  const int64_t startMs =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();

  EXPECT_TRUE(waitUntil([&] { return out->size() >= 2 * kKeys; })) << "only " << out->size() << " timers fired";
  cancelAndAwait(**client);

  std::vector<Fired> fired = out->values();
  ASSERT_EQ(fired.size(), static_cast<size_t>(2 * kKeys));
  std::map<int64_t, std::vector<int64_t>> offsets;  // per key: fired timer ts relative to the first
  for (const Fired& f : fired) {
    EXPECT_EQ(f.domain, TimeDomain::kProcessingTime);
    EXPECT_GE(f.firedAtMs, f.ts) << "a processing-time timer fired early";
    EXPECT_GE(f.ts, startMs + 20);
    EXPECT_EQ(f.watermark, kMinTime);  // no event time in this job
    offsets[f.key].push_back(f.ts);
  }
  ASSERT_EQ(offsets.size(), static_cast<size_t>(kKeys));
  for (auto& [key, ts] : offsets) {
    ASSERT_EQ(ts.size(), 2u) << "key " << key;
    // The +40 timer was deleted; the +80 one fired after the +20 one, so +40 would have too.
    EXPECT_EQ(ts[1] - ts[0], 60) << "key " << key;
  }
}

// ---------------------------------------------------------------------------------------------
// Watermarks at two-input operators

/// Source A: ts 0..999 then ends; source B: ts 0..99, then nothing (without ending).
std::shared_ptr<const std::vector<ScriptStep>> boundedA() {
  std::vector<ScriptStep> s(1);
  for (int64_t ts = 0; ts < 1000; ++ts) s[0].records.push_back(Event{ts % 4, ts});
  return std::make_shared<const std::vector<ScriptStep>>(std::move(s));
}
std::shared_ptr<const std::vector<ScriptStep>> stalledB() {
  std::vector<ScriptStep> s(1);
  for (int64_t ts = 0; ts < 100; ++ts) s[0].records.push_back(Event{100 + ts % 4, ts});
  return std::make_shared<const std::vector<ScriptStep>>(std::move(s));
}

/// Waits until A has ended and `op` has reached B's final watermark (98), then checks that `op`
/// stays at the minimum of its inputs and that only the timers up to it fired.
void expectMinimumOfBothInputs(JobClient& client, const Collector<Fired>& out, const std::string& op, int p) {
  bool reached = waitUntil([&] {
    JobMetrics m = client.metrics();
    return minWatermarkOf(m, "a") == kMaxTime && minWatermarkOf(m, op) >= 98;
  });
  JobMetrics m = client.metrics();
  EXPECT_TRUE(reached) << "a: " << minWatermarkOf(m, "a") << ", " << op << ": " << minWatermarkOf(m, op);
  // A is at kMaxTime (ended), B at 98: the operator is at the minimum, on every subtask.
  EXPECT_EQ(watermarksOf(m, op), std::vector<int64_t>(static_cast<size_t>(p), 98));
  // Every timer up to 98 of both inputs fired, none after it.
  std::map<int64_t, std::vector<int64_t>> expected;
  for (int64_t ts = 0; ts <= 98; ++ts) {
    expected[ts % 4].push_back(ts);
    expected[100 + ts % 4].push_back(ts);
  }
  std::vector<Fired> fired = out.values();
  for (const Fired& f : fired) EXPECT_LE(f.ts, 98) << "timer " << f.ts << " of key " << f.key << " fired early";
  EXPECT_EQ(byKey(fired), expected);
}

TEST_P(EventTimeTest, WatermarkOfConnectedKeyedStreamsIsTheMinimumOfBothInputs) {
  const int p = GetParam().parallelism;
  StreamEnvironment env(eventTimeConfig(GetParam()));
  auto a = boundedA();
  auto b = stalledB();
  auto strategy = watermarks::monotonousTimestamps<Event>(eventTs);
  auto streamA = env.fromSource<Event>("a", [a] { return std::make_unique<ScriptedSource>(a, 1, true); }, strategy, 1);
  auto streamB = env.fromSource<Event>("b", [b] { return std::make_unique<ScriptedSource>(b, 1, false); }, strategy, 1);
  auto out = std::make_shared<Collector<Fired>>();
  streamA.keyBy(eventKey)
      .connect(streamB.keyBy(eventKey))
      .process<Fired>("co", CoEventTimerFn{})
      .parallelism(p)
      .sink("collect", collectInto(out));
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  expectMinimumOfBothInputs(**client, *out, "co", p);
  cancelAndAwait(**client);
}

TEST_P(EventTimeTest, WatermarkAfterAUnionIsTheMinimumOfBothInputs) {
  const int p = GetParam().parallelism;
  StreamEnvironment env(eventTimeConfig(GetParam()));
  auto a = boundedA();
  auto b = stalledB();
  auto strategy = watermarks::monotonousTimestamps<Event>(eventTs);
  auto streamA = env.fromSource<Event>("a", [a] { return std::make_unique<ScriptedSource>(a, 1, true); }, strategy, 1);
  auto streamB = env.fromSource<Event>("b", [b] { return std::make_unique<ScriptedSource>(b, 1, false); }, strategy, 1);
  auto out = std::make_shared<Collector<Fired>>();
  streamA.unionWith(streamB)
      .parallelism(p)
      .keyBy(eventKey)
      .process<Fired>("timers", EventTimerFn{})
      .sink("collect", collectInto(out));
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  expectMinimumOfBothInputs(**client, *out, "union", p);
  EXPECT_EQ(watermarksOf((*client)->metrics(), "timers"), std::vector<int64_t>(static_cast<size_t>(p), 98));
  cancelAndAwait(**client);
}

/// Reads ts 0..199 at once, then one more record per poll (it is polled on its watermark ticks)
/// forever: a source that stays active.
class TickingSource final : public SourceFunction<Event> {
 public:
  SourceOperator::Poll poll(RecordBatch<Event>& out, size_t maxRecords) override {
    if (next_ < 200) {
      while (next_ < 200 && out.records.size() < maxRecords) {
        out.records.push_back(Event{next_ % 4, next_});
        ++next_;
      }
      return SourceOperator::Poll::kMore;
    }
    out.records.push_back(Event{next_ % 4, next_});
    ++next_;
    return SourceOperator::Poll::kNothingNow;
  }

 private:
  int64_t next_ = 0;
};

TEST_P(EventTimeTest, IdleInputOfATwoInputOperatorStopsHoldingItsWatermarkBack) {
  const int p = GetParam().parallelism;
  StreamEnvironment env(eventTimeConfig(GetParam()));
  auto b = stalledB();
  auto strategy = watermarks::monotonousTimestamps<Event>(eventTs).withIdleness(milliseconds(50));
  auto streamA = env.fromSource<Event>("a", [] { return std::make_unique<TickingSource>(); }, strategy, 1);
  auto streamB = env.fromSource<Event>("b", [b] { return std::make_unique<ScriptedSource>(b, 1, false); }, strategy, 1);
  auto out = std::make_shared<Collector<Fired>>();
  streamA.keyBy(eventKey)
      .connect(streamB.keyBy(eventKey))
      .process<Fired>("co", CoEventTimerFn{})
      .parallelism(p)
      .sink("collect", collectInto(out));
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();

  // B goes idle 50 ms after its last record; then the operator follows A alone.
  bool reached = waitUntil([&] { return minWatermarkOf((*client)->metrics(), "co") >= 198; });
  EXPECT_TRUE(reached) << "co: " << minWatermarkOf((*client)->metrics(), "co");
  std::set<std::pair<int64_t, int64_t>> seen;
  for (const Fired& f : out->values()) {
    EXPECT_GE(f.watermark, f.ts);
    seen.insert({f.key, f.ts});
  }
  for (int64_t ts = 0; ts <= 198; ++ts) EXPECT_TRUE(seen.count({ts % 4, ts})) << "timer " << ts << " of A";
  for (int64_t ts = 0; ts <= 98; ++ts) EXPECT_TRUE(seen.count({100 + ts % 4, ts})) << "timer " << ts << " of B";
  cancelAndAwait(**client);
}

TEST_P(EventTimeTest, AssignTimestampsAndWatermarksDownstreamOfASource) {
  StreamEnvironment env(eventTimeConfig(GetParam()));
  std::vector<Event> events;
  std::map<int64_t, std::vector<int64_t>> expected;
  for (int64_t ts = 0; ts < 400; ++ts) {
    events.push_back(Event{ts % 6, ts});
    expected[ts % 6].push_back(ts);
  }
  auto out = std::make_shared<Collector<Fired>>();
  env.fromCollection("events", events)
      .assignTimestampsAndWatermarks(watermarks::boundedOutOfOrderness<Event>(milliseconds(5), eventTs))
      .keyBy(eventKey)
      .process<Fired>("timers", EventTimerFn{})
      .sink("collect", collectInto(out));
  ASSERT_TRUE(runJob(env, kDeadline).isOk());
  std::vector<Fired> fired = out->values();
  EXPECT_EQ(byKey(fired), expected);
  int64_t beforeTheEnd = 0;
  for (const Fired& f : fired) {
    EXPECT_GE(f.watermark, f.ts);
    if (f.watermark != kMaxTime) ++beforeTheEnd;
  }
  EXPECT_GT(beforeTheEnd, 300) << "the generated watermarks did not reach the keyed operator while the job ran";
}

// ---------------------------------------------------------------------------------------------
// Source splits and idleness

/// Two splits. Phase 1: both read ts 0..99 (keys 0..3 on split 0, 10..13 on split 1). Phase 2:
/// split 1 is quiet; split 0 reads ts 100..199 at once, then one record per poll (the source is
/// polled on its watermark ticks) forever. When `resume` is set, split 1 reads ts 120..127 once
/// (behind the merged watermark), then is quiet again.
class QuietSplitSource final : public SourceFunction<Event> {
 public:
  explicit QuietSplitSource(std::shared_ptr<std::atomic<bool>> resume) : resume_(std::move(resume)) {}
  SourceOperator::Poll poll(RecordBatch<Event>& out, size_t maxRecords) override {
    if (phase1Next_[0] < 100 || phase1Next_[1] < 100) {
      int s = phase1Next_[turn_] < 100 ? turn_ : 1 - turn_;
      turn_ = 1 - turn_;
      lastSplit_ = s;
      int64_t& next = phase1Next_[s];
      while (next < 100 && out.records.size() < maxRecords) {
        out.records.push_back(Event{10 * s + next % 4, next});
        ++next;
      }
      return SourceOperator::Poll::kMore;
    }
    if (resume_->load() && resumeNext_ < 128) {
      lastSplit_ = 1;
      while (resumeNext_ < 128 && out.records.size() < maxRecords) {
        out.records.push_back(Event{10 + resumeNext_ % 4, resumeNext_});
        ++resumeNext_;
      }
      return SourceOperator::Poll::kMore;
    }
    lastSplit_ = 0;
    if (split0Next_ < 200) {
      while (split0Next_ < 200 && out.records.size() < maxRecords) {
        out.records.push_back(Event{split0Next_ % 4, split0Next_});
        ++split0Next_;
      }
      return SourceOperator::Poll::kMore;
    }
    out.records.push_back(Event{split0Next_ % 4, split0Next_});
    ++split0Next_;
    return SourceOperator::Poll::kNothingNow;
  }
  int splitCount() const override { return 2; }
  int lastSplit() const override { return lastSplit_; }

 private:
  std::shared_ptr<std::atomic<bool>> resume_;
  int64_t phase1Next_[2] = {0, 0};
  int turn_ = 0;
  int lastSplit_ = 0;
  int64_t split0Next_ = 100;
  int64_t resumeNext_ = 120;
};

template <class Strategy>
std::unique_ptr<JobClient> startQuietSplitJob(testing::BackendSetup p, Strategy strategy, std::shared_ptr<std::atomic<bool>> resume,
                                              std::shared_ptr<Collector<Fired>> out) {
  StreamEnvironment env(eventTimeConfig(p));
  env.fromSource<Event>("splits", [resume] { return std::make_unique<QuietSplitSource>(resume); }, strategy, 1)
      .keyBy(eventKey)
      .template process<Fired>("timers", EventTimerFn{})
      .parallelism(p.parallelism)
      .sink("collect", collectInto(out));
  auto client = env.executeAsync();
  EXPECT_TRUE(client.isOk()) << client.status().toString();
  return client.isOk() ? std::move(*client) : nullptr;
}

TEST_P(EventTimeTest, QuietSplitWithoutIdlenessStallsTheWatermark) {
  const int p = GetParam().parallelism;
  auto resume = std::make_shared<std::atomic<bool>>(false);
  auto out = std::make_shared<Collector<Fired>>();
  auto client = startQuietSplitJob(GetParam(), watermarks::monotonousTimestamps<Event>(eventTs), resume, out);
  ASSERT_NE(client, nullptr);

  // Split 0 reaches 199 and beyond; split 1 stays at 99 (watermark 98).
  bool reached = waitUntil([&] {
    JobMetrics m = client->metrics();
    return recordsOutOf(m, "splits") >= 300 && minWatermarkOf(m, "timers") >= 98;
  });
  EXPECT_TRUE(reached);
  // Time to go idle, were idleness configured (the source ticks every 200 ms without it).
  std::this_thread::sleep_for(milliseconds(250));
  JobMetrics m = client->metrics();
  EXPECT_EQ(watermarksOf(m, "splits"), std::vector<int64_t>{98});
  EXPECT_EQ(watermarksOf(m, "timers"), std::vector<int64_t>(static_cast<size_t>(p), 98));
  EXPECT_EQ(m.watermark, 98);  // the job's watermark: the sink's
  std::vector<Fired> fired = out->values();
  for (const Fired& f : fired) EXPECT_LE(f.ts, 98) << "timer " << f.ts << " fired past the stalled watermark";
  EXPECT_EQ(fired.size(), 2u * 99u);  // ts 0..98 of both splits
  cancelAndAwait(*client);
}

TEST_P(EventTimeTest, QuietSplitWithIdlenessStopsHoldingTimeBackAndRejoinsWithoutMovingItBack) {
  auto resume = std::make_shared<std::atomic<bool>>(false);
  auto out = std::make_shared<Collector<Fired>>();
  auto strategy = watermarks::monotonousTimestamps<Event>(eventTs).withIdleness(milliseconds(50));
  auto client = startQuietSplitJob(GetParam(), strategy, resume, out);
  ASSERT_NE(client, nullptr);

  // Split 1 goes idle after 50 ms: time follows split 0 past 199.
  auto firedUpTo = [&](int64_t ts) {
    std::set<std::pair<int64_t, int64_t>> seen;
    for (const Fired& f : out->values()) seen.insert({f.key, f.ts});
    for (int64_t t = 0; t <= ts; ++t) {
      if (!seen.count({t % 4, t})) return false;
      if (t < 99 && !seen.count({10 + t % 4, t})) return false;
    }
    return true;
  };
  int64_t highest = kMinTime;  // the highest watermark seen at the keyed operator so far
  auto sampleMonotone = [&] {
    int64_t now = minWatermarkOf(client->metrics(), "timers");
    EXPECT_GE(now, highest) << "the watermark moved backwards";
    highest = std::max(highest, now);
  };
  EXPECT_TRUE(waitUntil([&] {
    sampleMonotone();
    return firedUpTo(199);
  })) << out->size() << " timers fired; watermark " << highest;
  for (const Fired& f : out->values()) EXPECT_GE(f.watermark, f.ts);
  // The timers fire inside the operator's watermark call; its watermark metric is stored right
  // after, so a sample taken between the two still shows the older value.
  EXPECT_TRUE(waitUntil([&] {
    sampleMonotone();
    return highest >= 198;
  })) << "watermark " << highest;
  ASSERT_GE(highest, 198);

  // Split 1 reads again, far behind: its records are late, time does not move back, and its
  // timers (already due) fire with the next advance, at a watermark past them.
  const int64_t beforeResume = highest;
  resume->store(true);
  auto lateFired = [&] {
    size_t n = 0;
    for (const Fired& f : out->values())
      if (f.key >= 10 && f.ts >= 120) ++n;
    return n;
  };
  EXPECT_TRUE(waitUntil([&] {
    sampleMonotone();
    return lateFired() == 8;
  })) << lateFired() << " of 8 late timers fired";
  for (const Fired& f : out->values()) {
    if (f.key >= 10 && f.ts >= 120) {
      EXPECT_GE(f.watermark, beforeResume);
    }
  }
  // Per subtask, onTimer never saw the watermark go back.
  std::map<int, int64_t> lastPerSubtask;
  for (const Fired& f : out->values()) {
    auto [it, inserted] = lastPerSubtask.try_emplace(f.subtask, f.watermark);
    EXPECT_GE(f.watermark, it->second);
    it->second = f.watermark;
  }
  cancelAndAwait(*client);
}

// ---------------------------------------------------------------------------------------------
// Far-future timestamps

/// A timer at 500'000 (key 1), ts 0..99, one record at ts 1'000'000 (key 0), ts 100..199, then
/// nothing (without ending).
std::shared_ptr<const std::vector<ScriptStep>> farFutureScript() {
  std::vector<ScriptStep> s(1);
  s[0].records.push_back(Event{1, 0, 500'000});
  for (int64_t ts = 0; ts < 100; ++ts) s[0].records.push_back(Event{ts % 4, ts});
  s[0].records.push_back(Event{0, 1'000'000});
  for (int64_t ts = 100; ts < 200; ++ts) s[0].records.push_back(Event{ts % 4, ts});
  return std::make_shared<const std::vector<ScriptStep>>(std::move(s));
}

TEST_P(EventTimeTest, FarFutureTimestampWithMaxAheadDoesNotFireLaterTimersEarly) {
  const int p = GetParam().parallelism;
  StreamEnvironment env(eventTimeConfig(GetParam()));
  auto script = farFutureScript();
  auto out = std::make_shared<Collector<Fired>>();
  // The far-future record moves time to at most 99 + 50; the records after it move it on.
  auto strategy = watermarks::monotonousTimestamps<Event>(eventTs).withMaxAhead(milliseconds(50));
  env.fromSource<Event>("events", [script] { return std::make_unique<ScriptedSource>(script, 1, false); }, strategy, 1)
      .keyBy(eventKey)
      .process<Fired>("timers", EventTimerFn{})
      .parallelism(p)
      .sink("collect", collectInto(out));
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();

  bool reached = waitUntil([&] {
    JobMetrics m = (*client)->metrics();
    return minWatermarkOf(m, "timers") >= 198 && out->size() >= 199;
  });
  EXPECT_TRUE(reached) << out->size() << " timers fired";
  std::this_thread::sleep_for(milliseconds(50));
  JobMetrics m = (*client)->metrics();
  EXPECT_EQ(watermarksOf(m, "events"), std::vector<int64_t>{198});
  EXPECT_EQ(watermarksOf(m, "timers"), std::vector<int64_t>(static_cast<size_t>(p), 198));
  std::vector<Fired> fired = out->values();
  EXPECT_EQ(fired.size(), 199u);  // ts 0..198; not the timers at 500'000 and 1'000'000
  for (const Fired& f : fired) {
    EXPECT_LE(f.ts, 198) << "timer " << f.ts << " fired early";
    EXPECT_GE(f.watermark, f.ts);
  }
  cancelAndAwait(**client);
}

TEST(EventTimeFarFutureTest, WithoutMaxAheadAFarFutureTimestampFiresLaterTimersEarly) {
  // The control for the test above: without the cap, one broken timestamp moves time to it.
  StreamEnvironment env(eventTimeConfig(1));
  auto script = farFutureScript();
  auto out = std::make_shared<Collector<Fired>>();
  env.fromSource<Event>("events", [script] { return std::make_unique<ScriptedSource>(script, 1, false); },
                        watermarks::monotonousTimestamps<Event>(eventTs), 1)
      .keyBy(eventKey)
      .process<Fired>("timers", EventTimerFn{})
      .sink("collect", collectInto(out));
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  auto firedAt = [&]() -> std::optional<Fired> {
    for (const Fired& f : out->values())
      if (f.ts == 500'000) return f;
    return std::nullopt;
  };
  EXPECT_TRUE(waitUntil([&] { return firedAt().has_value(); }));
  std::optional<Fired> f = firedAt();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->watermark, 999'999);  // while the job runs, long before the input reached 500'000
  EXPECT_EQ(minWatermarkOf((*client)->metrics(), "timers"), 999'999);
  cancelAndAwait(**client);
}

}  // namespace
}  // namespace reka
