// An allocation failure aborted the process with exit 134 and no message. Inside an operator it
// now fails the job with ResourceExhausted, naming the operator and what ran out.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <new>
#include <vector>

#include "reka/reka.h"
#include "testing/JobTesting.h"

namespace reka {
namespace {

using ::testing::HasSubstr;

TEST(OutOfMemoryTest, AnAllocationFailureInAnOperatorFailsTheJobAndSaysWhere) {
  StreamEnvironment env(ExecutionConfig{});
  std::vector<int64_t> in(100);
  env.fromCollection("numbers", in)
      .map("greedy", [](const int64_t& v) -> int64_t { throw std::bad_alloc(); return v; })
      .sink("discard", [](const int64_t&) {});
  Status s = testing::runJob(env);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("operator 'greedy (1/1)' ran out of memory"));
  EXPECT_THAT(s.message(), HasSubstr("peak RSS"));
}

}  // namespace
}  // namespace reka
