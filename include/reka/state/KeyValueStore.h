#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "reka/base/Status.h"

namespace reka {

/// The memory that the write-back caches of decoded values (StoreKeyedTable) of one job may
/// hold together, shared evenly among the tables that use it (`reka.rocksdb-value-cache`).
/// Tables of different subtasks run on different threads: only the table count is shared state.
struct ValueCacheBudget {
  explicit ValueCacheBudget(int64_t total) : bytes(total) {}
  const int64_t bytes;
  std::atomic<int> tables{0};
  /// One table's share of the budget now.
  int64_t share() const {
    const int n = tables.load(std::memory_order_relaxed);
    return n > 0 ? bytes / n : bytes;
  }
};

/// Byte keys to byte values, sorted by key: one named state of one operator subtask in a
/// backend that keeps state off the heap (RocksDB: one column family). Keys start with the key
/// group (two bytes, big endian), so that a key group is one contiguous range.
/// Thread-safety: used by the one task that owns the backend.
class KeyValueStore {
 public:
  virtual ~KeyValueStore() = default;
  /// Fills `value` and returns true if `key` is present; false if not.
  virtual Result<bool> get(std::string_view key, std::string& value) = 0;
  virtual Status put(std::string_view key, std::string_view value) = 0;
  /// Appends list elements: `operand` and the stored value are both a u64 count followed by
  /// that many encoded elements (Serde of a std::vector); the result is their concatenation.
  virtual Status append(std::string_view key, std::string_view operand) = 0;
  virtual Status remove(std::string_view key) = 0;
  /// A put (`value` set) or a remove (none), for write().
  struct Write {
    std::string_view key;
    std::optional<std::string_view> value;
  };
  /// Applies `writes` in order, as one write where the store can (RocksDB: one WriteBatch, a
  /// fraction of the cost of as many single writes); the default applies them one by one.
  virtual Status write(const std::vector<Write>& writes) {
    for (const Write& w : writes) {
      Status s = w.value ? put(w.key, *w.value) : remove(w.key);
      if (!s.isOk()) return s;
    }
    return Status::ok();
  }
  /// Calls `fn(key, value)` for every entry whose key starts with `prefix`, in key order, until
  /// it returns false.
  virtual Status scan(std::string_view prefix,
                      const std::function<bool(std::string_view, std::string_view)>& fn) = 0;
  /// Removes every entry whose key starts with `prefix`.
  virtual Status removePrefix(std::string_view prefix) = 0;
  /// Estimated number of keys and of bytes held (on disk and in memory tables).
  virtual uint64_t estimatedKeys() = 0;
  virtual uint64_t estimatedBytes() = 0;
  /// The budget of the write-back caches in front of this store; null: each table caches the
  /// key it is using only.
  virtual std::shared_ptr<ValueCacheBudget> valueCache() { return nullptr; }
};

/// What a state handle throws when its backend fails (a disk error in RocksDB): the handles
/// return references and values, so the failure travels as an exception to the task boundary,
/// which fails the job with the message, like a user exception.
class StateAccessError : public std::runtime_error {
 public:
  explicit StateAccessError(const Status& s)
      : std::runtime_error("state backend: " + s.toString()) {}
};

}  // namespace reka
