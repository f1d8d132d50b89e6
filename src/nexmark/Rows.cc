#include "nexmark/Rows.h"

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace reka::nexmark {

std::string formatDay(int64_t epochDay) {
  std::string out;
  appendDate(epochDay, out);
  return out;
}

namespace {
/// Allocates a T followed by `extra` bytes in one shared block; returns the T (uninitialised
/// bytes) and where the extra bytes start. T must be trivially destructible.
template <class T>
std::pair<std::shared_ptr<T>, char*> allocateWithTail(size_t extra) {
  static_assert(std::is_trivially_destructible_v<T>);
  const size_t units = (sizeof(T) + extra + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
  std::shared_ptr<std::max_align_t[]> block = std::make_shared_for_overwrite<std::max_align_t[]>(units);
  T* object = new (block.get()) T{};
  char* tail = reinterpret_cast<char*>(block.get()) + sizeof(T);
  return {std::shared_ptr<T>(std::move(block), object), tail};
}

std::string_view copyTo(char*& cursor, std::string_view s) {
  if (!s.empty()) std::memcpy(cursor, s.data(), s.size());  // an empty view may have a null data()
  std::string_view view(cursor, s.size());
  cursor += s.size();
  return view;
}
}  // namespace

std::shared_ptr<const StoredBid> StoredBid::make(const Bid& b) {
  auto [stored, tail] = allocateWithTail<StoredBid>(b.channel.size() + b.url.size() + b.extra.size());
  stored->bid = b;
  stored->bid.channel = copyTo(tail, b.channel);
  stored->bid.url = copyTo(tail, b.url);
  stored->bid.extra = copyTo(tail, b.extra);
  return stored;
}

std::shared_ptr<const StoredAuction> StoredAuction::make(const Auction& a) {
  auto [stored, tail] = allocateWithTail<StoredAuction>(a.itemName.size() + a.description.size() + a.extra.size());
  stored->auction = a;
  stored->auction.itemName = copyTo(tail, a.itemName);
  stored->auction.description = copyTo(tail, a.description);
  stored->auction.extra = copyTo(tail, a.extra);
  return stored;
}

void writeBid(const Bid& b, JsonRowWriter& w) {
  w.field("auction", b.auction);
  w.field("bidder", b.bidder);
  w.field("price", b.price);
  w.field("channel", b.channel);
  w.field("url", b.url);
  w.field("dateTime", b.dateTime);
  w.field("extra", b.extra);
}

uint64_t touchBid(const Bid& b) {
  return combine(combine(combine(touchInt(b.auction), touchInt(b.bidder)), combine(touchInt(b.price), touchString(b.channel))),
                 combine(combine(touchString(b.url), touchInt(b.dateTime)), touchString(b.extra)));
}

void writeAuction(const Auction& a, JsonRowWriter& w, std::string_view prefix) {
  auto name = [&](std::string_view n) { return std::string(prefix).append(n); };
  w.field(name("id"), a.id);
  w.field(name("itemName"), a.itemName);
  w.field(name("description"), a.description);
  w.field(name("initialBid"), a.initialBid);
  w.field(name("reserve"), a.reserve);
  w.field(name("dateTime"), a.dateTime);
  w.field(name("expires"), a.expires);
  w.field(name("seller"), a.seller);
  w.field(name("category"), a.category);
  w.field(name("extra"), a.extra);
}

uint64_t touchAuction(const Auction& a) {
  uint64_t h = combine(touchInt(a.id), touchString(a.itemName));
  h = combine(h, touchString(a.description));
  h = combine(h, combine(touchInt(a.initialBid), touchInt(a.reserve)));
  h = combine(h, combine(touchInt(a.dateTime), touchInt(a.expires)));
  h = combine(h, combine(touchInt(a.seller), touchInt(a.category)));
  return combine(h, touchString(a.extra));
}

void DayCounts::write(JsonRowWriter& w) const {
  w.field("total_bids", totalBids);
  w.field("rank1_bids", rank1Bids);
  w.field("rank2_bids", rank2Bids);
  w.field("rank3_bids", rank3Bids);
  w.field("total_bidders", totalBidders);
  w.field("rank1_bidders", rank1Bidders);
  w.field("rank2_bidders", rank2Bidders);
  w.field("rank3_bidders", rank3Bidders);
  w.field("total_auctions", totalAuctions);
  w.field("rank1_auctions", rank1Auctions);
  w.field("rank2_auctions", rank2Auctions);
  w.field("rank3_auctions", rank3Auctions);
}

uint64_t DayCounts::touch() const {
  const int64_t v[] = {totalBids, rank1Bids, rank2Bids, rank3Bids, totalBidders, rank1Bidders,
                       rank2Bidders, rank3Bidders, totalAuctions, rank1Auctions, rank2Auctions, rank3Auctions};
  uint64_t h = 0;
  for (int64_t x : v) h = combine(h, touchInt(x));
  return h;
}

void Q17Row::write(JsonRowWriter& w) const {
  w.field("op", rowKindCode(kind));
  w.field("auction", auction);
  w.field("day", formatDay(day));
  w.field("total_bids", totalBids);
  w.field("rank1_bids", rank1Bids);
  w.field("rank2_bids", rank2Bids);
  w.field("rank3_bids", rank3Bids);
  w.field("min_price", minPrice);
  w.field("max_price", maxPrice);
  w.fieldDouble("avg_price", static_cast<double>(sumPrice) / static_cast<double>(totalBids));
  w.fieldInt128("sum_price", sumPrice);
}

uint64_t Q17Row::touch() const {
  const int64_t v[] = {static_cast<int64_t>(kind), auction, day, totalBids, rank1Bids, rank2Bids,
                       rank3Bids, minPrice, maxPrice};
  uint64_t h = 0;
  for (int64_t x : v) h = combine(h, touchInt(x));
  return combine(h, touchInt128(sumPrice));
}

}  // namespace reka::nexmark
