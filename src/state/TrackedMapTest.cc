#include <absl/container/flat_hash_map.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/state/KeyGroup.h"
#include "reka/state/KeyedState.h"
#include "reka/state/Serde.h"
#include "reka/state/StateBackend.h"
#include "reka/state/TrackedMap.h"

namespace reka {
namespace {

// Expectations here come from a std::map reference model and from decoders written against
// the formats documented in TrackedMap.h, not from TrackedMap's own code.

// ---------------------------------------------------------------------------------------------
// Decoding the documented formats

/// A decoded full snapshot: u64 n, n × (key, value).
template <class K, class V>
struct FullContents {
  std::map<K, V> entries;
  uint64_t records = 0;
};

/// A decoded delta: u64 u, u × (key, value), u64 d, d × key.
template <class K, class V>
struct DeltaContents {
  std::map<K, V> upserts;
  std::set<K> deletes;
  uint64_t upsertRecords = 0;
  uint64_t deleteRecords = 0;
};

/// Decodes `bytes` as exactly one full snapshot (reporting a failure for anything else).
template <class K, class V>
FullContents<K, V> decodeFull(std::string_view in) {
  FullContents<K, V> out;
  uint64_t n = 0;
  if (!Serde<uint64_t>::read(in, n)) {
    ADD_FAILURE() << "full snapshot without an entry count";
    return out;
  }
  for (uint64_t i = 0; i < n; ++i) {
    K k{};
    V v{};
    if (!Serde<K>::read(in, k) || !Serde<V>::read(in, v)) {
      ADD_FAILURE() << "full snapshot truncated at entry " << i << " of " << n;
      return out;
    }
    if (!out.entries.emplace(k, v).second)
      ADD_FAILURE() << "key " << ::testing::PrintToString(k) << " twice in a full snapshot";
    ++out.records;
  }
  EXPECT_TRUE(in.empty()) << in.size() << " bytes after the full snapshot";
  return out;
}

/// Decodes `bytes` as exactly one delta. A key upserted or deleted twice, or both upserted and
/// deleted, is reported: a minimal delta names each changed key once.
template <class K, class V>
DeltaContents<K, V> decodeDelta(std::string_view in) {
  DeltaContents<K, V> out;
  uint64_t n = 0;
  if (!Serde<uint64_t>::read(in, n)) {
    ADD_FAILURE() << "delta without an upsert count";
    return out;
  }
  for (uint64_t i = 0; i < n; ++i) {
    K k{};
    V v{};
    if (!Serde<K>::read(in, k) || !Serde<V>::read(in, v)) {
      ADD_FAILURE() << "delta truncated at upsert " << i << " of " << n;
      return out;
    }
    if (!out.upserts.emplace(k, v).second)
      ADD_FAILURE() << "key " << ::testing::PrintToString(k) << " upserted twice in one delta";
    ++out.upsertRecords;
  }
  if (!Serde<uint64_t>::read(in, n)) {
    ADD_FAILURE() << "delta without a deletion count";
    return out;
  }
  for (uint64_t i = 0; i < n; ++i) {
    K k{};
    if (!Serde<K>::read(in, k)) {
      ADD_FAILURE() << "delta truncated at deletion " << i << " of " << n;
      return out;
    }
    if (!out.deletes.insert(k).second)
      ADD_FAILURE() << "key " << ::testing::PrintToString(k) << " deleted twice in one delta";
    if (out.upserts.count(k) != 0)
      ADD_FAILURE() << "key " << ::testing::PrintToString(k)
                    << " both upserted and deleted in one delta";
    ++out.deleteRecords;
  }
  EXPECT_TRUE(in.empty()) << in.size() << " bytes after the delta";
  return out;
}

/// The contents of a TrackedMap, through its read-only iteration.
template <class K, class V, class H, class E>
std::map<K, V> contentsOf(const TrackedMap<K, V, H, E>& m) {
  std::map<K, V> out;
  for (const auto& [k, v] : m) {
    if (!out.emplace(k, v).second)
      ADD_FAILURE() << "key " << ::testing::PrintToString(k) << " iterated twice";
  }
  EXPECT_EQ(out.size(), m.size());
  return out;
}

/// The bytes of an empty delta: no upserts, no deletions.
const std::string kEmptyDelta(16, '\0');

/// One snapshot of a chain.
struct Link {
  bool full = false;
  std::string bytes;
};

/// Restores `out` from a chain as a restore does: the last full snapshot, then every later delta
/// in order. Each snapshot must be read exactly.
template <class Map>
::testing::AssertionResult restoreChain(const std::vector<Link>& chain, Map& out) {
  size_t base = chain.size();
  for (size_t i = chain.size(); i-- > 0;) {
    if (chain[i].full) {
      base = i;
      break;
    }
  }
  if (base == chain.size()) return ::testing::AssertionFailure() << "no full snapshot in the chain";
  std::string_view in = chain[base].bytes;
  if (!out.readFull(in)) return ::testing::AssertionFailure() << "readFull refused link " << base;
  if (!in.empty())
    return ::testing::AssertionFailure()
           << "readFull left " << in.size() << " bytes of link " << base;
  for (size_t i = base + 1; i < chain.size(); ++i) {
    in = chain[i].bytes;
    if (!out.applyDelta(in))
      return ::testing::AssertionFailure() << "applyDelta refused link " << i;
    if (!in.empty())
      return ::testing::AssertionFailure()
             << "applyDelta left " << in.size() << " bytes of link " << i;
  }
  return ::testing::AssertionSuccess();
}

std::string u64Bytes(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Randomised comparison with a reference model

/// What the map should hold and what its next snapshot should say, kept with std containers.
template <class K>
struct ReferenceModel {
  std::map<K, std::string> live;
  std::map<K, std::string> base;  ///< contents at the last snapshot
  std::set<K> touched;            ///< keys accessed for writing since the last snapshot
  uint64_t superseded = 0;

  /// A minimal delta: every key written to since the last snapshot that is alive now, with its
  /// current value, and every key of the last snapshot that is gone.
  DeltaContents<K, std::string> expectedDelta() const {
    DeltaContents<K, std::string> d;
    for (const K& k : touched) {
      auto it = live.find(k);
      if (it != live.end()) d.upserts.emplace(k, it->second);
    }
    for (const auto& [k, v] : base)
      if (live.count(k) == 0) d.deletes.insert(k);
    return d;
  }
  void tookFull() {
    base = live;
    touched.clear();
    superseded = 0;
  }
  /// A record for a key of the last snapshot replaces the record before it (1 dead record); a
  /// deletion kills the old record and is dead itself (2).
  void tookDelta(const DeltaContents<K, std::string>& d) {
    for (const auto& [k, v] : d.upserts)
      if (base.count(k) != 0) ++superseded;
    superseded += 2 * d.deletes.size();
    base = live;
    touched.clear();
  }
};

struct Int64Keys {
  using K = int64_t;
  using Map = TrackedMap<int64_t, std::string>;
  static K key(uint64_t n) { return static_cast<int64_t>(n) * 37 - 1000; }
  static K lookup(const K& k, std::string&) { return k; }
};

struct StringKeys {
  using K = std::string;
  using Map = TrackedStateMap<std::string, std::string>;  // what KeyedTable uses for string keys
  static K key(uint64_t n) { return "key/" + std::to_string(n); }
  // Looked up through a view of a buffer that the next operation overwrites: the map must keep
  // its own copy of every key.
  static std::string_view lookup(const K& k, std::string& scratch) {
    scratch = k;
    return scratch;
  }
};

/// Random operations on a map and a reference model, with snapshots (a full one 1 in 5) about
/// every 1000 / snapshotPerMille operations, restores compared with the model. Half the epochs
/// erase nothing: their erasures and clears become inserts of keys never seen before, so that
/// inserts meet the tombstones earlier epochs left (rarely enough of them for absl to rehash in
/// place: DeltaIsRightAfterAnInPlaceRehashOfTombstones makes it happen).
template <class Traits>
void runAgainstModel(uint64_t seed, int ops, uint64_t keySpace, uint64_t snapshotPerMille = 40) {
  using K = typename Traits::K;
  using Map = typename Traits::Map;
  SCOPED_TRACE("seed " + std::to_string(seed) + ", key space " + std::to_string(keySpace));
  std::mt19937_64 rng(seed);
  auto below = [&rng](uint64_t n) {
    return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng);
  };
  auto randomValue = [&] {
    std::string v(below(12), static_cast<char>('a' + below(26)));
    return v + std::to_string(below(1000));
  };

  Map map;
  ReferenceModel<K> model;
  std::vector<Link> chain;
  std::string scratch;
  int fulls = 0, deltas = 0, restores = 0, adoptions = 0;
  bool eraseFree = false;  // this epoch erases nothing
  int eraseFreeEpochs = 0;
  uint64_t fresh = 0;      // keys above the key space inserted so far

  auto snapshot = [&](bool full) {
    // Snapshots append to what the caller's buffer holds already.
    const std::string prefix = "earlier bytes";
    std::string out = prefix;
    if (full) {
      map.writeFull(out);
    } else {
      map.writeDelta(out);
    }
    ASSERT_EQ(out.compare(0, prefix.size(), prefix), 0)
        << "the bytes before the snapshot were changed";
    std::string bytes = out.substr(prefix.size());
    if (full) {
      EXPECT_EQ((decodeFull<K, std::string>(bytes).entries), model.live)
          << "full snapshot " << chain.size();
      model.tookFull();
      ++fulls;
    } else {
      const auto actual = decodeDelta<K, std::string>(bytes);
      const auto expected = model.expectedDelta();
      EXPECT_EQ(actual.upserts, expected.upserts) << "delta " << chain.size();
      EXPECT_EQ(actual.deletes, expected.deletes) << "delta " << chain.size();
      model.tookDelta(expected);
      ++deltas;
    }
    chain.push_back(Link{full, std::move(bytes)});
    eraseFree = below(2) == 0;
    eraseFreeEpochs += eraseFree ? 1 : 0;
    EXPECT_EQ(map.changedKeys(), 0u);
    const DeltaStats stats = map.deltaStats();
    EXPECT_EQ(stats.live, map.size());
    EXPECT_EQ(stats.live, model.live.size());
    EXPECT_EQ(stats.superseded, model.superseded) << "after snapshot " << chain.size() - 1;
  };

  // Right after a snapshot: a fresh map restored from the chain equals the model and the live
  // map. With `adopt`, the restored map carries on in place of the live one (the chain goes on).
  auto restoreAndCompare = [&](bool adopt) {
    Map restored;
    restored.put(Traits::lookup(Traits::key(keySpace + 7), scratch), "stale, replaced by readFull");
    ASSERT_TRUE(restoreChain(chain, restored));
    EXPECT_EQ(contentsOf(restored), model.live) << "restore after link " << chain.size() - 1;
    EXPECT_EQ(contentsOf(restored), contentsOf(map)) << "restore after link " << chain.size() - 1;
    EXPECT_EQ(restored.changedKeys(), 0u);
    ++restores;
    if (adopt) {
      map = std::move(restored);
      model.superseded = 0;  // readFull starts the count again; applyDelta does not count
      ++adoptions;
    }
  };

  snapshot(true);  // the chain starts with a full snapshot (of the empty map)
  for (int op = 0; op < ops; ++op) {
    const K k = Traits::key(below(keySpace));
    const auto q = Traits::lookup(k, scratch);
    const uint64_t r = below(1000);
    if (r < 260) {
      std::string v = randomValue();
      map.put(q, v);
      model.live[k] = v;
      model.touched.insert(k);
    } else if (r < 380) {
      const std::string made = "made" + std::to_string(op);
      bool created = false;
      std::string& v = map.getOrCreate(q, [&] {
        created = true;
        return made;
      });
      auto [it, inserted] = model.live.try_emplace(k, made);
      EXPECT_EQ(created, inserted) << "op " << op;
      v.push_back('+');
      it->second.push_back('+');
      model.touched.insert(k);
    } else if (r < 530) {
      std::string* v = map.findMutable(q);
      auto it = model.live.find(k);
      ASSERT_EQ(v != nullptr, it != model.live.end()) << "op " << op;
      if (v != nullptr) {
        model.touched.insert(k);  // mutable access is a change, modified or not
        if (below(3) != 0) {
          *v = randomValue();
          it->second = *v;
        }
      }
    } else if (r < 610) {
      // update(): a change only when created or when the function says so (it then changes
      // the value; false leaves it exactly as it was).
      const bool change = below(2) == 0;
      bool created = false;
      const bool marked = map.update(
          q,
          [&] {
            created = true;
            return std::string("new");
          },
          [&](std::string& v) {
            if (change) v.push_back('*');
            return change;
          });
      auto [it, inserted] = model.live.try_emplace(k, "new");
      EXPECT_EQ(created, inserted) << "op " << op;
      EXPECT_EQ(marked, inserted || change) << "op " << op;
      if (change) it->second.push_back('*');
      if (inserted || change) model.touched.insert(k);
    } else if (r < 690) {
      const std::string* v = map.find(q);
      auto it = model.live.find(k);
      ASSERT_EQ(v != nullptr, it != model.live.end()) << "op " << op;
      if (v != nullptr) {
        EXPECT_EQ(*v, it->second) << "op " << op;
      }
      EXPECT_EQ(map.contains(q), v != nullptr);
    } else if (r < 960 && eraseFree) {
      const K n = Traits::key(keySpace + 1000 + fresh++);
      const std::string v = randomValue();
      map.put(Traits::lookup(n, scratch), v);
      model.live[n] = v;
      model.touched.insert(n);
    } else if (r < 958) {
      const bool erased = map.erase(q);
      EXPECT_EQ(erased, model.live.erase(k) == 1) << "op " << op;
      if (erased) model.touched.insert(k);
    } else if (r < 960) {
      for (const auto& [key, v] : model.live) model.touched.insert(key);
      model.live.clear();
      map.clear();
      EXPECT_TRUE(map.empty());
    } else if (r < 960 + snapshotPerMille) {
      snapshot(below(5) == 0);
      if (below(4) == 0) restoreAndCompare(below(3) == 0);
    }
    ASSERT_EQ(map.size(), model.live.size()) << "op " << op;
    // Every change leaves a record of it, and only changes do.
    ASSERT_EQ(map.changedKeys() == 0, model.touched.empty()) << "op " << op;
  }
  snapshot(false);
  restoreAndCompare(false);
  EXPECT_EQ(contentsOf(map), model.live);
  // The mix really exercised what it is meant to.
  EXPECT_GE(fulls, 3);
  EXPECT_GE(deltas, 20);
  EXPECT_GE(restores, 5);
  EXPECT_GE(eraseFreeEpochs, 5);
}

TEST(TrackedMapTest, RandomOperationsAndSnapshotChainsMatchReferenceModelWithInt64Keys) {
  for (uint64_t seed : {1u, 2u, 3u, 42u}) runAgainstModel<Int64Keys>(seed, 4000, 300);
  // Few keys: the same key is erased and recreated within one epoch again and again.
  runAgainstModel<Int64Keys>(7, 4000, 12);
  // Many keys: the map grows and rehashes between snapshots.
  runAgainstModel<Int64Keys>(8, 8000, 5000);
  // Long epochs: erasure-free ones insert many keys into a table that earlier epochs churned.
  // (absl's in-place rehash, which needs many tombstones, is tested on its own below.)
  for (uint64_t seed : {21u, 22u}) runAgainstModel<Int64Keys>(seed, 20000, 3000, 2);
}

TEST(TrackedMapTest,
     RandomOperationsAndSnapshotChainsMatchReferenceModelWithStringKeysLookedUpByView) {
  for (uint64_t seed : {11u, 12u}) runAgainstModel<StringKeys>(seed, 4000, 300);
  runAgainstModel<StringKeys>(13, 4000, 12);
}

// ---------------------------------------------------------------------------------------------
// Minimal deltas

/// A map of int64 → string with its snapshot chain and a std::map of what it should hold.
struct ChainedMap {
  TrackedMap<int64_t, std::string> map;
  std::map<int64_t, std::string> model;
  std::vector<Link> chain;

  void put(int64_t k, const std::string& v) {
    map.put(k, v);
    model[k] = v;
  }
  bool erase(int64_t k) {
    model.erase(k);
    return map.erase(k);
  }
  void full() {
    std::string bytes;
    map.writeFull(bytes);
    EXPECT_EQ((decodeFull<int64_t, std::string>(bytes).entries), model);
    chain.push_back(Link{true, std::move(bytes)});
  }
  DeltaContents<int64_t, std::string> delta() {
    std::string bytes;
    map.writeDelta(bytes);
    chain.push_back(Link{false, bytes});
    return decodeDelta<int64_t, std::string>(bytes);
  }
  const std::string& lastBytes() const { return chain.back().bytes; }
  /// A fresh map restored from the chain holds the model, and so does the live map.
  ::testing::AssertionResult restoresToModel() const {
    TrackedMap<int64_t, std::string> restored;
    auto r = restoreChain(chain, restored);
    if (!r) return r;
    if (contentsOf(restored) != model)
      return ::testing::AssertionFailure()
             << "restored " << ::testing::PrintToString(contentsOf(restored)) << ", expected "
             << ::testing::PrintToString(model);
    if (contentsOf(map) != model)
      return ::testing::AssertionFailure()
             << "live map " << ::testing::PrintToString(contentsOf(map)) << ", expected "
             << ::testing::PrintToString(model);
    return ::testing::AssertionSuccess();
  }
};

/// Keys 1..5 with values v1..v5, written as a full snapshot.
ChainedMap fiveKeysSnapshotted() {
  ChainedMap c;
  for (int64_t k = 1; k <= 5; ++k) c.put(k, "v" + std::to_string(k));
  c.full();
  return c;
}

// Before its first snapshot or restore a map has no base to be a delta of: it records nothing
// (no dirty list grows in a job without checkpoints), and its first delta holds every entry,
// which restores exactly on top of a base that did not hold the map (here: an empty one).
TEST(TrackedMapTest, UntrackedUntilTheFirstSnapshotThenTheFirstDeltaHoldsEveryEntry) {
  ChainedMap c;
  EXPECT_FALSE(c.map.tracking());
  {
    TrackedMap<int64_t, std::string> empty;  // what the base checkpoint held: nothing
    std::string bytes;
    empty.writeFull(bytes);
    c.chain.push_back(Link{true, std::move(bytes)});
  }
  for (int64_t k = 0; k < 1000; ++k) c.put(k, "v" + std::to_string(k));
  for (int64_t k = 0; k < 1000; k += 3) ASSERT_TRUE(c.erase(k));
  *c.map.findMutable(int64_t{1}) = "changed";
  c.model[1] = "changed";
  c.map.clear();
  c.model.clear();
  for (int64_t k = 500; k < 700; ++k) c.put(k, "again" + std::to_string(k));
  EXPECT_EQ(c.map.changedKeys(), 0u) << "nothing is recorded before the first snapshot";
  EXPECT_FALSE(c.map.tracking());

  auto first = c.delta();
  EXPECT_TRUE(c.map.tracking());
  EXPECT_EQ(first.upserts, c.model);
  EXPECT_EQ(first.upsertRecords, 200u);
  EXPECT_TRUE(first.deletes.empty());
  EXPECT_EQ(c.map.deltaStats().superseded, 0u);
  EXPECT_TRUE(c.restoresToModel());

  // From here on, deltas are minimal again.
  c.put(500, "x");
  ASSERT_TRUE(c.erase(501));
  c.put(5000, "new");
  EXPECT_EQ(c.map.changedKeys(), 3u);
  auto second = c.delta();
  EXPECT_EQ(second.upserts, (std::map<int64_t, std::string>{{500, "x"}, {5000, "new"}}));
  EXPECT_EQ(second.deletes, (std::set<int64_t>{501}));
  EXPECT_TRUE(c.restoresToModel());

  // reset() forgets the base: untracked again, and the next delta is whole.
  c.map.reset();
  c.model.clear();
  EXPECT_FALSE(c.map.tracking());
  c.put(7, "seven");
  EXPECT_EQ(c.map.changedKeys(), 0u);
  std::string bytes;
  c.map.writeDelta(bytes);
  auto whole = decodeDelta<int64_t, std::string>(bytes);
  EXPECT_EQ(whole.upserts, c.model);
  EXPECT_TRUE(whole.deletes.empty());
}

// A restore is a base too: changes after readFull or applyDelta are tracked.
TEST(TrackedMapTest, RestoreStartsTracking) {
  ChainedMap c = fiveKeysSnapshotted();
  TrackedMap<int64_t, std::string> restored;
  std::string_view in = c.lastBytes();
  ASSERT_TRUE(restored.readFull(in));
  EXPECT_TRUE(restored.tracking());
  restored.put(int64_t{2}, "two");
  EXPECT_EQ(restored.changedKeys(), 1u);

  TrackedMap<int64_t, std::string> fromDelta;
  std::string delta;
  c.put(9, "nine");
  c.map.writeDelta(delta);
  in = delta;
  ASSERT_TRUE(fromDelta.applyDelta(in));
  EXPECT_TRUE(fromDelta.tracking());
  fromDelta.put(int64_t{3}, "three");
  EXPECT_EQ(fromDelta.changedKeys(), 1u);
}

TEST(TrackedMapTest, DeltaHoldsExactlyTheKeysChangedThroughFindMutable) {
  ChainedMap c;
  constexpr int64_t kKeys = 10000;
  for (int64_t k = 0; k < kKeys; ++k) c.put(k, "value-" + std::to_string(k));
  c.full();
  EXPECT_EQ(c.map.changedKeys(), 0u);

  // Reads of every key are not changes.
  for (int64_t k = 0; k < kKeys; ++k) {
    const std::string* v = c.map.find(k);
    ASSERT_NE(v, nullptr) << k;
    ASSERT_EQ(*v, c.model[k]);
    ASSERT_TRUE(c.map.contains(k));
  }
  for (int64_t k : {int64_t{3}, int64_t{5000}, int64_t{9999}}) {
    std::string* v = c.map.findMutable(k);
    ASSERT_NE(v, nullptr);
    *v += "!";
    c.model[k] += "!";
  }
  // A key changed twice in one epoch is written once; findMutable of an absent key changes nothing.
  *c.map.findMutable(int64_t{5000}) += "?";
  c.model[5000] += "?";
  EXPECT_EQ(c.map.findMutable(int64_t{kKeys + 1}), nullptr);
  EXPECT_FALSE(c.map.contains(int64_t{kKeys + 1}));
  EXPECT_EQ(c.map.changedKeys(), 3u);

  const auto d = c.delta();
  EXPECT_EQ(d.upsertRecords, 3u);
  EXPECT_EQ(d.deleteRecords, 0u);
  EXPECT_EQ(d.upserts, (std::map<int64_t, std::string>{
                           {3, "value-3!"}, {5000, "value-5000!?"}, {9999, "value-9999!"}}));
  EXPECT_TRUE(c.restoresToModel());
  EXPECT_EQ(c.map.deltaStats().live, static_cast<uint64_t>(kKeys));
  EXPECT_EQ(c.map.deltaStats().superseded, 3u);
}

// In an epoch without erasures a delta reaches the entries listed since the map last rehashed
// through their slots, and looks the earlier ones up: both must give the current values, however
// often the map grew in between.
// update() keeps an entry its function did not change out of the delta: a running maximum
// per key, where most values are below the maximum.
TEST(TrackedMapTest, UpdateMarksOnlyCreatedEntriesAndReportedChanges) {
  ChainedMap c;
  auto raiseTo = [&](int64_t k, int64_t v) {
    return c.map.update(
        k, [] { return std::string("0"); },
        [&](std::string& max) {
          if (v <= std::stoll(max)) return false;
          max = std::to_string(v);
          return true;
        });
  };
  for (int64_t k = 1; k <= 4; ++k) c.put(k, std::to_string(10 * k));  // 10 20 30 40
  c.full();
  EXPECT_FALSE(raiseTo(1, 5));    // below: clean
  EXPECT_FALSE(raiseTo(2, 20));   // equal: clean
  EXPECT_TRUE(raiseTo(3, 31));    // raised
  EXPECT_FALSE(raiseTo(3, 30));   // already listed; still unchanged by this call
  EXPECT_TRUE(raiseTo(9, -1));    // created (the function left "0" as it was): listed
  c.model[3] = "31";
  c.model[9] = "0";
  EXPECT_EQ(c.map.changedKeys(), 2u);
  auto d = c.delta();
  EXPECT_EQ(d.upserts, (std::map<int64_t, std::string>{{3, "31"}, {9, "0"}}));
  EXPECT_TRUE(d.deletes.empty());
  EXPECT_TRUE(c.restoresToModel());

  // Nothing raised in the next epoch: an empty delta.
  for (int64_t k = 1; k <= 4; ++k) EXPECT_FALSE(raiseTo(k, k));
  d = c.delta();
  EXPECT_TRUE(d.upserts.empty());
  EXPECT_TRUE(d.deletes.empty());
  EXPECT_TRUE(c.restoresToModel());
}

TEST(TrackedMapTest, AMakeThatThrowsAddsNoKey) {
  ChainedMap c;
  c.put(1, "one");
  c.full();
  auto failingMake = []() -> std::string { throw std::runtime_error("no accumulator"); };
  EXPECT_THROW(c.map.getOrCreate(int64_t{2}, failingMake), std::runtime_error);
  EXPECT_THROW(c.map.update(int64_t{3}, failingMake, [](std::string&) { return true; }), std::runtime_error);
  EXPECT_EQ(c.map.size(), 1u);
  EXPECT_EQ(c.map.find(int64_t{2}), nullptr);
  EXPECT_EQ(c.map.changedKeys(), 0u);
  // An existing key never calls make; getOrCreate is a mutable access, so key 1 is listed.
  EXPECT_EQ(c.map.getOrCreate(int64_t{1}, failingMake), "one");
  c.put(4, "four");
  auto d = c.delta();
  EXPECT_EQ(d.upserts, (std::map<int64_t, std::string>{{1, "one"}, {4, "four"}}));
  EXPECT_TRUE(d.deletes.empty());
  EXPECT_TRUE(c.restoresToModel());
}

TEST(TrackedMapTest, DeltaFindsEntriesThroughSlotsAndAfterRehashesByKey) {
  ChainedMap c;
  for (int64_t k = 0; k < 20; ++k) c.put(k, "base");
  c.full();
  for (int64_t k = 100; k < 20000; ++k) {
    c.put(k, "v" + std::to_string(k));
    // Changed through the pointer after later inserts moved every slot.
    if (k % 1000 == 0) {
      const int64_t old = k / 1000;
      std::string* v = c.map.findMutable(old);
      ASSERT_NE(v, nullptr);
      *v += "+" + std::to_string(k);
      c.model[old] = *v;
    }
  }
  for (int64_t k = 100; k < 20000; k += 7) {  // listed already: changed again, written once
    *c.map.findMutable(k) += "!";
    c.model[k] += "!";
  }
  auto d = c.delta();
  std::map<int64_t, std::string> expected = c.model;
  expected.erase(0);  // the base's keys 1..19 were changed, 0 was not
  EXPECT_EQ(d.upserts, expected);
  EXPECT_EQ(d.deleteRecords, 0u);
  EXPECT_TRUE(c.restoresToModel());

  // No inserts: no rehash, every entry through its slot.
  for (int64_t k = 19999; k >= 100; k -= 3) {
    *c.map.findMutable(k) = "late" + std::to_string(k);
    c.model[k] = "late" + std::to_string(k);
  }
  d = c.delta();
  EXPECT_EQ(d.upsertRecords, static_cast<uint64_t>((19999 - 100) / 3 + 1));
  for (const auto& [k, v] : d.upserts) EXPECT_EQ(v, "late" + std::to_string(k));
  EXPECT_TRUE(c.restoresToModel());
}

// absl rehashes a table in place, without changing its capacity, when an insert finds no room
// left but tombstones (left by erasures, here in an earlier epoch) make up enough of it: entries
// move, so a slot recorded before is stale. A delta must still write every changed entry's
// current value.
TEST(TrackedMapTest, DeltaIsRightAfterAnInPlaceRehashOfTombstones) {
  bool happened = false;
  // How many tombstones a churn leaves depends on where absl last cleaned up: try churns of
  // several lengths until one leaves enough for the inserts of the next epoch to rehash in place
  // (about half do: the table rehashes in place when no room is left at 25/32 of its capacity).
  for (int attempt = 0; attempt < 40 && !happened; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    ChainedMap c;
    int64_t next = 0;
    for (; next < 2800; ++next) c.put(next, "v" + std::to_string(next));  // 68 % of 4095 slots
    // Churn (epoch 1, with erasures): insert a new key, erase the oldest.
    int64_t oldest = 0;
    for (int i = 0; i < 250 * (attempt + 1); ++i, ++next, ++oldest) {
      c.put(next, "v" + std::to_string(next));
      ASSERT_TRUE(c.erase(oldest));
    }
    c.full();
    // Epoch 2, without erasures: change every live key (listed with its slot), then insert until
    // an insert moves changed entries while the capacity stays.
    for (int64_t k = oldest; k < next; ++k) {
      std::string* v = c.map.findMutable(k);
      ASSERT_NE(v, nullptr);
      *v += "!";
      c.model[k] += "!";
    }
    const size_t capacity = c.map.capacity();
    // Where the changed entries are (an in-place rehash moves only some of them).
    const int64_t listedEnd = next;
    auto where = [&] {
      std::vector<const std::string*> at;
      for (int64_t k = oldest; k < listedEnd; ++k) at.push_back(c.map.find(k));
      return at;
    };
    const auto before = where();
    bool moved = false;
    for (int i = 1; i <= 1000 && !moved && c.map.capacity() == capacity; ++i, ++next) {
      c.put(next, "new" + std::to_string(next));
      if (i % 16 == 0 || c.map.capacity() != capacity) moved = c.map.capacity() == capacity && where() != before;
    }
    if (!moved) continue;
    happened = true;
    // Changed again after the move.
    for (int64_t k = oldest; k < next; k += 3) {
      *c.map.findMutable(k) += "?";
      c.model[k] += "?";
    }
    const auto d = c.delta();
    EXPECT_EQ(d.upserts.size(), static_cast<size_t>(next - oldest)) << "every live key changed in epoch 2";
    EXPECT_TRUE(c.restoresToModel());
  }
  EXPECT_TRUE(happened) << "no churn left the table to rehash in place";
}

TEST(TrackedMapTest, ReadOnlyAccessWritesAnEmptyDelta) {
  ChainedMap c;
  for (int64_t k = 0; k < 1000; ++k) c.put(k, std::to_string(k * k));
  c.full();
  size_t seen = 0;
  for (int64_t k = -5; k < 1005; ++k) {
    if (c.map.find(k) != nullptr) ++seen;
    (void)c.map.contains(k);
  }
  for (const auto& [k, v] : c.map) seen += v.empty() ? 0 : 1;  // iteration reads too
  EXPECT_EQ(seen, 2000u);
  EXPECT_EQ(c.map.changedKeys(), 0u);
  c.delta();
  EXPECT_EQ(c.lastBytes(), kEmptyDelta) << "u = 0, d = 0";
  // Also right after a delta, and with nothing done at all.
  c.delta();
  EXPECT_EQ(c.lastBytes(), kEmptyDelta);
  EXPECT_EQ(c.map.deltaStats().superseded, 0u);
  EXPECT_TRUE(c.restoresToModel());
}

// ---------------------------------------------------------------------------------------------
// Erase

TEST(TrackedMapTest, InsertThenEraseInOneEpochWritesNothing) {
  ChainedMap c = fiveKeysSnapshotted();
  c.put(100, "short-lived");
  EXPECT_TRUE(c.erase(100));
  c.map.getOrCreate(int64_t{101}, [] { return std::string("made"); });
  EXPECT_TRUE(c.erase(101));
  // Created, erased, created again, erased again.
  c.put(102, "a");
  EXPECT_TRUE(c.erase(102));
  c.put(102, "b");
  EXPECT_TRUE(c.erase(102));
  EXPECT_FALSE(c.erase(103));  // never there
  const auto d = c.delta();
  EXPECT_EQ(d.upsertRecords, 0u);
  EXPECT_EQ(d.deleteRecords, 0u);
  EXPECT_EQ(c.lastBytes(), kEmptyDelta);
  EXPECT_EQ(c.map.deltaStats().superseded, 0u);
  EXPECT_TRUE(c.restoresToModel());
}

TEST(TrackedMapTest, EraseOfKeyThatExistedAtTheLastSnapshotWritesOneDeletion) {
  ChainedMap c = fiveKeysSnapshotted();
  EXPECT_TRUE(c.erase(2));
  EXPECT_FALSE(c.erase(2));
  auto d = c.delta();
  EXPECT_TRUE(d.upserts.empty());
  EXPECT_EQ(d.deletes, (std::set<int64_t>{2}));
  EXPECT_EQ(d.deleteRecords, 1u);
  EXPECT_EQ(c.map.deltaStats().superseded, 2u);
  EXPECT_TRUE(c.restoresToModel());

  // Changed first, then erased in the same epoch: still only the deletion.
  *c.map.findMutable(int64_t{3}) = "changed";
  EXPECT_TRUE(c.erase(3));
  d = c.delta();
  EXPECT_TRUE(d.upserts.empty());
  EXPECT_EQ(d.deletes, (std::set<int64_t>{3}));
  EXPECT_EQ(c.map.deltaStats().superseded, 4u);
  EXPECT_TRUE(c.restoresToModel());

  // A key that came in with a delta (not the full snapshot) is deleted the same way.
  c.put(50, "via delta");
  d = c.delta();
  EXPECT_EQ(d.upserts.size(), 1u);
  EXPECT_TRUE(c.erase(50));
  d = c.delta();
  EXPECT_TRUE(d.upserts.empty());
  EXPECT_EQ(d.deletes, (std::set<int64_t>{50}));
  EXPECT_EQ(c.map.deltaStats().superseded, 6u);
  EXPECT_TRUE(c.restoresToModel());
}

TEST(TrackedMapTest, EraseThenReinsertInOneEpochWritesOneUpsertAndNoDeletion) {
  ChainedMap c = fiveKeysSnapshotted();
  EXPECT_TRUE(c.erase(2));
  c.put(2, "new two");
  // Erased, recreated, erased again: a deletion.
  EXPECT_TRUE(c.erase(3));
  c.put(3, "brief");
  EXPECT_TRUE(c.erase(3));
  // Recreated through getOrCreate: the new value.
  EXPECT_TRUE(c.erase(4));
  bool made = false;
  c.map.getOrCreate(int64_t{4}, [&] {
    made = true;
    return std::string("made four");
  });
  EXPECT_TRUE(made);
  c.model[4] = "made four";
  // A new key created twice: its last value.
  c.put(200, "first");
  EXPECT_TRUE(c.erase(200));
  c.put(200, "second");

  const auto d = c.delta();
  EXPECT_EQ(d.upserts,
            (std::map<int64_t, std::string>{{2, "new two"}, {4, "made four"}, {200, "second"}}));
  EXPECT_EQ(d.upsertRecords, 3u);
  EXPECT_EQ(d.deletes, (std::set<int64_t>{3}));
  EXPECT_EQ(d.deleteRecords, 1u);
  // 2 and 4 replace records of the last snapshot (1 each), 3 is deleted (2), 200 is new (0).
  EXPECT_EQ(c.map.deltaStats().superseded, 4u);
  EXPECT_TRUE(c.restoresToModel());
}

TEST(TrackedMapTest, EraseAndReinsertInSuccessiveEpochs) {
  ChainedMap c = fiveKeysSnapshotted();
  EXPECT_TRUE(c.erase(2));
  auto d = c.delta();
  EXPECT_EQ(d.deletes, (std::set<int64_t>{2}));
  c.put(2, "back");
  d = c.delta();
  EXPECT_EQ(d.upserts, (std::map<int64_t, std::string>{{2, "back"}}));
  EXPECT_TRUE(d.deletes.empty());
  EXPECT_EQ(c.map.deltaStats().superseded, 2u)
      << "2 was not in the last snapshot when it came back";
  EXPECT_TRUE(c.restoresToModel());
}

TEST(TrackedMapTest, ClearWritesDeletionsForTheKeysOfTheLastSnapshotOnly) {
  ChainedMap c = fiveKeysSnapshotted();
  *c.map.findMutable(int64_t{1}) = "changed before clear";
  c.put(10, "new before clear");
  c.map.clear();
  c.model.clear();
  EXPECT_TRUE(c.map.empty());
  c.put(2, "again");
  c.put(11, "new after clear");
  const auto d = c.delta();
  EXPECT_EQ(d.upserts, (std::map<int64_t, std::string>{{2, "again"}, {11, "new after clear"}}));
  EXPECT_EQ(d.deletes, (std::set<int64_t>{1, 3, 4, 5}));
  EXPECT_EQ(c.map.deltaStats().superseded, 1u + 2u * 4u);
  EXPECT_TRUE(c.restoresToModel());

  c.map.clear();
  c.model.clear();
  const auto d2 = c.delta();
  EXPECT_TRUE(d2.upserts.empty());
  EXPECT_EQ(d2.deletes, (std::set<int64_t>{2, 11}));
  EXPECT_TRUE(c.restoresToModel());
  c.map.clear();  // nothing there: nothing to write
  c.delta();
  EXPECT_EQ(c.lastBytes(), kEmptyDelta);
}

// ---------------------------------------------------------------------------------------------
// DeltaStats

TEST(TrackedMapTest, DeltaStatsCountLiveEntriesAndSupersededRecords) {
  ChainedMap c;
  EXPECT_EQ(c.map.deltaStats().live, 0u);
  EXPECT_EQ(c.map.deltaStats().superseded, 0u);
  for (int64_t k = 0; k < 100; ++k) c.put(k, "a");
  c.full();
  EXPECT_EQ(c.map.deltaStats().live, 100u);
  EXPECT_EQ(c.map.deltaStats().superseded, 0u);

  for (int64_t k = 0; k < 10; ++k) c.put(k, "b");
  EXPECT_EQ(c.map.deltaStats().superseded, 0u) << "counted when the delta is written";
  c.delta();
  EXPECT_EQ(c.map.deltaStats().superseded, 10u) << "updates of existing keys: +1 each";

  for (int64_t k = 10; k < 15; ++k) EXPECT_TRUE(c.erase(k));
  c.delta();
  EXPECT_EQ(c.map.deltaStats().live, 95u);
  EXPECT_EQ(c.map.deltaStats().superseded, 20u) << "deletions: +2 each";

  for (int64_t k = 1000; k < 1007; ++k) c.put(k, "new");
  c.put(2000, "gone again");
  EXPECT_TRUE(c.erase(2000));
  c.delta();
  EXPECT_EQ(c.map.deltaStats().live, 102u);
  EXPECT_EQ(c.map.deltaStats().superseded, 20u) << "new keys: +0";

  // 1000 came with the last delta: changing it again replaces that record.
  for (int i = 0; i < 5; ++i) c.put(1000, "newer " + std::to_string(i));
  *c.map.findMutable(int64_t{50}) += "";  // mutable access alone rewrites the entry
  c.delta();
  EXPECT_EQ(c.map.deltaStats().superseded, 22u) << "once per key per delta";
  EXPECT_EQ(c.map.deltaStats().live, c.map.size());
  EXPECT_TRUE(c.restoresToModel());

  c.full();
  EXPECT_EQ(c.map.deltaStats().live, 102u);
  EXPECT_EQ(c.map.deltaStats().superseded, 0u) << "a full snapshot starts a new chain";
  c.put(0, "c");
  c.delta();
  EXPECT_EQ(c.map.deltaStats().superseded, 1u);
  EXPECT_TRUE(c.restoresToModel());

  // A restored map is the base of a new chain.
  TrackedMap<int64_t, std::string> restored;
  ASSERT_TRUE(restoreChain(c.chain, restored));
  EXPECT_EQ(restored.deltaStats().live, 102u);
  EXPECT_EQ(restored.deltaStats().superseded, 0u);
}

TEST(TrackedMapTest, ResetForgetsEntriesAndHistory) {
  ChainedMap c = fiveKeysSnapshotted();
  c.put(1, "changed");
  EXPECT_TRUE(c.erase(2));
  c.delta();
  ASSERT_GT(c.map.deltaStats().superseded, 0u);
  c.put(3, "pending change");
  c.erase(4);
  c.put(77, "pending new");
  ASSERT_GT(c.map.changedKeys(), 0u);

  c.map.reset();
  EXPECT_TRUE(c.map.empty());
  EXPECT_EQ(c.map.size(), 0u);
  EXPECT_EQ(c.map.changedKeys(), 0u);
  EXPECT_EQ(c.map.deltaStats().live, 0u);
  EXPECT_EQ(c.map.deltaStats().superseded, 0u);
  EXPECT_EQ(c.map.find(int64_t{1}), nullptr);
  // Nothing of the old history is written: no deletions for the keys of the last snapshot.
  std::string bytes;
  c.map.writeDelta(bytes);
  EXPECT_EQ(bytes, kEmptyDelta);

  // Reused for something new: keys are new, whatever they were before.
  c.map.put(int64_t{1}, "fresh");
  c.map.put(int64_t{9}, "nine");
  bytes.clear();
  c.map.writeDelta(bytes);
  const auto d = decodeDelta<int64_t, std::string>(bytes);
  EXPECT_EQ(d.upserts, (std::map<int64_t, std::string>{{1, "fresh"}, {9, "nine"}}));
  EXPECT_TRUE(d.deletes.empty());
  EXPECT_EQ(c.map.deltaStats().superseded, 0u);
  bytes.clear();
  c.map.writeFull(bytes);
  EXPECT_EQ((decodeFull<int64_t, std::string>(bytes).entries),
            (std::map<int64_t, std::string>{{1, "fresh"}, {9, "nine"}}));
}

// ---------------------------------------------------------------------------------------------
// Full snapshot format

TEST(TrackedMapTest, FullSnapshotBytesEqualSerdeOfFlatHashMapForOneEntry) {
  {
    TrackedMap<int64_t, std::string> empty;
    std::string bytes;
    empty.writeFull(bytes);
    std::string serde;
    Serde<absl::flat_hash_map<int64_t, std::string>>::write({}, serde);
    EXPECT_EQ(bytes, serde);
    EXPECT_EQ(bytes, u64Bytes(0));
  }
  {
    TrackedMap<int64_t, std::string> m;
    m.put(int64_t{42}, "answer");
    std::string bytes;
    m.writeFull(bytes);
    std::string serde;
    Serde<absl::flat_hash_map<int64_t, std::string>>::write({{42, "answer"}}, serde);
    EXPECT_EQ(bytes, serde);
    // Spelled out: count 1, key 42 (i64 LE), length 6, "answer".
    EXPECT_EQ(bytes, u64Bytes(1) + u64Bytes(42) + u64Bytes(6) + "answer");
  }
  {
    // After a chain of changes the full snapshot is still just the current contents.
    TrackedStateMap<std::string, std::vector<int64_t>> m;
    m.put(std::string_view("a"), std::vector<int64_t>{1});
    m.put(std::string_view("b"), std::vector<int64_t>{2});
    std::string scratch;
    m.writeFull(scratch);
    m.findMutable(std::string_view("b"))->push_back(3);
    EXPECT_TRUE(m.erase(std::string_view("a")));
    m.writeDelta(scratch);
    std::string bytes;
    m.writeFull(bytes);
    std::string serde;
    Serde<absl::flat_hash_map<std::string, std::vector<int64_t>>>::write({{"b", {2, 3}}}, serde);
    EXPECT_EQ(bytes, serde);
  }
}

TEST(TrackedMapTest, FullSnapshotInteroperatesWithSerdeOfFlatHashMap) {
  TrackedMap<int64_t, std::string> m;
  absl::flat_hash_map<int64_t, std::string> plain;
  std::map<int64_t, std::string> model;
  for (int64_t k = -300; k < 700; ++k) {
    std::string v(static_cast<size_t>((k + 300) % 13), static_cast<char>('a' + (k & 7)));
    m.put(k, v);
    plain[k] = v;
    model[k] = v;
  }
  std::string tracked;
  m.writeFull(tracked);
  std::string serde;
  Serde<absl::flat_hash_map<int64_t, std::string>>::write(plain, serde);
  EXPECT_EQ(tracked.size(), serde.size());
  EXPECT_EQ((decodeFull<int64_t, std::string>(tracked).entries), model);
  EXPECT_EQ((decodeFull<int64_t, std::string>(serde).entries), model);

  // Each reads what the other wrote.
  std::string_view in = tracked;
  absl::flat_hash_map<int64_t, std::string> readBack;
  ASSERT_TRUE((Serde<absl::flat_hash_map<int64_t, std::string>>::read(in, readBack)));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ((std::map<int64_t, std::string>(readBack.begin(), readBack.end())), model);
  in = serde;
  TrackedMap<int64_t, std::string> fromSerde;
  ASSERT_TRUE(fromSerde.readFull(in));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(contentsOf(fromSerde), model);
  EXPECT_EQ(fromSerde.changedKeys(), 0u);
}

TEST(TrackedMapTest, SnapshotsInOneBufferAreReadBackInOrder) {
  // Several snapshots appended to one buffer: each read consumes exactly its own bytes.
  TrackedMap<int64_t, std::string> m;
  for (int64_t k = 0; k < 20; ++k) m.put(k, std::to_string(k));
  std::string buffer;
  m.writeFull(buffer);
  m.put(int64_t{3}, "three");
  m.erase(int64_t{4});
  m.writeDelta(buffer);
  m.put(int64_t{4}, "four");
  m.erase(int64_t{5});
  m.writeDelta(buffer);

  std::map<int64_t, std::string> model;
  for (int64_t k = 0; k < 20; ++k) model[k] = std::to_string(k);
  model[3] = "three";
  model[4] = "four";
  model.erase(5);

  std::string_view in = buffer;
  TrackedMap<int64_t, std::string> restored;
  ASSERT_TRUE(restored.readFull(in));
  ASSERT_TRUE(restored.applyDelta(in));
  EXPECT_EQ(restored.find(int64_t{4}), nullptr);
  ASSERT_TRUE(restored.applyDelta(in));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(contentsOf(restored), model);
  EXPECT_EQ(contentsOf(m), model);
}

// Keys and values whose Serde says its size (integers, pairs of them) are written through a
// cursor into room made 64 KiB at a time. Snapshots of several chunks, appended after other
// bytes, must decode to exactly the map's contents and leave the bytes before them alone.
TEST(TrackedMapTest, SnapshotsOfSizedTypesLargerThanAWriteChunkDecodeExactly) {
  using Key = std::pair<int64_t, int64_t>;
  TrackedMap<Key, int64_t> m;
  std::map<Key, int64_t> model;
  for (int64_t i = 0; i < 30000; ++i) {  // 30 000 × 24 bytes: about 11 chunks
    m.put(Key{i, -i}, 7 * i);
    model[Key{i, -i}] = 7 * i;
  }
  std::string full = "before";
  m.writeFull(full);
  ASSERT_EQ(full.substr(0, 6), "before");
  ASSERT_EQ(full.size(), 6 + 8 + 30000 * 24);
  const auto decoded = decodeFull<Key, int64_t>(std::string_view(full).substr(6));
  EXPECT_EQ(decoded.entries, model);

  // A delta of 20 000 changed keys, written after other bytes as well.
  for (int64_t i = 0; i < 40000; i += 2) {
    m.put(Key{i, -i}, i + 1);
    model[Key{i, -i}] = i + 1;
  }
  std::string delta = "x";
  m.writeDelta(delta);
  ASSERT_EQ(delta.size(), 1 + 8 + 20000 * 24 + 8);
  const auto changes = decodeDelta<Key, int64_t>(std::string_view(delta).substr(1));
  EXPECT_EQ(changes.upsertRecords, 20000u);
  EXPECT_TRUE(changes.deletes.empty());
  for (const auto& [k, v] : changes.upserts) EXPECT_EQ(model.at(k), v);
}

// ---------------------------------------------------------------------------------------------
// Corrupt input

TEST(TrackedMapTest, EveryStrictPrefixOfAFullSnapshotIsRefused) {
  TrackedMap<int64_t, std::string> m;
  for (int64_t k = 0; k < 40; ++k) m.put(k * 11, std::string(static_cast<size_t>(k % 5), 'x'));
  std::string full;
  m.writeFull(full);
  TrackedStateMap<std::string, std::vector<int64_t>> s;
  s.put(std::string_view(""), std::vector<int64_t>{});
  s.put(std::string_view("k"), std::vector<int64_t>{1, 2, 3});
  std::string fullOfStrings;
  s.writeFull(fullOfStrings);

  for (size_t n = 0; n < full.size(); ++n) {
    std::string_view prefix(full.data(), n);
    TrackedMap<int64_t, std::string> fresh;
    ASSERT_FALSE(fresh.readFull(prefix)) << "prefix of " << n << " of " << full.size() << " bytes";
    std::string_view again(full.data(), n);
    ASSERT_FALSE(m.readFull(again)) << "over a filled map: prefix of " << n << " bytes";
  }
  for (size_t n = 0; n < fullOfStrings.size(); ++n) {
    std::string_view prefix(fullOfStrings.data(), n);
    TrackedStateMap<std::string, std::vector<int64_t>> fresh;
    ASSERT_FALSE(fresh.readFull(prefix))
        << "prefix of " << n << " of " << fullOfStrings.size() << " bytes";
  }
  std::string_view whole = full;
  TrackedMap<int64_t, std::string> fresh;
  ASSERT_TRUE(fresh.readFull(whole));
  EXPECT_EQ(fresh.size(), 40u);
}

TEST(TrackedMapTest, EveryStrictPrefixOfADeltaIsRefused) {
  ChainedMap c;
  for (int64_t k = 0; k < 30; ++k) c.put(k, "base" + std::to_string(k));
  c.full();
  for (int64_t k = 0; k < 6; ++k) c.put(k, std::string(static_cast<size_t>(k), 'u'));  // incl. ""
  for (int64_t k = 100; k < 104; ++k) c.put(k, "new");
  for (int64_t k = 20; k < 25; ++k) EXPECT_TRUE(c.erase(k));
  const auto d = c.delta();
  ASSERT_EQ(d.upsertRecords, 10u);
  ASSERT_EQ(d.deleteRecords, 5u);
  const std::string delta = c.lastBytes();

  auto restoredBase = [&] {
    TrackedMap<int64_t, std::string> m;
    std::string_view in = c.chain.front().bytes;
    EXPECT_TRUE(m.readFull(in));
    return m;
  };
  for (size_t n = 0; n < delta.size(); ++n) {
    auto m = restoredBase();
    std::string_view prefix(delta.data(), n);
    ASSERT_FALSE(m.applyDelta(prefix)) << "prefix of " << n << " of " << delta.size() << " bytes";
  }
  for (size_t n = 0; n < kEmptyDelta.size(); ++n) {
    auto m = restoredBase();
    std::string_view prefix(kEmptyDelta.data(), n);
    ASSERT_FALSE(m.applyDelta(prefix)) << "prefix of " << n << " bytes of an empty delta";
  }
  auto m = restoredBase();
  std::string_view whole = delta;
  ASSERT_TRUE(m.applyDelta(whole));
  EXPECT_TRUE(whole.empty());
  EXPECT_EQ(contentsOf(m), c.model);
}

TEST(TrackedMapTest, ImplausibleCountsAreRefused) {
  const uint64_t huge = uint64_t{1} << 60;
  TrackedMap<int64_t, std::string> m;
  m.put(int64_t{1}, "one");
  std::string_view in;

  const std::string full = u64Bytes(huge) + u64Bytes(1) + u64Bytes(0);
  in = full;
  EXPECT_FALSE(m.readFull(in));
  const std::string upserts = u64Bytes(huge) + u64Bytes(1) + u64Bytes(0) + u64Bytes(0);
  in = upserts;
  EXPECT_FALSE(m.applyDelta(in));
  const std::string deletes =
      u64Bytes(1) + u64Bytes(7) + u64Bytes(1) + "x" + u64Bytes(huge) + u64Bytes(1);
  in = deletes;
  EXPECT_FALSE(m.applyDelta(in));
  const std::string valueLength = u64Bytes(1) + u64Bytes(7) + u64Bytes(huge) + "x" + u64Bytes(0);
  in = valueLength;
  EXPECT_FALSE(m.applyDelta(in));
}

// ---------------------------------------------------------------------------------------------
// KeyedTable: incremental snapshots of state written through the keyed state API

constexpr int kMaxParallelism = 128;

using Acc = std::pair<int64_t, int64_t>;  // count, sum

struct CountSumAgg {
  Acc createAccumulator() const { return {0, 0}; }
  void add(const int64_t& v, Acc& acc) const {
    acc.first += 1;
    acc.second += v;
  }
  int64_t getResult(const Acc& acc) const { return acc.second; }
};

struct Plus {
  int64_t operator()(int64_t a, int64_t b) const { return a + b; }
};

/// The state handles of one keyed operator subtask, and the key context they read.
struct Handles {
  explicit Handles(StateBackend* backend)
      : registry(backend, &ctx, "op/"),
        value(registry.valueState<std::string>("value")),
        list(registry.listState<int64_t>("list")),
        agg(registry.aggregatingState<int64_t>("agg", CountSumAgg{})),
        sum(registry.reducingState<int64_t>("sum", Plus{})) {}
  void at(int64_t k) {
    key = k;
    ctx.key = &key;
    ctx.keyGroup = keyGroupFor(hashKey(key), kMaxParallelism);
  }

  KeyContext<int64_t> ctx;
  int64_t key = 0;
  KeyedStateRegistry<int64_t> registry;
  ValueState<int64_t, std::string> value;
  ListState<int64_t, int64_t> list;
  AggregatingState<int64_t, int64_t, CountSumAgg> agg;
  ReducingState<int64_t, int64_t, Plus> sum;
};

const std::vector<std::string> kTables = {"op/value", "op/list", "op/agg", "op/sum"};

using Groups = std::map<int32_t, std::string>;

/// Snapshots (full or delta) every key group of `table`.
Groups snapshotGroups(StateBackend& backend, const std::string& table, bool delta) {
  Groups out;
  StateTable* t = backend.findTable(table);
  if (t == nullptr) {
    ADD_FAILURE() << "no table " << table;
    return out;
  }
  for (int32_t kg = backend.keyGroups().first; kg <= backend.keyGroups().last; ++kg) {
    std::string bytes;
    const Status s = delta ? t->snapshotKeyGroupDelta(KeyGroup{kg}, bytes)
                           : t->snapshotKeyGroup(KeyGroup{kg}, bytes);
    EXPECT_TRUE(s.isOk()) << table << " key group " << kg << ": " << s.toString();
    out[kg] = std::move(bytes);
  }
  return out;
}

/// The deltas of all key groups of one table, merged; every key is in the key group it hashes to.
template <class V>
DeltaContents<int64_t, V> decodeGroups(const Groups& groups) {
  DeltaContents<int64_t, V> all;
  for (const auto& [kg, bytes] : groups) {
    const auto d = decodeDelta<int64_t, V>(bytes);
    for (const auto& [k, v] : d.upserts) {
      EXPECT_EQ(keyGroupFor(hashKey(k), kMaxParallelism).value, kg) << "key " << k;
      all.upserts.emplace(k, v);
    }
    for (const auto& k : d.deletes) {
      EXPECT_EQ(keyGroupFor(hashKey(k), kMaxParallelism).value, kg) << "key " << k;
      all.deletes.insert(k);
    }
    all.upsertRecords += d.upsertRecords;
    all.deleteRecords += d.deleteRecords;
  }
  return all;
}

/// What a table holds, over all its key groups.
template <class V>
std::map<int64_t, V> contentsOf(StateBackend& backend, const std::string& table) {
  std::map<int64_t, V> out;
  auto t = backend.keyedTable<int64_t, V>(table);
  if (!t.isOk()) {
    ADD_FAILURE() << t.status().toString();
    return out;
  }
  for (int32_t kg = backend.keyGroups().first; kg <= backend.keyGroups().last; ++kg) {
    for (const auto& [k, v] : (*t)->mapOf(KeyGroup{kg})) {
      EXPECT_EQ(keyGroupFor(hashKey(k), kMaxParallelism).value, kg) << "key " << k;
      out.emplace(k, v);
    }
  }
  return out;
}

/// What the four tables should hold.
struct Expected {
  std::map<int64_t, std::string> value;
  std::map<int64_t, std::vector<int64_t>> list;
  std::map<int64_t, Acc> agg;
  std::map<int64_t, int64_t> sum;
};

template <class V>
std::map<int64_t, V> only(const std::map<int64_t, V>& m, std::initializer_list<int64_t> keys) {
  std::map<int64_t, V> out;
  for (int64_t k : keys) out.emplace(k, m.at(k));
  return out;
}

KeyGroupRange allKeyGroups() {
  return keyGroupRangeFor(kMaxParallelism, 1, 0);
}

/// Fills keys 0..kKeys-1 through the handles, mirrored in `model`.
void fill(Handles& h, Expected& model, int64_t keys) {
  for (int64_t k = 0; k < keys; ++k) {
    h.at(k);
    h.value.update("v" + std::to_string(k));
    model.value[k] = "v" + std::to_string(k);
    for (int64_t i = 0; i < k % 3; ++i) {
      h.list.add(k * 10 + i);
      model.list[k].push_back(k * 10 + i);
    }
    for (int64_t i = 0; i <= k % 4; ++i) {
      h.agg.add(k + i);
      model.agg[k].first += 1;
      model.agg[k].second += k + i;
    }
    h.sum.add(k);
    h.sum.add(1);
    model.sum[k] = k + 1;
  }
}

TEST(KeyedTableDeltaTest, DeltaOfStateWrittenThroughHandlesRestoresToEqualContents) {
  HeapStateBackend source(allKeyGroups(), kMaxParallelism);
  Handles src(&source);
  ASSERT_TRUE(src.registry.status().isOk()) << src.registry.status().toString();
  Expected model;
  fill(src, model, 300);

  std::map<std::string, Groups> full;
  for (const auto& t : kTables) full[t] = snapshotGroups(source, t, false);
  for (const auto& t : kTables) {
    EXPECT_EQ(source.findTable(t)->deltaStats().live, source.findTable(t)->keyCount()) << t;
    EXPECT_EQ(source.findTable(t)->deltaStats().superseded, 0u) << t;
  }

  // Writes through the handles.
  src.at(1);
  src.value.update("one");
  model.value[1] = "one";
  src.at(2);
  src.value.getOrCreate() += "+two";
  model.value[2] += "+two";
  src.at(3);
  *src.value.get() += "!";
  model.value[3] += "!";
  src.at(4);
  src.value.clear();
  model.value.erase(4);
  src.at(5);  // has a list
  src.list.add(55);
  model.list[5].push_back(55);
  src.at(6);  // has no list
  src.list.add(66);
  model.list[6].push_back(66);
  src.at(10);
  src.list.clear();
  model.list.erase(10);
  src.at(11);
  src.list.get().clear();  // an empty list is still state
  model.list[11].clear();
  src.at(7);
  src.agg.add(70);
  model.agg[7].first += 1;
  model.agg[7].second += 70;
  src.at(8);
  src.agg.add(80);
  model.agg[8].first += 1;
  model.agg[8].second += 80;
  src.at(9);
  src.sum.add(1000);
  model.sum[9] += 1000;
  src.at(1000);  // a new key in every table
  src.value.update("new");
  model.value[1000] = "new";
  src.list.add(1);
  model.list[1000].push_back(1);
  src.agg.add(5);
  model.agg[1000] = {1, 5};
  src.sum.add(5);
  model.sum[1000] = 5;
  // Reads that are not changes.
  for (int64_t k = 20; k < 120; ++k) {
    src.at(k);
    ASSERT_NE(src.value.peek(), nullptr);
    EXPECT_EQ(*src.value.peek(), model.value[k]);
    EXPECT_TRUE(src.value.contains());
    EXPECT_EQ(src.agg.get(), model.agg[k].second);
    ASSERT_NE(src.sum.get(), nullptr);
    EXPECT_EQ(*src.sum.get(), model.sum[k]);
    EXPECT_EQ(src.list.contains(), model.list.count(k) != 0);
  }

  std::map<std::string, Groups> delta;
  for (const auto& t : kTables) delta[t] = snapshotGroups(source, t, true);

  const auto dv = decodeGroups<std::string>(delta["op/value"]);
  EXPECT_EQ(dv.upserts, only(model.value, {1, 2, 3, 1000}));
  EXPECT_EQ(dv.deletes, (std::set<int64_t>{4}));
  const auto dl = decodeGroups<std::vector<int64_t>>(delta["op/list"]);
  EXPECT_EQ(dl.upserts, only(model.list, {5, 6, 11, 1000}));
  EXPECT_EQ(dl.deletes, (std::set<int64_t>{10}));
  const auto da = decodeGroups<Acc>(delta["op/agg"]);
  EXPECT_EQ(da.upserts, only(model.agg, {7, 8, 1000}));
  EXPECT_TRUE(da.deletes.empty());
  const auto ds = decodeGroups<int64_t>(delta["op/sum"]);
  EXPECT_EQ(ds.upserts, only(model.sum, {9, 1000}));
  EXPECT_TRUE(ds.deletes.empty());

  // Superseded: updates of existing keys +1, deletions +2, new keys +0.
  EXPECT_EQ(source.findTable("op/value")->deltaStats().superseded, 3u + 2u);
  EXPECT_EQ(source.findTable("op/list")->deltaStats().superseded, 2u + 2u);
  EXPECT_EQ(source.findTable("op/agg")->deltaStats().superseded, 2u);
  EXPECT_EQ(source.findTable("op/sum")->deltaStats().superseded, 1u);
  for (const auto& t : kTables)
    EXPECT_EQ(source.findTable(t)->deltaStats().live, source.findTable(t)->keyCount()) << t;
  EXPECT_EQ(source.keyedDeltaStats().superseded, 5u + 4u + 2u + 1u);

  // Restore key group by key group: the full snapshot, then the delta.
  HeapStateBackend target(allKeyGroups(), kMaxParallelism);
  Handles dst(&target);
  for (const auto& t : kTables) {
    StateTable* table = target.findTable(t);
    ASSERT_NE(table, nullptr) << t;
    for (int32_t kg = 0; kg < kMaxParallelism; ++kg) {
      const Status r = table->restoreKeyGroup(KeyGroup{kg}, full[t][kg]);
      ASSERT_TRUE(r.isOk()) << t << " key group " << kg << ": " << r.toString();
      const Status a = table->applyKeyGroupDelta(KeyGroup{kg}, delta[t][kg]);
      ASSERT_TRUE(a.isOk()) << t << " key group " << kg << ": " << a.toString();
    }
  }
  EXPECT_EQ(contentsOf<std::string>(target, "op/value"), model.value);
  EXPECT_EQ(contentsOf<std::vector<int64_t>>(target, "op/list"), model.list);
  EXPECT_EQ(contentsOf<Acc>(target, "op/agg"), model.agg);
  EXPECT_EQ(contentsOf<int64_t>(target, "op/sum"), model.sum);
  EXPECT_EQ(contentsOf<std::string>(target, "op/value"),
            contentsOf<std::string>(source, "op/value"));
  EXPECT_EQ(contentsOf<std::vector<int64_t>>(target, "op/list"),
            contentsOf<std::vector<int64_t>>(source, "op/list"));
  EXPECT_EQ(contentsOf<Acc>(target, "op/agg"), contentsOf<Acc>(source, "op/agg"));
  EXPECT_EQ(contentsOf<int64_t>(target, "op/sum"), contentsOf<int64_t>(source, "op/sum"));
  // And through the handles of the restored subtask.
  dst.at(3);
  ASSERT_NE(dst.value.peek(), nullptr);
  EXPECT_EQ(*dst.value.peek(), "v3!");
  dst.at(4);
  EXPECT_FALSE(dst.value.contains());
  dst.at(7);
  EXPECT_EQ(dst.agg.get(), model.agg[7].second);
  dst.at(11);
  EXPECT_TRUE(dst.list.contains());
  EXPECT_TRUE(dst.list.get().empty());

  // The same through the backend: restoreKeyed, then applyKeyedDelta by table name.
  HeapStateBackend third(allKeyGroups(), kMaxParallelism);
  Handles h3(&third);
  ASSERT_TRUE(third.restoreKeyed(full).isOk());
  ASSERT_TRUE(third.applyKeyedDelta(delta).isOk());
  EXPECT_EQ(contentsOf<std::string>(third, "op/value"), model.value);
  EXPECT_EQ(contentsOf<std::vector<int64_t>>(third, "op/list"), model.list);
  EXPECT_EQ(contentsOf<Acc>(third, "op/agg"), model.agg);
  EXPECT_EQ(contentsOf<int64_t>(third, "op/sum"), model.sum);
}

TEST(KeyedTableDeltaTest, RestoreAtTwoSubtasksTakesEachKeyGroupsChainFromTheWholeCheckpoint) {
  HeapStateBackend source(allKeyGroups(), kMaxParallelism);
  Handles src(&source);
  Expected model;
  fill(src, model, 200);
  std::map<std::string, Groups> full;
  for (const auto& t : kTables) full[t] = snapshotGroups(source, t, false);
  for (int64_t k = 0; k < 200; k += 7) {
    src.at(k);
    src.value.update("changed" + std::to_string(k));
    model.value[k] = "changed" + std::to_string(k);
  }
  for (int64_t k = 3; k < 200; k += 50) {
    src.at(k);
    src.value.clear();
    model.value.erase(k);
  }
  std::map<std::string, Groups> delta;
  for (const auto& t : kTables) delta[t] = snapshotGroups(source, t, true);

  std::map<int64_t, std::string> merged;
  for (int s = 0; s < 2; ++s) {
    HeapStateBackend part(keyGroupRangeFor(kMaxParallelism, 2, s), kMaxParallelism);
    Handles h(&part);
    ASSERT_TRUE(part.restoreKeyed(full).isOk());
    ASSERT_TRUE(part.applyKeyedDelta(delta).isOk());
    for (const auto& [k, v] : contentsOf<std::string>(part, "op/value"))
      EXPECT_TRUE(merged.emplace(k, v).second) << k;
  }
  EXPECT_EQ(merged, model.value);
}

/// A running maximum whose add() says whether it raised it.
struct MaxAgg {
  int64_t createAccumulator() const { return INT64_MIN; }
  bool add(const int64_t& v, int64_t& max) const {
    if (v <= max) return false;
    max = v;
    return true;
  }
  int64_t getResult(const int64_t& max) const { return max; }
};

TEST(KeyedTableDeltaTest, AggregatingStateLeavesKeysWhoseAddReportedNoChangeOutOfTheDelta) {
  HeapStateBackend backend(allKeyGroups(), kMaxParallelism);
  KeyContext<int64_t> ctx;
  int64_t key = 0;
  KeyedStateRegistry<int64_t> registry(&backend, &ctx, "op/");
  auto max = registry.aggregatingState<int64_t>("max", MaxAgg{});
  auto at = [&](int64_t k) {
    key = k;
    ctx.key = &key;
    ctx.keyGroup = keyGroupFor(hashKey(key), kMaxParallelism);
  };
  std::map<int64_t, int64_t> model;
  for (int64_t k = 0; k < 100; ++k) {
    at(k);
    EXPECT_EQ(max.add(10 * k), 10 * k);
    model[k] = 10 * k;
  }
  const Groups full = snapshotGroups(backend, "op/max", false);
  // Keys 0..99 get 5·k: lower for every key but 0, where it is equal. Keys 3 and 50 are raised;
  // key 200 is new.
  for (int64_t k = 0; k < 100; ++k) {
    at(k);
    EXPECT_EQ(max.add(5 * k), 10 * k) << k;
  }
  for (auto [k, v] : {std::pair<int64_t, int64_t>{3, 31}, {50, 1000}, {200, -7}}) {
    at(k);
    EXPECT_EQ(max.add(v), v);
    model[k] = v;
  }
  const Groups delta = snapshotGroups(backend, "op/max", true);
  const auto d = decodeGroups<int64_t>(delta);
  EXPECT_EQ(d.upserts, (std::map<int64_t, int64_t>{{3, 31}, {50, 1000}, {200, -7}}));
  EXPECT_TRUE(d.deletes.empty());

  HeapStateBackend restored(allKeyGroups(), kMaxParallelism);
  KeyedStateRegistry<int64_t> registry2(&restored, &ctx, "op/");
  auto max2 = registry2.aggregatingState<int64_t>("max", MaxAgg{});
  ASSERT_TRUE(restored.restoreKeyed({{"op/max", full}}).isOk());
  ASSERT_TRUE(restored.applyKeyedDelta({{"op/max", delta}}).isOk());
  EXPECT_EQ(contentsOf<int64_t>(restored, "op/max"), model);
  at(3);
  EXPECT_EQ(max2.get(), 31);
}

TEST(KeyedTableDeltaTest, PeekIsNotAChangeButGetIs) {
  HeapStateBackend backend(allKeyGroups(), kMaxParallelism);
  Handles h(&backend);
  Expected model;
  fill(h, model, 50);
  for (const auto& t : kTables) snapshotGroups(backend, t, false);

  auto deltaOf = [&](const std::string& table) { return snapshotGroups(backend, table, true); };
  auto allEmpty = [](const Groups& groups) {
    for (const auto& [kg, bytes] : groups)
      if (bytes != kEmptyDelta) return false;
    return true;
  };

  // Read-only access through every handle: empty deltas in every key group.
  for (int64_t k = 0; k < 60; ++k) {
    h.at(k);
    (void)h.value.peek();
    (void)h.value.contains();
    (void)h.agg.get();
    (void)h.sum.get();
    (void)h.list.contains();
    EXPECT_EQ(h.value.get() == nullptr, k >= 50) << "get of an absent key creates nothing";
    if (k >= 50) {
      EXPECT_FALSE(h.value.contains());
    }
  }
  // get() of absent keys above wrote nothing, but get() of present ones did: take a clean epoch.
  for (const auto& t : kTables) deltaOf(t);
  for (int64_t k = 0; k < 60; ++k) {
    h.at(k);
    (void)h.value.peek();
    (void)h.agg.get();
    (void)h.sum.get();
  }
  for (const auto& t : kTables) EXPECT_TRUE(allEmpty(deltaOf(t))) << t;

  // get() hands out a mutable pointer: a change, even if nothing is written through it.
  h.at(7);
  ASSERT_NE(h.value.peek(), nullptr);
  ASSERT_NE(h.value.get(), nullptr);
  const auto d = decodeGroups<std::string>(deltaOf("op/value"));
  EXPECT_EQ(d.upserts, only(model.value, {7}));
  EXPECT_TRUE(d.deletes.empty());
  EXPECT_EQ(d.upsertRecords, 1u);

  // getOrCreate of ValueState and get() of ListState are mutable access too (documented so).
  h.at(8);
  (void)h.value.getOrCreate();
  EXPECT_EQ(decodeGroups<std::string>(deltaOf("op/value")).upserts, only(model.value, {8}));
  h.at(8);
  (void)h.list.get();
  EXPECT_EQ(decodeGroups<std::vector<int64_t>>(deltaOf("op/list")).upserts, only(model.list, {8}));
}

TEST(KeyedTableDeltaTest, TruncatedOrOverlongDeltaIsCorruption) {
  HeapStateBackend backend(allKeyGroups(), kMaxParallelism);
  Handles h(&backend);
  Expected model;
  fill(h, model, 300);
  const Groups full = snapshotGroups(backend, "op/value", false);
  for (int64_t k = 0; k < 300; k += 3) {
    h.at(k);
    if (k % 2 == 0) {
      h.value.update("x");
    } else {
      h.value.clear();
    }
  }
  const Groups delta = snapshotGroups(backend, "op/value", true);
  // The key group with the longest delta.
  int32_t rich = 0;
  for (const auto& [kg, bytes] : delta)
    if (bytes.size() > delta.at(rich).size()) rich = kg;
  const std::string& bytes = delta.at(rich);
  ASSERT_GT(bytes.size(), kEmptyDelta.size());
  {
    const auto d = decodeDelta<int64_t, std::string>(bytes);
    ASSERT_GT(d.upsertRecords, 0u);
    ASSERT_GT(d.deleteRecords, 0u);
  }

  auto applyTo = [&](const std::string& b) {
    KeyedTable<int64_t, std::string> t(allKeyGroups());
    Status r = t.restoreKeyGroup(KeyGroup{rich}, full.at(rich));
    EXPECT_TRUE(r.isOk()) << r.toString();
    return t.applyKeyGroupDelta(KeyGroup{rich}, b);
  };
  ASSERT_TRUE(applyTo(bytes).isOk());
  for (size_t n = 0; n < bytes.size(); ++n) {
    const Status s = applyTo(bytes.substr(0, n));
    ASSERT_EQ(s.code(), StatusCode::kCorruption)
        << "prefix of " << n << " of " << bytes.size() << ": " << s.toString();
  }
  EXPECT_EQ(applyTo(bytes + "\x01").code(), StatusCode::kCorruption);

  KeyedTable<int64_t, std::string> upper(keyGroupRangeFor(kMaxParallelism, 2, 1));
  EXPECT_EQ(upper.applyKeyGroupDelta(KeyGroup{0}, kEmptyDelta).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace reka
