// The state API's conformance suite: every keyed state handle (value, list, map, reducing,
// aggregating) on every backend (heap, RocksDB) against a plain std::map reference model, with
// full and incremental snapshots, restores at another parallelism, and checkpoints of one
// backend restored on the other.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "reka/state/KeyedState.h"
#include "reka/state/RocksDbBackend.h"

namespace reka {
namespace {

constexpr int kMaxParallelism = 16;
using Snapshot = std::map<std::string, std::map<int32_t, std::string>>;

enum class Kind { kHeap, kRocksDb };

std::string kindName(Kind k) {
  return k == Kind::kHeap ? "heap" : "rocksdb";
}

/// Makes backends of one kind; RocksDB ones share one environment (one working directory).
class Backends {
 public:
  explicit Backends(Kind kind) : kind_(kind) {
    if (kind_ == Kind::kRocksDb) {
      RocksDbOptions o;
      o.localDir = std::filesystem::temp_directory_path().string();
      o.blockCacheBytes = 8 << 20;
      o.writeBufferBytes = 4 << 20;
      o.valueCacheBytes = 16 << 10;  // small: the handles meet evictions often
      auto env = RocksDbEnvironment::open(o);
      EXPECT_TRUE(env.isOk()) << env.status().toString();
      if (env.isOk()) env_ = *env;
    }
  }
  std::unique_ptr<StateBackend> make(KeyGroupRange range) {
    if (kind_ == Kind::kHeap) return std::make_unique<HeapStateBackend>(range, kMaxParallelism);
    auto b =
        openRocksDbStateBackend(env_, "op-" + std::to_string(count_++), range, kMaxParallelism);
    EXPECT_TRUE(b.isOk()) << b.status().toString();
    return b.isOk() ? std::move(*b) : nullptr;
  }
  ~Backends() {
    std::error_code ec;
    if (!shared_.empty()) std::filesystem::remove_all(shared_, ec);
  }
  std::shared_ptr<RocksDbEnvironment> environment() const { return env_; }
  Kind kind() const { return kind_; }
  /// A directory standing in for checkpoint storage's shared one (native snapshots).
  const std::string& sharedDir() {
    if (shared_.empty()) {
      shared_ = (std::filesystem::temp_directory_path() / "reka-shared-XXXXXX").string();
      EXPECT_NE(::mkdtemp(shared_.data()), nullptr);
    }
    return shared_;
  }
  /// Does what the checkpoint writer does with a native snapshot's uploads.
  void upload(const std::vector<NativeUpload>& uploads) {
    for (const auto& u : uploads) {
      std::error_code ec;
      std::filesystem::copy_file(u.source, sharedDir() + "/" + u.shared, std::filesystem::copy_options::overwrite_existing, ec);
      EXPECT_FALSE(ec) << ec.message();
      std::filesystem::remove(u.source, ec);
    }
  }

 private:
  Kind kind_;
  std::shared_ptr<RocksDbEnvironment> env_;
  std::string shared_;
  int count_ = 0;
};

struct Sum {
  int64_t operator()(int64_t a, int64_t b) const { return a + b; }
};
struct Average {
  std::pair<int64_t, int64_t> createAccumulator() const { return {0, 0}; }
  void add(int64_t v, std::pair<int64_t, int64_t>& acc) const {
    acc.first += v;
    acc.second += 1;
  }
  double getResult(const std::pair<int64_t, int64_t>& acc) const {
    return acc.second == 0 ? 0.0 : static_cast<double>(acc.first) / static_cast<double>(acc.second);
  }
};

/// One operator subtask's state: the five handles of a keyed function, keyed by string.
struct Subtask {
  std::unique_ptr<StateBackend> backend;
  KeyContext<std::string_view> ctx;
  ValueState<std::string_view, int64_t> value;
  ListState<std::string_view, std::string> list;
  MapState<std::string_view, int32_t, std::string> map;
  ReducingState<std::string_view, int64_t, Sum> reducing;
  AggregatingState<std::string_view, int64_t, Average> aggregating;
  std::string key;

  explicit Subtask(std::unique_ptr<StateBackend> b) : backend(std::move(b)) {
    KeyedStateRegistry<std::string_view> r(backend.get(), &ctx, "f/");
    value = r.valueState<int64_t>("value");
    list = r.listState<std::string>("list");
    map = r.mapState<int32_t, std::string>("map");
    reducing = r.reducingState<int64_t>("reducing", Sum{});
    aggregating = r.aggregatingState<int64_t>("aggregating", Average{});
    EXPECT_TRUE(r.status().isOk()) << r.status().toString();
  }
  void setKey(const std::string& k) {
    key = k;
    view = key;
    ctx.key = &view;
    ctx.keyGroup = keyGroupFor(hashKey(view), kMaxParallelism);
  }
  std::string_view view;  ///< what ctx.key points at
};

/// What every key should hold.
struct Model {
  std::map<std::string, int64_t> value;
  std::map<std::string, std::vector<std::string>> list;
  std::map<std::string, std::map<int32_t, std::string>> map;
  std::map<std::string, int64_t> reducing;
  std::map<std::string, std::pair<int64_t, int64_t>> aggregating;
};

void expectKeyMatches(Subtask& s, const Model& m, const std::string& key) {
  SCOPED_TRACE("key " + key);
  s.setKey(key);
  auto v = m.value.find(key);
  if (v == m.value.end()) {
    EXPECT_EQ(s.value.peek(), nullptr);
    EXPECT_FALSE(s.value.contains());
  } else {
    ASSERT_NE(s.value.peek(), nullptr);
    EXPECT_EQ(*s.value.peek(), v->second);
  }
  auto l = m.list.find(key);
  if (l == m.list.end()) {
    EXPECT_FALSE(s.list.contains());
  } else {
    EXPECT_EQ(s.list.get(), l->second);
  }
  auto mp = m.map.find(key);
  if (mp == m.map.end()) {
    EXPECT_FALSE(s.map.contains());
  } else {
    const auto& entries = s.map.entries();
    EXPECT_EQ(entries.size(), mp->second.size());
    for (const auto& [uk, uv] : mp->second) {
      const std::string* got = s.map.get(uk);
      ASSERT_NE(got, nullptr) << uk;
      EXPECT_EQ(*got, uv);
    }
  }
  auto r = m.reducing.find(key);
  if (r == m.reducing.end()) {
    EXPECT_EQ(s.reducing.get(), nullptr);
  } else {
    ASSERT_NE(s.reducing.get(), nullptr);
    EXPECT_EQ(*s.reducing.get(), r->second);
  }
  auto a = m.aggregating.find(key);
  const double want =
      a == m.aggregating.end() || a->second.second == 0
          ? 0.0
          : static_cast<double>(a->second.first) / static_cast<double>(a->second.second);
  EXPECT_DOUBLE_EQ(s.aggregating.get(), want);
}

std::string keyName(int i) {
  return "key-" + std::to_string(i);
}

/// Applies one random operation to the key `k` of the subtask that owns it and to the model.
void randomOperation(std::mt19937_64& rng, Subtask& s, Model& m, const std::string& k) {
  s.setKey(k);
  switch (rng() % 9) {
    case 0:
      s.value.update(static_cast<int64_t>(rng() % 1000));
      m.value[k] = *s.value.peek();
      break;
    case 1:  // changed in place through getOrCreate
      s.value.getOrCreate() += 7;
      m.value[k] += 7;
      break;
    case 2: {
      std::string e = "e" + std::to_string(rng() % 100);
      s.list.add(e);
      m.list[k].push_back(e);
      break;
    }
    case 3:
      s.list.clear();
      m.list.erase(k);
      break;
    case 4: {
      const int32_t uk = static_cast<int32_t>(rng() % 5);
      std::string uv = "v" + std::to_string(rng() % 100);
      s.map.put(uk, uv);
      m.map[k][uk] = uv;
      break;
    }
    case 5: {
      const int32_t uk = static_cast<int32_t>(rng() % 5);
      const bool had = m.map.count(k) != 0 && m.map[k].erase(uk) > 0;
      EXPECT_EQ(s.map.remove(uk), had);
      break;
    }
    case 6: {
      const int64_t x = static_cast<int64_t>(rng() % 50);
      s.reducing.add(x);
      m.reducing[k] += x;
      break;
    }
    case 7: {
      const int64_t x = static_cast<int64_t>(rng() % 50);
      s.aggregating.add(x);
      m.aggregating[k].first += x;
      m.aggregating[k].second += 1;
      break;
    }
    default:
      s.value.clear();
      m.value.erase(k);
      break;
  }
}

/// A snapshot of a whole job: every subtask's key groups together (as a checkpoint holds them).
struct Taken {
  Snapshot keyed;
  bool delta = false;
};

/// The subtasks of a job at `parallelism`, restored from `checkpoint` (a chain: a full
/// snapshot, then deltas or full snapshots) if given.
std::vector<std::unique_ptr<Subtask>> openJob(Backends& backends, int parallelism,
                                              const std::vector<Taken>& checkpoint) {
  std::vector<std::unique_ptr<Subtask>> out;
  for (int i = 0; i < parallelism; ++i) {
    out.push_back(std::make_unique<Subtask>(
        backends.make(keyGroupRangeFor(kMaxParallelism, parallelism, i))));
    for (const Taken& c : checkpoint) {
      Status st = c.delta ? out.back()->backend->applyKeyedDelta(c.keyed)
                          : out.back()->backend->restoreKeyed(c.keyed);
      EXPECT_TRUE(st.isOk()) << st.toString();
    }
  }
  return out;
}

Subtask& owner(std::vector<std::unique_ptr<Subtask>>& job, const std::string& key) {
  const KeyGroup kg = keyGroupFor(hashKey(std::string_view(key)), kMaxParallelism);
  return *job[static_cast<size_t>(subtaskFor(kg, kMaxParallelism, static_cast<int>(job.size())))];
}

/// Snapshots every subtask. Incremental: deltas on the heap; on RocksDB native snapshots (the
/// database's files, kept in the shared directory), read back as full key groups the way a
/// restore at another parallelism reads them.
Taken snapshotJob(Backends& backends, std::vector<std::unique_ptr<Subtask>>& job, bool incremental) {
  static int64_t checkpointId = 0;
  ++checkpointId;
  Taken all;
  all.delta = incremental && backends.kind() == Kind::kHeap;
  for (auto& s : job) {
    const KeyGroupRange r = s->backend->keyGroups();
    if (incremental && backends.kind() == Kind::kRocksDb) {
      NativeSnapshot native;
      std::vector<NativeUpload> uploads;
      Status st = s->backend->snapshotNative(checkpointId, checkpointId - 1, native, uploads);
      EXPECT_TRUE(st.isOk()) << st.toString();
      backends.upload(uploads);
      st = readNativeSnapshot(native, backends.sharedDir(), r, [&](const std::string& table, int32_t kg, std::string_view bytes) {
        all.keyed[table][kg] = std::string(bytes);
        return Status::ok();
      });
      EXPECT_TRUE(st.isOk()) << st.toString();
      continue;
    }
    for (const auto& name : s->backend->tableNames()) {
      StateTable* t = s->backend->findTable(name);
      for (int32_t kg = r.first; kg <= r.last; ++kg) {
        std::string bytes;
        Status st = all.delta ? t->snapshotKeyGroupDelta(KeyGroup{kg}, bytes)
                              : t->snapshotKeyGroup(KeyGroup{kg}, bytes);
        EXPECT_TRUE(st.isOk()) << st.toString();
        all.keyed[name][kg] = std::move(bytes);
      }
    }
  }
  return all;
}

void expectJobMatches(std::vector<std::unique_ptr<Subtask>>& job, const Model& m, int keys) {
  for (int i = 0; i < keys; ++i) expectKeyMatches(owner(job, keyName(i)), m, keyName(i));
}

class StateConformanceTest : public ::testing::TestWithParam<Kind> {};

TEST_P(StateConformanceTest, HandlesBehaveLikeTheReferenceModel) {
  Backends backends(GetParam());
  auto job = openJob(backends, 1, {});
  Model m;
  std::mt19937_64 rng(42);
  for (int i = 0; i < 5000; ++i) {
    randomOperation(rng, *job[0], m, keyName(static_cast<int>(rng() % 60)));
    if (i % 997 == 0) expectJobMatches(job, m, 60);
  }
  expectJobMatches(job, m, 60);
}

TEST_P(StateConformanceTest, ReferencesStayValidThroughACallAndChangesPersist) {
  Backends backends(GetParam());
  auto job = openJob(backends, 1, {});
  Subtask& s = *job[0];
  s.setKey("a");
  int64_t& v = s.value.getOrCreate();
  v = 5;
  std::vector<std::string>& l = s.list.get();
  l.push_back("x");
  s.list.add("y");  // the cached list
  v += 1;           // still the same value
  s.setKey("b");
  s.list.add("z");  // a key that is not cached: appended without a read
  s.list.add("w");
  s.setKey("a");
  ASSERT_NE(s.value.peek(), nullptr);
  EXPECT_EQ(*s.value.peek(), 6);
  EXPECT_EQ(s.list.get(), (std::vector<std::string>{"x", "y"}));
  s.setKey("b");
  EXPECT_EQ(s.list.get(), (std::vector<std::string>{"z", "w"}));
  EXPECT_EQ(s.value.get(), nullptr);
}

TEST_P(StateConformanceTest, FullAndIncrementalSnapshotsRestoreAtAnyParallelism) {
  Backends backends(GetParam());
  Model m;
  std::mt19937_64 rng(7);
  constexpr int kKeys = 200;
  // Parallelism 2: a full snapshot, then two deltas.
  auto job = openJob(backends, 2, {});
  std::vector<Taken> chain;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 1500; ++i) {
      const std::string k = keyName(static_cast<int>(rng() % kKeys));
      randomOperation(rng, owner(job, k), m, k);
    }
    chain.push_back(snapshotJob(backends, job, round > 0));
  }
  // 2 → 4: restore the chain; the state is the model's.
  job = openJob(backends, 4, chain);
  expectJobMatches(job, m, kKeys);
  // More changes at 4, a delta on top of the restored state, then 4 → 1.
  std::vector<Taken> chain4{snapshotJob(backends, job, false)};
  for (int i = 0; i < 1500; ++i) {
    const std::string k = keyName(static_cast<int>(rng() % kKeys));
    randomOperation(rng, owner(job, k), m, k);
  }
  chain4.push_back(snapshotJob(backends, job, true));
  job = openJob(backends, 1, chain4);
  expectJobMatches(job, m, kKeys);
}

TEST_P(StateConformanceTest, ADeltaHoldsOnlyTheChangedKeys) {
  if (GetParam() == Kind::kRocksDb)
    GTEST_SKIP() << "RocksDB checkpoints incrementally by sharing its files (NativeSnapshotsShareFilesAndRestoreInPlace)";
  Backends backends(GetParam());
  auto job = openJob(backends, 1, {});
  Subtask& s = *job[0];
  for (int i = 0; i < 100; ++i) {
    s.setKey(keyName(i));
    s.value.update(i);
  }
  const Snapshot full = snapshotJob(backends, job, false).keyed;
  s.setKey(keyName(3));
  s.value.update(1000);
  s.setKey(keyName(4));
  s.value.clear();
  s.setKey(keyName(5));
  (void)s.value.peek();  // a read is not a change
  const Snapshot delta = snapshotJob(backends, job, true).keyed;
  // Decode the delta of the value table: upserts, then deletions.
  std::map<std::string, int64_t> upserts;
  std::vector<std::string> deletes;
  for (const auto& [kg, bytes] : delta.at("f/value")) {
    std::string_view in = bytes;
    uint64_t n = 0;
    ASSERT_TRUE(Serde<uint64_t>::read(in, n));
    for (uint64_t i = 0; i < n; ++i) {
      std::string k;
      int64_t v = 0;
      ASSERT_TRUE(Serde<std::string>::read(in, k) && Serde<int64_t>::read(in, v));
      upserts[k] = v;
    }
    ASSERT_TRUE(Serde<uint64_t>::read(in, n));
    for (uint64_t i = 0; i < n; ++i) {
      std::string k;
      ASSERT_TRUE(Serde<std::string>::read(in, k));
      deletes.push_back(k);
    }
    EXPECT_TRUE(in.empty());
  }
  EXPECT_EQ(upserts, (std::map<std::string, int64_t>{{keyName(3), 1000}}));
  EXPECT_EQ(deletes, std::vector<std::string>{keyName(4)});
  // The delta's records make older ones obsolete (what decides when to write in full again);
  // a full snapshot starts the count again.
  EXPECT_GT(s.backend->findTable("f/value")->deltaStats().superseded, 0u);
  (void)snapshotJob(backends, job, false);
  EXPECT_EQ(s.backend->findTable("f/value")->deltaStats().superseded, 0u);
}

/// RocksDB's incremental checkpoints: the second snapshot uploads only the files written since
/// the first and refers to the others; a restore at the same key groups puts the files back and
/// opens them (no record rewritten), and its next snapshot again refers to what is uploaded.
TEST(RocksDbBackendTest, NativeSnapshotsShareFilesAndRestoreInPlace) {
  Backends backends(Kind::kRocksDb);
  Model m;
  std::mt19937_64 rng(5);
  constexpr int kKeys = 3000;
  auto job = openJob(backends, 1, {});
  auto work = [&](int n) {
    for (int i = 0; i < n; ++i) {
      const std::string k = keyName(static_cast<int>(rng() % kKeys));
      randomOperation(rng, *job[0], m, k);
    }
  };
  auto snapshot = [&](StateBackend& b, int64_t id, int64_t base, NativeSnapshot& out) {
    std::vector<NativeUpload> uploads;
    Status st = b.snapshotNative(id, base, out, uploads);
    EXPECT_TRUE(st.isOk()) << st.toString();
    backends.upload(uploads);
    return uploads.size();
  };
  // Which files a snapshot uploads: exactly those its base did not list, under new names;
  // the others it refers to under the base's names.
  auto checkShares = [](const NativeSnapshot& base, const NativeSnapshot& next, size_t uploaded) {
    std::map<std::string, std::string> before;
    for (const auto& f : base.files) before[f.local] = f.shared;
    size_t fresh = 0;
    for (const auto& f : next.files) {
      auto it = before.find(f.local);
      if (it == before.end()) {
        ++fresh;
      } else {
        EXPECT_EQ(f.shared, it->second) << f.local;
      }
    }
    EXPECT_EQ(uploaded, fresh);
  };
  work(20000);
  // Everything in one compacted file per state, so that no compaction runs in the background
  // while the test looks at which files the snapshots share.
  ASSERT_TRUE(compactRocksDbStateBackend(*job[0]->backend).isOk());
  NativeSnapshot first;
  const size_t uploadedFirst = snapshot(*job[0]->backend, 1, 0, first);
  EXPECT_EQ(uploadedFirst, first.files.size());  // no base: every file is new
  ASSERT_GE(first.files.size(), 1u);
  EXPECT_FALSE(first.meta.empty());  // CURRENT, MANIFEST, OPTIONS
  // Nothing written since: the same files, none uploaded again.
  NativeSnapshot same;
  EXPECT_EQ(snapshot(*job[0]->backend, 2, 1, same), 0u);
  EXPECT_EQ(same.files.size(), first.files.size());
  checkShares(first, same, 0);
  // Writes since: the files flushed (and compacted) since are uploaded, the rest referred to.
  work(200);
  NativeSnapshot second;
  const size_t uploadedSecond = snapshot(*job[0]->backend, 3, 2, second);
  EXPECT_GE(uploadedSecond, 1u);
  checkShares(same, second, uploadedSecond);
  // A snapshot on a base it was not part of (an aborted checkpoint) uploads everything.
  NativeSnapshot unknownBase;
  const size_t uploadedAll = snapshot(*job[0]->backend, 4, 99, unknownBase);
  EXPECT_EQ(uploadedAll, unknownBase.files.size());
  // Restore in place into a fresh backend of the same key groups.
  auto restored = openJob(backends, 1, {});
  Status st = restored[0]->backend->restoreNative(second, backends.sharedDir(), 3);
  ASSERT_TRUE(st.isOk()) << st.toString();
  expectJobMatches(restored, m, kKeys);
  // Its first snapshot builds on the restored checkpoint.
  NativeSnapshot third;
  const size_t uploadedThird = snapshot(*restored[0]->backend, 5, 3, third);
  checkShares(second, third, uploadedThird);
  // A file damaged in shared storage makes the restore fail rather than read wrong state.
  auto broken = openJob(backends, 1, {});
  NativeSnapshot missing = second;
  missing.files.push_back({"999999.sst", "no-such-file.sst"});
  EXPECT_FALSE(broken[0]->backend->restoreNative(missing, backends.sharedDir(), 0).isOk());
  NativeSnapshot escaping = second;
  escaping.meta.emplace_back("../escape", "x");
  st = broken[0]->backend->restoreNative(escaping, backends.sharedDir(), 0);
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.toString();
}

INSTANTIATE_TEST_SUITE_P(Backends, StateConformanceTest,
                         ::testing::Values(Kind::kHeap, Kind::kRocksDb),
                         [](const ::testing::TestParamInfo<Kind>& i) { return kindName(i.param); });

/// A checkpoint taken on one backend restores on the other, both ways, at another parallelism.
TEST(StateBackendSwitchTest, CheckpointsRestoreAcrossBackends) {
  for (Kind from : {Kind::kHeap, Kind::kRocksDb}) {
    const Kind to = from == Kind::kHeap ? Kind::kRocksDb : Kind::kHeap;
    SCOPED_TRACE(kindName(from) + " -> " + kindName(to));
    Backends a(from), b(to);
    Model m;
    std::mt19937_64 rng(11);
    auto job = openJob(a, 3, {});
    for (int i = 0; i < 3000; ++i) {
      const std::string k = keyName(static_cast<int>(rng() % 100));
      randomOperation(rng, owner(job, k), m, k);
    }
    const Taken full = snapshotJob(a, job, false);
    for (int i = 0; i < 500; ++i) {
      const std::string k = keyName(static_cast<int>(rng() % 100));
      randomOperation(rng, owner(job, k), m, k);
    }
    const Taken delta = snapshotJob(a, job, true);
    auto restored = openJob(b, 2, {full, delta});
    expectJobMatches(restored, m, 100);
  }
}

TEST(RocksDbBackendTest, StateWithoutSerdeIsRefusedAtRegistration) {
  struct Opaque {
    int x = 0;
  };
  Backends backends(Kind::kRocksDb);
  auto backend = backends.make(keyGroupRangeFor(kMaxParallelism, 1, 0));
  KeyContext<int64_t> ctx;
  KeyedStateRegistry<int64_t> r(backend.get(), &ctx, "f/");
  (void)r.valueState<Opaque>("opaque");
  ASSERT_FALSE(r.status().isOk());
  EXPECT_NE(r.status().message().find("keyed state 'f/opaque' has a key or value type without a "
                                      "Serde, which the rocksdb state backend needs"),
            std::string::npos)
      << r.status().toString();
}

TEST(RocksDbBackendTest, TheWorkingDirectoryIsPrivateAndRemovedAtTheEnd) {
  std::string dir;
  {
    Backends backends(Kind::kRocksDb);
    dir = backends.environment()->directory();
    auto backend = backends.make(keyGroupRangeFor(kMaxParallelism, 1, 0));
    ASSERT_TRUE(std::filesystem::is_directory(dir));
    const auto perms = std::filesystem::status(dir).permissions();
    EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_all);
    KeyContext<int64_t> ctx;
    KeyedStateRegistry<int64_t> r(backend.get(), &ctx, "f/");
    auto v = r.valueState<int64_t>("v");
    const int64_t key = 1;
    ctx.key = &key;
    v.update(3);
    ASSERT_NE(v.peek(), nullptr);
    EXPECT_EQ(*v.peek(), 3);
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

/// A job killed with SIGKILL cannot remove its working directory: the next job in the same
/// local directory removes every one whose owner lock nobody holds, and no other.
TEST(RocksDbBackendTest, WorkingDirectoriesOfDeadJobsAreRemoved) {
  namespace fs = std::filesystem;
  const fs::path base =
      fs::temp_directory_path() / ("reka-rocksdb-stale-test-" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base / "reka-rocksdb-dead01");
  std::ofstream(base / "reka-rocksdb-dead01" / "owner.lock").put('x');
  fs::create_directories(base / "reka-rocksdb-live01");
  std::ofstream(base / "reka-rocksdb-live01" / "owner.lock").put('x');
  fs::create_directories(base / "unrelated");
  const int held = ::open((base / "reka-rocksdb-live01" / "owner.lock").c_str(), O_RDONLY);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX), 0);  // a running job's lock (another process, in life)
  RocksDbOptions o;
  o.localDir = base.string();
  {
    auto env = RocksDbEnvironment::open(o);
    ASSERT_TRUE(env.isOk()) << env.status().toString();
    EXPECT_FALSE(fs::exists(base / "reka-rocksdb-dead01"));
    EXPECT_TRUE(fs::exists(base / "reka-rocksdb-live01"));
    EXPECT_TRUE(fs::exists(base / "unrelated"));
    EXPECT_TRUE(fs::exists((*env)->directory()));
  }
  ::close(held);
  fs::remove_all(base);
}

TEST(RocksDbBackendTest, BadOptionsSayWhatIsAccepted) {
  RocksDbOptions o;
  o.blockCacheBytes = 1000;
  auto env = RocksDbEnvironment::open(o);
  ASSERT_FALSE(env.isOk());
  EXPECT_NE(env.status().message().find("block-cache-size must be at least 1 MiB"),
            std::string::npos);
}

}  // namespace
}  // namespace reka
