#pragma once

#include <string>

#include "JobMonitor.h"

namespace reka::web {

/// Appends what only the monitor knows: per-second busy, backpressured and idle time per
/// operator subtask (Flink's busyTimeMsPerSecond …) and the checkpoint duration histogram.
void appendMonitorMetrics(JobMonitor& monitor, std::string& out);

}  // namespace reka::web
