#pragma once

#include <string>
#include <vector>

#include "reka/base/Status.h"
#include "reka/graph/JobGraph.h"

namespace reka::graph {

/// What the planner is told about the job (ExecutionConfig's part of it).
struct PlanOptions {
  int defaultParallelism = 1;
  int maxParallelism = 128;
  bool chaining = true;  ///< fuse forward-connected operators into one task
};

/// The physical plan of a logical JobGraph: plain data that the runtime instantiates and
/// `reka explain` and the REST API show. Indexed by node id.
struct PhysicalPlan {
  std::vector<int> parallelism;
  /// Whether the node runs in its forward input's task (called directly, no channel).
  std::vector<bool> chained;
  /// The node's identity in checkpoints: Node::uid, or its name ("name#2", "name#3", … where
  /// a name is used again).
  std::vector<std::string> uids;
  /// The task (chain) each node runs in, numbered in node order; a task has one subtask per
  /// unit of its nodes' parallelism.
  std::vector<int> task;
  int tasks = 0;
};

/// Plans `graph`: each node's parallelism (explicit, else that of its single forward input,
/// else the default), each edge's final partitioning (forward between different parallelisms
/// becomes rebalance; hash between two single subtasks becomes forward), chaining, uids, and
/// the checks that would otherwise fail at run time (edges, parallelism above the maximum,
/// duplicate uids, a side input that shares an upstream with the input it waits for). Edits
/// the edges' kinds in place.
Result<PhysicalPlan> planJob(JobGraph& graph, const PlanOptions& options);

/// The plan as text, one line per operator in node order: uid, kind, parallelism, task, and
/// each input with its partitioning (what `reka explain` prints under "physical plan").
std::string describePlan(const JobGraph& graph, const PhysicalPlan& plan);

/// The (uid, parallelism) pairs of a job as a checkpoint records them ("uid/P;uid/P;…").
std::string planFingerprint(const PhysicalPlan& plan);
/// Parses a fingerprint written by planFingerprint (or, before uids, with operator names: the
/// same text for a job without explicit uids).
std::vector<std::pair<std::string, int>> parseFingerprint(const std::string& fingerprint);

}  // namespace reka::graph
