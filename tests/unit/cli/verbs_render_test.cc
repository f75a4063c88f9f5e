// What each verb prints: the controller's answer (canned in FakeComputeApi) -> stdout/stderr and
// the exit code, in every output format the verb has. Expected texts are written out in full:
// scripts and the README parse them, so a changed byte is a failure.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "cli/output.h"
#include "cli/verb.h"
#include "minicloud/v1/compute.pb.h"
#include "tests/unit/cli/fake_compute_api.h"

namespace minicloud::cli {
namespace {

using testing::CliHarness;

// What --output table must print: the aws CLI's table of the verb's own JSON output, titled by
// the operation (the layout itself is checked against the aws CLI in output_test.cc).
std::string AwsTable(CliHarness& cli, const std::vector<std::string>& args) {
  std::vector<std::string> json_args;
  std::string verb;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--output") {
      ++i;
      continue;
    }
    if (verb.empty() && args[i][0] != '-') verb = args[i];
    json_args.push_back(args[i]);
  }
  const auto r = cli.Run(json_args);
  return FormatTable(OperationName(verb), nlohmann::json::parse(r.out), 80);
}

constexpr char kTwoHosts[] = R"(
  hosts { host_id: "h-1" state: "available" accelerator: ACCELERATOR_KVM
          topology { region: "home-1" availability_zone: "home-1a" rack: "rack-1" }
          used { vcpus: 2 memory_mib: 1024 } instance_count: 1 }
  hosts { host_id: "h-22" state: "unreachable"
          topology { region: "home-1" availability_zone: "home-1b" rack: "rack-2" } })";

// Catches: "--output after the verb is not seen" and "the table is not the aws CLI's layout".
TEST_CASE("describe-hosts --output table, before or after the verb", "[cli][render]") {
  CliHarness golden;
  golden.api.Answer<v1::DescribeHostsResponse>("DescribeHosts", kTwoHosts);
  const std::string want = AwsTable(golden, {"describe-hosts"});
  // Too wide for 80 columns: the aws CLI turns the one-row sections vertical.
  CHECK(want.rfind("----------------------------------------\n"
                   "|             DescribeHosts            |\n"
                   "+--------------------------------------+\n"
                   "||                Hosts               ||\n"
                   "|+---------------------+--------------+|\n"
                   "||  Accelerator        |  kvm         ||\n",
                   0) == 0);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--output", "table", "describe-hosts"}, {"describe-hosts", "--output", "table"}}) {
    CliHarness cli;
    cli.api.Answer<v1::DescribeHostsResponse>("DescribeHosts", kTwoHosts);
    const auto r = cli.Run(args);
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == want);
    CHECK(r.err.empty());
  }
}

TEST_CASE("describe-key-pairs prints the aws JSON shape", "[cli][render]") {
  CliHarness cli;
  cli.api.Answer<v1::DescribeKeyPairsResponse>("DescribeKeyPairs", R"(
      key_pairs { key_pair_id: "key-1" key_name: "k1" key_fingerprint: "ab:cd" key_type: "ed25519"
                  public_key: "ssh-ed25519 AAAA" }
      key_pairs { key_pair_id: "key-2" key_name: "k2" key_fingerprint: "ef" key_type: "rsa" })");
  const auto r = cli.Run({"describe-key-pairs"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == R"({
    "KeyPairs": [
        {
            "KeyFingerprint": "ab:cd",
            "KeyName": "k1",
            "KeyPairId": "key-1",
            "KeyType": "ed25519",
            "PublicKey": "ssh-ed25519 AAAA"
        },
        {
            "KeyFingerprint": "ef",
            "KeyName": "k2",
            "KeyPairId": "key-2",
            "KeyType": "rsa"
        }
    ]
}
)");
  const auto table = cli.Run({"describe-key-pairs", "--output", "table"});
  CHECK(table.out == AwsTable(cli, {"describe-key-pairs", "--output", "table"}));
}

// Catches: "--query is a verb flag of create-key-pair only / is not applied before --output".
TEST_CASE("create-key-pair prints the private key alone for --query KeyMaterial --output text",
          "[cli][render]") {
  constexpr char kAnswer[] = R"(
      key_pair { key_pair_id: "key-1" key_name: "k1" key_fingerprint: "ab" }
      key_material: "-----BEGIN OPENSSH PRIVATE KEY-----\nxyz\n")";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"create-key-pair", "--key-name", "k1", "--query", "KeyMaterial", "--output", "text"},
           {"--output", "text", "create-key-pair", "--query", "KeyMaterial", "--key-name", "k1"},
           {"--query", "KeyMaterial", "--output", "text", "create-key-pair", "--key-name", "k1"}}) {
    CliHarness cli;
    cli.api.Answer<v1::CreateKeyPairResponse>("CreateKeyPair", kAnswer);
    // As the aws CLI's text output: the string, then a newline.
    CHECK(cli.Run(args).out == "-----BEGIN OPENSSH PRIVATE KEY-----\nxyz\n\n");
  }
  {
    CliHarness cli;
    cli.api.Answer<v1::CreateKeyPairResponse>("CreateKeyPair", kAnswer);
    CHECK(cli.Run({"create-key-pair", "--key-name", "k1", "--query", "KeyMaterial"}).out ==
          "\"-----BEGIN OPENSSH PRIVATE KEY-----\\nxyz\\n\"\n");
  }
  CliHarness cli;
  cli.api.Answer<v1::CreateKeyPairResponse>("CreateKeyPair", kAnswer);
  CHECK(cli.Run({"create-key-pair", "--key-name", "k1"}).out == R"({
    "KeyFingerprint": "ab",
    "KeyMaterial": "-----BEGIN OPENSSH PRIVATE KEY-----\nxyz\n",
    "KeyName": "k1",
    "KeyPairId": "key-1"
}
)");
}

TEST_CASE("get-console-output: raw bytes as text, replaced invalid UTF-8 in JSON",
          "[cli][render]") {
  CliHarness cli;
  v1::GetConsoleOutputResponse resp;
  resp.set_instance_id("i-1");
  resp.set_output("boot\xff ok\n");
  resp.mutable_timestamp()->set_seconds(86400);
  cli.api.Answer("GetConsoleOutput", resp);
  const auto text = cli.Run({"get-console-output", "--instance-id", "i-1", "--output", "text"});
  CHECK(text.exit_code == 0);
  CHECK(text.out == "boot\xff ok\n");
  const auto json = cli.Run({"get-console-output", "--instance-id", "i-1"});
  CHECK(json.exit_code == 0);
  CHECK(json.out ==
        "{\n"
        "    \"InstanceId\": \"i-1\",\n"
        "    \"Output\": \"boot\xef\xbf\xbd ok\\n\",\n"
        "    \"Timestamp\": \"1970-01-02T00:00:00.000Z\"\n"
        "}\n");
}

TEST_CASE("describe-placement: explanation as text, exit 1 when it would fail", "[cli][render]") {
  constexpr char kRefused[] = R"(would_succeed: false error_code: "InsufficientInstanceCapacity"
                                 explanation: "h-1: rejected (no room)\n")";
  CliHarness cli;
  cli.api.Answer<v1::DescribePlacementResponse>("DescribePlacement", kRefused);
  const auto text = cli.Run({"describe-placement", "--image-id", "a", "--output", "text"});
  CHECK(text.exit_code == 1);
  CHECK(text.out == "h-1: rejected (no room)\n");
  const auto json = cli.Run({"describe-placement", "--image-id", "a"});
  CHECK(json.exit_code == 1);
  CHECK(json.out == R"({
    "ErrorCode": "InsufficientInstanceCapacity",
    "Explanation": "h-1: rejected (no room)\n",
    "WouldSucceed": false
}
)");
  CliHarness ok;
  ok.api.Answer<v1::DescribePlacementResponse>("DescribePlacement",
                                               R"(would_succeed: true explanation: "h-1 wins\n")");
  const auto table = ok.Run({"describe-placement", "--image-id", "a", "--output", "table"});
  CHECK(table.exit_code == 0);
  CHECK(table.out == "h-1 wins\n");
}

constexpr char kReservation[] = R"(
  reservation_id: "r-1" owner_id: "000000000000" placement_explanation: "h-1 chosen\n"
  instances { instance_id: "i-1" image_id: "ami-1" instance_type: "t3.micro"
              state { code: 0 name: "pending" } private_ip_address: "10.0.0.4"
              placement { availability_zone: "home-1a" host_id: "h-1" } })";

TEST_CASE("run-instances prints the reservation, --explain goes to stderr", "[cli][render]") {
  CliHarness cli;
  cli.api.Answer<v1::Reservation>("RunInstances", kReservation);
  const auto r = cli.Run({"run-instances", "--image-id", "ami-1", "--explain"});
  CHECK(r.exit_code == 0);
  CHECK(r.err == "h-1 chosen\n");
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["ReservationId"] == "r-1");
  CHECK(doc["Instances"][0]["InstanceId"] == "i-1");
  CHECK(doc["Instances"][0]["PrivateIpAddress"] == "10.0.0.4");
  const auto quiet = cli.Run({"run-instances", "--image-id", "ami-1", "--output", "table"});
  CHECK(quiet.err.empty());
  CHECK(quiet.out == AwsTable(cli, {"run-instances", "--image-id", "ami-1", "--output", "table"}));
}

TEST_CASE("describe-instances --output table has one row per instance of every reservation",
          "[cli][render]") {
  CliHarness cli;
  cli.api.Answer<v1::DescribeInstancesResponse>("DescribeInstances", R"(
      reservations { instances { instance_id: "i-1" state { name: "running" } } }
      reservations { instances { instance_id: "i-2" state { name: "stopped" } }
                     instances { instance_id: "i-3" state { name: "pending" } } })");
  const auto r = cli.Run({"describe-instances", "--output", "table"});
  CHECK(r.out == AwsTable(cli, {"describe-instances", "--output", "table"}));
  const auto json = cli.Run({"describe-instances"});
  const auto doc = nlohmann::json::parse(json.out);
  REQUIRE(doc["Reservations"].size() == 2);
  CHECK(doc["Reservations"][1]["Instances"][1]["InstanceId"] == "i-3");
}

TEST_CASE("state changes of terminate, stop and start", "[cli][render]") {
  constexpr char kChange[] = R"(instance_id: "i-1" previous_state { code: 16 name: "running" }
                                current_state { code: 32 name: "shutting-down" })";
  struct Case {
    std::vector<std::string> args;
    std::string operation, key;
  };
  for (const auto& c : std::vector<Case>{
           {{"terminate-instances", "--instance-ids", "i-1"},
            "TerminateInstances",
            "TerminatingInstances"},
           {{"stop-instances", "--instance-ids", "i-1"}, "StopInstances", "StoppingInstances"},
           {{"start-instances", "--instance-ids", "i-1"}, "StartInstances", "StartingInstances"}}) {
    CliHarness cli;
    const std::string field = c.operation == "TerminateInstances" ? "terminating_instances"
                              : c.operation == "StopInstances"    ? "stopping_instances"
                                                                  : "starting_instances";
    if (c.operation == "TerminateInstances") {
      cli.api.Answer<v1::TerminateInstancesResponse>(c.operation, field + " {" + kChange + "}");
    } else if (c.operation == "StopInstances") {
      cli.api.Answer<v1::StopInstancesResponse>(c.operation, field + " {" + kChange + "}");
    } else {
      cli.api.Answer<v1::StartInstancesResponse>(c.operation, field + " {" + kChange + "}");
    }
    auto args = c.args;
    const auto json = cli.Run(args);
    INFO(json.out);
    CHECK(json.out == "{\n    \"" + c.key + R"(": [
        {
            "CurrentState": {
                "Code": 32,
                "Name": "shutting-down"
            },
            "InstanceId": "i-1",
            "PreviousState": {
                "Code": 16,
                "Name": "running"
            }
        }
    ]
}
)");
    args.insert(args.end(), {"--output", "table"});
    CHECK(cli.Run(args).out == AwsTable(cli, args));
  }
}

TEST_CASE("describe-instance-attribute prints user data in base64", "[cli][render]") {
  CliHarness cli;
  cli.api.Answer<v1::DescribeInstanceAttributeResponse>(
      "DescribeInstanceAttribute", R"(instance_id: "i-1" has_user_data: true user_data: "hi")");
  cli.api.Answer<v1::DescribeInstanceAttributeResponse>("DescribeInstanceAttribute",
                                                        R"(instance_id: "i-2")");
  const std::vector<std::string> args = {"describe-instance-attribute", "--instance-id", "i-1",
                                         "--attribute", "userData"};
  CHECK(cli.Run(args).out == R"({
    "InstanceId": "i-1",
    "UserData": {
        "Value": "aGk="
    }
}
)");
  CHECK(cli.Run(args).out == R"({
    "InstanceId": "i-2",
    "UserData": {}
}
)");
}

TEST_CASE("other verbs' JSON and tables", "[cli][render]") {
  CliHarness cli;
  cli.api.Answer<v1::RegisterImageResponse>("RegisterImage", R"(image_id: "ami-9")");
  const std::string disk = (std::filesystem::temp_directory_path() /
                            ("minicloud-render-" + std::to_string(::getpid()) + ".qcow2"))
                               .string();
  std::ofstream(disk) << "disk";
  CHECK(cli.Run({"register-image", "--name", "n", "--image-location", disk}).out ==
        "{\n    \"ImageId\": \"ami-9\"\n}\n");
  std::filesystem::remove(disk);
  cli.api.Answer<v1::DescribeImagesResponse>("DescribeImages", R"(
      images { image_id: "ami-9" name: "tiny" architecture: "x86_64" boot_mode: "direct-kernel" })");
  CHECK(cli.Run({"describe-images", "--output", "table"}).out ==
        AwsTable(cli, {"describe-images", "--output", "table"}));
  cli.api.Answer<v1::DescribeInstanceTypesResponse>("DescribeInstanceTypes", R"(
      instance_types { instance_type: "t3.micro" default_vcpus: 2 memory_mib: 1024 })");
  CHECK(cli.Run({"describe-instance-types", "--output", "table"}).out ==
        AwsTable(cli, {"describe-instance-types", "--output", "table"}));
  cli.api.Answer<v1::DescribeAvailabilityZonesResponse>("DescribeAvailabilityZones", R"(
      availability_zones { zone_name: "home-1a" zone_id: "home1-az1" region_name: "home-1"
                           state: "available" host_count: 2 hosts_up: 1 })");
  CHECK(cli.Run({"describe-availability-zones", "--output", "table"}).out ==
        AwsTable(cli, {"describe-availability-zones", "--output", "table"}));
  cli.api.Answer<v1::DescribePlacementGroupsResponse>("DescribePlacementGroups", R"(
      placement_groups { group_name: "pg" strategy: PLACEMENT_STRATEGY_PARTITION state: "available"
                         partition_count: 3 instance_count: 4 }
      placement_groups { group_name: "s" strategy: PLACEMENT_STRATEGY_SPREAD state: "available"
                         spread_level: SPREAD_LEVEL_RACK })");
  CHECK(cli.Run({"describe-placement-groups", "--output", "table"}).out ==
        AwsTable(cli, {"describe-placement-groups", "--output", "table"}));
  cli.api.Answer<v1::CreatePlacementGroupResponse>("CreatePlacementGroup", R"(
      placement_group { group_name: "pg" group_id: "pg-1" strategy: PLACEMENT_STRATEGY_CLUSTER state: "available" })");
  CHECK(cli.Run({"create-placement-group", "--group-name", "pg", "--strategy", "cluster",
                 "--output", "table"})
            .out == AwsTable(cli, {"create-placement-group", "--group-name", "pg", "--strategy",
                                   "cluster", "--output", "table"}));
  cli.api.Answer<v1::ModifyInstanceMetadataOptionsResponse>("ModifyInstanceMetadataOptions", R"(
      instance_id: "i-1" instance_metadata_options { state: METADATA_OPTIONS_STATE_PENDING http_tokens: HTTP_TOKENS_REQUIRED
        http_put_response_hop_limit: 2 http_endpoint: HTTP_ENDPOINT_ENABLED })");
  CHECK(cli.Run({"modify-instance-metadata-options", "--instance-id", "i-1"}).out == R"({
    "InstanceId": "i-1",
    "InstanceMetadataOptions": {
        "HttpEndpoint": "enabled",
        "HttpProtocolIpv6": "",
        "HttpPutResponseHopLimit": 2,
        "HttpTokens": "required",
        "InstanceMetadataTags": "",
        "State": "pending"
    }
}
)");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"deregister-image", "--image-id", "ami-9"},
           {"delete-key-pair", "--key-name", "k"},
           {"delete-placement-group", "--group-name", "pg"},
           {"modify-instance-attribute", "--instance-id", "i-1", "--user-data", "x"}}) {
    const auto r = cli.Run(args);
    CHECK(r.exit_code == 0);
    CHECK(r.out.empty());  // as `aws ec2`: these print nothing
  }
}

TEST_CASE("a refused call prints the aws error line and exits 254", "[cli][render]") {
  CliHarness cli;
  cli.api.Fail("TerminateInstances",
               ServiceError("InvalidInstanceID.NotFound", "TerminateInstances",
                            "The instance ID 'i-9' does not exist", ""));
  const auto r = cli.Run({"terminate-instances", "--instance-ids", "i-9"});
  CHECK(r.exit_code == kExitServiceError);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "\nAn error occurred (InvalidInstanceID.NotFound) when calling the TerminateInstances "
        "operation: The instance ID 'i-9' does not exist\n");
}

TEST_CASE("an unreachable controller is named with the way to point at another one",
          "[cli][render]") {
  // The real gRPC API against a port nothing listens on: UNAVAILABLE without an EC2 code.
  std::ostringstream out, err;
  CliEnvironment env;
  env.make_api = MakeGrpcComputeApi;
  env.out = &out;
  env.err = &err;
  env.sleep = [](std::chrono::milliseconds) {};
  // The real API signs every call: give it a key, so the failure is the connection's.
  ::setenv("AWS_ACCESS_KEY_ID", "AKIAAAAAAAAAAAAAAAAA", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
  const char* argv[] = {"minicloud",   "describe-hosts",     "--endpoint",
                        "127.0.0.1:1", "--cli-read-timeout", "60"};
  CHECK(RunCli(6, argv, env) == kExitServiceError);
  INFO(err.str());
  CHECK(err.str().rfind(
            "\nAn error occurred (EndpointConnectionError) when calling the DescribeHosts "
            "operation: ",
            0) == 0);
  CHECK(err.str().find("\nIs the controller running at 127.0.0.1:1? (set MINICLOUD_ENDPOINT or "
                       "--endpoint)\n") != std::string::npos);
  CHECK(out.str().empty());
}

TEST_CASE("global options anywhere on the line reach the verb", "[cli][parse]") {
  struct Case {
    std::vector<std::string> args;
    std::string endpoint, output;
    double timeout_s;
    bool output_given;
  };
  const std::vector<Case> cases = {
      {{"describe-hosts"}, "127.0.0.1:7700", "json", 60, false},
      {{"--output", "table", "describe-hosts", "--host-ids", "h-1"},
       "127.0.0.1:7700",
       "table",
       60,
       true},
      {{"describe-hosts", "--host-ids", "h-1", "--output", "table"},
       "127.0.0.1:7700",
       "table",
       60,
       true},
      {{"describe-hosts", "--output", "text", "--host-ids", "h-1", "--endpoint", "10.0.0.1:7700",
        "--cli-read-timeout", "5"},
       "10.0.0.1:7700",
       "text",
       5,
       true},
      {{"--endpoint", "10.0.0.2:1", "describe-hosts", "--cli-read-timeout", "7", "--host-ids",
        "h-1"},
       "10.0.0.2:1",
       "json",
       7,
       false},
      {{"describe-hosts", "--output=table", "--endpoint=10.0.0.3:2", "--host-ids", "h-1"},
       "10.0.0.3:2",
       "table",
       60,
       true},
  };
  for (const auto& c : cases) {
    std::string line;
    for (const auto& a : c.args) line += a + " ";
    DYNAMIC_SECTION("minicloud " << line) {
      CliHarness cli;
      const auto r = cli.Run(c.args);
      INFO(r.err);
      REQUIRE(r.exit_code == 0);
      CHECK(r.globals.endpoint == c.endpoint);
      CHECK(r.globals.output == c.output);
      CHECK(r.globals.timeout_s == c.timeout_s);
      CHECK(r.globals.output_given == c.output_given);
      REQUIRE(cli.api.sent().size() == 1);
      // The verb's own flags are still its own, wherever the global ones stand.
      const auto& req = static_cast<const v1::DescribeHostsRequest&>(*cli.api.sent()[0].request);
      CHECK(req.host_ids_size() == (line.find("h-1") != std::string::npos ? 1 : 0));
    }
  }
  // Between a verb's positional argument and its flags.
  CliHarness cli;
  cli.api.Answer<v1::DescribeInstancesResponse>(
      "DescribeInstances",
      R"(reservations { instances { instance_id: "i-1" state { name: "running" } } })");
  const auto r = cli.Run({"wait", "instance-running", "--output", "json", "--instance-ids", "i-1",
                          "--endpoint", "10.0.0.9:7700"});
  CHECK(r.exit_code == 0);
  CHECK(r.globals.endpoint == "10.0.0.9:7700");
  CHECK(r.globals.output_given);
}

}  // namespace
// Would catch: a status rendered without its Details or with the summaries swapped.
TEST_CASE("describe-instance-status prints the aws JSON shape", "[cli][render]") {
  CliHarness cli;
  cli.api.Answer<v1::DescribeInstanceStatusResponse>(
      "DescribeInstanceStatus",
      R"(instance_statuses { instance_id: "i-1" availability_zone: "home-1a"
           instance_state { code: 16 name: "running" }
           instance_status { status: "initializing"
                             details { name: "reachability" status: "initializing" } }
           system_status { status: "ok" details { name: "reachability" status: "passed" } } })");
  const auto r = cli.Run({"describe-instance-status", "--output", "table"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == AwsTable(cli, {"describe-instance-status", "--output", "table"}));
  const auto j = cli.Run({"describe-instance-status"});
  auto doc = nlohmann::json::parse(j.out);
  CHECK(doc["InstanceStatuses"][0]["SystemStatus"]["Details"][0]["Status"] == "passed");
  CHECK(doc["InstanceStatuses"][0]["InstanceStatus"]["Status"] == "initializing");
  CHECK(doc["InstanceStatuses"][0]["InstanceState"]["Code"] == 16);
}

}  // namespace minicloud::cli
