#include "HandWritten.h"

#include <absl/container/flat_hash_map.h>

#include <stdexcept>

#include "nexmark/Rows.h"
#include "reka/data/StringArena.h"
#include "nexmark/Generator.h"

namespace reka::bench {

namespace {
template <class PerEvent>
LoopResult forEachEvent(const nexmark::GeneratorConfig& config, PerEvent&& perEvent) {
  auto gen = nexmark::Generator::make(config);
  if (!gen.isOk()) throw std::runtime_error(gen.status().toString());
  LoopResult r;
  constexpr int64_t kBlock = 1024;
  for (int g = 0; g < config.generators; ++g) {
    const int64_t count = gen->eventCount(g);
    for (int64_t first = 0; first < count; first += kBlock) {
      StringArena arena;  // one per block, as the engine's source does per batch
      const int64_t last = std::min(first + kBlock, count);
      for (int64_t k = first; k < last; ++k) {
        nexmark::Event e = gen->event(g, k, arena);
        perEvent(e, r);
      }
      r.events += last - first;
    }
  }
  return r;
}
}  // namespace

LoopResult runHandWritten(const std::string& name, const nexmark::GeneratorConfig& config) {
  using namespace nexmark;
  if (name == "q0") {
    return forEachEvent(config, [](const Event& e, LoopResult& r) {
      if (!e.isBid()) return;
      r.checksum += BidRow{e.bid}.touch();
      ++r.rows;
    });
  }
  if (name == "q1") {
    return forEachEvent(config, [](const Event& e, LoopResult& r) {
      if (!e.isBid()) return;
      r.checksum += Q1Row{e.bid.auction, e.bid.bidder, e.bid.price * 908, e.bid.dateTime}.touch();
      ++r.rows;
    });
  }
  if (name == "q2") {
    return forEachEvent(config, [](const Event& e, LoopResult& r) {
      if (!e.isBid() || e.bid.auction % 123 != 0) return;
      r.checksum += Q2Row{e.bid.auction, e.bid.price}.touch();
      ++r.rows;
    });
  }
  if (name == "keyed-count") {
    absl::flat_hash_map<int64_t, int64_t> counts;
    return forEachEvent(config, [&counts](const Event& e, LoopResult& r) {
      if (!e.isBid()) return;
      int64_t c = ++counts[e.bid.auction];
      r.checksum += combine(touchInt(e.bid.auction), touchInt(c));
      ++r.rows;
    });
  }
  throw std::runtime_error("no hand-written loop for " + name);
}

}  // namespace reka::bench
