// Plans a SQL script onto the runtime: tables through the connector registry, SELECT lists
// and WHERE clauses as a row operator (Calc) that evaluates bound expressions a column at a
// time, INSERT INTO as a sink. Every INSERT of a script is one job.

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <map>

#include "graph/Planner.h"
#include "reka/base/Units.h"
#include "reka/connector/Registry.h"
#include "reka/sql/Sql.h"
#include "sql/MatchRecognize.h"
#include "sql/Aggregate.h"
#include "sql/Ast.h"
#include "sql/Expression.h"
#include "sql/Join.h"
#include "sql/Rank.h"

namespace reka::sql {

namespace {

/// A condition (WHERE, HAVING, ON …) bound and checked to be BOOLEAN.
Result<BoundPtr> bindCondition(const Expr& e, const Scope& scope, const char* what) {
  REKA_ASSIGN_OR_RETURN(BoundPtr b, bind(e, scope));
  if (b->type.kind != TypeKind::kBoolean)
    return Status::invalidArgument(std::string("SQL: ") + what + " at " + e.pos.toString() + " needs a BOOLEAN, not " + b->type.toString());
  return b;
}


/// A step of a plan. kCalc: a filter, then a select list (empty: the rows as they are).
/// kWindow: a windowing table function. kAggregate: a keyed exchange on the first keyCount
/// columns, then a GROUP BY aggregation (a window aggregation when it groups by a window).
struct Stage {
  enum class Kind { kCalc, kWindow, kAggregate, kRank, kOver, kMatch };
  Kind kind = Kind::kCalc;
  std::string label;  ///< "Calc", "Computed columns", "Convert", "View: v", "GroupAggregate", …
  std::vector<BoundPtr> projections;
  BoundPtr filter;
  std::vector<std::string> projectionText;
  std::string filterText;
  std::shared_ptr<const WindowSpec> window;
  std::shared_ptr<const AggregateSpec> aggregate;
  std::shared_ptr<const RankSpec> rank;
  std::shared_ptr<const OverSpec> over;
  std::shared_ptr<const MatchSpec> match;
  std::string detailText;  ///< windows and aggregates: what explain prints
  /// kCalc: how many of its subexpressions are written more than once and computed once per
  /// batch (0: none).
  size_t sharedValues = 0;
  Schema schema;  ///< the rows it gives
  /// Event time assigned to its output (a WATERMARK on a computed column).
  std::optional<connector::RowWatermarks> watermarks;
  std::string watermarkText;
};

struct TableDef {
  std::string name;
  Position pos;
  Schema physical;  ///< what the connector reads (metadata columns too)
  Schema writable;  ///< what a sink writes: the physical columns but the metadata ones
  Schema schema;    ///< physical plus computed columns
  connector::Options options;
  std::optional<connector::RowWatermarks> watermarks;  ///< on a physical column: in the source
  std::string watermarkText;
  std::optional<Stage> computed;  ///< computed columns (and a watermark on one of them)
  int rowtime = -1;  ///< the WATERMARK column in `schema`, -1 if none
};

struct PlannedJoin;
struct PlannedUnion;

/// A planned query: where its rows come from (a table, or a join of two planned queries) and the
/// stages they go through, in order.
struct PlannedQuery {
  std::string sourceTable;
  std::shared_ptr<const PlannedJoin> join;
  std::shared_ptr<const PlannedUnion> unionAll;  ///< UNION ALL of these (then the stages)
  std::vector<Stage> stages;
  Schema schema;  ///< the rows it gives
  /// Which of its columns come from which table or alias (one part unless it is a join).
  std::vector<Scope::Part> parts;
  /// Whether its result updates (-U, +U, -D rows): a GROUP BY that is not a window aggregation,
  /// an outer join, or anything over a changelog.
  bool updating = false;  /// The columns that hold the window_start and window_end of a windowing function (renamed or
  /// not), -1 if none: grouping by both is a window aggregation.
  int windowStart = -1;
  int windowEnd = -1;
  /// The column that holds PROCTIME() (a processing-time attribute), -1 if none.
  int proctime = -1;
  /// The column that holds its event time (the table's WATERMARK column, or a window
  /// aggregation's window_end), -1 if none: an interval join bounds two of them.
  int rowtime = -1;
  /// Its window columns come from a windowing function over processing time.
  bool processingTimeWindow = false;
};

struct PlannedUnion {
  std::vector<PlannedQuery> inputs;
};

struct PlannedJoin {
  PlannedQuery left, right;
  std::shared_ptr<const JoinSpec> spec;
  std::string text;  ///< what explain prints
};

/// The conjuncts of `e` (a AND b AND c → a, b, c).
void conjuncts(const ExprPtr& e, std::vector<ExprPtr>& out) {
  if (e && e->kind == Expr::Kind::kBinary && e->op == "AND") {
    conjuncts(e->args[0], out);
    conjuncts(e->args[1], out);
  } else if (e) {
    out.push_back(e);
  }
}

ExprPtr andOf(const std::vector<ExprPtr>& parts) {
  ExprPtr out;
  for (const auto& p : parts) {
    if (!out) {
      out = p;
      continue;
    }
    auto a = std::make_shared<Expr>();
    a->kind = Expr::Kind::kBinary;
    a->op = "AND";
    a->pos = out->pos;
    a->args = {out, p};
    out = a;
  }
  return out;
}

/// The column of `schema` that `col` names among `parts` (as the binder resolves it), or -1.
int resolveColumn(const Expr& col, const Schema& schema, const std::vector<Scope::Part>& parts) {
  int found = -1;
  for (const auto& part : parts) {
    if (!col.qualifier.empty() && col.qualifier != part.alias && col.qualifier != part.table) continue;
    for (size_t i = part.offset; i < part.offset + part.count; ++i) {
      if (schema.field(i).name != col.name) continue;
      if (found >= 0) return -1;  // ambiguous
      found = static_cast<int>(i);
    }
  }
  return found;
}

/// Which sides of a join (of `leftCount` left columns) `e` reads: bit 1 left, bit 2 right; 3 as
/// well for a column it cannot place.
int sidesOf(const Expr& e, const Schema& schema, const std::vector<Scope::Part>& parts, size_t leftCount) {
  if (e.kind == Expr::Kind::kColumn) {
    const int i = resolveColumn(e, schema, parts);
    if (i < 0) return 3;
    return static_cast<size_t>(i) < leftCount ? 1 : 2;
  }
  int sides = 0;
  for (const auto& a : e.args) sides |= sidesOf(*a, schema, parts, leftCount);
  if (e.filter) sides |= sidesOf(*e.filter, schema, parts, leftCount);
  return sides;
}

/// `e` with the qualifiers that name the query's own table or alias removed: the text by which
/// a select item is matched against GROUP BY expressions and aggregate calls.
std::string matchText(const Expr& e, const std::string& table, const std::string& alias) {
  Expr copy = e;
  if (copy.kind == Expr::Kind::kColumn && (copy.qualifier == table || copy.qualifier == alias)) copy.qualifier.clear();
  auto leaf = [&](const Expr& x) {
    auto l = std::make_shared<Expr>();
    l->kind = Expr::Kind::kColumn;
    l->name = matchText(x, table, alias);
    return l;
  };
  for (size_t i = 0; i < e.args.size(); ++i) copy.args[i] = leaf(*e.args[i]);
  if (e.filter) copy.filter = leaf(*e.filter);
  return exprText(copy);
}

/// The user aggregate functions the script being planned declares (CREATE FUNCTION), by
/// upper-case name; set while a script compiles (the planner runs on one thread).
thread_local const std::map<std::string, const AggregateFunction*>* tUserAggregates = nullptr;

const AggregateFunction* userAggregate(const std::string& name) {
  if (tUserAggregates == nullptr) return nullptr;
  std::string key = name;
  for (char& c : key) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto it = tUserAggregates->find(key);
  return it == tUserAggregates->end() ? nullptr : it->second;
}

/// A built-in or user aggregate function's name.
bool isAggregateName(const std::string& name) { return isAggregateFunction(name) || userAggregate(name) != nullptr; }

/// A GROUP BY aggregate (COUNT, SUM … without OVER).
bool isAggregateCall(const Expr& e) { return e.kind == Expr::Kind::kCall && isAggregateName(e.name) && !e.over; }

/// An OVER aggregation's call: COUNT, SUM … OVER (…).
bool isOverAggregate(const Expr& e) { return e.kind == Expr::Kind::kCall && isAggregateName(e.name) && e.over; }

bool containsOverAggregate(const Expr& e) {
  if (isOverAggregate(e)) return true;
  for (const auto& a : e.args)
    if (containsOverAggregate(*a)) return true;
  return false;
}

bool containsAggregate(const Expr& e) {
  if (isAggregateCall(e)) return true;
  for (const auto& a : e.args)
    if (containsAggregate(*a)) return true;
  return false;
}

ExprPtr columnExpr(const std::string& name, Position pos) {
  auto c = std::make_shared<Expr>();
  c->kind = Expr::Kind::kColumn;
  c->name = name;
  c->pos = pos;
  return c;
}

struct PlannedInsert {
  std::string table;
  Position pos;
  PlannedQuery query;
};

/// Evaluates a WHERE clause and a SELECT list on each batch of rows.
class CalcOperator final : public Operator {
 public:
  /// `shares`: some of the expressions are shared nodes (Scope::Common), computed once per batch
  /// in a MemoScope; the filter then writes its strings into the output batch's arena, which a
  /// projection reusing one of its values points into.
  CalcOperator(std::shared_ptr<const Schema> out, std::vector<BoundPtr> projections, BoundPtr filter, bool shares = false)
      : schema_(std::move(out)), projections_(std::move(projections)), filter_(std::move(filter)), shares_(shares) {
    for (const auto& p : projections_) projectionsCanFail_ = projectionsCanFail_ || p->canFail();
    // A column the select list only passes on (one plain reference to it) is moved from the
    // input batch, which is this operator's, instead of copied; it is moved after every other
    // projection has read the input.
    moveFrom_.assign(projections_.size(), -1);
    for (size_t k = 0; k < projections_.size(); ++k) {
      const int c = columnRefIndex(*projections_[k]);
      if (c < 0) continue;
      size_t refs = 0;
      for (const auto& p : projections_) refs += columnRefIndex(*p) == c ? 1 : 0;
      if (refs == 1) moveFrom_[k] = c;
    }
  }

  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    return Status::ok();
  }

  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RowBatch&>(batch);
    if (in.size() == 0) return;
    RowBatch* rows = &in;
    bool compactAfter = false;
    RowBatch out(schema_);
    std::optional<MemoScope> memo;
    if (shares_) memo.emplace(in);
    if (filter_) {
      check(filter_->evaluate(in, mask_, shares_ ? out.arena() : scratchArena()));
      keep_.assign(in.size(), 0);
      size_t kept = 0;
      for (size_t i = 0; i < in.size(); ++i) kept += keep_[i] = !mask_.nulls[i] && mask_.ints[i] != 0;
      if (kept == 0) return;
      if (kept < in.size()) {
        if (projectionsCanFail_ || projections_.empty()) {
          // The select list runs only on the rows the filter kept (a division there must not see
          // the others).
          selected_.setSchema(in.schemaPtr());
          for (size_t i = 0; i < in.size(); ++i)
            if (keep_[i]) selected_.appendFrom(in, i);
          rows = &selected_;
          if (memo) memo->narrow(selected_, keep_);  // shared values computed by the filter, for the rows kept
        } else {
          compactAfter = true;  // cheaper: compute the (fewer) output columns, then drop rows
        }
      }
    }
    if (projections_.empty()) {
      out = *rows;
    } else {
      out.columns.resize(projections_.size());
      for (size_t k = 0; k < projections_.size(); ++k)
        if (moveFrom_[k] < 0) check(projections_[k]->evaluate(*rows, out.columns[k], out.arena()));
      for (size_t k = 0; k < projections_.size(); ++k)
        if (moveFrom_[k] >= 0) out.columns[k] = std::move(rows->columns[static_cast<size_t>(moveFrom_[k])]);
      out.kinds = rows->kinds;
      out.retain(*rows);
      if (compactAfter) {
        for (size_t k = 0; k < projections_.size(); ++k) compactColumn(out.columns[k], schema_->field(k).type, keep_);
        size_t w = 0;
        for (size_t i = 0; i < keep_.size(); ++i)
          if (keep_[i]) out.kinds[w++] = out.kinds[i];
        out.kinds.resize(w);
      }
    }
    memo.reset();  // before the rows go on: an operator chained after this one evaluates too
    ctx_->metrics->recordsOut.fetch_add(static_cast<int64_t>(out.size()), std::memory_order_relaxed);
    ctx_->outputs[0]->push(out);
    selected_.clear();
  }

 private:
  static void check(const Status& s) {
    if (!s.isOk()) throw std::runtime_error(s.message());
  }
  StringArena& scratchArena() {
    if (!scratch_ || scratch_->chunkCount() > 16) scratch_ = std::make_shared<StringArena>();
    return *scratch_;
  }

  std::shared_ptr<const Schema> schema_;
  std::vector<BoundPtr> projections_;
  BoundPtr filter_;
  bool shares_ = false;
  OperatorContext* ctx_ = nullptr;
  Column mask_;
  std::vector<uint8_t> keep_;
  bool projectionsCanFail_ = false;
  std::vector<int> moveFrom_;  ///< per projection: the input column it moves, or -1
  RowBatch selected_;
  std::shared_ptr<StringArena> scratch_;
};

}  // namespace

struct SqlScript::Impl {
  std::map<std::string, std::string> settings;
  std::map<std::string, TableDef> tables;
  std::map<std::string, Query> views;
  std::map<std::string, const ScalarFunction*> functions;  ///< CREATE FUNCTION, by upper-case name
  std::map<std::string, const AggregateFunction*> aggregates;  ///< CREATE FUNCTION of aggregate functions
  std::vector<PlannedInsert> inserts;

  Status run(const std::vector<Statement>& statements) {
    // Calls to the script's user aggregates are aggregates while it compiles.
    tUserAggregates = &aggregates;
    struct Reset {
      ~Reset() { tUserAggregates = nullptr; }
    } reset;
    for (const auto& s : statements) {
      switch (s.kind) {
        case Statement::Kind::kCreateTable: REKA_RETURN_IF_ERROR(createTable(s.createTable)); break;
        case Statement::Kind::kCreateView: {
          if (tables.count(s.createView.name) || views.count(s.createView.name))
            return Status::invalidArgument("SQL: '" + s.createView.name + "' at " + s.pos.toString() + " already exists");
          REKA_RETURN_IF_ERROR(planQuery(s.createView.query, 0).status());  // checked now
          views[s.createView.name] = s.createView.query;
          break;
        }
        case Statement::Kind::kCreateFunction: {
          const CreateFunction& f = s.createFunction;
          std::string key = f.name;
          for (char& c : key) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          if (isAggregateFunction(key))
            return Status::invalidArgument("SQL: CREATE FUNCTION " + f.name + " at " + f.pos.toString() + ": " + key + " is a built-in aggregate");
          auto fn = findScalarFunction(f.registeredName);
          if (fn.isOk()) {
            functions[key] = *fn;
            aggregates.erase(key);
            break;
          }
          auto agg = findAggregateFunction(f.registeredName);
          if (!agg.isOk())
            return Status::invalidArgument("SQL: CREATE FUNCTION " + f.name + " at " + f.pos.toString() + ": " + fn.status().message() +
                                           " (C++ functions are registered with reka::sql::registerScalarFunction, aggregate functions "
                                           "with registerAggregateFunction)");
          aggregates[key] = *agg;
          functions.erase(key);
          break;
        }
        case Statement::Kind::kSet: settings[s.set.key] = s.set.value; break;
        case Statement::Kind::kInsert:
        case Statement::Kind::kExplain: {
          REKA_ASSIGN_OR_RETURN(PlannedInsert p, planInsert(s.insert));
          inserts.push_back(std::move(p));
          break;
        }
      }
    }
    if (inserts.empty()) return Status::invalidArgument("SQL: the script has no INSERT INTO: nothing would run");
    return Status::ok();
  }

  Status createTable(const CreateTable& t) {
    if (tables.count(t.name) || views.count(t.name))
      return Status::invalidArgument("SQL: table '" + t.name + "' at " + t.pos.toString() + " already exists");
    TableDef def;
    def.name = t.name;
    def.pos = t.pos;
    std::vector<Field> physical;
    for (const auto& c : t.columns)
      if (!c.computed) physical.push_back({c.name, c.type});
    def.physical = Schema(std::move(physical));
    {
      std::vector<Field> writable;
      for (const auto& c : t.columns)
        if (!c.computed && !c.metadata) writable.push_back({c.name, c.type});
      def.writable = Schema(std::move(writable));
    }
    for (const auto& [k, v] : t.options) {
      // Flink's legacy descriptor keys, as older scripts (Flink's NEXMark q13) write them.
      static const std::map<std::string, std::string> kLegacy = {
          {"connector.type", "connector"}, {"connector.path", "path"}, {"format.type", "format"}, {"format.field-delimiter", "csv.field-delimiter"}};
      auto legacy = kLegacy.find(k);
      if (legacy != kLegacy.end()) {
        def.options.set(legacy->second, v);
      } else if (k != "connector.property-version" && k != "format.property-version") {
        def.options.set(k, v);
      }
    }
    // Computed columns: a stage after the source gives every column in declaration order.
    const bool anyComputed = std::any_of(t.columns.begin(), t.columns.end(), [](const ColumnDef& c) { return c.computed != nullptr; });
    if (anyComputed) {
      Stage st;
      st.label = "Computed columns";
      Scope scope{&def.physical, t.name, "", &functions, {}};
      std::vector<Field> all;
      for (const auto& c : t.columns) {
        Expr col;
        col.kind = Expr::Kind::kColumn;
        col.name = c.name;
        col.pos = c.pos;
        const Expr& e = c.computed ? *c.computed : col;
        REKA_ASSIGN_OR_RETURN(BoundPtr b, bind(e, scope));
        all.push_back({c.name, b->type});
        st.projectionText.push_back(c.computed ? exprText(e) + " AS " + c.name : c.name);
        st.projections.push_back(std::move(b));
      }
      st.schema = Schema(std::move(all));
      def.schema = st.schema;
      def.computed = std::move(st);
    } else {
      def.schema = def.physical;
    }
    for (const auto& k : t.primaryKey)
      if (def.schema.indexOf(k) < 0) return Status::invalidArgument("SQL: primary key column '" + k + "' of table '" + t.name + "' is not a column");
    if (!t.partitionedBy.empty()) {
      // The filesystem connector writes a row under DIR/col=value/…; the columns are named in
      // the table's options for it (Flink keeps them out of the files too).
      std::string cols;
      for (const auto& c : t.partitionedBy) {
        if (def.physical.indexOf(c) < 0)
          return Status::invalidArgument("SQL: PARTITIONED BY column '" + c + "' of table '" + t.name + "' is not a physical column");
        cols += (cols.empty() ? "" : ";") + c;
      }
      if (def.options.get("connector") != "filesystem")
        return Status::notSupported("SQL: PARTITIONED BY of table '" + t.name + "': only the filesystem connector writes partitions");
      def.options.set("partition.columns", cols);
    }
    if (!t.primaryKey.empty() && !def.options.has("key.fields") && def.options.get("connector") == "upsert-kafka") {
      std::string keys;
      for (const auto& k : t.primaryKey) keys += (keys.empty() ? "" : ";") + k;
      def.options.set("key.fields", keys);
    }
    if (t.watermarkColumn) {
      // WATERMARK FOR c AS c [- INTERVAL 'n' unit]: bounded out-of-orderness of n.
      const Expr& w = *t.watermarkExpr;
      int64_t delay = 0;
      const Expr* col = &w;
      if (w.kind == Expr::Kind::kBinary && w.op == "-" && w.args[1]->kind == Expr::Kind::kInterval) {
        col = w.args[0].get();
        delay = w.args[1]->millis;
      }
      if (col->kind != Expr::Kind::kColumn || col->name != *t.watermarkColumn)
        return Status::notSupported("SQL: WATERMARK FOR " + *t.watermarkColumn + " AS " + exprText(w) + " of table '" + t.name +
                                    "': this version takes '" + *t.watermarkColumn + "' or '" + *t.watermarkColumn +
                                    " - INTERVAL ...'");
      const bool onPhysical = def.physical.indexOf(*t.watermarkColumn) >= 0;
      def.rowtime = def.schema.indexOf(*t.watermarkColumn);
      auto wm = connector::RowWatermarks::forColumn(onPhysical ? def.physical : def.schema, *t.watermarkColumn, delay);
      if (!wm.isOk()) return Status::invalidArgument("SQL: table '" + t.name + "': " + wm.status().message());
      if (onPhysical) {
        def.watermarks = *wm;  // per split, in the source
        def.watermarkText = exprText(w);
      } else {
        def.computed->watermarks = *wm;  // after the computed columns
        def.computed->watermarkText = exprText(w);
      }
    }
    // Metadata columns: the connector fills them (readTable checks that it knows each key).
    for (const auto& c : t.columns)
      if (c.metadata) def.options.set("metadata." + c.name, *c.metadata);
    // The connector checks its options now, so that a mistake is reported before anything runs.
    if (!def.options.has("connector"))
      return Status::invalidArgument("SQL: table '" + t.name + "' at " + t.pos.toString() + " has no 'connector' option");
    REKA_RETURN_IF_ERROR(connector::findConnector(def.options.get("connector")).status());
    tables[t.name] = std::move(def);
    return Status::ok();
  }

  Result<PlannedQuery> planQuery(const Query& q, int depth) {
    if (depth > 16) return Status::invalidArgument("SQL: views and subqueries nest too deeply (a view that reads itself?)");
    if (!q.unionAll.empty()) {
      // UNION ALL: every query's rows, with the first one's column names; types must agree.
      Query first = q;
      first.unionAll.clear();
      auto u = std::make_shared<PlannedUnion>();
      REKA_ASSIGN_OR_RETURN(PlannedQuery head, planQuery(first, depth + 1));
      PlannedQuery out;
      out.schema = head.schema;
      out.updating = head.updating;
      u->inputs.push_back(std::move(head));
      for (const auto& more : q.unionAll) {
        REKA_ASSIGN_OR_RETURN(PlannedQuery next, planQuery(*more, depth + 1));
        if (next.schema.size() != out.schema.size())
          return Status::invalidArgument(fmt::format("SQL: UNION ALL at {}: the query gives {} columns, the first gives {}", more->pos.toString(),
                                                     next.schema.size(), out.schema.size()));
        std::vector<Field> widened = out.schema.fields();
        for (size_t c = 0; c < out.schema.size(); ++c) {
          DataType a = out.schema.field(c).type, b = next.schema.field(c).type;
          a.nullable = b.nullable = true;
          if (a == b) continue;
          const auto integer = [](const DataType& t) { return t.kind == TypeKind::kInt || t.kind == TypeKind::kBigint; };
          if (integer(a) && integer(b)) {
            widened[c].type = DataType::bigint();  // INT with BIGINT is BIGINT, as in Flink
            continue;
          }
          return Status::invalidArgument(fmt::format("SQL: UNION ALL at {}: column {} is {} here and {} in the first query; CAST one of them",
                                                     more->pos.toString(), c + 1, next.schema.field(c).type.toString(),
                                                     out.schema.field(c).type.toString()));
        }
        out.schema = Schema(widened);
        out.updating = out.updating || next.updating;
        u->inputs.push_back(std::move(next));
      }
      std::vector<Field> fields = out.schema.fields();
      for (auto& f : fields) f.type.nullable = true;
      out.schema = Schema(fields);
      out.unionAll = std::move(u);
      out.parts = {{"", "", 0, out.schema.size()}};
      return out;
    }
    ExprPtr where = q.where;
    REKA_ASSIGN_OR_RETURN(PlannedQuery p, planSource(q, where, depth));
    bool over = false;
    for (const auto& item : q.items) over = over || containsOverAggregate(*item.expr);
    if (over) return planOver(q, where, std::move(p));
    for (const auto& item : q.items)
      if (hasRowNumber(*item.expr))
        return Status::notSupported("SQL: ROW_NUMBER() OVER at " + item.expr->pos.toString() +
                                    " must be filtered by the enclosing query (SELECT … FROM (SELECT …, ROW_NUMBER() OVER (…) AS rn FROM …) "
                                    "WHERE rn <= N): top-N and deduplication");
    bool aggregates = !q.groupBy.empty() || q.distinct || q.having != nullptr;
    for (const auto& item : q.items) aggregates = aggregates || (item.expr->kind != Expr::Kind::kStar && containsAggregate(*item.expr));
    if (where && containsAggregate(*where))
      return Status::invalidArgument("SQL: an aggregate in WHERE at " + where->pos.toString() + "; filter aggregates with HAVING");
    if (aggregates) return planAggregate(q, where, std::move(p));
    const Schema input = p.schema;
    Stage st;
    st.label = "Calc";
    Scope scope = scopeOf(p, input);
    // A subexpression written more than once (in WHERE and the select list, or twice in one) is
    // computed once per batch, as Calcite's programs share their common expressions.
    std::vector<const Expr*> written{where.get()};
    for (const auto& item : q.items) written.push_back(item.expr.get());
    Scope::Common common = findCommonSubexpressions(written, scope.functions);
    if (!common.bound.empty()) {
      scope.common = &common;
      st.sharedValues = common.bound.size();
    }
    if (where) {
      REKA_ASSIGN_OR_RETURN(st.filter, bindCondition(*where, scope, "WHERE"));
      st.filterText = exprText(*where);
    }
    REKA_RETURN_IF_ERROR(selectList(q.items, scope, input, st));
    const PlannedQuery before = p;
    followWindow(before, q.items, p);
    p.schema = st.schema;
    p.parts = {{"", "", 0, p.schema.size()}};
    if (!st.projections.empty() || st.filter) p.stages.push_back(std::move(st));
    return p;
  }

  /// The column of `p` that a plain column reference names, or -1.
  static int columnIndex(const Expr& e, const PlannedQuery& p) {
    if (e.kind != Expr::Kind::kColumn) return -1;
    if (p.parts.size() > 1) return resolveColumn(e, p.schema, p.parts);
    if (!e.qualifier.empty() && !p.parts.empty() && e.qualifier != p.parts[0].table && e.qualifier != p.parts[0].alias) return -1;
    return p.schema.indexOf(e.name);
  }

  /// Where the window columns of `in` are among `items` (a select list over it), into `out`.
  static void followWindow(const PlannedQuery& in, const std::vector<SelectItem>& items, PlannedQuery& out) {
    int start = -1, end = -1, proc = -1, rowtime = -1;
    {
      // A processing-time attribute: PROCTIME() itself, or a column that holds it; the event
      // time attribute: a column that holds it.
      size_t position = 0;
      for (const auto& item : items) {
        if (item.expr->kind == Expr::Kind::kStar) {
          if (!item.expr->qualifier.empty()) break;
          if (in.proctime >= 0 && proc < 0) proc = static_cast<int>(position) + in.proctime;
          if (in.rowtime >= 0 && rowtime < 0) rowtime = static_cast<int>(position) + in.rowtime;
          position += in.schema.size();
          continue;
        }
        const bool isProc = (item.expr->kind == Expr::Kind::kCall && item.expr->name == "PROCTIME") ||
                            (in.proctime >= 0 && columnIndex(*item.expr, in) == in.proctime);
        if (isProc && proc < 0) proc = static_cast<int>(position);
        if (in.rowtime >= 0 && rowtime < 0 && columnIndex(*item.expr, in) == in.rowtime) rowtime = static_cast<int>(position);
        ++position;
      }
    }
    out.proctime = proc;
    out.rowtime = rowtime;
    out.processingTimeWindow = in.processingTimeWindow;
    if (in.windowStart >= 0) {
      size_t position = 0;
      for (const auto& item : items) {
        if (item.expr->kind == Expr::Kind::kStar) {
          if (item.expr->qualifier.empty()) {
            if (start < 0) start = static_cast<int>(position) + in.windowStart;
            if (end < 0) end = static_cast<int>(position) + in.windowEnd;
            position += in.schema.size();
            continue;
          }
          break;  // t.*: positions past it are not followed
        }
        const int c = columnIndex(*item.expr, in);
        if (c == in.windowStart && start < 0) start = static_cast<int>(position);
        if (c == in.windowEnd && end < 0) end = static_cast<int>(position);
        ++position;
      }
    }
    out.windowStart = start >= 0 && end >= 0 ? start : -1;
    out.windowEnd = start >= 0 && end >= 0 ? end : -1;
  }

  static bool hasRowNumber(const Expr& e) {
    if (e.kind == Expr::Kind::kCall && e.over) return true;
    for (const auto& a : e.args)
      if (hasRowNumber(*a)) return true;
    return false;
  }

  /// What a query reads: its first FROM item joined with the others. Conditions a join uses
  /// are taken out of `where`.
  Result<PlannedQuery> planSource(const Query& q, ExprPtr& where, int depth) {
    FromItem first;
    first.table = q.from;
    first.pos = q.fromPos;
    first.subquery = q.subquery;
    first.window = q.window;
    first.match = q.match;
    first.alias = q.alias;
    // FROM (SELECT …, ROW_NUMBER() OVER (…) AS rn …) WHERE rn <= N: a top-N.
    if (q.subquery && q.joins.empty()) {
      const Query& sub = *q.subquery;
      for (size_t i = 0; i < sub.items.size(); ++i) {
        const Expr& e = *sub.items[i].expr;
        if (!(e.kind == Expr::Kind::kCall && e.over)) continue;
        const std::string rn = sub.items[i].alias.empty() ? derivedName(e, i) : sub.items[i].alias;
        std::vector<ExprPtr> parts, kept;
        conjuncts(where, parts);
        int64_t limit = -1;
        for (const ExprPtr& c : parts) {
          int64_t n = -1;
          if (c->kind == Expr::Kind::kBinary && c->args[0]->kind == Expr::Kind::kColumn && c->args[0]->name == rn &&
              c->args[1]->kind == Expr::Kind::kLiteral && isInteger(c->args[1]->literalType)) {
            const int64_t v = std::stoll(c->args[1]->text);
            n = c->op == "<=" ? v : c->op == "<" ? v - 1 : (c->op == "=" && v == 1) ? 1 : -1;
          }
          if (n >= 1 && limit < 0) {
            limit = n;
          } else {
            kept.push_back(c);
          }
        }
        if (limit < 0)
          return Status::notSupported("SQL: ROW_NUMBER() at " + e.pos.toString() + " needs a filter in the enclosing query: WHERE " + rn +
                                      " <= N (or < N, or = 1)");
        where = andOf(kept);
        REKA_ASSIGN_OR_RETURN(PlannedQuery p, planRank(sub, i, limit, depth + 1));
        p.parts = {{"", q.alias, 0, p.schema.size()}};
        return p;
      }
    }
    if (first.systemTime) return Status::invalidArgument("SQL: FOR SYSTEM_TIME AS OF at " + first.systemTime->pos.toString() + " must follow the right side of a JOIN");
    REKA_ASSIGN_OR_RETURN(PlannedQuery p, planFrom(first, depth));
    for (const JoinClause& j : q.joins) {
      REKA_ASSIGN_OR_RETURN(PlannedQuery right, planFrom(j.right, depth));
      if (j.right.systemTime) {
        REKA_ASSIGN_OR_RETURN(p, planLookupJoin(std::move(p), std::move(right), j));
      } else {
        REKA_ASSIGN_OR_RETURN(p, planJoin(std::move(p), std::move(right), j, where));
      }
    }
    return p;
  }

  static bool isInteger(const DataType& t) { return t.kind == TypeKind::kInt || t.kind == TypeKind::kBigint; }

  /// `q` whose item `rnItem` is ROW_NUMBER() OVER (PARTITION BY … ORDER BY …), keeping `limit`
  /// rows per partition.
  Result<PlannedQuery> planRank(const Query& q, size_t rnItem, int64_t limit, int depth) {
    const Expr& rn = *q.items[rnItem].expr;
    if (rn.name != "ROW_NUMBER" || !rn.args.empty())
      return Status::notSupported("SQL: " + rn.name + "(…) OVER at " + rn.pos.toString() + " is not supported; accepted: ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)");
    if (rn.over->orderBy.empty()) return Status::invalidArgument("SQL: ROW_NUMBER() at " + rn.pos.toString() + " needs an ORDER BY");
    if (!q.groupBy.empty() || q.distinct || q.having) return Status::notSupported("SQL: ROW_NUMBER() with GROUP BY at " + rn.pos.toString() + " is not supported");
    ExprPtr where = q.where;
    REKA_ASSIGN_OR_RETURN(PlannedQuery p, planSource(q, where, depth));
    const Schema input = p.schema;
    Scope scope = scopeOf(p, input);
    Stage pre;
    pre.label = "Calc";
    if (where) {
      REKA_ASSIGN_OR_RETURN(pre.filter, bindCondition(*where, scope, "WHERE"));
      pre.filterText = exprText(*where);
    }
    std::vector<SelectItem> values;
    for (size_t i = 0; i < q.items.size(); ++i)
      if (i != rnItem) values.push_back(q.items[i]);
    REKA_RETURN_IF_ERROR(selectList(values, scope, input, pre));
    if (pre.projections.empty())  // an identity list: project every column anyway (more follow)
      for (size_t c = 0; c < input.size(); ++c) {
        pre.projections.push_back(bindColumn(input, c));
        pre.projectionText.push_back(input.field(c).name);
      }
    auto spec = std::make_shared<RankSpec>();
    spec->valueCount = pre.schema.size();
    spec->limit = limit;
    spec->retract = p.updating;  // a changelog: every row is kept, so that the next moves up when one leaves
    std::vector<Field> fields = pre.schema.fields();
    std::vector<Field> outFields = fields;
    auto add = [&](const ExprPtr& e, const std::string& name, std::vector<int>& into) -> Status {
      REKA_ASSIGN_OR_RETURN(BoundPtr b, bind(*e, scope));
      if (b->type.kind == TypeKind::kRow) return Status::notSupported("SQL: ROW values at " + e->pos.toString() + " cannot partition or order rows");
      into.push_back(static_cast<int>(fields.size()));
      fields.push_back({name, b->type});
      pre.projectionText.push_back(exprText(*e));
      pre.projections.push_back(std::move(b));
      return Status::ok();
    };
    std::string partitionText, orderText;
    for (size_t k = 0; k < rn.over->partitionBy.size(); ++k) {
      REKA_RETURN_IF_ERROR(add(rn.over->partitionBy[k], "$p" + std::to_string(k), spec->partitionColumns));
      partitionText += (k > 0 ? ", " : "") + exprText(*rn.over->partitionBy[k]);
    }
    for (size_t k = 0; k < rn.over->orderBy.size(); ++k) {
      REKA_RETURN_IF_ERROR(add(rn.over->orderBy[k], "$o" + std::to_string(k), spec->orderColumns));
      spec->descending.push_back(rn.over->descending[k]);
      orderText += (k > 0 ? ", " : "") + exprText(*rn.over->orderBy[k]) + (rn.over->descending[k] ? " DESC" : "");
    }
    pre.schema = Schema(fields);
    const std::string rnName = q.items[rnItem].alias.empty() ? derivedName(rn, rnItem) : q.items[rnItem].alias;
    outFields.push_back({rnName, DataType::bigint().notNull()});
    spec->output = std::make_shared<const Schema>(Schema(outFields));
    Stage rank;
    rank.kind = Stage::Kind::kRank;
    rank.label = limit == 1 ? "Deduplicate" : "Rank";
    if (spec->retract) rank.label += " (retracting)";
    rank.detailText = fmt::format("partitionBy=[{}] orderBy=[{}] rows<={}", partitionText, orderText, limit);
    rank.schema = *spec->output;
    rank.rank = spec;
    p.stages.push_back(std::move(pre));
    p.stages.push_back(std::move(rank));
    p.schema = *spec->output;
    p.updating = true;
    p.windowStart = p.windowEnd = p.rowtime = -1;
    // The row number where the select list has it.
    if (rnItem + 1 != q.items.size()) {
      Stage order;
      order.label = "Calc";
      std::vector<Field> reordered;
      for (size_t i = 0, v = 0; i < q.items.size(); ++i) {
        const size_t c = i == rnItem ? spec->valueCount : v++;
        reordered.push_back(p.schema.field(c));
        order.projections.push_back(bindColumn(p.schema, c));
        order.projectionText.push_back(p.schema.field(c).name);
      }
      order.schema = Schema(reordered);
      p.schema = order.schema;
      p.stages.push_back(std::move(order));
    }
    return p;
  }

  /// How expressions over `p`'s rows (of `schema`) name its columns.
  Scope scopeOf(const PlannedQuery& p, const Schema& schema) const {
    Scope scope{&schema, "", "", &functions, {}};
    if (p.parts.size() == 1) {
      scope.table = p.parts[0].table;
      scope.alias = p.parts[0].alias;
    } else {
      scope.parts = p.parts;
    }
    return scope;
  }

  /// A table or view, a subquery, or a windowing function over one of them.
  Result<PlannedQuery> planFrom(const FromItem& f, int depth) {
    PlannedQuery p;
    if (f.subquery) {
      REKA_ASSIGN_OR_RETURN(p, planQuery(*f.subquery, depth + 1));
    } else if (auto v = views.find(f.table); v != views.end()) {
      REKA_ASSIGN_OR_RETURN(p, planQuery(v->second, depth + 1));
      if (!p.stages.empty() && p.stages.back().label == "Calc") p.stages.back().label = "View " + f.table;
    } else if (auto t = tables.find(f.table); t != tables.end()) {
      p.sourceTable = f.table;
      p.updating = connector::sinkAcceptsChangelog(t->second.options);  // a changelog format or upsert-kafka: its rows update
      if (t->second.computed) p.stages.push_back(*t->second.computed);
      p.schema = t->second.schema;
      p.rowtime = t->second.rowtime;
    } else {
      std::string names;
      for (const auto& [n, _] : tables) names += (names.empty() ? "" : ", ") + n;
      for (const auto& [n, _] : views) names += (names.empty() ? "" : ", ") + n;
      return Status::invalidArgument("SQL: table '" + f.table + "' at " + f.pos.toString() + " is not defined" +
                                     (names.empty() ? std::string(" (no table is)") : "; defined: " + names));
    }
    if (f.window) REKA_RETURN_IF_ERROR(planWindow(*f.window, p));
    if (f.match) REKA_RETURN_IF_ERROR(planMatch(*f.match, p));
    p.parts = {{f.table, f.alias, 0, p.schema.size()}};
    return p;
  }

  /// `p` MATCH_RECOGNIZE (…): one row per match (the partition columns, then the measures).
  static Status planMatch(const MatchRecognize& m, PlannedQuery& p) {
    if (p.updating)
      return Status::notSupported("SQL: MATCH_RECOGNIZE at " + m.pos.toString() + " reads an updating result; it needs an append-only input (as in Flink)");
    REKA_ASSIGN_OR_RETURN(std::shared_ptr<const MatchSpec> spec, planMatchRecognize(m, p.schema, p.rowtime, p.proctime));
    Stage st;
    st.kind = Stage::Kind::kMatch;
    st.label = "MatchRecognize";
    st.match = spec;
    st.schema = *spec->output;
    st.detailText = spec->detail;
    p.stages.push_back(std::move(st));
    p.schema = *spec->output;
    // The time attribute that comes out is a MATCH_ROWTIME() measure, if there is one (as in
    // Flink): each match's last row's time, which the watermark has not passed when the match
    // is emitted (the rule operator emits before it forwards the watermark).
    p.rowtime = spec->rowtimeColumn;
    p.proctime = -1;
    p.windowStart = -1;
    p.windowEnd = -1;
    return Status::ok();
  }

  /// `left` JOIN `right`: equalities between the sides become the keys; for inner joins, the
  /// conditions on one side filter it before the join and the rest filter the joined rows. A
  /// comma join takes its conditions from `where` (what it does not use stays there).
  /// A Calc after `q`'s stages that keeps the rows meeting every one of `filters` (none: nothing).
  Status addFilter(PlannedQuery& q, const std::vector<ExprPtr>& filters) {
    if (filters.empty()) return Status::ok();
    Stage st;
    st.label = "Calc";
    const ExprPtr f = andOf(filters);
    Scope scope = scopeOf(q, q.schema);
    REKA_ASSIGN_OR_RETURN(st.filter, bindCondition(*f, scope, "the condition"));
    st.filterText = exprText(*f);
    st.schema = q.schema;
    q.stages.push_back(std::move(st));
    return Status::ok();
  }

  /// The rows of `left` joined with `right`: the columns of both (nullable), and which columns
  /// of them each table or alias holds.
  static Schema joinedSchema(const PlannedQuery& left, const PlannedQuery& right, std::vector<Scope::Part>& parts) {
    std::vector<Field> fields;
    for (const auto& s : {&left.schema, &right.schema})
      for (auto f : s->fields()) {
        f.type.nullable = true;
        fields.push_back(f);
      }
    parts = left.parts;
    for (auto part : right.parts) {
      part.offset += left.schema.size();
      parts.push_back(part);
    }
    return Schema(fields);
  }

  Result<PlannedQuery> planJoin(PlannedQuery left, PlannedQuery right, const JoinClause& j, ExprPtr& where) {
    const size_t nl = left.schema.size();
    std::vector<Scope::Part> parts;
    const Schema combined = joinedSchema(left, right, parts);
    const bool inner = j.kind == JoinClause::Kind::kInner;
    std::vector<ExprPtr> conditions, rest;
    conjuncts(j.on ? j.on : where, conditions);
    auto spec = std::make_shared<JoinSpec>();
    spec->kind = j.kind == JoinClause::Kind::kInner ? JoinSpec::Kind::kInner : j.kind == JoinClause::Kind::kLeft ? JoinSpec::Kind::kLeft
               : j.kind == JoinClause::Kind::kRight ? JoinSpec::Kind::kRight : JoinSpec::Kind::kFull;
    std::vector<ExprPtr> leftFilters, rightFilters, residual, outerConditions;
    std::string keyText;
    Scope joinedScope{&combined, "", "", &functions, parts};
    for (const ExprPtr& c : conditions) {
      // Names and types are checked on the joined rows first (unknown or ambiguous columns).
      if (auto bound = bind(*c, joinedScope); !bound.isOk()) return bound.status();
      if (c->kind == Expr::Kind::kBinary && c->op == "=" && c->args[0]->kind == Expr::Kind::kColumn && c->args[1]->kind == Expr::Kind::kColumn) {
        int a = resolveColumn(*c->args[0], combined, parts), b = resolveColumn(*c->args[1], combined, parts);
        if (a >= 0 && b >= 0 && (static_cast<size_t>(a) < nl) != (static_cast<size_t>(b) < nl)) {
          if (static_cast<size_t>(a) >= nl) std::swap(a, b);
          const DataType &ta = combined.field(static_cast<size_t>(a)).type, &tb = combined.field(static_cast<size_t>(b)).type;
          const auto family = [](TypeKind k) { return k == TypeKind::kInt || k == TypeKind::kBigint ? TypeKind::kBigint : k; };
          if (family(ta.kind) != family(tb.kind) || ta.kind == TypeKind::kRow)
            return Status::invalidArgument(fmt::format("SQL: the join condition {} at {} compares {} with {}; CAST one side in a subquery",
                                                       exprText(*c), c->pos.toString(), ta.toString(), tb.toString()));
          if (ta.kind == TypeKind::kDecimal && ta.scale != tb.scale)
            return Status::invalidArgument("SQL: the join condition " + exprText(*c) + " at " + c->pos.toString() +
                                           " compares DECIMALs of different scales; CAST one side in a subquery");
          spec->leftKeys.push_back(a);
          spec->rightKeys.push_back(b - static_cast<int>(nl));
          keyText += (keyText.empty() ? "" : ", ") + exprText(*c);
          continue;
        }
      }
      const int sides = sidesOf(*c, combined, parts, nl);
      if (!j.on) {
        // A comma join: conditions on one side, or on neither, stay in WHERE.
        if (sides == 3) residual.push_back(c);
        else rest.push_back(c);
        continue;
      }
      if (!inner) {
        outerConditions.push_back(c);  // time bounds of an interval join, or an error below
        continue;
      }
      (sides == 1 ? leftFilters : sides == 2 ? rightFilters : residual).push_back(c);
    }
    if (!j.on) {
      // Conditions of a comma join that read one side filter that side before the join.
      for (const ExprPtr& c : rest) (sidesOf(*c, combined, parts, nl) == 1 ? leftFilters : rightFilters).push_back(c);
      where = andOf(residual);
      residual.clear();
    } else if (inner && where) {
      // WHERE conditions on one side of an inner join filter that side before it (Flink pushes
      // them down too): fewer rows kept in the join's state.
      std::vector<ExprPtr> whereParts, kept;
      conjuncts(where, whereParts);
      for (const ExprPtr& c : whereParts) {
        const int sides = containsAggregate(*c) ? 3 : sidesOf(*c, combined, parts, nl);
        (sides == 1 ? leftFilters : sides == 2 ? rightFilters : kept).push_back(c);
      }
      where = andOf(kept);
    }
    // An interval join: both inputs append-only, and conditions that bound one side's time
    // attribute by the other's from below and from above (Flink's interval join).
    std::string intervalText;
    if (!left.updating && !right.updating && left.rowtime >= 0 && right.rowtime >= 0) {
      JoinSpec::Interval iv;
      iv.leftTime = left.rowtime;
      iv.rightTime = right.rowtime;
      bool hasLower = false, hasUpper = false;
      const int rightTime = right.rowtime + static_cast<int>(nl);
      auto take = [&](std::vector<ExprPtr>& list) {
        std::vector<ExprPtr> kept;
        for (const ExprPtr& c : list) {
          std::optional<std::pair<int64_t, bool>> b;  // L.t - R.t op k: {k, is an upper bound}
          if (c->kind == Expr::Kind::kBinary && (c->op == "<" || c->op == "<=" || c->op == ">" || c->op == ">=")) {
            auto a = timeOperand(*c->args[0], combined, parts), z = timeOperand(*c->args[1], combined, parts);
            if (a && z) {
              std::string op = c->op;
              if (a->first == rightTime && z->first == left.rowtime) {
                std::swap(a, z);  // R + ka op L + kz  ⇔  L + kz flipped-op R + ka
                op = op == "<" ? ">" : op == "<=" ? ">=" : op == ">" ? "<" : "<=";
              }
              if (a->first == left.rowtime && z->first == rightTime) {
                const int64_t k = z->second - a->second;  // L + ka op R + kz  ⇔  L - R op kz - ka
                b = op == "<=" ? std::pair{k, true} : op == "<" ? std::pair{k - 1, true} : op == ">=" ? std::pair{k, false} : std::pair{k + 1, false};
              }
            }
          }
          if (!b) {
            kept.push_back(c);
            continue;
          }
          if (b->second) {
            iv.upper = hasUpper ? std::min(iv.upper, b->first) : b->first;
            hasUpper = true;
          } else {
            iv.lower = hasLower ? std::max(iv.lower, b->first) : b->first;
            hasLower = true;
          }
          intervalText += (intervalText.empty() ? "" : " AND ") + exprText(*c);
        }
        list = std::move(kept);
      };
      std::vector<ExprPtr> whereParts;
      if (inner) conjuncts(where, whereParts);
      const std::vector<ExprPtr> residualBefore = residual, outerBefore = outerConditions, whereBefore = whereParts;
      take(residual);
      take(outerConditions);
      take(whereParts);
      if (hasLower && hasUpper) {
        spec->interval = iv;
        if (inner) where = andOf(whereParts);
      } else {
        residual = residualBefore;
        outerConditions = outerBefore;
        intervalText.clear();
      }
    }
    if (!outerConditions.empty())
      return Status::notSupported("SQL: the condition " + exprText(*outerConditions[0]) + " at " + outerConditions[0]->pos.toString() +
                                  " in the ON of an outer join is not supported; an outer join takes equalities between its sides, and "
                                  "time bounds between their time attributes (an interval join)");
    if (spec->interval && spec->interval->lower > spec->interval->upper)
      return Status::invalidArgument(fmt::format("SQL: the time bounds of the join at {} ({}) admit no rows", j.pos.toString(), intervalText));
    if (spec->leftKeys.empty())
      return Status::notSupported("SQL: the join at " + j.pos.toString() +
                                  " has no equality between its sides (a cross join); this version joins on equal keys");
    REKA_RETURN_IF_ERROR(addFilter(left, leftFilters));
    REKA_RETURN_IF_ERROR(addFilter(right, rightFilters));
    if (!residual.empty()) where = where ? andOf({andOf(residual), where}) : andOf(residual);
    // A window join: both sides' window_end (after window aggregations) are equal keys.
    bool windowJoin = false;
    if (left.windowEnd >= 0 && right.windowEnd >= 0 && !left.updating && !right.updating) {
      for (size_t k = 0; k < spec->leftKeys.size(); ++k)
        if (spec->leftKeys[k] == left.windowEnd && spec->rightKeys[k] == right.windowEnd) spec->windowEndKey = static_cast<int>(k);
      windowJoin = spec->windowEndKey >= 0;
    }
    spec->left = std::make_shared<const Schema>(left.schema);
    spec->right = std::make_shared<const Schema>(right.schema);
    spec->output = std::make_shared<const Schema>(combined);
    static const char* kKinds[] = {"InnerJoin", "LeftOuterJoin", "RightOuterJoin", "FullOuterJoin"};
    PlannedQuery out;
    out.updating = left.updating || right.updating || (!inner && !spec->interval);
    auto joined = std::make_shared<PlannedJoin>();
    joined->text = std::string(spec->interval ? "Interval" : "") + kKinds[static_cast<int>(spec->kind)] + ": on=[" + keyText + "]" +
                   (windowJoin ? " window join" : "") +
                   (spec->interval ? fmt::format(" time=[{}] ({} ms <= left - right <= {} ms)", intervalText, spec->interval->lower, spec->interval->upper)
                                   : "");
    if (spec->interval) out.rowtime = spec->interval->leftTime;  // both time attributes stay; the left's is the row's
    if (windowJoin) {
      out.windowStart = left.windowStart;
      out.windowEnd = left.windowEnd;
    }
    joined->spec = spec;
    joined->left = std::move(left);
    joined->right = std::move(right);
    out.join = std::move(joined);
    out.schema = combined;
    out.parts = std::move(parts);
    return out;
  }

  /// `left` JOIN `right` FOR SYSTEM_TIME AS OF left's processing time: a lookup join. The table
  /// is read whole when the job starts (a bounded table); equalities between an expression of
  /// the left side and a column of the table are the keys (the expressions are computed by a
  /// Calc on the left); other conditions on the table filter it, the rest the joined rows.
  Result<PlannedQuery> planLookupJoin(PlannedQuery left, PlannedQuery right, const JoinClause& j) {
    const Expr& at = *j.right.systemTime;
    const int time = columnIndex(at, left);
    if (time < 0 || time != left.proctime)
      return Status::notSupported("SQL: FOR SYSTEM_TIME AS OF " + exprText(at) + " at " + at.pos.toString() +
                                  ": this version joins a table as of a processing time (a column that holds PROCTIME()); "
                                  "joins as of an event time (versioned tables) are not supported");
    if (j.kind != JoinClause::Kind::kInner && j.kind != JoinClause::Kind::kLeft)
      return Status::notSupported("SQL: the lookup join at " + j.pos.toString() + " must be a JOIN or a LEFT JOIN (as in Flink)");
    if (!j.on) return Status::invalidArgument("SQL: the lookup join at " + j.pos.toString() + " needs ON with the key equalities");
    const auto t = tables.find(right.sourceTable);
    if (right.sourceTable.empty() || right.join || right.unionAll || right.updating || t == tables.end() ||
        t->second.options.get("connector") != "filesystem" || t->second.options.has("source.monitor-interval"))
      return Status::notSupported("SQL: the lookup join at " + j.pos.toString() + " reads '" + j.right.table +
                                  "' whole when the job starts: it must be a bounded 'filesystem' table (without 'source.monitor-interval')");
    const size_t nl = left.schema.size();
    std::vector<Scope::Part> parts;
    const Schema combined = joinedSchema(left, right, parts);
    Scope joinedScope{&combined, "", "", &functions, parts};
    std::vector<ExprPtr> conditions, rightFilters, residual;
    conjuncts(j.on, conditions);
    std::vector<ExprPtr> keyExprs;
    auto spec = std::make_shared<JoinSpec>();
    spec->kind = j.kind == JoinClause::Kind::kLeft ? JoinSpec::Kind::kLeft : JoinSpec::Kind::kInner;
    spec->lookup = true;
    std::string keyText;
    Scope leftScope = scopeOf(left, left.schema);
    Stage keys;
    keys.label = "Calc";
    for (size_t c = 0; c < nl; ++c) {
      keys.projections.push_back(bindColumn(left.schema, c));
      keys.projectionText.push_back(left.schema.field(c).name);
    }
    std::vector<Field> leftFields = left.schema.fields();
    for (const ExprPtr& c : conditions) {
      if (auto bound = bind(*c, joinedScope); !bound.isOk()) return bound.status();
      const int sides = sidesOf(*c, combined, parts, nl);
      if (c->kind == Expr::Kind::kBinary && c->op == "=") {
        bool isKey = false;
        for (int r = 0; r < 2 && !isKey; ++r) {
          const Expr& col = *c->args[static_cast<size_t>(r)];
          const Expr& other = *c->args[static_cast<size_t>(1 - r)];
          const int rc = col.kind == Expr::Kind::kColumn ? resolveColumn(col, combined, parts) : -1;
          if (rc < static_cast<int>(nl) || sidesOf(other, combined, parts, nl) != 1) continue;
          const DataType& want = combined.field(static_cast<size_t>(rc)).type;
          REKA_ASSIGN_OR_RETURN(BoundPtr k, bind(other, leftScope));
          const auto family = [](TypeKind x) { return x == TypeKind::kInt || x == TypeKind::kBigint ? TypeKind::kBigint : x; };
          if (family(k->type.kind) != family(want.kind) || (want.kind == TypeKind::kDecimal && want.scale != k->type.scale))
            return Status::invalidArgument(fmt::format("SQL: the lookup key {} at {} compares {} with {}; CAST one side", exprText(*c),
                                                       c->pos.toString(), k->type.toString(), want.toString()));
          if (k->type.kind != want.kind) {
            // INT with BIGINT: the key is computed as the table's type (equal values, equal bytes).
            Expr cast;
            cast.kind = Expr::Kind::kCast;
            DataType ct = want;
            ct.nullable = true;
            cast.castType = ct;
            cast.args = {std::make_shared<Expr>(other)};
            REKA_ASSIGN_OR_RETURN(k, bind(cast, leftScope));
          }
          spec->leftKeys.push_back(static_cast<int>(leftFields.size()));
          spec->rightKeys.push_back(rc - static_cast<int>(nl));
          leftFields.push_back({"$k" + std::to_string(spec->rightKeys.size() - 1), k->type});
          keys.projections.push_back(std::move(k));
          keys.projectionText.push_back(exprText(other));
          keyText += (keyText.empty() ? "" : ", ") + exprText(*c);
          isKey = true;
        }
        if (isKey) continue;
      }
      if (sides == 2) {
        rightFilters.push_back(c);
      } else if (spec->kind == JoinSpec::Kind::kInner) {
        residual.push_back(c);
      } else {
        return Status::notSupported("SQL: the condition " + exprText(*c) + " at " + c->pos.toString() +
                                    " in the ON of a left lookup join is not supported; it takes key equalities and conditions on the table");
      }
    }
    if (spec->leftKeys.empty())
      return Status::invalidArgument("SQL: the lookup join at " + j.pos.toString() + " needs an equality between a column of '" + j.right.table +
                                     "' and an expression of the other side");
    REKA_RETURN_IF_ERROR(addFilter(right, rightFilters));
    keys.schema = Schema(leftFields);
    left.stages.push_back(std::move(keys));
    left.schema = Schema(leftFields);
    const size_t extra = left.schema.size() - nl;
    // The joined rows: the left columns, the keys, the table's columns (the keys have no name
    // a query can use).
    std::vector<Field> outFields;
    for (const auto& sc : {&left.schema, &right.schema})
      for (auto f : sc->fields()) {
        f.type.nullable = f.type.nullable || sc == &right.schema;
        outFields.push_back(f);
      }
    spec->left = std::make_shared<const Schema>(left.schema);
    spec->right = std::make_shared<const Schema>(right.schema);
    spec->output = std::make_shared<const Schema>(Schema(outFields));
    PlannedQuery out;
    out.updating = left.updating;
    out.proctime = left.proctime;
    out.rowtime = left.rowtime;
    out.schema = *spec->output;
    out.parts = left.parts;
    out.parts.push_back({"", "", nl, extra});
    for (auto part : right.parts) {
      part.offset += nl + extra;
      out.parts.push_back(part);
    }
    auto joined = std::make_shared<PlannedJoin>();
    joined->text = std::string(spec->kind == JoinSpec::Kind::kLeft ? "LookupLeftJoin" : "LookupJoin") + ": table=" + j.right.table + " on=[" + keyText +
                   "] as of=" + exprText(at);
    joined->spec = spec;
    joined->left = std::move(left);
    joined->right = std::move(right);
    out.join = std::move(joined);
    REKA_RETURN_IF_ERROR(addFilter(out, residual));
    return out;
  }

  /// `e` as a column of `schema` plus a constant: c, c + INTERVAL …, c - INTERVAL …
  static std::optional<std::pair<int, int64_t>> timeOperand(const Expr& e, const Schema& schema, const std::vector<Scope::Part>& parts) {
    if (e.kind == Expr::Kind::kColumn) {
      const int c = resolveColumn(e, schema, parts);
      if (c < 0) return std::nullopt;
      return std::pair{c, int64_t{0}};
    }
    if (e.kind == Expr::Kind::kBinary && (e.op == "+" || e.op == "-") && e.args[1]->kind == Expr::Kind::kInterval) {
      auto inner = timeOperand(*e.args[0], schema, parts);
      if (inner) inner->second += e.op == "+" ? e.args[1]->millis : -e.args[1]->millis;
      return inner;
    }
    if (e.kind == Expr::Kind::kBinary && e.op == "+" && e.args[0]->kind == Expr::Kind::kInterval) {
      auto inner = timeOperand(*e.args[1], schema, parts);
      if (inner) inner->second += e.args[0]->millis;
      return inner;
    }
    return std::nullopt;
  }

  /// Binds a select list into `st` (projections, their text, the schema); a list that passes
  /// every input column through unchanged gives no projections.
  static Status selectList(const std::vector<SelectItem>& items, const Scope& scope, const Schema& input, Stage& st) {
    std::vector<Field> fields;
    bool identity = true;
    for (size_t i = 0; i < items.size(); ++i) {
      const SelectItem& item = items[i];
      if (item.expr->kind == Expr::Kind::kStar) {
        // * (every column) or t.* (those of table or alias t), in order.
        size_t from = 0, count = input.size();
        if (!item.expr->qualifier.empty()) {
          auto part = std::find_if(scope.parts.begin(), scope.parts.end(),
                                   [&](const Scope::Part& x) { return x.alias == item.expr->qualifier || x.table == item.expr->qualifier; });
          if (part != scope.parts.end()) {
            from = part->offset;
            count = part->count;
          } else if (item.expr->qualifier != scope.table && item.expr->qualifier != scope.alias) {
            return Status::invalidArgument("SQL: " + item.expr->qualifier + ".* at " + item.expr->pos.toString() + ": no such table or alias");
          }
        }
        for (size_t c = from; c < from + count; ++c) {
          std::string name = input.field(c).name;
          for (int n = 0; std::any_of(fields.begin(), fields.end(), [&](const Field& f) { return f.name == name; }); ++n)
            name = input.field(c).name + std::to_string(n);
          identity = identity && c == fields.size();
          fields.push_back({name, input.field(c).type});
          st.projectionText.push_back(input.field(c).name);
          st.projections.push_back(bindColumn(input, c));
        }
        continue;
      }
      REKA_ASSIGN_OR_RETURN(BoundPtr b, bind(*item.expr, scope));
      std::string name = item.alias.empty() ? derivedName(*item.expr, i) : item.alias;
      // A name taken twice (B.dateTime, A.dateTime) gets a number, as Flink names it: dateTime0.
      for (int n = 0; std::any_of(fields.begin(), fields.end(), [&](const Field& f) { return f.name == name; }); ++n)
        name = (item.alias.empty() ? derivedName(*item.expr, i) : item.alias) + std::to_string(n);
      identity = identity && item.expr->kind == Expr::Kind::kColumn && item.expr->qualifier.empty() &&
                 input.indexOf(item.expr->name) == static_cast<int>(i) && item.alias.empty();
      fields.push_back({name, b->type});
      st.projectionText.push_back(exprText(*item.expr) + (item.alias.empty() ? "" : " AS " + item.alias));
      st.projections.push_back(std::move(b));
    }
    if (identity && fields.size() == input.size()) {
      st.projections.clear();
      st.projectionText.clear();
    }
    st.schema = Schema(std::move(fields));
    return Status::ok();
  }

  /// TUMBLE, HOP or CUMULATE over the rows planned so far.
  static Status planWindow(const WindowTvf& w, PlannedQuery& p) {
    if (p.updating)
      return Status::invalidArgument("SQL: " + w.function + " at " + w.pos.toString() + " reads an updating result; windows need an append-only input");
    const int time = p.schema.indexOf(w.timeColumn);
    if (time < 0)
      return Status::invalidArgument("SQL: DESCRIPTOR(" + w.timeColumn + ") at " + w.timePos.toString() + ": no such column; the columns are " +
                                     p.schema.toString());
    const DataType& tt = p.schema.field(static_cast<size_t>(time)).type;
    if (tt.kind != TypeKind::kTimestamp && tt.kind != TypeKind::kTimestampLtz)
      return Status::invalidArgument("SQL: DESCRIPTOR(" + w.timeColumn + ") at " + w.timePos.toString() + " must be a TIMESTAMP(3) time attribute, not " +
                                     tt.toString());
    auto spec = std::make_shared<WindowSpec>();
    spec->kind = w.function == "TUMBLE" ? WindowSpec::Kind::kTumble : w.function == "HOP" ? WindowSpec::Kind::kHop : WindowSpec::Kind::kCumulate;
    const bool processingTime = time == p.proctime;
    spec->timeColumn = time;
    spec->size = w.size;
    spec->step = w.step;
    spec->offset = w.offset;
    std::vector<Field> fields = p.schema.fields();
    for (const char* name : {"window_start", "window_end", "window_time"}) {
      if (p.schema.indexOf(name) >= 0)
        return Status::invalidArgument(std::string("SQL: ") + w.function + " at " + w.pos.toString() + ": the input already has a column " + name);
      DataType t = DataType::timestamp(3).notNull();
      t.kind = tt.kind;
      fields.push_back({name, t});
    }
    spec->output = std::make_shared<const Schema>(Schema(fields));
    Stage st;
    st.kind = Stage::Kind::kWindow;
    st.label = "Window";
    st.detailText = fmt::format("{}(time={}, {}={} ms{}{})", w.function, w.timeColumn, w.function == "CUMULATE" ? "step" : "slide", w.step,
                                w.function == "TUMBLE" ? "" : fmt::format(", size={} ms", w.size),
                                w.offset != 0 ? fmt::format(", offset={} ms", w.offset) : "");
    if (w.function == "TUMBLE") st.detailText = fmt::format("TUMBLE(time={}, size={} ms{})", w.timeColumn, w.size, w.offset != 0 ? fmt::format(", offset={} ms", w.offset) : "");
    st.schema = *spec->output;
    st.window = std::move(spec);
    if (processingTime) st.detailText += " on processing time";
    p.windowStart = static_cast<int>(p.schema.size());
    p.windowEnd = p.windowStart + 1;
    p.processingTimeWindow = processingTime;
    p.schema = st.schema;
    p.stages.push_back(std::move(st));
    return Status::ok();
  }

  /// The aggregate call `c` (the j-th of its query): its argument and FILTER are computed by
  /// `pre` (columns added to `preFields`).
  Result<AggregateCall> aggregateCall(const Expr& c, size_t j, const Scope& scope, bool updating, Stage& pre, std::vector<Field>& preFields) {
    AggregateCall call;
    call.distinct = c.distinct;
    if (const AggregateFunction* user = userAggregate(c.name)) {
      // A user aggregate: its arguments converted to its types (as for a scalar function).
      if (c.distinct || c.filter) return Status::notSupported("SQL: DISTINCT or FILTER on the user aggregate " + c.name + " at " + c.pos.toString() + " is not supported");
      if (c.args.size() != user->argTypes.size())
        return Status::invalidArgument(fmt::format("SQL: {} at {} takes {} arguments, not {}", c.name, c.pos.toString(), user->argTypes.size(), c.args.size()));
      if (updating && !user->retract)
        return Status::notSupported("SQL: the user aggregate " + c.name + " at " + c.pos.toString() + " reads an updating result, but it has no retract function");
      call.kind = AggregateCall::Kind::kUser;
      call.user = user;
      for (size_t a = 0; a < c.args.size(); ++a) {
        if (containsAggregate(*c.args[a])) return Status::invalidArgument("SQL: aggregates cannot nest (at " + c.args[a]->pos.toString() + ")");
        Expr cast;
        cast.kind = Expr::Kind::kCast;
        cast.castType = user->argTypes[a];
        cast.castType.nullable = true;
        cast.args = {c.args[a]};
        cast.pos = c.args[a]->pos;
        REKA_ASSIGN_OR_RETURN(BoundPtr arg, bind(cast, scope));
        call.argColumns.push_back(static_cast<int>(preFields.size()));
        preFields.push_back({"$a" + std::to_string(j) + "_" + std::to_string(a), arg->type});
        pre.projectionText.push_back(exprText(*c.args[a]));
        pre.projections.push_back(std::move(arg));
      }
      call.argColumn = call.argColumns.empty() ? -1 : call.argColumns[0];
      call.argType = user->argTypes.empty() ? DataType::bigint() : user->argTypes[0];
      call.resultType = user->resultType;
      call.resultType.nullable = true;
      return call;
    }
    const bool star = c.args.size() == 1 && c.args[0]->kind == Expr::Kind::kStar;
    if (c.name == "COUNT") {
      call.kind = star ? AggregateCall::Kind::kCountStar : AggregateCall::Kind::kCount;
      if (star && c.distinct) return Status::invalidArgument("SQL: COUNT(DISTINCT *) at " + c.pos.toString() + " is not valid; name a column");
    } else {
      if (star) return Status::invalidArgument("SQL: " + c.name + "(*) at " + c.pos.toString() + " is not valid; only COUNT takes *");
      call.kind = c.name == "SUM" ? AggregateCall::Kind::kSum : c.name == "AVG" ? AggregateCall::Kind::kAvg
                : c.name == "MIN" ? AggregateCall::Kind::kMin : AggregateCall::Kind::kMax;
    }
    if (c.args.size() != 1)
      return Status::invalidArgument(fmt::format("SQL: {} at {} takes one argument, not {}", c.name, c.pos.toString(), c.args.size()));
    for (const auto& a : c.args)
      if (containsAggregate(*a)) return Status::invalidArgument("SQL: aggregates cannot nest (at " + a->pos.toString() + ")");
    // An argument or filter written by several calls (COUNT(DISTINCT bidder) FILTER (WHERE
    // price < 10000), …) is one column of the Calc before the aggregation.
    const auto projectOnce = [&](const Expr& e, BoundPtr b, const std::string& name) {
      const std::string text = exprText(e);
      if (isDeterministic(e, scope.functions))
        for (size_t k = 0; k < pre.projectionText.size() && k < preFields.size(); ++k)
          if (pre.projectionText[k] == text && preFields[k].type == b->type && preFields[k].name.rfind("$", 0) == 0) return static_cast<int>(k);
      preFields.push_back({name, b->type});
      pre.projectionText.push_back(text);
      pre.projections.push_back(std::move(b));
      return static_cast<int>(preFields.size() - 1);
    };
    if (!star) {
      REKA_ASSIGN_OR_RETURN(BoundPtr arg, bind(*c.args[0], scope));
      call.argType = arg->type;
      call.argColumn = projectOnce(*c.args[0], std::move(arg), "$a" + std::to_string(j));
    } else {
      call.argType = DataType::bigint();
    }
    if (call.kind == AggregateCall::Kind::kMin || call.kind == AggregateCall::Kind::kMax) {
      call.distinct = false;  // MIN(DISTINCT x) is MIN(x)
      call.retractable = updating;
    }
    if (c.filter) {
      REKA_ASSIGN_OR_RETURN(BoundPtr f, bindCondition(*c.filter, scope, "FILTER (WHERE …)"));
      call.filterColumn = projectOnce(*c.filter, std::move(f), "$f" + std::to_string(j));
    }
    auto rt = aggregateResultType(call.kind, call.argType, c.name);
    if (!rt.isOk()) return Status::invalidArgument("SQL: " + rt.status().message() + " (at " + c.pos.toString() + ")");
    call.resultType = *rt;
    return call;
  }

  /// A select list with aggregates OVER (PARTITION BY … ORDER BY time [frame]): a Calc that
  /// computes the partition keys, the input's columns and the calls' arguments and filters; a
  /// keyed exchange and the OVER aggregation; a Calc for the select list.
  Result<PlannedQuery> planOver(const Query& q, const ExprPtr& where, PlannedQuery p) {
    if (!q.groupBy.empty() || q.distinct || q.having)
      return Status::notSupported("SQL: aggregates OVER a window with GROUP BY, DISTINCT or HAVING at " + q.pos.toString() + " are not supported");
    std::vector<const Expr*> calls;
    std::vector<std::string> callMatch;
    std::function<void(const Expr&)> collect = [&](const Expr& e) {
      if (isOverAggregate(e)) {
        const std::string m = exprText(e);
        if (std::find(callMatch.begin(), callMatch.end(), m) == callMatch.end()) {
          calls.push_back(&e);
          callMatch.push_back(m);
        }
        return;
      }
      for (const auto& a : e.args) collect(*a);
    };
    for (const auto& item : q.items) {
      if (item.expr->kind == Expr::Kind::kStar) continue;
      if (containsAggregate(*item.expr))
        return Status::invalidArgument("SQL: the aggregate at " + item.expr->pos.toString() + " has no OVER, but others in the select list do; "
                                       "a query either groups rows (GROUP BY) or aggregates OVER windows");
      collect(*item.expr);
    }
    // One window for every call, as Flink requires.
    const Expr::Over& w = *calls[0]->over;
    const auto windowText = [](const Expr::Over& o) {
      std::string t;
      for (const auto& e : o.partitionBy) t += exprText(*e) + ",";
      t += "|";
      for (size_t i = 0; i < o.orderBy.size(); ++i) t += exprText(*o.orderBy[i]) + (o.descending[i] ? " DESC," : ",");
      return t + fmt::format("|{}{}{}", o.hasFrame, o.rows, o.preceding);
    };
    for (const Expr* c : calls)
      if (windowText(*c->over) != windowText(w))
        return Status::notSupported("SQL: the OVER window at " + c->pos.toString() + " differs from the one at " + calls[0]->pos.toString() +
                                    "; all aggregates of a query must use the same window");
    if (p.updating) return Status::notSupported("SQL: OVER at " + calls[0]->pos.toString() + " reads an updating result; OVER aggregations need an append-only input (as in Flink)");
    const int order = w.orderBy.size() == 1 ? columnIndex(*w.orderBy[0], p) : -1;
    const bool eventTime = order >= 0 && order == p.rowtime, processingTime = order >= 0 && order == p.proctime;
    if ((!eventTime && !processingTime) || w.descending[0])
      return Status::invalidArgument("SQL: OVER at " + calls[0]->pos.toString() +
                                     " must be ORDER BY one time attribute, ascending: the column of the table's WATERMARK, or PROCTIME()" +
                                     (p.rowtime >= 0 ? " (here " + p.schema.field(static_cast<size_t>(p.rowtime)).name + ")" : std::string()));
    const Schema input = p.schema;
    Scope scope = scopeOf(p, input);
    Stage pre;
    pre.label = "Calc";
    if (where) {
      REKA_ASSIGN_OR_RETURN(pre.filter, bindCondition(*where, scope, "WHERE"));
      pre.filterText = exprText(*where);
    }
    std::vector<Field> preFields;
    auto spec = std::make_shared<OverSpec>();
    std::string partitionText;
    for (size_t k = 0; k < w.partitionBy.size(); ++k) {
      REKA_ASSIGN_OR_RETURN(BoundPtr b, bind(*w.partitionBy[k], scope));
      if (b->type.kind == TypeKind::kRow) return Status::notSupported("SQL: PARTITION BY a ROW value at " + w.partitionBy[k]->pos.toString() + " is not supported");
      preFields.push_back({"$p" + std::to_string(k), b->type});
      pre.projectionText.push_back(exprText(*w.partitionBy[k]));
      pre.projections.push_back(std::move(b));
      partitionText += (k > 0 ? ", " : "") + exprText(*w.partitionBy[k]);
    }
    spec->keyCount = preFields.size();
    for (size_t c = 0; c < input.size(); ++c) {
      preFields.push_back(input.field(c));
      pre.projectionText.push_back(input.field(c).name);
      pre.projections.push_back(bindColumn(input, c));
    }
    std::vector<Field> outFields;
    std::string callText;
    for (size_t j = 0; j < calls.size(); ++j) {
      REKA_ASSIGN_OR_RETURN(AggregateCall call, aggregateCall(*calls[j], j, scope, false, pre, preFields));
      outFields.push_back({"$over" + std::to_string(j), call.resultType});
      spec->calls.push_back(call);
      std::string t = calls[j]->name + "(" + (calls[j]->distinct ? "DISTINCT " : "");
      for (const auto& a : calls[j]->args) t += exprText(*a);
      callText += (j > 0 ? ", " : "") + t + ")";
    }
    pre.schema = Schema(preFields);
    spec->timeColumn = static_cast<int>(spec->keyCount) + order;
    spec->processingTime = processingTime;
    spec->rows = w.hasFrame && w.rows;
    spec->preceding = w.hasFrame ? w.preceding : -1;
    spec->input = std::make_shared<const Schema>(pre.schema);
    std::vector<Field> all = preFields;
    all.insert(all.end(), outFields.begin(), outFields.end());
    spec->output = std::make_shared<const Schema>(Schema(all));
    Stage agg;
    agg.kind = Stage::Kind::kOver;
    agg.label = "OverAggregate";
    const std::string frame = spec->preceding < 0 ? "UNBOUNDED PRECEDING"
                            : spec->rows ? fmt::format("{} PRECEDING", spec->preceding) : fmt::format("{} ms PRECEDING", spec->preceding);
    agg.detailText = fmt::format("partitionBy=[{}] orderBy=[{}{}] {} BETWEEN {} AND CURRENT ROW select=[{}]", partitionText, exprText(*w.orderBy[0]),
                                 processingTime ? " (processing time)" : "", spec->rows ? "ROWS" : "RANGE", frame, callText);
    agg.schema = *spec->output;
    agg.over = spec;
    p.stages.push_back(std::move(pre));
    p.stages.push_back(std::move(agg));
    // The select list over the input's columns (where they were, after the keys) and the results.
    PlannedQuery out;
    out.schema = *spec->output;
    for (auto part : p.parts) {
      part.offset += spec->keyCount;
      out.parts.push_back(part);
    }
    out.parts.push_back({"", "", spec->keyCount + input.size(), out.schema.size() - spec->keyCount - input.size()});
    if (p.rowtime >= 0) out.rowtime = p.rowtime + static_cast<int>(spec->keyCount);
    if (p.proctime >= 0) out.proctime = p.proctime + static_cast<int>(spec->keyCount);
    std::function<ExprPtr(const ExprPtr&)> rewrite = [&](const ExprPtr& e) -> ExprPtr {
      if (isOverAggregate(*e)) {
        const auto at = std::find(callMatch.begin(), callMatch.end(), exprText(*e)) - callMatch.begin();
        return columnExpr("$over" + std::to_string(at), e->pos);
      }
      if (e->args.empty()) return e;
      auto copy = std::make_shared<Expr>(*e);
      for (auto& a : copy->args) a = rewrite(a);
      return copy;
    };
    std::vector<SelectItem> items;
    for (size_t i = 0; i < q.items.size(); ++i) {
      const SelectItem& item = q.items[i];
      if (item.expr->kind == Expr::Kind::kStar && item.expr->qualifier.empty()) {
        // * is the input's columns (not the partition keys or results), each named by its part.
        for (const auto& part : p.parts)
          for (size_t c = part.offset; c < part.offset + part.count; ++c) {
            auto col = columnExpr(input.field(c).name, item.expr->pos);
            col->qualifier = part.alias.empty() ? part.table : part.alias;
            items.push_back({col, ""});
          }
        continue;
      }
      if (item.expr->kind == Expr::Kind::kStar) {
        items.push_back(item);
        continue;
      }
      items.push_back({rewrite(item.expr), item.alias.empty() ? derivedName(*item.expr, i) : item.alias});
    }
    Stage post;
    post.label = "Calc";
    Scope outScope{&out.schema, "", "", &functions, out.parts};
    REKA_RETURN_IF_ERROR(selectList(items, outScope, out.schema, post));
    for (size_t i = 0; i < post.projectionText.size() && items.size() == q.items.size(); ++i)
      if (q.items[i].expr->kind != Expr::Kind::kStar)
        post.projectionText[i] = exprText(*q.items[i].expr) + (q.items[i].alias.empty() ? "" : " AS " + q.items[i].alias);
    followWindow(out, items, p);
    p.schema = post.schema;
    p.parts = {{"", "", 0, p.schema.size()}};
    p.stages.push_back(std::move(post));
    return p;
  }

  /// GROUP BY (or SELECT DISTINCT, or aggregates without GROUP BY): a Calc that computes the
  /// keys, the aggregates' arguments and filters; a keyed exchange and the aggregation; a Calc
  /// for the select list and HAVING over the keys and the aggregates' results.
  Result<PlannedQuery> planAggregate(const Query& q, const ExprPtr& where, PlannedQuery p) {
    // Flink's group windows: GROUP BY …, TUMBLE(t, size) | HOP(t, slide, size) | SESSION(t, gap),
    // with TUMBLE_START(…), TUMBLE_END(…) … in the select list. TUMBLE and HOP become the windowing
    // function and GROUP BY window_start, window_end; SESSION a session window aggregation.
    std::vector<ExprPtr> groupBy;
    bool legacyWindow = false;
    int64_t sessionGap = 0;
    std::string sessionTime;
    for (const ExprPtr& g : q.groupBy) {
      if (g->kind != Expr::Kind::kCall || (g->name != "TUMBLE" && g->name != "HOP" && g->name != "SESSION")) {
        groupBy.push_back(g);
        continue;
      }
      if (legacyWindow) return Status::invalidArgument("SQL: GROUP BY at " + g->pos.toString() + " holds more than one window");
      legacyWindow = true;
      const size_t need = g->name == "HOP" ? 3 : 2;
      bool ok = g->args.size() == need && g->args[0]->kind == Expr::Kind::kColumn;
      for (size_t k = 1; ok && k < g->args.size(); ++k) ok = g->args[k]->kind == Expr::Kind::kInterval && g->args[k]->millis > 0;
      if (!ok)
        return Status::invalidArgument("SQL: " + g->name + " at " + g->pos.toString() + " takes (time column, " +
                                       (g->name == "HOP" ? "INTERVAL slide, INTERVAL size)" : g->name == "SESSION" ? "INTERVAL gap)" : "INTERVAL size)"));
      if (g->name == "SESSION") {
        if (p.updating) return Status::invalidArgument("SQL: SESSION at " + g->pos.toString() + " reads an updating result; windows need an append-only input");
        sessionGap = g->args[1]->millis;
        sessionTime = g->args[0]->name;
        continue;
      }
      WindowTvf w;
      w.function = g->name;
      w.pos = g->pos;
      w.timeColumn = g->args[0]->name;
      w.timePos = g->args[0]->pos;
      w.size = g->args.back()->millis;
      w.step = g->args[1]->millis;
      const size_t before = p.schema.size();
      REKA_RETURN_IF_ERROR(planWindow(w, p));
      if (p.parts.size() == 1) p.parts[0].count = p.schema.size();
      else p.parts.push_back({"", "", before, p.schema.size() - before});
      groupBy.push_back(columnExpr("window_start", g->pos));
      groupBy.push_back(columnExpr("window_end", g->pos));
    }
    const Schema input = p.schema;
    Scope scope = scopeOf(p, input);
    if (q.distinct) {
      if (!groupBy.empty()) return Status::notSupported("SQL: SELECT DISTINCT with GROUP BY at " + q.pos.toString() + " is not supported");
      for (const auto& item : q.items) {
        if (item.expr->kind == Expr::Kind::kStar) {
          for (const auto& f : input.fields()) groupBy.push_back(columnExpr(f.name, item.expr->pos));
        } else {
          if (containsAggregate(*item.expr)) return Status::notSupported("SQL: SELECT DISTINCT with aggregates at " + q.pos.toString() + " is not supported");
          groupBy.push_back(item.expr);
        }
      }
    }
    Stage pre;
    pre.label = "Calc";
    if (where) {
      REKA_ASSIGN_OR_RETURN(pre.filter, bindCondition(*where, scope, "WHERE"));
      pre.filterText = exprText(*where);
    }
    std::vector<Field> preFields;
    std::vector<std::string> keyMatch;
    auto spec = std::make_shared<AggregateSpec>();
    std::vector<Field> outFields;
    for (size_t k = 0; k < groupBy.size(); ++k) {
      const Expr& g = *groupBy[k];
      if (containsAggregate(g)) return Status::invalidArgument("SQL: GROUP BY at " + g.pos.toString() + " cannot hold an aggregate");
      REKA_ASSIGN_OR_RETURN(BoundPtr b, bind(g, scope));
      if (b->type.kind == TypeKind::kRow) return Status::notSupported("SQL: GROUP BY a ROW value at " + g.pos.toString() + " is not supported");
      std::string name = g.kind == Expr::Kind::kColumn ? g.name : "$g" + std::to_string(k);
      for (const auto& f : preFields)
        if (f.name == name) name = "$g" + std::to_string(k);
      preFields.push_back({name, b->type});
      outFields.push_back({name, b->type});
      keyMatch.push_back(matchText(g, q.from, q.alias));
      pre.projectionText.push_back(exprText(g));
      pre.projections.push_back(std::move(b));
    }
    spec->keyCount = groupBy.size();
    // The aggregate calls of the select list and HAVING, each once.
    std::vector<const Expr*> calls;
    std::vector<std::string> callMatch;
    std::function<Status(const Expr&)> collect = [&](const Expr& e) -> Status {
      if (isAggregateCall(e)) {
        const std::string m = matchText(e, q.from, q.alias);
        if (std::find(callMatch.begin(), callMatch.end(), m) == callMatch.end()) {
          calls.push_back(&e);
          callMatch.push_back(m);
        }
        return Status::ok();
      }
      for (const auto& a : e.args) REKA_RETURN_IF_ERROR(collect(*a));
      return Status::ok();
    };
    for (const auto& item : q.items)
      if (item.expr->kind != Expr::Kind::kStar) REKA_RETURN_IF_ERROR(collect(*item.expr));
    if (q.having) REKA_RETURN_IF_ERROR(collect(*q.having));
    std::vector<std::string> callText;
    for (size_t j = 0; j < calls.size(); ++j) {
      const Expr& c = *calls[j];
      REKA_ASSIGN_OR_RETURN(AggregateCall call, aggregateCall(c, j, scope, p.updating, pre, preFields));
      outFields.push_back({"$agg" + std::to_string(j), call.resultType});
      callText.push_back(exprText(c));
      spec->calls.push_back(call);
    }
    if (sessionGap > 0)
      for (const auto& call : spec->calls)
        if (call.kind == AggregateCall::Kind::kUser)
          return Status::notSupported("SQL: the user aggregate " + call.user->name + " cannot be used in a SESSION window (sessions merge their accumulators)");
    if (sessionGap > 0) {
      // The session's time, after the keys, arguments and filters; window_start and window_end
      // come after the keys in the output.
      REKA_ASSIGN_OR_RETURN(BoundPtr t, bind(*columnExpr(sessionTime, q.pos), scope));
      if (t->type.kind != TypeKind::kTimestamp && t->type.kind != TypeKind::kTimestampLtz)
        return Status::invalidArgument("SQL: SESSION(" + sessionTime + ", …) needs a TIMESTAMP(3) time attribute, not " + t->type.toString());
      spec->sessionGap = sessionGap;
      spec->sessionTimeColumn = static_cast<int>(preFields.size());
      preFields.push_back({"$t", t->type});
      pre.projectionText.push_back(sessionTime);
      pre.projections.push_back(t);
      DataType wt = t->type;
      wt.nullable = false;
      outFields.insert(outFields.begin() + static_cast<std::ptrdiff_t>(spec->keyCount), {{"window_start", wt}, {"window_end", wt}});
    }
    pre.schema = Schema(std::move(preFields));
    // A window aggregation groups by the window_start and window_end of a windowing function.
    // (window_start and window_end of a windowing function, however a subquery renamed them).
    int windowStart = -1;
    if (p.windowStart >= 0 && !p.updating) {
      for (size_t k = 0; k < groupBy.size(); ++k) {
        const int c = columnIndex(*groupBy[k], p);
        if (c == p.windowStart) windowStart = static_cast<int>(k);
        if (c == p.windowEnd) spec->windowEndKey = static_cast<int>(k);
      }
      if (windowStart < 0) spec->windowEndKey = -1;
    }
    spec->processingTime = spec->windowEndKey >= 0 && p.processingTimeWindow;
    spec->output = std::make_shared<const Schema>(Schema(outFields));
    Stage agg;
    agg.kind = Stage::Kind::kAggregate;
    agg.label = spec->sessionGap > 0 ? "SessionWindowAggregate" : spec->windowEndKey >= 0 ? "WindowAggregate" : "GroupAggregate";
    std::string keys, aggs;
    for (size_t k = 0; k < spec->keyCount; ++k) keys += (k > 0 ? ", " : "") + outFields[k].name;
    for (const auto& t : callText) aggs += (aggs.empty() ? "" : ", ") + t;
    agg.detailText = "groupBy=[" + keys + "]" + (spec->sessionGap > 0 ? fmt::format(" session=({}, gap={} ms)", sessionTime, sessionGap) : "") +
                     " select=[" + aggs + "]" +
                     (spec->processingTime ? " emit=window end (processing time)" : spec->windowEndKey >= 0 || spec->sessionGap > 0 ? " emit=window end" : " emit=updates");
    agg.schema = *spec->output;
    agg.aggregate = spec;
    const Schema aggOut = agg.schema;
    p.stages.push_back(std::move(pre));
    p.stages.push_back(std::move(agg));
    p.updating = p.updating || (spec->windowEndKey < 0 && spec->sessionGap == 0);
    // The select list and HAVING over the keys and the results.
    std::function<Result<ExprPtr>(const Expr&)> rewrite = [&](const Expr& e) -> Result<ExprPtr> {
      if (e.kind == Expr::Kind::kCall && legacyWindow) {
        // TUMBLE_START(t, size), HOP_END(t, slide, size), SESSION_ROWTIME(t, gap) …
        for (const char* fn : {"TUMBLE_", "HOP_", "SESSION_"}) {
          if (e.name.rfind(fn, 0) != 0) continue;
          const std::string part = e.name.substr(std::string(fn).size());
          if (part == "START") return columnExpr("window_start", e.pos);
          if (part == "END") return columnExpr("window_end", e.pos);
          if (part == "ROWTIME") {
            auto minus = std::make_shared<Expr>();
            minus->kind = Expr::Kind::kBinary;
            minus->op = "-";
            minus->pos = e.pos;
            auto ms = std::make_shared<Expr>();
            ms->kind = Expr::Kind::kInterval;
            ms->millis = 1;
            minus->args = {columnExpr("window_end", e.pos), ms};
            return minus;
          }
          return Status::notSupported("SQL: " + e.name + " at " + e.pos.toString() + " is not supported; accepted: " + fn + "START, " + fn + "END, " + fn + "ROWTIME");
        }
      }
      const std::string m = matchText(e, q.from, q.alias);
      for (size_t k = 0; k < keyMatch.size(); ++k)
        if (keyMatch[k] == m) return columnExpr(outFields[k].name, e.pos);
      if (isAggregateCall(e)) {
        const auto at = std::find(callMatch.begin(), callMatch.end(), m) - callMatch.begin();
        return columnExpr(outFields[spec->keyCount + (spec->sessionGap > 0 ? 2 : 0) + static_cast<size_t>(at)].name, e.pos);
      }
      if (e.kind == Expr::Kind::kColumn)
        return Status::invalidArgument("SQL: column '" + exprText(e) + "' at " + e.pos.toString() +
                                       " is neither in GROUP BY nor inside an aggregate; add it to GROUP BY or aggregate it (MIN, MAX …)");
      if (e.kind == Expr::Kind::kStar) return Status::invalidArgument("SQL: * at " + e.pos.toString() + " cannot be selected with GROUP BY");
      auto copy = std::make_shared<Expr>(e);
      for (auto& a : copy->args) {
        REKA_ASSIGN_OR_RETURN(a, rewrite(*a));
      }
      return copy;
    };
    Stage post;
    post.label = "Calc";
    Scope outScope{&aggOut, q.from, q.alias, &functions, {}};
    if (p.parts.size() > 1) outScope.table = outScope.alias = "";
    if (q.having) {
      REKA_ASSIGN_OR_RETURN(ExprPtr h, rewrite(*q.having));
      REKA_ASSIGN_OR_RETURN(post.filter, bindCondition(*h, outScope, "HAVING"));
      post.filterText = exprText(*q.having);
    }
    std::vector<SelectItem> items;
    for (size_t i = 0; i < q.items.size(); ++i) {
      const SelectItem& item = q.items[i];
      if (item.expr->kind == Expr::Kind::kStar) {
        for (size_t k = 0; k < spec->keyCount; ++k) items.push_back({columnExpr(outFields[k].name, item.expr->pos), ""});
        continue;
      }
      REKA_ASSIGN_OR_RETURN(ExprPtr e, rewrite(*item.expr));
      items.push_back({e, item.alias.empty() ? derivedName(*item.expr, i) : item.alias});
    }
    REKA_RETURN_IF_ERROR(selectList(items, outScope, aggOut, post));
    {
      // The window aggregation's window_start and window_end keys, where the select list puts them.
      PlannedQuery keyed;
      keyed.schema = aggOut;
      keyed.parts = {{"", "", 0, aggOut.size()}};
      if (spec->windowEndKey >= 0) {
        keyed.windowStart = windowStart;
        keyed.windowEnd = spec->windowEndKey;
      } else if (spec->sessionGap > 0) {
        keyed.windowStart = static_cast<int>(spec->keyCount);
        keyed.windowEnd = static_cast<int>(spec->keyCount) + 1;
      }
      // A window's row is given when the watermark reaches its end: window_end is its time.
      if (!spec->processingTime) keyed.rowtime = keyed.windowEnd;
      followWindow(keyed, items, p);
    }
    for (size_t i = 0; i < post.projectionText.size() && i < q.items.size(); ++i)
      if (q.items[i].expr->kind != Expr::Kind::kStar)
        post.projectionText[i] = exprText(*q.items[i].expr) + (q.items[i].alias.empty() ? "" : " AS " + q.items[i].alias);
    p.schema = post.schema;
    p.parts = {{"", "", 0, p.schema.size()}};
    if (!post.projections.empty() || post.filter) p.stages.push_back(std::move(post));
    return p;
  }

  Result<PlannedInsert> planInsert(const Insert& in) {
    auto t = tables.find(in.table);
    if (t == tables.end())
      return Status::invalidArgument("SQL: INSERT INTO '" + in.table + "' at " + in.pos.toString() + ": the table is not defined");
    if (t->second.computed)
      return Status::notSupported("SQL: INSERT INTO '" + in.table + "': writing a table with computed columns is not supported yet");
    if (t->second.writable.size() != t->second.physical.size())
      return Status::notSupported("SQL: INSERT INTO '" + in.table + "': writing a table with metadata columns is not supported; "
                                  "declare a table without them for writing");
    REKA_ASSIGN_OR_RETURN(PlannedQuery q, planQuery(in.query, 0));
    const Schema& sink = t->second.schema;
    if (q.updating && !connector::sinkAcceptsChangelog(t->second.options))
      return Status::invalidArgument(fmt::format(
          "SQL: INSERT INTO {} at {}: the query's result is updating (GROUP BY gives -U/+U rows), but the table ({}) writes inserts "
          "only; write it with format 'changelog-json' or 'debezium-json', connector 'upsert-kafka', or aggregate over a window",
          in.table, in.pos.toString(),
          t->second.options.has("format") ? "format '" + t->second.options.get("format") + "'" : "connector '" + t->second.options.get("connector") + "'"));
    if (q.schema.size() != sink.size())
      return Status::invalidArgument(fmt::format("SQL: INSERT INTO {} at {}: the query gives {} columns, the table has {} ({})", in.table,
                                                 in.pos.toString(), q.schema.size(), sink.size(), sink.toString()));
    // Columns go by position; a type that differs within its family is converted as CAST does.
    bool converts = false;
    for (size_t i = 0; i < sink.size(); ++i) {
      DataType want = sink.field(i).type, got = q.schema.field(i).type;
      want.nullable = got.nullable = true;
      if (!(want == got)) converts = true;
    }
    if (converts) {
      Stage st;
      st.label = "Convert";
      Scope scope{&q.schema, "", "", &functions, {}};
      for (size_t i = 0; i < sink.size(); ++i) {
        Expr col;
        col.kind = Expr::Kind::kColumn;
        col.name = q.schema.field(i).name;
        col.pos = in.pos;
        DataType want = sink.field(i).type, got = q.schema.field(i).type;
        want.nullable = got.nullable = true;
        if (want == got) {
          REKA_ASSIGN_OR_RETURN(BoundPtr b, bind(col, scope));
          st.projectionText.push_back(col.name);
          st.projections.push_back(std::move(b));
          continue;
        }
        // Implicit conversions stay within a family (numbers, times, strings), as in Flink.
        auto family = [](const DataType& x) {
          switch (x.kind) {
            case TypeKind::kInt:
            case TypeKind::kBigint:
            case TypeKind::kDouble:
            case TypeKind::kDecimal: return 0;
            case TypeKind::kTimestamp:
            case TypeKind::kTimestampLtz: return 1;
            case TypeKind::kString:
            case TypeKind::kBytes: return 2;
            default: return 3 + static_cast<int>(x.kind);
          }
        };
        if (family(want) != family(got))
          return Status::invalidArgument(fmt::format("SQL: INSERT INTO {}: column {} '{}' is {} but the query gives {}; convert it with CAST",
                                                     in.table, i + 1, sink.field(i).name, sink.field(i).type.toString(),
                                                     q.schema.field(i).type.toString()));
        Expr cast;
        cast.kind = Expr::Kind::kCast;
        cast.pos = in.pos;
        cast.castType = sink.field(i).type;
        cast.args = {std::make_shared<Expr>(col)};
        REKA_ASSIGN_OR_RETURN(BoundPtr b, bind(cast, scope));
        st.projectionText.push_back(exprText(cast));
        st.projections.push_back(std::move(b));
      }
      st.schema = sink;
      q.schema = sink;
      q.stages.push_back(std::move(st));
    }
    PlannedInsert p;
    p.table = in.table;
    p.pos = in.pos;
    p.query = std::move(q);
    return p;
  }
};

SqlScript::SqlScript(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqlScript::~SqlScript() = default;
SqlScript::SqlScript(SqlScript&&) noexcept = default;
SqlScript& SqlScript::operator=(SqlScript&&) noexcept = default;

Result<SqlScript> SqlScript::compile(std::string_view text) {
  REKA_ASSIGN_OR_RETURN(std::vector<Statement> statements, parseScript(text));
  auto impl = std::make_unique<Impl>();
  REKA_RETURN_IF_ERROR(impl->run(statements));
  return SqlScript(std::move(impl));
}

const std::map<std::string, std::string>& SqlScript::settings() const { return impl_->settings; }

namespace {

std::string describeOptions(const TableDef& t) {
  std::string s;
  for (const auto& [k, v] : t.options.values())
    if (k == "connector" || k == "format" || k == "topic" || k == "path" || k.rfind("metadata.", 0) == 0) s += (s.empty() ? "" : ", ") + k + "=" + v;
  return s;
}

/// The plan of `q` as lines, its last stage first, each input one level deeper.
/// What a stage does, as explain prints it: its kind, details, projections, filter, watermark.
std::string stageText(const Stage& st) {
  std::string line = st.label + ":";
  if (!st.detailText.empty()) line += " " + st.detailText;
  if (!st.projectionText.empty()) {
    line += " select=[";
    for (size_t k = 0; k < st.projectionText.size(); ++k) line += (k > 0 ? ", " : "") + st.projectionText[k];
    line += "]";
  }
  if (st.filter) line += " where=[" + st.filterText + "]";
  if (st.sharedValues > 0) line += " shared=" + std::to_string(st.sharedValues);
  if (st.watermarks) line += " watermark=" + st.watermarkText;
  return line;
}

void describe(const std::map<std::string, TableDef>& tables, const PlannedQuery& q, std::string indent, std::string& out) {
  for (auto st = q.stages.rbegin(); st != q.stages.rend(); ++st) {
    out += indent + stageText(*st) + "\n";
    indent = "   " + indent;
  }
  if (q.unionAll) {
    out += indent + "UnionAll\n";
    for (const auto& in : q.unionAll->inputs) describe(tables, in, "   " + indent, out);
    return;
  }
  if (q.join) {
    out += indent + q.join->text + "\n";
    describe(tables, q.join->left, "   " + indent, out);
    describe(tables, q.join->right, "   " + indent, out);
    return;
  }
  const TableDef& source = tables.at(q.sourceTable);
  out += fmt::format("{}Source: {} [{}] ({}){}\n", indent, source.name, describeOptions(source), source.physical.toString(),
                     source.watermarks ? " watermark=" + source.watermarkText : "");
}

/// The columns of rows of `from` as `to`'s types (a CAST where they differ).
Result<std::vector<BoundPtr>> convertColumns(const Schema& from, const Schema& to) {
  std::vector<BoundPtr> out;
  Scope scope{&from, "", "", nullptr, {}};
  for (size_t c = 0; c < from.size(); ++c) {
    DataType a = from.field(c).type, b = to.field(c).type;
    a.nullable = b.nullable = true;
    if (a == b) {
      out.push_back(bindColumn(from, c));
      continue;
    }
    Expr cast;
    cast.kind = Expr::Kind::kCast;
    cast.castType = b;
    cast.args = {columnExpr(from.field(c).name, Position{})};
    REKA_ASSIGN_OR_RETURN(BoundPtr bound, bind(cast, scope));
    out.push_back(std::move(bound));
  }
  return out;
}

/// What the script's settings change in how its plans are built.
struct BuildOptions {
  bool reuseSubPlans = true;   ///< table.optimizer.reuse-sub-plan-enabled
  size_t miniBatchSize = 0;    ///< table.exec.mini-batch.size when table.exec.mini-batch.enabled, else 0
};

/// The build options of `settings`, or an error naming a bad value and what is accepted.
Result<BuildOptions> buildOptions(const std::map<std::string, std::string>& settings) {
  BuildOptions o;
  const auto get = [&](const char* key) -> const std::string* {
    auto it = settings.find(key);
    return it == settings.end() ? nullptr : &it->second;
  };
  if (const std::string* v = get("table.optimizer.reuse-sub-plan-enabled")) {
    if (*v != "true" && *v != "false") return Status::invalidArgument("SQL: 'table.optimizer.reuse-sub-plan-enabled' = '" + *v + "': expected true or false");
    o.reuseSubPlans = *v == "true";
  }
  if (const std::string* v = get("table.exec.mini-batch.enabled")) {
    if (*v != "true" && *v != "false") return Status::invalidArgument("SQL: 'table.exec.mini-batch.enabled' = '" + *v + "': expected true or false");
    if (*v == "true") {
      // As in Flink, mini-batch needs both of its bounds.
      const std::string* latency = get("table.exec.mini-batch.allow-latency");
      const auto parsed = latency ? parseDuration(*latency) : std::nullopt;
      if (!parsed || parsed->count() <= 0)
        return Status::invalidArgument("SQL: 'table.exec.mini-batch.enabled' = 'true' needs 'table.exec.mini-batch.allow-latency' set to a duration above 0 (such as 2s)" +
                                       std::string(latency ? ", not '" + *latency + "'" : ""));
      const std::string* size = get("table.exec.mini-batch.size");
      int64_t rows = 0;
      if (size != nullptr) {
        auto [end, ec] = std::from_chars(size->data(), size->data() + size->size(), rows);
        if (ec != std::errc() || end != size->data() + size->size()) rows = 0;
      }
      if (rows <= 0)
        return Status::invalidArgument("SQL: 'table.exec.mini-batch.enabled' = 'true' needs 'table.exec.mini-batch.size' set to a number of rows above 0 (such as 50000)" +
                                       std::string(size ? ", not '" + *size + "'" : ""));
      o.miniBatchSize = static_cast<size_t>(rows);
    }
  }
  return o;
}

/// Adds the sources, joins and stages of `q` to `env`; `name` makes its operators' names (which
/// key their state) unique and stable for a given script.
Result<DataStream<Row>> build(StreamEnvironment& env, const std::map<std::string, TableDef>& tables, const PlannedQuery& q,
                              const std::string& name, std::map<std::string, DataStream<Row>>& sources, const BuildOptions& options) {
  std::optional<DataStream<Row>> rows;
  if (q.unionAll) {
    const auto schema = std::make_shared<const Schema>(q.schema);
    for (size_t k = 0; k < q.unionAll->inputs.size(); ++k) {
      REKA_ASSIGN_OR_RETURN(DataStream<Row> in, build(env, tables, q.unionAll->inputs[k], name + ".u" + std::to_string(k), sources, options));
      // The union's schema on every batch (names of the first query, nullable types, INT widened).
      REKA_ASSIGN_OR_RETURN(std::vector<BoundPtr> columns, convertColumns(q.unionAll->inputs[k].schema, *schema));
      in = in.transform<Row>("Calc", [schema, columns] { return std::make_unique<CalcOperator>(schema, columns, nullptr); }, "sql-calc");
      rows = rows ? rows->unionWith(in) : in;
    }
  } else if (q.join) {
    REKA_ASSIGN_OR_RETURN(DataStream<Row> left, build(env, tables, q.join->left, name + ".l", sources, options));
    REKA_ASSIGN_OR_RETURN(DataStream<Row> right, build(env, tables, q.join->right, name + ".r", sources, options));
    const auto& spec = q.join->spec;
    if (spec->lookup) {
      rows = left.transform2<Row>("LookupJoin " + name, right.broadcast(), makeJoinOperator(spec), BroadcastMode::kSideInputFirst);
    } else {
      rows = left.keyByColumns(spec->leftKeys).transform2<Row>("Join " + name, right.keyByColumns(spec->rightKeys), makeJoinOperator(spec));
    }
  } else {
    // A table read more than once in a job (two views of it, a self-join, several INSERTs) is
    // read by one source whose rows go to every reader, as Flink reuses sources.
    auto shared = sources.find(q.sourceTable);
    if (shared == sources.end()) {
      const TableDef& source = tables.at(q.sourceTable);
      REKA_ASSIGN_OR_RETURN(DataStream<Row> read, connector::readTable(env, source.name, source.physical, source.options, source.watermarks));
      shared = sources.emplace(q.sourceTable, read).first;
    }
    rows = shared->second;
  }
  // Sub-plan reuse (Flink's table.optimizer.reuse-sub-plan-enabled): a table's rows through the
  // same stages are computed once and go to every reader, as the table itself is read once. q5
  // counts bids per auction and window once for both sides of its join. Only pipelines from a
  // table, up to the first stage whose text may not say all it does (MATCH_RECOGNIZE).
  std::string reuseKey = !options.reuseSubPlans || q.unionAll || q.join ? std::string() : "stages of " + q.sourceTable;
  for (size_t k = 0; k < q.stages.size(); ++k) {
    const Stage& st = q.stages[k];
    if (!reuseKey.empty() && st.kind != Stage::Kind::kMatch) {
      reuseKey += "\n" + stageText(st) + " -> " + st.schema.toString();
      if (auto done = sources.find(reuseKey); done != sources.end()) {
        rows = done->second;
        continue;
      }
    } else {
      reuseKey.clear();
    }
    switch (st.kind) {
      case Stage::Kind::kCalc: {
        auto schema = std::make_shared<const Schema>(st.schema);
        auto projections = st.projections;
        auto filter = st.filter;
        const bool shares = st.sharedValues > 0;
        rows = rows->transform<Row>(st.label, [schema, projections, filter, shares] {
          return std::make_unique<CalcOperator>(schema, projections, filter, shares);
        }, "sql-calc");
        break;
      }
      case Stage::Kind::kWindow: rows = rows->transform<Row>(st.label, makeWindowOperator(st.window), "sql-window"); break;
      case Stage::Kind::kRank:
        rows = rows->keyByColumns(st.rank->partitionColumns).transform<Row>(fmt::format("{} {}.{}", st.label, name, k), makeRankOperator(st.rank), "sql-rank");
        break;
      case Stage::Kind::kOver: {
        std::vector<int> keys;
        for (size_t c = 0; c < st.over->keyCount; ++c) keys.push_back(static_cast<int>(c));
        rows = rows->keyByColumns(std::move(keys)).transform<Row>(fmt::format("{} {}.{}", st.label, name, k), makeOverOperator(st.over), "sql-over-aggregate");
        break;
      }
      case Stage::Kind::kAggregate: {
        std::vector<int> keys;
        for (size_t c = 0; c < st.aggregate->keyCount; ++c) keys.push_back(static_cast<int>(c));
        auto spec = st.aggregate;
        if (options.miniBatchSize > 0 && spec->windowEndKey < 0 && spec->sessionGap <= 0) {
          auto batched = std::make_shared<AggregateSpec>(*spec);
          batched->miniBatchSize = options.miniBatchSize;
          spec = std::move(batched);
        }
        rows = rows->keyByColumns(std::move(keys)).transform<Row>(fmt::format("{} {}.{}", st.label, name, k), makeAggregateOperator(spec), "sql-aggregate");
        break;
      }
      case Stage::Kind::kMatch: rows = buildMatchRecognize(*rows, st.match, fmt::format("{}.{}", name, k)); break;
    }
    if (st.watermarks) rows = rows->assignTimestampsAndWatermarks(*st.watermarks);
    if (!reuseKey.empty()) sources.emplace(reuseKey, *rows);
  }
  return *rows;
}

}  // namespace

std::string SqlScript::explain() const {
  std::string out;
  for (const PlannedInsert& p : impl_->inserts) {
    const TableDef& sink = impl_->tables.at(p.table);
    out += fmt::format("== INSERT INTO {} ({}) ==\n", p.table, p.pos.toString());
    out += fmt::format("Sink: {} [{}] ({})\n", p.table, describeOptions(sink), sink.schema.toString());
    describe(impl_->tables, p.query, "+- ", out);
  }
  // The job graph those INSERTs make (one job) and its physical plan: what runs, in how many
  // subtasks, chained into which tasks, with which partitioning between them.
  ExecutionConfig config;
  if (auto p = impl_->settings.find("parallelism.default"); p != impl_->settings.end()) config.parallelism = std::atoi(p->second.c_str());
  StreamEnvironment env(config);
  out += fmt::format("== Physical plan (parallelism.default {}) ==\n", config.parallelism);
  if (Status added = addTo(env); !added.isOk()) return out + "(not planned: " + added.message() + ")\n";
  auto plan = graph::planJob(env.jobGraph(), graph::PlanOptions{config.parallelism, config.maxParallelism, config.chaining});
  if (!plan.isOk()) return out + "(not planned: " + plan.status().message() + ")\n";
  return out + graph::describePlan(env.jobGraph(), *plan);
}

Status SqlScript::addTo(StreamEnvironment& env) const {
  std::map<std::string, DataStream<Row>> sources;
  REKA_ASSIGN_OR_RETURN(const BuildOptions options, buildOptions(impl_->settings));
  for (const PlannedInsert& p : impl_->inserts) {
    REKA_ASSIGN_OR_RETURN(DataStream<Row> rows, build(env, impl_->tables, p.query, p.table, sources, options));
    const TableDef& sink = impl_->tables.at(p.table);
    REKA_RETURN_IF_ERROR(connector::writeTable(rows, p.table, sink.physical, sink.options));
  }
  return Status::ok();
}

Result<std::unique_ptr<JobClient>> executeSql(StreamEnvironment& env, std::string_view text) {
  REKA_ASSIGN_OR_RETURN(SqlScript script, SqlScript::compile(text));
  const auto& settings = script.settings();
  if (auto p = settings.find("parallelism.default"); p != settings.end() && env.config().parallelism == ExecutionConfig{}.parallelism) {
    int parallelism = 0;
    auto [end, ec] = std::from_chars(p->second.data(), p->second.data() + p->second.size(), parallelism);
    if (ec != std::errc() || end != p->second.data() + p->second.size() || parallelism <= 0)
      return Status::invalidArgument("SQL: SET 'parallelism.default' = '" + p->second + "': expected a positive integer");
    env.config().parallelism = parallelism;
  }
  if (auto c = settings.find("execution.checkpointing.interval"); c != settings.end() && env.config().checkpoints.interval.count() == 0) {
    auto ms = parseDuration(c->second);
    if (!ms) return Status::invalidArgument("SQL: SET 'execution.checkpointing.interval' = '" + c->second + "': expected a duration such as 10s");
    env.config().checkpoints.interval = *ms;  // takes effect with a state directory (checkpoints.stateDir)
  }
  REKA_RETURN_IF_ERROR(script.addTo(env));
  return env.executeAsync();
}

}  // namespace reka::sql
