#pragma once

#include <cstdint>
#include <string>

#include "nexmark/GeneratorConfig.h"

namespace reka::bench {

/// What a hand-written single-threaded loop computed: the same work as the engine's query with
/// the touching sink (generate every event, compute the rows, hash every field).
struct LoopResult {
  int64_t events = 0;
  int64_t rows = 0;
  uint64_t checksum = 0;
};

/// Runs the hand-written loop for `name` ("q0", "q1", "q2", "keyed-count") over the events of
/// `config` (generator 0..n-1, blocks as the engine's source makes them).
LoopResult runHandWritten(const std::string& name, const nexmark::GeneratorConfig& config);

}  // namespace reka::bench
