// Keyed state and event-time timers: per user, count the clicks of a burst of activity and emit
// the count once no click of that user came for 300 ms of event time (a simple session timeout).
// A keyed process function keeps the open burst in value state and sets an event-time timer at
// "last click + 300 ms"; the timer fires when the watermark passes it.
// Prints "user first_click last_click clicks" per burst, sorted.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "reka/reka.h"

struct Click {
  std::string user;
  int64_t ts;  // event time, epoch milliseconds
};

/// The open burst of one user: what the value state holds.
struct Burst {
  int64_t first = 0;
  int64_t last = 0;
  int64_t clicks = 0;
};

/// What the function emits when a burst ends.
struct BurstResult {
  std::string user;
  Burst burst;
};

// State that is checkpointed needs a reka::Serde (this job takes no checkpoints, but a state
// type should have one: without it a checkpoint of the job fails with NotSupported).
namespace reka {
template <>
struct Serde<Burst> {
  static void write(const Burst& b, std::string& out) {
    Serde<int64_t>::write(b.first, out);
    Serde<int64_t>::write(b.last, out);
    Serde<int64_t>::write(b.clicks, out);
  }
  static bool read(std::string_view& in, Burst& b) {
    return Serde<int64_t>::read(in, b.first) && Serde<int64_t>::read(in, b.last) && Serde<int64_t>::read(in, b.clicks);
  }
};
}  // namespace reka

constexpr int64_t kTimeoutMs = 300;

/// A keyed process function: open() registers state, processElement() runs per click with the
/// click's user as the current key, onTimer() runs when an event-time timer of a user fires.
struct BurstCounter {
  reka::ValueState<std::string, Burst> burst;

  void open(reka::KeyedStateRegistry<std::string>& registry) { burst = registry.valueState<Burst>("burst"); }

  void processElement(const Click& c, reka::KeyedContext<std::string, BurstResult>& ctx) {
    if (c.ts <= ctx.currentWatermark()) {  // behind the watermark: its burst may be gone already
      ctx.countLateRecord();
      return;
    }
    const Burst* current = burst.peek();
    if (current != nullptr && c.ts > current->last + kTimeoutMs) {
      // The open burst has timed out, but the watermark has not reached its timer yet
      // (watermarks trail the records): end it now, exactly as onTimer would.
      ctx.timerService().deleteEventTimeTimer(current->last + kTimeoutMs);
      ctx.emit(BurstResult{ctx.currentKey(), *current});
      burst.clear();
      current = nullptr;
    }
    if (current == nullptr) {
      burst.update(Burst{c.ts, c.ts, 1});
      ctx.timerService().registerEventTimeTimer(c.ts + kTimeoutMs);
      return;
    }
    Burst b = *current;
    ++b.clicks;
    b.first = std::min(b.first, c.ts);
    if (c.ts > b.last) {  // a later click moves the timeout
      ctx.timerService().deleteEventTimeTimer(b.last + kTimeoutMs);
      b.last = c.ts;
      ctx.timerService().registerEventTimeTimer(b.last + kTimeoutMs);
    }
    burst.update(b);
  }

  void onTimer(int64_t ts, reka::KeyedContext<std::string, BurstResult>& ctx) {
    const Burst* current = burst.peek();
    if (current == nullptr || current->last + kTimeoutMs != ts) return;
    ctx.emit(BurstResult{ctx.currentKey(), *current});
    burst.clear();
  }
};

/// A source function: emits the clicks in order, in batches of up to maxRecords.
class ClickSource final : public reka::SourceFunction<Click> {
 public:
  explicit ClickSource(std::vector<Click> clicks) : clicks_(std::move(clicks)) {}
  reka::SourceOperator::Poll poll(reka::RecordBatch<Click>& out, size_t maxRecords) override {
    while (next_ < clicks_.size() && out.records.size() < maxRecords) out.records.push_back(clicks_[next_++]);
    return next_ < clicks_.size() ? reka::SourceOperator::Poll::kMore : reka::SourceOperator::Poll::kEnd;
  }

 private:
  std::vector<Click> clicks_;
  size_t next_ = 0;
};

int main() {
  // Out of order by at most 100 ms (less than the timeout), so no click is ever late.
  const std::vector<Click> clicks = {
      {"alice", 1000}, {"bob", 1050},   {"alice", 1200}, {"alice", 1150}, {"bob", 1400},
      {"carol", 1450}, {"alice", 1420}, {"bob", 1600},   {"alice", 2000}, {"carol", 1950},
      {"bob", 1980},   {"alice", 2100}, {"bob", 2050},
  };

  reka::StreamEnvironment env;
  auto strategy = reka::watermarks::boundedOutOfOrderness<Click>(std::chrono::milliseconds(100),
                                                                 [](const Click& c) { return c.ts; });
  // fromSource: the source assigns timestamps and generates watermarks itself (per split).
  auto source = env.fromSource<Click>("clicks", [clicks] { return std::make_unique<ClickSource>(clicks); }, strategy,
                                      /*parallelism=*/1);

  std::mutex mutex;
  std::vector<std::tuple<std::string, int64_t, int64_t, int64_t>> bursts;
  source.keyBy([](const Click& c) { return c.user; })
      .process<BurstResult>("bursts", BurstCounter{})
      .sink("collect", [&](const BurstResult& r) {
        std::lock_guard<std::mutex> lock(mutex);
        bursts.emplace_back(r.user, r.burst.first, r.burst.last, r.burst.clicks);
      });

  // At the end of the input the watermark reaches the end of time and every pending timer fires.
  if (reka::Status status = env.execute(); !status.isOk()) {
    std::fprintf(stderr, "keyed state and timers failed: %s\n", status.toString().c_str());
    return 1;
  }
  if (bursts.size() != 7) {
    std::fprintf(stderr, "expected 7 bursts, got %zu\n", bursts.size());
    return 1;
  }
  std::sort(bursts.begin(), bursts.end());
  for (const auto& [user, first, last, count] : bursts)
    std::printf("%s %lld %lld %lld\n", user.c_str(), static_cast<long long>(first), static_cast<long long>(last),
                static_cast<long long>(count));
  return 0;
}
