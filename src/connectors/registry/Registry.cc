// The connector registry and the built-in connectors: filesystem, kafka, upsert-kafka, print and
// blackhole, each reading or writing rows through the formats.

#include "reka/connector/Registry.h"
#include "connectors/datagen/Datagen.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "connectors/NamedRegistry.h"
#include "reka/base/Check.h"
#include "reka/base/Units.h"
#include "reka/connector/DeadLetters.h"
#include "reka/connector/FileSource.h"
#include "reka/connector/Kafka.h"
#include "reka/connector/SplitSource.h"
#include "reka/connector/TransactionalFileSink.h"

namespace reka::connector {

namespace {

// ---- Shared pieces --------------------------------------------------------------------------

/// Options every source that decodes records accepts: what happens to a record its format
/// cannot decode.
const std::vector<std::string> kBadRecordOptions = {"source.bad-records", "source.dead-letter"};

struct BadRecords {
  BadRecordPolicy policy = BadRecordPolicy::kDeadLetter;
  std::shared_ptr<DeadLetterOutput> output;
};

Result<BadRecords> badRecords(const Options& o) {
  BadRecords b;
  REKA_ASSIGN_OR_RETURN(std::string policy, o.getEnum("source.bad-records", "dead-letter", {"dead-letter", "fail"}));
  b.policy = policy == "fail" ? BadRecordPolicy::kFail : BadRecordPolicy::kDeadLetter;
  b.output = std::make_shared<DeadLetterOutput>(o.get("source.dead-letter"));
  return b;
}

/// A decoder whose format and options were checked when the job was planned.
std::shared_ptr<Decoder> made(Result<std::unique_ptr<Decoder>> r) {
  REKA_CHECK(r.isOk());
  return std::shared_ptr<Decoder>(std::move(*r));
}

/// Makes a format's decoder for each reader (a copy of this makes a new one).
struct DecoderFactory {
  std::string format;
  std::shared_ptr<const Schema> schema;
  Options options;
  std::string prefix;
  Result<std::unique_ptr<Decoder>> make() const { return makeDecoder(format, schema, options, prefix); }
};

/// A line of a file as rows (one decoder per reader).
struct DecodeLine {
  explicit DecodeLine(DecoderFactory f) : factory(std::move(f)), decoder(made(factory.make())) {}
  DecodeLine(const DecodeLine& o) : factory(o.factory), decoder(made(factory.make())) {}
  Status operator()(std::string_view line, RowBatch& out, StringArena&) const {
    if (out.schemaPtr() != factory.schema) out.setSchema(factory.schema);
    return decoder->decode(line, out);
  }
  DecoderFactory factory;
  std::shared_ptr<Decoder> decoder;
};

/// The format names an options map uses: 'format', or 'key.format' / 'value.format'.
std::vector<std::string> formatOptionKeys(const Options& o) {
  std::vector<std::string> keys;
  if (o.has("format")) keys.push_back(o.get("format") + ".*");
  if (o.has("value.format")) keys.push_back(o.get("value.format") + ".*");
  if (o.has("key.format")) keys.push_back("key." + o.get("key.format") + ".*");
  return keys;
}

Status checkOptions(const ConnectorFactory& f, const Options& o, bool source) {
  std::vector<std::string> accepted = source ? f.sourceOptions : f.sinkOptions;
  accepted.insert(accepted.begin(), "connector");
  for (auto& k : formatOptionKeys(o)) accepted.push_back(std::move(k));
  return o.checkKeys(fmt::format("connector '{}' ({})", f.name, source ? "as a source" : "as a sink"), accepted);
}

/// Fails on a row kind the format cannot write: a changelog needs a changelog format.
Status checkKind(const RowBatch& rows, size_t row, const FormatFactory& format) {
  if (format.changelog || rows.kinds[row] == RowKind::kInsert) return Status::ok();
  return Status::invalidArgument(fmt::format("format '{}' writes inserts only, but the sink got a {} row; use format "
                                             "'debezium-json' or connector 'upsert-kafka' for a changelog",
                                             format.name, rowKindCode(rows.kinds[row])));
}

/// Rows go to a sink by position: their types must be the sink's (names may differ, as in an
/// INSERT INTO whose select list names its columns otherwise).
bool sameTypes(const Schema& a, const Schema& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    DataType x = a.field(i).type, y = b.field(i).type;
    x.nullable = y.nullable = true;
    if (!(x == y)) return false;
  }
  return true;
}

Status checkSchema(const RowBatch& rows, const Schema& schema, const std::string& sink) {
  if (rows.schemaPtr().get() == &schema || sameTypes(rows.schema(), schema)) return Status::ok();
  return Status::invalidArgument(fmt::format("sink '{}' expects rows ({}) but got ({})", sink, schema.toString(),
                                             rows.schema().toString()));
}

// ---- blackhole and print ----------------------------------------------------------------------

class BlackholeWriter final : public RowSinkWriter {
 public:
  Status open(const OperatorContext&) override { return Status::ok(); }
  Status write(const RowBatch&) override { return Status::ok(); }
};

ConnectorFactory blackhole() {
  ConnectorFactory f;
  f.name = "blackhole";
  f.description = "discards every row (for benchmarks)";
  f.makeSink = [](const TableContext&) -> Result<RowSink::MakeWriter> {
    return RowSink::MakeWriter([]() -> Result<std::unique_ptr<RowSinkWriter>> { return std::unique_ptr<RowSinkWriter>(std::make_unique<BlackholeWriter>()); });
  };
  return f;
}

/// Rows as Flink's print connector writes them: "[id[:subtask]> ]+I[1, abc]".
class PrintWriter final : public RowSinkWriter {
 public:
  PrintWriter(std::string identifier, bool toStderr, std::shared_ptr<const Schema> schema, std::string name)
      : identifier_(std::move(identifier)), stream_(toStderr ? stderr : stdout), schema_(std::move(schema)), name_(std::move(name)) {}
  Status open(const OperatorContext& ctx) override {
    if (ctx.metrics != nullptr) bytesOut_ = &ctx.metrics->bytesOut;
    if (ctx.parallelism > 1) {
      prefix_ = identifier_.empty() ? fmt::format("{}> ", ctx.subtask + 1) : fmt::format("{}:{}> ", identifier_, ctx.subtask + 1);
    } else if (!identifier_.empty()) {
      prefix_ = identifier_ + "> ";
    }
    return Status::ok();
  }
  Status write(const RowBatch& rows) override {
    REKA_RETURN_IF_ERROR(checkSchema(rows, *schema_, name_));
    text_.clear();
    for (size_t i = 0; i < rows.size(); ++i) {
      text_ += prefix_;
      rows.appendText(i, text_);
      text_ += '\n';
    }
    // One write per batch: lines of parallel subtasks do not interleave within a line.
    if (std::fwrite(text_.data(), 1, text_.size(), stream_) != text_.size()) return Status::ioError("print: cannot write");
    if (bytesOut_ != nullptr) bytesOut_->fetch_add(static_cast<int64_t>(text_.size()), std::memory_order_relaxed);
    return Status::ok();
  }
  Status finish() override {
    std::fflush(stream_);
    return Status::ok();
  }

 private:
  std::string identifier_;
  FILE* stream_;
  std::shared_ptr<const Schema> schema_;
  std::string name_;
  std::string prefix_;
  std::string text_;
  std::atomic<int64_t>* bytesOut_ = nullptr;
};

ConnectorFactory print() {
  ConnectorFactory f;
  f.name = "print";
  f.description = "writes rows to standard output as +I[…] lines (for trying things out)";
  f.sinkOptions = {"print-identifier", "standard-error"};
  f.makeSink = [](const TableContext& t) -> Result<RowSink::MakeWriter> {
    REKA_ASSIGN_OR_RETURN(bool toStderr, t.options.getBool("standard-error", false));
    std::string id = t.options.get("print-identifier");
    auto schema = t.schema;
    std::string name = t.name;
    return RowSink::MakeWriter([=]() -> Result<std::unique_ptr<RowSinkWriter>> {
      return std::unique_ptr<RowSinkWriter>(std::make_unique<PrintWriter>(id, toStderr, schema, name));
    });
  };
  return f;
}

// ---- filesystem -------------------------------------------------------------------------------

/// Rows encoded one per line into part files (TransactionalFileWriter: exactly once with
/// checkpoints, staged files committed when the checkpoint completes).
/// A partition directory's name for a value: Flink's escaping (%XX for '/', ':', '=', '%' and
/// the other characters a path or Hive treats specially), "__DEFAULT_PARTITION__" for NULL.
void appendPartitionValue(const RowBatch& rows, size_t column, size_t row, std::string& out) {
  const Column& c = rows.columns[column];
  if (c.nulls[row] != 0) {
    out += "__DEFAULT_PARTITION__";
    return;
  }
  std::string text;
  const DataType& t = rows.schema().field(column).type;
  switch (t.kind) {
    case TypeKind::kString:
    case TypeKind::kBytes: text.assign(c.strings[row]); break;
    case TypeKind::kDouble: text = fmt::format("{}", c.doubles[row]); break;
    case TypeKind::kDecimal: appendDecimal(c.decimals[row], t.scale, text); break;
    case TypeKind::kBoolean: text = c.ints[row] != 0 ? "true" : "false"; break;
    case TypeKind::kTimestamp:
    case TypeKind::kTimestampLtz: appendTimestamp(c.ints[row], t.precision, false, false, text); break;
    default: text = std::to_string(c.ints[row]); break;
  }
  if (text.empty() || text == "." || text == "..") {
    out += text.empty() ? "__DEFAULT_PARTITION__" : (text == "." ? "%2E" : "%2E%2E");
    return;
  }
  for (char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7F || std::string_view("\"#%'*/:=?\\{[]^").find(ch) != std::string_view::npos) {
      fmt::format_to(std::back_inserter(out), "%{:02X}", u);
    } else {
      out += ch;
    }
  }
}

class FileRowWriter final : public RowSinkWriter {
 public:
  /// `partitionColumns`: columns of `schema` that choose the directory (col=value/…) and are
  /// left out of the rows written (`encoder` encodes the other columns); `successFile`: the
  /// file written in a partition when files of it are committed (empty: none).
  FileRowWriter(TransactionalFileSinkOptions options, std::unique_ptr<Encoder> encoder, const FormatFactory* format,
                std::shared_ptr<const Schema> schema, std::string name, std::vector<int> partitionColumns = {},
                std::string successFile = "")
      : options_(std::move(options)), encoder_(std::move(encoder)), format_(format), schema_(std::move(schema)), name_(std::move(name)),
        partitionColumns_(std::move(partitionColumns)), successFile_(std::move(successFile)) {
    if (!partitionColumns_.empty()) {
      std::vector<Field> data;
      for (size_t c = 0; c < schema_->size(); ++c)
        if (std::find(partitionColumns_.begin(), partitionColumns_.end(), static_cast<int>(c)) == partitionColumns_.end()) {
          dataColumns_.push_back(c);
          data.push_back(schema_->field(c));
        }
      dataSchema_ = std::make_shared<const Schema>(std::move(data));
    }
  }
  Status open(const OperatorContext& ctx) override {
    writer_ = std::make_unique<TransactionalFileWriter>(options_, ctx.subtask, ctx.guarantee == DeliveryGuarantee::kExactlyOnce,
                                                        !ctx.checkpointing);
    if (ctx.metrics != nullptr) writer_->countBytesInto(&ctx.metrics->bytesOut);
    return writer_->open();
  }
  Status write(const RowBatch& rows) override {
    REKA_RETURN_IF_ERROR(checkSchema(rows, *schema_, name_));
    const RowBatch* data = &rows;
    RowBatch projected;
    if (!partitionColumns_.empty()) {
      // The rows without their partition columns (the same values, retained).
      projected.setSchema(dataSchema_);
      for (size_t k = 0; k < dataColumns_.size(); ++k) projected.columns[k] = rows.columns[dataColumns_[k]];
      projected.kinds = rows.kinds;
      projected.retain(rows);
      data = &projected;
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      REKA_RETURN_IF_ERROR(checkKind(rows, i, *format_));
      partition_.clear();
      for (size_t k = 0; k < partitionColumns_.size(); ++k) {
        if (k > 0) partition_ += '/';
        partition_ += schema_->field(static_cast<size_t>(partitionColumns_[k])).name;
        partition_ += '=';
        appendPartitionValue(rows, static_cast<size_t>(partitionColumns_[k]), i, partition_);
      }
      if (!successFile_.empty() && !partition_.empty()) touched_.insert(partition_);
      std::string& out = writer_->beginLine(partition_);
      const size_t before = out.size();
      Status s = encoder_->encode(*data, i, out);
      if (!s.isOk()) {
        out.resize(before);
        return s;
      }
      writer_->endLine();
    }
    return Status::ok();
  }
  Status prepare(int64_t id, std::string& out) override {
    staged_[id].insert(touched_.begin(), touched_.end());
    touched_.clear();
    return writer_->snapshot(id, out);
  }
  Status commit(int64_t id) override {
    writer_->commit(id);
    // The partitions whose files this checkpoint (and those before it) committed get their
    // success file.
    std::set<std::string> done;
    for (auto it = staged_.begin(); it != staged_.end() && it->first <= id;) {
      done.insert(it->second.begin(), it->second.end());
      it = staged_.erase(it);
    }
    return writeSuccessFiles(done);
  }
  Status recover(std::string_view in) override { return writer_->restore(in); }
  Status finish() override {
    writer_->finish();
    if (!writer_->commitsAtFinish()) return Status::ok();
    for (auto& [id, parts] : staged_) touched_.insert(parts.begin(), parts.end());
    staged_.clear();
    Status s = writeSuccessFiles(touched_);
    touched_.clear();
    return s;
  }

 private:
  Status writeSuccessFiles(const std::set<std::string>& partitions) {
    for (const auto& partition : partitions) {
      const std::string path = options_.directory + "/" + partition + "/" + successFile_;
      std::FILE* f = std::fopen(path.c_str(), "a");
      if (f == nullptr) return Status::ioError("cannot write the success file " + path + ": " + std::strerror(errno));
      std::fclose(f);
    }
    return Status::ok();
  }

  TransactionalFileSinkOptions options_;
  std::unique_ptr<Encoder> encoder_;
  const FormatFactory* format_;
  std::shared_ptr<const Schema> schema_;
  std::string name_;
  std::vector<int> partitionColumns_;
  std::string successFile_;
  std::vector<size_t> dataColumns_;
  std::shared_ptr<const Schema> dataSchema_;
  std::string partition_;
  std::set<std::string> touched_;                   ///< partitions written since the last checkpoint
  std::map<int64_t, std::set<std::string>> staged_;  ///< by the checkpoint that commits their files
  std::unique_ptr<TransactionalFileWriter> writer_;
};

std::string defaultSuffix(const std::string& format) {
  if (format == "csv") return ".csv";
  if (format == "raw") return ".txt";
  return ".json";
}

ConnectorFactory filesystem() {
  ConnectorFactory f;
  f.name = "filesystem";
  f.description = "files: reads a file, directory or glob line by line (following it with source.monitor-interval); "
                  "writes part files in a directory, exactly once with checkpoints";
  f.sourceOptions = {"path", "format", "source.monitor-interval", "source.max-line-bytes"};
  f.sourceOptions.insert(f.sourceOptions.end(), kBadRecordOptions.begin(), kBadRecordOptions.end());
  f.sinkOptions = {"path", "format", "sink.rolling-policy.file-size", "sink.part-prefix", "sink.part-suffix", "partition.columns",
                   "sink.partition-commit.policy.kind", "sink.partition-commit.success-file.name", "sink.partition-commit.trigger",
                   "sink.partition-commit.delay", "partition.time-extractor.timestamp-pattern", "sink.rolling-policy.rollover-interval",
                   "sink.rolling-policy.check-interval"};
  f.makeSource = [](const TableContext& t) -> Result<SourceSpec<Row>> {
    file::FileSourceOptions o;
    REKA_ASSIGN_OR_RETURN(o.path, t.options.required("path"));
    if (o.path.rfind("file://", 0) == 0) o.path.erase(0, 7);
    REKA_ASSIGN_OR_RETURN(std::string format, t.options.required("format"));
    if (t.options.has("source.monitor-interval")) {
      REKA_ASSIGN_OR_RETURN(o.discoveryIntervalMs, t.options.getDurationMs("source.monitor-interval", 0));
      o.follow = true;
    }
    REKA_ASSIGN_OR_RETURN(int64_t maxLine, t.options.getInt("source.max-line-bytes", static_cast<int64_t>(o.maxLineBytes)));
    if (maxLine <= 0) return Status::invalidArgument("option 'source.max-line-bytes' must be positive");
    o.maxLineBytes = static_cast<size_t>(maxLine);
    DecoderFactory decoders{format, t.schema, t.options, ""};
    REKA_RETURN_IF_ERROR(decoders.make().status());  // the format and its options are checked now
    REKA_ASSIGN_OR_RETURN(BadRecords bad, badRecords(t.options));
    return file::fileSource<Row>(o, DecodeLine(decoders), bad.policy, bad.output, file::FileSourceCounters{});
  };
  f.makeSink = [](const TableContext& t) -> Result<RowSink::MakeWriter> {
    TransactionalFileSinkOptions o;
    REKA_ASSIGN_OR_RETURN(o.directory, t.options.required("path"));
    if (o.directory.rfind("file://", 0) == 0) o.directory.erase(0, 7);  // Flink's file:// URIs name local paths
    REKA_ASSIGN_OR_RETURN(std::string format, t.options.required("format"));
    REKA_ASSIGN_OR_RETURN(const FormatFactory* factory, findFormat(format));
    if (t.options.has("sink.rolling-policy.file-size")) {
      auto bytes = parseByteSize(t.options.get("sink.rolling-policy.file-size"));
      if (!bytes || *bytes <= 0)
        return Status::invalidArgument("option 'sink.rolling-policy.file-size' = '" + t.options.get("sink.rolling-policy.file-size") +
                                       "': expected a size such as 128MB");
      o.maxFileBytes = *bytes;
    }
    o.prefix = t.options.get("sink.part-prefix", "part");
    o.suffix = t.options.get("sink.part-suffix", defaultSuffix(format));
    // PARTITIONED BY (SQL sets 'partition.columns'): DIR/col=value/… directories, the columns left
    // out of the rows; partition commit as Flink's options name it.
    std::vector<int> partitionColumns;
    std::vector<Field> dataFields = t.schema->fields();
    if (t.options.has("partition.columns")) {
      std::string list = t.options.get("partition.columns");
      for (size_t from = 0; from <= list.size();) {
        const size_t end = std::min(list.find(';', from), list.size());
        const std::string name = list.substr(from, end - from);
        const int c = t.schema->indexOf(name);
        if (c < 0) return Status::invalidArgument("option 'partition.columns': '" + name + "' is not a column");
        partitionColumns.push_back(c);
        from = end + 1;
      }
      dataFields.clear();
      for (size_t c = 0; c < t.schema->size(); ++c)
        if (std::find(partitionColumns.begin(), partitionColumns.end(), static_cast<int>(c)) == partitionColumns.end())
          dataFields.push_back(t.schema->field(c));
    }
    std::string successFile;
    if (t.options.has("sink.partition-commit.policy.kind")) {
      REKA_ASSIGN_OR_RETURN(std::string policy, t.options.getEnum("sink.partition-commit.policy.kind", "success-file", {"success-file"}));
      (void)policy;
      if (partitionColumns.empty()) return Status::invalidArgument("option 'sink.partition-commit.policy.kind' needs a table with PARTITIONED BY");
      successFile = t.options.get("sink.partition-commit.success-file.name", "_SUCCESS");
    }
    if (t.options.has("sink.partition-commit.trigger"))
      REKA_RETURN_IF_ERROR(t.options.getEnum("sink.partition-commit.trigger", "process-time", {"process-time", "partition-time"}).status());
    for (const char* duration : {"sink.partition-commit.delay", "sink.rolling-policy.rollover-interval", "sink.rolling-policy.check-interval"})
      if (t.options.has(duration)) REKA_RETURN_IF_ERROR(t.options.getDurationMs(duration, 0).status());
    auto dataSchema = std::make_shared<const Schema>(dataFields);
    REKA_RETURN_IF_ERROR(makeEncoder(format, dataSchema, t.options).status());
    auto schema = t.schema;
    auto options = t.options;
    std::string name = t.name;
    return RowSink::MakeWriter([=]() -> Result<std::unique_ptr<RowSinkWriter>> {
      REKA_ASSIGN_OR_RETURN(std::unique_ptr<Encoder> encoder, makeEncoder(format, dataSchema, options));
      return std::unique_ptr<RowSinkWriter>(
          std::make_unique<FileRowWriter>(o, std::move(encoder), factory, schema, name, partitionColumns, successFile));
    });
  };
  return f;
}

// ---- kafka and upsert-kafka -------------------------------------------------------------------

const std::vector<std::string> kKafkaCommon = {"properties.*", "format", "key.format", "key.fields", "value.format",
                                               "value.fields-include"};

/// What a Kafka source fills into metadata columns (as Flink's Kafka connector names them).
const std::vector<std::pair<std::string, DataType>> kKafkaMetadata = {
    {"topic", DataType::string()}, {"partition", DataType::integer()}, {"offset", DataType::bigint()}, {"timestamp", DataType::timestampLtz(3)}};

/// How a Kafka table's columns map onto message keys and values.
struct KafkaLayout {
  std::shared_ptr<const Schema> schema;
  std::string valueFormat;
  std::string keyFormat;                     ///< empty: no key
  std::vector<int> keyColumns;               ///< key.fields, in order
  std::vector<int> valueColumns;             ///< all, or all but the key's (EXCEPT_KEY)
  std::shared_ptr<const Schema> keySchema;   ///< the key columns
  std::shared_ptr<const Schema> valueSchema; ///< the value columns
  bool valueIsWhole = true;                  ///< valueColumns is every column in order
  std::vector<std::pair<int, std::string>> metadata;  ///< columns filled from the message
};

Result<KafkaLayout> kafkaLayout(const TableContext& t, bool upsert) {
  KafkaLayout l;
  l.schema = t.schema;
  l.valueFormat = t.options.has("value.format") ? t.options.get("value.format") : t.options.get("format");
  if (l.valueFormat.empty()) return Status::invalidArgument("option 'format' (or 'value.format') is required");
  if (upsert && t.options.has("format")) return Status::invalidArgument("upsert-kafka takes 'key.format' and 'value.format', not 'format'");
  l.keyFormat = t.options.get("key.format");
  std::string fields = t.options.get("key.fields");
  if (!fields.empty()) {
    size_t start = 0;
    while (start <= fields.size()) {
      size_t end = fields.find(';', start);
      if (end == std::string::npos) end = fields.size();
      std::string name = fields.substr(start, end - start);
      int index = t.schema->indexOf(name);
      if (index < 0)
        return Status::invalidArgument(fmt::format("option 'key.fields': '{}' is not a column of ({})", name, t.schema->toString()));
      l.keyColumns.push_back(index);
      start = end + 1;
    }
  }
  if (l.keyColumns.empty() != l.keyFormat.empty())
    return Status::invalidArgument(upsert ? "upsert-kafka needs 'key.format' and 'key.fields' (the primary key columns)"
                                          : "options 'key.format' and 'key.fields' go together");
  REKA_ASSIGN_OR_RETURN(std::string include, t.options.getEnum("value.fields-include", "ALL", {"ALL", "EXCEPT_KEY"}));
  std::vector<Field> keyFields, valueFields;
  for (int k : l.keyColumns) keyFields.push_back(t.schema->field(static_cast<size_t>(k)));
  for (size_t i = 0; i < t.schema->size(); ++i) {
    const bool isKey = std::find(l.keyColumns.begin(), l.keyColumns.end(), static_cast<int>(i)) != l.keyColumns.end();
    if (include == "EXCEPT_KEY" && isKey) continue;
    if (std::any_of(t.metadata.begin(), t.metadata.end(), [&](const auto& m) { return m.first == static_cast<int>(i); })) continue;
    l.valueColumns.push_back(static_cast<int>(i));
    valueFields.push_back(t.schema->field(i));
  }
  l.valueIsWhole = l.valueColumns.size() == t.schema->size();
  l.metadata = t.metadata;
  l.keySchema = std::make_shared<const Schema>(std::move(keyFields));
  l.valueSchema = l.valueIsWhole ? t.schema : std::make_shared<const Schema>(std::move(valueFields));
  return l;
}

/// The columns `cols` of `rows` as a batch of their own (sharing `rows`' strings).
void project(const RowBatch& rows, const std::vector<int>& cols, RowBatch& out) {
  out.columns.resize(cols.size());
  for (size_t i = 0; i < cols.size(); ++i) out.columns[i] = rows.columns[static_cast<size_t>(cols[i])];
  out.kinds = rows.kinds;
}

Result<kafka::StartupMode> startupMode(const Options& o) {
  REKA_ASSIGN_OR_RETURN(std::string mode, o.getEnum("scan.startup.mode", "earliest-offset",
                                                    {"earliest-offset", "latest-offset", "group-offsets", "timestamp", "specific-offsets"}));
  if (mode == "earliest-offset") return kafka::StartupMode::kEarliest;
  if (mode == "latest-offset") return kafka::StartupMode::kLatest;
  if (mode == "group-offsets") return kafka::StartupMode::kGroupOffsets;
  if (mode == "timestamp") return kafka::StartupMode::kTimestamp;
  return kafka::StartupMode::kSpecificOffsets;
}

Result<std::map<std::string, std::string>> kafkaProperties(const Options& o, std::string& bootstrap) {
  std::map<std::string, std::string> props;
  const Options own = o.withPrefix("properties");
  for (const auto& [k, v] : own.values()) props[k] = v;
  auto it = props.find("bootstrap.servers");
  if (it == props.end() || it->second.empty()) return Status::invalidArgument("option 'properties.bootstrap.servers' is required");
  bootstrap = it->second;
  props.erase(it);
  return props;
}

/// A message as rows: the value (and the key's columns from the key) through the formats.
struct DecodeMessage {
  DecodeMessage(KafkaLayout layout, Options options, bool upsert)
      : layout(std::move(layout)), options(std::move(options)), upsert(upsert) {
    init();
  }
  DecodeMessage(const DecodeMessage& o) : layout(o.layout), options(o.options), upsert(o.upsert) { init(); }

  void init() {
    value = made(makeDecoder(layout.valueFormat, layout.valueSchema, options));
    // Only a changelog format reads a tombstone (as nothing: it follows a delete).
    auto format = findFormat(layout.valueFormat);
    changelog = format.isOk() && (*format)->changelog;
    if (!layout.keyFormat.empty()) key = made(makeDecoder(layout.keyFormat, layout.keySchema, options, "key."));
    values = std::make_shared<RowBatch>(layout.valueSchema);
    keys = std::make_shared<RowBatch>(layout.keySchema);
  }

  Status operator()(const kafka::KafkaMessage& m, RowBatch& out, StringArena&) const {
    if (out.schemaPtr() != layout.schema) out.setSchema(layout.schema);
    if (!m.value && !upsert) {
      if (!changelog) return Status::invalidArgument("a null value (tombstone) holds no row for format '" + layout.valueFormat + "'");
      return Status::ok();
    }
    if (layout.valueIsWhole && !key && m.value) return value->decode(*m.value, out);
    const size_t first = out.size();
    REKA_RETURN_IF_ERROR(decodeColumns(m, out));
    for (size_t row = first; row < out.size(); ++row) fillMetadata(m, out, row);
    return Status::ok();
  }

  /// The topic, partition, offset and timestamp of `m` into the metadata columns of `row`.
  void fillMetadata(const kafka::KafkaMessage& m, RowBatch& out, size_t row) const {
    for (const auto& [column, name] : layout.metadata) {
      Column& c = out.columns[static_cast<size_t>(column)];
      if (name == "topic") out.setString(c, row, m.topic);
      else if (name == "partition") RowBatch::setInt(c, row, m.partition);
      else if (name == "offset") RowBatch::setInt(c, row, m.offset);
      else if (name == "timestamp" && m.timestampMs >= 0) RowBatch::setInt(c, row, m.timestampMs);
    }
  }

  Status decodeColumns(const kafka::KafkaMessage& m, RowBatch& out) const {
    // Decode the key and the value apart, then put the columns together.
    keys->clear();
    values->clear();
    keys->setSchema(layout.keySchema);
    values->setSchema(layout.valueSchema);
    if (key) {
      if (!m.key) return Status::invalidArgument("the message has no key (key.fields are " + layout.keySchema->toString() + ")");
      REKA_RETURN_IF_ERROR(key->decode(*m.key, *keys));
      if (keys->size() != 1) return Status::invalidArgument("the key does not hold one row");
    }
    if (m.value) {
      REKA_RETURN_IF_ERROR(value->decode(*m.value, *values));
    } else {
      values->appendRow(RowKind::kDelete);  // upsert-kafka: a tombstone deletes the key's row
    }
    for (size_t r = 0; r < values->size(); ++r) {
      RowKind kind = values->kinds[r];
      if (upsert && kind == RowKind::kInsert) kind = RowKind::kUpdateAfter;
      const size_t row = out.appendRow(kind);
      for (size_t i = 0; i < layout.valueColumns.size(); ++i)
        copyValue(values->columns[i], r, out.columns[static_cast<size_t>(layout.valueColumns[i])], row, out.arena());
      for (size_t i = 0; i < layout.keyColumns.size(); ++i)
        copyValue(keys->columns[i], 0, out.columns[static_cast<size_t>(layout.keyColumns[i])], row, out.arena());
    }
    return Status::ok();
  }

  /// Value `row` of `c` into row `toRow` of `d` (the same type), strings into `arena` (the
  /// scratch batches are cleared for the next message).
  static void copyValue(const Column& c, size_t row, Column& d, size_t toRow, StringArena& arena) {
    d.nulls[toRow] = c.nulls[row];
    if (!c.ints.empty()) d.ints[toRow] = c.ints[row];
    if (!c.doubles.empty()) d.doubles[toRow] = c.doubles[row];
    if (!c.decimals.empty()) d.decimals[toRow] = c.decimals[row];
    if (!c.strings.empty()) d.strings[toRow] = arena.copy(c.strings[row]);
    for (size_t k = 0; k < c.children.size(); ++k) copyValue(c.children[k], row, d.children[k], toRow, arena);
  }

  KafkaLayout layout;
  Options options;
  bool upsert;
  bool changelog = false;
  std::shared_ptr<Decoder> value, key;
  std::shared_ptr<RowBatch> values, keys;
};

/// Rows to messages: value (and key) through the formats; upsert: a delete is a tombstone and
/// an update-before is skipped.
class KafkaRowWriter final : public RowSinkWriter {
 public:
  KafkaRowWriter(kafka::KafkaSinkOptions options, KafkaLayout layout, Options formatOptions, bool upsert, std::string partitioner,
                 std::string name)
      : options_(std::move(options)), layout_(std::move(layout)), formatOptions_(std::move(formatOptions)), upsert_(upsert),
        partitioner_(std::move(partitioner)), name_(std::move(name)) {}

  Status open(const OperatorContext& ctx) override {
    REKA_ASSIGN_OR_RETURN(valueFormat_, findFormat(layout_.valueFormat));
    REKA_ASSIGN_OR_RETURN(value_, makeEncoder(layout_.valueFormat, layout_.valueSchema, formatOptions_));
    if (!layout_.keyFormat.empty()) {
      REKA_ASSIGN_OR_RETURN(key_, makeEncoder(layout_.keyFormat, layout_.keySchema, formatOptions_, "key."));
    }
    if (partitioner_ != "default") {
      REKA_ASSIGN_OR_RETURN(auto offsets, kafka::partitionOffsets(options_.bootstrapServers, options_.topic));
      partitions_ = static_cast<int32_t>(offsets.size());
      if (partitions_ == 0) return Status::notFound("topic " + options_.topic + " has no partitions");
      next_ = ctx.subtask % partitions_;
    }
    REKA_RETURN_IF_ERROR(options_.validate());
    REKA_ASSIGN_OR_RETURN(writer_, kafka::SinkWriter::open(options_, ctx.subtask, ctx.checkpointing));
    if (ctx.metrics != nullptr) writer_->countBytesInto(&ctx.metrics->bytesOut);
    return Status::ok();
  }
  Status write(const RowBatch& rows) override {
    REKA_RETURN_IF_ERROR(checkSchema(rows, *layout_.schema, name_));
    const RowBatch* values = &rows;
    if (!layout_.valueIsWhole) {
      valueView_.setSchema(layout_.valueSchema);
      project(rows, layout_.valueColumns, valueView_);
      values = &valueView_;
    }
    if (key_) {
      keyView_.setSchema(layout_.keySchema);
      project(rows, layout_.keyColumns, keyView_);
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      const RowKind kind = rows.kinds[i];
      if (upsert_ && kind == RowKind::kUpdateBefore) continue;
      if (!upsert_) REKA_RETURN_IF_ERROR(checkKind(rows, i, *valueFormat_));
      record_.clear();
      if (key_) {
        REKA_RETURN_IF_ERROR(key_->encode(keyView_, i, record_.key));
        record_.hasKey = true;
      }
      if (upsert_ && kind == RowKind::kDelete) {
        record_.hasValue = false;
      } else {
        REKA_RETURN_IF_ERROR(value_->encode(*values, i, record_.value));
      }
      if (partitions_ > 0) {
        record_.partition = next_;
        if (partitioner_ == "round-robin") next_ = (next_ + 1) % partitions_;
      }
      REKA_RETURN_IF_ERROR(writer_->write(record_));
    }
    return Status::ok();
  }
  Status prepare(int64_t id, std::string& out) override { return writer_->prepare(id, out); }
  Status commit(int64_t id) override { return writer_->commit(id); }
  Status recover(std::string_view in) override { return writer_->recover(in); }
  Status finish() override { return writer_->finish(); }
  void close() override {
    if (writer_) writer_->close();
  }

 private:
  kafka::KafkaSinkOptions options_;
  KafkaLayout layout_;
  Options formatOptions_;
  bool upsert_;
  std::string partitioner_;
  std::string name_;
  const FormatFactory* valueFormat_ = nullptr;
  std::unique_ptr<Encoder> value_, key_;
  RowBatch valueView_, keyView_;
  kafka::ProducerRecord record_;
  std::unique_ptr<kafka::SinkWriter> writer_;
  int32_t partitions_ = 0;
  int32_t next_ = 0;
};

Result<SourceSpec<Row>> kafkaTableSource(const TableContext& t, bool upsert) {
  kafka::KafkaSourceOptions o;
  REKA_ASSIGN_OR_RETURN(o.properties, kafkaProperties(t.options, o.bootstrapServers));
  if (auto g = o.properties.find("group.id"); g != o.properties.end()) {
    o.groupId = g->second;
    o.properties.erase(g);
  }
  std::string topics = t.options.get("topic");
  for (size_t start = 0; !topics.empty() && start <= topics.size();) {
    size_t end = topics.find(';', start);
    if (end == std::string::npos) end = topics.size();
    if (end > start) o.topics.push_back(topics.substr(start, end - start));
    start = end + 1;
  }
  o.topicPattern = t.options.get("topic-pattern");
  if (o.topics.empty() == o.topicPattern.empty()) return Status::invalidArgument("give option 'topic' or 'topic-pattern' (one of them)");
  if (upsert) {
    o.startup = kafka::StartupMode::kEarliest;  // upsert-kafka reads the whole table
  } else {
    REKA_ASSIGN_OR_RETURN(o.startup, startupMode(t.options));
    REKA_ASSIGN_OR_RETURN(o.startupTimestampMs, t.options.getInt("scan.startup.timestamp-millis", 0));
    if (o.startup == kafka::StartupMode::kTimestamp && !t.options.has("scan.startup.timestamp-millis"))
      return Status::invalidArgument("'scan.startup.mode' = 'timestamp' needs 'scan.startup.timestamp-millis'");
    if (o.startup == kafka::StartupMode::kSpecificOffsets) {
      // 'partition:0,offset:42;partition:1,offset:300' for the one topic.
      if (o.topics.size() != 1) return Status::invalidArgument("'scan.startup.specific-offsets' needs exactly one 'topic'");
      std::string spec = t.options.get("scan.startup.specific-offsets");
      for (size_t start = 0; start < spec.size();) {
        size_t end = spec.find(';', start);
        if (end == std::string::npos) end = spec.size();
        long long partition = -1, offset = -1;
        std::string item = spec.substr(start, end - start);
        if (std::sscanf(item.c_str(), "partition:%lld,offset:%lld", &partition, &offset) != 2 || partition < 0 || offset < 0)
          return Status::invalidArgument("option 'scan.startup.specific-offsets': '" + item + "' is not 'partition:P,offset:O'");
        o.specificOffsets[{o.topics[0], static_cast<int32_t>(partition)}] = offset;
        start = end + 1;
      }
      if (o.specificOffsets.empty()) return Status::invalidArgument("'scan.startup.mode' = 'specific-offsets' needs 'scan.startup.specific-offsets'");
    }
  }
  REKA_ASSIGN_OR_RETURN(std::string bounded, t.options.getEnum("scan.bounded.mode", "unbounded", {"unbounded", "latest-offset"}));
  o.bounded = bounded == "latest-offset";
  REKA_ASSIGN_OR_RETURN(o.discoveryIntervalMs, t.options.getDurationMs("scan.topic-partition-discovery.interval", o.discoveryIntervalMs));
  REKA_RETURN_IF_ERROR(o.validate());
  REKA_ASSIGN_OR_RETURN(KafkaLayout layout, kafkaLayout(t, upsert));
  REKA_RETURN_IF_ERROR(makeDecoder(layout.valueFormat, layout.valueSchema, t.options).status());
  if (!layout.keyFormat.empty()) REKA_RETURN_IF_ERROR(makeDecoder(layout.keyFormat, layout.keySchema, t.options, "key.").status());
  REKA_ASSIGN_OR_RETURN(BadRecords bad, badRecords(t.options));
  return kafka::kafkaSource<Row>(o, DecodeMessage(layout, t.options, upsert), bad.policy, std::make_shared<KafkaDeadLetters>(bad.output));
}

Result<RowSink::MakeWriter> kafkaTableSink(const TableContext& t, bool upsert) {
  kafka::KafkaSinkOptions o;
  REKA_ASSIGN_OR_RETURN(o.properties, kafkaProperties(t.options, o.bootstrapServers));
  REKA_ASSIGN_OR_RETURN(o.topic, t.options.required("topic"));
  REKA_ASSIGN_OR_RETURN(std::string delivery,
                        t.options.getEnum("sink.delivery-guarantee", "at-least-once", {"none", "at-least-once", "exactly-once"}));
  REKA_ASSIGN_OR_RETURN(o.delivery, kafka::parseSinkDelivery(delivery));
  o.transactionalIdPrefix = t.options.get("sink.transactional-id-prefix", "reka");
  o.transactionLogDir = t.options.get("sink.transaction-log-dir");
  REKA_ASSIGN_OR_RETURN(std::string partitioner, t.options.getEnum("sink.partitioner", "default", {"default", "fixed", "round-robin"}));
  REKA_RETURN_IF_ERROR(o.validate());
  REKA_ASSIGN_OR_RETURN(KafkaLayout layout, kafkaLayout(t, upsert));
  REKA_RETURN_IF_ERROR(makeEncoder(layout.valueFormat, layout.valueSchema, t.options).status());
  if (!layout.keyFormat.empty()) REKA_RETURN_IF_ERROR(makeEncoder(layout.keyFormat, layout.keySchema, t.options, "key.").status());
  Options options = t.options;
  std::string name = t.name;
  return RowSink::MakeWriter([=]() -> Result<std::unique_ptr<RowSinkWriter>> {
    return std::unique_ptr<RowSinkWriter>(std::make_unique<KafkaRowWriter>(o, layout, options, upsert, partitioner, name));
  });
}

ConnectorFactory kafkaConnector() {
  ConnectorFactory f;
  f.name = "kafka";
  f.description = "Kafka topics (librdkafka): partitions as splits, offsets in checkpoints; at-least-once or "
                  "exactly-once (transactions) output";
  f.sourceOptions = kKafkaCommon;
  f.metadata = kKafkaMetadata;
  for (const char* k : {"topic", "topic-pattern", "scan.startup.mode", "scan.startup.timestamp-millis", "scan.startup.specific-offsets",
                        "scan.bounded.mode", "scan.topic-partition-discovery.interval"})
    f.sourceOptions.push_back(k);
  f.sourceOptions.insert(f.sourceOptions.end(), kBadRecordOptions.begin(), kBadRecordOptions.end());
  f.sinkOptions = kKafkaCommon;
  for (const char* k : {"topic", "sink.delivery-guarantee", "sink.transactional-id-prefix", "sink.transaction-log-dir", "sink.partitioner"})
    f.sinkOptions.push_back(k);
  f.makeSource = [](const TableContext& t) { return kafkaTableSource(t, false); };
  f.makeSink = [](const TableContext& t) { return kafkaTableSink(t, false); };
  return f;
}

ConnectorFactory upsertKafkaConnector() {
  ConnectorFactory f = kafkaConnector();
  f.name = "upsert-kafka";
  f.description = "a Kafka topic as a table keyed by its primary key (key.fields): an update is a message for the key, "
                  "a delete a tombstone";
  f.sourceOptions = {"properties.*", "key.format", "key.fields", "value.format", "value.fields-include", "topic",
                     "scan.bounded.mode", "scan.topic-partition-discovery.interval"};
  f.metadata = kKafkaMetadata;
  f.sourceOptions.insert(f.sourceOptions.end(), kBadRecordOptions.begin(), kBadRecordOptions.end());
  f.sinkOptions = {"properties.*", "key.format", "key.fields", "value.format", "value.fields-include", "topic",
                   "sink.delivery-guarantee", "sink.transactional-id-prefix", "sink.transaction-log-dir"};
  f.makeSource = [](const TableContext& t) { return kafkaTableSource(t, true); };
  f.makeSink = [](const TableContext& t) { return kafkaTableSink(t, true); };
  return f;
}

// ---- The registry -----------------------------------------------------------------------------

NamedRegistry<ConnectorFactory>& registry() {
  // Never destroyed: connectors outlive static destruction.
  static auto* r = new NamedRegistry<ConnectorFactory>("connector", {filesystem(), kafkaConnector(), upsertKafkaConnector(), datagenConnector(), print(), blackhole()});
  return *r;
}

}  // namespace

void registerConnector(ConnectorFactory factory) { registry().add(std::move(factory)); }
Result<const ConnectorFactory*> findConnector(std::string_view name) { return registry().find(name); }
std::vector<const ConnectorFactory*> connectors() { return registry().all(); }

Result<RowWatermarks> RowWatermarks::forColumn(const Schema& schema, std::string_view name, int64_t maxOutOfOrdernessMs,
                                               int64_t idleTimeoutMs) {
  const int index = schema.indexOf(name);
  if (index < 0) return Status::invalidArgument(fmt::format("the watermark column '{}' is not a column of ({})", name, schema.toString()));
  const TypeKind kind = schema.field(static_cast<size_t>(index)).type.kind;
  if (kind != TypeKind::kBigint && kind != TypeKind::kTimestamp && kind != TypeKind::kTimestampLtz)
    return Status::invalidArgument(fmt::format("the watermark column '{}' is {}; it must be TIMESTAMP(3), TIMESTAMP_LTZ(3) or BIGINT",
                                               name, schema.field(static_cast<size_t>(index)).type.toString()));
  RowWatermarks w;
  w.column = index;
  w.watermarks.maxOutOfOrdernessMs = maxOutOfOrdernessMs;
  w.watermarks.idleTimeoutMs = idleTimeoutMs;
  return w;
}

Result<DataStream<Row>> readTable(StreamEnvironment& env, std::string name, Schema schema, Options options,
                                  std::optional<RowWatermarks> watermarks, int parallelism) {
  REKA_ASSIGN_OR_RETURN(std::string connector, options.required("connector"));
  REKA_ASSIGN_OR_RETURN(const ConnectorFactory* f, findConnector(connector));
  if (!f->makeSource) return Status::invalidArgument("connector '" + f->name + "' cannot be read (it is a sink only)");
  // 'metadata.<column>' = key: a metadata column the connector fills.
  std::vector<std::pair<int, std::string>> metadata;
  const Options metadataOptions = options.withPrefix("metadata");
  for (const auto& [key, entry] : metadataOptions.values()) {
    const std::string& value = entry;  // (a structured binding cannot be captured below with clang 14)
    const int column = schema.indexOf(key);
    if (column < 0) return Status::invalidArgument("table '" + name + "': metadata column '" + key + "' is not a column");
    auto known = std::find_if(f->metadata.begin(), f->metadata.end(), [&](const auto& m) { return m.first == value; });
    if (known == f->metadata.end()) {
      std::string keys;
      for (const auto& m : f->metadata) keys += (keys.empty() ? "" : ", ") + m.first + " " + m.second.toString();
      return Status::invalidArgument("table '" + name + "': connector '" + f->name + "' has no metadata '" + value + "'" +
                                     (keys.empty() ? std::string("; it has none") : "; it has: " + keys));
    }
    DataType want = known->second, got = schema.field(static_cast<size_t>(column)).type;
    want.nullable = got.nullable = true;
    const auto time = [](TypeKind k) { return k == TypeKind::kTimestamp || k == TypeKind::kTimestampLtz; };
    if (!(want == got) && !(time(want.kind) && time(got.kind)))
      return Status::invalidArgument("table '" + name + "': metadata column '" + key + "' is " + got.toString() + ", but '" + value + "' is " +
                                     want.toString());
    metadata.emplace_back(column, value);
  }
  for (const auto& [column, key] : metadata) options = options.without("metadata." + schema.field(static_cast<size_t>(column)).name);
  REKA_RETURN_IF_ERROR(checkOptions(*f, options, true));
  TableContext t{name, std::make_shared<const Schema>(std::move(schema)), std::move(options), std::move(metadata)};
  Result<SourceSpec<Row>> spec = f->makeSource(t);
  if (!spec.isOk()) return Status::invalidArgument("table '" + name + "': " + spec.status().message());
  if (watermarks) return fromSource(env, std::move(name), std::move(*spec), *watermarks, parallelism);
  return fromSource(env, std::move(name), std::move(*spec), parallelism);
}

bool sinkAcceptsChangelog(const Options& options) {
  const std::string connector = options.get("connector");
  if (connector == "print" || connector == "blackhole" || connector == "upsert-kafka") return true;
  const std::string format = options.has("value.format") ? options.get("value.format") : options.get("format");
  auto f = findFormat(format);
  return f.isOk() && (*f)->changelog;
}

Status writeTable(const DataStream<Row>& rows, std::string name, Schema schema, Options options) {
  REKA_ASSIGN_OR_RETURN(std::string connector, options.required("connector"));
  REKA_ASSIGN_OR_RETURN(const ConnectorFactory* f, findConnector(connector));
  if (!f->makeSink) return Status::invalidArgument("connector '" + f->name + "' cannot be written (it is a source only)");
  REKA_RETURN_IF_ERROR(checkOptions(*f, options, false));
  TableContext t{name, std::make_shared<const Schema>(std::move(schema)), std::move(options), {}};
  Result<RowSink::MakeWriter> make = f->makeSink(t);
  if (!make.isOk()) return Status::invalidArgument("table '" + name + "': " + make.status().message());
  rows.sink(std::move(name), RowSink(std::move(*make)));
  return Status::ok();
}

}  // namespace reka::connector
