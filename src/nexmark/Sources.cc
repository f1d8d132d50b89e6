#include <xxhash.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include "reka/connector/DeadLetters.h"
#include "reka/connector/Registry.h"
#include "reka/sql/Functions.h"
#include "reka/connector/FileSource.h"
#include "reka/connector/Kafka.h"
#include "reka/connector/LineReader.h"
#include "reka/connector/SplitSource.h"
#include "reka/data/StringArena.h"
#include "nexmark/Generator.h"
#include "nexmark/JsonCodec.h"
#include "nexmark/QueryJob.h"

namespace reka::nexmark {

namespace {

/// The generator's event stream in blocks of B (the batch size) events: block j is events
/// [b·B, (b+1)·B) of generator g = j mod n, b = j div n. Block j belongs to lane j mod
/// kGeneratorLanes; a lane is a split, so the stream's content does not depend on the
/// parallelism and a checkpoint restores at any parallelism. Lane k is read by subtask
/// k mod P, its blocks in order; a subtask reads its lanes round-robin, one block each, so at
/// a parallelism that divides kGeneratorLanes subtask s emits blocks j ≡ s (mod P) in order.
constexpr int64_t kGeneratorLanes = 128;

/// The layout a lane's block numbers mean something in: the block size and count and the
/// generator's configuration (a restore must match them).
uint64_t generatorLayout(const GeneratorConfig& c, int64_t blockSize, int64_t blocks) {
  std::string out;
  Serde<int64_t>::write(blockSize, out);
  Serde<int64_t>::write(blocks, out);
  Serde<uint64_t>::write(c.seed, out);
  Serde<int64_t>::write(c.events, out);
  Serde<double>::write(c.rate, out);
  Serde<int32_t>::write(c.generators, out);
  Serde<int64_t>::write(c.outOfOrderGroupSize, out);
  Serde<int64_t>::write(c.firstEventId, out);
  Serde<int64_t>::write(c.firstEventNumber, out);
  return XXH3_64bits(out.data(), out.size());
}

/// A lane's position: i64 next block, u64 layout.
std::string lanePosition(int64_t nextBlock, uint64_t layout) {
  std::string out;
  Serde<int64_t>::write(nextBlock, out);
  Serde<uint64_t>::write(layout, out);
  return out;
}

int64_t laneOf(const std::string& id) { return id.rfind("lane-", 0) == 0 ? std::atoll(id.c_str() + 5) : -1; }

class GeneratorEnumerator final : public connector::SplitEnumerator {
 public:
  Result<std::vector<connector::SplitState>> discover() override {
    std::vector<connector::SplitState> lanes;
    for (int64_t k = 0; k < kGeneratorLanes; ++k) lanes.push_back({"lane-" + std::to_string(k), "", INT64_MIN, false});
    return lanes;
  }
  int owner(const connector::SplitState& split, int parallelism) const override {
    const int64_t k = laneOf(split.id);
    return k < 0 ? 0 : static_cast<int>(k % parallelism);
  }
};

class GeneratorReader final : public connector::SplitReader<Event> {
 public:
  GeneratorReader(Generator generator, size_t blockSize) : generator_(std::move(generator)), blockSize_(static_cast<int64_t>(blockSize)) {
    generators_ = generator_.config().generators;
    int64_t longest = 0;
    for (int g = 0; g < generators_; ++g) longest = std::max(longest, generator_.eventCount(g));
    blocks_ = ((longest + blockSize_ - 1) / blockSize_) * generators_;
    layout_ = generatorLayout(generator_.config(), blockSize_, blocks_);
  }

  Status addSplits(const std::vector<connector::SplitState>& splits) override {
    for (const auto& s : splits) {
      const int64_t k = laneOf(s.id);
      if (k < 0 || k >= kGeneratorLanes) return Status::corruption("'" + s.id + "' is not a generator lane");
      int64_t next = k;
      if (!s.position.empty()) {
        std::string_view in = s.position;
        uint64_t layout = 0;
        if (!Serde<int64_t>::read(in, next) || !Serde<uint64_t>::read(in, layout) || !in.empty())
          return Status::corruption("truncated generator lane position");
        if (layout != layout_)
          return Status::invalidArgument(
              "the generator source's checkpoint was taken with another generator configuration or batch size (blocks are "
              "batches: both must be the same)");
        if (next < k || (next - k) % kGeneratorLanes != 0 || next >= blocks_ + kGeneratorLanes)
          return Status::corruption("generator lane position " + std::to_string(next) + " is not one of lane " + std::to_string(k));
      }
      lanes_.push_back({next, s.finished});
    }
    return Status::ok();
  }

  /// One block of the lane whose next block comes first: blocks go out in stream order, also
  /// after a restore (which order the records of an updating query such as q18 depend on).
  Status fetch(std::vector<connector::SplitBatch<Event>>& out, size_t, int) override {
    size_t pick = lanes_.size();
    for (size_t i = 0; i < lanes_.size(); ++i)
      if (!lanes_[i].ended && (pick == lanes_.size() || lanes_[i].next < lanes_[pick].next)) pick = i;
    if (pick == lanes_.size()) return Status::ok();
    Lane& lane = lanes_[pick];
    connector::SplitBatch<Event> b;
    b.split = pick;
    const int64_t j = lane.next;
    lane.next += kGeneratorLanes;
    const int g = static_cast<int>(j % generators_);
    const int64_t first = (j / generators_) * blockSize_;
    const int64_t last = std::min(first + blockSize_, generator_.eventCount(g));
    if (first < last) {  // (past the end of a shorter generator's timeline a block is empty)
      auto arena = std::make_shared<StringArena>();
      b.records.records.resize(static_cast<size_t>(last - first));
      Event* dst = b.records.records.data();
      for (int64_t k = first; k < last; ++k) *dst++ = generator_.event(g, k, *arena);
      b.records.keepAlive.push_back(std::move(arena));
    }
    lane.ended = lane.next >= blocks_;
    b.finished = lane.ended;
    b.position = lanePosition(lane.next, layout_);
    out.push_back(std::move(b));
    return Status::ok();
  }

 private:
  struct Lane {
    int64_t next;
    bool ended;
  };
  Generator generator_;
  int64_t blockSize_;
  int generators_ = 1;
  int64_t blocks_ = 0;
  uint64_t layout_ = 0;
  std::vector<Lane> lanes_;
};

/// The generator's events as rows of Flink's nexmark table (event_type, person, auction, bid):
/// the same lanes and positions as the typed generator source.
class GeneratorRowReader final : public connector::SplitReader<Row> {
 public:
  GeneratorRowReader(Generator generator, size_t blockSize, std::shared_ptr<const Schema> schema)
      : events_(std::move(generator), blockSize), schema_(std::move(schema)) {}
  Status addSplits(const std::vector<connector::SplitState>& splits) override { return events_.addSplits(splits); }
  Status fetch(std::vector<connector::SplitBatch<Row>>& out, size_t maxRecords, int timeoutMs) override {
    fetched_.clear();
    REKA_RETURN_IF_ERROR(events_.fetch(fetched_, maxRecords, timeoutMs));
    for (auto& b : fetched_) {
      connector::SplitBatch<Row> r;
      r.split = b.split;
      r.position = std::move(b.position);
      r.finished = b.finished;
      r.records.setSchema(schema_);
      r.records.retain(b.records);  // the events' strings live in the generator's arena
      size_t row = r.records.appendRows(b.records.records.size());
      for (const Event& e : b.records.records) append(e, r.records, row++);
      out.push_back(std::move(r));
    }
    return Status::ok();
  }

 private:
  static void append(const Event& e, RowBatch& rows, size_t row) {
    RowBatch::setInt(rows.columns[0], row, static_cast<int64_t>(e.type));
    auto str = [&](Column& c, std::string_view v) {
      c.nulls[row] = 0;
      c.strings[row] = v;
    };
    if (e.isPerson()) {
      Column& p = rows.columns[1];
      RowBatch::setPresent(p, row);
      RowBatch::setInt(p.children[0], row, e.person.id);
      str(p.children[1], e.person.name);
      str(p.children[2], e.person.emailAddress);
      str(p.children[3], e.person.creditCard);
      str(p.children[4], e.person.city);
      str(p.children[5], e.person.state);
      RowBatch::setInt(p.children[6], row, e.person.dateTime);
      str(p.children[7], e.person.extra);
    } else if (e.isAuction()) {
      Column& a = rows.columns[2];
      RowBatch::setPresent(a, row);
      RowBatch::setInt(a.children[0], row, e.auction.id);
      str(a.children[1], e.auction.itemName);
      str(a.children[2], e.auction.description);
      RowBatch::setInt(a.children[3], row, e.auction.initialBid);
      RowBatch::setInt(a.children[4], row, e.auction.reserve);
      RowBatch::setInt(a.children[5], row, e.auction.dateTime);
      RowBatch::setInt(a.children[6], row, e.auction.expires);
      RowBatch::setInt(a.children[7], row, e.auction.seller);
      RowBatch::setInt(a.children[8], row, e.auction.category);
      str(a.children[9], e.auction.extra);
    } else {
      Column& b = rows.columns[3];
      RowBatch::setPresent(b, row);
      RowBatch::setInt(b.children[0], row, e.bid.auction);
      RowBatch::setInt(b.children[1], row, e.bid.bidder);
      RowBatch::setInt(b.children[2], row, e.bid.price);
      str(b.children[3], e.bid.channel);
      str(b.children[4], e.bid.url);
      RowBatch::setInt(b.children[5], row, e.bid.dateTime);
      str(b.children[6], e.bid.extra);
    }
  }

  GeneratorReader events_;
  std::shared_ptr<const Schema> schema_;
  std::vector<connector::SplitBatch<Event>> fetched_;
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

/// A message's value as an event, counted as an input record.
struct DecodeEvent {
  DecodeEvent(size_t maxBytes, std::shared_ptr<QueryCounters> counters) : line(maxBytes), counters(std::move(counters)) {}
  Status operator()(const connector::kafka::KafkaMessage& m, std::vector<Event>& out, StringArena& arena) const {
    counters->inputLines.fetch_add(1, std::memory_order_relaxed);
    if (!m.value) return Status::invalidArgument("a null value (tombstone) is not an event");
    return line(*m.value, out, arena);
  }
  DecodeEventLine line;
  std::shared_ptr<QueryCounters> counters;
};

}  // namespace

const char* nexmarkTableColumns() {
  return "event_type INT, "
         "person ROW<id BIGINT, name STRING, emailAddress STRING, creditCard STRING, city STRING, state STRING, "
         "dateTime TIMESTAMP(3), extra STRING>, "
         "auction ROW<id BIGINT, itemName STRING, description STRING, initialBid BIGINT, reserve BIGINT, "
         "dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra STRING>, "
         "bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, dateTime TIMESTAMP(3), extra STRING>";
}

void registerNexmarkConnector() {
  // NEXMark's q14 declares CREATE FUNCTION count_char AS 'com.github.nexmark.flink.udf.CountChar':
  // how often the first character of its second argument occurs in its first.
  sql::registerScalarFunction(sql::rowFunction<int64_t, std::string_view, std::string_view>(
      "com.github.nexmark.flink.udf.CountChar", "count_char(text, c): the occurrences of c's first character in text",
      [](std::string_view text, std::string_view c) {
        int64_t n = 0;
        if (c.empty()) return n;
        for (char ch : text) n += ch == c[0];
        return n;
      }));
  connector::ConnectorFactory f;
  f.name = "nexmark";
  f.description = "the NEXMark event generator as Flink's nexmark table (event_type, person, auction, bid)";
  f.sourceOptions = {"events.num", "first-event.rate", "next-event.rate", "person.proportion", "auction.proportion",
                     "bid.proportion", "seed"};
  f.makeSource = [](const connector::TableContext& t) -> Result<connector::SourceSpec<Row>> {
    REKA_ASSIGN_OR_RETURN(Schema expected, Schema::parse(nexmarkTableColumns()));
    // Names and types must be the generator's (nullability aside).
    bool same = expected.size() == t.schema->size();
    for (size_t i = 0; same && i < expected.size(); ++i) {
      DataType a = expected.field(i).type, b = t.schema->field(i).type;
      a.nullable = b.nullable = true;
      same = expected.field(i).name == t.schema->field(i).name && a.toString() == b.toString();
    }
    if (!same)
      return Status::invalidArgument("the nexmark connector's physical columns are (" + expected.toString() + "), not (" +
                                     t.schema->toString() + ")");
    GeneratorConfig config;
    REKA_ASSIGN_OR_RETURN(config.events, t.options.getInt("events.num", 0));
    if (config.events <= 0) return Status::invalidArgument("option 'events.num' must be a positive number of events (an unbounded generator is not supported)");
    REKA_ASSIGN_OR_RETURN(int64_t first, t.options.getInt("first-event.rate", 10'000'000));
    REKA_ASSIGN_OR_RETURN(int64_t next, t.options.getInt("next-event.rate", first));
    if (first <= 0 || next != first)
      return Status::invalidArgument("options 'first-event.rate' and 'next-event.rate' must be the same positive rate (events per second)");
    config.rate = static_cast<double>(first);
    REKA_ASSIGN_OR_RETURN(int64_t person, t.options.getInt("person.proportion", 1));
    REKA_ASSIGN_OR_RETURN(int64_t auction, t.options.getInt("auction.proportion", 3));
    REKA_ASSIGN_OR_RETURN(int64_t bid, t.options.getInt("bid.proportion", 46));
    if (person != 1 || auction != 3 || bid != 46)
      return Status::invalidArgument("the generator's proportions are person 1, auction 3, bid 46 (NEXMark's); other values are not supported");
    REKA_ASSIGN_OR_RETURN(int64_t seed, t.options.getInt("seed", 0));
    config.seed = static_cast<uint64_t>(seed);
    auto generator = Generator::make(config);
    if (!generator.isOk()) return generator.status();
    Generator g = *generator;
    auto schema = t.schema;
    connector::SourceSpec<Row> spec;
    spec.bounded = true;
    spec.runOnTask = true;
    spec.makeEnumerator = [] { return std::make_unique<GeneratorEnumerator>(); };
    spec.makeReader = [g, schema](const connector::SourceReaderContext& ctx) -> std::unique_ptr<connector::SplitReader<Row>> {
      return std::make_unique<GeneratorRowReader>(g, ctx.batchSize, schema);
    };
    return spec;
  };
  connector::registerConnector(std::move(f));
}

Result<DataStream<Event>> kafkaEventSource(StreamEnvironment& env, const QueryJobOptions& options,
                                           std::shared_ptr<QueryCounters> counters) {
  REKA_ASSIGN_OR_RETURN(connector::kafka::KafkaUri uri, connector::kafka::parseKafkaUri(options.inputPath));
  connector::kafka::KafkaSourceOptions o = connector::kafka::sourceOptions(uri);
  o.bounded = options.kafkaBounded;
  REKA_RETURN_IF_ERROR(o.validate());
  // The dead-letter output counts the bad messages (a file source counts its own bad lines).
  auto deadLetters = std::make_shared<connector::KafkaDeadLetters>(
      std::make_shared<connector::DeadLetterOutput>(options.deadLetterPath, &counters->badRecords));
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
  connector::SourceSpec<Event> spec;
  spec.bounded = true;
  spec.runOnTask = true;  // generating never waits: no connector thread
  spec.makeEnumerator = [] { return std::make_unique<GeneratorEnumerator>(); };
  spec.makeReader = [g](const connector::SourceReaderContext& ctx) -> std::unique_ptr<connector::SplitReader<Event>> {
    return std::make_unique<GeneratorReader>(g, ctx.batchSize);
  };
  return connector::fromSource(env, kEventSourceName, std::move(spec), eventWatermarks(maxAheadMs), parallelism);
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
                                                std::make_shared<connector::DeadLetterOutput>(options.deadLetterPath), c);
  // Following, a file without new lines for 10 s stops holding event time back.
  auto strategy = eventWatermarks(options.maxAheadMs);
  if (options.follow) strategy = strategy.withIdleness(std::chrono::seconds(10));
  return connector::fromSource(env, kEventSourceName, std::move(spec), strategy, 1);
}

}  // namespace reka::nexmark
