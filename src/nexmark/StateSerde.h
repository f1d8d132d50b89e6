#pragma once

// The values the NEXMark queries keep in keyed, window and join state, with their Serde
// specialisations, so that every query can be checkpointed. Included by the query files before
// they register state (a Serde must be declared before the state type is first used).
//
// State owns its strings: an input record's string_views point into the arena of its batch,
// which does not outlive the batch. Bids and auctions are kept as StoredBid/StoredAuction, person
// names as std::string; a snapshot is read back into new owned copies.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_set.h>

#include "nexmark/Rows.h"
#include "reka/state/Serde.h"
#include "reka/time/Windows.h"

namespace reka::nexmark {

/// q3: a person's side of the join, per person id.
struct PersonInfo {
  bool matches = false;  // in OR, ID or CA; a non-matching person is kept (without strings) so
                         // that auctions that arrive later are not buffered forever
  std::string name, city, state;
};

/// q15: one day's counters and the distinct bidders and auctions seen, in total and per tier.
struct DayState {
  DayCounts counts;
  absl::flat_hash_set<int64_t> bidders[4];  // [0] all, [1..3] per tier
  absl::flat_hash_set<int64_t> auctions[4];
};

/// An exact sum of prices: 128 bits, so that no number of bids can wrap it (a price is at most
/// 2^53 − 1, see EventParser::kMaxJsonSafeInteger). Stored as two i64, low half first.
using PriceSum = __int128;

/// q17: per (auction, day), counts and price statistics.
struct AuctionDayStats {
  int64_t totalBids = 0, rank1Bids = 0, rank2Bids = 0, rank3Bids = 0;
  int64_t minPrice = 0, maxPrice = 0;
  PriceSum sumPrice = 0;
};

/// q20: the auction side of the join, per auction id.
struct AuctionSlot {
  std::shared_ptr<const StoredAuction> auction;  // null: not seen yet, or not category 10
  bool seen = false;
};

/// q9: the state of one auction id: the auction once it has come and its best valid bid so far,
/// or, before it comes, the bids that did.
struct AuctionBook {
  std::shared_ptr<const StoredAuction> auction;
  std::shared_ptr<const StoredBid> best;
  std::vector<std::shared_ptr<const StoredBid>> early;
};

/// q4: a category's winning prices.
struct CountSum {
  int64_t count = 0;
  PriceSum sum = 0;
};

/// q6: how many of a seller's last winning prices are averaged.
inline constexpr int64_t kLastWinners = 10;

/// q6: a winner that arrived and waits for the watermark to pass its expiry.
struct PendingWinner {
  int64_t expires, auction, price;
};

/// q6: per seller, the pending winners and the ring of the last prices.
struct SellerWinners {
  std::vector<PendingWinner> pending;        // arrived, not yet applied
  std::array<int64_t, kLastWinners> last{};  // ring of the last prices; slot applied % 10 is next
  int64_t applied = 0;
  int64_t sum = 0;  // of the prices in the ring
};

/// q5 stage 2: per window end, the highest bid count of an auction and the auctions that have it.
struct HotAuctions {
  int64_t start = 0;
  int64_t max = 0;
  std::vector<int64_t> auctions;
};

/// q7: the highest price and every bid that has it (window accumulator, and per window end).
struct MaxBids {
  int64_t price = -1;
  std::vector<std::shared_ptr<const StoredBid>> bids;
};

/// q8: a person, owning their name (persons wait in the window join's state).
struct PersonRef {
  int64_t id;
  std::shared_ptr<const std::string> name;
  int64_t dateTime;
};

/// q5, q8, q11, q12: a count per key and window (q8 keeps them in its window join).
using AuctionCount = WindowResult<int64_t, int64_t>;

namespace detail {
/// Writes a string the way Serde<std::string> does (u64 length, bytes).
inline void writeStringView(std::string_view s, std::string& out) {
  Serde<uint64_t>::write(s.size(), out);
  out.append(s.data(), s.size());
}
/// Reads what writeStringView wrote as a view into `in` (valid as long as `in`'s bytes are).
inline bool readStringView(std::string_view& in, std::string_view& s) {
  uint64_t n = 0;
  if (!Serde<uint64_t>::read(in, n) || n > in.size()) return false;
  s = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}
inline void writeIdSet(const absl::flat_hash_set<int64_t>& set, std::string& out) {
  Serde<uint64_t>::write(set.size(), out);
  for (int64_t v : set) Serde<int64_t>::write(v, out);
}
inline bool readIdSet(std::string_view& in, absl::flat_hash_set<int64_t>& set) {
  uint64_t n = 0;
  if (!Serde<uint64_t>::read(in, n) || n > in.size() / sizeof(int64_t)) return false;
  set.clear();
  set.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    int64_t v = 0;
    if (!Serde<int64_t>::read(in, v)) return false;
    set.insert(v);
  }
  return true;
}
}  // namespace detail

}  // namespace reka::nexmark

namespace reka {

/// How much of a stored bid or auction (with its strings, which follow it in the same
/// allocation) a snapshot requests ahead: four cache lines, all of a typical NEXMark bid (80
/// bytes of record, about 115 of strings). Measured on q18's snapshots with 8 entries ahead:
/// 256 bytes took 30 % less time than 192 (which leaves the last line to a demand miss), and
/// 320 or 384 no less than 256.
inline constexpr size_t kStoredPrefetchBytes = 256;

/// A stored bid: u8 present, then auction, bidder, price, channel, url, dateTime, extra.
/// Read back into a new StoredBid (a null pointer stays null).
template <>
struct Serde<std::shared_ptr<const nexmark::StoredBid>> {
  static void prefetch(const std::shared_ptr<const nexmark::StoredBid>& v) {
    if (v) prefetchBytes(v.get(), kStoredPrefetchBytes);
  }
  static void write(const std::shared_ptr<const nexmark::StoredBid>& v, std::string& out) {
    put(appendBytes(out, size(v)), v);
  }
  /// u8 1, i64 auction, bidder, price, str channel, url, i64 dateTime, str extra (u8 0: null).
  static size_t size(const std::shared_ptr<const nexmark::StoredBid>& v) {
    if (!v) return 1;
    const nexmark::Bid& b = v->bid;
    return 1 + 4 * 8 + 3 * 8 + b.channel.size() + b.url.size() + b.extra.size();
  }
  static char* put(char* p, const std::shared_ptr<const nexmark::StoredBid>& v) {
    if (!v) return putRaw(p, uint8_t{0});
    const nexmark::Bid& b = v->bid;
    p = putRaw(p, uint8_t{1});
    p = putRaw(p, b.auction);
    p = putRaw(p, b.bidder);
    p = putRaw(p, b.price);
    p = putBytes(p, b.channel);
    p = putBytes(p, b.url);
    p = putRaw(p, b.dateTime);
    return putBytes(p, b.extra);
  }
  static bool read(std::string_view& in, std::shared_ptr<const nexmark::StoredBid>& v) {
    uint8_t present = 0;
    if (!Serde<uint8_t>::read(in, present) || present > 1) return false;
    if (present == 0) {
      v.reset();
      return true;
    }
    nexmark::Bid b{};
    if (!Serde<int64_t>::read(in, b.auction) || !Serde<int64_t>::read(in, b.bidder) || !Serde<int64_t>::read(in, b.price) ||
        !nexmark::detail::readStringView(in, b.channel) || !nexmark::detail::readStringView(in, b.url) ||
        !Serde<int64_t>::read(in, b.dateTime) || !nexmark::detail::readStringView(in, b.extra))
      return false;
    v = nexmark::StoredBid::make(b);  // copies the strings out of `in`
    return true;
  }
};

/// A stored auction: u8 present, then its fields in declaration order (strings as
/// Serde<std::string>). Read back into a new StoredAuction (a null pointer stays null).
template <>
struct Serde<std::shared_ptr<const nexmark::StoredAuction>> {
  static void prefetch(const std::shared_ptr<const nexmark::StoredAuction>& v) {
    if (v) prefetchBytes(v.get(), kStoredPrefetchBytes);
  }
  static void write(const std::shared_ptr<const nexmark::StoredAuction>& v, std::string& out) {
    put(appendBytes(out, size(v)), v);
  }
  static size_t size(const std::shared_ptr<const nexmark::StoredAuction>& v) {
    if (!v) return 1;
    const nexmark::Auction& a = v->auction;
    return 1 + 7 * 8 + 3 * 8 + a.itemName.size() + a.description.size() + a.extra.size();
  }
  static char* put(char* p, const std::shared_ptr<const nexmark::StoredAuction>& v) {
    if (!v) return putRaw(p, uint8_t{0});
    const nexmark::Auction& a = v->auction;
    p = putRaw(p, uint8_t{1});
    p = putRaw(p, a.id);
    p = putBytes(p, a.itemName);
    p = putBytes(p, a.description);
    p = putRaw(p, a.initialBid);
    p = putRaw(p, a.reserve);
    p = putRaw(p, a.dateTime);
    p = putRaw(p, a.expires);
    p = putRaw(p, a.seller);
    p = putRaw(p, a.category);
    return putBytes(p, a.extra);
  }
  static bool read(std::string_view& in, std::shared_ptr<const nexmark::StoredAuction>& v) {
    uint8_t present = 0;
    if (!Serde<uint8_t>::read(in, present) || present > 1) return false;
    if (present == 0) {
      v.reset();
      return true;
    }
    nexmark::Auction a{};
    if (!Serde<int64_t>::read(in, a.id) || !nexmark::detail::readStringView(in, a.itemName) ||
        !nexmark::detail::readStringView(in, a.description) || !Serde<int64_t>::read(in, a.initialBid) ||
        !Serde<int64_t>::read(in, a.reserve) || !Serde<int64_t>::read(in, a.dateTime) ||
        !Serde<int64_t>::read(in, a.expires) || !Serde<int64_t>::read(in, a.seller) ||
        !Serde<int64_t>::read(in, a.category) || !nexmark::detail::readStringView(in, a.extra))
      return false;
    v = nexmark::StoredAuction::make(a);
    return true;
  }
};

/// An exact price sum: i64 low half (as unsigned bits), i64 high half.
template <>
struct Serde<nexmark::PriceSum> {
  static void write(nexmark::PriceSum v, std::string& out) {
    Serde<uint64_t>::write(static_cast<uint64_t>(v), out);
    Serde<int64_t>::write(static_cast<int64_t>(v >> 64), out);
  }
  static bool read(std::string_view& in, nexmark::PriceSum& v) {
    uint64_t low = 0;
    int64_t high = 0;
    if (!Serde<uint64_t>::read(in, low) || !Serde<int64_t>::read(in, high)) return false;
    v = static_cast<nexmark::PriceSum>(static_cast<unsigned __int128>(static_cast<uint64_t>(high)) << 64 | low);
    return true;
  }
};

template <>
struct Serde<nexmark::PersonInfo> {
  static void write(const nexmark::PersonInfo& v, std::string& out) {
    Serde<uint8_t>::write(v.matches ? 1 : 0, out);
    Serde<std::string>::write(v.name, out);
    Serde<std::string>::write(v.city, out);
    Serde<std::string>::write(v.state, out);
  }
  static bool read(std::string_view& in, nexmark::PersonInfo& v) {
    uint8_t matches = 0;
    if (!Serde<uint8_t>::read(in, matches) || matches > 1) return false;
    v.matches = matches == 1;
    return Serde<std::string>::read(in, v.name) && Serde<std::string>::read(in, v.city) &&
           Serde<std::string>::read(in, v.state);
  }
};

/// The twelve counters in declaration order.
template <>
struct Serde<nexmark::DayCounts> {
  static void write(const nexmark::DayCounts& c, std::string& out) {
    for (int64_t v : {c.totalBids, c.rank1Bids, c.rank2Bids, c.rank3Bids, c.totalBidders, c.rank1Bidders, c.rank2Bidders,
                      c.rank3Bidders, c.totalAuctions, c.rank1Auctions, c.rank2Auctions, c.rank3Auctions})
      Serde<int64_t>::write(v, out);
  }
  static bool read(std::string_view& in, nexmark::DayCounts& c) {
    for (int64_t* v : {&c.totalBids, &c.rank1Bids, &c.rank2Bids, &c.rank3Bids, &c.totalBidders, &c.rank1Bidders,
                       &c.rank2Bidders, &c.rank3Bidders, &c.totalAuctions, &c.rank1Auctions, &c.rank2Auctions,
                       &c.rank3Auctions})
      if (!Serde<int64_t>::read(in, *v)) return false;
    return true;
  }
};

/// The counters, then the four bidder sets and the four auction sets (u64 n, n × i64 each).
template <>
struct Serde<nexmark::DayState> {
  static void write(const nexmark::DayState& s, std::string& out) {
    Serde<nexmark::DayCounts>::write(s.counts, out);
    for (const auto& set : s.bidders) nexmark::detail::writeIdSet(set, out);
    for (const auto& set : s.auctions) nexmark::detail::writeIdSet(set, out);
  }
  static bool read(std::string_view& in, nexmark::DayState& s) {
    if (!Serde<nexmark::DayCounts>::read(in, s.counts)) return false;
    for (auto& set : s.bidders)
      if (!nexmark::detail::readIdSet(in, set)) return false;
    for (auto& set : s.auctions)
      if (!nexmark::detail::readIdSet(in, set)) return false;
    return true;
  }
};

template <>
struct Serde<nexmark::AuctionDayStats> {
  static void write(const nexmark::AuctionDayStats& s, std::string& out) {
    for (int64_t v : {s.totalBids, s.rank1Bids, s.rank2Bids, s.rank3Bids, s.minPrice, s.maxPrice})
      Serde<int64_t>::write(v, out);
    Serde<nexmark::PriceSum>::write(s.sumPrice, out);
  }
  static bool read(std::string_view& in, nexmark::AuctionDayStats& s) {
    for (int64_t* v : {&s.totalBids, &s.rank1Bids, &s.rank2Bids, &s.rank3Bids, &s.minPrice, &s.maxPrice})
      if (!Serde<int64_t>::read(in, *v)) return false;
    return Serde<nexmark::PriceSum>::read(in, s.sumPrice);
  }
};

template <>
struct Serde<nexmark::AuctionSlot> {
  static void write(const nexmark::AuctionSlot& s, std::string& out) {
    Serde<std::shared_ptr<const nexmark::StoredAuction>>::write(s.auction, out);
    Serde<uint8_t>::write(s.seen ? 1 : 0, out);
  }
  static bool read(std::string_view& in, nexmark::AuctionSlot& s) {
    uint8_t seen = 0;
    if (!Serde<std::shared_ptr<const nexmark::StoredAuction>>::read(in, s.auction) || !Serde<uint8_t>::read(in, seen) ||
        seen > 1)
      return false;
    s.seen = seen == 1;
    return true;
  }
};

template <>
struct Serde<nexmark::AuctionBook> {
  static void write(const nexmark::AuctionBook& b, std::string& out) {
    Serde<std::shared_ptr<const nexmark::StoredAuction>>::write(b.auction, out);
    Serde<std::shared_ptr<const nexmark::StoredBid>>::write(b.best, out);
    Serde<std::vector<std::shared_ptr<const nexmark::StoredBid>>>::write(b.early, out);
  }
  static bool read(std::string_view& in, nexmark::AuctionBook& b) {
    return Serde<std::shared_ptr<const nexmark::StoredAuction>>::read(in, b.auction) &&
           Serde<std::shared_ptr<const nexmark::StoredBid>>::read(in, b.best) &&
           Serde<std::vector<std::shared_ptr<const nexmark::StoredBid>>>::read(in, b.early);
  }
};

template <>
struct Serde<nexmark::CountSum> {
  static void write(const nexmark::CountSum& s, std::string& out) {
    Serde<int64_t>::write(s.count, out);
    Serde<nexmark::PriceSum>::write(s.sum, out);
  }
  static bool read(std::string_view& in, nexmark::CountSum& s) {
    return Serde<int64_t>::read(in, s.count) && Serde<nexmark::PriceSum>::read(in, s.sum);
  }
};

template <>
struct Serde<nexmark::PendingWinner> {
  static void write(const nexmark::PendingWinner& p, std::string& out) {
    Serde<int64_t>::write(p.expires, out);
    Serde<int64_t>::write(p.auction, out);
    Serde<int64_t>::write(p.price, out);
  }
  static bool read(std::string_view& in, nexmark::PendingWinner& p) {
    return Serde<int64_t>::read(in, p.expires) && Serde<int64_t>::read(in, p.auction) && Serde<int64_t>::read(in, p.price);
  }
};

/// The pending winners, the kLastWinners prices of the ring, applied, sum.
template <>
struct Serde<nexmark::SellerWinners> {
  static void write(const nexmark::SellerWinners& s, std::string& out) {
    Serde<std::vector<nexmark::PendingWinner>>::write(s.pending, out);
    for (int64_t v : s.last) Serde<int64_t>::write(v, out);
    Serde<int64_t>::write(s.applied, out);
    Serde<int64_t>::write(s.sum, out);
  }
  static bool read(std::string_view& in, nexmark::SellerWinners& s) {
    if (!Serde<std::vector<nexmark::PendingWinner>>::read(in, s.pending)) return false;
    for (int64_t& v : s.last)
      if (!Serde<int64_t>::read(in, v)) return false;
    return Serde<int64_t>::read(in, s.applied) && Serde<int64_t>::read(in, s.sum);
  }
};

template <>
struct Serde<nexmark::HotAuctions> {
  static void write(const nexmark::HotAuctions& h, std::string& out) {
    Serde<int64_t>::write(h.start, out);
    Serde<int64_t>::write(h.max, out);
    Serde<std::vector<int64_t>>::write(h.auctions, out);
  }
  static bool read(std::string_view& in, nexmark::HotAuctions& h) {
    return Serde<int64_t>::read(in, h.start) && Serde<int64_t>::read(in, h.max) &&
           Serde<std::vector<int64_t>>::read(in, h.auctions);
  }
};

template <>
struct Serde<nexmark::MaxBids> {
  static void write(const nexmark::MaxBids& m, std::string& out) {
    Serde<int64_t>::write(m.price, out);
    Serde<std::vector<std::shared_ptr<const nexmark::StoredBid>>>::write(m.bids, out);
  }
  static bool read(std::string_view& in, nexmark::MaxBids& m) {
    return Serde<int64_t>::read(in, m.price) && Serde<std::vector<std::shared_ptr<const nexmark::StoredBid>>>::read(in, m.bids);
  }
};

/// id, name (a string; a person always has one), dateTime.
template <>
struct Serde<nexmark::PersonRef> {
  static void write(const nexmark::PersonRef& p, std::string& out) {
    Serde<int64_t>::write(p.id, out);
    nexmark::detail::writeStringView(p.name ? std::string_view(*p.name) : std::string_view(), out);
    Serde<int64_t>::write(p.dateTime, out);
  }
  static bool read(std::string_view& in, nexmark::PersonRef& p) {
    std::string name;
    if (!Serde<int64_t>::read(in, p.id) || !Serde<std::string>::read(in, name) || !Serde<int64_t>::read(in, p.dateTime))
      return false;
    p.name = std::make_shared<const std::string>(std::move(name));
    return true;
  }
};

/// A count per key and window: key, window start, window end, count, row kind.
template <>
struct Serde<nexmark::AuctionCount> {
  static void write(const nexmark::AuctionCount& r, std::string& out) {
    Serde<int64_t>::write(r.key, out);
    Serde<int64_t>::write(r.window.start, out);
    Serde<int64_t>::write(r.window.end, out);
    Serde<int64_t>::write(r.value, out);
    Serde<uint8_t>::write(static_cast<uint8_t>(r.kind), out);
  }
  static bool read(std::string_view& in, nexmark::AuctionCount& r) {
    uint8_t kind = 0;
    if (!Serde<int64_t>::read(in, r.key) || !Serde<int64_t>::read(in, r.window.start) ||
        !Serde<int64_t>::read(in, r.window.end) || !Serde<int64_t>::read(in, r.value) || !Serde<uint8_t>::read(in, kind) ||
        kind > static_cast<uint8_t>(RowKind::kDelete))
      return false;
    r.kind = static_cast<RowKind>(kind);
    return true;
  }
};

}  // namespace reka
