#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "reka/reka.h"

namespace reka {
namespace {

// Keys extracted as views into the record are stored owned; lookups take the view directly.
TEST(StringKeyTest, StateKeyedByStringViewCountsPerKey) {
  StreamEnvironment env;
  env.config().parallelism = 3;
  std::vector<std::string> words;
  std::map<std::string, int64_t> expected;
  for (int i = 0; i < 3000; ++i) {
    std::string w = "w" + std::to_string((i * 7) % 113);
    words.push_back(w);
    ++expected[w];
  }
  struct Count {
    ValueState<std::string_view, int64_t> count;
    void open(KeyedStateRegistry<std::string_view>& r) { count = r.valueState<int64_t>("count"); }
    void processElement(const std::string& w, KeyedContext<std::string_view, std::pair<std::string, int64_t>>& ctx) {
      ctx.emit({w, ++count.getOrCreate()});
    }
  };
  std::mutex mutex;
  std::map<std::string, int64_t> last;
  env.fromCollection("words", words)
      .keyBy([](const std::string& w) { return std::string_view(w); })
      .process<std::pair<std::string, int64_t>>("count", Count{})
      .sink("collect", [&](const std::pair<std::string, int64_t>& p) {
        std::lock_guard<std::mutex> lock(mutex);
        EXPECT_EQ(p.second, last[p.first] + 1) << p.first;  // one subtask per key, in order
        last[p.first] = p.second;
      });
  ASSERT_TRUE(env.execute().isOk());
  EXPECT_EQ(last, expected);
}

}  // namespace
}  // namespace reka
