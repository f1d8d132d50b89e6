#pragma once

// Reka's one logger. Engine code logs through log(); the default sink writes lines to stderr
// through spdlog, as text or JSON; an embedder hands in its own sink (setLogSink) to route the
// lines into its logging.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "reka/base/Status.h"

namespace reka {

enum class LogLevel : uint8_t { kTrace, kDebug, kInfo, kWarn, kError, kOff };

/// "trace", "debug", "info", "warn", "error", "off".
const char* logLevelName(LogLevel level);
/// Parses a level name (as logLevelName, also "warning"); the error lists what is accepted.
Result<LogLevel> parseLogLevel(std::string_view name);

enum class LogFormat : uint8_t {
  kText,  ///< `2026-12-06T18:30:00.123Z INFO  message key=value …`
  kJson,  ///< one object per line: {"time":…,"level":…,"message":…, plus the fields}
};
Result<LogFormat> parseLogFormat(std::string_view name);

/// A key and value that give a line its context (job, job_id, checkpoint, operator, …).
struct LogField {
  std::string_view key;
  std::string value;
};

/// One log line, as a sink receives it (valid during the call only).
struct LogRecord {
  LogLevel level;
  int64_t timeMs;  ///< wall clock, epoch milliseconds
  std::string_view message;
  std::span<const LogField> fields;
};

using LogSink = std::function<void(const LogRecord&)>;

/// Replaces where lines go (thread-safe; the sink must be too). An empty sink restores the
/// default: spdlog on stderr, in the format of setLogFormat().
void setLogSink(LogSink sink);
/// Lines below `level` are dropped before they are formatted (default: info).
void setLogLevel(LogLevel level);
LogLevel logLevel();
/// The format of the default sink (default: text).
void setLogFormat(LogFormat format);

/// Whether a line of `level` would be written.
bool logEnabled(LogLevel level);
/// Writes one line. Thread-safe.
void log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
/// Formats a record as the default sink does (for sinks that write elsewhere, and tests).
std::string formatLogRecord(const LogRecord& record, LogFormat format);

}  // namespace reka
