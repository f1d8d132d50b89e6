#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>

#include <absl/container/btree_set.h>

#include "reka/api/Operator.h"
#include "reka/state/KeyGroup.h"
#include "reka/state/KeyedState.h"
#include "reka/state/Serde.h"

namespace reka {

/// Which clock a timer follows.
enum class TimeDomain : uint8_t { kEventTime, kProcessingTime };

/// The event-time and processing-time timers of one keyed operator instance. A timer is a
/// (timestamp, key) pair; registering the same pair twice keeps one timer. Timers fire in
/// timestamp order with their key set as the current key. Keys must be ordered (operator<).
/// Checkpoints write them whole with the watermark (snapshot/restore, at the same parallelism)
/// or read them per key group (forEachInKeyGroup). Owned by one task.
template <class K>
class KeyedTimers {
 public:
  using StoredKey = StoredKeyOf<K>;
  using Timer = std::pair<int64_t, StoredKey>;

  void init(OperatorContext* ctx, const KeyContext<K>* keys) {
    ctx_ = ctx;
    keys_ = keys;
  }

  void registerEventTime(int64_t ts) { eventTimers_.insert(Timer(ts, StoredKey(*keys_->key))); }
  void deleteEventTime(int64_t ts) { eventTimers_.erase(Timer(ts, StoredKey(*keys_->key))); }
  void registerProcessingTime(int64_t ts) {
    processingTimers_.insert(Timer(ts, StoredKey(*keys_->key)));
    ctx_->time->requestCallback(ts);
  }
  void deleteProcessingTime(int64_t ts) { processingTimers_.erase(Timer(ts, StoredKey(*keys_->key))); }

  int64_t currentWatermark() const { return watermark_; }
  /// Where the watermark is kept (for event-time state TTL, which reads it per access).
  const int64_t* watermarkAddress() const { return &watermark_; }
  int64_t currentProcessingTime() const { return ctx_->time->now(); }
  size_t eventTimerCount() const { return eventTimers_.size(); }
  /// The earliest event-time timer (INT64_MAX: none).
  int64_t nextEventTime() const { return eventTimers_.empty() ? INT64_MAX : eventTimers_.begin()->first; }
  size_t processingTimerCount() const { return processingTimers_.size(); }

  /// Fires every event-time timer at or before `watermark`, in timestamp order, including
  /// timers that firing registers at or before it: fire(ts, key). A watermark that does not
  /// advance the current one changes nothing: after a restore, inputs send again the watermark
  /// they had reached, and timers registered behind it wait for the next advance, as they would
  /// have without the restore.
  template <class Fire>
  void advanceWatermark(int64_t watermark, Fire&& fire) {
    if (watermark <= watermark_) return;
    watermark_ = watermark;
    fireDue(eventTimers_, watermark, fire);
  }
  /// Fires the processing-time timers due at `now` and asks for a callback for the next one.
  template <class Fire>
  void advanceProcessingTime(int64_t now, Fire&& fire) {
    fireDue(processingTimers_, now, fire);
    if (!processingTimers_.empty()) ctx_->time->requestCallback(processingTimers_.begin()->first);
  }

  /// Checkpoints: appends the watermark and every timer of both domains to `out`:
  /// i64 watermark, u64 n, n × (i64 ts, key), the same for processing time; keys with
  /// Serde<StoredKey>. Without a Serde for the key type only an empty set of timers can be
  /// written: NotSupported if there are timers.
  Status snapshot(std::string& out) const {
    if constexpr (!HasSerde<StoredKey>::value) {
      if (!eventTimers_.empty() || !processingTimers_.empty()) return noSerde();
    }
    Serde<int64_t>::write(watermark_, out);
    writeTimers(eventTimers_, out);
    writeTimers(processingTimers_, out);
    return Status::ok();
  }
  /// Replaces the watermark and the timers with what snapshot() wrote, consuming it from the
  /// front of `in`, and asks for a callback for the earliest processing-time timer (one that is
  /// already due fires at the first callback). After init(); at the parallelism of the snapshot:
  /// a timer whose key is not in this subtask's key groups fails the restore.
  Status restore(std::string_view& in) {
    int64_t watermark = kMinTime;
    absl::btree_set<Timer> eventTimers, processingTimers;
    if (!Serde<int64_t>::read(in, watermark)) return Status::corruption("truncated timers in a checkpoint");
    REKA_RETURN_IF_ERROR(readTimers(in, eventTimers));
    REKA_RETURN_IF_ERROR(readTimers(in, processingTimers));
    for (const auto* timers : {&eventTimers, &processingTimers}) {
      for (const Timer& t : *timers) REKA_RETURN_IF_ERROR(checkOwned(t.second));
    }
    watermark_ = watermark;
    eventTimers_ = std::move(eventTimers);
    processingTimers_ = std::move(processingTimers);
    if (!processingTimers_.empty()) ctx_->time->requestCallback(processingTimers_.begin()->first);
    return Status::ok();
  }

  /// Restore at another parallelism (Operator::absorbRescaled): adds the timers of `from` (an
  /// old subtask's, restored) whose keys are in this subtask's key groups. The watermark becomes
  /// the lowest of the absorbed ones: every timer that is left was behind its own subtask's, and
  /// fires when the watermark next passes it.
  void absorb(const KeyedTimers& from) {
    for (const Timer& t : from.eventTimers_)
      if (ctx_->template ownsKey<K>(t.second)) eventTimers_.insert(t);
    for (const Timer& t : from.processingTimers_)
      if (ctx_->template ownsKey<K>(t.second)) processingTimers_.insert(t);
    watermark_ = absorbed_ ? std::min(watermark_, from.watermark_) : from.watermark_;
    absorbed_ = true;
    if (!processingTimers_.empty()) ctx_->time->requestCallback(processingTimers_.begin()->first);
  }

  /// Calls f(domain, ts, key) for every timer whose key is in key group `kg`.
  template <class F>
  void forEachInKeyGroup(KeyGroup kg, int maxParallelism, F&& f) const {
    for (const Timer& t : eventTimers_)
      if (keyGroupFor(hashKey(K(t.second)), maxParallelism) == kg) f(TimeDomain::kEventTime, t.first, t.second);
    for (const Timer& t : processingTimers_)
      if (keyGroupFor(hashKey(K(t.second)), maxParallelism) == kg) f(TimeDomain::kProcessingTime, t.first, t.second);
  }

 private:
  static Status noSerde() {
    return Status::notSupported(std::string("timers cannot be checkpointed: their key type (") + typeid(StoredKey).name() +
                                ") has no reka::Serde specialisation");
  }
  static void writeTimers(const absl::btree_set<Timer>& timers, std::string& out) {
    Serde<uint64_t>::write(timers.size(), out);
    if constexpr (HasSerde<StoredKey>::value) {
      for (const Timer& t : timers) {
        Serde<int64_t>::write(t.first, out);
        Serde<StoredKey>::write(t.second, out);
      }
    }
  }
  static Status readTimers(std::string_view& in, absl::btree_set<Timer>& timers) {
    uint64_t n = 0;
    if (!Serde<uint64_t>::read(in, n) || n > in.size() / sizeof(int64_t))
      return Status::corruption("truncated timers in a checkpoint");
    if constexpr (HasSerde<StoredKey>::value) {
      for (uint64_t i = 0; i < n; ++i) {
        Timer t{};
        if (!Serde<int64_t>::read(in, t.first) || !Serde<StoredKey>::read(in, t.second))
          return Status::corruption("truncated timers in a checkpoint");
        timers.insert(std::move(t));
      }
      return Status::ok();
    } else {
      (void)timers;
      return n == 0 ? Status::ok() : noSerde();
    }
  }
  Status checkOwned(const StoredKey& key) const {
    if (ctx_ == nullptr || ctx_->keyGroups.size() <= 0) return Status::ok();
    const KeyGroup kg = keyGroupFor(hashKey(K(key)), ctx_->maxParallelism);
    if (ctx_->keyGroups.contains(kg)) return Status::ok();
    return Status::invalidArgument("a checkpointed timer's key is in key group " + std::to_string(kg.value) +
                                   ", outside this subtask's key groups (timers are restored at the parallelism of "
                                   "their checkpoint only)");
  }

  template <class Fire>
  static void fireDue(absl::btree_set<Timer>& timers, int64_t upTo, Fire& fire) {
    while (!timers.empty() && timers.begin()->first <= upTo) {
      Timer t = std::move(*timers.begin());
      timers.erase(timers.begin());
      fire(t.first, t.second);
    }
  }

  OperatorContext* ctx_ = nullptr;
  const KeyContext<K>* keys_ = nullptr;
  absl::btree_set<Timer> eventTimers_;
  absl::btree_set<Timer> processingTimers_;
  int64_t watermark_ = kMinTime;
  bool absorbed_ = false;  ///< absorb() was called (the watermark is the absorbed minimum)
};

/// What a keyed function uses to set and delete timers for the current key
/// (Flink's TimerService). Its onTimer(ts, ctx) is called when one fires.
template <class K>
class TimerService {
 public:
  explicit TimerService(KeyedTimers<K>* timers = nullptr) : timers_(timers) {}
  void registerEventTimeTimer(int64_t ts) { timers_->registerEventTime(ts); }
  void deleteEventTimeTimer(int64_t ts) { timers_->deleteEventTime(ts); }
  void registerProcessingTimeTimer(int64_t ts) { timers_->registerProcessingTime(ts); }
  void deleteProcessingTimeTimer(int64_t ts) { timers_->deleteProcessingTime(ts); }
  int64_t currentWatermark() const { return timers_->currentWatermark(); }
  int64_t currentProcessingTime() const { return timers_->currentProcessingTime(); }

 private:
  KeyedTimers<K>* timers_;
};

}  // namespace reka
