// Capacity verbs: describe-hosts, describe-availability-zones, describe-instance-types.
#include <memory>

#include "cli/render.h"
#include "cli/shorthand.h"
#include "cli/verb.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using Stub = ComputeApi::Stub;

void AddDescribeInstanceTypes(VerbRegistry& verbs) {
  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd =
      verbs.Add("describe-instance-types", "the instance-type catalog", [names](VerbContext& ctx) {
        v1::DescribeInstanceTypesRequest req;
        for (const auto& t : *names) req.add_instance_types(t);
        auto resp = ctx.api.Call("DescribeInstanceTypes", &Stub::DescribeInstanceTypes, req);
        json doc = {{"InstanceTypes", json::array()}};
        for (const auto& t : resp.instance_types()) {
          doc["InstanceTypes"].push_back(InstanceTypeJson(t));
        }
        Print(ctx, doc, "InstanceTypes",
              {"InstanceType", "VCpuInfo.DefaultVCpus", "MemoryInfo.SizeInMiB"});
        return 0;
      });
  cmd->add_option("--instance-types", *names);
}

void AddDescribeHosts(VerbRegistry& verbs) {
  auto ids = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd =
      verbs.Add("describe-hosts", "hosts, capacity and accelerator", [ids](VerbContext& ctx) {
        v1::DescribeHostsRequest req;
        for (const auto& h : *ids) req.add_host_ids(h);
        auto resp = ctx.api.Call("DescribeHosts", &Stub::DescribeHosts, req);
        json doc = {{"Hosts", json::array()}};
        for (const auto& h : resp.hosts()) doc["Hosts"].push_back(HostJson(h));
        Print(ctx, doc, "Hosts",
              {"HostId", "State", "AvailabilityZone", "Rack", "Accelerator", "Used.VCpus",
               "Used.MemoryMiB", "InstanceCount", "VolumeService.State"});
        return 0;
      });
  cmd->add_option("--host-ids", *ids);
}

void AddDescribeAvailabilityZones(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> names, filters;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("describe-availability-zones", "zones, racks and hosts", [f](VerbContext& ctx) {
        v1::DescribeAvailabilityZonesRequest req;
        for (const auto& z : f->names) req.add_zone_names(z);
        for (auto& filter : ParseFilters(f->filters)) *req.add_filters() = std::move(filter);
        auto resp =
            ctx.api.Call("DescribeAvailabilityZones", &Stub::DescribeAvailabilityZones, req);
        json doc = {{"AvailabilityZones", json::array()}};
        for (const auto& z : resp.availability_zones()) {
          doc["AvailabilityZones"].push_back(AvailabilityZoneJson(z));
        }
        Print(ctx, doc, "AvailabilityZones",
              {"ZoneName", "ZoneId", "RegionName", "State", "HostCount", "HostsUp",
               "VolumeService.State", "VolumeService.FreeBytes"});
        return 0;
      });
  cmd->add_option("--zone-names", f->names);
  cmd->add_option("--filters", f->filters, "Name=<name>,Values=<v1>,<v2>");
}

}  // namespace

void RegisterHostVerbs(VerbRegistry& verbs) {
  AddDescribeInstanceTypes(verbs);
  AddDescribeHosts(verbs);
  AddDescribeAvailabilityZones(verbs);
}

}  // namespace minicloud::cli
