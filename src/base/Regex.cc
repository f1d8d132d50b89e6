#include "base/Regex.h"

#include <re2/filtered_re2.h>
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
  /// RE2's prefilter for this pattern alone: the atoms (lower-case literal strings) and whether a
  /// text that holds none of them passes the filter. `filtered` is false when the analysis gave
  /// nothing to test (every text may match).
  bool filtered = false;
  bool passesWithoutAtoms = true;
  std::vector<std::string> atoms;
};

namespace {

/// Whether `atom` (lower case, as RE2's prefilter gives it) occurs in `text`, letters compared
/// without case (the prefilter's contract).
bool containsFolded(std::string_view text, std::string_view atom) {
  if (atom.empty()) return true;
  if (atom.size() > text.size()) return false;
  const auto fold = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  const char first = atom[0];
  const char firstUpper = first >= 'a' && first <= 'z' ? static_cast<char>(first - 32) : first;
  for (size_t i = 0; i + atom.size() <= text.size(); ++i) {
    if (text[i] != first && text[i] != firstUpper) continue;
    size_t k = 1;
    while (k < atom.size() && fold(text[i + k]) == atom[k]) ++k;
    if (k == atom.size()) return true;
  }
  return false;
}

}  // namespace

Result<std::shared_ptr<const Regex>> Regex::compile(const std::string& pattern) {
  auto r = std::shared_ptr<Regex>(new Regex());
  r->impl_ = std::make_unique<Impl>(pattern);
  r->pattern_ = pattern;
  if (!r->impl_->re.ok())
    return Status::invalidArgument("'" + pattern + "' is not a regular expression: " + r->impl_->re.error() +
                                   " (RE2 syntax: Java's and Perl's without backreferences or lookaround)");
  // The prefilter: which literal strings a match needs, from RE2's parse of the pattern. Atoms
  // shorter than 3 characters are not worth a search (min_atom_len).
  re2::FilteredRE2 filter(3);
  int id = 0;
  if (filter.Add(pattern, Impl::options(), &id) == RE2::NoError) {
    filter.Compile(&r->impl_->atoms);
    std::vector<int> none, potential;
    filter.AllPotentials(none, &potential);
    r->impl_->passesWithoutAtoms = !potential.empty();
    r->impl_->filtered = !r->impl_->atoms.empty() && !r->impl_->passesWithoutAtoms;
  }
  return std::shared_ptr<const Regex>(std::move(r));
}

Regex::~Regex() = default;

bool Regex::mayMatch(std::string_view text) const {
  if (!impl_->filtered) return true;
  for (const auto& atom : impl_->atoms)
    if (containsFolded(text, atom)) return true;
  return false;
}

bool Regex::search(std::string_view text) const {
  if (!mayMatch(text)) return false;
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), impl_->re);
}

std::vector<std::optional<std::string_view>> Regex::searchGroups(std::string_view text) const {
  std::vector<std::optional<std::string_view>> out;
  if (!mayMatch(text)) return out;
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

std::optional<std::string_view> Regex::extractGroup(std::string_view text, int group) const {
  if (group < 0 || group > impl_->re.NumberOfCapturingGroups() || !mayMatch(text)) return std::nullopt;
  // Only the groups up to the one asked for are captured.
  re2::StringPiece m[16];
  std::vector<re2::StringPiece> more;
  re2::StringPiece* match = m;
  const int n = group + 1;
  if (n > 16) {
    more.resize(static_cast<size_t>(n));
    match = more.data();
  }
  if (!impl_->re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::UNANCHORED, match, n)) return std::nullopt;
  if (match[group].data() == nullptr) return std::nullopt;
  return std::string_view(match[group].data(), match[group].size());
}

}  // namespace reka
