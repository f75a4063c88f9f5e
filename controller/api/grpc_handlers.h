#pragma once

#include <cstdint>
#include <mutex>
#include <random>

#include "controller/api/grpc_auth.h"
#include "controller/auth/access_key_service.h"
#include "controller/query/guest_cloudformation.h"
#include "controller/service/compute_service.h"
#include "controller/service/fleet_service.h"
#include "controller/service/host_enrollment.h"
#include "controller/service/image_service.h"
#include "controller/service/instance_profile_service.h"
#include "controller/service/key_pair_service.h"
#include "controller/service/placement_group_service.h"
#include "controller/service/tag_service.h"
#include "controller/service/volume_service.h"
#include "minicloud/v1/compute.grpc.pb.h"
#include "minicloud/v1/host.grpc.pb.h"

namespace minicloud::controller {

// gRPC edge of the public API: each method forwards to a service and maps the status.
class ComputeHandler final : public v1::ComputeService::Service {
 public:
  // Every call is verified by `verifier` (SigV4, service "ec2") before it reaches a service.
  ComputeHandler(ComputeService& compute, ImageService& images, KeyPairService& keys,
                 PlacementGroupService& groups, TagService& tags,
                 auth::AccessKeyService& access_keys,
                 const minicloud::auth::RequestVerifier& verifier,
                 InstanceProfileService* profiles = nullptr, VolumeService* volumes = nullptr)
      : compute_(compute),
        images_(images),
        keys_(keys),
        groups_(groups),
        tags_(tags),
        access_keys_(access_keys),
        auth_(verifier),
        profiles_(profiles),
        volumes_(volumes) {}

  grpc::Status RunInstances(grpc::ServerContext*, const v1::RunInstancesRequest* req,
                            v1::Reservation* resp) override;
  grpc::Status DescribeInstances(grpc::ServerContext*, const v1::DescribeInstancesRequest* req,
                                 v1::DescribeInstancesResponse* resp) override;
  grpc::Status TerminateInstances(grpc::ServerContext*, const v1::TerminateInstancesRequest* req,
                                  v1::TerminateInstancesResponse* resp) override;
  grpc::Status GetConsoleOutput(grpc::ServerContext*, const v1::GetConsoleOutputRequest* req,
                                v1::GetConsoleOutputResponse* resp) override;
  grpc::Status RegisterImage(grpc::ServerContext*,
                             grpc::ServerReader<v1::RegisterImageUpload>* reader,
                             v1::RegisterImageResponse* resp) override;
  grpc::Status DescribeImages(grpc::ServerContext*, const v1::DescribeImagesRequest* req,
                              v1::DescribeImagesResponse* resp) override;
  grpc::Status DeregisterImage(grpc::ServerContext*, const v1::DeregisterImageRequest* req,
                               v1::DeregisterImageResponse* resp) override;
  grpc::Status DescribeInstanceTypes(grpc::ServerContext*,
                                     const v1::DescribeInstanceTypesRequest* req,
                                     v1::DescribeInstanceTypesResponse* resp) override;
  grpc::Status DescribeHosts(grpc::ServerContext*, const v1::DescribeHostsRequest* req,
                             v1::DescribeHostsResponse* resp) override;
  grpc::Status ModifyInstanceMetadataOptions(
      grpc::ServerContext*, const v1::ModifyInstanceMetadataOptionsRequest* req,
      v1::ModifyInstanceMetadataOptionsResponse* resp) override;
  grpc::Status ModifyInstanceAttribute(grpc::ServerContext*,
                                       const v1::ModifyInstanceAttributeRequest* req,
                                       v1::ModifyInstanceAttributeResponse* resp) override;
  grpc::Status DescribeInstanceAttribute(grpc::ServerContext*,
                                         const v1::DescribeInstanceAttributeRequest* req,
                                         v1::DescribeInstanceAttributeResponse* resp) override;
  grpc::Status CreateKeyPair(grpc::ServerContext*, const v1::CreateKeyPairRequest* req,
                             v1::CreateKeyPairResponse* resp) override;
  grpc::Status ImportKeyPair(grpc::ServerContext*, const v1::ImportKeyPairRequest* req,
                             v1::ImportKeyPairResponse* resp) override;
  grpc::Status DescribeKeyPairs(grpc::ServerContext*, const v1::DescribeKeyPairsRequest* req,
                                v1::DescribeKeyPairsResponse* resp) override;
  grpc::Status DeleteKeyPair(grpc::ServerContext*, const v1::DeleteKeyPairRequest* req,
                             v1::DeleteKeyPairResponse* resp) override;
  grpc::Status StopInstances(grpc::ServerContext*, const v1::StopInstancesRequest* req,
                             v1::StopInstancesResponse* resp) override;
  grpc::Status StartInstances(grpc::ServerContext*, const v1::StartInstancesRequest* req,
                              v1::StartInstancesResponse* resp) override;
  grpc::Status CreatePlacementGroup(grpc::ServerContext*,
                                    const v1::CreatePlacementGroupRequest* req,
                                    v1::CreatePlacementGroupResponse* resp) override;
  grpc::Status DescribePlacementGroups(grpc::ServerContext*,
                                       const v1::DescribePlacementGroupsRequest* req,
                                       v1::DescribePlacementGroupsResponse* resp) override;
  grpc::Status DeletePlacementGroup(grpc::ServerContext*,
                                    const v1::DeletePlacementGroupRequest* req,
                                    v1::DeletePlacementGroupResponse* resp) override;
  grpc::Status DescribeAvailabilityZones(grpc::ServerContext*,
                                         const v1::DescribeAvailabilityZonesRequest* req,
                                         v1::DescribeAvailabilityZonesResponse* resp) override;
  grpc::Status DescribePlacement(grpc::ServerContext*, const v1::RunInstancesRequest* req,
                                 v1::DescribePlacementResponse* resp) override;
  grpc::Status CreateTags(grpc::ServerContext*, const v1::CreateTagsRequest* req,
                          v1::CreateTagsResponse* resp) override;
  grpc::Status DeleteTags(grpc::ServerContext*, const v1::DeleteTagsRequest* req,
                          v1::DeleteTagsResponse* resp) override;
  grpc::Status DescribeTags(grpc::ServerContext*, const v1::DescribeTagsRequest* req,
                            v1::DescribeTagsResponse* resp) override;
  grpc::Status RebootInstances(grpc::ServerContext*, const v1::RebootInstancesRequest* req,
                               v1::RebootInstancesResponse* resp) override;
  grpc::Status DescribeInstanceStatus(grpc::ServerContext*,
                                      const v1::DescribeInstanceStatusRequest* req,
                                      v1::DescribeInstanceStatusResponse* resp) override;
  grpc::Status DescribeRegions(grpc::ServerContext*, const v1::DescribeRegionsRequest* req,
                               v1::DescribeRegionsResponse* resp) override;
  // Instance profiles (iam_handlers.cc); UNIMPLEMENTED when the handler has no profile service.
  grpc::Status CreateInstanceProfile(grpc::ServerContext*,
                                     const v1::CreateInstanceProfileRequest* req,
                                     v1::CreateInstanceProfileResponse* resp) override;
  grpc::Status GetInstanceProfile(grpc::ServerContext*, const v1::GetInstanceProfileRequest* req,
                                  v1::GetInstanceProfileResponse* resp) override;
  grpc::Status ListInstanceProfiles(grpc::ServerContext*,
                                    const v1::ListInstanceProfilesRequest* req,
                                    v1::ListInstanceProfilesResponse* resp) override;
  grpc::Status DeleteInstanceProfile(grpc::ServerContext*,
                                     const v1::DeleteInstanceProfileRequest* req,
                                     v1::DeleteInstanceProfileResponse* resp) override;
  grpc::Status CreateAccessKey(grpc::ServerContext*, const v1::CreateAccessKeyRequest* req,
                               v1::CreateAccessKeyResponse* resp) override;
  grpc::Status ListAccessKeys(grpc::ServerContext*, const v1::ListAccessKeysRequest* req,
                              v1::ListAccessKeysResponse* resp) override;
  grpc::Status DeleteAccessKey(grpc::ServerContext*, const v1::DeleteAccessKeyRequest* req,
                               v1::DeleteAccessKeyResponse* resp) override;
  // EBS volumes (volume_handlers.cc); UNIMPLEMENTED when the handler has no volume service.
  grpc::Status CreateVolume(grpc::ServerContext*, const v1::CreateVolumeRequest* req,
                            v1::Volume* resp) override;
  grpc::Status DescribeVolumes(grpc::ServerContext*, const v1::DescribeVolumesRequest* req,
                               v1::DescribeVolumesResponse* resp) override;
  grpc::Status DeleteVolume(grpc::ServerContext*, const v1::DeleteVolumeRequest* req,
                            v1::DeleteVolumeResponse* resp) override;
  grpc::Status ModifyVolume(grpc::ServerContext*, const v1::ModifyVolumeRequest* req,
                            v1::ModifyVolumeResponse* resp) override;
  grpc::Status CreateSnapshot(grpc::ServerContext*, const v1::CreateSnapshotRequest* req,
                              v1::Snapshot* resp) override;
  grpc::Status DescribeSnapshots(grpc::ServerContext*, const v1::DescribeSnapshotsRequest* req,
                                 v1::DescribeSnapshotsResponse* resp) override;
  grpc::Status DeleteSnapshot(grpc::ServerContext*, const v1::DeleteSnapshotRequest* req,
                              v1::DeleteSnapshotResponse* resp) override;
  grpc::Status CopySnapshot(grpc::ServerContext*, const v1::CopySnapshotRequest* req,
                            v1::CopySnapshotResponse* resp) override;
  grpc::Status CreateImage(grpc::ServerContext*, const v1::CreateImageRequest* req,
                           v1::CreateImageResponse* resp) override;
  grpc::Status CopyImage(grpc::ServerContext*, const v1::CopyImageRequest* req,
                         v1::CopyImageResponse* resp) override;
  grpc::Status DescribeVolumesModifications(
      grpc::ServerContext*, const v1::DescribeVolumesModificationsRequest* req,
      v1::DescribeVolumesModificationsResponse* resp) override;
  grpc::Status AttachVolume(grpc::ServerContext*, const v1::AttachVolumeRequest* req,
                            v1::VolumeAttachment* resp) override;
  grpc::Status DetachVolume(grpc::ServerContext*, const v1::DetachVolumeRequest* req,
                            v1::VolumeAttachment* resp) override;

 private:
  ComputeService& compute_;
  ImageService& images_;
  KeyPairService& keys_;
  PlacementGroupService& groups_;
  TagService& tags_;
  // Checks the call's signature (GrpcAuthenticator), then runs the service call.
  template <typename Req, typename Resp, typename Call>
  grpc::Status Authorized(const grpc::ServerContext& ctx, const char* method, const Req* req,
                          Resp* resp, Call&& call);

  auth::AccessKeyService& access_keys_;
  const GrpcAuthenticator auth_;
  InstanceProfileService* profiles_;
  VolumeService* volumes_;
};

// gRPC edge of the controller<->agent API, served on the agent listener (TLS). Join is the one
// call without a client certificate; every other call must name the host its certificate names
// (CheckCallerIsHost, api/host_peer.h) or gets PERMISSION_DENIED (UNAUTHENTICATED without one).
class HostHandler final : public v1::HostService::Service {
 public:
  // `guest_cloudformation` answers guests' CloudFormation requests (null: 503 "CloudFormation
  // is not available"); `request_id_seed` seeds the ids of those requests.
  HostHandler(FleetService& fleet, ImageService& images, HostEnrollment& enrollment,
              InstanceProfileService* profiles = nullptr,
              query::GuestCloudFormationEndpoint* guest_cloudformation = nullptr,
              uint64_t request_id_seed = 0)
      : fleet_(fleet),
        images_(images),
        enrollment_(enrollment),
        profiles_(profiles),
        guest_cloudformation_(guest_cloudformation),
        request_ids_(request_id_seed) {}

  grpc::Status Join(grpc::ServerContext*, const v1::JoinRequest* req,
                    v1::JoinResponse* resp) override;
  grpc::Status RegisterHost(grpc::ServerContext*, const v1::RegisterHostRequest* req,
                            v1::RegisterHostResponse* resp) override;
  grpc::Status ReportStatus(grpc::ServerContext*, const v1::ReportStatusRequest* req,
                            v1::ReportStatusResponse* resp) override;
  grpc::Status WatchDesired(grpc::ServerContext*, const v1::WatchDesiredRequest* req,
                            v1::DesiredState* resp) override;
  grpc::Status FetchBlob(grpc::ServerContext*, const v1::FetchBlobRequest* req,
                         grpc::ServerWriter<v1::BlobChunk>* writer) override;
  // iam_handlers.cc
  grpc::Status GetInstanceCredentials(grpc::ServerContext*,
                                      const v1::GetInstanceCredentialsRequest* req,
                                      v1::InstanceCredentials* resp) override;
  // guest_cloudformation_handler.cc: the caller must be the host the instance runs on
  // (PERMISSION_DENIED otherwise, logged); the endpoint answers as that instance.
  grpc::Status GuestCloudFormation(grpc::ServerContext*, const v1::GuestCloudFormationRequest* req,
                                   v1::GuestCloudFormationResponse* resp) override;
  grpc::Status IssueNbdClientCertificate(grpc::ServerContext*,
                                         const v1::NbdClientCertificateRequest* req,
                                         v1::NbdClientCertificate* resp) override;

 private:
  std::string NextRequestId();

  FleetService& fleet_;
  ImageService& images_;
  HostEnrollment& enrollment_;
  InstanceProfileService* profiles_;
  query::GuestCloudFormationEndpoint* const guest_cloudformation_;
  std::mutex request_ids_mu_;
  std::mt19937_64 request_ids_;  // guarded by request_ids_mu_
};

}  // namespace minicloud::controller
