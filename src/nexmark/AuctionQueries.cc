// q9 (the winning bid of each auction), and on its winners q4 (average winning price per
// category) and q6 (average of the last 10 winning prices per seller). Event time: an auction
// closes when the watermark passes its expiry; an event-time timer closes it and frees its state.
#include <algorithm>
#include <atomic>
#include <memory>
#include <tuple>
#include <utility>

#include "nexmark/Sinks.h"
#include "nexmark/StateSerde.h"

namespace reka::nexmark {

namespace {

// ---- The test hook's gauges ----

struct WinnerGauges {
  std::atomic<int64_t> openAuctions{0};
  std::atomic<int64_t> bufferedBids{0};
  std::atomic<int64_t> held{0};
  std::atomic<int64_t> peakHeld{0};
  std::atomic<int64_t> lateBids{0};
};

WinnerGauges& gauges() {
  static WinnerGauges g;
  return g;
}

/// What one winner function instance holds, mirrored into the process-wide gauges. A copy starts
/// empty (functions are copied per subtask before they hold anything); the destructor gives back
/// what is still held, so that a cancelled job leaves the gauges right.
class HeldState {
 public:
  HeldState() = default;
  HeldState(const HeldState&) {}
  HeldState& operator=(const HeldState&) = delete;
  ~HeldState() { add(-auctions_, -bids_); }

  void add(int64_t auctions, int64_t bids) {
    if (auctions == 0 && bids == 0) return;
    auctions_ += auctions;
    bids_ += bids;
    WinnerGauges& g = gauges();
    g.openAuctions.fetch_add(auctions, std::memory_order_relaxed);
    g.bufferedBids.fetch_add(bids, std::memory_order_relaxed);
    const int64_t now =
        g.held.fetch_add(auctions + bids, std::memory_order_relaxed) + auctions + bids;
    int64_t peak = g.peakHeld.load(std::memory_order_relaxed);
    while (now > peak && !g.peakHeld.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }
  void lateBid() { gauges().lateBids.fetch_add(1, std::memory_order_relaxed); }

 private:
  int64_t auctions_ = 0;
  int64_t bids_ = 0;
};

// ---- q9: per auction, the winning bid ----

/// Whether `b` beats `best`: the higher price, then the earlier dateTime, then the lower bidder,
/// then the smaller (channel, url, extra), so that the winner never depends on arrival order.
bool beats(const Bid& b, const Bid& best) {
  if (b.price != best.price) return b.price > best.price;
  if (b.dateTime != best.dateTime) return b.dateTime < best.dateTime;
  if (b.bidder != best.bidder) return b.bidder < best.bidder;
  return std::tie(b.channel, b.url, b.extra) < std::tie(best.channel, best.url, best.extra);
}

bool inWindow(const Auction& a, const Bid& b) {
  return a.dateTime <= b.dateTime && b.dateTime <= a.expires;
}

// Flink's SQL q9 is an updating query: it emits the best bid so far and retracts it (-U/+U)
// whenever a better one arrives. Reka emits each auction's result once, when the watermark passes
// its expiry, and no valid bid can arrive after that (one would be more than the 4 s bound out of
// order: late). So the changelog is the same final table with no intermediate versions: every
// row is +I and no -U ever follows. An auction without a valid bid emits nothing.
//
// State is bounded by the watermark. An auction's state is cleared when its expiry timer fires.
// A bid whose auction has not come is buffered with a timer at its own dateTime: once the
// watermark passes it, an auction it could belong to (dateTime <= the bid's) would be late, so
// the bid is dropped. A bid already behind the watermark with no auction open (its auction has
// closed, or would be late) is counted as late and dropped.
struct Q9Winners {
  ValueState<int64_t, AuctionBook> book;
  HeldState held;

  void open(KeyedStateRegistry<int64_t>& r) { book = r.valueState<AuctionBook>("book"); }

  void processElement1(const Auction& a, KeyedContext<int64_t, AuctionWinnerRow>& ctx) {
    AuctionBook& s = book.getOrCreate();
    if (s.auction) return;  // ids are unique; a repeated auction is ignored
    s.auction = StoredAuction::make(a);
    const auto drained = static_cast<int64_t>(s.early.size());
    // The early bids' timers go first: one of them may share the expiry's timestamp.
    for (auto& b : s.early) {
      ctx.timerService().deleteEventTimeTimer(b->bid.dateTime);
      if (inWindow(a, b->bid) && (!s.best || beats(b->bid, s.best->bid))) s.best = std::move(b);
    }
    s.early = {};
    ctx.timerService().registerEventTimeTimer(a.expires);
    held.add(1, -drained);
  }

  void processElement2(const Bid& b, KeyedContext<int64_t, AuctionWinnerRow>& ctx) {
    AuctionBook* s = book.get();
    if (s != nullptr && s->auction) {
      if (inWindow(s->auction->auction, b) && (!s->best || beats(b, s->best->bid)))
        s->best = StoredBid::make(b);
      return;
    }
    if (b.dateTime <= ctx.currentWatermark()) {
      held.lateBid();
      ctx.countLateRecord();
      return;
    }
    if (s == nullptr) s = &book.getOrCreate();
    s->early.push_back(StoredBid::make(b));
    ctx.timerService().registerEventTimeTimer(b.dateTime);
    held.add(0, 1);
  }

  void onTimer(int64_t ts, KeyedContext<int64_t, AuctionWinnerRow>& ctx) {
    AuctionBook* s = book.get();
    if (s == nullptr) return;
    if (s->auction) {
      if (ts < s->auction->auction.expires) return;
      if (s->best) ctx.emit(AuctionWinnerRow{RowKind::kInsert, s->auction, s->best});
      book.clear();
      held.add(-1, 0);
      return;
    }
    const int64_t watermark = ctx.currentWatermark();
    const auto before = static_cast<int64_t>(s->early.size());
    std::erase_if(s->early, [watermark](const auto& b) { return b->bid.dateTime <= watermark; });
    held.add(0, static_cast<int64_t>(s->early.size()) - before);
    if (s->early.empty()) book.clear();
  }
};

/// q9's winners: auctions ⋈ bids keyed by auction id, one row per auction with a valid bid.
DataStream<AuctionWinnerRow> auctionWinners(const DataStream<Event>& events) {
  auto auctions = events.flatMap<Auction>("auctions", [](const Event& e, Emitter<Auction>& out) {
    if (e.isAuction()) out.emit(e.auction);
  });
  return auctions.keyBy([](const Auction& a) { return a.id; })
      .connect(bidsOf(events).keyBy([](const Bid& b) { return b.auction; }))
      .process<AuctionWinnerRow>("auction-winners", Q9Winners{});
}

// ---- q4: per category, the average winning price ----

struct Q4Average {
  ValueState<int64_t, CountSum> total;

  void open(KeyedStateRegistry<int64_t>& r) { total = r.valueState<CountSum>("total"); }
  void processElement(const AuctionWinnerRow& w, KeyedContext<int64_t, AveragePriceRow>& ctx) {
    CountSum& s = total.getOrCreate();
    const int64_t category = ctx.currentKey();
    if (s.count > 0)
      ctx.emit(AveragePriceRow{RowKind::kUpdateBefore, "category", category, s.sum, s.count});
    ++s.count;
    s.sum += w.bid->bid.price;
    ctx.emit(AveragePriceRow{s.count == 1 ? RowKind::kInsert : RowKind::kUpdateAfter, "category",
                             category, s.sum, s.count});
  }
};

// ---- q6: per seller, the average of the last 10 winning prices ----

// "Last" is in the order auctions close: by expiry, ties to the lower auction id. Winners of one
// seller come from several q9 subtasks in any interleaving, so they wait here until the watermark
// passes their expiry (it does so right after they arrive: q9 emits a winner just before it
// forwards that watermark) and are applied sorted. The result does not depend on parallelism.
// Only a winner of an auction that was itself late may arrive behind the watermark; it is
// applied at the next watermark, after winners that closed later.
struct Q6Average {
  ValueState<int64_t, SellerWinners> seller;

  void open(KeyedStateRegistry<int64_t>& r) { seller = r.valueState<SellerWinners>("seller"); }
  void processElement(const AuctionWinnerRow& w, KeyedContext<int64_t, AveragePriceRow>& ctx) {
    const Auction& a = w.auction->auction;
    seller.getOrCreate().pending.push_back(PendingWinner{a.expires, a.id, w.bid->bid.price});
    ctx.timerService().registerEventTimeTimer(a.expires);
  }
  void onTimer(int64_t, KeyedContext<int64_t, AveragePriceRow>& ctx) {
    SellerWinners* s = seller.get();
    if (s == nullptr) return;
    const int64_t watermark = ctx.currentWatermark();
    auto due =
        std::partition(s->pending.begin(), s->pending.end(),
                       [watermark](const PendingWinner& p) { return p.expires <= watermark; });
    std::sort(s->pending.begin(), due, [](const PendingWinner& x, const PendingWinner& y) {
      return std::tie(x.expires, x.auction) < std::tie(y.expires, y.auction);
    });
    const int64_t key = ctx.currentKey();
    for (auto it = s->pending.begin(); it != due; ++it) {
      const size_t slot = static_cast<size_t>(s->applied % kLastWinners);
      if (s->applied > 0) {
        ctx.emit(AveragePriceRow{RowKind::kUpdateBefore, "seller", key, s->sum,
                                 std::min(s->applied, kLastWinners)});
      }
      if (s->applied >= kLastWinners) s->sum -= s->last[slot];
      s->last[slot] = it->price;
      s->sum += it->price;
      ++s->applied;
      ctx.emit(AveragePriceRow{s->applied == 1 ? RowKind::kInsert : RowKind::kUpdateAfter, "seller",
                               key, s->sum, std::min(s->applied, kLastWinners)});
    }
    s->pending.erase(s->pending.begin(), due);
  }
};

}  // namespace

AuctionWinnerStats auctionWinnerStatsForTesting() {
  const WinnerGauges& g = gauges();
  AuctionWinnerStats stats;
  stats.openAuctions = g.openAuctions.load(std::memory_order_relaxed);
  stats.bufferedBids = g.bufferedBids.load(std::memory_order_relaxed);
  stats.peakHeld = g.peakHeld.load(std::memory_order_relaxed);
  stats.lateBids = g.lateBids.load(std::memory_order_relaxed);
  return stats;
}

void resetAuctionWinnerStatsForTesting() {
  WinnerGauges& g = gauges();
  g.peakHeld.store(g.held.load(std::memory_order_relaxed), std::memory_order_relaxed);
  g.lateBids.store(0, std::memory_order_relaxed);
}

void addQ4(const DataStream<Event>& events, const QueryJobOptions& o,
           std::shared_ptr<QueryCounters> c) {
  auto rows = auctionWinners(events)
                  .keyBy([](const AuctionWinnerRow& w) { return w.auction->auction.category; })
                  .process<AveragePriceRow>("q4", Q4Average{});
  attachSink(rows, o, std::move(c));
}

void addQ6(const DataStream<Event>& events, const QueryJobOptions& o,
           std::shared_ptr<QueryCounters> c) {
  auto rows = auctionWinners(events)
                  .keyBy([](const AuctionWinnerRow& w) { return w.auction->auction.seller; })
                  .process<AveragePriceRow>("q6", Q6Average{});
  attachSink(rows, o, std::move(c));
}

void addQ9(const DataStream<Event>& events, const QueryJobOptions& o,
           std::shared_ptr<QueryCounters> c) {
  attachSink(auctionWinners(events), o, std::move(c));
}

}  // namespace reka::nexmark
