#include "connectors/kafka/MockCluster.h"

#include <vector>

#include "connectors/kafka/KafkaCommon.h"  // rdkafka.h, which rdkafka_mock.h needs first
#include <librdkafka/rdkafka_mock.h>

namespace reka::connector::kafka {

namespace {
// Kafka protocol API keys (the public headers do not name them).
constexpr int16_t kProduceApiKey = 0;
constexpr int16_t kFetchApiKey = 1;
}  // namespace

struct MockCluster::Impl {
  KafkaHandle owner;  // the mock cluster lives in this (otherwise unused) client
  rd_kafka_mock_cluster_t* cluster = nullptr;
};

Result<std::unique_ptr<MockCluster>> MockCluster::start(int brokers) {
  auto m = std::unique_ptr<MockCluster>(new MockCluster());
  m->impl_ = std::make_unique<Impl>();
  REKA_ASSIGN_OR_RETURN(KafkaConf conf, makeConf({{"log_level", "0"}}, {}));
  REKA_ASSIGN_OR_RETURN(m->impl_->owner, makeClient(RD_KAFKA_PRODUCER, std::move(conf)));
  m->impl_->cluster = rd_kafka_mock_cluster_new(m->impl_->owner.get(), brokers);
  if (m->impl_->cluster == nullptr) return Status::ioError("cannot start librdkafka's mock cluster");
  m->bootstrap_ = rd_kafka_mock_cluster_bootstraps(m->impl_->cluster);
  return m;
}

MockCluster::~MockCluster() {
  if (impl_ && impl_->cluster != nullptr) rd_kafka_mock_cluster_destroy(impl_->cluster);
}

Status MockCluster::createTopic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafkaError("mock cluster: creating topic " + topic, err);
  return Status::ok();
}

void MockCluster::setTopicError(const std::string& topic, int err) {
  rd_kafka_mock_topic_set_error(impl_->cluster, topic.c_str(), static_cast<rd_kafka_resp_err_t>(err));
}

void MockCluster::failFetches(int count, int err) {
  std::vector<rd_kafka_resp_err_t> errs(static_cast<size_t>(count), static_cast<rd_kafka_resp_err_t>(err));
  rd_kafka_mock_push_request_errors_array(impl_->cluster, kFetchApiKey, errs.size(), errs.data());
}

void MockCluster::failProduces(int count, int err) {
  std::vector<rd_kafka_resp_err_t> errs(static_cast<size_t>(count), static_cast<rd_kafka_resp_err_t>(err));
  rd_kafka_mock_push_request_errors_array(impl_->cluster, kProduceApiKey, errs.size(), errs.data());
}

}  // namespace reka::connector::kafka
