#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "reka/api/Environment.h"
#include "reka/api/Functions.h"
#include "reka/base/Check.h"
#include "reka/api/detail/Partitioners.h"
#include "reka/api/detail/StreamOperators.h"

namespace reka {

template <class T>
class DataStream;
template <class T, class K, class KeyFn>
class KeyedStream;
template <class T>
class BroadcastStream;
using detail::BroadcastMode;

/// Builds a job: sources, transformations and sinks; then execute() runs it.
/// Not thread-safe; build the job on one thread.
class StreamEnvironment {
 public:
  explicit StreamEnvironment(ExecutionConfig config = {}) : config_(std::move(config)) {}

  ExecutionConfig& config() { return config_; }
  graph::JobGraph& jobGraph() { return graph_; }

  /// A bounded source over `values`, emitted in order (parallelism 1 unless changed).
  template <class T>
  DataStream<T> fromCollection(std::string name, std::vector<T> values);

  /// A source made of one SourceFunction per subtask; `makeFn()` is called once per subtask.
  template <class T, class MakeFn>
  DataStream<T> addSource(std::string name, MakeFn makeFn, int parallelism = 0);

  /// A source with event time: `strategy` (see reka/time/Watermarks.h) assigns timestamps and
  /// generates watermarks per split of each subtask, merged by minimum over the active splits.
  template <class T, class MakeFn, class Strategy>
  DataStream<T> fromSource(std::string name, MakeFn makeFn, Strategy strategy, int parallelism = 0);

  /// Runs the job and blocks until it ends (a bounded job) or is cancelled. Returns the first
  /// failure, naming the operator.
  Status execute() {
    auto client = executeAsync();
    if (!client.isOk()) return client.status();
    return (*client)->wait();
  }
  /// Starts the job and returns at once.
  Result<std::unique_ptr<JobClient>> executeAsync() { return startJob(graph_, config_); }

 private:
  template <class T>
  friend class DataStream;
  template <class T, class K, class KeyFn>
  friend class KeyedStream;

  ExecutionConfig config_;
  graph::JobGraph graph_;
};

/// A typed stream: the output port of a node. Copyable handle; transformations add nodes.
template <class T>
class DataStream {
 public:
  DataStream(StreamEnvironment* env, graph::NodeId node, int port = 0,
             std::shared_ptr<detail::SidePorts> sidePorts = nullptr)
      : env_(env), node_(node), port_(port), sidePorts_(std::move(sidePorts)) {}

  /// Sets the name of the node that produces this stream.
  DataStream& name(std::string name) {
    env_->graph_.node(node_).name = std::move(name);
    return *this;
  }
  /// Sets the uid of the node that produces this stream (Flink's uid()): its identity in
  /// checkpoints and savepoints, so that its state is found again after the job's operators
  /// were added, removed, renamed or reordered. Default: the name. Unique within a job.
  DataStream& uid(std::string uid) {
    env_->graph_.node(node_).uid = std::move(uid);
    return *this;
  }
  /// Sets the parallelism of the node that produces this stream.
  DataStream& parallelism(int p) {
    env_->graph_.node(node_).parallelism = p;
    return *this;
  }
  graph::NodeId nodeId() const { return node_; }

  /// Generates event time from the records of each subtask of this stream (Flink's
  /// assignTimestampsAndWatermarks); watermarks from upstream are replaced. Prefer fromSource()
  /// where the source has several splits per subtask.
  template <class Strategy>
  DataStream<T> assignTimestampsAndWatermarks(Strategy strategy) const {
    return DataStream<T>(env_, addUnary("timestamps/watermarks", [strategy] {
      return std::make_unique<detail::TimestampsAndWatermarksOperator<T, Strategy>>(strategy);
    }, "timestamps-watermarks"));
  }

  /// Partitions rows by the values of `keyColumns` (a keyed exchange of runtime-typed rows, as
  /// SQL's GROUP BY needs): rows with equal keys go to the subtask that owns their key group.
  DataStream keyByColumns(std::vector<int> keyColumns) const {
    static_assert(std::is_same_v<T, Row>, "keyByColumns partitions rows; use keyBy for typed records");
    DataStream s = *this;
    s.kind_ = graph::PartitionKind::kHash;
    s.writer_ = detail::rowHashWriterFactory(std::move(keyColumns));
    return s;
  }

  /// Spreads whole batches round-robin over the next operator's subtasks.
  DataStream rebalance() const {
    DataStream s = *this;
    s.kind_ = graph::PartitionKind::kRebalance;
    return s;
  }

  /// A node whose operator `makeOperator` makes (one per subtask): for operators written
  /// against the Operator interface, such as SQL's row operators. It reads this stream and
  /// emits records of type Out.
  template <class Out>
  DataStream<Out> transform(std::string name, std::function<std::unique_ptr<Operator>()> makeOperator, std::string kind = "custom") const {
    return DataStream<Out>(env_, addUnary(std::move(name), std::move(makeOperator), std::move(kind)));
  }

  /// A node with two inputs, this stream (input 0) and `other` (input 1), whose operator
  /// `makeOperator` makes (one per subtask): for two-input operators written against the
  /// Operator interface, such as SQL's joins. Each input keeps its partitioning (keyByColumns).
  template <class Out, class T2>
  DataStream<Out> transform2(std::string name, const DataStream<T2>& other, std::function<std::unique_ptr<Operator>()> makeOperator) const {
    graph::Node n;
    n.name = std::move(name);
    n.kind = "custom-two-input";
    n.chainable = false;
    n.inputs.push_back(edge(kind_ == graph::PartitionKind::kForward ? graph::PartitionKind::kRebalance : kind_));
    n.inputs.push_back(other.edge(other.partitionKind() == graph::PartitionKind::kForward ? graph::PartitionKind::kRebalance
                                                                                            : other.partitionKind()));
    n.makeOperator = std::move(makeOperator);
    return DataStream<Out>(env_, env_->graph_.addNode(std::move(n)));
  }
  /// A two-input operator of the runtime's own (SQL's row operators) whose input 1 is `side`,
  /// broadcast to every subtask; with BroadcastMode::kSideInputFirst the operator reads it to its
  /// end before input 0 (its acceptsInput(0) says when).
  template <class Out, class T2>
  DataStream<Out> transform2(std::string name, const BroadcastStream<T2>& side, std::function<std::unique_ptr<Operator>()> makeOperator,
                             BroadcastMode mode) const {
    graph::Node n;
    n.name = std::move(name);
    n.kind = "custom-broadcast";
    n.chainable = false;
    n.inputs.push_back(edge(kind_ == graph::PartitionKind::kForward ? graph::PartitionKind::kRebalance : kind_));
    n.inputs.push_back(side.edge());
    if (mode == BroadcastMode::kSideInputFirst) n.readsToEndFirst = 1;
    n.makeOperator = std::move(makeOperator);
    return DataStream<Out>(env_, env_->graph_.addNode(std::move(n)));
  }
  graph::PartitionKind partitionKind() const { return kind_; }

  /// out = fn(in) for every record.
  template <class F>
  auto map(std::string name, F fn) const {
    using Out = std::decay_t<std::invoke_result_t<F&, const T&>>;
    return DataStream<Out>(env_, addUnary(std::move(name), [fn] {
      return std::make_unique<detail::MapOperator<T, Out, F>>(fn);
    }, "map"));
  }
  /// Keeps the records for which fn(in) is true.
  template <class F>
  DataStream<T> filter(std::string name, F fn) const {
    return DataStream<T>(env_, addUnary(std::move(name), [fn] {
      return std::make_unique<detail::FilterOperator<T, F>>(fn);
    }, "filter"));
  }
  /// fn(in, Emitter<Out>&) emits zero or more records, to the main output or side outputs.
  template <class Out, class F>
  DataStream<Out> flatMap(std::string name, F fn) const {
    auto ports = std::make_shared<detail::SidePorts>();
    graph::NodeId id = addUnary(std::move(name), [fn, ports] {
      return std::make_unique<detail::FlatMapOperator<T, Out, F>>(fn, ports);
    }, "flat-map");
    return DataStream<Out>(env_, id, 0, ports);
  }
  /// Same as flatMap: the name Flink users look for when they want side outputs.
  template <class Out, class F>
  DataStream<Out> process(std::string name, F fn) const {
    return flatMap<Out>(std::move(name), std::move(fn));
  }

  /// The side output `tag` of the node that produced this stream.
  template <class U>
  DataStream<U> sideOutput(const OutputTag<U>& tag) const {
    REKA_CHECK(sidePorts_ != nullptr);  // only flatMap/process/keyed process have side outputs
    auto& node = env_->graph_.node(node_);
    for (size_t i = 0; i < sidePorts_->size(); ++i) {
      if ((*sidePorts_)[i].tagId == tag.id()) return DataStream<U>(env_, node_, static_cast<int>(i) + 1);
    }
    sidePorts_->push_back({tag.id(), [] { return std::make_unique<RecordBatch<U>>(); }});
    node.outputPorts = static_cast<int>(sidePorts_->size()) + 1;
    return DataStream<U>(env_, node_, node.outputPorts - 1);
  }

  /// Partitions by key: records with equal keys go to the same subtask (via key groups).
  template <class KeyFn>
  auto keyBy(KeyFn keyFn) const {
    using K = std::decay_t<std::invoke_result_t<KeyFn&, const T&>>;
    return KeyedStream<T, K, KeyFn>(*this, std::move(keyFn));
  }

  /// All records of this stream and of `others` (same type) as one stream.
  template <class... Ss>
  DataStream<T> unionWith(const Ss&... others) const {
    graph::Node n;
    n.name = "union";
    n.kind = "union";
    n.chainable = false;
    n.inputs.push_back(edge(kind_ == graph::PartitionKind::kForward ? graph::PartitionKind::kRebalance : kind_));
    (n.inputs.push_back(others.edge(graph::PartitionKind::kRebalance)), ...);
    n.makeOperator = [] { return std::make_unique<detail::UnionOperator>(); };
    return DataStream<T>(env_, env_->graph_.addNode(std::move(n)));
  }

  /// Sends every record to every subtask of the operator it is connected to.
  BroadcastStream<T> broadcast() const { return BroadcastStream<T>(*this); }

  /// Connects a broadcast stream: fn.processElement(const T&, Emitter<Out>&) and
  /// fn.processBroadcastElement(const B&, Emitter<Out>&).
  template <class Out, class B, class Fn>
  DataStream<Out> connectBroadcast(std::string name, const BroadcastStream<B>& side, Fn fn,
                                   BroadcastMode mode = BroadcastMode::kAsArrives) const {
    auto ports = std::make_shared<detail::SidePorts>();
    graph::Node n;
    n.name = std::move(name);
    n.kind = "broadcast-process";
    n.chainable = false;
    n.inputs.push_back(edge(kind_ == graph::PartitionKind::kForward ? graph::PartitionKind::kRebalance : kind_));
    n.inputs.push_back(side.edge());
    if (mode == BroadcastMode::kSideInputFirst) n.readsToEndFirst = 1;
    n.makeOperator = [fn, mode, ports] {
      return std::make_unique<detail::BroadcastProcessOperator<T, B, Out, Fn>>(fn, mode, ports);
    };
    return DataStream<Out>(env_, env_->graph_.addNode(std::move(n)), 0, ports);
  }

  /// Ends the stream in fn: a callable (const T&), or a class with invoke(const T&) and
  /// optionally open(const OperatorContext&) and finish(). One instance per subtask.
  template <class F>
  DataStream<T> sink(std::string name, F fn) const {
    graph::NodeId id = addUnary(std::move(name), [fn] { return std::make_unique<detail::SinkOperator<T, F>>(fn); }, "sink");
    return DataStream<T>(env_, id);
  }

  // Internal: the edge that reads this stream.
  graph::Edge edge(graph::PartitionKind kind) const {
    graph::Edge e;
    e.from = node_;
    e.fromPort = port_;
    e.kind = kind;
    if (kind == graph::PartitionKind::kHash && writer_) {
      e.makeWriter = writer_;
    } else {
      e.makeWriter = kind == graph::PartitionKind::kBroadcast ? detail::broadcastWriterFactory<T>()
                                                               : detail::roundRobinWriterFactory<T>();
    }
    return e;
  }
  StreamEnvironment* env() const { return env_; }

 private:
  template <class MakeOp>
  graph::NodeId addUnary(std::string name, MakeOp makeOp, std::string kind = "custom") const {
    graph::Node n;
    n.name = std::move(name);
    n.kind = std::move(kind);
    n.inputs.push_back(edge(kind_));
    n.makeOperator = std::move(makeOp);
    return env_->graph_.addNode(std::move(n));
  }

  StreamEnvironment* env_;
  graph::NodeId node_;
  int port_;
  graph::PartitionKind kind_ = graph::PartitionKind::kForward;
  graph::WriterFactory writer_;  ///< kHash of rows (keyByColumns)
  std::shared_ptr<detail::SidePorts> sidePorts_;
};

/// A stream that will be broadcast to every subtask of the operator it is connected to.
template <class T>
class BroadcastStream {
 public:
  explicit BroadcastStream(DataStream<T> s) : stream_(std::move(s)) {}
  graph::Edge edge() const { return stream_.edge(graph::PartitionKind::kBroadcast); }

 private:
  DataStream<T> stream_;
};

template <class T1, class T2, class K, class KeyFn1, class KeyFn2>
class ConnectedKeyedStreams;
template <class T, class K, class KeyFn, class Assigner, class TsFn>
class WindowedStream;
namespace detail {
template <class T>
struct NoTimestamp;
}

/// A stream partitioned by key. Keyed functions see keyed state for the current record's key.
template <class T, class K, class KeyFn>
class KeyedStream {
 public:
  KeyedStream(DataStream<T> stream, KeyFn keyFn) : stream_(std::move(stream)), keyFn_(std::move(keyFn)) {}

  /// fn(const T&, KeyedContext<K,Out>&), or a class with processElement(const T&, ctx) and
  /// optionally open(KeyedStateRegistry<K>&) to register state, onEndOfInput(Emitter<Out>&).
  template <class Out, class Fn>
  DataStream<Out> process(std::string name, Fn fn) const {
    auto ports = std::make_shared<detail::SidePorts>();
    KeyFn keyFn = keyFn_;
    graph::Node n;
    n.name = std::move(name);
    n.kind = "keyed-process";
    n.inputs.push_back(edge());
    n.makeOperator = [keyFn, fn, ports] {
      return std::make_unique<detail::KeyedProcessOperator<T, K, Out, KeyFn, Fn>>(keyFn, fn, ports);
    };
    return DataStream<Out>(stream_.env(), stream_.env()->jobGraph().addNode(std::move(n)), 0, ports);
  }

  /// Rolling reduce: emits the new reduced value for every record.
  template <class ReduceFn>
  DataStream<T> reduce(std::string name, ReduceFn fn) const {
    struct Fn {
      ReduceFn reduceFn;
      ReducingState<K, T, ReduceFn> state;
      void open(KeyedStateRegistry<K>& r) { state = r.template reducingState<T>("reduce", reduceFn); }
      void processElement(const T& v, KeyedContext<K, T>& ctx) { ctx.emit(state.add(v)); }
    };
    return process<T>(std::move(name), Fn{std::move(fn), {}});
  }

  /// Rolling aggregate: `agg` has createAccumulator(), add(const T&, Acc&), getResult(const Acc&);
  /// emits the current result for every record. An `add` returning false (the accumulator is
  /// unchanged) keeps the key out of the next incremental checkpoint.
  template <class Agg>
  auto aggregate(std::string name, Agg agg) const {
    using State = AggregatingState<K, T, Agg>;
    using Out = typename State::Out;
    struct Fn {
      Agg aggFn;
      State state;
      void open(KeyedStateRegistry<K>& r) { state = r.template aggregatingState<T>("aggregate", aggFn); }
      void processElement(const T& v, KeyedContext<K, Out>& ctx) {
        state.add(v);
        ctx.emit(state.get());
      }
    };
    return process<Out>(std::move(name), Fn{std::move(agg), {}});
  }

  /// Event-time windows (TumblingWindows, SlidingWindows, SessionWindows): `tsFn(record)` is
  /// the record's event time. Defined in reka/api/Windowed.h.
  template <class Assigner, class TsFn>
  WindowedStream<T, K, KeyFn, Assigner, TsFn> window(Assigner assigner, TsFn tsFn) const;
  /// Processing-time windows, CountWindows and GlobalWindows.
  template <class Assigner>
  WindowedStream<T, K, KeyFn, Assigner, detail::NoTimestamp<T>> window(Assigner assigner) const;

  /// Connects another keyed stream with the same key type for keyed co-processing.
  template <class T2, class KeyFn2>
  ConnectedKeyedStreams<T, T2, K, KeyFn, KeyFn2> connect(const KeyedStream<T2, K, KeyFn2>& other) const {
    return ConnectedKeyedStreams<T, T2, K, KeyFn, KeyFn2>(*this, other);
  }

  graph::Edge edge() const {
    graph::Edge e = stream_.edge(graph::PartitionKind::kHash);
    e.makeWriter = detail::hashWriterFactory<T>(keyFn_);
    return e;
  }
  const KeyFn& keyFn() const { return keyFn_; }
  const DataStream<T>& stream() const { return stream_; }

 private:
  DataStream<T> stream_;
  KeyFn keyFn_;
};

/// Two keyed streams with the same key type; process() gives both to one function that shares
/// keyed state between them.
template <class T1, class T2, class K, class KeyFn1, class KeyFn2>
class ConnectedKeyedStreams {
 public:
  ConnectedKeyedStreams(KeyedStream<T1, K, KeyFn1> a, KeyedStream<T2, K, KeyFn2> b)
      : a_(std::move(a)), b_(std::move(b)) {}

  /// fn.processElement1(const T1&, KeyedContext<K,Out>&), fn.processElement2(const T2&, ...),
  /// optionally open(KeyedStateRegistry<K>&) and onEndOfInput(Emitter<Out>&).
  template <class Out, class Fn>
  DataStream<Out> process(std::string name, Fn fn) const {
    auto ports = std::make_shared<detail::SidePorts>();
    KeyFn1 k1 = a_.keyFn();
    KeyFn2 k2 = b_.keyFn();
    graph::Node n;
    n.name = std::move(name);
    n.kind = "keyed-co-process";
    n.chainable = false;
    n.inputs.push_back(a_.edge());
    n.inputs.push_back(b_.edge());
    n.makeOperator = [k1, k2, fn, ports] {
      return std::make_unique<detail::KeyedCoProcessOperator<T1, T2, K, Out, KeyFn1, KeyFn2, Fn>>(k1, k2, fn, ports);
    };
    StreamEnvironment* env = a_.stream().env();
    return DataStream<Out>(env, env->jobGraph().addNode(std::move(n)), 0, ports);
  }

 private:
  KeyedStream<T1, K, KeyFn1> a_;
  KeyedStream<T2, K, KeyFn2> b_;
};

template <class T>
DataStream<T> StreamEnvironment::fromCollection(std::string name, std::vector<T> values) {
  auto shared = std::make_shared<const std::vector<T>>(std::move(values));
  return addSource<T>(std::move(name), [shared] { return std::make_unique<detail::CollectionSource<T>>(shared); }, 1);
}

template <class T, class MakeFn>
DataStream<T> StreamEnvironment::addSource(std::string name, MakeFn makeFn, int parallelism) {
  graph::Node n;
  n.name = std::move(name);
  n.kind = "source";
  n.isSource = true;
  n.parallelism = parallelism;
  n.makeOperator = [makeFn] {
    std::unique_ptr<SourceFunction<T>> fn = makeFn();
    return std::make_unique<detail::FunctionSourceOperator<T>>(std::move(fn));
  };
  return DataStream<T>(this, graph_.addNode(std::move(n)));
}

template <class T, class MakeFn, class Strategy>
DataStream<T> StreamEnvironment::fromSource(std::string name, MakeFn makeFn, Strategy strategy, int parallelism) {
  static_assert(std::is_same_v<typename Strategy::Record, T>, "the watermark strategy is for another record type");
  graph::Node n;
  n.name = std::move(name);
  n.kind = "source";
  n.isSource = true;
  n.parallelism = parallelism;
  n.makeOperator = [makeFn, strategy] {
    std::unique_ptr<SourceFunction<T>> fn = makeFn();
    return std::make_unique<detail::FunctionSourceOperator<T>>(
        std::move(fn), std::make_unique<detail::StrategyTimestamper<T, Strategy>>(strategy));
  };
  return DataStream<T>(this, graph_.addNode(std::move(n)));
}

}  // namespace reka

#include "reka/api/Windowed.h"  // IWYU pragma: export
