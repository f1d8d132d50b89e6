#pragma once

#include <cstdint>

namespace reka::nexmark {

/// Everything that determines a NEXMark stream (docs/nexmark.md, Events: Stream structure, Schemas, Time and rate). A stream is a pure
/// function of this configuration: same config, same events, whatever the parallelism.
struct GeneratorConfig {
  static constexpr int64_t kBaseTime = 1436918400000;  // 2015-07-15T00:00:00Z
  static constexpr int64_t kFirstPersonId = 1000;
  static constexpr int64_t kFirstAuctionId = 1000;
  static constexpr int64_t kFirstCategoryId = 10;
  static constexpr int64_t kProportionDenominator = 50;  // P:A:B = 1:3:46

  uint64_t seed = 0;
  int64_t events = 0;            ///< N: total events over all generators
  double rate = 10'000'000;      ///< R: aggregate event-time rate, events per second
  int generators = 1;            ///< n: parallel generators (disjoint id ranges)
  int64_t outOfOrderGroupSize = 1;  ///< g: disorder group size (1 = in order)
  int64_t firstEventId = 0;
  int64_t firstEventNumber = 0;
};

}  // namespace reka::nexmark
