#include "controller/api/grpc_auth.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/auth/grpc_request.h"
#include "common/ec2_error.h"
#include "common/grpc_status.h"

namespace minicloud::controller {

grpc::Status GrpcAuthenticator::Check(const grpc::ServerContext& ctx, absl::string_view method,
                                      const google::protobuf::Message* request) const {
  std::vector<std::pair<std::string, std::string>> metadata;
  for (const auto& [name, value] : ctx.client_metadata()) {
    metadata.emplace_back(std::string(name.data(), name.size()),
                          std::string(value.data(), value.size()));
  }
  const auth::SignedRequest signed_request =
      auth::GrpcSignedRequest(auth::ComputeMethodPath(method), request, metadata);
  auto caller = verifier_.Verify(signed_request, auth::kSigningService);
  if (caller.ok()) return grpc::Status::OK;
  const absl::Status& s = caller.status();
  if (s.code() != absl::StatusCode::kUnauthenticated) return ToGrpcStatus(s);
  const std::string code = Ec2CodeOf(s);
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, absl::StrCat(code, ": ", s.message()),
                      code);
}

}  // namespace minicloud::controller
