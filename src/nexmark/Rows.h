#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "reka/api/Functions.h"
#include "nexmark/JsonCodec.h"
#include "nexmark/Model.h"
#include "reka/state/KeyGroup.h"

// Result rows of the NEXMark queries. Each row type has `write(JsonRowWriter&)` (the columns of
// docs/nexmark.md, Queries) and `touch()` (a hash of every field: what the discarding sink computes,
// so that no field is optimised away and runs can be compared by checksum).
namespace reka::nexmark {

inline uint64_t touchString(std::string_view s) { return XXH3_64bits(s.data(), s.size()); }
inline uint64_t touchInt(int64_t v) { return mixHash64(static_cast<uint64_t>(v)); }
inline uint64_t combine(uint64_t a, uint64_t b) { return mixHash64(a * 31 + b); }
inline uint64_t touchInt128(__int128 v) {
  return combine(touchInt(static_cast<int64_t>(v)), touchInt(static_cast<int64_t>(v >> 64)));
}

/// Formats an epoch-millisecond timestamp's UTC day as yyyy-MM-dd.
std::string formatDay(int64_t epochDay);
/// Epoch day of an epoch-millisecond timestamp (floor division).
inline int64_t epochDayOf(int64_t ms) { return ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000); }

/// A bid that owns its strings: for state that outlives input batches. One allocation holds
/// the control block, the record and its string bytes (the views point just past the record).
/// Created once with make(); immutable and shared afterwards.
struct StoredBid {
  Bid bid;
  static std::shared_ptr<const StoredBid> make(const Bid& b);
};

/// An auction that owns its strings, laid out like StoredBid.
struct StoredAuction {
  Auction auction;
  static std::shared_ptr<const StoredAuction> make(const Auction& a);
};

void writeBid(const Bid& b, JsonRowWriter& w);
uint64_t touchBid(const Bid& b);
void writeAuction(const Auction& a, JsonRowWriter& w, std::string_view prefix);
uint64_t touchAuction(const Auction& a);

/// q0, q13 base: a bid (views into its batch).
struct BidRow {
  Bid bid;
  void write(JsonRowWriter& w) const { writeBid(bid, w); }
  uint64_t touch() const { return touchBid(bid); }
};

struct Q1Row {
  int64_t auction, bidder, priceMilli, dateTime;  // price in euro-cents × 1000 (3 decimals)
  void write(JsonRowWriter& w) const {
    w.field("auction", auction);
    w.field("bidder", bidder);
    w.fieldDecimal("price", priceMilli, 3);
    w.field("dateTime", dateTime);
  }
  uint64_t touch() const { return combine(combine(touchInt(auction), touchInt(bidder)), combine(touchInt(priceMilli), touchInt(dateTime))); }
};

struct Q2Row {
  int64_t auction, price;
  void write(JsonRowWriter& w) const {
    w.field("auction", auction);
    w.field("price", price);
  }
  uint64_t touch() const { return combine(touchInt(auction), touchInt(price)); }
};

struct Q3Row {
  std::string name, city, state;
  int64_t id;
  void write(JsonRowWriter& w) const {
    w.field("name", name);
    w.field("city", city);
    w.field("state", state);
    w.field("id", id);
  }
  uint64_t touch() const { return combine(combine(touchString(name), touchString(city)), combine(touchString(state), touchInt(id))); }
};

struct Q13Row {
  Bid bid;
  std::string_view value;
  void write(JsonRowWriter& w) const {
    writeBid(bid, w);
    w.field("value", value);
  }
  uint64_t touch() const { return combine(touchBid(bid), touchString(value)); }
};

struct Q14Row {
  int64_t auction, bidder, priceMilli;
  std::string_view bidTimeType;
  int64_t dateTime;
  std::string_view extra;
  int64_t cCounts;
  void write(JsonRowWriter& w) const {
    w.field("auction", auction);
    w.field("bidder", bidder);
    w.fieldDecimal("price", priceMilli, 3);
    w.field("bidTimeType", bidTimeType);
    w.field("dateTime", dateTime);
    w.field("extra", extra);
    w.field("c_counts", cCounts);
  }
  uint64_t touch() const {
    return combine(combine(combine(touchInt(auction), touchInt(bidder)), combine(touchInt(priceMilli), touchString(bidTimeType))),
                   combine(combine(touchInt(dateTime), touchString(extra)), touchInt(cCounts)));
  }
};

/// The 12 counters of q15 and q16.
struct DayCounts {
  int64_t totalBids = 0, rank1Bids = 0, rank2Bids = 0, rank3Bids = 0;
  int64_t totalBidders = 0, rank1Bidders = 0, rank2Bidders = 0, rank3Bidders = 0;
  int64_t totalAuctions = 0, rank1Auctions = 0, rank2Auctions = 0, rank3Auctions = 0;
  void write(JsonRowWriter& w) const;
  uint64_t touch() const;
};

struct Q15Row {
  RowKind kind;
  int64_t day;
  DayCounts counts;
  void write(JsonRowWriter& w) const {
    w.field("op", rowKindCode(kind));
    w.field("day", formatDay(day));
    counts.write(w);
  }
  uint64_t touch() const { return combine(combine(touchInt(static_cast<int64_t>(kind)), touchInt(day)), counts.touch()); }
};

struct Q17Row {
  RowKind kind;
  int64_t auction, day;
  int64_t totalBids, rank1Bids, rank2Bids, rank3Bids, minPrice, maxPrice;
  __int128 sumPrice;  ///< exact (see PriceSum)
  void write(JsonRowWriter& w) const;
  uint64_t touch() const;
};

/// q18 and q19: a stored bid with a row kind (and, for q19, its rank).
struct RankedBidRow {
  RowKind kind;
  std::shared_ptr<const StoredBid> bid;
  int64_t rank;  // 0: no rank column (q18)
  void write(JsonRowWriter& w) const {
    w.field("op", rowKindCode(kind));
    writeBid(bid->bid, w);
    if (rank > 0) w.field("rank", rank);
  }
  uint64_t touch() const { return combine(combine(touchInt(static_cast<int64_t>(kind)), touchBid(bid->bid)), touchInt(rank)); }
};

struct Q20Row {
  Bid bid;                                   // views into the input batch or into `storedBid`
  std::shared_ptr<const StoredBid> storedBid;  // set when the bid waited in state
  std::shared_ptr<const StoredAuction> auction;
  void write(JsonRowWriter& w) const {
    writeBid(bid, w);
    writeAuction(auction->auction, w, "auction_");
  }
  uint64_t touch() const { return combine(touchBid(bid), touchAuction(auction->auction)); }
};

/// q9: an auction and its winning bid. Emitted once, when the watermark passes the auction's
/// expiry, so its kind is always +I (AuctionQueries.cc says why no -U ever follows).
struct AuctionWinnerRow {
  RowKind kind;
  std::shared_ptr<const StoredAuction> auction;
  std::shared_ptr<const StoredBid> bid;
  void write(JsonRowWriter& w) const {
    w.field("op", rowKindCode(kind));
    writeAuction(auction->auction, w, "auction_");
    writeBid(bid->bid, w);
  }
  uint64_t touch() const {
    return combine(touchInt(static_cast<int64_t>(kind)), combine(touchAuction(auction->auction), touchBid(bid->bid)));
  }
};

/// q4 and q6: the exact mean `sum / count` of a group's winning prices (the group is a
/// category for q4, a seller for q6; `keyColumn` names it).
struct AveragePriceRow {
  RowKind kind;
  std::string_view keyColumn;  // a string literal
  int64_t key;
  __int128 sum;  ///< exact (see PriceSum)
  int64_t count;
  void write(JsonRowWriter& w) const {
    w.field("op", rowKindCode(kind));
    w.field(keyColumn, key);
    w.fieldDouble("avg", static_cast<double>(sum) / static_cast<double>(count));
  }
  uint64_t touch() const {
    return combine(combine(touchInt(static_cast<int64_t>(kind)), touchInt(key)), combine(touchInt128(sum), touchInt(count)));
  }
};

struct Q21Row {
  int64_t auction, bidder, price;
  std::string_view channel, channelId;
  void write(JsonRowWriter& w) const {
    w.field("auction", auction);
    w.field("bidder", bidder);
    w.field("price", price);
    w.field("channel", channel);
    w.field("channel_id", channelId);
  }
  uint64_t touch() const {
    return combine(combine(touchInt(auction), touchInt(bidder)), combine(touchInt(price), combine(touchString(channel), touchString(channelId))));
  }
};

struct Q22Row {
  int64_t auction, bidder, price;
  std::string_view channel, dir1, dir2, dir3;
  int32_t parts;  // '/'-separated parts found (up to 6); a dir whose part is missing is null
  void write(JsonRowWriter& w) const {
    w.field("auction", auction);
    w.field("bidder", bidder);
    w.field("price", price);
    w.field("channel", channel);
    writeDir(w, "dir1", dir1, 4);
    writeDir(w, "dir2", dir2, 5);
    writeDir(w, "dir3", dir3, 6);
  }
  void writeDir(JsonRowWriter& w, std::string_view name, std::string_view dir, int32_t needed) const {
    if (parts >= needed) {
      w.field(name, dir);
    } else {
      w.fieldNull(name);
    }
  }
  uint64_t touch() const {
    return combine(combine(combine(touchInt(auction), touchInt(bidder)), combine(touchInt(price), touchString(channel))),
                   combine(combine(touchString(dir1), touchString(dir2)), touchString(dir3)));
  }
};

}  // namespace reka::nexmark
