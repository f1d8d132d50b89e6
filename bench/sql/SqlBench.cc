// NEXMark in SQL against the C++ API version of the same query, in the same run: Flink's DDL
// and query files (sql/nexmark/) with the generator in-process and a blackhole sink, next to
// `reka nexmark run`'s C++ query whose sink touches every field and discards it. Each run is a
// child process (fresh heap, its own CPU time); pairs alternate SQL and C++.
//
//   reka_sql_bench [--queries q0 q1 …] [--events N] [--pairs K] [--parallelism P] [--no-mini-batch]
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../common/Format.h"
#include "base/ProcessStats.h"
#include "nexmark/QueryJob.h"
#include "reka/sql/Sql.h"

#ifndef REKA_SOURCE_DIR
#error "REKA_SOURCE_DIR must name the source tree"
#endif

namespace {

using namespace reka;

// Flink's published per-core throughput (docs/nexmark.md, Benchmark protocol: Published figures, events per CPU-second).
const std::map<std::string, double> kFlink = {
    {"q0", 378e3}, {"q1", 396e3}, {"q2", 414e3}, {"q3", 219e3},  {"q4", 34e3},   {"q5", 75e3},   {"q7", 23e3},
    {"q8", 162e3}, {"q9", 14e3},  {"q11", 46e3}, {"q12", 194e3}, {"q13", 188e3}, {"q14", 259e3}, {"q15", 168e3}, {"q16", 45e3},  {"q17", 161e3},
    {"q18", 65e3}, {"q19", 44e3}, {"q20", 19e3}, {"q21", 147e3}, {"q22", 211e3}};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

/// Scratch directories of this (child) process, removed when its run ends.
std::vector<std::string> gScratch;

/// An empty scratch directory for q10's files.
std::string scratchDir(const std::string& tag) {
  const std::string dir = "/tmp/reka-sql-bench-" + std::to_string(getpid()) + "-" + tag;
  std::filesystem::remove_all(dir);
  gScratch.push_back(dir);
  return dir;
}

/// Runs `fn` in a child process; its CPU seconds (or a negative value if it failed).
template <class Fn>
double inChild(Fn fn) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const double before = processCpuSeconds();
    const bool ok = fn();
    const double cpu = processCpuSeconds() - before;
    for (const auto& dir : gScratch) std::filesystem::remove_all(dir);
    const std::string text = std::to_string(ok ? cpu : -1.0);
    if (write(fds[1], text.data(), text.size()) < 0) _exit(2);
    _exit(0);
  }
  close(fds[1]);
  char buf[64] = {};
  const ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return n > 0 ? std::atof(buf) : -1;
}

/// The table settings of Flink's NEXMark runs (the suite's sql-client-defaults.yaml), under which
/// its published figures were measured: mini-batch on, 2 s, 50 000 rows. (Its
/// table.optimizer.distinct-agg.split.enabled has no Reka counterpart: a group's distinct values
/// stay in the group's subtask.) --no-mini-batch leaves them out.
const char* const kFlinkNexmarkSettings =
    "SET 'table.exec.mini-batch.enabled' = 'true';\n"
    "SET 'table.exec.mini-batch.allow-latency' = '2s';\n"
    "SET 'table.exec.mini-batch.size' = '50000';\n";
bool gMiniBatch = true;

double runSql(const std::string& query, int64_t events, int parallelism) {
  return inChild([&] {
    nexmark::registerNexmarkConnector();
    const std::string root = std::string(REKA_SOURCE_DIR) + "/sql/nexmark/";
    std::string script = (gMiniBatch ? std::string(kFlinkNexmarkSettings) : std::string()) + readFile(root + "ddl.sql") + readFile(root + query + ".sql");
    script = replaceAll(script, "${EVENTS_NUM}", std::to_string(events));
    // q10 writes partitioned CSV files: into a scratch directory (as the C++ q10 below).
    script = replaceAll(script, "file://${NEXMARK_DIR}/data/output/${SUBMIT_TIME}/bid/", scratchDir("sql"));
    // q13's side table: the C++ q13's rows "k,value-k", k = 0 … 9999.
    if (script.find("${FLINK_HOME}") != std::string::npos) {
      const std::string side = scratchDir("side") + ".csv";
      gScratch.push_back(side);
      std::ofstream out(side);
      for (int k = 0; k < 10000; ++k) out << k << ",value-" << k << "\n";
      script = replaceAll(script, "${FLINK_HOME}/data/side_input.txt", side);
    }
    auto compiled = sql::SqlScript::compile(script);
    if (!compiled.isOk()) {
      std::fprintf(stderr, "%s: %s\n", query.c_str(), compiled.status().toString().c_str());
      return false;
    }
    ExecutionConfig config;
    config.parallelism = parallelism;
    StreamEnvironment env(config);
    Status s = compiled->addTo(env);
    if (s.isOk()) s = env.execute();
    if (!s.isOk()) std::fprintf(stderr, "%s (SQL): %s\n", query.c_str(), s.toString().c_str());
    return s.isOk();
  });
}

double runCpp(const std::string& query, int64_t events, int parallelism) {
  return inChild([&] {
    ExecutionConfig config;
    config.parallelism = parallelism;
    StreamEnvironment env(config);
    nexmark::QueryJobOptions options;
    options.query = query;
    options.generator.events = events;
    options.generator.rate = 10'000'000;
    if (query == "q10") options.outputDir = scratchDir("cpp");
    auto built = nexmark::buildQueryJob(env, options);
    Status s = built.isOk() ? env.execute() : built.status();
    if (!s.isOk()) std::fprintf(stderr, "%s (C++): %s\n", query.c_str(), s.toString().c_str());
    return s.isOk();
  });
}


}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"NEXMark in SQL against the C++ queries (events per CPU-second, same run)"};
  std::vector<std::string> queries = {"q0",  "q1",  "q2",  "q3",  "q4",  "q5",  "q6",  "q7",  "q8",  "q9",  "q10", "q11",
                                      "q12", "q13", "q14", "q15", "q17", "q18", "q19", "q20", "q21", "q22"};
  int64_t events = 10'000'000;
  int pairs = 3, parallelism = 1;
  app.add_option("--queries", queries, "queries with a SQL file and a C++ version");
  app.add_option("--events", events, "events per run");
  app.add_option("--pairs", pairs, "alternating SQL/C++ pairs per query");
  app.add_option("--parallelism", parallelism, "parallelism of both");
  bool noMiniBatch = false;
  app.add_flag("--no-mini-batch", noMiniBatch, "run the SQL without the mini-batch settings of Flink's NEXMark runs");
  CLI11_PARSE(app, argc, argv);
  gMiniBatch = !noMiniBatch;
  std::printf("SQL settings: %s\n", gMiniBatch ? "Flink's NEXMark ones (table.exec.mini-batch.enabled, 2s, 50000 rows)" : "defaults (mini-batch off)");
  std::printf("| query | SQL events/CPU-s | C++ events/CPU-s | SQL ÷ C++ (each pair) | SQL ÷ Flink per core |\n|---|---|---|---|---|\n");
  for (const auto& q : queries) {
    std::vector<double> sqlRates, cppRates, ratios;
    for (int k = 0; k < pairs; ++k) {
      const double s = runSql(q, events, parallelism), c = runCpp(q, events, parallelism);
      if (s <= 0 || c <= 0) continue;
      sqlRates.push_back(static_cast<double>(events) / s);
      cppRates.push_back(static_cast<double>(events) / c);
      ratios.push_back(c / s);
    }
    if (ratios.empty()) {
      std::printf("| %s | failed | | | |\n", q.c_str());
      continue;
    }
    std::sort(sqlRates.begin(), sqlRates.end());
    std::sort(cppRates.begin(), cppRates.end());
    std::string each;
    for (double r : ratios) each += (each.empty() ? "" : ", ") + std::to_string(r).substr(0, 4);
    const double medianSql = sqlRates[sqlRates.size() / 2];
    auto flink = kFlink.find(q);
    std::printf("| %s | %s | %s | %s | %s |\n", q.c_str(), bench::formatRate(medianSql).c_str(), bench::formatRate(cppRates[cppRates.size() / 2]).c_str(), each.c_str(),
                flink == kFlink.end() ? "—" : (std::to_string(static_cast<int>(medianSql / flink->second)) + "×").c_str());
    std::fflush(stdout);
  }
  return 0;
}
