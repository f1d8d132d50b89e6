#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/base/Status.h"
#include "reka/state/NativeSnapshot.h"

struct XXH3_state_s;  // xxhash's streaming state (kept out of this header)

namespace reka {

/// The file operations checkpoint storage needs. The local file system implements them with
/// POSIX calls; tests wrap it to inject failures (write errors, torn writes, a full disk).
class CheckpointFileSystem {
 public:
  virtual ~CheckpointFileSystem() = default;
  /// Creates `path` and its parents.
  virtual Status makeDirs(const std::string& path) = 0;
  /// Writes `data` to a new file `path` (replacing it) and flushes it to stable storage. The
  /// local file system writes large data that starts on a 4 KiB boundary in memory with
  /// O_DIRECT, straight from `data` to the device, and falls back to buffered writes.
  virtual Status writeFile(const std::string& path, std::string_view data) = 0;
  virtual Result<std::string> readFile(const std::string& path) = 0;
  /// Atomically replaces `to` with `from`, then makes the rename durable.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  /// The names (not paths) of the entries of directory `path`; empty if it does not exist.
  virtual Result<std::vector<std::string>> list(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;
  /// Deletes a file or a directory tree; succeeds if it does not exist.
  virtual Status removeAll(const std::string& path) = 0;
  /// The size and XXH3-64 of file `path`. The local file system reads it in 1 MiB pieces (a
  /// table file may be tens of MiB); this default reads it whole.
  virtual Result<std::pair<uint64_t, uint64_t>> sizeAndChecksum(const std::string& path);
  /// Puts the file `from` at `to` (replacing it) durably. The local file system makes a hard
  /// link (the files are immutable) and copies across file systems; this default copies.
  virtual Status linkOrCopy(const std::string& from, const std::string& to) {
    REKA_ASSIGN_OR_RETURN(std::string bytes, readFile(from));
    return writeFile(to, bytes);
  }
};

/// The local file system (POSIX, fsync on every file and directory written).
std::shared_ptr<CheckpointFileSystem> localFileSystem();

namespace checkpoint {

/// What one operator subtask contributed to a checkpoint.
struct OperatorSnapshot {
  int32_t node = -1;        ///< node id in the job graph
  int32_t subtask = 0;
  std::string name;         ///< operator name (checked on restore)
  /// Keyed state: table name → key group → bytes.
  std::map<std::string, std::map<int32_t, std::string>> keyed;
  /// Operator list state: name → serialised elements.
  std::map<std::string, std::vector<std::string>> lists;
  /// The operator's own state (Operator::snapshotState; Operator::snapshotDelta if blobIsDelta).
  std::string blob;
  bool blobIsDelta = false;
  /// A backend's native snapshot (RocksDB's files; the tables in its store are then not in
  /// `keyed`). Written whole in every file of a chain: the last one holds.
  std::optional<NativeSnapshot> native;

  // Filled by CheckpointStorage::load from an incremental chain (the files of a task from its
  // last full snapshot on): what to apply on top of `keyed` and `blob`, oldest first.
  std::vector<std::map<std::string, std::map<int32_t, std::string>>> keyedDeltas;
  std::vector<std::string> blobDeltas;
};

/// One task's share of a checkpoint: the bytes of its state file (the snapshots of the
/// operators of its chain), encoded by the task in one pass with StateFileWriter.
struct TaskSnapshot {
  /// The file's bytes start at `offset`: tasks pad the front so that they start on a 4 KiB
  /// boundary in memory, which lets the local file system write them with O_DIRECT (no copy
  /// into the page cache).
  std::string bytes;
  size_t offset = 0;
  std::string_view file() const { return std::string_view(bytes).substr(offset); }
  /// An incremental snapshot: only what changed since this task's snapshot for checkpoint
  /// `baseId` (which completed), to be restored on top of that checkpoint's chain.
  bool delta = false;
  int64_t baseId = 0;
  /// XXH3-64 of file(), when the writer computed it as it went (StateFileWriter::finish);
  /// storage computes it otherwise.
  std::optional<uint64_t> checksum;
  /// Files in the shared directory the state file's native snapshots refer to (names there),
  /// and those of them to put there first (with the checkpoint's other files).
  std::vector<std::string> sharedFiles;
  std::vector<NativeUpload> uploads;
};

/// Writes a state file (format v1, docs/checkpoints.md) straight into a string, so that state is
/// serialised once, where it lives: variable-length parts reserve their length field and patch
/// it when done.
///
/// The writer also checksums the file as it goes: whenever no length field is open, the bytes
/// written so far are final and are hashed while they are still in the cache (reading 100 MB
/// back from memory afterwards costs several times more).
class StateFileWriter {
 public:
  /// `delta`: an incremental file (keyed state as key group deltas) on top of checkpoint `baseId`.
  /// The file starts at `out.size()`.
  StateFileWriter(std::string& out, uint32_t operatorCount, bool delta = false, int64_t baseId = 0);
  ~StateFileWriter();
  StateFileWriter(const StateFileWriter&) = delete;
  StateFileWriter& operator=(const StateFileWriter&) = delete;
  /// XXH3-64 of the file's bytes; call once, after the last write (with no length field open).
  uint64_t finish();
  void beginOperator(int32_t node, int32_t subtask, std::string_view name);
  void u8(uint8_t v);
  void u32(uint32_t v);
  void str(std::string_view s);
  /// Reserves a length field; append the bytes to out(), then call endBytes with the result.
  size_t beginBytes();
  void endBytes(size_t at);
  /// An operator's native snapshot section (format 3), after its blob; null: none.
  void native(const NativeSnapshot* snapshot);
  std::string& out() { return out_; }

 private:
  void hashPending();

  std::string& out_;
  size_t hashed_;   ///< bytes of out_ hashed so far (the file starts where the writer started)
  int open_ = 0;    ///< length fields reserved and not yet patched
  XXH3_state_s* hash_;
};

enum class CheckpointKind : uint8_t { kCheckpoint = 0, kSavepoint = 1 };

/// A file a manifest lists: its name relative to the checkpoint's directory, size and XXH3.
struct FileEntry {
  std::string name;
  uint64_t size = 0;
  uint64_t checksum = 0;
};

/// A complete checkpoint as read back from storage.
struct CheckpointData {
  int64_t id = 0;
  CheckpointKind kind = CheckpointKind::kCheckpoint;
  bool finished = false;         ///< taken after the job reached the end of its input
  int64_t wallTimeMs = 0;        ///< when it completed
  std::string jobFingerprint;    ///< operators and parallelism of the job that wrote it
  std::string directory;
  /// Where the files the native snapshots name are (`<directory>/../shared`).
  std::string sharedDirectory;
  int64_t bytes = 0;
  std::map<std::pair<int32_t, int32_t>, OperatorSnapshot> operators;  ///< by (node, subtask)
  std::vector<FileEntry> files;  ///< as the manifest lists them (each task's chain, in order)
};

/// The chains of checkpoint `data` by task index (from the `task-<n>.state` file names), as a
/// later checkpoint of the same state directory refers to them; empty if a name does not
/// follow that pattern. A job restored from a checkpoint continues these chains.
std::vector<std::vector<FileEntry>> chainsByTask(const CheckpointData& data);

/// Serialises operator snapshots into the bytes of one state file (tests and tools; tasks use
/// StateFileWriter directly).
std::string encodeTaskSnapshot(const std::vector<OperatorSnapshot>& operators, bool delta = false, int64_t baseId = 0);
/// A parsed state file.
struct DecodedStateFile {
  bool delta = false;
  int64_t baseId = 0;
  std::vector<OperatorSnapshot> operators;
};
/// Parses a state file (format version 1 to 3); fails with Corruption on malformed input.
Status decodeTaskSnapshot(std::string_view bytes, DecodedStateFile& out);
Status decodeTaskSnapshot(std::string_view bytes, std::vector<OperatorSnapshot>& out);

/// Checkpoints and savepoints of one job in a state directory:
///   DIR/checkpoints/chk-<id>/   task-<n>.state files, then MANIFEST
///   DIR/checkpoints/shared/     files of native snapshots, each listed by the manifest of every
///                               checkpoint that reads it (as ../shared/<name>)
///   DIR/savepoints/sp-<id>/     the same, never deleted automatically (and never native)
/// A checkpoint exists once its MANIFEST (checksummed, listing every file with its size and
/// checksum) has been renamed into place; a directory without one is an unfinished attempt.
/// Thread-safety: one writer (the checkpoint coordinator) at a time.
class CheckpointStorage {
 public:
  CheckpointStorage(std::string stateDir, std::shared_ptr<CheckpointFileSystem> fs);

  const std::string& stateDir() const { return stateDir_; }
  CheckpointFileSystem& fs() { return *fs_; }

  /// The directory checkpoint `id` is written to.
  std::string directoryFor(int64_t id, CheckpointKind kind) const;
  /// Creates the directory of checkpoint `id` (removing a leftover unfinished attempt).
  Status begin(int64_t id, CheckpointKind kind);
  /// Writes one task's state file; returns its name, size and checksum for the manifest.
  using FileEntry = checkpoint::FileEntry;
  Result<FileEntry> writeTaskFile(int64_t id, CheckpointKind kind, size_t taskIndex, const TaskSnapshot& snapshot);
  /// The entry under which a later checkpoint's manifest refers to file `e` of checkpoint
  /// `ownerId` (incremental chains share files: `../chk-<ownerId>/task-<n>.state`).
  static FileEntry sharedEntry(int64_t ownerId, const FileEntry& e);
  /// The directory of native snapshots' files, shared between checkpoints.
  std::string sharedDirectory() const { return stateDir_ + "/checkpoints/shared"; }
  /// Puts `source` into the shared directory as `name` (a hard link where possible) and
  /// returns the entry a manifest lists it under (`../shared/<name>`, size, checksum).
  Result<FileEntry> storeSharedFile(const std::string& source, const std::string& name);
  /// Deletes the files of the shared directory that no complete checkpoint's manifest lists
  /// (uploads of checkpoints that never completed). Only while no checkpoint is in flight;
  /// deletes nothing if a manifest cannot be read.
  void sweepShared();
  /// Completes checkpoint `id`: writes MANIFEST.tmp, syncs it and renames it to MANIFEST.
  /// `files` lists every file a restore reads, in the order it applies them (for each task its
  /// chain: the full snapshot, then each delta).
  Status complete(int64_t id, CheckpointKind kind, bool finished, const std::string& jobFingerprint,
                  const std::vector<FileEntry>& files);
  /// Deletes the unfinished attempt at `id` (best effort).
  void abort(int64_t id, CheckpointKind kind);
  /// Keeps the newest `retained` complete checkpoints; older ones stop being checkpoints (their
  /// manifest goes first) and their files are deleted unless a retained checkpoint's chain
  /// still refers to them; the same for unfinished attempts older than the newest complete one.
  /// Savepoints are kept. Deletes nothing if a retained manifest cannot be read.
  void prune(int retained);

  /// The newest complete checkpoint or savepoint that reads back intact. Each one that does not
  /// (missing or corrupt manifest or file) is reported through `log` and skipped. nullopt: the
  /// directory has no checkpoint at all. Fails if there are checkpoints but none is usable (a
  /// fresh start would repeat committed output).
  Result<std::optional<CheckpointData>> loadLatest(const std::function<void(const std::string&)>& log);
  /// Reads the checkpoint or savepoint in `directory` (fails if it is not complete and intact).
  Result<CheckpointData> load(const std::string& directory);
  /// The ids of the complete (manifest present) checkpoints and savepoints, newest first.
  std::vector<std::pair<int64_t, std::string>> listComplete();

  /// What a checkpoint's MANIFEST says.
  struct Manifest {
    int64_t id = 0;
    CheckpointKind kind = CheckpointKind::kCheckpoint;
    bool finished = false;
    int64_t wallTimeMs = 0;
    std::string jobFingerprint;
    std::vector<FileEntry> files;
  };
  /// Parses the bytes of a MANIFEST file (format version 1 or 2, checksum included); fails with
  /// Corruption on anything else. Pure: no file system access (the fuzz targets call it).
  static Result<Manifest> parseManifest(std::string_view bytes);

 private:
  Result<Manifest> readManifest(const std::string& directory);

  std::string stateDir_;
  std::shared_ptr<CheckpointFileSystem> fs_;
};

}  // namespace checkpoint
}  // namespace reka
