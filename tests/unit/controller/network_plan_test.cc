#include "controller/service/network_plan.h"

#include <catch2/catch.hpp>

namespace minicloud::controller {

TEST_CASE("default VPC: one /20 per AZ, AWS's reserved addresses", "[controller][network]") {
  struct Case {
    int index;
    const char* subnet;
    const char* gateway;
  };
  const Case cases[] = {{0, "172.31.0.0/20", "172.31.0.1"},
                        {1, "172.31.16.0/20", "172.31.16.1"},
                        {15, "172.31.240.0/20", "172.31.240.1"}};
  for (const auto& c : cases) {
    auto plan = DefaultSubnet(c.index);
    REQUIRE(plan.ok());
    CHECK(plan->subnet.ToString() == c.subnet);
    CHECK(plan->gateway.ToString() == c.gateway);
  }
  CHECK(DefaultSubnet(16).status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(DefaultSubnet(-1).status().code() == absl::StatusCode::kResourceExhausted);
}

TEST_CASE("addresses start at .4 and skip used ones", "[controller][network]") {
  auto plan = *DefaultSubnet(0);
  CHECK(*AllocateAddress(plan, {}) == "172.31.0.4");
  CHECK(*AllocateAddress(plan, {"172.31.0.4", "172.31.0.5"}) == "172.31.0.6");
  CHECK(*AllocateAddress(plan, {"172.31.0.5"}) == "172.31.0.4");
  auto tiny = *network::SubnetPlan::FromCidr("10.0.0.0/28");  // .4 .. .14
  std::set<std::string> used;
  for (int i = 4; i <= 14; ++i) used.insert("10.0.0." + std::to_string(i));
  CHECK(AllocateAddress(tiny, used).status().code() == absl::StatusCode::kResourceExhausted);
}

TEST_CASE("EC2 private DNS names", "[controller][network]") {
  CHECK(PrivateDnsName("172.31.0.4", "home-1") == "ip-172-31-0-4.home-1.compute.internal");
}

}  // namespace minicloud::controller
