#include "cli/stack_verdict.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/render.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;

constexpr char kInstanceType[] = "AWS::EC2::Instance";

bool Before(const v1::StackEvent& a, const v1::StackEvent& b) {
  if (a.timestamp().seconds() != b.timestamp().seconds()) {
    return a.timestamp().seconds() < b.timestamp().seconds();
  }
  return a.timestamp().nanos() < b.timestamp().nanos();
}

}  // namespace

bool StackInProgress(const std::string& status) { return absl::EndsWith(status, "_IN_PROGRESS"); }

bool StackSucceeded(const std::string& status, bool update) {
  return status == (update ? "UPDATE_COMPLETE" : "CREATE_COMPLETE");
}

std::string FormatStackEventLine(const v1::StackEvent& e) {
  std::string line = absl::StrCat(Iso8601(e.timestamp()), "  ", e.logical_resource_id(), "  ",
                                  e.resource_type(), "  ", e.resource_status());
  if (!e.resource_status_reason().empty()) {
    absl::StrAppend(&line, "  ", e.resource_status_reason());
  }
  return line;
}

StackVerdict BuildStackVerdict(const v1::Stack& stack, const std::vector<v1::StackEvent>& events,
                               const std::map<std::string, std::string>& consoles, bool update) {
  StackVerdict v;
  v.stack_name = stack.stack_name();
  v.stack_id = stack.stack_id();
  v.status = stack.stack_status();
  v.status_reason = stack.stack_status_reason();
  v.update = update;

  std::vector<v1::StackEvent> sorted;
  std::set<std::string> ids;
  for (const auto& e : events) {
    if (e.event_id().empty() || ids.insert(e.event_id()).second) sorted.push_back(e);
  }
  std::stable_sort(sorted.begin(), sorted.end(), Before);
  for (const auto& e : sorted) {
    if (e.resource_type() != kInstanceType) continue;
    auto it = std::find_if(v.instances.begin(), v.instances.end(), [&](const InstanceVerdict& i) {
      return i.logical_id == e.logical_resource_id();
    });
    if (it == v.instances.end()) {
      v.instances.push_back({});
      it = v.instances.end() - 1;
      it->logical_id = e.logical_resource_id();
    }
    // An update that replaces an instance names the new one last.
    if (!e.physical_resource_id().empty()) it->instance_id = e.physical_resource_id();
    it->status = e.resource_status();
    it->status_reason = e.resource_status_reason();
    if (absl::EndsWith(e.resource_status(), "_FAILED")) {
      it->failed_status = e.resource_status();
      it->failed_reason = e.resource_status_reason();
    }
    // "Received SUCCESS signal with UniqueId i-…" (CloudFormation's words); a timeout's
    // "Failed to receive 1 resource signal(s) …" is the failure, not a signal.
    if (absl::StrContains(e.resource_status_reason(), "Received ") &&
        absl::StrContains(absl::AsciiStrToLower(e.resource_status_reason()), "signal") &&
        std::find(it->signals.begin(), it->signals.end(), e.resource_status_reason()) ==
            it->signals.end()) {
      // One signal, often named by two events (the signal, then the failure it caused).
      it->signals.push_back(e.resource_status_reason());
    }
  }
  for (InstanceVerdict& i : v.instances) {
    auto c = consoles.find(i.instance_id);
    if (c == consoles.end()) continue;
    i.console_seen = true;
    std::vector<CfnInitRun> runs = ParseCfnInitConsole(c->second);
    if (!runs.empty()) i.cfn_init = runs.back();
  }
  return v;
}

std::string FormatStackVerdict(const StackVerdict& v) {
  std::string out = absl::StrCat("stack ", v.stack_name, ": ", v.status);
  if (!v.status_reason.empty()) absl::StrAppend(&out, " (", v.status_reason, ")");
  absl::StrAppend(&out, "\n");
  for (const InstanceVerdict& i : v.instances) {
    absl::StrAppend(&out, i.logical_id, " (AWS::EC2::Instance",
                    i.instance_id.empty() ? "" : ", " + i.instance_id, "): ", i.status);
    if (!i.status_reason.empty() && i.failed_status.empty()) {
      absl::StrAppend(&out, ": ", i.status_reason);
    }
    absl::StrAppend(&out, "\n");
    if (!i.failed_status.empty() &&
        std::find(i.signals.begin(), i.signals.end(), i.failed_reason) == i.signals.end()) {
      absl::StrAppend(&out, "  ", i.failed_status, ": ", i.failed_reason, "\n");
    }
    if (i.signals.empty()) {
      // An update waits for no signal unless it replaces the instance.
      if (!v.update) absl::StrAppend(&out, "  signal: none received\n");
    } else {
      for (const auto& s : i.signals) absl::StrAppend(&out, "  signal: ", s, "\n");
    }
    if (i.instance_id.empty()) continue;
    if (!i.console_seen) {
      absl::StrAppend(&out, "  console: not readable (cfn-init's report unknown)\n");
      continue;
    }
    absl::StrAppend(&out, FormatCfnInitRun(i.cfn_init, "  "));
  }
  absl::StrAppend(&out, "verdict: ", v.Succeeded() ? "succeeded" : "failed", "\n");
  return out;
}

json StackVerdictJson(const StackVerdict& v) {
  json instances = json::array();
  for (const InstanceVerdict& i : v.instances) {
    json j = {{"LogicalResourceId", i.logical_id},
              {"PhysicalResourceId", i.instance_id},
              {"ResourceStatus", i.status},
              {"ResourceStatusReason", i.status_reason},
              {"FailedStatus", i.failed_status},
              {"FailedReason", i.failed_reason},
              {"Signals", i.signals}};
    if (i.cfn_init) {
      json steps = json::array();
      for (const auto& f : i.cfn_init->failures) {
        steps.push_back({{"ConfigSet", f.config_set},
                         {"Config", f.config},
                         {"Section", f.section},
                         {"Key", f.key},
                         {"Message", f.message},
                         {"Output", f.output}});
      }
      j["CfnInit"] = {
          {"Result", !i.cfn_init->finished   ? "running"
                     : i.cfn_init->succeeded ? "success"
                                             : "failed"},
          {"ExitCode", i.cfn_init->exit_code ? json(*i.cfn_init->exit_code) : json(nullptr)},
          {"FailedSteps", steps}};
    } else {
      j["CfnInit"] = nullptr;
    }
    instances.push_back(j);
  }
  return {{"StackId", v.stack_id},
          {"StackName", v.stack_name},
          {"StackStatus", v.status},
          {"StackStatusReason", v.status_reason},
          {"Verdict", v.Succeeded() ? "succeeded" : "failed"},
          {"Instances", instances}};
}

}  // namespace minicloud::cli
