// Images (DescribeImages, DeregisterImage, RegisterImage of a snapshot, CreateImage, CopyImage),
// key pairs and placement groups.
#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ec2_names.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "controller/query/action.h"
#include "controller/query/instance_xml.h"
#include "controller/query/query_block_devices.h"
#include "controller/query/xml.h"

namespace minicloud::query {
namespace {

constexpr int64_t kInt32Max = 2147483647;

// ---- images

// TagSpecification.N of the image calls: ResourceType `image` into `image_tags`, `snapshot`
// (CreateImage only) into `snapshot_tags`; any other type is EC2's InvalidParameterValue.
absl::Status ParseImageTags(ParamNode& p, std::initializer_list<absl::string_view> types,
                            google::protobuf::RepeatedPtrField<v1::Tag>* image_tags,
                            google::protobuf::RepeatedPtrField<v1::Tag>* snapshot_tags) {
  for (ParamNode* spec : p.List("TagSpecification")) {
    const std::string type = spec->String("ResourceType").value_or("");
    if (std::find(types.begin(), types.end(), type) == types.end()) {
      return InvalidParameterValue(
          absl::StrCat("'", QuoteForMessage(type, 32),
                       "' is not a valid taggable resource type for this operation."));
    }
    auto* into = type == "snapshot" ? snapshot_tags : image_tags;
    for (ParamNode* tag : spec->List("Tag")) {
      v1::Tag* t = into->Add();
      t->set_key(tag->String("Key").value_or(""));
      t->set_value(tag->String("Value").value_or(""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeImagesRequest> ParseDescribeImages(ParamNode& p, bool) {
  v1::DescribeImagesRequest req;
  for (std::string& id : p.StringList("ImageId")) req.add_image_ids(std::move(id));
  ParseFilters(p, req.mutable_filters());
  MC_RETURN_IF_ERROR(ParsePaging(p, &req));
  return req;
}

absl::Status RunDescribeImages(Services& s, const v1::DescribeImagesRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.images.DescribeImages(req));
  XmlNode set = Child(out, "imagesSet");
  for (const v1::Image& i : resp.images()) {
    XmlNode item = Item(set);
    Text(item, "imageId", i.image_id());
    Text(item, "imageLocation", absl::StrCat(i.owner_id(), "/", i.name()));
    Text(item, "imageState", i.state());
    if (i.has_state_reason()) {
      XmlNode reason = Child(item, "stateReason");
      Text(reason, "code", i.state_reason().code());
      Text(reason, "message", i.state_reason().message());
    }
    Text(item, "imageOwnerId", i.owner_id());
    if (i.has_creation_date()) Time(item, "creationDate", i.creation_date());
    Bool(item, "isPublic", false);
    TextIfSet(item, "architecture", i.architecture());
    Text(item, "imageType", i.image_type());
    TextIfSet(item, "kernelId", i.kernel_id());
    TextIfSet(item, "ramdiskId", i.ramdisk_id());
    Text(item, "name", i.name());
    TextIfSet(item, "description", i.description());
    Text(item, "rootDeviceType", i.root_device_type());
    Text(item, "rootDeviceName", i.root_device_name());
    WriteImageBlockDeviceMappings(item, i.block_device_mappings());
    Text(item, "virtualizationType", "hvm");
    Text(item, "hypervisor", "xen");
    TextIfSet(item, "bootMode", i.boot_mode() == "direct-kernel" ? "" : i.boot_mode());
    WriteTags(item, i.tags());
  }
  TextIfSet(out, "nextToken", resp.next_token());
  return absl::OkStatus();
}

absl::StatusOr<v1::DeregisterImageRequest> ParseDeregisterImage(ParamNode& p, bool dry_run) {
  v1::DeregisterImageRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string id, Required(p, "ImageId"));
  req.set_image_id(id);
  return req;
}

absl::Status RunDeregisterImage(Services& s, const v1::DeregisterImageRequest& req, XmlNode out) {
  MC_RETURN_IF_ERROR(s.images.DeregisterImage(req).status());
  Bool(out, "return", true);
  return absl::OkStatus();
}

// EC2's RegisterImage names an S3 manifest or an EBS snapshot. The snapshot form (a root
// BlockDeviceMapping with Ebs.SnapshotId) is served; an image file is uploaded through the gRPC
// API's RegisterImage stream instead (`minicloud register-image`): docs/query-api.md.
absl::StatusOr<v1::RegisterImageRequest> ParseRegisterImage(ParamNode& p, bool dry_run) {
  v1::RegisterImageRequest req;
  MC_ASSIGN_OR_RETURN(std::string name, Required(p, "Name"));
  req.set_name(name);
  if (auto v = p.String("Description")) req.set_description(*v);
  if (auto v = p.String("Architecture")) req.set_architecture(*v);
  if (auto v = p.String("RootDeviceName")) req.set_root_device_name(*v);
  MC_RETURN_IF_ERROR(ParseBlockDeviceMappings(p, req.mutable_block_device_mappings()));
  MC_RETURN_IF_ERROR(ParseImageTags(p, {"image"}, req.mutable_tags(), nullptr));
  if (p.String("ImageLocation") || !controller::ImageService::IsSnapshotRegistration(req)) {
    // The controller never reads a file (or S3 manifest) a caller names.
    return Ec2Error(absl::StatusCode::kInvalidArgument, "UnsupportedOperation",
                    "RegisterImage here makes an AMI of a snapshot: map the root device "
                    "(RootDeviceName) to Ebs.SnapshotId. To register an image file, upload its "
                    "bytes with `minicloud register-image` (no S3 manifests).");
  }
  if (dry_run) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation",
                    "Request would have succeeded, but DryRun flag is set.");
  }
  return req;
}

absl::Status RunRegisterImage(Services& s, const v1::RegisterImageRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.images.RegisterSnapshotImage(req));
  Text(out, "imageId", resp.image_id());
  return absl::OkStatus();
}

absl::StatusOr<v1::CreateImageRequest> ParseCreateImage(ParamNode& p, bool dry_run) {
  v1::CreateImageRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string id, Required(p, "InstanceId"));
  req.set_instance_id(id);
  MC_ASSIGN_OR_RETURN(std::string name, Required(p, "Name"));
  req.set_name(name);
  if (auto v = p.String("Description")) req.set_description(*v);
  MC_ASSIGN_OR_RETURN(auto no_reboot, p.Bool("NoReboot"));
  req.set_no_reboot(no_reboot.value_or(false));
  MC_RETURN_IF_ERROR(ParseBlockDeviceMappings(p, req.mutable_block_device_mappings()));
  MC_RETURN_IF_ERROR(
      ParseImageTags(p, {"image", "snapshot"}, req.mutable_tags(), req.mutable_snapshot_tags()));
  return req;
}

absl::Status RunCreateImage(Services& s, const v1::CreateImageRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.images.CreateImage(req));
  Text(out, "imageId", resp.image_id());
  return absl::OkStatus();
}

absl::StatusOr<v1::CopyImageRequest> ParseCopyImage(ParamNode& p, bool dry_run) {
  v1::CopyImageRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string id, Required(p, "SourceImageId"));
  req.set_source_image_id(id);
  MC_ASSIGN_OR_RETURN(std::string region, Required(p, "SourceRegion"));
  req.set_source_region(region);
  MC_ASSIGN_OR_RETURN(std::string name, Required(p, "Name"));
  req.set_name(name);
  if (auto v = p.String("Description")) req.set_description(*v);
  MC_ASSIGN_OR_RETURN(auto encrypted, p.Bool("Encrypted"));
  if (encrypted.value_or(false)) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "UnsupportedOperation",
                    "Encrypted copies of AMIs are not supported by this cloud yet.");
  }
  (void)p.String("ClientToken");
  return req;
}

absl::Status RunCopyImage(Services& s, const v1::CopyImageRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.images.CopyImage(req));
  Text(out, "imageId", resp.image_id());
  return absl::OkStatus();
}

// ---- key pairs

void WriteKeyPairFields(XmlNode node, const v1::KeyPairInfo& k) {
  Text(node, "keyPairId", k.key_pair_id());
  Text(node, "keyName", k.key_name());
  Text(node, "keyFingerprint", k.key_fingerprint());
}

absl::StatusOr<v1::CreateKeyPairRequest> ParseCreateKeyPair(ParamNode& p, bool dry_run) {
  v1::CreateKeyPairRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string name, Required(p, "KeyName"));
  req.set_key_name(name);
  if (auto v = p.String("KeyType")) req.set_key_type(*v);
  if (auto v = p.String("KeyFormat"); v && *v != "pem") {
    return InvalidParameterValue(absl::StrCat("Value (", QuoteForMessage(*v, 32),
                                              ") for parameter KeyFormat is invalid: minicloud "
                                              "writes private keys as pem"));
  }
  return req;
}

absl::Status RunCreateKeyPair(Services& s, const v1::CreateKeyPairRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.keys.CreateKeyPair(req));
  WriteKeyPairFields(out, resp.key_pair());
  Text(out, "keyMaterial", resp.key_material());
  return absl::OkStatus();
}

absl::StatusOr<v1::ImportKeyPairRequest> ParseImportKeyPair(ParamNode& p, bool dry_run) {
  v1::ImportKeyPairRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string name, Required(p, "KeyName"));
  req.set_key_name(name);
  MC_ASSIGN_OR_RETURN(std::string material, Required(p, "PublicKeyMaterial"));
  // A blob: base64 on the wire (botocore encodes it).
  MC_ASSIGN_OR_RETURN(std::string raw,
                      DecodeBase64(material, "Invalid BASE64 encoding of PublicKeyMaterial"));
  req.set_public_key_material(std::move(raw));
  return req;
}

absl::Status RunImportKeyPair(Services& s, const v1::ImportKeyPairRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.keys.ImportKeyPair(req));
  WriteKeyPairFields(out, resp.key_pair());
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeKeyPairsRequest> ParseDescribeKeyPairs(ParamNode& p, bool) {
  v1::DescribeKeyPairsRequest req;
  for (std::string& n : p.StringList("KeyName")) req.add_key_names(std::move(n));
  for (std::string& n : p.StringList("KeyPairId")) req.add_key_pair_ids(std::move(n));
  ParseFilters(p, req.mutable_filters());
  MC_ASSIGN_OR_RETURN(auto include, p.Bool("IncludePublicKey"));
  req.set_include_public_key(include.value_or(false));
  return req;
}

absl::Status RunDescribeKeyPairs(Services& s, const v1::DescribeKeyPairsRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.keys.DescribeKeyPairs(req));
  XmlNode set = Child(out, "keySet");
  for (const v1::KeyPairInfo& k : resp.key_pairs()) {
    XmlNode item = Item(set);
    WriteKeyPairFields(item, k);
    TextIfSet(item, "keyType", k.key_type());
    TextIfSet(item, "publicKey", k.public_key());
    if (k.create_time_ms() > 0) TimeMs(item, "createTime", k.create_time_ms());
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::DeleteKeyPairRequest> ParseDeleteKeyPair(ParamNode& p, bool dry_run) {
  v1::DeleteKeyPairRequest req;
  req.set_dry_run(dry_run);
  if (auto v = p.String("KeyName")) req.set_key_name(*v);
  if (auto v = p.String("KeyPairId")) req.set_key_pair_id(*v);
  return req;
}

absl::Status RunDeleteKeyPair(Services& s, const v1::DeleteKeyPairRequest& req, XmlNode out) {
  MC_RETURN_IF_ERROR(s.keys.DeleteKeyPair(req).status());
  Bool(out, "return", true);
  return absl::OkStatus();
}

// ---- placement groups

void WritePlacementGroup(XmlNode node, const v1::PlacementGroup& g) {
  Text(node, "groupName", g.group_name());
  Text(node, "groupId", g.group_id());
  Text(node, "state", g.state());
  Text(node, "strategy", PlacementStrategyName(g.strategy()));
  if (g.partition_count() > 0) Int(node, "partitionCount", g.partition_count());
  TextIfSet(node, "spreadLevel", SpreadLevelName(g.spread_level()));
}

absl::StatusOr<v1::CreatePlacementGroupRequest> ParseCreatePlacementGroup(ParamNode& p,
                                                                          bool dry_run) {
  v1::CreatePlacementGroupRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string name, Required(p, "GroupName"));
  req.set_group_name(name);
  MC_ASSIGN_OR_RETURN(std::string strategy, Required(p, "Strategy"));
  MC_ASSIGN_OR_RETURN(auto typed, ParsePlacementStrategy(strategy, "Strategy"));
  req.set_strategy(typed);
  MC_ASSIGN_OR_RETURN(auto partitions, p.Int("PartitionCount", -kInt32Max, kInt32Max));
  if (partitions) req.set_partition_count(static_cast<int32_t>(*partitions));
  if (auto v = p.String("SpreadLevel")) {
    MC_ASSIGN_OR_RETURN(auto level, ParseSpreadLevel(*v));
    req.set_spread_level(level);
  }
  return req;
}

absl::Status RunCreatePlacementGroup(Services& s, const v1::CreatePlacementGroupRequest& req,
                                     XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.groups.CreatePlacementGroup(req));
  WritePlacementGroup(Child(out, "placementGroup"), resp.placement_group());
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribePlacementGroupsRequest> ParseDescribePlacementGroups(ParamNode& p,
                                                                                bool) {
  v1::DescribePlacementGroupsRequest req;
  for (std::string& n : p.StringList("GroupName")) req.add_group_names(std::move(n));
  for (std::string& n : p.StringList("GroupId")) req.add_group_ids(std::move(n));
  ParseFilters(p, req.mutable_filters());
  return req;
}

absl::Status RunDescribePlacementGroups(Services& s, const v1::DescribePlacementGroupsRequest& req,
                                        XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.groups.DescribePlacementGroups(req));
  XmlNode set = Child(out, "placementGroupSet");
  for (const v1::PlacementGroup& g : resp.placement_groups()) WritePlacementGroup(Item(set), g);
  return absl::OkStatus();
}

absl::StatusOr<v1::DeletePlacementGroupRequest> ParseDeletePlacementGroup(ParamNode& p,
                                                                          bool dry_run) {
  v1::DeletePlacementGroupRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string name, Required(p, "GroupName"));
  req.set_group_name(name);
  return req;
}

absl::Status RunDeletePlacementGroup(Services& s, const v1::DeletePlacementGroupRequest& req,
                                     XmlNode out) {
  MC_RETURN_IF_ERROR(s.groups.DeletePlacementGroup(req).status());
  Bool(out, "return", true);
  return absl::OkStatus();
}

}  // namespace

void AddImageActions(ActionTable& t) {
  t["DescribeImages"] = Bind<ParseDescribeImages, RunDescribeImages>();
  t["DeregisterImage"] = Bind<ParseDeregisterImage, RunDeregisterImage>();
  t["RegisterImage"] = Bind<ParseRegisterImage, RunRegisterImage>();
  t["CreateImage"] = Bind<ParseCreateImage, RunCreateImage>();
  t["CopyImage"] = Bind<ParseCopyImage, RunCopyImage>();
}

void AddKeyPairActions(ActionTable& t) {
  t["CreateKeyPair"] = Bind<ParseCreateKeyPair, RunCreateKeyPair>();
  t["ImportKeyPair"] = Bind<ParseImportKeyPair, RunImportKeyPair>();
  t["DescribeKeyPairs"] = Bind<ParseDescribeKeyPairs, RunDescribeKeyPairs>();
  t["DeleteKeyPair"] = Bind<ParseDeleteKeyPair, RunDeleteKeyPair>();
}

void AddPlacementGroupActions(ActionTable& t) {
  t["CreatePlacementGroup"] = Bind<ParseCreatePlacementGroup, RunCreatePlacementGroup>();
  t["DescribePlacementGroups"] = Bind<ParseDescribePlacementGroups, RunDescribePlacementGroups>();
  t["DeletePlacementGroup"] = Bind<ParseDeletePlacementGroup, RunDeletePlacementGroup>();
}

}  // namespace minicloud::query
