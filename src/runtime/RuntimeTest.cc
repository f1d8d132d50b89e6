#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <numeric>
#include <string>
#include <vector>

#include "reka/reka.h"

namespace reka {
namespace {

struct Collected {
  std::mutex mutex;
  std::vector<int64_t> values;
  void add(int64_t v) {
    std::lock_guard<std::mutex> lock(mutex);
    values.push_back(v);
  }
  std::vector<int64_t> sorted() {
    std::lock_guard<std::mutex> lock(mutex);
    auto v = values;
    std::sort(v.begin(), v.end());
    return v;
  }
};

TEST(RuntimeTest, MapFilterSinkDeliversEveryRecordOnce) {
  StreamEnvironment env;
  env.config().parallelism = 2;
  std::vector<int64_t> in(10000);
  std::iota(in.begin(), in.end(), 0);
  auto out = std::make_shared<Collected>();
  env.fromCollection("numbers", in)
      .rebalance()
      .map("times3", [](int64_t x) { return x * 3; })
      .filter("even", [](int64_t x) { return x % 2 == 0; })
      .sink("collect", [out](int64_t x) { out->add(x); });
  ASSERT_TRUE(env.execute().isOk());
  std::vector<int64_t> expected;
  for (int64_t x : in)
    if ((x * 3) % 2 == 0) expected.push_back(x * 3);
  EXPECT_EQ(out->sorted(), expected);
}

}  // namespace
}  // namespace reka
