#include "checkpoint/StateDirectoryLock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "checkpoint/CheckpointStorage.h"

namespace reka::checkpoint {

namespace {

std::string errnoText(const std::string& what, const std::string& path) {
  if (errno == ELOOP) return what + " " + path + ": it is a symbolic link (Reka never follows one there)";
  return what + " " + path + ": " + std::strerror(errno);
}

struct flock writeLockRequest() {
  struct flock request {};
  request.l_type = F_WRLCK;
  request.l_whence = SEEK_SET;
  request.l_start = 0;
  request.l_len = 0;  // the whole file
  return request;
}

}  // namespace

Result<StateDirectoryLock> StateDirectoryLock::acquire(const std::string& dir) {
  if (dir.empty()) return Status::invalidArgument("the state directory path must not be empty");
  REKA_RETURN_IF_ERROR(localFileSystem()->makeDirs(dir));
  const std::string path = lockPath(dir);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) return Status::ioError(errnoText("cannot open", path));
  StateDirectoryLock lock(fd);
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode))
    return Status::invalidArgument("cannot lock " + path + ": not a regular file");
  struct flock request = writeLockRequest();
  if (::fcntl(fd, F_SETLK, &request) != 0) {
    if (errno != EACCES && errno != EAGAIN) return Status::ioError(errnoText("cannot lock", path));
    auto holder = owner(dir);
    const std::string who = holder.isOk() && holder->has_value() ? "process " + std::to_string(**holder) : "another process";
    return Status::failedPrecondition("state directory " + dir + " is in use by " + who + " (it holds " + path +
                                      "); one job per state directory");
  }
  // The pid, for people reading the directory; the lock itself is what counts.
  const std::string text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    return Status::ioError(errnoText("cannot write", path));
  return lock;
}

Result<std::optional<pid_t>> StateDirectoryLock::owner(const std::string& dir) {
  const std::string path = lockPath(dir);
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<pid_t>();
    return Status::ioError(errnoText("cannot open", path));
  }
  struct flock request = writeLockRequest();
  const int rc = ::fcntl(fd, F_GETLK, &request);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return Status::ioError("cannot query the lock on " + path + ": " + std::strerror(error));
  if (request.l_type == F_UNLCK) return std::optional<pid_t>();
  // An open-file-description lock reports −1, a holder in another pid namespace 0: no process
  // this one could signal (kill(−1) would reach every process of the user).
  if (request.l_pid <= 0)
    return Status::failedPrecondition(path + " is locked by a process the kernel cannot name here (not a reka job of "
                                      "this system's pid namespace)");
  return std::optional<pid_t>(request.l_pid);
}

StateDirectoryLock::StateDirectoryLock(StateDirectoryLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

StateDirectoryLock& StateDirectoryLock::operator=(StateDirectoryLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

StateDirectoryLock::~StateDirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

}  // namespace reka::checkpoint
