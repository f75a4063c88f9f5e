// BuildGuestMetadata: the one place that decides what a guest sees of itself. Each row is a
// record variant and the fields the guest must then be shown; its name says which one-line bug
// it catches. The last case checks that WatchDesired hands agents exactly this function's output.
#include "controller/service/guest_view.h"

#include <catch2/catch.hpp>
#include <functional>

#include "controller/identity/identity_signer.h"
#include "controller/service/metadata_options.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud::controller {
namespace {

class RecordBuilder {
 public:
  RecordBuilder() {
    r_.set_instance_id("i-0000000000000000a");
    r_.set_reservation_id("r-0000000000000000b");
    r_.set_owner_id("123456789012");
    r_.set_image_id("ami-0000000000000000c");
    r_.mutable_topology()->set_region("home-1");
    r_.mutable_topology()->set_availability_zone("home-1b");
    r_.mutable_topology()->set_rack("rack-2");
    r_.set_ami_launch_index(2);
    r_.set_launch_time_ms(1'700'000'000'123);
    r_.set_architecture("x86_64");
    r_.set_root_device_name("/dev/xvda");
    *r_.mutable_metadata_options() = DefaultMetadataOptions();
    r_.set_identity_document("{\"instanceId\":\"i-0000000000000000a\"}");
  }
  RecordBuilder& Edit(const std::function<void(v1::InstanceRecord&)>& f) {
    f(r_);
    return *this;
  }
  v1::InstanceRecord Build() const { return r_; }

 private:
  v1::InstanceRecord r_;
};

using Check = std::function<void(const v1::GuestMetadata&)>;

struct Row {
  const char* bug;  // the one-line bug in BuildGuestMetadata this row catches
  std::function<void(v1::InstanceRecord&)> edit;
  Check check;
};

const SignedIdentity kSigned{"{\"instanceId\":\"i-0000000000000000a\"}", "c2ln",
                             "cGtjczc=", "cnNh"};

}  // namespace

TEST_CASE("BuildGuestMetadata: what a guest sees, record variant by record variant",
          "[controller][guest-view]") {
  const Row rows[] = {
      {"account from the record's owner (not the reservation or a constant)", [](auto&) {},
       [](const auto& g) {
         CHECK(g.account_id() == "123456789012");
         CHECK(g.reservation_id() == "r-0000000000000000b");
         CHECK(g.image_id() == "ami-0000000000000000c");
         CHECK(g.ami_launch_index() == 2);
       }},
      {"region and AZ from the host's topology (swapped or from config)", [](auto&) {},
       [](const auto& g) {
         CHECK(g.region() == "home-1");
         CHECK(g.availability_zone() == "home-1b");
       }},
      {"pending time is the launch time", [](auto&) {},
       [](const auto& g) { CHECK(g.pending_time_ms() == 1'700'000'000'123); }},
      {"architecture copied from the record", [](auto& r) { r.set_architecture("arm64"); },
       [](const auto& g) { CHECK(g.architecture() == "arm64"); }},
      {"a record without architecture gets x86_64 (the agent no longer defaults it)",
       [](auto& r) { r.clear_architecture(); },
       [](const auto& g) { CHECK(g.architecture() == "x86_64"); }},
      {"root device copied", [](auto& r) { r.set_root_device_name("/dev/sda1"); },
       [](const auto& g) { CHECK(g.root_device_name() == "/dev/sda1"); }},
      {"a record without root device gets /dev/xvda", [](auto& r) { r.clear_root_device_name(); },
       [](const auto& g) { CHECK(g.root_device_name() == "/dev/xvda"); }},
      {"VPC CIDR from the controller's config, not a constant", [](auto&) {},
       [](const auto& g) { CHECK(g.vpc_cidr() == "10.9.0.0/16"); }},
      {"the default security group, id and name", [](auto&) {},
       [](const auto& g) {
         REQUIRE(g.security_groups_size() == 1);
         CHECK(g.security_groups(0).group_id() == "sg-default");
         CHECK(g.security_groups(0).group_name() == "default");
       }},
      {"options copied: required, disabled, hop 3, tags enabled",
       [](auto& r) {
         auto* o = r.mutable_metadata_options();
         o->set_http_tokens(v1::HTTP_TOKENS_REQUIRED);
         o->set_http_endpoint(v1::HTTP_ENDPOINT_DISABLED);
         o->set_http_put_response_hop_limit(3);
         o->set_instance_metadata_tags(v1::INSTANCE_METADATA_TAGS_ENABLED);
       },
       [](const auto& g) {
         CHECK(g.http_tokens() == v1::HTTP_TOKENS_REQUIRED);
         CHECK(g.http_endpoint() == v1::HTTP_ENDPOINT_DISABLED);
         CHECK(g.hop_limit() == 3);
         CHECK(g.instance_metadata_tags() == v1::INSTANCE_METADATA_TAGS_ENABLED);
       }},
      {"a record without options gets EC2's defaults, never UNSPECIFIED",
       [](auto& r) { r.clear_metadata_options(); },
       [](const auto& g) {
         CHECK(g.http_tokens() == v1::HTTP_TOKENS_OPTIONAL);
         CHECK(g.http_endpoint() == v1::HTTP_ENDPOINT_ENABLED);
         CHECK(g.hop_limit() == 1);
         CHECK(g.instance_metadata_tags() == v1::INSTANCE_METADATA_TAGS_DISABLED);
       }},
      {"user data served when the record has it",
       [](auto& r) {
         r.set_has_user_data(true);
         r.set_user_data(std::string("#!\0x", 4));
       },
       [](const auto& g) {
         CHECK(g.has_user_data());
         CHECK(g.user_data() == std::string("#!\0x", 4));
       }},
      {"empty user data that was set stays set (served empty, not 404)",
       [](auto& r) { r.set_has_user_data(true); },
       [](const auto& g) {
         CHECK(g.has_user_data());
         CHECK(g.user_data().empty());
       }},
      {"no user data: none served", [](auto&) {},
       [](const auto& g) { CHECK_FALSE(g.has_user_data()); }},
      {"key pair name and public key",
       [](auto& r) {
         r.set_key_name("laptop");
         r.set_public_key("ssh-ed25519 AAAA laptop");
       },
       [](const auto& g) {
         CHECK(g.key_name() == "laptop");
         CHECK(g.public_key() == "ssh-ed25519 AAAA laptop");
       }},
      {"tags copied (served only when the option says so, on the agent)",
       [](auto& r) { (*r.mutable_tags())["Name"] = "web"; },
       [](const auto& g) { CHECK(g.tags().at("Name") == "web"); }},
      {"placement group and partition",
       [](auto& r) {
         r.set_placement_group("db");
         r.set_partition_number(3);
       },
       [](const auto& g) {
         CHECK(g.placement_group() == "db");
         CHECK(g.partition_number() == 3);
       }},
      {"no group: neither name nor partition", [](auto&) {},
       [](const auto& g) {
         CHECK(g.placement_group().empty());
         CHECK(g.partition_number() == 0);
       }},
      {"identity: a record's stored text (earlier versions) served as stored, signatures only "
       "once signed",
       [](auto&) {},
       [](const auto& g) {
         CHECK(g.identity_document() == "{\"instanceId\":\"i-0000000000000000a\"}");
         CHECK(g.identity_signature().empty());
         CHECK(g.identity_pkcs7().empty());
       }},
      {"identity: built from the fields, pendingTime the first launch (not launch_time_ms, which "
       "a start moves)",
       [](auto& r) {
         r.clear_identity_document();
         r.set_identity_pending_time_ms(1'600'000'000'999);
         r.set_instance_type("t3.small");
         r.mutable_network()->set_private_ip("10.9.3.4");
       },
       [](const auto& g) {
         identity::IdentityFields f;
         f.account_id = "123456789012";
         f.availability_zone = "home-1b";
         f.image_id = "ami-0000000000000000c";
         f.instance_id = "i-0000000000000000a";
         f.instance_type = "t3.small";
         f.pending_time = absl::FromUnixSeconds(1'600'000'000);
         f.private_ip = "10.9.3.4";
         f.region = "home-1";
         CHECK(g.identity_document() == identity::BuildIdentityDocument(f));
       }},
      {"identity: no text and no pending time (before documents existed): no document",
       [](auto& r) { r.clear_identity_document(); },
       [](const auto& g) { CHECK(g.identity_document().empty()); }},
  };
  const GuestContext context{.vpc_cidr = "10.9.0.0/16"};
  for (const Row& row : rows) {
    INFO(row.bug);
    row.check(BuildGuestMetadata(RecordBuilder().Edit(row.edit).Build(), context));
  }
}

TEST_CASE("BuildGuestMetadata: a signed identity is served with all its parts",
          "[controller][guest-view]") {
  const v1::InstanceRecord r = RecordBuilder().Build();
  const v1::GuestMetadata g =
      BuildGuestMetadata(r, {.vpc_cidr = "10.0.0.0/16", .identity = &kSigned});
  CHECK(g.identity_document() == kSigned.document);
  CHECK(g.identity_signature() == kSigned.signature);
  CHECK(g.identity_pkcs7() == kSigned.pkcs7);
  CHECK(g.identity_rsa2048() == kSigned.rsa2048);
  // ApplySignedIdentity afterwards gives the same message (FleetService signs after building).
  v1::GuestMetadata later = BuildGuestMetadata(r, {.vpc_cidr = "10.0.0.0/16"});
  ApplySignedIdentity(kSigned, later);
  CHECK(later.SerializeAsString() == g.SerializeAsString());
}

TEST_CASE("WatchDesired sends agents exactly BuildGuestMetadata's view of each record",
          "[controller][guest-view]") {
  testing::ControllerFixture f;
  f.config.vpc_cidr = "10.20.0.0/16";
  f.Reopen();
  const std::string host = f.AddHost();
  v1::RunInstancesRequest run = f.Run(f.RegisterImage());
  run.mutable_metadata_options()->set_http_tokens(v1::HTTP_TOKENS_REQUIRED);
  run.set_user_data("#!/bin/sh\n");
  auto res = f.compute->RunInstances(run);
  REQUIRE(res.ok());
  const std::string id = res->instances(0).instance_id();

  v1::WatchDesiredRequest req;
  req.set_host_id(host);
  auto d = f.fleet->WatchDesired(req);
  REQUIRE(d.ok());
  REQUIRE(d->instances_size() == 1);
  const v1::GuestMetadata& sent = d->instances(0).metadata();
  v1::InstanceRecord record;
  {
    std::lock_guard<std::mutex> lock(f.state->mu());
    record = f.state->instances().at(id);
  }
  // The signatures are made at delivery; everything else is the pure view of the record.
  const SignedIdentity identity{sent.identity_document(), sent.identity_signature(),
                                sent.identity_pkcs7(), sent.identity_rsa2048()};
  CHECK_FALSE(identity.signature.empty());
  const v1::GuestMetadata expected =
      BuildGuestMetadata(record, {.vpc_cidr = "10.20.0.0/16", .identity = &identity});
  CHECK(sent.SerializeAsString() == expected.SerializeAsString());
  CHECK(sent.vpc_cidr() == "10.20.0.0/16");
  CHECK(sent.http_tokens() == v1::HTTP_TOKENS_REQUIRED);
}

}  // namespace minicloud::controller
