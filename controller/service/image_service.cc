#include "controller/service/image_service.h"

#include <fstream>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/ec2_error.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/storage/qcow2.h"
#include "controller/service/filters.h"
#include "controller/service/instance_state.h"
#include "controller/service/timestamp.h"

namespace minicloud::controller {
namespace {

// A bzImage carries "HdrS" at offset 0x202 (Linux boot protocol).
absl::Status CheckKernel(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return InvalidParameterValue(absl::StrCat("kernel file '", path, "' cannot be read"));
  char magic[4] = {};
  f.seekg(0x202);
  f.read(magic, 4);
  if (!f || absl::string_view(magic, 4) != "HdrS") {
    return InvalidParameterValue(
        absl::StrCat("kernel file '", path, "' is not a Linux bzImage (no HdrS header)"));
  }
  return absl::OkStatus();
}

v1::Image ToApi(const v1::ImageRecord& r) {
  v1::Image i;
  i.set_image_id(r.image_id());
  i.set_name(r.name());
  i.set_description(r.description());
  i.set_architecture(r.architecture());
  i.set_root_device_name(r.root_device_name());
  i.set_root_device_type("ebs");
  i.set_state("available");
  i.set_image_type("machine");
  i.set_owner_id(r.owner_id());
  *i.mutable_creation_date() = ToTimestamp(r.creation_time_ms());
  i.set_sha256(r.boot().sha256());
  i.set_size_bytes(r.boot().size_bytes());
  i.set_virtual_size_bytes(r.virtual_size_bytes());
  i.set_kernel_id(r.boot().kernel_sha256());
  i.set_ramdisk_id(r.boot().ramdisk_sha256());
  i.set_boot_mode(r.boot().kernel_sha256().empty() ? "legacy-bios" : "direct-kernel");
  return i;
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

absl::StatusOr<v1::RegisterImageResponse> ImageService::RegisterImage(
    const v1::RegisterImageRequest& req) {
  if (req.name().empty()) return MissingParameter("The request must contain the parameter name");
  if (!IsValidImageName(req.name())) {
    return InvalidParameterValue(
        absl::StrCat("AMI name '", req.name(),
                     "' must be 3-128 characters of letters, numbers, ( ) [ ] space . / - ' @ _"));
  }
  std::string arch = req.architecture().empty() ? "x86_64" : req.architecture();
  if (arch != "x86_64") {
    return InvalidParameterValue(
        absl::StrCat("Unsupported architecture '", arch, "'; hosts run x86_64 guests"));
  }
  if (req.image_location().empty()) {
    return MissingParameter("The request must contain the image file (ImageLocation)");
  }
  if (req.ramdisk_location().size() && req.kernel_location().empty()) {
    return InvalidParameterValue("A ramdisk needs a kernel");
  }
  {
    std::lock_guard<std::mutex> lock(state_.mu());
    for (const auto& [id, img] : state_.images()) {
      if (img.name() == req.name()) {
        return Ec2Error(absl::StatusCode::kAlreadyExists, "InvalidAMIName.Duplicate",
                        absl::StrCat("AMI name ", req.name(), " is already in use by AMI ", id));
      }
    }
  }

  // Validate the disk before copying anything.
  auto info = storage::InspectQcow2(req.image_location());
  if (!info.ok()) {
    return InvalidParameterValue(absl::StrCat("image file '", req.image_location(),
                                              "' is not usable: ", info.status().message()));
  }
  if (info->has_backing_file()) {
    return InvalidParameterValue(absl::StrCat("image file '", req.image_location(),
                                              "' has a backing file; flatten it first "
                                              "(qemu-img convert -O qcow2)"));
  }
  if (!req.kernel_location().empty()) MC_RETURN_IF_ERROR(CheckKernel(req.kernel_location()));

  v1::BootImage boot;
  auto disk = blobs_.Import(req.image_location(), req.sha256());
  if (!disk.ok()) {
    return InvalidParameterValue(
        absl::StrCat("import '", req.image_location(), "': ", disk.status().message()));
  }
  boot.set_sha256(disk->sha256);
  boot.set_size_bytes(disk->size_bytes);
  if (!req.kernel_location().empty()) {
    auto k = blobs_.Import(req.kernel_location(), "");
    if (!k.ok())
      return InvalidParameterValue(absl::StrCat("import kernel: ", k.status().message()));
    boot.set_kernel_sha256(k->sha256);
    boot.set_kernel_size_bytes(k->size_bytes);
    boot.set_kernel_command_line(req.kernel_command_line());
  }
  if (!req.ramdisk_location().empty()) {
    auto r = blobs_.Import(req.ramdisk_location(), "");
    if (!r.ok()) {
      return InvalidParameterValue(absl::StrCat("import ramdisk: ", r.status().message()));
    }
    boot.set_ramdisk_sha256(r->sha256);
    boot.set_ramdisk_size_bytes(r->size_bytes);
  }

  std::lock_guard<std::mutex> lock(state_.mu());
  for (const auto& [id, img] : state_.images()) {  // re-check: a racing call may have won
    if (img.name() == req.name()) {
      return Ec2Error(absl::StatusCode::kAlreadyExists, "InvalidAMIName.Duplicate",
                      absl::StrCat("AMI name ", req.name(), " is already in use by AMI ", id));
    }
  }
  v1::ImageRecord rec;
  rec.set_image_id(ids_.Next("ami"));
  rec.set_name(req.name());
  rec.set_description(req.description());
  rec.set_architecture(arch);
  rec.set_root_device_name(req.root_device_name().empty() ? "/dev/xvda" : req.root_device_name());
  boot.set_image_id(rec.image_id());
  *rec.mutable_boot() = boot;
  rec.set_virtual_size_bytes(static_cast<int64_t>(info->virtual_size));
  rec.set_creation_time_ms(absl::ToUnixMillis(clock_.Now()));
  rec.set_owner_id(state_.config().owner_id);
  CloudState::Changes changes;
  changes.images[rec.image_id()] = rec;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record image"));
  spdlog::info("registered {} '{}' (sha256 {}, {} bytes)", rec.image_id(), rec.name(),
               boot.sha256(), boot.size_bytes());
  v1::RegisterImageResponse resp;
  resp.set_image_id(rec.image_id());
  return resp;
}

absl::StatusOr<v1::DescribeImagesResponse> ImageService::DescribeImages(
    const v1::DescribeImagesRequest& req) {
  for (const auto& f : req.filters()) {
    if (f.name() != "name" && f.name() != "image-id" && f.name() != "architecture") {
      return InvalidParameterValue(absl::StrCat("The filter '", f.name(), "' is invalid"));
    }
  }
  std::lock_guard<std::mutex> lock(state_.mu());
  v1::DescribeImagesResponse resp;
  std::vector<const v1::ImageRecord*> selected;
  if (req.image_ids_size() > 0) {
    for (const auto& id : req.image_ids()) {
      auto it = state_.images().find(id);
      if (it == state_.images().end()) return ImageNotFound(id);
      selected.push_back(&it->second);
    }
  } else {
    for (const auto& [id, r] : state_.images()) selected.push_back(&r);
  }
  for (const auto* r : selected) {
    bool match = true;
    for (const auto& f : req.filters()) {
      const std::string& actual = f.name() == "name"       ? r->name()
                                  : f.name() == "image-id" ? r->image_id()
                                                           : r->architecture();
      bool any = false;
      for (const auto& v : f.values()) any = any || GlobMatch(v, actual);
      match = match && any;
    }
    if (match) *resp.add_images() = ToApi(*r);
  }
  return resp;
}

absl::StatusOr<v1::DeregisterImageResponse> ImageService::DeregisterImage(
    const v1::DeregisterImageRequest& req) {
  std::set<std::string> orphaned;
  {
    std::lock_guard<std::mutex> lock(state_.mu());
    auto it = state_.images().find(req.image_id());
    if (it == state_.images().end()) return ImageNotFound(req.image_id());
    const v1::BootImage boot = it->second.boot();
    CloudState::Changes changes;
    changes.deleted_images.push_back(req.image_id());
    MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "deregister image"));
    // Blobs still used by another image or by a live instance stay.
    std::set<std::string> in_use;
    for (const auto& [id, img] : state_.images()) {
      in_use.insert({img.boot().sha256(), img.boot().kernel_sha256(), img.boot().ramdisk_sha256()});
    }
    for (const auto& [id, inst] : state_.instances()) {
      if (inst.state() == v1::INSTANCE_STATE_CODE_TERMINATED) continue;
      in_use.insert(
          {inst.image().sha256(), inst.image().kernel_sha256(), inst.image().ramdisk_sha256()});
    }
    for (const auto& sha : {boot.sha256(), boot.kernel_sha256(), boot.ramdisk_sha256()}) {
      if (!sha.empty() && !in_use.contains(sha)) orphaned.insert(sha);
    }
  }
  for (const auto& sha : orphaned) {
    if (auto s = blobs_.Remove(sha); !s.ok()) spdlog::warn("remove blob {}: {}", sha, s.message());
  }
  return v1::DeregisterImageResponse();
}

}  // namespace minicloud::controller
