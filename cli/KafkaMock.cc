// reka-kafka-mock: librdkafka's mock Kafka cluster as a process, for trying Reka's Kafka
// connector and for its tests and benchmarks without a broker. Listens on 127.0.0.1 only.
//
//   reka-kafka-mock [--brokers N] [--topic NAME:PARTITIONS]... [--bootstrap-file FILE]
//
// Prints the bootstrap address (HOST:PORT) on stdout (and into FILE), then serves until
// SIGINT or SIGTERM. See docs/connectors/kafka.md for what the mock does not do.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "connectors/kafka/MockCluster.h"

int main(int argc, char** argv) {
  CLI::App app{"librdkafka's mock Kafka cluster on 127.0.0.1 (for tests and trying Reka)", "reka-kafka-mock"};
  int brokers = 1;
  std::vector<std::string> topics;
  std::string bootstrapFile;
  app.add_option("--brokers", brokers, "brokers in the cluster (default 1)")->check(CLI::Range(1, 16));
  app.add_option("--topic", topics, "create a topic: NAME:PARTITIONS (repeatable)");
  app.add_option("--bootstrap-file", bootstrapFile, "also write the bootstrap address to this file");
  CLI11_PARSE(app, argc, argv);

  // Block the stop signals before librdkafka starts its threads, then wait for one of them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto cluster = reka::connector::kafka::MockCluster::start(brokers);
  if (!cluster.isOk()) {
    std::fprintf(stderr, "reka-kafka-mock: %s\n", cluster.status().message().c_str());
    return 1;
  }
  for (const auto& t : topics) {
    const size_t colon = t.rfind(':');
    const int partitions = colon == std::string::npos ? 0 : std::atoi(t.c_str() + colon + 1);
    if (colon == std::string::npos || colon == 0 || partitions < 1) {
      std::fprintf(stderr, "reka-kafka-mock: --topic '%s' is not NAME:PARTITIONS (e.g. events:8)\n", t.c_str());
      return 2;
    }
    auto s = (*cluster)->createTopic(t.substr(0, colon), partitions);
    if (!s.isOk()) {
      std::fprintf(stderr, "reka-kafka-mock: %s\n", s.message().c_str());
      return 1;
    }
  }
  const std::string& bootstrap = (*cluster)->bootstrapServers();
  if (!bootstrapFile.empty()) {
    const std::string tmp = bootstrapFile + ".tmp";
    { std::ofstream(tmp) << bootstrap << "\n"; }
    std::rename(tmp.c_str(), bootstrapFile.c_str());
  }
  std::printf("%s\n", bootstrap.c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  return 0;
}
