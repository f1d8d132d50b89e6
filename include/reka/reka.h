#pragma once

/// Reka: one include for users of the C++ API.
#include "reka/api/DataStream.h"
#include "reka/api/Environment.h"
#include "reka/api/Functions.h"
#include "reka/api/Joins.h"
#include "reka/base/Status.h"
#include "reka/state/KeyedState.h"

namespace reka {
/// The version of this build of Reka.
const char* version();
}  // namespace reka
