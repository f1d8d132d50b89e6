#include "runtime/Task.h"

#include <algorithm>
#include <exception>

#include "runtime/JobExecution.h"
#include "runtime/WorkerPool.h"

namespace reka::runtime {

void Task::schedule() {
  int s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (s == kIdle) {
      if (state_.compare_exchange_weak(s, kQueued, std::memory_order_acq_rel)) {
        pool_->enqueue(this);
        return;
      }
    } else if (s == kRunning) {
      if (state_.compare_exchange_weak(s, kRunningNotified, std::memory_order_acq_rel)) return;
    } else {
      return;  // already queued, already notified, or done
    }
  }
}

void Task::runStep() {
  state_.store(kRunning, std::memory_order_release);
  StepResult r = step();
  if (r == StepResult::kFinished) {
    state_.store(kDone, std::memory_order_release);
    job_->taskFinished(this);
    return;
  }
  if (r == StepResult::kBlocked) {
    int expected = kRunning;
    if (state_.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel)) return;
    // Notified while running: something changed after we looked, so run again.
  }
  state_.store(kQueued, std::memory_order_release);
  pool_->enqueue(this);
}

void Task::setHead(Operator* head, std::string headName, OperatorMetrics* metrics, SourceOperator* source) {
  head_ = head;
  headName_ = std::move(headName);
  headMetrics_ = metrics;
  source_ = source;
  chain_.insert(chain_.begin(), head);
  chainNames_.insert(chainNames_.begin(), headName_);
}

void Task::addInput(Channel* channel, int input) {
  inputs_.push_back({channel, input, false});
  valve_.reset(inputs_.size());
  if (static_cast<int>(openChannelsPerInput_.size()) <= input) openChannelsPerInput_.resize(static_cast<size_t>(input) + 1, 0);
  if (openChannelsPerInput_[static_cast<size_t>(input)]++ == 0) ++openInputs_;
}

template <class Call>
void Task::callNamed(size_t chainIndex, Call&& call) {
  try {
    call();
  } catch (const OperatorFailure&) {
    throw;
  } catch (const std::exception& e) {
    throw OperatorFailure{chainNames_[chainIndex], e.what()};
  } catch (...) {
    throw OperatorFailure{chainNames_[chainIndex], "unknown exception"};
  }
}

void Task::fireProcessingTime() {
  int64_t due = kMaxTime;
  for (InstanceTimeService* t : timeServices_) due = std::min(due, t->due());
  if (due == kMaxTime) return;
  int64_t now = wallClockMs();
  if (due > now) return;
  for (size_t i = 0; i < timeServices_.size() && i < chain_.size(); ++i) {
    if (timeServices_[i]->due() > now) continue;
    timeServices_[i]->clearDue();
    callNamed(i, [&] { chain_[i]->onProcessingTime(now); });
  }
}

void Task::advanceWatermark(const WatermarkValve::Change& change) {
  if (change.statusChanged && !change.idle) head_->processWatermarkStatus(false);
  if (change.advanced) head_->processWatermark(change.watermark);
  if (change.statusChanged && change.idle) head_->processWatermarkStatus(true);
}

Task::StepResult Task::step() {
  if (job_->stopping()) return StepResult::kFinished;
  try {
    try {
      fireProcessingTime();
      return source_ != nullptr ? stepSource() : stepInputs();
    } catch (const OperatorFailure&) {
      throw;
    } catch (const std::exception& e) {
      throw OperatorFailure{headName_, e.what()};
    } catch (...) {
      throw OperatorFailure{headName_, "unknown exception"};
    }
  } catch (const OperatorFailure& f) {
    job_->fail(Status::userCodeError("operator '" + f.operatorName + "' failed: " + f.what));
    return StepResult::kFinished;
  }
}

Task::StepResult Task::stepSource() {
  const auto& config = job_->config();
  for (int batches = 0;;) {
    if (outputsFull()) {
      flushIfDue();
      return StepResult::kBlocked;
    }
    SourceOperator::Poll p = source_->pollNext();
    if (p == SourceOperator::Poll::kEnd) {
      head_->processWatermark(kMaxTime);  // a bounded input's end: every window fires
      finishChain();
      return StepResult::kFinished;
    }
    if (p == SourceOperator::Poll::kNothingNow) {
      flushOutputs();
      return StepResult::kBlocked;
    }
    flushIfDue();  // partial batches wait at most flushInterval, also in long steps
    fireProcessingTime();
    if (++batches >= config.maxBatchesPerStep || config.forceYield) {
      flushIfDue();
      return StepResult::kMore;
    }
  }
}

Task::StepResult Task::stepInputs() {
  const auto& config = job_->config();
  for (int batches = 0;;) {
    if (outputsFull()) {
      flushIfDue();
      return StepResult::kBlocked;
    }
    bool got = false;
    for (size_t i = 0; i < inputs_.size() && !got; ++i) {
      size_t idx = (nextInput_ + i) % inputs_.size();
      Input& in = inputs_[idx];
      if (in.ended || !head_->acceptsInput(in.input)) continue;
      std::optional<StreamElement> e = in.channel->pop();
      if (!e) continue;
      got = true;
      nextInput_ = idx + 1;
      handleElement(idx, *e);
    }
    if (finished_) return StepResult::kFinished;
    if (!got) {
      flushOutputs();
      return StepResult::kBlocked;
    }
    flushIfDue();
    fireProcessingTime();
    if (++batches >= config.maxBatchesPerStep || config.forceYield) {
      flushIfDue();
      return StepResult::kMore;
    }
  }
}

void Task::handleElement(size_t index, StreamElement& element) {
  Input& in = inputs_[index];
  switch (element.kind) {
    case StreamElement::Kind::kBatch:
      headMetrics_->recordsIn.fetch_add(static_cast<int64_t>(element.batch->size()), std::memory_order_relaxed);
      head_->processBatch(in.input, *element.batch);
      break;
    case StreamElement::Kind::kEndOfInput:
      in.ended = true;
      advanceWatermark(valve_.onEnd(index));
      if (--openChannelsPerInput_[static_cast<size_t>(in.input)] == 0) {
        head_->endInput(in.input);
        if (--openInputs_ == 0) {
          finishChain();
          finished_ = true;
        }
      }
      break;
    case StreamElement::Kind::kWatermark:
      advanceWatermark(valve_.onWatermark(index, element.value));
      break;
    case StreamElement::Kind::kWatermarkStatus:
      advanceWatermark(valve_.onStatus(index, element.value != 0));
      break;
    case StreamElement::Kind::kBarrier:
      break;  // checkpoints build on this element; not produced yet
  }
}

void Task::finishChain() {
  for (size_t i = 0; i < chain_.size(); ++i) {
    try {
      chain_[i]->finish();
    } catch (const OperatorFailure&) {
      throw;
    } catch (const std::exception& e) {
      throw OperatorFailure{chainNames_[i], e.what()};
    } catch (...) {
      throw OperatorFailure{chainNames_[i], "unknown exception"};
    }
  }
  flushOutputs();
  for (Channel* ch : outChannels_) ch->push(StreamElement::endOfInput());
}

bool Task::outputsFull() {
  for (Channel* ch : outChannels_) {
    if (ch->isFullOrRegister()) return true;
  }
  return false;
}

void Task::flushOutputs() {
  for (Output* out : networkOutputs_) out->flush();
  lastFlush_ = std::chrono::steady_clock::now();
}

void Task::flushIfDue() {
  auto now = std::chrono::steady_clock::now();
  if (now - lastFlush_ >= job_->config().flushInterval) flushOutputs();
}

}  // namespace reka::runtime
