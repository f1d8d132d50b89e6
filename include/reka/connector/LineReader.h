#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "reka/base/Status.h"

namespace reka::connector {

/// How a LineReader reads its file.
struct LineReaderOptions {
  /// Lines whose text is longer than this are not buffered: they are skipped and reported as
  /// oversized (see Line::oversized).
  size_t maxLineBytes = size_t{1} << 20;
  /// Bytes asked of each read() call.
  size_t readChunkBytes = size_t{1} << 20;
  /// Byte offset to start at: 0, or a position() returned earlier (a line boundary).
  int64_t startOffset = 0;
  /// Number given to the first line read.
  int64_t startLine = 1;
  /// Set (by another thread) to interrupt a read that waits for data: next() then fails with
  /// Cancelled within kPollIntervalMs. Only pipes, FIFOs, sockets and terminals wait; a regular
  /// file never does. Null: a wait lasts until data, end of input or an error.
  const std::atomic<bool>* interrupt = nullptr;
  /// For files that wait (see `interrupt`): how long next() waits for data before it returns
  /// std::nullopt with waiting() true, so that the caller can do other work and call again.
  /// Negative: wait until data, the end or an interrupt.
  int64_t maxWaitMs = -1;
  /// Follow a growing regular file: at its end next() returns std::nullopt with waiting() true
  /// (instead of ending), keeps an unterminated last line back until its newline arrives, and
  /// reads on from there at the next call. A line is never returned without its newline.
  bool follow = false;
};

/// One line of a file, as LineReader::next returns it.
struct Line {
  /// The line without its '\n' and without a '\r' before it; empty when oversized. Valid
  /// until the next call to LineReader::next.
  std::string_view text;
  /// Line number, counted from LineReaderOptions::startLine.
  int64_t number = 0;
  /// Byte offset of the line's first byte in the file.
  int64_t offset = 0;
  /// True when the text is longer than maxLineBytes: it was skipped, not read into memory.
  bool oversized = false;
  /// Length of the text in bytes (also for an oversized line, whose text is empty).
  int64_t length = 0;
};

/// Reads a file line by line with plain read() calls, in memory bounded by
/// readChunkBytes + maxLineBytes whatever the file's size. Lines end at '\n' ("\r\n" is
/// accepted); the last line needs no newline. Empty lines are returned like any other.
///
/// Files that are not regular (a FIFO, a pipe, a terminal) are read without blocking in read():
/// the reader waits in poll() in slices of kPollIntervalMs and checks `interrupt` between them,
/// so a FIFO whose writer has not come, or keeps it open without writing, never hangs the
/// reader's thread past an interrupt. A FIFO reaches its end when its last writer closes it.
///
/// A UTF-8 byte-order mark (EF BB BF) at offset 0 is skipped: the first line starts after it.
///
/// Movable, not copyable; closes its file when destroyed. Not thread-safe. After an I/O error
/// every later call fails; reopen at position() to retry.
class LineReader {
 public:
  /// How long one wait for data lasts before `interrupt` is checked again.
  static constexpr int kPollIntervalMs = 50;

  /// Opens `path` for reading from `options.startOffset`. Fails with the path and the system's
  /// reason when the file is missing or unreadable, is a directory, when startOffset lies past
  /// its end, or when the options are out of range.
  static Result<LineReader> open(const std::string& path, LineReaderOptions options = {});

  LineReader(LineReader&& other) noexcept;
  LineReader& operator=(LineReader&& other) noexcept;
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  ~LineReader();

  /// The next line, or std::nullopt at the end of the file or, with maxWaitMs, when no line
  /// came within it (then waiting() is true: call again later).
  Result<std::optional<Line>> next();
  /// Whether the last next() returned std::nullopt because it waited maxWaitMs, not at the end.
  bool waiting() const { return waiting_; }

  /// Byte offset just after the last returned line (its newline included): where a reader
  /// opened with this startOffset continues.
  int64_t position() const { return position_; }
  /// The number the next line will get (the startLine to pair with position()).
  int64_t nextLineNumber() const { return nextNumber_; }
  const std::string& path() const { return path_; }
  /// The open file (for fstat: a follower checks for truncation and rotation).
  int fd() const { return fd_; }
  /// Bytes read past position(): an unterminated last line a follower holds back.
  size_t pendingBytes() const { return end_ - begin_; }

 private:
  LineReader(std::string path, int fd, const LineReaderOptions& options);

  /// What readSome returns when it waited maxWaitMs without data (mayGiveUp only).
  static constexpr size_t kGaveUp = ~size_t{0};
  Result<size_t> readSome(char* into, size_t bytes, bool mayGiveUp);
  Result<std::optional<Line>> skipOversized();
  Line takeLine(size_t lineEnd, size_t consumed);
  /// Skips a UTF-8 byte-order mark at the start of the file, once three bytes are buffered.
  void skipByteOrderMark();
  void close();

  std::string path_;
  int fd_ = -1;
  size_t maxLineBytes_ = 0;
  size_t readChunkBytes_ = 0;
  // buffer_[begin_, end_) holds bytes read but not yet returned; [begin_, scanned_) is known to
  // hold no '\n', so a long line is searched once, not once per read.
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t scanned_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  bool pollable_ = false;  ///< not a regular file: wait in poll(), interruptibly
  bool bomPending_ = false;
  bool waiting_ = false;
  bool follow_ = false;
  int64_t maxWaitMs_ = -1;  ///< at offset 0 and no line returned yet: a BOM may still be skipped
  int64_t position_ = 0;
  int64_t nextNumber_ = 1;
  const std::atomic<bool>* interrupt_ = nullptr;
  Status error_;
};

}  // namespace reka::connector
