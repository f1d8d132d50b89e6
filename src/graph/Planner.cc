#include "graph/Planner.h"

#include <cstdlib>
#include <map>
#include <set>

#include <fmt/format.h>

namespace reka::graph {

const char* partitionKindName(PartitionKind kind) {
  switch (kind) {
    case PartitionKind::kForward: return "forward";
    case PartitionKind::kRebalance: return "rebalance";
    case PartitionKind::kHash: return "hash";
    case PartitionKind::kBroadcast: return "broadcast";
  }
  return "?";
}

namespace {

/// The nodes `start` reads from, directly or through others (itself included).
std::vector<bool> ancestors(const JobGraph& graph, NodeId start) {
  std::vector<bool> seen(graph.nodes().size(), false);
  std::vector<NodeId> stack = {start};
  while (!stack.empty()) {
    const NodeId id = stack.back();
    stack.pop_back();
    if (seen[static_cast<size_t>(id)]) continue;
    seen[static_cast<size_t>(id)] = true;
    for (const auto& e : graph.node(id).inputs) stack.push_back(e.from);
  }
  return seen;
}

/// An operator that reads one input to its end first must not share an upstream between that
/// input and the others: the shared upstream would block on the unread input and never end.
Status checkSideInputs(const JobGraph& graph) {
  for (const auto& node : graph.nodes()) {
    if (node.readsToEndFirst < 0) continue;
    const auto first = ancestors(graph, node.inputs[static_cast<size_t>(node.readsToEndFirst)].from);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (static_cast<int>(i) == node.readsToEndFirst) continue;
      const auto other = ancestors(graph, node.inputs[i].from);
      for (size_t id = 0; id < first.size(); ++id) {
        if (first[id] && other[id])
          return Status::invalidArgument("operator '" + node.name + "' reads input " + std::to_string(node.readsToEndFirst) +
                                         " to its end before input " + std::to_string(i) + ", but both come from '" +
                                         graph.node(static_cast<NodeId>(id)).name +
                                         "': that would deadlock; feed the side input from its own source or use "
                                         "BroadcastMode::kAsArrives");
      }
    }
  }
  return Status::ok();
}

/// Explicit uids as given (unique, no ';'); the others from the name, numbered where repeated.
Result<std::vector<std::string>> assignUids(const JobGraph& graph) {
  std::vector<std::string> uids;
  std::set<std::string> used;
  for (const auto& node : graph.nodes()) {
    if (node.uid.empty()) continue;
    if (node.uid.find(';') != std::string::npos)
      return Status::invalidArgument("operator '" + node.name + "' has uid '" + node.uid + "': a uid may not contain ';'");
    if (!used.insert(node.uid).second)
      return Status::invalidArgument("two operators have uid '" + node.uid + "': a uid names one operator's state in checkpoints");
  }
  std::map<std::string, int> seen;
  for (const auto& node : graph.nodes()) {
    if (!node.uid.empty()) {
      uids.push_back(node.uid);
      continue;
    }
    std::string base = node.name;
    for (char& c : base)
      if (c == ';') c = ',';
    int& n = seen[base];
    std::string uid = ++n == 1 ? base : base + "#" + std::to_string(n);
    while (used.count(uid) > 0) uid = base + "#" + std::to_string(++n);
    used.insert(uid);
    uids.push_back(std::move(uid));
  }
  return uids;
}

}  // namespace

Result<PhysicalPlan> planJob(JobGraph& graph, const PlanOptions& options) {
  auto& nodes = graph.nodes();
  if (nodes.empty()) return Status::invalidArgument("the job has no operators");
  const size_t n = nodes.size();
  PhysicalPlan plan;
  plan.parallelism.assign(n, 0);
  plan.chained.assign(n, false);
  plan.task.assign(n, -1);
  for (auto& node : nodes) {
    const size_t id = static_cast<size_t>(node.id);
    int p = node.parallelism;
    if (p <= 0) {
      p = options.defaultParallelism;
      if (!node.isSource && node.inputs.size() == 1 && node.inputs[0].kind == PartitionKind::kForward)
        p = plan.parallelism[static_cast<size_t>(node.inputs[0].from)];
    }
    if (p > options.maxParallelism)
      return Status::invalidArgument("operator '" + node.name + "' has parallelism " + std::to_string(p) + " above maxParallelism " +
                                     std::to_string(options.maxParallelism));
    if (!node.isSource && node.inputs.empty()) return Status::invalidArgument("operator '" + node.name + "' has no input");
    plan.parallelism[id] = p;
    for (auto& e : node.inputs) {
      if (e.from < 0 || e.from >= node.id) return Status::internal("graph edges must point to earlier nodes");
      const int from = plan.parallelism[static_cast<size_t>(e.from)];
      // Forward needs equal parallelism; otherwise records are spread round-robin.
      if (e.kind == PartitionKind::kForward && from != p) e.kind = PartitionKind::kRebalance;
      // Hashing from one subtask to one subtask is forwarding: it may be chained.
      if (e.kind == PartitionKind::kHash && p == 1 && from == 1) e.kind = PartitionKind::kForward;
    }
    plan.chained[id] = options.chaining && node.chainable && !node.isSource && node.inputs.size() == 1 &&
                       node.inputs[0].kind == PartitionKind::kForward;
    plan.task[id] = plan.chained[id] ? plan.task[static_cast<size_t>(node.inputs[0].from)] : plan.tasks++;
  }
  REKA_RETURN_IF_ERROR(checkSideInputs(graph));
  REKA_ASSIGN_OR_RETURN(plan.uids, assignUids(graph));
  return plan;
}

std::string describePlan(const JobGraph& graph, const PhysicalPlan& plan) {
  std::string out;
  for (const auto& node : graph.nodes()) {
    const size_t id = static_cast<size_t>(node.id);
    out += fmt::format("[{}] {} (kind {}, uid '{}', parallelism {}, task {}{})", node.id, node.name, node.kind.empty() ? "custom" : node.kind,
                       plan.uids[id], plan.parallelism[id], plan.task[id] + 1, plan.chained[id] ? ", chained" : "");
    for (const auto& [key, value] : node.options) out += fmt::format(" {}={}", key, value);
    out += "\n";
    for (const auto& e : node.inputs) {
      out += fmt::format("    <- [{}] {}", e.from, partitionKindName(e.kind));
      if (e.fromPort != 0) out += fmt::format(" (side output {})", e.fromPort);
      out += "\n";
    }
  }
  return out;
}

std::string planFingerprint(const PhysicalPlan& plan) {
  std::string f;
  for (size_t i = 0; i < plan.uids.size(); ++i) f += plan.uids[i] + "/" + std::to_string(plan.parallelism[i]) + ";";
  return f;
}

std::vector<std::pair<std::string, int>> parseFingerprint(const std::string& f) {
  std::vector<std::pair<std::string, int>> out;
  std::map<std::string, int> seen;
  size_t start = 0;
  while (start < f.size()) {
    size_t end = f.find(';', start);
    if (end == std::string::npos) end = f.size();
    const std::string item = f.substr(start, end - start);
    const size_t slash = item.rfind('/');
    int p = 0;
    if (slash != std::string::npos) p = std::atoi(item.c_str() + slash + 1);
    std::string uid = slash == std::string::npos ? item : item.substr(0, slash);
    // Written before uids: a name used again stands for "name#2", "name#3", … as now.
    if (const int n = ++seen[uid]; n > 1) uid += "#" + std::to_string(n);
    out.emplace_back(std::move(uid), p);
    start = end + 1;
  }
  return out;
}

}  // namespace reka::graph
