// The connector source API (Source.h, SplitSource.h) with an in-memory connector: splits read
// on the connector thread, positions with the records, per-split watermarks, splits found
// while running, reader errors, restore at another parallelism.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "reka/connector/SplitSource.h"
#include "testing/JobTesting.h"

namespace reka::connector {
namespace {

using namespace std::chrono_literals;

struct Rec {
  int split = 0;
  int64_t index = 0;
  int64_t timestamp = 0;
  bool operator<(const Rec& o) const { return std::tie(split, index) < std::tie(o.split, o.index); }
  bool operator==(const Rec& o) const = default;
};

/// The splits of the in-memory connector: split i holds `lengths[i]` records whose timestamps
/// are their indices. Shared by the enumerators and readers of a job; splits may be added while
/// it runs.
struct Data {
  std::mutex mutex;
  std::vector<int64_t> lengths;
  std::atomic<bool> failReads{false};
  /// The first enumerator made waits this long in its first discover() (a slow broker).
  std::atomic<int> slowFirstDiscoveryMs{0};
  std::atomic<int> enumerators{0};
  /// Readers stop before this record index of every split (and wait) until it is raised.
  std::atomic<int64_t> readLimit{INT64_MAX};
  std::atomic<int64_t> fetches{0};
  /// Every fetch that finds nothing new sleeps this long (a reader that does not wake up).
  std::atomic<int> idleFetchMs{5};
  /// The positions committed by checkpointComplete, by split; the highest checkpoint committed.
  std::map<int, int64_t> committed;
  int64_t committedCheckpoint = 0;
};

class MemEnumerator final : public SplitEnumerator {
 public:
  explicit MemEnumerator(std::shared_ptr<Data> d) : data_(std::move(d)), first_(data_->enumerators.fetch_add(1) == 0) {}
  Result<std::vector<SplitState>> discover() override {
    if (first_) std::this_thread::sleep_for(std::chrono::milliseconds(data_->slowFirstDiscoveryMs.exchange(0)));
    std::lock_guard<std::mutex> lock(data_->mutex);
    std::vector<SplitState> out;
    for (size_t i = 0; i < data_->lengths.size(); ++i) out.push_back(SplitState{std::to_string(i), "", INT64_MIN, false});
    return out;
  }

 private:
  std::shared_ptr<Data> data_;
  bool first_;
};

/// Reads each split to its end in chunks of `chunk`, one split after the other (split 0 fully
/// first): a reader that is as unfair as it can be.
class MemReader final : public SplitReader<Rec> {
 public:
  MemReader(std::shared_ptr<Data> d, bool bounded, size_t chunk) : data_(std::move(d)), bounded_(bounded), chunk_(chunk) {}
  Status addSplits(const std::vector<SplitState>& splits) override {
    for (const auto& s : splits) {
      // An ended split is reported ended again (as a Kafka reader does for a restored split).
      if (s.finished) reportEnded_.push_back(splits_.size());
      splits_.push_back({std::stoi(s.id), s.position.empty() ? 0 : std::stoll(s.position), s.finished});
    }
    return Status::ok();
  }
  Status fetch(std::vector<SplitBatch<Rec>>& out, size_t, int timeoutMs) override {
    data_->fetches.fetch_add(1);
    if (data_->failReads.load()) return Status::ioError("the disk caught fire");
    for (size_t i : reportEnded_) {
      SplitBatch<Rec> b;
      b.split = i;
      b.position = std::to_string(splits_[i].next);
      b.finished = true;
      out.push_back(std::move(b));
    }
    if (!reportEnded_.empty()) {
      reportEnded_.clear();
      return Status::ok();
    }
    for (size_t i = 0; i < splits_.size(); ++i) {
      auto& s = splits_[i];
      if (s.done) continue;
      int64_t length;
      {
        std::lock_guard<std::mutex> lock(data_->mutex);
        length = data_->lengths[static_cast<size_t>(s.id)];
      }
      const int64_t limit = data_->readLimit.load();
      if (s.next >= limit && limit < length) continue;  // held back: more comes later
      length = std::min(length, limit == INT64_MAX ? length : std::max(limit, s.next));
      if (s.next >= length) {
        if (bounded_) {
          s.done = true;
          SplitBatch<Rec> b;
          b.split = i;
          b.position = std::to_string(s.next);
          b.finished = true;
          out.push_back(std::move(b));
          return Status::ok();
        }
        continue;
      }
      SplitBatch<Rec> b;
      b.split = i;
      for (size_t k = 0; k < chunk_ && s.next < length; ++k, ++s.next) b.records.records.push_back({s.id, s.next, s.next});
      b.position = std::to_string(s.next);
      out.push_back(std::move(b));
      return Status::ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(timeoutMs, data_->idleFetchMs.load())));
    return Status::ok();
  }
  void checkpointComplete(int64_t id, const std::vector<SplitState>& splits) override {
    std::lock_guard<std::mutex> lock(data_->mutex);
    data_->committedCheckpoint = std::max(data_->committedCheckpoint, id);
    for (const auto& s : splits) data_->committed[std::stoi(s.id)] = s.position.empty() ? 0 : std::stoll(s.position);
  }

 private:
  struct S {
    int id;
    int64_t next;
    bool done;
  };
  std::shared_ptr<Data> data_;
  bool bounded_;
  size_t chunk_;
  std::vector<S> splits_;
  std::vector<size_t> reportEnded_;
};

struct CountAgg {
  int64_t createAccumulator() const { return 0; }
  void add(const Rec&, int64_t& acc) const { ++acc; }
  void merge(const int64_t& from, int64_t& into) const { into += from; }
  int64_t getResult(const int64_t& acc) const { return acc; }
};

SourceSpec<Rec> spec(std::shared_ptr<Data> d, bool bounded, size_t chunk = 100, int64_t discoveryMs = 0) {
  SourceSpec<Rec> s;
  s.bounded = bounded;
  s.discoveryIntervalMs = discoveryMs;
  s.makeEnumerator = [d] { return std::make_unique<MemEnumerator>(d); };
  s.makeReader = [d, bounded, chunk](const SourceReaderContext&) { return std::make_unique<MemReader>(d, bounded, chunk); };
  return s;
}

std::vector<Rec> expected(const std::vector<int64_t>& lengths, const std::vector<int64_t>& from = {}) {
  std::vector<Rec> out;
  for (size_t i = 0; i < lengths.size(); ++i)
    for (int64_t k = from.empty() ? 0 : from[i]; k < lengths[i]; ++k) out.push_back({static_cast<int>(i), k, k});
  return out;
}

TEST(SplitSourceTest, EverySplitIsReadOnceAtAnyParallelism) {
  auto d = std::make_shared<Data>();
  d->lengths = {1000, 10, 0, 555, 1};
  for (int p : {1, 2, 3, 8}) {
    ExecutionConfig config;
    config.parallelism = p;
    StreamEnvironment env(config);
    auto out = std::make_shared<testing::Collector<Rec>>();
    fromSource(env, "mem", spec(d, true), p).sink("collect", testing::collectInto(out));
    ASSERT_TRUE(testing::runJob(env).isOk());
    auto got = out->values();
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, expected(d->lengths)) << "parallelism " << p;
  }
}

/// Split 0 is read to its end before split 1 starts. One watermark for the subtask would make
/// all of split 1 late; per-split watermarks merged by minimum make none late. At parallelism 2
/// one subtask finds its splits late (a slow first discovery): until then it holds event time
/// back instead of counting as idle, so the other's watermark does not make its records late.
void expectNoLateRecords(int parallelism, int slowDiscoveryMs) {
  auto d = std::make_shared<Data>();
  d->lengths = {5000, 5000, 5000, 5000};
  d->slowFirstDiscoveryMs = slowDiscoveryMs;
  ExecutionConfig config;
  config.parallelism = parallelism;
  config.watermarkInterval = 0ms;
  StreamEnvironment env(config);
  auto counts = std::make_shared<testing::Collector<std::pair<int64_t, int64_t>>>();
  auto tsOf = [](const Rec& r) { return r.timestamp; };
  fromSource(env, "mem", spec(d, true), watermarks::boundedOutOfOrderness<Rec>(0ms, tsOf), parallelism)
      .keyBy([](const Rec&) { return int64_t{0}; })
      .window(TumblingWindows::eventTime(1000ms), tsOf)
      .aggregate("count", CountAgg{})
      .sink("collect", [counts](const WindowResult<int64_t, int64_t>& r) { counts->add({r.window.start, r.value}); });
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk());
  ASSERT_TRUE(testing::awaitJob(**client).isOk());
  auto got = counts->values();
  std::sort(got.begin(), got.end());
  std::vector<std::pair<int64_t, int64_t>> want;
  for (int64_t w = 0; w < 5000; w += 1000) want.push_back({w, 4000});
  EXPECT_EQ(got, want) << "parallelism " << parallelism;
  EXPECT_EQ((*client)->metrics().lateRecords, 0) << "parallelism " << parallelism;
}

TEST(SplitSourceTest, WatermarksArePerSplit) { expectNoLateRecords(1, 0); }

TEST(SplitSourceTest, ASubtaskStillDiscoveringHoldsEventTimeBack) { expectNoLateRecords(2, 300); }

TEST(SplitSourceTest, SplitsFoundWhileRunningAreRead) {
  auto d = std::make_shared<Data>();
  d->lengths = {100};
  ExecutionConfig config;
  config.parallelism = 2;
  StreamEnvironment env(config);
  auto out = std::make_shared<testing::Collector<Rec>>();
  fromSource(env, "mem", spec(d, false, 100, 20), 2).sink("collect", testing::collectInto(out));
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk());
  for (int i = 0; i < 500 && out->size() < 100; ++i) std::this_thread::sleep_for(10ms);
  {
    std::lock_guard<std::mutex> lock(d->mutex);
    d->lengths.push_back(300);
    d->lengths.push_back(7);
  }
  for (int i = 0; i < 1000 && out->size() < 407; ++i) std::this_thread::sleep_for(10ms);
  (*client)->cancel();
  (void)(*client)->wait();
  auto got = out->values();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected({100, 300, 7}));
}

TEST(SplitSourceTest, ReaderErrorFailsTheJobWithItsMessage) {
  auto d = std::make_shared<Data>();
  d->lengths = {10};
  d->failReads = true;
  StreamEnvironment env;
  auto out = std::make_shared<testing::Collector<Rec>>();
  fromSource(env, "mem", spec(d, true), 1).sink("collect", testing::collectInto(out));
  Status s = testing::runJob(env);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("the disk caught fire"), std::string::npos) << s.toString();
}

/// A savepoint taken while reading, restored at 1, 2 and 5 subtasks: every record once.
TEST(SplitSourceTest, RestoreAtAnotherParallelismReadsTheRestOnce) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("reka-split-source-test-" + std::to_string(::getpid()));
  for (int restoreAt : {1, 2, 5}) {
    fs::remove_all(dir);
    auto d = std::make_shared<Data>();
    d->lengths = {3000, 2000, 1000, 4000, 100};  // the last one ends before the savepoint
    std::vector<Rec> all;
    auto run = [&](int p, bool untilEnd) {
      ExecutionConfig config;
      config.parallelism = p;
      config.checkpoints.stateDir = dir.string();
      StreamEnvironment env(config);
      auto out = std::make_shared<testing::Collector<Rec>>();
      fromSource(env, "mem", spec(d, true, 10), p).sink("collect", testing::collectInto(out));
      auto client = env.executeAsync();
      ASSERT_TRUE(client.isOk());
      if (!untilEnd) {
        for (int i = 0; i < 10000 && out->size() < 2100; ++i) std::this_thread::sleep_for(1ms);
        ASSERT_EQ(out->size(), 2100u);
        auto sp = (*client)->savepoint(true, 30s);
        ASSERT_TRUE(sp.isOk()) << sp.status().toString();
      }
      Status s = testing::awaitJob(**client);
      if (untilEnd) {
        ASSERT_TRUE(s.isOk()) << s.toString();
      }
      auto got = out->values();
      all.insert(all.end(), got.begin(), got.end());
    };
    d->readLimit = 500;  // the first run reads 500 records of each split (all of the last), then waits
    run(3, false);
    d->readLimit = INT64_MAX;
    run(restoreAt, true);
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, expected(d->lengths)) << "restored at " << restoreAt;
  }
  fs::remove_all(dir);
}

/// A stop-with-savepoint commits the savepoint's positions through the reader (Kafka commits
/// them to the consumer group), even when the connector thread is stopped before it looks for
/// the request: here every idle fetch sleeps far longer than the stop takes.
TEST(SplitSourceTest, AStopWithSavepointCommitsItsPositions) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("reka-split-source-commit-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto d = std::make_shared<Data>();
  d->lengths = {300, 200};
  d->idleFetchMs = 100;
  ExecutionConfig config;
  config.parallelism = 1;
  config.checkpoints.stateDir = dir.string();
  StreamEnvironment env(config);
  auto out = std::make_shared<testing::Collector<Rec>>();
  fromSource(env, "mem", spec(d, false, 50), 1).sink("collect", testing::collectInto(out));
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk());
  for (int i = 0; i < 10000 && out->size() < 500; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(out->size(), 500u);
  auto sp = (*client)->savepoint(true, 30s);
  ASSERT_TRUE(sp.isOk()) << sp.status().toString();
  (void)testing::awaitJob(**client);
  std::lock_guard<std::mutex> lock(d->mutex);
  const std::string name = fs::path(*sp).filename().string();  // sp-<checkpoint id>
  ASSERT_EQ(name.rfind("sp-", 0), 0u) << *sp;
  EXPECT_EQ(d->committedCheckpoint, std::stoll(name.substr(3)));
  EXPECT_EQ(d->committed, (std::map<int, int64_t>{{0, 300}, {1, 200}}));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace reka::connector
