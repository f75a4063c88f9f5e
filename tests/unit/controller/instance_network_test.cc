// The network fields derived from an instance's other fields (controller/service/
// instance_network.h): RunInstances fills them, the store omits them, loading fills them back,
// and what DescribeInstances, the agents' desired state and IMDS see does not change.
#include "controller/service/instance_network.h"

#include <google/protobuf/util/message_differencer.h>

#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "common/net/addressing.h"
#include "controller/service/record_migration.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud::controller {
namespace {

using google::protobuf::util::MessageDifferencer;

v1::SubnetRecord Subnet() {
  v1::SubnetRecord s;
  s.set_subnet_id("subnet-0a1b2c3d4e5f60718");
  s.set_vpc_id("vpc-0123456789abcdef0");
  s.set_availability_zone("home-1a");
  s.set_cidr("10.1.0.0/16");
  return s;
}

v1::InstanceRecord Placed() {
  v1::InstanceRecord r;
  r.set_instance_id("i-0123456789abcdef0");
  r.mutable_topology()->set_region("home-1");
  r.mutable_topology()->set_availability_zone("home-1a");
  r.mutable_network()->set_private_ip("10.1.0.7");
  r.mutable_network()->set_subnet_id("subnet-0a1b2c3d4e5f60718");
  r.mutable_network()->set_interface_id("eni-0123456789abcdef0");
  return r;
}

std::map<std::string, v1::DesiredInstance> Desired(minicloud::testing::ControllerFixture& f,
                                                   const std::string& host) {
  v1::WatchDesiredRequest req;
  req.set_host_id(host);
  auto d = f.fleet->WatchDesired(req);
  REQUIRE(d.ok());
  std::map<std::string, v1::DesiredInstance> out;
  for (const auto& i : d->instances()) out[i.instance_id()] = i;
  return out;
}

}  // namespace

TEST_CASE("FillDerivedNetwork: MAC, CIDR, VPC, gateway and DNS name from the record and subnet",
          "[instance_network]") {
  const v1::SubnetRecord subnet = Subnet();
  v1::InstanceRecord r = Placed();
  REQUIRE(FillDerivedNetwork(subnet, r).ok());
  // Catches: a derivation that drifts from what RunInstances stored before (each field).
  CHECK(r.network().mac() == network::InstanceMac("i-0123456789abcdef0").ToString());
  CHECK(r.network().subnet_cidr() == "10.1.0.0/16");
  CHECK(r.network().vpc_id() == "vpc-0123456789abcdef0");
  CHECK(r.network().gateway() == "10.1.0.1");
  CHECK(r.network().private_dns_name() == "ip-10-1-0-7.home-1.compute.internal");
  CHECK(NetworkIsDerived(&subnet, r));

  v1::SubnetRecord other = Subnet();
  other.set_subnet_id("subnet-ffffffffffffffff0");
  CHECK_FALSE(FillDerivedNetwork(other, r).ok());  // Catches: deriving from another subnet.
  v1::InstanceRecord no_address = Placed();
  no_address.mutable_network()->clear_private_ip();
  CHECK_FALSE(FillDerivedNetwork(Subnet(), no_address).ok());
}

TEST_CASE("FillDerivedNetwork with the CIDR and address parsed gives the same fields",
          "[instance_network]") {
  const v1::SubnetRecord subnet = Subnet();
  v1::InstanceRecord parsed = Placed();
  REQUIRE(FillDerivedNetwork(subnet, parsed).ok());
  auto plan = network::SubnetPlan::FromCidr(subnet.cidr());
  auto ip = network::Ipv4Address::Parse("10.1.0.7");
  REQUIRE(plan.ok());
  REQUIRE(ip.ok());
  v1::InstanceRecord given = Placed();
  REQUIRE(FillDerivedNetwork(subnet, *plan, *ip, given).ok());
  // Catches: the variant RunInstances uses drifting from the one loading uses (any field).
  CHECK(MessageDifferencer::Equals(parsed, given));
  CHECK(NetworkIsDerived(&subnet, given));
  v1::SubnetRecord other = Subnet();
  other.set_subnet_id("subnet-ffffffffffffffff0");
  v1::InstanceRecord elsewhere = Placed();
  // Catches: the variant not checking that the record is in the subnet it derives from.
  CHECK_FALSE(FillDerivedNetwork(other, *plan, *ip, elsewhere).ok());
}

TEST_CASE("StoredInstanceBytes omits exactly the derived fields and leaves the record as it was",
          "[instance_network]") {
  v1::InstanceRecord r = Placed();
  REQUIRE(FillDerivedNetwork(Subnet(), r).ok());
  const v1::InstanceRecord before = r;
  const v1::SubnetRecord subnet = Subnet();
  const std::string bytes = StoredInstanceBytes(&subnet, r);
  // Catches: the swap-out not swapped back (the mirror would lose its MAC and DNS name).
  CHECK(MessageDifferencer::Equals(r, before));
  CHECK(bytes.size() + 80 < before.SerializeAsString().size());

  v1::InstanceRecord stored;
  REQUIRE(stored.ParseFromString(bytes));
  CHECK(NetworkStoredDerived(stored));
  CHECK(stored.network().mac().empty());
  CHECK(stored.network().private_dns_name().empty());
  CHECK(stored.network().private_ip() == "10.1.0.7");
  CHECK(stored.network().interface_id() == "eni-0123456789abcdef0");
  std::map<std::string, v1::SubnetRecord> subnets{{"home-1a", subnet}};
  REQUIRE(MigrateDerivedNetwork(subnets, stored).ok());
  // Catches: a field dropped from the stored bytes that loading does not give back.
  CHECK(MessageDifferencer::Equals(stored, before));

  // A record whose fields are not the derived ones is stored with them, unmarked.
  v1::InstanceRecord custom = before;
  custom.mutable_network()->set_mac("02:00:00:00:00:01");
  v1::InstanceRecord custom_stored;
  REQUIRE(custom_stored.ParseFromString(StoredInstanceBytes(&subnet, custom)));
  // Catches: stripping a field that loading would then replace by another value.
  CHECK_FALSE(NetworkStoredDerived(custom_stored));
  CHECK(MessageDifferencer::Equals(custom_stored, custom));
  // No subnet known: stored as it is.
  v1::InstanceRecord unknown;
  REQUIRE(unknown.ParseFromString(StoredInstanceBytes(nullptr, r)));
  CHECK(MessageDifferencer::Equals(unknown, before));
}

TEST_CASE("MigrateDerivedNetwork: records without the flag load as they are, no subnet is DataLoss",
          "[instance_network]") {
  v1::InstanceRecord full = Placed();
  REQUIRE(FillDerivedNetwork(Subnet(), full).ok());
  full.mutable_network()->set_mac("02:00:00:00:00:01");  // an older layout's value stays
  v1::InstanceRecord loaded = full;
  REQUIRE(MigrateDerivedNetwork({{"home-1a", Subnet()}}, loaded).ok());
  CHECK(MessageDifferencer::Equals(loaded, full));

  v1::InstanceRecord flagged = Placed();  // an address, a subnet, none of the five fields
  REQUIRE(NetworkStoredDerived(flagged));
  const absl::Status missing = MigrateDerivedNetwork({}, flagged);
  // Catches: loading a record whose network it cannot derive as if it had none.
  CHECK(missing.code() == absl::StatusCode::kDataLoss);
  // The subnet found by id when the AZ's entry is another subnet.
  v1::SubnetRecord moved = Subnet();
  moved.set_availability_zone("home-1b");
  v1::SubnetRecord other = Subnet();
  other.set_subnet_id("subnet-ffffffffffffffff0");
  REQUIRE(MigrateDerivedNetwork({{"home-1a", other}, {"home-1b", moved}}, flagged).ok());
  CHECK_FALSE(NetworkStoredDerived(flagged));
  CHECK(flagged.network().gateway() == "10.1.0.1");
}

TEST_CASE("instances are stored without derived network fields and answer the same after a restart",
          "[instance_network]") {
  minicloud::testing::ControllerFixture f;
  const std::string host = f.AddHost();
  const std::string image = f.RegisterImage();
  auto res = f.compute->RunInstances(f.Run(image, 2));
  REQUIRE(res.ok());
  REQUIRE(res->instances_size() == 2);
  const std::string a = res->instances(0).instance_id();
  const std::string b = res->instances(1).instance_id();

  std::map<std::string, v1::InstanceRecord> mirror;
  {
    std::lock_guard<std::mutex> lock(f.state->mu());
    mirror[a] = f.state->instances().at(a);
    mirror[b] = f.state->instances().at(b);
  }
  // The mirror holds every field (what every reader sees).
  for (const auto& [id, r] : mirror) {
    CHECK_FALSE(NetworkStoredDerived(r));
    CHECK(r.network().mac() == network::InstanceMac(id).ToString());
    CHECK_FALSE(r.network().private_dns_name().empty());
    CHECK_FALSE(r.network().gateway().empty());
  }
  // The store holds the record without them. Catches: StageLocked writing the full record.
  auto stored = f.store->Get(Table::kInstances, a);
  REQUIRE(stored.ok());
  REQUIRE(stored->has_value());
  v1::InstanceRecord on_disk;
  REQUIRE(on_disk.ParseFromString(**stored));
  CHECK(NetworkStoredDerived(on_disk));
  CHECK(on_disk.network().mac().empty());
  CHECK(on_disk.network().subnet_cidr().empty());
  CHECK(on_disk.network().private_ip() == mirror[a].network().private_ip());

  const v1::Instance described_a = f.Describe(a);
  const v1::Instance described_b = f.Describe(b);
  const auto desired = Desired(f, host);
  REQUIRE(desired.size() == 2);

  // `b` rewritten as the previous version stored it: every network field in the record.
  WriteBatch old;
  old.Put(Table::kInstances, b, mirror[b].SerializeAsString());
  REQUIRE(f.store->Commit(old).ok());

  f.Reopen();  // a controller restart
  {
    std::lock_guard<std::mutex> lock(f.state->mu());
    // Catches: Load not filling the derived fields back (or filling other values).
    CHECK(MessageDifferencer::Equals(f.state->instances().at(a), mirror[a]));
    CHECK(MessageDifferencer::Equals(f.state->instances().at(b), mirror[b]));
  }
  // DescribeInstances, the desired state and the IMDS view answer exactly as before the restart.
  CHECK(MessageDifferencer::Equals(f.Describe(a), described_a));
  CHECK(MessageDifferencer::Equals(f.Describe(b), described_b));
  const auto after = Desired(f, host);
  REQUIRE(after.size() == 2);
  for (const auto& [id, d] : desired) {
    CHECK(MessageDifferencer::Equals(after.at(id).network(), d.network()));
    CHECK(MessageDifferencer::Equals(after.at(id).metadata(), d.metadata()));
  }
}

}  // namespace minicloud::controller
