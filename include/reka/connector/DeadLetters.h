#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "reka/connector/AppendFile.h"
#include "reka/connector/FileSource.h"
#include "reka/connector/Kafka.h"

namespace reka::connector {

/// Where records that cannot be decoded go, with their position and reason: a JSON-lines file
/// (AppendFile, so that it follows the checkpoints: a file source records its length and a
/// restore cuts it back), or a Kafka topic (kafka://HOST:PORT/TOPIC: one JSON message each,
/// acknowledged before the batch they came with is emitted, so at least once); and stderr
/// (the first 20, then a count). Every bad record is counted (in `counter` when given). Shared by a source's subtasks.
///
/// A dead letter from a file: {"source":PATH,"line":N,"offset":BYTES,"reason":…,"text":…};
/// from Kafka: {"topic":…,"partition":P,"offset":O,"reason":…,"text":VALUE}. Texts are cut at
/// 4096 bytes.
class DeadLetterOutput final : public file::LineDeadLetters {
 public:
  /// `target`: a file path, a kafka:// URI, or empty (stderr and the count only).
  explicit DeadLetterOutput(std::string target, std::atomic<int64_t>* counter = nullptr)
      : target_(std::move(target)), counter_(counter) {}
  ~DeadLetterOutput() override;

  /// Opens the file (once per job: every run and restart shares it) without truncating it, or
  /// the Kafka producer.
  Status open();
  void resetTo(int64_t length) override;
  /// The file's length, for a checkpoint (0 without a file). For a topic: waits until every
  /// dead letter sent is acknowledged (only when there are new ones), then 0.
  Result<int64_t> length() override;
  Status write(const std::string& source, const Line& line, const std::string& reason) override;
  /// A Kafka message that could not be decoded.
  Status write(const kafka::KafkaMessage& m, const std::string& reason);

 private:
  static constexpr int64_t kStderrLimit = 20;
  void log(const std::string& what);
  Status append(std::string row);

  std::string target_;
  std::atomic<int64_t>* counter_;
  std::mutex mutex_;
  std::unique_ptr<AppendFile> file_;
  std::unique_ptr<kafka::SinkWriter> kafka_;
  kafka::ProducerRecord record_;
  int64_t unflushed_ = 0;
  int64_t reported_ = 0;
};

/// Sends a Kafka source's bad messages to a DeadLetterOutput.
class KafkaDeadLetters final : public kafka::DeadLetterHandler {
 public:
  explicit KafkaDeadLetters(std::shared_ptr<DeadLetterOutput> out) : out_(std::move(out)) {}
  Status deadLetter(const kafka::KafkaMessage& m, const std::string& reason) override { return out_->write(m, reason); }

 private:
  std::shared_ptr<DeadLetterOutput> out_;
};

}  // namespace reka::connector
