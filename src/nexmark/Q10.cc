// q10: every bid with its UTC day and minute, written to files partitioned by day and minute
// (Flink's q10 writes them through a filesystem sink partitioned by dt and hm). Chained behind
// the source; with --output-dir the partitions are directories `dt=yyyy-MM-dd/hm=HH-mm` (no ':'
// in file names), committed at every checkpoint (Flink's suite commits every minute) or at the
// end of input.
#include <string>

#include "nexmark/Sinks.h"

namespace reka::nexmark {

namespace {

constexpr int64_t kMillisPerDay = 86400000;

/// Appends the two digits of 0 <= v < 100.
void appendTwoDigits(int v, std::string& out) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

/// A bid (views into its batch) with its UTC day and minute of the day.
struct Q10Row {
  Bid bid;
  int64_t day;      // epoch day
  int minuteOfDay;  // [0, 1440)

  void write(JsonRowWriter& w) const {
    writeBid(bid, w);
    w.field("dt", formatDay(day));
    w.field("hm", minuteText(':'));
  }
  uint64_t touch() const {
    return combine(touchBid(bid), combine(touchInt(day), touchInt(minuteOfDay)));
  }
  /// The partition directory under --output-dir: dt=yyyy-MM-dd/hm=HH-mm.
  void partitionPath(std::string& out) const {
    out.append("dt=").append(formatDay(day)).append("/hm=").append(minuteText('-'));
  }

 private:
  /// "HH<sep>mm".
  std::string minuteText(char sep) const {
    std::string s;
    appendTwoDigits(minuteOfDay / 60, s);
    s.push_back(sep);
    appendTwoDigits(minuteOfDay % 60, s);
    return s;
  }
};

}  // namespace

void addQ10(const DataStream<Event>& events, const QueryJobOptions& o,
            std::shared_ptr<QueryCounters> c) {
  auto rows = bidsOf(events).map("q10", [](const Bid& b) {
    const int64_t day = epochDayOf(b.dateTime);
    return Q10Row{b, day, static_cast<int>((b.dateTime - day * kMillisPerDay) / 60000)};
  });
  attachSink(rows, o, std::move(c));
}

}  // namespace reka::nexmark
