#include "runtime/Channel.h"

#include "runtime/Task.h"

namespace reka::runtime {

void Channel::push(StreamElement element) {
  bool wasEmpty;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wasEmpty = queue_.empty();
    queue_.push_back(std::move(element));
  }
  // The consumer only sleeps after it saw every input empty, so waking on empty→non-empty is
  // enough; schedule() handles a consumer that is running right now.
  if (wasEmpty && consumer_ != nullptr) consumer_->schedule();
}

bool Channel::isFullOrRegister() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (queue_.size() < capacity_) return false;
  producerWaiting_ = true;
  return true;
}

std::optional<StreamElement> Channel::pop() {
  bool wakeProducer = false;
  std::optional<StreamElement> out;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.empty()) return std::nullopt;
    out.emplace(std::move(queue_.front()));
    queue_.pop_front();
    if (producerWaiting_ && queue_.size() < capacity_) {
      producerWaiting_ = false;
      wakeProducer = true;
    }
  }
  if (wakeProducer && producer_ != nullptr) producer_->schedule();
  return out;
}

size_t Channel::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

}  // namespace reka::runtime
