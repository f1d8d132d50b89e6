#include "reka/connector/DeadLetters.h"

#include "reka/base/Log.h"
#include "connectors/format/JsonWriter.h"

namespace reka::connector {

DeadLetterOutput::~DeadLetterOutput() {
  if (reported_ > kStderrLimit)
    reka::log(LogLevel::kWarn, std::to_string(reported_ - kStderrLimit) + " more bad input records not shown" +
                                   (target_.empty() ? "" : " (all are in " + target_ + ")"));
  if (kafka_) kafka_->close();
}

Status DeadLetterOutput::open() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (target_.empty() || file_ || kafka_) return Status::ok();
  if (kafka::isKafkaUri(target_)) {
    REKA_ASSIGN_OR_RETURN(kafka::KafkaUri uri, kafka::parseKafkaUri(target_));
    kafka::KafkaSinkOptions o;
    o.bootstrapServers = uri.bootstrapServers;
    o.topic = uri.topic;
    o.properties = uri.properties;
    REKA_ASSIGN_OR_RETURN(kafka_, kafka::SinkWriter::open(o, 0, false));
    return Status::ok();
  }
  REKA_ASSIGN_OR_RETURN(file_, AppendFile::open(target_));
  return Status::ok();
}

void DeadLetterOutput::resetTo(int64_t length) {
  // An error opening the file is reported by the next write or length(). A topic cannot be cut back.
  if (open().isOk() && file_) file_->resetTo(length);
}

Result<int64_t> DeadLetterOutput::length() {
  REKA_RETURN_IF_ERROR(open());
  if (kafka_) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (unflushed_ > 0) {
      REKA_RETURN_IF_ERROR(kafka_->finish());
      unflushed_ = 0;
    }
    return int64_t{0};
  }
  if (!file_) return int64_t{0};
  return file_->sync();
}

Status DeadLetterOutput::write(const std::string& source, const Line& line, const std::string& reason) {
  REKA_RETURN_IF_ERROR(open());
  log(source + " line " + std::to_string(line.number) + ": " + reason);
  if (!file_ && !kafka_) return Status::ok();
  std::string row;
  JsonRowWriter w(row);
  w.begin();
  w.field("source", source);
  w.field("line", line.number);
  w.field("offset", line.offset);
  w.field("reason", reason);
  w.field("text", line.text.substr(0, 4096));
  w.end();
  return append(std::move(row));
}

Status DeadLetterOutput::write(const kafka::KafkaMessage& m, const std::string& reason) {
  REKA_RETURN_IF_ERROR(open());
  log("topic " + std::string(m.topic) + " partition " + std::to_string(m.partition) + " offset " + std::to_string(m.offset) +
      ": " + reason);
  if (!file_ && !kafka_) return Status::ok();
  std::string row;
  JsonRowWriter w(row);
  w.begin();
  w.field("topic", m.topic);
  w.field("partition", static_cast<int64_t>(m.partition));
  w.field("offset", m.offset);
  w.field("reason", reason);
  w.field("text", m.value.value_or(std::string_view()).substr(0, 4096));
  w.end();
  REKA_RETURN_IF_ERROR(append(std::move(row)));
  // A Kafka source has no position that includes its dead letters: acknowledge them now.
  if (kafka_) return length().status();
  return Status::ok();
}

void DeadLetterOutput::log(const std::string& what) {
  if (counter_) counter_->fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mutex_);
  if (++reported_ > kStderrLimit) return;
  reka::log(LogLevel::kWarn, what + " (sent to dead letters)");
}

Status DeadLetterOutput::append(std::string row) {
  if (file_) return file_->append(row);
  std::lock_guard<std::mutex> lock(mutex_);
  record_.clear();
  record_.value = std::move(row);
  if (!record_.value.empty() && record_.value.back() == '\n') record_.value.pop_back();
  ++unflushed_;
  return kafka_->write(record_);
}

}  // namespace reka::connector
