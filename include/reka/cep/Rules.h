#pragma once

// Rules as data: patterns written in JSON (docs/guides/cep-rules.md), compiled to the same NFA
// as the C++ pattern API, over JSON events. Rules are added, changed and removed while a job
// runs (RuleStream.h).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reka/base/Status.h"
#include "reka/cep/Event.h"
#include "reka/cep/Nfa.h"
#include "reka/cep/Pattern.h"
#include "reka/cep/SharedBuffer.h"

namespace reka::cep {

/// A rule as written: its id, version and JSON object text. Parsing checks the document's
/// shape; compileRule() checks the rest.
struct RuleSpec {
  std::string id;
  int64_t version = 1;
  bool enabled = true;
  std::string json;  ///< the rule's object, as written
  bool operator==(const RuleSpec& o) const { return id == o.id && version == o.version && enabled == o.enabled && json == o.json; }
};

/// What the rule input of a rule operator carries: rules to add or replace, and ids to remove.
/// A complete update (a watched file's whole content) replaces the rule set: rules not in it
/// are removed.
struct RuleUpdate {
  bool complete = false;
  std::vector<RuleSpec> rules;
  std::vector<std::string> removed;
  std::string origin;  ///< where it came from (a file and its change), for messages
  /// Errors found while reading the document (a rule without an id, malformed JSON): the
  /// operator reports them and keeps its rules.
  std::vector<std::string> errors;
};

/// Parses a rules document: a JSON array of rule objects, an object {"rules": [...]}, or one
/// rule object per line (JSON lines). A line/element {"id": "x", "removed": true} removes rule
/// x. Errors say where (element or line) and what is wrong.
Result<RuleUpdate> parseRuleDocument(std::string_view text, bool complete);

/// A rule compiled for one operator subtask (its conditions keep per-thread caches): the
/// pattern over events and what a match emits.
class CompiledRule {
 public:
  virtual ~CompiledRule() = default;
  virtual const RuleSpec& spec() const = 0;
  virtual const Pattern<Event>& pattern() const = 0;
  /// The pattern compiled (for this subtask: its conditions keep per-thread caches).
  virtual const std::shared_ptr<const Nfa<Event>>& nfa() const = 0;
  /// Whether timed-out partial matches are emitted ("emitTimeouts": true).
  virtual bool emitsTimeouts() const = 0;
  /// Appends the alert for `m` on `key` as one JSON line (no newline): rule, version, key,
  /// start, end, the rule's measures, the events if asked; timedOut adds "timeout": true.
  virtual Status writeAlert(const Match<Event>& m, std::string_view key, bool timedOut, std::string& out) const = 0;
};

/// Compiles `spec`. Errors name the rule, the field and what is accepted.
Result<std::shared_ptr<const CompiledRule>> compileRule(const RuleSpec& spec);

}  // namespace reka::cep
