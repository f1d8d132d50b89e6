#pragma once

#include <deque>
#include <mutex>
#include <optional>

#include "reka/data/Batch.h"
#include "reka/graph/JobGraph.h"

namespace reka::runtime {

class Task;

/// A bounded FIFO of stream elements between one producing and one consuming subtask.
/// Capacity is soft: send() never blocks; the producer asks isFullOrRegister() before taking
/// more input, so a channel exceeds capacity by at most what one input batch produces.
/// Thread-safe: one producer thread and one consumer thread at a time.
class Channel final : public BatchSender {
 public:
  explicit Channel(size_t capacity) : capacity_(capacity) {}

  void connect(Task* producer, Task* consumer) {
    producer_ = producer;
    consumer_ = consumer;
  }

  void send(std::unique_ptr<Batch> batch) override { push(StreamElement::ofBatch(std::move(batch))); }
  void sendElement(StreamElement element) override { push(std::move(element)); }
  /// Appends an element and wakes the consumer if the channel was empty.
  void push(StreamElement element);
  /// True if the channel is at capacity; then the producer is woken when it drains below.
  bool isFullOrRegister();
  /// Takes the oldest element, if any; wakes a waiting producer when space frees up.
  std::optional<StreamElement> pop();
  size_t size() const;
  /// How full the channel is, 0–1 of its capacity (more while a batch overshoots it).
  double usage() const { return static_cast<double>(size()) / static_cast<double>(capacity_); }

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<StreamElement> queue_;
  bool producerWaiting_ = false;
  Task* producer_ = nullptr;
  Task* consumer_ = nullptr;
};

}  // namespace reka::runtime
