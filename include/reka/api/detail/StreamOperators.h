#pragma once

#include <algorithm>
#include <concepts>
#include <stdexcept>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "reka/api/Functions.h"
#include "reka/api/Operator.h"
#include "reka/api/detail/EventTimeOperators.h"
#include "reka/checkpoint/PositionLog.h"

namespace reka::detail {

/// Base of the typed operators: keeps the context and the emitter for Out.
template <class Out>
class EmittingOperator : public Operator {
 public:
  explicit EmittingOperator(std::shared_ptr<const SidePorts> ports) : ports_(std::move(ports)) {}
  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    emitterRef().initEmitter(ctx, ports_ ? *ports_ : SidePorts{});
    return Status::ok();
  }
  void finish() override { emitterRef().flushEmitted(nullptr); }

 protected:
  virtual Emitter<Out>& emitterRef() = 0;
  OperatorContext* ctx_ = nullptr;
  std::shared_ptr<const SidePorts> ports_;
};

template <class In, class Out, class F>
class MapOperator final : public Operator {
 public:
  explicit MapOperator(F fn) : fn_(std::move(fn)) {}
  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    out_.records.reserve(ctx.batchSize);
    return Status::ok();
  }
  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RecordBatch<In>&>(batch);
    out_.records.resize(in.records.size());
    Out* dst = out_.records.data();
    for (const auto& r : in.records) *dst++ = fn_(r);
    out_.keepAlive.swap(in.keepAlive);
    ctx_->metrics->recordsOut.fetch_add(static_cast<int64_t>(out_.records.size()), std::memory_order_relaxed);
    ctx_->outputs[0]->push(out_);
    out_.clear();
  }

 private:
  F fn_;
  RecordBatch<Out> out_;
  OperatorContext* ctx_ = nullptr;
};

template <class T, class F>
class FilterOperator final : public Operator {
 public:
  explicit FilterOperator(F fn) : fn_(std::move(fn)) {}
  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    return Status::ok();
  }
  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RecordBatch<T>&>(batch);
    // Compacts in place: the batch is ours to modify.
    auto end = std::remove_if(in.records.begin(), in.records.end(), [this](const T& r) { return !fn_(r); });
    in.records.erase(end, in.records.end());
    if (in.records.empty()) return;
    ctx_->metrics->recordsOut.fetch_add(static_cast<int64_t>(in.records.size()), std::memory_order_relaxed);
    ctx_->outputs[0]->push(in);
  }

 private:
  F fn_;
  OperatorContext* ctx_ = nullptr;
};

template <class Fn>
concept HasOperatorOpen = requires(Fn f, OperatorStateRegistry& r) { f.open(r); };

/// flatMap and non-keyed process: F(const In&, Emitter<Out>&) — a callable, or a class with
/// processElement(const In&, Emitter<Out>&) and optionally open(OperatorStateRegistry&).
template <class In, class Out, class F>
class FlatMapOperator final : public EmittingOperator<Out> {
 public:
  FlatMapOperator(F fn, std::shared_ptr<const SidePorts> ports)
      : EmittingOperator<Out>(std::move(ports)), fn_(std::move(fn)) {}
  Status open(OperatorContext& ctx) override {
    REKA_RETURN_IF_ERROR(EmittingOperator<Out>::open(ctx));
    if constexpr (HasOperatorOpen<F>) {
      OperatorStateRegistry registry(ctx.state, ctx.stateScope() + "/", ctx.subtask, ctx.parallelism);
      fn_.open(registry);
      REKA_RETURN_IF_ERROR(registry.status());
    }
    return Status::ok();
  }
  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RecordBatch<In>&>(batch);
    for (const auto& r : in.records) {
      if constexpr (std::is_invocable_v<F&, const In&, Emitter<Out>&>) {
        fn_(r, emitter_);
      } else {
        fn_.processElement(r, emitter_);
      }
    }
    emitter_.flushEmitted(&in);
  }

 private:
  Emitter<Out>& emitterRef() override { return emitter_; }
  F fn_;
  Emitter<Out> emitter_;
};

/// Calls `call(record)` for each of `records` with its key (by `keyFn`) and key group set as the
/// current key of `kctx`, as keyed state and timers read them.
template <class K, class Out, class R, class KeyFn, class Call>
void forEachWithKey(KeyedContext<K, Out>& kctx, int maxParallelism, const std::vector<R>& records, KeyFn& keyFn, Call&& call) {
  auto& kc = kctx.keyContext();
  for (const auto& r : records) {
    const K key = keyFn(r);
    kc.key = &key;
    kc.keyGroup = keyGroupFor(hashKey(key), maxParallelism);
    call(r);
  }
  kc.key = nullptr;
}

template <class Fn, class K>
concept HasKeyedOpen = requires(Fn f, KeyedStateRegistry<K>& r) { f.open(r); };

template <class Fn, class Ctx>
concept HasEndOfInput = requires(Fn f, Ctx& c) { f.onEndOfInput(c); };

template <class Fn, class Ctx>
concept HasOnTimer = requires(Fn f, int64_t ts, Ctx& c) { f.onTimer(ts, c); };

/// Fires the timers of a keyed operator: sets the timer's key as the current key, calls
/// fn.onTimer(ts, ctx), sends what it emitted. Checkpoints the timers and the watermark.
template <class K, class Out, class Fn>
class KeyedTimerFiring {
 public:
  /// Where the timers are kept: in the backend's store on RocksDB when the function has onTimer
  /// (and its key a Serde), on the heap otherwise (KeyedTimers::init).
  static Status open(OperatorContext& ctx, KeyedContext<K, Out>& kctx) {
    return kctx.timers().init(&ctx, &kctx.keyContext(), HasOnTimer<Fn, KeyedContext<K, Out>>);
  }

  /// The operator's checkpoint: u8 version (1), then KeyedTimers::snapshot. Keyed state lives
  /// in the state backend, which the runtime snapshots itself.
  /// Whether the timers can be checkpointed: a function with onTimer needs a Serde of its key.
  static Status checkSnapshottable() {
    if constexpr (HasOnTimer<Fn, KeyedContext<K, Out>> && !HasSerde<StoredKeyOf<K>>::value) {
      return Status::notSupported(std::string("a keyed function with onTimer cannot be checkpointed: its key type (") +
                                  typeid(StoredKeyOf<K>).name() + ") has no reka::Serde specialisation for its timers");
    } else {
      return Status::ok();
    }
  }
  static Status snapshot(KeyedContext<K, Out>& kctx, std::string& out) {
    if constexpr (HasOnTimer<Fn, KeyedContext<K, Out>> && !HasSerde<StoredKeyOf<K>>::value) {
      (void)kctx, (void)out;
      return checkSnapshottable();
    } else {
      Serde<uint8_t>::write(kFormatVersion, out);
      return kctx.timers().snapshot(out);
    }
  }
  static Status restore(KeyedContext<K, Out>& kctx, std::string_view in) {
    uint8_t version = 0;
    if (!Serde<uint8_t>::read(in, version)) return Status::corruption("empty keyed operator checkpoint");
    if (version != kFormatVersion)
      return Status::corruption("keyed operator checkpoint of unknown format version " + std::to_string(version));
    REKA_RETURN_IF_ERROR(kctx.timers().restore(in));
    if (!in.empty()) return Status::corruption("trailing bytes after a keyed operator's timers");
    return Status::ok();
  }
  /// Restore at another parallelism, for an operator whose own state is its timers: takes the
  /// timers of this subtask's keys from `scratch` (an instance of the same operator type Op,
  /// whose keyed context is the member `kctxOf`); the keyed state itself moves with the
  /// backend's key groups.
  template <class Op>
  static Status absorb(KeyedContext<K, Out>& kctx, Operator& scratch, KeyedContext<K, Out> Op::*kctxOf) {
    auto* from = dynamic_cast<Op*>(&scratch);
    if (from == nullptr) return Status::internal("a rescaled restore handed over another kind of operator");
    return kctx.timers().absorb((from->*kctxOf).timers());
  }
  static void onWatermark(int64_t wm, Fn& fn, KeyedContext<K, Out>& kctx, int maxParallelism) {
    kctx.setTimeDomain(TimeDomain::kEventTime);
    kctx.timers().advanceWatermark(wm, [&](int64_t ts, const StoredKeyOf<K>& stored) {
      fire(ts, stored, fn, kctx, maxParallelism);
      kctx.flushWhenFull();
    });
    kctx.flushEmitted(nullptr);
  }
  static void onProcessingTime(int64_t now, Fn& fn, KeyedContext<K, Out>& kctx, int maxParallelism) {
    kctx.setTimeDomain(TimeDomain::kProcessingTime);
    kctx.timers().advanceProcessingTime(now, [&](int64_t ts, const StoredKeyOf<K>& stored) {
      fire(ts, stored, fn, kctx, maxParallelism);
      kctx.flushWhenFull();
    });
    kctx.flushEmitted(nullptr);
  }

 private:
  static constexpr uint8_t kFormatVersion = 1;

  static void fire(int64_t ts, const StoredKeyOf<K>& stored, Fn& fn, KeyedContext<K, Out>& kctx, int maxParallelism) {
    if constexpr (HasOnTimer<Fn, KeyedContext<K, Out>>) {
      const K key(stored);
      auto& kc = kctx.keyContext();
      kc.key = &key;
      kc.keyGroup = keyGroupFor(hashKey(key), maxParallelism);
      fn.onTimer(ts, kctx);
      kc.key = nullptr;
    } else {
      (void)ts, (void)stored, (void)fn, (void)kctx, (void)maxParallelism;
    }
  }
};

/// Runs a keyed function: sets the current key for every record, then calls the function.
/// Fn is either a callable (const In&, KeyedContext<K,Out>&) or a class with processElement
/// and optionally open(KeyedStateRegistry<K>&) and onEndOfInput(Emitter<Out>&).
template <class In, class K, class Out, class KeyFn, class Fn>
class KeyedProcessOperator final : public EmittingOperator<Out> {
 public:
  KeyedProcessOperator(KeyFn keyFn, Fn fn, std::shared_ptr<const SidePorts> ports)
      : EmittingOperator<Out>(std::move(ports)), keyFn_(std::move(keyFn)), fn_(std::move(fn)) {}

  Status open(OperatorContext& ctx) override {
    REKA_RETURN_IF_ERROR(EmittingOperator<Out>::open(ctx));
    REKA_RETURN_IF_ERROR(Timers::open(ctx, kctx_));
    if constexpr (HasKeyedOpen<Fn, K>) {
      KeyedStateRegistry<K> registry(ctx.state, &kctx_.keyContext(), ctx.stateScope() + "/");
      fn_.open(registry);
      REKA_RETURN_IF_ERROR(registry.status());
    }
    return Status::ok();
  }
  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RecordBatch<In>&>(batch);
    forEachWithKey(kctx_, this->ctx_->maxParallelism, in.records, keyFn_, [this](const In& r) {
      if constexpr (std::is_invocable_v<Fn&, const In&, KeyedContext<K, Out>&>) {
        fn_(r, kctx_);
      } else {
        fn_.processElement(r, kctx_);
      }
    });
    kctx_.flushEmitted(&in);
  }
  void finish() override {
    if constexpr (HasEndOfInput<Fn, Emitter<Out>>) fn_.onEndOfInput(static_cast<Emitter<Out>&>(kctx_));
    kctx_.flushEmitted(nullptr);
  }
  void processWatermark(int64_t wm) override {
    Timers::onWatermark(wm, fn_, kctx_, this->ctx_->maxParallelism);
    this->forwardWatermark(wm);
  }
  void onProcessingTime(int64_t now) override { Timers::onProcessingTime(now, fn_, kctx_, this->ctx_->maxParallelism); }
  /// The earliest event-time timer the function registered.
  int64_t nextEventTimer() const override { return kctx_.timers().nextEventTime(); }
  Status checkSnapshottable() const override { return Timers::checkSnapshottable(); }
  Status snapshotState(int64_t, std::string& out) override { return Timers::snapshot(kctx_, out); }
  Status restoreState(std::string_view in) override { return Timers::restore(kctx_, in); }
  Operator::OwnStateRescale ownStateRescale() const override { return Operator::OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator& scratch, const Operator::RescaledPart&) override {
    return Timers::absorb(kctx_, scratch, &KeyedProcessOperator::kctx_);
  }

 private:
  using Timers = KeyedTimerFiring<K, Out, Fn>;
  Emitter<Out>& emitterRef() override { return kctx_; }
  KeyFn keyFn_;
  Fn fn_;
  KeyedContext<K, Out> kctx_;
};

template <class Fn, class K>
concept HasCoOpen = requires(Fn f, KeyedStateRegistry<K>& r) { f.open(r); };

/// Two keyed inputs with the same key type, processed by one function with shared keyed state:
/// fn.processElement1(const In1&, ctx) and fn.processElement2(const In2&, ctx).
template <class In1, class In2, class K, class Out, class KeyFn1, class KeyFn2, class Fn>
class KeyedCoProcessOperator final : public EmittingOperator<Out> {
 public:
  KeyedCoProcessOperator(KeyFn1 k1, KeyFn2 k2, Fn fn, std::shared_ptr<const SidePorts> ports)
      : EmittingOperator<Out>(std::move(ports)), key1_(std::move(k1)), key2_(std::move(k2)), fn_(std::move(fn)) {}

  Status open(OperatorContext& ctx) override {
    REKA_RETURN_IF_ERROR(EmittingOperator<Out>::open(ctx));
    REKA_RETURN_IF_ERROR(Timers::open(ctx, kctx_));
    if constexpr (HasCoOpen<Fn, K>) {
      KeyedStateRegistry<K> registry(ctx.state, &kctx_.keyContext(), ctx.stateScope() + "/");
      fn_.open(registry);
      REKA_RETURN_IF_ERROR(registry.status());
    }
    return Status::ok();
  }
  void processBatch(int input, Batch& batch) override {
    const int maxParallelism = this->ctx_->maxParallelism;
    if (input == 0) {
      forEachWithKey(kctx_, maxParallelism, static_cast<RecordBatch<In1>&>(batch).records, key1_,
                     [this](const In1& r) { fn_.processElement1(r, kctx_); });
    } else {
      forEachWithKey(kctx_, maxParallelism, static_cast<RecordBatch<In2>&>(batch).records, key2_,
                     [this](const In2& r) { fn_.processElement2(r, kctx_); });
    }
    kctx_.flushEmitted(&batch);
  }
  void finish() override {
    if constexpr (HasEndOfInput<Fn, Emitter<Out>>) fn_.onEndOfInput(static_cast<Emitter<Out>&>(kctx_));
    kctx_.flushEmitted(nullptr);
  }
  void processWatermark(int64_t wm) override {
    Timers::onWatermark(wm, fn_, kctx_, this->ctx_->maxParallelism);
    this->forwardWatermark(wm);
  }
  void onProcessingTime(int64_t now) override { Timers::onProcessingTime(now, fn_, kctx_, this->ctx_->maxParallelism); }
  int64_t nextEventTimer() const override { return kctx_.timers().nextEventTime(); }
  Status checkSnapshottable() const override { return Timers::checkSnapshottable(); }
  Status snapshotState(int64_t, std::string& out) override { return Timers::snapshot(kctx_, out); }
  Status restoreState(std::string_view in) override { return Timers::restore(kctx_, in); }
  Operator::OwnStateRescale ownStateRescale() const override { return Operator::OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator& scratch, const Operator::RescaledPart&) override {
    return Timers::absorb(kctx_, scratch, &KeyedCoProcessOperator::kctx_);
  }

 private:
  using Timers = KeyedTimerFiring<K, Out, Fn>;
  Emitter<Out>& emitterRef() override { return kctx_; }
  KeyFn1 key1_;
  KeyFn2 key2_;
  Fn fn_;
  KeyedContext<K, Out> kctx_;
};

/// How a broadcast input is interleaved with the main input.
enum class BroadcastMode {
  kAsArrives,        ///< both inputs are processed as they arrive (rules that change at run time)
  kSideInputFirst,   ///< the bounded broadcast input is read to its end before any main record
};

template <class Fn>
concept HasFunctionSnapshot = requires(const Fn f, std::string& out) {
  { f.snapshotState(out) } -> std::same_as<Status>;
};
template <class Fn>
concept HasFunctionRestore = requires(Fn f, std::string_view in) {
  { f.restoreState(in) } -> std::same_as<Status>;
};

/// Main input (0) plus a broadcast input (1): fn.processElement(const In&, Emitter<Out>&) and
/// fn.processBroadcastElement(const B&, Emitter<Out>&).
/// Checkpoints: the operator writes whether the broadcast input has ended. What the function
/// keeps in its members (a side table built from the broadcast input) is its own to write, with
/// `Status snapshotState(std::string&) const` and `Status restoreState(std::string_view)`:
/// without them the members start empty after a restore, and a broadcast input that had been
/// read is not read again.
template <class In, class B, class Out, class Fn>
class BroadcastProcessOperator final : public EmittingOperator<Out> {
 public:
  BroadcastProcessOperator(Fn fn, BroadcastMode mode, std::shared_ptr<const SidePorts> ports)
      : EmittingOperator<Out>(std::move(ports)), fn_(std::move(fn)), mode_(mode) {}
  void processBatch(int input, Batch& batch) override {
    if (input == 0) {
      for (const auto& r : static_cast<RecordBatch<In>&>(batch).records) fn_.processElement(r, emitter_);
    } else {
      for (const auto& r : static_cast<RecordBatch<B>&>(batch).records) fn_.processBroadcastElement(r, emitter_);
    }
    emitter_.flushEmitted(&batch);
  }
  void endInput(int input) override {
    if (input == 1) broadcastEnded_ = true;
  }
  bool acceptsInput(int input) const override {
    return input == 1 || mode_ == BroadcastMode::kAsArrives || broadcastEnded_;
  }
  /// u8 version (1), u8 broadcast input ended, then what the function wrote (if it writes).
  Status snapshotState(int64_t, std::string& out) override {
    Serde<uint8_t>::write(kFormatVersion, out);
    Serde<uint8_t>::write(broadcastEnded_ ? 1 : 0, out);
    if constexpr (HasFunctionSnapshot<Fn>) return fn_.snapshotState(out);
    return Status::ok();
  }
  /// At another parallelism, new subtask i takes old subtask i mod P_old's state: every subtask
  /// built the same side table from the same broadcast input.
  Operator::OwnStateRescale ownStateRescale() const override { return Operator::OwnStateRescale::kCopyPerSubtask; }
  Status absorbRescaled(Operator&, const Operator::RescaledPart& part) override { return restoreState(part.base); }
  Status restoreState(std::string_view in) override {
    uint8_t version = 0, ended = 0;
    if (!Serde<uint8_t>::read(in, version) || !Serde<uint8_t>::read(in, ended) || ended > 1)
      return Status::corruption("truncated or malformed broadcast operator checkpoint");
    if (version != kFormatVersion)
      return Status::corruption("broadcast operator checkpoint of unknown format version " + std::to_string(version));
    broadcastEnded_ = ended == 1;
    if constexpr (HasFunctionRestore<Fn>) {
      return fn_.restoreState(in);
    } else {
      if (!in.empty()) return Status::corruption("broadcast operator checkpoint holds function state this function cannot restore");
      return Status::ok();
    }
  }

 private:
  static constexpr uint8_t kFormatVersion = 1;

  Emitter<Out>& emitterRef() override { return emitter_; }
  Fn fn_;
  BroadcastMode mode_;
  bool broadcastEnded_ = false;
  Emitter<Out> emitter_;
};

/// Identity over several inputs of the same type.
class UnionOperator final : public Operator {
 public:
  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    return Status::ok();
  }
  void processBatch(int, Batch& batch) override {
    ctx_->metrics->recordsOut.fetch_add(static_cast<int64_t>(batch.size()), std::memory_order_relaxed);
    ctx_->outputs[0]->push(batch);
  }

 private:
  OperatorContext* ctx_ = nullptr;
};

template <class Fn>
concept HasSinkOpen = requires(Fn f, const OperatorContext& c) { f.open(c); };
template <class Fn>
concept HasSinkFinish = requires(Fn f) { f.finish(); };
template <class Fn>
concept HasSinkClose = requires(Fn f) { f.close(); };
template <class Fn>
concept HasSinkSnapshot = requires(Fn f, int64_t id, std::string& out) {
  { f.snapshot(id, out) } -> std::same_as<Status>;
};
template <class Fn>
concept HasSinkRestore = requires(Fn f, std::string_view in) {
  { f.restore(in) } -> std::same_as<Status>;
};
template <class Fn>
concept HasSinkCommit = requires(Fn f, int64_t id) { f.commit(id); };

/// Calls F for every record: a callable (const T&) or a class with invoke(const T&) and
/// optionally open(const OperatorContext&) → Status, finish() and close() (also after a cancel). A sink that takes part in
/// checkpoints also has snapshot(int64_t checkpointId, std::string&) → Status (pre-commit),
/// restore(std::string_view) → Status and commit(int64_t checkpointId).
template <class T, class F>
class SinkOperator final : public Operator {
 public:
  explicit SinkOperator(F fn) : fn_(std::move(fn)) {}
  Status open(OperatorContext& ctx) override {
    if constexpr (HasSinkOpen<F>) {
      return fn_.open(ctx);
    } else {
      return Status::ok();
    }
  }
  void processBatch(int, Batch& batch) override {
    if constexpr (std::is_same_v<T, Row>) {
      // A sink of rows takes whole batches (formats encode column by column).
      if constexpr (std::is_invocable_v<F&, const RowBatch&>) {
        fn_(static_cast<const RowBatch&>(batch));
      } else {
        fn_.invoke(static_cast<const RowBatch&>(batch));
      }
    } else {
      for (const auto& r : static_cast<RecordBatch<T>&>(batch).records) {
        if constexpr (std::is_invocable_v<F&, const T&>) {
          fn_(r);
        } else {
          fn_.invoke(r);
        }
      }
    }
  }
  void finish() override {
    if constexpr (HasSinkFinish<F>) fn_.finish();
  }
  void close() override {
    if constexpr (HasSinkClose<F>) fn_.close();
  }
  Status snapshotState(int64_t checkpointId, std::string& out) override {
    if constexpr (HasSinkSnapshot<F>) {
      return fn_.snapshot(checkpointId, out);
    } else {
      (void)checkpointId, (void)out;
      return Status::ok();
    }
  }
  /// At another parallelism, old subtask j's state goes to new subtask j mod P: restored into a
  /// scratch instance opened as subtask j, which recovers it (a transactional sink commits what
  /// that subtask had staged for complete checkpoints and discards the rest); nothing is left to
  /// take over.
  Operator::OwnStateRescale ownStateRescale() const override { return Operator::OwnStateRescale::kToOneSubtask; }
  Status restoreState(std::string_view in) override {
    if constexpr (HasSinkRestore<F>) {
      return fn_.restore(in);
    } else {
      (void)in;
      return Status::ok();
    }
  }
  void notifyCheckpointComplete(int64_t checkpointId) override {
    if constexpr (HasSinkCommit<F>) {
      fn_.commit(checkpointId);
    } else {
      (void)checkpointId;
    }
  }

 private:
  F fn_;
};

/// Drives a SourceFunction: one poll per batch. With a timestamper, generates watermarks per
/// split of the source and merges them.
template <class T>
class FunctionSourceOperator final : public SourceOperator {
 public:
  explicit FunctionSourceOperator(std::unique_ptr<SourceFunction<T>> fn,
                                  std::unique_ptr<SourceTimestamper<T>> timestamper = nullptr)
      : fn_(std::move(fn)), timestamper_(std::move(timestamper)) {}
  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    out_.records.reserve(ctx.batchSize);
    REKA_RETURN_IF_ERROR(fn_->open(ctx));
    if (timestamper_) emitter_.open(ctx, timestamper_->options(), fn_->splitCount());
    if (!ctx.positionFile.empty()) {
      // At-most-once: resume past everything emitted before, then log ahead of every batch.
      auto logged = positionLog_.open(ctx.positionFile);
      if (!logged.isOk()) return logged.status();
      if (!logged->empty()) REKA_RETURN_IF_ERROR(restoreState(*logged));
      std::string probe;
      Status s = snapshotState(0, probe);
      if (!s.isOk()) return Status(s.code(), "at-most-once delivery needs sources that report their position: " + s.message());
    }
    return Status::ok();
  }
  Poll pollNext() override {
    Poll p = fn_->poll(out_, ctx_->batchSize);
    if (!out_.records.empty()) {
      if (positionLog_.isOk()) {
        positionBuffer_.clear();
        Status s = snapshotState(0, positionBuffer_);
        if (s.isOk()) s = positionLog_.write(positionBuffer_);
        if (!s.isOk()) throw std::runtime_error(s.message());
      }
      if (timestamper_) timestamper_->observe(static_cast<size_t>(fn_->lastSplit()), out_, emitter_.splits());
      ctx_->metrics->recordsOut.fetch_add(static_cast<int64_t>(out_.records.size()), std::memory_order_relaxed);
      ctx_->outputs[0]->push(out_);
      out_.clear();
      if (timestamper_) emitter_.afterBatch();
    }
    ctx_->metrics->eventTime.store(fn_->eventTime(), std::memory_order_relaxed);
    return p;
  }
  void onProcessingTime(int64_t now) override {
    if (timestamper_) emitter_.onTick(now);
  }
  void close() override { fn_->close(); }

  /// u8 version (1), u8 whether watermarks follow, the source function's position (a string),
  /// then WatermarkEmitter::snapshot (per-split highest timestamps, idleness, the watermark
  /// sent), so that a restored source resumes where it was and its watermark never goes back.
  Status snapshotState(int64_t, std::string& out) override {
    std::string position;
    REKA_RETURN_IF_ERROR(fn_->snapshotPosition(position));
    Serde<uint8_t>::write(kFormatVersion, out);
    Serde<uint8_t>::write(timestamper_ ? 1 : 0, out);
    Serde<std::string>::write(position, out);
    if (timestamper_) emitter_.snapshot(out);
    return Status::ok();
  }
  Status restoreState(std::string_view in) override {
    uint8_t version = 0, watermarks = 0;
    std::string position;
    if (!Serde<uint8_t>::read(in, version)) return Status::corruption("empty source checkpoint");
    if (version != kFormatVersion)
      return Status::corruption("source checkpoint of unknown format version " + std::to_string(version));
    if (!Serde<uint8_t>::read(in, watermarks) || watermarks > 1 || !Serde<std::string>::read(in, position))
      return Status::corruption("truncated or malformed source checkpoint");
    if ((watermarks == 1) != (timestamper_ != nullptr))
      return Status::invalidArgument(watermarks == 1 ? "the checkpoint is of a source with event time, this one has none"
                                                     : "the checkpoint is of a source without event time, this one has it");
    REKA_RETURN_IF_ERROR(fn_->restorePosition(position));
    if (timestamper_) REKA_RETURN_IF_ERROR(emitter_.restore(in));
    if (!in.empty()) return Status::corruption("trailing bytes after a source checkpoint");
    return Status::ok();
  }

 private:
  static constexpr uint8_t kFormatVersion = 1;
  std::unique_ptr<SourceFunction<T>> fn_;
  std::unique_ptr<SourceTimestamper<T>> timestamper_;
  WatermarkEmitter emitter_;
  RecordBatch<T> out_;
  OperatorContext* ctx_ = nullptr;
  PositionLog positionLog_;
  std::string positionBuffer_;
};

/// A bounded source over a shared vector; subtask i emits elements i, i+P, i+2P, ...
template <class T>
class CollectionSource final : public SourceFunction<T> {
 public:
  explicit CollectionSource(std::shared_ptr<const std::vector<T>> values) : values_(std::move(values)) {}
  Status open(const OperatorContext& ctx) override {
    next_ = static_cast<size_t>(ctx.subtask);
    stride_ = static_cast<size_t>(ctx.parallelism);
    return Status::ok();
  }
  SourceOperator::Poll poll(RecordBatch<T>& out, size_t maxRecords) override {
    while (next_ < values_->size() && out.records.size() < maxRecords) {
      out.records.push_back((*values_)[next_]);
      next_ += stride_;
    }
    return next_ < values_->size() ? SourceOperator::Poll::kMore : SourceOperator::Poll::kEnd;
  }
  Status snapshotPosition(std::string& out) const override {
    Serde<uint64_t>::write(next_, out);
    return Status::ok();
  }
  Status restorePosition(std::string_view in) override {
    uint64_t next = 0;
    if (!Serde<uint64_t>::read(in, next) || !in.empty()) return Status::corruption("bad collection source position");
    next_ = static_cast<size_t>(next);
    return Status::ok();
  }

 private:
  std::shared_ptr<const std::vector<T>> values_;
  size_t next_ = 0;
  size_t stride_ = 1;
};

}  // namespace reka::detail
