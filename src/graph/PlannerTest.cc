#include "graph/Planner.h"

#include <gtest/gtest.h>

namespace reka::graph {
namespace {

/// A node of `kind` reading `inputs` (node, partitioning).
NodeId add(JobGraph& g, std::string name, std::vector<std::pair<NodeId, PartitionKind>> inputs, int parallelism = 0,
           std::string uid = "") {
  Node n;
  n.name = std::move(name);
  n.kind = inputs.empty() ? "source" : "map";
  n.isSource = inputs.empty();
  n.parallelism = parallelism;
  n.uid = std::move(uid);
  for (auto [from, kind] : inputs) {
    Edge e;
    e.from = from;
    e.kind = kind;
    n.inputs.push_back(std::move(e));
  }
  return g.addNode(std::move(n));
}

TEST(PlannerTest, ParallelismPartitioningChainingAndTasks) {
  JobGraph g;
  const NodeId src = add(g, "src", {}, 1);
  const NodeId parse = add(g, "parse", {{src, PartitionKind::kForward}});   // chained to src, P 1
  const NodeId count = add(g, "count", {{parse, PartitionKind::kHash}});    // default P 4, own task
  const NodeId fmt = add(g, "format", {{count, PartitionKind::kForward}});  // chained to count, P 4
  const NodeId sink = add(g, "sink", {{fmt, PartitionKind::kForward}}, 2);  // P 2: forward → rebalance
  auto plan = planJob(g, PlanOptions{4, 128, true});
  ASSERT_TRUE(plan.isOk()) << plan.status().toString();
  EXPECT_EQ(plan->parallelism, (std::vector<int>{1, 1, 4, 4, 2}));
  EXPECT_EQ(plan->chained, (std::vector<bool>{false, true, false, true, false}));
  EXPECT_EQ(plan->task, (std::vector<int>{0, 0, 1, 1, 2}));
  EXPECT_EQ(plan->tasks, 3);
  EXPECT_EQ(g.node(sink).inputs[0].kind, PartitionKind::kRebalance);
  EXPECT_EQ(g.node(count).inputs[0].kind, PartitionKind::kHash);
  (void)fmt;
  EXPECT_EQ(planFingerprint(*plan), "src/1;parse/1;count/4;format/4;sink/2;");
  const std::string text = describePlan(g, *plan);
  EXPECT_NE(text.find("[2] count (kind map, uid 'count', parallelism 4, task 2)\n    <- [1] hash\n"), std::string::npos) << text;
  EXPECT_NE(text.find("[4] sink (kind map, uid 'sink', parallelism 2, task 3)\n    <- [3] rebalance\n"), std::string::npos) << text;
}

TEST(PlannerTest, HashBetweenSingleSubtasksIsForwardAndChainingCanBeOff) {
  JobGraph g;
  const NodeId src = add(g, "src", {}, 1);
  const NodeId agg = add(g, "agg", {{src, PartitionKind::kHash}}, 1);
  auto plan = planJob(g, PlanOptions{1, 128, true});
  ASSERT_TRUE(plan.isOk());
  EXPECT_EQ(g.node(agg).inputs[0].kind, PartitionKind::kForward);
  EXPECT_TRUE(plan->chained[1]);
  JobGraph g2;
  add(g2, "src", {}, 1);
  add(g2, "agg", {{0, PartitionKind::kForward}}, 1);
  auto unchained = planJob(g2, PlanOptions{1, 128, false});
  ASSERT_TRUE(unchained.isOk());
  EXPECT_EQ(unchained->tasks, 2);
}

TEST(PlannerTest, UidsDefaultToNamesNumberedWhereRepeated) {
  JobGraph g;
  add(g, "src", {}, 1);
  add(g, "map", {{0, PartitionKind::kForward}});
  add(g, "map", {{1, PartitionKind::kForward}});
  add(g, "map", {{2, PartitionKind::kForward}}, 0, "map#2");  // taken explicitly: the default moves on
  add(g, "a;b", {{3, PartitionKind::kForward}});
  auto plan = planJob(g, PlanOptions{1, 128, true});
  ASSERT_TRUE(plan.isOk()) << plan.status().toString();
  EXPECT_EQ(plan->uids, (std::vector<std::string>{"src", "map", "map#3", "map#2", "a,b"}));
}

TEST(PlannerTest, BadPlansAreRefusedWithWhatIsWrong) {
  JobGraph dup;
  add(dup, "src", {}, 1, "x");
  add(dup, "map", {{0, PartitionKind::kForward}}, 0, "x");
  auto d = planJob(dup, PlanOptions{});
  ASSERT_FALSE(d.isOk());
  EXPECT_NE(d.status().message().find("two operators have uid 'x'"), std::string::npos) << d.status().message();

  JobGraph semi;
  add(semi, "src", {}, 1, "a;b");
  EXPECT_NE(planJob(semi, PlanOptions{}).status().message().find("may not contain ';'"), std::string::npos);

  JobGraph wide;
  add(wide, "src", {}, 200);
  EXPECT_NE(planJob(wide, PlanOptions{1, 128, true}).status().message().find("above maxParallelism 128"), std::string::npos);

  JobGraph orphan;
  add(orphan, "src", {}, 1);
  Node n;
  n.name = "lost";
  orphan.addNode(std::move(n));
  EXPECT_NE(planJob(orphan, PlanOptions{}).status().message().find("'lost' has no input"), std::string::npos);

  JobGraph empty;
  EXPECT_FALSE(planJob(empty, PlanOptions{}).isOk());
}

TEST(PlannerTest, ASideInputSharingAnUpstreamWithTheWaitingInputIsADeadlock) {
  JobGraph g;
  add(g, "src", {}, 1);
  add(g, "left", {{0, PartitionKind::kForward}});
  add(g, "right", {{0, PartitionKind::kForward}});
  Node join;
  join.name = "join";
  join.inputs.push_back(Edge{1, 0, PartitionKind::kForward, {}});
  join.inputs.push_back(Edge{2, 0, PartitionKind::kBroadcast, {}});
  join.readsToEndFirst = 1;
  g.addNode(std::move(join));
  auto plan = planJob(g, PlanOptions{});
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(plan.status().message().find("that would deadlock"), std::string::npos) << plan.status().message();
}

TEST(PlannerTest, FingerprintsParseBackAndOldOnesNumberRepeatedNames) {
  EXPECT_EQ(parseFingerprint("src/1;map/2;"), (std::vector<std::pair<std::string, int>>{{"src", 1}, {"map", 2}}));
  // Before uids a checkpoint listed names; a repeated one is the uid a job without explicit
  // uids gives that operator now.
  EXPECT_EQ(parseFingerprint("src/1;map/2;map/2;x/y/3"),
            (std::vector<std::pair<std::string, int>>{{"src", 1}, {"map", 2}, {"map#2", 2}, {"x/y", 3}}));
}

}  // namespace
}  // namespace reka::graph
