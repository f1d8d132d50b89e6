// State TTL (StateTtlConfig) on both backends: expiry in processing and event time, the update
// types and visibilities, the heap's incremental cleanup, RocksDB's compaction filter, a
// job-wide default TTL, and TTL state through a checkpoint.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "reka/state/KeyedState.h"
#include "reka/state/RocksDbBackend.h"

namespace reka {
namespace {

constexpr int kMaxParallelism = 16;
using Snapshot = std::map<std::string, std::map<int32_t, std::string>>;

enum class Kind { kHeap, kRocksDb };

class StateTtlTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == Kind::kRocksDb) {
      RocksDbOptions o;
      o.localDir = std::filesystem::temp_directory_path().string();
      o.blockCacheBytes = 8 << 20;
      o.writeBufferBytes = 4 << 20;
      auto env = RocksDbEnvironment::open(o);
      ASSERT_TRUE(env.isOk()) << env.status().toString();
      env_ = *env;
    }
    backend_ = make();
  }
  std::unique_ptr<StateBackend> make() {
    const KeyGroupRange all = keyGroupRangeFor(kMaxParallelism, 1, 0);
    if (GetParam() == Kind::kHeap) return std::make_unique<HeapStateBackend>(all, kMaxParallelism);
    auto b = openRocksDbStateBackend(env_, "op-" + std::to_string(made_++), all, kMaxParallelism);
    EXPECT_TRUE(b.isOk()) << b.status().toString();
    return b.isOk() ? std::move(b).value() : nullptr;
  }
  StateTtlConfig ttl(int64_t ms) {
    StateTtlConfig c;
    c.ttl = std::chrono::milliseconds(ms);
    c.clock = [this] { return now_; };
    return c;
  }
  void setKey(int64_t k) {
    key_ = k;
    ctx_.key = &key_;
    ctx_.keyGroup = keyGroupFor(hashKey(k), kMaxParallelism);
  }
  /// Entries of state `name` in a full snapshot (what a checkpoint would hold).
  size_t entries(StateBackend& b, const std::string& name) {
    size_t n = 0;
    StateTable* t = b.findTable(name);
    EXPECT_NE(t, nullptr) << name;
    for (int32_t kg = 0; kg < kMaxParallelism; ++kg) {
      std::string bytes;
      EXPECT_TRUE(t->snapshotKeyGroup(KeyGroup{kg}, bytes).isOk());
      uint64_t count = 0;
      std::string_view in = bytes;
      EXPECT_TRUE(Serde<uint64_t>::read(in, count));
      n += count;
    }
    return n;
  }

  std::shared_ptr<RocksDbEnvironment> env_;
  std::unique_ptr<StateBackend> backend_;
  int made_ = 0;
  int64_t now_ = 1000;
  int64_t key_ = 0;
  KeyContext<int64_t> ctx_;
};

TEST_P(StateTtlTest, AValueExpiresTtlAfterItsLastWrite) {
  KeyedStateRegistry<int64_t> r(backend_.get(), &ctx_, "f/");
  auto v = r.valueState<int64_t>("v", ttl(100));
  ASSERT_TRUE(r.status().isOk()) << r.status().toString();
  setKey(1);
  v.update(7);
  now_ = 1099;
  ASSERT_NE(v.peek(), nullptr);
  EXPECT_EQ(*v.peek(), 7);  // a read does not extend the life (kOnCreateAndWrite)
  now_ = 1100;
  EXPECT_EQ(v.peek(), nullptr);
  EXPECT_FALSE(v.contains());
  v.getOrCreate() += 1;  // an expired value is not the start of a new one
  ASSERT_NE(v.peek(), nullptr);
  EXPECT_EQ(*v.peek(), 1);
  now_ = 1150;
  v.update(9);  // a write extends it
  now_ = 1249;
  ASSERT_NE(v.peek(), nullptr);
  EXPECT_EQ(*v.peek(), 9);
}

TEST_P(StateTtlTest, OnReadAndWriteAReadExtendsTheLife) {
  KeyedStateRegistry<int64_t> r(backend_.get(), &ctx_, "f/");
  StateTtlConfig c = ttl(100);
  c.update = StateTtlConfig::UpdateType::kOnReadAndWrite;
  auto v = r.valueState<int64_t>("v", c);
  setKey(1);
  v.update(7);
  for (now_ = 1050; now_ <= 1500; now_ += 50) {
    ASSERT_NE(v.peek(), nullptr) << "at " << now_;
  }
  now_ += 100;
  EXPECT_EQ(v.peek(), nullptr);
}

TEST_P(StateTtlTest, ReturnExpiredIfNotCleanedUpShowsItUntilACleanup) {
  KeyedStateRegistry<int64_t> r(backend_.get(), &ctx_, "f/");
  StateTtlConfig c = ttl(100);
  c.visibility = StateTtlConfig::Visibility::kReturnExpiredIfNotCleanedUp;
  c.cleanupEveryAccesses = 0;  // no sweep: only a compaction (RocksDB) cleans up
  auto v = r.valueState<int64_t>("v", c);
  setKey(1);
  v.update(7);
  now_ = 5000;
  ASSERT_NE(v.peek(), nullptr);
  EXPECT_EQ(*v.peek(), 7);
  if (GetParam() == Kind::kRocksDb) {
    setKey(2);  // key 1 is written back from the handle's cache, and the next read of it goes to
                // RocksDB
    (void)v.peek();
    ASSERT_TRUE(compactRocksDbStateBackend(*backend_).isOk());
    setKey(1);
    EXPECT_EQ(v.peek(), nullptr) << "the compaction filter did not drop the expired value";
  }
}

TEST_P(StateTtlTest, EventTimeTtlFollowsTheWatermark) {
  int64_t watermark = INT64_MIN;
  ctx_.watermark = &watermark;
  KeyedStateRegistry<int64_t> r(backend_.get(), &ctx_, "f/");
  StateTtlConfig c;
  c.ttl = std::chrono::milliseconds(10'000);
  c.time = StateTtlConfig::TimeCharacteristic::kEventTime;
  auto l = r.listState<std::string>("l", c);
  setKey(3);
  l.add("before the first watermark");
  watermark = 50'000;  // the value counts as written now
  ASSERT_TRUE(l.contains());
  watermark = 59'999;
  ASSERT_TRUE(l.contains());
  EXPECT_EQ(l.get(),
            std::vector<std::string>{
                "before the first watermark"});  // a write (get() may change it): stamped 59 999
  watermark = 69'998;
  EXPECT_TRUE(l.contains());
  watermark = 69'999;
  EXPECT_FALSE(l.contains());
  l.add("x");
  EXPECT_EQ(l.get(), std::vector<std::string>{"x"});
}

TEST_P(StateTtlTest, ExpiredValuesAreCleanedUpWithoutBeingRead) {
  KeyedStateRegistry<int64_t> r(backend_.get(), &ctx_, "f/");
  StateTtlConfig c = ttl(100);
  c.cleanupEveryAccesses = 10;
  auto v = r.valueState<int64_t>("v", c);
  for (int64_t k = 0; k < 500; ++k) {
    setKey(k);
    v.update(k);
  }
  now_ = 2000;
  setKey(1000);
  v.update(1);  // one live key
  if (GetParam() == Kind::kHeap) {
    // Every 10th access sweeps one of the 16 key groups: 160 accesses sweep them all.
    for (int i = 0; i < 160; ++i) (void)v.peek();
  } else {
    ASSERT_TRUE(compactRocksDbStateBackend(*backend_).isOk());
  }
  EXPECT_EQ(entries(*backend_, "f/v/ttl"), 1u);
}

TEST_P(StateTtlTest, ADefaultTtlAppliesToStateWithoutItsOwn) {
  StateTtlConfig c = ttl(100);
  backend_->setDefaultTtl(c);
  KeyedStateRegistry<int64_t> r(backend_.get(), &ctx_, "f/");
  auto m = r.mapState<int32_t, std::string>("m");
  StateTtlConfig none;
  auto kept = r.valueState<int64_t>("kept", none);  // its own setting: no TTL
  ASSERT_TRUE(r.status().isOk()) << r.status().toString();
  setKey(1);
  m.put(1, "a");
  kept.update(5);
  now_ = 1100;
  EXPECT_EQ(m.get(1), nullptr);
  ASSERT_NE(kept.peek(), nullptr);
  EXPECT_EQ(*kept.peek(), 5);
  EXPECT_NE(backend_->findTable("f/m/ttl"), nullptr);
  EXPECT_NE(backend_->findTable("f/kept"), nullptr);
}

TEST_P(StateTtlTest, StampsSurviveACheckpointOnEitherBackend) {
  KeyedStateRegistry<int64_t> r(backend_.get(), &ctx_, "f/");
  auto v = r.valueState<int64_t>("v", ttl(100));
  setKey(1);
  v.update(1);  // stamped 1000
  now_ = 1050;
  setKey(2);
  v.update(2);  // stamped 1050
  auto snapped = backend_->snapshotKeyed();
  ASSERT_TRUE(snapped.isOk());
  const Snapshot snap = snapped.value();
  for (Kind to : {Kind::kHeap, Kind::kRocksDb}) {
    std::unique_ptr<StateBackend> restored;
    if (to == Kind::kHeap) {
      restored = std::make_unique<HeapStateBackend>(keyGroupRangeFor(kMaxParallelism, 1, 0),
                                                    kMaxParallelism);
    } else {
      if (!env_) {
        auto env = RocksDbEnvironment::open(RocksDbOptions{});
        ASSERT_TRUE(env.isOk()) << env.status().toString();
        env_ = env.value();
      }
      auto opened =
          openRocksDbStateBackend(env_, "restored-" + std::to_string(made_++),
                                  keyGroupRangeFor(kMaxParallelism, 1, 0), kMaxParallelism);
      ASSERT_TRUE(opened.isOk()) << opened.status().toString();
      restored = std::move(opened).value();
    }
    KeyContext<int64_t> ctx;
    KeyedStateRegistry<int64_t> r2(restored.get(), &ctx, "f/");
    auto v2 = r2.valueState<int64_t>("v", ttl(100));
    ASSERT_TRUE(restored->restoreKeyed(snap).isOk());
    now_ = 1120;  // key 1 has expired, key 2 has not
    const int64_t k1 = 1, k2 = 2;
    ctx.key = &k1;
    ctx.keyGroup = keyGroupFor(hashKey(k1), kMaxParallelism);
    EXPECT_EQ(v2.peek(), nullptr);
    ctx.key = &k2;
    ctx.keyGroup = keyGroupFor(hashKey(k2), kMaxParallelism);
    ASSERT_NE(v2.peek(), nullptr);
    EXPECT_EQ(*v2.peek(), 2);
    now_ = 1050;
  }
}

/// StateTtlConfig::cleanupFullSnapshot: a full snapshot leaves out values expired when it is
/// taken, so a restore does not see them even where expired values are otherwise visible; the
/// heap drops them from memory too. Without it, they are in the snapshot and come back.
TEST_P(StateTtlTest, FullSnapshotsLeaveOutExpiredValuesWhenAsked) {
  for (const bool cleanup : {false, true}) {
    SCOPED_TRACE(cleanup ? "cleanupFullSnapshot" : "without");
    now_ = 1000;
    std::unique_ptr<StateBackend> backend = make();
    KeyedStateRegistry<int64_t> r(backend.get(), &ctx_, "f/");
    StateTtlConfig c = ttl(100);
    c.visibility = StateTtlConfig::Visibility::kReturnExpiredIfNotCleanedUp;
    c.cleanupEveryAccesses = 0;  // no sweep
    c.cleanupFullSnapshot = cleanup;
    auto v = r.valueState<int64_t>("v", c);
    setKey(1);
    v.update(1);  // stamped 1000
    setKey(2);
    v.update(2);  // stamped 1000
    now_ = 1200;
    setKey(3);
    v.update(3);  // stamped 1200; the horizon is now 1100: keys 1 and 2 have expired
    setKey(1);
    ASSERT_NE(v.peek(), nullptr) << "expired values stay visible until a cleanup";
    EXPECT_EQ(entries(*backend, "f/v/ttl"), cleanup ? 1u : 3u);
    if (GetParam() == Kind::kHeap) {
      EXPECT_EQ(backend->findTable("f/v/ttl")->keyCount(), cleanup ? 1u : 3u);
    }
    auto snapped = backend->snapshotKeyed();
    ASSERT_TRUE(snapped.isOk()) << snapped.status().toString();
    std::unique_ptr<StateBackend> restored = make();
    KeyContext<int64_t> ctx;
    KeyedStateRegistry<int64_t> r2(restored.get(), &ctx, "f/");
    auto v2 = r2.valueState<int64_t>("v", c);
    ASSERT_TRUE(restored->restoreKeyed(snapped.value()).isOk());
    for (const int64_t k : {int64_t{1}, int64_t{2}, int64_t{3}}) {
      ctx.key = &k;
      ctx.keyGroup = keyGroupFor(hashKey(k), kMaxParallelism);
      if (k == 3 || !cleanup) {
        ASSERT_NE(v2.peek(), nullptr) << k;
        EXPECT_EQ(*v2.peek(), k);
      } else {
        EXPECT_EQ(v2.peek(), nullptr) << k;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StateTtlTest, ::testing::Values(Kind::kHeap, Kind::kRocksDb),
                         [](const ::testing::TestParamInfo<Kind>& i) {
                           return i.param == Kind::kHeap ? "heap" : "rocksdb";
                         });

}  // namespace
}  // namespace reka
