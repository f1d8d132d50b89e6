#pragma once

// What SQL's stateful row operators share: sending the rows they collected.

#include <memory>
#include <utility>

#include "reka/api/Operator.h"
#include "reka/data/Row.h"

namespace reka::sql {

/// Pushes the rows collected in `out` to the operator's main output (counted as records out)
/// and leaves `out` empty with the same schema.
inline void emitRows(OperatorContext& ctx, RowBatch& out) {
  if (out.size() == 0) return;
  ctx.metrics->recordsOut.fetch_add(static_cast<int64_t>(out.size()), std::memory_order_relaxed);
  std::shared_ptr<const Schema> schema = out.schemaPtr();
  RowBatch batch(schema);
  std::swap(batch, out);
  ctx.outputs[0]->push(batch);
  out.setSchema(std::move(schema));
}

}  // namespace reka::sql
