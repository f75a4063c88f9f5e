#include "common/boot_verdict.h"

#include <algorithm>
#include <regex>
#include <sstream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace minicloud {
namespace {

// Strips ANSI colour sequences and carriage returns from a console line.
std::string Clean(absl::string_view line) {
  static const std::regex kAnsi("\x1b\\[[0-9;?]*[A-Za-z]");
  std::string s = std::regex_replace(std::string(line.data(), line.size()), kAnsi, "");
  s.erase(std::remove(s.begin(), s.end(), '\r'), s.end());
  return s;
}

}  // namespace

BootVerdict ParseBootConsole(const std::string& console) {
  static const std::regex kKernel(R"(\[\s*([0-9.]+)\]\s+Linux version )");
  static const std::regex kStage(
      R"(Cloud-init v\. \S+ running '([^']+)' at .* Up ([0-9.]+) seconds)");
  static const std::regex kFinished(
      R"(Cloud-init v\. \S+ finished at .* Datasource (\S+?)\.?\s+Up ([0-9.]+) seconds)");
  static const std::regex kFailedPart(R"(Failed running (\S+/scripts/\S+) \[(-?[0-9]+)\])");
  static const std::regex kFailedModule(
      R"(Failed to run module scripts-user|Running module scripts-user .* failed)");
  static const std::regex kCloudInitLine(R"(cloud-init\[([0-9]+)\]: (.*)$)");

  BootVerdict v;
  std::string final_pid;
  for (absl::string_view raw : absl::StrSplit(console, '\n')) {
    const std::string line = Clean(raw);
    std::smatch m;
    if (std::regex_search(line, m, kKernel)) {
      v.stages.push_back({"kernel", std::stod(m[1])});
    } else if (std::regex_search(line, m, kStage)) {
      v.stages.push_back({m[1], std::stod(m[2])});
      if (m[1] == "modules:final") {
        std::smatch p;
        if (std::regex_search(line, p, kCloudInitLine)) final_pid = p[1];
      }
    } else if (std::regex_search(line, m, kFinished)) {
      v.cloud_init_finished = true;
      v.datasource = m[1];
      v.finished_uptime_s = std::stod(m[2]);
    } else if (std::regex_search(line, m, kFailedPart)) {
      v.user_data_failed = true;
      v.user_data_exit_status = std::stoi(m[2]);
      v.failures.push_back(line);
    } else if (std::regex_search(line, m, kFailedModule)) {
      v.user_data_failed = true;
      v.failures.push_back(line);
    } else if (!final_pid.empty() && std::regex_search(line, m, kCloudInitLine) &&
               m[1] == final_pid && line.find("util.py[") == std::string::npos) {
      v.output.push_back(m[2]);
    }
  }
  if (v.cloud_init_finished && !v.user_data_failed) v.user_data_exit_status = 0;
  return v;
}

namespace {

const char* VerdictName(const BootVerdict& v, bool has_user_data) {
  if (!v.cloud_init_finished) return "running";
  if (!has_user_data) return "no-user-data";
  return v.user_data_failed ? "failed" : "succeeded";
}

}  // namespace

std::string FormatBootVerdict(const BootVerdict& v, bool has_user_data) {
  std::ostringstream out;
  if (!v.cloud_init_finished) {
    out << "verdict: cloud-init did not finish\n";
  } else if (!has_user_data) {
    out << "verdict: booted; no user data was given\n";
  } else if (v.user_data_failed) {
    out << "verdict: user data FAILED";
    if (v.user_data_exit_status) {
      out << " (exit status " << *v.user_data_exit_status << ")";
    } else {
      out << " (exit status not on the console: this cloud-init logs it only in the guest's "
             "/var/log/cloud-init.log)";
    }
    out << "\n";
  } else {
    out << "verdict: user data succeeded (exit status 0)\n";
  }
  if (!v.datasource.empty()) out << "datasource: " << v.datasource << "\n";
  out << "timeline (guest uptime):\n";
  for (const auto& s : v.stages) out << absl::StrFormat("  %8.1fs  %s\n", s.uptime_s, s.name);
  if (v.cloud_init_finished) {
    out << absl::StrFormat("  %8.1fs  cloud-init finished\n", v.finished_uptime_s);
  }
  if (!v.output.empty()) {
    out << "user data output (console):\n";
    size_t start = v.output.size() > 20 ? v.output.size() - 20 : 0;
    for (size_t i = start; i < v.output.size(); ++i) out << "  " << v.output[i] << "\n";
  }
  for (const auto& f : v.failures) out << "failure: " << f << "\n";
  return out.str();
}

nlohmann::json BootVerdictJson(const BootVerdict& v, bool has_user_data) {
  nlohmann::json j = {{"Verdict", VerdictName(v, has_user_data)},
                      {"CloudInitFinished", v.cloud_init_finished},
                      {"UserDataFailed", v.user_data_failed},
                      {"UserDataExitStatus", nullptr},
                      {"Datasource", v.datasource},
                      {"Timeline", nlohmann::json::array()},
                      {"Output", v.output},
                      {"Failures", v.failures}};
  if (v.user_data_exit_status) j["UserDataExitStatus"] = *v.user_data_exit_status;
  for (const auto& s : v.stages) {
    j["Timeline"].push_back({{"Stage", s.name}, {"GuestUptimeSeconds", s.uptime_s}});
  }
  if (v.cloud_init_finished) {
    j["Timeline"].push_back({{"Stage", "finished"}, {"GuestUptimeSeconds", v.finished_uptime_s}});
  }
  return j;
}

}  // namespace minicloud
