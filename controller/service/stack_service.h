#pragma once

// StackService: CloudFormation stacks over the controller's own services (StackApi,
// stack_api.h). Templates are parsed, checked and evaluated by the template engine
// (controller/cloudformation); the order of work, signals, timeouts and rollback are decided by
// the pure stack lifecycle (controller/lifecycle/stack_lifecycle.h); this class keeps the
// records (the stacks table, CloudState::stacks()) and does the I/O: it makes and deletes the
// physical resources through ComputeService, KeyPairService, PlacementGroupService and
// VolumeService, in process.
//
// Requests answer at once; Advance() (the controller calls it every second, and after a
// restart it picks every unfinished stack up from its record) moves each unfinished stack on.
//
// Files: stack_service.cc (lookups, Describe*, ValidateTemplate, the caller rule),
// stack_create.cc (CreateStack and the record of a template), stack_driver.cc (Advance),
// stack_resources.cc (one physical resource of each type: make, observe, delete),
// stack_signals.cc (SignalResource, wait conditions), stack_update.cc (UpdateStack, DeleteStack).

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/ids.h"
#include "controller/cloudformation/intrinsics.h"
#include "controller/cloudformation/template.h"
#include "controller/lifecycle/stack_lifecycle.h"
#include "controller/service/cloud_state.h"
#include "controller/service/compute_service.h"
#include "controller/service/key_pair_service.h"
#include "controller/service/placement_group_service.h"
#include "controller/service/stack_api.h"
#include "controller/service/volume_service.h"

namespace minicloud::controller {

struct StackServiceOptions {
  // The secret part of a WaitConditionHandle's URL: unguessable (the handle's URL is a bearer
  // credential). Default: 32 random bytes from OpenSSL's RAND_bytes, hex. Tests may inject.
  std::function<std::string()> new_handle_token;
};

// How long a deleted stack stays visible by its stack id (DescribeStacks, DescribeStackEvents)
// before Advance() purges it and its events: 90 days, as CloudFormation keeps them ("Summary
// information for stacks that have been deleted is kept for 90 days after the stack is
// deleted": ListStacks, CloudFormation API reference and botocore's service-2.json).
inline constexpr absl::Duration kDeletedStackRetention = absl::Hours(24 * 90);

// The URL base a WaitConditionHandle's Ref gives (the guest endpoint's, cfn-seams.md).
inline constexpr absl::string_view kWaitConditionUrlBase =
    "http://169.254.169.254/cloudformation/waitcondition/";

class StackService final : public StackApi {
 public:
  // `volumes` may be null (no EBS): volume resources then fail with the reason.
  StackService(CloudState& state, const Clock& clock, IdGenerator& ids, ComputeService& compute,
               KeyPairService& key_pairs, PlacementGroupService& groups, VolumeService* volumes,
               StackServiceOptions options = {});

  absl::StatusOr<v1::CreateStackResponse> CreateStack(const v1::CreateStackRequest& req,
                                                      const StackCaller& caller) override;
  absl::StatusOr<v1::UpdateStackResponse> UpdateStack(const v1::UpdateStackRequest& req,
                                                      const StackCaller& caller) override;
  absl::StatusOr<v1::DeleteStackResponse> DeleteStack(const v1::DeleteStackRequest& req,
                                                      const StackCaller& caller) override;
  absl::StatusOr<v1::DescribeStacksResponse> DescribeStacks(const v1::DescribeStacksRequest& req,
                                                            const StackCaller& caller) override;
  absl::StatusOr<v1::DescribeStackEventsResponse> DescribeStackEvents(
      const v1::DescribeStackEventsRequest& req, const StackCaller& caller) override;
  absl::StatusOr<v1::DescribeStackResourceResponse> DescribeStackResource(
      const v1::DescribeStackResourceRequest& req, const StackCaller& caller) override;
  absl::StatusOr<v1::DescribeStackResourcesResponse> DescribeStackResources(
      const v1::DescribeStackResourcesRequest& req, const StackCaller& caller) override;
  absl::StatusOr<v1::SignalResourceResponse> SignalResource(const v1::SignalResourceRequest& req,
                                                            const StackCaller& caller) override;
  absl::StatusOr<v1::ValidateTemplateResponse> ValidateTemplate(
      const v1::ValidateTemplateRequest& req) override;
  absl::Status SignalWaitCondition(const WaitConditionSignal& signal) override;

  // Moves every unfinished stack on (the background driver), and purges the stacks deleted more
  // than kDeletedStackRetention ago. Call periodically.
  void Advance();

 private:
  // Which surface action a caller asks for (the instance-caller rule).
  enum class Action { kRead, kReadResource, kSignal, kWrite };
  // The instance-caller rule, in one place: a guest (caller.instance_id) may only read the
  // resources of, and signal, the stack that created it.
  absl::Status CheckCaller(const StackCaller& caller, Action action,
                           const v1::StackRecord* stack) const;

  // The stack named by name (not deleted) or stack id (also deleted). ValidationError
  // "Stack with id X does not exist" when there is none. Requires mu_.
  absl::StatusOr<v1::StackRecord> FindStack(const std::string& name_or_id) const;
  // Makes `r` durable (the stacks table and the mirror) and moves the events it carries into
  // the stack events table (numbered after r.event_sequence; `r` keeps none). Requires mu_.
  void Save(v1::StackRecord& r);
  // Deletes the stacks deleted more than kDeletedStackRetention ago, with their events.
  // Requires mu_.
  void PurgeDeletedStacks();
  std::string NewUuid();

  // The evaluation context of a stack: parameters, pseudo parameters, conditions, and every
  // resource made so far with its attributes.
  absl::StatusOr<cloudformation::EvalContext> ContextOf(const v1::StackRecord& r,
                                                        const cloudformation::Template& t);
  std::vector<std::string> ZoneNames();
  // A new stack's or update's record from a checked template and its parameters: fills
  // resources (needs, signal policies, deletion policy). Validates the properties minicloud
  // carries out.
  absl::Status CheckSupported(const cloudformation::Template& t) const;
  absl::StatusOr<cloudformation::ParameterValues> ResolveParams(
      const cloudformation::Template& t,
      const google::protobuf::RepeatedPtrField<v1::StackParameter>& in,
      const v1::StackRecord* previous);
  v1::StackResourceRecord ResourceOf(const cloudformation::ResourceDecl& d,
                                     const cloudformation::Template& t) const;

  // The driver (stack_driver.cc).
  void AdvanceStack(const std::string& stack_id);
  lifecycle::Observations Observe(v1::StackRecord& r);
  // UPDATE_IN_PROGRESS: the resources whose dependency's replacement is in
  // (lifecycle::ResourcesToRecheck) are evaluated again; those whose properties change (a Ref to
  // the replaced instance now names the new one) are replaced too.
  void RecheckDependents(v1::StackRecord& r, const cloudformation::Template& t);
  // kCreate: makes the resource; returns kCreateStarted or kResourceFailed.
  lifecycle::Step StartCreate(v1::StackRecord& r, const std::string& logical_id,
                              const cloudformation::Template& t);
  // kDelete: starts deleting physical_id; returns kDeleteStarted or kDeleteFailed.
  lifecycle::Step StartDelete(v1::StackRecord& r, const lifecycle::Step& step);

  // One physical resource of each type (stack_resources.cc).
  struct Made {
    std::string physical_id;
    std::string handle_token;
  };
  absl::StatusOr<Made> MakeResource(const v1::StackRecord& stack, v1::StackResourceRecord& r,
                                    const cloudformation::Json& props);
  absl::Status DeleteResource(const v1::StackResourceRecord& r, const std::string& physical_id);
  // What the controller sees of `physical_id`; `attributes` gets its Fn::GetAtt values.
  lifecycle::Observation ObserveResource(const v1::StackRecord& stack,
                                         const v1::StackResourceRecord& r,
                                         const std::string& physical_id,
                                         cloudformation::Json* attributes);

  CloudState& state_;
  const Clock& clock_;
  IdGenerator& ids_;
  ComputeService& compute_;
  KeyPairService& key_pairs_;
  PlacementGroupService& groups_;
  VolumeService* volumes_;
  StackServiceOptions options_;
  // Serializes every stack change (requests and the driver). Taken before the state's lock;
  // never held by the services this class calls.
  mutable std::mutex mu_;
};

// CloudFormation's stack name rule: a letter, then letters, digits and hyphens; at most 128.
absl::Status CheckStackName(const std::string& name);

// Drops the needs on resources the record does not hold (a Condition left them out).
void PruneNeeds(v1::StackRecord& r);

}  // namespace minicloud::controller
