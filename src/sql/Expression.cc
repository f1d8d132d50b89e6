#include "sql/Expression.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>

#include "base/Regex.h"

namespace reka::sql {

namespace {

bool isNumeric(const DataType& t) {
  return t.kind == TypeKind::kInt || t.kind == TypeKind::kBigint || t.kind == TypeKind::kDouble || t.kind == TypeKind::kDecimal;
}
bool isInteger(const DataType& t) { return t.kind == TypeKind::kInt || t.kind == TypeKind::kBigint; }
bool isTime(const DataType& t) { return t.kind == TypeKind::kTimestamp || t.kind == TypeKind::kTimestampLtz; }
bool isText(const DataType& t) { return t.kind == TypeKind::kString || t.kind == TypeKind::kBytes; }

Decimal pow10(int n) { return decimalLimit(n) + 1; }  // decimalLimit is a table of 10^n - 1

/// `v` at scale `from` as scale `to` (rounding half up, away from zero, when the scale drops).
Decimal rescale(Decimal v, int from, int to) {
  if (to >= from) return v * pow10(to - from);
  const Decimal d = pow10(from - to);
  Decimal q = v / d, r = v % d;
  if (r < 0) r = -r;
  if (r * 2 >= d) q += v < 0 ? -1 : 1;
  return q;
}

/// The DECIMAL an integer type widens to (Flink: INT → DECIMAL(10, 0), BIGINT → DECIMAL(19, 0)).
DataType asDecimal(const DataType& t) {
  if (t.kind == TypeKind::kDecimal) return t;
  return DataType::decimal(t.kind == TypeKind::kInt ? 10 : 19, 0);
}

double doubleAt(const Column& c, const DataType& t, size_t i) {
  switch (t.kind) {
    case TypeKind::kDouble: return c.doubles[i];
    case TypeKind::kDecimal: return static_cast<double>(c.decimals[i]) / std::pow(10.0, t.scale);
    default: return static_cast<double>(c.ints[i]);
  }
}

Decimal decimalAt(const Column& c, const DataType& t, int scale, size_t i) {
  if (t.kind == TypeKind::kDecimal) return rescale(c.decimals[i], t.scale, scale);
  return static_cast<Decimal>(c.ints[i]) * pow10(scale);
}

}  // namespace

void resetColumn(Column& c, const DataType& type, size_t n) {
  c.nulls.assign(n, 1);
  c.ints.clear();
  c.doubles.clear();
  c.decimals.clear();
  c.strings.clear();
  switch (type.kind) {
    case TypeKind::kDouble: c.doubles.assign(n, 0); break;
    case TypeKind::kDecimal: c.decimals.assign(n, 0); break;
    case TypeKind::kString:
    case TypeKind::kBytes: c.strings.assign(n, {}); break;
    case TypeKind::kRow:
      c.children.resize(type.fields->size());
      for (size_t k = 0; k < type.fields->size(); ++k) resetColumn(c.children[k], type.fields->field(k).type, n);
      break;
    default: c.ints.assign(n, 0); break;
  }
}

void compactColumn(Column& c, const DataType& type, const std::vector<uint8_t>& keep) {
  auto compact = [&](auto& v) {
    size_t w = 0;
    for (size_t i = 0; i < keep.size(); ++i)
      if (keep[i]) v[w++] = v[i];
    v.resize(w);
  };
  compact(c.nulls);
  switch (type.kind) {
    case TypeKind::kDouble: compact(c.doubles); break;
    case TypeKind::kDecimal: compact(c.decimals); break;
    case TypeKind::kString:
    case TypeKind::kBytes: compact(c.strings); break;
    case TypeKind::kRow:
      for (size_t k = 0; k < type.fields->size(); ++k) compactColumn(c.children[k], type.fields->field(k).type, keep);
      break;
    default: compact(c.ints); break;
  }
}

namespace {

std::string where(const Position& p) { return " (at " + p.toString() + ")"; }

class ColumnRef final : public BoundExpr {
 public:
  ColumnRef(DataType t, size_t index) : BoundExpr(std::move(t)), index_(index) {}
  Status evaluate(const RowBatch& in, Column& out, StringArena&) const override {
    out = in.columns[index_];
    return Status::ok();
  }
  size_t index() const { return index_; }

 private:
  size_t index_;
};

/// row.field: a ROW column's child (null where the row is null).
class FieldAccess final : public BoundExpr {
 public:
  FieldAccess(DataType t, size_t column, size_t field) : BoundExpr(std::move(t)), column_(column), field_(field) {}
  Status evaluate(const RowBatch& in, Column& out, StringArena&) const override {
    const Column& parent = in.columns[column_];
    out = parent.children[field_];
    for (size_t i = 0; i < in.size(); ++i) out.nulls[i] = out.nulls[i] | parent.nulls[i];
    return Status::ok();
  }

 private:
  size_t column_;
  size_t field_;
};

class Literal final : public BoundExpr {
 public:
  Literal(DataType t, Column value, std::string text = {}) : BoundExpr(std::move(t)), value_(std::move(value)), text_(std::move(text)) {}
  Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const override {
    const size_t n = in.size();
    resetColumn(out, type, n);
    std::fill(out.nulls.begin(), out.nulls.end(), value_.nulls[0]);
    if (!value_.ints.empty()) std::fill(out.ints.begin(), out.ints.end(), value_.ints[0]);
    if (!value_.doubles.empty()) std::fill(out.doubles.begin(), out.doubles.end(), value_.doubles[0]);
    if (!value_.decimals.empty()) std::fill(out.decimals.begin(), out.decimals.end(), value_.decimals[0]);
    // A string goes into the batch's arena once per batch, so that rows never point into the plan.
    if (!value_.strings.empty() && !value_.nulls[0]) std::fill(out.strings.begin(), out.strings.end(), arena.copy(text_));
    return Status::ok();
  }

 private:
  Column value_;      ///< one row
  std::string text_;  ///< a string literal's value
};

/// The values of shared nodes computed on the batch of the open MemoScope (one thread's).
struct MemoState {
  const RowBatch* batch = nullptr;
  struct Entry {
    const RowBatch* batch;
    const BoundExpr* node;
    Column value;
  };
  std::vector<Entry> values;
};
thread_local MemoState tMemo;

/// A subexpression written more than once in a Calc: computed once per batch while a MemoScope
/// is open on that batch (on any other batch, such as a CASE branch's subset of rows, it is
/// computed as usual).
class Memo final : public BoundExpr {
 public:
  explicit Memo(BoundPtr inner) : BoundExpr(inner->type), inner_(std::move(inner)) {}
  bool canFail() const override { return inner_->canFail(); }
  Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const override {
    if (tMemo.batch != &in) return inner_->evaluate(in, out, arena);
    for (const auto& e : tMemo.values)
      if (e.batch == &in && e.node == this) {
        out = e.value;
        return Status::ok();
      }
    REKA_RETURN_IF_ERROR(inner_->evaluate(in, out, arena));
    tMemo.values.push_back({&in, this, out});
    return Status::ok();
  }

 private:
  BoundPtr inner_;
};

/// Evaluates the arguments of a node into columns.
class Node : public BoundExpr {
 public:
  Node(DataType t, std::vector<BoundPtr> args, Position pos) : BoundExpr(std::move(t)), args_(std::move(args)), pos_(pos) {}
  bool canFail() const override {
    for (const auto& a : args_)
      if (a->canFail()) return true;
    return false;
  }

 protected:
  Status evalArgs(const RowBatch& in, StringArena& arena, std::vector<Column>& cols) const {
    cols.resize(args_.size());
    for (size_t i = 0; i < args_.size(); ++i) REKA_RETURN_IF_ERROR(args_[i]->evaluate(in, cols[i], arena));
    return Status::ok();
  }
  const DataType& argType(size_t i) const { return args_[i]->type; }
  std::vector<BoundPtr> args_;
  Position pos_;
};

class Arithmetic final : public Node {
 public:
  Arithmetic(DataType t, char op, BoundPtr a, BoundPtr b, Position pos) : Node(std::move(t), {std::move(a), std::move(b)}, pos), op_(op) {}
  bool canFail() const override { return ((op_ == '/' || op_ == '%') && type.kind != TypeKind::kDouble) || Node::canFail(); }
  Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const override {
    std::vector<Column> c;
    REKA_RETURN_IF_ERROR(evalArgs(in, arena, c));
    const size_t n = in.size();
    resetColumn(out, type, n);
    const DataType &ta = argType(0), &tb = argType(1);
    // * and / of decimals work at the operands' own scales (INT and BIGINT as DECIMAL(p, 0)).
    const int sa = ta.kind == TypeKind::kDecimal ? ta.scale : 0, sb = tb.kind == TypeKind::kDecimal ? tb.scale : 0;
    for (size_t i = 0; i < n; ++i) {
      if (c[0].nulls[i] || c[1].nulls[i]) continue;
      out.nulls[i] = 0;
      switch (type.kind) {
        case TypeKind::kDouble: {
          const double x = doubleAt(c[0], ta, i), y = doubleAt(c[1], tb, i);
          out.doubles[i] = op_ == '+' ? x + y : op_ == '-' ? x - y : op_ == '*' ? x * y : op_ == '/' ? x / y : std::fmod(x, y);
          break;
        }
        case TypeKind::kDecimal: {
          Decimal r = 0;
          if (op_ == '+' || op_ == '-') {
            const Decimal x = decimalAt(c[0], ta, type.scale, i), y = decimalAt(c[1], tb, type.scale, i);
            r = op_ == '+' ? x + y : x - y;
          } else if (op_ == '*') {
            const Decimal x = decimalAt(c[0], ta, sa, i), y = decimalAt(c[1], tb, sb, i);
            r = rescale(x * y, sa + sb, type.scale);
          } else {
            const Decimal y = decimalAt(c[1], tb, sb, i);
            if (y == 0) return Status::invalidArgument("SQL: division by zero" + where(pos_));
            // x / y at the result's scale: x scaled up by scale + s_b - s_a, then divided, rounded.
            const Decimal x = decimalAt(c[0], ta, sa, i);
            const int shift = type.scale + sb - sa + 1;  // one extra digit to round
            Decimal q = (shift >= 0 ? x * pow10(shift) : x / pow10(-shift)) / y;
            q = rescale(q, 1, 0);
            r = q;
          }
          // Flink: a DECIMAL result that does not fit its precision is null.
          if (r > decimalLimit(type.precision) || r < -decimalLimit(type.precision)) {
            out.nulls[i] = 1;
          } else {
            out.decimals[i] = r;
          }
          break;
        }
        case TypeKind::kTimestamp:
        case TypeKind::kTimestampLtz: {
          const int64_t x = c[0].ints[i], y = c[1].ints[i];
          out.ints[i] = op_ == '+' ? x + y : x - y;
          break;
        }
        default: {
          const int64_t x = c[0].ints[i], y = c[1].ints[i];
          int64_t r = 0;
          if ((op_ == '/' || op_ == '%') && y == 0) return Status::invalidArgument("SQL: division by zero" + where(pos_));
          switch (op_) {
            case '+': r = static_cast<int64_t>(static_cast<uint64_t>(x) + static_cast<uint64_t>(y)); break;
            case '-': r = static_cast<int64_t>(static_cast<uint64_t>(x) - static_cast<uint64_t>(y)); break;
            case '*': r = static_cast<int64_t>(static_cast<uint64_t>(x) * static_cast<uint64_t>(y)); break;
            case '/': r = (x == INT64_MIN && y == -1) ? x : x / y; break;
            default: r = (y == -1) ? 0 : x % y; break;
          }
          // INT arithmetic wraps at 32 bits, as in Flink (Java ints).
          out.ints[i] = type.kind == TypeKind::kInt ? static_cast<int32_t>(r) : r;
        }
      }
    }
    return Status::ok();
  }

 private:
  char op_;
};

class Negate final : public Node {
 public:
  Negate(DataType t, BoundPtr a, Position pos) : Node(std::move(t), {std::move(a)}, pos) {}
  Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const override {
    REKA_RETURN_IF_ERROR(args_[0]->evaluate(in, out, arena));
    for (size_t i = 0; i < in.size(); ++i) {
      if (out.nulls[i]) continue;
      if (type.kind == TypeKind::kDouble) out.doubles[i] = -out.doubles[i];
      else if (type.kind == TypeKind::kDecimal) out.decimals[i] = -out.decimals[i];
      else {
        const int64_t v = static_cast<int64_t>(0 - static_cast<uint64_t>(out.ints[i]));
        out.ints[i] = type.kind == TypeKind::kInt ? static_cast<int32_t>(v) : v;  // INT wraps at 32 bits
      }
    }
    return Status::ok();
  }
};

/// How two values are compared.
enum class CompareAs { kInt, kDouble, kDecimal, kString };

class Compare final : public Node {
 public:
  Compare(const std::string& op, CompareAs as, int scale, BoundPtr a, BoundPtr b, Position pos)
      : Node(DataType::boolean(), {std::move(a), std::move(b)}, pos), op_(opOf(op)), as_(as), scale_(scale) {}
  Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const override {
    std::vector<Column> c;
    REKA_RETURN_IF_ERROR(evalArgs(in, arena, c));
    const size_t n = in.size();
    resetColumn(out, type, n);
    for (size_t i = 0; i < n; ++i) {
      if (c[0].nulls[i] || c[1].nulls[i]) continue;
      int cmp = 0;
      switch (as_) {
        case CompareAs::kInt: cmp = c[0].ints[i] < c[1].ints[i] ? -1 : c[0].ints[i] > c[1].ints[i]; break;
        case CompareAs::kDouble: {
          const double x = doubleAt(c[0], argType(0), i), y = doubleAt(c[1], argType(1), i);
          cmp = x < y ? -1 : x > y;
          break;
        }
        case CompareAs::kDecimal: {
          const Decimal x = decimalAt(c[0], argType(0), scale_, i), y = decimalAt(c[1], argType(1), scale_, i);
          cmp = x < y ? -1 : x > y;
          break;
        }
        case CompareAs::kString: {
          const int r = c[0].strings[i].compare(c[1].strings[i]);
          cmp = r < 0 ? -1 : r > 0;
          break;
        }
      }
      bool v = false;
      switch (op_) {
        case Op::kEq: v = cmp == 0; break;
        case Op::kNe: v = cmp != 0; break;
        case Op::kLt: v = cmp < 0; break;
        case Op::kLe: v = cmp <= 0; break;
        case Op::kGt: v = cmp > 0; break;
        case Op::kGe: v = cmp >= 0; break;
      }
      out.nulls[i] = 0;
      out.ints[i] = v ? 1 : 0;
    }
    return Status::ok();
  }

 private:
  enum class Op { kEq, kNe, kLt, kLe, kGt, kGe };
  static Op opOf(const std::string& op) {
    return op == "=" ? Op::kEq : op == "<>" ? Op::kNe : op == "<" ? Op::kLt : op == "<=" ? Op::kLe : op == ">" ? Op::kGt : Op::kGe;
  }
  Op op_;
  CompareAs as_;
  int scale_;
};

/// AND / OR with SQL's three-valued logic; NOT.
class Logic final : public Node {
 public:
  Logic(char op, std::vector<BoundPtr> args, Position pos) : Node(DataType::boolean(), std::move(args), pos), op_(op) {}
  Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const override {
    std::vector<Column> c;
    REKA_RETURN_IF_ERROR(evalArgs(in, arena, c));
    const size_t n = in.size();
    resetColumn(out, type, n);
    for (size_t i = 0; i < n; ++i) {
      if (op_ == '!') {
        out.nulls[i] = c[0].nulls[i];
        out.ints[i] = c[0].ints[i] == 0;
        continue;
      }
      const bool an = c[0].nulls[i], bn = c[1].nulls[i];
      const bool a = !an && c[0].ints[i] != 0, b = !bn && c[1].ints[i] != 0;
      if (op_ == '&') {
        if ((!an && !a) || (!bn && !b)) {
          out.nulls[i] = 0;  // false AND anything is false
        } else if (!an && !bn) {
          out.nulls[i] = 0;
          out.ints[i] = 1;
        }
      } else {
        if (a || b) {
          out.nulls[i] = 0;  // true OR anything is true
          out.ints[i] = 1;
        } else if (!an && !bn) {
          out.nulls[i] = 0;
        }
      }
    }
    return Status::ok();
  }

 private:
  char op_;  ///< '&', '|', '!'
};

class IsNull final : public Node {
 public:
  IsNull(bool negated, BoundPtr a, Position pos) : Node(DataType::boolean().notNull(), {std::move(a)}, pos), negated_(negated) {}
  Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const override {
    std::vector<Column> c;
    REKA_RETURN_IF_ERROR(evalArgs(in, arena, c));
    resetColumn(out, type, in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      out.nulls[i] = 0;
      out.ints[i] = (c[0].nulls[i] != 0) != negated_;
    }
    return Status::ok();
  }

 private:
  bool negated_;
};

/// Converts a value of `from` into `to` (same value vectors as Column).
Status convertValue(const Column& src, const DataType& from, size_t i, Column& dst, const DataType& to, StringArena& arena,
                    std::string& scratch, const Position& pos, size_t at = SIZE_MAX) {
  if (at == SIZE_MAX) at = i;  // value i of src goes to row `at` of dst
  if (src.nulls[i]) return Status::ok();
  auto fail = [&](const std::string& why) {
    return Status::invalidArgument(fmt::format("SQL: CAST to {}: {}{}", to.toString(), why, where(pos)));
  };
  dst.nulls[at] = 0;
  if (isText(to)) {
    scratch.clear();
    appendValueText(src, from, i, scratch);
    dst.strings[at] = arena.copy(scratch);
    return Status::ok();
  }
  if (isText(from)) {
    std::string_view s = src.strings[i];
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    if ((isNumeric(to)) && s.size() > 1 && s[0] == '+') s.remove_prefix(1);  // from_chars takes no '+'
    switch (to.kind) {
      case TypeKind::kBoolean: {
        std::string u(s);
        for (char& ch : u) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (u != "true" && u != "false") return fail("'" + std::string(s) + "' is not a BOOLEAN");
        dst.ints[at] = u == "true";
        return Status::ok();
      }
      case TypeKind::kInt:
      case TypeKind::kBigint: {
        int64_t v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || p != s.data() + s.size() || s.empty() || (to.kind == TypeKind::kInt && (v < INT32_MIN || v > INT32_MAX)))
          return fail("'" + std::string(s) + "' is not an " + to.toString());
        dst.ints[at] = v;
        return Status::ok();
      }
      case TypeKind::kDouble: {
        double v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return fail("'" + std::string(s) + "' is not a DOUBLE");
        dst.doubles[at] = v;
        return Status::ok();
      }
      case TypeKind::kDecimal: {
        auto d = parseDecimal(s, to.precision, to.scale);
        if (!d.isOk()) return fail(d.status().message());
        dst.decimals[at] = *d;
        return Status::ok();
      }
      case TypeKind::kTimestamp:
      case TypeKind::kTimestampLtz: {
        auto t = parseTimestamp(s);
        if (!t.isOk()) return fail(t.status().message());
        dst.ints[at] = *t;
        return Status::ok();
      }
      default: return fail("unsupported conversion from " + from.toString());
    }
  }
  if (isNumeric(from) || from.kind == TypeKind::kBoolean) {
    switch (to.kind) {
      case TypeKind::kBoolean:
        dst.ints[at] = from.kind == TypeKind::kDouble ? src.doubles[i] != 0 : from.kind == TypeKind::kDecimal ? src.decimals[i] != 0 : src.ints[i] != 0;
        return Status::ok();
      case TypeKind::kInt:
      case TypeKind::kBigint: {
        int64_t v = 0;
        if (from.kind == TypeKind::kDouble) {
          const double d = src.doubles[i];
          if (!std::isfinite(d) || d >= 9.2233720368547758e18 || d < -9.2233720368547758e18) return fail(fmt::format("{} is out of range", d));
          v = static_cast<int64_t>(d);  // toward zero, as Flink
        } else if (from.kind == TypeKind::kDecimal) {
          const Decimal q = src.decimals[i] / pow10(from.scale);
          if (q > INT64_MAX || q < INT64_MIN) return fail("the value is out of range");
          v = static_cast<int64_t>(q);
        } else {
          v = src.ints[i];
        }
        dst.ints[at] = to.kind == TypeKind::kInt ? static_cast<int32_t>(v) : v;
        return Status::ok();
      }
      case TypeKind::kDouble: dst.doubles[at] = doubleAt(src, from, i); return Status::ok();
      case TypeKind::kDecimal: {
        Decimal d = 0;
        if (from.kind == TypeKind::kDouble) {
          auto parsed = parseDecimal(fmt::format("{}", src.doubles[i]), to.precision, to.scale);
          if (!parsed.isOk()) {
            dst.nulls[at] = 1;  // Flink: a value that does not fit is null
            return Status::ok();
          }
          d = *parsed;
        } else {
          d = decimalAt(src, from, to.scale, i);
        }
        if (d > decimalLimit(to.precision) || d < -decimalLimit(to.precision)) {
          dst.nulls[at] = 1;
        } else {
          dst.decimals[at] = d;
        }
        return Status::ok();
      }
      case TypeKind::kTimestamp:
      case TypeKind::kTimestampLtz:
        if (!isInteger(from)) return fail("only an integer (epoch milliseconds) converts to a timestamp");
        dst.ints[at] = src.ints[i];
        return Status::ok();
      default: break;
    }
  }
  if (isTime(from)) {
    if (isTime(to)) {
      dst.ints[at] = src.ints[i];
      return Status::ok();
    }
    if (to.kind == TypeKind::kBigint) {
      dst.ints[at] = src.ints[i];
      return Status::ok();
    }
  }
  return fail("unsupported conversion from " + from.toString());
}

bool castable(const DataType& from, const DataType& to) {
  if (from.kind == TypeKind::kRow || to.kind == TypeKind::kRow) return false;
  if (isText(from) || isText(to)) return true;
  if (isNumeric(from) || from.kind == TypeKind::kBoolean) return !isTime(to) || isInteger(from);
  if (isTime(from)) return isTime(to) || to.kind == TypeKind::kBigint;
  return false;
}

class Cast final : public Node {
 public:
  Cast(DataType t, BoundPtr a, Position pos) : Node(std::move(t), {std::move(a)}, pos) {}
  bool canFail() const override {
    const DataType& from = argType(0);
    const bool fromText = from.kind == TypeKind::kString || from.kind == TypeKind::kBytes;
    const bool toText = type.kind == TypeKind::kString || type.kind == TypeKind::kBytes;
    return (fromText && !toText) || (from.kind == TypeKind::kDouble && (type.kind == TypeKind::kInt || type.kind == TypeKind::kBigint)) ||
           (from.kind == TypeKind::kDecimal && (type.kind == TypeKind::kInt || type.kind == TypeKind::kBigint)) || Node::canFail();
  }
  Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const override {
    std::vector<Column> c;
    REKA_RETURN_IF_ERROR(evalArgs(in, arena, c));
    resetColumn(out, type, in.size());
    std::string scratch;
    for (size_t i = 0; i < in.size(); ++i) REKA_RETURN_IF_ERROR(convertValue(c[0], argType(0), i, out, type, arena, scratch, pos_));
    return Status::ok();
  }
};

/// CASE WHEN … THEN … [ELSE …] END and COALESCE: each branch converted to the result type.
class Case final : public Node {
 public:
  Case(DataType t, std::vector<BoundPtr> args, bool hasElse, bool coalesce, Position pos)
      : Node(std::move(t), std::move(args), pos), hasElse_(hasElse), coalesce_(coalesce) {}
  // Each argument is evaluated only on the rows that reach it (a branch not taken cannot fail
  // the job, as in Flink): on a batch of those rows when they are not all of them.
  Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const override {
    if (!Node::canFail()) return evaluateAll(in, out, arena);
    const size_t n = in.size();
    resetColumn(out, type, n);
    std::vector<size_t> pending(n);
    for (size_t i = 0; i < n; ++i) pending[i] = i;
    std::string scratch;
    Column value;
    RowBatch subset;
    if (coalesce_) {
      for (size_t k = 0; k < args_.size() && !pending.empty(); ++k) {
        REKA_RETURN_IF_ERROR(evalOn(k, in, pending, subset, value, arena));
        std::vector<size_t> still;
        for (size_t j = 0; j < pending.size(); ++j) {
          if (value.nulls[j]) {
            still.push_back(pending[j]);
            continue;
          }
          REKA_RETURN_IF_ERROR(place(value, argType(k), j, pending[j], out, arena, scratch));
        }
        pending.swap(still);
      }
      return Status::ok();
    }
    const size_t pairs = (args_.size() - (hasElse_ ? 1 : 0)) / 2;
    for (size_t k = 0; k <= pairs && !pending.empty(); ++k) {
      std::vector<size_t> chosen, still;
      if (k < pairs) {
        REKA_RETURN_IF_ERROR(evalOn(2 * k, in, pending, subset, value, arena));
        for (size_t j = 0; j < pending.size(); ++j) (!value.nulls[j] && value.ints[j] != 0 ? chosen : still).push_back(pending[j]);
      } else if (hasElse_) {
        chosen = pending;
      } else {
        break;  // no branch: null
      }
      if (!chosen.empty()) {
        const size_t arg = k < pairs ? 2 * k + 1 : args_.size() - 1;
        REKA_RETURN_IF_ERROR(evalOn(arg, in, chosen, subset, value, arena));
        for (size_t j = 0; j < chosen.size(); ++j) REKA_RETURN_IF_ERROR(place(value, argType(arg), j, chosen[j], out, arena, scratch));
      }
      pending.swap(still);
    }
    return Status::ok();
  }

 private:
  /// Every argument on every row, then a pick per row: when none of them can fail.
  Status evaluateAll(const RowBatch& in, Column& out, StringArena& arena) const {
    std::vector<Column> c;
    REKA_RETURN_IF_ERROR(evalArgs(in, arena, c));
    resetColumn(out, type, in.size());
    std::string scratch;
    const size_t pairs = (c.size() - (hasElse_ ? 1 : 0)) / 2;
    for (size_t i = 0; i < in.size(); ++i) {
      size_t chosen = SIZE_MAX;
      if (coalesce_) {
        for (size_t k = 0; k < c.size() && chosen == SIZE_MAX; ++k)
          if (!c[k].nulls[i]) chosen = k;
      } else {
        for (size_t k = 0; k < pairs && chosen == SIZE_MAX; ++k)
          if (!c[2 * k].nulls[i] && c[2 * k].ints[i] != 0) chosen = 2 * k + 1;
        if (chosen == SIZE_MAX && hasElse_) chosen = c.size() - 1;
      }
      if (chosen == SIZE_MAX) continue;
      if (argType(chosen) == type && !isText(type)) {
        // The same type: copy the value (no conversion).
        out.nulls[i] = c[chosen].nulls[i];
        if (!c[chosen].ints.empty()) out.ints[i] = c[chosen].ints[i];
        if (!c[chosen].doubles.empty()) out.doubles[i] = c[chosen].doubles[i];
        if (!c[chosen].decimals.empty()) out.decimals[i] = c[chosen].decimals[i];
        continue;
      }
      REKA_RETURN_IF_ERROR(convertValue(c[chosen], argType(chosen), i, out, type, arena, scratch, pos_));
    }
    return Status::ok();
  }
  /// Evaluates argument `k` on rows `rows` of `in` (value j is row rows[j]).
  Status evalOn(size_t k, const RowBatch& in, const std::vector<size_t>& rows, RowBatch& subset, Column& value,
                StringArena& arena) const {
    if (rows.size() == in.size()) return args_[k]->evaluate(in, value, arena);
    subset.setSchema(in.schemaPtr());
    for (size_t r : rows) subset.appendFrom(in, r);
    Status s = args_[k]->evaluate(subset, value, arena);
    subset.clear();
    return s;
  }
  Status place(const Column& value, const DataType& from, size_t j, size_t row, Column& out, StringArena& arena,
               std::string& scratch) const {
    return convertValue(value, from, j, out, type, arena, scratch, pos_, row);
  }

  bool hasElse_;
  bool coalesce_;
};

/// String functions and ABS.
class Function final : public Node {
 public:
  enum class Kind { kUpper, kLower, kCharLength, kConcat, kAbs };
  Function(DataType t, Kind kind, std::vector<BoundPtr> args, Position pos) : Node(std::move(t), std::move(args), pos), kind_(kind) {}
  Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const override {
    std::vector<Column> c;
    REKA_RETURN_IF_ERROR(evalArgs(in, arena, c));
    const size_t n = in.size();
    resetColumn(out, type, n);
    std::string s;
    for (size_t i = 0; i < n; ++i) {
      bool anyNull = false;
      for (const auto& col : c) anyNull = anyNull || col.nulls[i];
      if (anyNull) continue;  // every one of these functions is null on a null argument
      out.nulls[i] = 0;
      if (kind_ == Kind::kUpper || kind_ == Kind::kLower) {
        // ASCII letters change case; every other byte (UTF-8 sequences included) stays, as
        // std::tolower/toupper leave them in the C locale the process runs in. Written into
        // the arena directly: no copy through a scratch string, no call per byte.
        const std::string_view from = c[0].strings[i];
        char* to = arena.allocate(from.size());
        const char lo = kind_ == Kind::kUpper ? 'a' : 'A';
        const int shift = kind_ == Kind::kUpper ? -32 : 32;
        for (size_t k = 0; k < from.size(); ++k) {
          const char ch = from[k];
          to[k] = static_cast<unsigned char>(ch - lo) < 26 ? static_cast<char>(ch + shift) : ch;
        }
        out.strings[i] = std::string_view(to, from.size());
      } else if (kind_ == Kind::kCharLength) {
        int64_t count = 0;
        for (char ch : c[0].strings[i]) count += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;  // UTF-8 code points
        out.ints[i] = count;
      } else if (kind_ == Kind::kConcat) {
        s.clear();
        for (size_t k = 0; k < c.size(); ++k) appendValueText(c[k], argType(k), i, s);
        out.strings[i] = arena.copy(s);
      } else if (kind_ == Kind::kAbs) {
        if (type.kind == TypeKind::kDouble) out.doubles[i] = std::fabs(c[0].doubles[i]);
        else if (type.kind == TypeKind::kDecimal) out.decimals[i] = c[0].decimals[i] < 0 ? -c[0].decimals[i] : c[0].decimals[i];
        else out.ints[i] = c[0].ints[i] < 0 ? static_cast<int64_t>(0 - static_cast<uint64_t>(c[0].ints[i])) : c[0].ints[i];
      }
    }
    return Status::ok();
  }

 private:
  Kind kind_;
};

/// LIKE, SPLIT_INDEX and REGEXP_EXTRACT: string functions with a pattern, null on a null argument.
class PatternFunction final : public Node {
 public:
  enum class Kind { kLike, kSplitIndex, kRegexpExtract };
  PatternFunction(DataType t, Kind kind, std::vector<BoundPtr> args, std::shared_ptr<const Regex> regex, Position pos)
      : Node(std::move(t), std::move(args), pos), kind_(kind), regex_(std::move(regex)) {}
  bool canFail() const override { return (kind_ == Kind::kRegexpExtract && !regex_) || Node::canFail(); }
  Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const override {
    std::vector<Column> c;
    REKA_RETURN_IF_ERROR(evalArgs(in, arena, c));
    resetColumn(out, type, in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      bool anyNull = false;
      for (const auto& col : c) anyNull = anyNull || col.nulls[i];
      if (anyNull) continue;
      const std::string_view text = c[0].strings[i];
      if (kind_ == Kind::kLike) {
        out.nulls[i] = 0;
        out.ints[i] = likeMatch(text, c[1].strings[i]);
      } else if (kind_ == Kind::kSplitIndex) {
        // The index-th (from 0) piece of text split at each separator; null past the last.
        const std::string_view sep = c[1].strings[i];
        const int64_t index = c[2].ints[i];
        if (sep.empty() || index < 0) continue;
        size_t start = 0;
        for (int64_t k = 0;; ++k) {
          const size_t end = text.find(sep, start);
          if (k == index) {
            out.nulls[i] = 0;
            out.strings[i] = arena.copy(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
            break;
          }
          if (end == std::string_view::npos) break;
          start = end + sep.size();
        }
      } else {
        // REGEXP_EXTRACT(text, regex[, group]): the group (default 1) of the first match, null if none.
        const Regex* re = regex_.get();
        std::shared_ptr<const Regex> perRow;  // a pattern that is not a literal: compiled per row
        if (re == nullptr) {
          auto compiled = Regex::compile(std::string(c[1].strings[i]));
          if (!compiled.isOk()) return Status::invalidArgument("SQL: REGEXP_EXTRACT: " + compiled.status().message() + where(pos_));
          perRow = *compiled;
          re = perRow.get();
        }
        const int64_t group = c.size() > 2 ? c[2].ints[i] : 1;
        if (group < 0 || group > INT32_MAX) continue;
        const auto value = re->extractGroup(text, static_cast<int>(group));
        if (!value) continue;
        out.nulls[i] = 0;
        out.strings[i] = arena.copy(*value);
      }
    }
    return Status::ok();
  }

 private:
  Kind kind_;
  std::shared_ptr<const Regex> regex_;  ///< compiled once when the pattern is a literal
};

// ---- Date and time ---------------------------------------------------------------------------

int64_t floorDivMs(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

/// The fields of epoch milliseconds (UTC).
struct CivilTime {
  int64_t year;
  unsigned month, day;
  int64_t hour, minute, second, millis, epochDay;
};
CivilTime civilOf(int64_t ms) {
  CivilTime t{};
  t.epochDay = floorDivMs(ms, 86'400'000);
  const int64_t inDay = ms - t.epochDay * 86'400'000;
  civilFromDays(t.epochDay, t.year, t.month, t.day);
  t.hour = inDay / 3'600'000;
  t.minute = inDay / 60'000 % 60;
  t.second = inDay / 1000 % 60;
  t.millis = inDay % 1000;
  return t;
}

/// A Java date pattern (as Flink's DATE_FORMAT and TO_TIMESTAMP take it): runs of y, M, d, H,
/// m, s, S and literal text ('quoted' or any other character).
struct DatePattern {
  struct Part {
    char letter = 0;  ///< 0: literal text
    int width = 0;
    std::string text;
  };
  std::vector<Part> parts;

  static Result<DatePattern> parse(std::string_view p) {
    DatePattern out;
    for (size_t i = 0; i < p.size();) {
      const char c = p[i];
      if (c == '\'') {
        const size_t end = p.find('\'', i + 1);
        if (end == std::string_view::npos) return Status::invalidArgument("unterminated quote in date pattern '" + std::string(p) + "'");
        out.parts.push_back({0, 0, end == i + 1 ? "'" : std::string(p.substr(i + 1, end - i - 1))});
        i = end + 1;
      } else if (std::isalpha(static_cast<unsigned char>(c))) {
        if (std::string_view("yMdHmsS").find(c) == std::string_view::npos)
          return Status::invalidArgument(fmt::format("date pattern letter '{}' in '{}' is not supported; accepted: y, M, d, H, m, s, S", c, p));
        size_t j = i;
        while (j < p.size() && p[j] == c) ++j;
        out.parts.push_back({c, static_cast<int>(j - i), {}});
        i = j;
      } else {
        out.parts.push_back({0, 0, std::string(1, c)});
        ++i;
      }
    }
    return out;
  }

  void format(int64_t ms, std::string& out) const {
    const CivilTime t = civilOf(ms);
    for (const Part& part : parts) {
      int64_t v = 0;
      switch (part.letter) {
        case 0: out += part.text; continue;
        case 'y': v = part.width == 2 ? t.year % 100 : t.year; break;
        case 'M': v = t.month; break;
        case 'd': v = t.day; break;
        case 'H': v = t.hour; break;
        case 'm': v = t.minute; break;
        case 's': v = t.second; break;
        case 'S': v = t.millis; break;
      }
      appendPadded(out, v, part.width);
    }
  }

  /// The span of time within which every instant formats the same: a day for a pattern of
  /// dates, an hour, minute, second or millisecond for one down to H, m, s or S (the epoch's
  /// days, hours … are whole ones: the time is UTC).
  int64_t resolutionMs() const {
    int64_t r = 86'400'000;
    for (const Part& part : parts) {
      switch (part.letter) {
        case 'H': r = std::min<int64_t>(r, 3'600'000); break;
        case 'm': r = std::min<int64_t>(r, 60'000); break;
        case 's': r = std::min<int64_t>(r, 1'000); break;
        case 'S': r = 1; break;
        default: break;
      }
    }
    return r;
  }

  /// `v` in decimal, zero-padded to `width` characters (a minus sign counting as one).
  static void appendPadded(std::string& out, int64_t v, int width) {
    char digits[24];
    int n = 0;
    const bool negative = v < 0;
    uint64_t u = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    do {
      digits[n++] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u != 0);
    if (negative) out += '-';
    for (int k = n + (negative ? 1 : 0); k < width; ++k) out += '0';
    while (n > 0) out += digits[--n];
  }

  /// Reads `text` in this pattern as epoch milliseconds (UTC); false if it does not match.
  bool parseTime(std::string_view text, int64_t& ms) const {
    int64_t year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, millis = 0;
    size_t i = 0;
    for (size_t k = 0; k < parts.size(); ++k) {
      const Part& part = parts[k];
      if (part.letter == 0) {
        if (text.substr(i, part.text.size()) != part.text) return false;
        i += part.text.size();
        continue;
      }
      // A field takes its width in digits, or every digit when the next part is not a number.
      const bool greedy = k + 1 == parts.size() || parts[k + 1].letter == 0;
      size_t j = i;
      while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) && (greedy || j - i < static_cast<size_t>(part.width))) ++j;
      if (j == i) return false;
      int64_t v = 0;
      std::from_chars(text.data() + i, text.data() + j, v);
      if (part.letter == 'S') {
        for (size_t n = j - i; n < 3; ++n) v *= 10;
        for (size_t n = j - i; n > 3; --n) v /= 10;
      }
      i = j;
      switch (part.letter) {
        case 'y': year = v; break;
        case 'M': month = v; break;
        case 'd': day = v; break;
        case 'H': hour = v; break;
        case 'm': minute = v; break;
        case 's': second = v; break;
        case 'S': millis = v; break;
      }
    }
    if (i != text.size() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return false;
    ms = daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86'400'000 + hour * 3'600'000 +
         minute * 60'000 + second * 1000 + millis;
    return true;
  }
};

/// Time units of EXTRACT, FLOOR/CEIL … TO and the field functions (HOUR(ts) …).
enum class TimeUnit { kYear, kQuarter, kMonth, kWeek, kDay, kHour, kMinute, kSecond, kMillisecond, kDayOfWeek, kDayOfYear, kEpoch };

Result<TimeUnit> timeUnit(std::string_view u, const Position& pos) {
  static const std::pair<const char*, TimeUnit> kUnits[] = {
      {"YEAR", TimeUnit::kYear},     {"QUARTER", TimeUnit::kQuarter}, {"MONTH", TimeUnit::kMonth},
      {"WEEK", TimeUnit::kWeek},     {"DAY", TimeUnit::kDay},         {"DAYOFMONTH", TimeUnit::kDay},
      {"HOUR", TimeUnit::kHour},     {"MINUTE", TimeUnit::kMinute},   {"SECOND", TimeUnit::kSecond},
      {"MILLISECOND", TimeUnit::kMillisecond}, {"DOW", TimeUnit::kDayOfWeek}, {"DAYOFWEEK", TimeUnit::kDayOfWeek},
      {"DOY", TimeUnit::kDayOfYear}, {"DAYOFYEAR", TimeUnit::kDayOfYear}, {"EPOCH", TimeUnit::kEpoch}};
  for (const auto& [name, unit] : kUnits)
    if (u == name) return unit;
  return Status::invalidArgument("SQL: unknown time unit '" + std::string(u) + "'" + where(pos) +
                                 "; accepted: YEAR, QUARTER, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND, MILLISECOND, DOW, DOY, EPOCH");
}

int64_t extractField(int64_t ms, TimeUnit unit) {
  const CivilTime t = civilOf(ms);
  switch (unit) {
    case TimeUnit::kYear: return t.year;
    case TimeUnit::kQuarter: return (t.month - 1) / 3 + 1;
    case TimeUnit::kMonth: return t.month;
    case TimeUnit::kWeek: {
      // ISO week of the year.
      const int64_t dow = ((t.epochDay % 7) + 7 + 3) % 7;  // Monday = 0 (1970-01-01 was a Thursday)
      const int64_t thursday = t.epochDay - dow + 3;
      int64_t y;
      unsigned m, d;
      civilFromDays(thursday, y, m, d);
      return (thursday - daysFromCivil(y, 1, 1)) / 7 + 1;
    }
    case TimeUnit::kDay: return t.day;
    case TimeUnit::kHour: return t.hour;
    case TimeUnit::kMinute: return t.minute;
    case TimeUnit::kSecond: return t.second;
    case TimeUnit::kMillisecond: return t.second * 1000 + t.millis;
    case TimeUnit::kDayOfWeek: return ((t.epochDay % 7) + 7 + 4) % 7 + 1;  // Sunday = 1
    case TimeUnit::kDayOfYear: return t.epochDay - daysFromCivil(t.year, 1, 1) + 1;
    case TimeUnit::kEpoch: return floorDivMs(ms, 1000);
  }
  return 0;
}

/// FLOOR (or CEIL) of epoch milliseconds to a unit.
int64_t floorTime(int64_t ms, TimeUnit unit, bool ceil) {
  int64_t step = 0;
  switch (unit) {
    case TimeUnit::kMillisecond: return ms;
    case TimeUnit::kSecond: step = 1000; break;
    case TimeUnit::kMinute: step = 60'000; break;
    case TimeUnit::kHour: step = 3'600'000; break;
    case TimeUnit::kDay: step = 86'400'000; break;
    case TimeUnit::kWeek: {
      const int64_t day = floorDivMs(ms, 86'400'000);
      const int64_t monday = day - (((day % 7) + 7 + 3) % 7);
      const int64_t f = monday * 86'400'000;
      return ceil && f != ms ? f + 7 * 86'400'000LL : f;
    }
    default: {
      const CivilTime t = civilOf(ms);
      const unsigned month = unit == TimeUnit::kYear ? 1 : unit == TimeUnit::kQuarter ? (t.month - 1) / 3 * 3 + 1 : t.month;
      const int64_t f = daysFromCivil(t.year, month, 1) * 86'400'000;
      if (!ceil || f == ms) return f;
      const unsigned add = unit == TimeUnit::kYear ? 12 : unit == TimeUnit::kQuarter ? 3 : 1;
      const unsigned m = month + add;
      return daysFromCivil(t.year + (m - 1) / 12, (m - 1) % 12 + 1, 1) * 86'400'000;
    }
  }
  const int64_t f = floorDivMs(ms, step) * step;
  return ceil && f != ms ? f + step : f;
}

/// DATE_FORMAT, EXTRACT and the field functions, FLOOR/CEIL … TO, TO_TIMESTAMP, REPLACE: null
/// on a null argument.
class TimeFunction final : public Node {
 public:
  enum class Kind { kDateFormat, kExtract, kFloor, kCeil, kToTimestamp, kReplace };
  TimeFunction(DataType t, Kind kind, std::vector<BoundPtr> args, TimeUnit unit, std::optional<DatePattern> pattern, Position pos)
      : Node(std::move(t), std::move(args), pos), kind_(kind), unit_(unit), pattern_(std::move(pattern)) {}
  Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const override {
    std::vector<Column> c;
    REKA_RETURN_IF_ERROR(evalArgs(in, arena, c));
    resetColumn(out, type, in.size());
    std::string s;
    // DATE_FORMAT of a literal pattern: rows within one span of its resolution (one day for
    // 'yyyy-MM-dd') share the text made for the first of them.
    const int64_t resolution = pattern_ ? pattern_->resolutionMs() : 1;
    int64_t lastSpan = INT64_MIN;
    std::string_view lastText;
    for (size_t i = 0; i < in.size(); ++i) {
      bool anyNull = false;
      for (const auto& col : c) anyNull = anyNull || col.nulls[i];
      if (anyNull) continue;
      switch (kind_) {
        case Kind::kDateFormat: {
          s.clear();
          if (pattern_) {
            const int64_t ms = c[0].ints[i];
            const int64_t span = ms / resolution - ((ms % resolution) < 0 ? 1 : 0);
            if (span == lastSpan && lastSpan != INT64_MIN) {
              out.nulls[i] = 0;
              out.strings[i] = lastText;
              break;
            }
            pattern_->format(ms, s);
            out.nulls[i] = 0;
            out.strings[i] = lastText = arena.copy(s);
            lastSpan = span;
            break;
          } else {
            auto p = DatePattern::parse(c[1].strings[i]);
            if (!p.isOk()) continue;  // a bad pattern computed per row gives null
            p->format(c[0].ints[i], s);
          }
          out.nulls[i] = 0;
          out.strings[i] = arena.copy(s);
          break;
        }
        case Kind::kExtract:
          out.nulls[i] = 0;
          out.ints[i] = extractField(c[0].ints[i], unit_);
          break;
        case Kind::kFloor:
        case Kind::kCeil:
          out.nulls[i] = 0;
          out.ints[i] = floorTime(c[0].ints[i], unit_, kind_ == Kind::kCeil);
          break;
        case Kind::kToTimestamp: {
          int64_t ms = 0;
          bool ok = false;
          if (pattern_) {
            ok = pattern_->parseTime(c[0].strings[i], ms);
          } else if (c.size() > 1) {
            auto p = DatePattern::parse(c[1].strings[i]);
            ok = p.isOk() && p->parseTime(c[0].strings[i], ms);
          }
          if (ok) {  // text that does not match gives null, as in Flink
            out.nulls[i] = 0;
            out.ints[i] = ms;
          }
          break;
        }
        case Kind::kReplace: {
          const std::string_view text = c[0].strings[i], from = c[1].strings[i], to = c[2].strings[i];
          s.clear();
          if (from.empty()) {
            s.assign(text);
          } else {
            size_t at = 0;
            for (size_t hit; (hit = text.find(from, at)) != std::string_view::npos; at = hit + from.size()) {
              s.append(text.substr(at, hit - at));
              s.append(to);
            }
            s.append(text.substr(at));
          }
          out.nulls[i] = 0;
          out.strings[i] = arena.copy(s);
          break;
        }
      }
    }
    return Status::ok();
  }

 private:
  Kind kind_;
  TimeUnit unit_;
  std::optional<DatePattern> pattern_;  ///< parsed once when the pattern is a literal
};

/// A C++ function declared with CREATE FUNCTION: its arguments converted to its types.
class UserFunction final : public Node {
 public:
  UserFunction(const ScalarFunction* fn, std::string name, std::vector<BoundPtr> args, Position pos)
      : Node(withNull(fn->resultType), std::move(args), pos), fn_(fn), name_(std::move(name)) {}
  Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const override {
    std::vector<Column> c;
    REKA_RETURN_IF_ERROR(evalArgs(in, arena, c));
    std::vector<const Column*> args;
    for (const auto& col : c) args.push_back(&col);
    resetColumn(out, type, in.size());
    Status s = fn_->eval(args, in.size(), out, arena);
    if (!s.isOk()) return Status::invalidArgument("SQL: function " + name_ + ": " + s.message() + where(pos_));
    return Status::ok();
  }
  bool canFail() const override { return true; }

 private:
  static DataType withNull(DataType t) {
    t.nullable = true;
    return t;
  }
  const ScalarFunction* fn_;
  std::string name_;
};

/// PROCTIME(): the wall clock when the row is computed (a processing-time attribute).
class ProcTime final : public BoundExpr {
 public:
  ProcTime() : BoundExpr(DataType::timestampLtz(3).notNull()) {}
  Status evaluate(const RowBatch& in, Column& out, StringArena&) const override {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    out.nulls.assign(in.size(), 0);
    out.ints.assign(in.size(), now);
    out.doubles.clear();
    out.decimals.clear();
    out.strings.clear();
    return Status::ok();
  }
};

// ---- Binding --------------------------------------------------------------------------------

Status typeError(const Position& pos, const std::string& what) { return Status::invalidArgument("SQL: " + what + where(pos)); }

/// The numeric type both sides are computed in.
DataType arithmeticType(char op, const DataType& a, const DataType& b) {
  if (a.kind == TypeKind::kDouble || b.kind == TypeKind::kDouble) return DataType::float64();
  if (a.kind == TypeKind::kDecimal || b.kind == TypeKind::kDecimal) {
    const DataType da = asDecimal(a), db = asDecimal(b);
    int p = 0, s = 0;
    if (op == '+' || op == '-') {
      s = std::max(da.scale, db.scale);
      p = std::max(da.precision - da.scale, db.precision - db.scale) + s + 1;
    } else if (op == '*') {
      p = da.precision + db.precision;
      s = da.scale + db.scale;
    } else {
      s = std::max(6, da.scale + db.precision + 1);
      p = da.precision - da.scale + db.scale + s;
    }
    if (p > 38) {
      // Keep the integer digits; give up fraction digits, but keep at least min(s, 6).
      s = std::max(std::min(s, 6), s - (p - 38));
      p = 38;
    }
    return DataType::decimal(p, std::min(s, p));
  }
  if (a.kind == TypeKind::kBigint || b.kind == TypeKind::kBigint) return DataType::bigint();
  return DataType::integer();
}

/// The common type of CASE branches and COALESCE arguments.
Result<DataType> commonType(const std::vector<const DataType*>& types, const Position& pos) {
  const DataType* first = nullptr;
  for (const auto* t : types)
    if (t != nullptr) first = first == nullptr ? t : first;
  if (first == nullptr) return DataType::string();
  DataType out = *first;
  for (const auto* t : types) {
    if (t == nullptr) continue;
    if (isNumeric(out) && isNumeric(*t)) {
      if (out.kind == TypeKind::kDecimal || t->kind == TypeKind::kDecimal) {
        if (out.kind == TypeKind::kDouble || t->kind == TypeKind::kDouble) {
          out = DataType::float64();
        } else {
          // Room for the larger integer part and the larger scale.
          const DataType a = asDecimal(out), b = asDecimal(*t);
          const int scale = std::max(a.scale, b.scale);
          out = DataType::decimal(std::min(38, std::max(a.precision - a.scale, b.precision - b.scale) + scale), scale);
        }
      } else {
        out = arithmeticType('+', out, *t);
      }
    } else if (isText(out) && isText(*t)) {
      out = DataType::string();
    } else if (isTime(out) && isTime(*t)) {
      out = *t;
    } else if (out.kind != t->kind) {
      return typeError(pos, "the branches have types " + out.toString() + " and " + t->toString() + " that do not mix");
    }
  }
  out.nullable = true;
  return out;
}

class Binder {
 public:
  explicit Binder(const Scope& scope) : scope_(scope) {}

  Result<BoundPtr> bindExpr(const Expr& e) {
    if (scope_.common != nullptr) {
      const auto it = scope_.common->group.find(&e);
      if (it != scope_.common->group.end()) {
        BoundPtr& shared = scope_.common->bound[it->second];
        if (!shared) {
          REKA_ASSIGN_OR_RETURN(BoundPtr b, bindNode(e));
          shared = std::make_shared<Memo>(std::move(b));
        }
        return shared;
      }
    }
    return bindNode(e);
  }

 private:
  Result<BoundPtr> bindNode(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kColumn: return column(e);
      case Expr::Kind::kLiteral: return literal(e);
      case Expr::Kind::kInterval: {
        Column v;
        resetColumn(v, DataType::bigint(), 1);
        v.nulls[0] = 0;
        v.ints[0] = e.millis;
        auto lit = std::make_shared<Literal>(DataType::bigint().notNull(), std::move(v));
        intervalNodes_.push_back(lit.get());
        return BoundPtr(lit);
      }
      case Expr::Kind::kUnary: {
        REKA_ASSIGN_OR_RETURN(BoundPtr a, bindExpr(*e.args[0]));
        if (e.op == "NOT") {
          if (a->type.kind != TypeKind::kBoolean) return typeError(e.pos, "NOT needs a BOOLEAN, not " + a->type.toString());
          return BoundPtr(std::make_shared<Logic>('!', std::vector<BoundPtr>{a}, e.pos));
        }
        if (!isNumeric(a->type)) return typeError(e.pos, "unary - needs a number, not " + a->type.toString());
        DataType t = a->type;
        return BoundPtr(std::make_shared<Negate>(t, a, e.pos));
      }
      case Expr::Kind::kBinary: return binary(e);
      case Expr::Kind::kIsNull: {
        REKA_ASSIGN_OR_RETURN(BoundPtr a, bindExpr(*e.args[0]));
        return BoundPtr(std::make_shared<IsNull>(e.negated, a, e.pos));
      }
      case Expr::Kind::kCase: {
        std::vector<BoundPtr> args;
        std::vector<const DataType*> results;
        for (size_t i = 0; i < e.args.size(); ++i) {
          REKA_ASSIGN_OR_RETURN(BoundPtr a, bindExpr(*e.args[i]));
          const bool isWhen = !(e.hasElse && i + 1 == e.args.size()) && i % 2 == 0;
          if (isWhen && a->type.kind != TypeKind::kBoolean)
            return typeError(e.args[i]->pos, "WHEN needs a BOOLEAN condition, not " + a->type.toString());
          args.push_back(a);
        }
        for (size_t i = 0; i < args.size(); ++i) {
          const bool isWhen = !(e.hasElse && i + 1 == args.size()) && i % 2 == 0;
          if (!isWhen) results.push_back(isNullLiteral(*e.args[i]) ? nullptr : &args[i]->type);
        }
        REKA_ASSIGN_OR_RETURN(DataType t, commonType(results, e.pos));
        return BoundPtr(std::make_shared<Case>(t, std::move(args), e.hasElse, false, e.pos));
      }
      case Expr::Kind::kCast: {
        REKA_ASSIGN_OR_RETURN(BoundPtr a, bindExpr(*e.args[0]));
        if (!castable(a->type, e.castType))
          return typeError(e.pos, "CAST from " + a->type.toString() + " to " + e.castType.toString() + " is not supported");
        DataType t = e.castType;
        t.nullable = true;
        return BoundPtr(std::make_shared<Cast>(t, a, e.pos));
      }
      case Expr::Kind::kCall: return call(e);
      case Expr::Kind::kStar: return typeError(e.pos, "* is only allowed alone in a select list");
    }
    return typeError(e.pos, "unsupported expression");
  }

  bool isInterval(const BoundExpr* b) const {
    return std::find(intervalNodes_.begin(), intervalNodes_.end(), b) != intervalNodes_.end();
  }

 private:
  static bool isNullLiteral(const Expr& e) { return e.kind == Expr::Kind::kLiteral && e.isNull; }

  Result<BoundPtr> column(const Expr& e) {
    if (scope_.parts.size() > 1) return joinColumn(e);
    if (!e.qualifier.empty() && e.qualifier != scope_.table && e.qualifier != scope_.alias) {
      // row.field of a ROW column.
      const int r = scope_.schema->indexOf(e.qualifier);
      if (r >= 0 && scope_.schema->field(static_cast<size_t>(r)).type.kind == TypeKind::kRow) {
        const Schema& fields = *scope_.schema->field(static_cast<size_t>(r)).type.fields;
        const int f = fields.indexOf(e.name);
        if (f < 0) return typeError(e.pos, "ROW column '" + e.qualifier + "' has no field '" + e.name + "'; its fields are " + fields.toString());
        DataType t = fields.field(static_cast<size_t>(f)).type;
        t.nullable = true;
        return BoundPtr(std::make_shared<FieldAccess>(t, static_cast<size_t>(r), static_cast<size_t>(f)));
      }
    }
    if (!e.qualifier.empty() && e.qualifier != scope_.table && e.qualifier != scope_.alias)
      return typeError(e.pos, "unknown table or alias '" + e.qualifier + "' (the query reads '" +
                                  (scope_.alias.empty() ? scope_.table : scope_.alias) + "')");
    const int i = scope_.schema->indexOf(e.name);
    if (i < 0) {
      std::string names;
      for (const auto& f : scope_.schema->fields()) names += (names.empty() ? "" : ", ") + f.name;
      return typeError(e.pos, "column '" + e.name + "' not found; the columns are " + names);
    }
    return BoundPtr(std::make_shared<ColumnRef>(scope_.schema->field(static_cast<size_t>(i)).type, static_cast<size_t>(i)));
  }

  /// A column of a join's input: qualified by its table's name or alias, or unqualified when
  /// only one table has it.
  Result<BoundPtr> joinColumn(const Expr& e) {
    auto ref = [&](size_t i) { return BoundPtr(std::make_shared<ColumnRef>(scope_.schema->field(i).type, i)); };
    auto findIn = [&](const Scope::Part& part) -> int {
      for (size_t i = part.offset; i < part.offset + part.count; ++i)
        if (scope_.schema->field(i).name == e.name) return static_cast<int>(i);
      return -1;
    };
    std::string names;
    for (const auto& part : scope_.parts) names += (names.empty() ? "" : ", ") + (part.alias.empty() ? part.table : part.alias);
    if (!e.qualifier.empty()) {
      for (const auto& part : scope_.parts) {
        if (e.qualifier != part.alias && e.qualifier != part.table) continue;
        const int i = findIn(part);
        if (i < 0) {
          std::string cols;
          for (size_t k = part.offset; k < part.offset + part.count; ++k) cols += (cols.empty() ? "" : ", ") + scope_.schema->field(k).name;
          return typeError(e.pos, "'" + e.qualifier + "' has no column '" + e.name + "'; its columns are " + cols);
        }
        return ref(static_cast<size_t>(i));
      }
      return typeError(e.pos, "unknown table or alias '" + e.qualifier + "'; the query reads " + names);
    }
    int found = -1;
    for (const auto& part : scope_.parts) {
      const int i = findIn(part);
      if (i < 0) continue;
      if (found >= 0) return typeError(e.pos, "column '" + e.name + "' is ambiguous: more than one of " + names + " has it; qualify it");
      found = i;
    }
    if (found < 0) return typeError(e.pos, "column '" + e.name + "' not found in " + names);
    return ref(static_cast<size_t>(found));
  }

  Result<BoundPtr> literal(const Expr& e) {
    Column v;
    resetColumn(v, e.literalType, 1);
    if (!e.isNull) {
      v.nulls[0] = 0;
      switch (e.literalType.kind) {
        case TypeKind::kBoolean: v.ints[0] = e.text == "true"; break;
        case TypeKind::kInt:
        case TypeKind::kBigint: std::from_chars(e.text.data(), e.text.data() + e.text.size(), v.ints[0]); break;
        case TypeKind::kDouble: std::from_chars(e.text.data(), e.text.data() + e.text.size(), v.doubles[0]); break;
        case TypeKind::kDecimal: {
          auto d = parseDecimal(e.text, e.literalType.precision, e.literalType.scale);
          if (!d.isOk()) return typeError(e.pos, d.status().message());
          v.decimals[0] = *d;
          break;
        }
        case TypeKind::kTimestamp: {
          auto t = parseTimestamp(e.text);
          if (!t.isOk()) return typeError(e.pos, t.status().message());
          v.ints[0] = *t;
          break;
        }
        default: break;  // a string: Literal keeps the text
      }
    }
    return BoundPtr(std::make_shared<Literal>(e.literalType, std::move(v), e.text));
  }

  /// A NULL literal of type `t` (an untyped NULL takes the type of the other operand).
  static BoundPtr nullOf(const DataType& t) {
    Column v;
    DataType nt = t;
    nt.nullable = true;
    resetColumn(v, nt, 1);
    return BoundPtr(std::make_shared<Literal>(nt, std::move(v)));
  }

  Result<BoundPtr> binary(const Expr& e) {
    REKA_ASSIGN_OR_RETURN(BoundPtr a, bindExpr(*e.args[0]));
    REKA_ASSIGN_OR_RETURN(BoundPtr b, bindExpr(*e.args[1]));
    if (isNullLiteral(*e.args[0]) && !isNullLiteral(*e.args[1])) a = nullOf(b->type);
    if (isNullLiteral(*e.args[1]) && !isNullLiteral(*e.args[0])) b = nullOf(a->type);
    const std::string& op = e.op;
    if (op == "AND" || op == "OR") {
      for (const auto* x : {a.get(), b.get()})
        if (x->type.kind != TypeKind::kBoolean) return typeError(e.pos, op + " needs BOOLEAN operands, not " + x->type.toString());
      return BoundPtr(std::make_shared<Logic>(op == "AND" ? '&' : '|', std::vector<BoundPtr>{a, b}, e.pos));
    }
    if (op == "||") {
      if (!isText(a->type) || !isText(b->type)) return typeError(e.pos, "|| needs strings; use CONCAT or CAST(… AS STRING)");
      return BoundPtr(std::make_shared<Function>(DataType::string(), Function::Kind::kConcat, std::vector<BoundPtr>{a, b}, e.pos));
    }
    if (op == "+" || op == "-" || op == "*" || op == "/" || op == "%") {
      const char o = op[0];
      if (isTime(a->type) && isInterval(b.get()) && (o == '+' || o == '-')) {
        DataType t = a->type;
        return BoundPtr(std::make_shared<Arithmetic>(t, o, a, b, e.pos));
      }
      if (isInterval(a.get()) && isTime(b->type) && o == '+') {
        DataType t = b->type;
        return BoundPtr(std::make_shared<Arithmetic>(t, o, b, a, e.pos));
      }
      if (isInterval(a.get()) || isInterval(b.get()))
        return typeError(e.pos, "an INTERVAL can only be added to or subtracted from a timestamp");
      if (!isNumeric(a->type) || !isNumeric(b->type))
        return typeError(e.pos, fmt::format("{} needs numbers (or a timestamp ± an INTERVAL), not {} and {}", op, a->type.toString(),
                                            b->type.toString()));
      if (o == '%' && (!isInteger(a->type) || !isInteger(b->type))) return typeError(e.pos, "% needs integers");
      DataType t = arithmeticType(o, a->type, b->type);
      return BoundPtr(std::make_shared<Arithmetic>(t, o, a, b, e.pos));
    }
    // Comparisons.
    const DataType &ta = a->type, &tb = b->type;
    CompareAs as = CompareAs::kInt;
    int scale = 0;
    if (isNumeric(ta) && isNumeric(tb)) {
      if (ta.kind == TypeKind::kDouble || tb.kind == TypeKind::kDouble) {
        as = CompareAs::kDouble;
      } else if (ta.kind == TypeKind::kDecimal || tb.kind == TypeKind::kDecimal) {
        as = CompareAs::kDecimal;
        scale = std::max(asDecimal(ta).scale, asDecimal(tb).scale);
      }
    } else if (isText(ta) && isText(tb)) {
      as = CompareAs::kString;
    } else if ((isTime(ta) && isTime(tb)) || (ta.kind == TypeKind::kBoolean && tb.kind == TypeKind::kBoolean)) {
      as = CompareAs::kInt;
    } else if (isTime(ta) && isText(tb)) {
      REKA_ASSIGN_OR_RETURN(b, castTo(b, ta, e.pos));
    } else if (isText(ta) && isTime(tb)) {
      REKA_ASSIGN_OR_RETURN(a, castTo(a, tb, e.pos));
    } else {
      return typeError(e.pos, "cannot compare " + ta.toString() + " with " + tb.toString());
    }
    return BoundPtr(std::make_shared<Compare>(op, as, scale, a, b, e.pos));
  }

  Result<BoundPtr> castTo(BoundPtr a, const DataType& t, const Position& pos) {
    DataType nt = t;
    nt.nullable = true;
    return BoundPtr(std::make_shared<Cast>(nt, a, pos));
  }

  Result<BoundPtr> call(const Expr& e) {
    std::vector<BoundPtr> args;
    for (const auto& a : e.args) {
      REKA_ASSIGN_OR_RETURN(BoundPtr b, bindExpr(*a));
      args.push_back(b);
    }
    auto arity = [&](size_t n) -> Status {
      if (args.size() == n) return Status::ok();
      return typeError(e.pos, fmt::format("{} takes {} argument{}, not {}", e.name, n, n == 1 ? "" : "s", args.size()));
    };
    if (e.name == "UPPER" || e.name == "LOWER" || e.name == "CHAR_LENGTH" || e.name == "CHARACTER_LENGTH") {
      REKA_RETURN_IF_ERROR(arity(1));
      if (!isText(args[0]->type)) return typeError(e.pos, e.name + " needs a STRING, not " + args[0]->type.toString());
      const bool length = e.name == "CHAR_LENGTH" || e.name == "CHARACTER_LENGTH";
      const auto kind = length ? Function::Kind::kCharLength : e.name == "UPPER" ? Function::Kind::kUpper : Function::Kind::kLower;
      return BoundPtr(std::make_shared<Function>(length ? DataType::integer() : DataType::string(), kind, std::move(args), e.pos));
    }
    if (e.name == "CONCAT") {
      if (args.empty()) return typeError(e.pos, "CONCAT takes at least one argument");
      return BoundPtr(std::make_shared<Function>(DataType::string(), Function::Kind::kConcat, std::move(args), e.pos));
    }
    if (e.name == "ABS") {
      REKA_RETURN_IF_ERROR(arity(1));
      if (!isNumeric(args[0]->type)) return typeError(e.pos, "ABS needs a number, not " + args[0]->type.toString());
      DataType t = args[0]->type;
      t.nullable = true;
      return BoundPtr(std::make_shared<Function>(t, Function::Kind::kAbs, std::move(args), e.pos));
    }
    if (e.name == "LIKE") {
      if (!isText(args[0]->type) || !isText(args[1]->type)) return typeError(e.pos, "LIKE needs strings");
      return BoundPtr(std::make_shared<PatternFunction>(DataType::boolean(), PatternFunction::Kind::kLike, std::move(args), nullptr, e.pos));
    }
    if (e.name == "SPLIT_INDEX") {
      REKA_RETURN_IF_ERROR(arity(3));
      if (!isText(args[0]->type) || !isText(args[1]->type) || !isInteger(args[2]->type))
        return typeError(e.pos, "SPLIT_INDEX takes (STRING, STRING separator, INT index)");
      return BoundPtr(std::make_shared<PatternFunction>(DataType::string(), PatternFunction::Kind::kSplitIndex, std::move(args), nullptr, e.pos));
    }
    if (e.name == "REGEXP_EXTRACT") {
      if (args.size() != 2 && args.size() != 3) return typeError(e.pos, "REGEXP_EXTRACT takes (STRING, STRING regex[, INT group])");
      if (!isText(args[0]->type) || !isText(args[1]->type) || (args.size() == 3 && !isInteger(args[2]->type)))
        return typeError(e.pos, "REGEXP_EXTRACT takes (STRING, STRING regex[, INT group])");
      std::shared_ptr<const Regex> re;
      if (e.args[1]->kind == Expr::Kind::kLiteral && !e.args[1]->isNull) {
        auto compiled = Regex::compile(e.args[1]->text);
        if (!compiled.isOk()) return typeError(e.args[1]->pos, compiled.status().message());
        re = *compiled;
      }
      return BoundPtr(std::make_shared<PatternFunction>(DataType::string(), PatternFunction::Kind::kRegexpExtract, std::move(args), std::move(re), e.pos));
    }
    if (e.name == "MOD") {
      REKA_RETURN_IF_ERROR(arity(2));
      if (!isInteger(args[0]->type) || !isInteger(args[1]->type)) return typeError(e.pos, "MOD needs integers");
      DataType t = arithmeticType('%', args[0]->type, args[1]->type);
      return BoundPtr(std::make_shared<Arithmetic>(t, '%', args[0], args[1], e.pos));
    }
    if (e.name == "PROCTIME") {
      REKA_RETURN_IF_ERROR(arity(0));
      return BoundPtr(std::make_shared<ProcTime>());
    }
    if (e.name == "DATE_FORMAT" || e.name == "TO_TIMESTAMP") {
      const bool format = e.name == "DATE_FORMAT";
      if (args.size() != (format ? 2u : 1u) && args.size() != 2)
        return typeError(e.pos, format ? "DATE_FORMAT takes (TIMESTAMP, STRING pattern)" : "TO_TIMESTAMP takes (STRING[, STRING pattern])");
      if (format ? !isTime(args[0]->type) : !isText(args[0]->type))
        return typeError(e.pos, e.name + " needs a " + (format ? "TIMESTAMP" : "STRING") + " first, not " + args[0]->type.toString());
      if (args.size() == 2 && !isText(args[1]->type)) return typeError(e.pos, e.name + " needs a STRING pattern, not " + args[1]->type.toString());
      std::optional<DatePattern> pattern;
      if (args.size() == 1) {
        auto standard = DatePattern::parse("yyyy-MM-dd HH:mm:ss");
        pattern = std::move(*standard);
      } else if (e.args[1]->kind == Expr::Kind::kLiteral && !e.args[1]->isNull) {
        auto p = DatePattern::parse(e.args[1]->text);
        if (!p.isOk()) return typeError(e.args[1]->pos, p.status().message());
        pattern = std::move(*p);
      }
      return BoundPtr(std::make_shared<TimeFunction>(format ? DataType::string() : DataType::timestamp(3),
                                                     format ? TimeFunction::Kind::kDateFormat : TimeFunction::Kind::kToTimestamp,
                                                     std::move(args), TimeUnit::kSecond, std::move(pattern), e.pos));
    }
    if (e.name == "EXTRACT" || e.name == "YEAR" || e.name == "QUARTER" || e.name == "MONTH" || e.name == "WEEK" ||
        e.name == "DAYOFMONTH" || e.name == "DAYOFWEEK" || e.name == "DAYOFYEAR" || e.name == "HOUR" || e.name == "MINUTE" ||
        e.name == "SECOND") {
      const bool extract = e.name == "EXTRACT";
      REKA_RETURN_IF_ERROR(arity(extract ? 2 : 1));
      BoundPtr ts = args[extract ? 1 : 0];
      if (!isTime(ts->type)) return typeError(e.pos, e.name + " needs a TIMESTAMP, not " + ts->type.toString());
      REKA_ASSIGN_OR_RETURN(TimeUnit unit, timeUnit(extract ? e.args[0]->text : e.name, e.pos));
      return BoundPtr(std::make_shared<TimeFunction>(DataType::bigint(), TimeFunction::Kind::kExtract, std::vector<BoundPtr>{ts}, unit,
                                                     std::nullopt, e.pos));
    }
    if ((e.name == "FLOOR" || e.name == "CEIL" || e.name == "CEILING") && args.size() == 2 && isTime(args[0]->type)) {
      REKA_ASSIGN_OR_RETURN(TimeUnit unit, timeUnit(e.args[1]->text, e.args[1]->pos));
      if (unit == TimeUnit::kEpoch || unit == TimeUnit::kDayOfWeek || unit == TimeUnit::kDayOfYear)
        return typeError(e.args[1]->pos, e.name + " … TO takes YEAR, QUARTER, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND or MILLISECOND");
      DataType t = args[0]->type;
      t.nullable = true;
      return BoundPtr(std::make_shared<TimeFunction>(t, e.name == "FLOOR" ? TimeFunction::Kind::kFloor : TimeFunction::Kind::kCeil,
                                                     std::vector<BoundPtr>{args[0]}, unit, std::nullopt, e.pos));
    }
    if (e.name == "REPLACE") {
      REKA_RETURN_IF_ERROR(arity(3));
      for (const auto& a : args)
        if (!isText(a->type)) return typeError(e.pos, "REPLACE takes (STRING, STRING search, STRING replacement), not " + a->type.toString());
      return BoundPtr(std::make_shared<TimeFunction>(DataType::string(), TimeFunction::Kind::kReplace, std::move(args), TimeUnit::kSecond,
                                                     std::nullopt, e.pos));
    }
    const ScalarFunction* builtin = builtinFunction(e.name);
    if (builtin != nullptr && e.args.size() == 2 && e.args[1]->kind == Expr::Kind::kLiteral && !e.args[1]->isNull) {
      // A literal JSON path is checked now, not on the first row.
      if (Status s = checkJsonPath(e.args[1]->text); !s.isOk()) return typeError(e.args[1]->pos, s.message());
    }
    std::optional<std::pair<const std::string, const ScalarFunction*>> found;
    if (scope_.functions != nullptr)
      if (auto f = scope_.functions->find(e.name); f != scope_.functions->end()) found.emplace(*f);
    if (!found && builtin != nullptr) found.emplace(e.name, builtin);
    if (found) {
      {
        const ScalarFunction* fn = found->second;
        if (args.size() != fn->argTypes.size())
          return typeError(e.pos, fmt::format("{} takes {} arguments, not {}", e.name, fn->argTypes.size(), args.size()));
        for (size_t i = 0; i < args.size(); ++i) {
          DataType want = fn->argTypes[i], got = args[i]->type;
          want.nullable = got.nullable = true;
          if (want == got) continue;
          if (!castable(got, want))
            return typeError(e.args[i]->pos, fmt::format("argument {} of {} is {}, which does not convert to {}", i + 1, e.name,
                                                         got.toString(), want.toString()));
          REKA_ASSIGN_OR_RETURN(args[i], castTo(args[i], want, e.args[i]->pos));
        }
        return BoundPtr(std::make_shared<UserFunction>(fn, e.name, std::move(args), e.pos));
      }
    }
    if (isAggregateFunction(e.name))
      return typeError(e.pos, "aggregate " + e.name + " is only allowed in the select list or HAVING of a query (GROUP BY)");
    if (e.name == "COALESCE") {
      if (args.empty()) return typeError(e.pos, "COALESCE takes at least one argument");
      std::vector<const DataType*> types;
      for (size_t i = 0; i < args.size(); ++i) types.push_back(isNullLiteral(*e.args[i]) ? nullptr : &args[i]->type);
      REKA_ASSIGN_OR_RETURN(DataType t, commonType(types, e.pos));
      return BoundPtr(std::make_shared<Case>(t, std::move(args), false, true, e.pos));
    }
    return typeError(e.pos, "unknown function " + e.name +
                                "; this version has UPPER, LOWER, CHAR_LENGTH, CONCAT, REPLACE, ABS, MOD, COALESCE, SPLIT_INDEX, REGEXP_EXTRACT, "
                                "JSON_VALUE, JSON_QUERY, JSON_EXISTS, "
                                "DATE_FORMAT, TO_TIMESTAMP, EXTRACT, YEAR, QUARTER, MONTH, WEEK, DAYOFMONTH, DAYOFWEEK, DAYOFYEAR, HOUR, "
                                "MINUTE, SECOND, FLOOR/CEIL(… TO unit), PROCTIME(), CAST and CASE; aggregates COUNT, SUM, AVG, MIN, MAX");
  }

  const Scope& scope_;
  std::vector<const BoundExpr*> intervalNodes_;
};

}  // namespace

int columnRefIndex(const BoundExpr& e) {
  const auto* ref = dynamic_cast<const ColumnRef*>(&e);
  return ref == nullptr ? -1 : static_cast<int>(ref->index());
}

BoundPtr bindColumn(const Schema& schema, size_t index) {
  return std::make_shared<ColumnRef>(schema.field(index).type, index);
}

Result<BoundPtr> bind(const Expr& e, const Scope& scope) {
  Binder b(scope);
  return b.bindExpr(e);
}

bool isAggregateFunction(std::string_view name) {
  return name == "COUNT" || name == "SUM" || name == "AVG" || name == "MIN" || name == "MAX";
}

std::string derivedName(const Expr& e, size_t index) {
  if (e.kind == Expr::Kind::kColumn) return e.name;
  return "EXPR$" + std::to_string(index);
}

std::string exprText(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kColumn: return e.qualifier.empty() ? e.name : e.qualifier + "." + e.name;
    case Expr::Kind::kLiteral:
      if (e.isNull) return "NULL";
      if (e.literalType.kind == TypeKind::kString) return "'" + e.text + "'";
      if (e.literalType.kind == TypeKind::kTimestamp) return "TIMESTAMP '" + e.text + "'";
      return e.text;
    case Expr::Kind::kUnary: return e.op == "NOT" ? "NOT " + exprText(*e.args[0]) : "-" + exprText(*e.args[0]);
    case Expr::Kind::kBinary: return "(" + exprText(*e.args[0]) + " " + e.op + " " + exprText(*e.args[1]) + ")";
    case Expr::Kind::kIsNull: return exprText(*e.args[0]) + (e.negated ? " IS NOT NULL" : " IS NULL");
    case Expr::Kind::kCase: {
      std::string s = "CASE";
      const size_t pairs = (e.args.size() - (e.hasElse ? 1 : 0)) / 2;
      for (size_t i = 0; i < pairs; ++i) s += " WHEN " + exprText(*e.args[2 * i]) + " THEN " + exprText(*e.args[2 * i + 1]);
      if (e.hasElse) s += " ELSE " + exprText(*e.args.back());
      return s + " END";
    }
    case Expr::Kind::kCast: return "CAST(" + exprText(*e.args[0]) + " AS " + e.castType.toString() + ")";
    case Expr::Kind::kCall: {
      std::string s = e.name + "(" + (e.distinct ? "DISTINCT " : "");
      for (size_t i = 0; i < e.args.size(); ++i) s += (i > 0 ? ", " : "") + exprText(*e.args[i]);
      s += ")";
      if (e.filter) s += " FILTER (WHERE " + exprText(*e.filter) + ")";
      if (e.over) {
        s += " OVER (";
        for (size_t i = 0; i < e.over->partitionBy.size(); ++i) s += (i > 0 ? ", " : "PARTITION BY ") + exprText(*e.over->partitionBy[i]);
        for (size_t i = 0; i < e.over->orderBy.size(); ++i)
          s += (i > 0 ? ", " : " ORDER BY ") + exprText(*e.over->orderBy[i]) + (e.over->descending[i] ? " DESC" : "");
        s += ")";
      }
      return s;
    }
    case Expr::Kind::kInterval: return "INTERVAL '" + std::to_string(e.millis) + "' MILLISECOND";
    case Expr::Kind::kStar: return e.qualifier.empty() ? "*" : e.qualifier + ".*";
  }
  return "?";
}

namespace {

/// Whether `e` and everything under it gives the same value for the same row every time it is
/// evaluated (so that one evaluation can stand for several).
bool deterministicExpr(const Expr& e, const std::map<std::string, const ScalarFunction*>* userFunctions) {
  if (e.kind == Expr::Kind::kCall) {
    static const std::set<std::string> kVolatile = {"PROCTIME", "NOW", "CURRENT_TIMESTAMP", "LOCALTIMESTAMP", "CURRENT_DATE", "CURRENT_TIME",
                                                    "CURRENT_ROW_TIMESTAMP", "RAND", "RAND_INTEGER", "UUID"};
    if (kVolatile.count(e.name) != 0 || isAggregateFunction(e.name) || e.over || e.filter || e.distinct) return false;
    // A function of CREATE FUNCTION is shared unless it says it is not deterministic.
    if (userFunctions != nullptr)
      if (auto f = userFunctions->find(e.name); f != userFunctions->end() && !f->second->deterministic) return false;
  }
  for (const auto& a : e.args)
    if (a && !deterministicExpr(*a, userFunctions)) return false;
  return true;
}

void collectSubexpressions(const Expr& e, const std::map<std::string, const ScalarFunction*>* userFunctions,
                           std::map<std::string, std::vector<const Expr*>>& byText) {
  switch (e.kind) {
    case Expr::Kind::kColumn:
    case Expr::Kind::kLiteral:
    case Expr::Kind::kInterval:
    case Expr::Kind::kStar: return;
    default: break;
  }
  if (e.kind == Expr::Kind::kCall && (e.over || isAggregateFunction(e.name))) return;
  if (deterministicExpr(e, userFunctions)) byText[exprText(e)].push_back(&e);
  for (const auto& a : e.args)
    if (a) collectSubexpressions(*a, userFunctions, byText);
}

}  // namespace

bool isDeterministic(const Expr& e, const std::map<std::string, const ScalarFunction*>* userFunctions) {
  return deterministicExpr(e, userFunctions);
}

Scope::Common findCommonSubexpressions(const std::vector<const Expr*>& exprs,
                                       const std::map<std::string, const ScalarFunction*>* userFunctions) {
  std::map<std::string, std::vector<const Expr*>> byText;
  for (const Expr* e : exprs)
    if (e != nullptr) collectSubexpressions(*e, userFunctions, byText);
  Scope::Common common;
  for (const auto& [text, nodes] : byText) {
    if (nodes.size() < 2) continue;
    for (const Expr* n : nodes) common.group[n] = common.bound.size();
    common.bound.emplace_back();
  }
  return common;
}

MemoScope::MemoScope(const RowBatch& batch) : previous_(tMemo.batch), previousSize_(tMemo.values.size()) { tMemo.batch = &batch; }

void MemoScope::narrow(const RowBatch& to, const std::vector<uint8_t>& keep) {
  for (size_t k = previousSize_; k < tMemo.values.size(); ++k) {
    auto& e = tMemo.values[k];
    if (e.batch != tMemo.batch) continue;
    compactColumn(e.value, e.node->type, keep);
    e.batch = &to;
  }
  tMemo.batch = &to;
}

MemoScope::~MemoScope() {
  tMemo.values.resize(previousSize_);
  tMemo.batch = previous_;
}

}  // namespace reka::sql
