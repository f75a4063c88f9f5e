#pragma once

// The two CloudFormation actions the guest helpers call (API version 2010-05-15, JSON answers:
// the wire format in docs/design.md's guest/ row and the seam shared with the controller), the
// WaitConditionHandle PUT, and the instance id from the metadata service.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "guest/cfn/http_client.h"
#include "guest/cfn/status.h"

namespace minicloud::guest {

inline constexpr char kDefaultCfnUrl[] = "http://169.254.169.254/cloudformation";
inline constexpr char kDefaultImdsUrl[] = "http://169.254.169.254";

struct ResourceDetail {
  std::string stack_id;
  std::string stack_name;
  std::string logical_id;
  std::string physical_id;
  std::string resource_type;
  std::string status;
  nlohmann::json metadata;  // null when the resource has none
};

struct SignalRequest {
  std::string stack;
  std::string resource;
  std::string unique_id;
  bool success = true;
  std::string reason;  // empty: not sent
};

// Requests are tried again on a connection error or an HTTP 5xx (the host's forwarder or the
// controller restarting), `attempts` times in all, the delay doubling from `first_delay`.
// A 4xx answer is final.
struct RetryPolicy {
  int attempts = 5;
  std::chrono::milliseconds first_delay{1000};
};

// The body of DescribeStackResource (form-encoded) and the parse of its answer. PURE.
std::string DescribeStackResourceBody(const std::string& stack, const std::string& resource);
std::string SignalResourceBody(const SignalRequest& signal);
// A 200 answer → the detail (Metadata is a JSON text inside the JSON); otherwise the error's
// Code and Message (or the status and the start of the body when it is not CloudFormation's).
StatusOr<ResourceDetail> ParseDescribeStackResource(const HttpResponse& response);
Status ParseSignalResponse(const HttpResponse& response);

// The endpoint's POST URL for a base URL ("…/cloudformation" → "…/cloudformation/").
std::string ActionUrl(const std::string& base_url);

StatusOr<ResourceDetail> DescribeStackResource(const std::string& base_url,
                                               const std::string& stack,
                                               const std::string& resource,
                                               const RetryPolicy& retry = {});
Status SignalResource(const std::string& base_url, const SignalRequest& signal,
                      const RetryPolicy& retry = {});

// PUT {Status, Reason, UniqueId, Data} to a WaitConditionHandle URL.
std::string WaitConditionBody(bool success, const std::string& reason, const std::string& unique_id,
                              const std::string& data);
Status SignalWaitCondition(const std::string& handle_url, const std::string& body,
                           const RetryPolicy& retry = {});

// The instance id: IMDSv2 (PUT /latest/api/token) first, IMDSv1 when the token is refused or
// unavailable.
StatusOr<std::string> InstanceIdFromImds(const std::string& imds_base = kDefaultImdsUrl);

// Follows "a.b.c" through objects (and array indexes). NotFound-like error naming the key.
StatusOr<nlohmann::json> LookupKey(const nlohmann::json& root, const std::string& dotted);

}  // namespace minicloud::guest
