#pragma once

#include <memory>
#include <vector>

#include "reka/api/Operator.h"
#include "reka/data/Row.h"
#include "reka/graph/JobGraph.h"
#include "reka/state/KeyGroup.h"

namespace reka::detail {

/// Buffers records per target subtask and sends a batch when it is full or on flush().
template <class T>
class TargetBuffers {
 public:
  TargetBuffers(std::vector<BatchSender*> targets, size_t batchSize)
      : targets_(std::move(targets)), batchSize_(batchSize), pending_(targets_.size()),
        retainedEpoch_(targets_.size(), 0) {}

  size_t targetCount() const { return targets_.size(); }
  size_t batchSize() const { return batchSize_; }

  RecordBatch<T>& pending(size_t t) {
    if (!pending_[t]) {
      pending_[t] = std::make_unique<RecordBatch<T>>();
      pending_[t]->records.reserve(batchSize_);
    }
    return *pending_[t];
  }
  /// Retains `in`'s buffers in target t's pending batch, once per input batch (epoch).
  void retainOnce(size_t t, const Batch& in, uint64_t epoch) {
    if (in.keepAlive.empty() || retainedEpoch_[t] == epoch) return;
    retainedEpoch_[t] = epoch;
    pending(t).retain(in);
  }
  void append(size_t t, const T& record) {
    auto& p = pending(t);
    p.records.push_back(record);
    if (p.records.size() >= batchSize_) send(t);
  }
  void send(size_t t) {
    if (!pending_[t] || pending_[t]->records.empty()) return;
    retainedEpoch_[t] = 0;
    targets_[t]->send(std::move(pending_[t]));
  }
  /// Sends `in` whole to target t without copying records (when nothing is pending there).
  bool trySendWhole(size_t t, RecordBatch<T>& in) {
    if ((pending_[t] && !pending_[t]->records.empty()) || in.records.size() < batchSize_ / 2) return false;
    auto out = std::make_unique<RecordBatch<T>>();
    out->records.swap(in.records);
    out->keepAlive.swap(in.keepAlive);
    targets_[t]->send(std::move(out));
    return true;
  }
  void flushAll() {
    for (size_t t = 0; t < targets_.size(); ++t) send(t);
  }
  /// Sends `batch` as it is to target t, after what is pending there.
  void sendBatch(size_t t, std::unique_ptr<Batch> batch) {
    send(t);
    targets_[t]->send(std::move(batch));
  }
  /// Flushes every target, then sends `element` to each (control elements go to all subtasks).
  void sendToAll(const StreamElement& element) {
    flushAll();
    for (BatchSender* target : targets_) target->sendElement(StreamElement{element.kind, nullptr, element.value});
  }

 private:
  std::vector<BatchSender*> targets_;
  size_t batchSize_;
  std::vector<std::unique_ptr<RecordBatch<T>>> pending_;
  std::vector<uint64_t> retainedEpoch_;
};

/// Forward (one target) and rebalance (round-robin over targets by batch).
template <class T>
class RoundRobinWriter final : public Output {
 public:
  RoundRobinWriter(std::vector<BatchSender*> targets, size_t batchSize, size_t start)
      : buffers_(std::move(targets), batchSize), next_(start % buffers_.targetCount()) {}

  void push(Batch& batch) override {
    if constexpr (std::is_same_v<T, Row>) {
      // Row batches travel whole: a fresh batch of the same schema takes the rows.
      auto& in = static_cast<RowBatch&>(batch);
      if (in.size() == 0) return;
      auto out = std::make_unique<RowBatch>(in.schemaPtr());
      std::swap(*out, in);
      buffers_.sendBatch(next_, std::move(out));
      if (buffers_.targetCount() > 1) next_ = (next_ + 1) % buffers_.targetCount();
      return;
    }
    auto& in = static_cast<RecordBatch<T>&>(batch);
    if (in.records.empty()) return;
    size_t t = next_;
    if (buffers_.targetCount() > 1) next_ = (next_ + 1) % buffers_.targetCount();
    if (buffers_.trySendWhole(t, in)) return;
    ++epoch_;
    for (const auto& r : in.records) {
      // Per record: a pending batch sent mid-loop is replaced by one that must retain too.
      buffers_.retainOnce(t, in, epoch_);
      buffers_.append(t, r);
    }
  }
  void flush() override { buffers_.flushAll(); }
  void emitWatermark(int64_t watermark) override { buffers_.sendToAll(StreamElement::watermark(watermark)); }
  void emitWatermarkStatus(bool idle) override { buffers_.sendToAll(StreamElement::watermarkStatus(idle)); }

 private:
  TargetBuffers<T> buffers_;
  size_t next_;
  uint64_t epoch_ = 0;
};

/// Hash partitioning: key → key group → the subtask that owns it.
template <class T, class KeyFn>
class HashWriter final : public Output {
 public:
  HashWriter(std::vector<BatchSender*> targets, size_t batchSize, int maxParallelism, KeyFn keyFn)
      : buffers_(std::move(targets), batchSize), maxParallelism_(maxParallelism), keyFn_(std::move(keyFn)) {}

  void push(Batch& batch) override {
    auto& in = static_cast<RecordBatch<T>&>(batch);
    const int parallelism = static_cast<int>(buffers_.targetCount());
    ++epoch_;
    for (const auto& r : in.records) {
      KeyGroup kg = keyGroupFor(hashKey(keyFn_(r)), maxParallelism_);
      auto t = static_cast<size_t>(subtaskFor(kg, maxParallelism_, parallelism));
      buffers_.retainOnce(t, in, epoch_);
      buffers_.append(t, r);
    }
  }
  void flush() override { buffers_.flushAll(); }
  void emitWatermark(int64_t watermark) override { buffers_.sendToAll(StreamElement::watermark(watermark)); }
  void emitWatermarkStatus(bool idle) override { buffers_.sendToAll(StreamElement::watermarkStatus(idle)); }

 private:
  TargetBuffers<T> buffers_;
  int maxParallelism_;
  KeyFn keyFn_;
  uint64_t epoch_ = 0;
};

/// Hash partitioning of rows by the values of key columns (appendRowKey): key → key group →
/// the subtask that owns it. A batch per target is filled and sent when full or on flush().
class RowHashWriter final : public Output {
 public:
  RowHashWriter(std::vector<BatchSender*> targets, size_t batchSize, int maxParallelism, std::vector<int> keyColumns)
      : targets_(std::move(targets)), pending_(targets_.size()), batchSize_(batchSize), maxParallelism_(maxParallelism),
        keyColumns_(std::move(keyColumns)) {}

  void push(Batch& batch) override {
    auto& in = static_cast<RowBatch&>(batch);
    const int parallelism = static_cast<int>(targets_.size());
    if (parallelism == 1 && in.size() > 0) {
      // One target: the batch travels whole.
      send(0);
      auto out = std::make_unique<RowBatch>(in.schemaPtr());
      std::swap(*out, in);
      targets_[0]->send(std::move(out));
      return;
    }
    for (size_t i = 0; i < in.size(); ++i) {
      size_t t = 0;
      {
        key_.clear();
        appendRowKey(in, i, keyColumns_, key_);
        t = static_cast<size_t>(subtaskFor(keyGroupFor(hashKey(key_), maxParallelism_), maxParallelism_, parallelism));
      }
      if (!pending_[t]) pending_[t] = std::make_unique<RowBatch>(in.schemaPtr());
      pending_[t]->appendFrom(in, i);
      if (pending_[t]->size() >= batchSize_) send(t);
    }
  }
  void flush() override {
    for (size_t t = 0; t < targets_.size(); ++t) send(t);
  }
  void emitWatermark(int64_t watermark) override { sendToAll(StreamElement::watermark(watermark)); }
  void emitWatermarkStatus(bool idle) override { sendToAll(StreamElement::watermarkStatus(idle)); }

 private:
  void send(size_t t) {
    if (!pending_[t] || pending_[t]->size() == 0) return;
    targets_[t]->send(std::move(pending_[t]));
  }
  void sendToAll(const StreamElement& element) {
    flush();
    for (BatchSender* target : targets_) target->sendElement(StreamElement{element.kind, nullptr, element.value});
  }

  std::vector<BatchSender*> targets_;
  std::vector<std::unique_ptr<RowBatch>> pending_;
  size_t batchSize_;
  int maxParallelism_;
  std::vector<int> keyColumns_;
  std::string key_;
};

inline graph::WriterFactory rowHashWriterFactory(std::vector<int> keyColumns) {
  return [keyColumns](std::vector<BatchSender*> targets, int, size_t batchSize, int maxParallelism) -> std::unique_ptr<Output> {
    return std::make_unique<RowHashWriter>(std::move(targets), batchSize, maxParallelism, keyColumns);
  };
}

/// Every record to every target.
template <class T>
class BroadcastWriter final : public Output {
 public:
  BroadcastWriter(std::vector<BatchSender*> targets, size_t batchSize)
      : buffers_(std::move(targets), batchSize) {}

  void push(Batch& batch) override {
    if constexpr (std::is_same_v<T, Row>) {
      // Row batches travel whole: each target gets a copy (sharing the batch's string arena).
      auto& rows = static_cast<RowBatch&>(batch);
      if (rows.size() == 0) return;
      for (size_t t = 0; t < buffers_.targetCount(); ++t) buffers_.sendBatch(t, std::make_unique<RowBatch>(rows));
      return;
    }
    auto& in = static_cast<RecordBatch<T>&>(batch);
    ++epoch_;
    for (size_t t = 0; t < buffers_.targetCount(); ++t) {
      for (const auto& r : in.records) {
        buffers_.retainOnce(t, in, epoch_);
        buffers_.append(t, r);
      }
    }
  }
  void flush() override { buffers_.flushAll(); }
  void emitWatermark(int64_t watermark) override { buffers_.sendToAll(StreamElement::watermark(watermark)); }
  void emitWatermarkStatus(bool idle) override { buffers_.sendToAll(StreamElement::watermarkStatus(idle)); }

 private:
  TargetBuffers<T> buffers_;
  uint64_t epoch_ = 0;
};

template <class T>
graph::WriterFactory roundRobinWriterFactory() {
  return [](std::vector<BatchSender*> targets, int producer, size_t batchSize, int) -> std::unique_ptr<Output> {
    return std::make_unique<RoundRobinWriter<T>>(std::move(targets), batchSize, static_cast<size_t>(producer));
  };
}

template <class T, class KeyFn>
graph::WriterFactory hashWriterFactory(KeyFn keyFn) {
  return [keyFn](std::vector<BatchSender*> targets, int, size_t batchSize, int maxParallelism) -> std::unique_ptr<Output> {
    return std::make_unique<HashWriter<T, KeyFn>>(std::move(targets), batchSize, maxParallelism, keyFn);
  };
}

template <class T>
graph::WriterFactory broadcastWriterFactory() {
  return [](std::vector<BatchSender*> targets, int, size_t batchSize, int) -> std::unique_ptr<Output> {
    return std::make_unique<BroadcastWriter<T>>(std::move(targets), batchSize);
  };
}

}  // namespace reka::detail
