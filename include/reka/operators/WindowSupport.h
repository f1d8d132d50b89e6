#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/api/Functions.h"
#include "reka/base/Status.h"
#include "reka/state/NamespacedStore.h"
#include "reka/state/Serde.h"
#include "reka/state/StateBackend.h"
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

/// Where a window or join operator keeps its contents, values of type V by (namespace: a pane's
/// start, a window's end; key):
/// - with a backend that keeps state in a store (RocksDB): in a NamespacedStore named `table`
///   there (`store`), so that one switch moves the operator's contents off the heap;
/// - on the heap backend: in the operator's own maps, checkpointed with the operator (tracked
///   deltas where it has them); a heap table of the same name is registered (`adopted`), in
///   which a checkpoint taken on RocksDB arrives, and the operator moves its entries into its
///   maps after a restore (drainAdopted).
/// Types without a Serde stay on the heap, and the RocksDB backend refuses them with a message.
template <class K, class V>
struct OwnContents {
  std::optional<NamespacedStore<K, V>> store;
  KeyedTable<std::pair<int64_t, K>, V>* adopted = nullptr;

  Status open(OperatorContext& ctx, const std::string& table) {
    if (ctx.state == nullptr) return Status::ok();
    if constexpr (HasSerde<K>::value && HasSerde<V>::value) {
      if (ctx.state->hasStore()) {
        auto s = NamespacedStore<K, V>::open(*ctx.state, table);
        if (!s.isOk()) return s.status();
        store.emplace(std::move(*s));
      } else {
        auto t = ctx.state->template keyedTable<std::pair<int64_t, K>, V>(table);
        if (!t.isOk()) return t.status();
        adopted = *t;
      }
      return Status::ok();
    } else {
      if (!ctx.state->hasStore()) return Status::ok();
      return Status::notSupported("operator '" + ctx.name + "' keeps its " + table + " in the " +
                                  std::string(ctx.state->kind()) +
                                  " state backend, which needs a Serde for its key and value types; specialise "
                                  "reka::Serde<T> for them (reka/state/Serde.h) or use the heap backend");
    }
  }

  /// Heap: calls `fn(ns, key, value)` for every entry a restore put in the adopted table (state
  /// checkpointed on RocksDB) and erases it there, so that the next checkpoints of that table
  /// record the erasure and a later restore does not bring it back.
  template <class Fn>
  void drainAdopted(Fn&& fn) {
    if (adopted == nullptr) return;
    const KeyGroupRange range = adopted->range();
    std::vector<std::pair<int64_t, K>> taken;
    for (int32_t g = range.first; g <= range.last; ++g) {
      auto& map = adopted->mapOf(KeyGroup{g});
      if (map.size() == 0) continue;
      taken.clear();
      for (const auto& [entry, value] : map) {
        fn(entry.first, entry.second, value);
        taken.push_back(entry);
      }
      for (const auto& entry : taken) map.erase(entry);
    }
  }
};

// Checkpoints of the window and join operators (Operator::snapshotState). Each blob starts with
// a version byte, followed by the operator's fields written with Serde.

/// The format version of the window and join operators' snapshot blobs.
inline constexpr uint8_t kOperatorSnapshotVersion = 1;

/// The operator's name for snapshot errors (empty before open()).
inline std::string snapshotOperatorName(const OperatorContext* ctx) {
  return ctx != nullptr ? ctx->name : std::string();
}

/// What snapshotState returns when a type the operator keeps in memory cannot be serialised.
inline Status snapshotNotSupported(const OperatorContext* ctx, std::string_view what) {
  return Status::notSupported(
      "operator '" + snapshotOperatorName(ctx) + "': " + std::string(what) +
      " type has no Serde specialisation; specialise reka::Serde<T> to checkpoint it");
}

/// checkSnapshottable() of an operator that keeps keys and accumulators: NotSupported naming
/// the first of the two types without a Serde.
template <class Key, class Acc>
Status keysAndAccumulatorsSnapshottable(const OperatorContext* ctx) {
  if constexpr (!HasSerde<Key>::value) {
    return snapshotNotSupported(ctx, "key");
  } else if constexpr (!HasSerde<Acc>::value) {
    return snapshotNotSupported(ctx, "accumulator");
  } else {
    (void)ctx;
    return Status::ok();
  }
}

/// A blob that cannot be read back.
inline Status snapshotCorruption(const OperatorContext* ctx, std::string_view why) {
  return Status::corruption("operator '" + snapshotOperatorName(ctx) + "': " + std::string(why));
}

/// Reads the version byte of a blob: Corruption if it is missing or not kOperatorSnapshotVersion.
inline Status readSnapshotVersion(std::string_view& in, const OperatorContext* ctx) {
  uint8_t version = 0;
  if (!Serde<uint8_t>::read(in, version)) return snapshotCorruption(ctx, "empty snapshot");
  if (version != kOperatorSnapshotVersion)
    return snapshotCorruption(ctx, "unknown snapshot version " + std::to_string(version) +
                                       " (this build reads version " +
                                       std::to_string(kOperatorSnapshotVersion) + ")");
  return Status::ok();
}

/// The end of a restore: Corruption if reading failed or bytes are left over.
inline Status finishSnapshotRead(bool ok, std::string_view rest, const OperatorContext* ctx) {
  if (!ok) return snapshotCorruption(ctx, "truncated or malformed snapshot");
  if (!rest.empty())
    return snapshotCorruption(
        ctx, std::to_string(rest.size()) + " unexpected bytes at the end of the snapshot");
  return Status::ok();
}

/// Reads an element count; counts above the bytes left are malformed (each element takes at
/// least one byte), which bounds what a corrupt blob can make a restore allocate.
inline bool readSnapshotCount(std::string_view& in, uint64_t& n) {
  return Serde<uint64_t>::read(in, n) && n <= in.size();
}

inline void writeSnapshotWindow(const TimeWindow& w, std::string& out) {
  Serde<int64_t>::write(w.start, out);
  Serde<int64_t>::write(w.end, out);
}
/// Reads a window and checks that a window operator could have made it: it starts at a valid
/// timestamp and ends after its start, at most a gap (kMaxWindowSpanMs) past the last valid
/// timestamp. Anything else is corrupt, and its arithmetic (maxTimestamp, cleanup times) could
/// leave 64 bits (found by the state fuzzer: a restored session ending at INT64_MIN).
inline bool readSnapshotWindow(std::string_view& in, TimeWindow& w) {
  return Serde<int64_t>::read(in, w.start) && Serde<int64_t>::read(in, w.end) && isValidEventTimestamp(w.start) &&
         w.start < w.end && w.end <= kMaxEventTimestamp + kMaxWindowSpanMs;
}

/// Restore at another parallelism (Operator::absorbRescaled): copies the entries of `from`, an
/// old subtask's map of key → per-key state (with a `keyGroup` member), whose keys are in this
/// subtask's key groups, into `to`.
template <class K, class Map>
void absorbOwnedKeys(const OperatorContext& ctx, const Map& from, Map& to) {
  for (const auto& [key, st] : from) {
    const KeyGroup kg = keyGroupFor(hashKey(K(key)), ctx.maxParallelism);
    if (!ctx.keyGroups.contains(kg)) continue;
    auto copy = st;
    copy.keyGroup = kg;
    to.try_emplace(key, std::move(copy));
  }
}

}  // namespace reka::detail
