// Count windows (tumbling, sliding, partial windows at the end) and global windows (default,
// count and processing-time triggers), plus rejected configurations. Expected results are worked
// out by hand in the comments.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "reka/reka.h"
#include "testing/BackendSetup.h"
#include "testing/JobTesting.h"

namespace reka {
namespace {

using namespace std::chrono_literals;
using testing::Collector;
using ::testing::HasSubstr;

/// A record that owns its data (records are kept in window state).
struct Item {
  std::string key;
  int64_t value = 0;
};

}  // namespace

/// The window and join operators keep records in the state backend: on RocksDB they need a Serde.
template <>
struct Serde<Item> {
  static void write(const Item& v, std::string& out) {
    Serde<std::string>::write(v.key, out);
    Serde<int64_t>::write(v.value, out);
  }
  static bool read(std::string_view& in, Item& v) {
    return Serde<std::string>::read(in, v.key) &&
           Serde<int64_t>::read(in, v.value);
  }
};

namespace {

auto keyOf = [](const Item& i) { return std::string_view(i.key); };

struct SumAgg {
  int64_t createAccumulator() const { return 0; }
  void add(const Item& i, int64_t& acc) const { acc += i.value; }
  void merge(const int64_t& from, int64_t& into) const { into += from; }
  int64_t getResult(const int64_t& acc) const { return acc; }
};

using Result = WindowResult<std::string_view, int64_t>;

/// "key [start,end) kind sum" (global windows: "key global kind sum").
std::string describe(const Result& r) {
  std::string window =
      r.window.start == kMinTime && r.window.end == kMaxTime
          ? "global"
          : "[" + std::to_string(r.window.start) + "," + std::to_string(r.window.end) + ")";
  return r.key + " " + window + " " + rowKindCode(r.kind) + " " + std::to_string(r.value);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// The results of one key, in the order the sink received them.
std::vector<std::string> ofKey(const std::vector<std::string>& all, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& s : all)
    if (s.starts_with(key + " ")) out.push_back(s);
  return out;
}

ExecutionConfig configFor(testing::BackendSetup setup) {
  ExecutionConfig c;
  setup.applyTo(c);
  c.batchSize = 3;
  c.watermarkInterval = 0ms;
  return c;
}

/// Keys "a" and "b" interleaved: a gets 1..na, b gets 100, 200, ... (nb records).
std::vector<Item> interleaved(int na, int nb) {
  std::vector<Item> in;
  for (int i = 0; i < std::max(na, nb); ++i) {
    if (i < na) in.push_back({"a", i + 1});
    if (i < nb) in.push_back({"b", 100 * (i + 1)});
  }
  return in;
}

template <class Windows>
std::vector<std::string> runSums(const std::vector<Item>& in, Windows windows, testing::BackendSetup parallelism,
                                 Trigger trigger = {}) {
  StreamEnvironment env(configFor(parallelism));
  auto out = std::make_shared<Collector<std::string>>();
  env.fromCollection("items", in)
      .keyBy(keyOf)
      .window(windows)
      .trigger(trigger)
      .aggregate("sum", SumAgg{})
      .sink("collect", [out](const Result& r) { out->add(describe(r)); });
  Status s = testing::runJob(env);
  EXPECT_TRUE(s.isOk()) << s.toString();
  return out->values();
}

class CountWindowTest : public ::testing::TestWithParam<testing::BackendSetup> {};

TEST_P(CountWindowTest, TumblingFiresEverySizeRecordsAndDropsThePartialWindow) {
  // Size 3. a: 1..7 → [0,3) 1+2+3 = 6, [3,6) 4+5+6 = 15; record 7 is a partial window.
  // b: 100, 200 → a partial window only: nothing.
  EXPECT_EQ(sorted(runSums(interleaved(7, 2), CountWindows::of(3), GetParam())),
            sorted({"a [0,3) +I 6", "a [3,6) +I 15"}));
}

TEST_P(CountWindowTest, SlidingFiresEverySlideRecordsOverTheLastSizeRecords) {
  // Size 4, slide 2 (panes of 2). a: 1..9 fires after records 2, 4, 6, 8:
  //   [0,2) 1+2 = 3; [0,4) 1+2+3+4 = 10; [2,6) 3+4+5+6 = 18; [4,8) 5+6+7+8 = 26; record 9 waits.
  // b: 100..500 fires after 2 and 4: [0,2) 300; [0,4) 1000.
  EXPECT_EQ(sorted(runSums(interleaved(9, 5), CountWindows::sliding(4, 2), GetParam())),
            sorted({"a [0,2) +I 3", "a [0,4) +I 10", "a [2,6) +I 18", "a [4,8) +I 26",
                    "b [0,2) +I 300", "b [0,4) +I 1000"}));
}

TEST_P(CountWindowTest, SlidingWithASizeThatIsNotAMultipleOfTheSlide) {
  // Size 3, slide 2 (panes of 1). a: 1..7 fires after records 2, 4, 6:
  //   [0,2) 1+2 = 3; [1,4) 2+3+4 = 9; [3,6) 4+5+6 = 15.
  // b: 100, 200, 300 fires after 2: [0,2) 300.
  EXPECT_EQ(sorted(runSums(interleaved(7, 3), CountWindows::sliding(3, 2), GetParam())),
            sorted({"a [0,2) +I 3", "a [1,4) +I 9", "a [3,6) +I 15", "b [0,2) +I 300"}));
}

TEST_P(CountWindowTest, ProcessSeesTheWindowsRecordsInArrivalOrder) {
  // Size 3, slide 1: every record fires the window of the last (up to) 3 records of its key.
  std::vector<Item> in = {{"k", 1}, {"j", 9}, {"k", 2}, {"k", 3}, {"k", 4}};
  StreamEnvironment env(configFor(GetParam()));
  auto out = std::make_shared<Collector<std::string>>();
  env.fromCollection("items", in)
      .keyBy(keyOf)
      .window(CountWindows::sliding(3, 1))
      .process<std::string>("list",
                            [](const std::string& key, const TimeWindow& w,
                               const std::vector<Item>& records, Emitter<std::string>& emit) {
                              std::string s = key + " [" + std::to_string(w.start) + "," +
                                              std::to_string(w.end) + "):";
                              for (const Item& i : records) s += " " + std::to_string(i.value);
                              emit.emit(s);
                            })
      .sink("collect", testing::collectInto(out));
  ASSERT_TRUE(testing::runJob(env).isOk());
  EXPECT_EQ(
      ofKey(out->values(), "k"),
      (std::vector<std::string>{"k [0,1): 1", "k [0,2): 1 2", "k [0,3): 1 2 3", "k [1,4): 2 3 4"}));
  EXPECT_EQ(ofKey(out->values(), "j"), std::vector<std::string>{"j [0,1): 9"});
}

INSTANTIATE_TEST_SUITE_P(Parallelism, CountWindowTest, ::testing::ValuesIn(testing::onBothBackends({1, 4})),
                         testing::BackendSetupName{});

class GlobalWindowTest : public ::testing::TestWithParam<testing::BackendSetup> {};

TEST_P(GlobalWindowTest, DefaultTriggerFiresEachKeyOnceAtTheEndOfInput) {
  // a: 1..5 = 15; b: 100 + 200 = 300.
  EXPECT_EQ(sorted(runSums(interleaved(5, 2), GlobalWindows{}, GetParam())),
            sorted({"a global +I 15", "b global +I 300"}));
}

TEST_P(GlobalWindowTest, CountTriggerFiresEveryNRecordsWithoutPurging) {
  // countOf(2). a: 1..5 fires after 2 (3), after 4 (10, retracting 3), and at the end of input
  // for the changed key (15, retracting 10). b: 100, 200 fires after 2 (300) and is unchanged
  // at the end. c: 7 fires only at the end.
  std::vector<Item> in = interleaved(5, 2);
  in.push_back({"c", 7});
  auto out = runSums(in, GlobalWindows{}, GetParam(), Trigger::countOf(2));
  EXPECT_EQ(ofKey(out, "a"),
            (std::vector<std::string>{"a global +I 3", "a global -U 3", "a global +U 10",
                                      "a global -U 10", "a global +U 15"}));
  EXPECT_EQ(ofKey(out, "b"), std::vector<std::string>{"b global +I 300"});
  EXPECT_EQ(ofKey(out, "c"), std::vector<std::string>{"c global +I 7"});
}

TEST_P(GlobalWindowTest, ProcessingTimeTriggerFiresChangedKeysAtTheEndOfInput) {
  // An hour-long period never elapses while the job runs: only the end-of-input firing happens.
  EXPECT_EQ(sorted(runSums(interleaved(4, 3), GlobalWindows{}, GetParam(),
                           Trigger::processingTimeEvery(1h))),
            sorted({"a global +I 10", "b global +I 600"}));
}

INSTANTIATE_TEST_SUITE_P(Parallelism, GlobalWindowTest, ::testing::ValuesIn(testing::onBothBackends({1, 4})),
                         testing::BackendSetupName{});

/// Emits its records one per poll, then keeps the job running (polling) until the sink has seen
/// the sum of all of them, so a periodic firing must have happened before the end of input.
class HoldingItemSource final : public SourceFunction<Item> {
 public:
  HoldingItemSource(std::vector<Item> items, std::shared_ptr<Collector<std::string>> seen,
                    std::string until)
      : items_(std::move(items)), seen_(std::move(seen)), until_(std::move(until)) {}
  SourceOperator::Poll poll(RecordBatch<Item>& out, size_t) override {
    if (next_ < items_.size()) {
      out.records.push_back(items_[next_++]);
      return SourceOperator::Poll::kMore;
    }
    if (holdStart_ == std::chrono::steady_clock::time_point{})
      holdStart_ = std::chrono::steady_clock::now();
    for (const std::string& s : seen_->values())
      if (s.ends_with(until_)) return SourceOperator::Poll::kEnd;
    // Bounded: a missing firing fails the test below instead of hanging it.
    if (std::chrono::steady_clock::now() - holdStart_ > 10s) return SourceOperator::Poll::kEnd;
    std::this_thread::sleep_for(1ms);
    return SourceOperator::Poll::kMore;
  }

 private:
  std::vector<Item> items_;
  std::shared_ptr<Collector<std::string>> seen_;
  std::string until_;
  size_t next_ = 0;
  std::chrono::steady_clock::time_point holdStart_{};
};

TEST(GlobalWindowTimingTest, ProcessingTimeTriggerFiresWhileTheJobRuns) {
  // A 10 ms period. The source ends only after the sink saw the total (1 + 2 + 3 = 6), so that
  // result came from a periodic firing; the end of input does not fire again (nothing changed).
  StreamEnvironment env(configFor(1));
  auto out = std::make_shared<Collector<std::string>>();
  env.addSource<Item>(
         "holding",
         [out] {
           return std::make_unique<HoldingItemSource>(
               std::vector<Item>{{"a", 1}, {"a", 2}, {"a", 3}}, out, " 6");
         },
         1)
      .keyBy(keyOf)
      .window(GlobalWindows{})
      .trigger(Trigger::processingTimeEvery(10ms))
      .aggregate("sum", SumAgg{})
      .sink("collect", [out](const Result& r) { out->add(describe(r)); });
  ASSERT_TRUE(testing::runJob(env).isOk());
  // The records may straddle a period: then an earlier partial result was retracted (-U/+U).
  std::vector<std::string> got = out->values();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back(), got.size() == 1 ? "a global +I 6" : "a global +U 6");
  EXPECT_EQ(
      std::count_if(got.begin(), got.end(), [](const std::string& s) { return s.ends_with(" 6"); }),
      1);
}

TEST(CountWindowConfigTest, ZeroSizeIsRejectedAtStart) {
  StreamEnvironment env(configFor(1));
  env.fromCollection("items", std::vector<Item>{{"a", 1}})
      .keyBy(keyOf)
      .window(CountWindows::of(0))
      .aggregate("sum", SumAgg{})
      .sink("collect", [](const Result&) {});
  Status s = testing::runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("count window size must be positive, got 0"));
  EXPECT_THAT(s.message(), HasSubstr("operator 'sum"));
}

TEST(CountWindowConfigTest, CustomTriggerIsRejectedAtStart) {
  StreamEnvironment env(configFor(1));
  env.fromCollection("items", std::vector<Item>{{"a", 1}})
      .keyBy(keyOf)
      .window(CountWindows::of(2))
      .trigger(Trigger::processingTimeEvery(10ms))
      .aggregate("sum", SumAgg{})
      .sink("collect", [](const Result&) {});
  Status s = testing::runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("count windows support only the default trigger"));
}

TEST(GlobalWindowConfigTest, NonPositiveCountTriggerIsRejectedAtStart) {
  StreamEnvironment env(configFor(1));
  env.fromCollection("items", std::vector<Item>{{"a", 1}})
      .keyBy(keyOf)
      .window(GlobalWindows{})
      .trigger(Trigger::countOf(0))
      .aggregate("sum", SumAgg{})
      .sink("collect", [](const Result&) {});
  Status s = testing::runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("count trigger needs a positive count, got 0"));
}

}  // namespace
}  // namespace reka
