#pragma once

// Bound SQL expressions: typed against a schema and evaluated a batch (a column) at a time.

#include <map>
#include <memory>
#include <string>

#include "reka/data/Row.h"
#include "reka/sql/Functions.h"
#include "sql/Ast.h"
#include "sql/Like.h"

namespace reka::sql {

/// An expression bound to a schema: its type is known and it evaluates every row of a batch
/// into a column. Thread-compatible: evaluate() is const.
class BoundExpr {
 public:
  explicit BoundExpr(DataType t) : type(std::move(t)) {}
  virtual ~BoundExpr() = default;
  /// Fills `out` (cleared first) with the value of every row of `in`. Strings it makes go into
  /// `arena`. Errors (a division by zero, a CAST that cannot convert) name the expression.
  virtual Status evaluate(const RowBatch& in, Column& out, StringArena& arena) const = 0;
  /// Whether evaluating it can fail on some row (a division, a CAST from a string): such an
  /// expression is evaluated only on the rows that reach it (after the WHERE, in its CASE branch).
  virtual bool canFail() const { return false; }
  DataType type;
};
using BoundPtr = std::shared_ptr<const BoundExpr>;

/// What column names mean while binding: the input's schema, reachable by the table's name or
/// its alias as qualifier.
struct Scope {
  const Schema* schema = nullptr;
  std::string table;
  std::string alias;
  /// The script's CREATE FUNCTION declarations, by upper-case name (null: none).
  const std::map<std::string, const ScalarFunction*>* functions = nullptr;
  /// A join's input: which columns of `schema` come from which table (by name or alias). Empty:
  /// every column is the one table's.
  struct Part {
    std::string table;
    std::string alias;
    size_t offset = 0;
    size_t count = 0;
  };
  std::vector<Part> parts;
  /// Subexpressions written more than once in one Calc (its WHERE and select list, see
  /// findCommonSubexpressions): the nodes of each group bind to one shared node whose value is
  /// computed once per batch while a MemoScope is open. Null: none.
  struct Common {
    std::map<const Expr*, size_t> group;  ///< node → its group
    std::vector<BoundPtr> bound;          ///< per group: the shared node, once bound
  };
  Common* common = nullptr;
};

/// The subexpressions of `exprs` (null entries skipped) written more than once, as groups of
/// equal text: calls, operators, CASE and CAST that are deterministic (not PROCTIME(), a user
/// function that says it is not, or an aggregate). Columns and literals are not worth sharing.
Scope::Common findCommonSubexpressions(const std::vector<const Expr*>& exprs,
                                       const std::map<std::string, const ScalarFunction*>* userFunctions);

/// Whether `e` gives the same value every time it is evaluated on the same row (no PROCTIME(),
/// NOW(), RAND, UUID, aggregate or user function registered as not deterministic in it).
bool isDeterministic(const Expr& e, const std::map<std::string, const ScalarFunction*>* userFunctions);

/// While one is open on a thread, the shared nodes of Scope::Common evaluated on `batch` keep
/// their value until it closes: the second use of one copies the first's column (and its strings
/// point into the arena the first wrote: pass the same arena to every evaluation). Nested scopes
/// restore the outer one when they close.
class MemoScope {
 public:
  explicit MemoScope(const RowBatch& batch);
  ~MemoScope();
  /// The rows of the batch whose `keep` is set have become `to` (a filter kept them): the values
  /// computed so far keep those rows and stand for `to` from now on.
  void narrow(const RowBatch& to, const std::vector<uint8_t>& keep);
  MemoScope(const MemoScope&) = delete;
  MemoScope& operator=(const MemoScope&) = delete;

 private:
  const RowBatch* previous_;
  size_t previousSize_;
};

/// An expression as SQL text (for plans, messages and finding equal subexpressions).
std::string exprText(const Expr& e);

/// A built-in function implemented as a ScalarFunction (JSON_VALUE, JSON_QUERY, JSON_EXISTS),
/// or null.
const ScalarFunction* builtinFunction(std::string_view name);
/// Whether `path` is a JSON path these functions accept (an error says what is accepted).
Status checkJsonPath(std::string_view path);

/// The column a plain column reference reads, or -1 for any other expression.
int columnRefIndex(const BoundExpr& e);

/// Column `index` of `schema`, as an expression.
BoundPtr bindColumn(const Schema& schema, size_t index);

/// Binds `e`: names resolved, types checked (messages name the position and what is accepted).
Result<BoundPtr> bind(const Expr& e, const Scope& scope);

/// Whether `name` (upper case) is an aggregate function: COUNT, SUM, AVG, MIN, MAX.
bool isAggregateFunction(std::string_view name);

/// The name of a select item without an alias: the column's name, or EXPR$<index>.
std::string derivedName(const Expr& e, size_t index);

/// Clears `c` and sizes it for `n` rows of `type` (every value null).
void resetColumn(Column& c, const DataType& type, size_t n);

/// Keeps the values of `c` (of `type`) whose `keep` is set, in order.
void compactColumn(Column& c, const DataType& type, const std::vector<uint8_t>& keep);

}  // namespace reka::sql
