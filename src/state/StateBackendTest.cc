#include <absl/container/flat_hash_map.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/state/KeyGroup.h"
#include "reka/state/KeyedState.h"
#include "reka/state/Serde.h"
#include "reka/state/StateBackend.h"

namespace reka {
namespace {

using ::testing::HasSubstr;
using Snapshot = std::map<std::string, std::map<int32_t, std::string>>;

// ---------------------------------------------------------------------------------------------
// Key groups

TEST(KeyGroupTest, RangesCoverEveryKeyGroupExactlyOnceAndSubtaskForIsTheInverse) {
  for (int maxParallelism : {1, 2, 3, 7, 10, 128, 1000}) {
    for (int parallelism = 1; parallelism <= maxParallelism; ++parallelism) {
      SCOPED_TRACE("maxParallelism " + std::to_string(maxParallelism) + ", parallelism " +
                   std::to_string(parallelism));
      int32_t next = 0;
      int32_t minSize = INT32_MAX;
      int32_t maxSize = 0;
      for (int s = 0; s < parallelism; ++s) {
        KeyGroupRange r = keyGroupRangeFor(maxParallelism, parallelism, s);
        ASSERT_EQ(r.first, next) << "subtask " << s;
        ASSERT_GE(r.size(), 1) << "subtask " << s;
        for (int32_t kg = r.first; kg <= r.last; ++kg) {
          ASSERT_TRUE(r.contains(KeyGroup{kg}));
          ASSERT_EQ(subtaskFor(KeyGroup{kg}, maxParallelism, parallelism), s) << "key group " << kg;
        }
        ASSERT_FALSE(r.contains(KeyGroup{r.first - 1}));
        ASSERT_FALSE(r.contains(KeyGroup{r.last + 1}));
        minSize = std::min(minSize, r.size());
        maxSize = std::max(maxSize, r.size());
        next = r.last + 1;
      }
      ASSERT_EQ(next, maxParallelism);
      ASSERT_LE(maxSize - minSize, 1) << "ranges of near-equal size";
    }
  }
}

TEST(KeyGroupTest, RangesMatchHandComputedExamples) {
  auto ranges = [](int maxParallelism, int parallelism) {
    std::vector<std::pair<int32_t, int32_t>> out;
    for (int s = 0; s < parallelism; ++s) {
      KeyGroupRange r = keyGroupRangeFor(maxParallelism, parallelism, s);
      out.emplace_back(r.first, r.last);
    }
    return out;
  };
  using Ranges = std::vector<std::pair<int32_t, int32_t>>;
  // Flink's assignment: subtask s starts at ceil(s * max / p).
  EXPECT_EQ(ranges(128, 3), (Ranges{{0, 42}, {43, 85}, {86, 127}}));
  EXPECT_EQ(ranges(7, 5), (Ranges{{0, 1}, {2, 2}, {3, 4}, {5, 5}, {6, 6}}));
  EXPECT_EQ(ranges(10, 4), (Ranges{{0, 2}, {3, 4}, {5, 7}, {8, 9}}));
  EXPECT_EQ(ranges(1, 1), (Ranges{{0, 0}}));
}

TEST(KeyGroupTest, KeyHashIsStableForKnownInputs) {
  // Pinned once: changing any of these moves state between key groups and breaks every
  // existing checkpoint. Integers use MurmurHash3's 64-bit finaliser; strings use XXH3-64.
  EXPECT_EQ(hashKey<int64_t>(0), 0x0000000000000000ULL);
  EXPECT_EQ(hashKey<int64_t>(1), 0xb456bcfc34c2cb2cULL);
  EXPECT_EQ(hashKey<int64_t>(42), 0x810879608e4259ccULL);
  EXPECT_EQ(hashKey<int64_t>(-1), 0x64b5720b4b825f21ULL);
  EXPECT_EQ(hashKey<int64_t>(1000000007), 0x4a435ae8ea251144ULL);
  EXPECT_EQ(hashKey(std::string("")),
            0x2d06800538d394c2ULL);  // XXH3_64bits of no bytes (published)
  EXPECT_EQ(hashKey(std::string("a")), 0xe6c632b61e964e1fULL);
  EXPECT_EQ(hashKey(std::string("reka")), 0x8c71539505cb96a8ULL);
  EXPECT_EQ(hashKey(std::string("user42")), 0x9fdc8e44c5b9267cULL);
  EXPECT_EQ(hashKey(std::pair<int64_t, std::string>(1, "a")), 0xf1dff6e717a89a68ULL);

  EXPECT_EQ(keyGroupFor(hashKey<int64_t>(1), 128).value, 44);
  EXPECT_EQ(keyGroupFor(hashKey<int64_t>(42), 128).value, 76);
  EXPECT_EQ(keyGroupFor(hashKey(std::string("user42")), 128).value, 124);
}

TEST(KeyGroupTest, EqualKeysHashEquallyAcrossRepresentations) {
  // Records may be keyed by a view while state stores an owned string: both must agree.
  for (const char* s : {"", "x", "some longer key with spaces", "\xff\x00z"}) {
    EXPECT_EQ(hashKey(std::string_view(s)), hashKey(std::string(s))) << s;
  }
  for (int64_t v : {0, 1, 7, 12345, -5}) {
    EXPECT_EQ(hashKey(static_cast<int32_t>(v)), hashKey(v)) << v;
    EXPECT_EQ(hashKey(static_cast<int16_t>(v)), hashKey(v)) << v;
  }
  // Hashes spread: 12800 consecutive integer keys give every one of 128 key groups between half
  // and twice its fair share (100; a uniform hash stays within about 3 standard deviations, 30).
  std::map<int32_t, int> perGroup;
  for (int64_t k = 0; k < 12800; ++k) ++perGroup[keyGroupFor(hashKey(k), 128).value];
  ASSERT_EQ(perGroup.size(), 128u);
  for (const auto& [kg, n] : perGroup) {
    EXPECT_GE(n, 50) << "key group " << kg;
    EXPECT_LE(n, 200) << "key group " << kg;
  }
}

// ---------------------------------------------------------------------------------------------
// HeapStateBackend

constexpr int kMaxParallelism = 128;

KeyGroupRange rangeOf(int parallelism, int subtask) {
  return keyGroupRangeFor(kMaxParallelism, parallelism, subtask);
}

TEST(HeapStateBackendTest, TablesAreCreatedOnceAndTypeMismatchIsAnError) {
  HeapStateBackend backend(rangeOf(1, 0), kMaxParallelism);
  auto a = backend.keyedTable<int64_t, int64_t>("op/count");
  ASSERT_TRUE(a.isOk());
  auto again = backend.keyedTable<int64_t, int64_t>("op/count");
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(*a, *again);

  auto mismatch = backend.keyedTable<int64_t, std::string>("op/count");
  ASSERT_FALSE(mismatch.isOk());
  EXPECT_EQ(mismatch.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatch.status().message(), HasSubstr("op/count"));
  auto otherKey = backend.keyedTable<std::string, int64_t>("op/count");
  EXPECT_FALSE(otherKey.isOk());

  ASSERT_TRUE((backend.keyedTable<std::string, int64_t>("op/b").isOk()));
  ASSERT_TRUE((backend.keyedTable<std::string, int64_t>("op/a").isOk()));
  EXPECT_EQ(backend.tableNames(), (std::vector<std::string>{"op/a", "op/b", "op/count"}));
  EXPECT_EQ(backend.findTable("op/count"), *a);
  EXPECT_EQ(backend.findTable("op/missing"), nullptr);
}

/// Writes state through the keyed state API, as an operator does: sets the key context, then
/// uses the state handle.
template <class K>
struct KeyedWriter {
  KeyContext<K> ctx;
  K key{};
  void at(const K& k, int maxParallelism = kMaxParallelism) {
    key = k;
    ctx.key = &key;
    ctx.keyGroup = keyGroupFor(hashKey(key), maxParallelism);
  }
};

TEST(HeapStateBackendTest, KeyedStateKindsReadBackWhatWasWritten) {
  HeapStateBackend backend(rangeOf(1, 0), kMaxParallelism);
  // Keyed by views, as when a key function returns a view into the record: state stores the
  // key owned and is looked up with the view.
  KeyedWriter<std::string_view> w;
  KeyedStateRegistry<std::string_view> reg(&backend, &w.ctx, "op/");
  auto value = reg.valueState<int64_t>("v");
  auto list = reg.listState<std::string>("l");
  auto map = reg.mapState<std::string, int64_t>("m");
  auto sum = reg.reducingState<int64_t>("r", [](int64_t a, int64_t b) { return a + b; });
  struct CountAgg {
    int64_t createAccumulator() const { return 0; }
    void add(const std::string&, int64_t& acc) const { ++acc; }
    int64_t getResult(const int64_t& acc) const { return acc * 10; }
  };
  auto agg = reg.aggregatingState<std::string>("a", CountAgg{});
  ASSERT_TRUE(reg.status().isOk());

  w.at("alice");
  EXPECT_EQ(value.get(), nullptr);
  EXPECT_FALSE(value.contains());
  EXPECT_EQ(sum.get(), nullptr);
  EXPECT_EQ(agg.get(), 0);  // the result of an empty accumulator
  value.update(5);
  list.add("x");
  list.add("y");
  map.put("k1", 1);
  map.put("k2", 2);
  map.put("k1", 11);
  EXPECT_EQ(sum.add(3), 3);
  EXPECT_EQ(sum.add(4), 7);
  agg.add("p");
  agg.add("q");

  w.at("bob");
  EXPECT_EQ(value.get(), nullptr);
  value.getOrCreate() += 2;
  list.add("z");
  EXPECT_FALSE(map.remove("k1"));
  EXPECT_EQ(sum.add(100), 100);

  w.at("alice");
  ASSERT_NE(value.get(), nullptr);
  EXPECT_EQ(*value.get(), 5);
  EXPECT_EQ(list.get(), (std::vector<std::string>{"x", "y"}));
  ASSERT_NE(map.get("k1"), nullptr);
  EXPECT_EQ(*map.get("k1"), 11);
  EXPECT_EQ(map.entries().size(), 2u);
  EXPECT_TRUE(map.remove("k2"));
  EXPECT_EQ(map.get("k2"), nullptr);
  EXPECT_EQ(*sum.get(), 7);
  EXPECT_EQ(agg.get(), 20);
  value.clear();
  EXPECT_FALSE(value.contains());
  EXPECT_TRUE(list.contains());

  w.at("bob");
  EXPECT_EQ(*value.get(), 2);
  EXPECT_EQ(list.get(), (std::vector<std::string>{"z"}));
  EXPECT_EQ(*sum.get(), 100);
  EXPECT_EQ(agg.get(), 0);

  // The key is stored owned: state written through a view outlives the viewed buffer.
  {
    std::string temporary = "carol";
    w.at(std::string_view(temporary));
    value.update(9);
  }
  std::string again = "carol";
  w.at(std::string_view(again));
  ASSERT_NE(value.get(), nullptr);
  EXPECT_EQ(*value.get(), 9);
  EXPECT_EQ(backend.findTable("op/v")->keyCount(), 2u);  // alice was cleared: bob, carol
}

/// Puts state for keys 0..n-1 into whichever of `backends` owns the key's key group, through the
/// state API: a value, a list and a map per key.
struct ThreeTables {
  explicit ThreeTables(StateBackend* backend)
      : registry(backend, &writer.ctx, "op/"),
        names(registry.valueState<std::string>("names")),
        lists(registry.listState<int64_t>("lists")),
        maps(registry.mapState<std::string, int64_t>("maps")) {}
  KeyedWriter<int64_t> writer;
  KeyedStateRegistry<int64_t> registry;
  ValueState<int64_t, std::string> names;
  ListState<int64_t, int64_t> lists;
  MapState<int64_t, std::string, int64_t> maps;
};

std::string nameFor(int64_t k) {
  return "name-" + std::to_string(k * 7);
}
std::vector<int64_t> listFor(int64_t k) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < k % 4; ++i) v.push_back(k * 100 + i);
  return v;
}
std::map<std::string, int64_t> mapFor(int64_t k) {
  std::map<std::string, int64_t> m;
  for (int64_t i = 0; i < k % 3 + 1; ++i) m["f" + std::to_string(i)] = k - i;
  return m;
}

void fill(ThreeTables& t, int64_t key) {
  t.writer.at(key);
  t.names.update(nameFor(key));
  for (int64_t v : listFor(key)) t.lists.add(v);
  if (listFor(key).empty()) t.lists.get();  // an existing but empty list must survive too
  for (const auto& [f, v] : mapFor(key)) t.maps.put(f, v);
}

/// Whether `t` holds exactly key's expected state.
::testing::AssertionResult holds(ThreeTables& t, int64_t key) {
  t.writer.at(key);
  if (t.names.get() == nullptr || *t.names.get() != nameFor(key))
    return ::testing::AssertionFailure() << "key " << key << ": wrong or missing value";
  if (!t.lists.contains() || t.lists.get() != listFor(key))
    return ::testing::AssertionFailure() << "key " << key << ": wrong or missing list";
  if (!t.maps.contains()) return ::testing::AssertionFailure() << "key " << key << ": missing map";
  std::map<std::string, int64_t> m(t.maps.entries().begin(), t.maps.entries().end());
  if (m != mapFor(key)) return ::testing::AssertionFailure() << "key " << key << ": wrong map";
  return ::testing::AssertionSuccess();
}

size_t keyCount(StateBackend& b, const std::string& table) {
  return b.findTable(table)->keyCount();
}

TEST(HeapStateBackendTest, SnapshotRestoreRoundTripOfValueListAndMapTables) {
  constexpr int64_t kKeys = 500;
  HeapStateBackend source(rangeOf(1, 0), kMaxParallelism);
  ThreeTables src(&source);
  ASSERT_TRUE(src.registry.status().isOk());
  for (int64_t k = 0; k < kKeys; ++k) fill(src, k);

  auto snapshot = source.snapshotKeyed();
  ASSERT_TRUE(snapshot.isOk()) << snapshot.status().toString();
  ASSERT_EQ(snapshot->size(), 3u);
  for (const auto& [name, groups] : *snapshot)
    EXPECT_EQ(groups.size(), static_cast<size_t>(kMaxParallelism)) << name;

  HeapStateBackend target(rangeOf(1, 0), kMaxParallelism);
  ThreeTables dst(&target);
  // State already there is replaced by the snapshot's, key group by key group.
  dst.writer.at(kKeys + 5);
  dst.names.update("stale");
  ASSERT_TRUE(target.restoreKeyed(*snapshot).isOk());
  for (int64_t k = 0; k < kKeys; ++k) ASSERT_TRUE(holds(dst, k));
  for (const char* t : {"op/names", "op/lists", "op/maps"})
    EXPECT_EQ(keyCount(target, t), static_cast<size_t>(kKeys)) << t;
}

TEST(HeapStateBackendTest, KeyedTableOfStringsRoundTripsDirectly) {
  KeyedTable<int64_t, std::string> table(rangeOf(1, 0));
  std::map<int64_t, std::string> reference;
  for (int64_t k = -50; k < 300; ++k) {
    std::string v(static_cast<size_t>(k < 0 ? -k : k % 17), static_cast<char>('a' + (k & 15)));
    KeyGroup kg = keyGroupFor(hashKey(k), kMaxParallelism);
    table.mapOf(kg).put(k, v);
    reference[k] = v;
  }
  KeyedTable<int64_t, std::string> restored(rangeOf(1, 0));
  for (int32_t kg = 0; kg < kMaxParallelism; ++kg) {
    std::string bytes;
    ASSERT_TRUE(table.snapshotKeyGroup(KeyGroup{kg}, bytes).isOk());
    ASSERT_TRUE(restored.restoreKeyGroup(KeyGroup{kg}, bytes).isOk());
  }
  std::map<int64_t, std::string> actual;
  for (int32_t kg = 0; kg < kMaxParallelism; ++kg) {
    for (const auto& [k, v] : restored.mapOf(KeyGroup{kg})) {
      EXPECT_EQ(keyGroupFor(hashKey(k), kMaxParallelism).value, kg) << "key " << k;
      actual[k] = v;
    }
  }
  EXPECT_EQ(actual, reference);
}

TEST(HeapStateBackendTest, RestoreAtHigherParallelismRedistributesByKeyGroup) {
  constexpr int64_t kKeys = 1000;
  // Parallelism 2: each key's state lives in the backend that owns its key group.
  std::vector<std::unique_ptr<HeapStateBackend>> old;
  std::vector<std::unique_ptr<ThreeTables>> oldTables;
  for (int s = 0; s < 2; ++s) {
    old.push_back(std::make_unique<HeapStateBackend>(rangeOf(2, s), kMaxParallelism));
    oldTables.push_back(std::make_unique<ThreeTables>(old.back().get()));
  }
  for (int64_t k = 0; k < kKeys; ++k) {
    int owner = old[0]->keyGroups().contains(keyGroupFor(hashKey(k), kMaxParallelism)) ? 0 : 1;
    fill(*oldTables[static_cast<size_t>(owner)], k);
  }
  // The checkpoint: the union of both subtasks' snapshots (their key groups are disjoint).
  Snapshot merged;
  for (auto& b : old) {
    auto snap = b->snapshotKeyed();
    ASSERT_TRUE(snap.isOk());
    for (auto& [name, groups] : *snap) {
      for (auto& [kg, bytes] : groups) {
        ASSERT_TRUE(merged[name].emplace(kg, bytes).second)
            << "key group " << kg << " in two snapshots";
      }
    }
  }
  for (const auto& [name, groups] : merged)
    EXPECT_EQ(groups.size(), static_cast<size_t>(kMaxParallelism)) << name;

  // Parallelism 3: every backend restores from the whole checkpoint and keeps its own groups.
  std::vector<std::unique_ptr<HeapStateBackend>> fresh;
  std::vector<std::unique_ptr<ThreeTables>> freshTables;
  for (int s = 0; s < 3; ++s) {
    fresh.push_back(std::make_unique<HeapStateBackend>(rangeOf(3, s), kMaxParallelism));
    freshTables.push_back(std::make_unique<ThreeTables>(fresh.back().get()));
    ASSERT_TRUE(fresh.back()->restoreKeyed(merged).isOk());
  }
  for (const char* t : {"op/names", "op/lists", "op/maps"}) {
    size_t total = 0;
    for (auto& b : fresh) total += keyCount(*b, t);
    EXPECT_EQ(total, static_cast<size_t>(kKeys)) << t << ": every key exactly once";
  }
  for (int64_t k = 0; k < kKeys; ++k) {
    KeyGroup kg = keyGroupFor(hashKey(k), kMaxParallelism);
    for (int s = 0; s < 3; ++s) {
      bool owns = fresh[static_cast<size_t>(s)]->keyGroups().contains(kg);
      ASSERT_EQ(owns, subtaskFor(kg, kMaxParallelism, 3) == s);
      if (owns) {
        ASSERT_TRUE(holds(*freshTables[static_cast<size_t>(s)], k)) << "subtask " << s;
      }
    }
  }
}

TEST(HeapStateBackendTest, RestoreOfUnregisteredStateFails) {
  HeapStateBackend source(rangeOf(1, 0), kMaxParallelism);
  ThreeTables src(&source);
  fill(src, 1);
  auto snap = source.snapshotKeyed();
  ASSERT_TRUE(snap.isOk());
  HeapStateBackend target(rangeOf(1, 0), kMaxParallelism);
  Status s = target.restoreKeyed(*snap);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.toString();
  EXPECT_THAT(s.message(), HasSubstr("op/"));
}

TEST(HeapStateBackendTest, KeyGroupOutsideTheRangeIsRejected) {
  KeyedTable<int64_t, int64_t> table(rangeOf(2, 1));  // [64, 127]
  std::string bytes;
  ASSERT_TRUE(table.snapshotKeyGroup(KeyGroup{64}, bytes).isOk());
  EXPECT_EQ(table.restoreKeyGroup(KeyGroup{3}, bytes).code(), StatusCode::kInvalidArgument);
}

struct NoSerde {
  int x = 0;
};

TEST(HeapStateBackendTest, StateWithoutSerdeCannotBeSnapshotted) {
  HeapStateBackend backend(rangeOf(1, 0), kMaxParallelism);
  ASSERT_TRUE((backend.keyedTable<int64_t, NoSerde>("op/opaque").isOk()));
  auto snap = backend.snapshotKeyed();
  ASSERT_FALSE(snap.isOk());
  EXPECT_EQ(snap.status().code(), StatusCode::kNotSupported);
}

/// A snapshot of key groups with data in them, and one key group that has several entries.
struct CorruptionFixture {
  HeapStateBackend source{rangeOf(1, 0), kMaxParallelism};
  ThreeTables src{&source};
  Snapshot snapshot;
  int32_t richGroup = -1;  // a key group of "op/maps" with the most bytes

  CorruptionFixture() {
    for (int64_t k = 0; k < 300; ++k) fill(src, k);
    auto snap = source.snapshotKeyed();
    if (snap.isOk()) snapshot = *snap;
    size_t most = 0;
    for (const auto& [kg, bytes] : snapshot["op/maps"]) {
      if (bytes.size() > most) {
        most = bytes.size();
        richGroup = kg;
      }
    }
  }
  Status restoreWith(const std::string& table, const std::string& bytes) {
    Snapshot s = snapshot;
    s[table][richGroup] = bytes;
    HeapStateBackend target(rangeOf(1, 0), kMaxParallelism);
    ThreeTables dst(&target);
    return target.restoreKeyed(s);
  }
};

TEST(HeapStateBackendTest, TruncatedSnapshotIsCorruption) {
  CorruptionFixture f;
  ASSERT_GE(f.richGroup, 0);
  for (const char* table : {"op/names", "op/lists", "op/maps"}) {
    SCOPED_TRACE(table);
    const std::string full = f.snapshot[table][f.richGroup];
    ASSERT_TRUE(f.restoreWith(table, full).isOk());
    for (size_t n = 0; n < full.size(); ++n) {
      Status s = f.restoreWith(table, full.substr(0, n));
      ASSERT_EQ(s.code(), StatusCode::kCorruption)
          << "prefix of " << n << " of " << full.size() << " bytes: " << s.toString();
    }
  }
}

TEST(HeapStateBackendTest, ImplausibleLengthIsCorruption) {
  CorruptionFixture f;
  std::string bytes = f.snapshot["op/lists"][f.richGroup];
  ASSERT_GE(bytes.size(), 8u);
  // The leading entry count claims far more entries than there are bytes.
  const uint64_t huge = uint64_t{1} << 60;
  std::memcpy(bytes.data(), &huge, sizeof huge);
  Status s = f.restoreWith("op/lists", bytes);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.toString();
}

TEST(HeapStateBackendTest, TrailingBytesAreCorruption) {
  // A key group's bytes hold exactly one serialised map; anything after it means the snapshot
  // does not match the state it is restored into.
  CorruptionFixture f;
  for (const char* table : {"op/names", "op/lists", "op/maps"}) {
    SCOPED_TRACE(table);
    Status s =
        f.restoreWith(table, f.snapshot[table][f.richGroup] + std::string("\x01\x02\x03", 3));
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.toString();
  }
}

// ---------------------------------------------------------------------------------------------
// Serde

template <class T>
std::string encode(const T& v) {
  std::string out;
  Serde<T>::write(v, out);
  return out;
}

/// v survives write + read, the read consumes exactly what was written, and every strict
/// prefix of the encoding is refused.
template <class T>
void expectRoundTrip(const T& v) {
  const std::string bytes = encode(v);
  std::string_view in = bytes;
  T out{};
  ASSERT_TRUE(Serde<T>::read(in, out));
  EXPECT_TRUE(in.empty()) << in.size() << " bytes left over";
  EXPECT_TRUE(out == v);
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string_view prefix(bytes.data(), n);
    T partial{};
    EXPECT_FALSE(Serde<T>::read(prefix, partial))
        << "a prefix of " << n << " of " << bytes.size() << " bytes was accepted";
  }
}

enum class Colour : uint8_t { kRed = 1, kGreen = 2, kBlue = 200 };

TEST(SerdeTest, ScalarsRoundTrip) {
  expectRoundTrip<int8_t>(-7);
  expectRoundTrip<int32_t>(INT32_MIN);
  expectRoundTrip<int64_t>(INT64_MAX);
  expectRoundTrip<uint64_t>(0xfedcba9876543210ULL);
  expectRoundTrip<double>(-1234.5625);
  expectRoundTrip<bool>(true);
  expectRoundTrip<Colour>(Colour::kBlue);
}

TEST(SerdeTest, ContainersRoundTrip) {
  expectRoundTrip(std::string());
  expectRoundTrip(std::string("with\0nul", 8));
  expectRoundTrip(std::string(1000, 'x'));
  expectRoundTrip(std::pair<int64_t, std::string>(-3, "three"));
  expectRoundTrip(std::optional<std::string>());
  expectRoundTrip(std::optional<std::string>("present"));
  expectRoundTrip(std::vector<int64_t>{});
  expectRoundTrip(std::vector<std::string>{"a", "", "ccc"});
  expectRoundTrip(std::vector<std::vector<int32_t>>{{1, 2}, {}, {3}});
  absl::flat_hash_map<std::string, std::vector<int64_t>> m;
  m["one"] = {1};
  m["none"] = {};
  m["many"] = {1, 2, 3, 4, 5};
  expectRoundTrip(m);
  expectRoundTrip(absl::flat_hash_map<int64_t, std::optional<std::pair<int32_t, std::string>>>{
      {1, std::nullopt}, {2, std::make_pair(7, std::string("seven"))}});
}

TEST(SerdeTest, LayoutIsLengthPrefixedLittleEndian) {
  // Pinned: snapshots written today must be readable tomorrow.
  EXPECT_EQ(encode(std::string("abc")), std::string("\x03\0\0\0\0\0\0\0abc", 11));
  EXPECT_EQ(encode<int32_t>(0x01020304), std::string("\x04\x03\x02\x01", 4));
  EXPECT_EQ(encode(std::optional<int16_t>()), std::string("\0", 1));
  EXPECT_EQ(encode(std::optional<int16_t>(5)), std::string("\x01\x05\x00", 3));
  EXPECT_EQ(encode(std::vector<uint8_t>{9, 8}), std::string("\x02\0\0\0\0\0\0\0\x09\x08", 10));
}

TEST(SerdeTest, ReadsSeveralValuesFromOneBuffer) {
  std::string bytes;
  Serde<int64_t>::write(42, bytes);
  Serde<std::string>::write("mid", bytes);
  Serde<int16_t>::write(-2, bytes);
  std::string_view in = bytes;
  int64_t a = 0;
  std::string b;
  int16_t c = 0;
  ASSERT_TRUE(Serde<int64_t>::read(in, a));
  ASSERT_TRUE(Serde<std::string>::read(in, b));
  ASSERT_TRUE(Serde<int16_t>::read(in, c));
  EXPECT_EQ(a, 42);
  EXPECT_EQ(b, "mid");
  EXPECT_EQ(c, -2);
  EXPECT_TRUE(in.empty());
}

}  // namespace
}  // namespace reka
