#include "Config.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

extern char** environ;

namespace reka::cli {

namespace {

/// Flags whose key is Flink's, because the meaning is the same (and `--memory`, whose key is
/// `reka.memory.budget`). Every other flag `--x` is `reka.x`.
struct FlinkKey {
  const char* flag;
  const char* key;
};
constexpr FlinkKey kFlinkKeys[] = {
    {"--parallelism", "parallelism.default"},
    {"--name", "pipeline.name"},
    {"--checkpoint-interval", "execution.checkpointing.interval"},
    {"--delivery", "execution.checkpointing.mode"},
    {"--checkpoint-timeout", "execution.checkpointing.timeout"},
    {"--checkpoint-min-pause", "execution.checkpointing.min-pause"},
    {"--checkpoint-mode", "execution.checkpointing.incremental-mode"},
    {"--state-dir", "state.checkpoints.dir"},
    {"--retain-checkpoints", "state.checkpoints.num-retained"},
    {"--state-backend", "state.backend.type"},
    {"--rocksdb-localdir", "state.backend.rocksdb.localdir"},
    {"--state-ttl", "table.exec.state.ttl"},
    {"--restart-attempts", "restart-strategy.fixed-delay.attempts"},
    {"--restart-delay", "restart-strategy.fixed-delay.delay"},
    {"--from-savepoint", "execution.savepoint.path"},
    {"--allow-non-restored-state", "execution.savepoint.ignore-unclaimed-state"},
    {"--rest-address", "rest.address"},
    {"--rest-port", "rest.port"},
    {"--rest-token", "rest.token"},
    {"--log-level", "reka.log.level"},
    {"--log-format", "reka.log.format"},
    {"--memory", "reka.memory.budget"},
};

/// Options that are the configuration's own, or not settings: never keys.
bool isConfigurable(const CLI::Option* opt) {
  if (opt->get_lnames().empty()) return false;  // positional arguments, -D
  const std::string& name = opt->get_lnames().front();
  return name != "config" && name != "help" && name != "help-all" && name != "version";
}

std::string flagOf(const CLI::Option* opt) { return "--" + opt->get_lnames().front(); }

/// Flink writes the checkpointing mode in capitals (EXACTLY_ONCE); the flag takes exactly-once.
std::string normalizeValue(const std::string& key, std::string value) {
  if (key == "execution.checkpointing.mode") {
    for (char& c : value) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return value;
}

struct Setting {
  std::string value;
  std::string source;
};

/// Flattens nested maps into dotted keys (Flink reads both `a.b: 1` and `a: {b: 1}`).
std::optional<std::string> flatten(const YAML::Node& node, const std::string& prefix, const std::string& file,
                                   std::map<std::string, Setting>& out) {
  for (const auto& kv : node) {
    const std::string key = prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (v.IsMap()) {
      if (auto bad = flatten(v, key, file, out)) return bad;
    } else if (v.IsScalar()) {
      out[key] = {v.as<std::string>(), "file " + file};
    } else if (v.IsNull()) {
      return file + ": key '" + key + "' has no value";
    } else {
      return file + ": key '" + key + "' has a list; a value must be a number, text or true/false";
    }
  }
  return std::nullopt;
}

std::optional<std::string> readFile(const std::string& file, std::map<std::string, Setting>& out) {
  try {
    YAML::Node root = YAML::LoadFile(file);
    if (root.IsNull()) return std::nullopt;  // an empty file
    if (!root.IsMap()) return file + ": expected a map of keys to values at the top";
    return flatten(root, "", file, out);
  } catch (const YAML::BadFile&) {
    return "cannot read the configuration file " + file;
  } catch (const YAML::Exception& e) {
    return file + ": not valid YAML: " + e.what();
  }
}

/// REKA_PARALLELISM_DEFAULT → parallelism.default is ambiguous ('.' and '-' both become '_'), so
/// a variable is matched against the known keys instead of converted back.
std::string envName(const std::string& key) {
  std::string k = key.rfind("reka.", 0) == 0 ? key.substr(5) : key;
  std::string name = "REKA_";
  for (char c : k) name += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

/// Variables that are not configuration (set by scripts and tests of this repository).
bool isReservedEnv(const std::string& name) { return name == "REKA_TEST_FAST" || name.rfind("REKA_BUILD", 0) == 0; }

/// Every key of every job command, with its flag, from the command tree under `root`.
void collectKeys(CLI::App* app, std::map<std::string, std::string>& keys) {
  const bool jobCommand = app->get_option_no_throw("--config") != nullptr && app->get_name() != "show";
  for (CLI::Option* opt : app->get_options()) {
    if (jobCommand && isConfigurable(opt)) keys.emplace(keyOfFlag(flagOf(opt)), flagOf(opt));
  }
  for (CLI::App* sub : app->get_subcommands({})) collectKeys(sub, keys);
}

CLI::App* rootOf(CLI::App* cmd) {
  while (cmd->get_parent() != nullptr) cmd = cmd->get_parent();
  return cmd;
}

std::string acceptedKeysHint(CLI::App* cmd) {
  std::string flink;
  for (const auto& fk : kFlinkKeys) {
    if (cmd->get_option_no_throw(fk.flag) != nullptr) flink += std::string(flink.empty() ? "" : ", ") + fk.key;
  }
  return "keys of this command: " + flink + ", and reka.<flag> for its other flags (`reka config keys` lists them all)";
}

}  // namespace

std::string keyOfFlag(const std::string& flag) {
  for (const auto& fk : kFlinkKeys)
    if (flag == fk.flag) return fk.key;
  return "reka." + flag.substr(2);
}

std::string EffectiveConfig::get(const std::string& key) const {
  for (const auto& e : entries)
    if (e.key == key) return e.value;
  return {};
}

std::string EffectiveConfig::source(const std::string& key) const {
  for (const auto& e : entries)
    if (e.key == key) return e.source;
  return "default";
}

CLI::Validator numberIn(double lo, double hi, bool whole) {
  auto bound = [](double v) {
    if (v >= 1e18) return std::string("any size");
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.15g", v);
    return std::string(buf);
  };
  const std::string range = hi >= 1e18 ? "at least " + bound(lo) : "from " + bound(lo) + " to " + bound(hi);
  const std::string kind = whole ? "a whole number" : "a number";
  return CLI::Validator(
      [=](std::string& value) -> std::string {
        size_t used = 0;
        double v = 0;
        try {
          v = std::stod(value, &used);
        } catch (...) {
          used = 0;
        }
        if (used == 0 || used != value.size()) return "'" + value + "' is not a number: expected " + kind + " " + range;
        if (whole && v != static_cast<double>(static_cast<int64_t>(v))) return "'" + value + "' is not a whole number: expected " + kind + " " + range;
        if (v < lo || v > hi) return value + " is out of range: expected " + kind + " " + range;
        return std::string();
      },
      kind + " " + range);
}

void addConfigOptions(CLI::App* cmd, ConfigFlags& flags) {
  cmd->add_option("--config", flags.file, "a YAML configuration file (Flink's keys; docs/operations.md)")->check(CLI::ExistingFile);
  cmd->add_option("-D", flags.defines, "a configuration value KEY=VALUE (repeat); wins over the file and REKA_… variables");
}

std::optional<std::string> applyConfiguration(CLI::App* cmd, const ConfigFlags& flags, EffectiveConfig& out) {
  std::map<std::string, std::string> allKeys;  // every job command's keys: a key of another command is not unknown
  collectKeys(rootOf(cmd), allKeys);
  std::map<std::string, CLI::Option*> mine;
  for (CLI::Option* opt : cmd->get_options())
    if (isConfigurable(opt)) mine[keyOfFlag(flagOf(opt))] = opt;

  // Lowest precedence first; a later source replaces an earlier one.
  std::map<std::string, Setting> settings;
  if (!flags.file.empty()) {
    std::map<std::string, Setting> fromFile;
    if (auto bad = readFile(flags.file, fromFile)) return bad;
    for (auto& [k, s] : fromFile) {
      if (!allKeys.count(k)) return "unknown configuration key '" + k + "' in " + flags.file + "; " + acceptedKeysHint(cmd);
      settings[k] = s;
    }
  }
  std::map<std::string, std::string> envToKey;
  for (const auto& [k, flag] : allKeys) envToKey[envName(k)] = k;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    const size_t eq = entry.find('=');
    const std::string name = entry.substr(0, eq);
    if (name.rfind("REKA_", 0) != 0 || isReservedEnv(name) || eq == std::string::npos) continue;
    auto it = envToKey.find(name);
    if (it == envToKey.end())
      return "unknown configuration variable " + name + "; a variable is REKA_ and the key in capitals with '_' for '.' and '-' "
             "(REKA_PARALLELISM_DEFAULT for parallelism.default, REKA_EVENTS for reka.events)";
    settings[it->second] = {entry.substr(eq + 1), "env " + name};
  }
  for (const std::string& d : flags.defines) {
    const size_t eq = d.find('=');
    if (eq == std::string::npos || eq == 0) return "-D '" + d + "' is not KEY=VALUE";
    const std::string k = d.substr(0, eq);
    if (!mine.count(k)) {
      return allKeys.count(k) ? "-D " + k + ": this command has no such setting (" + allKeys[k] + " belongs to another command); " +
                                    acceptedKeysHint(cmd)
                              : "unknown configuration key '" + k + "' (-D); " + acceptedKeysHint(cmd);
    }
    settings[k] = {d.substr(eq + 1), "-D"};
  }

  out.entries.clear();
  for (auto& [key, opt] : mine) {
    web::ConfigEntry entry{key, "", "default"};
    if (opt->count() > 0) {
      std::string v;
      for (const auto& r : opt->results()) v += (v.empty() ? "" : ",") + r;
      entry = {key, v, "flag " + flagOf(opt)};
    } else if (auto it = settings.find(key); it != settings.end()) {
      const std::string value = normalizeValue(key, it->second.value);
      try {
        opt->add_result(value);
        opt->run_callback();
      } catch (const CLI::Error& e) {
        return "configuration key '" + key + "' = '" + it->second.value + "' (" + it->second.source + "): " + e.what();
      }
      entry = {key, value, it->second.source};
    } else {
      opt->capture_default_str();
      entry.value = opt->get_type_size() == 0 ? "false" : opt->get_default_str();  // a flag's default is off
    }
    if (key == "rest.token" && !entry.value.empty()) entry.value = "(hidden)";  // never shown, never served
    out.entries.push_back(std::move(entry));
  }
  // Settings for other commands (from the file or the environment) are shown, marked unused.
  for (const auto& [key, s] : settings)
    if (!mine.count(key)) out.entries.push_back({key, s.value, s.source + " (not used by this command)"});
  return std::nullopt;
}

void addConfigCommands(CLI::App& app, int& exitCode) {
  auto* config = app.add_subcommand("config", "show the effective configuration and the keys the commands read");
  config->require_subcommand(1);
  struct ShowFlags {
    std::string command = "run";
    ConfigFlags config;
  };
  auto flags = std::make_shared<ShowFlags>();
  auto* show = config->add_subcommand("show", "print every key of a command with its value and where the value came from");
  show->add_option("--command", flags->command, "the command whose configuration to show: run (default), nexmark run, copy");
  addConfigOptions(show, flags->config);
  show->callback([flags, &app, &exitCode] {
    CLI::App* target = &app;
    std::string path;
    for (size_t start = 0; start <= flags->command.size();) {
      size_t space = flags->command.find(' ', start);
      if (space == std::string::npos) space = flags->command.size();
      const std::string word = flags->command.substr(start, space - start);
      start = space + 1;
      if (word.empty()) continue;
      CLI::App* next = nullptr;
      for (CLI::App* sub : target->get_subcommands({}))
        if (sub->get_name() == word) next = sub;
      if (next == nullptr) {
        std::fprintf(stderr, "reka config show: '%s' is not a command that runs jobs; accepted: run, nexmark run, copy\n",
                     flags->command.c_str());
        exitCode = 2;
        return;
      }
      target = next;
    }
    if (target->get_option_no_throw("--config") == nullptr) {
      std::fprintf(stderr, "reka config show: '%s' takes no configuration; accepted: run, nexmark run, copy\n", flags->command.c_str());
      exitCode = 2;
      return;
    }
    EffectiveConfig effective;
    if (auto bad = applyConfiguration(target, flags->config, effective)) {
      std::fprintf(stderr, "reka config show: %s\n", bad->c_str());
      exitCode = 2;
      return;
    }
    size_t width = 0;
    for (const auto& e : effective.entries) width = std::max(width, e.key.size());
    for (const auto& e : effective.entries)
      std::printf("%-*s  %-24s  # %s\n", static_cast<int>(width), e.key.c_str(), e.value.empty() ? "\"\"" : e.value.c_str(),
                  e.source.c_str());
    exitCode = 0;
  });
  auto* keys = config->add_subcommand("keys", "list every configuration key with its flag and environment variable");
  keys->callback([&app, &exitCode] {
    std::map<std::string, std::string> all;
    collectKeys(&app, all);
    for (const auto& [key, flag] : all) std::printf("%-40s %-26s %s\n", key.c_str(), flag.c_str(), envName(key).c_str());
    exitCode = 0;
  });
}

}  // namespace reka::cli
