#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reka/base/Status.h"
#include "reka/data/Batch.h"
#include "reka/data/Row.h"
#include "reka/state/Serde.h"

namespace reka::connector {

/// A piece of a source's input that one reader reads in order: a Kafka partition, a file. Its
/// position belongs to the connector (opaque bytes in its own encoding) and is kept in
/// checkpoints, so that a restored job reads each split on from where the checkpoint was taken,
/// at any parallelism.
struct SplitState {
  std::string id;        ///< unique within the source and stable across runs ("orders-3")
  std::string position;  ///< where the next record is (the connector's encoding)
  /// The highest event timestamp emitted from the split (kMinTime: none): a restored split's
  /// watermark starts from it, so that it does not go back.
  int64_t highestTimestamp = INT64_MIN;
  bool finished = false;  ///< a bounded split that was read to its end

  bool operator==(const SplitState&) const = default;
};

/// Finds a source's splits and says which subtask reads each. Every source subtask runs its own
/// copy on its connector thread and keeps the splits owner() gives it: the subtasks agree
/// without talking, the way Flink's Kafka enumerator assigns partitions.
class SplitEnumerator {
 public:
  virtual ~SplitEnumerator() = default;
  /// Every split that exists now, each with the position a newly found split starts at. Called
  /// when the source starts and then every discovery interval. May block (I/O).
  virtual Result<std::vector<SplitState>> discover() = 0;
  /// The subtask of `parallelism` that reads `split`. The default hashes the id; connectors with
  /// numbered splits spread them evenly (Kafka: by topic hash plus partition).
  virtual int owner(const SplitState& split, int parallelism) const;
};

/// Records read from one split by one fetch, and the split's position after the last of them.
template <class T>
struct SplitBatch {
  size_t split = 0;  ///< index into the reader's splits, in the order addSplits() added them
  BatchOf<T> records;     ///< RecordBatch<T>, or RowBatch for Row
  std::string position;   ///< the split's position after these records
  bool finished = false;  ///< the split has ended: no more batches come from it
  int64_t bytes = 0;       ///< bytes read from outside for these records (metrics: bytes in)
  int64_t badRecords = 0;  ///< records that could not be decoded (metrics: dead letters)
};

/// What a reader and a format know about the subtask they serve.
struct SourceReaderContext {
  std::string sourceName;
  int subtask = 0;
  int parallelism = 1;
  size_t batchSize = 1024;
};

/// Reads the splits assigned to one source subtask. All calls but wakeUp() come from the
/// source's connector thread (never a worker thread), which may block in them.
template <class T>
class SplitReader {
 public:
  virtual ~SplitReader() = default;
  /// Starts reading `splits` from their positions. They follow the splits added before (their
  /// indices in SplitBatch::split continue).
  virtual Status addSplits(const std::vector<SplitState>& splits) = 0;
  /// Waits up to `timeoutMs` for records and appends what it read (about `maxRecords` at most in
  /// all) to `out`, one SplitBatch per split it read from. An error fails the job.
  virtual Status fetch(std::vector<SplitBatch<T>>& out, size_t maxRecords, int timeoutMs) = 0;
  /// Makes a fetch() that is waiting on another thread return soon. Thread-safe.
  virtual void wakeUp() {}
  /// A checkpoint that holds these positions of the reader's splits is complete (a Kafka reader
  /// commits them to its consumer group, so that lag tools see them).
  virtual void checkpointComplete(int64_t /*checkpointId*/, const std::vector<SplitState>& /*splits*/) {}
  /// Records between the reader's positions and the end of its splits' input as far as it
  /// knows (Kafka: the partitions' high watermarks minus the positions), -1: unknown. Called
  /// after each fetch(), from the same thread; must not block (metrics: source lag).
  virtual int64_t lag() const { return -1; }
  virtual void close() {}
};

/// What happens to a record a source cannot decode: counted and sent to the dead letters with
/// its position and reason, or the job fails with them.
enum class BadRecordPolicy : uint8_t { kDeadLetter, kFail };

/// A connector's source: what the runtime needs to run it. A source is bounded when every split
/// ends (a bounded Kafka read, a file read once) and discovery runs once; an unbounded one keeps
/// discovering splits every `discoveryIntervalMs` (0: only at start).
template <class T>
struct SourceSpec {
  std::function<std::unique_ptr<SplitEnumerator>()> makeEnumerator;
  std::function<std::unique_ptr<SplitReader<T>>(const SourceReaderContext&)> makeReader;
  bool bounded = false;
  int64_t discoveryIntervalMs = 0;
  /// Fetched batches the connector thread may hold ahead of the task (backpressure).
  size_t queueCapacity = 8;
  /// The enumerator and reader never block and always have data until their splits end (a
  /// generator, data in memory): they run on the source's task, one fetch per poll, without a
  /// connector thread. Bounded sources only (an idle one would keep its task polling).
  bool runOnTask = false;
};

}  // namespace reka::connector

namespace reka {
/// u8 version (1), id, position, i64 highest timestamp, u8 finished.
template <>
struct Serde<connector::SplitState> {
  static void write(const connector::SplitState& s, std::string& out) {
    Serde<uint8_t>::write(1, out);
    Serde<std::string>::write(s.id, out);
    Serde<std::string>::write(s.position, out);
    Serde<int64_t>::write(s.highestTimestamp, out);
    Serde<uint8_t>::write(s.finished ? 1 : 0, out);
  }
  static bool read(std::string_view& in, connector::SplitState& s) {
    uint8_t version = 0, finished = 0;
    if (!Serde<uint8_t>::read(in, version) || version != 1) return false;
    if (!Serde<std::string>::read(in, s.id) || !Serde<std::string>::read(in, s.position) ||
        !Serde<int64_t>::read(in, s.highestTimestamp) || !Serde<uint8_t>::read(in, finished) || finished > 1)
      return false;
    s.finished = finished == 1;
    return true;
  }
};
}  // namespace reka
