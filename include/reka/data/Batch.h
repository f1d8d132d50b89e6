#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

namespace reka {

/// Event time in epoch milliseconds. kMinTime: no time yet; kMaxTime: end of a bounded input
/// (every window fires, every event-time timer runs).
constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

/// A batch of records: the unit that crosses threads. The runtime moves batches without looking
/// inside; typed operators cast to RecordBatch<T>. `keepAlive` holds the buffers (arenas, read
/// chunks) that the records' string views point into, so a batch is self-contained.
class Batch {
 public:
  virtual ~Batch() = default;
  virtual size_t size() const = 0;
  /// Removes the records and releases the retained buffers; capacity is kept for reuse.
  virtual void clear() = 0;
  /// A copy of the records that shares the retained buffers; used where one batch feeds
  /// several consumers.
  virtual std::unique_ptr<Batch> clone() const = 0;

  /// Makes this batch keep alive everything `other` keeps alive.
  void retain(const Batch& other) {
    for (const auto& ref : other.keepAlive) retain(ref);
  }
  void retain(const std::shared_ptr<const void>& ref) {
    if (std::find(keepAlive.begin(), keepAlive.end(), ref) == keepAlive.end()) keepAlive.push_back(ref);
  }

  std::vector<std::shared_ptr<const void>> keepAlive;
};

/// A batch of records of one type. Plain structs in a vector: no per-record allocation.
template <class T>
class RecordBatch final : public Batch {
 public:
  size_t size() const override { return records.size(); }
  void clear() override {
    records.clear();
    keepAlive.clear();
  }
  std::unique_ptr<Batch> clone() const override { return std::make_unique<RecordBatch<T>>(*this); }

  std::vector<T> records;
};

/// What travels through a channel, in FIFO order: data, and the control elements that the
/// event-time and checkpoint machinery interleave with it.
struct StreamElement {
  /// kWatermarkStatus: value 1 = the upstream went idle (exclude it from the minimum),
  /// 0 = it is active again.
  enum class Kind : uint8_t { kBatch, kWatermark, kWatermarkStatus, kBarrier, kEndOfInput };

  static StreamElement ofBatch(std::unique_ptr<Batch> b) { return {Kind::kBatch, std::move(b), 0}; }
  static StreamElement endOfInput() { return {Kind::kEndOfInput, nullptr, 0}; }
  static StreamElement watermark(int64_t ts) { return {Kind::kWatermark, nullptr, ts}; }
  static StreamElement watermarkStatus(bool idle) { return {Kind::kWatermarkStatus, nullptr, idle ? 1 : 0}; }
  static StreamElement barrier(int64_t checkpointId) { return {Kind::kBarrier, nullptr, checkpointId}; }

  Kind kind;
  std::unique_ptr<Batch> batch;
  int64_t value;  ///< watermark timestamp, idle flag or checkpoint id
};

}  // namespace reka
