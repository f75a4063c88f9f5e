// EBS snapshots: CreateSnapshot, DescribeSnapshots, DeleteSnapshot, CopySnapshot. Shapes after
// botocore's EC2 model (Snapshot: CreateSnapshot answers its fields at the top level,
// DescribeSnapshots `snapshotSet/item` with `tagSet`; CopySnapshot `snapshotId` and `tagSet`).
#include "absl/strings/str_cat.h"
#include "common/ec2_names.h"
#include "common/status_macros.h"
#include "controller/query/action.h"
#include "controller/query/xml.h"
#include "controller/service/volume_service.h"

namespace minicloud::query {
namespace {

absl::StatusOr<controller::VolumeService*> SnapshotsOf(Services& s) {
  if (s.volumes == nullptr) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "UnsupportedOperation",
                    "This controller serves no EBS snapshots.");
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

void WriteSnapshot(XmlNode node, const v1::Snapshot& s) {
  Text(node, "snapshotId", s.snapshot_id());
  Text(node, "volumeId", s.volume_id());
  Text(node, "status", SnapshotStateName(s.state()));
  TextIfSet(node, "statusMessage", s.state_message());
  Time(node, "startTime", s.start_time());
  Text(node, "progress", s.progress());
  Text(node, "ownerId", s.owner_id());
  Int(node, "volumeSize", s.volume_size());
  Text(node, "description", s.description());
  Bool(node, "encrypted", s.encrypted());
  TextIfSet(node, "kmsKeyId", s.kms_key_id());  // botocore Snapshot.KmsKeyId
  WriteTags(node, s.tags());
  Text(node, "storageTier", "standard");
  if (s.has_completion_time()) Time(node, "completionTime", s.completion_time());
}

// TagSpecification.N with ResourceType=snapshot (the only type these calls take).
absl::Status ParseSnapshotTags(ParamNode& p, google::protobuf::RepeatedPtrField<v1::Tag>* out) {
  for (ParamNode* spec : p.List("TagSpecification")) {
    const std::string type = spec->String("ResourceType").value_or("");
    if (type != "snapshot") {
      return InvalidParameterValue(
          absl::StrCat("'", QuoteForMessage(type, 32),
                       "' is not a valid taggable resource type for this operation."));
    }
    for (ParamNode* tag : spec->List("Tag")) {
      v1::Tag* t = out->Add();
      t->set_key(tag->String("Key").value_or(""));
      t->set_value(tag->String("Value").value_or(""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::CreateSnapshotRequest> ParseCreateSnapshot(ParamNode& p, bool dry_run) {
  v1::CreateSnapshotRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string id, Required(p, "VolumeId"));
  req.set_volume_id(id);
  if (auto v = p.String("Description")) req.set_description(*v);
  MC_RETURN_IF_ERROR(ParseSnapshotTags(p, req.mutable_tags()));
  return req;
}

absl::Status RunCreateSnapshot(Services& s, const v1::CreateSnapshotRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto* snapshots, SnapshotsOf(s));
  MC_ASSIGN_OR_RETURN(v1::Snapshot snap, snapshots->CreateSnapshot(req));
  WriteSnapshot(out, snap);
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeSnapshotsRequest> ParseDescribeSnapshots(ParamNode& p, bool dry_run) {
  v1::DescribeSnapshotsRequest req;
  req.set_dry_run(dry_run);
  for (std::string& id : p.StringList("SnapshotId")) req.add_snapshot_ids(std::move(id));
  for (std::string& owner : p.StringList("Owner")) req.add_owner_ids(std::move(owner));
  ParseFilters(p, req.mutable_filters());
  MC_RETURN_IF_ERROR(ParsePaging(p, &req));
  return req;
}

absl::Status RunDescribeSnapshots(Services& s, const v1::DescribeSnapshotsRequest& req,
                                  XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto* snapshots, SnapshotsOf(s));
  MC_ASSIGN_OR_RETURN(auto resp, snapshots->DescribeSnapshots(req));
  XmlNode set = Child(out, "snapshotSet");
  for (const v1::Snapshot& snap : resp.snapshots()) WriteSnapshot(Item(set), snap);
  TextIfSet(out, "nextToken", resp.next_token());
  return absl::OkStatus();
}

absl::StatusOr<v1::DeleteSnapshotRequest> ParseDeleteSnapshot(ParamNode& p, bool dry_run) {
  v1::DeleteSnapshotRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string id, Required(p, "SnapshotId"));
  req.set_snapshot_id(id);
  return req;
}

absl::Status RunDeleteSnapshot(Services& s, const v1::DeleteSnapshotRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto* snapshots, SnapshotsOf(s));
  MC_RETURN_IF_ERROR(snapshots->DeleteSnapshot(req).status());
  Bool(out, "return", true);
  return absl::OkStatus();
}

absl::StatusOr<v1::CopySnapshotRequest> ParseCopySnapshot(ParamNode& p, bool dry_run) {
  v1::CopySnapshotRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string source, Required(p, "SourceSnapshotId"));
  req.set_source_snapshot_id(source);
  MC_ASSIGN_OR_RETURN(std::string region, Required(p, "SourceRegion"));
  req.set_source_region(region);
  if (auto v = p.String("Description")) req.set_description(*v);
  // The aws CLI fills these in for a copy from another region (a presigned URL of the source
  // region); within one region they name this region, and nothing else is accepted.
  if (auto v = p.String("DestinationRegion"); v && !v->empty() && *v != region) {
    return InvalidParameterValue(absl::StrCat("Invalid value '", QuoteForMessage(*v, 64),
                                              "' for DestinationRegion: copies stay in ",
                                              QuoteForMessage(region, 64)));
  }
  (void)p.String("PresignedUrl");
  MC_ASSIGN_OR_RETURN(auto encrypted, p.Bool("Encrypted"));
  req.set_encrypted(encrypted.value_or(false));
  if (auto v = p.String("KmsKeyId")) req.set_kms_key_id(*v);
  MC_RETURN_IF_ERROR(ParseSnapshotTags(p, req.mutable_tags()));
  return req;
}

absl::Status RunCopySnapshot(Services& s, const v1::CopySnapshotRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto* snapshots, SnapshotsOf(s));
  MC_ASSIGN_OR_RETURN(auto resp, snapshots->CopySnapshot(req));
  Text(out, "snapshotId", resp.snapshot_id());
  WriteTags(out, resp.tags());
  return absl::OkStatus();
}

}  // namespace

void AddSnapshotActions(ActionTable& t) {
  t["CreateSnapshot"] = Bind<ParseCreateSnapshot, RunCreateSnapshot>();
  t["DescribeSnapshots"] = Bind<ParseDescribeSnapshots, RunDescribeSnapshots>();
  t["DeleteSnapshot"] = Bind<ParseDeleteSnapshot, RunDeleteSnapshot>();
  t["CopySnapshot"] = Bind<ParseCopySnapshot, RunCopySnapshot>();
}

}  // namespace minicloud::query
