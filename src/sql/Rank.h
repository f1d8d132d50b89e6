#pragma once

// SQL's top-N and deduplication: ROW_NUMBER() OVER (PARTITION BY … ORDER BY …) filtered on the
// row number (rn <= N) keeps the first N rows of each partition in keyed state. Private to the
// sql module.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "reka/api/Operator.h"
#include "reka/data/Row.h"

namespace reka::sql {

struct RankSpec {
  size_t valueCount = 0;              ///< the input's first valueCount columns are the rows' values
  std::vector<int> partitionColumns;  ///< input columns (after the values)
  std::vector<int> orderColumns;
  std::vector<bool> descending;
  int64_t limit = 1;
  /// The input is a changelog: every row of a partition is kept (not only the first N), so
  /// that when a row of the top N is retracted the next one moves up into it.
  bool retract = false;
  std::shared_ptr<const Schema> output;  ///< the values, then the row number (BIGINT)
};

/// Makes the top-N operator (its input partitioned by the partition columns). A row that enters
/// the top N is inserted with its row number; rows it pushes down are updated (-U, +U) and the
/// one pushed past N is deleted. Ties keep the earlier row first. Over a changelog, a retracted
/// row of the top N is deleted and the rows after it move up (-U, +U; +I for the one that enters).
std::function<std::unique_ptr<Operator>()> makeRankOperator(std::shared_ptr<const RankSpec> spec);

/// Appends the values of `columns` of row `row` so that the bytes compare (as std::string) in
/// the SQL order of the values: ascending, or descending where `descending` says; NULL first
/// when ascending, last when descending.
void appendOrderKey(const RowBatch& rows, size_t row, const std::vector<int>& columns, const std::vector<bool>& descending,
                    std::string& out);

}  // namespace reka::sql
