#pragma once

// The System (system.h) that acts on the machine cfn-init runs on: fork/exec with the output
// captured through a pipe, files written atomically, groupadd/useradd/usermod, apt-get,
// systemctl, tar/unzip (python3's zipfile when unzip is missing), curl for https URLs.

#include "guest/cfn/system.h"

namespace minicloud::guest {

// Runs a process to completion, output (stdout + stderr) captured, at most `max_output` bytes
// kept (the tail). The guest helpers' one fork/exec (they cannot link common/process: Abseil).
StatusOr<ProcessResult> RunProcess(const ProcessSpec& spec, size_t max_output = 4 << 20);

class RealSystem : public System {
 public:
  StatusOr<ProcessResult> Run(const ProcessSpec& spec) override;
  StatusOr<std::optional<std::string>> ReadFile(const std::string& path) override;
  Status WriteFileAtomic(const std::string& path, const std::string& content,
                         unsigned mode) override;
  std::optional<unsigned> FileMode(const std::string& path) override;
  StatusOr<bool> Symlink(const std::string& target, const std::string& path) override;
  Status Chown(const std::string& path, const std::string& owner,
               const std::string& group) override;
  bool GroupExists(const std::string& name) override;
  Status AddGroup(const std::string& name, const std::optional<std::string>& gid) override;
  bool UserExists(const std::string& name) override;
  Status AddUser(const std::string& name, const std::vector<std::string>& groups,
                 const std::optional<std::string>& uid,
                 const std::optional<std::string>& home) override;
  Status AddUserToGroups(const std::string& name, const std::vector<std::string>& groups) override;
  StatusOr<std::vector<std::string>> AptInstall(const std::vector<std::string>& packages,
                                                std::string& output) override;
  StatusOr<std::string> Fetch(const std::string& url) override;
  Status Extract(const std::string& archive, const std::string& dir) override;
  Status Systemctl(const std::string& verb, const std::string& unit) override;
  bool ServiceActive(const std::string& unit) override;
  bool ServiceEnabled(const std::string& unit) override;

 private:
  bool apt_updated_ = false;
};

// Creates `path` and its missing parents (0755). PURE of policy: used by the helpers' logs too.
Status MakeDirs(const std::string& path);

// What an archive is, from its first bytes: "zip", "gzip", "bzip2", "xz", "tar" or "" (unknown).
std::string SniffArchive(const std::string& bytes);

}  // namespace minicloud::guest
