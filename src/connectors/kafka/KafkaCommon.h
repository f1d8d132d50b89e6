#pragma once

#include <librdkafka/rdkafka.h>
#include <regex.h>

#include <map>
#include <memory>
#include <string>

#include "base/Regex.h"
#include "reka/base/Status.h"

namespace reka::connector::kafka {

/// Owners of librdkafka handles.
struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using KafkaQueue = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;

/// A librdkafka configuration: `defaults` first, then the user's `properties` over them. A
/// property librdkafka does not know (or a bad value) fails with its message.
Result<KafkaConf> makeConf(const std::map<std::string, std::string>& defaults,
                           const std::map<std::string, std::string>& properties);

/// Creates a client of `type`; librdkafka's error otherwise.
Result<KafkaHandle> makeClient(rd_kafka_type_t type, KafkaConf conf);

/// Status for a librdkafka error code, with `what` in front.
/// Whether a librdkafka property is a connection setting (security, SASL, SSL, client id,
/// broker and socket settings), which applies to every client a connector makes, a metadata
/// client or a reader beside a producer included.
inline bool isConnectionProperty(const std::string& k) {
  return k.rfind("security.", 0) == 0 || k.rfind("sasl.", 0) == 0 || k.rfind("ssl.", 0) == 0 || k == "client.id" ||
         k.rfind("broker.", 0) == 0 || k.rfind("socket.", 0) == 0;
}

Status kafkaError(const std::string& what, rd_kafka_resp_err_t err);

/// A topic name pattern: a regular expression (RE2: Java's syntax without backreferences or
/// lookaround) that must match the whole name.
class TopicPattern {
 public:
  static Result<std::shared_ptr<TopicPattern>> compile(const std::string& pattern);
  ~TopicPattern();
  TopicPattern(const TopicPattern&) = delete;
  TopicPattern& operator=(const TopicPattern&) = delete;
  bool matches(const std::string& topic) const;

 private:
  TopicPattern() = default;
  std::shared_ptr<const Regex> re_;
};

/// "topic-partition" ids of splits: the partition is after the last '-'.
std::string splitId(const std::string& topic, int32_t partition);
bool parseSplitId(const std::string& id, std::string& topic, int32_t& partition);

}  // namespace reka::connector::kafka
