#include "reka/state/RocksDbBackend.h"

#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "reka/state/KeyValueStore.h"

namespace reka {

namespace {

Status fromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::ok();
  if (s.IsCorruption()) return Status::corruption(what + ": " + s.ToString());
  if (s.IsNotFound()) return Status::notFound(what + ": " + s.ToString());
  return Status::ioError(what + ": " + s.ToString());
}

/// Appends list elements: both sides are a u64 count followed by encoded elements (Serde of a
/// std::vector); the result is the summed count followed by both element runs.
class ListAppendOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* out, rocksdb::Logger*) const override {
    if (value.size() < sizeof(uint64_t)) return false;
    if (existing == nullptr) {
      out->assign(value.data(), value.size());
      return true;
    }
    if (existing->size() < sizeof(uint64_t)) return false;
    uint64_t a = 0, b = 0;
    std::memcpy(&a, existing->data(), sizeof a);
    std::memcpy(&b, value.data(), sizeof b);
    const uint64_t n = a + b;
    out->reserve(existing->size() + value.size() - sizeof(uint64_t));
    out->assign(reinterpret_cast<const char*>(&n), sizeof n);
    out->append(existing->data() + sizeof(uint64_t), existing->size() - sizeof(uint64_t));
    out->append(value.data() + sizeof(uint64_t), value.size() - sizeof(uint64_t));
    return true;
  }
  const char* Name() const override { return "reka.ListAppend"; }
};

/// Drops values whose stamp (their first 8 bytes: Timed<V>) is at or below the horizon of the
/// state's TTL, once one is set (state with a TTL); keeps everything otherwise. Runs on
/// RocksDB's compaction threads: the horizon is an atomic the task thread moves forward.
class TtlCompactionFilter final : public rocksdb::CompactionFilter {
 public:
  bool Filter(int, const rocksdb::Slice&, const rocksdb::Slice& value, std::string*,
              bool*) const override {
    const std::atomic<int64_t>* horizon = horizon_.load(std::memory_order_acquire);
    if (horizon == nullptr || value.size() < sizeof(int64_t)) return false;
    int64_t stamp = 0;
    std::memcpy(&stamp, value.data(), sizeof stamp);
    return stampExpired(stamp, horizon);
  }
  const char* Name() const override { return "reka.TtlCompactionFilter"; }
  void set(std::shared_ptr<const std::atomic<int64_t>> horizon) {
    owner_ = std::move(horizon);
    horizon_.store(owner_.get(), std::memory_order_release);
  }

 private:
  std::shared_ptr<const std::atomic<int64_t>> owner_;
  std::atomic<const std::atomic<int64_t>*> horizon_{nullptr};
};

/// The key just past every key that starts with `prefix` (empty: no bound).
std::string prefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c != 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return end;
}

/// Puts file `from` at `to`: a hard link (no copy: table files never change) or, across file
/// systems, a copy.
Status linkOrCopy(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return Status::ok();
  if (errno != EXDEV && errno != EPERM && errno != EMLINK)
    return Status::ioError("cannot link " + from + " to " + to + ": " + std::strerror(errno));
  std::error_code ec;
  std::filesystem::copy_file(from, to, ec);
  if (ec) return Status::ioError("cannot copy " + from + " to " + to + ": " + ec.message());
  return Status::ok();
}

Status writeWhole(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::ioError("cannot create " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return Status::ioError("cannot write " + path + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Status::ioError("cannot close " + path + ": " + std::strerror(errno));
  return Status::ok();
}

Result<std::string> readWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::ioError("cannot read " + path);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::ioError("cannot read " + path);
  return bytes;
}

/// A native snapshot's name for a file may not leave its directory.
bool plainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

/// Lays out `snapshot`'s files in the new directory `dir` (0700): the table files from
/// `sharedDir`, the small files from the snapshot itself.
Status placeNativeFiles(const NativeSnapshot& snapshot, const std::string& sharedDir,
                        const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0)
    return Status::ioError("cannot create " + dir + ": " + std::strerror(errno));
  for (const auto& f : snapshot.files) {
    if (!plainFileName(f.local) || !plainFileName(f.shared))
      return Status::corruption("native snapshot names a file outside its directory: '" + f.local +
                                "' / '" + f.shared + "'");
    REKA_RETURN_IF_ERROR(linkOrCopy(sharedDir + "/" + f.shared, dir + "/" + f.local));
  }
  for (const auto& [name, bytes] : snapshot.meta) {
    if (!plainFileName(name))
      return Status::corruption("native snapshot names a file outside its directory: '" + name + "'");
    REKA_RETURN_IF_ERROR(writeWhole(dir + "/" + name, bytes));
  }
  return Status::ok();
}

class RocksColumn final : public KeyValueStore {
 public:
  RocksColumn(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::shared_ptr<ValueCacheBudget> valueCache)
      : db_(db), cf_(cf), valueCache_(std::move(valueCache)) {
    // The checkpoints make state durable; the write-ahead log would only slow writes down.
    write_.disableWAL = true;
  }
  /// The database was reopened (a native restore): the same state, a new handle.
  void rebind(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    db_ = db;
    cf_ = cf;
  }

  Result<bool> get(std::string_view key, std::string& value) override {
    rocksdb::Status s = db_->Get(read_, cf_, rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return false;
    if (!s.ok()) return fromRocks(s, "reading state");
    return true;
  }
  Status put(std::string_view key, std::string_view value) override {
    return fromRocks(db_->Put(write_, cf_, slice(key), slice(value)), "writing state");
  }
  Status append(std::string_view key, std::string_view operand) override {
    return fromRocks(db_->Merge(write_, cf_, slice(key), slice(operand)), "appending to state");
  }
  Status remove(std::string_view key) override {
    return fromRocks(db_->Delete(write_, cf_, slice(key)), "removing state");
  }
  Status write(const std::vector<Write>& writes) override {
    batch_.Clear();
    for (const Write& w : writes) {
      const rocksdb::Status s = w.value ? batch_.Put(cf_, slice(w.key), slice(*w.value)) : batch_.Delete(cf_, slice(w.key));
      if (!s.ok()) return fromRocks(s, "writing state");
    }
    return fromRocks(db_->Write(write_, &batch_), "writing state");
  }
  Status scan(std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn) override {
    const std::string end = prefixEnd(prefix);
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    if (!end.empty()) ro.iterate_upper_bound = &upper;
    ro.fill_cache = false;  // a snapshot reads everything once: keep the cache for the job
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_));
    for (it->Seek(slice(prefix)); it->Valid(); it->Next()) {
      const rocksdb::Slice k = it->key(), v = it->value();
      if (!fn(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
    }
    return fromRocks(it->status(), "reading state");
  }
  Status removePrefix(std::string_view prefix) override {
    const std::string end = prefixEnd(prefix);
    if (end.empty()) return Status::invalidArgument("removing an unbounded key range");
    return fromRocks(db_->DeleteRange(write_, cf_, slice(prefix), rocksdb::Slice(end)),
                     "removing state");
  }
  uint64_t estimatedKeys() override {
    uint64_t n = 0;
    db_->GetIntProperty(cf_, "rocksdb.estimate-num-keys", &n);
    return n;
  }
  uint64_t estimatedBytes() override {
    uint64_t live = 0, mem = 0;
    db_->GetIntProperty(cf_, "rocksdb.estimate-live-data-size", &live);
    db_->GetIntProperty(cf_, "rocksdb.cur-size-all-mem-tables", &mem);
    return live + mem;
  }
  std::shared_ptr<ValueCacheBudget> valueCache() override { return valueCache_; }

 private:
  static rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  std::shared_ptr<ValueCacheBudget> valueCache_;
  rocksdb::ReadOptions read_;
  rocksdb::WriteOptions write_;
  rocksdb::WriteBatch batch_;  ///< scratch of write()
};

}  // namespace

struct RocksDbEnvironment::Impl {
  std::string directory;
  int lockFd = -1;  ///< `owner.lock` in the directory, locked while the job runs
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> writeBuffers;
  std::shared_ptr<rocksdb::MergeOperator> merge = std::make_shared<ListAppendOperator>();
  std::shared_ptr<ValueCacheBudget> valueCache;  ///< null: caches of one key per state
  rocksdb::BlockBasedTableOptions table;
  /// One memory table's size: a quarter of the write buffer budget, between 1 and 16 MiB.
  size_t memtableBytes = 16 << 20;

  rocksdb::ColumnFamilyOptions columnOptions() const {
    rocksdb::ColumnFamilyOptions o;
    o.merge_operator = merge;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    o.write_buffer_size = memtableBytes;
    // A Bloom filter over the memory table's keys: reading a key that is not there (the first
    // access of most keys) skips the search of the table.
    o.memtable_whole_key_filtering = true;
    o.memtable_prefix_bloom_size_ratio = 0.02;  // 2.7 Mbit: ten bits per key of a full table
    // A job has a database per stateful operator subtask, all under one write buffer budget,
    // which counts what each memory table has allocated. An empty table holds its Bloom filter
    // and one arena block: with the defaults (1.6 MiB and 2 MiB) twenty subtasks filled a 64 MiB
    // budget before any data came, and every write then flushed its table (a few keys per
    // file). Small blocks and a smaller filter keep an empty table under half a MiB.
    o.arena_block_size = 64 << 10;
    // Compression costs CPU on every flush and compaction; the first levels are rewritten most
    // often and are small: only the levels below them are compressed.
    o.compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression, rocksdb::kLZ4Compression, rocksdb::kLZ4Compression,
                               rocksdb::kLZ4Compression, rocksdb::kLZ4Compression, rocksdb::kLZ4Compression};
    return o;
  }
};

Result<std::shared_ptr<RocksDbEnvironment>> RocksDbEnvironment::open(
    const RocksDbOptions& options) {
  if (options.blockCacheBytes < (1 << 20))
    return Status::invalidArgument("state.backend.rocksdb.block-cache-size must be at least 1 MiB");
  if (options.writeBufferBytes < (1 << 20))
    return Status::invalidArgument(
        "state.backend.rocksdb.write-buffer-size must be at least 1 MiB");
  if (options.valueCacheBytes < 0)
    return Status::invalidArgument("reka.rocksdb-value-cache must not be negative");
  std::string base = options.localDir;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  // Working directories of jobs that died (kill -9) are left behind: a directory whose owner
  // lock nobody holds is removed.
  for (const auto& entry : std::filesystem::directory_iterator(base, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("reka-rocksdb-", 0) != 0 || !entry.is_directory(ec) || entry.is_symlink(ec))
      continue;
    const int fd = ::open((entry.path() / "owner.lock").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;  // not ours, or still being set up
    const bool stale = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    ::close(fd);
    if (stale) std::filesystem::remove_all(entry.path(), ec);
  }
  std::string pattern = base + "/reka-rocksdb-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr)  // 0700
    return Status::ioError("cannot create a RocksDB working directory in '" + base +
                           "': " + std::strerror(errno));
  auto impl = std::make_unique<Impl>();
  impl->directory = pattern;
  impl->lockFd = ::open((pattern + "/owner.lock").c_str(),
                        O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (impl->lockFd < 0 || ::flock(impl->lockFd, LOCK_EX | LOCK_NB) != 0) {
    const std::string why = std::strerror(errno);
    if (impl->lockFd >= 0) ::close(impl->lockFd);
    std::filesystem::remove_all(pattern, ec);
    return Status::ioError("cannot lock the RocksDB working directory '" + pattern + "': " + why);
  }
  impl->cache =
      rocksdb::NewLRUCache(static_cast<size_t>(options.blockCacheBytes + options.writeBufferBytes));
  impl->writeBuffers = std::make_shared<rocksdb::WriteBufferManager>(
      static_cast<size_t>(options.writeBufferBytes), impl->cache);
  impl->memtableBytes = static_cast<size_t>(std::clamp<int64_t>(options.writeBufferBytes / 4, 1 << 20, 16 << 20));
  impl->table.block_cache = impl->cache;
  impl->table.cache_index_and_filter_blocks =
      true;  // index and filters count against the cache too
  impl->table.block_size = 16 << 10;
  // A Bloom filter per file: a key that is not in a file (most first accesses of a key) costs
  // no block read there.
  impl->table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  impl->table.pin_l0_filter_and_index_blocks_in_cache = true;
  if (options.valueCacheBytes > 0) impl->valueCache = std::make_shared<ValueCacheBudget>(options.valueCacheBytes);
  return std::shared_ptr<RocksDbEnvironment>(new RocksDbEnvironment(std::move(impl)));
}

RocksDbEnvironment::RocksDbEnvironment(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RocksDbEnvironment::~RocksDbEnvironment() {
  std::error_code ec;
  std::filesystem::remove_all(impl_->directory, ec);
  if (impl_->lockFd >= 0) ::close(impl_->lockFd);
}

const std::string& RocksDbEnvironment::directory() const {
  return impl_->directory;
}

int64_t RocksDbEnvironment::cacheUsage() const {
  return static_cast<int64_t>(impl_->cache->GetUsage());
}

namespace {

class RocksDbStateBackend final : public HeapStateBackend {
 public:
  RocksDbStateBackend(std::shared_ptr<RocksDbEnvironment> env, std::string path,
                      KeyGroupRange range, int maxParallelism)
      : HeapStateBackend(range, maxParallelism), env_(std::move(env)), path_(std::move(path)) {}

  ~RocksDbStateBackend() override {
    closeDb();
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    for (const auto& [id, dir] : snapshotDirs_) std::filesystem::remove_all(dir, ec);
  }

  void closeDb() {
    // The database closes first: its compaction threads may still use the columns' filters.
    for (auto* cf : handles_) db_->DestroyColumnFamilyHandle(cf);
    handles_.clear();
    if (db_) {
      (void)db_->Close();
      db_.reset();
    }
  }

  bool snapshotsNatively() const override { return true; }

  Status snapshotNative(int64_t id, int64_t baseId, NativeSnapshot& out,
                        std::vector<NativeUpload>& uploads) override {
    REKA_RETURN_IF_ERROR(forEachStoreTable([](StateTable& t) { return t.flushToStore(); }));
    std::error_code ec;
    // Snapshot directories of checkpoints before the base are done with: uploaded, or their
    // checkpoint was given up. Those of later checkpoints may still be being uploaded.
    for (auto it = snapshotDirs_.begin(); it != snapshotDirs_.end();) {
      if (it->first > 0 && it->first < baseId) {
        std::filesystem::remove_all(it->second, ec);
        it = snapshotDirs_.erase(it);
      } else {
        ++it;
      }
    }
    // Flushes the memory tables (the write-ahead log is off, so a checkpoint must) and hard
    // links every live table file into `dir`: the files stay there for the upload even if a
    // compaction deletes them from the database meanwhile.
    const std::string dir = path_ + ".snap-" + std::to_string(++snapshotSeq_);
    std::filesystem::remove_all(dir, ec);
    rocksdb::Checkpoint* raw = nullptr;
    REKA_RETURN_IF_ERROR(fromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "snapshotting RocksDB"));
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    REKA_RETURN_IF_ERROR(fromRocks(checkpoint->CreateCheckpoint(dir, 0), "snapshotting RocksDB into " + dir));
    snapshotDirs_.emplace_back(id, dir);
    const auto base = uploadedAt_.find(baseId);
    std::map<std::string, std::string> now;
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) names.push_back(entry.path().filename().string());
    if (ec) return Status::ioError("cannot list " + dir + ": " + ec.message());
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      const std::string path = dir + "/" + name;
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".sst") == 0) {
        std::string shared;
        if (base != uploadedAt_.end()) {
          if (auto f = base->second.find(name); f != base->second.end()) shared = f->second;
        }
        const auto size = std::filesystem::file_size(path, ec);
        out.files.push_back(NativeSnapshot::File{name, shared, ec ? 0 : static_cast<uint64_t>(size)});
        if (shared.empty()) {
          shared = instance_ + "-" + name;
          out.files.back().shared = shared;
          uploads.push_back(NativeUpload{path, shared});
        } else {
          std::filesystem::remove(path, ec);
        }
        now.emplace(name, shared);
      } else {
        REKA_ASSIGN_OR_RETURN(std::string bytes, readWhole(path));
        out.meta.emplace_back(name, std::move(bytes));
        std::filesystem::remove(path, ec);
      }
    }
    // What a later snapshot may refer to once checkpoint `id` completes; older entries than the
    // base will not be a base again.
    uploadedAt_[id] = std::move(now);
    for (auto it = uploadedAt_.begin(); it != uploadedAt_.end();) it = it->first < baseId ? uploadedAt_.erase(it) : std::next(it);
    return Status::ok();
  }

  Status restoreNative(const NativeSnapshot& snapshot, const std::string& sharedDir, int64_t checkpointId) override {
    (void)forEachStoreTable([](StateTable& t) {
      t.forgetCached();
      return Status::ok();
    });
    closeDb();
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    REKA_RETURN_IF_ERROR(placeNativeFiles(snapshot, sharedDir, path_));
    std::vector<std::string> families;
    REKA_RETURN_IF_ERROR(fromRocks(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path_, &families),
                                   "reading the restored RocksDB in '" + path_ + "'"));
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : families) {
      const TtlCompactionFilter* filter = nullptr;
      if (name != rocksdb::kDefaultColumnFamilyName) {
        auto it = columns_.find(name);
        if (it == columns_.end())
          return Status::failedPrecondition("snapshot has state '" + name + "' that the operator did not register before restore");
        filter = it->second.filter.get();
      }
      descriptors.emplace_back(name, columnOptions(filter));
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    REKA_RETURN_IF_ERROR(fromRocks(rocksdb::DB::Open(dbOptions(), path_, descriptors, &handles, &db),
                                   "opening the restored RocksDB in '" + path_ + "'"));
    db_.reset(db);
    handles_ = handles;
    for (size_t i = 0; i < families.size(); ++i)
      if (auto it = columns_.find(families[i]); it != columns_.end()) it->second.store->rebind(db_.get(), handles[i]);
    // States registered now that the snapshot does not have start empty.
    for (auto& [name, column] : columns_) {
      if (std::find(families.begin(), families.end(), name) != families.end()) continue;
      rocksdb::ColumnFamilyHandle* cf = nullptr;
      REKA_RETURN_IF_ERROR(fromRocks(db_->CreateColumnFamily(columnOptions(column.filter.get()), name, &cf),
                                     "creating the column family of state '" + name + "'"));
      handles_.push_back(cf);
      column.store->rebind(db_.get(), cf);
    }
    // A new instance: files it writes from now on get names no earlier instance used.
    instance_ = newInstanceName();
    uploadedAt_.clear();
    if (checkpointId > 0) {
      auto& known = uploadedAt_[checkpointId];
      for (const auto& f : snapshot.files) known.emplace(f.local, f.shared);
    }
    return Status::ok();
  }

  /// A state's column family options: the environment's, with the state's TTL filter.
  rocksdb::ColumnFamilyOptions columnOptions(const TtlCompactionFilter* filter) const {
    rocksdb::ColumnFamilyOptions options = env_->impl().columnOptions();
    options.compaction_filter = filter;
    return options;
  }

  /// Calls `fn` on every table kept in the store (the state handles' and SQL's tables).
  template <class Fn>
  Status forEachStoreTable(Fn&& fn) {
    for (const auto& name : tableNames())
      if (StateTable* t = findTable(name); t != nullptr && t->inStore()) REKA_RETURN_IF_ERROR(fn(*t));
    return Status::ok();
  }

  rocksdb::DBOptions dbOptions() const {
    rocksdb::DBOptions o;
    o.create_if_missing = true;
    o.max_background_jobs = 2;
    o.write_buffer_manager = env_->impl().writeBuffers;
    o.max_open_files = 256;
    o.keep_log_file_num = 2;
    o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    return o;
  }

  static std::string newInstanceName() {
    std::random_device rd;
    const uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
  }

  Status open() {
    rocksdb::ColumnFamilyDescriptor def(rocksdb::kDefaultColumnFamilyName,
                                        env_->impl().columnOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    REKA_RETURN_IF_ERROR(fromRocks(rocksdb::DB::Open(dbOptions(), path_, {def}, &handles, &db),
                                   "opening RocksDB in '" + path_ + "'"));
    db_.reset(db);
    handles_ = handles;
    return Status::ok();
  }

  std::string_view kind() const override { return "rocksdb"; }

  Status expireBefore(const std::string& name,
                      std::shared_ptr<const std::atomic<int64_t>> horizon) override {
    auto it = columns_.find(name);
    if (it == columns_.end())
      return Status::notFound("no RocksDB state '" + name + "' to expire values of");
    it->second.filter->set(std::move(horizon));
    return Status::ok();
  }

  /// Compacts every state's column family (tests: makes the compaction filter run now).
  Status compactAll() {
    // What the value caches hold is written first and forgotten, so that the compaction sees
    // every value and an expired one it drops is not still read from a cache.
    REKA_RETURN_IF_ERROR(forEachStoreTable([](StateTable& t) {
      REKA_RETURN_IF_ERROR(t.flushToStore());
      t.forgetCached();
      return Status::ok();
    }));
    for (auto* cf : handles_)
      REKA_RETURN_IF_ERROR(fromRocks(
          db_->CompactRange(rocksdb::CompactRangeOptions(), cf, nullptr, nullptr), "compacting"));
    return Status::ok();
  }

  Result<KeyValueStore*> openStore(const std::string& name) override {
    auto it = columns_.find(name);
    if (it != columns_.end()) return it->second.store.get();
    rocksdb::ColumnFamilyHandle* cf = nullptr;
    auto filter = std::make_unique<TtlCompactionFilter>();
    REKA_RETURN_IF_ERROR(fromRocks(db_->CreateColumnFamily(columnOptions(filter.get()), name, &cf),
                                   "creating the column family of state '" + name + "'"));
    handles_.push_back(cf);
    Column& c = columns_[name];
    c.filter = std::move(filter);
    c.store = std::make_unique<RocksColumn>(db_.get(), cf, env_->impl().valueCache);
    return c.store.get();
  }

 private:
  std::shared_ptr<RocksDbEnvironment> env_;
  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  /// One per state: its column family and the TTL compaction filter set on it.
  struct Column {
    std::unique_ptr<TtlCompactionFilter> filter;
    std::unique_ptr<RocksColumn> store;
  };
  std::map<std::string, Column> columns_;
  /// Names this database instance's table files get in shared storage: `<instance>-<file>`
  /// (a restored database numbers its new files on from the restored ones, so every instance
  /// needs names of its own).
  std::string instance_ = newInstanceName();
  /// By checkpoint: the table files its snapshot listed, local name → shared name.
  std::map<int64_t, std::map<std::string, std::string>> uploadedAt_;
  /// Snapshot directories not yet removed, with their checkpoint (0: the state at the end).
  std::vector<std::pair<int64_t, std::string>> snapshotDirs_;
  int64_t snapshotSeq_ = 0;
};

}  // namespace

Status compactRocksDbStateBackend(StateBackend& backend) {
  auto* rocks = dynamic_cast<RocksDbStateBackend*>(&backend);
  if (rocks == nullptr) return Status::invalidArgument("not a RocksDB state backend");
  return rocks->compactAll();
}

Status readNativeSnapshot(const NativeSnapshot& snapshot, const std::string& sharedDir, KeyGroupRange want,
                          const std::function<Status(const std::string& table, int32_t keyGroup, std::string_view bytes)>& fn) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/reka-native-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr)
    return Status::ioError("cannot create a directory to read a native snapshot in: " + std::string(std::strerror(errno)));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  const std::string db = dir + "/db";
  REKA_RETURN_IF_ERROR(placeNativeFiles(snapshot, sharedDir, db));
  std::vector<std::string> families;
  REKA_RETURN_IF_ERROR(fromRocks(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), db, &families),
                                 "reading a native snapshot"));
  rocksdb::ColumnFamilyOptions options;
  options.merge_operator = std::make_shared<ListAppendOperator>();
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : families) descriptors.emplace_back(name, options);
  rocksdb::DBOptions dbo;
  dbo.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  REKA_RETURN_IF_ERROR(fromRocks(rocksdb::DB::OpenForReadOnly(dbo, db, descriptors, &handles, &raw),
                                 "opening a native snapshot"));
  std::unique_ptr<rocksdb::DB> owner(raw);
  Status failed;
  std::string bytes;
  for (size_t i = 0; i < families.size() && failed.isOk(); ++i) {
    if (families[i] == rocksdb::kDefaultColumnFamilyName) continue;
    // Each key group as KeyedTable writes it: u64 count, then each key (less the key group
    // prefix) and value.
    RocksColumn column(raw, handles[i], nullptr);
    for (int32_t kg = want.first; kg <= want.last && failed.isOk(); ++kg) {
      const std::string prefix{static_cast<char>((kg >> 8) & 0xff), static_cast<char>(kg & 0xff)};
      bytes.assign(sizeof(uint64_t), '\0');
      uint64_t n = 0;
      failed = column.scan(prefix, [&](std::string_view k, std::string_view v) {
        bytes.append(k.substr(2));
        bytes.append(v);
        ++n;
        return true;
      });
      std::memcpy(bytes.data(), &n, sizeof n);
      if (failed.isOk() && n > 0) failed = fn(families[i], kg, bytes);
    }
  }
  for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
  (void)raw->Close();
  return failed;
}

Result<std::unique_ptr<StateBackend>> openRocksDbStateBackend(
    std::shared_ptr<RocksDbEnvironment> environment, const std::string& name, KeyGroupRange range,
    int maxParallelism) {
  if (!environment)
    return Status::invalidArgument("the RocksDB state backend needs an environment");
  std::string safe;
  for (char c : name)
    safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  if (safe.empty()) safe = "state";
  // Two operators may have names that map to the same directory name: number them.
  std::string path = environment->directory() + "/" + safe;
  for (int i = 1; std::filesystem::exists(path); ++i)
    path = environment->directory() + "/" + safe + "-" + std::to_string(i);
  auto backend =
      std::make_unique<RocksDbStateBackend>(std::move(environment), path, range, maxParallelism);
  REKA_RETURN_IF_ERROR(backend->open());
  return std::unique_ptr<StateBackend>(std::move(backend));
}

}  // namespace reka
