#include "base/Regex.h"

#include <re2/re2.h>

namespace reka {

struct Regex::Impl {
  explicit Impl(const std::string& pattern) : re(pattern, options()) {}
  static RE2::Options options() {
    RE2::Options o;
    o.set_log_errors(false);
    return o;
  }
  RE2 re;
};

Result<std::shared_ptr<const Regex>> Regex::compile(const std::string& pattern) {
  auto r = std::shared_ptr<Regex>(new Regex());
  r->impl_ = std::make_unique<Impl>(pattern);
  r->pattern_ = pattern;
  if (!r->impl_->re.ok())
    return Status::invalidArgument("'" + pattern + "' is not a regular expression: " + r->impl_->re.error() +
                                   " (RE2 syntax: Java's and Perl's without backreferences or lookaround)");
  return std::shared_ptr<const Regex>(std::move(r));
}

Regex::~Regex() = default;

bool Regex::search(const std::string& text) const { return RE2::PartialMatch(text, impl_->re); }

std::vector<std::optional<std::string_view>> Regex::searchGroups(std::string_view text) const {
  std::vector<std::optional<std::string_view>> out;
  const int groups = impl_->re.NumberOfCapturingGroups() + 1;
  re2::StringPiece m[16];
  std::vector<re2::StringPiece> more;
  re2::StringPiece* match = m;
  if (groups > 16) {
    more.resize(static_cast<size_t>(groups));
    match = more.data();
  }
  if (!impl_->re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::UNANCHORED, match, groups)) return out;
  out.reserve(static_cast<size_t>(groups));
  for (int g = 0; g < groups; ++g) {
    if (match[g].data() == nullptr) {
      out.emplace_back(std::nullopt);  // the group did not take part in the match
    } else {
      out.emplace_back(std::string_view(match[g].data(), match[g].size()));
    }
  }
  return out;
}

}  // namespace reka
