#pragma once

// Session windows (Flink's EventTimeSessionWindows / ProcessingTimeSessionWindows with their
// default trigger): per key, windows that close after a gap without records.

#include <absl/container/btree_set.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "reka/api/Functions.h"
#include "reka/api/Operator.h"
#include "reka/api/detail/StreamOperators.h"
#include "reka/base/Check.h"
#include "reka/operators/WindowSupport.h"
#include "reka/state/KeyGroup.h"
#include "reka/state/StateBackend.h"
#include "reka/time/Windows.h"

namespace reka::detail {

/// A session's result that was emitted and that the next firing of the session replaces (-U).
template <class Acc>
struct SessionResult {
  TimeWindow window;
  Acc acc;
};
/// One session of a key.
template <class Acc>
struct SessionState {
  TimeWindow window;
  Acc acc;
  bool fired = false;                       ///< (window, acc) is what was last emitted
  std::vector<SessionResult<Acc>> retract;  ///< earlier results of merged fired sessions, not yet replaced
};
/// A key's sessions and its timer.
template <class Acc>
struct SessionKeyState {
  KeyGroup keyGroup{0};                     ///< not written: computed from the key
  std::vector<SessionState<Acc>> sessions;  ///< disjoint, not touching, sorted by start
  std::optional<int64_t> timerAt;           ///< this key's entry in the operator's timer set
};

}  // namespace reka::detail

namespace reka {

/// A key's sessions as the session window operator writes them in its snapshots and keeps them
/// in a store: optional<i64> timerAt, u64 sessions, sessions × (window, acc, u8 fired,
/// u64 retract, retract × (window, acc)), a window being i64 start, i64 end.
template <class Acc>
struct Serde<detail::SessionKeyState<Acc>, std::enable_if_t<HasSerde<Acc>::value>> {
  static void write(const detail::SessionKeyState<Acc>& ks, std::string& out) {
    Serde<std::optional<int64_t>>::write(ks.timerAt, out);
    Serde<uint64_t>::write(ks.sessions.size(), out);
    for (const auto& session : ks.sessions) {
      detail::writeSnapshotWindow(session.window, out);
      Serde<Acc>::write(session.acc, out);
      Serde<uint8_t>::write(session.fired ? 1 : 0, out);
      Serde<uint64_t>::write(session.retract.size(), out);
      for (const auto& e : session.retract) {
        detail::writeSnapshotWindow(e.window, out);
        Serde<Acc>::write(e.acc, out);
      }
    }
  }
  static bool read(std::string_view& in, detail::SessionKeyState<Acc>& ks) {
    uint64_t sessionCount = 0;
    bool ok = Serde<std::optional<int64_t>>::read(in, ks.timerAt) && detail::readSnapshotCount(in, sessionCount);
    ks.sessions.clear();
    for (uint64_t i = 0; ok && i < sessionCount; ++i) {
      auto& session = ks.sessions.emplace_back();
      uint8_t fired = 0;
      uint64_t retractCount = 0;
      ok = detail::readSnapshotWindow(in, session.window) && Serde<Acc>::read(in, session.acc) &&
           Serde<uint8_t>::read(in, fired) && fired <= 1 && detail::readSnapshotCount(in, retractCount);
      session.fired = fired == 1;
      for (uint64_t j = 0; ok && j < retractCount; ++j) {
        auto& e = session.retract.emplace_back();
        ok = detail::readSnapshotWindow(in, e.window) && Serde<Acc>::read(in, e.acc);
      }
    }
    return ok;
  }
};

}  // namespace reka

namespace reka::detail {

/// Session windows over a keyed stream. A record at ts opens [ts, ts + gap) and merges (agg.merge)
/// with every session of its key that window intersects; touching sessions merge too, as in Flink.
///
/// Event time: a session fires (+I) when the watermark reaches its maxTimestamp(); the sessions
/// due at one watermark fire in timestamp order. A fired session is kept until the watermark
/// reaches maxTimestamp() + allowed lateness, then dropped. A record that joins a kept fired
/// session fires the merged session again at once if it has passed the watermark (-U for every
/// result it replaces, then +U), otherwise when the watermark reaches it. A record behind the
/// watermark that opens a new session within the lateness fires it at once (+I). Both count in
/// lateUpdates.
/// A record whose own window is behind the watermark by more than the lateness and that joins no
/// kept session is late: counted in lateRecords and sent to the late-data output, if any.
///
/// Processing time: a record's timestamp is the clock at its arrival; a session fires once the
/// clock reaches its end; at the end of input every session still open fires. There is no
/// lateness in processing time.
///
/// Only the default trigger is supported: open() rejects any other. Keyed state is one small
/// sorted vector of sessions per key: in the operator's memory on the heap backend, in the
/// backend's store on RocksDB (OwnContents); the timer set (one entry per key) stays on the heap
/// in both, and a snapshot in a store lists each key with its timer only. Driven by one task at
/// a time.
template <class T, class K, class KeyFn, class TsFn, class Agg, class Out, class Emit>
class SessionWindowOperator final : public EmittingOperator<Out> {
 public:
  using Key = StoredKeyOf<K>;
  using Acc = std::decay_t<decltype(std::declval<Agg&>().createAccumulator())>;

  SessionWindowOperator(KeyFn keyFn, TsFn tsFn, Agg agg, Emit emit, SessionWindows assigner,
                        WindowOptions options, std::shared_ptr<const SidePorts> ports)
      : EmittingOperator<Out>(std::move(ports)),
        keyFn_(std::move(keyFn)),
        tsFn_(std::move(tsFn)),
        agg_(std::move(agg)),
        emit_(std::move(emit)),
        assigner_(assigner),
        options_(options) {}

  Status open(OperatorContext& ctx) override {
    REKA_RETURN_IF_ERROR(assigner_.validate());
    if (options_.trigger.kind != Trigger::Kind::kDefault) {
      return Status::invalidArgument(
          "session windows support only the default trigger (a session fires when the "
          "watermark or clock passes its end); countOf, earlyEvery and processingTimeEvery "
          "triggers are not supported for session windows");
    }
    if (options_.allowedLatenessMs < 0) {
      return Status::invalidArgument("allowed lateness must not be negative, got " +
                                     std::to_string(options_.allowedLatenessMs) + " ms");
    }
    REKA_RETURN_IF_ERROR(EmittingOperator<Out>::open(ctx));
    return contents_.open(ctx, "sessions");
  }

  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RecordBatch<T>&>(batch);
    for (const T& r : in.records) add(r);
    emitter_.flushEmitted(&in);
  }

  void processWatermark(int64_t watermark) override {
    if (eventTime() && watermark > watermark_) {
      watermark_ = watermark;
      advance(watermark);
      emitter_.flushEmitted(nullptr);
    }
    this->forwardWatermark(watermark);
  }

  int64_t nextEventTimer() const override {
    return eventTime() && !timers_.empty() ? timers_.begin()->first : INT64_MAX;
  }

  void onProcessingTime(int64_t now) override {
    if (eventTime()) return;
    advance(now - 1);  // a session [start, end) fires once the clock reaches `end`
    if (!timers_.empty())
      this->ctx_->time->requestCallback(addSaturating(timers_.begin()->first, 1));
    emitter_.flushEmitted(nullptr);
  }

  void finish() override {
    // End of input: every session still open fires. In event time the final kMaxTime
    // watermark has done this already.
    advance(kMaxTime);
    EmittingOperator<Out>::finish();
  }

  static constexpr bool kSnapshottable = HasSerde<Key>::value && HasSerde<Acc>::value;
  /// Whether this operator's state types can be checkpointed (each has a Serde): the runtime
  /// asks before a job with checkpoints starts.
  Status checkSnapshottable() const override { return keysAndAccumulatorsSnapshottable<Key, Acc>(this->ctx_); }

  /// Writes the watermark and every key's sessions (window, accumulator, whether fired, the
  /// results a later firing retracts) and timer. The timer set is rebuilt from the per-key
  /// timers on restore. Version 1:
  ///   u8 version, i64 watermark, u64 keys, keys × (key, Serde<SessionKeyState>).
  /// In a store the sessions are the backend's: each key is written with its timer and no
  /// sessions.
  Status snapshotState(int64_t, std::string& out) override {
    if constexpr (!kSnapshottable) {
      return checkSnapshottable();
    } else {
      Serde<uint8_t>::write(kOperatorSnapshotVersion, out);
      Serde<int64_t>::write(watermark_, out);
      if (contents_.store) {
        Serde<uint64_t>::write(timers_.size(), out);
        KeyState timerOnly;
        for (const auto& [at, key] : timers_) {
          Serde<Key>::write(key, out);
          timerOnly.timerAt = at;
          Serde<KeyState>::write(timerOnly, out);
        }
        return Status::ok();
      }
      Serde<uint64_t>::write(keys_.size(), out);
      for (const auto& [key, ks] : keys_) {
        Serde<Key>::write(key, out);
        Serde<KeyState>::write(ks, out);
      }
      return Status::ok();
    }
  }

  /// Restores what snapshotState wrote into a freshly opened operator; in processing time, asks
  /// again for the callback of the earliest timer.
  Status restoreState(std::string_view in) override {
    if constexpr (!kSnapshottable) {
      return checkSnapshottable();
    } else {
      REKA_RETURN_IF_ERROR(readSnapshotVersion(in, this->ctx_));
      int64_t watermark = kMinTime;
      StateMap<Key, KeyState> keys;
      absl::btree_set<std::pair<int64_t, Key>> timers;
      uint64_t keyCount = 0;
      bool ok = Serde<int64_t>::read(in, watermark) && readSnapshotCount(in, keyCount);
      for (uint64_t k = 0; ok && k < keyCount; ++k) {
        Key key{};
        KeyState ks;
        ok = Serde<Key>::read(in, key) && Serde<KeyState>::read(in, ks);
        if (!ok) break;
        ks.keyGroup = keyGroupFor(hashKey(K(key)), this->ctx_->maxParallelism);
        if (ks.timerAt) timers.insert(std::pair<int64_t, Key>(*ks.timerAt, key));
        ok = keys.try_emplace(std::move(key), std::move(ks)).second;
      }
      REKA_RETURN_IF_ERROR(finishSnapshotRead(ok, in, this->ctx_));
      watermark_ = watermark;
      keys_ = std::move(keys);
      timers_ = std::move(timers);
      settleRestoredContents();
      if (!eventTime() && !timers_.empty())
        this->ctx_->time->requestCallback(addSaturating(timers_.begin()->first, 1));
      return Status::ok();
    }
  }

  /// At another parallelism: every new subtask takes, from every old subtask, the sessions of
  /// the keys in its own key groups (with their timers); the watermark is the lowest absorbed.
  Operator::OwnStateRescale ownStateRescale() const override { return Operator::OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator& scratch, const Operator::RescaledPart&) override {
    auto* from = dynamic_cast<SessionWindowOperator*>(&scratch);
    if (from == nullptr) return Status::internal("a rescaled restore handed over another kind of operator");
    watermark_ = absorbed_ ? std::min(watermark_, from->watermark_) : from->watermark_;
    absorbed_ = true;
    for (const auto& [key, ks] : from->keys_) {
      const KeyGroup kg = keyGroupFor(hashKey(K(key)), this->ctx_->maxParallelism);
      if (!this->ctx_->keyGroups.contains(kg)) continue;
      KeyState copy = ks;
      copy.keyGroup = kg;
      if (copy.timerAt) timers_.insert(std::pair<int64_t, Key>(*copy.timerAt, key));
      keys_.try_emplace(key, std::move(copy));
    }
    settleRestoredContents();
    if (!eventTime() && !timers_.empty())
      this->ctx_->time->requestCallback(addSaturating(timers_.begin()->first, 1));
    return Status::ok();
  }

 private:
  using Emitted = SessionResult<Acc>;
  using Session = SessionState<Acc>;
  using KeyState = SessionKeyState<Acc>;

  /// After a restore: sessions that arrived where this backend does not keep them move to where
  /// it does (see AlignedWindowOperator::settleRestoredContents). The timers came with the blob.
  void settleRestoredContents() {
    if (contents_.store) {
      for (const auto& [key, ks] : keys_)
        if (!ks.sessions.empty()) contents_.store->put(0, key, ks);
      keys_.clear();
      return;
    }
    contents_.drainAdopted([this](int64_t, const Key& key, const KeyState& restored) {
      auto it = keys_.try_emplace(key).first;
      KeyState& ks = it->second;
      if (ks.timerAt) timers_.erase(std::pair<int64_t, Key>(*ks.timerAt, key));
      ks.sessions = restored.sessions;
      ks.timerAt = restored.timerAt;
      ks.keyGroup = keyGroupFor(hashKey(K(key)), this->ctx_->maxParallelism);
      if (ks.timerAt) timers_.insert(std::pair<int64_t, Key>(*ks.timerAt, key));
    });
  }

  /// The state of `key`, or nullptr (on the heap or in the store); `kept` is set to the key as
  /// kept when there is one.
  KeyState* findState(const K& key, const Key*& kept) {
    if (contents_.store) {
      storedKey_ = key;
      kept = &storedKey_;
      return contents_.store->findMutable(0, storedKey_);
    }
    auto it = keys_.find(key);
    if (it == keys_.end()) return nullptr;
    kept = &it->first;
    return &it->second;
  }
  /// A new, empty state for `key`; `stored` is set to the key as kept.
  KeyState& createState(const K& key, const Key*& stored) {
    const KeyGroup kg = keyGroupFor(hashKey(key), this->ctx_->maxParallelism);
    if (contents_.store) {
      storedKey_ = key;
      stored = &storedKey_;
      KeyState& ks = contents_.store->getOrCreate(0, storedKey_, [] { return KeyState{}; });
      ks.keyGroup = kg;
      return ks;
    }
    auto it = keys_.try_emplace(Key(key)).first;
    stored = &it->first;
    it->second.keyGroup = kg;
    return it->second;
  }
  void eraseState(const Key& key) {
    if (contents_.store) {
      contents_.store->erase(0, key);
    } else {
      keys_.erase(key);
    }
  }

  bool eventTime() const { return assigner_.domain == TimeDomain::kEventTime; }
  int64_t lateness() const { return eventTime() ? options_.allowedLatenessMs : 0; }
  /// When a fired session's state is dropped.
  int64_t cleanupTime(const TimeWindow& w) const {
    return addSaturating(w.maxTimestamp(), lateness());
  }
  bool isLate(const TimeWindow& w) const { return eventTime() && cleanupTime(w) <= watermark_; }

  void add(const T& r) {
    const K key = keyFn_(r);
    const int64_t ts = eventTime() ? static_cast<int64_t>(tsFn_(r)) : this->ctx_->time->now();
    if (eventTime() && !isValidEventTimestamp(ts)) {  // no session holds it: late
      dropLate(r);
      return;
    }
    const TimeWindow fresh{ts, addSaturating(ts, assigner_.gapMs)};
    const Key* kept = nullptr;
    KeyState* found = findState(key, kept);
    if (found == nullptr) {
      if (isLate(fresh)) {
        dropLate(r);
        return;
      }
      found = &createState(key, kept);
    }
    KeyState& ks = *found;
    std::vector<Session>& sessions = ks.sessions;
    // The sessions `fresh` intersects are adjacent: those from `lo` up to `hi`.
    size_t lo = 0;
    while (lo < sessions.size() && sessions[lo].window.end < fresh.start) ++lo;
    size_t hi = lo;
    while (hi < sessions.size() && sessions[hi].window.start <= fresh.end) ++hi;

    if (lo == hi) {
      if (isLate(fresh)) {
        dropLate(r);  // the key has other sessions: its entry stays
        return;
      }
      Session s{fresh, agg_.createAccumulator(), false, {}};
      agg_.add(r, s.acc);
      sessions.insert(sessions.begin() + static_cast<std::ptrdiff_t>(lo), std::move(s));
    } else {
      Session& target = sessions[lo];
      TimeWindow merged = fresh;
      std::vector<Emitted> retract;
      for (size_t i = lo; i < hi; ++i) {
        Session& s = sessions[i];
        merged.start = std::min(merged.start, s.window.start);
        merged.end = std::max(merged.end, s.window.end);
        // A fired session's result is replaced by the merged one: keep it to retract (-U).
        if (s.fired) retract.push_back({s.window, s.acc});
        for (Emitted& e : s.retract) retract.push_back(std::move(e));
      }
      for (size_t i = lo + 1; i < hi; ++i) agg_.merge(sessions[i].acc, target.acc);
      agg_.add(r, target.acc);
      target.window = merged;
      target.fired = false;
      target.retract = std::move(retract);
      sessions.erase(sessions.begin() + static_cast<std::ptrdiff_t>(lo + 1),
                     sessions.begin() + static_cast<std::ptrdiff_t>(hi));
    }

    Session& s = sessions[lo];
    if (eventTime() && s.window.maxTimestamp() <= watermark_) {
      // Behind the watermark but within the allowed lateness (else it would have been late, or
      // its session dropped): the session has passed its end, so it fires (again) now.
      fire(*kept, s);
      this->ctx_->metrics->lateUpdates.fetch_add(1, std::memory_order_relaxed);
    }
    scheduleTimer(*kept, ks);
  }

  void dropLate(const T& r) {
    this->ctx_->metrics->lateRecords.fetch_add(1, std::memory_order_relaxed);
    if (options_.lateTagId != 0) emitter_.template outputById<T>(options_.lateTagId, r);
  }

  /// Emits the session's result: +I the first time, else -U for each result it replaces, then +U.
  void fire(const Key& key, Session& s) {
    if (s.retract.empty()) {
      emit_(key, s.window, s.acc, RowKind::kInsert, emitter_);
    } else {
      for (const Emitted& e : s.retract)
        emit_(key, e.window, e.acc, RowKind::kUpdateBefore, emitter_);
      s.retract.clear();
      emit_(key, s.window, s.acc, RowKind::kUpdateAfter, emitter_);
    }
    s.fired = true;
  }

  /// Fires the sessions whose maxTimestamp() is at or before `upTo` and drops those whose
  /// cleanup time has passed, key by key in timestamp order.
  void advance(int64_t upTo) {
    while (!timers_.empty() && timers_.begin()->first <= upTo) {
      const int64_t at = timers_.begin()->first;
      const Key key = timers_.begin()->second;
      timers_.erase(timers_.begin());
      const Key* kept = nullptr;
      KeyState* found = findState(key, kept);
      if (found == nullptr) continue;  // a restored timer whose key has no sessions
      KeyState& ks = *found;
      ks.timerAt.reset();
      for (Session& s : ks.sessions) {
        if (!s.fired && s.window.maxTimestamp() <= at) fire(key, s);
      }
      std::erase_if(ks.sessions,
                    [&](const Session& s) { return s.fired && cleanupTime(s.window) <= at; });
      if (ks.sessions.empty()) {
        eraseState(key);
      } else {
        scheduleTimer(key, ks);
      }
      if (emitter_.pendingCount() >= this->ctx_->batchSize) emitter_.flushEmitted(nullptr);
    }
  }

  /// Keeps one timer per key: the earliest time one of its sessions fires or is dropped.
  void scheduleTimer(const Key& key, KeyState& ks) {
    std::optional<int64_t> next;
    for (const Session& s : ks.sessions) {
      int64_t due = s.fired ? cleanupTime(s.window) : s.window.maxTimestamp();
      if (!next || due < *next) next = due;
    }
    if (next == ks.timerAt) return;
    if (ks.timerAt) timers_.erase(std::pair<int64_t, Key>(*ks.timerAt, key));
    ks.timerAt = next;
    if (!next) return;
    timers_.insert(std::pair<int64_t, Key>(*next, key));
    if (!eventTime()) this->ctx_->time->requestCallback(addSaturating(*next, 1));
  }

  Emitter<Out>& emitterRef() override { return emitter_; }

  KeyFn keyFn_;
  TsFn tsFn_;
  Agg agg_;
  Emit emit_;
  SessionWindows assigner_;
  WindowOptions options_;
  Emitter<Out> emitter_;
  StateMap<Key, KeyState> keys_;                     // string keys: looked up by view, no copy
  absl::btree_set<std::pair<int64_t, Key>> timers_;  ///< (time, key): one per key with sessions
  OwnContents<Key, KeyState> contents_;              ///< where the sessions are kept
  Key storedKey_{};                                  ///< the key being used (in a store)
  int64_t watermark_ = kMinTime;
  bool absorbed_ = false;  ///< a rescaled restore took an old subtask's state
};

}  // namespace reka::detail
