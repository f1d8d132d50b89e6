#include "nexmark/Generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/base/Check.h"

namespace reka::nexmark {

namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;
constexpr int64_t kProportion = GeneratorConfig::kProportionDenominator;  // 50
constexpr int64_t kPersonProportion = 1;
constexpr int64_t kAuctionProportion = 3;
constexpr int64_t kActivePeople = 1000;
constexpr int64_t kPersonIdLead = 10;
constexpr int64_t kInFlightAuctions = 100;
constexpr int64_t kAuctionIdLead = 10;
constexpr int64_t kHotRatio = 100;  // hot ids are multiples of 100
// Events until kInFlightAuctions more auctions have been created: 100 · 50 / 3.
constexpr int64_t kEventsForAuctions = kInFlightAuctions * kProportion / kAuctionProportion;
constexpr int64_t kOutOfOrderMultiplier = 953;
constexpr int64_t kMinStringLength = 3;
constexpr size_t kExtraPoolBytes = size_t{1} << 20;
constexpr int kChannels = 10000;
constexpr int kUrlPartLength = 5;
constexpr double kSixLn10 = 13.815510557964274;  // 6 · ln 10
// price() splits u into its top kPriceTableBits bits (a table of 100 · 10^(6·i/1024)) and the
// rest r < 2^-10, for which exp(6·r·ln 10) is a short polynomial (x < 0.0135).
constexpr int kPriceTableBits = 10;
constexpr size_t kPriceTableSize = size_t{1} << kPriceTableBits;

constexpr std::array<std::string_view, 11> kFirstNames = {
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"};
constexpr std::array<std::string_view, 9> kLastNames = {
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"};
constexpr std::array<std::string_view, 10> kCities = {
    "Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
    "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};
constexpr std::array<std::string_view, 6> kStates = {"AZ", "CA", "ID", "OR", "WA", "WY"};
constexpr std::array<std::string_view, 4> kHotChannels = {"Google", "Facebook", "Baidu", "Apple"};

// The splitmix64 finalizer: a bijection on 64-bit words with full avalanche.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Every stream of a generator starts from this key (mix64(0) = 0, hence the offset).
inline uint64_t seedKeyOf(uint64_t seed) {
  return mix64(seed + kGolden);
}

// One splitmix64 stream. Each event gets its own, so events are independent of each other.
class SplitMix {
 public:
  explicit SplitMix(uint64_t state) : state_(state) {}

  uint64_t next() {
    state_ += kGolden;
    return mix64(state_);
  }

  // U[0, n) by multiply-shift (Lemire); 0 when n <= 0.
  int64_t uniform(int64_t n) {
    if (n <= 0) return 0;
    return static_cast<int64_t>(
        (static_cast<unsigned __int128>(next()) * static_cast<uint64_t>(n)) >> 64);
  }

 private:
  uint64_t state_;
};

// The stream of event `id`: a pure function of (seed, id).
inline SplitMix eventStream(uint64_t seedKey, int64_t id) {
  return SplitMix(mix64(seedKey + static_cast<uint64_t>(id) * kGolden));
}

// U[0, n) from 32 random bits (for small n the bias, at most n / 2^32, is negligible).
inline uint32_t uniform32(uint32_t bits, uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(bits) * n) >> 32);
}

// The characters of str(): index v of U(13·26) is `special` when v < 26 (probability 1/13),
// else 'a' + v mod 26.
constexpr uint32_t kCharChoices = 13 * 26;
using CharTable = std::array<char, kCharChoices>;

constexpr CharTable charTable(char special) {
  CharTable table{};
  for (uint32_t v = 0; v < kCharChoices; ++v) {
    table[v] = v < 26 ? special : static_cast<char>('a' + v % 26);
  }
  return table;
}

constexpr CharTable kSpaceChars = charTable(' ');
constexpr CharTable kUnderscoreChars = charTable('_');
constexpr int kCharsPerDraw = 4;

// `n` str() characters. One 64-bit draw gives kCharsPerDraw of them: each multiply-shift takes
// U(338) from the high word and leaves the low word, still uniform, for the next one (each step
// spends about 9.4 of the 64 bits).
void fillRandomChars(SplitMix& rng, const CharTable& chars, char* out, size_t n) {
  for (size_t i = 0; i < n; i += kCharsPerDraw) {
    uint64_t r = rng.next();
    const size_t end = std::min(n, i + kCharsPerDraw);
    for (size_t j = i; j < end; ++j) {
      const auto product = static_cast<unsigned __int128>(r) * kCharChoices;
      out[j] = chars[static_cast<size_t>(product >> 64)];
      r = static_cast<uint64_t>(product);
    }
  }
}

// str(maxLength) written to `out` (room for maxLength bytes); returns the length after trimming
// spaces at both ends (the kept text starts at out[0]).
size_t writeRandomString(SplitMix& rng, int64_t maxLength, const CharTable& chars, char* out) {
  const int64_t len = kMinStringLength + rng.uniform(maxLength - kMinStringLength);
  fillRandomChars(rng, chars, out, static_cast<size_t>(len));
  int64_t begin = 0;
  int64_t end = len;
  while (begin < end && out[begin] == ' ') ++begin;
  while (end > begin && out[end - 1] == ' ') --end;
  if (begin > 0) std::memmove(out, out + begin, static_cast<size_t>(end - begin));
  return static_cast<size_t>(end - begin);
}

inline int64_t lastPersonOf(int64_t e) {
  // off >= 1 becomes 0, so the result is the number of whole periods.
  return e / kProportion;
}

inline int64_t lastAuctionOf(int64_t e) {
  int64_t epoch = e / kProportion;
  int64_t offset = e % kProportion;
  if (offset < kPersonProportion) {
    --epoch;
    offset = kAuctionProportion - 1;
  } else if (offset >= kPersonProportion + kAuctionProportion) {
    offset = kAuctionProportion - 1;
  } else {
    offset -= kPersonProportion;
  }
  return epoch * kAuctionProportion + offset;
}

// randomPerson(e) from 32 random bits.
inline int64_t randomPersonOf(int64_t e, uint32_t bits) {
  const int64_t people = lastPersonOf(e) + 1;
  const int64_t active = std::min(people, kActivePeople);
  return people - active + uniform32(bits, static_cast<uint32_t>(active + kPersonIdLead));
}

// randomAuction(e) from 32 random bits.
inline int64_t randomAuctionOf(int64_t e, uint32_t bits) {
  const int64_t hi = lastAuctionOf(e);
  const int64_t lo = std::max<int64_t>(hi - kInFlightAuctions, 0);
  return lo + uniform32(bits, static_cast<uint32_t>(hi - lo + 1 + kAuctionIdLead));
}

// `hot` when `pick`, else `cold`, by masking: the compiler turns a plain conditional here back
// into a branch, and these coin flips are unpredictable.
inline int64_t select(bool pick, int64_t hot, int64_t cold) {
  const int64_t mask = -static_cast<int64_t>(pick);
  return cold ^ ((hot ^ cold) & mask);
}

// `reverse` of the low 32 bits, read as a signed int32, absolute value in 64 bits.
int64_t channelId(uint32_t c) {
  uint32_t reversed = 0;
  for (int bit = 0; bit < 32; ++bit) {
    reversed = (reversed << 1) | ((c >> bit) & 1U);
  }
  const int64_t asSigned = static_cast<int32_t>(reversed);
  return asSigned < 0 ? -asSigned : asSigned;
}

// `https://www.nexmark.com/<p1>/<p2>/<p3>/item.htm?query=1` with each p a str(5) using '_'.
std::string baseUrl(SplitMix& rng) {
  std::string url = "https://www.nexmark.com";
  char part[kUrlPartLength];
  for (int i = 0; i < 3; ++i) {
    const size_t len = writeRandomString(rng, kUrlPartLength, kUnderscoreChars, part);
    url.push_back('/');
    url.append(part, len);
  }
  url.append("/item.htm?query=1");
  return url;
}

}  // namespace

/// The immutable text (and the price table) every generated event reads; built once per make().
struct Generator::Pools {
  // Where a channel's name and URL lie in `channelText` (the URL follows the name). Entries
  // [0, kChannels) are "channel-<c>" with URL_TABLE[c], the next 4 the hot channels with their
  // hot URLs. Eight bytes an entry keep the table (80 KB) cache-resident on the bid path.
  struct Channel {
    uint32_t offset;
    uint16_t nameLength;
    uint16_t urlLength;
  };

  std::string extra;                  // kExtraPoolBytes of str() characters
  std::array<std::string, 99> names;  // FIRST[i] + " " + LAST[j] at i·9 + j
  std::string channelText;            // every channel name and URL
  std::array<Channel, kChannels + kHotChannels.size()> channels;
  std::array<double, kPriceTableSize> priceScale;  // 100 · 10^(6·i / kPriceTableSize)
};

std::shared_ptr<const Generator::Pools> Generator::buildPools(uint64_t seedKey) {
  // Domain-separated from the per-event streams, which start at mix64(seedKey + id·kGolden).
  SplitMix rng(mix64(seedKey ^ 0x706F6F6C73ULL));  // "pools"
  auto pools = std::make_shared<Pools>();

  pools->extra.resize(kExtraPoolBytes);
  fillRandomChars(rng, kSpaceChars, pools->extra.data(), kExtraPoolBytes);

  for (size_t i = 0; i < kFirstNames.size(); ++i) {
    for (size_t j = 0; j < kLastNames.size(); ++j) {
      std::string& name = pools->names[i * kLastNames.size() + j];
      name.append(kFirstNames[i]).append(" ").append(kLastNames[j]);
    }
  }

  auto addChannel = [&](size_t index, std::string_view name, std::string_view url) {
    pools->channels[index] = {static_cast<uint32_t>(pools->channelText.size()),
                              static_cast<uint16_t>(name.size()),
                              static_cast<uint16_t>(url.size())};
    pools->channelText.append(name).append(url);
  };
  for (size_t hot = 0; hot < kHotChannels.size(); ++hot) {
    addChannel(kChannels + hot, kHotChannels[hot], baseUrl(rng));
  }
  for (int c = 0; c < kChannels; ++c) {
    std::string url = baseUrl(rng);
    if (rng.uniform(10) > 0) {
      url.append("&channel_id=").append(std::to_string(channelId(static_cast<uint32_t>(c))));
    }
    addChannel(static_cast<size_t>(c), "channel-" + std::to_string(c), url);
  }

  for (size_t i = 0; i < kPriceTableSize; ++i) {
    pools->priceScale[i] = 100.0 * std::pow(10.0, 6.0 * static_cast<double>(i) / kPriceTableSize);
  }
  return pools;
}

namespace {

// extra(cur, avg) parameters: length = min + U[0, span).
struct ExtraLength {
  int64_t min;
  int64_t span;
};

ExtraLength extraLength(int64_t current, int64_t average) {
  if (current > average) return {0, 0};
  const int64_t want = average - current;
  const auto delta = static_cast<int64_t>(std::floor(0.2 * static_cast<double>(want) + 0.5));
  return {want - delta, 2 * delta};
}

// extra(cur, avg) from 64 random bits: the low half picks the length, the high half the offset.
std::string_view extraText(const std::string& pool, ExtraLength shape, uint64_t bits) {
  const int64_t len =
      shape.min + uniform32(static_cast<uint32_t>(bits), static_cast<uint32_t>(shape.span));
  const int64_t offset =
      uniform32(static_cast<uint32_t>(bits >> 32),
                static_cast<uint32_t>(static_cast<int64_t>(pool.size()) - len + 1));
  return {pool.data() + offset, static_cast<size_t>(len)};
}

// price() = round(10^(6u) · 100) = floor(x + 0.5), u = the top 53 of 64 random bits. 10^(6u) is
// the table entry of u's top bits times exp(x) of the rest: a few ulps from pow(), so the
// rounded price differs from round(pow(10, 6u) · 100) by a cent in about 1e-8 of the draws.
int64_t priceOf(const std::array<double, kPriceTableSize>& scale, uint64_t bits) {
  constexpr int kRestBits = 53 - kPriceTableBits;
  const uint64_t top = bits >> (64 - kPriceTableBits);
  const uint64_t rest = (bits >> 11) & ((uint64_t{1} << kRestBits) - 1);
  const double x = static_cast<double>(rest) * (0x1.0p-53 * kSixLn10);
  // Taylor to x^6 (the error x^7/5040 < 2e-17), in Estrin's form for a short dependency chain.
  const double x2 = x * x;
  const double expX = (1.0 + x) + x2 * (1.0 / 2 + x * (1.0 / 6)) +
                      (x2 * x2) * ((1.0 / 24 + x * (1.0 / 120)) + x2 * (1.0 / 720));
  return static_cast<int64_t>(scale[top] * expX + 0.5);
}

}  // namespace

Result<Generator> Generator::make(const GeneratorConfig& config) {
  if (config.events < 0) {
    return Status::invalidArgument(
        fmt::format("nexmark generator: events must be >= 0, got {}", config.events));
  }
  if (!std::isfinite(config.rate) || config.rate <= 0) {
    return Status::invalidArgument(
        fmt::format("nexmark generator: rate must be a finite number > 0, got {}", config.rate));
  }
  if (config.generators < 1) {
    return Status::invalidArgument(
        fmt::format("nexmark generator: generators must be >= 1, got {}", config.generators));
  }
  if (config.outOfOrderGroupSize < 1) {
    return Status::invalidArgument(fmt::format(
        "nexmark generator: outOfOrderGroupSize must be >= 1, got {}", config.outOfOrderGroupSize));
  }
  if (config.firstEventId < 0) {
    return Status::invalidArgument(
        fmt::format("nexmark generator: firstEventId must be >= 0, got {}", config.firstEventId));
  }
  if (config.firstEventNumber < 0) {
    return Status::invalidArgument(fmt::format(
        "nexmark generator: firstEventNumber must be >= 0, got {}", config.firstEventNumber));
  }
  return Generator(config, buildPools(seedKeyOf(config.seed)));
}

Generator::Generator(const GeneratorConfig& config, std::shared_ptr<const Pools> pools)
    : config_(config),
      delayUs_(1e6 * static_cast<double>(config.generators) / config.rate),
      perGenerator_(config.events / config.generators),
      seedKey_(seedKeyOf(config.seed)),
      pools_(std::move(pools)) {
  const ExtraLength bidExtra = extraLength(32, 100);
  bidExtraMin_ = bidExtra.min;
  bidExtraSpan_ = bidExtra.span;
}

int64_t Generator::eventCount(int generator) const {
  REKA_CHECK_GE(generator, 0);
  REKA_CHECK_LT(generator, config_.generators);
  if (generator == config_.generators - 1) {
    return config_.events - perGenerator_ * (config_.generators - 1);
  }
  return perGenerator_;
}

int64_t Generator::adjustedNumber(int64_t k) const {
  const int64_t num = config_.firstEventNumber + k;
  const int64_t g = config_.outOfOrderGroupSize;
  if (g == 1) return num;
  // num·953 mod g, without overflowing for large num or g.
  const auto offset =
      static_cast<int64_t>(static_cast<__int128>(num % g) * kOutOfOrderMultiplier % g);
  return num / g * g + offset;
}

int64_t Generator::timestampOfNumber(int64_t number) const {
  // Integer microseconds first, then integer milliseconds (number >= 0, so the casts floor).
  const auto micros = static_cast<int64_t>(static_cast<double>(number) * delayUs_);
  return GeneratorConfig::kBaseTime + micros / 1000;
}

int64_t Generator::eventId(int generator, int64_t k) const {
  return config_.firstEventId + static_cast<int64_t>(generator) * perGenerator_ + adjustedNumber(k);
}

int64_t Generator::timestamp(int /*generator*/, int64_t k) const {
  // Generators share baseTime and firstEventNumber: their timelines interleave.
  return timestampOfNumber(adjustedNumber(k));
}

Event Generator::event(int generator, int64_t k, StringArena& arena) const {
  REKA_CHECK_GE(k, 0);
  REKA_CHECK_LT(k, eventCount(generator));
  const int64_t number = adjustedNumber(k);
  const int64_t id =
      config_.firstEventId + static_cast<int64_t>(generator) * perGenerator_ + number;
  const int64_t dateTime = timestampOfNumber(number);
  const int64_t offset = id % kProportion;
  if (offset >= kPersonProportion + kAuctionProportion) return makeBid(id, dateTime);
  if (offset < kPersonProportion) return Event::of(makePerson(id, dateTime, arena));
  return Event::of(makeAuction(id, number, dateTime, arena));
}

Person Generator::makePerson(int64_t id, int64_t dateTime, StringArena& arena) const {
  SplitMix rng = eventStream(seedKey_, id);
  Person person;
  person.id = lastPersonOf(id) + GeneratorConfig::kFirstPersonId;
  const int64_t first = rng.uniform(static_cast<int64_t>(kFirstNames.size()));
  const int64_t last = rng.uniform(static_cast<int64_t>(kLastNames.size()));
  person.name = pools_->names[static_cast<size_t>(first) * kLastNames.size() + last];

  // str(7) + "@" + str(5) + ".com": at most 6 + 1 + 4 + 4 bytes.
  char email[16];
  size_t len = writeRandomString(rng, 7, kSpaceChars, email);
  email[len++] = '@';
  len += writeRandomString(rng, 5, kSpaceChars, email + len);
  std::memcpy(email + len, ".com", 4);
  len += 4;
  person.emailAddress = arena.copy({email, len});

  // Four U(10000) zero-padded to 4 digits, space-separated.
  constexpr size_t kCardBytes = 19;
  char* card = arena.allocate(kCardBytes);
  for (int group = 0; group < 4; ++group) {
    auto value = static_cast<int>(rng.uniform(10000));
    char* digits = card + group * 5;
    for (int d = 3; d >= 0; --d) {
      digits[d] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    if (group < 3) digits[4] = ' ';
  }
  person.creditCard = {card, kCardBytes};

  person.city = kCities[static_cast<size_t>(rng.uniform(static_cast<int64_t>(kCities.size())))];
  person.state = kStates[static_cast<size_t>(rng.uniform(static_cast<int64_t>(kStates.size())))];
  person.dateTime = dateTime;
  const auto current =
      static_cast<int64_t>(8 + person.name.size() + person.emailAddress.size() +
                           person.creditCard.size() + person.city.size() + person.state.size());
  person.extra = extraText(pools_->extra, extraLength(current, 200), rng.next());
  return person;
}

Auction Generator::makeAuction(int64_t id, int64_t number, int64_t dateTime,
                               StringArena& arena) const {
  SplitMix rng = eventStream(seedKey_, id);
  Auction auction;
  auction.id = lastAuctionOf(id) + GeneratorConfig::kFirstAuctionId;

  char text[100];
  size_t len = writeRandomString(rng, 20, kSpaceChars, text);
  auction.itemName = arena.copy({text, len});
  len = writeRandomString(rng, 100, kSpaceChars, text);
  auction.description = arena.copy({text, len});

  auction.initialBid = priceOf(pools_->priceScale, rng.next());
  auction.reserve = auction.initialBid + priceOf(pools_->priceScale, rng.next());
  auction.dateTime = dateTime;
  // About kInFlightAuctions auctions open at a time: the horizon is the time until the auction
  // kInFlightAuctions from now is created, and the length averages that horizon.
  const int64_t horizon = timestampOfNumber(number + kEventsForAuctions) - dateTime;
  auction.expires = dateTime + 1 + rng.uniform(std::max<int64_t>(2 * horizon, 1));

  const int64_t lastPerson = lastPersonOf(id);
  const int64_t seller = (rng.next() >> 62) != 0
                             ? lastPerson / kHotRatio * kHotRatio
                             : randomPersonOf(id, static_cast<uint32_t>(rng.next()));
  auction.seller = seller + GeneratorConfig::kFirstPersonId;
  auction.category = GeneratorConfig::kFirstCategoryId + rng.uniform(5);
  const auto current =
      static_cast<int64_t>(8 + auction.itemName.size() + auction.description.size() + 5 * 8);
  auction.extra = extraText(pools_->extra, extraLength(current, 500), rng.next());
  return auction;
}

Event Generator::makeBid(int64_t id, int64_t dateTime) const {
  SplitMix rng = eventStream(seedKey_, id);
  const Pools& pools = *pools_;
  // Four draws, always all of them, and choices by select() rather than branches: the hot/random
  // coin flips are unpredictable, and a mispredicted branch costs more than the draw it skips.
  // choice: bit 63 hot auction (1/2); bits 61-62 hot bidder unless both 0 (3/4); bit 60 hot
  // channel (1/2); bits 58-59 which hot channel; the low 32 bits U(10000) for a cold channel.
  const uint64_t choice = rng.next();
  const uint64_t foreignKeys = rng.next();  // low half randomAuction, high half randomPerson
  const uint64_t priceBits = rng.next();
  const uint64_t extraBits = rng.next();

  const int64_t hotAuction = lastAuctionOf(id) / kHotRatio * kHotRatio;
  const int64_t coldAuction = randomAuctionOf(id, static_cast<uint32_t>(foreignKeys));
  const int64_t hotBidder = lastPersonOf(id) / kHotRatio * kHotRatio + 1;
  const int64_t coldBidder = randomPersonOf(id, static_cast<uint32_t>(foreignKeys >> 32));
  const int64_t hotChannel = kChannels + static_cast<int64_t>((choice >> 58) & 3);
  const int64_t coldChannel = uniform32(static_cast<uint32_t>(choice), kChannels);

  // Filled in place: bid is the member a default Event holds, and copying a whole Event out of
  // a returned Bid costs a good part of the bid path.
  Event event;
  Bid& bid = event.bid;
  bid.auction =
      select((choice >> 63) != 0, hotAuction, coldAuction) + GeneratorConfig::kFirstAuctionId;
  bid.bidder =
      select(((choice >> 61) & 3) != 0, hotBidder, coldBidder) + GeneratorConfig::kFirstPersonId;
  bid.price = priceOf(pools.priceScale, priceBits);
  const Pools::Channel channel = pools.channels[static_cast<size_t>(
      select(((choice >> 60) & 1) != 0, hotChannel, coldChannel))];
  const char* text = pools.channelText.data() + channel.offset;
  bid.channel = {text, channel.nameLength};
  bid.url = {text + channel.nameLength, channel.urlLength};
  bid.dateTime = dateTime;
  bid.extra = extraText(pools.extra, {bidExtraMin_, bidExtraSpan_}, extraBits);
  return event;
}

}  // namespace reka::nexmark
