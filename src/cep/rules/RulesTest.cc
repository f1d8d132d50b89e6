// Rules as data: JSON events, rule expressions, rule documents, the JSON rule format and its
// errors, and rules run on the NFA against matches worked out by hand (and, for one rule, against
// the same pattern written with the C++ API).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cep/rules/RuleExpression.h"
#include "reka/cep/Event.h"
#include "reka/cep/Nfa.h"
#include "reka/cep/Rules.h"

namespace reka::cep {
namespace {

/// Whether `e` can start a match of `rule` (its compiled automaton's start state).
bool canStart(const std::shared_ptr<const CompiledRule>& rule, const Event& e) {
  auto nfa = Nfa<Event>::compile(rule->pattern());
  EXPECT_TRUE(nfa.isOk());
  return nfa.isOk() && nfa.value()->canStart(e, 0);
}


using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using V = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// Helpers

Event parsed(std::string_view json) {
  auto e = Event::parse(json);
  EXPECT_TRUE(e.isOk()) << json << ": " << e.status().message();
  return e.isOk() ? e.value() : Event();
}

/// A value as text, kind first ("int:3", "double:3.5", "string:x", "null").
std::string show(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNull: return "null";
    case Value::Kind::kBool: return v.b ? "true" : "false";
    case Value::Kind::kInt: return "int:" + std::to_string(v.i);
    case Value::Kind::kDouble: {
      char buf[48];
      std::snprintf(buf, sizeof buf, "double:%.15g", v.d);
      return buf;
    }
    case Value::Kind::kString: return "string:" + std::string(v.s);
    case Value::Kind::kJson: return "json:" + std::string(v.s);
  }
  return "?";
}

/// A partial match for conditions: the events each step has accepted.
class FakeContext final : public ConditionContext<Event> {
 public:
  const std::vector<const Event*>& eventsForPattern(std::string_view name) const override {
    auto it = byStep.find(name);
    return it == byStep.end() ? none_ : it->second;
  }
  int64_t timestamp() const override { return 0; }
  int64_t currentProcessingTime() const override { return 0; }

  std::map<std::string, std::vector<const Event*>, std::less<>> byStep;

 private:
  std::vector<const Event*> none_;
};

/// Compiles and evaluates expressions of a rule with steps a, b and c.
class ExpressionTester {
 public:
  ExpressionTester& accept(const std::string& step, std::string_view json) {
    accepted_[step].push_back(parsed(json));
    return *this;
  }
  /// The value of `text` on the event `current` tested by the condition of `step`.
  std::string eval(std::string_view text, std::string_view current = "{}", std::string_view step = "a") const {
    auto e = rules::Expression::compile(text, kSteps, false);
    EXPECT_TRUE(e.isOk()) << text << ": " << e.status().message();
    if (!e.isOk()) return "compile error";
    const Event event = parsed(current);
    FakeContext partial;
    for (const auto& [name, events] : accepted_)
      for (const Event& x : events) partial.byStep[name].push_back(&x);
    rules::EvalContext ctx;
    ctx.current = &event;
    ctx.currentStep = step;
    ctx.partial = &partial;
    const std::string shown = show(e->evaluate(ctx));
    EXPECT_EQ(e->holds(ctx), shown == "true") << text;
    return shown;
  }
  double number(std::string_view text, std::string_view current = "{}") const {
    const std::string v = eval(text, current);
    EXPECT_EQ(v.rfind("double:", 0), 0u) << text << " gave " << v;
    return v.rfind("double:", 0) == 0 ? std::stod(v.substr(7)) : -1;
  }
  std::string error(std::string_view text) const {
    auto e = rules::Expression::compile(text, kSteps, false);
    EXPECT_FALSE(e.isOk()) << text << " compiled";
    return e.isOk() ? "" : e.status().message();
  }

  inline static const std::vector<std::string> kSteps = {"a", "b", "c"};

 private:
  std::map<std::string, std::vector<Event>> accepted_;
};

/// Reads JSON lines with time field "ts" and key field `key` (none if empty).
std::vector<Event> readEvents(const std::vector<std::string>& lines, const std::string& key = "") {
  EventReader reader("ts", key);
  std::vector<Event> out;
  for (const auto& l : lines) {
    auto e = reader.read(l);
    EXPECT_TRUE(e.isOk()) << l << ": " << e.status().message();
    if (e.isOk()) out.push_back(e.value());
  }
  return out;
}

/// Events named as in the NFA's tests ("a1 c b2"): kind is the first letter, ts 1, 2, 3, …
std::vector<Event> kinds(std::string_view names) {
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < names.size()) {
    size_t end = names.find(' ', at);
    if (end == std::string_view::npos) end = names.size();
    if (end > at) {
      const std::string id(names.substr(at, end - at));
      lines.push_back(R"({"id":")" + id + R"(","kind":")" + id.substr(0, 1) + R"(","ts":)" + std::to_string(lines.size() + 1) + "}");
    }
    at = end + 1;
  }
  return readEvents(lines);
}

/// Runs `p` over `input` (one key, ts = the event's time) as the rule operator does, then times
/// out everything; returns the matches and fills `timedOut`.
std::vector<Match<Event>> runMatches(const Pattern<Event>& p, const std::vector<Event>& input, std::vector<Match<Event>>* timedOut = nullptr) {
  auto compiled = Nfa<Event>::compile(p);
  EXPECT_TRUE(compiled.isOk()) << compiled.status().message();
  if (!compiled.isOk()) return {};
  const Nfa<Event>& nfa = *compiled.value();
  auto s = nfa.initialState();
  std::vector<Match<Event>> matches, timeouts;
  for (const Event& e : input) {
    EXPECT_TRUE(nfa.advanceTime(s, e.timestamp(), matches, &timeouts).isOk());
    EXPECT_TRUE(nfa.process(s, e, e.timestamp(), matches).isOk());
  }
  EXPECT_TRUE(nfa.advanceTime(s, INT64_MAX, matches, &timeouts).isOk());
  if (timedOut != nullptr) *timedOut = std::move(timeouts);
  return matches;
}

/// Each match as the ids of its events in match order ("a1 b2"), or with `steps` as
/// "a:a1 b:b2"; sorted.
V describe(const std::vector<Match<Event>>& ms, bool steps = false) {
  V out;
  for (const auto& m : ms) {
    std::string s;
    if (steps) {
      for (const auto& entry : m.entries())
        for (const Event& e : entry.events) s += (s.empty() ? "" : " ") + entry.name + ":" + std::string(e.get("id").s);
    } else {
      for (const Event* e : m.events()) s += (s.empty() ? "" : " ") + std::string(e->get("id").s);
    }
    out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

V run(const Pattern<Event>& p, const std::vector<Event>& input, V* timedOut = nullptr) {
  std::vector<Match<Event>> timeouts;
  V out = describe(runMatches(p, input, &timeouts));
  if (timedOut != nullptr) *timedOut = describe(timeouts);
  return out;
}

/// Compiles the one rule of `document`.
std::shared_ptr<const CompiledRule> rule(std::string_view document) {
  auto doc = parseRuleDocument(document, false);
  EXPECT_TRUE(doc.isOk()) << doc.status().message();
  if (!doc.isOk() || doc->rules.size() != 1) return nullptr;
  auto r = compileRule(doc->rules[0]);
  EXPECT_TRUE(r.isOk()) << r.status().message();
  return r.isOk() ? r.value() : nullptr;
}

/// The rule {"pattern": steps, …rest} with id "r".
std::shared_ptr<const CompiledRule> ruleOf(const std::string& steps, const std::string& rest = "") {
  return rule(R"({"id":"r","pattern":)" + steps + (rest.empty() ? "" : ",") + rest + "}");
}

/// The error of compiling `json` as rule "r".
std::string compileError(std::string_view json) {
  RuleSpec spec;
  spec.id = "r";
  spec.json = std::string(json);
  auto r = compileRule(spec);
  EXPECT_FALSE(r.isOk()) << json << " compiled";
  return r.isOk() ? "" : r.status().message();
}

std::string parseError(std::string_view document) {
  auto doc = parseRuleDocument(document, false);
  EXPECT_FALSE(doc.isOk()) << document << " parsed";
  return doc.isOk() ? "" : doc.status().message();
}

// ---------------------------------------------------------------------------------------------
// Events

TEST(EventTest, FieldsKeepTheirJsonTypesAndOrder) {
  const std::string json =
      R"({"i": 42, "neg": -7, "d": 2.5, "e": 1e3, "s": "a\"b\nc\u00e9", "t": true, "f": false, "n": null,)"
      R"( "o": {"x": [1, 2], "y": "z"}, "arr": [1, {"y": 2}]})";
  const Event e = parsed(json);
  EXPECT_EQ(e.json(), json);
  const V names = {"i", "neg", "d", "e", "s", "t", "f", "n", "o", "arr"};
  const V values = {"int:42", "int:-7", "double:2.5", "double:1000", "string:a\"b\nc\xc3\xa9", "true", "false", "null",
                    R"(json:{"x":[1,2],"y":"z"})", R"(json:[1,{"y":2}])"};
  ASSERT_EQ(e.fieldCount(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(e.fieldName(i), names[i]);
    EXPECT_EQ(show(e.value(i)), values[i]) << names[i];
  }
  EXPECT_EQ(e.value(8).kind, Value::Kind::kJson);
  EXPECT_EQ(e.find("d"), 2);
  EXPECT_EQ(e.find("d", 2), 2);
  EXPECT_EQ(e.find("d", 7), 2);  // a wrong hint still finds it
  EXPECT_EQ(e.find("missing"), -1);
  EXPECT_EQ(show(e.get("s")), values[4]);
  EXPECT_TRUE(e.get("missing").isNull());
  EXPECT_TRUE(e.get("n").isNull());
  EXPECT_EQ(e.timestamp(), 0);
  EXPECT_EQ(e.key(), "");
  // Beyond int64: a double, as JSON has no bigger integer type here.
  EXPECT_EQ(parsed(R"({"u": 18446744073709551615})").value(0).kind, Value::Kind::kDouble);
}

TEST(EventTest, MalformedJsonAndNonObjectsAreRefused) {
  auto bad = Event::parse(R"({"a": })");
  ASSERT_FALSE(bad.isOk());
  EXPECT_THAT(bad.status().message(), HasSubstr("malformed JSON"));
  auto truncated = Event::parse(R"({"a": 1)");
  ASSERT_FALSE(truncated.isOk());
  EXPECT_THAT(truncated.status().message(), HasSubstr("malformed JSON"));
  for (const char* notObject : {"[1, 2]", "42", R"("x")"}) {
    auto r = Event::parse(notObject);
    ASSERT_FALSE(r.isOk()) << notObject;
    EXPECT_THAT(r.status().message(), HasSubstr("JSON object")) << notObject;
  }
  EXPECT_EQ(parsed("{}").fieldCount(), 0u);
}

TEST(EventTest, ReaderTakesTimeAndKeyFields) {
  // 2026-12-07T10:15:30.250Z is 1796638530250 ms after the epoch.
  const int64_t t = 1796638530250;
  EventReader reader("time", "card");
  auto ts = [&](const std::string& time) {
    auto e = reader.read(R"({"card": "c1", "time": )" + time + "}");
    EXPECT_TRUE(e.isOk()) << time << ": " << e.status().message();
    return e.isOk() ? e->timestamp() : -1;
  };
  EXPECT_EQ(ts("1700000000123"), 1700000000123);
  EXPECT_EQ(ts("1500.9"), 1500);
  EXPECT_EQ(ts(R"("2026-12-07T10:15:30.250Z")"), t);
  EXPECT_EQ(ts(R"("2026-12-07T11:15:30.250+01:00")"), t);
  EXPECT_EQ(ts(R"("2026-12-07T04:45:30.250-05:30")"), t);
  EXPECT_EQ(ts(R"("2026-12-07 10:15:30.250Z")"), t);
  EXPECT_EQ(ts(R"("2026-12-07 10:15:30")"), t - 250);
  EXPECT_EQ(ts(R"("2026-12-07T10:15:30.25")"), t);

  auto e = reader.read(R"({"time": 5, "card": "c\"9", "x": 1})");
  ASSERT_TRUE(e.isOk());
  EXPECT_EQ(e->key(), "c\"9");
  EXPECT_EQ(show(e->get("x")), "int:1");
  auto k = reader.read(R"({"time": 5, "card": 1234567890123})");
  ASSERT_TRUE(k.isOk());
  EXPECT_EQ(k->key(), "1234567890123");

  auto error = [&](const std::string& line) {
    auto r = reader.read(line);
    EXPECT_FALSE(r.isOk()) << line;
    return r.isOk() ? "" : r.status().message();
  };
  EXPECT_THAT(error(R"({"card": "c1"})"), AllOf(HasSubstr("\"time\""), HasSubstr("missing")));
  EXPECT_THAT(error(R"({"card": "c1", "time": null})"), AllOf(HasSubstr("\"time\""), HasSubstr("missing")));
  EXPECT_THAT(error(R"({"card": "c1", "time": "yesterday"})"), AllOf(HasSubstr("\"time\""), HasSubstr("ISO-8601")));
  EXPECT_THAT(error(R"({"card": "c1", "time": "2026-12-07"})"), HasSubstr("\"time\""));
  EXPECT_THAT(error(R"({"card": "c1", "time": true})"), HasSubstr("\"time\""));
  EXPECT_THAT(error(R"({"time": 1})"), AllOf(HasSubstr("\"card\""), HasSubstr("missing")));
  EXPECT_THAT(error(R"({"time": 1, "card": {"n": 1}})"), HasSubstr("\"card\""));
  EXPECT_THAT(error(R"({"time": 1, "card": )"), HasSubstr("malformed JSON"));

  EventReader plain("", "");
  auto p = plain.read(R"({"a": 1})");
  ASSERT_TRUE(p.isOk());
  EXPECT_EQ(p->timestamp(), 0);
  EXPECT_EQ(p->key(), "");
}

TEST(EventTest, IsoTimestamps) {
  int64_t ms = 0;
  ASSERT_TRUE(parseIsoTimestamp("1970-01-01T00:00:00Z", ms));
  EXPECT_EQ(ms, 0);
  ASSERT_TRUE(parseIsoTimestamp("1970-01-02T00:00:01.5Z", ms));
  EXPECT_EQ(ms, 86401500);
  ASSERT_TRUE(parseIsoTimestamp("1969-12-31T23:59:59Z", ms));
  EXPECT_EQ(ms, -1000);
  for (const char* bad : {"2026-12-07", "2026-13-07T10:15:30Z", "2026-12-07X10:15:30Z", "2026-12-07T10:15:30.Z", "2026-12-07T10:15:30Zjunk",
                          "2026-12-07T10:15:30+0100", "2026-12-07T24:00:00Z", ""})
    EXPECT_FALSE(parseIsoTimestamp(bad, ms)) << bad;
}

TEST(EventTest, SerdeRoundTrip) {
  const auto events = readEvents({R"({"ts": 42, "card": "c9", "amount": 2.5, "n": 3, "tags": ["x", {"y": null}], "ok": true})"}, "card");
  ASSERT_EQ(events.size(), 1u);
  const Event& e = events[0];
  std::string buf;
  Serde<Event>::write(e, buf);
  std::string_view in = buf;
  Event back;
  ASSERT_TRUE(Serde<Event>::read(in, back));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(back.json(), e.json());
  EXPECT_EQ(back.key(), "c9");
  EXPECT_EQ(back.timestamp(), 42);
  ASSERT_EQ(back.fieldCount(), e.fieldCount());
  for (size_t i = 0; i < e.fieldCount(); ++i) {
    EXPECT_EQ(back.fieldName(i), e.fieldName(i));
    EXPECT_EQ(show(back.value(i)), show(e.value(i)));
  }
  std::string_view truncated(buf.data(), buf.size() - 1);
  Event partial;
  EXPECT_FALSE(Serde<Event>::read(truncated, partial));
}

// ---------------------------------------------------------------------------------------------
// Expressions

TEST(RuleExpressionTest, ArithmeticKeepsIntegersWhenExact) {
  ExpressionTester t;
  EXPECT_EQ(t.eval("1 + 2"), "int:3");
  EXPECT_EQ(t.eval("6 / 3"), "int:2");
  EXPECT_EQ(t.eval("7 / 2"), "double:3.5");
  EXPECT_EQ(t.eval("-7 / 2"), "double:-3.5");
  EXPECT_EQ(t.eval("7 % 3"), "int:1");
  EXPECT_EQ(t.eval("2 * 3.5"), "double:7");
  EXPECT_EQ(t.eval("7 / 0"), "null");
  EXPECT_EQ(t.eval("7.5 / 0"), "null");
  EXPECT_EQ(t.eval("7 % 0"), "null");
  EXPECT_EQ(t.eval("amount * 2 - 1", R"({"amount": 5})"), "int:9");
  EXPECT_EQ(t.eval("-amount", R"({"amount": 5})"), "int:-5");
  EXPECT_EQ(t.eval("amount + 1", R"({"amount": 0.25})"), "double:1.25");
  EXPECT_EQ(t.eval("big + 1", R"({"big": 9223372036854775807})"), "double:9.22337203685478e+18");  // overflow: a double
  EXPECT_EQ(t.eval("amount + 1", "{}"), "null");
  EXPECT_EQ(t.eval("name + 1", R"({"name": "x"})"), "null");
  EXPECT_EQ(t.eval("INTERVAL '10' MINUTE"), "int:600000");
  EXPECT_EQ(t.eval("INTERVAL '1.5' SECOND"), "int:1500");
  EXPECT_EQ(t.eval("TIMESTAMP '2026-12-07 10:15:30'"), "int:1796638530000");
}

TEST(RuleExpressionTest, DivisionOverflowOfTheSmallestInteger) {
  // INT64_MIN / -1 overflows: like + - * it becomes a double; INT64_MIN % -1 is 0. (C++'s own
  // / and % would be undefined behaviour, SIGFPE on x86.) Run in a child process so that a
  // crash fails this test only.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ExpressionTester t;
        const std::string min = R"({"v": -9223372036854775808})";
        const bool ok = t.eval("v / -1", min) == "double:9.22337203685478e+18" && t.eval("v % -1", min) == "int:0";
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(RuleExpressionTest, ComparisonsAndThreeValuedLogic) {
  ExpressionTester t;
  EXPECT_EQ(t.eval("2 = 2.0"), "true");
  EXPECT_EQ(t.eval("amount > 2.5", R"({"amount": 3})"), "true");
  EXPECT_EQ(t.eval("amount <= 2.5", R"({"amount": 3})"), "false");
  EXPECT_EQ(t.eval("amount <> 3", R"({"amount": 3.0})"), "false");
  EXPECT_EQ(t.eval("'abc' < 'abd'"), "true");
  EXPECT_EQ(t.eval("name = 'x'", R"({"name": "x"})"), "true");
  EXPECT_EQ(t.eval("name != 'x'", R"({"name": "y"})"), "true");
  EXPECT_EQ(t.eval("flag = TRUE", R"({"flag": true})"), "true");
  EXPECT_EQ(t.eval("'1' = 1"), "null");  // different types do not compare
  EXPECT_EQ(t.eval("amount > 1"), "null");
  EXPECT_EQ(t.eval("NOT (amount > 1)"), "null");
  EXPECT_EQ(t.eval("amount > 1 AND 1 = 2"), "false");
  EXPECT_EQ(t.eval("1 = 2 AND amount > 1"), "false");
  EXPECT_EQ(t.eval("amount > 1 AND 1 = 1"), "null");
  EXPECT_EQ(t.eval("amount > 1 OR 1 = 1"), "true");
  EXPECT_EQ(t.eval("amount > 1 OR 1 = 2"), "null");
  EXPECT_EQ(t.eval("amount IS NULL"), "true");
  EXPECT_EQ(t.eval("amount IS NOT NULL", R"({"amount": 0})"), "true");
  EXPECT_EQ(t.eval("amount IS NULL", R"({"amount": null})"), "true");
  EXPECT_EQ(t.eval("NULL IS NULL"), "true");
}

TEST(RuleExpressionTest, CaseLikeInBetweenAndFunctions) {
  ExpressionTester t;
  const std::string tiers = "CASE WHEN amount > 10 THEN 'big' WHEN amount > 1 THEN 'mid' ELSE 'small' END";
  EXPECT_EQ(t.eval(tiers, R"({"amount": 50})"), "string:big");
  EXPECT_EQ(t.eval(tiers, R"({"amount": 5})"), "string:mid");
  EXPECT_EQ(t.eval(tiers, R"({"amount": 0.5})"), "string:small");
  EXPECT_EQ(t.eval(tiers, "{}"), "string:small");  // null conditions are not true
  EXPECT_EQ(t.eval("CASE WHEN amount > 10 THEN 1 END", R"({"amount": 5})"), "null");

  EXPECT_EQ(t.eval("name LIKE 'ab%'", R"({"name": "abc"})"), "true");
  EXPECT_EQ(t.eval("name LIKE 'a_c'", R"({"name": "abc"})"), "true");
  EXPECT_EQ(t.eval("name LIKE 'a_c'", R"({"name": "abbc"})"), "false");
  EXPECT_EQ(t.eval("name NOT LIKE 'x%'", R"({"name": "abc"})"), "true");
  EXPECT_EQ(t.eval("amount LIKE '1%'", R"({"amount": 12})"), "null");

  EXPECT_EQ(t.eval("kind IN ('a', 'b')", R"({"kind": "b"})"), "true");
  EXPECT_EQ(t.eval("kind IN ('a', 'b')", R"({"kind": "z"})"), "false");
  EXPECT_EQ(t.eval("kind NOT IN ('a', 'b')", R"({"kind": "z"})"), "true");
  EXPECT_EQ(t.eval("kind IN ('a', 'b')"), "null");
  EXPECT_EQ(t.eval("amount IN (1, 2.0)", R"({"amount": 2})"), "true");
  EXPECT_EQ(t.eval("amount BETWEEN 1 AND 5", R"({"amount": 5})"), "true");
  EXPECT_EQ(t.eval("amount BETWEEN 1 AND 5", R"({"amount": 5.5})"), "false");
  EXPECT_EQ(t.eval("amount NOT BETWEEN 1 AND 5", R"({"amount": 0})"), "true");

  EXPECT_EQ(t.eval("COALESCE(missing, other, 3)"), "int:3");
  EXPECT_EQ(t.eval("COALESCE(missing, name, 3)", R"({"name": "n"})"), "string:n");
  EXPECT_EQ(t.eval("ABS(-4)"), "int:4");
  EXPECT_EQ(t.eval("ABS(amount)", R"({"amount": -2.5})"), "double:2.5");
  EXPECT_EQ(t.eval("ABS(name)", R"({"name": "x"})"), "null");
  EXPECT_EQ(t.eval("CAST('42' AS INT)"), "int:42");
  EXPECT_EQ(t.eval("CAST(s AS DOUBLE)", R"({"s": "4.5"})"), "double:4.5");
  EXPECT_EQ(t.eval("CAST(4.7 AS BIGINT)"), "int:4");
  EXPECT_EQ(t.eval("CAST(3 AS DOUBLE)"), "double:3");
  EXPECT_EQ(t.eval("CAST('x' AS INT)"), "null");
  EXPECT_EQ(t.eval("CAST('4x' AS DOUBLE)"), "null");
  EXPECT_EQ(t.eval("CAST('true' AS BOOLEAN)"), "true");
  EXPECT_EQ(t.eval("CAST(1 AS BOOLEAN)"), "null");

  // Paris to London: about 343.5 km.
  EXPECT_NEAR(t.number("DISTANCE_KM(48.8566, 2.3522, 51.5074, -0.1278)"), 343.5, 1.0);
  EXPECT_NEAR(t.number("DISTANCE_KM(lat, lon, 51.5074, -0.1278)", R"({"lat": 48.8566, "lon": 2.3522})"), 343.5, 1.0);
  EXPECT_EQ(t.eval("DISTANCE_KM(lat, lon, 51.5074, -0.1278)", R"({"lat": "48.8566", "lon": 2.3522})"), "null");
  EXPECT_EQ(t.eval("DISTANCE_KM(1, 2, 1, 2)"), "double:0");
}

TEST(RuleExpressionTest, StepReferencesAndAggregates) {
  ExpressionTester t;
  t.accept("a", R"({"amount": 1, "city": "Oslo"})").accept("a", R"({"amount": 2, "city": "Bergen"})").accept("b", R"({"amount": 3})");
  const std::string current = R"({"amount": 7})";
  auto inB = [&](const std::string& text) { return t.eval(text, current, "b"); };
  // The condition's own step is the current event; another step is its last accepted event.
  EXPECT_EQ(inB("b.amount"), "int:7");
  EXPECT_EQ(inB("amount"), "int:7");
  EXPECT_EQ(inB("a.amount"), "int:2");
  EXPECT_EQ(inB("a.city"), "string:Bergen");
  EXPECT_EQ(inB("c.amount"), "null");
  EXPECT_EQ(t.eval("b.amount", current, "c"), "int:3");
  // Aggregates over the own step include the current event.
  EXPECT_EQ(inB("SUM(b.amount)"), "int:10");
  EXPECT_EQ(inB("AVG(b.amount)"), "double:5");
  EXPECT_EQ(inB("MIN(b.amount)"), "int:3");
  EXPECT_EQ(inB("MAX(b.amount)"), "int:7");
  EXPECT_EQ(inB("COUNT(b)"), "int:2");
  EXPECT_EQ(inB("COUNT(b.*)"), "int:2");
  EXPECT_EQ(inB("COUNT(b.other)"), "int:0");
  EXPECT_EQ(inB("FIRST(b.amount)"), "int:3");
  EXPECT_EQ(inB("LAST(b.amount)"), "int:7");
  EXPECT_EQ(inB("LAST(b.amount, 1)"), "int:3");
  EXPECT_EQ(inB("SUM(a.amount)"), "int:3");
  EXPECT_EQ(inB("COUNT(a)"), "int:2");
  EXPECT_EQ(inB("FIRST(a.amount)"), "int:1");
  EXPECT_EQ(inB("FIRST(a.city, 1)"), "string:Bergen");
  EXPECT_EQ(inB("LAST(a.amount, 1)"), "int:1");
  EXPECT_EQ(inB("LAST(a.amount, 2)"), "null");
  EXPECT_EQ(inB("MIN(a.city)"), "string:Bergen");
  EXPECT_EQ(inB("SUM(a.city)"), "null");
  EXPECT_EQ(inB("COUNT(c)"), "int:0");
  EXPECT_EQ(inB("SUM(c.amount)"), "null");
  EXPECT_EQ(inB("AVG(c.amount)"), "null");
  EXPECT_EQ(inB("amount > 2 * LAST(a.amount) AND COUNT(a) = 2"), "true");
  // Mixed integers and doubles sum to a double.
  EXPECT_EQ(t.eval("SUM(a.amount)", R"({"amount": 0.5})", "a"), "double:3.5");

  auto plain = rules::Expression::compile("amount > 1", ExpressionTester::kSteps, false);
  ASSERT_TRUE(plain.isOk());
  EXPECT_FALSE(plain->readsOtherSteps());
  auto other = rules::Expression::compile("amount > a.amount", ExpressionTester::kSteps, false);
  ASSERT_TRUE(other.isOk());
  EXPECT_TRUE(other->readsOtherSteps());
}

TEST(RuleExpressionTest, CompileErrorsNameThePositionAndWhatIsAccepted) {
  ExpressionTester t;
  EXPECT_THAT(t.error("x.amount > 1"), AllOf(HasSubstr("line 1, column 1"), HasSubstr("'x' is not a step"), HasSubstr("steps: a, b, c")));
  EXPECT_THAT(t.error("amount > 1 AND foo(amount)"),
              AllOf(HasSubstr("line 1, column 16"), HasSubstr("unknown function FOO"), HasSubstr("accepted: FIRST")));
  EXPECT_THAT(t.error("SUM(amount) > 1"), AllOf(HasSubstr("line 1, column 5"), HasSubstr("SUM's argument must be step.field")));
  EXPECT_THAT(t.error("COUNT(x)"), HasSubstr("COUNT's argument must be step.field"));
  EXPECT_THAT(t.error("SUM(a.amount, 1)"), HasSubstr("SUM takes one argument"));
  EXPECT_THAT(t.error("FIRST(a.amount, -1)"), HasSubstr("offset must be a non-negative integer literal"));
  EXPECT_THAT(t.error("name || 'x'"), AllOf(HasSubstr("line 1, column 6"), HasSubstr("operator || is not supported")));
  EXPECT_THAT(t.error("ABS(1, 2)"), HasSubstr("ABS takes 1 argument(s), got 2"));
  EXPECT_THAT(t.error("DISTANCE_KM(1, 2, 3)"), HasSubstr("DISTANCE_KM takes 4 argument(s), got 3"));
  EXPECT_THAT(t.error("CAST(amount AS VARCHAR)"), AllOf(HasSubstr("CAST to"), HasSubstr("not supported in rules")));
  const std::string syntax = t.error("amount >");
  EXPECT_THAT(syntax, AllOf(HasSubstr("line 1"), Not(HasSubstr("SQL: "))));
}

// ---------------------------------------------------------------------------------------------
// Rule documents

TEST(RuleDocumentTest, ArrayObjectAndJsonLines) {
  auto array = parseRuleDocument(R"([{"id": "r1", "pattern": [{"name": "a"}]},
                                     {"id": "r2", "version": 3, "enabled": false, "pattern": [{"name": "a"}]}])",
                                 true);
  ASSERT_TRUE(array.isOk()) << array.status().message();
  EXPECT_TRUE(array->complete);
  ASSERT_EQ(array->rules.size(), 2u);
  EXPECT_EQ(array->rules[0].id, "r1");
  EXPECT_EQ(array->rules[0].version, 1);
  EXPECT_TRUE(array->rules[0].enabled);
  EXPECT_EQ(array->rules[0].json, R"({"id":"r1","pattern":[{"name":"a"}]})");
  EXPECT_EQ(array->rules[1].version, 3);
  EXPECT_FALSE(array->rules[1].enabled);

  auto object = parseRuleDocument(R"({"rules": [{"id": "x"}, {"id": "y", "removed": true}, {"id": "z", "removed": false}]})", false);
  ASSERT_TRUE(object.isOk()) << object.status().message();
  EXPECT_FALSE(object->complete);
  ASSERT_EQ(object->rules.size(), 2u);
  EXPECT_EQ(object->rules[0].id, "x");
  EXPECT_EQ(object->rules[1].id, "z");
  EXPECT_EQ(object->removed, V{"y"});

  auto lines = parseRuleDocument(
      "{\"id\": \"a\", \"version\": 2, \"pattern\": [{\"name\": \"x\"}]}\n\n"
      "{\"id\": \"b\", \"enabled\": false}\r\n{\"id\": \"c\", \"removed\": true}\n",
      false);
  ASSERT_TRUE(lines.isOk()) << lines.status().message();
  ASSERT_EQ(lines->rules.size(), 2u);
  EXPECT_EQ(lines->rules[0].id, "a");
  EXPECT_EQ(lines->rules[0].version, 2);
  EXPECT_EQ(lines->rules[0].json, R"({"id":"a","version":2,"pattern":[{"name":"x"}]})");
  EXPECT_EQ(lines->rules[1].id, "b");
  EXPECT_FALSE(lines->rules[1].enabled);
  EXPECT_EQ(lines->removed, V{"c"});

  auto single = parseRuleDocument(R"({"id": "only", "version": 0})", false);
  ASSERT_TRUE(single.isOk());
  ASSERT_EQ(single->rules.size(), 1u);
  EXPECT_EQ(single->rules[0].version, 0);

  for (const char* empty : {"", "  \n\t\n", "[]"}) {
    auto none = parseRuleDocument(empty, true);
    ASSERT_TRUE(none.isOk()) << empty;
    EXPECT_TRUE(none->rules.empty());
    EXPECT_TRUE(none->removed.empty());
    EXPECT_TRUE(none->complete);
  }
}

TEST(RuleDocumentTest, ErrorsSayWhere) {
  EXPECT_THAT(parseError(R"([{"id": "a"}, {"version": 2}])"), AllOf(HasSubstr("rule 2"), HasSubstr("\"id\"")));
  EXPECT_THAT(parseError(R"([{"id": ""}])"), AllOf(HasSubstr("rule 1"), HasSubstr("\"id\"")));
  EXPECT_THAT(parseError("{\"id\": \"a\"}\n\n{\"name\": \"b\"}\n"), AllOf(HasSubstr("line 3"), HasSubstr("\"id\"")));
  EXPECT_THAT(parseError(R"([{"id": "a"}, {"id": "a"}])"), AllOf(HasSubstr("rule 2"), HasSubstr("'a' appears twice")));
  EXPECT_THAT(parseError("{\"id\": \"a\"}\n{\"id\": \"a\"}"), AllOf(HasSubstr("line 2"), HasSubstr("'a' appears twice")));
  EXPECT_THAT(parseError(R"([{"id": }])"), HasSubstr("malformed JSON"));
  EXPECT_THAT(parseError("{\"id\": \"a\"}\n{\"id\": \n"), AllOf(HasSubstr("line 2"), HasSubstr("malformed JSON")));
  EXPECT_THAT(parseError(R"([1])"), AllOf(HasSubstr("rule 1"), HasSubstr("must be a JSON object")));
  EXPECT_THAT(parseError(R"({"rules": 5})"), HasSubstr("\"rules\" must be an array"));
  EXPECT_THAT(parseError(R"([{"id": "a", "version": -1}])"), AllOf(HasSubstr("rule 'a'"), HasSubstr("\"version\"")));
  EXPECT_THAT(parseError(R"([{"id": "a", "version": "2"}])"), HasSubstr("\"version\""));
  EXPECT_THAT(parseError(R"([{"id": "a", "enabled": "yes"}])"), HasSubstr("\"enabled\""));
  EXPECT_THAT(parseError(R"([{"id": "a", "removed": 1}])"), HasSubstr("\"removed\""));
  // A number beyond a double (found by rule_fuzzer: it used to escape as an exception and end
  // the process), whole and in JSON lines.
  EXPECT_THAT(parseError(R"([{"id": "a", "within": 1e400}])"), AllOf(HasSubstr("malformed JSON"), HasSubstr("number overflow")));
  EXPECT_THAT(parseError("{\"id\": \"a\"}\n{\"id\": \"b\", \"version\": 1e999}\n"), AllOf(HasSubstr("line 2"), HasSubstr("number overflow")));
  EXPECT_THAT(parseError("3333333333300000e0033333333333"), HasSubstr("malformed JSON"));
}

// ---------------------------------------------------------------------------------------------
// The rule format's errors

TEST(CompileRuleTest, ErrorsNameTheRuleTheStepAndTheKey) {
  const std::string two = R"({"name":"a"},{"name":"b")";
  auto steps = [](const std::string& s) { return R"({"pattern":[)" + s + "]}"; };
  EXPECT_THAT(compileError(R"({"patern":[{"name":"a"}]})"),
              AllOf(HasSubstr("rule 'r'"), HasSubstr("unknown key \"patern\""), HasSubstr("accepted: id, version")));
  EXPECT_THAT(compileError(R"({"id":"r"})"), HasSubstr("\"pattern\" must be a non-empty array"));
  EXPECT_THAT(compileError(R"({"pattern":[]})"), HasSubstr("\"pattern\" must be a non-empty array"));
  EXPECT_THAT(compileError(steps(R"({"name":"a"},{"where":"x > 1"})")), AllOf(HasSubstr("rule 'r', step 2"), HasSubstr("\"name\"")));
  EXPECT_THAT(compileError(steps(R"({"name":"a"},{"name":"a"})")), HasSubstr("'a' is used twice"));
  EXPECT_THAT(compileError(steps(R"({"name":"a","wher":"x > 1"})")),
              AllOf(HasSubstr("rule 'r', step 'a'"), HasSubstr("unknown key \"wher\""), HasSubstr("accepted: name, where")));
  EXPECT_THAT(compileError(steps(two + R"(,"contiguity":"loose"})")),
              AllOf(HasSubstr("rule 'r', step 'b'"), HasSubstr("\"contiguity\" \"loose\""), HasSubstr("\"strict\"")));
  EXPECT_THAT(compileError(steps(R"({"name":"a","contiguity":"strict"},{"name":"b"})")),
              AllOf(HasSubstr("step 'a'"), HasSubstr("first step has no \"contiguity\"")));
  EXPECT_THAT(compileError(steps(R"({"name":"a","negated":true},{"name":"b"})")), AllOf(HasSubstr("step 'a'"), HasSubstr("begin with a negated")));
  EXPECT_THAT(compileError(steps(two + R"(,"negated":true})")),
              AllOf(HasSubstr("step 'b'"), HasSubstr("end with a negated step only when"), HasSubstr("\"within\"")));
  EXPECT_THAT(compileError(steps(two + R"(,"negated":true,"contiguity":"any"},{"name":"c"})")), HasSubstr("step 'b'"));
  EXPECT_THAT(compileError(steps(two + R"(,"negated":true,"oneOrMore":true},{"name":"c"})")),
              AllOf(HasSubstr("step 'b'"), HasSubstr("negated step cannot have a quantifier")));
  for (const char* times : {"0", "100001", "[3, 1]", "[0, 0]", "\"3\"", "2.5"})
    EXPECT_THAT(compileError(steps(std::string(R"({"name":"a","times":)") + times + "}")),
                AllOf(HasSubstr("step 'a'"), HasSubstr("\"times\" must be n"), HasSubstr("got")))
        << times;
  EXPECT_THAT(compileError(steps(R"({"name":"a","timesOrMore":0})")), AllOf(HasSubstr("step 'a'"), HasSubstr("\"timesOrMore\"")));
  EXPECT_THAT(compileError(steps(R"({"name":"a","times":3,"oneOrMore":true})")), AllOf(HasSubstr("step 'a'"), HasSubstr("use one of")));
  EXPECT_THAT(compileError(steps(R"({"name":"a","timesOrMore":2,"times":[1,2]})")), HasSubstr("use one of"));
  EXPECT_THAT(compileError(steps(R"({"name":"a","loop":"strict"})")), AllOf(HasSubstr("step 'a'"), HasSubstr("\"loop\" applies only")));
  EXPECT_THAT(compileError(steps(R"({"name":"a","oneOrMore":true,"loop":"tight"})")), HasSubstr("unknown \"loop\" \"tight\""));
  EXPECT_THAT(compileError(steps(R"({"name":"a","until":"x > 1"})")), AllOf(HasSubstr("step 'a'"), HasSubstr("\"until\" applies only")));
  EXPECT_THAT(compileError(steps(R"({"name":"a","times":3,"until":"x > 1"})")), HasSubstr("\"until\" applies only"));
  EXPECT_THAT(compileError(steps(R"({"name":"a","greedy":true})")), AllOf(HasSubstr("rule 'r'"), HasSubstr("greedy")));
  EXPECT_THAT(compileError(steps(R"({"name":"a","optional":"yes"})")), AllOf(HasSubstr("step 'a'"), HasSubstr("\"optional\" must be true or false")));
  EXPECT_THAT(compileError(R"({"pattern":[{"name":"a"}],"within":"ten minutes"})"),
              AllOf(HasSubstr("rule 'r'"), HasSubstr("\"within\""), HasSubstr("ten minutes"), HasSubstr("units")));
  EXPECT_THAT(compileError(R"({"pattern":[{"name":"a"}],"within":0})"), HasSubstr("\"within\""));
  EXPECT_THAT(compileError(R"({"pattern":[{"name":"a"}],"within":"10 fortnights"})"), HasSubstr("\"within\""));
  EXPECT_THAT(compileError(R"({"pattern":[{"name":"a"}],"skip":{"skip-to-first":"zz"}})"),
              AllOf(HasSubstr("rule 'r'"), HasSubstr("\"skip\" names 'zz'")));
  EXPECT_THAT(compileError(R"({"pattern":[{"name":"a"}],"skip":"skip-all"})"), AllOf(HasSubstr("unknown \"skip\""), HasSubstr("skip-all")));
  EXPECT_THAT(compileError(R"({"pattern":[{"name":"a"}],"skip":{"skip-to-middle":"a"}})"), HasSubstr("unknown \"skip\""));
  EXPECT_THAT(compileError(R"({"pattern":[{"name":"a"}],"emit":["a.x"]})"), AllOf(HasSubstr("rule 'r'"), HasSubstr("\"emit\" must be an object")));
  EXPECT_THAT(compileError(R"({"pattern":[{"name":"a"}],"emit":{"n":3}})"), HasSubstr("\"emit\".n must be an expression"));
  EXPECT_THAT(compileError(R"j({"pattern":[{"name":"a"}],"emit":{"total":"SUM(amount)"}})j"),
              AllOf(HasSubstr("\"emit\".total"), HasSubstr("step.field")));
  EXPECT_THAT(compileError(steps(R"({"name":"a","where":"amount >"})")), AllOf(HasSubstr("rule 'r', step 'a', \"where\""), HasSubstr("line 1")));
  EXPECT_THAT(compileError(steps(R"({"name":"a","where":"zz.amount > 1"})")),
              AllOf(HasSubstr("step 'a', \"where\""), HasSubstr("'zz' is not a step")));
  EXPECT_THAT(compileError(steps(R"({"name":"a","oneOrMore":true,"until":"amount >>"})")), HasSubstr("step 'a', \"until\""));
  EXPECT_THAT(compileError(R"({"pattern":[{"name":"a"}],"emitTimeouts":"yes"})"), HasSubstr("\"emitTimeouts\""));
  EXPECT_THAT(compileError("{\"pattern\": ["), AllOf(HasSubstr("rule 'r'"), HasSubstr("malformed JSON")));
}

TEST(CompileRuleTest, WithinAcceptsMillisecondsAndUnits) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"3", 3}, {"\"500 ms\"", 500}, {"\"30 s\"", 30'000}, {"\"10 minutes\"", 600'000}, {"\"1.5 min\"", 90'000}, {"\"1h\"", 3'600'000}, {"\"2 days\"", 172'800'000}};
  for (const auto& [within, ms] : cases) {
    auto r = ruleOf(R"([{"name":"a"}])", R"("within":)" + within);
    ASSERT_NE(r, nullptr) << within;
    auto nfa = Nfa<Event>::compile(r->pattern());
    ASSERT_TRUE(nfa.isOk());
    EXPECT_EQ(nfa.value()->withinMs(), ms) << within;
  }
}

// ---------------------------------------------------------------------------------------------
// Rules on the NFA

std::string charge(const std::string& id, int64_t ts, double amount) {
  char buf[160];
  std::snprintf(buf, sizeof buf, R"({"id": "%s", "card": "c1", "ts": %lld, "amount": %g})", id.c_str(), static_cast<long long>(ts), amount);
  return buf;
}

const std::string kChargeSteps =
    R"j([{"name":"small","where":"amount < 2","times":3,"loop":"strict"},{"name":"large","contiguity":"strict","where":"amount > 500"}])j";

TEST(RuleSemanticsTest, ThreeSmallChargesThenALargeOne) {
  auto r = ruleOf(kChargeSteps, R"j("within":"10 minutes","skip":"skip-past-last-event")j");
  ASSERT_NE(r, nullptr);
  constexpr int64_t kMin = 60'000;
  const auto events = readEvents({
      // A match: three smalls in a row, then the large one.
      charge("e1", 0, 1), charge("e2", 1 * kMin, 1.5), charge("e3", 2 * kMin, 0.5), charge("e4", 3 * kMin, 600),
      // Only two smalls.
      charge("n1", 10 * kMin, 1), charge("n2", 11 * kMin, 1), charge("n3", 12 * kMin, 900),
      // A normal charge between the smalls.
      charge("m1", 20 * kMin, 1), charge("m2", 21 * kMin, 1), charge("m3", 22 * kMin, 50), charge("m4", 23 * kMin, 1), charge("m5", 24 * kMin, 700),
      // The large one 10 minutes after the first small: too late (within is exclusive, as in Flink).
      charge("k1", 30 * kMin, 1), charge("k2", 31 * kMin, 1), charge("k3", 32 * kMin, 1), charge("k4", 40 * kMin, 800),
      // Four smalls: the last three with the large one.
      charge("p1", 50 * kMin, 1), charge("p2", 51 * kMin, 1), charge("p3", 52 * kMin, 1), charge("p4", 53 * kMin, 1), charge("p5", 54 * kMin, 501),
      // The large one 1 ms before the limit.
      charge("q1", 60 * kMin, 1), charge("q2", 61 * kMin, 1), charge("q3", 62 * kMin, 1), charge("q4", 70 * kMin - 1, 1000),
  }, "card");
  EXPECT_EQ(run(r->pattern(), events), (V{"e1 e2 e3 e4", "p2 p3 p4 p5", "q1 q2 q3 q4"}));
  EXPECT_FALSE(r->emitsTimeouts());
  // canStart: the first step's condition.
  EXPECT_TRUE(canStart(r, parsed(R"({"amount": 1})")));
  EXPECT_FALSE(canStart(r, parsed(R"({"amount": 700})")));
  EXPECT_FALSE(canStart(r, parsed(R"({"amount": "1"})")));
  EXPECT_FALSE(canStart(r, parsed("{}")));
}

TEST(RuleSemanticsTest, ImpossibleTravelReadsTheEarlierStep) {
  auto r = ruleOf(
      R"j([{"name":"a"},{"name":"b","contiguity":"strict","where":"DISTANCE_KM(lat, lon, a.lat, a.lon) / ((ts - a.ts) / 3600000.0) > 900"}])j");
  ASSERT_NE(r, nullptr);
  auto at = [](const std::string& id, int64_t ts, double lat, double lon) {
    char buf[160];
    std::snprintf(buf, sizeof buf, R"({"id": "%s", "user": "u", "ts": %lld, "lat": %.4f, "lon": %.4f})", id.c_str(), static_cast<long long>(ts), lat, lon);
    return std::string(buf);
  };
  const double paris[] = {48.8566, 2.3522}, london[] = {51.5074, -0.1278}, ny[] = {40.7128, -74.0060}, brooklyn[] = {40.6782, -73.9442},
               tokyo[] = {35.6762, 139.6503}, sydney[] = {-33.8688, 151.2093};
  constexpr int64_t kHour = 3'600'000;
  const auto events = readEvents({
      at("t1", 0, paris[0], paris[1]),
      at("t2", kHour, london[0], london[1]),                            // 343.6 km in 1 h
      at("t3", 2 * kHour, ny[0], ny[1]),                                // 5570 km in 1 h: alert
      at("t4", 2 * kHour + 60'000, brooklyn[0], brooklyn[1]),           // 6.5 km in 1 min: 389 km/h
      at("t5", 10 * kHour + 60'000, paris[0], paris[1]),                // ~5830 km in 8 h: ~729 km/h
      at("t6", 10 * kHour + 70'000, paris[0], paris[1]),                // 0 km
      at("t7", 10 * kHour + 70'000, tokyo[0], tokyo[1]),                // no time passed: x / 0 is null, no alert
      at("t8", 11 * kHour + 70'000, sydney[0], sydney[1]),              // 7826 km in 1 h: alert
      at("t9", 251 * kHour + 70'000, ny[0], ny[1]),                     // 15990 km in 10 days
      at("t10", 251 * kHour + 70'000 + 23'040'000, paris[0], paris[1]), // 5837 km in 6.4 h: 912 km/h, alert
      at("t11", 251 * kHour + 70'000 + 46'440'000, ny[0], ny[1]),       // 5837 km in 6.5 h: 898 km/h
  }, "user");
  EXPECT_EQ(run(r->pattern(), events), (V{"t2 t3", "t7 t8", "t9 t10"}));
  EXPECT_TRUE(canStart(r, parsed("{}")));  // no condition on the first step
}

TEST(RuleSemanticsTest, Contiguities) {
  auto with = [](const std::string& contiguity) {
    return ruleOf(R"j([{"name":"a","where":"kind = 'a'"},{"name":"b","contiguity":")j" + contiguity + R"j(","where":"kind = 'b'"}])j");
  };
  const auto events = kinds("a c b1 b2");
  EXPECT_EQ(run(with("strict")->pattern(), events), V{});
  EXPECT_EQ(run(with("relaxed")->pattern(), events), V{"a b1"});
  EXPECT_EQ(run(with("any")->pattern(), events), (V{"a b1", "a b2"}));
  // Relaxed is the default.
  EXPECT_EQ(run(ruleOf(R"j([{"name":"a","where":"kind = 'a'"},{"name":"b","where":"kind = 'b'"}])j")->pattern(), events), V{"a b1"});
}

TEST(RuleSemanticsTest, NegatedStepsInTheMiddle) {
  const auto events = kinds("a1 x1 b1 a2 c b2");
  // notFollowedBy: a1 sees x1 before a b; a2 does not.
  auto notFollowed = ruleOf(R"j([{"name":"a","where":"kind = 'a'"},{"name":"x","negated":true,"where":"kind = 'x'"},{"name":"b","where":"kind = 'b'"}])j");
  ASSERT_NE(notFollowed, nullptr);
  EXPECT_EQ(run(notFollowed->pattern(), events), V{"a2 b2"});
  EXPECT_EQ(run(notFollowed->pattern(), kinds("a1 b1 x1 b2")), V{"a1 b1"});
  // notNext: the event right after a1 is x1.
  auto notNext = ruleOf(
      R"j([{"name":"a","where":"kind = 'a'"},{"name":"x","negated":true,"contiguity":"strict","where":"kind = 'x'"},{"name":"b","where":"kind = 'b'"}])j");
  ASSERT_NE(notNext, nullptr);
  EXPECT_EQ(run(notNext->pattern(), events), V{"a2 b2"});
  EXPECT_EQ(run(notNext->pattern(), kinds("a1 c x1 b1")), V{"a1 b1"});
}

TEST(RuleSemanticsTest, LoopsUntilTimesOrMoreAndGreedy) {
  auto until = ruleOf(R"j([{"name":"a","where":"kind = 'a'","oneOrMore":true,"until":"kind = 'b'"}])j");
  ASSERT_NE(until, nullptr);
  EXPECT_EQ(run(until->pattern(), kinds("a1 c a2 b a3")), (V{"a1", "a1 a2", "a2", "a3"}));

  auto twoOrMore = ruleOf(R"j([{"name":"a","where":"kind = 'a'","timesOrMore":2}])j");
  ASSERT_NE(twoOrMore, nullptr);
  EXPECT_EQ(run(twoOrMore->pattern(), kinds("a1 c a2 a3")), (V{"a1 a2", "a1 a2 a3", "a2 a3"}));

  auto middle = [](const std::string& extra) {
    return ruleOf(R"j([{"name":"c","where":"kind = 'c'"},{"name":"a","where":"kind = 'a'","oneOrMore":true)j" + extra +
                  R"j(},{"name":"d","where":"kind = 'd'"}])j");
  };
  EXPECT_EQ(run(middle("")->pattern(), kinds("c a1 a2 a3 d")), (V{"c a1 a2 a3 d", "c a1 a2 d", "c a1 d"}));
  EXPECT_EQ(run(middle(R"(,"greedy":true)")->pattern(), kinds("c a1 a2 a3 d")), V{"c a1 a2 a3 d"});
  EXPECT_EQ(run(middle(R"(,"loop":"strict")")->pattern(), kinds("c a1 a2 x a3 d")), (V{"c a1 a2 d", "c a1 d"}));
}

TEST(RuleSemanticsTest, SkipStrategies) {
  auto with = [](const std::string& skip) {
    return ruleOf(R"j([{"name":"b","where":"kind = 'b'","oneOrMore":true,"loop":"strict","greedy":true},)j"
                  R"j({"name":"c","contiguity":"strict","where":"kind = 'c'"}])j",
                  skip.empty() ? "" : R"("skip":)" + skip);
  };
  const auto events = kinds("b1 b2 b3 c");
  EXPECT_EQ(run(with("")->pattern(), events), (V{"b1 b2 b3 c", "b2 b3 c", "b3 c"}));
  EXPECT_EQ(run(with(R"("no-skip")")->pattern(), events), (V{"b1 b2 b3 c", "b2 b3 c", "b3 c"}));
  EXPECT_EQ(run(with(R"("skip-to-next")")->pattern(), events), (V{"b1 b2 b3 c", "b2 b3 c", "b3 c"}));
  EXPECT_EQ(run(with(R"("skip-past-last-event")")->pattern(), events), V{"b1 b2 b3 c"});
  EXPECT_EQ(run(with(R"({"skip-to-first":"b"})")->pattern(), events), (V{"b1 b2 b3 c", "b2 b3 c", "b3 c"}));
  EXPECT_EQ(run(with(R"({"skip-to-last":"b"})")->pattern(), events), (V{"b1 b2 b3 c", "b3 c"}));
}

TEST(RuleSemanticsTest, OptionalFirstStepMayStartAnywhere) {
  auto r = ruleOf(R"j([{"name":"a","where":"kind = 'a'","optional":true},{"name":"b","contiguity":"strict","where":"kind = 'b'"}])j");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(run(r->pattern(), kinds("a1 b1 c b2")), (V{"a1 b1", "b1", "b2"}));
  for (const char* e : {R"({"kind": "a"})", R"({"kind": "b"})", R"({"kind": "z"})", "{}"}) EXPECT_TRUE(canStart(r, parsed(e))) << e;

  auto zeroTimes = ruleOf(R"j([{"name":"a","where":"kind = 'a'","times":[0,2]},{"name":"b","where":"kind = 'b'"}])j");
  ASSERT_NE(zeroTimes, nullptr);
  EXPECT_TRUE(canStart(zeroTimes, parsed(R"({"kind": "b"})")));
  EXPECT_EQ(run(zeroTimes->pattern(), kinds("a1 a2 b1")), (V{"a1 a2 b1", "a1 b1", "a2 b1", "b1"}));

  auto required = ruleOf(R"j([{"name":"a","where":"kind = 'a'","times":[1,2]},{"name":"b","where":"kind = 'b'"}])j");
  ASSERT_NE(required, nullptr);
  EXPECT_FALSE(canStart(required, parsed(R"({"kind": "b"})")));
  EXPECT_TRUE(canStart(required, parsed(R"({"kind": "a"})")));
}

TEST(RuleSemanticsTest, WithinTimesOutPartialMatches) {
  auto r = ruleOf(R"j([{"name":"a","where":"kind = 'a'"},{"name":"b","where":"kind = 'b'"}])j", R"("within":3,"emitTimeouts":true)");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->emitsTimeouts());
  // a1 at 1, a2 at 2, x at 3, b at 4: a1 is 3 ms old at b.
  std::vector<Match<Event>> timedOut;
  const auto matches = runMatches(r->pattern(), kinds("a1 a2 x b"), &timedOut);
  EXPECT_EQ(describe(matches), V{"a2 b"});
  ASSERT_EQ(describe(timedOut), V{"a1"});
  std::string out;
  ASSERT_TRUE(r->writeAlert(timedOut[0], "k", true, out).isOk());
  auto alert = nlohmann::json::parse(out);
  EXPECT_EQ(alert["timeout"], true);
  EXPECT_EQ(alert["start"], 1);
  EXPECT_EQ(alert["end"], 1);
  EXPECT_EQ(alert["events"]["a"][0]["id"], "a1");
  EXPECT_FALSE(alert["events"].contains("b"));
}

// ---------------------------------------------------------------------------------------------
// Alerts

TEST(RuleAlertTest, MeasuresAndEvents) {
  const std::string emit =
      R"j("emit":{"total":"SUM(small.amount)","n":"COUNT(small)","first":"FIRST(small.amount)","card":"large.card",)j"
      R"j("last":"amount","meta":"large.meta","none":"large.nothing","big":"large.amount > 500"})j";
  const auto events = readEvents({R"({"id": "s1", "card": "c\"1", "ts": 1000, "amount": 1})", R"({"id": "s2", "card": "c\"1", "ts": 2000, "amount": 1.5})",
                                  R"({"id": "s3", "card": "c\"1", "ts": 3000, "amount": 0.5})",
                                  R"({"id": "l", "card": "c\"1", "ts": 4000, "amount": 600, "meta": {"ip": "10.0.0.1"}})"},
                                 "card");
  auto alertOf = [&](const std::string& rest) {
    auto r = rule(R"j({"id":"charges","version":2,"pattern":)j" + kChargeSteps + R"(,"within":"10 minutes")" + rest + "}");
    EXPECT_NE(r, nullptr);
    if (r == nullptr) return nlohmann::json();
    const auto matches = runMatches(r->pattern(), events);
    EXPECT_EQ(describe(matches), V{"s1 s2 s3 l"});
    if (matches.size() != 1) return nlohmann::json();
    std::string out = "prefix";
    EXPECT_TRUE(r->writeAlert(matches[0], events.back().key(), false, out).isOk());
    EXPECT_EQ(out.rfind("prefix", 0), 0u);  // appends
    EXPECT_EQ(out.find('\n'), std::string::npos);
    return nlohmann::json::parse(out.substr(6));
  };

  auto a = alertOf("," + emit);
  EXPECT_EQ(a["rule"], "charges");
  EXPECT_EQ(a["version"], 2);
  EXPECT_EQ(a["key"], "c\"1");
  EXPECT_EQ(a["start"], 1000);
  EXPECT_EQ(a["end"], 4000);
  EXPECT_FALSE(a.contains("timeout"));
  auto& m = a["measures"];
  EXPECT_DOUBLE_EQ(m["total"].get<double>(), 3.0);
  EXPECT_EQ(m["n"], 3);
  EXPECT_EQ(m["first"], 1);
  EXPECT_EQ(m["card"], "c\"1");
  EXPECT_EQ(m["last"], 600);  // an unqualified field: the match's last event
  EXPECT_EQ(m["meta"], nlohmann::json::parse(R"({"ip": "10.0.0.1"})"));
  EXPECT_TRUE(m.contains("none"));
  EXPECT_TRUE(m["none"].is_null());
  EXPECT_EQ(m["big"], true);
  EXPECT_FALSE(a.contains("events"));  // measures without emitEvents: no events

  auto withEvents = alertOf("," + emit + R"(,"emitEvents":true)");
  ASSERT_TRUE(withEvents.contains("events"));
  ASSERT_EQ(withEvents["events"]["small"].size(), 3u);
  EXPECT_EQ(withEvents["events"]["small"][2]["id"], "s3");
  EXPECT_DOUBLE_EQ(withEvents["events"]["small"][1]["amount"].get<double>(), 1.5);
  EXPECT_EQ(withEvents["events"]["large"][0]["meta"]["ip"], "10.0.0.1");
  EXPECT_EQ(withEvents["measures"]["n"], 3);

  auto plain = alertOf("");
  EXPECT_FALSE(plain.contains("measures"));
  ASSERT_TRUE(plain.contains("events"));  // no emit: the events
  EXPECT_EQ(plain["events"]["large"][0]["id"], "l");
  EXPECT_EQ(plain["version"], 2);

  auto none = alertOf(R"(,"emitEvents":false)");
  EXPECT_FALSE(none.contains("events"));
  EXPECT_FALSE(none.contains("measures"));
  EXPECT_EQ(none["end"], 4000);
}

// ---------------------------------------------------------------------------------------------
// A rule against the same pattern written in C++

TEST(RuleDifferentialTest, RuleMatchesTheCppPattern) {
  auto r = rule(
      R"j({"id":"abc","pattern":[{"name":"a","where":"kind = 'a'"},{"name":"b","contiguity":"strict","where":"kind = 'b'"},)j"
      R"j({"name":"c","where":"kind = 'c'"}],"within":10})j");
  ASSERT_NE(r, nullptr);
  auto is = [](char k) {
    return [k](const Event& e) {
      const Value v = e.get("kind");
      return v.kind == Value::Kind::kString && v.s.size() == 1 && v.s[0] == k;
    };
  };
  const auto cpp = Pattern<Event>::begin("a").where(is('a')).next("b").where(is('b')).followedBy("c").where(is('c')).within(10);

  std::mt19937 rng(20261207);
  size_t total = 0, totalTimedOut = 0;
  for (int seq = 0; seq < 200; ++seq) {
    const int length = std::uniform_int_distribution<int>(1, 30)(rng);
    std::vector<std::string> lines;
    int64_t ts = 0;
    for (int i = 0; i < length; ++i) {
      ts += std::uniform_int_distribution<int>(0, 3)(rng);
      const char kind = "abcx"[std::uniform_int_distribution<int>(0, 3)(rng)];
      lines.push_back(R"({"id":"e)" + std::to_string(i) + R"(","kind":")" + std::string(1, kind) + R"(","ts":)" + std::to_string(ts) + "}");
    }
    const auto events = readEvents(lines);
    std::vector<Match<Event>> ruleTimedOut, cppTimedOut;
    const V fromRule = describe(runMatches(r->pattern(), events, &ruleTimedOut), true);
    const V fromCpp = describe(runMatches(cpp, events, &cppTimedOut), true);
    std::string input;
    for (const auto& l : lines) input += l + "\n";
    ASSERT_EQ(fromRule, fromCpp) << input;
    ASSERT_EQ(describe(ruleTimedOut, true), describe(cppTimedOut, true)) << input;
    total += fromRule.size();
    totalTimedOut += ruleTimedOut.size();
  }
  // The sequences exercise the rule: matches and timeouts both occur.
  EXPECT_GT(total, 20u);
  EXPECT_GT(totalTimedOut, 20u);
}

}  // namespace
}  // namespace reka::cep
