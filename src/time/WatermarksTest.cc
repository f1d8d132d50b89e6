#include "reka/time/Watermarks.h"
#include "reka/time/Windows.h"

#include <gtest/gtest.h>

#include <limits>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace reka {
namespace {

using std::chrono::milliseconds;

struct Event {
  int64_t ts = 0;
};

auto tsOf = [](const Event& e) { return e.ts; };

WatermarkOptions bounded(int64_t boundMs) {
  WatermarkOptions o;
  o.maxOutOfOrdernessMs = boundMs;
  return o;
}

// ---------------------------------------------------------------------------------------------
// WatermarkStrategy

TEST(WatermarksTest, BoundedOutOfOrdernessStrategyCarriesTheBoundAndTheTimestamp) {
  auto s = watermarks::boundedOutOfOrderness<Event>(milliseconds(250), tsOf);
  EXPECT_EQ(s.options().kind, WatermarkOptions::Kind::kBoundedOutOfOrderness);
  EXPECT_EQ(s.options().maxOutOfOrdernessMs, 250);
  EXPECT_EQ(s.options().idleTimeoutMs, 0);
  EXPECT_EQ(s.options().maxAheadMs, 0);
  EXPECT_EQ(s.timestampOf(Event{1234}), 1234);
}

TEST(WatermarksTest, MonotonousTimestampsIsABoundOfZero) {
  auto s = watermarks::monotonousTimestamps<Event>(tsOf);
  EXPECT_EQ(s.options().kind, WatermarkOptions::Kind::kBoundedOutOfOrderness);
  EXPECT_EQ(s.options().maxOutOfOrdernessMs, 0);
}

TEST(WatermarksTest, WithIdlenessAndWithMaxAheadReturnCopies) {
  auto base = watermarks::boundedOutOfOrderness<Event>(milliseconds(10), tsOf);
  auto idle = base.withIdleness(milliseconds(50));
  auto both = idle.withMaxAhead(milliseconds(1000));
  EXPECT_EQ(base.options().idleTimeoutMs, 0);
  EXPECT_EQ(base.options().maxAheadMs, 0);
  EXPECT_EQ(idle.options().idleTimeoutMs, 50);
  EXPECT_EQ(idle.options().maxAheadMs, 0);
  EXPECT_EQ(both.options().idleTimeoutMs, 50);
  EXPECT_EQ(both.options().maxAheadMs, 1000);
  EXPECT_EQ(both.options().maxOutOfOrdernessMs, 10);
}

// ---------------------------------------------------------------------------------------------
// SplitWatermarks: bounded out-of-orderness

TEST(WatermarksTest, NoWatermarkBeforeTheFirstRecord) {
  SplitWatermarks w(bounded(10), 1, 0);
  WatermarkValve::Change c = w.poll(1);
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(w.current(), kMinTime);
  EXPECT_FALSE(w.idle());
}

TEST(WatermarksTest, BoundedOutOfOrdernessIsMaxMinusBoundMinusOne) {
  SplitWatermarks w(bounded(100), 1, 0);
  w.observe(0, 1000);
  WatermarkValve::Change c = w.poll(1);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 1000 - 100 - 1);
  EXPECT_EQ(w.current(), 899);

  // Out-of-order records below the highest timestamp do not move it.
  w.observe(0, 950);
  w.observe(0, 500);
  c = w.poll(2);
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(w.current(), 899);

  // The highest timestamp of the records since the last poll counts, whatever their order.
  w.observe(0, 1300);
  w.observe(0, 1200);
  c = w.poll(3);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(w.current(), 1199);
}

TEST(WatermarksTest, MonotonousWatermarkTrailsTheHighestTimestampByOne) {
  SplitWatermarks w(bounded(0), 1, 0);
  for (int64_t ts : {0, 1, 5, 5, 9}) {
    w.observe(0, ts);
    w.poll(ts);
    EXPECT_EQ(w.current(), ts - 1);
  }
}

TEST(WatermarksTest, NegativeTimestampsWork) {
  SplitWatermarks w(bounded(5), 1, 0);
  w.observe(0, -100);
  w.poll(1);
  EXPECT_EQ(w.current(), -106);
}

TEST(WatermarksTest, ZeroSplitsMeansOne) {
  SplitWatermarks w(bounded(0), 0, 0);
  EXPECT_EQ(w.splitCount(), 1u);
  w.observe(0, 10);
  w.poll(1);
  EXPECT_EQ(w.current(), 9);
}

TEST(WatermarksTest, MergedWatermarkIsTheMinimumOverSplits) {
  SplitWatermarks w(bounded(0), 3, 0);
  EXPECT_EQ(w.splitCount(), 3u);
  w.observe(0, 1000);
  w.observe(1, 500);
  w.poll(1);
  EXPECT_EQ(w.current(), kMinTime);  // split 2 has no record yet

  w.observe(2, 700);
  WatermarkValve::Change c = w.poll(2);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 499);

  w.observe(1, 2000);
  w.poll(3);
  EXPECT_EQ(w.current(), 699);
  w.observe(2, 3000);
  w.poll(4);
  EXPECT_EQ(w.current(), 999);
}

TEST(WatermarksTest, SplitsKeepTheirOwnHighestTimestamp) {
  SplitWatermarks w(bounded(10), 2, 0);
  w.observe(0, 100);
  w.observe(1, 5000);  // far ahead on another split: does not raise split 0
  w.poll(1);
  EXPECT_EQ(w.current(), 89);
}

// ---------------------------------------------------------------------------------------------
// Custom generators

/// Emits the last timestamp it saw minus one (a generator that trusts every record) and counts
/// the events it was given.
class LastSeenGenerator final : public WatermarkGenerator {
 public:
  explicit LastSeenGenerator(std::shared_ptr<std::vector<int64_t>> seen) : seen_(std::move(seen)) {}
  void onEvent(int64_t timestamp) override {
    seen_->push_back(timestamp);
    last_ = timestamp;
  }
  int64_t currentWatermark() const override { return last_ == kMinTime ? kMinTime : last_ - 1; }

 private:
  std::shared_ptr<std::vector<int64_t>> seen_;
  int64_t last_ = kMinTime;
};

TEST(WatermarksTest, CustomGeneratorSeesEveryTimestampAndDecidesTheWatermark) {
  auto seen = std::make_shared<std::vector<int64_t>>();
  auto s = watermarks::custom<Event>([seen] { return std::make_unique<LastSeenGenerator>(seen); }, tsOf);
  EXPECT_EQ(s.options().kind, WatermarkOptions::Kind::kCustom);

  SplitWatermarks w(s.options(), 1, 0);
  EXPECT_EQ(w.poll(1).advanced, false);  // the generator says "no watermark yet"
  w.observe(0, 100);
  w.observe(0, 300);
  w.observe(0, 200);
  WatermarkValve::Change c = w.poll(2);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 199);  // the generator's choice, not max − 1
  EXPECT_EQ(*seen, (std::vector<int64_t>{100, 300, 200}));

  // A generator's watermark going backwards does not move the merged one back.
  w.observe(0, 50);
  c = w.poll(3);
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(w.current(), 199);
}

TEST(WatermarksTest, CustomGeneratorIsMadeOncePerSplit) {
  int made = 0;
  WatermarkOptions o;
  o.kind = WatermarkOptions::Kind::kCustom;
  auto seen = std::make_shared<std::vector<int64_t>>();
  o.makeGenerator = [&made, seen] {
    ++made;
    return std::make_unique<LastSeenGenerator>(seen);
  };
  SplitWatermarks w(o, 3, 0);
  EXPECT_EQ(made, 3);
  w.observe(0, 10);
  w.observe(1, 30);
  w.observe(2, 20);
  w.poll(1);
  EXPECT_EQ(w.current(), 9);
}

// ---------------------------------------------------------------------------------------------
// Idleness

WatermarkOptions withIdleness(int64_t boundMs, int64_t idleMs) {
  WatermarkOptions o = bounded(boundMs);
  o.idleTimeoutMs = idleMs;
  return o;
}

TEST(WatermarksTest, WithoutIdlenessAQuietSplitHoldsTimeBackForever) {
  SplitWatermarks w(bounded(0), 2, 0);
  w.observe(0, 100);
  w.observe(1, 10);
  w.poll(1);
  ASSERT_EQ(w.current(), 9);
  for (int64_t now = 2; now < 1'000'000; now *= 10) {
    w.observe(0, 100 + now);
    w.poll(now);
    EXPECT_EQ(w.current(), 9);
    EXPECT_FALSE(w.idle());
  }
}

TEST(WatermarksTest, QuietSplitGoesIdleAfterTheTimeoutAndStopsHoldingTimeBack) {
  SplitWatermarks w(withIdleness(0, 50), 2, /*nowMs=*/0);
  w.observe(0, 1000);
  w.observe(1, 10);
  w.poll(0);
  ASSERT_EQ(w.current(), 9);

  // Split 0 keeps reading; split 1 is quiet.
  w.observe(0, 1100);
  w.poll(30);
  EXPECT_EQ(w.current(), 9);  // split 1 quiet for 30 ms: not idle yet
  w.observe(0, 1200);
  w.poll(49);
  EXPECT_EQ(w.current(), 9);  // 49 ms
  EXPECT_FALSE(w.idle());

  w.observe(0, 1300);
  WatermarkValve::Change c = w.poll(50);  // 50 ms: idle
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 1299);
  EXPECT_FALSE(w.idle());  // split 0 is still active
}

TEST(WatermarksTest, SplitThatNeverReadsGoesIdleTimedFromInit) {
  SplitWatermarks w(withIdleness(0, 50), 2, /*nowMs=*/1000);
  w.observe(0, 7);
  w.poll(1040);
  EXPECT_EQ(w.current(), kMinTime);
  w.observe(0, 8);
  w.poll(1050);
  EXPECT_EQ(w.current(), 7);
}

TEST(WatermarksTest, AllSplitsIdleMakesTheSourceIdle) {
  SplitWatermarks w(withIdleness(0, 50), 2, 0);
  w.observe(0, 300);
  w.observe(1, 100);
  w.poll(0);
  ASSERT_EQ(w.current(), 99);
  WatermarkValve::Change c = w.poll(60);  // both quiet since 0
  EXPECT_TRUE(w.idle());
  EXPECT_TRUE(c.statusChanged);
  EXPECT_TRUE(c.idle);
  // Nothing can advance any more: the highest split watermark is flushed.
  EXPECT_EQ(w.current(), 299);

  // A record makes the source active again.
  w.observe(0, 400);
  c = w.poll(70);
  EXPECT_FALSE(w.idle());
  EXPECT_TRUE(c.statusChanged);
  EXPECT_FALSE(c.idle);
  EXPECT_EQ(w.current(), 399);
}

TEST(WatermarksTest, ReactivatedSplitDoesNotMoveTimeBackwardsAndRejoinsWhenCaughtUp) {
  SplitWatermarks w(withIdleness(0, 50), 2, 0);
  w.observe(0, 100);
  w.observe(1, 100);
  w.poll(0);
  ASSERT_EQ(w.current(), 99);

  // Split 1 goes idle while split 0 moves on.
  for (int64_t now = 10; now <= 60; now += 10) {
    w.observe(0, 100 + now * 10);
    w.poll(now);
  }
  ASSERT_EQ(w.current(), 699);

  // Split 1 reads again, far behind: time does not move back, and split 1 does not hold
  // split 0 back until it has caught up.
  w.observe(1, 200);
  WatermarkValve::Change c = w.poll(70);
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(w.current(), 699);
  w.observe(0, 1000);
  w.observe(1, 300);
  w.poll(80);
  EXPECT_EQ(w.current(), 999);

  // Caught up: the minimum includes it again.
  w.observe(1, 1500);
  w.poll(90);
  EXPECT_EQ(w.current(), 999);
  w.observe(0, 5000);
  w.poll(95);
  EXPECT_EQ(w.current(), 1499);
  w.observe(1, 6000);
  w.poll(100);
  EXPECT_EQ(w.current(), 4999);
}

TEST(WatermarksTest, ActivityResetsTheIdleTimeout) {
  SplitWatermarks w(withIdleness(0, 50), 2, 0);
  w.observe(0, 1000);
  w.observe(1, 10);
  w.poll(0);
  // Split 1 reads a record every 40 ms: never idle, always the minimum.
  for (int64_t now = 40; now <= 400; now += 40) {
    w.observe(0, 1000 + now);
    w.observe(1, 10 + now);
    w.poll(now);
    EXPECT_EQ(w.current(), 9 + now);
  }
}

// ---------------------------------------------------------------------------------------------
// Far-future cap

WatermarkOptions withMaxAhead(int64_t boundMs, int64_t capMs) {
  WatermarkOptions o = bounded(boundMs);
  o.maxAheadMs = capMs;
  return o;
}

// The hostile tester's timestamps: near the 64-bit limits, a watermark of max − bound − 1
// wrapped around (INT64_MIN + 1 − 4000 − 1 became a huge positive time) and the cap's
// difference overflowed. Both saturate now.
TEST(WatermarksTest, TimestampsNearThe64BitLimitsDoNotWrapTheWatermark) {
  SplitWatermarks low(bounded(4000), 1, 0);
  low.observe(0, std::numeric_limits<int64_t>::min() + 1);
  low.poll(1);
  EXPECT_LE(low.current(), std::numeric_limits<int64_t>::min() + 1);

  SplitWatermarks high(bounded(4000), 1, 0);
  high.observe(0, std::numeric_limits<int64_t>::max());
  high.poll(1);
  EXPECT_EQ(high.current(), std::numeric_limits<int64_t>::max() - 4001);

  // The cap: from a very negative highest timestamp to a very positive one the difference does
  // not fit in 64 bits; the record is capped, not let through.
  SplitWatermarks capped(withMaxAhead(0, 1000), 1, 0);
  capped.observe(0, -9'000'000'000'000'000'000);
  capped.observe(0, 9'000'000'000'000'000'000);
  capped.poll(1);
  EXPECT_EQ(capped.current(), -9'000'000'000'000'000'000 + 1000 - 1);
  EXPECT_EQ(capped.cappedRecords(), 1);
}

TEST(WatermarksTest, SaturatingArithmeticClampsInsteadOfWrapping) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(addSaturating(kMax, 1), kMax);
  EXPECT_EQ(addSaturating(kMin, -1), kMin);
  EXPECT_EQ(addSaturating(5, -7), -2);
  EXPECT_EQ(subSaturating(kMin, 1), kMin);
  EXPECT_EQ(subSaturating(kMax, -1), kMax);
  EXPECT_EQ(subSaturating(-2, 5), -7);
  // Window starts: aligned, and never below the 64-bit range.
  EXPECT_EQ(windowStartFor(kMax, 0, 10'000), kMax - kMax % 10'000);
  EXPECT_EQ(windowStartFor(kMin, 0, 10'000), kMin);  // the true start lies below kMin
  EXPECT_EQ(windowStartFor(-1, 0, 10), -10);
  EXPECT_EQ(windowStartFor(7, 3, 10), 3);
  EXPECT_EQ(windowStartFor(2, 3, 10), -7);
  EXPECT_TRUE(isValidEventTimestamp(kMaxEventTimestamp));
  EXPECT_FALSE(isValidEventTimestamp(kMaxEventTimestamp + 1));
  EXPECT_TRUE(isValidEventTimestamp(kMinEventTimestamp));
  EXPECT_FALSE(isValidEventTimestamp(kMinEventTimestamp - 1));
}

TEST(WatermarksTest, FarFutureTimestampMovesTimeAtMostMaxAheadBeyondThePreviousHighest) {
  SplitWatermarks w(withMaxAhead(0, 1000), 1, 0);
  w.observe(0, 5000);
  w.poll(1);
  ASSERT_EQ(w.current(), 4999);

  w.observe(0, 5'000'000'000);  // a broken clock
  w.poll(2);
  EXPECT_EQ(w.current(), 5000 + 1000 - 1);
  EXPECT_EQ(w.cappedRecords(), 1);

  // Each further far-future record can move it one more cap at most.
  w.observe(0, 5'000'000'000);
  w.poll(3);
  EXPECT_EQ(w.current(), 5000 + 2000 - 1);
  EXPECT_EQ(w.cappedRecords(), 2);

  // Records within the cap are not capped.
  w.observe(0, 7000 + 1000);
  w.observe(0, 7000 + 500);
  w.poll(4);
  EXPECT_EQ(w.current(), 7999);
  EXPECT_EQ(w.cappedRecords(), 2);
}

TEST(WatermarksTest, CapAppliesWithTheBoundToo) {
  SplitWatermarks w(withMaxAhead(100, 1000), 1, 0);
  w.observe(0, 5000);
  w.observe(0, 1'000'000);
  w.poll(1);
  EXPECT_EQ(w.current(), 6000 - 100 - 1);
  EXPECT_EQ(w.cappedRecords(), 1);
}

TEST(WatermarksTest, CapIsPerSplit) {
  SplitWatermarks w(withMaxAhead(0, 100), 2, 0);
  w.observe(0, 1000);
  w.observe(1, 10);
  w.observe(1, 900);  // split 1's previous highest is 10, not split 0's 1000
  w.poll(1);
  EXPECT_EQ(w.cappedRecords(), 1);
  EXPECT_EQ(w.current(), 109);
}

TEST(WatermarksTest, WithoutACapAFarFutureTimestampMovesTimeAtOnce) {
  SplitWatermarks w(bounded(0), 1, 0);
  w.observe(0, 5000);
  w.observe(0, 5'000'000'000);
  w.poll(1);
  EXPECT_EQ(w.current(), 4'999'999'999);
  EXPECT_EQ(w.cappedRecords(), 0);
}

TEST(WatermarksTest, CapAppliesToCustomGenerators) {
  auto seen = std::make_shared<std::vector<int64_t>>();
  WatermarkOptions o;
  o.kind = WatermarkOptions::Kind::kCustom;
  o.makeGenerator = [seen] { return std::make_unique<LastSeenGenerator>(seen); };
  o.maxAheadMs = 1000;
  SplitWatermarks w(o, 1, 0);
  w.observe(0, 5000);
  w.observe(0, 5'000'000'000);
  w.poll(1);
  EXPECT_EQ(w.cappedRecords(), 1);
  EXPECT_EQ(*seen, (std::vector<int64_t>{5000, 6000}));
  EXPECT_EQ(w.current(), 5999);
}

}  // namespace
}  // namespace reka
