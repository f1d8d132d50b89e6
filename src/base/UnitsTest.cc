#include "reka/base/Units.h"

#include <gtest/gtest.h>

namespace reka {
namespace {

using std::chrono::milliseconds;

TEST(UnitsTest, ParsesDurationsWithEveryUnit) {
  EXPECT_EQ(parseDuration("0"), milliseconds(0));
  EXPECT_EQ(parseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(parseDuration("1s"), milliseconds(1000));
  EXPECT_EQ(parseDuration("2m"), milliseconds(120'000));
  EXPECT_EQ(parseDuration("2min"), milliseconds(120'000));
  EXPECT_EQ(parseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parseDuration("1d"), milliseconds(86'400'000));
  // Flink's spellings: a space and long names.
  EXPECT_EQ(parseDuration("1 min"), milliseconds(60'000));
  EXPECT_EQ(parseDuration("10 s"), milliseconds(10'000));
  EXPECT_EQ(parseDuration("2 hours"), milliseconds(7'200'000));
  EXPECT_EQ(parseDuration("500 milliseconds"), milliseconds(500));
  EXPECT_FALSE(parseDuration("1 fortnight").has_value());
}

TEST(UnitsTest, RefusesWhatIsNotADuration) {
  for (const char* bad : {"", "5", "s", "-1s", "+1s", "1.5s", " 1s", "1s ", "1 S", "1S", "0x10s", "1 s ", "0 ",
                          "9223372036854775807s", "99999999999999999999ms", "106751991167301d"}) {
    EXPECT_FALSE(parseDuration(bad).has_value()) << bad;
  }
  EXPECT_EQ(parseDuration("9223372036854775807ms"), milliseconds(9223372036854775807));
}

TEST(UnitsTest, ParsesAndRefusesByteSizes) {
  EXPECT_EQ(parseByteSize("0"), 0);
  EXPECT_EQ(parseByteSize("1048576"), 1 << 20);
  EXPECT_EQ(parseByteSize("64KiB"), 64 << 10);
  EXPECT_EQ(parseByteSize("64K"), 64 << 10);
  EXPECT_EQ(parseByteSize("1MiB"), 1 << 20);
  EXPECT_EQ(parseByteSize("2GB"), int64_t{2} << 30);
  EXPECT_EQ(parseByteSize("3TiB"), int64_t{3} << 40);
  EXPECT_EQ(parseByteSize("12B"), 12);
  EXPECT_EQ(parseByteSize("64m"), 64 << 20);  // any case, as Flink writes them
  EXPECT_EQ(parseByteSize("1gib"), int64_t{1} << 30);
  for (const char* bad : {"", "KiB", "-1", "1.5MiB", "1 MiB", "1mibs", "1PiB", "8388608TiB", "99999999999999999999"}) {
    EXPECT_FALSE(parseByteSize(bad).has_value()) << bad;
  }
}

TEST(UnitsTest, FormatsEpochMillisecondsAsUtc) {
  EXPECT_EQ(formatUtcMillis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatUtcMillis(1436918400123), "2015-07-15T00:00:00.123Z");
  EXPECT_EQ(formatUtcMillis(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(formatUtcMillis(INT64_MIN), "-");
  EXPECT_EQ(formatUtcMillis(INT64_MAX), "end");
}

TEST(UnitsTest, RandomHexHasTheLengthAndDiffers) {
  const std::string a = randomHex(16), b = randomHex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(randomHex(3).size(), 6u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos) << a;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace reka
