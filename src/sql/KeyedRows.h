#pragma once

#include <string>
#include <utility>

#include "reka/state/StateBackend.h"
#include "reka/state/StoreTable.h"

namespace reka::sql {

/// The keyed state of a SQL operator (groups, join sides, top-N lists, OVER partitions): values
/// of type V by key group and encoded row key, kept where the job's state backend keeps keyed
/// state, on the heap (KeyedTable) or in RocksDB (StoreKeyedTable, through its write-back cache
/// of decoded values). A pointer or reference handed out stays valid until another key of the
/// same table is used.
template <class V>
class KeyedRows {
 public:
  static Result<KeyedRows> open(StateBackend& backend, const std::string& name) {
    KeyedRows t;
    if (backend.hasStore()) {
      auto store = backend.storeTable<std::string, V>(name);
      if (!store.isOk()) return store.status();
      t.store_ = *store;
    } else {
      auto heap = backend.keyedTable<std::string, V>(name);
      if (!heap.isOk()) return heap.status();
      t.heap_ = *heap;
    }
    return t;
  }

  KeyGroupRange range() const { return store_ != nullptr ? store_->range() : heap_->range(); }

  const V* find(KeyGroup kg, const std::string& key) {
    return store_ != nullptr ? store_->find(kg, key) : heap_->mapOf(kg).find(key);
  }
  V* findMutable(KeyGroup kg, const std::string& key) {
    return store_ != nullptr ? store_->findMutable(kg, key) : heap_->mapOf(kg).findMutable(key);
  }
  bool contains(KeyGroup kg, const std::string& key) {
    return store_ != nullptr ? store_->contains(kg, key) : heap_->mapOf(kg).contains(key);
  }
  template <class Make>
  V& getOrCreate(KeyGroup kg, const std::string& key, Make&& make) {
    return store_ != nullptr ? store_->getOrCreate(kg, key, std::forward<Make>(make))
                             : heap_->mapOf(kg).getOrCreate(key, std::forward<Make>(make));
  }
  bool erase(KeyGroup kg, const std::string& key) {
    return store_ != nullptr ? store_->erase(kg, key) : heap_->mapOf(kg).erase(key);
  }
  /// Calls `fn(key, value)` for every entry of key group `kg` (restores rebuild what waits on
  /// the state: windows to fire, rows to expire).
  template <class Fn>
  Status forEach(KeyGroup kg, Fn&& fn) {
    if (store_ != nullptr) return store_->forEach(kg, std::forward<Fn>(fn));
    for (const auto& [key, value] : heap_->mapOf(kg)) {
      REKA_RETURN_IF_ERROR(fn(key, value));
    }
    return Status::ok();
  }

 private:
  KeyedTable<std::string, V>* heap_ = nullptr;
  StoreKeyedTable<std::string, V>* store_ = nullptr;
};

}  // namespace reka::sql
