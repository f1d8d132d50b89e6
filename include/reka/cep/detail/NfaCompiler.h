#pragma once

// Compiles a Pattern into the states of an Nfa. The construction follows Flink CEP's
// (NFACompiler): the sequence is walked from its last pattern to its first, each pattern
// becoming states whose transitions lead to the states of the pattern after it, so that the
// automaton accepts exactly what Flink's accepts.

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "reka/cep/Names.h"

namespace reka::cep {

template <class T>
class NfaCompiler {
 public:
  using N = Nfa<T>;
  using Node = detail::PatternNode<T>;
  using StateType = typename N::StateType;
  using Action = typename N::Action;
  using Cond = Condition<T>;
  using OptCond = std::optional<Cond>;  ///< nullopt: no transition; an empty Cond: always

  Result<std::shared_ptr<const N>> compile(const Pattern<T>& pattern) {
    nfa_ = std::make_shared<N>();
    const Node* last = pattern.node().get();
    REKA_RETURN_IF_ERROR(validate(last));
    nfa_->skip_ = firstOf(last)->skip;
    current_ = last;
    int sink = createState("$endState$", StateType::kFinal);
    sink = createMiddleStates(sink);
    const int start = convertPattern(sink);
    nfa_->states_[start].type = StateType::kStart;
    nfa_->start_ = start;
    if (nfa_->states_.size() > 65535) return Status::invalidArgument("the pattern compiles to more than 65535 states");
    return std::shared_ptr<const N>(std::move(nfa_));
  }

 private:
  // --- validation -----------------------------------------------------------------------

  static const Node* firstOf(const Node* n) {
    while (n->previous) n = n->previous.get();
    return n;
  }
  Status validate(const Node* last) {
    std::set<std::string> names;
    REKA_RETURN_IF_ERROR(validateSequence(last, names, true));
    const auto& skip = firstOf(last)->skip;
    if (skip.kind() == AfterMatchSkipStrategy::Kind::kSkipToFirst || skip.kind() == AfterMatchSkipStrategy::Kind::kSkipToLast) {
      if (!names.count(skip.patternName()))
        return Status::invalidArgument("the after-match skip strategy names pattern '" + skip.patternName() +
                                       "', which is not in the pattern");
    }
    return Status::ok();
  }
  Status validateSequence(const Node* last, std::set<std::string>& names, bool topLevel) {
    if (topLevel && last->quantifier.consuming == Contiguity::kNotFollow) endsWithNotFollow_ = last->name;
    for (const Node* n = last; n != nullptr; n = n->previous.get()) {
      if (!n->errors.empty()) return Status::invalidArgument("pattern '" + n->name + "': " + n->errors.front());
      if (n->withinMs > 0 && (nfa_->windowMs_ < 0 || n->withinMs < nfa_->windowMs_)) nfa_->windowMs_ = n->withinMs;
      if (n->group) {
        REKA_RETURN_IF_ERROR(validateSequence(n->group.get(), names, false));
        continue;
      }
      if (n->name.empty()) return Status::invalidArgument("a pattern needs a name");
      if (n->name.find(':') != std::string::npos)
        return Status::invalidArgument("pattern name '" + n->name + "' contains ':', which names cannot");
      if (!names.insert(n->name).second)
        return Status::invalidArgument("pattern name '" + n->name + "' is used twice; names must be unique");
      const auto c = n->quantifier.consuming;
      const bool isNot = c == Contiguity::kNotNext || c == Contiguity::kNotFollow;
      if (isNot && n->previous == nullptr) return Status::invalidArgument("a pattern cannot begin with a negative pattern ('" + n->name + "')");
    }
    if (topLevel && !endsWithNotFollow_.empty() && nfa_->windowMs_ <= 0)
      return Status::invalidArgument("a pattern can end with notFollowedBy ('" + endsWithNotFollow_ +
                                     "') only with within(): the match is emitted when that time has passed without it");
    return Status::ok();
  }

  // --- states ---------------------------------------------------------------------------

  uint16_t nameId(const std::string& name) {
    auto& names = nfa_->names_;
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return static_cast<uint16_t>(i);
    names.push_back(name);
    return static_cast<uint16_t>(names.size() - 1);
  }
  int createState(const std::string& name, StateType type) {
    nfa_->states_.push_back(typename N::State{nameId(name), type, {}});
    return static_cast<int>(nfa_->states_.size() - 1);
  }
  typename N::State& st(int i) { return nfa_->states_[i]; }
  void add(int from, Action a, int to, Cond c) { st(from).transitions.push_back({a, from, to, std::move(c)}); }
  void addTake(int from, int to, Cond c) { add(from, Action::kTake, to, std::move(c)); }
  void addIgnore(int from, int to, Cond c) { add(from, Action::kIgnore, to, std::move(c)); }
  void addProceed(int from, int to, Cond c) { add(from, Action::kProceed, to, std::move(c)); }
  int copy(int state) {
    const int c = createState(nfa_->names_[st(state).name], st(state).type);
    auto transitions = st(state).transitions;
    for (auto& t : transitions) add(c, t.action, t.target == t.source ? c : t.target, t.condition);
    return c;
  }

  // --- conditions -----------------------------------------------------------------------

  static Cond notOf(Cond c) {
    if (!c) return [](const T&, const ConditionContext<T>&) { return false; };
    return [c = std::move(c)](const T& e, const ConditionContext<T>& x) { return !c(e, x); };
  }
  static Cond andOf(Cond a, Cond b) { return detail::andCondition<T>(std::move(a), std::move(b)); }
  /// The condition for accepting an event into `p`.
  Cond takeCondition(const Node* p) {
    Cond c = p->condition;
    if (group_ != nullptr && group_->until) c = extendWithUntil(c, group_->until, true).value();
    return c;
  }
  static OptCond extendWithUntil(OptCond c, const Cond& until, bool isTake) {
    if (until && c) return andOf(notOf(until), *c);
    if (until && isTake) return notOf(until);
    return c;
  }
  OptCond ignoreFor(Contiguity c, const Node* p) {
    OptCond ignore;
    switch (c) {
      case Contiguity::kStrict:
        break;
      case Contiguity::kRelaxed:
        ignore = notOf(p->condition);
        break;
      case Contiguity::kAny:
        ignore = Cond();
        break;
      default:
        break;
    }
    if (group_ != nullptr && group_->until) ignore = extendWithUntil(ignore, group_->until, false);
    return ignore;
  }
  /// Which events may be skipped before the first event of `p`.
  OptCond ignoreCondition(const Node* p) {
    Contiguity c = p->quantifier.consuming;
    if (headOfGroup(p)) c = groupFirstOfLoop() ? group_->quantifier.consuming : group_->quantifier.inner;
    return ignoreFor(c, p);
  }
  /// Which events may be skipped between the events of a looping `p`.
  OptCond innerIgnoreCondition(const Node* p) {
    Contiguity c = p->quantifier.inner;
    if (headOfGroup(p)) c = group_->quantifier.inner;
    return ignoreFor(c, p);
  }

  bool headOfGroup(const Node* p) const { return group_ != nullptr && p->previous == nullptr; }
  bool groupFirstOfLoop() const {
    auto it = firstOfLoop_.find(group_);
    return it == firstOfLoop_.end() ? true : it->second;
  }
  void setGroupFirstOfLoop(bool v) {
    if (current_->group) firstOfLoop_[current_] = v;
  }
  bool patternOptional(const Node* p) const { return p->quantifier.optional; }
  /// The first pattern of an optional group, at the group's first iteration.
  bool headOfOptionalGroup(const Node* p) const { return headOfGroup(p) && groupFirstOfLoop() && group_->quantifier.optional; }
  bool currentOptional() const { return patternOptional(current_); }
  /// "Always", but never past the until condition of the group being compiled.
  Cond trueCondition() {
    if (group_ != nullptr && group_->until) return notOf(group_->until);
    return Cond();
  }
  bool greedy() const { return current_->quantifier.greedy; }

  // --- negative patterns ----------------------------------------------------------------

  int createStopState(const Cond& notCondition, const std::string& name) {
    auto it = stopStates_.find(name);
    if (it != stopStates_.end()) return it->second;
    const int s = createState(name, StateType::kStop);
    addTake(s, s, notCondition);
    stopStates_[name] = s;
    return s;
  }
  /// The notFollowedBy patterns before the current one, reached through optional ones.
  std::vector<std::pair<Cond, std::string>> currentNotConditions() {
    std::vector<std::pair<Cond, std::string>> out;
    const Node* p = current_;
    while (p->previous && (p->previous->quantifier.optional || p->previous->quantifier.consuming == Contiguity::kNotFollow)) {
      p = p->previous.get();
      if (p->quantifier.consuming == Contiguity::kNotFollow) out.emplace_back(takeCondition(p), p->name);
    }
    return out;
  }
  void addStopStates(int state) {
    for (auto& [c, name] : currentNotConditions()) {
      const int stop = createStopState(c, name);
      addProceed(state, stop, c);
    }
  }
  void addStopStateToLooping(int state) {
    if (following_ != nullptr && following_->quantifier.consuming == Contiguity::kNotFollow) {
      Cond c = takeCondition(following_);
      const int stop = createStopState(c, following_->name);
      addProceed(state, stop, c);
    }
  }
  /// An optional pattern accepted an event: the notFollowedBy patterns before it no longer apply
  /// on that path, so it leads to a copy of `sink` without their stop transitions.
  int copyWithoutTransitiveNots(int sink) {
    auto nots = currentNotConditions();
    if (nots.empty() || !currentOptional()) return sink;
    const int c = createState(nfa_->names_[st(sink).name], st(sink).type);
    auto transitions = st(sink).transitions;
    for (auto& t : transitions) {
      if (t.action == Action::kProceed) {
        bool remove = false;
        if (st(t.target).type == StateType::kStop)
          for (auto& [cond, name] : nots)
            if (nfa_->names_[st(t.target).name] == name) remove = true;
        if (!remove) add(c, t.action, t.target, t.condition);
      } else {
        add(c, t.action, t.target == t.source ? c : t.target, t.condition);
      }
    }
    return c;
  }

  // --- patterns to states ---------------------------------------------------------------

  int createMiddleStates(int sink) {
    int lastSink = sink;
    while (current_->previous) {
      const auto c = current_->quantifier.consuming;
      if (c == Contiguity::kNotFollow) {
        // Becomes stop transitions of the patterns around it; at the end of the pattern, a
        // pending state that ignores what does not match it until the window has passed (then
        // the match is emitted) and stops at what does.
        if (st(lastSink).type == StateType::kFinal) {
          const int pending = createState(current_->name, StateType::kPending);
          Cond notCondition = takeCondition(current_);
          const int stop = createStopState(notCondition, current_->name);
          addProceed(pending, stop, notCondition);
          addIgnore(pending, pending, notOf(notCondition));
          lastSink = pending;
        }
      } else if (c == Contiguity::kNotNext) {
        const int notNext = createState(current_->name, StateType::kNormal);
        Cond notCondition = takeCondition(current_);
        const int stop = createStopState(notCondition, current_->name);
        if (st(lastSink).type == StateType::kFinal)
          addIgnore(notNext, lastSink, notOf(notCondition));
        else
          addProceed(notNext, lastSink, notOf(notCondition));
        addProceed(notNext, stop, notCondition);
        lastSink = notNext;
      } else {
        lastSink = convertPattern(lastSink);
      }
      following_ = current_;
      current_ = current_->previous.get();
    }
    return lastSink;
  }

  int convertPattern(int sink) {
    const auto& q = current_->quantifier;
    int lastSink;
    if (q.kind == detail::Quantifier::Kind::kLooping) {
      const int copied = copyWithoutTransitiveNots(sink);
      const int looping = createLooping(copied);
      if (auto it = originalState_.find(copied); it != originalState_.end()) originalState_[sink] = it->second;
      setGroupFirstOfLoop(false);
      lastSink = createTimesState(looping, sink, q.from, q.from);
    } else if (q.kind == detail::Quantifier::Kind::kTimes) {
      lastSink = createTimesState(sink, sink, q.from, q.to);
    } else {
      lastSink = createSingletonState(sink, sink, takeCondition(current_), ignoreCondition(current_), currentOptional());
    }
    addStopStates(lastSink);
    return lastSink;
  }

  int createTimesState(int sink, int proceed, int from, int to) {
    int lastSink = sink;
    setGroupFirstOfLoop(false);
    const Cond& until = current_->until;
    OptCond innerIgnore = extendWithUntil(innerIgnoreCondition(current_), until, false);
    Cond take = *extendWithUntil(takeCondition(current_), until, true);
    if (greedy() && from != to) {
      if (until) originalState_[sink] = copy(sink);
      for (auto& t : st(sink).transitions) t.condition = andOf(t.condition, notOf(take));
    }
    for (int i = from; i < to; ++i) {
      lastSink = createSingletonState(lastSink, proceed, take, innerIgnore, true);
      addStopStateToLooping(lastSink);
    }
    for (int i = 0; i < from - 1; ++i) {
      lastSink = createSingletonState(lastSink, -1, take, innerIgnore, false);
      addStopStateToLooping(lastSink);
    }
    setGroupFirstOfLoop(true);
    return createSingletonState(lastSink, proceed, take, ignoreCondition(current_), currentOptional());
  }

  int createSingletonState(int sinkState, int proceed, const Cond& take, const OptCond& ignore, bool isOptional) {
    if (current_->group) return createGroupPatternState(current_, sinkState, proceed, isOptional);
    const int singleton = createState(current_->name, StateType::kNormal);
    const int sink = copyWithoutTransitiveNots(sinkState);
    addTake(singleton, sink, take);
    if (isOptional) {
      if (greedy()) {
        if (auto it = originalState_.find(proceed); current_->until && it != originalState_.end())
          addProceed(singleton, it->second, andOf(trueCondition(), current_->until));
        addProceed(singleton, proceed, current_->until ? andOf(trueCondition(), notOf(current_->until)) : trueCondition());
      } else {
        addProceed(singleton, proceed, trueCondition());
      }
    }
    if (ignore) {
      int ignoreState = singleton;
      if (isOptional || headOfOptionalGroup(current_)) {
        ignoreState = createState(current_->name, StateType::kNormal);
        addTake(ignoreState, sink, take);
        addIgnore(ignoreState, ignoreState, *ignore);
        addStopStates(ignoreState);
      }
      addIgnore(singleton, ignoreState, *ignore);
    }
    return singleton;
  }

  int createLooping(int sink) {
    if (current_->group) return createLoopingGroupPatternState(current_, sink);
    const Cond& until = current_->until;
    OptCond ignore = extendWithUntil(innerIgnoreCondition(current_), until, false);
    Cond take = *extendWithUntil(takeCondition(current_), until, true);
    const int looping = createState(current_->name, StateType::kNormal);
    if (greedy()) {
      if (until) {
        const int sinkCopy = copy(sink);
        addProceed(looping, sinkCopy, andOf(trueCondition(), until));
        originalState_[sink] = sinkCopy;
      }
      addProceed(looping, sink, until ? andOf(trueCondition(), notOf(until)) : trueCondition());
      // Greedy: the pattern after the loop may not take, skip or pass an event the loop takes.
      const Cond loopTake = takeCondition(current_);
      for (auto& t : st(sink).transitions) t.condition = andOf(t.condition, notOf(loopTake));
    } else {
      addProceed(looping, sink, trueCondition());
    }
    addTake(looping, looping, take);
    addStopStateToLooping(looping);
    if (ignore) {
      const int ignoreState = createState(current_->name, StateType::kNormal);
      addTake(ignoreState, looping, take);
      addIgnore(ignoreState, ignoreState, *ignore);
      addIgnore(looping, ignoreState, *ignore);
      addStopStateToLooping(ignoreState);
    }
    return looping;
  }

  int createGroupPatternState(const Node* group, int sink, int proceed, bool isOptional) {
    const Cond proceedCondition = trueCondition();  // of the enclosing group
    const Node* oldCurrent = current_;
    const Node* oldFollowing = following_;
    const Node* oldGroup = group_;
    group_ = group;
    current_ = group->group.get();
    int lastSink = createMiddleStates(sink);
    lastSink = convertPattern(lastSink);
    if (isOptional) addProceed(lastSink, proceed, proceedCondition);
    current_ = oldCurrent;
    following_ = oldFollowing;
    group_ = oldGroup;
    return lastSink;
  }

  int createLoopingGroupPatternState(const Node* group, int sink) {
    const Cond proceedCondition = trueCondition();  // of the enclosing group
    const Node* oldCurrent = current_;
    const Node* oldFollowing = following_;
    const Node* oldGroup = group_;
    const int dummy = createState(current_->name, StateType::kNormal);
    group_ = group;
    current_ = group->group.get();
    int lastSink = createMiddleStates(dummy);
    lastSink = convertPattern(lastSink);
    addProceed(lastSink, sink, proceedCondition);
    addProceed(dummy, lastSink, proceedCondition);
    current_ = oldCurrent;
    following_ = oldFollowing;
    group_ = oldGroup;
    return lastSink;
  }

  std::shared_ptr<N> nfa_;
  const Node* current_ = nullptr;
  const Node* following_ = nullptr;
  const Node* group_ = nullptr;
  std::map<const Node*, bool> firstOfLoop_;
  std::map<std::string, int> stopStates_;
  std::string endsWithNotFollow_;  ///< the notFollowedBy that ends the pattern, if one does
  std::map<int, int> originalState_;
};

template <class T>
Result<std::shared_ptr<const Nfa<T>>> Nfa<T>::compile(const Pattern<T>& pattern) {
  if (!pattern.node()) return Status::invalidArgument("an empty pattern");
  NfaCompiler<T> compiler;
  return compiler.compile(pattern);
}

template <class T>
std::string Nfa<T>::describe() const {
  static const char* kTypes[] = {"Normal", "Start", "Final", "Stop", "Pending"};
  static const char* kActions[] = {"TAKE", "IGNORE", "PROCEED"};
  std::string out = "skip " + std::string(skipStrategyName(skip_.kind())) + ", within " + std::to_string(windowMs_) + " ms\n";
  for (size_t i = 0; i < states_.size(); ++i) {
    out += std::to_string(i) + " " + names_[states_[i].name] + " (" + kTypes[static_cast<int>(states_[i].type)] + ")\n";
    for (const auto& t : states_[i].transitions)
      out += "  " + std::string(kActions[static_cast<int>(t.action)]) + " -> " + std::to_string(t.target) + "\n";
  }
  return out;
}

}  // namespace reka::cep
