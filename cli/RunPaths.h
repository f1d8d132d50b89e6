#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace reka::cli {

/// What a run reads and writes, as its flags name them; checked before anything runs, so that
/// a mistake is refused with a message instead of failing late or destroying input.
struct RunPaths {
  std::string input;  ///< empty: the in-process generator
  /// (flag, path) of each file the run writes: --output, --dead-letter, --late-output, --report.
  std::vector<std::pair<std::string, std::string>> outputFiles;
  std::string outputDir;
  std::string stateDir;
};

/// Refuses (with a message naming the flag, the path and what is wrong) an output file that is
/// a symbolic link, a directory, in a missing directory, the input itself or another output;
/// an output directory that is a file or contains the input; a state directory that is a file.
/// Then creates each output file (never truncating it, never through a symlink) so that one
/// that cannot be written fails now. nullopt: all good.
std::optional<std::string> checkRunPaths(const RunPaths& paths);

/// The committed part files (`part-*`, not hidden) under `dir`, recursively; empty if `dir`
/// does not exist.
std::vector<std::string> committedOutputFiles(const std::string& dir);

/// A run that starts without a checkpoint must not write into an output directory that
/// already holds committed output (the rows would be there twice). Returns the reason to
/// refuse, or nullopt; with `overwrite` deletes the committed and staged part files instead and
/// says so on stderr. `resuming`: the run restores a checkpoint or savepoint.
std::optional<std::string> checkFreshOutputDir(const std::string& outputDir, const std::string& stateDir, bool resuming,
                                               bool overwrite);

/// Whether the state directory holds a complete checkpoint or savepoint to resume from.
bool hasCompleteCheckpoint(const std::string& stateDir);

/// Writes `text` as the whole content of `path` (created 0644, never through a symlink).
std::optional<std::string> writeWholeFile(const std::string& path, const std::string& text);

}  // namespace reka::cli
