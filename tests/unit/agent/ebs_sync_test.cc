// The agent's pure EBS decisions (agent/runtime/ebs_sync.h): which disks to hot-plug and unplug,
// what a desired disk becomes for the hypervisor, and what is reported.
#include "agent/runtime/ebs_sync.h"

#include <catch2/catch.hpp>

namespace minicloud::agent {
namespace {

v1::DesiredEbsDisk Want(const std::string& vol, const std::string& target) {
  v1::DesiredEbsDisk d;
  d.set_volume_id(vol);
  d.set_target_dev(target);
  d.set_export_name(vol);
  d.set_nbd_host("192.0.2.10");
  d.set_nbd_port(10809);
  d.set_volume_type("gp2");
  d.set_size_gib(100);
  d.set_iops(300);
  return d;
}

google::protobuf::RepeatedPtrField<v1::DesiredEbsDisk> Wants(
    std::initializer_list<v1::DesiredEbsDisk> l) {
  google::protobuf::RepeatedPtrField<v1::DesiredEbsDisk> out;
  for (const auto& d : l) *out.Add() = d;
  return out;
}

constexpr char kA[] = "vol-0123456789abcdef0";
constexpr char kB[] = "vol-0123456789abcdef1";

TEST_CASE("PlanEbsDisks: attach what is missing, detach what nobody wants", "[ebs_sync]") {
  // Bugs caught (one per row): a disk in place attached again; a missing one not attached; an
  // unwanted one kept; another export at a wanted target kept (the guest would read the wrong
  // volume); the root hot-plugged; the root in place detached.
  struct Row {
    const char* name;
    google::protobuf::RepeatedPtrField<v1::DesiredEbsDisk> want;
    std::vector<hypervisor::AttachedEbsDisk> have;
    std::vector<std::string> attach, detach;
  };
  const std::vector<Row> rows = {
      {"in place", Wants({Want(kA, "vdf")}), {{"vdf", kA}}, {}, {}},
      {"missing", Wants({Want(kA, "vdf")}), {}, {kA}, {}},
      {"unwanted", Wants({}), {{"vdf", kA}}, {}, {"vdf"}},
      {"other export at the target", Wants({Want(kB, "vdf")}), {{"vdf", kA}}, {kB}, {"vdf"}},
      {"two, one missing", Wants({Want(kA, "vdf"), Want(kB, "vdg")}), {{"vdf", kA}}, {kB}, {}},
      // A stopped domain has no EBS disks, its root neither: not a disk to hot-plug (each
      // reconcile pass would fail on it).
      {"the root missing", Wants({Want(kA, "vda")}), {}, {}, {}},
      {"the root in place", Wants({Want(kA, "vda")}), {{"vda", kA}}, {}, {}},
  };
  for (const Row& row : rows) {
    SECTION(row.name) {
      EbsPlan plan = PlanEbsDisks(row.want, row.have);
      std::vector<std::string> attach;
      for (const auto& d : plan.attach) attach.push_back(d.volume_id());
      CHECK(attach == row.attach);
      CHECK(plan.detach == row.detach);
    }
  }
}

TEST_CASE("PlanEbsDisks: grow a disk the guest sees smaller than its volume", "[ebs_sync]") {
  constexpr int64_t kGiB = int64_t{1} << 30;  // Want() is 100 GiB
  struct Row {
    const char* name;
    std::vector<hypervisor::AttachedEbsDisk> have;
    std::vector<std::string> grow;  // targets
    const char* bug;
  };
  const std::vector<Row> rows = {
      {"smaller", {{"vdf", kA, 50 * kGiB}}, {"vdf"}, "a grown attached volume never grown"},
      {"same size", {{"vdf", kA, 100 * kGiB}}, {}, "a grow asked on every pass"},
      {"larger", {{"vdf", kA, 200 * kGiB}}, {}, "a shrink asked for"},
      {"size unknown", {{"vdf", kA, 0}}, {}, "an unknown size (0) taken for a small disk"},
      {"another export", {{"vdf", kB, 50 * kGiB}}, {}, "the wrong volume's disk grown"},
      {"the root", {{"vda", kA, 50 * kGiB}}, {"vda"}, "a grown root left at its old size"},
  };
  for (const Row& row : rows) {
    INFO(row.bug);
    const std::string target = row.have[0].target_dev;
    const EbsPlan plan = PlanEbsDisks(Wants({Want(kA, target)}), row.have);
    std::vector<std::string> grow;
    for (const EbsGrow& g : plan.grow) {
      grow.push_back(g.target_dev);
      CHECK(g.bytes == 100 * kGiB);
    }
    CHECK(grow == row.grow);
  }
}

TEST_CASE("PlanEbsDisks: set a disk's limits when they are not its volume's", "[ebs_sync]") {
  const volumes::IoTune gp2 =
      volumes::IoTuneOf(volumes::VolumeType::kGp2, 100, {.iops = 300, .throughput_mibps = 0});
  v1::DesiredEbsDisk io2 = Want(kA, "vdf");
  io2.set_volume_type("io2");
  io2.set_iops(4000);
  const volumes::IoTune io2_limits =
      volumes::IoTuneOf(volumes::VolumeType::kIo2, 100, {.iops = 4000, .throughput_mibps = 0});
  REQUIRE_FALSE(gp2 == io2_limits);
  struct Row {
    const char* name;
    google::protobuf::RepeatedPtrField<v1::DesiredEbsDisk> want;
    std::vector<hypervisor::AttachedEbsDisk> have;
    std::map<std::string, volumes::IoTune> set;
    std::vector<std::string> limits;  // targets
    const char* bug;
  };
  const std::vector<Row> rows = {
      {"already set",
       Wants({Want(kA, "vdf")}),
       {{"vdf", kA}},
       {{"vdf", gp2}},
       {},
       "limits set again on every pass"},
      {"type changed",
       Wants({io2}),
       {{"vdf", kA}},
       {{"vdf", gp2}},
       {"vdf"},
       "modify-volume's new type or IOPS never reaching the running guest"},
      {"not known",
       Wants({Want(kA, "vdf")}),
       {{"vdf", kA}},
       {},
       {"vdf"},
       "a disk plugged before the agent restarted never brought to its volume's limits"},
      {"not in place",
       Wants({Want(kA, "vdf")}),
       {},
       {},
       {},
       "limits set on a disk that is not there (the plug sets them)"},
      {"bad type",
       Wants({[] {
         v1::DesiredEbsDisk d = Want(kA, "vdf");
         d.set_volume_type("gp9");
         return d;
       }()}),
       {{"vdf", kA}},
       {},
       {},
       "an unknown type crashing the plan or clearing the limits"},
  };
  for (const Row& row : rows) {
    INFO(row.name << ": " << row.bug);
    const EbsPlan plan = PlanEbsDisks(row.want, row.have, row.set);
    std::vector<std::string> limits;
    for (const EbsLimits& l : plan.limits) {
      limits.push_back(l.target_dev);
      CHECK(l.iotune == (row.want[0].volume_type() == "io2" ? io2_limits : gp2));
    }
    CHECK(limits == row.limits);
  }
}

TEST_CASE("ToEbsDisk: the NBD disk with the type's I/O limits", "[ebs_sync]") {
  // Bugs caught: iotune left out (every type equally fast); the endpoint or target not carried;
  // a bad disk from the network accepted.
  auto disk = ToEbsDisk(Want(kA, "vdf"));
  REQUIRE(disk.ok());
  CHECK(disk->volume_id == kA);
  CHECK(disk->nbd_host == "192.0.2.10");
  CHECK(disk->nbd_port == 10809);
  CHECK(disk->export_name == kA);
  CHECK(disk->target_dev == "vdf");
  CHECK(disk->iotune.total_iops_sec == 300);  // gp2's baseline at 100 GiB
  v1::DesiredEbsDisk bad = Want(kA, "vda");   // the root's target
  CHECK(ToEbsDisk(bad).status().code() == absl::StatusCode::kInvalidArgument);
  bad = Want(kA, "vdf");
  bad.set_volume_type("floppy");
  CHECK(ToEbsDisk(bad).status().code() == absl::StatusCode::kInvalidArgument);
  bad = Want(kA, "vdf");
  bad.set_nbd_host("a b");
  CHECK(ToEbsDisk(bad).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("ObserveEbsDisks: wanted disks with their state and error, leftovers attached",
          "[ebs_sync]") {
  // Bugs caught: a missing disk reported attached (the controller would say attached too
  // early); a disk the guest still holds not reported (detached too early); errors dropped.
  auto obs = ObserveEbsDisks(Wants({Want(kA, "vdf")}), {{"vdg", kB}}, {{kA, "boom"}});
  REQUIRE(obs.size() == 2);
  CHECK(obs[0].volume_id() == kA);
  CHECK_FALSE(obs[0].attached());
  CHECK(obs[0].error() == "boom");
  CHECK(obs[1].volume_id() == kB);
  CHECK(obs[1].attached());
}

}  // namespace
}  // namespace minicloud::agent
