#include "controller/query/action.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace minicloud::query {

absl::StatusOr<std::string> Required(ParamNode& params, absl::string_view name) {
  std::optional<std::string> v = params.String(name);
  if (!v || v->empty()) {
    return MissingParameter(absl::StrCat("The request must contain the parameter ", name));
  }
  return *std::move(v);
}

absl::StatusOr<std::string> DecodeBase64(absl::string_view text, absl::string_view message) {
  std::string raw;
  if (!absl::Base64Unescape(text, &raw)) return InvalidParameterValue(message);
  return raw;
}

}  // namespace minicloud::query
