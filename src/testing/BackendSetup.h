#pragma once

// Test-only: the parallelism and state backend a parameterised job test runs at, so that the
// window and join tests check their expected output on the heap and on RocksDB (where the
// operators keep their contents in the store).

#include <ostream>
#include <string>
#include <vector>

#include "reka/reka.h"

namespace reka::testing {

struct BackendSetup {
  BackendSetup(int p = 1, bool onRocksDb = false) : parallelism(p), rocksdb(onRocksDb) {}  // NOLINT: an int is a heap setup
  int parallelism;
  bool rocksdb;

  /// Puts the backend into `config`. RocksDB runs with small caches, and a value cache of a few
  /// entries, so that values are evicted, written back and read again all the time.
  void applyTo(ExecutionConfig& config) const {
    config.parallelism = parallelism;
    if (!rocksdb) return;
    config.stateBackend.kind = StateBackendConfig::Kind::kRocksDb;
    config.stateBackend.rocksdb.blockCacheBytes = 1 << 20;
    config.stateBackend.rocksdb.writeBufferBytes = 1 << 20;
    config.stateBackend.rocksdb.valueCacheBytes = 2 << 10;
  }
  std::string name() const { return "p" + std::to_string(parallelism) + (rocksdb ? "_rocksdb" : "_heap"); }
  friend std::ostream& operator<<(std::ostream& os, const BackendSetup& s) { return os << s.name(); }
};

/// Every parallelism of `ps` on both backends.
inline std::vector<BackendSetup> onBothBackends(std::vector<int> ps) {
  std::vector<BackendSetup> out;
  for (bool rocksdb : {false, true})
    for (int p : ps) out.emplace_back(p, rocksdb);
  return out;
}

/// The name of a parameterised test's instance.
struct BackendSetupName {
  template <class Info>
  std::string operator()(const Info& info) const {
    return info.param.name();
  }
};

}  // namespace reka::testing
