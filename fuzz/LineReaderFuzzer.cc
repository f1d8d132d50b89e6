// Fuzzes reka::connector::LineReader. Input: byte 0 picks maxLineBytes (1–64), byte 1
// readChunkBytes (1–64), byte 2 the line after which a second reader resumes (at position()
// and nextLineNumber(), as a restored file source does); the rest is the file, written to a
// temporary file. Checks:
// - the lines tile the file (after a UTF-8 byte-order mark at its start, which is skipped):
//   each starts where the previous one ended, its text is the file's bytes there (none of them
//   '\n'), followed by an optional '\r', then '\n' or the end of the file, and the last one
//   ends at the end of the file;
// - a line is oversized (empty text) exactly when its length exceeds maxLineBytes;
// - line numbers count up from 1, and the resumed reader returns the same lines as the first.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reka/connector/LineReader.h"

namespace {

using reka::connector::Line;
using reka::connector::LineReader;
using reka::connector::LineReaderOptions;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

/// A line with its text copied (a Line's text is valid only until the next call).
struct OwnedLine {
  int64_t number = 0;
  int64_t offset = 0;
  int64_t length = 0;
  bool oversized = false;
  std::string text;
  bool operator==(const OwnedLine&) const = default;
};

/// The file the input is written to (one per process), removed at exit.
struct ScratchFile {
  ScratchFile() : path("/tmp/reka-line-reader-fuzz-" + std::to_string(::getpid())) {}
  ~ScratchFile() { ::unlink(path.c_str()); }
  std::string path;
};

const std::string& scratchPath() {
  static const ScratchFile file;
  return file.path;
}

void writeFile(std::string_view content) {
  const int fd = ::open(scratchPath().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  check(fd >= 0);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    check(n > 0);
    done += static_cast<size_t>(n);
  }
  check(::close(fd) == 0);
}

/// Reads lines until the end (or `limit` lines), checking each against `content`; returns them.
std::vector<OwnedLine> readLines(LineReader& reader, std::string_view content, size_t maxLineBytes, size_t limit) {
  std::vector<OwnedLine> lines;
  const bool atStart = reader.position() == 0;
  while (lines.size() < limit) {
    int64_t expectedOffset = reader.position();
    // A UTF-8 byte-order mark at the start of the file is skipped.
    if (atStart && lines.empty() && content.starts_with("\xEF\xBB\xBF")) expectedOffset = 3;
    const int64_t expectedNumber = reader.nextLineNumber();
    auto next = reader.next();
    check(next.isOk());
    if (!next->has_value()) {
      check(static_cast<size_t>(reader.position()) == content.size());
      break;
    }
    const Line& line = **next;
    check(line.offset == expectedOffset);
    check(line.number == expectedNumber);
    check(line.length >= 0);
    check(line.oversized == (static_cast<size_t>(line.length) > maxLineBytes));
    const size_t begin = static_cast<size_t>(line.offset);
    const size_t end = begin + static_cast<size_t>(line.length);
    check(end <= content.size());
    const std::string_view text = content.substr(begin, end - begin);
    check(text.find('\n') == std::string_view::npos);
    if (line.oversized) {
      check(line.text.empty());
    } else {
      check(line.text == text);
    }
    // What ends the line: an optional '\r' (never left in the text), then '\n' or the end of
    // the file.
    check(!(text.ends_with('\r') && (end == content.size() || content[end] == '\n')));
    size_t after = end;
    if (after < content.size() && content[after] == '\r') ++after;
    if (after < content.size()) {
      check(content[after] == '\n');
      ++after;
    }
    check(after > begin);  // every line consumes at least one byte
    check(static_cast<size_t>(reader.position()) == after);
    check(reader.nextLineNumber() == line.number + 1);
    lines.push_back({line.number, line.offset, line.length, line.oversized, std::string(line.text)});
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  LineReaderOptions options;
  options.maxLineBytes = 1 + data[0] % 64;
  options.readChunkBytes = 1 + data[1] % 64;
  const size_t resumeAfter = data[2];
  const std::string_view content(reinterpret_cast<const char*>(data) + 3, size - 3);
  writeFile(content);

  auto reader = LineReader::open(scratchPath(), options);
  check(reader.isOk());
  const std::vector<OwnedLine> all = readLines(*reader, content, options.maxLineBytes, content.size() + 1);
  check(all.size() <= content.size());
  // The reader stays at the end.
  auto more = reader->next();
  check(more.isOk() && !more->has_value());

  // Resume after line `resumeAfter` (or at the end), as a restored source does.
  const size_t skip = std::min(resumeAfter, all.size());
  auto first = LineReader::open(scratchPath(), options);
  check(first.isOk());
  const std::vector<OwnedLine> head = readLines(*first, content, options.maxLineBytes, skip);
  check(head.size() == skip);
  LineReaderOptions resumed = options;
  resumed.startOffset = first->position();
  resumed.startLine = first->nextLineNumber();
  auto second = LineReader::open(scratchPath(), resumed);
  check(second.isOk());
  const std::vector<OwnedLine> tail = readLines(*second, content, options.maxLineBytes, content.size() + 1);
  check(head.size() + tail.size() == all.size());
  for (size_t i = 0; i < head.size(); ++i) check(head[i] == all[i]);
  for (size_t i = 0; i < tail.size(); ++i) check(tail[i] == all[skip + i]);
  return 0;
}
