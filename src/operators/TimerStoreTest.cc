// Timers of keyed functions kept in the RocksDB backend's store (KeyedTimers in a store): the
// same timers fire, in the same (time, key) order, as from the heap's ordered sets, over random
// registrations, deletions and watermarks, with rounds small enough that a firing takes many;
// and a checkpoint of the store's timers restores on the heap backend and on RocksDB.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "reka/reka.h"
#include "reka/state/RocksDbBackend.h"
#include "testing/OperatorHarness.h"

namespace reka {
namespace {

constexpr int kMaxParallelism = 128;
using Fired = std::pair<int64_t, int64_t>;  // (time, key)

/// One subtask's timers on a backend, with the context they need.
struct TimerSubtask {
  TimerSubtask(std::unique_ptr<StateBackend> b, KeyGroupRange range) : backend(std::move(b)) {
    ctx.name = "timers-under-test";
    ctx.maxParallelism = kMaxParallelism;
    ctx.keyGroups = range;
    ctx.state = backend.get();
    ctx.time = &time;
    Status s = timers.init(&ctx, &keys, true);
    EXPECT_TRUE(s.isOk()) << s.toString();
  }
  void setKey(const int64_t& k) {
    keys.key = &k;
    keys.keyGroup = keyGroupFor(hashKey(k), kMaxParallelism);
  }
  std::vector<Fired> advance(int64_t watermark) {
    std::vector<Fired> fired;
    timers.advanceWatermark(watermark, [&](int64_t ts, const int64_t& key) { fired.emplace_back(ts, key); });
    return fired;
  }
  std::vector<Fired> advanceClock(int64_t now) {
    std::vector<Fired> fired;
    timers.advanceProcessingTime(now, [&](int64_t ts, const int64_t& key) { fired.emplace_back(ts, key); });
    return fired;
  }

  std::unique_ptr<StateBackend> backend;
  testing::ManualTime time{0};
  OperatorContext ctx;
  KeyContext<int64_t> keys;
  KeyedTimers<int64_t> timers;
};

class TimerStoreTest : public ::testing::Test {
 protected:
  TimerStoreTest() {
    RocksDbOptions o;
    o.localDir = std::filesystem::temp_directory_path().string();
    o.blockCacheBytes = 4 << 20;
    o.writeBufferBytes = 2 << 20;
    auto env = RocksDbEnvironment::open(o);
    EXPECT_TRUE(env.isOk()) << env.status().toString();
    if (env.isOk()) env_ = *env;
  }
  std::unique_ptr<TimerSubtask> onRocksDb(KeyGroupRange range = {0, kMaxParallelism - 1}) {
    auto b = openRocksDbStateBackend(env_, "timers-" + std::to_string(count_++), range, kMaxParallelism);
    EXPECT_TRUE(b.isOk()) << b.status().toString();
    auto t = std::make_unique<TimerSubtask>(std::move(*b), range);
    EXPECT_TRUE(t->timers.inStore());
    return t;
  }
  static std::unique_ptr<TimerSubtask> onHeap(KeyGroupRange range = {0, kMaxParallelism - 1}) {
    auto t = std::make_unique<TimerSubtask>(std::make_unique<HeapStateBackend>(range, kMaxParallelism), range);
    EXPECT_FALSE(t->timers.inStore());
    return t;
  }

  std::shared_ptr<RocksDbEnvironment> env_;
  int count_ = 0;
};

TEST_F(TimerStoreTest, FireTheHeapsTimersInTheSameOrderOverRandomOperations) {
  for (size_t round : {size_t{1}, size_t{5}, size_t{1} << 16}) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto heap = onHeap();
    auto store = onRocksDb();
    store->timers.setFireRound(round);
    std::mt19937_64 rng(round);
    int64_t watermark = 0, firedCount = 0;
    for (int step = 0; step < 4000; ++step) {
      const int64_t key = static_cast<int64_t>(rng() % 300);
      const int64_t ts = watermark + 1 + static_cast<int64_t>(rng() % 200);
      heap->setKey(key);
      store->setKey(key);
      switch (rng() % 10) {
        case 0:  // delete a timer that may or may not exist
          heap->timers.deleteEventTime(ts);
          store->timers.deleteEventTime(ts);
          break;
        case 1: {  // the watermark moves on
          watermark += static_cast<int64_t>(rng() % 60);
          const auto expected = heap->advance(watermark);
          ASSERT_EQ(store->advance(watermark), expected) << "at watermark " << watermark;
          firedCount += static_cast<int64_t>(expected.size());
          break;
        }
        default:
          heap->timers.registerEventTime(ts);
          store->timers.registerEventTime(ts);
      }
      ASSERT_EQ(store->timers.nextEventTime() <= heap->timers.nextEventTime(), true)
          << "the store's earliest timer may be early (a deleted one), never late";
    }
    const auto expected = heap->advance(kMaxTime);
    EXPECT_EQ(store->advance(kMaxTime), expected);
    firedCount += static_cast<int64_t>(expected.size());
    EXPECT_GT(firedCount, 1000);
    EXPECT_EQ(store->timers.nextEventTime(), INT64_MAX);
  }
}

TEST_F(TimerStoreTest, ProcessingTimeTimersFireAtTheClockAndAskForTheNextCallback) {
  auto store = onRocksDb();
  for (int64_t key : {4, 9, 17}) {
    store->setKey(key);
    store->timers.registerProcessingTime(1000 + key);
    store->timers.registerProcessingTime(2000 + key);
  }
  EXPECT_EQ(store->advanceClock(1010), (std::vector<Fired>{{1004, 4}, {1009, 9}}));
  EXPECT_EQ(store->advanceClock(2017), (std::vector<Fired>{{1017, 17}, {2004, 4}, {2009, 9}, {2017, 17}}));
  EXPECT_EQ(store->advanceClock(5000), std::vector<Fired>{});
}

TEST_F(TimerStoreTest, TimersRegisteredWhileFiringAtOrBeforeTheWatermarkFireInTheSameAdvance) {
  auto store = onRocksDb();
  store->timers.setFireRound(2);
  for (int64_t key = 0; key < 10; ++key) {
    store->setKey(key);
    store->timers.registerEventTime(100 + key);
  }
  std::vector<Fired> fired;
  int64_t current = 0;
  store->timers.advanceWatermark(200, [&](int64_t ts, const int64_t& key) {
    fired.emplace_back(ts, key);
    if (ts < 150) {  // each timer sets another 40 ms later for its key
      current = key;
      store->setKey(current);
      store->timers.registerEventTime(ts + 40);
    }
  });
  std::vector<Fired> expected;
  for (int64_t key = 0; key < 10; ++key) expected.emplace_back(100 + key, key);
  for (int64_t key = 0; key < 10; ++key) expected.emplace_back(140 + key, key);
  for (int64_t key = 0; key < 10; ++key) expected.emplace_back(180 + key, key);
  EXPECT_EQ(fired, expected);
}

// A checkpoint of timers in a store: the operator's blob holds only the watermark, the timers
// are in the backend's snapshot; a full snapshot of the backend restores them on the heap (they
// move into its sets) and on RocksDB at another parallelism (two subtasks), and what is left
// fires as from the heap reference.
TEST_F(TimerStoreTest, ACheckpointOfStoredTimersRestoresOnTheHeapAndOnRocksDbAtAnotherParallelism) {
  auto heap = onHeap();
  auto store = onRocksDb();
  for (int64_t key = 0; key < 200; ++key) {
    for (int64_t t = 0; t < 3; ++t) {
      heap->setKey(key);
      store->setKey(key);
      heap->timers.registerEventTime(key * 7 % 100 + t * 50);
      store->timers.registerEventTime(key * 7 % 100 + t * 50);
    }
  }
  ASSERT_EQ(store->advance(60), heap->advance(60));
  std::string blob;
  ASSERT_TRUE(store->timers.snapshot(blob).isOk());
  EXPECT_EQ(blob.size(), 3 * sizeof(int64_t)) << "the watermark and two empty sets";
  auto keyed = store->backend->snapshotKeyed();
  ASSERT_TRUE(keyed.isOk()) << keyed.status().toString();
  const auto expected = heap->advance(kMaxTime);
  ASSERT_GT(expected.size(), 300u);

  auto restoredHeap = onHeap();
  ASSERT_TRUE(restoredHeap->backend->restoreKeyed(*keyed).isOk());
  std::string_view in = blob;
  ASSERT_TRUE(restoredHeap->timers.restore(in).isOk());
  EXPECT_EQ(restoredHeap->advance(kMaxTime), expected);

  std::vector<Fired> split;
  for (int subtask = 0; subtask < 2; ++subtask) {
    auto part = onRocksDb(keyGroupRangeFor(kMaxParallelism, 2, subtask));
    part->timers.setFireRound(16);
    ASSERT_TRUE(part->backend->restoreKeyed(*keyed).isOk());
    std::string_view view = blob;
    ASSERT_TRUE(part->timers.restore(view).isOk());
    for (const Fired& f : part->advance(kMaxTime)) split.push_back(f);
  }
  std::sort(split.begin(), split.end());
  auto sortedExpected = expected;
  std::sort(sortedExpected.begin(), sortedExpected.end());
  EXPECT_EQ(split, sortedExpected);
}

}  // namespace
}  // namespace reka
