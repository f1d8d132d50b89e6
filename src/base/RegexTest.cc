#include "base/Regex.h"

#include <gtest/gtest.h>

#include <random>
#include <regex>

namespace reka {
namespace {

// Patterns whose meaning is the same in RE2 and in std::regex (ECMAScript), the independent
// reference below: literals, alternations, classes, groups, quantifiers, anchors.
const std::vector<std::string> kPatterns = {
    "(&|^)channel_id=([^&]*)", "abc", "a(bc|de)f", "(foo|bar)+baz", "x*", "^id=([0-9]+)$", "[a-c]{2,3}def",
    "(ab)?cde", "q(u|v)ery=1", "(abc|xyz)", "abc.*xyz", "hello|world", "A[Bb]C",
};

// Texts made of pieces that hit and miss the patterns' literals, in both cases.
std::string randomText(std::mt19937& rng) {
  static const std::vector<std::string> pieces = {"channel_id=", "CHANNEL_ID=", "channel", "_id=", "&", "42", "abc", "ABC", "de", "f",
                                                  "foo", "bar", "baz", "x", "id=", "7", "cde", "ab", "query=1", "quvery", "xyz",
                                                  "hello", "WORLD", "world", "aBC", "q", "u", "=", "/", "item.htm?", "bcdef"};
  if (rng() % 8 == 0) return "id=" + std::to_string(rng() % 1000);  // whole texts for the anchored pattern
  std::string s;
  const int n = static_cast<int>(rng() % 8);
  for (int i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
  return s;
}

TEST(RegexTest, ThePrefilterNeverRefusesATextThatMatches) {
  std::mt19937 rng(11);
  for (const auto& pattern : kPatterns) {
    auto re = Regex::compile(pattern);
    ASSERT_TRUE(re.isOk()) << pattern;
    const std::regex reference(pattern);
    int matches = 0, refused = 0;
    for (int i = 0; i < 3000; ++i) {
      const std::string text = randomText(rng);
      const bool expected = std::regex_search(text, reference);
      matches += expected ? 1 : 0;
      if (!(*re)->mayMatch(text)) {
        ++refused;
        EXPECT_FALSE(expected) << pattern << " refused '" << text << "', which matches";
      }
      EXPECT_EQ((*re)->search(text), expected) << pattern << " on '" << text << "'";
    }
    EXPECT_GT(matches, 0) << pattern;  // the texts exercise both outcomes
  }
}

TEST(RegexTest, ThePrefilterRefusesTextsWithoutTheRequiredLiteral) {
  auto re = Regex::compile("(&|^)channel_id=([^&]*)");
  ASSERT_TRUE(re.isOk());
  EXPECT_FALSE((*re)->mayMatch("https://www.nexmark.com/a/b/c/item.htm?query=1"));
  EXPECT_TRUE((*re)->mayMatch("https://www.nexmark.com/a/b/c/item.htm?query=1&channel_id=7"));
  // Case is folded by the filter (a filter is only ever conservative); RE2 then decides.
  EXPECT_TRUE((*re)->mayMatch("x&CHANNEL_ID=7"));
  EXPECT_FALSE((*re)->search("x&CHANNEL_ID=7"));
  // A pattern with no literal to require lets every text through.
  auto any = Regex::compile("[0-9]+");
  ASSERT_TRUE(any.isOk());
  EXPECT_TRUE((*any)->mayMatch("no digits here"));
}

TEST(RegexTest, ExtractGroupGivesWhatSearchGroupsGives) {
  std::mt19937 rng(5);
  for (const auto& pattern : kPatterns) {
    auto re = Regex::compile(pattern);
    ASSERT_TRUE(re.isOk()) << pattern;
    for (int i = 0; i < 500; ++i) {
      const std::string text = randomText(rng);
      const auto groups = (*re)->searchGroups(text);
      for (int g = 0; g <= 3; ++g) {
        const auto got = (*re)->extractGroup(text, g);
        const std::optional<std::string_view> want = static_cast<size_t>(g) < groups.size() ? groups[static_cast<size_t>(g)] : std::nullopt;
        EXPECT_EQ(got, want) << pattern << " group " << g << " on '" << text << "'";
      }
    }
  }
  auto re = Regex::compile("(&|^)channel_id=([^&]*)");
  ASSERT_TRUE(re.isOk());
  EXPECT_EQ((*re)->extractGroup("query=1&channel_id=42&x=1", 2), std::optional<std::string_view>("42"));
  EXPECT_EQ((*re)->extractGroup("channel_id=9", 1), std::optional<std::string_view>(""));
  EXPECT_EQ((*re)->extractGroup("channel_id=9", 3), std::nullopt);  // no such group
  EXPECT_EQ((*re)->extractGroup("channel_id=9", -1), std::nullopt);
}

}  // namespace
}  // namespace reka
