#include "reka/base/Log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

namespace reka {
namespace {

using ::testing::HasSubstr;

TEST(LogTest, TextAndJsonLinesCarryTheFieldsEscaped) {
  const LogField fields[] = {{"job", "my \"job\""}, {"job_id", "abc123"}};
  LogRecord r{LogLevel::kWarn, 1436918400123, "checkpoint 7 failed:\ndisk full", fields};
  // 1436918400123 ms = 2015-07-15T00:00:00.123Z
  EXPECT_EQ(formatLogRecord(r, LogFormat::kText),
            "2015-07-15T00:00:00.123Z WARN  checkpoint 7 failed:\ndisk full job=\"my \\\"job\\\"\" job_id=abc123");
  const std::string json = formatLogRecord(r, LogFormat::kJson);
  EXPECT_EQ(json.find('\n'), std::string::npos) << "one line per record";
  nlohmann::json j = nlohmann::json::parse(json);
  EXPECT_EQ(j["time"], "2015-07-15T00:00:00.123Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["message"], "checkpoint 7 failed:\ndisk full");
  EXPECT_EQ(j["job"], "my \"job\"");
  EXPECT_EQ(j["job_id"], "abc123");
}

TEST(LogTest, AnEmbeddersSinkGetsTheLinesAtOrAboveTheLevel) {
  struct Seen {
    LogLevel level;
    std::string message;
    std::vector<std::pair<std::string, std::string>> fields;
  };
  std::mutex mutex;
  std::vector<Seen> seen;
  setLogSink([&](const LogRecord& r) {
    Seen s{r.level, std::string(r.message), {}};
    for (const LogField& f : r.fields) s.fields.emplace_back(std::string(f.key), f.value);
    std::lock_guard<std::mutex> lock(mutex);
    seen.push_back(std::move(s));
  });
  setLogLevel(LogLevel::kInfo);
  log(LogLevel::kDebug, "dropped");
  log(LogLevel::kInfo, "job running", {{"job", "q5"}});
  log(LogLevel::kError, "job failed");
  setLogLevel(LogLevel::kOff);
  log(LogLevel::kError, "dropped too");
  setLogLevel(LogLevel::kInfo);
  setLogSink(nullptr);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].message, "job running");
  EXPECT_EQ(seen[0].level, LogLevel::kInfo);
  EXPECT_EQ(seen[0].fields, (std::vector<std::pair<std::string, std::string>>{{"job", "q5"}}));
  EXPECT_EQ(seen[1].level, LogLevel::kError);
}

TEST(LogTest, LevelAndFormatNamesAndTheirErrors) {
  EXPECT_EQ(parseLogLevel("warning").value(), LogLevel::kWarn);
  EXPECT_EQ(parseLogLevel("debug").value(), LogLevel::kDebug);
  EXPECT_THAT(parseLogLevel("loud").status().message(), HasSubstr("expected trace, debug, info, warn, error or off"));
  EXPECT_EQ(parseLogFormat("json").value(), LogFormat::kJson);
  EXPECT_THAT(parseLogFormat("xml").status().message(), HasSubstr("expected text or json"));
}

}  // namespace
}  // namespace reka
