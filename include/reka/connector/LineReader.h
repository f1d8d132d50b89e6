#pragma once

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
/// Movable, not copyable; closes its file when destroyed. Not thread-safe. After an I/O error
/// every later call fails; reopen at position() to retry.
class LineReader {
 public:
  /// Opens `path` for reading from `options.startOffset`. Fails with the path and the system's
  /// reason when the file is missing or unreadable, is a directory, when startOffset lies past
  /// its end, or when the options are out of range.
  static Result<LineReader> open(const std::string& path, LineReaderOptions options = {});

  LineReader(LineReader&& other) noexcept;
  LineReader& operator=(LineReader&& other) noexcept;
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  ~LineReader();

  /// The next line, or std::nullopt at the end of the file.
  Result<std::optional<Line>> next();

  /// Byte offset just after the last returned line (its newline included): where a reader
  /// opened with this startOffset continues.
  int64_t position() const { return position_; }
  /// The number the next line will get (the startLine to pair with position()).
  int64_t nextLineNumber() const { return nextNumber_; }
  const std::string& path() const { return path_; }

 private:
  LineReader(std::string path, int fd, const LineReaderOptions& options);

  Result<size_t> readSome(char* into, size_t bytes);
  Result<std::optional<Line>> skipOversized();
  Line takeLine(size_t lineEnd, size_t consumed);
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
  int64_t position_ = 0;
  int64_t nextNumber_ = 1;
  Status error_;
};

}  // namespace reka::connector
