#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "reka/api/detail/StreamOperators.h"
#include "reka/operators/WindowSupport.h"
#include "reka/state/StateBackend.h"

namespace reka::detail {

/// Tumbling and sliding windows, event or processing time, computed by panes (slices) of
/// gcd(size, slide): each record is aggregated into exactly one pane's accumulator for its key;
/// a window's result merges the panes it covers. Panes are kept while a window that covers them
/// can still fire or be updated (allowed lateness), then recycled.
///
/// Firing: a window [start, end) fires when the watermark (or the clock) reaches end − 1; all
/// windows fire at the end of a bounded input. With Trigger::earlyEvery(d), windows that hold
/// data also fire every d of processing time before that; later firings update (-U/+U).
/// Lateness: a record whose windows have all passed end − 1 + allowedLateness is late (counted
/// in lateRecords, sent to the late-data output if one is set). A record for a window that has
/// fired but is within its lateness updates that window's result at once (-U old, +U new).
///
/// State: on the heap backend the panes' accumulators are the operator's own tracked maps; on a
/// backend with a store (RocksDB) they are kept there, by (pane start, key), through a
/// NamespacedStore, and the operator keeps only the list of panes (OwnContents).
///
/// Checkpoints: full (snapshotState) or, on the heap, incremental (snapshotDelta: the panes'
/// changed keys, the panes dropped since the last snapshot and the small state in full), when the
/// key and the accumulator have a Serde. In a store, the accumulators are checkpointed by the
/// backend (native snapshots), and the operator's blob is the same format with empty panes.
template <class T, class K, class KeyFn, class TsFn, class Agg, class Out, class Emit>
class AlignedWindowOperator final : public EmittingOperator<Out> {
 public:
  using Acc = std::decay_t<decltype(std::declval<Agg&>().createAccumulator())>;
  using StoredKey = StoredKeyOf<K>;
  /// Results emitted early and merged windows: written whole, not tracked.
  using PaneMap = StateMap<StoredKey, Acc>;
  /// A pane's accumulators: tracked, so that a delta holds only the keys that changed.
  using TrackedPaneMap = TrackedStateMap<StoredKey, Acc>;

  AlignedWindowOperator(KeyFn keyFn, TsFn tsFn, Agg agg, Emit emit, AlignedSpec spec, WindowOptions options,
                        std::shared_ptr<const SidePorts> ports)
      : EmittingOperator<Out>(std::move(ports)), keyFn_(std::move(keyFn)), tsFn_(std::move(tsFn)),
        agg_(std::move(agg)), emit_(std::move(emit)), spec_(std::move(spec)), options_(options) {}

  Status open(OperatorContext& ctx) override {
    REKA_RETURN_IF_ERROR(spec_.status);
    const auto kind = options_.trigger.kind;
    if (kind != Trigger::Kind::kDefault && kind != Trigger::Kind::kEarlyPeriodic)
      return Status::invalidArgument("operator '" + ctx.name +
                                     "': tumbling and sliding windows accept the default trigger or "
                                     "Trigger::earlyEvery(); use CountWindows or GlobalWindows for count triggers");
    if (kind == Trigger::Kind::kEarlyPeriodic && options_.trigger.intervalMs <= 0)
      return Status::invalidArgument("operator '" + ctx.name + "': the early-firing interval must be positive");
    if (options_.allowedLatenessMs < 0)
      return Status::invalidArgument("operator '" + ctx.name + "': allowed lateness must not be negative");
    REKA_RETURN_IF_ERROR(EmittingOperator<Out>::open(ctx));
    REKA_RETURN_IF_ERROR(contents_.open(ctx, "panes"));
    emitter_.initEmitter(ctx, this->ports_ ? *this->ports_ : SidePorts{});
    pane_ = spec_.paneMs();
    eventTime_ = spec_.domain == TimeDomain::kEventTime;
    if (!eventTime_) requestWindowCallback(ctx.time->now() + spec_.slideMs);
    if (options_.trigger.kind == Trigger::Kind::kEarlyPeriodic)
      requestEarlyCallback(ctx.time->now() + options_.trigger.intervalMs);
    return Status::ok();
  }

  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RecordBatch<T>&>(batch);
    const int64_t arrival = eventTime_ ? 0 : this->ctx_->time->now();
    for (const T& r : in.records) {
      const int64_t ts = eventTime_ ? tsFn_(r) : arrival;
      Pane* pane = cached_;
      if (pane == nullptr || ts < cachedStart_ || ts >= cachedStart_ + pane_) {
        if (!isValidEventTimestamp(ts)) {  // no window holds it (see isValidEventTimestamp)
          countLate(r);
          continue;
        }
        const int64_t paneStart = windowStartFor(ts, spec_.offsetMs, pane_);
        if (firstEndCovering(paneStart) - 1 <= current_) {  // a window of this pane has fired
          onLateRecord(r, paneStart);
          continue;
        }
        pane = &paneFor(paneStart);
      }
      const K key = keyFn_(r);
      addTo(*pane, key, r);
    }
    emitter_.flushEmitted(&in);
  }

  void processWatermark(int64_t wm) override {
    if (eventTime_) advance(wm);
    this->forwardWatermark(wm);
  }

  int64_t nextEventTimer() const override {
    if (!eventTime_) return INT64_MAX;
    const int64_t end = firstUnfiredEnd(current_);
    auto first = panes_.lower_bound(end == kMinTime ? kMinTime : end - spec_.sizeMs);
    if (first == panes_.end()) return INT64_MAX;
    return std::max(end, firstEndCovering(first->first)) - 1;  // a window fires at its last millisecond
  }

  void onProcessingTime(int64_t now) override {
    // A call before anything pending answers a request the state no longer holds: restoring a
    // delta chain asks for the base's callbacks first, then for the last delta's. Ask again for
    // what is pending (the call answered every request).
    const int64_t pending = std::min(windowCallbackAt_, earlyCallbackAt_);
    if (now < pending) {
      if (pending != kMaxTime) this->ctx_->time->requestCallback(pending);
      return;
    }
    // The call answers every request made so far; this one makes the next ones.
    windowCallbackAt_ = kMaxTime;
    earlyCallbackAt_ = kMaxTime;
    if (!eventTime_) {
      advance(now);
      requestWindowCallback(firstUnfiredEnd(now) - 1);  // the next window end
    }
    if (options_.trigger.kind == Trigger::Kind::kEarlyPeriodic) {
      fireEarly();
      requestEarlyCallback(now + options_.trigger.intervalMs);
    }
  }

  void finish() override {
    if (!eventTime_) advance(kMaxTime);  // a bounded input's end: every window fires
    emitter_.flushEmitted(nullptr);
  }

  static constexpr bool kSnapshottable = HasSerde<StoredKey>::value && HasSerde<Acc>::value;
  /// Whether this operator's state types can be checkpointed (each has a Serde): the runtime
  /// asks before a job with checkpoints starts.
  Status checkSnapshottable() const override { return keysAndAccumulatorsSnapshottable<StoredKey, Acc>(this->ctx_); }

  /// Writes the time reached, the pending callbacks, every pane's accumulators per key and the
  /// results emitted early (what a later firing retracts). Version 1:
  ///   u8 version, i64 current, i64 windowCallbackAt, i64 earlyCallbackAt,
  ///   u64 n, n × (i64 paneStart, map key → acc), u64 m, m × (i64 windowEnd, map key → acc).
  Status snapshotState(int64_t, std::string& out) override {
    if constexpr (!kSnapshottable) {
      return checkSnapshottable();
    } else {
      writeHeader(out);
      Serde<uint64_t>::write(panes_.size(), out);
      for (auto& [start, pane] : panes_) {
        Serde<int64_t>::write(start, out);
        pane->accs.writeFull(out);  // the bytes of Serde<PaneMap>; the next delta starts here
        pane->snapshotted = true;
      }
      writeEarly(out);
      droppedPanes_.clear();
      supersededDropped_ = 0;
      return Status::ok();
    }
  }

  /// Restores what snapshotState wrote into a freshly opened operator and asks again for the
  /// processing-time callbacks it was waiting for (window ends, early firings).
  Status restoreState(std::string_view in) override {
    if constexpr (!kSnapshottable) {
      return checkSnapshottable();
    } else {
      REKA_RETURN_IF_ERROR(readSnapshotVersion(in, this->ctx_));
      int64_t current = kMinTime, windowCallbackAt = kMaxTime, earlyCallbackAt = kMaxTime;
      std::map<int64_t, std::unique_ptr<Pane>> panes;
      std::map<int64_t, PaneMap> early;
      uint64_t n = 0;
      bool ok = readHeader(in, current, windowCallbackAt, earlyCallbackAt) && readSnapshotCount(in, n);
      for (uint64_t i = 0; ok && i < n; ++i) {
        int64_t start = 0;
        auto pane = std::make_unique<Pane>();
        pane->snapshotted = true;
        ok = Serde<int64_t>::read(in, start) && isPaneStart(start) && pane->accs.readFull(in);
        pane->start = start;
        ok = ok && panes.emplace(start, std::move(pane)).second;
      }
      ok = ok && readEarly(in, early);
      REKA_RETURN_IF_ERROR(finishSnapshotRead(ok, in, this->ctx_));
      current_ = current;
      panes_ = std::move(panes);
      early_ = std::move(early);
      cached_ = nullptr;
      droppedPanes_.clear();
      supersededDropped_ = 0;
      settleRestoredContents();
      requestRestoredCallbacks(windowCallbackAt, earlyCallbackAt);
      return Status::ok();
    }
  }

  /// On the heap; in a store the blob is small (the panes' starts) and written whole.
  bool supportsDeltaSnapshots() const override {
    return kSnapshottable && !contents_.store;
  }

  /// Writes what changed since the last snapshot (full or delta) or restore: the time reached and
  /// the pending callbacks, the panes dropped since (those that the last snapshot held), the
  /// changed keys of each pane that is new or changed (TrackedMap's delta), and the results
  /// emitted early in full (they are few: windows that have not fired yet). Version 1:
  ///   u8 version, i64 current, i64 windowCallbackAt, i64 earlyCallbackAt,
  ///   u64 d, d × i64 droppedPaneStart,
  ///   u64 n, n × (i64 paneStart, u64 u, u × (key, acc), u64 e, e × key),
  ///   u64 m, m × (i64 windowEnd, map key → acc).
  Status snapshotDelta(int64_t, std::string& out) override {
    if constexpr (!kSnapshottable) {
      return checkSnapshottable();
    } else {
      writeHeader(out);
      Serde<uint64_t>::write(droppedPanes_.size(), out);
      for (int64_t start : droppedPanes_) Serde<int64_t>::write(start, out);
      uint64_t changed = 0;
      for (const auto& [start, pane] : panes_) changed += paneChanged(*pane) ? 1 : 0;
      Serde<uint64_t>::write(changed, out);
      for (auto& [start, pane] : panes_) {
        if (!paneChanged(*pane)) continue;
        Serde<int64_t>::write(start, out);
        pane->accs.writeDelta(out);
        pane->snapshotted = true;
      }
      writeEarly(out);
      droppedPanes_.clear();  // supersededDropped_ stays: the chain still holds those records
      return Status::ok();
    }
  }

  /// Applies what snapshotDelta wrote on top of the state restored so far (restoreState with the
  /// base, then each earlier delta in order) and asks again for the processing-time callbacks
  /// the delta was waiting for. A delta that cannot be read fails the restore and may leave the
  /// panes half-applied: the operator must then be discarded.
  Status restoreDelta(std::string_view in) override {
    if constexpr (!kSnapshottable) {
      return checkSnapshottable();
    } else {
      REKA_RETURN_IF_ERROR(readSnapshotVersion(in, this->ctx_));
      int64_t current = kMinTime, windowCallbackAt = kMaxTime, earlyCallbackAt = kMaxTime;
      uint64_t n = 0;
      bool ok = readHeader(in, current, windowCallbackAt, earlyCallbackAt) && readSnapshotCount(in, n);
      std::vector<int64_t> dropped;
      for (uint64_t i = 0; ok && i < n; ++i) {
        int64_t start = 0;
        ok = Serde<int64_t>::read(in, start);
        dropped.push_back(start);
      }
      if (!ok) return finishSnapshotRead(false, in, this->ctx_);
      std::sort(dropped.begin(), dropped.end());
      for (size_t i = 0; i < dropped.size(); ++i) {
        const int64_t start = dropped[i];
        if (!panes_.contains(start))
          return snapshotCorruption(this->ctx_, "the delta drops pane " + std::to_string(start) +
                                                    ", which the restored state does not hold (a "
                                                    "delta applied out of order?)");
        // Found by the state fuzzer: a pane listed twice was released twice (the second time
        // through panes_.end()).
        if (i > 0 && dropped[i - 1] == start)
          return snapshotCorruption(this->ctx_, "the delta drops pane " + std::to_string(start) + " twice");
      }
      // Drops first: a pane dropped and created again comes back whole, as a new pane.
      for (int64_t start : dropped) releasePane(panes_.find(start));
      ok = readSnapshotCount(in, n);
      for (uint64_t i = 0; ok && i < n; ++i) {
        int64_t start = 0;
        ok = Serde<int64_t>::read(in, start) && isPaneStart(start) && paneFor(start).accs.applyDelta(in);
      }
      std::map<int64_t, PaneMap> early;
      ok = ok && readEarly(in, early);
      REKA_RETURN_IF_ERROR(finishSnapshotRead(ok, in, this->ctx_));
      for (auto& [start, pane] : panes_) pane->snapshotted = true;
      current_ = current;
      early_ = std::move(early);
      cached_ = nullptr;
      droppedPanes_.clear();
      windowCallbackAt_ = kMaxTime;  // the callbacks the base asked for are stale
      earlyCallbackAt_ = kMaxTime;
      settleRestoredContents();
      requestRestoredCallbacks(windowCallbackAt, earlyCallbackAt);
      return Status::ok();
    }
  }

  /// At another parallelism: every new subtask takes, from every old subtask, the pane
  /// accumulators and early results of the keys in its own key groups. The old subtasks must
  /// have fired the same windows (event time: they saw the same watermarks before the barrier;
  /// processing time: they had reached the same window end); otherwise the restore fails rather
  /// than fire a window twice or never.
  Operator::OwnStateRescale ownStateRescale() const override { return Operator::OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator& scratch, const Operator::RescaledPart& part) override {
    auto* from = dynamic_cast<AlignedWindowOperator*>(&scratch);
    if (from == nullptr) return Status::internal("a rescaled restore handed over another kind of operator");
    if (absorbed_ && firstUnfiredEnd(from->current_) != firstUnfiredEnd(current_))
      return Status::failedPrecondition(
          "its windows fired up to different times in the old subtasks (subtask " + std::to_string(part.subtask + 1) + " at " +
          std::to_string(from->current_) + ", an earlier one at " + std::to_string(current_) +
          "): restore it at parallelism " + std::to_string(part.parallelism));
    current_ = absorbed_ ? std::min(current_, from->current_) : from->current_;
    absorbed_ = true;
    const auto owned = [this](const StoredKey& key) { return this->ctx_->template ownsKey<K>(key); };
    for (const auto& [start, pane] : from->panes_) {
      // In a store every pane is listed (its keys came with the backend's key groups); the old
      // subtask's blob holds accumulators only if it ran on the heap.
      Pane* mine = contents_.store ? &paneFor(start) : nullptr;
      for (const auto& [key, acc] : pane->accs) {
        if (!owned(key)) continue;
        if (mine == nullptr) mine = &paneFor(start);
        mine->accs.put(key, acc);
      }
    }
    for (const auto& [end, emitted] : from->early_) {
      for (const auto& [key, acc] : emitted)
        if (owned(key)) early_[end].emplace(key, acc);
    }
    cached_ = nullptr;
    settleRestoredContents();
    requestRestoredCallbacks(from->windowCallbackAt_, from->earlyCallbackAt_);
    return Status::ok();
  }

  /// Live entries: the panes' keys; superseded: the pane records later deltas replaced, and the
  /// records of panes dropped since the last full snapshot (with their drop).
  DeltaStats deltaStats() const override {
    DeltaStats stats{0, supersededDropped_};
    for (const auto& [start, pane] : panes_) stats += pane->accs.deltaStats();
    return stats;
  }

  /// Panes currently held (for tests of state cleanup).
  size_t paneCount() const { return panes_.size(); }

 private:
  struct Pane {
    int64_t start = 0;
    TrackedPaneMap accs;  ///< on the heap (in a store: empty, except during a restore)
    bool snapshotted = false;  ///< held by the last snapshot or restore: a drop must be recorded
  };

  /// After a restore: accumulators that arrived where this backend does not keep them move to
  /// where it does. In a store, those of a heap checkpoint (in the blob) go into the store; on
  /// the heap, those of a RocksDB checkpoint (in the adopted table) go into the panes.
  void settleRestoredContents() {
    if (contents_.store) {
      for (auto& [start, pane] : panes_) {
        for (const auto& [key, acc] : pane->accs) contents_.store->put(start, key, acc);
        pane->accs.reset();
      }
    } else {
      contents_.drainAdopted([this](int64_t start, const StoredKey& key, const Acc& acc) {
        if (isPaneStart(start)) paneFor(start).accs.put(key, acc);
      });
    }
    cached_ = nullptr;
  }

  /// Calls `fn(key, acc)` for every key of pane `it`, key group by key group in a store.
  template <class Fn>
  void forEachInPane(const Pane& pane, Fn&& fn) {
    if (!contents_.store) {
      for (const auto& [key, acc] : pane.accs) fn(key, acc);
      return;
    }
    const KeyGroupRange range = contents_.store->range();
    for (int32_t g = range.first; g <= range.last; ++g) throwIfFailed(contents_.store->forEach(KeyGroup{g}, pane.start, fn));
  }
  static void throwIfFailed(const Status& s) {
    if (!s.isOk()) throw StateAccessError(s);
  }

  /// Calls `emit(key, acc)` with each key's accumulator over the panes [begin, end) (merged when
  /// there are several). In a store, the merge goes key group by key group, so that it holds one
  /// key group's keys at a time.
  template <class It, class Fn>
  void forEachMerged(It begin, It end, Fn&& emit) {
    if (std::next(begin) == end) {
      forEachInPane(*begin->second, emit);
      return;
    }
    auto merge = [this](const StoredKey& key, const Acc& acc) {
      auto m = merged_.find(key);
      if (m == merged_.end()) {
        merged_.emplace(key, acc);
      } else {
        agg_.merge(acc, m->second);
      }
    };
    if (!contents_.store) {
      merged_.clear();
      for (auto it = begin; it != end; ++it) forEachInPane(*it->second, merge);
      for (const auto& [key, acc] : merged_) emit(key, acc);
      return;
    }
    const KeyGroupRange range = contents_.store->range();
    for (int32_t g = range.first; g <= range.last; ++g) {
      merged_.clear();
      for (auto it = begin; it != end; ++it) throwIfFailed(contents_.store->forEach(KeyGroup{g}, it->first, merge));
      for (const auto& [key, acc] : merged_) emit(key, acc);
    }
  }

  Emitter<Out>& emitterRef() override { return emitter_; }

  // Processing-time callbacks go through these so that a snapshot knows which are pending: the
  // earliest requested since the last callback (the service merges requests the same way).
  void requestWindowCallback(int64_t at) {
    windowCallbackAt_ = std::min(windowCallbackAt_, at);
    this->ctx_->time->requestCallback(at);
  }
  void requestEarlyCallback(int64_t at) {
    earlyCallbackAt_ = std::min(earlyCallbackAt_, at);
    this->ctx_->time->requestCallback(at);
  }
  /// After a restore: the callbacks the snapshot was waiting for.
  void requestRestoredCallbacks(int64_t windowCallbackAt, int64_t earlyCallbackAt) {
    if (!eventTime_ && windowCallbackAt != kMaxTime) requestWindowCallback(windowCallbackAt);
    if (options_.trigger.kind == Trigger::Kind::kEarlyPeriodic && earlyCallbackAt != kMaxTime)
      requestEarlyCallback(earlyCallbackAt);
  }

  /// Whether a delta must write the pane: it is new since the last snapshot, or keys changed.
  static bool paneChanged(const Pane& pane) {
    return !pane.snapshotted || pane.accs.changedKeys() != 0;
  }

  /// Forgets the pane at `it` (recording the drop for the next delta if the last snapshot held
  /// it) and keeps a few for reuse, reset: a reused pane starts with no history.
  void releasePane(typename std::map<int64_t, std::unique_ptr<Pane>>::iterator it) {
    Pane& pane = *it->second;
    if (pane.snapshotted) {
      droppedPanes_.push_back(it->first);
      // At most its entries (those added since the snapshot were never written), what it had
      // superseded already, and the drop itself.
      supersededDropped_ += pane.accs.size() + pane.accs.deltaStats().superseded + 1;
    }
    pane.accs.reset();
    pane.snapshotted = false;
    if (contents_.store) throwIfFailed(contents_.store->erase(it->first));
    if (freePanes_.size() < 2) freePanes_.push_back(std::move(it->second));
    panes_.erase(it);
  }

  /// What full snapshots and deltas both start with: version, time reached, pending callbacks.
  void writeHeader(std::string& out) const {
    Serde<uint8_t>::write(kOperatorSnapshotVersion, out);
    Serde<int64_t>::write(current_, out);
    Serde<int64_t>::write(windowCallbackAt_, out);
    Serde<int64_t>::write(earlyCallbackAt_, out);
  }
  /// The rest of the header after readSnapshotVersion.
  static bool readHeader(std::string_view& in, int64_t& current, int64_t& windowCallbackAt, int64_t& earlyCallbackAt) {
    return Serde<int64_t>::read(in, current) && Serde<int64_t>::read(in, windowCallbackAt) &&
           Serde<int64_t>::read(in, earlyCallbackAt);
  }

  void writeEarly(std::string& out) const {
    Serde<uint64_t>::write(early_.size(), out);
    for (const auto& [end, emitted] : early_) {
      Serde<int64_t>::write(end, out);
      Serde<PaneMap>::write(emitted, out);
    }
  }
  static bool readEarly(std::string_view& in, std::map<int64_t, PaneMap>& early) {
    uint64_t n = 0;
    bool ok = readSnapshotCount(in, n);
    for (uint64_t i = 0; ok && i < n; ++i) {
      int64_t end = 0;
      PaneMap emitted;
      ok = Serde<int64_t>::read(in, end) && Serde<PaneMap>::read(in, emitted) &&
           early.emplace(end, std::move(emitted)).second;
    }
    return ok;
  }

  /// The pane starting at `start`, created if needed; remembered for the next records (valid
  /// until time advances).
  Pane& paneFor(int64_t start) {
    auto it = panes_.find(start);
    if (it == panes_.end()) {
      std::unique_ptr<Pane> p;
      if (!freePanes_.empty()) {
        p = std::move(freePanes_.back());
        freePanes_.pop_back();
      } else {
        p = std::make_unique<Pane>();
      }
      p->start = start;
      it = panes_.emplace(start, std::move(p)).first;
    }
    cachedStart_ = start;
    cached_ = it->second.get();
    return *cached_;
  }

  /// Adds r to its key's accumulator in the pane; an add that leaves the accumulator as it was
  /// (see addToAccumulator) does not put the key in the next delta.
  void addTo(Pane& pane, const K& key, const T& r) {
    auto make = [this] { return agg_.createAccumulator(); };
    auto add = [&](Acc& acc) { return addToAccumulator(agg_, r, acc); };
    if (contents_.store) {
      contents_.store->update(pane.start, key, make, add);
    } else {
      pane.accs.update(key, make, add);
    }
  }

  /// The first window (by end) that covers pane start p; equally, the smallest window end > p.
  int64_t firstEndCovering(int64_t p) const {
    int64_t firstStart = windowStartFor(p - spec_.sizeMs + spec_.slideMs, spec_.offsetMs, spec_.slideMs);
    if (firstStart + spec_.sizeMs <= p) firstStart += spec_.slideMs;
    return firstStart + spec_.sizeMs;
  }
  /// The last window (by end) that covers pane start p.
  int64_t lastEndCovering(int64_t p) const { return windowStartFor(p, spec_.offsetMs, spec_.slideMs) + spec_.sizeMs; }

  /// Whether a checkpoint's pane start is one this operator could have made: a valid timestamp
  /// aligned to the pane size. Anything else is corrupt (and its window arithmetic would leave
  /// 64 bits).
  bool isPaneStart(int64_t start) const {
    return isValidEventTimestamp(start) && windowStartFor(start, spec_.offsetMs, pane_) == start;
  }

  /// The end of the first window that has not fired at time `reached`: panes exist only for
  /// valid timestamps, so a time outside their range is clamped to it first (no overflow).
  int64_t firstUnfiredEnd(int64_t reached) const {
    if (reached < kMinEventTimestamp) return kMinTime;
    return firstEndCovering(std::min(reached, kMaxEventTimestamp) + 1);
  }

  /// Fires every window whose end − 1 <= time (and was not fired before), in end order, then
  /// drops panes no window can use any more. A window has fired iff end − 1 <= current_.
  void advance(int64_t time) {
    if (time <= current_) return;
    int64_t end = firstUnfiredEnd(current_);
    std::chrono::steady_clock::time_point started{};
    for (;;) {
      auto first = panes_.lower_bound(end == kMinTime ? kMinTime : end - spec_.sizeMs);
      if (first == panes_.end()) break;
      end = std::max(end, firstEndCovering(first->first));
      if (end - 1 > time) break;
      if (started == std::chrono::steady_clock::time_point{}) started = std::chrono::steady_clock::now();
      fireWindow(TimeWindow{end - spec_.sizeMs, end});
      end += spec_.slideMs;
    }
    if (started != std::chrono::steady_clock::time_point{}) {
      emitter_.flushEmitted(nullptr);
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started).count();
      this->ctx_->metrics->firingNanos.fetch_add(ns, std::memory_order_relaxed);
      this->ctx_->metrics->firedResults.fetch_add(firedSinceReport_, std::memory_order_relaxed);
      firedSinceReport_ = 0;
    }
    current_ = time;
    // A pane is dropped once the last window covering it is past its allowed lateness.
    while (!panes_.empty()) {
      auto it = panes_.begin();
      int64_t cleanup = addSaturating(lastEndCovering(it->first) - 1, options_.allowedLatenessMs);
      if (cleanup > time) break;
      releasePane(it);
    }
    cached_ = nullptr;  // lateness of the cached pane must be checked again
    emitter_.flushEmitted(nullptr);
  }

  /// Merges the panes of `w` per key and emits each key's result.
  void fireWindow(const TimeWindow& w) {
    auto begin = panes_.lower_bound(w.start);
    auto end = panes_.lower_bound(w.end);
    if (begin == end) return;
    auto earlyIt = early_.find(w.end);
    PaneMap* early = earlyIt == early_.end() ? nullptr : &earlyIt->second;
    forEachMerged(begin, end, [&](const StoredKey& key, const Acc& acc) { emitResult(key, w, acc, early); });
    if (early != nullptr) early_.erase(earlyIt);
  }

  void emitResult(const StoredKey& key, const TimeWindow& w, const Acc& acc, PaneMap* early) {
    ++firedSinceReport_;
    if (early != nullptr) {
      auto e = early->find(key);
      if (e != early->end()) {
        emit_(key, w, e->second, RowKind::kUpdateBefore, emitter_);
        emit_(key, w, acc, RowKind::kUpdateAfter, emitter_);
        maybeFlush();
        return;
      }
    }
    emit_(key, w, acc, RowKind::kInsert, emitter_);
    maybeFlush();
  }

  void maybeFlush() {
    if (emitter_.pendingCount() >= this->ctx_->batchSize) emitter_.flushEmitted(nullptr);
  }

  /// A key's accumulator for window w, merged from its panes; false if the key has none.
  bool windowAcc(const TimeWindow& w, const StoredKey& key, Acc& out) {
    bool any = false;
    for (auto it = panes_.lower_bound(w.start); it != panes_.end() && it->first < w.end; ++it) {
      const Acc* a = contents_.store ? contents_.store->find(it->first, key) : it->second->accs.find(key);
      if (a == nullptr) continue;
      if (!any) {
        out = *a;
        any = true;
      } else {
        agg_.merge(*a, out);
      }
    }
    return any;
  }

  /// A record for a pane covered by a window that has already fired: an update if some such
  /// window is within its allowed lateness, late otherwise.
  void onLateRecord(const T& r, int64_t paneStart) {
    if (addSaturating(lastEndCovering(paneStart) - 1, options_.allowedLatenessMs) <= current_) {
      countLate(r);
      return;
    }
    lateUpdate(r, paneStart);
  }

  void countLate(const T& r) {
    this->ctx_->metrics->lateRecords.fetch_add(1, std::memory_order_relaxed);
    if (options_.lateTagId != 0) emitter_.template outputById<T>(options_.lateTagId, r);
  }

  /// Adds a record to a pane whose fired windows are within allowed lateness, and re-emits
  /// the fired windows it changes.
  void lateUpdate(const T& r, int64_t paneStart) {
    const K key = keyFn_(r);
    const StoredKey stored(key);
    std::vector<std::pair<TimeWindow, std::optional<Acc>>> fired;
    for (int64_t end = firstEndCovering(paneStart); end <= lastEndCovering(paneStart); end += spec_.slideMs) {
      if (end - 1 > current_) break;  // not fired yet: it will include the record when it fires
      if (addSaturating(end - 1, options_.allowedLatenessMs) <= current_) continue;  // cleaned up
      TimeWindow w{end - spec_.sizeMs, end};
      Acc old = agg_.createAccumulator();
      fired.emplace_back(w, windowAcc(w, stored, old) ? std::optional<Acc>(std::move(old)) : std::nullopt);
    }
    addTo(paneFor(paneStart), key, r);
    cached_ = nullptr;  // only panes of windows that have not fired are cached
    this->ctx_->metrics->lateUpdates.fetch_add(1, std::memory_order_relaxed);
    for (auto& [w, old] : fired) {
      Acc now = agg_.createAccumulator();
      windowAcc(w, stored, now);
      if (old) {
        emit_(stored, w, *old, RowKind::kUpdateBefore, emitter_);
        emit_(stored, w, now, RowKind::kUpdateAfter, emitter_);
      } else {
        emit_(stored, w, now, RowKind::kInsert, emitter_);
      }
    }
  }

  /// Trigger::earlyEvery: emits the current result of every window that has not fired yet and
  /// holds data, remembering it so that the next firing updates it.
  void fireEarly() {
    if (panes_.empty()) return;
    int64_t lastPane = panes_.rbegin()->first;
    int64_t end = std::max(firstEndCovering(panes_.begin()->first), firstUnfiredEnd(current_));  // not fired yet
    for (; end - spec_.sizeMs <= lastPane; end += spec_.slideMs) {
      // Jump over stretches without panes: a far-future pane must not mean a loop over every
      // window between it and the others.
      auto next = panes_.lower_bound(end - spec_.sizeMs);
      if (next == panes_.end()) break;
      end = std::max(end, firstEndCovering(next->first));
      if (end - spec_.sizeMs > lastPane) break;
      TimeWindow w{end - spec_.sizeMs, end};
      auto first = panes_.lower_bound(w.start), last = panes_.lower_bound(w.end);
      if (first == last) continue;
      PaneMap& emitted = early_[w.end];
      forEachMerged(first, last, [&](const StoredKey& key, const Acc& acc) {
        auto e = emitted.find(key);
        if (e == emitted.end()) {
          emit_(key, w, acc, RowKind::kInsert, emitter_);
          emitted.emplace(key, acc);
        } else {
          emit_(key, w, e->second, RowKind::kUpdateBefore, emitter_);
          emit_(key, w, acc, RowKind::kUpdateAfter, emitter_);
          e->second = acc;
        }
        maybeFlush();
      });
      if (emitted.empty()) early_.erase(w.end);
    }
    emitter_.flushEmitted(nullptr);
  }

  KeyFn keyFn_;
  TsFn tsFn_;
  Agg agg_;
  Emit emit_;
  AlignedSpec spec_;
  WindowOptions options_;
  Emitter<Out> emitter_;
  OwnContents<StoredKey, Acc> contents_;
  int64_t pane_ = 1;
  bool eventTime_ = true;

  std::map<int64_t, std::unique_ptr<Pane>> panes_;  ///< by pane start
  std::vector<std::unique_ptr<Pane>> freePanes_;    ///< reset panes kept for reuse (capacity)
  std::vector<int64_t> droppedPanes_;  ///< panes dropped since the last snapshot, which held them
  uint64_t supersededDropped_ = 0;     ///< records of dropped panes still in the delta chain
  int64_t cachedStart_ = kMinTime;
  Pane* cached_ = nullptr;
  int64_t current_ = kMinTime;             ///< the watermark (or clock) reached
  bool absorbed_ = false;                  ///< a rescaled restore took an old subtask's state
  PaneMap merged_;
  int64_t firedSinceReport_ = 0;
  std::map<int64_t, PaneMap> early_;  ///< by window end: results emitted early, per key
  int64_t windowCallbackAt_ = kMaxTime;  ///< pending callback for window ends (processing time)
  int64_t earlyCallbackAt_ = kMaxTime;   ///< pending callback for early firings
};

}  // namespace reka::detail
