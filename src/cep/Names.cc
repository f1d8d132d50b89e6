#include "reka/cep/Names.h"

namespace reka::cep {

std::string_view skipStrategyName(AfterMatchSkipStrategy::Kind kind) {
  switch (kind) {
    case AfterMatchSkipStrategy::Kind::kNoSkip:
      return "no_skip";
    case AfterMatchSkipStrategy::Kind::kSkipToNext:
      return "skip_to_next";
    case AfterMatchSkipStrategy::Kind::kSkipPastLastEvent:
      return "skip_past_last_event";
    case AfterMatchSkipStrategy::Kind::kSkipToFirst:
      return "skip_to_first";
    case AfterMatchSkipStrategy::Kind::kSkipToLast:
      return "skip_to_last";
  }
  return "?";
}

}  // namespace reka::cep
