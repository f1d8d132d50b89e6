#include "reka/connector/Format.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <mutex>

#include "connectors/NamedRegistry.h"
#include "connectors/format/Formats.h"
#include "reka/base/Units.h"

namespace reka::connector {

namespace {
std::string joined(const std::vector<std::string>& items) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) s += (i > 0 ? ", " : "") + items[i];
  return s;
}
}  // namespace

// ---- Options ------------------------------------------------------------------------------

std::string Options::get(std::string_view key, std::string_view fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::string(fallback) : it->second;
}

Result<std::string> Options::required(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end() || it->second.empty()) return Status::invalidArgument(fmt::format("option '{}' is required", fullKey(key)));
  return it->second;
}

Result<int64_t> Options::getInt(std::string_view key, int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  int64_t v = 0;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    return Status::invalidArgument(fmt::format("option '{}' = '{}': expected an integer", fullKey(key), s));
  return v;
}

Result<bool> Options::getBool(std::string_view key, bool fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  std::string v = it->second;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v == "true") return true;
  if (v == "false") return false;
  return Status::invalidArgument(fmt::format("option '{}' = '{}': expected true or false", fullKey(key), it->second));
}

Result<char> Options::getChar(std::string_view key, char fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const std::string& v = it->second;
  if (v.size() == 1) return v[0];
  if (v == "\\t") return '\t';
  if (v == "\\n") return '\n';
  return Status::invalidArgument(fmt::format("option '{}' = '{}': expected a single character", fullKey(key), v));
}

Result<int64_t> Options::getDurationMs(std::string_view key, int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  auto d = parseDuration(it->second);
  if (!d) return Status::invalidArgument(fmt::format("option '{}' = '{}': expected a duration such as 500ms, 10s or 5min", fullKey(key), it->second));
  return static_cast<int64_t>(d->count());
}

Result<std::string> Options::getEnum(std::string_view key, std::string_view fallback, const std::vector<std::string>& accepted) const {
  auto it = values_.find(key);
  if (it == values_.end()) return std::string(fallback);
  if (std::find(accepted.begin(), accepted.end(), it->second) != accepted.end()) return it->second;
  return Status::invalidArgument(fmt::format("option '{}' = '{}': accepted values are {}", fullKey(key), it->second, joined(accepted)));
}

Options Options::withPrefix(std::string_view prefix) const {
  Options out;
  const std::string p = std::string(prefix) + ".";
  out.keyPrefix_ = keyPrefix_ + p;
  for (const auto& [k, v] : values_)
    if (k.size() > p.size() && k.compare(0, p.size(), p) == 0) out.values_[k.substr(p.size())] = v;
  return out;
}

Status Options::checkKeys(const std::string& owner, const std::vector<std::string>& accepted) const {
  for (const auto& [key, value] : values_) {
    bool ok = false;
    for (const auto& a : accepted) {
      if (a == key || (a.size() > 2 && a.ends_with(".*") && key.size() > a.size() - 1 && key.compare(0, a.size() - 1, a, 0, a.size() - 1) == 0)) {
        ok = true;
        break;
      }
    }
    if (!ok)
      return Status::invalidArgument(fmt::format("{} does not accept option '{}'; accepted: {}", owner, fullKey(key), joined(accepted)));
  }
  return Status::ok();
}

// ---- The format registry ------------------------------------------------------------------

namespace {
NamedRegistry<FormatFactory>& registry() {
  // Never destroyed: formats outlive static destruction.
  static auto* r = new NamedRegistry<FormatFactory>("format", {builtin::json(), builtin::csv(), builtin::raw(), builtin::debeziumJson(), builtin::changelogJson()});
  return *r;
}
}  // namespace

void registerFormat(FormatFactory factory) { registry().add(std::move(factory)); }
Result<const FormatFactory*> findFormat(std::string_view name) { return registry().find(name); }
std::vector<const FormatFactory*> formats() { return registry().all(); }

namespace {
Result<Options> formatOptions(const FormatFactory& f, const Options& connectorOptions, std::string_view prefix) {
  Options own = connectorOptions.withPrefix(std::string(prefix) + f.name);
  REKA_RETURN_IF_ERROR(own.checkKeys("format '" + f.name + "' (options '" + std::string(prefix) + f.name + ".…')", f.options));
  return own;
}
}  // namespace

Result<std::unique_ptr<Decoder>> makeDecoder(std::string_view name, std::shared_ptr<const Schema> schema,
                                             const Options& connectorOptions, std::string_view prefix) {
  REKA_ASSIGN_OR_RETURN(const FormatFactory* f, findFormat(name));
  if (!f->makeDecoder) return Status::notSupported("format '" + f->name + "' cannot be read");
  REKA_ASSIGN_OR_RETURN(Options own, formatOptions(*f, connectorOptions, prefix));
  return f->makeDecoder(std::move(schema), own);
}

Result<std::unique_ptr<Encoder>> makeEncoder(std::string_view name, std::shared_ptr<const Schema> schema,
                                             const Options& connectorOptions, std::string_view prefix) {
  REKA_ASSIGN_OR_RETURN(const FormatFactory* f, findFormat(name));
  if (!f->makeEncoder) return Status::notSupported("format '" + f->name + "' cannot be written");
  REKA_ASSIGN_OR_RETURN(Options own, formatOptions(*f, connectorOptions, prefix));
  return f->makeEncoder(std::move(schema), own);
}

// ---- Base64 -------------------------------------------------------------------------------

namespace {
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

void appendBase64(std::string_view bytes, std::string& out) {
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += kBase64[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kBase64[(v >> 6) & 63] : '=';
    out += '=';
  }
}

Result<std::string> decodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) return Status::invalidArgument("not base64: its length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + static_cast<size_t>(k)];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else if (pad > 0 || (v[k] = base64Value(c)) < 0) {
        return Status::invalidArgument(fmt::format("not base64: unexpected '{}' at {}", c, i + static_cast<size_t>(k)));
      }
    }
    uint32_t w = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) | (static_cast<uint32_t>(v[2]) << 6) |
                 static_cast<uint32_t>(v[3]);
    out += static_cast<char>(w >> 16);
    if (pad < 2) out += static_cast<char>((w >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(w & 0xFF);
  }
  return out;
}

}  // namespace reka::connector
