#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/string_view.h"
#include "common/auth/signed_request.h"

namespace minicloud::controller {

// The one door of the ComputeService: every handler calls Check first, before any service call.
// The call is rebuilt as a signed request (common/auth/grpc_request.h) from its method, its
// request message (nullptr for client-streaming calls) and the metadata that arrived, and
// verified for service "ec2". A refusal is UNAUTHENTICATED with the EC2 code in the error
// details and at the start of the message ("AuthFailure: ..."); a failure of the key store is
// INTERNAL.
class GrpcAuthenticator {
 public:
  explicit GrpcAuthenticator(const auth::RequestVerifier& verifier) : verifier_(verifier) {}

  grpc::Status Check(const grpc::ServerContext& ctx, absl::string_view method,
                     const google::protobuf::Message* request) const;

 private:
  const auth::RequestVerifier& verifier_;
};

}  // namespace minicloud::controller
