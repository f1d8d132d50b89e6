// What change tracking costs on the write path of keyed state, apart from the snapshots.
//
//   reka_tracked_map_bench [--ops N] [--epoch-ops E] [--keys K] [--rounds R] [--maps M]
//                          [--value-bytes B]
//
// The same stream of upserts (random (i64, i64) keys, i64 values, mostly new keys as in q18)
// goes into three maps, each in a fresh child process, the three taking turns in every round.
// With --maps M each is M maps, a key going to the map its hash picks (as keyed state has a map
// per key group: 128 for one subtask at the default maximum parallelism); with --value-bytes B
// every value is a string of B bytes on the heap instead of an i64 (q18 keeps a bid of about
// 200 bytes per key):
//   plain    absl::flat_hash_map: the hand-written baseline;
//   untracked  TrackedMap before its first snapshot (what a job without checkpoints runs);
//   tracked  TrackedMap after a first snapshot, with writeDelta every E upserts (a checkpoint).
// Printed: the median over rounds of thread-CPU nanoseconds per upsert for each map, and for the
// tracked one the nanoseconds per upsert its deltas took, measured apart from the upserts.

#include <CLI/CLI.hpp>

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

#include "../common/ChildProcess.h"
#include "base/ProcessStats.h"
#include "reka/state/TrackedMap.h"

namespace {

using Key = std::pair<int64_t, int64_t>;

struct Stream {
  uint64_t x = 88172645463325252ull;  // xorshift64: the same keys in every process
  int64_t keys;
  Key next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const auto k = static_cast<int64_t>(x % static_cast<uint64_t>(keys));
    return {k / 1'000'000, k % 1'000'000};
  }
};

/// What one upsert writes: an i64, or a string of `valueBytes` bytes (the same for every key,
/// its first bytes the upsert's number).
struct Values {
  size_t valueBytes = 0;
  template <class V>
  V make(int64_t v) const {
    if constexpr (std::is_same_v<V, int64_t>) {
      return v;
    } else {
      std::string s(valueBytes, 'v');
      std::memcpy(s.data(), &v, std::min(sizeof v, valueBytes));
      return s;
    }
  }
};

/// The map of `k` among `maps` (a hash, so that consecutive keys spread as key groups do).
size_t mapOf(const Key& k, size_t maps) {
  const uint64_t h = (static_cast<uint64_t>(k.first) * 0x9E3779B97F4A7C15ull) ^ static_cast<uint64_t>(k.second);
  return static_cast<size_t>((h * 0xBF58476D1CE4E5B9ull) >> 40) % maps;
}

struct Costs {
  double upsertNs = 0;
  double deltaNs = 0;
  size_t size = 0;
};

template <class Upsert, class AfterEpoch>
Costs runEpochs(int64_t ops, int64_t epochOps, int64_t keys, Upsert&& upsert, AfterEpoch&& afterEpoch) {
  Stream s{.keys = keys};
  int64_t upsertNs = 0, deltaNs = 0;
  for (int64_t done = 0; done < ops; done += epochOps) {
    const int64_t t0 = reka::threadCpuNanos();
    const int64_t n = std::min(epochOps, ops - done);
    for (int64_t i = 0; i < n; ++i) upsert(s.next(), done + i);
    const int64_t t1 = reka::threadCpuNanos();
    afterEpoch();
    deltaNs += reka::threadCpuNanos() - t1;
    upsertNs += t1 - t0;
  }
  return Costs{static_cast<double>(upsertNs) / static_cast<double>(ops), static_cast<double>(deltaNs) / static_cast<double>(ops), 0};
}

template <class V>
Costs plainOf(int64_t ops, int64_t epochOps, int64_t keys, size_t maps, const Values& values) {
  std::vector<absl::flat_hash_map<Key, V>> m(maps);
  Costs c = runEpochs(
      ops, epochOps, keys, [&](const Key& k, int64_t v) { m[mapOf(k, maps)][k] = values.make<V>(v); }, [] {});
  for (const auto& one : m) c.size += one.size();
  return c;
}

template <class V>
Costs trackedOf(int64_t ops, int64_t epochOps, int64_t keys, size_t maps, const Values& values, bool track) {
  std::vector<reka::TrackedMap<Key, V>> m(maps);
  std::string out;
  if (track)
    for (auto& one : m) one.writeDelta(out);  // the first snapshot: tracking starts
  Costs c = runEpochs(
      ops, epochOps, keys,
      [&](const Key& k, int64_t v) { m[mapOf(k, maps)].put(k, values.make<V>(v)); },
      [&] {
        if (!track) return;
        out.clear();
        for (auto& one : m) one.writeDelta(out);
      });
  for (const auto& one : m) c.size += one.size();
  return c;
}

Costs plain(int64_t ops, int64_t epochOps, int64_t keys, size_t maps, const Values& values) {
  return values.valueBytes == 0 ? plainOf<int64_t>(ops, epochOps, keys, maps, values)
                                : plainOf<std::string>(ops, epochOps, keys, maps, values);
}

Costs tracked(int64_t ops, int64_t epochOps, int64_t keys, size_t maps, const Values& values, bool track) {
  return values.valueBytes == 0 ? trackedOf<int64_t>(ops, epochOps, keys, maps, values, track)
                                : trackedOf<std::string>(ops, epochOps, keys, maps, values, track);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Reka state benchmark: what change tracking costs on the write path"};
  int64_t ops = 20'000'000;
  int64_t epochOps = 2'000'000;
  int64_t keys = 100'000'000'000;
  int rounds = 5;
  app.add_option("--ops", ops, "upserts per run (default 20000000)")->check(CLI::PositiveNumber);
  app.add_option("--epoch-ops", epochOps, "upserts between deltas (default 2000000)")->check(CLI::PositiveNumber);
  app.add_option("--keys", keys, "distinct keys drawn from (default 1e11: nearly every key new)")->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "rounds; each runs the three maps in turn (default 5)")->check(CLI::Range(1, 50));
  int maps = 1;
  app.add_option("--maps", maps, "maps the keys are spread over, as key groups (default 1)")->check(CLI::Range(1, 32768));
  Values values;
  app.add_option("--value-bytes", values.valueBytes, "values: strings of this many bytes (default 0: i64 values)")
      ->check(CLI::Range(0, 1 << 20));
  CLI11_PARSE(app, argc, argv);

  const char* names[] = {"plain flat_hash_map", "TrackedMap, untracked", "TrackedMap, tracked"};
  std::vector<double> upsert[3], delta[3];
  size_t sizes[3] = {0, 0, 0};
  for (int r = 0; r < rounds; ++r) {
    for (int m = 0; m < 3; ++m) {
      const int which = (m + r) % 3;  // a different one first in every round
      const std::string text = reka::bench::runInChild([&] {
        const size_t n = static_cast<size_t>(maps);
        const Costs c = which == 0 ? plain(ops, epochOps, keys, n, values) : tracked(ops, epochOps, keys, n, values, which == 2);
        char buf[128];
        std::snprintf(buf, sizeof buf, "%.3f %.3f %zu", c.upsertNs, c.deltaNs, c.size);
        return std::string(buf);
      });
      double u = 0, d = 0;
      size_t size = 0;
      if (std::sscanf(text.c_str(), "%lf %lf %zu", &u, &d, &size) != 3) {
        std::fprintf(stderr, "%s: the run reported no result\n", names[which]);
        return 1;
      }
      upsert[which].push_back(u);
      delta[which].push_back(d);
      sizes[which] = size;
    }
  }
  if (sizes[0] != sizes[1] || sizes[1] != sizes[2]) {
    std::fprintf(stderr, "the maps ended with different sizes: %zu, %zu, %zu\n", sizes[0], sizes[1], sizes[2]);
    return 1;
  }
  std::printf("%lld upserts into %d map(s), values %s, a delta every %lld, %zu keys at the end, median of %d rounds, thread CPU per upsert\n\n",
              static_cast<long long>(ops), maps, values.valueBytes == 0 ? "i64" : (std::to_string(values.valueBytes) + "-byte strings").c_str(),
              static_cast<long long>(epochOps), sizes[0], rounds);
  std::printf("| map | upsert ns | vs plain | deltas ns | every round's upsert ns |\n|---|---|---|---|---|\n");
  for (int m = 0; m < 3; ++m) {
    std::string all;
    for (double u : upsert[m]) all += (all.empty() ? "" : ", ") + std::to_string(static_cast<int>(u + 0.5));
    std::printf("| %s | %.1f | %.2f | %.1f | %s |\n", names[m], median(upsert[m]), median(upsert[m]) / median(upsert[0]),
                median(delta[m]), all.c_str());
  }
  return 0;
}
