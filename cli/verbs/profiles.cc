// Instance profile verbs: create-instance-profile, get-instance-profile, list-instance-profiles,
// delete-instance-profile (aws iam's names; the role and its allowed actions are given inline).
#include <google/protobuf/util/time_util.h>

#include <memory>

#include "absl/strings/str_split.h"
#include "cli/render.h"
#include "cli/shorthand.h"
#include "cli/verb.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using Stub = ComputeApi::Stub;

json ProfileJson(const v1::InstanceProfile& p) {
  json actions = json::array();
  for (const auto& a : p.allowed_actions()) actions.push_back(a);
  // IAM's InstanceProfile shape; the role's policy as minicloud keeps it (AllowedActions).
  return {{"Path", p.path()},
          {"InstanceProfileName", p.instance_profile_name()},
          {"InstanceProfileId", p.instance_profile_id()},
          {"Arn", p.arn()},
          {"CreateDate",
           Iso8601(google::protobuf::util::TimeUtil::MillisecondsToTimestamp(p.create_time_ms()))},
          {"Roles", json::array({{{"RoleName", p.role_name()}, {"AllowedActions", actions}}})}};
}

const std::vector<std::string> kProfileColumns = {"InstanceProfileName", "InstanceProfileId",
                                                  "Arn"};

void AddCreate(VerbRegistry& verbs) {
  struct Flags {
    v1::CreateInstanceProfileRequest req;
    std::vector<std::string> actions;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add(
      "create-instance-profile",
      "new instance profile: a role name and the EC2 actions its instances may call",
      [f](VerbContext& ctx) {
        v1::CreateInstanceProfileRequest req = f->req;
        for (const auto& arg : f->actions) {
          for (absl::string_view a : absl::StrSplit(arg, ',', absl::SkipWhitespace())) {
            req.add_allowed_actions(std::string(a));
          }
        }
        auto resp = ctx.api.Call("CreateInstanceProfile", &Stub::CreateInstanceProfile, req);
        Print(ctx, {{"InstanceProfile", ProfileJson(resp.instance_profile())}}, "", {});
        return 0;
      });
  cmd->add_option("--instance-profile-name", *f->req.mutable_instance_profile_name())->required();
  cmd->add_option("--role-name", *f->req.mutable_role_name(),
                  "the name under IMDS iam/security-credentials/ (default: the profile's name)");
  cmd->add_option("--allowed-actions", f->actions,
                  "EC2 actions, IAM syntax with * and ? wildcards: "
                  "ec2:DescribeTags,ec2:CreateTags or \"ec2:Describe*\" (repeatable)")
      ->required();
}

void AddGet(VerbRegistry& verbs) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd =
      verbs.Add("get-instance-profile", "show an instance profile", [name](VerbContext& ctx) {
        v1::GetInstanceProfileRequest req;
        req.set_instance_profile_name(*name);
        auto resp = ctx.api.Call("GetInstanceProfile", &Stub::GetInstanceProfile, req);
        Print(ctx, {{"InstanceProfile", ProfileJson(resp.instance_profile())}}, "", {});
        return 0;
      });
  cmd->add_option("--instance-profile-name", *name)->required();
}

void AddList(VerbRegistry& verbs) {
  verbs.Add("list-instance-profiles", "list instance profiles", [](VerbContext& ctx) {
    auto resp = ctx.api.Call("ListInstanceProfiles", &Stub::ListInstanceProfiles,
                             v1::ListInstanceProfilesRequest());
    json doc = {{"InstanceProfiles", json::array()}};
    for (const auto& p : resp.instance_profiles()) {
      doc["InstanceProfiles"].push_back(ProfileJson(p));
    }
    Print(ctx, doc, "InstanceProfiles", kProfileColumns);
    return 0;
  });
}

void AddDelete(VerbRegistry& verbs) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd =
      verbs.Add("delete-instance-profile", "delete an instance profile no instance uses",
                [name](VerbContext& ctx) {
                  v1::DeleteInstanceProfileRequest req;
                  req.set_instance_profile_name(*name);
                  ctx.api.Call("DeleteInstanceProfile", &Stub::DeleteInstanceProfile, req);
                  return 0;
                });
  cmd->add_option("--instance-profile-name", *name)->required();
}

}  // namespace

void RegisterInstanceProfileVerbs(VerbRegistry& verbs) {
  AddCreate(verbs);
  AddGet(verbs);
  AddList(verbs);
  AddDelete(verbs);
}

}  // namespace minicloud::cli
