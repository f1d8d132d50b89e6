#pragma once

// What SQL's stateful row operators share: sending the rows they collected.

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
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

/// Restore at another parallelism of an operator whose groups, rows or partitions are all in
/// the state backend (moved with their key groups) and whose own snapshot is the watermark it
/// reached, then nothing it cannot rebuild from the backend: `watermark` becomes the lowest of
/// the old subtasks' (`absorbed` says whether one was taken already), and `restore` (the
/// operator's restoreState, which rebuilds its timers from the restored tables) runs with it.
template <class Restore>
Status absorbWatermarkSnapshot(const Operator::RescaledPart& part, bool& absorbed, int64_t watermark, Restore&& restore) {
  std::string_view in = part.base;
  int64_t theirs = 0;
  if (!Serde<int64_t>::read(in, theirs)) return Status::corruption("truncated snapshot of a SQL operator");
  const int64_t lowest = absorbed ? std::min(watermark, theirs) : theirs;
  absorbed = true;
  std::string mine;
  Serde<int64_t>::write(lowest, mine);
  mine.append(in);
  return restore(std::string_view(mine));
}

}  // namespace reka::sql
