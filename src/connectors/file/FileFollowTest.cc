// Files that follow (connector::file): appended lines, a half-written last line, new files of a
// pattern, rotation by rename-and-create and by copytruncate, resuming at a position. The
// reader and enumerator are driven directly, without a job.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "reka/connector/FileSource.h"

namespace reka::connector::file {
namespace {

namespace fs = std::filesystem;

struct Text {
  std::string line;
};

struct DecodeText {
  Status operator()(std::string_view line, std::vector<Text>& out, StringArena&) const {
    if (line == "bad") return Status::invalidArgument("a bad line");
    out.push_back({std::string(line)});
    return Status::ok();
  }
};

class FileFollowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("reka-follow-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static void append(const std::string& p, const std::string& text) {
    std::ofstream f(p, std::ios::binary | std::ios::app);
    f << text;
  }

  FileSourceOptions options(const std::string& pattern) {
    FileSourceOptions o;
    o.path = pattern;
    o.follow = true;
    o.rotateWaitMs = 0;
    return o;
  }
  std::unique_ptr<FileSplitReader<Text, DecodeText>> reader(const FileSourceOptions& o) {
    // Each reader its own counters (the latest reader's are lines_ and bad_).
    lines_ = std::make_shared<std::atomic<int64_t>>(0);
    bad_ = std::make_shared<std::atomic<int64_t>>(0);
    auto owner = std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<void>>>(lines_, bad_);
    return std::make_unique<FileSplitReader<Text, DecodeText>>(o, DecodeText{}, BadRecordPolicy::kDeadLetter, nullptr,
                                                               FileSourceCounters{lines_.get(), bad_.get(), owner});
  }

  /// Fetches until a fetch returns nothing; returns the lines read, and keeps each split's last
  /// position and whether it ended.
  std::vector<std::string> drain(SplitReader<Text>& r) {
    std::vector<std::string> got;
    for (int quiet = 0; quiet < 3;) {
      std::vector<SplitBatch<Text>> out;
      EXPECT_TRUE(r.fetch(out, 100, 1).isOk());
      if (out.empty()) {
        ++quiet;
        continue;
      }
      quiet = 0;
      for (auto& b : out) {
        for (const auto& t : b.records.records) got.push_back(t.line);
        positions_[b.split] = b.position;
        if (b.finished) ended_.insert(b.split);
      }
    }
    return got;
  }

  fs::path dir_;
  std::shared_ptr<std::atomic<int64_t>> lines_, bad_;
  std::map<size_t, std::string> positions_;
  std::set<size_t> ended_;
};

TEST_F(FileFollowTest, AppendedLinesAreReadAndAHalfWrittenLineWaitsForItsNewline) {
  const std::string p = path("app.log");
  append(p, "one\ntwo\nthr");
  auto e = makeFileEnumerator(options(p));
  auto splits = e->discover();
  ASSERT_TRUE(splits.isOk());
  ASSERT_EQ(splits->size(), 1u);
  auto r = reader(options(p));
  ASSERT_TRUE(r->addSplits(*splits).isOk());
  EXPECT_EQ(drain(*r), (std::vector<std::string>{"one", "two"}));
  FilePosition pos;
  ASSERT_TRUE(FilePosition::decode(positions_[0], pos));
  EXPECT_EQ(pos.offset, 8);  // after "two\n": the half line is not part of the position
  EXPECT_EQ(pos.nextLine, 3);

  // A crash between the write and its newline: a reader restored at the position reads the
  // line whole once the writer finishes it.
  append(p, "ee\nfour\n");
  auto restored = reader(options(p));
  SplitState s = (*splits)[0];
  s.position = positions_[0];
  ASSERT_TRUE(restored->addSplits({s}).isOk());
  EXPECT_EQ(drain(*restored), (std::vector<std::string>{"three", "four"}));
  // And the reader that followed all along reads the same.
  EXPECT_EQ(drain(*r), (std::vector<std::string>{"three", "four"}));
  EXPECT_TRUE(ended_.empty());
}

TEST_F(FileFollowTest, NewFilesOfThePatternAreFound) {
  append(path("a.jsonl"), "a1\n");
  auto e = makeFileEnumerator(options(path("*.jsonl")));
  auto first = e->discover();
  ASSERT_TRUE(first.isOk());
  ASSERT_EQ(first->size(), 1u);
  append(path("b.jsonl"), "b1\n");
  append(path("c.txt"), "not matched\n");
  auto second = e->discover();
  ASSERT_TRUE(second.isOk());
  ASSERT_EQ(second->size(), 2u);
  auto r = reader(options(path("*.jsonl")));
  ASSERT_TRUE(r->addSplits(*second).isOk());
  auto got = drain(*r);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"a1", "b1"}));
}

TEST_F(FileFollowTest, NothingMatchingFailsTheFirstDiscovery) {
  auto e = makeFileEnumerator(options(path("*.jsonl")));
  auto s = e->discover();
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.status().message().find("no file matches"), std::string::npos);
}

TEST_F(FileFollowTest, RenameAndCreateRotationReadsTheOldFileToItsEndThenTheNewOne) {
  const std::string p = path("app.log");
  append(p, "old1\n");
  auto e = makeFileEnumerator(options(p));
  auto splits = e->discover();
  ASSERT_TRUE(splits.isOk());
  auto r = reader(options(p));
  ASSERT_TRUE(r->addSplits(*splits).isOk());
  EXPECT_EQ(drain(*r), (std::vector<std::string>{"old1"}));
  // logrotate: rename, create; the writer still appends to the old file for a moment.
  fs::rename(p, path("app.log.1"));
  append(path("app.log.1"), "old2\n");
  append(p, "new1\n");
  EXPECT_EQ(drain(*r), (std::vector<std::string>{"old2"}));
  EXPECT_EQ(ended_.count(0), 1u);  // the rotated file ended (rotateWaitMs 0)
  auto next = e->discover();
  ASSERT_TRUE(next.isOk());
  ASSERT_EQ(next->size(), 1u);
  EXPECT_NE((*next)[0].id, (*splits)[0].id);  // another file at the same path
  ASSERT_TRUE(r->addSplits(*next).isOk());
  EXPECT_EQ(drain(*r), (std::vector<std::string>{"new1"}));
}

TEST_F(FileFollowTest, CopyTruncateRotationReadsTheFileAgainFromItsStart) {
  const std::string p = path("app.log");
  append(p, "first line\nsecond line\n");
  auto e = makeFileEnumerator(options(p));
  auto splits = e->discover();
  ASSERT_TRUE(splits.isOk());
  auto r = reader(options(p));
  ASSERT_TRUE(r->addSplits(*splits).isOk());
  EXPECT_EQ(drain(*r), (std::vector<std::string>{"first line", "second line"}));
  // copytruncate: the content is copied away and the file cut to 0; the writer goes on.
  fs::resize_file(p, 0);
  append(p, "third\n");
  std::vector<std::string> warnings;
  reka::setLogSink([&](const reka::LogRecord& rec) {
    if (rec.level == reka::LogLevel::kWarn) warnings.emplace_back(rec.message);
  });
  EXPECT_EQ(drain(*r), (std::vector<std::string>{"third"}));
  reka::setLogSink(nullptr);
  // Said through the job's logger (JSON under --log-format json), not printed to stderr.
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], p + " was truncated (6 bytes, read up to 23); reading it again from the start");
  FilePosition pos;
  ASSERT_TRUE(FilePosition::decode(positions_[0], pos));
  EXPECT_EQ(pos.offset, 6);
  EXPECT_EQ(*lines_, 3);
}

TEST_F(FileFollowTest, BadLinesAreCountedAndReadOnceMode) {
  const std::string p = path("once.log");
  append(p, "a\nbad\nb");  // read once: the last line needs no newline
  FileSourceOptions o = options(p);
  o.follow = false;
  auto e = makeFileEnumerator(o);
  auto splits = e->discover();
  ASSERT_TRUE(splits.isOk());
  auto r = reader(o);
  ASSERT_TRUE(r->addSplits(*splits).isOk());
  EXPECT_EQ(drain(*r), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ended_.count(0), 1u);
  EXPECT_EQ(*bad_, 1);
  EXPECT_EQ(*lines_, 3);
}

}  // namespace
}  // namespace reka::connector::file
