#include "runtime/CheckpointCoordinator.h"

#include <cstdio>

#include <fmt/format.h>

#include "base/ProcessStats.h"
#include "runtime/JobExecution.h"
#include "runtime/Task.h"

namespace reka::runtime {

using checkpoint::CheckpointKind;
using Clock = std::chrono::steady_clock;

CheckpointCoordinator::CheckpointCoordinator(JobExecution* job, CheckpointConfig config, std::string jobFingerprint,
                                             int64_t lastId, std::vector<Task*> tasks, std::vector<bool> isSource)
    : job_(job),
      config_(std::move(config)),
      fingerprint_(std::move(jobFingerprint)),
      storage_(config_.stateDir, config_.fileSystem),
      tasks_(std::move(tasks)),
      isSource_(std::move(isSource)),
      lastId_(lastId),
      finished_(tasks_.size()),
      finishedInChain_(tasks_.size(), false),
      notified_(tasks_.size(), 0) {
  triggered_.store(lastId);
}

CheckpointCoordinator::~CheckpointCoordinator() { stop(); }

void CheckpointCoordinator::continueChains(int64_t id, std::vector<std::vector<checkpoint::CheckpointStorage::FileEntry>> chains) {
  std::lock_guard<std::mutex> lock(mutex_);
  chains_ = std::move(chains);
  chainsId_ = id;
}

void CheckpointCoordinator::knowSharedFiles(const std::vector<checkpoint::CheckpointStorage::FileEntry>& files) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& f : files) knownShared_[f.name] = f;
}

CheckpointCoordinator::NativePlan CheckpointCoordinator::nativePlanFor(int64_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  NativePlan plan;
  plan.base = chainsId_;
  plan.native = config_.incremental && (id == 0 || (pending_ && pending_->id == id && pending_->kind == CheckpointKind::kCheckpoint));
  return plan;
}

void CheckpointCoordinator::start() {
  // Files that checkpoints which never completed put into the shared directory (a kill -9
  // between upload and manifest): nothing reads them.
  storage_.sweepShared();
  nextTrigger_ = config_.interval.count() > 0 ? Clock::now() + config_.interval : Clock::time_point::max();
  thread_ = std::thread([this] { run(); });
}

void CheckpointCoordinator::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    wakeup_ = true;
    for (auto& r : savepointQueue_) {
      r->done = true;
      r->result = Status::cancelled("the job ended before the savepoint was taken");
    }
    savepointQueue_.clear();
    if (inFlightSavepoint_) {
      inFlightSavepoint_->done = true;
      inFlightSavepoint_->result = Status::cancelled("the job ended before the savepoint completed");
      inFlightSavepoint_.reset();
    }
  }
  cv_.notify_all();
  savepointCv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CheckpointCoordinator::log(LogLevel level, const std::string& line) const { job_->logEvent(level, line); }

CheckpointRecord* CheckpointCoordinator::record(int64_t id) {
  for (auto it = history_.rbegin(); it != history_.rend(); ++it)
    if (it->id == id) return &*it;
  return nullptr;
}

void CheckpointCoordinator::acknowledge(size_t taskIndex, int64_t id, checkpoint::TaskSnapshot snapshot, int64_t syncNanos,
                                        int64_t alignmentNanos) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    acks_.push_back(Ack{taskIndex, id, std::move(snapshot), Status::ok(), syncNanos, alignmentNanos});
    wakeup_ = true;
  }
  cv_.notify_all();
}

void CheckpointCoordinator::decline(size_t taskIndex, int64_t id, const Status& why) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    acks_.push_back(Ack{taskIndex, id, std::nullopt, why, 0, 0});
    wakeup_ = true;
  }
  cv_.notify_all();
}

void CheckpointCoordinator::taskFinished(size_t taskIndex, checkpoint::TaskSnapshot snapshot) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_[taskIndex] = std::move(snapshot);
    wakeup_ = true;
  }
  cv_.notify_all();
}

void CheckpointCoordinator::allTasksFinished() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    allFinished_ = true;
    wakeup_ = true;
  }
  cv_.notify_all();
}

void CheckpointCoordinator::taskNotified(size_t taskIndex, int64_t id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    notified_[taskIndex] = std::max(notified_[taskIndex], id);
    wakeup_ = true;
  }
  cv_.notify_all();
}

std::string CheckpointCoordinator::takeBuffer() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (spareBuffers_.empty()) return {};
  std::string b = std::move(spareBuffers_.back());
  spareBuffers_.pop_back();
  return b;
}

int64_t CheckpointCoordinator::deltaBaseFor(int64_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!config_.incremental || !pending_ || pending_->id != id || pending_->kind != CheckpointKind::kCheckpoint ||
      pending_->finalCheckpoint)
    return 0;
  return chainsId_;
}

Result<std::string> CheckpointCoordinator::savepoint(bool stop, std::chrono::milliseconds timeout) {
  auto request = std::make_shared<SavepointRequest>();
  request->stop = stop;
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopping_) return Status::failedPrecondition("the job is not running");
  if (allFinished_) return Status::failedPrecondition("the job has reached the end of its input");
  savepointQueue_.push_back(request);
  wakeup_ = true;
  cv_.notify_all();
  if (!savepointCv_.wait_for(lock, timeout, [&] { return request->done; }))
    return Status::cancelled("the savepoint did not complete within " + std::to_string(timeout.count()) + " ms");
  return request->result;
}

void CheckpointCoordinator::fillMetrics(JobMetrics& m) const {
  std::lock_guard<std::mutex> lock(mutex_);
  m.completedCheckpoints = completed_;
  m.failedCheckpoints = failed_;
  m.lastCheckpointId = lastCompletedId_;
  m.lastCheckpointBytes = lastBytes_;
  m.lastCheckpointMs = lastMs_;
  m.lastCheckpointSyncMs = lastSyncMs_;
  m.largestCheckpointBytes = largestBytes_;
  m.deltaTaskSnapshots = deltaSnapshots_;
  m.fullTaskSnapshots = fullSnapshots_;
  m.longestCheckpointMs = longestMs_;
  m.longestCheckpointSyncMs = longestSyncMs_;
  m.longestDeltaCheckpointSyncMs = longestDeltaSyncMs_;
  m.checkpointCopyCpuMs = static_cast<double>(snapshotCpuNanos_.load(std::memory_order_relaxed)) / 1e6;
  m.checkpointWriteCpuMs = static_cast<double>(threadCpuNanos_) / 1e6;
  m.checkpointHistory.assign(history_.begin(), history_.end());
  if (pending_ && !m.checkpointHistory.empty() && m.checkpointHistory.back().id == pending_->id) {
    m.checkpointHistory.back().durationMs = std::chrono::duration<double, std::milli>(Clock::now() - pending_->started).count();
    m.checkpointHistory.back().bytes = pending_->bytes;
  }
}

void CheckpointCoordinator::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wakeup_ = false;  // whatever happens from here on wakes the next wait
    while (!acks_.empty() && !stopping_) {
      Ack ack = std::move(acks_.front());
      acks_.pop_front();
      handleAck(lock, std::move(ack));
    }
    if (stopping_) break;
    if (pending_) {
      answerFromFinished(lock);
      if (pending_ && pending_->remaining == 0) {
        completePending(lock);
      } else if (pending_ && Clock::now() - pending_->started > config_.timeout) {
        abortPending(lock, "not complete after " + std::to_string(config_.timeout.count()) + " ms (checkpoint timeout)");
      }
      if (stopping_) break;
    }
    // A stop-with-savepoint ends the job once every running task has committed it.
    if (stopAfterNotified_ != 0) {
      bool all = true;
      for (size_t t = 0; t < tasks_.size(); ++t)
        if (!finished_[t] && notified_[t] < stopAfterNotified_) all = false;
      if (all) {
        stopAfterNotified_ = 0;
        lock.unlock();
        job_->stopAfterSavepoint();
        lock.lock();
      }
    }
    if (!pending_ && !stopping_) {
      if (allFinished_ && !finalDone_) {
        trigger(lock, CheckpointKind::kCheckpoint, true);
        continue;
      }
      if (!allFinished_ && stopAfterNotified_ == 0) {
        if (!savepointQueue_.empty()) {
          inFlightSavepoint_ = savepointQueue_.front();
          savepointQueue_.erase(savepointQueue_.begin());
          trigger(lock, CheckpointKind::kSavepoint, false);
          continue;
        }
        if (Clock::now() >= nextTrigger_) {
          trigger(lock, CheckpointKind::kCheckpoint, false);
          continue;
        }
      }
    }
    // While a checkpoint is in flight only its timeout is a deadline (the next trigger waits).
    auto until = pending_ ? pending_->started + config_.timeout + std::chrono::milliseconds(1) : nextTrigger_;
    if (stopAfterNotified_ != 0 || allFinished_) until = Clock::time_point::max();
    auto wake = [&] { return wakeup_ || stopping_; };
    threadCpuNanos_ = threadCpuNanos();
    if (until == Clock::time_point::max()) {
      cv_.wait(lock, wake);
    } else {
      cv_.wait_until(lock, until, wake);
    }
  }
  threadCpuNanos_ = threadCpuNanos();
}

void CheckpointCoordinator::trigger(std::unique_lock<std::mutex>& lock, CheckpointKind kind, bool finalCheckpoint) {
  const int64_t id = ++lastId_;
  lock.unlock();
  Status begun = storage_.begin(id, kind);
  lock.lock();
  Pending p;
  p.id = id;
  p.kind = kind;
  p.finalCheckpoint = finalCheckpoint;
  p.started = Clock::now();
  p.answered.assign(tasks_.size(), false);
  p.chains.resize(tasks_.size());
  p.shared.resize(tasks_.size());
  p.fromFinished.assign(tasks_.size(), false);
  p.remaining = tasks_.size();
  pending_ = std::move(p);
  CheckpointRecord rec;
  rec.id = id;
  rec.savepoint = kind == CheckpointKind::kSavepoint;
  rec.triggerTimeMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  history_.push_back(std::move(rec));
  if (history_.size() > kHistory) history_.pop_front();
  if (!begun.isOk()) {
    abortPending(lock, begun.message());
    return;
  }
  if (!finalCheckpoint) {
    if (kind == CheckpointKind::kSavepoint && inFlightSavepoint_ && inFlightSavepoint_->stop) suspendAfter_.store(id);
    triggered_.store(id, std::memory_order_release);
    lock.unlock();
    for (size_t t = 0; t < tasks_.size(); ++t)
      if (isSource_[t]) tasks_[t]->schedule();
    lock.lock();
  }
  answerFromFinished(lock);
}

void CheckpointCoordinator::answerFromFinished(std::unique_lock<std::mutex>& lock) {
  for (size_t t = 0; t < tasks_.size() && pending_; ++t) {
    if (pending_->answered[t] || !finished_[t]) continue;
    const bool checkpoint = pending_->kind == CheckpointKind::kCheckpoint;
    pending_->answered[t] = true;
    pending_->fromFinished[t] = true;
    --pending_->remaining;
    // Its final state is in the last checkpoint already: refer to it (incremental checkpoints
    // only; with them off every checkpoint holds its own files).
    if (checkpoint && config_.incremental && finishedInChain_[t]) {
      pending_->chains[t] = chains_[t];
      if (t < shared_.size()) pending_->shared[t] = shared_[t];
      continue;
    }
    const checkpoint::TaskSnapshot& end = *finished_[t];
    const bool rewrite = end.delta && !(checkpoint && end.baseId == chainsId_ && t < chains_.size() && !chains_[t].empty());
    if (rewrite || (!checkpoint && !end.sharedFiles.empty())) {
      // Its state at the end was written as a delta on a checkpoint this one cannot build on (a
      // savepoint, or that checkpoint failed), or natively, which a savepoint is not (it refers
      // to nothing outside its directory): snapshot it in full. The task has finished, so its
      // operators are idle and this thread may read them.
      const int64_t id = pending_->id;
      const auto plan = NativePlan{checkpoint && config_.incremental, chainsId_};
      lock.unlock();
      checkpoint::TaskSnapshot full;
      Status s = tasks_[t]->snapshotChain(0, full, false, 0, plan.native, plan.base);
      lock.lock();
      if (!pending_ || pending_->id != id) return;
      if (!s.isOk()) {
        abortPending(lock, "task " + tasks_[t]->name() + " could not snapshot its final state: " + s.message());
        return;
      }
      if (rewrite) {
        finished_[t] = std::move(full);
      } else {
        writeTaskFile(lock, t, full);
        continue;
      }
    }
    writeTaskFile(lock, t, *finished_[t]);
  }
}

void CheckpointCoordinator::handleAck(std::unique_lock<std::mutex>& lock, Ack ack) {
  if (!pending_ || ack.id != pending_->id || pending_->answered[ack.task]) return;  // stale
  if (!ack.snapshot) {
    abortPending(lock, "task " + tasks_[ack.task]->name() + " could not snapshot its state: " + ack.why.message());
    return;
  }
  pending_->answered[ack.task] = true;
  --pending_->remaining;
  pending_->maxSyncNanos = std::max(pending_->maxSyncNanos, ack.syncNanos);
  pending_->maxAlignmentNanos = std::max(pending_->maxAlignmentNanos, ack.alignmentNanos);
  writeTaskFile(lock, ack.task, *ack.snapshot);
  if (spareBuffers_.size() < tasks_.size()) {
    ack.snapshot->bytes.clear();
    spareBuffers_.push_back(std::move(ack.snapshot->bytes));
  }
}

void CheckpointCoordinator::writeTaskFile(std::unique_lock<std::mutex>& lock, size_t task, checkpoint::TaskSnapshot& snapshot) {
  if (!pending_ || !pending_->failure.isOk()) return;
  const int64_t id = pending_->id;
  const CheckpointKind kind = pending_->kind;
  lock.unlock();  // tasks go on acknowledging while the files are written
  auto entry = storage_.writeTaskFile(id, kind, task, snapshot);
  // The table files its native snapshots add to the shared directory. Each source is a hard
  // link of the snapshot's own: removed once stored.
  std::vector<checkpoint::CheckpointStorage::FileEntry> uploaded;
  for (size_t i = 0; entry.isOk() && i < snapshot.uploads.size(); ++i) {
    auto stored = storage_.storeSharedFile(snapshot.uploads[i].source, snapshot.uploads[i].shared);
    if (!stored.isOk()) {
      entry = Status(stored.status().code(), "storing a RocksDB file of task " + tasks_[task]->name() + ": " + stored.status().message());
      break;
    }
    uploaded.push_back(std::move(*stored));
    (void)storage_.fs().removeAll(snapshot.uploads[i].source);
  }
  lock.lock();
  for (auto& f : uploaded) knownShared_[f.name] = f;
  if (entry.isOk()) snapshot.uploads.clear();
  if (!pending_ || pending_->id != id) return;
  if (!entry.isOk()) {
    pending_->failure = entry.status();
    abortPending(lock, entry.status().message());
    return;
  }
  auto& shared = pending_->shared[task];
  shared.clear();
  for (const auto& name : snapshot.sharedFiles) {
    auto known = knownShared_.find("../shared/" + name);
    if (known == knownShared_.end()) {
      abortPending(lock, "task " + tasks_[task]->name() + " refers to the file " + name +
                             ", which is not in the shared directory (its checkpoint did not complete)");
      return;
    }
    shared.push_back(known->second);
  }
  for (const auto& f : uploaded) pending_->bytes += static_cast<int64_t>(f.size);  // written for this one
  if (snapshot.sharedFiles.size() > uploaded.size()) pending_->sharesFiles = true;
  auto& chain = pending_->chains[task];
  chain.clear();
  if (snapshot.delta) {
    // On top of the task's chain in the last complete checkpoint.
    if (snapshot.baseId != chainsId_ || task >= chains_.size() || chains_[task].empty()) {
      abortPending(lock, "task " + tasks_[task]->name() + " wrote an incremental snapshot on checkpoint " +
                             std::to_string(snapshot.baseId) + ", but the last complete checkpoint is " + std::to_string(chainsId_));
      return;
    }
    chain = chains_[task];
    ++pending_->deltas;
  } else {
    ++pending_->fulls;
  }
  chain.push_back(std::move(*entry));
  pending_->bytes += static_cast<int64_t>(chain.back().size);
}

void CheckpointCoordinator::completePending(std::unique_lock<std::mutex>& lock) {
  Pending p = std::move(*pending_);
  std::vector<checkpoint::CheckpointStorage::FileEntry> files;
  for (const auto& chain : p.chains) files.insert(files.end(), chain.begin(), chain.end());
  // Each shared file once (two snapshots of a task never list the same one, but be sure).
  std::map<std::string, checkpoint::CheckpointStorage::FileEntry> shared;
  for (const auto& list : p.shared)
    for (const auto& f : list) shared.emplace(f.name, f);
  for (const auto& [name, f] : shared) files.push_back(f);
  lock.unlock();
  Status s = storage_.complete(p.id, p.kind, p.finalCheckpoint, fingerprint_, files);
  lock.lock();
  if (!s.isOk()) {
    abortPending(lock, s.message());
    return;
  }
  pending_.reset();
  ++completed_;
  lastCompletedId_ = p.id;
  lastBytes_ = p.bytes;
  lastMs_ = std::chrono::duration<double, std::milli>(Clock::now() - p.started).count();
  lastSyncMs_ = static_cast<double>(p.maxSyncNanos) / 1e6;
  largestBytes_ = std::max(largestBytes_, lastBytes_);
  longestMs_ = std::max(longestMs_, lastMs_);
  longestSyncMs_ = std::max(longestSyncMs_, lastSyncMs_);
  if (p.fulls == 0) longestDeltaSyncMs_ = std::max(longestDeltaSyncMs_, lastSyncMs_);
  deltaSnapshots_ += p.deltas;
  fullSnapshots_ += p.fulls;
  if (p.kind == CheckpointKind::kCheckpoint) {
    // The next checkpoint's deltas build on this one: keep its chains, as references.
    for (auto& chain : p.chains)
      for (auto& e : chain) e = checkpoint::CheckpointStorage::sharedEntry(p.id, e);
    chains_ = std::move(p.chains);
    shared_ = p.shared;
    knownShared_ = std::move(shared);
    chainsId_ = p.id;
    for (size_t t = 0; t < tasks_.size(); ++t)
      if (p.fromFinished[t]) finishedInChain_[t] = true;
  }
  if (config_.interval.count() > 0) nextTrigger_ = std::max(p.started + config_.interval, Clock::now() + config_.minPause);
  if (nextTrigger_ < Clock::now()) nextTrigger_ = Clock::now();
  const std::string dir = storage_.directoryFor(p.id, p.kind);
  if (CheckpointRecord* r = record(p.id)) {
    r->outcome = CheckpointRecord::Outcome::kCompleted;
    r->durationMs = lastMs_;
    r->syncMs = lastSyncMs_;
    r->alignmentMs = static_cast<double>(p.maxAlignmentNanos) / 1e6;
    r->bytes = p.bytes;
    r->incremental = p.deltas > 0 || p.sharesFiles;
    r->path = dir;
  }
  if (p.kind == CheckpointKind::kSavepoint) {
    log(LogLevel::kInfo, "savepoint " + std::to_string(p.id) + " written to " + dir);
  } else {
    log(LogLevel::kInfo, fmt::format("checkpoint {} completed ({:.1f} MB{}, {:.0f} ms)", p.id, static_cast<double>(p.bytes) / 1e6,
                                     p.deltas > 0 || p.sharesFiles ? " incremental" : "", lastMs_));
  }

  // Commit: running tasks are told on their own threads, finished ones here.
  std::vector<size_t> finishedTasks;
  for (size_t t = 0; t < tasks_.size(); ++t)
    if (finished_[t]) finishedTasks.push_back(t);
  const bool stopAfter = p.kind == CheckpointKind::kSavepoint && inFlightSavepoint_ && inFlightSavepoint_->stop;
  lock.unlock();
  Status commitFailure;
  for (size_t t = 0; t < tasks_.size(); ++t) {
    if (std::find(finishedTasks.begin(), finishedTasks.end(), t) != finishedTasks.end()) {
      try {
        tasks_[t]->checkpointCompleteAfterFinish(p.id);
      } catch (const std::exception& e) {
        commitFailure = Status::ioError("committing checkpoint " + std::to_string(p.id) + " in task " + tasks_[t]->name() +
                                        " failed: " + e.what());
      }
    } else {
      tasks_[t]->checkpointComplete(p.id);
    }
  }
  storage_.prune(config_.retained);
  lock.lock();
  if (inFlightSavepoint_ && p.kind == CheckpointKind::kSavepoint) {
    inFlightSavepoint_->done = true;
    inFlightSavepoint_->result = dir;
    inFlightSavepoint_.reset();
    savepointCv_.notify_all();
  }
  if (stopAfter) stopAfterNotified_ = p.id;
  if (p.finalCheckpoint) {
    finalDone_ = true;
    lock.unlock();
    if (!commitFailure.isOk()) {
      job_->fail(commitFailure);
    } else {
      job_->finishedAfterFinalCheckpoint();
    }
    lock.lock();
  } else if (!commitFailure.isOk()) {
    lock.unlock();
    job_->fail(commitFailure);
    lock.lock();
  }
}

void CheckpointCoordinator::abortPending(std::unique_lock<std::mutex>& lock, const std::string& why) {
  if (!pending_) return;
  Pending p = std::move(*pending_);
  pending_.reset();
  ++failed_;
  const char* what = p.kind == CheckpointKind::kSavepoint ? "savepoint" : "checkpoint";
  log(LogLevel::kWarn, std::string(what) + " " + std::to_string(p.id) + " failed: " + why);
  if (CheckpointRecord* r = record(p.id)) {
    r->outcome = CheckpointRecord::Outcome::kFailed;
    r->durationMs = std::chrono::duration<double, std::milli>(Clock::now() - p.started).count();
    r->failure = why;
  }
  lock.unlock();
  storage_.abort(p.id, p.kind);
  lock.lock();
  if (config_.interval.count() > 0) nextTrigger_ = Clock::now() + config_.interval;
  if (p.kind == CheckpointKind::kSavepoint && inFlightSavepoint_) {
    inFlightSavepoint_->done = true;
    inFlightSavepoint_->result = Status::ioError(std::string("savepoint failed: ") + why);
    inFlightSavepoint_.reset();
    savepointCv_.notify_all();
    if (suspendAfter_.load() != INT64_MAX) {  // the sources stopped for it: let them go on
      suspendAfter_.store(INT64_MAX);
      lock.unlock();
      for (size_t t = 0; t < tasks_.size(); ++t)
        if (isSource_[t]) tasks_[t]->schedule();
      lock.lock();
    }
  }
  if (p.finalCheckpoint) {
    finalDone_ = true;
    lock.unlock();
    job_->fail(Status::ioError("the final checkpoint at the end of input failed (" + why +
                               "); output staged since the last checkpoint was not committed"));
    lock.lock();
  }
}

}  // namespace reka::runtime
