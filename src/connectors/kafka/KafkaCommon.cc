#include "connectors/kafka/KafkaCommon.h"

#include <charconv>
#include <cstring>
#include <regex.h>

#include "reka/base/Log.h"
#include "reka/connector/Kafka.h"

namespace reka::connector::kafka {

Result<KafkaConf> makeConf(const std::map<std::string, std::string>& defaults,
                           const std::map<std::string, std::string>& properties) {
  KafkaConf conf(rd_kafka_conf_new());
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) -> Status {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      return Status::invalidArgument("Kafka property '" + k + "': " + err);
    return Status::ok();
  };
  for (const auto& [k, v] : defaults) REKA_RETURN_IF_ERROR(set(k, v));
  for (const auto& [k, v] : properties) REKA_RETURN_IF_ERROR(set(k, v));
  return conf;
}

namespace {

/// librdkafka's own lines (syslog levels) go through Reka's logger, so that they follow
/// --log-level and --log-format instead of going to stderr as librdkafka's text.
void logKafkaLine(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  const LogLevel l = level <= 3 ? LogLevel::kError : level == 4 ? LogLevel::kWarn : level <= 6 ? LogLevel::kInfo : LogLevel::kDebug;
  if (!logEnabled(l)) return;
  log(l, std::string("Kafka client: ") + message, {{"client", rd_kafka_name(rk)}, {"facility", facility}});
}

}  // namespace

Result<KafkaHandle> makeClient(rd_kafka_type_t type, KafkaConf conf) {
  char err[512];
  rd_kafka_conf_set_log_cb(conf.get(), logKafkaLine);
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (rk == nullptr) return Status::invalidArgument(std::string("cannot create a Kafka client: ") + err);
  conf.release();  // rd_kafka_new took it
  return KafkaHandle(rk);
}

Status kafkaError(const std::string& what, rd_kafka_resp_err_t err) {
  const std::string message = what + ": " + rd_kafka_err2str(err);
  switch (err) {
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return Status::notFound(message);
    default:
      return Status::ioError(message);
  }
}

Result<std::shared_ptr<TopicPattern>> TopicPattern::compile(const std::string& pattern) {
  auto p = std::shared_ptr<TopicPattern>(new TopicPattern());
  // The whole name must match, as with Java's Pattern.matcher(topic).matches().
  auto re = Regex::compile("^(" + pattern + ")$");
  if (!re.isOk()) return Status::invalidArgument("Kafka source: topic pattern '" + pattern + "' is not a regular expression: " + re.status().message());
  p->re_ = std::move(*re);
  return p;
}

TopicPattern::~TopicPattern() = default;

bool TopicPattern::matches(const std::string& topic) const { return re_->search(topic); }

std::string splitId(const std::string& topic, int32_t partition) { return topic + "-" + std::to_string(partition); }

bool parseSplitId(const std::string& id, std::string& topic, int32_t& partition) {
  const size_t dash = id.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == id.size()) return false;
  const char* b = id.data() + dash + 1;
  const char* e = id.data() + id.size();
  auto [p, ec] = std::from_chars(b, e, partition);
  if (ec != std::errc() || p != e || partition < 0) return false;
  topic = id.substr(0, dash);
  return true;
}

Result<StartupMode> parseStartupMode(std::string_view name) {
  if (name == "earliest") return StartupMode::kEarliest;
  if (name == "latest") return StartupMode::kLatest;
  if (name == "group-offsets") return StartupMode::kGroupOffsets;
  if (name == "timestamp") return StartupMode::kTimestamp;
  if (name == "specific-offsets") return StartupMode::kSpecificOffsets;
  return Status::invalidArgument("unknown Kafka startup mode '" + std::string(name) +
                                 "' (accepted: earliest, latest, group-offsets, timestamp, specific-offsets)");
}

Result<SinkDelivery> parseSinkDelivery(std::string_view name) {
  if (name == "none") return SinkDelivery::kNone;
  if (name == "at-least-once") return SinkDelivery::kAtLeastOnce;
  if (name == "exactly-once") return SinkDelivery::kExactlyOnce;
  return Status::invalidArgument("unknown Kafka sink delivery '" + std::string(name) +
                                 "' (accepted: none, at-least-once, exactly-once)");
}

Status KafkaSourceOptions::validate() const {
  if (bootstrapServers.empty()) return Status::invalidArgument("Kafka source: bootstrap servers are empty");
  if (topics.empty() == topicPattern.empty())
    return Status::invalidArgument("Kafka source: give either topics or a topic pattern (exactly one of them)");
  for (const auto& t : topics)
    if (t.empty()) return Status::invalidArgument("Kafka source: an empty topic name");
  if (!topicPattern.empty()) {
    auto compiled = TopicPattern::compile(topicPattern);
    if (!compiled.isOk()) return compiled.status();
  }
  if (startup == StartupMode::kGroupOffsets && groupId.empty())
    return Status::invalidArgument("Kafka source: startup mode group-offsets needs a group id");
  if (discoveryIntervalMs < 0) return Status::invalidArgument("Kafka source: the discovery interval is negative");
  return Status::ok();
}

Status KafkaSinkOptions::validate() const {
  if (bootstrapServers.empty()) return Status::invalidArgument("Kafka sink: bootstrap servers are empty");
  if (topic.empty()) return Status::invalidArgument("Kafka sink: the topic is empty");
  if (delivery == SinkDelivery::kExactlyOnce) {
    if (transactionalIdPrefix.empty()) return Status::invalidArgument("Kafka sink: the transactional id prefix is empty");
    for (char c : transactionalIdPrefix)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
        return Status::invalidArgument("Kafka sink: transactional id prefix '" + transactionalIdPrefix +
                                       "' may hold only letters, digits, '.', '_' and '-'");
  }
  if (transactionTimeoutMs < 1000) return Status::invalidArgument("Kafka sink: the transaction timeout is under 1 s");
  return Status::ok();
}

std::vector<std::pair<std::string_view, std::optional<std::string_view>>> KafkaMessage::headers() const {
  std::vector<std::pair<std::string_view, std::optional<std::string_view>>> out;
  if (raw == nullptr) return out;
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(static_cast<const rd_kafka_message_t*>(raw), &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    std::optional<std::string_view> v;
    if (value != nullptr) v = std::string_view(static_cast<const char*>(value), size);
    out.emplace_back(std::string_view(name), v);
  }
  return out;
}

bool isKafkaUri(std::string_view s) { return s.rfind("kafka://", 0) == 0; }

Result<KafkaUri> parseKafkaUri(std::string_view s) {
  const std::string expected = " (expected kafka://HOST:PORT[,HOST:PORT…]/TOPIC[?property=value&…])";
  if (!isKafkaUri(s)) return Status::invalidArgument("'" + std::string(s) + "' is not a Kafka address" + expected);
  std::string_view rest = s.substr(8);
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0)
    return Status::invalidArgument("'" + std::string(s) + "' names no broker or no topic" + expected);
  KafkaUri uri;
  uri.bootstrapServers = std::string(rest.substr(0, slash));
  std::string_view topicAndQuery = rest.substr(slash + 1);
  const size_t q = topicAndQuery.find('?');
  uri.topic = std::string(topicAndQuery.substr(0, q));
  if (uri.topic.empty() || uri.topic.size() > 249)
    return Status::invalidArgument("'" + std::string(s) + "' has an empty or overlong topic" + expected);
  for (char c : uri.topic)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return Status::invalidArgument("topic '" + uri.topic + "' may hold only letters, digits, '.', '_' and '-'");
  if (q != std::string_view::npos) {
    std::string_view query = topicAndQuery.substr(q + 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      std::string_view kv = query.substr(0, amp);
      const size_t eq = kv.find('=');
      if (eq == std::string_view::npos || eq == 0)
        return Status::invalidArgument("'" + std::string(kv) + "' in " + std::string(s) + " is not property=value");
      uri.properties[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
      if (amp == std::string_view::npos) break;
      query = query.substr(amp + 1);
    }
  }
  if (uri.bootstrapServers.find(':') == std::string::npos)
    return Status::invalidArgument("broker '" + uri.bootstrapServers + "' in " + std::string(s) + " has no port" + expected);
  return uri;
}

std::string encodePosition(int64_t nextOffset, int64_t stopOffset) {
  std::string out(16, '\0');
  std::memcpy(out.data(), &nextOffset, 8);
  std::memcpy(out.data() + 8, &stopOffset, 8);
  return out;
}

bool decodePosition(std::string_view in, int64_t& nextOffset, int64_t& stopOffset) {
  if (in.size() != 16) return false;
  std::memcpy(&nextOffset, in.data(), 8);
  std::memcpy(&stopOffset, in.data() + 8, 8);
  return nextOffset >= 0 && stopOffset >= -1;
}

}  // namespace reka::connector::kafka
