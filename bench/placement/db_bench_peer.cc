// RocksDB's db_bench as the peer of the durable writes (db_bench_peer.h).

#include "bench/placement/db_bench_peer.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <vector>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace minicloud::scheduler {

bool RunDbBench(const std::string& db_bench, const std::string& work_dir, int num, int threads,
                int value_size, double* ops_per_sec) {
  const std::string dir = absl::StrCat(work_dir, "/db_bench");
  std::filesystem::remove_all(dir);
  const std::string out_path = absl::StrCat(work_dir, "/db_bench.out");
  // db_bench's --num is per thread: `threads` threads write `num` records in all.
  std::vector<std::string> args = {db_bench,
                                   "--benchmarks=fillrandom",
                                   "--sync=1",
                                   absl::StrCat("--num=", std::max(1, num / threads)),
                                   absl::StrCat("--value_size=", value_size),
                                   absl::StrCat("--threads=", threads),
                                   absl::StrCat("--db=", dir)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, db_bench.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    std::fprintf(stderr, "cannot run %s (install rocksdb-tools)\n", db_bench.c_str());
    return false;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::FILE* f = std::fopen(out_path.c_str(), "r");
  if (f == nullptr) return false;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  std::smatch m;
  // "fillrandom   :      62.213 micros/op 16073 ops/sec ..."
  if (!std::regex_search(
          text, m, std::regex(R"(fillrandom\s*:\s*([0-9.]+) micros/op\s+([0-9.]+) ops/sec)"))) {
    std::fprintf(stderr, "cannot parse db_bench output:\n%s\n", text.c_str());
    return false;
  }
  *ops_per_sec = std::stod(m[2].str());
  std::filesystem::remove_all(dir);
  return true;
}

}  // namespace minicloud::scheduler
