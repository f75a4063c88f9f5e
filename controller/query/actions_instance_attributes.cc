// ModifyInstanceAttribute, DescribeInstanceAttribute (the userData attribute, the one the
// services keep) and ModifyInstanceMetadataOptions.
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/query/action.h"
#include "controller/query/instance_xml.h"
#include "controller/query/query_instance_options.h"
#include "controller/query/xml.h"

namespace minicloud::query {
namespace {

constexpr char kBadUserData[] = "Invalid BASE64 encoding of user data";

// Two forms: `UserData.Value=<base64>` (the typed attribute botocore sends for --user-data), and
// `Attribute=userData&Value=<base64>`.
absl::StatusOr<v1::ModifyInstanceAttributeRequest> ParseModifyInstanceAttribute(ParamNode& p,
                                                                                bool dry_run) {
  v1::ModifyInstanceAttributeRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string id, Required(p, "InstanceId"));
  req.set_instance_id(id);
  if (ParamNode* user_data = p.Struct("UserData")) {
    MC_ASSIGN_OR_RETURN(std::string raw,
                        DecodeBase64(user_data->String("Value").value_or(""), kBadUserData));
    req.set_set_user_data(true);
    req.set_user_data(std::move(raw));
  }
  if (auto attribute = p.String("Attribute")) {
    if (*attribute != "userData") {
      return Ec2Error(absl::StatusCode::kInvalidArgument, "UnsupportedOperation",
                      absl::StrCat("minicloud modifies only the userData attribute, not ",
                                   QuoteForMessage(*attribute, 64)));
    }
    MC_ASSIGN_OR_RETURN(std::string raw,
                        DecodeBase64(p.String("Value").value_or(""), kBadUserData));
    req.set_set_user_data(true);
    req.set_user_data(std::move(raw));
  }
  return req;
}

absl::Status RunModifyInstanceAttribute(Services& s, const v1::ModifyInstanceAttributeRequest& req,
                                        XmlNode out) {
  MC_RETURN_IF_ERROR(s.compute.ModifyInstanceAttribute(req).status());
  Bool(out, "return", true);
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeInstanceAttributeRequest> ParseDescribeInstanceAttribute(ParamNode& p,
                                                                                    bool) {
  v1::DescribeInstanceAttributeRequest req;
  MC_ASSIGN_OR_RETURN(std::string id, Required(p, "InstanceId"));
  MC_ASSIGN_OR_RETURN(std::string attribute, Required(p, "Attribute"));
  req.set_instance_id(id);
  req.set_attribute(attribute);
  return req;
}

absl::Status RunDescribeInstanceAttribute(Services& s,
                                          const v1::DescribeInstanceAttributeRequest& req,
                                          XmlNode out) {
  if (IsFixedInstanceAttribute(req.attribute())) {  // query_instance_options.cc
    return WriteFixedInstanceAttribute(s, req.instance_id(), req.attribute(), out);
  }
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.DescribeInstanceAttribute(req));
  Text(out, "instanceId", resp.instance_id());
  XmlNode user_data = Child(out, "userData");
  if (resp.has_user_data()) Text(user_data, "value", absl::Base64Escape(resp.user_data()));
  return absl::OkStatus();
}

absl::StatusOr<v1::ModifyInstanceMetadataOptionsRequest> ParseModifyInstanceMetadataOptions(
    ParamNode& p, bool dry_run) {
  v1::ModifyInstanceMetadataOptionsRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string id, Required(p, "InstanceId"));
  req.set_instance_id(id);
  MC_RETURN_IF_ERROR(ParseMetadataOptions(p, req.mutable_options()));
  return req;
}

absl::Status RunModifyInstanceMetadataOptions(Services& s,
                                              const v1::ModifyInstanceMetadataOptionsRequest& req,
                                              XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.ModifyInstanceMetadataOptions(req));
  Text(out, "instanceId", resp.instance_id());
  WriteMetadataOptions(Child(out, "instanceMetadataOptions"), resp.instance_metadata_options());
  return absl::OkStatus();
}

}  // namespace

void AddInstanceAttributeActions(ActionTable& t) {
  t["ModifyInstanceAttribute"] = Bind<ParseModifyInstanceAttribute, RunModifyInstanceAttribute>();
  t["DescribeInstanceAttribute"] =
      Bind<ParseDescribeInstanceAttribute, RunDescribeInstanceAttribute>();
  t["ModifyInstanceMetadataOptions"] =
      Bind<ParseModifyInstanceMetadataOptions, RunModifyInstanceMetadataOptions>();
}

}  // namespace minicloud::query
