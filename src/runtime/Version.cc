#include "reka/reka.h"

namespace reka {
const char* version() { return "0.1.0"; }
}  // namespace reka
