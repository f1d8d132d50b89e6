// CEP rules benchmark: JSON rules (reka/cep/Rules.h) over a card-transaction stream, 3 fraud
// rules and 100 (the three with 33-34 variants of their thresholds each), against hand-written
// per-key state machines for the same rules in the same run (same matches, same checksum).
// Two engine figures: events already parsed (the rule operator's own cost) and JSON lines
// parsed in the job. Each measurement runs in its own child process so CPU time is its own.
#include <CLI/CLI.hpp>
#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../common/Format.h"
#include "Measured.h"
#include "base/ProcessStats.h"
#include "nexmark/Rows.h"
#include "reka/cep/RuleStream.h"
#include "reka/reka.h"

namespace {

using namespace reka;

struct City {
  const char* name;
  double lat, lon;
};
constexpr City kCities[] = {{"Paris", 48.8566, 2.3522},   {"London", 51.5074, -0.1278}, {"Berlin", 52.52, 13.405},
                            {"Madrid", 40.4168, -3.7038}, {"Rome", 41.9028, 12.4964},   {"Warsaw", 52.2297, 21.0122},
                            {"Lisbon", 38.7223, -9.1393}, {"Athens", 37.9838, 23.7275}, {"Oslo", 59.9139, 10.7522},
                            {"Dublin", 53.3498, -6.2603}};

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

/// Event i of the stream: a card (i·A mod cards), every 20 ms; amounts mostly 5–300, 3 % small
/// test charges (< 2), 2 % large (> 600), 3 % declined; cards stay in their home city but for
/// 0.5 % of events elsewhere.
std::string eventJson(int64_t i, int64_t cards) {
  const uint64_t h = mix(static_cast<uint64_t>(i));
  const int64_t card = static_cast<int64_t>((static_cast<uint64_t>(i) * 2654435761ULL) % static_cast<uint64_t>(cards));
  const int r = static_cast<int>(h % 1000);
  double amount = 5 + static_cast<double>((h >> 10) % 29500) / 100;
  if (r < 30) amount = 0.5 + static_cast<double>((h >> 20) % 150) / 100;
  else if (r < 50) amount = 600 + static_cast<double>((h >> 20) % 1500);
  const bool declined = ((h >> 40) % 100) < 3;
  const City& c = kCities[((h >> 50) % 200) == 0 ? (h >> 30) % 10 : card % 10];
  char buf[256];
  std::snprintf(buf, sizeof buf, R"({"card":"c%06lld","ts":%lld,"amount":%.2f,"city":"%s","lat":%.4f,"lon":%.4f,"status":"%s"})",
                static_cast<long long>(card), static_cast<long long>(i * 20), amount, c.name, c.lat, c.lon, declined ? "declined" : "approved");
  return buf;
}

/// Rule k: kind k % 3 (test charges, impossible travel, declines), variant k / 3; with
/// `selective`, kinds 0 and 2 only (rules whose first step few events meet: no impossible
/// travel, which every event starts).
struct RuleParams {
  int kind = 0;
  double smallBelow = 2, largeAbove = 500, speedAbove = 900;
  int64_t withinMs = 600'000;
  std::string id;
};

bool gSelective = false;

RuleParams params(int k) {
  RuleParams p;
  p.kind = gSelective ? (k % 2 == 0 ? 0 : 2) : k % 3;
  const int v = gSelective ? k / 2 : k / 3;
  p.id = std::string(p.kind == 0 ? "test-charges" : p.kind == 1 ? "impossible-travel" : "declines") + "-" + std::to_string(v);
  p.smallBelow = 2 - 0.01 * v;
  p.largeAbove = 500 + 10 * v;
  p.speedAbove = 900 + 5 * v;
  p.withinMs = p.kind == 0 ? 600'000 - 1000 * v : p.kind == 1 ? 3'600'000 : 300'000 - 1000 * v;
  return p;
}

std::string ruleJson(const RuleParams& p) {
  char buf[1024];
  if (p.kind == 0) {
    std::snprintf(buf, sizeof buf,
                  R"j({"id":"%s","pattern":[{"name":"small","where":"amount < %.2f","times":3,"loop":"strict"},)j"
                  R"j({"name":"large","contiguity":"strict","where":"amount > %.2f"}],"within":%lld,"skip":"skip-past-last-event","emit":{"n":"COUNT(small)"}})j",
                  p.id.c_str(), p.smallBelow, p.largeAbove, static_cast<long long>(p.withinMs));
  } else if (p.kind == 1) {
    std::snprintf(buf, sizeof buf,
                  R"j({"id":"%s","pattern":[{"name":"a"},{"name":"b","contiguity":"strict",)j"
                  R"j("where":"ts > a.ts AND DISTANCE_KM(lat, lon, a.lat, a.lon) / ((ts - a.ts) / 3600000.0) > %.1f"}],"within":%lld,"emit":{"city":"b.city"}})j",
                  p.id.c_str(), p.speedAbove, static_cast<long long>(p.withinMs));
  } else {
    std::snprintf(buf, sizeof buf,
                  R"j({"id":"%s","pattern":[{"name":"d","where":"status = 'declined'","times":3,"loop":"strict"},)j"
                  R"j({"name":"ok","contiguity":"strict","where":"status = 'approved'"}],"within":%lld,"skip":"skip-past-last-event","emit":{"n":"COUNT(d)"}})j",
                  p.id.c_str(), static_cast<long long>(p.withinMs));
  }
  return buf;
}

uint64_t touch(int rule, const std::string& key, int64_t start, int64_t end) {
  using nexmark::combine;
  using nexmark::touchInt;
  return combine(touchInt(rule), combine(touchInt(static_cast<int64_t>(std::hash<std::string>{}(key))), combine(touchInt(start), touchInt(end))));
}

using bench::Measured;

template <class Prepare, class Body>
Measured inChild(Prepare prepare, Body body) {
  return bench::measureInChild(prepare, body);
}

std::vector<std::string> lines(int64_t records, int64_t cards) {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(records));
  for (int64_t i = 0; i < records; ++i) out.push_back(eventJson(i, cards));
  return out;
}

std::vector<cep::Event> parsed(int64_t records, int64_t cards) {
  cep::EventReader reader("ts", "card");
  std::vector<cep::Event> out;
  out.reserve(static_cast<size_t>(records));
  for (int64_t i = 0; i < records; ++i) out.push_back(reader.read(eventJson(i, cards)).value());
  return out;
}

double distanceKm(double lat1, double lon1, double lat2, double lon2) {
  // As the rules' DISTANCE_KM computes it (the same operations in the same order).
  const double a = lat1 * M_PI / 180, b = lon1 * M_PI / 180, c = lat2 * M_PI / 180, d = lon2 * M_PI / 180;
  const double dlat = c - a, dlon = d - b;
  const double h = std::sin(dlat / 2) * std::sin(dlat / 2) + std::cos(a) * std::cos(c) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * 6371.0088 * std::asin(std::min(1.0, std::sqrt(h)));
}

/// Hand-written per-key state machines for the rules, reading the same parsed events.
void handWritten(const std::vector<cep::Event>& events, int rules, Measured& m) {
  std::vector<RuleParams> ps;
  for (int k = 0; k < rules; ++k) ps.push_back(params(k));
  struct Last3 {
    int64_t ts[3] = {0, 0, 0};
    int n = 0;  ///< consecutive qualifying events (capped at 3), newest last
    void push(int64_t t) {
      if (n == 3) {
        ts[0] = ts[1];
        ts[1] = ts[2];
        ts[2] = t;
      } else {
        ts[n++] = t;
      }
    }
  };
  struct Key {
    std::vector<Last3> runs;  ///< per rule: test charges and declines
    bool hasPrev = false;
    double lat = 0, lon = 0;
    int64_t ts = 0;
  };
  absl::flat_hash_map<std::string, Key> keys;
  for (const cep::Event& e : events) {
    Key& k = keys[e.key()];
    if (k.runs.empty()) k.runs.resize(ps.size());
    const double amount = e.get("amount").asDouble();
    const bool declined = e.get("status").s == "declined";
    const double lat = e.get("lat").asDouble(), lon = e.get("lon").asDouble();
    const int64_t ts = e.timestamp();
    for (size_t r = 0; r < ps.size(); ++r) {
      const RuleParams& p = ps[r];
      Last3& run = k.runs[r];
      if (p.kind == 0 || p.kind == 2) {
        const bool qualifies = p.kind == 0 ? amount < p.smallBelow : declined;
        const bool completes = p.kind == 0 ? amount > p.largeAbove : !declined;
        // The oldest of the last three must be within reach of this event.
        if (completes && run.n == 3 && ts - run.ts[0] < p.withinMs) {
          m.checksum += touch(static_cast<int>(r), e.key(), run.ts[0], ts);
          ++m.matches;
        }
        if (qualifies) {
          run.push(ts);
        } else {
          run.n = 0;
        }
      } else if (k.hasPrev && ts > k.ts && ts - k.ts < p.withinMs &&
                 distanceKm(lat, lon, k.lat, k.lon) / (static_cast<double>(ts - k.ts) / 3600000.0) > p.speedAbove) {
        m.checksum += touch(static_cast<int>(r), e.key(), k.ts, ts);
        ++m.matches;
      }
    }
    k.hasPrev = true;
    k.lat = lat;
    k.lon = lon;
    k.ts = ts;
  }
  m.events = static_cast<int64_t>(events.size());
  m.ok = true;
}

struct Collect {
  std::shared_ptr<std::vector<std::string>> ids;
  std::shared_ptr<std::atomic<uint64_t>> sum;
  std::shared_ptr<std::atomic<int64_t>> n;
  void operator()(const cep::Alert& a) const {
    int rule = 0;
    for (size_t i = 0; i < ids->size(); ++i)
      if ((*ids)[i] == a.rule) rule = static_cast<int>(i);
    sum->fetch_add(touch(rule, a.key, a.start, a.end), std::memory_order_relaxed);
    n->fetch_add(1, std::memory_order_relaxed);
  }
};

template <class Input>
void engine(const Input& input, int rules, Measured& m) {
  ExecutionConfig config;
  config.parallelism = 1;
  StreamEnvironment env(config);
  std::vector<cep::RuleSpec> specs;
  auto ids = std::make_shared<std::vector<std::string>>();
  for (int k = 0; k < rules; ++k) {
    const RuleParams p = params(k);
    specs.push_back({p.id, 1, true, ruleJson(p)});
    ids->push_back(p.id);
  }
  cep::RuleUpdate u;
  u.complete = true;
  u.rules = specs;
  auto ruleStream = env.fromCollection("rules", std::vector<cep::RuleUpdate>{u});
  auto ts = [](const cep::Event& e) { return e.timestamp(); };
  DataStream<cep::Event> events = [&] {
    if constexpr (std::is_same_v<Input, std::vector<cep::Event>>) {
      return env.fromCollection("events", input);
    } else {
      auto reader = std::make_shared<cep::EventReader>("ts", "card");
      return env.fromCollection("lines", input).map("parse", [reader](const std::string& l) { return reader->read(l).value(); });
    }
  }();
  auto sum = std::make_shared<std::atomic<uint64_t>>(0);
  auto n = std::make_shared<std::atomic<int64_t>>(0);
  cep::applyRules(events.assignTimestampsAndWatermarks(watermarks::monotonousTimestamps<cep::Event>(ts)), ruleStream, "rules")
      .sink("alerts", Collect{ids, sum, n});
  m.ok = env.execute().isOk();
  m.events = static_cast<int64_t>(input.size());
  m.matches = n->load();
  m.checksum = sum->load();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Reka CEP rules benchmark: JSON fraud rules vs hand-written state machines"};
  int64_t records = 2'000'000;
  int64_t cards = 10'000;
  std::vector<int> ruleCounts = {3, 100};
  app.add_option("--records", records, "events per run (default 2000000)")->check(CLI::PositiveNumber);
  app.add_option("--cards", cards, "cards (keys) (default 10000)")->check(CLI::PositiveNumber);
  app.add_option("--rules", ruleCounts, "rule counts to run (default 3 100)")->check(CLI::Range(1, 3000));
  app.add_flag("--selective", gSelective, "only the rules whose first step is selective (test charges, declines)");
  CLI11_PARSE(app, argc, argv);

  std::printf("JSON fraud rules (%s) over %lld card transactions (%lld cards, P=1, in-process source)\n\n",
              gSelective ? "test charges and declines" : "test charges, impossible travel, declines", static_cast<long long>(records),
              static_cast<long long>(cards));
  std::printf("| rules | engine, parsed events/CPU-s | engine, JSON lines/CPU-s | hand-written events/CPU-s | engine (parsed)/hand | matches | checksum |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  bool ok = true;
  for (int rules : ruleCounts) {
    const Measured hand = inChild([&] { return parsed(records, cards); }, [&](const auto& in, Measured& m) { handWritten(in, rules, m); });
    const Measured eng = inChild([&] { return parsed(records, cards); }, [&](const auto& in, Measured& m) { engine(in, rules, m); });
    const Measured json = inChild([&] { return lines(records, cards); }, [&](const auto& in, Measured& m) { engine(in, rules, m); });
    const bool same = eng.ok && json.ok && hand.matches == eng.matches && hand.checksum == eng.checksum && json.checksum == eng.checksum;
    ok = ok && same;
    std::printf("| %d | %s | %s | %s | %.2f | %lld | %s |\n", rules, bench::formatRate(eng.perCpu()).c_str(), bench::formatRate(json.perCpu()).c_str(),
                bench::formatRate(hand.perCpu()).c_str(), eng.perCpu() / hand.perCpu(), static_cast<long long>(eng.matches),
                same ? "equal" : "MISMATCH");
    if (!same)
      std::printf("  (hand-written %lld matches, engine %lld, JSON %lld)\n", static_cast<long long>(hand.matches), static_cast<long long>(eng.matches),
                  static_cast<long long>(json.matches));
    std::fflush(stdout);
  }
  return ok ? 0 : 1;
}
