// MATCH_RECOGNIZE onto the CEP rule operator: the pattern as a JSON rule (strict contiguity
// between variables and inside loops, greedy quantifiers unless reluctant, as Flink translates
// them), rows as JSON events, matches as rows.
#include "sql/MatchRecognize.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "reka/cep/RuleStream.h"
#include "connectors/format/JsonWriter.h"

namespace reka::sql {
namespace {

using Json = nlohmann::ordered_json;

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Status error(const Position& pos, const std::string& message) {
  return Status::invalidArgument("SQL: MATCH_RECOGNIZE at " + pos.toString() + ": " + message);
}

/// The column a plain reference (possibly qualified by a pattern variable) names, or -1.
int columnOf(const Expr& e, const Schema& input) {
  if (e.kind != Expr::Kind::kColumn) return -1;
  return input.indexOf(e.name);
}

bool isIntegralType(const DataType& t) { return t.kind == TypeKind::kInt || t.kind == TypeKind::kBigint || t.kind == TypeKind::kBoolean; }

/// The type of a measure, from the types of the columns it reads. Integers stay BIGINT under
/// + - * %; a division and AVG give DOUBLE; DECIMAL columns are read as DOUBLE.
Result<DataType> measureType(const Expr& e, const Schema& input) {
  auto numeric = [](DataType t) { return t.kind == TypeKind::kDecimal ? DataType::float64() : t; };
  switch (e.kind) {
    case Expr::Kind::kLiteral:
      if (e.isNull) return DataType::string();
      if (e.literalType.kind == TypeKind::kDecimal) return DataType::float64();
      if (e.literalType.kind == TypeKind::kInt) return DataType::bigint();
      return e.literalType.kind == TypeKind::kTimestamp ? DataType::bigint() : e.literalType;
    case Expr::Kind::kInterval: return DataType::bigint();
    case Expr::Kind::kColumn: {
      const int c = columnOf(e, input);
      if (c < 0) return error(e.pos, "column '" + e.name + "' is not a column of the input");
      const DataType& t = input.field(static_cast<size_t>(c)).type;
      if (t.kind == TypeKind::kRow || t.kind == TypeKind::kBytes) return error(e.pos, "column '" + e.name + "' (" + t.toString() + ") cannot be measured");
      return numeric(t.kind == TypeKind::kInt ? DataType::bigint() : t);
    }
    case Expr::Kind::kUnary:
      if (e.op == "NOT") return DataType::boolean();
      return measureType(*e.args[0], input);
    case Expr::Kind::kBinary: {
      if (e.op == "AND" || e.op == "OR" || e.op == "=" || e.op == "<>" || e.op == "<" || e.op == "<=" || e.op == ">" || e.op == ">=")
        return DataType::boolean();
      REKA_ASSIGN_OR_RETURN(DataType a, measureType(*e.args[0], input));
      REKA_ASSIGN_OR_RETURN(DataType b, measureType(*e.args[1], input));
      if (e.op == "/") return DataType::float64();
      const bool integral = (a.isIntegral()) && (b.isIntegral());
      return integral ? DataType::bigint() : DataType::float64();
    }
    case Expr::Kind::kIsNull: return DataType::boolean();
    case Expr::Kind::kCase: return measureType(*e.args[1], input);
    case Expr::Kind::kCast: return e.castType.kind == TypeKind::kInt ? DataType::bigint() : numeric(e.castType);
    case Expr::Kind::kCall: {
      const std::string n = upper(e.name);
      if (n == "COUNT") return DataType::bigint();
      if (n == "MATCH_ROWTIME") return DataType::timestamp(3);
      if (n == "CLASSIFIER") return DataType::string();
      if (n == "AVG" || n == "DISTANCE_KM") return DataType::float64();
      if (n == "LIKE") return DataType::boolean();
      if (e.args.empty()) return error(e.pos, n + " needs an argument");
      REKA_ASSIGN_OR_RETURN(DataType a, measureType(*e.args[0], input));
      if (n == "SUM") return isIntegralType(a) || a.kind == TypeKind::kTimestamp ? DataType::bigint() : DataType::float64();
      return a;  // FIRST, LAST, MIN, MAX, ABS, COALESCE
    }
    default: return error(e.pos, "this expression cannot be a measure");
  }
}

std::string quoted(const std::string& name) { return "`" + name + "`"; }

/// Rows to events: the row's columns as a JSON object, its time and its partition key.
class RowsToEvents final : public reka::detail::EmittingOperator<cep::Event> {
 public:
  explicit RowsToEvents(std::shared_ptr<const MatchSpec> spec) : reka::detail::EmittingOperator<cep::Event>(nullptr), spec_(std::move(spec)) {}
  void processBatch(int, Batch& batch) override {
    const auto& in = static_cast<RowBatch&>(batch);
    const Schema& schema = in.schema();
    for (size_t r = 0; r < in.size(); ++r) {
      json_.clear();
      key_.clear();
      connector::JsonRowWriter w(json_);
      w.begin();
      for (size_t c = 0; c < schema.size(); ++c) write(w, in, c, r);
      w.end(false);
      connector::JsonRowWriter k(key_);
      k.begin();
      for (int c : spec_->partitionColumns) write(k, in, static_cast<size_t>(c), r);
      k.end(false);
      int64_t ts = 0;
      if (!spec_->processingTime) {
        const Column& t = in.columns[static_cast<size_t>(spec_->timeColumn)];
        ts = t.isNull(r) ? INT64_MIN : t.ints[r];  // a null time is behind every watermark: late
      }
      auto e = cep::Event::parse(json_, ts, key_);
      if (!e.isOk()) throw std::runtime_error("MATCH_RECOGNIZE: a row did not convert: " + e.status().message());
      emitter_.emit(std::move(e.value()));
    }
    emitter_.flushEmitted(&batch);
  }

 private:
  static void write(connector::JsonRowWriter& w, const RowBatch& in, size_t c, size_t r) {
    const Field& f = in.schema().field(c);
    const Column& col = in.columns[c];
    if (col.isNull(r)) {
      w.fieldNull(f.name);
      return;
    }
    switch (f.type.kind) {
      case TypeKind::kBoolean: w.fieldBool(f.name, col.ints[r] != 0); break;
      case TypeKind::kInt:
      case TypeKind::kBigint:
      case TypeKind::kTimestamp:
      case TypeKind::kTimestampLtz: w.field(f.name, col.ints[r]); break;
      case TypeKind::kDouble: w.fieldDouble(f.name, col.doubles[r]); break;
      case TypeKind::kDecimal: w.fieldDouble(f.name, static_cast<double>(col.decimals[r]) / std::pow(10.0, f.type.scale)); break;
      case TypeKind::kString: w.field(f.name, col.strings[r]); break;
      default: w.fieldNull(f.name); break;  // BYTES, ROW: not readable by conditions
    }
  }
  Emitter<cep::Event>& emitterRef() override { return emitter_; }
  std::shared_ptr<const MatchSpec> spec_;
  Emitter<cep::Event> emitter_;
  std::string json_, key_;
};

/// Matches to rows: the alert's measures (the partition columns among them) in the output's
/// types.
class AlertsToRows final : public Operator {
 public:
  explicit AlertsToRows(std::shared_ptr<const MatchSpec> spec) : spec_(std::move(spec)), out_(spec_->output) {}
  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    return Status::ok();
  }
  void processBatch(int, Batch& batch) override {
    const auto& in = static_cast<RecordBatch<cep::Alert>&>(batch);
    out_.setSchema(spec_->output);
    for (const cep::Alert& a : in.records) {
      auto alert = cep::Event::parse(a.json);
      if (!alert.isOk()) throw std::runtime_error("MATCH_RECOGNIZE: " + alert.status().message());
      auto measures = cep::Event::parse(alert.value().get("measures").s);
      if (!measures.isOk()) throw std::runtime_error("MATCH_RECOGNIZE: " + measures.status().message());
      const size_t row = out_.appendRow();
      const Schema& schema = *spec_->output;
      for (size_t c = 0; c < schema.size(); ++c) set(out_, out_.columns[c], schema.field(c).type, row, measures.value().get(schema.field(c).name));
    }
    if (out_.size() == 0) return;
    ctx_->metrics->recordsOut.fetch_add(static_cast<int64_t>(out_.size()), std::memory_order_relaxed);
    ctx_->outputs[0]->push(out_);
    out_.setSchema(spec_->output);
  }

 private:
  static void set(RowBatch& b, Column& col, const DataType& t, size_t row, const cep::Value& v) {
    using K = cep::Value::Kind;
    if (v.isNull()) return RowBatch::setNull(col, row);
    switch (t.kind) {
      case TypeKind::kBoolean:
        if (v.kind == K::kBool) return RowBatch::setInt(col, row, v.b ? 1 : 0);
        break;
      case TypeKind::kInt:
      case TypeKind::kBigint:
      case TypeKind::kTimestamp:
      case TypeKind::kTimestampLtz:
        if (v.kind == K::kInt) return RowBatch::setInt(col, row, v.i);
        if (v.kind == K::kDouble && std::isfinite(v.d) && std::fabs(v.d) < 9.2e18) return RowBatch::setInt(col, row, static_cast<int64_t>(v.d));
        break;
      case TypeKind::kDouble:
        if (v.isNumber()) return RowBatch::setDouble(col, row, v.asDouble());
        break;
      case TypeKind::kString:
        if (v.kind == K::kString || v.kind == K::kJson) return b.setString(col, row, v.s);
        if (v.kind == K::kInt) return b.setString(col, row, std::to_string(v.i));
        break;
      default: break;
    }
    RowBatch::setNull(col, row);  // a value of another type (a CASE mixing types): null
  }
  std::shared_ptr<const MatchSpec> spec_;
  OperatorContext* ctx_ = nullptr;
  RowBatch out_;
};

}  // namespace

Result<std::shared_ptr<const MatchSpec>> planMatchRecognize(const MatchRecognize& m, const Schema& input, int rowtime, int proctime) {
  auto spec = std::make_shared<MatchSpec>();
  spec->input = std::make_shared<const Schema>(input);
  std::vector<Field> out;
  for (const ExprPtr& p : m.partitionBy) {
    const int c = columnOf(*p, input);
    if (c < 0 || !p->qualifier.empty()) return error(p->pos, "PARTITION BY takes columns of the input");
    spec->partitionColumns.push_back(c);
    out.push_back(input.field(static_cast<size_t>(c)));
  }
  const int order = m.orderBy ? columnOf(*m.orderBy, input) : -1;
  if (order < 0 || m.descending || (order != rowtime && order != proctime))
    return error(m.orderBy ? m.orderBy->pos : m.pos,
                 "needs ORDER BY one time attribute, ascending: the column of the table's WATERMARK, or PROCTIME()" +
                     (rowtime >= 0 ? " (here " + input.field(static_cast<size_t>(rowtime)).name + ")" : std::string()));
  spec->timeColumn = order;
  spec->processingTime = order == proctime;

  std::vector<std::string> variables;
  for (const auto& t : m.pattern) {
    if (std::find(variables.begin(), variables.end(), t.variable) != variables.end())
      return error(t.pos, "the pattern variable " + t.variable + " appears twice");
    variables.push_back(t.variable);
  }
  std::map<std::string, const MatchRecognize::Define*> defines;
  for (const auto& d : m.defines) {
    if (std::find(variables.begin(), variables.end(), d.variable) == variables.end())
      return error(d.pos, "DEFINE " + d.variable + ": not a variable of the PATTERN");
    if (!defines.emplace(d.variable, &d).second) return error(d.pos, "DEFINE " + d.variable + " appears twice");
  }
  Json steps = Json::array();
  for (size_t i = 0; i < m.pattern.size(); ++i) {
    const auto& t = m.pattern[i];
    Json s = {{"name", t.variable}};
    if (auto d = defines.find(t.variable); d != defines.end()) s["where"] = d->second->text;
    if (i > 0) s["contiguity"] = "strict";
    const bool loop = t.max == -1 || t.max > 1;
    if (t.min == 0 && t.max == 1) {
      if (t.reluctant) return error(t.pos, "a reluctant optional quantifier (\?\?) is not supported (as in Flink); write ?");
      s["optional"] = true;
    } else if (t.max == -1) {
      if (t.min <= 1) {
        s["oneOrMore"] = true;
        if (t.min == 0) s["optional"] = true;
      } else {
        s["timesOrMore"] = t.min;
      }
    } else if (t.quantified && (t.min != 1 || t.max != 1)) {
      s["times"] = t.min == t.max ? Json(t.min) : Json::array({t.min, t.max});
    }
    if (loop) {
      s["loop"] = "strict";
      if (!t.reluctant) {
        if (i + 1 == m.pattern.size())
          return error(t.pos, "a greedy quantifier cannot end the pattern (as in Flink): make it reluctant (" + t.variable +
                                  "+?) or add a variable after it");
        if (t.min != t.max) s["greedy"] = true;
      }
    }
    steps.push_back(std::move(s));
  }
  Json rule = {{"id", "match_recognize"}, {"pattern", steps}};
  if (m.withinMs > 0) rule["within"] = m.withinMs;
  switch (m.skip) {
    case MatchRecognize::Skip::kPastLastRow: rule["skip"] = "skip-past-last-event"; break;
    case MatchRecognize::Skip::kToNextRow: rule["skip"] = "skip-to-next"; break;
    case MatchRecognize::Skip::kToFirst: rule["skip"] = {{"skip-to-first", m.skipVariable}}; break;
    case MatchRecognize::Skip::kToLast: rule["skip"] = {{"skip-to-last", m.skipVariable}}; break;
  }
  Json emit = Json::object();
  for (int c : spec->partitionColumns) emit[input.field(static_cast<size_t>(c)).name] = quoted(input.field(static_cast<size_t>(c)).name);
  for (const auto& x : m.measures) {
    for (const Field& f : out)
      if (f.name == x.name) return error(x.pos, "the measure " + x.name + " has the name of another output column");
    REKA_ASSIGN_OR_RETURN(DataType t, measureType(*x.expr, input));
    if (x.expr->kind == Expr::Kind::kCall && upper(x.expr->name) == "MATCH_ROWTIME") {
      if (spec->processingTime)
        return error(x.pos, "MATCH_ROWTIME() needs ORDER BY the event-time attribute (the column of the table's WATERMARK), not PROCTIME()");
      if (spec->rowtimeColumn < 0) spec->rowtimeColumn = static_cast<int>(out.size());
    }
    out.push_back({x.name, t});
    emit[x.name] = x.text;
  }
  rule["emit"] = emit;
  spec->ruleJson = rule.dump();
  spec->output = std::make_shared<const Schema>(Schema(out));
  // Compiled once now, so that a mistake is reported when the script is planned.
  cep::RuleSpec r;
  r.id = "match_recognize";
  r.json = spec->ruleJson;
  if (auto compiled = cep::compileRule(r); !compiled.isOk()) {
    std::string msg = compiled.status().message();
    if (msg.rfind("rule 'match_recognize'", 0) == 0) msg = msg.substr(std::string("rule 'match_recognize'").size() + 2);
    return error(m.pos, msg);
  }
  std::string pattern;
  for (const auto& t : m.pattern) pattern += (pattern.empty() ? "" : " ") + t.variable;
  spec->detail = fmt::format("pattern=[{}], {}", pattern, spec->ruleJson);
  return std::shared_ptr<const MatchSpec>(std::move(spec));
}

DataStream<Row> buildMatchRecognize(const DataStream<Row>& rows, std::shared_ptr<const MatchSpec> spec, const std::string& name) {
  auto events = rows.transform<cep::Event>("MatchRecognize rows " + name, [spec] { return std::make_unique<RowsToEvents>(spec); });
  cep::RuleUpdate u;
  u.complete = true;
  u.rules.push_back({"match_recognize", 1, true, spec->ruleJson});
  auto rules = rows.env()->fromCollection("MatchRecognize rule " + name, std::vector<cep::RuleUpdate>{u});
  cep::RuleOptions o;
  o.processingTime = spec->processingTime;
  auto alerts = cep::applyRules(events, rules, "MatchRecognize " + name, o);
  return alerts.transform<Row>("MatchRecognize rows out " + name, [spec] { return std::make_unique<AlertsToRows>(spec); });
}

}  // namespace reka::sql
