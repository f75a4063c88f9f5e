#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace minicloud {

// What a guest's serial console says about its first boot and its user data. Pure: built from
// console text only, so it works with any stock image whose cloud-init logs to the console.
struct BootVerdict {
  struct Stage {
    std::string name;     // "kernel", "init-local", "init", "modules:config", "modules:final"
    double uptime_s = 0;  // guest uptime when the stage began
  };
  std::vector<Stage> stages;         // in the order seen
  bool cloud_init_finished = false;  // "Cloud-init v. … finished"
  double finished_uptime_s = 0;
  std::string datasource;  // e.g. "DataSourceEc2Local"
  bool user_data_failed = false;
  // From "Failed running …/scripts/part-NNN [N]" (cloud-init before 18.x logs that at WARNING).
  // cloud-init 22.4 logs the status of a failed script only at DEBUG, in the guest's
  // /var/log/cloud-init.log: its console says that scripts-user failed, not how, so a failure
  // seen there has no exit status.
  std::optional<int> user_data_exit_status;
  std::vector<std::string> failures;  // cloud-init WARNING/ERROR lines about user data
  std::vector<std::string> output;    // what the user data printed (modules:final output)
};

BootVerdict ParseBootConsole(const std::string& console);

// A few lines for people: verdict, exit status, timeline, output and failures.
std::string FormatBootVerdict(const BootVerdict& v, bool has_user_data);

// The same for programs (`--output json`): Verdict is "running" (cloud-init not finished),
// "no-user-data", "succeeded" or "failed"; UserDataExitStatus is null when unknown.
nlohmann::json BootVerdictJson(const BootVerdict& v, bool has_user_data);

}  // namespace minicloud
