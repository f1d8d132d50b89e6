#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>

#include "connectors/kafka/KafkaCommon.h"
#include "reka/connector/Kafka.h"
#include "reka/state/Serde.h"

namespace reka::connector::kafka {

namespace {

constexpr int kFlushTimeoutMs = 60'000;
constexpr int kTransactionCallTimeoutMs = 60'000;
/// Transactions of one sink subtask prepared and not yet committed, at most (one producer each).
constexpr int kMaxTransactionsInFlight = 8;
constexpr uint32_t kNull = 0xFFFFFFFFu;

std::string errorString(rd_kafka_error_t* e) {
  std::string m = rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  return m;
}

/// Counts messages the broker refused (delivery reports), across a producer's lifetime.
struct DeliveryState {
  std::atomic<int64_t> failed{0};
  std::string firstError;  // written by the delivery callback (on the thread that polls)
};

void onDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* state = static_cast<DeliveryState*>(opaque);
  if (state->failed.fetch_add(1) == 0) state->firstError = rd_kafka_err2str(m->err);
}

/// One librdkafka producer: plain (idempotent) or transactional.
class Producer {
 public:
  static Result<std::unique_ptr<Producer>> make(const KafkaSinkOptions& o, const std::string& transactionalId) {
    auto p = std::unique_ptr<Producer>(new Producer());
    p->transactionalId_ = transactionalId;
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

/// A file of the messages of one transaction, so that it can be sent again (see
/// KafkaSinkOptions::transactionLogDir). Records: u32 key length (kNull: null) + key, u32 value
/// length + value, i32 partition, i64 timestamp, u32 headers, then per header u32 + name,
/// u32 + value.
class TransactionLog {
 public:
  ~TransactionLog() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0) return Status::ioError("cannot open " + path + ": " + std::strerror(errno));
    length_ = 0;
    buffer_.clear();
    return Status::ok();
  }
  Status reset() {
    buffer_.clear();
    length_ = 0;
    if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0)
      return Status::ioError("cannot reset " + path_ + ": " + std::strerror(errno));
    return Status::ok();
  }
  Status append(const ProducerRecord& r) {
    auto str = [&](bool present, const std::string& s) {
      Serde<uint32_t>::write(present ? static_cast<uint32_t>(s.size()) : kNull, buffer_);
      if (present) buffer_.append(s);
    };
    str(r.hasKey, r.key);
    str(r.hasValue, r.value);
    Serde<int32_t>::write(r.partition, buffer_);
    Serde<int64_t>::write(r.timestampMs, buffer_);
    Serde<uint32_t>::write(static_cast<uint32_t>(r.headers.size()), buffer_);
    for (const auto& [k, v] : r.headers) {
      str(true, k);
      str(true, v);
    }
    if (buffer_.size() >= (size_t{1} << 16)) return writeBuffer();
    return Status::ok();
  }
  /// Everything appended is on disk; returns the log's length.
  Result<int64_t> sync() {
    REKA_RETURN_IF_ERROR(writeBuffer());
    if (::fdatasync(fd_) != 0) return Status::ioError("cannot sync " + path_ + ": " + std::strerror(errno));
    return length_;
  }

  /// Calls send(record) for each record in the first `length` bytes of the log at `path`.
  template <class Send>
  static Status replay(const std::string& path, int64_t length, Send&& send) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Status::ioError("cannot open the transaction log " + path + ": " + std::strerror(errno));
    std::string bytes(static_cast<size_t>(length), '\0');
    size_t got = 0;
    while (got < bytes.size()) {
      ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    ::close(fd);
    if (got != bytes.size()) return Status::corruption("the transaction log " + path + " is shorter than its checkpoint says");
    std::string_view in = bytes;
    ProducerRecord r;
    auto str = [&](bool& present, std::string& s) {
      uint32_t n = 0;
      if (!Serde<uint32_t>::read(in, n)) return false;
      present = n != kNull;
      if (!present) return true;
      if (in.size() < n) return false;
      s.assign(in.data(), n);
      in.remove_prefix(n);
      return true;
    };
    while (!in.empty()) {
      r.clear();
      uint32_t headers = 0;
      bool ok = str(r.hasKey, r.key) && str(r.hasValue, r.value) && Serde<int32_t>::read(in, r.partition) &&
                Serde<int64_t>::read(in, r.timestampMs) && Serde<uint32_t>::read(in, headers);
      for (uint32_t h = 0; ok && h < headers; ++h) {
        bool present = true;
        std::string k, v;
        ok = str(present, k) && str(present, v);
        r.headers.emplace_back(std::move(k), std::move(v));
      }
      if (!ok) return Status::corruption("the transaction log " + path + " is malformed");
      REKA_RETURN_IF_ERROR(send(r));
    }
    return Status::ok();
  }

 private:
  Status writeBuffer() {
    size_t done = 0;
    while (done < buffer_.size()) {
      ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::ioError("cannot write " + path_ + ": " + std::strerror(errno));
      done += static_cast<size_t>(n);
    }
    length_ += static_cast<int64_t>(buffer_.size());
    buffer_.clear();
    return Status::ok();
  }
  std::string path_;
  int fd_ = -1;
  int64_t length_ = 0;
  std::string buffer_;
};

class RdKafkaSinkWriter final : public SinkWriter {
 public:
  RdKafkaSinkWriter(KafkaSinkOptions options, int subtask, bool checkpointing)
      : options_(std::move(options)), subtask_(subtask), checkpointing_(checkpointing) {}
  ~RdKafkaSinkWriter() override { close(); }

  Status init() {
    transactional_ = options_.delivery == SinkDelivery::kExactlyOnce;
    if (transactional_ && checkpointing_) {
      if (options_.transactionLogDir.empty())
        return Status::invalidArgument("exactly-once Kafka output with checkpoints needs a transaction log directory");
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
    REKA_RETURN_IF_ERROR(current_->producer->send(record));
    if (current_->log) REKA_RETURN_IF_ERROR(current_->log->append(record));
    return Status::ok();
  }

  /// u8 version (1), u32 prepared transactions, each: i64 checkpoint, transactional id, i64
  /// the length of its log.
  Status prepare(int64_t id, std::string& out) override {
    if (!transactional_) {
      if (options_.delivery == SinkDelivery::kAtLeastOnce) REKA_RETURN_IF_ERROR(plain_->flush());
      return Status::ok();
    }
    if (current_) {
      REKA_RETURN_IF_ERROR(current_->producer->flush());
      if (current_->log) {
        REKA_ASSIGN_OR_RETURN(current_->logLength, current_->log->sync());
      }
      current_->checkpointId = id;
      prepared_.push_back(std::move(current_));
      current_.reset();
    }
    Serde<uint8_t>::write(1, out);
    Serde<uint32_t>::write(static_cast<uint32_t>(prepared_.size()), out);
    for (const auto& t : prepared_) {
      Serde<int64_t>::write(t->checkpointId, out);
      Serde<std::string>::write(t->producer->transactionalId(), out);
      Serde<int64_t>::write(t->logLength, out);
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
      if (t->log) REKA_RETURN_IF_ERROR(t->log->reset());
      t->logLength = 0;
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
    if (!Serde<uint8_t>::read(in, version) || version != 1 || !Serde<uint32_t>::read(in, count))
      return Status::corruption("malformed Kafka sink checkpoint");
    for (uint32_t i = 0; i < count; ++i) {
      int64_t checkpointId = 0, length = 0;
      std::string txnId;
      if (!Serde<int64_t>::read(in, checkpointId) || !Serde<std::string>::read(in, txnId) || !Serde<int64_t>::read(in, length) ||
          length < 0)
        return Status::corruption("malformed Kafka sink checkpoint");
      if (txnId.rfind(idPrefix(), 0) != 0 || txnId.find('/') != std::string::npos)
        return Status::corruption("Kafka sink checkpoint names transactional id '" + txnId + "' of another subtask");
      if (committedCheckpoint(txnId) >= checkpointId) continue;  // its commit happened
      // The checkpoint completed but the commit did not happen: the old producer's transaction
      // is aborted by the new producer's init (which also fences it); its messages go again.
      REKA_ASSIGN_OR_RETURN(auto producer, Producer::make(options_, txnId));
      REKA_RETURN_IF_ERROR(producer->begin());
      REKA_RETURN_IF_ERROR(
          TransactionLog::replay(logPath(txnId), length, [&](const ProducerRecord& r) { return producer->send(r); }));
      REKA_RETURN_IF_ERROR(producer->flush());
      REKA_RETURN_IF_ERROR(producer->commitTransaction());
      REKA_RETURN_IF_ERROR(markCommitted(txnId, checkpointId));
      ++recoveredTransactions_;
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
    // A transaction not prepared is aborted (its records are replayed after a restore);
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
    std::unique_ptr<TransactionLog> log;
    int64_t checkpointId = 0;
    int64_t logLength = 0;
  };

  std::string idPrefix() const { return options_.transactionalIdPrefix + "-" + std::to_string(subtask_) + "-"; }
  std::string logPath(const std::string& txnId) const { return options_.transactionLogDir + "/" + txnId + ".log"; }
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
      REKA_ASSIGN_OR_RETURN(t->producer, Producer::make(options_, idPrefix() + std::to_string(nextId_++)));
      if (checkpointing_) {
        t->log = std::make_unique<TransactionLog>();
        REKA_RETURN_IF_ERROR(t->log->open(logPath(t->producer->transactionalId())));
      }
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
  /// a log file in the transaction log directory; without checkpoints (no log directory) a run
  /// is one transaction that is committed or aborted before it ends.
  Status abortLingering() {
    lingeringAborted_ = true;
    nextId_ = 0;
    if (!checkpointing_) return Status::ok();
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(options_.transactionLogDir, ec)) {
      const std::string name = entry.path().filename().string();
      const std::string prefix = idPrefix();
      if (name.size() <= prefix.size() + 4 || name.rfind(prefix, 0) != 0 || name.substr(name.size() - 4) != ".log") continue;
      const std::string k = name.substr(prefix.size(), name.size() - prefix.size() - 4);
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
