// NEXMark macro benchmark: every implemented query through the engine (generator in-process,
// touching sink), each in its own child process so CPU time and peak RSS are its own, plus
// hand-written single-threaded loops doing the same work, and the ratio between them.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../common/Format.h"
#include "../common/ChildProcess.h"
#include "HandWritten.h"
#include "base/ProcessStats.h"
#include "nexmark/QueryJob.h"
#include "nexmark/Sinks.h"
#include "reka/reka.h"

namespace {

using namespace reka;

struct Measured {
  std::string name;
  int parallelism = 1;
  int64_t events = 0;
  double wall = 0;
  double cpu = 0;
  int64_t rows = 0;
  int64_t rssBytes = 0;
  uint64_t checksum = 0;
  bool ok = false;
  double perCpu() const { return cpu > 0 ? static_cast<double>(events) / cpu : 0; }
  double perWall() const { return wall > 0 ? static_cast<double>(events) / wall : 0; }
};

/// Runs `body` in a child process and returns what it measured (fresh RSS and CPU per run).
Measured inChild(const std::string& name, int parallelism,
                 const std::function<void(Measured&)>& body) {
  const std::string text = bench::runInChild([&] {
    Measured m;
    m.name = name;
    m.parallelism = parallelism;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = processCpuSeconds();
    body(m);
    m.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m.cpu = processCpuSeconds() - c0;
    m.rssBytes = peakRssBytes();
    char buf[512];
    std::snprintf(buf, sizeof buf, "%d %lld %.9f %.9f %lld %lld %llu\n", m.ok ? 1 : 0,
                  static_cast<long long>(m.events), m.wall, m.cpu, static_cast<long long>(m.rows),
                  static_cast<long long>(m.rssBytes), static_cast<unsigned long long>(m.checksum));
    return std::string(buf);
  });
  Measured m;
  m.name = name;
  m.parallelism = parallelism;
  int ok = 0;
  long long events = 0, rows = 0, rss = 0;
  unsigned long long checksum = 0;
  if (std::sscanf(text.c_str(), "%d %lld %lf %lf %lld %lld %llu", &ok, &events, &m.wall, &m.cpu,
                  &rows, &rss, &checksum) == 7) {
    m.ok = ok == 1;
    m.events = events;
    m.rows = rows;
    m.rssBytes = rss;
    m.checksum = checksum;
  }
  return m;
}

Measured runEngine(const std::string& query, const nexmark::GeneratorConfig& gen, int parallelism,
                   const std::string& backend = "heap") {
  return inChild(query, parallelism, [&](Measured& m) {
    ExecutionConfig config;
    config.parallelism = parallelism;
    if (backend == "rocksdb") config.stateBackend.kind = StateBackendConfig::Kind::kRocksDb;
    StreamEnvironment env(config);
    auto counters = std::make_shared<nexmark::QueryCounters>();
    nexmark::QueryJobOptions options;
    options.query = query;
    options.generator = gen;
    Status s;
    if (query == "keyed-count") {
      StreamEnvironment env2(config);
      struct KeyedCount {
        ValueState<int64_t, int64_t> count;
        void open(KeyedStateRegistry<int64_t>& r) { count = r.valueState<int64_t>("count"); }
        void processElement(const nexmark::Bid& b, KeyedContext<int64_t, nexmark::Q2Row>& ctx) {
          ctx.emit(nexmark::Q2Row{b.auction, ++count.getOrCreate()});  // (auction, count)
        }
      };
      auto rows = nexmark::bidsOf(nexmark::generatorSource(env2, gen))
                      .keyBy([](const nexmark::Bid& b) { return b.auction; })
                      .process<nexmark::Q2Row>("keyed-count", KeyedCount{});
      nexmark::attachSink(rows, options, counters);
      s = env2.execute();
    } else {
      auto built = nexmark::buildQueryJob(env, options);
      s = built.isOk() ? env.execute() : built.status();
      if (built.isOk()) counters = *built;
    }
    if (!s.isOk()) std::fprintf(stderr, "%s failed: %s\n", query.c_str(), s.toString().c_str());
    m.ok = s.isOk();
    m.events = gen.events;
    m.rows = counters->outputRows.load();
    m.checksum = counters->checksum.load();
  });
}

Measured runLoop(const std::string& name, const nexmark::GeneratorConfig& gen) {
  return inChild(name, 1, [&](Measured& m) {
    bench::LoopResult r = bench::runHandWritten(name, gen);
    m.ok = true;
    m.events = r.events;
    m.rows = r.rows;
    m.checksum = r.checksum;
  });
}


}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Reka NEXMark benchmark: engine vs hand-written loops"};
  int64_t events = 10'000'000;
  double rate = 10'000'000;
  std::vector<std::string> queries = {"q0",  "q1",  "q2",  "q3",  "q4",  "q5",         "q6",  "q7",
                                      "q8",  "q9",  "q11", "q12", "q13", "q14",        "q15", "q17",
                                      "q18", "q19", "q20", "q21", "q22", "keyed-count"};
  std::vector<int> parallelisms = {1};
  std::vector<std::string> backends = {"heap"};
  bool scaling = true;
  bool rssCheck = true;
  app.add_option("--events", events, "events per run (default 10000000)")
      ->check(CLI::PositiveNumber);
  app.add_option("--rate", rate, "event-time rate R (default 10000000)")
      ->check(CLI::PositiveNumber);
  app.add_option("--queries", queries, "queries to run (default: all implemented + keyed-count)");
  app.add_option("--parallelism", parallelisms, "parallelisms to run each query at (default 1)");
  app.add_option("--state-backends", backends,
                 "state backends to run each query on: heap, rocksdb (default heap)")
      ->check(CLI::IsMember({"heap", "rocksdb"}));
  app.add_flag("!--no-scaling", scaling, "skip the q1 P=1 vs P=2 wall-clock scaling run");
  app.add_flag("!--no-rss-check", rssCheck, "skip the q0-q2 peak RSS vs events check");
  CLI11_PARSE(app, argc, argv);

  nexmark::GeneratorConfig gen;
  gen.events = events;
  gen.rate = rate;
  const std::map<std::string, std::string> loops = {
      {"q0", "q0"}, {"q1", "q1"}, {"q2", "q2"}, {"keyed-count", "keyed-count"}};

  std::printf("NEXMark, generator in-process, N = %lld, R = %.0f/s, %ld cores\n\n",
              static_cast<long long>(events), rate, sysconf(_SC_NPROCESSORS_ONLN));
  std::printf(
      "| query | backend | P | events | wall s | CPU s | events/CPU-s | events/s | peak RSS MiB | "
      "output rows | hand-written events/CPU-s | engine/hand |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  bool allOk = true;
  for (const auto& q : queries) {
    std::optional<Measured> loop;
    if (loops.count(q)) loop = runLoop(loops.at(q), gen);
    for (int p : parallelisms) {
      std::optional<Measured> first;
      for (const auto& backend : backends) {
        Measured m = runEngine(q, gen, p, backend);
        allOk = allOk && m.ok;
        // Every backend must give the first one's rows.
        std::string same;
        if (!first)
          first = m;
        else if (first->rows != m.rows || first->checksum != m.checksum)
          same = " (ROWS DIFFER FROM " + backends.front() + ")";
        std::string hand = "—", ratio = "—";
        if (loop) {
          hand = bench::formatRate(loop->perCpu());
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.2f", m.perCpu() / loop->perCpu());
          ratio = buf;
          if (loop->rows != m.rows || loop->checksum != m.checksum) ratio += " (MISMATCH)";
        }
        std::printf("| %s | %s | %d | %lld | %.2f | %.2f | %s | %s | %.1f | %lld | %s | %s |%s%s\n",
                    q.c_str(), backend.c_str(), p, static_cast<long long>(m.events), m.wall, m.cpu,
                    bench::formatRate(m.perCpu()).c_str(), bench::formatRate(m.perWall()).c_str(),
                    static_cast<double>(m.rssBytes) / (1 << 20), static_cast<long long>(m.rows),
                    hand.c_str(), ratio.c_str(), m.ok ? "" : " FAILED", same.c_str());
        std::fflush(stdout);
        allOk = allOk && same.empty();
      }
    }
  }
  if (scaling) {
    Measured p1 = runEngine("q1", gen, 1);
    Measured p2 = runEngine("q1", gen, 2);
    std::printf("\nq1 scaling: P=1 %s events/s wall, P=2 %s events/s wall: %.2fx\n",
                bench::formatRate(p1.perWall()).c_str(), bench::formatRate(p2.perWall()).c_str(),
                p2.perWall() / p1.perWall());
  }
  if (rssCheck) {
    std::printf("\nPeak RSS vs events (P=1):\n");
    for (const char* q : {"q0", "q1", "q2"}) {
      nexmark::GeneratorConfig big = gen;
      big.events = events * 4;
      Measured a = runEngine(q, gen, 1);
      Measured b = runEngine(q, big, 1);
      std::printf("  %s: %lld events %.1f MiB, %lld events %.1f MiB\n", q,
                  static_cast<long long>(a.events), static_cast<double>(a.rssBytes) / (1 << 20),
                  static_cast<long long>(b.events), static_cast<double>(b.rssBytes) / (1 << 20));
    }
  }
  return allOk ? 0 : 1;
}
