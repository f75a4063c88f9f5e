// The ComputeService behind SigV4: a real controller in process (real RocksDB, real gRPC on
// loopback) refuses every unsigned, mis-signed, replayed, unknown-key and deleted-key call with
// UNAUTHENTICATED and the EC2 code, and answers calls signed with a key it issued. Each case
// names the one-line bug it catches.

#include <grpcpp/generic/generic_stub.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "common/auth/grpc_request.h"
#include "tests/testing/test_cloud.h"

namespace minicloud {
namespace {

using testing::TestCloud;

// A unary call through a generic stub, with the given metadata and raw request bytes.
grpc::Status RawCall(const std::string& endpoint, const std::string& method_path,
                     const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& metadata) {
  grpc::GenericStub stub(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  for (const auto& [n, v] : metadata) ctx.AddMetadata(n, v);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  grpc::Slice slice(body);
  grpc::ByteBuffer request(&slice, 1), response;
  auto call = stub.PrepareUnaryCall(&ctx, method_path, request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

grpc::Status Describe(TestCloud& cloud, const std::function<void(grpc::ClientContext&)>& sign) {
  grpc::ClientContext ctx;
  sign(ctx);
  v1::DescribeInstancesRequest req;
  v1::DescribeInstancesResponse resp;
  return cloud.api().DescribeInstances(&ctx, req, &resp);
}

void SignWith(TestCloud& cloud, grpc::ClientContext& ctx, const std::string& key,
              const std::string& secret, const std::string& method,
              const google::protobuf::Message* req) {
  for (const auto& [n, v] : auth::SignGrpcCall(auth::ComputeMethodPath(method), req, {key, secret},
                                               "home-1", cloud.controller().clock.Now())) {
    ctx.AddMetadata(n, v);
  }
}

void CheckRefused(const grpc::Status& s, const std::string& code) {
  INFO(s.error_message());
  CHECK(s.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(s.error_details() == code);
  CHECK(s.error_message().rfind(code + ": ", 0) == 0);
}

// Catches: any ComputeService method left without the check (a door without a lock). Every
// method of the service descriptor is called without a signature.
TEST_CASE("every ComputeService method refuses an unsigned call", "[integration][auth]") {
  TestCloud cloud;
  const auto* service =
      v1::RunInstancesRequest::descriptor()->file()->FindServiceByName("ComputeService");
  REQUIRE(service != nullptr);
  REQUIRE(service->method_count() >= 25);
  for (int i = 0; i < service->method_count(); ++i) {
    const auto* m = service->method(i);
    CAPTURE(m->name());
    if (m->client_streaming()) {
      grpc::ClientContext ctx;
      v1::RegisterImageResponse resp;
      auto w = cloud.api().RegisterImage(&ctx, &resp);
      w->WritesDone();
      CheckRefused(w->Finish(), "MissingAuthenticationToken");
      continue;
    }
    CheckRefused(RawCall(cloud.endpoint(), auth::ComputeMethodPath(m->name()), "", {}),
                 "MissingAuthenticationToken");
  }
}

TEST_CASE("signed calls: good, mis-signed, unknown key, replayed elsewhere, expired",
          "[integration][auth]") {
  TestCloud cloud;
  // Catches: the harness's (and the first start's) key not accepted.
  CHECK(Describe(cloud, [&](grpc::ClientContext& c) {
          v1::DescribeInstancesRequest req;
          cloud.Sign(c, "DescribeInstances", &req);
        }).ok());
  // Catches: the secret not part of the check.
  CheckRefused(Describe(cloud,
                        [&](grpc::ClientContext& c) {
                          v1::DescribeInstancesRequest req;
                          SignWith(cloud, c, cloud.admin_key(), "wrong", "DescribeInstances", &req);
                        }),
               "SignatureDoesNotMatch");
  // Catches: unknown keys looked up as some other key.
  CheckRefused(Describe(cloud,
                        [&](grpc::ClientContext& c) {
                          v1::DescribeInstancesRequest req;
                          SignWith(cloud, c, "AKIAUNKNOWN000000000", cloud.admin_secret(),
                                   "DescribeInstances", &req);
                        }),
               "AuthFailure");
  // Catches: the method path not covered: a DescribeInstances signature replayed on
  // TerminateInstances.
  {
    grpc::ClientContext ctx;
    v1::TerminateInstancesRequest req;
    req.add_instance_ids("i-0123456789abcdef0");
    v1::DescribeInstancesRequest describe;
    SignWith(cloud, ctx, cloud.admin_key(), cloud.admin_secret(), "DescribeInstances", &describe);
    v1::TerminateInstancesResponse resp;
    CheckRefused(cloud.api().TerminateInstances(&ctx, req, &resp), "SignatureDoesNotMatch");
  }
  // Catches: the body not covered: a signature for one request sent with another.
  {
    grpc::ClientContext ctx;
    v1::TerminateInstancesRequest signed_req, sent_req;
    signed_req.add_instance_ids("i-0123456789abcdef0");
    sent_req.add_instance_ids("i-0fedcba9876543210");
    SignWith(cloud, ctx, cloud.admin_key(), cloud.admin_secret(), "TerminateInstances",
             &signed_req);
    v1::TerminateInstancesResponse resp;
    CheckRefused(cloud.api().TerminateInstances(&ctx, sent_req, &resp), "SignatureDoesNotMatch");
  }
  // Catches: no skew check at the gRPC edge: a call signed 10 minutes ago.
  {
    grpc::ClientContext ctx;
    v1::DescribeInstancesRequest req;
    for (const auto& [n, v] :
         auth::SignGrpcCall(auth::ComputeMethodPath("DescribeInstances"), &req,
                            {cloud.admin_key(), cloud.admin_secret()}, "home-1",
                            cloud.controller().clock.Now() - absl::Minutes(10))) {
      ctx.AddMetadata(n, v);
    }
    v1::DescribeInstancesResponse resp;
    CheckRefused(cloud.api().DescribeInstances(&ctx, req, &resp), "RequestExpired");
  }
}

// Catches: a deleted key that keeps working (the verifier reading a stale copy), and a created
// key that does not work at once.
TEST_CASE("a created key works over gRPC and stops working once deleted", "[integration][auth]") {
  TestCloud cloud;
  v1::CreateAccessKeyResponse created;
  {
    grpc::ClientContext ctx;
    v1::CreateAccessKeyRequest req;
    cloud.Sign(ctx, "CreateAccessKey", &req);
    REQUIRE(cloud.api().CreateAccessKey(&ctx, req, &created).ok());
  }
  const std::string key = created.access_key().access_key_id();
  const std::string secret = created.access_key().secret_access_key();
  auto with_new_key = [&](grpc::ClientContext& c) {
    v1::DescribeInstancesRequest req;
    SignWith(cloud, c, key, secret, "DescribeInstances", &req);
  };
  CHECK(Describe(cloud, with_new_key).ok());
  {
    grpc::ClientContext ctx;
    v1::ListAccessKeysRequest req;
    cloud.Sign(ctx, "ListAccessKeys", &req);
    v1::ListAccessKeysResponse resp;
    REQUIRE(cloud.api().ListAccessKeys(&ctx, req, &resp).ok());
    CHECK(resp.access_key_metadata_size() == 2);
    CHECK(resp.SerializeAsString().find(secret) == std::string::npos);
  }
  {
    grpc::ClientContext ctx;
    v1::DeleteAccessKeyRequest req;
    req.set_access_key_id(key);
    cloud.Sign(ctx, "DeleteAccessKey", &req);
    v1::DeleteAccessKeyResponse resp;
    REQUIRE(cloud.api().DeleteAccessKey(&ctx, req, &resp).ok());
  }
  CheckRefused(Describe(cloud, with_new_key), "AuthFailure");
  cloud.RestartController();
  CheckRefused(Describe(cloud, with_new_key), "AuthFailure");
}

// Catches: the first-start file written with the umask's mode, rewritten on a restart, or
// holding a key the controller does not accept.
TEST_CASE("the first-start credentials file is 0600 and its key is accepted",
          "[integration][auth]") {
  TestCloud cloud;
  struct stat st;
  REQUIRE(::stat(cloud.admin_credentials().c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  std::ifstream in(cloud.admin_credentials());
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "[default]\naws_access_key_id = " + cloud.admin_key() +
                          "\naws_secret_access_key = " + cloud.admin_secret() + "\n");
  cloud.RestartController();
  std::ifstream again(cloud.admin_credentials());
  std::stringstream text2;
  text2 << again.rdbuf();
  CHECK(text2.str() == text.str());
  CHECK(Describe(cloud, [&](grpc::ClientContext& c) {
          v1::DescribeInstancesRequest req;
          cloud.Sign(c, "DescribeInstances", &req);
        }).ok());
}

}  // namespace
}  // namespace minicloud
