#include "checkpoint/CheckpointStorage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <new>

#include <xxhash.h>

#include "reka/base/Check.h"

namespace reka {

namespace {

std::string sysError(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::string parentOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status syncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::ioError(sysError("cannot open directory", dir));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::ioError(sysError("cannot sync directory", dir));
  return Status::ok();
}

/// Reads `fd` (the file `path`) to its end in 1 MiB pieces, giving each to `piece`; stops at the
/// first error.
Status readInPieces(int fd, const std::string& path, const std::function<Status(const char*, size_t)>& piece) {
  std::string buf(1 << 20, '\0');
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::ioError(sysError("cannot read", path));
    if (n == 0) return Status::ok();
    REKA_RETURN_IF_ERROR(piece(buf.data(), static_cast<size_t>(n)));
  }
}

class LocalFileSystem final : public CheckpointFileSystem {
 public:
  static constexpr size_t kDirectAlign = 4096;
  static constexpr size_t kDirectMinBytes = 1 << 20;

  Status makeDirs(const std::string& path) override {
    if (path.empty()) return Status::invalidArgument("empty directory path");
    std::string partial;
    size_t pos = 0;
    while (pos <= path.size()) {
      size_t next = path.find('/', pos);
      if (next == std::string::npos) next = path.size();
      partial = path.substr(0, next);
      pos = next + 1;
      if (partial.empty()) continue;
      if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) return Status::ioError(sysError("cannot create directory", partial));
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return Status::ioError(path + " is not a directory");
    return Status::ok();
  }

  Status writeFile(const std::string& path, std::string_view data) override {
    if (data.size() >= kDirectMinBytes && reinterpret_cast<uintptr_t>(data.data()) % kDirectAlign == 0) {
      if (writeDirect(path, data)) return Status::ok();
      // Not supported here (tmpfs, some file systems) or refused: write through the page cache.
    }
    return writeBuffered(path, data);
  }

  /// The aligned bulk with O_DIRECT (DMA from `data`, no page cache copy), the tail through the
  /// page cache, then fsync. False if O_DIRECT is unavailable or a write fails (the caller
  /// rewrites the file the ordinary way, which reports errors).
  static bool writeDirect(const std::string& path, std::string_view data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_DIRECT, 0600);
    if (fd < 0) return false;
    const size_t bulk = data.size() / kDirectAlign * kDirectAlign;
    bool ok = writeAll(fd, data.data(), bulk, 0);
    ok = ::close(fd) == 0 && ok;
    if (!ok) return false;
    fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return false;
    ok = writeAll(fd, data.data() + bulk, data.size() - bulk, static_cast<off_t>(bulk)) && ::fsync(fd) == 0;
    ok = ::close(fd) == 0 && ok;
    return ok;
  }
  static bool writeAll(int fd, const char* p, size_t n, off_t at) {
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::pwrite(fd, p + done, n - done, at + static_cast<off_t>(done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      done += static_cast<size_t>(w);
    }
    return true;
  }

  Status writeBuffered(const std::string& path, std::string_view data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return Status::ioError(sysError("cannot create", path));
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        Status s = Status::ioError(sysError("cannot write", path));
        ::close(fd);
        return s;
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
      Status s = Status::ioError(sysError("cannot sync", path));
      ::close(fd);
      return s;
    }
    if (::close(fd) != 0) return Status::ioError(sysError("cannot close", path));
    return Status::ok();
  }

  Result<std::string> readFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::ioError(sysError("cannot open", path));
    std::string out;
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        Status s = Status::ioError(sysError("cannot read", path));
        ::close(fd);
        return s;
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Status::ioError(sysError("cannot rename " + from + " to", to));
    return syncDirectory(parentOf(to));
  }

  Result<std::vector<std::string>> list(const std::string& path) override {
    std::vector<std::string> names;
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) {
      if (errno == ENOENT) return names;
      return Status::ioError(sysError("cannot list", path));
    }
    while (dirent* e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
  }

  static Status copyFile(const std::string& from, const std::string& to) {
    const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return Status::ioError(sysError("cannot open", from));
    const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (out < 0) {
      ::close(in);
      return Status::ioError(sysError("cannot create", to));
    }
    off_t at = 0;
    Status failed = readInPieces(in, from, [&](const char* data, size_t n) {
      if (!writeAll(out, data, n, at)) return Status::ioError(sysError("cannot write", to));
      at += static_cast<off_t>(n);
      return Status::ok();
    });
    ::close(in);
    if (failed.isOk() && ::fsync(out) != 0) failed = Status::ioError(sysError("cannot sync", to));
    if (::close(out) != 0 && failed.isOk()) failed = Status::ioError(sysError("cannot close", to));
    return failed;
  }

  Result<std::pair<uint64_t, uint64_t>> sizeAndChecksum(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::ioError(sysError("cannot open", path));
    XXH3_state_t* state = XXH3_createState();
    if (state == nullptr) {
      ::close(fd);
      throw std::bad_alloc();
    }
    XXH3_64bits_reset(state);
    uint64_t size = 0;
    const Status failed = readInPieces(fd, path, [&](const char* data, size_t n) {
      XXH3_64bits_update(state, data, n);
      size += n;
      return Status::ok();
    });
    ::close(fd);
    const uint64_t hash = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    if (!failed.isOk()) return failed;
    return std::make_pair(size, hash);
  }

  Status linkOrCopy(const std::string& from, const std::string& to) override {
    // A name left by an attempt that did not complete (same immutable contents), or planted.
    if (::unlink(to.c_str()) != 0 && errno != ENOENT) return Status::ioError(sysError("cannot replace", to));
    if (::link(from.c_str(), to.c_str()) != 0) {
      if (errno != EXDEV && errno != EPERM && errno != EMLINK) return Status::ioError(sysError("cannot link " + from + " to", to));
      // Another file system: copy in pieces, then sync. A link shares the data its writer
      // (RocksDB) synced; only the name needs syncing.
      REKA_RETURN_IF_ERROR(copyFile(from, to));
    } else if (::chmod(to.c_str(), 0600) != 0) {  // state files are the owner's alone
      return Status::ioError(sysError("cannot restrict", to));
    }
    return syncDirectory(parentOf(to));
  }

  bool exists(const std::string& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  }

  Status removeAll(const std::string& path) override {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT ? Status::ok() : Status::ioError(sysError("cannot stat", path));
    if (S_ISDIR(st.st_mode)) {
      REKA_ASSIGN_OR_RETURN(auto names, list(path));
      for (const auto& n : names) REKA_RETURN_IF_ERROR(removeAll(path + "/" + n));
      if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return Status::ioError(sysError("cannot remove", path));
    } else if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::ioError(sysError("cannot remove", path));
    }
    return Status::ok();
  }
};

// Little-endian fixed-width encoding (the format is documented in docs/checkpoints.md).
void putU8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }
void putU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putStr(std::string& out, std::string_view s) {
  putU64(out, s.size());
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u8(uint8_t& v) {
    if (in_.empty()) return false;
    v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool u32(uint32_t& v) {
    if (in_.size() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(in_[static_cast<size_t>(i)])) << (8 * i);
    in_.remove_prefix(4);
    return true;
  }
  bool u64(uint64_t& v) {
    if (in_.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in_[static_cast<size_t>(i)])) << (8 * i);
    in_.remove_prefix(8);
    return true;
  }
  bool str(std::string& s) {
    uint64_t n = 0;
    if (!u64(n) || n > in_.size()) return false;
    s.assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool bytes(std::string_view& s, size_t n) {
    if (n > in_.size()) return false;
    s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }
  size_t left() const { return in_.size(); }

 private:
  std::string_view in_;
};

constexpr std::string_view kStateMagic = "REKAST01";
constexpr std::string_view kManifestMagic = "REKAMF01";
constexpr uint32_t kStateVersion = 3;     // 2: incremental state files (file and blob kinds); 3: native snapshots
constexpr uint32_t kManifestVersion = 2;
constexpr const char* kManifestName = "MANIFEST";

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string idDigits(int64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%010lld", static_cast<long long>(id));
  return buf;
}

}  // namespace

Result<std::pair<uint64_t, uint64_t>> CheckpointFileSystem::sizeAndChecksum(const std::string& path) {
  REKA_ASSIGN_OR_RETURN(std::string bytes, readFile(path));
  return std::make_pair(static_cast<uint64_t>(bytes.size()), static_cast<uint64_t>(XXH3_64bits(bytes.data(), bytes.size())));
}

std::shared_ptr<CheckpointFileSystem> localFileSystem() {
  static std::shared_ptr<CheckpointFileSystem> fs = std::make_shared<LocalFileSystem>();
  return fs;
}

namespace checkpoint {

StateFileWriter::StateFileWriter(std::string& out, uint32_t operatorCount, bool delta, int64_t baseId)
    : out_(out), hashed_(out.size()), hash_(XXH3_createState()) {
  if (hash_ == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset(hash_);
  out_.append(kStateMagic);
  putU32(out_, kStateVersion);
  putU8(out_, delta ? 1 : 0);
  putU64(out_, static_cast<uint64_t>(delta ? baseId : 0));
  putU32(out_, operatorCount);
}

void StateFileWriter::u8(uint8_t v) { putU8(out_, v); }

void StateFileWriter::beginOperator(int32_t node, int32_t subtask, std::string_view name) {
  putU32(out_, static_cast<uint32_t>(node));
  putU32(out_, static_cast<uint32_t>(subtask));
  putStr(out_, name);
}

void StateFileWriter::u32(uint32_t v) { putU32(out_, v); }
void StateFileWriter::str(std::string_view s) { putStr(out_, s); }

StateFileWriter::~StateFileWriter() { XXH3_freeState(hash_); }

void StateFileWriter::hashPending() {
  XXH3_64bits_update(hash_, out_.data() + hashed_, out_.size() - hashed_);
  hashed_ = out_.size();
}

uint64_t StateFileWriter::finish() {
  REKA_CHECK(open_ == 0);
  hashPending();
  return XXH3_64bits_digest(hash_);
}

size_t StateFileWriter::beginBytes() {
  if (open_++ == 0) hashPending();  // everything before the field is final
  const size_t at = out_.size();
  putU64(out_, 0);
  return at;
}

void StateFileWriter::endBytes(size_t at) {
  uint64_t n = out_.size() - at - 8;
  for (int i = 0; i < 8; ++i) out_[at + static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  if (--open_ == 0) hashPending();  // the part just closed, while it is in the cache
}

std::string encodeTaskSnapshot(const std::vector<OperatorSnapshot>& operators, bool delta, int64_t baseId) {
  std::string out;
  StateFileWriter w(out, static_cast<uint32_t>(operators.size()), delta, baseId);
  for (const auto& op : operators) {
    w.beginOperator(op.node, op.subtask, op.name);
    w.u32(static_cast<uint32_t>(op.keyed.size()));
    for (const auto& [table, groups] : op.keyed) {
      w.str(table);
      w.u32(static_cast<uint32_t>(groups.size()));
      for (const auto& [kg, bytes] : groups) {
        w.u32(static_cast<uint32_t>(kg));
        w.str(bytes);
      }
    }
    w.u32(static_cast<uint32_t>(op.lists.size()));
    for (const auto& [name, elements] : op.lists) {
      w.str(name);
      w.u32(static_cast<uint32_t>(elements.size()));
      for (const auto& e : elements) w.str(e);
    }
    w.u8(op.blobIsDelta ? 1 : 0);
    w.str(op.blob);
    w.native(op.native ? &*op.native : nullptr);
  }
  return out;
}

void StateFileWriter::native(const NativeSnapshot* snapshot) {
  u8(snapshot != nullptr ? 1 : 0);
  if (snapshot == nullptr) return;
  u32(static_cast<uint32_t>(snapshot->files.size()));
  for (const auto& f : snapshot->files) {
    str(f.local);
    str(f.shared);
    putU64(out_, f.size);
  }
  u32(static_cast<uint32_t>(snapshot->meta.size()));
  for (const auto& [name, bytes] : snapshot->meta) {
    str(name);
    str(bytes);
  }
}

Status decodeTaskSnapshot(std::string_view bytes, std::vector<OperatorSnapshot>& out) {
  DecodedStateFile file;
  REKA_RETURN_IF_ERROR(decodeTaskSnapshot(bytes, file));
  for (auto& op : file.operators) out.push_back(std::move(op));
  return Status::ok();
}

Status decodeTaskSnapshot(std::string_view bytes, DecodedStateFile& file) {
  Reader r(bytes);
  std::string_view magic;
  uint32_t version = 0, count = 0;
  if (!r.bytes(magic, kStateMagic.size()) || magic != kStateMagic) return Status::corruption("not a Reka state file (bad magic)");
  if (!r.u32(version)) return Status::corruption("truncated state file header");
  if (version < 1 || version > kStateVersion)
    return Status::corruption("state file format version " + std::to_string(version) + " is not supported (this build reads versions 1 to " +
                              std::to_string(kStateVersion) + ")");
  if (version >= 2) {
    uint8_t kind = 0;
    uint64_t base = 0;
    if (!r.u8(kind) || !r.u64(base) || kind > 1) return Status::corruption("truncated or malformed state file header");
    file.delta = kind == 1;
    file.baseId = static_cast<int64_t>(base);
  }
  if (!r.u32(count)) return Status::corruption("truncated state file header");
  std::vector<OperatorSnapshot>& out = file.operators;
  auto bad = [] { return Status::corruption("truncated or malformed state file"); };
  for (uint32_t i = 0; i < count; ++i) {
    OperatorSnapshot op;
    uint32_t node = 0, subtask = 0, tables = 0, lists = 0;
    if (!r.u32(node) || !r.u32(subtask) || !r.str(op.name) || !r.u32(tables)) return bad();
    op.node = static_cast<int32_t>(node);
    op.subtask = static_cast<int32_t>(subtask);
    for (uint32_t t = 0; t < tables; ++t) {
      std::string table;
      uint32_t groups = 0;
      if (!r.str(table) || !r.u32(groups)) return bad();
      auto& m = op.keyed[table];
      for (uint32_t g = 0; g < groups; ++g) {
        uint32_t kg = 0;
        std::string b;
        if (!r.u32(kg) || !r.str(b)) return bad();
        m.emplace(static_cast<int32_t>(kg), std::move(b));
      }
    }
    if (!r.u32(lists)) return bad();
    for (uint32_t l = 0; l < lists; ++l) {
      std::string name;
      uint32_t n = 0;
      if (!r.str(name) || !r.u32(n) || n > r.left()) return bad();
      auto& v = op.lists[name];
      v.resize(n);
      for (auto& e : v)
        if (!r.str(e)) return bad();
    }
    if (version >= 2) {
      uint8_t blobKind = 0;
      if (!r.u8(blobKind) || blobKind > 1) return bad();
      op.blobIsDelta = blobKind == 1;
      if (op.blobIsDelta && !file.delta) return Status::corruption("a full state file holds an operator delta");
    }
    if (!r.str(op.blob)) return bad();
    if (version >= 3) {
      uint8_t hasNative = 0;
      if (!r.u8(hasNative) || hasNative > 1) return bad();
      if (hasNative == 1) {
        NativeSnapshot& native = op.native.emplace();
        uint32_t files = 0, meta = 0;
        if (!r.u32(files) || files > r.left()) return bad();
        native.files.resize(files);
        for (auto& f : native.files)
          if (!r.str(f.local) || !r.str(f.shared) || !r.u64(f.size)) return bad();
        if (!r.u32(meta) || meta > r.left()) return bad();
        native.meta.resize(meta);
        for (auto& [name, bytes] : native.meta)
          if (!r.str(name) || !r.str(bytes)) return bad();
      }
    }
    out.push_back(std::move(op));
  }
  if (!r.done()) return Status::corruption("state file has trailing bytes");
  return Status::ok();
}

CheckpointStorage::CheckpointStorage(std::string stateDir, std::shared_ptr<CheckpointFileSystem> fs)
    : stateDir_(std::move(stateDir)), fs_(fs ? std::move(fs) : localFileSystem()) {
  while (stateDir_.size() > 1 && stateDir_.back() == '/') stateDir_.pop_back();
}

std::string CheckpointStorage::directoryFor(int64_t id, CheckpointKind kind) const {
  return kind == CheckpointKind::kSavepoint ? stateDir_ + "/savepoints/sp-" + idDigits(id)
                                            : stateDir_ + "/checkpoints/chk-" + idDigits(id);
}

Status CheckpointStorage::begin(int64_t id, CheckpointKind kind) {
  const std::string dir = directoryFor(id, kind);
  REKA_RETURN_IF_ERROR(fs_->removeAll(dir));
  return fs_->makeDirs(dir);
}

Result<CheckpointStorage::FileEntry> CheckpointStorage::writeTaskFile(int64_t id, CheckpointKind kind, size_t taskIndex,
                                                                      const TaskSnapshot& snapshot) {
  FileEntry e;
  e.name = "task-" + std::to_string(taskIndex) + ".state";
  const std::string_view bytes = snapshot.file();
  e.size = bytes.size();
  e.checksum = snapshot.checksum ? *snapshot.checksum : XXH3_64bits(bytes.data(), bytes.size());
  REKA_RETURN_IF_ERROR(fs_->writeFile(directoryFor(id, kind) + "/" + e.name, bytes));
  return e;
}

namespace {
/// The task index of a `task-<n>.state` file and the checkpoint that wrote it (`ownId` for a
/// file of the manifest's own directory, <id> for `../chk-<id>/...`); nullopt for other names.
std::optional<std::pair<size_t, int64_t>> taskFileOf(const std::string& name, int64_t ownId) {
  const size_t slash = name.find_last_of('/');
  const std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
  const std::string prefix = "task-", suffix = ".state";
  if (base.size() <= prefix.size() + suffix.size() || base.rfind(prefix, 0) != 0 ||
      base.compare(base.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  const std::string digits = base.substr(prefix.size(), base.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  int64_t owner = ownId;
  if (slash != std::string::npos) {  // "../chk-<id>/" (validFileName checked the shape)
    const std::string dir = name.substr(0, slash);
    const size_t dash = dir.find_last_of('-');
    const std::string id = dash == std::string::npos ? "" : dir.substr(dash + 1);
    if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    owner = std::stoll(id);
  }
  return std::make_pair(static_cast<size_t>(std::stoul(digits)), owner);
}
}  // namespace

namespace {
constexpr std::string_view kSharedPrefix = "../shared/";
bool isShared(std::string_view name) { return name.substr(0, kSharedPrefix.size()) == kSharedPrefix; }
/// A name of a file in one directory: not empty, not `.` or `..`, no `/`.
bool isPlainFileName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}
}  // namespace

std::vector<std::vector<FileEntry>> chainsByTask(const CheckpointData& data) {
  std::vector<std::vector<FileEntry>> chains;
  for (const auto& f : data.files) {
    if (isShared(f.name)) continue;  // native snapshots' files: the state files name them
    auto tf = taskFileOf(f.name, data.id);
    if (!tf) return {};
    if (chains.size() <= tf->first) chains.resize(tf->first + 1);
    chains[tf->first].push_back(CheckpointStorage::sharedEntry(data.id, f));
  }
  return chains;
}

CheckpointStorage::FileEntry CheckpointStorage::sharedEntry(int64_t ownerId, const FileEntry& e) {
  if (e.name.find('/') != std::string::npos) return e;  // already a reference to another checkpoint
  FileEntry shared = e;
  shared.name = "../chk-" + idDigits(ownerId) + "/" + e.name;
  return shared;
}

Result<FileEntry> CheckpointStorage::storeSharedFile(const std::string& source, const std::string& name) {
  if (!isPlainFileName(name))
    return Status::invalidArgument("not a plain file name for the shared directory: '" + name + "'");
  const std::string dir = sharedDirectory();
  REKA_RETURN_IF_ERROR(fs_->makeDirs(dir));
  REKA_RETURN_IF_ERROR(fs_->linkOrCopy(source, dir + "/" + name));
  REKA_ASSIGN_OR_RETURN(auto sum, fs_->sizeAndChecksum(dir + "/" + name));
  return FileEntry{std::string(kSharedPrefix) + name, sum.first, sum.second};
}

void CheckpointStorage::sweepShared() {
  const std::string dir = sharedDirectory();
  auto names = fs_->list(dir);
  if (!names.isOk() || names->empty()) return;
  std::vector<std::string> referenced;
  for (const auto& [id, checkpointDir] : listComplete()) {
    auto m = readManifest(checkpointDir);
    if (!m.isOk()) return;  // cannot tell what it needs: delete nothing
    for (const auto& f : m->files)
      if (isShared(f.name)) referenced.push_back(f.name.substr(kSharedPrefix.size()));
  }
  std::sort(referenced.begin(), referenced.end());
  for (const auto& n : *names)
    if (!std::binary_search(referenced.begin(), referenced.end(), n)) (void)fs_->removeAll(dir + "/" + n);
}

Status CheckpointStorage::complete(int64_t id, CheckpointKind kind, bool finished, const std::string& jobFingerprint,
                                   const std::vector<FileEntry>& files) {
  std::string m;
  m.append(kManifestMagic);
  putU32(m, kManifestVersion);
  putU64(m, static_cast<uint64_t>(id));
  putU8(m, static_cast<uint8_t>(kind));
  putU8(m, finished ? 1 : 0);
  putU64(m, static_cast<uint64_t>(wallMs()));
  putStr(m, jobFingerprint);
  putU32(m, static_cast<uint32_t>(files.size()));
  for (const auto& f : files) {
    putStr(m, f.name);
    putU64(m, f.size);
    putU64(m, f.checksum);
  }
  putU64(m, XXH3_64bits(m.data(), m.size()));
  const std::string dir = directoryFor(id, kind);
  REKA_RETURN_IF_ERROR(fs_->writeFile(dir + "/" + kManifestName + ".tmp", m));
  return fs_->rename(dir + "/" + kManifestName + ".tmp", dir + "/" + kManifestName);
}

void CheckpointStorage::abort(int64_t id, CheckpointKind kind) { (void)fs_->removeAll(directoryFor(id, kind)); }

std::vector<std::pair<int64_t, std::string>> CheckpointStorage::listComplete() {
  std::vector<std::pair<int64_t, std::string>> out;
  for (auto [sub, prefix] : {std::pair<const char*, const char*>{"checkpoints", "chk-"}, {"savepoints", "sp-"}}) {
    const std::string parent = stateDir_ + "/" + sub;
    auto names = fs_->list(parent);
    if (!names.isOk()) continue;
    for (const auto& n : *names) {
      if (n.rfind(prefix, 0) != 0) continue;
      const std::string digits = n.substr(std::strlen(prefix));
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::string dir = parent + "/" + n;
      if (!fs_->exists(dir + "/" + kManifestName)) continue;
      out.emplace_back(std::stoll(digits), dir);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

namespace {
/// Whether a manifest's file name is one this build writes: a file in the checkpoint's own
/// directory, or `../chk-<digits>/<file>` in a sibling checkpoint (an incremental chain).
bool validFileName(const std::string& name) {
  if (isPlainFileName(name)) return true;
  if (isShared(name)) return isPlainFileName(std::string_view(name).substr(kSharedPrefix.size()));
  const std::string prefix = "../chk-";
  if (name.rfind(prefix, 0) != 0) return false;
  const size_t slash = name.find('/', prefix.size());
  if (slash == std::string::npos || slash == prefix.size()) return false;
  const std::string digits = name.substr(prefix.size(), slash - prefix.size());
  const std::string file = name.substr(slash + 1);
  return digits.find_first_not_of("0123456789") == std::string::npos && isPlainFileName(file);
}
}  // namespace

void CheckpointStorage::prune(int retained) {
  const std::string root = stateDir_ + "/checkpoints";
  auto names = fs_->list(root);
  if (!names.isOk()) return;
  std::vector<std::pair<int64_t, std::string>> complete, partial;  // (id, directory name)
  for (const auto& n : *names) {
    if (n.rfind("chk-", 0) != 0) continue;
    const std::string digits = n.substr(4);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    (fs_->exists(root + "/" + n + "/" + kManifestName) ? complete : partial).emplace_back(std::stoll(digits), n);
  }
  std::sort(complete.begin(), complete.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  const size_t keep = std::min(complete.size(), static_cast<size_t>(std::max(retained, 1)));
  // Files the retained checkpoints read, as "<directory name>/<file>".
  std::vector<std::string> referenced;
  for (size_t i = 0; i < keep; ++i) {
    auto m = readManifest(root + "/" + complete[i].second);
    if (!m.isOk()) return;  // cannot tell what it needs: delete nothing
    for (const auto& f : m->files)
      referenced.push_back(f.name.find('/') == std::string::npos ? complete[i].second + "/" + f.name : f.name.substr(3));
  }
  std::sort(referenced.begin(), referenced.end());
  std::vector<std::string> retiredShared;  // "shared/<name>" that retired checkpoints listed
  auto retire = [&](const std::string& dirName) {
    const std::string dir = root + "/" + dirName;
    if (auto m = readManifest(dir); m.isOk())
      for (const auto& f : m->files)
        if (isShared(f.name)) retiredShared.push_back(f.name.substr(3));
    // The manifest goes first: from then on the directory is not a checkpoint, whatever
    // happens to the rest.
    if (!fs_->removeAll(dir + "/" + kManifestName).isOk()) return;
    auto files = fs_->list(dir);
    if (!files.isOk()) return;
    size_t kept = 0;
    for (const auto& f : *files) {
      if (std::binary_search(referenced.begin(), referenced.end(), dirName + "/" + f)) {
        ++kept;
      } else {
        (void)fs_->removeAll(dir + "/" + f);
      }
    }
    if (kept == 0) (void)fs_->removeAll(dir);
  };
  for (size_t i = keep; i < complete.size(); ++i) retire(complete[i].second);
  if (!complete.empty()) {
    for (const auto& [id, dirName] : partial)
      if (id < complete.front().first) retire(dirName);
  }
  // A shared file is deleted with the last checkpoint that lists it. The one in flight (if
  // any) lists only files the newest complete one lists, or its own new ones.
  std::sort(retiredShared.begin(), retiredShared.end());
  retiredShared.erase(std::unique(retiredShared.begin(), retiredShared.end()), retiredShared.end());
  for (const auto& f : retiredShared)
    if (!std::binary_search(referenced.begin(), referenced.end(), f)) (void)fs_->removeAll(root + "/" + f);
}

Result<CheckpointStorage::Manifest> CheckpointStorage::readManifest(const std::string& directory) {
  auto manifest = fs_->readFile(directory + "/" + kManifestName);
  if (!manifest.isOk()) return Status::corruption("manifest missing or unreadable: " + manifest.status().message());
  return parseManifest(*manifest);
}

Result<CheckpointStorage::Manifest> CheckpointStorage::parseManifest(std::string_view m) {
  if (m.size() < kManifestMagic.size() + 8) return Status::corruption("manifest is truncated");
  uint64_t stored = 0;
  Reader tail(m.substr(m.size() - 8));
  tail.u64(stored);
  if (XXH3_64bits(m.data(), m.size() - 8) != stored) return Status::corruption("manifest checksum mismatch");
  Reader r(m.substr(0, m.size() - 8));
  std::string_view magic;
  uint32_t version = 0, files = 0;
  uint64_t id = 0, wall = 0;
  uint8_t kind = 0, finished = 0;
  Manifest out;
  if (!r.bytes(magic, kManifestMagic.size()) || magic != kManifestMagic) return Status::corruption("not a Reka manifest (bad magic)");
  if (!r.u32(version) || version < 1 || version > kManifestVersion)
    return Status::corruption("manifest format version " + std::to_string(version) + " is not supported");
  if (!r.u64(id) || !r.u8(kind) || !r.u8(finished) || !r.u64(wall) || !r.str(out.jobFingerprint) || !r.u32(files) || kind > 1)
    return Status::corruption("malformed manifest");
  out.id = static_cast<int64_t>(id);
  out.kind = static_cast<CheckpointKind>(kind);
  out.finished = finished != 0;
  out.wallTimeMs = static_cast<int64_t>(wall);
  for (uint32_t i = 0; i < files; ++i) {
    FileEntry f;
    if (!r.str(f.name) || !r.u64(f.size) || !r.u64(f.checksum)) return Status::corruption("malformed manifest");
    if (!validFileName(f.name)) return Status::corruption("manifest names a file outside the checkpoint directories: " + f.name);
    out.files.push_back(std::move(f));
  }
  if (!r.done()) return Status::corruption("manifest has trailing bytes");
  return out;
}

Result<CheckpointData> CheckpointStorage::load(const std::string& directory) {
  REKA_ASSIGN_OR_RETURN(Manifest manifest, readManifest(directory));
  CheckpointData data;
  data.directory = directory;
  data.id = manifest.id;
  data.kind = manifest.kind;
  data.finished = manifest.finished;
  data.wallTimeMs = manifest.wallTimeMs;
  data.jobFingerprint = manifest.jobFingerprint;
  data.files = manifest.files;
  data.sharedDirectory = parentOf(directory) + "/shared";
  std::map<size_t, int64_t> lastOwner;  // by task: the checkpoint of the chain's previous file
  for (const auto& entry : manifest.files) {
    const std::string& name = entry.name;
    if (isShared(name)) {
      // A native snapshot's file: checked here (read in pieces), read by the backend.
      auto sum = fs_->sizeAndChecksum(directory + "/" + name);
      if (!sum.isOk()) return Status::corruption("file " + name + " is missing or unreadable");
      if (sum->first != entry.size)
        return Status::corruption("file " + name + " has " + std::to_string(sum->first) + " bytes, the manifest says " +
                                  std::to_string(entry.size) + " (truncated?)");
      if (sum->second != entry.checksum) return Status::corruption("file " + name + ": checksum mismatch");
      data.bytes += static_cast<int64_t>(entry.size);
      continue;
    }
    auto bytes = fs_->readFile(directory + "/" + name);
    if (!bytes.isOk()) return Status::corruption("file " + name + " is missing or unreadable");
    if (bytes->size() != entry.size)
      return Status::corruption("file " + name + " has " + std::to_string(bytes->size()) + " bytes, the manifest says " +
                                std::to_string(entry.size) + " (truncated?)");
    if (XXH3_64bits(bytes->data(), bytes->size()) != entry.checksum) return Status::corruption("file " + name + ": checksum mismatch");
    data.bytes += static_cast<int64_t>(entry.size);
    DecodedStateFile file;
    Status s = decodeTaskSnapshot(*bytes, file);
    if (!s.isOk()) return Status::corruption("file " + name + ": " + s.message());
    bytes->clear();
    bytes->shrink_to_fit();
    if (auto tf = taskFileOf(name, data.id)) {
      // A delta applies to the state of a checkpoint no older than the chain's previous file
      // (a task whose state did not change, e.g. one that had finished, adds no file) and
      // older than the delta itself.
      auto prev = lastOwner.find(tf->first);
      if (file.delta && (prev == lastOwner.end() || prev->second > file.baseId || file.baseId >= tf->second))
        return Status::corruption("file " + name + " (checkpoint " + std::to_string(tf->second) + ") is a delta on checkpoint " +
                                  std::to_string(file.baseId) + ", which does not fit the chain's previous file" +
                                  (prev == lastOwner.end() ? std::string(" (there is none)") : " (from checkpoint " + std::to_string(prev->second) + ")"));
      lastOwner[tf->first] = tf->second;
    }
    for (auto& op : file.operators) {
      auto key = std::make_pair(op.node, op.subtask);
      if (!file.delta) {
        data.operators[key] = std::move(op);
        continue;
      }
      // An incremental file: on top of what the chain holds for this operator so far.
      auto it = data.operators.find(key);
      if (it == data.operators.end())
        return Status::corruption("file " + name + " is incremental (on checkpoint " + std::to_string(file.baseId) +
                                  ") but no full snapshot of operator '" + op.name + "' comes before it in the chain");
      OperatorSnapshot& base = it->second;
      if (base.name != op.name)
        return Status::corruption("file " + name + " continues operator '" + base.name + "' as '" + op.name + "'");
      base.keyedDeltas.push_back(std::move(op.keyed));
      base.lists = std::move(op.lists);  // operator lists are written whole every time
      base.native = std::move(op.native);  // and so are native snapshots
      if (op.blobIsDelta) {
        base.blobDeltas.push_back(std::move(op.blob));
      } else {
        base.blob = std::move(op.blob);
        base.blobDeltas.clear();
      }
    }
  }
  return data;
}

Result<std::optional<CheckpointData>> CheckpointStorage::loadLatest(const std::function<void(const std::string&)>& log) {
  auto candidates = listComplete();
  if (candidates.empty()) return std::optional<CheckpointData>();
  std::string reasons;
  for (const auto& [id, dir] : candidates) {
    auto data = load(dir);
    if (data.isOk()) return std::optional<CheckpointData>(std::move(*data));
    const std::string why = "checkpoint " + std::to_string(id) + " in " + dir + " is unusable: " + data.status().message();
    if (log)
      log(why + "; falling back to the previous complete checkpoint (output that a sink committed for the newer one may be "
                "written again)");
    reasons += (reasons.empty() ? "" : "; ") + why;
  }
  return Status::corruption("no usable checkpoint in " + stateDir_ + " (" + reasons +
                            "); refusing to start from scratch, which would repeat committed output. Move the state "
                            "directory away to start fresh.");
}

}  // namespace checkpoint
}  // namespace reka
