// Metadata entering the agent: the pure mapping of a desired instance onto what the metadata
// service serves (ToInstanceMetadata), the hop limit down to the TTL of a real server's token
// reply, and the agent's edge check (ValidateInstanceMetadata) on every path a desired record
// comes in by: a launch, a desired-state refresh, and re-adoption from disk at start.
#include "agent/runtime/guest_metadata.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/hypervisor/fake/fake_hypervisor.h"
#include "agent/network/fake/fake_host_network.h"
#include "agent/runtime/agent.h"
#include "common/storage/image_cache.h"
#include "common/storage/sha256.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/metadata/http_client.h"
#include "tests/unit/metadata/server_fixture.h"

namespace minicloud::agent {
namespace {

using minicloud::testing::TempDir;

// A desired instance as the controller sends it, with a network so it gets metadata.
class WantBuilder {
 public:
  WantBuilder() {
    w_.set_instance_id("i-00000000000000001");
    w_.set_goal(v1::DESIRED_GOAL_RUNNING);
    w_.set_vcpus(1);
    w_.set_memory_mib(256);
    w_.set_smbios_uuid("ec2a0b1c-0000-4000-8000-000000000001");
    w_.set_instance_type("t3.micro");
    w_.set_boot_count(1);
    auto* n = w_.mutable_network();
    n->set_private_ip("10.0.0.4");
    n->set_mac("02:00:0a:00:00:04");
    n->set_subnet_cidr("10.0.0.0/24");
    n->set_private_dns_name("ip-10-0-0-4.home-1.compute.internal");
    auto* m = w_.mutable_metadata();
    m->set_image_id("ami-00000000000000001");
    m->set_region("home-1");
    m->set_availability_zone("home-1a");
    m->set_architecture("x86_64");
    m->set_root_device_name("/dev/xvda");
    m->set_vpc_cidr("10.0.0.0/16");
    m->set_http_tokens(v1::HTTP_TOKENS_OPTIONAL);
    m->set_http_endpoint(v1::HTTP_ENDPOINT_ENABLED);
    m->set_instance_metadata_tags(v1::INSTANCE_METADATA_TAGS_DISABLED);
    m->set_hop_limit(1);
  }
  WantBuilder& Id(const std::string& id) {
    w_.set_instance_id(id);
    return *this;
  }
  WantBuilder& Ip(const std::string& ip) {
    w_.mutable_network()->set_private_ip(ip);
    return *this;
  }
  WantBuilder& HopLimit(int hops) {
    w_.mutable_metadata()->set_hop_limit(hops);
    return *this;
  }
  WantBuilder& Image(const std::string& sha256, int64_t size) {
    w_.mutable_image()->set_sha256(sha256);
    w_.mutable_image()->set_size_bytes(size);
    return *this;
  }
  v1::DesiredInstance Build() const { return w_; }

 private:
  v1::DesiredInstance w_;
};
WantBuilder MakeWant() { return WantBuilder(); }

// A controller that answers from a script: Watch hands out the current desired state (blocking
// until it differs from what the agent knows, or max_wait); every report is kept.
class ScriptedController : public ControllerLink {
 public:
  absl::StatusOr<v1::RegisterHostResponse> Register(const v1::RegisterHostRequest&) override {
    v1::RegisterHostResponse r;
    r.set_host_id("h-00000000000000001");
    r.set_report_interval_ms(50);
    return r;
  }
  absl::Status Report(const v1::ReportStatusRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    reports_.push_back(req);
    cv_.notify_all();
    return absl::OkStatus();
  }
  absl::StatusOr<v1::DesiredState> Watch(const v1::WatchDesiredRequest& req) override {
    std::unique_lock<std::mutex> lock(mu_);
    known_ = req.known_generation();
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::milliseconds(req.max_wait_ms()),
                 [&] { return desired_.generation() != req.known_generation(); });
    return desired_;
  }
  absl::Status FetchBlob(const v1::FetchBlobRequest& req,
                         const std::function<absl::Status(absl::string_view)>&) override {
    return absl::NotFoundError(absl::StrCat("no blob ", req.sha256(), " in this test"));
  }

  // Publishes a new desired state (generation = previous + 1) with `instances`.
  uint64_t SetDesired(const std::vector<v1::DesiredInstance>& instances) {
    std::lock_guard<std::mutex> lock(mu_);
    v1::DesiredState d;
    d.set_generation(desired_.generation() + 1);
    d.mutable_allocatable()->set_vcpus(8);
    d.mutable_allocatable()->set_memory_mib(8192);
    for (const auto& i : instances) *d.add_instances() = i;
    desired_ = std::move(d);
    cv_.notify_all();
    return desired_.generation();
  }
  // Waits until the agent has taken in `generation` (its next Watch names it as known).
  bool AwaitKnown(uint64_t generation) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return known_ == generation; });
  }
  // Waits for a report of `id` in `state`; returns its message.
  std::optional<std::string> AwaitReport(const std::string& id, v1::ObservedState state) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<std::string> message;
    cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      for (const auto& r : reports_) {
        for (const auto& o : r.instances()) {
          if (o.instance_id() == id && o.state() == state) message = o.message();
        }
      }
      return message.has_value();
    });
    return message;
  }
  // Whether any report so far mentioned `id`.
  bool EverReported(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : reports_) {
      for (const auto& o : r.instances()) {
        if (o.instance_id() == id) return true;
      }
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  v1::DesiredState desired_;
  uint64_t known_ = 0;
  std::vector<v1::ReportStatusRequest> reports_;
};

AgentConfig TestConfig(const std::string& state_dir) {
  AgentConfig c;
  c.state_dir = state_dir;
  c.hostname = "unit";
  c.topology.set_region("home-1");
  c.topology.set_availability_zone("home-1a");
  c.topology.set_rack("r1");
  c.capacity.set_vcpus(8);
  c.capacity.set_memory_mib(8192);
  c.watch_wait_ms = 200;
  c.retry_ms = 20;
  return c;
}

NetworkFactory FakeNetworks() {
  return [](const std::string& subnet,
            const std::string&) -> absl::StatusOr<std::unique_ptr<network::HostNetwork>> {
    return std::make_unique<network::FakeHostNetwork>("br-unit", subnet);
  };
}

// What an agent that launched `want` earlier left on its host: a running domain and the
// instance directory with the desired record it was launched with.
void LeaveRunningGuest(hypervisor::FakeHypervisor& hv, const std::string& state_dir,
                       const v1::DesiredInstance& want) {
  const std::string dir = absl::StrCat(state_dir, "/instances/", want.instance_id());
  std::filesystem::create_directories(dir);
  std::ofstream out(dir + "/desired.pb", std::ios::binary);
  REQUIRE(want.SerializeToOstream(&out));
  std::ofstream(dir + "/boot_count") << want.boot_count() << "\n";
  hypervisor::DomainSpec spec;
  spec.instance_id = want.instance_id();
  spec.smbios_uuid = want.smbios_uuid();
  spec.smbios_serial = want.smbios_uuid();
  spec.vcpus = want.vcpus();
  spec.memory_mib = want.memory_mib();
  spec.root_disk = dir + "/root.qcow2";
  REQUIRE(hv.CreateAndStart(spec).ok());
}

}  // namespace

TEST_CASE("hop limit: desired state -> served record -> edge check -> TTL of the token reply",
          "[agent][metadata][hop]") {
  struct Row {
    int desired;  // DesiredInstance.metadata.hop_limit (the controller always sets it)
    int served;   // InstanceMetadata.options.http_put_response_hop_limit
    bool valid;   // ValidateInstanceMetadata accepts it
  };
  const Row rows[] = {
      {0, 0, false}, {1, 1, true}, {2, 2, true}, {64, 64, true}, {65, 65, false}, {-1, -1, false},
  };
  for (const Row& row : rows) {
    INFO("desired hop limit " << row.desired);
    const metadata::InstanceMetadata m =
        ToInstanceMetadata(MakeWant().HopLimit(row.desired).Build()).value();
    CHECK(m.options.http_put_response_hop_limit == row.served);
    const absl::Status valid = metadata::ValidateInstanceMetadata(m);
    CHECK(valid.ok() == row.valid);
    if (!row.valid) {
      CHECK(valid.code() == absl::StatusCode::kInvalidArgument);
      CHECK_THAT(std::string(valid.message()),
                 Catch::Matchers::Contains(
                     absl::StrCat("http_put_response_hop_limit ", row.served, " outside 1..64")));
      continue;
    }
    // The real server puts the record's hop limit on the token reply's socket.
    metadata::testing::ServerFixture f(
        {{"127.0.0.1", std::make_shared<const metadata::InstanceMetadata>(m)}});
    REQUIRE(f.start_status().ok());
    metadata::testing::HttpConn c(f.host(), f.port());
    auto t =
        c.Request("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}});
    REQUIRE(t);
    REQUIRE(t->status == 200);
    const metadata::ServedEvent put =
        f.WaitFor([](const metadata::ServedEvent& e) { return e.method == "PUT"; });
    CHECK(put.ttl_requested == row.served);
    CHECK(put.ttl_on_socket == row.served);
  }
}

TEST_CASE("the edge check on a desired record: user data and partition limits",
          "[agent][metadata][edge]") {
  struct Row {
    const char* name;
    std::function<void(v1::GuestMetadata&)> edit;
    std::string error;  // empty = accepted
  };
  const Row rows[] = {
      {"user data of 16384 bytes",
       [](auto& g) {
         g.set_has_user_data(true);
         g.set_user_data(std::string(16384, 'u'));
       },
       ""},
      {"user data of 16385 bytes",
       [](auto& g) {
         g.set_has_user_data(true);
         g.set_user_data(std::string(16385, 'u'));
       },
       "user data is 16385 bytes, EC2 allows 16384"},
      {"partition 7",
       [](auto& g) {
         g.set_placement_group("p");
         g.set_partition_number(7);
       },
       ""},
      {"partition 8",
       [](auto& g) {
         g.set_placement_group("p");
         g.set_partition_number(8);
       },
       "partition number 8 outside 1..7"},
      {"key name with a newline", [](auto& g) { g.set_key_name("a\nb"); }, "bad public key name"},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    v1::DesiredInstance want = MakeWant().Build();
    row.edit(*want.mutable_metadata());
    const absl::Status s = metadata::ValidateInstanceMetadata(ToInstanceMetadata(want).value());
    if (row.error.empty()) {
      CHECK(s.ok());
      continue;
    }
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(s.message()), Catch::Matchers::Contains(row.error));
    CHECK_THAT(std::string(s.message()), Catch::Matchers::Contains("i-00000000000000001"));
  }
}

TEST_CASE("ToInstanceMetadata: what the guest is told comes from the desired record",
          "[agent][metadata]") {
  v1::DesiredInstance want = MakeWant().Build();
  auto* g = want.mutable_metadata();
  g->set_has_user_data(true);
  g->set_user_data(std::string("a\0b", 3));
  g->set_key_name("laptop");
  g->set_public_key("ssh-ed25519 AAAA laptop");
  (*g->mutable_tags())["Name"] = "web";
  g->set_instance_metadata_tags(v1::INSTANCE_METADATA_TAGS_ENABLED);
  g->set_http_tokens(v1::HTTP_TOKENS_REQUIRED);
  g->set_http_endpoint(v1::HTTP_ENDPOINT_DISABLED);
  g->set_placement_group("racks");
  g->set_partition_number(3);
  for (const char* dev : {"sdb", "sdc"}) {
    auto* d = want.add_instance_store();
    d->set_virtual_name(absl::StrCat("ephemeral", want.instance_store_size() - 1));
    d->set_device_name(dev);
    d->set_size_gb(300);
  }
  const metadata::InstanceMetadata m = ToInstanceMetadata(want).value();
  CHECK(m.instance_id == "i-00000000000000001");
  CHECK(m.local_ipv4 == "10.0.0.4");
  CHECK(m.availability_zone == "home-1a");
  CHECK(m.user_data == std::string("a\0b", 3));
  REQUIRE(m.public_keys.size() == 1);
  CHECK(m.public_keys[0].name == "laptop");
  CHECK(m.public_keys[0].openssh_key == "ssh-ed25519 AAAA laptop");
  CHECK(m.tags.at("Name") == "web");
  CHECK(m.options.instance_metadata_tags == metadata::InstanceMetadataTags::kEnabled);
  CHECK(m.options.http_tokens == metadata::HttpTokens::kRequired);
  CHECK(m.options.http_endpoint == metadata::HttpEndpoint::kDisabled);
  CHECK(m.placement_group_name == "racks");
  CHECK(m.placement_partition_number == 3);
  // Would catch: instance-store volumes dropped or renamed on the way to IMDS.
  REQUIRE(m.block_device_mapping.ephemeral.size() == 2);
  CHECK(m.block_device_mapping.ephemeral[0].virtual_name == "ephemeral0");
  CHECK(m.block_device_mapping.ephemeral[0].device_name == "sdb");
  CHECK(m.block_device_mapping.ephemeral[1].virtual_name == "ephemeral1");
  CHECK(m.block_device_mapping.ephemeral[1].device_name == "sdc");

  // Empty user data that was set is served (empty); unset user data is absent (404).
  g->set_user_data("");
  CHECK(ToInstanceMetadata(want)->user_data == std::string());
  g->set_has_user_data(false);
  CHECK_FALSE(ToInstanceMetadata(want)->user_data.has_value());
}

// The agent adds nothing of its own: each value the guest sees is the controller's, verbatim,
// and a value the controller did not decide is refused rather than defaulted.
TEST_CASE("ToInstanceMetadata adds no defaults of its own", "[agent][metadata]") {
  struct Row {
    const char* name;  // and the one-line bug the row catches
    std::function<void(v1::GuestMetadata&)> edit;
    std::function<bool(const metadata::InstanceMetadata&)> served;  // null: refused
  };
  const Row rows[] = {
      // A hard-coded VPC block (the agent's old "172.31.0.0/16") would not follow the controller.
      {"VPC CIDR from the controller", [](auto& g) { g.set_vpc_cidr("192.168.0.0/16"); },
       [](const auto& m) { return m.vpc_ipv4_cidr_block == "192.168.0.0/16"; }},
      // An id invented on the agent ("sg-default") instead of the controller's.
      {"security group id and name from the controller",
       [](auto& g) {
         auto* sg = g.add_security_groups();
         sg->set_group_id("sg-0123");
         sg->set_group_name("web");
       },
       [](const auto& m) {
         return m.security_groups.size() == 1 && m.security_groups[0].id == "sg-0123" &&
                m.security_groups[0].name == "web";
       }},
      // An agent fallback to "x86_64" would hide a controller that sent another architecture.
      {"architecture from the controller", [](auto& g) { g.set_architecture("arm64"); },
       [](const auto& m) { return m.architecture == "arm64"; }},
      {"root device from the controller", [](auto& g) { g.set_root_device_name("/dev/sda1"); },
       [](const auto& m) {
         return m.block_device_mapping.root == "/dev/sda1" &&
                m.block_device_mapping.ami == "/dev/sda1";
       }},
      // Defaulting UNSPECIFIED to "optional" on the agent would serve IMDSv1 the controller
      // never chose.
      {"unspecified HttpTokens refused",
       [](auto& g) { g.set_http_tokens(v1::HTTP_TOKENS_UNSPECIFIED); }, nullptr},
      {"unspecified HttpEndpoint refused",
       [](auto& g) { g.set_http_endpoint(v1::HTTP_ENDPOINT_UNSPECIFIED); }, nullptr},
      {"unspecified InstanceMetadataTags refused",
       [](auto& g) { g.set_instance_metadata_tags(v1::INSTANCE_METADATA_TAGS_UNSPECIFIED); },
       nullptr},
      {"unknown HttpTokens number refused",
       [](auto& g) { g.set_http_tokens(static_cast<v1::HttpTokens>(9)); }, nullptr},
      {"HttpTokens required", [](auto& g) { g.set_http_tokens(v1::HTTP_TOKENS_REQUIRED); },
       [](const auto& m) { return m.options.http_tokens == metadata::HttpTokens::kRequired; }},
      {"HttpTokens optional", [](auto& g) { g.set_http_tokens(v1::HTTP_TOKENS_OPTIONAL); },
       [](const auto& m) { return m.options.http_tokens == metadata::HttpTokens::kOptional; }},
      {"HttpEndpoint enabled", [](auto& g) { g.set_http_endpoint(v1::HTTP_ENDPOINT_ENABLED); },
       [](const auto& m) { return m.options.http_endpoint == metadata::HttpEndpoint::kEnabled; }},
      {"tags disabled",
       [](auto& g) { g.set_instance_metadata_tags(v1::INSTANCE_METADATA_TAGS_DISABLED); },
       [](const auto& m) {
         return m.options.instance_metadata_tags == metadata::InstanceMetadataTags::kDisabled;
       }},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    v1::DesiredInstance want = MakeWant().Build();
    row.edit(*want.mutable_metadata());
    const absl::StatusOr<metadata::InstanceMetadata> m = ToInstanceMetadata(want);
    if (row.served == nullptr) {
      CHECK(m.status().code() == absl::StatusCode::kInvalidArgument);
      CHECK_THAT(std::string(m.status().message()),
                 Catch::Matchers::Contains("i-00000000000000001"));
      continue;
    }
    REQUIRE(m.ok());
    CHECK(row.served(*m));
  }
}

TEST_CASE("tag keys served in instance metadata are checked again on the agent",
          "[agent][metadata][tags]") {
  struct Row {
    std::string key;
    v1::InstanceMetadataTags option;
    bool accepted;
  };
  const Row rows[] = {
      {"Name", v1::INSTANCE_METADATA_TAGS_ENABLED, true},
      {"team/owner", v1::INSTANCE_METADATA_TAGS_ENABLED, false},
      {"..", v1::INSTANCE_METADATA_TAGS_ENABLED, false},
      {"a\nb", v1::INSTANCE_METADATA_TAGS_ENABLED, false},
      {"team/owner", v1::INSTANCE_METADATA_TAGS_DISABLED, true},  // not served: not a path
  };
  for (const Row& row : rows) {
    INFO(row.key << " " << v1::InstanceMetadataTags_Name(row.option));
    v1::DesiredInstance want = MakeWant().Build();
    (*want.mutable_metadata()->mutable_tags())[row.key] = "x";
    want.mutable_metadata()->set_instance_metadata_tags(row.option);
    CHECK(ToInstanceMetadata(want).ok() == row.accepted);
  }
}

TEST_CASE("the agent refuses a desired record the metadata service cannot serve",
          "[agent][metadata][edge]") {
  TempDir state;
  hypervisor::FakeHypervisor hv;
  ScriptedController ctl;

  // Re-adoption from disk: the good record is served at once, the bad one never.
  const v1::DesiredInstance good = MakeWant().Id("i-0000000000000000a").Ip("10.0.0.4").Build();
  const v1::DesiredInstance bad =
      MakeWant().Id("i-0000000000000000b").Ip("10.0.0.5").HopLimit(65).Build();
  LeaveRunningGuest(hv, state.path(), good);
  LeaveRunningGuest(hv, state.path(), bad);
  Agent agent(TestConfig(state.path()), hv, ctl, RealClock::Get(), FakeNetworks());
  REQUIRE(agent.Start().ok());
  REQUIRE(agent.MetadataFor("10.0.0.4") != nullptr);
  CHECK(agent.MetadataFor("10.0.0.4")->instance_id == "i-0000000000000000a");
  CHECK(agent.MetadataFor("10.0.0.5") == nullptr);

  // A refresh from the controller with a bad record keeps what was served before.
  uint64_t g = ctl.SetDesired(
      {MakeWant().Id("i-0000000000000000a").Ip("10.0.0.4").HopLimit(65).Build(), bad});
  REQUIRE(ctl.AwaitKnown(g));
  REQUIRE(agent.MetadataFor("10.0.0.4") != nullptr);
  CHECK(agent.MetadataFor("10.0.0.4")->options.http_put_response_hop_limit == 1);

  // ... and a good refresh replaces it (the refresh path is live).
  g = ctl.SetDesired(
      {MakeWant().Id("i-0000000000000000a").Ip("10.0.0.4").HopLimit(5).Build(), bad});
  REQUIRE(ctl.AwaitKnown(g));
  REQUIRE(agent.MetadataFor("10.0.0.4") != nullptr);
  CHECK(agent.MetadataFor("10.0.0.4")->options.http_put_response_hop_limit == 5);
  CHECK(agent.MetadataFor("10.0.0.5") == nullptr);
  agent.Stop();
}

TEST_CASE("a launch whose metadata is refused fails with the reason and leaves nothing",
          "[agent][metadata][edge]") {
  TempDir state;
  // The AMI is already in the host's image cache (a real qcow2), so nothing is fetched.
  const std::string ami = state / "ami.qcow2";
  REQUIRE(std::system(absl::StrCat("qemu-img create -q -f qcow2 ", ami, " 16M").c_str()) == 0);
  const auto sha = storage::Sha256FileHex(ami);
  REQUIRE(sha.ok());
  std::ifstream in(ami, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  {
    auto cache = storage::ImageCache::Open(state / "images");
    REQUIRE(cache.ok());
    auto w = cache->BeginWrite(*sha);
    REQUIRE(w.ok());
    REQUIRE(w->Append(bytes).ok());
    REQUIRE(w->Commit().ok());
  }
  hypervisor::FakeHypervisor hv;
  ScriptedController ctl;
  Agent agent(TestConfig(state.path()), hv, ctl, RealClock::Get(), FakeNetworks());
  REQUIRE(agent.Start().ok());

  const std::string id = "i-0000000000000000c";
  ctl.SetDesired({MakeWant()
                      .Id(id)
                      .Ip("10.0.0.6")
                      .HopLimit(65)
                      .Image(*sha, static_cast<int64_t>(bytes.size()))
                      .Build()});
  const auto failed = ctl.AwaitReport(id, v1::OBSERVED_STATE_FAILED);
  REQUIRE(failed.has_value());
  CHECK_THAT(*failed, Catch::Matchers::Contains("http_put_response_hop_limit 65 outside 1..64"));
  CHECK(hv.create_calls() == 0);
  CHECK(agent.MetadataFor("10.0.0.6") == nullptr);
  CHECK_FALSE(std::filesystem::exists(agent.InstanceDir(id).value()));
  agent.Stop();
}

TEST_CASE("an instance id from the controller never leads outside the state directory",
          "[agent][edge][paths]") {
  // root/state is the agent's state directory; root/victim is what `../../victim` names from
  // root/state/instances. The failed-launch path deletes the instance directory.
  TempDir root;
  const std::string state_dir = root / "state";
  std::filesystem::create_directories(root / "victim");
  std::ofstream(root / "victim/keep") << "precious\n";
  hypervisor::FakeHypervisor hv;
  ScriptedController ctl;
  Agent agent(TestConfig(state_dir), hv, ctl, RealClock::Get(), FakeNetworks());
  REQUIRE(agent.Start().ok());

  // Both launches fail at once (the controller has no such blob), which runs the cleanup path.
  const std::string sha(64, 'a');
  const std::string good = "i-0000000000000000d";
  ctl.SetDesired({MakeWant().Id("../../victim").Ip("10.0.0.7").Image(sha, 1).Build(),
                  MakeWant().Id(good).Ip("10.0.0.8").Image(sha, 1).Build()});
  REQUIRE(ctl.AwaitReport(good, v1::OBSERVED_STATE_FAILED).has_value());
  agent.Stop();  // waits for every launch worker

  CHECK(std::filesystem::exists(root / "victim/keep"));
  CHECK_FALSE(ctl.EverReported("../../victim"));
  CHECK(hv.create_calls() == 0);
  // The agent's own gRPC surface refuses such an id as malformed, not as unknown.
  CHECK(agent.ConsoleOutput("../../victim", 100).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(agent.InstanceDir("../../victim").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(agent.InstanceDir(good).value() == state_dir + "/instances/" + good);
  // A plain name that is no instance id is refused too (the id check, not only the path check).
  CHECK(agent.InstanceDir("victim").status().code() == absl::StatusCode::kInvalidArgument);
  // A well-formed id whose directory is a link out of the state directory is refused (the path
  // check, not only the id check).
  const std::string linked = "i-0000000000000000e";
  std::filesystem::create_directory_symlink(root / "victim", state_dir + "/instances/" + linked);
  CHECK(agent.InstanceDir(linked).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace minicloud::agent
