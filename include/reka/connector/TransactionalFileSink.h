#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "reka/api/Operator.h"
#include "reka/base/Status.h"

namespace reka::connector {

/// Where and how a TransactionalFileSink writes.
struct TransactionalFileSinkOptions {
  /// The output directory DIR (created with its parents when missing). Partitions are
  /// directories below it. One sink (one job) per directory: subtasks own the files named with
  /// their index.
  std::string directory;
  /// Part files are named `<prefix>-<subtask>-<seq><suffix>`; while staged, hidden as
  /// `.<prefix>-<subtask>-<seq><suffix>.inprogress`. The prefix must be non-empty; neither may
  /// contain '/', and the suffix must not start with a digit.
  std::string prefix = "part";
  std::string suffix = ".jsonl";
  /// A file is closed (rolled) once it holds at least this many bytes; the partition's next
  /// row starts a new one. A file holds at least one row, so a larger row makes a larger file.
  int64_t maxFileBytes = int64_t{128} << 20;
  /// Bytes buffered per open file before they are written.
  size_t bufferBytes = size_t{64} << 10;
  /// Files a subtask keeps open at once (one per partition written recently). Opening one more
  /// rolls the least recently written one.
  size_t maxOpenFiles = 16;
};

/// The untyped part of TransactionalFileSink: the part files of one subtask, their staging,
/// commit and snapshot blob. Lines go in through beginLine()/endLine(); see
/// TransactionalFileSink for the protocol.
///
/// Errors: open(), snapshot() and restore() return them; the void calls (the sink's invoke,
/// finish and commit) throw std::runtime_error, whose message names the path and the system's
/// reason. Not thread-safe: one task drives it.
class TransactionalFileWriter {
 public:
  /// `staged`: write hidden in-progress files and make them visible only at commit (exactly
  /// once); otherwise write visible files directly (at least / at most once).
  /// `commitAtFinish`: finish() commits everything staged (a job without checkpoints).
  TransactionalFileWriter(TransactionalFileSinkOptions options, int subtask, bool staged,
                          bool commitAtFinish);
  /// Closes open files without writing their buffers or committing: what a crash leaves.
  ~TransactionalFileWriter();
  TransactionalFileWriter(const TransactionalFileWriter&) = delete;
  TransactionalFileWriter& operator=(const TransactionalFileWriter&) = delete;

  /// Checks the options and creates the directory.
  Status open();
  /// Adds the bytes written to files from here on to `counter` (an operator's bytesOut
  /// metric); nullptr: none.
  void countBytesInto(std::atomic<int64_t>* counter) { bytesOut_ = counter; }
  /// The buffer of `partition`'s open file, opening a new file (and the partition's
  /// directories) if there is none: append one line to it, then call endLine(). `partition` is
  /// "" (the directory itself) or a relative path of non-empty names other than "." and "..".
  std::string& beginLine(std::string_view partition);
  /// Ends the line appended since beginLine() (adds '\n' if it does not end with one), writes
  /// the buffer when it is full and rolls the file when it reached maxFileBytes.
  void endLine();
  /// Whether finish() commits (a job without checkpoints).
  bool commitsAtFinish() const { return commitAtFinish_; }
  /// End of input: closes every file (flushed and synced); commits them when commitAtFinish.
  void finish();
  /// Pre-commit for checkpoint `checkpointId`: closes every open file (flushed and synced),
  /// syncs their directories, and appends the blob restore() reads: the next sequence number
  /// and the staged files of this and earlier checkpoints not committed yet.
  Status snapshot(int64_t checkpointId, std::string& out);
  /// After open() and before any line: commits the staged files listed in `in` (the blob of a
  /// complete checkpoint; idempotent), then, when staged, deletes every other in-progress file
  /// of this subtask under the directory (output written after that checkpoint). Direct mode
  /// deletes nothing; it only cuts a torn last line from files written after the checkpoint.
  /// Numbering continues after the restored sequence and after every file of this subtask
  /// present, so nothing is overwritten.
  Status restore(std::string_view in);
  /// Makes the files staged for every checkpoint <= checkpointId visible (renames them to
  /// their final names; one already renamed is skipped) and syncs their directories.
  void commit(int64_t checkpointId);

  /// The sequence number the next file gets.
  int64_t nextSequence() const { return nextSeq_; }
  size_t openFileCount() const { return open_.size(); }
  /// Closed files not yet committed (staged mode).
  size_t stagedFileCount() const { return staged_.size(); }

 private:
  /// A part file being written.
  struct OpenFile {
    std::string partition;
    /// Relative to the directory: the in-progress name when staging, else the final one.
    std::string writeName;
    std::string finalName;  ///< relative to the directory
    std::string path;       ///< absolute form of writeName
    int fd = -1;
    int64_t bytes = 0;  ///< written and buffered
    std::string buffer;
    uint64_t lastUse = 0;
  };
  /// A closed, staged file waiting for its checkpoint to complete.
  struct StagedFile {
    int64_t checkpointId;    ///< kNotSnapshotted until a snapshot takes it
    std::string inProgress;  ///< relative to the directory
    std::string finalName;   ///< relative to the directory
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  static constexpr int64_t kNotSnapshotted = INT64_MAX;

  Status ensureStarted();
  Status scan(int64_t restoredNextSeq, bool restoring);
  Status openFile(std::string_view partition, OpenFile*& result);
  Status makePartitionDirs(std::string_view partition);
  Status flush(OpenFile& f);
  Status close(OpenFile& f);
  Status closeAll();
  Status commitStaged(int64_t upTo);
  Status commitFile(const std::string& inProgress, const std::string& finalName);
  Status syncDirectories();
  Status repairTornTail(const std::string& path);
  std::string absolute(std::string_view relative) const;
  void markDirectoryOf(const std::string& absolutePath);

  TransactionalFileSinkOptions options_;
  int subtask_;
  bool staging_;
  bool commitAtFinish_;
  bool started_ = false;
  int64_t nextSeq_ = 0;
  uint64_t useClock_ = 0;
  std::unordered_map<std::string, OpenFile, StringHash, std::equal_to<>> open_;
  OpenFile* current_ = nullptr;  // the file of the last beginLine()
  size_t lineStart_ = 0;
  std::vector<StagedFile> staged_;
  std::unordered_set<std::string> knownDirs_;   // partitions whose directories exist
  std::unordered_set<std::string> dirsToSync_;  // absolute; entries changed since the last sync
  std::atomic<int64_t>* bytesOut_ = nullptr;
};

/// No partitions: every row goes to the directory itself.
struct NoPartition {
  template <class Row>
  void operator()(const Row&, std::string&) const {}
};

/// An exactly-once (two-phase commit) sink of text lines into part files, generic over the row
/// type, in the manner of Flink's FileSink. Give it to `DataStream::sink`; each subtask writes
/// its own files, so it runs at any parallelism.
///
/// - `format(const Row&, std::string& out)` appends the row's line to `out`, with or without
///   the final '\n' (the sink adds one when missing).
/// - `partitioner(const Row&, std::string& out)` appends the row's partition: "" (the
///   directory itself) or a relative directory path such as `dt=2015-07-15/hm=00-01`. The
///   sink throws for an absolute path or one with an empty, "." or ".." part.
///
/// Protocol with exactly-once (OperatorContext::guarantee):
/// - Rows go to hidden in-progress files `DIR/<partition>/.part-<subtask>-<seq>.jsonl.inprogress`,
///   one open file per partition; files roll at maxFileBytes and at every checkpoint.
/// - snapshot(id): flush, fsync and close the open files; they are staged for checkpoint id.
///   The blob lists every staged, uncommitted file (in-progress and final name) and the next
///   sequence number.
/// - commit(id): rename every file staged for a checkpoint <= id to `part-<subtask>-<seq>.jsonl`
///   (idempotent) and fsync the directories.
/// - restore(blob): commit the files the blob lists (its checkpoint is complete), delete every
///   other in-progress file of this subtask, number new files after the restored sequence.
/// - Without checkpoints (OperatorContext::checkpointing false), finish() commits everything.
/// With at-least-once or at-most-once the files are visible from the start; snapshots flush,
/// fsync and roll them; restore deletes nothing.
///
/// One copy is made per subtask from the object passed to `sink`; a copy is unopened.
template <class Row, class Format, class Partitioner = NoPartition>
class TransactionalFileSink {
 public:
  TransactionalFileSink(TransactionalFileSinkOptions options, Format format,
                        Partitioner partitioner = {})
      : options_(std::move(options)),
        format_(std::move(format)),
        partitioner_(std::move(partitioner)) {}
  TransactionalFileSink(const TransactionalFileSink& other)
      : options_(other.options_), format_(other.format_), partitioner_(other.partitioner_) {}
  TransactionalFileSink(TransactionalFileSink&&) = default;
  TransactionalFileSink& operator=(const TransactionalFileSink&) = delete;
  TransactionalFileSink& operator=(TransactionalFileSink&&) = delete;
  ~TransactionalFileSink() = default;

  Status open(const OperatorContext& ctx) {
    writer_ = std::make_unique<TransactionalFileWriter>(
        options_, ctx.subtask, ctx.guarantee == DeliveryGuarantee::kExactlyOnce,
        !ctx.checkpointing);
    if (ctx.metrics != nullptr) writer_->countBytesInto(&ctx.metrics->bytesOut);
    return writer_->open();
  }
  void invoke(const Row& row) {
    partition_.clear();
    partitioner_(row, partition_);
    std::string& out = writer_->beginLine(partition_);
    format_(row, out);
    writer_->endLine();
  }
  void finish() { writer_->finish(); }
  Status snapshot(int64_t checkpointId, std::string& out) {
    return writer_->snapshot(checkpointId, out);
  }
  Status restore(std::string_view in) { return writer_->restore(in); }
  void commit(int64_t checkpointId) { writer_->commit(checkpointId); }

  /// The writer after open() (for tests and metrics), else nullptr.
  const TransactionalFileWriter* writer() const { return writer_.get(); }

 private:
  TransactionalFileSinkOptions options_;
  Format format_;
  Partitioner partitioner_;
  std::string partition_;
  std::unique_ptr<TransactionalFileWriter> writer_;
};

/// `TransactionalFileSink<Row, …>` with the function types deduced.
template <class Row, class Format, class Partitioner = NoPartition>
TransactionalFileSink<Row, Format, Partitioner> transactionalFileSink(
    TransactionalFileSinkOptions options, Format format, Partitioner partitioner = {}) {
  return TransactionalFileSink<Row, Format, Partitioner>(std::move(options), std::move(format),
                                                         std::move(partitioner));
}

}  // namespace reka::connector
