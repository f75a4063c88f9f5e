#pragma once

// Timestamped lines appended to a helper's log file (/var/log/cfn-init.log, …). The directory
// is /var/log unless MINICLOUD_CFN_LOG_DIR names another (tests run the helpers on the host).

#include <string>

namespace minicloud::guest {

class LogFile {
 public:
  explicit LogFile(const std::string& name);  // "cfn-init.log"
  void Line(const std::string& text) const;   // multi-line text: each line stamped
  const std::string& path() const { return path_; }
  void set_echo(bool echo) { echo_ = echo; }  // also to stderr (-v of cfn-hup --no-daemon)

 private:
  std::string path_;
  bool echo_ = false;
};

}  // namespace minicloud::guest
