#pragma once

// What an instance profile may do: a list of allowed EC2 actions in IAM's action syntax, and the
// one authorization rule both the Query API and the gRPC API apply to every verified caller.
//
// A pattern is "*" (everything), or "ec2:" followed by an action name in which '*' matches any
// run of characters and '?' one character ("ec2:Describe*", "ec2:*Tags", "ec2:CreateTags").
// Matching ignores case, as IAM's action matching does ("IAM JSON policy elements: Action":
// action names are case-insensitive). Only Allow statements exist: what no pattern matches is
// refused (IAM's implicit deny).

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/auth/signed_request.h"

namespace minicloud::controller::iam {

// The service prefix of every action minicloud authorizes.
inline constexpr absl::string_view kServicePrefix = "ec2:";
// At most this many patterns per profile, each at most this long.
inline constexpr size_t kMaxPatterns = 100;
inline constexpr size_t kMaxPatternLength = 128;

// Calls that manage credentials themselves (IAM's side, not EC2's): only account keys make them,
// whatever a profile's patterns say ("*" included), so instance credentials never mint others.
inline constexpr absl::string_view kAccountOnlyActions[] = {
    "CreateAccessKey",    "ListAccessKeys",       "DeleteAccessKey",      "CreateInstanceProfile",
    "GetInstanceProfile", "ListInstanceProfiles", "DeleteInstanceProfile"};
bool AccountOnly(absl::string_view action);

// InvalidParameterValue (naming the pattern) unless `pattern` has the form above.
absl::Status ValidateActionPattern(absl::string_view pattern);
// Every pattern valid, 1..kMaxPatterns of them.
absl::Status ValidateActionPatterns(const std::vector<std::string>& patterns);

// Glob match, '*' any run, '?' one character, ASCII case-insensitive. Linear in practice
// (the classic backtrack-to-last-star algorithm, O(|pattern| * |text|) at worst).
bool GlobMatch(absl::string_view pattern, absl::string_view text);

// True when some pattern allows the EC2 action `action` ("DescribeTags", no prefix).
bool ActionAllowed(const std::vector<std::string>& patterns, absl::string_view action);

// The authorization rule. OK for an account key (no list) and for a caller whose list allows
// `action` (never an account-only one); otherwise PermissionDenied with EC2's UnauthorizedOperation
// (HTTP 403 on the Query API, PERMISSION_DENIED on gRPC).
absl::Status Authorize(const minicloud::auth::Caller& caller, absl::string_view action);

}  // namespace minicloud::controller::iam
