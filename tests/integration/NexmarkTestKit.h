#pragma once

// What the integration tests share: scratch directories, NEXMark events the tests own (so a
// reference implementation can hold them as long as it likes), event-file writers, a parser for
// flat JSON-lines output that keeps every value's text, and changelog application.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "reka/api/DataStream.h"
#include "reka/data/StringArena.h"
#include "reka/nexmark/Generator.h"
#include "reka/nexmark/JsonCodec.h"
#include "reka/nexmark/Model.h"
#include "reka/nexmark/QueryJob.h"

namespace reka::nexmark::it {

/// A directory unique to this process and instance under ::testing::TempDir(); removed, with
/// everything in it, on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::path(::testing::TempDir()) /
            ("reka-it-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string file(std::string_view name) const { return (path_ / std::string(name)).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// ---- Events the tests own ----------------------------------------------------------------------

struct PersonRec {
  int64_t id = 0;
  std::string name, emailAddress, creditCard, city, state;
  int64_t dateTime = 0;
  std::string extra;
};

struct AuctionRec {
  int64_t id = 0;
  std::string itemName, description;
  int64_t initialBid = 0, reserve = 0, dateTime = 0, expires = 0, seller = 0, category = 0;
  std::string extra;
};

struct BidRec {
  int64_t auction = 0, bidder = 0, price = 0;
  std::string channel, url;
  int64_t dateTime = 0;
  std::string extra;
};

using EventRec = std::variant<PersonRec, AuctionRec, BidRec>;

inline EventRec ownedCopy(const Event& e) {
  switch (e.type) {
    case EventType::kPerson: {
      const Person& p = e.person;
      return PersonRec{p.id, std::string(p.name), std::string(p.emailAddress), std::string(p.creditCard),
                       std::string(p.city), std::string(p.state), p.dateTime, std::string(p.extra)};
    }
    case EventType::kAuction: {
      const Auction& a = e.auction;
      return AuctionRec{a.id, std::string(a.itemName), std::string(a.description), a.initialBid, a.reserve,
                        a.dateTime, a.expires, a.seller, a.category, std::string(a.extra)};
    }
    case EventType::kBid: {
      const Bid& b = e.bid;
      return BidRec{b.auction, b.bidder, b.price, std::string(b.channel), std::string(b.url), b.dateTime,
                    std::string(b.extra)};
    }
  }
  return BidRec{};
}

/// The section 7 JSON line of `event` (without the newline), written by the codec under test's
/// writer: the reader is what the integration tests exercise.
inline std::string eventJson(const EventRec& event) {
  std::string out;
  std::visit(
      [&](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, PersonRec>) {
          appendEventJson(Event::of(Person{r.id, r.name, r.emailAddress, r.creditCard, r.city, r.state, r.dateTime, r.extra}),
                          out);
        } else if constexpr (std::is_same_v<T, AuctionRec>) {
          appendEventJson(Event::of(Auction{r.id, r.itemName, r.description, r.initialBid, r.reserve, r.dateTime,
                                            r.expires, r.seller, r.category, r.extra}),
                          out);
        } else {
          appendEventJson(Event::of(Bid{r.auction, r.bidder, r.price, r.channel, r.url, r.dateTime, r.extra}), out);
        }
      },
      event);
  return out;
}

/// The whole stream of `config`, generators interleaved event by event (as `reka nexmark
/// generate` writes it).
inline std::vector<EventRec> generateEvents(const GeneratorConfig& config) {
  auto generator = Generator::make(config);
  EXPECT_TRUE(generator.isOk()) << generator.status().toString();
  std::vector<EventRec> events;
  if (!generator.isOk()) return events;
  int64_t longest = 0;
  for (int g = 0; g < config.generators; ++g) longest = std::max(longest, generator->eventCount(g));
  for (int64_t k = 0; k < longest; ++k) {
    for (int g = 0; g < config.generators; ++g) {
      if (k >= generator->eventCount(g)) continue;
      StringArena arena;
      events.push_back(ownedCopy(generator->event(g, k, arena)));
    }
  }
  return events;
}

inline void writeFile(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

/// Writes one JSON line per event, each ended by '\n'.
inline void writeEventFile(const std::string& path, const std::vector<EventRec>& events) {
  std::string content;
  for (const auto& e : events) content.append(eventJson(e)).push_back('\n');
  writeFile(path, content);
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The lines of a file, without their '\n'; a final line without '\n' counts too.
inline std::vector<std::string> readLines(const std::string& path) {
  std::vector<std::string> lines;
  std::string content = readFile(path);
  size_t start = 0;
  while (start < content.size()) {
    size_t nl = content.find('\n', start);
    if (nl == std::string::npos) nl = content.size();
    lines.push_back(content.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// ---- Output rows -------------------------------------------------------------------------------

/// One flat JSON object, as (key, value text) in the order of the line. Value texts: a string
/// is `"` followed by its unescaped content (no closing quote), a number is its exact text as
/// written (so `111.684` stays `111.684`, never a double), `null`, `true` or `false`.
using FlatRow = std::vector<std::pair<std::string, std::string>>;

inline std::string str(std::string_view s) { return "\"" + std::string(s); }
inline std::string num(int64_t v) { return std::to_string(v); }
inline const std::string kNull = "null";

namespace detail {
/// nlohmann SAX handler that accepts exactly one flat object and keeps numbers' text.
class FlatRowSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit FlatRowSax(FlatRow& row) : row_(row) {}
  bool null() override { return value(kNull); }
  bool boolean(bool v) override { return value(v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override { return value(std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return value(std::to_string(v)); }
  bool number_float(number_float_t, const string_t& s) override { return value(s); }
  bool string(string_t& v) override { return value(str(v)); }
  bool binary(binary_t&) override { return fail("binary value"); }
  bool start_object(std::size_t) override { return ++depth_ == 1 ? true : fail("nested object"); }
  bool key(string_t& k) override {
    key_ = k;
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override { return fail("array"); }
  bool end_array() override { return true; }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& ex) override {
    return fail("parse error at " + std::to_string(pos) + ": " + ex.what());
  }
  const std::string& error() const { return error_; }

 private:
  bool value(std::string text) {
    if (depth_ != 1) return fail("value outside an object");
    row_.emplace_back(key_, std::move(text));
    return true;
  }
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }
  FlatRow& row_;
  std::string key_;
  std::string error_;
  int depth_ = 0;
};
}  // namespace detail

/// Parses one output line; fails the test (and returns nullopt) if it is not one flat object.
inline std::optional<FlatRow> parseFlatRow(const std::string& line) {
  FlatRow row;
  detail::FlatRowSax sax(row);
  bool ok = nlohmann::json::sax_parse(line, &sax, nlohmann::json::input_format_t::json, /*strict=*/true);
  if (!ok) {
    ADD_FAILURE() << "output line is not a flat JSON object (" << sax.error() << "): " << line.substr(0, 300);
    return std::nullopt;
  }
  return row;
}

/// Every line of an output file, parsed. Failures are reported through gtest.
inline std::vector<FlatRow> readRows(const std::string& path) {
  std::vector<FlatRow> rows;
  for (const auto& line : readLines(path)) {
    if (auto row = parseFlatRow(line)) rows.push_back(std::move(*row));
  }
  return rows;
}

inline std::vector<std::string> keysOf(const FlatRow& row) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : row) keys.push_back(k);
  return keys;
}

/// The value text of column `name`, or nullopt.
inline std::optional<std::string> field(const FlatRow& row, std::string_view name) {
  for (const auto& [k, v] : row)
    if (k == name) return v;
  return std::nullopt;
}

/// A row's values in column order (the key order is checked separately).
using Row = std::vector<std::string>;

inline Row valuesOf(const FlatRow& row) {
  Row values;
  for (const auto& [k, v] : row) values.push_back(v);
  return values;
}

inline std::string describe(const Row& row) {
  std::string s = "[";
  for (size_t i = 0; i < row.size(); ++i) {
    if (i > 0) s += ", ";
    s += row[i].size() > 60 ? row[i].substr(0, 60) + "..." : row[i];
  }
  return s + "]";
}

/// Compares two multisets of rows; on a difference, fails with counts and the first few
/// missing and unexpected rows.
inline void expectSameRows(std::vector<Row> actual, std::vector<Row> expected, const std::string& what) {
  std::sort(actual.begin(), actual.end());
  std::sort(expected.begin(), expected.end());
  if (actual == expected) return;
  std::vector<Row> missing, unexpected;
  std::set_difference(expected.begin(), expected.end(), actual.begin(), actual.end(), std::back_inserter(missing));
  std::set_difference(actual.begin(), actual.end(), expected.begin(), expected.end(), std::back_inserter(unexpected));
  std::string msg = what + ": " + std::to_string(actual.size()) + " rows, expected " + std::to_string(expected.size()) +
                    "; " + std::to_string(missing.size()) + " missing, " + std::to_string(unexpected.size()) +
                    " unexpected";
  for (size_t i = 0; i < missing.size() && i < 5; ++i) msg += "\n  missing:    " + describe(missing[i]);
  for (size_t i = 0; i < unexpected.size() && i < 5; ++i) msg += "\n  unexpected: " + describe(unexpected[i]);
  ADD_FAILURE() << msg;
}

// ---- Running jobs ------------------------------------------------------------------------------

/// Runs the job in `env`, waiting at most `timeout`; on timeout cancels it and returns an error.
inline Status runJob(StreamEnvironment& env, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  auto client = env.executeAsync();
  if (!client.isOk()) return client.status();
  if (!(*client)->waitFor(timeout)) {
    (*client)->cancel();
    (*client)->waitFor(std::chrono::seconds(10));
    return Status::internal("job did not finish within " + std::to_string(timeout.count()) + " s");
  }
  return (*client)->wait();
}

/// The result of running one query over an event file.
struct QueryRun {
  Status status;
  std::shared_ptr<QueryCounters> counters;
  std::vector<FlatRow> rows;  ///< the output file's rows, in file order
};

/// Runs `options` (its outputPath must be set) at `parallelism` and reads the output rows.
inline QueryRun runQueryJob(const QueryJobOptions& options, int parallelism, size_t batchSize = 1024) {
  QueryRun run;
  ExecutionConfig config;
  config.parallelism = parallelism;
  config.batchSize = batchSize;
  StreamEnvironment env(config);
  auto counters = buildQueryJob(env, options);
  if (!counters.isOk()) {
    run.status = counters.status();
    return run;
  }
  run.counters = *counters;
  run.status = runJob(env);
  if (run.status.isOk()) run.rows = readRows(options.outputPath);
  return run;
}

// ---- Changelogs --------------------------------------------------------------------------------

/// Applies a Flink-style changelog (+I, -U, +U, -D) row by row and checks that it is well formed:
/// +I only for an absent key; -U and -D only with the current row of their key; +U only for a
/// key whose -U came before it (and no other row in between for that key); at the end no -U
/// waits for its +U.
class ChangelogTable {
 public:
  using Key = std::vector<std::string>;

  void apply(const std::string& op, const Key& key, const Row& row) {
    ++applied_;
    auto current = rows_.find(key);
    if (op == "+I") {
      if (current != rows_.end()) return error("+I for present key", key, row);
      if (retracted_.count(key)) return error("+I for a key with a pending -U", key, row);
      rows_.emplace(key, row);
    } else if (op == "-U" || op == "-D") {
      if (current == rows_.end()) return error(op + " for absent key", key, row);
      if (current->second != row) return error(op + " does not match the current row " + describe(current->second), key, row);
      rows_.erase(current);
      if (op == "-U") retracted_.insert(key);
    } else if (op == "+U") {
      if (current != rows_.end()) return error("+U for present key", key, row);
      if (retracted_.erase(key) == 0) return error("+U without a -U before it", key, row);
      rows_.emplace(key, row);
    } else {
      error("unknown op '" + op + "'", key, row);
    }
  }

  /// Call after the last row: a -U without its +U is an error.
  void finish() {
    for (const auto& key : retracted_) error("-U never followed by +U", key, {});
  }

  const std::map<Key, Row>& rows() const { return rows_; }
  const std::vector<std::string>& errors() const { return errors_; }
  int64_t applied() const { return applied_; }

 private:
  void error(const std::string& what, const Key& key, const Row& row) {
    if (errors_.size() < 10) errors_.push_back("changelog row " + std::to_string(applied_) + ": " + what + " key=" + describe(key) + " row=" + describe(row));
  }

  std::map<Key, Row> rows_;
  std::set<Key> retracted_;
  std::vector<std::string> errors_;
  int64_t applied_ = 0;
};

// ---- Reference helpers -------------------------------------------------------------------------

/// UTC calendar fields of an epoch-millisecond timestamp, from the C library (independent of
/// the engine's own date code).
inline std::tm utc(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}

inline std::string utcDay(int64_t ms) {
  std::tm tm = utc(ms);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

/// `milli / 1000` with exactly three fraction digits (milli >= 0).
inline std::string decimal3(int64_t milli) {
  std::string frac = std::to_string(milli % 1000);
  return std::to_string(milli / 1000) + "." + std::string(3 - frac.size(), '0') + frac;
}

inline Row bidValues(const BidRec& b) {
  return {num(b.auction), num(b.bidder), num(b.price), str(b.channel), str(b.url), num(b.dateTime), str(b.extra)};
}

inline const std::vector<std::string>& bidColumns() {
  static const std::vector<std::string> kColumns = {"auction", "bidder", "price", "channel", "url", "dateTime", "extra"};
  return kColumns;
}

}  // namespace reka::nexmark::it
