// JSON_VALUE, JSON_QUERY and JSON_EXISTS over JSON text, in Flink's lax mode with its default
// error behaviour: a path that finds nothing, or text that is not JSON, gives NULL (JSON_VALUE,
// JSON_QUERY) or FALSE (JSON_EXISTS). Paths: $, .key, ['key'], [n].
#include <simdjson.h>

#include <charconv>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "sql/Expression.h"

namespace reka::sql {

namespace {

namespace dom = simdjson::dom;

using Step = std::variant<std::string, int64_t>;

Result<std::vector<Step>> parsePath(std::string_view p) {
  const std::string_view whole = p;
  auto bad = [&](const std::string& why) {
    return Status::invalidArgument("JSON path '" + std::string(whole) + "': " + why + "; accepted: $, .key, ['key'], [n] (lax mode)");
  };
  while (!p.empty() && p.front() == ' ') p.remove_prefix(1);
  if (p.rfind("lax ", 0) == 0) p.remove_prefix(4);
  if (p.rfind("strict ", 0) == 0) return bad("strict mode is not supported");
  while (!p.empty() && p.front() == ' ') p.remove_prefix(1);
  if (p.empty() || p.front() != '$') return bad("a path starts with $");
  p.remove_prefix(1);
  std::vector<Step> steps;
  while (!p.empty()) {
    if (p.front() == '.') {
      p.remove_prefix(1);
      size_t n = 0;
      while (n < p.size() && p[n] != '.' && p[n] != '[') ++n;
      if (n == 0) return bad("a name must follow '.'");
      steps.emplace_back(std::string(p.substr(0, n)));
      p.remove_prefix(n);
    } else if (p.front() == '[') {
      p.remove_prefix(1);
      if (!p.empty() && (p.front() == '\'' || p.front() == '"')) {
        const char q = p.front();
        const size_t end = p.find(q, 1);
        if (end == std::string_view::npos || end + 1 >= p.size() || p[end + 1] != ']') return bad("an unterminated ['key']");
        steps.emplace_back(std::string(p.substr(1, end - 1)));
        p.remove_prefix(end + 2);
      } else {
        int64_t index = 0;
        auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), index);
        if (ec != std::errc() || ptr == p.data() || ptr == p.data() + p.size() || *ptr != ']' || index < 0)
          return bad("an array index is [n], n >= 0");
        p.remove_prefix(static_cast<size_t>(ptr - p.data()) + 1);
        steps.emplace_back(index);
      }
    } else {
      return bad(fmt::format("unexpected '{}'", p.front()));
    }
  }
  return steps;
}

/// The element at `steps` below `root`, or false if there is none.
bool walk(dom::element e, const std::vector<Step>& steps, dom::element& out) {
  for (const Step& s : steps) {
    if (const auto* key = std::get_if<std::string>(&s)) {
      dom::object o;
      if (e.get(o) != simdjson::SUCCESS || o.at_key(*key).get(e) != simdjson::SUCCESS) return false;
    } else {
      dom::array a;
      if (e.get(a) != simdjson::SUCCESS || a.at(static_cast<size_t>(std::get<int64_t>(s))).get(e) != simdjson::SUCCESS) return false;
    }
  }
  out = e;
  return true;
}

enum class Kind { kValue, kQuery, kExists };

ScalarFunction jsonFunction(const char* name, Kind kind, const char* description) {
  ScalarFunction f;
  f.name = name;
  f.description = description;
  f.argTypes = {DataType::string(), DataType::string()};
  f.resultType = kind == Kind::kExists ? DataType::boolean() : DataType::string();
  f.eval = [kind](const std::vector<const Column*>& args, size_t rows, Column& out, StringArena& arena) -> Status {
    dom::parser parser;
    std::string lastPath;
    std::vector<Step> steps;
    bool havePath = false;
    std::string text;
    for (size_t i = 0; i < rows; ++i) {
      if (args[0]->nulls[i] != 0 || args[1]->nulls[i] != 0) continue;
      const std::string_view path = args[1]->strings[i];
      if (!havePath || path != lastPath) {
        REKA_ASSIGN_OR_RETURN(steps, parsePath(path));
        lastPath.assign(path);
        havePath = true;
      }
      dom::element root, found;
      const std::string_view json = args[0]->strings[i];
      const bool ok = parser.parse(json.data(), json.size(), true).get(root) == simdjson::SUCCESS && walk(root, steps, found);
      if (kind == Kind::kExists) {
        out.nulls[i] = 0;
        out.ints[i] = ok ? 1 : 0;
        continue;
      }
      if (!ok) continue;
      text.clear();
      switch (found.type()) {
        case dom::element_type::STRING: text.assign(std::string_view(found.get_string().value())); break;
        case dom::element_type::INT64: text = std::to_string(int64_t(found.get_int64().value())); break;
        case dom::element_type::UINT64: text = std::to_string(uint64_t(found.get_uint64().value())); break;
        case dom::element_type::DOUBLE: text = fmt::format("{}", double(found.get_double().value())); break;
        case dom::element_type::BOOL: text = bool(found.get_bool().value()) ? "true" : "false"; break;
        case dom::element_type::NULL_VALUE: continue;
        case dom::element_type::ARRAY:
        case dom::element_type::OBJECT:
          if (kind == Kind::kValue) continue;  // not a scalar: NULL (Flink's NULL ON ERROR)
          text = simdjson::minify(found);
          break;
      }
      if (kind == Kind::kQuery && found.type() != dom::element_type::ARRAY && found.type() != dom::element_type::OBJECT) continue;
      out.nulls[i] = 0;
      out.strings[i] = arena.copy(text);
    }
    return Status::ok();
  };
  return f;
}

}  // namespace

const ScalarFunction* builtinFunction(std::string_view name) {
  static const ScalarFunction kValue = jsonFunction("JSON_VALUE", Kind::kValue, "JSON_VALUE(json, path): the scalar at path, as STRING (NULL if none)");
  static const ScalarFunction kQuery = jsonFunction("JSON_QUERY", Kind::kQuery, "JSON_QUERY(json, path): the object or array at path, as JSON text");
  static const ScalarFunction kExists = jsonFunction("JSON_EXISTS", Kind::kExists, "JSON_EXISTS(json, path): whether path finds a value");
  if (name == "JSON_VALUE") return &kValue;
  if (name == "JSON_QUERY") return &kQuery;
  if (name == "JSON_EXISTS") return &kExists;
  return nullptr;
}

Status checkJsonPath(std::string_view path) { return parsePath(path).status(); }

}  // namespace reka::sql
