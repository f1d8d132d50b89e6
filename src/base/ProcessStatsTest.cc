#include "base/ProcessStats.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstddef>

namespace reka {
namespace {

TEST(ProcessStatsTest, FirstTouchesOfNewMemoryAreMinorFaults) {
  constexpr size_t kPages = 8192;  // 32 MiB of 4 KiB pages
  constexpr size_t kPage = 4096;
  const ProcessUsage before = processUsage();
  void* p = ::mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  // One fault per page: no transparent huge page may back the range.
  ASSERT_EQ(::madvise(p, kPages * kPage, MADV_NOHUGEPAGE), 0);
  auto* bytes = static_cast<volatile char*>(p);
  for (size_t i = 0; i < kPages; ++i) bytes[i * kPage] = 1;
  ASSERT_EQ(::munmap(p, kPages * kPage), 0);
  const ProcessUsage after = processUsage();
  EXPECT_GE(after.minorFaults - before.minorFaults, static_cast<int64_t>(kPages));
  EXPECT_GE(after.userSeconds, before.userSeconds);
  EXPECT_GE(after.systemSeconds, before.systemSeconds);
  // processCpuSeconds is user + system time, read later: never less than this reading's sum.
  EXPECT_GE(processCpuSeconds(), after.userSeconds + after.systemSeconds);
}

}  // namespace
}  // namespace reka
