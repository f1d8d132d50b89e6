#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <vector>

#include "connectors/kafka/KafkaCommon.h"
#include "reka/base/Log.h"
#include "reka/connector/Kafka.h"
#include "reka/state/Serde.h"

namespace reka::connector::kafka {

namespace {

constexpr int kFlushTimeoutMs = 60'000;
constexpr int kTransactionCallTimeoutMs = 60'000;
/// Transactions of one sink subtask prepared and not yet committed, at most (one producer each).
constexpr int kMaxTransactionsInFlight = 8;
/// The layout of the sink's part of a checkpoint (see prepare()).
constexpr uint8_t kSnapshotVersion = 2;

std::string errorString(rd_kafka_error_t* e) {
  std::string m = rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  return m;
}

/// The offsets of one transaction's messages in one partition: [first, first + count).
struct OffsetRun {
  int32_t partition = 0;
  int64_t first = 0;
  int64_t count = 0;
};

/// What the delivery reports of a producer say, across its lifetime: how many messages the
/// broker refused, and (for a transactional producer with checkpoints) where the acknowledged
/// messages of the open transaction landed, as runs of consecutive offsets per partition.
struct DeliveryState {
  std::atomic<int64_t> failed{0};
  std::string firstError;  // written by the delivery callback (on the thread that polls)
  bool trackOffsets = false;
  int64_t unknownOffsets = 0;
  std::vector<OffsetRun> runs;
  std::vector<int32_t> lastRun;  // per partition: its newest run in `runs`, or -1

  void record(int32_t partition, int64_t offset) {
    if (partition < 0 || offset < 0) {
      ++unknownOffsets;
      return;
    }
    if (static_cast<size_t>(partition) >= lastRun.size()) lastRun.resize(static_cast<size_t>(partition) + 1, -1);
    int32_t& last = lastRun[static_cast<size_t>(partition)];
    if (last >= 0) {
      OffsetRun& r = runs[static_cast<size_t>(last)];
      if (r.first + r.count == offset) {
        ++r.count;
        return;
      }
    }
    last = static_cast<int32_t>(runs.size());
    runs.push_back({partition, offset, 1});
  }
};

void onDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* state = static_cast<DeliveryState*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (state->trackOffsets) state->record(m->partition, m->offset);
    return;
  }
  if (state->failed.fetch_add(1) == 0) state->firstError = rd_kafka_err2str(m->err);
}

/// One librdkafka producer: plain (idempotent) or transactional.
class Producer {
 public:
  static Result<std::unique_ptr<Producer>> make(const KafkaSinkOptions& o, const std::string& transactionalId,
                                                bool trackOffsets = false) {
    auto p = std::unique_ptr<Producer>(new Producer());
    p->transactionalId_ = transactionalId;
    p->delivery_.trackOffsets = trackOffsets;
    std::map<std::string, std::string> defaults = {
        {"bootstrap.servers", o.bootstrapServers},
        {"enable.idempotence", "true"},
        {"linger.ms", "5"},
        {"batch.num.messages", "10000"},
        {"queue.buffering.max.kbytes", "262144"},
    };
    if (!transactionalId.empty()) {
      defaults["transactional.id"] = transactionalId;
      defaults["transaction.timeout.ms"] = std::to_string(o.transactionTimeoutMs);
    }
    REKA_ASSIGN_OR_RETURN(KafkaConf conf, makeConf(defaults, o.properties));
    rd_kafka_conf_set_dr_msg_cb(conf.get(), onDelivery);
    rd_kafka_conf_set_opaque(conf.get(), &p->delivery_);
    REKA_ASSIGN_OR_RETURN(p->rk_, makeClient(RD_KAFKA_PRODUCER, std::move(conf)));
    p->topic_ = rd_kafka_topic_new(p->rk_.get(), o.topic.c_str(), nullptr);
    if (p->topic_ == nullptr) return kafkaError("cannot open topic " + o.topic, rd_kafka_last_error());
    if (!transactionalId.empty()) {
      // Fences an earlier producer with this id and aborts its open transaction.
      rd_kafka_error_t* e = rd_kafka_init_transactions(p->rk_.get(), kTransactionCallTimeoutMs);
      if (e != nullptr) return Status::ioError("Kafka transactional id " + transactionalId + ": " + errorString(e));
    }
    return p;
  }
  ~Producer() {
    if (topic_ != nullptr) rd_kafka_topic_destroy(topic_);
    if (rk_) {
      rd_kafka_flush(rk_.get(), 5000);
      rk_.reset();
    }
  }

  Status send(const ProducerRecord& r) {
    rd_kafka_headers_t* headers = nullptr;
    if (!r.headers.empty()) {
      headers = rd_kafka_headers_new(r.headers.size());
      for (const auto& [k, v] : r.headers)
        rd_kafka_header_add(headers, k.data(), static_cast<ssize_t>(k.size()), v.data(), static_cast<ssize_t>(v.size()));
    }
    for (int attempt = 0;; ++attempt) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_.get(), RD_KAFKA_V_RKT(topic_), RD_KAFKA_V_PARTITION(r.partition), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(r.hasValue ? const_cast<char*>(r.value.data()) : nullptr, r.hasValue ? r.value.size() : 0),
          RD_KAFKA_V_KEY(r.hasKey ? r.key.data() : nullptr, r.hasKey ? r.key.size() : 0),
          RD_KAFKA_V_TIMESTAMP(r.timestampMs), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && attempt < 6000) {
        // The producer's buffer is full: serve delivery reports until it drains (backpressure).
        rd_kafka_poll(rk_.get(), 10);
        continue;
      }
      if (headers != nullptr) rd_kafka_headers_destroy(headers);
      return kafkaError("cannot send to Kafka", err);
    }
    if ((++sent_ & 1023) == 0) rd_kafka_poll(rk_.get(), 0);
    return Status::ok();
  }

  /// Waits until every message sent is acknowledged; fails if any was refused.
  Status flush() {
    rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), kFlushTimeoutMs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafkaError("Kafka flush", err);
    return deliveryStatus();
  }
  Status deliveryStatus() const {
    const int64_t failed = delivery_.failed.load();
    if (failed > 0)
      return Status::ioError("Kafka refused " + std::to_string(failed) + " messages (first: " + delivery_.firstError + ")");
    return Status::ok();
  }
  Status begin() {
    rd_kafka_error_t* e = rd_kafka_begin_transaction(rk_.get());
    if (e != nullptr) return Status::ioError("Kafka begin transaction " + transactionalId_ + ": " + errorString(e));
    return Status::ok();
  }
  Status commitTransaction() {
    for (int attempt = 0;; ++attempt) {
      rd_kafka_error_t* e = rd_kafka_commit_transaction(rk_.get(), kTransactionCallTimeoutMs);
      if (e == nullptr) return deliveryStatus();
      const bool retriable = rd_kafka_error_is_retriable(e);
      std::string m = errorString(e);
      if (!retriable || attempt >= 5) return Status::ioError("Kafka commit of transaction " + transactionalId_ + ": " + m);
    }
  }
  void abortTransaction() {
    rd_kafka_error_t* e = rd_kafka_abort_transaction(rk_.get(), 10'000);
    if (e != nullptr) rd_kafka_error_destroy(e);
  }
  /// The offsets of the messages acknowledged since the last call (call after flush()).
  Result<std::vector<OffsetRun>> takeRuns() {
    if (delivery_.unknownOffsets > 0)
      return Status::ioError("Kafka acknowledged " + std::to_string(delivery_.unknownOffsets) +
                             " messages of transaction " + transactionalId_ + " without their offsets");
    std::vector<OffsetRun> runs = std::move(delivery_.runs);
    delivery_.runs.clear();
    delivery_.lastRun.clear();
    return runs;
  }
  int64_t sent() const { return sent_; }
  const std::string& transactionalId() const { return transactionalId_; }

 private:
  Producer() = default;
  KafkaHandle rk_;
  rd_kafka_topic_t* topic_ = nullptr;
  DeliveryState delivery_;
  std::string transactionalId_;
  int64_t sent_ = 0;
};

/// Reads the messages of a transaction back from the topic (they are there whether the
/// transaction is open, aborted or committed, for a reader that does not filter by
/// transaction: `read_uncommitted`) and calls send(record) for each, partition by partition in
/// offset order. Fails, naming the partition and offset, if a message is no longer there
/// (retention or compaction removed it).
template <class Send>
Status readBack(const KafkaSinkOptions& o, const std::string& transactionalId, std::vector<OffsetRun> runs, Send&& send) {
  if (runs.empty()) return Status::ok();
  std::stable_sort(runs.begin(), runs.end(), [](const OffsetRun& a, const OffsetRun& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.first < b.first;
  });
  std::map<std::string, std::string> defaults = {
      {"bootstrap.servers", o.bootstrapServers},
      {"group.id", "reka-recovery-" + transactionalId},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
      {"auto.offset.reset", "error"},
      {"isolation.level", "read_uncommitted"},
  };
  // Only the connection's properties apply to this reader (the rest are the producer's).
  std::map<std::string, std::string> connection;
  for (const auto& [k, v] : o.properties)
    if (isConnectionProperty(k)) connection[k] = v;
  REKA_ASSIGN_OR_RETURN(KafkaConf conf, makeConf(defaults, connection));
  REKA_ASSIGN_OR_RETURN(KafkaHandle rk, makeClient(RD_KAFKA_CONSUMER, std::move(conf)));
  rd_kafka_poll_set_consumer(rk.get());

  // Per partition: the runs still to read, and the next offset wanted.
  struct Cursor {
    size_t run = 0, end = 0;  // runs[run, end) are this partition's
    int64_t next = 0;
    bool done = false;
  };
  std::map<int32_t, Cursor> cursors;
  PartitionList assign(rd_kafka_topic_partition_list_new(8));
  for (size_t i = 0; i < runs.size();) {
    size_t j = i;
    while (j < runs.size() && runs[j].partition == runs[i].partition) ++j;
    cursors[runs[i].partition] = Cursor{i, j, runs[i].first, false};
    rd_kafka_topic_partition_list_add(assign.get(), o.topic.c_str(), runs[i].partition)->offset = runs[i].first;
    i = j;
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(rk.get(), assign.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafkaError("cannot read back transaction " + transactionalId, err);
  size_t open = cursors.size();
  auto where = [&](int32_t p, int64_t offset) {
    return o.topic + " [" + std::to_string(p) + "] at offset " + std::to_string(offset);
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTransactionCallTimeoutMs);
  ProducerRecord r;
  Status status = Status::ok();
  while (open > 0 && status.isOk()) {
    if (std::chrono::steady_clock::now() > deadline) {
      status = Status::ioError("timed out reading back the messages of transaction " + transactionalId + " from " + o.topic);
      break;
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (m == nullptr) continue;
    auto it = cursors.find(m->partition);
    if (it == cursors.end() || it->second.done) {
      rd_kafka_message_destroy(m);
      continue;
    }
    Cursor& c = it->second;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
      status = Status::ioError("transaction " + transactionalId + " cannot be sent again: its message in " +
                               where(m->partition, c.next) + " is no longer in the topic (" +
                               (eof ? std::string("the partition ends before it") : rd_kafka_message_errstr(m)) +
                               "; retention or compaction removed it)");
      rd_kafka_message_destroy(m);
      break;
    }
    if (m->offset > c.next) {
      status = Status::ioError("transaction " + transactionalId + " cannot be sent again: its message in " +
                               where(m->partition, c.next) + " is no longer in the topic (retention or compaction removed it)");
    } else if (m->offset == c.next) {
      r.clear();
      r.partition = m->partition;
      r.hasKey = m->key != nullptr;
      if (r.hasKey) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      r.hasValue = m->payload != nullptr;
      if (r.hasValue) r.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_timestamp_type_t type;
      const int64_t ts = rd_kafka_message_timestamp(m, &type);
      r.timestampMs = type == RD_KAFKA_TIMESTAMP_CREATE_TIME ? ts : 0;
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t h = 0; rd_kafka_header_get_all(headers, h, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++h)
          r.headers.emplace_back(name, value == nullptr ? std::string() : std::string(static_cast<const char*>(value), size));
      }
      status = send(r);
      const OffsetRun& run = runs[c.run];
      if (++c.next == run.first + run.count) {
        if (++c.run == c.end) {
          c.done = true;
          --open;
        } else {
          c.next = runs[c.run].first;
        }
      }
    }
    // (A message below the next offset wanted belongs to another producer.)
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk.get());
  return status;
}

class RdKafkaSinkWriter final : public SinkWriter {
 public:
  RdKafkaSinkWriter(KafkaSinkOptions options, int subtask, bool checkpointing)
      : options_(std::move(options)), subtask_(subtask), checkpointing_(checkpointing) {}
  ~RdKafkaSinkWriter() override { close(); }

  Status init() {
    transactional_ = options_.delivery == SinkDelivery::kExactlyOnce;
    if (transactional_ && checkpointing_) {
      if (options_.transactionLogDir.empty())
        return Status::invalidArgument("exactly-once Kafka output with checkpoints needs a directory for its transaction markers");
      std::error_code ec;
      std::filesystem::create_directories(options_.transactionLogDir, ec);
      if (ec) return Status::ioError("cannot create " + options_.transactionLogDir + ": " + ec.message());
      if (::chmod(options_.transactionLogDir.c_str(), 0700) != 0)
        return Status::ioError("cannot make " + options_.transactionLogDir + " private: " + std::strerror(errno));
    }
    if (!transactional_) {
      REKA_ASSIGN_OR_RETURN(plain_, Producer::make(options_, ""));
    }
    return Status::ok();
  }

  Status write(const ProducerRecord& record) override {
    ++written_;
    if (bytesOut_ != nullptr)
      bytesOut_->fetch_add(static_cast<int64_t>(record.key.size() + record.value.size()), std::memory_order_relaxed);
    if (!transactional_) return plain_->send(record);
    if (!current_) REKA_RETURN_IF_ERROR(beginNext());
    return current_->producer->send(record);
  }

  /// u8 version (2), u32 prepared transactions, each: i64 checkpoint, transactional id, u32
  /// runs, each: i32 partition, i64 first offset, i64 count.
  Status prepare(int64_t id, std::string& out) override {
    if (!transactional_) {
      if (options_.delivery == SinkDelivery::kAtLeastOnce) REKA_RETURN_IF_ERROR(plain_->flush());
      return Status::ok();
    }
    if (current_) {
      REKA_RETURN_IF_ERROR(current_->producer->flush());
      REKA_ASSIGN_OR_RETURN(current_->runs, current_->producer->takeRuns());
      current_->checkpointId = id;
      prepared_.push_back(std::move(current_));
      current_.reset();
    }
    Serde<uint8_t>::write(kSnapshotVersion, out);
    Serde<uint32_t>::write(static_cast<uint32_t>(prepared_.size()), out);
    for (const auto& t : prepared_) {
      Serde<int64_t>::write(t->checkpointId, out);
      Serde<std::string>::write(t->producer->transactionalId(), out);
      Serde<uint32_t>::write(static_cast<uint32_t>(t->runs.size()), out);
      for (const OffsetRun& r : t->runs) {
        Serde<int32_t>::write(r.partition, out);
        Serde<int64_t>::write(r.first, out);
        Serde<int64_t>::write(r.count, out);
      }
    }
    return Status::ok();
  }

  Status commit(int64_t id) override {
    while (!prepared_.empty() && prepared_.front()->checkpointId <= id) {
      std::unique_ptr<Txn> t = std::move(prepared_.front());
      prepared_.pop_front();
      REKA_RETURN_IF_ERROR(t->producer->commitTransaction());
      REKA_RETURN_IF_ERROR(markCommitted(t->producer->transactionalId(), t->checkpointId));
      ++committedTransactions_;
      t->runs.clear();
      t->checkpointId = 0;
      free_.push_back(std::move(t));
    }
    return Status::ok();
  }

  Status recover(std::string_view in) override {
    if (!transactional_) return Status::ok();
    uint8_t version = 0;
    uint32_t count = 0;
    if (in.empty()) return abortLingering();
    if (!Serde<uint8_t>::read(in, version) || !Serde<uint32_t>::read(in, count))
      return Status::corruption("malformed Kafka sink checkpoint");
    if (version != kSnapshotVersion && !(version == 1 && count == 0))
      return Status::corruption("this Kafka sink checkpoint has version " + std::to_string(version) + "; this Reka reads version " +
                                std::to_string(kSnapshotVersion) + " (and version 1 without open transactions)");
    for (uint32_t i = 0; i < count; ++i) {
      int64_t checkpointId = 0;
      uint32_t runCount = 0;
      std::string txnId;
      if (!Serde<int64_t>::read(in, checkpointId) || !Serde<std::string>::read(in, txnId) || !Serde<uint32_t>::read(in, runCount) ||
          runCount > in.size() / 20)
        return Status::corruption("malformed Kafka sink checkpoint");
      std::vector<OffsetRun> runs(runCount);
      for (OffsetRun& r : runs)
        if (!Serde<int32_t>::read(in, r.partition) || !Serde<int64_t>::read(in, r.first) || !Serde<int64_t>::read(in, r.count) ||
            r.partition < 0 || r.first < 0 || r.count <= 0)
          return Status::corruption("malformed Kafka sink checkpoint");
      if (txnId.rfind(idPrefix(), 0) != 0 || txnId.find('/') != std::string::npos)
        return Status::corruption("Kafka sink checkpoint names transactional id '" + txnId + "' of another subtask");
      if (committedCheckpoint(txnId) >= checkpointId) continue;  // its commit happened
      // The checkpoint completed but the commit did not happen: the old producer's transaction
      // is aborted by the new producer's init (which also fences it); its messages, read back
      // from the topic, go again in a new transaction.
      REKA_ASSIGN_OR_RETURN(auto producer, Producer::make(options_, txnId));
      REKA_RETURN_IF_ERROR(producer->begin());
      int64_t messages = 0;
      for (const OffsetRun& r : runs) messages += r.count;
      REKA_RETURN_IF_ERROR(readBack(options_, txnId, std::move(runs), [&](const ProducerRecord& r) { return producer->send(r); }));
      REKA_RETURN_IF_ERROR(producer->flush());
      REKA_RETURN_IF_ERROR(producer->commitTransaction());
      REKA_RETURN_IF_ERROR(markCommitted(txnId, checkpointId));
      ++recoveredTransactions_;
      log(LogLevel::kInfo, "Kafka transaction of a completed checkpoint sent again and committed",
          {{"transactional_id", txnId}, {"checkpoint", std::to_string(checkpointId)}, {"messages", std::to_string(messages)},
           {"topic", options_.topic}});
    }
    if (!in.empty()) return Status::corruption("trailing bytes after a Kafka sink checkpoint");
    return abortLingering();
  }

  Status finish() override {
    if (!transactional_) return plain_->flush();
    if (current_) {
      REKA_RETURN_IF_ERROR(current_->producer->flush());
      if (!checkpointing_) {
        // Without checkpoints the whole run is one transaction, committed at its end.
        REKA_RETURN_IF_ERROR(current_->producer->commitTransaction());
        ++committedTransactions_;
        current_.reset();
      }
    }
    return Status::ok();
  }

  void close() override {
    // A transaction not prepared is aborted (its records are produced again after a restore);
    // prepared ones stay open for the restore to resolve.
    if (current_) current_->producer->abortTransaction();
    current_.reset();
    prepared_.clear();
    free_.clear();
    plain_.reset();
  }

  int64_t messagesWritten() const override { return written_; }

 private:
  struct Txn {
    std::unique_ptr<Producer> producer;
    std::vector<OffsetRun> runs;  // where its messages are (from the delivery reports)
    int64_t checkpointId = 0;
  };

  std::string idPrefix() const { return options_.transactionalIdPrefix + "-" + std::to_string(subtask_) + "-"; }
  std::string markerPath(const std::string& txnId) const { return options_.transactionLogDir + "/" + txnId + ".committed"; }

  /// Starts the next transaction on a free producer (or a new one with the next id).
  Status beginNext() {
    if (!lingeringAborted_) REKA_RETURN_IF_ERROR(abortLingering());
    auto t = std::make_unique<Txn>();
    if (!free_.empty()) {
      t = std::move(free_.back());
      free_.pop_back();
    } else {
      if (nextId_ >= kMaxTransactionsInFlight)
        return Status::resourceExhausted("Kafka sink: " + std::to_string(kMaxTransactionsInFlight) +
                                         " transactions are waiting for their checkpoints to complete");
      const std::string txnId = idPrefix() + std::to_string(nextId_++);
      REKA_ASSIGN_OR_RETURN(t->producer, Producer::make(options_, txnId, checkpointing_));
      // The marker also tells a later run which ids this one used (see abortLingering).
      if (checkpointing_ && !std::filesystem::exists(markerPath(txnId))) REKA_RETURN_IF_ERROR(markCommitted(txnId, 0));
    }
    REKA_RETURN_IF_ERROR(t->producer->begin());
    current_ = std::move(t);
    return Status::ok();
  }

  /// Records that `txnId`'s transaction for `checkpointId` committed (write, sync, rename).
  Status markCommitted(const std::string& txnId, int64_t checkpointId) {
    if (!checkpointing_) return Status::ok();
    const std::string path = markerPath(txnId), tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return Status::ioError("cannot write " + tmp + ": " + std::strerror(errno));
    const std::string text = std::to_string(checkpointId) + "\n";
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fdatasync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) return Status::ioError("cannot write " + path + ": " + std::strerror(errno));
    return Status::ok();
  }
  /// The checkpoint whose transaction `txnId` last committed (0: none known).
  int64_t committedCheckpoint(const std::string& txnId) const {
    FILE* f = std::fopen(markerPath(txnId).c_str(), "r");
    if (f == nullptr) return 0;
    long long id = 0;
    if (std::fscanf(f, "%lld", &id) != 1) id = 0;
    std::fclose(f);
    return id;
  }
  /// Fences the transactional ids an earlier run of this subtask used (their open transactions
  /// abort), so that read_committed consumers are not held up by them. Every id a run used has
  /// a marker file in the marker directory; without checkpoints (no markers) a run is one
  /// transaction that is committed or aborted before it ends.
  Status abortLingering() {
    lingeringAborted_ = true;
    nextId_ = 0;
    if (!checkpointing_) return Status::ok();
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(options_.transactionLogDir, ec)) {
      const std::string name = entry.path().filename().string();
      const std::string prefix = idPrefix();
      const std::string suffix = ".committed";
      if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;
      const std::string k = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
      if (k.empty() || k.find_first_not_of("0123456789") != std::string::npos) continue;
      REKA_ASSIGN_OR_RETURN(auto p, Producer::make(options_, prefix + k));
    }
    if (ec) return Status::ioError("cannot list " + options_.transactionLogDir + ": " + ec.message());
    return Status::ok();
  }

  KafkaSinkOptions options_;
  int subtask_;
  bool checkpointing_;
  bool transactional_ = false;
  std::unique_ptr<Producer> plain_;
  std::unique_ptr<Txn> current_;
  std::deque<std::unique_ptr<Txn>> prepared_;
  std::vector<std::unique_ptr<Txn>> free_;
  int nextId_ = 0;
  bool lingeringAborted_ = false;
  int64_t written_ = 0;
  int64_t committedTransactions_ = 0;
  int64_t recoveredTransactions_ = 0;
};

}  // namespace

Result<std::unique_ptr<SinkWriter>> SinkWriter::open(const KafkaSinkOptions& options, int subtask, bool checkpointing) {
  REKA_RETURN_IF_ERROR(options.validate());
  auto w = std::make_unique<RdKafkaSinkWriter>(options, subtask, checkpointing);
  REKA_RETURN_IF_ERROR(w->init());
  return std::unique_ptr<SinkWriter>(std::move(w));
}

}  // namespace reka::connector::kafka
