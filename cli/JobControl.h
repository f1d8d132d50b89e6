#pragma once

// What every command that runs a job shares: signals (SIGINT/SIGTERM stop, SIGUSR1 savepoint)
// and the watchdog that ends the process if a stop does not finish.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "Config.h"
#include "checkpoint/StateDirectoryLock.h"
#include "reka/web/RestServer.h"
#include "reka/api/Supervisor.h"
#include "reka/reka.h"

namespace reka::cli {

/// One job per state directory: creates it if needed and takes its lock into `lock` (held until
/// the caller drops it; the kernel drops it if the process dies). Empty `stateDir`: nothing.
/// Returns 0, or the exit status after saying why on stderr (prefixed with `who`): 1 when
/// another process holds the directory, 2 when the path cannot be created or locked.
int lockStateDir(const char* who, const std::string& stateDir, std::optional<checkpoint::StateDirectoryLock>& lock);

/// The flags every command that runs a job has besides its checkpoint flags: configuration,
/// the job's name, the REST server, logging, the state backend.
struct OperationFlags {
  ConfigFlags config;
  std::string name;
  std::string restAddress = "127.0.0.1";
  std::string restPort = "8081-8099";
  std::string restToken;
  std::string logLevel = "info";
  std::string logFormat = "text";
  std::string stateBackend = "heap";
  std::string rocksdbLocalDir;
  std::string rocksdbBlockCache = "64m";
  std::string rocksdbWriteBuffers = "64m";
  std::string rocksdbValueCache = "64m";
  std::string stateTtl = "0";
  std::string memory = "0";
  /// What is in effect, after applyConfiguration (filled by prepare()).
  EffectiveConfig effective;

  void add(CLI::App* cmd, const std::string& defaultName);
  /// Applies the configuration to `cmd`'s options (call first in the command's callback), then
  /// the logging settings, and checks the REST address and port before any job starts. A
  /// message says what is wrong.
  std::optional<std::string> prepare(CLI::App* cmd);
  /// Sets the state backend of `config` from the flags; a message says what is wrong.
  std::optional<std::string> apply(ExecutionConfig& config) const;
  /// The memory budget in bytes (`--memory`; 0: none), once apply() has accepted it.
  int64_t memoryBudgetBytes() const;
};

/// The REST server, dashboard and job registry entry of a job the command runs. Started after
/// the job; removed (files included) when destroyed.
class RestSession {
 public:
  /// Starts serving `client` as `ops` says (nothing when rest.port is 0). A default port range
  /// that is all taken only warns; a port the user chose fails. Prints the dashboard's URL.
  static Result<std::unique_ptr<RestSession>> start(const char* who, const OperationFlags& ops, const std::string& stateDir,
                                                    JobClient& client);
  ~RestSession();
  /// The job has ended: stops asking its client (after REST calls in flight finish); the
  /// server keeps showing its last figures until the session is destroyed.
  void close();
  /// A REST call stopped or cancelled the job; savepoint() is the savepoint it took, if any.
  bool stopped() const;
  std::string savepoint() const;

 private:
  RestSession() = default;
  struct Shared {
    std::mutex mutex;
    bool stopped = false;
    std::string savepoint;
  };
  std::unique_ptr<web::RestServer> server_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::string jobId_;
  bool closed_ = false;
  std::vector<std::string> files_;  ///< registry entries to remove
};

/// Where running jobs record their REST address: $XDG_RUNTIME_DIR/reka, else /tmp/reka-UID
/// (created 0700; refused if another user owns it or others can write to it).
Result<std::string> jobRegistryDir();

/// Runs the job of `env` to its end on this thread under reka::superviseJob (signals: SIGUSR1
/// takes a savepoint; an interrupt stops the job, with a savepoint when `stateDir` is set); the
/// REST API can stop it too. Prints a summary and problems prefixed with `who`; returns the exit
/// status (0, 1 failed, 130 interrupted without a savepoint).
int superviseJob(StreamEnvironment& env, const char* who, const std::string& stateDir, const OperationFlags& ops);

}  // namespace reka::cli
