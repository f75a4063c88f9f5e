#pragma once

// Following a stack until it settles, for `create-stack --wait`, `update-stack --wait`,
// `delete-stack --wait` and `cloudformation wait …` (cli/verbs/stack_wait.cc).

#include <set>
#include <string>

#include "cli/verb.h"

namespace minicloud::cli {

// Every event the stack has now (their EventIds), so that a wait after an update shows only the
// new ones. Empty when the stack does not exist.
std::set<std::string> StackEventIds(VerbContext& ctx, const std::string& stack);

// Polls the stack (by name or id) until its status stops ending in _IN_PROGRESS, printing each new
// event on ctx.err as it arrives and reading the consoles of its instances; then prints the
// verdict (text, or JSON with json_output) on ctx.out. Returns 0 when the stack ended in
// CREATE_COMPLETE (update: UPDATE_COMPLETE), 1 when it ended otherwise, 255 after timeout_s.
int FollowStack(VerbContext& ctx, const std::string& stack, bool update, std::set<std::string> seen,
                double timeout_s, bool json_output);

// `cloudformation wait <waiter>` and `delete-stack --wait`: botocore's waiter `waiter_name`
// (StackCreateComplete, StackUpdateComplete, StackDeleteComplete) polled every `delay`; with
// `progress`, new events are printed on ctx.err meanwhile. 0 on success, 255 on a failure state,
// an unexpected error or timeout_s, with the aws CLI's "Waiter … failed: …" line.
int RunStackWaiter(VerbContext& ctx, const std::string& waiter_name, const std::string& stack,
                   double timeout_s, bool progress);

}  // namespace minicloud::cli
