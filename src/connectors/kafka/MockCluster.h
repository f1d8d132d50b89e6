#pragma once

#include <memory>
#include <string>

#include "reka/base/Status.h"

namespace reka::connector::kafka {

/// librdkafka's mock Kafka cluster, in this process, on 127.0.0.1 (ephemeral ports): for tests,
/// benchmarks and `reka kafka-mock`. It speaks the real protocol; see docs/connectors/kafka.md
/// for what it does not do (read_committed, stored transactional offset commits, CreateTopics).
class MockCluster {
 public:
  static Result<std::unique_ptr<MockCluster>> start(int brokers = 1);
  ~MockCluster();
  const std::string& bootstrapServers() const { return bootstrap_; }
  /// Creates `topic` with `partitions` partitions (replication 1).
  Status createTopic(const std::string& topic, int partitions);
  /// Makes every request about `topic` fail with `err` (an rd_kafka_resp_err_t; 0 clears it):
  /// what the clients see of a deleted topic.
  void setTopicError(const std::string& topic, int err);
  /// The next `count` Fetch requests fail with `err` (a transient broker error).
  void failFetches(int count, int err);
  /// The next `count` Produce requests fail with `err`.
  void failProduces(int count, int err);

 private:
  MockCluster() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bootstrap_;
};

}  // namespace reka::connector::kafka
