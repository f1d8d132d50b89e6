#include "RunPaths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "checkpoint/CheckpointStorage.h"
#include "reka/connector/AppendFile.h"

namespace reka::cli {

namespace fs = std::filesystem;

namespace {

/// The absolute, symlink-free form of `path` as far as it exists (a missing last part kept).
std::string canonical(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? path : p.string();
}

bool isInside(const std::string& path, const std::string& dir) {
  const std::string d = canonical(dir);
  const std::string p = canonical(path);
  return p == d || (p.size() > d.size() && p.compare(0, d.size(), d) == 0 && p[d.size()] == '/');
}

std::optional<std::string> checkOutputFile(const std::string& flag, const std::string& path, const std::string& input) {
  if (path.empty()) return flag + " needs a file path (an empty one would write nowhere)";
  struct stat link {};
  if (::lstat(path.c_str(), &link) == 0) {
    if (S_ISLNK(link.st_mode))
      return flag + " " + path + " is a symbolic link; Reka does not write through links it did not create (name the target itself)";
    if (S_ISDIR(link.st_mode)) return flag + " " + path + " is a directory; it needs a file path";
    struct stat in {};
    if (!input.empty() && ::stat(input.c_str(), &in) == 0 && in.st_dev == link.st_dev && in.st_ino == link.st_ino)
      return flag + " " + path + " is the input file; writing it would destroy the input";
  }
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::is_directory(parent, ec))
    return flag + " " + path + ": the directory " + parent.string() + " does not exist";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> checkRunPaths(const RunPaths& paths) {
  for (size_t i = 0; i < paths.outputFiles.size(); ++i) {
    const auto& [flag, path] = paths.outputFiles[i];
    if (auto bad = checkOutputFile(flag, path, paths.input)) return bad;
    for (size_t j = 0; j < i; ++j) {
      if (canonical(paths.outputFiles[j].second) == canonical(path))
        return flag + " and " + paths.outputFiles[j].first + " name the same file " + path + "; each output needs its own";
    }
    if (!paths.input.empty() && canonical(path) == canonical(paths.input))
      return flag + " " + path + " is the input file; writing it would destroy the input";
  }
  std::error_code ec;
  if (!paths.input.empty() && !paths.stateDir.empty() && fs::exists(paths.input, ec) && !fs::is_regular_file(paths.input, ec))
    return "--input " + paths.input +
           " is not a regular file (a FIFO or pipe cannot be read again from a checkpoint's position): --state-dir "
           "(checkpoints, restarts, savepoints) needs a regular input file";
  if (!paths.outputDir.empty()) {
    if (fs::exists(paths.outputDir, ec) && !fs::is_directory(paths.outputDir, ec))
      return "--output-dir " + paths.outputDir + " is not a directory";
    if (!paths.input.empty() && isInside(paths.input, paths.outputDir))
      return "--output-dir " + paths.outputDir + " contains the input " + paths.input + "; output must go elsewhere";
    for (const auto& [flag, path] : paths.outputFiles) {
      if (isInside(path, paths.outputDir))
        return flag + " " + path + " lies inside --output-dir " + paths.outputDir + "; put it elsewhere";
    }
  }
  if (!paths.stateDir.empty()) {
    if (fs::exists(paths.stateDir, ec) && !fs::is_directory(paths.stateDir, ec))
      return "--state-dir " + paths.stateDir + " is not a directory";
    if (!paths.outputDir.empty() && (isInside(paths.outputDir, paths.stateDir) || isInside(paths.stateDir, paths.outputDir)))
      return "--output-dir " + paths.outputDir + " and --state-dir " + paths.stateDir + " must not contain one another";
    if (!paths.input.empty() && isInside(paths.input, paths.stateDir))
      return "--state-dir " + paths.stateDir + " contains the input " + paths.input + "; Reka deletes old checkpoints there";
    for (const auto& [flag, path] : paths.outputFiles) {
      if (isInside(path, paths.stateDir))
        return flag + " " + path + " lies inside --state-dir " + paths.stateDir + "; put it elsewhere";
    }
  }
  // Create every output file now: one that cannot be written fails before the job starts.
  for (const auto& [flag, path] : paths.outputFiles) {
    auto file = connector::AppendFile::open(path);
    if (!file.isOk()) return flag + ": " + file.status().message();
  }
  return std::nullopt;
}

std::vector<std::string> committedOutputFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return files;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_regular_file(ec) && name.rfind("part-", 0) == 0) files.push_back(it->path().string());
  }
  return files;
}

bool hasCompleteCheckpoint(const std::string& stateDir) {
  if (stateDir.empty()) return false;
  std::error_code ec;
  if (!fs::is_directory(stateDir, ec)) return false;
  checkpoint::CheckpointStorage storage(stateDir, nullptr);
  return !storage.listComplete().empty();
}

namespace {

/// Why no checkpoint of `stateDir` can be resumed: its checkpoint directories without a
/// manifest, or that it has none.
std::string whyNoCheckpoint(const std::string& stateDir) {
  if (stateDir.empty()) return "the run has no --state-dir";
  std::string reasons;
  std::error_code ec;
  for (const char* kind : {"checkpoints", "savepoints"}) {
    const fs::path dir = fs::path(stateDir) / kind;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (!entry.is_directory(ec)) continue;
      if (!fs::exists(entry.path() / "MANIFEST", ec))
        reasons += (reasons.empty() ? "" : "; ") + (fs::path(kind) / entry.path().filename()).string() +
                   " was rejected: it has no MANIFEST (unfinished, or its manifest was lost)";
    }
  }
  if (reasons.empty()) return "--state-dir " + stateDir + " holds no checkpoint";
  return "--state-dir " + stateDir + " holds no complete checkpoint: " + reasons;
}

}  // namespace

std::optional<std::string> checkFreshOutputDir(const std::string& outputDir, const std::string& stateDir, bool resuming,
                                               bool overwrite) {
  if (outputDir.empty() || resuming) return std::nullopt;
  const std::vector<std::string> committed = committedOutputFiles(outputDir);
  if (committed.empty()) return std::nullopt;
  if (!overwrite) {
    return "--output-dir " + outputDir + " already holds " + std::to_string(committed.size()) + " committed output file" +
           (committed.size() == 1 ? "" : "s") + " (e.g. " + committed.front() + ") and this run has no checkpoint to resume from (" +
           whyNoCheckpoint(stateDir) +
           "), so its rows would be written a second time beside them. Resume with the state directory that wrote them, "
           "or pass --overwrite-output to delete them and start over";
  }
  std::error_code ec;
  size_t removed = 0;
  for (const std::string& file : committed) removed += fs::remove(file, ec) ? 1 : 0;
  // Staged files of the earlier run (.part-*.inprogress) go too: nothing will commit them.
  for (auto it = fs::recursive_directory_iterator(outputDir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(".part-", 0) == 0 && it->is_regular_file(ec)) fs::remove(it->path(), ec);
  }
  std::fprintf(stderr, "reka: --overwrite-output: removed %zu committed output files from %s\n", removed, outputDir.c_str());
  return std::nullopt;
}

std::optional<std::string> writeWholeFile(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot write " + path + ": " + std::strerror(errno);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return "cannot write " + path + ": " + std::strerror(errno);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return "cannot write " + path + ": " + std::strerror(errno);
  return std::nullopt;
}

}  // namespace reka::cli
