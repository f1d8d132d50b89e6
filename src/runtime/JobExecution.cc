#include "runtime/JobExecution.h"

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "reka/base/Units.h"
#include "reka/state/RocksDbBackend.h"
#include "reka/state/StateBackend.h"

namespace reka::runtime {

namespace {

/// Calls the next operator of a chain directly; names it if it throws.
class ChainedOutput final : public Output {
 public:
  ChainedOutput(Operator* next, const std::string* name, OperatorMetrics* metrics)
      : next_(next), name_(name), metrics_(metrics) {}
  void push(Batch& batch) override {
    metrics_->recordsIn.fetch_add(static_cast<int64_t>(batch.size()), std::memory_order_relaxed);
    try {
      next_->processBatch(0, batch);
    } catch (...) {
      throw currentFailure(*name_);
    }
  }
  void emitWatermark(int64_t watermark) override {
    call([&] { next_->processWatermark(watermark); });
    metrics_->nextEventTimer.store(next_->nextEventTimer(), std::memory_order_relaxed);
  }
  void emitWatermarkStatus(bool idle) override {
    call([&] { next_->processWatermarkStatus(idle); });
  }

 private:
  template <class Call>
  void call(Call&& c) {
    try {
      c();
    } catch (...) {
      throw currentFailure(*name_);
    }
  }
  Operator* next_;
  const std::string* name_;
  OperatorMetrics* metrics_;
};

/// One output port read by several consumers: each gets its own copy but the last.
class FanOutOutput final : public Output {
 public:
  explicit FanOutOutput(std::vector<Output*> outs) : outs_(std::move(outs)) {}
  void push(Batch& batch) override {
    for (size_t i = 0; i + 1 < outs_.size(); ++i) {
      std::unique_ptr<Batch> copy = batch.clone();
      outs_[i]->push(*copy);
    }
    outs_.back()->push(batch);
  }
  void flush() override {
    for (Output* o : outs_) o->flush();
  }
  void emitWatermark(int64_t watermark) override {
    for (Output* o : outs_) o->emitWatermark(watermark);
  }
  void emitWatermarkStatus(bool idle) override {
    for (Output* o : outs_) o->emitWatermarkStatus(idle);
  }

 private:
  std::vector<Output*> outs_;
};

/// An output port nobody reads (a sink's, or an unused side output).
class NullOutput final : public Output {
 public:
  void push(Batch&) override {}
  void emitWatermark(int64_t) override {}
  void emitWatermarkStatus(bool) override {}
};

std::string instanceName(const graph::Node& node, int subtask, int parallelism) {
  return node.name + " (" + std::to_string(subtask + 1) + "/" + std::to_string(parallelism) + ")";
}

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string newJobId() { return randomHex(16); }

namespace {

}  // namespace

JobExecution::JobExecution(graph::JobGraph graph, const ExecutionConfig& config)
    : graph_(std::move(graph)), config_(config), startTimeMs_(wallMs()) {
  if (config_.jobId.empty()) config_.jobId = newJobId();
}

void JobExecution::logEvent(LogLevel level, const std::string& message) const {
  log(level, message, {{"job", config_.jobName}, {"job_id", config_.jobId}});
}

JobExecution::~JobExecution() {
  cancel();
  shutdown();
}

Result<std::unique_ptr<JobExecution>> JobExecution::make(graph::JobGraph graph, const ExecutionConfig& config) {
  REKA_RETURN_IF_ERROR(config.validate());
  std::unique_ptr<JobExecution> job(new JobExecution(std::move(graph), config));
  Status s = job->build();
  if (!s.isOk()) {
    job->stopping_ = true;
    job->done_ = true;
    return s;
  }
  job->start();
  job->state_.store(JobState::kRunning);
  size_t subtasks = 0;
  for (const auto& inst : job->instances_) subtasks += inst.size();
  job->logEvent(LogLevel::kInfo, "job running: " + std::to_string(job->graph_.nodes().size()) + " operators, " +
                                     std::to_string(subtasks) + " subtasks in " + std::to_string(job->tasks_.size()) + " tasks");
  return job;
}

Status JobExecution::build() {
  auto& nodes = graph_.nodes();
  if (nodes.empty()) return Status::invalidArgument("the job has no operators");
  const size_t n = nodes.size();
  int threads = config_.workerThreads > 0 ? config_.workerThreads : ExecutionConfig::defaultParallelism();
  pool_ = std::make_unique<WorkerPool>(threads, config_.idleSpin);
  // The physical plan (graph/): parallelism, partitioning, chaining, uids and the checks.
  REKA_ASSIGN_OR_RETURN(plan_, graph::planJob(graph_, graph::PlanOptions{config_.parallelism, config_.maxParallelism, config_.chaining}));
  parallelism_ = plan_.parallelism;
  chained_ = plan_.chained;

  if (!config_.checkpoints.stateDir.empty() && config_.checkpoints.guarantee == DeliveryGuarantee::kAtMostOnce) {
    auto fs = config_.checkpoints.fileSystem ? config_.checkpoints.fileSystem : localFileSystem();
    REKA_RETURN_IF_ERROR(fs->makeDirs(config_.checkpoints.stateDir + "/positions"));
  }

  if (config_.stateBackend.kind == StateBackendConfig::Kind::kRocksDb && !rocksdb_) {
    auto env = RocksDbEnvironment::open(config_.stateBackend.rocksdb);
    if (!env.isOk()) return Status(env.status().code(), "state backend rocksdb: " + env.status().message());
    rocksdb_ = *env;
  }

  // Instances and tasks.
  instances_.resize(n);
  for (auto& node : nodes) {
    const size_t id = static_cast<size_t>(node.id);
    const int p = parallelism_[id];
    instances_[id].resize(static_cast<size_t>(p));
    for (int s = 0; s < p; ++s) {
      Instance& inst = instances_[id][static_cast<size_t>(s)];
      inst.op = node.makeOperator();
      KeyGroupRange range = keyGroupRangeFor(config_.maxParallelism, p, s);
      if (rocksdb_) {
        auto backend = openRocksDbStateBackend(rocksdb_, instanceName(node, s, p), range, config_.maxParallelism);
        if (!backend.isOk()) return backend.status();
        inst.state = std::move(*backend);
      } else {
        inst.state = std::make_unique<HeapStateBackend>(range, config_.maxParallelism);
      }
      inst.state->setDefaultTtl(config_.stateBackend.defaultTtl);
      inst.metrics = std::make_unique<OperatorMetrics>();
      inst.ctx.name = node.name;
      inst.ctx.uid = plan_.uids[id];
      inst.name = instanceName(node, s, p);
      inst.ctx.subtask = s;
      inst.ctx.parallelism = p;
      inst.ctx.maxParallelism = config_.maxParallelism;
      inst.ctx.keyGroups = range;
      inst.ctx.state = inst.state.get();
      inst.ctx.batchSize = config_.batchSize;
      inst.ctx.metrics = inst.metrics.get();
      if (chained_[id]) {
        Instance& up = instances_[static_cast<size_t>(node.inputs[0].from)][static_cast<size_t>(s)];
        inst.task = up.task;
        inst.task->addChained(inst.op.get(), inst.name);
      } else {
        tasks_.push_back(std::make_unique<Task>(instanceName(node, s, p), pool_.get(), this));
        inst.task = tasks_.back().get();
        auto* source = node.isSource ? dynamic_cast<SourceOperator*>(inst.op.get()) : nullptr;
        if (node.isSource && source == nullptr) return Status::internal("source node '" + node.name + "' is not a SourceOperator");
        inst.task->setHead(inst.op.get(), instanceName(node, s, p), inst.metrics.get(), source);
      }
      Task* task = inst.task;
      inst.ctx.wakeup = [task] { task->schedule(); };
      inst.ctx.stopRequested = &stopping_;
      inst.time = std::make_unique<InstanceTimeService>(&timers_, task);
      inst.ctx.time = inst.time.get();
      inst.ctx.watermarkIntervalMs = config_.watermarkInterval.count();
      inst.ctx.guarantee = config_.checkpoints.guarantee;
      inst.ctx.checkpointing = !config_.checkpoints.stateDir.empty() &&
                               config_.checkpoints.guarantee != DeliveryGuarantee::kAtMostOnce;
      if (node.isSource && !config_.checkpoints.stateDir.empty() &&
          config_.checkpoints.guarantee == DeliveryGuarantee::kAtMostOnce)
        inst.ctx.positionFile = config_.checkpoints.stateDir + "/positions/" + std::to_string(node.id) + "-" + std::to_string(s) + ".pos";
      inst.op->bindContext(&inst.ctx);
    }
  }

  // Outputs: per producing instance and port, the chained consumers and partition writers.
  std::vector<std::vector<std::vector<std::vector<Output*>>>> portOutputs(n);  // node, subtask, port
  for (auto& node : nodes) {
    portOutputs[static_cast<size_t>(node.id)].assign(static_cast<size_t>(parallelism_[static_cast<size_t>(node.id)]),
                                                     std::vector<std::vector<Output*>>(static_cast<size_t>(node.outputPorts)));
  }
  for (auto& node : nodes) {
    const size_t b = static_cast<size_t>(node.id);
    const int pb = parallelism_[b];
    for (size_t inputIndex = 0; inputIndex < node.inputs.size(); ++inputIndex) {
      const graph::Edge& e = node.inputs[inputIndex];
      const size_t a = static_cast<size_t>(e.from);
      const int pa = parallelism_[a];
      if (e.fromPort >= graph_.node(e.from).outputPorts) return Status::internal("edge from a missing output port");
      if (chained_[b]) {
        for (int s = 0; s < pb; ++s) {
          Instance& inst = instances_[b][static_cast<size_t>(s)];
          outputs_.push_back(std::make_unique<ChainedOutput>(inst.op.get(), &inst.name, inst.metrics.get()));
          portOutputs[a][static_cast<size_t>(s)][static_cast<size_t>(e.fromPort)].push_back(outputs_.back().get());
        }
        continue;
      }
      // Channels: forward connects subtask i to i; the other kinds connect every pair.
      std::vector<std::vector<BatchSender*>> targets(static_cast<size_t>(pa));
      for (int sa = 0; sa < pa; ++sa) {
        for (int sb = 0; sb < pb; ++sb) {
          if (e.kind == graph::PartitionKind::kForward && sa != sb) continue;
          channels_.push_back(std::make_unique<Channel>(config_.channelCapacity));
          Channel* ch = channels_.back().get();
          Task* producer = instances_[a][static_cast<size_t>(sa)].task;
          Task* consumer = instances_[b][static_cast<size_t>(sb)].task;
          ch->connect(producer, consumer);
          channelFrom_[ch] = {static_cast<int>(a), sa};
          producer->addOutputChannel(ch);
          consumer->addInput(ch, static_cast<int>(inputIndex));
          targets[static_cast<size_t>(sa)].push_back(ch);
        }
      }
      for (int sa = 0; sa < pa; ++sa) {
        outputs_.push_back(e.makeWriter(targets[static_cast<size_t>(sa)], sa, config_.batchSize, config_.maxParallelism));
        Output* writer = outputs_.back().get();
        instances_[a][static_cast<size_t>(sa)].task->addNetworkOutput(writer);
        portOutputs[a][static_cast<size_t>(sa)][static_cast<size_t>(e.fromPort)].push_back(writer);
      }
    }
  }
  for (auto& node : nodes) {
    const size_t id = static_cast<size_t>(node.id);
    for (size_t s = 0; s < instances_[id].size(); ++s) {
      for (auto& outs : portOutputs[id][s]) {
        if (outs.empty()) {
          outputs_.push_back(std::make_unique<NullOutput>());
          instances_[id][s].ctx.outputs.push_back(outputs_.back().get());
        } else if (outs.size() == 1) {
          instances_[id][s].ctx.outputs.push_back(outs[0]);
        } else {
          outputs_.push_back(std::make_unique<FanOutOutput>(outs));
          instances_[id][s].ctx.outputs.push_back(outputs_.back().get());
        }
      }
    }
  }

  // Each task's chain of processing-time services, in chain order (head first).
  for (auto& t : tasks_) {
    std::vector<InstanceTimeService*> services;
    for (auto& perNode : instances_) {
      for (auto& inst : perNode) {
        if (inst.task == t.get()) services.push_back(inst.time.get());
      }
    }
    t->setTimeServices(std::move(services));
  }

  // Open in topological order (node ids are topological).
  for (auto& node : nodes) {
    for (auto& inst : instances_[static_cast<size_t>(node.id)]) {
      Status s;
      try {
        s = inst.op->open(inst.ctx);
        // A state type without a Serde stops a job with checkpoints here, not at its first
        // checkpoint.
        if (s.isOk() && inst.ctx.checkpointing) s = inst.op->checkSnapshottable();
        if (s.isOk() && inst.ctx.checkpointing && inst.ctx.state != nullptr) s = inst.ctx.state->checkSerialisable();
      } catch (const std::exception& e) {
        s = Status::userCodeError(e.what());
      } catch (...) {
        s = Status::userCodeError("unknown exception");
      }
      inst.opened = true;  // close() runs for every operator whose open() was called
      if (!s.isOk()) return Status(s.code(), "opening operator '" + inst.name + "' failed: " + s.message());
    }
  }

  // Checkpoints: resume from the newest complete one, then start the coordinator.
  const CheckpointConfig& cc = config_.checkpoints;
  if (cc.stateDir.empty()) {
    if (cc.interval.count() > 0) return Status::invalidArgument("checkpoints need a state directory (--state-dir / CheckpointConfig::stateDir)");
    return Status::ok();
  }
  checkpoint::CheckpointStorage storage(cc.stateDir, cc.fileSystem);
  REKA_RETURN_IF_ERROR(storage.fs().makeDirs(cc.stateDir));
  if (cc.guarantee == DeliveryGuarantee::kAtMostOnce) {
    // No checkpoints and no replay: sources log their position before they emit a batch and
    // resume from it; all other state starts empty (see docs/checkpoints.md).
    return Status::ok();
  }
  int64_t lastId = 0;
  for (const auto& [id, dir] : storage.listComplete()) lastId = std::max(lastId, id);
  std::vector<std::vector<checkpoint::FileEntry>> restoredChains;
  std::vector<checkpoint::FileEntry> restoredShared;  // its native snapshots' files
  if (cc.resume || !cc.resumeFrom.empty()) {
    const auto started = std::chrono::steady_clock::now();
    std::optional<checkpoint::CheckpointData> data;
    if (!cc.resumeFrom.empty()) {
      auto loaded = storage.load(cc.resumeFrom);
      if (!loaded.isOk()) return Status(loaded.status().code(), "cannot resume from " + cc.resumeFrom + ": " + loaded.status().message());
      data = std::move(*loaded);
    } else {
      REKA_ASSIGN_OR_RETURN(data, storage.loadLatest([this](const std::string& line) { logEvent(LogLevel::kWarn, line); }));
    }
    if (data) {
      const bool ours = data->kind == checkpoint::CheckpointKind::kCheckpoint &&
                        data->directory == storage.directoryFor(data->id, checkpoint::CheckpointKind::kCheckpoint);
      REKA_RETURN_IF_ERROR(restore(*data, ours));
      restoredId_ = data->id;
      // A checkpoint of this state directory: the next checkpoint's deltas continue its chains
      // (a savepoint, or a checkpoint elsewhere, is followed by a full checkpoint).
      if (!rescaled_ && !reshaped_ && ours) {
        restoredChains = checkpoint::chainsByTask(*data);
        for (const auto& f : data->files)
          if (f.name.rfind("../shared/", 0) == 0) restoredShared.push_back(f);
        bool complete = restoredChains.size() == tasks_.size();
        for (const auto& chain : restoredChains) complete = complete && !chain.empty();
        if (!complete) restoredChains.clear();
      }
      lastId = std::max(lastId, data->id);
      restoreMs_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
      logEvent(LogLevel::kInfo, fmt::format("resumed from {} {} {} ({:.1f} MB) in {:.0f} ms{}",
                                            data->kind == checkpoint::CheckpointKind::kSavepoint ? "savepoint" : "checkpoint",
                                            data->id, data->directory, static_cast<double>(data->bytes) / 1e6, restoreMs_,
                                            rescaled_ ? ", at another parallelism (taken as " + data->jobFingerprint + ")" : ""));
    }
  }
  std::vector<Task*> tasks;
  std::vector<bool> isSource;
  for (auto& t : tasks_) tasks.push_back(t.get());
  isSource.assign(tasks.size(), false);
  std::vector<std::vector<Task::Member>> members(tasks_.size());
  for (auto& node : nodes) {
    for (auto& inst : instances_[static_cast<size_t>(node.id)]) {
      size_t t = static_cast<size_t>(std::find(tasks.begin(), tasks.end(), inst.task) - tasks.begin());
      members[t].push_back({inst.op.get(), node.id, inst.ctx.subtask, inst.name, inst.state.get(), inst.metrics.get()});
      if (node.isSource) isSource[t] = true;
    }
  }
  coordinator_ = std::make_unique<CheckpointCoordinator>(this, cc, fingerprint(), lastId, tasks, isSource);
  for (size_t t = 0; t < tasks_.size(); ++t)
    tasks_[t]->setCheckpointing(t, coordinator_.get(), std::move(members[t]), cc.guarantee == DeliveryGuarantee::kExactlyOnce);
  if (!restoredChains.empty()) {
    for (size_t t = 0; t < tasks_.size(); ++t) tasks_[t]->continueChain(restoredId_, static_cast<int>(restoredChains[t].size()) - 1);
    coordinator_->continueChains(restoredId_, std::move(restoredChains));
    coordinator_->knowSharedFiles(restoredShared);
  }
  return Status::ok();
}

std::string JobExecution::fingerprint() const { return graph::planFingerprint(plan_); }

namespace {
/// The outputs of a scratch instance (a restore at another parallelism): it never emits, and
/// whatever it might is dropped.
class DroppingOutput final : public Output {
 public:
  void push(Batch&) override {}
  void emitWatermark(int64_t) override {}
  void emitWatermarkStatus(bool) override {}
};
/// The clock of a scratch instance: the time, but no callbacks.
class NoCallbackTime final : public ProcessingTimeService {
 public:
  int64_t now() const override { return wallClockMs(); }
  void requestCallback(int64_t) override {}
};
}  // namespace

Status JobExecution::absorbRescaledState(const graph::Node& node, Instance& inst,
                                         const std::vector<const checkpoint::OperatorSnapshot*>& old) {
  using Mode = Operator::OwnStateRescale;
  const Mode mode = inst.op->ownStateRescale();
  const int oldParallelism = static_cast<int>(old.size());
  const int me = inst.ctx.subtask;
  for (int o = 0; o < oldParallelism; ++o) {
    const auto& snap = *old[static_cast<size_t>(o)];
    if (snap.blob.empty() && snap.blobDeltas.empty()) continue;
    const bool mine = mode == Mode::kByKeyGroup || (mode == Mode::kToOneSubtask && o % inst.ctx.parallelism == me) ||
                      (mode == Mode::kCopyPerSubtask && me % oldParallelism == o);
    if (!mine) continue;
    // A scratch instance opened as old subtask o, restored from its chain.
    OperatorContext ctx = inst.ctx;
    ctx.subtask = o;
    ctx.parallelism = oldParallelism;
    ctx.keyGroups = keyGroupRangeFor(config_.maxParallelism, oldParallelism, o);
    HeapStateBackend state(ctx.keyGroups, config_.maxParallelism);
    OperatorMetrics metrics;
    NoCallbackTime time;
    std::vector<DroppingOutput> outputs(inst.ctx.outputs.size());
    ctx.outputs.clear();
    for (auto& out : outputs) ctx.outputs.push_back(&out);
    ctx.state = &state;
    ctx.metrics = &metrics;
    ctx.time = &time;
    ctx.wakeup = [] {};
    ctx.positionFile.clear();
    std::unique_ptr<Operator> scratch = node.makeOperator();
    Status s;
    try {
      scratch->bindContext(&ctx);
      s = scratch->open(ctx);
      if (s.isOk()) s = scratch->restoreState(snap.blob);
      for (size_t d = 0; s.isOk() && d < snap.blobDeltas.size(); ++d) s = scratch->restoreDelta(snap.blobDeltas[d]);
      if (s.isOk()) s = inst.op->absorbRescaled(*scratch, Operator::RescaledPart{o, oldParallelism, snap.blob, &snap.blobDeltas});
      scratch->close();
    } catch (const std::exception& e) {
      s = Status::userCodeError(e.what());
    }
    if (!s.isOk())
      return Status(s.code(), "taking over the state of subtask " + std::to_string(o + 1) + "/" + std::to_string(oldParallelism) +
                                  " (restore at another parallelism): " + s.message());
  }
  return Status::ok();
}

namespace {
/// Restores a native snapshot (RocksDB's files) into `state`: in place if the backend takes
/// native snapshots and has the same key groups, otherwise read back as key groups (another
/// parallelism, or the heap backend).
Status restoreNative(StateBackend& state, const NativeSnapshot& native, const std::string& sharedDir, bool inPlace,
                     int64_t checkpointId) {
  if (inPlace && state.snapshotsNatively()) return state.restoreNative(native, sharedDir, checkpointId);
  return readNativeSnapshot(native, sharedDir, state.keyGroups(), [&](const std::string& table, int32_t kg, std::string_view bytes) {
    StateTable* t = state.findTable(table);
    if (t == nullptr)
      return Status::failedPrecondition("snapshot has state '" + table + "' that the operator did not register before restore");
    return t->restoreKeyGroup(KeyGroup{kg}, bytes);
  });
}
}  // namespace

Result<std::vector<JobExecution::RestoredFrom>> JobExecution::matchRestoredOperators(const checkpoint::CheckpointData& data) {
  const auto theirs = graph::parseFingerprint(data.jobFingerprint);
  std::map<std::string, int> byUid;
  for (size_t i = 0; i < theirs.size(); ++i) byUid.emplace(theirs[i].first, static_cast<int>(i));
  std::vector<RestoredFrom> from(plan_.uids.size());
  std::vector<bool> claimed(theirs.size(), false);
  for (size_t n = 0; n < plan_.uids.size(); ++n) {
    auto it = byUid.find(plan_.uids[n]);
    if (it == byUid.end() || theirs[static_cast<size_t>(it->second)].second < 1) continue;
    from[n] = {it->second, theirs[static_cast<size_t>(it->second)].second};
    claimed[static_cast<size_t>(it->second)] = true;
  }
  std::string unclaimed, fresh;
  for (size_t i = 0; i < theirs.size(); ++i)
    if (!claimed[i]) unclaimed += (unclaimed.empty() ? "'" : ", '") + theirs[i].first + "'";
  for (size_t n = 0; n < from.size(); ++n)
    if (from[n].index < 0) fresh += (fresh.empty() ? "'" : ", '") + plan_.uids[n] + "'";
  const std::string what = fmt::format("{} {} in {}", data.kind == checkpoint::CheckpointKind::kSavepoint ? "savepoint" : "checkpoint",
                                       data.id, data.directory);
  if (!unclaimed.empty() && !config_.checkpoints.allowNonRestoredState)
    return Status::failedPrecondition(
        what + " has state of operators this job does not have (uids " + unclaimed + "; this job: " + fingerprint() +
        "). Give the operators their old uids (DataStream::uid), allow the state to be dropped (--allow-non-restored-state, "
        "execution.savepoint.ignore-unclaimed-state), or use an empty --state-dir to start fresh.");
  // Unclaimed or fresh operators, or the same ones in another order.
  reshaped_ = !unclaimed.empty() || !fresh.empty();
  for (size_t n = 0; !reshaped_ && n < from.size(); ++n) reshaped_ = from[n].index != static_cast<int>(n);
  if (!unclaimed.empty()) logEvent(LogLevel::kWarn, what + ": dropping the state of operators this job does not have: " + unclaimed);
  if (!fresh.empty()) logEvent(LogLevel::kInfo, what + " has no state of " + fresh + ": they start empty");
  return from;
}

Status JobExecution::restore(const checkpoint::CheckpointData& data, bool ownShared) {
  REKA_ASSIGN_OR_RETURN(const std::vector<RestoredFrom> from, matchRestoredOperators(data));
  for (auto& node : graph_.nodes()) {
    const int theirs = from[static_cast<size_t>(node.id)].index;
    if (theirs < 0) continue;  // new in this job: it starts without state
    auto& perNode = instances_[static_cast<size_t>(node.id)];
    const int oldParallelism = from[static_cast<size_t>(node.id)].parallelism;
    const bool rescaled = oldParallelism != static_cast<int>(perNode.size());
    rescaled_ = rescaled_ || rescaled;
    std::vector<std::map<std::string, std::vector<std::string>>> lists;
    std::vector<const checkpoint::OperatorSnapshot*> old;
    for (int s = 0; s < oldParallelism; ++s) {
      auto it = data.operators.find({theirs, s});
      if (it == data.operators.end())
        return Status::corruption("checkpoint " + std::to_string(data.id) + " has no state for subtask " + std::to_string(s + 1) +
                                  " of operator '" + node.name + "'");
      old.push_back(&it->second);
      lists.push_back(it->second.lists);
    }
    if (rescaled && !perNode.empty() && perNode[0].op->ownStateRescale() == Operator::OwnStateRescale::kNotSupported) {
      // Keyed state moves with its key groups and operator lists are redistributed; state an
      // operator keeps in its own memory moves only as the operator says (Operator::absorbRescaled).
      for (const auto* snap : old) {
        size_t own = snap->blob.size();
        for (const auto& d : snap->blobDeltas) own += d.size();
        if (own > 0)
          return Status::failedPrecondition(
              "checkpoint " + std::to_string(data.id) + " was taken at parallelism " + std::to_string(oldParallelism) +
              " of operator '" + node.name + "', which keeps state of its own (" + std::to_string(own) +
              " bytes) that cannot be redistributed: restore it at parallelism " + std::to_string(oldParallelism));
      }
    }
    for (auto& inst : perNode) {
      auto where = [&](const Status& s) {
        return Status(s.code(), "restoring operator '" + inst.name + "' from checkpoint " + std::to_string(data.id) + ": " + s.message());
      };
      Status s;
      if (!rescaled) {
        const auto& snap = *old[static_cast<size_t>(inst.ctx.subtask)];
        // An incremental chain: the full snapshot, then each delta in order.
        s = inst.state->restoreKeyed(snap.keyed);
        for (size_t d = 0; s.isOk() && d < snap.keyedDeltas.size(); ++d) s = inst.state->applyKeyedDelta(snap.keyedDeltas[d]);
        if (s.isOk() && snap.native)
          s = restoreNative(*inst.state, *snap.native, data.sharedDirectory, true, ownShared ? data.id : 0);
      } else {
        // Every old subtask's chain; the backend keeps the key groups it owns now.
        for (size_t o = 0; s.isOk() && o < old.size(); ++o) {
          s = inst.state->restoreKeyed(old[o]->keyed);
          for (size_t d = 0; s.isOk() && d < old[o]->keyedDeltas.size(); ++d) s = inst.state->applyKeyedDelta(old[o]->keyedDeltas[d]);
          if (s.isOk() && old[o]->native) s = restoreNative(*inst.state, *old[o]->native, data.sharedDirectory, false, 0);
        }
      }
      if (s.isOk()) s = inst.state->restoreOperatorLists(lists, inst.ctx.subtask, inst.ctx.parallelism);
      if (s.isOk() && rescaled) s = absorbRescaledState(node, inst, old);
      if (s.isOk() && !rescaled) {
        const auto& snap = *old[static_cast<size_t>(inst.ctx.subtask)];
        try {
          s = inst.op->restoreState(snap.blob);
          for (size_t d = 0; s.isOk() && d < snap.blobDeltas.size(); ++d) s = inst.op->restoreDelta(snap.blobDeltas[d]);
        } catch (const std::exception& e) {
          s = Status::userCodeError(e.what());
        }
      }
      if (!s.isOk()) return where(s);
    }
  }
  return Status::ok();
}

void JobExecution::start() {
  remainingTasks_.store(tasks_.size());
  if (coordinator_) coordinator_->start();
  timers_.start();
  pool_->start();
  for (auto& t : tasks_) t->schedule();
}

void JobExecution::taskFinished(Task*) {
  if (remainingTasks_.fetch_sub(1) != 1) return;
  // With checkpoints, the job ends once its final checkpoint is written and committed.
  if (coordinator_ && !stopping()) {
    coordinator_->allTasksFinished();
  } else {
    signalDone();
  }
}

void JobExecution::stopAfterSavepoint() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_) return;
    if (status_.isOk()) status_ = Status::cancelled("stopped with a savepoint");
  }
  stopping_.store(true, std::memory_order_release);
  signalDone();
}

Result<std::string> JobExecution::savepoint(bool stop, std::chrono::milliseconds timeout) {
  if (!coordinator_) return Status::failedPrecondition("savepoints need a state directory (--state-dir / CheckpointConfig::stateDir)");
  return coordinator_->savepoint(stop, timeout);
}

void JobExecution::fail(Status status) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (exceptions_.size() < 100) exceptions_.push_back(JobException{wallMs(), status.message()});
    if (status_.isOk()) status_ = std::move(status);
  }
  stopping_.store(true, std::memory_order_release);
  signalDone();
}

void JobExecution::cancel() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_) return;
    if (status_.isOk()) status_ = Status::cancelled("job cancelled");
  }
  stopping_.store(true, std::memory_order_release);
  signalDone();
}

void JobExecution::signalDone() {
  JobState end = JobState::kFinished;
  std::string why;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_) return;
    done_ = true;
    endTimeMs_ = wallMs();
    if (status_.code() == StatusCode::kCancelled) end = JobState::kCancelled;
    else if (!status_.isOk()) end = JobState::kFailed;
    why = status_.message();
  }
  if (state_.exchange(end) != end) {
    if (end == JobState::kFinished) logEvent(LogLevel::kInfo, "job finished");
    else if (end == JobState::kCancelled) logEvent(LogLevel::kInfo, "job cancelled");
    // Under a restart policy the supervisor says whether this ends the job.
    else logEvent(config_.restart.maxAttempts > 0 ? LogLevel::kWarn : LogLevel::kError, "job failed: " + why);
  }
  doneCv_.notify_all();
}

bool JobExecution::waitFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return doneCv_.wait_for(lock, timeout, [this] { return done_; });
}

Status JobExecution::wait() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    doneCv_.wait(lock, [this] { return done_; });
  }
  shutdown();
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

void JobExecution::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shutDown_) return;
    shutDown_ = true;
  }
  stopping_.store(true, std::memory_order_release);
  if (coordinator_) coordinator_->stop();
  timers_.stop();
  if (pool_) pool_->stop();
  for (auto& perNode : instances_) {
    for (auto& inst : perNode) {
      if (!inst.opened) continue;
      try {
        inst.op->close();
      } catch (...) {
        // close() is best effort at shutdown; the job's status already says how it ended.
      }
    }
  }
}

void JobExecution::fillVertices(JobMetrics& m) const {
  for (const auto& node : graph_.nodes()) {
    VertexInfo v;
    v.id = node.id;
    v.name = node.name;
    v.kind = node.kind;
    v.uid = plan_.uids[static_cast<size_t>(node.id)];
    v.parallelism = parallelism_[static_cast<size_t>(node.id)];
    v.source = node.isSource;
    v.chained = chained_[static_cast<size_t>(node.id)];
    for (const auto& e : node.inputs) v.inputs.push_back({e.from, partitionKindName(e.kind)});
    m.vertices.push_back(std::move(v));
  }
}

void JobExecution::fillTaskFigures(const Instance& inst, OperatorStats& st) const {
  const Task* task = inst.task;
  if (task == nullptr) return;
  const Task::Timing t = task->timing();
  st.busyMs = static_cast<double>(t.busyNanos) / 1e6;
  st.backpressuredMs = static_cast<double>(t.backpressuredNanos) / 1e6;
  st.inputWatermark = task->inputWatermark();
  const std::vector<int64_t> wms = task->channelWatermarks();
  const auto& inputs = task->inputs();
  for (size_t i = 0; i < inputs.size(); ++i) {
    OperatorStats::Channel c;
    if (auto it = channelFrom_.find(inputs[i].channel); it != channelFrom_.end()) {
      c.node = it->second.first;
      c.subtask = it->second.second;
    }
    c.watermark = wms[i];
    st.inputChannels.push_back(c);
    st.inputQueueUsage = std::max(st.inputQueueUsage, inputs[i].channel->usage());
  }
  for (const Channel* ch : task->outputChannels()) st.outputQueueUsage = std::max(st.outputQueueUsage, ch->usage());
}

JobMetrics JobExecution::metrics() const {
  JobMetrics m;
  m.jobId = config_.jobId;
  m.jobName = config_.jobName;
  m.state = state_.load();
  m.startTimeMs = startTimeMs_;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    m.endTimeMs = endTimeMs_;
    m.exceptions = exceptions_;
  }
  fillVertices(m);
  int64_t minTime = INT64_MAX;
  bool any = false;
  std::vector<bool> consumed(graph_.nodes().size(), false);
  for (const auto& node : graph_.nodes()) {
    for (const auto& e : node.inputs) consumed[static_cast<size_t>(e.from)] = true;
  }
  int64_t minWatermark = INT64_MAX;
  bool anySink = false;
  for (const auto& node : graph_.nodes()) {
    for (const auto& inst : instances_[static_cast<size_t>(node.id)]) {
      OperatorStats st;
      st.name = node.name;
      st.subtask = inst.ctx.subtask;
      st.recordsIn = inst.metrics->recordsIn.load(std::memory_order_relaxed);
      st.recordsOut = inst.metrics->recordsOut.load(std::memory_order_relaxed);
      st.watermark = inst.metrics->watermark.load(std::memory_order_relaxed);
      st.lateRecords = inst.metrics->lateRecords.load(std::memory_order_relaxed);
      st.lateUpdates = inst.metrics->lateUpdates.load(std::memory_order_relaxed);
      st.discardedPartialMatches = inst.metrics->discardedPartialMatches.load(std::memory_order_relaxed);
      st.ruleErrors = inst.metrics->ruleErrors.load(std::memory_order_relaxed);
      st.rules = inst.metrics->rules();
      st.firedResults = inst.metrics->firedResults.load(std::memory_order_relaxed);
      st.firingNanos = inst.metrics->firingNanos.load(std::memory_order_relaxed);
      st.node = node.id;
      st.parallelism = parallelism_[static_cast<size_t>(node.id)];
      st.nextEventTimer = inst.metrics->nextEventTimer.load(std::memory_order_relaxed);
      st.bytesIn = inst.metrics->bytesIn.load(std::memory_order_relaxed);
      st.bytesOut = inst.metrics->bytesOut.load(std::memory_order_relaxed);
      st.deadLetters = inst.metrics->deadLetters.load(std::memory_order_relaxed);
      st.lag = inst.metrics->lag.load(std::memory_order_relaxed);
      st.stateBytes = inst.metrics->stateBytes.load(std::memory_order_relaxed);
      if (node.isSource) st.splits = inst.metrics->splits();
      fillTaskFigures(inst, st);
      m.lateRecords += st.lateRecords;
      m.lateUpdates += st.lateUpdates;
      if (!consumed[static_cast<size_t>(node.id)]) {
        minWatermark = std::min(minWatermark, st.watermark);
        anySink = true;
      }
      m.operators.push_back(st);
      if (node.isSource) {
        m.sourceRecords += st.recordsOut;
        int64_t t = inst.metrics->eventTime.load(std::memory_order_relaxed);
        if (t != INT64_MIN) {
          minTime = std::min(minTime, t);
          any = true;
        }
      }
    }
  }
  if (any) m.eventTime = minTime;
  if (anySink) m.watermark = minWatermark;
  if (coordinator_) coordinator_->fillMetrics(m);
  m.restoredCheckpointId = restoredId_;
  m.restoreMs = restoreMs_;
  if (pool_) m.workerWakeups = pool_->wakeups();
  return m;
}

}  // namespace reka::runtime

namespace reka {

const char* jobStateName(JobState s) {
  switch (s) {
    case JobState::kCreated: return "CREATED";
    case JobState::kRunning: return "RUNNING";
    case JobState::kRestarting: return "RESTARTING";
    case JobState::kFinished: return "FINISHED";
    case JobState::kFailed: return "FAILED";
    case JobState::kCancelled: return "CANCELED";
  }
  return "?";
}

const char* deliveryGuaranteeName(DeliveryGuarantee g) {
  switch (g) {
    case DeliveryGuarantee::kExactlyOnce: return "exactly-once";
    case DeliveryGuarantee::kAtLeastOnce: return "at-least-once";
    case DeliveryGuarantee::kAtMostOnce: return "at-most-once";
  }
  return "?";
}

Status ExecutionConfig::validate() const {
  if (parallelism < 1) return Status::invalidArgument("parallelism must be at least 1, got " + std::to_string(parallelism));
  if (workerThreads < 0) return Status::invalidArgument("workerThreads must be 0 (one per core) or more, got " + std::to_string(workerThreads));
  if (maxParallelism < 1 || maxParallelism > 32768)
    return Status::invalidArgument("maxParallelism must be in [1, 32768], got " + std::to_string(maxParallelism));
  if (parallelism > maxParallelism)
    return Status::invalidArgument("parallelism " + std::to_string(parallelism) + " exceeds maxParallelism " + std::to_string(maxParallelism));
  if (batchSize < 1) return Status::invalidArgument("batchSize must be at least 1");
  if (channelCapacity < 1) return Status::invalidArgument("channelCapacity must be at least 1");
  if (maxBatchesPerStep < 1) return Status::invalidArgument("maxBatchesPerStep must be at least 1");
  if (flushInterval.count() < 0) return Status::invalidArgument("flushInterval must not be negative");
  if (idleSpin.count() < 0 || idleSpin.count() > 1'000'000)
    return Status::invalidArgument("idleSpin must be in [0, 1 s] (0: idle workers park at once), got " +
                                   std::to_string(idleSpin.count()) + " us");
  if (watermarkInterval.count() < 0) return Status::invalidArgument("watermarkInterval must not be negative (0: after every batch)");
  if (checkpoints.interval.count() < 0) return Status::invalidArgument("the checkpoint interval must not be negative (0: no periodic checkpoints)");
  if (checkpoints.interval.count() > 0 && checkpoints.stateDir.empty())
    return Status::invalidArgument("checkpoints need a state directory (--state-dir / CheckpointConfig::stateDir)");
  if (checkpoints.retained < 1) return Status::invalidArgument("checkpoints.retained must be at least 1, got " + std::to_string(checkpoints.retained));
  if (checkpoints.maxDeltaChain < 1)
    return Status::invalidArgument("checkpoints.maxDeltaChain must be at least 1, got " + std::to_string(checkpoints.maxDeltaChain));
  if (checkpoints.timeout.count() <= 0) return Status::invalidArgument("the checkpoint timeout must be positive");
  if (checkpoints.minPause.count() < 0) return Status::invalidArgument("the minimum pause between checkpoints must not be negative");
  if (restart.maxAttempts < 0) return Status::invalidArgument("restart.maxAttempts must not be negative");
  if (restart.delay.count() < 0) return Status::invalidArgument("restart.delay must not be negative");
  if (restart.maxAttempts > 0 && checkpoints.stateDir.empty())
    return Status::invalidArgument("a restart policy restarts from checkpoints: it needs a state directory (--state-dir)");
  return Status::ok();
}


}  // namespace reka
