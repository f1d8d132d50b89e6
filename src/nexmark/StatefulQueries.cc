// q3, q15, q17, q18, q19, q20: keyed queries with state in key groups. Updating queries emit
// Flink-style changelog rows (+I, -U, +U, -D).
#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "nexmark/Sinks.h"
#include "nexmark/StateSerde.h"

namespace reka::nexmark {

namespace {

int tierOf(int64_t price) { return price < 10000 ? 1 : price < 1000000 ? 2 : 3; }

// ---- q3: auctions of category 10 ⋈ persons in OR, ID, CA on seller = id (append-only) ----

struct Q3Join {
  ValueState<int64_t, PersonInfo> person;
  ListState<int64_t, int64_t> pendingAuctions;

  void open(KeyedStateRegistry<int64_t>& r) {
    person = r.valueState<PersonInfo>("person");
    pendingAuctions = r.listState<int64_t>("pending-auctions");
  }
  void processElement1(const Auction& a, KeyedContext<int64_t, Q3Row>& ctx) {
    if (const PersonInfo* p = person.get()) {
      if (p->matches) ctx.emit(Q3Row{p->name, p->city, p->state, a.id});
      return;
    }
    pendingAuctions.add(a.id);
  }
  void processElement2(const Person& p, KeyedContext<int64_t, Q3Row>& ctx) {
    PersonInfo info;
    info.matches = p.state == "OR" || p.state == "ID" || p.state == "CA";
    if (info.matches) {
      info.name = p.name;
      info.city = p.city;
      info.state = p.state;
      for (int64_t id : pendingAuctions.get()) ctx.emit(Q3Row{info.name, info.city, info.state, id});
    }
    pendingAuctions.clear();
    person.update(std::move(info));
  }
};

// ---- q15: per day, bid counts and distinct bidders/auctions, in total and per price tier ----

struct Q15Agg {
  ValueState<int64_t, DayState> day;
  void open(KeyedStateRegistry<int64_t>& r) { day = r.valueState<DayState>("day"); }
  void processElement(const Bid& b, KeyedContext<int64_t, Q15Row>& ctx) {
    const bool existed = day.contains();
    DayState& s = day.getOrCreate();
    const DayCounts before = s.counts;
    const int tier = tierOf(b.price);
    DayCounts& c = s.counts;
    ++c.totalBids;
    (tier == 1 ? c.rank1Bids : tier == 2 ? c.rank2Bids : c.rank3Bids)++;
    if (s.bidders[0].insert(b.bidder).second) ++c.totalBidders;
    if (s.bidders[tier].insert(b.bidder).second) (tier == 1 ? c.rank1Bidders : tier == 2 ? c.rank2Bidders : c.rank3Bidders)++;
    if (s.auctions[0].insert(b.auction).second) ++c.totalAuctions;
    if (s.auctions[tier].insert(b.auction).second)
      (tier == 1 ? c.rank1Auctions : tier == 2 ? c.rank2Auctions : c.rank3Auctions)++;
    const int64_t d = ctx.currentKey();
    if (existed) {
      ctx.emit(Q15Row{RowKind::kUpdateBefore, d, before});
      ctx.emit(Q15Row{RowKind::kUpdateAfter, d, c});
    } else {
      ctx.emit(Q15Row{RowKind::kInsert, d, c});
    }
  }
};

// ---- q17: per (auction, day), counts and price statistics ----

using AuctionDay = std::pair<int64_t, int64_t>;

struct Q17Agg {
  ValueState<AuctionDay, AuctionDayStats> stats;
  void open(KeyedStateRegistry<AuctionDay>& r) { stats = r.valueState<AuctionDayStats>("stats"); }
  static Q17Row row(RowKind k, const AuctionDay& key, const AuctionDayStats& s) {
    return Q17Row{k, key.first, key.second, s.totalBids, s.rank1Bids, s.rank2Bids, s.rank3Bids, s.minPrice, s.maxPrice, s.sumPrice};
  }
  void processElement(const Bid& b, KeyedContext<AuctionDay, Q17Row>& ctx) {
    const bool existed = stats.contains();
    AuctionDayStats& s = stats.getOrCreate();
    const AuctionDayStats before = s;
    const int tier = tierOf(b.price);
    if (s.totalBids == 0) {
      s.minPrice = b.price;
      s.maxPrice = b.price;
    } else {
      s.minPrice = std::min(s.minPrice, b.price);
      s.maxPrice = std::max(s.maxPrice, b.price);
    }
    ++s.totalBids;
    (tier == 1 ? s.rank1Bids : tier == 2 ? s.rank2Bids : s.rank3Bids)++;
    s.sumPrice += b.price;
    if (existed) ctx.emit(row(RowKind::kUpdateBefore, ctx.currentKey(), before));
    ctx.emit(row(existed ? RowKind::kUpdateAfter : RowKind::kInsert, ctx.currentKey(), s));
  }
};

// ---- q18: per (bidder, auction), the last bid by dateTime ----

using BidderAuction = std::pair<int64_t, int64_t>;

struct Q18Last {
  ValueState<BidderAuction, std::shared_ptr<const StoredBid>> last;
  void open(KeyedStateRegistry<BidderAuction>& r) { last = r.valueState<std::shared_ptr<const StoredBid>>("last"); }
  void processElement(const Bid& b, KeyedContext<BidderAuction, RankedBidRow>& ctx) {
    std::shared_ptr<const StoredBid>* current = last.get();
    if (current == nullptr) {
      auto stored = StoredBid::make(b);
      ctx.emit(RankedBidRow{RowKind::kInsert, stored, 0});
      last.update(std::move(stored));
      return;
    }
    if (b.dateTime < (*current)->bid.dateTime) return;  // an older bid does not replace the last one
    auto stored = StoredBid::make(b);
    ctx.emit(RankedBidRow{RowKind::kUpdateBefore, std::move(*current), 0});
    ctx.emit(RankedBidRow{RowKind::kUpdateAfter, stored, 0});
    *current = std::move(stored);
  }
};

// ---- q19: per auction, the 10 highest bids with their rank ----

constexpr size_t kTopN = 10;

struct Q19TopN {
  ValueState<int64_t, std::vector<std::shared_ptr<const StoredBid>>> top;
  void open(KeyedStateRegistry<int64_t>& r) { top = r.valueState<std::vector<std::shared_ptr<const StoredBid>>>("top"); }
  void processElement(const Bid& b, KeyedContext<int64_t, RankedBidRow>& ctx) {
    auto& list = top.getOrCreate();
    // Position after every bid with a price >= b.price (ties: the earlier bid keeps its rank).
    size_t pos = 0;
    while (pos < list.size() && list[pos]->bid.price >= b.price) ++pos;
    if (pos >= kTopN) return;
    const size_t oldSize = list.size();
    // The rows of ranks pos+1..oldSize change bid. Top-N only grows, so every retraction is an
    // update of a rank that still exists (no -D), and ranks beyond oldSize are inserted.
    for (size_t i = pos; i < oldSize; ++i) ctx.emit(RankedBidRow{RowKind::kUpdateBefore, list[i], static_cast<int64_t>(i + 1)});
    list.insert(list.begin() + static_cast<std::ptrdiff_t>(pos), StoredBid::make(b));
    if (list.size() > kTopN) list.pop_back();
    for (size_t i = pos; i < list.size(); ++i) {
      ctx.emit(RankedBidRow{i < oldSize ? RowKind::kUpdateAfter : RowKind::kInsert, list[i], static_cast<int64_t>(i + 1)});
    }
  }
};

// ---- q20: bids ⋈ auctions of category 10 on auction = id (append-only) ----

struct Q20Join {
  ValueState<int64_t, AuctionSlot> auction;
  ListState<int64_t, std::shared_ptr<const StoredBid>> pendingBids;

  void open(KeyedStateRegistry<int64_t>& r) {
    auction = r.valueState<AuctionSlot>("auction");
    pendingBids = r.listState<std::shared_ptr<const StoredBid>>("pending-bids");
  }
  void processElement1(const Bid& b, KeyedContext<int64_t, Q20Row>& ctx) {
    if (const AuctionSlot* slot = auction.get()) {
      if (slot->auction) ctx.emit(Q20Row{b, nullptr, slot->auction});
      return;
    }
    pendingBids.add(StoredBid::make(b));
  }
  void processElement2(const Auction& a, KeyedContext<int64_t, Q20Row>& ctx) {
    AuctionSlot slot;
    slot.seen = true;
    if (a.category == 10) {
      slot.auction = StoredAuction::make(a);
      for (const auto& sb : pendingBids.get()) ctx.emit(Q20Row{sb->bid, sb, slot.auction});
    }
    pendingBids.clear();
    auction.update(std::move(slot));
  }
};

}  // namespace

void addQ3(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  auto auctions = events.flatMap<Auction>("auctions-category-10", [](const Event& e, Emitter<Auction>& out) {
    if (e.isAuction() && e.auction.category == 10) out.emit(e.auction);
  });
  auto persons = events.flatMap<Person>("persons", [](const Event& e, Emitter<Person>& out) {
    if (e.isPerson()) out.emit(e.person);
  });
  auto rows = auctions.keyBy([](const Auction& a) { return a.seller; })
                  .connect(persons.keyBy([](const Person& p) { return p.id; }))
                  .process<Q3Row>("q3", Q3Join{});
  attachSink(rows, o, std::move(c));
}

void addQ15(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  auto rows = bidsOf(events).keyBy([](const Bid& b) { return epochDayOf(b.dateTime); }).process<Q15Row>("q15", Q15Agg{});
  attachSink(rows, o, std::move(c));
}

void addQ17(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  auto rows = bidsOf(events)
                  .keyBy([](const Bid& b) { return AuctionDay{b.auction, epochDayOf(b.dateTime)}; })
                  .process<Q17Row>("q17", Q17Agg{});
  attachSink(rows, o, std::move(c));
}

void addQ18(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  auto rows = bidsOf(events)
                  .keyBy([](const Bid& b) { return BidderAuction{b.bidder, b.auction}; })
                  .process<RankedBidRow>("q18", Q18Last{});
  attachSink(rows, o, std::move(c));
}

void addQ19(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  auto rows = bidsOf(events).keyBy([](const Bid& b) { return b.auction; }).process<RankedBidRow>("q19", Q19TopN{});
  attachSink(rows, o, std::move(c));
}

void addQ20(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  auto auctions = events.flatMap<Auction>("auctions", [](const Event& e, Emitter<Auction>& out) {
    if (e.isAuction()) out.emit(e.auction);
  });
  auto rows = bidsOf(events)
                  .keyBy([](const Bid& b) { return b.auction; })
                  .connect(auctions.keyBy([](const Auction& a) { return a.id; }))
                  .process<Q20Row>("q20", Q20Join{});
  attachSink(rows, o, std::move(c));
}

}  // namespace reka::nexmark
