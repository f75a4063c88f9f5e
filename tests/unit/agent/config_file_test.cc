#include <catch2/catch.hpp>

#include "agent/config/agent_config_file.h"

namespace minicloud::agent {

TEST_CASE("agent config file: a full file", "[agent][config]") {
  auto c = ParseAgentConfig(R"(
controller: 10.0.0.1:7700
state_dir: /srv/agent
accel: tcg
topology:
  region: home-2
  availability_zone: home-2b
  rack: rack-3
capacity:
  vcpus: 8
  memory_mib: 16384
  instance_store_gb: 200
network:
  bridge: mcbr0
  nat: true
stop_timeout_seconds: 30
)",
                            "agent.yaml");
  REQUIRE(c.ok());
  CHECK(*c->controller == "10.0.0.1:7700");
  CHECK(*c->state_dir == "/srv/agent");
  CHECK(*c->accel == "tcg");
  CHECK(*c->region == "home-2");
  CHECK(*c->availability_zone == "home-2b");
  CHECK(*c->rack == "rack-3");
  CHECK(*c->vcpus == 8);
  CHECK(*c->memory_mib == 16384);
  CHECK(*c->instance_store_gb == 200);
  CHECK(*c->bridge == "mcbr0");
  CHECK(*c->nat);
  CHECK(*c->stop_timeout_seconds == 30);
  CHECK_FALSE(c->listen.has_value());
}

TEST_CASE("agent config file: empty means all defaults", "[agent][config]") {
  auto c = ParseAgentConfig("", "agent.yaml");
  REQUIRE(c.ok());
  CHECK_FALSE(c->region.has_value());
  CHECK_FALSE(c->vcpus.has_value());
}

TEST_CASE("agent config file: bad input names the key and line", "[agent][config]") {
  struct Case {
    const char* name;
    const char* yaml;
    const char* message;  // a substring of the error
  };
  const Case cases[] = {
      {"unknown top-level key", "controler: x\n", "agent.yaml:1: unknown key 'controler'"},
      {"unknown nested key", "topology:\n  zone: a\n", "agent.yaml:2: unknown key 'topology.zone'"},
      {"section is not a mapping", "topology: home-1a\n", "'topology' must be a mapping"},
      {"number expected", "capacity:\n  vcpus: many\n", "'capacity.vcpus' must be a whole number"},
      {"number out of range", "capacity:\n  vcpus: 0\n", "'capacity.vcpus' must be in 1..4096"},
      {"boolean expected", "network:\n  nat: perhaps\n", "'network.nat' must be a boolean"},
      {"empty string", "controller: ''\n", "'controller' must not be empty"},
      {"list where a string belongs", "rack_list: [a]\n", "unknown key 'rack_list'"},
      {"string given a list", "hostname: [a, b]\n", "'hostname' must be a string"},
      {"bad accelerator", "accel: quantum\n", "'accel' must be auto, kvm or tcg"},
      {"bridge name too long", "network:\n  bridge: a-very-long-bridge-name\n",
       "at most 15 characters"},
      {"not YAML", "topology: [\n", "not valid YAML"},
      {"top level is a list", "- a\n- b\n", "top level must be a mapping"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      auto r = ParseAgentConfig(c.yaml, "agent.yaml");
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
      INFO(r.status().message());
      CHECK(std::string(r.status().message()).find(c.message) != std::string::npos);
    }
  }
}

TEST_CASE("agent config file: a missing file is NotFound", "[agent][config]") {
  auto r = LoadAgentConfig("/nonexistent/agent.yaml");
  REQUIRE(r.status().code() == absl::StatusCode::kNotFound);
}

}  // namespace minicloud::agent
