#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "reka/base/Status.h"
#include "reka/state/KeyGroup.h"
#include "reka/state/KeyValueStore.h"
#include "reka/state/Serde.h"
#include "reka/state/StateBackend.h"
#include "reka/state/StoreTable.h"

namespace reka {

/// Keyed state in numbered namespaces (a window's pane, a window's end) kept in the state
/// backend's store (RocksDB): values by (namespace, key) under the key group of the key, where a
/// whole namespace is read key group by key group and dropped at once. This is how window and
/// join operators keep their contents in RocksDB; the operator keeps only the list of
/// namespaces that exist (a few numbers) in its own state.
///
/// The entries are a StoreKeyedTable<std::pair<int64_t, K>, V>: the namespace's eight bytes come
/// right after the key group, so one namespace of one key group is one key prefix. Access goes
/// through the table's write-back cache; a scan writes back what the cache changed first.
/// Errors of single accesses are thrown as StateAccessError (see StoreKeyedTable); scans and
/// drops return them.
template <class K, class V>
class NamespacedStore {
 public:
  using Entry = std::pair<int64_t, K>;
  using Table = StoreKeyedTable<Entry, V>;

  /// The store table `name` of `backend` (which must have a store: StateBackend::hasStore()).
  static Result<NamespacedStore> open(StateBackend& backend, const std::string& name) {
    auto table = backend.template storeTable<Entry, V>(name);
    if (!table.isOk()) return table.status();
    NamespacedStore s;
    s.table_ = *table;
    s.maxParallelism_ = backend.maxParallelism();
    return s;
  }

  KeyGroupRange range() const { return table_->range(); }
  /// The key group of `key` (as the keyed exchange computes it). Accesses take the key as K or
  /// as a type K is assigned from with the same hash (a std::string_view for a std::string), so
  /// that an operator's key is copied once, into the encoded entry.
  template <class Q>
  KeyGroup keyGroupOf(const Q& key) const { return keyGroupFor(hashKey(key), maxParallelism_); }

  /// Finds or creates the value of `key` in namespace `ns` (with `make()`) and calls
  /// `fn(value)`, which returns whether it changed the value.
  template <class Q, class Make, class Fn>
  void update(int64_t ns, const Q& key, Make&& make, Fn&& fn) {
    table_->update(keyGroupOf(key), entry(ns, key), std::forward<Make>(make), std::forward<Fn>(fn));
  }
  /// The value of `key` in `ns`, created with `make()` if absent (valid until another key is
  /// used).
  template <class Q, class Make>
  V& getOrCreate(int64_t ns, const Q& key, Make&& make) {
    return table_->getOrCreate(keyGroupOf(key), entry(ns, key), std::forward<Make>(make));
  }
  /// The value of `key` in `ns`, or nullptr.
  template <class Q>
  const V* find(int64_t ns, const Q& key) { return table_->find(keyGroupOf(key), entry(ns, key)); }
  /// The value of `key` in `ns` for changing, or nullptr.
  template <class Q>
  V* findMutable(int64_t ns, const Q& key) { return table_->findMutable(keyGroupOf(key), entry(ns, key)); }
  /// Sets the value of `key` in `ns`.
  void put(int64_t ns, const K& key, V value) {
    table_->getOrCreate(keyGroupOf(key), entry(ns, key), [] { return V{}; }) = std::move(value);
  }

  /// Removes the value of `key` in `ns`; false if it had none.
  bool erase(int64_t ns, const K& key) { return table_->erase(keyGroupOf(key), entry(ns, key)); }

  /// Calls `fn(key, value)` for every key of key group `kg` that has a value in namespace `ns`,
  /// in the order of their encoded keys.
  template <class Fn>
  Status forEach(KeyGroup kg, int64_t ns, Fn&& fn) {
    namespacePrefix(ns);
    return table_->forEachWithPrefix(kg, prefix_, [&](const Entry& e, const V& v) {
      fn(e.second, v);
      return Status::ok();
    });
  }
  /// Drops namespace `ns` in every key group of the table.
  Status erase(int64_t ns) {
    namespacePrefix(ns);
    return table_->erasePrefix(prefix_);
  }

 private:
  template <class Q>
  const Entry& entry(int64_t ns, const Q& key) {
    entry_.first = ns;
    entry_.second = key;  // assignment: a string key reuses the buffer
    return entry_;
  }
  void namespacePrefix(int64_t ns) {
    prefix_.clear();
    Serde<int64_t>::write(ns, prefix_);
  }

  Table* table_ = nullptr;
  int maxParallelism_ = 128;
  Entry entry_{};
  std::string prefix_;
};

}  // namespace reka
