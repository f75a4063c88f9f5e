// Signals: SignalResource (cfn-signal --stack/--resource) and a WaitConditionHandle's URL.
#include <openssl/crypto.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "controller/cloudformation/template_error.h"
#include "controller/service/stack_service.h"

namespace minicloud::controller {
namespace {

using cloudformation::ValidationError;

constexpr size_t kMaxUniqueIdLength = 64;     // botocore: SignalResource UniqueId, 1..64
constexpr size_t kMaxReasonLength = 4096;     // minicloud's bound on a signal's reason and data
constexpr int kMaxSignalsPerResource = 1000;  // Count is at most 1000 in templates

absl::Status CheckSignal(const std::string& status, const std::string& unique_id,
                         const std::string& reason) {
  if (status != "SUCCESS" && status != "FAILURE") {
    return ValidationError(absl::StrCat(
        "1 validation error detected: Value '", QuoteForMessage(status, 40),
        "' at 'status' failed to satisfy constraint: Member must satisfy enum value set: "
        "[SUCCESS, FAILURE]"));
  }
  if (unique_id.empty() || unique_id.size() > kMaxUniqueIdLength) {
    return ValidationError(
        "1 validation error detected: Value at 'uniqueId' failed to satisfy constraint: Member "
        "must have length between 1 and 64");
  }
  if (reason.size() > kMaxReasonLength) {
    return ValidationError(absl::StrCat("Reason must be at most ", kMaxReasonLength, " bytes"));
  }
  return absl::OkStatus();
}

// Records a signal once per (UniqueId, Status); false when it was already there.
bool AddSignal(v1::StackResourceRecord& r, const WaitConditionSignal& s, absl::Time now) {
  for (const auto& old : r.signals()) {
    if (old.unique_id() == s.unique_id && old.status() == s.status) return false;
  }
  auto* sig = r.add_signals();
  sig->set_unique_id(s.unique_id);
  sig->set_status(s.status);
  sig->set_reason(s.reason);
  sig->set_data(s.data);
  sig->set_time_ms(absl::ToUnixMillis(now));
  return true;
}

void AddSignalEvent(v1::StackRecord& stack, const v1::StackResourceRecord& r,
                    const WaitConditionSignal& s, absl::Time now) {
  std::string reason = absl::StrCat("Received ", s.status, " signal with UniqueId ", s.unique_id);
  if (!s.reason.empty()) absl::StrAppend(&reason, ". Reason: ", s.reason);
  lifecycle::AddResourceEvent(stack, r, r.status().empty() ? "CREATE_IN_PROGRESS" : r.status(),
                              reason, now);
}

// A resource takes signals while it is being made and its timeout has not passed.
absl::Status CheckSignalable(const v1::StackResourceRecord& r, absl::Time now) {
  const bool making = r.status() == "CREATE_IN_PROGRESS" ||
                      (r.status() == "UPDATE_IN_PROGRESS" && !r.replaced_physical_id().empty());
  const bool timed_out =
      making && now >= absl::FromUnixMillis(r.status_time_ms() + r.signal_timeout_ms());
  if (!making || timed_out) {
    return ValidationError(absl::StrCat("Resource ", r.logical_id(), " is in ",
                                        timed_out ? "CREATE_FAILED" : r.status(),
                                        " state and cannot be signaled"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::SignalResourceResponse> StackService::SignalResource(
    const v1::SignalResourceRequest& req, const StackCaller& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  auto found = FindStack(req.stack_name());
  MC_RETURN_IF_ERROR(CheckCaller(caller, Action::kSignal, found.ok() ? &*found : nullptr));
  if (!found.ok()) return found.status();
  MC_RETURN_IF_ERROR(CheckSignal(req.status(), req.unique_id(), req.reason()));
  v1::StackRecord stack = *std::move(found);
  auto tmpl = cloudformation::ParseTemplate(stack.template_body());
  v1::StackResourceRecord* r = nullptr;
  for (auto& res : *stack.mutable_resources()) {
    if (res.logical_id() == req.logical_resource_id() && !res.removed()) r = &res;
  }
  if (r == nullptr) {
    return ValidationError(absl::StrCat("Resource ",
                                        QuoteForMessage(req.logical_resource_id(), 255),
                                        " does not exist for stack ", stack.name()));
  }
  const cloudformation::ResourceDecl* decl =
      tmpl.ok() ? tmpl->FindResource(r->logical_id()) : nullptr;
  if (decl == nullptr || !decl->signal) {
    return ValidationError(absl::StrCat("Resource ", r->logical_id(),
                                        " has no CreationPolicy with a ResourceSignal and cannot "
                                        "be signaled"));
  }
  const absl::Time now = clock_.Now();
  MC_RETURN_IF_ERROR(CheckSignalable(*r, now));
  if (r->signals_size() >= kMaxSignalsPerResource) {
    return ValidationError("The resource has received too many signals");
  }
  const WaitConditionSignal s{"", req.status(), req.reason(), req.unique_id(), ""};
  if (AddSignal(*r, s, now)) {
    AddSignalEvent(stack, *r, s, now);
    Save(stack);
  }
  return v1::SignalResourceResponse();
}

absl::Status StackService::SignalWaitCondition(const WaitConditionSignal& signal) {
  auto denied = [] {
    return Ec2Error(absl::StatusCode::kPermissionDenied, "AccessDenied",
                    "The wait condition handle is not valid");
  };
  const std::string& token = signal.handle_token;
  if (token.size() != 64) return denied();
  for (char c : token) {
    if (!absl::ascii_isxdigit(c)) return denied();
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<v1::StackRecord> stack;
  std::string handle_id;
  {
    auto l = state_.LockCommitted();
    for (const auto& [id, s] : state_.stacks()) {
      if (s.status() == "DELETE_COMPLETE") continue;
      for (const auto& r : s.resources()) {
        if (r.handle_token().size() == token.size() &&
            CRYPTO_memcmp(r.handle_token().data(), token.data(), token.size()) == 0) {
          stack = s;
          handle_id = r.logical_id();
        }
      }
    }
  }
  if (!stack) return denied();
  MC_RETURN_IF_ERROR(CheckSignal(signal.status, signal.unique_id, signal.reason));
  if (signal.data.size() > kMaxReasonLength) {
    return ValidationError(absl::StrCat("Data must be at most ", kMaxReasonLength, " bytes"));
  }
  const absl::Time now = clock_.Now();
  v1::StackResourceRecord* handle = nullptr;
  for (auto& r : *stack->mutable_resources()) {
    if (r.logical_id() == handle_id) handle = &r;
  }
  // The wait conditions on this handle: a signal after they finished (or timed out) is refused.
  bool open = !lifecycle::IsStackSettled(stack->status());
  for (const auto& r : stack->resources()) {
    if (r.type() != "AWS::CloudFormation::WaitCondition") continue;
    auto props = cloudformation::Json::parse(r.properties_json(), nullptr, false);
    if (!props.is_object() || !props.contains("Handle") ||
        props["Handle"] != handle->physical_id()) {
      continue;
    }
    if (!CheckSignalable(r, now).ok()) open = false;
  }
  if (!open) {
    return ValidationError(absl::StrCat("The wait condition handle ", handle_id, " of stack ",
                                        stack->name(), " no longer accepts signals"));
  }
  if (handle->signals_size() >= kMaxSignalsPerResource) {
    return ValidationError("The wait condition handle has received too many signals");
  }
  if (AddSignal(*handle, signal, now)) {
    AddSignalEvent(*stack, *handle, signal, now);
    Save(*stack);
  }
  return absl::OkStatus();
}

}  // namespace minicloud::controller
