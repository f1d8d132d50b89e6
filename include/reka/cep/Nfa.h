#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/base/Status.h"
#include "reka/cep/Pattern.h"
#include "reka/cep/SharedBuffer.h"

namespace reka::cep {

/// Sorts `v` by `key(element)`, keeping the order of equal keys: an insertion sort, which does
/// little work on the short, nearly sorted lists of partial matches and pending events.
template <class V, class Key>
void stableInsertionSort(std::vector<V>& v, Key&& key) {
  for (size_t i = 1; i < v.size(); ++i) {
    if (key(v[i - 1]) <= key(v[i])) continue;
    V e = std::move(v[i]);
    size_t j = i;
    for (; j > 0 && key(v[j - 1]) > key(e); --j) v[j] = std::move(v[j - 1]);
    v[j] = std::move(e);
  }
}

/// A pattern compiled to a non-deterministic automaton, with Flink CEP's semantics: states with
/// TAKE (accept the event and move), IGNORE (skip it) and PROCEED (move without consuming)
/// transitions; partial matches share their events in a versioned buffer. Immutable once
/// compiled and shared by every key of one operator subtask (one thread at a time); the per-key
/// state is an NfaState.
template <class T>
class Nfa {
 public:
  /// kPending: a match waiting for its notFollowedBy at the end not to happen within the window;
  /// it is emitted when the window passes (advanceTime).
  enum class StateType : uint8_t { kNormal, kStart, kFinal, kStop, kPending };
  enum class Action : uint8_t { kTake, kIgnore, kProceed };
  struct Transition {
    Action action;
    int source;
    int target;
    Condition<T> condition;  ///< empty: always
  };
  struct State {
    uint16_t name;
    StateType type;
    std::vector<Transition> transitions;
  };

  /// Compiles `pattern`; a misuse of the pattern API is an InvalidArgument that says what.
  static Result<std::shared_ptr<const Nfa>> compile(const Pattern<T>& pattern);

  /// The state of a key that has seen nothing.
  NfaState<T> initialState() const {
    NfaState<T> s;
    ComputationState c;
    c.state = static_cast<uint16_t>(start_);
    c.version = DeweyNumber(1);
    s.partial.push_back(c);
    return s;
  }

  /// Whether `event` at `ts` can change a key's state that has nothing in progress (idle()):
  /// false when the start state only takes events on conditions that `event` fails. Such an
  /// event needs no process() call, and a key without state needs none created.
  bool canStart(const T& event, int64_t ts) const;

  /// Feeds one event at time `ts` (call advanceTime(ts) first); appends the completed matches.
  Status process(NfaState<T>& s, const T& event, int64_t ts, std::vector<Match<T>>& matches) const;
  /// Times out the partial matches older than within() at `ts`; appends them to `timedOut` (if
  /// given) and the matches a skip strategy held back behind them to `matches`.
  Status advanceTime(NfaState<T>& s, int64_t ts, std::vector<Match<T>>& matches, std::vector<Match<T>>* timedOut) const;

  /// The time limit of a match in milliseconds (-1: none).
  int64_t withinMs() const { return windowMs_; }
  /// When the earliest partial match of `s` times out (INT64_MAX: never).
  int64_t nextTimeout(const NfaState<T>& s) const {
    if (windowMs_ <= 0) return INT64_MAX;
    int64_t t = INT64_MAX;
    for (const auto& c : s.partial)
      if (c.startEvent != 0) t = std::min(t, saturatingAdd(c.startTimestamp, windowMs_));
    return t;
  }
  const AfterMatchSkipStrategy& skipStrategy() const { return skip_; }
  const std::vector<State>& states() const { return states_; }
  const std::vector<std::string>& names() const { return names_; }
  /// A readable listing of the states and transitions (for tests and debugging).
  std::string describe() const;

  /// Checks that a restored state fits this automaton.
  bool fits(const NfaState<T>& s) const {
    for (const auto* list : {&s.partial, &s.completed})
      for (const auto& c : *list)
        if (c.state >= states_.size()) return false;
    for (size_t i = 0; i < s.buffer.nodeCount(); ++i)
      if (s.buffer.node(static_cast<int32_t>(i)).name >= names_.size()) return false;
    return true;
  }

  static int64_t saturatingAdd(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
  }

 private:
  template <class>
  friend class NfaCompiler;
  class Context;
  struct Edges;

  bool isStart(const ComputationState& c) const { return states_[c.state].type == StateType::kStart; }
  static bool holds(const Condition<T>& c, const T& e, const ConditionContext<T>& ctx) { return !c || c(e, ctx); }
  void decisionGraph(Context& ctx, const ComputationState& c, const T& event, Edges& out) const;
  int finalAfterProceed(Context& ctx, int state, const T& event) const;
  void computeNextStates(NfaState<T>& s, const ComputationState& c, const T& event, int64_t ts, uint64_t id,
                         int64_t& eventIndex, std::vector<ComputationState>& out) const;
  Status emitAccordingToSkip(NfaState<T>& s, std::vector<ComputationState>& potential, std::vector<Match<T>>& matches) const;
  Match<T> materialize(const NfaState<T>& s, const ComputationState& c) const;
  /// The id of the event where pruning starts for `match` (0: prune nothing).
  Result<uint64_t> pruningId(const NfaState<T>& s, const ComputationState& match) const;
  bool shouldPrune(uint64_t start, uint64_t pruning) const;
  void compactIfNeeded(NfaState<T>& s) const;
  static void sortByStart(std::vector<ComputationState>& v) {
    stableInsertionSort(v, [](const ComputationState& c) { return c.startKey(); });
  }

  std::vector<State> states_;
  std::vector<std::string> names_;
  // Scratch space of process(), kept to avoid allocating per event: an Nfa is used by one
  // thread at a time (each operator subtask compiles its own).
  mutable std::vector<ComputationState> nextPartial_, potential_, step_;
  mutable std::vector<int> stack_;
  mutable std::vector<const Transition*> edges_;
  int start_ = 0;
  int64_t windowMs_ = -1;
  AfterMatchSkipStrategy skip_ = AfterMatchSkipStrategy::noSkip();
};

/// The condition context of one partial match while one event is tested.
template <class T>
class Nfa<T>::Context final : public ConditionContext<T> {
 public:
  Context(const Nfa& nfa, const NfaState<T>& s, const ComputationState& c, int64_t ts) : nfa_(nfa), s_(s), c_(c), ts_(ts) {}
  const std::vector<const T*>& eventsForPattern(std::string_view name) const override {
    if (!extracted_) {
      extracted_ = true;
      byName_.assign(nfa_.names_.size(), {});
      std::vector<int32_t> path;
      if (s_.buffer.extract(c_.previous, c_.version, path)) {
        for (auto it = path.rbegin(); it != path.rend(); ++it) {
          const auto& n = s_.buffer.node(*it);
          byName_[n.name].push_back(&s_.buffer.event(n.event).value);
        }
      }
    }
    for (size_t i = 0; i < nfa_.names_.size(); ++i)
      if (nfa_.names_[i] == name) return byName_[i];
    static const std::vector<const T*> kNone;
    return kNone;
  }
  int64_t timestamp() const override { return ts_; }
  int64_t currentProcessingTime() const override;
  /// The buffer changed: pointers into it may have moved.
  void invalidate() { extracted_ = false; }

 private:
  const Nfa& nfa_;
  const NfaState<T>& s_;
  const ComputationState& c_;
  int64_t ts_;
  mutable bool extracted_ = false;
  mutable std::vector<std::vector<const T*>> byName_;
};

}  // namespace reka::cep

#include "reka/cep/detail/NfaCompiler.h"  // IWYU pragma: export
#include "reka/cep/detail/NfaRuntime.h"   // IWYU pragma: export
