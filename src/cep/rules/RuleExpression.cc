// Rule expressions: the SQL parser's syntax tree compiled to Nodes evaluated with dynamic
// (JSON) types. Null semantics are SQL's: an operation on null is null, AND/OR are
// three-valued, and a condition holds only when it is true. Values of types an operation does
// not accept (a string compared with a number) give null, as a missing field does.
#include "cep/rules/RuleExpression.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "sql/Ast.h"
#include "sql/Like.h"

namespace reka::cep::rules {

void EvalContext::eventsOf(std::string_view step, std::vector<const Event*>& out) const {
  out.clear();
  if (partial != nullptr) {
    const auto& prior = partial->eventsForPattern(step);
    out.assign(prior.begin(), prior.end());
  } else if (match != nullptr) {
    for (const Event& e : match->get(step)) out.push_back(&e);
  }
  if (current != nullptr && step == currentStep) out.push_back(current);
}

enum class Op : uint8_t {
  kLiteral,
  kField,     ///< the current event's field (measures: the last event of the match)
  kStepField, ///< step.field: the current event (own step) or the step's last event
  kAggregate, ///< FIRST, LAST, SUM, AVG, MIN, MAX, COUNT over a step's events
  kNeg,
  kNot,
  kAnd,
  kOr,
  kCompare,
  kArithmetic,
  kIsNull,
  kCase,
  kLike,
  kAbs,
  kDistance,
  kCoalesce,
  kCastDouble,
  kCastInt,
  kCastBool,
  kMatchRowtime, ///< measures: the time of the match's last event
  kClassifier,   ///< measures: the step of the match's last event
};

enum class Agg : uint8_t { kFirst, kLast, kSum, kAvg, kMin, kMax, kCount };

struct Node {
  Op op = Op::kLiteral;
  std::vector<Node> args;
  Value literal;
  std::string text;   ///< a string literal's value; a field's name
  std::string step;   ///< kStepField, kAggregate
  std::string cmp;    ///< kCompare: = <> < <= > >=; kArithmetic: + - * / %
  Agg agg = Agg::kLast;
  int64_t offset = 0; ///< FIRST/LAST(x, n)
  bool negated = false;
  bool hasElse = false;
  bool countEvents = false;  ///< COUNT(step): events, not non-null values
  mutable int hint = -1;     ///< where the field was last found
  mutable std::vector<const Event*> scratch;
};

namespace {

Value fieldOf(const Event& e, const Node& n) {
  const int i = e.find(n.text, n.hint);
  if (i < 0) return Value::null();
  n.hint = i;
  return e.value(static_cast<size_t>(i));
}

/// -1, 0, 1, or 2 when the values do not compare (null, different kinds).
int compare(const Value& a, const Value& b) {
  if (a.isNull() || b.isNull()) return 2;
  if (a.kind == Value::Kind::kInt && b.kind == Value::Kind::kInt) return a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
  if (a.isNumber() && b.isNumber()) {
    const double x = a.asDouble(), y = b.asDouble();
    if (std::isnan(x) || std::isnan(y)) return 2;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.kind == Value::Kind::kString && b.kind == Value::Kind::kString) {
    const int c = a.s.compare(b.s);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.kind == Value::Kind::kBool && b.kind == Value::Kind::kBool) return a.b == b.b ? 0 : a.b ? 1 : -1;
  return 2;
}

Value arithmetic(char op, const Value& a, const Value& b) {
  if (!a.isNumber() || !b.isNumber()) return Value::null();
  if (a.kind == Value::Kind::kInt && b.kind == Value::Kind::kInt) {
    int64_t r = 0;
    switch (op) {
      case '+':
        if (!__builtin_add_overflow(a.i, b.i, &r)) return Value::integer(r);
        break;
      case '-':
        if (!__builtin_sub_overflow(a.i, b.i, &r)) return Value::integer(r);
        break;
      case '*':
        if (!__builtin_mul_overflow(a.i, b.i, &r)) return Value::integer(r);
        break;
      case '/':
        if (b.i == 0) return Value::null();
        if (b.i == -1 && a.i == INT64_MIN) break;  // overflows: as a double
        if (a.i % b.i == 0) return Value::integer(a.i / b.i);
        return Value::number(static_cast<double>(a.i) / static_cast<double>(b.i));
      case '%':
        if (b.i == 0) return Value::null();
        if (b.i == -1) return Value::integer(0);
        return Value::integer(a.i % b.i);
    }
  }
  const double x = a.asDouble(), y = b.asDouble();
  switch (op) {
    case '+': return Value::number(x + y);
    case '-': return Value::number(x - y);
    case '*': return Value::number(x * y);
    case '/': return y == 0 ? Value::null() : Value::number(x / y);
    case '%': return y == 0 ? Value::null() : Value::number(std::fmod(x, y));
  }
  return Value::null();
}

Value eval(const Node& n, const EvalContext& ctx);

Value aggregate(const Node& n, const EvalContext& ctx) {
  ctx.eventsOf(n.step, n.scratch);
  const auto& events = n.scratch;
  if (n.agg == Agg::kFirst || n.agg == Agg::kLast) {
    const int64_t size = static_cast<int64_t>(events.size());
    if (n.offset >= size) return Value::null();
    const size_t at = static_cast<size_t>(n.agg == Agg::kFirst ? n.offset : size - 1 - n.offset);
    return fieldOf(*events[at], n);
  }
  if (n.agg == Agg::kCount && n.countEvents) return Value::integer(static_cast<int64_t>(events.size()));
  int64_t count = 0;
  bool allInt = true;
  int64_t isum = 0;
  double dsum = 0;
  Value best;
  for (const Event* e : events) {
    const Value v = fieldOf(*e, n);
    if (v.isNull()) continue;
    if (n.agg == Agg::kCount) {
      ++count;
      continue;
    }
    if (n.agg == Agg::kMin || n.agg == Agg::kMax) {
      const int c = best.isNull() ? 0 : compare(v, best);
      if (best.isNull() || (c != 2 && (n.agg == Agg::kMin ? c < 0 : c > 0))) best = v;
      continue;
    }
    if (!v.isNumber()) return Value::null();
    ++count;
    dsum += v.asDouble();
    if (allInt && v.kind == Value::Kind::kInt && !__builtin_add_overflow(isum, v.i, &isum)) continue;
    allInt = false;
  }
  switch (n.agg) {
    case Agg::kCount: return Value::integer(count);
    case Agg::kMin:
    case Agg::kMax: return best;
    case Agg::kSum:
      if (count == 0) return Value::null();
      return allInt ? Value::integer(isum) : Value::number(dsum);
    case Agg::kAvg: return count == 0 ? Value::null() : Value::number(dsum / static_cast<double>(count));
    default: return Value::null();
  }
}

Value eval(const Node& n, const EvalContext& ctx) {
  switch (n.op) {
    case Op::kLiteral: {
      Value v = n.literal;
      if (v.kind == Value::Kind::kString) v.s = n.text;
      return v;
    }
    case Op::kField: {
      if (ctx.current != nullptr) return fieldOf(*ctx.current, n);
      if (ctx.match == nullptr) return Value::null();
      const auto all = ctx.match->events();
      return all.empty() ? Value::null() : fieldOf(*all.back(), n);
    }
    case Op::kStepField: {
      if (ctx.current != nullptr && n.step == ctx.currentStep) return fieldOf(*ctx.current, n);
      ctx.eventsOf(n.step, n.scratch);
      return n.scratch.empty() ? Value::null() : fieldOf(*n.scratch.back(), n);
    }
    case Op::kAggregate: return aggregate(n, ctx);
    case Op::kMatchRowtime:
    case Op::kClassifier: {
      if (ctx.match == nullptr) return Value::null();
      // The last event of the match: the newest of each step's last events.
      const Match<Event>::Entry* last = nullptr;
      for (const auto& entry : ctx.match->entries())
        if (!entry.events.empty() && (last == nullptr || entry.events.back().timestamp() >= last->events.back().timestamp())) last = &entry;
      if (last == nullptr) return Value::null();
      return n.op == Op::kMatchRowtime ? Value::integer(last->events.back().timestamp()) : Value::string(last->name);
    }
    case Op::kNeg: {
      const Value v = eval(n.args[0], ctx);
      if (v.kind == Value::Kind::kInt && v.i != INT64_MIN) return Value::integer(-v.i);
      if (v.isNumber()) return Value::number(-v.asDouble());
      return Value::null();
    }
    case Op::kNot: {
      const Value v = eval(n.args[0], ctx);
      return v.kind == Value::Kind::kBool ? Value::boolean(!v.b) : Value::null();
    }
    case Op::kAnd:
    case Op::kOr: {
      const bool isAnd = n.op == Op::kAnd;
      bool unknown = false;
      for (const Node& a : n.args) {
        const Value v = eval(a, ctx);
        if (v.kind != Value::Kind::kBool) {
          unknown = true;
        } else if (v.b != isAnd) {
          return Value::boolean(!isAnd);  // false in an AND, true in an OR decides
        }
      }
      return unknown ? Value::null() : Value::boolean(isAnd);
    }
    case Op::kCompare: {
      const int c = compare(eval(n.args[0], ctx), eval(n.args[1], ctx));
      if (c == 2) return Value::null();
      const std::string& op = n.cmp;
      if (op == "=") return Value::boolean(c == 0);
      if (op == "<>") return Value::boolean(c != 0);
      if (op == "<") return Value::boolean(c < 0);
      if (op == "<=") return Value::boolean(c <= 0);
      if (op == ">") return Value::boolean(c > 0);
      return Value::boolean(c >= 0);
    }
    case Op::kArithmetic: return arithmetic(n.cmp[0], eval(n.args[0], ctx), eval(n.args[1], ctx));
    case Op::kIsNull: return Value::boolean(eval(n.args[0], ctx).isNull() != n.negated);
    case Op::kCase: {
      const size_t pairs = (n.args.size() - (n.hasElse ? 1 : 0)) / 2;
      for (size_t i = 0; i < pairs; ++i) {
        const Value w = eval(n.args[2 * i], ctx);
        if (w.kind == Value::Kind::kBool && w.b) return eval(n.args[2 * i + 1], ctx);
      }
      return n.hasElse ? eval(n.args.back(), ctx) : Value::null();
    }
    case Op::kLike: {
      const Value t = eval(n.args[0], ctx), p = eval(n.args[1], ctx);
      if (t.kind != Value::Kind::kString || p.kind != Value::Kind::kString) return Value::null();
      return Value::boolean(sql::likeMatch(t.s, p.s));
    }
    case Op::kAbs: {
      const Value v = eval(n.args[0], ctx);
      if (v.kind == Value::Kind::kInt && v.i != INT64_MIN) return Value::integer(v.i < 0 ? -v.i : v.i);
      return v.isNumber() ? Value::number(std::fabs(v.asDouble())) : Value::null();
    }
    case Op::kDistance: {
      double c[4];
      for (size_t i = 0; i < 4; ++i) {
        const Value v = eval(n.args[i], ctx);
        if (!v.isNumber()) return Value::null();
        c[i] = v.asDouble() * M_PI / 180;
      }
      // Haversine on a sphere of the Earth's mean radius.
      const double dlat = c[2] - c[0], dlon = c[3] - c[1];
      const double h = std::sin(dlat / 2) * std::sin(dlat / 2) + std::cos(c[0]) * std::cos(c[2]) * std::sin(dlon / 2) * std::sin(dlon / 2);
      return Value::number(2 * 6371.0088 * std::asin(std::min(1.0, std::sqrt(h))));
    }
    case Op::kCoalesce:
      for (const Node& a : n.args) {
        Value v = eval(a, ctx);
        if (!v.isNull()) return v;
      }
      return Value::null();
    case Op::kCastDouble: {
      const Value v = eval(n.args[0], ctx);
      if (v.isNumber()) return Value::number(v.asDouble());
      if (v.kind == Value::Kind::kString) {
        double d = 0;
        auto [p, ec] = std::from_chars(v.s.data(), v.s.data() + v.s.size(), d);
        if (ec == std::errc() && p == v.s.data() + v.s.size()) return Value::number(d);
      }
      return Value::null();
    }
    case Op::kCastInt: {
      const Value v = eval(n.args[0], ctx);
      if (v.kind == Value::Kind::kInt) return v;
      if (v.kind == Value::Kind::kDouble && std::isfinite(v.d) && std::fabs(v.d) < 9.2e18) return Value::integer(static_cast<int64_t>(v.d));
      if (v.kind == Value::Kind::kString) {
        int64_t i = 0;
        auto [p, ec] = std::from_chars(v.s.data(), v.s.data() + v.s.size(), i);
        if (ec == std::errc() && p == v.s.data() + v.s.size()) return Value::integer(i);
      }
      return Value::null();
    }
    case Op::kCastBool: {
      const Value v = eval(n.args[0], ctx);
      if (v.kind == Value::Kind::kBool) return v;
      if (v.kind == Value::Kind::kString) {
        if (v.s == "true" || v.s == "TRUE") return Value::boolean(true);
        if (v.s == "false" || v.s == "FALSE") return Value::boolean(false);
      }
      return Value::null();
    }
  }
  return Value::null();
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

class Compiler {
 public:
  Compiler(const std::vector<std::string>& steps, bool measure) : steps_(steps), measure_(measure) {}
  bool readsOtherSteps = false;

  Result<Node> compile(const sql::Expr& e) {
    using K = sql::Expr::Kind;
    Node n;
    switch (e.kind) {
      case K::kLiteral: return literal(e);
      case K::kInterval:
        n.literal = Value::integer(e.millis);
        return n;
      case K::kColumn: {
        if (e.qualifier.empty()) {
          n.op = Op::kField;
          n.text = e.name;
          if (measure_) readsOtherSteps = true;
          return n;
        }
        REKA_RETURN_IF_ERROR(checkStep(e.qualifier, e.pos));
        n.op = Op::kStepField;
        n.step = e.qualifier;
        n.text = e.name;
        readsOtherSteps = true;  // unless it is the condition's own step; cheap to be conservative
        return n;
      }
      case K::kUnary: {
        REKA_ASSIGN_OR_RETURN(Node a, compile(*e.args[0]));
        n.op = e.op == "NOT" ? Op::kNot : Op::kNeg;
        n.args.push_back(std::move(a));
        return n;
      }
      case K::kBinary: {
        REKA_ASSIGN_OR_RETURN(Node a, compile(*e.args[0]));
        REKA_ASSIGN_OR_RETURN(Node b, compile(*e.args[1]));
        if (e.op == "AND" || e.op == "OR") {
          n.op = e.op == "AND" ? Op::kAnd : Op::kOr;
        } else if (e.op == "+" || e.op == "-" || e.op == "*" || e.op == "/" || e.op == "%") {
          n.op = Op::kArithmetic;
        } else if (e.op == "=" || e.op == "<>" || e.op == "<" || e.op == "<=" || e.op == ">" || e.op == ">=") {
          n.op = Op::kCompare;
        } else {
          return error(e.pos, "the operator " + e.op + " is not supported in rules; accepted: + - * / % = <> < <= > >= AND OR NOT");
        }
        n.cmp = e.op;
        n.args.push_back(std::move(a));
        n.args.push_back(std::move(b));
        return n;
      }
      case K::kIsNull: {
        REKA_ASSIGN_OR_RETURN(Node a, compile(*e.args[0]));
        n.op = Op::kIsNull;
        n.negated = e.negated;
        n.args.push_back(std::move(a));
        return n;
      }
      case K::kCase: {
        n.op = Op::kCase;
        n.hasElse = e.hasElse;
        for (const auto& a : e.args) {
          REKA_ASSIGN_OR_RETURN(Node c, compile(*a));
          n.args.push_back(std::move(c));
        }
        return n;
      }
      case K::kCast: {
        REKA_ASSIGN_OR_RETURN(Node a, compile(*e.args[0]));
        switch (e.castType.kind) {
          case TypeKind::kDouble:
          case TypeKind::kDecimal: n.op = Op::kCastDouble; break;
          case TypeKind::kInt:
          case TypeKind::kBigint: n.op = Op::kCastInt; break;
          case TypeKind::kBoolean: n.op = Op::kCastBool; break;
          default: return error(e.pos, "CAST to " + e.castType.toString() + " is not supported in rules; accepted: DOUBLE, DECIMAL, INT, BIGINT, BOOLEAN");
        }
        n.args.push_back(std::move(a));
        return n;
      }
      case K::kCall: return call(e);
      case K::kStar: return error(e.pos, "* is not an expression here");
    }
    return error(e.pos, "unsupported expression");
  }

 private:
  Result<Node> literal(const sql::Expr& e) {
    Node n;
    if (e.isNull) return n;
    switch (e.literalType.kind) {
      case TypeKind::kString:
        n.literal.kind = Value::Kind::kString;
        n.text = e.text;
        return n;
      case TypeKind::kBoolean: n.literal = Value::boolean(e.text == "true"); return n;
      case TypeKind::kInt:
      case TypeKind::kBigint: {
        int64_t v = 0;
        auto [p, ec] = std::from_chars(e.text.data(), e.text.data() + e.text.size(), v);
        if (ec == std::errc() && p == e.text.data() + e.text.size()) {
          n.literal = Value::integer(v);
          return n;
        }
        [[fallthrough]];
      }
      case TypeKind::kDecimal:
      case TypeKind::kDouble: {
        double d = 0;
        auto [p, ec] = std::from_chars(e.text.data(), e.text.data() + e.text.size(), d);
        if (ec != std::errc()) return error(e.pos, "the number " + e.text + " is out of range");
        n.literal = Value::number(d);
        return n;
      }
      case TypeKind::kTimestamp: {
        int64_t ms = 0;
        if (!parseIsoTimestamp(e.text, ms)) return error(e.pos, "TIMESTAMP '" + e.text + "' is not a date-time (yyyy-MM-dd HH:mm:ss[.SSS])");
        n.literal = Value::integer(ms);
        return n;
      }
      default: return error(e.pos, "unsupported literal");
    }
  }

  Result<Node> call(const sql::Expr& e) {
    const std::string name = upper(e.name);
    Node n;
    static const std::vector<std::pair<std::string, Agg>> kAggregates = {{"FIRST", Agg::kFirst}, {"LAST", Agg::kLast}, {"SUM", Agg::kSum},
                                                                        {"AVG", Agg::kAvg},     {"MIN", Agg::kMin},   {"MAX", Agg::kMax},
                                                                        {"COUNT", Agg::kCount}};
    for (const auto& [aggName, agg] : kAggregates) {
      if (name != aggName) continue;
      const bool offsetAllowed = agg == Agg::kFirst || agg == Agg::kLast;
      if (e.args.empty() || e.args.size() > (offsetAllowed ? 2u : 1u))
        return error(e.pos, name + (offsetAllowed ? " takes step.field and an optional offset" : " takes one argument, step.field"));
      const sql::Expr& a = *e.args[0];
      n.op = Op::kAggregate;
      n.agg = agg;
      readsOtherSteps = true;
      if (agg == Agg::kCount && a.kind == sql::Expr::Kind::kColumn && a.qualifier.empty() && isStep(a.name)) {
        n.step = a.name;
        n.countEvents = true;
        return n;
      }
      if (agg == Agg::kCount && a.kind == sql::Expr::Kind::kStar && !a.qualifier.empty()) {
        REKA_RETURN_IF_ERROR(checkStep(a.qualifier, a.pos));
        n.step = a.qualifier;
        n.countEvents = true;
        return n;
      }
      if (a.kind != sql::Expr::Kind::kColumn || a.qualifier.empty())
        return error(a.pos, name + "'s argument must be step.field, a field of one step's events (steps: " + stepList() + ")");
      REKA_RETURN_IF_ERROR(checkStep(a.qualifier, a.pos));
      n.step = a.qualifier;
      n.text = a.name;
      if (e.args.size() == 2) {
        const sql::Expr& o = *e.args[1];
        int64_t v = -1;
        if (o.kind == sql::Expr::Kind::kLiteral && !o.isNull && (o.literalType.kind == TypeKind::kInt || o.literalType.kind == TypeKind::kBigint))
          std::from_chars(o.text.data(), o.text.data() + o.text.size(), v);
        if (v < 0) return error(o.pos, name + "'s offset must be a non-negative integer literal");
        n.offset = v;
      }
      return n;
    }
    if (name == "MATCH_ROWTIME" || name == "CLASSIFIER") {
      if (!measure_)
        return error(e.pos, name + "() reads the completed match: it is a measure (emit, MEASURES), not part of a condition");
      if (!e.args.empty()) return error(e.pos, name + "() takes no arguments");
      n.op = name == "MATCH_ROWTIME" ? Op::kMatchRowtime : Op::kClassifier;
      readsOtherSteps = true;
      return n;
    }
    struct Fn {
      const char* name;
      Op op;
      size_t minArgs, maxArgs;
    };
    static const Fn kFunctions[] = {{"ABS", Op::kAbs, 1, 1}, {"DISTANCE_KM", Op::kDistance, 4, 4}, {"COALESCE", Op::kCoalesce, 1, 64},
                                    {"LIKE", Op::kLike, 2, 2}};
    for (const Fn& f : kFunctions) {
      if (name != f.name) continue;
      if (e.args.size() < f.minArgs || e.args.size() > f.maxArgs)
        return error(e.pos, name + " takes " + (f.minArgs == f.maxArgs ? std::to_string(f.minArgs) : "at least " + std::to_string(f.minArgs)) +
                                " argument(s), got " + std::to_string(e.args.size()));
      n.op = f.op;
      for (const auto& a : e.args) {
        REKA_ASSIGN_OR_RETURN(Node c, compile(*a));
        n.args.push_back(std::move(c));
      }
      return n;
    }
    return error(e.pos, "unknown function " + e.name +
                            "; accepted: FIRST, LAST, SUM, AVG, MIN, MAX, COUNT (over step.field), ABS, DISTANCE_KM, COALESCE, CAST, LIKE, CASE, "
                            "and in measures MATCH_ROWTIME() and CLASSIFIER()");
  }

  bool isStep(std::string_view s) const { return std::find(steps_.begin(), steps_.end(), s) != steps_.end(); }
  std::string stepList() const {
    std::string s;
    for (const auto& x : steps_) s += (s.empty() ? "" : ", ") + x;
    return s;
  }
  Status checkStep(const std::string& name, const sql::Position& pos) const {
    if (isStep(name)) return Status::ok();
    return Status::invalidArgument("at " + pos.toString() + ": '" + name + "' is not a step of this rule (steps: " + stepList() + ")");
  }
  static Status error(const sql::Position& pos, std::string message) {
    return Status::invalidArgument("at " + pos.toString() + ": " + message);
  }

  const std::vector<std::string>& steps_;
  bool measure_;
};

}  // namespace

Expression::Expression() = default;
Expression::~Expression() = default;
Expression::Expression(Expression&&) noexcept = default;
Expression& Expression::operator=(Expression&&) noexcept = default;

Result<Expression> Expression::compile(std::string_view text, const std::vector<std::string>& steps, bool measure) {
  auto parsed = sql::parseExpression(text);
  if (!parsed.isOk()) {
    std::string m = parsed.status().message();
    if (m.rfind("SQL: ", 0) == 0) m = m.substr(5);
    return Status::invalidArgument(m);
  }
  Compiler c(steps, measure);
  REKA_ASSIGN_OR_RETURN(Node root, c.compile(*parsed.value()));
  Expression e;
  e.root_ = std::make_unique<Node>(std::move(root));
  e.readsOtherSteps_ = c.readsOtherSteps;
  return e;
}

Value Expression::evaluate(const EvalContext& ctx) const { return eval(*root_, ctx); }

}  // namespace reka::cep::rules
