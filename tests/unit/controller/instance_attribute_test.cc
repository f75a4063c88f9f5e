// The instance attribute verbs at the controller (ModifyInstanceAttribute,
// DescribeInstanceAttribute, ModifyInstanceMetadataOptions) through ComputeService over a real
// RocksDB store with a fake clock: which states allow them, the limits, the errors EC2 gives,
// what the host's agent is handed, and what a restarted controller still knows.
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "common/ec2_error.h"
#include "controller/service/compute_service.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud::controller {
namespace {

using testing::ControllerFixture;

// One instance on one host, driven into the state a test needs by the same API calls and agent
// reports the real system makes.
struct Cloud {
  ControllerFixture f;
  std::string host = f.AddHost();
  std::string image = f.RegisterImage();

  std::string Launch(const std::string& user_data = "") {
    v1::RunInstancesRequest req = f.Run(image);
    req.set_user_data(user_data);
    auto res = f.compute->RunInstances(req);
    REQUIRE(res.ok());
    return res->instances(0).instance_id();
  }
  void Report(const std::string& id, v1::ObservedState s) { REQUIRE(f.Report(host, id, s).ok()); }
  void Stop(const std::string& id) {
    v1::StopInstancesRequest req;
    req.add_instance_ids(id);
    REQUIRE(f.compute->StopInstances(req).ok());
  }
  void Terminate(const std::string& id) {
    v1::TerminateInstancesRequest req;
    req.add_instance_ids(id);
    REQUIRE(f.compute->TerminateInstances(req).ok());
  }
  // An instance in `state` (EC2's name).
  std::string InState(const std::string& state) {
    const std::string id = Launch("original");
    if (state == "pending") return id;
    Report(id, v1::OBSERVED_STATE_RUNNING);
    if (state == "running") return id;
    if (state == "shutting-down" || state == "terminated") {
      Terminate(id);
      if (state == "terminated") Report(id, v1::OBSERVED_STATE_ABSENT);
      return id;
    }
    Stop(id);
    if (state == "stopped") Report(id, v1::OBSERVED_STATE_SHUTOFF);
    return id;
  }

  absl::Status SetUserData(const std::string& id, const std::string& bytes) {
    v1::ModifyInstanceAttributeRequest req;
    req.set_instance_id(id);
    req.set_set_user_data(true);
    req.set_user_data(bytes);
    return f.compute->ModifyInstanceAttribute(req).status();
  }
  absl::StatusOr<v1::DescribeInstanceAttributeResponse> UserData(const std::string& id) {
    v1::DescribeInstanceAttributeRequest req;
    req.set_instance_id(id);
    req.set_attribute("userData");
    return f.compute->DescribeInstanceAttribute(req);
  }
  absl::StatusOr<v1::ModifyInstanceMetadataOptionsResponse> SetOptions(
      const std::string& id, const v1::InstanceMetadataOptions& o) {
    v1::ModifyInstanceMetadataOptionsRequest req;
    req.set_instance_id(id);
    *req.mutable_options() = o;
    return f.compute->ModifyInstanceMetadataOptions(req);
  }
  // What the instance's agent is handed now (its record in the host's desired state).
  v1::DesiredInstance Desired(const std::string& id) {
    v1::WatchDesiredRequest req;
    req.set_host_id(host);
    req.set_max_wait_ms(0);
    auto d = f.fleet->WatchDesired(req);
    REQUIRE(d.ok());
    for (const auto& i : d->instances()) {
      if (i.instance_id() == id) return i;
    }
    FAIL("no desired record for " << id);
    return {};
  }
  uint64_t Generation() {
    v1::WatchDesiredRequest req;
    req.set_host_id(host);
    req.set_max_wait_ms(0);
    return f.fleet->WatchDesired(req)->generation();
  }
};

v1::InstanceMetadataOptions HopLimit(int hops) {
  v1::InstanceMetadataOptions o;
  o.set_http_put_response_hop_limit(hops);
  return o;
}

const char* const kStates[] = {"pending", "running",       "stopping",
                               "stopped", "shutting-down", "terminated"};

}  // namespace

TEST_CASE("user data changes only while the instance is stopped", "[controller][attribute]") {
  for (const char* state : kStates) {
    INFO(state);
    Cloud c;
    const std::string id = c.InState(state);
    REQUIRE(c.f.Describe(id).state().name() == state);
    const absl::Status s = c.SetUserData(id, "changed");
    if (std::string(state) == "stopped") {
      CHECK(s.ok());
      CHECK(c.UserData(id)->user_data() == "changed");
      continue;
    }
    CHECK(Ec2CodeOf(s) == "IncorrectInstanceState");
    CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
    CHECK(std::string(s.message()) == "The instance '" + id + "' is not in the 'stopped' state.");
    CHECK(c.UserData(id)->user_data() == "original");
  }
}

TEST_CASE("user data is limited to 16 KiB of raw bytes", "[controller][attribute]") {
  Cloud c;
  const std::string id = c.InState("stopped");
  struct Row {
    size_t bytes;
    bool ok;
  };
  for (const Row row : {Row{16384, true}, Row{16385, false}, Row{0, true}, Row{1, true}}) {
    INFO(row.bytes << " bytes");
    const std::string data(row.bytes, 'u');
    const absl::Status s = c.SetUserData(id, data);
    CHECK(s.ok() == row.ok);
    if (!row.ok) {
      CHECK(Ec2CodeOf(s) == "InvalidParameterValue");
      CHECK(std::string(s.message()) == "User data is limited to 16384 bytes; got 16385");
      CHECK(c.UserData(id)->user_data().size() == 16384);  // the last good value stays
      continue;
    }
    CHECK(c.UserData(id)->user_data() == data);
  }
}

TEST_CASE("user data travels as raw bytes: no base64 at this API", "[controller][attribute]") {
  // The gRPC API carries user data unencoded (the CLI and the Query API edge decode base64).
  // So base64-looking text is stored as given, binary survives, and the limit counts raw bytes:
  // 16384 raw bytes are accepted although their base64 form has 21848 characters.
  Cloud c;
  const std::string id = c.InState("stopped");
  const std::string rows[] = {
      "IyEvYmluL3NoCmVjaG8gaGkK",  // base64 of a script: kept as this text, not decoded
      std::string("\x00\xff\x80\n\r\x1b", 6),
      std::string(16384, '\xff'),
  };
  for (const std::string& bytes : rows) {
    INFO(bytes.size() << " bytes");
    REQUIRE(c.SetUserData(id, bytes).ok());
    auto got = c.UserData(id);
    REQUIRE(got.ok());
    CHECK(got->has_user_data());
    CHECK(got->user_data() == bytes);
    CHECK(c.Desired(id).metadata().user_data() == bytes);  // what the guest will be served
  }

  // Setting empty user data removes it: Describe says there is none and the guest gets 404.
  REQUIRE(c.SetUserData(id, "").ok());
  CHECK_FALSE(c.UserData(id)->has_user_data());
  CHECK_FALSE(c.Desired(id).metadata().has_user_data());

  // A modification that names no attribute is refused.
  v1::ModifyInstanceAttributeRequest none;
  none.set_instance_id(id);
  none.set_user_data("ignored");
  CHECK(Ec2CodeOf(c.f.compute->ModifyInstanceAttribute(none).status()) == "MissingParameter");
  CHECK_FALSE(c.UserData(id)->has_user_data());
}

TEST_CASE("attribute verbs reject unknown and malformed instance ids", "[controller][attribute]") {
  Cloud c;
  c.InState("stopped");
  struct Row {
    std::string id;
    std::string code;
  };
  const Row rows[] = {
      {"i-0000000000000dead", "InvalidInstanceID.NotFound"},
      {"i-0000dead", "InvalidInstanceID.NotFound"},  // the short form of older ids
      {"i-00000000000000000000", "InvalidInstanceID.Malformed"},
      {"", "InvalidInstanceID.Malformed"},
      {"i-", "InvalidInstanceID.Malformed"},
      {"i-nothex", "InvalidInstanceID.Malformed"},
      {"ami-0123456789abcdef0", "InvalidInstanceID.Malformed"},
      {"I-0123456789ABCDEF0", "InvalidInstanceID.Malformed"},
  };
  for (const Row& row : rows) {
    INFO("'" << row.id << "'");
    CHECK(Ec2CodeOf(c.SetUserData(row.id, "x")) == row.code);
    CHECK(Ec2CodeOf(c.UserData(row.id).status()) == row.code);
    CHECK(Ec2CodeOf(c.SetOptions(row.id, HopLimit(2)).status()) == row.code);
  }
}

TEST_CASE("DescribeInstanceAttribute knows userData only", "[controller][attribute]") {
  Cloud c;
  const std::string id = c.Launch("data");
  for (const char* attribute :
       {"", "userdata", "UserData", "instanceType", "kernel", "user_data"}) {
    INFO("'" << attribute << "'");
    v1::DescribeInstanceAttributeRequest req;
    req.set_instance_id(id);
    req.set_attribute(attribute);
    const absl::Status s = c.f.compute->DescribeInstanceAttribute(req).status();
    CHECK(Ec2CodeOf(s) == "InvalidParameterValue");
    CHECK(std::string(s.message()) ==
          absl::StrCat("Value (", attribute, ") for parameter attribute is invalid."));
  }
  auto got = c.UserData(id);
  REQUIRE(got.ok());
  CHECK(got->instance_id() == id);
  CHECK(got->has_user_data());
  CHECK(got->user_data() == "data");
  // An instance launched without user data has none (not an empty value).
  auto none = c.UserData(c.Launch());
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_user_data());
}

TEST_CASE("metadata options change in every state but shutting-down and terminated",
          "[controller][attribute][metadata-options]") {
  for (const char* state : kStates) {
    INFO(state);
    Cloud c;
    const std::string id = c.InState(state);
    const bool allowed =
        std::string(state) != "shutting-down" && std::string(state) != "terminated";
    v1::InstanceMetadataOptions o;
    o.set_http_tokens(v1::HTTP_TOKENS_REQUIRED);
    auto r = c.SetOptions(id, o);
    CHECK(r.ok() == allowed);
    if (allowed) {
      CHECK(r->instance_id() == id);
      CHECK(r->instance_metadata_options().http_tokens() == v1::HTTP_TOKENS_REQUIRED);
      CHECK(c.f.Describe(id).metadata_options().http_tokens() == v1::HTTP_TOKENS_REQUIRED);
    } else {
      CHECK(Ec2CodeOf(r.status()) == "IncorrectInstanceState");
      CHECK(c.f.Describe(id).metadata_options().http_tokens() == v1::HTTP_TOKENS_OPTIONAL);
    }
  }
}

TEST_CASE("ResolveMetadataOptions: hop limit 1..64, 0 keeps the current value",
          "[controller][metadata-options][hop]") {
  v1::InstanceMetadataOptions base = DefaultMetadataOptions();
  base.set_http_put_response_hop_limit(5);
  struct Row {
    int requested;
    int want;  // 0 = rejected
  };
  const Row rows[] = {{0, 5}, {1, 1}, {2, 2}, {64, 64}, {65, 0}, {-1, 0}, {1000, 0}};
  for (const Row& row : rows) {
    INFO("requested " << row.requested);
    auto got = ResolveMetadataOptions(HopLimit(row.requested), base);
    if (row.want != 0) {
      REQUIRE(got.ok());
      CHECK(got->http_put_response_hop_limit() == row.want);
      CHECK(got->http_tokens() == v1::HTTP_TOKENS_OPTIONAL);  // the rest is untouched
      continue;
    }
    CHECK(Ec2CodeOf(got.status()) == "InvalidParameterValue");
    CHECK(got.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(got.status().message()) ==
          absl::StrCat("Value (", row.requested,
                       ") for parameter HttpPutResponseHopLimit is invalid. Expected 1-64."));
  }
  // Defaults when nothing is asked for: EC2's hop limit 1.
  CHECK(ResolveMetadataOptions({}, DefaultMetadataOptions())->http_put_response_hop_limit() == 1);
}

TEST_CASE("the hop limit goes from ModifyInstanceMetadataOptions into the agent's desired record",
          "[controller][metadata-options][hop]") {
  Cloud c;
  const std::string id = c.InState("running");
  CHECK(c.Desired(id).metadata().hop_limit() == 1);  // RunInstances' default
  struct Row {
    int requested;
    int want;  // what the agent is handed afterwards
    bool ok;
  };
  const Row rows[] = {{2, 2, true},   {64, 64, true}, {0, 64, true}, {1, 1, true},
                      {65, 1, false}, {-1, 1, false}, {3, 3, true}};
  for (const Row& row : rows) {
    INFO("requested " << row.requested);
    const uint64_t before = c.Generation();
    auto r = c.SetOptions(id, HopLimit(row.requested));
    CHECK(r.ok() == row.ok);
    if (!row.ok) {
      CHECK(Ec2CodeOf(r.status()) == "InvalidParameterValue");
      CHECK(c.Generation() == before);  // nothing for the agent to pick up
    } else {
      CHECK(r->instance_metadata_options().http_put_response_hop_limit() == row.want);
      CHECK(c.Generation() > before);  // the agent's long-poll wakes up
    }
    CHECK(c.Desired(id).metadata().hop_limit() == row.want);
    CHECK(c.f.Describe(id).metadata_options().http_put_response_hop_limit() == row.want);
  }
}

TEST_CASE("RunInstances takes the hop limit into the agent's desired record",
          "[controller][metadata-options][hop]") {
  struct Row {
    int requested;
    int want;  // 0 = rejected, nothing launched
  };
  const Row rows[] = {{0, 1}, {1, 1}, {2, 2}, {64, 64}, {65, 0}, {-1, 0}};
  for (const Row& row : rows) {
    INFO("requested " << row.requested);
    Cloud c;
    v1::RunInstancesRequest req = c.f.Run(c.image);
    req.mutable_metadata_options()->set_http_put_response_hop_limit(row.requested);
    auto res = c.f.compute->RunInstances(req);
    if (row.want == 0) {
      CHECK(Ec2CodeOf(res.status()) == "InvalidParameterValue");
      CHECK(std::string(res.status().message()) ==
            absl::StrCat("Value (", row.requested,
                         ") for parameter HttpPutResponseHopLimit is invalid. Expected 1-64."));
      CHECK(c.f.compute->DescribeInstances({})->reservations_size() == 0);
      continue;
    }
    REQUIRE(res.ok());
    const std::string id = res->instances(0).instance_id();
    CHECK(res->instances(0).metadata_options().http_put_response_hop_limit() == row.want);
    CHECK(c.Desired(id).metadata().hop_limit() == row.want);
  }
}

TEST_CASE("metadata options are validated like EC2", "[controller][metadata-options]") {
  Cloud c;
  const std::string id = c.InState("running");
  struct Row {
    std::function<void(v1::InstanceMetadataOptions&)> edit;
    std::string message;  // empty = accepted
  };
  // Strings are turned into enums before they reach the service (common/ec2_names.h, tested in
  // ec2_names_test.cc); here a number the enum does not name, as a newer client could send it.
  const Row rows[] = {
      {[](auto& o) { o.set_http_tokens(static_cast<v1::HttpTokens>(7)); },
       "Value (7) for parameter HttpTokens is invalid. Expected: 'optional' or 'required'."},
      {[](auto& o) { o.set_http_endpoint(static_cast<v1::HttpEndpoint>(3)); },
       "Value (3) for parameter HttpEndpoint is invalid. Expected: 'enabled' or 'disabled'."},
      {[](auto& o) { o.set_instance_metadata_tags(static_cast<v1::InstanceMetadataTags>(-1)); },
       "Value (-1) for parameter InstanceMetadataTags is invalid. Expected: 'enabled' or "
       "'disabled'."},
      {[](auto& o) { o.set_http_protocol_ipv6(static_cast<v1::HttpProtocolIpv6>(9)); },
       "Value (9) for parameter HttpProtocolIpv6 is invalid. Expected: 'enabled' or "
       "'disabled'."},
      {[](auto& o) { o.set_http_endpoint(v1::HTTP_ENDPOINT_DISABLED); }, ""},
      {[](auto& o) { o.set_instance_metadata_tags(v1::INSTANCE_METADATA_TAGS_ENABLED); }, ""},
  };
  for (const Row& row : rows) {
    v1::InstanceMetadataOptions o;
    row.edit(o);
    INFO(o.ShortDebugString());
    auto r = c.SetOptions(id, o);
    if (row.message.empty()) {
      CHECK(r.ok());
      continue;
    }
    CHECK(Ec2CodeOf(r.status()) == "InvalidParameterValue");
    CHECK(std::string(r.status().message()) == row.message);
  }
  const v1::GuestMetadata g = c.Desired(id).metadata();
  CHECK(g.http_endpoint() == v1::HTTP_ENDPOINT_DISABLED);
  CHECK(g.instance_metadata_tags() == v1::INSTANCE_METADATA_TAGS_ENABLED);
  CHECK(g.http_tokens() == v1::HTTP_TOKENS_OPTIONAL);
}

TEST_CASE("attribute changes survive a controller restart", "[controller][attribute]") {
  Cloud c;
  const std::string id = c.InState("stopped");
  const std::string data("persist\0me", 10);
  REQUIRE(c.SetUserData(id, data).ok());
  c.f.Reopen();  // a new CloudState over the same store
  auto got = c.UserData(id);
  REQUIRE(got.ok());
  CHECK(got->user_data() == data);

  v1::InstanceMetadataOptions o;
  o.set_http_tokens(v1::HTTP_TOKENS_REQUIRED);
  o.set_http_put_response_hop_limit(9);
  o.set_instance_metadata_tags(v1::INSTANCE_METADATA_TAGS_ENABLED);
  REQUIRE(c.SetOptions(id, o).ok());
  c.f.Reopen();
  const v1::Instance i = c.f.Describe(id);
  CHECK(i.metadata_options().http_tokens() == v1::HTTP_TOKENS_REQUIRED);
  CHECK(i.metadata_options().http_put_response_hop_limit() == 9);
  CHECK(i.metadata_options().instance_metadata_tags() == v1::INSTANCE_METADATA_TAGS_ENABLED);
  const v1::GuestMetadata g = c.Desired(id).metadata();
  CHECK(g.user_data() == data);
  CHECK(g.hop_limit() == 9);
  CHECK(g.http_tokens() == v1::HTTP_TOKENS_REQUIRED);

  // A rejected change leaves nothing behind for the next restart either.
  CHECK_FALSE(c.SetUserData(id, std::string(16385, 'x')).ok());
  CHECK_FALSE(c.SetOptions(id, HopLimit(65)).ok());
  c.f.Reopen();
  CHECK(c.UserData(id)->user_data() == data);
  CHECK(c.f.Describe(id).metadata_options().http_put_response_hop_limit() == 9);
}

}  // namespace minicloud::controller
