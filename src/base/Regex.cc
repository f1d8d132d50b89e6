#include "reka/base/Regex.h"

#include <regex.h>

namespace reka {

struct Regex::Impl {
  regex_t re{};
  size_t groups = 0;
};

Result<std::shared_ptr<const Regex>> Regex::compile(const std::string& pattern) {
  auto r = std::shared_ptr<Regex>(new Regex());
  r->impl_ = std::make_unique<Impl>();
  r->pattern_ = pattern;
  const int rc = regcomp(&r->impl_->re, pattern.c_str(), REG_EXTENDED);
  if (rc != 0) {
    char err[256];
    regerror(rc, &r->impl_->re, err, sizeof err);
    r->impl_.reset();
    return Status::invalidArgument("'" + pattern + "' is not a regular expression (POSIX extended): " + err);
  }
  r->impl_->groups = r->impl_->re.re_nsub;
  return std::shared_ptr<const Regex>(std::move(r));
}

Regex::~Regex() {
  if (impl_) regfree(&impl_->re);
}

bool Regex::search(const std::string& text) const { return regexec(&impl_->re, text.c_str(), 0, nullptr, 0) == 0; }

std::vector<std::optional<std::string_view>> Regex::searchGroups(std::string_view text) const {
  std::vector<std::optional<std::string_view>> out;
  std::vector<regmatch_t> m(impl_->groups + 1);
  // REG_STARTEND: the text need not end with a NUL.
  m[0].rm_so = 0;
  m[0].rm_eo = static_cast<regoff_t>(text.size());
  if (regexec(&impl_->re, text.data(), m.size(), m.data(), REG_STARTEND) != 0) return out;
  for (const auto& g : m) {
    if (g.rm_so < 0) {
      out.emplace_back(std::nullopt);
    } else {
      out.emplace_back(text.substr(static_cast<size_t>(g.rm_so), static_cast<size_t>(g.rm_eo - g.rm_so)));
    }
  }
  return out;
}

}  // namespace reka
