#pragma once

#include <cstdint>
#include <memory>

#include "reka/base/Status.h"
#include "reka/data/StringArena.h"
#include "nexmark/GeneratorConfig.h"
#include "nexmark/Model.h"

namespace reka::nexmark {

/// The deterministic NEXMark event generator (docs/nexmark.md, Events).
///
/// A stream is split among `config.generators` parallel generators with disjoint id ranges; the
/// k-th event of generator g is a pure function of (config, g, k), so a generator's whole state
/// is its counter k and any event can be produced in any order. Every event draws from its own
/// splitmix64 stream, seeded from `config.seed` and the event id; uniform integers come from
/// 64- or 32-bit multiply-shift (Lemire, no rejection: a bias below n / 2^32).
///
/// Lifecycle and threading: make() builds the immutable static pools once (a 1 MiB extra text,
/// the 99 person names, the 10 000 channel names and URLs, the 4 hot channels and their URLs, a
/// price table). Copies share them, so copying is cheap, and views into them stay valid while
/// any copy lives. All methods are const and may be called concurrently; each thread passes its
/// own StringArena. Out-of-range arguments (g, k) are bugs and fail a REKA_CHECK.
///
/// Interpretations of the spec, where it leaves room:
/// - Event content (prices, strings, foreign keys) depends only on (seed, event id); the
///   timestamp depends on the (disorder-adjusted) event number, R and n.
/// - With outOfOrderGroupSize g > 1 the adjusted number `floor(num/g)·g + (num·953 mod g)` is
///   used as-is, as in Beam: it permutes each full group of g (953 is prime), but when a
///   generator's count is not a multiple of g its last, partial group can map to numbers past the
///   end of its range (and into the next generator's ids).
/// - expires: h = ts(adjusted number + 1666) − dateTime, where ts(x) is the timestamp formula of
///   event number x (Beam's choice: the adjustment is not applied a second time).
/// - price: `round(10^(6u)·100)` = floor(x + 0.5) with u from 53 random bits. 10^(6u) is a
///   1024-entry table (u's top 10 bits) times a degree-6 polynomial for exp of the rest, which
///   keeps pow() and exp() off the bid path; it is a few ulps from pow(), so about 1e-8 of the
///   prices differ by one cent from round(pow(10, 6u)·100). Rounding reaches exactly 10^8 when
///   u > 1 − 3.6e-10, so the range is [100, 10^8], with 10^8 practically never drawn.
/// - str(max): one U(13·26) per character gives the 1/13 special character and the 26 letters
///   with the spec's probabilities (four characters are taken from each 64-bit draw by chained
///   multiply-shift); only spaces are trimmed (URL parts use '_' and are never trimmed, as Java's
///   String.trim would not trim them either).
/// - extra(cur, avg): delta = floor(0.2·want + 0.5); U[0, 0) is 0. The 1 MiB pool holds the same
///   alphabet as str() (letters, 1/13 spaces); the offset is U[0, 1 MiB − len].
///   Person: cur = 8 + |name| + |email| + |creditCard| + |city| + |state|, avg 200.
///   Auction: cur = 8 + |itemName| + |description| + 5·8 (Beam's sizes), avg 500. Bid: (32, 100).
/// - Hot choices: auction hot with probability 1/2, bidder and seller 3/4, channel 1/2, the hot
///   channel then U(4) among Google, Facebook, Baidu, Apple. A bid always makes its four draws
///   (the random auction and bidder are drawn even when the hot one is taken), so that the choice
///   is branch-free.
/// - URL_TABLE: each of the 10 000 entries gets `&channel_id=` with probability 9/10 (drawn once
///   from the seed, so about, not exactly, 9 000). The id is |int32(bitreverse32(c))| computed in
///   64 bits, so c = 1 gives 2147483648 (Java's Math.abs would print -2147483648).
/// - The hot URLs are base URLs (no channel_id), one per hot channel, built once from the seed.
class Generator {
 public:
  /// Validates the config (events >= 0, finite rate > 0, generators >= 1,
  /// outOfOrderGroupSize >= 1, firstEventId >= 0, firstEventNumber >= 0) and builds the static
  /// pools once. Returns InvalidArgument naming the offending field otherwise.
  static Result<Generator> make(const GeneratorConfig& config);

  const GeneratorConfig& config() const { return config_; }

  /// How many events generator g (0 <= g < n) produces: floor(N/n), the last one takes the
  /// remainder.
  int64_t eventCount(int generator) const;

  /// The k-th event (0 <= k < eventCount(g)) of generator g. A pure function of (config, g, k).
  /// Person and Auction strings that are built per event (emailAddress, creditCard, itemName,
  /// description) are written into `arena`; every other string (bids entirely; names, cities,
  /// states and extra of all types) is a view into the generator's immutable static pools, valid
  /// as long as any copy of this Generator lives. Bids do not touch `arena` and never allocate.
  Event event(int generator, int64_t k, StringArena& arena) const;

  /// Event id of the k-th event of generator g (same formula as event()).
  int64_t eventId(int generator, int64_t k) const;

  /// Timestamp (epoch ms) of the k-th event of generator g (same formula as event()).
  int64_t timestamp(int generator, int64_t k) const;

 private:
  struct Pools;

  Generator(const GeneratorConfig& config, std::shared_ptr<const Pools> pools);

  static std::shared_ptr<const Pools> buildPools(uint64_t seedKey);

  int64_t adjustedNumber(int64_t k) const;
  int64_t timestampOfNumber(int64_t number) const;
  Person makePerson(int64_t id, int64_t dateTime, StringArena& arena) const;
  Auction makeAuction(int64_t id, int64_t number, int64_t dateTime, StringArena& arena) const;
  Event makeBid(int64_t id, int64_t dateTime) const;

  GeneratorConfig config_;
  double delayUs_;        // d = 1e6·n/R, microseconds between a generator's events
  int64_t perGenerator_;  // floor(N/n)
  uint64_t seedKey_;      // the mixed seed every per-event stream starts from
  int64_t bidExtraMin_;   // extra(32, 100): length = min + U[0, span)
  int64_t bidExtraSpan_;
  std::shared_ptr<const Pools> pools_;
};

}  // namespace reka::nexmark
