#include "controller/service/image_service.h"

#include <map>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/ec2_error.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/storage/qcow2.h"
#include "controller/service/ebs_mapping.h"
#include "controller/service/filters.h"
#include "controller/service/instance_state.h"
#include "controller/service/pagination.h"
#include "controller/service/tag_service.h"
#include "controller/service/timestamp.h"

namespace minicloud::controller {
namespace {

v1::Image ToApi(const v1::ImageRecord& r) {
  v1::Image i;
  i.set_image_id(r.image_id());
  i.set_name(r.name());
  i.set_description(r.description());
  i.set_architecture(r.architecture());
  i.set_root_device_name(r.root_device_name());
  i.set_root_device_type(ShownRootDeviceType(r));
  i.set_state(r.state().empty() ? "available" : r.state());
  if (!r.state_reason().empty()) {
    i.mutable_state_reason()->set_code("Server.InternalError");
    i.mutable_state_reason()->set_message(r.state_reason());
  }
  i.set_image_type("machine");
  i.set_owner_id(r.owner_id());
  *i.mutable_creation_date() = ToTimestamp(r.creation_time_ms());
  i.set_sha256(r.boot().sha256());
  i.set_size_bytes(r.boot().size_bytes());
  i.set_virtual_size_bytes(r.virtual_size_bytes());
  i.set_kernel_id(r.boot().kernel_sha256());
  i.set_ramdisk_id(r.boot().ramdisk_sha256());
  i.set_boot_mode(r.boot().kernel_sha256().empty() ? "legacy-bios" : "direct-kernel");
  *i.mutable_tags() = TagList(r.tags());
  *i.mutable_block_device_mappings() = r.block_device_mappings();
  if (r.root_device_type().empty()) {
    // The host-local root of earlier versions, as they described it.
    v1::BlockDeviceMapping* m = i.add_block_device_mappings();
    m->set_device_name(r.root_device_name());
    m->mutable_ebs()->set_volume_size(static_cast<int32_t>(GibFor(r.virtual_size_bytes())));
    m->mutable_ebs()->set_delete_on_termination(true);
    m->mutable_ebs()->set_volume_type("gp3");
    m->mutable_ebs()->set_encrypted(false);
  }
  // EC2 names one snapshot per AMI: the root's, here the one of the first zone by name (a
  // protobuf map has no order of its own).
  if (!r.zone_snapshots().empty()) {
    const std::map<std::string, std::string> by_zone(r.zone_snapshots().begin(),
                                                     r.zone_snapshots().end());
    for (auto& m : *i.mutable_block_device_mappings()) {
      if (m.has_ebs() && SameDevice(m.device_name(), r.root_device_name())) {
        m.mutable_ebs()->set_snapshot_id(by_zone.begin()->second);
      }
    }
  }
  return i;
}

// DescribeImages' filters (a subset of botocore's EC2 model that minicloud images have), with
// tag:<key> and tag-key.
const FilterTable<v1::ImageRecord>& ImageFilters() {
  using Getter = FilterTable<v1::ImageRecord>::Getter;
  static const auto* kTable = new FilterTable<v1::ImageRecord>(
      std::map<std::string, Getter, std::less<>>{
          {"name", [](const auto& i) { return i.name(); }},
          {"image-id", [](const auto& i) { return i.image_id(); }},
          {"architecture", [](const auto& i) { return i.architecture(); }},
          {"description", [](const auto& i) { return i.description(); }},
          {"owner-id", [](const auto& i) { return i.owner_id(); }},
          {"root-device-name", [](const auto& i) { return i.root_device_name(); }},
          {"root-device-type", [](const auto& i) { return ShownRootDeviceType(i); }},
          {"state",
           [](const auto& i) { return i.state().empty() ? std::string("available") : i.state(); }},
          {"image-type", [](const auto&) { return std::string("machine"); }},
      },
      [](const v1::ImageRecord& i) -> const TagMap& { return i.tags(); });
  return *kTable;
}

absl::Status ImageNotFound(absl::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidAMIID.NotFound",
                  absl::StrCat("The image id '[", id, "]' does not exist"));
}

}  // namespace

bool IsValidImageName(absl::string_view name) {
  if (name.size() < 3 || name.size() > 128) return false;
  for (char c : name) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) continue;
    if (absl::string_view("()[] ./-'@_").find(c) == absl::string_view::npos) return false;
  }
  return true;
}

absl::Status ImageService::CheckNameFreeLocked(const std::string& name) const {
  for (const auto& [id, img] : state_.images()) {
    if (img.name() == name) {
      return Ec2Error(absl::StatusCode::kAlreadyExists, "InvalidAMIName.Duplicate",
                      absl::StrCat("AMI name ", name, " is already in use by AMI ", id));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ImageService::Registration>> ImageService::BeginRegisterImage(
    const v1::RegisterImageRequest& req) {
  if (req.name().empty()) return MissingParameter("The request must contain the parameter name");
  if (!IsValidImageName(req.name())) {
    return InvalidParameterValue(
        absl::StrCat("AMI name '", req.name(),
                     "' must be 3-128 characters of letters, numbers, ( ) [ ] space . / - ' @ _"));
  }
  MC_RETURN_IF_ERROR(ValidateTagSpecification(req.tags(), TagUse::kApiOnly, "image"));
  v1::RegisterImageRequest normal = req;
  if (normal.architecture().empty()) normal.set_architecture("x86_64");
  if (normal.architecture() != "x86_64") {
    return InvalidParameterValue(absl::StrCat("Unsupported architecture '", normal.architecture(),
                                              "'; hosts run x86_64 guests"));
  }
  if (normal.root_device_name().empty()) normal.set_root_device_name("/dev/xvda");
  // The mapping's rules before any byte is stored (the disk's size is checked again at Record).
  MC_ASSIGN_OR_RETURN(const ImageMapping mapping, ResolveImageMapping(normal, 0));
  if (mapping.root_device_type == kRootDeviceTypeEbs &&
      (volumes_ == nullptr || !volumes_->CanImportImages())) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "UnsupportedOperation",
                    "EBS-backed AMIs need a volume service in an availability zone; this cloud "
                    "has none (register the AMI without an Ebs root mapping)");
  }
  {
    std::lock_guard<std::mutex> lock(state_.mu());
    MC_RETURN_IF_ERROR(CheckNameFreeLocked(req.name()));
  }
  // Counted before anything is written: each upload holds temp files as large as its image.
  if (uploads_.fetch_add(1) >= kMaxUploads) {
    uploads_.fetch_sub(1);
    return absl::ResourceExhaustedError(absl::StrCat("Too many image uploads in progress (at most ",
                                                     kMaxUploads, "); retry later"));
  }
  auto upload = ImageUpload::Begin(blobs_, normal, limits_);
  if (!upload.ok()) {
    uploads_.fetch_sub(1);
    return upload.status();
  }
  return std::unique_ptr<Registration>(
      new Registration(*this, std::move(normal), *std::move(upload)));
}

ImageService::Registration::~Registration() { service_.uploads_.fetch_sub(1); }

absl::StatusOr<v1::RegisterImageResponse> ImageService::Registration::Finish() {
  auto files = upload_->Finish();
  absl::StatusOr<v1::RegisterImageResponse> resp =
      files.ok() ? service_.Record(req_, *files) : files.status();
  if (!resp.ok()) {
    const auto& c = upload_->committed();
    service_.RemoveUnusedBlobs(std::set<std::string>(c.begin(), c.end()));
    return resp;
  }
  // An EBS-backed AMI's disk becomes a snapshot in each zone now, so the first launch clones
  // it at once; a zone that cannot be reached gets it from the volume service's Reconcile.
  if (service_.volumes_ != nullptr) service_.volumes_->ImportImage(resp->image_id());
  return resp;
}

absl::StatusOr<v1::RegisterImageResponse> ImageService::Record(const v1::RegisterImageRequest& req,
                                                               const ImageUpload::Result& files) {
  v1::BootImage boot = files.boot;
  if (!boot.kernel_sha256().empty()) boot.set_kernel_command_line(req.kernel_command_line());
  std::lock_guard<std::mutex> lock(state_.mu());
  MC_RETURN_IF_ERROR(CheckNameFreeLocked(req.name()));  // a racing call may have won
  v1::ImageRecord rec;
  rec.set_image_id(ids_.Next("ami"));
  rec.set_name(req.name());
  rec.set_description(req.description());
  rec.set_architecture(req.architecture());
  rec.set_root_device_name(req.root_device_name());
  boot.set_image_id(rec.image_id());
  *rec.mutable_boot() = boot;
  rec.set_virtual_size_bytes(static_cast<int64_t>(files.virtual_size));
  MC_ASSIGN_OR_RETURN(ImageMapping mapping,
                      ResolveImageMapping(req, static_cast<int64_t>(files.virtual_size)));
  rec.set_root_device_type(mapping.root_device_type);
  for (auto& m : mapping.mappings) *rec.add_block_device_mappings() = std::move(m);
  rec.set_creation_time_ms(absl::ToUnixMillis(clock_.Now()));
  rec.set_owner_id(state_.config().owner_id);
  SetTags(req.tags(), *rec.mutable_tags());
  CloudState::Changes changes;
  changes.images[rec.image_id()] = rec;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record image"));
  spdlog::info("registered {} '{}' (sha256 {}, {} bytes)", rec.image_id(), rec.name(),
               boot.sha256(), boot.size_bytes());
  v1::RegisterImageResponse resp;
  resp.set_image_id(rec.image_id());
  return resp;
}

std::set<std::string> ImageService::BlobsInUseLocked() const {
  std::set<std::string> in_use;
  for (const auto& [id, img] : state_.images()) {
    in_use.insert({img.boot().sha256(), img.boot().kernel_sha256(), img.boot().ramdisk_sha256()});
  }
  for (const auto& [id, inst] : state_.instances()) {
    if (inst.state() == v1::INSTANCE_STATE_CODE_TERMINATED) continue;
    const v1::BootImage& boot = state_.BootImageOf(inst);
    in_use.insert({boot.sha256(), boot.kernel_sha256(), boot.ramdisk_sha256()});
  }
  return in_use;
}

void ImageService::RemoveUnusedBlobs(const std::set<std::string>& digests) {
  std::set<std::string> orphaned;
  {
    std::lock_guard<std::mutex> lock(state_.mu());
    const std::set<std::string> in_use = BlobsInUseLocked();
    for (const auto& sha : digests) {
      if (!sha.empty() && !in_use.contains(sha)) orphaned.insert(sha);
    }
  }
  for (const auto& sha : orphaned) {
    if (auto s = blobs_.Remove(sha); !s.ok()) spdlog::warn("remove blob {}: {}", sha, s.message());
  }
}

absl::StatusOr<std::string> ImageService::BlobForHost(const v1::FetchBlobRequest& req) {
  const std::string sha = absl::AsciiStrToLower(req.sha256());
  {
    std::lock_guard<std::mutex> lock(state_.mu());
    if (req.host_id().empty() || !state_.hosts().contains(req.host_id())) {
      return absl::PermissionDeniedError("FetchBlob is only for registered hosts");
    }
    bool allowed = false;
    auto has = [&](const v1::BootImage& b) {
      return !sha.empty() &&
             (b.sha256() == sha || b.kernel_sha256() == sha || b.ramdisk_sha256() == sha);
    };
    for (const auto& [id, img] : state_.images()) allowed = allowed || has(img.boot());
    if (!allowed) {
      for (const std::string& id : state_.index().InstancesOn(req.host_id())) {
        auto it = state_.instances().find(id);
        if (it != state_.instances().end() && has(state_.BootImageOf(it->second))) allowed = true;
      }
    }
    if (!allowed) {
      return absl::NotFoundError(absl::StrCat("blob ", sha.substr(0, 64), " is not an image file"));
    }
  }
  return blobs_.PathOf(sha);
}

absl::StatusOr<v1::DescribeImagesResponse> ImageService::DescribeImages(
    const v1::DescribeImagesRequest& req) {
  MC_RETURN_IF_ERROR(ImageFilters().Validate(req.filters()));
  MC_ASSIGN_OR_RETURN(const PageStart start,
                      StartPage(kDescribeImagesPages, {req.max_results(), req.next_token()},
                                req.image_ids_size() > 0));
  auto lock = state_.LockCommitted();
  std::set<std::string> ids;
  for (const auto& id : req.image_ids()) {
    if (!state_.images().contains(id)) return ImageNotFound(id);
    ids.insert(id);
  }
  // Matching images in id order (the order pages follow).
  std::vector<const v1::ImageRecord*> matching;
  std::vector<std::string> keys;
  for (const auto& [id, r] : state_.images()) {
    if (!ids.empty() && !ids.contains(id)) continue;
    if (!ImageFilters().Matches(r, req.filters())) continue;
    matching.push_back(&r);
    keys.push_back(id);
  }
  const Page page = TakePage(kDescribeImagesPages, start, keys);
  v1::DescribeImagesResponse resp;
  for (size_t i = page.begin; i < page.end; ++i) *resp.add_images() = ToApi(*matching[i]);
  resp.set_next_token(page.next_token);
  return resp;
}

absl::StatusOr<v1::DeregisterImageResponse> ImageService::DeregisterImage(
    const v1::DeregisterImageRequest& req) {
  std::set<std::string> orphaned;
  {
    std::lock_guard<std::mutex> lock(state_.mu());
    auto it = state_.images().find(req.image_id());
    if (it == state_.images().end()) return ImageNotFound(req.image_id());
    if (req.dry_run()) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation",
                      "Request would have succeeded, but DryRun flag is set.");
    }
    const v1::BootImage boot = it->second.boot();
    CloudState::Changes changes;
    changes.deleted_images.push_back(req.image_id());
    // Its instances keep booting from its files: the records that found them through the AMI
    // (CloudState::BootImageOf) get their own copy, in the same commit.
    for (const auto& [id, inst] : state_.instances()) {
      if (inst.image_id() != req.image_id() || inst.has_image()) continue;
      v1::InstanceRecord copy = inst;
      *copy.mutable_image() = boot;
      changes.instances[id] = std::move(copy);
    }
    MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "deregister image"));
    orphaned = {boot.sha256(), boot.kernel_sha256(), boot.ramdisk_sha256()};
  }
  // Blobs still used by another image or by a live instance stay.
  RemoveUnusedBlobs(orphaned);
  return v1::DeregisterImageResponse();
}

}  // namespace minicloud::controller
