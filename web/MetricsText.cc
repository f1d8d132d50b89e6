#include "MetricsText.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>

#include "reka/web/RestServer.h"

namespace reka::web {

namespace {

/// A label value escaped as the exposition format asks (backslash, quote, newline).
std::string escapeLabel(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// Builds the text family by family: every sample of a metric follows its HELP and TYPE lines.
class Exposition {
 public:
  void family(const std::string& name, const char* type, const char* help) {
    current_ = &families_[name];
    if (current_->empty()) current_->append("# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n");
    name_ = name;
  }
  void sample(const std::string& labels, double value, const std::string& suffix = "") {
    current_->append(name_ + suffix + "{" + labels + "} " + number(value) + "\n");
  }
  std::string text() const {
    std::string out;
    for (const auto& name : order()) out += families_.at(name);
    return out;
  }

 private:
  std::vector<std::string> order() const {
    std::vector<std::string> names;
    for (const auto& [n, t] : families_) names.push_back(n);
    return names;
  }
  std::map<std::string, std::string> families_;
  std::string* current_ = nullptr;
  std::string name_;
};

std::string jobLabels(const JobMetrics& m) {
  return "job=\"" + escapeLabel(m.jobName) + "\",job_id=\"" + escapeLabel(m.jobId) + "\"";
}

std::string operatorLabels(const JobMetrics& m, const OperatorStats& op) {
  return jobLabels(m) + ",operator=\"" + escapeLabel(op.name) + "\",operator_id=\"" + std::to_string(op.node) +
         "\",subtask=\"" + std::to_string(op.subtask) + "\"";
}

void addJobMetrics(Exposition& e, const JobMetrics& m) {
  const std::string job = jobLabels(m);
  e.family("reka_job_state", "gauge", "1 for the job's current state (CREATED, RUNNING, RESTARTING, FINISHED, FAILED, CANCELED)");
  e.sample(job + ",state=\"" + jobStateName(m.state) + "\"", 1);
  e.family("reka_job_start_time_seconds", "gauge", "When the job started, seconds since the epoch");
  e.sample(job, static_cast<double>(m.startTimeMs) / 1000);
  e.family("reka_job_restarts_total", "counter", "Restarts after failures");
  e.sample(job, m.restarts);
  e.family("reka_job_source_records_total", "counter", "Records emitted by all sources");
  e.sample(job, static_cast<double>(m.sourceRecords));
  e.family("reka_job_exceptions_total", "counter", "Failures the job saw (kept: the last 100)");
  e.sample(job, static_cast<double>(m.exceptions.size()));

  e.family("reka_checkpoints_completed_total", "counter", "Checkpoints and savepoints completed by this run");
  e.sample(job, static_cast<double>(m.completedCheckpoints));
  e.family("reka_checkpoints_failed_total", "counter", "Checkpoints and savepoints that failed");
  e.sample(job, static_cast<double>(m.failedCheckpoints));
  e.family("reka_checkpoint_last_duration_seconds", "gauge", "The newest complete checkpoint: trigger to manifest written");
  e.sample(job, m.lastCheckpointMs / 1000);
  e.family("reka_checkpoint_last_size_bytes", "gauge", "Bytes written for the newest complete checkpoint");
  e.sample(job, static_cast<double>(m.lastCheckpointBytes));
  e.family("reka_checkpoint_last_sync_seconds", "gauge", "The longest time one task spent copying its state for the newest checkpoint");
  e.sample(job, m.lastCheckpointSyncMs / 1000);
  double alignment = 0;
  for (auto it = m.checkpointHistory.rbegin(); it != m.checkpointHistory.rend(); ++it) {
    if (it->outcome == CheckpointRecord::Outcome::kCompleted) {
      alignment = it->alignmentMs / 1000;
      break;
    }
  }
  e.family("reka_checkpoint_last_alignment_seconds", "gauge", "The longest barrier alignment of one task for the newest checkpoint");
  e.sample(job, alignment);

  for (const OperatorStats& op : m.operators) {
    const std::string l = operatorLabels(m, op);
    e.family("reka_operator_records_in_total", "counter", "Records an operator subtask received");
    e.sample(l, static_cast<double>(op.recordsIn));
    e.family("reka_operator_records_out_total", "counter", "Records an operator subtask emitted");
    e.sample(l, static_cast<double>(op.recordsOut));
    e.family("reka_operator_bytes_in_total", "counter", "Bytes a source read from outside (files, Kafka)");
    e.sample(l, static_cast<double>(op.bytesIn));
    e.family("reka_operator_bytes_out_total", "counter", "Bytes a sink wrote out");
    e.sample(l, static_cast<double>(op.bytesOut));
    e.family("reka_operator_late_records_total", "counter", "Records too late for their window or timer");
    e.sample(l, static_cast<double>(op.lateRecords));
    e.family("reka_operator_cep_discarded_partial_matches_total", "counter",
             "Partial matches a pattern operator discarded because a key held more than its limit");
    e.sample(l, static_cast<double>(op.discardedPartialMatches));
    if (!op.rules.empty() || op.ruleErrors > 0) {
      e.family("reka_cep_rule_errors_total", "counter", "Rule updates a rule operator subtask refused (the job kept the rules it had)");
      e.sample(l, static_cast<double>(op.ruleErrors));
      e.family("reka_cep_rules_active", "gauge", "Rules a rule operator subtask runs");
      int64_t running = 0;
      for (const RuleStats& r : op.rules) running += r.enabled && r.version > 0 ? 1 : 0;
      e.sample(l, static_cast<double>(running));
      for (const RuleStats& r : op.rules) {
        if (r.version <= 0 && r.matches == 0) continue;  // refused, never active
        const std::string rl = l + ",rule=\"" + escapeLabel(r.id) + "\",version=\"" + std::to_string(r.version) + "\"";
        e.family("reka_cep_rule_matches_total", "counter", "Matches of one version of a rule on an operator subtask");
        e.sample(rl, static_cast<double>(r.matches));
        e.family("reka_cep_rule_timeouts_total", "counter", "Partial matches of one version of a rule that timed out (within)");
        e.sample(rl, static_cast<double>(r.timedOut));
      }
    }
    e.family("reka_operator_dead_letters_total", "counter", "Records that could not be decoded (sent to the dead-letter output)");
    e.sample(l, static_cast<double>(op.deadLetters));
    if (op.stateBytes >= 0) {
      e.family("reka_operator_state_bytes", "gauge",
               "Bytes of an operator subtask's state in checkpoint storage: its last full snapshot and the deltas since");
      e.sample(l, static_cast<double>(op.stateBytes));
    }
    if (op.watermark != INT64_MIN) {
      e.family("reka_operator_output_watermark_seconds", "gauge", "The watermark an operator subtask has reached (seconds since the epoch)");
      e.sample(l, static_cast<double>(op.watermark) / 1000);
    }
    if (op.inputWatermark != INT64_MIN && op.inputWatermark != INT64_MAX) {
      e.family("reka_operator_input_watermark_seconds", "gauge", "The minimum watermark over a subtask's input channels (seconds since the epoch)");
      e.sample(l, static_cast<double>(op.inputWatermark) / 1000);
    }
    e.family("reka_operator_busy_seconds_total", "counter", "Time the subtask's task spent working");
    e.sample(l, op.busyMs / 1000);
    e.family("reka_operator_backpressured_seconds_total", "counter", "Time the subtask's task waited for room in a full output channel");
    e.sample(l, op.backpressuredMs / 1000);
    e.family("reka_operator_input_queue_usage", "gauge", "The fullest input channel, 0-1 of its capacity");
    e.sample(l, op.inputQueueUsage);
    e.family("reka_operator_output_queue_usage", "gauge", "The fullest output channel, 0-1 of its capacity");
    e.sample(l, op.outputQueueUsage);
    if (op.lag >= 0) {
      e.family("reka_source_lag_records", "gauge", "Records between a source's position and the end of its input (Kafka: high watermark minus position)");
      e.sample(l, static_cast<double>(op.lag));
    }
  }
}

}  // namespace

std::string prometheusText(const std::vector<JobMetrics>& jobs) {
  Exposition e;
  for (const JobMetrics& m : jobs) addJobMetrics(e, m);
  return e.text();
}

void appendMonitorMetrics(JobMonitor& monitor, std::string& out) {
  Exposition e;
  monitor.forEach([&](const JobMonitor::Job& job) {
    const JobMetrics& m = job.latest;
    for (size_t i = 0; i < m.operators.size(); ++i) {
      const SubtaskRates r = JobMonitor::rates(job, i);
      const std::string l = operatorLabels(m, m.operators[i]);
      e.family("reka_operator_busy_ratio", "gauge", "Share of the last sample interval the subtask was busy (Flink's busyTimeMsPerSecond / 1000)");
      e.sample(l, r.busyMsPerSecond / 1000);
      e.family("reka_operator_backpressured_ratio", "gauge", "Share of the last sample interval the subtask was backpressured");
      e.sample(l, r.backpressuredMsPerSecond / 1000);
      e.family("reka_operator_idle_ratio", "gauge", "Share of the last sample interval the subtask was idle");
      e.sample(l, r.idleMsPerSecond / 1000);
    }
    const std::string l = jobLabels(m);
    e.family("reka_checkpoint_duration_seconds", "histogram", "Durations of the completed checkpoints and savepoints");
    int64_t cumulative = 0;
    for (size_t b = 0; b < std::size(JobMonitor::kDurationBuckets); ++b) {
      cumulative += job.durationBuckets[b];
      e.sample(l + ",le=\"" + number(JobMonitor::kDurationBuckets[b]) + "\"", static_cast<double>(cumulative), "_bucket");
    }
    cumulative += job.durationBuckets.back();
    e.sample(l + ",le=\"+Inf\"", static_cast<double>(cumulative), "_bucket");
    e.sample(l, job.durationSum, "_sum");
    e.sample(l, static_cast<double>(job.durationCount), "_count");
  });
  out += e.text();
}

}  // namespace reka::web
