#pragma once

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "reka/state/KeyValueStore.h"
#include "reka/state/StateBackend.h"

namespace reka {

/// Keyed state of type V for keys of type K kept in a KeyValueStore (the RocksDB backend): the
/// counterpart of KeyedTable for state larger than memory. The state handles of KeyedState.h
/// use either; their contract is the same.
///
/// Layout: key = key group (u16, big endian) + Serde<K> of the key; value = Serde<V>. A full
/// snapshot of a key group and a delta have exactly the bytes KeyedTable writes, so a
/// checkpoint taken on one backend restores on the other.
///
/// Access goes through a bounded write-back cache of decoded values (Kafka Streams' record
/// cache): the first access to a key reads and decodes its value (or learns that it has none)
/// and keeps it; later accesses find it in memory; a changed value is encoded and written back
/// when the cache evicts it (CLOCK: a key used since the hand last passed gets another round),
/// at a snapshot (flushToStore) or when the table is flushed. The cache holds at most the
/// table's share of the job's ValueCacheBudget (KeyValueStore::valueCache), counted as the
/// encoded size of each value plus a fixed overhead per entry; without a budget it holds the key
/// in use only. References handed out stay valid until a different key of this table is
/// accessed (an eviction may happen then): within one call of a keyed function every handle
/// addresses the current key, so the references a function holds stay valid through the call.
/// Appending to a list that is not in the cache is a blind merge (no read).
///
/// Incremental checkpoints of a store are native (StateBackend::snapshotNative: the database's
/// own files, shared between checkpoints), not deltas: this table writes full key groups only
/// (savepoints, `--checkpoint-mode full`, tests), and reads deltas that another backend wrote.
template <class K, class V>
class StoreKeyedTable final : public StateTable {
 public:
  static constexpr bool kSerialisable = HasSerde<K>::value && HasSerde<V>::value;
  // Types without a Serde compile (the handles are shared with the heap backend) but are
  // refused when the state is registered (KeyedStateRegistry).

  StoreKeyedTable(KeyValueStore* store, KeyGroupRange range)
      : store_(store), range_(range), budget_(store->valueCache()) {
    if (budget_) budget_->tables.fetch_add(1, std::memory_order_relaxed);
  }
  ~StoreKeyedTable() override {
    if (budget_) budget_->tables.fetch_sub(1, std::memory_order_relaxed);
  }
  StoreKeyedTable(const StoreKeyedTable&) = delete;
  StoreKeyedTable& operator=(const StoreKeyedTable&) = delete;

  std::type_index type() const override { return typeid(StoreKeyedTable<K, V>); }
  bool serialisable() const override { return kSerialisable; }
  size_t keyCount() const override { return static_cast<size_t>(store_->estimatedKeys()); }
  KeyGroupRange range() const { return range_; }

  /// What the cache holds now and how it has done.
  struct CacheStats {
    size_t entries = 0;
    int64_t bytes = 0;
    uint64_t hits = 0, misses = 0, writeBacks = 0;
  };
  CacheStats cacheStats() const { return {index_.size(), bytes_, hits_, misses_, writeBacks_}; }

  /// The value of `key`, or nullptr (read only: not written back).
  template <class Key>
  const V* find(KeyGroup kg, const Key& key) {
    Slot& s = load(kg, key);
    return s.value ? &*s.value : nullptr;
  }
  /// The value of `key` for changing, or nullptr.
  template <class Key>
  V* findMutable(KeyGroup kg, const Key& key) {
    Slot& s = load(kg, key);
    if (!s.value) return nullptr;
    markDirty(s);
    return &*s.value;
  }
  template <class Key>
  bool contains(KeyGroup kg, const Key& key) {
    return load(kg, key).value.has_value();
  }
  /// The value of `key`, created with `make()` if absent.
  template <class Key, class Make>
  V& getOrCreate(KeyGroup kg, const Key& key, Make&& make) {
    Slot& s = load(kg, key);
    if (!s.value) s.value.emplace(make());
    markDirty(s);
    return *s.value;
  }
  /// Finds or creates `key` (with `make()`) and calls `fn(value)`, which returns whether it
  /// changed the value.
  template <class Key, class Make, class Fn>
  void update(KeyGroup kg, const Key& key, Make&& make, Fn&& fn) {
    Slot& s = load(kg, key);
    bool changed = false;
    if (!s.value) {
      s.value.emplace(make());
      changed = true;
    }
    if (fn(*s.value)) changed = true;
    if (changed) markDirty(s);
  }
  template <class Key>
  bool erase(KeyGroup kg, const Key& key) {
    Slot& s = load(kg, key);
    if (!s.value) return false;
    s.value.reset();
    markDirty(s);
    return true;
  }
  /// Appends `element` to the list of `key` (V = std::vector<T>): into the cached list if the
  /// key is cached, otherwise a blind append in the store.
  template <class Key, class T>
  void append(KeyGroup kg, const Key& key, T&& element) {
    encodeKey(kg, key);
    if (Slot* s = cached(keyBuf_)) {
      if (!s->value) s->value.emplace();
      s->value->push_back(std::forward<T>(element));
      markDirty(*s);
      return;
    }
    operand_.clear();
    Serde<uint64_t>::write(1, operand_);
    if constexpr (kSerialisable) Serde<typename V::value_type>::write(element, operand_);
    check(store_->append(keyBuf_, operand_));
  }

  /// Calls `fn(key, value)`, which returns a Status, for every entry of key group `kg` in key
  /// order (after writing back what the cache changed); stops at the first error.
  template <class Fn>
  Status forEach(KeyGroup kg, Fn&& fn) {
    return forEachWithPrefix(kg, std::string_view(), std::forward<Fn>(fn));
  }
  /// forEach over the entries of key group `kg` whose encoded key (Serde<K>) starts with
  /// `keyPrefix`: for a pair key, the entries of one first element (NamespacedStore).
  template <class Fn>
  Status forEachWithPrefix(KeyGroup kg, std::string_view keyPrefix, Fn&& fn) {
    Status failed;
    REKA_RETURN_IF_ERROR(scanWithPrefix(kg, keyPrefix, [&](const K& key, const V& value) {
      failed = fn(key, value);
      return failed.isOk();
    }));
    return failed;
  }
  /// Calls `fn(key, value)`, which returns whether to go on, for the entries of key group `kg`
  /// whose encoded key starts with `keyPrefix`, in key order, after writing back what the cache
  /// changed.
  template <class Fn>
  Status scanWithPrefix(KeyGroup kg, std::string_view keyPrefix, Fn&& fn) {
    if constexpr (!kSerialisable) {
      return Status::notSupported("state type has no Serde specialisation");
    } else {
      REKA_RETURN_IF_ERROR(flushStatus());
      encodeKeyGroup(kg);
      prefix_.append(keyPrefix);
      Status failed;
      REKA_RETURN_IF_ERROR(store_->scan(prefix_, [&](std::string_view k, std::string_view v) {
        K key{};
        V value{};
        std::string_view kin = k.substr(2), vin = v;
        if (!Serde<K>::read(kin, key) || !kin.empty() || !Serde<V>::read(vin, value) || !vin.empty()) {
          failed = Status::corruption("undecodable entry in state");
          return false;
        }
        return static_cast<bool>(fn(static_cast<const K&>(key), static_cast<const V&>(value)));
      }));
      return failed;
    }
  }
  /// Writes `value` for `key` straight to the store, without reading it or caching it: for
  /// tables whose entries are only written and scanned (timers). A cached entry of the key is
  /// updated instead.
  template <class Key>
  void putDirect(KeyGroup kg, const Key& key, const V& value) {
    encodeKey(kg, key);
    if (Slot* s = cached(keyBuf_)) {
      s->value = value;
      markDirty(*s);
      return;
    }
    valueBuf_.clear();
    if constexpr (kSerialisable) Serde<V>::write(value, valueBuf_);
    check(store_->put(keyBuf_, valueBuf_));
  }
  /// Removes `key` straight from the store (see putDirect).
  template <class Key>
  void removeDirect(KeyGroup kg, const Key& key) {
    encodeKey(kg, key);
    if (Slot* s = cached(keyBuf_)) {
      s->value.reset();
      markDirty(*s);
      return;
    }
    check(store_->remove(keyBuf_));
  }
  /// Removes, in every key group of the table, the entries whose encoded key starts with
  /// `keyPrefix` (a whole namespace of a NamespacedStore); their cached values are dropped
  /// without being written.
  Status erasePrefix(std::string_view keyPrefix) {
    for (Slot& s : slots_) {
      if (s.used && s.key.size() >= 2 + keyPrefix.size() && std::string_view(s.key).substr(2, keyPrefix.size()) == keyPrefix)
        drop(s);
    }
    for (int32_t g = range_.first; g <= range_.last; ++g) {
      encodeKeyGroup(KeyGroup{g});
      prefix_.append(keyPrefix);
      REKA_RETURN_IF_ERROR(store_->removePrefix(prefix_));
    }
    return Status::ok();
  }

  /// Writes every changed cached value back; they stay cached.
  void flush() {
    // The list may name an entry twice, or one already written back: each changed one once.
    std::sort(dirty_.begin(), dirty_.end());
    dirty_.erase(std::unique(dirty_.begin(), dirty_.end()), dirty_.end());
    dirty_.erase(std::remove_if(dirty_.begin(), dirty_.end(), [this](uint32_t i) { return !slots_[i].used || !slots_[i].dirty; }), dirty_.end());
    writeBackInOrder(dirty_);
    dirty_.clear();
  }

  Status snapshotKeyGroup(KeyGroup kg, std::string& out) const override {
    auto* self = const_cast<StoreKeyedTable*>(this);
    REKA_RETURN_IF_ERROR(self->flushStatus());
    return self->writeAll(kg, out);
  }
  Status restoreKeyGroup(KeyGroup kg, std::string_view in) override {
    if (!range_.contains(kg))
      return Status::invalidArgument("key group outside this subtask's range");
    invalidate();
    encodeKeyGroup(kg);
    REKA_RETURN_IF_ERROR(store_->removePrefix(prefix_));
    uint64_t n = 0;
    if (!Serde<uint64_t>::read(in, n) || n > in.size())
      return Status::corruption("truncated keyed state");
    for (uint64_t i = 0; i < n; ++i) REKA_RETURN_IF_ERROR(restoreEntry(in, true));
    if (!in.empty()) return Status::corruption("overlong keyed state");
    return Status::ok();
  }
  Status snapshotKeyGroupDelta(KeyGroup, std::string&) override {
    return Status::notSupported(
        "state kept in RocksDB is checkpointed incrementally as the database's own files (native "
        "snapshots), not as deltas");
  }
  Status applyKeyGroupDelta(KeyGroup kg, std::string_view in) override {
    if (!range_.contains(kg))
      return Status::invalidArgument("key group outside this subtask's range");
    invalidate();
    encodeKeyGroup(kg);
    uint64_t n = 0;
    if (!Serde<uint64_t>::read(in, n) || n > in.size())
      return Status::corruption("truncated keyed state delta");
    for (uint64_t i = 0; i < n; ++i) REKA_RETURN_IF_ERROR(restoreEntry(in, true));
    if (!Serde<uint64_t>::read(in, n) || n > in.size())
      return Status::corruption("truncated keyed state delta");
    for (uint64_t i = 0; i < n; ++i) REKA_RETURN_IF_ERROR(restoreEntry(in, false));
    if (!in.empty()) return Status::corruption("overlong keyed state delta");
    return Status::ok();
  }
  /// No deltas: nothing superseded, and nothing to weigh against (native snapshots).
  DeltaStats deltaStats() const override { return DeltaStats{}; }
  bool inStore() const override { return true; }
  Status flushToStore() override { return flushStatus(); }
  void forgetCached() override { clearCache(); }
  void expireInFullSnapshots(std::shared_ptr<const std::atomic<int64_t>> horizon) override {
    if constexpr (IsTimed<V>::value) fullSnapshotHorizon_ = std::move(horizon);
  }

 private:
  /// Sets `out` to the two bytes every key of `kg` starts with (big endian).
  static void assignKeyGroup(std::string& out, KeyGroup kg) {
    out.assign({static_cast<char>((kg.value >> 8) & 0xff), static_cast<char>(kg.value & 0xff)});
  }
  void encodeKeyGroup(KeyGroup kg) { assignKeyGroup(prefix_, kg); }
  template <class Key>
  void encodeKey(KeyGroup kg, const Key& key) {
    assignKeyGroup(keyBuf_, kg);
    if constexpr (std::is_same_v<Key, std::string_view>) {
      putBytes(appendBytes(keyBuf_, sizeof(uint64_t) + key.size()), key);
    } else if constexpr (HasSerde<K>::value) {
      Serde<K>::write(key, keyBuf_);
    } else {
      throw StateAccessError(Status::notSupported("state key type without a Serde"));
    }
  }
  /// One cached key: its encoded key, its value (absent: none in the store either, once
  /// written back) and what it is charged.
  struct Slot {
    std::string key;
    std::optional<V> value;
    int64_t bytes = 0;
    uint32_t index = 0;  ///< its place in slots_
    bool used = false;
    bool dirty = false;
    bool referenced = false;  ///< used since the CLOCK hand last passed
    bool stored = false;      ///< the store may hold a value for the key
    bool victim = false;      ///< chosen by the eviction under way
  };
  /// Bookkeeping per entry beyond the encoded key and value: the slot, the index entry, the
  /// decoded value's own allocations (roughly).
  static constexpr int64_t kEntryOverhead = static_cast<int64_t>(sizeof(Slot)) + 48;

  Slot* cached(std::string_view key) {
    if (current_ != nullptr && current_->key == key) return current_;
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    current_ = &slots_[it->second];
    return current_;
  }
  void markDirty(Slot& s) {
    // A value can grow in the cache (a list appended to, a map filled) without being written:
    // every 32nd write measures the one it is given for again (before the change, which the
    // next measurement sees).
    if ((++writes_ & 31) == 0 && s.value) remeasure(s);
    if (s.dirty) return;
    s.dirty = true;
    // Entries written back by an eviction stay listed until the next flush: relist the dirty
    // ones when the list outgrows the cache.
    if (dirty_.size() >= 2 * slots_.size() + 64) {
      dirty_.clear();
      for (const Slot& d : slots_)
        if (d.used && d.dirty && &d != &s) dirty_.push_back(d.index);
    }
    dirty_.push_back(s.index);
  }
  /// Encodes the changed values of entries `indices` and writes them to the store (or removes
  /// their keys) as one write in key order: RocksDB's memory table inserts a key next to the one
  /// before far faster than a scattered one. They stay cached; a failed write leaves them changed.
  void writeBackInOrder(std::vector<uint32_t>& indices) {
    std::sort(indices.begin(), indices.end(), [this](uint32_t a, uint32_t b) { return slots_[a].key < slots_[b].key; });
    batchBuf_.clear();
    batchEnds_.clear();
    for (uint32_t i : indices) {
      const Slot& s = slots_[i];
      if (s.dirty && s.value) {
        if constexpr (kSerialisable) Serde<V>::write(*s.value, batchBuf_);
      }
      batchEnds_.push_back(batchBuf_.size());
    }
    batchWrites_.clear();
    for (size_t k = 0; k < indices.size(); ++k) {
      const Slot& s = slots_[indices[k]];
      if (!s.dirty || (!s.value && !s.stored)) continue;
      const size_t from = k == 0 ? 0 : batchEnds_[k - 1];
      std::optional<std::string_view> value;
      if (s.value) value = std::string_view(batchBuf_).substr(from, batchEnds_[k] - from);
      batchWrites_.push_back({s.key, value});
    }
    if (!batchWrites_.empty()) check(store_->write(batchWrites_));
    for (size_t k = 0; k < indices.size(); ++k) {
      Slot& s = slots_[indices[k]];
      if (!s.dirty) continue;
      const size_t from = k == 0 ? 0 : batchEnds_[k - 1];
      s.stored = s.value.has_value();
      recharge(s, s.value ? static_cast<int64_t>(batchEnds_[k] - from) : 0);
      s.dirty = false;
      ++writeBacks_;
    }
  }
  /// Charges a changed value at its encoded size now (without writing it).
  void remeasure(Slot& s) {
    if (!s.value) return;
    valueBuf_.clear();
    if constexpr (kSerialisable) Serde<V>::write(*s.value, valueBuf_);
    recharge(s, static_cast<int64_t>(valueBuf_.size()));
  }
  void recharge(Slot& s, int64_t encoded) {
    noteSize(encoded);
    const int64_t bytes = kEntryOverhead + static_cast<int64_t>(s.key.size()) + encoded;
    bytes_ += bytes - s.bytes;
    s.bytes = bytes;
  }
  void noteSize(int64_t encoded) { averageEncoded_ += (encoded - averageEncoded_) / 8; }
  /// The next entry the CLOCK hand finds unused since it last passed (not one chosen already),
  /// or null if there is none.
  Slot* nextVictim() {
    for (size_t steps = 0; steps <= 2 * slots_.size(); ++steps) {
      if (hand_ >= slots_.size()) hand_ = 0;
      Slot& s = slots_[hand_++];
      if (!s.used || s.victim) continue;
      if (s.referenced) {
        s.referenced = false;
        if (s.dirty) remeasure(s);  // what it holds now, so that the bound holds for values that grew
        continue;
      }
      return &s;
    }
    return nullptr;
  }
  /// Makes room for an entry of `incoming` bytes under `limit`: evicts entries (CLOCK) until a
  /// sixteenth of the limit is free beyond it, writing the changed ones back together.
  void evictBatch(int64_t limit, int64_t incoming) {
    const int64_t target = limit - incoming - limit / 16;
    int64_t left = bytes_;
    victims_.clear();
    while (left > target && !index_.empty()) {
      Slot* s = nextVictim();
      if (s == nullptr) break;
      s->victim = true;
      left -= s->bytes;
      victims_.push_back(s->index);
    }
    for (uint32_t i : victims_) slots_[i].victim = false;
    writeBackInOrder(victims_);  // on failure every entry stays cached and changed
    for (uint32_t i : victims_) drop(slots_[i]);
    victims_.clear();
  }
  void drop(Slot& s) {
    index_.erase(std::string_view(s.key));
    if (current_ == &s) current_ = nullptr;
    bytes_ -= s.bytes;
    s.bytes = 0;
    s.value.reset();
    s.used = false;
    s.dirty = false;
    free_.push_back(s.index);
  }
  /// The entry of `key`, read from the store and cached if it is not cached yet.
  template <class Key>
  Slot& load(KeyGroup kg, const Key& key) {
    encodeKey(kg, key);
    if (Slot* s = cached(keyBuf_)) {
      s->referenced = true;
      ++hits_;
      return *s;
    }
    ++misses_;
    // Room first: the entries evicted are written back before the new one is read.
    const int64_t limit = budget_ ? budget_->share() : 0;
    const int64_t incoming = kEntryOverhead + static_cast<int64_t>(keyBuf_.size()) + averageEncoded_;
    if (bytes_ + incoming > limit) evictBatch(limit, incoming);
    auto found = store_->get(keyBuf_, valueBuf_);
    if (!found.isOk()) throw StateAccessError(found.status());
    std::optional<V> value;
    if (*found) {
      std::string_view in = valueBuf_;
      value.emplace();
      bool ok = false;
      if constexpr (kSerialisable) ok = Serde<V>::read(in, *value) && in.empty();
      if (!ok) throw StateAccessError(Status::corruption("undecodable value in state"));
    }
    uint32_t i;
    if (!free_.empty()) {
      i = free_.back();
      free_.pop_back();
    } else {
      i = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back().index = i;
    }
    Slot& s = slots_[i];
    s.key.assign(keyBuf_);
    s.value = std::move(value);
    s.used = true;
    s.dirty = false;
    s.referenced = true;
    s.stored = *found;
    s.bytes = 0;
    recharge(s, *found ? static_cast<int64_t>(valueBuf_.size()) : averageEncoded_);
    index_.emplace(std::string_view(s.key), i);
    current_ = &s;
    return s;
  }
  static void check(const Status& s) {
    if (!s.isOk()) throw StateAccessError(s);
  }
  Status flushStatus() {
    try {
      flush();
      return Status::ok();
    } catch (const StateAccessError& e) {
      return Status::ioError(e.what());
    }
  }
  /// Forgets every cached entry, changed or not.
  void clearCache() {
    index_.clear();
    slots_.clear();
    free_.clear();
    dirty_.clear();
    current_ = nullptr;
    hand_ = 0;
    bytes_ = 0;
  }
  void invalidate() {
    (void)flushStatus();
    clearCache();
  }
  /// Writes every entry of `kg` as KeyedTable::snapshotKeyGroup does: u64 count, then each
  /// key and value.
  Status writeAll(KeyGroup kg, std::string& out) {
    encodeKeyGroup(kg);
    const size_t countAt = out.size();
    Serde<uint64_t>::write(0, out);
    uint64_t n = 0;
    REKA_RETURN_IF_ERROR(store_->scan(prefix_, [&](std::string_view k, std::string_view v) {
      if constexpr (IsTimed<V>::value) {
        // Timed<V>'s stamp is its first 8 bytes (StateTtl.h); the store keeps the value until
        // a compaction drops it.
        int64_t stamp = 0;
        if (fullSnapshotHorizon_ && v.size() >= sizeof stamp) {
          std::memcpy(&stamp, v.data(), sizeof stamp);
          if (stampExpired(stamp, fullSnapshotHorizon_.get())) return true;
        }
      }
      out.append(k.substr(2));
      out.append(v);
      ++n;
      return true;
    }));
    std::memcpy(out.data() + countAt, &n, sizeof n);
    return Status::ok();
  }
  /// Reads one key (and its value if `withValue`) from `in` and puts it (or removes it), under
  /// the key group prefix encodeKeyGroup set.
  Status restoreEntry(std::string_view& in, bool withValue) {
    if constexpr (!kSerialisable) {
      return Status::notSupported("state type has no Serde specialisation");
    } else {
      const std::string_view keyStart = in;
      K k{};
      if (!Serde<K>::read(in, k)) return Status::corruption("truncated key in keyed state");
      keyBuf_ = prefix_;
      keyBuf_.append(keyStart.data(), keyStart.size() - in.size());
      if (!withValue) return store_->remove(keyBuf_);
      const std::string_view valueStart = in;
      V v{};
      if (!Serde<V>::read(in, v)) return Status::corruption("truncated value in keyed state");
      return store_->put(keyBuf_, valueStart.substr(0, valueStart.size() - in.size()));
    }
  }

  KeyValueStore* store_;
  KeyGroupRange range_;
  std::shared_ptr<ValueCacheBudget> budget_;
  std::string keyBuf_, valueBuf_, operand_, prefix_;
  std::deque<Slot> slots_;  // a deque: values do not move when it grows
  absl::flat_hash_map<std::string_view, uint32_t> index_;  // views of the slots' keys
  std::vector<uint32_t> free_, dirty_;
  Slot* current_ = nullptr;  // the entry used last
  size_t hand_ = 0;
  int64_t bytes_ = 0;
  int64_t averageEncoded_ = 64;
  uint64_t hits_ = 0, misses_ = 0, writeBacks_ = 0, writes_ = 0;
  std::vector<uint32_t> victims_;  ///< scratch of evictBatch
  std::string batchBuf_;           ///< scratch of writeBackInOrder: the encoded values, one after the other
  std::vector<size_t> batchEnds_;
  std::vector<KeyValueStore::Write> batchWrites_;
  std::shared_ptr<const std::atomic<int64_t>> fullSnapshotHorizon_;
};

template <class K, class V>
Result<StoreKeyedTable<K, V>*> StateBackend::storeTable(const std::string& name) {
  if (StateTable* t = findTable(name)) {
    if (t->type() != typeid(StoreKeyedTable<K, V>))
      return Status::invalidArgument("state '" + name +
                                     "' is already registered with another type");
    return static_cast<StoreKeyedTable<K, V>*>(t);
  }
  REKA_ASSIGN_OR_RETURN(KeyValueStore * store, openStore(name));
  REKA_ASSIGN_OR_RETURN(StateTable * t, adoptTable(name, std::make_unique<StoreKeyedTable<K, V>>(
                                                             store, keyGroups())));
  return static_cast<StoreKeyedTable<K, V>*>(t);
}

}  // namespace reka
