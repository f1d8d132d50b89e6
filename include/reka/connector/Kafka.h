#pragma once

#include <atomic>
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/api/Functions.h"
#include "reka/api/Operator.h"
#include "reka/base/Status.h"
#include "reka/connector/Source.h"
#include "reka/data/StringArena.h"

/// The Kafka connector (librdkafka): a source whose splits are topic partitions, and a sink
/// with at-least-once and exactly-once (transactional) delivery. See docs/connectors/kafka.md.
namespace reka::connector::kafka {

/// Where a source starts reading a partition that no checkpoint has a position for.
enum class StartupMode : uint8_t {
  kEarliest,         ///< the oldest retained offset
  kLatest,           ///< the end offset when the partition is assigned: only new messages
  kGroupOffsets,     ///< the consumer group's committed offset (earliest where it has none)
  kTimestamp,        ///< the first offset whose timestamp is at least startupTimestampMs
  kSpecificOffsets,  ///< specificOffsets (earliest for partitions not listed)
};

/// Parses "earliest", "latest", "group-offsets", "timestamp", "specific-offsets".
Result<StartupMode> parseStartupMode(std::string_view name);

struct KafkaSourceOptions {
  std::string bootstrapServers;      ///< host:port[,host:port…]
  std::vector<std::string> topics;   ///< topics to read (or topicPattern)
  std::string topicPattern;          ///< an ECMAScript regular expression over topic names
  /// The consumer group: its committed offsets for kGroupOffsets, and where the offsets of
  /// completed checkpoints are committed (so that lag tools see the job's progress). Empty: no
  /// group offsets are read or committed.
  std::string groupId;
  StartupMode startup = StartupMode::kEarliest;
  int64_t startupTimestampMs = 0;
  std::map<std::pair<std::string, int32_t>, int64_t> specificOffsets;
  /// Stop at the end offsets present when each partition was first assigned (a bounded read);
  /// false: read until the job is stopped.
  bool bounded = false;
  /// How often an unbounded source looks for new partitions and topics (0: only at start).
  int64_t discoveryIntervalMs = 10'000;
  bool commitOffsetsOnCheckpoint = true;
  /// Any librdkafka consumer property (https://github.com/confluentinc/librdkafka CONFIGURATION.md).
  std::map<std::string, std::string> properties;

  Status validate() const;
};

/// One message as a source's decoder sees it. The views are valid during the decode call only.
struct KafkaMessage {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestampMs = -1;  ///< -1: the message has no timestamp
  std::optional<std::string_view> key;    ///< none: a null key
  std::optional<std::string_view> value;  ///< none: a null value (a tombstone)
  const void* raw = nullptr;              ///< librdkafka's message (for headers())

  /// The message's headers, in order (a value may be null).
  std::vector<std::pair<std::string_view, std::optional<std::string_view>>> headers() const;
};

/// Reads the partitions assigned to one source subtask and decodes each message with `Decode`,
/// called as `Status decode(const KafkaMessage&, std::vector<T>& out, StringArena& arena)`:
/// it appends zero or more records (strings copied into `arena`), or returns an error, which
/// sends the message to the dead letters (or fails the job, with BadRecordPolicy::kFail).
template <class T, class Decode>
class KafkaSplitReader;

/// The raw side of a reader, without the decoder (librdkafka behind it).
class PartitionConsumer {
 public:
  struct Progress {
    size_t split = 0;
    int64_t nextOffset = 0;
    int64_t stopOffset = -1;
    bool finished = false;
  };
  static Result<std::unique_ptr<PartitionConsumer>> open(const KafkaSourceOptions& options, const SourceReaderContext& ctx);
  virtual ~PartitionConsumer() = default;
  /// Resolves the splits' start positions (startup mode, end offsets for a bounded read) and
  /// assigns them. Their progress (resolved positions) comes out of the next poll().
  virtual Status addSplits(const std::vector<SplitState>& splits) = 0;
  /// Waits up to `timeoutMs` for messages; fills `messages` (valid until the next poll) with
  /// `splits[i]` the split of messages[i], and `progress` with every split whose position moved.
  virtual Status poll(std::vector<KafkaMessage>& messages, std::vector<size_t>& splits, std::vector<Progress>& progress,
                      size_t maxMessages, int timeoutMs) = 0;
  virtual void wakeUp() = 0;
  /// Records between the positions of the unfinished splits and their partitions' high
  /// watermarks as last seen in fetch responses (no request is sent), -1: none known yet.
  virtual int64_t lag() const { return -1; }
  /// Commits the positions to the consumer group (asynchronously; no group: nothing).
  virtual void commit(const std::vector<SplitState>& splits) = 0;
  virtual void close() = 0;
};

/// The position of a partition found after the source started: read it from its start.
inline constexpr std::string_view kFromEarliestPosition = "earliest";

/// A split position: i64 next offset, i64 stop offset (-1: none; a bounded read ends there).
std::string encodePosition(int64_t nextOffset, int64_t stopOffset);
bool decodePosition(std::string_view in, int64_t& nextOffset, int64_t& stopOffset);

using connector::BadRecordPolicy;

/// Receives refused messages (with topic, partition, offset and reason). Called from the
/// connector thread; must be thread-safe if shared.
class DeadLetterHandler {
 public:
  virtual ~DeadLetterHandler() = default;
  virtual Status deadLetter(const KafkaMessage& message, const std::string& reason) = 0;
};

template <class T, class Decode>
class KafkaSplitReader final : public SplitReader<T> {
 public:
  KafkaSplitReader(std::unique_ptr<PartitionConsumer> consumer, Decode decode, BadRecordPolicy policy,
                   std::shared_ptr<DeadLetterHandler> deadLetters)
      : consumer_(std::move(consumer)), decode_(std::move(decode)), policy_(policy), deadLetters_(std::move(deadLetters)) {}

  Status addSplits(const std::vector<SplitState>& splits) override {
    for (const auto& s : splits) {
      int64_t next = 0, stop = -1;
      if (!s.position.empty() && !decodePosition(s.position, next, stop))
        return Status::corruption("malformed Kafka split position for " + s.id);
      positions_.push_back({next, stop});
    }
    return consumer_->addSplits(splits);
  }

  Status fetch(std::vector<SplitBatch<T>>& out, size_t maxRecords, int timeoutMs) override {
    REKA_RETURN_IF_ERROR(consumer_->poll(messages_, splitOf_, progress_, maxRecords, timeoutMs));
    index_.assign(positions_.size(), SIZE_MAX);
    arenas_.clear();
    const size_t first = out.size();
    auto batchFor = [&](size_t split) -> SplitBatch<T>& {
      if (index_[split] == SIZE_MAX) {
        index_[split] = out.size();
        out.emplace_back();
        out.back().split = split;
        arenas_.push_back(std::make_shared<StringArena>(64 * 1024));
        out.back().records.keepAlive.push_back(arenas_.back());
      }
      return out[index_[split]];
    };
    // Positions the consumer resolved or moved (a start offset, the end of a bounded split)
    // first; messages then move their split past themselves.
    for (const auto& p : progress_) {
      positions_[p.split].first = std::max(positions_[p.split].first, p.nextOffset);
      positions_[p.split].second = p.stopOffset;
      batchFor(p.split).finished = batchFor(p.split).finished || p.finished;
    }
    for (size_t i = 0; i < messages_.size(); ++i) {
      const KafkaMessage& m = messages_[i];
      const size_t split = splitOf_[i];
      SplitBatch<T>& b = batchFor(split);
      StringArena& arena = *arenas_[index_[split] - first];
      b.bytes += static_cast<int64_t>((m.key ? m.key->size() : 0) + (m.value ? m.value->size() : 0));
      Status s = decode_(m, BatchTraits<T>::records(b.records), arena);
      if (!s.isOk()) {
        ++b.badRecords;
        const std::string reason = s.message();
        if (policy_ == BadRecordPolicy::kFail)
          return Status::invalidArgument("topic " + std::string(m.topic) + " partition " + std::to_string(m.partition) +
                                         " offset " + std::to_string(m.offset) + ": " + reason);
        if (deadLetters_) REKA_RETURN_IF_ERROR(deadLetters_->deadLetter(m, reason));
      }
      positions_[split].first = std::max(positions_[split].first, m.offset + 1);
    }
    for (auto& b : out) b.position = encodePosition(positions_[b.split].first, positions_[b.split].second);
    return Status::ok();
  }

  void wakeUp() override { consumer_->wakeUp(); }
  void checkpointComplete(int64_t, const std::vector<SplitState>& splits) override { consumer_->commit(splits); }
  int64_t lag() const override { return consumer_->lag(); }
  void close() override { consumer_->close(); }

 private:
  std::unique_ptr<PartitionConsumer> consumer_;
  Decode decode_;
  BadRecordPolicy policy_;
  std::shared_ptr<DeadLetterHandler> deadLetters_;
  std::vector<std::pair<int64_t, int64_t>> positions_;  ///< by split: next offset, stop offset
  std::vector<KafkaMessage> messages_;
  std::vector<size_t> splitOf_;
  std::vector<PartitionConsumer::Progress> progress_;
  std::vector<size_t> index_;
  std::vector<std::shared_ptr<StringArena>> arenas_;
};

/// The partitions of the topics (or pattern) of `options`, as splits "topic-partition".
std::unique_ptr<SplitEnumerator> makeEnumerator(const KafkaSourceOptions& options);

/// A Kafka source of records T made by `decode` (see KafkaSplitReader).
template <class T, class Decode>
SourceSpec<T> kafkaSource(KafkaSourceOptions options, Decode decode, BadRecordPolicy policy = BadRecordPolicy::kDeadLetter,
                          std::shared_ptr<DeadLetterHandler> deadLetters = nullptr) {
  SourceSpec<T> spec;
  spec.bounded = options.bounded;
  spec.discoveryIntervalMs = options.bounded ? 0 : options.discoveryIntervalMs;
  spec.makeEnumerator = [options] { return makeEnumerator(options); };
  spec.makeReader = [options, decode, policy, deadLetters](const SourceReaderContext& ctx) -> std::unique_ptr<SplitReader<T>> {
    auto consumer = PartitionConsumer::open(options, ctx);
    if (!consumer.isOk()) throw std::runtime_error(consumer.status().message());
    return std::make_unique<KafkaSplitReader<T, Decode>>(std::move(*consumer), decode, policy, deadLetters);
  };
  return spec;
}

/// A message a sink's encoder fills for one record (buffers are reused from record to record).
struct ProducerRecord {
  std::string key;
  bool hasKey = false;
  std::string value;
  bool hasValue = true;  ///< false: a tombstone (null value), e.g. an upsert sink's delete
  std::vector<std::pair<std::string, std::string>> headers;
  int32_t partition = -1;    ///< -1: the partitioner chooses
  int64_t timestampMs = 0;   ///< 0: now
  bool skip = false;         ///< the encoder writes no message for this record
  void clear() {
    skip = false;
    key.clear();
    hasKey = false;
    value.clear();
    hasValue = true;
    headers.clear();
    partition = -1;
    timestampMs = 0;
  }
};

enum class SinkDelivery : uint8_t {
  kNone,          ///< fire and forget: nothing is waited for
  kAtLeastOnce,   ///< every message is acknowledged before a checkpoint completes
  kExactlyOnce,   ///< Kafka transactions committed when the checkpoint completes
};
Result<SinkDelivery> parseSinkDelivery(std::string_view name);

struct KafkaSinkOptions {
  std::string bootstrapServers;
  std::string topic;
  SinkDelivery delivery = SinkDelivery::kAtLeastOnce;
  /// Exactly-once: subtask s uses the transactional ids "<prefix>-<s>-<k>" (k = 0, 1, …: one
  /// per transaction in flight). Two jobs writing to one cluster need different prefixes.
  std::string transactionalIdPrefix = "reka";
  /// Exactly-once with checkpoints: where the sink keeps a marker per transactional id (the
  /// checkpoint whose transaction it last committed), so that a restore sends a transaction
  /// again only if its commit did not happen. Files are 0600 in a 0700 directory. (The
  /// messages themselves are not kept here: a restore reads them back from the topic.)
  std::string transactionLogDir;
  /// Partitioning when an encoder leaves ProducerRecord::partition at -1: librdkafka's
  /// (murmur2 of the key, like the Java client; keyless messages spread) unless set here with
  /// the `partitioner` property.
  std::map<std::string, std::string> properties;
  int64_t transactionTimeoutMs = 60'000;

  Status validate() const;
};

/// The producing side of a sink subtask (librdkafka behind it). Not thread-safe: the sink's
/// task drives it.
class SinkWriter {
 public:
  static Result<std::unique_ptr<SinkWriter>> open(const KafkaSinkOptions& options, int subtask, bool checkpointing);
  virtual ~SinkWriter() = default;
  virtual Status write(const ProducerRecord& record) = 0;
  /// The barrier of checkpoint `id`: waits until every message is acknowledged (at-least-once)
  /// or prepares the open transaction (exactly-once); appends what a restore needs to `out`.
  virtual Status prepare(int64_t id, std::string& out) = 0;
  /// Checkpoint `id` is complete: commits the transactions prepared for it and before.
  virtual Status commit(int64_t id) = 0;
  /// After a restore from the checkpoint whose prepare() wrote `in`: its transactions are
  /// committed if they were not (they belong to a complete checkpoint), others are aborted.
  virtual Status recover(std::string_view in) = 0;
  /// End of input: flushes (and, without checkpoints, commits).
  virtual Status finish() = 0;
  virtual void close() = 0;
  virtual int64_t messagesWritten() const = 0;
  /// Adds the key and value bytes of every message written from here on to `counter` (an
  /// operator's bytesOut metric); nullptr: none.
  void countBytesInto(std::atomic<int64_t>* counter) { bytesOut_ = counter; }

 protected:
  std::atomic<int64_t>* bytesOut_ = nullptr;
};

/// A sink function (for DataStream::sink) that encodes each record with `Encode`, called as
/// `void encode(const T&, ProducerRecord& out)`, and writes it through a SinkWriter.
template <class T, class Encode>
class KafkaSink {
 public:
  KafkaSink(KafkaSinkOptions options, Encode encode) : options_(std::move(options)), encode_(std::move(encode)) {}
  KafkaSink(const KafkaSink& o) : options_(o.options_), encode_(o.encode_) {}

  Status open(const OperatorContext& ctx) {
    REKA_RETURN_IF_ERROR(options_.validate());
    REKA_ASSIGN_OR_RETURN(writer_, SinkWriter::open(options_, ctx.subtask, ctx.checkpointing));
    if (ctx.metrics != nullptr) writer_->countBytesInto(&ctx.metrics->bytesOut);
    return Status::ok();
  }
  void invoke(const T& row) {
    record_.clear();
    encode_(row, record_);
    if (record_.skip) return;
    Status s = writer_->write(record_);
    if (!s.isOk()) throw std::runtime_error(s.message());
  }
  void finish() {
    Status s = writer_->finish();
    if (!s.isOk()) throw std::runtime_error(s.message());
  }
  void close() {
    if (writer_) writer_->close();
  }
  Status snapshot(int64_t id, std::string& out) { return writer_->prepare(id, out); }
  Status restore(std::string_view in) { return writer_->recover(in); }
  void commit(int64_t id) {
    Status s = writer_->commit(id);
    if (!s.isOk()) throw std::runtime_error(s.message());
  }

 private:
  KafkaSinkOptions options_;
  Encode encode_;
  ProducerRecord record_;
  std::unique_ptr<SinkWriter> writer_;
};

/// Flink's upsert-kafka encoding of a changelog (Change<T>, e.g. an updating query's result):
/// every message's key is the row's primary key (`key(row, out)` appends it); an insert or an
/// update-after writes the row as the value (`value(row, out)`), a delete writes a tombstone
/// (null value), and an update-before writes nothing (the update-after that follows replaces
/// the row). A compacted topic then holds the latest row per key.
template <class T, class KeyFn, class ValueFn>
struct UpsertEncoder {
  KeyFn key;
  ValueFn value;
  void operator()(const Change<T>& change, ProducerRecord& out) const {
    if (change.kind == RowKind::kUpdateBefore) {
      out.skip = true;
      return;
    }
    key(change.row, out.key);
    out.hasKey = true;
    if (change.kind == RowKind::kDelete) {
      out.hasValue = false;
    } else {
      value(change.row, out.value);
    }
  }
};

template <class T, class KeyFn, class ValueFn>
UpsertEncoder<T, KeyFn, ValueFn> upsertEncoder(KeyFn key, ValueFn value) {
  return UpsertEncoder<T, KeyFn, ValueFn>{std::move(key), std::move(value)};
}

/// Creates `topic` with `partitions` partitions (replication 1) through the admin API, or
/// does nothing if it exists. For tools and tests.
Status createTopic(const std::string& bootstrapServers, const std::string& topic, int partitions,
                   int timeoutMs = 10'000);

/// The partitions of `topic` and their [low, high) offsets; for tools and tests.
Result<std::vector<std::pair<int64_t, int64_t>>> partitionOffsets(const std::string& bootstrapServers,
                                                                  const std::string& topic, int timeoutMs = 10'000);

/// Parses "kafka://HOST:PORT[,HOST:PORT]/TOPIC[?key=value&…]" into bootstrap servers, topic
/// and properties; fails with a message that says what is expected.
struct KafkaUri {
  std::string bootstrapServers;
  std::string topic;
  std::map<std::string, std::string> properties;
};
bool isKafkaUri(std::string_view s);
Result<KafkaUri> parseKafkaUri(std::string_view s);
/// A source of the URI's topic with its properties; its `group.id` names the consumer group.
inline KafkaSourceOptions sourceOptions(const KafkaUri& uri) {
  KafkaSourceOptions o;
  o.bootstrapServers = uri.bootstrapServers;
  o.topics = {uri.topic};
  o.properties = uri.properties;
  if (auto g = o.properties.find("group.id"); g != o.properties.end()) {
    o.groupId = g->second;
    o.properties.erase(g);
  }
  return o;
}

}  // namespace reka::connector::kafka
