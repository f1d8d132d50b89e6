#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "reka/connector/TransactionalFileSink.h"

namespace reka::connector {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::UnorderedElementsAreArray;

struct TestRow {
  std::string partition;
  int64_t id = 0;
};

// Lines without '\n': the sink adds it.
struct FormatRow {
  void operator()(const TestRow& row, std::string& out) const {
    out += "{\"id\":" + std::to_string(row.id) + "}";
  }
};
struct PartitionRow {
  void operator()(const TestRow& row, std::string& out) const { out += row.partition; }
};

using Sink = TransactionalFileSink<TestRow, FormatRow, PartitionRow>;

std::string line(int64_t id) {
  return "{\"id\":" + std::to_string(id) + "}";
}

std::vector<std::string> linesOf(int64_t from, int64_t to) {
  std::vector<std::string> lines;
  for (int64_t i = from; i < to; ++i) lines.push_back(line(i));
  return lines;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class TransactionalFileSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("reka_tx_sink_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    dir_ = (root_ / "out").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  TransactionalFileSinkOptions options() const {
    TransactionalFileSinkOptions o;
    o.directory = dir_;
    return o;
  }
  static OperatorContext context(int subtask = 0, bool checkpointing = true,
                                 DeliveryGuarantee guarantee = DeliveryGuarantee::kExactlyOnce) {
    OperatorContext ctx;
    ctx.name = "tx-sink";
    ctx.subtask = subtask;
    ctx.parallelism = 2;
    ctx.guarantee = guarantee;
    ctx.checkpointing = checkpointing;
    return ctx;
  }
  /// An opened sink (a copy of the prototype, as the runtime makes one per subtask).
  std::unique_ptr<Sink> open(const OperatorContext& ctx,
                             std::optional<TransactionalFileSinkOptions> o = std::nullopt) {
    const Sink prototype(o ? *o : options(), FormatRow{}, PartitionRow{});
    auto sink = std::make_unique<Sink>(prototype);
    Status s = sink->open(ctx);
    EXPECT_TRUE(s.isOk()) << s.toString();
    return sink;
  }
  static void write(Sink& sink, int64_t from, int64_t to, const std::string& partition = "") {
    for (int64_t i = from; i < to; ++i) sink.invoke(TestRow{partition, i});
  }

  /// Every regular file under the directory: relative path → content.
  std::map<std::string, std::string> files() const {
    std::map<std::string, std::string> out;
    if (!fs::exists(dir_)) return out;
    for (const auto& e : fs::recursive_directory_iterator(dir_))
      if (e.is_regular_file()) out[fs::relative(e.path(), dir_).string()] = readFile(e.path());
    return out;
  }
  static bool hidden(const std::string& relative) {
    return fs::path(relative).filename().string().front() == '.';
  }
  /// The lines of the visible (committed or directly written) files.
  std::vector<std::string> visibleLines() const {
    std::vector<std::string> lines;
    for (const auto& [path, content] : files()) {
      if (hidden(path)) continue;
      std::istringstream in(content);
      for (std::string l; std::getline(in, l);) lines.push_back(l);
    }
    return lines;
  }
  std::vector<std::string> visibleFiles() const {
    std::vector<std::string> names;
    for (const auto& [path, content] : files())
      if (!hidden(path)) names.push_back(path);
    return names;
  }
  std::vector<std::string> hiddenFiles() const {
    std::vector<std::string> names;
    for (const auto& [path, content] : files())
      if (hidden(path)) names.push_back(path);
    return names;
  }

  fs::path root_;
  std::string dir_;
};

std::string snapshot(Sink& sink, int64_t id) {
  std::string blob;
  Status s = sink.snapshot(id, blob);
  EXPECT_TRUE(s.isOk()) << s.toString();
  return blob;
}

TEST_F(TransactionalFileSinkTest, ExactlyOnceCommitsCheckpointedRowsAndRestoreDiscardsLaterOnes) {
  auto sink = open(context());
  write(*sink, 0, 10);
  const std::string blob1 = snapshot(*sink, 1);
  write(*sink, 10, 15);
  EXPECT_THAT(visibleFiles(), IsEmpty()) << "nothing is visible before the commit";
  EXPECT_EQ(hiddenFiles().size(), 2u);

  sink->commit(1);
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(linesOf(0, 10)));
  EXPECT_THAT(visibleFiles(), ElementsAre("part-0-0.jsonl"));

  write(*sink, 15, 20);
  const std::string blob2 = snapshot(*sink, 2);  // rows 10..19
  write(*sink, 20, 25);                          // after checkpoint 2: to be discarded
  EXPECT_EQ(sink->writer()->stagedFileCount(), 1u);
  sink.reset();  // a crash: checkpoint 2 completed, but its commit never reached the sink
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(linesOf(0, 10)));

  sink = open(context());
  ASSERT_TRUE(sink->restore(blob2).isOk());
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(linesOf(0, 20)));
  EXPECT_THAT(hiddenFiles(), IsEmpty()) << "the file written after checkpoint 2 is deleted";
  EXPECT_EQ(sink->writer()->nextSequence(), 2);

  // The replay after checkpoint 2, staged for checkpoint 3, then a crash and a restore of the
  // older checkpoint 1 (whose files were committed long ago).
  write(*sink, 20, 25);
  snapshot(*sink, 3);
  write(*sink, 25, 30);
  EXPECT_EQ(hiddenFiles().size(), 2u);
  sink.reset();
  sink = open(context());
  ASSERT_TRUE(sink->restore(blob1).isOk());
  EXPECT_THAT(hiddenFiles(), IsEmpty()) << "files staged after checkpoint 1 are gone";
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(linesOf(0, 20)));
  // Numbering continues after the visible files, so nothing committed is overwritten.
  EXPECT_EQ(sink->writer()->nextSequence(), 2);
  write(*sink, 100, 103);
  sink->finish();
  snapshot(*sink, 4);
  sink->commit(4);
  std::vector<std::string> expected = linesOf(0, 20);
  for (const auto& l : linesOf(100, 103)) expected.push_back(l);
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(expected));
  EXPECT_THAT(visibleFiles(), ElementsAre("part-0-0.jsonl", "part-0-1.jsonl", "part-0-2.jsonl"));
}

TEST_F(TransactionalFileSinkTest, CommitCoversEarlierCheckpointsAndIsIdempotent) {
  auto sink = open(context());
  write(*sink, 0, 5);
  snapshot(*sink, 1);  // checkpoint 1 never completes (aborted)
  write(*sink, 5, 8);
  const std::string blob2 = snapshot(*sink, 2);
  write(*sink, 8, 9);
  const std::string blob3 = snapshot(*sink, 3);
  EXPECT_EQ(sink->writer()->stagedFileCount(), 3u);

  sink->commit(2);  // covers 1 and 2, not 3
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(linesOf(0, 8)));
  EXPECT_EQ(sink->writer()->stagedFileCount(), 1u);
  sink->commit(2);
  sink->commit(1);
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(linesOf(0, 8)));
  sink->commit(3);
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(linesOf(0, 9)));
  EXPECT_THAT(hiddenFiles(), IsEmpty());

  // Restoring checkpoints whose files are committed already changes nothing.
  sink.reset();
  sink = open(context());
  ASSERT_TRUE(sink->restore(blob3).isOk());
  ASSERT_TRUE(sink->restore(blob2).isOk());
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(linesOf(0, 9)));
  EXPECT_EQ(sink->writer()->nextSequence(), 3);
}

TEST_F(TransactionalFileSinkTest, FinalCheckpointAfterFinishCommitsTheRest) {
  auto sink = open(context());
  write(*sink, 0, 4);
  sink->finish();
  EXPECT_THAT(visibleFiles(), IsEmpty()) << "with checkpoints, finish only stages";
  snapshot(*sink, 7);
  sink->commit(7);
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(linesOf(0, 4)));
  EXPECT_THAT(hiddenFiles(), IsEmpty());
}

TEST_F(TransactionalFileSinkTest, WithoutCheckpointsFinishCommits) {
  auto sink = open(context(0, /*checkpointing=*/false));
  write(*sink, 0, 6, "p");
  EXPECT_THAT(visibleFiles(), IsEmpty());
  sink->finish();
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(linesOf(0, 6)));
  EXPECT_THAT(visibleFiles(), ElementsAre("p/part-0-0.jsonl"));
  EXPECT_THAT(hiddenFiles(), IsEmpty());
}

TEST_F(TransactionalFileSinkTest, PartitionsAreDirectories) {
  auto sink = open(context(3));
  for (int64_t i = 0; i < 30; ++i) {
    const std::string partition = i % 3 == 0   ? ""
                                  : i % 3 == 1 ? "dt=2015-07-15/hm=00-01"
                                               : "dt=2015-07-15/hm=00-02";
    sink->invoke(TestRow{partition, i});
  }
  EXPECT_EQ(sink->writer()->openFileCount(), 3u);
  snapshot(*sink, 1);
  sink->commit(1);
  const auto all = files();
  ASSERT_EQ(all.size(), 3u);
  for (const auto& [path, content] : all) {
    EXPECT_THAT(path, MatchesRegex("(dt=2015-07-15/hm=00-0[12]/)?part-3-[0-2]\\.jsonl"));
    const int64_t residue = path.find("hm=00-01") != std::string::npos   ? 1
                            : path.find("hm=00-02") != std::string::npos ? 2
                                                                         : 0;
    std::string expected;
    for (int64_t i = residue; i < 30; i += 3) expected += line(i) + "\n";
    EXPECT_EQ(content, expected) << path;
  }
}

TEST_F(TransactionalFileSinkTest, RejectsPartitionsOutsideTheDirectory) {
  for (const std::string bad : {"../x", "/abs", "a//b", "a/./b", "a/"}) {
    auto sink = open(context());
    try {
      sink->invoke(TestRow{bad, 1});
      ADD_FAILURE() << "partition '" << bad << "' was accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("'" + bad + "' is not a relative directory path"));
    }
  }
  EXPECT_FALSE(fs::exists(root_ / "x"));
}

TEST_F(TransactionalFileSinkTest, RollsAtTheSizeLimit) {
  auto o = options();
  o.maxFileBytes = 40;  // lines are 10 or 11 bytes with their newline: a file takes 4 of them
  o.bufferBytes = 16;
  auto sink = open(context(), o);
  write(*sink, 0, 100);
  snapshot(*sink, 1);
  sink->commit(1);
  int64_t expectedId = 0;
  const auto names = visibleFiles();
  EXPECT_GT(names.size(), 15u);
  // Files in sequence order hold the rows in order; each stops at the first line that reaches
  // the limit.
  std::vector<std::pair<int64_t, std::string>> bySeq;
  for (const auto& [path, content] : files())
    bySeq.emplace_back(std::stoll(path.substr(7)), content);
  std::sort(bySeq.begin(), bySeq.end());
  for (const auto& [seq, content] : bySeq) {
    std::string expected;
    while (expectedId < 100 && expected.size() < 40) expected += line(expectedId++) + "\n";
    EXPECT_EQ(content, expected) << "file " << seq;
  }
  EXPECT_EQ(expectedId, 100);
}

TEST_F(TransactionalFileSinkTest, OpenFilesAreBounded) {
  auto o = options();
  o.maxOpenFiles = 2;
  auto sink = open(context(), o);
  for (int64_t i = 0; i < 12; ++i) {
    sink->invoke(TestRow{"p" + std::to_string(i % 3), i});
    EXPECT_LE(sink->writer()->openFileCount(), 2u);
  }
  snapshot(*sink, 1);
  sink->commit(1);
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(linesOf(0, 12)));
  EXPECT_EQ(visibleFiles().size(), 12u)
      << "round robin over 3 partitions with 2 open files rolls at every row";
}

TEST_F(TransactionalFileSinkTest, AtLeastOnceWritesVisibleFilesAndDiscardsNothing) {
  const auto ctx = context(0, true, DeliveryGuarantee::kAtLeastOnce);
  auto sink = open(ctx);
  write(*sink, 0, 5);
  EXPECT_THAT(visibleFiles(), ElementsAre("part-0-0.jsonl"));
  const std::string blob1 = snapshot(*sink, 1);
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(linesOf(0, 5)))
      << "a snapshot flushes, no commit needed";
  write(*sink, 5, 8);
  snapshot(*sink, 2);
  sink->commit(2);
  write(*sink, 8, 9);  // buffered only: lost in the crash, replayed
  sink.reset();
  // The crash cut the last line of a file written after checkpoint 1.
  {
    std::ofstream torn(fs::path(dir_) / "part-0-1.jsonl", std::ios::app | std::ios::binary);
    torn << "{\"id\":9";
  }
  EXPECT_THAT(hiddenFiles(), IsEmpty());

  sink = open(ctx);
  ASSERT_TRUE(sink->restore(blob1).isOk());
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(linesOf(0, 8)))
      << "nothing discarded but the torn line";
  EXPECT_EQ(sink->writer()->nextSequence(), 3);
  write(*sink, 5, 9);  // the replay: duplicates are allowed
  sink->finish();
  std::vector<std::string> expected = linesOf(0, 8);
  for (const auto& l : linesOf(5, 9)) expected.push_back(l);
  EXPECT_THAT(visibleLines(), UnorderedElementsAreArray(expected));
  EXPECT_THAT(visibleFiles(), ElementsAre("part-0-0.jsonl", "part-0-1.jsonl", "part-0-3.jsonl"));
}

TEST_F(TransactionalFileSinkTest, RestoreTouchesOnlyItsOwnSubtasksFiles) {
  auto sink0 = open(context(0));
  auto sink1 = open(context(1));
  write(*sink0, 0, 3, "p");
  write(*sink1, 10, 13, "p");
  const std::string blob0 = snapshot(*sink0, 1);
  snapshot(*sink1, 1);
  write(*sink0, 3, 5, "p");
  write(*sink1, 13, 15, "p");
  sink0->finish();
  sink1->finish();
  sink0.reset();
  sink1.reset();
  EXPECT_EQ(hiddenFiles().size(), 4u);

  auto restored = open(context(0));
  ASSERT_TRUE(restored->restore(blob0).isOk());
  EXPECT_THAT(visibleFiles(), ElementsAre("p/part-0-0.jsonl"));
  EXPECT_THAT(hiddenFiles(),
              ElementsAre("p/.part-1-0.jsonl.inprogress", "p/.part-1-1.jsonl.inprogress"));
}

TEST_F(TransactionalFileSinkTest, FreshStartNumbersPastExistingFiles) {
  fs::create_directories(fs::path(dir_) / "p");
  { std::ofstream(fs::path(dir_) / "p" / "part-0-4.jsonl") << "old\n"; }
  { std::ofstream(fs::path(dir_) / "part-1-9.jsonl") << "other subtask\n"; }
  auto sink = open(context(0, false));
  write(*sink, 0, 2);
  sink->finish();
  EXPECT_THAT(visibleFiles(), ElementsAre("p/part-0-4.jsonl", "part-0-5.jsonl", "part-1-9.jsonl"));
}

TEST_F(TransactionalFileSinkTest, IoErrorsNameThePath) {
  // The directory is a file.
  fs::create_directories(root_);
  { std::ofstream(dir_) << "a file"; }
  {
    Sink sink(options(), FormatRow{}, PartitionRow{});
    Status s = sink.open(context());
    ASSERT_FALSE(s.isOk());
    EXPECT_THAT(s.message(), HasSubstr(dir_));
  }
  fs::remove(dir_);

  // A partition directory is a file.
  auto sink = open(context());
  { std::ofstream(fs::path(dir_) / "blocked") << "a file"; }
  try {
    sink->invoke(TestRow{"blocked/x", 1});
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir_ + "/blocked"));
    EXPECT_THAT(e.what(), HasSubstr("Not a directory"));
  }

  // A staged file that vanished before its commit.
  write(*sink, 0, 2);
  snapshot(*sink, 1);
  fs::remove(fs::path(dir_) / ".part-0-0.jsonl.inprogress");
  try {
    sink->commit(1);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir_ + "/.part-0-0.jsonl.inprogress"));
  }
}

TEST_F(TransactionalFileSinkTest, RestoreRejectsACorruptBlob) {
  auto sink = open(context());
  write(*sink, 0, 2);
  std::string blob = snapshot(*sink, 1);
  sink.reset();
  sink = open(context());
  EXPECT_EQ(sink->restore("nonsense").code(), StatusCode::kCorruption);
  EXPECT_EQ(sink->restore(std::string_view(blob).substr(0, blob.size() - 1)).code(),
            StatusCode::kCorruption);
  // A listed file that is neither staged nor committed: its rows are lost, so restore fails.
  fs::remove(fs::path(dir_) / ".part-0-0.jsonl.inprogress");
  Status s = sink->restore(blob);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_THAT(s.message(), HasSubstr("part-0-0.jsonl"));
}

TEST_F(TransactionalFileSinkTest, RestoreRejectsAFileCountBeyondTheBlob) {
  // Found by fuzz/state_snapshot_fuzzer: a header claiming 2^32 - 1 files made restore allocate
  // a vector of that many entries (hundreds of GB) before reading any of them.
  auto sink = open(context());
  std::string blob = snapshot(*sink, 1);  // magic, version, subtask, next sequence, count 0
  ASSERT_GE(blob.size(), 4u);
  blob.replace(blob.size() - 4, 4, "\xff\xff\xff\xff");
  blob += std::string(32, '\0');
  Status s = sink->restore(blob);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_THAT(s.message(), HasSubstr("truncated file list"));
}

TEST_F(TransactionalFileSinkTest, LinesThatEndInANewlineKeepIt) {
  struct FormatWithNewline {
    void operator()(const TestRow& row, std::string& out) const {
      out += std::to_string(row.id) + "\n";
    }
  };
  auto o = options();
  auto sink = transactionalFileSink<TestRow>(o, FormatWithNewline{});
  ASSERT_TRUE(sink.open(context(0, false)).isOk());
  sink.invoke(TestRow{"", 1});
  sink.invoke(TestRow{"", 2});
  sink.finish();
  EXPECT_EQ(readFile(fs::path(dir_) / "part-0-0.jsonl"), "1\n2\n");
}

}  // namespace
}  // namespace reka::connector
