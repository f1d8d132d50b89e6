#include "sql/Rank.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "reka/state/KeyedState.h"
#include "sql/KeyedRows.h"
#include "sql/RowOutput.h"

namespace reka::sql {

struct RankedRow {
  std::string order;
  std::string values;
};
/// The top rows of one partition, in rank order.
struct TopRows {
  std::vector<RankedRow> rows;
};

}  // namespace reka::sql

namespace reka {
template <>
struct Serde<sql::TopRows> {
  static void write(const sql::TopRows& s, std::string& out) {
    Serde<uint64_t>::write(s.rows.size(), out);
    for (const auto& r : s.rows) {
      Serde<std::string>::write(r.order, out);
      Serde<std::string>::write(r.values, out);
    }
  }
  static bool read(std::string_view& in, sql::TopRows& s) {
    uint64_t n = 0;
    if (!Serde<uint64_t>::read(in, n) || n > in.size()) return false;
    s.rows.resize(n);
    for (auto& r : s.rows)
      if (!Serde<std::string>::read(in, r.order) || !Serde<std::string>::read(in, r.values)) return false;
    return true;
  }
};
}  // namespace reka

namespace reka::sql {

namespace {

void putBigEndian(uint64_t v, std::string& out) {
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}

class RankOperator final : public Operator {
 public:
  explicit RankOperator(std::shared_ptr<const RankSpec> spec) : spec_(std::move(spec)) {
    values_.resize(spec_->valueCount);
    std::iota(values_.begin(), values_.end(), 0);
  }
  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    auto t = KeyedRows<TopRows>::open(*ctx.state, ctx.stateScope() + "/top");
    if (!t.isOk()) return t.status();
    table_ = *t;
    out_.setSchema(spec_->output);
    return Status::ok();
  }
  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<RowBatch&>(batch);
    const auto limit = static_cast<size_t>(spec_->limit);
    for (size_t i = 0; i < in.size(); ++i) {
      const bool retraction = in.kinds[i] == RowKind::kUpdateBefore || in.kinds[i] == RowKind::kDelete;
      if (retraction && !spec_->retract) throw std::runtime_error("SQL top-N: the input retracts a row; the planner gave it an append-only input");
      key_.clear();
      appendRowKey(in, i, spec_->partitionColumns, key_);
      order_.clear();
      appendOrderKey(in, i, spec_->orderColumns, spec_->descending, order_);
      const KeyGroup kg = keyGroupFor(hashKey(key_), ctx_->maxParallelism);
      if (retraction) {
        values.clear();
        appendRowKey(in, i, values_, values);
        retract(kg, limit);
        if (out_.size() >= ctx_->batchSize) emit();
        continue;
      }
      if (const TopRows* top = table_.find(kg, key_);
          !spec_->retract && top != nullptr && top->rows.size() >= limit && !(order_ < top->rows.back().order))
        continue;  // below the last of a full top N (ties keep the earlier row): no change
      TopRows& top = table_.getOrCreate(kg, key_, [] { return TopRows{}; });
      const auto at = std::upper_bound(top.rows.begin(), top.rows.end(), order_,
                                       [](const std::string& o, const RankedRow& r) { return o < r.order; });
      const auto pos = static_cast<size_t>(at - top.rows.begin());
      values.clear();
      appendRowKey(in, i, values_, values);
      if (pos >= limit) {
        if (spec_->retract) top.rows.insert(at, RankedRow{order_, values});  // kept: it may move up later
        continue;
      }
      // The rows after it move down one rank; the one pushed past N leaves.
      for (size_t j = pos; j < std::min(top.rows.size(), limit); ++j) {
        if (j + 1 >= limit) {
          emitRow(top.rows[j].values, j + 1, RowKind::kDelete);
        } else {
          emitRow(top.rows[j].values, j + 1, RowKind::kUpdateBefore);
          emitRow(top.rows[j].values, j + 2, RowKind::kUpdateAfter);
        }
      }
      emitRow(values, pos + 1, RowKind::kInsert);
      top.rows.insert(at, RankedRow{order_, values});
      if (!spec_->retract && top.rows.size() > limit) top.rows.resize(limit);
      if (out_.size() >= ctx_->batchSize) emit();
    }
    emit();
  }
  void finish() override { emit(); }

 private:
  /// Removes the row (order_, values) of partition key_; if it was in the top N, it is deleted
  /// and the rows after it move up one rank (the first one past N enters).
  void retract(KeyGroup kg, size_t limit) {
    TopRows* top = table_.findMutable(kg, key_);
    if (top == nullptr) return;  // retracts a row never seen: nothing to undo
    auto [first, last] = std::equal_range(top->rows.begin(), top->rows.end(), order_, OrderLess{});
    auto it = std::find_if(first, last, [&](const RankedRow& r) { return r.values == values; });
    if (it == last) return;
    const auto pos = static_cast<size_t>(it - top->rows.begin());
    top->rows.erase(it);
    if (pos < limit) {
      emitRow(values, pos + 1, RowKind::kDelete);
      for (size_t j = pos; j < std::min(top->rows.size(), limit); ++j) {
        if (j + 1 < limit) {
          emitRow(top->rows[j].values, j + 2, RowKind::kUpdateBefore);
          emitRow(top->rows[j].values, j + 1, RowKind::kUpdateAfter);
        } else {
          emitRow(top->rows[j].values, j + 1, RowKind::kInsert);
        }
      }
    }
    if (top->rows.empty()) table_.erase(kg, key_);
  }
  struct OrderLess {
    bool operator()(const RankedRow& r, const std::string& o) const { return r.order < o; }
    bool operator()(const std::string& o, const RankedRow& r) const { return o < r.order; }
  };

  void emitRow(std::string_view stored, size_t rank, RowKind kind) {
    const size_t row = out_.appendRow(kind);
    if (!readRowKey(stored, *spec_->output, 0, spec_->valueCount, out_, row)) throw std::runtime_error("SQL top-N: a malformed stored row");
    RowBatch::setInt(out_.columns[spec_->valueCount], row, static_cast<int64_t>(rank));
  }
  void emit() { emitRows(*ctx_, out_); }

  std::shared_ptr<const RankSpec> spec_;
  std::vector<int> values_;
  OperatorContext* ctx_ = nullptr;
  KeyedRows<TopRows> table_;
  RowBatch out_;
  std::string key_, order_, values;
};

}  // namespace

void appendOrderKey(const RowBatch& rows, size_t row, const std::vector<int>& columns, const std::vector<bool>& descending,
                    std::string& out) {
  for (size_t k = 0; k < columns.size(); ++k) {
    const size_t start = out.size();
    const Column& c = rows.columns[static_cast<size_t>(columns[k])];
    if (c.nulls[row] != 0) {
      out += '\0';
    } else {
      out += '\1';
      switch (rows.schema().field(static_cast<size_t>(columns[k])).type.kind) {
        case TypeKind::kDouble: {
          uint64_t bits;
          const double d = c.doubles[row] == 0 ? 0.0 : c.doubles[row];
          std::memcpy(&bits, &d, sizeof bits);
          putBigEndian((bits >> 63) != 0 ? ~bits : bits ^ (uint64_t{1} << 63), out);
          break;
        }
        case TypeKind::kDecimal: {
          const auto v = static_cast<unsigned __int128>(c.decimals[row]) ^ (static_cast<unsigned __int128>(1) << 127);
          putBigEndian(static_cast<uint64_t>(v >> 64), out);
          putBigEndian(static_cast<uint64_t>(v), out);
          break;
        }
        case TypeKind::kString:
        case TypeKind::kBytes:
          out.append(c.strings[row]);
          out += '\0';
          break;
        default: putBigEndian(static_cast<uint64_t>(c.ints[row]) ^ (uint64_t{1} << 63), out); break;
      }
    }
    if (descending[k])
      for (size_t b = start; b < out.size(); ++b) out[b] = static_cast<char>(~static_cast<unsigned char>(out[b]));
  }
}

std::function<std::unique_ptr<Operator>()> makeRankOperator(std::shared_ptr<const RankSpec> spec) {
  return [spec] { return std::make_unique<RankOperator>(spec); };
}

}  // namespace reka::sql
