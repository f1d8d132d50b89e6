// JSON rules: the document parsed with nlohmann::json, each rule compiled to a Pattern<Event>
// whose conditions are rule expressions, and alerts written with JsonRowWriter.
#include "reka/cep/Rules.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <charconv>
#include <optional>

#include "cep/rules/RuleExpression.h"
#include "reka/cep/Nfa.h"
#include "connectors/format/JsonWriter.h"

namespace reka::cep {
namespace {

using Json = nlohmann::ordered_json;

std::string describe(const Json& j) {
  std::string s = j.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

/// One rule object of a document → its spec (id, version, enabled) or a removal.
Status readSpec(const Json& j, const std::string& where, RuleUpdate& out) {
  if (!j.is_object()) return Status::invalidArgument(where + ": a rule must be a JSON object, got " + describe(j));
  auto id = j.find("id");
  if (id == j.end() || !id->is_string() || id->get<std::string>().empty())
    return Status::invalidArgument(where + ": a rule needs \"id\", a non-empty string");
  const std::string name = id->get<std::string>();
  if (auto r = j.find("removed"); r != j.end()) {
    if (!r->is_boolean()) return Status::invalidArgument(where + " (rule '" + name + "'): \"removed\" must be true or false");
    if (r->get<bool>()) {
      out.removed.push_back(name);
      return Status::ok();
    }
  }
  RuleSpec spec;
  spec.id = name;
  if (auto v = j.find("version"); v != j.end()) {
    if (!v->is_number_integer() || v->get<int64_t>() < 0)
      return Status::invalidArgument(where + " (rule '" + name + "'): \"version\" must be a non-negative integer");
    spec.version = v->get<int64_t>();
  }
  if (auto e = j.find("enabled"); e != j.end()) {
    if (!e->is_boolean()) return Status::invalidArgument(where + " (rule '" + name + "'): \"enabled\" must be true or false");
    spec.enabled = e->get<bool>();
  }
  spec.json = j.dump();
  for (const auto& r : out.rules)
    if (r.id == name) return Status::invalidArgument(where + ": rule id '" + name + "' appears twice");
  out.rules.push_back(std::move(spec));
  return Status::ok();
}

/// "10 minutes", "30 s", "1h", "500 ms", or a number of milliseconds.
Result<int64_t> duration(const Json& j, const std::string& what) {
  if (j.is_number_integer() && j.get<int64_t>() > 0) return j.get<int64_t>();
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    // A plain decimal number (no sign, exponent or hex), then a unit.
    size_t used = 0;
    while (used < s.size() && ((s[used] >= '0' && s[used] <= '9') || s[used] == '.')) ++used;
    double n = 0;
    if (used > 0) {
      auto [p, ec] = std::from_chars(s.data(), s.data() + used, n);
      if (ec != std::errc() || p != s.data() + used) used = 0;
    }
    std::string unit = s.substr(used);
    unit.erase(0, unit.find_first_not_of(' '));
    static const std::vector<std::pair<std::vector<std::string>, int64_t>> kUnits = {
        {{"ms", "millisecond", "milliseconds"}, 1},
        {{"s", "sec", "second", "seconds"}, 1000},
        {{"m", "min", "minute", "minutes"}, 60'000},
        {{"h", "hour", "hours"}, 3'600'000},
        {{"d", "day", "days"}, 86'400'000}};
    if (used > 0 && n > 0) {
      for (const auto& [names, ms] : kUnits) {
        if (std::find(names.begin(), names.end(), unit) == names.end()) continue;
        const double total = n * static_cast<double>(ms);
        if (total >= 1 && total < 9e18) return static_cast<int64_t>(std::llround(total));
        return Status::invalidArgument(what + " " + describe(j) + " is out of range (from 1 ms to about 290 million years)");
      }
    }
  }
  return Status::invalidArgument(what + " must be a positive number of milliseconds or a string such as \"10 minutes\" (units: ms, s, min, h, d), got " +
                                 describe(j));
}

struct Measure {
  std::string name;
  rules::Expression expr;
};

class JsonRule final : public CompiledRule {
 public:
  const RuleSpec& spec() const override { return spec_; }
  const Pattern<Event>& pattern() const override { return *pattern_; }
  const std::shared_ptr<const Nfa<Event>>& nfa() const override { return nfa_; }
  bool emitsTimeouts() const override { return emitTimeouts_; }
  Status writeAlert(const Match<Event>& m, std::string_view key, bool timedOut, std::string& out) const override {
    connector::JsonRowWriter w(out);
    w.begin();
    w.field("rule", spec_.id);
    w.field("version", spec_.version);
    w.field("key", key);
    w.field("start", m.startTimestamp());
    w.field("end", m.timestamp());
    if (timedOut) w.fieldBool("timeout", true);
    if (!measures_.empty()) {
      w.beginObject("measures");
      rules::EvalContext ctx;
      ctx.match = &m;
      for (const Measure& x : measures_) {
        const Value v = x.expr.evaluate(ctx);
        switch (v.kind) {
          case Value::Kind::kNull: w.fieldNull(x.name); break;
          case Value::Kind::kBool: w.fieldBool(x.name, v.b); break;
          case Value::Kind::kInt: w.field(x.name, v.i); break;
          case Value::Kind::kDouble: w.fieldDouble(x.name, v.d); break;
          case Value::Kind::kString: w.field(x.name, v.s); break;
          case Value::Kind::kJson: w.fieldRaw(x.name, v.s); break;
        }
      }
      w.endObject();
    }
    if (emitEvents_) {
      w.beginObject("events");
      for (const auto& entry : m.entries()) {
        std::string list = "[";
        for (size_t i = 0; i < entry.events.size(); ++i) {
          if (i > 0) list += ',';
          list += entry.events[i].json();
        }
        list += ']';
        w.fieldRaw(entry.name, list);
      }
      w.endObject();
    }
    w.end(false);
    return Status::ok();
  }

  static Result<std::shared_ptr<const CompiledRule>> compile(const RuleSpec& spec);

 private:
  RuleSpec spec_;
  std::optional<Pattern<Event>> pattern_;
  std::shared_ptr<const Nfa<Event>> nfa_;
  std::vector<Measure> measures_;
  bool emitEvents_ = true;
  bool emitTimeouts_ = false;
};

Status checkKeys(const Json& j, const std::vector<std::string>& accepted, const std::string& where) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(accepted.begin(), accepted.end(), it.key()) != accepted.end()) continue;
    std::string list;
    for (const auto& a : accepted) list += (list.empty() ? "" : ", ") + a;
    return Status::invalidArgument(where + ": unknown key \"" + it.key() + "\"; accepted: " + list);
  }
  return Status::ok();
}

Result<std::string> stringField(const Json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) return std::string();
  if (!it->is_string()) return Status::invalidArgument(where + ": \"" + key + "\" must be a string, got " + describe(*it));
  return it->get<std::string>();
}

Result<bool> boolField(const Json& j, const char* key, const std::string& where, bool fallback = false) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_boolean()) return Status::invalidArgument(where + ": \"" + key + "\" must be true or false, got " + describe(*it));
  return it->get<bool>();
}

Result<Condition<Event>> condition(const std::string& text, const std::string& step, const std::vector<std::string>& steps,
                                   const std::string& where) {
  auto compiled = rules::Expression::compile(text, steps, false);
  if (!compiled.isOk()) return Status::invalidArgument(where + ": " + compiled.status().message());
  auto e = std::make_shared<rules::Expression>(std::move(compiled.value()));
  return Condition<Event>([e, step](const Event& ev, const ConditionContext<Event>& c) {
    rules::EvalContext ctx;
    ctx.current = &ev;
    ctx.currentStep = step;
    ctx.partial = &c;
    return e->holds(ctx);
  });
}

Result<std::shared_ptr<const CompiledRule>> JsonRule::compile(const RuleSpec& spec) {
  Json j;
  try {
    j = Json::parse(spec.json);
  } catch (const std::exception& e) {
    return Status::invalidArgument("rule '" + spec.id + "': malformed JSON: " + e.what());
  }
  const std::string rule = "rule '" + spec.id + "'";
  REKA_RETURN_IF_ERROR(checkKeys(j, {"id", "version", "enabled", "description", "pattern", "within", "skip", "emit", "emitEvents", "emitTimeouts"}, rule));
  auto steps = j.find("pattern");
  if (steps == j.end() || !steps->is_array() || steps->empty())
    return Status::invalidArgument(rule + ": \"pattern\" must be a non-empty array of steps");
  std::vector<std::string> names;
  for (size_t i = 0; i < steps->size(); ++i) {
    const Json& s = (*steps)[i];
    const std::string where = rule + ", step " + std::to_string(i + 1);
    if (!s.is_object()) return Status::invalidArgument(where + ": a step must be a JSON object");
    auto n = s.find("name");
    if (n == s.end() || !n->is_string() || n->get<std::string>().empty())
      return Status::invalidArgument(where + ": a step needs \"name\", a non-empty string");
    if (std::find(names.begin(), names.end(), n->get<std::string>()) != names.end())
      return Status::invalidArgument(where + ": the step name '" + n->get<std::string>() + "' is used twice");
    names.push_back(n->get<std::string>());
  }

  auto out = std::make_shared<JsonRule>();
  out->spec_ = spec;
  AfterMatchSkipStrategy skip = AfterMatchSkipStrategy::noSkip();
  if (auto s = j.find("skip"); s != j.end()) {
    const std::string accepted = "accepted: \"no-skip\", \"skip-to-next\", \"skip-past-last-event\", {\"skip-to-first\": step}, {\"skip-to-last\": step}";
    if (s->is_string()) {
      const std::string v = s->get<std::string>();
      if (v == "no-skip") skip = AfterMatchSkipStrategy::noSkip();
      else if (v == "skip-to-next") skip = AfterMatchSkipStrategy::skipToNext();
      else if (v == "skip-past-last-event") skip = AfterMatchSkipStrategy::skipPastLastEvent();
      else return Status::invalidArgument(rule + ": unknown \"skip\" \"" + v + "\"; " + accepted);
    } else if (s->is_object() && s->size() == 1 && s->begin().value().is_string()) {
      const std::string kind = s->begin().key(), step = s->begin().value().get<std::string>();
      if (std::find(names.begin(), names.end(), step) == names.end())
        return Status::invalidArgument(rule + ": \"skip\" names '" + step + "', which is not a step of this rule");
      if (kind == "skip-to-first") skip = AfterMatchSkipStrategy::skipToFirst(step);
      else if (kind == "skip-to-last") skip = AfterMatchSkipStrategy::skipToLast(step);
      else return Status::invalidArgument(rule + ": unknown \"skip\" " + describe(*s) + "; " + accepted);
    } else {
      return Status::invalidArgument(rule + ": \"skip\" " + describe(*s) + " is not a skip strategy; " + accepted);
    }
  }

  std::optional<Pattern<Event>> p;
  for (size_t i = 0; i < steps->size(); ++i) {
    const Json& s = (*steps)[i];
    const std::string& name = names[i];
    const std::string where = rule + ", step '" + name + "'";
    REKA_RETURN_IF_ERROR(checkKeys(s, {"name", "where", "contiguity", "negated", "times", "timesOrMore", "oneOrMore", "optional", "greedy",
                                       "loop", "until"},
                                   where));
    REKA_ASSIGN_OR_RETURN(std::string contiguity, stringField(s, "contiguity", where));
    REKA_ASSIGN_OR_RETURN(bool negated, boolField(s, "negated", where));
    if (i == 0) {
      if (!contiguity.empty()) return Status::invalidArgument(where + ": the first step has no \"contiguity\" (nothing comes before it)");
      if (negated) return Status::invalidArgument(where + ": a rule cannot begin with a negated step");
      p = Pattern<Event>::begin(name, skip);
    } else {
      if (contiguity.empty()) contiguity = "relaxed";
      if (contiguity != "strict" && contiguity != "relaxed" && contiguity != "any")
        return Status::invalidArgument(where + ": unknown \"contiguity\" \"" + contiguity + "\"; accepted: \"strict\" (next), \"relaxed\" (followedBy), \"any\" (followedByAny)");
      if (negated) {
        if (contiguity == "any") return Status::invalidArgument(where + ": a negated step is \"strict\" (notNext) or \"relaxed\" (notFollowedBy)");
        if (i + 1 == steps->size() && (contiguity == "strict" || !j.contains("within")))
          return Status::invalidArgument(where + ": a rule can end with a negated step only when it is \"relaxed\" (notFollowedBy) and the rule has "
                                                 "\"within\": the match is emitted when that time has passed without the step");
        p = contiguity == "strict" ? p->notNext(name) : p->notFollowedBy(name);
      } else {
        p = contiguity == "strict" ? p->next(name) : contiguity == "relaxed" ? p->followedBy(name) : p->followedByAny(name);
      }
    }
    REKA_ASSIGN_OR_RETURN(std::string whereText, stringField(s, "where", where));
    if (!whereText.empty()) {
      REKA_ASSIGN_OR_RETURN(Condition<Event> c, condition(whereText, name, names, where + ", \"where\""));
      p = p->where(std::move(c));
    }
    int quantifiers = 0;
    if (auto t = s.find("times"); t != s.end()) {
      ++quantifiers;
      if (t->is_number_integer() && t->get<int64_t>() >= 1 && t->get<int64_t>() <= 100000) {
        p = p->times(static_cast<int>(t->get<int64_t>()));
      } else if (t->is_array() && t->size() == 2 && (*t)[0].is_number_integer() && (*t)[1].is_number_integer() && (*t)[0].get<int64_t>() >= 0 &&
                 (*t)[0].get<int64_t>() <= (*t)[1].get<int64_t>() && (*t)[1].get<int64_t>() >= 1 && (*t)[1].get<int64_t>() <= 100000) {
        p = p->times(static_cast<int>((*t)[0].get<int64_t>()), static_cast<int>((*t)[1].get<int64_t>()));
      } else {
        return Status::invalidArgument(where + ": \"times\" must be n (1..100000) or [from, to] with 0 <= from <= to, got " + describe(*t));
      }
    }
    if (auto t = s.find("timesOrMore"); t != s.end()) {
      ++quantifiers;
      if (!t->is_number_integer() || t->get<int64_t>() < 1 || t->get<int64_t>() > 100000)
        return Status::invalidArgument(where + ": \"timesOrMore\" must be an integer from 1 to 100000, got " + describe(*t));
      p = p->timesOrMore(static_cast<int>(t->get<int64_t>()));
    }
    REKA_ASSIGN_OR_RETURN(bool oneOrMore, boolField(s, "oneOrMore", where));
    if (oneOrMore) {
      ++quantifiers;
      p = p->oneOrMore();
    }
    if (quantifiers > 1) return Status::invalidArgument(where + ": use one of \"times\", \"timesOrMore\" and \"oneOrMore\"");
    if (negated && quantifiers > 0) return Status::invalidArgument(where + ": a negated step cannot have a quantifier");
    REKA_ASSIGN_OR_RETURN(bool optional, boolField(s, "optional", where));
    if (optional) p = p->optional();
    REKA_ASSIGN_OR_RETURN(bool greedy, boolField(s, "greedy", where));
    if (greedy) p = p->greedy();
    REKA_ASSIGN_OR_RETURN(std::string loop, stringField(s, "loop", where));
    if (!loop.empty()) {
      if (quantifiers == 0) return Status::invalidArgument(where + ": \"loop\" applies only to a step with \"times\", \"timesOrMore\" or \"oneOrMore\"");
      if (loop == "strict") p = p->consecutive();
      else if (loop == "any") p = p->allowCombinations();
      else if (loop != "relaxed")
        return Status::invalidArgument(where + ": unknown \"loop\" \"" + loop + "\"; accepted: \"strict\" (consecutive), \"relaxed\" (the default), \"any\" (allowCombinations)");
    }
    REKA_ASSIGN_OR_RETURN(std::string until, stringField(s, "until", where));
    if (!until.empty()) {
      if (quantifiers == 0 || s.contains("times")) return Status::invalidArgument(where + ": \"until\" applies only to \"oneOrMore\" or \"timesOrMore\"");
      REKA_ASSIGN_OR_RETURN(Condition<Event> c, condition(until, name, names, where + ", \"until\""));
      p = p->until(std::move(c));
    }
  }
  if (auto w = j.find("within"); w != j.end()) {
    REKA_ASSIGN_OR_RETURN(int64_t ms, duration(*w, rule + ": \"within\""));
    p = p->within(ms);
  }
  // The pattern's own checks (a misuse the JSON allows, e.g. greedy on a single step).
  auto nfa = Nfa<Event>::compile(*p);
  if (!nfa.isOk()) return Status::invalidArgument(rule + ": " + nfa.status().message());
  out->nfa_ = std::move(nfa.value());
  out->pattern_ = std::move(p);
  if (auto e = j.find("emit"); e != j.end()) {
    if (!e->is_object()) return Status::invalidArgument(rule + ": \"emit\" must be an object of name: expression");
    for (auto it = e->begin(); it != e->end(); ++it) {
      if (!it.value().is_string()) return Status::invalidArgument(rule + ": \"emit\"." + it.key() + " must be an expression (a string)");
      auto x = rules::Expression::compile(it.value().get<std::string>(), names, true);
      if (!x.isOk()) return Status::invalidArgument(rule + ": \"emit\"." + it.key() + ": " + x.status().message());
      out->measures_.push_back({it.key(), std::move(x.value())});
    }
  }
  REKA_ASSIGN_OR_RETURN(out->emitEvents_, boolField(j, "emitEvents", rule, out->measures_.empty()));
  REKA_ASSIGN_OR_RETURN(out->emitTimeouts_, boolField(j, "emitTimeouts", rule));
  return std::shared_ptr<const CompiledRule>(std::move(out));
}

}  // namespace

Result<RuleUpdate> parseRuleDocument(std::string_view text, bool complete) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte-order mark
  RuleUpdate u;
  u.complete = complete;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return u;  // an empty document: no rules
  if (text[first] == '[' || text.find('\n', first) == std::string_view::npos || text[first] == '{') {
    // One JSON value: an array, {"rules": [...]}, or one rule. Else JSON lines (below).
    Json j;
    bool whole = true;
    try {
      j = Json::parse(text);
    } catch (const Json::exception& e) {  // a syntax error, or a number out of range (406)
      if (text[first] != '{') return Status::invalidArgument(std::string("malformed JSON: ") + e.what());
      whole = false;  // several objects, one per line
    }
    if (whole) {
      if (j.is_array()) {
        for (size_t i = 0; i < j.size(); ++i) REKA_RETURN_IF_ERROR(readSpec(j[i], "rule " + std::to_string(i + 1), u));
        return u;
      }
      if (j.is_object() && j.contains("rules") && !j.contains("pattern")) {
        if (!j["rules"].is_array()) return Status::invalidArgument("\"rules\" must be an array of rules");
        for (size_t i = 0; i < j["rules"].size(); ++i) REKA_RETURN_IF_ERROR(readSpec(j["rules"][i], "rule " + std::to_string(i + 1), u));
        return u;
      }
      REKA_RETURN_IF_ERROR(readSpec(j, "rule 1", u));
      return u;
    }
  }
  size_t line = 0, pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    ++line;
    pos = end + 1;
    if (l.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    Json j;
    try {
      j = Json::parse(l);
    } catch (const Json::exception& e) {
      return Status::invalidArgument("line " + std::to_string(line) + ": malformed JSON: " + e.what());
    }
    REKA_RETURN_IF_ERROR(readSpec(j, "line " + std::to_string(line), u));
  }
  return u;
}

Result<std::shared_ptr<const CompiledRule>> compileRule(const RuleSpec& spec) { return JsonRule::compile(spec); }

}  // namespace reka::cep
