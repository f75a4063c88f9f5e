// The EC2 Query API driven by the real aws CLI v1 and boto3 over loopback, against a controller
// in this process (real services, RocksDB, SigV4 verifier, Beast server) with agents on fake
// hypervisors, so instances really go pending → running → stopping → stopped.
//
// Bugs these catch: an action missing from the table or answering a shape botocore cannot
// parse (fields vanish from the CLI's JSON), lists or filters serialized by botocore and misread
// here, DryRun not answered 412, base64 user data decoded wrongly, a request with a wrong secret
// or no signature accepted.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/testing/query_endpoint.h"
#include "tests/testing/skip.h"
#include "tests/testing/test_cloud.h"

namespace minicloud {
namespace {

using testing::CommandResult;
using Result = CommandResult;

Result Run(const std::string& command) { return testing::RunCommand(command); }
bool Have(const std::string& command) { return Run(command).exit_code == 0; }

// A cloud of three hosts plus the Query API on a kernel-chosen port.
struct QueryCloud {
  testing::TestCloud cloud;
  std::string key_id, secret;  // an access key the controller issued (AccessKeyService)
  std::unique_ptr<auth::RequestVerifier> verifier;
  std::unique_ptr<testing::QueryEndpoint> endpoint_;
  std::string image;

  QueryCloud() {
    cloud.AddHost("home-1a", "rack-1");
    cloud.AddHost("home-1a", "rack-2");
    cloud.AddHost("home-1b", "rack-3");
    image = cloud.controller().RegisterImage();
    auto key = cloud.controller().access_keys->CreateAccessKey(v1::CreateAccessKeyRequest());
    REQUIRE(key.ok());
    key_id = key->access_key().access_key_id();
    secret = key->access_key().secret_access_key();
    // The controller's keys, checked against the real clock (the aws CLI signs with it).
    verifier = testing::RealClockVerifier(cloud.controller());
    auto e = testing::QueryEndpoint::Start(cloud.controller(), *verifier, 42);
    REQUIRE(e.ok());
    endpoint_ = std::move(*e);
  }

  std::string endpoint() const { return endpoint_->url(); }

  // `aws ec2 <args>` with our credentials and nothing from the user's configuration.
  Result Aws(const std::string& args, const std::string& secret_override = "",
             const std::string& aws = "aws") {
    return Run(testing::AwsEc2Command(
        endpoint(), {key_id, secret_override.empty() ? secret : secret_override, ""}, args, aws));
  }
  nlohmann::json AwsJson(const std::string& args) {
    Result r = Aws(args);
    INFO("aws ec2 " << args << "\n" << r.out);
    REQUIRE(r.exit_code == 0);
    if (r.out.empty()) return nlohmann::json::object();
    return nlohmann::json::parse(r.out);
  }
};

void RequireAwsCli() {
  if (!Have("aws --version")) testing::SkipTest("the aws CLI is not on PATH");
}

TEST_CASE("aws CLI v1: key pairs, placement groups and images through the Query API") {
  RequireAwsCli();
  QueryCloud q;
  auto created = q.AwsJson("create-key-pair --key-name k1");
  CHECK(created["KeyName"] == "k1");
  CHECK(created["KeyMaterial"].get<std::string>().find("PRIVATE KEY") != std::string::npos);
  auto keys = q.AwsJson("describe-key-pairs --key-names k1");
  REQUIRE(keys["KeyPairs"].size() == 1);
  CHECK(keys["KeyPairs"][0]["KeyPairId"] == created["KeyPairId"]);

  testing::TempDir dir;
  const std::string key_file = dir / "id";
  REQUIRE(Have(absl::StrCat("ssh-keygen -q -t ed25519 -N '' -f ", key_file)));
  auto imported = q.AwsJson(absl::StrCat(
      "import-key-pair --key-name k2 --public-key-material fileb://", key_file, ".pub"));
  CHECK(imported["KeyName"] == "k2");
  CHECK(q.AwsJson("describe-key-pairs")["KeyPairs"].size() == 2);
  q.AwsJson("delete-key-pair --key-name k2");
  CHECK(q.AwsJson("describe-key-pairs")["KeyPairs"].size() == 1);
  Result dup = q.Aws("create-key-pair --key-name k1");
  CHECK(dup.exit_code != 0);
  CHECK(dup.out.find("InvalidKeyPair.Duplicate") != std::string::npos);

  auto pg = q.AwsJson("create-placement-group --group-name pg1 --strategy spread");
  CHECK(pg["PlacementGroup"]["Strategy"] == "spread");
  auto part =
      q.AwsJson("create-placement-group --group-name pg2 --strategy partition --partition-count 3");
  CHECK(part["PlacementGroup"]["PartitionCount"] == 3);
  auto groups = q.AwsJson("describe-placement-groups --group-names pg1 pg2");
  CHECK(groups["PlacementGroups"].size() == 2);
  auto filtered = q.AwsJson("describe-placement-groups --filters Name=strategy,Values=partition");
  REQUIRE(filtered["PlacementGroups"].size() == 1);
  CHECK(filtered["PlacementGroups"][0]["GroupName"] == "pg2");
  q.AwsJson("delete-placement-group --group-name pg1");
  CHECK(q.AwsJson("describe-placement-groups")["PlacementGroups"].size() == 1);

  auto images = q.AwsJson("describe-images --image-ids " + q.image);
  REQUIRE(images["Images"].size() == 1);
  CHECK(images["Images"][0]["State"] == "available");
  CHECK(images["Images"][0]["Name"] == "test-image");
  Result dry = q.Aws("deregister-image --dry-run --image-id " + q.image);
  CHECK(dry.out.find("DryRunOperation") != std::string::npos);
  CHECK(q.AwsJson("describe-images")["Images"].size() == 1);

  auto zones = q.AwsJson("describe-availability-zones");
  CHECK(zones["AvailabilityZones"].size() == 2);
  auto types = q.AwsJson("describe-instance-types --instance-types t3.micro");
  REQUIRE(types["InstanceTypes"].size() == 1);
  CHECK(types["InstanceTypes"][0]["VCpuInfo"]["DefaultVCpus"] == 2);
}

TEST_CASE("aws CLI v1: run, describe with filters, stop, start, terminate, console output") {
  RequireAwsCli();
  QueryCloud q;
  auto run = q.AwsJson(
      absl::StrCat("run-instances --image-id ", q.image,
                   " --instance-type t3.micro --count 2 --user-data 'echo hello'",
                   " --placement AvailabilityZone=home-1a",
                   " --tag-specifications 'ResourceType=instance,Tags=[{Key=team,Value=q}]'"));
  REQUIRE(run["Instances"].size() == 2);
  const std::string a = run["Instances"][0]["InstanceId"], b = run["Instances"][1]["InstanceId"];
  CHECK(run["Instances"][0]["Placement"]["AvailabilityZone"] == "home-1a");
  CHECK(run["Instances"][0]["State"]["Name"] == "pending");

  auto running_ids = [&] {
    auto r = q.AwsJson(
        "describe-instances --filters Name=instance-state-name,Values=running "
        "Name=availability-zone,Values=home-1a");
    std::vector<std::string> ids;
    for (auto& res : r["Reservations"]) {
      for (auto& i : res["Instances"]) ids.push_back(i["InstanceId"]);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  std::vector<std::string> both = {a, b};
  std::sort(both.begin(), both.end());
  REQUIRE(testing::TestCloud::Eventually([&] { return running_ids() == both; },
                                         std::chrono::seconds(30)));
  auto by_id = q.AwsJson("describe-instances --instance-ids " + a);
  REQUIRE(by_id["Reservations"].size() == 1);
  CHECK(by_id["Reservations"][0]["Instances"][0]["InstanceId"] == a);
  CHECK(by_id["Reservations"][0]["ReservationId"] == run["ReservationId"]);

  auto stop = q.AwsJson("stop-instances --instance-ids " + a);
  CHECK(stop["StoppingInstances"][0]["CurrentState"]["Name"] == "stopping");
  CHECK(stop["StoppingInstances"][0]["PreviousState"]["Code"] == 16);
  REQUIRE(testing::TestCloud::Eventually([&] { return q.cloud.StateOf(a) == "stopped"; },
                                         std::chrono::seconds(30)));
  q.AwsJson("modify-instance-attribute --instance-id " + a + " --user-data 'Value=echo bye'");
  auto attr = q.AwsJson("describe-instance-attribute --instance-id " + a + " --attribute userData");
  // The CLI prints the attribute as the wire carries it: base64 of the raw bytes.
  CHECK(attr["UserData"]["Value"] == "ZWNobyBieWU=");
  auto start = q.AwsJson("start-instances --instance-ids " + a);
  CHECK(start["StartingInstances"][0]["CurrentState"]["Name"] == "pending");

  Result console = q.Aws("get-console-output --instance-id " + b);
  INFO(console.out);
  CHECK(console.exit_code == 0);
  CHECK(console.out.find(b) != std::string::npos);

  Result dry = q.Aws("terminate-instances --dry-run --instance-ids " + a);
  CHECK(dry.exit_code != 0);
  CHECK(dry.out.find("DryRunOperation") != std::string::npos);
  auto term = q.AwsJson("terminate-instances --instance-ids " + a + " " + b);
  CHECK(term["TerminatingInstances"].size() == 2);
  REQUIRE(testing::TestCloud::Eventually(
      [&] { return q.cloud.StateOf(a) == "terminated" && q.cloud.StateOf(b) == "terminated"; },
      std::chrono::seconds(30)));
}

TEST_CASE("aws CLI v1: wrong secret, unknown parameter and unknown action are refused") {
  RequireAwsCli();
  QueryCloud q;
  Result bad = q.Aws("describe-instances", "not-the-secret");
  CHECK(bad.exit_code != 0);
  CHECK(bad.out.find("SignatureDoesNotMatch") != std::string::npos);
  // The CLI only sends parameters of the model; a raw signed request goes through boto3 below.
  Result missing = q.Aws("describe-instances --instance-ids i-0123456789abcdef0");
  CHECK(missing.out.find("InvalidInstanceID.NotFound") != std::string::npos);
  // A deleted key is refused at once (bug: keys cached past their deletion).
  v1::DeleteAccessKeyRequest del;
  del.set_access_key_id(q.key_id);
  REQUIRE(q.cloud.controller().access_keys->DeleteAccessKey(del).ok());
  Result deleted = q.Aws("describe-instances");
  CHECK(deleted.exit_code != 0);
  CHECK(deleted.out.find("AuthFailure") != std::string::npos);
}

TEST_CASE("aws CLI v2 (Debian's awscli): key pairs, run-instances and describe-instances") {
  if (!Have("/usr/bin/aws --version"))
    testing::SkipTest("/usr/bin/aws (the aws CLI v2) is missing");
  QueryCloud q;
  Result created = q.Aws("create-key-pair --key-name v2 --query KeyName", "", "/usr/bin/aws");
  INFO(created.out);
  REQUIRE(created.exit_code == 0);
  CHECK(created.out.find("\"v2\"") != std::string::npos);
  Result run = q.Aws("run-instances --image-id " + q.image +
                         " --instance-type t3.micro --count 1 --query Instances[0].InstanceId "
                         "--output text",
                     "", "/usr/bin/aws");
  INFO(run.out);
  REQUIRE(run.exit_code == 0);
  const std::string id = run.out.substr(0, run.out.find_first_of("\r\n"));
  CHECK(id.rfind("i-", 0) == 0);
  Result desc = q.Aws("describe-instances --filters Name=instance-id,Values=" + id +
                          " --query Reservations[0].Instances[0].InstanceType --output text",
                      "", "/usr/bin/aws");
  CHECK(desc.out.find("t3.micro") != std::string::npos);
}

TEST_CASE("boto3: run with options, filters, DryRun 412, errors, unsigned and unknown action") {
  RequireAwsCli();
  if (!Have("python3 -c 'import boto3'")) testing::SkipTest("python3 with boto3 is missing");
  QueryCloud q;
  Result r =
      Run(absl::StrCat("python3 ", MINICLOUD_SOURCE_DIR, "/tests/integration/query_boto3_check.py ",
                       q.endpoint(), " ", q.key_id, " '", q.secret, "' ", q.image));
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("boto3 checks passed") != std::string::npos);
}

// Bugs these catch (one line each): a shape the CLI's waiters cannot read (instance-running or
// instance-status-ok never succeed: the bounded `timeout` fails the test); RebootInstances or
// DescribeRegions missing from the table; nextToken not written or NextToken not read (the
// CLI's --page-size paging returns 5 instead of 12, --max-items gives no NextToken).
TEST_CASE("aws CLI v1: waiters, describe-instance-status, reboot-instances, describe-regions") {
  RequireAwsCli();
  QueryCloud q;
  auto run = q.AwsJson("run-instances --image-id " + q.image + " --instance-type t3.micro");
  const std::string id = run["Instances"][0]["InstanceId"];
  // The waiters poll every 15 s, up to 40 times: bound them so a shape they misread fails here.
  const std::string bounded = "timeout 90 aws";
  Result waited = q.Aws("wait instance-running --instance-ids " + id, "", bounded);
  INFO(waited.out);
  REQUIRE(waited.exit_code == 0);

  auto status = q.AwsJson("describe-instance-status --instance-ids " + id);
  REQUIRE(status["InstanceStatuses"].size() == 1);
  CHECK(status["InstanceStatuses"][0]["InstanceId"] == id);
  CHECK(status["InstanceStatuses"][0]["InstanceState"]["Name"] == "running");
  CHECK(status["InstanceStatuses"][0]["SystemStatus"]["Status"] == "ok");
  CHECK(status["InstanceStatuses"][0]["SystemStatus"]["Details"][0]["Name"] == "reachability");
  CHECK(status["InstanceStatuses"][0]["InstanceStatus"]["Status"] == "initializing");

  // The controller's clock is fake: move it past the grace period; the agents' next reports
  // (every 200 ms) keep the host reachable at the new time.
  q.cloud.controller().clock.Advance(q.cloud.controller().config.status_check_grace);
  Result ok = q.Aws("wait instance-status-ok --instance-ids " + id, "", bounded);
  INFO(ok.out);
  REQUIRE(ok.exit_code == 0);
  auto after = q.AwsJson("describe-instance-status --include-all-instances");
  REQUIRE(after["InstanceStatuses"].size() == 1);
  CHECK(after["InstanceStatuses"][0]["InstanceStatus"]["Status"] == "ok");

  Result reboot = q.Aws("reboot-instances --instance-ids " + id);
  INFO(reboot.out);
  CHECK(reboot.exit_code == 0);
  CHECK(q.cloud.StateOf(id) == "running");
  Result dry = q.Aws("reboot-instances --dry-run --instance-ids " + id);
  CHECK(dry.out.find("DryRunOperation") != std::string::npos);

  auto regions = q.AwsJson("describe-regions");
  REQUIRE(regions["Regions"].size() == 1);
  CHECK(regions["Regions"][0]["RegionName"] == "home-1");
  CHECK(regions["Regions"][0]["OptInStatus"] == "opt-in-not-required");
}

// Would catch: InstanceStorageInfo without Disks / NvmeSupport (or named so botocore drops it),
// BlockDeviceMapping.N not read from the wire (UnknownParameter) or its device name lost on the
// way to the host, and a malformed or EBS mapping accepted.
TEST_CASE("aws CLI v1: instance types with instance store and --block-device-mappings") {
  RequireAwsCli();
  QueryCloud q;
  auto& store_host = q.cloud.AddHost("home-1a", "rack-4", 64, 262144, /*instance_store_gb=*/200);
  auto types = q.AwsJson("describe-instance-types --instance-types m5d.4xlarge t3.micro");
  REQUIRE(types["InstanceTypes"].size() == 2);
  for (const auto& t : types["InstanceTypes"]) {
    if (t["InstanceType"] == "t3.micro") {
      CHECK(t["InstanceStorageSupported"] == false);
      CHECK_FALSE(t.contains("InstanceStorageInfo"));
      continue;
    }
    CHECK(t["InstanceStorageSupported"] == true);
    const auto& info = t["InstanceStorageInfo"];
    CHECK(info["TotalSizeInGB"] == 600);
    CHECK(info["NvmeSupport"] == "required");
    CHECK(info["EncryptionSupport"] == "required");
    REQUIRE(info["Disks"].size() == 1);
    CHECK(info["Disks"][0]["SizeInGB"] == 300);
    CHECK(info["Disks"][0]["Count"] == 2);
    CHECK(info["Disks"][0]["Type"] == "ssd");
  }

  auto run = q.AwsJson("run-instances --image-id " + q.image +
                       " --instance-type m5d.large --block-device-mappings "
                       "DeviceName=/dev/sdc,VirtualName=ephemeral0");
  const std::string id = run["Instances"][0]["InstanceId"];
  REQUIRE(testing::TestCloud::Eventually([&] { return q.cloud.StateOf(id) == "running"; }));
  auto spec = store_host.hypervisor->SpecOf(id);
  REQUIRE(spec.has_value());
  REQUIRE(spec->instance_store.size() == 1);
  CHECK(spec->instance_store[0].target_dev == "vdc");

  struct Bad {
    std::string mapping, code;
  };
  for (const Bad& b :
       {Bad{"DeviceName=/dev/sdb,VirtualName=scratch", "InvalidParameterValue"},
        Bad{"DeviceName=/dev/hdq,VirtualName=ephemeral0", "InvalidBlockDeviceMapping"},
        Bad{"DeviceName=/dev/sdf,Ebs={VolumeSize=20}", "UnsupportedOperation"}}) {
    Result r = q.Aws("run-instances --image-id " + q.image +
                     " --instance-type m5d.large --block-device-mappings " + b.mapping);
    INFO(b.mapping << "\n" << r.out);
    CHECK(r.exit_code != 0);
    CHECK(r.out.find(b.code) != std::string::npos);
  }
}

TEST_CASE("aws CLI v1: automatic paging with --page-size and --max-items") {
  RequireAwsCli();
  QueryCloud q;
  q.cloud.AddHost("home-1b", "rack-4");  // room for 12 t3.micro beside the three hosts
  auto run = q.AwsJson("run-instances --image-id " + q.image + " --instance-type t3.micro" +
                       " --count 12");
  REQUIRE(run["Instances"].size() == 12);
  auto count = [](const nlohmann::json& j) {
    size_t n = 0;
    for (auto& res : j["Reservations"]) n += res["Instances"].size();
    return n;
  };
  // --page-size 5: the CLI sends MaxResults=5 and follows nextToken over three pages.
  auto all = q.AwsJson("describe-instances --page-size 5");
  CHECK(count(all) == 12);
  CHECK_FALSE(all.contains("NextToken"));
  auto statuses = q.AwsJson("describe-instance-status --include-all-instances --page-size 5");
  CHECK(statuses["InstanceStatuses"].size() == 12);
  // --max-items 5: five statuses and a token to continue from. (The CLI counts items of the
  // result key, so describe-instances would count the one reservation, not its instances.)
  auto first =
      q.AwsJson("describe-instance-status --include-all-instances --max-items 5 --page-size 5");
  CHECK(first["InstanceStatuses"].size() == 5);
  REQUIRE(first.contains("NextToken"));
  auto rest = q.AwsJson("describe-instance-status --include-all-instances --page-size 5" +
                        std::string(" --starting-token ") + first["NextToken"].get<std::string>());
  CHECK(rest["InstanceStatuses"].size() == 7);
  CHECK_FALSE(rest.contains("NextToken"));
}

}  // namespace
}  // namespace minicloud
