// What a guest sees through the whole stack: the real controller (in process, real gRPC and
// RocksDB), an agent on the fake hypervisor, and the real metadata server on 169.254.169.254:80
// inside a private network namespace that also holds each guest's private address, so the
// server picks the instance by the request's source address exactly as on a host bridge (with
// the agent's own lookup, agent/runtime/metadata_lookup.h). Needs CAP_SYS_ADMIN for the
// namespace; reported as skipped without it.
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/metadata/server.h"
#include "agent/runtime/metadata_lookup.h"
#include "tests/integration/guest_netns.h"
#include "tests/testing/test_cloud.h"
#include "tests/unit/metadata/http_client.h"

namespace minicloud {
namespace {

using metadata::testing::HttpConn;
using metadata::testing::HttpResponse;
using testing::GuestNetns;
using testing::TestCloud;

constexpr char kImdsAddress[] = "169.254.169.254";
constexpr char kTokenTtlHeader[] = "X-aws-ec2-metadata-token-ttl-seconds";
constexpr char kTokenHeader[] = "X-aws-ec2-metadata-token";

// The namespace every test here shares; skips the test when it cannot be made.
GuestNetns& Netns() {
  static GuestNetns ns;
  static const bool ready = [] {
    if (!ns.status().ok()) return false;
    return ns.AddAddress(kImdsAddress).ok();
  }();
  if (!ready) testing::SkipTest(std::string(ns.status().message()));
  return ns;
}

// The real metadata server for one agent's lifetime: start it after the agent, stop it before.
class Imds {
 public:
  Imds(GuestNetns& ns, const agent::Agent& agent) : ns_(ns) {
    metadata::ServerOptions options;
    options.listen = {
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(kImdsAddress), 80)};
    options.requests_per_second = 0;
    server_ = std::make_unique<metadata::Server>(
        options, agent::MetadataLookup(agent),
        *metadata::TokenAuthority::WithKey(std::string(32, 'k')), RealClock::Get(),
        [this](const metadata::ServedEvent& e) {
          std::lock_guard<std::mutex> lock(mu_);
          events_.push_back(e);
          cv_.notify_all();
        });
    ns_.Run([&] { status_ = server_->Start(); });
  }
  ~Imds() { server_->Stop(); }

  const absl::Status& status() const { return status_; }

  // One request on a fresh connection from `guest_ip` (already on the namespace's lo).
  std::optional<HttpResponse> Request(const std::string& guest_ip, const std::string& method,
                                      const std::string& path,
                                      const std::map<std::string, std::string>& headers = {}) {
    std::unique_ptr<HttpConn> conn;
    ns_.Run([&] { conn = std::make_unique<HttpConn>(kImdsAddress, 80, guest_ip); });
    if (!conn->ok()) return std::nullopt;
    return conn->Request(method, path, headers);
  }
  std::optional<HttpResponse> Get(const std::string& guest_ip, const std::string& path,
                                  const std::string& token = "") {
    if (token.empty()) return Request(guest_ip, "GET", path);
    return Request(guest_ip, "GET", path, {{kTokenHeader, token}});
  }
  // An IMDSv2 token for the guest; empty when the PUT failed.
  std::string Token(const std::string& guest_ip) { return TokenPut(guest_ip).first; }
  // A token PUT from the guest: the token (empty on failure) and how the server served it (the
  // observer runs after the write, so this waits for its event).
  std::pair<std::string, std::optional<metadata::ServedEvent>> TokenPut(
      const std::string& guest_ip) {
    size_t mark;
    {
      std::lock_guard<std::mutex> lock(mu_);
      mark = events_.size();
    }
    auto r = Request(guest_ip, "PUT", "/latest/api/token", {{kTokenTtlHeader, "300"}});
    const std::string token = r && r->status == 200 ? r->body : "";
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<metadata::ServedEvent> served;
    cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      for (size_t i = mark; i < events_.size(); ++i) {
        if (events_[i].method == "PUT" && events_[i].peer.to_string() == guest_ip) {
          served = events_[i];
        }
      }
      return served.has_value();
    });
    return {token, served};
  }

 private:
  GuestNetns& ns_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<metadata::ServedEvent> events_;
  absl::Status status_;
  std::unique_ptr<metadata::Server> server_;
};

// Status and body of a GET, for compact assertions ("200 i-…", "404", "no response").
std::string Fetch(Imds& imds, const std::string& ip, const std::string& path,
                  const std::string& token = "") {
  auto r = imds.Get(ip, path, token);
  if (!r) return "no response";
  return r->status == 200 ? "200 " + r->body : std::to_string(r->status);
}

template <typename Resp, typename Req>
using Rpc = grpc::Status (v1::ComputeService::Stub::*)(grpc::ClientContext*, const Req&, Resp*);

template <typename Req, typename Resp>
Resp Call(TestCloud& cloud, const char* method, Rpc<Resp, Req> rpc, const Req& req,
          grpc::Status* status = nullptr) {
  grpc::ClientContext ctx;
  Resp resp;
  cloud.Sign(ctx, method, &req);
  grpc::Status s = (cloud.api().*rpc)(&ctx, req, &resp);
  if (status != nullptr) {
    *status = s;
  } else {
    INFO(s.error_message());
    REQUIRE(s.ok());
  }
  return resp;
}

v1::Instance Launch(TestCloud& cloud, v1::RunInstancesRequest req) {
  req.set_image_id(cloud.controller().RegisterImage());
  req.set_instance_type("t3.micro");
  req.set_min_count(1);
  req.set_max_count(1);
  const v1::Reservation res =
      Call(cloud, "RunInstances", &v1::ComputeService::Stub::RunInstances, req);
  REQUIRE(res.instances_size() == 1);
  const std::string id = res.instances(0).instance_id();
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));
  const v1::Instance i = cloud.controller().Describe(id);
  REQUIRE_FALSE(i.private_ip_address().empty());
  REQUIRE(Netns().AddAddress(i.private_ip_address()).ok());
  return i;
}

grpc::Status ModifyOptions(TestCloud& cloud, const std::string& id,
                           const v1::InstanceMetadataOptions& options) {
  v1::ModifyInstanceMetadataOptionsRequest req;
  req.set_instance_id(id);
  *req.mutable_options() = options;
  grpc::Status status;
  Call(cloud, "ModifyInstanceMetadataOptions",
       &v1::ComputeService::Stub::ModifyInstanceMetadataOptions, req, &status);
  return status;
}

// What the agent publishes for `ip` right now (the server's per-instance record).
std::shared_ptr<const metadata::InstanceMetadata> Published(TestCloud::Host& host,
                                                            const std::string& ip) {
  return host.agent->MetadataFor(ip);
}

}  // namespace

TEST_CASE("a guest reads through HTTP what RunInstances gave it", "[integration][metadata]") {
  GuestNetns& ns = Netns();
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");

  v1::CreateKeyPairRequest key_req;
  key_req.set_key_name("laptop");
  key_req.set_key_type("ed25519");
  Call(cloud, "CreateKeyPair", &v1::ComputeService::Stub::CreateKeyPair, key_req);
  v1::DescribeKeyPairsRequest describe_keys;
  describe_keys.add_key_names("laptop");
  describe_keys.set_include_public_key(true);
  const auto keys =
      Call(cloud, "DescribeKeyPairs", &v1::ComputeService::Stub::DescribeKeyPairs, describe_keys);
  REQUIRE(keys.key_pairs_size() == 1);
  const std::string public_key = keys.key_pairs(0).public_key();
  REQUIRE_FALSE(public_key.empty());
  v1::CreatePlacementGroupRequest pg;
  pg.set_group_name("racks");
  pg.set_strategy(v1::PLACEMENT_STRATEGY_PARTITION);
  pg.set_partition_count(3);
  Call(cloud, "CreatePlacementGroup", &v1::ComputeService::Stub::CreatePlacementGroup, pg);

  const std::string user_data = std::string("#!/bin/sh\necho hi\n\0\xff raw", 22);
  v1::RunInstancesRequest run;
  run.set_user_data(user_data);
  run.set_key_name("laptop");
  run.mutable_placement()->set_group_name("racks");
  run.mutable_placement()->set_partition_number(2);
  for (auto [k, v] : {std::pair{"Name", "web-1"}, std::pair{"team", "infra"}}) {
    auto* t = run.add_tags();
    t->set_key(k);
    t->set_value(v);
  }
  run.mutable_metadata_options()->set_http_tokens(v1::HTTP_TOKENS_REQUIRED);
  run.mutable_metadata_options()->set_instance_metadata_tags(v1::INSTANCE_METADATA_TAGS_ENABLED);
  run.mutable_metadata_options()->set_http_put_response_hop_limit(3);
  const v1::Instance inst = Launch(cloud, run);
  const std::string& id = inst.instance_id();
  const std::string& ip = inst.private_ip_address();

  Imds imds(ns, *host.agent);
  REQUIRE(imds.status().ok());

  // HttpTokens=required: no token, no data.
  CHECK(Fetch(imds, ip, "/latest/meta-data/instance-id") == "401");
  const auto [token, put] = imds.TokenPut(ip);
  REQUIRE_FALSE(token.empty());
  REQUIRE(put.has_value());
  CHECK(put->instance_id == id);
  CHECK(put->ttl_on_socket == 3);

  struct Want {
    const char* path;
    std::string body;
  };
  const Want wants[] = {
      {"/latest/meta-data/instance-id", id},
      {"/latest/meta-data/instance-type", "t3.micro"},
      {"/latest/meta-data/ami-id", inst.image_id()},
      {"/latest/meta-data/local-ipv4", ip},
      {"/latest/meta-data/mac", inst.mac_address()},
      {"/latest/meta-data/placement/availability-zone", "home-1a"},
      {"/latest/meta-data/placement/region", "home-1"},
      {"/latest/meta-data/placement/group-name", "racks"},
      {"/latest/meta-data/placement/partition-number", "2"},
      {"/latest/meta-data/public-keys/", "0=laptop"},
      {"/latest/meta-data/public-keys/0/openssh-key", public_key},
      {"/latest/meta-data/tags/instance/", "Name\nteam"},
      {"/latest/meta-data/tags/instance/Name", "web-1"},
      {"/latest/user-data", user_data},
  };
  for (const auto& w : wants) {
    INFO(w.path);
    CHECK(Fetch(imds, ip, w.path, token) == "200 " + w.body);
  }

  auto doc = imds.Get(ip, "/latest/dynamic/instance-identity/document", token);
  REQUIRE(doc);
  REQUIRE(doc->status == 200);
  const auto json = nlohmann::json::parse(doc->body);
  CHECK(json.at("instanceId") == id);
  CHECK(json.at("privateIp") == ip);
  CHECK(json.at("availabilityZone") == "home-1a");
  CHECK(json.at("region") == "home-1");
  CHECK(json.at("imageId") == inst.image_id());
  CHECK(json.at("instanceType") == "t3.micro");
  CHECK(json.at("accountId") == "000000000000");

  // Options changed through the API reach the guest: tags hidden again, IMDSv1 allowed.
  v1::InstanceMetadataOptions change;
  change.set_instance_metadata_tags(v1::INSTANCE_METADATA_TAGS_DISABLED);
  change.set_http_tokens(v1::HTTP_TOKENS_OPTIONAL);
  REQUIRE(ModifyOptions(cloud, id, change).ok());
  CHECK(TestCloud::Eventually(
      [&] { return Fetch(imds, ip, "/latest/meta-data/instance-id") == "200 " + id; }));
  CHECK(Fetch(imds, ip, "/latest/meta-data/tags/instance/Name") == "404");
  CHECK(Fetch(imds, ip, "/latest/user-data") == "200 " + user_data);
}

TEST_CASE("an instance launched with defaults: IMDSv1 works, no tags, no keys, no user data",
          "[integration][metadata]") {
  GuestNetns& ns = Netns();
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  const v1::Instance inst = Launch(cloud, v1::RunInstancesRequest());
  const std::string& ip = inst.private_ip_address();
  Imds imds(ns, *host.agent);
  REQUIRE(imds.status().ok());

  CHECK(Fetch(imds, ip, "/latest/meta-data/instance-id") == "200 " + inst.instance_id());
  CHECK(Fetch(imds, ip, "/latest/user-data") == "404");
  CHECK(Fetch(imds, ip, "/latest/meta-data/public-keys/") == "404");
  CHECK(Fetch(imds, ip, "/latest/meta-data/tags/instance/") == "404");
  CHECK(Fetch(imds, ip, "/latest/meta-data/placement/group-name") == "404");
  // Another address on the bridge that no instance owns gets nothing.
  REQUIRE(ns.AddAddress("172.31.15.250").ok());
  CHECK(Fetch(imds, "172.31.15.250", "/latest/meta-data/instance-id") == "403");
}

TEST_CASE("the hop limit set by modify-instance-metadata-options is the TTL of the token reply",
          "[integration][metadata]") {
  GuestNetns& ns = Netns();
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  const v1::Instance inst = Launch(cloud, v1::RunInstancesRequest());
  const std::string& id = inst.instance_id();
  const std::string& ip = inst.private_ip_address();
  Imds imds(ns, *host.agent);
  REQUIRE(imds.status().ok());

  const auto first = imds.TokenPut(ip);
  REQUIRE_FALSE(first.first.empty());
  REQUIRE(first.second.has_value());
  CHECK(first.second->instance_id == id);
  CHECK(first.second->ttl_on_socket == 1);  // EC2's default

  for (int hops : {7, 64, 2}) {
    INFO("hop limit " << hops);
    v1::InstanceMetadataOptions o;
    o.set_http_put_response_hop_limit(hops);
    REQUIRE(ModifyOptions(cloud, id, o).ok());
    // The agent republishes the record once the desired state reaches it.
    REQUIRE(TestCloud::Eventually([&] {
      auto m = Published(host, ip);
      return m && m->options.http_put_response_hop_limit == hops;
    }));
    const auto [token, put] = imds.TokenPut(ip);
    REQUIRE_FALSE(token.empty());
    REQUIRE(put.has_value());
    CHECK(put->instance_id == id);
    CHECK(put->ttl_requested == hops);
    CHECK(put->ttl_on_socket == hops);
  }

  // Out of range never leaves the controller; the guest keeps the last good value.
  for (int bad : {65, -1}) {
    v1::InstanceMetadataOptions o;
    o.set_http_put_response_hop_limit(bad);
    grpc::Status s = ModifyOptions(cloud, id, o);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_details() == "InvalidParameterValue");
  }
  CHECK(cloud.controller().Describe(id).metadata_options().http_put_response_hop_limit() == 2);
  CHECK(Published(host, ip)->options.http_put_response_hop_limit == 2);
}

TEST_CASE("a restarted agent serves metadata of the guests it re-adopts, controller or not",
          "[integration][metadata][readopt]") {
  GuestNetns& ns = Netns();
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  v1::RunInstancesRequest run;
  run.set_user_data("#cloud-config\n");
  const v1::Instance inst = Launch(cloud, run);
  const std::string& id = inst.instance_id();
  const std::string& ip = inst.private_ip_address();
  {
    Imds imds(ns, *host.agent);
    REQUIRE(imds.status().ok());
    REQUIRE(Fetch(imds, ip, "/latest/meta-data/instance-id") == "200 " + id);
  }
  const int starts = host.hypervisor->starts();

  // The controller is away while the agent restarts: the re-adopted guest is served from what
  // the agent kept on disk.
  cloud.StopController();
  cloud.RestartAgent(host);
  {
    Imds imds(ns, *host.agent);
    REQUIRE(imds.status().ok());
    CHECK(Fetch(imds, ip, "/latest/meta-data/instance-id") == "200 " + id);
    CHECK(Fetch(imds, ip, "/latest/user-data") == "200 #cloud-config\n");
    CHECK(Fetch(imds, ip, "/latest/meta-data/local-ipv4") == "200 " + ip);
  }
  CHECK(host.hypervisor->starts() == starts);  // re-adopted, not rebooted

  // Back with the controller, changes flow to the re-adopted guest's record.
  cloud.RestartController();
  v1::InstanceMetadataOptions o;
  o.set_http_tokens(v1::HTTP_TOKENS_REQUIRED);
  REQUIRE(ModifyOptions(cloud, id, o).ok());
  Imds imds(ns, *host.agent);
  REQUIRE(imds.status().ok());
  CHECK(TestCloud::Eventually(
      [&] { return Fetch(imds, ip, "/latest/meta-data/instance-id") == "401"; }));
  CHECK(Fetch(imds, ip, "/latest/meta-data/instance-id", imds.Token(ip)) == "200 " + id);
}

TEST_CASE("a guest that powers itself off after an agent restart stays off",
          "[integration][readopt]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  v1::RunInstancesRequest run;
  run.set_image_id(cloud.controller().RegisterImage());
  run.set_instance_type("t3.micro");
  run.set_min_count(1);
  run.set_max_count(1);
  const auto res = Call(cloud, "RunInstances", &v1::ComputeService::Stub::RunInstances, run);
  const std::string id = res.instances(0).instance_id();
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));
  const int starts = host.hypervisor->starts();

  // Whenever the restarted agent hears from the controller (before or after the power-off), the
  // desired state still says "running, boot 1": only the boot count it read back from disk
  // tells it that this boot already happened.
  cloud.RestartAgent(host);
  REQUIRE(host.hypervisor->SetState(id, hypervisor::DomainState::kShutoff).ok());

  // The controller learns of the shutdown only if the agent does not boot the guest again
  // first: a reboot would keep the instance "running" and bump the start count.
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "stopped"; }));
  CHECK(host.hypervisor->starts() == starts);
  CHECK(host.hypervisor->Get(id)->state == hypervisor::DomainState::kShutoff);
  CHECK(cloud.controller().Describe(id).state_reason().code() ==
        "Client.InstanceInitiatedShutdown");

  // StartInstances asks for a new boot, which the restarted agent does.
  v1::StartInstancesRequest start;
  start.add_instance_ids(id);
  Call(cloud, "StartInstances", &v1::ComputeService::Stub::StartInstances, start);
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));
  CHECK(host.hypervisor->starts() == starts + 1);
}

}  // namespace minicloud
