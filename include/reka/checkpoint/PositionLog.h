#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include <xxhash.h>

#include "reka/base/Status.h"
#include "reka/state/Serde.h"

namespace reka {

/// At-most-once sources: a small file holding the source's position, rewritten in place before
/// every batch the source emits (write-ahead), so that after a crash the source resumes past
/// everything it emitted and nothing is emitted twice. Format: u64 length, bytes, u64 xxh3 of
/// the bytes. Not synced: survives the process being killed, not a power loss.
/// Not thread-safe: one source subtask.
class PositionLog {
 public:
  PositionLog() = default;
  PositionLog(const PositionLog&) = delete;
  PositionLog& operator=(const PositionLog&) = delete;
  ~PositionLog() {
    if (fd_ >= 0) ::close(fd_);
  }

  /// Opens (creating) `path`. Returns the position logged there before, if any and intact.
  Result<std::string> open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) return Status::ioError("cannot open position log " + path + ": " + std::strerror(errno));
    std::string bytes(1 << 16, '\0');
    ssize_t n = ::pread(fd_, bytes.data(), bytes.size(), 0);
    if (n < 0) return Status::ioError("cannot read position log " + path + ": " + std::strerror(errno));
    std::string_view in(bytes.data(), static_cast<size_t>(n));
    uint64_t len = 0, sum = 0;
    if (!Serde<uint64_t>::read(in, len) || len > in.size()) return std::string();
    std::string pos(in.substr(0, len));
    in.remove_prefix(len);
    if (!Serde<uint64_t>::read(in, sum) || sum != XXH3_64bits(pos.data(), pos.size()))
      return Status::corruption("position log " + path + " is corrupt (checksum mismatch)");
    return pos;
  }
  /// Writes `position` over the previous one.
  Status write(std::string_view position) {
    buffer_.clear();
    Serde<uint64_t>::write(position.size(), buffer_);
    buffer_.append(position);
    Serde<uint64_t>::write(XXH3_64bits(position.data(), position.size()), buffer_);
    ssize_t n = ::pwrite(fd_, buffer_.data(), buffer_.size(), 0);
    if (n != static_cast<ssize_t>(buffer_.size()))
      return Status::ioError("cannot write position log " + path_ + ": " + std::strerror(errno));
    return Status::ok();
  }
  bool isOk() const { return fd_ >= 0; }

 private:
  std::string path_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace reka
