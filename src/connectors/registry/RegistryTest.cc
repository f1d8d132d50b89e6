// Tables through the connector registry: files and Kafka (librdkafka's mock cluster on
// 127.0.0.1) read and written through the formats, bad records, changelogs, and the messages a
// wrong option gets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "connectors/kafka/MockCluster.h"
#include "reka/connector/Kafka.h"
#include "reka/connector/Registry.h"
#include "reka/connector/SplitSource.h"
#include "testing/JobTesting.h"

namespace reka::connector {
namespace {

using ::testing::HasSubstr;

namespace fs = std::filesystem;

/// Rows as text ("+I[1, a]"), from any number of subtasks.
struct RowTexts {
  std::mutex mutex;
  std::vector<std::string> rows;
  std::vector<std::string> sorted() {
    std::lock_guard<std::mutex> lock(mutex);
    auto v = rows;
    std::sort(v.begin(), v.end());
    return v;
  }
};

void collectRows(const DataStream<Row>& s, std::shared_ptr<RowTexts> out) {
  s.sink("collect", [out](const RowBatch& b) {
    std::lock_guard<std::mutex> lock(out->mutex);
    for (size_t i = 0; i < b.size(); ++i) {
      std::string t;
      b.appendText(i, t);
      out->rows.push_back(std::move(t));
    }
  });
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

using testing::linesUnder;

class TableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("reka-table-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  Schema schema(const std::string& text) {
    auto s = Schema::parse(text);
    EXPECT_TRUE(s.isOk()) << s.status().toString();
    return s.isOk() ? *s : Schema();
  }
  fs::path dir_;
};

const char* kOrders = "id BIGINT, name STRING, price DECIMAL(10, 2), ts TIMESTAMP(3)";

TEST_F(TableTest, CsvFileToJsonFilesWithADeadLetter) {
  write("orders.csv",
        "1,alice,2.5,2026-12-06 08:00:00\n"
        "2,\"bob, jr\",10.00,2026-12-06 08:00:01.5\n"
        "3,carol,cheap,2026-12-06 08:00:02\n"
        "4,,7,2026-12-06 08:00:03\n");
  StreamEnvironment env;
  Options in{{"connector", "filesystem"}, {"path", (dir_ / "orders.csv").string()}, {"format", "csv"},
             {"source.dead-letter", (dir_ / "bad.jsonl").string()}};
  auto rows = readTable(env, "orders", schema(kOrders), in);
  ASSERT_TRUE(rows.isOk()) << rows.status().toString();
  Options out{{"connector", "filesystem"}, {"path", (dir_ / "out").string()}, {"format", "json"}};
  ASSERT_TRUE(writeTable(*rows, "out", schema(kOrders), out).isOk());
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  ASSERT_TRUE(testing::awaitJob(**client).isOk());

  const std::vector<std::string> expected = {
      R"({"id":1,"name":"alice","price":2.50,"ts":"2026-12-06 08:00:00.000"})",
      R"({"id":2,"name":"bob, jr","price":10.00,"ts":"2026-12-06 08:00:01.500"})",
      R"({"id":4,"name":"","price":7.00,"ts":"2026-12-06 08:00:03.000"})",
  };
  EXPECT_EQ(linesUnder(dir_ / "out"), expected);
  // Metrics: the source read the whole file, one record was a dead letter, the sink wrote the
  // three lines (each with its newline).
  int64_t bytesIn = 0, bytesOut = 0, deadLetters = 0;
  for (const OperatorStats& op : (*client)->metrics().operators) {
    bytesIn += op.bytesIn;
    bytesOut += op.bytesOut;
    deadLetters += op.deadLetters;
  }
  EXPECT_EQ(bytesIn, static_cast<int64_t>(fs::file_size(dir_ / "orders.csv")));
  EXPECT_EQ(deadLetters, 1);
  int64_t written = 0;
  for (const auto& l : expected) written += static_cast<int64_t>(l.size() + 1);
  EXPECT_EQ(bytesOut, written);
  const std::string bad = readFile(dir_ / "bad.jsonl");
  EXPECT_NE(bad.find("\"line\":3"), std::string::npos) << bad;
  EXPECT_NE(bad.find("price"), std::string::npos) << bad;
  EXPECT_NE(bad.find("3,carol,cheap"), std::string::npos) << bad;
  EXPECT_EQ(std::count(bad.begin(), bad.end(), '\n'), 1) << bad;
}

TEST_F(TableTest, FailPolicyStopsTheJobAtTheBadLine) {
  write("orders.csv", "1,alice,2.5,2026-12-06 08:00:00\n2,bob,x,2026-12-06 08:00:00\n");
  StreamEnvironment env;
  Options in{{"connector", "filesystem"}, {"path", (dir_ / "orders.csv").string()}, {"format", "csv"},
             {"source.bad-records", "fail"}};
  auto rows = readTable(env, "orders", schema(kOrders), in);
  ASSERT_TRUE(rows.isOk()) << rows.status().toString();
  auto texts = std::make_shared<RowTexts>();
  collectRows(*rows, texts);
  Status s = testing::runJob(env);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("line 2"), std::string::npos) << s.toString();
  EXPECT_NE(s.message().find("price"), std::string::npos) << s.toString();
}

TEST_F(TableTest, WrongOptionsSayWhatIsAccepted) {
  StreamEnvironment env;
  const Schema s = schema(kOrders);
  auto expectError = [&](Options o, const std::vector<std::string>& parts) {
    auto r = readTable(env, "t", s, o);
    ASSERT_FALSE(r.isOk());
    for (const auto& p : parts) EXPECT_NE(r.status().message().find(p), std::string::npos) << p << " not in: " << r.status().message();
  };
  expectError({{"connector", "kafak"}}, {"unknown connector 'kafak'", "kafka", "filesystem"});
  expectError({{"path", "x"}}, {"'connector' is required"});
  expectError({{"connector", "filesystem"}, {"pathh", "x"}, {"format", "csv"}}, {"'pathh'", "accepted", "path"});
  expectError({{"connector", "filesystem"}, {"format", "csv"}}, {"'path' is required"});
  expectError({{"connector", "filesystem"}, {"path", "x"}, {"format", "avro"}}, {"unknown format 'avro'", "debezium-json"});
  expectError({{"connector", "filesystem"}, {"path", "x"}, {"format", "csv"}, {"csv.field-delimiter", "ab"}},
              {"csv.field-delimiter", "single character"});
  expectError({{"connector", "filesystem"}, {"path", "x"}, {"format", "csv"}, {"json.fail-on-missing-field", "true"}},
              {"json.fail-on-missing-field"});
  expectError({{"connector", "print"}}, {"cannot be read"});
  expectError({{"connector", "kafka"}, {"topic", "t"}, {"format", "json"}}, {"properties.bootstrap.servers"});
  expectError({{"connector", "kafka"}, {"topic", "t"}, {"format", "csv"}, {"properties.bootstrap.servers", "127.0.0.1:1"},
               {"csv.field-delimiter", "ab"}},
              {"csv.field-delimiter", "single character"});
  expectError({{"connector", "kafka"}, {"topic", "t"}, {"format", "json"}, {"properties.bootstrap.servers", "127.0.0.1:1"},
               {"scan.startup.mode", "earliest"}},
              {"scan.startup.mode", "earliest-offset"});

  auto w = RowWatermarks::forColumn(s, "name", 0);
  ASSERT_FALSE(w.isOk());
  EXPECT_NE(w.status().message().find("TIMESTAMP"), std::string::npos);
  EXPECT_FALSE(RowWatermarks::forColumn(s, "nope", 0).isOk());
}

TEST_F(TableTest, PrintWritesFlinkStyleLines) {
  write("in.json", "{\"id\":1,\"name\":\"a\"}\n{\"id\":2}\n");
  ExecutionConfig config;
  config.parallelism = 1;
  StreamEnvironment env(config);
  auto rows = readTable(env, "in", schema("id BIGINT, name STRING"),
                        {{"connector", "filesystem"}, {"path", (dir_ / "in.json").string()}, {"format", "json"}});
  ASSERT_TRUE(rows.isOk()) << rows.status().toString();
  ASSERT_TRUE(writeTable(*rows, "print", schema("id BIGINT, name STRING"), {{"connector", "print"}, {"print-identifier", "out"}}).isOk());
  ::testing::internal::CaptureStdout();
  Status s = testing::runJob(env);
  const std::string printed = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(s.isOk()) << s.toString();
  EXPECT_EQ(printed, "out> +I[1, a]\nout> +I[2, null]\n");
}

TEST_F(TableTest, InsertOnlyFormatRefusesAChangelog) {
  write("changes.json",
        R"({"before":null,"after":{"id":1,"name":"a"},"op":"c"})"
        "\n"
        R"({"before":{"id":1,"name":"a"},"after":{"id":1,"name":"b"},"op":"u"})"
        "\n");
  StreamEnvironment env;
  const Schema s = schema("id BIGINT, name STRING");
  auto rows = readTable(env, "in", s, {{"connector", "filesystem"}, {"path", (dir_ / "changes.json").string()}, {"format", "debezium-json"}});
  ASSERT_TRUE(rows.isOk()) << rows.status().toString();
  ASSERT_TRUE(writeTable(*rows, "out", s, {{"connector", "filesystem"}, {"path", (dir_ / "out").string()}, {"format", "json"}}).isOk());
  Status st = testing::runJob(env);
  ASSERT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("writes inserts only"), std::string::npos) << st.toString();
  EXPECT_NE(st.message().find("-U"), std::string::npos) << st.toString();
}

// ---- Kafka ------------------------------------------------------------------------------------

/// A message as "key|value" ("<null>" for a null part).
struct DecodeText {
  Status operator()(const kafka::KafkaMessage& m, std::vector<std::string>& out, StringArena&) const {
    out.push_back((m.key ? std::string(*m.key) : "<null>") + "|" + (m.value ? std::string(*m.value) : "<null>"));
    return Status::ok();
  }
};

class KafkaTableTest : public TableTest {
 protected:
  void SetUp() override {
    TableTest::SetUp();
    auto m = kafka::MockCluster::start(1);
    ASSERT_TRUE(m.isOk()) << m.status().toString();
    mock_ = std::move(*m);
  }
  void produce(const std::string& topic, int partitions, const std::vector<std::optional<std::string>>& values) {
    ASSERT_TRUE(mock_->createTopic(topic, partitions).isOk());
    kafka::KafkaSinkOptions o;
    o.bootstrapServers = mock_->bootstrapServers();
    o.topic = topic;
    auto w = kafka::SinkWriter::open(o, 0, false);
    ASSERT_TRUE(w.isOk()) << w.status().toString();
    for (size_t i = 0; i < values.size(); ++i) {
      kafka::ProducerRecord r;
      r.hasValue = values[i].has_value();
      r.value = values[i].value_or("");
      r.partition = static_cast<int32_t>(i % static_cast<size_t>(partitions));
      ASSERT_TRUE((*w)->write(r).isOk());
    }
    ASSERT_TRUE((*w)->finish().isOk());
    (*w)->close();
  }
  /// Every message of `topic` as "key|value", in partition and offset order per partition.
  std::vector<std::string> consume(const std::string& topic) {
    kafka::KafkaSourceOptions o;
    o.bootstrapServers = mock_->bootstrapServers();
    o.topics = {topic};
    o.bounded = true;
    StreamEnvironment env;
    auto out = std::make_shared<testing::Collector<std::string>>();
    fromSource(env, "read", kafka::kafkaSource<std::string>(o, DecodeText{}), 1).sink("collect", testing::collectInto(out));
    Status s = testing::runJob(env);
    EXPECT_TRUE(s.isOk()) << s.toString();
    auto v = out->values();
    std::sort(v.begin(), v.end());
    return v;
  }
  Options kafkaOptions(const std::string& topic) {
    return Options{{"connector", "kafka"},
                   {"topic", topic},
                   {"properties.bootstrap.servers", mock_->bootstrapServers()},
                   {"properties.fetch.wait.max.ms", "10"},
                   {"scan.bounded.mode", "latest-offset"}};
  }
  std::unique_ptr<kafka::MockCluster> mock_;
};

TEST_F(KafkaTableTest, JsonTopicToCsvTopicWithKeyFields) {
  produce("orders", 3,
          {R"({"id":1,"name":"alice","price":2.5})", R"({"id":2,"name":"bob","price":"10"})", "not json",
           R"({"id":3,"name":"carol","price":0.125})"});
  const Schema s = schema("id BIGINT, name STRING, price DECIMAL(10, 2)");
  StreamEnvironment env;
  Options in = kafkaOptions("orders");
  in.set("format", "json");
  in.set("source.dead-letter", (dir_ / "bad.jsonl").string());
  auto rows = readTable(env, "orders", s, in, std::nullopt, 2);
  ASSERT_TRUE(rows.isOk()) << rows.status().toString();
  ASSERT_TRUE(mock_->createTopic("out", 1).isOk());
  Options out{{"connector", "kafka"},         {"topic", "out"},   {"properties.bootstrap.servers", mock_->bootstrapServers()},
              {"format", "csv"},              {"key.format", "raw"}, {"key.fields", "name"},
              {"value.fields-include", "EXCEPT_KEY"}};
  ASSERT_TRUE(writeTable(*rows, "out", s, out).isOk());
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  Status st = testing::awaitJob(**client);
  ASSERT_TRUE(st.isOk()) << st.toString();
  // 0.125 rounds half up to 0.13.
  EXPECT_EQ(consume("out"), (std::vector<std::string>{"alice|1,2.50", "bob|2,10.00", "carol|3,0.13"}));
  // Metrics: the sink's bytes out are the keys and values written; one message a dead letter.
  int64_t bytesOut = 0, deadLetters = 0;
  for (const OperatorStats& op : (*client)->metrics().operators) {
    bytesOut += op.bytesOut;
    deadLetters += op.deadLetters;
  }
  EXPECT_EQ(bytesOut, static_cast<int64_t>(std::string("alice1,2.50bob2,10.00carol3,0.13").size()));
  EXPECT_EQ(deadLetters, 1);
  const std::string bad = readFile(dir_ / "bad.jsonl");
  EXPECT_NE(bad.find("\"topic\":\"orders\""), std::string::npos) << bad;
  EXPECT_NE(bad.find("\"partition\":2,\"offset\":0"), std::string::npos) << bad;
  EXPECT_NE(bad.find("malformed JSON"), std::string::npos) << bad;
}

TEST_F(KafkaTableTest, MetadataColumnsHoldTopicPartitionAndOffset) {
  produce("events", 2, {R"({"id":1})", R"({"id":2})", R"({"id":3})"});  // partitions 0, 1, 0
  const Schema s = schema("id BIGINT, p INT, o BIGINT, t STRING, ts TIMESTAMP_LTZ(3)");
  StreamEnvironment env;
  Options in = kafkaOptions("events");
  in.set("format", "json");
  in.set("metadata.p", "partition");
  in.set("metadata.o", "offset");
  in.set("metadata.t", "topic");
  in.set("metadata.ts", "timestamp");
  auto rows = readTable(env, "events", s, in);
  ASSERT_TRUE(rows.isOk()) << rows.status().toString();
  auto texts = std::make_shared<RowTexts>();
  collectRows(*rows, texts);
  ASSERT_TRUE(testing::runJob(env).isOk());
  std::vector<std::string> got = texts->sorted();
  ASSERT_EQ(got.size(), 3u);
  // The timestamp is the producer's (now): only its presence is checked.
  for (auto& r : got) {
    EXPECT_EQ(r.find("null"), std::string::npos) << r;
    r = r.substr(0, r.rfind(','));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"+I[1, 0, 0, events", "+I[2, 1, 0, events", "+I[3, 0, 1, events"}));
  // A key the connector does not have, and a type that is not the key's.
  StreamEnvironment env2;
  Options bad = kafkaOptions("events");
  bad.set("format", "json");
  bad.set("metadata.p", "leader");
  EXPECT_THAT(readTable(env2, "events", s, bad).status().message(),
              HasSubstr("connector 'kafka' has no metadata 'leader'; it has: topic STRING, partition INT, offset BIGINT, timestamp TIMESTAMP_LTZ(3)"));
  bad.set("metadata.p", "offset");
  EXPECT_THAT(readTable(env2, "events", s, bad).status().message(), HasSubstr("metadata column 'p' is INT, but 'offset' is BIGINT"));
  Options file{{"connector", "filesystem"}, {"path", "/nonexistent"}, {"format", "json"}, {"metadata.p", "partition"}};
  EXPECT_THAT(readTable(env2, "f", s, file).status().message(), HasSubstr("connector 'filesystem' has no metadata 'partition'; it has none"));
}

TEST_F(KafkaTableTest, DebeziumChangelogInUpsertKafkaOut) {
  produce("cdc", 1,
          {R"({"before":null,"after":{"id":1,"name":"a"},"op":"c"})", R"({"before":null,"after":{"id":2,"name":"x"},"op":"r"})",
           R"({"op":"u","before":{"id":1,"name":"a"},"after":{"id":1,"name":"b"}})",
           R"({"before":{"id":2,"name":"x"},"after":null,"op":"d"})", std::nullopt});
  const Schema s = schema("id BIGINT, name STRING");
  {
    StreamEnvironment env;
    Options in = kafkaOptions("cdc");
    in.set("format", "debezium-json");
    auto rows = readTable(env, "cdc", s, in);
    ASSERT_TRUE(rows.isOk()) << rows.status().toString();
    auto texts = std::make_shared<RowTexts>();
    collectRows(*rows, texts);
    ASSERT_TRUE(testing::runJob(env).isOk());
    std::lock_guard<std::mutex> lock(texts->mutex);
    EXPECT_EQ(texts->rows, (std::vector<std::string>{"+I[1, a]", "+I[2, x]", "-U[1, a]", "+U[1, b]", "-D[2, x]"}));
  }
  StreamEnvironment env;
  Options in = kafkaOptions("cdc");
  in.set("format", "debezium-json");
  auto rows = readTable(env, "cdc", s, in);
  ASSERT_TRUE(rows.isOk());
  ASSERT_TRUE(mock_->createTopic("table", 1).isOk());
  Options out{{"connector", "upsert-kafka"}, {"topic", "table"}, {"properties.bootstrap.servers", mock_->bootstrapServers()},
              {"key.format", "json"},        {"key.fields", "id"}, {"value.format", "json"}};
  Status w = writeTable(*rows, "table", s, out);
  ASSERT_TRUE(w.isOk()) << w.toString();
  ASSERT_TRUE(testing::runJob(env).isOk());
  // -U is skipped (the +U replaces the row), -D is a tombstone.
  EXPECT_EQ(consume("table"), (std::vector<std::string>{R"({"id":1}|{"id":1,"name":"a"})", R"({"id":1}|{"id":1,"name":"b"})",
                                                        R"({"id":2}|<null>)", R"({"id":2}|{"id":2,"name":"x"})"}));

  // Read back as an upsert table: values are updates of their key, a tombstone deletes it.
  StreamEnvironment env2;
  Options back = kafkaOptions("table");
  back.set("connector", "upsert-kafka");
  back.set("key.format", "json");
  back.set("key.fields", "id");
  back.set("value.format", "json");
  auto table = readTable(env2, "table", s, back);
  ASSERT_TRUE(table.isOk()) << table.status().toString();
  auto texts = std::make_shared<RowTexts>();
  collectRows(*table, texts);
  ASSERT_TRUE(testing::runJob(env2).isOk());
  EXPECT_EQ(texts->sorted(), (std::vector<std::string>{"+U[1, a]", "+U[1, b]", "+U[2, x]", "-D[2, null]"}));
}

}  // namespace
}  // namespace reka::connector
