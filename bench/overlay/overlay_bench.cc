// bench_overlay: how long it takes to give a new instance its root disk, i.e. to create a
// copy-on-write qcow2 overlay of an AMI, natively (storage::CreateOverlay) versus the way a
// user would do it (fork/exec `qemu-img create -f qcow2 -b BASE -F qcow2 OVERLAY`).
//
// Both run in ONE process, in the same directory on the same disk, interleaved in ABBA order
// (A B B A A B B A ...) after a few untimed warm-up rounds, so drift (page cache, CPU
// frequency, other load) hits both alike. Both sides fsync: CreateOverlay fsyncs the file and
// the directory; qemu-img fdatasyncs the image on close.
//
// Usage: bench_overlay [--n=200] [--warmup=5] [--base=PATH] [--dir=DIR] [--keep]
//   --base  existing qcow2 to use as the AMI (e.g. the Debian AMI); default: a 2 GiB qcow2
//           created with qemu-img in the work dir (creation time is reported).
//   --dir   work directory (default: a fresh /var/tmp/minicloud-bench-overlay.XXXXXX).
//
// Output: plain "key=value" lines; `result` lines per implementation, then `ratio` lines.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/storage/qcow2.h"

extern char** environ;

namespace minicloud::storage {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int n = 200;
  int warmup = 5;
  std::string base;
  std::string dir;
  bool keep = false;
};

bool ParseFlags(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string_view flag) -> const char* {
      const std::string prefix =
          absl::StrCat("--", absl::string_view(flag.data(), flag.size()), "=");
      return absl::StartsWith(a, prefix) ? argv[i] + prefix.size() : nullptr;
    };
    if (const char* v = value("n")) {
      if (!absl::SimpleAtoi(v, &o.n) || o.n < 1) return false;
    } else if (const char* v = value("warmup")) {
      if (!absl::SimpleAtoi(v, &o.warmup) || o.warmup < 0) return false;
    } else if (const char* v = value("base")) {
      o.base = v;
    } else if (const char* v = value("dir")) {
      o.dir = v;
    } else if (a == "--keep") {
      o.keep = true;
    } else {
      return false;
    }
  }
  return true;
}

// Runs argv with stdout/stderr to /dev/null; returns the exit code (-1 on spawn/signal).
int Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

double MicrosSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

struct Stats {
  double p50, p90, p99, mean, min, max;
};

double Percentile(const std::vector<double>& sorted, double q) {  // nearest rank
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  return {Percentile(v, 0.50), Percentile(v, 0.90),
          Percentile(v, 0.99), sum / static_cast<double>(v.size()),
          v.front(),           v.back()};
}

void PrintResult(const char* impl, const std::vector<double>& samples) {
  const Stats s = Summarize(samples);
  absl::PrintF(
      "result impl=%s n=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f "
      "max_us=%.1f\n",
      impl, samples.size(), s.p50, s.p90, s.p99, s.mean, s.min, s.max);
}

int Main(int argc, char** argv) {
  Options opt;
  if (!ParseFlags(argc, argv, opt)) {
    std::fprintf(stderr, "usage: %s [--n=200] [--warmup=5] [--base=PATH] [--dir=DIR] [--keep]\n",
                 argv[0]);
    return 2;
  }
  if (opt.dir.empty()) {
    std::string tmpl = "/var/tmp/minicloud-bench-overlay.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    opt.dir = tmpl;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(opt.dir, ec);
  }
  opt.dir = std::filesystem::absolute(opt.dir).string();

  std::string base = opt.base;
  const char* base_origin = "given";
  double base_create_ms = 0;
  if (base.empty()) {
    base = opt.dir + "/base.qcow2";
    base_origin = "qemu-img";
    const Clock::time_point t0 = Clock::now();
    if (Spawn({"qemu-img", "create", "-f", "qcow2", base, "2G"}) != 0) {
      std::fprintf(stderr, "qemu-img create %s 2G failed (is qemu-utils installed?)\n",
                   base.c_str());
      return 1;
    }
    base_create_ms = MicrosSince(t0) / 1000.0;
  }
  base = std::filesystem::absolute(base).string();
  absl::StatusOr<Qcow2Info> info = InspectQcow2(base);
  if (!info.ok()) {
    std::fprintf(stderr, "base: %s\n", info.status().ToString().c_str());
    return 1;
  }

  absl::PrintF(
      "# bench_overlay: native CreateOverlay vs fork/exec `qemu-img create -f qcow2 -b BASE "
      "-F qcow2 OVERLAY`, ABBA-interleaved, same directory\n");
  absl::PrintF(
      "config n=%d warmup=%d order=ABBA dir=%s base=%s base_origin=%s base_virtual_size=%d "
      "base_cluster_size=%d base_create_ms=%.1f\n",
      opt.n, opt.warmup, opt.dir, base, base_origin, info->virtual_size, info->cluster_size,
      base_create_ms);

  std::vector<std::string> created;
  auto ours = [&](const std::string& path) -> bool {
    absl::Status s = CreateOverlay({.backing_path = base, .overlay_path = path});
    if (!s.ok()) std::fprintf(stderr, "CreateOverlay: %s\n", s.ToString().c_str());
    created.push_back(path);
    return s.ok();
  };
  auto theirs = [&](const std::string& path) -> bool {
    const int rc = Spawn({"qemu-img", "create", "-f", "qcow2", "-b", base, "-F", "qcow2", path});
    if (rc != 0) std::fprintf(stderr, "qemu-img create %s: exit %d\n", path.c_str(), rc);
    created.push_back(path);
    return rc == 0;
  };

  for (int i = 0; i < opt.warmup; ++i) {
    if (!ours(absl::StrCat(opt.dir, "/warm-mc-", i, ".qcow2")) ||
        !theirs(absl::StrCat(opt.dir, "/warm-qi-", i, ".qcow2"))) {
      return 1;
    }
  }

  std::vector<double> mc, qi;
  mc.reserve(opt.n);
  qi.reserve(opt.n);
  for (int i = 0; i < opt.n; ++i) {
    const std::string mc_path = absl::StrCat(opt.dir, "/mc-", i, ".qcow2");
    const std::string qi_path = absl::StrCat(opt.dir, "/qi-", i, ".qcow2");
    auto run_mc = [&] {
      const Clock::time_point t0 = Clock::now();
      const bool ok = ours(mc_path);
      mc.push_back(MicrosSince(t0));
      return ok;
    };
    auto run_qi = [&] {
      const Clock::time_point t0 = Clock::now();
      const bool ok = theirs(qi_path);
      qi.push_back(MicrosSince(t0));
      return ok;
    };
    const bool ours_first = (i % 2 == 0);  // ABBA: A B | B A | A B | ...
    const bool ok = ours_first ? (run_mc() && run_qi()) : (run_qi() && run_mc());
    if (!ok) return 1;
  }

  PrintResult("minicloud", mc);
  PrintResult("qemu-img", qi);
  const Stats a = Summarize(mc), b = Summarize(qi);
  absl::PrintF("ratio qemu_img_p50_over_minicloud_p50=%.2f\n", b.p50 / a.p50);
  absl::PrintF("ratio qemu_img_p99_over_minicloud_p99=%.2f\n", b.p99 / a.p99);
  absl::PrintF("ratio qemu_img_mean_over_minicloud_mean=%.2f\n", b.mean / a.mean);

  // Not timed: prove a sample of ours is an image QEMU accepts.
  const std::string sample = absl::StrCat(opt.dir, "/mc-0.qcow2");
  const int check = Spawn({"qemu-img", "check", "-q", sample});
  absl::PrintF("check minicloud_sample=%s qemu_img_check_exit=%d\n", sample, check);

  if (!opt.keep) {
    for (const std::string& p : created) std::filesystem::remove(p);
    if (opt.base.empty()) std::filesystem::remove(base);
    if (opt.dir.rfind("/var/tmp/minicloud-bench-overlay.", 0) == 0) {
      std::error_code ec;
      std::filesystem::remove(opt.dir, ec);  // only if empty
    }
  }
  return check == 0 ? 0 : 1;
}

}  // namespace
}  // namespace minicloud::storage

int main(int argc, char** argv) { return minicloud::storage::Main(argc, argv); }
