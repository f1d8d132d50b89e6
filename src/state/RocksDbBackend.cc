#include "reka/state/RocksDbBackend.h"

#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

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

class RocksColumn final : public KeyValueStore {
 public:
  RocksColumn(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) : db_(db), cf_(cf) {
    // The checkpoints make state durable; the write-ahead log would only slow writes down.
    write_.disableWAL = true;
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

 private:
  static rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  rocksdb::ReadOptions read_;
  rocksdb::WriteOptions write_;
};

}  // namespace

struct RocksDbEnvironment::Impl {
  std::string directory;
  int lockFd = -1;  ///< `owner.lock` in the directory, locked while the job runs
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> writeBuffers;
  std::shared_ptr<rocksdb::MergeOperator> merge = std::make_shared<ListAppendOperator>();
  rocksdb::BlockBasedTableOptions table;

  rocksdb::ColumnFamilyOptions columnOptions() const {
    rocksdb::ColumnFamilyOptions o;
    o.merge_operator = merge;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    o.write_buffer_size = 16 << 20;
    // A Bloom filter over the memory table's keys: reading a key that is not there (the first
    // access of most keys) skips the search of the table.
    o.memtable_whole_key_filtering = true;
    o.memtable_prefix_bloom_size_ratio = 0.1;
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
  impl->table.block_cache = impl->cache;
  impl->table.cache_index_and_filter_blocks =
      true;  // index and filters count against the cache too
  impl->table.block_size = 16 << 10;
  // A Bloom filter per file: a key that is not in a file (most first accesses of a key) costs
  // no block read there.
  impl->table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  impl->table.pin_l0_filter_and_index_blocks_in_cache = true;
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
    // The database closes first: its compaction threads may still use the columns' filters.
    for (auto* cf : handles_) db_->DestroyColumnFamilyHandle(cf);
    handles_.clear();
    if (db_) {
      (void)db_->Close();
      db_.reset();
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  Status open() {
    rocksdb::DBOptions o;
    o.create_if_missing = true;
    o.max_background_jobs = 2;
    o.write_buffer_manager = env_->impl().writeBuffers;
    o.max_open_files = 256;
    o.keep_log_file_num = 2;
    o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    rocksdb::ColumnFamilyDescriptor def(rocksdb::kDefaultColumnFamilyName,
                                        env_->impl().columnOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    REKA_RETURN_IF_ERROR(fromRocks(rocksdb::DB::Open(o, path_, {def}, &handles, &db),
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
    rocksdb::ColumnFamilyOptions options = env_->impl().columnOptions();
    options.compaction_filter = filter.get();
    REKA_RETURN_IF_ERROR(fromRocks(db_->CreateColumnFamily(options, name, &cf),
                                   "creating the column family of state '" + name + "'"));
    handles_.push_back(cf);
    Column& c = columns_[name];
    c.filter = std::move(filter);
    c.store = std::make_unique<RocksColumn>(db_.get(), cf);
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
};

}  // namespace

Status compactRocksDbStateBackend(StateBackend& backend) {
  auto* rocks = dynamic_cast<RocksDbStateBackend*>(&backend);
  if (rocks == nullptr) return Status::invalidArgument("not a RocksDB state backend");
  return rocks->compactAll();
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
