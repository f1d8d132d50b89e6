// `reka nexmark generate/run` over Kafka: a mock cluster (librdkafka's, on 127.0.0.1) in this
// process, the `reka` command as a child process. Results are checked against the same query
// run on the same events from a file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "NexmarkTestKit.h"
#include "connectors/kafka/MockCluster.h"
#include "reka/connector/Kafka.h"

#ifndef REKA_CLI_PATH
#error "REKA_CLI_PATH must name the reka binary"
#endif

namespace reka::nexmark::it {
namespace {

using ::testing::HasSubstr;

/// Every message value of `topic` (all partitions, from the start to the end offsets now).
std::vector<std::string> readTopic(const std::string& bootstrap, const std::string& topic) {
  std::vector<std::string> values;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "reader", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) return values;
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return values;
  }
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(16);
  int open = 0;
  for (int p = 0; md->topic_cnt == 1 && p < md->topics[0].partition_cnt; ++p) {
    int64_t low = 0, high = 0;
    rd_kafka_query_watermark_offsets(rk, topic.c_str(), md->topics[0].partitions[p].id, &low, &high, 10000);
    if (high > low) {
      rd_kafka_topic_partition_list_add(parts, topic.c_str(), md->topics[0].partitions[p].id)->offset = low;
      ++open;
    }
  }
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      --open;
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->payload != nullptr) {
      values.emplace_back(static_cast<const char*>(m->payload), m->len);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  std::sort(values.begin(), values.end());
  return values;
}

class KafkaCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = connector::kafka::MockCluster::start(1);
    ASSERT_TRUE(m.isOk()) << m.status().toString();
    mock_ = std::move(*m);
  }

  CommandResult reka(const std::string& args) { return runCommand(REKA_CLI_PATH, args, dir_, calls_, 120); }
  std::string uri(const std::string& topic) const { return "kafka://" + mock_->bootstrapServers() + "/" + topic; }
  std::string path(const std::string& name) const { return dir_.file(name); }

  /// The same events into a file and into `topic` (created with `partitions`).
  std::string generateBoth(int events, const std::string& topic, int partitions) {
    EXPECT_TRUE(mock_->createTopic(topic, partitions).isOk());
    const std::string file = path("events.jsonl");
    CommandResult f = reka("nexmark generate --events " + std::to_string(events) + " --output '" + file + "'");
    EXPECT_EQ(f.exitCode, 0) << f.err;
    CommandResult k = reka("nexmark generate --events " + std::to_string(events) + " --output '" + uri(topic) + "'");
    EXPECT_EQ(k.exitCode, 0) << k.err;
    EXPECT_THAT(k.err, HasSubstr("wrote " + std::to_string(events) + " events"));
    return file;
  }

  std::unique_ptr<connector::kafka::MockCluster> mock_;
  ScratchDir dir_;
  int calls_ = 0;
};

TEST_F(KafkaCliTest, GenerateSpreadsEventsOverThePartitions) {
  ASSERT_TRUE(mock_->createTopic("events", 4).isOk());
  CommandResult r = reka("nexmark generate --events 1000 --output '" + uri("events") + "'");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto offsets = connector::kafka::partitionOffsets(mock_->bootstrapServers(), "events");
  ASSERT_TRUE(offsets.isOk());
  ASSERT_EQ(offsets->size(), 4u);
  for (const auto& [low, high] : *offsets) EXPECT_EQ(high - low, 250);
  // The messages are the lines `generate --output FILE` writes.
  const std::string file = path("events.jsonl");
  ASSERT_EQ(reka("nexmark generate --events 1000 --output '" + file + "'").exitCode, 0);
  std::vector<std::string> lines = readLines(file);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(readTopic(mock_->bootstrapServers(), "events"), lines);
}

TEST_F(KafkaCliTest, QueryOverKafkaMatchesTheFileRun) {
  const std::string file = generateBoth(20000, "events", 4);
  for (const char* q : {"q2", "q5"}) {
    const std::string fromFile = path(std::string(q) + "-file.jsonl"), fromKafka = path(std::string(q) + "-kafka.jsonl");
    CommandResult a = reka(std::string("nexmark run --query ") + q + " --input '" + file + "' --output '" + fromFile +
                     "' --parallelism 1 --no-progress");
    ASSERT_EQ(a.exitCode, 0) << a.err;
    CommandResult b = reka(std::string("nexmark run --query ") + q + " --input '" + uri("events") + "' --output '" + fromKafka +
                     "' --parallelism 2 --no-progress");
    ASSERT_EQ(b.exitCode, 0) << b.err;
    auto expected = readLines(fromFile), actual = readLines(fromKafka);
    std::sort(expected.begin(), expected.end());
    std::sort(actual.begin(), actual.end());
    ASSERT_FALSE(expected.empty()) << q;
    EXPECT_EQ(actual, expected) << q << " over Kafka differs from the file run";
    EXPECT_THAT(b.out, HasSubstr("20000 events")) << b.out;
  }
}

TEST_F(KafkaCliTest, KafkaToKafkaWithCheckpointsWritesEveryRow) {
  const std::string file = generateBoth(20000, "events", 4);
  ASSERT_TRUE(mock_->createTopic("q5-out", 2).isOk());
  const std::string reference = path("q5.jsonl");
  ASSERT_EQ(reka("nexmark run --query q5 --input '" + file + "' --output '" + reference + "' --parallelism 1 --no-progress").exitCode, 0);
  CommandResult r = reka("nexmark run --query q5 --input '" + uri("events") + "' --output '" + uri("q5-out") + "' --parallelism 2 --state-dir '" +
                   path("state") + "' --checkpoint-interval 100ms --no-progress");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto expected = readLines(reference);
  std::sort(expected.begin(), expected.end());
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(readTopic(mock_->bootstrapServers(), "q5-out"), expected);
  // Exactly-once output: the transactions were logged under the state directory, and committed.
  EXPECT_TRUE(std::filesystem::exists(path("state") + "/kafka-transactions"));
}

TEST_F(KafkaCliTest, BadMessagesGoToDeadLettersWithTheirPosition) {
  ASSERT_TRUE(mock_->createTopic("events", 1).isOk());
  ASSERT_EQ(reka("nexmark generate --events 100 --output '" + uri("events") + "'").exitCode, 0);
  {
    connector::kafka::KafkaSinkOptions o;
    o.bootstrapServers = mock_->bootstrapServers();
    o.topic = "events";
    auto w = connector::kafka::SinkWriter::open(o, 0, false);
    ASSERT_TRUE(w.isOk());
    connector::kafka::ProducerRecord rec;
    rec.value = "this is not an event";
    ASSERT_TRUE((*w)->write(rec).isOk());
    ASSERT_TRUE((*w)->finish().isOk());
  }
  const std::string dead = path("dead.jsonl"), report = path("report.json");
  CommandResult r = reka("nexmark run --query q0 --input '" + uri("events") + "' --dead-letter '" + dead + "' --report '" + report +
                   "' --parallelism 1 --no-progress");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto lines = readLines(dead);
  ASSERT_EQ(lines.size(), 1u);
  nlohmann::json j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["topic"], "events");
  EXPECT_EQ(j["partition"], 0);
  EXPECT_EQ(j["offset"], 100);
  EXPECT_EQ(j["text"], "this is not an event");
  EXPECT_FALSE(j["reason"].get<std::string>().empty());
  nlohmann::json rep = nlohmann::json::parse(readFile(report));
  EXPECT_EQ(rep["bad_records"], 1);
  EXPECT_EQ(rep["events"], 100);
  // q0's rows are the bids among the 100 events (the same events written to a file).
  const std::string file = path("events.jsonl");
  ASSERT_EQ(reka("nexmark generate --events 100 --output '" + file + "'").exitCode, 0);
  int64_t bids = 0;
  for (const auto& line : readLines(file)) bids += nlohmann::json::parse(line)["event_type"] == 2 ? 1 : 0;
  EXPECT_EQ(rep["output_rows"], bids);

  CommandResult failed = reka("nexmark run --query q0 --input '" + uri("events") + "' --on-bad-input fail --parallelism 1 --no-progress");
  EXPECT_NE(failed.exitCode, 0);
  EXPECT_THAT(failed.err, HasSubstr("topic events partition 0 offset 100"));
}

TEST_F(KafkaCliTest, DeadLettersCanGoToAKafkaTopic) {
  ASSERT_TRUE(mock_->createTopic("dead", 1).isOk());
  // A file with two bad lines among 50 events.
  const std::string file = path("events.jsonl");
  ASSERT_EQ(reka("nexmark generate --events 50 --output '" + file + "'").exitCode, 0);
  std::vector<std::string> lines = readLines(file);
  lines.insert(lines.begin() + 10, "not json");
  lines.insert(lines.begin() + 30, "{\"event_type\": 9}");
  {
    std::ofstream f(file, std::ios::trunc);
    for (const auto& l : lines) f << l << "\n";
  }
  CommandResult r = reka("nexmark run --query q0 --input '" + file + "' --dead-letter '" + uri("dead") + "' --parallelism 1 --no-progress");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto dead = readTopic(mock_->bootstrapServers(), "dead");
  ASSERT_EQ(dead.size(), 2u);
  std::vector<int64_t> numbers;
  for (const auto& d : dead) {
    nlohmann::json j = nlohmann::json::parse(d);
    numbers.push_back(j["line"].get<int64_t>());
    EXPECT_EQ(j["source"], file);
    EXPECT_FALSE(j["reason"].get<std::string>().empty());
  }
  std::sort(numbers.begin(), numbers.end());
  EXPECT_EQ(numbers, (std::vector<int64_t>{11, 31}));
}

TEST_F(KafkaCliTest, BadKafkaFlagsSayWhatIsExpected) {
  CommandResult a = reka("nexmark run --query q0 --events 10 --unbounded --no-progress");
  EXPECT_EQ(a.exitCode, 2);
  EXPECT_THAT(a.err, HasSubstr("--unbounded needs a Kafka --input"));
  CommandResult b = reka("nexmark run --query q0 --input kafka://nohost/events --no-progress");
  EXPECT_EQ(b.exitCode, 2);
  EXPECT_THAT(b.err, HasSubstr("has no port"));
  CommandResult c = reka("nexmark run --query q0 --input '" + uri("absent") + "' --no-progress");
  EXPECT_NE(c.exitCode, 0);
  EXPECT_THAT(c.err, HasSubstr("'absent' does not exist"));
}

}  // namespace
}  // namespace reka::nexmark::it
