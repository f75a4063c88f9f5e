#pragma once

// What cfn-init does to the guest, behind one interface: the real implementation
// (real_system.*) acts on the machine it runs on; tests use a fake that records calls.
//
// Contract:
// - Every method reports failure as a Status naming what failed; none throws.
// - WriteFileAtomic leaves either the old file or the complete new one (temp file + rename in
//   the target's directory, parents created 0755), with `mode` applied before the rename.
// - Run starts argv directly (no shell unless argv says so), with `env` as the whole environment
//   when `replace_env`, else added to the helper's own; output is stdout and stderr interleaved.
// - AptInstall installs the packages given as "name" or "name=version" non-interactively and
//   returns the names it actually installed or changed (empty: all were already there).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "guest/cfn/status.h"

namespace minicloud::guest {

struct ProcessSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  bool replace_env = false;
  std::string cwd;  // empty: the helper's own
};

struct ProcessResult {
  int exit_code = 0;   // valid when signal == 0
  int signal = 0;      // non-zero: killed by this signal
  std::string output;  // stdout + stderr
  bool ok() const { return signal == 0 && exit_code == 0; }
  // "exit status N" or "killed by signal N".
  std::string Describe() const;
};

class System {
 public:
  virtual ~System() = default;

  // A process that cannot start is a Status; one that ran is a ProcessResult, whatever its exit.
  virtual StatusOr<ProcessResult> Run(const ProcessSpec& spec) = 0;

  // nullopt when the file does not exist.
  virtual StatusOr<std::optional<std::string>> ReadFile(const std::string& path) = 0;
  virtual Status WriteFileAtomic(const std::string& path, const std::string& content,
                                 unsigned mode) = 0;
  // Mode of an existing file (permission bits), nullopt when absent.
  virtual std::optional<unsigned> FileMode(const std::string& path) = 0;
  // Replaces `path` (file or symlink) with a symlink to `target`; true when it changed.
  virtual StatusOr<bool> Symlink(const std::string& target, const std::string& path) = 0;
  // Owner and group by name or number; empty leaves it as is.
  virtual Status Chown(const std::string& path, const std::string& owner,
                       const std::string& group) = 0;

  virtual bool GroupExists(const std::string& name) = 0;
  virtual Status AddGroup(const std::string& name, const std::optional<std::string>& gid) = 0;
  virtual bool UserExists(const std::string& name) = 0;
  virtual Status AddUser(const std::string& name, const std::vector<std::string>& groups,
                         const std::optional<std::string>& uid,
                         const std::optional<std::string>& home) = 0;
  // Adds an existing user to groups it is not in yet.
  virtual Status AddUserToGroups(const std::string& name,
                                 const std::vector<std::string>& groups) = 0;

  virtual StatusOr<std::vector<std::string>> AptInstall(const std::vector<std::string>& packages,
                                                        std::string& output) = 0;

  // The body of a URL (http:// directly; https:// with the guest's curl).
  virtual StatusOr<std::string> Fetch(const std::string& url) = 0;
  // Unpacks an archive's bytes (tar, tar.gz/bz2/xz, zip; sniffed from the bytes) into `dir`.
  virtual Status Extract(const std::string& archive, const std::string& dir) = 0;

  // systemctl verbs: "enable", "disable", "start", "stop", "restart"; "is-active" / "is-enabled"
  // through the queries.
  virtual Status Systemctl(const std::string& verb, const std::string& unit) = 0;
  virtual bool ServiceActive(const std::string& unit) = 0;
  virtual bool ServiceEnabled(const std::string& unit) = 0;
};

}  // namespace minicloud::guest
