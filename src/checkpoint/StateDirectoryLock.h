#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "reka/base/Status.h"

namespace reka::checkpoint {

/// The exclusive claim of one running job on its state directory: a POSIX record lock
/// (fcntl F_SETLK, write lock) on `DIR/reka.lock`, held for the job's life. The kernel drops it
/// when the process ends in any way (kill -9 included), so a stale claim cannot exist and pid
/// reuse cannot fool anyone; two jobs started at the same moment cannot both get it.
///
/// The lock file is opened with O_NOFOLLOW (a symlink planted there is refused, never written
/// through) and created 0600 in a directory created 0700. It holds the owner's pid as text, for
/// people; programs ask the kernel instead (owner()). Movable, not copyable; the destructor
/// releases the lock. A process must not open the lock file a second time while it holds the
/// lock: closing any descriptor of it would release the POSIX lock.
class StateDirectoryLock {
 public:
  /// Creates `dir` if needed and takes its lock without waiting. Fails with the owner's pid
  /// when another process holds it, or with the system's reason.
  static Result<StateDirectoryLock> acquire(const std::string& dir);
  /// The process that holds the lock of `dir` now, or std::nullopt when none does (no lock
  /// file, or nobody holds it). Never follows a symlink at the lock file's path. Fails when the
  /// holder has no pid here (an open-file-description lock, another pid namespace): the
  /// result is always a positive pid that can be signalled safely.
  static Result<std::optional<pid_t>> owner(const std::string& dir);
  static std::string lockPath(const std::string& dir) { return dir + "/reka.lock"; }

  StateDirectoryLock(StateDirectoryLock&& other) noexcept;
  StateDirectoryLock& operator=(StateDirectoryLock&& other) noexcept;
  StateDirectoryLock(const StateDirectoryLock&) = delete;
  StateDirectoryLock& operator=(const StateDirectoryLock&) = delete;
  ~StateDirectoryLock();

 private:
  explicit StateDirectoryLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace reka::checkpoint
