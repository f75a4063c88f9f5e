// bench_ebs_cloud: two of issue 13's EBS numbers, through the code users run (the controller's
// ImageService / ComputeService / VolumeService, agents on fake hypervisors, the real
// minicloud-volumed with qemu-storage-daemon), in one process (tests/testing/test_cloud.h):
//
//   create-image  CreateImage --no-reboot of an instance whose EBS root is --root-gib GiB with
//                 --fill-mib written, from the call until DescribeImages says "available"
//                 (every volume snapshotted by the volume service, the AMI registered), against
//                 `qemu-img convert -O qcow2` of the same disk (the root volume's layer chain in
//                 the volume service's state directory, read with -U while the daemon has it
//                 open): the full copy a bake without snapshots would make. Goal ≤ 0.5×.
//   stop-start    an EBS-backed instance: StopInstances → "stopped", then StartInstances →
//                 "running" on the other host of the zone (its first host is made full while
//                 it is stopped). Fake hypervisor: no guest boots, so this is the control
//                 plane, the agents' launch/teardown and the volume service's export/attach,
//                 excluding guest boot.
//
// The controller's reconcile steps (VolumeService::Reconcile, ImageService::ReconcileImages) run
// in the waiting loop every 2 ms, as the integration tests drive them; the agents report to the
// controller on their own (report interval 200 ms in TestCloud, 2 s by default).
//
// Usage: bench_ebs_cloud [--rounds=5] [--root-gib=2] [--fill-mib=1024]   (Catch2 binary; the
// options go after "--": build/bin/bench_ebs_cloud -- --rounds=5). Output: "key=value" lines.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/process/spawn.h"
#include "controller/service/volume_service.h"
#include "controller/volumes/disk_writer.h"
#include "controller/volumes/grpc_volume_service_client.h"
#include "tests/testing/ebs_test_cloud.h"
#include "tests/testing/image_upload.h"
#include "tests/testing/skip.h"
#include "tests/testing/test_cloud.h"
#include "tests/testing/volumed_process.h"
#include "volume/backend/qsd/layer_manifest.h"

namespace minicloud {
namespace {

using testing::TestCloud;
using Clock = std::chrono::steady_clock;
namespace vv1 = minicloud::volume::v1;

constexpr const char* kZone = testing::EbsTestCloud::kZone;

int rounds = 5, root_gib = 2, fill_mib = 1024;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}
using testing::Shell;
std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// The EBS test cloud with a longer deadline per volume-service call: a 2 GiB root's snapshot
// under load can take longer than the tests' 30 s.
struct Fixture : testing::EbsTestCloud {
  Fixture() : testing::EbsTestCloud(absl::Seconds(60)) {}

  // An EBS-backed AMI: a 64 MiB qcow2 with its first MiB written, root mapping of `gib` GiB.
  std::string RegisterEbs(const std::string& name, int gib) {
    const std::string file = cloud.controller().dir / (name + ".qcow2");
    REQUIRE(Shell("qemu-img create -q -f qcow2 " + file + " 64M"));
    REQUIRE(Shell("qemu-io -f qcow2 -c 'write -P 0x5a 0 1M' " + file));
    v1::RegisterImageRequest req;
    req.set_name(name);
    v1::BlockDeviceMapping* m = req.add_block_device_mappings();
    m->set_device_name("/dev/xvda");
    m->mutable_ebs()->set_volume_size(gib);
    auto r = testing::UploadImage(images(), req, testing::ReadFileBytes(file));
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return r->image_id();
  }
  // Polls `pred` every 2 ms, running the controller's reconcile steps first.
  bool Until(const std::function<bool()>& pred,
             std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      volumes->Reconcile();
      images().ReconcileImages();
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }
  v1::Image Image(const std::string& id) {
    v1::DescribeImagesRequest d;
    d.add_image_ids(id);
    auto r = images().DescribeImages(d);
    REQUIRE(r.ok());
    return r->images(0);
  }
  std::string RootVolume(const std::string& inst) {
    v1::DescribeVolumesRequest d;
    auto* f = d.add_filters();
    f->set_name("attachment.instance-id");
    f->add_values(inst);
    auto resp = volumes->DescribeVolumes(d);
    REQUIRE(resp.ok());
    for (const auto& v : resp->volumes()) {
      if (v.attachments(0).device() == "/dev/xvda") return v.volume_id();
    }
    FAIL("no root volume");
    return "";
  }
  // qemu-io's arguments that open the volume's export as a host does (NBD over TLS with the
  // controller's client certificate).
  std::string NbdArgs(const std::string& volume_id) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    vv1::ExportVolumeRequest req;
    req.set_volume_id(volume_id);
    vv1::NbdExport nbd;
    REQUIRE(daemon->stub().ExportVolume(&ctx, req, &nbd).ok());
    const testing::NbdTarget t = testing::TargetOf(nbd, daemon->nbd_client_dir());
    std::string args;
    if (!t.target.tls_creds.empty()) {
      args = absl::StrCat("--object '",
                          storage::QemuTlsObjectArg(t.target.tls_creds, t.tls_dir,
                                                    storage::QemuTlsEndpoint::kClient),
                          "' ");
    }
    return absl::StrCat(args, "--image-opts '", storage::NbdBlockdevOpts(t.target), "'");
  }
  // The top layer file of `volume_id` in the volume service's state directory.
  std::string TopLayer(const std::string& volume_id) {
    std::ifstream in(daemon_dir.path() + "/state/manifest.json");
    std::stringstream text;
    text << in.rdbuf();
    auto m = volume::ParseManifest(text.str());
    REQUIRE(m.ok());
    auto it = m->volumes.find(volume_id);
    INFO("volume " << volume_id << " not in the volume service's manifest");
    REQUIRE(it != m->volumes.end());
    return absl::StrCat(daemon_dir.path(), "/state/layers/", it->second.top, ".qcow2");
  }
  std::string Launch(const std::string& image) {
    auto r = compute().RunInstances(cloud.controller().Run(image));
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    const std::string inst = r->instances(0).instance_id();
    REQUIRE(Until([&] { return cloud.StateOf(inst) == "running"; }));
    return inst;
  }
  std::string HostOf(const std::string& inst) {
    return cloud.controller().Describe(inst).placement().host_id();
  }
};

void ParseArgs() {
  const char* env = std::getenv("BENCH_EBS_ARGS");  // "--rounds=5 --root-gib=2 --fill-mib=1024"
  if (env == nullptr) return;
  for (absl::string_view a : absl::StrSplit(env, ' ', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&a, "--rounds=")) (void)absl::SimpleAtoi(a, &rounds);
    if (absl::ConsumePrefix(&a, "--root-gib=")) (void)absl::SimpleAtoi(a, &root_gib);
    if (absl::ConsumePrefix(&a, "--fill-mib=")) (void)absl::SimpleAtoi(a, &fill_mib);
  }
}

TEST_CASE("create-image of an EBS root vs qemu-img convert of the same disk") {
  ParseArgs();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Fixture f;
  f.cloud.AddHost(kZone, "rack-1");
  const std::string inst = f.Launch(f.RegisterEbs("base", root_gib));
  const std::string root = f.RootVolume(inst);
  const std::string nbd = f.NbdArgs(root);
  std::string fill;  // 256 MiB per request: qemu-io's requests stay below 2 GiB
  for (int at = 0; at < fill_mib; at += 256) {
    absl::StrAppend(&fill, " -c 'write -P 0x77 ", at, "M ", std::min(256, fill_mib - at), "M'");
  }
  REQUIRE(Shell(absl::StrCat("qemu-io", fill, " -c flush ", nbd)));
  std::printf("root_gib=%d\nroot_written_mib=%d\nloadavg_start=%s\n", root_gib, fill_mib,
              LoadAverage().c_str());
  std::vector<double> bake, convert;
  for (int i = 0; i < rounds; ++i) {
    // 1 MiB more each round, so each bake has something new.
    REQUIRE(Shell(absl::StrCat("qemu-io -c 'write -P 0x", 10 + i, " ", i, "M 1M' -c flush ", nbd)));
    v1::CreateImageRequest req;
    req.set_instance_id(inst);
    req.set_name(absl::StrCat("baked-", i));
    req.set_no_reboot(true);
    auto t0 = Clock::now();
    auto made = f.images().CreateImage(req);
    INFO(made.status().ToString());
    REQUIRE(made.ok());
    REQUIRE(f.Until([&] { return f.Image(made->image_id()).state() == "available"; }));
    bake.push_back(Ms(Clock::now() - t0));
    const std::string out = absl::StrCat(f.daemon_dir.path(), "/convert-", i, ".qcow2");
    t0 = Clock::now();
    REQUIRE(
        Shell(absl::StrCat("qemu-img convert -U -f qcow2 -O qcow2 ", f.TopLayer(root), " ", out)));
    convert.push_back(Ms(Clock::now() - t0));
    std::filesystem::remove(out);
    std::printf("round=%d create_image_ms=%.1f qemu_img_convert_ms=%.1f ratio=%.4f\n", i,
                bake.back(), convert.back(), bake.back() / convert.back());
  }
  std::printf("create_image_ms_p50=%.1f\nqemu_img_convert_ms_p50=%.1f\nratio_p50=%.4f\n",
              Percentile(bake, 0.5), Percentile(convert, 0.5),
              Percentile(bake, 0.5) / Percentile(convert, 0.5));
  std::printf("loadavg_end=%s\n", LoadAverage().c_str());
}

TEST_CASE("stop, then start on the other host of the zone, until running") {
  ParseArgs();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Fixture f;
  // Each host fits one t3.micro (1 GiB; 1.5 GiB less the 512 MiB reserve).
  TestCloud::Host* hosts[2] = {&f.cloud.AddHost(kZone, "rack-1", 8, 1536),
                               &f.cloud.AddHost(kZone, "rack-2", 8, 1536)};
  const std::string inst = f.Launch(f.RegisterEbs("ebs", 1));
  const std::string root = f.RootVolume(inst);
  const std::string filler_ami = f.cloud.controller().RegisterImage("filler");
  std::string filler = f.Launch(filler_ami);  // on the other host
  REQUIRE(f.HostOf(filler) != f.HostOf(inst));
  std::vector<double> stop_ms, start_ms;
  std::printf("loadavg_start=%s\n", LoadAverage().c_str());
  for (int i = 0; i < rounds; ++i) {
    const std::string from = f.HostOf(inst);
    v1::StopInstancesRequest stop;
    stop.add_instance_ids(inst);
    auto t0 = Clock::now();
    REQUIRE(f.compute().StopInstances(stop).ok());
    REQUIRE(f.Until([&] { return f.cloud.StateOf(inst) == "stopped"; }));
    stop_ms.push_back(Ms(Clock::now() - t0));
    // Its host gets a new filler (the only free place); the other host's filler goes.
    const std::string next_filler = f.Launch(filler_ami);
    REQUIRE(f.HostOf(next_filler) == from);
    v1::TerminateInstancesRequest term;
    term.add_instance_ids(filler);
    REQUIRE(f.compute().TerminateInstances(term).ok());
    REQUIRE(f.Until([&] { return f.cloud.StateOf(filler) == "terminated"; }));
    filler = next_filler;

    v1::StartInstancesRequest start;
    start.add_instance_ids(inst);
    t0 = Clock::now();
    auto started = f.compute().StartInstances(start);
    INFO(started.status().ToString());
    REQUIRE(started.ok());
    REQUIRE(f.Until([&] { return f.cloud.StateOf(inst) == "running"; }));
    start_ms.push_back(Ms(Clock::now() - t0));
    const std::string to = f.HostOf(inst);
    REQUIRE(to != from);
    // "running" means the new host's domain boots from the root volume's NBD export.
    TestCloud::Host* h = hosts[hosts[0]->agent->host_id() == to ? 0 : 1];
    REQUIRE(h->agent->host_id() == to);
    const auto spec = h->hypervisor->SpecOf(inst);
    REQUIRE(spec.has_value());
    bool boots_from_root = false;
    for (const auto& d : spec->ebs_disks) boots_from_root |= d.boot && d.volume_id == root;
    REQUIRE(boots_from_root);
    std::printf("round=%d stop_ms=%.1f start_on_other_host_ms=%.1f\n", i, stop_ms.back(),
                start_ms.back());
  }
  std::printf(
      "stop_ms_p50=%.1f\nstart_on_other_host_ms_p50=%.1f\nstart_on_other_host_ms_max=%.1f\n",
      Percentile(stop_ms, 0.5), Percentile(start_ms, 0.5), Percentile(start_ms, 1.0));
  std::printf("loadavg_end=%s\n", LoadAverage().c_str());
}

}  // namespace
}  // namespace minicloud
