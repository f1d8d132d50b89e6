// "Why has this window not fired?" on hand-made job figures: the chain from a pending window
// through channels and chained operators down to the source split that holds it back.
#include "WatermarkReport.h"

#include <gtest/gtest.h>

namespace reka::web {
namespace {

using nlohmann::json;

/// Source (vertex 0, parallelism 2) → window (vertex 1, parallelism 1, hash input), and a map
/// chained to the source (vertex 2) feeding nothing.
JobMetrics jobWithSplits() {
  JobMetrics m;
  VertexInfo source{0, "kafka", 2, true, false, {}};
  VertexInfo window{1, "window", 1, false, false, {{0, "hash"}}};
  VertexInfo chainedWindow{2, "chained-window", 2, false, true, {{0, "forward"}}};
  m.vertices = {source, window, chainedWindow};

  OperatorStats s0;
  s0.name = "kafka";
  s0.node = 0;
  s0.subtask = 0;
  s0.watermark = 5'000;
  // p1 is the slowest active split; p0 is idle and p2 ended, though their watermarks are lower.
  s0.splits = {{"orders-0", 1'000, true, false}, {"orders-1", 5'000, false, false}, {"orders-2", 500, false, true},
               {"orders-4", 7'000, false, false}};
  OperatorStats s1 = s0;
  s1.subtask = 1;
  s1.watermark = 9'000;
  s1.splits = {{"orders-3", 9'000, false, false}};

  OperatorStats w;
  w.name = "window";
  w.node = 1;
  w.subtask = 0;
  w.inputWatermark = 5'000;
  w.watermark = 5'000;
  w.nextEventTimer = 10'000;
  w.inputChannels = {{0, 0, 5'000}, {0, 1, 9'000}};

  OperatorStats c0;
  c0.name = "chained-window";
  c0.node = 2;
  c0.subtask = 1;
  c0.watermark = 9'000;
  c0.nextEventTimer = 9'500;
  m.operators = {s0, s1, w, c0};
  return m;
}

TEST(WatermarkReportTest, PendingWindowIsTracedToTheSlowestActiveSplit) {
  const json r = watermarkReport(jobWithSplits());
  ASSERT_EQ(r["pending-windows"].size(), 2u) << r.dump(2);
  const json& w = r["pending-windows"][0];
  EXPECT_EQ(w["name"], "window");
  EXPECT_EQ(w["earliest-pending-timer"], 10'000);
  EXPECT_EQ(w["behind-ms"], 5'000);
  // Channel from kafka #0 (5 000, the minimum) → its split orders-1 (active, 5 000).
  const json& chain = w["held-back-by"];
  ASSERT_EQ(chain.size(), 2u) << chain.dump(2);
  EXPECT_EQ(chain[0]["name"], "kafka");
  EXPECT_EQ(chain[0]["subtask"], 0);
  EXPECT_EQ(chain[0]["channel-watermark"], 5'000);
  EXPECT_EQ(chain[1]["split"], "orders-1");
  EXPECT_EQ(chain[1]["split-watermark"], 5'000);
}

TEST(WatermarkReportTest, ChainedOperatorIsTracedThroughItsTaskToTheSplit) {
  const json r = watermarkReport(jobWithSplits());
  const json& c = r["pending-windows"][1];
  EXPECT_EQ(c["name"], "chained-window");
  EXPECT_EQ(c["subtask"], 1);
  // It has no channel of its own: its task's source subtask #1 and that subtask's only split.
  const json& chain = c["held-back-by"];
  ASSERT_EQ(chain.size(), 1u) << chain.dump(2);
  EXPECT_EQ(chain[0]["split"], "orders-3");
  EXPECT_EQ(chain[0]["split-watermark"], 9'000);
}

TEST(WatermarkReportTest, SourcesListTheirSplits) {
  const json r = watermarkReport(jobWithSplits());
  const json& s0 = r["subtasks"][0];
  ASSERT_EQ(s0["splits"].size(), 4u);
  EXPECT_EQ(s0["splits"][0], json({{"id", "orders-0"}, {"watermark", 1'000}, {"idle", true}, {"ended", false}}));
  EXPECT_EQ(s0["splits"][2]["ended"], true);
  EXPECT_FALSE(r["subtasks"][2].contains("splits"));  // the window has none
}

TEST(WatermarkReportTest, NoActiveSplitEndsTheChainAtTheSource) {
  JobMetrics m = jobWithSplits();
  for (auto& s : m.operators[0].splits) s.idle = true;
  const json chain = watermarkReport(m)["pending-windows"][0]["held-back-by"];
  ASSERT_EQ(chain.size(), 1u) << chain.dump(2);
  EXPECT_EQ(chain[0]["name"], "kafka");
}

}  // namespace
}  // namespace reka::web
