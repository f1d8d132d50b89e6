// NEXMark queries over event-time and processing-time windows: q5, q7, q11, q12 (q8 is in
// JoinQueries). Windows are epoch-aligned and half-open, fire when the watermark (dateTime,
// 4 s bounded out-of-orderness) passes end − 1, and all fire at the end of a bounded input.

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "nexmark/Sinks.h"
#include "nexmark/StateSerde.h"
#include "nexmark/WindowedRows.h"
#include "reka/api/Joins.h"

namespace reka::nexmark {

using namespace std::chrono_literals;

namespace {

auto bidTime = [](const Bid& b) { return b.dateTime; };

/// `windowed` with its late records sent to `tag` when the job has a late-data output.
template <class W, class T>
W lateTo(W windowed, const OutputTag<T>& tag, const QueryJobOptions& o) {
  return o.lateOutputPath.empty() ? windowed : windowed.sideOutputLateData(tag);
}

/// The late records of `stream` (tagged by lateTo) into the late-data output.
template <class S, class T>
void attachLate(const S& stream, const OutputTag<T>& tag, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  if (!o.lateOutputPath.empty()) attachLateSink(stream.sideOutput(tag), o, std::move(c));
}

/// count(*) as a window aggregate.
template <class T>
struct CountAgg {
  int64_t createAccumulator() const { return 0; }
  void add(const T&, int64_t& acc) const { ++acc; }
  void merge(const int64_t& from, int64_t& into) const { into += from; }
  int64_t getResult(const int64_t& acc) const { return acc; }
};

// ---- q5: hot items. HOP(10 s, 2 s) counts per auction, then per window the auctions with the
// highest count. Stage 2 is keyed by window end and fires on an event-time timer at end − 1:
// every stage-1 result of a window arrives before the watermark that passes its end.

struct Q5MaxPerWindow {
  ValueState<int64_t, HotAuctions> best;
  void open(KeyedStateRegistry<int64_t>& r) { best = r.valueState<HotAuctions>("best"); }
  void processElement(const AuctionCount& c, KeyedContext<int64_t, Q5Row>& ctx) {
    HotAuctions* b = best.get();
    if (b == nullptr) {
      b = &best.getOrCreate();
      b->start = c.window.start;
      ctx.timerService().registerEventTimeTimer(c.window.maxTimestamp());
    }
    if (c.value > b->max) {
      b->max = c.value;
      b->auctions.clear();
    }
    if (c.value == b->max) b->auctions.push_back(c.key);
  }
  void onTimer(int64_t, KeyedContext<int64_t, Q5Row>& ctx) {
    const HotAuctions* b = best.get();
    if (b == nullptr) return;
    for (int64_t auction : b->auctions) ctx.emit(Q5Row{auction, b->max, b->start, ctx.currentKey()});
    best.clear();
  }
};

// ---- q7: highest bids. TUMBLE(10 s): the window's highest price and every bid that has it.
// Two phases, like Flink's local-global aggregation: per window and bucket of auctions the
// highest price and its bids, then per window the maximum over the buckets. The query groups by
// window only; keying the first phase by auction (one accumulator per auction, nearly all new:
// about 90 MB of state a second at R = 10 M/s) bought nothing but state to check and copy.
// 1024 buckets of consecutive auction ids spread the bids over every key group.

constexpr int64_t kQ7Buckets = 1024;

struct MaxBidsAgg {
  MaxBids createAccumulator() const { return {}; }
  /// False when the bid is below the maximum (most bids): the accumulator is unchanged, so it
  /// stays out of the next incremental checkpoint.
  bool add(const Bid& b, MaxBids& acc) const {
    if (b.price < acc.price) return false;
    if (b.price > acc.price) {
      acc.price = b.price;
      acc.bids.clear();
    }
    acc.bids.push_back(StoredBid::make(b));
    return true;
  }
  void merge(const MaxBids& from, MaxBids& into) const {
    if (from.price < into.price) return;
    if (from.price > into.price) into = from;
    else into.bids.insert(into.bids.end(), from.bids.begin(), from.bids.end());
  }
  const MaxBids& getResult(const MaxBids& acc) const { return acc; }
};

using BucketMax = WindowResult<int64_t, MaxBids>;

struct Q7MaxPerWindow {
  ValueState<int64_t, MaxBids> best;
  void open(KeyedStateRegistry<int64_t>& r) { best = r.valueState<MaxBids>("best"); }
  void processElement(const BucketMax& m, KeyedContext<int64_t, Q7Row>& ctx) {
    MaxBids* b = best.get();
    if (b == nullptr) {
      b = &best.getOrCreate();
      ctx.timerService().registerEventTimeTimer(m.window.maxTimestamp());
    }
    MaxBidsAgg{}.merge(m.value, *b);
  }
  void onTimer(int64_t, KeyedContext<int64_t, Q7Row>& ctx) {
    const MaxBids* b = best.get();
    if (b == nullptr) return;
    for (const auto& bid : b->bids) ctx.emit(Q7Row{bid, ctx.currentKey()});
    best.clear();
  }
};

}  // namespace

void addQ5(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  OutputTag<Bid> late("q5-late-bids");
  auto counts = lateTo(bidsOf(events)
                           .keyBy([](const Bid& b) { return b.auction; })
                           .window(SlidingWindows::eventTime(10s, 2s), bidTime),
                       late, o)
                    .aggregate("q5-count", CountAgg<Bid>{});
  attachLate(counts, late, o, c);
  auto rows = counts.keyBy([](const AuctionCount& r) { return r.window.end; })
                  .process<Q5Row>("q5-max", Q5MaxPerWindow{});
  attachSink(rows, o, std::move(c));
}

void addQ7(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  OutputTag<Bid> late("q7-late-bids");
  auto maxima = lateTo(bidsOf(events)
                           .keyBy([](const Bid& b) { return b.auction % kQ7Buckets; })
                           .window(TumblingWindows::eventTime(10s), bidTime),
                       late, o)
                    .aggregate("q7-max-per-bucket", MaxBidsAgg{});
  attachLate(maxima, late, o, c);
  auto rows = maxima.keyBy([](const BucketMax& r) { return r.window.end; })
                  .process<Q7Row>("q7-max", Q7MaxPerWindow{});
  attachSink(rows, o, std::move(c));
}

void addQ8(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  // Persons, owning their name (they wait in window state).
  auto persons = events.flatMap<PersonRef>("persons", [](const Event& e, Emitter<PersonRef>& out) {
    if (e.isPerson()) out.emit(PersonRef{e.person.id, std::make_shared<const std::string>(e.person.name), e.person.dateTime});
  });
  // Sellers per window (one row per seller and window, like the SQL's GROUP BY), joined with
  // the persons of the same window on id = seller.
  OutputTag<Auction> late("q8-late-auctions");
  auto sellers = lateTo(events
                            .flatMap<Auction>("auctions", [](const Event& e, Emitter<Auction>& out) {
                              if (e.isAuction()) out.emit(e.auction);
                            })
                            .keyBy([](const Auction& a) { return a.seller; })
                            .window(TumblingWindows::eventTime(10s), [](const Auction& a) { return a.dateTime; }),
                        late, o)
                     .aggregate("q8-sellers", CountAgg<Auction>{});
  attachLate(sellers, late, o, c);
  auto rows = windowJoin<Q8Row>(
      "q8-join", persons.keyBy([](const PersonRef& p) { return p.id; }),
      sellers.keyBy([](const AuctionCount& s) { return s.key; }), [](const PersonRef& p) { return p.dateTime; },
      [](const AuctionCount& s) { return s.window.start; }, TumblingWindows::eventTime(10s),
      [](const PersonRef& p, const AuctionCount&, const TimeWindow& w, Emitter<Q8Row>& out) {
        out.emit(Q8Row{p.id, p.name, w.start});
      });
  attachSink(rows, o, std::move(c));
}

void addQ11(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  OutputTag<Bid> late("q11-late-bids");
  auto sessions = lateTo(bidsOf(events).keyBy([](const Bid& b) { return b.bidder; }).window(SessionWindows::withGap(10s), bidTime),
                         late, o)
                      .aggregate("q11-sessions", CountAgg<Bid>{});
  attachLate(sessions, late, o, c);
  auto rows = sessions.map("q11-rows", [](const AuctionCount& r) {
                    return BidderWindowRow{r.key, r.value, r.window.start, r.window.end};
                  });
  attachSink(rows, o, std::move(c));
}

void addQ12(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  auto rows = bidsOf(events)
                  .keyBy([](const Bid& b) { return b.bidder; })
                  .window(TumblingWindows::processingTime(10s))
                  .aggregate("q12-count", CountAgg<Bid>{})
                  .map("q12-rows", [](const AuctionCount& r) {
                    return BidderWindowRow{r.key, r.value, r.window.start, r.window.end};
                  });
  attachSink(rows, o, std::move(c));
}

}  // namespace reka::nexmark
