#pragma once

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "reka/api/DataStream.h"
#include "reka/cep/Nfa.h"

namespace reka::cep {

/// Limits of a pattern operator.
struct PatternOptions {
  /// The most partial matches one key may hold. When an event takes a key past it, the key's
  /// oldest partial matches (earliest first event) are discarded and counted in the operator's
  /// `reka_operator_cep_discarded_partial_matches_total`: a key that collects partial matches
  /// without bound (a loop without within()) cannot exhaust memory.
  size_t maxPartialMatchesPerKey = 10000;
};

namespace detail {
/// Enforces PatternOptions::maxPartialMatchesPerKey on one NFA state: drops the oldest partial
/// matches beyond `max` started ones and counts them in the operator's metric; returns how many.
template <class T>
size_t discardOldestPartialMatches(NfaState<T>& s, size_t max, OperatorMetrics& metrics) {
  if (s.partial.size() <= max) return 0;  // started ones are fewer
  const size_t started = s.startedCount();
  if (started <= max) return 0;
  const size_t drop = started - max;
  metrics.discardedPartialMatches.fetch_add(static_cast<int64_t>(drop), std::memory_order_relaxed);
  // s.partial is ordered by first event, the not-started start state last: the oldest lead.
  s.partial.erase(s.partial.begin(), s.partial.begin() + static_cast<std::ptrdiff_t>(drop));
  return drop;
}

/// Registers a timer at `due` for the current key unless one at or before it is registered
/// already (`timer`: the key's registered timer, INT64_MIN: none).
template <class Ctx>
void registerKeyTimer(Ctx& kctx, int64_t& timer, int64_t due, bool eventTime) {
  if (timer != INT64_MIN && timer <= due) return;
  if (eventTime)
    kctx.timerService().registerEventTimeTimer(due);
  else
    kctx.timerService().registerProcessingTimeTimer(due);
  timer = due;
}

/// What a pattern operator keeps per key: events waiting for the watermark (event time), the
/// NFA's state, and the timer it has registered.
template <class T>
struct KeyState {
  std::vector<std::pair<int64_t, T>> pending;  ///< (timestamp, event), in arrival order
  NfaState<T> nfa;
  int64_t timer = INT64_MIN;  ///< the timer registered for this key (INT64_MIN: none)
};
}  // namespace detail

}  // namespace reka::cep

namespace reka {
template <class T>
struct Serde<cep::detail::KeyState<T>, std::enable_if_t<HasSerde<T>::value>> {
  static void write(const cep::detail::KeyState<T>& s, std::string& out) {
    Serde<std::vector<std::pair<int64_t, T>>>::write(s.pending, out);
    Serde<cep::NfaState<T>>::write(s.nfa, out);
    Serde<int64_t>::write(s.timer, out);
  }
  static bool read(std::string_view& in, cep::detail::KeyState<T>& s) {
    return Serde<std::vector<std::pair<int64_t, T>>>::read(in, s.pending) && Serde<cep::NfaState<T>>::read(in, s.nfa) &&
           Serde<int64_t>::read(in, s.timer);
  }
};
}  // namespace reka

namespace reka::cep {
namespace detail {

template <class Fn, class T, class Ctx>
concept HasProcessMatch = requires(Fn f, const Match<T>& m, Ctx& c) { f.processMatch(m, c); };
template <class Fn, class T, class Ctx>
concept HasTimedOut = requires(Fn f, const Match<T>& m, Ctx& c) { f.processTimedOutMatch(m, c); };

/// Applies a pattern to a keyed stream (Flink's CepOperator): per key, events wait until the
/// watermark passes them and are then fed to the key's NFA in timestamp order (ties in arrival
/// order); in processing time they are fed as they arrive. Matches go to the user's function;
/// partial matches that time out go to its processTimedOutMatch.
template <class T, class K, class Out, class KeyFn, class TsFn, class Fn>
class CepOperator final : public reka::detail::EmittingOperator<Out> {
 public:
  using Ctx = KeyedContext<K, Out>;

  CepOperator(KeyFn keyFn, TsFn tsFn, bool processingTime, Pattern<T> pattern, PatternOptions options, int lateTag, Fn fn,
              std::shared_ptr<const reka::detail::SidePorts> ports)
      : reka::detail::EmittingOperator<Out>(std::move(ports)),
        keyFn_(std::move(keyFn)),
        tsFn_(std::move(tsFn)),
        processingTime_(processingTime),
        pattern_(std::move(pattern)),
        options_(options),
        lateTag_(lateTag),
        fn_(std::move(fn)) {}

  Status open(OperatorContext& ctx) override {
    REKA_RETURN_IF_ERROR(reka::detail::EmittingOperator<Out>::open(ctx));
    REKA_RETURN_IF_ERROR(Timers::open(ctx, kctx_));
    auto nfa = Nfa<T>::compile(pattern_);  // per subtask: conditions are not shared between threads
    if (!nfa.isOk()) return Status::invalidArgument("pattern of operator '" + ctx.name + "': " + nfa.status().message());
    nfa_ = std::move(nfa.value());
    KeyedStateRegistry<K> registry(ctx.state, &kctx_.keyContext(), ctx.stateScope() + "/");
    state_ = registry.template valueState<KeyState<T>>("cep");
    return registry.status();
  }

  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RecordBatch<T>&>(batch);
    reka::detail::forEachWithKey(kctx_, this->ctx_->maxParallelism, in.records, keyFn_, [this](const T& r) {
      if (processingTime_)
        processNow(r);
      else
        buffer(r);
    });
    kctx_.flushEmitted(&in);
  }
  void processWatermark(int64_t wm) override {
    Timers::onWatermark(wm, target_, kctx_, this->ctx_->maxParallelism);
    this->forwardWatermark(wm);
  }
  void onProcessingTime(int64_t now) override { Timers::onProcessingTime(now, target_, kctx_, this->ctx_->maxParallelism); }
  int64_t nextEventTimer() const override { return kctx_.timers().nextEventTime(); }
  Status checkSnapshottable() const override {
    if constexpr (!HasSerde<T>::value)
      return Status::notSupported("a pattern operator cannot be checkpointed: its event type (" + std::string(typeid(T).name()) +
                                  ") has no reka::Serde specialisation");
    return Timers::checkSnapshottable();
  }
  Status snapshotState(int64_t, std::string& out) override { return Timers::snapshot(kctx_, out); }
  Status restoreState(std::string_view in) override { return Timers::restore(kctx_, in); }
  /// At another parallelism: the partial matches and buffered events are keyed state (they move
  /// with their key groups); the timers of this subtask's keys come from every old subtask.
  Operator::OwnStateRescale ownStateRescale() const override { return Operator::OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator& scratch, const Operator::RescaledPart&) override {
    return Timers::absorb(kctx_, scratch, &CepOperator::kctx_);
  }

  /// Partial matches discarded by the per-key limit.
  int64_t discardedPartialMatches() const { return discarded_; }

 private:
  struct TimerTarget {
    CepOperator* op;
    void onTimer(int64_t ts, Ctx& ctx) { op->onTimer(ts, ctx); }
  };
  using Timers = reka::detail::KeyedTimerFiring<K, Out, TimerTarget>;

  Emitter<Out>& emitterRef() override { return kctx_; }

  /// A key's NFA state is made when an event first reaches it (an empty one is idle).
  void ensureNfa(KeyState<T>& s) const {
    if (s.nfa.partial.empty()) s.nfa = nfa_->initialState();
  }
  static bool idle(const KeyState<T>& s) { return s.nfa.partial.empty() || s.nfa.idle(); }

  void buffer(const T& r) {
    const int64_t ts = tsFn_(r);
    const int64_t wm = kctx_.currentWatermark();
    if (ts <= wm) {  // behind the watermark: it could no longer be put in order
      kctx_.countLateRecord();  // as every late record is, whether dropped or sent on
      if (lateTag_ >= 0) kctx_.template outputById<T>(lateTag_, r);
      return;
    }
    KeyState<T>& s = state_.getOrCreate();
    s.pending.emplace_back(ts, r);
    registerKeyTimer(kctx_, s.timer, wm == INT64_MIN ? ts : wm + 1, true);
  }

  void processNow(const T& r) {
    const int64_t now = kctx_.timerService().currentProcessingTime();
    const KeyState<T>* existing = state_.get();
    if ((existing == nullptr || idle(*existing)) && !nfa_->canStart(r, now)) return;  // nothing changes
    KeyState<T>& s = state_.getOrCreate();
    ensureNfa(s);
    check(nfa_->advanceTime(s.nfa, now, matches_, &timedOut_));
    check(nfa_->process(s.nfa, r, now, matches_));
    limit(s.nfa);
    emit();
    rearm(s, now, /*eventTime=*/false);
  }

  void onTimer(int64_t, Ctx&) {
    KeyState<T>* s = state_.get();
    if (s == nullptr) return;
    if (kctx_.timeDomain() == TimeDomain::kProcessingTime) {
      const int64_t now = kctx_.timerService().currentProcessingTime();
      s->timer = INT64_MIN;
      if (!s->nfa.partial.empty()) check(nfa_->advanceTime(s->nfa, now, matches_, &timedOut_));
      emit();
      rearm(*s, now, false);
      return;
    }
    const int64_t wm = kctx_.currentWatermark();
    auto& pending = s->pending;
    stableInsertionSort(pending, [](const auto& e) { return e.first; });
    size_t i = 0;
    int64_t advanced = INT64_MIN;  // the time the NFA was last advanced to
    for (; i < pending.size() && pending[i].first <= wm; ++i) {
      const int64_t ts = pending[i].first;
      if (idle(*s) && !nfa_->canStart(pending[i].second, ts)) continue;  // nothing in progress, nothing starts
      ensureNfa(*s);
      if (ts != advanced) check(nfa_->advanceTime(s->nfa, ts, matches_, &timedOut_));
      advanced = ts;
      check(nfa_->process(s->nfa, pending[i].second, ts, matches_));
      limit(s->nfa);
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(i));
    if (!s->nfa.partial.empty()) check(nfa_->advanceTime(s->nfa, wm, matches_, &timedOut_));
    emit();
    s->timer = INT64_MIN;
    rearm(*s, wm, true);
  }

  /// Registers the next timer the key needs (its next pending event, its earliest timeout), or
  /// drops the key's state if it has nothing in progress.
  void rearm(KeyState<T>& s, int64_t now, bool eventTime) {
    int64_t due = nfa_->nextTimeout(s.nfa);
    if (!s.pending.empty() && now < INT64_MAX) due = std::min(due, now + 1);
    if (due == INT64_MAX) {
      if (s.pending.empty() && s.nfa.idle()) state_.clear();
      return;
    }
    registerKeyTimer(kctx_, s.timer, due, eventTime);
  }

  void limit(NfaState<T>& s) {
    discarded_ += static_cast<int64_t>(discardOldestPartialMatches(s, options_.maxPartialMatchesPerKey, *this->ctx_->metrics));
  }

  void emit() {
    for (const auto& m : matches_) {
      if constexpr (HasProcessMatch<Fn, T, Ctx>)
        fn_.processMatch(m, kctx_);
      else
        fn_(m, kctx_);
    }
    matches_.clear();
    if constexpr (HasTimedOut<Fn, T, Ctx>) {
      for (const auto& m : timedOut_) fn_.processTimedOutMatch(m, kctx_);
    }
    timedOut_.clear();
  }

  static void check(const Status& s) {
    if (!s.isOk()) throw std::runtime_error(s.message());
  }

  KeyFn keyFn_;
  TsFn tsFn_;
  bool processingTime_;
  Pattern<T> pattern_;
  PatternOptions options_;
  int lateTag_;
  Fn fn_;
  std::shared_ptr<const Nfa<T>> nfa_;
  Ctx kctx_;
  TimerTarget target_{this};
  ValueState<K, KeyState<T>> state_;
  std::vector<Match<T>> matches_;
  std::vector<Match<T>> timedOut_;
  int64_t discarded_ = 0;
};

template <class T>
struct ProcessingTime {
  int64_t operator()(const T&) const { return 0; }
};
}  // namespace detail

/// A pattern applied to a keyed stream (Flink's PatternStream); process() or select() turns
/// its matches into a stream.
template <class T, class K, class KeyFn, class TsFn>
class PatternStream {
 public:
  PatternStream(KeyedStream<T, K, KeyFn> input, Pattern<T> pattern, TsFn tsFn, bool processingTime)
      : input_(std::move(input)), pattern_(std::move(pattern)), tsFn_(std::move(tsFn)), processingTime_(processingTime) {}

  /// Events behind the watermark go to `tag` instead of being counted as late and dropped.
  PatternStream sideOutputLateData(const OutputTag<T>& tag) const {
    PatternStream p = *this;
    p.lateTag_ = tag.id();  // read it with result.sideOutput(tag)
    return p;
  }
  PatternStream withOptions(PatternOptions options) const {
    PatternStream p = *this;
    p.options_ = options;
    return p;
  }

  /// `fn` gets every match: a class with processMatch(const Match<T>&, KeyedContext<K, Out>&)
  /// and optionally processTimedOutMatch(const Match<T>&, KeyedContext<K, Out>&) (which may
  /// emit to side outputs), or a callable (const Match<T>&, KeyedContext<K, Out>&).
  template <class Out, class Fn>
  DataStream<Out> process(std::string name, Fn fn) const {
    auto ports = std::make_shared<reka::detail::SidePorts>();
    graph::Node n;
    n.name = std::move(name);
    n.kind = "cep-pattern";
    n.inputs.push_back(input_.edge());
    const KeyFn keyFn = input_.keyFn();
    n.makeOperator = [keyFn, tsFn = tsFn_, pt = processingTime_, pattern = pattern_, options = options_, late = lateTag_, fn, ports] {
      return std::make_unique<detail::CepOperator<T, K, Out, KeyFn, TsFn, Fn>>(keyFn, tsFn, pt, pattern, options, late, fn, ports);
    };
    StreamEnvironment* env = input_.stream().env();
    return DataStream<Out>(env, env->jobGraph().addNode(std::move(n)), 0, ports);
  }
  /// One output per match: `fn(const Match<T>&)` returns it.
  template <class Out, class Fn>
  DataStream<Out> select(std::string name, Fn fn) const {
    return process<Out>(std::move(name), [fn](const Match<T>& m, KeyedContext<K, Out>& ctx) { ctx.emit(fn(m)); });
  }

 private:
  KeyedStream<T, K, KeyFn> input_;
  Pattern<T> pattern_;
  TsFn tsFn_;
  bool processingTime_;
  PatternOptions options_;
  int lateTag_ = -1;
};

/// Applies `pattern` to `input` in event time: `tsFn(event)` is an event's timestamp (ms).
template <class T, class K, class KeyFn, class TsFn>
PatternStream<T, K, KeyFn, TsFn> pattern(const KeyedStream<T, K, KeyFn>& input, Pattern<T> pattern, TsFn tsFn) {
  return PatternStream<T, K, KeyFn, TsFn>(input, std::move(pattern), std::move(tsFn), false);
}
/// Applies `pattern` to `input` in processing time: events are matched as they arrive.
template <class T, class K, class KeyFn>
PatternStream<T, K, KeyFn, detail::ProcessingTime<T>> patternInProcessingTime(const KeyedStream<T, K, KeyFn>& input, Pattern<T> pattern) {
  return PatternStream<T, K, KeyFn, detail::ProcessingTime<T>>(input, std::move(pattern), {}, true);
}

}  // namespace reka::cep
