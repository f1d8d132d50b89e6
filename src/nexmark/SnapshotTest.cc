// Checkpoints of the NEXMark sources and queries: sources restored from a position go on with
// exactly the events an uninterrupted source would have emitted; every state type round-trips
// through its Serde; and every query, checkpointed between two source polls and restored into
// new operators, produces the same result as an uninterrupted run.

#include <gtest/gtest.h>

#include <optional>
#include <thread>

#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nexmark/StateSerde.h"
#include "reka/data/StringArena.h"
#include "nexmark/Generator.h"
#include "nexmark/JsonCodec.h"
#include "nexmark/QueryJob.h"
#include "testing/OperatorHarness.h"

namespace reka::nexmark {
namespace {

using reka::testing::CollectingOutput;
using reka::testing::DiscardingOutput;
using reka::testing::OperatorCheckpoint;
using reka::testing::OperatorHarness;

constexpr int64_t kStartMs = 1'000'000;

std::string jsonOf(const Event& e) {
  std::string s;
  appendEventJson(e, s);
  return s;
}

std::vector<std::string> jsonOf(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) out.push_back(jsonOf(e));
  return out;
}

struct EventOutput {
  CollectingOutput<Event> output;
};

/// One source subtask (`subtask` of `parallelism`) of a source node, watermarks after every batch.
struct SourceRun : EventOutput, OperatorHarness {
  SourceRun(const graph::Node& node, int subtask, int parallelism, size_t batchSize, int64_t nowMs = kStartMs)
      : OperatorHarness(node.makeOperator(), {&this->output}, nowMs) {
    ctx().subtask = subtask;
    ctx().parallelism = parallelism;
    ctx().batchSize = batchSize;
    ctx().watermarkIntervalMs = 0;
  }
  SourceOperator& source() { return static_cast<SourceOperator&>(op()); }
  /// Polls `polls` times (or to the end when negative); returns whether the source ended.
  bool poll(int polls = -1) {
    for (int i = 0; polls < 0 || i < polls; ++i)
      if (source().pollNext() == SourceOperator::Poll::kEnd) return true;
    return false;
  }
  /// For a source that reads on a connector thread: polls until `batches` batches of records
  /// came out (or to the end when negative), waiting for the thread; whether the source ended.
  bool pollBatches(int batches = -1) {
    int emitted = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while ((batches < 0 || emitted < batches) && std::chrono::steady_clock::now() < deadline) {
      const size_t before = output.out.size();
      const SourceOperator::Poll p = source().pollNext();
      if (output.out.size() > before) ++emitted;
      if (p == SourceOperator::Poll::kEnd) return true;
      if (p == SourceOperator::Poll::kNothingNow) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
};

/// The watermarks of a run without the repetitions a restore may add.
std::vector<int64_t> distinct(const std::vector<int64_t>& watermarks) {
  std::vector<int64_t> out;
  for (int64_t w : watermarks)
    if (out.empty() || w != out.back()) out.push_back(w);
  return out;
}

void expectRestoredRunIsTheWholeRun(const SourceRun& before, const SourceRun& after, const SourceRun& whole) {
  std::vector<std::string> joined = jsonOf(before.output.out);
  for (const auto& s : jsonOf(after.output.out)) joined.push_back(s);
  EXPECT_EQ(joined, jsonOf(whole.output.out));
  // The restored source's watermark never goes back, and the run sends the same watermarks.
  std::vector<int64_t> watermarks = before.output.watermarks;
  watermarks.insert(watermarks.end(), after.output.watermarks.begin(), after.output.watermarks.end());
  for (size_t i = 1; i < watermarks.size(); ++i) EXPECT_LE(watermarks[i - 1], watermarks[i]) << i;
  EXPECT_EQ(distinct(watermarks), distinct(whole.output.watermarks));
}

// ---- (a) The generator source ----

/// Subtask s of P emits blocks j = s, s + P, ... of `blockSize` events; block j holds events
/// [b·B, (b+1)·B) of generator g = j mod n, b = j div n (written out from the README).
std::vector<std::string> expectedGeneratorEvents(const Generator& gen, int subtask, int parallelism, int64_t blockSize) {
  const int n = gen.config().generators;
  int64_t longest = 0;
  for (int g = 0; g < n; ++g) longest = std::max(longest, gen.eventCount(g));
  std::vector<std::string> out;
  StringArena arena;
  for (int64_t j = subtask; j < (longest + blockSize - 1) / blockSize * n; j += parallelism) {
    const int g = static_cast<int>(j % n);
    for (int64_t k = (j / n) * blockSize; k < std::min((j / n + 1) * blockSize, gen.eventCount(g)); ++k)
      out.push_back(jsonOf(gen.event(g, k, arena)));
  }
  return out;
}

GeneratorConfig smallGenerator() {
  GeneratorConfig c;
  c.seed = 42;
  c.events = 2'350;
  c.generators = 3;
  c.rate = 1'000;
  c.outOfOrderGroupSize = 4;
  return c;
}

TEST(SnapshotTest, GeneratorSourceResumesAtItsBlock) {
  const GeneratorConfig config = smallGenerator();
  auto gen = Generator::make(config);
  ASSERT_TRUE(gen.isOk());
  constexpr int kParallelism = 2;
  constexpr size_t kBlock = 100;
  StreamEnvironment env;
  const graph::Node& node = env.jobGraph().node(generatorSource(env, config, kParallelism).nodeId());
  for (int subtask = 0; subtask < kParallelism; ++subtask) {
    SourceRun whole(node, subtask, kParallelism, kBlock);
    ASSERT_TRUE(whole.open().isOk());
    whole.poll();
    ASSERT_EQ(jsonOf(whole.output.out), expectedGeneratorEvents(*gen, subtask, kParallelism, kBlock));
    for (int cut : {0, 1, 5, 11, 12}) {
      SCOPED_TRACE("subtask " + std::to_string(subtask) + ", checkpoint after poll " + std::to_string(cut));
      SourceRun before(node, subtask, kParallelism, kBlock);
      ASSERT_TRUE(before.open().isOk());
      if (before.poll(cut)) continue;
      const OperatorCheckpoint c = before.checkpoint();
      SourceRun after(node, subtask, kParallelism, kBlock, c.nowMs);
      Status s = after.openAndRestore(c);
      ASSERT_TRUE(s.isOk()) << s.toString();
      after.poll();
      expectRestoredRunIsTheWholeRun(before, after, whole);
    }
  }
}

TEST(SnapshotTest, GeneratorSourceRefusesAnotherBatchSizeOrConfig) {
  const GeneratorConfig config = smallGenerator();
  StreamEnvironment env;
  const graph::Node& node = env.jobGraph().node(generatorSource(env, config, 2).nodeId());
  SourceRun before(node, 1, 2, 100);
  ASSERT_TRUE(before.open().isOk());
  before.poll(3);
  const OperatorCheckpoint c = before.checkpoint();

  auto refused = [&](SourceRun& run, const std::string& why) {
    ASSERT_TRUE(run.openAndRestore(c).isOk());  // the lanes are checked when the reader gets them
    try {
      run.poll();
      ADD_FAILURE() << "restored a checkpoint of " << why;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("another generator configuration or batch size"), std::string::npos) << e.what();
    }
  };
  SourceRun otherBatchSize(node, 1, 2, 64);
  refused(otherBatchSize, "another batch size");
  GeneratorConfig reseeded = config;
  reseeded.seed = 43;
  StreamEnvironment env2;
  SourceRun otherSeed(env2.jobGraph().node(generatorSource(env2, reseeded, 2).nodeId()), 1, 2, 100);
  refused(otherSeed, "another seed");
  for (auto& [name, elements] : c.lists) {
    for (size_t cut : {size_t{0}, size_t{3}}) {
      SourceRun truncated(node, 1, 2, 100);
      OperatorCheckpoint t = c;
      t.lists[name][0].resize(cut);
      EXPECT_EQ(truncated.openAndRestore(t).code(), StatusCode::kCorruption) << name << " cut to " << cut;
    }
  }
}

/// Both subtasks of a run at parallelism 2 checkpointed after a few blocks, restored at 3: the
/// lanes are spread anew, and the events before and after are the whole stream once.
TEST(SnapshotTest, GeneratorSourceRestoresAtAnotherParallelism) {
  const GeneratorConfig config = smallGenerator();
  StreamEnvironment env;
  const graph::Node& node = env.jobGraph().node(generatorSource(env, config, 2).nodeId());
  std::vector<std::string> seen;
  std::map<std::string, std::vector<std::string>> lists0, lists1;
  for (int s = 0; s < 2; ++s) {
    SourceRun before(node, s, 2, 100);
    ASSERT_TRUE(before.open().isOk());
    before.poll(3 + s);
    const OperatorCheckpoint c = before.checkpoint();
    (s == 0 ? lists0 : lists1) = c.lists;
    for (const auto& e : jsonOf(before.output.out)) seen.push_back(e);
  }
  for (int s = 0; s < 3; ++s) {
    SourceRun after(node, s, 3, 100);
    ASSERT_TRUE(after.open().isOk());
    ASSERT_TRUE(after.backend().restoreOperatorLists({lists0, lists1}, s, 3).isOk());
    ASSERT_TRUE(after.poll());
    for (const auto& e : jsonOf(after.output.out)) seen.push_back(e);
  }
  auto gen = Generator::make(config);
  ASSERT_TRUE(gen.isOk());
  std::vector<std::string> whole = expectedGeneratorEvents(*gen, 0, 1, 100);
  std::sort(seen.begin(), seen.end());
  std::sort(whole.begin(), whole.end());
  EXPECT_EQ(seen, whole);
}

// ---- (b) The file source ----

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("reka-snapshot-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  /// Writes `events` as JSON lines with a bad line before event `badAt` (line badAt + 1).
  std::string writeEvents(const std::string& name, const std::vector<std::string>& events, size_t badAt) {
    const std::string path = (dir_ / name).string();
    std::ofstream f(path, std::ios::binary);
    for (size_t i = 0; i < events.size(); ++i) {
      if (i == badAt) f << "{\"event_type\": 2, \"bid\": {\"auction\": \"not a number\"}}\n";
      f << events[i] << "\n";
    }
    return path;
  }
  std::string readFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

  std::filesystem::path dir_;
};

TEST_F(FileSourceTest, ResumesAtTheLineAfterTheCheckpointWithItsNumber) {
  GeneratorConfig config = smallGenerator();
  config.events = 250;
  config.generators = 1;
  auto gen = Generator::make(config);
  ASSERT_TRUE(gen.isOk());
  const std::vector<std::string> events = expectedGeneratorEvents(*gen, 0, 1, 1000);
  ASSERT_EQ(events.size(), 250u);
  constexpr size_t kBadAt = 119;  // the bad line is line 120
  QueryJobOptions options;
  options.inputPath = writeEvents("events.json", events, kBadAt);
  options.deadLetterPath = (dir_ / "dead.json").string();
  constexpr size_t kBatch = 16;  // batches 0..6 read lines 1..112, batch 7 reads 113..129

  for (int cut : {0, 1, 7, 8, 15}) {
    SCOPED_TRACE("checkpoint after batch " + std::to_string(cut));
    std::filesystem::remove(options.deadLetterPath);
    auto counters = std::make_shared<QueryCounters>();
    StreamEnvironment env;
    const graph::Node& node = env.jobGraph().node(fileSource(env, options, counters).nodeId());
    std::optional<OperatorCheckpoint> c;
    std::vector<std::string> first;
    {
      SourceRun before(node, 0, 1, kBatch);
      ASSERT_TRUE(before.open().isOk());
      ASSERT_FALSE(before.pollBatches(cut));
      c = before.checkpoint();
      first = jsonOf(before.output.out);
      before.op().close();  // a crash: what was read ahead of the checkpoint is lost
    }
    SourceRun after(node, 0, 1, kBatch, c->nowMs);
    Status s = after.openAndRestore(*c);
    ASSERT_TRUE(s.isOk()) << s.toString();
    ASSERT_TRUE(after.pollBatches());

    std::vector<std::string> joined = first;
    for (const auto& e : jsonOf(after.output.out)) joined.push_back(e);
    EXPECT_EQ(joined, events);
    EXPECT_EQ(counters->badRecords.load(), 1);
    EXPECT_EQ(counters->inputLines.load(), 251);
    EXPECT_NE(readFile(options.deadLetterPath).find("\"line\":120,"), std::string::npos) << readFile(options.deadLetterPath);
  }
}

TEST_F(FileSourceTest, RestoreFailsWhenTheFileIsShorterThanThePosition) {
  GeneratorConfig config = smallGenerator();
  config.events = 100;
  config.generators = 1;
  auto gen = Generator::make(config);
  ASSERT_TRUE(gen.isOk());
  const std::vector<std::string> events = expectedGeneratorEvents(*gen, 0, 1, 1000);
  QueryJobOptions options;
  options.inputPath = writeEvents("events.json", events, events.size());
  auto counters = std::make_shared<QueryCounters>();
  StreamEnvironment env;
  const graph::Node& node = env.jobGraph().node(fileSource(env, options, counters).nodeId());
  std::optional<OperatorCheckpoint> c;
  {
    SourceRun before(node, 0, 1, 50);
    ASSERT_TRUE(before.open().isOk());
    before.pollBatches(1);
    c = before.checkpoint();
    before.op().close();
  }
  // The same file (same inode), cut shorter than the checkpoint's position.
  std::filesystem::resize_file(options.inputPath, 100);
  SourceRun after(node, 0, 1, 50);
  ASSERT_TRUE(after.openAndRestore(*c).isOk());
  try {
    after.pollBatches();
    ADD_FAILURE() << "the restored source read a file shorter than its position";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("events.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("has only 100 bytes"), std::string::npos) << e.what();
  }
}

// ---- (d) Serde of every state type ----

// Every keyed table the queries register can be snapshotted (KeyedTable needs Serde<Map>).
template <class K, class V>
constexpr bool kTableHasSerde = HasSerde<StateMap<K, V>>::value;
using Pair = std::pair<int64_t, int64_t>;
using StoredBidPtr = std::shared_ptr<const StoredBid>;
static_assert(kTableHasSerde<int64_t, PersonInfo> && kTableHasSerde<int64_t, std::vector<int64_t>>);      // q3
static_assert(kTableHasSerde<int64_t, DayState>);                                                         // q15
static_assert(kTableHasSerde<Pair, AuctionDayStats>);                                                     // q17
static_assert(kTableHasSerde<Pair, StoredBidPtr>);                                                        // q18
static_assert(kTableHasSerde<int64_t, std::vector<StoredBidPtr>>);                                        // q19, q20
static_assert(kTableHasSerde<int64_t, AuctionSlot>);                                                      // q20
static_assert(kTableHasSerde<int64_t, AuctionBook> && kTableHasSerde<int64_t, CountSum>);                 // q9, q4
static_assert(kTableHasSerde<int64_t, SellerWinners>);                                                    // q6
static_assert(kTableHasSerde<int64_t, HotAuctions> && kTableHasSerde<int64_t, MaxBids>);                  // q5, q7
static_assert(HasSerde<PersonRef>::value && HasSerde<AuctionCount>::value && HasSerde<std::vector<PersonRef>>::value);  // q8

/// Writes `v`, reads it back from a buffer that is overwritten afterwards (the result must own
/// its strings), and checks that every shorter prefix fails to read.
template <class T>
T roundTrip(const T& v) {
  std::string bytes;
  Serde<T>::write(v, bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string_view prefix = std::string_view(bytes).substr(0, n);
    T partial{};
    EXPECT_FALSE(Serde<T>::read(prefix, partial)) << "a prefix of " << n << " of " << bytes.size() << " bytes was read";
  }
  std::string buffer = bytes;
  std::string_view in = buffer;
  T out{};
  EXPECT_TRUE(Serde<T>::read(in, out));
  EXPECT_TRUE(in.empty());
  buffer.assign(buffer.size(), '\xee');
  return out;
}

Bid sampleBid(int64_t i) {
  static const std::string kChannel = "Google", kUrl = "https://www.nexmark.com/a/b?channel_id=7", kExtra = "cc-extra";
  return Bid{1000 + i, 2000 + i, 300 * i + 1, kChannel, kUrl, 1436918400000 + i, i % 2 == 0 ? kExtra : std::string_view()};
}

Auction sampleAuction() {
  static const std::string kItem = "item", kDescription = "a long description", kExtra = "";
  return Auction{1042, kItem, kDescription, 5, 99, 1436918400123, 1436918410123, 1007, 10, kExtra};
}

void expectSameBid(const StoredBidPtr& a, const Bid& b) {
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->bid.auction, b.auction);
  EXPECT_EQ(a->bid.bidder, b.bidder);
  EXPECT_EQ(a->bid.price, b.price);
  EXPECT_EQ(a->bid.channel, b.channel);
  EXPECT_EQ(a->bid.url, b.url);
  EXPECT_EQ(a->bid.dateTime, b.dateTime);
  EXPECT_EQ(a->bid.extra, b.extra);
}

void expectSameAuction(const std::shared_ptr<const StoredAuction>& a, const Auction& b) {
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(jsonOf(Event::of(a->auction)), jsonOf(Event::of(b)));
}

TEST(SnapshotTest, StoredBidsAndAuctionsRoundTripIntoOwnedCopies) {
  const Bid b = sampleBid(3);
  expectSameBid(roundTrip(StoredBid::make(b)), b);
  EXPECT_EQ(roundTrip(StoredBidPtr{}), nullptr);
  expectSameAuction(roundTrip(StoredAuction::make(sampleAuction())), sampleAuction());
  EXPECT_EQ(roundTrip(std::shared_ptr<const StoredAuction>{}), nullptr);
}

// Little-endian encodings, written independently of Serde: `bytes` low bytes of v; an i64; a
// u64-length string.
std::string le(uint64_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}
std::string i64(int64_t v) { return le(static_cast<uint64_t>(v), 8); }
std::string str(std::string_view v) { return le(v.size(), 8) + std::string(v); }

// The stored-bid writer sizes the record and fills it in one piece; its bytes must be the
// documented layout, built here field by field: u8 1, i64 auction, bidder, price, u64-length
// strings channel and url, i64 dateTime, string extra (little endian).
TEST(SnapshotTest, StoredBidBytesAreTheFieldByFieldLayout) {
  for (int64_t i : {int64_t{2}, int64_t{3}}) {  // with and without an extra
    const Bid b = sampleBid(i);
    const std::string expected = le(1, 1) + i64(b.auction) + i64(b.bidder) + i64(b.price) + str(b.channel) + str(b.url) +
                                 i64(b.dateTime) + str(b.extra);
    std::string bytes = "prefix";
    Serde<StoredBidPtr>::write(StoredBid::make(b), bytes);
    EXPECT_EQ(bytes, "prefix" + expected) << "bid " << i;
  }
  std::string none;
  Serde<StoredBidPtr>::write(nullptr, none);
  EXPECT_EQ(none, std::string(1, '\0'));
}

// The stored-auction writer sizes the record too: u8 1, i64 id, strings itemName and
// description, i64 initialBid, reserve, dateTime, expires, seller, category, string extra.
TEST(SnapshotTest, StoredAuctionBytesAreTheFieldByFieldLayout) {
  const Auction a = sampleAuction();
  const std::string expected = le(1, 1) + i64(a.id) + str(a.itemName) + str(a.description) + i64(a.initialBid) +
                               i64(a.reserve) + i64(a.dateTime) + i64(a.expires) + i64(a.seller) + i64(a.category) +
                               str(a.extra);
  using AuctionPtr = std::shared_ptr<const StoredAuction>;
  std::string bytes = "prefix";
  Serde<AuctionPtr>::write(StoredAuction::make(a), bytes);
  EXPECT_EQ(bytes, "prefix" + expected);
  EXPECT_EQ(Serde<AuctionPtr>::size(StoredAuction::make(a)), expected.size());
  EXPECT_EQ(Serde<AuctionPtr>::size(nullptr), 1u);
}

// A table of stored bids is written through a cursor, 64 KiB of room at a time; a record
// larger than that (a bid with a 100 KB extra) gets room of its own. The restored table must
// equal the written one.
TEST(SnapshotTest, AStoredBidLargerThanAWriteChunkRoundTripsAmongSmallOnes) {
  const std::string big(100000, 'x');
  TrackedMap<int64_t, StoredBidPtr> m;
  for (int64_t i = 0; i < 2000; ++i) {
    Bid b = sampleBid(i);
    if (i == 1000) b.extra = big;
    m.put(i, StoredBid::make(b));
  }
  m.put(int64_t{5000}, nullptr);
  std::string bytes;
  m.writeFull(bytes);
  std::string_view in = bytes;
  TrackedMap<int64_t, StoredBidPtr> restored;
  ASSERT_TRUE(restored.readFull(in));
  EXPECT_TRUE(in.empty());
  ASSERT_EQ(restored.size(), 2001u);
  for (int64_t i = 0; i < 2000; ++i) {
    Bid b = sampleBid(i);
    if (i == 1000) b.extra = big;
    const StoredBidPtr* v = restored.find(i);
    ASSERT_NE(v, nullptr) << i;
    expectSameBid(*v, b);
  }
  ASSERT_NE(restored.find(int64_t{5000}), nullptr);
  EXPECT_EQ(*restored.find(int64_t{5000}), nullptr);
}

TEST(SnapshotTest, JoinAndAggregateStatesRoundTrip) {
  const PersonInfo p = roundTrip(PersonInfo{true, "Vicky Noris", "Boise", "ID"});
  EXPECT_TRUE(p.matches);
  EXPECT_EQ(p.name, "Vicky Noris");
  EXPECT_EQ(p.city, "Boise");
  EXPECT_EQ(p.state, "ID");
  EXPECT_FALSE(roundTrip(PersonInfo{}).matches);

  DayState day;
  day.counts.totalBids = 7;
  day.counts.rank3Auctions = 12;
  day.counts.rank2Bidders = -1;
  day.bidders[0] = {1, 2, 3};
  day.bidders[2] = {3};
  day.auctions[1] = {99, 100};
  const DayState d = roundTrip(day);
  EXPECT_EQ(d.counts.totalBids, 7);
  EXPECT_EQ(d.counts.rank3Auctions, 12);
  EXPECT_EQ(d.counts.rank2Bidders, -1);
  EXPECT_EQ(d.counts.touch(), day.counts.touch());  // a hash over all twelve counters
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(d.bidders[i], day.bidders[i]) << i;
    EXPECT_EQ(d.auctions[i], day.auctions[i]) << i;
  }

  const AuctionDayStats s = roundTrip(AuctionDayStats{1, 2, 3, 4, 5, 6, 7});
  EXPECT_EQ((std::vector<int64_t>{s.totalBids, s.rank1Bids, s.rank2Bids, s.rank3Bids, s.minPrice, s.maxPrice, static_cast<int64_t>(s.sumPrice)}),
            (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));

  const AuctionSlot slot = roundTrip(AuctionSlot{StoredAuction::make(sampleAuction()), true});
  EXPECT_TRUE(slot.seen);
  expectSameAuction(slot.auction, sampleAuction());
  const AuctionSlot empty = roundTrip(AuctionSlot{nullptr, true});
  EXPECT_TRUE(empty.seen);
  EXPECT_EQ(empty.auction, nullptr);

  const auto bids = roundTrip(std::vector<StoredBidPtr>{StoredBid::make(sampleBid(1)), StoredBid::make(sampleBid(2))});
  ASSERT_EQ(bids.size(), 2u);
  expectSameBid(bids[0], sampleBid(1));
  expectSameBid(bids[1], sampleBid(2));
}

TEST(SnapshotTest, AuctionWinnerStatesRoundTrip) {
  AuctionBook book;
  book.auction = StoredAuction::make(sampleAuction());
  book.best = StoredBid::make(sampleBid(5));
  book.early = {StoredBid::make(sampleBid(6)), StoredBid::make(sampleBid(7))};
  const AuctionBook b = roundTrip(book);
  expectSameAuction(b.auction, sampleAuction());
  expectSameBid(b.best, sampleBid(5));
  ASSERT_EQ(b.early.size(), 2u);
  expectSameBid(b.early[1], sampleBid(7));
  const AuctionBook waiting = roundTrip(AuctionBook{nullptr, nullptr, {StoredBid::make(sampleBid(8))}});
  EXPECT_EQ(waiting.auction, nullptr);
  EXPECT_EQ(waiting.best, nullptr);
  ASSERT_EQ(waiting.early.size(), 1u);

  const CountSum cs = roundTrip(CountSum{3, 4500});
  EXPECT_EQ(cs.count, 3);
  EXPECT_EQ(static_cast<int64_t>(cs.sum), 4500);

  SellerWinners seller;
  seller.pending = {{100, 1001, 50}, {90, 1002, 60}};
  for (size_t i = 0; i < seller.last.size(); ++i) seller.last[i] = static_cast<int64_t>(i * i);
  seller.applied = 13;
  seller.sum = 285;
  const SellerWinners w = roundTrip(seller);
  ASSERT_EQ(w.pending.size(), 2u);
  EXPECT_EQ(w.pending[1].expires, 90);
  EXPECT_EQ(w.pending[1].auction, 1002);
  EXPECT_EQ(w.pending[1].price, 60);
  EXPECT_EQ(w.last, seller.last);
  EXPECT_EQ(w.applied, 13);
  EXPECT_EQ(w.sum, 285);
}

TEST(SnapshotTest, WindowStatesRoundTrip) {
  const HotAuctions h = roundTrip(HotAuctions{1436918400000, 17, {1001, 1005}});
  EXPECT_EQ(h.start, 1436918400000);
  EXPECT_EQ(h.max, 17);
  EXPECT_EQ(h.auctions, (std::vector<int64_t>{1001, 1005}));

  const MaxBids m = roundTrip(MaxBids{301, {StoredBid::make(sampleBid(1))}});
  EXPECT_EQ(m.price, 301);
  ASSERT_EQ(m.bids.size(), 1u);
  expectSameBid(m.bids[0], sampleBid(1));
  EXPECT_EQ(roundTrip(MaxBids{}).price, -1);

  const PersonRef p = roundTrip(PersonRef{1003, std::make_shared<const std::string>("Sarah Shultz"), 1436918400001});
  EXPECT_EQ(p.id, 1003);
  ASSERT_NE(p.name, nullptr);
  EXPECT_EQ(*p.name, "Sarah Shultz");
  EXPECT_EQ(p.dateTime, 1436918400001);

  const AuctionCount c = roundTrip(AuctionCount{1007, TimeWindow{10000, 20000}, 42, RowKind::kUpdateAfter});
  EXPECT_EQ(c.key, 1007);
  EXPECT_EQ(c.window, (TimeWindow{10000, 20000}));
  EXPECT_EQ(c.value, 42);
  EXPECT_EQ(c.kind, RowKind::kUpdateAfter);
}

// ---- Every query, checkpointed and restored ----

/// Runs a job graph in one thread at parallelism 1 without the runtime: sources are polled in
/// turn (processing time moves by a fixed tick per round), and every batch, watermark and end of
/// input goes straight to the consumers, held back while an operator does not accept that input.
class SyncJob {
 public:
  SyncJob(graph::JobGraph& graph, size_t batchSize, int64_t nowMs) {
    for (const graph::Node& n : graph.nodes()) {
      auto node = std::make_unique<Node>();
      for (int p = 0; p < n.outputPorts; ++p) node->ports.push_back(std::make_unique<Port>(this));
      std::vector<Output*> outputs;
      for (auto& port : node->ports) outputs.push_back(port.get());
      node->harness = std::make_unique<OperatorHarness>(n.makeOperator(), std::move(outputs), nowMs);
      node->harness->ctx().name = n.name;
      node->harness->ctx().batchSize = batchSize;
      node->harness->ctx().watermarkIntervalMs = 0;
      node->isSource = n.isSource;
      node->reaches.assign(graph.nodes().size(), false);
      node->reaches[static_cast<size_t>(n.id)] = true;
      node->valve.reset(n.inputs.size());
      node->openInputs = static_cast<int>(n.inputs.size());
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        auto channel = std::make_unique<Channel>();
        channel->from = n.inputs[i].from;
        channel->to = node.get();
        channel->input = static_cast<int>(i);
        nodes_[static_cast<size_t>(n.inputs[i].from)]->ports[static_cast<size_t>(n.inputs[i].fromPort)]->channels.push_back(
            channel.get());
        channels_.push_back(std::move(channel));
      }
      nodes_.push_back(std::move(node));
    }
    // Node ids are in topological order: what a node reaches, its inputs reach.
    for (size_t i = nodes_.size(); i-- > 0;) {
      for (const graph::Edge& e : graph.nodes()[i].inputs) {
        auto& from = nodes_[static_cast<size_t>(e.from)]->reaches;
        for (size_t j = 0; j < from.size(); ++j) from[j] = from[j] || nodes_[i]->reaches[j];
      }
    }
  }

  Status open() {
    for (auto& n : nodes_) REKA_RETURN_IF_ERROR(n->harness->open());
    return Status::ok();
  }
  Status restore(const std::vector<OperatorCheckpoint>& checkpoints) {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      Status s = nodes_[i]->harness->openAndRestore(checkpoints[i]);
      if (!s.isOk()) return Status(s.code(), nodes_[i]->harness->ctx().name + ": " + s.message());
    }
    return Status::ok();
  }
  /// A checkpoint of every operator; only between rounds, with nothing held back.
  std::vector<OperatorCheckpoint> checkpoint() {
    std::vector<OperatorCheckpoint> out;
    for (auto& n : nodes_) {
      SCOPED_TRACE(n->harness->ctx().name);
      out.push_back(n->harness->checkpoint());
    }
    return out;
  }
  bool holdsElements() const {
    for (const auto& c : channels_)
      if (!c->held.empty()) return true;
    return false;
  }
  /// After a checkpoint the job is abandoned: the checkpoint completes, and sinks publish what
  /// they counted so far (finish() on a node without consumers emits nothing).
  void completeAndFinishSinks(int64_t checkpointId) {
    for (auto& n : nodes_) n->harness->op().notifyCheckpointComplete(checkpointId);
    for (auto& n : nodes_) {
      bool consumed = false;
      for (const auto& p : n->ports) consumed = consumed || !p->channels.empty();
      if (!consumed && !n->finished) n->harness->op().finish();
    }
  }

  /// Polls every unfinished source once, except those that feed an input that holds elements
  /// back (as a full channel would block them), then moves processing time on by `tickMs`.
  /// Returns false once every operator has finished.
  bool round(int64_t tickMs) {
    for (auto& n : nodes_) {
      if (!n->isSource || n->finished || blocked(*n)) continue;
      auto& source = static_cast<SourceOperator&>(n->harness->op());
      if (source.pollNext() == SourceOperator::Poll::kEnd) {
        source.processWatermark(kMaxTime);
        finish(*n);
      }
    }
    bool running = false;
    for (auto& n : nodes_) {
      if (n->finished) continue;
      running = true;
      n->harness->time().advance(n->harness->time().now() + tickMs, n->harness->op());
    }
    return running;
  }

 private:
  struct Node;
  struct Channel {
    graph::NodeId from = -1;
    Node* to = nullptr;
    int input = 0;
    std::deque<StreamElement> held;
    bool draining = false;
  };
  class Port final : public Output {
   public:
    explicit Port(SyncJob* job) : job_(job) {}
    void push(Batch& batch) override {
      for (Channel* c : channels) job_->deliver(*c, StreamElement::ofBatch(batch.clone()));
    }
    void emitWatermark(int64_t watermark) override {
      for (Channel* c : channels) job_->deliver(*c, StreamElement::watermark(watermark));
    }
    void emitWatermarkStatus(bool idle) override {
      for (Channel* c : channels) job_->deliver(*c, StreamElement::watermarkStatus(idle));
    }
    std::vector<Channel*> channels;

   private:
    SyncJob* job_;
  };
  struct Node {
    std::vector<std::unique_ptr<Port>> ports;  // before the harness: its operator writes to them
    std::unique_ptr<OperatorHarness> harness;
    std::vector<bool> reaches;  // by node id: the nodes this one feeds, itself included
    WatermarkValve valve;
    int openInputs = 0;
    bool isSource = false;
    bool finished = false;
  };

  bool blocked(const Node& source) const {
    for (const auto& c : channels_)
      if (!c->held.empty() && source.reaches[static_cast<size_t>(c->from)]) return true;
    return false;
  }
  void deliver(Channel& c, StreamElement e) {
    c.held.push_back(std::move(e));
    drain(c);
  }
  void drain(Channel& c) {
    if (c.draining) return;
    c.draining = true;
    Operator& op = c.to->harness->op();
    while (!c.held.empty() && op.acceptsInput(c.input)) {
      StreamElement e = std::move(c.held.front());
      c.held.pop_front();
      handle(c, e);
    }
    c.draining = false;
  }
  void handle(Channel& c, StreamElement& e) {
    Node& n = *c.to;
    Operator& op = n.harness->op();
    const auto index = static_cast<size_t>(c.input);
    switch (e.kind) {
      case StreamElement::Kind::kBatch: op.processBatch(c.input, *e.batch); break;
      case StreamElement::Kind::kWatermark: apply(op, n.valve.onWatermark(index, e.value)); break;
      case StreamElement::Kind::kWatermarkStatus: apply(op, n.valve.onStatus(index, e.value != 0)); break;
      case StreamElement::Kind::kEndOfInput:
        apply(op, n.valve.onEnd(index));
        op.endInput(c.input);
        for (auto& other : channels_)
          if (other->to == &n) drain(*other);  // an input held back may be accepted now
        if (--n.openInputs == 0) finish(n);
        break;
      case StreamElement::Kind::kBarrier: break;
    }
  }
  static void apply(Operator& op, const WatermarkValve::Change& change) {
    if (change.statusChanged && !change.idle) op.processWatermarkStatus(false);
    if (change.advanced) op.processWatermark(change.watermark);
    if (change.statusChanged && change.idle) op.processWatermarkStatus(true);
  }
  void finish(Node& n) {
    n.harness->op().finish();
    n.finished = true;
    for (auto& p : n.ports)
      for (Channel* c : p->channels) deliver(*c, StreamElement::endOfInput());
  }

  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Channel>> channels_;
};

constexpr size_t kQueryBatch = 100;
constexpr int64_t kTickMs = 700;

GeneratorConfig queryGenerator() {
  GeneratorConfig c;
  c.seed = 7;
  c.events = 4'000;
  c.rate = 100;  // 40 s of event time: several windows, sessions and auction expiries
  return c;
}

struct QueryResult {
  int64_t rows = 0;
  uint64_t checksum = 0;
};

/// Builds `query` over the generator with the counting sink; runs it to the end, or to round
/// `cut` (the first after it with nothing held back), where it checkpoints, abandons the job
/// and restores every operator into a new instance of it that runs to the end.
QueryResult runQuery(const std::string& query, int cut) {
  StreamEnvironment env;
  QueryJobOptions options;
  options.query = query;
  auto counters = std::make_shared<QueryCounters>();
  Status added = addQuery(env, generatorSource(env, queryGenerator(), 1), options, counters);
  EXPECT_TRUE(added.isOk()) << added.toString();
  SyncJob first(env.jobGraph(), kQueryBatch, kStartMs);
  EXPECT_TRUE(first.open().isOk());
  int rounds = 0;
  bool running = true;
  while (running && (cut < 0 || rounds < cut || first.holdsElements())) {
    running = first.round(kTickMs);
    ++rounds;
  }
  if (running) {
    const std::vector<OperatorCheckpoint> checkpoint = first.checkpoint();
    first.completeAndFinishSinks(1);
    SyncJob second(env.jobGraph(), kQueryBatch, checkpoint.front().nowMs);
    Status s = second.restore(checkpoint);
    EXPECT_TRUE(s.isOk()) << s.toString();
    while (second.round(kTickMs)) {
    }
  } else if (cut >= 0) {
    ADD_FAILURE() << "the job ended before round " << cut;
  }
  return QueryResult{counters->outputRows.load(), counters->checksum.load()};
}

TEST(SnapshotTest, EveryQueryRestoredMidStreamProducesTheUninterruptedResult) {
  for (const std::string& query : supportedQueries()) {
    if (query == "q10") continue;  // a file sink with its own exactly-once commit protocol: tested with it
    SCOPED_TRACE(query);
    const QueryResult whole = runQuery(query, -1);
    for (int cut : {1, 9, 23, 38}) {
      SCOPED_TRACE("checkpoint after round " + std::to_string(cut));
      const QueryResult restored = runQuery(query, cut);
      EXPECT_EQ(restored.rows, whole.rows);
      EXPECT_EQ(restored.checksum, whole.checksum);
    }
  }
}

}  // namespace
}  // namespace reka::nexmark
