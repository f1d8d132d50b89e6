#include "reka/connector/LineReader.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace reka::connector {

namespace {

// strerror_r comes in a GNU flavour (returns the text) and an XSI one (fills the buffer).
[[maybe_unused]] const char* strerrorText(const char* gnuResult, const char*) {
  return gnuResult;
}
[[maybe_unused]] const char* strerrorText(int xsiResult, const char* buffer) {
  return xsiResult == 0 ? buffer : "unknown error";
}

std::string errnoText(int error) {
  char buffer[256] = {};
  return strerrorText(strerror_r(error, buffer, sizeof buffer), buffer);
}

// Neither limit may make the buffer absurd; 1 GiB lines are far beyond any sane record.
constexpr size_t kMaxLimitBytes = size_t{1} << 30;

}  // namespace

Result<LineReader> LineReader::open(const std::string& path, LineReaderOptions options) {
  if (options.maxLineBytes == 0 || options.maxLineBytes > kMaxLimitBytes) {
    return Status::invalidArgument(fmt::format("maxLineBytes must be in [1, {}], got {}",
                                               kMaxLimitBytes, options.maxLineBytes));
  }
  if (options.readChunkBytes == 0 || options.readChunkBytes > kMaxLimitBytes) {
    return Status::invalidArgument(fmt::format("readChunkBytes must be in [1, {}], got {}",
                                               kMaxLimitBytes, options.readChunkBytes));
  }
  if (options.startOffset < 0) {
    return Status::invalidArgument(
        fmt::format("startOffset must not be negative, got {}", options.startOffset));
  }
  if (options.startLine < 1) {
    return Status::invalidArgument(
        fmt::format("startLine must be at least 1, got {}", options.startLine));
  }

  int fd;
  do {
    // O_NONBLOCK: opening a FIFO must not wait for its writer (regular files ignore the flag).
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int error = errno;
    std::string message = fmt::format("cannot open {}: {}", path, errnoText(error));
    if (error == ENOENT) return Status::notFound(std::move(message));
    return Status::ioError(std::move(message));
  }
  // From here on the reader owns fd and closes it on every return.
  LineReader reader(path, fd, options);

  struct stat info;
  if (::fstat(fd, &info) != 0) {
    return Status::ioError(fmt::format("cannot stat {}: {}", path, errnoText(errno)));
  }
  if (S_ISDIR(info.st_mode)) {
    return Status::invalidArgument(fmt::format("cannot read {}: {}", path, errnoText(EISDIR)));
  }
  reader.pollable_ = !S_ISREG(info.st_mode);
  reader.follow_ = options.follow && !reader.pollable_;
  if (reader.pollable_ && options.startOffset > 0) {
    return Status::invalidArgument(
        fmt::format("cannot resume {} at byte {}: it is not a regular file (a pipe or FIFO cannot seek)", path,
                    options.startOffset));
  }
  if (options.startOffset > 0) {
    if (S_ISREG(info.st_mode) && options.startOffset > info.st_size) {
      return Status::invalidArgument(
          fmt::format("cannot resume {} at byte {}: the file has only {} bytes", path,
                      options.startOffset, static_cast<int64_t>(info.st_size)));
    }
    if (::lseek(fd, static_cast<off_t>(options.startOffset), SEEK_SET) < 0) {
      return Status::ioError(fmt::format("cannot seek {} to byte {}: {}", path, options.startOffset,
                                         errnoText(errno)));
    }
  }
  return reader;
}

LineReader::LineReader(std::string path, int fd, const LineReaderOptions& options)
    : path_(std::move(path)),
      fd_(fd),
      maxLineBytes_(options.maxLineBytes),
      readChunkBytes_(options.readChunkBytes),
      // Room for a whole line of maxLineBytes plus its '\r', and one more chunk behind it.
      capacity_(options.maxLineBytes + 1 + options.readChunkBytes),
      position_(options.startOffset),
      nextNumber_(options.startLine),
      interrupt_(options.interrupt) {
  bomPending_ = options.startOffset == 0;
  maxWaitMs_ = options.maxWaitMs;
  buffer_ = std::make_unique_for_overwrite<char[]>(capacity_);
}

LineReader::LineReader(LineReader&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      maxLineBytes_(other.maxLineBytes_),
      readChunkBytes_(other.readChunkBytes_),
      buffer_(std::move(other.buffer_)),
      capacity_(std::exchange(other.capacity_, 0)),
      begin_(std::exchange(other.begin_, 0)),
      scanned_(std::exchange(other.scanned_, 0)),
      end_(std::exchange(other.end_, 0)),
      eof_(other.eof_),
      pollable_(other.pollable_),
      bomPending_(other.bomPending_),
      waiting_(other.waiting_),
      follow_(other.follow_),
      maxWaitMs_(other.maxWaitMs_),
      position_(other.position_),
      nextNumber_(other.nextNumber_),
      interrupt_(other.interrupt_),
      error_(std::move(other.error_)) {}

LineReader& LineReader::operator=(LineReader&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    maxLineBytes_ = other.maxLineBytes_;
    readChunkBytes_ = other.readChunkBytes_;
    buffer_ = std::move(other.buffer_);
    capacity_ = std::exchange(other.capacity_, 0);
    begin_ = std::exchange(other.begin_, 0);
    scanned_ = std::exchange(other.scanned_, 0);
    end_ = std::exchange(other.end_, 0);
    eof_ = other.eof_;
    pollable_ = other.pollable_;
    bomPending_ = other.bomPending_;
    waiting_ = other.waiting_;
    follow_ = other.follow_;
    maxWaitMs_ = other.maxWaitMs_;
    interrupt_ = other.interrupt_;
    position_ = other.position_;
    nextNumber_ = other.nextNumber_;
    error_ = std::move(other.error_);
  }
  return *this;
}

LineReader::~LineReader() {
  close();
}

void LineReader::close() {
  if (fd_ >= 0) {
    // Nothing useful can be done about a failed close of a file opened for reading.
    (void)::close(fd_);
    fd_ = -1;
  }
}

Result<size_t> LineReader::readSome(char* into, size_t bytes, bool mayGiveUp) {
  int64_t waitedMs = 0;
  while (true) {
    if (pollable_) {
      // Wait for data (or the writer's close) in slices, so that an interrupt is seen. Linux
      // reports POLLHUP on a FIFO only once a writer has come and gone: before the first
      // writer, the wait goes on.
      if (interrupt_ != nullptr && interrupt_->load(std::memory_order_relaxed))
        return Status::cancelled(fmt::format("reading {} was interrupted", path_));
      pollfd p{fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, kPollIntervalMs);
      if (ready < 0 && errno != EINTR)
        return Status::ioError(fmt::format("cannot wait for {}: {}", path_, errnoText(errno)));
      if (ready <= 0) {
        waitedMs += kPollIntervalMs;
        if (mayGiveUp && maxWaitMs_ >= 0 && waitedMs >= maxWaitMs_) return kGaveUp;
        continue;
      }
    }
    ssize_t n = ::read(fd_, into, bytes);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) continue;  // another reader took it: wait again
    if (errno != EINTR) {
      return Status::ioError(fmt::format("cannot read {}: {}", path_, errnoText(errno)));
    }
  }
}

Line LineReader::takeLine(size_t lineEnd, size_t consumed) {
  bomPending_ = false;
  size_t length = lineEnd - begin_;
  if (length > 0 && buffer_[lineEnd - 1] == '\r') --length;
  Line line;
  line.number = nextNumber_++;
  line.offset = position_;
  line.length = static_cast<int64_t>(length);
  if (length > maxLineBytes_) {
    line.oversized = true;
  } else {
    line.text = std::string_view(buffer_.get() + begin_, length);
  }
  begin_ += consumed;
  scanned_ = begin_;
  position_ += static_cast<int64_t>(consumed);
  return line;
}

Result<std::optional<Line>> LineReader::next() {
  if (!error_.isOk()) return error_;
  if (fd_ < 0) return Status::failedPrecondition("LineReader used after being moved from");
  waiting_ = false;
  while (true) {
    if (scanned_ < end_) {
      const void* newline = std::memchr(buffer_.get() + scanned_, '\n', end_ - scanned_);
      if (newline != nullptr) {
        size_t lineEnd = static_cast<size_t>(static_cast<const char*>(newline) - buffer_.get());
        return std::optional<Line>(takeLine(lineEnd, lineEnd - begin_ + 1));
      }
      scanned_ = end_;
    }
    size_t pending = end_ - begin_;
    // Even with a '\r' still to strip, this line's text is too long: stop buffering it.
    if (pending > maxLineBytes_ + 1) return skipOversized();
    if (eof_) {
      if (pending == 0) return std::optional<Line>();
      return std::optional<Line>(takeLine(end_, pending));
    }
    if (pending == 0) {
      begin_ = scanned_ = end_ = 0;
    } else if (end_ == capacity_) {
      // pending <= maxLineBytes + 1 here, so at least readChunkBytes are free afterwards. Each
      // move is followed by the end of the moved line, so moves cost linear time overall.
      std::memmove(buffer_.get(), buffer_.get() + begin_, pending);
      begin_ = 0;
      scanned_ = end_ = pending;
    }
    Result<size_t> n = readSome(buffer_.get() + end_, std::min(readChunkBytes_, capacity_ - end_), true);
    if (!n.isOk()) {
      if (n.status().code() == StatusCode::kCancelled) return n.status();  // an interrupt is no I/O error
      error_ = n.status();
      return error_;
    }
    if (n.value() == kGaveUp) {
      waiting_ = true;
      return std::optional<Line>();
    }
    if (n.value() == 0) {
      if (follow_) {  // the end for now: more may be appended
        waiting_ = true;
        return std::optional<Line>();
      }
      eof_ = true;
    } else {
      end_ += n.value();
      skipByteOrderMark();
    }
  }
}

void LineReader::skipByteOrderMark() {
  if (!bomPending_ || end_ - begin_ < 3) return;
  bomPending_ = false;
  if (std::memcmp(buffer_.get() + begin_, "\xEF\xBB\xBF", 3) != 0) return;
  begin_ += 3;
  scanned_ = std::max(scanned_, begin_);
  position_ += 3;
}

Result<std::optional<Line>> LineReader::skipOversized() {
  Line line;
  line.number = nextNumber_++;
  line.offset = position_;
  line.oversized = true;
  int64_t total = static_cast<int64_t>(end_ - begin_);
  bool lastWasCr = buffer_[end_ - 1] == '\r';
  begin_ = scanned_ = end_ = 0;
  while (!eof_) {
    Result<size_t> n = readSome(buffer_.get(), std::min(readChunkBytes_, capacity_), false);
    if (!n.isOk()) {
      error_ = n.status();
      return error_;
    }
    size_t got = n.value();
    if (got == 0) {
      // Following a file, the oversized line ends here for now; the rest, when it comes, reads
      // as another line (also oversized or bad).
      if (!follow_) eof_ = true;
      break;
    }
    const char* data = buffer_.get();
    const void* newline = std::memchr(data, '\n', got);
    if (newline != nullptr) {
      size_t lineEnd = static_cast<size_t>(static_cast<const char*>(newline) - data);
      total += static_cast<int64_t>(lineEnd);
      if (lineEnd > 0) lastWasCr = data[lineEnd - 1] == '\r';
      begin_ = scanned_ = lineEnd + 1;
      end_ = got;
      line.length = total - (lastWasCr ? 1 : 0);
      position_ = line.offset + total + 1;
      return std::optional<Line>(line);
    }
    total += static_cast<int64_t>(got);
    lastWasCr = data[got - 1] == '\r';
  }
  line.length = total - (lastWasCr ? 1 : 0);
  position_ = line.offset + total;
  return std::optional<Line>(line);
}

}  // namespace reka::connector
