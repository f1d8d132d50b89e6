#include "reka/connector/TransactionalFileSink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace reka::connector {

namespace {

constexpr std::string_view kInProgressSuffix = ".inprogress";
constexpr std::string_view kBlobMagic = "RTFS";
constexpr uint32_t kBlobVersion = 1;

Status ioError(const std::string& what, const std::string& path, int err) {
  return Status::ioError(what + " " + path + ": " + std::strerror(err));
}

void throwIfError(const Status& s) {
  if (!s.isOk()) throw std::runtime_error(s.message());
}

// ---- Snapshot blob: fixed-size integers in host order, strings with a 32-bit length ----------

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void putString(std::string& out, std::string_view s) {
  put(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}
template <class T>
bool get(std::string_view& in, T& v) {
  if (in.size() < sizeof v) return false;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return true;
}
bool getString(std::string_view& in, std::string& s) {
  uint32_t n = 0;
  if (!get(in, n) || in.size() < n) return false;
  s.assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

/// A relative path of names other than "", "." and "..", or "".
bool isRelativePartition(std::string_view p) {
  if (p.empty()) return true;
  size_t start = 0;
  while (true) {
    size_t slash = p.find('/', start);
    std::string_view name =
        p.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (name.empty() || name == "." || name == ".." || name.find('\0') != std::string_view::npos)
      return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

/// What a file name says when it is one of the sink's part files.
struct PartName {
  int subtask = 0;
  int64_t seq = 0;
  bool inProgress = false;
};

/// Parses `<prefix>-<subtask>-<seq><suffix>` or `.<prefix>-<subtask>-<seq><suffix>.inprogress`.
bool parsePartName(std::string_view name, std::string_view prefix, std::string_view suffix,
                   PartName& out) {
  out.inProgress = name.size() > kInProgressSuffix.size() + 1 && name.front() == '.' &&
                   name.ends_with(kInProgressSuffix);
  if (out.inProgress) name = name.substr(1, name.size() - 1 - kInProgressSuffix.size());
  if (!name.starts_with(prefix) || name.size() <= prefix.size() || name[prefix.size()] != '-')
    return false;
  name.remove_prefix(prefix.size() + 1);
  auto number = [&](auto& value) {
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), value);
    if (ec != std::errc() || end == name.data()) return false;
    name.remove_prefix(static_cast<size_t>(end - name.data()));
    return true;
  };
  if (!number(out.subtask) || name.empty() || name.front() != '-') return false;
  name.remove_prefix(1);
  return number(out.seq) && name == suffix;
}

std::string parentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Status writeAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError("writing", path, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace

TransactionalFileWriter::TransactionalFileWriter(TransactionalFileSinkOptions options, int subtask,
                                                 bool staged, bool commitAtFinish)
    : options_(std::move(options)),
      subtask_(subtask),
      staging_(staged),
      commitAtFinish_(commitAtFinish) {
  while (options_.directory.size() > 1 && options_.directory.back() == '/')
    options_.directory.pop_back();
}

TransactionalFileWriter::~TransactionalFileWriter() {
  for (auto& [partition, f] : open_)
    if (f.fd >= 0) ::close(f.fd);
}

Status TransactionalFileWriter::open() {
  const auto& o = options_;
  if (o.directory.empty())
    return Status::invalidArgument("transactional file sink: no directory given");
  if (o.prefix.empty() || o.prefix.find('/') != std::string::npos)
    return Status::invalidArgument("transactional file sink: bad file prefix '" + o.prefix + "'");
  if (o.suffix.find('/') != std::string::npos ||
      (!o.suffix.empty() && o.suffix[0] >= '0' && o.suffix[0] <= '9'))
    return Status::invalidArgument("transactional file sink: bad file suffix '" + o.suffix + "'");
  if (o.maxFileBytes <= 0 || o.bufferBytes == 0 || o.maxOpenFiles == 0)
    return Status::invalidArgument(
        "transactional file sink: maxFileBytes, bufferBytes and maxOpenFiles must be positive");
  std::error_code ec;
  const bool existed = std::filesystem::exists(o.directory, ec);
  std::filesystem::create_directories(o.directory, ec);
  if (ec)
    return Status::ioError("cannot create output directory " + o.directory + ": " + ec.message());
  if (!std::filesystem::is_directory(o.directory, ec))
    return Status::ioError("cannot create output directory " + o.directory + ": " +
                           std::strerror(ENOTDIR));
  if (!existed) dirsToSync_.insert(parentOf(o.directory));
  knownDirs_.insert("");
  return Status::ok();
}

std::string TransactionalFileWriter::absolute(std::string_view relative) const {
  std::string path = options_.directory;
  if (!relative.empty()) path.append("/").append(relative);
  return path;
}

void TransactionalFileWriter::markDirectoryOf(const std::string& absolutePath) {
  dirsToSync_.insert(parentOf(absolutePath));
}

Status TransactionalFileWriter::ensureStarted() {
  if (started_) return Status::ok();
  return scan(0, /*restoring=*/false);
}

Status TransactionalFileWriter::scan(int64_t restoredNextSeq, bool restoring) {
  namespace fs = std::filesystem;
  int64_t next = restoredNextSeq;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(options_.directory, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code typeError;  // an entry that vanished meanwhile (another subtask's) is skipped
    if (!it->is_regular_file(typeError)) continue;
    PartName part;
    const std::string name = it->path().filename().string();
    if (!parsePartName(name, options_.prefix, options_.suffix, part) || part.subtask != subtask_)
      continue;
    const std::string path = it->path().string();
    if (restoring && part.inProgress && staging_) {
      // Written after the restored checkpoint: its rows will be replayed.
      if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return ioError("cannot delete", path, errno);
      markDirectoryOf(path);
      continue;
    }
    if (restoring && !part.inProgress && !staging_ && part.seq >= restoredNextSeq) {
      REKA_RETURN_IF_ERROR(repairTornTail(path));
    }
    next = std::max(next, part.seq + 1);
  }
  if (ec)
    return Status::ioError("cannot list output directory " + options_.directory + ": " +
                           ec.message());
  nextSeq_ = std::max(nextSeq_, next);
  started_ = true;
  return Status::ok();
}

Status TransactionalFileWriter::repairTornTail(const std::string& path) {
  // A file written directly may end in a line cut by the crash; later lines are replayed.
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return ioError("cannot open", path, errno);
  struct stat st {};
  Status status;
  if (::fstat(fd, &st) != 0) status = ioError("cannot stat", path, errno);
  off_t keep = st.st_size;
  char chunk[4096];
  while (status.isOk() && keep > 0) {
    const off_t from = std::max<off_t>(0, keep - static_cast<off_t>(sizeof chunk));
    const ssize_t n = ::pread(fd, chunk, static_cast<size_t>(keep - from), from);
    if (n != keep - from) {
      status = ioError("reading", path, n < 0 ? errno : EIO);
      break;
    }
    const char* nl = static_cast<const char*>(::memrchr(chunk, '\n', static_cast<size_t>(n)));
    if (nl != nullptr) {
      keep = from + (nl - chunk) + 1;
      break;
    }
    keep = from;
  }
  if (status.isOk() && keep == 0) {
    // Nothing complete in it (created just before the crash): remove it rather than leave it empty.
    if (::unlink(path.c_str()) != 0) status = ioError("cannot delete", path, errno);
    markDirectoryOf(path);
  } else if (status.isOk() && keep != st.st_size) {
    if (::ftruncate(fd, keep) != 0 || ::fsync(fd) != 0)
      status = ioError("cannot cut the torn last line of", path, errno);
  }
  ::close(fd);
  return status;
}

Status TransactionalFileWriter::makePartitionDirs(std::string_view partition) {
  if (knownDirs_.count(std::string(partition)) != 0) return Status::ok();
  if (!isRelativePartition(partition))
    return Status::invalidArgument("transactional file sink: partition '" + std::string(partition) +
                                   "' is not a relative directory path");
  std::string path = options_.directory;
  size_t start = 0;
  while (start <= partition.size()) {
    size_t slash = partition.find('/', start);
    if (slash == std::string_view::npos) slash = partition.size();
    path.append("/").append(partition.substr(start, slash - start));
    if (::mkdir(path.c_str(), 0755) == 0) {
      markDirectoryOf(path);
    } else if (errno == EEXIST) {
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) return ioError("cannot create directory", path, errno);
      if (!S_ISDIR(st.st_mode)) return ioError("cannot create directory", path, ENOTDIR);
    } else {
      return ioError("cannot create directory", path, errno);
    }
    start = slash + 1;
  }
  knownDirs_.insert(std::string(partition));
  return Status::ok();
}

Status TransactionalFileWriter::openFile(std::string_view partition, OpenFile*& result) {
  REKA_RETURN_IF_ERROR(ensureStarted());
  REKA_RETURN_IF_ERROR(makePartitionDirs(partition));
  if (open_.size() >= options_.maxOpenFiles) {
    auto lru = std::min_element(open_.begin(), open_.end(), [](const auto& a, const auto& b) {
      return a.second.lastUse < b.second.lastUse;
    });
    REKA_RETURN_IF_ERROR(close(lru->second));
    open_.erase(lru);
  }
  const std::string name = options_.prefix + "-" + std::to_string(subtask_) + "-" +
                           std::to_string(nextSeq_) + options_.suffix;
  const std::string dir = partition.empty() ? std::string() : std::string(partition) + "/";
  OpenFile f;
  f.partition = std::string(partition);
  f.finalName = dir + name;
  f.writeName = staging_ ? dir + "." + name + std::string(kInProgressSuffix) : f.finalName;
  f.path = absolute(f.writeName);
  // O_EXCL: numbers are past every file of this subtask, so an existing file means another
  // writer uses the same directory and subtask.
  f.fd = ::open(f.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (f.fd < 0) return ioError("cannot create", f.path, errno);
  ++nextSeq_;
  markDirectoryOf(f.path);
  f.buffer.reserve(options_.bufferBytes + 4096);
  auto [it, inserted] = open_.emplace(f.partition, std::move(f));
  result = &it->second;
  return Status::ok();
}

std::string& TransactionalFileWriter::beginLine(std::string_view partition) {
  if (current_ == nullptr || current_->partition != partition) {
    auto it = open_.find(partition);
    if (it != open_.end()) {
      current_ = &it->second;
    } else {
      current_ = nullptr;
      throwIfError(openFile(partition, current_));
    }
  }
  current_->lastUse = ++useClock_;
  lineStart_ = current_->buffer.size();
  return current_->buffer;
}

void TransactionalFileWriter::endLine() {
  OpenFile& f = *current_;
  if (f.buffer.size() == lineStart_ || f.buffer.back() != '\n') f.buffer.push_back('\n');
  f.bytes += static_cast<int64_t>(f.buffer.size() - lineStart_);
  if (f.bytes >= options_.maxFileBytes) {
    current_ = nullptr;
    Status s = close(f);
    open_.erase(open_.find(f.partition));
    throwIfError(s);
  } else if (f.buffer.size() >= options_.bufferBytes) {
    throwIfError(flush(f));
  }
}

Status TransactionalFileWriter::flush(OpenFile& f) {
  Status s = writeAll(f.fd, f.buffer.data(), f.buffer.size(), f.path);
  if (s.isOk() && bytesOut_ != nullptr) bytesOut_->fetch_add(static_cast<int64_t>(f.buffer.size()), std::memory_order_relaxed);
  f.buffer.clear();
  return s;
}

Status TransactionalFileWriter::close(OpenFile& f) {
  Status s = flush(f);
  if (s.isOk() && ::fsync(f.fd) != 0) s = ioError("cannot sync", f.path, errno);
  if (::close(f.fd) != 0 && s.isOk()) s = ioError("closing", f.path, errno);
  f.fd = -1;
  if (s.isOk() && staging_)
    staged_.push_back(StagedFile{kNotSnapshotted, f.writeName, f.finalName});
  return s;
}

Status TransactionalFileWriter::closeAll() {
  current_ = nullptr;
  Status first;
  for (auto& [partition, f] : open_) {
    Status s = close(f);
    if (first.isOk()) first = s;
  }
  open_.clear();
  return first;
}

Status TransactionalFileWriter::syncDirectories() {
  for (auto it = dirsToSync_.begin(); it != dirsToSync_.end(); it = dirsToSync_.erase(it)) {
    int fd = ::open(it->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ioError("cannot open directory", *it, errno);
    const bool ok = ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    if (!ok) return ioError("cannot sync directory", *it, err);
  }
  return Status::ok();
}

Status TransactionalFileWriter::commitFile(const std::string& inProgress,
                                           const std::string& finalName) {
  const std::string from = absolute(inProgress);
  const std::string to = absolute(finalName);
  if (::rename(from.c_str(), to.c_str()) != 0) {
    const int err = errno;
    struct stat st {};
    // Already renamed by an earlier commit (or by a restore of this checkpoint).
    if (err == ENOENT && ::stat(to.c_str(), &st) == 0) return Status::ok();
    if (err == ENOENT)
      return Status::ioError("cannot commit " + from + ": neither it nor " + to + " exists (" +
                             std::strerror(err) + ")");
    return Status::ioError("cannot rename " + from + " to " + to + ": " + std::strerror(err));
  }
  markDirectoryOf(to);
  return Status::ok();
}

Status TransactionalFileWriter::commitStaged(int64_t upTo) {
  size_t kept = 0;
  Status status;
  for (size_t i = 0; i < staged_.size(); ++i) {
    StagedFile& f = staged_[i];
    if (status.isOk() && f.checkpointId <= upTo) {
      status = commitFile(f.inProgress, f.finalName);
      if (status.isOk()) continue;
    }
    if (kept != i) staged_[kept] = std::move(f);
    ++kept;
  }
  staged_.resize(kept);
  REKA_RETURN_IF_ERROR(status);
  return syncDirectories();
}

void TransactionalFileWriter::finish() {
  throwIfError(closeAll());
  if (commitAtFinish_) {
    throwIfError(commitStaged(kNotSnapshotted));
  } else {
    throwIfError(syncDirectories());
  }
}

Status TransactionalFileWriter::snapshot(int64_t checkpointId, std::string& out) {
  REKA_RETURN_IF_ERROR(closeAll());
  REKA_RETURN_IF_ERROR(syncDirectories());
  for (auto& f : staged_)
    if (f.checkpointId == kNotSnapshotted) f.checkpointId = checkpointId;
  out.append(kBlobMagic);
  put(out, kBlobVersion);
  put(out, static_cast<int32_t>(subtask_));
  put(out, nextSeq_);
  put(out, static_cast<uint32_t>(staged_.size()));
  for (const auto& f : staged_) {
    put(out, f.checkpointId);
    putString(out, f.inProgress);
    putString(out, f.finalName);
  }
  return Status::ok();
}

Status TransactionalFileWriter::restore(std::string_view in) {
  const auto corrupt = [&](const char* what) {
    return Status::corruption("transactional file sink " + options_.directory + ": bad snapshot (" +
                              what + ")");
  };
  if (!in.starts_with(kBlobMagic)) return corrupt("no magic");
  in.remove_prefix(kBlobMagic.size());
  uint32_t version = 0, count = 0;
  int32_t subtask = 0;
  int64_t nextSeq = 0;
  if (!get(in, version) || version != kBlobVersion) return corrupt("unknown version");
  if (!get(in, subtask) || !get(in, nextSeq) || !get(in, count)) return corrupt("truncated header");
  // Each file takes at least 16 bytes (i64 checkpoint, two u32 lengths): a larger count is
  // corrupt, and must not size the vector (up to 2^32 entries).
  if (count > in.size() / 16) return corrupt("truncated file list");
  std::vector<StagedFile> files(count);
  for (auto& f : files) {
    if (!get(in, f.checkpointId) || !getString(in, f.inProgress) || !getString(in, f.finalName))
      return corrupt("truncated file list");
    if (!isRelativePartition(f.inProgress) || !isRelativePartition(f.finalName))
      return corrupt("bad file name");
  }
  if (!in.empty()) return corrupt("trailing bytes");
  // The restored checkpoint is complete, so everything it staged is committed now.
  for (const auto& f : files) REKA_RETURN_IF_ERROR(commitFile(f.inProgress, f.finalName));
  REKA_RETURN_IF_ERROR(scan(nextSeq, /*restoring=*/true));
  return syncDirectories();
}

void TransactionalFileWriter::commit(int64_t checkpointId) {
  if (staging_) throwIfError(commitStaged(checkpointId));
}

}  // namespace reka::connector
