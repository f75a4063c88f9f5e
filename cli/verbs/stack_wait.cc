// Following a stack: progress lines, the consoles of its instances, the verdict, the waiters.
#include "cli/verbs/stack_wait.h"

#include <chrono>
#include <map>
#include <vector>

#include "absl/strings/str_format.h"
#include "cli/render_cfn.h"
#include "cli/stack_verdict.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using CfnStub = ComputeApi::CfnStub;
using Stub = ComputeApi::Stub;

constexpr auto kPoll = std::chrono::seconds(2);
constexpr int kMaxEventPages = 50;

// The events not in `seen`, oldest first (DescribeStackEvents lists newest first: pages are read
// until one holds an event already seen). Adds them to `seen`.
std::vector<v1::StackEvent> NewEvents(VerbContext& ctx, const std::string& stack,
                                      std::set<std::string>& seen) {
  std::vector<v1::StackEvent> fresh;
  std::string token;
  for (int page = 0; page < kMaxEventPages; ++page) {
    v1::DescribeStackEventsRequest req;
    req.set_stack_name(stack);
    req.set_next_token(token);
    auto resp = ctx.api.Call("DescribeStackEvents", &CfnStub::DescribeStackEvents, req);
    bool reached_seen = false;
    for (const auto& e : resp.stack_events()) {
      if (seen.count(e.event_id()) > 0) {
        reached_seen = true;
        continue;
      }
      fresh.push_back(e);
    }
    token = resp.next_token();
    if (reached_seen || token.empty()) break;
  }
  for (const auto& e : fresh) seen.insert(e.event_id());
  return {fresh.rbegin(), fresh.rend()};
}

// The stack as DescribeStacks has it; nullopt when it no longer exists (ValidationError).
std::optional<v1::Stack> DescribeStack(VerbContext& ctx, const std::string& stack) {
  v1::DescribeStacksRequest req;
  req.set_stack_name(stack);
  try {
    auto resp = ctx.api.Call("DescribeStacks", &CfnStub::DescribeStacks, req);
    if (resp.stacks_size() == 0) return std::nullopt;
    return resp.stacks(0);
  } catch (const ServiceError& e) {
    if (e.code == "ValidationError") return std::nullopt;
    throw;
  }
}

// Reads the console of every instance the events name that is not deleted yet; keeps the last
// non-empty console read of each (an instance whose console could never be read has no entry) (a
// rollback terminates the instance that explains the failure).
void ReadConsoles(VerbContext& ctx, const std::vector<v1::StackEvent>& events,
                  std::map<std::string, std::string>& consoles) {
  std::map<std::string, bool> live;  // instance id -> not yet DELETE_COMPLETE
  for (const auto& e : events) {
    if (e.resource_type() != "AWS::EC2::Instance" || e.physical_resource_id().empty()) continue;
    if (e.physical_resource_id().rfind("i-", 0) != 0) continue;
    live[e.physical_resource_id()] = e.resource_status() != "DELETE_COMPLETE";
  }
  for (const auto& [id, alive] : live) {
    if (!alive && consoles.count(id) > 0) continue;
    v1::GetConsoleOutputRequest req;
    req.set_instance_id(id);
    try {
      auto resp = ctx.api.Call("GetConsoleOutput", &Stub::GetConsoleOutput, req);
      // An empty answer (nothing printed yet) never hides an earlier console.
      if (!resp.output().empty() || consoles.count(id) == 0) consoles[id] = resp.output();
    } catch (const ServiceError&) {
      // Gone or not readable yet: the console read before stands.
    }
  }
}

}  // namespace

std::set<std::string> StackEventIds(VerbContext& ctx, const std::string& stack) {
  std::set<std::string> seen;
  try {
    NewEvents(ctx, stack, seen);
  } catch (const ServiceError& e) {
    if (e.code != "ValidationError") throw;
  }
  return seen;
}

int FollowStack(VerbContext& ctx, const std::string& stack, bool update, std::set<std::string> seen,
                double timeout_s, bool json_output) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::vector<v1::StackEvent> events;  // of this operation, oldest first
  std::map<std::string, std::string> consoles;
  ctx.err << "waiting for stack " << stack << " (timeout " << timeout_s << " s)\n";
  std::optional<v1::Stack> last;
  bool timed_out = false;
  while (true) {
    for (auto& e : NewEvents(ctx, stack, seen)) {
      ctx.err << absl::StrFormat("[%6.1fs] ", elapsed()) << FormatStackEventLine(e) << "\n";
      events.push_back(std::move(e));
    }
    ReadConsoles(ctx, events, consoles);
    std::optional<v1::Stack> now = DescribeStack(ctx, stack);
    if (!now) {
      // Deleted (OnFailure=DELETE): what was seen last, marked gone.
      if (!last) last.emplace().set_stack_name(stack);
      last->set_stack_status("DELETE_COMPLETE");
      break;
    }
    last = std::move(now);
    if (!StackInProgress(last->stack_status())) break;
    if (elapsed() > timeout_s) {
      timed_out = true;
      break;
    }
    ctx.sleep(kPoll);
  }
  // The last events (the stack's own final event may arrive with its status).
  try {
    for (auto& e : NewEvents(ctx, stack, seen)) {
      ctx.err << absl::StrFormat("[%6.1fs] ", elapsed()) << FormatStackEventLine(e) << "\n";
      events.push_back(std::move(e));
    }
  } catch (const ServiceError&) {
  }
  if (timed_out) {
    ctx.err << "timed out after " << static_cast<int>(elapsed()) << " s; the stack is "
            << last->stack_status() << "\n";
  }
  const StackVerdict verdict = BuildStackVerdict(*last, events, consoles, update);
  if (json_output) {
    ctx.out << StackVerdictJson(verdict).dump(4) << "\n";
  } else {
    ctx.out << FormatStackVerdict(verdict);
  }
  if (timed_out) return kExitWaiterFailed;
  return verdict.Succeeded() ? 0 : 1;
}

int RunStackWaiter(VerbContext& ctx, const std::string& waiter_name, const std::string& stack,
                   double timeout_s, bool progress) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  std::set<std::string> seen;
  if (progress) seen = StackEventIds(ctx, stack);
  WaiterStep last;
  while (true) {
    if (progress) {
      try {
        for (const auto& e : NewEvents(ctx, stack, seen)) {
          ctx.err << FormatStackEventLine(e) << "\n";
        }
      } catch (const ServiceError&) {
        // A deleted stack has no events to show; the waiter decides below.
      }
    }
    std::vector<std::string> statuses;
    std::string error_code, error_message;
    v1::DescribeStacksRequest req;
    req.set_stack_name(stack);
    try {
      auto resp = ctx.api.Call("DescribeStacks", &CfnStub::DescribeStacks, req);
      for (const auto& s : resp.stacks()) statuses.push_back(s.stack_status());
    } catch (const ServiceError& e) {
      error_code = e.code;
      error_message = e.what();
    }
    const WaiterStep step = StackWaiterStep(waiter_name, statuses, error_code);
    if (step.state == WaiterStep::kSuccess) return 0;
    if (step.state == WaiterStep::kFailure) {
      ctx.err << "\nWaiter " << waiter_name
              << " failed: Waiter encountered a terminal failure state: " << step.explanation
              << "\n";
      return kExitWaiterFailed;
    }
    if (!error_code.empty()) {
      ctx.err << "\nWaiter " << waiter_name << " failed: An error occurred (" << error_code
              << "): " << error_message << "\n";
      return kExitWaiterFailed;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ctx.err << "\nWaiter " << waiter_name << " failed: Max attempts exceeded\n";
      return kExitWaiterFailed;
    }
    ctx.sleep(kPoll);
  }
}

}  // namespace minicloud::cli
