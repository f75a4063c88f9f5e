#pragma once

// The CloudFormation Query actions (API version 2010-05-15): one table, used by the account
// endpoint on the Query server (cloudformation_query.cc) and by the guest endpoint
// (guest_cloudformation.cc). Each action parses its parameters into the public API's request
// (proto/minicloud/v1/cloudformation.proto), refuses parameters it did not read, calls StackApi
// with the caller it is given, and writes the answer as a Shape (cfn_shape.h) that the endpoint
// renders as XML or JSON. No stack rule lives here: StackApi decides, validates and refuses.
//
// Wire shapes after botocore's cloudformation service model
// (botocore/data/cloudformation/2010-05-15/service-2.json).

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ids.h"
#include "controller/query/cfn_shape.h"
#include "controller/query/params.h"
#include "controller/service/stack_api.h"

namespace minicloud::query {

struct CfnContext {
  controller::StackApi& stacks;
  const controller::StackCaller& caller;
  Params& params;
  Shape& result;  // <{Action}Result>
};

struct CfnAction {
  absl::Status (*fn)(CfnContext&) = nullptr;
  // The action's output has a Result wrapper (botocore: "resultWrapper"); DeleteStack and
  // SignalResource have none.
  bool has_result = true;
  // A guest may call it through its host (StackApi's contract: DescribeStackResource(s),
  // SignalResource).
  bool guest = false;
};

using CfnActionTable = absl::flat_hash_map<std::string, CfnAction>;

// Every CloudFormation action, by name (built once).
const CfnActionTable& CloudFormationActions();

// ValidationError, CloudFormation's code for every malformed request.
absl::Status CfnValidationError(absl::string_view message);

// Parameter readers with CloudFormation's errors (ValidationError naming the parameter).
absl::StatusOr<std::string> CfnRequired(ParamNode& params, absl::string_view name);
absl::StatusOr<bool> CfnBool(ParamNode& params, absl::string_view name);
absl::StatusOr<int32_t> CfnInt(ParamNode& params, absl::string_view name);
// `Name.member.N` strings (Capabilities, RetainResources).
std::vector<std::string> CfnStringList(ParamNode& params, absl::string_view name);
// `Name.member.N` structures, in index order.
std::vector<ParamNode*> CfnMembers(ParamNode& params, absl::string_view name);
// TemplateBody into `body`; TemplateURL refused (minicloud fetches no template from a URL).
absl::Status ParseTemplateSource(ParamNode& params, std::string* body);

// UnknownParameter for the first parameter nothing read (the EC2 dispatcher's rule).
template <auto Parse, auto Run>
absl::Status CfnBound(CfnContext& ctx) {
  auto req = Parse(ctx.params.root());
  if (!req.ok()) return req.status();
  if (auto name = ctx.params.UnusedParameter()) {
    return Ec2Error(
        absl::StatusCode::kInvalidArgument, "UnknownParameter",
        absl::StrCat("The parameter ", QuoteForMessage(*name, 128), " is not recognized"));
  }
  return Run(ctx.stacks, ctx.caller, *req, ctx.result);
}

// Each topic adds its actions.
void AddStackActions(CfnActionTable& table);     // cfn_actions_stacks.cc
void AddResourceActions(CfnActionTable& table);  // cfn_actions_resources.cc
void AddTemplateActions(CfnActionTable& table);  // cfn_actions_template.cc

}  // namespace minicloud::query
