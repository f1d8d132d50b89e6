#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "reka/api/DataStream.h"
#include "reka/base/Log.h"
#include "reka/checkpoint/PositionLog.h"
#include "reka/connector/Source.h"

namespace reka::connector {

/// Runs a connector's source (SourceSpec) as a source operator. The enumerator and the reader
/// live on one connector thread per subtask, which blocks in I/O as it likes and hands fetched
/// batches to the task through a bounded queue, waking the task (ctx.wakeup) when it adds one.
/// The task emits them, tracks one watermark per split (with idleness; an ended split no
/// longer holds time back) and keeps every split's position as of the records it emitted in
/// union operator state: a checkpoint holds exactly the positions of what went out before its
/// barrier, and a restore at any parallelism gives each split to the subtask owner() names.
template <class T>
class SplitSourceOperator final : public SourceOperator {
 public:
  SplitSourceOperator(SourceSpec<T> spec, std::unique_ptr<detail::SourceTimestamper<T>> timestamper)
      : spec_(std::move(spec)), timestamper_(std::move(timestamper)) {}
  ~SplitSourceOperator() override { stopThread(); }

  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    REKA_ASSIGN_OR_RETURN(splits_, ctx.state->unionListState<SplitState>(kSplitsState));
    enumerator_ = spec_.makeEnumerator();
    reader_ = spec_.makeReader(SourceReaderContext{ctx.name, ctx.subtask, ctx.parallelism, ctx.batchSize});
    if (!enumerator_ || !reader_) return Status::invalidArgument("source '" + ctx.name + "' has no enumerator or reader");
    if (timestamper_) {
      // Watermark split 0 stands for "splits not known yet": it holds event time back until the
      // first discovery is done (a subtask whose splits are still coming must not let the
      // others' watermarks pass its records), then goes idle, so that a subtask without splits
      // does not hold the job back. Split i of the reader is watermark split i + 1.
      emitter_.open(ctx, timestamper_->options(), 1);
    }
    if (!ctx.positionFile.empty()) {
      // At-most-once: resume past everything emitted before, then log ahead of every batch.
      REKA_ASSIGN_OR_RETURN(std::string logged, positionLog_.open(ctx.positionFile));
      if (!logged.empty()) {
        std::string_view in = logged;
        if (!Serde<std::vector<SplitState>>::read(in, *splits_) || !in.empty())
          return Status::corruption("the position log " + ctx.positionFile + " does not hold split positions");
      }
    }
    return Status::ok();
  }

  Poll pollNext() override {
    if (!started_) start();
    for (;;) {
      Item item;
      // A reader that never blocks runs on the task: one round of its loop when it is needed.
      if (spec_.runOnTask && !loopDone_ && queue_.empty()) loopDone_ = !iterate(0);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (queue_.empty()) return spec_.runOnTask && !loopDone_ ? Poll::kMore : Poll::kNothingNow;
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      notFull_.notify_one();
      switch (item.kind) {
        case Item::kAdded:
          for (auto& s : item.added) track(std::move(s));
          continue;
        case Item::kDiscovered:
          if (timestamper_) emitter_.splits().markIdle(0);
          continue;
        case Item::kError:
          throw std::runtime_error(item.error.message());
        case Item::kEnd:
          if (timestamper_) {
            emitter_.flushFinal();
            publishSplits();
          }
          return Poll::kEnd;
        case Item::kBatch: {
          emit(item.batch);
          std::lock_guard<std::mutex> lock(mutex_);
          return queue_.empty() && !(spec_.runOnTask && !loopDone_) ? Poll::kNothingNow : Poll::kMore;
        }
      }
    }
  }

  void onProcessingTime(int64_t now) override {
    if (timestamper_) {
      emitter_.onTick(now);
      publishSplits();
    }
  }

  void close() override {
    stopThread();
    if (reader_) {
      // A checkpoint that completed just before the stop (a stop-with-savepoint) is committed
      // even if the connector thread ended before it saw the request.
      commitIfRequested();
      reader_->close();
    }
  }

  /// The positions are in operator state already (kSplitsState); the copy kept here is what
  /// the reader commits once the checkpoint completes.
  Status snapshotState(int64_t checkpointId, std::string&) override {
    std::lock_guard<std::mutex> lock(mutex_);
    pendingCommits_[checkpointId] = *splits_;
    while (pendingCommits_.size() > kMaxPendingCommits) pendingCommits_.erase(pendingCommits_.begin());
    return Status::ok();
  }

  void notifyCheckpointComplete(int64_t checkpointId) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = pendingCommits_.upper_bound(checkpointId);
      if (it == pendingCommits_.begin()) return;
      --it;
      commit_ = {it->first, std::move(it->second)};
      pendingCommits_.erase(pendingCommits_.begin(), std::next(it));
    }
    if (reader_) reader_->wakeUp();
  }

 private:
  static constexpr const char* kSplitsState = "connector.splits";
  static constexpr size_t kMaxPendingCommits = 16;
  static constexpr int kFetchTimeoutMs = 100;

  struct Item {
    enum Kind { kAdded, kDiscovered, kBatch, kEnd, kError } kind = kBatch;
    std::vector<SplitState> added;
    SplitBatch<T> batch;
    Status error;
  };

  /// On the task, at the first poll (after any restore): keeps the splits this subtask owns
  /// (union state gives it every split of the old subtasks) and starts the connector thread.
  void start() {
    started_ = true;
    std::vector<SplitState> restored = std::move(*splits_);
    splits_->clear();
    std::set<std::string> seen;
    std::vector<SplitState> mine;
    for (auto& s : restored) {
      if (!seen.insert(s.id).second) continue;
      if (enumerator_->owner(s, ctx_->parallelism) != ctx_->subtask) continue;
      mine.push_back(s);
      track(std::move(s));
    }
    known_ = std::move(seen);
    if (spec_.runOnTask) {
      loopDone_ = !begin(std::move(mine));
      return;
    }
    thread_ = std::thread([this, mine = std::move(mine)]() mutable { run(std::move(mine)); });
  }

  /// Adds a split to the task's list and to the watermarks (its restored highest timestamp
  /// first, so that its watermark starts where it was).
  void track(SplitState s) {
    if (timestamper_) {
      SplitWatermarks& w = emitter_.splits();
      size_t index = w.addSplit(ctx_->time->now());
      if (s.highestTimestamp != kMinTime) w.observe(index, s.highestTimestamp);
      if (s.finished) w.endSplit(index);
    }
    splits_->push_back(std::move(s));
  }

  void emit(SplitBatch<T>& b) {
    if (b.split >= splits_->size()) throw std::runtime_error("source '" + ctx_->name + "': a reader returned an unknown split");
    SplitState& s = (*splits_)[b.split];
    s.position = std::move(b.position);
    const bool any = b.records.size() != 0;
    if (timestamper_ && any) {
      SplitWatermarks& w = emitter_.splits();
      timestamper_->observe(b.split + 1, b.records, w);
      s.highestTimestamp = w.highestTimestamp(b.split + 1);
    }
    if (b.finished && !s.finished) {
      s.finished = true;
      if (timestamper_) emitter_.splits().endSplit(b.split + 1);
    }
    if (positionLog_.isOk()) {
      positionBuffer_.clear();
      Serde<std::vector<SplitState>>::write(*splits_, positionBuffer_);
      Status logged = positionLog_.write(positionBuffer_);
      if (!logged.isOk()) throw std::runtime_error(logged.message());
    }
    if (b.bytes != 0) ctx_->metrics->bytesIn.fetch_add(b.bytes, std::memory_order_relaxed);
    if (b.badRecords != 0) ctx_->metrics->deadLetters.fetch_add(b.badRecords, std::memory_order_relaxed);
    if (any) {
      ctx_->metrics->recordsOut.fetch_add(static_cast<int64_t>(b.records.size()), std::memory_order_relaxed);
      ctx_->outputs[0]->push(b.records);
    }
    if (timestamper_) {
      emitter_.afterBatch();
      ctx_->metrics->eventTime.store(emitter_.splits().current(), std::memory_order_relaxed);
    }
  }

  /// Each split's watermark for the metrics ("why has this window not fired"); on the task, at
  /// the watermark tick.
  void publishSplits() {
    if (ctx_->metrics == nullptr) return;
    const SplitWatermarks& w = emitter_.splits();
    std::vector<SplitProgress> out;
    out.reserve(splits_->size());
    for (size_t i = 0; i < splits_->size() && i + 1 < w.splitCount(); ++i) {
      const SplitState& s = (*splits_)[i];
      out.push_back({s.id, w.splitWatermarkAt(i + 1), w.splitIdle(i + 1), s.finished});
    }
    ctx_->metrics->publishSplits(std::move(out));
  }

  /// The connector thread: discovers splits, reads them, hands batches over, commits.
  void run(std::vector<SplitState> initial) {
    if (!begin(std::move(initial))) return;
    while (!stop_.load(std::memory_order_acquire) && iterate(kFetchTimeoutMs)) {
    }
  }

  /// Hands the restored splits to the reader; false (after queueing the error) if it fails.
  bool begin(std::vector<SplitState> initial) {
    // Splits not ended yet, by the reader's index; a reader may report an end more than once
    // (a restored split that had ended), so only the first report counts.
    for (const auto& s : initial) {
      ended_.push_back(s.finished ? 1 : 0);
      open_ += s.finished ? 0 : 1;
    }
    nextDiscovery_ = std::chrono::steady_clock::now();
    return report(reader_->addSplits(initial));
  }

  /// One round of the reading loop: discovery when due, the end of a bounded read, commits, one
  /// fetch. False when the loop is over (the end, an error or a stop).
  bool iterate(int fetchTimeoutMs) {
    const auto now = std::chrono::steady_clock::now();
    if ((!discovered_ || (!spec_.bounded && spec_.discoveryIntervalMs > 0)) && now >= nextDiscovery_) {
      auto found = enumerator_->discover();
      // The first discovery must work; later, NotFound (a topic or directory that vanished)
      // fails the job and other errors (a broker away for a moment) are retried.
      if (!found.isOk() && (!discovered_ || found.status().code() == StatusCode::kNotFound))
        return report(Status(found.status().code(), "source '" + ctx_->name + "': " + found.status().message()));
      if (found.isOk()) {
        std::vector<SplitState> added;
        for (auto& split : *found) {
          if (enumerator_->owner(split, ctx_->parallelism) != ctx_->subtask) continue;
          if (!known_.insert(split.id).second) continue;
          open_ += split.finished ? 0 : 1;
          ended_.push_back(split.finished ? 1 : 0);
          added.push_back(std::move(split));
        }
        if (!added.empty()) {
          if (!report(reader_->addSplits(added))) return false;
          Item item;
          item.kind = Item::kAdded;
          item.added = std::move(added);
          if (!post(std::move(item))) return false;
        }
      } else {
        reka::log(LogLevel::kWarn, "source '" + ctx_->name + "': split discovery failed (" + found.status().message() + "); retrying",
            {{"operator", ctx_->name}});
      }
      if (!discovered_) {
        Item item;
        item.kind = Item::kDiscovered;
        if (!post(std::move(item))) return false;
      }
      discovered_ = true;
      nextDiscovery_ = now + std::chrono::milliseconds(std::max<int64_t>(spec_.discoveryIntervalMs, 1));
    }
    if (spec_.bounded && discovered_ && open_ == 0) {
      Item item;
      item.kind = Item::kEnd;
      post(std::move(item));
      return false;
    }
    commitIfRequested();
    std::vector<SplitBatch<T>> batches;
    if (!report(reader_->fetch(batches, ctx_->batchSize, fetchTimeoutMs))) return false;
    if (const int64_t lag = reader_->lag(); lag >= 0) ctx_->metrics->lag.store(lag, std::memory_order_relaxed);
    for (auto& b : batches) {
      if (b.finished && b.split < ended_.size() && !ended_[b.split]) {
        ended_[b.split] = 1;
        --open_;
      }
      Item item;
      item.kind = Item::kBatch;
      item.batch = std::move(b);
      if (!post(std::move(item))) return false;
    }
    return true;
  }

  /// Queues a reader's or enumerator's error for the task; whether `s` was ok.
  bool report(const Status& s) {
    if (s.isOk()) return true;
    Item item;
    item.kind = Item::kError;
    item.error = s;
    post(std::move(item));
    return false;
  }

  void commitIfRequested() {
    std::pair<int64_t, std::vector<SplitState>> commit;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (commit_.first == 0) return;
      commit = std::move(commit_);
      commit_ = {};
    }
    reader_->checkpointComplete(commit.first, commit.second);
  }

  /// Queues an item for the task (waiting while the queue is full) and wakes the task; false if
  /// the source is stopping.
  bool post(Item item) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      while (!spec_.runOnTask && queue_.size() >= std::max<size_t>(1, spec_.queueCapacity) &&
             !stop_.load(std::memory_order_acquire)) {
        notFull_.wait_for(lock, std::chrono::milliseconds(kFetchTimeoutMs));
        if (commit_.first != 0) {
          lock.unlock();
          commitIfRequested();
          lock.lock();
        }
      }
      if (stop_.load(std::memory_order_acquire)) return false;
      queue_.push_back(std::move(item));
    }
    if (ctx_->wakeup && !spec_.runOnTask) ctx_->wakeup();
    return true;
  }

  void stopThread() {
    stop_.store(true, std::memory_order_release);
    notFull_.notify_all();
    if (reader_) reader_->wakeUp();
    if (thread_.joinable()) thread_.join();
  }

  SourceSpec<T> spec_;
  std::unique_ptr<detail::SourceTimestamper<T>> timestamper_;
  std::unique_ptr<SplitEnumerator> enumerator_;
  std::unique_ptr<SplitReader<T>> reader_;
  OperatorContext* ctx_ = nullptr;
  detail::WatermarkEmitter emitter_;
  std::vector<SplitState>* splits_ = nullptr;  ///< task side: the reader's splits, positions as emitted
  bool started_ = false;
  PositionLog positionLog_;
  std::string positionBuffer_;

  std::set<std::string> known_;  ///< connector thread (after start): ids of every split seen
  // The reading loop's state (connector thread, or the task with SourceSpec::runOnTask).
  std::vector<char> ended_;
  size_t open_ = 0;
  bool discovered_ = false;
  std::chrono::steady_clock::time_point nextDiscovery_;
  bool loopDone_ = false;  ///< runOnTask: the loop ended
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable notFull_;
  std::deque<Item> queue_;
  std::map<int64_t, std::vector<SplitState>> pendingCommits_;
  std::pair<int64_t, std::vector<SplitState>> commit_{0, {}};
};

/// Adds a connector source with event time to `env`: `strategy` assigns timestamps and makes
/// the watermarks of each split.
template <class T, class Strategy>
DataStream<T> fromSource(StreamEnvironment& env, std::string name, SourceSpec<T> spec, Strategy strategy,
                         int parallelism = 0) {
  static_assert(std::is_same_v<typename Strategy::Record, T>, "the watermark strategy is for another record type");
  graph::Node n;
  n.name = std::move(name);
  n.kind = "source";
  n.isSource = true;
  n.parallelism = parallelism;
  n.makeOperator = [spec = std::move(spec), strategy] {
    return std::make_unique<SplitSourceOperator<T>>(spec, std::make_unique<detail::StrategyTimestamper<T, Strategy>>(strategy));
  };
  return DataStream<T>(&env, env.jobGraph().addNode(std::move(n)));
}

/// A connector source without event time.
template <class T>
DataStream<T> fromSource(StreamEnvironment& env, std::string name, SourceSpec<T> spec, int parallelism = 0) {
  graph::Node n;
  n.name = std::move(name);
  n.kind = "source";
  n.isSource = true;
  n.parallelism = parallelism;
  n.makeOperator = [spec = std::move(spec)] { return std::make_unique<SplitSourceOperator<T>>(spec, nullptr); };
  return DataStream<T>(&env, env.jobGraph().addNode(std::move(n)));
}

}  // namespace reka::connector
