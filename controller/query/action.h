#pragma once

// What one EC2 Query action is: a parse step (parameters → the typed request the gRPC API uses)
// and a run step (the same service call the gRPC handler makes, its result written as EC2's
// XML). Bind<Parse, Run>() joins them so that every action gets the same checks in the same
// order: parse, refuse parameters the parse did not read (UnknownParameter), then run. No rule of
// the services is repeated here: the services validate, decide and answer DryRunOperation.

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/ec2_error.h"
#include "controller/query/params.h"
#include "controller/query/xml.h"
#include "controller/service/compute_service.h"
#include "controller/service/image_service.h"
#include "controller/service/key_pair_service.h"
#include "controller/service/placement_group_service.h"
#include "controller/service/stack_api.h"
#include "controller/service/tag_service.h"
#include "controller/service/volume_service.h"

namespace minicloud::query {

// The services behind both APIs (the same objects the gRPC ComputeHandler forwards to).
struct Services {
  controller::ComputeService& compute;
  controller::ImageService& images;
  controller::KeyPairService& keys;
  controller::PlacementGroupService& groups;
  controller::TagService& tags;
  // EBS volumes; null: the volume actions answer UnsupportedOperation.
  controller::VolumeService* volumes = nullptr;
  // CloudFormation stacks (cloudformation_query.h); null: every CloudFormation action answers
  // ServiceUnavailable.
  controller::StackApi* stacks = nullptr;
};

struct ActionContext {
  Services& services;
  Params& params;
  bool dry_run = false;  // the request's DryRun parameter
  XmlNode response;      // <{Action}Response>, requestId already written
};

using ActionFn = absl::Status (*)(ActionContext&);

// DryRun: mutating actions pass it to their service, which validates the request and answers
// DryRunOperation; read-only actions ignore it, and the dispatcher answers DryRunOperation once
// they have validated and changed nothing.
struct Action {
  ActionFn fn = nullptr;
};

using ActionTable = absl::flat_hash_map<std::string, Action>;

// UnknownParameter for the first parameter no parse step read.
absl::Status CheckAllParametersUsed(const Params& params);

template <auto Parse, auto Run>
absl::Status BoundAction(ActionContext& ctx) {
  auto req = Parse(ctx.params.root(), ctx.dry_run);
  if (!req.ok()) return req.status();
  if (absl::Status s = CheckAllParametersUsed(ctx.params); !s.ok()) return s;
  return Run(ctx.services, *req, ctx.response);
}

// `Parse`: absl::StatusOr<Req>(ParamNode& params, bool dry_run).
// `Run`:   absl::Status(Services&, const Req&, XmlNode response).
template <auto Parse, auto Run>
Action Bind() {
  return Action{&BoundAction<Parse, Run>};
}

// Each group adds its actions (actions_*.cc); the table is built once in query_api.cc.
void AddInstanceActions(ActionTable& table);
void AddInstanceAttributeActions(ActionTable& table);
void AddImageActions(ActionTable& table);
void AddKeyPairActions(ActionTable& table);
void AddPlacementGroupActions(ActionTable& table);
void AddMinicloudActions(ActionTable& table);
void AddStatusActions(ActionTable& table);    // actions_status.cc
void AddTagActions(ActionTable& table);       // query_tags.cc
void AddVolumeActions(ActionTable& table);    // actions_volumes.cc
void AddSnapshotActions(ActionTable& table);  // actions_snapshots.cc

// Helpers shared by the parse steps.
// Filter.N.Name / Filter.N.Value.M → v1::Filter, appended to `out`.
template <typename RepeatedFilters>
void ParseFilters(ParamNode& params, RepeatedFilters* out);
// A required string parameter: MissingParameter when absent or empty.
absl::StatusOr<std::string> Required(ParamNode& params, absl::string_view name);
// MetadataOptions fields (HttpTokens, HttpEndpoint, …) of `params` into `out` (actions_instances).
absl::Status ParseMetadataOptions(ParamNode& params, v1::InstanceMetadataOptions* out);
// RunInstances' parameters (also DescribePlacement's, which takes the same request).
absl::StatusOr<v1::RunInstancesRequest> ParseRunInstances(ParamNode& params, bool dry_run);
// Decodes base64 as EC2 reads blobs; `what` names the parameter in the error.
absl::StatusOr<std::string> DecodeBase64(absl::string_view text, absl::string_view message);

// MaxResults and NextToken into a request's max_results / next_token. Only "is it a number":
// the bounds and the token are the service's rules (controller/service/pagination.h).
template <typename Req>
absl::Status ParsePaging(ParamNode& params, Req* req);

template <typename RepeatedFilters>
void ParseFilters(ParamNode& params, RepeatedFilters* out) {
  for (ParamNode* f : params.List("Filter")) {
    auto* filter = out->Add();
    if (auto name = f->String("Name")) filter->set_name(*name);
    for (std::string& v : f->StringList("Value")) filter->add_values(std::move(v));
  }
}

template <typename Req>
absl::Status ParsePaging(ParamNode& params, Req* req) {
  auto max = params.Int("MaxResults", -2147483647, 2147483647);
  if (!max.ok()) return max.status();
  if (*max) req->set_max_results(static_cast<int32_t>(**max));
  if (auto token = params.String("NextToken")) req->set_next_token(*token);
  return absl::OkStatus();
}

}  // namespace minicloud::query
