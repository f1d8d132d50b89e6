#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "reka/api/Operator.h"
#include "reka/data/Row.h"
#include "reka/state/KeyedState.h"
#include "reka/time/Timers.h"

namespace reka {

namespace detail {
/// Ids for output tags, unique across all tag types.
inline int nextOutputTagId() {
  static std::atomic<int> next{1};
  return next.fetch_add(1);
}
}  // namespace detail

/// Names a side output of type U. Create it once, use it inside the function (ctx.output(tag, v))
/// and on the resulting stream (stream.sideOutput(tag)).
template <class U>
class OutputTag {
 public:
  explicit OutputTag(std::string name) : name_(std::move(name)), id_(detail::nextOutputTagId()) {}
  const std::string& name() const { return name_; }
  int id() const { return id_; }

 private:
  std::string name_;
  int id_;
};

namespace detail {
/// A side output port of a node: the tag it serves and how to make its batches.
struct SidePort {
  int tagId;
  std::function<std::unique_ptr<Batch>()> makeBatch;
};
using SidePorts = std::vector<SidePort>;
}  // namespace detail

/// Collects what a function emits for the current input batch: records for the main output
/// and for side outputs. The operator hands them downstream once per input batch.
template <class Out>
class Emitter {
 public:
  void emit(const Out& value) { main_.records.push_back(value); }
  void emit(Out&& value) { main_.records.push_back(std::move(value)); }
  /// Emits to the side output `tag`. Records for a side output that no stream reads are discarded.
  template <class U>
  void output(const OutputTag<U>& tag, U value) {
    for (size_t i = 0; i < sideIds_.size(); ++i) {
      if (sideIds_[i] == tag.id()) {
        static_cast<RecordBatch<U>&>(*sides_[i]).records.push_back(std::move(value));
        return;
      }
    }
  }

  /// Emits to the side output with tag id `tagId` (records of type U); dropped if no stream reads it.
  template <class U>
  void outputById(int tagId, U value) {
    for (size_t i = 0; i < sideIds_.size(); ++i) {
      if (sideIds_[i] == tagId) {
        static_cast<RecordBatch<U>&>(*sides_[i]).records.push_back(std::move(value));
        return;
      }
    }
  }

  // Runtime side.
  void initEmitter(OperatorContext& ctx, const detail::SidePorts& ports) {
    ctx_ = &ctx;
    main_.records.reserve(ctx.batchSize);
    for (const auto& p : ports) {
      sideIds_.push_back(p.tagId);
      sides_.push_back(p.makeBatch());
    }
  }
  /// Sends what was emitted; the output retains `source`'s buffers (records may view into them).
  void flushEmitted(const Batch* source) {
    if (!main_.records.empty()) {
      if (source != nullptr) main_.retain(*source);
      ctx_->metrics->recordsOut.fetch_add(static_cast<int64_t>(main_.records.size()), std::memory_order_relaxed);
      ctx_->outputs[0]->push(main_);
      main_.clear();
    }
    for (size_t i = 0; i < sides_.size(); ++i) {
      if (sides_[i]->size() == 0) continue;
      if (source != nullptr) sides_[i]->retain(*source);
      ctx_->outputs[i + 1]->push(*sides_[i]);
      sides_[i]->clear();
    }
  }
  /// Emitted main-output records not yet sent (for operators that flush on size).
  size_t pendingCount() const { return main_.records.size(); }
  /// Sends what was emitted once a batch is full: for emitting outside an input batch (timers
  /// firing), where a watermark that fires many timers would otherwise hold all their output.
  void flushWhenFull() {
    if (main_.records.size() >= ctx_->batchSize) flushEmitted(nullptr);
  }

 protected:
  RecordBatch<Out> main_;
  std::vector<int> sideIds_;
  std::vector<std::unique_ptr<Batch>> sides_;
  OperatorContext* ctx_ = nullptr;
};

/// What a keyed function sees per record (and in onTimer): the emitter, the current key, and
/// timers for the current key.
template <class K, class Out>
class KeyedContext : public Emitter<Out> {
 public:
  KeyedContext() { keyCtx_.watermark = timers_.watermarkAddress(); }
  KeyedContext(const KeyedContext&) = delete;
  KeyedContext& operator=(const KeyedContext&) = delete;

  const K& currentKey() const { return *keyCtx_.key; }
  KeyGroup currentKeyGroup() const { return keyCtx_.keyGroup; }
  int subtask() const { return this->ctx_->subtask; }
  /// Event-time and processing-time timers of the current key.
  TimerService<K>& timerService() { return timerService_; }
  /// In onTimer: the clock of the timer that fired.
  TimeDomain timeDomain() const { return domain_; }
  /// The operator's current watermark (kMinTime before the first).
  int64_t currentWatermark() const { return timers_.currentWatermark(); }
  /// Counts a record the function drops because it is late (the operator's lateRecords).
  void countLateRecord() { this->ctx_->metrics->lateRecords.fetch_add(1, std::memory_order_relaxed); }

  // Runtime side.
  KeyContext<K>& keyContext() { return keyCtx_; }
  KeyedTimers<K>& timers() { return timers_; }
  const KeyedTimers<K>& timers() const { return timers_; }
  void setTimeDomain(TimeDomain d) { domain_ = d; }

 private:
  KeyContext<K> keyCtx_;
  KeyedTimers<K> timers_;
  TimerService<K> timerService_{&timers_};
  TimeDomain domain_ = TimeDomain::kEventTime;
};

/// What a non-keyed function sees at open(): its place in the job and its operator state
/// (lists redistributed round-robin when the parallelism changes on restore).
class OperatorStateRegistry {
 public:
  OperatorStateRegistry(StateBackend* backend, std::string prefix, int subtask, int parallelism)
      : backend_(backend), prefix_(std::move(prefix)), subtask_(subtask), parallelism_(parallelism) {}

  /// The operator list state `name` of this subtask (empty on a fresh start).
  template <class T>
  std::vector<T>* listState(const std::string& name) {
    auto r = backend_->operatorListState<T>(prefix_ + name);
    if (r.isOk()) return *r;
    if (status_.isOk()) status_ = r.status();
    return nullptr;
  }
  /// The union list state `name`: on a restore at any parallelism every subtask gets every
  /// old subtask's elements (Flink's union list state).
  template <class T>
  std::vector<T>* unionListState(const std::string& name) {
    return keep(backend_->unionListState<T>(prefix_ + name));
  }
  /// The broadcast map state `name`: the same map in every subtask, which the function keeps
  /// so (typically from a broadcast input); on a restore at any parallelism every subtask gets
  /// one old subtask's copy (Flink's BroadcastState).
  template <class K, class V>
  std::map<K, V>* broadcastMapState(const std::string& name) {
    return keep(backend_->broadcastMapState<K, V>(prefix_ + name));
  }
  int subtask() const { return subtask_; }
  int parallelism() const { return parallelism_; }
  /// The first registration error, if any (checked by the operator after open()).
  const Status& status() const { return status_; }

 private:
  StateBackend* backend_;
  std::string prefix_;
  int subtask_;
  int parallelism_;
  Status status_;

  template <class T>
  T* keep(Result<T*> r) {
    if (r.isOk()) return *r;
    if (status_.isOk()) status_ = r.status();
    return nullptr;
  }
};

/// A source of records of type T, polled by its task. One virtual call per batch.
/// Lifecycle: open (once per subtask) → poll* → close. Called from one task at a time.
template <class T>
class SourceFunction {
 public:
  virtual ~SourceFunction() = default;
  virtual Status open(const OperatorContext& /*ctx*/) { return Status::ok(); }
  /// Appends up to `maxRecords` records to `out` (retaining any buffers their views point into).
  virtual SourceOperator::Poll poll(RecordBatch<T>& out, size_t maxRecords) = 0;
  /// The event time this source has reached, for progress displays; INT64_MIN if unknown.
  virtual int64_t eventTime() const { return INT64_MIN; }
  /// How many splits (partitions, files) this subtask reads; each gets its own watermark.
  virtual int splitCount() const { return 1; }
  /// The split that the records appended by the last poll() came from (one split per poll).
  virtual int lastSplit() const { return 0; }
  virtual void close() {}

  /// Checkpoints: appends the position reached (what the next poll() would read) to `out`.
  /// A source that cannot say where it is cannot be checkpointed.
  virtual Status snapshotPosition(std::string& /*out*/) const {
    return Status::notSupported("this source has no position to checkpoint (it does not implement snapshotPosition)");
  }
  /// Seeks to a position written by snapshotPosition. Called after open(), before poll().
  virtual Status restorePosition(std::string_view /*in*/) {
    return Status::notSupported("this source cannot be restored (it does not implement restorePosition)");
  }
};

/// A row of an updating result together with its kind.
template <class T>
struct Change {
  RowKind kind;
  T row;
};

}  // namespace reka
