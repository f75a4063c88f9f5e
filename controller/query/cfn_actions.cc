#include "controller/query/cfn_actions.h"

namespace minicloud::query {

absl::Status CfnValidationError(absl::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "ValidationError", message);
}

absl::StatusOr<std::string> CfnRequired(ParamNode& params, absl::string_view name) {
  std::optional<std::string> v = params.String(name);
  if (!v || v->empty()) {
    return CfnValidationError(absl::StrCat("The parameter ", name, " is required"));
  }
  return *std::move(v);
}

absl::StatusOr<bool> CfnBool(ParamNode& params, absl::string_view name) {
  auto v = params.Bool(name);
  if (!v.ok()) return CfnValidationError(v.status().message());
  return v->value_or(false);
}

absl::StatusOr<int32_t> CfnInt(ParamNode& params, absl::string_view name) {
  auto v = params.Int(name, -2147483647 - 1, 2147483647);
  if (!v.ok()) return CfnValidationError(v.status().message());
  return static_cast<int32_t>(v->value_or(0));
}

std::vector<ParamNode*> CfnMembers(ParamNode& params, absl::string_view name) {
  params.String(name);  // botocore sends an empty list as `Name=` (QuerySerializer)
  ParamNode* list = params.Struct(name);
  if (list == nullptr) return {};
  return list->List("member");
}

std::vector<std::string> CfnStringList(ParamNode& params, absl::string_view name) {
  params.String(name);  // an empty list
  ParamNode* list = params.Struct(name);
  if (list == nullptr) return {};
  return list->StringList("member");
}

absl::Status ParseTemplateSource(ParamNode& params, std::string* body) {
  if (params.String("TemplateURL")) {
    // minicloud has no S3 to keep templates in, and fetching an arbitrary URL from the
    // controller would let any caller make it reach hosts on its networks: refused, saying what
    // to send instead.
    return CfnValidationError(
        "TemplateURL is not supported by minicloud (there is no S3 to fetch the template from); "
        "send the template itself in TemplateBody, e.g. aws cloudformation create-stack "
        "--stack-name NAME --template-body file://template.yaml");
  }
  if (auto b = params.String("TemplateBody")) *body = *std::move(b);
  return absl::OkStatus();
}

const CfnActionTable& CloudFormationActions() {
  static const CfnActionTable* table = [] {
    auto* t = new CfnActionTable();
    AddStackActions(*t);
    AddResourceActions(*t);
    AddTemplateActions(*t);
    return t;
  }();
  return *table;
}

}  // namespace minicloud::query
