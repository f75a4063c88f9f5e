// bench_volume: the numbers issue 13 asks of the volume service, each against a peer measured in
// the same run on the same disk:
//   clone       CreateVolume from a snapshot (qemu-img create -b + blockdev-add + manifest
//               write, through the backend) vs the bare `qemu-img create -b` it wraps; p50/p90.
//               The snapshot's volume has --snapshot-gib of virtual size and --fill-mib written.
//   increment   stored bytes of a snapshot after 1 MiB changed (goal ≤ 2 MiB).
//   io          4 KiB reads and writes, sequential and random, through the NBD export (TCP on
//               loopback, the daemon's own NBD server) vs the same data attached locally: a copy
//               of the volume's layer file taken after --io-mib of it was written with data,
//               opened by QEMU as qcow2 with cache=writeback, as the agent attaches local disks;
//               the NBD client with cache=writeback too (the agent's cache='none': also no FUA).
//               Both peers read and overwrite allocated clusters (no allocation, no holes),
//               and both files are put in the page cache the same way (SamePageCacheState).
//               Two tools, both QEMU's block layer on the client side:
//                 qemu-io   --io-ops requests in batches of 16 (aio_read/aio_write, then
//                           aio_flush = wait for all), sequential or random offsets (seeded):
//                           per-request latency (p50/p99, qemu-io's own per-request time) and
//                           throughput (requests / wall time less qemu-io's start-up, measured
//                           on the same peer with no requests).
//                 qemu-img bench  sequential only, queue depth 16 kept full, --bench-count
//                           requests: throughput without qemu-io's per-request printing.
//               --rounds rounds; peers alternate who goes first. Goal: NBD ≥ 0.8× local
//               throughput, p99 ≤ 2× local (a "_goal" line per workload says met or not).
//               The qemu-img bench runs also report CPU time per request: the client's
//               (qemu-img, from the children's rusage) and the daemon's (all its threads, from
//               /proc/<pid>/stat). What a request costs in work, whatever the load.
//               --aio-ab adds a third qemu-io peer: the same data on a second daemon whose
//               layer files use the thread pool (file_aio=threads), against the shipped
//               io_uring, in the same rounds (rotating order).
//
// Usage: bench_volume [--n=30] [--snapshot-gib=2] [--fill-mib=256] [--rounds=5]
//                     [--io-ops=16384] [--io-mib=256] [--bench-count=20000]
//                     [--only=clone,increment,io] [--dir=DIR] [--aio-ab]
//        (default dir: a fresh /var/tmp/minicloud-bench-volume.XXXXXX, removed at the end)
// Output: "key=value" lines.

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "volume/backend/qsd/layer_manifest.h"
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

// Puts `path` in the page cache the same way for every file: written back, dropped, then read
// whole in 1 MiB reads. How a file's pages got there changes what a 4 KiB overwrite costs: on
// this kernel (6.18, ext4) pages filled by one large write cost about twice the system time per
// overwrite of pages filled by `cp`'s smaller writes (qemu-img bench, 20,000 writes: 0.22-0.31 s
// against 0.12-0.13 s; after this, both 0.20-0.26 s). The volume's layer is written over NBD in
// large requests and the local peer is a `cp` of it, so without this the peers differ in more
// than the path.
void SamePageCacheState(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) {
    std::fprintf(stderr, "cannot reset the page cache of %s\n", path.c_str());
    std::exit(1);
  }
  std::vector<char> buf(1 << 20);
  while (read(fd, buf.data(), buf.size()) > 0) {
  }
  close(fd);
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

double Seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; }

// CPU seconds (user + system) used so far by this process's waited-for children and by the
// process `pid` (all its threads; 0 when pid < 0 or it is gone).
struct CpuTimes {
  double children = 0, daemon = 0;
};

CpuTimes CpuNow(int pid) {
  CpuTimes t;
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  t.children = Seconds(u.ru_utime) + Seconds(u.ru_stime);
  if (pid > 0) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const size_t close = stat.rfind(')');
    std::istringstream rest(close == std::string::npos ? "" : stat.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) (void)absl::SimpleAtod(field, &utime);
      if (i == 15) (void)absl::SimpleAtod(field, &stime);
    }
    t.daemon = (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return t;
}

// One peer of the io comparison: how qemu-io / qemu-img open it.
struct Peer {
  std::string name;  // "nbd" or "local"
  std::string args;  // "-f raw 'nbd://...'" or "-f qcow2 -t writeback FILE"
};

// One qemu-io run: `ops` 4 KiB requests in batches of 16 at sequential or random offsets below
// `region`. Latencies in µs, wall time in s.
struct IoRun {
  std::vector<double> lat_us;
  double wall_s = 0;
};

IoRun QemuIo(const Peer& peer, const std::string& dir, bool write, bool random, int ops,
             uint64_t region, uint64_t seed) {
  const std::string script = dir + "/qemu-io.script";
  {
    std::ofstream out(script);
    std::mt19937_64 rng(seed);
    const uint64_t blocks = region / 4096;
    for (int i = 0; i < ops; ++i) {
      const uint64_t block = random ? rng() % blocks : static_cast<uint64_t>(i) % blocks;
      out << (write ? "aio_write -P 0x6b " : "aio_read ") << block * 4096 << " 4k\n";
      if (i % 16 == 15) out << "aio_flush\n";
    }
    out << "aio_flush\n";
  }
  const auto t0 = Clock::now();
  const std::string out = Run(absl::StrCat("qemu-io ", peer.args, " < ", script));
  IoRun r;
  r.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  // Per request: "4 KiB, 1 ops; 00.00 sec (2.417 MiB/sec and 618.6821 ops/sec)".
  for (size_t at = out.find(" ops/sec)"); at != std::string::npos;
       at = out.find(" ops/sec)", at + 1)) {
    const size_t from = out.rfind(' ', at - 1) + 1;
    double per_s = 0;
    if (absl::SimpleAtod(out.substr(from, at - from), &per_s) && per_s > 0) {
      r.lat_us.push_back(1e6 / per_s);
    }
  }
  if (static_cast<int>(r.lat_us.size()) != ops || out.find("failed") != std::string::npos) {
    std::fprintf(stderr, "qemu-io %s: %zu of %d requests reported\n%s\n", peer.args.c_str(),
                 r.lat_us.size(), ops, out.substr(0, 2000).c_str());
    std::exit(1);
  }
  return r;
}

// qemu-io opening the peer and doing nothing: its start-up and shutdown, taken off wall times.
double QemuIoStartup(const Peer& peer) {
  std::vector<double> s;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    Run(absl::StrCat("qemu-io ", peer.args, " < /dev/null"));
    s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return *std::min_element(s.begin(), s.end());
}

// The io section: see the header. Prints per-round and summary lines.
// Makes vol-io on `backend`, exported, full of data (flushed, so the daemon's qcow2 caches are
// on disk); its endpoint.
NbdEndpoint MakeIoVolume(minicloud::volume::QsdVolumeBackend& backend, int io_mib) {
  Must(backend.CreateVolume({"vol-io", static_cast<uint64_t>(io_mib) << 20, ""}));
  const NbdEndpoint e = Must(backend.Export("vol-io"));
  Run(absl::StrCat("qemu-io -f raw -c 'write -P 0x5a 0 ", io_mib, "M' -c flush '", e.Uri(), "'"));
  return e;
}

// CPU µs per request of the two processes of a qemu-img bench run, per round.
struct CpuPerRequest {
  std::vector<double> client, daemon;
};

void IoSection(minicloud::volume::QsdVolumeBackend& backend,
               minicloud::volume::QsdVolumeBackend* threads_backend, const std::string& dir,
               int rounds, int io_ops, int io_mib, int bench_count) {
  const uint64_t region = static_cast<uint64_t>(io_mib) << 20;
  const NbdEndpoint e = MakeIoVolume(backend, io_mib);
  std::ifstream in(dir + "/state/manifest.json");
  std::stringstream text;
  text << in.rdbuf();
  const auto manifest = Must(minicloud::volume::ParseManifest(text.str()));
  const int64_t top = manifest.volumes.at("vol-io").top;
  const std::string local = dir + "/local.qcow2";
  Run(absl::StrCat("cp --sparse=always ", dir, "/state/layers/", top, ".qcow2 ", local));
  Run("qemu-img check -q " + local);
  Run(absl::StrCat("qemu-io -f qcow2 -c 'read -P 0x5a 0 ", io_mib, "M' ", local));
  std::printf("io_region_mib=%d\nio_ops=%d\nio_local_file=%s (copy of layer %lld)\n", io_mib,
              io_ops, local.c_str(), static_cast<long long>(top));
  // Both with write-back semantics (no FUA on each write; qemu-io's default is writethrough):
  // the agent attaches EBS disks with cache='none' (ebs_disk.cc), which is write-back too.
  const Peer nbd{"nbd", absl::StrCat("-f raw -t writeback '", e.Uri(), "'")};
  const Peer loc{"local", absl::StrCat("-f qcow2 -t writeback ", local)};
  // Peers of the qemu-io workloads: 0 = nbd, 1 = local, 2 = nbd_threads (with --aio-ab: the
  // same data on a second daemon whose layer files use the thread pool instead of io_uring).
  std::vector<Peer> peers = {nbd, loc};
  if (threads_backend != nullptr) {
    const NbdEndpoint t = MakeIoVolume(*threads_backend, io_mib);
    peers.push_back({"nbd_threads", absl::StrCat("-f raw -t writeback '", t.Uri(), "'")});
  }
  // Every peer's file (layers of both daemons, the local copy) the same way in the page cache.
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    if (f.is_regular_file() && f.path().extension() == ".qcow2") SamePageCacheState(f.path());
  }
  const int np = static_cast<int>(peers.size());
  std::vector<double> startup;
  for (const Peer& p : peers) {
    startup.push_back(QemuIoStartup(p));
    std::printf("qemu_io_startup_s_%s=%.3f\n", p.name.c_str(), startup.back());
  }

  struct Workload {
    const char* name;
    bool write, random;
  };
  const Workload workloads[] = {{"seqwrite", true, false},
                                {"randwrite", true, true},
                                {"seqread", false, false},
                                {"randread", false, true}};
  // Per workload, per round: throughput ratio and p99 ratio (nbd / local).
  std::map<std::string, std::vector<double>> tput_ratio, p99_ratio, iops[3], p50[3], p99[3];
  std::map<std::string, std::vector<double>> bench_ratio, aio_tput_ratio, aio_p99_ratio;
  std::map<std::string, CpuPerRequest> bench_cpu[2];  // [peer][bench name]
  for (int round = 0; round < rounds; ++round) {
    for (const Workload& w : workloads) {
      IoRun r[3];
      const uint64_t seed = 1000 * static_cast<uint64_t>(round) + (w.random ? 7 : 0);
      for (int k = 0; k < np; ++k) {
        const int peer = (round + k) % np;  // who goes first rotates
        r[peer] = QemuIo(peers[peer], dir, w.write, w.random, io_ops, region, seed);
      }
      double t[3], q50[3], q99[3];
      for (int peer = 0; peer < np; ++peer) {
        const double busy = r[peer].wall_s - startup[peer];
        t[peer] = io_ops / std::max(busy, 1e-3);
        q50[peer] = Percentile(r[peer].lat_us, 0.5);
        q99[peer] = Percentile(r[peer].lat_us, 0.99);
        iops[peer][w.name].push_back(t[peer]);
        p50[peer][w.name].push_back(q50[peer]);
        p99[peer][w.name].push_back(q99[peer]);
      }
      tput_ratio[w.name].push_back(t[0] / t[1]);
      p99_ratio[w.name].push_back(q99[0] / q99[1]);
      std::printf(
          "round=%d %s nbd: %.0f req/s p50 %.0f us p99 %.0f us | local: %.0f req/s p50 %.0f us "
          "p99 %.0f us | throughput %.3fx p99 %.2fx\n",
          round, w.name, t[0], q50[0], q99[0], t[1], q50[1], q99[1], t[0] / t[1], q99[0] / q99[1]);
      if (np == 3) {
        aio_tput_ratio[w.name].push_back(t[0] / t[2]);
        aio_p99_ratio[w.name].push_back(q99[0] / q99[2]);
        std::printf(
            "round=%d %s nbd_threads: %.0f req/s p50 %.0f us p99 %.0f us | io_uring vs threads: "
            "throughput %.3fx p99 %.2fx\n",
            round, w.name, t[2], q50[2], q99[2], t[0] / t[2], q99[0] / q99[2]);
      }
    }
    // qemu-img bench: sequential, depth 16 kept full, no per-request output.
    for (const bool write : {true, false}) {
      const std::string common =
          absl::StrCat(write ? "-w --pattern=107 " : "", "-c ", bench_count, " -s 4K -d 16 ");
      const Peer* peers[2] = {&nbd, &loc};
      const std::string name = write ? "bench_seqwrite" : "bench_seqread";
      double t[2];
      for (int k = 0; k < 2; ++k) {
        const int peer = (round + k) % 2;
        const int daemon = backend.DaemonPidForTest();
        const CpuTimes before = CpuNow(daemon);
        t[peer] = BenchSeconds(common + peers[peer]->args);
        const CpuTimes after = CpuNow(daemon);
        const double per = 1e6 / bench_count;
        CpuPerRequest& c = bench_cpu[peer][name];
        c.client.push_back((after.children - before.children) * per);
        c.daemon.push_back((after.daemon - before.daemon) * per);
      }
      bench_ratio[name].push_back(t[1] / t[0]);
      std::printf(
          "round=%d %s (qemu-img bench, %d requests) nbd %.3f s local %.3f s: nbd %.3fx "
          "local\n",
          round, name.c_str(), bench_count, t[0], t[1], t[1] / t[0]);
    }
  }
  auto range = [](const std::vector<double>& v) {
    return absl::StrFormat("%.3f (min %.3f, max %.3f)", Median(v),
                           *std::min_element(v.begin(), v.end()),
                           *std::max_element(v.begin(), v.end()));
  };
  for (const Workload& w : workloads) {
    std::printf("%s_nbd_vs_local_throughput_median=%s\n", w.name,
                range(tput_ratio[w.name]).c_str());
    std::printf("%s_nbd_vs_local_p99_median=%s\n", w.name, range(p99_ratio[w.name]).c_str());
    const bool met = Median(tput_ratio[w.name]) >= 0.8 && Median(p99_ratio[w.name]) <= 2.0;
    std::printf("%s_goal (throughput >= 0.8x, p99 <= 2x)=%s\n", w.name, met ? "met" : "NOT met");
    if (np == 3) {
      std::printf("%s_io_uring_vs_threads_throughput_median=%s\n", w.name,
                  range(aio_tput_ratio[w.name]).c_str());
      std::printf("%s_io_uring_vs_threads_p99_median=%s\n", w.name,
                  range(aio_p99_ratio[w.name]).c_str());
    }
    std::printf(
        "%s_medians: nbd %.0f req/s p50 %.0f us p99 %.0f us; local %.0f req/s p50 %.0f us p99 "
        "%.0f us\n",
        w.name, Median(iops[0][w.name]), Median(p50[0][w.name]), Median(p99[0][w.name]),
        Median(iops[1][w.name]), Median(p50[1][w.name]), Median(p99[1][w.name]));
  }
  for (const auto& [name, v] : bench_ratio) {
    std::printf("%s_vs_local_throughput_median=%s\n", name.c_str(), range(v).c_str());
  }
  // Work per request (medians over the rounds). The daemon serves only these requests while
  // qemu-img runs; for the local peer it is idle (its few µs are an idle daemon's baseline).
  const char* peer_names[2] = {"nbd", "local"};
  for (int peer = 0; peer < 2; ++peer) {
    for (const auto& [name, c] : bench_cpu[peer]) {
      std::printf("%s_cpu_us_per_request_%s: client %.2f daemon %.2f total %.2f\n", name.c_str(),
                  peer_names[peer], Median(c.client), Median(c.daemon),
                  Median(c.client) + Median(c.daemon));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int n = 30, snapshot_gib = 2, fill_mib = 256, bench_count = 20000, rounds = 5, io_ops = 16384,
      io_mib = 256;
  std::string dir, only = "clone,increment,io";
  bool aio_ab = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--n=")) (void)absl::SimpleAtoi(a, &n);
    if (absl::ConsumePrefix(&a, "--snapshot-gib=")) (void)absl::SimpleAtoi(a, &snapshot_gib);
    if (absl::ConsumePrefix(&a, "--fill-mib=")) (void)absl::SimpleAtoi(a, &fill_mib);
    if (absl::ConsumePrefix(&a, "--bench-count=")) (void)absl::SimpleAtoi(a, &bench_count);
    if (absl::ConsumePrefix(&a, "--rounds=")) (void)absl::SimpleAtoi(a, &rounds);
    if (absl::ConsumePrefix(&a, "--io-ops=")) (void)absl::SimpleAtoi(a, &io_ops);
    if (absl::ConsumePrefix(&a, "--io-mib=")) (void)absl::SimpleAtoi(a, &io_mib);
    if (absl::ConsumePrefix(&a, "--only=")) only = std::string(a);
    if (absl::ConsumePrefix(&a, "--dir=")) dir = std::string(a);
    if (a == "--aio-ab") aio_ab = true;
  }
  auto wanted = [&](const char* s) { return absl::StrContains(only, s); };
  if (dir.empty()) {
    char tmpl[] = "/var/tmp/minicloud-bench-volume.XXXXXX";
    dir = mkdtemp(tmpl);
  }
  const uint64_t size = static_cast<uint64_t>(snapshot_gib) << 30;
  minicloud::volume::QsdBackendOptions options;
  options.state_dir = dir + "/state";
  options.nbd_listen_port = 0;
  auto backend = Must(minicloud::volume::QsdVolumeBackend::Open(options));
  std::printf("dir=%s\nloadavg_start=%s\n", dir.c_str(), LoadAverage().c_str());
  if (wanted("clone") || wanted("increment")) {
    Must(backend->CreateVolume({"vol-src", size, ""}));
    const NbdEndpoint src = Must(backend->Export("vol-src"));
    Run(absl::StrCat("qemu-io -f raw -c 'write -P 0x5a 0 ", fill_mib, "M' '", src.Uri(), "'"));
    Must(backend->CreateSnapshot("vol-src", "snap-src"));
    std::printf("snapshot_virtual_bytes=%llu\nsnapshot_written_mib=%d\n",
                static_cast<unsigned long long>(size), fill_mib);
    if (wanted("clone")) {
      // clone: the backend vs bare qemu-img create -b of the same snapshot file, interleaved.
      const std::string snap_file = dir + "/state/layers/1.qcow2";  // the first layer, frozen
      std::vector<double> ours, peer;
      for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        Must(backend->CreateVolume({absl::StrCat("vol-c", i), 0, "snap-src"}));
        ours.push_back(Ms(Clock::now() - t0));
        const std::string f = absl::StrCat(dir, "/peer-", i, ".qcow2");
        t0 = Clock::now();
        Run(absl::StrCat("qemu-img create -q -f qcow2 -u -b ", snap_file, " -F qcow2 ", f, " ",
                         size));
        peer.push_back(Ms(Clock::now() - t0));
      }
      std::printf("clone_ms_p50=%.2f\nclone_ms_p90=%.2f\nqemu_img_create_ms_p50=%.2f\n",
                  Percentile(ours, 0.5), Percentile(ours, 0.9), Percentile(peer, 0.5));
      std::printf("ratio_clone_vs_qemu_img_p50=%.3f\n",
                  Percentile(ours, 0.5) / Percentile(peer, 0.5));
    }
    if (wanted("increment")) {
      Run(absl::StrCat("qemu-io -f raw -c 'write -P 0x6b 1000M 1M' '", src.Uri(), "'"));
      const auto inc = Must(backend->CreateSnapshot("vol-src", "snap-inc"));
      std::printf("incremental_snapshot_bytes_for_1MiB=%llu\n",
                  static_cast<unsigned long long>(inc.stored_bytes));
    }
  }
  if (wanted("io")) {
    std::unique_ptr<minicloud::volume::QsdVolumeBackend> threads_backend;
    if (aio_ab) {
      minicloud::volume::QsdBackendOptions t = options;
      t.state_dir = dir + "/state-threads";
      t.file_aio = "threads";
      threads_backend = Must(minicloud::volume::QsdVolumeBackend::Open(t));
    }
    std::printf("file_aio=%s%s\n", backend->FileAioForTest().c_str(),
                aio_ab ? " (and a second daemon with threads: --aio-ab)" : "");
    IoSection(*backend, threads_backend.get(), dir, rounds, io_ops, io_mib, bench_count);
  }
  std::printf("loadavg_end=%s\n", LoadAverage().c_str());
  backend.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
