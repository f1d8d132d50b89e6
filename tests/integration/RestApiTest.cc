// The REST API, Prometheus metrics and dashboard files of reka::web::RestServer, asked with a
// real HTTP client (cpp-httplib) on 127.0.0.1 about a real running job.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <httplib.h>

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "NexmarkTestKit.h"
#include "connectors/kafka/MockCluster.h"
#include "reka/connector/Kafka.h"
#include "reka/connector/SplitSource.h"
#include "reka/reka.h"
#include "reka/web/RestServer.h"

namespace reka::web {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;

struct Ev {
  int64_t key;
  int64_t ts;
};
int64_t tsOf(const Ev& e) { return e.ts; }
int64_t keyOf(const Ev& e) { return e.key; }

struct CountAgg {
  int64_t createAccumulator() const { return 0; }
  void add(const Ev&, int64_t& acc) const { ++acc; }
  void merge(const int64_t& from, int64_t& into) const { into += from; }
  int64_t getResult(const int64_t& acc) const { return acc; }
};

/// Emits kRecords events, one millisecond of event time apart over 4 keys, then stays quiet (and
/// running) until the job stops. Checkpointable.
constexpr int64_t kRecords = 20000;
class SteadySource final : public SourceFunction<Ev> {
 public:
  SourceOperator::Poll poll(RecordBatch<Ev>& out, size_t maxRecords) override {
    if (next_ >= kRecords) {
      std::this_thread::sleep_for(2ms);
      return SourceOperator::Poll::kMore;
    }
    for (size_t i = 0; i < maxRecords && next_ < kRecords; ++i, ++next_) out.records.push_back({next_ % 4, next_});
    return SourceOperator::Poll::kMore;
  }
  Status snapshotPosition(std::string& out) const override {
    Serde<int64_t>::write(next_, out);
    return Status::ok();
  }
  Status restorePosition(std::string_view in) override {
    return Serde<int64_t>::read(in, next_) ? Status::ok() : Status::corruption("bad position");
  }

 private:
  int64_t next_ = 0;
};

/// What `promtool check metrics` (Debian's prometheus package) says about `text`: empty when it
/// finds the exposition format valid.
std::string promtoolComplaints(const nexmark::it::ScratchDir& dir, const std::string& text) {
  const std::string file = dir.file("metrics.txt");
  nexmark::it::writeFile(file, text);
  const std::string out = dir.file("promtool.out");
  const int rc = std::system(("timeout 30 promtool check metrics < '" + file + "' > '" + out + "' 2>&1").c_str());
  return rc == 0 ? "" : "promtool check metrics (exit " + std::to_string(rc) + "): " + nexmark::it::readFile(out);
}

/// The value of the one sample `name{labels}` in exposition `text`, or nullopt.
std::optional<double> sampleValue(const std::string& text, const std::string& name, const std::string& labels) {
  const std::string prefix = "\n" + name + "{" + labels + "} ";
  const size_t at = text.find(prefix);
  if (at == std::string::npos) return std::nullopt;
  const size_t from = at + prefix.size();
  return std::stod(text.substr(from, text.find('\n', from) - from));
}

class RestApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ExecutionConfig config;
    config.jobName = "rest \"test\" job";
    config.parallelism = 2;
    config.watermarkInterval = 0ms;
    config.checkpoints.stateDir = dir_.file("state");
    config.checkpoints.interval = 50ms;
    env_ = std::make_unique<StreamEnvironment>(config);
    env_->fromSource<Ev>("events", [] { return std::make_unique<SteadySource>(); }, watermarks::monotonousTimestamps<Ev>(tsOf), 1)
        .keyBy(keyOf)
        .window(TumblingWindows::eventTime(std::chrono::hours(1)), tsOf)
        .aggregate("hourly count", CountAgg{})
        .sink("discard", [](const WindowResult<int64_t, int64_t>&) {});
    auto client = env_->executeAsync();
    ASSERT_TRUE(client.isOk()) << client.status().toString();
    client_ = std::move(*client);
    RestOptions options;
    options.port = 0;  // any free port
    options.token = "secret-token";
    options.sampleInterval = 100ms;
    options.maxRequestBytes = 1024;
    auto server = RestServer::start(options);
    ASSERT_TRUE(server.isOk()) << server.status().toString();
    server_ = std::move(*server);
    JobRegistration reg;
    reg.client = client_.get();
    reg.config = {{"parallelism.default", "2", "flag --parallelism"}, {"pipeline.name", "rest test", "default"}};
    reg.stopped = [this](const std::string& savepoint) {
      std::lock_guard<std::mutex> lock(mutex_);
      stoppedWith_ = savepoint;
      stopped_ = true;
    };
    server_->addJob(std::move(reg));
    id_ = client_->metrics().jobId;
    http_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    http_->set_read_timeout(70, 0);
  }

  void TearDown() override {
    if (server_ && client_) server_->removeJob(id_);
    if (client_) {
      client_->cancel();
      (void)client_->wait();
    }
  }

  json get(const std::string& path, int expectStatus = 200) {
    auto res = http_->Get(path);
    EXPECT_TRUE(res) << path;
    if (!res) return {};
    EXPECT_EQ(res->status, expectStatus) << path << ": " << res->body;
    json j = json::parse(res->body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << path << " did not answer JSON: " << res->body;
    return j;
  }

  httplib::Result post(const std::string& path, const std::string& body, const std::string& token) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return http_->Post(path, headers, body, "application/json");
  }

  /// Waits until every record went through the window operator and a checkpoint completed.
  void awaitSettled() {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      JobMetrics m = client_->metrics();
      int64_t windowIn = 0;
      for (const auto& op : m.operators)
        if (op.name == "hourly count") windowIn += op.recordsIn;
      if (windowIn == kRecords && m.completedCheckpoints > 0 && m.watermark != INT64_MIN) {
        std::this_thread::sleep_for(300ms);  // a few samples with the final counts
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "the job did not process its records within 60 s";
  }

  nexmark::it::ScratchDir dir_;
  std::unique_ptr<StreamEnvironment> env_;
  std::unique_ptr<JobClient> client_;
  std::unique_ptr<RestServer> server_;
  std::unique_ptr<httplib::Client> http_;
  std::string id_;
  std::mutex mutex_;
  bool stopped_ = false;
  std::string stoppedWith_;
};

TEST_F(RestApiTest, JobsVerticesCheckpointsExceptionsAndConfig) {
  awaitSettled();
  json jobs = get("/jobs");
  ASSERT_EQ(jobs["jobs"].size(), 1u);
  EXPECT_EQ(jobs["jobs"][0]["id"], id_);
  EXPECT_EQ(jobs["jobs"][0]["name"], "rest \"test\" job");
  EXPECT_EQ(jobs["jobs"][0]["state"], "RUNNING");

  json job = get("/jobs/" + id_);
  EXPECT_EQ(job["source-records"], kRecords);
  std::map<std::string, json> byName;
  for (const auto& v : job["vertices"]) byName[v["name"]] = v;
  ASSERT_EQ(byName.size(), 3u) << job.dump();
  EXPECT_EQ(byName["events"]["parallelism"], 1);
  EXPECT_TRUE(byName["events"]["source"].get<bool>());
  EXPECT_EQ(byName["events"]["records-out"], kRecords);
  EXPECT_EQ(byName["hourly count"]["parallelism"], 2);
  EXPECT_EQ(byName["hourly count"]["records-in"], kRecords);
  EXPECT_EQ(byName["hourly count"]["records-out"], 0) << "the hourly window has not fired";
  ASSERT_EQ(byName["hourly count"]["inputs"].size(), 1u);
  EXPECT_EQ(byName["hourly count"]["inputs"][0]["partitioning"], "hash");
  // The logical plan's data: each operator's kind and the uid its state is matched by.
  EXPECT_EQ(byName["events"]["kind"], "source");
  EXPECT_EQ(byName["hourly count"]["kind"], "window");
  EXPECT_EQ(byName["hourly count"]["uid"], "hourly count");

  json vertices = get("/jobs/" + id_ + "/vertices");
  for (const auto& v : vertices["vertices"]) {
    EXPECT_EQ(v["subtasks"].size(), v["parallelism"].get<size_t>()) << v.dump();
    for (const auto& s : v["subtasks"]) {
      const double busy = s["busy-ms-per-second"], bp = s["backpressured-ms-per-second"], idle = s["idle-ms-per-second"];
      EXPECT_NEAR(busy + bp + idle, 1000.0, 1e-6) << s.dump();
    }
  }
  int64_t perSubtask = 0;
  for (const auto& s : byName["hourly count"]["subtasks"]) perSubtask += s["records-in"].get<int64_t>();
  EXPECT_EQ(perSubtask, kRecords);

  json cps = get("/jobs/" + id_ + "/checkpoints");
  EXPECT_GE(cps["counts"]["completed"].get<int64_t>(), 1);
  EXPECT_EQ(cps["counts"]["failed"], 0);
  bool sawCompleted = false;
  for (const auto& h : cps["history"]) {
    if (h["status"] != "COMPLETED") continue;
    sawCompleted = true;
    EXPECT_GT(h["size-bytes"].get<int64_t>(), 0);
    EXPECT_FALSE(h["savepoint"].get<bool>());
    struct stat st{};
    EXPECT_EQ(::stat(h["path"].get<std::string>().c_str(), &st) == 0 || h["id"] < cps["latest-completed"], true)
        << "the newest checkpoints are kept on disk: " << h.dump();
  }
  EXPECT_TRUE(sawCompleted) << cps.dump();

  EXPECT_TRUE(get("/jobs/" + id_ + "/exceptions")["exceptions"].empty());
  json config = get("/jobs/" + id_ + "/config");
  ASSERT_EQ(config["config"].size(), 2u);
  EXPECT_EQ(config["config"][0]["key"], "parallelism.default");
  EXPECT_EQ(config["config"][0]["source"], "flag --parallelism");

  json history = get("/jobs/" + id_ + "/history");
  EXPECT_GE(history["history"].size(), 2u);
}

TEST_F(RestApiTest, WatermarksSayWhyTheWindowHasNotFired) {
  awaitSettled();
  JobMetrics m = client_->metrics();
  json w = get("/jobs/" + id_ + "/watermarks");
  // Event times 0 … 19999 in one-hour windows: every key's window [0, 1 h) waits for the
  // watermark to reach 3 599 999; the source holds it back.
  ASSERT_EQ(w["pending-windows"].size(), 2u) << w.dump();
  for (const auto& p : w["pending-windows"]) {
    EXPECT_EQ(p["name"], "hourly count");
    EXPECT_EQ(p["earliest-pending-timer"], 3599999);
    int64_t input = INT64_MIN;
    for (const auto& op : m.operators)
      if (op.name == "hourly count" && op.subtask == p["subtask"]) input = op.inputWatermark;
    ASSERT_NE(input, INT64_MIN);
    EXPECT_EQ(p["input-watermark"], input);
    EXPECT_GE(input, kRecords - 2) << "the source's watermark follows its last timestamp";
    EXPECT_EQ(p["behind-ms"], 3599999 - input);
    ASSERT_EQ(p["held-back-by"].size(), 1u) << p.dump();
    EXPECT_EQ(p["held-back-by"][0]["name"], "events");
    EXPECT_TRUE(p["held-back-by"][0]["source"].get<bool>());
    EXPECT_EQ(p["held-back-by"][0]["channel-watermark"], input);
  }
}

TEST_F(RestApiTest, PrometheusMetricsAreValidAndCountTheRecords) {
  awaitSettled();
  auto res = http_->Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_THAT(res->get_header_value("Content-Type"), HasSubstr("text/plain; version=0.0.4"));
  const std::string& text = res->body;
  // The job name's quotes are escaped in labels.
  const std::string job = "job=\"rest \\\"test\\\" job\",job_id=\"" + id_ + "\"";
  EXPECT_THAT(text, HasSubstr("reka_operator_records_out_total{" + job + ",operator=\"events\",operator_id=\"0\",subtask=\"0\"} 20000\n"));
  EXPECT_THAT(text, HasSubstr("reka_job_state{" + job + ",state=\"RUNNING\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE reka_checkpoint_duration_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("reka_checkpoint_duration_seconds_bucket{" + job + ",le=\"+Inf\"}"));
  // The records the two window subtasks received add up.
  int64_t windowIn = 0;
  size_t at = 0;
  const std::string prefix = "reka_operator_records_in_total{" + job + ",operator=\"hourly count\"";
  while ((at = text.find(prefix, at)) != std::string::npos) {
    at = text.find("} ", at) + 2;
    windowIn += std::stoll(text.substr(at, text.find('\n', at) - at));
  }
  EXPECT_EQ(windowIn, kRecords);

  EXPECT_EQ(promtoolComplaints(dir_, text), "");
}

TEST_F(RestApiTest, MutatingCallsNeedTheTokenAndBadRequestsGetJsonErrors) {
  awaitSettled();
  auto res = post("/jobs/" + id_ + "/cancel", "{}", "");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_THAT(res->body, HasSubstr("Bearer"));
  // It says where the token is: the `reka` command writes it to <state dir>/rest.json.
  json refused = json::parse(res->body, nullptr, false);
  ASSERT_FALSE(refused.is_discarded()) << res->body;
  EXPECT_THAT(refused["errors"][0].get<std::string>(), HasSubstr("\"token\" field of <state dir>/rest.json")) << res->body;
  res = post("/jobs/" + id_ + "/cancel", "{}", "secret-tokem");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_FALSE(client_->waitFor(0ms)) << "refused calls leave the job running";

  get("/jobs/0123456789abcdef", 404);
  json noVertices = get("/jobs/0123456789abcdef/vertices", 404);
  ASSERT_EQ(noVertices["errors"].size(), 1u) << noVertices.dump();
  EXPECT_EQ(noVertices["errors"][0], "no job with id 0123456789abcdef");
  json missing = get("/no/such/thing", 404);
  EXPECT_FALSE(missing["errors"].empty());
  res = post("/jobs/" + id_ + "/stop", R"({"savepoint": "yes"})", "secret-token");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(res->body, HasSubstr("savepoint"));
  res = post("/jobs/" + id_ + "/stop", std::string(4096, ' '), "secret-token");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_FALSE(client_->waitFor(0ms));

  // The dashboard's files come from the binary; nothing else is served.
  auto page = http_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("<script src=\"app.js\">"));
  auto traversal = http_->Get("/../../etc/passwd");
  ASSERT_TRUE(traversal);
  EXPECT_EQ(traversal->status, 404);
}

TEST_F(RestApiTest, SavepointThenStopWithASavepoint) {
  awaitSettled();
  auto res = post("/jobs/" + id_ + "/savepoints", "", "secret-token");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json sp = json::parse(res->body);
  struct stat st{};
  EXPECT_EQ(::stat(sp["savepoint"].get<std::string>().c_str(), &st), 0) << res->body;
  EXPECT_FALSE(client_->waitFor(0ms)) << "a savepoint leaves the job running";

  res = post("/jobs/" + id_ + "/stop", R"({"savepoint": true})", "secret-token");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json stop = json::parse(res->body);
  EXPECT_EQ(stop["status"], "STOPPED");
  EXPECT_TRUE(client_->waitFor(30s)) << "the job ends at its savepoint";
  {
    std::lock_guard<std::mutex> lock(mutex_);
    EXPECT_TRUE(stopped_);
    EXPECT_EQ(stoppedWith_, stop["savepoint"].get<std::string>());
  }
  server_->removeJob(id_);
  json job = get("/jobs/" + id_);
  EXPECT_NE(job["state"], "RUNNING") << "a removed job keeps its last figures";
  EXPECT_EQ(job["source-records"], kRecords);
  res = post("/jobs/" + id_ + "/cancel", "", "secret-token");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404) << "an ended job cannot be controlled";
}

TEST_F(RestApiTest, StopWithoutASavepointEndsTheJob) {
  auto res = post("/jobs/" + id_ + "/stop", R"({"savepoint": false})", "secret-token");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json stop = json::parse(res->body, nullptr, false);
  ASSERT_FALSE(stop.is_discarded()) << res->body;
  EXPECT_EQ(stop["id"], id_);
  EXPECT_EQ(stop["status"], "CANCELING");
  // No savepoint was taken (`reka stop` prints one when the answer has it).
  EXPECT_FALSE(stop.contains("savepoint")) << res->body;
  EXPECT_TRUE(client_->waitFor(30s)) << "the job ends";
  EXPECT_EQ(client_->metrics().state, JobState::kCancelled);
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_TRUE(stopped_);
  EXPECT_EQ(stoppedWith_, "") << "the embedder hears of a stop without a savepoint";
}

TEST_F(RestApiTest, CancelEndsTheJob) {
  auto res = post("/jobs/" + id_ + "/cancel", "", "secret-token");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_TRUE(client_->waitFor(30s));
  EXPECT_EQ(client_->wait().code(), StatusCode::kCancelled);
  EXPECT_EQ(client_->metrics().state, JobState::kCancelled);
}

TEST(PrometheusTextTest, FamiliesHaveOneHelpAndTypeAndLabelsAreEscaped) {
  JobMetrics a;
  a.jobId = "aa";
  a.jobName = "line\nbreak \\ and \"quote\"";
  a.state = JobState::kRunning;
  OperatorStats op;
  op.name = "src";
  op.recordsOut = 5;
  a.operators = {op, op};
  a.operators[0].watermark = 1'500;
  a.operators[0].inputWatermark = 1'250;
  a.operators[1].subtask = 1;
  a.operators[1].recordsOut = 7;
  JobMetrics b = a;
  b.jobId = "bb";
  b.state = JobState::kFailed;
  const std::string text = prometheusText({a, b});
  size_t helps = 0;
  for (size_t at = 0; (at = text.find("# HELP reka_operator_records_out_total ", at)) != std::string::npos; ++at) ++helps;
  EXPECT_EQ(helps, 1u);
  const std::string labels = "job=\"line\\nbreak \\\\ and \\\"quote\\\"\",job_id=\"aa\",operator=\"src\",operator_id=\"0\"";
  EXPECT_THAT(text, HasSubstr("reka_operator_records_out_total{" + labels + ",subtask=\"0\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("reka_operator_records_out_total{" + labels + ",subtask=\"1\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("state=\"FAILED\"} 1\n"));
  // Watermarks in seconds since the epoch; a subtask without one yet has no sample.
  EXPECT_THAT(text, HasSubstr("# TYPE reka_operator_output_watermark_seconds gauge\n"));
  EXPECT_THAT(text, HasSubstr("reka_operator_output_watermark_seconds{" + labels + ",subtask=\"0\"} 1.5\n"));
  EXPECT_THAT(text, HasSubstr("reka_operator_input_watermark_seconds{" + labels + ",subtask=\"0\"} 1.25\n"));
  EXPECT_EQ(text.find("reka_operator_output_watermark_seconds{" + labels + ",subtask=\"1\"}"), std::string::npos)
      << "no watermark yet: no sample";
  EXPECT_EQ(text.find("reka_operator_input_watermark_seconds{" + labels + ",subtask=\"1\"}"), std::string::npos);
}

/// Holds every record until opened (or for 20 s at most, so that nothing hangs): the job's
/// only task stops taking records, and the Kafka source stops reading.
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  void pass() {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait_for(lock, 20s, [this] { return open; });
  }
  void openUp() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      open = true;
    }
    cv.notify_all();
  }
};

struct DecodeOffset {
  Status operator()(const connector::kafka::KafkaMessage& m, std::vector<int64_t>& out, StringArena&) const {
    out.push_back(m.offset);
    return Status::ok();
  }
};

TEST(RestKafkaMetricsTest, SourceLagOfAKafkaSourceIsAtMetrics) {
  auto started = connector::kafka::MockCluster::start(1);
  ASSERT_TRUE(started.isOk()) << started.status().toString();
  auto mock = std::move(*started);
  ASSERT_TRUE(mock->createTopic("orders", 1).isOk());
  constexpr int64_t kMessages = 5000;
  {
    connector::kafka::KafkaSinkOptions o;
    o.bootstrapServers = mock->bootstrapServers();
    o.topic = "orders";
    auto w = connector::kafka::SinkWriter::open(o, 0, false);
    ASSERT_TRUE(w.isOk()) << w.status().toString();
    connector::kafka::ProducerRecord r;
    for (int64_t i = 0; i < kMessages; ++i) {
      r.value = std::to_string(i);
      r.partition = 0;
      ASSERT_TRUE((*w)->write(r).isOk());
    }
    ASSERT_TRUE((*w)->finish().isOk());
    (*w)->close();
  }

  // A job whose sink holds its first record: the source (batches of 10) reads a few batches,
  // then waits for room, with most of the topic unread.
  ExecutionConfig config;
  config.jobName = "kafka lag";
  config.parallelism = 1;
  config.batchSize = 10;
  StreamEnvironment env(config);
  connector::kafka::KafkaSourceOptions source;
  source.bootstrapServers = mock->bootstrapServers();
  source.topics = {"orders"};
  source.bounded = false;
  source.properties["fetch.wait.max.ms"] = "10";
  auto gate = std::make_shared<Gate>();
  connector::fromSource(env, "kafka", connector::kafka::kafkaSource<int64_t>(source, DecodeOffset{}), 1)
      .sink("held", [gate](const int64_t&) { gate->pass(); });
  auto executed = env.executeAsync();
  ASSERT_TRUE(executed.isOk()) << executed.status().toString();
  std::unique_ptr<JobClient> client = std::move(*executed);
  RestOptions options;
  options.port = 0;
  options.sampleInterval = 100ms;
  auto server = RestServer::start(options);
  ASSERT_TRUE(server.isOk()) << server.status().toString();
  JobRegistration reg;
  reg.client = client.get();
  (*server)->addJob(std::move(reg));
  const std::string id = client->metrics().jobId;
  httplib::Client http("127.0.0.1", (*server)->port());
  http.set_read_timeout(10, 0);

  auto lagOf = [&](const JobMetrics& m) {
    for (const auto& op : m.operators)
      if (op.name == "kafka") return op.lag;
    return int64_t{-1};
  };
  const std::string labels = "job=\"kafka lag\",job_id=\"" + id + "\",operator=\"kafka\",operator_id=\"0\",subtask=\"0\"";
  // The lag stops moving once the source waits; /metrics must show the client's figure then.
  std::string text;
  int64_t lag = -1;
  std::optional<double> shown;
  const auto deadline = std::chrono::steady_clock::now() + 8s;
  while (std::chrono::steady_clock::now() < deadline) {
    const int64_t before = lagOf(client->metrics());
    auto res = http.Get("/metrics");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    const int64_t after = lagOf(client->metrics());
    if (before > 0 && before == after) {
      text = res->body;
      lag = before;
      shown = sampleValue(text, "reka_source_lag_records", labels);
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  (*server)->removeJob(id);
  gate->openUp();
  client->cancel();
  EXPECT_TRUE(client->waitFor(30s)) << "the job ends once cancelled";

  ASSERT_GT(lag, 0) << "the source never reported records left unread";
  EXPECT_LT(lag, kMessages);
  ASSERT_TRUE(shown.has_value()) << "no reka_source_lag_records{" << labels << "} sample in\n" << text;
  EXPECT_EQ(*shown, static_cast<double>(lag));
  EXPECT_THAT(text, HasSubstr("# TYPE reka_source_lag_records gauge\n"));
  size_t samples = 0;
  for (size_t at = 0; (at = text.find("\nreka_source_lag_records{", at)) != std::string::npos; ++at) ++samples;
  EXPECT_EQ(samples, 1u) << "only the source has a lag: " << text;
  nexmark::it::ScratchDir dir;
  EXPECT_EQ(promtoolComplaints(dir, text), "");
}

}  // namespace
}  // namespace reka::web
