#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "reka/api/DataStream.h"
#include "reka/connector/Format.h"
#include "reka/connector/Source.h"
#include "reka/data/Row.h"
#include "reka/time/Watermarks.h"

namespace reka::connector {

/// What a connector's factory gets: the table's name (the operator's name), its schema and its
/// options (SQL's WITH clause: 'connector' and 'format' included).
struct TableContext {
  std::string name;
  std::shared_ptr<const Schema> schema;
  Options options;
  /// Metadata columns (SQL's `c TYPE METADATA FROM 'key'`): column index and key, for the
  /// source to fill; checked against ConnectorFactory::metadata. The other columns are data.
  std::vector<std::pair<int, std::string>> metadata;
};

/// Writes the rows of one sink subtask: the writer half of a sink (the committer half is
/// prepare/commit/recover, driven by the checkpoints). Errors are returned; the sink turns
/// them into a failed job.
class RowSinkWriter {
 public:
  virtual ~RowSinkWriter() = default;
  virtual Status open(const OperatorContext& ctx) = 0;
  virtual Status write(const RowBatch& rows) = 0;
  /// The barrier of checkpoint `id`: makes what was written so far durable or ready to commit,
  /// and appends what a restore needs to `out`.
  virtual Status prepare(int64_t /*id*/, std::string& /*out*/) { return Status::ok(); }
  /// Checkpoint `id` is complete: what prepare(id) readied becomes visible.
  virtual Status commit(int64_t /*id*/) { return Status::ok(); }
  /// After a restore, with what prepare() of the restored checkpoint wrote.
  virtual Status recover(std::string_view /*in*/) { return Status::ok(); }
  /// End of input.
  virtual Status finish() { return Status::ok(); }
  virtual void close() {}
};

/// A sink function for DataStream<Row>::sink() around a RowSinkWriter made per subtask when it
/// opens (copies made while the job is planned share nothing).
class RowSink {
 public:
  using MakeWriter = std::function<Result<std::unique_ptr<RowSinkWriter>>()>;
  explicit RowSink(MakeWriter make) : make_(std::move(make)) {}
  RowSink(const RowSink& o) : make_(o.make_) {}

  Status open(const OperatorContext& ctx) {
    REKA_ASSIGN_OR_RETURN(writer_, make_());
    return writer_->open(ctx);
  }
  void invoke(const RowBatch& rows) { check(writer_->write(rows)); }
  void finish() { check(writer_->finish()); }
  void close() {
    if (writer_) writer_->close();
  }
  Status snapshot(int64_t id, std::string& out) { return writer_->prepare(id, out); }
  Status restore(std::string_view in) { return writer_->recover(in); }
  void commit(int64_t id) { check(writer_->commit(id)); }

 private:
  static void check(const Status& s) {
    if (!s.isOk()) throw std::runtime_error(s.message());
  }
  MakeWriter make_;
  std::unique_ptr<RowSinkWriter> writer_;
};

/// A connector, registered by name ("kafka", "filesystem", "print", …) so that SQL's WITH
/// clause, job files and the CLI reach it.
struct ConnectorFactory {
  std::string name;
  std::string description;
  /// The option keys it accepts as a source and as a sink ("properties.*": every key under
  /// "properties."). 'connector' is always accepted; so are the options of the formats it
  /// names ('format' = 'csv' accepts 'csv.…').
  std::vector<std::string> sourceOptions;
  std::vector<std::string> sinkOptions;
  /// The metadata a source fills in (key, type), e.g. Kafka's {"offset", BIGINT}.
  std::vector<std::pair<std::string, DataType>> metadata;
  /// Makes the source (null: not a source). Errors name the option that is wrong.
  std::function<Result<SourceSpec<Row>>(const TableContext&)> makeSource;
  /// Checks the options and returns how to make each subtask's writer (null: not a sink).
  std::function<Result<RowSink::MakeWriter>(const TableContext&)> makeSink;
};

/// Adds a connector, replacing one of the same name. Thread-safe.
void registerConnector(ConnectorFactory factory);
/// The connector called `name`, or an error that lists the registered ones. Built in:
/// filesystem, kafka, upsert-kafka, datagen, print, blackhole.
Result<const ConnectorFactory*> findConnector(std::string_view name);
std::vector<const ConnectorFactory*> connectors();

/// Event time for rows: the timestamp column (BIGINT epoch milliseconds, TIMESTAMP or
/// TIMESTAMP_LTZ) and bounded out-of-orderness, as SQL's WATERMARK FOR c AS c - INTERVAL …
/// declares it. A null timestamp does not move time.
struct RowWatermarks {
  using Record = Row;
  int column = 0;
  WatermarkOptions watermarks;

  /// The strategy for column `name` of `schema`, or an error naming the column.
  static Result<RowWatermarks> forColumn(const Schema& schema, std::string_view name, int64_t maxOutOfOrdernessMs,
                                         int64_t idleTimeoutMs = 0);
  int64_t timestampOf(const RowBatch& rows, size_t row) const {
    const Column& c = rows.columns[static_cast<size_t>(column)];
    return c.nulls[row] != 0 ? kMinTime : c.ints[row];
  }
  const WatermarkOptions& options() const { return watermarks; }
};

/// Reads a table through the connector its options name ('connector' = 'kafka', …): a stream
/// of rows of `schema`, with event time from `watermarks` when given. Options and formats are
/// checked here, so a mistake fails before the job runs.
Result<DataStream<Row>> readTable(StreamEnvironment& env, std::string name, Schema schema, Options options,
                                  std::optional<RowWatermarks> watermarks = std::nullopt, int parallelism = 0);
/// Whether a table with these options can take an updating result (+I, -U, +U, -D): connectors
/// print, blackhole and upsert-kafka, and any connector whose format is a changelog format
/// (debezium-json, changelog-json).
bool sinkAcceptsChangelog(const Options& options);
/// Writes `rows` (of `schema`) to a table through the connector its options name.
Status writeTable(const DataStream<Row>& rows, std::string name, Schema schema, Options options);

}  // namespace reka::connector
