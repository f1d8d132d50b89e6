#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "reka/state/StateBackend.h"

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
};

namespace detail {
template <class K, class V>
class KeyedStateBase {
 public:
  using Table = KeyedTable<StoredKeyOf<K>, V>;
  KeyedStateBase() = default;
  KeyedStateBase(Table* table, const KeyContext<K>* ctx) : table_(table), ctx_(ctx) {}

  /// Removes the current key's state.
  void clear() { map().erase(key()); }
  /// Whether the current key has state.
  bool contains() const { return map().contains(key()); }

 protected:
  typename Table::Map& map() const { return table_->mapOf(ctx_->keyGroup); }
  const K& key() const { return *ctx_->key; }
  /// The current key's value for writing (created if absent): a change for the next
  /// incremental checkpoint.
  V& slot() const {
    return map().getOrCreate(key(), [] { return V{}; });
  }

  Table* table_ = nullptr;
  const KeyContext<K>* ctx_ = nullptr;
};
}  // namespace detail

/// A single value per key (Flink's ValueState).
template <class K, class V>
class ValueState : public detail::KeyedStateBase<K, V> {
 public:
  using detail::KeyedStateBase<K, V>::KeyedStateBase;
  /// The current key's value, or nullptr if it has none. The value may be changed through
  /// the pointer, so the call counts as a change; use peek() to only read.
  V* get() const { return this->map().findMutable(this->key()); }
  /// The current key's value for reading only, or nullptr.
  const V* peek() const { return this->map().find(this->key()); }
  /// The current key's value, default-constructed on first access.
  V& getOrCreate() const { return this->slot(); }
  void update(V value) const { this->slot() = std::move(value); }
};

/// A list of values per key (Flink's ListState).
template <class K, class T>
class ListState : public detail::KeyedStateBase<K, std::vector<T>> {
 public:
  using detail::KeyedStateBase<K, std::vector<T>>::KeyedStateBase;
  void add(T value) const { this->slot().push_back(std::move(value)); }
  /// The current key's list (empty and created if absent).
  std::vector<T>& get() const { return this->slot(); }
};

/// A map per key (Flink's MapState).
template <class K, class UK, class UV>
class MapState : public detail::KeyedStateBase<K, absl::flat_hash_map<UK, UV>> {
 public:
  using detail::KeyedStateBase<K, absl::flat_hash_map<UK, UV>>::KeyedStateBase;
  void put(UK k, UV v) const { this->slot().insert_or_assign(std::move(k), std::move(v)); }
  UV* get(const UK& k) const {
    auto& m = this->slot();
    auto it = m.find(k);
    return it == m.end() ? nullptr : &it->second;
  }
  bool remove(const UK& k) const { return this->slot().erase(k) > 0; }
  absl::flat_hash_map<UK, UV>& entries() const { return this->slot(); }
};

/// A value per key folded with a reduce function on every add (Flink's ReducingState).
template <class K, class T, class ReduceFn>
class ReducingState : public detail::KeyedStateBase<K, T> {
 public:
  ReducingState() = default;
  ReducingState(typename detail::KeyedStateBase<K, T>::Table* t, const KeyContext<K>* c, ReduceFn fn)
      : detail::KeyedStateBase<K, T>(t, c), fn_(std::move(fn)) {}
  /// Folds `value` into the current key's value; returns the new value.
  const T& add(const T& value) const {
    auto& m = this->map();
    if (T* current = m.findMutable(this->key())) {
      *current = fn_(*current, value);
      return *current;
    }
    return m.getOrCreate(this->key(), [&] { return value; });
  }
  const T* get() const { return this->map().find(this->key()); }

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
  AggregatingState() = default;
  AggregatingState(typename detail::KeyedStateBase<K, Acc>::Table* t, const KeyContext<K>* c, Agg agg)
      : detail::KeyedStateBase<K, Acc>(t, c), agg_(std::move(agg)) {}

  /// Adds `value` to the current key's accumulator; returns the updated accumulator.
  const Acc& add(const In& value) const {
    Acc* acc = nullptr;
    this->map().update(this->key(), [&] { return agg_.createAccumulator(); }, [&](Acc& a) {
      acc = &a;
      return addToAccumulator(agg_, value, a);
    });
    return *acc;
  }
  Out get() const {
    const Acc* acc = this->map().find(this->key());
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

  template <class V>
  ValueState<K, V> valueState(const std::string& name) {
    return ValueState<K, V>(tableFor<V>(name), keyCtx_);
  }
  template <class T>
  ListState<K, T> listState(const std::string& name) {
    return ListState<K, T>(tableFor<std::vector<T>>(name), keyCtx_);
  }
  template <class UK, class UV>
  MapState<K, UK, UV> mapState(const std::string& name) {
    return MapState<K, UK, UV>(tableFor<absl::flat_hash_map<UK, UV>>(name), keyCtx_);
  }
  template <class T, class ReduceFn>
  ReducingState<K, T, ReduceFn> reducingState(const std::string& name, ReduceFn fn) {
    return ReducingState<K, T, ReduceFn>(tableFor<T>(name), keyCtx_, std::move(fn));
  }
  template <class In, class Agg>
  AggregatingState<K, In, Agg> aggregatingState(const std::string& name, Agg agg) {
    using Acc = typename AggregatingState<K, In, Agg>::Acc;
    return AggregatingState<K, In, Agg>(tableFor<Acc>(name), keyCtx_, std::move(agg));
  }

  /// The first registration error, if any (checked by the operator after open()).
  const Status& status() const { return status_; }

 private:
  template <class V>
  KeyedTable<StoredKeyOf<K>, V>* tableFor(const std::string& name) {
    auto t = backend_->keyedTable<StoredKeyOf<K>, V>(prefix_ + name);
    if (t.isOk()) return *t;
    if (status_.isOk()) status_ = t.status();
    return nullptr;
  }

  StateBackend* backend_;
  const KeyContext<K>* keyCtx_;
  std::string prefix_;
  Status status_;
};

}  // namespace reka
