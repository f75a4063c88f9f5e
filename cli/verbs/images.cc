// Image verbs: register-image, describe-images, deregister-image, create-image, copy-image.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>

#include "cli/render.h"
#include "cli/shorthand.h"
#include "cli/verb.h"
#include "cli/verbs/paging.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using Stub = ComputeApi::Stub;

// The local files register-image uploads (the controller never opens a caller's path).
struct ImageFiles {
  std::string disk, kernel, ramdisk;
};

// Fills a RegisterImage request and its files from an image recipe's manifest.json; flags
// already given win.
void ApplyManifest(const std::string& path, bool direct_kernel, v1::RegisterImageRequest& reg,
                   ImageFiles& files) {
  std::ifstream f(path);
  if (!f) throw UsageError("cannot read manifest '" + path + "'");
  json m;
  try {
    m = json::parse(f);
    const std::string dir = std::filesystem::absolute(path).parent_path().string() + "/";
    if (reg.name().empty()) reg.set_name(m.at("name").get<std::string>());
    if (reg.description().empty()) reg.set_description(m.value("description", ""));
    if (files.disk.empty()) {
      files.disk = dir + m.at("disk").at("file").get<std::string>();
      reg.set_sha256(m.at("disk").at("sha256").get<std::string>());
    }
    reg.set_architecture(m.value("architecture", reg.architecture()));
    reg.set_root_device_name(m.value("root_device_name", reg.root_device_name()));
    if (reg.root_device_type().empty()) {
      reg.set_root_device_type(m.value("root_device_type", std::string()));
    }
    const bool firmware = m.value("firmware_bootable", true);
    if (direct_kernel || !firmware) {
      files.kernel = dir + m.at("kernel").at("file").get<std::string>();
      reg.set_kernel_sha256(m["kernel"].value("sha256", ""));
      if (m.contains("ramdisk") && m["ramdisk"].is_object()) {
        files.ramdisk = dir + m["ramdisk"].at("file").get<std::string>();
        reg.set_ramdisk_sha256(m["ramdisk"].value("sha256", ""));
      }
      reg.set_kernel_command_line(m.value("kernel_cmdline", ""));
    }
  } catch (const json::exception& e) {
    throw UsageError("manifest '" + path + "' is not usable: " + e.what());
  }
}

// Size of a local file to upload; a usage error when it is not a readable regular file.
int64_t UploadSize(const std::string& flag, const std::string& path) {
  std::error_code ec;
  const bool regular = std::filesystem::is_regular_file(path, ec);
  const auto size = regular ? std::filesystem::file_size(path, ec) : 0;
  if (!regular || ec || !std::ifstream(path, std::ios::binary)) {
    throw UsageError("Error parsing parameter '" + flag + "': cannot read '" + path + "'");
  }
  return static_cast<int64_t>(size);
}

constexpr size_t kUploadChunkBytes = 1 << 20;

// Streams the request, then the files' bytes, as one RegisterImage call.
grpc::Status StreamImage(Stub& stub, grpc::ClientContext& ctx, const v1::RegisterImageRequest& reg,
                         const ImageFiles& files, v1::RegisterImageResponse& resp) {
  // --cli-read-timeout bounds the waiting, not the transfer: the deadline grows by one second per
  // MiB uploaded, so only a link slower than 1 MiB/s gives up on a large image.
  const int64_t total = reg.image_size_bytes() + reg.kernel_size_bytes() + reg.ramdisk_size_bytes();
  ctx.set_deadline(ctx.deadline() + std::chrono::seconds(total >> 20));
  auto writer = stub.RegisterImage(&ctx, &resp);
  v1::RegisterImageUpload msg;
  *msg.mutable_request() = reg;
  bool open = writer->Write(msg);
  std::string buf(kUploadChunkBytes, '\0');
  for (const std::string* path : {&files.disk, &files.kernel, &files.ramdisk}) {
    if (path->empty() || !open) continue;
    std::ifstream in(*path, std::ios::binary);
    while (open && in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      if (in.gcount() <= 0) break;
      msg.set_data(buf.data(), static_cast<size_t>(in.gcount()));
      open = writer->Write(msg);  // false: the controller refused; Finish says why
    }
  }
  if (open) writer->WritesDone();
  return writer->Finish();
}

void AddRegisterImage(VerbRegistry& verbs) {
  struct Flags {
    v1::RegisterImageRequest reg;
    ImageFiles files;
    std::string manifest;
    bool direct_kernel = false;
    std::vector<std::string> tags, tag_specifications, block_device_mappings;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("register-image", "upload a qcow2 AMI", [f](VerbContext& ctx) {
    v1::RegisterImageRequest reg = f->reg;
    ImageFiles files = f->files;
    if (!f->manifest.empty()) ApplyManifest(f->manifest, f->direct_kernel, reg, files);
    if (reg.name().empty()) throw UsageError("register-image needs --name (or --manifest)");
    for (const auto& t : f->tags) *reg.add_tags() = ParseTag(t);
    for (const auto& t :
         TagsFor(ParseTagSpecifications(f->tag_specifications), "image", "RegisterImage")) {
      *reg.add_tags() = t;
    }
    for (auto& m : ParseBlockDeviceMappings(f->block_device_mappings)) {
      *reg.add_block_device_mappings() = std::move(m);
    }
    if (files.disk.empty() && files.kernel.empty() && files.ramdisk.empty() &&
        reg.block_device_mappings_size() > 0) {
      // An AMI of a snapshot (the root mapping's SnapshotId): nothing to upload; the
      // controller says so when the root names no snapshot.
      v1::RegisterImageResponse resp;
      ctx.api.Send("RegisterImage", reg, resp, [&](Stub& stub, grpc::ClientContext& c) {
        return StreamImage(stub, c, reg, files, resp);
      });
      Print(ctx, {{"ImageId", resp.image_id()}}, "", {});
      return 0;
    }
    if (files.disk.empty()) {
      throw UsageError(
          "register-image needs --image-location (or --manifest), or a root "
          "--block-device-mappings entry with a SnapshotId");
    }
    reg.set_image_size_bytes(UploadSize("--image-location", files.disk));
    if (!files.kernel.empty()) reg.set_kernel_size_bytes(UploadSize("--kernel", files.kernel));
    if (!files.ramdisk.empty()) reg.set_ramdisk_size_bytes(UploadSize("--ramdisk", files.ramdisk));
    v1::RegisterImageResponse resp;
    ctx.api.Send("RegisterImage", reg, resp, [&](Stub& stub, grpc::ClientContext& c) {
      return StreamImage(stub, c, reg, files, resp);
    });
    Print(ctx, {{"ImageId", resp.image_id()}}, "", {});
    return 0;
  });
  cmd->add_option("--manifest", f->manifest,
                  "manifest.json written by images/build-*.sh (fills the fields below)");
  cmd->add_flag("--direct-kernel-boot", f->direct_kernel,
                "with --manifest: boot the manifest's kernel and ramdisk directly");
  v1::RegisterImageRequest& reg = f->reg;
  cmd->add_option("--name", *reg.mutable_name());
  cmd->add_option("--image-location", f->files.disk,
                  "local qcow2 file; its bytes are uploaded to the controller");
  cmd->add_option("--description", *reg.mutable_description());
  cmd->add_option("--architecture", *reg.mutable_architecture())->default_val("x86_64");
  cmd->add_option("--root-device-name", *reg.mutable_root_device_name())->default_val("/dev/xvda");
  cmd->add_option("--sha256", *reg.mutable_sha256(), "expected checksum of the disk");
  cmd->add_option("--kernel", f->files.kernel, "local bzImage for direct boot (uploaded)");
  cmd->add_option("--ramdisk", f->files.ramdisk, "local initramfs for direct boot (uploaded)");
  cmd->add_option("--kernel-command-line", *reg.mutable_kernel_command_line());
  cmd->add_option("--tags", f->tags, "Key=os,Value=debian (image tags; repeatable)");
  cmd->add_option("--tag-specifications", f->tag_specifications,
                  "ResourceType=image,Tags=[{Key=os,Value=debian}] (or JSON)");
  cmd->add_option("--block-device-mappings", f->block_device_mappings,
                  "DeviceName=/dev/xvda,Ebs={VolumeSize=8} makes an EBS-backed AMI (or JSON)");
  cmd->add_option("--root-device-type", *reg.mutable_root_device_type(),
                  "ebs | instance-store (default: the Ebs root mapping's, else a host-local root)");
}

void AddDescribeImages(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> ids, filters;
    PagingFlags paging;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("describe-images", "list AMIs", [f](VerbContext& ctx) {
    json doc = {{"Images", json::array()}};
    const std::string next = f->paging.Run(
        [&](int max_results, const std::string& token) {
          v1::DescribeImagesRequest req;
          for (const auto& id : f->ids) req.add_image_ids(id);
          for (auto& filter : ParseFilters(f->filters)) *req.add_filters() = std::move(filter);
          req.set_max_results(max_results);
          req.set_next_token(token);
          auto resp = ctx.api.Call("DescribeImages", &Stub::DescribeImages, req);
          for (const auto& i : resp.images()) doc["Images"].push_back(ImageJson(i));
          return resp.next_token();
        },
        doc["Images"]);
    if (!next.empty()) doc["NextToken"] = next;
    Print(ctx, doc, "Images", {"ImageId", "Name", "Architecture", "BootMode", "CreationDate"});
    return 0;
  });
  cmd->add_option("--image-ids", f->ids);
  cmd->add_option("--filters", f->filters, "Name=<name>,Values=<v1>,<v2> (repeatable)");
  f->paging.AddTo(cmd);
}

void AddDeregisterImage(VerbRegistry& verbs) {
  auto id = std::make_shared<std::string>();
  CLI::App* cmd = verbs.Add("deregister-image", "remove an AMI", [id](VerbContext& ctx) {
    v1::DeregisterImageRequest req;
    req.set_image_id(*id);
    ctx.api.Call("DeregisterImage", &Stub::DeregisterImage, req);
    return 0;
  });
  cmd->add_option("--image-id", *id)->required();
}

void AddCreateImage(VerbRegistry& verbs) {
  struct Flags {
    v1::CreateImageRequest req;
    std::vector<std::string> tag_specifications, block_device_mappings;
    bool no_reboot = false, dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add(
      "create-image", "make an EBS-backed AMI of an instance's volumes", [f](VerbContext& ctx) {
        v1::CreateImageRequest req = f->req;
        req.set_no_reboot(f->no_reboot);
        req.set_dry_run(f->dry_run);
        for (const auto& spec : ParseTagSpecifications(f->tag_specifications)) {
          // CreateImage tags the AMI and its snapshots (EC2's ResourceType image | snapshot).
          const bool snapshot = spec.resource_type == "snapshot";
          for (const auto& t : TagsFor({spec}, snapshot ? "snapshot" : "image", "CreateImage")) {
            *(snapshot ? req.add_snapshot_tags() : req.add_tags()) = t;
          }
        }
        for (auto& m : ParseBlockDeviceMappings(f->block_device_mappings)) {
          *req.add_block_device_mappings() = std::move(m);
        }
        auto resp = ctx.api.Call("CreateImage", &Stub::CreateImage, req);
        Print(ctx, {{"ImageId", resp.image_id()}}, "", {});
        return 0;
      });
  cmd->add_option("--instance-id", *f->req.mutable_instance_id())->required();
  cmd->add_option("--name", *f->req.mutable_name())->required();
  cmd->add_option("--description", *f->req.mutable_description());
  cmd->add_flag("--no-reboot", f->no_reboot,
                "snapshot the running instance as it is (crash-consistent); by default it is "
                "stopped cleanly first and started again");
  cmd->add_option("--block-device-mappings", f->block_device_mappings,
                  "DeviceName=/dev/sdf,Ebs={DeleteOnTermination=false}, DeviceName=/dev/sdg,"
                  "NoDevice= (or JSON)");
  cmd->add_option("--tag-specifications", f->tag_specifications,
                  "ResourceType=image|snapshot,Tags=[{Key=Name,Value=baked}] (or JSON)");
  cmd->add_flag("--dry-run", f->dry_run);
}

void AddCopyImage(VerbRegistry& verbs) {
  struct Flags {
    v1::CopyImageRequest req;
    bool dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("copy-image", "copy an AMI and its snapshots within the region",
                            [f](VerbContext& ctx) {
                              v1::CopyImageRequest req = f->req;
                              req.set_dry_run(f->dry_run);
                              auto resp = ctx.api.Call("CopyImage", &Stub::CopyImage, req);
                              Print(ctx, {{"ImageId", resp.image_id()}}, "", {});
                              return 0;
                            });
  cmd->add_option("--source-image-id", *f->req.mutable_source_image_id())->required();
  cmd->add_option("--source-region", *f->req.mutable_source_region(),
                  "the source's region: this cloud's (copies stay in the region)")
      ->required();
  cmd->add_option("--name", *f->req.mutable_name())->required();
  cmd->add_option("--description", *f->req.mutable_description());
  cmd->add_flag("--dry-run", f->dry_run);
}

}  // namespace

void RegisterImageVerbs(VerbRegistry& verbs) {
  AddRegisterImage(verbs);
  AddDescribeImages(verbs);
  AddDeregisterImage(verbs);
  AddCreateImage(verbs);
  AddCopyImage(verbs);
}

}  // namespace minicloud::cli
