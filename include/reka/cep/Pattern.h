#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace reka::cep {

/// How a pattern is joined to the one before it (Flink's consuming strategy), and how the
/// events of a looping pattern are joined to each other.
enum class Contiguity : uint8_t {
  kStrict,     ///< next(), consecutive(): no event in between
  kRelaxed,    ///< followedBy(), the default in a loop: skips events that do not match
  kAny,        ///< followedByAny(), allowCombinations(): may skip events that match too
  kNotNext,    ///< notNext(): the next event must not match
  kNotFollow,  ///< notFollowedBy(): no event in between may match
};

/// What a condition sees besides the event it tests: the events already accepted into the
/// same partial match, and the time.
template <class T>
class ConditionContext {
 public:
  virtual ~ConditionContext() = default;
  /// The events this partial match has accepted for the pattern `name`, in order (none if it
  /// has accepted none). Costs a walk of the shared buffer: call it only when needed.
  virtual const std::vector<const T*>& eventsForPattern(std::string_view name) const = 0;
  /// The timestamp of the event being tested (event time, or its arrival in processing time).
  virtual int64_t timestamp() const = 0;
  /// The processing time now, in milliseconds.
  virtual int64_t currentProcessingTime() const = 0;
};

/// A condition on an event: simple (`bool(const T&)`) or iterative (`bool(const T&, const
/// ConditionContext<T>&)`, which may look at the events matched so far). Empty: always true.
template <class T>
using Condition = std::function<bool(const T&, const ConditionContext<T>&)>;

namespace detail {
template <class T, class C>
Condition<T> toCondition(C c) {
  if constexpr (std::is_invocable_r_v<bool, C&, const T&, const ConditionContext<T>&>) {
    return Condition<T>(std::move(c));
  } else {
    static_assert(std::is_invocable_r_v<bool, C&, const T&>,
                  "a condition is bool(const T&) or bool(const T&, const ConditionContext<T>&)");
    return [c = std::move(c)](const T& e, const ConditionContext<T>&) mutable { return static_cast<bool>(c(e)); };
  }
}
template <class T>
Condition<T> andCondition(Condition<T> a, Condition<T> b) {
  if (!a) return b;
  if (!b) return a;
  return [a = std::move(a), b = std::move(b)](const T& e, const ConditionContext<T>& c) { return a(e, c) && b(e, c); };
}
}  // namespace detail

/// Which partial matches are discarded after a match is emitted (Flink's AfterMatchSkipStrategy).
class AfterMatchSkipStrategy {
 public:
  enum class Kind : uint8_t { kNoSkip, kSkipToNext, kSkipPastLastEvent, kSkipToFirst, kSkipToLast };

  /// Every match is emitted.
  static AfterMatchSkipStrategy noSkip() { return AfterMatchSkipStrategy(Kind::kNoSkip, {}); }
  /// Discards the partial matches that started with the same event as the match.
  static AfterMatchSkipStrategy skipToNext() { return AfterMatchSkipStrategy(Kind::kSkipToNext, {}); }
  /// Discards the partial matches that started before the match ended.
  static AfterMatchSkipStrategy skipPastLastEvent() { return AfterMatchSkipStrategy(Kind::kSkipPastLastEvent, {}); }
  /// Discards the partial matches that started before the first event of `pattern` in the match.
  static AfterMatchSkipStrategy skipToFirst(std::string pattern) {
    return AfterMatchSkipStrategy(Kind::kSkipToFirst, std::move(pattern));
  }
  /// Discards the partial matches that started before the last event of `pattern` in the match.
  static AfterMatchSkipStrategy skipToLast(std::string pattern) {
    return AfterMatchSkipStrategy(Kind::kSkipToLast, std::move(pattern));
  }
  /// skip-to-first/last: a match without an event for the pattern fails the job instead of
  /// skipping nothing (Flink's throwExceptionOnMiss).
  AfterMatchSkipStrategy throwExceptionOnMiss() const {
    AfterMatchSkipStrategy s = *this;
    s.throwOnMiss_ = true;
    return s;
  }

  Kind kind() const { return kind_; }
  const std::string& patternName() const { return pattern_; }
  bool throwsOnMiss() const { return throwOnMiss_; }
  /// Whether matches wait until no earlier partial match can still complete (all but no-skip).
  bool isSkip() const { return kind_ != Kind::kNoSkip; }

 private:
  AfterMatchSkipStrategy(Kind kind, std::string pattern) : kind_(kind), pattern_(std::move(pattern)) {}
  Kind kind_;
  std::string pattern_;
  bool throwOnMiss_ = false;
};

namespace detail {
/// The quantifier of one pattern.
struct Quantifier {
  enum class Kind : uint8_t { kSingle, kLooping, kTimes };
  Kind kind = Kind::kSingle;
  Contiguity consuming = Contiguity::kRelaxed;  ///< towards the previous pattern
  Contiguity inner = Contiguity::kRelaxed;      ///< between the events of a loop
  bool optional = false;
  bool greedy = false;
  int from = 1;  ///< times / timesOrMore
  int to = 1;    ///< times(from, to)
};

/// One pattern of a sequence; the sequence is a chain through `previous`.
template <class T>
struct PatternNode {
  std::string name;
  std::shared_ptr<PatternNode> previous;
  Quantifier quantifier;
  Condition<T> condition;  ///< empty: every event
  Condition<T> until;      ///< looping patterns: stop accepting at an event that meets it
  int64_t withinMs = -1;
  /// A group pattern: the last pattern of the inner sequence (its name is "groupPattern").
  std::shared_ptr<PatternNode> group;
  AfterMatchSkipStrategy skip = AfterMatchSkipStrategy::noSkip();
  std::vector<std::string> errors;  ///< misuses of the builder, reported when it is compiled
};
}  // namespace detail

/// A pattern sequence, built as in Flink CEP:
///
///     auto p = Pattern<Txn>::begin("small").where([](const Txn& t) { return t.amount < 1; })
///                  .times(3).consecutive()
///                  .followedBy("large").where([](const Txn& t) { return t.amount > 500; })
///                  .within(10 * 60 * 1000);
///
/// A Pattern is a handle on its last pattern: where(), the quantifiers and within() change that
/// pattern (and return the handle); next(), followedBy() … append a new one. Mistakes (a
/// quantifier applied twice, greedy on a single event, …) are reported by Nfa::compile.
template <class T>
class Pattern {
 public:
  using Node = detail::PatternNode<T>;

  /// The first pattern of a sequence.
  static Pattern begin(std::string name, AfterMatchSkipStrategy skip = AfterMatchSkipStrategy::noSkip()) {
    auto n = std::make_shared<Node>();
    n->name = std::move(name);
    n->quantifier.consuming = Contiguity::kRelaxed;
    n->skip = std::move(skip);
    return Pattern(std::move(n));
  }
  /// A sequence that starts with a group: `group` is matched as one pattern, and quantifiers
  /// apply to it as a whole.
  static Pattern begin(const Pattern& group, AfterMatchSkipStrategy skip = AfterMatchSkipStrategy::noSkip()) {
    Pattern p = appendGroup(nullptr, group, Contiguity::kRelaxed);
    p.node_->skip = std::move(skip);
    return p;
  }

  /// Appends a pattern whose event must directly follow (strict contiguity).
  Pattern next(std::string name) const { return append(std::move(name), Contiguity::kStrict); }
  /// Appends a pattern; events that do not match it may come in between (relaxed contiguity).
  Pattern followedBy(std::string name) const { return append(std::move(name), Contiguity::kRelaxed); }
  /// Appends a pattern; any events may come in between, matching ones included
  /// (non-deterministic relaxed contiguity: one match per choice).
  Pattern followedByAny(std::string name) const { return append(std::move(name), Contiguity::kAny); }
  /// Appends a negative pattern: the partial match is discarded if the next event matches it.
  Pattern notNext(std::string name) const { return append(std::move(name), Contiguity::kNotNext); }
  /// Appends a negative pattern: the partial match is discarded if any event before the next
  /// pattern's matches it.
  Pattern notFollowedBy(std::string name) const { return append(std::move(name), Contiguity::kNotFollow); }
  Pattern next(const Pattern& group) const { return appendGroup(node_, group, Contiguity::kStrict); }
  Pattern followedBy(const Pattern& group) const { return appendGroup(node_, group, Contiguity::kRelaxed); }
  Pattern followedByAny(const Pattern& group) const { return appendGroup(node_, group, Contiguity::kAny); }

  /// Adds a condition, ANDed with the ones before.
  template <class C>
  Pattern where(C condition) const {
    node_->condition = detail::andCondition<T>(node_->condition, detail::toCondition<T>(std::move(condition)));
    return *this;
  }
  /// Adds a condition, ORed with the ones before (Flink's `or`, a keyword in C++).
  template <class C>
  Pattern orWhere(C condition) const {
    Condition<T> c = detail::toCondition<T>(std::move(condition));
    if (!node_->condition) {
      node_->condition = std::move(c);
    } else {
      node_->condition = [a = node_->condition, b = std::move(c)](const T& e, const ConditionContext<T>& x) {
        return a(e, x) || b(e, x);
      };
    }
    return *this;
  }
  /// A looping pattern stops accepting events at the first event that meets `condition`.
  template <class C>
  Pattern until(C condition) const {
    if (node_->quantifier.kind != detail::Quantifier::Kind::kLooping)
      error("until() applies only to a looping pattern (oneOrMore, timesOrMore)");
    node_->until = detail::andCondition<T>(node_->until, detail::toCondition<T>(std::move(condition)));
    return *this;
  }

  /// One or more events.
  Pattern oneOrMore() const { return loop(1); }
  /// `n` or more events.
  Pattern timesOrMore(int n) const { return loop(n); }
  /// Exactly `n` events.
  Pattern times(int n) const { return times(n, n); }
  /// From `from` to `to` events.
  Pattern times(int from, int to) const {
    checkQuantifiable();
    if (from < 0 || to < 1 || from > to)
      error("times(" + std::to_string(from) + ", " + std::to_string(to) + "): needs 0 <= from <= to and to >= 1");
    auto& q = node_->quantifier;
    q.kind = detail::Quantifier::Kind::kTimes;
    if (from == 0) {
      q.optional = true;
      from = 1;
    }
    q.from = from;
    q.to = to;
    return *this;
  }
  /// The pattern may match no event at all.
  Pattern optional() const {
    if (isNot()) error("a negative pattern (notNext, notFollowedBy) cannot be optional");
    node_->quantifier.optional = true;
    return *this;
  }
  /// A looping pattern takes as many events as it can.
  Pattern greedy() const {
    if (isNot()) error("a negative pattern cannot be greedy");
    if (node_->group) error("a group pattern cannot be greedy");
    if (node_->quantifier.kind == detail::Quantifier::Kind::kSingle) error("greedy() applies only to a looping or times pattern");
    node_->quantifier.greedy = true;
    return *this;
  }
  /// Strict contiguity between the events of a looping pattern.
  Pattern consecutive() const { return inner(Contiguity::kStrict, "consecutive"); }
  /// Non-deterministic relaxed contiguity between the events of a looping pattern.
  Pattern allowCombinations() const { return inner(Contiguity::kAny, "allowCombinations"); }
  /// The whole sequence must happen within `ms` milliseconds of its first event; partial
  /// matches older than that time out. The smallest within() of a sequence applies.
  Pattern within(int64_t ms) const {
    if (ms <= 0) error("within() needs a positive duration, got " + std::to_string(ms) + " ms");
    node_->withinMs = ms;
    return *this;
  }

  const std::shared_ptr<Node>& node() const { return node_; }

 private:
  explicit Pattern(std::shared_ptr<Node> n) : node_(std::move(n)) {}

  Pattern append(std::string name, Contiguity c) const {
    auto n = std::make_shared<Node>();
    n->name = std::move(name);
    n->previous = node_;
    n->quantifier.consuming = c;
    if ((c == Contiguity::kNotNext || c == Contiguity::kNotFollow) && node_->quantifier.optional)
      n->errors.push_back("a negative pattern ('" + n->name + "') cannot follow an optional one ('" + node_->name + "')");
    return Pattern(std::move(n));
  }
  static Pattern appendGroup(std::shared_ptr<Node> previous, const Pattern& group, Contiguity c) {
    auto n = std::make_shared<Node>();
    n->name = "groupPattern";
    n->previous = std::move(previous);
    n->quantifier.consuming = c;
    n->group = group.node_;
    return Pattern(std::move(n));
  }
  Pattern loop(int n) const {
    checkQuantifiable();
    if (n < 1) error("timesOrMore(" + std::to_string(n) + "): needs at least 1");
    auto& q = node_->quantifier;
    q.kind = detail::Quantifier::Kind::kLooping;
    q.from = n;
    q.to = n;
    return *this;
  }
  Pattern inner(Contiguity c, const char* what) const {
    auto& q = node_->quantifier;
    if (q.kind == detail::Quantifier::Kind::kSingle)
      error(std::string(what) + "() applies only to a looping or times pattern");
    else if (q.inner != Contiguity::kRelaxed)
      error("consecutive() and allowCombinations() exclude each other and apply once");
    q.inner = c;
    return *this;
  }
  void checkQuantifiable() const {
    if (isNot()) error("a negative pattern ('" + node_->name + "') cannot have a quantifier");
    if (node_->quantifier.kind != detail::Quantifier::Kind::kSingle)
      error("pattern '" + node_->name + "' already has a quantifier");
  }
  bool isNot() const {
    auto c = node_->quantifier.consuming;
    return c == Contiguity::kNotNext || c == Contiguity::kNotFollow;
  }
  void error(std::string message) const { node_->errors.push_back(std::move(message)); }

  std::shared_ptr<Node> node_;
};

}  // namespace reka::cep
