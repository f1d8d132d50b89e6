#include "reka/connector/FileSource.h"

#include <glob.h>

#include "reka/state/Serde.h"

namespace reka::connector::file {

/// u8 version (1), i64 offset, i64 next line, i64 lines, i64 bad lines, i64 dead-letter bytes,
/// path.
std::string FilePosition::encode() const {
  std::string out;
  Serde<uint8_t>::write(1, out);
  Serde<int64_t>::write(offset, out);
  Serde<int64_t>::write(nextLine, out);
  Serde<int64_t>::write(lines, out);
  Serde<int64_t>::write(bad, out);
  Serde<int64_t>::write(deadLetterBytes, out);
  Serde<std::string>::write(path, out);
  return out;
}

bool FilePosition::decode(std::string_view in, FilePosition& out) {
  uint8_t version = 0;
  if (!Serde<uint8_t>::read(in, version) || version != 1) return false;
  bool ok = Serde<int64_t>::read(in, out.offset) && Serde<int64_t>::read(in, out.nextLine) && Serde<int64_t>::read(in, out.lines) &&
            Serde<int64_t>::read(in, out.bad) && Serde<int64_t>::read(in, out.deadLetterBytes) && Serde<std::string>::read(in, out.path);
  return ok && in.empty() && out.offset >= 0 && out.nextLine >= 1 && out.lines >= 0 && out.bad >= 0 && out.deadLetterBytes >= 0 &&
         !out.path.empty();
}

namespace {

bool isPattern(const std::string& p) { return p.find_first_of("*?[") != std::string::npos; }

class FileEnumerator final : public SplitEnumerator {
 public:
  explicit FileEnumerator(FileSourceOptions options) : options_(std::move(options)) {}

  Result<std::vector<SplitState>> discover() override {
    std::vector<std::string> paths;
    if (!isPattern(options_.path)) {
      paths.push_back(options_.path);
    } else {
      glob_t g{};
      const int rc = ::glob(options_.path.c_str(), GLOB_ERR, nullptr, &g);
      if (rc == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);  // glob sorts them
      ::globfree(&g);
      if (rc != 0 && rc != GLOB_NOMATCH) return Status::ioError("cannot match " + options_.path);
    }
    std::vector<SplitState> splits;
    for (const auto& p : paths) {
      struct stat st {};
      if (::stat(p.c_str(), &st) != 0) continue;  // gone (rotated, deleted)
      if (S_ISDIR(st.st_mode)) continue;
      SplitState s;
      s.id = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
      FilePosition pos;
      pos.path = p;
      s.position = pos.encode();
      splits.push_back(std::move(s));
    }
    if (splits.empty() && first_)
      return Status::notFound(isPattern(options_.path) ? "no file matches " + options_.path : "cannot open " + options_.path + ": No such file or directory");
    first_ = false;
    return splits;
  }

 private:
  FileSourceOptions options_;
  bool first_ = true;
};

}  // namespace

std::unique_ptr<SplitEnumerator> makeFileEnumerator(const FileSourceOptions& options) {
  return std::make_unique<FileEnumerator>(options);
}

}  // namespace reka::connector::file
