#include "reka/base/Log.h"

#include "reka/base/Units.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <vector>

namespace reka {

namespace {

struct LoggerState {
  std::mutex mutex;
  LogSink sink;  // empty: the default
  std::shared_ptr<spdlog::logger> stderrLogger;
};

LoggerState& state() {
  static LoggerState* s = new LoggerState();  // never destroyed: logging works during exit
  return *s;
}

std::atomic<LogLevel> gLevel{LogLevel::kInfo};
std::atomic<LogFormat> gFormat{LogFormat::kText};

void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

/// A value is quoted in text lines when it has spaces or quotes, so that lines stay parseable.
void appendTextValue(std::string& out, std::string_view v) {
  if (!v.empty() && v.find_first_of(" \"=\t\n") == std::string_view::npos) {
    out += v;
    return;
  }
  appendJsonString(out, v);
}

}  // namespace

const char* logLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
    case LogLevel::kOff: return "off";
  }
  return "?";
}

Result<LogLevel> parseLogLevel(std::string_view name) {
  for (LogLevel l : {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError, LogLevel::kOff}) {
    if (name == logLevelName(l)) return l;
  }
  if (name == "warning") return LogLevel::kWarn;
  return Status::invalidArgument("log level '" + std::string(name) + "': expected trace, debug, info, warn, error or off");
}

Result<LogFormat> parseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return Status::invalidArgument("log format '" + std::string(name) + "': expected text or json");
}

void setLogSink(LogSink sink) {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().sink = std::move(sink);
}

void setLogLevel(LogLevel level) { gLevel.store(level, std::memory_order_relaxed); }
LogLevel logLevel() { return gLevel.load(std::memory_order_relaxed); }
void setLogFormat(LogFormat format) { gFormat.store(format, std::memory_order_relaxed); }

bool logEnabled(LogLevel level) { return level != LogLevel::kOff && level >= logLevel(); }

std::string formatLogRecord(const LogRecord& r, LogFormat format) {
  std::string out;
  out.reserve(128 + r.message.size());
  if (format == LogFormat::kJson) {
    out += "{\"time\":";
    appendJsonString(out, formatUtcMillis(r.timeMs));
    out += ",\"level\":";
    appendJsonString(out, logLevelName(r.level));
    out += ",\"message\":";
    appendJsonString(out, r.message);
    for (const LogField& f : r.fields) {
      out += ',';
      appendJsonString(out, f.key);
      out += ':';
      appendJsonString(out, f.value);
    }
    out += '}';
    return out;
  }
  out += formatUtcMillis(r.timeMs);
  out += ' ';
  std::string level = logLevelName(r.level);
  for (char& c : level) c = static_cast<char>(c - 'a' + 'A');
  level.resize(5, ' ');
  out += level;
  out += ' ';
  out += r.message;
  for (const LogField& f : r.fields) {
    out += ' ';
    out += f.key;
    out += '=';
    appendTextValue(out, f.value);
  }
  return out;
}

void log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  if (!logEnabled(level)) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  LogRecord record{level, now, message, std::span<const LogField>(fields.begin(), fields.size())};
  LoggerState& s = state();
  std::shared_ptr<spdlog::logger> logger;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.sink) {
      s.sink(record);
      return;
    }
    if (!s.stderrLogger) {
      // Our own logger object, not spdlog's registry, so that an embedder's spdlog setup and
      // ours do not collide by name.
      s.stderrLogger = std::make_shared<spdlog::logger>("reka", std::make_shared<spdlog::sinks::stderr_sink_mt>());
      s.stderrLogger->set_pattern("%v");
      s.stderrLogger->set_level(spdlog::level::trace);
      s.stderrLogger->flush_on(spdlog::level::trace);
    }
    logger = s.stderrLogger;
  }
  const std::string line = formatLogRecord(record, gFormat.load(std::memory_order_relaxed));
  logger->log(spdlog::level::info, "{}", line);
}

}  // namespace reka
