// The CloudFormation endpoint guests reach on the metadata address, through the whole path: the
// real metadata server on 169.254.169.254:80 in a private network namespace that also holds the
// guests' private addresses (so the server picks the instance by source address, as on a host
// bridge), the agent's forwarder over its real controller link (gRPC, mutual TLS on loopback),
// the controller's real HostService, and a recording GuestCloudFormationEndpoint in place of the
// CloudFormation Query layer. Needs CAP_SYS_ADMIN for the namespace; skipped without it.
//
// One-line bugs each test catches:
//  - "reaches the endpoint": the forwarder sending the host id as instance id, the target with
//    the prefix, dropping the body or the Content-Type; the handler skipping the endpoint.
//  - "another host's instance": HostHandler without the CheckGuestOfHost call (a host could speak
//    for any instance); CheckCallerIsHost skipped (a host naming another host's id).
//  - "oversize": the forward path without the 64 KiB limit.
//  - "tarball": the agent not passing cfn_bootstrap_archive to the server.
//  - "controller down": a link error answered 200/502 instead of 503.
//  - "no endpoint": a null endpoint dereferenced instead of 503.
#include "agent/runtime/guest_cloudformation.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/metadata/guest_routes.h"
#include "agent/metadata/server.h"
#include "agent/runtime/metadata_lookup.h"
#include "controller/query/guest_cloudformation.h"
#include "tests/integration/guest_netns.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_cloud.h"
#include "tests/unit/metadata/http_client.h"

namespace minicloud {
namespace {

using metadata::testing::HttpConn;
using metadata::testing::HttpResponse;
using testing::GuestNetns;
using testing::TestCloud;

constexpr char kImdsAddress[] = "169.254.169.254";

GuestNetns& Netns() {
  static GuestNetns ns;
  static const bool ready = [] {
    if (!ns.status().ok()) return false;
    return ns.AddAddress(kImdsAddress).ok();
  }();
  if (!ready) testing::SkipTest(std::string(ns.status().message()));
  return ns;
}

// What the controller's guest endpoint was asked, and a fixed JSON answer naming the caller.
class RecordingEndpoint final : public query::GuestCloudFormationEndpoint {
 public:
  struct Call {
    query::HttpRequest request;
    std::string instance_id;
    std::string request_id;
  };

  query::HttpResponse HandleGuest(const query::HttpRequest& request, absl::string_view instance_id,
                                  const std::string& request_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back({request, std::string(instance_id), request_id});
    query::HttpResponse r;
    r.status = 200;
    r.content_type = "application/json";
    r.body = absl::StrCat("{\"SignalResourceResponse\":{\"ResponseMetadata\":{\"RequestId\":\"",
                          request_id, "\"}}}");
    return r;
  }

  std::vector<Call> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::vector<Call> calls_;
};

// A host's metadata server with the agent's own lookup and forwarder (as agent/main.cc wires
// them), on `address`:80 inside the namespace. `lookup` replaces the agent's lookup to play a
// host that claims a guest it does not run.
class HostMetadata {
 public:
  HostMetadata(GuestNetns& ns, TestCloud::Host& host, const std::string& address,
               const std::string& archive = "", metadata::Server::InstanceLookup lookup = nullptr)
      : ns_(ns), address_(address) {
    metadata::ServerOptions options;
    options.listen = {boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(address), 80)};
    options.requests_per_second = 0;
    options.cloudformation = agent::CloudFormationForwarder(*host.agent, *host.link);
    options.cfn_bootstrap_archive = archive;
    server_ = std::make_unique<metadata::Server>(
        options, lookup ? std::move(lookup) : agent::MetadataLookup(*host.agent),
        *metadata::TokenAuthority::WithKey(std::string(32, 'k')), RealClock::Get());
    ns_.Run([&] { status_ = server_->Start(); });
  }
  ~HostMetadata() { server_->Stop(); }
  const absl::Status& status() const { return status_; }

  std::optional<HttpResponse> Send(const std::string& guest_ip, const std::string& bytes) {
    std::unique_ptr<HttpConn> conn;
    ns_.Run([&] { conn = std::make_unique<HttpConn>(address_, 80, guest_ip, 15000); });
    if (!conn->ok() || !conn->Send(bytes)) return std::nullopt;
    return conn->Read();
  }
  std::optional<HttpResponse> Post(const std::string& guest_ip, const std::string& target,
                                   const std::string& body) {
    return Send(guest_ip, absl::StrCat("POST ", target, " HTTP/1.1\r\nHost: ", kImdsAddress,
                                       "\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                                       "Content-Length: ",
                                       body.size(), "\r\n\r\n", body));
  }
  std::optional<HttpResponse> Get(const std::string& guest_ip, const std::string& target) {
    return Send(guest_ip,
                absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: ", kImdsAddress, "\r\n\r\n"));
  }

 private:
  GuestNetns& ns_;
  std::string address_;
  absl::Status status_;
  std::unique_ptr<metadata::Server> server_;
};

v1::Instance Launch(TestCloud& cloud) {
  v1::RunInstancesRequest req;
  req.set_image_id(cloud.controller().RegisterImage());
  req.set_instance_type("t3.micro");
  req.set_min_count(1);
  req.set_max_count(1);
  grpc::ClientContext ctx;
  cloud.Sign(ctx, "RunInstances", &req);
  v1::Reservation res;
  const grpc::Status s = cloud.api().RunInstances(&ctx, req, &res);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(res.instances_size() == 1);
  const std::string id = res.instances(0).instance_id();
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));
  const v1::Instance i = cloud.controller().Describe(id);
  REQUIRE_FALSE(i.private_ip_address().empty());
  REQUIRE(Netns().AddAddress(i.private_ip_address()).ok());
  return i;
}

constexpr char kSignal[] =
    "Action=SignalResource&StackName=web&LogicalResourceId=Web&UniqueId=i-1&Status=SUCCESS"
    "&Version=2010-05-15&ContentType=JSON";

}  // namespace

TEST_CASE("a guest's CloudFormation request reaches the controller's endpoint as its instance",
          "[integration][cloudformation]") {
  GuestNetns& ns = Netns();
  RecordingEndpoint endpoint;
  TestCloud cloud(&endpoint);
  auto& host_a = cloud.AddHost("home-1a", "rack-1");
  const v1::Instance inst = Launch(cloud);
  const std::string& ip = inst.private_ip_address();
  REQUIRE(cloud.controller().Describe(inst.instance_id()).instance_id() == inst.instance_id());

  testing::TempDir dir;
  const std::string archive = dir.path() + "/cfn-bootstrap.tar.gz";
  const std::string archive_bytes =
      std::string("\x1f\x8b\x08\x00tarball", 11) + std::string(2 * 1024 * 1024, 'x');
  {
    std::ofstream out(archive, std::ios::binary);
    out << archive_bytes;
  }
  HostMetadata imds(ns, host_a, kImdsAddress, archive);
  REQUIRE(imds.status().ok());

  SECTION("reaches the endpoint with the instance id, target and body") {
    auto r = imds.Post(ip, "/cloudformation/?Extra=1", kSignal);
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 200);
    CHECK(r->header("content-type") == "application/json");
    const auto calls = endpoint.calls();
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].instance_id == inst.instance_id());
    CHECK(calls[0].request.method == "POST");
    CHECK(calls[0].request.target == "/?Extra=1");
    CHECK(calls[0].request.body == kSignal);
    bool has_type = false;
    for (const auto& [name, value] : calls[0].request.headers) {
      if (name == "Content-Type") has_type = value == "application/x-www-form-urlencoded";
    }
    CHECK(has_type);
    CHECK(calls[0].request_id.size() == 36);
    CHECK(r->body.find(calls[0].request_id) != std::string::npos);

    // The WaitConditionHandle form: PUT to /cloudformation/waitcondition/<token>.
    auto put = imds.Send(ip, absl::StrCat("PUT /cloudformation/waitcondition/tok123 HTTP/1.1\r\n"
                                          "Host: 169.254.169.254\r\nContent-Length: 20\r\n\r\n",
                                          "{\"Status\":\"SUCCESS\"}"));
    REQUIRE(put);
    CHECK(put->status == 200);
    const auto after = endpoint.calls();
    REQUIRE(after.size() == 2);
    CHECK(after[1].request.method == "PUT");
    CHECK(after[1].request.target == "/waitcondition/tok123");
    CHECK(after[1].request.body == "{\"Status\":\"SUCCESS\"}");
    CHECK(after[1].instance_id == inst.instance_id());
  }

  SECTION("an oversize body is 413 and never reaches the controller") {
    auto r =
        imds.Post(ip, "/cloudformation/", std::string(metadata::kMaxCloudFormationBody + 1, 'a'));
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(endpoint.calls().empty());
  }

  SECTION("the helper tarball is served") {
    auto r = imds.Get(ip, "/minicloud/cfn-bootstrap.tar.gz");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("content-type") == "application/gzip");
    CHECK(r->body == archive_bytes);
    CHECK(endpoint.calls().empty());
  }

  SECTION("another host's instance is refused by the controller") {
    auto& host_b = cloud.AddHost("home-1a", "rack-2");
    // Host B claims host A's guest (as a compromised or buggy agent could): its lookup answers
    // A's record for the guest's address, its forwarder speaks with B's certificate.
    const std::shared_ptr<const metadata::InstanceMetadata> record = host_a.agent->MetadataFor(ip);
    REQUIRE(record);
    REQUIRE(ns.AddAddress("169.254.169.253").ok());
    HostMetadata rogue(ns, host_b, "169.254.169.253", "",
                       [record](const boost::asio::ip::address&) { return record; });
    REQUIRE(rogue.status().ok());
    auto r = rogue.Post(ip, "/cloudformation/", kSignal);
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 403);
    CHECK(endpoint.calls().empty());

    // The same over HostService directly: B naming A's instance, and B naming A's host id.
    auto stub = cloud.HostStubAs(host_b);
    v1::GuestCloudFormationRequest req;
    req.set_host_id(host_b.agent->host_id());
    req.set_instance_id(inst.instance_id());
    req.set_method("POST");
    req.set_target("/");
    req.set_body(kSignal);
    {
      grpc::ClientContext ctx;
      v1::GuestCloudFormationResponse resp;
      CHECK(stub->GuestCloudFormation(&ctx, req, &resp).error_code() ==
            grpc::StatusCode::PERMISSION_DENIED);
    }
    {
      req.set_host_id(host_a.agent->host_id());
      grpc::ClientContext ctx;
      v1::GuestCloudFormationResponse resp;
      CHECK(stub->GuestCloudFormation(&ctx, req, &resp).error_code() ==
            grpc::StatusCode::PERMISSION_DENIED);
    }
    CHECK(endpoint.calls().empty());
    // Host A itself is answered.
    auto own = imds.Post(ip, "/cloudformation/", kSignal);
    REQUIRE(own);
    CHECK(own->status == 200);
    CHECK(endpoint.calls().size() == 1);
  }

  SECTION("controller unreachable: 503 with a clear body, IMDS still served") {
    cloud.StopController();
    auto r = imds.Post(ip, "/cloudformation/", kSignal);
    REQUIRE(r);
    CHECK(r->status == 503);
    CHECK(r->body.find("cannot reach the controller") != std::string::npos);
    auto md = imds.Get(ip, "/latest/meta-data/instance-id");
    REQUIRE(md);
    CHECK(md->status == 200);
    CHECK(md->body == inst.instance_id());
    CHECK(endpoint.calls().empty());
  }
}

TEST_CASE("a controller without the CloudFormation endpoint answers 503",
          "[integration][cloudformation]") {
  GuestNetns& ns = Netns();
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  const v1::Instance inst = Launch(cloud);
  HostMetadata imds(ns, host, kImdsAddress);
  REQUIRE(imds.status().ok());
  auto r = imds.Post(inst.private_ip_address(), "/cloudformation/", kSignal);
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(r->body == "CloudFormation is not available\n");
  // No archive configured: 404 naming the setting.
  auto tarball = imds.Get(inst.private_ip_address(), "/minicloud/cfn-bootstrap.tar.gz");
  REQUIRE(tarball);
  CHECK(tarball->status == 404);
  CHECK(tarball->body.find("cfn_bootstrap_archive") != std::string::npos);
}

}  // namespace minicloud
