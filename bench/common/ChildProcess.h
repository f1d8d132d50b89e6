#pragma once

// Runs a benchmark body in a forked child process, so that every run has its own heap, threads,
// CPU time and peak RSS, and hands its result back as text through a pipe.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

namespace reka::bench {

/// Calls `body` in a child process and returns the text it returned ("" if the child died).
inline std::string runInChild(const std::function<std::string()>& body) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const std::string text = body();
    if (write(fds[1], text.data(), text.size()) != static_cast<ssize_t>(text.size())) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) std::fprintf(stderr, "benchmark child process died of signal %d\n", WTERMSIG(status));
  else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) std::fprintf(stderr, "benchmark child process exited with %d\n", WEXITSTATUS(status));
  return text;
}

}  // namespace reka::bench
