#include "nexmark/QueryJob.h"

#include <optional>

#include "reka/connector/Kafka.h"

#include "nexmark/Sinks.h"
#include "nexmark/WindowedRows.h"
#include "nexmark/Generator.h"

namespace reka::nexmark {

const std::vector<std::string>& supportedQueries() {
  static const std::vector<std::string> kQueries = {"q0",  "q1",  "q2",  "q3",  "q4",  "q5",  "q6",  "q7",
                                                    "q8",  "q9",  "q10", "q11", "q12", "q13", "q14", "q15",
                                                    "q17", "q18", "q19", "q20", "q21", "q22"};
  return kQueries;
}

Status addQuery(StreamEnvironment& env, DataStream<Event> events, const QueryJobOptions& options,
                std::shared_ptr<QueryCounters> counters) {
  const std::string& q = options.query;
  if (q == "q0") addQ0(events, options, counters);
  else if (q == "q1") addQ1(events, options, counters);
  else if (q == "q2") addQ2(events, options, counters);
  else if (q == "q3") addQ3(events, options, counters);
  else if (q == "q5") addQ5(events, options, counters);
  else if (q == "q7") addQ7(events, options, counters);
  else if (q == "q8") addQ8(events, options, counters);
  else if (q == "q11") addQ11(events, options, counters);
  else if (q == "q12") addQ12(events, options, counters);
  else if (q == "q4") addQ4(events, options, counters);
  else if (q == "q6") addQ6(events, options, counters);
  else if (q == "q9") addQ9(events, options, counters);
  else if (q == "q10") addQ10(events, options, counters);
  else if (q == "q13") addQ13(env, events, options, counters);
  else if (q == "q14") addQ14(events, options, counters);
  else if (q == "q15") addQ15(events, options, counters);
  else if (q == "q17") addQ17(events, options, counters);
  else if (q == "q18") addQ18(events, options, counters);
  else if (q == "q19") addQ19(events, options, counters);
  else if (q == "q20") addQ20(events, options, counters);
  else if (q == "q21") addQ21(events, options, counters);
  else if (q == "q22") addQ22(events, options, counters);
  else {
    std::string list;
    for (const auto& s : supportedQueries()) list += (list.empty() ? "" : ", ") + s;
    return Status::invalidArgument("unknown query '" + q + "'; supported: " + list);
  }
  return Status::ok();
}

connector::kafka::KafkaSinkOptions kafkaOutputOptions(const QueryJobOptions& options) {
  connector::kafka::KafkaSinkOptions o;
  auto uri = connector::kafka::parseKafkaUri(options.outputPath);  // buildQueryJob checked it
  if (!uri.isOk()) return o;
  o.bootstrapServers = uri->bootstrapServers;
  o.topic = uri->topic;
  o.properties = uri->properties;
  o.transactionLogDir = options.kafkaTransactionLogDir;
  o.transactionalIdPrefix =
      options.kafkaTransactionalIdPrefix.empty() ? "reka-" + options.query + "-" + uri->topic : options.kafkaTransactionalIdPrefix;
  return o;
}

Result<std::shared_ptr<QueryCounters>> buildQueryJob(StreamEnvironment& env, const QueryJobOptions& options) {
  if (options.inputPath.empty()) REKA_RETURN_IF_ERROR(Generator::make(options.generator).status());
  if (!options.outputPath.empty() && !options.outputDir.empty())
    return Status::invalidArgument("give an output file or an output directory, not both");
  if (connector::kafka::isKafkaUri(options.outputPath))
    REKA_RETURN_IF_ERROR(connector::kafka::parseKafkaUri(options.outputPath).status());
  auto counters = std::make_shared<QueryCounters>();
  std::optional<DataStream<Event>> events;
  if (connector::kafka::isKafkaUri(options.inputPath)) {
    REKA_ASSIGN_OR_RETURN(events, kafkaEventSource(env, options, counters));
  } else if (!options.inputPath.empty()) {
    events = fileSource(env, options, counters).rebalance();
  } else {
    events = generatorSource(env, options.generator, 0, options.maxAheadMs);
  }
  REKA_RETURN_IF_ERROR(addQuery(env, *events, options, counters));
  return counters;
}

}  // namespace reka::nexmark
