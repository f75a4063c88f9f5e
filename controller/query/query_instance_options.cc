// EC2 instance options that minicloud has fixed (controller/service/instance_options.h): the
// RunInstances parameters that ask for them, the DescribeInstanceAttribute attributes that
// report them, and DescribeInstanceCreditSpecifications. Terraform's AWS provider sends and
// reads all of these (tests/conformance/terraform_test.sh). The values and the refusal are the
// service header's; this file only carries them to and from the wire.

#include "controller/query/query_instance_options.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/query/action.h"
#include "controller/query/xml.h"
#include "controller/service/instance_options.h"
#include "controller/service/instance_types.h"

namespace minicloud::query {
namespace {

namespace ctl = controller;

absl::Status CheckBool(ParamNode* node, absl::string_view name, const char* param, bool fixed) {
  if (node == nullptr) return absl::OkStatus();
  MC_ASSIGN_OR_RETURN(std::optional<bool> v, node->Bool(name));
  if (!v) return absl::OkStatus();
  return ctl::CheckFixedFlag(param, *v, fixed);
}

// The instance (InvalidInstanceID.* as DescribeInstances answers), through the service.
absl::StatusOr<v1::Instance> FindInstance(Services& s, const std::string& id) {
  v1::DescribeInstancesRequest req;
  req.add_instance_ids(id);
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.DescribeInstances(req));
  for (const auto& r : resp.reservations()) {
    for (const auto& i : r.instances()) {
      if (i.instance_id() == id) return i;
    }
  }
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidInstanceID.NotFound",
                  absl::StrCat("The instance ID '", id, "' does not exist"));
}

bool Burstable(const std::string& instance_type) {
  auto t = ctl::FindInstanceType(instance_type);
  return t && t->burstable;
}

// --- DescribeInstanceCreditSpecifications ---------------------------------------------------
// InstanceId.N (all burstable instances when none), DryRun. Filter/MaxResults: not yet.
absl::StatusOr<v1::DescribeInstancesRequest> ParseCreditSpecifications(ParamNode& p, bool) {
  v1::DescribeInstancesRequest req;
  for (std::string& id : p.StringList("InstanceId")) req.add_instance_ids(std::move(id));
  return req;
}

absl::Status RunCreditSpecifications(Services& s, const v1::DescribeInstancesRequest& req,
                                     XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.DescribeInstances(req));
  XmlNode set = Child(out, "instanceCreditSpecificationSet");
  for (const auto& r : resp.reservations()) {
    for (const auto& i : r.instances()) {
      // EC2 lists burstable instances only, named or not.
      if (!Burstable(i.instance_type())) continue;
      XmlNode item = Item(set);
      Text(item, "instanceId", i.instance_id());
      Text(item, "cpuCredits", ctl::kCpuCredits);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseFixedInstanceOptions(ParamNode& p) {
  if (ParamNode* credits = p.Struct("CreditSpecification")) {
    if (auto v = credits->String("CpuCredits")) {
      MC_RETURN_IF_ERROR(
          ctl::CheckFixedOption("CreditSpecification.CpuCredits", *v, ctl::kCpuCredits));
    }
  }
  if (auto v = p.String("InstanceInitiatedShutdownBehavior")) {
    MC_RETURN_IF_ERROR(
        ctl::CheckFixedOption("InstanceInitiatedShutdownBehavior", *v, ctl::kShutdownBehavior));
  }
  MC_RETURN_IF_ERROR(
      CheckBool(&p, "DisableApiTermination", "DisableApiTermination", ctl::kDisableApiTermination));
  MC_RETURN_IF_ERROR(CheckBool(&p, "DisableApiStop", "DisableApiStop", ctl::kDisableApiStop));
  MC_RETURN_IF_ERROR(CheckBool(&p, "EbsOptimized", "EbsOptimized", ctl::kEbsOptimized));
  MC_RETURN_IF_ERROR(
      CheckBool(p.Struct("Monitoring"), "Enabled", "Monitoring.Enabled", ctl::kMonitoringEnabled));
  return absl::OkStatus();
}

bool IsFixedInstanceAttribute(absl::string_view attribute) {
  return attribute == "disableApiTermination" || attribute == "disableApiStop" ||
         attribute == "instanceInitiatedShutdownBehavior" || attribute == "ebsOptimized" ||
         attribute == "instanceType";
}

absl::Status WriteFixedInstanceAttribute(Services& s, const std::string& instance_id,
                                         absl::string_view attribute, XmlNode out) {
  MC_ASSIGN_OR_RETURN(v1::Instance instance, FindInstance(s, instance_id));
  Text(out, "instanceId", instance.instance_id());
  // Each answer is an AttributeValue / AttributeBooleanValue: <name><value>…</value></name>
  // (botocore's DescribeInstanceAttribute output shape, InstanceAttribute).
  if (attribute == "instanceType") {
    Text(Child(out, "instanceType"), "value", instance.instance_type());
  } else if (attribute == "instanceInitiatedShutdownBehavior") {
    Text(Child(out, "instanceInitiatedShutdownBehavior"), "value", ctl::kShutdownBehavior);
  } else if (attribute == "disableApiTermination") {
    Bool(Child(out, "disableApiTermination"), "value", ctl::kDisableApiTermination);
  } else if (attribute == "disableApiStop") {
    Bool(Child(out, "disableApiStop"), "value", ctl::kDisableApiStop);
  } else if (attribute == "ebsOptimized") {
    Bool(Child(out, "ebsOptimized"), "value", ctl::kEbsOptimized);
  }
  return absl::OkStatus();
}

void AddInstanceOptionActions(ActionTable& t) {
  t["DescribeInstanceCreditSpecifications"] =
      Bind<ParseCreditSpecifications, RunCreditSpecifications>();
}

}  // namespace minicloud::query
