#include "cli/output.h"

#include "cli/jmespath.h"
#include "cli/verb.h"

namespace minicloud::cli {

using nlohmann::json;

std::string FormatJson(const json& doc) {
  if (doc.is_object() && doc.empty()) return "";  // the aws CLI prints nothing for {}
  // Console output and user data may hold bytes that are not UTF-8: replaced, never a throw.
  return doc.dump(4, ' ', false, json::error_handler_t::replace) + "\n";
}

void WriteOutput(std::ostream& out, const json& doc, const OutputSpec& spec) {
  json result = doc;
  if (!spec.query.empty()) {
    absl::StatusOr<json> r = SearchJmesPath(spec.query, doc);
    if (!r.ok()) {
      if (absl::IsInvalidArgument(r.status())) {
        throw UsageError("Bad value for --query " + spec.query + ": " +
                         std::string(r.status().message()));
      }
      throw UsageError(std::string(r.status().message()));
    }
    result = *std::move(r);
  }
  if (spec.format == "text") {
    out << FormatText(result);
  } else if (spec.format == "table") {
    out << FormatTable(spec.title, result, spec.terminal_width);
  } else {
    out << FormatJson(result);
  }
}

}  // namespace minicloud::cli
