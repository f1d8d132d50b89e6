#pragma once

// Count windows and global windows: windows that are not cut by time.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "reka/api/Functions.h"
#include "reka/api/Operator.h"
#include "reka/api/detail/StreamOperators.h"
#include "reka/operators/WindowSupport.h"
#include "reka/state/KeyGroup.h"
#include "reka/state/StateBackend.h"
#include "reka/time/Windows.h"

namespace reka::detail {

/// A key's state in count windows.
template <class Acc>
struct CountKeyState {
  KeyGroup keyGroup{0};     ///< not written: computed from the key
  int64_t count = 0;        ///< records of the key so far
  std::vector<Acc> panes;   ///< complete panes the next window holds, oldest first
  std::optional<Acc> open;  ///< the pane being filled
};
/// A key's state in global windows.
template <class Acc>
struct GlobalKeyState {
  GlobalKeyState() = default;
  explicit GlobalKeyState(Acc a) : acc(std::move(a)) {}
  KeyGroup keyGroup{0};        ///< not written: computed from the key
  Acc acc{};
  std::optional<Acc> emitted;  ///< the last emitted accumulator (set once the key has fired)
  int64_t sinceFiring = 0;     ///< records since the last firing (count trigger)
  bool changed = false;        ///< records arrived since the last firing
};

}  // namespace reka::detail

namespace reka {

/// A key's count-window state as the operator writes it in snapshots and keeps it in a store:
/// i64 count, vector<acc> panes, optional<acc> open.
template <class Acc>
struct Serde<detail::CountKeyState<Acc>, std::enable_if_t<HasSerde<Acc>::value>> {
  static void write(const detail::CountKeyState<Acc>& ks, std::string& out) {
    Serde<int64_t>::write(ks.count, out);
    Serde<std::vector<Acc>>::write(ks.panes, out);
    Serde<std::optional<Acc>>::write(ks.open, out);
  }
  static bool read(std::string_view& in, detail::CountKeyState<Acc>& ks) {
    return Serde<int64_t>::read(in, ks.count) && ks.count >= 0 && Serde<std::vector<Acc>>::read(in, ks.panes) &&
           Serde<std::optional<Acc>>::read(in, ks.open);
  }
};
/// A key's global-window state: acc, optional<acc> emitted, i64 sinceFiring, u8 changed.
template <class Acc>
struct Serde<detail::GlobalKeyState<Acc>, std::enable_if_t<HasSerde<Acc>::value>> {
  static void write(const detail::GlobalKeyState<Acc>& ks, std::string& out) {
    Serde<Acc>::write(ks.acc, out);
    Serde<std::optional<Acc>>::write(ks.emitted, out);
    Serde<int64_t>::write(ks.sinceFiring, out);
    Serde<uint8_t>::write(ks.changed ? 1 : 0, out);
  }
  static bool read(std::string_view& in, detail::GlobalKeyState<Acc>& ks) {
    uint8_t changed = 0;
    const bool ok = Serde<Acc>::read(in, ks.acc) && Serde<std::optional<Acc>>::read(in, ks.emitted) &&
                    Serde<int64_t>::read(in, ks.sinceFiring) && Serde<uint8_t>::read(in, changed) && changed <= 1;
    ks.changed = changed == 1;
    return ok;
  }
};

}  // namespace reka

namespace reka::detail {

/// Where the count and global window operators keep a key's state: in their own map on the heap
/// backend, in the backend's store on RocksDB (OwnContents, namespace 0). A reference handed out
/// is valid until another key is used.
template <class K, class State>
class PerKeyStates {
 public:
  using Key = StoredKeyOf<K>;

  Status open(OperatorContext& ctx, const std::string& table) {
    ctx_ = &ctx;
    return contents_.open(ctx, table);
  }
  bool inStore() const { return contents_.store.has_value(); }

  /// The state of `key`, created with `make()` if absent; `kept` is set to the key as kept.
  template <class Make>
  State& getOrCreate(const K& key, Make&& make, const Key*& kept) {
    if (contents_.store) {
      storedKey_ = key;
      kept = &storedKey_;
      return contents_.store->getOrCreate(0, storedKey_, std::forward<Make>(make));
    }
    auto it = keys_.find(key);
    if (it == keys_.end()) {
      it = keys_.try_emplace(Key(key), make()).first;
      it->second.keyGroup = keyGroupFor(hashKey(key), ctx_->maxParallelism);
    }
    kept = &it->first;
    return it->second;
  }

  /// Calls `fn(key, state)` for every key, key group by key group in a store (where the state
  /// given is a copy: `fn` returns whether it changed it, and a changed state is written back).
  template <class Fn>
  void forEachMutable(Fn&& fn) {
    if (!contents_.store) {
      for (auto& [key, st] : keys_) fn(key, st);
      return;
    }
    auto& store = *contents_.store;
    const KeyGroupRange range = store.range();
    std::vector<std::pair<Key, State>> changed;
    for (int32_t g = range.first; g <= range.last; ++g) {
      changed.clear();
      Status s = store.forEach(KeyGroup{g}, 0, [&](const Key& key, const State& st) {
        State copy = st;
        if (fn(key, copy)) changed.emplace_back(key, std::move(copy));
      });
      if (!s.isOk()) throw StateAccessError(s);
      for (auto& [key, st] : changed) store.put(0, key, std::move(st));
    }
  }

  /// The heap map (snapshots; empty in a store).
  StateMap<Key, State>& heap() { return keys_; }

  /// After a restore: states that arrived where this backend does not keep them move to where it
  /// does (see AlignedWindowOperator::settleRestoredContents).
  void settleRestored() {
    if (contents_.store) {
      for (const auto& [key, st] : keys_) contents_.store->put(0, key, st);
      keys_.clear();
      return;
    }
    contents_.drainAdopted([this](int64_t, const Key& key, const State& st) {
      State& mine = keys_.insert_or_assign(key, st).first->second;
      mine.keyGroup = keyGroupFor(hashKey(K(key)), ctx_->maxParallelism);
    });
  }

 private:
  OperatorContext* ctx_ = nullptr;
  StateMap<Key, State> keys_;  // string keys: looked up by view, no copy
  OwnContents<Key, State> contents_;
  Key storedKey_{};
};

/// Count windows over a keyed stream (Flink's countWindow(size, slide)): every `slide` records of
/// a key, a window over the key's last `size` records fires (+I). Sliding windows hold fewer
/// records at the start (the first fires after `slide` records); slide == size is tumbling.
/// Each record is aggregated once, into a pane of gcd(size, slide) records; a window merges its
/// panes (agg.merge). The window's TimeWindow holds record ordinals of the key: start is the
/// 0-based ordinal of its first record, end is one past its last.
/// A partial window at the end of input is not emitted (as in Flink, where the count trigger
/// never fires for it). Watermarks pass through; allowed lateness and late-data output do not
/// apply (no record is late). Only the default trigger is supported: open() rejects any other.
/// Driven by one task at a time.
template <class T, class K, class KeyFn, class Agg, class Out, class Emit>
class CountWindowOperator final : public EmittingOperator<Out> {
 public:
  using Key = StoredKeyOf<K>;
  using Acc = std::decay_t<decltype(std::declval<Agg&>().createAccumulator())>;

  CountWindowOperator(KeyFn keyFn, Agg agg, Emit emit, CountWindows assigner, WindowOptions options,
                      std::shared_ptr<const SidePorts> ports)
      : EmittingOperator<Out>(std::move(ports)),
        keyFn_(std::move(keyFn)),
        agg_(std::move(agg)),
        emit_(std::move(emit)),
        assigner_(assigner),
        options_(options) {}

  Status open(OperatorContext& ctx) override {
    REKA_RETURN_IF_ERROR(assigner_.validate());
    if (options_.trigger.kind != Trigger::Kind::kDefault) {
      return Status::invalidArgument(
          "count windows support only the default trigger (a window fires every `slide` "
          "records of its key); countOf, earlyEvery and processingTimeEvery triggers are not "
          "supported for count windows");
    }
    pane_ = std::gcd(assigner_.size, assigner_.slide);
    keepPanes_ = static_cast<size_t>((assigner_.size - assigner_.slide) / pane_);
    REKA_RETURN_IF_ERROR(EmittingOperator<Out>::open(ctx));
    return keys_.open(ctx, "count-windows");
  }

  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RecordBatch<T>&>(batch);
    for (const T& r : in.records) add(r);
    emitter_.flushEmitted(&in);
  }

  static constexpr bool kSnapshottable = HasSerde<Key>::value && HasSerde<Acc>::value;
  /// Whether this operator's state types can be checkpointed (each has a Serde): the runtime
  /// asks before a job with checkpoints starts.
  Status checkSnapshottable() const override { return keysAndAccumulatorsSnapshottable<Key, Acc>(this->ctx_); }

  /// Writes every key's record count, complete panes and open pane. Version 1:
  ///   u8 version, u64 keys, keys × (key, i64 count, vector<acc> panes, optional<acc> open).
  /// In a store the keys are the backend's: none are written.
  Status snapshotState(int64_t, std::string& out) override {
    if constexpr (!kSnapshottable) {
      return checkSnapshottable();
    } else {
      Serde<uint8_t>::write(kOperatorSnapshotVersion, out);
      Serde<uint64_t>::write(keys_.heap().size(), out);
      for (const auto& [key, ks] : keys_.heap()) {
        Serde<Key>::write(key, out);
        Serde<KeyState>::write(ks, out);
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
      StateMap<Key, KeyState> keys;
      uint64_t keyCount = 0;
      bool ok = readSnapshotCount(in, keyCount);
      for (uint64_t k = 0; ok && k < keyCount; ++k) {
        Key key{};
        KeyState ks;
        ok = Serde<Key>::read(in, key) && Serde<KeyState>::read(in, ks);
        if (!ok) break;
        ks.keyGroup = keyGroupFor(hashKey(K(key)), this->ctx_->maxParallelism);
        ok = keys.try_emplace(std::move(key), std::move(ks)).second;
      }
      REKA_RETURN_IF_ERROR(finishSnapshotRead(ok, in, this->ctx_));
      keys_.heap() = std::move(keys);
      keys_.settleRestored();
      return Status::ok();
    }
  }

  /// At another parallelism: every new subtask takes, from every old subtask, the counts and
  /// panes of the keys in its own key groups.
  Operator::OwnStateRescale ownStateRescale() const override { return Operator::OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator& scratch, const Operator::RescaledPart&) override {
    auto* from = dynamic_cast<CountWindowOperator*>(&scratch);
    if (from == nullptr) return Status::internal("a rescaled restore handed over another kind of operator");
    absorbOwnedKeys<K>(*this->ctx_, from->keys_.heap(), keys_.heap());
    keys_.settleRestored();
    return Status::ok();
  }

 private:
  using KeyState = CountKeyState<Acc>;

  void add(const T& r) {
    const K key = keyFn_(r);
    const Key* kept = nullptr;
    KeyState& ks = keys_.getOrCreate(key, [] { return KeyState{}; }, kept);
    if (!ks.open) ks.open = agg_.createAccumulator();
    agg_.add(r, *ks.open);
    ++ks.count;
    if (ks.count % pane_ != 0) return;
    ks.panes.push_back(std::move(*ks.open));
    ks.open.reset();
    if (ks.count % assigner_.slide != 0) return;

    // Every kept pane belongs to this window: panes older than it were dropped at earlier firings.
    const int64_t records = static_cast<int64_t>(ks.panes.size()) * pane_;
    const TimeWindow window{ks.count - records, ks.count};
    if (ks.panes.size() == 1) {
      emit_(*kept, window, ks.panes.front(), RowKind::kInsert, emitter_);
    } else {
      Acc acc = agg_.createAccumulator();
      for (const Acc& p : ks.panes) agg_.merge(p, acc);
      emit_(*kept, window, acc, RowKind::kInsert, emitter_);
    }
    // The next window starts `slide` records later: keep only the panes it holds.
    if (ks.panes.size() > keepPanes_) {
      ks.panes.erase(ks.panes.begin(),
                     ks.panes.begin() + static_cast<std::ptrdiff_t>(ks.panes.size() - keepPanes_));
    }
  }

  Emitter<Out>& emitterRef() override { return emitter_; }

  KeyFn keyFn_;
  Agg agg_;
  Emit emit_;
  CountWindows assigner_;
  WindowOptions options_;
  int64_t pane_ = 1;
  size_t keepPanes_ = 0;
  Emitter<Out> emitter_;
  PerKeyStates<K, KeyState> keys_;
};

/// Global windows over a keyed stream: one window per key, TimeWindow{kMinTime, kMaxTime}, holding
/// all its records (nothing is purged). When it fires depends on the trigger:
///   - default: once per key at the end of input (the kMaxTime watermark, or finish());
///   - countOf(n): every n records of the key;
///   - processingTimeEvery(interval) (and earlyEvery, the same here): every interval, the keys
///     that changed since their last firing.
/// With every trigger, the keys that changed since their last firing fire once more at the end of
/// input. A key's first firing emits +I; later ones retract the previous result (-U) and emit
/// the current one (+U), so the operator keeps a copy of the last emitted accumulator per key.
/// Watermarks pass through; allowed lateness and late-data output do not apply (no record is
/// late). Driven by one task at a time.
template <class T, class K, class KeyFn, class Agg, class Out, class Emit>
class GlobalWindowOperator final : public EmittingOperator<Out> {
 public:
  using Key = StoredKeyOf<K>;
  using Acc = std::decay_t<decltype(std::declval<Agg&>().createAccumulator())>;

  GlobalWindowOperator(KeyFn keyFn, Agg agg, Emit emit, WindowOptions options,
                       std::shared_ptr<const SidePorts> ports)
      : EmittingOperator<Out>(std::move(ports)),
        keyFn_(std::move(keyFn)),
        agg_(std::move(agg)),
        emit_(std::move(emit)),
        options_(options) {}

  Status open(OperatorContext& ctx) override {
    const Trigger& t = options_.trigger;
    if (t.kind == Trigger::Kind::kCount && t.count <= 0) {
      return Status::invalidArgument("count trigger needs a positive count, got " +
                                     std::to_string(t.count));
    }
    if (periodic() && t.intervalMs <= 0) {
      return Status::invalidArgument("processing-time trigger needs a positive interval, got " +
                                     std::to_string(t.intervalMs) + " ms");
    }
    REKA_RETURN_IF_ERROR(EmittingOperator<Out>::open(ctx));
    REKA_RETURN_IF_ERROR(keys_.open(ctx, "global-windows"));
    if (periodic()) requestCallback(ctx.time->now() + t.intervalMs);
    return Status::ok();
  }

  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RecordBatch<T>&>(batch);
    const bool byCount = options_.trigger.kind == Trigger::Kind::kCount;
    for (const T& r : in.records) {
      const K key = keyFn_(r);
      const Key* kept = nullptr;
      KeyState& ks = keys_.getOrCreate(key, [this] { return KeyState(agg_.createAccumulator()); }, kept);
      agg_.add(r, ks.acc);
      ks.changed = true;
      if (byCount && ++ks.sinceFiring >= options_.trigger.count) fire(*kept, ks, false);
    }
    emitter_.flushEmitted(&in);
  }

  void processWatermark(int64_t watermark) override {
    if (watermark == kMaxTime) fireChanged(true);
    this->forwardWatermark(watermark);
  }

  void onProcessingTime(int64_t now) override {
    callbackAt_ = kMaxTime;  // the call answers every request made so far
    if (!periodic() || ended_) return;
    fireChanged(false);
    requestCallback(now + options_.trigger.intervalMs);
  }

  void finish() override {
    fireChanged(true);
    EmittingOperator<Out>::finish();
  }

  static constexpr bool kSnapshottable = HasSerde<Key>::value && HasSerde<Acc>::value;
  /// Whether this operator's state types can be checkpointed (each has a Serde): the runtime
  /// asks before a job with checkpoints starts.
  Status checkSnapshottable() const override { return keysAndAccumulatorsSnapshottable<Key, Acc>(this->ctx_); }

  /// Writes whether the end-of-input firing happened, the pending periodic callback and every
  /// key's accumulator, last emitted accumulator, records since its last firing and whether it
  /// changed since. Version 1:
  ///   u8 version, u8 ended, i64 callbackAt, u64 keys,
  ///   keys × (key, acc, optional<acc> emitted, i64 sinceFiring, u8 changed).
  /// In a store the keys are the backend's: none are written.
  Status snapshotState(int64_t, std::string& out) override {
    if constexpr (!kSnapshottable) {
      return checkSnapshottable();
    } else {
      Serde<uint8_t>::write(kOperatorSnapshotVersion, out);
      Serde<uint8_t>::write(ended_ ? 1 : 0, out);
      Serde<int64_t>::write(callbackAt_, out);
      Serde<uint64_t>::write(keys_.heap().size(), out);
      for (const auto& [key, ks] : keys_.heap()) {
        Serde<Key>::write(key, out);
        Serde<KeyState>::write(ks, out);
      }
      return Status::ok();
    }
  }

  /// Restores what snapshotState wrote into a freshly opened operator and asks again for the
  /// pending periodic callback.
  Status restoreState(std::string_view in) override {
    if constexpr (!kSnapshottable) {
      return checkSnapshottable();
    } else {
      REKA_RETURN_IF_ERROR(readSnapshotVersion(in, this->ctx_));
      uint8_t ended = 0;
      int64_t callbackAt = kMaxTime;
      StateMap<Key, KeyState> keys;
      uint64_t keyCount = 0;
      bool ok = Serde<uint8_t>::read(in, ended) && ended <= 1 &&
                Serde<int64_t>::read(in, callbackAt) && readSnapshotCount(in, keyCount);
      for (uint64_t k = 0; ok && k < keyCount; ++k) {
        Key key{};
        KeyState ks(agg_.createAccumulator());
        ok = Serde<Key>::read(in, key) && Serde<KeyState>::read(in, ks);
        if (!ok) break;
        ks.keyGroup = keyGroupFor(hashKey(K(key)), this->ctx_->maxParallelism);
        ok = keys.try_emplace(std::move(key), std::move(ks)).second;
      }
      REKA_RETURN_IF_ERROR(finishSnapshotRead(ok, in, this->ctx_));
      ended_ = ended == 1;
      keys_.heap() = std::move(keys);
      keys_.settleRestored();
      if (periodic() && !ended_ && callbackAt != kMaxTime) requestCallback(callbackAt);
      return Status::ok();
    }
  }

  /// At another parallelism: every new subtask takes, from every old subtask, the accumulators
  /// of the keys in its own key groups; the end-of-input firing happened if it had anywhere.
  Operator::OwnStateRescale ownStateRescale() const override { return Operator::OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator& scratch, const Operator::RescaledPart&) override {
    auto* from = dynamic_cast<GlobalWindowOperator*>(&scratch);
    if (from == nullptr) return Status::internal("a rescaled restore handed over another kind of operator");
    absorbOwnedKeys<K>(*this->ctx_, from->keys_.heap(), keys_.heap());
    keys_.settleRestored();
    ended_ = ended_ || from->ended_;
    if (periodic() && !ended_ && from->callbackAt_ != kMaxTime) requestCallback(from->callbackAt_);
    return Status::ok();
  }

 private:
  using KeyState = GlobalKeyState<Acc>;

  // Periodic callbacks go through here so that a snapshot knows which one is pending.
  void requestCallback(int64_t at) {
    callbackAt_ = std::min(callbackAt_, at);
    this->ctx_->time->requestCallback(at);
  }

  bool periodic() const {
    return options_.trigger.kind == Trigger::Kind::kProcessingTimePeriodic ||
           options_.trigger.kind == Trigger::Kind::kEarlyPeriodic;
  }

  /// `last`: the end of input; no later firing will retract this one, so no copy is kept.
  void fire(const Key& key, KeyState& ks, bool last) {
    const TimeWindow window{kMinTime, kMaxTime};
    if (ks.emitted) {
      emit_(key, window, *ks.emitted, RowKind::kUpdateBefore, emitter_);
      emit_(key, window, ks.acc, RowKind::kUpdateAfter, emitter_);
    } else {
      emit_(key, window, ks.acc, RowKind::kInsert, emitter_);
    }
    ks.changed = false;
    ks.sinceFiring = 0;
    if (last) {
      ks.emitted.reset();
    } else {
      ks.emitted = ks.acc;
    }
  }

  void fireChanged(bool last) {
    if (ended_) return;
    ended_ = last;
    keys_.forEachMutable([&](const Key& key, KeyState& ks) {
      if (!ks.changed) return false;
      fire(key, ks, last);
      if (emitter_.pendingCount() >= this->ctx_->batchSize) emitter_.flushEmitted(nullptr);
      return true;
    });
    emitter_.flushEmitted(nullptr);
  }

  Emitter<Out>& emitterRef() override { return emitter_; }

  KeyFn keyFn_;
  Agg agg_;
  Emit emit_;
  WindowOptions options_;
  bool ended_ = false;  ///< the end-of-input firing happened
  int64_t callbackAt_ = kMaxTime;  ///< the pending periodic callback (kMaxTime: none)
  Emitter<Out> emitter_;
  PerKeyStates<K, KeyState> keys_;
};

}  // namespace reka::detail
