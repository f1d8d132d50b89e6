#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include "reka/connector/AppendFile.h"
#include "reka/connector/FileSource.h"
#include "reka/connector/Kafka.h"
#include "reka/connector/LineReader.h"
#include "reka/connector/SplitSource.h"
#include "reka/time/TimeArithmetic.h"
#include "reka/data/StringArena.h"
#include "reka/nexmark/Generator.h"
#include "reka/nexmark/JsonCodec.h"
#include "reka/nexmark/QueryJob.h"

namespace reka::nexmark {

namespace {

/// Subtask s of P generates the blocks j ≡ s (mod P); block j is events
/// [b·B, (b+1)·B) of generator g = j mod n, b = j div n.
class GeneratorSource final : public SourceFunction<Event> {
 public:
  explicit GeneratorSource(Generator generator) : generator_(std::move(generator)) {}

  Status open(const OperatorContext& ctx) override {
    stride_ = ctx.parallelism;
    subtask_ = ctx.subtask;
    nextBlock_ = ctx.subtask;
    blockSize_ = static_cast<int64_t>(ctx.batchSize);
    generators_ = generator_.config().generators;
    int64_t longest = 0;
    for (int g = 0; g < generators_; ++g) longest = std::max(longest, generator_.eventCount(g));
    blocks_ = ((longest + blockSize_ - 1) / blockSize_) * generators_;
    return Status::ok();
  }

  SourceOperator::Poll poll(RecordBatch<Event>& out, size_t) override {
    while (nextBlock_ < blocks_) {
      const int g = static_cast<int>(nextBlock_ % generators_);
      const int64_t first = (nextBlock_ / generators_) * blockSize_;
      const int64_t last = std::min(first + blockSize_, generator_.eventCount(g));
      nextBlock_ += stride_;
      if (first >= last) continue;
      auto arena = std::make_shared<StringArena>();
      out.records.resize(static_cast<size_t>(last - first));
      Event* dst = out.records.data();
      int64_t maxTime = INT64_MIN;
      for (int64_t k = first; k < last; ++k) {
        *dst = generator_.event(g, k, *arena);
        maxTime = std::max(maxTime, dst->dateTime());
        ++dst;
      }
      maxSeen_ = std::max(maxSeen_, maxTime);
      out.keepAlive.push_back(std::move(arena));
      return nextBlock_ < blocks_ ? SourceOperator::Poll::kMore : SourceOperator::Poll::kEnd;
    }
    return SourceOperator::Poll::kEnd;
  }

  int64_t eventTime() const override { return maxSeen_ == INT64_MIN ? INT64_MIN : subSaturating(maxSeen_, kWatermarkDelayMs); }

  /// u8 version (1), i64 next block, i64 highest dateTime emitted, then what the blocks are
  /// cut by (parallelism, block size, block count) and the generator config, which a restore
  /// must match: the same block number means other events otherwise.
  Status snapshotPosition(std::string& out) const override {
    Serde<uint8_t>::write(kPositionVersion, out);
    Serde<int64_t>::write(nextBlock_, out);
    Serde<int64_t>::write(maxSeen_, out);
    writeLayout(out);
    return Status::ok();
  }
  Status restorePosition(std::string_view in) override {
    uint8_t version = 0;
    int64_t nextBlock = 0, maxSeen = INT64_MIN;
    if (!Serde<uint8_t>::read(in, version)) return Status::corruption("empty generator source position");
    if (version != kPositionVersion)
      return Status::corruption("generator source position of unknown format version " + std::to_string(version));
    if (!Serde<int64_t>::read(in, nextBlock) || !Serde<int64_t>::read(in, maxSeen))
      return Status::corruption("truncated generator source position");
    int64_t stride = 0, blockSize = 0, blocks = 0;
    if (!Serde<int64_t>::read(in, stride) || !Serde<int64_t>::read(in, blockSize) || !Serde<int64_t>::read(in, blocks))
      return Status::corruption("truncated generator source position");
    if (stride != stride_)
      return Status::invalidArgument("the generator source's checkpoint was taken at parallelism " + std::to_string(stride) +
                                     ", it is restored at " + std::to_string(stride_) + " (it must be the same)");
    if (blockSize != blockSize_)
      return Status::invalidArgument("the generator source's checkpoint was taken with batch size " + std::to_string(blockSize) +
                                     ", it is restored with " + std::to_string(blockSize_) +
                                     " (blocks are batches: it must be the same)");
    std::string layout;
    writeLayout(layout);
    std::string_view expected = std::string_view(layout).substr(3 * sizeof(int64_t));
    if (in.size() != expected.size()) return Status::corruption("truncated or overlong generator source position");
    if (blocks != blocks_ || in != expected)
      return Status::invalidArgument("the generator source's checkpoint was taken with another generator configuration");
    if (nextBlock < subtask_ || (nextBlock - subtask_) % stride_ != 0 || nextBlock >= blocks_ + stride_)
      return Status::corruption("generator source position " + std::to_string(nextBlock) + " is not one of subtask " +
                                std::to_string(subtask_));
    nextBlock_ = nextBlock;
    maxSeen_ = maxSeen;
    return Status::ok();
  }

 private:
  static constexpr uint8_t kPositionVersion = 1;

  /// i64 parallelism, block size, block count, then the generator config field by field.
  void writeLayout(std::string& out) const {
    Serde<int64_t>::write(stride_, out);
    Serde<int64_t>::write(blockSize_, out);
    Serde<int64_t>::write(blocks_, out);
    const GeneratorConfig& c = generator_.config();
    Serde<uint64_t>::write(c.seed, out);
    Serde<int64_t>::write(c.events, out);
    Serde<double>::write(c.rate, out);
    Serde<int32_t>::write(c.generators, out);
    Serde<int64_t>::write(c.outOfOrderGroupSize, out);
    Serde<int64_t>::write(c.firstEventId, out);
    Serde<int64_t>::write(c.firstEventNumber, out);
  }

  Generator generator_;
  int64_t subtask_ = 0;
  int64_t stride_ = 1;
  int64_t nextBlock_ = 0;
  int64_t blocks_ = 0;
  int64_t blockSize_ = 1024;
  int generators_ = 1;
  int64_t maxSeen_ = INT64_MIN;
};

/// Where unparseable lines go: a JSON-lines file (connector::AppendFile, so that it follows the
/// checkpoints: the source records its length and a restore cuts it back), and stderr (the
/// first 20, then a count).
class DeadLetterOutput final : public connector::file::LineDeadLetters {
 public:
  explicit DeadLetterOutput(std::string path) : path_(std::move(path)) {}
  ~DeadLetterOutput() {
    if (reported_ > kStderrLimit)
      std::fprintf(stderr, "reka: %lld more bad input lines not shown%s\n", static_cast<long long>(reported_ - kStderrLimit),
                   path_.empty() ? "" : (" (all are in " + path_ + ")").c_str());
  }

  /// Opens the file (once per job: every run and restart shares it) without truncating it.
  Status open() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (path_.empty() || file_) return Status::ok();
    REKA_ASSIGN_OR_RETURN(file_, connector::AppendFile::open(path_));
    return Status::ok();
  }
  /// The file is to hold its first `length` bytes: 0 for a fresh run, a checkpoint's for a
  /// restored one (see AppendFile).
  void resetTo(int64_t length) override {
    // An error opening the file is reported by the next write or length().
    if (open().isOk() && file_) file_->resetTo(length);
  }
  /// The file's length, for a checkpoint (0 without a file).
  Result<int64_t> length() override {
    REKA_RETURN_IF_ERROR(open());
    if (!file_) return int64_t{0};
    return file_->sync();
  }

  Status write(const std::string& source, const connector::Line& line, const std::string& reason) override {
    REKA_RETURN_IF_ERROR(open());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++reported_;
      // Logged on stderr, rate-limited to the first kStderrLimit lines; all of them go to the file.
      if (reported_ <= kStderrLimit)
        std::fprintf(stderr, "reka: %s line %lld: %s (sent to dead letters)\n", source.c_str(),
                     static_cast<long long>(line.number), reason.c_str());
    }
    if (!file_) return Status::ok();
    std::string row;
    JsonRowWriter w(row);
    w.begin();
    w.field("source", source);
    w.field("line", line.number);
    w.field("offset", line.offset);
    w.field("reason", reason);
    w.field("text", line.text.substr(0, 4096));
    w.end();
    return file_->append(row);
  }

  /// A Kafka message that could not be decoded: topic, partition, offset, reason and the value.
  Status write(const connector::kafka::KafkaMessage& m, const std::string& reason) {
    REKA_RETURN_IF_ERROR(open());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++reported_;
      if (reported_ <= kStderrLimit)
        std::fprintf(stderr, "reka: topic %.*s partition %d offset %lld: %s (sent to dead letters)\n",
                     static_cast<int>(m.topic.size()), m.topic.data(), m.partition, static_cast<long long>(m.offset),
                     reason.c_str());
    }
    if (!file_) return Status::ok();
    std::string row;
    JsonRowWriter w(row);
    w.begin();
    w.field("topic", m.topic);
    w.field("partition", static_cast<int64_t>(m.partition));
    w.field("offset", m.offset);
    w.field("reason", reason);
    w.field("text", m.value.value_or(std::string_view()).substr(0, 4096));
    w.end();
    return file_->append(row);
  }

 private:
  static constexpr int64_t kStderrLimit = 20;
  std::string path_;
  std::mutex mutex_;
  std::unique_ptr<connector::AppendFile> file_;
  int64_t reported_ = 0;
};

/// Counts and forwards the Kafka messages that are not events (NEXMark section 7 JSON).
class KafkaDeadLetters final : public connector::kafka::DeadLetterHandler {
 public:
  KafkaDeadLetters(std::shared_ptr<DeadLetterOutput> out, std::shared_ptr<QueryCounters> counters)
      : out_(std::move(out)), counters_(std::move(counters)) {}
  Status deadLetter(const connector::kafka::KafkaMessage& m, const std::string& reason) override {
    counters_->badRecords.fetch_add(1, std::memory_order_relaxed);
    return out_->write(m, reason);
  }

 private:
  std::shared_ptr<DeadLetterOutput> out_;
  std::shared_ptr<QueryCounters> counters_;
};

/// A message's value as an event (one EventParser per reader: it keeps its own buffers).
struct DecodeEvent {
  DecodeEvent(size_t maxBytes, std::shared_ptr<QueryCounters> counters)
      : maxBytes(maxBytes), parser(std::make_shared<EventParser>(maxBytes)), counters(std::move(counters)) {}
  /// Each reader gets its own parser (readers run on threads of their own).
  DecodeEvent(const DecodeEvent& o) : maxBytes(o.maxBytes), parser(std::make_shared<EventParser>(o.maxBytes)), counters(o.counters) {}
  Status operator()(const connector::kafka::KafkaMessage& m, std::vector<Event>& out, StringArena& arena) const {
    counters->inputLines.fetch_add(1, std::memory_order_relaxed);
    if (!m.value) return Status::invalidArgument("a null value (tombstone) is not an event");
    Result<Event> e = parser->parse(*m.value, arena);
    if (!e.isOk()) return e.status();
    out.push_back(*e);
    return Status::ok();
  }
  size_t maxBytes;
  std::shared_ptr<EventParser> parser;
  std::shared_ptr<QueryCounters> counters;
};

/// A line as an event (one EventParser per reader).
struct DecodeEventLine {
  explicit DecodeEventLine(size_t maxBytes) : maxBytes(maxBytes), parser(std::make_shared<EventParser>(maxBytes)) {}
  DecodeEventLine(const DecodeEventLine& o) : maxBytes(o.maxBytes), parser(std::make_shared<EventParser>(o.maxBytes)) {}
  Status operator()(std::string_view line, std::vector<Event>& out, StringArena& arena) const {
    Result<Event> e = parser->parse(line, arena);
    if (!e.isOk()) return e.status();
    out.push_back(*e);
    return Status::ok();
  }
  size_t maxBytes;
  std::shared_ptr<EventParser> parser;
};

}  // namespace

Result<DataStream<Event>> kafkaEventSource(StreamEnvironment& env, const QueryJobOptions& options,
                                           std::shared_ptr<QueryCounters> counters) {
  REKA_ASSIGN_OR_RETURN(connector::kafka::KafkaUri uri, connector::kafka::parseKafkaUri(options.inputPath));
  connector::kafka::KafkaSourceOptions o;
  o.bootstrapServers = uri.bootstrapServers;
  o.topics = {uri.topic};
  o.properties = uri.properties;
  if (auto g = o.properties.find("group.id"); g != o.properties.end()) {
    o.groupId = g->second;
    o.properties.erase(g);
  }
  o.bounded = options.kafkaBounded;
  REKA_RETURN_IF_ERROR(o.validate());
  auto deadLetters =
      std::make_shared<KafkaDeadLetters>(std::make_shared<DeadLetterOutput>(options.deadLetterPath), counters);
  const auto policy = options.badInput == BadInputPolicy::kFail ? connector::kafka::BadRecordPolicy::kFail
                                                                 : connector::kafka::BadRecordPolicy::kDeadLetter;
  auto spec = connector::kafka::kafkaSource<Event>(o, DecodeEvent(options.maxLineBytes, counters), policy, deadLetters);
  // Reading unbounded, a partition without new messages for 10 s stops holding event time back.
  auto strategy = eventWatermarks(options.maxAheadMs);
  if (!options.kafkaBounded) strategy = strategy.withIdleness(std::chrono::seconds(10));
  return connector::fromSource(env, kEventSourceName, std::move(spec), strategy);
}

DataStream<Event> generatorSource(StreamEnvironment& env, const GeneratorConfig& config, int parallelism,
                                  int64_t maxAheadMs) {
  auto generator = Generator::make(config);
  REKA_CHECK(generator.isOk());  // callers validate the config with Generator::make first
  Generator g = *generator;
  return env.fromSource<Event>(kEventSourceName, [g] { return std::make_unique<GeneratorSource>(g); }, eventWatermarks(maxAheadMs),
                               parallelism);
}

DataStream<Event> fileSource(StreamEnvironment& env, const QueryJobOptions& options,
                             std::shared_ptr<QueryCounters> counters) {
  connector::file::FileSourceOptions o;
  o.path = options.inputPath;
  o.follow = options.follow;
  o.maxLineBytes = options.maxLineBytes;
  connector::file::FileSourceCounters c{&counters->inputLines, &counters->badRecords, counters};
  auto spec = connector::file::fileSource<Event>(o, DecodeEventLine(options.maxLineBytes),
                                                options.badInput == BadInputPolicy::kFail ? connector::BadRecordPolicy::kFail
                                                                                          : connector::BadRecordPolicy::kDeadLetter,
                                                std::make_shared<DeadLetterOutput>(options.deadLetterPath), c);
  // Following, a file without new lines for 10 s stops holding event time back.
  auto strategy = eventWatermarks(options.maxAheadMs);
  if (options.follow) strategy = strategy.withIdleness(std::chrono::seconds(10));
  return connector::fromSource(env, kEventSourceName, std::move(spec), strategy, 1);
}

}  // namespace reka::nexmark
