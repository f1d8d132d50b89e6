#pragma once

// Rows and entry points of the windowed NEXMark queries (q5, q7, q8, q11, q12).

#include <memory>

#include "nexmark/Rows.h"
#include "nexmark/QueryJob.h"

namespace reka::nexmark {

/// q5: an auction with the window's highest bid count.
struct Q5Row {
  int64_t auction, num, windowStart, windowEnd;
  void write(JsonRowWriter& w) const {
    w.field("auction", auction);
    w.field("num", num);
    w.field("window_start", windowStart);
    w.field("window_end", windowEnd);
  }
  uint64_t touch() const { return combine(combine(touchInt(auction), touchInt(num)), combine(touchInt(windowStart), touchInt(windowEnd))); }
};

/// q7: a bid with its window's highest price.
struct Q7Row {
  std::shared_ptr<const StoredBid> bid;
  int64_t windowEnd;
  void write(JsonRowWriter& w) const {
    w.field("auction", bid->bid.auction);
    w.field("bidder", bid->bid.bidder);
    w.field("price", bid->bid.price);
    w.field("dateTime", bid->bid.dateTime);
    w.field("window_end", windowEnd);
  }
  uint64_t touch() const {
    const Bid& b = bid->bid;
    return combine(combine(combine(touchInt(b.auction), touchInt(b.bidder)), touchInt(b.price)),
                   combine(touchInt(b.dateTime), touchInt(windowEnd)));
  }
};

/// q8: a person who created an auction in the window.
struct Q8Row {
  int64_t id;
  std::shared_ptr<const std::string> name;
  int64_t windowStart;
  void write(JsonRowWriter& w) const {
    w.field("id", id);
    w.field("name", *name);
    w.field("window_start", windowStart);
  }
  uint64_t touch() const { return combine(combine(touchInt(id), touchString(*name)), touchInt(windowStart)); }
};

/// q11 and q12: a bid count per bidder and window.
struct BidderWindowRow {
  int64_t bidder, bidCount, windowStart, windowEnd;
  void write(JsonRowWriter& w) const {
    w.field("bidder", bidder);
    w.field("bid_count", bidCount);
    w.field("window_start", windowStart);
    w.field("window_end", windowEnd);
  }
  uint64_t touch() const {
    return combine(combine(touchInt(bidder), touchInt(bidCount)), combine(touchInt(windowStart), touchInt(windowEnd)));
  }
};

void addQ5(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ7(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ8(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ11(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);
void addQ12(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c);

}  // namespace reka::nexmark
