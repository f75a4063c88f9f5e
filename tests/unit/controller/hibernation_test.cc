// EC2's hibernation rules (controller/service/hibernation.h) as tables: the prerequisites of
// RunInstances HibernationOptions.Configured=true, the instance types that hibernate, the size
// of the volume the RAM goes to, and StopInstances Hibernate's own checks.
//
// Bugs each case would catch: an instance-store root or an unencrypted root accepted; a root
// that holds the AMI but not the RAM accepted (or one exactly big enough refused); a family EC2
// does not hibernate, a .metal size or 150 GiB of RAM accepted; the wrong EC2 code; a
// hibernation volume smaller than the RAM; Hibernate on an unconfigured instance or with Force.
#include "controller/service/hibernation.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/ec2_error.h"
#include "controller/service/instance_types.h"

namespace minicloud::controller {
namespace {

HibernationLaunch Good() {
  return {.instance_type = "t3.micro",
          .memory_mib = 1024,
          .root_device_type = "ebs",
          .root_encrypted = true,
          .root_size_gib = 9,
          .image_size_gib = 8};
}

}  // namespace

TEST_CASE("hibernation prerequisites at launch", "[hibernation]") {
  struct Case {
    std::string name;
    HibernationLaunch launch;
    std::string code;  // "" = accepted
    std::string part;
  };
  std::vector<Case> cases;
  cases.push_back({"all met", Good(), "", ""});
  {
    auto l = Good();
    l.root_device_type = "instance-store";
    cases.push_back({"instance-store root", l, "UnsupportedHibernationConfiguration", "EBS"});
    l.root_device_type = "";
    cases.push_back({"host-local root", l, "UnsupportedHibernationConfiguration", "EBS"});
  }
  {
    auto l = Good();
    l.root_encrypted = false;
    cases.push_back({"unencrypted root", l, "UnsupportedHibernationConfiguration", "encrypted"});
  }
  {
    auto l = Good();
    l.root_size_gib = 8;  // the AMI's 8 GiB, no room for 1 GiB of RAM
    cases.push_back(
        {"root without room for the RAM", l, "UnsupportedHibernationConfiguration", "RAM (1 GiB)"});
    l.memory_mib = 1025;  // 2 GiB rounded up
    l.root_size_gib = 9;
    cases.push_back({"RAM rounded up to GiB", l, "UnsupportedHibernationConfiguration", "RAM"});
    l.root_size_gib = 10;
    cases.push_back({"root exactly AMI + RAM", l, "", ""});
  }
  {
    auto l = Good();
    l.instance_type = "x1e.xlarge";
    cases.push_back(
        {"family EC2 does not hibernate", l, "UnsupportedHibernationConfiguration", "x1e.xlarge"});
    l.instance_type = "m5.metal";
    cases.push_back({"bare metal", l, "UnsupportedHibernationConfiguration", "m5.metal"});
    l.instance_type = "r5.8xlarge";
    l.memory_mib = 150 * 1024;
    l.root_size_gib = 200;
    cases.push_back({"150 GiB of RAM", l, "UnsupportedHibernationConfiguration", "150 GiB"});
    l.memory_mib = 150 * 1024 - 1;
    cases.push_back({"just under 150 GiB", l, "", ""});
  }
  for (const Case& c : cases) {
    INFO(c.name);
    absl::Status s = CheckHibernationPrerequisites(c.launch);
    if (c.code.empty()) {
      CHECK(s.ok());
      continue;
    }
    REQUIRE_FALSE(s.ok());
    CHECK(Ec2CodeOf(s) == c.code);
    CHECK_THAT(std::string(s.message()), Catch::Contains(c.part));
  }
}

TEST_CASE("every instance type of the catalog hibernates (EC2's families)", "[hibernation]") {
  // t3, m5, m5d, c5, c5d, r5, r5d and i3 are all on EC2's list, all under 150 GiB.
  for (const InstanceType& t : InstanceTypeCatalog()) {
    INFO(t.name);
    CHECK(HibernationSupported(t.name, t.memory_mib));
  }
  CHECK_FALSE(HibernationSupported("p3.2xlarge", 62464));
  CHECK_FALSE(HibernationSupported("t3", 1024));  // no size
}

TEST_CASE("the hibernation volume holds the RAM and the device state", "[hibernation]") {
  CHECK(HibernationVolumeGib(512) == 2);
  CHECK(HibernationVolumeGib(1024) == 2);
  CHECK(HibernationVolumeGib(1025) == 3);
  CHECK(HibernationVolumeGib(8192) == 9);
}

TEST_CASE("StopInstances Hibernate: configured instances only, never with Force", "[hibernation]") {
  v1::InstanceRecord r;
  r.set_instance_id("i-0123456789abcdef0");
  absl::Status s = CheckCanHibernate(r, false);
  REQUIRE_FALSE(s.ok());
  CHECK(Ec2CodeOf(s) == "UnsupportedOperation");
  CHECK_THAT(std::string(s.message()), Catch::Contains("i-0123456789abcdef0"));
  r.set_hibernation_configured(true);
  CHECK(CheckCanHibernate(r, false).ok());
  s = CheckCanHibernate(r, true);
  REQUIRE_FALSE(s.ok());
  CHECK(Ec2CodeOf(s) == "InvalidParameterCombination");
}

}  // namespace minicloud::controller
