// The Kafka connector against librdkafka's mock cluster on 127.0.0.1: source and sink, splits
// across subtasks, startup modes, bad messages, broker errors, a vanished topic, checkpoints
// and restores (also at another parallelism), transactions and their recovery.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "connectors/kafka/MockCluster.h"
#include "reka/connector/Kafka.h"
#include "reka/connector/SplitSource.h"
#include "reka/state/Serde.h"
#include "testing/JobTesting.h"

namespace reka::connector::kafka {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Msg {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestampMs = 0;
  std::string key;
  std::string value;
  std::string headers;  // "name=value;" for each header
  bool operator<(const Msg& o) const { return std::tie(topic, partition, offset) < std::tie(o.topic, o.partition, o.offset); }
};

/// Decodes every message into a Msg; a value starting with "poison" is refused.
struct DecodeMsg {
  Status operator()(const KafkaMessage& m, std::vector<Msg>& out, StringArena&) const {
    if (m.value && m.value->rfind("poison", 0) == 0) return Status::invalidArgument("poisoned value");
    Msg r;
    r.topic = std::string(m.topic);
    r.partition = m.partition;
    r.offset = m.offset;
    r.timestampMs = m.timestampMs;
    if (m.key) r.key = std::string(*m.key);
    r.value = m.value ? std::string(*m.value) : "<null>";
    for (const auto& [k, v] : m.headers()) r.headers += std::string(k) + "=" + std::string(v.value_or("")) + ";";
    out.push_back(std::move(r));
    return Status::ok();
  }
};

struct DeadLetters final : DeadLetterHandler {
  Status deadLetter(const KafkaMessage& m, const std::string& reason) override {
    std::lock_guard<std::mutex> lock(mutex);
    seen.push_back(std::string(m.topic) + "/" + std::to_string(m.partition) + "/" + std::to_string(m.offset) + ": " + reason);
    return Status::ok();
  }
  std::mutex mutex;
  std::vector<std::string> seen;
};

class KafkaConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = MockCluster::start(1);
    ASSERT_TRUE(m.isOk()) << m.status().toString();
    mock_ = std::move(*m);
    dir_ = fs::temp_directory_path() / ("reka-kafka-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// Writes `values` to `topic`, message i to partition i mod partitions with key "k<i>".
  void produce(const std::string& topic, const std::vector<std::string>& values, int partitions, int firstKey = 0) {
    KafkaSinkOptions o;
    o.bootstrapServers = mock_->bootstrapServers();
    o.topic = topic;
    auto w = SinkWriter::open(o, 0, false);
    ASSERT_TRUE(w.isOk()) << w.status().toString();
    for (size_t i = 0; i < values.size(); ++i) {
      ProducerRecord r;
      r.key = "k" + std::to_string(firstKey + static_cast<int>(i));
      r.hasKey = true;
      r.value = values[i];
      r.partition = static_cast<int32_t>(i % static_cast<size_t>(partitions));
      r.headers = {{"h", "v" + std::to_string(i)}};
      ASSERT_TRUE((*w)->write(r).isOk());
    }
    ASSERT_TRUE((*w)->finish().isOk());
    (*w)->close();
  }

  /// Exactly-once output to `topic`, transactional ids job-<subtask>-<k>, markers under txn/.
  KafkaSinkOptions exactlyOnceOptions(const std::string& topic) {
    KafkaSinkOptions o;
    o.bootstrapServers = mock_->bootstrapServers();
    o.topic = topic;
    o.delivery = SinkDelivery::kExactlyOnce;
    o.transactionLogDir = (dir_ / "txn").string();
    o.transactionalIdPrefix = "job";
    return o;
  }

  KafkaSourceOptions sourceOptions(const std::string& topic) {
    KafkaSourceOptions o;
    o.bootstrapServers = mock_->bootstrapServers();
    o.topics = {topic};
    o.bounded = true;
    o.properties["fetch.wait.max.ms"] = "10";
    return o;
  }

  /// Runs a job that reads `o` at `parallelism` into a collector; returns its status.
  Status read(const KafkaSourceOptions& o, int parallelism, std::vector<Msg>& out,
              std::shared_ptr<DeadLetters> deadLetters = nullptr, BadRecordPolicy policy = BadRecordPolicy::kDeadLetter,
              ExecutionConfig config = {}) {
    config.parallelism = parallelism;
    StreamEnvironment env(config);
    auto collected = std::make_shared<testing::Collector<Msg>>();
    fromSource(env, "kafka", kafkaSource<Msg>(o, DecodeMsg{}, policy, deadLetters), parallelism)
        .sink("collect", testing::collectInto(collected));
    Status s = testing::runJob(env);
    out = collected->values();
    std::sort(out.begin(), out.end());
    return s;
  }

  std::vector<std::string> numbered(int n, const std::string& prefix = "v") {
    std::vector<std::string> v;
    for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
    return v;
  }

  std::unique_ptr<MockCluster> mock_;
  fs::path dir_;
};

TEST_F(KafkaConnectorTest, BoundedReadGetsEveryMessageOnceWithItsMetadata) {
  ASSERT_TRUE(mock_->createTopic("t", 4).isOk());
  produce("t", numbered(1000), 4);
  std::vector<Msg> got;
  ASSERT_TRUE(read(sourceOptions("t"), 1, got).isOk());
  ASSERT_EQ(got.size(), 1000u);
  // Message i went to partition i mod 4 at offset i div 4, with key k<i> and header h=v<i>.
  for (const Msg& m : got) {
    const int64_t i = m.offset * 4 + m.partition;
    EXPECT_EQ(m.topic, "t");
    EXPECT_EQ(m.value, "v" + std::to_string(i));
    EXPECT_EQ(m.key, "k" + std::to_string(i));
    EXPECT_EQ(m.headers, "h=v" + std::to_string(i) + ";");
    EXPECT_GT(m.timestampMs, 0);
  }
}

TEST_F(KafkaConnectorTest, PartitionsAreSpreadOverSubtasksAndReadOnce) {
  ASSERT_TRUE(mock_->createTopic("t", 5).isOk());
  produce("t", numbered(500), 5);
  for (int p : {2, 3, 7}) {
    std::vector<Msg> got;
    ASSERT_TRUE(read(sourceOptions("t"), p, got).isOk()) << p;
    ASSERT_EQ(got.size(), 500u) << p;
    for (size_t i = 1; i < got.size(); ++i) EXPECT_TRUE(got[i - 1] < got[i]) << "duplicate at parallelism " << p;
  }
  // Flink's assignment: consecutive partitions of a topic go to consecutive subtasks.
  auto e = makeEnumerator(sourceOptions("t"));
  std::set<int> owners;
  for (int part = 0; part < 5; ++part) owners.insert(e->owner(SplitState{"t-" + std::to_string(part), "", 0, false}, 5));
  EXPECT_EQ(owners.size(), 5u);
}

TEST_F(KafkaConnectorTest, TopicPatternFindsMatchingTopics) {
  ASSERT_TRUE(mock_->createTopic("orders-eu", 2).isOk());
  ASSERT_TRUE(mock_->createTopic("orders-us", 2).isOk());
  ASSERT_TRUE(mock_->createTopic("payments", 2).isOk());
  produce("orders-eu", numbered(10), 2);
  produce("orders-us", numbered(20), 2);
  produce("payments", numbered(30), 2);
  KafkaSourceOptions o = sourceOptions("x");
  o.topics.clear();
  o.topicPattern = "orders-.*";
  std::vector<Msg> got;
  ASSERT_TRUE(read(o, 2, got).isOk());
  EXPECT_EQ(got.size(), 30u);
  for (const Msg& m : got) EXPECT_NE(m.topic, "payments");
}

TEST_F(KafkaConnectorTest, StartupModes) {
  ASSERT_TRUE(mock_->createTopic("t", 2).isOk());
  produce("t", numbered(100), 2);
  KafkaSourceOptions o = sourceOptions("t");
  std::vector<Msg> got;

  o.startup = StartupMode::kLatest;  // bounded and latest: nothing is new
  ASSERT_TRUE(read(o, 1, got).isOk());
  EXPECT_TRUE(got.empty());

  o.startup = StartupMode::kSpecificOffsets;
  o.specificOffsets[{"t", 0}] = 40;  // partition 0 from offset 40 of 50; partition 1 from the start
  ASSERT_TRUE(read(o, 1, got).isOk());
  EXPECT_EQ(got.size(), 10u + 50u);

  o.startup = StartupMode::kTimestamp;
  o.startupTimestampMs = INT64_C(4102444800000);  // 2100-01-01: after every message
  ASSERT_TRUE(read(o, 1, got).isOk());
  EXPECT_TRUE(got.empty());
  // (The mock answers every other timestamp lookup with "no such offset" as well: that the
  // first offset at or after a timestamp is found is left to a real broker.)
}

TEST_F(KafkaConnectorTest, PoisonMessageGoesToDeadLettersWithItsPosition) {
  ASSERT_TRUE(mock_->createTopic("t", 1).isOk());
  std::vector<std::string> values = numbered(10);
  values[3] = "poison!";
  produce("t", values, 1);
  auto dl = std::make_shared<DeadLetters>();
  std::vector<Msg> got;
  ASSERT_TRUE(read(sourceOptions("t"), 1, got, dl).isOk());
  EXPECT_EQ(got.size(), 9u);
  ASSERT_EQ(dl->seen.size(), 1u);
  EXPECT_EQ(dl->seen[0], "t/0/3: poisoned value");

  Status failed = read(sourceOptions("t"), 1, got, nullptr, BadRecordPolicy::kFail);
  ASSERT_FALSE(failed.isOk());
  EXPECT_NE(failed.message().find("topic t partition 0 offset 3: poisoned value"), std::string::npos) << failed.toString();
}

TEST_F(KafkaConnectorTest, SourceMetricsCountBytesDeadLettersAndLag) {
  ASSERT_TRUE(mock_->createTopic("t", 2).isOk());
  std::vector<std::string> values = numbered(200);
  values[7] = "poison!";
  produce("t", values, 2);
  // Bytes read: every message's key and value ("k<i>" and the value), the refused one included.
  int64_t bytes = 0;
  for (size_t i = 0; i < values.size(); ++i) bytes += static_cast<int64_t>(("k" + std::to_string(i)).size() + values[i].size());

  ExecutionConfig config;
  StreamEnvironment env(config);
  auto collected = std::make_shared<testing::Collector<Msg>>();
  fromSource(env, "kafka", kafkaSource<Msg>(sourceOptions("t"), DecodeMsg{}, BadRecordPolicy::kDeadLetter,
                                            std::make_shared<DeadLetters>()), 1)
      .sink("collect", testing::collectInto(collected));
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk()) << client.status().toString();
  ASSERT_TRUE(testing::awaitJob(**client).isOk());
  EXPECT_EQ(collected->values().size(), 199u);
  const JobMetrics m = (*client)->metrics();
  const OperatorStats* source = nullptr;
  for (const auto& op : m.operators)
    if (op.name == "kafka") source = &op;
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->bytesIn, bytes);
  EXPECT_EQ(source->deadLetters, 1);
  EXPECT_EQ(source->recordsOut, 199);
  // A bounded read ends at the end offsets: nothing is left behind.
  EXPECT_EQ(source->lag, 0);
}

TEST_F(KafkaConnectorTest, ConsumerLagIsTheHighWatermarkMinusThePosition) {
  ASSERT_TRUE(mock_->createTopic("t", 1).isOk());
  produce("t", numbered(1000), 1);
  KafkaSourceOptions o = sourceOptions("t");
  o.bounded = false;
  auto consumer = PartitionConsumer::open(o, SourceReaderContext{"kafka", 0, 1, 10});
  ASSERT_TRUE(consumer.isOk()) << consumer.status().toString();
  EXPECT_EQ((*consumer)->lag(), -1);  // nothing fetched yet: unknown
  ASSERT_TRUE((*consumer)->addSplits({SplitState{"t-0", "", INT64_MIN, false}}).isOk());
  std::vector<KafkaMessage> messages;
  std::vector<size_t> splits;
  std::vector<PartitionConsumer::Progress> progress;
  int64_t read = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (read < 10 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE((*consumer)->poll(messages, splits, progress, 10, 100).isOk());
    read += static_cast<int64_t>(messages.size());
  }
  ASSERT_GE(read, 10);
  ASSERT_LT(read, 1000);
  // The messages taken so far are offsets 0 … read-1; the partition's end is 1000.
  EXPECT_EQ((*consumer)->lag(), 1000 - read);
  while (read < 1000 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE((*consumer)->poll(messages, splits, progress, 500, 100).isOk());
    read += static_cast<int64_t>(messages.size());
  }
  ASSERT_EQ(read, 1000);
  EXPECT_EQ((*consumer)->lag(), 0);
  (*consumer)->close();
}

TEST_F(KafkaConnectorTest, TransientFetchErrorsAreRetried) {
  ASSERT_TRUE(mock_->createTopic("t", 2).isOk());
  produce("t", numbered(300), 2);
  mock_->failFetches(5, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  std::vector<Msg> got;
  ASSERT_TRUE(read(sourceOptions("t"), 1, got).isOk());
  EXPECT_EQ(got.size(), 300u);
}

TEST_F(KafkaConnectorTest, MissingTopicFailsWithItsName) {
  KafkaSourceOptions o = sourceOptions("absent");
  std::vector<Msg> got;
  Status s = read(o, 1, got);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("'absent' does not exist"), std::string::npos) << s.toString();
}

TEST_F(KafkaConnectorTest, TopicDeletedWhileRunningFailsTheJob) {
  ASSERT_TRUE(mock_->createTopic("t", 2).isOk());
  produce("t", numbered(50), 2);
  KafkaSourceOptions o = sourceOptions("t");
  o.bounded = false;
  o.discoveryIntervalMs = 100;
  ExecutionConfig config;
  config.parallelism = 1;
  StreamEnvironment env(config);
  auto collected = std::make_shared<testing::Collector<Msg>>();
  fromSource(env, "kafka", kafkaSource<Msg>(o, DecodeMsg{}), 1).sink("collect", testing::collectInto(collected));
  auto client = env.executeAsync();
  ASSERT_TRUE(client.isOk());
  for (int i = 0; i < 500 && collected->size() < 50; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(collected->size(), 50u);
  mock_->setTopicError("t", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  bool ended = (*client)->waitFor(30s);
  if (!ended) (*client)->cancel();
  Status s = (*client)->wait();
  ASSERT_TRUE(ended) << "the job kept running after its topic vanished";
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("topic 't' was deleted"), std::string::npos) << s.toString();
}

/// Unbounded reads with checkpoints: a savepoint, more messages, a restore (at the same and at
/// another parallelism) reads exactly the rest; the group's committed offsets follow.
TEST_F(KafkaConnectorTest, RestoreReadsTheRestOnceAtAnyParallelism) {
  ASSERT_TRUE(mock_->createTopic("t", 6).isOk());
  produce("t", numbered(600), 6);
  KafkaSourceOptions o = sourceOptions("t");
  o.bounded = false;
  o.groupId = "g1";
  std::vector<Msg> all;
  auto runUntil = [&](int parallelism, size_t expect) {
    ExecutionConfig config;
    config.parallelism = parallelism;
    config.checkpoints.stateDir = (dir_ / "state").string();
    config.checkpoints.interval = 50ms;
    StreamEnvironment env(config);
    auto collected = std::make_shared<testing::Collector<Msg>>();
    fromSource(env, "kafka", kafkaSource<Msg>(o, DecodeMsg{}), parallelism).sink("collect", testing::collectInto(collected));
    auto client = env.executeAsync();
    ASSERT_TRUE(client.isOk());
    for (int i = 0; i < 1000 && collected->size() < expect; ++i) std::this_thread::sleep_for(10ms);
    auto savepoint = (*client)->savepoint(true, 30s);
    ASSERT_TRUE(savepoint.isOk()) << savepoint.status().toString();
    (void)(*client)->wait();
    auto values = collected->values();
    EXPECT_EQ(values.size(), expect);
    all.insert(all.end(), values.begin(), values.end());
  };
  runUntil(2, 600);
  produce("t", numbered(300, "w"), 6, 600);
  runUntil(3, 300);  // restored at parallelism 3: the six partitions are spread anew
  produce("t", numbered(120, "x"), 6, 900);
  runUntil(1, 120);
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 1020u);
  for (size_t i = 1; i < all.size(); ++i) ASSERT_TRUE(all[i - 1] < all[i]) << "read twice: " << all[i].value;

  // The consumer group's committed offsets reached the end: a group-offsets start reads nothing.
  KafkaSourceOptions g = sourceOptions("t");
  g.groupId = "g1";
  g.startup = StartupMode::kGroupOffsets;
  std::vector<Msg> rest;
  ASSERT_TRUE(read(g, 1, rest).isOk());
  EXPECT_TRUE(rest.empty()) << rest.size() << " messages after the committed offsets";
}

TEST_F(KafkaConnectorTest, SinkWritesKeysHeadersPartitionsAndTombstones) {
  ASSERT_TRUE(mock_->createTopic("out", 3).isOk());
  KafkaSinkOptions o;
  o.bootstrapServers = mock_->bootstrapServers();
  o.topic = "out";
  auto w = SinkWriter::open(o, 0, true);
  ASSERT_TRUE(w.isOk());
  ProducerRecord r;
  r.key = "a";
  r.hasKey = true;
  r.value = "1";
  r.partition = 2;
  r.headers = {{"op", "+I"}};
  ASSERT_TRUE((*w)->write(r).isOk());
  r.clear();
  r.key = "a";
  r.hasKey = true;
  r.hasValue = false;  // an upsert delete
  r.partition = 2;
  ASSERT_TRUE((*w)->write(r).isOk());
  std::string prepared;
  ASSERT_TRUE((*w)->prepare(1, prepared).isOk());  // at-least-once: every message acknowledged
  auto offsets = partitionOffsets(mock_->bootstrapServers(), "out");
  ASSERT_TRUE(offsets.isOk());
  EXPECT_EQ((*offsets)[2].second, 2);
  (*w)->close();

  std::vector<Msg> got;
  ASSERT_TRUE(read(sourceOptions("out"), 1, got).isOk());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].value, "1");
  EXPECT_EQ(got[0].headers, "op=+I;");
  EXPECT_EQ(got[1].key, "a");
  EXPECT_EQ(got[1].value, "<null>");  // the tombstone's null value
}

/// Upsert output of a changelog: keys, rows, tombstones; update-before writes nothing.
TEST_F(KafkaConnectorTest, UpsertEncoderWritesKeysRowsAndTombstones) {
  ASSERT_TRUE(mock_->createTopic("upserts", 1).isOk());
  using Row = std::pair<std::string, int64_t>;  // (key, count)
  std::vector<Change<Row>> changes = {{RowKind::kInsert, {"a", 1}},      {RowKind::kInsert, {"b", 1}},
                                      {RowKind::kUpdateBefore, {"a", 1}}, {RowKind::kUpdateAfter, {"a", 2}},
                                      {RowKind::kDelete, {"b", 1}}};
  KafkaSinkOptions o;
  o.bootstrapServers = mock_->bootstrapServers();
  o.topic = "upserts";
  auto encoder = upsertEncoder<Row>([](const Row& r, std::string& out) { out += r.first; },
                                    [](const Row& r, std::string& out) { out += r.first + "=" + std::to_string(r.second); });
  ExecutionConfig config;
  config.parallelism = 1;
  StreamEnvironment env(config);
  env.fromCollection("changes", changes).sink("upsert-kafka", KafkaSink<Change<Row>, decltype(encoder)>(o, encoder));
  ASSERT_TRUE(testing::runJob(env).isOk());
  std::vector<Msg> got;
  ASSERT_TRUE(read(sourceOptions("upserts"), 1, got).isOk());
  std::vector<std::pair<std::string, std::string>> keyValue;
  for (const Msg& m : got) keyValue.emplace_back(m.key, m.value);
  // A tombstone has a null value; the update-before is not written.
  EXPECT_EQ(keyValue,
            (std::vector<std::pair<std::string, std::string>>{{"a", "a=1"}, {"b", "b=1"}, {"a", "a=2"}, {"b", "<null>"}}));
}

/// Exactly-once, at the protocol level: a transaction per checkpoint, committed when the
/// checkpoint completes; one whose checkpoint completed but whose commit a crash prevented is
/// sent again by the restore, once, with every message as it was (read back from the topic at
/// the offsets the checkpoint holds, past another producer's messages in the same partitions).
TEST_F(KafkaConnectorTest, TransactionsCommitOnCompletionAndRecoverAfterACrash) {
  ASSERT_TRUE(mock_->createTopic("out", 2).isOk());
  const KafkaSinkOptions o = exactlyOnceOptions("out");
  auto high = [&] {
    auto offsets = partitionOffsets(mock_->bootstrapServers(), "out");
    return offsets.isOk() ? (*offsets)[0].second + (*offsets)[1].second : int64_t{-1};
  };
  // Record i of a batch: partition i mod 2, key k<i> (none for i = 3), header h=<value>, a
  // timestamp of its own; value "<prefix><i>" (null for i = 4 of "b": a tombstone).
  auto record = [](int i, const std::string& prefix) {
    ProducerRecord r;
    r.partition = i % 2;
    r.hasKey = i != 3;
    if (r.hasKey) r.key = "k" + std::to_string(i);
    r.hasValue = !(prefix == "b" && i == 4);
    if (r.hasValue) r.value = prefix + std::to_string(i);
    r.timestampMs = 1'700'000'000'000 + i;
    r.headers.emplace_back("h", prefix + std::to_string(i));
    return r;
  };
  auto send = [&](SinkWriter& w, int n, const std::string& prefix) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(w.write(record(i, prefix)).isOk());
  };
  std::string blob1, blob2;
  {
    auto w = SinkWriter::open(o, 0, true);
    ASSERT_TRUE(w.isOk()) << w.status().toString();
    ASSERT_TRUE((*w)->recover("").isOk());
    send(**w, 10, "a");
    ASSERT_TRUE((*w)->prepare(1, blob1).isOk());
    ASSERT_TRUE((*w)->commit(1).isOk());
    send(**w, 3, "b");
    // Another producer writes between this transaction's messages.
    produce("out", {"x0", "x1"}, 2);
    for (int i = 3; i < 6; ++i) ASSERT_TRUE((*w)->write(record(i, "b")).isOk());
    ASSERT_TRUE((*w)->prepare(2, blob2).isOk());
    // Crash: checkpoint 2 completed, its commit never ran.
  }
  // Each transaction ends in a commit or abort marker, which takes an offset too.
  const int64_t afterCrash = high();
  EXPECT_GE(afterCrash, 18);
  // Transaction 1 ran on producer job-0-0; transaction 2 on the same producer once it was free.
  auto marker = [&] {
    std::ifstream in(dir_ / "txn" / "job-0-0.committed");
    int64_t id = 0;
    in >> id;
    return id;
  };
  EXPECT_EQ(marker(), 1);
  EXPECT_EQ(fs::status(dir_ / "txn").permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(fs::status(dir_ / "txn" / "job-0-0.committed").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  {
    auto w = SinkWriter::open(o, 0, true);
    ASSERT_TRUE(w.isOk());
    ASSERT_TRUE((*w)->recover(blob2).isOk());  // sends b0..b5 again in a new transaction
  }
  EXPECT_EQ(marker(), 2);
  const int64_t afterRecovery = high();
  EXPECT_GE(afterRecovery, afterCrash + 6);
  {
    auto w = SinkWriter::open(o, 0, true);
    ASSERT_TRUE(w.isOk());
    ASSERT_TRUE((*w)->recover(blob2).isOk());  // already committed: nothing is sent again
  }
  // (Only the fencing producers' init, no messages.)
  EXPECT_EQ(high(), afterRecovery);
  std::vector<Msg> got;
  ASSERT_TRUE(read(sourceOptions("out"), 1, got).isOk());
  // The mock shows aborted transactions to read_committed readers too (see the docs), so the
  // crashed transaction's six are visible next to the recovered six: each b twice, the x once.
  std::map<std::string, int> seen;
  for (const Msg& m : got) {
    if (m.headers.rfind("h=b", 0) != 0) {
      ++seen[m.value];
      continue;
    }
    const int i = std::stoi(m.headers.substr(3));
    const ProducerRecord want = record(i, "b");
    EXPECT_EQ(m.partition, want.partition) << m.headers;
    EXPECT_EQ(m.key, want.hasKey ? want.key : "") << m.headers;
    EXPECT_EQ(m.value, want.hasValue ? want.value : "<null>") << m.headers;
    EXPECT_EQ(m.timestampMs, want.timestampMs) << m.headers;
    ++seen[m.headers];
  }
  for (int i = 0; i < 6; ++i) EXPECT_EQ(seen["h=b" + std::to_string(i) + ";"], 2) << i;
  EXPECT_EQ(seen["x0"], 1);
  EXPECT_EQ(seen["x1"], 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(seen["a" + std::to_string(i)], 1) << i;
}

/// A prepared transaction whose messages are no longer in the topic (retention or compaction
/// removed them) fails the restore with a message that names the partition and offset.
TEST_F(KafkaConnectorTest, RecoveryOfATransactionWhoseMessagesAreGoneFailsClearly) {
  ASSERT_TRUE(mock_->createTopic("out", 1).isOk());
  produce("out", numbered(3), 1);
  const KafkaSinkOptions o = exactlyOnceOptions("out");
  // Version 2, one transaction (checkpoint 7, id job-0-0) with one run: partition 0, offsets
  // 100..104, past the partition's end.
  std::string blob;
  Serde<uint8_t>::write(2, blob);
  Serde<uint32_t>::write(1, blob);
  Serde<int64_t>::write(7, blob);
  Serde<std::string>::write("job-0-0", blob);
  Serde<uint32_t>::write(1, blob);
  Serde<int32_t>::write(0, blob);
  Serde<int64_t>::write(100, blob);
  Serde<int64_t>::write(5, blob);
  auto w = SinkWriter::open(o, 0, true);
  ASSERT_TRUE(w.isOk());
  Status s = (*w)->recover(blob);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("out [0] at offset 100 is no longer in the topic"), std::string::npos) << s.toString();
  // A checkpoint of another subtask's ids, or a malformed one, is refused as such.
  std::string other = blob;
  other.replace(other.find("job-0-0"), 7, "job-1-0");
  EXPECT_NE((*w)->recover(other).message().find("of another subtask"), std::string::npos);
  EXPECT_EQ((*w)->recover(blob.substr(0, blob.size() - 3)).code(), StatusCode::kCorruption);
}

TEST(KafkaUriTest, ParsesAndExplains) {
  auto u = parseKafkaUri("kafka://127.0.0.1:9092,127.0.0.1:9093/events?acks=all&linger.ms=1");
  ASSERT_TRUE(u.isOk());
  EXPECT_EQ(u->bootstrapServers, "127.0.0.1:9092,127.0.0.1:9093");
  EXPECT_EQ(u->topic, "events");
  EXPECT_EQ(u->properties.at("acks"), "all");
  EXPECT_EQ(u->properties.at("linger.ms"), "1");
  for (const char* bad : {"kafka://", "kafka://host:1/", "kafka:///t", "kafka://host/t", "kafka://h:1/a b", "kafka://h:1/t?x"}) {
    auto r = parseKafkaUri(bad);
    EXPECT_FALSE(r.isOk()) << bad;
  }
  EXPECT_FALSE(parseStartupMode("newest").isOk());
  EXPECT_NE(parseStartupMode("newest").status().message().find("earliest, latest"), std::string::npos);
}

TEST(KafkaOptionsTest, ValidationSaysWhatIsWrong) {
  KafkaSourceOptions o;
  EXPECT_NE(o.validate().message().find("bootstrap"), std::string::npos);
  o.bootstrapServers = "127.0.0.1:1";
  EXPECT_NE(o.validate().message().find("topics or a topic pattern"), std::string::npos);
  o.topicPattern = "(";
  EXPECT_NE(o.validate().message().find("not a regular expression"), std::string::npos);
  o.topicPattern = "a.*";
  o.startup = StartupMode::kGroupOffsets;
  EXPECT_NE(o.validate().message().find("group id"), std::string::npos);
  KafkaSinkOptions s;
  s.bootstrapServers = "127.0.0.1:1";
  s.topic = "t";
  s.delivery = SinkDelivery::kExactlyOnce;
  s.transactionalIdPrefix = "../x";
  EXPECT_NE(s.validate().message().find("may hold only"), std::string::npos);
  auto bad = SinkWriter::open(KafkaSinkOptions{"127.0.0.1:1", "t", SinkDelivery::kAtLeastOnce, "p", "", {{"no.such.property", "1"}}}, 0, false);
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("no.such.property"), std::string::npos);
}

}  // namespace
}  // namespace reka::connector::kafka
