#pragma once

// User-defined scalar functions written in C++: registered by name, then declared in a SQL
// script with CREATE FUNCTION name AS 'registered-name' (as Flink declares a Java class).

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "reka/base/Status.h"
#include "reka/data/Row.h"

namespace reka::sql {

/// A scalar function over a batch: `args[i]` holds argument i's values (of argTypes[i]) for
/// `rows` rows; it fills `out` (already sized for `rows` rows of resultType, every value null)
/// and puts the strings it makes into `arena`. An error fails the job and names the function.
struct ScalarFunction {
  std::string name;  ///< what CREATE FUNCTION … AS '<name>' refers to
  std::string description;
  std::vector<DataType> argTypes;  ///< arguments are converted to these (as CAST does)
  DataType resultType;
  std::function<Status(const std::vector<const Column*>& args, size_t rows, Column& out, StringArena& arena)> eval;
  /// Flink's isDeterministic(): true (the default) when the same arguments always give the same
  /// result, so that a call written twice on the same row (in WHERE and the select list, say) is
  /// computed once; false (a random or clock function) computes every call.
  bool deterministic = true;
};

/// Adds a function, replacing one of the same name. Thread-safe.
void registerScalarFunction(ScalarFunction f);

/// A user-defined aggregate function: its accumulator is bytes (kept in keyed state and in
/// checkpoints as they are). `accumulate` adds row `row` of the argument columns (none null),
/// `retract` takes one back (null: the function cannot read a changelog), `result` writes the
/// result of an accumulator into row `row` of `out` (strings into `arena`; leaving it null is
/// allowed). Declared in SQL with CREATE FUNCTION name AS '<name>', like a scalar function.
struct AggregateFunction {
  std::string name;
  std::string description;
  std::vector<DataType> argTypes;  ///< arguments are converted to these (as CAST does)
  DataType resultType;
  std::string initial;  ///< the accumulator of no rows
  std::function<void(std::string& acc, const std::vector<const Column*>& args, size_t row)> accumulate;
  std::function<void(std::string& acc, const std::vector<const Column*>& args, size_t row)> retract;
  std::function<void(const std::string& acc, Column& out, size_t row, StringArena& arena)> result;
};

/// Adds an aggregate function, replacing one of the same name. Thread-safe.
void registerAggregateFunction(AggregateFunction f);
/// The aggregate function registered as `name`, or an error that lists the registered ones.
Result<const AggregateFunction*> findAggregateFunction(std::string_view name);
/// The function registered as `name`, or an error that lists the registered ones.
Result<const ScalarFunction*> findScalarFunction(std::string_view name);
std::vector<const ScalarFunction*> scalarFunctions();

namespace detail {
template <class T>
DataType sqlTypeOf() {
  if constexpr (std::is_same_v<T, bool>) return DataType::boolean();
  else if constexpr (std::is_same_v<T, int32_t>) return DataType::integer();
  else if constexpr (std::is_same_v<T, int64_t>) return DataType::bigint();
  else if constexpr (std::is_same_v<T, double>) return DataType::float64();
  else if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>) return DataType::string();
  else static_assert(sizeof(T) == 0, "a row function takes and returns bool, int32_t, int64_t, double, std::string_view or std::string");
}
template <class T>
T valueAt(const Column& c, size_t i) {
  if constexpr (std::is_same_v<T, double>) return c.doubles[i];
  else if constexpr (std::is_same_v<T, std::string_view>) return c.strings[i];
  else return static_cast<T>(c.ints[i]);
}
template <class T>
void setValue(Column& out, size_t i, T v, StringArena& arena) {
  out.nulls[i] = 0;
  if constexpr (std::is_same_v<T, double>) out.doubles[i] = v;
  else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>) out.strings[i] = arena.copy(v);
  else out.ints[i] = static_cast<int64_t>(v);
}
template <class R, class... A, class F, size_t... I>
ScalarFunction rowFunction(std::string name, std::string description, F fn, std::index_sequence<I...>) {
  ScalarFunction f;
  f.name = std::move(name);
  f.description = std::move(description);
  f.argTypes = {sqlTypeOf<A>()...};
  f.resultType = sqlTypeOf<R>();
  f.eval = [fn](const std::vector<const Column*>& args, size_t rows, Column& out, StringArena& arena) -> Status {
    for (size_t i = 0; i < rows; ++i) {
      if ((args[I]->nulls[i] || ...)) continue;  // null in, null out
      setValue<R>(out, i, fn(valueAt<A>(*args[I], i)...), arena);
    }
    return Status::ok();
  };
  return f;
}
}  // namespace detail

/// A scalar function from a plain C++ function of its values, e.g.
///   rowFunction<int64_t, std::string_view, std::string_view>("count_char", "…", countChar)
/// (types: bool, int32_t, int64_t, double, std::string_view in, std::string out). A null argument
/// gives null without a call. The call inlines into the batch loop.
template <class R, class... A, class F>
ScalarFunction rowFunction(std::string name, std::string description, F fn) {
  return detail::rowFunction<R, A...>(std::move(name), std::move(description), std::move(fn), std::index_sequence_for<A...>{});
}

/// An aggregate function over a trivially copyable accumulator `Acc`, e.g. a weighted average:
///   aggregateFunction<Acc, double, double, int64_t>("wavg", "…", [](Acc& a, double v, int64_t w) {…},
///                                                  [](const Acc& a) { return a.sum / a.weight; });
/// `add(acc, args…)` for each row without a null argument; `result(acc)` gives the value (types
/// as for rowFunction). A retract function (same signature as add) lets it read changelogs.
template <class Acc, class R, class... A, class Add, class Res>
AggregateFunction aggregateFunction(std::string name, std::string description, Add add, Res result, std::function<void(Acc&, A...)> retract = {}) {
  static_assert(std::is_trivially_copyable_v<Acc>, "the accumulator is kept as bytes: it must be trivially copyable");
  AggregateFunction f;
  f.name = std::move(name);
  f.description = std::move(description);
  f.argTypes = {detail::sqlTypeOf<A>()...};
  f.resultType = detail::sqlTypeOf<R>();
  Acc zero{};
  f.initial.assign(reinterpret_cast<const char*>(&zero), sizeof zero);
  auto apply = [](auto fn) {
    return [fn](std::string& acc, const std::vector<const Column*>& args, size_t row) {
      Acc a;
      std::memcpy(&a, acc.data(), sizeof a);
      [&]<size_t... I>(std::index_sequence<I...>) { fn(a, detail::valueAt<A>(*args[I], row)...); }(std::index_sequence_for<A...>{});
      std::memcpy(acc.data(), &a, sizeof a);
    };
  };
  f.accumulate = apply(add);
  if (retract) f.retract = apply(retract);
  f.result = [result](const std::string& acc, Column& out, size_t row, StringArena& arena) {
    Acc a;
    std::memcpy(&a, acc.data(), sizeof a);
    detail::setValue<R>(out, row, result(static_cast<const Acc&>(a)), arena);
  };
  return f;
}

}  // namespace reka::sql
