#include "reka/sql/Functions.h"

#include "connectors/NamedRegistry.h"

namespace reka::sql {

namespace {
connector::NamedRegistry<ScalarFunction>& registry() {
  static auto* r = new connector::NamedRegistry<ScalarFunction>("function", {});
  return *r;
}
connector::NamedRegistry<AggregateFunction>& aggregates() {
  static auto* r = new connector::NamedRegistry<AggregateFunction>("aggregate function", {});
  return *r;
}
}  // namespace

void registerScalarFunction(ScalarFunction f) { registry().add(std::move(f)); }
Result<const ScalarFunction*> findScalarFunction(std::string_view name) { return registry().find(name); }
std::vector<const ScalarFunction*> scalarFunctions() { return registry().all(); }

void registerAggregateFunction(AggregateFunction f) { aggregates().add(std::move(f)); }
Result<const AggregateFunction*> findAggregateFunction(std::string_view name) { return aggregates().find(name); }

}  // namespace reka::sql
