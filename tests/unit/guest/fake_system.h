#pragma once

// A System (guest/cfn/system.h) in memory for cfn-init's executor tests: files, users, groups,
// packages and units as maps; every call recorded in `calls` ("systemctl restart nginx", …);
// commands answered by `command_results` (by the command's last argv item), else exit 0.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "guest/cfn/system.h"

namespace minicloud::guest::testing {

class FakeSystem : public System {
 public:
  struct File {
    std::string content;
    unsigned mode = 0644;
    std::string owner, group;
    std::string link_target;  // non-empty: a symlink
  };
  std::map<std::string, File> files;
  std::set<std::string> groups, users;
  std::set<std::string> installed;  // apt package names
  std::set<std::string> active, enabled;
  std::map<std::string, std::string> urls;  // Fetch answers
  std::map<std::string, ProcessResult> command_results;
  std::vector<std::string> calls;
  std::vector<ProcessSpec> runs;
  std::map<std::string, std::string> extracted;  // dir → archive bytes

  StatusOr<ProcessResult> Run(const ProcessSpec& spec) override {
    runs.push_back(spec);
    std::string joined;
    for (const std::string& a : spec.argv) joined += (joined.empty() ? "" : " ") + a;
    calls.push_back("run " + joined);
    auto it = command_results.find(spec.argv.back());
    if (it != command_results.end()) return it->second;
    return ProcessResult{};
  }
  StatusOr<std::optional<std::string>> ReadFile(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second.content);
  }
  Status WriteFileAtomic(const std::string& path, const std::string& content,
                         unsigned mode) override {
    calls.push_back("write " + path);
    files[path].content = content;
    files[path].mode = mode;
    return OkStatus();
  }
  std::optional<unsigned> FileMode(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second.mode;
  }
  StatusOr<bool> Symlink(const std::string& target, const std::string& path) override {
    calls.push_back("symlink " + path + " -> " + target);
    bool changed = files[path].link_target != target;
    files[path].link_target = target;
    return changed;
  }
  Status Chown(const std::string& path, const std::string& owner,
               const std::string& group) override {
    if (!owner.empty() && owner != "root" && !users.count(owner)) {
      return Error("chown " + path + ": no user " + owner);
    }
    files[path].owner = owner;
    files[path].group = group;
    return OkStatus();
  }
  bool GroupExists(const std::string& name) override { return groups.count(name); }
  Status AddGroup(const std::string& name, const std::optional<std::string>& gid) override {
    calls.push_back("groupadd " + name + (gid ? " gid=" + *gid : ""));
    groups.insert(name);
    return OkStatus();
  }
  bool UserExists(const std::string& name) override { return users.count(name); }
  Status AddUser(const std::string& name, const std::vector<std::string>& gs,
                 const std::optional<std::string>& uid,
                 const std::optional<std::string>& home) override {
    std::string g;
    for (const std::string& x : gs) {
      if (!groups.count(x)) return Error("useradd: group " + x + " does not exist");
      g += (g.empty() ? "" : ",") + x;
    }
    calls.push_back("useradd " + name + " groups=" + g + (uid ? " uid=" + *uid : "") +
                    (home ? " home=" + *home : ""));
    users.insert(name);
    return OkStatus();
  }
  Status AddUserToGroups(const std::string& name, const std::vector<std::string>& gs) override {
    for (const std::string& g : gs) calls.push_back("usermod " + name + " +" + g);
    return OkStatus();
  }
  std::string apt_failure;  // non-empty: AptInstall fails with this output
  StatusOr<std::vector<std::string>> AptInstall(const std::vector<std::string>& packages,
                                                std::string& output) override {
    std::string joined;
    for (const std::string& p : packages) joined += " " + p;
    calls.push_back("apt-get install" + joined);
    if (!apt_failure.empty()) {
      output = apt_failure;
      return Error("apt-get gave exit status 100");
    }
    std::vector<std::string> changed;
    for (const std::string& p : packages) {
      std::string name = p.substr(0, p.find('='));
      if (installed.insert(name).second) changed.push_back(name);
    }
    return changed;
  }
  StatusOr<std::string> Fetch(const std::string& url) override {
    auto it = urls.find(url);
    if (it == urls.end()) return Error("GET " + url + ": HTTP 404");
    return it->second;
  }
  Status Extract(const std::string& archive, const std::string& dir) override {
    calls.push_back("extract " + dir);
    extracted[dir] = archive;
    return OkStatus();
  }
  Status Systemctl(const std::string& verb, const std::string& unit) override {
    calls.push_back("systemctl " + verb + " " + unit);
    if (verb == "start" || verb == "restart") active.insert(unit);
    if (verb == "stop") active.erase(unit);
    if (verb == "enable") enabled.insert(unit);
    if (verb == "disable") enabled.erase(unit);
    return OkStatus();
  }
  bool ServiceActive(const std::string& unit) override { return active.count(unit); }
  bool ServiceEnabled(const std::string& unit) override { return enabled.count(unit); }
};

}  // namespace minicloud::guest::testing
