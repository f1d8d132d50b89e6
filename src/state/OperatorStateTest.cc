#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "reka/state/StateBackend.h"

namespace reka {
namespace {

TEST(OperatorStateTest, ListStateIsRedistributedRoundRobinOnRestore) {
  // Two old subtasks hold offsets {0..4} and {100..102}.
  std::vector<std::map<std::string, std::vector<std::string>>> old;
  for (int s = 0; s < 2; ++s) {
    HeapStateBackend backend(keyGroupRangeFor(128, 2, s), 128);
    auto list = backend.operatorListState<int64_t>("offsets");
    ASSERT_TRUE(list.isOk());
    if (s == 0) {
      for (int64_t v = 0; v < 5; ++v) (*list)->push_back(v);
    } else {
      for (int64_t v = 100; v < 103; ++v) (*list)->push_back(v);
    }
    auto snap = backend.snapshotOperatorLists();
    ASSERT_TRUE(snap.isOk());
    old.push_back(*snap);
  }
  // Restored at parallelism 3: element j of the concatenation [0,1,2,3,4,100,101,102] goes to j mod 3.
  const std::vector<std::vector<int64_t>> expected = {{0, 3, 101}, {1, 4, 102}, {2, 100}};
  for (int s = 0; s < 3; ++s) {
    HeapStateBackend backend(keyGroupRangeFor(128, 3, s), 128);
    auto list = backend.operatorListState<int64_t>("offsets");
    ASSERT_TRUE(list.isOk());
    ASSERT_TRUE(backend.restoreOperatorLists(old, s, 3).isOk());
    EXPECT_EQ(**list, expected[static_cast<size_t>(s)]) << "subtask " << s;
  }
}

/// Union lists give every new subtask every element; broadcast maps give every new subtask one
/// old subtask's copy (all copies are the same), at a higher and at a lower parallelism.
TEST(OperatorStateTest, UnionListsAndBroadcastMapsOnRestore) {
  const std::map<std::string, int64_t> rules = {{"large", 1000}, {"small", 5}, {"travel", 900}};
  std::vector<std::map<std::string, std::vector<std::string>>> old;
  for (int s = 0; s < 2; ++s) {
    HeapStateBackend backend(keyGroupRangeFor(128, 2, s), 128);
    auto splits = backend.unionListState<std::string>("splits");
    auto map = backend.broadcastMapState<std::string, int64_t>("rules");
    ASSERT_TRUE(splits.isOk() && map.isOk());
    (*splits)->push_back("split-" + std::to_string(s));
    **map = rules;
    auto snap = backend.snapshotOperatorLists();
    ASSERT_TRUE(snap.isOk());
    old.push_back(*snap);
  }
  for (int parallelism : {3, 1}) {
    for (int s = 0; s < parallelism; ++s) {
      HeapStateBackend backend(keyGroupRangeFor(128, parallelism, s), 128);
      auto splits = backend.unionListState<std::string>("splits");
      auto map = backend.broadcastMapState<std::string, int64_t>("rules");
      ASSERT_TRUE(splits.isOk() && map.isOk());
      (*map)->emplace("stale", 1);  // replaced by the restore
      ASSERT_TRUE(backend.restoreOperatorLists(old, s, parallelism).isOk());
      EXPECT_EQ(**splits, (std::vector<std::string>{"split-0", "split-1"})) << parallelism << " " << s;
      EXPECT_EQ(**map, rules) << parallelism << " " << s;
    }
  }
  // A name registered as a broadcast map is not a list, and the other way round.
  HeapStateBackend backend(keyGroupRangeFor(128, 1, 0), 128);
  ASSERT_TRUE((backend.broadcastMapState<std::string, int64_t>("rules").isOk()));
  EXPECT_FALSE(backend.operatorListState<std::string>("rules").isOk());
  EXPECT_FALSE((backend.broadcastMapState<std::string, std::string>("rules").isOk()));
  ASSERT_TRUE(backend.operatorListState<int64_t>("offsets").isOk());
  EXPECT_FALSE((backend.broadcastMapState<std::string, int64_t>("offsets").isOk()));
  // A broadcast entry that does not read back is corruption.
  std::vector<std::map<std::string, std::vector<std::string>>> bad = {{{"rules", {"x"}}}};
  EXPECT_EQ(backend.restoreOperatorLists(bad, 0, 1).code(), StatusCode::kCorruption);
}

TEST(OperatorStateTest, TypeMismatchAndUnregisteredStateAreErrors) {
  HeapStateBackend backend(keyGroupRangeFor(128, 1, 0), 128);
  ASSERT_TRUE(backend.operatorListState<int64_t>("a").isOk());
  auto wrong = backend.operatorListState<std::string>("a");
  ASSERT_FALSE(wrong.isOk());
  EXPECT_NE(wrong.status().message().find("'a'"), std::string::npos);

  HeapStateBackend fresh(keyGroupRangeFor(128, 1, 0), 128);
  std::vector<std::map<std::string, std::vector<std::string>>> old = {{{"b", {std::string(8, '\0')}}}};
  Status s = fresh.restoreOperatorLists(old, 0, 1);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
}

TEST(OperatorStateTest, CorruptElementIsRejected) {
  HeapStateBackend backend(keyGroupRangeFor(128, 1, 0), 128);
  ASSERT_TRUE(backend.operatorListState<int64_t>("a").isOk());
  std::vector<std::map<std::string, std::vector<std::string>>> old = {{{"a", {"abc"}}}};  // 3 bytes, not 8
  EXPECT_EQ(backend.restoreOperatorLists(old, 0, 1).code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace reka
