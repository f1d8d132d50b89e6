#pragma once

// Test-only helpers for running jobs: a thread-safe collecting sink and a bounded wait.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "reka/reka.h"

namespace reka::testing {

/// Records collected by a sink, from any number of sink subtasks. Thread-safe.
template <class T>
class Collector {
 public:
  void add(T value) {
    std::lock_guard<std::mutex> lock(mutex_);
    values_.push_back(std::move(value));
  }
  /// What was collected, in arrival order (per sink subtask, the order of its input).
  std::vector<T> values() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return values_;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return values_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<T> values_;
};

/// A sink callable that appends every record to a shared collector.
template <class T>
auto collectInto(std::shared_ptr<Collector<T>> collector) {
  return [collector](const T& value) { collector->add(value); };
}

/// The default bound on a test job's run time; generous so that sanitizer builds pass.
inline constexpr std::chrono::seconds kJobTimeout{120};

/// Runs `client`'s job to its end and returns how it ended. If it has not ended within
/// `timeout`, fails the test, cancels the job and returns its (Cancelled) status.
inline Status awaitJob(JobClient& client, std::chrono::milliseconds timeout = kJobTimeout) {
  if (!client.waitFor(timeout)) {
    ADD_FAILURE() << "job did not end within " << timeout.count() << " ms; cancelling it";
    client.cancel();
  }
  return client.wait();
}

/// Same as env.execute(), but bounded: starts the job, fails the test and cancels the job if it
/// does not end within `timeout`.
inline Status runJob(StreamEnvironment& env, std::chrono::milliseconds timeout = kJobTimeout) {
  auto client = env.executeAsync();
  if (!client.isOk()) return client.status();
  return awaitJob(**client, timeout);
}

/// The lines of every visible file under `dir` (a sink's committed part files), sorted; none
/// if `dir` does not exist.
inline std::vector<std::string> linesUnder(const std::filesystem::path& dir) {
  std::vector<std::string> lines;
  if (!std::filesystem::exists(dir)) return lines;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename().string().front() == '.') continue;
    std::ifstream in(e.path());
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace reka::testing
