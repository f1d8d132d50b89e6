#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reka/base/Status.h"

namespace reka {

/// A regular expression in RE2's syntax (Java's and Perl's, without backreferences or
/// lookaround; linear time): Kafka topic patterns, SQL's REGEXP_EXTRACT. Immutable once
/// compiled; search() is thread-safe.
///
/// Compiling also takes RE2's own analysis of the literal strings a match must contain (its
/// prefilter atoms): a text that holds none of them cannot match, so the searches below answer it
/// without running the automaton (most of a REGEXP_EXTRACT's rows, when few hold the pattern).
class Regex {
 public:
  static Result<std::shared_ptr<const Regex>> compile(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  /// Whether the pattern matches somewhere in `text`.
  bool search(std::string_view text) const;
  /// The first match in `text`: group 0 (the match) and every group, nullopt for a group that
  /// did not take part; empty if nothing matches.
  std::vector<std::optional<std::string_view>> searchGroups(std::string_view text) const;
  /// Group `group` (0: the whole match) of the first match in `text`; nullopt if nothing
  /// matches, the group did not take part, or there is no such group. Allocates nothing.
  std::optional<std::string_view> extractGroup(std::string_view text, int group) const;
  /// Whether `text` may match: false only when it holds none of the literal strings every match
  /// needs (so a false is certain, a true is not).
  bool mayMatch(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  Regex() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string pattern_;
};

}  // namespace reka
