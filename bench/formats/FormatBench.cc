// Formats through the connector registry: a filesystem table of JSON or CSV lines read into
// rows (readTable → blackhole) against a hand-written loop that reads the same lines with the
// same LineReader and decodes the same fields itself (simdjson for JSON, a split and
// from_chars for CSV). Each measurement runs in a child process of its own; configurations
// alternate `--repeats` times.
//
//   reka_format_bench [--rows N] [--repeats R]

#include <CLI/CLI.hpp>
#include <simdjson.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "../common/ChildProcess.h"
#include "base/ProcessStats.h"
#include "reka/connector/LineReader.h"
#include "reka/connector/Registry.h"
#include "reka/reka.h"

namespace {

using namespace reka;
using Clock = std::chrono::steady_clock;
constexpr const char* kSchema = "id BIGINT, name STRING, price DECIMAL(10, 2), ts TIMESTAMP(3), category INT";

struct Measure {
  double cpu = 0;
  int64_t rows = 0;
  std::string encode() const { return std::to_string(cpu) + " " + std::to_string(rows); }
  static Measure decode(const std::string& s) {
    Measure m;
    long long r = 0;
    if (std::sscanf(s.c_str(), "%lf %lld", &m.cpu, &r) == 2) m.rows = r;
    return m;
  }
  double perCpu() const { return cpu > 0 ? static_cast<double>(rows) / cpu : 0; }
};

/// What both loops produce per row (the hand loop's own struct; Reka's is a RowBatch).
struct Order {
  int64_t id = 0;
  std::string_view name;
  Decimal price = 0;
  int64_t ts = 0;
  int64_t category = 0;
};

uint64_t touch(const Order& o) {
  return static_cast<uint64_t>(o.id) + o.name.size() + static_cast<uint64_t>(o.price) + static_cast<uint64_t>(o.ts) +
         static_cast<uint64_t>(o.category);
}

Measure handJson(const std::string& file) {
  Measure m;
  const double cpu0 = processCpuSeconds();
  auto reader = connector::LineReader::open(file);
  if (!reader.isOk()) return m;
  simdjson::ondemand::parser parser;
  std::string buffer;
  std::string name;
  uint64_t sum = 0;
  for (;;) {
    auto line = reader->next();
    if (!line.isOk() || !line->has_value()) break;
    std::string_view text = (*line)->text;
    buffer.assign(text.data(), text.size());
    buffer.append(simdjson::SIMDJSON_PADDING, '\0');
    simdjson::ondemand::document doc;
    if (parser.iterate(buffer.data(), text.size(), buffer.size()).get(doc)) continue;
    simdjson::ondemand::object obj;
    if (doc.get_object().get(obj)) continue;
    Order o;
    bool ok = true;
    for (auto f : obj) {
      std::string_view key;
      if (f.unescaped_key().get(key)) {
        ok = false;
        break;
      }
      auto v = f.value();
      if (key == "id") {
        ok &= !v.get_int64().get(o.id);
      } else if (key == "name") {
        std::string_view s;
        ok &= !v.get_string().get(s);
        name.assign(s);  // a copy, as a row's string is copied into its arena
        o.name = name;
      } else if (key == "price") {
        auto d = parseDecimal(v.raw_json_token(), 10, 2);
        ok &= d.isOk();
        if (d.isOk()) o.price = *d;
      } else if (key == "ts") {
        std::string_view s;
        ok &= !v.get_string().get(s);
        auto t = parseTimestamp(s);
        ok &= t.isOk();
        if (t.isOk()) o.ts = *t;
      } else if (key == "category") {
        ok &= !v.get_int64().get(o.category);
      }
    }
    if (!ok) continue;
    ++m.rows;
    sum += touch(o);
  }
  if (sum == 42) std::printf(" ");
  m.cpu = processCpuSeconds() - cpu0;
  return m;
}

Measure handCsv(const std::string& file) {
  Measure m;
  const double cpu0 = processCpuSeconds();
  auto reader = connector::LineReader::open(file);
  if (!reader.isOk()) return m;
  uint64_t sum = 0;
  std::string name;
  std::vector<std::string_view> fields;
  for (;;) {
    auto line = reader->next();
    if (!line.isOk() || !line->has_value()) break;
    std::string_view text = (*line)->text;
    fields.clear();
    size_t start = 0;
    for (size_t i = 0; i <= text.size(); ++i) {
      if (i == text.size() || text[i] == ',') {
        fields.push_back(text.substr(start, i - start));
        start = i + 1;
      }
    }
    if (fields.size() != 5) continue;
    Order o;
    std::from_chars(fields[0].data(), fields[0].data() + fields[0].size(), o.id);
    name.assign(fields[1]);
    o.name = name;
    auto d = parseDecimal(fields[2], 10, 2);
    auto t = parseTimestamp(fields[3]);
    std::from_chars(fields[4].data(), fields[4].data() + fields[4].size(), o.category);
    if (!d.isOk() || !t.isOk()) continue;
    o.price = *d;
    o.ts = *t;
    ++m.rows;
    sum += touch(o);
  }
  if (sum == 42) std::printf(" ");
  m.cpu = processCpuSeconds() - cpu0;
  return m;
}

Measure table(const std::string& file, const std::string& format) {
  Measure m;
  ExecutionConfig config;
  config.parallelism = 1;
  const double cpu0 = processCpuSeconds();
  StreamEnvironment env(config);
  Result<Schema> schema = Schema::parse(kSchema);
  auto rows = connector::readTable(env, "in", *schema,
                                   {{"connector", "filesystem"}, {"path", file}, {"format", format}});
  if (!rows.isOk()) {
    std::fprintf(stderr, "%s\n", rows.status().message().c_str());
    return m;
  }
  if (!connector::writeTable(*rows, "out", *schema, {{"connector", "blackhole"}}).isOk()) return m;
  auto client = env.executeAsync();
  if (!client.isOk()) return m;
  if (!(*client)->wait().isOk()) return m;
  m.cpu = processCpuSeconds() - cpu0;
  m.rows = (*client)->metrics().sourceRecords;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Format benchmark"};
  int64_t rows = 2'000'000;
  int repeats = 3;
  app.add_option("--rows", rows, "rows in each file (default 2000000)");
  app.add_option("--repeats", repeats, "alternating rounds (default 3)");
  std::string only;
  app.add_option("--only", only, "run only this configuration (json-hand, json-table, csv-hand, csv-table), for profiling");
  CLI11_PARSE(app, argc, argv);

  const auto dir = std::filesystem::temp_directory_path();
  const std::string json = (dir / ("reka-format-bench-" + std::to_string(getpid()) + ".json")).string();
  const std::string csv = (dir / ("reka-format-bench-" + std::to_string(getpid()) + ".csv")).string();
  {
    std::FILE* j = std::fopen(json.c_str(), "w");
    std::FILE* c = std::fopen(csv.c_str(), "w");
    std::string ts;
    for (int64_t k = 0; k < rows; ++k) {
      ts.clear();
      appendTimestamp(1796545998123 + k * 7, 3, false, false, ts);
      const long long price = (k * 7919) % 100000;
      std::fprintf(j, "{\"id\":%lld,\"name\":\"customer-%lld\",\"price\":%lld.%02lld,\"ts\":\"%s\",\"category\":%lld}\n",
                   static_cast<long long>(k), static_cast<long long>(k % 10007), price / 100, price % 100, ts.c_str(),
                   static_cast<long long>(k % 17));
      std::fprintf(c, "%lld,customer-%lld,%lld.%02lld,%s,%lld\n", static_cast<long long>(k), static_cast<long long>(k % 10007),
                   price / 100, price % 100, ts.c_str(), static_cast<long long>(k % 17));
    }
    std::fclose(j);
    std::fclose(c);
  }
  std::printf("format bench: %lld rows of (%s)\n", static_cast<long long>(rows), kSchema);
  const std::vector<std::pair<std::string, std::function<Measure()>>> configs = {
      {"json-hand", [&] { return handJson(json); }},
      {"json-table", [&] { return table(json, "json"); }},
      {"csv-hand", [&] { return handCsv(csv); }},
      {"csv-table", [&] { return table(csv, "csv"); }},
  };
  std::map<std::string, std::vector<Measure>> results;
  for (int r = 0; r < repeats; ++r) {
    for (const auto& [name, run] : configs) {
      if (!only.empty() && name != only) continue;
      Measure m = Measure::decode(bench::runInChild([&] { return run().encode(); }));
      std::printf("round %d %-10s %9lld rows  %.3f s CPU  %.3f M rows/CPU-s\n", r + 1, name.c_str(), static_cast<long long>(m.rows),
                  m.cpu, m.perCpu() / 1e6);
      std::fflush(stdout);
      results[name].push_back(m);
    }
  }
  if (!only.empty()) return 0;
  std::printf("\nper round, table / hand:");
  for (size_t i = 0; i < results["json-hand"].size(); ++i)
    std::printf("  json %.2f csv %.2f", results["json-table"][i].perCpu() / results["json-hand"][i].perCpu(),
                results["csv-table"][i].perCpu() / results["csv-hand"][i].perCpu());
  std::printf("\n");
  std::filesystem::remove(json);
  std::filesystem::remove(csv);
  return 0;
}
