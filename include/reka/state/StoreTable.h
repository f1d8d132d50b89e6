#pragma once

#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

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
/// Access goes through a one-entry write-back cache: the first access to a key reads and
/// decodes its value; references handed out stay valid, and changes are kept, until a
/// different key is accessed, a snapshot is taken or the table is flushed, when the value is
/// encoded and written back if it changed. Within one call of a keyed function every handle
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
      : store_(store), range_(range) {}

  std::type_index type() const override { return typeid(StoreKeyedTable<K, V>); }
  bool serialisable() const override { return kSerialisable; }
  size_t keyCount() const override { return static_cast<size_t>(store_->estimatedKeys()); }
  KeyGroupRange range() const { return range_; }

  /// The value of `key`, or nullptr (read only: not written back).
  template <class Key>
  const V* find(KeyGroup kg, const Key& key) {
    load(kg, key);
    return value_ ? &*value_ : nullptr;
  }
  /// The value of `key` for changing, or nullptr.
  template <class Key>
  V* findMutable(KeyGroup kg, const Key& key) {
    load(kg, key);
    if (!value_) return nullptr;
    dirty_ = true;
    return &*value_;
  }
  template <class Key>
  bool contains(KeyGroup kg, const Key& key) {
    load(kg, key);
    return value_.has_value();
  }
  /// The value of `key`, created with `make()` if absent.
  template <class Key, class Make>
  V& getOrCreate(KeyGroup kg, const Key& key, Make&& make) {
    load(kg, key);
    if (!value_) value_.emplace(make());
    dirty_ = true;
    return *value_;
  }
  /// Finds or creates `key` (with `make()`) and calls `fn(value)`, which returns whether it
  /// changed the value.
  template <class Key, class Make, class Fn>
  void update(KeyGroup kg, const Key& key, Make&& make, Fn&& fn) {
    load(kg, key);
    bool changed = false;
    if (!value_) {
      value_.emplace(make());
      changed = true;
    }
    if (fn(*value_)) changed = true;
    dirty_ = dirty_ || changed;
  }
  template <class Key>
  bool erase(KeyGroup kg, const Key& key) {
    load(kg, key);
    if (!value_) return false;
    value_.reset();
    dirty_ = true;
    return true;
  }
  /// Appends `element` to the list of `key` (V = std::vector<T>): into the cached list if the
  /// key is cached, otherwise a blind append in the store.
  template <class Key, class T>
  void append(KeyGroup kg, const Key& key, T&& element) {
    encodeKey(kg, key);
    if (loaded_ && keyBuf_ == cachedKey_) {
      if (!value_) value_.emplace();
      value_->push_back(std::forward<T>(element));
      dirty_ = true;
      return;
    }
    operand_.clear();
    Serde<uint64_t>::write(1, operand_);
    if constexpr (kSerialisable) Serde<typename V::value_type>::write(element, operand_);
    check(store_->append(keyBuf_, operand_));
  }

  /// Writes the cached value back if it changed.
  void flush() {
    if (!loaded_ || !dirty_) return;
    dirty_ = false;
    if (value_) {
      valueBuf_.clear();
      if constexpr (kSerialisable) Serde<V>::write(*value_, valueBuf_);
      check(store_->put(cachedKey_, valueBuf_));
    } else {
      check(store_->remove(cachedKey_));
    }
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
  void forgetCached() override {
    loaded_ = false;
    dirty_ = false;
    value_.reset();
  }
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
  /// Makes `key` the cached one, writing back the one it replaces.
  template <class Key>
  void load(KeyGroup kg, const Key& key) {
    encodeKey(kg, key);
    if (loaded_ && keyBuf_ == cachedKey_) return;
    flush();
    cachedKey_ = keyBuf_;
    loaded_ = true;
    dirty_ = false;
    value_.reset();
    auto found = store_->get(cachedKey_, valueBuf_);
    if (!found.isOk()) {
      loaded_ = false;
      throw StateAccessError(found.status());
    }
    if (*found) {
      std::string_view in = valueBuf_;
      value_.emplace();
      bool ok = false;
      if constexpr (kSerialisable) ok = Serde<V>::read(in, *value_) && in.empty();
      if (!ok) {
        loaded_ = false;
        throw StateAccessError(Status::corruption("undecodable value in state"));
      }
    }
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
  void invalidate() {
    (void)flushStatus();
    loaded_ = false;
    dirty_ = false;
    value_.reset();
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
  std::string keyBuf_, cachedKey_, valueBuf_, operand_, prefix_;
  std::optional<V> value_;
  bool loaded_ = false;
  bool dirty_ = false;
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
