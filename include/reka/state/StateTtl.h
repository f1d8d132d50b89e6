#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "reka/state/KeyGroup.h"
#include "reka/state/Serde.h"

namespace reka {

/// Time to live of keyed state (Flink's StateTtlConfig): a value not written (or, with
/// kOnReadAndWrite, not read either) for `ttl` expires.
///
/// - Time: processing time (wall clock, or `clock` if set) or event time (the operator's
///   watermark). A value written before the operator's first watermark counts as written at the
///   first watermark seen.
/// - Visibility: kNeverReturnExpired (an expired value reads as absent, and is removed when
///   read) or kReturnExpiredIfNotCleanedUp (it reads as present until a cleanup removes it).
/// - Cleanup: on access (above); on the heap backend, incrementally: every
///   `cleanupEveryAccesses` accesses one key group of the subtask is swept for expired values,
///   in turn; on RocksDB, in compaction (a compaction filter drops expired values); and, with
///   `cleanupFullSnapshot`, in full snapshots on either backend (Flink's cleanupFullSnapshot):
///   a full snapshot (a savepoint, or the base of an incremental chain) leaves out values
///   expired at the time it is taken, so a restore from it never sees them (the heap backend
///   also drops them from memory then; RocksDB leaves that to compaction). Values written
///   before the first watermark of an event-time TTL are kept, as the compaction filter keeps
///   them.
struct StateTtlConfig {
  enum class UpdateType { kOnCreateAndWrite, kOnReadAndWrite };
  enum class Visibility { kNeverReturnExpired, kReturnExpiredIfNotCleanedUp };
  enum class TimeCharacteristic { kProcessingTime, kEventTime };

  std::chrono::milliseconds ttl{0};  ///< 0: no TTL
  UpdateType update = UpdateType::kOnCreateAndWrite;
  Visibility visibility = Visibility::kNeverReturnExpired;
  TimeCharacteristic time = TimeCharacteristic::kProcessingTime;
  int64_t cleanupEveryAccesses = 1000;
  bool cleanupFullSnapshot = false;
  /// Processing time in milliseconds (tests); empty: the system clock.
  std::function<int64_t()> clock;

  bool enabled() const { return ttl.count() > 0; }
};

/// A value with the time it was last written (or read, with kOnReadAndWrite): how state with a
/// TTL is stored. The stamp comes first, so that a RocksDB compaction filter reads it at a fixed
/// offset.
template <class V>
struct Timed {
  int64_t stamp = 0;
  V value{};
};

template <class T>
struct IsTimed : std::false_type {};
template <class V>
struct IsTimed<Timed<V>> : std::true_type {};

/// Whether a stamp is at or below the horizon of a TtlClock (INT64_MIN: none yet), the test the
/// RocksDB compaction filter and full-snapshot cleanup make. A stamp of INT64_MIN (written
/// before the first watermark) never is.
inline bool stampExpired(int64_t stamp, const std::atomic<int64_t>* horizon) {
  if (horizon == nullptr || stamp == INT64_MIN) return false;
  const int64_t h = horizon->load(std::memory_order_relaxed);
  return h != INT64_MIN && stamp <= h;
}

template <class V>
struct Serde<Timed<V>, std::enable_if_t<HasSerde<V>::value>> {
  static void write(const Timed<V>& t, std::string& out) {
    Serde<int64_t>::write(t.stamp, out);
    Serde<V>::write(t.value, out);
  }
  static bool read(std::string_view& in, Timed<V>& t) {
    return Serde<int64_t>::read(in, t.stamp) && Serde<V>::read(in, t.value);
  }
};

/// The clock side of a state with a TTL: what "now" is, and whether a stamp has expired. Shared
/// by the handles of one state (handles are copied).
class TtlClock {
 public:
  TtlClock(StateTtlConfig config, const int64_t* watermark)
      : config_(std::move(config)), watermark_(watermark) {}

  const StateTtlConfig& config() const { return config_; }
  /// The current time in the TTL's time characteristic (INT64_MIN: no time yet).
  int64_t now() {
    int64_t n;
    if (config_.time == StateTtlConfig::TimeCharacteristic::kEventTime) {
      n = watermark_ != nullptr ? *watermark_ : INT64_MIN;
    } else if (config_.clock) {
      n = config_.clock();
    } else {
      n = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
    }
    if (n != INT64_MIN && first_ == INT64_MIN) first_ = n;
    // Stamps below this have expired (for RocksDB's compaction filter, on its own threads).
    if (n != INT64_MIN)
      horizon_->store(saturatingSub(n, config_.ttl.count()), std::memory_order_relaxed);
    return n;
  }
  /// Whether a value stamped `stamp` has expired at `now`.
  bool expired(int64_t stamp, int64_t now) const {
    if (now == INT64_MIN) return false;
    if (stamp == INT64_MIN) stamp = first_;  // written before the first watermark
    return stamp <= saturatingSub(now, config_.ttl.count());
  }
  /// Stamps at or below the value expire (shared with the compaction filter).
  std::shared_ptr<std::atomic<int64_t>> horizon() const { return horizon_; }

  /// Counts an access; true every `cleanupEveryAccesses`-th (time to sweep a key group).
  bool countAccess() {
    return config_.cleanupEveryAccesses > 0 && ++accesses_ % config_.cleanupEveryAccesses == 0;
  }
  /// The key group to sweep next in `range`, in turn.
  KeyGroup nextSweep(KeyGroupRange range) {
    if (sweep_ < range.first || sweep_ > range.last) sweep_ = range.first;
    return KeyGroup{sweep_++};
  }

 private:
  static int64_t saturatingSub(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_sub_overflow(a, b, &r) ? INT64_MIN : r;
  }

  StateTtlConfig config_;
  const int64_t* watermark_;
  int64_t first_ = INT64_MIN;
  int64_t accesses_ = 0;
  int32_t sweep_ = -1;
  std::shared_ptr<std::atomic<int64_t>> horizon_ =
      std::make_shared<std::atomic<int64_t>>(INT64_MIN);
};

}  // namespace reka
