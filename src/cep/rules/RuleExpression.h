#pragma once

// Conditions and measures of JSON rules: SQL expressions (Reka's SQL parser) compiled to a tree
// evaluated on one event, with references to the events a partial match has accepted.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reka/base/Status.h"
#include "reka/cep/Event.h"
#include "reka/cep/Pattern.h"
#include "reka/cep/SharedBuffer.h"

namespace reka::cep::rules {

/// What an expression reads: the event under test (conditions) and the events of each step,
/// from the partial match (conditions) or the completed match (measures).
struct EvalContext {
  const Event* current = nullptr;  ///< conditions: the event tested; measures: null
  std::string_view currentStep;    ///< conditions: the step whose condition runs
  const ConditionContext<Event>* partial = nullptr;
  const Match<Event>* match = nullptr;
  /// The events of `step` in order (a condition's own step includes the current event).
  void eventsOf(std::string_view step, std::vector<const Event*>& out) const;
};

struct Node;

/// A compiled expression. Keeps per-thread caches (where a field was last found): one per
/// operator subtask.
class Expression {
 public:
  Expression();
  ~Expression();
  Expression(Expression&&) noexcept;
  Expression& operator=(Expression&&) noexcept;

  /// Compiles `text`. `steps`: the rule's step names (qualifiers must be one of them);
  /// `measure`: evaluated on a completed match (unqualified fields read its last event).
  /// Errors name the position and what is accepted.
  static Result<Expression> compile(std::string_view text, const std::vector<std::string>& steps, bool measure);

  Value evaluate(const EvalContext& ctx) const;
  /// True only if the value is the boolean true (null and false are not).
  bool holds(const EvalContext& ctx) const {
    const Value v = evaluate(ctx);
    return v.kind == Value::Kind::kBool && v.b;
  }
  /// Whether it reads the events of other steps (false: it needs only the current event).
  bool readsOtherSteps() const { return readsOtherSteps_; }
  bool valid() const { return root_ != nullptr; }

 private:
  std::unique_ptr<Node> root_;
  bool readsOtherSteps_ = false;
};

}  // namespace reka::cep::rules
