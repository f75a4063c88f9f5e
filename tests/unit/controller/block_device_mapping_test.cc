// Table tests of the instance-type catalog's instance store and of ResolveInstanceStore (which
// volumes an instance gets, at which device names, and what a mapping may not say).
#include "controller/service/block_device_mapping.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "common/ec2_error.h"
#include "controller/service/instance_types.h"

namespace minicloud::controller {
namespace {

struct Map {
  std::string device, virtual_name;
  bool no_device = false, ebs = false;
};

google::protobuf::RepeatedPtrField<v1::BlockDeviceMapping> Mappings(const std::vector<Map>& in) {
  google::protobuf::RepeatedPtrField<v1::BlockDeviceMapping> out;
  for (const Map& m : in) {
    auto* b = out.Add();
    b->set_device_name(m.device);
    b->set_virtual_name(m.virtual_name);
    b->set_no_device(m.no_device);
    if (m.ebs) b->mutable_ebs()->set_volume_size(8);
  }
  return out;
}

// "ephemeral0=sdb,ephemeral1=sdc (300)" for comparison.
std::string Show(const std::vector<v1::DesiredInstanceStoreDisk>& disks) {
  std::vector<std::string> parts;
  int64_t size = 0;
  for (const auto& d : disks) {
    parts.push_back(d.virtual_name() + "=" + d.device_name());
    size = d.size_gb();
  }
  return absl::StrJoin(parts, ",") + (disks.empty() ? "" : " (" + std::to_string(size) + ")");
}

}  // namespace

// Would catch: a row with AWS's count or size wrong (e.g. m5d.4xlarge as 1 x 600).
TEST_CASE("instance store per type, as AWS lists it", "[catalog][instance_store]") {
  struct Row {
    const char* type;
    int disks;
    int64_t gb;
  };
  const Row rows[] = {
      {"m5d.large", 1, 75},    {"m5d.xlarge", 1, 150},  {"m5d.2xlarge", 1, 300},
      {"m5d.4xlarge", 2, 300}, {"c5d.large", 1, 50},    {"c5d.xlarge", 1, 100},
      {"c5d.2xlarge", 1, 200}, {"c5d.4xlarge", 1, 400}, {"r5d.large", 1, 75},
      {"r5d.xlarge", 1, 150},  {"r5d.2xlarge", 1, 300}, {"r5d.4xlarge", 2, 300},
      {"i3.large", 1, 475},    {"i3.xlarge", 1, 950},   {"i3.2xlarge", 1, 1900},
      {"m5.large", 0, 0},      {"t3.micro", 0, 0},      {"c5.xlarge", 0, 0},
  };
  for (const Row& r : rows) {
    INFO(r.type);
    auto t = FindInstanceType(r.type);
    REQUIRE(t.has_value());
    CHECK(t->instance_store_disks == r.disks);
    CHECK(t->instance_store_gb == r.gb);
  }
}

// Each row names the one-line bug it would catch.
TEST_CASE("ResolveInstanceStore: names, NoDevice and refusals", "[instance_store]") {
  struct Row {
    const char* name;
    const char* type;
    std::vector<Map> mappings;
    std::string want;  // Show() of the result, or the EC2 error code
  };
  const std::vector<Row> rows = {
      // no volume for a type with instance store
      {"default names", "m5d.4xlarge", {}, "ephemeral0=sdb,ephemeral1=sdc (300)"},
      // a volume for a type without instance store
      {"no instance store", "m5.large", {}, ""},
      // a mapping's device name ignored
      {"mapped name", "m5d.large", {{"/dev/sdf", "ephemeral0"}}, "ephemeral0=sdf (75)"},
      // the next default name not skipping one a mapping took
      {"default skips a mapped name",
       "m5d.4xlarge",
       {{"/dev/sdb", "ephemeral1"}},
       "ephemeral0=sdc,ephemeral1=sdb (300)"},
      // xvd names not accepted, or shown with /dev/
      {"xvd name", "m5d.large", {{"xvdc", "ephemeral0"}}, "ephemeral0=xvdc (75)"},
      // NoDevice ignored
      {"NoDevice removes the default", "m5d.large", {{"/dev/sdb", "", true}}, ""},
      // NoDevice removing the wrong volume
      {"NoDevice removes one of two",
       "m5d.4xlarge",
       {{"/dev/sdc", "", true}},
       "ephemeral0=sdb (300)"},
      // NoDevice not winning over VirtualName (botocore: removed regardless)
      {"NoDevice wins", "m5d.large", {{"/dev/sdf", "ephemeral0", true}}, "ephemeral0=sdb (75)"},
      // a mapping beyond the type's count attaching a volume (EC2 ignores it)
      {"beyond the count", "m5d.large", {{"/dev/sdf", "ephemeral3"}}, "ephemeral0=sdb (75)"},
      // malformed virtual names accepted
      {"bad virtual name", "m5d.large", {{"/dev/sdf", "ephemeralX"}}, "InvalidParameterValue"},
      {"virtual name 24", "m5d.large", {{"/dev/sdf", "ephemeral24"}}, "InvalidParameterValue"},
      {"virtual name 01", "m5d.large", {{"/dev/sdf", "ephemeral01"}}, "InvalidParameterValue"},
      // a missing DeviceName accepted
      {"no device name", "m5d.large", {{"", "ephemeral0"}}, "MissingParameter"},
      // malformed device names accepted
      {"bad device name", "m5d.large", {{"/dev/hdz", "ephemeral0"}}, "InvalidBlockDeviceMapping"},
      {"root's name", "m5d.large", {{"/dev/xvda", "ephemeral0"}}, "InvalidBlockDeviceMapping"},
      {"two letters", "m5d.large", {{"/dev/xvdba", "ephemeral0"}}, "InvalidBlockDeviceMapping"},
      // sdf and xvdf treated as two devices
      {"one slot twice",
       "m5d.4xlarge",
       {{"/dev/sdf", "ephemeral0"}, {"/dev/xvdf", "ephemeral1"}},
       "InvalidBlockDeviceMapping"},
      // one volume at two names
      {"virtual name twice",
       "m5d.4xlarge",
       {{"/dev/sdf", "ephemeral0"}, {"/dev/sdg", "ephemeral0"}},
       "InvalidBlockDeviceMapping"},
      // the root removed
      {"NoDevice on the root", "m5d.large", {{"/dev/xvda", "", true}}, "InvalidBlockDeviceMapping"},
      // a mapping with nothing in it accepted
      {"empty mapping", "m5d.large", {{"/dev/sdf", ""}}, "InvalidBlockDeviceMapping"},
      // both kinds at once accepted
      {"VirtualName and Ebs",
       "m5d.large",
       {{"/dev/sdf", "ephemeral0", false, true}},
       "InvalidBlockDeviceMapping"},
      // an EBS volume's slot given to an instance-store volume as well
      {"Ebs takes its slot", "m5d.large", {{"/dev/sdb", "", false, true}}, "ephemeral0=sdc (75)"},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    auto got = ResolveInstanceStore(*FindInstanceType(r.type), Mappings(r.mappings), "/dev/xvda");
    if (got.ok()) {
      CHECK(Show(*got) == r.want);
    } else {
      INFO(got.status().ToString());
      CHECK(Ec2CodeOf(got.status()) == r.want);
    }
  }
}

// Would catch: no bound on the number of mappings a request may carry.
TEST_CASE("ResolveInstanceStore bounds the number of mappings", "[instance_store]") {
  std::vector<Map> many(kMaxBlockDeviceMappings + 1, Map{"/dev/sdf", "", true});
  auto got = ResolveInstanceStore(*FindInstanceType("m5d.large"), Mappings(many), "/dev/xvda");
  REQUIRE_FALSE(got.ok());
  CHECK(Ec2CodeOf(got.status()) == "InvalidParameterValue");
}

}  // namespace minicloud::controller
