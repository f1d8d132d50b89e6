#pragma once

// Joins of two keyed streams with the same key type, on event time: intervalJoin() and
// windowJoin(). Both need timestamps and watermarks upstream (assignTimestampsAndWatermarks or
// fromSource); state is freed as the watermark advances.
//
// Records kept in join state must own their data: no std::string_view into input buffers.

#include <chrono>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "reka/api/DataStream.h"
#include "reka/base/Check.h"
#include "reka/operators/JoinOperators.h"
#include "reka/operators/WindowSupport.h"
#include "reka/time/Windows.h"

namespace reka {

namespace detail {
/// Adds a two-input keyed node reading `a` and `b` (hash-partitioned by their keys).
template <class Out, class A, class B, class K, class KA, class KB, class MakeOp>
DataStream<Out> addJoinNode(std::string name, const KeyedStream<A, K, KA>& a,
                            const KeyedStream<B, K, KB>& b, std::shared_ptr<SidePorts> ports,
                            MakeOp makeOp) {
  StreamEnvironment* env = a.stream().env();
  REKA_CHECK(env == b.stream().env());  // both streams must belong to the same job
  graph::Node n;
  n.name = std::move(name);
  n.kind = "join";
  n.chainable = false;
  n.inputs.push_back(a.edge());
  n.inputs.push_back(b.edge());
  n.makeOperator = std::move(makeOp);
  return DataStream<Out>(env, env->jobGraph().addNode(std::move(n)), 0, std::move(ports));
}
}  // namespace detail

/// Flink's interval join: calls fn(const A&, const B&, Emitter<Out>&) for every a of `a` and
/// b of `b` with the same key and tsA(a) + lower <= tsB(b) <= tsA(a) + upper (both bounds
/// inclusive; lower may be negative). `tsA` and `tsB` give the records' event times.
/// Records are kept until the watermark shows they can no longer match. A record at or behind
/// the watermark on arrival (ts <= watermark) is late: counted in the operator's lateRecords
/// metric and dropped.
/// lower > upper makes the job fail at start with InvalidArgument.
template <class Out, class A, class B, class K, class KA, class KB, class TsA, class TsB, class Fn>
DataStream<Out> intervalJoin(std::string name, const KeyedStream<A, K, KA>& a,
                             const KeyedStream<B, K, KB>& b, TsA tsA, TsB tsB,
                             std::chrono::milliseconds lower, std::chrono::milliseconds upper,
                             Fn fn) {
  static_assert(std::is_invocable_v<Fn&, const A&, const B&, Emitter<Out>&>,
                "intervalJoin: fn must be callable as fn(const A&, const B&, Emitter<Out>&)");
  auto ports = std::make_shared<detail::SidePorts>();
  KA keyA = a.keyFn();
  KB keyB = b.keyFn();
  const int64_t lowerMs = lower.count();
  const int64_t upperMs = upper.count();
  return detail::addJoinNode<Out>(std::move(name), a, b, ports, [=]() -> std::unique_ptr<Operator> {
    return std::make_unique<detail::IntervalJoinOperator<A, B, K, Out, KA, KB, TsA, TsB, Fn>>(
        keyA, keyB, tsA, tsB, lowerMs, upperMs, fn, ports);
  });
}

/// Window join: assigns the records of `a` and `b` to event-time windows (`windows`:
/// TumblingWindows::eventTime or SlidingWindows::eventTime) and, when the watermark passes a
/// window's end, calls fn(const A&, const B&, const TimeWindow&, Emitter<Out>&) for every pair
/// of the same key in that window (a pair in two sliding windows is emitted twice). Records
/// whose windows have all fired are late: counted in lateRecords and dropped. An invalid or
/// processing-time window spec makes the job fail at start with InvalidArgument.
template <class Out, class A, class B, class K, class KA, class KB, class TsA, class TsB,
          class Assigner, class Fn>
DataStream<Out> windowJoin(std::string name, const KeyedStream<A, K, KA>& a,
                           const KeyedStream<B, K, KB>& b, TsA tsA, TsB tsB, Assigner windows,
                           Fn fn) {
  static_assert(
      std::is_same_v<Assigner, TumblingWindows> || std::is_same_v<Assigner, SlidingWindows>,
      "windowJoin: windows must be TumblingWindows or SlidingWindows");
  static_assert(std::is_invocable_v<Fn&, const A&, const B&, const TimeWindow&, Emitter<Out>&>,
                "windowJoin: fn must be callable as fn(const A&, const B&, const TimeWindow&, "
                "Emitter<Out>&)");
  auto ports = std::make_shared<detail::SidePorts>();
  KA keyA = a.keyFn();
  KB keyB = b.keyFn();
  const detail::AlignedSpec spec = detail::AlignedSpec::of(windows);
  return detail::addJoinNode<Out>(std::move(name), a, b, ports, [=]() -> std::unique_ptr<Operator> {
    return std::make_unique<detail::WindowJoinOperator<A, B, K, Out, KA, KB, TsA, TsB, Fn>>(
        keyA, keyB, tsA, tsB, spec, fn, ports);
  });
}

}  // namespace reka
