#include <cstdio>
#include <mutex>
#include <stdexcept>

#include "reka/connector/LineReader.h"
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

  int64_t eventTime() const override { return maxSeen_ == INT64_MIN ? INT64_MIN : maxSeen_ - kWatermarkDelayMs; }

 private:
  Generator generator_;
  int64_t stride_ = 1;
  int64_t nextBlock_ = 0;
  int64_t blocks_ = 0;
  int64_t blockSize_ = 1024;
  int generators_ = 1;
  int64_t maxSeen_ = INT64_MIN;
};

/// Where unparseable lines go: a JSON-lines file, or stderr (the first 20, then a count).
class DeadLetterOutput {
 public:
  explicit DeadLetterOutput(std::string path) : path_(std::move(path)) {}
  ~DeadLetterOutput() {
    if (file_ != nullptr) std::fclose(file_);
    if (reported_ > kStderrLimit)
      std::fprintf(stderr, "reka: %lld more bad input lines not shown%s\n", static_cast<long long>(reported_ - kStderrLimit),
                   path_.empty() ? "" : (" (all are in " + path_ + ")").c_str());
  }

  void write(const std::string& source, const connector::Line& line, const std::string& reason) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++reported_;
    // Logged on stderr, rate-limited to the first kStderrLimit lines; all of them go to the file.
    if (reported_ <= kStderrLimit)
      std::fprintf(stderr, "reka: %s line %lld: %s (sent to dead letters)\n", source.c_str(),
                   static_cast<long long>(line.number), reason.c_str());
    if (path_.empty()) return;
    if (file_ == nullptr) {
      file_ = std::fopen(path_.c_str(), "w");
      if (file_ == nullptr) throw std::runtime_error("cannot open dead-letter file " + path_);
    }
    std::string row;
    JsonRowWriter w(row);
    w.begin();
    w.field("source", source);
    w.field("line", line.number);
    w.field("offset", line.offset);
    w.field("reason", reason);
    w.field("text", line.text.substr(0, 4096));
    w.end();
    std::fwrite(row.data(), 1, row.size(), file_);
    std::fflush(file_);
  }

 private:
  static constexpr int64_t kStderrLimit = 20;
  std::string path_;
  std::mutex mutex_;
  std::FILE* file_ = nullptr;
  int64_t reported_ = 0;
};

class JsonFileSource final : public SourceFunction<Event> {
 public:
  JsonFileSource(QueryJobOptions options, std::shared_ptr<QueryCounters> counters,
                 std::shared_ptr<DeadLetterOutput> deadLetters)
      : options_(std::move(options)), counters_(std::move(counters)), deadLetters_(std::move(deadLetters)),
        parser_(options_.maxLineBytes) {}

  Status open(const OperatorContext&) override {
    connector::LineReaderOptions o;
    o.maxLineBytes = options_.maxLineBytes;
    REKA_ASSIGN_OR_RETURN(auto reader, connector::LineReader::open(options_.inputPath, o));
    reader_.emplace(std::move(reader));
    return Status::ok();
  }

  SourceOperator::Poll poll(RecordBatch<Event>& out, size_t maxRecords) override {
    auto arena = std::make_shared<StringArena>(64 * 1024);
    int64_t lines = 0;
    while (out.records.size() < maxRecords) {
      auto next = reader_->next();
      if (!next.isOk()) throw std::runtime_error(next.status().toString());
      if (!next->has_value()) {
        finishBatch(out, arena, lines);
        return SourceOperator::Poll::kEnd;
      }
      const connector::Line& line = **next;
      ++lines;
      if (line.oversized) {
        bad(line, std::to_string(line.length) + " bytes exceeds the " + std::to_string(options_.maxLineBytes) +
                      "-byte line limit");
        continue;
      }
      Result<Event> e = parser_.parse(line.text, *arena);
      if (!e.isOk()) {
        bad(line, e.status().message());
        continue;
      }
      maxSeen_ = std::max(maxSeen_, e->dateTime());
      out.records.push_back(*e);
    }
    finishBatch(out, arena, lines);
    return SourceOperator::Poll::kMore;
  }

  int64_t eventTime() const override { return maxSeen_ == INT64_MIN ? INT64_MIN : maxSeen_ - kWatermarkDelayMs; }

 private:
  void finishBatch(RecordBatch<Event>& out, std::shared_ptr<StringArena>& arena, int64_t lines) {
    counters_->inputLines.fetch_add(lines, std::memory_order_relaxed);
    if (arena->chunkCount() > 0) out.keepAlive.push_back(std::move(arena));
  }
  void bad(const connector::Line& line, const std::string& reason) {
    if (options_.badInput == BadInputPolicy::kFail)
      throw std::runtime_error(options_.inputPath + " line " + std::to_string(line.number) + ": " + reason);
    counters_->badRecords.fetch_add(1, std::memory_order_relaxed);
    deadLetters_->write(options_.inputPath, line, reason);
  }

  QueryJobOptions options_;
  std::shared_ptr<QueryCounters> counters_;
  std::shared_ptr<DeadLetterOutput> deadLetters_;
  EventParser parser_;
  std::optional<connector::LineReader> reader_;
  int64_t maxSeen_ = INT64_MIN;
};

}  // namespace

DataStream<Event> generatorSource(StreamEnvironment& env, const GeneratorConfig& config, int parallelism) {
  auto generator = Generator::make(config);
  REKA_CHECK(generator.isOk());  // callers validate the config with Generator::make first
  Generator g = *generator;
  return env.fromSource<Event>(kEventSourceName, [g] { return std::make_unique<GeneratorSource>(g); }, eventWatermarks(),
                               parallelism);
}

DataStream<Event> fileSource(StreamEnvironment& env, const QueryJobOptions& options,
                             std::shared_ptr<QueryCounters> counters) {
  auto deadLetters = std::make_shared<DeadLetterOutput>(options.deadLetterPath);
  return env.fromSource<Event>(
      kEventSourceName,
      [options, counters, deadLetters] { return std::make_unique<JsonFileSource>(options, counters, deadLetters); },
      eventWatermarks(), 1);
}

}  // namespace reka::nexmark
