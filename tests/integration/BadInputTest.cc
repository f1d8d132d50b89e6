// Bad input lines through a whole query job (buildQueryJob with an input file): with the
// dead-letter policy every bad line is counted and written with its line number and reason while
// the good lines are all processed; with the fail policy the job fails naming the line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "NexmarkTestKit.h"

namespace reka::nexmark::it {
namespace {

using ::testing::HasSubstr;

constexpr size_t kMaxLineBytes = 4096;

/// One kind of bad line: its text and a word its reason must contain.
struct BadLine {
  std::string name;
  std::string text;
  std::vector<std::string> reasonMentions;
};

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  size_t pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from << " not in " << s;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

std::vector<BadLine> badLines() {
  const std::string bid = eventJson(BidRec{1000, 1001, 777, "Google", "https://www.nexmark.com/a/b/c/item.htm?query=1", 1436918400000, "extra"});
  BidRec huge{1000, 1001, 777, "Google", "u", 1436918400000, std::string(100 * 1024, 'x')};
  return {
      {"malformed", R"({"event_type":2,"bid":{"auction":1000,)", {"malformed"}},
      {"missing_field", replaced(bid, R"("price":777,)", ""), {"missing", "price"}},
      {"wrong_type", replaced(bid, R"("price":777)", R"("price":"777")"), {"price", "integer"}},
      {"unknown_event_type", replaced(bid, R"({"event_type":2)", R"({"event_type":7)"), {"event_type", "7"}},
      {"huge_line", eventJson(huge), {std::to_string(kMaxLineBytes)}},
      {"blank_line", "", {"empty"}},
  };
}

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GeneratorConfig config;
    config.seed = 5;
    config.events = 400;
    good_ = generateEvents(config);
    ASSERT_EQ(good_.size(), 400u);
  }

  /// q0's reference: every bid of `events`, in order.
  static std::vector<Row> bidRows(const std::vector<EventRec>& events) {
    std::vector<Row> rows;
    for (const auto& e : events)
      if (const BidRec* b = std::get_if<BidRec>(&e)) rows.push_back(bidValues(*b));
    return rows;
  }

  static std::vector<Row> values(const std::vector<FlatRow>& rows) {
    std::vector<Row> v;
    for (const auto& r : rows) v.push_back(valuesOf(r));
    return v;
  }

  QueryJobOptions options(BadInputPolicy policy) {
    QueryJobOptions o;
    o.query = "q0";
    o.inputPath = dir_.file("in-" + std::to_string(files_) + ".jsonl");
    o.outputPath = dir_.file("out-" + std::to_string(files_) + ".jsonl");
    o.deadLetterPath = dir_.file("dead-" + std::to_string(files_) + ".jsonl");
    ++files_;
    o.badInput = policy;
    o.maxLineBytes = kMaxLineBytes;
    return o;
  }

  ScratchDir dir_;
  std::vector<EventRec> good_;
  int files_ = 0;
};

TEST_F(BadInputTest, DeadLetterPolicyReportsEveryBadLineAndProcessesTheRest) {
  // 400 good lines with a bad one after every 60th; the blank line comes last.
  const std::vector<BadLine> bad = badLines();
  std::string content;
  std::vector<int64_t> badLineNumbers, badOffsets;
  int64_t lineNumber = 0;
  size_t nextBad = 0;
  for (size_t i = 0; i < good_.size(); ++i) {
    content += eventJson(good_[i]) + "\n";
    ++lineNumber;
    if ((i + 1) % 60 == 0 && nextBad + 1 < bad.size()) {
      badOffsets.push_back(static_cast<int64_t>(content.size()));
      content += bad[nextBad++].text + "\n";
      badLineNumbers.push_back(++lineNumber);
    }
  }
  ASSERT_EQ(nextBad + 1, bad.size());
  badOffsets.push_back(static_cast<int64_t>(content.size()));
  content += "\n";  // the trailing blank line
  badLineNumbers.push_back(++lineNumber);

  QueryJobOptions o = options(BadInputPolicy::kDeadLetter);
  writeFile(o.inputPath, content);
  QueryRun run = runQueryJob(o, /*parallelism=*/2);
  ASSERT_TRUE(run.status.isOk()) << run.status.toString();

  std::vector<Row> expected = bidRows(good_);
  ASSERT_GT(expected.size(), 300u);
  expectSameRows(values(run.rows), expected, "q0 over the good lines");
  EXPECT_EQ(run.counters->badRecords.load(), static_cast<int64_t>(bad.size()));
  EXPECT_EQ(run.counters->inputLines.load(), lineNumber);
  EXPECT_EQ(run.counters->outputRows.load(), static_cast<int64_t>(expected.size()));
  // The source operator's metrics: every byte of the file read, every bad line a dead letter.
  int64_t bytesIn = 0, deadLetters = 0;
  for (const OperatorStats& op : run.metrics.operators) {
    bytesIn += op.bytesIn;
    deadLetters += op.deadLetters;
  }
  EXPECT_EQ(bytesIn, static_cast<int64_t>(content.size()));
  EXPECT_EQ(deadLetters, static_cast<int64_t>(bad.size()));

  std::vector<FlatRow> dead = readRows(o.deadLetterPath);
  ASSERT_EQ(dead.size(), bad.size());
  for (size_t i = 0; i < dead.size(); ++i) {
    SCOPED_TRACE(bad[i].name);
    EXPECT_EQ(field(dead[i], "line"), num(badLineNumbers[i]));
    EXPECT_EQ(field(dead[i], "offset"), num(badOffsets[i]));
    std::string reason = field(dead[i], "reason").value_or("\"").substr(1);
    EXPECT_FALSE(reason.empty());
    for (const auto& word : bad[i].reasonMentions) EXPECT_THAT(reason, HasSubstr(word));
  }
}

TEST_F(BadInputTest, FailPolicyFailsTheJobNamingTheLine) {
  for (const BadLine& bad : badLines()) {
    SCOPED_TRACE(bad.name);
    // 123 good lines, the bad one as line 124, then more good lines (ending with a blank line
    // makes the blank line the bad one).
    std::string content;
    for (size_t i = 0; i < 123; ++i) content += eventJson(good_[i]) + "\n";
    content += bad.text + "\n";
    if (!bad.text.empty())
      for (size_t i = 123; i < good_.size(); ++i) content += eventJson(good_[i]) + "\n";
    QueryJobOptions o = options(BadInputPolicy::kFail);
    writeFile(o.inputPath, content);
    QueryRun run = runQueryJob(o, /*parallelism=*/2);
    ASSERT_FALSE(run.status.isOk());
    EXPECT_THAT(run.status.message(), HasSubstr("line 124"));
    for (const auto& word : bad.reasonMentions) EXPECT_THAT(run.status.message(), HasSubstr(word));
  }
}

TEST_F(BadInputTest, EmptyFileGivesNoRows) {
  QueryJobOptions o = options(BadInputPolicy::kFail);
  writeFile(o.inputPath, "");
  QueryRun run = runQueryJob(o, /*parallelism=*/4);
  ASSERT_TRUE(run.status.isOk()) << run.status.toString();
  EXPECT_TRUE(run.rows.empty());
  EXPECT_EQ(readFile(o.outputPath), "");
  EXPECT_EQ(run.counters->outputRows.load(), 0);
  EXPECT_EQ(run.counters->badRecords.load(), 0);
  EXPECT_EQ(run.counters->inputLines.load(), 0);
}

TEST_F(BadInputTest, FinalNewlineIsOptionalAndNotABadLine) {
  std::string content;
  for (const auto& e : good_) content += eventJson(e) + "\n";
  for (bool finalNewline : {true, false}) {
    SCOPED_TRACE(finalNewline ? "with final newline" : "without final newline");
    QueryJobOptions o = options(BadInputPolicy::kFail);
    writeFile(o.inputPath, finalNewline ? content : content.substr(0, content.size() - 1));
    QueryRun run = runQueryJob(o, /*parallelism=*/1);
    ASSERT_TRUE(run.status.isOk()) << run.status.toString();
    EXPECT_EQ(values(run.rows), bidRows(good_));  // parallelism 1: in input order
    EXPECT_EQ(run.counters->badRecords.load(), 0);
    EXPECT_EQ(run.counters->inputLines.load(), static_cast<int64_t>(good_.size()));
  }
}

TEST_F(BadInputTest, CrLfLineEndingsAreAccepted) {
  std::string content;
  for (const auto& e : good_) content += eventJson(e) + "\r\n";
  QueryJobOptions o = options(BadInputPolicy::kFail);
  writeFile(o.inputPath, content);
  QueryRun run = runQueryJob(o, /*parallelism=*/1);
  ASSERT_TRUE(run.status.isOk()) << run.status.toString();
  EXPECT_EQ(values(run.rows), bidRows(good_));
}

TEST_F(BadInputTest, MissingInputFileFailsTheJob) {
  QueryJobOptions o = options(BadInputPolicy::kDeadLetter);
  o.inputPath = dir_.file("does-not-exist.jsonl");
  QueryRun run = runQueryJob(o, /*parallelism=*/1);
  ASSERT_FALSE(run.status.isOk());
  EXPECT_THAT(run.status.message(), HasSubstr("does-not-exist.jsonl"));
}

TEST_F(BadInputTest, UnknownQueryIsRefusedWhenBuilding) {
  QueryJobOptions o = options(BadInputPolicy::kFail);
  o.query = "q99";
  writeFile(o.inputPath, "");
  StreamEnvironment env;
  auto counters = buildQueryJob(env, o);
  ASSERT_FALSE(counters.isOk());
  EXPECT_THAT(counters.status().message(), HasSubstr("q99"));
  EXPECT_THAT(counters.status().message(), HasSubstr("q22"));
}

}  // namespace
}  // namespace reka::nexmark::it
