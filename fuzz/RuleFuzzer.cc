// Fuzzes the CEP rule front end (src/cep/rules/): byte 0 picks what the rest is.
//   0: a rule document (JSON) through parseRuleDocument, then compileRule for each rule;
//   1: a condition of a step `b` after a step `a`, compiled and evaluated on fixed events (as
//      the current event, with `a`'s events from a match);
//   2: a measure over a match of steps `a` and `b`, compiled and evaluated.
// Checks: nothing crashes or hangs; every refusal has a message; a condition's
// value holds exactly when it is the boolean true, whatever the types it meets.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cep/rules/RuleExpression.h"
#include "reka/cep/Rules.h"

namespace {

using reka::cep::Event;
using reka::cep::Match;
using reka::cep::rules::EvalContext;
using reka::cep::rules::Expression;

/// Events with every JSON type and the extreme integers, parsed once.
const std::vector<Event>& events() {
  static const std::vector<Event> all = [] {
    std::vector<Event> v;
    for (const char* json :
         {R"({"amount": 12.5, "n": 9223372036854775807, "m": -9223372036854775808, "city": "Paris", "flag": true, "lat": 48.85, "lon": 2.35})",
          R"({"amount": -0.0, "n": 0, "m": -1, "city": "", "flag": false, "nested": {"x": [1, 2]}, "arr": [1, "a"], "nul": null})",
          R"({"amount": 1e308, "n": 3, "city": "Zürich", "lat": "48.85", "lon": null})"}) {
      auto e = Event::parse(json, 1'700'000'000'000 + static_cast<int64_t>(v.size()), "k");
      if (!e.isOk()) std::abort();
      v.push_back(std::move(e.value()));
    }
    return v;
  }();
  return all;
}

Match<Event> match() {
  Match<Event> m;
  const auto& e = events();
  m.add("a", e[0], 0, e[0].timestamp());
  m.add("a", e[1], 1, e[1].timestamp());
  m.add("b", e[2], 2, e[2].timestamp());
  return m;
}

void expression(std::string_view text, bool measure) {
  static const std::vector<std::string> steps = {"a", "b"};
  auto compiled = Expression::compile(text, steps, measure);
  if (!compiled.isOk()) {
    if (compiled.status().message().empty()) std::abort();
    return;
  }
  static const Match<Event> m = match();
  EvalContext ctx;
  ctx.match = &m;
  if (measure) {
    (void)compiled->evaluate(ctx);
    return;
  }
  ctx.currentStep = "b";
  for (const Event& e : events()) {
    ctx.current = &e;
    const auto v = compiled->evaluate(ctx);
    // holds() is true exactly for the boolean true.
    if (compiled->holds(ctx) != (v.kind == reka::cep::Value::Kind::kBool && v.b)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto doc = reka::cep::parseRuleDocument(text, true);
      if (!doc.isOk()) {
        if (doc.status().message().empty()) std::abort();
        return 0;
      }
      for (const auto& spec : doc->rules) {
        auto rule = reka::cep::compileRule(spec);
        if (!rule.isOk() && rule.status().message().empty()) std::abort();
      }
      return 0;
    }
    case 1: expression(text, false); return 0;
    default: expression(text, true); return 0;
  }
}
