// Checkpoints of the window and join operators (snapshotState / restoreState). An operator is
// fed part of a disordered input with watermarks, snapshotted, and replaced by a fresh instance
// restored from the snapshot, which is fed the rest; the concatenated output must equal that of
// an uninterrupted instance (the same results, -U/+U updates, late records and forwarded
// watermarks, step by step). The uninterrupted output is itself checked against brute-force
// references. Operators are driven directly, through a small harness with a manual clock.

#include <absl/container/flat_hash_map.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "reka/reka.h"

namespace reka {
namespace {

struct Ev {
  int64_t key = 0;
  int64_t ts = 0;
  int64_t value = 0;  ///< unique per record: sums tell which records a result holds
};

}  // namespace

template <>
struct Serde<Ev> {
  static void write(const Ev& e, std::string& out) {
    Serde<int64_t>::write(e.key, out);
    Serde<int64_t>::write(e.ts, out);
    Serde<int64_t>::write(e.value, out);
  }
  static bool read(std::string_view& in, Ev& e) {
    return Serde<int64_t>::read(in, e.key) && Serde<int64_t>::read(in, e.ts) &&
           Serde<int64_t>::read(in, e.value);
  }
};

namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr int64_t kStartClock = 1'000'000;

// ---------------------------------------------------------------------------------------------
// Inputs: scripts of steps (a batch on one input, a watermark, a clock tick).

struct Step {
  enum class Kind { kRecords, kWatermark, kClock };
  Kind kind = Kind::kRecords;
  int input = 0;
  std::vector<Ev> records;
  int64_t time = 0;  ///< kWatermark: the watermark; kClock: the processing time reached
};

uint64_t nextRandom(uint64_t& x) {
  x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  return x >> 20;
}

/// Event-time input of `n` records with `keys` keys, in batches of 1–9 records alternating over
/// `inputs` inputs. Timestamps rise 3 ms per record with up to 40 ms of jitter; every
/// `lateEvery`-th record (0: none) is pushed back a further 60–259 ms, so that it arrives behind
/// the watermark. After each batch, the watermark moves to 50 ms behind the largest timestamp
/// (when that rises) and, if `clockStepMs` > 0, the clock moves on by that much. Ends with the
/// kMaxTime watermark.
std::vector<Step> eventTimeScript(int n, int keys, int lateEvery, int inputs = 1,
                                  int64_t clockStepMs = 0) {
  std::vector<Step> script;
  uint64_t x = 987654321;
  int64_t maxTs = kMinTime, watermark = kMinTime, clock = kStartClock;
  std::vector<Ev> batch;
  size_t batchSize = 1 + nextRandom(x) % 9;
  int batches = 0;
  auto flush = [&] {
    if (batch.empty()) return;
    script.push_back({Step::Kind::kRecords, batches++ % inputs, batch, 0});
    batch.clear();
    batchSize = 1 + nextRandom(x) % 9;
    if (maxTs - 50 > watermark) {
      watermark = maxTs - 50;
      script.push_back({Step::Kind::kWatermark, 0, {}, watermark});
    }
    if (clockStepMs > 0) {
      clock += clockStepMs;
      script.push_back({Step::Kind::kClock, 0, {}, clock});
    }
  };
  for (int i = 0; i < n; ++i) {
    const uint64_t r = nextRandom(x);
    int64_t ts = 1000 + 3 * i - static_cast<int64_t>(r % 41);
    if (lateEvery > 0 && i % lateEvery == lateEvery - 1)
      ts -= 60 + static_cast<int64_t>((r >> 8) % 200);
    batch.push_back({static_cast<int64_t>((r >> 16) % static_cast<uint64_t>(keys)), ts, i});
    maxTs = std::max(maxTs, ts);
    if (batch.size() >= batchSize) flush();
  }
  flush();
  script.push_back({Step::Kind::kWatermark, 0, {}, kMaxTime});
  return script;
}

/// Processing-time input: the clock moves on 1–9 ms, then a batch of 1–4 records arrives. The
/// clock never stops at a time ≡ 19 (mod 20): a window ending at a multiple of 20 fires when the
/// clock reaches its end − 1, and a record arriving at that very millisecond misses it, which the
/// references below do not model.
std::vector<Step> processingTimeScript(int n, int keys) {
  std::vector<Step> script;
  uint64_t x = 24680;
  int64_t clock = kStartClock;
  for (int i = 0; i < n;) {
    clock += 1 + static_cast<int64_t>(nextRandom(x) % 9);
    if (clock % 20 == 19) ++clock;
    script.push_back({Step::Kind::kClock, 0, {}, clock});
    Step batch{Step::Kind::kRecords, 0, {}, 0};
    for (size_t k = 1 + nextRandom(x) % 4; k > 0 && i < n; --k, ++i)
      batch.records.push_back(
          {static_cast<int64_t>(nextRandom(x) % static_cast<uint64_t>(keys)), 0, i});
    script.push_back(std::move(batch));
  }
  return script;
}

/// Every record of input `input` with the watermark the operator had reached when it arrived.
std::vector<std::pair<Ev, int64_t>> arrivals(const std::vector<Step>& script, int input = 0) {
  std::vector<std::pair<Ev, int64_t>> out;
  int64_t watermark = kMinTime;
  for (const Step& s : script) {
    if (s.kind == Step::Kind::kWatermark) watermark = s.time;
    if (s.kind != Step::Kind::kRecords || s.input != input) continue;
    for (const Ev& e : s.records) out.emplace_back(e, watermark);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Operators under test.

struct KeyOf {
  int64_t operator()(const Ev& e) const { return e.key; }
};
struct TsOf {
  int64_t operator()(const Ev& e) const { return e.ts; }
};
/// String keys as views (stored owned): the views point into static storage.
struct NameOf {
  std::string_view operator()(const Ev& e) const {
    static const std::array<std::string, 8> kNames = {"ant", "bee", "cat", "dog",
                                                      "eel", "fox", "gnu", "hen"};
    return kNames[static_cast<size_t>(e.key) % kNames.size()];
  }
};

using Sums = std::pair<int64_t, int64_t>;  // (count, sum of values)

struct CountSum {
  Sums createAccumulator() const { return {0, 0}; }
  void add(const Ev& e, Sums& a) const {
    ++a.first;
    a.second += e.value;
  }
  void merge(const Sums& from, Sums& into) const {
    into.first += from.first;
    into.second += from.second;
  }
  Sums getResult(const Sums& a) const { return a; }
};

using Result = WindowResult<int64_t, Sums>;
using NamedResult = WindowResult<std::string_view, Sums>;
using CountSumEmit = detail::AggregateEmit<int64_t, CountSum, Result>;
using NamedCountSumEmit = detail::AggregateEmit<std::string_view, CountSum, NamedResult>;

/// A full-window function: the count and sum of the window's records (kept as records).
struct SummarizeWindow {
  void operator()(const int64_t& key, const TimeWindow& w, const std::vector<Ev>& records,
                  Emitter<Result>& out) const {
    Sums s{0, 0};
    for (const Ev& e : records) CountSum{}.add(e, s);
    out.emit(Result{key, w, s, RowKind::kInsert});
  }
};
using SummarizeEmit = detail::ProcessEmit<int64_t, Ev, Result, SummarizeWindow>;

struct Joined {
  int64_t key = 0;
  int64_t a = 0;            ///< the value of the input-0 record
  int64_t b = 0;            ///< the value of the input-1 record
  int64_t windowStart = 0;  ///< window join only
};
struct JoinPair {
  void operator()(const Ev& a, const Ev& b, Emitter<Joined>& out) const {
    out.emit({a.key, a.value, b.value, 0});
  }
};
struct JoinInWindow {
  void operator()(const Ev& a, const Ev& b, const TimeWindow& w, Emitter<Joined>& out) const {
    out.emit({a.key, a.value, b.value, w.start});
  }
};

const OutputTag<Ev>& lateTag() {
  static const OutputTag<Ev> tag("late");
  return tag;
}

std::shared_ptr<const detail::SidePorts> portsFor(const WindowOptions& options) {
  auto ports = std::make_shared<detail::SidePorts>();
  if (options.lateTagId != 0)
    ports->push_back({options.lateTagId, [] { return std::make_unique<RecordBatch<Ev>>(); }});
  return ports;
}

WindowOptions withLateness(int64_t latenessMs, Trigger trigger = {}) {
  WindowOptions o;
  o.allowedLatenessMs = latenessMs;
  o.trigger = trigger;
  o.lateTagId = lateTag().id();
  return o;
}

using Factory = std::function<std::unique_ptr<Operator>()>;

/// Tumbling or sliding windows aggregating with `Agg` (count and sum by default).
template <class Agg = CountSum, class Windows>
Factory aligned(Windows windows, WindowOptions options) {
  using Emit = detail::AggregateEmit<int64_t, Agg, Result>;
  return [=] {
    return std::make_unique<detail::AlignedWindowOperator<Ev, int64_t, KeyOf, TsOf, Agg, Result, Emit>>(
        KeyOf{}, TsOf{}, Agg{}, Emit{Agg{}}, detail::AlignedSpec::of(windows), options, portsFor(options));
  };
}

template <class Windows>
Factory alignedProcess(Windows windows, WindowOptions options) {
  using Collect = detail::CollectAgg<Ev>;
  return [=] {
    return std::make_unique<
        detail::AlignedWindowOperator<Ev, int64_t, KeyOf, TsOf, Collect, Result, SummarizeEmit>>(
        KeyOf{}, TsOf{}, Collect{}, SummarizeEmit{SummarizeWindow{}},
        detail::AlignedSpec::of(windows), options, portsFor(options));
  };
}

Factory session(SessionWindows windows, WindowOptions options) {
  return [=] {
    return std::make_unique<
        detail::SessionWindowOperator<Ev, int64_t, KeyOf, TsOf, CountSum, Result, CountSumEmit>>(
        KeyOf{}, TsOf{}, CountSum{}, CountSumEmit{CountSum{}}, windows, options, portsFor(options));
  };
}

Factory countWindows(CountWindows windows) {
  return [=] {
    return std::make_unique<detail::CountWindowOperator<Ev, std::string_view, NameOf, CountSum,
                                                        NamedResult, NamedCountSumEmit>>(
        NameOf{}, CountSum{}, NamedCountSumEmit{CountSum{}}, windows, WindowOptions{},
        portsFor(WindowOptions{}));
  };
}

Factory globalWindows(Trigger trigger) {
  WindowOptions options;
  options.trigger = trigger;
  return [=] {
    return std::make_unique<
        detail::GlobalWindowOperator<Ev, int64_t, KeyOf, CountSum, Result, CountSumEmit>>(
        KeyOf{}, CountSum{}, CountSumEmit{CountSum{}}, options, portsFor(options));
  };
}

Factory intervalJoin(int64_t lowerMs, int64_t upperMs) {
  return [=] {
    return std::make_unique<
        detail::IntervalJoinOperator<Ev, Ev, int64_t, Joined, KeyOf, KeyOf, TsOf, TsOf, JoinPair>>(
        KeyOf{}, KeyOf{}, TsOf{}, TsOf{}, lowerMs, upperMs, JoinPair{}, nullptr);
  };
}

template <class Windows>
Factory windowJoin(Windows windows) {
  return [=] {
    return std::make_unique<detail::WindowJoinOperator<Ev, Ev, int64_t, Joined, KeyOf, KeyOf, TsOf,
                                                       TsOf, JoinInWindow>>(
        KeyOf{}, KeyOf{}, TsOf{}, TsOf{}, detail::AlignedSpec::of(windows), JoinInWindow{},
        nullptr);
  };
}

// ---------------------------------------------------------------------------------------------
// The harness: one operator instance with a manual clock and outputs that log what it emits.

/// Processing time that moves only when the test moves it. Keeps the earliest requested
/// callback, as the runtime's per-operator service does.
class ManualTime final : public ProcessingTimeService {
 public:
  explicit ManualTime(int64_t now) : now_(now) {}
  int64_t now() const override { return now_; }
  void requestCallback(int64_t atMs) override { due_ = std::min(due_, atMs); }
  /// Moves the clock to `t`; true if a callback is due (it is then answered).
  bool advanceTo(int64_t t) {
    now_ = t;
    if (due_ > now_) return false;
    due_ = kMaxTime;
    return true;
  }

 private:
  int64_t now_;
  int64_t due_ = kMaxTime;
};

/// Everything an operator emitted, each entry with the index of the script step that caused it
/// (the script's length for finish()).
template <class Out>
struct Log {
  int step = 0;
  std::vector<std::pair<int, Out>> results;
  std::vector<std::pair<int, Ev>> late;
  std::vector<std::pair<int, int64_t>> watermarks;
};

template <class Out>
class ResultOutput final : public Output {
 public:
  explicit ResultOutput(Log<Out>* log) : log_(log) {}
  void push(Batch& batch) override {
    for (const Out& r : static_cast<RecordBatch<Out>&>(batch).records)
      log_->results.emplace_back(log_->step, r);
  }
  void emitWatermark(int64_t watermark) override {
    log_->watermarks.emplace_back(log_->step, watermark);
  }
  void emitWatermarkStatus(bool) override {}

 private:
  Log<Out>* log_;
};

template <class Out>
class LateOutput final : public Output {
 public:
  explicit LateOutput(Log<Out>* log) : log_(log) {}
  void push(Batch& batch) override {
    for (const Ev& e : static_cast<RecordBatch<Ev>&>(batch).records)
      log_->late.emplace_back(log_->step, e);
  }
  void emitWatermark(int64_t) override {}
  void emitWatermarkStatus(bool) override {}

 private:
  Log<Out>* log_;
};

/// One operator instance, opened on a context of its own (subtask 0 of 1).
template <class Out>
class Instance {
 public:
  Instance(std::unique_ptr<Operator> op, Log<Out>* log, int64_t clock)
      : op_(std::move(op)),
        main_(log),
        late_(log),
        time_(clock),
        state_(KeyGroupRange{0, 127}, 128) {
    ctx_.name = "windows";
    ctx_.keyGroups = KeyGroupRange{0, 127};
    ctx_.state = &state_;
    ctx_.outputs = {&main_, &late_};
    ctx_.batchSize = 4;  // small: the operators flush in the middle of firings
    ctx_.metrics = &metrics_;
    ctx_.time = &time_;
  }

  Status open() {
    op_->bindContext(&ctx_);
    return op_->open(ctx_);
  }
  void apply(const Step& s) {
    switch (s.kind) {
      case Step::Kind::kRecords: {
        RecordBatch<Ev> batch;
        batch.records = s.records;
        op_->processBatch(s.input, batch);
        break;
      }
      case Step::Kind::kWatermark:
        op_->processWatermark(s.time);
        break;
      case Step::Kind::kClock:
        if (time_.advanceTo(s.time)) op_->onProcessingTime(s.time);
        break;
    }
  }
  Operator& op() { return *op_; }
  int64_t clock() const { return time_.now(); }
  const OperatorMetrics& metrics() const { return metrics_; }

 private:
  std::unique_ptr<Operator> op_;
  ResultOutput<Out> main_;
  LateOutput<Out> late_;
  ManualTime time_;
  HeapStateBackend state_;
  OperatorMetrics metrics_;
  OperatorContext ctx_;
};

template <class Out>
struct RunResult {
  Log<Out> log;
  int64_t lateRecords = 0;
  int64_t lateUpdates = 0;
};

/// Runs `script` to its end, then finish(). Before each step index in `restartAt` the instance
/// is snapshotted and destroyed, and a fresh one is opened, restored and continues.
template <class Out>
RunResult<Out> run(const Factory& make, const std::vector<Step>& script,
                   const std::set<size_t>& restartAt = {}) {
  RunResult<Out> result;
  auto instance = std::make_unique<Instance<Out>>(make(), &result.log, kStartClock);
  Status opened = instance->open();
  EXPECT_TRUE(opened.isOk()) << opened.toString();
  auto addMetrics = [&] {
    result.lateRecords += instance->metrics().lateRecords.load();
    result.lateUpdates += instance->metrics().lateUpdates.load();
  };
  for (size_t i = 0; i < script.size(); ++i) {
    if (restartAt.contains(i)) {
      std::string blob;
      Status s = instance->op().snapshotState(static_cast<int64_t>(i), blob);
      EXPECT_TRUE(s.isOk()) << s.toString();
      addMetrics();
      const int64_t clock = instance->clock();
      instance.reset();  // nothing of the old instance may survive into the new one
      instance = std::make_unique<Instance<Out>>(make(), &result.log, clock);
      opened = instance->open();
      EXPECT_TRUE(opened.isOk()) << opened.toString();
      s = instance->op().restoreState(blob);
      EXPECT_TRUE(s.isOk()) << s.toString();
    }
    result.log.step = static_cast<int>(i);
    instance->apply(script[i]);
  }
  result.log.step = static_cast<int>(script.size());
  instance->op().finish();
  addMetrics();
  return result;
}

// ---------------------------------------------------------------------------------------------
// Comparing runs.

std::string windowText(const TimeWindow& w) {
  if (w.start == kMinTime && w.end == kMaxTime) return "global";
  return "[" + std::to_string(w.start) + "," + std::to_string(w.end) + ")";
}
template <class K>
std::string describe(const WindowResult<K, Sums>& r) {
  std::string key;
  if constexpr (std::is_same_v<StoredKeyOf<K>, std::string>) {
    key = r.key;
  } else {
    key = std::to_string(r.key);
  }
  return key + " " + windowText(r.window) + " " + rowKindCode(r.kind) + " " +
         std::to_string(r.value.first) + "/" + std::to_string(r.value.second);
}
std::string describe(const Joined& j) {
  return std::to_string(j.key) + " " + std::to_string(j.a) + "+" + std::to_string(j.b) + " @" +
         std::to_string(j.windowStart);
}

/// The log as lines "step: what", sorted: within one step the order of results follows hash
/// maps and is not part of the contract; which step emitted what is.
template <class Out>
std::vector<std::string> linesOf(const Log<Out>& log) {
  std::vector<std::string> lines;
  auto stepText = [](int step) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%06d: ", step);
    return std::string(buf);
  };
  for (const auto& [step, r] : log.results) lines.push_back(stepText(step) + describe(r));
  for (const auto& [step, e] : log.late)
    lines.push_back(stepText(step) + "late " + std::to_string(e.value));
  for (const auto& [step, wm] : log.watermarks)
    lines.push_back(stepText(step) + "watermark " + std::to_string(wm));
  std::sort(lines.begin(), lines.end());
  return lines;
}

/// Runs `script` uninterrupted and with restarts (in the middle, every 7 steps, before every
/// step) and expects the same output from all; returns the uninterrupted run.
template <class Out>
RunResult<Out> expectRestartsChangeNothing(const Factory& make, const std::vector<Step>& script) {
  RunResult<Out> whole = run<Out>(make, script);
  const std::vector<std::string> expected = linesOf(whole.log);
  EXPECT_FALSE(whole.log.results.empty());
  std::set<size_t> middle = {script.size() / 2}, every7, everyStep;
  for (size_t i = 1; i < script.size(); ++i) {
    if (i % 7 == 0) every7.insert(i);
    everyStep.insert(i);
  }
  const std::vector<std::pair<std::string, std::set<size_t>>> variants = {
      {"middle", middle}, {"every 7 steps", every7}, {"every step", everyStep}};
  for (const auto& [name, restarts] : variants) {
    SCOPED_TRACE(std::string("restarts: ") + name);
    RunResult<Out> restarted = run<Out>(make, script, restarts);
    EXPECT_EQ(linesOf(restarted.log), expected);
    EXPECT_EQ(restarted.lateRecords, whole.lateRecords);
    EXPECT_EQ(restarted.lateUpdates, whole.lateUpdates);
  }
  return whole;
}

// ---------------------------------------------------------------------------------------------
// References.

using WindowKey = std::tuple<std::string, int64_t, int64_t>;  // key, window start, end

/// Replays a changelog: +I adds a (key, window) result that must not exist, -U removes one that
/// must exist with that value, +U sets one. Returns the results standing at the end.
template <class K>
std::map<WindowKey, Sums> replay(const Log<WindowResult<K, Sums>>& log) {
  std::map<WindowKey, Sums> live;
  for (const auto& [step, r] : log.results) {
    std::string key;
    if constexpr (std::is_same_v<StoredKeyOf<K>, std::string>) {
      key = r.key;
    } else {
      key = std::to_string(r.key);
    }
    const WindowKey wk{key, r.window.start, r.window.end};
    switch (r.kind) {
      case RowKind::kInsert:
        EXPECT_FALSE(live.contains(wk)) << "second +I: " << describe(r);
        live[wk] = r.value;
        break;
      case RowKind::kUpdateBefore: {
        auto it = live.find(wk);
        if (it == live.end()) {
          ADD_FAILURE() << "-U of a result never emitted: " << describe(r);
          break;
        }
        EXPECT_EQ(it->second, r.value) << "-U of another value: " << describe(r);
        live.erase(it);
        break;
      }
      case RowKind::kUpdateAfter:
        live[wk] = r.value;
        break;
      case RowKind::kDelete:
        ADD_FAILURE() << "unexpected -D";
        break;
    }
  }
  return live;
}

/// The final (count, sum) of every (key, window) of aligned windows, by enumerating the windows
/// that cover each record: a record counts in a window unless, when it arrived, the watermark
/// had passed the window's end − 1 + allowed lateness.
std::map<WindowKey, Sums> alignedReference(const std::vector<Step>& script, int64_t size,
                                           int64_t slide, int64_t lateness) {
  std::map<WindowKey, Sums> out;
  for (const auto& [e, watermark] : arrivals(script)) {
    for (int64_t s = windowStartFor(e.ts, 0, slide); s > e.ts - size; s -= slide) {
      if (watermark != kMinTime && s + size - 1 + lateness <= watermark) continue;
      CountSum{}.add(e, out[{std::to_string(e.key), s, s + size}]);
    }
  }
  return out;
}

/// (count, sum) per key of the records not sent to the late-data output.
template <class Out>
std::map<std::string, Sums> keptPerKey(const std::vector<Step>& script, const Log<Out>& log) {
  std::set<int64_t> late;
  for (const auto& [step, e] : log.late) late.insert(e.value);
  std::map<std::string, Sums> out;
  for (const auto& [e, watermark] : arrivals(script)) {
    if (!late.contains(e.value)) CountSum{}.add(e, out[std::to_string(e.key)]);
  }
  return out;
}

std::map<std::string, Sums> sumPerKey(const std::map<WindowKey, Sums>& live) {
  std::map<std::string, Sums> out;
  for (const auto& [wk, v] : live) CountSum{}.merge(v, out[std::get<0>(wk)]);
  return out;
}

std::vector<std::string> sortedJoins(const Log<Joined>& log) {
  std::vector<std::string> out;
  for (const auto& [step, j] : log.results) out.push_back(describe(j));
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Restored runs equal uninterrupted ones.

TEST(OperatorSnapshotTest, TumblingEventTime) {
  const auto script = eventTimeScript(600, 7, 0);
  const auto whole =
      expectRestartsChangeNothing<Result>(aligned(TumblingWindows::eventTime(100ms), {}), script);
  EXPECT_EQ(replay(whole.log), alignedReference(script, 100, 100, 0));
  EXPECT_EQ(whole.lateRecords, 0);
}

TEST(OperatorSnapshotTest, TumblingEventTimeDropsLateRecords) {
  const auto script = eventTimeScript(600, 7, 11);
  const auto whole = expectRestartsChangeNothing<Result>(
      aligned(TumblingWindows::eventTime(100ms), withLateness(0)), script);
  EXPECT_EQ(replay(whole.log), alignedReference(script, 100, 100, 0));
  EXPECT_GT(whole.lateRecords, 0);
  EXPECT_EQ(whole.log.late.size(), static_cast<size_t>(whole.lateRecords));
}

TEST(OperatorSnapshotTest, SlidingEventTimeWithAllowedLateness) {
  const auto script = eventTimeScript(600, 7, 9);
  // Size not a multiple of the slide: panes of 10 ms; late records update fired windows.
  const auto whole = expectRestartsChangeNothing<Result>(
      aligned(SlidingWindows::eventTime(100ms, 30ms), withLateness(80)), script);
  EXPECT_EQ(replay(whole.log), alignedReference(script, 100, 30, 80));
  EXPECT_GT(whole.lateRecords, 0);
  EXPECT_GT(whole.lateUpdates, 0);
}

TEST(OperatorSnapshotTest, SlidingEventTimeWithEarlyFiring) {
  // Early results every 20 ms of processing time (the clock moves 7 ms per batch) update later.
  const auto script = eventTimeScript(600, 5, 13, 1, 7);
  const auto whole = expectRestartsChangeNothing<Result>(
      aligned(SlidingWindows::eventTime(100ms, 50ms), withLateness(40, Trigger::earlyEvery(20ms))),
      script);
  EXPECT_EQ(replay(whole.log), alignedReference(script, 100, 50, 40));
  const bool anyUpdate =
      std::any_of(whole.log.results.begin(), whole.log.results.end(),
                  [](const auto& r) { return r.second.kind == RowKind::kUpdateBefore; });
  EXPECT_TRUE(anyUpdate);
}

TEST(OperatorSnapshotTest, SlidingProcessWindowKeepsRecords) {
  // A full-window function: the accumulators are the windows' records.
  const auto script = eventTimeScript(400, 5, 9);
  const auto whole = expectRestartsChangeNothing<Result>(
      alignedProcess(SlidingWindows::eventTime(60ms, 20ms), withLateness(30)), script);
  // The last result of each window holds the records the reference counts.
  std::map<WindowKey, Sums> last;
  for (const auto& [step, r] : whole.log.results)
    last[{std::to_string(r.key), r.window.start, r.window.end}] = r.value;
  EXPECT_EQ(last, alignedReference(script, 60, 20, 30));
}

TEST(OperatorSnapshotTest, ProcessingTimeWindowsWithEarlyFiring) {
  const auto script = processingTimeScript(500, 5);
  const auto whole =
      expectRestartsChangeNothing<Result>(aligned(SlidingWindows::processingTime(40ms, 20ms),
                                                  withLateness(0, Trigger::earlyEvery(15ms))),
                                          script);
  // Every record that is not late ends up in the standing results of both its windows.
  std::map<std::string, Sums> twice = keptPerKey(script, whole.log);
  for (auto& [key, sums] : twice) sums = {2 * sums.first, 2 * sums.second};
  EXPECT_EQ(sumPerKey(replay(whole.log)), twice);
}

TEST(OperatorSnapshotTest, SessionEventTimeWithAllowedLateness) {
  const auto script = eventTimeScript(600, 9, 7);
  const auto whole = expectRestartsChangeNothing<Result>(
      session(SessionWindows::withGap(25ms), withLateness(40)), script);
  // Each record that is not late stands in exactly one session result at the end.
  EXPECT_EQ(sumPerKey(replay(whole.log)), keptPerKey(script, whole.log));
  EXPECT_GT(whole.lateRecords, 0);
  EXPECT_GT(whole.lateUpdates, 0);
}

TEST(OperatorSnapshotTest, SessionProcessingTime) {
  const auto script = processingTimeScript(400, 9);
  const auto whole = expectRestartsChangeNothing<Result>(
      session(SessionWindows::processingTimeWithGap(12ms), WindowOptions{}), script);
  EXPECT_EQ(sumPerKey(replay(whole.log)), keptPerKey(script, whole.log));
}

TEST(OperatorSnapshotTest, CountWindows) {
  const auto script = eventTimeScript(500, 6, 0);
  for (CountWindows windows : {CountWindows::sliding(5, 2), CountWindows::of(4)}) {
    SCOPED_TRACE("size " + std::to_string(windows.size) + " slide " +
                 std::to_string(windows.slide));
    const auto whole = expectRestartsChangeNothing<NamedResult>(countWindows(windows), script);
    // Reference: per key, in arrival order, a window over the last `size` records every `slide`.
    std::map<std::string, std::vector<Ev>> byKey;
    for (const auto& [e, watermark] : arrivals(script))
      byKey[std::string(NameOf{}(e))].push_back(e);
    std::vector<std::string> expected, actual;
    for (const auto& [key, records] : byKey) {
      for (int64_t end = windows.slide; end <= static_cast<int64_t>(records.size());
           end += windows.slide) {
        const int64_t start = std::max<int64_t>(0, end - windows.size);
        Sums s{0, 0};
        for (int64_t i = start; i < end; ++i) CountSum{}.add(records[static_cast<size_t>(i)], s);
        expected.push_back(describe(NamedResult{key, TimeWindow{start, end}, s, RowKind::kInsert}));
      }
    }
    for (const auto& [step, r] : whole.log.results) actual.push_back(describe(r));
    std::sort(expected.begin(), expected.end());
    std::sort(actual.begin(), actual.end());
    EXPECT_EQ(actual, expected);
  }
}

TEST(OperatorSnapshotTest, GlobalWindowsCountTrigger) {
  const auto script = eventTimeScript(500, 6, 0);
  const auto whole =
      expectRestartsChangeNothing<Result>(globalWindows(Trigger::countOf(3)), script);
  EXPECT_EQ(sumPerKey(replay(whole.log)), keptPerKey(script, whole.log));
}

TEST(OperatorSnapshotTest, GlobalWindowsProcessingTimeTrigger) {
  const auto script = processingTimeScript(400, 6);
  const auto whole = expectRestartsChangeNothing<Result>(
      globalWindows(Trigger::processingTimeEvery(10ms)), script);
  EXPECT_EQ(sumPerKey(replay(whole.log)), keptPerKey(script, whole.log));
  const bool anyUpdate =
      std::any_of(whole.log.results.begin(), whole.log.results.end(),
                  [](const auto& r) { return r.second.kind == RowKind::kUpdateAfter; });
  EXPECT_TRUE(anyUpdate);
}

TEST(OperatorSnapshotTest, IntervalJoin) {
  const auto script = eventTimeScript(600, 5, 10, 2);
  const auto whole = expectRestartsChangeNothing<Joined>(intervalJoin(-20, 30), script);
  // Reference: every pair of records that were not late (ts above the watermark on arrival).
  auto kept = [&](int input) {
    std::vector<Ev> out;
    for (const auto& [e, watermark] : arrivals(script, input))
      if (watermark == kMinTime || e.ts > watermark) out.push_back(e);
    return out;
  };
  std::vector<std::string> expected;
  for (const Ev& a : kept(0))
    for (const Ev& b : kept(1))
      if (a.key == b.key && a.ts - 20 <= b.ts && b.ts <= a.ts + 30)
        expected.push_back(describe(Joined{a.key, a.value, b.value, 0}));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(sortedJoins(whole.log), expected);
  EXPECT_GT(whole.lateRecords, 0);
}

TEST(OperatorSnapshotTest, WindowJoin) {
  const auto script = eventTimeScript(600, 5, 10, 2);
  const auto whole = expectRestartsChangeNothing<Joined>(
      windowJoin(SlidingWindows::eventTime(60ms, 20ms)), script);
  // Reference: per window and key, every pair of records added while the window had not fired.
  std::map<std::pair<int64_t, int64_t>, std::pair<std::vector<Ev>, std::vector<Ev>>>
      windows;  // (start, key)
  for (int input : {0, 1}) {
    for (const auto& [e, watermark] : arrivals(script, input)) {
      for (int64_t s = windowStartFor(e.ts, 0, 20); s > e.ts - 60; s -= 20) {
        if (watermark != kMinTime && s + 60 - 1 <= watermark) continue;
        auto& sides = windows[{s, e.key}];
        (input == 0 ? sides.first : sides.second).push_back(e);
      }
    }
  }
  std::vector<std::string> expected;
  for (const auto& [w, sides] : windows)
    for (const Ev& a : sides.first)
      for (const Ev& b : sides.second)
        expected.push_back(describe(Joined{a.key, a.value, b.value, w.first}));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(sortedJoins(whole.log), expected);
  EXPECT_GT(whole.lateRecords, 0);
}

TEST(OperatorSnapshotTest, JoinsPublishTheirEarliestPendingTimer) {
  auto records = [](int input, std::vector<Ev> r) { return Step{Step::Kind::kRecords, input, std::move(r), 0}; };
  auto watermark = [](int64_t wm) { return Step{Step::Kind::kWatermark, 0, {}, wm}; };
  {
    // Interval join [-20, 30]: an a at ts is kept until ts + 30, a b until ts + 20.
    Log<Joined> log;
    Instance<Joined> join(intervalJoin(-20, 30)(), &log, 0);
    ASSERT_TRUE(join.open().isOk());
    EXPECT_TRUE(join.op().checkSnapshottable().isOk());
    EXPECT_EQ(join.op().nextEventTimer(), kMaxTime);
    join.apply(records(0, {{1, 100, 1}}));
    EXPECT_EQ(join.op().nextEventTimer(), 130);
    join.apply(records(1, {{1, 50, 2}}));
    EXPECT_EQ(join.op().nextEventTimer(), 70);
    join.apply(watermark(80));  // the b is dropped
    EXPECT_EQ(join.op().nextEventTimer(), 130);
    join.apply(watermark(200));
    EXPECT_EQ(join.op().nextEventTimer(), kMaxTime);
  }
  {
    // Tumbling 60 ms windows fire at their last millisecond: [60, 120) at 119, [0, 60) at 59.
    Log<Joined> log;
    Instance<Joined> join(windowJoin(TumblingWindows::eventTime(60ms))(), &log, 0);
    ASSERT_TRUE(join.open().isOk());
    EXPECT_EQ(join.op().nextEventTimer(), kMaxTime);
    join.apply(records(0, {{1, 100, 1}}));
    EXPECT_EQ(join.op().nextEventTimer(), 119);
    join.apply(records(1, {{2, 10, 2}}));
    EXPECT_EQ(join.op().nextEventTimer(), 59);
    join.apply(watermark(59));
    EXPECT_EQ(join.op().nextEventTimer(), 119);
    join.apply(watermark(119));
    EXPECT_EQ(join.op().nextEventTimer(), kMaxTime);
  }
}

// ---------------------------------------------------------------------------------------------
// Bad snapshots and types that cannot be snapshotted.

/// Runs the first half of `script` and returns the snapshot.
template <class Out>
std::string snapshotHalfway(const Factory& make, const std::vector<Step>& script) {
  Log<Out> log;
  Instance<Out> instance(make(), &log, kStartClock);
  EXPECT_TRUE(instance.open().isOk());
  for (size_t i = 0; i < script.size() / 2; ++i) instance.apply(script[i]);
  std::string blob;
  Status s = instance.op().snapshotState(1, blob);
  EXPECT_TRUE(s.isOk()) << s.toString();
  return blob;
}

template <class Out>
Status restoreFresh(const Factory& make, std::string_view blob) {
  Log<Out> log;
  Instance<Out> instance(make(), &log, kStartClock);
  EXPECT_TRUE(instance.open().isOk());
  return instance.op().restoreState(blob);
}

/// Every strict prefix of a good blob, a blob of another version and one with bytes appended
/// are rejected as corruption, naming the operator.
template <class Out>
void expectBadBlobsRejected(const Factory& make, const std::vector<Step>& script) {
  const std::string blob = snapshotHalfway<Out>(make, script);
  ASSERT_GT(blob.size(), 100u);
  EXPECT_TRUE(restoreFresh<Out>(make, blob).isOk());
  // Every prefix near the ends, a sample in between.
  for (size_t n = 0; n < blob.size(); n += (n < 64 || n + 64 > blob.size()) ? 1 : 7) {
    Status s = restoreFresh<Out>(make, std::string_view(blob).substr(0, n));
    ASSERT_EQ(s.code(), StatusCode::kCorruption)
        << "prefix of " << n << " of " << blob.size() << " bytes";
    EXPECT_THAT(s.message(), HasSubstr("operator 'windows'"));
  }
  std::string otherVersion = blob;
  otherVersion[0] = 2;
  Status s = restoreFresh<Out>(make, otherVersion);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_THAT(s.message(), HasSubstr("version 2"));
  EXPECT_EQ(restoreFresh<Out>(make, blob + "x").code(), StatusCode::kCorruption);
}

// Found by the state fuzzer: a checkpointed pane starting at INT64_MIN made the next watermark's
// window arithmetic overflow. A pane start must be a valid timestamp aligned to the pane.
TEST(OperatorSnapshotTest, APaneStartNoWindowCanHaveIsCorruption) {
  const auto make = aligned(SlidingWindows::eventTime(100ms, 30ms), withLateness(50, Trigger{}));
  const std::string blob = snapshotHalfway<Result>(make, eventTimeScript(300, 5, 9, 1, 7));
  ASSERT_TRUE(restoreFresh<Result>(make, blob).isOk());
  // Version 1: u8 version, i64 current, i64 two callbacks, u64 pane count, then the first pane's
  // start at byte 33.
  ASSERT_GT(blob.size(), 41u);
  for (int64_t start : {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), int64_t{7}}) {
    std::string bad = blob;
    std::memcpy(bad.data() + 33, &start, sizeof start);
    Status s = restoreFresh<Result>(make, bad);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << start << ": " << s.toString();
  }
}

// Found by the state fuzzer: a restored session window ending at INT64_MIN overflowed
// maxTimestamp() at the next firing. Only windows an operator could have made are read back.
TEST(OperatorSnapshotTest, AWindowNoOperatorCouldMakeIsNotReadBack) {
  auto reads = [](TimeWindow w) {
    std::string blob;
    detail::writeSnapshotWindow(w, blob);
    std::string_view in = blob;
    TimeWindow back;
    return detail::readSnapshotWindow(in, back) && back == w;
  };
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  EXPECT_TRUE(reads({1000, 1025}));
  EXPECT_TRUE(reads({kMinEventTimestamp, kMinEventTimestamp + 1}));
  EXPECT_TRUE(reads({kMaxEventTimestamp, kMaxEventTimestamp + kMaxWindowSpanMs}));
  EXPECT_FALSE(reads({1000, kMin}));        // the fuzzer's window
  EXPECT_FALSE(reads({1000, 1000}));        // empty
  EXPECT_FALSE(reads({kMin, kMin + 10}));   // starts where no timestamp is
  EXPECT_FALSE(reads({kMaxEventTimestamp, kMaxEventTimestamp + kMaxWindowSpanMs + 1}));
}

TEST(OperatorSnapshotTest, TruncatedOrForeignBlobsAreCorruption) {
  const auto eventTime = eventTimeScript(300, 5, 9, 1, 7);
  const auto twoInputs = eventTimeScript(300, 5, 9, 2);
  const auto processingTime = processingTimeScript(300, 5);
  {
    SCOPED_TRACE("sliding");
    expectBadBlobsRejected<Result>(aligned(SlidingWindows::eventTime(100ms, 30ms),
                                           withLateness(50, Trigger::earlyEvery(20ms))),
                                   eventTime);
  }
  {
    SCOPED_TRACE("process window");
    expectBadBlobsRejected<Result>(
        alignedProcess(TumblingWindows::eventTime(50ms), withLateness(30)), eventTime);
  }
  {
    SCOPED_TRACE("session");
    expectBadBlobsRejected<Result>(session(SessionWindows::withGap(25ms), withLateness(40)),
                                   eventTime);
  }
  {
    SCOPED_TRACE("count");
    expectBadBlobsRejected<NamedResult>(countWindows(CountWindows::sliding(5, 2)), eventTime);
  }
  {
    SCOPED_TRACE("global");
    expectBadBlobsRejected<Result>(globalWindows(Trigger::processingTimeEvery(10ms)),
                                   processingTime);
  }
  {
    SCOPED_TRACE("interval join");
    expectBadBlobsRejected<Joined>(intervalJoin(-20, 30), twoInputs);
  }
  {
    SCOPED_TRACE("window join");
    expectBadBlobsRejected<Joined>(windowJoin(TumblingWindows::eventTime(60ms)), twoInputs);
  }
}

/// A type with no Serde specialisation.
struct Opaque {
  int64_t n = 0;
};
struct OpaqueCount {
  Opaque createAccumulator() const { return {}; }
  void add(const Ev&, Opaque& a) const { ++a.n; }
  void merge(const Opaque& from, Opaque& into) const { into.n += from.n; }
  int64_t getResult(const Opaque& a) const { return a.n; }
};
struct OpaqueKeyOf {
  int64_t operator()(const Opaque& o) const { return o.n; }
};
struct OpaqueTsOf {
  int64_t operator()(const Opaque& o) const { return o.n; }
};
struct JoinOpaque {
  void operator()(const Opaque&, const Ev&, Emitter<Joined>&) const {}
};
struct JoinOpaqueInWindow {
  void operator()(const Opaque&, const Ev&, const TimeWindow&, Emitter<Joined>&) const {}
};

template <class Out>
void expectNotSupported(std::unique_ptr<Operator> op, const std::string& what) {
  Log<Out> log;
  Instance<Out> instance(std::move(op), &log, kStartClock);
  ASSERT_TRUE(instance.open().isOk());
  // Asked before any checkpoint (at a job's start), the operator gives the snapshot's answer.
  Status early = instance.op().checkSnapshottable();
  EXPECT_EQ(early.code(), StatusCode::kNotSupported) << early.toString();
  EXPECT_THAT(early.message(), HasSubstr("operator 'windows': " + what + " type has no Serde specialisation"));
  std::string blob;
  Status s = instance.op().snapshotState(1, blob);
  EXPECT_EQ(s.code(), StatusCode::kNotSupported) << s.toString();
  EXPECT_THAT(s.message(),
              HasSubstr("operator 'windows': " + what + " type has no Serde specialisation"));
  EXPECT_EQ(instance.op().restoreState("\x01").code(), StatusCode::kNotSupported);
}

TEST(OperatorSnapshotTest, TypesWithoutSerdeAreNotSupported) {
  using OpaqueResult = WindowResult<int64_t, int64_t>;
  using OpaqueEmit = detail::AggregateEmit<int64_t, OpaqueCount, OpaqueResult>;
  expectNotSupported<OpaqueResult>(
      std::make_unique<detail::AlignedWindowOperator<Ev, int64_t, KeyOf, TsOf, OpaqueCount,
                                                     OpaqueResult, OpaqueEmit>>(
          KeyOf{}, TsOf{}, OpaqueCount{}, OpaqueEmit{OpaqueCount{}},
          detail::AlignedSpec::of(TumblingWindows::eventTime(10ms)), WindowOptions{}, nullptr),
      "accumulator");
  expectNotSupported<OpaqueResult>(
      std::make_unique<detail::SessionWindowOperator<Ev, int64_t, KeyOf, TsOf, OpaqueCount,
                                                     OpaqueResult, OpaqueEmit>>(
          KeyOf{}, TsOf{}, OpaqueCount{}, OpaqueEmit{OpaqueCount{}}, SessionWindows::withGap(10ms),
          WindowOptions{}, nullptr),
      "accumulator");
  expectNotSupported<OpaqueResult>(
      std::make_unique<
          detail::CountWindowOperator<Ev, int64_t, KeyOf, OpaqueCount, OpaqueResult, OpaqueEmit>>(
          KeyOf{}, OpaqueCount{}, OpaqueEmit{OpaqueCount{}}, CountWindows::of(3), WindowOptions{},
          nullptr),
      "accumulator");
  expectNotSupported<OpaqueResult>(
      std::make_unique<
          detail::GlobalWindowOperator<Ev, int64_t, KeyOf, OpaqueCount, OpaqueResult, OpaqueEmit>>(
          KeyOf{}, OpaqueCount{}, OpaqueEmit{OpaqueCount{}}, WindowOptions{}, nullptr),
      "accumulator");
  expectNotSupported<Joined>(
      std::make_unique<detail::IntervalJoinOperator<Opaque, Ev, int64_t, Joined, OpaqueKeyOf, KeyOf,
                                                    OpaqueTsOf, TsOf, JoinOpaque>>(
          OpaqueKeyOf{}, KeyOf{}, OpaqueTsOf{}, TsOf{}, 0, 10, JoinOpaque{}, nullptr),
      "first input's record");
  expectNotSupported<Joined>(
      std::make_unique<detail::WindowJoinOperator<Opaque, Ev, int64_t, Joined, OpaqueKeyOf, KeyOf,
                                                  OpaqueTsOf, TsOf, JoinOpaqueInWindow>>(
          OpaqueKeyOf{}, KeyOf{}, OpaqueTsOf{}, TsOf{},
          detail::AlignedSpec::of(TumblingWindows::eventTime(10ms)), JoinOpaqueInWindow{}, nullptr),
      "first input's record");
}

// ---------------------------------------------------------------------------------------------
// Incremental snapshots of the aligned window operator (snapshotDelta / restoreDelta).

/// Checkpoints of a run with incremental snapshots. Before step i: a full snapshot (a new chain)
/// if i is in `full`, then a delta if i is in `delta`; then, if i is in `restart`, the instance
/// (which must also take a snapshot) is replaced by a fresh one restored from the chain (the
/// base, then each delta in order), which goes on extending the chain.
struct ChainPlan {
  std::set<size_t> full, delta, restart;
};

template <class Out>
struct ChainRunResult {
  RunResult<Out> run;
  std::vector<std::string> fulls;   ///< every full snapshot written
  std::vector<std::string> deltas;  ///< every delta written
  int restores = 0;
};

/// Opens a fresh instance and restores it from `base` and `deltas`; the first error, if any.
template <class Out>
Status restoreChain(Instance<Out>& instance, const std::string* base,
                    const std::vector<std::string_view>& deltas) {
  REKA_RETURN_IF_ERROR(instance.open());
  if (base != nullptr) REKA_RETURN_IF_ERROR(instance.op().restoreState(*base));
  for (std::string_view d : deltas) REKA_RETURN_IF_ERROR(instance.op().restoreDelta(d));
  return Status::ok();
}

template <class Out>
ChainRunResult<Out> runWithChain(const Factory& make, const std::vector<Step>& script,
                                 const ChainPlan& plan) {
  ChainRunResult<Out> result;
  auto instance = std::make_unique<Instance<Out>>(make(), &result.run.log, kStartClock);
  Status s = instance->open();
  EXPECT_TRUE(s.isOk()) << s.toString();
  EXPECT_TRUE(instance->op().supportsDeltaSnapshots());
  auto addMetrics = [&] {
    result.run.lateRecords += instance->metrics().lateRecords.load();
    result.run.lateUpdates += instance->metrics().lateUpdates.load();
  };
  std::optional<std::string> base;
  std::vector<std::string> chain;
  for (size_t i = 0; i < script.size(); ++i) {
    const auto id = static_cast<int64_t>(i);
    if (plan.full.contains(i)) {
      base.emplace();
      chain.clear();
      s = instance->op().snapshotState(id, *base);
      EXPECT_TRUE(s.isOk()) << s.toString();
      result.fulls.push_back(*base);
    }
    if (plan.delta.contains(i)) {
      EXPECT_TRUE(base.has_value()) << "a delta at step " << i << " without a base";
      std::string delta;
      s = instance->op().snapshotDelta(id, delta);
      EXPECT_TRUE(s.isOk()) << s.toString();
      chain.push_back(delta);
      result.deltas.push_back(std::move(delta));
    }
    // The chain holds the state as of its last snapshot: a restart needs one at its step.
    const bool snapshotted = base && (plan.full.contains(i) || plan.delta.contains(i));
    EXPECT_TRUE(snapshotted || !plan.restart.contains(i))
        << "a restart without a snapshot at step " << i;
    if (plan.restart.contains(i) && snapshotted) {
      addMetrics();
      const int64_t clock = instance->clock();
      const uint64_t live = instance->op().deltaStats().live;
      instance.reset();  // nothing of the old instance may survive into the new one
      instance = std::make_unique<Instance<Out>>(make(), &result.run.log, clock);
      s = restoreChain(*instance, &*base,
                       std::vector<std::string_view>(chain.begin(), chain.end()));
      EXPECT_TRUE(s.isOk()) << s.toString();
      EXPECT_EQ(instance->op().deltaStats().live, live)
          << "entries after the restore at step " << i;
      ++result.restores;
    }
    result.run.log.step = static_cast<int>(i);
    instance->apply(script[i]);
  }
  result.run.log.step = static_cast<int>(script.size());
  instance->op().finish();
  addMetrics();
  return result;
}

/// The little-endian u64 at byte `at` of a snapshot blob.
uint64_t u64At(const std::string& blob, size_t at) {
  std::string_view in = std::string_view(blob).substr(std::min(at, blob.size()));
  uint64_t v = 0;
  EXPECT_TRUE(Serde<uint64_t>::read(in, v)) << "a blob of " << blob.size() << " bytes";
  return v;
}
// Offsets in a delta of the aligned window operator: after the version byte and three i64.
constexpr size_t kDeltaDroppedCountAt = 1 + 3 * 8;

/// Runs `script` uninterrupted and with delta chains (one long chain restored near the end; a
/// delta before every step with restarts every 11 steps; new bases every 40 steps with deltas
/// every 3 and restarts every 17) and expects the same output from all; returns the
/// uninterrupted run.
template <class Out>
RunResult<Out> expectDeltaChainsChangeNothing(const Factory& make,
                                              const std::vector<Step>& script) {
  RunResult<Out> whole = run<Out>(make, script);
  const std::vector<std::string> expected = linesOf(whole.log);
  EXPECT_FALSE(whole.log.results.empty());
  const size_t n = script.size();
  ChainPlan longChain, everyStep, rebased;
  longChain.full = {n / 4};
  for (size_t i = n / 4 + 5; i < n; i += 5) longChain.delta.insert(i);
  longChain.restart = {*std::prev(longChain.delta.lower_bound(3 * n / 4))};
  everyStep.full = {1};
  for (size_t i = 2; i < n; ++i) {
    everyStep.delta.insert(i);
    if (i % 11 == 0) everyStep.restart.insert(i);
    if (i % 40 == 0) rebased.full.insert(i);
    if (i % 3 == 0 && i >= 40) rebased.delta.insert(i);
    if (i % 17 == 0 && i > 40) {
      rebased.delta.insert(i);
      rebased.restart.insert(i);
    }
  }
  const std::vector<std::pair<std::string, ChainPlan>> variants = {
      {"one chain", longChain}, {"delta every step", everyStep}, {"new base every 40", rebased}};
  for (const auto& [name, plan] : variants) {
    SCOPED_TRACE("delta chain: " + name);
    ChainRunResult<Out> chained = runWithChain<Out>(make, script, plan);
    EXPECT_EQ(linesOf(chained.run.log), expected);
    EXPECT_EQ(chained.run.lateRecords, whole.lateRecords);
    EXPECT_EQ(chained.run.lateUpdates, whole.lateUpdates);
    EXPECT_GT(chained.restores, 0);
    // Windows fired between deltas: some deltas drop panes.
    const bool anyDrop =
        std::any_of(chained.deltas.begin(), chained.deltas.end(),
                    [](const auto& d) { return u64At(d, kDeltaDroppedCountAt) > 0; });
    EXPECT_TRUE(anyDrop);
  }
  return whole;
}

TEST(OperatorSnapshotTest, DeltaChainsTumblingEventTime) {
  const auto script = eventTimeScript(600, 7, 0);
  const auto whole = expectDeltaChainsChangeNothing<Result>(
      aligned(TumblingWindows::eventTime(100ms), {}), script);
  EXPECT_EQ(replay(whole.log), alignedReference(script, 100, 100, 0));
}

TEST(OperatorSnapshotTest, DeltaChainsTumblingEventTimeWithAllowedLateness) {
  const auto script = eventTimeScript(600, 7, 11);
  const auto whole = expectDeltaChainsChangeNothing<Result>(
      aligned(TumblingWindows::eventTime(100ms), withLateness(60)), script);
  EXPECT_EQ(replay(whole.log), alignedReference(script, 100, 100, 60));
  EXPECT_GT(whole.lateRecords, 0);
  EXPECT_GT(whole.lateUpdates, 0);
}

TEST(OperatorSnapshotTest, DeltaChainsSlidingEventTimeWithAllowedLateness) {
  const auto script = eventTimeScript(600, 7, 9);
  const auto whole = expectDeltaChainsChangeNothing<Result>(
      aligned(SlidingWindows::eventTime(100ms, 30ms), withLateness(80)), script);
  EXPECT_EQ(replay(whole.log), alignedReference(script, 100, 30, 80));
  EXPECT_GT(whole.lateRecords, 0);
  EXPECT_GT(whole.lateUpdates, 0);
}

TEST(OperatorSnapshotTest, DeltaChainsSlidingEventTimeWithEarlyFiring) {
  const auto script = eventTimeScript(600, 5, 13, 1, 7);
  const auto whole = expectDeltaChainsChangeNothing<Result>(
      aligned(SlidingWindows::eventTime(100ms, 50ms), withLateness(40, Trigger::earlyEvery(20ms))),
      script);
  EXPECT_EQ(replay(whole.log), alignedReference(script, 100, 50, 40));
}

TEST(OperatorSnapshotTest, DeltaChainsSlidingProcessWindow) {
  const auto script = eventTimeScript(400, 5, 9);
  const auto whole = expectDeltaChainsChangeNothing<Result>(
      alignedProcess(SlidingWindows::eventTime(60ms, 20ms), withLateness(30)), script);
  std::map<WindowKey, Sums> last;
  for (const auto& [step, r] : whole.log.results)
    last[{std::to_string(r.key), r.window.start, r.window.end}] = r.value;
  EXPECT_EQ(last, alignedReference(script, 60, 20, 30));
}

TEST(OperatorSnapshotTest, DeltaChainsProcessingTimeWithEarlyFiring) {
  // Restoring a chain asks for the base's callbacks, then for the last delta's: the stale ones
  // must not fire anything.
  const auto script = processingTimeScript(500, 5);
  const auto whole =
      expectDeltaChainsChangeNothing<Result>(aligned(SlidingWindows::processingTime(40ms, 20ms),
                                                     withLateness(0, Trigger::earlyEvery(15ms))),
                                             script);
  std::map<std::string, Sums> twice = keptPerKey(script, whole.log);
  for (auto& [key, sums] : twice) sums = {2 * sums.first, 2 * sums.second};
  EXPECT_EQ(sumPerKey(replay(whole.log)), twice);
}

TEST(OperatorSnapshotTest, DeltaAfterNoChangeIsSmall) {
  const auto script = eventTimeScript(600, 7, 11);
  const Factory make = aligned(SlidingWindows::eventTime(100ms, 30ms), withLateness(50));
  const std::vector<std::string> expected = linesOf(run<Result>(make, script).log);
  const size_t mid = script.size() / 2;
  // The delta right after the full snapshot: header, no drops, no panes, no early results.
  ChainRunResult<Result> chained =
      runWithChain<Result>(make, script, ChainPlan{{mid}, {mid, mid + 1}, {mid + 1}});
  ASSERT_EQ(chained.deltas.size(), 2u);
  EXPECT_EQ(chained.deltas[0].size(), 1u + 3 * 8 + 3 * 8);
  EXPECT_GT(chained.fulls[0].size(), 500u);
  EXPECT_EQ(linesOf(chained.run.log), expected);
}

/// A window delta that drops no pane and holds one pane with one upsert, (key, acc), and no
/// deletion.
void expectOnePaneWithOneUpsert(const std::string& delta, uint64_t key, Sums acc) {
  EXPECT_EQ(u64At(delta, kDeltaDroppedCountAt), 0u);
  EXPECT_EQ(u64At(delta, kDeltaDroppedCountAt + 8), 1u);
  EXPECT_EQ(u64At(delta, kDeltaDroppedCountAt + 24), 1u);
  EXPECT_EQ(u64At(delta, kDeltaDroppedCountAt + 32), key);
  EXPECT_EQ(u64At(delta, kDeltaDroppedCountAt + 40), static_cast<uint64_t>(acc.first));
  EXPECT_EQ(u64At(delta, kDeltaDroppedCountAt + 48), static_cast<uint64_t>(acc.second));
  EXPECT_EQ(u64At(delta, kDeltaDroppedCountAt + 56), 0u);
}

TEST(OperatorSnapshotTest, DeltaHoldsOnlyTheChangedKeys) {
  // One big pane of 2000 keys; then one record changes key 5.
  std::vector<Step> script;
  Step big{Step::Kind::kRecords, 0, {}, 0};
  for (int64_t k = 0; k < 2000; ++k) big.records.push_back({k, 10 + k % 500, k});
  script.push_back(std::move(big));
  script.push_back({Step::Kind::kWatermark, 0, {}, 5});
  script.push_back({Step::Kind::kRecords, 0, {{5, 700, 5000}}, 0});
  script.push_back({Step::Kind::kWatermark, 0, {}, 10});
  script.push_back({Step::Kind::kWatermark, 0, {}, kMaxTime});
  const Factory make = aligned(TumblingWindows::eventTime(1s), {});
  RunResult<Result> whole = run<Result>(make, script);
  ASSERT_EQ(whole.log.results.size(), 2000u);
  ChainRunResult<Result> chained = runWithChain<Result>(make, script, ChainPlan{{2}, {3, 4}, {4}});
  EXPECT_EQ(linesOf(chained.run.log), linesOf(whole.log));
  ASSERT_EQ(chained.fulls.size(), 1u);
  ASSERT_EQ(chained.deltas.size(), 2u);
  const std::string& delta = chained.deltas[0];
  {
    // The full snapshot keeps its format: each pane's map is Serde of a flat_hash_map.
    std::string_view in = chained.fulls[0];
    uint8_t version = 0;
    int64_t current = 0, windowCallbackAt = 0, earlyCallbackAt = 0, start = -1;
    uint64_t panes = 0, early = 1;
    using AccMap = absl::flat_hash_map<int64_t, Sums>;
    AccMap accs;
    ASSERT_TRUE(Serde<uint8_t>::read(in, version) && Serde<int64_t>::read(in, current) &&
                Serde<int64_t>::read(in, windowCallbackAt) &&
                Serde<int64_t>::read(in, earlyCallbackAt) && Serde<uint64_t>::read(in, panes) &&
                Serde<int64_t>::read(in, start) && Serde<AccMap>::read(in, accs) &&
                Serde<uint64_t>::read(in, early));
    EXPECT_EQ(version, 1);
    EXPECT_EQ(current, 5);
    EXPECT_EQ(windowCallbackAt, kMaxTime);
    EXPECT_EQ(earlyCallbackAt, kMaxTime);
    EXPECT_EQ(panes, 1u);
    EXPECT_EQ(start, 0);
    EXPECT_EQ(accs.size(), 2000u);
    EXPECT_EQ(accs[7], (Sums{1, 7}));
    EXPECT_EQ(early, 0u);
    EXPECT_TRUE(in.empty());
  }
  EXPECT_GT(chained.fulls[0].size(), 2000u * 24);
  EXPECT_LT(delta.size() * 100, chained.fulls[0].size());
  // No drops; one pane; in it one upsert (key 5, count 2, sum 5005) and no deletion.
  expectOnePaneWithOneUpsert(delta, 5, {2, 5005});
  // A watermark that fires nothing changes no pane.
  EXPECT_EQ(chained.deltas[1].size(), 1u + 3 * 8 + 3 * 8);
}

/// A maximum whose add() reports whether it changed the accumulator, like NEXMark q7's: the
/// accumulator is (highest price, records at that price); a lower price leaves it as it was.
/// Prices repeat and do not rise with the record number: price(v) = 37·v mod 101.
int64_t priceOf(const Ev& e) { return e.value * 37 % 101; }
struct MaxPrice {
  Sums createAccumulator() const { return {-1, 0}; }
  bool add(const Ev& e, Sums& a) const {
    const int64_t p = priceOf(e);
    if (p < a.first) return false;
    if (p > a.first) a = {p, 0};
    ++a.second;
    return true;
  }
  void merge(const Sums& from, Sums& into) const {
    if (from.first > into.first) into = from;
    else if (from.first == into.first) into.second += from.second;
  }
  Sums getResult(const Sums& a) const { return a; }
};

/// Per key and window: the highest price of the records it keeps and how many have it, from
/// the list of those prices.
std::map<WindowKey, Sums> maxPriceReference(const std::vector<Step>& script, int64_t size,
                                            int64_t slide, int64_t lateness) {
  std::map<WindowKey, std::vector<int64_t>> prices;
  for (const auto& [e, watermark] : arrivals(script)) {
    for (int64_t s = windowStartFor(e.ts, 0, slide); s > e.ts - size; s -= slide) {
      if (watermark != kMinTime && s + size - 1 + lateness <= watermark) continue;
      prices[{std::to_string(e.key), s, s + size}].push_back(priceOf(e));
    }
  }
  std::map<WindowKey, Sums> out;
  for (const auto& [wk, ps] : prices) {
    const int64_t max = *std::max_element(ps.begin(), ps.end());
    out[wk] = {max, std::count(ps.begin(), ps.end(), max)};
  }
  return out;
}

TEST(OperatorSnapshotTest, DeltaChainsOfAnAggregateThatReportsUnchangedAccumulators) {
  const auto script = eventTimeScript(600, 7, 9);
  const auto whole = expectDeltaChainsChangeNothing<Result>(
      aligned<MaxPrice>(SlidingWindows::eventTime(100ms, 30ms), withLateness(80)), script);
  EXPECT_EQ(replay(whole.log), maxPriceReference(script, 100, 30, 80));
  EXPECT_GT(whole.lateUpdates, 0);
  // The script really has records that leave their maximum as it was.
  int unchanged = 0;
  std::map<std::pair<int64_t, int64_t>, int64_t> maxPerKeyAndPane;
  for (const auto& [e, wm] : arrivals(script)) {
    auto [it, fresh] = maxPerKeyAndPane.try_emplace({e.key, windowStartFor(e.ts, 0, 10)}, priceOf(e));
    if (!fresh && priceOf(e) < it->second) ++unchanged;
    it->second = std::max(it->second, priceOf(e));
  }
  EXPECT_GT(unchanged, 20);
}

TEST(OperatorSnapshotTest, DeltaLeavesOutKeysWhoseAccumulatorDidNotChange) {
  // One pane of 2000 keys, key k at price(k); then key 5 gets a lower price (value 5050: 0 <
  // price(5) = 84) and key 7 a higher one (value 5058: 94 > price(7) = 57).
  ASSERT_EQ(priceOf({5, 0, 5}), 84);
  ASSERT_EQ(priceOf({7, 0, 7}), 57);
  ASSERT_EQ(priceOf({5, 0, 5050}), 0);
  ASSERT_EQ(priceOf({7, 0, 5058}), 94);
  std::vector<Step> script;
  Step big{Step::Kind::kRecords, 0, {}, 0};
  for (int64_t k = 0; k < 2000; ++k) big.records.push_back({k, 10 + k % 500, k});
  script.push_back(std::move(big));
  script.push_back({Step::Kind::kWatermark, 0, {}, 5});
  script.push_back({Step::Kind::kRecords, 0, {{5, 700, 5050}, {7, 800, 5058}}, 0});
  script.push_back({Step::Kind::kWatermark, 0, {}, 10});
  script.push_back({Step::Kind::kWatermark, 0, {}, kMaxTime});
  const Factory make = aligned<MaxPrice>(TumblingWindows::eventTime(1s), {});
  RunResult<Result> whole = run<Result>(make, script);
  ASSERT_EQ(whole.log.results.size(), 2000u);
  EXPECT_EQ(replay(whole.log), maxPriceReference(script, 1000, 1000, 0));
  ChainRunResult<Result> chained = runWithChain<Result>(make, script, ChainPlan{{2}, {3, 4}, {4}});
  EXPECT_EQ(linesOf(chained.run.log), linesOf(whole.log));
  ASSERT_EQ(chained.deltas.size(), 2u);
  const std::string& delta = chained.deltas[0];
  // No drops; one pane; in it one upsert (key 7: price 94, one record) and no deletion.
  expectOnePaneWithOneUpsert(delta, 7, {94, 1});
}

TEST(OperatorSnapshotTest, BadDeltasAreCorruption) {
  const auto script = eventTimeScript(300, 5, 9, 1, 7);
  const Factory make =
      aligned(SlidingWindows::eventTime(100ms, 30ms), withLateness(50, Trigger::earlyEvery(20ms)));
  const size_t a = script.size() / 3, b = script.size() / 2;
  ChainRunResult<Result> chained = runWithChain<Result>(make, script, ChainPlan{{a}, {b}, {}});
  ASSERT_EQ(chained.deltas.size(), 1u);
  const std::string& base = chained.fulls[0];
  const std::string& delta = chained.deltas[0];
  ASSERT_GT(u64At(delta, kDeltaDroppedCountAt), 0u);  // drops, panes and early results
  ASSERT_GT(delta.size(), 200u);
  auto restore = [&](const std::string* withBase, std::string_view d) {
    Log<Result> log;
    Instance<Result> instance(make(), &log, kStartClock);
    return restoreChain(instance, withBase, {d});
  };
  EXPECT_TRUE(restore(&base, delta).isOk());
  for (size_t n = 0; n < delta.size(); n += (n < 64 || n + 64 > delta.size()) ? 1 : 7) {
    Status s = restore(&base, std::string_view(delta).substr(0, n));
    ASSERT_EQ(s.code(), StatusCode::kCorruption)
        << "prefix of " << n << " of " << delta.size() << " bytes";
    EXPECT_THAT(s.message(), HasSubstr("operator 'windows'"));
    if (n > 0) {
      EXPECT_THAT(s.message(), HasSubstr("truncated or malformed snapshot"));
    }
  }
  Status s = restore(&base, delta + "x");
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_THAT(s.message(), HasSubstr("1 unexpected bytes at the end"));
  std::string otherVersion = delta;
  otherVersion[0] = 2;
  s = restore(&base, otherVersion);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_THAT(s.message(), HasSubstr("version 2"));
  // Without its base, the delta drops panes the operator does not hold.
  s = restore(nullptr, delta);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_THAT(s.message(), HasSubstr("which the restored state does not hold"));
}

TEST(OperatorSnapshotTest, DeltaStatsCountSupersededRecords) {
  using Stats = std::pair<uint64_t, uint64_t>;  // live, superseded
  Log<Result> log;
  Instance<Result> instance(aligned(TumblingWindows::eventTime(100ms), {})(), &log, kStartClock);
  ASSERT_TRUE(instance.open().isOk());
  Operator& op = instance.op();
  auto add = [&](std::vector<Ev> records) {
    instance.apply({Step::Kind::kRecords, 0, std::move(records), 0});
  };
  auto stats = [&] {
    const DeltaStats d = op.deltaStats();
    return Stats{d.live, d.superseded};
  };
  auto delta = [&] {
    std::string out;
    EXPECT_TRUE(op.snapshotDelta(1, out).isOk());
    return out;
  };
  std::string full;
  add({{1, 10, 1}, {2, 20, 2}});
  ASSERT_TRUE(op.snapshotState(1, full).isOk());
  EXPECT_EQ(stats(), (Stats{2, 0}));
  add({{1, 30, 3}});
  delta();
  EXPECT_EQ(stats(), (Stats{2, 1}));  // key 1 of the base is replaced
  add({{1, 40, 4}, {3, 150, 5}});     // key 1 again; key 3 in a new pane
  delta();
  EXPECT_EQ(stats(), (Stats{3, 2}));
  // Pane [0, 100) fires and is dropped: its 2 entries, the 2 records they replaced, the drop.
  instance.apply({Step::Kind::kWatermark, 0, {}, 99});
  EXPECT_EQ(log.results.size(), 2u);
  EXPECT_EQ(stats(), (Stats{1, 5}));
  const std::string withDrop = delta();
  EXPECT_EQ(u64At(withDrop, kDeltaDroppedCountAt), 1u);
  EXPECT_EQ(u64At(withDrop, kDeltaDroppedCountAt + 16), 0u);  // no pane changed
  EXPECT_EQ(stats(), (Stats{1, 5}));
  // A full snapshot starts a new chain.
  full.clear();
  ASSERT_TRUE(op.snapshotState(2, full).isOk());
  EXPECT_EQ(stats(), (Stats{1, 0}));
}

TEST(OperatorSnapshotTest, DeltaSnapshotsNeedSerde) {
  using OpaqueResult = WindowResult<int64_t, int64_t>;
  using OpaqueEmit = detail::AggregateEmit<int64_t, OpaqueCount, OpaqueResult>;
  Log<OpaqueResult> log;
  Instance<OpaqueResult> instance(
      std::make_unique<detail::AlignedWindowOperator<Ev, int64_t, KeyOf, TsOf, OpaqueCount,
                                                     OpaqueResult, OpaqueEmit>>(
          KeyOf{}, TsOf{}, OpaqueCount{}, OpaqueEmit{OpaqueCount{}},
          detail::AlignedSpec::of(TumblingWindows::eventTime(10ms)), WindowOptions{}, nullptr),
      &log, kStartClock);
  ASSERT_TRUE(instance.open().isOk());
  EXPECT_FALSE(instance.op().supportsDeltaSnapshots());
  std::string blob;
  Status s = instance.op().snapshotDelta(1, blob);
  EXPECT_EQ(s.code(), StatusCode::kNotSupported);
  EXPECT_THAT(s.message(), HasSubstr("accumulator type has no Serde specialisation"));
  EXPECT_EQ(instance.op().restoreDelta("\x01").code(), StatusCode::kNotSupported);
}

}  // namespace
}  // namespace reka
