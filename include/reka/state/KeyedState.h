#pragma once

#include <absl/container/flat_hash_map.h>

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "reka/state/StateBackend.h"
#include "reka/state/StateTtl.h"
#include "reka/state/StoreTable.h"

namespace reka {

/// The key type under which state is stored: keys extracted as views are stored owned.
template <class K>
using StoredKeyOf = std::conditional_t<std::is_same_v<K, std::string_view>, std::string, K>;

/// Adds `value` to `acc` with an aggregate function's add(); returns whether the accumulator
/// may have changed. An `add` that returns bool reports it (false: `acc` is exactly as it was,
/// e.g. a maximum that a lower value did not raise), which keeps the accumulator out of the
/// next incremental checkpoint; an `add` that returns void always counts as a change.
template <class Agg, class In, class Acc>
bool addToAccumulator(Agg& agg, const In& value, Acc& acc) {
  if constexpr (std::is_same_v<decltype(agg.add(value, acc)), bool>) {
    return agg.add(value, acc);
  } else {
    agg.add(value, acc);
    return true;
  }
}

/// The key of the record being processed. Set by the keyed operator before each user call;
/// state handles read it, so they always address the current key.
template <class K>
struct KeyContext {
  const K* key = nullptr;
  KeyGroup keyGroup{0};
  /// The operator's current watermark (event-time TTL); null: none.
  const int64_t* watermark = nullptr;
};

namespace detail {
/// The accesses of a state with a TTL: values are stored as Timed<V> (with the time of their
/// last write), on the heap or in a KeyValueStore; expired ones read as absent (or as present,
/// with kReturnExpiredIfNotCleanedUp) and are removed when read, by the heap sweep, or by
/// RocksDB's compaction filter.
template <class K, class V>
class TtlAccess {
 public:
  using Key = StoredKeyOf<K>;
  using T = Timed<V>;
  using Heap = KeyedTable<Key, T>;
  using Stored = StoreKeyedTable<Key, T>;

  TtlAccess(const StateTtlConfig& config, Heap* heap, Stored* stored, const KeyContext<K>* ctx)
      : clock_(config, ctx->watermark), heap_(heap), stored_(stored), ctx_(ctx) {}

  TtlClock& clock() { return clock_; }

  const V* find() {
    const int64_t now = tick();
    const T* t = stored_ ? stored_->find(kg(), key()) : heap().find(key());
    if (t == nullptr) return nullptr;
    if (clock_.expired(t->stamp, now)) {
      if (neverExpired()) {
        erase();
        return nullptr;
      }
      return &t->value;
    }
    if (clock_.config().update == StateTtlConfig::UpdateType::kOnReadAndWrite)
      return &touch(now)->value;
    return &t->value;
  }
  V* findMutable() {
    const int64_t now = tick();
    T* t = stored_ ? stored_->findMutable(kg(), key()) : heap().findMutable(key());
    if (t == nullptr) return nullptr;
    if (clock_.expired(t->stamp, now) && neverExpired()) {
      erase();
      return nullptr;
    }
    t->stamp = now;
    return &t->value;
  }
  template <class Make>
  V& getOrCreate(Make&& make) {
    const int64_t now = tick();
    bool created = false;
    auto fresh = [&] {
      created = true;
      return T{now, make()};
    };
    T& t = stored_ ? stored_->getOrCreate(kg(), key(), fresh) : heap().getOrCreate(key(), fresh);
    if (!created && clock_.expired(t.stamp, now) && neverExpired())
      t.value = make();  // starts anew
    t.stamp = now;
    return t.value;
  }
  bool erase() { return stored_ ? stored_->erase(kg(), key()) : heap().erase(key()); }
  bool contains() { return find() != nullptr; }

 private:
  bool neverExpired() const {
    return clock_.config().visibility == StateTtlConfig::Visibility::kNeverReturnExpired;
  }
  KeyGroup kg() const { return ctx_->keyGroup; }
  const K& key() const { return *ctx_->key; }
  typename Heap::Map& heap() const { return heap_->mapOf(ctx_->keyGroup); }
  T* touch(int64_t now) {
    T* t = stored_ ? stored_->findMutable(kg(), key()) : heap().findMutable(key());
    t->stamp = now;
    return t;
  }
  /// The current time; every so many accesses, one key group of a heap table is swept.
  int64_t tick() {
    const int64_t now = clock_.now();
    if (heap_ != nullptr && clock_.countAccess()) sweep(clock_.nextSweep(heap_->range()), now);
    return now;
  }
  void sweep(KeyGroup group, int64_t now) {
    auto& map = heap_->mapOf(group);
    expiredKeys_.clear();
    for (const auto& [k, t] : map)
      if (clock_.expired(t.stamp, now)) expiredKeys_.push_back(k);
    for (const auto& k : expiredKeys_) map.erase(k);
  }

  TtlClock clock_;
  Heap* heap_;
  Stored* stored_;
  const KeyContext<K>* ctx_;
  std::vector<Key> expiredKeys_;
};

/// The table a handle stores through: on the heap (KeyedTable, found in place) or in a
/// KeyValueStore (StoreKeyedTable: RocksDB, through a write-back cache of decoded values). A handle
/// branches on which per access; the branch always goes the same way, so it costs nothing
/// measurable next to the hash lookup.
template <class K, class V>
class KeyedStateBase {
 public:
  using Table = KeyedTable<StoredKeyOf<K>, V>;
  using Stored = StoreKeyedTable<StoredKeyOf<K>, V>;
  KeyedStateBase() = default;
  KeyedStateBase(Table* table, const KeyContext<K>* ctx) : table_(table), ctx_(ctx) {}
  KeyedStateBase(Stored* stored, const KeyContext<K>* ctx) : stored_(stored), ctx_(ctx) {}

  /// Removes the current key's state.
  void clear() const {
    if (ttl_)
      ttl_->erase();
    else if (stored_ != nullptr)
      stored_->erase(ctx_->keyGroup, key());
    else
      map().erase(key());
  }
  /// Whether the current key has state (with a TTL: state that has not expired).
  bool contains() const {
    if (ttl_) return ttl_->contains();
    if (stored_ != nullptr) return stored_->contains(ctx_->keyGroup, key());
    return map().contains(key());
  }

  // Runtime side (KeyedStateRegistry): a state with a TTL.
  void attachTtl(std::shared_ptr<TtlAccess<K, V>> ttl) { ttl_ = std::move(ttl); }

 protected:
  typename Table::Map& map() const { return table_->mapOf(ctx_->keyGroup); }
  const K& key() const { return *ctx_->key; }
  /// The current key's value for writing (created if absent): a change for the next
  /// incremental checkpoint.
  V& slot() const {
    if (ttl_) return ttl_->getOrCreate([] { return V{}; });
    if (stored_ != nullptr) return stored_->getOrCreate(ctx_->keyGroup, key(), [] { return V{}; });
    return map().getOrCreate(key(), [] { return V{}; });
  }
  V* findMutable() const {
    if (ttl_) return ttl_->findMutable();
    if (stored_ != nullptr) return stored_->findMutable(ctx_->keyGroup, key());
    return map().findMutable(key());
  }
  const V* find() const {
    if (ttl_) return ttl_->find();
    if (stored_ != nullptr) return stored_->find(ctx_->keyGroup, key());
    return map().find(key());
  }
  template <class Make>
  V& getOrCreate(Make&& make) const {
    if (ttl_) return ttl_->getOrCreate(std::forward<Make>(make));
    if (stored_ != nullptr)
      return stored_->getOrCreate(ctx_->keyGroup, key(), std::forward<Make>(make));
    return map().getOrCreate(key(), std::forward<Make>(make));
  }
  template <class Make, class Fn>
  void update(Make&& make, Fn&& fn) const {
    if (ttl_) {
      fn(ttl_->getOrCreate(std::forward<Make>(make)));
      return;
    }
    if (stored_ != nullptr)
      stored_->update(ctx_->keyGroup, key(), std::forward<Make>(make), std::forward<Fn>(fn));
    else
      map().update(key(), std::forward<Make>(make), std::forward<Fn>(fn));
  }

  Table* table_ = nullptr;
  Stored* stored_ = nullptr;
  const KeyContext<K>* ctx_ = nullptr;
  std::shared_ptr<TtlAccess<K, V>> ttl_;
};
}  // namespace detail

/// A single value per key (Flink's ValueState).
///
/// References and pointers returned stay valid until the function that got them returns (on
/// the RocksDB backend, until another key is accessed): do not keep them across calls.
template <class K, class V>
class ValueState : public detail::KeyedStateBase<K, V> {
 public:
  using detail::KeyedStateBase<K, V>::KeyedStateBase;
  /// The current key's value, or nullptr if it has none. The value may be changed through
  /// the pointer, so the call counts as a change; use peek() to only read.
  V* get() const { return this->findMutable(); }
  /// The current key's value for reading only, or nullptr.
  const V* peek() const { return this->find(); }
  /// The current key's value, default-constructed on first access.
  V& getOrCreate() const { return this->slot(); }
  void update(V value) const { this->slot() = std::move(value); }
};

/// A list of values per key (Flink's ListState).
template <class K, class T>
class ListState : public detail::KeyedStateBase<K, std::vector<T>> {
 public:
  using detail::KeyedStateBase<K, std::vector<T>>::KeyedStateBase;
  /// Appends `value` (on RocksDB without reading the list, unless it is cached).
  void add(T value) const {
    if (this->ttl_)
      this->slot().push_back(std::move(value));
    else if (this->stored_ != nullptr)
      this->stored_->append(this->ctx_->keyGroup, this->key(), std::move(value));
    else
      this->slot().push_back(std::move(value));
  }
  /// The current key's list (empty and created if absent).
  std::vector<T>& get() const { return this->slot(); }
};

/// A map per key (Flink's MapState). On RocksDB the whole map of a key is one value.
template <class K, class UK, class UV>
class MapState : public detail::KeyedStateBase<K, absl::flat_hash_map<UK, UV>> {
 public:
  using detail::KeyedStateBase<K, absl::flat_hash_map<UK, UV>>::KeyedStateBase;
  void put(UK k, UV v) const { this->slot().insert_or_assign(std::move(k), std::move(v)); }
  UV* get(const UK& k) const {
    auto* m = this->findMutable();
    if (m == nullptr) return nullptr;
    auto it = m->find(k);
    return it == m->end() ? nullptr : &it->second;
  }
  bool remove(const UK& k) const {
    auto* m = this->findMutable();
    return m != nullptr && m->erase(k) > 0;
  }
  absl::flat_hash_map<UK, UV>& entries() const { return this->slot(); }
};

/// A value per key folded with a reduce function on every add (Flink's ReducingState).
template <class K, class T, class ReduceFn>
class ReducingState : public detail::KeyedStateBase<K, T> {
 public:
  using Base = detail::KeyedStateBase<K, T>;
  ReducingState() = default;
  template <class Table>
  ReducingState(Table* t, const KeyContext<K>* c, ReduceFn fn) : Base(t, c), fn_(std::move(fn)) {}
  /// Folds `value` into the current key's value; returns the new value.
  const T& add(const T& value) const {
    if (T* current = this->findMutable()) {
      *current = fn_(*current, value);
      return *current;
    }
    return this->getOrCreate([&] { return value; });
  }
  const T* get() const { return this->find(); }

 private:
  ReduceFn fn_{};
};

/// An accumulator per key, updated by an aggregate function (Flink's AggregatingState).
/// `Agg` provides `Acc createAccumulator()`, `void add(const In&, Acc&)` (or `bool add`, see
/// addToAccumulator), `Out getResult(const Acc&)`.
template <class K, class In, class Agg>
class AggregatingState
    : public detail::KeyedStateBase<K, decltype(std::declval<Agg&>().createAccumulator())> {
 public:
  using Acc = decltype(std::declval<Agg&>().createAccumulator());
  using Out = decltype(std::declval<Agg&>().getResult(std::declval<const Acc&>()));
  using Base = detail::KeyedStateBase<K, Acc>;
  AggregatingState() = default;
  template <class Table>
  AggregatingState(Table* t, const KeyContext<K>* c, Agg agg) : Base(t, c), agg_(std::move(agg)) {}

  /// Adds `value` to the current key's accumulator; returns the updated accumulator.
  const Acc& add(const In& value) const {
    Acc* acc = nullptr;
    this->update([&] { return agg_.createAccumulator(); },
                 [&](Acc& a) {
                   acc = &a;
                   return addToAccumulator(agg_, value, a);
                 });
    return *acc;
  }
  Out get() const {
    const Acc* acc = this->find();
    return acc == nullptr ? agg_.getResult(agg_.createAccumulator()) : agg_.getResult(*acc);
  }

 private:
  mutable Agg agg_{};
};

/// What a keyed function sees at open(): how to register its state.
template <class K>
class KeyedStateRegistry {
 public:
  KeyedStateRegistry(StateBackend* backend, const KeyContext<K>* keyCtx, std::string prefix)
      : backend_(backend), keyCtx_(keyCtx), prefix_(std::move(prefix)) {}

  // Each state may have a TTL (StateTtlConfig); without one it takes the backend's default
  // (StateBackend::defaultTtl: `table.exec.state.ttl`, `--state-ttl`), which is none unless set.
  template <class V>
  ValueState<K, V> valueState(const std::string& name, const StateTtlConfig* ttl = nullptr) {
    return make<ValueState<K, V>, V>(name, ttl);
  }
  template <class T>
  ListState<K, T> listState(const std::string& name, const StateTtlConfig* ttl = nullptr) {
    return make<ListState<K, T>, std::vector<T>>(name, ttl);
  }
  template <class UK, class UV>
  MapState<K, UK, UV> mapState(const std::string& name, const StateTtlConfig* ttl = nullptr) {
    return make<MapState<K, UK, UV>, absl::flat_hash_map<UK, UV>>(name, ttl);
  }
  template <class T, class ReduceFn>
  ReducingState<K, T, ReduceFn> reducingState(const std::string& name, ReduceFn fn,
                                              const StateTtlConfig* ttl = nullptr) {
    return make<ReducingState<K, T, ReduceFn>, T>(name, ttl, std::move(fn));
  }
  template <class In, class Agg>
  AggregatingState<K, In, Agg> aggregatingState(const std::string& name, Agg agg,
                                                const StateTtlConfig* ttl = nullptr) {
    using Acc = typename AggregatingState<K, In, Agg>::Acc;
    return make<AggregatingState<K, In, Agg>, Acc>(name, ttl, std::move(agg));
  }
  template <class V>
  ValueState<K, V> valueState(const std::string& name, const StateTtlConfig& ttl) {
    return valueState<V>(name, &ttl);
  }
  template <class T>
  ListState<K, T> listState(const std::string& name, const StateTtlConfig& ttl) {
    return listState<T>(name, &ttl);
  }
  template <class UK, class UV>
  MapState<K, UK, UV> mapState(const std::string& name, const StateTtlConfig& ttl) {
    return mapState<UK, UV>(name, &ttl);
  }

  /// The first registration error, if any (checked by the operator after open()).
  const Status& status() const { return status_; }

 private:
  /// A handle on the table `name` of the backend: in its key-value store if it has one (the
  /// RocksDB backend), on the heap otherwise.
  template <class Handle, class V, class... Extra>
  Handle make(const std::string& name, const StateTtlConfig* ttl, Extra&&... extra) {
    auto handle = [&](auto* table) { return Handle(table, keyCtx_, extra...); };
    if (ttl == nullptr && backend_->defaultTtl().enabled()) ttl = &backend_->defaultTtl();
    if (ttl == nullptr || !ttl->enabled()) {
      auto [heap, stored] = tables<V>(prefix_ + name, name);
      if (stored != nullptr) return handle(stored);
      return handle(heap);  // null after an error (kept in status())
    }
    // Stored as Timed<V> under "<name>/ttl": a TTL added to or removed from a state is a new
    // state (as in Flink, where it changes the serializer).
    Handle h = handle(static_cast<typename Handle::Table*>(nullptr));
    const std::string full = prefix_ + name + "/ttl";
    auto [heap, stored] = tables<Timed<V>>(full, name);
    if (heap == nullptr && stored == nullptr) return h;
    auto access = std::make_shared<detail::TtlAccess<K, V>>(*ttl, heap, stored, keyCtx_);
    if (ttl->cleanupFullSnapshot) {
      if (heap != nullptr) heap->expireInFullSnapshots(access->clock().horizon());
      if (stored != nullptr) stored->expireInFullSnapshots(access->clock().horizon());
    }
    if (stored != nullptr) {
      Status s = backend_->expireBefore(full, access->clock().horizon());
      if (!s.isOk() && status_.isOk()) status_ = s;
    }
    h.attachTtl(std::move(access));
    return h;
  }

  /// The table `full` for values of type V: in the backend's store if it has one, on the heap
  /// otherwise (the other pointer null). Both null after an error, which status() keeps.
  template <class V>
  std::pair<KeyedTable<StoredKeyOf<K>, V>*, StoreKeyedTable<StoredKeyOf<K>, V>*> tables(const std::string& full,
                                                                                        const std::string& name) {
    using Key = StoredKeyOf<K>;
    if (!backend_->hasStore()) {
      auto t = backend_->keyedTable<Key, V>(full);
      if (t.isOk()) return {*t, nullptr};
      if (status_.isOk()) status_ = t.status();
      return {nullptr, nullptr};
    }
    if constexpr (HasSerde<Key>::value && HasSerde<V>::value) {
      auto t = backend_->storeTable<Key, V>(full);
      if (t.isOk()) return {nullptr, *t};
      if (status_.isOk()) status_ = t.status();
    } else if (status_.isOk()) {
      status_ = Status::notSupported("keyed state '" + prefix_ + name + "' has a key or value type without a Serde, which the " +
                                     std::string(backend_->kind()) +
                                     " state backend needs; specialise reka::Serde<T> for it (reka/state/Serde.h)");
    }
    return {nullptr, nullptr};
  }

  StateBackend* backend_;
  const KeyContext<K>* keyCtx_;
  std::string prefix_;
  Status status_;
};

}  // namespace reka
