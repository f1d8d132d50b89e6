// CEP benchmarks: the 3-step pattern `a next b followedBy c within 10 min` over 10 000 and
// 1 000 000 keys against a hand-written per-key state machine for the same pattern in the same
// run (same matches, same checksum), on the heap and RocksDB state backends; and the memory of
// one partial match. Each measurement runs in its own child process so CPU time is its own.
#include <CLI/CLI.hpp>
#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "../common/Format.h"
#include "Measured.h"
#include "base/ProcessStats.h"
#include "nexmark/Rows.h"
#include "reka/cep/PatternStream.h"
#include "reka/reka.h"

namespace {

using namespace reka;

struct Ev {
  int64_t key;
  int64_t ts;  ///< ms
  char kind;   ///< 'a', 'b', 'c' or 'x'
};

}  // namespace

template <>
struct reka::Serde<Ev> {
  static void write(const Ev& e, std::string& out) {
    Serde<int64_t>::write(e.key, out);
    Serde<int64_t>::write(e.ts, out);
    Serde<char>::write(e.kind, out);
  }
  static bool read(std::string_view& in, Ev& e) {
    return Serde<int64_t>::read(in, e.key) && Serde<int64_t>::read(in, e.ts) && Serde<char>::read(in, e.kind);
  }
};

namespace {

constexpr int64_t kWithinMs = 10 * 60 * 1000;

/// Event i: key (i·A) mod K, kind from a hash of i (a 20 %, b 20 %, c 10 %, x 50 %), time
/// i·10000/K ms: each key gets an event every 10 s on average, whatever the number of keys.
struct Stream {
  int64_t records = 0;
  int64_t keys = 0;
  int64_t keyOf(int64_t i) const { return static_cast<int64_t>((static_cast<uint64_t>(i) * 2654435761ULL) % static_cast<uint64_t>(keys)); }
  static char kindOf(int64_t i) {
    const uint64_t h = (static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL) >> 54;  // 0..1023
    return h < 205 ? 'a' : h < 410 ? 'b' : h < 512 ? 'c' : 'x';
  }
  Ev at(int64_t i) const { return Ev{keyOf(i), i * 10'000 / keys, kindOf(i)}; }
};

uint64_t touchMatch(int64_t key, int64_t a, int64_t b, int64_t c) {
  using nexmark::combine;
  using nexmark::touchInt;
  return combine(touchInt(key), combine(touchInt(a), combine(touchInt(b), touchInt(c))));
}

using bench::Measured;

/// Runs `body` in a child process with its CPU time and peak RSS.
Measured inChild(const std::function<void(Measured&)>& body) {
  return bench::measureInChild([] { return 0; }, [&](int, Measured& m) { body(m); });
}

/// The hand-written state machine: per key, the a that waits for its b (strict: the next event
/// of the key must be b) and the (a, b) pairs that wait for a c (relaxed: every c completes all
/// of them), each dropped 10 minutes after its a; matches touched with the same hash.
Measured handWritten(const Stream& s) {
  return inChild([&](Measured& m) {
    struct Key {
      int64_t waitingB = -1;                            ///< ts of the a, or -1
      std::vector<std::pair<int64_t, int64_t>> waitingC;  ///< (a ts, b ts)
    };
    absl::flat_hash_map<int64_t, Key> keys;
    for (int64_t i = 0; i < s.records; ++i) {
      const Ev e = s.at(i);
      Key& k = keys[e.key];
      if (k.waitingB >= 0 && e.ts - k.waitingB >= kWithinMs) k.waitingB = -1;
      std::erase_if(k.waitingC, [&](const auto& p) { return e.ts - p.first >= kWithinMs; });
      if (k.waitingB >= 0) {
        if (e.kind == 'b') k.waitingC.emplace_back(k.waitingB, e.ts);
        k.waitingB = -1;
        if (e.kind == 'b') continue;
      }
      if (e.kind == 'c') {
        for (const auto& [a, b] : k.waitingC) {
          m.checksum += touchMatch(e.key, a, b, e.ts);
          ++m.matches;
        }
        k.waitingC.clear();
      } else if (e.kind == 'a') {
        k.waitingB = e.ts;
      }
    }
    m.events = s.records;
    m.ok = true;
  });
}

class Source final : public SourceFunction<Ev> {
 public:
  explicit Source(Stream s) : s_(s) {}
  SourceOperator::Poll poll(RecordBatch<Ev>& out, size_t max) override {
    const int64_t end = std::min(s_.records, next_ + static_cast<int64_t>(max));
    for (int64_t i = next_; i < end; ++i) out.records.push_back(s_.at(i));
    next_ = end;
    return next_ < s_.records ? SourceOperator::Poll::kMore : SourceOperator::Poll::kEnd;
  }

 private:
  Stream s_;
  int64_t next_ = 0;
};

struct Touch {
  std::shared_ptr<std::atomic<uint64_t>> sum;
  std::shared_ptr<std::atomic<int64_t>> n;
  void processMatch(const cep::Match<Ev>& m, KeyedContext<int64_t, int>&) {
    const Ev& a = m.get("a")[0];
    sum->fetch_add(touchMatch(a.key, a.ts, m.get("b")[0].ts, m.get("c")[0].ts), std::memory_order_relaxed);
    n->fetch_add(1, std::memory_order_relaxed);
  }
};

cep::Pattern<Ev> threeSteps() {
  return cep::Pattern<Ev>::begin("a")
      .where([](const Ev& e) { return e.kind == 'a'; })
      .next("b")
      .where([](const Ev& e) { return e.kind == 'b'; })
      .followedBy("c")
      .where([](const Ev& e) { return e.kind == 'c'; })
      .within(kWithinMs);
}

Measured engine(const Stream& s, bool rocksdb) {
  return inChild([&](Measured& m) {
    ExecutionConfig config;
    config.parallelism = 1;
    const auto dir = std::filesystem::temp_directory_path() / ("reka-cep-bench-" + std::to_string(::getpid()));
    if (rocksdb) {
      config.stateBackend.kind = StateBackendConfig::Kind::kRocksDb;
      config.stateBackend.rocksdb.localDir = dir.string();
    }
    StreamEnvironment env(config);
    auto sum = std::make_shared<std::atomic<uint64_t>>(0);
    auto n = std::make_shared<std::atomic<int64_t>>(0);
    auto events = env.fromSource<Ev>("events", [s] { return std::make_unique<Source>(s); },
                                     watermarks::monotonousTimestamps<Ev>([](const Ev& e) { return e.ts; }), 1);
    cep::pattern(events.keyBy([](const Ev& e) { return e.key; }), threeSteps(), [](const Ev& e) { return e.ts; })
        .process<int>("pattern", Touch{sum, n});
    m.ok = env.execute().isOk();
    m.events = s.records;
    m.matches = n->load();
    m.checksum = sum->load();
    std::filesystem::remove_all(dir);
  });
}

/// Bytes per partial match: `keys` keys, each left with `perKey` partial matches (a b pairs
/// waiting for their c), measured as the growth of the resident set.
Measured partialMatchMemory(int64_t keys, int perKey) {
  return inChild([&](Measured& m) {
    auto nfa = cep::Nfa<Ev>::compile(threeSteps()).value();
    std::vector<cep::NfaState<Ev>> states;
    states.reserve(static_cast<size_t>(keys));
    const int64_t before = peakRssBytes();
    std::vector<cep::Match<Ev>> matches;
    for (int64_t k = 0; k < keys; ++k) {
      states.push_back(nfa->initialState());
      for (int p = 0; p < perKey; ++p) {
        const int64_t ts = 2 * p;
        (void)nfa->process(states.back(), Ev{k, ts, 'a'}, ts, matches);
        (void)nfa->process(states.back(), Ev{k, ts + 1, 'b'}, ts + 1, matches);
      }
      m.matches += static_cast<int64_t>(states.back().startedCount());
    }
    m.bytes = peakRssBytes() - before;
    m.ok = matches.empty();
  });
}


}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Reka CEP benchmarks: a 3-step pattern vs a hand-written state machine"};
  int64_t records = 10'000'000;
  bool rocksdb = true;
  app.add_option("--records", records, "events per run (default 10000000)")->check(CLI::PositiveNumber);
  app.add_flag("!--no-rocksdb", rocksdb, "skip the RocksDB runs");
  std::vector<int64_t> keyCounts = {10'000, 1'000'000};
  app.add_option("--keys", keyCounts, "key counts to run (default 10000 1000000)")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  std::printf("Pattern a next b followedBy c within 10 min (P=1, in-process source, %lld events, one per key every 10 s)\n\n",
              static_cast<long long>(records));
  std::printf("| keys | backend | engine events/CPU-s | hand-written events/CPU-s | engine/hand | matches | peak RSS MiB | checksum |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  bool ok = true;
  for (int64_t keys : keyCounts) {
    Stream s{records, keys};
    const Measured hand = handWritten(s);
    for (bool onRocks : {false, true}) {
      if (onRocks && !rocksdb) continue;
      const Measured eng = engine(s, onRocks);
      const bool same = eng.ok && hand.matches == eng.matches && hand.checksum == eng.checksum;
      ok = ok && same;
      std::printf("| %lld | %s | %s | %s | %.2f | %lld | %lld | %s |\n", static_cast<long long>(keys), onRocks ? "rocksdb" : "heap",
                  bench::formatRate(eng.perCpu()).c_str(), bench::formatRate(hand.perCpu()).c_str(), eng.perCpu() / hand.perCpu(),
                  static_cast<long long>(eng.matches), static_cast<long long>(eng.peakRss >> 20), same ? "equal" : "MISMATCH");
      std::fflush(stdout);
    }
  }
  const Measured mem = partialMatchMemory(200'000, 4);
  std::printf("\nMemory per partial match (NFA state on the heap, 200000 keys x 4 partial matches): %.0f bytes\n",
              mem.matches > 0 ? static_cast<double>(mem.bytes) / static_cast<double>(mem.matches) : 0.0);
  return ok && mem.ok ? 0 : 1;
}
