#pragma once

// User-defined scalar functions written in C++: registered by name, then declared in a SQL
// script with CREATE FUNCTION name AS 'registered-name' (as Flink declares a Java class).

#include <cstdint>
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
};

/// Adds a function, replacing one of the same name. Thread-safe.
void registerScalarFunction(ScalarFunction f);
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

}  // namespace reka::sql
