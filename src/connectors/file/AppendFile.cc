#include "reka/connector/AppendFile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace reka::connector {

Result<std::unique_ptr<AppendFile>> AppendFile::open(const std::string& path) {
  if (path.empty()) return Status::invalidArgument("an output file path must not be empty");
  int fd;
  do {
    // O_NONBLOCK: a FIFO at the path must not block the open (it is refused below).
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int error = errno;
    if (error == ENXIO) return Status::invalidArgument("cannot write " + path + ": not a regular file (a FIFO without a reader)");
    if (error == ELOOP)
      return Status::invalidArgument("refusing to write " + path + ": it is a symbolic link (Reka never writes through a link it did not create)");
    return Status::ioError("cannot open " + path + " for writing: " + std::strerror(error));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return Status::invalidArgument("cannot write " + path + ": not a regular file");
  }
  auto file = std::unique_ptr<AppendFile>(new AppendFile(path, fd));
  file->length_ = static_cast<int64_t>(info.st_size);
  return file;
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::resetTo(int64_t length) {
  std::lock_guard<std::mutex> lock(mutex_);
  pendingReset_ = length;
}

Status AppendFile::applyResetLocked() {
  if (pendingReset_ < 0) return Status::ok();
  struct stat info {};
  if (::fstat(fd_, &info) != 0) return Status::ioError("cannot stat " + path_ + ": " + std::strerror(errno));
  if (pendingReset_ > info.st_size)
    return Status::failedPrecondition(path_ + " holds " + std::to_string(info.st_size) + " bytes, fewer than the " +
                                      std::to_string(pendingReset_) +
                                      " its checkpoint recorded: it was truncated or replaced outside the job");
  if (::ftruncate(fd_, static_cast<off_t>(pendingReset_)) != 0)
    return Status::ioError("cannot truncate " + path_ + ": " + std::strerror(errno));
  length_ = pendingReset_;
  pendingReset_ = -1;
  return Status::ok();
}

Status AppendFile::append(std::string_view bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  REKA_RETURN_IF_ERROR(applyResetLocked());
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(length_));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::ioError("writing " + path_ + " failed: " + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    length_ += n;
  }
  return Status::ok();
}

Result<int64_t> AppendFile::sync() {
  std::lock_guard<std::mutex> lock(mutex_);
  REKA_RETURN_IF_ERROR(applyResetLocked());
  return length_;
}

}  // namespace reka::connector
