#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "reka/connector/LineReader.h"

namespace reka::connector {
namespace {

using ::testing::HasSubstr;

// What a reader must return for one line: the model the tests compare against.
struct ExpectedLine {
  std::string text;
  int64_t number;
  int64_t offset;
  bool oversized;
  int64_t length;
  int64_t positionAfter;
};

// Splits `content` the way LineReader documents it, independently of its implementation.
std::vector<ExpectedLine> referenceSplit(const std::string& content, size_t maxLineBytes,
                                         int64_t startOffset = 0, int64_t startLine = 1) {
  std::vector<ExpectedLine> lines;
  size_t pos = static_cast<size_t>(startOffset);
  int64_t number = startLine;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    size_t end = nl == std::string::npos ? content.size() : nl;
    size_t after = nl == std::string::npos ? content.size() : nl + 1;
    std::string text = content.substr(pos, end - pos);
    if (!text.empty() && text.back() == '\r') text.pop_back();
    bool oversized = text.size() > maxLineBytes;
    lines.push_back({oversized ? "" : text, number++, static_cast<int64_t>(pos), oversized,
                     static_cast<int64_t>(text.size()), static_cast<int64_t>(after)});
    pos = after;
  }
  return lines;
}

class LineReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("reka_line_reader_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& content, const std::string& name = "input.jsonl") {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  // Reads everything and checks it against the reference split, position() included.
  void expectLines(const std::string& content, LineReaderOptions options) {
    SCOPED_TRACE("maxLineBytes=" + std::to_string(options.maxLineBytes) +
                 " readChunkBytes=" + std::to_string(options.readChunkBytes) +
                 " startOffset=" + std::to_string(options.startOffset));
    std::string path = write(content);
    Result<LineReader> reader = LineReader::open(path, options);
    ASSERT_TRUE(reader.isOk()) << reader.status().toString();
    std::vector<ExpectedLine> expected =
        referenceSplit(content, options.maxLineBytes, options.startOffset, options.startLine);
    for (const ExpectedLine& e : expected) {
      Result<std::optional<Line>> line = reader->next();
      ASSERT_TRUE(line.isOk()) << line.status().toString();
      ASSERT_TRUE(line->has_value()) << "missing line " << e.number;
      const Line& l = **line;
      EXPECT_EQ(l.text, e.text) << "line " << e.number;
      EXPECT_EQ(l.number, e.number);
      EXPECT_EQ(l.offset, e.offset) << "line " << e.number;
      EXPECT_EQ(l.oversized, e.oversized) << "line " << e.number;
      EXPECT_EQ(l.length, e.length) << "line " << e.number;
      EXPECT_EQ(reader->position(), e.positionAfter) << "line " << e.number;
      EXPECT_EQ(reader->nextLineNumber(), e.number + 1);
    }
    for (int i = 0; i < 2; ++i) {
      Result<std::optional<Line>> end = reader->next();
      ASSERT_TRUE(end.isOk()) << end.status().toString();
      EXPECT_FALSE(end->has_value());
    }
    EXPECT_EQ(reader->position(), static_cast<int64_t>(content.size()));
  }

  std::vector<std::string> readAll(const std::string& content, LineReaderOptions options = {}) {
    Result<LineReader> reader = LineReader::open(write(content), options);
    EXPECT_TRUE(reader.isOk()) << reader.status().toString();
    std::vector<std::string> texts;
    if (!reader.isOk()) return texts;
    while (true) {
      Result<std::optional<Line>> line = reader->next();
      EXPECT_TRUE(line.isOk()) << line.status().toString();
      if (!line.isOk() || !line->has_value()) break;
      texts.emplace_back((*line)->text);
    }
    return texts;
  }

  std::filesystem::path dir_;
};

TEST_F(LineReaderTest, EmptyFileHasNoLines) {
  Result<LineReader> reader = LineReader::open(write(""));
  ASSERT_TRUE(reader.isOk());
  Result<std::optional<Line>> line = reader->next();
  ASSERT_TRUE(line.isOk());
  EXPECT_FALSE(line->has_value());
  EXPECT_EQ(reader->position(), 0);
}

TEST_F(LineReaderTest, ReturnsTheLastLineWithoutANewline) {
  Result<LineReader> reader = LineReader::open(write("only line"));
  ASSERT_TRUE(reader.isOk());
  Result<std::optional<Line>> line = reader->next();
  ASSERT_TRUE(line.isOk());
  ASSERT_TRUE(line->has_value());
  EXPECT_EQ((*line)->text, "only line");
  EXPECT_EQ((*line)->number, 1);
  EXPECT_EQ((*line)->offset, 0);
  EXPECT_EQ((*line)->length, 9);
  EXPECT_FALSE((*line)->oversized);
  EXPECT_EQ(reader->position(), 9);
  Result<std::optional<Line>> end = reader->next();
  ASSERT_TRUE(end.isOk());
  EXPECT_FALSE(end->has_value());
}

TEST_F(LineReaderTest, StripsNewlinesAndCarriageReturns) {
  using V = std::vector<std::string>;
  EXPECT_EQ(readAll("a\nb\n"), (V{"a", "b"}));
  EXPECT_EQ(readAll("a\r\nb\r\n"), (V{"a", "b"}));
  EXPECT_EQ(readAll("a\r\nb\r"), (V{"a", "b"}));
  EXPECT_EQ(readAll("a\rb\n\r\n"), (V{"a\rb", ""}));
  EXPECT_EQ(readAll("a\r\r\n"), (V{"a\r"}));
}

TEST_F(LineReaderTest, ReturnsEmptyLines) {
  using V = std::vector<std::string>;
  EXPECT_EQ(readAll("\n\na\n\n"), (V{"", "", "a", ""}));
  EXPECT_EQ(readAll("\n"), (V{""}));
  expectLines("\n\r\n\nx\n\n", {.maxLineBytes = 4, .readChunkBytes = 1});
}

TEST_F(LineReaderTest, MatchesTheReferenceAcrossChunkBoundaries) {
  std::mt19937_64 rng(1);
  std::string content;
  for (int i = 0; i < 2000; ++i) {
    size_t length = rng() % 40;
    for (size_t j = 0; j < length; ++j) content.push_back(static_cast<char>('a' + rng() % 26));
    if (rng() % 10 == 0) content.push_back('\r');
    content.push_back('\n');
  }
  content += "tail without newline";
  expectLines(content, {.maxLineBytes = 64, .readChunkBytes = 7});
  expectLines(content, {.maxLineBytes = 41, .readChunkBytes = 1});
  expectLines(content, {.maxLineBytes = 1 << 20, .readChunkBytes = 4096});
}

TEST_F(LineReaderTest, SkipsOversizedLinesAtEveryBoundary) {
  // Lines around the limit, with and without '\r', at the start, middle and end.
  std::mt19937_64 rng(2);
  for (int round = 0; round < 40; ++round) {
    std::string content;
    int lines = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < lines; ++i) {
      size_t length = rng() % 3 == 0 ? rng() % 60 : rng() % 14;
      for (size_t j = 0; j < length; ++j) content.push_back(static_cast<char>('0' + rng() % 10));
      if (rng() % 4 == 0) content.push_back('\r');
      if (i + 1 < lines || rng() % 2) content.push_back('\n');
    }
    for (size_t maxLine : {1, 2, 9, 10, 11, 13}) {
      for (size_t chunk : {1, 2, 3, 7, 10, 16, 64}) {
        expectLines(content, {.maxLineBytes = maxLine, .readChunkBytes = chunk});
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_F(LineReaderTest, ReportsOversizedLineLengthAndNumber) {
  std::string content = "first\n" + std::string(3000000, 'x') + "\nlast\n";
  Result<LineReader> reader = LineReader::open(write(content));
  ASSERT_TRUE(reader.isOk());
  Result<std::optional<Line>> line = reader->next();
  ASSERT_TRUE(line.isOk() && line->has_value());
  EXPECT_EQ((*line)->text, "first");
  line = reader->next();
  ASSERT_TRUE(line.isOk() && line->has_value());
  EXPECT_TRUE((*line)->oversized);
  EXPECT_EQ((*line)->text, "");
  EXPECT_EQ((*line)->number, 2);
  EXPECT_EQ((*line)->offset, 6);
  EXPECT_EQ((*line)->length, 3000000);
  EXPECT_EQ(reader->position(), 3000007);
  line = reader->next();
  ASSERT_TRUE(line.isOk() && line->has_value());
  EXPECT_EQ((*line)->text, "last");
  EXPECT_EQ((*line)->number, 3);
}

TEST_F(LineReaderTest, ResumesFromAPosition) {
  std::string content;
  for (int i = 0; i < 500; ++i) content += "line " + std::to_string(i) + (i % 7 ? "\n" : "\r\n");
  std::string path = write(content);
  for (int stopAfter : {0, 1, 13, 250, 499, 500}) {
    Result<LineReader> first = LineReader::open(path, {.readChunkBytes = 5});
    ASSERT_TRUE(first.isOk());
    for (int i = 0; i < stopAfter; ++i) {
      Result<std::optional<Line>> line = first->next();
      ASSERT_TRUE(line.isOk() && line->has_value());
    }
    LineReaderOptions resume{.maxLineBytes = 100,
                             .readChunkBytes = 3,
                             .startOffset = first->position(),
                             .startLine = first->nextLineNumber()};
    EXPECT_EQ(resume.startLine, stopAfter + 1);
    expectLines(content, resume);
  }
}

TEST_F(LineReaderTest, RefusesToResumePastTheEnd) {
  Result<LineReader> reader = LineReader::open(write("abc\n"), {.startOffset = 5});
  ASSERT_FALSE(reader.isOk());
  EXPECT_THAT(reader.status().message(), HasSubstr("the file has only 4 bytes"));
  // Resuming exactly at the end is fine: nothing left to read.
  Result<LineReader> atEnd = LineReader::open(write("abc\n"), {.startOffset = 4});
  ASSERT_TRUE(atEnd.isOk());
  Result<std::optional<Line>> line = atEnd->next();
  ASSERT_TRUE(line.isOk());
  EXPECT_FALSE(line->has_value());
}

TEST_F(LineReaderTest, NamesTheMissingFile) {
  std::string path = (dir_ / "does-not-exist.jsonl").string();
  Result<LineReader> reader = LineReader::open(path);
  ASSERT_FALSE(reader.isOk());
  EXPECT_EQ(reader.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reader.status().message(), "cannot open " + path + ": No such file or directory");
}

TEST_F(LineReaderTest, RefusesADirectory) {
  Result<LineReader> reader = LineReader::open(dir_.string());
  ASSERT_FALSE(reader.isOk());
  EXPECT_EQ(reader.status().message(), "cannot read " + dir_.string() + ": Is a directory");
}

TEST_F(LineReaderTest, RefusesBadOptions) {
  std::string path = write("x\n");
  EXPECT_FALSE(LineReader::open(path, {.maxLineBytes = 0}).isOk());
  EXPECT_FALSE(LineReader::open(path, {.readChunkBytes = 0}).isOk());
  EXPECT_FALSE(LineReader::open(path, {.startOffset = -1}).isOk());
  EXPECT_FALSE(LineReader::open(path, {.startLine = 0}).isOk());
}

TEST_F(LineReaderTest, MovedReaderKeepsReading) {
  Result<LineReader> opened = LineReader::open(write("a\nb\nc\n"), {.readChunkBytes = 2});
  ASSERT_TRUE(opened.isOk());
  LineReader reader = std::move(opened).value();
  Result<std::optional<Line>> line = reader.next();
  ASSERT_TRUE(line.isOk() && line->has_value());
  EXPECT_EQ((*line)->text, "a");
  LineReader other = std::move(reader);
  line = other.next();
  ASSERT_TRUE(line.isOk() && line->has_value());
  EXPECT_EQ((*line)->text, "b");
  EXPECT_FALSE(reader.next().isOk());  // NOLINT(bugprone-use-after-move): documented failure
}

// A UTF-8 byte-order mark made line 1 of a file a bad record; it is skipped now.
TEST_F(LineReaderTest, SkipsAByteOrderMarkAtTheStartOnly) {
  const std::string bom = "\xEF\xBB\xBF";
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{4}, size_t{1} << 20}) {
    LineReaderOptions o;
    o.readChunkBytes = chunk;
    Result<LineReader> reader = LineReader::open(write(bom + "{\"a\":1}\n" + bom + "x\n"), o);
    ASSERT_TRUE(reader.isOk());
    auto first = reader->next();
    ASSERT_TRUE(first.isOk() && first->has_value());
    EXPECT_EQ((*first)->text, "{\"a\":1}") << "chunk " << chunk;
    EXPECT_EQ((*first)->offset, 3);
    auto second = reader->next();
    ASSERT_TRUE(second.isOk() && second->has_value());
    EXPECT_EQ((*second)->text, bom + "x");  // only at offset 0
    EXPECT_EQ(reader->position(), static_cast<int64_t>(2 * bom.size() + 10));
  }
  // Resuming at a later offset skips nothing.
  LineReaderOptions o;
  o.startOffset = 3;
  Result<LineReader> resumed = LineReader::open(write(bom + "ab\n"), o);
  ASSERT_TRUE(resumed.isOk());
  auto line = resumed->next();
  ASSERT_TRUE(line.isOk() && line->has_value());
  EXPECT_EQ((*line)->text, "ab");
}

class FifoTest : public LineReaderTest {
 protected:
  std::string makeFifo() {
    std::string path = (dir_ / "fifo").string();
    EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
    return path;
  }
};

// A FIFO whose writer never comes (or never writes) hung the job for good: SIGINT and SIGTERM
// could not stop it. Opening does not wait now, and a wait for data ends at an interrupt.
TEST_F(FifoTest, AWaitWithoutAWriterEndsAtAnInterrupt) {
  const std::string path = makeFifo();
  std::atomic<bool> stop{false};
  LineReaderOptions o;
  o.interrupt = &stop;
  Result<LineReader> reader = LineReader::open(path, o);  // no writer: must not block
  ASSERT_TRUE(reader.isOk()) << reader.status().toString();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop.store(true);
  });
  const auto started = std::chrono::steady_clock::now();
  auto line = reader->next();
  stopper.join();
  EXPECT_EQ(line.status().code(), StatusCode::kCancelled) << line.status().toString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST_F(FifoTest, GivesUpAfterMaxWaitThenReadsWhatTheWriterSendsToItsEnd) {
  const std::string path = makeFifo();
  LineReaderOptions o;
  o.maxWaitMs = 60;
  Result<LineReader> reader = LineReader::open(path, o);
  ASSERT_TRUE(reader.isOk());
  const int writer = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  // The writer is there but silent: nullopt with waiting() true, not the end.
  auto none = reader->next();
  ASSERT_TRUE(none.isOk());
  EXPECT_FALSE(none->has_value());
  EXPECT_TRUE(reader->waiting());
  ASSERT_EQ(::write(writer, "one\ntw", 6), 6);
  auto one = reader->next();
  ASSERT_TRUE(one.isOk() && one->has_value());
  EXPECT_EQ((*one)->text, "one");
  ASSERT_EQ(::write(writer, "o\n", 2), 2);
  ::close(writer);  // the end of the FIFO
  std::vector<std::string> rest;
  for (int i = 0; i < 100; ++i) {
    auto next = reader->next();
    ASSERT_TRUE(next.isOk());
    if (next->has_value()) {
      rest.emplace_back((*next)->text);
    } else if (!reader->waiting()) {
      break;
    }
  }
  EXPECT_EQ(rest, std::vector<std::string>{"two"});
  EXPECT_FALSE(reader->waiting());
}

TEST_F(FifoTest, CannotResumeAPipeAtAnOffset) {
  const std::string path = makeFifo();
  LineReaderOptions o;
  o.startOffset = 10;
  Result<LineReader> reader = LineReader::open(path, o);
  ASSERT_FALSE(reader.isOk());
  EXPECT_THAT(reader.status().message(), HasSubstr("not a regular file"));
}

}  // namespace
}  // namespace reka::connector
