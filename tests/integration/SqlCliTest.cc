// `reka run FILE.sql` and `reka explain FILE.sql`: a script's INSERTs as one job from the
// command line. Expected rows are written out by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "NexmarkTestKit.h"

#ifndef REKA_CLI_PATH
#error "REKA_CLI_PATH must name the reka binary"
#endif

namespace reka::nexmark::it {
namespace {

using ::testing::HasSubstr;

std::string script(const ScratchDir& dir, const std::string& where) {
  return "SET 'parallelism.default' = '1';\n"
         "CREATE TABLE readings (sensor STRING, celsius DOUBLE, at TIMESTAMP(3)) WITH (\n"
         "  'connector' = 'filesystem', 'path' = '" + dir.file("in.json") + "', 'format' = 'json');\n"
         "CREATE TABLE alerts (sensor STRING, fahrenheit DOUBLE, at TIMESTAMP(3)) WITH ('connector' = 'print');\n"
         "INSERT INTO alerts SELECT UPPER(sensor), celsius * 9 / 5 + 32, at FROM readings " + where + ";\n";
}

TEST(SqlCliTest, RunPrintsTheRowsOfTheInsert) {
  ScratchDir dir;
  std::ofstream(dir.file("in.json")) << R"({"sensor":"a","celsius":20,"at":"2026-12-06 08:00:00"})" "\n"
                                        R"({"sensor":"b","celsius":35.5,"at":"2026-12-06 08:00:01"})" "\n"
                                        R"({"sensor":"c","celsius":"hot","at":"2026-12-06 08:00:02"})" "\n";
  std::ofstream(dir.file("job.sql")) << script(dir, "WHERE celsius > 30");
  int calls = 0;
  CommandResult r = runCommand(REKA_CLI_PATH, "run '" + dir.file("job.sql") + "'", dir, calls);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  // 35.5 °C = 95.9 °F; "hot" is a bad record (dead letters on stderr), not a row.
  EXPECT_EQ(r.out, "+I[B, 95.9, 2026-12-06 08:00:01.000]\n");
  EXPECT_THAT(r.err, HasSubstr("line 3"));
  EXPECT_THAT(r.err, HasSubstr("celsius"));

  r = runCommand(REKA_CLI_PATH, "explain '" + dir.file("job.sql") + "'", dir, calls);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Sink: alerts [connector=print]"));
  EXPECT_THAT(r.out, HasSubstr("where=[(celsius > 30)]"));
  EXPECT_THAT(r.out, HasSubstr("Source: readings [connector=filesystem, format=json"));
}

TEST(SqlCliTest, MistakesGetPositionsAndWhatIsAccepted) {
  ScratchDir dir;
  int calls = 0;
  std::ofstream(dir.file("bad.sql")) << script(dir, "WHERE celsus > 30");
  CommandResult r = runCommand(REKA_CLI_PATH, "run '" + dir.file("bad.sql") + "'", dir, calls);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("column 'celsus' not found; the columns are sensor, celsius, at (at line 5"));

  std::ofstream(dir.file("set.sql")) << "SET 'paralelism.default' = '2';\n" << script(dir, "");
  r = runCommand(REKA_CLI_PATH, "run '" + dir.file("set.sql") + "'", dir, calls);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown setting 'paralelism.default'; accepted: parallelism.default"));

  r = runCommand(REKA_CLI_PATH, "run '" + dir.file("missing.sql") + "'", dir, calls);
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot read"));
}

}  // namespace
}  // namespace reka::nexmark::it
