#pragma once

// RocksDB's db_bench (Debian's rocksdb-tools) as the peer of our durable writes: `fillrandom`
// with --sync=1, `num` records in all over `threads` threads, values of `value_size` bytes, in
// <work_dir>/db_bench (removed afterwards). Sets its ops/s; false when it cannot run or its
// output does not parse.

#include <string>

namespace minicloud::scheduler {

bool RunDbBench(const std::string& db_bench, const std::string& work_dir, int num, int threads,
                int value_size, double* ops_per_sec);

}  // namespace minicloud::scheduler
