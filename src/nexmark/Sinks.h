#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nexmark/Rows.h"
#include "reka/connector/AppendFile.h"
#include "reka/connector/Kafka.h"
#include "reka/connector/TransactionalFileSink.h"
#include "nexmark/QueryJob.h"

namespace reka::nexmark {

/// Touches every field of every row (a hash) and discards it: the benchmark sink.
template <class Row>
class TouchSink {
 public:
  explicit TouchSink(std::shared_ptr<QueryCounters> counters) : counters_(std::move(counters)) {}
  void invoke(const Row& row) {
    sum_ += row.touch();
    if (++rows_ == kPublishEvery) publish();
  }
  void finish() { publish(); }

 private:
  static constexpr int64_t kPublishEvery = 1 << 16;
  void publish() {
    counters_->checksum.fetch_add(sum_, std::memory_order_relaxed);
    counters_->outputRows.fetch_add(rows_, std::memory_order_relaxed);
    sum_ = 0;
    rows_ = 0;
  }
  std::shared_ptr<QueryCounters> counters_;
  uint64_t sum_ = 0;
  int64_t rows_ = 0;
};

/// Appends a row as one JSON line (docs/nexmark.md, Events: Output rows), newline included.
template <class Row>
struct JsonLineFormat {
  void operator()(const Row& row, std::string& out) const {
    JsonRowWriter w(out);
    w.begin();
    row.write(w);
    w.end();
  }
};

/// Appends the directory a row is written to under --output-dir: the row's
/// `partitionPath(std::string&)` where it has one (q10), else nothing (the directory itself).
template <class Row>
struct RowPartition {
  void operator()(const Row& row, std::string& out) const {
    if constexpr (requires { row.partitionPath(out); }) row.partitionPath(out);
  }
};

/// Writes rows as lines to one file (one writer: run it at parallelism 1), following the
/// job's checkpoints through connector::AppendFile: a checkpoint records the file's length and
/// the rows counted, a restore cuts the file back to that length, a fresh run starts it over.
/// With exactly-once replay the file then holds every row once after any number of restarts;
/// a reader of a running job may see rows that a restore cuts and writes again.
/// Rows are counted in QueryCounters when written (flushed), so a cancelled run reports what it
/// wrote; `counted` false (the late-data output) counts nothing.
template <class Row, class Format = JsonLineFormat<Row>>
class JsonLinesFileSink {
 public:
  /// `flushBytes`: rows are buffered up to this many bytes before they are written (0: each
  /// row is written at once, for outputs read while the job runs, such as alerts).
  JsonLinesFileSink(std::string path, std::shared_ptr<QueryCounters> counters, bool counted = true, size_t flushBytes = kFlushBytes)
      : path_(std::move(path)), counters_(std::move(counters)), counted_(counted), flushBytes_(flushBytes) {}
  JsonLinesFileSink(const JsonLinesFileSink& o) : path_(o.path_), counters_(o.counters_), counted_(o.counted_), flushBytes_(o.flushBytes_) {}

  Status open(const OperatorContext& ctx) {
    REKA_ASSIGN_OR_RETURN(file_, connector::AppendFile::open(path_));
    // A fresh run starts over; restore() moves back to its checkpoint. At most once there is
    // no replay and no restore: a restarted run appends to what the earlier ones wrote.
    if (ctx.guarantee != DeliveryGuarantee::kAtMostOnce) file_->resetTo(0);
    if (counted_) counters_->outputRows.store(0, std::memory_order_relaxed);
    buffer_.reserve(flushBytes_ + 4096);
    return Status::ok();
  }
  void invoke(const Row& row) {
    Format{}(row, buffer_);
    if constexpr (requires { row.touch(); }) sum_ += row.touch();
    ++rows_;
    if (buffer_.size() >= flushBytes_) flushBuffer();
  }
  void finish() {
    flushBuffer();
    // Applies a pending reset even when this run wrote nothing.
    Result<int64_t> synced = file_->sync();
    if (!synced.isOk()) throw std::runtime_error(synced.status().message());
  }
  /// On cancel: what was written so far is reported.
  void close() {
    if (file_) flushBuffer();
  }
  /// i64 the file's length, i64 rows written up to it.
  Status snapshot(int64_t, std::string& out) {
    flushBuffer();
    REKA_ASSIGN_OR_RETURN(int64_t length, file_->sync());
    Serde<int64_t>::write(length, out);
    Serde<int64_t>::write(written_, out);
    return Status::ok();
  }
  Status restore(std::string_view in) {
    int64_t length = 0, written = 0;
    if (!Serde<int64_t>::read(in, length) || !Serde<int64_t>::read(in, written) || !in.empty() || length < 0 || written < 0)
      return Status::corruption("truncated or malformed output file position");
    file_->resetTo(length);
    written_ = written;
    if (counted_) counters_->outputRows.store(written, std::memory_order_relaxed);
    return Status::ok();
  }

 private:
  static constexpr size_t kFlushBytes = 1 << 20;
  void flushBuffer() {
    if (!buffer_.empty()) {
      Status s = file_->append(buffer_);
      if (!s.isOk()) throw std::runtime_error(s.message());
      buffer_.clear();
    }
    written_ += rows_;
    if (counted_) {
      counters_->checksum.fetch_add(sum_, std::memory_order_relaxed);
      counters_->outputRows.fetch_add(rows_, std::memory_order_relaxed);
    }
    sum_ = 0;
    rows_ = 0;
  }
  std::string path_;
  std::shared_ptr<QueryCounters> counters_;
  bool counted_ = true;
  size_t flushBytes_ = kFlushBytes;
  std::unique_ptr<connector::AppendFile> file_;
  std::string buffer_;
  uint64_t sum_ = 0;
  int64_t rows_ = 0;     ///< buffered, not yet written
  int64_t written_ = 0;  ///< written by this run and the runs it was restored from
};

/// Writes rows as JSON lines (as JsonLinesFileSink does) into part files under a directory,
/// exactly once, through connector::TransactionalFileSink: each subtask its own files, rows
/// with a partitionPath() in their partition's directory. Rows are counted in QueryCounters
/// when they are committed (exactly once) or flushed (at least once).
/// Rows a sink has written, published to QueryCounters when they are final: at once, or (a
/// sink that commits at checkpoints) when the checkpoint that staged them completes.
class PublishedRows {
 public:
  explicit PublishedRows(std::shared_ptr<QueryCounters> counters) : counters_(std::move(counters)) {}
  void add(uint64_t touch) {
    unpublished_.sum += touch;
    ++unpublished_.rows;
  }
  /// Everything written so far is final.
  void publishAll() { publish(std::exchange(unpublished_, {})); }
  /// A snapshot for checkpoint `id`: what was written so far becomes final when that checkpoint
  /// completes (`atCommit`) or now.
  void stage(int64_t id, bool atCommit) {
    Counts c = std::exchange(unpublished_, {});
    c.checkpointId = id;
    if (atCommit) staged_.push_back(c);
    else publish(c);
  }
  /// Checkpoint `id` completed.
  void commit(int64_t id) {
    std::erase_if(staged_, [&](const Counts& c) {
      if (c.checkpointId > id) return false;
      publish(c);
      return true;
    });
  }

 private:
  struct Counts {
    int64_t checkpointId = 0;
    int64_t rows = 0;
    uint64_t sum = 0;
  };
  void publish(const Counts& c) {
    counters_->checksum.fetch_add(c.sum, std::memory_order_relaxed);
    counters_->outputRows.fetch_add(c.rows, std::memory_order_relaxed);
  }
  std::shared_ptr<QueryCounters> counters_;
  Counts unpublished_;
  std::vector<Counts> staged_;  // rows of snapshots not committed yet
};

template <class Row>
class TransactionalJsonSink {
 public:
  TransactionalJsonSink(std::string directory, std::shared_ptr<QueryCounters> counters)
      : sink_(options(std::move(directory)), JsonLineFormat<Row>{}, RowPartition<Row>{}), rows_(std::move(counters)) {}

  Status open(const OperatorContext& ctx) {
    countAtCommit_ = ctx.guarantee == DeliveryGuarantee::kExactlyOnce;
    checkpointing_ = ctx.checkpointing;
    return sink_.open(ctx);
  }
  void invoke(const Row& row) {
    sink_.invoke(row);
    rows_.add(row.touch());
  }
  void finish() {
    sink_.finish();
    // With checkpoints, the final checkpoint's snapshot and commit publish the rest.
    if (!checkpointing_) rows_.publishAll();
  }
  Status snapshot(int64_t checkpointId, std::string& out) {
    REKA_RETURN_IF_ERROR(sink_.snapshot(checkpointId, out));
    rows_.stage(checkpointId, countAtCommit_);
    return Status::ok();
  }
  Status restore(std::string_view in) { return sink_.restore(in); }
  void commit(int64_t checkpointId) {
    sink_.commit(checkpointId);
    rows_.commit(checkpointId);
  }

 private:
  static connector::TransactionalFileSinkOptions options(std::string directory) {
    connector::TransactionalFileSinkOptions o;
    o.directory = std::move(directory);
    return o;
  }

  connector::TransactionalFileSink<Row, JsonLineFormat<Row>, RowPartition<Row>> sink_;
  PublishedRows rows_;
  bool countAtCommit_ = true;
  bool checkpointing_ = false;
};

/// A row as a Kafka message: its JSON (docs/nexmark.md, Events: Output rows) as the value, no key (the
/// partitioner spreads the messages), the row kind in an "op" header for updating queries'
/// rows (which carry "op" in the JSON too).
template <class Row>
struct KafkaRowEncoder {
  void operator()(const Row& row, connector::kafka::ProducerRecord& out) const {
    JsonRowWriter w(out.value);
    w.begin();
    row.write(w);
    w.end(false);
  }
};

/// Writes rows to a Kafka topic at the stream's parallelism (connector::kafka::KafkaSink):
/// transactions committed with the checkpoints under exactly-once with checkpoints, a flush at
/// every checkpoint otherwise (and at the end). Rows are counted when they are committed or
/// flushed, so the summary reports what reached Kafka.
template <class Row>
class KafkaRowSink {
 public:
  KafkaRowSink(connector::kafka::KafkaSinkOptions options, std::shared_ptr<QueryCounters> counters)
      : options_(std::move(options)), counters_(counters), rows_(std::move(counters)) {}
  KafkaRowSink(const KafkaRowSink& o) : KafkaRowSink(o.options_, o.counters_) {}

  Status open(const OperatorContext& ctx) {
    // Exactly-once needs checkpoints to commit at; a run without them flushes at its end
    // (one transaction for a whole run would outlive the broker's transaction timeout).
    if (ctx.guarantee == DeliveryGuarantee::kExactlyOnce && ctx.checkpointing) {
      options_.delivery = connector::kafka::SinkDelivery::kExactlyOnce;
    } else if (ctx.guarantee == DeliveryGuarantee::kAtMostOnce) {
      options_.delivery = connector::kafka::SinkDelivery::kNone;
    } else {
      options_.delivery = connector::kafka::SinkDelivery::kAtLeastOnce;
    }
    transactional_ = options_.delivery == connector::kafka::SinkDelivery::kExactlyOnce;
    sink_.emplace(options_, KafkaRowEncoder<Row>{});
    return sink_->open(ctx);
  }
  void invoke(const Row& row) {
    sink_->invoke(row);
    rows_.add(row.touch());
  }
  void finish() {
    sink_->finish();
    if (!transactional_) rows_.publishAll();
  }
  void close() {
    if (sink_) sink_->close();
  }
  Status snapshot(int64_t id, std::string& out) {
    REKA_RETURN_IF_ERROR(sink_->snapshot(id, out));
    rows_.stage(id, transactional_);
    return Status::ok();
  }
  Status restore(std::string_view in) { return sink_->restore(in); }
  void commit(int64_t id) {
    sink_->commit(id);
    rows_.commit(id);
  }

 private:
  connector::kafka::KafkaSinkOptions options_;
  std::shared_ptr<QueryCounters> counters_;
  std::optional<connector::kafka::KafkaSink<Row, KafkaRowEncoder<Row>>> sink_;
  PublishedRows rows_;
  bool transactional_ = false;
};

/// The Kafka sink options of a query's kafka://… output.
connector::kafka::KafkaSinkOptions kafkaOutputOptions(const QueryJobOptions& options);

/// Ends a query's row stream in the sink that `options` asks for: part files under outputDir
/// (at the stream's parallelism), a Kafka topic (at the stream's parallelism), one file
/// (outputPath, parallelism 1), or the touching sink.
template <class Row>
void attachSink(const DataStream<Row>& rows, const QueryJobOptions& options, std::shared_ptr<QueryCounters> counters) {
  if (connector::kafka::isKafkaUri(options.outputPath)) {
    rows.sink("kafka-sink", KafkaRowSink<Row>(kafkaOutputOptions(options), counters));
  } else if (!options.outputDir.empty()) {
    rows.sink("transactional-file-sink", TransactionalJsonSink<Row>(options.outputDir, counters));
  } else if (!options.outputPath.empty()) {
    rows.rebalance().sink("json-file-sink", JsonLinesFileSink<Row>(options.outputPath, counters)).parallelism(1);
  } else {
    rows.sink("touch-sink", TouchSink<Row>(counters));
  }
}

/// Writes a late record (a Bid or an Auction) as the input event it came from (docs/nexmark.md,
/// Events: Event files), so that a late-data file can be read again as input.
template <class Row>
struct LateEventFormat {
  void operator()(const Row& row, std::string& out) const {
    appendEventJson(Event::of(row), out);
    out.push_back('\n');
  }
};

/// Ends a stream of late records in the late-data output (`lateOutputPath`, one file at
/// parallelism 1, following checkpoints like `--output FILE`); without one they are only
/// counted (the window operators' lateRecords).
template <class Row>
void attachLateSink(const DataStream<Row>& late, const QueryJobOptions& options, std::shared_ptr<QueryCounters> counters) {
  if (options.lateOutputPath.empty()) return;
  late.rebalance()
      .sink("late-output", JsonLinesFileSink<Row, LateEventFormat<Row>>(options.lateOutputPath, std::move(counters), false))
      .parallelism(1);
}

/// The bids of an event stream.
inline DataStream<Bid> bidsOf(const DataStream<Event>& events) {
  return events.flatMap<Bid>("bids", [](const Event& e, Emitter<Bid>& out) {
    if (e.isBid()) out.emit(e.bid);
  });
}

// One function per query; each adds its operators and sink to the environment.
void addQ0(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ1(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ2(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ3(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ4(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ6(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ9(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ10(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ13(StreamEnvironment& env, const DataStream<Event>& events, const QueryJobOptions& o,
            std::shared_ptr<QueryCounters> c);
void addQ14(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ15(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ17(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ18(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ19(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ20(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ21(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ22(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);

/// The value of key `k` in q13's static side table (10 000 rows).
std::string sideTableValue(int64_t k);

/// What the auction-winner operators (q9's, also run by q4 and q6) of every job in this process
/// hold and have dropped: a test hook to check that their state stays bounded.
struct AuctionWinnerStats {
  int64_t openAuctions = 0;  ///< auctions held now, waiting for the watermark to pass their expiry
  int64_t bufferedBids = 0;  ///< bids held now, waiting for their auction
  int64_t peakHeld = 0;      ///< most auctions + buffered bids held at once since the last reset
  int64_t lateBids = 0;      ///< bids dropped because the watermark had passed them with no auction open
};
AuctionWinnerStats auctionWinnerStatsForTesting();
/// Sets peakHeld to what is held now and lateBids to 0.
void resetAuctionWinnerStatsForTesting();

}  // namespace reka::nexmark
