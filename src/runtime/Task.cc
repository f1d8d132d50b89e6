#include "runtime/Task.h"

#include <algorithm>
#include <exception>
#include <new>

#include "base/ProcessStats.h"
#include "runtime/CheckpointCoordinator.h"
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
  const auto started = std::chrono::steady_clock::now();
  if (blockedOnOutput_) {
    backpressuredNanos_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(started - stepEnded_).count(),
                                  std::memory_order_relaxed);
    blockedOnOutput_ = false;
  }
  StepResult r = step();
  stepEnded_ = std::chrono::steady_clock::now();
  busyNanos_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(stepEnded_ - started).count(),
                       std::memory_order_relaxed);
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
  pool_->requeue(this);
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
  channelWatermarks_ = std::make_unique<std::atomic<int64_t>[]>(inputs_.size());
  for (size_t i = 0; i < inputs_.size(); ++i) channelWatermarks_[i].store(INT64_MIN, std::memory_order_relaxed);
  if (static_cast<int>(openChannelsPerInput_.size()) <= input) openChannelsPerInput_.resize(static_cast<size_t>(input) + 1, 0);
  if (openChannelsPerInput_[static_cast<size_t>(input)]++ == 0) ++openInputs_;
}

OperatorFailure currentFailure(const std::string& name) {
  try {
    throw;
  } catch (const OperatorFailure& f) {
    return f;
  } catch (const std::bad_alloc&) {
    return OperatorFailure{name,
                           "an allocation failed (std::bad_alloc) with the process at a peak RSS of " +
                               std::to_string(peakRssBytes() >> 20) +
                               " MiB; give the job more memory (ulimit -v, the container's limit) or less state "
                               "(shorter windows, fewer keys)",
                           true};
  } catch (const std::exception& e) {
    return OperatorFailure{name, e.what()};
  } catch (...) {
    return OperatorFailure{name, "unknown exception"};
  }
}

template <class Call>
void Task::callNamed(size_t chainIndex, Call&& call) {
  try {
    call();
  } catch (...) {
    throw currentFailure(chainNames_[chainIndex]);
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
  if (change.advanced) {
    head_->processWatermark(change.watermark);
    headMetrics_->nextEventTimer.store(head_->nextEventTimer(), std::memory_order_relaxed);
  }
  if (change.statusChanged && change.idle) head_->processWatermarkStatus(true);
}

Task::StepResult Task::step() {
  if (job_->stopping()) return StepResult::kFinished;
  try {
    try {
      notifyCompleted();
      fireProcessingTime();
      return source_ != nullptr ? stepSource() : stepInputs();
    } catch (...) {
      throw currentFailure(headName_);
    }
  } catch (const OperatorFailure& f) {
    if (f.outOfMemory) {
      job_->fail(Status::resourceExhausted("operator '" + f.operatorName + "' ran out of memory: " + f.what));
      return StepResult::kFinished;
    }
    job_->fail(Status::userCodeError("operator '" + f.operatorName + "' failed: " + f.what));
    return StepResult::kFinished;
  }
}

Task::StepResult Task::stepSource() {
  const auto& config = job_->config();
  for (int batches = 0;;) {
    if (coordinator_ != nullptr) {
      // A barrier goes out before anything else, even into a full channel (capacity is soft),
      // so that backpressure does not delay checkpoints more than the queued batches do.
      const int64_t id = coordinator_->triggered();
      if (id > lastBarrier_) checkpointAndForward(id);
      if (lastBarrier_ >= coordinator_->suspendAfter()) {  // stopped with a savepoint
        flushOutputs();
        return StepResult::kBlocked;
      }
    }
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
      if (in.ended || in.blocked || !head_->acceptsInput(in.input)) continue;
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
      // An input that ends before its barrier came has nothing more to send before it.
      if (aligning_ != 0 && !in.barrierSeen) barrierArrived(index);
      advanceWatermark(valve_.onEnd(index));
      publishChannelWatermark(index);
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
      publishChannelWatermark(index);
      break;
    case StreamElement::Kind::kWatermarkStatus:
      advanceWatermark(valve_.onStatus(index, element.value != 0));
      publishChannelWatermark(index);
      break;
    case StreamElement::Kind::kBarrier:
      onBarrier(index, element.value);
      break;
  }
}

void Task::onBarrier(size_t index, int64_t id) {
  if (coordinator_ == nullptr || id <= lastBarrier_) return;  // stale (an aborted checkpoint's)
  if (id != aligning_) {
    // The first barrier of a new checkpoint. One checkpoint is in flight at a time, so an older
    // alignment can only be left over from an aborted checkpoint: it is abandoned.
    aligning_ = id;
    alignStarted_ = std::chrono::steady_clock::now();
    barriersMissing_ = 0;
    for (Input& in : inputs_) {
      in.blocked = false;
      in.barrierSeen = false;
      if (!in.ended) ++barriersMissing_;
    }
  }
  Input& in = inputs_[index];
  if (in.barrierSeen) return;
  if (align_) in.blocked = true;  // exactly-once: what follows the barrier waits for the others
  barrierArrived(index);
}

void Task::barrierArrived(size_t index) {
  inputs_[index].barrierSeen = true;
  if (barriersMissing_ > 0) --barriersMissing_;
  if (barriersMissing_ > 0) return;
  const int64_t id = aligning_;
  aligning_ = 0;
  for (Input& in : inputs_) {
    in.blocked = false;
    in.barrierSeen = false;
  }
  alignmentNanos_ = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - alignStarted_).count();
  checkpointAndForward(id);
  alignmentNanos_ = 0;
}

namespace {
constexpr size_t kFileAlign = 4096;
}  // namespace

Status Task::snapshotChain(int64_t id, checkpoint::TaskSnapshot& out, bool delta, int64_t baseId, bool native, int64_t nativeBase) {
  // Serialised once, straight into the state file's bytes (format in docs/checkpoints.md).
  out.delta = delta;
  out.baseId = delta ? baseId : 0;
  out.checksum.reset();
  out.sharedFiles.clear();
  out.uploads.clear();
  // Room for half again the largest recent snapshot: growing the buffer would copy it and lose
  // the alignment below. A written snapshot's buffer is reused when it is big enough, so its
  // pages are not faulted in (and zeroed by the kernel) again for every checkpoint.
  const size_t last = delta ? std::max(lastDeltaBytes_, lastSnapshotBytes_) : lastSnapshotBytes_;
  const size_t want = last + last / 2 + 2 * kFileAlign;
  if (coordinator_ != nullptr && out.bytes.capacity() < want) {
    std::string spare = coordinator_->takeBuffer();
    if (spare.capacity() > out.bytes.capacity()) out.bytes = std::move(spare);
  }
  out.bytes.clear();
  out.bytes.reserve(want);
  // Pad so that the file starts on a 4 KiB boundary (written with O_DIRECT if it stays there).
  out.offset = (kFileAlign - reinterpret_cast<uintptr_t>(out.bytes.data()) % kFileAlign) % kFileAlign;
  out.bytes.append(out.offset, '\0');
  checkpoint::StateFileWriter w(out.bytes, static_cast<uint32_t>(members_.size()), delta, baseId);
  for (Member& m : members_) {
    auto fail = [&](const Status& s) { return Status(s.code(), "operator '" + m.name + "': " + s.message()); };
    int64_t stateBytes = 0;  // the state itself, without the file's framing
    w.beginOperator(m.node, m.subtask, m.name);
    // A native snapshot holds the tables in the backend's store; the file the others.
    const bool nativeHere = native && m.state->snapshotsNatively();
    std::vector<std::string> tables = m.state->tableNames();
    if (nativeHere)
      tables.erase(std::remove_if(tables.begin(), tables.end(), [&](const std::string& n) { return m.state->findTable(n)->inStore(); }),
                   tables.end());
    const KeyGroupRange range = m.state->keyGroups();
    w.u32(static_cast<uint32_t>(tables.size()));
    for (const std::string& name : tables) {
      StateTable* table = m.state->findTable(name);
      w.str(name);
      w.u32(static_cast<uint32_t>(range.size()));
      for (int32_t kg = range.first; kg <= range.last; ++kg) {
        w.u32(static_cast<uint32_t>(kg));
        const size_t at = w.beginBytes();
        Status s = delta ? table->snapshotKeyGroupDelta(KeyGroup{kg}, w.out()) : table->snapshotKeyGroup(KeyGroup{kg}, w.out());
        if (!s.isOk()) return fail(Status(s.code(), "state '" + name + "': " + s.message()));
        stateBytes += static_cast<int64_t>(w.out().size() - at - 8);  // less the length field
        w.endBytes(at);
      }
    }
    auto lists = m.state->snapshotOperatorLists();
    if (!lists.isOk()) return fail(lists.status());
    w.u32(static_cast<uint32_t>(lists->size()));
    for (const auto& [name, elements] : *lists) {
      w.str(name);
      w.u32(static_cast<uint32_t>(elements.size()));
      for (const auto& e : elements) w.str(e);
      for (const auto& e : elements) stateBytes += static_cast<int64_t>(e.size());
    }
    const bool blobDelta = delta && m.op->supportsDeltaSnapshots();
    w.u8(blobDelta ? 1 : 0);
    const size_t at = w.beginBytes();
    Status s;
    try {
      s = blobDelta ? m.op->snapshotDelta(id, w.out()) : m.op->snapshotState(id, w.out());
    } catch (const std::exception& e) {
      s = Status::userCodeError(e.what());
    } catch (...) {
      s = Status::userCodeError("unknown exception");
    }
    if (!s.isOk()) return fail(s);
    stateBytes += static_cast<int64_t>(w.out().size() - at - 8);
    w.endBytes(at);
    if (nativeHere) {
      NativeSnapshot snapshot;
      s = m.state->snapshotNative(id, nativeBase, snapshot, out.uploads);
      if (!s.isOk()) return fail(s);
      w.native(&snapshot);
      int64_t nativeBytes = 0;
      for (const auto& f : snapshot.files) {
        out.sharedFiles.push_back(f.shared);
        nativeBytes += static_cast<int64_t>(f.size);
      }
      // A native snapshot stands whole for the store: it replaces the previous one's files.
      stateBytes += nativeBytes - (delta ? m.nativeBytes : 0);
      m.nativeBytes = nativeBytes;
    } else {
      w.native(nullptr);
      if (delta) stateBytes -= m.nativeBytes;
      m.nativeBytes = 0;
    }
    // The subtask's state in checkpoint storage: what a restore reads (the last full snapshot
    // and the deltas written since, or a native snapshot's files).
    if (m.metrics != nullptr) {
      if (delta) m.metrics->stateBytes.fetch_add(stateBytes, std::memory_order_relaxed);
      else m.metrics->stateBytes.store(stateBytes, std::memory_order_relaxed);
    }
  }
  out.checksum = w.finish();
  (delta ? lastDeltaBytes_ : lastSnapshotBytes_) = out.bytes.size() - out.offset;
  return Status::ok();
}

void Task::setCheckpointing(size_t index, CheckpointCoordinator* coordinator, std::vector<Member> members, bool align) {
  index_ = index;
  coordinator_ = coordinator;
  members_ = std::move(members);
  align_ = align;
  // A restored job's coordinator counts on from the restored checkpoint: that barrier is the
  // state the task starts from, not one to snapshot again (at every restart, before the first
  // record: in full after a savepoint).
  lastBarrier_ = coordinator->triggered();
}

bool Task::deltaAllowed(int64_t baseId) {
  // A delta needs this task's previous snapshot to be the one the last complete checkpoint
  // holds (not an aborted checkpoint's, a savepoint's, or none since a restore).
  if (baseId == 0 || baseId != lastSnapshotId_ || deltaChain_ >= coordinator_->maxDeltaChain()) return false;
  // Rewrite everything once the records deltas made obsolete outnumber the live ones, so that
  // a restore reads at most about twice the state.
  DeltaStats stats;
  for (const Member& m : members_) {
    stats += m.state->keyedDeltaStats();
    if (m.op->supportsDeltaSnapshots()) stats += m.op->deltaStats();
  }
  return stats.superseded <= stats.live;
}

void Task::checkpointAndForward(int64_t id) {
  lastBarrier_ = id;
  const auto start = std::chrono::steady_clock::now();
  const int64_t baseId = coordinator_->deltaBaseFor(id);
  const bool delta = deltaAllowed(baseId);
  const auto nativePlan = coordinator_->nativePlanFor(id);
  checkpoint::TaskSnapshot snap;
  const int64_t cpu0 = threadCpuNanos();
  Status s = snapshotChain(id, snap, delta, baseId, nativePlan.native, nativePlan.base);
  coordinator_->addSnapshotCpu(threadCpuNanos() - cpu0);
  const int64_t syncNanos = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
  if (s.isOk()) {
    lastSnapshotId_ = id;
    deltaChain_ = delta ? deltaChain_ + 1 : 0;
    coordinator_->acknowledge(index_, id, std::move(snap), syncNanos, alignmentNanos_);
  } else {
    lastSnapshotId_ = 0;  // change tracking may be half reset: the next snapshot is full
    coordinator_->decline(index_, id, s);
  }
  // The barrier follows every record emitted before it (buffered ones are flushed first).
  flushOutputs();
  for (Channel* ch : outChannels_) ch->push(StreamElement::barrier(id));
}

void Task::checkpointComplete(int64_t id) {
  int64_t cur = completed_.load(std::memory_order_acquire);
  while (cur < id && !completed_.compare_exchange_weak(cur, id, std::memory_order_acq_rel)) {
  }
  schedule();
}

void Task::notifyCompleted() {
  const int64_t id = completed_.load(std::memory_order_acquire);
  if (id <= notified_) return;
  notified_ = id;
  for (size_t i = 0; i < chain_.size(); ++i) callNamed(i, [&] { chain_[i]->notifyCheckpointComplete(id); });
  coordinator_->taskNotified(index_, id);
}

void Task::checkpointCompleteAfterFinish(int64_t id) {
  if (id <= notified_) return;
  notified_ = id;
  for (Operator* op : chain_) op->notifyCheckpointComplete(id);
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
  if (coordinator_ != nullptr) {
    // The state after the end of input stands for this task in every later checkpoint; what a
    // sink stages now is committed by the next checkpoint to complete (the final one at last).
    // Incremental when possible: only what changed since this task's last snapshot; the
    // coordinator snapshots it in full if that snapshot's checkpoint does not complete.
    const bool delta = coordinator_->incremental() && deltaAllowed(lastSnapshotId_);
    const auto nativePlan = coordinator_->nativePlanFor(0);
    checkpoint::TaskSnapshot snap;
    Status s = snapshotChain(0, snap, delta, lastSnapshotId_, nativePlan.native, nativePlan.base);
    if (!s.isOk()) throw OperatorFailure{headName_, "snapshot at the end of input failed: " + s.message()};
    coordinator_->taskFinished(index_, std::move(snap));
  }
}

bool Task::outputsFull() {
  for (Channel* ch : outChannels_) {
    if (ch->isFullOrRegister()) {
      blockedOnOutput_ = true;  // the step ends here: the time until the next counts as backpressure
      return true;
    }
  }
  return false;
}

std::vector<int64_t> Task::channelWatermarks() const {
  std::vector<int64_t> out(inputs_.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = channelWatermarks_[i].load(std::memory_order_relaxed);
  return out;
}

void Task::publishChannelWatermark(size_t index) {
  const int64_t wm = inputs_[index].ended || valve_.inputIdle(index) ? INT64_MAX : valve_.inputWatermark(index);
  channelWatermarks_[index].store(wm, std::memory_order_relaxed);
  inputWatermark_.store(valve_.current(), std::memory_order_relaxed);
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
