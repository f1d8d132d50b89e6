#pragma once

#include <sstream>
#include <string>

namespace reka::detail {
[[noreturn]] void checkFailed(const char* file, int line, const std::string& what);

template <class A, class B>
[[noreturn]] void checkOpFailed(const char* file, int line, const char* expr, const A& a, const B& b) {
  std::ostringstream os;
  os << expr << " (" << a << " vs " << b << ")";
  checkFailed(file, line, os.str());
}
}  // namespace reka::detail

/// Checks are for bugs in Reka, never for user input: a failed check aborts with its operands.
#define REKA_CHECK(cond) \
  ((cond) ? (void)0 : ::reka::detail::checkFailed(__FILE__, __LINE__, "check failed: " #cond))

#define REKA_CHECK_OP_(a, b, op)                                                              \
  do {                                                                                        \
    const auto& reka_a_ = (a);                                                                \
    const auto& reka_b_ = (b);                                                                \
    if (!(reka_a_ op reka_b_))                                                                \
      ::reka::detail::checkOpFailed(__FILE__, __LINE__, "check failed: " #a " " #op " " #b, \
                                    reka_a_, reka_b_);                                        \
  } while (0)

#define REKA_CHECK_EQ(a, b) REKA_CHECK_OP_(a, b, ==)
#define REKA_CHECK_NE(a, b) REKA_CHECK_OP_(a, b, !=)
#define REKA_CHECK_LT(a, b) REKA_CHECK_OP_(a, b, <)
#define REKA_CHECK_LE(a, b) REKA_CHECK_OP_(a, b, <=)
#define REKA_CHECK_GT(a, b) REKA_CHECK_OP_(a, b, >)
#define REKA_CHECK_GE(a, b) REKA_CHECK_OP_(a, b, >=)
