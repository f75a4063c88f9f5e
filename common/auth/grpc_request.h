#pragma once

// A gRPC call as AWS Signature Version 4 sees it, the same on both sides: method "POST", the
// call's method path ("/minicloud.v1.ComputeService/RunInstances") as the path, no query, the
// request message's deterministic serialization as the body (empty for client-streaming calls,
// whose metadata leaves before the first message), and as headers the "x-amz-*" metadata and
// "authorization". The CLI signs it (SignGrpcCall) and sends the headers as metadata; the
// controller rebuilds it from what arrived (GrpcSignedRequest) and verifies it.

#include <google/protobuf/message.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/sigv4.h"

namespace minicloud::auth {

inline constexpr absl::string_view kComputeServicePath = "/minicloud.v1.ComputeService/";
// The service name in the credential scope of every API call, gRPC or Query: "ec2".
inline constexpr absl::string_view kSigningService = "ec2";

// "/minicloud.v1.ComputeService/<method>".
std::string ComputeMethodPath(absl::string_view method);

// The CloudFormation service's calls are signed the same way (service "ec2" in the scope), over
// their own method path: "/minicloud.v1.CloudFormation/<method>".
inline constexpr absl::string_view kCloudFormationServicePath = "/minicloud.v1.CloudFormation/";
std::string CloudFormationMethodPath(absl::string_view method);

// The bytes signed for `message` (deterministic serialization: map entries in key order), or ""
// for nullptr (client-streaming calls).
std::string SignedBody(const google::protobuf::Message* message);

// `metadata`: only "authorization" and names starting "x-amz-" are kept (lower-cased).
SignedRequest GrpcSignedRequest(absl::string_view method_path,
                                const google::protobuf::Message* message,
                                const std::vector<std::pair<std::string, std::string>>& metadata);

// The metadata (lower-case names) that signs a call of `method_path` with `message`.
std::vector<std::pair<std::string, std::string>> SignGrpcCall(
    absl::string_view method_path, const google::protobuf::Message* message,
    const sigv4::SigningCredentials& credentials, absl::string_view region, absl::Time now);

}  // namespace minicloud::auth
