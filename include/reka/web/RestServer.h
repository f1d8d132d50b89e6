#pragma once

// Reka's HTTP server: the REST API (jobs, vertices, checkpoints, watermarks, exceptions,
// configuration; savepoint, stop and cancel), Prometheus metrics at /metrics, and the web
// dashboard, for the jobs of this process. An embedder starts one next to its jobs; the `reka`
// command starts one for every job it runs (docs/operations.md).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "reka/api/Environment.h"
#include "reka/base/Status.h"

namespace reka::web {

struct RestOptions {
  /// The address to listen on. Anything but loopback makes every call need the token.
  std::string address = "127.0.0.1";
  /// The first port tried (0: any free port); when it is taken, the next ones up to
  /// `lastPort` (Flink's `rest.bind-port` range), so that several jobs can run side by side.
  int port = 8081;
  int lastPort = 0;  ///< 0: only `port`
  /// The bearer token mutating calls need (every call, off loopback). Empty: a random one.
  std::string token;
  /// Requests larger than this are refused (413).
  size_t maxRequestBytes = 64 * 1024;
  /// How often each job's metrics are sampled for rates, the throughput history and the
  /// checkpoint duration histogram.
  std::chrono::milliseconds sampleInterval{1000};
};

/// One configuration value of a job and where it came from, for GET /jobs/{id}/config.
struct ConfigEntry {
  std::string key;
  std::string value;
  std::string source;  ///< "default", "file …", "env REKA_…", "-D", "flag --…"
};

/// What the server knows about a job besides what its JobClient tells.
struct JobRegistration {
  JobClient* client = nullptr;  ///< must outlive the registration (removeJob before destroying it)
  std::vector<ConfigEntry> config;
  /// Called (on a server thread) after a REST call stopped or cancelled the job: with the
  /// savepoint's directory, or empty.
  std::function<void(const std::string& savepoint)> stopped;
};

class RestServer {
 public:
  /// Binds and starts serving on a thread of its own. Fails when no port of the range is free
  /// or the address is not one of this machine's.
  static Result<std::unique_ptr<RestServer>> start(RestOptions options);
  ~RestServer();  ///< stops serving (in-flight requests finish first)

  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  /// Shows a job (keyed by its id). Thread-safe.
  void addJob(JobRegistration job);
  /// Stops asking the job's client; its last figures stay visible (state FINISHED, FAILED …).
  void removeJob(const std::string& jobId);

  int port() const;
  const std::string& address() const;
  const std::string& token() const;
  /// http://address:port/
  std::string url() const;

 private:
  struct Impl;
  explicit RestServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The metrics of `jobs` in Prometheus' text exposition format (version 0.0.4), with names
/// like Flink's: reka_operator_records_in_total{job,job_id,operator,operator_id,subtask} …
/// docs/operations.md lists them.
std::string prometheusText(const std::vector<JobMetrics>& jobs);

}  // namespace reka::web
