// bench_volume: the numbers issue 13 asks of the volume service, each against a peer measured in
// the same run on the same disk:
//   clone       CreateVolume from a snapshot (qemu-img create -b + blockdev-add + manifest
//               write, through the backend) vs the bare `qemu-img create -b` it wraps; p50/p90.
//               The snapshot's volume has --snapshot-gib of virtual size and --fill-mib written.
//   increment   stored bytes of a snapshot after 1 MiB changed (goal ≤ 2 MiB).
//   nbd         `qemu-img bench` 4 KiB sequential writes and reads, queue depth 16, through the
//               NBD export (TCP, through the relay) vs on a local qcow2 file of the same size
//               (goal ≥ 0.8× throughput), and vs the daemon's unix socket (the relay's cost).
//
// Usage: bench_volume [--n=30] [--snapshot-gib=2] [--fill-mib=256] [--bench-count=200000]
//                     [--dir=DIR]   (default: a fresh /var/tmp/minicloud-bench-volume.XXXXXX)
// Output: "key=value" lines.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "volume/backend/qsd/qsd_volume_backend.h"

namespace {

using Clock = std::chrono::steady_clock;
using minicloud::volume::NbdEndpoint;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

// Runs a shell command; its stdout, or exits on failure.
std::string Run(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (p != nullptr && (n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  if (p == nullptr || pclose(p) != 0) {
    std::fprintf(stderr, "failed: %s\n%s\n", cmd.c_str(), out.c_str());
    std::exit(1);
  }
  return out;
}

// Seconds from qemu-img bench's "Run completed in X seconds.".
double BenchSeconds(const std::string& args) {
  const std::string out = Run("qemu-img bench " + args);
  const size_t at = out.find("Run completed in ");
  double s = 0;
  if (at == std::string::npos ||
      !absl::SimpleAtod(out.substr(at + 17, out.find(' ', at + 17) - at - 17), &s)) {
    std::fprintf(stderr, "unexpected qemu-img bench output: %s\n", out.c_str());
    std::exit(1);
  }
  return s;
}

template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "%s\n", v.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(v);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int n = 30, snapshot_gib = 2, fill_mib = 256, bench_count = 200000;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--n=")) (void)absl::SimpleAtoi(a, &n);
    if (absl::ConsumePrefix(&a, "--snapshot-gib=")) (void)absl::SimpleAtoi(a, &snapshot_gib);
    if (absl::ConsumePrefix(&a, "--fill-mib=")) (void)absl::SimpleAtoi(a, &fill_mib);
    if (absl::ConsumePrefix(&a, "--bench-count=")) (void)absl::SimpleAtoi(a, &bench_count);
    if (absl::ConsumePrefix(&a, "--dir=")) dir = std::string(a);
  }
  if (dir.empty()) {
    char tmpl[] = "/var/tmp/minicloud-bench-volume.XXXXXX";
    dir = mkdtemp(tmpl);
  }
  const uint64_t size = static_cast<uint64_t>(snapshot_gib) << 30;
  minicloud::volume::QsdBackendOptions options;
  options.state_dir = dir + "/state";
  options.nbd_listen_port = 0;
  auto backend = Must(minicloud::volume::QsdVolumeBackend::Open(options));
  Must(backend->CreateVolume({"vol-src", size, ""}));
  const NbdEndpoint src = Must(backend->Export("vol-src"));
  Run(absl::StrCat("qemu-io -f raw -c 'write -P 0x5a 0 ", fill_mib, "M' '", src.Uri(), "'"));
  Must(backend->CreateSnapshot("vol-src", "snap-src"));
  std::printf("dir=%s\nsnapshot_virtual_bytes=%llu\nsnapshot_written_mib=%d\n", dir.c_str(),
              static_cast<unsigned long long>(size), fill_mib);

  // clone: the backend vs bare qemu-img create -b of the same snapshot file, interleaved.
  const std::string snap_file = dir + "/state/layers/1.qcow2";  // the first layer, now frozen
  std::vector<double> ours, peer;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    Must(backend->CreateVolume({absl::StrCat("vol-c", i), 0, "snap-src"}));
    ours.push_back(Ms(Clock::now() - t0));
    const std::string f = absl::StrCat(dir, "/peer-", i, ".qcow2");
    t0 = Clock::now();
    Run(absl::StrCat("qemu-img create -q -f qcow2 -u -b ", snap_file, " -F qcow2 ", f, " ", size));
    peer.push_back(Ms(Clock::now() - t0));
  }
  std::printf("clone_ms_p50=%.2f\nclone_ms_p90=%.2f\nqemu_img_create_ms_p50=%.2f\n",
              Percentile(ours, 0.5), Percentile(ours, 0.9), Percentile(peer, 0.5));
  std::printf("ratio_clone_vs_qemu_img_p50=%.3f\n", Percentile(ours, 0.5) / Percentile(peer, 0.5));

  // increment: 1 MiB changed since the last snapshot.
  Run(absl::StrCat("qemu-io -f raw -c 'write -P 0x6b 1000M 1M' '", src.Uri(), "'"));
  const auto inc = Must(backend->CreateSnapshot("vol-src", "snap-inc"));
  std::printf("incremental_snapshot_bytes_for_1MiB=%llu\n",
              static_cast<unsigned long long>(inc.stored_bytes));

  // nbd vs local: same qemu-img bench on the export and on a local qcow2 of the same size.
  Must(backend->CreateVolume({"vol-bench", uint64_t{1} << 30, ""}));
  const NbdEndpoint b = Must(backend->Export("vol-bench"));
  const std::string local = dir + "/local.qcow2";
  Run(absl::StrCat("qemu-img create -q -f qcow2 ", local, " 1G"));
  const std::string common = absl::StrCat("-c ", bench_count, " -s 4K -d 16 ");
  for (const char* mode : {"write", "read"}) {
    const std::string w = std::string(mode) == "write" ? "-w " : "";
    const double t_nbd = BenchSeconds(absl::StrCat(w, common, "-f raw '", b.Uri(), "'"));
    const double t_local = BenchSeconds(absl::StrCat(w, common, "-f qcow2 ", local));
    // The daemon's own unix socket, without the relay: what the relay costs.
    const double t_unix = BenchSeconds(
        absl::StrCat(w, common, "-f raw 'nbd+unix:///vol-bench?socket=", dir, "/state/nbd.sock'"));
    std::printf("%s_nbd_s=%.3f\n%s_unix_s=%.3f\n%s_local_s=%.3f\n", mode, t_nbd, mode, t_unix, mode,
                t_local);
    std::printf("ratio_%s_nbd_vs_local_throughput=%.3f\nratio_%s_nbd_vs_unix_throughput=%.3f\n",
                mode, t_local / t_nbd, mode, t_unix / t_nbd);
  }
  backend.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
