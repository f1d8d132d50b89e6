// Checks what an installed Reka offers: the version macros agree with the library, the public
// headers compile on their own, and the private ones (src/) are not on the include path.
#include <cstdio>
#include <cstring>

#include "reka/Version.h"
#include "reka/reka.h"
#include "reka/sql/Sql.h"
#include "reka/web/RestServer.h"

#if __has_include("runtime/Task.h")
#error "Reka's private headers (src/) are on an installed package's include path"
#endif

static_assert(REKA_VERSION == REKA_VERSION_MAJOR * 10000 + REKA_VERSION_MINOR * 100 + REKA_VERSION_PATCH);

int main() {
  if (std::strcmp(reka::version(), REKA_VERSION_STRING) != 0) {
    std::fprintf(stderr, "the library says %s, the header %s\n", reka::version(), REKA_VERSION_STRING);
    return 1;
  }
  // A SQL job through the installed library: the datagen connector into blackhole.
  reka::StreamEnvironment env;
  auto script = reka::sql::SqlScript::compile(
      "CREATE TABLE g (x BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1000');"
      "CREATE TABLE b (x BIGINT) WITH ('connector' = 'blackhole');"
      "INSERT INTO b SELECT x FROM g;");
  if (!script.isOk() || !script->addTo(env).isOk() || !env.execute().isOk()) {
    std::fprintf(stderr, "the SQL job failed: %s\n", script.isOk() ? "at run time" : script.status().message().c_str());
    return 1;
  }
  std::printf("installed Reka %s works\n", reka::version());
  return 0;
}
