#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/strings/string_view.h"
#include "common/auth/grpc_request.h"
#include "common/auth/signed_request.h"

namespace minicloud::controller {

// The one door of the ComputeService: every handler calls Check first, before any service call.
// The call is rebuilt as a signed request (common/auth/grpc_request.h) from its method, its
// request message (nullptr for client-streaming calls) and the metadata that arrived, and
// verified for service "ec2". A refusal is UNAUTHENTICATED with the EC2 code in the error
// details and at the start of the message ("AuthFailure: ..."); a failure of the key store is
// INTERNAL.
//
// `service_path` is the gRPC service's path prefix ("/minicloud.v1.ComputeService/", or
// "/minicloud.v1.CloudFormation/"); `account_only`: instance credentials are refused whatever
// their action list says (PERMISSION_DENIED, AccessDenied), as CloudFormation refuses them on the
// Query API.
class GrpcAuthenticator {
 public:
  explicit GrpcAuthenticator(
      const ::minicloud::auth::RequestVerifier& verifier,
      absl::string_view service_path = ::minicloud::auth::kComputeServicePath,
      bool account_only = false)
      : verifier_(verifier), service_path_(service_path), account_only_(account_only) {}

  grpc::Status Check(const grpc::ServerContext& ctx, absl::string_view method,
                     const google::protobuf::Message* request) const;

 private:
  const ::minicloud::auth::RequestVerifier& verifier_;
  const std::string service_path_;
  const bool account_only_;
};

}  // namespace minicloud::controller
