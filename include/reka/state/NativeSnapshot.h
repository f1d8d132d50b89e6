#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace reka {

/// A state backend's keyed state as its own files (the RocksDB backend's native snapshot): the
/// database's immutable table files, kept once in the checkpoint storage's shared directory and
/// referred to by every checkpoint that needs them, and the few small files that describe the
/// database, copied whole into the checkpoint. Restoring one at the same key groups puts the
/// files back (hard links where possible) and opens the database: no record is rewritten.
struct NativeSnapshot {
  /// A table file: its name in the database directory, and in the shared directory.
  struct File {
    std::string local;
    std::string shared;
    uint64_t size = 0;  ///< bytes
  };
  std::vector<File> files;
  /// Small files copied whole (MANIFEST, CURRENT, OPTIONS): name → bytes.
  std::vector<std::pair<std::string, std::string>> meta;
};

/// A file a native snapshot refers to that is not in the shared directory yet: the checkpoint
/// writer puts `source` (a hard link the snapshot made, which nothing else uses) there under
/// the name `shared`, then removes `source`.
struct NativeUpload {
  std::string source;
  std::string shared;
};

}  // namespace reka
