#pragma once

// Windowed streams: KeyedStream::window(...) and what can be computed over the windows.
// Included at the end of reka/api/DataStream.h.

#include <chrono>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "reka/operators/AlignedWindowOperator.h"
#include "reka/operators/CountWindowOperator.h"
#include "reka/operators/SessionWindowOperator.h"
#include "reka/operators/WindowSupport.h"
#include "reka/time/Windows.h"

namespace reka {

/// A keyed stream cut into windows. Configure lateness, late-data output and trigger, then
/// aggregate() (incremental: one accumulator per key and pane) or process() (all records of a
/// window at once).
template <class T, class K, class KeyFn, class Assigner, class TsFn>
class WindowedStream {
 public:
  WindowedStream(KeyedStream<T, K, KeyFn> keyed, Assigner assigner, TsFn tsFn)
      : keyed_(std::move(keyed)), assigner_(assigner), tsFn_(std::move(tsFn)) {}

  /// Keeps a fired window's state this long after its end: a late record within it updates the
  /// result (-U old, +U new). Later records are late: counted and sent to the late-data output.
  WindowedStream allowedLateness(std::chrono::milliseconds lateness) const {
    WindowedStream w = *this;
    w.options_.allowedLatenessMs = lateness.count();
    return w;
  }
  /// Sends records that are too late for every window they belong to to `tag` (read it with
  /// sideOutput(tag) on the result stream). Without it they are counted and dropped.
  WindowedStream sideOutputLateData(const OutputTag<T>& tag) const {
    WindowedStream w = *this;
    w.options_.lateTagId = tag.id();
    return w;
  }
  /// Replaces the default trigger (see Trigger).
  WindowedStream trigger(Trigger t) const {
    WindowedStream w = *this;
    w.options_.trigger = t;
    return w;
  }

  /// Incremental aggregation. `agg` has Acc createAccumulator(), add(const T&, Acc&),
  /// merge(const Acc& from, Acc& into) (sliding and session windows), R getResult(const Acc&).
  /// Emits WindowResult<K, R> per key and window. `add` may return bool: false says the record
  /// left the accumulator exactly as it was (a lower value for a maximum), and tumbling and
  /// sliding windows then keep that key out of the next incremental checkpoint.
  template <class Agg>
  auto aggregate(std::string name, Agg agg) const {
    using Acc = std::decay_t<decltype(agg.createAccumulator())>;
    using R = std::decay_t<decltype(agg.getResult(std::declval<const Acc&>()))>;
    using Out = WindowResult<K, R>;
    detail::AggregateEmit<K, Agg, Out> emit{agg};
    return build<Out>(std::move(name), agg, emit);
  }

  /// Full-window processing: fn(const key&, const TimeWindow&, const std::vector<T>& records,
  /// Emitter<Out>&) is called when a window fires (again on each later firing).
  template <class Out, class Fn>
  DataStream<Out> process(std::string name, Fn fn) const {
    detail::CollectAgg<T> agg;
    detail::ProcessEmit<K, T, Out, Fn> emit{std::move(fn)};
    return build<Out>(std::move(name), agg, emit);
  }

 private:
  template <class Out, class Agg, class Emit>
  DataStream<Out> build(std::string name, Agg agg, Emit emit) const {
    auto ports = std::make_shared<detail::SidePorts>();
    if (options_.lateTagId != 0) ports->push_back({options_.lateTagId, [] { return std::make_unique<RecordBatch<T>>(); }});
    KeyFn keyFn = keyed_.keyFn();
    TsFn tsFn = tsFn_;
    Assigner assigner = assigner_;
    WindowOptions options = options_;
    graph::Node n;
    n.name = std::move(name);
    n.kind = "window";
    n.inputs.push_back(keyed_.edge());
    n.outputPorts = static_cast<int>(ports->size()) + 1;
    n.makeOperator = [=]() -> std::unique_ptr<Operator> {
      if constexpr (std::is_same_v<Assigner, TumblingWindows> || std::is_same_v<Assigner, SlidingWindows>) {
        return std::make_unique<detail::AlignedWindowOperator<T, K, KeyFn, TsFn, Agg, Out, Emit>>(
            keyFn, tsFn, agg, emit, detail::AlignedSpec::of(assigner), options, ports);
      } else if constexpr (std::is_same_v<Assigner, SessionWindows>) {
        return std::make_unique<detail::SessionWindowOperator<T, K, KeyFn, TsFn, Agg, Out, Emit>>(
            keyFn, tsFn, agg, emit, assigner, options, ports);
      } else if constexpr (std::is_same_v<Assigner, CountWindows>) {
        return std::make_unique<detail::CountWindowOperator<T, K, KeyFn, Agg, Out, Emit>>(keyFn, agg, emit, assigner,
                                                                                        options, ports);
      } else {
        static_assert(std::is_same_v<Assigner, GlobalWindows>, "unknown window assigner");
        return std::make_unique<detail::GlobalWindowOperator<T, K, KeyFn, Agg, Out, Emit>>(keyFn, agg, emit, options,
                                                                                         ports);
      }
    };
    StreamEnvironment* env = keyed_.stream().env();
    return DataStream<Out>(env, env->jobGraph().addNode(std::move(n)), 0, ports);
  }

  KeyedStream<T, K, KeyFn> keyed_;
  Assigner assigner_;
  TsFn tsFn_;
  WindowOptions options_;
};

template <class T, class K, class KeyFn>
template <class Assigner, class TsFn>
WindowedStream<T, K, KeyFn, Assigner, TsFn> KeyedStream<T, K, KeyFn>::window(Assigner assigner, TsFn tsFn) const {
  return WindowedStream<T, K, KeyFn, Assigner, TsFn>(*this, assigner, std::move(tsFn));
}

template <class T, class K, class KeyFn>
template <class Assigner>
WindowedStream<T, K, KeyFn, Assigner, detail::NoTimestamp<T>> KeyedStream<T, K, KeyFn>::window(Assigner assigner) const {
  return WindowedStream<T, K, KeyFn, Assigner, detail::NoTimestamp<T>>(*this, assigner, detail::NoTimestamp<T>{});
}

}  // namespace reka
