#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <xxhash.h>

namespace reka {

/// A key group: the unit in which keyed state is partitioned, snapshotted and redistributed.
/// key group = hash(key) mod maxParallelism; a subtask owns a contiguous range of key groups.
struct KeyGroup {
  int32_t value;
  friend bool operator==(KeyGroup a, KeyGroup b) { return a.value == b.value; }
};

/// The contiguous key groups [first, last] owned by one subtask.
struct KeyGroupRange {
  int32_t first = 0;
  int32_t last = -1;
  int32_t size() const { return last - first + 1; }
  bool contains(KeyGroup kg) const { return kg.value >= first && kg.value <= last; }
};

/// Key group range of `subtask` at `parallelism` (Flink's assignment: ranges of near-equal size).
inline KeyGroupRange keyGroupRangeFor(int maxParallelism, int parallelism, int subtask) {
  int32_t first = static_cast<int32_t>((static_cast<int64_t>(subtask) * maxParallelism + parallelism - 1) / parallelism);
  int32_t end = static_cast<int32_t>((static_cast<int64_t>(subtask + 1) * maxParallelism + parallelism - 1) / parallelism);
  return {first, end - 1};
}

/// The subtask that owns `kg` (inverse of keyGroupRangeFor).
inline int subtaskFor(KeyGroup kg, int maxParallelism, int parallelism) {
  return static_cast<int>(static_cast<int64_t>(kg.value) * parallelism / maxParallelism);
}

inline KeyGroup keyGroupFor(uint64_t keyHash, int maxParallelism) {
  return {static_cast<int32_t>(keyHash % static_cast<uint64_t>(maxParallelism))};
}

/// Hashes a key for key-group assignment. Stable across runs and platforms (it decides where
/// state lives in a checkpoint). Specialise for user key types.
template <class K, class Enable = void>
struct KeyHash;

inline uint64_t mixHash64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

template <class K>
struct KeyHash<K, std::enable_if_t<std::is_integral_v<K> || std::is_enum_v<K>>> {
  uint64_t operator()(K k) const { return mixHash64(static_cast<uint64_t>(k)); }
};

template <>
struct KeyHash<std::string_view> {
  uint64_t operator()(std::string_view s) const { return XXH3_64bits(s.data(), s.size()); }
};
template <>
struct KeyHash<std::string> {
  uint64_t operator()(const std::string& s) const { return XXH3_64bits(s.data(), s.size()); }
};

template <class A, class B>
struct KeyHash<std::pair<A, B>> {
  uint64_t operator()(const std::pair<A, B>& p) const {
    return mixHash64(KeyHash<A>{}(p.first) * 31 + KeyHash<B>{}(p.second));
  }
};

template <class K>
uint64_t hashKey(const K& key) {
  return KeyHash<K>{}(key);
}

}  // namespace reka
