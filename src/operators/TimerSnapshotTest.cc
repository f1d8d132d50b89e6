// Checkpoints of keyed process operators (their timers and watermark) and of the broadcast
// operator: an operator restored from a snapshot taken between any two steps of a script goes on
// exactly as the uninterrupted one, which produces a hand-computed expected output.

#include <gtest/gtest.h>

#include <chrono>
#include <compare>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "reka/reka.h"
#include "testing/OperatorHarness.h"

namespace reka {
namespace {

using testing::CollectingOutput;
using testing::OperatorCheckpoint;
using testing::OperatorHarness;

constexpr int kMaxParallelism = OperatorHarness::kMaxParallelism;

template <class Out>
struct CollectedOutput {
  CollectingOutput<Out> output;
};

/// A harness with a collecting main output.
template <class Out>
struct Harness : CollectedOutput<Out>, OperatorHarness {
  Harness(std::unique_ptr<Operator> op, int64_t nowMs, KeyGroupRange keyGroups = {0, kMaxParallelism - 1})
      : OperatorHarness(std::move(op), {&this->output}, nowMs, keyGroups) {}
};

// ---- A keyed function with event-time and processing-time timers ----

struct Rec {
  int64_t key = 0;
  int64_t ts = 0;
  int64_t value = 0;
  std::string name;  // the key as a string, for string-keyed runs
};

Rec rec(int64_t key, int64_t ts, int64_t value) { return Rec{key, ts, value, std::to_string(key)}; }

struct Fired {
  std::string key;
  int64_t ts = 0;
  bool processingTime = false;
  int64_t sum = 0;
  friend bool operator==(const Fired&, const Fired&) = default;
};

std::ostream& operator<<(std::ostream& os, const Fired& f) {
  return os << "{" << f.key << " " << f.ts << (f.processingTime ? " P " : " E ") << f.sum << "}";
}

std::string keyName(int64_t k) { return std::to_string(k); }
std::string keyName(std::string_view k) { return std::string(k); }

/// Sums values per key; every record sets an event-time timer at ts + 10, and a value of 100 or
/// more also a processing-time timer 50 ms from now. A timer emits the key's sum.
template <class K>
struct TimerFn {
  ValueState<K, int64_t> sum;
  void open(KeyedStateRegistry<K>& r) { sum = r.template valueState<int64_t>("sum"); }
  void processElement(const Rec& r, KeyedContext<K, Fired>& ctx) {
    sum.getOrCreate() += r.value;
    ctx.timerService().registerEventTimeTimer(r.ts + 10);
    if (r.value >= 100) ctx.timerService().registerProcessingTimeTimer(ctx.timerService().currentProcessingTime() + 50);
  }
  void onTimer(int64_t ts, KeyedContext<K, Fired>& ctx) {
    ctx.emit(Fired{keyName(ctx.currentKey()), ts, ctx.timeDomain() == TimeDomain::kProcessingTime, *sum.get()});
  }
};

struct IntKey {
  int64_t operator()(const Rec& r) const { return r.key; }
};
struct NameKey {
  std::string_view operator()(const Rec& r) const { return r.name; }
};

template <class K, class KeyFn>
std::unique_ptr<Operator> makeTimerOperator() {
  return std::make_unique<detail::KeyedProcessOperator<Rec, K, Fired, KeyFn, TimerFn<K>>>(KeyFn{}, TimerFn<K>{}, nullptr);
}

struct Step {
  enum class Kind { kRecords, kWatermark, kTime };
  Kind kind;
  std::vector<Rec> records;
  int64_t value = 0;
};

Step records(std::vector<Rec> r) { return Step{Step::Kind::kRecords, std::move(r), 0}; }
Step watermark(int64_t w) { return Step{Step::Kind::kWatermark, {}, w}; }
Step timeTo(int64_t t) { return Step{Step::Kind::kTime, {}, t}; }

constexpr int64_t kStartTime = 1000;

std::vector<Step> script() {
  return {
      records({rec(1, 100, 1), rec(2, 105, 2), rec(1, 103, 100)}),  // timers E(110,1) E(113,1) E(115,2) P(1050,1)
      watermark(111),                                                // fires E(110,1): sum 101
      timeTo(1020),
      records({rec(2, 120, 200)}),  // sum 202; timers E(130,2) P(1070,2)
      timeTo(1060),                 // fires P(1050,1): sum 101
      records({rec(1, 125, 5)}),    // sum 106; timer E(135,1)
      watermark(130),               // fires E(113,1) E(115,2) E(130,2)
      timeTo(1100),                 // fires P(1070,2)
      watermark(kMaxTime),          // fires E(135,1)
  };
}

// Worked out by hand from the script above.
const std::vector<Fired> kExpected = {
    {"1", 110, false, 101}, {"1", 1050, true, 101}, {"1", 113, false, 106}, {"2", 115, false, 202},
    {"2", 130, false, 202}, {"2", 1070, true, 202}, {"1", 135, false, 106},
};
const std::vector<int64_t> kExpectedWatermarks = {111, 130, kMaxTime};

template <class Out>
void run(Harness<Out>& h, const std::vector<Step>& steps, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) {
    const Step& s = steps[i];
    switch (s.kind) {
      case Step::Kind::kRecords: {
        RecordBatch<Rec> batch;
        batch.records = s.records;
        h.op().processBatch(0, batch);
        break;
      }
      case Step::Kind::kWatermark: h.op().processWatermark(s.value); break;
      case Step::Kind::kTime: h.time().advance(s.value, h.op()); break;
    }
  }
}

template <class K, class KeyFn>
void expectRestoredRunsMatch() {
  const std::vector<Step> steps = script();
  {
    Harness<Fired> whole(makeTimerOperator<K, KeyFn>(), kStartTime);
    ASSERT_TRUE(whole.open().isOk());
    run(whole, steps, 0, steps.size());
    EXPECT_EQ(whole.output.out, kExpected);
    EXPECT_EQ(whole.output.watermarks, kExpectedWatermarks);
  }
  for (size_t cut = 0; cut <= steps.size(); ++cut) {
    SCOPED_TRACE("checkpoint after step " + std::to_string(cut));
    Harness<Fired> before(makeTimerOperator<K, KeyFn>(), kStartTime);
    ASSERT_TRUE(before.open().isOk());
    run(before, steps, 0, cut);
    const OperatorCheckpoint c = before.checkpoint();

    Harness<Fired> after(makeTimerOperator<K, KeyFn>(), c.nowMs);
    ASSERT_TRUE(after.openAndRestore(c).isOk());
    run(after, steps, cut, steps.size());

    std::vector<Fired> out = before.output.out;
    out.insert(out.end(), after.output.out.begin(), after.output.out.end());
    EXPECT_EQ(out, kExpected);
    std::vector<int64_t> watermarks = before.output.watermarks;
    watermarks.insert(watermarks.end(), after.output.watermarks.begin(), after.output.watermarks.end());
    EXPECT_EQ(watermarks, kExpectedWatermarks);
  }
}

TEST(TimerSnapshotTest, RestoredKeyedProcessFiresTheSameTimersAtEveryCut) { expectRestoredRunsMatch<int64_t, IntKey>(); }

TEST(TimerSnapshotTest, StringKeysAreStoredOwnedAndRestored) { expectRestoredRunsMatch<std::string_view, NameKey>(); }

TEST(TimerSnapshotTest, NextEventTimerIsTheEarliestPendingOne) {
  // Worked out by hand from script(): the earliest event-time timer after each step.
  const std::vector<int64_t> expected = {110, 113, 113, 113, 113, 113, 135, 135, kMaxTime};
  const std::vector<Step> steps = script();
  ASSERT_EQ(steps.size(), expected.size());
  Harness<Fired> h(makeTimerOperator<int64_t, IntKey>(), kStartTime);
  ASSERT_TRUE(h.open().isOk());
  EXPECT_EQ(h.op().nextEventTimer(), kMaxTime);
  for (size_t i = 0; i < steps.size(); ++i) {
    run(h, steps, i, i + 1);
    EXPECT_EQ(h.op().nextEventTimer(), expected[i]) << "after step " << i;
  }
}

TEST(TimerSnapshotTest, RestoreRejectsTruncatedUnknownAndForeignSnapshots) {
  const std::vector<Step> steps = script();
  Harness<Fired> before(makeTimerOperator<int64_t, IntKey>(), kStartTime);
  ASSERT_TRUE(before.open().isOk());
  run(before, steps, 0, 4);
  const OperatorCheckpoint c = before.checkpoint();
  ASSERT_GT(c.operatorState.size(), 1u);

  for (size_t n : {size_t{0}, size_t{1}, size_t{5}, c.operatorState.size() - 1}) {
    Harness<Fired> h(makeTimerOperator<int64_t, IntKey>(), c.nowMs);
    ASSERT_TRUE(h.open().isOk());
    EXPECT_EQ(h.op().restoreState(std::string_view(c.operatorState).substr(0, n)).code(), StatusCode::kCorruption) << n;
  }
  {
    Harness<Fired> h(makeTimerOperator<int64_t, IntKey>(), c.nowMs);
    ASSERT_TRUE(h.open().isOk());
    std::string versioned = c.operatorState;
    versioned[0] = 9;
    EXPECT_EQ(h.op().restoreState(versioned).code(), StatusCode::kCorruption);
    EXPECT_EQ(h.op().restoreState(c.operatorState + "x").code(), StatusCode::kCorruption);
  }
  // Keys 1 and 2 are in different halves of the key groups: a subtask of parallelism 2 owns
  // only one of them, and timers are restored at the parallelism of their checkpoint only.
  const KeyGroup kg1 = keyGroupFor(hashKey(int64_t{1}), kMaxParallelism);
  const KeyGroup kg2 = keyGroupFor(hashKey(int64_t{2}), kMaxParallelism);
  ASSERT_NE(subtaskFor(kg1, kMaxParallelism, 2), subtaskFor(kg2, kMaxParallelism, 2));
  Harness<Fired> half(makeTimerOperator<int64_t, IntKey>(), c.nowMs, keyGroupRangeFor(kMaxParallelism, 2, 0));
  ASSERT_TRUE(half.open().isOk());
  EXPECT_EQ(half.op().restoreState(c.operatorState).code(), StatusCode::kInvalidArgument);
}

// ---- A key type without Serde ----

struct OpaqueKey {
  int64_t v = 0;
  friend auto operator<=>(const OpaqueKey&, const OpaqueKey&) = default;
};

}  // namespace

template <>
struct KeyHash<OpaqueKey> {
  uint64_t operator()(const OpaqueKey& k) const { return mixHash64(static_cast<uint64_t>(k.v)); }
};

namespace {

struct OpaqueKeyOf {
  OpaqueKey operator()(const Rec& r) const { return OpaqueKey{r.key}; }
};

struct TimersOnly {
  void processElement(const Rec& r, KeyedContext<OpaqueKey, Fired>& ctx) { ctx.timerService().registerEventTimeTimer(r.ts); }
  void onTimer(int64_t ts, KeyedContext<OpaqueKey, Fired>& ctx) { ctx.emit(Fired{keyName(ctx.currentKey().v), ts, false, 0}); }
};

struct NoTimers {
  void processElement(const Rec& r, KeyedContext<OpaqueKey, Fired>& ctx) { ctx.emit(Fired{keyName(r.key), r.ts, false, 0}); }
};

TEST(TimerSnapshotTest, TimersOfAKeyTypeWithoutSerdeAreNotSupported) {
  Harness<Fired> h(std::make_unique<detail::KeyedProcessOperator<Rec, OpaqueKey, Fired, OpaqueKeyOf, TimersOnly>>(
                       OpaqueKeyOf{}, TimersOnly{}, nullptr),
                   kStartTime);
  ASSERT_TRUE(h.open().isOk());
  std::string out;
  Status s = h.op().snapshotState(1, out);
  EXPECT_EQ(s.code(), StatusCode::kNotSupported);
  EXPECT_NE(s.message().find("Serde"), std::string::npos) << s.message();
  // The same answer before any checkpoint: a job with checkpoints asks at its start.
  EXPECT_EQ(h.op().checkSnapshottable().code(), StatusCode::kNotSupported);

  // Without onTimer there are no timers to lose: the watermark is written and restored.
  Harness<Fired> plain(std::make_unique<detail::KeyedProcessOperator<Rec, OpaqueKey, Fired, OpaqueKeyOf, NoTimers>>(
                           OpaqueKeyOf{}, NoTimers{}, nullptr),
                       kStartTime);
  ASSERT_TRUE(plain.open().isOk());
  EXPECT_TRUE(plain.op().checkSnapshottable().isOk());
  plain.op().processWatermark(42);
  std::string blob;
  ASSERT_TRUE(plain.op().snapshotState(1, blob).isOk());
  Harness<Fired> restored(std::make_unique<detail::KeyedProcessOperator<Rec, OpaqueKey, Fired, OpaqueKeyOf, NoTimers>>(
                              OpaqueKeyOf{}, NoTimers{}, nullptr),
                          kStartTime);
  ASSERT_TRUE(restored.open().isOk());
  EXPECT_TRUE(restored.op().restoreState(blob).isOk());
}

// ---- Two keyed inputs sharing timers ----

struct CoTimers {
  void processElement1(const Rec& r, KeyedContext<int64_t, Fired>& ctx) { ctx.timerService().registerEventTimeTimer(r.ts); }
  void processElement2(const Rec& r, KeyedContext<int64_t, Fired>& ctx) {
    ctx.timerService().registerProcessingTimeTimer(r.ts);
  }
  void onTimer(int64_t ts, KeyedContext<int64_t, Fired>& ctx) {
    ctx.emit(Fired{keyName(ctx.currentKey()), ts, ctx.timeDomain() == TimeDomain::kProcessingTime, 0});
  }
};

std::unique_ptr<Operator> makeCoOperator() {
  return std::make_unique<detail::KeyedCoProcessOperator<Rec, Rec, int64_t, Fired, IntKey, IntKey, CoTimers>>(
      IntKey{}, IntKey{}, CoTimers{}, nullptr);
}

TEST(TimerSnapshotTest, KeyedCoProcessRestoresBothInputsTimers) {
  Harness<Fired> before(makeCoOperator(), kStartTime);
  ASSERT_TRUE(before.open().isOk());
  RecordBatch<Rec> a, b;
  a.records = {rec(1, 50, 0), rec(2, 70, 0)};
  b.records = {rec(3, 1200, 0)};
  before.op().processBatch(0, a);
  before.op().processBatch(1, b);
  before.op().processWatermark(60);
  ASSERT_EQ(before.output.out, (std::vector<Fired>{{"1", 50, false, 0}}));
  const OperatorCheckpoint c = before.checkpoint();

  Harness<Fired> after(makeCoOperator(), c.nowMs);
  ASSERT_TRUE(after.openAndRestore(c).isOk());
  after.op().processWatermark(55);  // an earlier watermark (inputs restart) does not move time back
  after.time().advance(1300, after.op());
  after.op().processWatermark(100);
  EXPECT_EQ(after.output.out, (std::vector<Fired>{{"3", 1200, true, 0}, {"2", 70, false, 0}}));
}

// ---- The broadcast operator ----

struct TableJoin {
  std::vector<std::string> table = std::vector<std::string>(4);
  void processBroadcastElement(const std::pair<int64_t, std::string>& row, Emitter<std::string>&) {
    table[static_cast<size_t>(row.first)] = row.second;
  }
  void processElement(const int64_t& k, Emitter<std::string>& out) { out.emit(table[static_cast<size_t>(k)]); }
  Status snapshotState(std::string& out) const {
    Serde<std::vector<std::string>>::write(table, out);
    return Status::ok();
  }
  Status restoreState(std::string_view in) {
    return Serde<std::vector<std::string>>::read(in, table) && in.empty() ? Status::ok() : Status::corruption("bad table");
  }
};

struct StatelessJoin {
  void processBroadcastElement(const std::pair<int64_t, std::string>&, Emitter<std::string>&) {}
  void processElement(const int64_t& k, Emitter<std::string>& out) { out.emit(std::to_string(k)); }
};

template <class Fn>
std::unique_ptr<Operator> makeBroadcast() {
  return std::make_unique<detail::BroadcastProcessOperator<int64_t, std::pair<int64_t, std::string>, std::string, Fn>>(
      Fn{}, detail::BroadcastMode::kSideInputFirst, nullptr);
}

TEST(TimerSnapshotTest, BroadcastOperatorRestoresEndOfSideInputAndItsFunctionsTable) {
  Harness<std::string> before(makeBroadcast<TableJoin>(), kStartTime);
  ASSERT_TRUE(before.open().isOk());
  RecordBatch<std::pair<int64_t, std::string>> side;
  side.records = {{1, "one"}, {3, "three"}};
  before.op().processBatch(1, side);
  EXPECT_FALSE(before.op().acceptsInput(0));
  before.op().endInput(1);
  ASSERT_TRUE(before.op().acceptsInput(0));
  const OperatorCheckpoint c = before.checkpoint();

  Harness<std::string> after(makeBroadcast<TableJoin>(), c.nowMs);
  ASSERT_TRUE(after.openAndRestore(c).isOk());
  EXPECT_TRUE(after.op().acceptsInput(0));
  RecordBatch<int64_t> main;
  main.records = {3, 1, 0};
  after.op().processBatch(0, main);
  EXPECT_EQ(after.output.out, (std::vector<std::string>{"three", "one", ""}));

  // A function that writes nothing cannot take what another one wrote.
  Harness<std::string> other(makeBroadcast<StatelessJoin>(), c.nowMs);
  ASSERT_TRUE(other.open().isOk());
  EXPECT_EQ(other.op().restoreState(c.operatorState).code(), StatusCode::kCorruption);
  std::string blob;
  Harness<std::string> fresh(makeBroadcast<StatelessJoin>(), c.nowMs);
  ASSERT_TRUE(fresh.open().isOk());
  ASSERT_TRUE(fresh.op().snapshotState(1, blob).isOk());
  ASSERT_TRUE(other.op().restoreState(blob).isOk());
  EXPECT_FALSE(other.op().acceptsInput(0));
}

// ---- assignTimestampsAndWatermarks ----

TEST(TimerSnapshotTest, WatermarkOperatorGoesOnFromItsHighestTimestamp) {
  const auto strategy = watermarks::boundedOutOfOrderness<Rec>(std::chrono::milliseconds(5), [](const Rec& r) { return r.ts; });
  using Op = detail::TimestampsAndWatermarksOperator<Rec, std::decay_t<decltype(strategy)>>;
  const std::vector<std::vector<int64_t>> batches = {{100, 90}, {120}, {80, 110}, {150, 149}, {151}};
  auto feed = [&](Harness<Rec>& h, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      RecordBatch<Rec> batch;
      for (int64_t ts : batches[i]) batch.records.push_back(rec(1, ts, 0));
      h.op().processBatch(0, batch);
    }
  };
  // The highest timestamp minus the bound minus 1, after every batch that raises it.
  const std::vector<int64_t> expected = {94, 114, 144, 145};
  for (size_t cut = 0; cut <= batches.size(); ++cut) {
    SCOPED_TRACE("checkpoint after batch " + std::to_string(cut));
    Harness<Rec> before(std::make_unique<Op>(strategy), kStartTime);
    before.ctx().watermarkIntervalMs = 0;
    ASSERT_TRUE(before.open().isOk());
    feed(before, 0, cut);
    const OperatorCheckpoint c = before.checkpoint();
    Harness<Rec> after(std::make_unique<Op>(strategy), c.nowMs);
    after.ctx().watermarkIntervalMs = 0;
    ASSERT_TRUE(after.openAndRestore(c).isOk());
    feed(after, cut, batches.size());

    // After a restore the watermark reached is sent first (again, when the batch does not raise
    // it: downstream tasks restart from none), and it never goes back.
    if (!before.output.watermarks.empty() && !after.output.watermarks.empty()) {
      EXPECT_GE(after.output.watermarks.front(), before.output.watermarks.back());
    }
    if (cut == 2) {
      EXPECT_EQ(after.output.watermarks.front(), 114);
    }
    std::vector<int64_t> watermarks = before.output.watermarks;
    for (int64_t w : after.output.watermarks)
      if (watermarks.empty() || watermarks.back() != w) watermarks.push_back(w);
    EXPECT_EQ(watermarks, expected);
    EXPECT_EQ(before.output.out.size() + after.output.out.size(), 8u);
  }
}

}  // namespace
}  // namespace reka
