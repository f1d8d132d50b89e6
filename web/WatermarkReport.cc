#include "WatermarkReport.h"

#include <map>
#include <utility>

namespace reka::web {

using nlohmann::json;

namespace {

bool known(int64_t t) {
  return t != INT64_MIN && t != INT64_MAX;
}

json optionalTime(int64_t t) {
  return known(t) ? json(t) : json(nullptr);
}

/// How far `watermark` is behind `target` (0 when it has reached it; null when not known).
json behind(int64_t target, int64_t watermark) {
  if (!known(target) || !known(watermark)) return nullptr;
  return target > watermark ? target - watermark : 0;
}

std::string percent(double usage) {
  return std::to_string(static_cast<int>(usage * 100 + 0.5)) + "%";
}

using Index = std::map<std::pair<int, int>, const OperatorStats*>;

const VertexInfo* vertexOf(const JobMetrics& m, int node) {
  for (const auto& v : m.vertices)
    if (v.id == node) return &v;
  return nullptr;
}

/// The subtask of the operator that `op` is chained to (runs in the same task, same subtask
/// index), or null when `op` heads its task.
const OperatorStats* chainedInput(const JobMetrics& m, const Index& index,
                                  const OperatorStats& op) {
  const VertexInfo* v = vertexOf(m, op.node);
  if (v == nullptr || !v->chained || v->inputs.size() != 1) return nullptr;
  auto it = index.find({v->inputs[0].from, op.subtask});
  return it == index.end() ? nullptr : it->second;
}

/// Whether `op` runs in a source's task: it is a source, or chained (through any number of
/// operators) to one.
bool inSourceTask(const JobMetrics& m, const Index& index, const OperatorStats* op) {
  for (int guard = 0; op != nullptr && guard < 64; ++guard) {
    if (!op->splits.empty()) return true;
    const VertexInfo* v = vertexOf(m, op->node);
    if (v != nullptr && v->source) return true;
    if (v == nullptr && op->inputChannels.empty())
      return true;  // no graph figures: a task without inputs
    op = chainedInput(m, index, *op);
  }
  return false;
}

/// The input channel of `op` with the smallest watermark (idle and ended channels hold nothing
/// back), or null.
const OperatorStats::Channel* slowestChannel(const OperatorStats& op) {
  const OperatorStats::Channel* slowest = nullptr;
  for (const auto& c : op.inputChannels)
    if (c.watermark != INT64_MAX && (slowest == nullptr || c.watermark < slowest->watermark))
      slowest = &c;
  return slowest;
}

/// The active (not idle, not ended) split of a source subtask with the smallest watermark.
const SplitProgress* slowestSplit(const OperatorStats& source) {
  const SplitProgress* slowest = nullptr;
  for (const auto& s : source.splits)
    if (!s.idle && !s.ended && (slowest == nullptr || s.watermark < slowest->watermark))
      slowest = &s;
  return slowest;
}

json splitList(const OperatorStats& source) {
  json out = json::array();
  for (const auto& s : source.splits)
    out.push_back({{"id", s.id},
                   {"watermark", optionalTime(s.watermark)},
                   {"idle", s.idle},
                   {"ended", s.ended}});
  return out;
}

/// The end of a chain whose next hop upstream (`ahead`, at `watermark`) is ahead of the
/// watermark held back (`heldBack`): nothing upstream holds it back; its records and watermark
/// are on their way, queued behind backpressure. `receiver` is the subtask they are queued for
/// (null: inside `ahead` itself, a source that fetched them).
json inFlightStep(const OperatorStats& ahead, int64_t watermark, int64_t heldBack,
                  const OperatorStats* receiver) {
  json step = {{"in-flight", true},
               {"vertex", ahead.node},
               {"subtask", ahead.subtask},
               {"name", ahead.name},
               {"watermark", optionalTime(watermark)},
               {"ahead-ms",
                known(heldBack) && known(watermark) ? json(watermark - heldBack) : json(nullptr)},
               {"output-queue-usage", ahead.outputQueueUsage}};
  std::string where =
      receiver == nullptr
          ? "fetched by " + ahead.name + " #" + std::to_string(ahead.subtask) + " and queued in it"
          : "between " + ahead.name + " #" + std::to_string(ahead.subtask) + " and " +
                receiver->name + " #" + std::to_string(receiver->subtask);
  std::string queues = "its fullest output channel is " + percent(ahead.outputQueueUsage) + " full";
  if (receiver != nullptr) {
    step["input-queue-usage"] = receiver->inputQueueUsage;
    queues += ", the receiver's fullest input channel " + percent(receiver->inputQueueUsage);
  }
  step["reason"] = (receiver == nullptr ? "its slowest active split is ahead" : "it is ahead") +
                   std::string(": the records and watermark ") + where +
                   " are in flight (backpressure: queued in channels; " + queues + ")";
  return step;
}

/// The step for input channel `c` of `receiver`, from upstream subtask `up` (null: unknown).
json channelStep(const JobMetrics& m, const Index& index, const OperatorStats::Channel& c,
                 const OperatorStats* up, const OperatorStats& receiver) {
  json step = {{"vertex", c.node},
               {"subtask", c.subtask},
               {"name", up != nullptr ? json(up->name) : json(nullptr)},
               {"channel-watermark", optionalTime(c.watermark)},
               {"watermark", optionalTime(c.watermark)},
               {"input-queue-usage", receiver.inputQueueUsage}};
  if (up != nullptr) {
    step["output-watermark"] = optionalTime(up->watermark);
    step["output-queue-usage"] = up->outputQueueUsage;
    if (inSourceTask(m, index, up)) step["source"] = true;
  }
  return step;
}

/// From subtask `at`, whose watermark `heldBack` is held back, the hops upstream that hold it
/// back: at each subtask the input channel with the smallest watermark, through operators
/// chained to their input, to a source subtask and there the split that holds it back. A hop
/// upstream that is ahead of the watermark held back ends the chain with an in-flight step.
json holdBackChain(const JobMetrics& m, const Index& index, const OperatorStats* at,
                   int64_t heldBack) {
  json chain = json::array();
  for (int guard = 0; at != nullptr && guard < 64; ++guard) {
    if (!at->splits.empty()) {
      const SplitProgress* split = slowestSplit(*at);
      if (split == nullptr) break;  // every split idle or ended
      if (known(split->watermark) && split->watermark > heldBack) {
        json step = inFlightStep(*at, split->watermark, heldBack, nullptr);
        step["slowest-split"] = split->id;
        chain.push_back(step);
      } else {
        chain.push_back({{"split", split->id},
                         {"split-watermark", optionalTime(split->watermark)},
                         {"watermark", optionalTime(split->watermark)}});
      }
      break;
    }
    const OperatorStats::Channel* slowest = slowestChannel(*at);
    if (slowest == nullptr) {
      // No channel of its own: an operator chained to its input runs in that operator's task.
      at = chainedInput(m, index, *at);
      continue;
    }
    auto it = index.find({slowest->node, slowest->subtask});
    const OperatorStats* up = it == index.end() ? nullptr : it->second;
    chain.push_back(channelStep(m, index, *slowest, up, *at));
    heldBack = slowest->watermark;
    if (up != nullptr && up->watermark != INT64_MIN && up->watermark > heldBack) {
      chain.push_back(inFlightStep(*up, up->watermark, heldBack, at));
      break;
    }
    // A chained vertex shares its task's channels: from the vertex that produced into the
    // channel, the loop goes on through the operators it is chained to.
    at = up;
  }
  return chain;
}

/// Per hop: how far its watermark is behind the window end, and behind the next hop upstream.
void addHopLags(json& chain, int64_t timer) {
  for (size_t i = 0; i < chain.size(); ++i) {
    const json& w = chain[i]["watermark"];
    const int64_t own = w.is_null() ? INT64_MIN : w.get<int64_t>();
    chain[i]["behind-window-ms"] = behind(timer, own);
    if (i + 1 == chain.size()) continue;
    const json& next = chain[i + 1]["watermark"];
    chain[i]["behind-next-ms"] = next.is_null() ? json(nullptr) : behind(next.get<int64_t>(), own);
  }
}

json subtaskJson(const OperatorStats& op) {
  json channels = json::array();
  for (const auto& c : op.inputChannels)
    channels.push_back({{"vertex", c.node},
                        {"subtask", c.subtask},
                        {"watermark", optionalTime(c.watermark)},
                        {"idle-or-ended", c.watermark == INT64_MAX}});
  json s = {{"vertex", op.node},
            {"name", op.name},
            {"subtask", op.subtask},
            {"input-watermark", optionalTime(op.inputWatermark)},
            {"output-watermark", optionalTime(op.watermark)},
            {"next-event-timer", optionalTime(op.nextEventTimer)},
            {"channels", channels}};
  if (!op.splits.empty()) s["splits"] = splitList(op);
  return s;
}

json pendingWindow(const JobMetrics& m, const Index& index, const OperatorStats& op) {
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
                        ? "the input watermark is " + std::to_string(op.nextEventTimer - reached) +
                              " ms behind the earliest pending window"
                        : "the window is due and fires at the next watermark";
  }
  int idle = 0;
  for (const auto& c : op.inputChannels) idle += c.watermark == INT64_MAX ? 1 : 0;
  if (!op.inputChannels.empty() && idle == static_cast<int>(op.inputChannels.size()))
    why["reason"] =
        "every input channel is idle or ended: the watermark waits for one to become active";
  json chain = holdBackChain(m, index, &op, reached);
  addHopLags(chain, op.nextEventTimer);
  if (!chain.empty() && chain.back().value("in-flight", false))
    why["reason"] = why["reason"].get<std::string>() +
                    "; nothing upstream holds it back: " + chain.back()["name"].get<std::string>() +
                    " #" + std::to_string(chain.back()["subtask"].get<int>()) +
                    " is ahead, and its records are in flight (backpressure)";
  why["held-back-by"] = chain;
  return why;
}

}  // namespace

json watermarkReport(const JobMetrics& m) {
  Index index;
  for (const OperatorStats& op : m.operators) index[{op.node, op.subtask}] = &op;
  json subtasks = json::array();
  json pending = json::array();
  for (const OperatorStats& op : m.operators) {
    subtasks.push_back(subtaskJson(op));
    if (op.nextEventTimer != INT64_MAX) pending.push_back(pendingWindow(m, index, op));
  }
  return {{"watermark", optionalTime(m.watermark)},
          {"subtasks", subtasks},
          {"pending-windows", pending}};
}

}  // namespace reka::web
