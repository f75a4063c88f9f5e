// FleetService::CheckGuestOfHost: the rule HostService.GuestCloudFormation applies before a host
// may speak for a guest. One-line bugs caught: the host comparison dropped (another host's
// instance accepted), the terminated check dropped (a terminated instance still signalling), an
// empty host id matching an unplaced instance, the id check skipped.
#include <catch2/catch.hpp>
#include <string>

#include "tests/testing/controller_fixture.h"

namespace minicloud {

TEST_CASE("a host speaks only for the live instances placed on it", "[controller][fleet]") {
  testing::ControllerFixture f;
  const std::string host = f.AddHost("home-1a");
  const std::string other = f.AddHost("home-1a");
  auto run = f.compute->RunInstances(f.Run(f.RegisterImage()));
  REQUIRE(run.ok());
  const std::string id = run->instances(0).instance_id();
  const std::string placed = f.state->instances().at(id).host_id();
  REQUIRE((placed == host || placed == other));
  const std::string elsewhere = placed == host ? other : host;

  CHECK(f.fleet->CheckGuestOfHost(placed, id).ok());
  CHECK(f.fleet->CheckGuestOfHost(elsewhere, id).code() == absl::StatusCode::kPermissionDenied);
  CHECK(f.fleet->CheckGuestOfHost("", id).code() == absl::StatusCode::kPermissionDenied);
  CHECK(f.fleet->CheckGuestOfHost(placed, "i-0000000000000dead").code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(f.fleet->CheckGuestOfHost(placed, "not-an-id").code() ==
        absl::StatusCode::kInvalidArgument);

  REQUIRE(f.Report(placed, id, v1::OBSERVED_STATE_RUNNING).ok());
  CHECK(f.fleet->CheckGuestOfHost(placed, id).ok());
  v1::TerminateInstancesRequest term;
  term.add_instance_ids(id);
  REQUIRE(f.compute->TerminateInstances(term).ok());
  CHECK(f.fleet->CheckGuestOfHost(placed, id).ok());  // shutting down: still its guest
  REQUIRE(f.Report(placed, id, v1::OBSERVED_STATE_ABSENT).ok());
  REQUIRE(f.Describe(id).state().code() == 48);
  CHECK(f.fleet->CheckGuestOfHost(placed, id).code() == absl::StatusCode::kPermissionDenied);
}

}  // namespace minicloud
