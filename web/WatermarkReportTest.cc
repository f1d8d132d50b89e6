// "Why has this window not fired?" on hand-made job figures: the chain from a pending window
// through channels and chained operators down to the source split that holds it back, how far
// each hop is behind, and records in flight when nothing upstream holds the watermark back.
#include "WatermarkReport.h"

#include <gtest/gtest.h>

namespace reka::web {
namespace {

using nlohmann::json;

/// Source (vertex 0, parallelism 2) → window (vertex 1, parallelism 1, hash input), and a map
/// chained to the source (vertex 2) feeding nothing.
JobMetrics jobWithSplits() {
  JobMetrics m;
  VertexInfo source{0, "kafka", "source", "kafka", 2, true, false, {}};
  VertexInfo window{1, "window", "window", "window", 1, false, false, {{0, "hash"}}};
  VertexInfo chainedWindow{2, "chained-window", "custom", "chained-window", 2, false, true, {{0, "forward"}}};
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
  // Each hop: how far behind the window end (10 000) and behind the next hop upstream.
  EXPECT_EQ(chain[0]["behind-window-ms"], 5'000);
  EXPECT_EQ(chain[0]["behind-next-ms"], 0);
  EXPECT_EQ(chain[1]["behind-window-ms"], 5'000);
  EXPECT_FALSE(chain[1].contains("behind-next-ms")) << "the last hop has none upstream";
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

TEST(WatermarkReportTest, SplitAheadOfTheHeldBackWatermarkIsNotNamed) {
  // The source subtask's output (and the channel) is at 5 000, but its slowest active split is
  // at 8 000: the split holds nothing back; what the source fetched is queued in it.
  JobMetrics m = jobWithSplits();
  m.operators[0].splits = {{"orders-1", 8'000, false, false}, {"orders-4", 9'000, false, false}};
  m.operators[0].outputQueueUsage = 1.0;
  const json w = watermarkReport(m)["pending-windows"][0];
  const json& chain = w["held-back-by"];
  ASSERT_EQ(chain.size(), 2u) << chain.dump(2);
  EXPECT_EQ(chain[0]["channel-watermark"], 5'000);
  EXPECT_FALSE(chain[1].contains("split")) << "no split is named: " << chain.dump(2);
  EXPECT_EQ(chain[1]["in-flight"], true);
  EXPECT_EQ(chain[1]["name"], "kafka");
  EXPECT_EQ(chain[1]["slowest-split"], "orders-1");
  EXPECT_EQ(chain[1]["ahead-ms"], 3'000);
  EXPECT_EQ(chain[1]["output-queue-usage"], 1.0);
  EXPECT_NE(chain[1]["reason"].get<std::string>().find("in flight"), std::string::npos) << chain[1].dump();
  EXPECT_EQ(chain[0]["behind-next-ms"], 3'000);
  EXPECT_EQ(chain[1]["behind-window-ms"], 2'000);
  EXPECT_NE(w["reason"].get<std::string>().find("in flight (backpressure)"), std::string::npos) << w.dump(2);
}

TEST(WatermarkReportTest, UpstreamAheadOfTheChannelMeansRecordsInFlight) {
  // The audit's case: the source has reached 10:30.469 (and so has its split), but the channel
  // into the window has only seen 10:25.758; the window end is 10:30.000.
  JobMetrics m = jobWithSplits();
  const int64_t channel = 37'525'758, source = 37'830'469, end = 37'800'000;
  m.operators[0].watermark = source;
  m.operators[0].splits = {{"orders-1", source, false, false}};
  m.operators[0].outputQueueUsage = 1.0;
  m.operators[2].inputChannels = {{0, 0, channel}, {0, 1, 40'000'000}};
  m.operators[2].inputWatermark = channel;
  m.operators[2].watermark = channel;
  m.operators[2].nextEventTimer = end;
  m.operators[2].inputQueueUsage = 0.75;
  const json w = watermarkReport(m)["pending-windows"][0];
  EXPECT_EQ(w["behind-ms"], end - channel);
  const json& chain = w["held-back-by"];
  ASSERT_EQ(chain.size(), 2u) << chain.dump(2);
  EXPECT_EQ(chain[0]["channel-watermark"], channel);
  EXPECT_EQ(chain[0]["output-watermark"], source);
  EXPECT_EQ(chain[0]["behind-window-ms"], end - channel);
  EXPECT_EQ(chain[0]["behind-next-ms"], source - channel);
  EXPECT_EQ(chain[1]["in-flight"], true);
  EXPECT_EQ(chain[1]["name"], "kafka");
  EXPECT_EQ(chain[1]["ahead-ms"], source - channel);
  EXPECT_EQ(chain[1]["behind-window-ms"], 0) << "the source is past the window end";
  EXPECT_EQ(chain[1]["output-queue-usage"], 1.0);
  EXPECT_EQ(chain[1]["input-queue-usage"], 0.75);
  for (const json& step : chain) EXPECT_FALSE(step.contains("split")) << chain.dump(2);
}

TEST(WatermarkReportTest, ChainGoesThroughOperatorsThatHoldTheWatermarkBack) {
  // source (0) → map (1, own task) → window (2): each hop at 4 000, the window ends at 6 000.
  JobMetrics m;
  m.vertices = {{0, "src", "custom", "src", 1, true, false, {}}, {1, "map", "custom", "map", 1, false, false, {{0, "rebalance"}}}, {2, "window", "custom", "window", 1, false, false, {{1, "hash"}}}};
  OperatorStats src;
  src.name = "src";
  src.watermark = 4'000;
  src.splits = {{"file-0", 4'000, false, false}};
  OperatorStats map;
  map.name = "map";
  map.node = 1;
  map.inputChannels = {{0, 0, 4'000}};
  map.inputWatermark = 4'000;
  map.watermark = 4'000;
  OperatorStats window;
  window.name = "window";
  window.node = 2;
  window.inputChannels = {{1, 0, 4'000}};
  window.inputWatermark = 4'000;
  window.watermark = 4'000;
  window.nextEventTimer = 6'000;
  m.operators = {src, map, window};
  const json chain = watermarkReport(m)["pending-windows"][0]["held-back-by"];
  ASSERT_EQ(chain.size(), 3u) << chain.dump(2);
  EXPECT_EQ(chain[0]["name"], "map");
  EXPECT_FALSE(chain[0].contains("source")) << "map is no source";
  EXPECT_EQ(chain[1]["name"], "src");
  EXPECT_EQ(chain[1]["source"], true);
  EXPECT_EQ(chain[2]["split"], "file-0");
  for (const json& step : chain) EXPECT_EQ(step["behind-window-ms"], 2'000) << step.dump();
}

}  // namespace
}  // namespace reka::web
