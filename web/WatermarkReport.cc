#include "WatermarkReport.h"

#include <map>
#include <utility>

namespace reka::web {

using nlohmann::json;

namespace {

json optionalTime(int64_t t) { return t == INT64_MIN || t == INT64_MAX ? json(nullptr) : json(t); }

using Index = std::map<std::pair<int, int>, const OperatorStats*>;

/// The split of a source subtask that holds its watermark back: the active (not idle, not
/// ended) split with the smallest watermark; null when it has no splits or none is active.
json slowestSplit(const OperatorStats& source) {
  const SplitProgress* slowest = nullptr;
  for (const auto& s : source.splits)
    if (!s.idle && !s.ended && (slowest == nullptr || s.watermark < slowest->watermark)) slowest = &s;
  if (slowest == nullptr) return nullptr;
  return {{"split", slowest->id}, {"split-watermark", optionalTime(slowest->watermark)}};
}

json splitList(const OperatorStats& source) {
  json out = json::array();
  for (const auto& s : source.splits)
    out.push_back({{"id", s.id}, {"watermark", optionalTime(s.watermark)}, {"idle", s.idle}, {"ended", s.ended}});
  return out;
}

/// From subtask `at`, the upstream subtasks that hold its input watermark back: at each step the
/// input channel with the smallest watermark (idle and ended channels hold nothing back), until
/// a subtask without input channels (a source), and there the split that holds it back.
json holdBackChain(const JobMetrics& m, const Index& index, const OperatorStats* at) {
  json chain = json::array();
  for (int guard = 0; at != nullptr && guard < 64; ++guard) {
    if (!at->splits.empty()) {
      // A source subtask: the chain ends at its slowest split.
      json split = slowestSplit(*at);
      if (!split.is_null()) chain.push_back(split);
      break;
    }
    const OperatorStats::Channel* slowest = nullptr;
    for (const auto& c : at->inputChannels)
      if (c.watermark != INT64_MAX && (slowest == nullptr || c.watermark < slowest->watermark)) slowest = &c;
    if (slowest == nullptr) {
      // No channel of its own: an operator chained to its input runs in that operator's task
      // (the same subtask index); go on from there.
      const VertexInfo* v = nullptr;
      for (const auto& vi : m.vertices)
        if (vi.id == at->node) v = &vi;
      if (v == nullptr || !v->chained || v->inputs.size() != 1) break;
      auto it = index.find({v->inputs[0].from, at->subtask});
      if (it == index.end()) break;
      at = it->second;
      continue;
    }
    auto it = index.find({slowest->node, slowest->subtask});
    const OperatorStats* up = it == index.end() ? nullptr : it->second;
    json step = {{"vertex", slowest->node},
                 {"subtask", slowest->subtask},
                 {"name", up != nullptr ? json(up->name) : json(nullptr)},
                 {"channel-watermark", optionalTime(slowest->watermark)}};
    if (up != nullptr && up->inputChannels.empty()) {
      step["source"] = true;
      step["output-watermark"] = optionalTime(up->watermark);
    }
    chain.push_back(step);
    // A chained vertex shares its task's channels: continue from the task's head, which is the
    // same subtask of the vertex that produced into the channel.
    at = up;
  }
  return chain;
}

}  // namespace

json watermarkReport(const JobMetrics& m) {
  Index index;
  for (const OperatorStats& op : m.operators) index[{op.node, op.subtask}] = &op;
  json subtasks = json::array();
  json pending = json::array();
  for (const OperatorStats& op : m.operators) {
    json channels = json::array();
    int idle = 0;
    for (const auto& c : op.inputChannels) {
      channels.push_back({{"vertex", c.node}, {"subtask", c.subtask}, {"watermark", optionalTime(c.watermark)}, {"idle-or-ended", c.watermark == INT64_MAX}});
      if (c.watermark == INT64_MAX) ++idle;
    }
    subtasks.push_back({{"vertex", op.node},
                        {"name", op.name},
                        {"subtask", op.subtask},
                        {"input-watermark", optionalTime(op.inputWatermark)},
                        {"output-watermark", optionalTime(op.watermark)},
                        {"next-event-timer", optionalTime(op.nextEventTimer)},
                        {"channels", channels}});
    if (!op.splits.empty()) subtasks.back()["splits"] = splitList(op);
    if (op.nextEventTimer == INT64_MAX) continue;
    json why = {{"vertex", op.node},
                {"name", op.name},
                {"subtask", op.subtask},
                {"earliest-pending-timer", op.nextEventTimer},
                {"input-watermark", optionalTime(op.inputWatermark)},
                {"output-watermark", optionalTime(op.watermark)}};
    const int64_t reached = op.inputChannels.empty() ? op.watermark : op.inputWatermark;
    if (reached == INT64_MIN) {
      why["behind-ms"] = nullptr;
      why["reason"] = "no watermark has reached this subtask yet";
    } else {
      why["behind-ms"] = op.nextEventTimer > reached ? op.nextEventTimer - reached : 0;
      why["reason"] = op.nextEventTimer > reached
                          ? "the input watermark is " + std::to_string(op.nextEventTimer - reached) + " ms behind the earliest pending window"
                          : "the window is due and fires at the next watermark";
    }
    if (!op.inputChannels.empty() && idle == static_cast<int>(op.inputChannels.size()))
      why["reason"] = "every input channel is idle or ended: the watermark waits for one to become active";
    why["held-back-by"] = holdBackChain(m, index, &op);
    pending.push_back(why);
  }
  return {{"watermark", optionalTime(m.watermark)}, {"subtasks", subtasks}, {"pending-windows", pending}};
}

}  // namespace reka::web
