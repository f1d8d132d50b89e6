#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "reka/base/Status.h"

namespace reka::connector {

/// One output file that a job appends to and that follows the job's checkpoints: what the
/// `--output FILE`, `--dead-letter FILE` and `--late-output FILE` writers share.
///
/// The file is never truncated when it is opened. Instead a run says where its content starts:
/// `resetTo(0)` for a fresh run (start over), `resetTo(length)` with a length recorded in a
/// checkpoint for a restored one. The reset happens before the next append (or at sync()), so
/// whatever a crashed run wrote after its last checkpoint is cut off and written again by the
/// replay: after any number of restarts the file holds every line once (with exactly-once
/// replay), and a reader of a running job may see lines that a restore later cuts.
///
/// Created 0644 with O_NOFOLLOW (a symlink planted at the path is refused, never written
/// through) and O_CLOEXEC. Thread-safe: appends from several threads do not interleave within
/// one call.
class AppendFile {
 public:
  /// Opens (creating if needed) `path` for appending. Fails with the path and the system's
  /// reason: a missing directory, no permission, a directory or a symlink at the path.
  static Result<std::unique_ptr<AppendFile>> open(const std::string& path);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  /// The file's content is to be its first `length` bytes (applied before the next append or
  /// sync). A length beyond the file's size is an error at that point (the file was replaced).
  void resetTo(int64_t length);
  /// Appends `bytes` (whole lines, by convention) after what the file holds.
  Status append(std::string_view bytes);
  /// Applies a pending reset; the length the file has logically reached (what a checkpoint
  /// records). Data is in the kernel (write()), not necessarily on disk.
  Result<int64_t> sync();
  const std::string& path() const { return path_; }

 private:
  AppendFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  Status applyResetLocked();

  std::string path_;
  int fd_ = -1;
  std::mutex mutex_;
  int64_t length_ = 0;         ///< bytes of the file's logical content
  int64_t pendingReset_ = -1;  ///< ≥ 0: truncate to this before the next write
};

}  // namespace reka::connector
