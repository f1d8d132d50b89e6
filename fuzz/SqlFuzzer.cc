// Fuzzes the SQL front end (src/sql/): the input is a script, compiled against the connector
// registry. Checks: parsing, binding and planning never crash or hang; every failure is a
// Status with a message.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "reka/sql/Sql.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto script = reka::sql::SqlScript::compile(text);
  if (!script.isOk()) {
    if (script.status().message().empty()) std::abort();
    return 0;
  }
  if (script->explain().empty()) std::abort();
  return 0;
}
