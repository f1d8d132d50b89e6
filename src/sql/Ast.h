#pragma once

// The syntax tree of Reka's SQL (Flink's dialect): what the parser produces and the planner
// binds against the catalog. Private to the sql module.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reka/data/Row.h"

namespace reka::sql {

/// Where a piece of text starts, for messages ("line 3, column 14").
struct Position {
  int line = 1;
  int column = 1;
  std::string toString() const { return "line " + std::to_string(line) + ", column " + std::to_string(column); }
};

struct Expr;
using ExprPtr = std::shared_ptr<Expr>;

/// An expression as written.
struct Expr {
  enum class Kind {
    kColumn,    ///< name (possibly qualified: qualifier.name)
    kLiteral,   ///< text + literalType (NULL: literalType kind kString and isNull)
    kUnary,     ///< op ("-", "NOT") and args[0]
    kBinary,    ///< op ("+", "-", "*", "/", "%", "||", "=", "<>", "<", "<=", ">", ">=", "AND", "OR") and args[0..1]
    kIsNull,    ///< args[0] IS [NOT] NULL (negated)
    kCase,      ///< args: when, then, when, then, …, [else] (hasElse)
    kCast,      ///< CAST(args[0] AS castType)
    kCall,      ///< name(args…)
    kInterval,  ///< INTERVAL 'n' unit: literal milliseconds in `millis`
    kStar,      ///< * (or qualifier.*) in a select list
  };
  Kind kind = Kind::kLiteral;
  Position pos;
  std::string name;       ///< column or function name
  std::string qualifier;  ///< table alias of a column
  std::string op;
  std::string text;       ///< literal text (unescaped string, or number as written)
  DataType literalType;
  bool isNull = false;
  bool negated = false;
  bool hasElse = false;
  DataType castType;
  int64_t millis = 0;
  std::vector<ExprPtr> args;  ///< COUNT(*): one kStar argument
  bool distinct = false;      ///< an aggregate call's DISTINCT
  ExprPtr filter;             ///< an aggregate call's FILTER (WHERE …)
  /// ROW_NUMBER() OVER (PARTITION BY … ORDER BY …): the window of the call (null: none).
  struct Over {
    std::vector<ExprPtr> partitionBy;
    std::vector<ExprPtr> orderBy;
    std::vector<bool> descending;
    /// The frame: ROWS or RANGE BETWEEN `preceding` PRECEDING AND CURRENT ROW (rows, or
    /// milliseconds of a RANGE; -1: UNBOUNDED). Without one, RANGE UNBOUNDED PRECEDING.
    std::string name;  ///< OVER w: the window of the query's WINDOW clause (resolved when parsed)
    bool hasFrame = false;
    bool rows = false;
    int64_t preceding = -1;
    Position framePos;
  };
  std::shared_ptr<Over> over;
};

struct SelectItem {
  ExprPtr expr;
  std::string alias;  ///< empty: derived from the expression
};

struct Query;

/// A windowing table function in FROM: TABLE(TUMBLE(TABLE t, DESCRIPTOR(c), size [, offset])),
/// HOP(…, slide, size [, offset]) or CUMULATE(…, step, size [, offset]). Its rows are those of t
/// with window_start, window_end and window_time added (HOP and CUMULATE: one per window).
struct WindowTvf {
  std::string function;  ///< TUMBLE, HOP, CUMULATE
  Position pos;
  std::string timeColumn;
  Position timePos;
  int64_t size = 0;
  int64_t step = 0;  ///< HOP's slide, CUMULATE's step (TUMBLE: the size)
  int64_t offset = 0;
};

/// MATCH_RECOGNIZE (…) after a table, view or subquery in FROM: Flink SQL's row pattern
/// recognition, run on the CEP library's automaton.
struct MatchRecognize {
  Position pos;
  std::vector<ExprPtr> partitionBy;
  ExprPtr orderBy;
  bool descending = false;
  /// MEASURES expr AS name; `text` is the expression as written.
  struct Measure {
    ExprPtr expr;
    std::string text;
    std::string name;
    Position pos;
  };
  std::vector<Measure> measures;
  bool allRows = false;  ///< ALL ROWS PER MATCH (refused when planned)
  enum class Skip { kPastLastRow, kToNextRow, kToFirst, kToLast };
  Skip skip = Skip::kPastLastRow;
  std::string skipVariable;
  /// One variable of PATTERN with its quantifier: min..max rows (max -1: no bound).
  struct Term {
    std::string variable;
    Position pos;
    int min = 1;
    int max = 1;
    bool reluctant = false;
    bool quantified = false;
  };
  std::vector<Term> pattern;
  int64_t withinMs = -1;
  /// DEFINE variable AS condition; `text` is the condition as written.
  struct Define {
    std::string variable;
    ExprPtr condition;
    std::string text;
    Position pos;
  };
  std::vector<Define> defines;
};

/// What a FROM clause reads: a table or view, a subquery or a windowing function, and its alias.
struct FromItem {
  std::string table;  ///< a table or view (also the input of `window`); empty for a subquery
  Position pos;
  std::shared_ptr<Query> subquery;
  std::optional<WindowTvf> window;
  std::string alias;
  /// `t FOR SYSTEM_TIME AS OF x`: a temporal (lookup) join of table t at time x; null if none.
  std::shared_ptr<Expr> systemTime;
  std::shared_ptr<MatchRecognize> match;  ///< t MATCH_RECOGNIZE (…); null if none
};

/// A join in FROM: `a JOIN b ON …` (inner, left, right, full) or `a, b` (inner, conditions in WHERE).
struct JoinClause {
  enum class Kind { kInner, kLeft, kRight, kFull };
  Kind kind = Kind::kInner;
  Position pos;
  FromItem right;
  ExprPtr on;  ///< null: a comma join (or CROSS JOIN)
};

/// SELECT [DISTINCT] … FROM source [alias] [JOIN …] [WHERE …] [GROUP BY …] [HAVING …]. The source
/// is a table or view (`from`), a subquery, or a windowing function over a table or view.
struct Query {
  Position pos;
  bool distinct = false;
  std::vector<SelectItem> items;
  std::string from;  ///< a table or view (also the input of `window`); empty for a subquery
  Position fromPos;
  std::shared_ptr<Query> subquery;
  std::optional<WindowTvf> window;
  std::shared_ptr<MatchRecognize> match;  ///< FROM t MATCH_RECOGNIZE (…)
  std::string alias;
  std::vector<JoinClause> joins;
  ExprPtr where;
  std::vector<ExprPtr> groupBy;
  Position groupByPos;
  ExprPtr having;
  /// UNION ALL: the queries after this one, whose rows follow (same number of columns).
  std::vector<std::shared_ptr<Query>> unionAll;
};

struct ColumnDef {
  std::string name;
  DataType type;
  Position pos;
  ExprPtr computed;  ///< name AS expression: computed from the physical columns
  /// name TYPE METADATA [FROM 'key'] [VIRTUAL]: filled by the connector from what it knows of
  /// the record (Kafka's partition, offset, timestamp …); read-only.
  std::optional<std::string> metadata;
};

struct CreateTable {
  std::string name;
  Position pos;
  std::vector<ColumnDef> columns;
  std::optional<std::string> watermarkColumn;
  ExprPtr watermarkExpr;  ///< c - INTERVAL … (or c)
  std::vector<std::string> primaryKey;
  std::vector<std::string> partitionedBy;  ///< PARTITIONED BY (…): directories col=value/…
  std::vector<std::pair<std::string, std::string>> options;
};

struct CreateView {
  std::string name;
  Position pos;
  Query query;
};

/// CREATE FUNCTION name AS 'registered-name' (a C++ function registered under that name).
struct CreateFunction {
  std::string name;
  std::string registeredName;
  Position pos;
};

struct Set {
  std::string key;
  std::string value;
  Position pos;
};

struct Insert {
  std::string table;
  Position pos;
  Query query;
};

struct Statement {
  enum class Kind { kCreateTable, kCreateView, kCreateFunction, kSet, kInsert, kExplain };
  Kind kind = Kind::kCreateTable;
  Position pos;
  CreateTable createTable;
  CreateView createView;
  CreateFunction createFunction;
  Set set;
  Insert insert;  ///< kInsert, and the statement kExplain explains
};

/// Parses a script of statements separated by ';'. Errors name the position and what was
/// expected.
Result<std::vector<Statement>> parseScript(std::string_view text);
/// Parses one expression (for tests).
Result<ExprPtr> parseExpression(std::string_view text);

}  // namespace reka::sql
