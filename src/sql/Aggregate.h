#pragma once

// SQL's stateful row operators: GROUP BY aggregation (an updating result, or a window
// aggregation that emits each window once when the watermark passes its end) and the windowing
// table functions TUMBLE, HOP and CUMULATE. Private to the sql module.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "reka/api/Operator.h"
#include "reka/data/Row.h"
#include "reka/sql/Functions.h"

namespace reka::sql {

/// One aggregate call of a GROUP BY.
struct AggregateCall {
  enum class Kind { kCountStar, kCount, kSum, kAvg, kMin, kMax, kUser };
  Kind kind = Kind::kCountStar;
  bool distinct = false;
  int argColumn = -1;     ///< the argument's column in the operator's input (-1: COUNT(*))
  int filterColumn = -1;  ///< a BOOLEAN column: the row counts only where it is true (FILTER (WHERE …))
  DataType argType;
  DataType resultType;
  /// MIN or MAX over a changelog: every value is kept with its count, so that retracting the
  /// minimum or maximum finds the next one.
  bool retractable = false;
  /// kUser: the function, and its arguments' columns (argColumn is the first).
  const AggregateFunction* user = nullptr;
  std::vector<int> argColumns;
  /// DISTINCT calls over the same argument column share one set of its values, each value with a
  /// count per call (Flink's shared distinct state): its set and slot there (assignDistinctSets),
  /// -1 for other calls.
  int distinctSet = -1;
  int distinctSlot = -1;
  int distinctWidth = 0;  ///< how many calls share the set
};

/// Gives each DISTINCT call of `calls` its distinctSet (one per argument column) and slot.
void assignDistinctSets(std::vector<AggregateCall>& calls);

/// The result type of `kind` over `arg` (Flink's rules: SUM of INT is INT, of DECIMAL(p, s)
/// DECIMAL(38, s); AVG of an integer type is that type, truncated; of DECIMAL(p, s)
/// DECIMAL(38, max(s, 6)); COUNT is BIGINT NOT NULL), or an error naming what is accepted.
Result<DataType> aggregateResultType(AggregateCall::Kind kind, const DataType& arg, const std::string& name);

/// A GROUP BY: the input's first `keyCount` columns are the group keys; the output has the keys,
/// then one column per call.
struct AggregateSpec {
  size_t keyCount = 0;
  std::vector<AggregateCall> calls;
  std::shared_ptr<const Schema> output;
  /// A window aggregation (GROUP BY window_start, window_end, … over a windowing function):
  /// the key that holds window_end. Each window's rows are emitted once (inserts) when the
  /// watermark reaches window_end - 1; a row of a window that has fired is late (counted, not
  /// applied). -1: a group aggregation, whose result updates (+I, -U, +U, -D) with every row.
  int windowEndKey = -1;
  /// A session window aggregation (GROUP BY …, SESSION(time, gap)): rows of a key whose times
  /// are less than `sessionGap` apart form one session [first time, last time + gap), emitted
  /// once when the watermark passes its end. The output has the keys, window_start, window_end,
  /// then the calls. `sessionTimeColumn` is the input's time column.
  int64_t sessionGap = 0;
  int sessionTimeColumn = -1;
  /// A window aggregation over processing time (windows of PROCTIME()): a window fires when the
  /// wall clock passes its end (and every window at the end of the input), not by watermarks.
  bool processingTime = false;
  /// A group aggregation with Flink's mini-batch on (table.exec.mini-batch.enabled): each input
  /// batch is folded in runs of at most this many rows, and a group changed by a run gives one
  /// update (-U of its result before the run, +U after; +I for a new group, -D for one gone)
  /// instead of one per row. Rows are never held back for a later batch, so the added latency is
  /// none (table.exec.mini-batch.allow-latency is met whatever its value). 0: off.
  size_t miniBatchSize = 0;
};

/// Makes the aggregation operator (one per subtask; its input is partitioned by the keys).
std::function<std::unique_ptr<Operator>()> makeAggregateOperator(std::shared_ptr<const AggregateSpec> spec);

/// An OVER aggregation: every row, with aggregates over a frame of the rows of its partition
/// ordered by time: ROWS BETWEEN n PRECEDING AND CURRENT ROW (the row and the n before it),
/// RANGE BETWEEN INTERVAL PRECEDING AND CURRENT ROW (rows up to that much older, and its peers:
/// rows with the same time), or UNBOUNDED PRECEDING. The input's first `keyCount` columns are the
/// partition keys; the output is the input's columns, then one per call. On event time a row
/// waits until the watermark passes its time (rows are taken in time order; a late row is
/// counted and dropped, as in Flink); on processing time it is taken when it arrives.
struct OverSpec {
  size_t keyCount = 0;
  std::vector<AggregateCall> calls;
  int timeColumn = -1;
  bool processingTime = false;
  bool rows = false;        ///< a ROWS frame (else RANGE)
  int64_t preceding = -1;   ///< rows, or milliseconds; -1: UNBOUNDED PRECEDING
  std::shared_ptr<const Schema> input, output;
};

std::function<std::unique_ptr<Operator>()> makeOverOperator(std::shared_ptr<const OverSpec> spec);

/// A windowing table function: the input's rows with window_start, window_end and window_time
/// (window_end - 1 ms) appended, one row per window a row belongs to.
struct WindowSpec {
  enum class Kind { kTumble, kHop, kCumulate };
  Kind kind = Kind::kTumble;
  int timeColumn = 0;
  int64_t size = 0;
  int64_t step = 0;  ///< HOP's slide, CUMULATE's step
  int64_t offset = 0;
  std::shared_ptr<const Schema> output;
};

std::function<std::unique_ptr<Operator>()> makeWindowOperator(std::shared_ptr<const WindowSpec> spec);

/// Copies rows `rows` of `from` (of `type`), in that order, into `to` (cleared first).
void gatherColumn(const Column& from, const DataType& type, const std::vector<uint32_t>& rows, Column& to);

}  // namespace reka::sql
