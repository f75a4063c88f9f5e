// ValidateTemplate: the template engine's verdict through StackApi::ValidateTemplate.
#include "common/status_macros.h"
#include "controller/query/cfn_actions.h"

namespace minicloud::query {
namespace {

absl::StatusOr<v1::ValidateTemplateRequest> ParseValidateTemplate(ParamNode& params) {
  v1::ValidateTemplateRequest req;
  MC_RETURN_IF_ERROR(ParseTemplateSource(params, req.mutable_template_body()));
  return req;
}

// botocore's ValidateTemplateOutput: Parameters (TemplateParameter members), Description,
// Capabilities, DeclaredTransforms (minicloud supports no transform: always empty). A NoEcho
// parameter's default comes already hidden from StackApi.
absl::Status RunValidateTemplate(controller::StackApi& stacks, const controller::StackCaller&,
                                 const v1::ValidateTemplateRequest& req, Shape& result) {
  MC_ASSIGN_OR_RETURN(const v1::ValidateTemplateResponse r, stacks.ValidateTemplate(req));
  Shape& list = result.List("Parameters");
  for (const v1::TemplateParameter& p : r.parameters()) {
    Shape& m = list.AddMember();
    m.String("ParameterKey", p.parameter_key());
    m.StringIfSet("DefaultValue", p.default_value());
    m.Bool("NoEcho", p.no_echo());
    m.StringIfSet("Description", p.description());
  }
  result.StringIfSet("Description", r.description());
  Shape& caps = result.List("Capabilities");
  for (const std::string& c : r.capabilities()) caps.AddString(c);
  result.List("DeclaredTransforms");
  return absl::OkStatus();
}

}  // namespace

void AddTemplateActions(CfnActionTable& t) {
  t["ValidateTemplate"] = {&CfnBound<ParseValidateTemplate, RunValidateTemplate>};
}

}  // namespace minicloud::query
