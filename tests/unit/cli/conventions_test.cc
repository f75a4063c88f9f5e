// The aws CLI's conventions, through the whole command (RunCli) against FakeComputeApi. Each
// test is named by the one-line bug it catches.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/cli_input.h"
#include "cli/suggest.h"
#include "minicloud/v1/compute.pb.h"
#include "tests/testing/skip.h"
#include "tests/unit/cli/fake_compute_api.h"

namespace minicloud::cli {
namespace {

using testing::CliHarness;
using testing::EqualsText;
using testing::TextOf;

bool HasJp() { return std::system("command -v jp >/dev/null 2>&1") == 0; }

// The one request `args` sent, as text, after checking it went out as `operation`.
const google::protobuf::Message& Sent(CliHarness& cli, const std::vector<std::string>& args,
                                      const std::string& operation) {
  const auto r = cli.Run(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(cli.api.sent().size() == 1);
  REQUIRE(cli.api.sent()[0].operation == operation);
  return *cli.api.sent()[0].request;
}

TEST_CASE("bug: --filters takes only one shorthand form (Values=[a,b], JSON, tag:Key refused)",
          "[cli][conventions]") {
  const std::string want =
      R"(filters { name: "instance-state-name" values: "running" values: "pending" }
         filters { name: "tag:Env" values: "prod" values: "dev" })";
  const std::vector<std::vector<std::string>> forms = {
      {"--filters", "Name=instance-state-name,Values=running,pending",
       "Name=tag:Env,Values=prod,dev"},
      {"--filters", "Name=instance-state-name,Values=[running,pending]",
       "Name=tag:Env,Values=[prod,dev]"},
      {"--filters",
       R"([{"Name": "instance-state-name", "Values": ["running", "pending"]},
           {"Name": "tag:Env", "Values": ["prod", "dev"]}])"},
      {"--filters", R"({"Name": "instance-state-name", "Values": ["running", "pending"]})",
       "Name=tag:Env,Values=[prod,dev]"},
  };
  for (const auto& form : forms) {
    CliHarness cli;
    std::vector<std::string> args = {"describe-instances"};
    args.insert(args.end(), form.begin(), form.end());
    const auto& req = Sent(cli, args, "DescribeInstances");
    INFO(TextOf(req));
    CHECK(EqualsText(req, want));
  }
}

TEST_CASE("bug: quoted shorthand values lose their commas", "[cli][conventions]") {
  CliHarness cli;
  const auto& req = Sent(cli, {"describe-images", "--filters", R"(Name=name,Values=["a,b",'c=d'])"},
                         "DescribeImages");
  CHECK(EqualsText(req, R"(filters { name: "name" values: "a,b" values: "c=d" })"));
}

// A temporary HOME holding one file, restored afterwards.
struct FakeHome {
  std::filesystem::path dir;
  std::string old_home;
  explicit FakeHome(const std::string& name, const std::string& content) {
    dir = std::filesystem::temp_directory_path() / ("mc-home-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / name) << content;
    const char* h = std::getenv("HOME");
    old_home = h != nullptr ? h : "";
    setenv("HOME", dir.c_str(), 1);
  }
  ~FakeHome() {
    setenv("HOME", old_home.c_str(), 1);
    std::filesystem::remove_all(dir);
  }
};

TEST_CASE("bug: file://~/x looks for a directory called ~", "[cli][conventions]") {
  FakeHome home("filters.json", R"([{"Name": "tag-key", "Values": ["Env"]}])");
  CliHarness cli;
  const auto& req =
      Sent(cli, {"describe-instances", "--filters", "file://~/filters.json"}, "DescribeInstances");
  CHECK(EqualsText(req, R"(filters { name: "tag-key" values: "Env" })"));
  CliHarness ud;
  std::ofstream(home.dir / "ud.sh") << "#!/bin/sh\necho hi\n";
  const auto& run =
      Sent(ud, {"run-instances", "--image-id", "ami-1", "--user-data", "file://~/ud.sh"},
           "RunInstances");
  CHECK(static_cast<const v1::RunInstancesRequest&>(run).user_data() == "#!/bin/sh\necho hi\n");
}

TEST_CASE("bug: --tag-specifications is not read, or tags of another resource type are sent",
          "[cli][conventions]") {
  CliHarness cli;
  const auto& req = Sent(cli,
                         {"run-instances", "--image-id", "ami-1", "--tag-specifications",
                          "ResourceType=instance,Tags=[{Key=Name,Value=web},{Key=env,Value=prod}]"},
                         "RunInstances");
  CHECK(EqualsText(req, R"(image_id: "ami-1" instance_type: "t3.micro" min_count: 1 max_count: 1
                           tags { key: "Name" value: "web" } tags { key: "env" value: "prod" })"));
  CliHarness json;
  const auto& req2 =
      Sent(json,
           {"run-instances", "--image-id", "ami-1", "--tag-specifications",
            R"([{"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}])"},
           "RunInstances");
  CHECK(static_cast<const v1::RunInstancesRequest&>(req2).tags(0).key() == "a");
  CliHarness wrong;
  const auto r = wrong.Run({"run-instances", "--image-id", "ami-1", "--tag-specifications",
                            "ResourceType=volume,Tags=[{Key=a,Value=b}]"});
  CHECK(r.exit_code == kExitServiceError);
  CHECK(r.err.find("InvalidParameterValue") != std::string::npos);
  CHECK(wrong.api.sent().empty());
}

TEST_CASE("bug: --block-device-mappings is silently dropped or its mistakes are not named",
          "[cli][conventions]") {
  CliHarness cli;
  const auto& req = Sent(cli,
                         {"run-instances", "--image-id", "ami-1", "--block-device-mappings",
                          "DeviceName=/dev/sdc,VirtualName=ephemeral0",
                          R"([{"DeviceName": "/dev/sdb", "NoDevice": ""}])"},
                         "RunInstances");
  CHECK(EqualsText(req, R"(image_id: "ami-1" instance_type: "t3.micro" min_count: 1 max_count: 1
                           block_device_mappings { device_name: "/dev/sdc"
                                                   virtual_name: "ephemeral0" }
                           block_device_mappings { device_name: "/dev/sdb" no_device: true })"));
  CliHarness ebs;
  const auto& sent = Sent(ebs,
                          {"run-instances", "--image-id", "ami-1", "--block-device-mappings",
                           "DeviceName=/dev/sda1,Ebs={VolumeSize=20,VolumeType=gp3}"},
                          "RunInstances");
  CHECK(static_cast<const v1::RunInstancesRequest&>(sent).block_device_mappings(0).has_ebs());
  CliHarness bad;
  auto r = bad.Run({"run-instances", "--image-id", "ami-1", "--block-device-mappings",
                    R"([{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": "big"}}])"});
  CHECK(r.exit_code == kExitUsage);
  CHECK(r.err.find("Ebs.VolumeSize must be a positive number") != std::string::npos);
  CHECK(bad.api.sent().empty());
}

TEST_CASE("bug: --cli-input-json is ignored, overrides the command line, or takes unknown keys",
          "[cli][conventions]") {
  CliHarness cli;
  const auto& req =
      Sent(cli,
           {"run-instances", "--instance-type", "t3.small", "--cli-input-json",
            R"({"ImageId": "ami-7", "InstanceType": "t3.large", "MinCount": 2, "MaxCount": 3,
           "DryRun": true, "TagSpecifications": [{"ResourceType": "instance",
           "Tags": [{"Key": "k", "Value": "v"}]}], "Placement": {"GroupName": "pg"}})"},
           "RunInstances");
  CHECK(EqualsText(req, R"(image_id: "ami-7" instance_type: "t3.small" min_count: 2 max_count: 3
                           dry_run: true tags { key: "k" value: "v" }
                           placement { group_name: "pg" })"));
  CliHarness ids;
  const auto& req2 =
      Sent(ids, {"terminate-instances", "--cli-input-json", R"({"InstanceIds": ["i-1", "i-2"]})"},
           "TerminateInstances");
  CHECK(EqualsText(req2, R"(instance_ids: "i-1" instance_ids: "i-2")"));
  CliHarness bad;
  const auto r = bad.Run({"describe-instances", "--cli-input-json", R"({"Bogus": 1})"});
  CHECK(r.exit_code == kExitUsage);
  CHECK(r.err.find("Unknown parameter in input: \"Bogus\"") != std::string::npos);
  CHECK(bad.api.sent().empty());
}

TEST_CASE("bug: --generate-cli-skeleton needs the required flags or calls the controller",
          "[cli][conventions]") {
  CliHarness cli;
  const auto r = cli.Run({"run-instances", "--generate-cli-skeleton"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(cli.api.sent().empty());
  const auto skeleton = nlohmann::json::parse(r.out);
  CHECK(skeleton["ImageId"] == "");
  CHECK(skeleton["DryRun"] == true);
  CHECK(skeleton["MinCount"] == 0);
  CHECK(skeleton["TagSpecifications"][0]["Tags"][0].contains("Key"));
  CHECK(!skeleton.contains("CliInputJson"));
  // The skeleton is what --cli-input-json takes back (every member is a flag of the verb).
  CliHarness back;
  nlohmann::json input = skeleton;
  input["ImageId"] = "ami-1";
  input.erase("TagSpecifications");
  input.erase("BlockDeviceMappings");
  input.erase("Tags");
  input.erase("Count");
  input.erase("MetadataOptions");
  input.erase("Placement");
  input["Wait"] = false;
  input["DryRun"] = false;
  input["Explain"] = false;
  const auto again = back.Run({"run-instances", "--cli-input-json", input.dump()});
  INFO(again.err);
  CHECK(again.exit_code == 0);
  CHECK(FlagOfMember("InstanceIds") == "instance-ids");
  CHECK(FlagOfMember("DryRun") == "dry-run");
  CHECK(MemberOfFlag("--instance-ids") == "InstanceIds");
}

TEST_CASE("bug: --version is an unknown option", "[cli][conventions]") {
  CliHarness cli;
  const auto r = cli.Run({"--version"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("minicloud/", 0) == 0);
  CHECK(cli.api.sent().empty());
}

TEST_CASE("bug: an unknown verb does not name the closest one", "[cli][conventions]") {
  CliHarness cli;
  const auto r = cli.Run({"--output", "table", "describe-hostz"});
  CHECK(r.exit_code == kExitUsage);
  CHECK(r.err.find("Invalid choice: 'describe-hostz', maybe you meant:\n\n  * describe-hosts\n") !=
        std::string::npos);
  CHECK(cli.api.sent().empty());
  const auto far = cli.Run({"launch-rockets"});
  CHECK(far.exit_code == kExitUsage);
  CHECK(far.err.find("maybe you meant") == std::string::npos);
  CHECK(ClosestNames("terminate-instance", {"terminate-instances", "start-instances"}) ==
        std::vector<std::string>{"terminate-instances"});
}

constexpr char kInstances[] = R"(
  reservations { reservation_id: "r-1" instances { instance_id: "i-1" state { name: "running" }
                 tags { key: "Name" value: "web" } } }
  reservations { reservation_id: "r-2" instances { instance_id: "i-2" state { name: "stopped" } } })";

TEST_CASE("bug: --query is not applied (or not in every output format, or not after the verb)",
          "[cli][conventions]") {
  if (!HasJp()) ::minicloud::testing::SkipTest("jp (Debian package jp) is not installed");
  const std::string q = "Reservations[].Instances[?State.Name==`running`].InstanceId[]";
  CliHarness cli;
  cli.api.Answer<v1::DescribeInstancesResponse>("DescribeInstances", kInstances);
  CHECK(cli.Run({"describe-instances", "--query", q}).out == "[\n    \"i-1\"\n]\n");
  CHECK(cli.Run({"--query", q, "describe-instances", "--output", "text"}).out == "i-1\n");
  CHECK(cli.Run({"describe-instances", "--output", "text", "--query",
                 "Reservations[].Instances[].[InstanceId, State.Name]"})
            .out == "i-1\trunning\ni-2\tstopped\n");
  CHECK(cli.Run({"describe-instances", "--output", "table", "--query",
                 "Reservations[].Instances[].Tags[?Key=='Name'].Value[]"})
            .out ==
        "-------------------\n"
        "|DescribeInstances|\n"
        "+-----------------+\n"
        "|  web            |\n"
        "+-----------------+\n");
  const auto bad = cli.Run({"describe-instances", "--query", "Reservations[.InstanceId"});
  CHECK(bad.exit_code == kExitUsage);
  CHECK(bad.err.find("Bad value for --query Reservations[.InstanceId") != std::string::npos);
}

TEST_CASE("bug: text output is not the aws CLI's (a reservation's scalars and nested lists)",
          "[cli][conventions]") {
  CliHarness cli;
  cli.api.Answer<v1::DescribeKeyPairsResponse>("DescribeKeyPairs", R"(
      key_pairs { key_pair_id: "key-1" key_name: "k1" key_fingerprint: "ab:cd" key_type: "ed25519" }
      key_pairs { key_pair_id: "key-2" key_name: "k2" key_fingerprint: "ef" key_type: "rsa" })");
  CHECK(cli.Run({"describe-key-pairs", "--output", "text"}).out ==
        "KEYPAIRS\tab:cd\tk1\tkey-1\ted25519\n"
        "KEYPAIRS\tef\tk2\tkey-2\trsa\n");
}

}  // namespace
}  // namespace minicloud::cli
