#pragma once

#include <string_view>

#include "reka/cep/Pattern.h"

namespace reka::cep {

/// The name of a skip strategy as rules and MATCH_RECOGNIZE spell it ("skip_past_last_event").
std::string_view skipStrategyName(AfterMatchSkipStrategy::Kind kind);
/// The name of a contiguity as rules spell it ("strict", "relaxed", "any", …).
std::string_view contiguityName(Contiguity c);

}  // namespace reka::cep
