#pragma once

// Test-only: drives one operator subtask by hand, without the runtime: a manual processing-time
// clock, outputs that collect or discard, a heap state backend, and checkpoints of the operator
// and its keyed state taken and restored in the runtime's order.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "reka/reka.h"

namespace reka::testing {

/// Processing time under the test's control. Callback requests are kept until the clock passes
/// them; then the operator gets one onProcessingTime call for all of them (as the runtime does).
class ManualTime final : public ProcessingTimeService {
 public:
  explicit ManualTime(int64_t nowMs) : now_(nowMs) {}
  int64_t now() const override { return now_; }
  void requestCallback(int64_t atMs) override { requests_.push_back(atMs); }
  /// Moves the clock to `toMs` and calls op.onProcessingTime(toMs) if a callback is due.
  void advance(int64_t toMs, Operator& op) {
    now_ = toMs;
    auto due = std::remove_if(requests_.begin(), requests_.end(), [toMs](int64_t at) { return at <= toMs; });
    if (due == requests_.end()) return;
    requests_.erase(due, requests_.end());
    op.onProcessingTime(toMs);
  }

 private:
  int64_t now_;
  std::vector<int64_t> requests_;
};

/// An output port that keeps every record (of type T), watermark and idleness status it gets.
template <class T>
class CollectingOutput final : public Output {
 public:
  void push(Batch& batch) override {
    auto& records = static_cast<RecordBatch<T>&>(batch).records;
    out.insert(out.end(), records.begin(), records.end());
    for (auto& buffer : batch.keepAlive) keepAlive.push_back(buffer);  // records may view into them
  }
  void emitWatermark(int64_t watermark) override { watermarks.push_back(watermark); }
  void emitWatermarkStatus(bool idle) override { statuses.push_back(idle); }

  std::vector<T> out;
  std::vector<int64_t> watermarks;
  std::vector<bool> statuses;
  std::vector<std::shared_ptr<const void>> keepAlive;
};

/// An output port that drops everything.
class DiscardingOutput final : public Output {
 public:
  void push(Batch&) override {}
  void emitWatermark(int64_t) override {}
  void emitWatermarkStatus(bool) override {}
};

/// What a checkpoint holds for one operator subtask.
struct OperatorCheckpoint {
  std::string operatorState;
  std::map<std::string, std::map<int32_t, std::string>> keyed;
  std::map<std::string, std::vector<std::string>> lists;  ///< operator list state
  int64_t nowMs = 0;  ///< the clock when it was taken: a restored harness goes on from there
};

/// One operator subtask (subtask 0 of parallelism 1 unless keyGroups say otherwise) with its
/// own state backend, clock and the outputs the test passes (port 0 first).
class OperatorHarness {
 public:
  static constexpr int kMaxParallelism = 128;

  OperatorHarness(std::unique_ptr<Operator> op, std::vector<Output*> outputs, int64_t nowMs,
                  KeyGroupRange keyGroups = {0, kMaxParallelism - 1})
      : backend_(keyGroups, kMaxParallelism), time_(nowMs), op_(std::move(op)) {
    ctx_.name = "under-test";
    ctx_.maxParallelism = kMaxParallelism;
    ctx_.keyGroups = keyGroups;
    ctx_.state = &backend_;
    ctx_.outputs = std::move(outputs);
    ctx_.metrics = &metrics_;
    ctx_.time = &time_;
    op_->bindContext(&ctx_);
  }

  Operator& op() { return *op_; }
  OperatorContext& ctx() { return ctx_; }
  ManualTime& time() { return time_; }
  HeapStateBackend& backend() { return backend_; }

  Status open() { return op_->open(ctx_); }
  /// Snapshots the operator and its keyed state (a failure fails the test).
  OperatorCheckpoint checkpoint(int64_t checkpointId = 1) {
    OperatorCheckpoint c;
    Status s = op_->snapshotState(checkpointId, c.operatorState);
    EXPECT_TRUE(s.isOk()) << s.toString();
    auto keyed = backend_.snapshotKeyed();
    EXPECT_TRUE(keyed.isOk()) << keyed.status().toString();
    if (keyed.isOk()) c.keyed = *keyed;
    auto lists = backend_.snapshotOperatorLists();
    EXPECT_TRUE(lists.isOk()) << lists.status().toString();
    if (lists.isOk()) c.lists = *lists;
    c.nowMs = time_.now();
    return c;
  }
  /// Opens the operator, then restores its keyed state and its own state from `c`.
  Status openAndRestore(const OperatorCheckpoint& c) {
    REKA_RETURN_IF_ERROR(open());
    REKA_RETURN_IF_ERROR(backend_.restoreKeyed(c.keyed));
    REKA_RETURN_IF_ERROR(backend_.restoreOperatorLists({c.lists}, ctx_.subtask, ctx_.parallelism));
    return op_->restoreState(c.operatorState);
  }

 private:
  HeapStateBackend backend_;
  OperatorMetrics metrics_;
  ManualTime time_;
  OperatorContext ctx_;
  std::unique_ptr<Operator> op_;
};

}  // namespace reka::testing
