#pragma once

// Helpers for the storage tests: temp dirs, small file I/O, running qemu-img / qemu-io.

#include <cstdint>
#include <string>
#include <vector>

namespace minicloud::storage::testing {

// A fresh directory under $TMPDIR (default /tmp), removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Names of the entries in the directory (including dot files), sorted.
  std::vector<std::string> List() const;

 private:
  std::string path_;
};

struct RunResult {
  int exit_code = -1;  // -1 if it could not be started or was killed by a signal
  std::string output;  // stdout and stderr interleaved
};

// Runs argv (process::RunCapturingOutput: PATH lookup, no shell); captures output. Never throws.
RunResult Run(const std::vector<std::string>& argv);

// Runs and returns output, failing the current Catch2 test with the output if exit != 0.
std::string MustRun(const std::vector<std::string>& argv);

void WriteFile(const std::string& path, const std::string& bytes);
std::string ReadFile(const std::string& path);
// Overwrites bytes at `offset` in an existing file.
void PatchFile(const std::string& path, uint64_t offset, const std::string& bytes);

std::string Be32(uint32_t v);
std::string Be64(uint64_t v);

}  // namespace minicloud::storage::testing
