#include "reka/time/WatermarkValve.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace reka {
namespace {

TEST(WatermarkValveTest, StartsAtMinTimeAndActive) {
  WatermarkValve valve(3);
  EXPECT_EQ(valve.inputs(), 3u);
  EXPECT_EQ(valve.current(), kMinTime);
  EXPECT_FALSE(valve.idle());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(valve.inputWatermark(i), kMinTime);
    EXPECT_FALSE(valve.inputIdle(i));
  }
}

TEST(WatermarkValveTest, MergedWatermarkIsTheMinimumOverInputs) {
  WatermarkValve valve(3);
  // Input 2 has reported nothing yet: it holds the merged watermark at kMinTime.
  EXPECT_FALSE(valve.onWatermark(0, 10).advanced);
  EXPECT_FALSE(valve.onWatermark(1, 20).advanced);
  EXPECT_EQ(valve.current(), kMinTime);

  WatermarkValve::Change c = valve.onWatermark(2, 15);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 10);
  EXPECT_FALSE(c.statusChanged);
  EXPECT_EQ(valve.current(), 10);

  c = valve.onWatermark(0, 30);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 15);

  // Advancing an input that is not the minimum does not move the merged watermark.
  c = valve.onWatermark(0, 40);
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(valve.current(), 15);
  EXPECT_EQ(valve.inputWatermark(0), 40);
}

TEST(WatermarkValveTest, SingleInputFollowsItsWatermark) {
  WatermarkValve valve(1);
  for (int64_t wm : {-5, 0, 7, 100}) {
    WatermarkValve::Change c = valve.onWatermark(0, wm);
    EXPECT_TRUE(c.advanced);
    EXPECT_EQ(c.watermark, wm);
  }
  EXPECT_EQ(valve.current(), 100);
}

TEST(WatermarkValveTest, NeverDecreases) {
  WatermarkValve valve(2);
  valve.onWatermark(0, 100);
  valve.onWatermark(1, 50);
  ASSERT_EQ(valve.current(), 50);

  // A smaller watermark than an input reported before is ignored.
  WatermarkValve::Change c = valve.onWatermark(1, 20);
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(valve.inputWatermark(1), 50);
  EXPECT_EQ(valve.current(), 50);
  // So is the same one again.
  EXPECT_FALSE(valve.onWatermark(1, 50).advanced);

  int64_t last = valve.current();
  for (int64_t wm : {40, 60, 55, 120, 70, 130, 200}) {
    valve.onWatermark(static_cast<size_t>(wm % 2), wm);
    EXPECT_GE(valve.current(), last);
    last = valve.current();
  }
}

TEST(WatermarkValveTest, IdleInputIsLeftOutAndTheOthersAdvance) {
  WatermarkValve valve(3);
  valve.onWatermark(0, 100);
  valve.onWatermark(1, 10);
  valve.onWatermark(2, 80);
  ASSERT_EQ(valve.current(), 10);

  WatermarkValve::Change c = valve.onStatus(1, true);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 80);
  EXPECT_FALSE(c.statusChanged);  // the others are active: the merged status stays active
  EXPECT_FALSE(valve.idle());
  EXPECT_TRUE(valve.inputIdle(1));

  c = valve.onWatermark(2, 300);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 100);

  // Reporting the same status again changes nothing.
  c = valve.onStatus(1, true);
  EXPECT_FALSE(c.advanced);
  EXPECT_FALSE(c.statusChanged);
}

TEST(WatermarkValveTest, InputThatNeverReportedStopsHoldingTimeBackWhenIdle) {
  WatermarkValve valve(2);
  valve.onWatermark(0, 42);
  ASSERT_EQ(valve.current(), kMinTime);
  WatermarkValve::Change c = valve.onStatus(1, true);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 42);
}

TEST(WatermarkValveTest, AllInputsIdleMakesTheMergedStatusIdle) {
  WatermarkValve valve(2);
  valve.onWatermark(0, 10);
  valve.onWatermark(1, 10);

  WatermarkValve::Change c = valve.onStatus(0, true);
  EXPECT_FALSE(c.statusChanged);
  EXPECT_FALSE(valve.idle());

  c = valve.onStatus(1, true);
  EXPECT_TRUE(c.statusChanged);
  EXPECT_TRUE(c.idle);
  EXPECT_TRUE(valve.idle());

  // One input active again: the merged status is active again.
  c = valve.onStatus(0, false);
  EXPECT_TRUE(c.statusChanged);
  EXPECT_FALSE(c.idle);
  EXPECT_FALSE(valve.idle());
}

TEST(WatermarkValveTest, WhenTheLastActiveInputGoesIdleTheMaximumIsFlushed) {
  // Flink's StatusWatermarkValve: once every input is idle no input will advance its
  // watermark, so the merged watermark moves to the highest input watermark.
  WatermarkValve valve(2);
  valve.onWatermark(0, 500);
  valve.onWatermark(1, 100);
  ASSERT_EQ(valve.current(), 100);

  WatermarkValve::Change c = valve.onStatus(1, true);
  ASSERT_EQ(valve.current(), 500);
  c = valve.onStatus(0, true);
  EXPECT_TRUE(c.statusChanged);
  EXPECT_TRUE(c.idle);
  EXPECT_EQ(valve.current(), 500);

  // Both go idle at once (the input holding the minimum goes idle last).
  WatermarkValve both(2);
  both.onWatermark(0, 500);
  both.onWatermark(1, 100);
  c = both.onStatus(0, true);
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(both.current(), 100);
  c = both.onStatus(1, true);
  EXPECT_TRUE(c.statusChanged);
  EXPECT_TRUE(c.idle);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 500);
  EXPECT_EQ(both.current(), 500);

  // An input that becomes active behind the flushed watermark does not pull it back.
  c = both.onStatus(1, false);
  EXPECT_TRUE(c.statusChanged);
  EXPECT_FALSE(c.idle);
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(both.current(), 500);
  c = both.onWatermark(1, 600);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 600);
}

TEST(WatermarkValveTest, AllIdleWithoutAnyWatermarkStaysAtMinTime) {
  WatermarkValve valve(2);
  valve.onStatus(0, true);
  WatermarkValve::Change c = valve.onStatus(1, true);
  EXPECT_TRUE(c.idle);
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(valve.current(), kMinTime);
}

TEST(WatermarkValveTest, WatermarkOfAnIdleInputCountsOnlyOnceItIsActive) {
  WatermarkValve valve(2);
  valve.onWatermark(0, 100);
  valve.onWatermark(1, 100);
  valve.onStatus(1, true);
  valve.onWatermark(0, 200);
  ASSERT_EQ(valve.current(), 200);

  // Input 1 reports while idle: remembered, but it neither advances nor holds back.
  WatermarkValve::Change c = valve.onWatermark(1, 250);
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(valve.inputWatermark(1), 250);
  c = valve.onWatermark(0, 400);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 400);

  // Active again behind the merged watermark (250 < 400): it does not pull it back.
  c = valve.onStatus(1, false);
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(valve.current(), 400);
}

TEST(WatermarkValveTest, ReactivatedInputRejoinsOnlyOnceCaughtUp) {
  WatermarkValve valve(2);
  valve.onWatermark(0, 10);
  valve.onWatermark(1, 10);
  valve.onStatus(1, true);
  valve.onWatermark(0, 100);
  ASSERT_EQ(valve.current(), 100);

  // Input 1 is active again, still at 10: the merged watermark stays at 100.
  WatermarkValve::Change c = valve.onStatus(1, false);
  EXPECT_FALSE(c.advanced);
  EXPECT_FALSE(c.statusChanged);
  EXPECT_FALSE(valve.inputIdle(1));
  EXPECT_EQ(valve.current(), 100);

  // While it is behind, it does not hold back input 0 either.
  c = valve.onWatermark(0, 150);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 150);
  c = valve.onWatermark(1, 120);  // still behind
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(valve.current(), 150);
  c = valve.onWatermark(0, 300);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 300);

  // Caught up: it counts again and holds the minimum.
  c = valve.onWatermark(1, 320);
  EXPECT_FALSE(c.advanced);
  EXPECT_EQ(valve.current(), 300);
  c = valve.onWatermark(0, 1000);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 320);
  c = valve.onWatermark(1, 900);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 900);
}

TEST(WatermarkValveTest, ReactivatedInputThatIsAheadRejoinsAtOnce) {
  WatermarkValve valve(2);
  valve.onWatermark(0, 10);
  valve.onWatermark(1, 10);
  valve.onStatus(1, true);
  valve.onWatermark(1, 500);  // reported while idle
  valve.onWatermark(0, 100);
  ASSERT_EQ(valve.current(), 100);
  valve.onStatus(1, false);
  // Input 1 (500) is in the minimum again: input 0 can advance only up to 500.
  WatermarkValve::Change c = valve.onWatermark(0, 800);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 500);
}

TEST(WatermarkValveTest, EndedInputNoLongerHoldsTimeBack) {
  WatermarkValve valve(2);
  valve.onWatermark(0, 10);
  valve.onWatermark(1, 20);
  ASSERT_EQ(valve.current(), 10);

  WatermarkValve::Change c = valve.onEnd(0);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, 20);
  EXPECT_EQ(valve.inputWatermark(0), kMaxTime);

  c = valve.onEnd(1);
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, kMaxTime);
  EXPECT_EQ(valve.current(), kMaxTime);
}

TEST(WatermarkValveTest, EndOfAnIdleInputMakesItActiveAtMaxTime) {
  WatermarkValve valve(2);
  valve.onWatermark(0, 30);
  valve.onStatus(0, true);
  valve.onStatus(1, true);
  ASSERT_TRUE(valve.idle());

  WatermarkValve::Change c = valve.onEnd(0);
  EXPECT_TRUE(c.statusChanged);
  EXPECT_FALSE(c.idle);
  EXPECT_FALSE(valve.inputIdle(0));
  EXPECT_TRUE(c.advanced);
  EXPECT_EQ(c.watermark, kMaxTime);

  c = valve.onEnd(1);
  EXPECT_FALSE(c.advanced);  // already at kMaxTime
  EXPECT_EQ(valve.current(), kMaxTime);
}

TEST(WatermarkValveTest, ResetForgetsEverything) {
  WatermarkValve valve(2);
  valve.onWatermark(0, 10);
  valve.onWatermark(1, 10);
  valve.onStatus(0, true);
  valve.reset(1);
  EXPECT_EQ(valve.inputs(), 1u);
  EXPECT_EQ(valve.current(), kMinTime);
  EXPECT_FALSE(valve.idle());
  EXPECT_FALSE(valve.inputIdle(0));
  EXPECT_TRUE(valve.onWatermark(0, 5).advanced);
}

}  // namespace
}  // namespace reka
