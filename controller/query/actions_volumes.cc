// EBS volumes: CreateVolume, DescribeVolumes, DeleteVolume, ModifyVolume,
// DescribeVolumesModifications, AttachVolume, DetachVolume (both answer the VolumeAttachment's
// fields at the top level). Shapes after botocore's EC2 model (Volume, VolumeAttachment,
// VolumeModification): CreateVolume answers the volume's fields at the top level,
// DescribeVolumes `volumeSet/item` with `attachmentSet` and `tagSet`.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/lifecycle/volume_lifecycle.h"
#include "controller/query/action.h"
#include "controller/query/xml.h"
#include "controller/service/volume_service.h"

namespace minicloud::query {
namespace {

constexpr int64_t kInt32Max = 2147483647;
constexpr int64_t kInt64Max = int64_t{1} << 62;

using controller::lifecycle::AttachmentStateName;
using controller::lifecycle::ModificationStateName;
using controller::lifecycle::VolumeStateName;

absl::StatusOr<controller::VolumeService*> VolumesOf(Services& s) {
  if (s.volumes == nullptr) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "UnsupportedOperation",
                    "This controller serves no EBS volumes.");
  }
  return s.volumes;
}

void WriteTags(XmlNode node, const google::protobuf::RepeatedPtrField<v1::Tag>& tags) {
  if (tags.empty()) return;
  XmlNode set = Child(node, "tagSet");
  for (const v1::Tag& t : tags) {
    XmlNode item = Item(set);
    Text(item, "key", t.key());
    Text(item, "value", t.value());
  }
}

// botocore's VolumeAttachment (State travels as `status`).
void WriteAttachment(XmlNode item, const v1::VolumeAttachment& a) {
  Text(item, "volumeId", a.volume_id());
  Text(item, "instanceId", a.instance_id());
  Text(item, "device", a.device());
  Text(item, "status", AttachmentStateName(a.state()));
  Time(item, "attachTime", a.attach_time());
  Bool(item, "deleteOnTermination", a.delete_on_termination());
}

void WriteVolume(XmlNode node, const v1::Volume& v) {
  Text(node, "volumeId", v.volume_id());
  Int(node, "size", v.size());
  Text(node, "snapshotId", v.snapshot_id());
  Text(node, "availabilityZone", v.availability_zone());
  Text(node, "status", VolumeStateName(v.state()));
  Time(node, "createTime", v.create_time());
  XmlNode set = Child(node, "attachmentSet");
  for (const v1::VolumeAttachment& a : v.attachments()) WriteAttachment(Item(set), a);
  WriteTags(node, v.tags());
  Text(node, "volumeType", v.volume_type());
  if (v.iops() > 0) Int(node, "iops", v.iops());
  Bool(node, "encrypted", v.encrypted());
  TextIfSet(node, "kmsKeyId", v.kms_key_id());  // botocore Volume.KmsKeyId
  Bool(node, "multiAttachEnabled", v.multi_attach_enabled());
  if (v.throughput() > 0) Int(node, "throughput", v.throughput());
}

void WriteModification(XmlNode node, const v1::VolumeModification& m) {
  Text(node, "volumeId", m.volume_id());
  Text(node, "modificationState", ModificationStateName(m.state()));
  TextIfSet(node, "statusMessage", m.status_message());
  Int(node, "targetSize", m.target_size());
  if (m.target_iops() > 0) Int(node, "targetIops", m.target_iops());
  Text(node, "targetVolumeType", m.target_volume_type());
  if (m.target_throughput() > 0) Int(node, "targetThroughput", m.target_throughput());
  Bool(node, "targetMultiAttachEnabled", m.target_multi_attach_enabled());
  Int(node, "originalSize", m.original_size());
  if (m.original_iops() > 0) Int(node, "originalIops", m.original_iops());
  Text(node, "originalVolumeType", m.original_volume_type());
  if (m.original_throughput() > 0) Int(node, "originalThroughput", m.original_throughput());
  Bool(node, "originalMultiAttachEnabled", m.original_multi_attach_enabled());
  Int(node, "progress", m.progress());
  Time(node, "startTime", m.start_time());
  if (m.has_end_time()) Time(node, "endTime", m.end_time());
}

absl::StatusOr<v1::CreateVolumeRequest> ParseCreateVolume(ParamNode& p, bool dry_run) {
  v1::CreateVolumeRequest req;
  req.set_dry_run(dry_run);
  if (auto v = p.String("AvailabilityZone")) req.set_availability_zone(*v);
  MC_ASSIGN_OR_RETURN(auto size, p.Int("Size", 0, kInt64Max));
  if (size) req.set_size(*size);
  if (auto v = p.String("VolumeType")) req.set_volume_type(*v);
  MC_ASSIGN_OR_RETURN(auto iops, p.Int("Iops", 0, kInt32Max));
  if (iops) req.set_iops(static_cast<int32_t>(*iops));
  MC_ASSIGN_OR_RETURN(auto throughput, p.Int("Throughput", 0, kInt32Max));
  if (throughput) req.set_throughput(static_cast<int32_t>(*throughput));
  if (auto v = p.String("SnapshotId")) req.set_snapshot_id(*v);
  MC_ASSIGN_OR_RETURN(auto encrypted, p.Bool("Encrypted"));
  req.set_encrypted(encrypted.value_or(false));
  if (auto v = p.String("KmsKeyId")) req.set_kms_key_id(*v);
  MC_ASSIGN_OR_RETURN(auto multi, p.Bool("MultiAttachEnabled"));
  req.set_multi_attach_enabled(multi.value_or(false));
  if (auto v = p.String("ClientToken")) req.set_client_token(*v);
  for (ParamNode* spec : p.List("TagSpecification")) {
    const std::string type = spec->String("ResourceType").value_or("");
    if (type != "volume") {
      return InvalidParameterValue(
          absl::StrCat("'", QuoteForMessage(type, 32),
                       "' is not a valid taggable resource type for this operation."));
    }
    for (ParamNode* tag : spec->List("Tag")) {
      v1::Tag* t = req.add_tags();
      t->set_key(tag->String("Key").value_or(""));
      t->set_value(tag->String("Value").value_or(""));
    }
  }
  return req;
}

absl::Status RunCreateVolume(Services& s, const v1::CreateVolumeRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto* volumes, VolumesOf(s));
  MC_ASSIGN_OR_RETURN(v1::Volume v, volumes->CreateVolume(req));
  WriteVolume(out, v);
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeVolumesRequest> ParseDescribeVolumes(ParamNode& p, bool dry_run) {
  v1::DescribeVolumesRequest req;
  req.set_dry_run(dry_run);
  for (std::string& id : p.StringList("VolumeId")) req.add_volume_ids(std::move(id));
  ParseFilters(p, req.mutable_filters());
  MC_RETURN_IF_ERROR(ParsePaging(p, &req));
  return req;
}

absl::Status RunDescribeVolumes(Services& s, const v1::DescribeVolumesRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto* volumes, VolumesOf(s));
  MC_ASSIGN_OR_RETURN(auto resp, volumes->DescribeVolumes(req));
  XmlNode set = Child(out, "volumeSet");
  for (const v1::Volume& v : resp.volumes()) WriteVolume(Item(set), v);
  TextIfSet(out, "nextToken", resp.next_token());
  return absl::OkStatus();
}

absl::StatusOr<v1::DeleteVolumeRequest> ParseDeleteVolume(ParamNode& p, bool dry_run) {
  v1::DeleteVolumeRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string id, Required(p, "VolumeId"));
  req.set_volume_id(id);
  return req;
}

absl::Status RunDeleteVolume(Services& s, const v1::DeleteVolumeRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto* volumes, VolumesOf(s));
  MC_RETURN_IF_ERROR(volumes->DeleteVolume(req).status());
  Bool(out, "return", true);
  return absl::OkStatus();
}

absl::StatusOr<v1::ModifyVolumeRequest> ParseModifyVolume(ParamNode& p, bool dry_run) {
  v1::ModifyVolumeRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string id, Required(p, "VolumeId"));
  req.set_volume_id(id);
  MC_ASSIGN_OR_RETURN(auto size, p.Int("Size", 0, kInt64Max));
  if (size) req.set_size(*size);
  if (auto v = p.String("VolumeType")) req.set_volume_type(*v);
  MC_ASSIGN_OR_RETURN(auto iops, p.Int("Iops", 0, kInt32Max));
  if (iops) req.set_iops(static_cast<int32_t>(*iops));
  MC_ASSIGN_OR_RETURN(auto throughput, p.Int("Throughput", 0, kInt32Max));
  if (throughput) req.set_throughput(static_cast<int32_t>(*throughput));
  MC_ASSIGN_OR_RETURN(auto multi, p.Bool("MultiAttachEnabled"));
  if (multi) req.set_multi_attach_enabled(*multi);
  return req;
}

absl::Status RunModifyVolume(Services& s, const v1::ModifyVolumeRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto* volumes, VolumesOf(s));
  MC_ASSIGN_OR_RETURN(auto resp, volumes->ModifyVolume(req));
  WriteModification(Child(out, "volumeModification"), resp.modification());
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeVolumesModificationsRequest> ParseDescribeVolumesModifications(
    ParamNode& p, bool dry_run) {
  v1::DescribeVolumesModificationsRequest req;
  req.set_dry_run(dry_run);
  for (std::string& id : p.StringList("VolumeId")) req.add_volume_ids(std::move(id));
  ParseFilters(p, req.mutable_filters());
  MC_RETURN_IF_ERROR(ParsePaging(p, &req));
  return req;
}

absl::Status RunDescribeVolumesModifications(Services& s,
                                             const v1::DescribeVolumesModificationsRequest& req,
                                             XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto* volumes, VolumesOf(s));
  MC_ASSIGN_OR_RETURN(auto resp, volumes->DescribeVolumesModifications(req));
  XmlNode set = Child(out, "volumeModificationSet");
  for (const auto& m : resp.modifications()) WriteModification(Item(set), m);
  TextIfSet(out, "nextToken", resp.next_token());
  return absl::OkStatus();
}

absl::StatusOr<v1::AttachVolumeRequest> ParseAttachVolume(ParamNode& p, bool dry_run) {
  v1::AttachVolumeRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string volume, Required(p, "VolumeId"));
  MC_ASSIGN_OR_RETURN(std::string instance, Required(p, "InstanceId"));
  MC_ASSIGN_OR_RETURN(std::string device, Required(p, "Device"));
  req.set_volume_id(volume);
  req.set_instance_id(instance);
  req.set_device(device);
  return req;
}

absl::Status RunAttachVolume(Services& s, const v1::AttachVolumeRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto* volumes, VolumesOf(s));
  MC_ASSIGN_OR_RETURN(v1::VolumeAttachment a, volumes->AttachVolume(req));
  WriteAttachment(out, a);
  return absl::OkStatus();
}

absl::StatusOr<v1::DetachVolumeRequest> ParseDetachVolume(ParamNode& p, bool dry_run) {
  v1::DetachVolumeRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string volume, Required(p, "VolumeId"));
  req.set_volume_id(volume);
  if (auto v = p.String("InstanceId")) req.set_instance_id(*v);
  if (auto v = p.String("Device")) req.set_device(*v);
  MC_ASSIGN_OR_RETURN(auto force, p.Bool("Force"));
  req.set_force(force.value_or(false));
  return req;
}

absl::Status RunDetachVolume(Services& s, const v1::DetachVolumeRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto* volumes, VolumesOf(s));
  MC_ASSIGN_OR_RETURN(v1::VolumeAttachment a, volumes->DetachVolume(req));
  WriteAttachment(out, a);
  return absl::OkStatus();
}

}  // namespace

void AddVolumeActions(ActionTable& t) {
  t["AttachVolume"] = Bind<ParseAttachVolume, RunAttachVolume>();
  t["DetachVolume"] = Bind<ParseDetachVolume, RunDetachVolume>();
  t["CreateVolume"] = Bind<ParseCreateVolume, RunCreateVolume>();
  t["DescribeVolumes"] = Bind<ParseDescribeVolumes, RunDescribeVolumes>();
  t["DeleteVolume"] = Bind<ParseDeleteVolume, RunDeleteVolume>();
  t["ModifyVolume"] = Bind<ParseModifyVolume, RunModifyVolume>();
  t["DescribeVolumesModifications"] =
      Bind<ParseDescribeVolumesModifications, RunDescribeVolumesModifications>();
}

}  // namespace minicloud::query
