#include "controller/iam/policy.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"

namespace minicloud::controller::iam {
namespace {

bool IsActionChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '*' || c == '?';
}

}  // namespace

absl::Status ValidateActionPattern(absl::string_view pattern) {
  if (pattern == "*") return absl::OkStatus();
  auto invalid = [&] {
    return InvalidParameterValue(absl::StrCat(
        "Invalid action '", pattern.substr(0, kMaxPatternLength),
        "': an allowed action is \"*\" or \"ec2:\" followed by an action name, '*' and '?' "
        "as wildcards (e.g. \"ec2:Describe*\")."));
  };
  if (pattern.size() > kMaxPatternLength || !absl::StartsWithIgnoreCase(pattern, kServicePrefix) ||
      pattern.size() == kServicePrefix.size()) {
    return invalid();
  }
  for (char c : pattern.substr(kServicePrefix.size())) {
    if (!IsActionChar(c)) return invalid();
  }
  return absl::OkStatus();
}

absl::Status ValidateActionPatterns(const std::vector<std::string>& patterns) {
  if (patterns.empty()) {
    return MissingParameter("An instance profile needs at least one allowed action.");
  }
  if (patterns.size() > kMaxPatterns) {
    return InvalidParameterValue(
        absl::StrCat("An instance profile allows at most ", kMaxPatterns, " action patterns."));
  }
  for (const std::string& p : patterns) {
    if (absl::Status s = ValidateActionPattern(p); !s.ok()) return s;
  }
  return absl::OkStatus();
}

bool GlobMatch(absl::string_view pattern, absl::string_view text) {
  size_t p = 0, t = 0;
  size_t star = absl::string_view::npos, star_text = 0;
  auto eq = [](char a, char b) {
    return absl::ascii_tolower(static_cast<unsigned char>(a)) ==
           absl::ascii_tolower(static_cast<unsigned char>(b));
  };
  while (t < text.size()) {
    if (p < pattern.size() &&
        (pattern[p] == '?' || (pattern[p] != '*' && eq(pattern[p], text[t])))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (star != absl::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool ActionAllowed(const std::vector<std::string>& patterns, absl::string_view action) {
  const std::string qualified = absl::StrCat(kServicePrefix, action);
  for (const std::string& p : patterns) {
    if (GlobMatch(p, qualified)) return true;
  }
  return false;
}

bool AccountOnly(absl::string_view action) {
  for (absl::string_view a : kAccountOnlyActions) {
    if (a == action) return true;
  }
  return false;
}

absl::Status Authorize(const minicloud::auth::Caller& caller, absl::string_view action) {
  if (!caller.allowed_actions.has_value()) return absl::OkStatus();
  if (!AccountOnly(action) && ActionAllowed(*caller.allowed_actions, action)) {
    return absl::OkStatus();
  }
  // EC2's wording (the encoded authorization message AWS appends is not reproduced).
  return Ec2Error(absl::StatusCode::kPermissionDenied, "UnauthorizedOperation",
                  absl::StrCat("You are not authorized to perform this operation (", kServicePrefix,
                               action, ")."));
}

}  // namespace minicloud::controller::iam
