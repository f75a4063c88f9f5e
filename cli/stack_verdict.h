#pragma once

// `create-stack --wait` / `update-stack --wait`: the progress lines and the verdict at the end.
// Pure: built from what the verbs fetched (the stack, its events, its resources and the consoles
// of its instances); cli/verbs/stack_wait.cc does the polling.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/cfn_init_report.h"
#include "minicloud/v1/cloudformation.pb.h"

namespace minicloud::cli {

// True while the stack is still changing (a status ending in _IN_PROGRESS).
bool StackInProgress(const std::string& status);
// The status a waiting `create-stack` (update: `update-stack`) ends well in.
bool StackSucceeded(const std::string& status, bool update);

// One progress line per event: "<time>  <logical id>  <type>  <status>[  <reason>]".
std::string FormatStackEventLine(const v1::StackEvent& e);

// What the verdict says about one AWS::EC2::Instance of the stack.
struct InstanceVerdict {
  std::string logical_id;
  std::string instance_id;  // "" when it was never launched
  std::string status;       // the resource's last status (from its events)
  std::string status_reason;
  std::string failed_status;  // its last *_FAILED status and that event's reason ("" if none)
  std::string failed_reason;
  std::vector<std::string> signals;    // the reasons of its events that name a signal
  bool console_seen = false;           // a console was read for it
  std::optional<CfnInitRun> cfn_init;  // the last cfn-init run on that console
};

struct StackVerdict {
  std::string stack_name, stack_id, status, status_reason;
  bool update = false;
  std::vector<InstanceVerdict> instances;  // in the order their first events came
  bool Succeeded() const { return StackSucceeded(status, update); }
};

// `events` in any order (deduplicated by EventId); `consoles`: instance id -> console text.
StackVerdict BuildStackVerdict(const v1::Stack& stack, const std::vector<v1::StackEvent>& events,
                               const std::map<std::string, std::string>& consoles, bool update);

// For people: the stack's status, then per instance its status, signals and cfn-init's report.
std::string FormatStackVerdict(const StackVerdict& v);
// For programs (--output json).
nlohmann::json StackVerdictJson(const StackVerdict& v);

}  // namespace minicloud::cli
