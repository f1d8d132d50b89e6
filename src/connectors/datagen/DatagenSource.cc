// The datagen connector, as Flink's: each column random (numbers between min and max, strings of
// a length, timestamps up to max-past before now) or a sequence from start to end; rows at
// 'rows-per-second', bounded by 'number-of-rows' or by a sequence's end.
//
// The rows are numbered 0, 1, 2 …; row i is in lane i mod kLanes, and a lane is a split whose
// position is its next row. A random value is a hash of the seed, the column and the row number,
// so a restored job generates the same rows again (timestamps excepted: they follow the clock).
#include "connectors/datagen/Datagen.h"

#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include <fmt/format.h>

namespace reka::connector {

namespace {

constexpr int64_t kLanes = 16;

struct FieldGen {
  enum class Kind { kRandom, kSequence };
  Kind kind = Kind::kRandom;
  DataType type;
  int64_t minInt = 0, maxInt = 0;  ///< random integers (and DECIMAL, unscaled)
  double minDouble = 0, maxDouble = 0;
  int64_t length = 100;            ///< random strings
  int64_t maxPastMs = 0;           ///< random timestamps: now minus up to this much
  int64_t start = 0, end = 0;      ///< sequences (inclusive)
  double nullRate = 0;
};

struct Plan {
  std::vector<FieldGen> fields;
  int64_t rows = -1;  ///< -1: unbounded
  double rowsPerSecond = 10000;
  uint64_t seed = 0;
  std::shared_ptr<const Schema> schema;
};

uint64_t mix(uint64_t seed, uint64_t field, uint64_t row, uint64_t salt = 0) {
  const uint64_t in[4] = {seed, field, row, salt};
  return XXH3_64bits(in, sizeof in);
}

/// A uniform value in [lo, hi] from 64 random bits.
int64_t between(uint64_t bits, int64_t lo, int64_t hi) {
  const auto span = static_cast<unsigned __int128>(static_cast<__int128>(hi) - lo) + 1;
  return static_cast<int64_t>(static_cast<__int128>(lo) + static_cast<__int128>(bits % span));
}

void fill(const Plan& plan, size_t f, int64_t rowNumber, int64_t nowMs, RowBatch& out, size_t row) {
  const FieldGen& g = plan.fields[f];
  Column& c = out.columns[f];
  const uint64_t bits = mix(plan.seed, f, static_cast<uint64_t>(rowNumber));
  if (g.nullRate > 0 && static_cast<double>(mix(plan.seed, f, static_cast<uint64_t>(rowNumber), 1) >> 11) * 0x1.0p-53 < g.nullRate) return;
  if (g.kind == FieldGen::Kind::kSequence) {
    const int64_t v = g.start + rowNumber;
    switch (g.type.kind) {
      case TypeKind::kString: out.setString(c, row, std::to_string(v)); return;
      case TypeKind::kDouble: RowBatch::setDouble(c, row, static_cast<double>(v)); return;
      case TypeKind::kDecimal: RowBatch::setDecimal(c, row, static_cast<Decimal>(v) * (decimalLimit(g.type.scale) + 1)); return;
      default: RowBatch::setInt(c, row, v); return;
    }
  }
  switch (g.type.kind) {
    case TypeKind::kBoolean: RowBatch::setInt(c, row, static_cast<int64_t>(bits & 1)); return;
    case TypeKind::kInt:
    case TypeKind::kBigint: RowBatch::setInt(c, row, between(bits, g.minInt, g.maxInt)); return;
    case TypeKind::kDecimal: RowBatch::setDecimal(c, row, between(bits, g.minInt, g.maxInt)); return;
    case TypeKind::kDouble:
      RowBatch::setDouble(c, row, g.minDouble + static_cast<double>(bits >> 11) * 0x1.0p-53 * (g.maxDouble - g.minDouble));
      return;
    case TypeKind::kTimestamp:
    case TypeKind::kTimestampLtz: RowBatch::setInt(c, row, nowMs - (g.maxPastMs > 0 ? between(bits, 0, g.maxPastMs) : 0)); return;
    case TypeKind::kString:
    case TypeKind::kBytes: {
      static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
      std::string s(static_cast<size_t>(g.length), 'a');
      uint64_t r = bits;
      for (size_t k = 0; k < s.size(); ++k) {
        if (k % 10 == 9) r = mix(plan.seed, f, static_cast<uint64_t>(rowNumber), 2 + k);
        s[k] = kAlphabet[r % 36];
        r /= 36;
      }
      out.setString(c, row, s);
      return;
    }
    default: return;  // refused when the plan was made
  }
}

class DatagenEnumerator final : public SplitEnumerator {
 public:
  Result<std::vector<SplitState>> discover() override {
    std::vector<SplitState> lanes;
    for (int64_t k = 0; k < kLanes; ++k) lanes.push_back({"lane-" + std::to_string(k), "", INT64_MIN, false});
    return lanes;
  }
  int owner(const SplitState& split, int parallelism) const override { return static_cast<int>(std::atoll(split.id.c_str() + 5) % parallelism); }
};

class DatagenReader final : public SplitReader<Row> {
 public:
  DatagenReader(std::shared_ptr<const Plan> plan, size_t batchSize) : plan_(std::move(plan)), batchSize_(std::max<size_t>(1, batchSize)) {}

  Status addSplits(const std::vector<SplitState>& splits) override {
    for (const auto& s : splits) {
      const int64_t k = std::atoll(s.id.c_str() + 5);
      if (s.id.rfind("lane-", 0) != 0 || k < 0 || k >= kLanes) return Status::corruption("'" + s.id + "' is not a datagen lane");
      int64_t next = k;
      if (!s.position.empty()) {
        std::string_view in = s.position;
        if (!Serde<int64_t>::read(in, next) || !in.empty() || next < k || (next - k) % kLanes != 0)
          return Status::corruption("datagen lane " + s.id + ": a malformed position");
      }
      lanes_.push_back({next, s.finished || (plan_->rows >= 0 && next >= plan_->rows), 0, s.finished});
    }
    if (!started_) {
      started_ = true;
      start_ = std::chrono::steady_clock::now();
    }
    return Status::ok();
  }

  Status fetch(std::vector<SplitBatch<Row>>& out, size_t maxRecords, int timeoutMs) override {
    // A lane with no rows at all (fewer rows than lanes) ends without a row.
    for (size_t i = 0; i < lanes_.size(); ++i) {
      Lane& l = lanes_[i];
      if (!l.ended || l.reported) continue;
      SplitBatch<Row> b;
      b.split = i;
      b.records.setSchema(plan_->schema);
      b.finished = true;
      Serde<int64_t>::write(l.next, b.position);
      l.reported = true;
      out.push_back(std::move(b));
    }
    size_t open = 0;
    for (const Lane& l : lanes_) open += l.ended ? 0 : 1;
    if (open == 0) return Status::ok();
    // The rows every open lane may have made by now at its share of the rate.
    const double perLane = plan_->rowsPerSecond / static_cast<double>(kLanes);
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const auto allowed = static_cast<int64_t>(seconds * perLane) + 1;
    size_t budget = std::min(maxRecords, batchSize_);
    const int64_t wall =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    bool any = false;
    for (size_t i = 0; i < lanes_.size() && budget > 0; ++i) {
      Lane& l = lanes_[i];
      if (l.ended || l.made >= allowed) continue;
      SplitBatch<Row> b;
      b.split = i;
      b.records.setSchema(plan_->schema);
      const int64_t n = std::min<int64_t>({allowed - l.made, static_cast<int64_t>(budget),
                                           plan_->rows >= 0 ? (plan_->rows - l.next + kLanes - 1) / kLanes : INT64_MAX});
      const size_t first = b.records.appendRows(static_cast<size_t>(n));
      for (int64_t r = 0; r < n; ++r, l.next += kLanes)
        for (size_t f = 0; f < plan_->fields.size(); ++f) fill(*plan_, f, l.next, wall, b.records, first + static_cast<size_t>(r));
      l.made += n;
      budget -= static_cast<size_t>(n);
      l.ended = plan_->rows >= 0 && l.next >= plan_->rows;
      b.finished = l.ended;
      l.reported = l.ended;
      Serde<int64_t>::write(l.next, b.position);
      out.push_back(std::move(b));
      any = true;
    }
    // Nothing due yet: wait for the next row (or the timeout).
    if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(timeoutMs, std::max<int64_t>(1, static_cast<int64_t>(1000 / std::max(1.0, perLane))))));
    return Status::ok();
  }

 private:
  struct Lane {
    int64_t next;
    bool ended;
    int64_t made;   ///< rows made in this run (for the rate)
    bool reported;  ///< its end was given to the source (a batch with `finished`)
  };
  std::shared_ptr<const Plan> plan_;
  size_t batchSize_;
  std::vector<Lane> lanes_;
  bool started_ = false;
  std::chrono::steady_clock::time_point start_;
};

Result<double> getNumber(const Options& o, const std::string& key, double fallback) {
  if (!o.has(key)) return fallback;
  const std::string v = o.get(key);
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(d))
    return Status::invalidArgument("option '" + key + "' = '" + v + "' is not a number");
  return d;
}

Result<std::shared_ptr<const Plan>> makePlan(const TableContext& t) {
  auto plan = std::make_shared<Plan>();
  plan->schema = t.schema;
  const Options& o = t.options;
  REKA_ASSIGN_OR_RETURN(plan->rowsPerSecond, getNumber(o, "rows-per-second", 10000));
  if (plan->rowsPerSecond <= 0) return Status::invalidArgument("option 'rows-per-second' must be positive");
  if (o.has("number-of-rows")) {
    REKA_ASSIGN_OR_RETURN(plan->rows, o.getInt("number-of-rows", 0));
    if (plan->rows < 0) return Status::invalidArgument("option 'number-of-rows' must not be negative");
  }
  REKA_ASSIGN_OR_RETURN(int64_t seed, o.getInt("seed", 0));
  plan->seed = static_cast<uint64_t>(seed);
  // Every fields.<name>.<key> names a column and a key this connector knows.
  static const std::vector<std::string> kFieldKeys = {"kind", "min", "max", "max-past", "length", "start", "end", "null-rate"};
  for (const auto& [key, value] : o.values()) {
    if (key.rfind("fields.", 0) != 0) continue;
    const std::string rest = key.substr(7);
    const size_t dot = rest.rfind('.');
    const std::string column = dot == std::string::npos ? rest : rest.substr(0, dot), what = dot == std::string::npos ? "" : rest.substr(dot + 1);
    if (t.schema->indexOf(column) < 0)
      return Status::invalidArgument("option '" + key + "': the table has no column '" + column + "'; its columns are " + t.schema->toString());
    if (std::find(kFieldKeys.begin(), kFieldKeys.end(), what) == kFieldKeys.end())
      return Status::invalidArgument("option '" + key + "': accepted per column: kind, min, max, max-past, length, start, end, null-rate");
  }
  for (size_t f = 0; f < t.schema->size(); ++f) {
    const Field& field = t.schema->field(f);
    FieldGen g;
    g.type = field.type;
    const std::string p = "fields." + field.name + ".";
    REKA_ASSIGN_OR_RETURN(std::string kind, o.getEnum(p + "kind", "random", {"random", "sequence"}));
    REKA_ASSIGN_OR_RETURN(g.nullRate, getNumber(o, p + "null-rate", 0));
    if (g.nullRate < 0 || g.nullRate > 1) return Status::invalidArgument("option '" + p + "null-rate' must be between 0 and 1");
    const TypeKind k = field.type.kind;
    const bool integer = k == TypeKind::kInt || k == TypeKind::kBigint || k == TypeKind::kDecimal;
    if (kind == "sequence") {
      g.kind = FieldGen::Kind::kSequence;
      if (!integer && k != TypeKind::kDouble && k != TypeKind::kString)
        return Status::invalidArgument("column '" + field.name + "' (" + field.type.toString() + ") cannot be a sequence; sequences are of INT, BIGINT, DECIMAL, DOUBLE or STRING");
      if (!o.has(p + "start") || !o.has(p + "end"))
        return Status::invalidArgument("the sequence column '" + field.name + "' needs options '" + p + "start' and '" + p + "end'");
      REKA_ASSIGN_OR_RETURN(g.start, o.getInt(p + "start", 0));
      REKA_ASSIGN_OR_RETURN(g.end, o.getInt(p + "end", 0));
      if (g.end < g.start) return Status::invalidArgument("option '" + p + "end' must not be below '" + p + "start'");
      const int64_t count = g.end - g.start + 1;
      plan->rows = plan->rows < 0 ? count : std::min(plan->rows, count);  // a sequence ends the table
    } else {
      switch (k) {
        case TypeKind::kBoolean:
        case TypeKind::kString:
        case TypeKind::kBytes:
        case TypeKind::kTimestamp:
        case TypeKind::kTimestampLtz:
          break;
        case TypeKind::kInt:
        case TypeKind::kBigint:
        case TypeKind::kDecimal:
        case TypeKind::kDouble:
          break;
        default:
          return Status::invalidArgument("column '" + field.name + "' is " + field.type.toString() +
                                         "; datagen makes BOOLEAN, INT, BIGINT, DECIMAL, DOUBLE, STRING and TIMESTAMP columns");
      }
      if (k == TypeKind::kDouble) {
        REKA_ASSIGN_OR_RETURN(g.minDouble, getNumber(o, p + "min", -1e9));
        REKA_ASSIGN_OR_RETURN(g.maxDouble, getNumber(o, p + "max", 1e9));
      } else if (integer) {
        const int64_t limit = k == TypeKind::kInt ? INT32_MAX : k == TypeKind::kDecimal ? INT64_MAX / 2 : INT64_MAX;
        REKA_ASSIGN_OR_RETURN(double lo, getNumber(o, p + "min", k == TypeKind::kInt ? INT32_MIN : -static_cast<double>(limit)));
        REKA_ASSIGN_OR_RETURN(double hi, getNumber(o, p + "max", static_cast<double>(limit)));
        const double scale = k == TypeKind::kDecimal ? std::pow(10.0, field.type.scale) : 1.0;
        g.minInt = static_cast<int64_t>(std::llround(std::max(lo * scale, -9.2e18)));
        g.maxInt = static_cast<int64_t>(std::llround(std::min(hi * scale, 9.2e18)));
        if (k == TypeKind::kInt && (lo < INT32_MIN || hi > INT32_MAX))
          return Status::invalidArgument("options '" + p + "min'/'max' of the INT column '" + field.name + "' must be INT values");
      }
      if (g.maxInt < g.minInt || g.maxDouble < g.minDouble)
        return Status::invalidArgument("option '" + p + "max' must not be below '" + p + "min'");
      REKA_ASSIGN_OR_RETURN(g.length, o.getInt(p + "length", 100));
      if (g.length < 0 || g.length > 1 << 20) return Status::invalidArgument("option '" + p + "length' must be between 0 and 1048576");
      REKA_ASSIGN_OR_RETURN(g.maxPastMs, o.getDurationMs(p + "max-past", 0));
    }
    plan->fields.push_back(g);
  }
  return std::shared_ptr<const Plan>(std::move(plan));
}

}  // namespace

ConnectorFactory datagenConnector() {
  ConnectorFactory f;
  f.name = "datagen";
  f.description = "rows of random or sequence values at a rate (Flink's datagen): per column fields.<c>.kind = random (min, max, length, "
                  "max-past, null-rate) or sequence (start, end); bounded by number-of-rows or a sequence";
  f.sourceOptions = {"rows-per-second", "number-of-rows", "seed", "fields.*"};
  f.makeSource = [](const TableContext& t) -> Result<SourceSpec<Row>> {
    REKA_ASSIGN_OR_RETURN(std::shared_ptr<const Plan> plan, makePlan(t));
    SourceSpec<Row> spec;
    spec.bounded = plan->rows >= 0;
    spec.makeEnumerator = [] { return std::make_unique<DatagenEnumerator>(); };
    spec.makeReader = [plan](const SourceReaderContext& ctx) -> std::unique_ptr<SplitReader<Row>> {
      return std::make_unique<DatagenReader>(plan, ctx.batchSize);
    };
    return spec;
  };
  return f;
}

}  // namespace reka::connector
