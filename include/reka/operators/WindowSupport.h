#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "reka/api/Functions.h"
#include "reka/time/Windows.h"

namespace reka::detail {

/// The timestamp function of processing-time, count and global windows (never called).
template <class T>
struct NoTimestamp {
  int64_t operator()(const T&) const { return kMinTime; }
};

/// The accumulator of full-window process functions: every record, in arrival order.
/// Records kept in window state must own their data (no views into input buffers).
template <class T>
struct CollectAgg {
  using Acc = std::vector<T>;
  Acc createAccumulator() const { return {}; }
  void add(const T& v, Acc& a) const { a.push_back(v); }
  void merge(const Acc& from, Acc& into) const { into.insert(into.end(), from.begin(), from.end()); }
  const Acc& getResult(const Acc& a) const { return a; }
};

/// How a window operator turns (key, window, accumulator, row kind) into output records.
/// Window operators call it with kInsert for a first result, and for a later firing of the same
/// (key, window) with kUpdateBefore (the previous accumulator) then kUpdateAfter (the new one).
/// Aggregations emit WindowResult rows.
template <class K, class Agg, class Out>
struct AggregateEmit {
  Agg agg;
  template <class Acc>
  void operator()(const StoredKeyOf<K>& key, const TimeWindow& w, const Acc& acc, RowKind kind, Emitter<Out>& out) {
    out.emit(Out{key, w, agg.getResult(acc), kind});
  }
};

/// Full-window functions: fn(key, window, records, emitter) on every firing (no retraction).
template <class K, class T, class Out, class Fn>
struct ProcessEmit {
  Fn fn;
  void operator()(const StoredKeyOf<K>& key, const TimeWindow& w, const std::vector<T>& records, RowKind kind,
                  Emitter<Out>& out) {
    if (kind == RowKind::kUpdateBefore) return;
    fn(key, w, records, out);
  }
};

/// Tumbling and sliding windows as one shape: windows of `size` every `slide`, computed from
/// panes of gcd(size, slide).
struct AlignedSpec {
  int64_t sizeMs = 0;
  int64_t slideMs = 0;
  int64_t offsetMs = 0;
  TimeDomain domain = TimeDomain::kEventTime;
  Status status;  ///< the assigner's validation result (reported at open())

  static AlignedSpec of(const TumblingWindows& w) { return {w.sizeMs, w.sizeMs, w.offsetMs, w.domain, w.validate()}; }
  static AlignedSpec of(const SlidingWindows& w) { return {w.sizeMs, w.slideMs, w.offsetMs, w.domain, w.validate()}; }
  int64_t paneMs() const;
};

inline int64_t AlignedSpec::paneMs() const {
  int64_t a = sizeMs, b = slideMs;
  while (b != 0) {
    int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

}  // namespace reka::detail
