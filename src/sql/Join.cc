#include "sql/Join.h"

#include <map>
#include <numeric>
#include <stdexcept>

#include <absl/container/flat_hash_map.h>

#include "reka/state/KeyedState.h"
#include "sql/KeyedRows.h"
#include "sql/RowOutput.h"

namespace reka::sql {

/// How many times a row is stored on one side, and (outer sides) how many rows of the other
/// side it matches.
struct JoinCounts {
  int64_t count = 0;
  int64_t matches = 0;
};
/// The rows of one side with one key, by their values (appendRowKey of every column).
struct JoinRows {
  absl::flat_hash_map<std::string, JoinCounts> rows;
};
/// An interval join's rows of one side with one key: their time, how many rows of the other
/// side they matched (outer sides) and their values (appendRowKey of every column).
struct IntervalRow {
  int64_t time = 0;
  int64_t matches = 0;
  std::string values;
};
struct IntervalRows {
  std::vector<IntervalRow> rows;
};

}  // namespace reka::sql

namespace reka {
template <>
struct Serde<sql::JoinRows> {
  static void write(const sql::JoinRows& s, std::string& out) {
    Serde<uint64_t>::write(s.rows.size(), out);
    for (const auto& [values, c] : s.rows) {
      Serde<std::string>::write(values, out);
      Serde<int64_t>::write(c.count, out);
      Serde<int64_t>::write(c.matches, out);
    }
  }
  static bool read(std::string_view& in, sql::JoinRows& s) {
    uint64_t n = 0;
    if (!Serde<uint64_t>::read(in, n) || n > in.size()) return false;
    s.rows.clear();
    s.rows.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      std::string values;
      sql::JoinCounts c;
      if (!Serde<std::string>::read(in, values) || !Serde<int64_t>::read(in, c.count) || !Serde<int64_t>::read(in, c.matches)) return false;
      s.rows.emplace(std::move(values), c);
    }
    return true;
  }
};
template <>
struct Serde<sql::IntervalRows> {
  static void write(const sql::IntervalRows& s, std::string& out) {
    Serde<uint64_t>::write(s.rows.size(), out);
    for (const auto& r : s.rows) {
      Serde<int64_t>::write(r.time, out);
      Serde<int64_t>::write(r.matches, out);
      Serde<std::string>::write(r.values, out);
    }
  }
  static bool read(std::string_view& in, sql::IntervalRows& s) {
    uint64_t n = 0;
    if (!Serde<uint64_t>::read(in, n) || n > in.size()) return false;
    s.rows.assign(n, {});
    for (auto& r : s.rows)
      if (!Serde<int64_t>::read(in, r.time) || !Serde<int64_t>::read(in, r.matches) || !Serde<std::string>::read(in, r.values)) return false;
    return true;
  }
};
}  // namespace reka

namespace reka::sql {

namespace {

/// What the keyed joins share: the spec, each side's columns and keys, whether a side is outer,
/// a keyed state table per side of `Rows`, and the output batch.
template <class Rows>
class KeyedJoinBase : public Operator {
 public:
  explicit KeyedJoinBase(std::shared_ptr<const JoinSpec> spec) : spec_(std::move(spec)) {
    all_[0].resize(spec_->left->size());
    std::iota(all_[0].begin(), all_[0].end(), 0);
    all_[1].resize(spec_->right->size());
    std::iota(all_[1].begin(), all_[1].end(), 0);
    keys_[0] = spec_->leftKeys;
    keys_[1] = spec_->rightKeys;
    outer_[0] = spec_->kind == JoinSpec::Kind::kLeft || spec_->kind == JoinSpec::Kind::kFull;
    outer_[1] = spec_->kind == JoinSpec::Kind::kRight || spec_->kind == JoinSpec::Kind::kFull;
  }

  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    for (int side = 0; side < 2; ++side) {
      auto t = KeyedRows<Rows>::open(*ctx.state, ctx.stateScope() + (side == 0 ? "/left" : "/right"));
      if (!t.isOk()) return t.status();
      tables_[side] = *t;
    }
    out_.setSchema(spec_->output);
    return Status::ok();
  }
  void finish() override { emit(); }

 protected:
  /// Stored values of `side` into that side's columns of output row `row`.
  void readSide(int side, std::string_view values, size_t row) {
    const size_t first = side == 0 ? 0 : spec_->left->size();
    if (!readRowKey(values, *spec_->output, first, all_[side].size(), out_, row)) throw std::runtime_error("SQL join: a malformed stored row");
  }
  void emit() { emitRows(*ctx_, out_); }

  std::shared_ptr<const JoinSpec> spec_;
  std::vector<int> all_[2], keys_[2];
  bool outer_[2] = {false, false};
  OperatorContext* ctx_ = nullptr;
  KeyedRows<Rows> tables_[2];
  RowBatch out_;
  std::string key_, values_;
  int64_t watermark_ = INT64_MIN;
  bool absorbed_ = false;  ///< a rescaled restore took an old subtask's watermark
};

class JoinOperator final : public KeyedJoinBase<JoinRows> {
 public:
  using KeyedJoinBase::KeyedJoinBase;

  void processWatermark(int64_t watermark) override {
    watermark_ = watermark;
    // A window join: the windows that have ended leave the state.
    while (!pending_.empty() && pending_.begin()->first - 1 <= watermark) {
      for (const Pending& e : pending_.begin()->second) tables_[e.side].erase(e.keyGroup, e.key);
      pending_.erase(pending_.begin());
    }
    forwardWatermark(watermark);
  }

  Status snapshotState(int64_t, std::string& out) override {
    Serde<int64_t>::write(watermark_, out);
    return Status::ok();
  }
  OwnStateRescale ownStateRescale() const override { return OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator&, const RescaledPart& part) override {
    return absorbWatermarkSnapshot(part, absorbed_, watermark_, [this](std::string_view in) { return restoreState(in); });
  }
  Status restoreState(std::string_view in) override {
    if (!Serde<int64_t>::read(in, watermark_)) return Status::corruption("SQL join: truncated snapshot");
    if (spec_->windowEndKey < 0) return Status::ok();
    pending_.clear();
    for (int side = 0; side < 2; ++side) {
      // The window end is the windowEndKey-th value of each stored key.
      std::vector<Field> keyFields;
      for (int k : keys_[side]) keyFields.push_back((side == 0 ? spec_->left : spec_->right)->field(static_cast<size_t>(k)));
      RowBatch scratch(std::make_shared<const Schema>(keyFields));
      scratch.appendRow();
      const KeyGroupRange range = tables_[side].range();
      for (int32_t g = range.first; g <= range.last; ++g) {
        REKA_RETURN_IF_ERROR(tables_[side].forEach(KeyGroup{g}, [&](const std::string& key, const JoinRows&) {
          std::string_view k = key;
          if (!readRowKey(k, scratch.schema(), 0, keyFields.size(), scratch, 0)) return Status::corruption("SQL join: a malformed stored key");
          pending_[scratch.columns[static_cast<size_t>(spec_->windowEndKey)].ints[0]].push_back({side, KeyGroup{g}, key});
          return Status::ok();
        }));
      }
    }
    return Status::ok();
  }

  void processBatch(int input, Batch& batch) override {
    auto& in = static_cast<RowBatch&>(batch);
    const int side = input == 0 ? 0 : 1, other = 1 - side;
    for (size_t i = 0; i < in.size(); ++i) {
      const bool retract = in.kinds[i] == RowKind::kUpdateBefore || in.kinds[i] == RowKind::kDelete;
      bool nullKey = false;
      for (int k : keys_[side]) nullKey = nullKey || in.columns[static_cast<size_t>(k)].nulls[i] != 0;
      values_.clear();
      appendRowKey(in, i, all_[side], values_);
      if (nullKey) {
        // NULL equals nothing: such a row never joins; an outer side keeps it, padded.
        if (outer_[side]) emitPadded(side, values_, 1, retract ? RowKind::kDelete : RowKind::kInsert);
        continue;
      }
      int64_t windowEnd = 0;
      if (spec_->windowEndKey >= 0) {
        windowEnd = in.columns[static_cast<size_t>(keys_[side][static_cast<size_t>(spec_->windowEndKey)])].ints[i];
        if (windowEnd - 1 <= watermark_) {
          ctx_->metrics->lateRecords.fetch_add(1, std::memory_order_relaxed);  // its window has left the state
          continue;
        }
      }
      key_.clear();
      appendRowKey(in, i, keys_[side], key_);
      const KeyGroup kg = keyGroupFor(hashKey(key_), ctx_->maxParallelism);
      auto& mine = tables_[side];
      auto& theirs = tables_[other];
      // The other side's rows with this key: written to only when it is an outer side (counts).
      JoinRows* matches = outer_[other] ? theirs.findMutable(kg, key_) : const_cast<JoinRows*>(theirs.find(kg, key_));
      int64_t matchCount = 0;
      if (matches != nullptr)
        for (const auto& [values, c] : matches->rows) matchCount += c.count;
      if (!retract) {
        if (spec_->windowEndKey >= 0 && !mine.contains(kg, key_)) pending_[windowEnd].push_back({side, kg, key_});
        JoinRows& stored = mine.getOrCreate(kg, key_, [] { return JoinRows{}; });
        auto [it, fresh] = stored.rows.try_emplace(values_, JoinCounts{0, matchCount});
        ++it->second.count;
        if (matches != nullptr) {
          for (auto& [values, c] : matches->rows) {
            if (outer_[other] && c.matches++ == 0) emitPadded(other, values, c.count, RowKind::kDelete);
            emitJoined(side, values_, values, c.count, RowKind::kInsert);
          }
        }
        if (matchCount == 0 && outer_[side]) emitPadded(side, values_, 1, RowKind::kInsert);
      } else {
        JoinRows* stored = mine.findMutable(kg, key_);
        if (stored == nullptr) continue;  // retracts a row this side never held
        auto it = stored->rows.find(values_);
        if (it == stored->rows.end()) continue;
        if (--it->second.count == 0) stored->rows.erase(it);
        if (stored->rows.empty()) mine.erase(kg, key_);
        if (matches != nullptr) {
          for (auto& [values, c] : matches->rows) {
            emitJoined(side, values_, values, c.count, RowKind::kDelete);
            if (outer_[other] && --c.matches == 0) emitPadded(other, values, c.count, RowKind::kInsert);
          }
        }
        if (matchCount == 0 && outer_[side]) emitPadded(side, values_, 1, RowKind::kDelete);
      }
      if (out_.size() >= ctx_->batchSize) emit();
    }
    emit();
  }

 private:
  /// `times` rows of `mine` (of `side`) joined with `theirs`.
  void emitJoined(int side, std::string_view mine, std::string_view theirs, int64_t times, RowKind kind) {
    for (int64_t n = 0; n < times; ++n) {
      const size_t row = out_.appendRow(kind);
      readSide(side, mine, row);
      readSide(1 - side, theirs, row);
    }
  }
  /// `times` rows of `values` (of `side`) with the other side's columns null.
  void emitPadded(int side, std::string_view values, int64_t times, RowKind kind) {
    for (int64_t n = 0; n < times; ++n) readSide(side, values, out_.appendRow(kind));
  }
  struct Pending {
    int side;
    KeyGroup keyGroup;
    std::string key;
  };
  std::map<int64_t, std::vector<Pending>> pending_;  ///< a window join's keys, by window end
};

/// An interval join (JoinSpec::interval): each row is kept, under its key, until the watermark
/// passes the last time a row of the other side could match it; a timer map by that time drops
/// it (and gives an unmatched outer row padded with nulls).
class IntervalJoinOperator final : public KeyedJoinBase<IntervalRows> {
 public:
  struct Pending {
    int side;
    KeyGroup keyGroup;
    std::string key;
  };

  explicit IntervalJoinOperator(std::shared_ptr<const JoinSpec> spec) : KeyedJoinBase(std::move(spec)), iv_(*spec_->interval) {
    time_[0] = iv_.leftTime;
    time_[1] = iv_.rightTime;
    // A stored left row can meet right rows up to `-lower` older than itself, a right row left
    // rows up to `upper` older: the output's time attributes trail the watermark by as much.
    holdBack_ = std::max<int64_t>({0, -iv_.lower, iv_.upper});
  }

  void processWatermark(int64_t watermark) override {
    watermark_ = watermark;
    while (!pending_.empty() && pending_.begin()->first <= watermark) {
      for (const Pending& e : pending_.begin()->second) expire(e);
      pending_.erase(pending_.begin());
      if (out_.size() >= ctx_->batchSize) emit();
    }
    emit();
    forwardWatermark(watermark == INT64_MAX || watermark == INT64_MIN ? watermark : std::max(INT64_MIN + holdBack_, watermark) - holdBack_);
  }

  Status snapshotState(int64_t, std::string& out) override {
    Serde<int64_t>::write(watermark_, out);
    return Status::ok();
  }
  OwnStateRescale ownStateRescale() const override { return OwnStateRescale::kByKeyGroup; }
  Status absorbRescaled(Operator&, const RescaledPart& part) override {
    return absorbWatermarkSnapshot(part, absorbed_, watermark_, [this](std::string_view in) { return restoreState(in); });
  }
  Status restoreState(std::string_view in) override {
    if (!Serde<int64_t>::read(in, watermark_)) return Status::corruption("SQL interval join: truncated snapshot");
    pending_.clear();
    for (int side = 0; side < 2; ++side) {
      const KeyGroupRange range = tables_[side].range();
      for (int32_t g = range.first; g <= range.last; ++g)
        REKA_RETURN_IF_ERROR(tables_[side].forEach(KeyGroup{g}, [&](const std::string& key, const IntervalRows& rows) {
          for (const IntervalRow& r : rows.rows) pending_[expiry(side, r.time)].push_back({side, KeyGroup{g}, key});
          return Status::ok();
        }));
    }
    return Status::ok();
  }

  void processBatch(int input, Batch& batch) override {
    auto& in = static_cast<RowBatch&>(batch);
    const int side = input == 0 ? 0 : 1, other = 1 - side;
    const Column& times = in.columns[static_cast<size_t>(time_[side])];
    for (size_t i = 0; i < in.size(); ++i) {
      if (in.kinds[i] != RowKind::kInsert) continue;  // the planner gives it append-only inputs
      bool nullKey = times.nulls[i] != 0;
      for (int k : keys_[side]) nullKey = nullKey || in.columns[static_cast<size_t>(k)].nulls[i] != 0;
      values_.clear();
      appendRowKey(in, i, all_[side], values_);
      if (nullKey) {
        // NULL equals nothing and has no time: such a row never joins; an outer side gives it padded.
        if (outer_[side]) emitPadded(side, values_);
        continue;
      }
      const int64_t t = times.ints[i];
      key_.clear();
      appendRowKey(in, i, keys_[side], key_);
      const KeyGroup kg = keyGroupFor(hashKey(key_), ctx_->maxParallelism);
      int64_t matched = 0;
      if (IntervalRows* theirs = tables_[other].findMutable(kg, key_); theirs != nullptr) {
        for (IntervalRow& r : theirs->rows) {
          const int64_t diff = side == 0 ? t - r.time : r.time - t;
          if (diff < iv_.lower || diff > iv_.upper) continue;
          ++matched;
          ++r.matches;
          const size_t row = out_.appendRow(RowKind::kInsert);
          readSide(side, values_, row);
          readSide(other, r.values, row);
        }
      }
      const int64_t until = expiry(side, t);
      if (until > watermark_) {
        // Rows of the other side that arrive later may still match it.
        IntervalRows& mine = tables_[side].getOrCreate(kg, key_, [] { return IntervalRows{}; });
        mine.rows.push_back({t, matched, values_});
        pending_[until].push_back({side, kg, key_});
      } else if (matched == 0 && outer_[side]) {
        emitPadded(side, values_);
      }
      if (out_.size() >= ctx_->batchSize) emit();
    }
    emit();
  }

 private:
  /// The watermark after which no row of the other side can match a row of `side` at `t`.
  int64_t expiry(int side, int64_t t) const {
    const int64_t d = side == 0 ? -iv_.lower : iv_.upper;
    if (d > 0 && t > INT64_MAX - d) return INT64_MAX;
    if (d < 0 && t < INT64_MIN - d) return INT64_MIN;
    return t + d;
  }

  /// Drops the rows of one key whose time has passed.
  void expire(const Pending& e) {
    IntervalRows* rows = tables_[e.side].findMutable(e.keyGroup, e.key);
    if (rows == nullptr) return;
    auto& v = rows->rows;
    size_t kept = 0;
    for (size_t r = 0; r < v.size(); ++r) {
      if (expiry(e.side, v[r].time) <= watermark_) {
        if (v[r].matches == 0 && outer_[e.side]) emitPadded(e.side, v[r].values);
        continue;
      }
      if (kept != r) v[kept] = std::move(v[r]);
      ++kept;
    }
    v.resize(kept);
    if (v.empty()) tables_[e.side].erase(e.keyGroup, e.key);
  }

  void emitPadded(int side, std::string_view values) { readSide(side, values, out_.appendRow(RowKind::kInsert)); }

  JoinSpec::Interval iv_;
  int time_[2] = {-1, -1};
  int64_t holdBack_ = 0;
  std::map<int64_t, std::vector<Pending>> pending_;  ///< keys with rows to drop, by the watermark that drops them
};

/// A lookup join (JoinSpec::lookup): the table (input 1) is held in memory by key, whole, in
/// every subtask; rows of input 0 wait until it has been read.
class LookupJoinOperator final : public Operator {
 public:
  explicit LookupJoinOperator(std::shared_ptr<const JoinSpec> spec) : spec_(std::move(spec)) {
    all_[0].resize(spec_->left->size());
    std::iota(all_[0].begin(), all_[0].end(), 0);
    all_[1].resize(spec_->right->size());
    std::iota(all_[1].begin(), all_[1].end(), 0);
  }

  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    out_.setSchema(spec_->output);
    return Status::ok();
  }
  bool acceptsInput(int input) const override { return input == 1 || tableRead_; }
  void endInput(int input) override {
    if (input == 1) tableRead_ = true;
  }

  void processBatch(int input, Batch& batch) override {
    auto& in = static_cast<RowBatch&>(batch);
    if (input == 1) {
      for (size_t i = 0; i < in.size(); ++i) {
        key_.clear();
        appendRowKey(in, i, spec_->rightKeys, key_);
        values_.clear();
        appendRowKey(in, i, all_[1], values_);
        auto& rows = table_[key_];
        if (in.kinds[i] == RowKind::kInsert || in.kinds[i] == RowKind::kUpdateAfter) {
          rows.push_back(values_);
        } else if (auto it = std::find(rows.begin(), rows.end(), values_); it != rows.end()) {
          rows.erase(it);
        }
        if (rows.empty()) table_.erase(key_);
      }
      return;
    }
    const bool outer = spec_->kind == JoinSpec::Kind::kLeft;
    for (size_t i = 0; i < in.size(); ++i) {
      bool nullKey = false;
      for (int k : spec_->leftKeys) nullKey = nullKey || in.columns[static_cast<size_t>(k)].nulls[i] != 0;
      const std::vector<std::string>* matches = nullptr;
      if (!nullKey) {
        key_.clear();
        appendRowKey(in, i, spec_->leftKeys, key_);
        if (auto it = table_.find(key_); it != table_.end()) matches = &it->second;
      }
      if (matches == nullptr && !outer) continue;
      values_.clear();
      appendRowKey(in, i, all_[0], values_);
      const size_t n = matches == nullptr ? 1 : matches->size();
      for (size_t m = 0; m < n; ++m) {
        const size_t row = out_.appendRow(in.kinds[i]);
        std::string_view v = values_;
        bool ok = readRowKey(v, *spec_->output, 0, all_[0].size(), out_, row);
        if (matches != nullptr) {
          std::string_view r = (*matches)[m];
          ok = ok && readRowKey(r, *spec_->output, all_[0].size(), all_[1].size(), out_, row);
        }
        if (!ok) throw std::runtime_error("SQL lookup join: a malformed stored row");
      }
      if (out_.size() >= ctx_->batchSize) emitRows(*ctx_, out_);
    }
    emitRows(*ctx_, out_);
  }

  /// At another parallelism, new subtask i takes old subtask i mod P_old's table: every subtask
  /// read the whole side table.
  OwnStateRescale ownStateRescale() const override { return OwnStateRescale::kCopyPerSubtask; }
  Status absorbRescaled(Operator&, const RescaledPart& part) override { return restoreState(part.base); }
  /// Whether the table has been read, then the table (a restored job does not read it again).
  Status snapshotState(int64_t, std::string& out) override {
    Serde<uint8_t>::write(tableRead_ ? 1 : 0, out);
    Serde<uint64_t>::write(table_.size(), out);
    for (const auto& [key, rows] : table_) {
      Serde<std::string>::write(key, out);
      Serde<std::vector<std::string>>::write(rows, out);
    }
    return Status::ok();
  }
  Status restoreState(std::string_view in) override {
    uint8_t read = 0;
    uint64_t n = 0;
    if (!Serde<uint8_t>::read(in, read) || !Serde<uint64_t>::read(in, n) || n > in.size()) return Status::corruption("SQL lookup join: truncated snapshot");
    tableRead_ = read != 0;
    table_.clear();
    for (uint64_t k = 0; k < n; ++k) {
      std::string key;
      std::vector<std::string> rows;
      if (!Serde<std::string>::read(in, key) || !Serde<std::vector<std::string>>::read(in, rows)) return Status::corruption("SQL lookup join: truncated snapshot");
      table_.emplace(std::move(key), std::move(rows));
    }
    return Status::ok();
  }

 private:
  std::shared_ptr<const JoinSpec> spec_;
  std::vector<int> all_[2];
  OperatorContext* ctx_ = nullptr;
  bool tableRead_ = false;
  absl::flat_hash_map<std::string, std::vector<std::string>> table_;
  RowBatch out_;
  std::string key_, values_;
};

}  // namespace

std::function<std::unique_ptr<Operator>()> makeJoinOperator(std::shared_ptr<const JoinSpec> spec) {
  if (spec->lookup) return [spec] { return std::make_unique<LookupJoinOperator>(spec); };
  if (spec->interval) return [spec] { return std::make_unique<IntervalJoinOperator>(spec); };
  return [spec] { return std::make_unique<JoinOperator>(spec); };
}

}  // namespace reka::sql
