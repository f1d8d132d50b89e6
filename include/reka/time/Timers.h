#pragma once

#include <cstdint>
#include <utility>

#include <absl/container/btree_set.h>

#include "reka/api/Operator.h"
#include "reka/state/KeyGroup.h"
#include "reka/state/KeyedState.h"

namespace reka {

/// Which clock a timer follows.
enum class TimeDomain : uint8_t { kEventTime, kProcessingTime };

/// The event-time and processing-time timers of one keyed operator instance. A timer is a
/// (timestamp, key) pair; registering the same pair twice keeps one timer. Timers fire in
/// timestamp order with their key set as the current key. Keys must be ordered (operator<).
/// Snapshots read them per key group (forEachInKeyGroup). Owned by one task.
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
  int64_t currentProcessingTime() const { return ctx_->time->now(); }
  size_t eventTimerCount() const { return eventTimers_.size(); }
  size_t processingTimerCount() const { return processingTimers_.size(); }

  /// Fires every event-time timer at or before `watermark`, in timestamp order, including
  /// timers that firing registers at or before it: fire(ts, key).
  template <class Fire>
  void advanceWatermark(int64_t watermark, Fire&& fire) {
    watermark_ = watermark;
    fireDue(eventTimers_, watermark, fire);
  }
  /// Fires the processing-time timers due at `now` and asks for a callback for the next one.
  template <class Fire>
  void advanceProcessingTime(int64_t now, Fire&& fire) {
    fireDue(processingTimers_, now, fire);
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
