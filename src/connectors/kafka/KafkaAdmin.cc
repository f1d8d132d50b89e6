#include "connectors/kafka/KafkaCommon.h"
#include "reka/connector/Kafka.h"

namespace reka::connector::kafka {

Status createTopic(const std::string& bootstrapServers, const std::string& topic, int partitions, int timeoutMs) {
  if (partitions < 1) return Status::invalidArgument("a topic needs at least 1 partition, got " + std::to_string(partitions));
  REKA_ASSIGN_OR_RETURN(KafkaConf conf, makeConf({{"bootstrap.servers", bootstrapServers}}, {}));
  REKA_ASSIGN_OR_RETURN(KafkaHandle rk, makeClient(RD_KAFKA_PRODUCER, std::move(conf)));
  char err[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  if (nt == nullptr) return Status::invalidArgument(std::string("topic ") + topic + ": " + err);
  KafkaQueue queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMs, err, sizeof err);
  rd_kafka_CreateTopics(rk.get(), &nt, 1, options, queue.get());
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue.get(), timeoutMs + 2000);
  Status result = Status::ioError("creating topic " + topic + " timed out");
  if (ev != nullptr) {
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = kafkaError("creating topic " + topic, rd_kafka_event_error(ev));
    } else {
      size_t n = 0;
      const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
      result = Status::ok();
      for (size_t i = 0; i < n; ++i) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
          result = kafkaError("creating topic " + topic, e);
      }
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_NewTopic_destroy(nt);
  return result;
}

Result<std::vector<std::pair<int64_t, int64_t>>> partitionOffsets(const std::string& bootstrapServers, const std::string& topic,
                                                                  int timeoutMs) {
  REKA_ASSIGN_OR_RETURN(KafkaConf conf, makeConf({{"bootstrap.servers", bootstrapServers}}, {}));
  REKA_ASSIGN_OR_RETURN(KafkaHandle rk, makeClient(RD_KAFKA_PRODUCER, std::move(conf)));
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk.get(), 0, rkt, &md, timeoutMs);
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafkaError("metadata of topic " + topic, err);
  std::vector<int32_t> ids;
  Status status;
  if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = kafkaError("topic " + topic, md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  } else {
    for (int p = 0; p < md->topics[0].partition_cnt; ++p) ids.push_back(md->topics[0].partitions[p].id);
  }
  rd_kafka_metadata_destroy(md);
  REKA_RETURN_IF_ERROR(status);
  std::sort(ids.begin(), ids.end());
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int32_t p : ids) {
    int64_t low = 0, high = 0;
    err = rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &low, &high, timeoutMs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafkaError("offsets of topic " + topic, err);
    out.emplace_back(low, high);
  }
  return out;
}

}  // namespace reka::connector::kafka
