#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "reka/base/Status.h"
#include "reka/state/KeyGroup.h"
#include "reka/state/NativeSnapshot.h"
#include "reka/state/Serde.h"
#include "reka/state/StateTtl.h"
#include "reka/state/TrackedMap.h"

namespace reka {

class KeyValueStore;
template <class K, class V>
class StoreKeyedTable;

/// One named piece of keyed state of one operator subtask, partitioned by key group.
/// Type-erased so that backends and checkpoints can handle tables they do not know the types of.
class StateTable {
 public:
  virtual ~StateTable() = default;
  virtual std::type_index type() const = 0;
  /// Whether the key and value types have a Serde (checkpoints need one).
  virtual bool serialisable() const = 0;
  /// Number of keys with state, over all key groups.
  virtual size_t keyCount() const = 0;
  /// Appends the state of key group `kg` to `out` (NotSupported for types without a Serde).
  virtual Status snapshotKeyGroup(KeyGroup kg, std::string& out) const = 0;
  /// Replaces the state of key group `kg` with what `snapshotKeyGroup` wrote.
  virtual Status restoreKeyGroup(KeyGroup kg, std::string_view in) = 0;

  // Incremental snapshots. A full snapshot (snapshotKeyGroup) or a restore is the base; each
  // delta holds what changed in the key group since the snapshot before it.
  /// Appends what changed in key group `kg` since its last snapshot.
  virtual Status snapshotKeyGroupDelta(KeyGroup kg, std::string& out) = 0;
  /// Applies what snapshotKeyGroupDelta wrote on top of the restored key group.
  virtual Status applyKeyGroupDelta(KeyGroup kg, std::string_view in) = 0;
  /// Live entries and superseded chain records over all key groups.
  virtual DeltaStats deltaStats() const = 0;
  /// For a table of Timed<V> values (state with a TTL): full snapshots leave out values whose
  /// stamp is at or below `*horizon` (StateTtlConfig::cleanupFullSnapshot). Other tables
  /// ignore it.
  virtual void expireInFullSnapshots(std::shared_ptr<const std::atomic<int64_t>> /*horizon*/) {}

  // Tables kept in a backend's store (StoreKeyedTable), whose checkpoints may be native.
  /// Whether the table keeps its state in the backend's store.
  virtual bool inStore() const { return false; }
  /// Writes what the table caches back to the store (before a native snapshot).
  virtual Status flushToStore() { return Status::ok(); }
  /// Drops what the table caches without writing it (the store's contents were replaced).
  virtual void forgetCached() {}
};

/// Hash and equality for string keys that also accept std::string_view, so that state keyed by
/// strings is looked up with the view a key function returns, without a copy.
struct StringKeyHash {
  using is_transparent = void;
  /// Seeded differently from KeyHash<std::string>: the key group is that hash modulo the maximum
  /// parallelism, so within one key group's map its low bits are all equal, and a hash table that
  /// takes its control bytes from the low bits would compare every key it probes.
  size_t operator()(std::string_view s) const { return static_cast<size_t>(XXH3_64bits_withSeed(s.data(), s.size(), 0x9E3779B97F4A7C15ULL)); }
};
struct StringKeyEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

/// The hash map type keyed state uses for keys of type K.
template <class K, class V>
using StateMap = std::conditional_t<std::is_same_v<K, std::string>, absl::flat_hash_map<K, V, StringKeyHash, StringKeyEq>,
                                    absl::flat_hash_map<K, V>>;

/// The change-tracking map keyed state uses for keys of type K.
template <class K, class V>
using TrackedStateMap = std::conditional_t<std::is_same_v<K, std::string>, TrackedMap<K, V, StringKeyHash, StringKeyEq>,
                                           TrackedMap<K, V>>;

/// Keyed state of type V for keys of type K, one change-tracking hash map per key group owned
/// by the subtask (so that checkpoints can be incremental). Lookups index the map by the key
/// group the runtime computed for the current record.
template <class K, class V>
class KeyedTable final : public StateTable {
 public:
  using Map = TrackedStateMap<K, V>;

  explicit KeyedTable(KeyGroupRange range) : range_(range), maps_(static_cast<size_t>(range.size())) {}

  std::type_index type() const override { return typeid(KeyedTable<K, V>); }
  bool serialisable() const override { return kSerialisable; }
  size_t keyCount() const override {
    size_t n = 0;
    for (const auto& m : maps_) n += m.size();
    return n;
  }

  /// The map of key group `kg` (which must be in this subtask's range).
  Map& mapOf(KeyGroup kg) { return maps_[static_cast<size_t>(kg.value - range_.first)]; }
  const Map& mapOf(KeyGroup kg) const { return maps_[static_cast<size_t>(kg.value - range_.first)]; }
  KeyGroupRange range() const { return range_; }

  static constexpr bool kSerialisable = HasSerde<K>::value && HasSerde<V>::value;

  /// Writes the whole key group (the same bytes as Serde of a flat hash map of K → V); the
  /// key group's change tracking starts again from here.
  Status snapshotKeyGroup(KeyGroup kg, std::string& out) const override {
    if constexpr (kSerialisable) {
      Map& map = const_cast<KeyedTable*>(this)->mapOf(kg);
      if constexpr (IsTimed<V>::value) {
        if (fullSnapshotHorizon_) {
          // Expired values leave memory too (before writeFull, which makes this the new base).
          std::vector<K> expired;
          for (const auto& [k, t] : map)
            if (stampExpired(t.stamp, fullSnapshotHorizon_.get())) expired.push_back(k);
          for (const K& k : expired) map.erase(k);
        }
      }
      map.writeFull(out);
      return Status::ok();
    } else {
      return Status::notSupported("state type has no Serde specialisation");
    }
  }
  Status restoreKeyGroup(KeyGroup kg, std::string_view in) override {
    if constexpr (kSerialisable) {
      if (!range_.contains(kg)) return Status::invalidArgument("key group outside this subtask's range");
      if (!mapOf(kg).readFull(in) || !in.empty()) return Status::corruption("truncated or overlong keyed state");
      return Status::ok();
    } else {
      return Status::notSupported("state type has no Serde specialisation");
    }
  }
  Status snapshotKeyGroupDelta(KeyGroup kg, std::string& out) override {
    if constexpr (kSerialisable) {
      mapOf(kg).writeDelta(out);
      return Status::ok();
    } else {
      return Status::notSupported("state type has no Serde specialisation");
    }
  }
  Status applyKeyGroupDelta(KeyGroup kg, std::string_view in) override {
    if constexpr (kSerialisable) {
      if (!range_.contains(kg)) return Status::invalidArgument("key group outside this subtask's range");
      if (!mapOf(kg).applyDelta(in) || !in.empty()) return Status::corruption("truncated or overlong keyed state delta");
      return Status::ok();
    } else {
      return Status::notSupported("state type has no Serde specialisation");
    }
  }
  DeltaStats deltaStats() const override {
    DeltaStats s;
    for (const auto& m : maps_) s += m.deltaStats();
    return s;
  }
  void expireInFullSnapshots(std::shared_ptr<const std::atomic<int64_t>> horizon) override {
    if constexpr (IsTimed<V>::value) fullSnapshotHorizon_ = std::move(horizon);
  }

 private:
  KeyGroupRange range_;
  std::vector<Map> maps_;
  std::shared_ptr<const std::atomic<int64_t>> fullSnapshotHorizon_;
};

/// Operator (non-keyed) list state of one subtask: a list of elements that, on restore at any
/// parallelism, is redistributed round-robin over the new subtasks (Flink's ListState of the
/// OperatorStateStore, even-split redistribution).
class OperatorListTable {
 public:
  virtual ~OperatorListTable() = default;
  virtual std::type_index type() const = 0;
  /// Whether the element type has a Serde (checkpoints need one).
  virtual bool serialisable() const = 0;
  /// Serialises every element separately (so that elements can be redistributed).
  virtual Result<std::vector<std::string>> snapshot() const = 0;
  /// Replaces the list with the given serialised elements.
  virtual Status restore(const std::vector<std::string>& elements) = 0;
  /// How a restore at any parallelism hands out the old subtasks' elements.
  enum class Redistribution {
    kEvenSplit,  ///< Flink's list state: element j of the concatenation to subtask j mod P
    kUnion,      ///< Flink's union list state: every element to every subtask, which keeps
                 ///< what is its own (source splits, for instance)
    kBroadcast,  ///< Flink's broadcast state: every subtask holds the same copy; new subtask i
                 ///< gets old subtask i mod P_old's
  };
  Redistribution redistribution = Redistribution::kEvenSplit;
};

template <class T>
class OperatorList final : public OperatorListTable {
 public:
  std::type_index type() const override { return typeid(OperatorList<T>); }
  bool serialisable() const override { return HasSerde<T>::value; }
  Result<std::vector<std::string>> snapshot() const override {
    if constexpr (HasSerde<T>::value) {
      std::vector<std::string> out(values.size());
      for (size_t i = 0; i < values.size(); ++i) Serde<T>::write(values[i], out[i]);
      return out;
    } else {
      return Status::notSupported("operator state type has no Serde specialisation");
    }
  }
  Status restore(const std::vector<std::string>& elements) override {
    if constexpr (HasSerde<T>::value) {
      values.clear();
      for (const auto& e : elements) {
        std::string_view in = e;
        T v{};
        if (!Serde<T>::read(in, v) || !in.empty()) return Status::corruption("bad operator state element");
        values.push_back(std::move(v));
      }
      return Status::ok();
    } else {
      return Status::notSupported("operator state type has no Serde specialisation");
    }
  }

  std::vector<T> values;
};

/// Broadcast map state (see StateBackend::broadcastMapState): one element per entry.
template <class K, class V>
class BroadcastMap final : public OperatorListTable {
 public:
  std::type_index type() const override { return typeid(BroadcastMap<K, V>); }
  bool serialisable() const override { return HasSerde<K>::value && HasSerde<V>::value; }
  Result<std::vector<std::string>> snapshot() const override {
    if constexpr (HasSerde<K>::value && HasSerde<V>::value) {
      std::vector<std::string> out;
      out.reserve(values.size());
      for (const auto& [k, v] : values) {
        std::string& e = out.emplace_back();
        Serde<K>::write(k, e);
        Serde<V>::write(v, e);
      }
      return out;
    } else {
      return Status::notSupported("broadcast state type has no Serde specialisation");
    }
  }
  Status restore(const std::vector<std::string>& elements) override {
    if constexpr (HasSerde<K>::value && HasSerde<V>::value) {
      values.clear();
      for (const auto& e : elements) {
        std::string_view in = e;
        K k{};
        V v{};
        if (!Serde<K>::read(in, k) || !Serde<V>::read(in, v) || !in.empty())
          return Status::corruption("truncated or overlong broadcast state entry");
        values.insert_or_assign(std::move(k), std::move(v));
      }
      return Status::ok();
    } else {
      return Status::notSupported("broadcast state type has no Serde specialisation");
    }
  }
  std::map<K, V> values;
};

/// Where an operator subtask's state lives. Keyed state is organised by key group; operator
/// state is a per-subtask list that is redistributed round-robin on restore. Backends: in-memory
/// (`HeapStateBackend`) now; RocksDB behind the same interface later.
/// Thread-safety: owned and used by one task; not thread-safe.
class StateBackend {
 public:
  virtual ~StateBackend() = default;

  virtual KeyGroupRange keyGroups() const = 0;
  virtual int maxParallelism() const = 0;

  /// Returns the table registered under `name`, creating it with `make` if absent. Fails if a
  /// table of another type is registered under that name.
  virtual Result<StateTable*> table(const std::string& name, std::type_index type,
                                    std::unique_ptr<StateTable> (*make)(KeyGroupRange)) = 0;

  /// The names of all registered keyed tables, in name order.
  virtual std::vector<std::string> tableNames() const = 0;
  virtual StateTable* findTable(const std::string& name) = 0;

  /// Typed access to a keyed table (creating it on first use).
  template <class K, class V>
  Result<KeyedTable<K, V>*> keyedTable(const std::string& name) {
    auto make = [](KeyGroupRange r) -> std::unique_ptr<StateTable> { return std::make_unique<KeyedTable<K, V>>(r); };
    REKA_ASSIGN_OR_RETURN(StateTable * t, table(name, typeid(KeyedTable<K, V>), +make));
    return static_cast<KeyedTable<K, V>*>(t);
  }

  /// The backend's name in messages and configuration: "heap" or "rocksdb".
  virtual std::string_view kind() const { return "heap"; }
  /// Whether keyed state handles keep their state in a KeyValueStore (RocksDB) instead of on
  /// the heap.
  bool hasStore() const { return kind() != "heap"; }
  /// The store for the state `name`, created on first use (backends with stores only).
  virtual Result<KeyValueStore*> openStore(const std::string& name) {
    return Status::notSupported("the " + std::string(kind()) + " state backend has no key-value store for '" + name + "'");
  }
  /// Makes the store of state `name` drop, in compaction, values whose stamp (the first 8
  /// bytes: Timed<V>) is at or below `*horizon` (read on RocksDB's threads). Backends without
  /// stores: nothing to do.
  virtual Status expireBefore(const std::string& /*name*/, std::shared_ptr<const std::atomic<int64_t>> /*horizon*/) {
    return Status::ok();
  }
  /// The TTL of keyed state registered without one of its own (none unless set).
  const StateTtlConfig& defaultTtl() const { return defaultTtl_; }
  void setDefaultTtl(StateTtlConfig ttl) { defaultTtl_ = std::move(ttl); }
  /// Typed access to a table kept in this backend's store (see StoreTable.h, which defines it).
  template <class K, class V>
  Result<StoreKeyedTable<K, V>*> storeTable(const std::string& name);
  /// Adds `table` under `name` unless a table is registered there; fails if that one has
  /// another type. Returns the registered table.
  virtual Result<StateTable*> adoptTable(const std::string& name, std::unique_ptr<StateTable> table) = 0;

  /// Returns the operator list state registered under `name`, creating it if absent.
  template <class T>
  Result<std::vector<T>*> operatorListState(const std::string& name) {
    auto& slot = operatorLists_[name];
    if (!slot) slot = std::make_unique<OperatorList<T>>();
    if (slot->type() != typeid(OperatorList<T>))
      return Status::invalidArgument("operator state '" + name + "' is already registered with another type");
    return &static_cast<OperatorList<T>*>(slot.get())->values;
  }
  /// Returns the union list state registered under `name` (see
  /// OperatorListTable::Redistribution::kUnion), creating it if absent.
  template <class T>
  Result<std::vector<T>*> unionListState(const std::string& name) {
    REKA_ASSIGN_OR_RETURN(std::vector<T> * values, operatorListState<T>(name));
    auto& slot = operatorLists_[name];
    if (slot->redistribution != OperatorListTable::Redistribution::kUnion && !values->empty())
      return Status::invalidArgument("operator state '" + name + "' is already registered as an even-split list");
    slot->redistribution = OperatorListTable::Redistribution::kUnion;
    return values;
  }
  /// Returns the broadcast map state registered under `name` (Flink's BroadcastState: the
  /// same map in every subtask, kept so by the operator, typically from a broadcast input),
  /// creating it if absent. Every subtask checkpoints its copy; a restore at any parallelism
  /// gives each new subtask one old subtask's copy.
  template <class K, class V>
  Result<std::map<K, V>*> broadcastMapState(const std::string& name) {
    auto& slot = operatorLists_[name];
    if (!slot) {
      slot = std::make_unique<BroadcastMap<K, V>>();
      slot->redistribution = OperatorListTable::Redistribution::kBroadcast;
    }
    if (slot->type() != typeid(BroadcastMap<K, V>))
      return Status::invalidArgument("operator state '" + name + "' is already registered with another type");
    return &static_cast<BroadcastMap<K, V>*>(slot.get())->values;
  }
  /// Operator list state by name (for snapshots); elements serialised one by one.
  Result<std::map<std::string, std::vector<std::string>>> snapshotOperatorLists() const;
  /// Restores subtask `subtask` of `parallelism` from the lists of all old subtasks: element j
  /// of the concatenation goes to subtask j mod parallelism (a union list: every element to
  /// every subtask). States must be registered first.
  Status restoreOperatorLists(const std::vector<std::map<std::string, std::vector<std::string>>>& oldSubtasks,
                              int subtask, int parallelism);

  /// Snapshot of every table for every key group owned: table name → key group → bytes.
  Result<std::map<std::string, std::map<int32_t, std::string>>> snapshotKeyed() const;
  /// Restores the key groups of this backend's range found in `snapshot` (which may hold more
  /// key groups: that is how state is redistributed to a new parallelism).
  Status restoreKeyed(const std::map<std::string, std::map<int32_t, std::string>>& snapshot);
  /// Applies key group deltas (table name → key group → bytes) on top of restored state.
  Status applyKeyedDelta(const std::map<std::string, std::map<int32_t, std::string>>& delta);
  /// Live entries and superseded chain records over all keyed tables.
  DeltaStats keyedDeltaStats();
  /// Whether every registered state (keyed tables, operator lists) has types a checkpoint can
  /// write; the error names the first that has not.
  Status checkSerialisable();

  // Native snapshots (NativeSnapshot.h): the tables in the store, as the store's own files.
  /// Whether this backend takes native snapshots (RocksDB).
  virtual bool snapshotsNatively() const { return false; }
  /// The store's contents for checkpoint `id` as its files. `baseId` is the last complete
  /// checkpoint: files this backend's snapshot for it listed are in shared storage already and
  /// are referred to; the others are listed in `uploads`. Tables in the store are not in
  /// snapshotKeyed()'s sense part of such a checkpoint (the task leaves them out).
  virtual Status snapshotNative(int64_t /*id*/, int64_t /*baseId*/, NativeSnapshot& /*out*/,
                                std::vector<NativeUpload>& /*uploads*/) {
    return Status::notSupported("the " + std::string(kind()) + " state backend takes no native snapshots");
  }
  /// Replaces the store's contents with `snapshot` (taken at the same key groups), whose files
  /// are in `sharedDir`. States must be registered first. `checkpointId` > 0: the files are in
  /// this job's shared storage, and later snapshots may refer to them as of that checkpoint.
  virtual Status restoreNative(const NativeSnapshot& /*snapshot*/, const std::string& /*sharedDir*/,
                               int64_t /*checkpointId*/) {
    return Status::notSupported("the " + std::string(kind()) + " state backend cannot restore a native snapshot");
  }

 private:
  std::map<std::string, std::unique_ptr<OperatorListTable>> operatorLists_;
  StateTtlConfig defaultTtl_;
};

/// In-memory backend: flat hash maps per key group.
class HeapStateBackend : public StateBackend {
 public:
  HeapStateBackend(KeyGroupRange range, int maxParallelism) : range_(range), maxParallelism_(maxParallelism) {}

  KeyGroupRange keyGroups() const override { return range_; }
  int maxParallelism() const override { return maxParallelism_; }
  Result<StateTable*> table(const std::string& name, std::type_index type,
                            std::unique_ptr<StateTable> (*make)(KeyGroupRange)) override;
  std::vector<std::string> tableNames() const override;
  StateTable* findTable(const std::string& name) override;
  Result<StateTable*> adoptTable(const std::string& name, std::unique_ptr<StateTable> table) override;

 private:
  KeyGroupRange range_;
  int maxParallelism_;
  std::map<std::string, std::unique_ptr<StateTable>> tables_;
};

}  // namespace reka
