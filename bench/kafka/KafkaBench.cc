// Kafka connector costs, against librdkafka's mock cluster in a process of its own (so that
// the CPU time measured is the client's only):
//   - Kafka → q0 → Kafka, Reka against hand-written librdkafka loops over the same messages in
//     the same run: one that only consumes and produces the bytes, and one that also does q0's
//     work (decode each event with the same parser, keep the bids, write each as a JSON row);
//   - Kafka → q1 → blackhole (the touching sink);
//   - Kafka → q0 → Kafka with 1 s checkpoints, exactly-once (transactions) against
//     at-least-once.
// Every measurement runs in a child process of its own; configurations alternate, `--repeats`
// times, and each figure is events per CPU-second of that process (librdkafka's threads
// included).
//
//   reka_kafka_bench [--events N] [--partitions P] [--repeats R] [--only NAME…]

#include <CLI/CLI.hpp>
#include <librdkafka/rdkafka.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "../common/ChildProcess.h"
#include "connectors/kafka/MockCluster.h"
#include "nexmark/Rows.h"
#include "base/ProcessStats.h"
#include "reka/connector/Kafka.h"
#include "nexmark/Generator.h"
#include "nexmark/JsonCodec.h"
#include "nexmark/QueryJob.h"
#include "reka/reka.h"

namespace {

using namespace reka;
namespace kafka = reka::connector::kafka;
using Clock = std::chrono::steady_clock;

struct Measure {
  double wall = 0;
  double cpu = 0;
  int64_t events = 0;
  int64_t out = 0;
  std::string error;
  double perCpu() const { return cpu > 0 ? static_cast<double>(events) / cpu : 0; }
  std::string encode() const {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%.6f %.6f %lld %lld", wall, cpu, static_cast<long long>(events), static_cast<long long>(out));
    return error.empty() ? buf : "error " + error;
  }
  static Measure decode(const std::string& s) {
    Measure m;
    long long e = 0, o = 0;
    if (s.rfind("error ", 0) == 0 || std::sscanf(s.c_str(), "%lf %lf %lld %lld", &m.wall, &m.cpu, &e, &o) != 4)
      m.error = s.empty() ? "the child died" : s;
    m.events = e;
    m.out = o;
    return m;
  }
};

/// The mock cluster in a forked process that lives until the returned pipe is closed.
struct MockProcess {
  pid_t pid = -1;
  int keepAlive = -1;
  std::string bootstrap;
  ~MockProcess() {
    if (keepAlive >= 0) close(keepAlive);
    if (pid > 0) waitpid(pid, nullptr, 0);
  }
};

bool startMock(MockProcess& mock, const std::vector<std::pair<std::string, int>>& topics) {
  int out[2], in[2];
  if (pipe(out) != 0 || pipe(in) != 0) return false;
  mock.pid = fork();
  if (mock.pid == 0) {
    close(out[0]);
    close(in[1]);
    auto cluster = kafka::MockCluster::start(1);
    std::string line = cluster.isOk() ? (*cluster)->bootstrapServers() : "";
    for (const auto& [t, p] : topics)
      if (cluster.isOk() && !(*cluster)->createTopic(t, p).isOk()) line.clear();
    line += "\n";
    (void)!write(out[1], line.data(), line.size());
    close(out[1]);
    char c;
    while (read(in[0], &c, 1) > 0) {
    }
    _exit(0);
  }
  close(out[1]);
  close(in[0]);
  mock.keepAlive = in[1];
  char buf[256];
  ssize_t n = read(out[0], buf, sizeof buf - 1);
  close(out[0]);
  if (n <= 1) return false;
  mock.bootstrap.assign(buf, static_cast<size_t>(n - 1));
  return !mock.bootstrap.empty();
}

/// Writes `events` NEXMark events (JSON) into `topic`, spread evenly over its partitions.
std::string fill(const std::string& bootstrap, const std::string& topic, int64_t events, int partitions) {
  nexmark::GeneratorConfig config;
  config.events = events;
  auto generator = nexmark::Generator::make(config);
  if (!generator.isOk()) return generator.status().message();
  kafka::KafkaSinkOptions o;
  o.bootstrapServers = bootstrap;
  o.topic = topic;
  auto w = kafka::SinkWriter::open(o, 0, false);
  if (!w.isOk()) return w.status().message();
  StringArena arena;
  kafka::ProducerRecord r;
  for (int64_t k = 0; k < events; ++k) {
    r.clear();
    nexmark::Event e = generator->event(0, k, arena);
    nexmark::appendEventJson(e, r.value);
    r.partition = static_cast<int32_t>(k % partitions);
    r.timestampMs = e.dateTime();
    Status s = (*w)->write(r);
    if (!s.isOk()) return s.message();
    if ((k & 4095) == 0) arena = StringArena();
  }
  Status s = (*w)->finish();
  (*w)->close();
  return s.isOk() ? "" : s.message();
}

/// The hand-written loop: consumes every message of `topic` (all partitions, to the end offsets
/// now) and, with `decode`, turns bids into q0 rows; produces what it has (the bytes, or the
/// rows) to `outTopic`, and waits until every message is acknowledged.
Measure handLoop(const std::string& bootstrap, const std::string& topic, const std::string& outTopic, bool decode) {
  Measure m;
  const double cpu0 = processCpuSeconds();
  const auto t0 = Clock::now();
  char err[512];
  rd_kafka_conf_t* cc = rd_kafka_conf_new();
  rd_kafka_conf_set(cc, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(cc, "group.id", "hand-loop", err, sizeof err);
  rd_kafka_conf_set(cc, "enable.partition.eof", "true", err, sizeof err);
  rd_kafka_conf_set(cc, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
  rd_kafka_conf_t* pc = rd_kafka_conf_new();
  rd_kafka_conf_set(pc, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(pc, "enable.idempotence", "true", err, sizeof err);
  rd_kafka_conf_set(pc, "linger.ms", "5", err, sizeof err);
  rd_kafka_conf_set(pc, "batch.num.messages", "10000", err, sizeof err);
  rd_kafka_conf_set(pc, "queue.buffering.max.kbytes", "262144", err, sizeof err);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
  rd_kafka_topic_t* out = rd_kafka_topic_new(producer, outTopic.c_str(), nullptr);
  rd_kafka_poll_set_consumer(consumer);
  auto offsets = kafka::partitionOffsets(bootstrap, topic);
  if (!offsets.isOk()) {
    m.error = offsets.status().message();
    return m;
  }
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(static_cast<int>(offsets->size()));
  int open = 0;
  for (size_t p = 0; p < offsets->size(); ++p) {
    if ((*offsets)[p].second <= (*offsets)[p].first) continue;
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), static_cast<int32_t>(p))->offset = (*offsets)[p].first;
    ++open;
  }
  rd_kafka_assign(consumer, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer);
  std::vector<rd_kafka_message_t*> batch(1024);
  nexmark::EventParser parser;
  StringArena arena;
  std::string row;
  auto produce = [&](const char* data, size_t size) {
    while (rd_kafka_produce(out, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, const_cast<char*>(data), size, nullptr, 0, nullptr) != 0) {
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) return false;
      rd_kafka_poll(producer, 10);
    }
    if ((++m.out & 1023) == 0) rd_kafka_poll(producer, 0);
    return true;
  };
  while (open > 0) {
    ssize_t n = rd_kafka_consume_batch_queue(queue, 1000, batch.data(), batch.size());
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* msg = batch[static_cast<size_t>(i)];
      if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        --open;
      } else if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++m.events;
        if (!decode) {
          produce(static_cast<const char*>(msg->payload), msg->len);
        } else {
          Result<nexmark::Event> e = parser.parse(std::string_view(static_cast<const char*>(msg->payload), msg->len), arena);
          if (e.isOk() && e->isBid()) {
            row.clear();
            nexmark::JsonRowWriter w(row);
            w.begin();
            nexmark::BidRow{e->bid}.write(w);
            w.end();
            row.pop_back();  // the newline
            produce(row.data(), row.size());
          }
        }
      }
      rd_kafka_message_destroy(msg);
    }
    if (arena.chunkCount() > 64) arena = StringArena();
  }
  rd_kafka_flush(producer, 60000);
  rd_kafka_queue_destroy(queue);
  rd_kafka_topic_destroy(out);
  rd_kafka_destroy(producer);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  m.wall = std::chrono::duration<double>(Clock::now() - t0).count();
  m.cpu = processCpuSeconds() - cpu0;
  return m;
}

/// Reka: `query` over the Kafka topic, rows to `output` ("" for the touching sink).
Measure rekaRun(const std::string& bootstrap, const std::string& topic, const std::string& query, const std::string& output,
                const std::string& stateDir, DeliveryGuarantee guarantee) {
  Measure m;
  ExecutionConfig config;
  config.parallelism = 1;
  config.watermarkInterval = std::chrono::milliseconds(0);
  if (!stateDir.empty()) {
    std::filesystem::remove_all(stateDir);
    config.checkpoints.stateDir = stateDir;
    config.checkpoints.interval = std::chrono::milliseconds(1000);
    config.checkpoints.guarantee = guarantee;
  }
  nexmark::QueryJobOptions options;
  options.query = query;
  options.inputPath = "kafka://" + bootstrap + "/" + topic;
  options.outputPath = output.empty() ? "" : "kafka://" + bootstrap + "/" + output;
  options.kafkaTransactionLogDir = stateDir.empty() ? "" : stateDir + "/kafka-transactions";
  options.kafkaTransactionalIdPrefix = "bench-" + std::to_string(getpid());
  const double cpu0 = processCpuSeconds();
  const auto t0 = Clock::now();
  StreamEnvironment env(config);
  auto counters = nexmark::buildQueryJob(env, options);
  if (!counters.isOk()) {
    m.error = counters.status().message();
    return m;
  }
  auto client = env.executeAsync();
  if (!client.isOk()) {
    m.error = client.status().message();
    return m;
  }
  Status s = (*client)->wait();
  m.wall = std::chrono::duration<double>(Clock::now() - t0).count();
  m.cpu = processCpuSeconds() - cpu0;
  if (!s.isOk()) m.error = s.message();
  for (const auto& op : (*client)->metrics().operators)
    if (op.name == nexmark::kEventSourceName) m.events += op.recordsOut;
  m.out = (*counters)->outputRows.load();
  if (!stateDir.empty()) std::filesystem::remove_all(stateDir);
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kafka connector benchmark (librdkafka mock cluster in its own process)"};
  int64_t events = 1'000'000;
  int partitions = 64;
  int repeats = 3;
  std::vector<std::string> only;
  app.add_option("--events", events, "events in the input topic (default 1000000)");
  app.add_option("--partitions", partitions, "partitions of the topics (default 64; the mock keeps 5 MB of each)");
  app.add_option("--repeats", repeats, "alternating rounds (default 3)");
  app.add_option("--only", only, "run only these: raw, hand-q0, reka-q0, reka-q1, eo, alo");
  CLI11_PARSE(app, argc, argv);

  MockProcess mock;
  if (!startMock(mock, {{"events", partitions}, {"out", partitions}})) {
    std::fprintf(stderr, "cannot start the mock cluster\n");
    return 1;
  }
  std::string filled = bench::runInChild([&] { return fill(mock.bootstrap, "events", events, partitions); });
  if (!filled.empty()) {
    std::fprintf(stderr, "filling the topic failed: %s\n", filled.c_str());
    return 1;
  }
  std::printf("kafka bench: %lld events in %d partitions on the mock cluster at %s\n", static_cast<long long>(events), partitions,
              mock.bootstrap.c_str());
  const std::string state = (std::filesystem::temp_directory_path() / ("reka-kafka-bench-" + std::to_string(getpid()))).string();
  struct Config {
    std::string name;
    std::function<Measure()> run;
  };
  const std::vector<Config> configs = {
      {"raw", [&] { return handLoop(mock.bootstrap, "events", "out", false); }},
      {"hand-q0", [&] { return handLoop(mock.bootstrap, "events", "out", true); }},
      {"reka-q0", [&] { return rekaRun(mock.bootstrap, "events", "q0", "out", "", DeliveryGuarantee::kAtLeastOnce); }},
      {"reka-q1", [&] { return rekaRun(mock.bootstrap, "events", "q1", "", "", DeliveryGuarantee::kAtLeastOnce); }},
      {"alo", [&] { return rekaRun(mock.bootstrap, "events", "q0", "out", state, DeliveryGuarantee::kAtLeastOnce); }},
      {"eo", [&] { return rekaRun(mock.bootstrap, "events", "q0", "out", state, DeliveryGuarantee::kExactlyOnce); }},
  };
  std::map<std::string, std::vector<Measure>> results;
  for (int r = 0; r < repeats; ++r) {
    for (const auto& c : configs) {
      if (!only.empty() && std::find(only.begin(), only.end(), c.name) == only.end()) continue;
      Measure m = Measure::decode(bench::runInChild([&] { return c.run().encode(); }));
      if (!m.error.empty()) {
        std::fprintf(stderr, "%s: %s\n", c.name.c_str(), m.error.c_str());
        return 1;
      }
      std::printf("round %d %-8s %9lld events %9lld out  %.3f s wall  %.3f s CPU  %.3f M events/CPU-s\n", r + 1, c.name.c_str(),
                  static_cast<long long>(m.events), static_cast<long long>(m.out), m.wall, m.cpu, m.perCpu() / 1e6);
      std::fflush(stdout);
      results[c.name].push_back(m);
    }
  }
  auto median = [&](const std::string& name) {
    std::vector<double> v;
    for (const auto& m : results[name]) v.push_back(m.perCpu());
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  auto ratios = [&](const std::string& a, const std::string& b) {
    // Per round: the ratio of the two runs next to each other.
    std::vector<double> v;
    for (size_t i = 0; i < std::min(results[a].size(), results[b].size()); ++i)
      v.push_back(results[a][i].perCpu() / results[b][i].perCpu());
    std::string s;
    for (double x : v) s += (s.empty() ? "" : " ") + std::to_string(x).substr(0, 4);
    return s;
  };
  std::printf("\nmedian events per CPU-second:\n");
  for (const auto& c : configs)
    if (!results[c.name].empty()) std::printf("  %-8s %.3f M\n", c.name.c_str(), median(c.name) / 1e6);
  if (!results["reka-q0"].empty() && !results["hand-q0"].empty())
    std::printf("reka-q0 / hand-q0 per round: %s\n", ratios("reka-q0", "hand-q0").c_str());
  if (!results["reka-q0"].empty() && !results["raw"].empty())
    std::printf("reka-q0 / raw per round: %s\n", ratios("reka-q0", "raw").c_str());
  if (!results["eo"].empty() && !results["alo"].empty()) std::printf("eo / alo per round: %s\n", ratios("eo", "alo").c_str());
  return 0;
}
