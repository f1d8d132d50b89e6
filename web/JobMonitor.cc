#include "JobMonitor.h"

#include <algorithm>

namespace reka::web {

void JobMonitor::add(JobRegistration registration) {
  Job job;
  job.registration = std::move(registration);
  sample(job);
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string id = job.latest.jobId;
  jobs_[id] = std::move(job);
}

void JobMonitor::remove(const std::string& jobId) {
  std::shared_ptr<Gate> gate;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(jobId);
    if (it == jobs_.end() || !it->second.live) return;
    sample(it->second);  // its final figures
    it->second.live = false;
    gate = it->second.gate;
  }
  std::unique_lock<std::mutex> lock(gate->mutex);
  gate->closed = true;
  gate->cv.wait(lock, [&] { return gate->calls == 0; });
  std::lock_guard<std::mutex> jobsLock(mutex_);
  auto it = jobs_.find(jobId);
  if (it != jobs_.end()) it->second.registration.client = nullptr;
}

bool JobMonitor::callClient(const std::string& id, const std::function<void(JobClient&)>& f) {
  std::shared_ptr<Gate> gate;
  JobClient* client = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || !it->second.live || it->second.registration.client == nullptr) return false;
    gate = it->second.gate;
    client = it->second.registration.client;
  }
  {
    std::lock_guard<std::mutex> lock(gate->mutex);
    if (gate->closed) return false;
    ++gate->calls;
  }
  f(*client);
  {
    std::lock_guard<std::mutex> lock(gate->mutex);
    --gate->calls;
  }
  gate->cv.notify_all();
  return true;
}

void JobMonitor::sampleAll() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, job] : jobs_)
    if (job.live) sample(job);
}

void JobMonitor::sample(Job& job) {
  if (job.registration.client == nullptr) return;
  const auto now = std::chrono::steady_clock::now();
  JobMetrics m = job.registration.client->metrics();
  if (job.latestAt != std::chrono::steady_clock::time_point{}) {
    job.previous = std::move(job.latest);
    job.previousAt = job.latestAt;
    job.hasPrevious = true;
  }
  job.latest = std::move(m);
  job.latestAt = now;

  // Completed checkpoints not seen before go into the duration histogram.
  for (const CheckpointRecord& r : job.latest.checkpointHistory) {
    if (r.outcome != CheckpointRecord::Outcome::kCompleted || r.id <= job.lastObservedCheckpoint) continue;
    job.lastObservedCheckpoint = std::max(job.lastObservedCheckpoint, r.id);
    const double seconds = r.durationMs / 1000;
    size_t b = 0;
    while (b < std::size(kDurationBuckets) && seconds > kDurationBuckets[b]) ++b;
    ++job.durationBuckets[b];
    job.durationSum += seconds;
    ++job.durationCount;
  }

  if (!job.hasPrevious) return;
  const double secs = std::chrono::duration<double>(job.latestAt - job.previousAt).count();
  if (secs <= 0) return;
  HistoryPoint p;
  p.timeMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  p.recordsPerSecond = static_cast<double>(job.latest.sourceRecords - job.previous.sourceRecords) / secs;
  p.watermark = job.latest.watermark;
  for (size_t i = 0; i < job.latest.operators.size(); ++i) p.backpressured = std::max(p.backpressured, rates(job, i).backpressuredMsPerSecond / 1000);
  job.history.push_back(p);
  if (job.history.size() > kHistoryPoints) job.history.pop_front();
}

SubtaskRates JobMonitor::rates(const Job& job, size_t index) {
  SubtaskRates r;
  if (!job.hasPrevious || index >= job.latest.operators.size() || index >= job.previous.operators.size()) return r;
  const OperatorStats& a = job.previous.operators[index];
  const OperatorStats& b = job.latest.operators[index];
  if (a.node != b.node || a.subtask != b.subtask) return r;  // a restart changed the layout
  const double secs = std::chrono::duration<double>(job.latestAt - job.previousAt).count();
  if (secs <= 0) return r;
  r.recordsInPerSecond = std::max(0.0, static_cast<double>(b.recordsIn - a.recordsIn) / secs);
  r.recordsOutPerSecond = std::max(0.0, static_cast<double>(b.recordsOut - a.recordsOut) / secs);
  r.busyMsPerSecond = std::clamp((b.busyMs - a.busyMs) / secs, 0.0, 1000.0);
  r.backpressuredMsPerSecond = std::clamp((b.backpressuredMs - a.backpressuredMs) / secs, 0.0, 1000.0 - r.busyMsPerSecond);
  r.idleMsPerSecond = 1000.0 - r.busyMsPerSecond - r.backpressuredMsPerSecond;
  return r;
}

}  // namespace reka::web
