// File ingestion: NEXMark events from a JSON-lines file into q1 and the touching sink, read
// once and followed (connector::file), against a hand-written loop that reads the same lines
// with the same LineReader and parses them with the same EventParser. Each measurement runs in
// a child process of its own; configurations alternate `--repeats` times.
//
//   reka_file_bench [--events N] [--repeats R]

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "../common/ChildProcess.h"
#include "base/ProcessStats.h"
#include "reka/connector/LineReader.h"
#include "nexmark/Generator.h"
#include "nexmark/JsonCodec.h"
#include "nexmark/QueryJob.h"
#include "reka/reka.h"

namespace {

using namespace reka;
using Clock = std::chrono::steady_clock;

struct Measure {
  double cpu = 0;
  double wall = 0;
  int64_t events = 0;
  std::string encode() const {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%.6f %.6f %lld", cpu, wall, static_cast<long long>(events));
    return buf;
  }
  static Measure decode(const std::string& s) {
    Measure m;
    long long e = 0;
    if (std::sscanf(s.c_str(), "%lf %lf %lld", &m.cpu, &m.wall, &e) == 3) m.events = e;
    return m;
  }
  double perCpu() const { return cpu > 0 ? static_cast<double>(events) / cpu : 0; }
};

/// The hand-written loop: every line parsed; bids mapped as q1 does and summed.
Measure handLoop(const std::string& file) {
  Measure m;
  const double cpu0 = processCpuSeconds();
  const auto t0 = Clock::now();
  auto reader = connector::LineReader::open(file);
  if (!reader.isOk()) return m;
  nexmark::EventParser parser;
  StringArena arena;
  uint64_t sum = 0;
  for (;;) {
    auto line = reader->next();
    if (!line.isOk() || !line->has_value()) break;
    auto e = parser.parse((*line)->text, arena);
    ++m.events;
    if (e.isOk() && e->isBid()) sum += static_cast<uint64_t>(e->bid.price * 908 + e->bid.auction + e->bid.bidder + e->bid.dateTime);
    if (arena.chunkCount() > 64) arena = StringArena();
  }
  if (sum == 42) std::printf(" ");  // keeps the work
  m.cpu = processCpuSeconds() - cpu0;
  m.wall = std::chrono::duration<double>(Clock::now() - t0).count();
  return m;
}

/// Reka: q1 over the file, read once (the job ends at the end of the file) or followed (the job
/// is cancelled once every event went through).
Measure rekaRun(const std::string& file, bool follow, int64_t events) {
  Measure m;
  ExecutionConfig config;
  config.parallelism = 1;
  config.watermarkInterval = std::chrono::milliseconds(0);
  nexmark::QueryJobOptions options;
  options.query = "q1";
  options.inputPath = file;
  options.follow = follow;
  const double cpu0 = processCpuSeconds();
  const auto t0 = Clock::now();
  StreamEnvironment env(config);
  auto counters = nexmark::buildQueryJob(env, options);
  if (!counters.isOk()) return m;
  auto client = env.executeAsync();
  if (!client.isOk()) return m;
  if (follow) {
    while ((*counters)->inputLines.load() < events || (*client)->metrics().sourceRecords < events)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    (*client)->cancel();
  }
  (void)(*client)->wait();
  m.cpu = processCpuSeconds() - cpu0;
  m.wall = std::chrono::duration<double>(Clock::now() - t0).count();
  m.events = (*client)->metrics().sourceRecords;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"File ingestion benchmark"};
  int64_t events = 2'000'000;
  int repeats = 3;
  app.add_option("--events", events, "events in the file (default 2000000)");
  app.add_option("--repeats", repeats, "alternating rounds (default 3)");
  CLI11_PARSE(app, argc, argv);

  const std::string file = (std::filesystem::temp_directory_path() / ("reka-file-bench-" + std::to_string(getpid()) + ".jsonl")).string();
  {
    nexmark::GeneratorConfig config;
    config.events = events;
    auto generator = nexmark::Generator::make(config);
    if (!generator.isOk()) return 1;
    std::FILE* f = std::fopen(file.c_str(), "w");
    StringArena arena;
    std::string line;
    for (int64_t k = 0; k < events; ++k) {
      line.clear();
      nexmark::appendEventJson(generator->event(0, k, arena), line);
      line.push_back('\n');
      std::fwrite(line.data(), 1, line.size(), f);
      if ((k & 4095) == 0) arena = StringArena();
    }
    std::fclose(f);
  }
  std::printf("file bench: %lld events, %.1f MB\n", static_cast<long long>(events),
              static_cast<double>(std::filesystem::file_size(file)) / 1e6);
  const std::vector<std::pair<std::string, std::function<Measure()>>> configs = {
      {"hand", [&] { return handLoop(file); }},
      {"once", [&] { return rekaRun(file, false, events); }},
      {"follow", [&] { return rekaRun(file, true, events); }},
  };
  std::map<std::string, std::vector<Measure>> results;
  for (int r = 0; r < repeats; ++r) {
    for (const auto& [name, run] : configs) {
      Measure m = Measure::decode(bench::runInChild([&] { return run().encode(); }));
      std::printf("round %d %-7s %9lld events  %.3f s CPU  %.3f s wall  %.3f M events/CPU-s\n", r + 1, name.c_str(),
                  static_cast<long long>(m.events), m.cpu, m.wall, m.perCpu() / 1e6);
      std::fflush(stdout);
      results[name].push_back(m);
    }
  }
  std::printf("\nper round, reka / hand:");
  for (size_t i = 0; i < results["hand"].size(); ++i)
    std::printf("  once %.2f follow %.2f", results["once"][i].perCpu() / results["hand"][i].perCpu(),
                results["follow"][i].perCpu() / results["hand"][i].perCpu());
  std::printf("\n");
  std::filesystem::remove(file);
  return 0;
}
