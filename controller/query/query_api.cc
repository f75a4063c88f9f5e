#include "controller/query/query_api.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/request_id.h"
#include "common/status_macros.h"
#include "controller/iam/policy.h"
#include "controller/query/cloudformation_query.h"
#include "controller/query/errors.h"
#include "controller/query/query_instance_options.h"
#include "controller/query/xml.h"

namespace minicloud::query {
namespace {

// The parameters of SigV4's presigned form: the verifier has read them.
constexpr const char* kPresignParameters[] = {
    "X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Date",          "X-Amz-Expires",
    "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Security-Token"};

bool IsForm(const HttpRequest& r) {
  for (const auto& [name, value] : r.headers) {
    if (absl::EqualsIgnoreCase(name, "content-type")) {
      return absl::StartsWithIgnoreCase(value, "application/x-www-form-urlencoded");
    }
  }
  return true;  // EC2 clients always send one; without it the body is read as a form
}

}  // namespace

absl::Status CheckAllParametersUsed(const Params& params) {
  if (auto name = params.UnusedParameter()) {
    return Ec2Error(
        absl::StatusCode::kInvalidArgument, "UnknownParameter",
        absl::StrCat("The parameter ", QuoteForMessage(*name, 128), " is not recognized"));
  }
  return absl::OkStatus();
}

ActionTable BuildActionTable() {
  ActionTable t;
  AddInstanceActions(t);           // actions_instances.cc
  AddInstanceAttributeActions(t);  // actions_instance_attributes.cc
  AddImageActions(t);              // actions_resources.cc
  AddKeyPairActions(t);            // actions_resources.cc
  AddPlacementGroupActions(t);     // actions_resources.cc
  AddMinicloudActions(t);          // actions_minicloud.cc: our extensions
  AddStatusActions(t);             // actions_status.cc
  AddTagActions(t);                // query_tags.cc
  AddVolumeActions(t);             // actions_volumes.cc
  AddSnapshotActions(t);           // actions_snapshots.cc
  AddInstanceOptionActions(t);     // query_instance_options.cc: the options minicloud has fixed
  return t;
}

QueryApi::QueryApi(Services services, const auth::RequestVerifier& verifier,
                   uint64_t request_id_seed)
    : services_(services),
      verifier_(verifier),
      actions_(BuildActionTable()),
      rng_(request_id_seed) {
  for (const auto& [name, action] : actions_) body_sizes_[name] = 0;
}

std::vector<std::string> QueryApi::ActionNames() const {
  std::vector<std::string> names;
  for (const auto& [name, action] : actions_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

std::string QueryApi::NextRequestId() {
  uint64_t a, b;
  {
    std::lock_guard<std::mutex> lock(rng_mu_);
    a = rng_();
    b = rng_();
  }
  return RequestIdFromRandom(a, b);  // a version-4 UUID, as EC2's request ids are
}

HttpResponse QueryApi::Handle(const HttpRequest& request) {
  const std::string request_id = NextRequestId();
  // `aws cloudformation …` signs for the service "cloudformation" (cloudformation_query.h).
  if (CredentialScopeService(request) == "cloudformation") {
    return HandleCloudFormation(request, verifier_, services_.stacks, request_id);
  }
  HttpResponse resp;
  absl::Status s = Dispatch(request, request_id, &resp.body);
  if (!s.ok()) {
    WireError e = ToWireError(s);
    if (e.http_status >= 500) {
      spdlog::error("query API request {}: {}", request_id, s.ToString());
    }
    resp.status = e.http_status;
    resp.body = ErrorXml(e.code, e.message, request_id);
  }
  return resp;
}

absl::Status QueryApi::Dispatch(const HttpRequest& request, const std::string& request_id,
                                std::string* body) {
  if (request.method != "GET" && request.method != "POST") {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "UnsupportedProtocol",
                    absl::StrCat("The EC2 Query API takes GET and POST, not ",
                                 QuoteForMessage(request.method, 16)));
  }
  const auth::SignedRequest signed_request = SignedRequestOf(request);
  MC_ASSIGN_OR_RETURN(const auth::Caller caller, verifier_.Verify(signed_request, "ec2"));

  MC_ASSIGN_OR_RETURN(auto pairs, DecodeForm(signed_request.query));
  if (request.method == "POST" && IsForm(request)) {
    MC_ASSIGN_OR_RETURN(auto body_pairs, DecodeForm(request.body));
    pairs.insert(pairs.end(), std::make_move_iterator(body_pairs.begin()),
                 std::make_move_iterator(body_pairs.end()));
  }
  MC_ASSIGN_OR_RETURN(Params params, Params::Parse(pairs));
  ParamNode& root = params.root();
  for (const char* name : kPresignParameters) root.String(name);

  const std::optional<std::string> action_name = root.String("Action");
  if (!action_name || action_name->empty()) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "MissingAction",
                    "The request must contain the parameter Action");
  }
  const std::optional<std::string> version = root.String("Version");
  if (!version || version->empty()) {
    return MissingParameter("The request must contain the parameter Version");
  }
  if (*version != kApiVersion) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "NoSuchVersion",
                    absl::StrCat("An API version of ", QuoteForMessage(*version, 32),
                                 " is not supported; this endpoint speaks ", kApiVersion));
  }
  auto it = actions_.find(*action_name);
  if (it == actions_.end()) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidAction",
                    absl::StrCat("The action ", QuoteForMessage(*action_name, 64),
                                 " is not valid for this web service."));
  }
  // The one authorization rule (controller/iam/policy.h), as on the gRPC API.
  MC_RETURN_IF_ERROR(controller::iam::Authorize(caller, *action_name));
  MC_ASSIGN_OR_RETURN(std::optional<bool> dry_run, root.Bool("DryRun"));

  // The action streams its answer into *body (an error replaces it in Handle).
  std::atomic<size_t>& last_size = body_sizes_.find(*action_name)->second;
  body->reserve(last_size.load(std::memory_order_relaxed) * 9 / 8 + 512);
  XmlResponse xml(*action_name, request_id, body);
  ActionContext ctx{services_, params, dry_run.value_or(false), xml.root()};
  MC_RETURN_IF_ERROR(it->second.fn(ctx));
  if (ctx.dry_run) {
    // kService actions answered DryRunOperation from the service already; an action that gets
    // here with DryRun set changes nothing and has validated its request.
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation",
                    "Request would have succeeded, but DryRun flag is set.");
  }
  MC_RETURN_IF_ERROR(xml.Finish());
  last_size.store(body->size(), std::memory_order_relaxed);
  return absl::OkStatus();
}

}  // namespace minicloud::query
