#pragma once

// Rules that change while the job runs: a keyed stream of JSON events and a broadcast stream of
// rule updates into one operator that runs every rule's NFA per key (docs/guides/cep-rules.md).

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "reka/api/DataStream.h"
#include "reka/base/Log.h"
#include "reka/cep/Nfa.h"
#include "reka/cep/PatternStream.h"
#include "reka/cep/Rules.h"

namespace reka::cep {

/// A match (or a timed-out partial match) of a rule: the rule's id and version, the key, the
/// first and last event times, and the alert as one JSON line (CompiledRule::writeAlert).
struct Alert {
  std::string rule;
  int64_t version = 0;
  std::string key;
  int64_t start = 0;
  int64_t end = 0;
  bool timedOut = false;
  std::string json;
};

struct RuleOptions {
  /// Event time (events wait for the watermark and are matched in timestamp order), or
  /// processing time (events are matched as they arrive; Event::timestamp is ignored).
  bool processingTime = false;
  /// The most partial matches one key may hold for one rule (PatternOptions).
  size_t maxPartialMatchesPerKey = 10000;
  /// Hold events back until the first rule update has arrived (a rule file's first reading),
  /// so that no event is matched against an empty rule set at start.
  bool waitForRules = true;
  /// Events behind the watermark (too late to be put in order) go to the side output of this
  /// tag (an OutputTag<Event>'s id: read it with alerts.sideOutput(tag)); -1: they are dropped.
  /// Either way they are counted in reka_operator_late_records_total.
  int lateDataTag = -1;
  /// Hold events back until the rule input has ended (a bounded rule input: a file read once, a
  /// topic read to its end), so that every event meets every rule.
  bool rulesToEndFirst = false;
};

namespace detail {

/// A key's state under the rule operator: events waiting for the watermark, and the NFA state
/// of each rule that has a partial match in progress (rules without one keep nothing).
struct RuleKeyState {
  struct Active {
    std::string rule;
    int64_t version = 0;
    NfaState<Event> nfa;
  };
  std::vector<std::pair<int64_t, Event>> pending;
  std::vector<Active> active;  ///< ordered by rule id
  int64_t timer = INT64_MIN;
};

}  // namespace detail
}  // namespace reka::cep

namespace reka {
template <>
struct Serde<cep::detail::RuleKeyState::Active> {
  static void write(const cep::detail::RuleKeyState::Active& a, std::string& out) {
    Serde<std::string>::write(a.rule, out);
    Serde<int64_t>::write(a.version, out);
    Serde<cep::NfaState<cep::Event>>::write(a.nfa, out);
  }
  static bool read(std::string_view& in, cep::detail::RuleKeyState::Active& a) {
    return Serde<std::string>::read(in, a.rule) && Serde<int64_t>::read(in, a.version) && Serde<cep::NfaState<cep::Event>>::read(in, a.nfa);
  }
};
template <>
struct Serde<cep::detail::RuleKeyState> {
  static void write(const cep::detail::RuleKeyState& s, std::string& out) {
    Serde<std::vector<std::pair<int64_t, cep::Event>>>::write(s.pending, out);
    Serde<std::vector<cep::detail::RuleKeyState::Active>>::write(s.active, out);
    Serde<int64_t>::write(s.timer, out);
  }
  static bool read(std::string_view& in, cep::detail::RuleKeyState& s) {
    return Serde<std::vector<std::pair<int64_t, cep::Event>>>::read(in, s.pending) &&
           Serde<std::vector<cep::detail::RuleKeyState::Active>>::read(in, s.active) && Serde<int64_t>::read(in, s.timer);
  }
};
template <>
struct Serde<cep::RuleSpec> {
  static void write(const cep::RuleSpec& r, std::string& out) {
    Serde<std::string>::write(r.id, out);
    Serde<int64_t>::write(r.version, out);
    Serde<uint8_t>::write(r.enabled ? 1 : 0, out);
    Serde<std::string>::write(r.json, out);
  }
  static bool read(std::string_view& in, cep::RuleSpec& r) {
    uint8_t enabled = 0;
    if (!Serde<std::string>::read(in, r.id) || !Serde<int64_t>::read(in, r.version) || !Serde<uint8_t>::read(in, enabled) ||
        !Serde<std::string>::read(in, r.json))
      return false;
    r.enabled = enabled != 0;
    return true;
  }
};
}  // namespace reka

namespace reka::cep {
namespace detail {

/// Runs every active rule over a keyed stream of events (input 0), with rule updates broadcast
/// on input 1. Per key, events wait for the watermark and are then fed, in timestamp order, to
/// each rule's NFA; a rule a key has no partial match for skips events that cannot start one
/// (Nfa::canStart).
/// A changed rule (new version) starts over: the partial matches of its previous version are
/// dropped as keys are next touched; a removed rule's likewise. A rule that does not compile is
/// refused (logged, counted in its RuleStats::error) and the previous version stays active.
class RuleOperator final : public reka::detail::EmittingOperator<Alert> {
 public:
  using Ctx = KeyedContext<std::string, Alert>;

  RuleOperator(RuleOptions options, std::shared_ptr<const reka::detail::SidePorts> ports)
      : reka::detail::EmittingOperator<Alert>(std::move(ports)), options_(options) {}

  Status open(OperatorContext& ctx) override {
    REKA_RETURN_IF_ERROR(reka::detail::EmittingOperator<Alert>::open(ctx));
    REKA_RETURN_IF_ERROR(Timers::open(ctx, kctx_));
    KeyedStateRegistry<std::string> registry(ctx.state, &kctx_.keyContext(), ctx.stateScope() + "/");
    state_ = registry.template valueState<RuleKeyState>("rules");
    // The rules themselves: the same in every subtask (broadcast state).
    auto specs = ctx.state->template broadcastMapState<std::string, RuleSpec>(ctx.stateScope() + "/rule-specs");
    if (!specs.isOk()) return specs.status();
    specs_ = specs.value();
    return registry.status();
  }

  void processBatch(int input, Batch& batch) override {
    if (input == 1) {
      for (const RuleUpdate& u : static_cast<RecordBatch<RuleUpdate>&>(batch).records) apply(u);
      publish();
      return;
    }
    auto& in = static_cast<RecordBatch<Event>&>(batch);
    auto& kc = kctx_.keyContext();
    for (const Event& e : in.records) {
      kc.key = &e.key();
      kc.keyGroup = keyGroupFor(hashKey(e.key()), this->ctx_->maxParallelism);
      if (options_.processingTime)
        processNow(e);
      else
        buffer(e);
    }
    kc.key = nullptr;
    kctx_.flushEmitted(&in);
    if (options_.processingTime && ++batches_ % 64 == 0) publish();  // no watermarks publish them
  }
  bool acceptsInput(int input) const override {
    if (input == 1) return true;
    if (options_.rulesToEndFirst) return rulesEnded_;
    return !options_.waitForRules || rulesReceived_;
  }
  void endInput(int input) override {
    if (input == 1) rulesReceived_ = rulesEnded_ = true;  // no rules will come: do not hold events back
  }
  void processWatermark(int64_t wm) override {
    Timers::onWatermark(wm, target_, kctx_, this->ctx_->maxParallelism);
    publish();
    this->forwardWatermark(wm);
  }
  void onProcessingTime(int64_t now) override { Timers::onProcessingTime(now, target_, kctx_, this->ctx_->maxParallelism); }
  int64_t nextEventTimer() const override { return kctx_.timers().nextEventTime(); }
  void finish() override { publish(); }

  /// u8 version (2), u8 rules received, then the timers. The rules are in the broadcast state
  /// `<operator>/rule-specs`, restored before this.
  Status snapshotState(int64_t, std::string& out) override {
    Serde<uint8_t>::write(kFormatVersion, out);
    Serde<uint8_t>::write(rulesReceived_ ? 1 : 0, out);
    return Timers::snapshot(kctx_, out);
  }
  Status restoreState(std::string_view in) override {
    uint8_t version = 0, received = 0;
    if (!Serde<uint8_t>::read(in, version) || !Serde<uint8_t>::read(in, received))
      return Status::corruption("truncated rule operator checkpoint");
    std::map<std::string, RuleSpec> specs = *specs_;
    if (version == 1) {  // the rules in the operator's own state (before broadcast state)
      std::vector<RuleSpec> own;
      if (!Serde<std::vector<RuleSpec>>::read(in, own)) return Status::corruption("truncated rule operator checkpoint");
      for (RuleSpec& s : own) specs[s.id] = std::move(s);
    } else if (version != kFormatVersion) {
      return Status::corruption("rule operator checkpoint of version " + std::to_string(version) + "; this Reka reads 1 and 2");
    }
    rulesReceived_ = received != 0;
    rulesEnded_ = rulesReceived_;  // the rules came back with the checkpoint
    REKA_RETURN_IF_ERROR(reinstall(std::move(specs)));
    return Timers::restore(kctx_, in);
  }
  /// At another parallelism: the rules come from the broadcast state (every new subtask gets a
  /// copy), the partial matches are keyed state, and the timers of this subtask's keys come
  /// from every old subtask.
  Operator::OwnStateRescale ownStateRescale() const override { return Operator::OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator& scratch, const Operator::RescaledPart&) override {
    auto* from = dynamic_cast<RuleOperator*>(&scratch);
    if (from == nullptr) return Status::internal("a rescaled restore handed over another kind of operator");
    if (!rescaleRulesInstalled_) {
      REKA_RETURN_IF_ERROR(reinstall(*specs_));
      rescaleRulesInstalled_ = true;
    }
    rulesReceived_ = rulesReceived_ || from->rulesReceived_;
    rulesEnded_ = rulesReceived_;
    return kctx_.timers().absorb(from->kctx_.timers());
  }

  /// Installs `specs` (the checkpointed rules) in place of the rules installed now.
  Status reinstall(std::map<std::string, RuleSpec> specs) {
    rules_.clear();
    specs_->clear();
    for (const auto& [id, s] : specs) {
      auto r = install(s);
      if (!r.isOk()) return Status::corruption("a checkpointed rule no longer compiles: " + r.message());
    }
    return Status::ok();
  }

  /// Per rule: matches, timed-out partial matches, the last refusal.
  std::vector<RuleStats> ruleStats() const {
    std::vector<RuleStats> out;
    for (const auto& [id, r] : rules_) out.push_back(r.stats);
    for (const auto& [id, s] : refusedOnly_) out.push_back(s);
    return out;
  }

 private:
  static constexpr uint8_t kFormatVersion = 2;
  struct TimerTarget {
    RuleOperator* op;
    void onTimer(int64_t ts, Ctx& ctx) { op->onTimer(ts, ctx); }
  };
  using Timers = reka::detail::KeyedTimerFiring<std::string, Alert, TimerTarget>;
  struct Installed {
    std::shared_ptr<const CompiledRule> rule;
    RuleStats stats;
    const Nfa<Event>& nfa() const { return *rule->nfa(); }
  };

  Emitter<Alert>& emitterRef() override { return kctx_; }

  Status install(const RuleSpec& spec) {
    auto compiled = compileRule(spec);
    if (!compiled.isOk()) return compiled.status();
    Installed in;
    in.rule = compiled.value();
    in.stats.id = spec.id;
    in.stats.version = spec.version;
    in.stats.enabled = spec.enabled;
    auto old = rules_.find(spec.id);
    if (old != rules_.end() && old->second.stats.version == spec.version) {  // same version: keep the counts
      in.stats.matches = old->second.stats.matches;
      in.stats.timedOut = old->second.stats.timedOut;
    }
    rules_[spec.id] = std::move(in);
    (*specs_)[spec.id] = spec;
    refusedOnly_.erase(spec.id);
    return Status::ok();
  }

  void apply(const RuleUpdate& u) {
    rulesReceived_ = true;
    for (const std::string& e : u.errors) refuse("", e, u.origin);
    if (!u.errors.empty()) return;  // a document that did not parse changes nothing
    std::vector<std::string> removed = u.removed;
    if (u.complete) {
      for (const auto& [id, r] : rules_) {
        bool kept = false;
        for (const RuleSpec& s : u.rules) kept = kept || s.id == id;
        if (!kept) removed.push_back(id);
      }
    }
    for (const std::string& id : removed) {
      specs_->erase(id);
      if (rules_.erase(id) > 0) note("rule removed", {{"rule", id}});
    }
    for (const RuleSpec& s : u.rules) {
      auto cur = rules_.find(s.id);
      if (cur != rules_.end() && cur->second.rule->spec() == s) continue;  // unchanged
      Status st = install(s);
      if (!st.isOk()) {
        refuse(s.id, st.message(), u.origin);
      } else {
        note("rule installed", {{"rule", s.id}, {"version", std::to_string(s.version)}, {"enabled", s.enabled ? "true" : "false"}});
      }
    }
  }

  /// Logs a rule change once (subtask 0: every subtask makes the same change).
  void note(std::string_view what, std::initializer_list<LogField> fields) {
    if (this->ctx_->subtask == 0) log(LogLevel::kInfo, what, fields);
  }

  void refuse(const std::string& id, const std::string& message, const std::string& origin) {
    auto it = rules_.find(id);
    RuleStats& s = it != rules_.end() ? it->second.stats : refusedOnly_[id];
    if (it == rules_.end()) s.id = id;
    s.error = message;
    ++s.refused;
    this->ctx_->metrics->ruleErrors.fetch_add(1, std::memory_order_relaxed);
    if (this->ctx_->subtask == 0)  // every subtask refuses it; one message is enough
      log(LogLevel::kWarn, "rule refused; the job keeps the rules it had",
          {{"operator", this->ctx_->name}, {"origin", origin}, {"rule", id}, {"error", message}});
  }

  void publish() { this->ctx_->metrics->publishRules(ruleStats()); }

  RuleKeyState& keyState() { return state_.getOrCreate(); }

  void buffer(const Event& e) {
    const int64_t ts = e.timestamp();
    const int64_t wm = kctx_.currentWatermark();
    if (ts <= wm) {  // counted, as every late record is, and sent on if asked
      kctx_.countLateRecord();
      if (options_.lateDataTag >= 0) kctx_.template outputById<Event>(options_.lateDataTag, e);
      return;
    }
    RuleKeyState& s = keyState();
    s.pending.emplace_back(ts, e);
    registerKeyTimer(kctx_, s.timer, wm == INT64_MIN ? ts : wm + 1, true);
  }

  void processNow(const Event& e) {
    const int64_t now = kctx_.timerService().currentProcessingTime();
    RuleKeyState& s = keyState();
    step(s, &e, now);
    rearm(s, now, false);
  }

  void onTimer(int64_t, Ctx&) {
    RuleKeyState* s = state_.get();
    if (s == nullptr) return;
    s->timer = INT64_MIN;
    if (kctx_.timeDomain() == TimeDomain::kProcessingTime) {
      const int64_t now = kctx_.timerService().currentProcessingTime();
      step(*s, nullptr, now);
      rearm(*s, now, false);
      return;
    }
    const int64_t wm = kctx_.currentWatermark();
    auto& pending = s->pending;
    stableInsertionSort(pending, [](const auto& p) { return p.first; });
    size_t i = 0;
    for (; i < pending.size() && pending[i].first <= wm; ++i) step(*s, &pending[i].second, pending[i].first);
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(i));
    step(*s, nullptr, wm);
    rearm(*s, wm, true);
  }

  /// One step of every rule for the current key at time `ts`: partial matches older than the
  /// rule's `within` time out, then `e` (if any) is fed to the rules that have a partial match
  /// and to those it may start. The key's NFA states of removed or changed rules are dropped,
  /// and idle ones are not kept. Both lists are ordered by rule id: one merge pass.
  void step(RuleKeyState& s, const Event* e, int64_t ts) {
    auto& active = s.active;
    next_.clear();
    size_t ai = 0;
    for (auto& [id, r] : rules_) {
      while (ai < active.size() && active[ai].rule < id) ++ai;  // a removed rule's state: dropped
      RuleKeyState::Active* a = nullptr;
      if (ai < active.size() && active[ai].rule == id) {
        if (active[ai].version == r.stats.version) a = &active[ai];  // else a changed rule: dropped
        ++ai;
      }
      if (!r.stats.enabled) continue;
      if (a != nullptr) {
        check(r.nfa().advanceTime(a->nfa, ts, matches_, &timedOut_));
        if (e != nullptr) {
          check(r.nfa().process(a->nfa, *e, ts, matches_));
          limit(a->nfa);
        }
        emit(r);
        if (!a->nfa.idle()) next_.push_back(std::move(*a));
      } else if (e != nullptr && r.nfa().canStart(*e, ts)) {
        RuleKeyState::Active fresh{id, r.stats.version, r.nfa().initialState()};
        check(r.nfa().process(fresh.nfa, *e, ts, matches_));
        limit(fresh.nfa);
        emit(r);
        if (!fresh.nfa.idle()) next_.push_back(std::move(fresh));
      }
    }
    active.swap(next_);
  }

  void rearm(RuleKeyState& s, int64_t now, bool eventTime) {
    int64_t due = INT64_MAX;
    for (const auto& a : s.active) {
      auto r = rules_.find(a.rule);
      if (r != rules_.end()) due = std::min(due, r->second.nfa().nextTimeout(a.nfa));
    }
    if (!s.pending.empty() && now < INT64_MAX) due = std::min(due, now + 1);
    if (due == INT64_MAX) {
      if (s.pending.empty() && s.active.empty()) state_.clear();
      return;
    }
    registerKeyTimer(kctx_, s.timer, due, eventTime);
  }

  void limit(NfaState<Event>& s) { discardOldestPartialMatches(s, options_.maxPartialMatchesPerKey, *this->ctx_->metrics); }

  void emit(Installed& r) {
    const std::string& key = *static_cast<const std::string*>(kctx_.keyContext().key);
    for (const auto& m : matches_) out(r, m, key, false);
    matches_.clear();
    if (r.rule->emitsTimeouts())
      for (const auto& m : timedOut_) out(r, m, key, true);
    r.stats.timedOut += static_cast<int64_t>(timedOut_.size());
    timedOut_.clear();
  }
  void out(Installed& r, const Match<Event>& m, const std::string& key, bool timedOut) {
    Alert a;
    a.rule = r.stats.id;
    a.version = r.stats.version;
    a.key = key;
    a.start = m.startTimestamp();
    a.end = m.timestamp();
    a.timedOut = timedOut;
    check(r.rule->writeAlert(m, key, timedOut, a.json));
    if (!timedOut) ++r.stats.matches;
    kctx_.emit(std::move(a));
  }

  static void check(const Status& s) {
    if (!s.isOk()) throw std::runtime_error(s.message());
  }

  RuleOptions options_;
  Ctx kctx_;
  TimerTarget target_{this};
  ValueState<std::string, RuleKeyState> state_;
  std::map<std::string, Installed> rules_;
  std::map<std::string, RuleSpec>* specs_ = nullptr;  ///< broadcast state: the installed rules, as written
  std::map<std::string, RuleStats> refusedOnly_;  ///< refused ids that have no active version
  bool rulesReceived_ = false;
  bool rulesEnded_ = false;
  bool rescaleRulesInstalled_ = false;  ///< a rescaled restore installed the broadcast rules
  int64_t batches_ = 0;
  std::vector<Match<Event>> matches_;
  std::vector<Match<Event>> timedOut_;
  std::vector<RuleKeyState::Active> next_;  ///< scratch of step()
};

}  // namespace detail

/// Applies the rules of `rules` (broadcast to every subtask) to `events`, keyed by
/// Event::key(): one Alert per match. The operator's name names its state.
inline DataStream<Alert> applyRules(const DataStream<Event>& events, const DataStream<RuleUpdate>& rules, std::string name,
                                    RuleOptions options = {}) {
  auto keyed = events.keyBy([](const Event& e) { return e.key(); });
  auto ports = std::make_shared<reka::detail::SidePorts>();
  graph::Node n;
  n.name = std::move(name);
  n.kind = "cep-rules";
  n.chainable = false;
  n.inputs.push_back(keyed.edge());
  n.inputs.push_back(rules.broadcast().edge());
  n.makeOperator = [options, ports] { return std::make_unique<detail::RuleOperator>(options, ports); };
  StreamEnvironment* env = events.env();
  return DataStream<Alert>(env, env->jobGraph().addNode(std::move(n)), 0, ports);
}

}  // namespace reka::cep
