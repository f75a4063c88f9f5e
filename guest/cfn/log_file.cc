#include "guest/cfn/log_file.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sstream>

#include "guest/cfn/real_system.h"

namespace minicloud::guest {

LogFile::LogFile(const std::string& name) {
  const char* dir = std::getenv("MINICLOUD_CFN_LOG_DIR");
  std::string base = dir && *dir ? dir : "/var/log";
  (void)MakeDirs(base);
  path_ = base + "/" + name;
}

void LogFile::Line(const std::string& text) const {
  char stamp[32];
  std::time_t now = std::time(nullptr);
  struct tm tm;
  ::gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
  std::FILE* f = std::fopen(path_.c_str(), "a");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (f) std::fprintf(f, "%s,UTC %s\n", stamp, line.c_str());
    if (echo_) std::fprintf(stderr, "%s %s\n", stamp, line.c_str());
  }
  if (f) std::fclose(f);
}

}  // namespace minicloud::guest
