// Image verbs: register-image, describe-images, deregister-image.
#include <filesystem>
#include <fstream>
#include <memory>

#include "cli/render.h"
#include "cli/shorthand.h"
#include "cli/verb.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using Stub = ComputeApi::Stub;

// Fills a RegisterImage request from an image recipe's manifest.json; flags already given win.
void ApplyManifest(const std::string& path, bool direct_kernel, v1::RegisterImageRequest& reg) {
  std::ifstream f(path);
  if (!f) throw UsageError("cannot read manifest '" + path + "'");
  json m;
  try {
    m = json::parse(f);
    const std::string dir = std::filesystem::absolute(path).parent_path().string() + "/";
    if (reg.name().empty()) reg.set_name(m.at("name").get<std::string>());
    if (reg.description().empty()) reg.set_description(m.value("description", ""));
    if (reg.image_location().empty()) {
      reg.set_image_location(dir + m.at("disk").at("file").get<std::string>());
      reg.set_sha256(m.at("disk").at("sha256").get<std::string>());
    }
    reg.set_architecture(m.value("architecture", reg.architecture()));
    reg.set_root_device_name(m.value("root_device_name", reg.root_device_name()));
    const bool firmware = m.value("firmware_bootable", true);
    if (direct_kernel || !firmware) {
      reg.set_kernel_location(dir + m.at("kernel").at("file").get<std::string>());
      if (m.contains("ramdisk") && m["ramdisk"].is_object()) {
        reg.set_ramdisk_location(dir + m["ramdisk"].at("file").get<std::string>());
      }
      reg.set_kernel_command_line(m.value("kernel_cmdline", ""));
    }
  } catch (const json::exception& e) {
    throw UsageError("manifest '" + path + "' is not usable: " + e.what());
  }
}

void AddRegisterImage(VerbRegistry& verbs) {
  struct Flags {
    v1::RegisterImageRequest reg;
    std::string manifest;
    bool direct_kernel = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("register-image", "add a qcow2 AMI", [f](VerbContext& ctx) {
    v1::RegisterImageRequest reg = f->reg;
    if (!f->manifest.empty()) ApplyManifest(f->manifest, f->direct_kernel, reg);
    if (reg.name().empty()) throw UsageError("register-image needs --name (or --manifest)");
    if (reg.image_location().empty()) {
      throw UsageError("register-image needs --image-location (or --manifest)");
    }
    auto resp = ctx.api.Call("RegisterImage", &Stub::RegisterImage, reg);
    Print(ctx, {{"ImageId", resp.image_id()}}, "", {});
    return 0;
  });
  cmd->add_option("--manifest", f->manifest,
                  "manifest.json written by images/build-*.sh (fills the fields below)");
  cmd->add_flag("--direct-kernel-boot", f->direct_kernel,
                "with --manifest: boot the manifest's kernel and ramdisk directly");
  v1::RegisterImageRequest& reg = f->reg;
  cmd->add_option("--name", *reg.mutable_name());
  cmd->add_option("--image-location", *reg.mutable_image_location(),
                  "qcow2 file readable by the controller");
  cmd->add_option("--description", *reg.mutable_description());
  cmd->add_option("--architecture", *reg.mutable_architecture())->default_val("x86_64");
  cmd->add_option("--root-device-name", *reg.mutable_root_device_name())->default_val("/dev/xvda");
  cmd->add_option("--sha256", *reg.mutable_sha256(), "expected checksum of the file");
  cmd->add_option("--kernel", *reg.mutable_kernel_location(), "kernel for direct boot");
  cmd->add_option("--ramdisk", *reg.mutable_ramdisk_location(), "initrd for direct boot");
  cmd->add_option("--kernel-command-line", *reg.mutable_kernel_command_line());
}

void AddDescribeImages(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> ids, filters;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("describe-images", "list AMIs", [f](VerbContext& ctx) {
    v1::DescribeImagesRequest req;
    for (const auto& id : f->ids) req.add_image_ids(id);
    for (const auto& text : f->filters) *req.add_filters() = ParseFilter(text);
    auto resp = ctx.api.Call("DescribeImages", &Stub::DescribeImages, req);
    json doc = {{"Images", json::array()}};
    for (const auto& i : resp.images()) doc["Images"].push_back(ImageJson(i));
    Print(ctx, doc, "Images", {"ImageId", "Name", "Architecture", "BootMode", "CreationDate"});
    return 0;
  });
  cmd->add_option("--image-ids", f->ids);
  cmd->add_option("--filters", f->filters, "Name=<name>,Values=<v1>,<v2> (repeatable)");
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

}  // namespace

void RegisterImageVerbs(VerbRegistry& verbs) {
  AddRegisterImage(verbs);
  AddDescribeImages(verbs);
  AddDeregisterImage(verbs);
}

}  // namespace minicloud::cli
