#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <memory>
#include <string>

#include "reka/base/Status.h"
#include "reka/state/KeyGroup.h"
#include "reka/state/StateBackend.h"

namespace reka {

/// Settings of the RocksDB state backend (Flink's `state.backend.rocksdb.*`).
struct RocksDbOptions {
  /// Where the working databases go (`state.backend.rocksdb.localdir`); empty: $TMPDIR or /tmp.
  /// A job makes one private directory (0700) in it and removes it when it ends: the database
  /// files are a working copy, the checkpoints are what lasts.
  std::string localDir;
  /// The block cache shared by every subtask of the job (`state.backend.rocksdb.block-cache-size`).
  int64_t blockCacheBytes = 64ll << 20;
  /// Memory tables of all subtasks together (`state.backend.rocksdb.write-buffer-size`), charged
  /// to the block cache, so that both stay within blockCacheBytes + writeBufferBytes.
  int64_t writeBufferBytes = 64ll << 20;
  /// Decoded values kept in memory in front of RocksDB by all subtasks together
  /// (`reka.rocksdb-value-cache`; StoreKeyedTable's write-back caches): hot keys are read and
  /// written in memory, and written to RocksDB when evicted or at a checkpoint. 0: each state
  /// keeps only the key in use.
  int64_t valueCacheBytes = 64ll << 20;
};

/// What the subtasks of one job share in RocksDB: the working directory, the block cache and
/// the write buffer manager. Made once per job; backends keep it alive.
class RocksDbEnvironment {
 public:
  static Result<std::shared_ptr<RocksDbEnvironment>> open(const RocksDbOptions& options);
  ~RocksDbEnvironment();
  RocksDbEnvironment(const RocksDbEnvironment&) = delete;
  RocksDbEnvironment& operator=(const RocksDbEnvironment&) = delete;

  /// The job's private working directory.
  const std::string& directory() const;
  /// Bytes in the shared block cache (memory tables included).
  int64_t cacheUsage() const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit RocksDbEnvironment(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// A state backend whose keyed state handles (value, list, map, reducing, aggregating state of
/// keyed functions) keep their state in RocksDB, one database per operator subtask in
/// `<environment directory>/<name>`, one column family per state. Tables registered directly
/// through keyedTable<K, V>() stay on the heap. Checkpoints write the same bytes as the heap
/// backend's, so either backend restores the other's checkpoints.
Result<std::unique_ptr<StateBackend>> openRocksDbStateBackend(
    std::shared_ptr<RocksDbEnvironment> environment, const std::string& name, KeyGroupRange range,
    int maxParallelism);

/// Calls `fn(table, keyGroup, bytes)` for each state and each key group in `want` of a native
/// snapshot whose files are in `sharedDir`, the bytes being a full key group snapshot
/// (StateTable::restoreKeyGroup reads them): how a native checkpoint restores at another
/// parallelism or into the heap backend, one key group in memory at a time. The snapshot's files
/// are linked into a private directory under $TMPDIR (or /tmp) and read there.
Status readNativeSnapshot(const NativeSnapshot& snapshot, const std::string& sharedDir, KeyGroupRange want,
                          const std::function<Status(const std::string& table, int32_t keyGroup, std::string_view bytes)>& fn);

/// Writes back and empties the value caches, then compacts every state of a RocksDB backend
/// now (so that expired values are dropped by the TTL compaction filter); InvalidArgument for
/// another backend.
Status compactRocksDbStateBackend(StateBackend& backend);

}  // namespace reka
