#pragma once

// SQL's regular joins (inner, left, right, full) of two row streams on equal keys: both inputs
// are kept in keyed state; a row joins every stored row of the other side with its key. Inputs
// and results may be changelogs. Private to the sql module.

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "reka/api/Operator.h"
#include "reka/data/Row.h"

namespace reka::sql {

struct JoinSpec {
  enum class Kind { kInner, kLeft, kRight, kFull };
  Kind kind = Kind::kInner;
  std::vector<int> leftKeys, rightKeys;  ///< equal positions are compared (types agree)
  std::shared_ptr<const Schema> left, right;
  std::shared_ptr<const Schema> output;  ///< the left columns, then the right ones (nullable)
  /// A window join (both sides' window_end are equal keys): the key that holds window_end. A
  /// window's rows are dropped from state once the watermark passes its end; a row of a window
  /// that has passed is late (counted, not joined). -1: rows are kept for good.
  int windowEndKey = -1;
  /// An interval join: rows join when, besides equal keys, lower <= left time - right time <=
  /// upper (milliseconds; the time columns are event-time attributes). A row is kept until the
  /// watermark shows that no row of the other side can still match it; an outer side's row that
  /// never matched is given padded with nulls then. The result is append-only, and its watermark
  /// is held back by the bounds so that its time attributes are not late downstream.
  struct Interval {
    int leftTime = -1, rightTime = -1;
    int64_t lower = 0, upper = 0;
  };
  std::optional<Interval> interval;
  /// A lookup join (FOR SYSTEM_TIME AS OF a processing time): input 1 is the table, broadcast
  /// to every subtask and read to its end before the first row of input 0; each row of input 0
  /// then joins the table's rows with its key (inner or left; its row kind is kept).
  bool lookup = false;
};

/// Makes the join operator: input 0 is the left side, input 1 the right, each partitioned by its
/// keys. An inner join of two append-only inputs gives inserts only; an outer join retracts a
/// row padded with nulls when its first match arrives (and gives it back when the last goes).
std::function<std::unique_ptr<Operator>()> makeJoinOperator(std::shared_ptr<const JoinSpec> spec);

}  // namespace reka::sql
