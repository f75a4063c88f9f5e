// Verbs that read files: file:// and fileb:// arguments, and register-image, which uploads the
// files it names and takes what its flags leave empty from a manifest. Against FakeComputeApi,
// which records each request.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "minicloud/v1/compute.pb.h"
#include "tests/unit/cli/fake_compute_api.h"

namespace minicloud::cli {
namespace {

using testing::CliHarness;
using testing::EqualsText;
using testing::TextOf;

// A file in a fresh temporary directory, removed with it.
struct TempFile {
  explicit TempFile(const std::string& name, const std::string& content) {
    dir = std::filesystem::temp_directory_path() /
          ("minicloud-cli-test-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::create_directories(dir);
    path = (dir / name).string();
    std::ofstream(path, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove_all(dir); }
  std::filesystem::path dir;
  std::string path;
};

TEST_CASE("file:// and fileb:// arguments send the file's bytes", "[cli][parse]") {
  const std::string bytes = std::string("#!/bin/sh\necho \0x\n", 18);
  TempFile f("user-data.sh", bytes);
  for (const char* prefix : {"file://", "fileb://"}) {
    DYNAMIC_SECTION(prefix) {
      CliHarness cli;
      REQUIRE(
          cli.Run({"run-instances", "--image-id", "a", "--user-data", prefix + f.path}).exit_code ==
          0);
      const auto& req = static_cast<const v1::RunInstancesRequest&>(*cli.api.sent()[0].request);
      CHECK(req.user_data() == bytes);

      REQUIRE(cli.Run({"modify-instance-attribute", "--instance-id", "i-1", "--user-data",
                       prefix + f.path})
                  .exit_code == 0);
      const auto& mia =
          static_cast<const v1::ModifyInstanceAttributeRequest&>(*cli.api.sent()[1].request);
      CHECK(mia.user_data() == bytes);

      REQUIRE(
          cli.Run({"import-key-pair", "--key-name", "k", "--public-key-material", prefix + f.path})
              .exit_code == 0);
      const auto& imp = static_cast<const v1::ImportKeyPairRequest&>(*cli.api.sent()[2].request);
      CHECK(imp.public_key_material() == bytes);
    }
  }
}

TEST_CASE("register-image sends the sizes of the files it uploads", "[cli][parse]") {
  TempFile disk("tiny.qcow2", std::string(1000, 'd'));
  const std::string dir = disk.dir.string() + "/";
  std::ofstream(dir + "vmlinuz") << std::string(300, 'k');
  std::ofstream(dir + "initrd") << std::string(20, 'r');
  CliHarness cli;
  const auto r = cli.Run({"register-image", "--name", "tiny", "--image-location", disk.path,
                          "--sha256", "ab12", "--kernel", dir + "vmlinuz", "--ramdisk",
                          dir + "initrd", "--kernel-command-line", "console=ttyS0", "--description",
                          "d", "--architecture", "arm64", "--root-device-name", "/dev/vda"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(cli.api.sent().size() == 1);
  CHECK(cli.api.sent()[0].operation == "RegisterImage");
  CHECK(EqualsText(*cli.api.sent()[0].request,
                   R"(name: "tiny" sha256: "ab12" kernel_command_line: "console=ttyS0"
                      description: "d" architecture: "arm64" root_device_name: "/dev/vda"
                      image_size_bytes: 1000 kernel_size_bytes: 300 ramdisk_size_bytes: 20)"));
  CliHarness missing;
  const auto m = missing.Run({"register-image", "--name", "tiny", "--image-location", disk.path,
                              "--kernel", dir + "vmlinuz", "--ramdisk", dir + "nope"});
  CHECK(m.exit_code == kExitUsage);
  CHECK(m.err.find("'--ramdisk': cannot read") != std::string::npos);
  CHECK(missing.api.sent().empty());
}

TEST_CASE("register-image --manifest fills what the flags leave empty", "[cli][parse]") {
  TempFile m("manifest.json", R"({
    "name": "tiny-1", "description": "tiny test AMI", "architecture": "x86_64",
    "root_device_name": "/dev/vda", "firmware_bootable": true,
    "disk": {"file": "disk.qcow2", "sha256": "d00d"},
    "kernel": {"file": "vmlinuz", "sha256": "beef"}, "ramdisk": {"file": "initrd.img"},
    "kernel_cmdline": "console=ttyS0"})");
  const std::string dir = m.dir.string() + "/";
  std::ofstream(dir + "disk.qcow2") << std::string(64, 'd');
  std::ofstream(dir + "vmlinuz") << std::string(32, 'k');
  std::ofstream(dir + "initrd.img") << std::string(16, 'r');
  std::ofstream(dir + "elsewhere.qcow2") << std::string(8, 'e');
  struct Case {
    std::vector<std::string> extra;
    std::string request;
  };
  const std::vector<Case> cases = {
      {{},
       R"(name: "tiny-1" description: "tiny test AMI" architecture: "x86_64"
          root_device_name: "/dev/vda" sha256: "d00d" image_size_bytes: 64)"},
      {{"--name", "mine", "--direct-kernel-boot"},
       R"(name: "mine" description: "tiny test AMI" architecture: "x86_64"
          root_device_name: "/dev/vda" sha256: "d00d" kernel_sha256: "beef"
          kernel_command_line: "console=ttyS0" image_size_bytes: 64 kernel_size_bytes: 32
          ramdisk_size_bytes: 16)"},
      {{"--image-location", dir + "elsewhere.qcow2"},
       R"(name: "tiny-1" description: "tiny test AMI" architecture: "x86_64"
          root_device_name: "/dev/vda" image_size_bytes: 8)"},
  };
  for (const auto& c : cases) {
    CliHarness cli;
    std::vector<std::string> args = {"register-image", "--manifest", m.path};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    const auto r = cli.Run(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    INFO("sent: " << TextOf(*cli.api.sent()[0].request));
    CHECK(EqualsText(*cli.api.sent()[0].request, c.request));
  }
  TempFile bad("broken-manifest.json", R"({"name": "x"})");
  CliHarness cli;
  const auto r = cli.Run({"register-image", "--manifest", bad.path});
  CHECK(r.exit_code == kExitUsage);
  CHECK(r.err.find("manifest '" + bad.path + "' is not usable") != std::string::npos);
}

}  // namespace
}  // namespace minicloud::cli
