#include "reka/connector/Source.h"

#include <xxhash.h>

namespace reka::connector {

int SplitEnumerator::owner(const SplitState& split, int parallelism) const {
  if (parallelism <= 1) return 0;
  return static_cast<int>(XXH3_64bits(split.id.data(), split.id.size()) % static_cast<uint64_t>(parallelism));
}

}  // namespace reka::connector
