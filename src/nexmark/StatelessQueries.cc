// q0, q1, q2, q13, q14, q21, q22: per-record queries, chained behind the source.
#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nexmark/Sinks.h"

namespace reka::nexmark {

namespace {
int64_t hourOfDay(int64_t ms) {
  int64_t inDay = ms % 86400000;
  if (inDay < 0) inDay += 86400000;
  return inDay / 3600000;
}

bool equalsIgnoreCase(std::string_view a, std::string_view lowerB) {
  if (a.size() != lowerB.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lowerB[i]) return false;
  }
  return true;
}

/// REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2): the value of the first channel_id
/// parameter that starts the string or follows '&'. Returns false if there is none.
bool extractChannelId(std::string_view url, std::string_view& value) {
  constexpr std::string_view kKey = "channel_id=";
  for (size_t pos = url.find(kKey); pos != std::string_view::npos; pos = url.find(kKey, pos + 1)) {
    if (pos == 0 || url[pos - 1] == '&') {
      size_t start = pos + kKey.size();
      size_t end = url.find('&', start);
      value = url.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
      return true;
    }
  }
  return false;
}
}  // namespace

std::string sideTableValue(int64_t k) { return "value-" + std::to_string(k); }

void addQ0(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  attachSink(bidsOf(events).map("q0", [](const Bid& b) { return BidRow{b}; }), o, std::move(c));
}

void addQ1(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  auto rows = bidsOf(events).map("q1", [](const Bid& b) {
    // price × 0.908 exactly: in thousandths, price × 908.
    return Q1Row{b.auction, b.bidder, b.price * 908, b.dateTime};
  });
  attachSink(rows, o, std::move(c));
}

void addQ2(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  auto rows = events.flatMap<Q2Row>("q2", [](const Event& e, Emitter<Q2Row>& out) {
    if (e.isBid() && e.bid.auction % 123 == 0) out.emit(Q2Row{e.bid.auction, e.bid.price});
  });
  attachSink(rows, o, std::move(c));
}

namespace {
/// q13's side-table join: the table arrives on the broadcast input and is read to its end
/// before the first bid (BroadcastMode::kSideInputFirst). The table is checkpointed with the
/// operator: a restored job does not read the side input again.
struct SideTableJoin {
  std::vector<std::string> table = std::vector<std::string>(10000);
  Status snapshotState(std::string& out) const {
    Serde<std::vector<std::string>>::write(table, out);
    return Status::ok();
  }
  Status restoreState(std::string_view in) {
    std::vector<std::string> restored;
    if (!Serde<std::vector<std::string>>::read(in, restored) || !in.empty() || restored.size() != table.size())
      return Status::corruption("q13: bad side table in a checkpoint");
    table = std::move(restored);
    return Status::ok();
  }
  void processBroadcastElement(const std::pair<int64_t, std::string>& row, Emitter<Q13Row>&) {
    if (row.first >= 0 && row.first < static_cast<int64_t>(table.size())) table[static_cast<size_t>(row.first)] = row.second;
  }
  void processElement(const Bid& b, Emitter<Q13Row>& out) {
    int64_t k = b.auction % 10000;
    if (k < 0) k += 10000;
    out.emit(Q13Row{b, table[static_cast<size_t>(k)]});
  }
};
}  // namespace

void addQ13(StreamEnvironment& env, const DataStream<Event>& events, const QueryJobOptions& o,
            std::shared_ptr<QueryCounters> c) {
  std::vector<std::pair<int64_t, std::string>> rows;
  rows.reserve(10000);
  for (int64_t k = 0; k < 10000; ++k) rows.emplace_back(k, sideTableValue(k));
  auto side = env.fromCollection("side-table", std::move(rows)).broadcast();
  auto bids = bidsOf(events);
  auto joined = bids.connectBroadcast<Q13Row>("q13", side, SideTableJoin{}, BroadcastMode::kSideInputFirst);
  joined.parallelism(env.jobGraph().node(bids.nodeId()).parallelism);
  attachSink(joined, o, std::move(c));
}

void addQ14(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  auto rows = events.flatMap<Q14Row>("q14", [](const Event& e, Emitter<Q14Row>& out) {
    if (!e.isBid()) return;
    const Bid& b = e.bid;
    const int64_t milli = b.price * 908;  // 0.908 × price, in thousandths
    if (milli <= 1'000'000'000 || milli >= 50'000'000'000) return;
    const int64_t hour = hourOfDay(b.dateTime);
    std::string_view type = (hour >= 8 && hour <= 18) ? "dayTime" : (hour <= 6 || hour >= 20) ? "nightTime" : "otherTime";
    int64_t cs = 0;
    for (char ch : b.extra) cs += ch == 'c';
    out.emit(Q14Row{b.auction, b.bidder, milli, type, b.dateTime, b.extra, cs});
  });
  attachSink(rows, o, std::move(c));
}

void addQ21(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  auto rows = events.flatMap<Q21Row>("q21", [](const Event& e, Emitter<Q21Row>& out) {
    if (!e.isBid()) return;
    const Bid& b = e.bid;
    std::string_view id;
    if (equalsIgnoreCase(b.channel, "apple")) {
      id = "0";
    } else if (equalsIgnoreCase(b.channel, "google")) {
      id = "1";
    } else if (equalsIgnoreCase(b.channel, "facebook")) {
      id = "2";
    } else if (equalsIgnoreCase(b.channel, "baidu")) {
      id = "3";
    } else if (!extractChannelId(b.url, id)) {
      return;  // no channel id: the query drops the row
    }
    out.emit(Q21Row{b.auction, b.bidder, b.price, b.channel, id});
  });
  attachSink(rows, o, std::move(c));
}

void addQ22(const DataStream<Event>& events, const QueryJobOptions& o, std::shared_ptr<QueryCounters> c) {
  auto rows = events.flatMap<Q22Row>("q22", [](const Event& e, Emitter<Q22Row>& out) {
    if (!e.isBid()) return;
    const Bid& b = e.bid;
    // SPLIT_INDEX(url, '/', 3..5): parts 3, 4 and 5 of the url split on '/'.
    std::array<std::string_view, 6> parts{};
    size_t count = 0, start = 0;
    std::string_view url = b.url;
    while (count < parts.size()) {
      size_t slash = url.find('/', start);
      parts[count++] = url.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    out.emit(Q22Row{b.auction, b.bidder, b.price, b.channel, parts[3], parts[4], parts[5], static_cast<int32_t>(count)});
  });
  attachSink(rows, o, std::move(c));
}

}  // namespace reka::nexmark
