#include "controller/api/grpc_auth.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/auth/grpc_request.h"
#include "common/ec2_error.h"
#include "common/grpc_status.h"
#include "controller/iam/policy.h"

namespace minicloud::controller {

grpc::Status GrpcAuthenticator::Check(const grpc::ServerContext& ctx, absl::string_view method,
                                      const google::protobuf::Message* request) const {
  std::vector<std::pair<std::string, std::string>> metadata;
  for (const auto& [name, value] : ctx.client_metadata()) {
    metadata.emplace_back(std::string(name.data(), name.size()),
                          std::string(value.data(), value.size()));
  }
  const auth::SignedRequest signed_request =
      auth::GrpcSignedRequest(absl::StrCat(service_path_, method), request, metadata);
  auto caller = verifier_.Verify(signed_request, auth::kSigningService);
  if (caller.ok() && account_only_ && caller->allowed_actions.has_value()) {
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("AccessDenied: Instance credentials cannot call ", service_path_, method),
        "AccessDenied");
  }
  if (caller.ok()) {
    // The one authorization rule of both APIs (controller/iam/policy.h).
    absl::Status allowed = iam::Authorize(*caller, method);
    if (allowed.ok()) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat(Ec2CodeOf(allowed), ": ", allowed.message()),
                        Ec2CodeOf(allowed));
  }
  const absl::Status& s = caller.status();
  if (s.code() != absl::StatusCode::kUnauthenticated) return ToGrpcStatus(s);
  const std::string code = Ec2CodeOf(s);
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, absl::StrCat(code, ": ", s.message()),
                      code);
}

}  // namespace minicloud::controller
