#include "controller/cloudformation/template_error.h"

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"

namespace minicloud::cloudformation {

absl::Status TemplateError(absl::string_view path, absl::string_view message) {
  if (path.empty()) return ValidationError(absl::StrCat("Template format error: ", message));
  return ValidationError(absl::StrCat("Template format error: ", path, ": ", message));
}

absl::Status ValidationError(absl::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, kValidationError, message);
}

bool IsValidationError(const absl::Status& status) {
  return !status.ok() && Ec2CodeOf(status) == kValidationError;
}

}  // namespace minicloud::cloudformation
