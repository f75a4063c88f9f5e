#pragma once

// An in-memory StackApi (controller/service/stack_api.h) for the tests of the CloudFormation
// surfaces (Query, guest endpoint, gRPC): it records every call (the request and the caller),
// fails the next call of a method on request, and keeps stacks simply enough for the real
// clients' flows (create → CREATE_COMPLETE at once, delete → DELETE_COMPLETE, events newest
// first, resources with their metadata, signals). Templates go through the real template engine
// (controller/cloudformation), so a template the engine refuses is refused here too.
//
// It is NOT the stack engine: no instance is launched, nothing waits for a signal; the engine
// (StackService) is tested on its own.

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/ec2_error.h"
#include "controller/cloudformation/template.h"
#include "controller/service/stack_api.h"

namespace minicloud::testing {

class FakeStackApi : public controller::StackApi {
 public:
  // What was called, in order ("CreateStack", ...), with the caller's instance id ("" for an
  // account) and the last request of each kind.
  struct Call {
    std::string method;
    std::string instance_id;
  };
  std::vector<Call> calls;
  v1::CreateStackRequest last_create;
  v1::UpdateStackRequest last_update;
  v1::DeleteStackRequest last_delete;
  v1::DescribeStacksRequest last_describe_stacks;
  v1::DescribeStackEventsRequest last_describe_events;
  v1::DescribeStackResourceRequest last_describe_resource;
  v1::DescribeStackResourcesRequest last_describe_resources;
  v1::SignalResourceRequest last_signal;
  v1::ValidateTemplateRequest last_validate;
  std::vector<controller::WaitConditionSignal> wait_signals;
  // The next call of the named method fails with this status.
  std::map<std::string, absl::Status> fail_next;
  // Stacks and events per page of DescribeStacks / DescribeStackEvents.
  int page_size = 100;

  std::mutex mu;

  static constexpr int64_t kEpoch = 1764892800;  // 2025-12-05T00:00:00Z: every time is after it

  absl::StatusOr<v1::CreateStackResponse> CreateStack(
      const v1::CreateStackRequest& req, const controller::StackCaller& caller) override {
    std::lock_guard<std::mutex> lock(mu);
    last_create = req;
    if (auto s = Begin("CreateStack", caller); !s.ok()) return s;
    if (req.stack_name().empty()) return Invalid("StackName is required");
    if (FindLive(req.stack_name()) != nullptr) {
      return Ec2Error(absl::StatusCode::kAlreadyExists, "AlreadyExistsException",
                      absl::StrCat("Stack [", req.stack_name(), "] already exists"));
    }
    auto t = Parse(req.template_body());
    if (!t.ok()) return t.status();
    Stack& s = stacks_.emplace_back();
    s.record.set_stack_id(absl::StrFormat(
        "arn:aws:cloudformation:home-1:000000000000:stack/%s/0000%04d-0000-4000-8000-%012d",
        req.stack_name(), stacks_.size(), stacks_.size()));
    s.record.set_stack_name(req.stack_name());
    s.record.set_description(t->description);
    *s.record.mutable_parameters() = req.parameters();
    *s.record.mutable_creation_time() = Tick();
    s.record.set_disable_rollback(req.disable_rollback());
    s.record.set_timeout_in_minutes(req.timeout_in_minutes());
    *s.record.mutable_capabilities() = req.capabilities();
    *s.record.mutable_tags() = req.tags();
    Event(s, "", "CREATE_IN_PROGRESS", "User Initiated", req.client_request_token());
    for (const auto& r : t->resources) {
      v1::StackResource& res = s.resources.emplace_back();
      res.set_stack_id(s.record.stack_id());
      res.set_stack_name(s.record.stack_name());
      res.set_logical_resource_id(r.logical_id);
      res.set_resource_type(std::string(r.spec->type));
      res.set_physical_resource_id(PhysicalId(s, std::string(r.spec->type)));
      if (!r.metadata.is_null()) res.set_metadata(r.metadata.dump());
      Event(s, r.logical_id, "CREATE_IN_PROGRESS", "", req.client_request_token());
      res.set_resource_status("CREATE_COMPLETE");
      *res.mutable_last_updated_timestamp() = Tick();
      Event(s, r.logical_id, "CREATE_COMPLETE", "", req.client_request_token());
    }
    s.record.set_stack_status("CREATE_COMPLETE");
    Event(s, "", "CREATE_COMPLETE", "", req.client_request_token());
    v1::CreateStackResponse out;
    out.set_stack_id(s.record.stack_id());
    return out;
  }

  absl::StatusOr<v1::UpdateStackResponse> UpdateStack(
      const v1::UpdateStackRequest& req, const controller::StackCaller& caller) override {
    std::lock_guard<std::mutex> lock(mu);
    last_update = req;
    if (auto s = Begin("UpdateStack", caller); !s.ok()) return s;
    Stack* s = FindLive(req.stack_name());
    if (s == nullptr) return NoStack(req.stack_name());
    if (!req.use_previous_template()) {
      auto t = Parse(req.template_body());
      if (!t.ok()) return t.status();
    }
    *s->record.mutable_last_updated_time() = Tick();
    Event(*s, "", "UPDATE_IN_PROGRESS", "User Initiated", req.client_request_token());
    s->record.set_stack_status("UPDATE_COMPLETE");
    Event(*s, "", "UPDATE_COMPLETE", "", req.client_request_token());
    v1::UpdateStackResponse out;
    out.set_stack_id(s->record.stack_id());
    return out;
  }

  absl::StatusOr<v1::DeleteStackResponse> DeleteStack(
      const v1::DeleteStackRequest& req, const controller::StackCaller& caller) override {
    std::lock_guard<std::mutex> lock(mu);
    last_delete = req;
    if (auto s = Begin("DeleteStack", caller); !s.ok()) return s;
    // CloudFormation answers a delete of an unknown stack with success.
    Stack* s = FindLive(req.stack_name());
    if (s == nullptr) return v1::DeleteStackResponse();
    Event(*s, "", "DELETE_IN_PROGRESS", "User Initiated", req.client_request_token());
    for (v1::StackResource& r : s->resources) r.set_resource_status("DELETE_COMPLETE");
    s->record.set_stack_status("DELETE_COMPLETE");
    *s->record.mutable_deletion_time() = Tick();
    Event(*s, "", "DELETE_COMPLETE", "", req.client_request_token());
    return v1::DeleteStackResponse();
  }

  absl::StatusOr<v1::DescribeStacksResponse> DescribeStacks(
      const v1::DescribeStacksRequest& req, const controller::StackCaller& caller) override {
    std::lock_guard<std::mutex> lock(mu);
    last_describe_stacks = req;
    if (auto s = Begin("DescribeStacks", caller); !s.ok()) return s;
    std::vector<const v1::Stack*> all;
    if (!req.stack_name().empty()) {
      Stack* s = Find(req.stack_name());
      if (s == nullptr) return NoStack(req.stack_name());
      all.push_back(&s->record);
    } else {
      for (const Stack& s : stacks_) {
        if (s.record.stack_status() != "DELETE_COMPLETE") all.push_back(&s.record);
      }
    }
    v1::DescribeStacksResponse out;
    auto page = Page(all.size(), req.next_token());
    if (!page.ok()) return page.status();
    for (size_t i = page->first; i < page->second; ++i) *out.add_stacks() = *all[i];
    if (page->second < all.size()) out.set_next_token(absl::StrCat(page->second));
    return out;
  }

  absl::StatusOr<v1::DescribeStackEventsResponse> DescribeStackEvents(
      const v1::DescribeStackEventsRequest& req, const controller::StackCaller& caller) override {
    std::lock_guard<std::mutex> lock(mu);
    last_describe_events = req;
    if (auto s = Begin("DescribeStackEvents", caller); !s.ok()) return s;
    Stack* s = Find(req.stack_name());
    if (s == nullptr) return NoStack(req.stack_name());
    v1::DescribeStackEventsResponse out;
    auto page = Page(s->events.size(), req.next_token());
    if (!page.ok()) return page.status();
    for (size_t i = page->first; i < page->second; ++i) {
      *out.add_stack_events() = s->events[s->events.size() - 1 - i];  // newest first
    }
    if (page->second < s->events.size()) out.set_next_token(absl::StrCat(page->second));
    return out;
  }

  absl::StatusOr<v1::DescribeStackResourceResponse> DescribeStackResource(
      const v1::DescribeStackResourceRequest& req, const controller::StackCaller& caller) override {
    std::lock_guard<std::mutex> lock(mu);
    last_describe_resource = req;
    if (auto s = Begin("DescribeStackResource", caller); !s.ok()) return s;
    Stack* s = Find(req.stack_name());
    if (s == nullptr) return NoStack(req.stack_name());
    if (auto denied = GuestMayRead(*s, caller); !denied.ok()) return denied;
    for (const v1::StackResource& r : s->resources) {
      if (r.logical_resource_id() != req.logical_resource_id()) continue;
      v1::DescribeStackResourceResponse out;
      *out.mutable_stack_resource_detail() = r;
      return out;
    }
    return Invalid(absl::StrCat("Resource ", req.logical_resource_id(),
                                " does not exist for stack ", req.stack_name()));
  }

  absl::StatusOr<v1::DescribeStackResourcesResponse> DescribeStackResources(
      const v1::DescribeStackResourcesRequest& req,
      const controller::StackCaller& caller) override {
    std::lock_guard<std::mutex> lock(mu);
    last_describe_resources = req;
    if (auto s = Begin("DescribeStackResources", caller); !s.ok()) return s;
    Stack* s = Find(req.stack_name());
    if (s == nullptr) return NoStack(req.stack_name());
    if (auto denied = GuestMayRead(*s, caller); !denied.ok()) return denied;
    v1::DescribeStackResourcesResponse out;
    for (const v1::StackResource& r : s->resources) {
      if (!req.logical_resource_id().empty() &&
          r.logical_resource_id() != req.logical_resource_id()) {
        continue;
      }
      *out.add_stack_resources() = r;
    }
    return out;
  }

  absl::StatusOr<v1::SignalResourceResponse> SignalResource(
      const v1::SignalResourceRequest& req, const controller::StackCaller& caller) override {
    std::lock_guard<std::mutex> lock(mu);
    last_signal = req;
    if (auto s = Begin("SignalResource", caller); !s.ok()) return s;
    Stack* s = FindLive(req.stack_name());
    if (s == nullptr) return NoStack(req.stack_name());
    if (auto denied = GuestMayRead(*s, caller); !denied.ok()) return denied;
    if (req.status() != "SUCCESS" && req.status() != "FAILURE") {
      return Invalid("Status must be SUCCESS or FAILURE");
    }
    bool known = false;
    for (const v1::StackResource& r : s->resources) {
      known = known || r.logical_resource_id() == req.logical_resource_id();
    }
    if (!known) {
      return Invalid(absl::StrCat("Resource ", req.logical_resource_id(),
                                  " does not exist for stack ", req.stack_name()));
    }
    Event(*s, req.logical_resource_id(), "CREATE_IN_PROGRESS",
          absl::StrCat("Received ", req.status(), " signal with UniqueId ", req.unique_id(),
                       req.reason().empty() ? "" : absl::StrCat(": ", req.reason())),
          "");
    return v1::SignalResourceResponse();
  }

  absl::StatusOr<v1::ValidateTemplateResponse> ValidateTemplate(
      const v1::ValidateTemplateRequest& req) override {
    std::lock_guard<std::mutex> lock(mu);
    last_validate = req;
    if (auto s = Begin("ValidateTemplate", {}); !s.ok()) return s;
    auto t = Parse(req.template_body());
    if (!t.ok()) return t.status();
    v1::ValidateTemplateResponse out;
    for (const cloudformation::ParameterDecl& p : t->parameters) {
      v1::TemplateParameter* tp = out.add_parameters();
      tp->set_parameter_key(p.name);
      if (p.default_value) tp->set_default_value(p.no_echo ? "****" : *p.default_value);
      tp->set_no_echo(p.no_echo);
      tp->set_description(p.description);
    }
    out.set_description(t->description);
    return out;
  }

  absl::Status SignalWaitCondition(const controller::WaitConditionSignal& signal) override {
    std::lock_guard<std::mutex> lock(mu);
    if (auto s = Begin("SignalWaitCondition", {}); !s.ok()) return s;
    for (const Stack& s : stacks_) {
      for (const v1::StackResource& r : s.resources) {
        if (r.resource_type() == "AWS::CloudFormation::WaitConditionHandle" &&
            absl::EndsWith(r.physical_resource_id(), "/" + signal.handle_token)) {
          wait_signals.push_back(signal);
          return absl::OkStatus();
        }
      }
    }
    return Ec2Error(absl::StatusCode::kPermissionDenied, "AccessDenied",
                    "No wait condition handle has this URL");
  }

 private:
  struct Stack {
    v1::Stack record;
    std::vector<v1::StackResource> resources;
    std::vector<v1::StackEvent> events;  // oldest first
  };

  static absl::Status Invalid(absl::string_view message) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "ValidationError", message);
  }
  static absl::Status NoStack(absl::string_view name) {
    return Invalid(absl::StrCat("Stack with id ", name, " does not exist"));
  }

  absl::Status Begin(const char* method, const controller::StackCaller& caller) {
    calls.push_back({method, caller.instance_id.value_or("")});
    auto it = fail_next.find(method);
    if (it == fail_next.end()) return absl::OkStatus();
    absl::Status s = it->second;
    fail_next.erase(it);
    return s;
  }

  absl::StatusOr<cloudformation::Template> Parse(const std::string& body) {
    if (body.empty()) return Invalid("Either Template URL or Template Body must be specified.");
    return cloudformation::ParseTemplate(body);
  }

  // A guest reads and signals only the stack that created it.
  static absl::Status GuestMayRead(const Stack& s, const controller::StackCaller& caller) {
    if (!caller.instance_id) return absl::OkStatus();
    for (const v1::StackResource& r : s.resources) {
      if (r.physical_resource_id() == *caller.instance_id) return absl::OkStatus();
    }
    return Ec2Error(absl::StatusCode::kPermissionDenied, "AccessDenied",
                    absl::StrCat("Instance ", *caller.instance_id, " is not part of stack ",
                                 s.record.stack_name()));
  }

  // By name (stacks not deleted) or by stack id (any).
  Stack* Find(absl::string_view name_or_id) {
    for (Stack& s : stacks_) {
      if (s.record.stack_id() == name_or_id) return &s;
    }
    return FindLive(name_or_id);
  }
  Stack* FindLive(absl::string_view name_or_id) {
    for (Stack& s : stacks_) {
      if (s.record.stack_status() == "DELETE_COMPLETE") continue;
      if (s.record.stack_name() == name_or_id || s.record.stack_id() == name_or_id) return &s;
    }
    return nullptr;
  }

  std::string PhysicalId(const Stack& s, const std::string& type) {
    ++serial_;
    if (type == "AWS::EC2::Instance") return absl::StrFormat("i-%017x", serial_);
    if (type == "AWS::CloudFormation::WaitConditionHandle") {
      return absl::StrFormat("http://169.254.169.254/cloudformation/waitcondition/token%d",
                             serial_);
    }
    return absl::StrCat(s.record.stack_name(), "-", serial_);
  }

  // Each event one second after the one before (deterministic times).
  google::protobuf::Timestamp Tick() {
    google::protobuf::Timestamp t;
    t.set_seconds(kEpoch + (++ticks_));
    return t;
  }

  void Event(Stack& s, const std::string& logical_id, const std::string& status,
             const std::string& reason, const std::string& token) {
    v1::StackEvent& e = s.events.emplace_back();
    e.set_stack_id(s.record.stack_id());
    e.set_event_id(absl::StrCat("event-", ++serial_));
    e.set_stack_name(s.record.stack_name());
    e.set_logical_resource_id(logical_id.empty() ? s.record.stack_name() : logical_id);
    e.set_resource_type(logical_id.empty() ? "AWS::CloudFormation::Stack" : "");
    for (const v1::StackResource& r : s.resources) {
      if (r.logical_resource_id() == logical_id) {
        e.set_resource_type(r.resource_type());
        e.set_physical_resource_id(r.physical_resource_id());
      }
    }
    if (logical_id.empty()) e.set_physical_resource_id(s.record.stack_id());
    *e.mutable_timestamp() = Tick();
    e.set_resource_status(status);
    e.set_resource_status_reason(reason);
    e.set_client_request_token(token);
  }

  absl::StatusOr<std::pair<size_t, size_t>> Page(size_t total, const std::string& token) {
    size_t start = 0;
    if (!token.empty() && (!absl::SimpleAtoi(token, &start) || start > total)) {
      return Invalid("Invalid NextToken");
    }
    return std::make_pair(start, std::min(total, start + static_cast<size_t>(page_size)));
  }

  std::vector<Stack> stacks_;
  int64_t ticks_ = 0;
  int64_t serial_ = 0;
};

}  // namespace minicloud::testing
