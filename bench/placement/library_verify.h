#pragma once

// The library line's store (placement_bench.cc) read back from disk: the hosts' topology and
// recorded usage, the groups and the instances, judged by the independent checker
// (controller/scheduler/checker.h) including recorded usage = sum of instances. Prints the
// "verify_*" and "checker_*" lines. True when nothing is violated and exactly
// `expected_instances` instances are on disk. The store must be closed.

#include <cstdint>
#include <string>

namespace minicloud::scheduler {

bool VerifyLibraryStore(const std::string& db_path, int64_t expected_instances);

}  // namespace minicloud::scheduler
