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
template <class T, class K, class KeyFn, class TsFn, class Agg, class Out, class Emit>
class AlignedWindowOperator final : public EmittingOperator<Out> {
 public:
  using Acc = std::decay_t<decltype(std::declval<Agg&>().createAccumulator())>;
  using StoredKey = StoredKeyOf<K>;
  using PaneMap = StateMap<StoredKey, Acc>;

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
        const int64_t paneStart = windowStartFor(ts, spec_.offsetMs, pane_);
        if (firstEndCovering(paneStart) - 1 <= current_) {  // a window of this pane has fired
          onLateRecord(r, paneStart);
          continue;
        }
        pane = &paneFor(paneStart);
      }
      const K key = keyFn_(r);
      agg_.add(r, slot(*pane, key));
    }
    emitter_.flushEmitted(&in);
  }

  void processWatermark(int64_t wm) override {
    if (eventTime_) advance(wm);
    this->forwardWatermark(wm);
  }

  void onProcessingTime(int64_t now) override {
    // The call answers every request made so far; this one makes the next ones.
    windowCallbackAt_ = kMaxTime;
    earlyCallbackAt_ = kMaxTime;
    if (!eventTime_) {
      advance(now);
      requestWindowCallback(firstEndCovering(now + 1) - 1);  // the next window end
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

  /// Writes the time reached, the pending callbacks, every pane's accumulators per key and the
  /// results emitted early (what a later firing retracts). Version 1:
  ///   u8 version, i64 current, i64 windowCallbackAt, i64 earlyCallbackAt,
  ///   u64 n, n × (i64 paneStart, map key → acc), u64 m, m × (i64 windowEnd, map key → acc).
  Status snapshotState(int64_t, std::string& out) override {
    if constexpr (!HasSerde<StoredKey>::value) {
      return snapshotNotSupported(this->ctx_, "key");
    } else if constexpr (!HasSerde<Acc>::value) {
      return snapshotNotSupported(this->ctx_, "accumulator");
    } else {
      Serde<uint8_t>::write(kOperatorSnapshotVersion, out);
      Serde<int64_t>::write(current_, out);
      Serde<int64_t>::write(windowCallbackAt_, out);
      Serde<int64_t>::write(earlyCallbackAt_, out);
      Serde<uint64_t>::write(panes_.size(), out);
      for (const auto& [start, pane] : panes_) {
        Serde<int64_t>::write(start, out);
        Serde<PaneMap>::write(pane->accs, out);
      }
      Serde<uint64_t>::write(early_.size(), out);
      for (const auto& [end, emitted] : early_) {
        Serde<int64_t>::write(end, out);
        Serde<PaneMap>::write(emitted, out);
      }
      return Status::ok();
    }
  }

  /// Restores what snapshotState wrote into a freshly opened operator and asks again for the
  /// processing-time callbacks it was waiting for (window ends, early firings).
  Status restoreState(std::string_view in) override {
    if constexpr (!HasSerde<StoredKey>::value) {
      return snapshotNotSupported(this->ctx_, "key");
    } else if constexpr (!HasSerde<Acc>::value) {
      return snapshotNotSupported(this->ctx_, "accumulator");
    } else {
      REKA_RETURN_IF_ERROR(readSnapshotVersion(in, this->ctx_));
      int64_t current = kMinTime, windowCallbackAt = kMaxTime, earlyCallbackAt = kMaxTime;
      std::map<int64_t, std::unique_ptr<Pane>> panes;
      std::map<int64_t, PaneMap> early;
      uint64_t n = 0;
      bool ok = Serde<int64_t>::read(in, current) && Serde<int64_t>::read(in, windowCallbackAt) &&
                Serde<int64_t>::read(in, earlyCallbackAt) && readSnapshotCount(in, n);
      for (uint64_t i = 0; ok && i < n; ++i) {
        int64_t start = 0;
        auto pane = std::make_unique<Pane>();
        ok = Serde<int64_t>::read(in, start) && Serde<PaneMap>::read(in, pane->accs) &&
             panes.emplace(start, std::move(pane)).second;
      }
      ok = ok && readSnapshotCount(in, n);
      for (uint64_t i = 0; ok && i < n; ++i) {
        int64_t end = 0;
        PaneMap emitted;
        ok = Serde<int64_t>::read(in, end) && Serde<PaneMap>::read(in, emitted) &&
             early.emplace(end, std::move(emitted)).second;
      }
      REKA_RETURN_IF_ERROR(finishSnapshotRead(ok, in, this->ctx_));
      current_ = current;
      panes_ = std::move(panes);
      early_ = std::move(early);
      cached_ = nullptr;
      if (!eventTime_ && windowCallbackAt != kMaxTime) requestWindowCallback(windowCallbackAt);
      if (options_.trigger.kind == Trigger::Kind::kEarlyPeriodic && earlyCallbackAt != kMaxTime)
        requestEarlyCallback(earlyCallbackAt);
      return Status::ok();
    }
  }

  /// Panes currently held (for tests of state cleanup).
  size_t paneCount() const { return panes_.size(); }

 private:
  struct Pane {
    PaneMap accs;
  };

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
      it = panes_.emplace(start, std::move(p)).first;
    }
    cachedStart_ = start;
    cached_ = it->second.get();
    return *cached_;
  }

  Acc& slot(Pane& pane, const K& key) {
    auto it = pane.accs.find(key);
    if (it == pane.accs.end()) it = pane.accs.emplace(StoredKey(key), agg_.createAccumulator()).first;
    return it->second;
  }

  /// The first window (by end) that covers pane start p; equally, the smallest window end > p.
  int64_t firstEndCovering(int64_t p) const {
    int64_t firstStart = windowStartFor(p - spec_.sizeMs + spec_.slideMs, spec_.offsetMs, spec_.slideMs);
    if (firstStart + spec_.sizeMs <= p) firstStart += spec_.slideMs;
    return firstStart + spec_.sizeMs;
  }
  /// The last window (by end) that covers pane start p.
  int64_t lastEndCovering(int64_t p) const { return windowStartFor(p, spec_.offsetMs, spec_.slideMs) + spec_.sizeMs; }

  static int64_t satAdd(int64_t a, int64_t b) { return a > kMaxTime - b ? kMaxTime : a + b; }

  /// Fires every window whose end − 1 <= time (and was not fired before), in end order, then
  /// drops panes no window can use any more. A window has fired iff end − 1 <= current_.
  void advance(int64_t time) {
    if (time <= current_) return;
    int64_t end = current_ == kMinTime ? kMinTime : firstEndCovering(current_ + 1);
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
      int64_t cleanup = satAdd(lastEndCovering(it->first) - 1, options_.allowedLatenessMs);
      if (cleanup > time) break;
      it->second->accs.clear();
      if (freePanes_.size() < 2) freePanes_.push_back(std::move(it->second));
      panes_.erase(it);
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
    if (std::next(begin) == end) {
      for (const auto& [key, acc] : begin->second->accs) emitResult(key, w, acc, early);
    } else {
      merged_.clear();
      for (auto it = begin; it != end; ++it) {
        for (const auto& [key, acc] : it->second->accs) {
          auto m = merged_.find(key);
          if (m == merged_.end()) {
            merged_.emplace(key, acc);
          } else {
            agg_.merge(acc, m->second);
          }
        }
      }
      for (const auto& [key, acc] : merged_) emitResult(key, w, acc, early);
    }
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
      auto a = it->second->accs.find(key);
      if (a == it->second->accs.end()) continue;
      if (!any) {
        out = a->second;
        any = true;
      } else {
        agg_.merge(a->second, out);
      }
    }
    return any;
  }

  /// A record for a pane covered by a window that has already fired: an update if some such
  /// window is within its allowed lateness, late otherwise.
  void onLateRecord(const T& r, int64_t paneStart) {
    if (satAdd(lastEndCovering(paneStart) - 1, options_.allowedLatenessMs) <= current_) {
      this->ctx_->metrics->lateRecords.fetch_add(1, std::memory_order_relaxed);
      if (options_.lateTagId != 0) emitter_.template outputById<T>(options_.lateTagId, r);
      return;
    }
    lateUpdate(r, paneStart);
  }

  /// Adds a record to a pane whose fired windows are within allowed lateness, and re-emits
  /// the fired windows it changes.
  void lateUpdate(const T& r, int64_t paneStart) {
    const K key = keyFn_(r);
    const StoredKey stored(key);
    std::vector<std::pair<TimeWindow, std::optional<Acc>>> fired;
    for (int64_t end = firstEndCovering(paneStart); end <= lastEndCovering(paneStart); end += spec_.slideMs) {
      if (end - 1 > current_) break;  // not fired yet: it will include the record when it fires
      if (satAdd(end - 1, options_.allowedLatenessMs) <= current_) continue;  // cleaned up
      TimeWindow w{end - spec_.sizeMs, end};
      Acc old = agg_.createAccumulator();
      fired.emplace_back(w, windowAcc(w, stored, old) ? std::optional<Acc>(std::move(old)) : std::nullopt);
    }
    agg_.add(r, slot(paneFor(paneStart), key));
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
    int64_t end = firstEndCovering(panes_.begin()->first);
    if (current_ != kMinTime) end = std::max(end, firstEndCovering(current_ + 1));  // not fired yet
    for (; end - spec_.sizeMs <= lastPane; end += spec_.slideMs) {
      TimeWindow w{end - spec_.sizeMs, end};
      merged_.clear();
      for (auto it = panes_.lower_bound(w.start); it != panes_.end() && it->first < w.end; ++it) {
        for (const auto& [key, acc] : it->second->accs) {
          auto m = merged_.find(key);
          if (m == merged_.end()) merged_.emplace(key, acc);
          else agg_.merge(acc, m->second);
        }
      }
      if (merged_.empty()) continue;
      PaneMap& emitted = early_[w.end];
      for (const auto& [key, acc] : merged_) {
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
      }
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
  int64_t pane_ = 1;
  bool eventTime_ = true;

  std::map<int64_t, std::unique_ptr<Pane>> panes_;  ///< by pane start
  std::vector<std::unique_ptr<Pane>> freePanes_;    ///< cleared panes kept for reuse (capacity)
  int64_t cachedStart_ = kMinTime;
  Pane* cached_ = nullptr;
  int64_t current_ = kMinTime;             ///< the watermark (or clock) reached
  PaneMap merged_;
  int64_t firedSinceReport_ = 0;
  std::map<int64_t, PaneMap> early_;  ///< by window end: results emitted early, per key
  int64_t windowCallbackAt_ = kMaxTime;  ///< pending callback for window ends (processing time)
  int64_t earlyCallbackAt_ = kMaxTime;   ///< pending callback for early firings
};

}  // namespace reka::detail
