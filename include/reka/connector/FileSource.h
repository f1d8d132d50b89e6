#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "reka/base/Log.h"
#include "reka/connector/LineReader.h"
#include "reka/connector/Source.h"
#include "reka/data/StringArena.h"

/// Files as a split source: each file (a path, or every file a glob pattern matches) is a
/// split read line by line; read once, or followed like `tail -F` (appended lines, new files
/// matching the pattern, rotation by rename-and-create and by copytruncate). See
/// docs/connectors/files.md.
namespace reka::connector::file {

struct FileSourceOptions {
  /// A file, FIFO, or glob pattern (`*`, `?`, `[…]`, as glob(3)); a pattern's files are read
  /// in name order.
  std::string path;
  /// Keep reading: appended lines, files that come to match the pattern, files that replace a
  /// rotated one; until the job stops. False: every file is read to its end once.
  bool follow = false;
  /// Following: how often the pattern is matched again and files checked for rotation.
  int64_t discoveryIntervalMs = 1000;
  /// Following: how long a file that was rotated away (renamed or deleted) is still read for
  /// lines its writer appends late, before it is closed.
  int64_t rotateWaitMs = 5000;
  /// Longer lines are bad records (not buffered).
  size_t maxLineBytes = size_t{1} << 20;
};

/// Where bad lines go, with their position and reason; its length is part of each split's
/// position, so that a restore can cut it back (at parallelism 1). Called on the connector
/// thread.
class LineDeadLetters {
 public:
  virtual ~LineDeadLetters() = default;
  virtual Status write(const std::string& path, const Line& line, const std::string& reason) = 0;
  /// Its length now (0 without a file).
  virtual Result<int64_t> length() = 0;
  /// The file is to hold its first `length` bytes (see AppendFile::resetTo).
  virtual void resetTo(int64_t length) = 0;
};

/// Counters a file source keeps for its job (records read, bad ones). Restored from the
/// splits' positions.
struct FileSourceCounters {
  std::atomic<int64_t>* lines = nullptr;
  std::atomic<int64_t>* bad = nullptr;
  std::shared_ptr<void> owner;  ///< keeps the counters alive
};

/// A file split's position: the next line's byte offset and number, the split's line and
/// bad-line counts, the dead-letter file's length after its last batch, and the path it was
/// last seen at.
struct FilePosition {
  int64_t offset = 0;
  int64_t nextLine = 1;
  int64_t lines = 0;
  int64_t bad = 0;
  int64_t deadLetterBytes = 0;
  std::string path;
  std::string encode() const;
  static bool decode(std::string_view in, FilePosition& out);
};

/// The files of a pattern, as splits "<device>:<inode>" (so that a renamed file stays the same
/// split), each with the position of its start (offset 0 and its path). The first discovery
/// fails if nothing matches.
std::unique_ptr<SplitEnumerator> makeFileEnumerator(const FileSourceOptions& options);

/// Reads the file splits of one subtask. `Decode`: `Status decode(std::string_view line,
/// std::vector<T>& out, StringArena& arena)` appends the line's records or refuses it (a bad
/// record: dead letters, or the job fails under kFail).
template <class T, class Decode>
class FileSplitReader final : public SplitReader<T> {
 public:
  FileSplitReader(FileSourceOptions options, Decode decode, BadRecordPolicy policy, std::shared_ptr<LineDeadLetters> deadLetters,
                  FileSourceCounters counters)
      : options_(std::move(options)), decode_(std::move(decode)), policy_(policy), deadLetters_(std::move(deadLetters)),
        counters_(std::move(counters)) {
    // A fresh run starts the dead letters and counters over; restored splits move them back.
    if (deadLetters_) deadLetters_->resetTo(0);
    if (counters_.lines) counters_.lines->store(0, std::memory_order_relaxed);
    if (counters_.bad) counters_.bad->store(0, std::memory_order_relaxed);
  }

  Status addSplits(const std::vector<SplitState>& splits) override {
    int64_t deadLetterBytes = -1;
    for (const auto& s : splits) {
      Split split;
      split.id = s.id;
      split.ended = s.finished;
      if (!FilePosition::decode(s.position, split.pos)) return Status::corruption("malformed position of file split " + s.id);
      if (firstAdd_) {
        deadLetterBytes = std::max(deadLetterBytes, split.pos.deadLetterBytes);
        if (counters_.lines) counters_.lines->fetch_add(split.pos.lines, std::memory_order_relaxed);
        if (counters_.bad) counters_.bad->fetch_add(split.pos.bad, std::memory_order_relaxed);
      }
      splits_.push_back(std::move(split));
    }
    // The first call holds the restored splits (none on a fresh start): the dead letters go back
    // to their length after the last batch the checkpoint includes. Splits found later start
    // with nothing to restore.
    if (firstAdd_ && deadLetterBytes >= 0 && deadLetters_) deadLetters_->resetTo(deadLetterBytes);
    firstAdd_ = false;
    return Status::ok();
  }

  Status fetch(std::vector<SplitBatch<T>>& out, size_t maxRecords, int timeoutMs) override {
    for (size_t tried = 0; tried < splits_.size(); ++tried) {
      const size_t i = cursor_++ % splits_.size();
      Split& s = splits_[i];
      if (s.ended) continue;
      SplitBatch<T> b;
      b.split = i;
      REKA_RETURN_IF_ERROR(read(s, b, maxRecords));
      if (b.records.size() != 0 || b.finished || s.moved) {
        s.moved = false;
        b.position = s.pos.encode();
        out.push_back(std::move(b));
        return Status::ok();
      }
    }
    // Nothing to read now: wait a little (a wakeUp ends the wait).
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, std::chrono::milliseconds(std::min(timeoutMs, kIdleWaitMs)), [&] { return woken_; });
    woken_ = false;
    return Status::ok();
  }

  void wakeUp() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      woken_ = true;
    }
    cv_.notify_all();
  }

  void close() override {
    for (auto& s : splits_) s.reader.reset();
  }

 private:
  static constexpr int kIdleWaitMs = 50;

  struct Split {
    std::string id;
    FilePosition pos;
    std::optional<LineReader> reader;
    bool ended = false;
    bool moved = false;  ///< the position changed without records (a truncation, a rotation)
    int64_t rotatedAtMs = -1;
  };

  static int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }

  Status open(Split& s) {
    LineReaderOptions o;
    o.maxLineBytes = options_.maxLineBytes;
    o.startOffset = s.pos.offset;
    o.startLine = s.pos.nextLine;
    o.follow = options_.follow;
    o.maxWaitMs = LineReader::kPollIntervalMs;  // a FIFO: one wait slice per call
    auto r = LineReader::open(s.pos.path, o);
    if (!r.isOk()) return r.status();
    // The split is a file (device and inode): a path that now names another file is not it.
    struct stat st;
    if (::fstat(r->fd(), &st) == 0 && S_ISREG(st.st_mode) &&
        std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) != s.id)
      return Status::notFound(s.pos.path + " is no longer the file that was being read (it was rotated away)");
    s.reader.emplace(std::move(*r));
    return Status::ok();
  }

  Status read(Split& s, SplitBatch<T>& b, size_t maxRecords) {
    if (!s.reader) {
      Status opened = open(s);
      if (!opened.isOk()) {
        if (options_.follow && opened.code() == StatusCode::kNotFound) {
          // Rotated away (and gone) before it was reopened: what it held after the position
          // cannot be read any more.
          reka::log(LogLevel::kWarn, s.pos.path + ": " + opened.message() + "; its unread lines are lost", {{"file", s.pos.path}});
          s.ended = true;
          b.finished = true;
          return Status::ok();
        }
        return opened;
      }
    }
    auto arena = std::make_shared<StringArena>(64 * 1024);
    const int64_t linesBefore = s.pos.lines, badBefore = s.pos.bad;
    const int64_t offsetBefore = s.reader ? s.reader->position() : s.pos.offset;
    size_t before = 0;
    while (b.records.size() < maxRecords) {
      auto next = s.reader->next();
      if (!next.isOk()) {
        if (next.status().code() == StatusCode::kCancelled) break;
        return next.status();
      }
      if (!next->has_value()) {
        if (s.reader->waiting()) {
          if (options_.follow) REKA_RETURN_IF_ERROR(checkFollowed(s, b));
          break;
        }
        s.ended = true;  // read once: the end of the file
        b.finished = true;
        break;
      }
      const Line& line = **next;
      s.rotatedAtMs = -1;
      ++s.pos.lines;
      before = b.records.size();
      Status decoded = line.oversized
                           ? Status::invalidArgument(std::to_string(line.length) + " bytes exceeds the " +
                                                     std::to_string(options_.maxLineBytes) + "-byte line limit")
                           : decode_(line.text, BatchTraits<T>::records(b.records), *arena);
      if (!decoded.isOk()) {
        BatchTraits<T>::records(b.records).resize(before);
        if (policy_ == BadRecordPolicy::kFail)
          return Status::invalidArgument(s.pos.path + " line " + std::to_string(line.number) + ": " + decoded.message());
        ++s.pos.bad;
        if (deadLetters_) REKA_RETURN_IF_ERROR(deadLetters_->write(s.pos.path, line, decoded.message()));
      }
    }
    // The job's counters move once per batch (the split's own counts are in its position).
    if (counters_.lines) counters_.lines->fetch_add(s.pos.lines - linesBefore, std::memory_order_relaxed);
    if (counters_.bad) counters_.bad->fetch_add(s.pos.bad - badBefore, std::memory_order_relaxed);
    if (s.reader) {
      s.pos.offset = s.reader->position();
      s.pos.nextLine = s.reader->nextLineNumber();
      b.bytes = std::max<int64_t>(0, s.pos.offset - offsetBefore);  // (a rotation starts a new file at 0)
    }
    b.badRecords = s.pos.bad - badBefore;
    if (deadLetters_) {
      REKA_ASSIGN_OR_RETURN(s.pos.deadLetterBytes, deadLetters_->length());
    }
    if (arena->chunkCount() > 0) b.records.keepAlive.push_back(std::move(arena));
    if (b.finished) s.reader.reset();
    return Status::ok();
  }

  /// At the end of a followed file: truncated (copytruncate) → read again from the start;
  /// replaced at its path (rename-and-create) or deleted → keep reading for rotateWaitMs, then
  /// end it (the new file is another split, found by discovery).
  Status checkFollowed(Split& s, SplitBatch<T>& b) {
    struct stat held {};
    if (::fstat(s.reader->fd(), &held) != 0) return Status::ok();
    if (static_cast<int64_t>(held.st_size) < s.reader->position()) {
      reka::log(LogLevel::kWarn,
          s.pos.path + " was truncated (" + std::to_string(held.st_size) + " bytes, read up to " + std::to_string(s.reader->position()) +
              "); reading it again from the start",
          {{"file", s.pos.path}});
      s.reader.reset();
      s.pos.offset = 0;
      s.pos.nextLine = 1;
      s.moved = true;
      return Status::ok();
    }
    struct stat now {};
    const bool replaced = ::stat(s.pos.path.c_str(), &now) != 0 || now.st_ino != held.st_ino || now.st_dev != held.st_dev;
    if (!replaced) {
      s.rotatedAtMs = -1;
      return Status::ok();
    }
    if (s.rotatedAtMs < 0) s.rotatedAtMs = nowMs();
    if (nowMs() - s.rotatedAtMs < options_.rotateWaitMs) return Status::ok();
    // Its writer has moved on: an unterminated last line stays unread (it never ended).
    if (s.reader->pendingBytes() > 0)
      reka::log(LogLevel::kWarn,
          s.pos.path + " was rotated with an unterminated last line (" + std::to_string(s.reader->pendingBytes()) +
              " bytes), which is not read",
          {{"file", s.pos.path}});
    s.ended = true;
    b.finished = true;
    return Status::ok();
  }

  FileSourceOptions options_;
  Decode decode_;
  BadRecordPolicy policy_;
  std::shared_ptr<LineDeadLetters> deadLetters_;
  FileSourceCounters counters_;
  std::vector<Split> splits_;
  size_t cursor_ = 0;
  bool firstAdd_ = true;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;
};

/// A file source of records T made by `decode` (see FileSplitReader).
template <class T, class Decode>
SourceSpec<T> fileSource(FileSourceOptions options, Decode decode, BadRecordPolicy policy,
                         std::shared_ptr<LineDeadLetters> deadLetters, FileSourceCounters counters) {
  SourceSpec<T> spec;
  spec.bounded = !options.follow;
  spec.discoveryIntervalMs = options.follow ? options.discoveryIntervalMs : 0;
  spec.makeEnumerator = [options] { return makeFileEnumerator(options); };
  spec.makeReader = [options, decode, policy, deadLetters, counters](const SourceReaderContext&) -> std::unique_ptr<SplitReader<T>> {
    return std::make_unique<FileSplitReader<T, Decode>>(options, decode, policy, deadLetters, counters);
  };
  return spec;
}

}  // namespace reka::connector::file
