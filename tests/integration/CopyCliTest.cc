// `reka copy` and `reka connectors`: tables through the connector registry from the command
// line. Expected rows are written out by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "NexmarkTestKit.h"
#include "testing/JobTesting.h"

#ifndef REKA_CLI_PATH
#error "REKA_CLI_PATH must name the reka binary"
#endif

namespace reka::nexmark::it {
namespace {

using ::testing::HasSubstr;

using reka::testing::linesUnder;

TEST(CopyCliTest, CsvFileToJsonFilesWithDeadLetters) {
  ScratchDir dir;
  std::ofstream(dir.file("in.csv")) << "1,alice,2.5,2026-12-06 08:00:00\n"
                                       "2,bob,two,2026-12-06 08:00:01\n"
                                       "3,\"c, d\",4,2026-12-06T08:00:02Z\n";
  int calls = 0;
  const std::string args = "copy --schema 'id BIGINT, name STRING, price DECIMAL(10, 2), ts TIMESTAMP(3)' --parallelism 1"
                           " --from connector=filesystem --from path='" + dir.file("in.csv") + "' --from format=csv" +
                           " --from source.dead-letter='" + dir.file("bad.jsonl") + "'" +
                           " --to connector=filesystem --to path='" + dir.file("out") + "' --to format=json";
  CommandResult r = runCommand(REKA_CLI_PATH, args, dir, calls);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("2 rows read"));
  EXPECT_EQ(linesUnder(dir.file("out")),
            (std::vector<std::string>{R"({"id":1,"name":"alice","price":2.50,"ts":"2026-12-06 08:00:00.000"})",
                                      R"({"id":3,"name":"c, d","price":4.00,"ts":"2026-12-06 08:00:02.000"})"}));
  std::ifstream bad(dir.file("bad.jsonl"));
  std::stringstream text;
  text << bad.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("\"line\":2"));
  EXPECT_THAT(text.str(), HasSubstr("'two' is not a decimal number"));
}

TEST(CopyCliTest, MistakesSayWhatIsAccepted) {
  ScratchDir dir;
  int calls = 0;
  CommandResult r = runCommand(REKA_CLI_PATH, "copy --schema 'id BIGINT' --from connector=filesystem --from pth=x --to connector=print",
                               dir, calls);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("does not accept option 'pth'; accepted: connector, path, format"));
  r = runCommand(REKA_CLI_PATH, "copy --schema 'id BIGINT' --from connector --to connector=print", dir, calls);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("'connector' is not KEY=VALUE"));
  r = runCommand(REKA_CLI_PATH, "copy --schema 'id BIGNT' --from connector=filesystem --to connector=print", dir, calls);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown type 'BIGNT'"));
  r = runCommand(REKA_CLI_PATH, "copy --schema 'id BIGINT' --from connector=filesystem --from path=x --from format=csv --to connector=kafka2",
                 dir, calls);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown connector 'kafka2'; registered connectors: filesystem, kafka, upsert-kafka, datagen, print, blackhole"));
}

TEST(CopyCliTest, ConnectorsListsConnectorsFormatsAndOptions) {
  ScratchDir dir;
  int calls = 0;
  CommandResult r = runCommand(REKA_CLI_PATH, "connectors", dir, calls);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  for (const char* expected : {"filesystem:", "kafka:", "upsert-kafka:", "print:", "blackhole:", "json:", "csv:", "raw:",
                               "debezium-json:", "scan.startup.mode", "field-delimiter"})
    EXPECT_THAT(r.out, HasSubstr(expected));
}

}  // namespace
}  // namespace reka::nexmark::it
