#include <unistd.h>

#include <set>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "connectors/kafka/KafkaCommon.h"
#include "reka/base/Log.h"
#include "reka/connector/Kafka.h"

namespace reka::connector::kafka {

namespace {

constexpr int kMetadataTimeoutMs = 10'000;

/// Discovers the partitions of the source's topics through metadata requests.
class KafkaEnumerator final : public SplitEnumerator {
 public:
  explicit KafkaEnumerator(KafkaSourceOptions options) : options_(std::move(options)) {
    if (!options_.topicPattern.empty()) {
      auto compiled = TopicPattern::compile(options_.topicPattern);  // validate() checked it
      if (compiled.isOk()) pattern_ = *compiled;
    }
  }

  Result<std::vector<SplitState>> discover() override {
    // Consumer-only properties make no sense on this metadata client: it takes the common ones.
    if (!client_) {
      REKA_ASSIGN_OR_RETURN(client_, makeClient(RD_KAFKA_PRODUCER, metadataConf()));
    }
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(client_.get(), 1, nullptr, &md, kMetadataTimeoutMs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return kafkaError("cannot read the metadata of " + options_.bootstrapServers, err);
    std::vector<SplitState> splits;
    std::set<std::string> present;
    for (int t = 0; t < md->topic_cnt; ++t) {
      const rd_kafka_metadata_topic_t& topic = md->topics[t];
      const std::string name = topic.topic;
      if (topic.err != RD_KAFKA_RESP_ERR_NO_ERROR || !wanted(name)) continue;
      present.insert(name);
      for (int p = 0; p < topic.partition_cnt; ++p) {
        SplitState s;
        s.id = splitId(name, topic.partitions[p].id);
        // A partition found after the first discovery is read from its start (it is new).
        if (discoveredOnce_) s.position = kFromEarliestPosition;
        splits.push_back(std::move(s));
      }
    }
    rd_kafka_metadata_destroy(md);
    if (!discoveredOnce_) {
      for (const auto& t : options_.topics)
        if (!present.count(t))
          return Status::notFound("Kafka topic '" + t + "' does not exist on " + options_.bootstrapServers);
    }
    for (const auto& t : seenTopics_)
      if (!present.count(t))
        return Status::notFound("Kafka topic '" + t + "' was deleted while the job read it (it is gone from the metadata of " +
                                options_.bootstrapServers + ")");
    seenTopics_.insert(present.begin(), present.end());
    discoveredOnce_ = true;
    return splits;
  }

  /// Flink's assignment: the topic's hash picks a start subtask, partitions follow round-robin.
  int owner(const SplitState& split, int parallelism) const override {
    std::string topic;
    int32_t partition = 0;
    if (!parseSplitId(split.id, topic, partition)) return SplitEnumerator::owner(split, parallelism);
    uint32_t h = 0;
    for (unsigned char c : topic) h = h * 31 + c;  // Java's String.hashCode
    const int start = static_cast<int>(((h * 31u) & 0x7FFFFFFFu) % static_cast<uint32_t>(parallelism));
    return (start + partition) % parallelism;
  }

 private:
  KafkaConf metadataConf() {
    KafkaConf conf(rd_kafka_conf_new());
    char err[512];
    rd_kafka_conf_set(conf.get(), "bootstrap.servers", options_.bootstrapServers.c_str(), err, sizeof err);
    for (const auto& [k, v] : options_.properties) {
      // Connection settings apply to every connection; consumer settings fail here.
      if (isConnectionProperty(k)) rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err);
    }
    return conf;
  }
  bool wanted(const std::string& topic) const {
    if (pattern_) return topic.rfind("__", 0) != 0 && pattern_->matches(topic);
    for (const auto& t : options_.topics)
      if (t == topic) return true;
    return false;
  }

  KafkaSourceOptions options_;
  std::shared_ptr<TopicPattern> pattern_;
  KafkaHandle client_;
  bool discoveredOnce_ = false;
  std::set<std::string> seenTopics_;
};

class RdKafkaPartitionConsumer final : public PartitionConsumer {
 public:
  RdKafkaPartitionConsumer(KafkaSourceOptions options, std::string name) : options_(std::move(options)), name_(std::move(name)) {}
  ~RdKafkaPartitionConsumer() override { close(); }

  Status init(bool ownGroup) {
    ownGroup_ = ownGroup;
    std::map<std::string, std::string> defaults = {
        {"bootstrap.servers", options_.bootstrapServers},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
        {"group.id", ownGroup ? options_.groupId : "reka-" + std::to_string(::getpid()) + "-" + name_},
    };
    REKA_ASSIGN_OR_RETURN(KafkaConf conf, makeConf(defaults, options_.properties));
    REKA_ASSIGN_OR_RETURN(rk_, makeClient(RD_KAFKA_CONSUMER, std::move(conf)));
    rd_kafka_poll_set_consumer(rk_.get());
    queue_.reset(rd_kafka_queue_get_consumer(rk_.get()));
    if (!queue_) return Status::internal("Kafka consumer has no queue");
    return Status::ok();
  }

  Status addSplits(const std::vector<SplitState>& splits) override {
    PartitionList assign(rd_kafka_topic_partition_list_new(static_cast<int>(splits.size())));
    for (const auto& s : splits) {
      Split split;
      if (!parseSplitId(s.id, split.topic, split.partition))
        return Status::corruption("'" + s.id + "' is not a Kafka split (topic-partition)");
      const size_t index = splits_.size();
      int64_t next = -1, stop = -1;
      if (s.position.empty() || s.position == kFromEarliestPosition) {
        REKA_RETURN_IF_ERROR(resolveStart(split, s.position.empty() ? options_.startup : StartupMode::kEarliest, next));
      } else if (!decodePosition(s.position, next, stop)) {
        return Status::corruption("malformed position of Kafka split " + s.id);
      }
      if (options_.bounded && stop < 0) {
        int64_t low = 0, high = 0;
        REKA_RETURN_IF_ERROR(watermarks(split, low, high));
        stop = high;
      }
      split.next = next;
      split.stop = stop;
      split.finished = s.finished || (stop >= 0 && next >= stop);
      byName_[{split.topic, split.partition}] = index;
      splits_.push_back(split);
      progress_.push_back({index, next, stop, split.finished});
      if (!split.finished) rd_kafka_topic_partition_list_add(assign.get(), split.topic.c_str(), split.partition)->offset = next;
    }
    if (assign->cnt > 0) {
      rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_.get(), assign.get());
      if (e != nullptr) {
        std::string m = rd_kafka_error_string(e);
        rd_kafka_error_destroy(e);
        return Status::ioError("cannot assign Kafka partitions: " + m);
      }
    }
    return Status::ok();
  }

  Status poll(std::vector<KafkaMessage>& messages, std::vector<size_t>& splitOf, std::vector<Progress>& progress,
              size_t maxMessages, int timeoutMs) override {
    release();
    messages.clear();
    splitOf.clear();
    progress.swap(progress_);
    progress_.clear();
    if (!progress.empty()) timeoutMs = 0;  // report resolved positions at once
    raw_.resize(std::max<size_t>(1, maxMessages));
    ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), timeoutMs, raw_.data(), raw_.size());
    if (n < 0) return kafkaError("Kafka consumer", rd_kafka_last_error());
    held_ = static_cast<size_t>(n);
    for (size_t i = 0; i < held_; ++i) {
      rd_kafka_message_t* m = raw_[i];
      size_t split = 0;
      if (!lookup(m, split)) continue;
      Split& s = splits_[split];
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        s.next = std::max(s.next, m->offset);
        if (s.stop >= 0 && s.next >= s.stop) finish(split, progress);
        continue;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const std::string where = "topic " + s.topic + " partition " + std::to_string(s.partition);
        if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
            m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
            m->err == RD_KAFKA_RESP_ERR__FATAL)
          return kafkaError("Kafka source " + where + " (was the topic deleted?)", m->err);
        // Other errors are transient (librdkafka retries): report and go on.
        reka::log(LogLevel::kWarn, "Kafka source " + where + ": " + rd_kafka_message_errstr(m) + " (retrying)");
        continue;
      }
      if (s.finished) continue;
      if (s.stop >= 0 && m->offset >= s.stop) {
        finish(split, progress);
        continue;
      }
      KafkaMessage km;
      km.topic = s.topic;
      km.partition = s.partition;
      km.offset = m->offset;
      rd_kafka_timestamp_type_t tsType;
      km.timestampMs = rd_kafka_message_timestamp(m, &tsType);
      if (m->key != nullptr) km.key = std::string_view(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) km.value = std::string_view(static_cast<const char*>(m->payload), m->len);
      km.raw = m;
      messages.push_back(km);
      splitOf.push_back(split);
      s.next = m->offset + 1;
      if (s.stop >= 0 && s.next >= s.stop) finish(split, progress);
    }
    return Status::ok();
  }

  void wakeUp() override {
    if (queue_) rd_kafka_queue_yield(queue_.get());
  }

  int64_t lag() const override {
    if (!rk_) return -1;
    int64_t total = 0;
    bool known = false;
    for (const Split& s : splits_) {
      known = true;  // an ended split has nothing left
      if (s.finished) continue;
      int64_t low = 0, high = 0;
      // The offsets cached from the last fetch response of the partition (no request).
      if (rd_kafka_get_watermark_offsets(rk_.get(), s.topic.c_str(), s.partition, &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
          high < 0)
        return -1;  // a partition not fetched from yet: the lag is not known
      const int64_t end = s.stop >= 0 ? std::min(s.stop, high) : high;
      total += std::max<int64_t>(0, end - s.next);
    }
    return known ? total : -1;
  }

  void commit(const std::vector<SplitState>& splits) override {
    if (!ownGroup_ || !options_.commitOffsetsOnCheckpoint || !rk_) return;
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(splits.size())));
    for (const auto& s : splits) {
      std::string topic;
      int32_t partition = 0;
      int64_t next = 0, stop = -1;
      if (!parseSplitId(s.id, topic, partition) || !decodePosition(s.position, next, stop)) continue;
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = next;
    }
    if (list->cnt > 0) rd_kafka_commit(rk_.get(), list.get(), 1);
  }

  void close() override {
    release();
    queue_.reset();
    if (rk_) {
      rd_kafka_consumer_close(rk_.get());
      rk_.reset();
    }
  }

 private:
  struct Split {
    std::string topic;
    int32_t partition = 0;
    int64_t next = 0;
    int64_t stop = -1;
    bool finished = false;
  };

  Status watermarks(const Split& s, int64_t& low, int64_t& high) {
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk_.get(), s.topic.c_str(), s.partition, &low, &high, kMetadataTimeoutMs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return kafkaError("cannot read the offsets of topic " + s.topic + " partition " + std::to_string(s.partition), err);
    return Status::ok();
  }

  /// The first offset to read of a partition without a checkpointed position.
  Status resolveStart(const Split& s, StartupMode mode, int64_t& next) {
    int64_t low = 0, high = 0;
    REKA_RETURN_IF_ERROR(watermarks(s, low, high));
    next = low;
    switch (mode) {
      case StartupMode::kEarliest:
        break;
      case StartupMode::kLatest:
        next = high;
        break;
      case StartupMode::kSpecificOffsets: {
        auto it = options_.specificOffsets.find({s.topic, s.partition});
        if (it != options_.specificOffsets.end()) next = std::clamp(it->second, low, high);
        break;
      }
      case StartupMode::kGroupOffsets: {
        PartitionList list(rd_kafka_topic_partition_list_new(1));
        rd_kafka_topic_partition_list_add(list.get(), s.topic.c_str(), s.partition);
        rd_kafka_resp_err_t err = rd_kafka_committed(rk_.get(), list.get(), kMetadataTimeoutMs);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
          return kafkaError("cannot read the committed offsets of group " + options_.groupId, err);
        if (list->elems[0].offset >= 0) next = std::clamp(list->elems[0].offset, low, high);
        break;
      }
      case StartupMode::kTimestamp: {
        PartitionList list(rd_kafka_topic_partition_list_new(1));
        rd_kafka_topic_partition_list_add(list.get(), s.topic.c_str(), s.partition)->offset = options_.startupTimestampMs;
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk_.get(), list.get(), kMetadataTimeoutMs);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafkaError("cannot look up offsets by timestamp", err);
        // -1: no message at or after the timestamp; start at the end.
        next = list->elems[0].offset >= 0 ? list->elems[0].offset : high;
        break;
      }
    }
    return Status::ok();
  }

  bool lookup(const rd_kafka_message_t* m, size_t& split) {
    auto key = std::make_pair(static_cast<const void*>(m->rkt), m->partition);
    if (auto it = byHandle_.find(key); it != byHandle_.end()) {
      split = it->second;
      return true;
    }
    if (m->rkt == nullptr) return false;
    auto it = byName_.find({rd_kafka_topic_name(m->rkt), m->partition});
    if (it == byName_.end()) return false;
    byHandle_[key] = it->second;
    split = it->second;
    return true;
  }

  void finish(size_t split, std::vector<Progress>& progress) {
    Split& s = splits_[split];
    if (s.finished) return;
    s.finished = true;
    progress.push_back({split, s.next, s.stop, true});
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), s.topic.c_str(), s.partition);
    rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk_.get(), list.get());
    if (e != nullptr) rd_kafka_error_destroy(e);
  }

  void release() {
    for (size_t i = 0; i < held_; ++i) rd_kafka_message_destroy(raw_[i]);
    held_ = 0;
  }

  KafkaSourceOptions options_;
  std::string name_;
  bool ownGroup_ = false;
  KafkaHandle rk_;
  KafkaQueue queue_;
  std::vector<Split> splits_;
  std::map<std::pair<std::string, int32_t>, size_t> byName_;
  absl::flat_hash_map<std::pair<const void*, int32_t>, size_t> byHandle_;
  std::vector<Progress> progress_;
  std::vector<rd_kafka_message_t*> raw_;
  size_t held_ = 0;
};

}  // namespace

std::unique_ptr<SplitEnumerator> makeEnumerator(const KafkaSourceOptions& options) {
  return std::make_unique<KafkaEnumerator>(options);
}

Result<std::unique_ptr<PartitionConsumer>> PartitionConsumer::open(const KafkaSourceOptions& options,
                                                                   const SourceReaderContext& ctx) {
  REKA_RETURN_IF_ERROR(options.validate());
  auto consumer = std::make_unique<RdKafkaPartitionConsumer>(options, ctx.sourceName + "-" + std::to_string(ctx.subtask));
  REKA_RETURN_IF_ERROR(consumer->init(!options.groupId.empty()));
  return std::unique_ptr<PartitionConsumer>(std::move(consumer));
}

}  // namespace reka::connector::kafka
