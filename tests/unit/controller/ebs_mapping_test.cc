// Table tests of the EBS block device mapping rules (controller/service/ebs_mapping.h): what
// RegisterImage records as the AMI's root and mapping, and which EBS volumes RunInstances makes.
// Each row names the one-line bug it would catch.
#include "controller/service/ebs_mapping.h"

#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ec2_error.h"

namespace minicloud::controller {
namespace {

constexpr int64_t kGib = int64_t{1} << 30;

struct Ebs {
  std::string device;
  int size = 0;
  std::string type, snapshot;
  std::optional<bool> delete_on_termination;
  std::optional<int> iops;
  bool no_device = false;
  std::string virtual_name;
  bool has_ebs = true;
};

v1::BlockDeviceMapping ToProto(const Ebs& e) {
  v1::BlockDeviceMapping m;
  m.set_device_name(e.device);
  m.set_no_device(e.no_device);
  m.set_virtual_name(e.virtual_name);
  if (e.has_ebs && !e.no_device && e.virtual_name.empty()) {
    v1::EbsBlockDevice& b = *m.mutable_ebs();
    b.set_volume_size(e.size);
    b.set_volume_type(e.type);
    b.set_snapshot_id(e.snapshot);
    if (e.delete_on_termination) b.set_delete_on_termination(*e.delete_on_termination);
    if (e.iops) b.set_iops(*e.iops);
  }
  return m;
}

google::protobuf::RepeatedPtrField<v1::BlockDeviceMapping> Mappings(const std::vector<Ebs>& in) {
  google::protobuf::RepeatedPtrField<v1::BlockDeviceMapping> out;
  for (const Ebs& e : in) *out.Add() = ToProto(e);
  return out;
}

// "/dev/xvda:8:gp2:dot,/dev/sdf:20:io1:keep" for comparison (snapshot after '@').
std::string Show(const std::vector<EbsVolumePlan>& v) {
  std::vector<std::string> parts;
  for (const auto& p : v) {
    parts.push_back(absl::StrCat(p.device_name, ":", p.size_gib, ":", p.volume_type,
                                 p.snapshot_id.empty() ? "" : "@" + p.snapshot_id, ":",
                                 p.delete_on_termination ? "dot" : "keep"));
  }
  return absl::StrJoin(parts, ",");
}

std::string Outcome(const absl::StatusOr<std::vector<EbsVolumePlan>>& got) {
  if (got.ok()) return Show(*got);
  UNSCOPED_INFO(got.status().ToString());
  return std::string(Ec2CodeOf(got.status()));
}

v1::ImageRecord EbsImage() {
  v1::ImageRecord img;
  img.set_image_id("ami-00000001");
  img.set_root_device_name("/dev/xvda");
  img.set_root_device_type("ebs");
  img.set_virtual_size_bytes(2 * kGib);
  *img.add_block_device_mappings() = ToProto({"/dev/xvda", 2, "gp2", "", true});
  return img;
}

}  // namespace

TEST_CASE("ResolveImageMapping: the AMI's root device type and mapping", "[ebs_mapping]") {
  struct Row {
    const char* name;
    std::string root_device_type;  // RegisterImage's
    std::vector<Ebs> mappings;
    std::string want;  // "<type> <root size>" or the EC2 error code
  };
  const std::vector<Row> rows = {
      // no mapping turned into an EBS root (the host-local default kept)
      {"no mapping: host-local root", "", {}, " -"},
      // --root-device-type instance-store ignored
      {"instance-store", "instance-store", {}, "instance-store -"},
      // an Ebs root mapping not making the AMI EBS-backed
      {"Ebs root", "", {{"/dev/xvda"}}, "ebs 3"},
      // "ebs" without a mapping left without its root entry
      {"ebs without mapping", "ebs", {}, "ebs 3"},
      // a larger root size lost
      {"larger root", "", {{"/dev/xvda", 20}}, "ebs 20"},
      // a root smaller than the disk accepted (the guest's filesystem would be cut)
      {"root smaller than disk", "", {{"/dev/xvda", 2}}, "InvalidBlockDeviceMapping"},
      // another snapshot accepted as the root of an uploaded disk
      {"root SnapshotId", "", {{"/dev/xvda", 0, "", "snap-1"}}, "InvalidParameterCombination"},
      // an HDD root accepted
      {"st1 root", "", {{"/dev/xvda", 0, "st1"}}, "InvalidBlockDeviceMapping"},
      // contradictory asks accepted
      {"instance-store with Ebs root",
       "instance-store",
       {{"/dev/xvda"}},
       "InvalidBlockDeviceMapping"},
      // a made-up root device type accepted
      {"bad type", "nvme", {}, "InvalidParameterValue"},
      // a data volume with nothing to make it from accepted
      {"data volume without size", "", {{"/dev/xvda"}, {"/dev/sdf"}}, "MissingParameter"},
      // two entries for one slot (sdf and xvdf)
      {"one slot twice", "", {{"/dev/sdf", 8}, {"/dev/xvdf", 8}}, "InvalidBlockDeviceMapping"},
      // an invalid data device name accepted
      {"bad data device", "", {{"/dev/hdq", 8}}, "InvalidBlockDeviceMapping"},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    v1::RegisterImageRequest req;
    req.set_root_device_name("/dev/xvda");
    req.set_root_device_type(r.root_device_type);
    *req.mutable_block_device_mappings() = Mappings(r.mappings);
    auto got = ResolveImageMapping(req, 2 * kGib + 4096);  // 2 GiB + a bit: 3 GiB
    if (!got.ok()) {
      INFO(got.status().ToString());
      CHECK(Ec2CodeOf(got.status()) == r.want);
      continue;
    }
    std::string root = "-";
    if (!got->mappings.empty() && got->mappings[0].device_name() == "/dev/xvda") {
      root = std::to_string(got->mappings[0].ebs().volume_size());
      CHECK(got->mappings[0].ebs().delete_on_termination());  // EC2's default
      CHECK(got->mappings[0].ebs().volume_type() == "gp2");
    }
    CHECK(got->root_device_type + " " + root == r.want);
  }
}

TEST_CASE("ResolveEbsVolumes: the volumes an instance gets", "[ebs_mapping]") {
  struct Row {
    const char* name;
    bool ebs_root;
    std::vector<Ebs> run;
    std::string want;
  };
  const std::vector<Row> rows = {
      // the root volume missing for an EBS-backed AMI
      {"AMI's root", true, {}, "/dev/xvda:2:gp2:dot"},
      // an EBS root made for a host-local AMI
      {"local AMI", false, {}, ""},
      // VolumeSize of the run ignored / DeleteOnTermination=false lost
      {"larger kept root", true, {{"/dev/xvda", 20, "", "", false}}, "/dev/xvda:20:gp2:keep"},
      // sda-style names of the same slot not matched
      {"gp3 root", true, {{"xvda", 0, "gp3"}}, "/dev/xvda:2:gp3:dot"},
      // a smaller root accepted
      {"smaller root", true, {{"/dev/xvda", 1}}, "InvalidBlockDeviceMapping"},
      // a blank data volume dropped, or its DeleteOnTermination default wrong
      {"data volume", true, {{"/dev/sdf", 10}}, "/dev/xvda:2:gp2:dot,/dev/sdf:10:gp2:dot"},
      // a data volume from a snapshot not sized from it
      {"from snapshot",
       true,
       {{"/dev/sdg", 0, "", "snap-5"}},
       "/dev/xvda:2:gp2:dot,/dev/sdg:5:gp2@snap-5:dot"},
      // a data volume smaller than its snapshot accepted
      {"smaller than snapshot", true, {{"/dev/sdg", 4, "", "snap-5"}}, "InvalidBlockDeviceMapping"},
      // data volumes on a host-local root refused
      {"data on local root", false, {{"/dev/sdf", 10, "", "", false}}, "/dev/sdf:10:gp2:keep"},
      // Ebs on the root of a host-local AMI accepted
      {"Ebs root of local AMI", false, {{"/dev/xvda", 20}}, "InvalidBlockDeviceMapping"},
      // another snapshot as the root accepted
      {"root from snapshot", true, {{"/dev/xvda", 0, "", "snap-5"}}, "InvalidBlockDeviceMapping"},
      // io1 without Iops accepted (EC2: MissingParameter)
      {"io1 without iops", true, {{"/dev/sdf", 10, "io1"}}, "MissingParameter"},
      // sc1 as the root accepted
      {"sc1 root", true, {{"/dev/xvda", 0, "sc1"}}, "InvalidBlockDeviceMapping"},
      // a data volume without size or snapshot accepted
      {"empty Ebs", true, {{"/dev/sdf"}}, "MissingParameter"},
      // an instance-store entry turned into an EBS volume
      {"instance store entry",
       true,
       {{"/dev/sdb", 0, "", "", {}, {}, false, "ephemeral0"}},
       "/dev/xvda:2:gp2:dot"},
  };
  auto snapshot_gib = [](const std::string& id) -> int64_t { return id == "snap-5" ? 5 : 1; };
  for (const Row& r : rows) {
    INFO(r.name);
    v1::ImageRecord img = EbsImage();
    if (!r.ebs_root) {
      img.set_root_device_type("");
      img.clear_block_device_mappings();
    }
    CHECK(Outcome(ResolveEbsVolumes(img, Mappings(r.run), snapshot_gib)) == r.want);
  }
}

TEST_CASE("ResolveEbsVolumes: the AMI's data volumes and NoDevice", "[ebs_mapping]") {
  // Would catch: an AMI's data volume not made at launch; NoDevice not removing it; the run's
  // DeleteOnTermination not overriding the AMI's.
  v1::ImageRecord img = EbsImage();
  *img.add_block_device_mappings() = ToProto({"/dev/sdf", 0, "", "snap-5", false});
  auto snapshot_gib = [](const std::string&) -> int64_t { return 5; };
  CHECK(Outcome(ResolveEbsVolumes(img, Mappings({}), snapshot_gib)) ==
        "/dev/xvda:2:gp2:dot,/dev/sdf:5:gp2@snap-5:keep");
  CHECK(Outcome(ResolveEbsVolumes(img, Mappings({{"/dev/sdf", 0, "", "", {}, {}, true}}),
                                  snapshot_gib)) == "/dev/xvda:2:gp2:dot");
  CHECK(Outcome(ResolveEbsVolumes(img, Mappings({{"/dev/xvdf", 8, "", "", true}}), snapshot_gib)) ==
        "/dev/xvda:2:gp2:dot,/dev/sdf:8:gp2@snap-5:dot");
  // The root can never be removed: NoDevice on it leaves it (ResolveInstanceStore refuses it).
  CHECK(Outcome(ResolveEbsVolumes(img, Mappings({{"/dev/xvda", 0, "", "", {}, {}, true}}),
                                  snapshot_gib)) ==
        "/dev/xvda:2:gp2:dot,/dev/sdf:5:gp2@snap-5:keep");
}

TEST_CASE("SnapshotZones: where a launch's snapshots are all kept", "[ebs_mapping]") {
  v1::ImageRecord image;
  (*image.mutable_zone_snapshots())["home-1a"] = "snap-a";
  (*image.mutable_zone_snapshots())["home-1b"] = "snap-b";
  const std::map<std::string, std::string> zone_of = {{"snap-data-b", "home-1b"},
                                                      {"snap-data-c", "home-1c"}};
  auto snapshot_zone = [&](const std::string& id) { return zone_of.at(id); };
  const EbsVolumePlan root{.device_name = "/dev/xvda", .root = true};
  const EbsVolumePlan blank{.device_name = "/dev/sdf", .size_gib = 8};
  const EbsVolumePlan from_b{.device_name = "/dev/sdg", .snapshot_id = "snap-data-b"};
  const EbsVolumePlan from_c{.device_name = "/dev/sdh", .snapshot_id = "snap-data-c"};
  struct Row {
    const char* name;  // and the one-line bug it would catch
    std::vector<EbsVolumePlan> plans;
    std::optional<std::vector<std::string>> want;
  };
  const std::vector<Row> rows = {
      {"the root: every zone holding the AMI's snapshot (one zone only kept)",
       {root},
       std::vector<std::string>{"home-1a", "home-1b"}},
      {"blank volumes constrain nothing (they were taken for the empty set)",
       {blank},
       std::nullopt},
      {"a data snapshot narrows the root's zones (union instead of intersection)",
       {root, blank, from_b},
       std::vector<std::string>{"home-1b"}},
      {"snapshots in disjoint zones: none (the first one's zones kept)",
       {root, from_c},
       std::vector<std::string>{}},
      {"a data snapshot alone: its zone (data snapshots ignored)",
       {from_c},
       std::vector<std::string>{"home-1c"}},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    CHECK(SnapshotZones(ClonedSnapshots(image, row.plans, snapshot_zone)) == row.want);
  }
}

TEST_CASE("ZonesWithFewestCopies: where snapshots kept apart can be copied together",
          "[ebs_mapping]") {
  v1::ImageRecord image;
  (*image.mutable_zone_snapshots())["home-1a"] = "snap-a";
  const std::map<std::string, std::string> zone_of = {{"snap-data-b", "home-1b"},
                                                      {"snap-enc-c", "home-1c"}};
  auto snapshot_zone = [&](const std::string& id) { return zone_of.at(id); };
  const EbsVolumePlan root{.device_name = "/dev/xvda", .root = true};
  const EbsVolumePlan from_b{.device_name = "/dev/sdg", .snapshot_id = "snap-data-b"};
  const EbsVolumePlan from_enc{.device_name = "/dev/sdh", .snapshot_id = "snap-enc-c"};
  // Everything may be copied anywhere except the encrypted snapshot.
  auto copyable = [](const ClonedSnapshot& c, const std::string&) {
    return c.plan->snapshot_id != "snap-enc-c";
  };
  const std::vector<std::string> all = {"home-1a", "home-1b", "home-1c"};
  struct Row {
    const char* name;  // and the one-line bug it would catch
    std::vector<EbsVolumePlan> plans;
    std::vector<std::string> candidates;
    std::vector<std::string> want;
  };
  const std::vector<Row> rows = {
      {"one copy either way: both zones (a tie broken by dropping one)",
       {root, from_b},
       all,
       {"home-1a", "home-1b"}},
      {"an uncopyable snapshot pins its zone (the copyable check ignored)",
       {root, from_enc},
       all,
       {"home-1c"}},
      {"the root alone, its zone not a candidate: every candidate, one copy each",
       {root},
       {"home-1b", "home-1c"},
       {"home-1b", "home-1c"}},
      {"an uncopyable snapshot kept outside every candidate: none (the copyable check ignored)",
       {from_enc, EbsVolumePlan{.device_name = "/dev/sdi", .snapshot_id = "snap-enc-c"}},
       {"home-1a", "home-1b"},
       {}},
      {"fewest copies wins over zone order (the first candidate kept)",
       {root, from_b, EbsVolumePlan{.device_name = "/dev/sdj", .snapshot_id = "snap-data-b"}},
       all,
       {"home-1b"}},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    CHECK(ZonesWithFewestCopies(ClonedSnapshots(image, row.plans, snapshot_zone), row.candidates,
                                copyable) == row.want);
  }
}

TEST_CASE("GibFor rounds up to whole GiB, at least 1", "[ebs_mapping]") {
  // Would catch: truncation (a 2 GiB + 1 byte disk in a 2 GiB volume), a 0 GiB volume.
  CHECK(GibFor(0) == 1);
  CHECK(GibFor(64 << 20) == 1);
  CHECK(GibFor(2 * kGib) == 2);
  CHECK(GibFor(2 * kGib + 1) == 3);
}

}  // namespace minicloud::controller
