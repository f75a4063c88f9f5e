// The `cloudformation` service word and its verbs, as `aws cloudformation` names them:
// create-stack, update-stack, delete-stack, describe-stacks, describe-stack-events,
// describe-stack-resource, describe-stack-resources, signal-resource, validate-template, wait.
//
// Why a service word in a CLI whose EC2 verbs are flat: the EC2 verbs drop `aws ec2` because
// EC2 is what minicloud is; CloudFormation is another aws service, and keeping its word keeps
// `aws cloudformation …` lines working by swapping the program name, keeps the service's own
// `wait` (stack waiters) apart from the EC2 `wait` (instance waiters), and leaves every EC2 verb
// as it was.
#include <memory>

#include "absl/strings/str_join.h"
#include "cli/render_cfn.h"
#include "cli/shorthand.h"
#include "cli/shorthand_parser.h"
#include "cli/verb.h"
#include "cli/verbs/stack_wait.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using CfnStub = ComputeApi::CfnStub;

// A value of a shorthand or JSON structure as text (a shorthand list "a,b" comes back as a list:
// CommaDelimitedList parameters take it joined again).
std::string TextOf(const json& v, const std::string& flag, const std::string& member) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  if (v.is_array()) {
    std::vector<std::string> parts;
    for (const auto& el : v) parts.push_back(TextOf(el, flag, member));
    return absl::StrJoin(parts, ",");
  }
  throw UsageError("Error parsing parameter '" + flag + "': " + member + " must be a string");
}

// --parameters ParameterKey=K,ParameterValue=V [ParameterKey=K2,UsePreviousValue=true …] or JSON.
std::vector<v1::StackParameter> ParseParameters(const std::vector<std::string>& args) {
  std::vector<v1::StackParameter> out;
  for (const json& p : ParseStructureList(args, "--parameters")) {
    v1::StackParameter param;
    for (const auto& [k, v] : p.items()) {
      if (k == "ParameterKey") {
        param.set_key(TextOf(v, "--parameters", k));
      } else if (k == "ParameterValue") {
        param.set_value(TextOf(v, "--parameters", k));
      } else if (k == "UsePreviousValue") {
        const std::string b = TextOf(v, "--parameters", k);
        if (b != "true" && b != "false") {
          throw UsageError(
              "Error parsing parameter '--parameters': UsePreviousValue must be "
              "true or false, got '" +
              b + "'");
        }
        param.set_use_previous_value(b == "true");
      } else if (k != "ResolvedValue") {
        throw UsageError("Parameter validation failed:\nUnknown parameter in Parameters: \"" + k +
                         "\", must be one of: ParameterKey, ParameterValue, UsePreviousValue, "
                         "ResolvedValue");
      }
    }
    if (param.key().empty()) {
      throw UsageError(
          "Parameter validation failed:\nMissing required parameter in Parameters: "
          "\"ParameterKey\"");
    }
    out.push_back(param);
  }
  return out;
}

// --tags Key=k,Value=v [Key=k2,Value=v2 …] or JSON.
std::vector<v1::Tag> ParseStackTags(const std::vector<std::string>& args) {
  std::vector<v1::Tag> out;
  for (const json& t : ParseStructureList(args, "--tags")) {
    v1::Tag tag;
    for (const auto& [k, v] : t.items()) {
      if (k == "Key") {
        tag.set_key(TextOf(v, "--tags", k));
      } else if (k == "Value") {
        tag.set_value(TextOf(v, "--tags", k));
      } else {
        throw UsageError("Parameter validation failed:\nUnknown parameter in Tags: \"" + k +
                         "\", must be one of: Key, Value");
      }
    }
    out.push_back(tag);
  }
  return out;
}

// A waiting verb prints its verdict for people unless JSON is asked for by name.
bool JsonAskedFor(const VerbContext& ctx) {
  return ctx.globals.output_given && ctx.globals.output == "json";
}

void AddCreateStack(VerbRegistry& verbs) {
  struct Flags {
    v1::CreateStackRequest req;
    std::string template_body;
    std::vector<std::string> parameters, tags, capabilities;
    bool disable_rollback = false, wait = false;
    int timeout_in_minutes = 0;
    double wait_timeout = 3600;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("create-stack", "create a stack from a template", [f](VerbContext& ctx) {
        v1::CreateStackRequest req = f->req;
        req.set_template_body(ReadBlobArg(f->template_body, "--template-body"));
        for (auto& p : ParseParameters(f->parameters)) *req.add_parameters() = std::move(p);
        for (auto& t : ParseStackTags(f->tags)) *req.add_tags() = std::move(t);
        for (const auto& c : f->capabilities) req.add_capabilities(c);
        auto resp = ctx.api.Call("CreateStack", &CfnStub::CreateStack, req);
        if (!f->wait) {
          Print(ctx, {{"StackId", resp.stack_id()}});
          return 0;
        }
        return FollowStack(ctx, resp.stack_id().empty() ? req.stack_name() : resp.stack_id(),
                           /*update=*/false, {}, f->wait_timeout, JsonAskedFor(ctx));
      });
  cmd->add_option("--stack-name", *f->req.mutable_stack_name())->required();
  cmd->add_option("--template-body", f->template_body, "YAML or JSON; file://t.yaml")->required();
  cmd->add_option("--parameters", f->parameters,
                  "ParameterKey=K,ParameterValue=V (repeatable; or JSON)");
  cmd->add_flag("--disable-rollback", f->disable_rollback,
                "keep what was created when the stack fails");
  cmd->add_option("--on-failure", *f->req.mutable_on_failure(), "DO_NOTHING | ROLLBACK | DELETE")
      ->check(CLI::IsMember({"DO_NOTHING", "ROLLBACK", "DELETE"}));
  cmd->add_option("--timeout-in-minutes", f->timeout_in_minutes);
  cmd->add_option("--capabilities", f->capabilities, "CAPABILITY_IAM …");
  cmd->add_option("--tags", f->tags, "Key=k,Value=v (repeatable; or JSON)");
  cmd->add_option("--client-request-token", *f->req.mutable_client_request_token());
  cmd->add_flag("--wait", f->wait,
                "follow the stack: print its events as they come, then the verdict (each "
                "instance's cfn-init step that failed, its output, the signals); exit 1 if the "
                "stack did not reach CREATE_COMPLETE, 255 on timeout");
  cmd->add_option("--wait-timeout", f->wait_timeout, "seconds")->capture_default_str();
}

void AddUpdateStack(VerbRegistry& verbs) {
  struct Flags {
    v1::UpdateStackRequest req;
    std::string template_body;
    std::vector<std::string> parameters, tags, capabilities;
    bool use_previous_template = false, disable_rollback = false, wait = false;
    double wait_timeout = 3600;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("update-stack", "change a stack's template or parameters", [f](VerbContext& ctx) {
        v1::UpdateStackRequest req = f->req;
        req.set_use_previous_template(f->use_previous_template);
        req.set_disable_rollback(f->disable_rollback);
        if (!f->template_body.empty()) {
          req.set_template_body(ReadBlobArg(f->template_body, "--template-body"));
        }
        for (auto& p : ParseParameters(f->parameters)) *req.add_parameters() = std::move(p);
        for (auto& t : ParseStackTags(f->tags)) *req.add_tags() = std::move(t);
        for (const auto& c : f->capabilities) req.add_capabilities(c);
        std::set<std::string> seen;
        if (f->wait) seen = StackEventIds(ctx, req.stack_name());
        auto resp = ctx.api.Call("UpdateStack", &CfnStub::UpdateStack, req);
        if (!f->wait) {
          Print(ctx, {{"StackId", resp.stack_id()}});
          return 0;
        }
        return FollowStack(ctx, resp.stack_id().empty() ? req.stack_name() : resp.stack_id(),
                           /*update=*/true, std::move(seen), f->wait_timeout, JsonAskedFor(ctx));
      });
  cmd->add_option("--stack-name", *f->req.mutable_stack_name())->required();
  cmd->add_option("--template-body", f->template_body, "YAML or JSON; file://t.yaml");
  cmd->add_flag("--use-previous-template", f->use_previous_template);
  cmd->add_option("--parameters", f->parameters,
                  "ParameterKey=K,ParameterValue=V or ParameterKey=K,UsePreviousValue=true");
  cmd->add_option("--capabilities", f->capabilities);
  cmd->add_option("--tags", f->tags, "Key=k,Value=v (repeatable; or JSON)");
  cmd->add_flag("--disable-rollback", f->disable_rollback);
  cmd->add_option("--client-request-token", *f->req.mutable_client_request_token());
  cmd->add_flag("--wait", f->wait,
                "follow the update and print the verdict; exit 1 unless UPDATE_COMPLETE, 255 on "
                "timeout");
  cmd->add_option("--wait-timeout", f->wait_timeout, "seconds")->capture_default_str();
}

void AddDeleteStack(VerbRegistry& verbs) {
  struct Flags {
    v1::DeleteStackRequest req;
    std::vector<std::string> retain;
    bool wait = false;
    double wait_timeout = 3600;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("delete-stack", "delete a stack and its resources", [f](VerbContext& ctx) {
        v1::DeleteStackRequest req = f->req;
        for (const auto& r : f->retain) req.add_retain_resources(r);
        // Followed by its id: a deleted stack is no longer found by name.
        std::string stack = req.stack_name();
        if (f->wait) {
          v1::DescribeStacksRequest d;
          d.set_stack_name(stack);
          try {
            auto resp = ctx.api.Call("DescribeStacks", &CfnStub::DescribeStacks, d);
            if (resp.stacks_size() > 0 && !resp.stacks(0).stack_id().empty()) {
              stack = resp.stacks(0).stack_id();
            }
          } catch (const ServiceError& e) {
            if (e.code != "ValidationError") throw;
          }
        }
        ctx.api.Call("DeleteStack", &CfnStub::DeleteStack, req);
        if (!f->wait) return 0;
        return RunStackWaiter(ctx, "StackDeleteComplete", stack, f->wait_timeout,
                              /*progress=*/true);
      });
  cmd->add_option("--stack-name", *f->req.mutable_stack_name())->required();
  cmd->add_option("--retain-resources", f->retain);
  cmd->add_option("--client-request-token", *f->req.mutable_client_request_token());
  cmd->add_flag("--wait", f->wait, "print the events until DELETE_COMPLETE (255 if it fails)");
  cmd->add_option("--wait-timeout", f->wait_timeout, "seconds")->capture_default_str();
}

void AddDescribeStacks(VerbRegistry& verbs) {
  struct Flags {
    std::string stack;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("describe-stacks", "stacks and their status", [f](VerbContext& ctx) {
    json doc = {{"Stacks", json::array()}};
    std::string token;
    do {  // every page, as the aws CLI's paginator
      v1::DescribeStacksRequest req;
      req.set_stack_name(f->stack);
      req.set_next_token(token);
      auto resp = ctx.api.Call("DescribeStacks", &CfnStub::DescribeStacks, req);
      for (const auto& s : resp.stacks()) doc["Stacks"].push_back(StackJson(s));
      token = resp.next_token();
    } while (!token.empty());
    Print(ctx, doc);
    return 0;
  });
  cmd->add_option("--stack-name", f->stack, "name or stack id (default: every stack)");
}

void AddDescribeStackEvents(VerbRegistry& verbs) {
  struct Flags {
    std::string stack;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("describe-stack-events", "a stack's events, newest first", [f](VerbContext& ctx) {
        json doc = {{"StackEvents", json::array()}};
        std::string token;
        do {
          v1::DescribeStackEventsRequest req;
          req.set_stack_name(f->stack);
          req.set_next_token(token);
          auto resp = ctx.api.Call("DescribeStackEvents", &CfnStub::DescribeStackEvents, req);
          for (const auto& e : resp.stack_events()) {
            doc["StackEvents"].push_back(StackEventJson(e));
          }
          token = resp.next_token();
        } while (!token.empty());
        Print(ctx, doc);
        return 0;
      });
  cmd->add_option("--stack-name", f->stack)->required();
}

void AddDescribeStackResource(VerbRegistry& verbs) {
  auto req = std::make_shared<v1::DescribeStackResourceRequest>();
  CLI::App* cmd = verbs.Add(
      "describe-stack-resource", "one resource of a stack, with metadata", [req](VerbContext& ctx) {
        auto resp = ctx.api.Call("DescribeStackResource", &CfnStub::DescribeStackResource, *req);
        Print(ctx,
              {{"StackResourceDetail", StackResourceDetailJson(resp.stack_resource_detail())}});
        return 0;
      });
  cmd->add_option("--stack-name", *req->mutable_stack_name())->required();
  cmd->add_option("--logical-resource-id", *req->mutable_logical_resource_id())->required();
}

void AddDescribeStackResources(VerbRegistry& verbs) {
  auto req = std::make_shared<v1::DescribeStackResourcesRequest>();
  CLI::App* cmd =
      verbs.Add("describe-stack-resources", "the resources of a stack", [req](VerbContext& ctx) {
        if (req->stack_name().empty() && req->physical_resource_id().empty()) {
          throw UsageError("Error: --stack-name or --physical-resource-id is required");
        }
        auto resp = ctx.api.Call("DescribeStackResources", &CfnStub::DescribeStackResources, *req);
        json doc = {{"StackResources", json::array()}};
        for (const auto& r : resp.stack_resources()) {
          doc["StackResources"].push_back(StackResourceJson(r));
        }
        Print(ctx, doc);
        return 0;
      });
  cmd->add_option("--stack-name", *req->mutable_stack_name());
  cmd->add_option("--logical-resource-id", *req->mutable_logical_resource_id());
  cmd->add_option("--physical-resource-id", *req->mutable_physical_resource_id());
}

void AddSignalResource(VerbRegistry& verbs) {
  auto req = std::make_shared<v1::SignalResourceRequest>();
  CLI::App* cmd = verbs.Add("signal-resource", "send a success or failure signal to a resource",
                            [req](VerbContext& ctx) {
                              ctx.api.Call("SignalResource", &CfnStub::SignalResource, *req);
                              return 0;
                            });
  cmd->add_option("--stack-name", *req->mutable_stack_name())->required();
  cmd->add_option("--logical-resource-id", *req->mutable_logical_resource_id())->required();
  cmd->add_option("--unique-id", *req->mutable_unique_id())->required();
  cmd->add_option("--status", *req->mutable_status(), "SUCCESS | FAILURE")
      ->required()
      ->check(CLI::IsMember({"SUCCESS", "FAILURE"}));
  cmd->add_option("--reason", *req->mutable_reason(),
                  "minicloud's addition: a reason the stack's events show");
}

void AddValidateTemplate(VerbRegistry& verbs) {
  auto body = std::make_shared<std::string>();
  CLI::App* cmd =
      verbs.Add("validate-template", "check a template; its parameters", [body](VerbContext& ctx) {
        v1::ValidateTemplateRequest req;
        req.set_template_body(ReadBlobArg(*body, "--template-body"));
        auto resp = ctx.api.Call("ValidateTemplate", &CfnStub::ValidateTemplate, req);
        Print(ctx, ValidateTemplateJson(resp));
        return 0;
      });
  cmd->add_option("--template-body", *body, "YAML or JSON; file://t.yaml")->required();
}

void AddWait(VerbRegistry& verbs) {
  struct Flags {
    std::string waiter, stack;
    double timeout = 3600;  // botocore: 120 attempts 30 s apart
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("wait", "wait until a stack reaches a state", [f](VerbContext& ctx) {
    const std::string name = f->waiter == "stack-create-complete"   ? "StackCreateComplete"
                             : f->waiter == "stack-update-complete" ? "StackUpdateComplete"
                                                                    : "StackDeleteComplete";
    return RunStackWaiter(ctx, name, f->stack, f->timeout, /*progress=*/false);
  });
  cmd->add_option("waiter", f->waiter,
                  "stack-create-complete | stack-update-complete | stack-delete-complete")
      ->required()
      ->check(CLI::IsMember(
          {"stack-create-complete", "stack-update-complete", "stack-delete-complete"}));
  cmd->add_option("--stack-name", f->stack)->required();
  cmd->add_option("--timeout", f->timeout, "seconds, then give up (exit 255)")
      ->capture_default_str();
}

}  // namespace

void RegisterCloudFormationVerbs(VerbRegistry& verbs) {
  VerbRegistry cfn =
      verbs.Group("cloudformation", "CloudFormation stacks: the verbs of `aws cloudformation`");
  AddCreateStack(cfn);
  AddUpdateStack(cfn);
  AddDeleteStack(cfn);
  AddDescribeStacks(cfn);
  AddDescribeStackEvents(cfn);
  AddDescribeStackResource(cfn);
  AddDescribeStackResources(cfn);
  AddSignalResource(cfn);
  AddValidateTemplate(cfn);
  AddWait(cfn);
}

}  // namespace minicloud::cli
