#pragma once

#include <string_view>

#include "reka/cep/Pattern.h"

namespace reka::cep {

/// The name of a skip strategy as listings and messages print it ("skip_past_last_event").
std::string_view skipStrategyName(AfterMatchSkipStrategy::Kind kind);

}  // namespace reka::cep
