#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "reka/api/DataStream.h"
#include "reka/base/Status.h"

namespace reka::sql {

/// A SQL script (Flink's dialect; see docs/sql.md) parsed and checked: its tables, views,
/// settings and INSERT statements. Every INSERT of the script runs in one job (a statement
/// set). Errors name the line and column and say what is accepted.
class SqlScript {
 public:
  /// Parses and plans `text` (tables, views, types, columns, options and formats are checked).
  static Result<SqlScript> compile(std::string_view text);
  ~SqlScript();
  SqlScript(SqlScript&&) noexcept;
  SqlScript& operator=(SqlScript&&) noexcept;

  /// The SET statements ('key' = 'value'), in order; later ones win.
  const std::map<std::string, std::string>& settings() const;
  /// The plan of every INSERT, as text (what `reka explain` prints).
  std::string explain() const;
  /// Adds every INSERT to `env` as sources, row operators and sinks.
  Status addTo(StreamEnvironment& env) const;

 private:
  struct Impl;
  explicit SqlScript(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Compiles `text` and starts its INSERTs as one job on `env` (its SET parallelism.default and
/// execution.checkpointing.interval apply where `env`'s configuration has the default parallelism
/// and no checkpoint interval; checkpoints need `env.config().checkpoints.stateDir`):
/// Flink's `tableEnv.executeSql(…)` for a script. Returns the running job.
Result<std::unique_ptr<JobClient>> executeSql(StreamEnvironment& env, std::string_view text);

}  // namespace reka::sql
