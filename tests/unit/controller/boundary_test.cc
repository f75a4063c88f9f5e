// What enters the controller from outside is checked where it enters: instance tags (EC2's rules,
// stricter when tags are served in instance metadata), host capacities at registration, and the
// ids agents send with their reports and long-polls.
#include <catch2/catch.hpp>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "common/ec2_error.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud::controller {
namespace {

using testing::ControllerFixture;

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

v1::RunInstancesRequest WithTag(v1::RunInstancesRequest req, const std::string& key,
                                const std::string& value, bool in_metadata) {
  v1::Tag* t = req.add_tags();
  t->set_key(key);
  t->set_value(value);
  req.mutable_metadata_options()->set_instance_metadata_tags(
      in_metadata ? v1::INSTANCE_METADATA_TAGS_ENABLED : v1::INSTANCE_METADATA_TAGS_DISABLED);
  return req;
}

v1::RegisterHostRequest Registration(int32_t vcpus, int64_t memory_mib, int64_t store_gb = 0) {
  v1::RegisterHostRequest req;
  req.set_hostname("host");
  req.set_endpoint("agent:1");
  req.mutable_topology()->set_region("home-1");
  req.mutable_topology()->set_availability_zone("home-1a");
  req.mutable_topology()->set_rack("rack-1");
  req.mutable_capacity()->set_vcpus(vcpus);
  req.mutable_capacity()->set_memory_mib(memory_mib);
  req.mutable_capacity()->set_instance_store_gb(store_gb);
  return req;
}

}  // namespace

TEST_CASE("RunInstances applies EC2's tag rules, in characters", "[compute][tags]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  f.AddHost();
  const std::string cjk = "\xE6\x97\xA5";  // one character, three bytes
  struct Case {
    std::string name;
    std::string key;
    std::string value;
    bool in_metadata;  // InstanceMetadataTags=enabled
    bool accepted;
  };
  const std::vector<Case> cases = {
      {"slash, tags not in metadata", "team/owner", "x", false, true},
      {"slash, tags in metadata", "team/owner", "x", true, false},
      {"space, tags in metadata", "cost center", "x", true, false},
      {"two periods, tags in metadata", "..", "x", true, false},
      {"newline, tags in metadata", "a\nb", "x", true, false},
      {"_index, tags in metadata", "_index", "x", true, false},
      {"allowed punctuation, tags in metadata", "a+b-c=d.e,f_g:h@i", "x", true, true},
      {"128 three-byte characters (384 bytes)", Repeat(cjk, 128), "x", false, true},
      {"129 three-byte characters", Repeat(cjk, 129), "x", false, false},
      {"value of 256 three-byte characters", "k", Repeat(cjk, 256), true, true},
      {"value of 257 characters", "k", std::string(257, 'v'), false, false},
      {"key not UTF-8", "k\xC3", "x", false, false},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      auto resp = f.compute->RunInstances(WithTag(f.Run(image), c.key, c.value, c.in_metadata));
      INFO(resp.status().message());
      CHECK(resp.ok() == c.accepted);
      if (!c.accepted) {
        CHECK(Ec2CodeOf(resp.status()) == "InvalidParameterValue");
        CHECK(f.compute->DescribeInstances({})->reservations_size() == 0);
      }
    }
  }
}

TEST_CASE("tags cannot be put into metadata while a key could not be served there",
          "[compute][tags]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  f.AddHost();
  auto run = f.compute->RunInstances(WithTag(f.Run(image), "team/owner", "x", false));
  REQUIRE(run.ok());
  const std::string id = run->instances(0).instance_id();
  v1::ModifyInstanceMetadataOptionsRequest req;
  req.set_instance_id(id);
  req.mutable_options()->set_instance_metadata_tags(v1::INSTANCE_METADATA_TAGS_ENABLED);
  auto modified = f.compute->ModifyInstanceMetadataOptions(req);
  REQUIRE_FALSE(modified.ok());
  CHECK(Ec2CodeOf(modified.status()) == "InvalidParameterValue");
  CHECK(f.Describe(id).metadata_options().instance_metadata_tags() ==
        v1::INSTANCE_METADATA_TAGS_DISABLED);
  // Other options still change.
  v1::ModifyInstanceMetadataOptionsRequest tokens;
  tokens.set_instance_id(id);
  tokens.mutable_options()->set_http_tokens(v1::HTTP_TOKENS_REQUIRED);
  CHECK(f.compute->ModifyInstanceMetadataOptions(tokens).ok());
}

TEST_CASE("absurd host capacities are refused at registration", "[fleet][capacity]") {
  struct Case {
    std::string name;
    int32_t vcpus;
    int64_t memory_mib;
    int64_t store_gb;
    double cpu_ratio;
    bool accepted;
  };
  const std::vector<Case> cases = {
      {"a homelab host", 16, 65536, 500, 4.0, true},
      {"the largest accepted host", 16384, int64_t{64} << 20, int64_t{1} << 20, 4.0, true},
      {"vCPUs whose product with the ratio overflows an int", std::numeric_limits<int32_t>::max(),
       8192, 0, 4.0, false},
      {"one vCPU too many", 16385, 8192, 0, 4.0, false},
      {"memory beyond 64 TiB", 8, (int64_t{64} << 20) + 1, 0, 1.0, false},
      {"largest int64 memory", 8, std::numeric_limits<int64_t>::max(), 0, 1.0, false},
      {"negative instance store", 8, 8192, -1, 4.0, false},
      {"a sane host times an absurd ratio", 1024, 8192, 0, 1e9, false},
      {"zero vCPUs", 0, 8192, 0, 4.0, false},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      ControllerFixture f;
      f.config.cpu_allocation_ratio = c.cpu_ratio;
      f.Reopen();
      auto resp = f.fleet->RegisterHost(Registration(c.vcpus, c.memory_mib, c.store_gb));
      INFO(resp.status().message());
      CHECK(resp.ok() == c.accepted);
      if (!c.accepted) CHECK(Ec2CodeOf(resp.status()) == "InvalidParameterValue");
      if (c.accepted) {
        // What the host may run is its capacity times the ratio, exactly.
        v1::WatchDesiredRequest watch;
        watch.set_host_id(resp->host_id());
        auto d = f.fleet->WatchDesired(watch);
        REQUIRE(d.ok());
        CHECK(d->allocatable().vcpus() == static_cast<int32_t>(c.vcpus * c.cpu_ratio));
      }
    }
  }
}

TEST_CASE("agents' reports and long-polls with malformed ids are refused", "[fleet][ids]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  const std::string host = f.AddHost();
  auto run = f.compute->RunInstances(f.Run(image));
  REQUIRE(run.ok());
  const std::string id = run->instances(0).instance_id();

  v1::WatchDesiredRequest watch;
  watch.set_host_id("../../h-1");
  CHECK(f.fleet->WatchDesired(watch).status().code() == absl::StatusCode::kInvalidArgument);

  v1::ReportStatusRequest bad_host;
  bad_host.set_host_id("h-1\n");
  CHECK(f.fleet->ReportStatus(bad_host).code() == absl::StatusCode::kInvalidArgument);

  // A malformed entry is skipped; the well-formed ones of the same report still count.
  v1::ReportStatusRequest report;
  report.set_host_id(host);
  auto* bad = report.add_instances();
  bad->set_instance_id("../../victim");
  bad->set_state(v1::OBSERVED_STATE_RUNNING);
  auto* good = report.add_instances();
  good->set_instance_id(id);
  good->set_state(v1::OBSERVED_STATE_RUNNING);
  REQUIRE(f.fleet->ReportStatus(report).ok());
  CHECK(f.Describe(id).state().name() == "running");
}

}  // namespace minicloud::controller
