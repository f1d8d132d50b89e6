// Who needs the REST token. Network tests bind only 127.0.0.1, so the rule for servers reachable
// beyond loopback is checked here, on the decision itself.
#include <gtest/gtest.h>

#include "RestAuth.h"

namespace reka::web {
namespace {

TEST(RestAuthTest, LoopbackAddresses) {
  for (const char* a : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "localhost"})
    EXPECT_TRUE(isLoopbackAddress(a)) << a;
  for (const char* a : {"0.0.0.0", "::", "192.168.1.20", "10.0.0.7", "fe80::1",
                        "::ffff:192.168.1.20", "128.0.0.1", "example.org", ""})
    EXPECT_FALSE(isLoopbackAddress(a)) << a;
}

TEST(RestAuthTest, OnLoopbackOnlyCallsThatChangeAJobNeedTheToken) {
  for (const char* a : {"127.0.0.1", "::1", "localhost"}) {
    EXPECT_FALSE(tokenRequired(a, "GET")) << a;
    EXPECT_FALSE(tokenRequired(a, "HEAD")) << a;
    for (const char* m : {"POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
      EXPECT_TRUE(tokenRequired(a, m)) << a << " " << m;
  }
}

TEST(RestAuthTest, BeyondLoopbackEveryCallNeedsTheToken) {
  for (const char* a : {"0.0.0.0", "::", "192.168.1.20", "2001:db8::5"})
    for (const char* m : {"GET", "HEAD", "POST", "DELETE"})
      EXPECT_TRUE(tokenRequired(a, m)) << a << " " << m;
}

TEST(RestAuthTest, TokensCompareWhole) {
  EXPECT_TRUE(sameToken("secret-token", "secret-token"));
  EXPECT_FALSE(sameToken("secret-token", "secret-tokem"));
  EXPECT_FALSE(sameToken("secret-token", "secret-token2"));
  EXPECT_FALSE(sameToken("secret-token", ""));
}

}  // namespace
}  // namespace reka::web
