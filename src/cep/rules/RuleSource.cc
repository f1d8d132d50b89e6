// The rule file source: one split, read by subtask 0's connector thread; a watched file is
// polled (stat, then the content when size or time changed) and re-emitted when it changed.
#include "reka/cep/RuleSource.h"

#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>

#include "reka/connector/SplitSource.h"

namespace reka::cep {
namespace {

class RuleFileEnumerator final : public connector::SplitEnumerator {
 public:
  Result<std::vector<connector::SplitState>> discover() override { return std::vector<connector::SplitState>{{"rules", "", INT64_MIN, false}}; }
  int owner(const connector::SplitState&, int) const override { return 0; }
};

class RuleFileReader final : public connector::SplitReader<RuleUpdate> {
 public:
  explicit RuleFileReader(RuleFileOptions options) : options_(std::move(options)) {}

  Status addSplits(const std::vector<connector::SplitState>& splits) override {
    assigned_ = assigned_ || !splits.empty();
    return Status::ok();
  }

  Status fetch(std::vector<connector::SplitBatch<RuleUpdate>>& out, size_t, int timeoutMs) override {
    if (!assigned_ || done_) {
      wait(timeoutMs);
      return Status::ok();
    }
    struct stat st {};
    const bool exists = ::stat(options_.path.c_str(), &st) == 0;
    if (!exists && !readOnce_) return Status::notFound("rule file " + options_.path + " does not exist");
    const bool changed = exists && (!readOnce_ || st.st_size != lastSize_ || st.st_mtim.tv_sec != lastMtime_.tv_sec ||
                                    st.st_mtim.tv_nsec != lastMtime_.tv_nsec);
    if (changed) {
      std::ifstream in(options_.path, std::ios::binary);
      if (!in && !readOnce_) return Status::ioError("cannot read rule file " + options_.path);
      if (in) {
        std::ostringstream text;
        text << in.rdbuf();
        lastSize_ = st.st_size;
        lastMtime_ = st.st_mtim;
        if (!readOnce_ || text.str() != lastText_) {
          lastText_ = text.str();
          ++changes_;
          connector::SplitBatch<RuleUpdate> b;
          b.split = 0;
          b.bytes = static_cast<int64_t>(lastText_.size());
          auto parsed = parseRuleDocument(lastText_, true);
          RuleUpdate u;
          if (parsed.isOk()) {
            u = std::move(parsed.value());
          } else {
            u.errors.push_back("rule file " + options_.path + ": " + parsed.status().message());
          }
          u.origin = options_.path + (readOnce_ ? " (changed)" : "");
          b.records.records.push_back(std::move(u));
          readOnce_ = true;
          if (!options_.watch) {
            b.finished = true;
            done_ = true;
          }
          out.push_back(std::move(b));
          return Status::ok();
        }
      }
    }
    wait(std::min<int64_t>(timeoutMs, options_.pollIntervalMs));
    return Status::ok();
  }

  void wakeUp() override {
    std::lock_guard<std::mutex> lock(mutex_);
    woken_ = true;
    cv_.notify_all();
  }

 private:
  void wait(int64_t ms) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(ms, 1)), [this] { return woken_; });
    woken_ = false;
  }

  RuleFileOptions options_;
  bool assigned_ = false;
  bool readOnce_ = false;
  bool done_ = false;
  int64_t lastSize_ = -1;
  timespec lastMtime_{};
  std::string lastText_;
  int64_t changes_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;
};

struct NoTime {
  int64_t operator()(const RuleUpdate&) const { return INT64_MIN; }
};

/// Rules carry no event time: the split goes idle at once, so that it never holds back the
/// watermark of the operator that reads rules and events.
WatermarkStrategy<RuleUpdate, NoTime> idle() {
  WatermarkOptions wm;
  wm.idleTimeoutMs = 1;
  return WatermarkStrategy<RuleUpdate, NoTime>(NoTime{}, wm);
}

/// One message as a rule update (never a dead letter: a bad rule is the operator's to report).
struct DecodeRules {
  Status operator()(const connector::kafka::KafkaMessage& m, std::vector<RuleUpdate>& out, StringArena&) const {
    const std::string where = "topic " + std::string(m.topic) + " partition " + std::to_string(m.partition) + " offset " + std::to_string(m.offset);
    RuleUpdate u;
    u.origin = where;
    if (!m.value) {
      if (m.key && !m.key->empty()) {
        u.removed.emplace_back(*m.key);
      } else {
        u.errors.push_back(where + ": a tombstone without a key names no rule");
      }
    } else if (auto parsed = parseRuleDocument(*m.value, false); parsed.isOk()) {
      parsed.value().origin = where;
      u = std::move(parsed.value());
    } else {
      u.errors.push_back(where + ": " + parsed.status().message());
    }
    out.push_back(std::move(u));
    return Status::ok();
  }
};

}  // namespace

DataStream<RuleUpdate> ruleFileSource(StreamEnvironment& env, RuleFileOptions options, std::string name) {
  connector::SourceSpec<RuleUpdate> spec;
  spec.bounded = !options.watch;
  spec.makeEnumerator = [] { return std::make_unique<RuleFileEnumerator>(); };
  spec.makeReader = [options](const connector::SourceReaderContext&) -> std::unique_ptr<connector::SplitReader<RuleUpdate>> {
    return std::make_unique<RuleFileReader>(options);
  };
  return connector::fromSource(env, std::move(name), std::move(spec), idle(), 1);
}

DataStream<RuleUpdate> ruleKafkaSource(StreamEnvironment& env, connector::kafka::KafkaSourceOptions options, std::string name) {
  options.startup = connector::kafka::StartupMode::kEarliest;  // the topic's history is the rule set
  auto spec = connector::kafka::kafkaSource<RuleUpdate>(std::move(options), DecodeRules{});
  return connector::fromSource(env, std::move(name), std::move(spec), idle(), 1);
}

}  // namespace reka::cep
