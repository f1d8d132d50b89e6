// The checks the integration tests rely on must themselves be able to fail: the flat JSON
// reader refuses what is not one flat, valid object, and ChangelogTable flags malformed changelogs.
#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <string>

#include "NexmarkTestKit.h"

namespace reka::nexmark::it {
namespace {

std::optional<FlatRow> readQuietly(const std::string& line) {
  std::string error;
  return detail::FlatRowReader(line).read(error);
}

TEST(FlatRowReaderTest, KeepsNumberTextAndUnescapesStrings) {
  auto row = readQuietly(R"( {"a":1,"b":-0.500,"c":"x\"y\\z\/\n\u00e9\ud83d\ude00","d":null,"e":true,"f":1e-3} )");
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(*row, (FlatRow{{"a", "1"},
                           {"b", "-0.500"},
                           {"c", "\"x\"y\\z/\n\xC3\xA9\xF0\x9F\x98\x80"},
                           {"d", "null"},
                           {"e", "true"},
                           {"f", "1e-3"}}));
  EXPECT_EQ(readQuietly("{}"), FlatRow{});
  EXPECT_EQ(readQuietly("{\"u\":\"\xC3\xA9\"}"), (FlatRow{{"u", "\"\xC3\xA9"}}));
}

TEST(FlatRowReaderTest, AgreesWithNlohmann) {
  const std::string line = R"({"op":"+U","auction":1000,"avg_price":12.5,"url":"https:\/\/x\/a?b=1&c=\u0041","n":null})";
  EXPECT_EQ(readQuietly(line), parseFlatRowWithNlohmann(line));
}

TEST(FlatRowReaderTest, RefusesWhatIsNotOneFlatValidObject) {
  for (const std::string bad : {
           "", "[]", "{", "{\"a\":1", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}",
           "{\"a\":-}", "{\"a\":1e}", "{\"a\":+1}", "{\"a\":NaN}", "{\"a\":nul}", "{\"a\":{}}", "{\"a\":[1]}",
           "{\"a\":1} x", "{\"a\":1}{}", "{\"a\":\"tab\there\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
           "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800x\"}", "{\"a\":\"unterminated}", "{\"a\":\"\xFF\"}",
           "{\"a\":\"\xC0\xAF\"}", "{\"a\":\"\xED\xA0\x80\"}", "{\"a\":\"\xE2\x82\"}",
       }) {
    EXPECT_FALSE(readQuietly(bad).has_value()) << bad;
  }
}

TEST(ChangelogTableTest, AppliesAWellFormedChangelog) {
  ChangelogTable t;
  t.apply("+I", {"k"}, {"k", "1"});
  t.apply("-U", {"k"}, {"k", "1"});
  t.apply("+U", {"k"}, {"k", "2"});
  t.apply("+I", {"j"}, {"j", "5"});
  t.apply("-D", {"j"}, {"j", "5"});
  t.finish();
  EXPECT_THAT(t.errors(), ::testing::IsEmpty());
  EXPECT_EQ(t.rows(), (std::map<ChangelogTable::Key, Row>{{{"k"}, {"k", "2"}}}));
}

TEST(ChangelogTableTest, FlagsMalformedChangelogs) {
  struct Case {
    const char* name;
    std::vector<std::pair<std::string, Row>> ops;  // op, row (key = row[0])
  };
  const Case cases[] = {
      {"insert twice", {{"+I", {"k", "1"}}, {"+I", {"k", "2"}}}},
      {"retract absent", {{"-U", {"k", "1"}}}},
      {"retract a different row", {{"+I", {"k", "1"}}, {"-U", {"k", "2"}}, {"+U", {"k", "3"}}}},
      {"update without retraction", {{"+I", {"k", "1"}}, {"+U", {"k", "2"}}}},
      {"update of an absent key", {{"+U", {"k", "2"}}}},
      {"retraction never updated", {{"+I", {"k", "1"}}, {"-U", {"k", "1"}}}},
      {"insert after retraction", {{"+I", {"k", "1"}}, {"-U", {"k", "1"}}, {"+I", {"k", "2"}}}},
      {"delete a different row", {{"+I", {"k", "1"}}, {"-D", {"k", "2"}}}},
      {"unknown op", {{"+X", {"k", "1"}}}},
  };
  for (const Case& c : cases) {
    ChangelogTable t;
    for (const auto& [op, row] : c.ops) t.apply(op, {row[0]}, row);
    t.finish();
    EXPECT_THAT(t.errors(), ::testing::Not(::testing::IsEmpty())) << c.name;
  }
}

TEST(ExpectSameRowsTest, FailsOnAnyDifferenceInTheMultiset) {
  EXPECT_NONFATAL_FAILURE(expectSameRows({{"a"}, {"b"}}, {{"a"}}, "extra"), "1 unexpected");
  EXPECT_NONFATAL_FAILURE(expectSameRows({{"a"}}, {{"a"}, {"a"}}, "duplicate"), "1 missing");
  EXPECT_NONFATAL_FAILURE(expectSameRows({{"a", "1"}}, {{"a", "2"}}, "value"), "1 missing, 1 unexpected");
}

}  // namespace
}  // namespace reka::nexmark::it
