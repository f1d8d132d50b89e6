#pragma once

// Runs patterns over named test events ("a1 b2 c"), for the NFA's tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "reka/cep/Nfa.h"

namespace reka::cep::nfatest {

struct Ev {
  std::string name;  // "b2": kind 'b', the second b
  int64_t ts = 0;
  double price = 0;
};

inline bool is(const Ev& e, char kind) { return !e.name.empty() && e.name[0] == kind; }
inline auto kind(char k) {
  return [k](const Ev& e) { return is(e, k); };
}

inline std::vector<Ev> events(const std::string& names) {
  std::vector<Ev> out;
  size_t at = 0;
  int64_t ts = 1;
  while (at < names.size()) {
    size_t end = names.find(' ', at);
    if (end == std::string::npos) end = names.size();
    if (end > at) out.push_back({names.substr(at, end - at), ts++, 0});
    at = end + 1;
  }
  return out;
}

/// Runs the pattern over the events (one key, timestamps 1, 2, …) and returns each match as its
/// events' names in match order, sorted.
inline std::vector<std::string> run(const Pattern<Ev>& p, const std::string& input, std::vector<std::string>* timedOut = nullptr) {
  auto nfa = Nfa<Ev>::compile(p);
  EXPECT_TRUE(nfa.isOk()) << nfa.status().toString();
  if (!nfa.isOk()) return {};
  const auto& n = *nfa.value();
  auto s = n.initialState();
  std::vector<Match<Ev>> matches, timeouts;
  for (const auto& e : events(input)) {
    EXPECT_TRUE(n.advanceTime(s, e.ts, matches, &timeouts).isOk());
    EXPECT_TRUE(n.process(s, e, e.ts, matches).isOk());
  }
  EXPECT_TRUE(n.advanceTime(s, INT64_MAX, matches, &timeouts).isOk());
  auto names = [](const std::vector<Match<Ev>>& ms) {
    std::vector<std::string> out;
    for (const auto& m : ms) {
      std::string s;
      for (const Ev* e : m.events()) s += (s.empty() ? "" : " ") + e->name;
      out.push_back(s);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  if (timedOut != nullptr) *timedOut = names(timeouts);
  return names(matches);
}

using V = std::vector<std::string>;

}  // namespace reka::cep::nfatest
