// EBS volume verbs: create-volume, describe-volumes, delete-volume, modify-volume,
// describe-volumes-modifications, attach-volume, detach-volume, with the aws CLI's flags and JSON
// (botocore `Volume`, `VolumeModification`).
#include <memory>
#include <optional>

#include "cli/render.h"
#include "cli/shorthand.h"
#include "cli/verb.h"
#include "cli/verbs/paging.h"
#include "common/ec2_names.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using Stub = ComputeApi::Stub;

// botocore's VolumeAttachment (describe-volumes' Attachments, attach-/detach-volume's answer).
json AttachmentJson(const v1::VolumeAttachment& a) {
  return {{"AttachTime", Iso8601(a.attach_time())},
          {"Device", a.device()},
          {"InstanceId", a.instance_id()},
          {"State", std::string(AttachmentStateName(a.state()))},
          {"VolumeId", a.volume_id()},
          {"DeleteOnTermination", a.delete_on_termination()}};
}

json VolumeJson(const v1::Volume& v) {
  json attachments = json::array();
  for (const auto& a : v.attachments()) attachments.push_back(AttachmentJson(a));
  json doc = {{"Attachments", attachments},
              {"AvailabilityZone", v.availability_zone()},
              {"CreateTime", Iso8601(v.create_time())},
              {"Encrypted", v.encrypted()},
              {"Size", v.size()},
              {"SnapshotId", v.snapshot_id()},
              {"State", std::string(VolumeStateName(v.state()))},
              {"VolumeId", v.volume_id()},
              {"VolumeType", v.volume_type()},
              {"MultiAttachEnabled", v.multi_attach_enabled()}};
  if (v.iops() > 0) doc["Iops"] = v.iops();
  if (v.throughput() > 0) doc["Throughput"] = v.throughput();
  if (!v.kms_key_id().empty()) doc["KmsKeyId"] = v.kms_key_id();
  if (!v.tags().empty()) doc["Tags"] = TagsJson(v.tags());
  return doc;
}

json ModificationJson(const v1::VolumeModification& m) {
  json doc = {{"VolumeId", m.volume_id()},
              {"ModificationState", std::string(ModificationStateName(m.state()))},
              {"TargetSize", m.target_size()},
              {"TargetVolumeType", m.target_volume_type()},
              {"TargetMultiAttachEnabled", m.target_multi_attach_enabled()},
              {"OriginalSize", m.original_size()},
              {"OriginalVolumeType", m.original_volume_type()},
              {"OriginalMultiAttachEnabled", m.original_multi_attach_enabled()},
              {"Progress", m.progress()},
              {"StartTime", Iso8601(m.start_time())}};
  if (m.has_end_time()) doc["EndTime"] = Iso8601(m.end_time());
  if (!m.status_message().empty()) doc["StatusMessage"] = m.status_message();
  if (m.target_iops() > 0) doc["TargetIops"] = m.target_iops();
  if (m.original_iops() > 0) doc["OriginalIops"] = m.original_iops();
  if (m.target_throughput() > 0) doc["TargetThroughput"] = m.target_throughput();
  if (m.original_throughput() > 0) doc["OriginalThroughput"] = m.original_throughput();
  return doc;
}

void AddCreateVolume(VerbRegistry& verbs) {
  struct Flags {
    v1::CreateVolumeRequest req;
    std::optional<int64_t> size;
    std::optional<int> iops, throughput;
    std::vector<std::string> tag_specifications;
    bool multi_attach = false, encrypted = false, dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("create-volume", "new EBS volume in an availability zone", [f](VerbContext& ctx) {
        v1::CreateVolumeRequest req = f->req;
        if (f->size) req.set_size(*f->size);
        if (f->iops) req.set_iops(*f->iops);
        if (f->throughput) req.set_throughput(*f->throughput);
        req.set_multi_attach_enabled(f->multi_attach);
        req.set_encrypted(f->encrypted);
        req.set_dry_run(f->dry_run);
        for (const auto& t :
             TagsFor(ParseTagSpecifications(f->tag_specifications), "volume", "CreateVolume")) {
          *req.add_tags() = t;
        }
        auto v = ctx.api.Call("CreateVolume", &Stub::CreateVolume, req);
        Print(ctx, VolumeJson(v));
        return 0;
      });
  cmd->add_option("--availability-zone", *f->req.mutable_availability_zone())->required();
  cmd->add_option("--size", f->size, "GiB");
  cmd->add_option("--volume-type", *f->req.mutable_volume_type(),
                  "gp2 (default) | gp3 | io1 | io2 | st1 | sc1 | standard");
  cmd->add_option("--iops", f->iops, "gp3, io1, io2");
  cmd->add_option("--throughput", f->throughput, "gp3, MiB/s");
  cmd->add_option("--snapshot-id", *f->req.mutable_snapshot_id());
  cmd->add_option("--client-token", *f->req.mutable_client_token());
  cmd->add_flag("--multi-attach-enabled", f->multi_attach, "io1 and io2 only");
  cmd->add_flag("--encrypted", f->encrypted);
  cmd->add_option("--kms-key-id", *f->req.mutable_kms_key_id(),
                  "with --encrypted; only the default key (alias/aws/ebs) exists");
  cmd->add_flag("--dry-run", f->dry_run);
  cmd->add_option("--tag-specifications", f->tag_specifications,
                  "ResourceType=volume,Tags=[{Key=Name,Value=data}] (or JSON)");
}

void AddDescribeVolumes(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> ids, filters;
    PagingFlags paging;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("describe-volumes", "list EBS volumes", [f](VerbContext& ctx) {
    json doc = {{"Volumes", json::array()}};
    const std::string next = f->paging.Run(
        [&](int max_results, const std::string& token) {
          v1::DescribeVolumesRequest req;
          for (const auto& id : f->ids) req.add_volume_ids(id);
          for (auto& filter : ParseFilters(f->filters)) *req.add_filters() = std::move(filter);
          req.set_max_results(max_results);
          req.set_next_token(token);
          auto resp = ctx.api.Call("DescribeVolumes", &Stub::DescribeVolumes, req);
          for (const auto& v : resp.volumes()) doc["Volumes"].push_back(VolumeJson(v));
          return resp.next_token();
        },
        doc["Volumes"]);
    if (!next.empty()) doc["NextToken"] = next;
    Print(ctx, doc, "Volumes",
          {"VolumeId", "Size", "VolumeType", "State", "AvailabilityZone", "Iops"});
    return 0;
  });
  cmd->add_option("--volume-ids", f->ids);
  cmd->add_option("--filters", f->filters, "Name=<name>,Values=<v1>,<v2>");
  f->paging.AddTo(cmd);
}

void AddDeleteVolume(VerbRegistry& verbs) {
  struct Flags {
    v1::DeleteVolumeRequest req;
    bool dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("delete-volume", "delete an available volume", [f](VerbContext& ctx) {
    v1::DeleteVolumeRequest req = f->req;
    req.set_dry_run(f->dry_run);
    ctx.api.Call("DeleteVolume", &Stub::DeleteVolume, req);
    return 0;
  });
  cmd->add_option("--volume-id", *f->req.mutable_volume_id())->required();
  cmd->add_flag("--dry-run", f->dry_run);
}

void AddModifyVolume(VerbRegistry& verbs) {
  struct Flags {
    v1::ModifyVolumeRequest req;
    std::optional<int64_t> size;
    std::optional<int> iops, throughput;
    bool multi_attach = false, no_multi_attach = false, dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("modify-volume", "grow a volume or change its type, IOPS or throughput",
                [f](VerbContext& ctx) {
                  v1::ModifyVolumeRequest req = f->req;
                  if (f->size) req.set_size(*f->size);
                  if (f->iops) req.set_iops(*f->iops);
                  if (f->throughput) req.set_throughput(*f->throughput);
                  if (f->multi_attach) req.set_multi_attach_enabled(true);
                  if (f->no_multi_attach) req.set_multi_attach_enabled(false);
                  req.set_dry_run(f->dry_run);
                  auto resp = ctx.api.Call("ModifyVolume", &Stub::ModifyVolume, req);
                  Print(ctx, {{"VolumeModification", ModificationJson(resp.modification())}});
                  return 0;
                });
  cmd->add_option("--volume-id", *f->req.mutable_volume_id())->required();
  cmd->add_option("--size", f->size, "GiB (grow only)");
  cmd->add_option("--volume-type", *f->req.mutable_volume_type());
  cmd->add_option("--iops", f->iops);
  cmd->add_option("--throughput", f->throughput);
  cmd->add_flag("--multi-attach-enabled", f->multi_attach);
  cmd->add_flag("--no-multi-attach-enabled", f->no_multi_attach);
  cmd->add_flag("--dry-run", f->dry_run);
}

void AddDescribeVolumesModifications(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> ids, filters;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add(
      "describe-volumes-modifications", "list volume modifications", [f](VerbContext& ctx) {
        v1::DescribeVolumesModificationsRequest req;
        for (const auto& id : f->ids) req.add_volume_ids(id);
        for (auto& filter : ParseFilters(f->filters)) *req.add_filters() = std::move(filter);
        auto resp =
            ctx.api.Call("DescribeVolumesModifications", &Stub::DescribeVolumesModifications, req);
        json doc = {{"VolumesModifications", json::array()}};
        for (const auto& m : resp.modifications()) {
          doc["VolumesModifications"].push_back(ModificationJson(m));
        }
        Print(ctx, doc, "VolumesModifications",
              {"VolumeId", "ModificationState", "OriginalSize", "TargetSize", "TargetVolumeType"});
        return 0;
      });
  cmd->add_option("--volume-ids", f->ids);
  cmd->add_option("--filters", f->filters, "Name=<name>,Values=<v1>,<v2>");
}

void AddAttachVolume(VerbRegistry& verbs) {
  struct Flags {
    v1::AttachVolumeRequest req;
    bool dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("attach-volume", "attach a volume to an instance (hot-plug)",
                            [f](VerbContext& ctx) {
                              v1::AttachVolumeRequest req = f->req;
                              req.set_dry_run(f->dry_run);
                              auto a = ctx.api.Call("AttachVolume", &Stub::AttachVolume, req);
                              Print(ctx, AttachmentJson(a));
                              return 0;
                            });
  cmd->add_option("--volume-id", *f->req.mutable_volume_id())->required();
  cmd->add_option("--instance-id", *f->req.mutable_instance_id())->required();
  cmd->add_option("--device", *f->req.mutable_device(), "/dev/sdf ... /dev/sdp, /dev/xvdf ...")
      ->required();
  cmd->add_flag("--dry-run", f->dry_run);
}

void AddDetachVolume(VerbRegistry& verbs) {
  struct Flags {
    v1::DetachVolumeRequest req;
    bool force = false, dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("detach-volume", "detach a volume from its instance (hot-unplug)",
                            [f](VerbContext& ctx) {
                              v1::DetachVolumeRequest req = f->req;
                              req.set_force(f->force);
                              req.set_dry_run(f->dry_run);
                              auto a = ctx.api.Call("DetachVolume", &Stub::DetachVolume, req);
                              Print(ctx, AttachmentJson(a));
                              return 0;
                            });
  cmd->add_option("--volume-id", *f->req.mutable_volume_id())->required();
  cmd->add_option("--instance-id", *f->req.mutable_instance_id());
  cmd->add_option("--device", *f->req.mutable_device());
  cmd->add_flag("--force", f->force, "do not wait for the guest to release the disk");
  cmd->add_flag("--dry-run", f->dry_run);
}

}  // namespace

void RegisterVolumeVerbs(VerbRegistry& verbs) {
  AddAttachVolume(verbs);
  AddDetachVolume(verbs);
  AddCreateVolume(verbs);
  AddDescribeVolumes(verbs);
  AddDeleteVolume(verbs);
  AddModifyVolume(verbs);
  AddDescribeVolumesModifications(verbs);
}

}  // namespace minicloud::cli
