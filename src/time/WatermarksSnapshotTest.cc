// Checkpoints of SplitWatermarks: a restored instance goes on exactly as the one it was taken
// from (same watermark and idleness changes), including splits that are idle or that came back
// behind the merged watermark and do not count towards it yet.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "reka/time/Watermarks.h"

namespace reka {
namespace {

WatermarkOptions withIdleness(int64_t boundMs, int64_t idleMs) {
  WatermarkOptions o;
  o.maxOutOfOrdernessMs = boundMs;
  o.idleTimeoutMs = idleMs;
  return o;
}

/// Snapshots `w` and restores the snapshot into a new instance made like it, at `nowMs`.
SplitWatermarks copyByCheckpoint(const SplitWatermarks& w, const WatermarkOptions& options, int splits, int64_t nowMs) {
  std::string blob;
  w.snapshot(blob);
  SplitWatermarks restored(options, splits, nowMs);
  std::string_view in = blob;
  Status s = restored.restore(in, nowMs);
  EXPECT_TRUE(s.isOk()) << s.toString();
  EXPECT_TRUE(in.empty());
  return restored;
}

void expectSameChange(const WatermarkValve::Change& a, const WatermarkValve::Change& b) {
  EXPECT_EQ(a.advanced, b.advanced);
  if (a.advanced) {
    EXPECT_EQ(a.watermark, b.watermark);
  }
  EXPECT_EQ(a.statusChanged, b.statusChanged);
  if (a.statusChanged) {
    EXPECT_EQ(a.idle, b.idle);
  }
}

TEST(WatermarksSnapshotTest, ARestoredSplitBehindTheWatermarkStaysOutOfTheMinimumUntilCaughtUp) {
  const WatermarkOptions options = withIdleness(0, 50);
  SplitWatermarks w(options, 2, 0);
  w.observe(0, 100);
  w.observe(1, 100);
  w.poll(0);
  // Split 1 goes idle while split 0 moves on to 699.
  for (int64_t now = 10; now <= 60; now += 10) {
    w.observe(0, 100 + now * 10);
    w.poll(now);
  }
  // Split 1 reads again, far behind (its watermark 199 < 699): it does not count yet.
  w.observe(1, 200);
  w.poll(70);
  ASSERT_EQ(w.current(), 699);

  w.observe(0, 1000);  // both splits read since the last poll: restore time does not matter
  w.observe(1, 300);
  SplitWatermarks r = copyByCheckpoint(w, options, 2, 5000);
  EXPECT_EQ(r.current(), 699);
  EXPECT_FALSE(r.idle());
  // As in the uninterrupted run: split 0 alone moves time to 999 ...
  r.poll(5010);
  EXPECT_EQ(r.current(), 999);
  // ... split 1 rejoins once it has caught up, then holds time back.
  r.observe(1, 1500);
  r.poll(5020);
  EXPECT_EQ(r.current(), 999);
  r.observe(0, 5000);
  r.poll(5025);
  EXPECT_EQ(r.current(), 1499);
}

TEST(WatermarksSnapshotTest, AllIdleRestoresIdleWithTheFlushedWatermark) {
  const WatermarkOptions options = withIdleness(0, 10);
  SplitWatermarks w(options, 3, 0);
  w.observe(0, 100);
  w.observe(1, 300);
  w.observe(2, 200);
  w.poll(0);
  ASSERT_EQ(w.current(), 99);
  w.poll(20);  // all idle: the highest split watermark is flushed
  ASSERT_TRUE(w.idle());
  ASSERT_EQ(w.current(), 299);

  SplitWatermarks r = copyByCheckpoint(w, options, 3, 100);
  EXPECT_TRUE(r.idle());
  EXPECT_EQ(r.current(), 299);
  // Split 0 comes back behind: active again, without moving time back or holding it.
  r.observe(0, 150);
  WatermarkValve::Change c = r.poll(101);
  EXPECT_TRUE(c.statusChanged);
  EXPECT_FALSE(c.idle);
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(r.current(), 299);
  r.observe(0, 400);
  r.poll(102);
  EXPECT_EQ(r.current(), 399);
}

TEST(WatermarksSnapshotTest, RestoredInstancesGoOnLikeTheOriginalOnRandomRuns) {
  const WatermarkOptions options = withIdleness(5, 40);
  constexpr int kSplits = 3;
  int checked = 0;
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
    SplitWatermarks original(options, kSplits, 0);
    std::vector<int64_t> next(kSplits, 1000);
    std::vector<bool> quiet(kSplits, false);
    int64_t now = 0;
    const int steps = 60;
    const int cut = static_cast<int>(rng() % steps);
    std::unique_ptr<SplitWatermarks> restored;
    for (int step = 0; step < steps; ++step) {
      if (step == cut) {
        // Every split reads once, so that idle timeouts start again at the next poll in both
        // runs (processing time is not part of a checkpoint).
        for (size_t s = 0; s < kSplits; ++s) {
          original.observe(s, next[s]);
          next[s] += static_cast<int64_t>(rng() % 20);
        }
        restored = std::make_unique<SplitWatermarks>(copyByCheckpoint(original, options, kSplits, now));
        EXPECT_EQ(restored->current(), original.current());
        EXPECT_EQ(restored->idle(), original.idle());
        ++checked;
      }
      for (size_t s = 0; s < kSplits; ++s) {
        if (chance(10)) quiet[s] = !quiet[s];
        if (quiet[s] || !chance(60)) continue;
        // Mostly forward, sometimes behind (out of order), sometimes a split far behind.
        int64_t ts = chance(5) ? next[s] - 500 : next[s] - static_cast<int64_t>(rng() % 15);
        next[s] += static_cast<int64_t>(rng() % 30);
        original.observe(s, ts);
        if (restored) restored->observe(s, ts);
      }
      now += static_cast<int64_t>(rng() % 30);
      WatermarkValve::Change a = original.poll(now);
      if (restored) {
        WatermarkValve::Change b = restored->poll(now);
        expectSameChange(a, b);
        ASSERT_EQ(restored->current(), original.current()) << "step " << step << ", cut " << cut;
        ASSERT_EQ(restored->idle(), original.idle());
      }
    }
  }
  EXPECT_EQ(checked, 200);
}

TEST(WatermarksSnapshotTest, CustomGeneratorsStartFromTheSplitsHighestTimestamp) {
  struct MaxMinusTen final : WatermarkGenerator {
    int64_t max = kMinTime;
    void onEvent(int64_t ts) override { max = std::max(max, ts); }
    int64_t currentWatermark() const override { return max == kMinTime ? kMinTime : max - 10; }
  };
  WatermarkOptions options;
  options.kind = WatermarkOptions::Kind::kCustom;
  options.makeGenerator = [] { return std::make_unique<MaxMinusTen>(); };
  SplitWatermarks w(options, 1, 0);
  w.observe(0, 500);
  w.poll(0);
  ASSERT_EQ(w.current(), 490);

  SplitWatermarks r = copyByCheckpoint(w, options, 1, 0);
  EXPECT_EQ(r.current(), 490);
  r.observe(0, 300);  // a new generator that had not seen 500 would say 290
  r.poll(1);
  EXPECT_EQ(r.current(), 490);
  r.observe(0, 600);
  r.poll(2);
  EXPECT_EQ(r.current(), 590);
}

TEST(WatermarksSnapshotTest, RestoreRejectsOtherSplitCountsAndTruncatedInput) {
  const WatermarkOptions options = withIdleness(0, 0);
  SplitWatermarks w(options, 2, 0);
  w.observe(0, 10);
  w.poll(0);
  std::string blob;
  w.snapshot(blob);

  SplitWatermarks three(options, 3, 0);
  std::string_view in = blob;
  EXPECT_EQ(three.restore(in, 0).code(), StatusCode::kInvalidArgument);
  for (size_t n = 0; n < blob.size(); ++n) {
    SplitWatermarks two(options, 2, 0);
    std::string_view part = std::string_view(blob).substr(0, n);
    EXPECT_EQ(two.restore(part, 0).code(), StatusCode::kCorruption) << n;
  }
}

}  // namespace
}  // namespace reka
