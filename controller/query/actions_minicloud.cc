// minicloud's own actions (not in EC2), with the same protocol and error handling:
// DescribeHosts (the fleet), DescribePlacement (what RunInstances would decide, and why) and
// DescribeUserDataVerdict (did cloud-init finish, did the user data fail; ComputeService decides).
// Response elements follow EC2's conventions (lowerCamel names, `…Set/item` lists).
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/query/action.h"
#include "controller/query/xml.h"

namespace minicloud::query {
namespace {

void WriteCapacity(XmlNode node, const v1::Capacity& c) {
  Int(node, "vcpus", c.vcpus());
  Int(node, "memoryMiB", c.memory_mib());
  Int(node, "instanceStoreGB", c.instance_store_gb());
}

absl::StatusOr<v1::DescribeHostsRequest> ParseDescribeHosts(ParamNode& p, bool) {
  v1::DescribeHostsRequest req;
  for (std::string& id : p.StringList("HostId")) req.add_host_ids(std::move(id));
  return req;
}

absl::Status RunDescribeHosts(Services& s, const v1::DescribeHostsRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.DescribeHosts(req));
  XmlNode set = Child(out, "hostSet");
  for (const v1::Host& h : resp.hosts()) {
    XmlNode item = Item(set);
    Text(item, "hostId", h.host_id());
    Text(item, "hostname", h.hostname());
    Text(item, "state", h.state());
    Text(item, "regionName", h.topology().region());
    Text(item, "availabilityZone", h.topology().availability_zone());
    Text(item, "rack", h.topology().rack());
    WriteCapacity(Child(item, "capacity"), h.capacity());
    WriteCapacity(Child(item, "allocatable"), h.allocatable());
    WriteCapacity(Child(item, "used"), h.used());
    Int(item, "instanceCount", h.instance_count());
    Text(item, "accelerator",
         h.accelerator() == v1::ACCELERATOR_KVM   ? "kvm"
         : h.accelerator() == v1::ACCELERATOR_TCG ? "tcg"
                                                  : "");
    TextIfSet(item, "acceleratorReason", h.accelerator_reason());
    if (h.has_last_heartbeat()) Time(item, "lastHeartbeat", h.last_heartbeat());
    TextIfSet(item, "endpoint", h.endpoint());
  }
  return absl::OkStatus();
}

absl::Status RunDescribePlacement(Services& s, const v1::RunInstancesRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.DescribePlacement(req));
  Bool(out, "wouldSucceed", resp.would_succeed());
  TextIfSet(out, "errorCode", resp.error_code());
  Text(out, "explanation", resp.explanation());
  return absl::OkStatus();
}

struct UserDataVerdictRequest {
  std::vector<std::string> instance_ids;
};

absl::StatusOr<UserDataVerdictRequest> ParseDescribeUserDataVerdict(ParamNode& p, bool) {
  return UserDataVerdictRequest{p.StringList("InstanceId")};
}

void Lines(XmlNode item, const char* set_name, const std::vector<std::string>& lines) {
  XmlNode set = Child(item, set_name);
  for (const std::string& line : lines) Text(Item(set), "line", line);
}

absl::Status RunDescribeUserDataVerdict(Services& s, const UserDataVerdictRequest& req,
                                        XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto verdicts, s.compute.DescribeUserDataVerdict(req.instance_ids));
  XmlNode set = Child(out, "verdictSet");
  for (const controller::UserDataVerdict& v : verdicts) {
    XmlNode item = Item(set);
    Text(item, "instanceId", v.instance_id);
    Text(item, "status", v.status);
    Bool(item, "hasUserData", v.has_user_data);
    Bool(item, "cloudInitFinished", v.boot.cloud_init_finished);
    if (v.boot.user_data_exit_status) Int(item, "exitStatus", *v.boot.user_data_exit_status);
    TextIfSet(item, "datasource", v.boot.datasource);
    Lines(item, "failureSet", v.boot.failures);
    Lines(item, "outputSet", v.boot.output);
    TextIfSet(item, "message", v.message);
  }
  return absl::OkStatus();
}

}  // namespace

void AddMinicloudActions(ActionTable& t) {
  t["DescribeHosts"] = Bind<ParseDescribeHosts, RunDescribeHosts>();
  t["DescribePlacement"] = Bind<ParseRunInstances, RunDescribePlacement>();
  t["DescribeUserDataVerdict"] = Bind<ParseDescribeUserDataVerdict, RunDescribeUserDataVerdict>();
}

}  // namespace minicloud::query
