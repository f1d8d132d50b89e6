#include "reka/web/RestServer.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <atomic>
#include <map>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "DashboardAssets.h"
#include "reka/base/Units.h"
#include "JobMonitor.h"
#include "MetricsText.h"
#include "RestAuth.h"
#include "WatermarkReport.h"

namespace reka::web {

using nlohmann::json;

namespace {

json optionalTime(int64_t t) { return t == INT64_MIN || t == INT64_MAX ? json(nullptr) : json(t); }

const char* outcomeName(CheckpointRecord::Outcome o) {
  switch (o) {
    case CheckpointRecord::Outcome::kInProgress: return "IN_PROGRESS";
    case CheckpointRecord::Outcome::kCompleted: return "COMPLETED";
    case CheckpointRecord::Outcome::kFailed: return "FAILED";
  }
  return "?";
}

json jobSummary(const JobMetrics& m, int64_t nowMs) {
  const int64_t end = m.endTimeMs != 0 ? m.endTimeMs : nowMs;
  return {{"id", m.jobId},
          {"name", m.jobName},
          {"state", jobStateName(m.state)},
          {"start-time", m.startTimeMs},
          {"end-time", m.endTimeMs != 0 ? json(m.endTimeMs) : json(-1)},
          {"duration", end - m.startTimeMs},
          {"source-records", m.sourceRecords},
          {"restarts", m.restarts}};
}

json vertexJson(const JobMonitor::Job& job, const VertexInfo& v) {
  const JobMetrics& m = job.latest;
  json subtasks = json::array();
  int64_t in = 0, out = 0, late = 0, dead = 0;
  double inRate = 0, outRate = 0, busy = 0, backpressured = 0;
  int64_t minWatermark = INT64_MAX;
  int n = 0;
  std::map<std::string, RuleStats> rules;  // rule operators: per rule, summed over subtasks
  int64_t ruleErrors = 0;
  for (size_t i = 0; i < m.operators.size(); ++i) {
    const OperatorStats& op = m.operators[i];
    if (op.node != v.id) continue;
    for (const RuleStats& r : op.rules) {
      RuleStats& sum = rules[r.id];
      sum.id = r.id;
      sum.version = std::max(sum.version, r.version);
      sum.enabled = r.enabled;
      sum.matches += r.matches;
      sum.timedOut += r.timedOut;
      sum.refused = std::max(sum.refused, r.refused);
      if (!r.error.empty()) sum.error = r.error;
    }
    ruleErrors = std::max(ruleErrors, op.ruleErrors);
    const SubtaskRates r = JobMonitor::rates(job, i);
    subtasks.push_back({{"subtask", op.subtask},
                        {"records-in", op.recordsIn},
                        {"records-out", op.recordsOut},
                        {"bytes-in", op.bytesIn},
                        {"bytes-out", op.bytesOut},
                        {"records-in-per-second", r.recordsInPerSecond},
                        {"records-out-per-second", r.recordsOutPerSecond},
                        {"busy-ms-per-second", r.busyMsPerSecond},
                        {"backpressured-ms-per-second", r.backpressuredMsPerSecond},
                        {"idle-ms-per-second", r.idleMsPerSecond},
                        {"input-watermark", optionalTime(op.inputWatermark)},
                        {"output-watermark", optionalTime(op.watermark)},
                        {"late-records", op.lateRecords},
                        {"discarded-partial-matches", op.discardedPartialMatches},
                        {"dead-letters", op.deadLetters},
                        {"input-queue-usage", op.inputQueueUsage},
                        {"output-queue-usage", op.outputQueueUsage},
                        {"lag", op.lag >= 0 ? json(op.lag) : json(nullptr)},
                        {"state-bytes", op.stateBytes >= 0 ? json(op.stateBytes) : json(nullptr)}});
    in += op.recordsIn;
    out += op.recordsOut;
    late += op.lateRecords;
    dead += op.deadLetters;
    inRate += r.recordsInPerSecond;
    outRate += r.recordsOutPerSecond;
    busy = std::max(busy, r.busyMsPerSecond);
    backpressured = std::max(backpressured, r.backpressuredMsPerSecond);
    minWatermark = std::min(minWatermark, op.watermark);
    ++n;
  }
  json inputs = json::array();
  for (const auto& e : v.inputs) inputs.push_back({{"id", e.from}, {"partitioning", e.partitioning}});
  json result = {{"id", v.id},
          {"name", v.name},
          {"kind", v.kind},
          {"uid", v.uid},
          {"parallelism", v.parallelism},
          {"source", v.source},
          {"chained", v.chained},
          {"inputs", inputs},
          {"records-in", in},
          {"records-out", out},
          {"records-in-per-second", inRate},
          {"records-out-per-second", outRate},
          {"busy-ms-per-second", busy},                    // the busiest subtask
          {"backpressured-ms-per-second", backpressured},  // the most backpressured subtask
          {"output-watermark", n > 0 ? optionalTime(minWatermark) : json(nullptr)},
          {"late-records", late},
          {"dead-letters", dead},
          {"subtasks", subtasks}};
  if (!rules.empty() || ruleErrors > 0) {
    json list = json::array();
    for (const auto& [id, r] : rules)
      list.push_back({{"id", r.id},
                      {"version", r.version},
                      {"enabled", r.enabled},
                      {"matches", r.matches},
                      {"timeouts", r.timedOut},
                      {"refused", r.refused},
                      {"error", r.error.empty() ? json(nullptr) : json(r.error)}});
    result["rules"] = list;
    result["rule-errors"] = ruleErrors;
  }
  return result;
}

json checkpointsJson(const JobMetrics& m) {
  json history = json::array();
  int64_t inProgress = 0;
  for (auto it = m.checkpointHistory.rbegin(); it != m.checkpointHistory.rend(); ++it) {
    const CheckpointRecord& r = *it;
    if (r.outcome == CheckpointRecord::Outcome::kInProgress) ++inProgress;
    history.push_back({{"id", r.id},
                       {"savepoint", r.savepoint},
                       {"status", outcomeName(r.outcome)},
                       {"trigger-time", r.triggerTimeMs},
                       {"duration-ms", r.durationMs},
                       {"sync-ms", r.syncMs},
                       {"alignment-ms", r.alignmentMs},
                       {"size-bytes", r.bytes},
                       {"incremental", r.incremental},
                       {"path", r.path},
                       {"failure", r.failure}});
  }
  return {{"counts", {{"completed", m.completedCheckpoints}, {"failed", m.failedCheckpoints}, {"in-progress", inProgress}}},
          {"latest-completed", m.lastCheckpointId},
          {"restored-from", m.restoredCheckpointId},
          {"history", history}};
}

}  // namespace

struct RestServer::Impl {
  RestOptions options;
  httplib::Server server;
  JobMonitor monitor;
  std::thread listener;
  std::thread sampler;
  std::mutex mutex;
  std::condition_variable cv;
  bool stopping = false;
  std::atomic<bool> listenerDone{false};
  int port = 0;

  void routes();
  bool authorized(const httplib::Request& req) const;
  static void error(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(json{{"errors", {message}}}.dump(), "application/json");
  }
  static void reply(httplib::Response& res, const json& body) { res.set_content(body.dump(), "application/json"); }
  /// Answers with `f(job)` for the job in the path, or 404.
  template <class F>
  void withJob(const httplib::Request& req, httplib::Response& res, F&& f) {
    const std::string id = req.matches[1];
    if (!monitor.withJob(id, [&](JobMonitor::Job& job) { f(job); })) error(res, 404, "no job with id " + id);
  }
  void control(const httplib::Request& req, httplib::Response& res, const std::string& action);
};

bool RestServer::Impl::authorized(const httplib::Request& req) const {
  if (!tokenRequired(options.address, req.method)) return true;
  const std::string header = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (header.compare(0, prefix.size(), prefix) != 0) return false;
  return sameToken(header.substr(prefix.size()), options.token);
}

void RestServer::Impl::control(const httplib::Request& req, httplib::Response& res, const std::string& action) {
  const std::string id = req.matches[1];
  bool withSavepoint = action == "savepoint";
  if (action == "stop" && !req.body.empty()) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return error(res, 400, "the body must be a JSON object such as {\"savepoint\": true}");
    for (const auto& [k, v] : body.items()) {
      if (k != "savepoint" || !v.is_boolean())
        return error(res, 400, "unknown or bad field '" + k + "': accepted is \"savepoint\": true|false");
    }
    withSavepoint = body.value("savepoint", false);
  }
  std::function<void(const std::string&)> stopped;
  monitor.withJob(id, [&](JobMonitor::Job& job) { stopped = job.registration.stopped; });
  json answer;
  int status = 200;
  const bool found = monitor.callClient(id, [&](JobClient& client) {
    if (action == "cancel" || (action == "stop" && !withSavepoint)) {
      client.cancel();
      answer = {{"id", id}, {"status", "CANCELING"}};
      if (stopped) stopped("");
      return;
    }
    auto sp = client.savepoint(action == "stop", std::chrono::seconds(60));
    if (!sp.isOk()) {
      status = sp.status().code() == StatusCode::kFailedPrecondition ? 409 : 500;
      answer = {{"errors", {sp.status().message()}}};
      return;
    }
    answer = {{"id", id}, {"savepoint", *sp}};
    if (action == "stop") {
      answer["status"] = "STOPPED";
      if (stopped) stopped(*sp);
    }
  });
  if (!found) return error(res, 404, "no running job with id " + id);
  res.status = status;
  reply(res, answer);
}

void RestServer::Impl::routes() {
  server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (authorized(req)) return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Bearer");
    error(res, 401,
          std::string(readOnlyMethod(req.method) ? "this server listens beyond loopback: every call needs" : "this call changes a job: it needs") +
              " 'Authorization: Bearer <token>' (the token is the \"token\" field of <state dir>/rest.json, or rest.token when set)");
    return httplib::Server::HandlerResponse::Handled;
  });
  server.Get("/jobs", [this](const httplib::Request&, httplib::Response& res) {
    json jobs = json::array();
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    monitor.forEach([&](const JobMonitor::Job& job) { jobs.push_back(jobSummary(job.latest, now)); });
    reply(res, {{"jobs", jobs}});
  });
  server.Get(R"(/jobs/([0-9a-f]+))", [this](const httplib::Request& req, httplib::Response& res) {
    withJob(req, res, [&](JobMonitor::Job& job) {
      const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      json j = jobSummary(job.latest, now);
      json vertices = json::array();
      for (const VertexInfo& v : job.latest.vertices) vertices.push_back(vertexJson(job, v));
      j["vertices"] = vertices;
      j["watermark"] = optionalTime(job.latest.watermark);
      j["late-records"] = job.latest.lateRecords;
      reply(res, j);
    });
  });
  server.Get(R"(/jobs/([0-9a-f]+)/vertices)", [this](const httplib::Request& req, httplib::Response& res) {
    withJob(req, res, [&](JobMonitor::Job& job) {
      json vertices = json::array();
      for (const VertexInfo& v : job.latest.vertices) vertices.push_back(vertexJson(job, v));
      reply(res, {{"vertices", vertices}});
    });
  });
  server.Get(R"(/jobs/([0-9a-f]+)/checkpoints)", [this](const httplib::Request& req, httplib::Response& res) {
    withJob(req, res, [&](JobMonitor::Job& job) { reply(res, checkpointsJson(job.latest)); });
  });
  server.Get(R"(/jobs/([0-9a-f]+)/watermarks)", [this](const httplib::Request& req, httplib::Response& res) {
    withJob(req, res, [&](JobMonitor::Job& job) { reply(res, watermarkReport(job.latest)); });
  });
  server.Get(R"(/jobs/([0-9a-f]+)/exceptions)", [this](const httplib::Request& req, httplib::Response& res) {
    withJob(req, res, [&](JobMonitor::Job& job) {
      json list = json::array();
      for (auto it = job.latest.exceptions.rbegin(); it != job.latest.exceptions.rend(); ++it)
        list.push_back({{"timestamp", it->timeMs}, {"message", it->message}});
      reply(res, {{"exceptions", list}});
    });
  });
  server.Get(R"(/jobs/([0-9a-f]+)/config)", [this](const httplib::Request& req, httplib::Response& res) {
    withJob(req, res, [&](JobMonitor::Job& job) {
      json entries = json::array();
      for (const ConfigEntry& e : job.registration.config)
        entries.push_back({{"key", e.key}, {"value", e.value}, {"source", e.source}});
      reply(res, {{"config", entries}});
    });
  });
  server.Get(R"(/jobs/([0-9a-f]+)/history)", [this](const httplib::Request& req, httplib::Response& res) {
    withJob(req, res, [&](JobMonitor::Job& job) {
      json points = json::array();
      for (const HistoryPoint& p : job.history)
        points.push_back({{"time", p.timeMs},
                          {"records-per-second", p.recordsPerSecond},
                          {"watermark", optionalTime(p.watermark)},
                          {"backpressured", p.backpressured}});
      reply(res, {{"history", points}});
    });
  });
  server.Post(R"(/jobs/([0-9a-f]+)/savepoints)",
              [this](const httplib::Request& req, httplib::Response& res) { control(req, res, "savepoint"); });
  server.Post(R"(/jobs/([0-9a-f]+)/stop)", [this](const httplib::Request& req, httplib::Response& res) { control(req, res, "stop"); });
  server.Post(R"(/jobs/([0-9a-f]+)/cancel)",
              [this](const httplib::Request& req, httplib::Response& res) { control(req, res, "cancel"); });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::vector<JobMetrics> jobs;
    monitor.forEach([&](const JobMonitor::Job& job) { jobs.push_back(job.latest); });
    // Fresh figures for live jobs; the monitor's sample for rates and the histogram.
    for (JobMetrics& m : jobs) {
      monitor.callClient(m.jobId, [&](JobClient& client) { m = client.metrics(); });
    }
    std::string text = prometheusText(jobs);
    appendMonitorMetrics(monitor, text);
    res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Get("/config", [this](const httplib::Request&, httplib::Response& res) {
    reply(res, {{"rest-address", options.address}, {"rest-port", port}, {"refresh-interval", options.sampleInterval.count()}});
  });
  // The dashboard: a fixed set of files compiled into the binary, so no request path reaches the
  // file system.
  server.Get(R"(/(|index\.html|app\.js|style\.css))", [](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.matches[1];
    if (name.empty()) name = "index.html";
    const DashboardAsset* asset = findDashboardAsset(name);
    if (asset == nullptr) return error(res, 404, "no such page");
    res.set_header("Cache-Control", "no-cache");
    res.set_content(std::string(asset->content), asset->contentType);
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) error(res, 404, "no such resource; the API is under /jobs, metrics under /metrics");
    else if (res.status == 413) error(res, 413, "the request is larger than the server accepts");
    else error(res, res.status, "the request could not be served (HTTP " + std::to_string(res.status) + ")");
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    error(res, 500, "internal error: " + what);
  });
}

Result<std::unique_ptr<RestServer>> RestServer::start(RestOptions options) {
  auto impl = std::make_unique<Impl>();
  if (options.token.empty()) options.token = randomHex(32);
  if (options.lastPort < options.port) options.lastPort = options.port;
  impl->options = options;
  impl->server.set_payload_max_length(options.maxRequestBytes);
  impl->server.set_read_timeout(5, 0);
  impl->server.set_write_timeout(5, 0);
  // A browser keeps up to six connections open and the server gives each a thread while it is
  // open: enough threads for a few dashboards, and idle connections closed soon.
  impl->server.new_task_queue = [] { return new httplib::ThreadPool(16); };
  impl->server.set_keep_alive_timeout(2);
  impl->server.set_keep_alive_max_count(100);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second job could bind
  // the same port and the kernel would spread one job's requests over both.
  // TCP_NODELAY (inherited by accepted sockets): httplib writes headers and body separately,
  // which Nagle's algorithm and delayed acknowledgements turned into 40 ms per request.
  impl->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  });
  impl->routes();
  int bound = -1;
  if (options.port == 0) {
    bound = impl->server.bind_to_any_port(options.address);
  } else {
    for (int p = options.port; p <= options.lastPort && bound < 0; ++p)
      if (impl->server.bind_to_port(options.address, p)) bound = p;
  }
  if (bound <= 0) {
    return Status::ioError("cannot listen on " + options.address + " port " +
                               (options.port == options.lastPort ? std::to_string(options.port)
                                                                  : std::to_string(options.port) + "-" + std::to_string(options.lastPort)) +
                               " (in use, or not an address of this machine); set rest.port (0: any free port, or "
                               "--rest-port 0 … off)");
  }
  impl->port = bound;
  Impl* raw = impl.get();
  impl->listener = std::thread([raw] {
    raw->server.listen_after_bind();
    raw->listenerDone.store(true);
  });
  // stop() is ignored until the server runs: wait for it (a job may end at once).
  for (int i = 0; i < 5000 && !impl->server.is_running() && !impl->listenerDone.load(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl->sampler = std::thread([raw] {
    std::unique_lock<std::mutex> lock(raw->mutex);
    while (!raw->stopping) {
      raw->cv.wait_for(lock, raw->options.sampleInterval, [raw] { return raw->stopping; });
      if (raw->stopping) break;
      lock.unlock();
      raw->monitor.sampleAll();
      lock.lock();
    }
  });
  return std::unique_ptr<RestServer>(new RestServer(std::move(impl)));
}

RestServer::RestServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RestServer::~RestServer() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  // httplib's stop() does nothing until its accept loop runs; repeat it until the loop has ended.
  while (!impl_->listenerDone.load()) {
    impl_->server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (impl_->listener.joinable()) impl_->listener.join();
  if (impl_->sampler.joinable()) impl_->sampler.join();
}

void RestServer::addJob(JobRegistration job) { impl_->monitor.add(std::move(job)); }
void RestServer::removeJob(const std::string& jobId) { impl_->monitor.remove(jobId); }
int RestServer::port() const { return impl_->port; }
const std::string& RestServer::address() const { return impl_->options.address; }
const std::string& RestServer::token() const { return impl_->options.token; }
std::string RestServer::url() const {
  const std::string& a = impl_->options.address;
  const std::string host = a.find(':') != std::string::npos ? "[" + a + "]" : a;
  return "http://" + host + ":" + std::to_string(impl_->port) + "/";
}

}  // namespace reka::web
