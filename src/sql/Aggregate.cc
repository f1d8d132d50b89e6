#include "sql/Aggregate.h"

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include <cstring>
#include <map>
#include <stdexcept>

#include "reka/state/KeyedState.h"
#include "sql/KeyedRows.h"
#include "sql/RowOutput.h"

namespace reka::sql {

// ---- Accumulators and their state ------------------------------------------------------------

/// The accumulator of one aggregate call: how many values it counted and their sum, minimum or
/// maximum (a 128-bit integer holds INT, BIGINT, TIMESTAMP and DECIMAL sums without overflow;
/// a DOUBLE is kept in its bits). Strings (MIN/MAX) and DISTINCT sets live beside it.
struct Accumulator {
  int64_t count = 0;
  __int128 value = 0;
};

/// The state of one group: its net row count (inserts minus retractions) and an accumulator
/// per call; `texts` and `distinct` have an entry per call too (empty where unused).
struct GroupState {
  int64_t rows = 0;
  std::vector<Accumulator> accs;
  std::vector<std::string> texts;
  /// Per call, MIN and MAX over a changelog: every value with its count.
  std::vector<absl::flat_hash_map<std::string, int64_t>> distinct;
  /// Per distinct set (AggregateCall::distinctSet): each value with a count per call of the set
  /// (rows of that call holding it); the value is gone when every count is 0. A call's number of
  /// distinct values is its accumulator's count.
  std::vector<absl::flat_hash_map<std::string, std::vector<int64_t>>> sets;
};

/// An OVER aggregation's partition: the rows of a bounded frame that later rows may still need,
/// the running accumulators of an unbounded one, and the rows waiting for the watermark (each
/// with its time and values).
struct OverPartition {
  GroupState running;
  std::vector<std::pair<int64_t, std::string>> frame;
  std::vector<std::pair<int64_t, std::string>> waiting;
  int64_t earliest = INT64_MAX;  ///< the earliest time in `waiting` (kept, not scanned per row)
};

/// A session of one key: [start, end) and its accumulators.
struct Session {
  int64_t start = 0;
  int64_t end = 0;
  GroupState state;
};
struct Sessions {
  std::vector<Session> sessions;
};

}  // namespace reka::sql

namespace reka {
template <>
struct Serde<sql::GroupState> {
  static void write(const sql::GroupState& s, std::string& out) {
    Serde<int64_t>::write(s.rows, out);
    Serde<uint64_t>::write(s.accs.size(), out);
    for (const auto& a : s.accs) {
      Serde<int64_t>::write(a.count, out);
      out.append(reinterpret_cast<const char*>(&a.value), sizeof a.value);
    }
    Serde<std::vector<std::string>>::write(s.texts, out);
    Serde<std::vector<absl::flat_hash_map<std::string, int64_t>>>::write(s.distinct, out);
    Serde<uint64_t>::write(s.sets.size(), out);
    for (const auto& set : s.sets) {
      Serde<uint64_t>::write(set.size(), out);
      for (const auto& [v, counts] : set) {
        Serde<std::string>::write(v, out);
        Serde<std::vector<int64_t>>::write(counts, out);
      }
    }
  }
  static bool read(std::string_view& in, sql::GroupState& s) {
    uint64_t n = 0;
    if (!Serde<int64_t>::read(in, s.rows) || !Serde<uint64_t>::read(in, n) || n > in.size()) return false;
    s.accs.resize(n);
    for (auto& a : s.accs) {
      if (!Serde<int64_t>::read(in, a.count) || in.size() < sizeof a.value) return false;
      std::memcpy(&a.value, in.data(), sizeof a.value);
      in.remove_prefix(sizeof a.value);
    }
    if (!Serde<std::vector<std::string>>::read(in, s.texts) || !Serde<std::vector<absl::flat_hash_map<std::string, int64_t>>>::read(in, s.distinct) ||
        !Serde<uint64_t>::read(in, n) || n > in.size())
      return false;
    s.sets.assign(n, {});
    for (auto& set : s.sets) {
      uint64_t values = 0;
      if (!Serde<uint64_t>::read(in, values) || values > in.size()) return false;
      set.reserve(values);
      for (uint64_t k = 0; k < values; ++k) {
        std::string v;
        std::vector<int64_t> counts;
        if (!Serde<std::string>::read(in, v) || !Serde<std::vector<int64_t>>::read(in, counts)) return false;
        set.emplace(std::move(v), std::move(counts));
      }
    }
    return true;
  }
};
template <>
struct Serde<sql::OverPartition> {
  static void write(const sql::OverPartition& s, std::string& out) {
    Serde<sql::GroupState>::write(s.running, out);
    Serde<int64_t>::write(s.earliest, out);
    for (const auto* rows : {&s.frame, &s.waiting}) {
      Serde<uint64_t>::write(rows->size(), out);
      for (const auto& [t, v] : *rows) {
        Serde<int64_t>::write(t, out);
        Serde<std::string>::write(v, out);
      }
    }
  }
  static bool read(std::string_view& in, sql::OverPartition& s) {
    if (!Serde<sql::GroupState>::read(in, s.running) || !Serde<int64_t>::read(in, s.earliest)) return false;
    for (auto* rows : {&s.frame, &s.waiting}) {
      uint64_t n = 0;
      if (!Serde<uint64_t>::read(in, n) || n > in.size()) return false;
      rows->assign(n, {});
      for (auto& [t, v] : *rows)
        if (!Serde<int64_t>::read(in, t) || !Serde<std::string>::read(in, v)) return false;
    }
    return true;
  }
};
template <>
struct Serde<sql::Sessions> {
  static void write(const sql::Sessions& s, std::string& out) {
    Serde<uint64_t>::write(s.sessions.size(), out);
    for (const auto& x : s.sessions) {
      Serde<int64_t>::write(x.start, out);
      Serde<int64_t>::write(x.end, out);
      Serde<sql::GroupState>::write(x.state, out);
    }
  }
  static bool read(std::string_view& in, sql::Sessions& s) {
    uint64_t n = 0;
    if (!Serde<uint64_t>::read(in, n) || n > in.size()) return false;
    s.sessions.resize(n);
    for (auto& x : s.sessions)
      if (!Serde<int64_t>::read(in, x.start) || !Serde<int64_t>::read(in, x.end) || !Serde<sql::GroupState>::read(in, x.state)) return false;
    return true;
  }
};
}  // namespace reka

namespace reka::sql {

namespace {

bool isIntegerKind(TypeKind k) { return k == TypeKind::kInt || k == TypeKind::kBigint; }

double asDouble(__int128 v) {
  double d;
  const auto bits = static_cast<uint64_t>(v);
  std::memcpy(&d, &bits, sizeof d);
  return d;
}
__int128 fromDouble(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof d);
  return static_cast<__int128>(bits);
}

Decimal pow10(int n) { return decimalLimit(n) + 1; }

/// The value of row `row` of `c` (of `type`) as an accumulator value.
__int128 valueOf(const Column& c, const DataType& type, size_t row) {
  switch (type.kind) {
    case TypeKind::kDouble: return fromDouble(c.doubles[row]);
    case TypeKind::kDecimal: return c.decimals[row];
    default: return c.ints[row];
  }
}

/// a < b for values of `type` as accumulators hold them.
bool lessThan(__int128 a, __int128 b, TypeKind kind) { return kind == TypeKind::kDouble ? asDouble(a) < asDouble(b) : a < b; }

/// A group's state with no rows, for `calls`.
GroupState newGroupState(const std::vector<AggregateCall>& calls) {
  GroupState s;
  s.accs.resize(calls.size());
  bool texts = false, distinct = false;
  int sets = 0;
  for (const auto& c : calls) {
    texts = texts || (c.argType.kind == TypeKind::kString || c.argType.kind == TypeKind::kBytes) || c.user != nullptr;
    distinct = distinct || c.retractable;
    sets = std::max(sets, c.distinctSet + 1);
  }
  s.sets.resize(static_cast<size_t>(sets));
  if (texts) s.texts.resize(calls.size());
  for (size_t j = 0; j < calls.size(); ++j)
    if (calls[j].user != nullptr) s.texts[j] = calls[j].user->initial;  // a user function's accumulator
  if (distinct) s.distinct.resize(calls.size());
  return s;
}

thread_local std::vector<const Column*> userArgs_;  ///< scratch: a user function's argument columns

/// The value of a distinct set looked up for the row being accumulated (scratch of
/// accumulateRow, reset at each call: one lookup per row and set).
struct DistinctLookup {
  size_t row = SIZE_MAX;
  absl::flat_hash_map<std::string, std::vector<int64_t>>::iterator it;
};
thread_local std::vector<DistinctLookup> tSetRow_;

/// Adds (sign 1) or retracts (sign -1) row `row` of `in` to the accumulators of `calls`;
/// `valueKey_` is scratch space.
void accumulateRow(const std::vector<AggregateCall>& calls, GroupState& st, const RowBatch& in, size_t row, int sign, std::string& valueKey_) {
  st.rows += sign;
  for (auto& look : tSetRow_) look.row = SIZE_MAX;  // nothing looked up yet for this row
  for (size_t j = 0; j < calls.size(); ++j) {
    const AggregateCall& call = calls[j];
    if (call.filterColumn >= 0) {
      const Column& f = in.columns[static_cast<size_t>(call.filterColumn)];
      if (f.nulls[row] != 0 || f.ints[row] == 0) continue;
    }
    Accumulator& acc = st.accs[j];
    if (call.kind == AggregateCall::Kind::kCountStar) {
      acc.count += sign;
      continue;
    }
    if (call.kind == AggregateCall::Kind::kUser) {
      userArgs_.clear();
      bool null = false;
      for (int a : call.argColumns) {
        userArgs_.push_back(&in.columns[static_cast<size_t>(a)]);
        null = null || in.columns[static_cast<size_t>(a)].nulls[row] != 0;
      }
      if (null) continue;  // rows with a null argument are not passed to it
      acc.count += sign;
      if (sign > 0) call.user->accumulate(st.texts[j], userArgs_, row);
      else call.user->retract(st.texts[j], userArgs_, row);
      continue;
    }
    const Column& c = in.columns[static_cast<size_t>(call.argColumn)];
    if (c.nulls[row] != 0) continue;
    const bool text = call.argType.kind == TypeKind::kString || call.argType.kind == TypeKind::kBytes;
    // A value as the key of its count (DISTINCT, and MIN/MAX over a changelog): the string, or
    // the accumulator's 16 bytes.
    const auto valueKey = [&] {
      if (text) {
        valueKey_.assign(c.strings[row]);
      } else {
        const __int128 v = valueOf(c, call.argType, row);
        valueKey_.assign(reinterpret_cast<const char*>(&v), sizeof v);
      }
    };
    if (call.distinct) {
      // Only the first occurrence of a value for this call (and the retraction of its last)
      // counts. The value is looked up once per row for all the calls of its set.
      const size_t set = static_cast<size_t>(call.distinctSet), slot = static_cast<size_t>(call.distinctSlot);
      auto& values = st.sets[set];
      if (tSetRow_.size() < st.sets.size()) tSetRow_.resize(st.sets.size());
      DistinctLookup& look = tSetRow_[set];
      if (look.row != row) {
        valueKey();
        look.row = row;
        look.it = values.find(valueKey_);
        if (look.it == values.end() && sign > 0)
          look.it = values.emplace(valueKey_, std::vector<int64_t>(static_cast<size_t>(call.distinctWidth), 0)).first;
      }
      if (look.it == values.end()) continue;  // retracts a value never added
      int64_t& n = look.it->second[slot];
      if (sign > 0) {
        if (++n != 1) continue;
      } else {
        if (n == 0 || --n > 0) continue;
        bool empty = true;
        for (int64_t c : look.it->second) empty = empty && c == 0;
        if (empty) {
          values.erase(look.it);
          look.it = values.end();
        }
      }
    }
    switch (call.kind) {
      case AggregateCall::Kind::kUser: break;  // handled above
      case AggregateCall::Kind::kCountStar:
      case AggregateCall::Kind::kCount: acc.count += sign; break;
      case AggregateCall::Kind::kSum:
      case AggregateCall::Kind::kAvg:
        acc.count += sign;
        if (call.argType.kind == TypeKind::kDouble) {
          acc.value = fromDouble(asDouble(acc.value) + sign * c.doubles[row]);
        } else {
          acc.value += sign * valueOf(c, call.argType, row);
        }
        break;
      case AggregateCall::Kind::kMin:
      case AggregateCall::Kind::kMax: {
        const bool isMin = call.kind == AggregateCall::Kind::kMin;
        if (call.retractable) {
          // Over a changelog every value is counted (st.distinct[j]); retracting the last copy
          // of the current minimum or maximum finds the next one among those left.
          valueKey();
          auto& values = st.distinct[j];
          if (sign < 0) {
            auto it = values.find(valueKey_);
            if (it == values.end()) break;  // retracts a value never added
            --acc.count;
            if (--it->second > 0) break;
            values.erase(it);
            bool first = true;
            for (const auto& [k, n] : values) {
              if (text) {
                if (first || (isMin ? k < st.texts[j] : k > st.texts[j])) st.texts[j] = k;
              } else {
                __int128 v;
                std::memcpy(&v, k.data(), sizeof v);
                if (first || (isMin ? lessThan(v, acc.value, call.argType.kind) : lessThan(acc.value, v, call.argType.kind))) acc.value = v;
              }
              first = false;
            }
            break;
          }
          ++values[valueKey_];
        }
        if (text) {
          const std::string_view v = c.strings[row];
          std::string& cur = st.texts[j];
          if (acc.count == 0 || (isMin ? v < cur : v > cur)) cur.assign(v);
        } else {
          const __int128 v = valueOf(c, call.argType, row);
          if (acc.count == 0 || (isMin ? lessThan(v, acc.value, call.argType.kind) : lessThan(acc.value, v, call.argType.kind)))
            acc.value = v;
        }
        ++acc.count;
        break;
      }
    }
  }
}

void setValue(Column& c, size_t row, const DataType& type, __int128 v) {
  switch (type.kind) {
    case TypeKind::kDouble: RowBatch::setDouble(c, row, asDouble(v)); break;
    case TypeKind::kDecimal: RowBatch::setDecimal(c, row, v); break;
    case TypeKind::kInt: RowBatch::setInt(c, row, static_cast<int32_t>(v)); break;  // wraps as Java's int does
    default: RowBatch::setInt(c, row, static_cast<int64_t>(v)); break;
  }
}

/// Writes the results of `calls` over `st` into row `row` of `out`, from column `offset` on.
void writeResults(const std::vector<AggregateCall>& calls, const GroupState& st, RowBatch& out_, size_t row, size_t offset) {
  for (size_t j = 0; j < calls.size(); ++j) {
    const AggregateCall& call = calls[j];
    Column& c = out_.columns[offset + j];
    const Accumulator& acc = st.accs[j];
    switch (call.kind) {
      case AggregateCall::Kind::kCountStar:
      case AggregateCall::Kind::kCount:
        RowBatch::setInt(c, row, acc.count);  // DISTINCT: counted at a value's first row and its last retraction
        break;
      case AggregateCall::Kind::kSum:
        if (acc.count <= 0) break;  // null: no value summed
        setValue(c, row, call.resultType, acc.value);
        break;
      case AggregateCall::Kind::kAvg: {
        if (acc.count <= 0) break;
        const TypeKind k = call.resultType.kind;
        if (k == TypeKind::kDouble) {
          RowBatch::setDouble(c, row, asDouble(acc.value) / static_cast<double>(acc.count));
        } else if (k == TypeKind::kDecimal) {
          // sum at the result's scale, divided by the count, rounded half up.
          const Decimal scaled = acc.value * pow10(call.resultType.scale - call.argType.scale);
          Decimal q = scaled / acc.count, r = scaled % acc.count;
          if (r < 0) r = -r;
          if (r * 2 >= acc.count) q += scaled < 0 ? -1 : 1;
          RowBatch::setDecimal(c, row, q);
        } else {
          RowBatch::setInt(c, row, static_cast<int64_t>(acc.value / acc.count));  // truncated, as Flink's AVG of integers
        }
        break;
      }
      case AggregateCall::Kind::kUser:
        call.user->result(st.texts[j], c, row, out_.arena());
        break;
      case AggregateCall::Kind::kMin:
      case AggregateCall::Kind::kMax:
        if (acc.count <= 0) break;
        if (call.resultType.kind == TypeKind::kString || call.resultType.kind == TypeKind::kBytes) {
          out_.setString(c, row, st.texts[j]);
        } else {
          setValue(c, row, call.resultType, acc.value);
        }
        break;
    }
  }
}

class AggregateOperator final : public Operator {
 public:
  explicit AggregateOperator(std::shared_ptr<const AggregateSpec> spec) : spec_(std::move(spec)) {
    for (size_t k = 0; k < spec_->keyCount; ++k) keyColumns_.push_back(static_cast<int>(k));
  }

  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    auto table = KeyedRows<GroupState>::open(*ctx.state, ctx.stateScope() + "/groups");
    if (!table.isOk()) return table.status();
    table_ = *table;
    if (spec_->sessionGap > 0) {
      auto sessions = KeyedRows<Sessions>::open(*ctx.state, ctx.stateScope() + "/sessions");
      if (!sessions.isOk()) return sessions.status();
      sessions_ = *sessions;
    }
    aggOffset_ = spec_->keyCount + (spec_->sessionGap > 0 ? 2 : 0);
    out_.setSchema(spec_->output);
    before_.setSchema(spec_->output);
    return Status::ok();
  }

  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RowBatch&>(batch);
    if (spec_->sessionGap > 0) return processSessions(in);
    if (spec_->miniBatchSize > 0 && spec_->windowEndKey < 0) {
      for (size_t from = 0; from < in.size(); from += spec_->miniBatchSize) processMiniBatch(in, from, std::min(in.size(), from + spec_->miniBatchSize));
      emit();
      return;
    }
    const bool windowed = spec_->windowEndKey >= 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const RowKind kind = in.kinds[i];
      const bool retract = kind == RowKind::kUpdateBefore || kind == RowKind::kDelete;
      int64_t windowEnd = 0;
      if (windowed) {
        windowEnd = in.columns[static_cast<size_t>(spec_->windowEndKey)].ints[i];
        if (!spec_->processingTime && windowEnd - 1 <= watermark_) {
          ctx_->metrics->lateRecords.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
      }
      key_.clear();
      appendRowKey(in, i, keyColumns_, key_);
      const KeyGroup kg = keyGroupFor(hashKey(key_), ctx_->maxParallelism);
      GroupState* st = table_.findMutable(kg, key_);
      const bool existed = st != nullptr;
      if (!existed) {
        if (retract) continue;  // retracts a row of a group this operator never saw: nothing to undo
        st = &table_.getOrCreate(kg, key_, [this] { return newState(); });
        if (windowed) {
          auto& list = pending_[windowEnd];
          if (list.empty() && spec_->processingTime) ctx_->time->requestCallback(windowEnd);
          list.push_back({kg, key_});
        }
      }
      size_t before = SIZE_MAX;
      if (!windowed && existed) {
        before = out_.appendRow(RowKind::kUpdateBefore);
        fill(before, key_, *st);
      }
      accumulate(*st, in, i, retract ? -1 : 1);
      if (windowed) continue;
      if (st->rows <= 0) {
        if (before != SIZE_MAX) out_.kinds[before] = RowKind::kDelete;
        table_.erase(kg, key_);
        continue;
      }
      const size_t after = out_.appendRow(existed ? RowKind::kUpdateAfter : RowKind::kInsert);
      fill(after, key_, *st);
      if (before != SIZE_MAX && sameResult(before, after)) out_.resize(before);  // unchanged: no update, as in Flink
      if (out_.size() >= ctx_->batchSize) emit();
    }
    emit();
  }

  void processWatermark(int64_t watermark) override {
    watermark_ = watermark;
    if (spec_->sessionGap > 0) fireSessions(watermark);
    if (spec_->windowEndKey >= 0 && !spec_->processingTime) fire(watermark);
    forwardWatermark(watermark);
  }

  int64_t nextEventTimer() const override {
    // A window fires when the watermark reaches its last millisecond.
    if (spec_->processingTime || pending_.empty() || (spec_->sessionGap <= 0 && spec_->windowEndKey < 0)) return INT64_MAX;
    return pending_.begin()->first - 1;
  }

  void onProcessingTime(int64_t now) override {
    if (spec_->processingTime) fire(now - 1);  // the windows that end at or before now
  }

  void finish() override {
    if (spec_->processingTime) fire(INT64_MAX);  // at the end of the input every window fires
    emit();
  }

  Status snapshotState(int64_t, std::string& out) override {
    // The groups are in the state backend; the windows waiting to fire are found from them on
    // restore. The watermark reached decides which rows are late.
    Serde<int64_t>::write(watermark_, out);
    return Status::ok();
  }
  OwnStateRescale ownStateRescale() const override { return OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator&, const RescaledPart& part) override {
    return absorbWatermarkSnapshot(part, absorbed_, watermark_, [this](std::string_view in) { return restoreState(in); });
  }
  Status restoreState(std::string_view in) override {
    if (!Serde<int64_t>::read(in, watermark_)) return Status::corruption("SQL aggregate: truncated snapshot");
    if (spec_->sessionGap > 0) {
      pending_.clear();
      const KeyGroupRange range = sessions_.range();
      for (int32_t g = range.first; g <= range.last; ++g)
        REKA_RETURN_IF_ERROR(sessions_.forEach(KeyGroup{g}, [&](const std::string& key, const Sessions& list) {
          for (const Session& x : list.sessions) pending_[x.end].push_back({KeyGroup{g}, key});
          return Status::ok();
        }));
      return Status::ok();
    }
    if (spec_->windowEndKey < 0) return Status::ok();
    pending_.clear();
    RowBatch scratch(spec_->output);
    scratch.appendRow();
    const KeyGroupRange range = table_.range();
    for (int32_t g = range.first; g <= range.last; ++g) {
      const KeyGroup kg{g};
      REKA_RETURN_IF_ERROR(table_.forEach(kg, [&](const std::string& key, const GroupState&) {
        std::string_view k = key;
        if (!readRowKey(k, *spec_->output, 0, spec_->keyCount, scratch, 0))
          return Status::corruption("SQL aggregate: a stored group key does not match the query's keys");
        pending_[scratch.columns[static_cast<size_t>(spec_->windowEndKey)].ints[0]].push_back({kg, key});
        return Status::ok();
      }));
    }
    if (spec_->processingTime)
      for (const auto& [end, groups] : pending_) ctx_->time->requestCallback(end);
    return Status::ok();
  }

 private:
  struct PendingGroup {
    KeyGroup keyGroup;
    std::string key;
  };

  /// Rows [from, to) of `in` as one mini-batch (AggregateSpec::miniBatchSize): every row applied
  /// to its group's state, then one update per group the rows changed, in the order the groups
  /// were first seen.
  void processMiniBatch(const RowBatch& in, size_t from, size_t to) {
    touched_.clear();
    touchedIndex_.clear();
    before_.clear();
    for (size_t i = from; i < to; ++i) {
      const bool retract = in.kinds[i] == RowKind::kUpdateBefore || in.kinds[i] == RowKind::kDelete;
      key_.clear();
      appendRowKey(in, i, keyColumns_, key_);
      const KeyGroup kg = keyGroupFor(hashKey(key_), ctx_->maxParallelism);
      GroupState* st = table_.findMutable(kg, key_);
      const auto [at, first] = touchedIndex_.try_emplace(key_, touched_.size());
      if (first) {
        // The group's result before this mini-batch: what its -U (or -D) retracts.
        size_t before = SIZE_MAX;
        if (st != nullptr) {
          before = before_.appendRow(RowKind::kUpdateBefore);
          fillInto(before_, before, key_, *st);
        }
        touched_.push_back({kg, key_, before});
      }
      if (st == nullptr) {
        if (retract) continue;  // retracts a row of a group this operator never saw: nothing to undo
        st = &table_.getOrCreate(kg, key_, [this] { return newState(); });
      }
      accumulate(*st, in, i, retract ? -1 : 1);
      if (st->rows <= 0) table_.erase(kg, key_);  // a later row of the batch starts it again
    }
    for (const Touched& t : touched_) {
      const GroupState* st = table_.findMutable(t.keyGroup, t.key);
      if (st == nullptr) {
        if (t.before != SIZE_MAX) {
          out_.appendFrom(before_, t.before);
          out_.kinds.back() = RowKind::kDelete;
        }
      } else if (t.before == SIZE_MAX) {
        fill(out_.appendRow(RowKind::kInsert), t.key, *st);
      } else {
        const size_t before = out_.size();
        out_.appendFrom(before_, t.before);
        const size_t after = out_.appendRow(RowKind::kUpdateAfter);
        fill(after, t.key, *st);
        if (sameResult(before, after)) out_.resize(before);  // unchanged: no update, as in Flink
      }
      if (out_.size() >= ctx_->batchSize) emit();
    }
  }

  GroupState newState() const { return newGroupState(spec_->calls); }

  void accumulate(GroupState& st, const RowBatch& in, size_t row, int sign) { accumulateRow(spec_->calls, st, in, row, sign, valueKey_); }

  /// Writes the group's keys and results into row `row` of the output.
  void fill(size_t row, std::string_view key, const GroupState& st) { fillInto(out_, row, key, st); }
  void fillInto(RowBatch& batch, size_t row, std::string_view key, const GroupState& st) {
    if (!readRowKey(key, *spec_->output, 0, spec_->keyCount, batch, row)) throw std::runtime_error("SQL aggregate: a malformed group key");
    writeResults(spec_->calls, st, batch, row, aggOffset_);
  }

  /// Whether the results (not the keys) of rows a and b of the output are equal.
  bool sameResult(size_t a, size_t b) const {
    for (size_t j = 0; j < spec_->calls.size(); ++j) {
      const Column& c = out_.columns[aggOffset_ + j];
      if (c.nulls[a] != c.nulls[b]) return false;
      if (c.nulls[a] != 0) continue;
      switch (spec_->calls[j].resultType.kind) {
        case TypeKind::kDouble:
          if (c.doubles[a] != c.doubles[b]) return false;
          break;
        case TypeKind::kDecimal:
          if (c.decimals[a] != c.decimals[b]) return false;
          break;
        case TypeKind::kString:
        case TypeKind::kBytes:
          if (c.strings[a] != c.strings[b]) return false;
          break;
        default:
          if (c.ints[a] != c.ints[b]) return false;
          break;
      }
    }
    return true;
  }

  /// Session windows: the row joins (and merges) the sessions of its key it falls into.
  void processSessions(RowBatch& in) {
    const int64_t gap = spec_->sessionGap;
    const Column& time = in.columns[static_cast<size_t>(spec_->sessionTimeColumn)];
    for (size_t i = 0; i < in.size(); ++i) {
      if (time.nulls[i] != 0 || time.ints[i] + gap - 1 <= watermark_) {
        ctx_->metrics->lateRecords.fetch_add(1, std::memory_order_relaxed);  // no time, or its session has closed
        continue;
      }
      const int64_t t = time.ints[i];
      key_.clear();
      appendRowKey(in, i, keyColumns_, key_);
      const KeyGroup kg = keyGroupFor(hashKey(key_), ctx_->maxParallelism);
      Sessions& list = sessions_.getOrCreate(kg, key_, [] { return Sessions{}; });
      Session merged{t, t + gap, newState()};
      std::vector<Session> kept;
      for (Session& x : list.sessions) {
        if (x.start < merged.end && merged.start < x.end) {
          merged.start = std::min(merged.start, x.start);
          merged.end = std::max(merged.end, x.end);
          mergeInto(merged.state, x.state);
        } else {
          kept.push_back(std::move(x));
        }
      }
      accumulate(merged.state, in, i, 1);
      pending_[merged.end].push_back({kg, key_});
      kept.push_back(std::move(merged));
      list.sessions = std::move(kept);
    }
  }

  void mergeInto(GroupState& into, const GroupState& from) const {
    into.rows += from.rows;
    for (size_t j = 0; j < spec_->calls.size(); ++j) {
      const AggregateCall& call = spec_->calls[j];
      Accumulator& a = into.accs[j];
      const Accumulator& b = from.accs[j];
      if (call.distinct) {
        const size_t set = static_cast<size_t>(call.distinctSet), slot = static_cast<size_t>(call.distinctSlot);
        for (const auto& [v, counts] : from.sets[set]) {
          const int64_t n = counts[slot];
          if (n == 0) continue;
          auto& target = into.sets[set][v];
          target.resize(counts.size(), 0);
          int64_t& m = target[slot];
          if (m == 0) {
            // A value new to the merged state counts once.
            if (call.kind == AggregateCall::Kind::kSum || call.kind == AggregateCall::Kind::kAvg) {
              __int128 x;
              std::memcpy(&x, v.data(), sizeof x);
              a.value = call.argType.kind == TypeKind::kDouble ? fromDouble(asDouble(a.value) + asDouble(x)) : a.value + x;
            }
            ++a.count;
          }
          m += n;
        }
        continue;
      }
      switch (call.kind) {
        case AggregateCall::Kind::kUser: break;  // the planner keeps user functions out of session windows
        case AggregateCall::Kind::kCountStar:
        case AggregateCall::Kind::kCount: a.count += b.count; break;
        case AggregateCall::Kind::kSum:
        case AggregateCall::Kind::kAvg:
          a.value = call.argType.kind == TypeKind::kDouble ? fromDouble(asDouble(a.value) + asDouble(b.value)) : a.value + b.value;
          a.count += b.count;
          break;
        case AggregateCall::Kind::kMin:
        case AggregateCall::Kind::kMax: {
          if (b.count == 0) break;
          const bool isMin = call.kind == AggregateCall::Kind::kMin;
          if (call.argType.kind == TypeKind::kString || call.argType.kind == TypeKind::kBytes) {
            if (a.count == 0 || (isMin ? from.texts[j] < into.texts[j] : from.texts[j] > into.texts[j])) into.texts[j] = from.texts[j];
          } else if (a.count == 0 || (isMin ? lessThan(b.value, a.value, call.argType.kind) : lessThan(a.value, b.value, call.argType.kind))) {
            a.value = b.value;
          }
          a.count += b.count;
          break;
        }
      }
    }
  }

  /// Emits every session that ends at or before watermark + 1.
  void fireSessions(int64_t watermark) {
    while (!pending_.empty() && pending_.begin()->first - 1 <= watermark) {
      for (const PendingGroup& g : pending_.begin()->second) {
        Sessions* list = sessions_.findMutable(g.keyGroup, g.key);
        if (list == nullptr) continue;
        std::vector<Session> open;
        for (Session& x : list->sessions) {
          if (x.end - 1 > watermark) {
            open.push_back(std::move(x));
            continue;
          }
          const size_t row = out_.appendRow(RowKind::kInsert);
          fill(row, g.key, x.state);
          RowBatch::setInt(out_.columns[spec_->keyCount], row, x.start);
          RowBatch::setInt(out_.columns[spec_->keyCount + 1], row, x.end);
          ctx_->metrics->firedResults.fetch_add(1, std::memory_order_relaxed);
        }
        if (open.empty()) {
          sessions_.erase(g.keyGroup, g.key);
        } else {
          list->sessions = std::move(open);
        }
        if (out_.size() >= ctx_->batchSize) emit();
      }
      pending_.erase(pending_.begin());
    }
    emit();
  }

  /// Emits every window that ends at or before watermark + 1, in order of their ends.
  void fire(int64_t watermark) {
    while (!pending_.empty() && pending_.begin()->first - 1 <= watermark) {
      for (const PendingGroup& g : pending_.begin()->second) {
        const GroupState* st = table_.find(g.keyGroup, g.key);
        if (st == nullptr) continue;
        fill(out_.appendRow(RowKind::kInsert), g.key, *st);
        table_.erase(g.keyGroup, g.key);
        ctx_->metrics->firedResults.fetch_add(1, std::memory_order_relaxed);
        if (out_.size() >= ctx_->batchSize) emit();
      }
      pending_.erase(pending_.begin());
    }
    emit();
  }

  void emit() { emitRows(*ctx_, out_); }

  std::shared_ptr<const AggregateSpec> spec_;
  std::vector<int> keyColumns_;
  OperatorContext* ctx_ = nullptr;
  KeyedRows<GroupState> table_;
  KeyedRows<Sessions> sessions_;
  size_t aggOffset_ = 0;  ///< the output column of the first call
  RowBatch out_;
  std::string key_, valueKey_;
  int64_t watermark_ = INT64_MIN;
  bool absorbed_ = false;  ///< a rescaled restore took an old subtask's watermark
  /// Window aggregation: the groups of each window, by window end, until it fires.
  std::map<int64_t, std::vector<PendingGroup>> pending_;
  /// Mini-batch: the groups the current run changed, in the order first seen, each with its row
  /// in `before_` (its result before the run; SIZE_MAX for a group that did not exist).
  struct Touched {
    KeyGroup keyGroup;
    std::string key;
    size_t before;
  };
  std::vector<Touched> touched_;
  absl::flat_hash_map<std::string, size_t> touchedIndex_;
  RowBatch before_;
};

int64_t floorTo(int64_t t, int64_t size, int64_t offset) {
  const int64_t x = t - offset;
  return x / size * size - ((x % size != 0 && x < 0) ? size : 0) + offset;
}

class WindowOperator final : public Operator {
 public:
  explicit WindowOperator(std::shared_ptr<const WindowSpec> spec) : spec_(std::move(spec)) {}
  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    return Status::ok();
  }
  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RowBatch&>(batch);
    rows_.clear();
    starts_.clear();
    ends_.clear();
    const Column& time = in.columns[static_cast<size_t>(spec_->timeColumn)];
    const int64_t size = spec_->size, step = spec_->step, offset = spec_->offset;
    for (size_t i = 0; i < in.size(); ++i) {
      if (time.nulls[i] != 0) {
        // No time, no window: counted where late rows are, as Flink drops such rows.
        ctx_->metrics->lateRecords.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const int64_t t = time.ints[i];
      auto add = [&](int64_t start, int64_t end) {
        rows_.push_back(static_cast<uint32_t>(i));
        starts_.push_back(start);
        ends_.push_back(end);
      };
      switch (spec_->kind) {
        case WindowSpec::Kind::kTumble: {
          const int64_t start = floorTo(t, size, offset);
          add(start, start + size);
          break;
        }
        case WindowSpec::Kind::kHop: {
          // Every window [start, start + size) with start ≡ offset (mod slide) that holds t.
          // The earliest window first: the first start above t - size, then every slide up to t.
          const int64_t last = floorTo(t, step, offset);
          int64_t start = last;
          while (start - step > t - size) start -= step;
          for (; start <= last; start += step)
            if (start > t - size) add(start, start + size);  // (a slide longer than the size leaves gaps)
          break;
        }
        case WindowSpec::Kind::kCumulate: {
          const int64_t start = floorTo(t, size, offset);
          for (int64_t end = start + step; end <= start + size; end += step)
            if (t < end) add(start, end);
          break;
        }
      }
    }
    if (rows_.empty()) return;
    RowBatch out(spec_->output);
    const size_t n = in.schema().size();
    for (size_t k = 0; k < n; ++k) gatherColumn(in.columns[k], in.schema().field(k).type, rows_, out.columns[k]);
    out.kinds.resize(rows_.size());
    for (size_t r = 0; r < rows_.size(); ++r) out.kinds[r] = in.kinds[rows_[r]];
    auto fillTime = [&](Column& c, const std::vector<int64_t>& v, int64_t minus) {
      c.nulls.assign(v.size(), 0);
      c.ints.resize(v.size());
      for (size_t r = 0; r < v.size(); ++r) c.ints[r] = v[r] - minus;
    };
    fillTime(out.columns[n], starts_, 0);
    fillTime(out.columns[n + 1], ends_, 0);
    fillTime(out.columns[n + 2], ends_, 1);
    out.retain(in);
    ctx_->metrics->recordsOut.fetch_add(static_cast<int64_t>(out.size()), std::memory_order_relaxed);
    ctx_->outputs[0]->push(out);
  }

 private:
  std::shared_ptr<const WindowSpec> spec_;
  OperatorContext* ctx_ = nullptr;
  std::vector<uint32_t> rows_;
  std::vector<int64_t> starts_, ends_;
};

class OverOperator final : public Operator {
 public:
  explicit OverOperator(std::shared_ptr<const OverSpec> spec) : spec_(std::move(spec)) {
    for (size_t k = 0; k < spec_->keyCount; ++k) keyColumns_.push_back(static_cast<int>(k));
    all_.resize(spec_->input->size());
    for (size_t c = 0; c < all_.size(); ++c) all_[c] = static_cast<int>(c);
  }

  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    auto table = KeyedRows<OverPartition>::open(*ctx.state, ctx.stateScope() + "/partitions");
    if (!table.isOk()) return table.status();
    table_ = *table;
    out_.setSchema(spec_->output);
    scratch_.setSchema(spec_->input);
    return Status::ok();
  }

  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RowBatch&>(batch);
    const Column& time = in.columns[static_cast<size_t>(spec_->timeColumn)];
    for (size_t i = 0; i < in.size(); ++i) {
      if (in.kinds[i] != RowKind::kInsert) continue;  // the planner gives it an append-only input
      const int64_t t = spec_->processingTime ? ctx_->time->now() : time.ints[i];
      if (!spec_->processingTime && (time.nulls[i] != 0 || t <= watermark_)) {
        ctx_->metrics->lateRecords.fetch_add(1, std::memory_order_relaxed);  // behind the watermark: its frame has been given
        continue;
      }
      key_.clear();
      appendRowKey(in, i, keyColumns_, key_);
      values_.clear();
      appendRowKey(in, i, all_, values_);
      const KeyGroup kg = keyGroupFor(hashKey(key_), ctx_->maxParallelism);
      OverPartition& part = table_.getOrCreate(kg, key_, [this] { return OverPartition{newGroupState(spec_->calls), {}, {}, INT64_MAX}; });
      if (spec_->processingTime) {
        take(part, t, {values_});
        if (out_.size() >= ctx_->batchSize) emit();
        continue;
      }
      if (t < part.earliest) {
        pending_[t].push_back({kg, key_});
        part.earliest = t;
      }
      part.waiting.emplace_back(t, values_);
    }
    emit();
  }

  void processWatermark(int64_t watermark) override {
    watermark_ = watermark;
    while (!pending_.empty() && pending_.begin()->first <= watermark) {
      auto node = pending_.extract(pending_.begin());
      for (const Pending& p : node.mapped()) {
        OverPartition* part = table_.findMutable(p.keyGroup, p.key);
        if (part == nullptr || part->waiting.empty() || part->earliest > watermark) continue;  // taken already
        // Its rows the watermark has passed, in time order (rows of equal time in arrival order).
        std::stable_sort(part->waiting.begin(), part->waiting.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        size_t n = 0;
        while (n < part->waiting.size() && part->waiting[n].first <= watermark) ++n;
        for (size_t r = 0; r < n;) {
          size_t peers = r + 1;
          if (!spec_->rows)
            while (peers < n && part->waiting[peers].first == part->waiting[r].first) ++peers;
          std::vector<std::string> rows;
          for (size_t k = r; k < peers; ++k) rows.push_back(std::move(part->waiting[k].second));
          take(*part, part->waiting[r].first, rows);
          r = peers;
          if (out_.size() >= ctx_->batchSize) emit();
        }
        part->waiting.erase(part->waiting.begin(), part->waiting.begin() + static_cast<std::ptrdiff_t>(n));
        part->earliest = part->waiting.empty() ? INT64_MAX : part->waiting.front().first;  // sorted above
        if (!part->waiting.empty()) pending_[part->earliest].push_back(p);
      }
    }
    emit();
    forwardWatermark(watermark);
  }

  /// The time of the earliest row that waits for the watermark: it is given when the watermark
  /// reaches it ("why has this row not come out?"). A partition's entries other than its
  /// earliest are later than it, so the map's first key is the earliest of all.
  int64_t nextEventTimer() const override { return pending_.empty() ? INT64_MAX : pending_.begin()->first; }

  void finish() override { emit(); }

  Status snapshotState(int64_t, std::string& out) override {
    Serde<int64_t>::write(watermark_, out);
    return Status::ok();
  }
  OwnStateRescale ownStateRescale() const override { return OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator&, const RescaledPart& part) override {
    return absorbWatermarkSnapshot(part, absorbed_, watermark_, [this](std::string_view in) { return restoreState(in); });
  }
  Status restoreState(std::string_view in) override {
    if (!Serde<int64_t>::read(in, watermark_)) return Status::corruption("SQL OVER aggregation: truncated snapshot");
    pending_.clear();
    const KeyGroupRange range = table_.range();
    for (int32_t g = range.first; g <= range.last; ++g)
      REKA_RETURN_IF_ERROR(table_.forEach(KeyGroup{g}, [&](const std::string& key, const OverPartition& part) {
        if (!part.waiting.empty()) pending_[part.earliest].push_back({KeyGroup{g}, key});
        return Status::ok();
      }));
    return Status::ok();
  }

 private:
  struct Pending {
    KeyGroup keyGroup;
    std::string key;
  };

  /// Rows of one time (peers; one row for a ROWS frame) enter the frame and are given with the
  /// frame's aggregates.
  void take(OverPartition& part, int64_t t, const std::vector<std::string>& rows) {
    const GroupState* results = &part.running;
    if (spec_->preceding < 0) {
      for (const std::string& v : rows) accumulateRow(spec_->calls, part.running, decode(v), 0, 1, valueKey_);
    } else {
      for (const std::string& v : rows) part.frame.emplace_back(t, v);
      size_t drop = 0;
      if (spec_->rows) {
        if (part.frame.size() > static_cast<size_t>(spec_->preceding) + 1) drop = part.frame.size() - static_cast<size_t>(spec_->preceding) - 1;
      } else {
        while (drop < part.frame.size() && part.frame[drop].first < t - spec_->preceding) ++drop;
      }
      part.frame.erase(part.frame.begin(), part.frame.begin() + static_cast<std::ptrdiff_t>(drop));
      frameState_ = newGroupState(spec_->calls);
      for (const auto& [ft, v] : part.frame) accumulateRow(spec_->calls, frameState_, decode(v), 0, 1, valueKey_);
      results = &frameState_;
    }
    for (const std::string& v : rows) {
      const size_t row = out_.appendRow(RowKind::kInsert);
      std::string_view view = v;
      if (!readRowKey(view, *spec_->output, 0, all_.size(), out_, row)) throw std::runtime_error("SQL OVER aggregation: a malformed stored row");
      writeResults(spec_->calls, *results, out_, row, all_.size());
    }
  }

  /// `values` read into the scratch batch's only row.
  const RowBatch& decode(std::string_view values) {
    scratch_.clear();
    scratch_.appendRow();
    if (!readRowKey(values, *spec_->input, 0, all_.size(), scratch_, 0)) throw std::runtime_error("SQL OVER aggregation: a malformed stored row");
    return scratch_;
  }

  void emit() { emitRows(*ctx_, out_); }

  std::shared_ptr<const OverSpec> spec_;
  std::vector<int> keyColumns_, all_;
  OperatorContext* ctx_ = nullptr;
  KeyedRows<OverPartition> table_;
  RowBatch out_, scratch_;
  GroupState frameState_;
  std::string key_, values_, valueKey_;
  int64_t watermark_ = INT64_MIN;
  bool absorbed_ = false;  ///< a rescaled restore took an old subtask's watermark
  std::map<int64_t, std::vector<Pending>> pending_;  ///< partitions with waiting rows, by their earliest time
};

}  // namespace

std::function<std::unique_ptr<Operator>()> makeOverOperator(std::shared_ptr<const OverSpec> spec) {
  auto withSets = std::make_shared<OverSpec>(*spec);
  assignDistinctSets(withSets->calls);
  std::shared_ptr<const OverSpec> done = std::move(withSets);
  return [done] { return std::make_unique<OverOperator>(done); };
}

void assignDistinctSets(std::vector<AggregateCall>& calls) {
  std::map<int, std::pair<int, int>> byColumn;  // argument column → (set, calls in it so far)
  for (auto& c : calls) {
    c.distinctSet = c.distinctSlot = -1;
    if (!c.distinct) continue;
    auto [it, added] = byColumn.try_emplace(c.argColumn, static_cast<int>(byColumn.size()), 0);
    c.distinctSet = it->second.first;
    c.distinctSlot = it->second.second++;
  }
  for (auto& c : calls)
    if (c.distinct) c.distinctWidth = byColumn.at(c.argColumn).second;
}

void gatherColumn(const Column& from, const DataType& type, const std::vector<uint32_t>& rows, Column& to) {
  auto gather = [&](const auto& src, auto& dst) {
    dst.resize(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) dst[r] = src[rows[r]];
  };
  to.ints.clear();
  to.doubles.clear();
  to.decimals.clear();
  to.strings.clear();
  gather(from.nulls, to.nulls);
  switch (type.kind) {
    case TypeKind::kDouble: gather(from.doubles, to.doubles); break;
    case TypeKind::kDecimal: gather(from.decimals, to.decimals); break;
    case TypeKind::kString:
    case TypeKind::kBytes: gather(from.strings, to.strings); break;
    case TypeKind::kRow:
      to.children.resize(type.fields->size());
      for (size_t k = 0; k < type.fields->size(); ++k) gatherColumn(from.children[k], type.fields->field(k).type, rows, to.children[k]);
      break;
    default: gather(from.ints, to.ints); break;
  }
}

Result<DataType> aggregateResultType(AggregateCall::Kind kind, const DataType& arg, const std::string& name) {
  const TypeKind k = arg.kind;
  const bool numeric = isIntegerKind(k) || k == TypeKind::kDouble || k == TypeKind::kDecimal;
  switch (kind) {
    case AggregateCall::Kind::kCountStar:
    case AggregateCall::Kind::kCount: return DataType::bigint().notNull();
    case AggregateCall::Kind::kSum:
      if (!numeric) return Status::invalidArgument(name + " needs a number, not " + arg.toString());
      if (k == TypeKind::kDecimal) return DataType::decimal(38, arg.scale);
      return k == TypeKind::kInt ? DataType::integer() : k == TypeKind::kDouble ? DataType::float64() : DataType::bigint();
    case AggregateCall::Kind::kAvg:
      if (!numeric) return Status::invalidArgument(name + " needs a number, not " + arg.toString());
      if (k == TypeKind::kDecimal) return DataType::decimal(38, std::max(arg.scale, 6));
      return k == TypeKind::kInt ? DataType::integer() : k == TypeKind::kDouble ? DataType::float64() : DataType::bigint();
    case AggregateCall::Kind::kUser: return Status::invalidArgument(name + ": a user function has its own result type");
    case AggregateCall::Kind::kMin:
    case AggregateCall::Kind::kMax: {
      if (k == TypeKind::kRow) return Status::invalidArgument(name + " cannot compare ROW values");
      DataType t = arg;
      t.nullable = true;
      return t;
    }
  }
  return Status::invalidArgument("unknown aggregate " + name);
}

std::function<std::unique_ptr<Operator>()> makeAggregateOperator(std::shared_ptr<const AggregateSpec> spec) {
  auto withSets = std::make_shared<AggregateSpec>(*spec);
  assignDistinctSets(withSets->calls);
  std::shared_ptr<const AggregateSpec> done = std::move(withSets);
  return [done] { return std::make_unique<AggregateOperator>(done); };
}

std::function<std::unique_ptr<Operator>()> makeWindowOperator(std::shared_ptr<const WindowSpec> spec) {
  return [spec] { return std::make_unique<WindowOperator>(spec); };
}

}  // namespace reka::sql
