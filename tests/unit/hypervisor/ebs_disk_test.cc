// EBS disks on the agent's side (agent/hypervisor/ebs_disk.h): input validation, the serial, the
// EC2 device name -> virtio target mapping, and the disks of a libvirt domain XML.
// Bugs each test would catch:
// - "validation": dropping any one check (host, port, export, volume id, target, burst rules)
//   lets a hostile or broken value reach QEMU's monitor; BuildDomainXml must refuse the same
//   spec (it validates EBS disks although it writes none).
// - "EbsTargetDev": mapping sdf to a different letter than xvdf (two names, one slot), accepting
//   the root's names or partitions, or not refusing a target in use.

#include "agent/hypervisor/ebs_disk.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "agent/hypervisor/domain_xml.h"
#include "common/ec2_error.h"
#include "common/volume_limits.h"
#include "tests/testing/golden.h"
#include "tests/unit/hypervisor/spec_builder.h"

namespace minicloud::hypervisor {
namespace {

const std::filesystem::path kGoldenDir =
    std::filesystem::path(MINICLOUD_SOURCE_DIR) / "tests" / "golden" / "hypervisor";

volumes::IoTune IoTuneFor(volumes::VolumeType type, int64_t size_gib,
                          std::optional<int64_t> iops = std::nullopt) {
  volumes::VolumeRequest req;
  req.type = type;
  req.size_gib = size_gib;
  req.iops = iops;
  absl::StatusOr<volumes::VolumePerformance> perf = volumes::ResolveVolume(req);
  REQUIRE(perf.ok());
  return volumes::IoTuneOf(type, size_gib, *perf);
}

EbsDisk Gp2Disk() {
  return EbsDisk{.volume_id = "vol-0123456789abcdef0",
                 .nbd_host = "volumed.home-1a.minicloud.internal",
                 .nbd_port = 10809,
                 .export_name = "vol-0123456789abcdef0",
                 .target_dev = "vdf",
                 .iotune = IoTuneFor(volumes::VolumeType::kGp2, 100)};
}

EbsDisk Io2Disk() {
  return EbsDisk{.volume_id = "vol-0fedcba9876543210",
                 .nbd_host = "fd00:10::5",
                 .nbd_port = 20809,
                 .export_name = "vol-0fedcba9876543210",
                 .target_dev = "vdg",
                 .iotune = IoTuneFor(volumes::VolumeType::kIo2, 50, 5000)};
}

TEST_CASE("EbsSerial drops the dash like EC2's NVMe serial", "[ebs_disk]") {
  CHECK(EbsSerial("vol-0123456789abcdef0") == "vol0123456789abcdef0");
  CHECK(EbsSerial("vol-0123456789abcdef0").size() == 20);  // virtio-blk's serial holds 20 bytes
  CHECK(EbsSerial("vol-1a2b3c4d") == "vol1a2b3c4d");
}

TEST_CASE("ValidateEbsDisk refuses each bad field", "[ebs_disk][validation]") {
  struct Row {
    std::string name;
    std::function<void(EbsDisk&)> mutate;
  };
  const std::vector<Row> rows = {
      {"volume id without prefix", [](EbsDisk& d) { d.volume_id = "0123456789abcdef0"; }},
      {"volume id upper case", [](EbsDisk& d) { d.volume_id = "vol-0123456789ABCDEF0"; }},
      {"volume id wrong length", [](EbsDisk& d) { d.volume_id = "vol-0123"; }},
      {"volume id with quote", [](EbsDisk& d) { d.volume_id = "vol-0123456'<abcdef0"; }},
      {"empty host", [](EbsDisk& d) { d.nbd_host = ""; }},
      {"host with quote", [](EbsDisk& d) { d.nbd_host = "a'/><host name='evil"; }},
      {"host with space", [](EbsDisk& d) { d.nbd_host = "volumed .local"; }},
      {"host label starts with dash", [](EbsDisk& d) { d.nbd_host = "-volumed.local"; }},
      {"host empty label", [](EbsDisk& d) { d.nbd_host = "volumed..local"; }},
      {"host label too long", [](EbsDisk& d) { d.nbd_host = std::string(64, 'a'); }},
      {"bracketed IPv6", [](EbsDisk& d) { d.nbd_host = "[fd00::5]"; }},
      {"port 0", [](EbsDisk& d) { d.nbd_port = 0; }},
      {"port too high", [](EbsDisk& d) { d.nbd_port = 65536; }},
      {"empty export", [](EbsDisk& d) { d.export_name = ""; }},
      {"export with markup", [](EbsDisk& d) { d.export_name = "vol-1'/><source file='/etc"; }},
      {"export with slash", [](EbsDisk& d) { d.export_name = "../vol-1"; }},
      {"export too long", [](EbsDisk& d) { d.export_name = std::string(256, 'v'); }},
      {"target vda (root)", [](EbsDisk& d) { d.target_dev = "vda"; }},
      {"target sdf", [](EbsDisk& d) { d.target_dev = "sdf"; }},
      {"target three letters", [](EbsDisk& d) { d.target_dev = "vdabc"; }},
      {"target empty", [](EbsDisk& d) { d.target_dev = ""; }},
      {"negative iops", [](EbsDisk& d) { d.iotune.total_iops_sec = -1; }},
      {"negative size_iops_sec", [](EbsDisk& d) { d.iotune.size_iops_sec = -1; }},
      {"iops burst without base",
       [](EbsDisk& d) {
         d.iotune.total_iops_sec = 0;
         d.iotune.total_iops_sec_max = 3000;
       }},
      {"iops burst below base", [](EbsDisk& d) { d.iotune.total_iops_sec_max = 10; }},
      {"bytes burst length without burst",
       [](EbsDisk& d) {
         d.iotune.total_bytes_sec_max = 0;
         d.iotune.total_bytes_sec_max_length = 60;
       }},
  };
  REQUIRE(ValidateEbsDisk(Gp2Disk()).ok());
  REQUIRE(ValidateEbsDisk(Io2Disk()).ok());
  for (const Row& row : rows) {
    SECTION(row.name) {
      EbsDisk disk = Gp2Disk();
      row.mutate(disk);
      const absl::Status s = ValidateEbsDisk(disk);
      INFO(s.ToString());
      CHECK(s.code() == absl::StatusCode::kInvalidArgument);
      CHECK_FALSE(BuildDomainXml(testing::MakeSpec("i-00000000000000007").Ebs(disk)).ok());
    }
  }
}

TEST_CASE("ValidateEbsDisk accepts the host forms libvirt takes", "[ebs_disk][validation]") {
  for (const char* host :
       {"volumed", "10.0.0.5", "volumed.home-1a.example", "fd00:10::5", "::1", "::ffff:10.0.0.5"}) {
    EbsDisk disk = Gp2Disk();
    disk.nbd_host = host;
    INFO(host);
    CHECK(ValidateEbsDisk(disk).ok());
  }
}

TEST_CASE("BuildDomainXml refuses two EBS disks on one target", "[ebs_disk][validation]") {
  EbsDisk second = Io2Disk();
  second.target_dev = "vdf";
  const absl::Status s =
      BuildDomainXml(testing::MakeSpec("i-00000000000000008").Ebs(Gp2Disk()).Ebs(second)).status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(s.message().find("vdf") != absl::string_view::npos);
}

TEST_CASE("EbsTargetDev maps EC2 device names to virtio targets", "[ebs_disk]") {
  struct Row {
    std::string device;
    std::string target;
  };
  const std::vector<Row> ok = {
      {"/dev/sdf", "vdf"},  {"/dev/sdp", "vdp"},  {"/dev/sdb", "vdb"},    {"/dev/sdz", "vdz"},
      {"/dev/xvdf", "vdf"}, {"/dev/xvdz", "vdz"}, {"/dev/xvdba", "vdba"}, {"/dev/xvddz", "vddz"},
      {"sdh", "vdh"},       {"xvdh", "vdh"},
  };
  for (const Row& row : ok) {
    INFO(row.device);
    absl::StatusOr<std::string> target = EbsTargetDev(row.device, {"vda"});
    REQUIRE(target.ok());
    CHECK(*target == row.target);
  }
  const std::vector<std::string> invalid = {
      "/dev/sda", "/dev/sda1", "/dev/xvda",    "/dev/sdf1",       "/dev/xvdea", "/dev/xvdaa",
      "/dev/sdA", "/dev/vdf",  "/dev/nvme1n1", "/dev/sd",         "/dev/xvd",   "",
      "/dev/",    "/dev/sdf ", "sdf'/>",       "/dev/../dev/sdf",
  };
  for (const std::string& device : invalid) {
    INFO("'" << device << "'");
    const absl::Status s = EbsTargetDev(device, {"vda"}).status();
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(Ec2CodeOf(s) == "InvalidParameterValue");
    CHECK(s.message().find("not a valid EBS device name") != absl::string_view::npos);
  }
}

TEST_CASE("EbsTargetDev refuses a device name in use", "[ebs_disk]") {
  const std::vector<std::string> in_use = {"vda", "vdf", "vdba"};
  for (const char* device : {"/dev/sdf", "/dev/xvdf", "xvdf", "/dev/xvdba"}) {
    INFO(device);
    const absl::Status s = EbsTargetDev(device, in_use).status();
    CHECK(Ec2CodeOf(s) == "InvalidParameterValue");
    CHECK(s.message().find("already in use") != absl::string_view::npos);
  }
  CHECK(*EbsTargetDev("/dev/sdg", in_use) == "vdg");
}

// Would catch: DiskTargetsInDomainXml missing a disk, reading the wrong attribute (bus for dev),
// or taking an element that only starts with "disk" for a disk.
TEST_CASE("DiskTargetsInDomainXml reads the disks libvirt reports", "[ebs_disk]") {
  const std::string xml =
      minicloud::testing::ReadGoldenFile(kGoldenDir / "with_instance_store.xml");
  REQUIRE_FALSE(xml.empty());
  CHECK(DiskTargetsInDomainXml(xml) == std::vector<std::string>{"vda", "vdb", "vdc"});
  CHECK(DiskTargetsInDomainXml(
            "<domain><devices><diskette/><disk device=\"disk\" type=\"network\">"
            "<source name=\"a&amp;b\" protocol=\"nbd\"/><target bus='virtio' dev='vdq'/>"
            "</disk></devices></domain>") == std::vector<std::string>{"vdq"});
  CHECK(DiskTargetsInDomainXml("<domain><devices/></domain>").empty());
  CHECK(DiskTargetsInDomainXml("<domain><disk type='network'><target dev='vdb'/>").empty());
}

}  // namespace
}  // namespace minicloud::hypervisor
