#include "JobsCommand.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "JobControl.h"
#include "reka/base/Units.h"

namespace reka::cli {

using nlohmann::json;

namespace {

/// A job's REST endpoint, as the registry or --address gives it.
struct JobEndpoint {
  std::string id;
  std::string name;
  std::string host;
  int port = 0;
  std::string token;
  std::string stateDir;
  int64_t pid = 0;
};

struct ControlFlags {
  std::string job;
  std::string address;  ///< HOST:PORT, instead of the registry
  std::string token;
  bool savepoint = false;
  std::string timeout = "60s";
};

std::optional<JobEndpoint> parseEntry(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  json j = json::parse(s.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  JobEndpoint e;
  e.id = j.value("id", "");
  e.name = j.value("name", "");
  e.host = j.value("address", "127.0.0.1");
  e.port = j.value("port", 0);
  e.token = j.value("token", "");
  e.stateDir = j.value("state_dir", "");
  e.pid = j.value("pid", int64_t{0});
  if (e.id.empty() || e.port <= 0) return std::nullopt;
  return e;
}

/// The jobs running on this machine for this user: the registry's entries whose process lives
/// (entries of processes that died without removing them are removed here).
std::vector<JobEndpoint> registeredJobs() {
  std::vector<JobEndpoint> jobs;
  auto dir = jobRegistryDir();
  if (!dir.isOk()) return jobs;
  DIR* d = ::opendir(dir->c_str());
  if (d == nullptr) return jobs;
  while (dirent* ent = ::readdir(d)) {
    const std::string name = ent->d_name;
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    const std::string path = *dir + "/" + name;
    auto e = parseEntry(path);
    if (!e) continue;
    if (e->pid > 0 && ::kill(static_cast<pid_t>(e->pid), 0) != 0 && errno == ESRCH) {
      ::unlink(path.c_str());
      continue;
    }
    jobs.push_back(*e);
  }
  ::closedir(d);
  return jobs;
}

std::optional<std::string> splitAddress(const std::string& address, JobEndpoint& e) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return "--address '" + address + "': expected HOST:PORT, e.g. 127.0.0.1:8081";
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = address.substr(colon + 1);
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5)
    return "--address '" + address + "': the port is not a number";
  e.host = host;
  e.port = std::stoi(port);
  return std::nullopt;
}

std::unique_ptr<httplib::Client> clientFor(const JobEndpoint& e, std::chrono::seconds readTimeout) {
  auto c = std::make_unique<httplib::Client>(e.host, e.port);
  c->set_connection_timeout(3, 0);
  c->set_read_timeout(readTimeout.count(), 0);
  c->set_write_timeout(5, 0);
  if (!e.token.empty()) c->set_bearer_token_auth(e.token);
  return c;
}

/// GET or POST `path`; the parsed JSON answer, or a message.
Result<json> call(const JobEndpoint& e, const std::string& method, const std::string& path, const std::string& body = "",
                  std::chrono::seconds readTimeout = std::chrono::seconds(10)) {
  auto c = clientFor(e, readTimeout);
  auto res = method == "GET" ? c->Get(path) : c->Post(path, body, "application/json");
  if (!res) {
    return Status::ioError("cannot reach the job's REST API at " + e.host + ":" + std::to_string(e.port) + " (" +
                               httplib::to_string(res.error()) + ")");
  }
  json j = json::parse(res->body, nullptr, false);
  if (res->status >= 300) {
    std::string why = !j.is_discarded() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()
                          ? j["errors"][0].get<std::string>()
                          : res->body;
    return Status::failedPrecondition("HTTP " + std::to_string(res->status) + ": " + why);
  }
  if (j.is_discarded()) return Status::internal("the REST API answered with something that is not JSON");
  return j;
}

/// Finds `job` (an id or its first characters, a name, or a state directory) among the jobs of
/// this machine, or asks the server at --address.
Result<JobEndpoint> resolve(const ControlFlags& f) {
  if (!f.address.empty()) {
    JobEndpoint e;
    if (auto bad = splitAddress(f.address, e)) return Status::invalidArgument(*bad);
    e.token = f.token;
    REKA_ASSIGN_OR_RETURN(json jobs, call(e, "GET", "/jobs"));
    std::vector<JobEndpoint> matches;
    for (const auto& j : jobs["jobs"]) {
      const std::string id = j.value("id", "");
      const std::string name = j.value("name", "");
      if (f.job.empty() || id == f.job || name == f.job || (f.job.size() >= 4 && id.rfind(f.job, 0) == 0)) {
        JobEndpoint m = e;
        m.id = id;
        m.name = name;
        matches.push_back(m);
      }
    }
    if (matches.size() == 1) return matches[0];
    if (matches.empty()) return Status::notFound("no job '" + f.job + "' at " + f.address);
    return Status::invalidArgument("'" + f.job + "' matches " + std::to_string(matches.size()) + " jobs at " + f.address + "; give its id");
  }
  // A state directory names its job through its rest.json.
  struct stat st{};
  if (!f.job.empty() && ::stat(f.job.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    auto e = parseEntry(f.job + "/rest.json");
    if (!e) return Status::notFound("no job with a REST API runs with state directory " + f.job + " (no " + f.job + "/rest.json)");
    if (!f.token.empty()) e->token = f.token;
    return *e;
  }
  std::vector<JobEndpoint> matches;
  for (const auto& e : registeredJobs()) {
    if (e.id == f.job || e.name == f.job || (f.job.size() >= 4 && e.id.rfind(f.job, 0) == 0)) matches.push_back(e);
  }
  if (matches.size() == 1) {
    if (!f.token.empty()) matches[0].token = f.token;
    return matches[0];
  }
  if (matches.empty())
    return Status::notFound("no running job '" + f.job + "' on this machine (`reka list` shows them; --address HOST:PORT asks a server directly)");
  return Status::invalidArgument("'" + f.job + "' matches " + std::to_string(matches.size()) + " jobs; give more of its id");
}

std::string formatWatermark(const json& v) { return v.is_number_integer() ? formatUtcMillis(v.get<int64_t>()) : "-"; }

int fail(const char* who, const Status& s) {
  std::fprintf(stderr, "%s: %s\n", who, s.message().c_str());
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

int runList(const ControlFlags& f) {
  std::vector<JobEndpoint> jobs;
  if (!f.address.empty()) {
    JobEndpoint e;
    if (auto bad = splitAddress(f.address, e)) {
      std::fprintf(stderr, "reka list: %s\n", bad->c_str());
      return 2;
    }
    e.token = f.token;
    auto answer = call(e, "GET", "/jobs");
    if (!answer.isOk()) return fail("reka list", answer.status());
    for (const auto& j : (*answer)["jobs"]) {
      JobEndpoint m = e;
      m.id = j.value("id", "");
      m.name = j.value("name", "");
      jobs.push_back(m);
    }
  } else {
    jobs = registeredJobs();
  }
  std::printf("%-32s  %-10s  %-10s  %-26s  %s\n", "ID", "STATE", "UPTIME", "REST", "NAME");
  for (const auto& e : jobs) {
    auto answer = call(e, "GET", "/jobs/" + e.id);
    std::string state = "UNREACHABLE";
    std::string uptime = "-";
    if (answer.isOk()) {
      state = (*answer).value("state", "?");
      uptime = std::to_string((*answer).value("duration", int64_t{0}) / 1000) + "s";
    }
    std::printf("%-32s  %-10s  %-10s  %-26s  %s\n", e.id.c_str(), state.c_str(), uptime.c_str(),
                (e.host + ":" + std::to_string(e.port)).c_str(), e.name.c_str());
  }
  return 0;
}

int runStatus(const ControlFlags& f) {
  auto e = resolve(f);
  if (!e.isOk()) return fail("reka status", e.status());
  auto job = call(*e, "GET", "/jobs/" + e->id);
  if (!job.isOk()) return fail("reka status", job.status());
  auto cps = call(*e, "GET", "/jobs/" + e->id + "/checkpoints");
  const json& j = *job;
  std::printf("job %s (%s)\nstate %s, up %llds, %lld records read, %d restarts, watermark %s\n", j.value("name", "").c_str(),
              j.value("id", "").c_str(), j.value("state", "").c_str(), static_cast<long long>(j.value("duration", int64_t{0}) / 1000),
              static_cast<long long>(j.value("source-records", int64_t{0})), j.value("restarts", 0),
              formatWatermark(j["watermark"]).c_str());
  if (cps.isOk()) {
    const json& c = (*cps)["counts"];
    std::printf("checkpoints: %lld completed, %lld failed, latest %lld\n", static_cast<long long>(c.value("completed", int64_t{0})),
                static_cast<long long>(c.value("failed", int64_t{0})), static_cast<long long>((*cps).value("latest-completed", int64_t{0})));
  }
  std::printf("%-4s %-36s %4s %14s %14s %10s %10s  %s\n", "ID", "OPERATOR", "PAR", "IN/S", "OUT/S", "BUSY", "BACKPR", "WATERMARK");
  for (const auto& v : j["vertices"]) {
    std::string name = v.value("name", "");
    if (name.size() > 36) name = name.substr(0, 35) + "~";
    std::printf("%-4d %-36s %4d %14.0f %14.0f %7.0fms %7.0fms  %s\n", v.value("id", 0), name.c_str(), v.value("parallelism", 0),
                v.value("records-in-per-second", 0.0), v.value("records-out-per-second", 0.0), v.value("busy-ms-per-second", 0.0),
                v.value("backpressured-ms-per-second", 0.0), formatWatermark(v["output-watermark"]).c_str());
  }
  return 0;
}

int runControl(const ControlFlags& f, const std::string& action, const char* who) {
  auto timeout = parseDuration(f.timeout);
  if (!timeout || timeout->count() <= 0) {
    std::fprintf(stderr, "%s: --timeout '%s' is not a positive duration (e.g. 30s, 2m)\n", who, f.timeout.c_str());
    return 2;
  }
  auto e = resolve(f);
  if (!e.isOk()) return fail(who, e.status());
  std::string body = "{}";
  if (action == "stop") body = json{{"savepoint", f.savepoint}}.dump();
  const auto wait = std::chrono::duration_cast<std::chrono::seconds>(*timeout) + std::chrono::seconds(5);
  auto answer = call(*e, "POST", "/jobs/" + e->id + "/" + action, body, wait);
  if (!answer.isOk()) return fail(who, answer.status());
  if (answer->contains("savepoint")) std::printf("%s\n", (*answer)["savepoint"].get<std::string>().c_str());
  else std::printf("%s %s\n", e->id.c_str(), answer->value("status", "done").c_str());
  return 0;
}

void addAddressFlags(CLI::App* cmd, ControlFlags& f) {
  cmd->add_option("--address", f.address, "HOST:PORT of a job's REST API, instead of the jobs registered on this machine");
  cmd->add_option("--token", f.token, "the REST API's bearer token (default: the one the job registered)");
}

}  // namespace

std::optional<int> savepointThroughRest(const std::string& job, const std::string& address, const std::string& token, bool stop,
                                        const std::string& timeout) {
  ControlFlags f;
  f.job = job;
  f.address = address;
  f.token = token;
  f.savepoint = true;
  f.timeout = timeout;
  return runControl(f, stop ? "stop" : "savepoints", "reka savepoint");
}

void addJobsCommands(CLI::App& app, int& exitCode) {
  auto listFlags = std::make_shared<ControlFlags>();
  auto* list = app.add_subcommand("list", "list the jobs running on this machine (or at --address) with their state");
  addAddressFlags(list, *listFlags);
  list->callback([listFlags, &exitCode] { exitCode = runList(*listFlags); });

  auto statusFlags = std::make_shared<ControlFlags>();
  auto* status = app.add_subcommand("status", "show a running job: state, operators with their rates, checkpoints");
  status->add_option("job", statusFlags->job, "the job: its id (or its first characters), its name, or its state directory")->required();
  addAddressFlags(status, *statusFlags);
  status->callback([statusFlags, &exitCode] { exitCode = runStatus(*statusFlags); });

  auto stopFlags = std::make_shared<ControlFlags>();
  auto* stop = app.add_subcommand("stop", "stop a running job, with a savepoint with --savepoint");
  stop->add_option("job", stopFlags->job, "the job: its id (or its first characters), its name, or its state directory")->required();
  stop->add_flag("--savepoint", stopFlags->savepoint, "take a savepoint and stop at it (the job resumes from it later)");
  stop->add_option("--timeout", stopFlags->timeout, "how long to wait for the savepoint (default 60s)");
  addAddressFlags(stop, *stopFlags);
  stop->callback([stopFlags, &exitCode] { exitCode = runControl(*stopFlags, "stop", "reka stop"); });

  auto cancelFlags = std::make_shared<ControlFlags>();
  auto* cancel = app.add_subcommand("cancel", "cancel a running job at once, without a savepoint");
  cancel->add_option("job", cancelFlags->job, "the job: its id (or its first characters), its name, or its state directory")->required();
  addAddressFlags(cancel, *cancelFlags);
  cancel->callback([cancelFlags, &exitCode] { exitCode = runControl(*cancelFlags, "cancel", "reka cancel"); });
}

}  // namespace reka::cli
