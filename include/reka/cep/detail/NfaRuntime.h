#pragma once

// The NFA's per-event step, after Flink CEP's NFA (computeNextStates, the Dewey versions of
// the branches, matches held back by a skip strategy until no earlier partial match remains).

#include <chrono>
#include <vector>

namespace reka::cep {

template <class T>
struct Nfa<T>::Edges {
  std::vector<const Transition*>& edges;
  int takes = 0;
  int ignores = 0;  ///< not counting a state's IGNORE to itself
};

template <class T>
bool Nfa<T>::canStart(const T& event, int64_t ts) const {
  const State& s = states_[static_cast<size_t>(start_)];
  for (const auto& t : s.transitions)
    if (t.action == Action::kProceed) return true;  // an optional start: not worked out here
  // What a condition sees from the initial state: no events accepted yet.
  class Empty final : public ConditionContext<T> {
   public:
    explicit Empty(int64_t ts) : ts_(ts) {}
    const std::vector<const T*>& eventsForPattern(std::string_view) const override { return none_; }
    int64_t timestamp() const override { return ts_; }
    int64_t currentProcessingTime() const override {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    }

   private:
    int64_t ts_;
    std::vector<const T*> none_;
  } ctx(ts);
  for (const auto& t : s.transitions) {
    // The start state ignores events without a trace (computeNextStates skips its IGNORE edges,
    // and one to itself does not even change its version); a TAKE, or an IGNORE elsewhere that
    // would count as a branch, changes the state.
    if (t.action == Action::kIgnore && t.target == start_) continue;
    if (holds(t.condition, event, ctx)) return true;
  }
  return false;
}

template <class T>
int64_t Nfa<T>::Context::currentProcessingTime() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

template <class T>
void Nfa<T>::decisionGraph(Context& ctx, const ComputationState& c, const T& event, Edges& out) const {
  auto& stack = stack_;
  stack.clear();
  stack.push_back(c.state);
  out.edges.clear();
  while (!stack.empty()) {
    const int s = stack.back();
    stack.pop_back();
    for (const auto& t : states_[s].transitions) {
      if (!holds(t.condition, event, ctx)) continue;
      if (t.action == Action::kProceed) {
        stack.push_back(t.target);  // an epsilon move: the event is offered to the next state
        continue;
      }
      if (!(t.action == Action::kIgnore && t.target == c.state)) {
        if (t.action == Action::kTake)
          ++out.takes;
        else
          ++out.ignores;
      }
      out.edges.push_back(&t);
    }
  }
}

template <class T>
int Nfa<T>::finalAfterProceed(Context& ctx, int state, const T& event) const {
  auto& stack = stack_;
  stack.clear();
  stack.push_back(state);
  while (!stack.empty()) {
    const int s = stack.back();
    stack.pop_back();
    for (const auto& t : states_[s].transitions) {
      if (t.action != Action::kProceed || !holds(t.condition, event, ctx)) continue;
      if (states_[t.target].type == StateType::kFinal) return t.target;
      stack.push_back(t.target);
    }
  }
  return -1;
}

template <class T>
void Nfa<T>::computeNextStates(NfaState<T>& s, const ComputationState& c, const T& event, int64_t ts, uint64_t id,
                               int64_t& eventIndex, std::vector<ComputationState>& out) const {
  Context ctx(*this, s, c, ts);
  Edges edges{edges_};
  decisionGraph(ctx, c, event, edges);
  auto selfBranches = [&] {
    return edges.takes == 0 && edges.ignores == 0 ? 0u : static_cast<uint32_t>(edges.ignores + std::max(1, edges.takes));
  };
  int takesToVisit = std::max(0, edges.takes - 1);
  int ignoresToVisit = edges.ignores;
  const int takesToSkip = std::max(0, edges.takes - 1);
  const bool fromStart = isStart(c);
  for (const Transition* t : edges.edges) {
    if (t->action == Action::kIgnore) {
      if (fromStart) continue;
      DeweyNumber v;
      if (t->target == c.state) {
        v = c.version.increase(selfBranches());
      } else {
        v = c.version.increase(static_cast<uint32_t>(takesToSkip + ignoresToVisit)).addStage();
        --ignoresToVisit;
      }
      out.push_back({static_cast<uint16_t>(t->target), c.previous, std::move(v), c.startTimestamp, c.previousTimestamp, c.startEvent});
      continue;
    }
    const DeweyNumber current = c.version.increase(static_cast<uint32_t>(std::max(0, takesToVisit)));
    DeweyNumber next = current.addStage();
    --takesToVisit;
    if (eventIndex < 0) eventIndex = s.buffer.addEvent(id, ts, event);
    const int32_t entry = s.buffer.put(states_[t->source].name, static_cast<uint32_t>(eventIndex), c.previous, current);
    ctx.invalidate();
    const int64_t startTs = fromStart ? ts : c.startTimestamp;
    const uint64_t startEvent = fromStart ? id : c.startEvent;
    out.push_back({static_cast<uint16_t>(t->target), entry, next, startTs, ts, startEvent});
    const int final = finalAfterProceed(ctx, t->target, event);
    if (final >= 0) out.push_back({static_cast<uint16_t>(final), entry, std::move(next), startTs, ts, startEvent});
  }
  if (fromStart) {
    ComputationState restart;
    restart.state = c.state;
    restart.version = c.version.increase(selfBranches());
    out.push_back(std::move(restart));
  }
}

template <class T>
Status Nfa<T>::process(NfaState<T>& s, const T& event, int64_t ts, std::vector<Match<T>>& matches) const {
  const uint64_t id = s.nextEventId++;
  int64_t eventIndex = -1;
  auto& partial = nextPartial_;
  auto& potential = potential_;
  auto& step = step_;
  partial.clear();
  potential.clear();
  for (const auto& c : s.partial) {
    step.clear();
    computeNextStates(s, c, event, ts, id, eventIndex, step);
    const size_t kept = partial.size();
    bool discard = false;
    for (auto& n : step) {
      switch (states_[n.state].type) {
        case StateType::kFinal:
          potential.push_back(std::move(n));
          break;
        case StateType::kStop:
          discard = true;  // a negative pattern matched: this branch ends
          break;
        default:
          partial.push_back(std::move(n));
      }
    }
    if (discard) partial.resize(kept);
  }
  sortByStart(partial);
  sortByStart(potential);
  s.partial.swap(partial);  // the old list's storage is the next event's scratch
  if (skip_.isSkip()) {
    REKA_RETURN_IF_ERROR(emitAccordingToSkip(s, potential, matches));
  } else {
    for (const auto& m : potential) matches.push_back(materialize(s, m));
  }
  compactIfNeeded(s);
  return Status::ok();
}

template <class T>
Status Nfa<T>::advanceTime(NfaState<T>& s, int64_t ts, std::vector<Match<T>>& matches, std::vector<Match<T>>* timedOut) const {
  std::vector<ComputationState> waited;  // pending states whose notFollowedBy did not come in time
  if (windowMs_ > 0) {
    size_t kept = 0;
    for (size_t i = 0; i < s.partial.size(); ++i) {
      const auto& c = s.partial[i];
      if (!isStart(c) && ts >= saturatingAdd(c.startTimestamp, windowMs_)) {
        if (states_[c.state].type == StateType::kPending) {
          waited.push_back(c);
        } else if (timedOut != nullptr) {
          timedOut->push_back(materialize(s, c));
        }
        continue;
      }
      if (kept != i) s.partial[kept] = std::move(s.partial[i]);
      ++kept;
    }
    s.partial.resize(kept);
  }
  sortByStart(waited);
  if (skip_.isSkip() && (!s.completed.empty() || !waited.empty())) {
    REKA_RETURN_IF_ERROR(emitAccordingToSkip(s, waited, matches));
  } else {
    for (const auto& m : waited) matches.push_back(materialize(s, m));
  }
  compactIfNeeded(s);
  return Status::ok();
}

template <class T>
Status Nfa<T>::emitAccordingToSkip(NfaState<T>& s, std::vector<ComputationState>& potential, std::vector<Match<T>>& matches) const {
  for (auto& m : potential) s.completed.push_back(std::move(m));
  sortByStart(s.completed);
  while (!s.completed.empty()) {
    uint64_t earliestPartial = UINT64_MAX;
    for (const auto& c : s.partial) earliestPartial = std::min(earliestPartial, c.startKey());
    if (s.completed.front().startKey() > earliestPartial) break;  // an earlier partial match may still complete
    const ComputationState match = s.completed.front();
    s.completed.erase(s.completed.begin());
    auto pruning = pruningId(s, match);
    if (!pruning.isOk()) return pruning.status();
    if (const uint64_t p = pruning.value(); p != 0) {
      auto prune = [&](std::vector<ComputationState>& v) {
        v.erase(std::remove_if(v.begin(), v.end(), [&](const auto& c) { return c.startEvent != 0 && shouldPrune(c.startEvent, p); }),
                v.end());
      };
      prune(s.partial);
      prune(s.completed);
    }
    matches.push_back(materialize(s, match));
  }
  return Status::ok();
}

template <class T>
Result<uint64_t> Nfa<T>::pruningId(const NfaState<T>& s, const ComputationState& match) const {
  using Kind = AfterMatchSkipStrategy::Kind;
  std::vector<int32_t> path;
  s.buffer.extract(match.previous, match.version, path);
  uint64_t lo = UINT64_MAX, hi = 0;
  const bool byName = skip_.kind() == Kind::kSkipToFirst || skip_.kind() == Kind::kSkipToLast;
  for (int32_t n : path) {
    const auto& node = s.buffer.node(n);
    if (byName && names_[node.name] != skip_.patternName()) continue;
    const uint64_t id = s.buffer.event(node.event).id;
    lo = std::min(lo, id);
    hi = std::max(hi, id);
  }
  if (hi == 0) {
    if (byName && skip_.throwsOnMiss())
      return Status::failedPrecondition("after-match skip: the match has no event for pattern '" + skip_.patternName() + "'");
    return uint64_t{0};
  }
  if (skip_.kind() == Kind::kSkipToFirst && skip_.throwsOnMiss() && lo == match.startEvent)
    return Status::failedPrecondition("after-match skip to first '" + skip_.patternName() +
                                      "': that is the first event of the match, so matching would start again where it did");
  switch (skip_.kind()) {
    case Kind::kSkipToNext:
    case Kind::kSkipToFirst:
      return lo;
    default:
      return hi;
  }
}

template <class T>
bool Nfa<T>::shouldPrune(uint64_t start, uint64_t pruning) const {
  using Kind = AfterMatchSkipStrategy::Kind;
  if (skip_.kind() == Kind::kSkipToNext || skip_.kind() == Kind::kSkipPastLastEvent) return start <= pruning;
  return start < pruning;
}

template <class T>
Match<T> Nfa<T>::materialize(const NfaState<T>& s, const ComputationState& c) const {
  std::vector<int32_t> path;
  Match<T> m;
  if (!s.buffer.extract(c.previous, c.version, path)) return m;
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    const auto& node = s.buffer.node(*it);
    const auto& e = s.buffer.event(node.event);
    m.add(names_[node.name], e.value, e.id, e.ts);
  }
  return m;
}

template <class T>
void Nfa<T>::compactIfNeeded(NfaState<T>& s) const {
  if (s.buffer.empty()) return;
  bool anyNode = false;
  for (const auto* list : {&s.partial, &s.completed})
    for (const auto& c : *list) anyNode |= c.previous >= 0;
  if (!anyNode) {
    s.buffer.clear();
    s.nodesAfterCompaction = 0;
    return;
  }
  if (s.buffer.nodeCount() <= std::max<size_t>(64, 2 * s.nodesAfterCompaction)) return;
  s.buffer.compact([&](auto&& root) {
    for (auto& c : s.partial) root(c.previous);
    for (auto& c : s.completed) root(c.previous);
  });
  s.nodesAfterCompaction = s.buffer.nodeCount();
}

}  // namespace reka::cep
