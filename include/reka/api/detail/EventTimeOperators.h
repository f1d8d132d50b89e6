#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "reka/api/Functions.h"
#include "reka/api/Operator.h"
#include "reka/time/Watermarks.h"

namespace reka::detail {

/// Turns observed timestamps into watermark and idleness elements on an operator's outputs:
/// checks at most every watermark interval (and on processing-time callbacks, so that a quiet
/// source still goes idle), and sends only changes.
class WatermarkEmitter {
 public:
  void open(OperatorContext& ctx, const WatermarkOptions& options, int splits) {
    ctx_ = &ctx;
    splits_.init(options, splits, ctx.time->now());
    interval_ = std::max<int64_t>(0, ctx.watermarkIntervalMs);
    tick_ = interval_ > 0 ? interval_ : 200;
    if (options.idleTimeoutMs > 0) tick_ = std::min(tick_, std::max<int64_t>(1, options.idleTimeoutMs / 2));
    ctx.time->requestCallback(ctx.time->now() + tick_);
  }
  SplitWatermarks& splits() { return splits_; }

  /// After a batch: emits if the interval has passed (every batch when the interval is 0).
  void afterBatch() {
    if (interval_ == 0) {
      emit(ctx_->time->now());
      return;
    }
    int64_t now = ctx_->time->now();
    if (now - lastEmitMs_ >= interval_) emit(now);
  }
  /// On the periodic processing-time callback.
  void onTick(int64_t now) {
    emit(now);
    ctx_->time->requestCallback(now + tick_);
  }
  /// Every observed timestamp is final (end of input): sends the last watermark.
  void flushFinal() { emit(ctx_->time->now()); }

  /// Checkpoints: appends i64 the watermark sent, then SplitWatermarks::snapshot.
  void snapshot(std::string& out) const {
    Serde<int64_t>::write(emitted_, out);
    splits_.snapshot(out);
  }
  /// Restores what snapshot() wrote (consumed from the front of `in`); after open(). The
  /// watermark sent before is sent again with the next check (downstream tasks restart from
  /// none) and never goes back; the idle status is sent again when it is still idle.
  Status restore(std::string_view& in) {
    int64_t emitted = kMinTime;
    if (!Serde<int64_t>::read(in, emitted)) return Status::corruption("truncated watermark state in a checkpoint");
    REKA_RETURN_IF_ERROR(splits_.restore(in, ctx_->time->now()));
    emitted_ = emitted;
    resend_ = emitted != kMinTime;
    idle_ = false;
    return Status::ok();
  }

 private:
  void emit(int64_t now) {
    lastEmitMs_ = now;
    splits_.poll(now);
    bool idle = splits_.idle();
    if (!idle && idle_) setIdle(false);
    int64_t wm = splits_.current();
    if (wm > emitted_ || (resend_ && wm >= emitted_)) {
      resend_ = false;
      emitted_ = wm;
      ctx_->metrics->watermark.store(wm, std::memory_order_relaxed);
      for (Output* o : ctx_->outputs) o->emitWatermark(wm);
    }
    if (idle && !idle_) setIdle(true);
  }
  void setIdle(bool idle) {
    idle_ = idle;
    for (Output* o : ctx_->outputs) o->emitWatermarkStatus(idle);
  }

  OperatorContext* ctx_ = nullptr;
  SplitWatermarks splits_;
  int64_t interval_ = 200;
  int64_t tick_ = 200;
  int64_t lastEmitMs_ = 0;
  int64_t emitted_ = kMinTime;
  bool resend_ = false;  ///< after a restore: send emitted_ again
  bool idle_ = false;
};

/// Assigns event time in a source (per split) from records: one virtual call per batch.
template <class T>
class SourceTimestamper {
 public:
  virtual ~SourceTimestamper() = default;
  virtual void observe(size_t split, const BatchOf<T>& batch, SplitWatermarks& splits) = 0;
  virtual const WatermarkOptions& options() const = 0;
};

template <class T, class Strategy>
class StrategyTimestamper final : public SourceTimestamper<T> {
 public:
  explicit StrategyTimestamper(Strategy s) : strategy_(std::move(s)) {}
  void observe(size_t split, const BatchOf<T>& batch, SplitWatermarks& splits) override {
    if constexpr (std::is_same_v<T, Row>) {
      // A row strategy reads a row of a batch (see connector::RowTimestamps).
      for (size_t i = 0; i < batch.size(); ++i) splits.observe(split, strategy_.timestampOf(batch, i));
    } else {
      for (const T& r : batch.records) splits.observe(split, strategy_.timestampOf(r));
    }
  }
  const WatermarkOptions& options() const override { return strategy_.options(); }

 private:
  Strategy strategy_;
};

/// assignTimestampsAndWatermarks(): replaces the upstream's watermarks with ones generated
/// from the records (one split per subtask). Upstream watermarks are dropped, except the final
/// kMaxTime of a bounded input.
template <class T, class Strategy>
class TimestampsAndWatermarksOperator final : public Operator {
 public:
  explicit TimestampsAndWatermarksOperator(Strategy s) : strategy_(std::move(s)) {}
  Status open(OperatorContext& ctx) override {
    ctx_ = &ctx;
    emitter_.open(ctx, strategy_.options(), 1);
    return Status::ok();
  }
  void processBatch(int, Batch& batch) override {
    auto& in = static_cast<BatchOf<T>&>(batch);
    auto& splits = emitter_.splits();
    if constexpr (std::is_same_v<T, Row>) {
      for (size_t i = 0; i < in.size(); ++i) splits.observe(0, strategy_.timestampOf(in, i));
    } else {
      for (const T& r : in.records) splits.observe(0, strategy_.timestampOf(r));
    }
    ctx_->metrics->recordsOut.fetch_add(static_cast<int64_t>(in.size()), std::memory_order_relaxed);
    ctx_->outputs[0]->push(in);
    emitter_.afterBatch();
  }
  void processWatermark(int64_t watermark) override {
    if (watermark == kMaxTime) forwardWatermark(watermark);
  }
  void processWatermarkStatus(bool) override {}
  void onProcessingTime(int64_t now) override { emitter_.onTick(now); }
  /// u8 version (1), then WatermarkEmitter::snapshot.
  Status snapshotState(int64_t, std::string& out) override {
    Serde<uint8_t>::write(kFormatVersion, out);
    emitter_.snapshot(out);
    return Status::ok();
  }
  Status restoreState(std::string_view in) override {
    uint8_t version = 0;
    if (!Serde<uint8_t>::read(in, version)) return Status::corruption("empty watermark operator checkpoint");
    if (version != kFormatVersion)
      return Status::corruption("watermark operator checkpoint of unknown format version " + std::to_string(version));
    REKA_RETURN_IF_ERROR(emitter_.restore(in));
    if (!in.empty()) return Status::corruption("trailing bytes after a watermark operator's checkpoint");
    return Status::ok();
  }

 private:
  static constexpr uint8_t kFormatVersion = 1;
  Strategy strategy_;
  WatermarkEmitter emitter_;
  OperatorContext* ctx_ = nullptr;
};

}  // namespace reka::detail
