#pragma once

// CloudFormation's validation errors. Every problem found in a template or in the parameters of
// a stack is an absl::Status with code InvalidArgument and the CloudFormation error code
// "ValidationError" as its payload (common/ec2_error.h), rendered by the Query layer as
// <Error><Code>ValidationError</Code>…. The message names the path of the offending value
// (`Resources.Web.Properties.ImageId: …`) and, for YAML and JSON documents, its line.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace minicloud::cloudformation {

inline constexpr absl::string_view kValidationError = "ValidationError";

// "Template format error: <path>: <message>" (the prefix CloudFormation gives structural errors).
absl::Status TemplateError(absl::string_view path, absl::string_view message);

// A ValidationError with the message as it is (parameter errors: "Parameters: [X] must have
// values").
absl::Status ValidationError(absl::string_view message);

// True when `status` carries the ValidationError code.
bool IsValidationError(const absl::Status& status);

}  // namespace minicloud::cloudformation
