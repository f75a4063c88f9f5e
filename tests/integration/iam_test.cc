// Instance profiles end to end inside one process: real services over RocksDB, the Query API's
// Beast server on loopback, the real SigV4 verifier behind the session-aware one, and the real
// aws CLI signing with an instance's session credentials (AWS_SESSION_TOKEN), as a guest's
// aws CLI does with what IMDS serves.
//
// Bugs these catch: session credentials accepted for an action the profile does not allow (or
// refused for one it does), UnauthorizedOperation answered with another code or status, the
// security token not required or not bound to its key, credentials issued to another host or
// surviving their instance, the profile missing from DescribeInstances, an unknown profile
// accepted by RunInstances, a profile in use deleted.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/auth/grpc_request.h"
#include "common/auth/sigv4.h"
#include "common/ec2_error.h"
#include "controller/api/grpc_handlers.h"
#include "controller/auth/sigv4_verifier.h"
#include "controller/iam/session_verifier.h"
#include "controller/service/instance_profile_service.h"
#include "tests/testing/controller_fixture.h"
#include "tests/testing/query_endpoint.h"
#include "tests/testing/skip.h"

namespace minicloud {
namespace {

constexpr char kKeyId[] = "AKIDIAMINTEGRATION00";
constexpr char kSecret[] = "iam/integration/secret/key/0123456789ab";

using Result = testing::CommandResult;
using Credentials = testing::AwsCredentials;

Result Run(const std::string& command) { return testing::RunCommand(command); }

struct IamCloud {
  testing::ControllerFixture ctl;
  controller::iam::SessionSealer sealer{
      *controller::auth::SecretBox::FromKey(std::string(32, 's'))};
  controller::InstanceProfileService profiles{*ctl.state, RealClock::Get(), sealer};
  controller::auth::InMemoryAccessKeys keys;
  std::unique_ptr<auth::RequestVerifier> account;
  std::unique_ptr<auth::RequestVerifier> verifier;
  std::unique_ptr<testing::QueryEndpoint> endpoint;
  std::string image, host;

  IamCloud() {
    host = ctl.AddHost();
    image = ctl.RegisterImage();
    keys.Put(kKeyId, {kSecret, std::nullopt, std::nullopt});
    account = controller::auth::MakeSigV4Verifier(keys, RealClock::Get(), "home-1");
    verifier = controller::iam::MakeSessionAwareVerifier(
        *account, sealer, RealClock::Get(), "home-1",
        [this](const v1::SessionTokenPayload& s) { return profiles.StillValid(s); });
    auto e = testing::QueryEndpoint::Start(ctl, *verifier, 7);
    REQUIRE(e.ok());
    endpoint = std::move(*e);
  }

  Result Aws(const std::string& args, const Credentials& c) {
    return Run(testing::AwsEc2Command(endpoint->url(), c, args));
  }
  Credentials Account() const { return {kKeyId, kSecret, ""}; }

  std::string Launch(const std::string& profile) {
    v1::RunInstancesRequest req = ctl.Run(image);
    req.mutable_iam_instance_profile()->set_name(profile);
    auto r = ctl.compute->RunInstances(req);
    REQUIRE(r.ok());
    return r->instances(0).instance_id();
  }
  Credentials Issue(const std::string& instance) {
    v1::GetInstanceCredentialsRequest req;
    req.set_host_id(host);
    req.set_instance_id(instance);
    auto c = profiles.IssueCredentials(req);
    REQUIRE(c.ok());
    return {c->access_key_id(), c->secret_access_key(), c->token()};
  }
};

void RequireAwsCli() {
  if (Run("aws --version").exit_code != 0) testing::SkipTest("the aws CLI is not on PATH");
}

v1::CreateInstanceProfileRequest Profile(const std::string& name,
                                         std::vector<std::string> actions) {
  v1::CreateInstanceProfileRequest req;
  req.set_instance_profile_name(name);
  req.set_role_name(name + "-role");
  for (auto& a : actions) req.add_allowed_actions(a);
  return req;
}

TEST_CASE("session credentials: allowed actions pass, others are UnauthorizedOperation (403)") {
  RequireAwsCli();
  IamCloud c;
  REQUIRE(c.profiles.CreateInstanceProfile(Profile("reader", {"ec2:Describe*"})).ok());
  const std::string id = c.Launch("reader");
  const Credentials creds = c.Issue(id);
  CHECK(creds.key.rfind("ASIA", 0) == 0);

  Result described = c.Aws(absl::StrCat("describe-instances --instance-ids ", id), creds);
  INFO(described.out);
  REQUIRE(described.exit_code == 0);
  auto doc = nlohmann::json::parse(described.out);
  auto inst = doc["Reservations"][0]["Instances"][0];
  // DescribeInstances shows the profile (botocore's IamInstanceProfile: Arn, Id).
  CHECK(inst["IamInstanceProfile"]["Arn"] == "arn:aws:iam::000000000000:instance-profile/reader");
  CHECK(inst["IamInstanceProfile"]["Id"].get<std::string>().rfind("AIPA", 0) == 0);

  Result refused = c.Aws("create-key-pair --key-name k", creds);
  INFO(refused.out);
  CHECK(refused.exit_code != 0);
  CHECK(refused.out.find("UnauthorizedOperation") != std::string::npos);
  // The same request with the account key passes: the refusal is the profile's, not the action's.
  CHECK(c.Aws("create-key-pair --key-name k", c.Account()).exit_code == 0);

  // Tags: Describe* covers DescribeTags; CreateTags is not in the profile.
  Result tags = c.Aws(absl::StrCat("describe-tags --filters Name=resource-id,Values=", id), creds);
  INFO(tags.out);
  CHECK(tags.exit_code == 0);
  Result tag = c.Aws(absl::StrCat("create-tags --resources ", id, " --tags Key=a,Value=b"), creds);
  CHECK(tag.out.find("UnauthorizedOperation") != std::string::npos);

  // Without the token the session key is unknown.
  Result no_token = c.Aws("describe-instances", {creds.key, creds.secret, ""});
  CHECK(no_token.out.find("AuthFailure") != std::string::npos);
  // Another instance's token with this key.
  const std::string other = c.Launch("reader");
  Result swapped = c.Aws("describe-instances", {creds.key, creds.secret, c.Issue(other).token});
  CHECK(swapped.out.find("AuthFailure") != std::string::npos);

  // Terminated: its credentials stop working at once.
  v1::TerminateInstancesRequest term;
  term.add_instance_ids(id);
  REQUIRE(c.ctl.compute->TerminateInstances(term).ok());
  REQUIRE(c.ctl.Report(c.host, id, v1::OBSERVED_STATE_ABSENT).ok());
  Result after = c.Aws("describe-instances", creds);
  CHECK(after.out.find("AuthFailure") != std::string::npos);
}

TEST_CASE("the Query API's raw HTTP status for UnauthorizedOperation is 403") {
  IamCloud c;
  REQUIRE(c.profiles.CreateInstanceProfile(Profile("tags", {"ec2:DescribeTags"})).ok());
  const Credentials creds = c.Issue(c.Launch("tags"));
  auth::SignedRequest r;
  r.method = "POST";
  r.path = "/";
  r.body = "Action=DescribeInstances&Version=2016-11-15";
  r.headers = {{"host", absl::StrCat("127.0.0.1:", c.endpoint->port())},
               {"content-type", "application/x-www-form-urlencoded; charset=utf-8"},
               {"x-amz-security-token", creds.token}};
  auth::sigv4::SignRequest(r, {creds.key, creds.secret}, "home-1", "ec2", absl::Now());
  query::HttpRequest h;
  h.method = r.method;
  h.target = "/";
  h.headers = r.headers;
  h.body = r.body;
  query::HttpResponse resp = c.endpoint->api().Handle(h);
  CHECK(resp.status == 403);
  CHECK(resp.body.find("<Code>UnauthorizedOperation</Code>") != std::string::npos);
}

TEST_CASE("run-instances --iam-instance-profile through the aws CLI, profile rules") {
  RequireAwsCli();
  IamCloud c;
  REQUIRE(c.profiles.CreateInstanceProfile(Profile("web", {"ec2:DescribeTags"})).ok());
  auto arn = c.profiles
                 .GetInstanceProfile([] {
                   v1::GetInstanceProfileRequest g;
                   g.set_instance_profile_name("web");
                   return g;
                 }())
                 ->instance_profile()
                 .arn();
  Result by_name = c.Aws(absl::StrCat("run-instances --image-id ", c.image,
                                      " --instance-type t3.micro --count 1 "
                                      "--iam-instance-profile Name=web"),
                         c.Account());
  INFO(by_name.out);
  REQUIRE(by_name.exit_code == 0);
  CHECK(nlohmann::json::parse(by_name.out)["Instances"][0]["IamInstanceProfile"]["Arn"] == arn);
  Result by_arn =
      c.Aws(absl::StrCat("run-instances --image-id ", c.image,
                         " --instance-type t3.micro --count 1 --iam-instance-profile Arn=", arn),
            c.Account());
  INFO(by_arn.out);
  CHECK(by_arn.exit_code == 0);
  Result unknown =
      c.Aws(absl::StrCat("run-instances --image-id ", c.image,
                         " --instance-type t3.micro --count 1 --iam-instance-profile Name=nope"),
            c.Account());
  CHECK(unknown.out.find("InvalidParameterValue") != std::string::npos);
  CHECK(unknown.out.find("Invalid IAM Instance Profile name") != std::string::npos);

  // IAM's rules for the profiles themselves.
  CHECK(Ec2CodeOf(c.profiles.CreateInstanceProfile(Profile("web", {"ec2:X"})).status()) ==
        "EntityAlreadyExists");
  CHECK(Ec2CodeOf(c.profiles.CreateInstanceProfile(Profile("bad/name", {"ec2:X"})).status()) ==
        "ValidationError");
  CHECK(Ec2CodeOf(c.profiles.CreateInstanceProfile(Profile("s3", {"s3:GetObject"})).status()) ==
        "InvalidParameterValue");
  v1::DeleteInstanceProfileRequest del;
  del.set_instance_profile_name("web");
  CHECK(Ec2CodeOf(c.profiles.DeleteInstanceProfile(del).status()) == "DeleteConflict");
  CHECK(c.profiles.ListInstanceProfiles({})->instance_profiles_size() == 1);
}

// The gRPC API: the same verifier and the same rule. The call is signed as the CLI signs one
// (common/auth/grpc_request.h), with the session token as x-amz-security-token metadata.
template <typename Req, typename Resp, typename Stub, typename Method>
grpc::Status SignedCall(Stub& stub, Method method, const char* name, const Req& req, Resp* resp,
                        const Credentials& creds) {
  auth::SignedRequest r = auth::GrpcSignedRequest(auth::ComputeMethodPath(name), &req,
                                                  {{"x-amz-security-token", creds.token}});
  auth::sigv4::SignRequest(r, {creds.key, creds.secret}, "home-1", "ec2", absl::Now());
  grpc::ClientContext ctx;
  for (const auto& [k, v] : r.headers) ctx.AddMetadata(k, v);
  return (stub.*method)(&ctx, req, resp);
}

TEST_CASE("gRPC: session credentials pass the same rule (PERMISSION_DENIED otherwise)") {
  IamCloud c;
  REQUIRE(c.profiles.CreateInstanceProfile(Profile("grpc", {"ec2:Describe*"})).ok());
  const Credentials creds = c.Issue(c.Launch("grpc"));
  auto account =
      controller::auth::MakeSigV4Verifier(*c.ctl.access_keys, RealClock::Get(), "home-1");
  auto verifier = controller::iam::MakeSessionAwareVerifier(
      *account, c.sealer, RealClock::Get(), "home-1",
      [&](const v1::SessionTokenPayload& s) { return c.profiles.StillValid(s); });
  controller::ComputeHandler handler(*c.ctl.compute, *c.ctl.images, *c.ctl.key_pairs, *c.ctl.groups,
                                     *c.ctl.tags, *c.ctl.access_keys, *verifier, &c.profiles);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&handler);
  auto server = builder.BuildAndStart();
  REQUIRE(port > 0);
  auto stub = v1::ComputeService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  using Stub = v1::ComputeService::Stub;

  v1::DescribeInstancesResponse described;
  grpc::Status ok = SignedCall(*stub, &Stub::DescribeInstances, "DescribeInstances",
                               v1::DescribeInstancesRequest(), &described, creds);
  INFO(ok.error_message());
  CHECK(ok.ok());
  CHECK(described.reservations_size() == 1);

  v1::CreateKeyPairRequest key;
  key.set_key_name("k");
  v1::CreateKeyPairResponse key_resp;
  grpc::Status denied =
      SignedCall(*stub, &Stub::CreateKeyPair, "CreateKeyPair", key, &key_resp, creds);
  CHECK(denied.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(denied.error_details() == "UnauthorizedOperation");
  // Managing profiles is the account's, whatever the profile allows.
  v1::ListInstanceProfilesResponse listed;
  grpc::Status iam = SignedCall(*stub, &Stub::ListInstanceProfiles, "ListInstanceProfiles",
                                v1::ListInstanceProfilesRequest(), &listed, creds);
  CHECK(iam.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  // A forged token: UNAUTHENTICATED.
  grpc::Status forged =
      SignedCall(*stub, &Stub::DescribeInstances, "DescribeInstances",
                 v1::DescribeInstancesRequest(), &described, {creds.key, creds.secret, "Zm9yZ2Vk"});
  CHECK(forged.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  server->Shutdown();
}

TEST_CASE("credentials only for the instance's own host, and survive a controller restart") {
  IamCloud c;
  REQUIRE(c.profiles.CreateInstanceProfile(Profile("p", {"ec2:*"})).ok());
  const std::string id = c.Launch("p");
  v1::GetInstanceCredentialsRequest req;
  req.set_instance_id(id);
  req.set_host_id(c.ctl.AddHost("home-1b"));
  // Bug: any registered host could fetch any instance's credentials.
  CHECK(Ec2CodeOf(c.profiles.IssueCredentials(req).status()) == "InvalidInstanceID.NotFound");
  // An instance without a profile has no credentials.
  auto plain = c.ctl.compute->RunInstances(c.ctl.Run(c.image));
  req.set_host_id(c.host);
  req.set_instance_id(plain->instances(0).instance_id());
  CHECK_FALSE(c.profiles.IssueCredentials(req).ok());
  // Profiles are in the store: a restarted controller still knows them.
  c.ctl.Reopen();
  controller::InstanceProfileService reopened(*c.ctl.state, RealClock::Get(), c.sealer);
  req.set_instance_id(id);
  CHECK(reopened.IssueCredentials(req).ok());
}

}  // namespace
}  // namespace minicloud
