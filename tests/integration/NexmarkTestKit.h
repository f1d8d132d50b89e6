#pragma once

// What the integration tests share: scratch directories, NEXMark events the tests own (so a
// reference implementation can hold them as long as it likes), event-file writers, a parser for
// flat JSON-lines output that keeps every value's text, and changelog application.

#include <gtest/gtest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "reka/api/DataStream.h"
#include "reka/data/StringArena.h"
#include "nexmark/Generator.h"
#include "nexmark/JsonCodec.h"
#include "nexmark/Model.h"
#include "nexmark/QueryJob.h"

extern char** environ;

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

namespace detail {
/// A strict reader of one flat JSON object (RFC 8259: string escapes with surrogate pairs,
/// valid UTF-8, the number grammar; no nesting), much faster than nlohmann's lexer in a
/// sanitizer build. readRows cross-checks it against nlohmann on a sample of lines.
class FlatRowReader {
 public:
  explicit FlatRowReader(std::string_view text) : s_(text) {}

  std::optional<FlatRow> read(std::string& error) {
    FlatRow row;
    ws();
    if (!take('{')) return fail(error, "expected '{'");
    ws();
    if (!take('}')) {
      while (true) {
        ws();
        std::string key;
        if (!take('"') || !string(key)) return fail(error, "expected a string key");
        ws();
        if (!take(':')) return fail(error, "expected ':'");
        ws();
        std::string value;
        if (!this->value(value)) return fail(error, "bad value for key \"" + key + "\"");
        row.emplace_back(std::move(key), std::move(value));
        ws();
        if (take(',')) continue;
        if (take('}')) break;
        return fail(error, "expected ',' or '}'");
      }
    }
    ws();
    if (i_ != s_.size()) return fail(error, "trailing content");
    return row;
  }

 private:
  bool take(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  std::optional<FlatRow> fail(std::string& error, const std::string& why) {
    error = why + " at byte " + std::to_string(i_);
    return std::nullopt;
  }
  bool literal(std::string_view word, std::string& out) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    out = std::string(word);
    return true;
  }
  bool value(std::string& out) {
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '"') {
      ++i_;
      out = "\"";
      return string(out);
    }
    if (c == 'n') return literal("null", out);
    if (c == 't') return literal("true", out);
    if (c == 'f') return literal("false", out);
    return number(out);
  }
  bool digits() {
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > start;
  }
  bool number(std::string& out) {
    const size_t start = i_;
    take('-');
    if (!take('0') && !(i_ < s_.size() && s_[i_] >= '1' && s_[i_] <= '9' && digits())) return false;
    if (take('.') && !digits()) return false;
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (!take('+')) take('-');
      if (!digits()) return false;
    }
    out = std::string(s_.substr(start, i_ - start));
    return true;
  }
  bool hex4(uint32_t& v) {
    if (i_ + 4 > s_.size()) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }
  static void appendUtf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  /// One UTF-8 sequence starting at i_ (lead byte >= 0x80), validated and copied.
  bool utf8(std::string& out) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(s_[i_ + k]); };
    const unsigned char lead = byte(0);
    size_t n = 0;
    uint32_t cp = 0, min = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      n = 2, cp = lead & 0x1F, min = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      n = 3, cp = lead & 0x0F, min = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      n = 4, cp = lead & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i_ + n > s_.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((byte(k) & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (byte(k) & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    out.append(s_.substr(i_, n));
    i_ += n;
    return true;
  }
  /// The rest of a string after its opening quote, unescaped, appended to `out`.
  bool string(std::string& out) {
    while (i_ < s_.size()) {
      const size_t run = i_;
      while (i_ < s_.size() && s_[i_] != '"' && s_[i_] != '\\' && static_cast<unsigned char>(s_[i_]) >= 0x20 &&
             static_cast<unsigned char>(s_[i_]) < 0x80)
        ++i_;
      out.append(s_.substr(run, i_ - run));
      if (i_ >= s_.size()) return false;
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c >= 0x80) {
        if (!utf8(out)) return false;
        continue;
      }
      ++i_;  // the backslash
      if (i_ >= s_.size()) return false;
      const char e = s_[i_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low = 0;
            if (!take('\\') || !take('u') || !hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          appendUtf8(cp, out);
          break;
        }
        default: return false;
      }
    }
    return false;
  }

  std::string_view s_;
  size_t i_ = 0;
};
}  // namespace detail

/// Parses one output line with nlohmann (the reference JSON reader); fails the test (and
/// returns nullopt) if it is not one flat object.
inline std::optional<FlatRow> parseFlatRowWithNlohmann(const std::string& line) {
  FlatRow row;
  detail::FlatRowSax sax(row);
  bool ok = nlohmann::json::sax_parse(line, &sax, nlohmann::json::input_format_t::json, /*strict=*/true);
  if (!ok) {
    ADD_FAILURE() << "output line is not a flat JSON object (" << sax.error() << "): " << line.substr(0, 300);
    return std::nullopt;
  }
  return row;
}

/// Parses one output line; fails the test (and returns nullopt) if it is not one flat object.
inline std::optional<FlatRow> parseFlatRow(std::string_view line) {
  std::string error;
  std::optional<FlatRow> row = detail::FlatRowReader(line).read(error);
  if (!row) ADD_FAILURE() << "output line is not a flat JSON object (" << error << "): " << line.substr(0, 300);
  return row;
}

/// Every line of an output file, parsed. Failures are reported through gtest. The first line
/// and every 61st after it are also read by nlohmann, and the two readings must agree.
inline std::vector<FlatRow> readRows(const std::string& path) {
  std::vector<FlatRow> rows;
  const std::string content = readFile(path);
  size_t n = 0;
  for (size_t start = 0; start < content.size();) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    const std::string_view line(content.data() + start, end - start);
    start = end + 1;
    auto row = parseFlatRow(line);
    if (n++ % 61 == 0) {
      auto checked = parseFlatRowWithNlohmann(std::string(line));
      if (row && checked && *row != *checked) ADD_FAILURE() << "the two JSON readers disagree on: " << line.substr(0, 300);
    }
    if (row) rows.push_back(std::move(*row));
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
  values.reserve(row.size());
  for (const auto& [k, v] : row) values.push_back(v);
  return values;
}

/// As valuesOf, moving the values out of `row`.
inline Row takeValues(FlatRow& row) {
  Row values;
  values.reserve(row.size());
  for (auto& [k, v] : row) values.push_back(std::move(v));
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
/// With `metrics`, the job's figures at its end go there.
inline Status runJob(StreamEnvironment& env, std::chrono::seconds timeout = std::chrono::seconds(60),
                     JobMetrics* metrics = nullptr) {
  auto client = env.executeAsync();
  if (!client.isOk()) return client.status();
  if (!(*client)->waitFor(timeout)) {
    (*client)->cancel();
    (*client)->waitFor(std::chrono::seconds(10));
    return Status::internal("job did not finish within " + std::to_string(timeout.count()) + " s");
  }
  Status s = (*client)->wait();
  if (metrics != nullptr) *metrics = (*client)->metrics();
  return s;
}

/// Generated events and the same events as a JSON-lines file.
struct Dataset {
  std::vector<EventRec> events;
  std::string path;  // the events as a JSON-lines file
};

/// Generates and writes each named dataset once per process (per cache: test files with
/// datasets of the same name keep their own caches).
class DatasetCache {
 public:
  explicit DatasetCache(std::function<GeneratorConfig(const std::string&)> configFor)
      : configFor_(std::move(configFor)) {}
  const Dataset& get(const std::string& name) {
    auto& slot = cache_[name];
    if (!slot) {
      slot = std::make_unique<Dataset>();
      slot->events = generateEvents(configFor_(name));
      slot->path = dir_.file(name + ".jsonl");
      writeEventFile(slot->path, slot->events);
    }
    return *slot;
  }

 private:
  std::function<GeneratorConfig(const std::string&)> configFor_;
  ScratchDir dir_;
  std::map<std::string, std::unique_ptr<Dataset>> cache_;
};

/// The result of running one query over an event file.
struct QueryRun {
  Status status;
  JobMetrics metrics;  ///< the job's figures at its end
  std::shared_ptr<QueryCounters> counters;
  std::vector<FlatRow> rows;  ///< the output file's rows, in file order
};

/// Runs `options` (its outputPath must be set) at `parallelism` and reads the output rows.
/// `watermarkInterval` 0 sends a watermark after every source batch, so that windows and
/// auctions close while the input is read, not only at its end.
inline QueryRun runQueryJob(const QueryJobOptions& options, int parallelism, size_t batchSize = 1024,
                            std::chrono::milliseconds watermarkInterval = ExecutionConfig{}.watermarkInterval,
                            size_t channelCapacity = ExecutionConfig{}.channelCapacity) {
  QueryRun run;
  ExecutionConfig config;
  config.parallelism = parallelism;
  config.batchSize = batchSize;
  config.watermarkInterval = watermarkInterval;
  config.channelCapacity = channelCapacity;
  StreamEnvironment env(config);
  auto counters = buildQueryJob(env, options);
  if (!counters.isOk()) {
    run.status = counters.status();
    return run;
  }
  run.counters = *counters;
  run.status = runJob(env, std::chrono::seconds(60), &run.metrics);
  if (run.status.isOk()) run.rows = readRows(options.outputPath);
  return run;
}

/// runQueryJob with a watermark after every source batch.
inline QueryRun runWithEagerWatermarks(const QueryJobOptions& options, int parallelism, size_t batchSize,
                                       size_t channelCapacity = ExecutionConfig{}.channelCapacity) {
  return runQueryJob(options, parallelism, batchSize, std::chrono::milliseconds(0), channelCapacity);
}

/// The records of one kind in an event list.
template <class T>
std::vector<T> recordsOf(const std::vector<EventRec>& events) {
  std::vector<T> out;
  for (const auto& e : events)
    if (const T* r = std::get_if<T>(&e)) out.push_back(*r);
  return out;
}

// ---- Changelogs --------------------------------------------------------------------------------

/// Applies a Flink-style changelog (+I, -U, +U, -D) row by row and checks that it is well formed:
/// +I only for an absent key; -U and -D only with the current row of their key; +U only for a
/// key whose -U came before it (and no other row in between for that key); at the end no -U
/// waits for its +U.
class ChangelogTable {
 public:
  using Key = std::vector<std::string>;

  void apply(const std::string& op, const Key& key, Row row) {
    ++applied_;
    auto current = rows_.find(key);
    if (op == "+I") {
      if (current != rows_.end()) return error("+I for present key", key, row);
      if (retracted_.count(key)) return error("+I for a key with a pending -U", key, row);
      rows_.emplace(key, std::move(row));
    } else if (op == "-U" || op == "-D") {
      if (current == rows_.end()) return error(op + " for absent key", key, row);
      if (current->second != row) return error(op + " does not match the current row " + describe(current->second), key, row);
      rows_.erase(current);
      if (op == "-U") retracted_.insert(key);
    } else if (op == "+U") {
      if (current != rows_.end()) return error("+U for present key", key, row);
      if (retracted_.erase(key) == 0) return error("+U without a -U before it", key, row);
      rows_.emplace(key, std::move(row));
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

/// How a `reka` command ended: its exit status (128 + signal when killed) and what it printed.
struct CommandResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};

/// Runs `reka <args>` (`binary`; args go to the shell as written) under `timeout`, stdin from
/// /dev/null, stdout and stderr captured in files of `dir` numbered by `calls`.
inline CommandResult runCommand(const std::string& binary, const std::string& args, const ScratchDir& dir, int& calls,
                                int timeoutSeconds = 60) {
  const std::string out = dir.file("stdout-" + std::to_string(calls));
  const std::string err = dir.file("stderr-" + std::to_string(calls));
  ++calls;
  const std::string command = "timeout " + std::to_string(timeoutSeconds) + " '" + binary + "' " + args + " </dev/null >'" +
                              out + "' 2>'" + err + "'";
  int status = std::system(command.c_str());
  CommandResult r;
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = readFile(out);
  r.err = readFile(err);
  EXPECT_NE(r.exitCode, 124) << "reka " << args << " timed out";
  return r;
}

/// Starts `binary args…` in the background (no shell), its stdout and stderr appended to
/// stdout.log and stderr.log of `dir`.
inline pid_t startProcess(const std::string& binary, const std::vector<std::string>& args, const ScratchDir& dir) {
  std::vector<std::string> all = {binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, dir.file("stderr.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 1, dir.file("stdout.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

/// Stops a process with SIGTERM and returns its exit status (128 + signal when a signal ended
/// it); after 30 s it is killed and the result is -1.
inline int stopProcess(pid_t pid) {
  kill(pid, SIGTERM);
  int status = 0;
  for (int i = 0; i < 300; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

/// A command started in the background (sh -c "exec …", so the pid is the command's own).
struct Running {
  pid_t pid = -1;
  std::string out, err;  ///< files that receive its stdout and stderr
};

/// Commands in the background, each with its output in files of `dir`; whatever still runs when
/// this is destroyed is killed.
class BackgroundCommands {
 public:
  explicit BackgroundCommands(const ScratchDir& dir) : dir_(dir) {}
  ~BackgroundCommands() {
    for (pid_t p : children_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
  }
  BackgroundCommands(const BackgroundCommands&) = delete;
  BackgroundCommands& operator=(const BackgroundCommands&) = delete;

  /// Starts `binary args` (args go to the shell as written) with stdin from /dev/null;
  /// `environment` is prepended as `NAME=value …` assignments.
  Running start(const std::string& binary, const std::string& args, const std::string& environment = "") {
    Running r;
    r.out = dir_.file("out-" + std::to_string(calls_));
    r.err = dir_.file("err-" + std::to_string(calls_));
    ++calls_;
    const std::string command = (environment.empty() ? "" : "export " + environment + "; ") + "exec '" + binary + "' " + args +
                                " </dev/null >'" + r.out + "' 2>'" + r.err + "'";
    r.pid = ::fork();
    if (r.pid == 0) {
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    children_.push_back(r.pid);
    return r;
  }

  /// Waits for `r` at most `limit`; kills it (exit code -1 and a test failure) past that.
  CommandResult finish(const Running& r, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    CommandResult e;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    for (;;) {
      pid_t done = ::waitpid(r.pid, &status, WNOHANG);
      if (done == r.pid) {
        e.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(r.pid, SIGKILL);
        ::waitpid(r.pid, &status, 0);
        ADD_FAILURE() << "the command did not end within " << limit.count() << " ms";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::erase(children_, r.pid);
    e.out = readFile(r.out);
    e.err = readFile(r.err);
    return e;
  }

  /// Waits at most `limit` for `file` to contain `text`; false if it never does.
  static bool awaitText(const std::string& file, const std::string& text,
                        std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (readFile(file).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  const ScratchDir& dir_;
  int calls_ = 0;
  std::vector<pid_t> children_;
};

}  // namespace reka::nexmark::it
