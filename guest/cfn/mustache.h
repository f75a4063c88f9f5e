#pragma once

// The templating of AWS::CloudFormation::Init files' `context`: {{name}} (and {{ name }})
// replaced by the context's value (strings as is, other JSON as its text), {{{name}}} the same
// without escaping, a name missing from the context renders empty, {{! comment}} dropped.
// Values are not HTML-escaped (files are configuration, not HTML). PURE. Sections ({{#x}}) are
// an error naming the tag, never silently dropped.

#include <nlohmann/json.hpp>
#include <string>

#include "guest/cfn/status.h"

namespace minicloud::guest {

StatusOr<std::string> RenderMustache(const std::string& text, const nlohmann::json& context);

}  // namespace minicloud::guest
