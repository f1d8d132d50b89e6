#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include <absl/container/btree_set.h>

#include "reka/api/Operator.h"
#include "reka/state/KeyGroup.h"
#include "reka/state/KeyedState.h"
#include "reka/state/Serde.h"

namespace reka {

/// Which clock a timer follows.
enum class TimeDomain : uint8_t { kEventTime, kProcessingTime };

/// A timer as the state backend keeps it (KeyedTimers in a store): its domain, time and key.
/// Serde writes the time big endian with the sign bit flipped, so that the encoded timers of a
/// key group and domain sort by time.
template <class Key>
struct TimerEntry {
  uint8_t domain = 0;  ///< TimeDomain
  int64_t ts = 0;
  Key key{};
  friend bool operator==(const TimerEntry& a, const TimerEntry& b) {
    return a.domain == b.domain && a.ts == b.ts && a.key == b.key;
  }
  template <class H>
  friend H AbslHashValue(H h, const TimerEntry& t) {
    return H::combine(std::move(h), t.domain, t.ts, t.key);
  }
};

template <class Key>
struct Serde<TimerEntry<Key>, std::enable_if_t<HasSerde<Key>::value>> {
  static void write(const TimerEntry<Key>& t, std::string& out) {
    out.push_back(static_cast<char>(t.domain));
    const uint64_t ordered = static_cast<uint64_t>(t.ts) ^ (uint64_t{1} << 63);
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((ordered >> shift) & 0xff));
    Serde<Key>::write(t.key, out);
  }
  static bool read(std::string_view& in, TimerEntry<Key>& t) {
    if (in.size() < 9) return false;
    t.domain = static_cast<uint8_t>(in[0]);
    uint64_t ordered = 0;
    for (int i = 1; i <= 8; ++i) ordered = (ordered << 8) | static_cast<uint8_t>(in[static_cast<size_t>(i)]);
    t.ts = static_cast<int64_t>(ordered ^ (uint64_t{1} << 63));
    in.remove_prefix(9);
    return t.domain <= 1 && Serde<Key>::read(in, t.key);
  }
};

/// The event-time and processing-time timers of one keyed operator instance. A timer is a
/// (timestamp, key) pair; registering the same pair twice keeps one timer. Timers fire in
/// timestamp order with their key set as the current key. Keys must be ordered (operator<).
///
/// Where they are kept: on the heap backend in two ordered sets, checkpointed with the operator
/// (snapshot/restore; absorb at another parallelism). On a backend with a store (RocksDB), when
/// the key has a Serde, in the store table "timers" (TimerEntry: key group, domain, time, key),
/// so that a job's timers are off the heap too; the operator keeps the earliest time of each key
/// group and domain (at most: a deleted timer may leave it early) to know which key group fires
/// next. Timers of one key group fire in time order; across key groups in time order too, except
/// that timers registered while a key group's due timers fire wait for its next turn. The store's
/// timers are checkpointed by the backend, restore at any parallelism, and a checkpoint of either
/// backend restores on the other. Owned by one task.
template <class K>
class KeyedTimers {
 public:
  using StoredKey = StoredKeyOf<K>;
  using Timer = std::pair<int64_t, StoredKey>;
  using Entry = TimerEntry<StoredKey>;
  /// The name of the timers' table in the state backend.
  static constexpr const char* kTableName = "timers";

  /// `withTimers`: the function can have timers (it has onTimer), so a backend with a store
  /// keeps them there and the heap backend registers the table a RocksDB checkpoint's timers
  /// arrive in.
  Status init(OperatorContext* ctx, const KeyContext<K>* keys, bool withTimers = false) {
    ctx_ = ctx;
    keys_ = keys;
    if constexpr (HasSerde<StoredKey>::value) {
      if (withTimers && ctx != nullptr && ctx->state != nullptr) {
        if (ctx->state->hasStore()) {
          auto t = ctx->state->template storeTable<Entry, uint8_t>(kTableName);
          if (!t.isOk()) return t.status();
          store_ = *t;
          const size_t groups = static_cast<size_t>(std::max(ctx->keyGroups.size(), 0));
          for (auto& h : headOf_) h.assign(groups, INT64_MAX);
        } else {
          auto t = ctx->state->template keyedTable<Entry, uint8_t>(kTableName);
          if (!t.isOk()) return t.status();
          adopted_ = *t;
        }
      }
    } else {
      (void)withTimers;
    }
    return Status::ok();
  }
  /// Whether the timers are in the backend's store.
  bool inStore() const { return store_ != nullptr; }
  /// In a store: how many due timers one round reads and fires at most (about; tests make it
  /// small to have many rounds).
  void setFireRound(size_t n) { fireRound_ = std::max<size_t>(n, 1); }

  void registerEventTime(int64_t ts) {
    if (store_ != nullptr) return putStored(TimeDomain::kEventTime, ts);
    eventTimers_.insert(Timer(ts, StoredKey(*keys_->key)));
  }
  void deleteEventTime(int64_t ts) {
    if (store_ != nullptr) return removeStored(TimeDomain::kEventTime, ts);
    eventTimers_.erase(Timer(ts, StoredKey(*keys_->key)));
  }
  void registerProcessingTime(int64_t ts) {
    if (store_ != nullptr) {
      putStored(TimeDomain::kProcessingTime, ts);
    } else {
      processingTimers_.insert(Timer(ts, StoredKey(*keys_->key)));
    }
    ctx_->time->requestCallback(ts);
  }
  void deleteProcessingTime(int64_t ts) {
    if (store_ != nullptr) return removeStored(TimeDomain::kProcessingTime, ts);
    processingTimers_.erase(Timer(ts, StoredKey(*keys_->key)));
  }

  int64_t currentWatermark() const { return watermark_; }
  /// Where the watermark is kept (for event-time state TTL, which reads it per access).
  const int64_t* watermarkAddress() const { return &watermark_; }
  int64_t currentProcessingTime() const { return ctx_->time->now(); }
  /// Timers kept on the heap (none when they are in a store).
  size_t eventTimerCount() const { return eventTimers_.size(); }
  size_t processingTimerCount() const { return processingTimers_.size(); }
  /// The earliest event-time timer (INT64_MAX: none; in a store, possibly one deleted since).
  int64_t nextEventTime() const {
    if (store_ != nullptr) return earliestStored(TimeDomain::kEventTime);
    return eventTimers_.empty() ? INT64_MAX : eventTimers_.begin()->first;
  }

  /// Fires every event-time timer at or before `watermark`, in timestamp order, including
  /// timers that firing registers at or before it: fire(ts, key). A watermark that does not
  /// advance the current one changes nothing: after a restore, inputs send again the watermark
  /// they had reached, and timers registered behind it wait for the next advance, as they would
  /// have without the restore.
  template <class Fire>
  void advanceWatermark(int64_t watermark, Fire&& fire) {
    if (watermark <= watermark_) return;
    watermark_ = watermark;
    if (store_ != nullptr) return fireDueStored(TimeDomain::kEventTime, watermark, fire);
    fireDue(eventTimers_, watermark, fire);
  }
  /// Fires the processing-time timers due at `now` and asks for a callback for the next one.
  template <class Fire>
  void advanceProcessingTime(int64_t now, Fire&& fire) {
    if (store_ != nullptr) {
      fireDueStored(TimeDomain::kProcessingTime, now, fire);
      requestStoredCallback();
      return;
    }
    fireDue(processingTimers_, now, fire);
    if (!processingTimers_.empty()) ctx_->time->requestCallback(processingTimers_.begin()->first);
  }

  /// Checkpoints: appends the watermark and every timer of both domains to `out`:
  /// i64 watermark, u64 n, n × (i64 ts, key), the same for processing time; keys with
  /// Serde<StoredKey>. Without a Serde for the key type only an empty set of timers can be
  /// written: NotSupported if there are timers. Timers in a store are the backend's to
  /// checkpoint: the sets written are empty.
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
    REKA_RETURN_IF_ERROR(settleRestored());
    if (!processingTimers_.empty()) ctx_->time->requestCallback(processingTimers_.begin()->first);
    return Status::ok();
  }

  /// Restore at another parallelism (Operator::absorbRescaled): adds the timers of `from` (an
  /// old subtask's, restored) whose keys are in this subtask's key groups. The watermark becomes
  /// the lowest of the absorbed ones: every timer that is left was behind its own subtask's, and
  /// fires when the watermark next passes it.
  Status absorb(const KeyedTimers& from) {
    for (const Timer& t : from.eventTimers_)
      if (ctx_->template ownsKey<K>(t.second)) eventTimers_.insert(t);
    for (const Timer& t : from.processingTimers_)
      if (ctx_->template ownsKey<K>(t.second)) processingTimers_.insert(t);
    watermark_ = absorbed_ ? std::min(watermark_, from.watermark_) : from.watermark_;
    absorbed_ = true;
    Status s = settleRestored();
    if (!processingTimers_.empty()) ctx_->time->requestCallback(processingTimers_.begin()->first);
    return s;
  }

 private:
  // ---- Timers in a store.
  KeyGroup currentKeyGroup() const { return keys_->keyGroup; }
  Entry& entryOf(TimeDomain domain, int64_t ts) {
    entry_.domain = static_cast<uint8_t>(domain);
    entry_.ts = ts;
    entry_.key = *keys_->key;  // assignment: a string key reuses the buffer
    return entry_;
  }
  void putStored(TimeDomain domain, int64_t ts) {
    const KeyGroup kg = currentKeyGroup();
    store_->putDirect(kg, entryOf(domain, ts), uint8_t{1});
    lowerHead(domain, kg, ts);
  }
  void removeStored(TimeDomain domain, int64_t ts) { store_->removeDirect(currentKeyGroup(), entryOf(domain, ts)); }
  /// Notes that key group `kg` has a timer at `ts` in `domain`.
  void lowerHead(TimeDomain domain, KeyGroup kg, int64_t ts) {
    const auto d = static_cast<size_t>(domain);
    int64_t& head = headOf_[d][static_cast<size_t>(kg.value - ctx_->keyGroups.first)];
    if (ts >= head) return;
    if (head != INT64_MAX) heads_[d].erase({head, kg.value});
    head = ts;
    heads_[d].insert({ts, kg.value});
  }
  void setHead(TimeDomain domain, int32_t kg, int64_t ts) {
    const auto d = static_cast<size_t>(domain);
    int64_t& head = headOf_[d][static_cast<size_t>(kg - ctx_->keyGroups.first)];
    if (head != INT64_MAX) heads_[d].erase({head, kg});
    head = ts;
    if (ts != INT64_MAX) heads_[d].insert({ts, kg});
  }
  int64_t earliestStored(TimeDomain domain) const {
    const auto& heads = heads_[static_cast<size_t>(domain)];
    return heads.empty() ? INT64_MAX : heads.begin()->first;
  }
  void requestStoredCallback() {
    const int64_t next = earliestStored(TimeDomain::kProcessingTime);
    if (next != INT64_MAX) ctx_->time->requestCallback(next);
  }
  static void throwIfFailed(const Status& s) {
    if (!s.isOk()) throw StateAccessError(s);
  }
  /// Fires the timers of `domain` due at `upTo` in (time, key) order, as the heap's sets do, in
  /// rounds of at most about fireRound_ timers: a round reads the due timers of every key group
  /// whose earliest is due (a scan each, stopping past the round's time limit), lowers the limit
  /// when it holds too many, removes them from the store and fires them. Timers that firing
  /// registers at or before `upTo` fire in the next round.
  template <class Fire>
  void fireDueStored(TimeDomain domain, int64_t upTo, Fire& fire) {
    auto& heads = heads_[static_cast<size_t>(domain)];
    const char prefix = static_cast<char>(domain);
    const int32_t first = ctx_->keyGroups.first;
    roundNext_.resize(headOf_[0].size());
    while (!heads.empty() && heads.begin()->first <= upTo) {
      int64_t limit = upTo;
      due_.clear();
      scannedGroups_.clear();
      for (auto it = heads.begin(); it != heads.end() && it->first <= limit; ++it) {
        const int32_t kg = it->second;
        scannedGroups_.push_back(kg);
        int64_t& next = roundNext_[static_cast<size_t>(kg - first)];
        next = INT64_MAX;
        throwIfFailed(store_->scanWithPrefix(KeyGroup{kg}, std::string_view(&prefix, 1), [&](const Entry& e, uint8_t) {
          if (e.ts > limit) {
            next = e.ts;
            return false;
          }
          due_.push_back({kg, e});
          return true;
        }));
        if (due_.size() >= 2 * fireRound_) limit = shrinkRound(limit);
      }
      if (due_.size() > fireRound_) limit = shrinkRound(limit);
      for (int32_t kg : scannedGroups_) setHead(domain, kg, roundNext_[static_cast<size_t>(kg - first)]);
      std::sort(due_.begin(), due_.end(), [](const DueTimer& a, const DueTimer& b) {
        return a.entry.ts != b.entry.ts ? a.entry.ts < b.entry.ts : a.entry.key < b.entry.key;
      });
      for (const DueTimer& t : due_) store_->removeDirect(KeyGroup{t.kg}, t.entry);
      for (const DueTimer& t : due_) fire(t.entry.ts, t.entry.key);
    }
  }
  /// Keeps the fireRound_ earliest timers of the round (and those at the same time as the last
  /// of them); the others stay in the store, and their key groups' next turn is noted. Returns
  /// the new time limit of the round.
  int64_t shrinkRound(int64_t limit) {
    std::nth_element(due_.begin(), due_.begin() + static_cast<std::ptrdiff_t>(fireRound_ - 1), due_.end(),
                     [](const DueTimer& a, const DueTimer& b) { return a.entry.ts < b.entry.ts; });
    const int64_t kept = due_[fireRound_ - 1].entry.ts;
    if (kept >= limit) return limit;
    const int32_t first = ctx_->keyGroups.first;
    auto beyond = std::partition(due_.begin(), due_.end(), [&](const DueTimer& t) { return t.entry.ts <= kept; });
    for (auto it = beyond; it != due_.end(); ++it) {
      int64_t& next = roundNext_[static_cast<size_t>(it->kg - first)];
      next = std::min(next, it->entry.ts);
    }
    due_.erase(beyond, due_.end());
    return kept;
  }
  /// After a restore: timers that arrived where this backend does not keep them move to where it
  /// does (in a store, those of a heap checkpoint's blob go into the store; on the heap, those a
  /// RocksDB checkpoint left in the adopted table go into the sets), and in a store the earliest
  /// timer of each key group is read again.
  Status settleRestored() {
    if constexpr (HasSerde<StoredKey>::value) {
      if (store_ != nullptr) {
        for (auto [timers, domain] : {std::pair{&eventTimers_, TimeDomain::kEventTime},
                                      std::pair{&processingTimers_, TimeDomain::kProcessingTime}}) {
          for (const Timer& t : *timers) {
            const KeyGroup kg = keyGroupFor(hashKey(K(t.second)), ctx_->maxParallelism);
            store_->putDirect(kg, Entry{static_cast<uint8_t>(domain), t.first, t.second}, uint8_t{1});
          }
          timers->clear();
        }
        for (int32_t g = ctx_->keyGroups.first; g <= ctx_->keyGroups.last; ++g) {
          for (TimeDomain domain : {TimeDomain::kEventTime, TimeDomain::kProcessingTime}) {
            const char prefix = static_cast<char>(domain);
            int64_t first = INT64_MAX;
            REKA_RETURN_IF_ERROR(store_->scanWithPrefix(KeyGroup{g}, std::string_view(&prefix, 1), [&](const Entry& e, uint8_t) {
              first = e.ts;
              return false;
            }));
            setHead(domain, g, first);
          }
        }
        requestStoredCallback();
      } else if (adopted_ != nullptr) {
        std::vector<Entry> taken;
        for (int32_t g = ctx_->keyGroups.first; g <= ctx_->keyGroups.last; ++g) {
          auto& map = adopted_->mapOf(KeyGroup{g});
          if (map.size() == 0) continue;
          taken.clear();
          for (const auto& [e, unused] : map) {
            (e.domain == static_cast<uint8_t>(TimeDomain::kEventTime) ? eventTimers_ : processingTimers_).insert(Timer(e.ts, e.key));
            taken.push_back(e);
          }
          for (const Entry& e : taken) map.erase(e);
        }
      }
    }
    return Status::ok();
  }

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
  StoreKeyedTable<Entry, uint8_t>* store_ = nullptr;  ///< the timers, in a store
  KeyedTable<Entry, uint8_t>* adopted_ = nullptr;     ///< heap: where a RocksDB checkpoint's timers arrive
  /// In a store, per domain: each key group's earliest timer (INT64_MAX: none), and the key
  /// groups that have one by that time.
  std::vector<int64_t> headOf_[2];
  absl::btree_set<std::pair<int64_t, int32_t>> heads_[2];
  /// A round of due timers in a store (fireDueStored).
  struct DueTimer {
    int32_t kg;
    Entry entry;
  };
  size_t fireRound_ = 1 << 16;  ///< timers a round fires at most (about)
  std::vector<DueTimer> due_;
  std::vector<int32_t> scannedGroups_;  ///< the key groups the round read
  std::vector<int64_t> roundNext_;      ///< per key group: its earliest timer left after the round
  Entry entry_{};
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
