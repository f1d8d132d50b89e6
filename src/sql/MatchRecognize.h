#pragma once

// MATCH_RECOGNIZE: a row pattern planned onto the CEP rule operator (include/reka/cep/
// RuleStream.h). The pattern, DEFINE and MEASURES become one rule (the JSON rule format of
// docs/guides/cep-rules.md, conditions as written), rows become events keyed by the PARTITION BY
// values, and each match becomes one row: the partition columns, then the measures.

#include <memory>
#include <string>
#include <vector>

#include "reka/api/DataStream.h"
#include "reka/data/Row.h"
#include "sql/Ast.h"

namespace reka::sql {

struct MatchSpec {
  std::string ruleJson;            ///< the rule the pattern compiles to
  std::vector<int> partitionColumns;
  int timeColumn = -1;             ///< ORDER BY: the rowtime column (event time) or proctime
  bool processingTime = false;
  std::shared_ptr<const Schema> input;
  std::shared_ptr<const Schema> output;  ///< partition columns, then the measures
  /// The output column of a MATCH_ROWTIME() measure, the output's event-time attribute (-1: none).
  int rowtimeColumn = -1;
  std::string detail;              ///< for EXPLAIN
};

/// Plans `m` over rows of `input` whose event-time column is `rowtime` and processing-time
/// column `proctime` (-1: none). Errors name the position and what is accepted.
Result<std::shared_ptr<const MatchSpec>> planMatchRecognize(const MatchRecognize& m, const Schema& input, int rowtime, int proctime);

/// The operators of a planned MATCH_RECOGNIZE after `rows`; `name` names their state.
DataStream<Row> buildMatchRecognize(const DataStream<Row>& rows, std::shared_ptr<const MatchSpec> spec, const std::string& name);

}  // namespace reka::sql
