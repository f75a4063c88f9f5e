// Golden-file tests for BuildDomainXml. To regenerate after an intended change:
//   MINICLOUD_UPDATE_GOLDEN=1 ctest -R domain_xml   (see tests/testing/golden.h)
// review the diff of tests/golden/hypervisor/*.xml, then run again without the variable.

#include "agent/hypervisor/domain_xml.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/testing/golden.h"
#include "tests/unit/hypervisor/spec_builder.h"

namespace minicloud::hypervisor {
namespace {

using testing::MakeSpec;

const std::filesystem::path kGoldenDir =
    std::filesystem::path(MINICLOUD_SOURCE_DIR) / "tests" / "golden" / "hypervisor";

struct GoldenCase {
  std::string name;  // golden file stem
  DomainSpec spec;
};

std::vector<GoldenCase> GoldenCases() {
  return {
      {"disk_boot_tcg", MakeSpec("i-0123456789abcdef0")},
      {"disk_boot_kvm", MakeSpec("i-0123456789abcdef0").Kvm()},
      {"kernel_boot_tcg",
       MakeSpec("i-00000000000000001")
           .Kernel("/var/lib/minicloud/images/ami-1/vmlinuz",
                   "/var/lib/minicloud/images/ami-1/initrd", "console=ttyS0 root=/dev/vda rw")},
      {"kernel_boot_no_initrd_kvm",
       MakeSpec("i-00000000000000002").Kvm().Kernel("/boot/vmlinuz", "", "console=ttyS0")},
      {"with_nics", MakeSpec("i-00000000000000003")
                        .Vcpus(4)
                        .MemoryMib(2048)
                        .Nic("mcbr0", "02:AB:cd:00:00:01", "mc-i3-0")
                        .Nic("mcbr1", "02:00:00:00:00:02")},
      {"no_console", MakeSpec("i-00000000000000004").ConsoleLog("")},
      // m5d.4xlarge's two volumes, after the root disk (vda), found by their serials.
      {"with_instance_store",
       MakeSpec("i-00000000000000006")
           .InstanceStore("/var/lib/minicloud/instances/i-00000000000000006/ephemeral0.img", "vdb",
                          "ephemeral0")
           .InstanceStore("/var/lib/minicloud/instances/i-00000000000000006/ephemeral1.img", "vdc",
                          "ephemeral1")},
      {"escaping", MakeSpec("i-00000000000000005")
                       .Serial("ec2<&>'\"serial")
                       .RootDisk("/srv/a&b/<root>'s \"disk\".qcow2")
                       .ConsoleLog("/srv/a&b/console's.log")
                       .Kernel("/srv/k&k/vmlinuz", "/srv/k<k>/initrd",
                               "console=ttyS0 init=/bin/sh -c 'echo \"a<b && c>d\"'")},
  };
}

TEST_CASE("BuildDomainXml matches golden files", "[domain_xml]") {
  for (const GoldenCase& c : GoldenCases()) {
    SECTION(c.name) {
      absl::StatusOr<std::string> xml = BuildDomainXml(c.spec);
      INFO(xml.status().ToString());
      REQUIRE(xml.ok());
      minicloud::testing::CheckGoldenFile(kGoldenDir / (c.name + ".xml"), *xml);
    }
  }
}

TEST_CASE("BuildDomainXml depends on the spec only", "[domain_xml]") {
  // The same spec built twice, independently, in two orders of the builder calls: each build
  // (the later ones after other domains were built) equals the checked-in golden file, so
  // nothing random, time-dependent or left over from an earlier call reaches the XML.
  const DomainSpec forward = MakeSpec("i-00000000000000003")
                                 .Vcpus(4)
                                 .MemoryMib(2048)
                                 .Nic("mcbr0", "02:AB:cd:00:00:01", "mc-i3-0")
                                 .Nic("mcbr1", "02:00:00:00:00:02");
  const DomainSpec backward = MakeSpec("i-00000000000000003")
                                  .Nic("mcbr0", "02:AB:cd:00:00:01", "mc-i3-0")
                                  .Nic("mcbr1", "02:00:00:00:00:02")
                                  .MemoryMib(2048)
                                  .Vcpus(4);
  const std::string golden = minicloud::testing::ReadGoldenFile(kGoldenDir / "with_nics.xml");
  REQUIRE_FALSE(golden.empty());
  for (const DomainSpec& spec : {forward, backward, forward}) {
    REQUIRE(BuildDomainXml(MakeSpec("i-other").Kvm().Nic("br9", "02:00:00:00:00:09")).ok());
    CHECK(*BuildDomainXml(spec) == golden);
  }
}

TEST_CASE("BuildDomainXml carries what cloud-init and the adapter rely on", "[domain_xml]") {
  const std::string xml =
      *BuildDomainXml(MakeSpec("i-abc").Uuid("ec2aaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"));
  CHECK_THAT(xml, Catch::Contains("<name>i-abc</name>"));
  CHECK_THAT(xml, Catch::Contains("<uuid>ec2aaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</uuid>"));
  CHECK_THAT(xml,
             Catch::Contains("<entry name='serial'>ec2aaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</entry>"));
  CHECK_THAT(xml,
             Catch::Contains("<entry name='uuid'>ec2aaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</entry>"));
  CHECK_THAT(xml, Catch::Contains("<smbios mode='sysinfo'/>"));
  CHECK_THAT(xml, Catch::Contains("xmlns:minicloud='https://minicloud.dev/xmlns/domain/1'"));
  CHECK_THAT(xml, Catch::Contains("<on_poweroff>destroy</on_poweroff>"));
  CHECK_THAT(xml, Catch::Contains("<on_reboot>restart</on_reboot>"));
  CHECK_THAT(xml, !Catch::Contains("<graphics"));
}

TEST_CASE("An empty serial defaults to the UUID", "[domain_xml]") {
  const std::string xml =
      *BuildDomainXml(MakeSpec("i-abc").Uuid("ec2aaaaa-bbbb-cccc-dddd-eeeeeeeeeeee").Serial(""));
  CHECK_THAT(xml,
             Catch::Contains("<entry name='serial'>ec2aaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</entry>"));
}

TEST_CASE("ValidateDomainSpec rejects what libvirt or the guest cannot use", "[domain_xml]") {
  struct Bad {
    std::string what;
    DomainSpec spec;
    std::string message_part;
  };
  const std::vector<Bad> cases = {
      {"empty id", MakeSpec(""), "instance_id"},
      {"id with slash", MakeSpec("i-1/../x"), "instance_id"},
      {"id with space", MakeSpec("i 1"), "instance_id"},
      {"bad uuid", MakeSpec("i-1").Uuid("ec2-not-a-uuid"), "smbios_uuid"},
      {"uuid with non-hex", MakeSpec("i-1").Uuid("ec2zzzzz-bbbb-cccc-dddd-eeeeeeeeeeee"),
       "smbios_uuid"},
      {"zero vcpus", MakeSpec("i-1").Vcpus(0), "vcpus"},
      {"tiny memory", MakeSpec("i-1").MemoryMib(8), "memory_mib"},
      {"no root disk", MakeSpec("i-1").RootDisk(""), "root_disk is required"},
      {"relative root disk", MakeSpec("i-1").RootDisk("root.qcow2"), "absolute"},
      {"relative kernel", MakeSpec("i-1").Kernel("vmlinuz"), "kernel"},
      {"initrd without kernel", MakeSpec("i-1").Kernel("", "/initrd"), "need a kernel"},
      {"cmdline without kernel", MakeSpec("i-1").Kernel("", "", "console=ttyS0"), "need a kernel"},
      {"newline in cmdline", MakeSpec("i-1").Kernel("/k", "", "a\nb"), "control"},
      {"relative console", MakeSpec("i-1").ConsoleLog("console.log"), "console_log"},
      {"bad mac", MakeSpec("i-1").Nic("br0", "02:00:00:00:00"), "mac"},
      {"multicast mac", MakeSpec("i-1").Nic("br0", "03:00:00:00:00:01"), "mac"},
      {"empty bridge", MakeSpec("i-1").Nic("", "02:00:00:00:00:01"), "bridge"},
      {"bridge with quote", MakeSpec("i-1").Nic("br'0", "02:00:00:00:00:01"), "bridge"},
      {"long tap", MakeSpec("i-1").Nic("br0", "02:00:00:00:00:01", "tap-much-too-long-name"),
       "tap"},
      {"libvirt tap prefix", MakeSpec("i-1").Nic("br0", "02:00:00:00:00:01", "vnet3"),
       "libvirt prefix"},
      {"relative instance store", MakeSpec("i-1").InstanceStore("e0.img", "vdb", "ephemeral0"),
       "absolute"},
      {"instance store on the root's target",
       MakeSpec("i-1").InstanceStore("/e0.img", "vda", "ephemeral0"), "vd[b-z]"},
      {"instance store target not virtio",
       MakeSpec("i-1").InstanceStore("/e0.img", "sdb", "ephemeral0"), "vd[b-z]"},
      {"instance store serial with a quote",
       MakeSpec("i-1").InstanceStore("/e0.img", "vdb", "eph'0"), "serial"},
      {"instance store serial too long",
       MakeSpec("i-1").InstanceStore("/e0.img", "vdb", "ephemeral012345678901"), "serial"},
      {"two instance store disks on one target",
       MakeSpec("i-1")
           .InstanceStore("/e0.img", "vdb", "ephemeral0")
           .InstanceStore("/e1.img", "vdb", "ephemeral1"),
       "two disks use target vdb"},
  };
  for (const Bad& c : cases) {
    SECTION(c.what) {
      const absl::Status s = ValidateDomainSpec(c.spec);
      CHECK(s.code() == absl::StatusCode::kInvalidArgument);
      CHECK_THAT(std::string(s.message()), Catch::Contains(c.message_part));
      CHECK(BuildDomainXml(c.spec).status().code() == absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST_CASE("XmlEscape escapes the five XML specials", "[domain_xml]") {
  CHECK(XmlEscape("a&b<c>d'e\"f") == "a&amp;b&lt;c&gt;d&apos;e&quot;f");
  CHECK(XmlEscape("plain") == "plain");
}

TEST_CASE("ParseOwnerMetadata reads what libvirt hands back", "[domain_xml]") {
  // What libvirt 9.0's virDomainGetMetadata returns (prefix and namespace stripped).
  CHECK(ParseOwnerMetadata("<instance>\n  <id>i-0123456789abcdef0</id>\n</instance>") ==
        "i-0123456789abcdef0");
  // Other plausible serialisations.
  CHECK(ParseOwnerMetadata("<minicloud:instance xmlns:minicloud=\"https://minicloud.dev/xmlns/"
                           "domain/1\">\n  <minicloud:id>i-123</minicloud:id>\n"
                           "</minicloud:instance>") == "i-123");
  CHECK(ParseOwnerMetadata("<instance xmlns=\"https://minicloud.dev/xmlns/domain/1\"><id>i-9</id>"
                           "</instance>") == "i-9");
  CHECK(ParseOwnerMetadata("<m:instance xmlns:m='x'><m:id>a&amp;b</m:id></m:instance>") == "a&b");
  CHECK(ParseOwnerMetadata("<minicloud:instance xmlns:minicloud='x'><minicloud:valid>1"
                           "</minicloud:valid></minicloud:instance>") == std::nullopt);
  CHECK(ParseOwnerMetadata("") == std::nullopt);
  CHECK(ParseOwnerMetadata("<id>unterminated") == std::nullopt);
  // Round trip through our own builder.
  const std::string xml = *BuildDomainXml(MakeSpec("i-rt"));
  const size_t begin = xml.find("<minicloud:instance");
  const size_t end =
      xml.find("</minicloud:instance>") + std::string("</minicloud:instance>").size();
  CHECK(ParseOwnerMetadata(xml.substr(begin, end - begin)) == "i-rt");
}

}  // namespace
}  // namespace minicloud::hypervisor
