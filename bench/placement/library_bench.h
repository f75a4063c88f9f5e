#pragma once

// bench_placement's flags and its library line (placement_bench.cc); main.cc runs the lines and
// the paired rounds.

#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace minicloud::scheduler {

struct Options {
  int hosts = 10000;
  int prefill = 20000;
  int launches = 50000;
  uint32_t seed = 1;
  std::string dir;
  std::string db_bench = "/usr/bin/db_bench";
  int db_bench_num = 10000;
  int clients = 8;
  bool keep = false;
  std::string mode = "both";  // library | service | both | large-count
  int large_count = 3000;     // --mode=large-count: instances per call
  int large_rounds = 3;       // and calls in a row
  int rounds = 1;             // --mode=both: paired rounds (library and service, order alternating)
};

inline bool ParseFlags(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      const std::string prefix = absl::StrCat("--", flag, "=");
      return absl::StartsWith(a, prefix) ? argv[i] + prefix.size() : nullptr;
    };
    if (const char* v = value("hosts")) {
      if (!absl::SimpleAtoi(v, &o.hosts) || o.hosts < 3) return false;
    } else if (const char* v = value("prefill")) {
      if (!absl::SimpleAtoi(v, &o.prefill) || o.prefill < 0) return false;
    } else if (const char* v = value("launches")) {
      if (!absl::SimpleAtoi(v, &o.launches) || o.launches < 1) return false;
    } else if (const char* v = value("seed")) {
      if (!absl::SimpleAtoi(v, &o.seed)) return false;
    } else if (const char* v = value("clients")) {
      if (!absl::SimpleAtoi(v, &o.clients) || o.clients < 1 || o.clients > 256) return false;
    } else if (const char* v = value("dir")) {
      o.dir = v;
    } else if (const char* v = value("db_bench")) {
      o.db_bench = v;
    } else if (const char* v = value("db_bench_num")) {
      if (!absl::SimpleAtoi(v, &o.db_bench_num) || o.db_bench_num < 0) return false;
    } else if (const char* v = value("mode")) {
      o.mode = v;
      if (o.mode != "library" && o.mode != "service" && o.mode != "both" &&
          o.mode != "large-count") {
        return false;
      }
    } else if (const char* v = value("large_count")) {
      if (!absl::SimpleAtoi(v, &o.large_count) || o.large_count < 1) return false;
    } else if (const char* v = value("large_rounds")) {
      if (!absl::SimpleAtoi(v, &o.large_rounds) || o.large_rounds < 1) return false;
    } else if (const char* v = value("rounds")) {
      if (!absl::SimpleAtoi(v, &o.rounds) || o.rounds < 1 || o.rounds > 100) return false;
    } else if (a == "--keep") {
      o.keep = true;
    } else {
      return false;
    }
  }
  return true;
}

// Runs the library line (scheduler::Fleet + synthetic records through the controller's
// GroupCommitter and RocksDbStore) once; returns its exit status (0 = verified) and sets its
// committed requests per second.
int RunLibraryLine(const Options& o, double* committed_per_s);

}  // namespace minicloud::scheduler
