#include "common/auth/grpc_request.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace minicloud::auth {

std::string ComputeMethodPath(absl::string_view method) {
  return absl::StrCat(kComputeServicePath, method);
}

std::string CloudFormationMethodPath(absl::string_view method) {
  return absl::StrCat(kCloudFormationServicePath, method);
}

std::string SignedBody(const google::protobuf::Message* message) {
  std::string out;
  if (message == nullptr) return out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message->SerializeToCodedStream(&coded);
  }
  return out;
}

SignedRequest GrpcSignedRequest(absl::string_view method_path,
                                const google::protobuf::Message* message,
                                const std::vector<std::pair<std::string, std::string>>& metadata) {
  SignedRequest r;
  r.method = "POST";
  r.path = std::string(method_path);
  r.body = SignedBody(message);
  for (const auto& [name, value] : metadata) {
    std::string lower = absl::AsciiStrToLower(name);
    if (lower == "authorization" || absl::StartsWith(lower, "x-amz-")) {
      r.headers.emplace_back(std::move(lower), value);
    }
  }
  return r;
}

std::vector<std::pair<std::string, std::string>> SignGrpcCall(
    absl::string_view method_path, const google::protobuf::Message* message,
    const sigv4::SigningCredentials& credentials, absl::string_view region, absl::Time now) {
  SignedRequest r = GrpcSignedRequest(method_path, message, {});
  sigv4::SignRequest(r, credentials, region, kSigningService, now);
  return r.headers;
}

}  // namespace minicloud::auth
