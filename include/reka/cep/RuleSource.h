#pragma once

// Where rules come from: a file, read at start and (watched) read again whenever it changes.

#include <cstdint>
#include <string>

#include "reka/api/DataStream.h"
#include "reka/cep/Rules.h"
#include "reka/connector/Kafka.h"

namespace reka::cep {

struct RuleFileOptions {
  std::string path;
  /// Read the file again whenever it changes (its size, modification time or content), until
  /// the job stops; false: read it once (the source ends).
  bool watch = true;
  /// How often a watched file is checked.
  int64_t pollIntervalMs = 100;
};

/// A source of one subtask that emits the file's rules as a complete RuleUpdate at start and
/// after each change. A document that does not parse becomes an update with only `errors`: the
/// rule operator reports it and keeps its rules. A file missing at start fails the job (a
/// watched file that disappears later, as an editor replaces it, is waited for). The source
/// carries no event time: it is idle, so that it never holds the events' watermark back.
DataStream<RuleUpdate> ruleFileSource(StreamEnvironment& env, RuleFileOptions options, std::string name = "rules");

/// Rules from a Kafka topic, read from its start and then as they come (unbounded, unless
/// `options.bounded`): each message holds rules (a rule object, an array, or JSON lines) that are
/// added or replaced, or `{"id": …, "removed": true}`; a message with a null value (a tombstone)
/// removes the rule its key names, as in a compacted topic keyed by rule id. A message that does
/// not parse is reported by the rule operator (with its partition and offset) and changes
/// nothing. Idle like the file source; positions are in checkpoints.
DataStream<RuleUpdate> ruleKafkaSource(StreamEnvironment& env, connector::kafka::KafkaSourceOptions options, std::string name = "rules");

}  // namespace reka::cep
