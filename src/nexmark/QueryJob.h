#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "reka/api/DataStream.h"
#include "reka/time/Watermarks.h"
#include "nexmark/GeneratorConfig.h"
#include "nexmark/Model.h"

namespace reka::nexmark {

/// What to do with an input line that cannot be parsed.
enum class BadInputPolicy {
  kDeadLetter,  ///< count it, write it to the dead-letter output with line number and reason, go on
  kFail,        ///< fail the job with the line number and reason
};

/// One NEXMark query run: its input (in-process generator or a JSON-lines file), its output
/// (a JSON-lines file, part files in a directory, or a sink that touches every field and
/// discards it) and its execution.
struct QueryJobOptions {
  std::string query;             ///< "q0" … "q22"
  GeneratorConfig generator;     ///< used when inputPath is empty
  /// events in the shapes of docs/nexmark.md (Events: Event files), one per line; or kafka://HOST:PORT/TOPIC[?property=value…]:
  /// one event per message, every partition, from the earliest offset (property group.id: the
  /// consumer group that checkpoints commit their offsets to).
  std::string inputPath;
  /// Empty: discard rows after touching every field; kafka://HOST:PORT/TOPIC[?property=value…]:
  /// one JSON row per message, transactional under exactly-once with checkpoints, flushed at
  /// every checkpoint otherwise.
  std::string outputPath;
  /// Part files under this directory instead, exactly once (connector::TransactionalFileSink):
  /// each sink subtask its own files, q10 partitioned by dt=…/hm=…; committed at checkpoints,
  /// or at the end without them. Excludes outputPath.
  std::string outputDir;
  std::string deadLetterPath;    ///< empty: dead letters are reported on stderr (rate-limited)
  /// Records too late for their windows, written as input events (q5, q7, q8, q11; other
  /// queries have no late data). Empty: they are counted only (JobMetrics::lateRecords).
  std::string lateOutputPath;
  BadInputPolicy badInput = BadInputPolicy::kDeadLetter;
  size_t maxLineBytes = size_t{1} << 20;
  /// The far-future cap of the event watermarks (see eventWatermarks); 0: none. The `reka`
  /// command sets 10 minutes unless told otherwise (--max-ahead).
  int64_t maxAheadMs = 0;
  /// File input: keep reading appended lines and new files matching inputPath (a glob pattern
  /// then), through rotation, until the job is stopped.
  bool follow = false;
  /// Kafka input: stop at the end offsets present when the run started (false: keep reading).
  bool kafkaBounded = true;
  /// Kafka output, exactly-once with checkpoints: where open transactions are logged until
  /// they commit (the `reka` command: STATE_DIR/kafka-transactions).
  std::string kafkaTransactionLogDir;
  /// Kafka output, exactly-once: transactional ids are "<prefix>-<subtask>-<n>" (empty:
  /// "reka-<query>-<topic>").
  std::string kafkaTransactionalIdPrefix;
};

/// Counters a query job updates while it runs. Thread-safe.
struct QueryCounters {
  std::atomic<int64_t> outputRows{0};
  std::atomic<uint64_t> checksum{0};  ///< sum of row hashes: order-independent
  std::atomic<int64_t> badRecords{0};
  std::atomic<int64_t> inputLines{0};
};

/// Name of the operator that emits the event stream (generator or file): its output count is
/// the number of events a run processed.
inline constexpr const char* kEventSourceName = "nexmark-events";

/// Event time of the NEXMark stream: dateTime, with watermarks 4 s behind the highest seen.
inline constexpr int64_t kWatermarkDelayMs = 4000;
/// `maxAheadMs` > 0: one event may move event time at most this far beyond the highest
/// timestamp before it (the far-future cap, WatermarkOptions::maxAheadMs); 0: no cap.
inline auto eventWatermarks(int64_t maxAheadMs = 0) {
  return watermarks::boundedOutOfOrderness<Event>(std::chrono::milliseconds(kWatermarkDelayMs),
                                                  [](const Event& e) { return e.dateTime(); })
      .withMaxAhead(std::chrono::milliseconds(maxAheadMs));
}

/// The queries this build implements.
const std::vector<std::string>& supportedQueries();

/// The in-process generator as a split source: the interleaved generator timelines in blocks of
/// `batchSize` events, block j in lane j mod 128 (a split, with its own watermark); subtask s of
/// P reads lanes k ≡ s (mod P) round-robin, a block at a time, on its task (no connector
/// thread). The stream's content does not depend on P, and a checkpoint restores at any P.
DataStream<Event> generatorSource(StreamEnvironment& env, const GeneratorConfig& config, int parallelism = 0,
                                  int64_t maxAheadMs = 0);

/// A Kafka topic of events (options.inputPath is kafka://…) as a source: its partitions are
/// spread over the source's subtasks (the job's parallelism), each with its own watermark.
/// Messages that are not events follow `options.badInput` (dead letters with topic, partition
/// and offset).
Result<DataStream<Event>> kafkaEventSource(StreamEnvironment& env, const QueryJobOptions& options,
                                           std::shared_ptr<QueryCounters> counters);

/// JSON-lines event files as a source (parallelism 1, connector::file): inputPath is a file,
/// FIFO or glob pattern, read once or followed (`options.follow`). Bad lines follow
/// `options.badInput`.
DataStream<Event> fileSource(StreamEnvironment& env, const QueryJobOptions& options,
                             std::shared_ptr<QueryCounters> counters);

/// Adds query `options.query` over `events` and its sink to `env`. Fails for an unknown query
/// (the message lists the supported ones).
Status addQuery(StreamEnvironment& env, DataStream<Event> events, const QueryJobOptions& options,
                std::shared_ptr<QueryCounters> counters);

/// Source + query + sink for `options`: what `reka nexmark run` executes.
Result<std::shared_ptr<QueryCounters>> buildQueryJob(StreamEnvironment& env, const QueryJobOptions& options);

/// Registers the `nexmark` connector (Flink's nexmark table: the generator's events as rows of
/// nexmarkTableColumns(), with options events.num, first-event.rate, next-event.rate, the
/// proportions and seed), so that SQL reaches it, and the function NEXMark's q14 declares
/// ('com.github.nexmark.flink.udf.CountChar'). Idempotent.
void registerNexmarkConnector();
/// The physical columns of the nexmark table, as Flink's NEXMark DDL declares them.
const char* nexmarkTableColumns();

}  // namespace reka::nexmark
