#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reka/base/Status.h"
#include "reka/data/Row.h"

namespace reka::connector {

/// A connector's or format's options as SQL's WITH clause writes them ('key' = 'value'), with
/// typed getters whose errors name the key, the value and what is accepted.
class Options {
 public:
  Options() = default;
  Options(std::initializer_list<std::pair<const std::string, std::string>> values) : values_(values) {}
  explicit Options(std::map<std::string, std::string, std::less<>> values) : values_(std::move(values)) {}

  bool has(std::string_view key) const { return values_.find(key) != values_.end(); }
  std::string get(std::string_view key, std::string_view fallback = "") const;
  Result<std::string> required(std::string_view key) const;
  Result<int64_t> getInt(std::string_view key, int64_t fallback) const;
  Result<bool> getBool(std::string_view key, bool fallback) const;
  /// A single character ("\t" and "\\t" both give a tab).
  Result<char> getChar(std::string_view key, char fallback) const;
  /// A duration ("10s", "500ms", see parseDuration) in milliseconds.
  Result<int64_t> getDurationMs(std::string_view key, int64_t fallback) const;
  /// One of `accepted`.
  Result<std::string> getEnum(std::string_view key, std::string_view fallback, const std::vector<std::string>& accepted) const;
  void set(std::string key, std::string value) { values_[std::move(key)] = std::move(value); }
  /// These options but `key`.
  Options without(std::string_view key) const {
    Options o = *this;
    if (auto it = o.values_.find(key); it != o.values_.end()) o.values_.erase(it);
    return o;
  }
  /// The keys under "prefix." with the prefix taken off (messages still name the whole key).
  Options withPrefix(std::string_view prefix) const;
  const std::map<std::string, std::string, std::less<>>& values() const { return values_; }

  /// An error naming the first key that `accepted` does not hold ("x.*" accepts every key under
  /// "x."), the owner ("connector 'kafka'") and the accepted keys.
  Status checkKeys(const std::string& owner, const std::vector<std::string>& accepted) const;

 private:
  std::string fullKey(std::string_view key) const { return keyPrefix_ + std::string(key); }

  std::map<std::string, std::string, std::less<>> values_;
  std::string keyPrefix_;  ///< what withPrefix() took off, for messages
};

/// Turns a record's bytes into rows of a schema. One per reader thread; not thread-safe.
class Decoder {
 public:
  virtual ~Decoder() = default;
  /// Appends the rows `bytes` holds to `out` (one; two for a Debezium update; none for a
  /// tombstone or a comment). On error appends nothing and returns the reason, which the source
  /// sends to the dead letters with the record's position (or fails the job with).
  virtual Status decode(std::string_view bytes, RowBatch& out) = 0;
};

/// Turns rows into a record's bytes. One per writer; not thread-safe.
class Encoder {
 public:
  virtual ~Encoder() = default;
  /// Appends the encoding of row `row` of `rows` to `out` (no newline: a file sink adds one).
  virtual Status encode(const RowBatch& rows, size_t row, std::string& out) = 0;
};

/// A format, registered by name ("json", "csv", "raw", "debezium-json"). Its options are
/// written under its name ("csv.field-delimiter"); the factories get them without the prefix.
struct FormatFactory {
  std::string name;
  std::string description;
  /// The option keys it accepts, without the prefix.
  std::vector<std::string> options;
  /// Reads and writes every row kind (a changelog); otherwise it writes inserts only, and a
  /// sink given an update or a delete fails with a message naming a changelog format.
  bool changelog = false;
  std::function<Result<std::unique_ptr<Decoder>>(std::shared_ptr<const Schema>, const Options&)> makeDecoder;
  std::function<Result<std::unique_ptr<Encoder>>(std::shared_ptr<const Schema>, const Options&)> makeEncoder;
};

/// Adds a format, replacing one of the same name. Thread-safe.
void registerFormat(FormatFactory factory);
/// The format called `name`, or an error that lists the registered ones. The built-in formats
/// are always registered.
Result<const FormatFactory*> findFormat(std::string_view name);
std::vector<const FormatFactory*> formats();

/// Makes the decoder (or encoder) of format `name` for `schema` from a connector's options:
/// the format's own options are the keys under "<prefix><name>." ("json.fail-on-missing-field",
/// or "key.json.…" with prefix "key."); unknown ones are errors.
Result<std::unique_ptr<Decoder>> makeDecoder(std::string_view name, std::shared_ptr<const Schema> schema,
                                             const Options& connectorOptions, std::string_view prefix = "");
Result<std::unique_ptr<Encoder>> makeEncoder(std::string_view name, std::shared_ptr<const Schema> schema,
                                             const Options& connectorOptions, std::string_view prefix = "");

/// Base64 (RFC 4648, with padding): how JSON formats carry BYTES.
void appendBase64(std::string_view bytes, std::string& out);
Result<std::string> decodeBase64(std::string_view text);

}  // namespace reka::connector
