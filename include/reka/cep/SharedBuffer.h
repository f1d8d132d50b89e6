#pragma once

#include <absl/container/inlined_vector.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/state/Serde.h"

namespace reka::cep {

/// A version of a partial match (Flink's DeweyNumber): a path of branch counters. A partial
/// match may follow a buffer edge only if its version is compatible with the edge's, which
/// keeps the branches that share events in one buffer apart.
class DeweyNumber {
 public:
  DeweyNumber() = default;
  explicit DeweyNumber(uint32_t first) { digits_.push_back(first); }

  DeweyNumber increase(uint32_t times = 1) const {
    DeweyNumber d = *this;
    d.digits_.back() += times;
    return d;
  }
  DeweyNumber addStage() const {
    DeweyNumber d = *this;
    d.digits_.push_back(0);
    return d;
  }
  /// Whether this version descends from `other`: `other` is a prefix of it, or both have the
  /// same length, equal digits but the last, and this one's last digit is not smaller.
  bool isCompatibleWith(const DeweyNumber& other) const {
    const size_t n = digits_.size(), m = other.digits_.size();
    if (n > m) return std::equal(other.digits_.begin(), other.digits_.end(), digits_.begin());
    if (n < m || n == 0) return false;
    return std::equal(digits_.begin(), digits_.end() - 1, other.digits_.begin()) && digits_.back() >= other.digits_.back();
  }
  size_t length() const { return digits_.size(); }
  uint32_t operator[](size_t i) const { return digits_[i]; }
  bool operator==(const DeweyNumber& o) const { return digits_ == o.digits_; }
  std::string toString() const {
    std::string s;
    for (size_t i = 0; i < digits_.size(); ++i) s += (i ? "." : "") + std::to_string(digits_[i]);
    return s;
  }

  void write(std::string& out) const {
    Serde<uint8_t>::write(static_cast<uint8_t>(digits_.size()), out);
    for (uint32_t d : digits_) Serde<uint32_t>::write(d, out);
  }
  bool read(std::string_view& in) {
    uint8_t n = 0;
    if (!Serde<uint8_t>::read(in, n)) return false;
    digits_.resize(n);
    for (auto& d : digits_)
      if (!Serde<uint32_t>::read(in, d)) return false;
    return true;
  }

 private:
  absl::InlinedVector<uint32_t, 6> digits_;
};

/// A match: for each pattern name, the events it accepted, in the order they were matched.
template <class T>
class Match {
 public:
  struct Entry {
    std::string name;
    std::vector<T> events;
  };

  /// The events of pattern `name` (empty if it accepted none).
  const std::vector<T>& get(std::string_view name) const {
    for (const auto& e : entries_)
      if (e.name == name) return e.events;
    static const std::vector<T> kNone;
    return kNone;
  }
  bool contains(std::string_view name) const { return !get(name).empty(); }
  /// The patterns with their events, in the order their first events were matched.
  const std::vector<Entry>& entries() const { return entries_; }
  /// All events of the match in the order they were matched.
  std::vector<const T*> events() const {
    std::vector<std::pair<uint64_t, const T*>> all;
    for (size_t i = 0; i < entries_.size(); ++i)
      for (size_t j = 0; j < entries_[i].events.size(); ++j) all.emplace_back(order_[i][j], &entries_[i].events[j]);
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<const T*> out;
    for (const auto& [o, p] : all) out.push_back(p);
    return out;
  }
  /// The timestamp of the first and of the last event.
  int64_t startTimestamp() const { return start_; }
  int64_t timestamp() const { return end_; }

  // Built by the NFA.
  void add(std::string_view name, const T& event, uint64_t order, int64_t ts) {
    if (entries_.empty() || ts < start_) start_ = ts;
    if (entries_.empty() || ts > end_) end_ = ts;
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].name == name) {
        entries_[i].events.push_back(event);
        order_[i].push_back(order);
        return;
      }
    }
    entries_.push_back(Entry{std::string(name), {event}});
    order_.push_back({order});
  }

 private:
  std::vector<Entry> entries_;
  std::vector<std::vector<uint64_t>> order_;
  int64_t start_ = 0;
  int64_t end_ = 0;
};

/// The events of a key's partial matches, shared between them (Flink's SharedBuffer): each
/// accepted event is stored once; a node (event, pattern name) has edges to the node of the
/// previous event of each partial match through it, labelled with the partial match's version.
template <class T>
class SharedBuffer {
 public:
  struct Event {
    uint64_t id;
    int64_t ts;
    T value;
  };
  struct Edge {
    int32_t target;  ///< -1: the first event of a match
    DeweyNumber version;
  };
  struct Node {
    uint32_t event;
    uint16_t name;
    std::vector<Edge> edges;
  };

  /// Stores `value` (the event being processed) and returns its index.
  uint32_t addEvent(uint64_t id, int64_t ts, const T& value) {
    events_.push_back(Event{id, ts, value});
    return static_cast<uint32_t>(events_.size() - 1);
  }
  /// The node (event, name), created if absent, gains an edge to `previous`.
  int32_t put(uint16_t name, uint32_t event, int32_t previous, const DeweyNumber& version) {
    int32_t at = -1;
    for (int32_t i = static_cast<int32_t>(nodes_.size()) - 1; i >= 0 && nodes_[i].event == event; --i) {
      if (nodes_[i].name == name) {
        at = i;
        break;
      }
    }
    if (at < 0) {
      nodes_.push_back(Node{event, name, {}});
      at = static_cast<int32_t>(nodes_.size() - 1);
    }
    nodes_[at].edges.push_back(Edge{previous, version});
    return at;
  }
  /// The path of the partial match at `node` with `version`, from its last node to its first
  /// (Flink's extractPatterns, which takes the first path of a depth-first walk that tries the
  /// newest edge first). False if there is none.
  bool extract(int32_t node, const DeweyNumber& version, std::vector<int32_t>& path) const {
    path.clear();
    if (node < 0) return true;
    struct Frame {
      int32_t node;
      DeweyNumber version;
      int next;
    };
    std::vector<Frame> frames;
    frames.push_back({node, version, static_cast<int>(nodes_[node].edges.size()) - 1});
    path.push_back(node);
    while (!frames.empty()) {
      bool deeper = false;
      while (frames.back().next >= 0) {
        Frame& f = frames.back();
        const Edge& e = nodes_[f.node].edges[f.next--];
        if (!f.version.isCompatibleWith(e.version)) continue;
        if (e.target < 0) return true;
        frames.push_back({e.target, e.version, static_cast<int>(nodes_[e.target].edges.size()) - 1});
        path.push_back(e.target);
        deeper = true;
        break;
      }
      if (!deeper) {
        frames.pop_back();
        path.pop_back();
      }
    }
    return false;
  }

  const Node& node(int32_t i) const { return nodes_[i]; }
  const Event& event(uint32_t i) const { return events_[i]; }
  size_t nodeCount() const { return nodes_.size(); }
  size_t eventCount() const { return events_.size(); }
  bool empty() const { return nodes_.empty() && events_.empty(); }
  void clear() {
    nodes_.clear();
    events_.clear();
  }

  /// Keeps only the nodes reachable from `roots` (and their events); rewrites the roots.
  template <class Roots>
  void compact(Roots&& forEachRoot) {
    std::vector<int32_t> nodeMap(nodes_.size(), -1);
    std::vector<int32_t> stack;
    forEachRoot([&](int32_t& r) {
      if (r >= 0 && nodeMap[r] == -1) {
        nodeMap[r] = 0;
        stack.push_back(r);
      }
    });
    while (!stack.empty()) {
      const int32_t n = stack.back();
      stack.pop_back();
      for (const auto& e : nodes_[n].edges) {
        if (e.target >= 0 && nodeMap[e.target] == -1) {
          nodeMap[e.target] = 0;
          stack.push_back(e.target);
        }
      }
    }
    std::vector<int32_t> eventMap(events_.size(), -1);
    std::vector<Node> nodes;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodeMap[i] < 0) continue;
      nodeMap[i] = static_cast<int32_t>(nodes.size());
      eventMap[nodes_[i].event] = 0;
      nodes.push_back(std::move(nodes_[i]));
    }
    std::vector<Event> events;
    for (size_t i = 0; i < events_.size(); ++i) {
      if (eventMap[i] < 0) continue;
      eventMap[i] = static_cast<int32_t>(events.size());
      events.push_back(std::move(events_[i]));
    }
    for (auto& n : nodes) {
      n.event = static_cast<uint32_t>(eventMap[n.event]);
      for (auto& e : n.edges)
        if (e.target >= 0) e.target = nodeMap[e.target];
    }
    nodes_ = std::move(nodes);
    events_ = std::move(events);
    forEachRoot([&](int32_t& r) {
      if (r >= 0) r = nodeMap[r];
    });
  }

  void write(std::string& out) const
    requires HasSerde<T>::value
  {
    Serde<uint32_t>::write(static_cast<uint32_t>(events_.size()), out);
    for (const auto& e : events_) {
      Serde<uint64_t>::write(e.id, out);
      Serde<int64_t>::write(e.ts, out);
      Serde<T>::write(e.value, out);
    }
    Serde<uint32_t>::write(static_cast<uint32_t>(nodes_.size()), out);
    for (const auto& n : nodes_) {
      Serde<uint32_t>::write(n.event, out);
      Serde<uint16_t>::write(n.name, out);
      Serde<uint32_t>::write(static_cast<uint32_t>(n.edges.size()), out);
      for (const auto& e : n.edges) {
        Serde<int32_t>::write(e.target, out);
        e.version.write(out);
      }
    }
  }
  bool read(std::string_view& in)
    requires HasSerde<T>::value
  {
    uint32_t n = 0;
    if (!Serde<uint32_t>::read(in, n)) return false;
    events_.clear();
    for (uint32_t i = 0; i < n; ++i) {
      Event e{0, 0, T{}};
      if (!Serde<uint64_t>::read(in, e.id) || !Serde<int64_t>::read(in, e.ts) || !Serde<T>::read(in, e.value)) return false;
      events_.push_back(std::move(e));
    }
    if (!Serde<uint32_t>::read(in, n)) return false;
    nodes_.clear();
    for (uint32_t i = 0; i < n; ++i) {
      Node node{0, 0, {}};
      uint32_t edges = 0;
      if (!Serde<uint32_t>::read(in, node.event) || !Serde<uint16_t>::read(in, node.name) || !Serde<uint32_t>::read(in, edges))
        return false;
      if (node.event >= events_.size()) return false;
      for (uint32_t j = 0; j < edges; ++j) {
        Edge e{-1, {}};
        if (!Serde<int32_t>::read(in, e.target) || !e.version.read(in)) return false;
        if (e.target >= static_cast<int32_t>(n) || e.target < -1) return false;
        node.edges.push_back(std::move(e));
      }
      nodes_.push_back(std::move(node));
    }
    return true;
  }

 private:
  std::vector<Event> events_;
  std::vector<Node> nodes_;
};

/// Where one partial match stands (Flink's ComputationState).
struct ComputationState {
  uint16_t state = 0;
  int32_t previous = -1;  ///< the buffer node of its last event; -1: none yet
  DeweyNumber version;
  int64_t startTimestamp = -1;
  int64_t previousTimestamp = -1;
  uint64_t startEvent = 0;  ///< the id of its first event; 0: not started

  /// Orders partial matches by their first event; not started ones last.
  uint64_t startKey() const { return startEvent == 0 ? UINT64_MAX : startEvent; }

  void write(std::string& out) const {
    Serde<uint16_t>::write(state, out);
    Serde<int32_t>::write(previous, out);
    version.write(out);
    Serde<int64_t>::write(startTimestamp, out);
    Serde<int64_t>::write(previousTimestamp, out);
    Serde<uint64_t>::write(startEvent, out);
  }
  bool read(std::string_view& in) {
    return Serde<uint16_t>::read(in, state) && Serde<int32_t>::read(in, previous) && version.read(in) &&
           Serde<int64_t>::read(in, startTimestamp) && Serde<int64_t>::read(in, previousTimestamp) &&
           Serde<uint64_t>::read(in, startEvent);
  }
};

/// The matching state of one key: its partial matches, the matches a skip strategy holds back,
/// and the buffer of their events.
template <class T>
struct NfaState {
  std::vector<ComputationState> partial;
  std::vector<ComputationState> completed;
  SharedBuffer<T> buffer;
  uint64_t nextEventId = 1;
  size_t nodesAfterCompaction = 0;

  /// Whether the key has nothing in progress (only the start state, an empty buffer).
  bool idle() const { return completed.empty() && partial.size() <= 1 && buffer.empty(); }
  /// Partial matches that have accepted at least one event.
  size_t startedCount() const {
    size_t n = 0;
    for (const auto& c : partial) n += c.startEvent != 0;
    return n;
  }
};

}  // namespace reka::cep

namespace reka {
template <class T>
struct Serde<cep::NfaState<T>, std::enable_if_t<HasSerde<T>::value>> {
  static void write(const cep::NfaState<T>& s, std::string& out) {
    Serde<uint64_t>::write(s.nextEventId, out);
    Serde<uint32_t>::write(static_cast<uint32_t>(s.partial.size()), out);
    for (const auto& c : s.partial) c.write(out);
    Serde<uint32_t>::write(static_cast<uint32_t>(s.completed.size()), out);
    for (const auto& c : s.completed) c.write(out);
    s.buffer.write(out);
  }
  static bool read(std::string_view& in, cep::NfaState<T>& s) {
    uint32_t n = 0;
    if (!Serde<uint64_t>::read(in, s.nextEventId) || !Serde<uint32_t>::read(in, n)) return false;
    s.partial.resize(n);
    for (auto& c : s.partial)
      if (!c.read(in)) return false;
    if (!Serde<uint32_t>::read(in, n)) return false;
    s.completed.resize(n);
    for (auto& c : s.completed)
      if (!c.read(in)) return false;
    if (!s.buffer.read(in)) return false;
    for (const auto* list : {&s.partial, &s.completed})
      for (const auto& c : *list)
        if (c.previous >= static_cast<int32_t>(s.buffer.nodeCount())) return false;
    s.nodesAfterCompaction = s.buffer.nodeCount();
    return true;
  }
};
}  // namespace reka

