// Fuzzes the readers of checkpointed state: everything a restore decodes from the bytes of a
// state file. Byte 0 of the input picks the reader, byte 1 a variant; the rest is the bytes:
//   0 Serde<T>::read for the engine's generic types and the NEXMark state types
//   1 KeyedTimers<K>::restore (int64 and string keys)
//   2 TrackedMap::readFull, then applyDelta while bytes are left
//   3 decodeTaskSnapshot (a whole state file)
//   4 AlignedWindowOperator::restoreState + restoreDelta (two blobs: u16 length of the first)
//   5 SessionWindowOperator::restoreState
//   6 CountWindowOperator / GlobalWindowOperator::restoreState
//   7 IntervalJoinOperator / WindowJoinOperator::restoreState
//   8 SplitWatermarks::restore (source watermarks)
//   9 TransactionalFileWriter::restore (the file sink's blob), in a scratch directory
// A reader must refuse bad bytes with a Status or false: never crash, hang or allocate more
// than a small multiple of its input. What it accepts must survive a round trip: written again
// and read back, it gives the same state (the same bytes where the encoding is canonical).
//
// `REKA_FUZZ_WRITE_SEEDS=DIR state_snapshot_fuzzer` writes the seed corpus (real snapshots of
// every kind, fuzz/corpus/state_snapshot_fuzzer) to DIR and exits.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "nexmark/StateSerde.h"
#include "checkpoint/CheckpointStorage.h"
#include "reka/connector/TransactionalFileSink.h"
#include "reka/reka.h"
#include "reka/time/Timers.h"
#include "reka/time/Watermarks.h"

namespace reka::fuzz {

/// The record the fuzzed operators hold.
struct Ev {
  int64_t key = 0;
  int64_t ts = 0;
  int64_t value = 0;
};

}  // namespace reka::fuzz

namespace reka {
template <>
struct Serde<fuzz::Ev> {
  static void write(const fuzz::Ev& e, std::string& out) {
    Serde<int64_t>::write(e.key, out);
    Serde<int64_t>::write(e.ts, out);
    Serde<int64_t>::write(e.value, out);
  }
  static bool read(std::string_view& in, fuzz::Ev& e) {
    return Serde<int64_t>::read(in, e.key) && Serde<int64_t>::read(in, e.ts) && Serde<int64_t>::read(in, e.value);
  }
};
}  // namespace reka

namespace reka::fuzz {
namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

/// A restore that fails must say why with one of the codes restores use.
void checkRefusal(const Status& s) {
  check(!s.isOk());
  check(s.code() == StatusCode::kCorruption || s.code() == StatusCode::kInvalidArgument ||
        s.code() == StatusCode::kNotSupported || s.code() == StatusCode::kIoError);
  check(!s.message().empty());
}

constexpr int64_t kStartClock = 1'000'000;

// ---------------------------------------------------------------------------------------------
// 0: Serde readers

/// How the bytes that Serde<T>::write gives relate to the bytes read.
enum class Canon {
  kExact,      ///< one encoding per value: written again, the value gives the bytes read
  kStable,     ///< several encodings (e.g. any non-zero "present" byte); writing is idempotent
  kUnordered,  ///< hash containers: duplicates collapse, the order may change; rewrites as long
};

template <class T>
void serdeRoundTrip(std::string_view in, Canon canon) {
  std::string_view rest = in;
  T value{};
  if (!Serde<T>::read(rest, value)) return;
  check(rest.size() <= in.size());
  std::string written;
  Serde<T>::write(value, written);
  if constexpr (HasSerdeSized<T>::value) {
    check(Serde<T>::size(value) == written.size());
    std::string put(written.size(), '\0');
    check(Serde<T>::put(put.data(), value) == put.data() + put.size());
    check(put == written);
  }
  if (canon == Canon::kExact) check(written == in.substr(0, in.size() - rest.size()));
  std::string_view again = written;
  T reread{};
  check(Serde<T>::read(again, reread) && again.empty());
  std::string rewritten;
  Serde<T>::write(reread, rewritten);
  if (canon == Canon::kUnordered) {
    check(rewritten.size() == written.size());
  } else {
    check(rewritten == written);
  }
}

using StoredBidPtr = std::shared_ptr<const nexmark::StoredBid>;
using StoredAuctionPtr = std::shared_ptr<const nexmark::StoredAuction>;
using StringToIds = absl::flat_hash_map<std::string, std::vector<int64_t>>;

constexpr int kSerdeCases = 18;

void fuzzSerde(uint8_t variant, std::string_view in) {
  switch (variant % kSerdeCases) {
    case 0: return serdeRoundTrip<std::string>(in, Canon::kExact);
    case 1: return serdeRoundTrip<std::vector<std::string>>(in, Canon::kExact);
    case 2: return serdeRoundTrip<std::vector<std::vector<uint8_t>>>(in, Canon::kExact);
    case 3: return serdeRoundTrip<std::optional<std::pair<int64_t, std::string>>>(in, Canon::kStable);
    case 4: return serdeRoundTrip<StringToIds>(in, Canon::kUnordered);
    case 5: return serdeRoundTrip<StoredBidPtr>(in, Canon::kExact);
    case 6: return serdeRoundTrip<StoredAuctionPtr>(in, Canon::kExact);
    case 7: return serdeRoundTrip<nexmark::PersonInfo>(in, Canon::kExact);
    case 8: return serdeRoundTrip<nexmark::DayState>(in, Canon::kUnordered);
    case 9: return serdeRoundTrip<nexmark::AuctionDayStats>(in, Canon::kExact);
    case 10: return serdeRoundTrip<nexmark::AuctionSlot>(in, Canon::kExact);
    case 11: return serdeRoundTrip<nexmark::AuctionBook>(in, Canon::kExact);
    case 12: return serdeRoundTrip<nexmark::SellerWinners>(in, Canon::kExact);
    case 13: return serdeRoundTrip<nexmark::HotAuctions>(in, Canon::kExact);
    case 14: return serdeRoundTrip<nexmark::MaxBids>(in, Canon::kExact);
    case 15: return serdeRoundTrip<nexmark::PersonRef>(in, Canon::kExact);
    case 16: return serdeRoundTrip<nexmark::AuctionCount>(in, Canon::kExact);
    case 17: return serdeRoundTrip<std::vector<std::optional<StoredBidPtr>>>(in, Canon::kStable);
  }
}

// ---------------------------------------------------------------------------------------------
// Operator contexts

/// Processing time that stands still; remembers the earliest callback asked for.
class StillTime final : public ProcessingTimeService {
 public:
  int64_t now() const override { return now_; }
  void requestCallback(int64_t atMs) override { due_ = std::min(due_, atMs); }
  void set(int64_t now) { now_ = now; }
  int64_t due() const { return due_; }

 private:
  int64_t now_ = kStartClock;
  int64_t due_ = kMaxTime;
};

class NullOutput final : public Output {
 public:
  void push(Batch&) override {}
  void emitWatermark(int64_t) override {}
  void emitWatermarkStatus(bool) override {}
};

/// One operator subtask (subtask 0 of 1, or of the key groups given), opened.
class Rig {
 public:
  explicit Rig(std::unique_ptr<Operator> op, KeyGroupRange keyGroups = {0, 127})
      : backend_(keyGroups, 128), op_(std::move(op)) {
    ctx_.name = "fuzzed";
    ctx_.keyGroups = keyGroups;
    ctx_.state = &backend_;
    ctx_.outputs = {&main_, &side_};
    ctx_.batchSize = 4;
    ctx_.metrics = &metrics_;
    ctx_.time = &time_;
    op_->bindContext(&ctx_);
    check(op_->open(ctx_).isOk());
  }
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  Operator& op() { return *op_; }
  OperatorContext& ctx() { return ctx_; }
  StillTime& time() { return time_; }

 private:
  StillTime time_;
  NullOutput main_, side_;
  HeapStateBackend backend_;
  OperatorMetrics metrics_;
  OperatorContext ctx_;
  std::unique_ptr<Operator> op_;
};

// ---------------------------------------------------------------------------------------------
// 1: timers

template <class K>
void fuzzTimers(uint8_t variant, std::string_view in) {
  StillTime time;
  OperatorContext ctx;
  ctx.maxParallelism = 128;
  // Half the key groups: a timer of a key outside them must fail the restore.
  ctx.keyGroups = (variant & 2) ? KeyGroupRange{0, 63} : KeyGroupRange{0, 127};
  ctx.time = &time;
  KeyContext<K> keys;
  KeyedTimers<K> timers;
  check(timers.init(&ctx, &keys).isOk());
  std::string_view rest = in;
  Status s = timers.restore(rest);
  if (!s.isOk()) return checkRefusal(s);
  std::string written;
  check(timers.snapshot(written).isOk());
  KeyedTimers<K> again;
  check(again.init(&ctx, &keys).isOk());
  std::string_view view = written;
  check(again.restore(view).isOk() && view.empty());
  std::string rewritten;
  check(again.snapshot(rewritten).isOk());
  check(rewritten == written);
  // The restored timers fire, each once, when the watermark advances to the end of time (a
  // restored watermark already there never advances: nothing fires).
  const size_t eventTimers = timers.eventTimerCount();
  const bool advances = timers.currentWatermark() < kMaxTime;
  size_t fired = 0;
  timers.advanceWatermark(kMaxTime, [&](int64_t, const auto&) { ++fired; });
  check(fired == (advances ? eventTimers : 0));
  check(timers.eventTimerCount() == (advances ? 0 : eventTimers));
}

// ---------------------------------------------------------------------------------------------
// 2: TrackedMap

template <class Map>
void fuzzTrackedMap(std::string_view in) {
  Map map;
  if (!map.readFull(in)) return;
  for (int deltas = 0; !in.empty() && deltas < 8; ++deltas) {
    if (!map.applyDelta(in)) return;
  }
  std::string full;
  map.writeFull(full);
  Map copy;
  std::string_view view = full;
  check(copy.readFull(view) && view.empty());
  check(copy.size() == map.size());
  for (const auto& [key, value] : map) {
    const auto* found = copy.find(key);
    check(found != nullptr && *found == value);
  }
  // Nothing changed since the snapshot: an empty delta (no upserts, no deletions).
  std::string delta;
  map.writeDelta(delta);
  check(delta == std::string(16, '\0'));
}

// ---------------------------------------------------------------------------------------------
// 3: state files

bool sameOperators(const std::vector<checkpoint::OperatorSnapshot>& a,
                   const std::vector<checkpoint::OperatorSnapshot>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& x = a[i];
    const auto& y = b[i];
    if (x.node != y.node || x.subtask != y.subtask || x.name != y.name || x.keyed != y.keyed ||
        x.lists != y.lists || x.blob != y.blob || x.blobIsDelta != y.blobIsDelta || x.native.has_value() != y.native.has_value())
      return false;
    if (x.native) {
      if (x.native->meta != y.native->meta || x.native->files.size() != y.native->files.size()) return false;
      for (size_t f = 0; f < x.native->files.size(); ++f) {
        const auto& p = x.native->files[f];
        const auto& q = y.native->files[f];
        if (p.local != q.local || p.shared != q.shared || p.size != q.size) return false;
      }
    }
  }
  return true;
}

void fuzzStateFile(std::string_view in) {
  checkpoint::DecodedStateFile file;
  Status s = checkpoint::decodeTaskSnapshot(in, file);
  if (!s.isOk()) {
    check(s.code() == StatusCode::kCorruption);
    return;
  }
  const std::string encoded = checkpoint::encodeTaskSnapshot(file.operators, file.delta, file.baseId);
  checkpoint::DecodedStateFile again;
  check(checkpoint::decodeTaskSnapshot(encoded, again).isOk());
  check(again.delta == file.delta);
  if (file.delta) check(again.baseId == file.baseId);
  check(sameOperators(file.operators, again.operators));
}

// ---------------------------------------------------------------------------------------------
// 4–7: window and join operators

using Sums = std::pair<int64_t, int64_t>;  // (count, sum of values)

struct CountSum {
  Sums createAccumulator() const { return {0, 0}; }
  void add(const Ev& e, Sums& a) const {
    ++a.first;
    a.second += e.value;
  }
  void merge(const Sums& from, Sums& into) const {
    into.first += from.first;
    into.second += from.second;
  }
  Sums getResult(const Sums& a) const { return a; }
};

struct KeyOf {
  int64_t operator()(const Ev& e) const { return e.key; }
};
struct TsOf {
  int64_t operator()(const Ev& e) const { return e.ts; }
};
/// String keys as views into static storage (stored as std::string).
struct NameOf {
  std::string_view operator()(const Ev& e) const {
    static const std::string kNames[] = {"ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"};
    return kNames[static_cast<uint64_t>(e.key) % 8];
  }
};

using Result = WindowResult<int64_t, Sums>;
using NamedResult = WindowResult<std::string_view, Sums>;
using CountSumEmit = detail::AggregateEmit<int64_t, CountSum, Result>;
using NamedCountSumEmit = detail::AggregateEmit<std::string_view, CountSum, NamedResult>;

struct Joined {
  int64_t key = 0;
  int64_t a = 0;
  int64_t b = 0;
  int64_t windowStart = 0;
};
struct JoinPair {
  void operator()(const Ev& a, const Ev& b, Emitter<Joined>& out) const { out.emit({a.key, a.value, b.value, 0}); }
};
struct JoinInWindow {
  void operator()(const Ev& a, const Ev& b, const TimeWindow& w, Emitter<Joined>& out) const {
    out.emit({a.key, a.value, b.value, w.start});
  }
};

using Factory = std::function<std::unique_ptr<Operator>()>;

std::shared_ptr<const detail::SidePorts> noPorts() { return std::make_shared<detail::SidePorts>(); }

/// The operators the fuzzer restores, by kind; `variant` picks a configuration.
Factory alignedFactory(uint8_t variant) {
  WindowOptions options;
  options.allowedLatenessMs = (variant & 2) ? 50 : 0;
  switch (variant % 4) {
    case 0:
      return [=] {
        return std::make_unique<detail::AlignedWindowOperator<Ev, int64_t, KeyOf, TsOf, CountSum, Result, CountSumEmit>>(
            KeyOf{}, TsOf{}, CountSum{}, CountSumEmit{CountSum{}},
            detail::AlignedSpec::of(TumblingWindows::eventTime(std::chrono::milliseconds(100))), options, noPorts());
      };
    case 1:
      return [=] {
        return std::make_unique<detail::AlignedWindowOperator<Ev, int64_t, KeyOf, TsOf, CountSum, Result, CountSumEmit>>(
            KeyOf{}, TsOf{}, CountSum{}, CountSumEmit{CountSum{}},
            detail::AlignedSpec::of(SlidingWindows::eventTime(std::chrono::milliseconds(100), std::chrono::milliseconds(40))),
            options, noPorts());
      };
    case 2: {
      WindowOptions early = options;
      early.allowedLatenessMs = 0;
      early.trigger = Trigger::earlyEvery(std::chrono::milliseconds(30));
      return [=] {
        return std::make_unique<detail::AlignedWindowOperator<Ev, int64_t, KeyOf, TsOf, CountSum, Result, CountSumEmit>>(
            KeyOf{}, TsOf{}, CountSum{}, CountSumEmit{CountSum{}},
            detail::AlignedSpec::of(TumblingWindows::processingTime(std::chrono::milliseconds(100))), early, noPorts());
      };
    }
    default:
      return [=] {
        return std::make_unique<
            detail::AlignedWindowOperator<Ev, std::string_view, NameOf, TsOf, CountSum, NamedResult, NamedCountSumEmit>>(
            NameOf{}, TsOf{}, CountSum{}, NamedCountSumEmit{CountSum{}},
            detail::AlignedSpec::of(TumblingWindows::eventTime(std::chrono::milliseconds(100))), options, noPorts());
      };
  }
}

Factory sessionFactory(uint8_t variant) {
  WindowOptions options;
  options.allowedLatenessMs = (variant & 2) ? 50 : 0;
  const SessionWindows windows = (variant & 1) ? SessionWindows::processingTimeWithGap(std::chrono::milliseconds(30))
                                               : SessionWindows::withGap(std::chrono::milliseconds(30));
  return [=] {
    return std::make_unique<detail::SessionWindowOperator<Ev, int64_t, KeyOf, TsOf, CountSum, Result, CountSumEmit>>(
        KeyOf{}, TsOf{}, CountSum{}, CountSumEmit{CountSum{}}, windows, options, noPorts());
  };
}

Factory countOrGlobalFactory(uint8_t variant) {
  switch (variant % 3) {
    case 0:
      return [] {
        return std::make_unique<
            detail::CountWindowOperator<Ev, std::string_view, NameOf, CountSum, NamedResult, NamedCountSumEmit>>(
            NameOf{}, CountSum{}, NamedCountSumEmit{CountSum{}}, CountWindows::sliding(4, 2), WindowOptions{}, noPorts());
      };
    case 1: {
      WindowOptions options;
      options.trigger = Trigger::countOf(3);
      return [=] {
        return std::make_unique<detail::GlobalWindowOperator<Ev, int64_t, KeyOf, CountSum, Result, CountSumEmit>>(
            KeyOf{}, CountSum{}, CountSumEmit{CountSum{}}, options, noPorts());
      };
    }
    default: {
      WindowOptions options;
      options.trigger = Trigger::processingTimeEvery(std::chrono::milliseconds(20));
      return [=] {
        return std::make_unique<detail::GlobalWindowOperator<Ev, int64_t, KeyOf, CountSum, Result, CountSumEmit>>(
            KeyOf{}, CountSum{}, CountSumEmit{CountSum{}}, options, noPorts());
      };
    }
  }
}

Factory joinFactory(uint8_t variant) {
  if (variant % 2 == 0) {
    return [] {
      return std::make_unique<detail::IntervalJoinOperator<Ev, Ev, int64_t, Joined, KeyOf, KeyOf, TsOf, TsOf, JoinPair>>(
          KeyOf{}, KeyOf{}, TsOf{}, TsOf{}, -20, 30, JoinPair{}, nullptr);
    };
  }
  return [] {
    return std::make_unique<detail::WindowJoinOperator<Ev, Ev, int64_t, Joined, KeyOf, KeyOf, TsOf, TsOf, JoinInWindow>>(
        KeyOf{}, KeyOf{}, TsOf{}, TsOf{},
        detail::AlignedSpec::of(SlidingWindows::eventTime(std::chrono::milliseconds(100), std::chrono::milliseconds(50))),
        JoinInWindow{}, nullptr);
  };
}

/// Restores `base` (then `delta`, if the operator takes deltas and there is one) into a fresh
/// operator. If that succeeds: a snapshot of it restores into another fresh one, whose own
/// snapshot is as long (hash maps may order entries differently), and, for delta snapshots, a
/// delta taken after the restore applies on top of that snapshot. Then, if `drive`, the
/// restored operator runs on: records, the clock, the final watermark, the end of input.
void fuzzOperator(const Factory& make, std::string_view base, std::optional<std::string_view> delta, bool drive) {
  Rig restored(make());
  Status s = restored.op().restoreState(base);
  if (!s.isOk()) return checkRefusal(s);
  if (delta) {
    s = restored.op().restoreDelta(*delta);
    if (!s.isOk()) return checkRefusal(s);
  }
  std::string first;
  check(restored.op().snapshotState(1, first).isOk());
  Rig copy(make());
  check(copy.op().restoreState(first).isOk());
  std::string second;
  check(copy.op().snapshotState(2, second).isOk());
  check(second.size() == first.size());
  if (copy.op().supportsDeltaSnapshots()) {
    std::string changes;
    check(copy.op().snapshotDelta(3, changes).isOk());
    Rig chained(make());
    check(chained.op().restoreState(first).isOk());
    check(chained.op().restoreDelta(changes).isOk());
  }
  if (!drive) return;
  RecordBatch<Ev> batch;
  batch.records = {{1, kStartClock, 1}, {2, kStartClock + 5, 2}};
  restored.op().processBatch(0, batch);
  restored.time().set(kStartClock + 1000);
  restored.op().onProcessingTime(kStartClock + 1000);
  restored.op().processWatermark(kMaxTime);
  restored.op().finish();
}

/// Splits `in` into a base and a delta: u16 length of the base, the base, the delta (if any
/// bytes are left).
std::pair<std::string_view, std::optional<std::string_view>> splitBaseAndDelta(std::string_view in) {
  if (in.size() < 2) return {in, std::nullopt};
  const size_t baseBytes = std::min<size_t>(static_cast<uint8_t>(in[0]) | (static_cast<uint8_t>(in[1]) << 8), in.size() - 2);
  const std::string_view base = in.substr(2, baseBytes);
  const std::string_view rest = in.substr(2 + baseBytes);
  if (rest.empty()) return {base, std::nullopt};
  return {base, rest};
}

// ---------------------------------------------------------------------------------------------
// 8: source watermarks

void fuzzWatermarks(uint8_t variant, std::string_view in) {
  WatermarkOptions options;
  options.maxOutOfOrdernessMs = (variant >> 2) % 4 * 10;
  options.idleTimeoutMs = (variant & 0x10) ? 50 : 0;
  const int splits = 1 + variant % 4;
  SplitWatermarks watermarks(options, splits, 0);
  std::string_view rest = in;
  Status s = watermarks.restore(rest, 100);
  if (!s.isOk()) return checkRefusal(s);
  std::string first;
  watermarks.snapshot(first);
  SplitWatermarks copy(options, splits, 0);
  std::string_view view = first;
  check(copy.restore(view, 100).isOk() && view.empty());
  std::string second;
  copy.snapshot(second);
  check(second == first);
  // The restored watermarks go on.
  (void)watermarks.poll(200);
  watermarks.observe(0, 12345);
  (void)watermarks.poll(1000);
}

// ---------------------------------------------------------------------------------------------
// 9: the transactional file sink's blob

/// A directory of this process, removed at exit.
struct ScratchDirectory {
  ScratchDirectory() : path((std::filesystem::temp_directory_path() / "reka-sink-fuzz-XXXXXX").string()) {
    check(::mkdtemp(path.data()) != nullptr);
  }
  ~ScratchDirectory() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

const std::string& scratchDirectory() {
  static const ScratchDirectory dir;
  return dir.path;
}

void fuzzFileSink(uint8_t variant, std::string_view in) {
  connector::TransactionalFileSinkOptions options;
  options.directory = scratchDirectory() + "/out";
  connector::TransactionalFileWriter writer(options, variant % 3, /*staged=*/(variant & 4) != 0,
                                            /*commitAtFinish=*/false);
  check(writer.open().isOk());
  Status s = writer.restore(in);
  if (!s.isOk()) checkRefusal(s);
  std::error_code ec;
  std::filesystem::remove_all(options.directory, ec);
}

// ---------------------------------------------------------------------------------------------

constexpr int kModes = 10;

void fuzzOne(uint8_t mode, uint8_t variant, std::string_view in) {
  const bool drive = (variant & 0x80) != 0;
  switch (mode % kModes) {
    case 0: return fuzzSerde(variant, in);
    case 1:
      if (variant & 1) return fuzzTimers<std::string_view>(variant, in);
      return fuzzTimers<int64_t>(variant, in);
    case 2:
      if (variant & 1) return fuzzTrackedMap<TrackedStateMap<std::string, std::vector<int64_t>>>(in);
      return fuzzTrackedMap<TrackedMap<int64_t, int64_t>>(in);
    case 3: return fuzzStateFile(in);
    case 4: {
      const auto [base, delta] = splitBaseAndDelta(in);
      return fuzzOperator(alignedFactory(variant), base, delta, drive);
    }
    case 5: return fuzzOperator(sessionFactory(variant), in, std::nullopt, drive);
    case 6: return fuzzOperator(countOrGlobalFactory(variant), in, std::nullopt, drive);
    case 7: return fuzzOperator(joinFactory(variant), in, std::nullopt, drive);
    case 8: return fuzzWatermarks(variant, in);
    case 9: return fuzzFileSink(variant, in);
  }
}

// ---------------------------------------------------------------------------------------------
// The seed corpus: real snapshots of each kind, written by REKA_FUZZ_WRITE_SEEDS=DIR.

class SeedWriter {
 public:
  explicit SeedWriter(std::string dir) : dir_(std::move(dir)) { std::filesystem::create_directories(dir_); }
  void add(const std::string& name, uint8_t mode, uint8_t variant, std::string_view bytes) {
    std::string input;
    input.push_back(static_cast<char>(mode));
    input.push_back(static_cast<char>(variant));
    input.append(bytes);
    FILE* f = std::fopen((dir_ + "/" + name).c_str(), "wb");
    check(f != nullptr);
    check(std::fwrite(input.data(), 1, input.size(), f) == input.size());
    check(std::fclose(f) == 0);
  }

 private:
  std::string dir_;
};

template <class T>
std::string serdeBytes(const T& v) {
  std::string out;
  Serde<T>::write(v, out);
  return out;
}

void writeSerdeSeeds(SeedWriter& seeds) {
  nexmark::Bid bid{1000, 1001, 123, "Google", "https://www.nexmark.com/a/b", 1436918400000, "xyz"};
  nexmark::Auction auction{1000, "item", "desc", 1, 2, 1436918400001, 1436918410000, 1000, 10, "e"};
  const StoredBidPtr storedBid = nexmark::StoredBid::make(bid);
  const StoredAuctionPtr storedAuction = nexmark::StoredAuction::make(auction);
  nexmark::DayState day;
  day.counts.totalBids = 3;
  day.bidders[0] = {1, 2, 3};
  day.auctions[2] = {7};
  nexmark::SellerWinners winners;
  winners.pending = {{10, 1, 100}, {20, 2, 200}};
  winners.last[0] = 100;
  winners.applied = 1;
  winners.sum = 100;
  seeds.add("serde-string", 0, 0, serdeBytes(std::string("hello")));
  seeds.add("serde-strings", 0, 1, serdeBytes(std::vector<std::string>{"a", "", "bc"}));
  seeds.add("serde-bytes", 0, 2, serdeBytes(std::vector<std::vector<uint8_t>>{{1, 2}, {}, {3}}));
  seeds.add("serde-optional", 0, 3, serdeBytes(std::optional<std::pair<int64_t, std::string>>({5, "x"})));
  seeds.add("serde-map", 0, 4, serdeBytes(StringToIds{{"a", {1, 2}}, {"b", {}}}));
  seeds.add("serde-bid", 0, 5, serdeBytes(storedBid));
  seeds.add("serde-auction", 0, 6, serdeBytes(storedAuction));
  seeds.add("serde-person", 0, 7, serdeBytes(nexmark::PersonInfo{true, "Ann", "Boise", "ID"}));
  seeds.add("serde-day", 0, 8, serdeBytes(day));
  seeds.add("serde-auction-day", 0, 9, serdeBytes(nexmark::AuctionDayStats{4, 1, 2, 1, 10, 90, 200}));
  seeds.add("serde-slot", 0, 10, serdeBytes(nexmark::AuctionSlot{storedAuction, true}));
  seeds.add("serde-book", 0, 11, serdeBytes(nexmark::AuctionBook{storedAuction, storedBid, {storedBid, nullptr}}));
  seeds.add("serde-winners", 0, 12, serdeBytes(winners));
  seeds.add("serde-hot", 0, 13, serdeBytes(nexmark::HotAuctions{100, 3, {1, 2}}));
  seeds.add("serde-max-bids", 0, 14, serdeBytes(nexmark::MaxBids{123, {storedBid}}));
  seeds.add("serde-person-ref", 0, 15,
            serdeBytes(nexmark::PersonRef{1, std::make_shared<const std::string>("Ann"), 1436918400002}));
  seeds.add("serde-count", 0, 16,
            serdeBytes(nexmark::AuctionCount{7, TimeWindow{0, 10000}, 42, RowKind::kUpdateAfter}));
  seeds.add("serde-optional-bids", 0, 17, serdeBytes(std::vector<std::optional<StoredBidPtr>>{storedBid, std::nullopt}));
}

void writeTimerSeeds(SeedWriter& seeds) {
  StillTime time;
  OperatorContext ctx;
  ctx.keyGroups = {0, 127};
  ctx.time = &time;
  {
    KeyContext<int64_t> keys;
    KeyedTimers<int64_t> timers;
    check(timers.init(&ctx, &keys).isOk());
    for (int64_t k : {1, 2, 3, 40}) {
      keys.key = &k;
      timers.registerEventTime(100 * k);
      timers.registerProcessingTime(kStartClock + k);
    }
    timers.advanceWatermark(150, [](int64_t, const int64_t&) {});
    std::string out;
    check(timers.snapshot(out).isOk());
    seeds.add("timers-int", 1, 0, out);
    seeds.add("timers-int-half-key-groups", 1, 2, out);
  }
  {
    KeyContext<std::string_view> keys;
    KeyedTimers<std::string_view> timers;
    check(timers.init(&ctx, &keys).isOk());
    for (std::string_view k : {"ant", "bee", ""}) {
      keys.key = &k;
      timers.registerEventTime(static_cast<int64_t>(k.size()) * 10);
    }
    std::string out;
    check(timers.snapshot(out).isOk());
    seeds.add("timers-string", 1, 1, out);
  }
}

void writeTrackedMapSeeds(SeedWriter& seeds) {
  {
    TrackedMap<int64_t, int64_t> map;
    for (int64_t k = 0; k < 6; ++k) map.put(k, k * k);
    std::string out;
    map.writeFull(out);
    map.put(1, -1);
    map.erase(2);
    map.put(9, 81);
    map.writeDelta(out);
    map.erase(9);
    map.writeDelta(out);
    seeds.add("tracked-int-chain", 2, 0, out);
  }
  {
    TrackedStateMap<std::string, std::vector<int64_t>> map;
    map.put(std::string("a"), std::vector<int64_t>{1, 2});
    map.put(std::string("b"), std::vector<int64_t>{});
    std::string out;
    map.writeFull(out);
    map.put(std::string("c"), std::vector<int64_t>{3});
    map.erase(std::string("a"));
    map.writeDelta(out);
    seeds.add("tracked-string-chain", 2, 1, out);
  }
}

void writeStateFileSeeds(SeedWriter& seeds) {
  checkpoint::OperatorSnapshot op;
  op.node = 3;
  op.subtask = 1;
  op.name = "window";
  op.keyed["counts"][5] = std::string("\x01\0\0\0\0\0\0\0abc", 11);
  op.keyed["counts"][9] = "";
  op.lists["offsets"] = {"x", "yz"};
  op.blob = "blob";
  checkpoint::OperatorSnapshot source;
  source.node = 0;
  source.name = "source";
  source.lists["positions"] = {std::string(8, '\x02')};
  seeds.add("state-file-full", 3, 0, checkpoint::encodeTaskSnapshot({source, op}));
  op.blobIsDelta = true;
  seeds.add("state-file-delta", 3, 0, checkpoint::encodeTaskSnapshot({op}, /*delta=*/true, /*baseId=*/7));
  seeds.add("state-file-empty", 3, 0, checkpoint::encodeTaskSnapshot({}));
  op.native.emplace();
  op.native->files = {{"000012.sst", "0123456789abcdef-000012.sst", 4096}};
  op.native->meta = {{"CURRENT", "MANIFEST-000005\n"}, {"MANIFEST-000005", std::string("\0\x01", 2)}};
  seeds.add("state-file-native", 3, 0, checkpoint::encodeTaskSnapshot({op}, /*delta=*/true, /*baseId=*/8));
}

/// Feeds `rig` a few batches of records on `inputs` inputs, with watermarks and clock ticks.
void feed(Rig& rig, int inputs) {
  int64_t value = 0;
  for (int step = 0; step < 12; ++step) {
    RecordBatch<Ev> batch;
    for (int i = 0; i < 3; ++i) {
      const int64_t key = (step * 3 + i) % 5;
      batch.records.push_back({key, 1000 + step * 20 + i * 7, ++value});
    }
    rig.op().processBatch(step % inputs, batch);
    if (step % 3 == 2) rig.op().processWatermark(1000 + step * 20 - 40);
    rig.time().set(kStartClock + step * 10);
    if (rig.time().due() <= rig.time().now()) rig.op().onProcessingTime(rig.time().now());
  }
}

void writeOperatorSeeds(SeedWriter& seeds) {
  for (uint8_t variant = 0; variant < 4; ++variant) {
    Rig rig(alignedFactory(variant)());
    feed(rig, 1);
    std::string base;
    check(rig.op().snapshotState(1, base).isOk());
    RecordBatch<Ev> more;
    more.records = {{1, 1300, 100}, {7, 1310, 101}};
    rig.op().processBatch(0, more);
    rig.op().processWatermark(1290);
    std::string delta;
    check(rig.op().snapshotDelta(2, delta).isOk());
    std::string input;
    input.push_back(static_cast<char>(base.size() & 0xff));
    input.push_back(static_cast<char>(base.size() >> 8));
    input += base;
    seeds.add("aligned-" + std::to_string(variant), 4, variant, input);
    seeds.add("aligned-" + std::to_string(variant) + "-delta", 4, variant, input + delta);
  }
  for (uint8_t variant = 0; variant < 4; ++variant) {
    Rig rig(sessionFactory(variant)());
    feed(rig, 1);
    std::string blob;
    check(rig.op().snapshotState(1, blob).isOk());
    seeds.add("session-" + std::to_string(variant), 5, variant, blob);
  }
  for (uint8_t variant = 0; variant < 3; ++variant) {
    Rig rig(countOrGlobalFactory(variant)());
    feed(rig, 1);
    std::string blob;
    check(rig.op().snapshotState(1, blob).isOk());
    seeds.add("count-global-" + std::to_string(variant), 6, variant, blob);
  }
  for (uint8_t variant = 0; variant < 2; ++variant) {
    Rig rig(joinFactory(variant)());
    feed(rig, 2);
    std::string blob;
    check(rig.op().snapshotState(1, blob).isOk());
    seeds.add("join-" + std::to_string(variant), 7, variant, blob);
  }
}

void writeWatermarkSeeds(SeedWriter& seeds) {
  for (uint8_t variant : {uint8_t{1}, uint8_t{0x17}}) {
    WatermarkOptions options;
    options.maxOutOfOrdernessMs = (variant >> 2) % 4 * 10;
    options.idleTimeoutMs = (variant & 0x10) ? 50 : 0;
    const int splits = 1 + variant % 4;
    SplitWatermarks watermarks(options, splits, 0);
    for (int64_t now = 0; now < 100; now += 10) {
      watermarks.observe(0, 1000 + now * 3);
      if (now < 30) watermarks.observe(static_cast<size_t>(splits - 1), 900 + now);
      (void)watermarks.poll(now);
    }
    std::string blob;
    watermarks.snapshot(blob);
    seeds.add("watermarks-" + std::to_string(variant), 8, variant, blob);
  }
}

void writeFileSinkSeeds(SeedWriter& seeds) {
  for (uint8_t variant : {uint8_t{0}, uint8_t{4}}) {
    connector::TransactionalFileSinkOptions options;
    options.directory = scratchDirectory() + "/seed";
    options.maxFileBytes = 8;
    connector::TransactionalFileWriter writer(options, 0, (variant & 4) != 0, false);
    check(writer.open().isOk());
    for (std::string_view partition : {"", "p=1", "p=1/q=2"}) {
      writer.beginLine(partition) += "{\"a\":1}";
      writer.endLine();
    }
    std::string blob;
    check(writer.snapshot(1, blob).isOk());
    seeds.add("file-sink-" + std::to_string(variant), 9, variant, blob);
    std::error_code ec;
    std::filesystem::remove_all(options.directory, ec);
  }
}

}  // namespace
}  // namespace reka::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("REKA_FUZZ_WRITE_SEEDS");
  if (dir == nullptr) return 0;
  using namespace reka::fuzz;
  SeedWriter seeds(dir);
  writeSerdeSeeds(seeds);
  writeTimerSeeds(seeds);
  writeTrackedMapSeeds(seeds);
  writeStateFileSeeds(seeds);
  writeOperatorSeeds(seeds);
  writeWatermarkSeeds(seeds);
  writeFileSinkSeeds(seeds);
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  reka::fuzz::fuzzOne(data[0], data[1], std::string_view(reinterpret_cast<const char*>(data) + 2, size - 2));
  return 0;
}
