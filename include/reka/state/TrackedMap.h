#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "reka/state/Serde.h"

namespace reka {

/// How much an incremental snapshot chain has accumulated since the last full snapshot: the
/// entries alive now, and the records written to the chain that a later record replaced or
/// deleted (read on restore, then thrown away). A task writes a full snapshot again once the
/// dead records outnumber the live ones, which bounds what a restore reads to about twice the
/// state.
struct DeltaStats {
  uint64_t live = 0;
  uint64_t superseded = 0;
  DeltaStats& operator+=(const DeltaStats& o) {
    live += o.live;
    superseded += o.superseded;
    return *this;
  }
};

/// A hash map that remembers which keys changed since its last snapshot, so that a checkpoint
/// writes only those (an incremental snapshot) instead of the whole map.
///
/// Every entry carries the epoch in which it was last marked; the map's epoch advances at each
/// snapshot. The first write access to an entry in an epoch marks it and appends its key and
/// slot to a dirty list (a compare per access, an append per changed key): mutable access
/// (findMutable, getOrCreate) counts as a write, find() does not, and update() counts only
/// when its function reports a change. An erased entry that existed
/// at the last snapshot leaves a deletion. writeDelta() writes, for each dirty key, the entry's
/// value (read through the slot if no insert can have moved it since, else looked up) or its
/// deletion; applyDelta() replays that on top of a restored map. An insert moves entries when
/// the table grows, and also, at the same capacity, when absl rehashes in place to reclaim the
/// tombstones that erasures leave: so once anything was erased, slots recorded before an insert
/// are not trusted until the table next grows or is emptied.
///
/// Tracking starts at the map's first snapshot or restore (writeFull, writeDelta, readFull,
/// applyDelta): until then there is no base a delta could refer to, so nothing is recorded (a
/// job without checkpoints pays nothing and keeps no dirty list), and a writeDelta() writes
/// every entry, which is exact on top of a base that did not hold this map.
///
/// Formats (little endian, Serde): full = u64 n, n × (key, value), the same bytes as
/// Serde<absl::flat_hash_map<K, V>>; delta = u64 u, u × (key, value), u64 d, d × key.
/// Thread-safety: none; owned by one task.
template <class K, class V, class Hash = typename absl::flat_hash_map<K, V>::hasher,
          class Eq = typename absl::flat_hash_map<K, V>::key_equal>
class TrackedMap {
 public:
  struct Entry {
    /// == epoch_: already in the dirty list; anything else: clean. First, so that it shares
    /// the key's cache line more often than a field after the value would (a slot of a 16-byte
    /// key and a 16-byte value is 40 bytes: after the value, it would be on another line than
    /// the key for every other slot, a cache miss per write on a large map).
    uint32_t epoch = 0;
    V value{};
  };
  using Map = absl::flat_hash_map<K, Entry, Hash, Eq>;
  using Slot = typename Map::value_type;

  /// Iterates as (key, value) pairs, read-only.
  class const_iterator {
   public:
    explicit const_iterator(typename Map::const_iterator it) : it_(it) {}
    std::pair<const K&, const V&> operator*() const { return {it_->first, it_->second.value}; }
    const_iterator& operator++() {
      ++it_;
      return *this;
    }
    bool operator==(const const_iterator& o) const { return it_ == o.it_; }
    bool operator!=(const const_iterator& o) const { return it_ != o.it_; }

   private:
    typename Map::const_iterator it_;
  };
  const_iterator begin() const { return const_iterator(map_.begin()); }
  const_iterator end() const { return const_iterator(map_.end()); }

  size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  /// Slots in the hash table (tests).
  size_t capacity() const { return map_.capacity(); }

  /// Read-only lookup (not a change).
  template <class Q>
  const V* find(const Q& key) const {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second.value;
  }
  template <class Q>
  bool contains(const Q& key) const {
    return map_.contains(key);
  }
  /// Lookup for writing: the entry is marked changed.
  template <class Q>
  V* findMutable(const Q& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    mark(*it, true);
    return &it->second.value;
  }
  /// The entry of `key`, created with `make()` if absent; marked changed either way.
  template <class Q, class Make>
  V& getOrCreate(const Q& key, Make&& make) {
    auto [slot, created] = findOrCreate(key, make);
    if (!created) mark(*slot, true);
    return slot->second.value;
  }
  /// Applies `fn(V&)` to the entry of `key` (created with `make()` if absent) and marks the
  /// entry changed only if it was created or `fn` returns true. For updates that often leave
  /// the value as it was (a maximum that a lower value does not raise): such an entry stays
  /// out of the next delta. `fn` may return false only if it left the value unchanged, or the
  /// change is lost at the next incremental snapshot. Returns whether the entry was marked.
  template <class Q, class Make, class Fn>
  bool update(const Q& key, Make&& make, Fn&& fn) {
    auto [slot, created] = findOrCreate(key, make);
    if (created) {
      fn(slot->second.value);
      return true;
    }
    if (!fn(slot->second.value)) return false;
    mark(*slot, true);
    return true;
  }
  /// Sets the value of `key` (created if absent).
  template <class Q>
  void put(const Q& key, V value) {
    getOrCreate(key, [] { return V{}; }) = std::move(value);
  }
  template <class Q>
  bool erase(const Q& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    // A key first changed in this epoch is in the dirty list already; one that is clean
    // existed at the last snapshot and needs a deletion.
    if (tracking_) {
      if (it->second.epoch != epoch_) dirty_.push_back(Dirty{it->first, nullptr, true});
      erasedThisEpoch_ = true;  // created again later, the key would be listed twice
    }
    map_.erase(it);
    tombstones_ = true;
    return true;
  }
  /// Removes everything, as deletions of what existed at the last snapshot.
  void clear() {
    if (tracking_) {
      for (auto& [k, e] : map_)
        if (e.epoch != epoch_) dirty_.push_back(Dirty{k, nullptr, true});
      erasedThisEpoch_ = true;
    }
    map_.clear();
    tombstones_ = false;  // absl's clear() empties every slot or frees the table
  }
  /// Forgets entries and history alike (a map reused for something new): untracked again.
  void reset() {
    map_.clear();
    tombstones_ = false;
    clearDirty();
    superseded_ = 0;
    liveAtSnapshot_ = 0;
    tracking_ = false;
    nextEpoch();
  }
  /// Whether changes are being recorded (after the first snapshot or restore).
  bool tracking() const { return tracking_; }

  // ---- snapshots ----

  /// Writes every entry; the map is the new base (nothing is changed relative to it).
  void writeFull(std::string& out) {
    if constexpr (HasSerde<K>::value && HasSerde<V>::value) {
      writeAll(out);
    }
    clearDirty();
    superseded_ = 0;
    tracking_ = true;
    nextEpoch();
  }
  /// Writes what changed since the last snapshot (full or delta) and starts a new epoch.
  void writeDelta(std::string& out) {
    if constexpr (HasSerde<K>::value && HasSerde<V>::value) {
      if (!tracking_) {
        // No base holds this map: every entry is an upsert, and there is nothing to delete.
        writeAll(out);
        Serde<uint64_t>::write(0, out);
        tracking_ = true;
        nextEpoch();
        return;
      }
      uint64_t written = writeUpserts(out);
      // Without an erase since the last snapshot, every listed key is alive: no lookups needed.
      if (erasedThisEpoch_) written += writeDeletes(out);
      else Serde<uint64_t>::write(0, out);
      // Every live key has exactly one live record in the chain; every other record is dead.
      superseded_ += written;
      superseded_ -= map_.size() - liveAtSnapshot_;  // modulo 2^64: right when the map shrank
    }
    clearDirty();
    nextEpoch();
  }
  /// Replaces the contents with what writeFull wrote; the map is the new base.
  bool readFull(std::string_view& in) {
    if constexpr (HasSerde<K>::value && HasSerde<V>::value) {
      uint64_t n = 0;
      if (!Serde<uint64_t>::read(in, n) || n > in.size()) return false;
      map_.clear();
      tombstones_ = false;
      // Capped by what the input can hold at 8 bytes an entry: a corrupt count must not
      // reserve a table far larger than the snapshot.
      map_.reserve(static_cast<size_t>(std::min<uint64_t>(n, in.size() / 8 + 1)));
      for (uint64_t i = 0; i < n; ++i) {
        K k{};
        V v{};
        if (!Serde<K>::read(in, k) || !Serde<V>::read(in, v)) return false;
        map_.insert_or_assign(std::move(k), Entry{0, std::move(v)});
      }
      clearDirty();
      superseded_ = 0;
      tracking_ = true;
      nextEpoch();
      return true;
    } else {
      return false;
    }
  }
  /// Applies what writeDelta wrote (restore replays a chain: full, then each delta in order).
  bool applyDelta(std::string_view& in) {
    if constexpr (HasSerde<K>::value && HasSerde<V>::value) {
      uint64_t n = 0;
      if (!Serde<uint64_t>::read(in, n) || n > in.size()) return false;
      for (uint64_t i = 0; i < n; ++i) {
        K k{};
        V v{};
        if (!Serde<K>::read(in, k) || !Serde<V>::read(in, v)) return false;
        map_.insert_or_assign(std::move(k), Entry{0, std::move(v)});
      }
      if (!Serde<uint64_t>::read(in, n) || n > in.size()) return false;
      for (uint64_t i = 0; i < n; ++i) {
        K k{};
        if (!Serde<K>::read(in, k)) return false;
        if (map_.erase(k) != 0) tombstones_ = true;
      }
      clearDirty();
      tracking_ = true;
      nextEpoch();
      return true;
    } else {
      return false;
    }
  }

  DeltaStats deltaStats() const { return DeltaStats{map_.size(), superseded_}; }
  /// Keys changed since the last snapshot (tests).
  size_t changedKeys() const { return dirty_.size(); }

 private:
  /// The slot of `key`, and whether it was created now (with `make()`, listed as changed).
  /// One probe of the table either way (a find and then an emplace would probe twice for a
  /// new key, the common case of state that grows). If `make()` throws, the key is not added.
  template <class Q, class Make>
  std::pair<Slot*, bool> findOrCreate(const Q& key, Make& make) {
    const size_t capacity = map_.capacity();
    auto [it, created] = map_.try_emplace(key);
    if (created) {
      try {
        // GCC 12 at -O3 sees the move into a default-constructed absl container free that
        // container's static empty group, which absl never frees (its capacity is 0).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
        it->second.value = make();
#pragma GCC diagnostic pop
      } catch (...) {
        map_.erase(it);
        tombstones_ = true;
        throw;
      }
      // The insert moved entries if the table grew (every slot, and no tombstone is left), or,
      // while erasures may have left tombstones, if absl rehashed it in place to reclaim them
      // (some slots, at the same capacity: nothing tells, so it is assumed).
      const bool resized = map_.capacity() != capacity;
      if (resized) tombstones_ = false;
      if (tracking_) {
        it->second.epoch = epoch_;
        if (resized || tombstones_) slotsFrom_ = dirty_.size();
        dirty_.push_back(Dirty{K(key), &*it, false});
      }
    }
    return {&*it, created};
  }
  void mark(Slot& slot, bool existed) {
    Entry& e = slot.second;
    if (e.epoch == epoch_ || !tracking_) return;
    // An entry that is clean but not new existed at the last snapshot (every entry created
    // since is marked when it is created).
    e.epoch = epoch_;
    dirty_.push_back(Dirty{slot.first, &slot, existed});
  }
  void clearDirty() {
    dirty_.clear();
    slotsFrom_ = 0;
  }
  void nextEpoch() {
    erasedThisEpoch_ = false;
    liveAtSnapshot_ = map_.size();
    if (++epoch_ != 0) return;
    // Wrapped around (after 2^32 - 1 snapshots of this map): an entry last marked long ago
    // could carry the new epoch and look marked already. Clean every entry first.
    for (auto& [k, e] : map_) e.epoch = 0;
    epoch_ = 1;
  }
  static void patchU64(std::string& out, size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i) out[at + static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  }

  /// u64 u, u × (key, value): the current value of every listed key that is alive. Returns u.
  uint64_t writeUpserts(std::string& out) {
    const size_t countAt = out.size();
    Serde<uint64_t>::write(0, out);
    uint64_t upserts = 0;
    // Dirty keys are in no order, so every access misses the cache, and so does the memory a
    // value points to. A pipeline keeps both in flight: the slot of entry i + 2A is requested,
    // entry i + A is found (its slot has arrived) and what its value points to is requested,
    // and entry i is written. An entry listed since the map last rehashed, in an epoch
    // without erasures, still knows its slot; the others are looked up by key.
    constexpr size_t kAhead = kPrefetchAhead;
    const size_t n = dirty_.size();
    const size_t slotsFrom = erasedThisEpoch_ ? n : slotsFrom_;
    Slot* found[kAhead];
    auto request = [&](size_t j) {
      if (j >= slotsFrom) {
        __builtin_prefetch(dirty_[j].slot, 1, 3);
        __builtin_prefetch(reinterpret_cast<const char*>(dirty_[j].slot + 1) - 1, 1, 3);
      } else {
        map_.prefetch(dirty_[j].key);
      }
    };
    auto find = [&](size_t j) {
      Slot* slot = dirty_[j].slot;
      if (j < slotsFrom) {
        auto it = map_.find(dirty_[j].key);
        slot = it == map_.end() ? nullptr : &*it;
      }
      if (slot != nullptr) serdePrefetch(slot->second.value);
      found[j % kAhead] = slot;
    };
    EntryWriter writer(out);
    for (size_t j = kAhead; j < std::min(n, 2 * kAhead); ++j) request(j);
    for (size_t j = 0; j < std::min(n, kAhead); ++j) find(j);
    for (size_t i = 0; i < n; ++i) {
      Slot* slot = found[i % kAhead];
      if (i + 2 * kAhead < n) request(i + 2 * kAhead);
      if (i + kAhead < n) find(i + kAhead);  // after `slot` was taken from its ring slot
      if (slot == nullptr || slot->second.epoch != epoch_) continue;  // gone, or written already
      // A key is listed twice only if it was erased and created again in this epoch; only
      // then must the entry remember that it was written (sparing a write to every slot).
      if (erasedThisEpoch_) slot->second.epoch = 0;
      writer.write(slot->first, slot->second.value);
      ++upserts;
    }
    writer.finish();
    patchU64(out, countAt, upserts);
    return upserts;
  }
  /// u64 d, d × key: the listed keys the last snapshot held that are gone now. Returns d.
  uint64_t writeDeletes(std::string& out) {
    const size_t countAt = out.size();
    Serde<uint64_t>::write(0, out);
    uint64_t deletes = 0;
    for (const Dirty& d : dirty_) {
      if (!d.existed || map_.contains(d.key)) continue;
      Serde<K>::write(d.key, out);
      ++deletes;
    }
    patchU64(out, countAt, deletes);
    return deletes;
  }

  /// u64 n, n × (key, value): every entry.
  void writeAll(std::string& out) const {
    Serde<uint64_t>::write(map_.size(), out);
    // Slots are read in order; what values point to is scattered, so it is requested a few
    // entries ahead (Serde<V>::prefetch, where the value has one).
    auto ahead = map_.begin();
    for (size_t i = 0; i < kPrefetchAhead && ahead != map_.end(); ++i, ++ahead) serdePrefetch(ahead->second.value);
    EntryWriter writer(out);
    for (const auto& [k, e] : map_) {
      if (ahead != map_.end()) {
        serdePrefetch(ahead->second.value);
        ++ahead;
      }
      writer.write(k, e.value);
    }
    writer.finish();
  }

  /// Appends (key, value) records to a snapshot. Types whose Serde can say its size are written
  /// through a cursor into room made a chunk at a time: one resize of the buffer (and its
  /// zeroing) per 64 KiB rather than one per field. Others are appended field by field.
  class EntryWriter {
   public:
    explicit EntryWriter(std::string& out) : out_(out), cur_(out.data() + out.size()), end_(cur_) {}
    void write(const K& k, const V& v) {
      if constexpr (kSized) {
        const size_t need = Serde<K>::size(k) + Serde<V>::size(v);
        if (static_cast<size_t>(end_ - cur_) < need) room(need);
        cur_ = Serde<V>::put(Serde<K>::put(cur_, k), v);
      } else {
        Serde<K>::write(k, out_);
        Serde<V>::write(v, out_);
      }
    }
    /// Gives back the room not written; call before anything else appends to the buffer.
    void finish() {
      if constexpr (kSized) out_.resize(static_cast<size_t>(cur_ - out_.data()));
    }

   private:
    static constexpr bool kSized = HasSerdeSized<K>::value && HasSerdeSized<V>::value;
    static constexpr size_t kChunk = size_t{64} << 10;
    void room(size_t need) {
      const size_t at = static_cast<size_t>(cur_ - out_.data());
      out_.resize(at + std::max(need, kChunk));
      cur_ = out_.data() + at;
      end_ = out_.data() + out_.size();
    }
    std::string& out_;
    char* cur_;
    char* end_;
  };

  /// Entries whose memory snapshots request ahead of writing them. Each has several lines in
  /// flight (control bytes, slot, what the value points to) and a core tracks only a few dozen
  /// misses. On q18's snapshots (tenth session's machine) 8 took 30 % less time than 4, and
  /// 12 or 16 no less than 8 (an earlier machine had favoured 4, within its noise).
  static constexpr size_t kPrefetchAhead = 8;

  Map map_;
  /// A key changed since the last snapshot.
  struct Dirty {
    K key;
    Slot* slot;    ///< where it was then (only entries from slotsFrom_ on; nullptr for erasures)
    bool existed;  ///< the last snapshot held it
  };
  std::vector<Dirty> dirty_;
  size_t slotsFrom_ = 0;  ///< dirty_[i].slot is valid for i >= this (no insert may have moved it since)
  /// An erasure since the table last grew (or was emptied) may have left a tombstone: absl then
  /// may rehash in place at an insert, moving entries without a change of capacity.
  bool tombstones_ = false;
  uint32_t epoch_ = 1;
  uint64_t superseded_ = 0;
  size_t liveAtSnapshot_ = 0;  ///< entries at the last snapshot or restore
  bool tracking_ = false;  ///< set by the first snapshot or restore
  bool erasedThisEpoch_ = false;  ///< an entry was erased: a key may be listed twice
};

}  // namespace reka
