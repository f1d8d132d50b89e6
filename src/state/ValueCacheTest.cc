// StoreKeyedTable's write-back cache of decoded values, over an in-memory KeyValueStore that
// counts its calls: random operations against a std::map reference model with caches from one
// entry to all of them, the budget's bound, what reaches the store and when.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "reka/state/StoreTable.h"

namespace reka {
namespace {

/// Byte keys to byte values in a std::map; counts reads and writes; can fail on demand.
class MapStore final : public KeyValueStore {
 public:
  explicit MapStore(std::shared_ptr<ValueCacheBudget> budget) : budget_(std::move(budget)) {}
  Result<bool> get(std::string_view key, std::string& value) override {
    ++gets;
    auto it = data.find(std::string(key));
    if (it == data.end()) return false;
    value = it->second;
    return true;
  }
  Status put(std::string_view key, std::string_view value) override {
    if (failWrites) return Status::ioError("disk full");
    ++puts;
    data[std::string(key)] = std::string(value);
    return Status::ok();
  }
  Status append(std::string_view key, std::string_view operand) override {
    ++appends;
    // Both are a u64 count followed by the elements: the result is their concatenation.
    auto& v = data[std::string(key)];
    uint64_t have = 0, add = 0;
    std::string_view in = operand;
    if (!Serde<uint64_t>::read(in, add)) return Status::corruption("bad operand");
    std::string_view old = v;
    if (!v.empty() && !Serde<uint64_t>::read(old, have)) return Status::corruption("bad value");
    std::string merged;
    Serde<uint64_t>::write(have + add, merged);
    merged.append(old);
    merged.append(in);
    v = merged;
    return Status::ok();
  }
  Status remove(std::string_view key) override {
    ++removes;
    data.erase(std::string(key));
    return Status::ok();
  }
  Status scan(std::string_view prefix, const std::function<bool(std::string_view, std::string_view)>& fn) override {
    for (auto it = data.lower_bound(std::string(prefix)); it != data.end() && it->first.rfind(prefix, 0) == 0; ++it)
      if (!fn(it->first, it->second)) break;
    return Status::ok();
  }
  Status removePrefix(std::string_view prefix) override {
    for (auto it = data.lower_bound(std::string(prefix)); it != data.end() && it->first.rfind(prefix, 0) == 0;) it = data.erase(it);
    return Status::ok();
  }
  uint64_t estimatedKeys() override { return data.size(); }
  uint64_t estimatedBytes() override { return 0; }
  std::shared_ptr<ValueCacheBudget> valueCache() override { return budget_; }

  std::map<std::string, std::string> data;
  int gets = 0, puts = 0, appends = 0, removes = 0;
  bool failWrites = false;

 private:
  std::shared_ptr<ValueCacheBudget> budget_;
};

using Table = StoreKeyedTable<int64_t, std::string>;
const KeyGroupRange kRange{0, 7};
KeyGroup groupOf(int64_t key) { return KeyGroup{static_cast<int32_t>(key % 8)}; }

/// What the store holds for `key` once decoded, or nullopt.
std::optional<std::string> storedValue(MapStore& store, int64_t key) {
  std::string k;
  const KeyGroup kg = groupOf(key);
  k.push_back(static_cast<char>((kg.value >> 8) & 0xff));
  k.push_back(static_cast<char>(kg.value & 0xff));
  Serde<int64_t>::write(key, k);
  auto it = store.data.find(k);
  if (it == store.data.end()) return std::nullopt;
  std::string_view in = it->second;
  std::string v;
  EXPECT_TRUE(Serde<std::string>::read(in, v) && in.empty());
  return v;
}

/// Random reads, writes, updates and erasures of 300 keys against a std::map; after every
/// flush the store equals the model, and the cache never holds more than its share (plus the
/// entry being read).
void runAgainstModel(int64_t budgetBytes, uint32_t seed) {
  auto budget = budgetBytes > 0 ? std::make_shared<ValueCacheBudget>(budgetBytes) : nullptr;
  MapStore store(budget);
  Table table(&store, kRange);
  std::map<int64_t, std::string> model;
  std::mt19937 rng(seed);
  const int64_t largestEntry = 300;  // overhead, key and a value of up to 41 bytes
  for (int step = 0; step < 20000; ++step) {
    // Skewed keys: a third of the operations on 10 hot keys.
    const int64_t key = rng() % 3 == 0 ? static_cast<int64_t>(rng() % 10) : static_cast<int64_t>(rng() % 300);
    const KeyGroup kg = groupOf(key);
    const std::string value(static_cast<size_t>(rng() % 40), static_cast<char>('a' + rng() % 26));
    switch (rng() % 6) {
      case 0: {
        const std::string* v = table.find(kg, key);
        auto it = model.find(key);
        ASSERT_EQ(v != nullptr, it != model.end()) << "key " << key << " step " << step;
        if (v != nullptr) EXPECT_EQ(*v, it->second);
        break;
      }
      case 1:
        table.getOrCreate(kg, key, [] { return std::string(); }) = value;
        model[key] = value;
        break;
      case 2:
        table.update(kg, key, [] { return std::string("new"); }, [&](std::string& v) {
          if (v.size() > 30) return false;  // no change: nothing to write back
          v += "+";
          return true;
        });
        if (auto& m = model.emplace(key, "new").first->second; m.size() <= 30) m += "+";
        break;
      case 3:
        EXPECT_EQ(table.erase(kg, key), model.erase(key) == 1);
        break;
      case 4:
        if (std::string* v = table.findMutable(kg, key)) {
          v->append("!");
          model.at(key).append("!");
        } else {
          EXPECT_EQ(model.count(key), 0u);
        }
        break;
      default:
        EXPECT_EQ(table.contains(kg, key), model.count(key) == 1);
        break;
    }
    const auto stats = table.cacheStats();
    if (budget) EXPECT_LE(stats.bytes, budgetBytes + largestEntry) << "step " << step;
    else EXPECT_LE(stats.entries, 1u);
    if (step % 2500 == 2499) {
      table.flush();
      ASSERT_EQ(store.data.size(), model.size()) << "step " << step;
      for (const auto& [k, v] : model) EXPECT_EQ(storedValue(store, k), v) << "key " << k;
    }
  }
}

TEST(ValueCacheTest, ReadsAndWritesMatchAModelWithEveryCacheSize) {
  for (int64_t bytes : {int64_t{0}, int64_t{1}, int64_t{2000}, int64_t{20000}, int64_t{1} << 20}) {
    SCOPED_TRACE("budget " + std::to_string(bytes));
    runAgainstModel(bytes, static_cast<uint32_t>(bytes + 7));
  }
}

TEST(ValueCacheTest, HotKeysAreReadOnceAndWrittenBackOnlyWhenEvictedOrFlushed) {
  auto budget = std::make_shared<ValueCacheBudget>(1 << 20);
  MapStore store(budget);
  Table table(&store, kRange);
  for (int round = 0; round < 100; ++round)
    for (int64_t key = 0; key < 10; ++key) table.getOrCreate(groupOf(key), key, [] { return std::string(); }) += "x";
  // One read per key (each was absent), no write until the flush.
  EXPECT_EQ(store.gets, 10);
  EXPECT_EQ(store.puts, 0);
  EXPECT_EQ(table.cacheStats().hits, 990u);
  EXPECT_EQ(table.cacheStats().misses, 10u);
  table.flush();
  EXPECT_EQ(store.puts, 10);
  EXPECT_EQ(storedValue(store, 3), std::string(100, 'x'));
  // A flush keeps the entries: reading them again costs no read, and clean ones no write.
  EXPECT_EQ(*table.find(groupOf(3), int64_t{3}), std::string(100, 'x'));
  table.flush();
  EXPECT_EQ(store.gets, 10);
  EXPECT_EQ(store.puts, 10);
  // A key created and erased before it was ever written costs the store nothing.
  table.getOrCreate(groupOf(50), int64_t{50}, [] { return std::string("tmp"); });
  EXPECT_TRUE(table.erase(groupOf(50), int64_t{50}));
  table.flush();
  EXPECT_EQ(store.removes, 0);
  EXPECT_EQ(store.puts, 10);
  // Erasing a stored key removes it at the flush.
  EXPECT_TRUE(table.erase(groupOf(3), int64_t{3}));
  table.flush();
  EXPECT_EQ(store.removes, 1);
  EXPECT_EQ(storedValue(store, 3), std::nullopt);
}

TEST(ValueCacheTest, TheBudgetIsSharedByTheTablesThatUseIt) {
  auto budget = std::make_shared<ValueCacheBudget>(100000);
  MapStore a(budget), b(budget);
  auto first = std::make_unique<Table>(&a, kRange);
  EXPECT_EQ(budget->share(), 100000);
  {
    Table second(&b, kRange);
    EXPECT_EQ(budget->share(), 50000);
    for (int64_t key = 0; key < 5000; ++key) {
      first->getOrCreate(groupOf(key), key, [] { return std::string(50, 'v'); });
      second.getOrCreate(groupOf(key), key, [] { return std::string(50, 'w'); });
    }
    EXPECT_LE(first->cacheStats().bytes, 50000 + 400);
    EXPECT_LE(second.cacheStats().bytes, 50000 + 400);
    EXPECT_GT(first->cacheStats().entries, 100u);  // the share holds many entries of this size
    // Evicted entries were written back, the rest are written at the flush.
    first->flush();
    second.flush();
    EXPECT_EQ(a.data.size(), 5000u);
    EXPECT_EQ(b.data.size(), 5000u);
    EXPECT_EQ(storedValue(b, 4321), std::string(50, 'w'));
  }
  EXPECT_EQ(budget->share(), 100000);
}

TEST(ValueCacheTest, AppendsGoIntoACachedListOrBlindlyIntoTheStore) {
  using Lists = StoreKeyedTable<int64_t, std::vector<int64_t>>;
  auto budget = std::make_shared<ValueCacheBudget>(1 << 20);
  MapStore store(budget);
  Lists lists(&store, kRange);
  // Not cached: a merge, no read.
  lists.append(groupOf(1), int64_t{1}, int64_t{10});
  lists.append(groupOf(1), int64_t{1}, int64_t{11});
  EXPECT_EQ(store.appends, 2);
  EXPECT_EQ(store.gets, 0);
  // Read once (the merged value), then appended to in memory.
  ASSERT_NE(lists.find(groupOf(1), int64_t{1}), nullptr);
  EXPECT_EQ(*lists.find(groupOf(1), int64_t{1}), (std::vector<int64_t>{10, 11}));
  lists.append(groupOf(1), int64_t{1}, int64_t{12});
  EXPECT_EQ(store.appends, 2);
  EXPECT_EQ(*lists.find(groupOf(1), int64_t{1}), (std::vector<int64_t>{10, 11, 12}));
  lists.flush();
  std::string full;
  ASSERT_TRUE(lists.snapshotKeyGroup(groupOf(1), full).isOk());
  KeyedTable<int64_t, std::vector<int64_t>> heap(kRange);
  ASSERT_TRUE(heap.restoreKeyGroup(groupOf(1), full).isOk());
  ASSERT_NE(heap.mapOf(groupOf(1)).find(int64_t{1}), nullptr);
  EXPECT_EQ(*heap.mapOf(groupOf(1)).find(int64_t{1}), (std::vector<int64_t>{10, 11, 12}));
}

TEST(ValueCacheTest, AFailedWriteBackIsReportedAndARestoreStartsFromTheStore) {
  auto budget = std::make_shared<ValueCacheBudget>(1 << 20);
  MapStore store(budget);
  Table table(&store, kRange);
  table.getOrCreate(groupOf(5), int64_t{5}, [] { return std::string("five"); });
  store.failWrites = true;
  const Status s = table.flushToStore();
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("disk full"), std::string::npos) << s.toString();
  store.failWrites = false;
  // A key group restored from a snapshot replaces what the cache held.
  Table other(&store, kRange);
  std::string bytes;
  Serde<uint64_t>::write(1, bytes);
  Serde<int64_t>::write(5, bytes);
  Serde<std::string>::write("restored", bytes);
  ASSERT_TRUE(table.restoreKeyGroup(groupOf(5), bytes).isOk());
  EXPECT_EQ(*table.find(groupOf(5), int64_t{5}), "restored");
  EXPECT_EQ(storedValue(store, 5), "restored");
}

}  // namespace
}  // namespace reka
