#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "reka/api/Operator.h"

namespace reka {

/// One end of a channel, seen from the producing task: sends a finished batch downstream.
/// Never blocks (capacity is enforced by the task before it takes more input).
class BatchSender {
 public:
  virtual ~BatchSender() = default;
  virtual void send(std::unique_ptr<Batch> batch) = 0;
  /// Sends a control element (watermark, watermark status) behind the batches already sent.
  virtual void sendElement(StreamElement element) = 0;
};

namespace graph {

using NodeId = int;

/// How records move from the subtasks of one node to those of the next.
enum class PartitionKind {
  kForward,    ///< subtask i → subtask i (chained when parallelism matches)
  kRebalance,  ///< whole batches round-robin over all subtasks
  kHash,       ///< key → key group → owning subtask
  kBroadcast,  ///< every record to every subtask
};

const char* partitionKindName(PartitionKind kind);

/// Creates the typed partitioning output of one producing subtask over the senders to every
/// consuming subtask (index = consumer subtask).
using WriterFactory = std::function<std::unique_ptr<Output>(std::vector<BatchSender*> targets,
                                                            int producerSubtask, size_t batchSize,
                                                            int maxParallelism)>;

/// An input of a node: which node and output port it reads, and how it is partitioned.
struct Edge {
  NodeId from = -1;
  int fromPort = 0;
  PartitionKind kind = PartitionKind::kForward;
  WriterFactory makeWriter;
};

/// A logical operator: a plain description (no threads, no I/O). The runtime makes
/// `parallelism` instances of it with `makeOperator`.
struct Node {
  NodeId id = -1;
  std::string name;
  /// What the operator is ("map", "keyed-process", "window-aggregate", "sql-calc", …), set by
  /// the API call that made the node: data a planner, `reka explain` and the REST API read.
  std::string kind;
  /// The operator's identity in checkpoints and savepoints (Flink's uid()): a restore matches
  /// state to operators by it, so a savepoint survives operators added, removed or reordered
  /// around it. Empty: its name ("name#2", "name#3", … where a name is used again).
  std::string uid;
  /// What the API call decided that a reader of the plan wants to see (window size, key,
  /// connector, …), in order.
  std::vector<std::pair<std::string, std::string>> options;
  int parallelism = 0;  ///< 0: the job's default parallelism
  bool isSource = false;
  bool chainable = true;  ///< may be fused with its forward predecessor
  std::vector<Edge> inputs;
  int outputPorts = 1;
  /// An input the operator reads to its end before any other (-1: none). Both inputs fed by
  /// the same upstream would deadlock, so the runtime rejects such a graph.
  int readsToEndFirst = -1;
  std::function<std::unique_ptr<Operator>()> makeOperator;
};

/// The logical dataflow of a job, built by the typed API.
class JobGraph {
 public:
  NodeId addNode(Node node) {
    node.id = static_cast<NodeId>(nodes_.size());
    nodes_.push_back(std::move(node));
    return nodes_.back().id;
  }
  Node& node(NodeId id) { return nodes_[static_cast<size_t>(id)]; }
  const Node& node(NodeId id) const { return nodes_[static_cast<size_t>(id)]; }
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& nodes() { return nodes_; }

 private:
  std::vector<Node> nodes_;
};

}  // namespace graph
}  // namespace reka
