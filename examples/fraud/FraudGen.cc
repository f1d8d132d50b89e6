// fraud_gen: a synthetic stream of card transactions with planted frauds, and a scorer for the
// alerts that Reka's rule engine raises on it. Standalone: the C++20 standard library only.
//
//   fraud_gen generate --cards N --events M --seed S --out EVENTS.jsonl --truth TRUTH.jsonl
//                      [--start-ms T0]
//   fraud_gen score --alerts ALERTS.jsonl --truth TRUTH.jsonl
//   fraud_gen selftest   (hidden: generates a small stream and checks it by brute force)
//
// Normal traffic: each card mostly pays in its home city (amounts 5 to 300), about 1.5 % of its
// payments are declined (never two in a row), and 1 % of the cards move to another city once,
// after a gap a plane could make (distance / 700 km/h plus an hour). About one fraud per 1000
// events is planted, a third of each kind, and written to the truth file with the timestamp of
// the event that completes it:
//   test-charges       three approved charges under 2.00 within 3 minutes, then one of 600 to
//                      2000 within 10 minutes of the first;
//   impossible-travel  a payment at home, then 5 to 40 minutes later one in a city at least
//                      1500 km away;
//   declines           three declines within 2 minutes, then an approval within 5 minutes of the
//                      first decline.
// The card's normal events keep 10 minutes away from a planted fraud (and, after an impossible
// trip, a plane's time), so normal traffic neither forms nor breaks a pattern. Everything is
// deterministic for a seed: std::mt19937_64 and distributions written out here, since the
// standard library's distributions differ between implementations.
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Errors as values

/// The message of a failed step, for the user.
struct Failure {
  std::string message;
};

/// A value or the message of why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}
  Result(Failure failure) : error_(std::move(failure.message)) {}

  bool ok() const { return value_.has_value(); }
  /// The value; a program bug (and an abort) when there is none.
  T& value() {
    if (!value_) {
      std::fprintf(stderr, "fraud_gen: bug: value() of a failed result: %s\n", error_.c_str());
      std::abort();
    }
    return *value_;
  }
  const std::string& error() const { return error_; }
  Failure failure() const { return Failure{error_}; }

 private:
  std::optional<T> value_;
  std::string error_;
};

using Status = Result<std::monostate>;

Status okStatus() {
  return std::monostate{};
}

// ---------------------------------------------------------------------------------------------
// Constants

constexpr int64_t kSecondMs = 1000;
constexpr int64_t kMinuteMs = 60 * kSecondMs;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDefaultStartMs = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr int64_t kMeanCardGapMs = 20 * kMinuteMs;
constexpr int64_t kMaxCards = 1000000;  // card ids have six digits
constexpr int64_t kMaxEvents = 100000000;
constexpr int64_t kMaxStartMs = 1000000000000000;
constexpr int64_t kEventsPerFraud = 1000;
constexpr int64_t kFraudMarginMs = 10 * kMinuteMs;  // normal events keep this far from a fraud
constexpr int64_t kFraudSeparationMs = kHourMs;     // between two frauds on one card
constexpr int kMaxPlantAttempts = 1000;
constexpr double kDeclineProbability = 0.015;
constexpr double kTravelProbability = 0.01;
constexpr double kPlaneSpeedKmh = 700.0;
constexpr double kImpossibleTripMinKm = 1500.0;
constexpr double kImpossibleSpeedKmh = 900.0;
constexpr int64_t kScoreToleranceMs = 60 * kSecondMs;
constexpr uint32_t kMerchantsPerCity = 300;

constexpr std::string_view kUsage =
    "usage:\n"
    "  fraud_gen generate --cards N --events M --seed S --out EVENTS.jsonl --truth TRUTH.jsonl"
    " [--start-ms T0]\n"
    "  fraud_gen score --alerts ALERTS.jsonl --truth TRUTH.jsonl\n";

enum class FraudKind : uint8_t { kTestCharges, kImpossibleTravel, kDeclines };

constexpr std::array<FraudKind, 3> kFraudKinds = {
    FraudKind::kTestCharges, FraudKind::kImpossibleTravel, FraudKind::kDeclines};

std::string_view kindName(FraudKind kind) {
  switch (kind) {
    case FraudKind::kTestCharges:
      return "test-charges";
    case FraudKind::kImpossibleTravel:
      return "impossible-travel";
    case FraudKind::kDeclines:
      return "declines";
  }
  return "?";
}

size_t kindIndex(FraudKind kind) {
  return static_cast<size_t>(kind);
}

/// The kind a name or a rule id stands for: the kind whose name begins it.
std::optional<FraudKind> kindOfPrefix(std::string_view text) {
  for (FraudKind kind : kFraudKinds) {
    if (text.starts_with(kindName(kind))) return kind;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Cities

struct City {
  std::string_view name;
  int32_t latE4;  // degrees times 10^4: the four decimals the events carry
  int32_t lonE4;
};

constexpr std::array<City, 30> kCities = {{
    {"Paris", 488566, 23522},        {"London", 515074, -1278},
    {"Berlin", 525200, 134050},      {"Madrid", 404168, -37038},
    {"Rome", 419028, 124964},        {"Amsterdam", 523676, 49041},
    {"Vienna", 482082, 163738},      {"Stockholm", 593293, 180686},
    {"Warsaw", 522297, 210122},      {"Lisbon", 387223, -91393},
    {"Athens", 379838, 237275},      {"Istanbul", 410082, 289784},
    {"Moscow", 557558, 376173},      {"Cairo", 300444, 312357},
    {"Dubai", 252048, 552708},       {"Mumbai", 190760, 728777},
    {"Singapore", 13521, 1038198},   {"Hong Kong", 223193, 1141694},
    {"Tokyo", 356762, 1396503},      {"Seoul", 375665, 1269780},
    {"Sydney", -338688, 1512093},    {"Johannesburg", -262041, 280473},
    {"Lagos", 65244, 33792},         {"New York", 407128, -740060},
    {"Chicago", 418781, -876298},    {"Los Angeles", 340522, -1182437},
    {"Toronto", 436532, -793832},    {"Mexico City", 194326, -991332},
    {"Sao Paulo", -235505, -466333}, {"Buenos Aires", -346037, -583816},
}};

/// Great-circle distance in km between two points given in degrees.
double haversineKm(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kEarthRadiusKm = 6371.0;
  constexpr double kRadiansPerDegree = 3.14159265358979323846 / 180.0;
  const double dLat = (lat2 - lat1) * kRadiansPerDegree;
  const double dLon = (lon2 - lon1) * kRadiansPerDegree;
  const double a = std::sin(dLat / 2) * std::sin(dLat / 2) +
                   std::cos(lat1 * kRadiansPerDegree) * std::cos(lat2 * kRadiansPerDegree) *
                       std::sin(dLon / 2) * std::sin(dLon / 2);
  return 2 * kEarthRadiusKm * std::asin(std::sqrt(std::min(1.0, a)));
}

double cityDistanceKm(size_t a, size_t b) {
  return haversineKm(kCities[a].latE4 / 1e4, kCities[a].lonE4 / 1e4, kCities[b].latE4 / 1e4,
                     kCities[b].lonE4 / 1e4);
}

/// The shortest believable time between payments in two cities: a flight plus an hour.
int64_t flightGapMs(size_t from, size_t to) {
  const double hours = cityDistanceKm(from, to) / kPlaneSpeedKmh;
  return static_cast<int64_t>(std::ceil(hours * static_cast<double>(kHourMs))) + kHourMs;
}

// ---------------------------------------------------------------------------------------------
// Random numbers

/// std::mt19937_64 with distributions written out, so that a seed gives the same stream with
/// every standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  /// Uniform in [0, 1), from the top 53 bits.
  double unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  /// Uniform in [0, n); n > 0.
  uint64_t below(uint64_t n) {
    const auto drawn = static_cast<uint64_t>(unit() * static_cast<double>(n));
    return std::min(drawn, n - 1);
  }

  /// Uniform in [lo, hi].
  int64_t between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }

  bool chance(double probability) { return unit() < probability; }

 private:
  std::mt19937_64 engine_;
};

// ---------------------------------------------------------------------------------------------
// Generation

struct Transaction {
  int64_t ts;
  int32_t amountCents;
  uint16_t merchant;
  uint8_t city;
  bool declined;
};

/// A stretch of one card's time without normal events: [start, end).
struct QuietSpan {
  int64_t start;
  int64_t end;
};

struct Trip {
  uint8_t destination;
  QuietSpan flight;  // the card pays at home before, at the destination after
};

struct CardProfile {
  uint8_t home;
  std::optional<Trip> trip;
};

struct PlantedFraud {
  uint32_t card;
  FraudKind kind;
  std::vector<Transaction> events;  // in time order; the last one completes the pattern
  QuietSpan quiet;                  // the events and the margins around them

  int64_t truthTs() const { return events.back().ts; }
};

struct GenerateOptions {
  int64_t cards = 0;
  int64_t events = 0;
  uint64_t seed = 0;
  std::string outPath;
  std::string truthPath;
  int64_t startMs = kDefaultStartMs;
};

struct GenerateSummary {
  int64_t events = 0;
  int64_t cards = 0;
  std::array<int64_t, 3> fraudsPerKind{};
  int64_t firstTs = 0;
  int64_t lastTs = 0;
};

/// Uniform in [0, limit), or 0 where the limit is not positive.
int64_t randomOffset(Rng& rng, int64_t limit) {
  return limit <= 0 ? 0 : static_cast<int64_t>(rng.below(static_cast<uint64_t>(limit)));
}

uint16_t merchantIn(Rng& rng, size_t city) {
  return static_cast<uint16_t>(city * kMerchantsPerCity + rng.below(kMerchantsPerCity));
}

/// Everyday amounts from 5.00 to 299.99, most of them small: a product of three uniforms has a
/// long right tail like spending does, and needs no libm function whose last bit could vary.
int32_t everydayAmountCents(Rng& rng) {
  const double skew = rng.unit() * rng.unit() * rng.unit();
  return 500 + static_cast<int32_t>(skew * 29500.0);
}

std::vector<CardProfile> makeCards(Rng& rng, int64_t cards, int64_t t0, int64_t spanMs) {
  std::vector<CardProfile> profiles(static_cast<size_t>(cards));
  for (CardProfile& profile : profiles) {
    profile.home = static_cast<uint8_t>(rng.below(kCities.size()));
    if (!rng.chance(kTravelProbability)) continue;
    const auto other = static_cast<uint8_t>(rng.below(kCities.size() - 1));
    const uint8_t destination = other >= profile.home ? other + 1 : other;
    // The flight lies inside the stream's span where it fits, so that the card ends on time.
    const int64_t gap = flightGapMs(profile.home, destination);
    const int64_t leave = t0 + randomOffset(rng, spanMs - gap);
    profile.trip = Trip{destination, {leave, leave + gap}};
  }
  return profiles;
}

std::vector<Transaction> plantTestCharges(Rng& rng, uint8_t home, int64_t first) {
  std::vector<Transaction> events;
  int64_t ts = first;
  for (int i = 0; i < 3; ++i) {
    if (i > 0) ts += rng.between(10 * kSecondMs, 80 * kSecondMs);
    const auto cents = static_cast<int32_t>(rng.between(50, 199));
    events.push_back({ts, cents, merchantIn(rng, home), home, false});
  }
  ts += rng.between(30 * kSecondMs, 6 * kMinuteMs);
  const auto large = static_cast<int32_t>(rng.between(60000, 200000));
  events.push_back({ts, large, merchantIn(rng, home), home, false});
  return events;
}

std::vector<Transaction> plantImpossibleTravel(Rng& rng, uint8_t home, int64_t first) {
  std::vector<uint8_t> farCities;
  for (size_t city = 0; city < kCities.size(); ++city) {
    if (cityDistanceKm(home, city) >= kImpossibleTripMinKm) {
      farCities.push_back(static_cast<uint8_t>(city));
    }
  }
  const uint8_t far = farCities[rng.below(farCities.size())];
  const int64_t second = first + rng.between(5 * kMinuteMs, 40 * kMinuteMs);
  const auto farAmount = static_cast<int32_t>(rng.between(2000, 150000));
  return {{first, everydayAmountCents(rng), merchantIn(rng, home), home, false},
          {second, farAmount, merchantIn(rng, far), far, false}};
}

std::vector<Transaction> plantDeclines(Rng& rng, uint8_t home, int64_t first) {
  std::vector<Transaction> events;
  int64_t ts = first;
  for (int i = 0; i < 3; ++i) {
    if (i > 0) ts += rng.between(5 * kSecondMs, 50 * kSecondMs);
    const auto cents = static_cast<int32_t>(rng.between(20000, 90000));
    events.push_back({ts, cents, merchantIn(rng, home), home, true});
  }
  ts += rng.between(10 * kSecondMs, 3 * kMinuteMs);
  const auto cents = static_cast<int32_t>(rng.between(1000, 20000));
  events.push_back({ts, cents, merchantIn(rng, home), home, false});
  return events;
}

/// A fraud of `kind` on `card` whose first event is at `first`, with its quiet span.
PlantedFraud plantFraudAt(Rng& rng, FraudKind kind, uint32_t card, uint8_t home, int64_t first) {
  PlantedFraud fraud{card, kind, {}, {}};
  switch (kind) {
    case FraudKind::kTestCharges:
      fraud.events = plantTestCharges(rng, home, first);
      break;
    case FraudKind::kImpossibleTravel:
      fraud.events = plantImpossibleTravel(rng, home, first);
      break;
    case FraudKind::kDeclines:
      fraud.events = plantDeclines(rng, home, first);
      break;
  }
  int64_t after = kFraudMarginMs;
  if (kind == FraudKind::kImpossibleTravel) {
    after = std::max(after, flightGapMs(fraud.events.back().city, home));
  }
  fraud.quiet = {first - kFraudMarginMs, fraud.truthTs() + after};
  return fraud;
}

/// A fraud of `kind` on `card` at a random time, with its quiet span: 10 minutes on each side,
/// and after an impossible trip at least the flight back home. The quiet span lies inside
/// [t0, t0 + spanMs) where it fits.
PlantedFraud plantFraud(Rng& rng, FraudKind kind, uint32_t card, uint8_t home, int64_t t0,
                        int64_t spanMs) {
  PlantedFraud fraud = plantFraudAt(rng, kind, card, home, 0);
  const int64_t shift =
      t0 + randomOffset(rng, spanMs - (fraud.quiet.end - fraud.quiet.start)) - fraud.quiet.start;
  for (Transaction& event : fraud.events) event.ts += shift;
  fraud.quiet = {fraud.quiet.start + shift, fraud.quiet.end + shift};
  return fraud;
}

bool overlapsWithSeparation(const std::vector<QuietSpan>& taken, QuietSpan candidate) {
  return std::any_of(taken.begin(), taken.end(), [&](const QuietSpan& span) {
    return span.start < candidate.end + kFraudSeparationMs &&
           candidate.start < span.end + kFraudSeparationMs;
  });
}

/// About one fraud per kEventsPerFraud events, a third of each kind, round robin, on cards
/// that stay at home; a fraud that finds no free place after kMaxPlantAttempts is left out.
std::vector<PlantedFraud> planFrauds(Rng& rng, const std::vector<CardProfile>& cards,
                                     int64_t events, int64_t t0, int64_t spanMs) {
  const int64_t perKind = (events + 3 * kEventsPerFraud / 2) / (3 * kEventsPerFraud);
  std::map<uint32_t, std::vector<QuietSpan>> takenByCard;
  std::vector<PlantedFraud> frauds;
  for (int64_t i = 0; i < 3 * perKind; ++i) {
    const FraudKind kind = kFraudKinds[static_cast<size_t>(i % 3)];
    for (int attempt = 0; attempt < kMaxPlantAttempts; ++attempt) {
      const auto card = static_cast<uint32_t>(rng.below(cards.size()));
      if (cards[card].trip) continue;
      PlantedFraud fraud = plantFraud(rng, kind, card, cards[card].home, t0, spanMs);
      std::vector<QuietSpan>& taken = takenByCard[card];
      if (overlapsWithSeparation(taken, fraud.quiet)) continue;
      taken.push_back(fraud.quiet);
      frauds.push_back(std::move(fraud));
      break;
    }
  }
  return frauds;
}

/// One card's normal events: `count` instants spread uniformly over the card's free time in
/// [t0, t0 + spanMs) (its quiet spans, sorted, cut out), strictly increasing.
std::vector<Transaction> normalTimeline(Rng& rng, const CardProfile& card,
                                        const std::vector<QuietSpan>& quiet, int64_t count,
                                        int64_t t0, int64_t spanMs) {
  int64_t quietMs = 0;
  for (const QuietSpan& span : quiet) quietMs += span.end - span.start;
  const int64_t freeMs = std::max(spanMs - quietMs, 2 * count + 1);
  std::vector<int64_t> offsets(static_cast<size_t>(count));
  for (int64_t& offset : offsets) {
    offset = static_cast<int64_t>(rng.below(static_cast<uint64_t>(freeMs - count + 1)));
  }
  std::sort(offsets.begin(), offsets.end());
  std::vector<Transaction> events;
  events.reserve(offsets.size());
  size_t nextQuiet = 0;
  int64_t shift = 0;
  bool lastDeclined = false;
  for (size_t i = 0; i < offsets.size(); ++i) {
    int64_t ts = t0 + offsets[i] + static_cast<int64_t>(i) + shift;
    while (nextQuiet < quiet.size() && ts >= quiet[nextQuiet].start) {
      const int64_t length = quiet[nextQuiet].end - quiet[nextQuiet].start;
      shift += length;
      ts += length;
      ++nextQuiet;
    }
    const bool abroad = card.trip && ts >= card.trip->flight.end;
    const uint8_t city = abroad ? card.trip->destination : card.home;
    const int32_t amount = everydayAmountCents(rng);
    // Declines stay isolated: two in a row would be half of a burst.
    const bool declined = !lastDeclined && rng.chance(kDeclineProbability);
    lastDeclined = declined;
    events.push_back({ts, amount, merchantIn(rng, city), city, declined});
  }
  return events;
}

/// All cards' events, card after card in time order: `offsets[c]` is where card c begins.
struct CardTimelines {
  std::vector<Transaction> events;
  std::vector<size_t> offsets;
};

CardTimelines buildTimelines(Rng& rng, const std::vector<CardProfile>& cards,
                             std::vector<PlantedFraud>& frauds, int64_t normalEvents, int64_t t0,
                             int64_t spanMs) {
  std::vector<uint32_t> counts(cards.size());
  for (int64_t i = 0; i < normalEvents; ++i) ++counts[rng.below(cards.size())];
  std::sort(frauds.begin(), frauds.end(), [](const PlantedFraud& a, const PlantedFraud& b) {
    return std::tie(a.card, a.quiet.start) < std::tie(b.card, b.quiet.start);
  });
  CardTimelines timelines;
  timelines.offsets.reserve(cards.size() + 1);
  size_t nextFraud = 0;
  for (size_t card = 0; card < cards.size(); ++card) {
    std::vector<QuietSpan> quiet;
    if (cards[card].trip) quiet.push_back(cards[card].trip->flight);
    const size_t firstFraud = nextFraud;
    while (nextFraud < frauds.size() && frauds[nextFraud].card == card) {
      quiet.push_back(frauds[nextFraud++].quiet);
    }
    std::vector<Transaction> events =
        normalTimeline(rng, cards[card], quiet, counts[card], t0, spanMs);
    for (size_t f = firstFraud; f < nextFraud; ++f) {
      events.insert(events.end(), frauds[f].events.begin(), frauds[f].events.end());
    }
    std::sort(events.begin(), events.end(),
              [](const Transaction& a, const Transaction& b) { return a.ts < b.ts; });
    timelines.offsets.push_back(timelines.events.size());
    timelines.events.insert(timelines.events.end(), events.begin(), events.end());
  }
  timelines.offsets.push_back(timelines.events.size());
  return timelines;
}

// ---------------------------------------------------------------------------------------------
// Writing JSON lines

void appendInt(std::string& out, int64_t value) {
  char digits[24];
  const auto [end, error] = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, end);
}

/// `value / 10^decimals` with exactly `decimals` decimals.
void appendScaled(std::string& out, int64_t value, int decimals) {
  if (value < 0) out.push_back('-');
  const uint64_t magnitude =
      value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  uint64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  appendInt(out, static_cast<int64_t>(magnitude / scale));
  out.push_back('.');
  uint64_t fraction = magnitude % scale;
  char tail[20];
  for (int i = decimals - 1; i >= 0; --i) {
    tail[i] = static_cast<char>('0' + fraction % 10);
    fraction /= 10;
  }
  out.append(tail, static_cast<size_t>(decimals));
}

void appendPadded(std::string& out, char prefix, uint64_t value, int width) {
  out.push_back(prefix);
  char digits[20];
  for (int i = width - 1; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(digits, static_cast<size_t>(width));
}

/// A file written through a large buffer; errors show at flush and close.
class BufferedFile {
 public:
  static Result<BufferedFile> create(const std::string& path) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return Failure{"cannot create " + path + ": " + std::strerror(errno)};
    return BufferedFile(path, std::move(out));
  }

  /// The buffer to append to; call flushIfFull() now and then.
  std::string& buffer() { return buffer_; }

  Status flushIfFull() {
    if (buffer_.size() < kFlushBytes) return okStatus();
    return flush();
  }

  Status close() {
    Status flushed = flush();
    if (!flushed.ok()) return flushed;
    out_.close();
    if (!out_) return Failure{"cannot write " + path_};
    return okStatus();
  }

 private:
  static constexpr size_t kFlushBytes = size_t{4} << 20;

  BufferedFile(std::string path, std::ofstream out) : path_(std::move(path)), out_(std::move(out)) {
    buffer_.reserve(kFlushBytes + 4096);
  }

  Status flush() {
    out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    buffer_.clear();
    if (!out_) return Failure{"cannot write " + path_ + ": " + std::strerror(errno)};
    return okStatus();
  }

  std::string path_;
  std::ofstream out_;
  std::string buffer_;
};

/// Per city, the part of an event line from the city to the opening quote of the status.
std::vector<std::string> cityFragments() {
  std::vector<std::string> fragments;
  for (const City& city : kCities) {
    std::string fragment = ",\"city\":\"";
    fragment += city.name;
    fragment += "\",\"lat\":";
    appendScaled(fragment, city.latE4, 4);
    fragment += ",\"lon\":";
    appendScaled(fragment, city.lonE4, 4);
    fragment += ",\"status\":\"";
    fragments.push_back(std::move(fragment));
  }
  return fragments;
}

void appendEventLine(std::string& out, const std::vector<std::string>& fragments, uint32_t card,
                     const Transaction& event) {
  out += "{\"card\":\"";
  appendPadded(out, 'c', card, 6);
  out += "\",\"ts\":";
  appendInt(out, event.ts);
  out += ",\"amount\":";
  appendScaled(out, event.amountCents, 2);
  out += fragments[event.city];
  out += event.declined ? "declined" : "approved";
  out += "\",\"merchant\":\"";
  appendPadded(out, 'm', event.merchant, 4);
  out += "\"}\n";
}

/// Writes all cards' events merged by time (ties by card), returning the first and last ts.
Result<std::pair<int64_t, int64_t>> writeEvents(const std::string& path,
                                                const CardTimelines& timelines) {
  Result<BufferedFile> file = BufferedFile::create(path);
  if (!file.ok()) return file.failure();
  const std::vector<std::string> fragments = cityFragments();
  using Head = std::tuple<int64_t, uint32_t, size_t>;  // ts, card, index in events
  std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
  const size_t cards = timelines.offsets.size() - 1;
  for (size_t card = 0; card < cards; ++card) {
    const size_t begin = timelines.offsets[card];
    if (begin == timelines.offsets[card + 1]) continue;
    heads.emplace(timelines.events[begin].ts, static_cast<uint32_t>(card), begin);
  }
  std::pair<int64_t, int64_t> range{0, 0};
  bool first = true;
  while (!heads.empty()) {
    const auto [ts, card, index] = heads.top();
    heads.pop();
    if (first) range.first = ts;
    first = false;
    range.second = ts;
    appendEventLine(file.value().buffer(), fragments, card, timelines.events[index]);
    if (index + 1 < timelines.offsets[card + 1]) {
      heads.emplace(timelines.events[index + 1].ts, card, index + 1);
    }
    Status flushed = file.value().flushIfFull();
    if (!flushed.ok()) return flushed.failure();
  }
  Status closed = file.value().close();
  if (!closed.ok()) return closed.failure();
  return range;
}

Status writeTruth(const std::string& path, std::vector<PlantedFraud> frauds) {
  std::sort(frauds.begin(), frauds.end(), [](const PlantedFraud& a, const PlantedFraud& b) {
    return std::make_tuple(a.truthTs(), a.card) < std::make_tuple(b.truthTs(), b.card);
  });
  Result<BufferedFile> file = BufferedFile::create(path);
  if (!file.ok()) return file.failure();
  std::string& out = file.value().buffer();
  for (const PlantedFraud& fraud : frauds) {
    out += "{\"card\":\"";
    appendPadded(out, 'c', fraud.card, 6);
    out += "\",\"kind\":\"";
    out += kindName(fraud.kind);
    out += "\",\"ts\":";
    appendInt(out, fraud.truthTs());
    out += "}\n";
  }
  return file.value().close();
}

Result<GenerateSummary> generate(const GenerateOptions& options) {
  Rng rng(options.seed);
  const int64_t spanMs = std::max<int64_t>(1, options.events * kMeanCardGapMs / options.cards);
  const std::vector<CardProfile> cards = makeCards(rng, options.cards, options.startMs, spanMs);
  std::vector<PlantedFraud> frauds =
      planFrauds(rng, cards, options.events, options.startMs, spanMs);
  GenerateSummary summary;
  summary.cards = options.cards;
  int64_t plantedEvents = 0;
  for (const PlantedFraud& fraud : frauds) {
    plantedEvents += static_cast<int64_t>(fraud.events.size());
    ++summary.fraudsPerKind[kindIndex(fraud.kind)];
  }
  const CardTimelines timelines =
      buildTimelines(rng, cards, frauds, options.events - plantedEvents, options.startMs, spanMs);
  summary.events = static_cast<int64_t>(timelines.events.size());
  Result<std::pair<int64_t, int64_t>> range = writeEvents(options.outPath, timelines);
  if (!range.ok()) return range.failure();
  std::tie(summary.firstTs, summary.lastTs) = range.value();
  Status truth = writeTruth(options.truthPath, std::move(frauds));
  if (!truth.ok()) return truth.failure();
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Reading JSON lines

enum class JsonType { kString, kNumber, kOther };

/// A top-level member of a JSON object: strings unescaped, numbers as written, others empty.
struct JsonField {
  std::string key;
  JsonType type;
  std::string text;
};

/// Reads the top level of one JSON object; nested objects and arrays are checked and skipped.
class JsonObjectScanner {
 public:
  explicit JsonObjectScanner(std::string_view text) : text_(text) {}

  Result<std::vector<JsonField>> fields() {
    std::vector<JsonField> fields;
    skipSpace();
    if (!consume('{')) return fail("expected '{'");
    skipSpace();
    if (!consume('}')) {
      while (true) {
        Result<JsonField> field = member();
        if (!field.ok()) return field.failure();
        fields.push_back(std::move(field.value()));
        skipSpace();
        if (consume('}')) break;
        if (!consume(',')) return fail("expected ',' or '}'");
      }
    }
    skipSpace();
    if (pos_ != text_.size()) return fail("unexpected text after the object");
    return fields;
  }

 private:
  static constexpr int kMaxDepth = 128;

  Result<JsonField> member() {
    skipSpace();
    Result<std::string> key = string();
    if (!key.ok()) return key.failure();
    skipSpace();
    if (!consume(':')) return fail("expected ':'");
    skipSpace();
    JsonField field{std::move(key.value()), JsonType::kOther, {}};
    if (peek() == '"') {
      Result<std::string> text = string();
      if (!text.ok()) return text.failure();
      field.type = JsonType::kString;
      field.text = std::move(text.value());
    } else if (peek() == '-' || (peek() >= '0' && peek() <= '9')) {
      Result<std::string_view> numberText = number();
      if (!numberText.ok()) return numberText.failure();
      field.type = JsonType::kNumber;
      field.text = numberText.value();
    } else {
      Status skipped = skipValue(1);
      if (!skipped.ok()) return skipped.failure();
    }
    return field;
  }

  Status skipValue(int depth) {
    if (depth > kMaxDepth) return fail("nested too deeply");
    skipSpace();
    const char c = peek();
    if (c == '"') {
      Result<std::string> text = string();
      return text.ok() ? okStatus() : text.failure();
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      Result<std::string_view> text = number();
      return text.ok() ? okStatus() : text.failure();
    }
    if (c == '{' || c == '[') return skipContainer(depth);
    for (std::string_view literal : {"true", "false", "null"}) {
      if (text_.substr(pos_).starts_with(literal)) {
        pos_ += literal.size();
        return okStatus();
      }
    }
    return fail("expected a value");
  }

  Status skipContainer(int depth) {
    const bool object = consume('{');
    if (!object) consume('[');
    const char close = object ? '}' : ']';
    skipSpace();
    if (consume(close)) return okStatus();
    while (true) {
      skipSpace();
      if (object) {
        Result<std::string> key = string();
        if (!key.ok()) return key.failure();
        skipSpace();
        if (!consume(':')) return fail("expected ':'");
      }
      Status value = skipValue(depth + 1);
      if (!value.ok()) return value;
      skipSpace();
      if (consume(close)) return okStatus();
      if (!consume(',')) return fail(object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }

  Result<std::string> string() {
    if (!consume('"')) return fail("expected a string");
    std::string out;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      Status escaped = escape(out);
      if (!escaped.ok()) return escaped.failure();
    }
    return fail("unterminated string");
  }

  // After a backslash: appends the character it stands for.
  Status escape(std::string& out) {
    if (pos_ >= text_.size()) return fail("unterminated string");
    const char c = text_[pos_++];
    constexpr std::string_view kEscapes = "\"\\/bfnrt";
    constexpr std::string_view kMeanings = "\"\\/\b\f\n\r\t";
    if (const size_t at = kEscapes.find(c); at != std::string_view::npos) {
      out.push_back(kMeanings[at]);
      return okStatus();
    }
    if (c != 'u') return fail("bad escape in a string");
    std::optional<uint32_t> unit = hex4();
    if (!unit) return fail("bad \\u escape");
    uint32_t codePoint = *unit;
    if (codePoint >= 0xD800 && codePoint <= 0xDBFF) {
      if (!text_.substr(pos_).starts_with("\\u")) return fail("lone surrogate in \\u escape");
      pos_ += 2;
      std::optional<uint32_t> low = hex4();
      if (!low || *low < 0xDC00 || *low > 0xDFFF) return fail("bad surrogate pair");
      codePoint = 0x10000 + ((codePoint - 0xD800) << 10) + (*low - 0xDC00);
    } else if (codePoint >= 0xDC00 && codePoint <= 0xDFFF) {
      return fail("lone surrogate in \\u escape");
    }
    appendUtf8(out, codePoint);
    return okStatus();
  }

  std::optional<uint32_t> hex4() {
    if (text_.size() - pos_ < 4) return std::nullopt;
    uint32_t value = 0;
    const auto [end, error] =
        std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, value, 16);
    if (error != std::errc() || end != text_.data() + pos_ + 4) return std::nullopt;
    pos_ += 4;
    return value;
  }

  static void appendUtf8(std::string& out, uint32_t codePoint) {
    auto byte = [&](uint32_t value) { out.push_back(static_cast<char>(value)); };
    if (codePoint < 0x80) {
      byte(codePoint);
    } else if (codePoint < 0x800) {
      byte(0xC0 | (codePoint >> 6));
      byte(0x80 | (codePoint & 0x3F));
    } else if (codePoint < 0x10000) {
      byte(0xE0 | (codePoint >> 12));
      byte(0x80 | ((codePoint >> 6) & 0x3F));
      byte(0x80 | (codePoint & 0x3F));
    } else {
      byte(0xF0 | (codePoint >> 18));
      byte(0x80 | ((codePoint >> 12) & 0x3F));
      byte(0x80 | ((codePoint >> 6) & 0x3F));
      byte(0x80 | (codePoint & 0x3F));
    }
  }

  // A number as JSON writes it: -?digits(.digits)?([eE][+-]?digits)?
  Result<std::string_view> number() {
    const size_t start = pos_;
    consume('-');
    if (!digits()) return fail("bad number");
    if (consume('.') && !digits()) return fail("bad number");
    if (consume('e') || consume('E')) {
      if (!consume('+')) consume('-');
      if (!digits()) return fail("bad number");
    }
    return text_.substr(start, pos_ - start);
  }

  bool digits() {
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  bool consume(char c) {
    if (peek() != c || pos_ >= text_.size()) return false;
    ++pos_;
    return true;
  }

  void skipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\n')) {
      ++pos_;
    }
  }

  Failure fail(std::string_view what) const {
    return Failure{"column " + std::to_string(pos_ + 1) + ": " + std::string(what)};
  }

  std::string_view text_;
  size_t pos_ = 0;
};

const JsonField* findField(const std::vector<JsonField>& fields, std::string_view key) {
  const JsonField* found = nullptr;
  for (const JsonField& field : fields) {
    if (field.key == key) found = &field;  // the last one wins, as in most parsers
  }
  return found;
}

Result<std::string> stringField(const std::vector<JsonField>& fields, std::string_view key) {
  const JsonField* field = findField(fields, key);
  if (field == nullptr) return Failure{"missing \"" + std::string(key) + "\""};
  if (field->type != JsonType::kString) {
    return Failure{"\"" + std::string(key) + "\" is not a string"};
  }
  return field->text;
}

Result<double> numberField(const std::vector<JsonField>& fields, std::string_view key) {
  const JsonField* field = findField(fields, key);
  if (field == nullptr) return Failure{"missing \"" + std::string(key) + "\""};
  double value = 0;
  const char* end = field->text.data() + field->text.size();
  if (field->type != JsonType::kNumber ||
      std::from_chars(field->text.data(), end, value).ptr != end || !std::isfinite(value)) {
    return Failure{"\"" + std::string(key) + "\" is not a number"};
  }
  return value;
}

/// A millisecond timestamp: an integer, or a number with a fraction (rounded down).
Result<int64_t> millisField(const std::vector<JsonField>& fields, std::string_view key) {
  const JsonField* field = findField(fields, key);
  if (field != nullptr && field->type == JsonType::kNumber) {
    int64_t value = 0;
    const char* end = field->text.data() + field->text.size();
    const auto [ptr, error] = std::from_chars(field->text.data(), end, value);
    if (error == std::errc() && ptr == end) return value;
  }
  Result<double> number = numberField(fields, key);
  if (!number.ok()) return number.failure();
  if (std::fabs(number.value()) > 9e15) {
    return Failure{"\"" + std::string(key) + "\" is out of range"};
  }
  return static_cast<int64_t>(std::floor(number.value()));
}

Result<std::string> readFile(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return Failure{path + ": is a directory"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return Failure{"cannot open " + path + ": " + std::strerror(errno)};
  std::string data;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof(chunk)) || in.gcount() > 0) {
    data.append(chunk, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Failure{"cannot read " + path};
  return data;
}

/// Calls `onLine(lineNumber, line)` for each line that is not blank; the first failure, with
/// the file and line number, ends the walk.
Status forEachLine(const std::string& path,
                   const std::function<Status(size_t, std::string_view)>& onLine) {
  Result<std::string> data = readFile(path);
  if (!data.ok()) return data.failure();
  std::string_view rest = data.value();
  size_t lineNumber = 0;
  while (!rest.empty()) {
    const size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    ++lineNumber;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    Status status = onLine(lineNumber, line);
    if (!status.ok()) {
      return Failure{path + ":" + std::to_string(lineNumber) + ": " + status.error()};
    }
  }
  return okStatus();
}

// ---------------------------------------------------------------------------------------------
// Scoring

struct TruthEntry {
  std::string card;
  FraudKind kind;
  int64_t ts;
};

struct Alert {
  std::string rule;
  std::string key;
  int64_t end;
};

Result<std::vector<TruthEntry>> readTruth(const std::string& path) {
  std::vector<TruthEntry> truth;
  Status read = forEachLine(path, [&](size_t, std::string_view line) -> Status {
    Result<std::vector<JsonField>> fields = JsonObjectScanner(line).fields();
    if (!fields.ok()) return fields.failure();
    Result<std::string> card = stringField(fields.value(), "card");
    if (!card.ok()) return card.failure();
    Result<std::string> kindText = stringField(fields.value(), "kind");
    if (!kindText.ok()) return kindText.failure();
    const std::optional<FraudKind> kind = kindOfPrefix(kindText.value());
    if (!kind || kindName(*kind) != kindText.value()) {
      return Failure{"unknown kind \"" + kindText.value() + "\""};
    }
    Result<int64_t> ts = millisField(fields.value(), "ts");
    if (!ts.ok()) return ts.failure();
    truth.push_back({std::move(card.value()), *kind, ts.value()});
    return okStatus();
  });
  if (!read.ok()) return read.failure();
  return truth;
}

Result<std::vector<Alert>> readAlerts(const std::string& path) {
  std::vector<Alert> alerts;
  Status read = forEachLine(path, [&](size_t, std::string_view line) -> Status {
    Result<std::vector<JsonField>> fields = JsonObjectScanner(line).fields();
    if (!fields.ok()) return fields.failure();
    Result<std::string> rule = stringField(fields.value(), "rule");
    if (!rule.ok()) return rule.failure();
    // A key is a string; a numeric key is taken as written.
    const JsonField* keyField = findField(fields.value(), "key");
    if (keyField == nullptr || keyField->type == JsonType::kOther) {
      return Failure{"missing \"key\" (a string)"};
    }
    Result<int64_t> end = millisField(fields.value(), "end");
    if (!end.ok()) return end.failure();
    alerts.push_back({std::move(rule.value()), keyField->text, end.value()});
    return okStatus();
  });
  if (!read.ok()) return read.failure();
  return alerts;
}

struct KindScore {
  int64_t planted = 0;
  int64_t detected = 0;
  int64_t alerts = 0;
  int64_t trueAlerts = 0;  // alerts at a planted fraud, duplicates included

  int64_t duplicates() const { return trueAlerts - detected; }
  int64_t falseAlerts() const { return alerts - trueAlerts; }
};

struct ScoreReport {
  std::array<KindScore, 3> kinds;
  int64_t otherAlerts = 0;  // rule ids of no known kind

  KindScore total() const {
    KindScore sum;
    for (const KindScore& kind : kinds) {
      sum.planted += kind.planted;
      sum.detected += kind.detected;
      sum.alerts += kind.alerts;
      sum.trueAlerts += kind.trueAlerts;
    }
    return sum;
  }
};

struct PlantedTruth {
  int64_t ts;
  bool detected;
};

ScoreReport computeScore(const std::vector<TruthEntry>& truth, const std::vector<Alert>& alerts) {
  ScoreReport report;
  std::map<std::pair<FraudKind, std::string>, std::vector<PlantedTruth>> planted;
  for (const TruthEntry& entry : truth) {
    planted[{entry.kind, entry.card}].push_back({entry.ts, false});
    ++report.kinds[kindIndex(entry.kind)].planted;
  }
  for (auto& [key, frauds] : planted) {
    std::sort(frauds.begin(), frauds.end(),
              [](const PlantedTruth& a, const PlantedTruth& b) { return a.ts < b.ts; });
  }
  for (const Alert& alert : alerts) {
    const std::optional<FraudKind> kind = kindOfPrefix(alert.rule);
    if (!kind) {
      ++report.otherAlerts;
      continue;
    }
    KindScore& score = report.kinds[kindIndex(*kind)];
    ++score.alerts;
    auto found = planted.find({*kind, alert.key});
    if (found == planted.end()) continue;
    // The nearest planted fraud in the window that no alert has claimed yet, if any.
    PlantedTruth* match = nullptr;
    bool inWindow = false;
    for (PlantedTruth& fraud : found->second) {
      if (fraud.ts < alert.end - kScoreToleranceMs || fraud.ts > alert.end + kScoreToleranceMs) {
        continue;
      }
      inWindow = true;
      if (!fraud.detected && (match == nullptr || std::llabs(fraud.ts - alert.end) <
                                                      std::llabs(match->ts - alert.end))) {
        match = &fraud;
      }
    }
    if (!inWindow) continue;
    ++score.trueAlerts;
    if (match != nullptr) {
      match->detected = true;
      ++score.detected;
    }
  }
  return report;
}

std::string ratio(int64_t numerator, int64_t denominator) {
  if (denominator == 0) return "n/a";
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f",
                static_cast<double>(numerator) / static_cast<double>(denominator));
  return text;
}

std::string formatScore(const ScoreReport& report) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof(line), "%-18s %8s %9s %7s %12s %11s %13s %10s %7s\n", "kind",
                "planted", "detected", "alerts", "true_alerts", "duplicates", "false_alerts",
                "precision", "recall");
  out += line;
  auto row = [&](std::string_view name, const KindScore& score) {
    std::snprintf(
        line, sizeof(line), "%-18.*s %8lld %9lld %7lld %12lld %11lld %13lld %10s %7s\n",
        static_cast<int>(name.size()), name.data(), static_cast<long long>(score.planted),
        static_cast<long long>(score.detected), static_cast<long long>(score.alerts),
        static_cast<long long>(score.trueAlerts), static_cast<long long>(score.duplicates()),
        static_cast<long long>(score.falseAlerts()), ratio(score.trueAlerts, score.alerts).c_str(),
        ratio(score.detected, score.planted).c_str());
    out += line;
  };
  for (FraudKind kind : kFraudKinds) row(kindName(kind), report.kinds[kindIndex(kind)]);
  const KindScore total = report.total();
  row("total", total);
  out += "other alerts (ignored rules): " + std::to_string(report.otherAlerts) + "\n";
  out += "total precision=" + ratio(total.trueAlerts, total.alerts) +
         " recall=" + ratio(total.detected, total.planted) + "\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// Command line

struct FlagSpec {
  std::string_view name;  // without the dashes
  bool required;
};

/// `--name value` or `--name=value` for each flag in `specs`.
Result<std::map<std::string, std::string>> parseFlags(std::span<const std::string_view> args,
                                                      std::initializer_list<FlagSpec> specs) {
  std::map<std::string, std::string> values;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (!arg.starts_with("--")) return Failure{"unexpected argument '" + std::string(arg) + "'"};
    std::string name(arg.substr(2));
    std::optional<std::string> value;
    if (const size_t equals = name.find('='); equals != std::string::npos) {
      value = name.substr(equals + 1);
      name.resize(equals);
    }
    const bool known = std::any_of(specs.begin(), specs.end(),
                                   [&](const FlagSpec& spec) { return spec.name == name; });
    if (!known) return Failure{"unknown flag --" + name};
    if (!value) {
      if (i + 1 >= args.size()) return Failure{"flag --" + name + " needs a value"};
      value = std::string(args[++i]);
    }
    if (!values.emplace(name, *value).second) return Failure{"flag --" + name + " given twice"};
  }
  for (const FlagSpec& spec : specs) {
    if (spec.required && !values.contains(std::string(spec.name))) {
      return Failure{"missing --" + std::string(spec.name)};
    }
  }
  return values;
}

template <typename T>
Result<T> parseInteger(const std::string& flag, const std::string& text, T min, T max) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end || value < min || value > max) {
    return Failure{"--" + flag + " must be an integer from " + std::to_string(min) + " to " +
                   std::to_string(max) + ", not '" + text + "'"};
  }
  return value;
}

Result<GenerateOptions> parseGenerateOptions(std::span<const std::string_view> args) {
  auto flags = parseFlags(args, {{"cards", true},
                                 {"events", true},
                                 {"seed", true},
                                 {"out", true},
                                 {"truth", true},
                                 {"start-ms", false}});
  if (!flags.ok()) return flags.failure();
  std::map<std::string, std::string>& values = flags.value();
  GenerateOptions options;
  Result<int64_t> cards = parseInteger<int64_t>("cards", values["cards"], 1, kMaxCards);
  if (!cards.ok()) return cards.failure();
  Result<int64_t> events = parseInteger<int64_t>("events", values["events"], 1, kMaxEvents);
  if (!events.ok()) return events.failure();
  Result<uint64_t> seed = parseInteger<uint64_t>("seed", values["seed"], 0, UINT64_MAX);
  if (!seed.ok()) return seed.failure();
  if (values.contains("start-ms")) {
    Result<int64_t> start = parseInteger<int64_t>("start-ms", values["start-ms"], 0, kMaxStartMs);
    if (!start.ok()) return start.failure();
    options.startMs = start.value();
  }
  options.cards = cards.value();
  options.events = events.value();
  options.seed = seed.value();
  options.outPath = values["out"];
  options.truthPath = values["truth"];
  if (options.outPath.empty() || options.truthPath.empty()) return Failure{"empty file name"};
  if (options.outPath == options.truthPath) return Failure{"--out and --truth must differ"};
  return options;
}

std::string formatSummary(const GenerateSummary& summary) {
  char line[512];
  const double hours = static_cast<double>(summary.lastTs - summary.firstTs) / kHourMs;
  std::snprintf(line, sizeof(line),
                "fraud_gen: %lld events, %lld cards, frauds test-charges=%lld "
                "impossible-travel=%lld declines=%lld, event time %lld..%lld (%.1f h)",
                static_cast<long long>(summary.events), static_cast<long long>(summary.cards),
                static_cast<long long>(summary.fraudsPerKind[0]),
                static_cast<long long>(summary.fraudsPerKind[1]),
                static_cast<long long>(summary.fraudsPerKind[2]),
                static_cast<long long>(summary.firstTs), static_cast<long long>(summary.lastTs),
                hours);
  return line;
}

int usageError(const std::string& message) {
  std::fprintf(stderr, "fraud_gen: %s\n%.*s", message.c_str(), static_cast<int>(kUsage.size()),
               kUsage.data());
  return 2;
}

int fileError(const std::string& message) {
  std::fprintf(stderr, "fraud_gen: %s\n", message.c_str());
  return 2;
}

int runGenerate(std::span<const std::string_view> args) {
  Result<GenerateOptions> options = parseGenerateOptions(args);
  if (!options.ok()) return usageError(options.error());
  Result<GenerateSummary> summary = generate(options.value());
  if (!summary.ok()) return fileError(summary.error());
  std::fprintf(stderr, "%s\n", formatSummary(summary.value()).c_str());
  return 0;
}

Result<ScoreReport> scoreFiles(const std::string& alertsPath, const std::string& truthPath) {
  Result<std::vector<TruthEntry>> truth = readTruth(truthPath);
  if (!truth.ok()) return truth.failure();
  Result<std::vector<Alert>> alerts = readAlerts(alertsPath);
  if (!alerts.ok()) return alerts.failure();
  return computeScore(truth.value(), alerts.value());
}

int runScore(std::span<const std::string_view> args) {
  auto flags = parseFlags(args, {{"alerts", true}, {"truth", true}});
  if (!flags.ok()) return usageError(flags.error());
  Result<ScoreReport> report = scoreFiles(flags.value()["alerts"], flags.value()["truth"]);
  if (!report.ok()) return fileError(report.error());
  std::fputs(formatScore(report.value()).c_str(), stdout);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Selftest: generate a small stream, check it by brute force, score synthesized alerts.

struct SeenEvent {
  int64_t ts;
  double amount;
  double lat;
  double lon;
  bool declined;
};

/// One pattern found by the brute-force scan, at the event that completes it.
struct Occurrence {
  std::string card;
  std::string kind;
  int64_t ts;

  auto operator<=>(const Occurrence&) const = default;
};

struct SeenStream {
  std::map<std::string, std::vector<SeenEvent>> byCard;  // file order within a card
  int64_t events = 0;
  int64_t declined = 0;
  int64_t citiesChanged = 0;  // consecutive events of a card in different places
};

Status checkFieldOrder(std::string_view line) {
  constexpr std::array<std::string_view, 8> kKeys = {
      "{\"card\":\"", ",\"ts\":",  ",\"amount\":",   ",\"city\":\"",
      ",\"lat\":",    ",\"lon\":", ",\"status\":\"", ",\"merchant\":\""};
  size_t at = 0;
  for (std::string_view key : kKeys) {
    const size_t found = line.find(key, at);
    if (found == std::string_view::npos || (at == 0 && found != 0)) {
      return Failure{"fields out of order at " + std::string(key)};
    }
    at = found + key.size();
  }
  return okStatus();
}

Result<SeenEvent> parseSeenEvent(const std::vector<JsonField>& fields) {
  Result<int64_t> ts = millisField(fields, "ts");
  Result<double> amount = numberField(fields, "amount");
  Result<double> lat = numberField(fields, "lat");
  Result<double> lon = numberField(fields, "lon");
  Result<std::string> status = stringField(fields, "status");
  for (const std::string* error :
       {&ts.error(), &amount.error(), &lat.error(), &lon.error(), &status.error()}) {
    if (!error->empty()) return Failure{*error};
  }
  if (status.value() != "approved" && status.value() != "declined") {
    return Failure{"bad status " + status.value()};
  }
  return SeenEvent{ts.value(), amount.value(), lat.value(), lon.value(),
                   status.value() == "declined"};
}

Result<SeenStream> readSeenStream(const std::string& path) {
  SeenStream stream;
  int64_t lastTs = INT64_MIN;
  Status read = forEachLine(path, [&](size_t, std::string_view line) -> Status {
    Status order = checkFieldOrder(line);
    if (!order.ok()) return order;
    Result<std::vector<JsonField>> fields = JsonObjectScanner(line).fields();
    if (!fields.ok()) return fields.failure();
    Result<std::string> card = stringField(fields.value(), "card");
    if (!card.ok()) return card.failure();
    Result<SeenEvent> event = parseSeenEvent(fields.value());
    if (!event.ok()) return event.failure();
    if (event.value().ts < lastTs) return Failure{"ts goes back in time"};
    lastTs = event.value().ts;
    std::vector<SeenEvent>& cardEvents = stream.byCard[card.value()];
    if (!cardEvents.empty() && (cardEvents.back().lat != event.value().lat ||
                                cardEvents.back().lon != event.value().lon)) {
      ++stream.citiesChanged;
    }
    cardEvents.push_back(event.value());
    ++stream.events;
    stream.declined += event.value().declined ? 1 : 0;
    return okStatus();
  });
  if (!read.ok()) return read.failure();
  return stream;
}

/// The three patterns, scanned for naively on each card's events (as the rules define them).
std::vector<Occurrence> findPatterns(const SeenStream& stream) {
  std::vector<Occurrence> found;
  for (const auto& [card, e] : stream.byCard) {
    for (size_t i = 0; i + 3 < e.size(); ++i) {
      const bool smalls = e[i].amount < 2 && e[i + 1].amount < 2 && e[i + 2].amount < 2 &&
                          !e[i].declined && !e[i + 1].declined && !e[i + 2].declined;
      if (smalls && !e[i + 3].declined && e[i + 3].amount > 500 &&
          e[i + 3].ts - e[i].ts <= 10 * kMinuteMs) {
        found.push_back({card, "test-charges", e[i + 3].ts});
      }
      const bool declines = e[i].declined && e[i + 1].declined && e[i + 2].declined;
      if (declines && !e[i + 3].declined && e[i + 3].ts - e[i].ts <= 5 * kMinuteMs) {
        found.push_back({card, "declines", e[i + 3].ts});
      }
    }
    for (size_t i = 0; i + 1 < e.size(); ++i) {
      const int64_t elapsedMs = e[i + 1].ts - e[i].ts;
      if (elapsedMs <= 0 || elapsedMs > kHourMs) continue;
      const double km = haversineKm(e[i].lat, e[i].lon, e[i + 1].lat, e[i + 1].lon);
      if (km / (static_cast<double>(elapsedMs) / kHourMs) > kImpossibleSpeedKmh) {
        found.push_back({card, "impossible-travel", e[i + 1].ts});
      }
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::string alertLine(std::string_view rule, const std::string& card, int64_t end) {
  // Nested members with the same names, and strings with escapes, as a rule engine may write.
  return "{\"rule\":\"" + std::string(rule) + "\",\"version\":3,\"key\":\"" + card +
         "\",\"start\":" + std::to_string(end - 90000) + ",\"end\":" + std::to_string(end) +
         ",\"measures\":{\"count\":4,\"note\":\"a \\\"quoted\\\" } \\\\ ] \\u00e9\"},"
         "\"events\":[{\"key\":\"c999999\",\"end\":1,\"rule\":\"x\"},[true,null,-1.5e3],\"{\"]}\n";
}

Result<fs::path> makeTempDir() {
  std::error_code ec;
  const fs::path base = fs::temp_directory_path(ec);
  if (ec) return Failure{"no temporary directory: " + ec.message()};
  std::random_device device;
  const auto now =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (int attempt = 0; attempt < 100; ++attempt) {
    const uint64_t tag =
        now ^ (static_cast<uint64_t>(device()) << 20) ^ static_cast<uint64_t>(attempt);
    fs::path dir = base / ("fraud_gen_selftest_" + std::to_string(tag));
    if (fs::create_directory(dir, ec)) return dir;
  }
  return Failure{"cannot create a directory in " + base.string()};
}

/// The checks of `fraud_gen selftest`, on files in a directory of their own.
class Selftest {
 public:
  explicit Selftest(fs::path dir) : dir_(std::move(dir)) {}

  /// Runs every check; returns what failed, nothing when all passed.
  std::vector<std::string> run() {
    checkGenerated();
    checkScoreErrors();
    return failures_;
  }

 private:
  void fail(std::string what) { failures_.push_back(std::move(what)); }

  void checkGenerated() {
    const GenerateOptions options{.cards = 200,
                                  .events = 20000,
                                  .seed = 7,
                                  .outPath = (dir_ / "events.jsonl").string(),
                                  .truthPath = (dir_ / "truth.jsonl").string()};
    Result<GenerateSummary> summary = generate(options);
    GenerateOptions again = options;
    again.outPath = (dir_ / "events2.jsonl").string();
    again.truthPath = (dir_ / "truth2.jsonl").string();
    Result<GenerateSummary> summary2 = generate(again);
    if (!summary.ok() || !summary2.ok()) {
      fail("generate: " + summary.error() + summary2.error());
      return;
    }
    std::printf("%s\n", formatSummary(summary.value()).c_str());
    auto sameFile = [](const std::string& a, const std::string& b) {
      Result<std::string> left = readFile(a);
      Result<std::string> right = readFile(b);
      return left.ok() && right.ok() && left.value() == right.value();
    };
    if (!sameFile(options.outPath, again.outPath) ||
        !sameFile(options.truthPath, again.truthPath)) {
      fail("two runs with seed 7 differ");
    }
    Result<SeenStream> stream = readSeenStream(options.outPath);
    Result<std::vector<TruthEntry>> truth = readTruth(options.truthPath);
    if (!stream.ok() || !truth.ok()) {
      fail("reading back: " + stream.error() + truth.error());
      return;
    }
    if (stream.value().events != 20000) fail("not 20000 events");
    if (stream.value().declined == 0) fail("no declines in normal traffic");
    std::array<int64_t, 3> perKind{};
    for (const TruthEntry& entry : truth.value()) ++perKind[kindIndex(entry.kind)];
    if (perKind != std::array<int64_t, 3>{7, 7, 7}) fail("not 7 frauds of each kind");
    std::printf("selftest: %lld events on %zu cards, %lld declined, %lld moves between cities\n",
                static_cast<long long>(stream.value().events), stream.value().byCard.size(),
                static_cast<long long>(stream.value().declined),
                static_cast<long long>(stream.value().citiesChanged));
    checkPatterns(findPatterns(stream.value()), truth.value());
    checkTruthSpacing(truth.value());
    checkScore(truth.value());
  }

  /// Every planted fraud found exactly once at its truth ts, and nothing else found.
  void checkPatterns(const std::vector<Occurrence>& found, const std::vector<TruthEntry>& truth) {
    std::vector<Occurrence> expected;
    for (const TruthEntry& entry : truth) {
      expected.push_back({entry.card, std::string(kindName(entry.kind)), entry.ts});
    }
    std::sort(expected.begin(), expected.end());
    std::vector<Occurrence> missing;
    std::vector<Occurrence> extra;
    std::set_difference(expected.begin(), expected.end(), found.begin(), found.end(),
                        std::back_inserter(missing));
    std::set_difference(found.begin(), found.end(), expected.begin(), expected.end(),
                        std::back_inserter(extra));
    for (const Occurrence& o : missing) {
      fail("planted " + o.kind + " on " + o.card + " at " + std::to_string(o.ts) +
           " is not in the events");
    }
    for (const Occurrence& o : extra) {
      fail("unplanted " + o.kind + " on " + o.card + " at " + std::to_string(o.ts));
    }
  }

  void checkTruthSpacing(std::vector<TruthEntry> truth) {
    std::sort(truth.begin(), truth.end(), [](const TruthEntry& a, const TruthEntry& b) {
      return std::tie(a.card, a.ts) < std::tie(b.card, b.ts);
    });
    for (size_t i = 1; i < truth.size(); ++i) {
      if (truth[i].card == truth[i - 1].card && truth[i].ts - truth[i - 1].ts < kHourMs) {
        fail("two frauds within an hour on " + truth[i].card);
      }
    }
  }

  /// Alerts from the truth (one per fraud), one duplicate, one false alert, one of another rule:
  /// the score must be the hand-computed one.
  void checkScore(const std::vector<TruthEntry>& truth) {
    if (truth.empty()) {
      fail("no frauds planted");
      return;
    }
    std::string alerts;
    for (const TruthEntry& entry : truth) {
      alerts += alertLine(std::string(kindName(entry.kind)) + "-rule", entry.card, entry.ts);
    }
    const TruthEntry& first = truth.front();
    alerts += alertLine(kindName(first.kind), first.card, first.ts + 30 * kSecondMs);
    alerts += alertLine("declines-burst", first.card, first.ts + 30 * kMinuteMs);
    alerts += alertLine("big-spender", first.card, first.ts);
    const std::string alertsPath = (dir_ / "alerts.jsonl").string();
    std::ofstream(alertsPath, std::ios::binary) << alerts;
    Result<ScoreReport> report = scoreFiles(alertsPath, (dir_ / "truth.jsonl").string());
    if (!report.ok()) {
      fail("score: " + report.error());
      return;
    }
    const auto planted = static_cast<int64_t>(truth.size());
    const KindScore total = report.value().total();
    const std::string text = formatScore(report.value());
    if (total.planted != planted || total.detected != planted || total.alerts != planted + 2 ||
        total.trueAlerts != planted + 1 || total.duplicates() != 1 || total.falseAlerts() != 1 ||
        report.value().otherAlerts != 1) {
      fail("score totals differ from the hand-computed ones:\n" + text);
    }
    // 21 frauds (7 of each kind): 23 alerts, 22 of them at a fraud.
    if (planted == 21 && text.find("total precision=0.957 recall=1.000\n") == std::string::npos) {
      fail("score line differs from 'total precision=0.957 recall=1.000':\n" + text);
    }
  }

  /// Malformed and missing inputs are errors that name the file and line.
  void checkScoreErrors() {
    const std::string bad = (dir_ / "bad.jsonl").string();
    std::ofstream(bad, std::ios::binary) << "{\"rule\":\"declines\",\"key\":\"c000001\",\"end\":5}"
                                            "\n\n{\"rule\":\"declines\",\"end\":}\n";
    Result<std::vector<Alert>> alerts = readAlerts(bad);
    if (alerts.ok() || alerts.error().find("bad.jsonl:3:") == std::string::npos) {
      fail("a malformed line 3 was not reported as such: " + alerts.error());
    }
    Result<std::vector<Alert>> missing = readAlerts((dir_ / "missing.jsonl").string());
    if (missing.ok() || missing.error().find("missing.jsonl") == std::string::npos) {
      fail("a missing file was not reported");
    }
  }

  fs::path dir_;
  std::vector<std::string> failures_;
};

int runSelftest() {
  Result<fs::path> dir = makeTempDir();
  if (!dir.ok()) return fileError(dir.error());
  const std::vector<std::string> failures = Selftest(dir.value()).run();
  std::error_code ec;
  fs::remove_all(dir.value(), ec);
  for (const std::string& failure : failures) std::printf("selftest FAILED: %s\n", failure.c_str());
  if (!failures.empty()) return 1;
  std::printf("selftest ok\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) return usageError("missing subcommand");
  const std::string_view command = args.front();
  const std::span<const std::string_view> rest(args.data() + 1, args.size() - 1);
  if (command == "generate") return runGenerate(rest);
  if (command == "score") return runScore(rest);
  if (command == "selftest" && rest.empty()) return runSelftest();
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(std::string(kUsage).c_str(), stdout);
    return 0;
  }
  return usageError("unknown subcommand '" + std::string(command) + "'");
}
