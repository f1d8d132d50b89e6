#include "reka/Version.h"

#include "reka/reka.h"

namespace reka {
const char* version() { return REKA_VERSION_STRING; }
}  // namespace reka
