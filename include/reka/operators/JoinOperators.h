#pragma once

// Joins of two keyed streams on event time: the interval join and the window join (tumbling
// or sliding windows). Both keep every buffered record per key: in the operator's memory on the
// heap backend, in the backend's store on RocksDB (OwnContents).
//
// Records kept in join state must own their data: a record type that holds a std::string_view
// into its input batch's buffers would dangle once that batch is released. Map such records to
// owning types (std::string) before the join.

#include <absl/container/btree_map.h>
#include <absl/container/btree_set.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/api/detail/StreamOperators.h"
#include "reka/operators/WindowSupport.h"
#include "reka/state/StateBackend.h"
#include "reka/time/Windows.h"

namespace reka::detail {


/// One side of an interval join: its records per key, ordered by timestamp, plus the times at
/// which they stop being needed. Owned by one operator instance (one task).
///
/// The records are in `byKey_` on the heap backend; on a backend with a store (RocksDB) they
/// are a sorted list per key there (namespace 0 of a NamespacedStore), read through its cache.
/// The cleanup index (time, key) stays on the heap, as timers do.
template <class K, class T>
class IntervalJoinBuffer {
 public:
  using StoredKey = StoredKeyOf<K>;
  /// A key's records in a store: (timestamp, record), by timestamp, arrival order among equals.
  using StoredRecords = std::vector<std::pair<int64_t, T>>;

  /// Where the records are kept (see OwnContents); `table` names the state.
  Status open(OperatorContext& ctx, const std::string& table) { return contents_.open(ctx, table); }

  /// Keeps `record` (timestamp `ts`) of `key` until the watermark reaches `cleanupAt`.
  void add(const K& key, int64_t ts, int64_t cleanupAt, const T& record) {
    if (contents_.store) {
      contents_.store->update(0, key, [] { return StoredRecords{}; }, [&](StoredRecords& records) {
        auto at = std::upper_bound(records.begin(), records.end(), ts,
                                   [](int64_t t, const std::pair<int64_t, T>& r) { return t < r.first; });
        records.emplace(at, ts, record);
        return true;
      });
      due_.insert(Due(cleanupAt, StoredKey(key)));
      return;
    }
    auto it = byKey_.find(key);
    if (it == byKey_.end()) it = byKey_.try_emplace(StoredKey(key)).first;
    it->second.emplace(ts, record);
    due_.insert(Due(cleanupAt, StoredKey(key)));
  }

  /// Calls f(record) for every record of `key` with lo <= timestamp <= hi, in timestamp order.
  template <class F>
  void forEachBetween(const K& key, int64_t lo, int64_t hi, F&& f) {
    if (lo > hi) return;
    if (contents_.store) {
      const StoredRecords* records = contents_.store->find(0, key);
      if (records == nullptr) return;
      auto r = std::lower_bound(records->begin(), records->end(), lo,
                                [](const std::pair<int64_t, T>& e, int64_t t) { return e.first < t; });
      for (; r != records->end() && r->first <= hi; ++r) f(r->second);
      return;
    }
    auto it = byKey_.find(key);
    if (it == byKey_.end()) return;
    const auto& records = it->second;
    for (auto r = records.lower_bound(lo); r != records.end() && r->first <= hi; ++r) f(r->second);
  }

  /// Appends the buffer to `out` (needs Serde for the key and record types):
  ///   u64 keys, keys × (key, u64 n, n × (i64 ts, record)), u64 due, due × (i64 at, key).
  /// Records of a key keep their order, equal timestamps included.
  void snapshot(std::string& out) const {
    Serde<uint64_t>::write(byKey_.size(), out);
    for (const auto& [key, records] : byKey_) {
      Serde<StoredKey>::write(key, out);
      Serde<uint64_t>::write(records.size(), out);
      for (const auto& [ts, record] : records) {
        Serde<int64_t>::write(ts, out);
        Serde<T>::write(record, out);
      }
    }
    Serde<uint64_t>::write(due_.size(), out);
    for (const Due& d : due_) {
      Serde<int64_t>::write(d.first, out);
      Serde<StoredKey>::write(d.second, out);
    }
  }

  /// Replaces the buffer with one read from `in` (what snapshot wrote), consuming it; false if
  /// `in` is truncated or malformed (the buffer is then unchanged).
  bool restore(std::string_view& in) {
    StateMap<StoredKey, absl::btree_multimap<int64_t, T>> byKey;
    absl::btree_set<Due> due;
    uint64_t keyCount = 0;
    bool ok = readSnapshotCount(in, keyCount);
    for (uint64_t k = 0; ok && k < keyCount; ++k) {
      StoredKey key{};
      uint64_t n = 0;
      ok = Serde<StoredKey>::read(in, key) && readSnapshotCount(in, n) && n > 0;
      if (!ok) break;
      auto& records = byKey[std::move(key)];
      ok = records.empty();  // keys are unique
      for (uint64_t i = 0; ok && i < n; ++i) {
        int64_t ts = 0;
        T record{};
        ok = Serde<int64_t>::read(in, ts) && Serde<T>::read(in, record);
        if (ok) records.emplace(ts, std::move(record));  // after equal timestamps: order kept
      }
    }
    uint64_t dueCount = 0;
    ok = ok && readSnapshotCount(in, dueCount);
    for (uint64_t i = 0; ok && i < dueCount; ++i) {
      Due d;
      ok = Serde<int64_t>::read(in, d.first) && Serde<StoredKey>::read(in, d.second);
      if (ok) due.insert(std::move(d));
    }
    if (!ok) return false;
    byKey_ = std::move(byKey);
    due_ = std::move(due);
    return true;
  }
  /// Takes what `restored` read (restore) into this opened buffer, and moves records that
  /// arrived where this backend does not keep them to where it does.
  void takeRestored(IntervalJoinBuffer&& restored) {
    byKey_ = std::move(restored.byKey_);
    due_ = std::move(restored.due_);
    settleRestoredContents();
  }

  /// Restore at another parallelism: adds the records and cleanup entries of `from` (an old
  /// subtask's buffer) whose keys `owned(key)` accepts.
  template <class Owned>
  void absorb(const IntervalJoinBuffer& from, Owned&& owned) {
    for (const auto& [key, records] : from.byKey_)
      if (owned(key)) byKey_[key].insert(records.begin(), records.end());
    for (const Due& d : from.due_)
      if (owned(d.second)) due_.insert(d);
    settleRestoredContents();
  }

  /// The earliest cleanup time of a kept record (INT64_MAX: none).
  int64_t nextDue() const { return due_.empty() ? INT64_MAX : due_.begin()->first; }

  /// Drops every record whose cleanup time, cleanupOf(timestamp), is at or before `watermark`.
  /// cleanupOf must be non-decreasing in the timestamp (it is ts + a constant, saturated).
  template <class CleanupOf>
  void expire(int64_t watermark, CleanupOf&& cleanupOf) {
    while (!due_.empty() && due_.begin()->first <= watermark) {
      auto node = due_.extract(due_.begin());
      if (contents_.store) {
        bool empty = false;
        contents_.store->update(0, node.value().second, [] { return StoredRecords{}; }, [&](StoredRecords& records) {
          size_t n = 0;
          while (n < records.size() && cleanupOf(records[n].first) <= watermark) ++n;
          records.erase(records.begin(), records.begin() + static_cast<std::ptrdiff_t>(n));
          empty = records.empty();
          return n > 0;
        });
        if (empty) contents_.store->erase(0, node.value().second);
        continue;
      }
      auto it = byKey_.find(node.value().second);
      if (it == byKey_.end()) continue;
      auto& records = it->second;
      while (!records.empty() && cleanupOf(records.begin()->first) <= watermark)
        records.erase(records.begin());
      if (records.empty()) byKey_.erase(it);
    }
  }

 private:
  using Due = std::pair<int64_t, StoredKey>;

  /// After a restore: records that arrived where this backend does not keep them move to where
  /// it does (see AlignedWindowOperator::settleRestoredContents).
  void settleRestoredContents() {
    if (contents_.store) {
      for (const auto& [key, records] : byKey_) {
        StoredRecords list(records.begin(), records.end());
        contents_.store->put(0, key, std::move(list));
      }
      byKey_.clear();
    } else {
      contents_.drainAdopted([this](int64_t, const StoredKey& key, const StoredRecords& records) {
        auto& mine = byKey_[key];
        for (const auto& [ts, record] : records) mine.emplace(ts, record);
      });
    }
  }

  StateMap<StoredKey, absl::btree_multimap<int64_t, T>> byKey_;
  absl::btree_set<Due> due_;  // (cleanup time, key): one entry per distinct pair
  OwnContents<StoredKey, StoredRecords> contents_;
};

/// Flink's interval join: for every a of input 0 and b of input 1 with the same key and
/// tsA(a) + lower <= tsB(b) <= tsA(a) + upper (both bounds inclusive) calls fn(a, b, emitter).
///
/// Each side is buffered per key and probed by every record of the other side. Watermark `wm`
/// promises later records have timestamps above wm, so an a can still meet a later b only while
/// tsA + upper > wm, and a b a later a only while tsB - lower > wm; records past that are
/// dropped when the watermark arrives, before it is forwarded (and a record already past it on
/// arrival is probed but not kept). A record at or behind the watermark (ts <= wm) is late: the
/// partners it could have had may already be gone (a b at tsA + lower is dropped once
/// wm >= tsA), so, like Flink, it is counted in lateRecords and dropped without being joined.
/// Invalid bounds (lower > upper) fail open() with InvalidArgument.
template <class A, class B, class K, class Out, class KeyA, class KeyB, class TsA, class TsB,
          class Fn>
class IntervalJoinOperator final : public EmittingOperator<Out> {
 public:
  IntervalJoinOperator(KeyA keyA, KeyB keyB, TsA tsA, TsB tsB, int64_t lowerMs, int64_t upperMs,
                       Fn fn, std::shared_ptr<const SidePorts> ports)
      : EmittingOperator<Out>(std::move(ports)),
        keyA_(std::move(keyA)),
        keyB_(std::move(keyB)),
        tsA_(std::move(tsA)),
        tsB_(std::move(tsB)),
        lower_(lowerMs),
        upper_(upperMs),
        fn_(std::move(fn)) {}

  Status open(OperatorContext& ctx) override {
    if (lower_ > upper_) {
      return Status::invalidArgument("interval join: the lower bound (" + std::to_string(lower_) +
                                     " ms) must not be above the upper bound (" +
                                     std::to_string(upper_) + " ms)");
    }
    REKA_RETURN_IF_ERROR(EmittingOperator<Out>::open(ctx));
    REKA_RETURN_IF_ERROR(bufferA_.open(ctx, "records-1"));
    return bufferB_.open(ctx, "records-2");
  }

  void processBatch(int input, Batch& batch) override {
    source_ = &batch;
    if (input == 0) {
      for (const A& a : static_cast<RecordBatch<A>&>(batch).records) addA(a);
    } else {
      for (const B& b : static_cast<RecordBatch<B>&>(batch).records) addB(b);
    }
    emitter_.flushEmitted(&batch);
    source_ = nullptr;
  }

  void processWatermark(int64_t wm) override {
    watermark_ = wm;
    bufferA_.expire(wm, [this](int64_t ts) { return addSaturating(ts, upper_); });
    bufferB_.expire(wm, [this](int64_t ts) { return subSaturating(ts, lower_); });
    this->forwardWatermark(wm);
  }

  /// The earliest cleanup of a buffered record: the watermark must pass it before the record
  /// can no longer be joined.
  int64_t nextEventTimer() const override { return std::min(bufferA_.nextDue(), bufferB_.nextDue()); }

  static constexpr bool kSnapshottable = HasSerde<StoredKeyOf<K>>::value && HasSerde<A>::value && HasSerde<B>::value;
  /// Whether this operator's state types can be checkpointed (each has a Serde): the runtime
  /// asks before a job with checkpoints starts.
  Status checkSnapshottable() const override {
    if constexpr (!HasSerde<StoredKeyOf<K>>::value) {
      return snapshotNotSupported(this->ctx_, "key");
    } else if constexpr (!HasSerde<A>::value) {
      return snapshotNotSupported(this->ctx_, "first input's record");
    } else if constexpr (!HasSerde<B>::value) {
      return snapshotNotSupported(this->ctx_, "second input's record");
    } else {
      return Status::ok();
    }
  }

  /// Writes the watermark and both buffers. Version 1:
  ///   u8 version, i64 watermark, buffer of input 0, buffer of input 1
  /// (see IntervalJoinBuffer::snapshot).
  Status snapshotState(int64_t, std::string& out) override {
    if constexpr (!kSnapshottable) {
      return checkSnapshottable();
    } else {
      Serde<uint8_t>::write(kOperatorSnapshotVersion, out);
      Serde<int64_t>::write(watermark_, out);
      bufferA_.snapshot(out);
      bufferB_.snapshot(out);
      return Status::ok();
    }
  }

  /// Restores what snapshotState wrote into a freshly opened operator.
  Status restoreState(std::string_view in) override {
    if constexpr (!kSnapshottable) {
      return checkSnapshottable();
    } else {
      REKA_RETURN_IF_ERROR(readSnapshotVersion(in, this->ctx_));
      int64_t watermark = kMinTime;
      IntervalJoinBuffer<K, A> bufferA;
      IntervalJoinBuffer<K, B> bufferB;
      const bool ok =
          Serde<int64_t>::read(in, watermark) && bufferA.restore(in) && bufferB.restore(in);
      REKA_RETURN_IF_ERROR(finishSnapshotRead(ok, in, this->ctx_));
      watermark_ = watermark;
      bufferA_.takeRestored(std::move(bufferA));
      bufferB_.takeRestored(std::move(bufferB));
      return Status::ok();
    }
  }

  /// At another parallelism: every new subtask takes, from every old subtask, the buffered
  /// records of the keys in its own key groups; the watermark is the lowest absorbed.
  Operator::OwnStateRescale ownStateRescale() const override { return Operator::OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator& scratch, const Operator::RescaledPart&) override {
    auto* from = dynamic_cast<IntervalJoinOperator*>(&scratch);
    if (from == nullptr) return Status::internal("a rescaled restore handed over another kind of operator");
    watermark_ = absorbed_ ? std::min(watermark_, from->watermark_) : from->watermark_;
    absorbed_ = true;
    const auto owned = [this](const StoredKeyOf<K>& key) { return this->ctx_->template ownsKey<K>(key); };
    bufferA_.absorb(from->bufferA_, owned);
    bufferB_.absorb(from->bufferB_, owned);
    return Status::ok();
  }

 private:
  void addA(const A& a) {
    const int64_t ts = tsA_(a);
    if (isLate(ts)) return;
    const K key = keyA_(a);
    const int64_t cleanupAt = addSaturating(ts, upper_);
    bufferB_.forEachBetween(key, addSaturating(ts, lower_), cleanupAt,
                            [&](const B& b) { emit(a, b); });
    if (cleanupAt > watermark_) bufferA_.add(key, ts, cleanupAt, a);
  }
  void addB(const B& b) {
    const int64_t ts = tsB_(b);
    if (isLate(ts)) return;
    const K key = keyB_(b);
    const int64_t cleanupAt = subSaturating(ts, lower_);
    bufferA_.forEachBetween(key, subSaturating(ts, upper_), cleanupAt,
                            [&](const A& a) { emit(a, b); });
    if (cleanupAt > watermark_) bufferB_.add(key, ts, cleanupAt, b);
  }
  bool isLate(int64_t ts) {
    if (watermark_ == kMinTime || ts > watermark_) return false;
    this->ctx_->metrics->lateRecords.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  void emit(const A& a, const B& b) {
    fn_(a, b, emitter_);
    // Bounds the batch one record can produce (a key with many buffered matches).
    if (emitter_.pendingCount() >= this->ctx_->batchSize) emitter_.flushEmitted(source_);
  }
  Emitter<Out>& emitterRef() override { return emitter_; }

  KeyA keyA_;
  KeyB keyB_;
  TsA tsA_;
  TsB tsB_;
  int64_t lower_;
  int64_t upper_;
  Fn fn_;
  Emitter<Out> emitter_;
  IntervalJoinBuffer<K, A> bufferA_;
  IntervalJoinBuffer<K, B> bufferB_;
  int64_t watermark_ = kMinTime;
  bool absorbed_ = false;  ///< a rescaled restore took an old subtask's state
  const Batch* source_ = nullptr;  // the batch being processed (emitted records may view into it)
};

/// The window join: the records of both inputs are assigned to event-time windows (tumbling or
/// sliding, `spec`); when the watermark reaches a window's maxTimestamp() (kMaxTime at the end
/// of the input fires all), fn(a, b, window, emitter) is called for every pair of a (input 0)
/// and b (input 1) of the same key in that window, and the window's state is dropped. A pair
/// that shares several sliding windows is emitted once per window; a window where one side has
/// no records emits nothing (an inner join).
///
/// A record is added to each of its windows that has not fired; if all have fired it is late:
/// counted in lateRecords and dropped. Invalid window specs and processing-time windows fail
/// open() with InvalidArgument.
///
/// State: the windows' records by (window end, key), in the operator's own maps on the heap
/// backend, in the backend's store on RocksDB (OwnContents; the operator then keeps the list of
/// window ends only).
template <class A, class B, class K, class Out, class KeyA, class KeyB, class TsA, class TsB,
          class Fn>
class WindowJoinOperator final : public EmittingOperator<Out> {
 public:
  using StoredKey = StoredKeyOf<K>;

  WindowJoinOperator(KeyA keyA, KeyB keyB, TsA tsA, TsB tsB, AlignedSpec spec, Fn fn,
                     std::shared_ptr<const SidePorts> ports)
      : EmittingOperator<Out>(std::move(ports)),
        keyA_(std::move(keyA)),
        keyB_(std::move(keyB)),
        tsA_(std::move(tsA)),
        tsB_(std::move(tsB)),
        spec_(std::move(spec)),
        fn_(std::move(fn)) {}

  Status open(OperatorContext& ctx) override {
    if (!spec_.status.isOk())
      return Status::invalidArgument("window join: " + spec_.status.message());
    if (spec_.domain != TimeDomain::kEventTime) {
      return Status::invalidArgument(
          "window join: the windows must be event-time windows (TumblingWindows::eventTime, "
          "SlidingWindows::eventTime)");
    }
    REKA_RETURN_IF_ERROR(EmittingOperator<Out>::open(ctx));
    return contents_.open(ctx, "windows");
  }

  void processBatch(int input, Batch& batch) override {
    if (input == 0) {
      for (const A& a : static_cast<RecordBatch<A>&>(batch).records) {
        add(tsA_(a), keyA_(a), [&](Sides& s) { s.first.push_back(a); });
      }
    } else {
      for (const B& b : static_cast<RecordBatch<B>&>(batch).records) {
        add(tsB_(b), keyB_(b), [&](Sides& s) { s.second.push_back(b); });
      }
    }
  }

  /// The last millisecond of the earliest window not fired yet (it fires when the watermark
  /// reaches it).
  int64_t nextEventTimer() const override { return windows_.empty() ? INT64_MAX : windows_.begin()->first - 1; }

  void processWatermark(int64_t wm) override {
    watermark_ = wm;
    while (!windows_.empty() &&
           windows_.begin()->first <= addSaturating(wm, 1)) {  // maxTimestamp <= wm
      auto node = windows_.extract(windows_.begin());
      const TimeWindow window{subSaturating(node.key(), spec_.sizeMs), node.key()};
      auto join = [&](const StoredKey&, const Sides& sides) {
        for (const A& a : sides.first) {
          for (const B& b : sides.second) {
            fn_(a, b, window, emitter_);
            if (emitter_.pendingCount() >= this->ctx_->batchSize) emitter_.flushEmitted(nullptr);
          }
        }
      };
      if (contents_.store) {
        auto& store = *contents_.store;
        const KeyGroupRange range = store.range();
        for (int32_t g = range.first; g <= range.last; ++g) throwIfFailed(store.forEach(KeyGroup{g}, node.key(), join));
        throwIfFailed(store.erase(node.key()));
      } else {
        for (const auto& [key, sides] : node.mapped()) join(key, sides);
      }
    }
    emitter_.flushEmitted(nullptr);
    this->forwardWatermark(wm);
  }

  static constexpr bool kSnapshottable = HasSerde<StoredKey>::value && HasSerde<std::vector<A>>::value && HasSerde<std::vector<B>>::value;
  /// Whether this operator's state types can be checkpointed (each has a Serde): the runtime
  /// asks before a job with checkpoints starts.
  Status checkSnapshottable() const override {
    if constexpr (!HasSerde<StoredKey>::value) {
      return snapshotNotSupported(this->ctx_, "key");
    } else if constexpr (!HasSerde<std::vector<A>>::value) {
      return snapshotNotSupported(this->ctx_, "first input's record");
    } else if constexpr (!HasSerde<std::vector<B>>::value) {
      return snapshotNotSupported(this->ctx_, "second input's record");
    } else {
      return Status::ok();
    }
  }

  /// Writes the watermark and the records of every window that has not fired. Version 1:
  ///   u8 version, i64 watermark, u64 windows,
  ///   windows × (i64 end, u64 keys, keys × (key, vector<A>, vector<B>)).
  Status snapshotState(int64_t, std::string& out) override {
    if constexpr (!kSnapshottable) {
      return checkSnapshottable();
    } else {
      Serde<uint8_t>::write(kOperatorSnapshotVersion, out);
      Serde<int64_t>::write(watermark_, out);
      Serde<uint64_t>::write(windows_.size(), out);
      for (const auto& [end, byKey] : windows_) {
        Serde<int64_t>::write(end, out);
        Serde<uint64_t>::write(byKey.size(), out);
        for (const auto& [key, sides] : byKey) {
          Serde<StoredKey>::write(key, out);
          Serde<std::vector<A>>::write(sides.first, out);
          Serde<std::vector<B>>::write(sides.second, out);
        }
      }
      return Status::ok();
    }
  }

  /// Restores what snapshotState wrote into a freshly opened operator.
  Status restoreState(std::string_view in) override {
    if constexpr (!kSnapshottable) {
      return checkSnapshottable();
    } else {
      REKA_RETURN_IF_ERROR(readSnapshotVersion(in, this->ctx_));
      int64_t watermark = kMinTime;
      absl::btree_map<int64_t, StateMap<StoredKey, Sides>> windows;
      uint64_t windowCount = 0;
      bool ok = Serde<int64_t>::read(in, watermark) && readSnapshotCount(in, windowCount);
      for (uint64_t w = 0; ok && w < windowCount; ++w) {
        int64_t end = 0;
        uint64_t keyCount = 0;
        ok = Serde<int64_t>::read(in, end) && readSnapshotCount(in, keyCount) &&
             !windows.contains(end);
        if (!ok) break;
        auto& byKey = windows[end];
        for (uint64_t k = 0; ok && k < keyCount; ++k) {
          StoredKey key{};
          Sides sides;
          ok = Serde<StoredKey>::read(in, key) && Serde<std::vector<A>>::read(in, sides.first) &&
               Serde<std::vector<B>>::read(in, sides.second) &&
               byKey.try_emplace(std::move(key), std::move(sides)).second;
        }
      }
      REKA_RETURN_IF_ERROR(finishSnapshotRead(ok, in, this->ctx_));
      watermark_ = watermark;
      windows_ = std::move(windows);
      settleRestoredContents();
      return Status::ok();
    }
  }

  /// At another parallelism: every new subtask takes, from every old subtask, the records of
  /// the keys in its own key groups in every window that has not fired; the watermark is the
  /// lowest absorbed.
  Operator::OwnStateRescale ownStateRescale() const override { return Operator::OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator& scratch, const Operator::RescaledPart&) override {
    auto* from = dynamic_cast<WindowJoinOperator*>(&scratch);
    if (from == nullptr) return Status::internal("a rescaled restore handed over another kind of operator");
    watermark_ = absorbed_ ? std::min(watermark_, from->watermark_) : from->watermark_;
    absorbed_ = true;
    for (const auto& [end, byKey] : from->windows_) {
      // In a store every window is listed (its records came with the backend's key groups).
      if (contents_.store) windows_[end];
      for (const auto& [key, sides] : byKey)
        if (this->ctx_->template ownsKey<K>(key)) windows_[end].try_emplace(key, sides);
    }
    settleRestoredContents();
    return Status::ok();
  }

 private:
  /// Each window's records of one key: the first input's, the second's.
  using Sides = std::pair<std::vector<A>, std::vector<B>>;

  /// After a restore: records that arrived where this backend does not keep them move to where
  /// it does (see AlignedWindowOperator::settleRestoredContents).
  void settleRestoredContents() {
    if (contents_.store) {
      for (auto& [end, byKey] : windows_) {
        for (auto& [key, sides] : byKey) contents_.store->put(end, key, std::move(sides));
        byKey.clear();
      }
    } else {
      contents_.drainAdopted([this](int64_t end, const StoredKey& key, const Sides& sides) {
        if (end > addSaturating(watermark_, 1)) windows_[end].try_emplace(key, sides);
      });
    }
  }
  static void throwIfFailed(const Status& s) {
    if (!s.isOk()) throw StateAccessError(s);
  }

  // Adds a record at `ts` to every window of it that has not fired: windows [start, start + size)
  // for the starts aligned to slide (+ offset) in (ts - size, ts], newest first.
  template <class Append>
  void add(int64_t ts, const K& key, Append&& append) {
    bool added = false;
    if (!isValidEventTimestamp(ts)) {  // no window holds it: late
      this->ctx_->metrics->lateRecords.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    for (int64_t start = windowStartFor(ts, spec_.offsetMs, spec_.slideMs);
         ts - start < spec_.sizeMs; start -= spec_.slideMs) {
      const int64_t end = addSaturating(start, spec_.sizeMs);
      // Older windows end earlier: once one has fired, all the rest have.
      if (end <= addSaturating(watermark_, 1)) break;
      auto& byKey = windows_[end];
      if (contents_.store) {
        contents_.store->update(end, key, [] { return Sides{}; }, [&](Sides& s) {
          append(s);
          return true;
        });
      } else {
        auto it = byKey.find(key);
        if (it == byKey.end()) it = byKey.try_emplace(StoredKey(key)).first;
        append(it->second);
      }
      added = true;
      if (start < kMinTime + spec_.slideMs) break;
    }
    if (!added) this->ctx_->metrics->lateRecords.fetch_add(1, std::memory_order_relaxed);
  }
  Emitter<Out>& emitterRef() override { return emitter_; }

  KeyA keyA_;
  KeyB keyB_;
  TsA tsA_;
  TsB tsB_;
  AlignedSpec spec_;
  Fn fn_;
  Emitter<Out> emitter_;
  /// By window end: the records by key on the heap; in a store, the windows that exist (empty).
  absl::btree_map<int64_t, StateMap<StoredKey, Sides>> windows_;
  OwnContents<StoredKey, Sides> contents_;
  int64_t watermark_ = kMinTime;
  bool absorbed_ = false;  ///< a rescaled restore took an old subtask's state
};

}  // namespace reka::detail
