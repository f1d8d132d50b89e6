#include "JobControl.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "reka/base/Log.h"
#include "reka/base/Units.h"
#include "base/ProcessStats.h"

namespace reka::cli {

namespace {

struct PortRange {
  int first = 0;
  int last = 0;
};

/// "0" (off), "8081", or "8081-8099".
std::optional<PortRange> parsePorts(const std::string& text) {
  auto number = [](const std::string& t) -> int {
    if (t.empty() || t.size() > 5 || t.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::atoi(t.c_str());
  };
  const size_t dash = text.find('-');
  PortRange r;
  r.first = number(text.substr(0, dash));
  r.last = dash == std::string::npos ? r.first : number(text.substr(dash + 1));
  if (r.first < 0 || r.last < r.first || r.last > 65535 || (r.first == 0 && r.last != 0)) return std::nullopt;
  return r;
}

std::string badPortsMessage(const std::string& text) {
  return "rest.port '" + text + "': expected a port (1-65535), a range such as 8081-8099, or 0 (off)";
}

/// What the REST server can listen on without a name lookup: an IPv4 or IPv6 literal, or
/// localhost.
bool isListenAddress(const std::string& text) {
  in_addr a4{};
  in6_addr a6{};
  return text == "localhost" || ::inet_pton(AF_INET, text.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, text.c_str(), &a6) == 1;
}

/// Refuses REST settings the server would refuse only after the job started.
std::optional<std::string> checkRestFlags(const std::string& address, const std::string& port) {
  if (!parsePorts(port)) return badPortsMessage(port);
  if (!isListenAddress(address))
    return "rest.address '" + address + "': expected an IP address of this machine (such as 127.0.0.1, 0.0.0.0 or ::1) or localhost";
  return std::nullopt;
}

}  // namespace

int lockStateDir(const char* who, const std::string& stateDir, std::optional<checkpoint::StateDirectoryLock>& lock) {
  if (stateDir.empty()) return 0;
  auto acquired = checkpoint::StateDirectoryLock::acquire(stateDir);
  if (!acquired.isOk()) {
    const std::string& why = acquired.status().message();
    // Held by another job: a run failure. Anything else: the path itself is refused.
    if (acquired.status().code() == StatusCode::kFailedPrecondition) {
      std::fprintf(stderr, "%s: %s\n", who, why.c_str());
      return 1;
    }
    std::fprintf(stderr, "%s: --state-dir %s: %s\n", who, stateDir.c_str(), why.c_str());
    return 2;
  }
  lock.emplace(std::move(*acquired));
  return 0;
}

void OperationFlags::add(CLI::App* cmd, const std::string& defaultName) {
  name = defaultName;
  addConfigOptions(cmd, config);
  cmd->add_option("--name", name, "the job's name, in logs, metrics and the REST API");
  cmd->add_option("--rest-address", restAddress, "address of the REST API and dashboard (default 127.0.0.1; others need the token for every call)");
  cmd->add_option("--rest-port", restPort, "port of the REST API and dashboard, or a range to try (default 8081-8099; 0: off)");
  cmd->add_option("--rest-token", restToken, "bearer token for the REST API (default: a random one, written to the job registry)");
  cmd->add_option("--log-level", logLevel, "trace, debug, info (default), warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "off"}));
  cmd->add_option("--log-format", logFormat, "text (default) or json (one object per line)")->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--state-backend", stateBackend,
                  "where keyed state lives: heap (default; Flink's hashmap) or rocksdb (on local disk, larger than memory)")
      ->check(CLI::IsMember({"heap", "hashmap", "rocksdb"}));
  cmd->add_option("--rocksdb-localdir", rocksdbLocalDir,
                  "directory for RocksDB's working files (default $TMPDIR or /tmp; a private directory is made in it and removed at the end)");
  cmd->add_option("--state-ttl", stateTtl,
                  "keyed state not written for this long expires, e.g. 10m (processing time; full snapshots and savepoints "
                  "leave expired values out; default 0: never)");
  cmd->add_option("--rocksdb-block-cache", rocksdbBlockCache, "RocksDB block cache of the whole job, e.g. 256m (default 64m)");
  cmd->add_option("--memory", memory,
                  "memory budget of the whole process, e.g. 2g: the job stops with an error naming each operator's state "
                  "before its resident memory crosses it; with --state-backend rocksdb the block cache gets a quarter of it, "
                  "the memory tables and the value cache an eighth each, unless those flags are set (default 0: no budget)");
  cmd->add_option("--rocksdb-write-buffers", rocksdbWriteBuffers,
                  "RocksDB memory tables of the whole job together, e.g. 64m (default 64m), charged to the block cache");
  cmd->add_option("--rocksdb-value-cache", rocksdbValueCache,
                  "decoded state values kept in memory in front of RocksDB by the whole job, written back when evicted "
                  "or at a checkpoint, e.g. 64m (default 64m; 0: only the key in use)");
}

std::optional<std::string> OperationFlags::apply(ExecutionConfig& config) const {
  config.stateBackend.kind = stateBackend == "rocksdb" ? StateBackendConfig::Kind::kRocksDb : StateBackendConfig::Kind::kHeap;
  config.stateBackend.rocksdb.localDir = rocksdbLocalDir;
  auto size = [](const char* key, const std::string& text, int64_t& into) -> std::optional<std::string> {
    auto bytes = parseByteSize(text);
    if (!bytes || *bytes < (1 << 20)) return std::string(key) + " '" + text + "': expected a size of at least 1m, such as 64m or 1g";
    into = *bytes;
    return std::nullopt;
  };
  if (auto bad = size("reka.rocksdb-block-cache", rocksdbBlockCache, config.stateBackend.rocksdb.blockCacheBytes)) return bad;
  if (auto bad = size("reka.rocksdb-write-buffers", rocksdbWriteBuffers, config.stateBackend.rocksdb.writeBufferBytes)) return bad;
  if (auto cache = parseByteSize(rocksdbValueCache); !cache || (*cache != 0 && *cache < (1 << 20)))
    return "reka.rocksdb-value-cache '" + rocksdbValueCache + "': expected 0 (off) or a size of at least 1m, such as 64m";
  else
    config.stateBackend.rocksdb.valueCacheBytes = *cache;
  const auto budget = parseByteSize(memory);
  if (!budget || (*budget != 0 && *budget < (64 << 20)))
    return "reka.memory.budget '" + memory + "': expected 0 (no budget) or a size of at least 64m, such as 512m or 2g";
  if (*budget > 0) {
    // RocksDB's share, unless set: what it caches and buffers stays a fixed part of the budget.
    if (rocksdbBlockCache == "64m") config.stateBackend.rocksdb.blockCacheBytes = std::max<int64_t>(*budget / 4, 8 << 20);
    if (rocksdbWriteBuffers == "64m") config.stateBackend.rocksdb.writeBufferBytes = std::max<int64_t>(*budget / 8, 8 << 20);
    if (rocksdbValueCache == "64m") config.stateBackend.rocksdb.valueCacheBytes = *budget / 8;
  }
  auto ttl = parseDuration(stateTtl);
  if (!ttl || ttl->count() < 0) return "table.exec.state.ttl '" + stateTtl + "': expected a duration such as 10m, 1h or 0 (never)";
  config.stateBackend.defaultTtl.ttl = *ttl;
  // Expired values read as absent, so leaving them out of full snapshots changes no result and
  // keeps savepoints to the live state.
  config.stateBackend.defaultTtl.cleanupFullSnapshot = true;
  return std::nullopt;
}

int64_t OperationFlags::memoryBudgetBytes() const { return parseByteSize(memory).value_or(0); }

std::optional<std::string> OperationFlags::prepare(CLI::App* cmd) {
  if (auto bad = applyConfiguration(cmd, config, effective)) return bad;
  auto level = parseLogLevel(logLevel);
  auto format = parseLogFormat(logFormat);
  if (!level.isOk()) return level.status().message();
  if (!format.isOk()) return format.status().message();
  setLogLevel(*level);
  setLogFormat(*format);
  return checkRestFlags(restAddress, restPort);
}

namespace {

/// Writes `content` to `path` with mode 0600, replacing it atomically.
std::optional<std::string> writePrivateFile(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write " + tmp + ": " + std::strerror(errno);
  const bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return "cannot write " + path + ": " + std::strerror(errno);
  }
  return std::nullopt;
}

}  // namespace

Result<std::string> jobRegistryDir() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  const std::string dir = runtime != nullptr && runtime[0] == '/' ? std::string(runtime) + "/reka" : "/tmp/reka-" + std::to_string(::getuid());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Status::ioError("cannot create " + dir + ": " + std::strerror(errno));
  struct stat st{};
  if (::lstat(dir.c_str(), &st) != 0) return Status::ioError("cannot inspect " + dir + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::getuid() || (st.st_mode & 077) != 0)
    return Status::failedPrecondition(dir + " is not a private directory of this user (another user's, a link, or open to others); "
                                            "remove it or set XDG_RUNTIME_DIR");
  return dir;
}

Result<std::unique_ptr<RestSession>> RestSession::start(const char* who, const OperationFlags& ops, const std::string& stateDir,
                                                        JobClient& client) {
  auto ports = parsePorts(ops.restPort);
  if (!ports) return Status::invalidArgument(badPortsMessage(ops.restPort));
  std::unique_ptr<RestSession> session(new RestSession());
  if (ports->first == 0) return session;
  web::RestOptions options;
  options.address = ops.restAddress;
  options.port = ports->first;
  options.lastPort = ports->last;
  options.token = ops.restToken;
  auto server = web::RestServer::start(options);
  if (!server.isOk()) {
    if (ops.effective.source("rest.port") != "default") return server.status();
    log(LogLevel::kWarn, std::string("no REST API for this job: ") + server.status().message());
    return session;
  }
  session->server_ = std::move(*server);
  const JobMetrics m = client.metrics();
  session->jobId_ = m.jobId;
  web::JobRegistration registration;
  registration.client = &client;
  registration.config = ops.effective.entries;
  std::weak_ptr<Shared> shared = session->shared_;
  registration.stopped = [shared](const std::string& savepoint) {
    if (auto s = shared.lock()) {
      std::lock_guard<std::mutex> lock(s->mutex);
      s->stopped = true;
      s->savepoint = savepoint;
    }
  };
  session->server_->addJob(std::move(registration));

  nlohmann::json entry = {{"id", m.jobId},
                          {"name", m.jobName},
                          {"pid", static_cast<int64_t>(::getpid())},
                          {"url", session->server_->url()},
                          {"address", session->server_->address()},
                          {"port", session->server_->port()},
                          {"token", session->server_->token()},
                          {"state_dir", stateDir},
                          {"start_time", m.startTimeMs}};
  auto dir = jobRegistryDir();
  if (dir.isOk()) {
    const std::string path = *dir + "/" + m.jobId + ".json";
    if (auto bad = writePrivateFile(path, entry.dump() + "\n")) log(LogLevel::kWarn, *bad);
    else session->files_.push_back(path);
  } else {
    log(LogLevel::kWarn, "the job is not listed by `reka list`: " + dir.status().message());
  }
  if (!stateDir.empty()) {
    const std::string path = stateDir + "/rest.json";
    if (auto bad = writePrivateFile(path, entry.dump() + "\n")) log(LogLevel::kWarn, *bad);
    else session->files_.push_back(path);
  }
  std::fprintf(stderr, "%s: dashboard and REST API at %s (job %s)\n", who, session->server_->url().c_str(), m.jobId.c_str());
  return session;
}

void RestSession::close() {
  if (server_ && !closed_) server_->removeJob(jobId_);
  closed_ = true;
}

RestSession::~RestSession() {
  close();
  for (const auto& f : files_) ::unlink(f.c_str());
}

bool RestSession::stopped() const {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->stopped;
}

std::string RestSession::savepoint() const {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->savepoint;
}

int superviseJob(StreamEnvironment& env, const char* who, const std::string& stateDir, const OperationFlags& ops) {
  const double cpuStart = processCpuSeconds();
  auto client = env.executeAsync();
  if (!client.isOk()) {
    std::fprintf(stderr, "%s: %s\n", who, client.status().message().c_str());
    return 1;
  }
  auto rest = RestSession::start(who, ops, stateDir, **client);
  if (!rest.isOk()) {
    std::fprintf(stderr, "%s: %s\n", who, rest.status().message().c_str());
    (*client)->cancel();
    (void)(*client)->wait();
    return 1;
  }
  SupervisorOptions options;
  options.who = who;
  options.memoryBudgetBytes = ops.memoryBudgetBytes();
  options.savepointOnStop = !stateDir.empty();
  const SupervisedRun run = reka::superviseJob(**client, options);
  bool stoppedWithSavepoint = !run.savepoint.empty();
  const Status& status = run.status;
  JobMetrics m = (*client)->metrics();
  const double cpu = processCpuSeconds() - cpuStart;
  (*rest)->close();  // waits for a REST stop in flight, so that stopped() is final
  const bool stoppedByRest = (*rest)->stopped();
  if (stoppedByRest) {
    stoppedWithSavepoint = !(*rest)->savepoint().empty();
    if (stoppedWithSavepoint) std::fprintf(stderr, "%s: stopped through the REST API with savepoint %s\n", who, (*rest)->savepoint().c_str());
    else std::fprintf(stderr, "%s: cancelled through the REST API\n", who);
  }
  rest->reset();
  if (!status.isOk() && status.code() != StatusCode::kCancelled) {
    std::fprintf(stderr, "%s: job failed: %s\n", who, status.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "%s: %lld rows read, %.2f CPU-s%s\n", who, static_cast<long long>(m.sourceRecords), cpu,
               stoppedWithSavepoint ? " (stopped with a savepoint)" : status.isOk() ? "" : " (interrupted)");
  return status.isOk() || stoppedWithSavepoint || stoppedByRest ? 0 : 130;
}

}  // namespace reka::cli
