#pragma once

#include <nlohmann/json.hpp>

#include "reka/api/Environment.h"

namespace reka::web {

/// The watermarks of every operator subtask (input, output, per input channel) and, for each
/// subtask with a pending event-time timer (a window that has not fired), why: how far its
/// input watermark is behind the timer, and the chain of input channels and upstream subtasks,
/// down to a source subtask, that holds the minimum back. GET /jobs/{id}/watermarks.
nlohmann::json watermarkReport(const JobMetrics& m);

}  // namespace reka::web
