// Argument parsing of every verb: argv -> the request the controller receives (as text format),
// or -> the usage error the aws CLI would print, with nothing sent. No server: the command runs
// against FakeComputeApi, which records each request.
#include <catch2/catch.hpp>

#include "minicloud/v1/compute.pb.h"
#include "tests/unit/cli/fake_compute_api.h"

namespace minicloud::cli {
namespace {

using testing::CliHarness;
using testing::EqualsText;
using testing::TextOf;

struct ParseCase {
  std::string group;
  std::vector<std::string> args;
  std::string operation;  // the one RPC sent
  std::string request;    // its request in text format
};

const std::vector<ParseCase>& ParseCases() {
  static const auto* kCases = new std::vector<ParseCase>{
      // instances
      {"instances",
       {"run-instances", "--image-id", "ami-1"},
       "RunInstances",
       R"(image_id: "ami-1" instance_type: "t3.micro" min_count: 1 max_count: 1)"},
      {"instances",
       {"run-instances", "--image-id", "ami-1", "--count", "2:5"},
       "RunInstances",
       R"(image_id: "ami-1" instance_type: "t3.micro" min_count: 2 max_count: 5)"},
      {"instances",
       {"run-instances", "--image-id", "ami-1", "--count", "3"},
       "RunInstances",
       R"(image_id: "ami-1" instance_type: "t3.micro" min_count: 3 max_count: 3)"},
      {"instances",
       {"run-instances", "--image-id", "ami-1", "--min-count", "2"},
       "RunInstances",
       R"(image_id: "ami-1" instance_type: "t3.micro" min_count: 2 max_count: 2)"},
      {"instances",
       {"run-instances", "--image-id", "ami-1", "--max-count", "4"},
       "RunInstances",
       R"(image_id: "ami-1" instance_type: "t3.micro" min_count: 4 max_count: 4)"},
      {"instances",
       {"run-instances", "--image-id", "ami-1", "--min-count", "1", "--max-count", "3"},
       "RunInstances",
       R"(image_id: "ami-1" instance_type: "t3.micro" min_count: 1 max_count: 3)"},
      {"instances",
       {"run-instances", "--image-id", "ami-1", "--placement",
        "AvailabilityZone=home-1b,GroupName=pg,PartitionNumber=2,Tenancy=default",
        "--availability-zone", "home-1a"},
       "RunInstances",
       R"(image_id: "ami-1" instance_type: "t3.micro" min_count: 1 max_count: 1
          placement { availability_zone: "home-1a" group_name: "pg" partition_number: 2 })"},
      {"instances",
       {"run-instances", "--image-id", "ami-1", "--metadata-options",
        "HttpTokens=required,HttpEndpoint=enabled,HttpPutResponseHopLimit=3,"
        "InstanceMetadataTags=enabled,HttpProtocolIpv6=disabled"},
       "RunInstances",
       R"(image_id: "ami-1" instance_type: "t3.micro" min_count: 1 max_count: 1
          metadata_options { http_tokens: HTTP_TOKENS_REQUIRED http_endpoint: HTTP_ENDPOINT_ENABLED
            http_put_response_hop_limit: 3 instance_metadata_tags: INSTANCE_METADATA_TAGS_ENABLED
            http_protocol_ipv6: HTTP_PROTOCOL_IPV6_DISABLED })"},
      {"instances",
       {"run-instances", "--image-id", "ami-1", "--tags", "Key=Name,Value=web", "--tags",
        "Key=env"},
       "RunInstances",
       R"(image_id: "ami-1" instance_type: "t3.micro" min_count: 1 max_count: 1
          tags { key: "Name" value: "web" } tags { key: "env" })"},
      {"instances",
       {"run-instances", "--image-id", "ami-1", "--instance-type", "t3.small", "--user-data",
        "echo hi", "--client-token", "tok-1", "--key-name", "k1", "--dry-run", "--explain"},
       "RunInstances",
       R"(image_id: "ami-1" instance_type: "t3.small" min_count: 1 max_count: 1
          user_data: "echo hi" client_token: "tok-1" key_name: "k1" dry_run: true
          explain: true)"},
      {"instances",
       {"describe-instances", "--instance-ids", "i-1", "i-2", "--filters",
        "Name=instance-state-name,Values=running,pending"},
       "DescribeInstances",
       R"(instance_ids: "i-1" instance_ids: "i-2"
          filters { name: "instance-state-name" values: "running" values: "pending" })"},
      {"instances",
       {"terminate-instances", "--instance-ids", "i-1", "--dry-run"},
       "TerminateInstances",
       R"(instance_ids: "i-1" dry_run: true)"},
      {"instances",
       {"stop-instances", "--instance-ids", "i-1", "i-2", "--force"},
       "StopInstances",
       R"(instance_ids: "i-1" instance_ids: "i-2" force: true)"},
      {"instances",
       {"start-instances", "--instance-ids", "i-1", "--dry-run"},
       "StartInstances",
       R"(instance_ids: "i-1" dry_run: true)"},
      {"instances",
       {"get-console-output", "--instance-id", "i-1", "--latest"},
       "GetConsoleOutput",
       R"(instance_id: "i-1" latest: true)"},
      {"instances",
       {"modify-instance-metadata-options", "--instance-id", "i-1", "--http-tokens", "required",
        "--http-endpoint", "enabled", "--http-put-response-hop-limit", "2",
        "--instance-metadata-tags", "disabled"},
       "ModifyInstanceMetadataOptions",
       R"(instance_id: "i-1" options { http_tokens: HTTP_TOKENS_REQUIRED http_endpoint: HTTP_ENDPOINT_ENABLED
          http_put_response_hop_limit: 2 instance_metadata_tags: INSTANCE_METADATA_TAGS_DISABLED })"},
      {"instances",
       {"modify-instance-attribute", "--instance-id", "i-1", "--user-data", "#!/bin/sh"},
       "ModifyInstanceAttribute",
       R"(instance_id: "i-1" set_user_data: true user_data: "#!/bin/sh")"},
      {"instances",
       {"describe-instance-attribute", "--instance-id", "i-1", "--attribute", "userData"},
       "DescribeInstanceAttribute",
       R"(instance_id: "i-1" attribute: "userData")"},
      {"instances",
       {"wait", "instance-running", "--instance-ids", "i-1", "i-2"},
       "DescribeInstances",
       R"(instance_ids: "i-1" instance_ids: "i-2")"},
      // images
      {"images",
       {"describe-images", "--image-ids", "ami-1", "--filters", "Name=name,Values=tiny"},
       "DescribeImages",
       R"(image_ids: "ami-1" filters { name: "name" values: "tiny" })"},
      {"images",
       {"deregister-image", "--image-id", "ami-1"},
       "DeregisterImage",
       R"(image_id: "ami-1")"},
      // key pairs
      {"keys",
       {"create-key-pair", "--key-name", "k1", "--key-type", "ed25519"},
       "CreateKeyPair",
       R"(key_name: "k1" key_type: "ed25519")"},
      {"keys",
       {"import-key-pair", "--key-name", "k1", "--public-key-material", "ssh-ed25519 AAAA x"},
       "ImportKeyPair",
       R"(key_name: "k1" public_key_material: "ssh-ed25519 AAAA x")"},
      {"keys",
       {"describe-key-pairs", "--key-names", "a", "b", "--include-public-key"},
       "DescribeKeyPairs",
       R"(key_names: "a" key_names: "b" include_public_key: true)"},
      {"keys", {"delete-key-pair", "--key-name", "k1"}, "DeleteKeyPair", R"(key_name: "k1")"},
      // placement
      {"placement",
       {"create-placement-group", "--group-name", "pg", "--strategy", "partition",
        "--partition-count", "3"},
       "CreatePlacementGroup",
       R"(group_name: "pg" strategy: PLACEMENT_STRATEGY_PARTITION partition_count: 3)"},
      {"placement",
       {"create-placement-group", "--group-name", "s", "--strategy", "spread", "--spread-level",
        "host"},
       "CreatePlacementGroup",
       R"(group_name: "s" strategy: PLACEMENT_STRATEGY_SPREAD spread_level: SPREAD_LEVEL_HOST)"},
      {"placement",
       {"describe-placement-groups", "--group-names", "a", "--group-ids", "pg-1", "--filters",
        "Name=strategy,Values=spread"},
       "DescribePlacementGroups",
       R"(group_names: "a" group_ids: "pg-1" filters { name: "strategy" values: "spread" })"},
      {"placement",
       {"delete-placement-group", "--group-name", "pg"},
       "DeletePlacementGroup",
       R"(group_name: "pg")"},
      {"placement",
       {"describe-placement", "--image-id", "ami-1"},
       "DescribePlacement",
       R"(image_id: "ami-1" instance_type: "t3.micro" min_count: 1 max_count: 1)"},
      {"placement",
       {"describe-placement", "--image-id", "ami-1", "--instance-type", "t3.small", "--count",
        "2:3", "--placement", "GroupName=pg,PartitionNumber=1"},
       "DescribePlacement",
       R"(image_id: "ami-1" instance_type: "t3.small" min_count: 2 max_count: 3
          placement { group_name: "pg" partition_number: 1 })"},
      // hosts, zones and types
      {"hosts",
       {"describe-hosts", "--host-ids", "h-1", "h-2"},
       "DescribeHosts",
       R"(host_ids: "h-1" host_ids: "h-2")"},
      {"hosts",
       {"describe-availability-zones", "--zone-names", "home-1a", "--filters",
        "Name=state,Values=available"},
       "DescribeAvailabilityZones",
       R"(zone_names: "home-1a" filters { name: "state" values: "available" })"},
      {"hosts",
       {"describe-instance-types", "--instance-types", "t3.micro", "t3.small"},
       "DescribeInstanceTypes",
       R"(instance_types: "t3.micro" instance_types: "t3.small")"},
      // tags
      {"tags",
       {"create-tags", "--resources", "i-1", "ami-2", "--tags", "Key=Name,Value=web", "--tags",
        "Key=env"},
       "CreateTags",
       R"(resources: "i-1" resources: "ami-2" tags { key: "Name" value: "web" }
          tags { key: "env" })"},
      // Key only: any value; Value= (even empty): only that value.
      {"tags",
       {"delete-tags", "--resources", "i-1", "--tags", "Key=a", "--tags",
        "Key=b,Value=", "--dry-run"},
       "DeleteTags",
       R"(resources: "i-1" tags { key: "a" } tags { key: "b" value: "" } dry_run: true)"},
      {"tags", {"delete-tags", "--resources", "pg-1"}, "DeleteTags", R"(resources: "pg-1")"},
      {"tags",
       {"describe-tags", "--filters", "Name=resource-type,Values=instance", "--max-items", "5",
        "--starting-token", "tok"},
       "DescribeTags",
       R"(filters { name: "resource-type" values: "instance" } next_token: "tok")"},
      {"tags",
       {"create-key-pair", "--key-name", "k", "--tags", "Key=team,Value=blue"},
       "CreateKeyPair",
       R"(key_name: "k" tags { key: "team" value: "blue" })"},
      {"tags",
       {"describe-key-pairs", "--filters", "Name=tag:team,Values=blue", "--key-pair-ids", "key-1"},
       "DescribeKeyPairs",
       R"(key_pair_ids: "key-1" filters { name: "tag:team" values: "blue" })"},
      {"tags",
       {"create-placement-group", "--group-name", "pg", "--strategy", "spread", "--tags",
        "Key=a,Value=b"},
       "CreatePlacementGroup",
       R"(group_name: "pg" strategy: PLACEMENT_STRATEGY_SPREAD tags { key: "a" value: "b" })"},
      // reboot, status, regions
      {"status",
       {"reboot-instances", "--instance-ids", "i-1", "i-2", "--dry-run"},
       "RebootInstances",
       R"(instance_ids: "i-1" instance_ids: "i-2" dry_run: true)"},
      {"status",
       {"describe-instance-status", "--include-all-instances", "--filters",
        "Name=instance-status.status,Values=ok", "--page-size", "5"},
       "DescribeInstanceStatus",
       R"(filters { name: "instance-status.status" values: "ok" } include_all_instances: true
          max_results: 5)"},
      {"status",
       {"describe-regions", "--region-names", "home-1"},
       "DescribeRegions",
       R"(region_names: "home-1")"},
      {"instances",
       {"describe-instances", "--max-items", "5", "--page-size", "50"},
       "DescribeInstances",
       R"(max_results: 50)"},  // volumes (a wrong field name or a flag not reaching the request
                               // fails its row)
      {"volumes",
       {"create-volume", "--availability-zone", "home-1a", "--size", "10", "--volume-type", "gp3",
        "--iops", "4000", "--throughput", "250", "--tag-specifications",
        "ResourceType=volume,Tags=[{Key=Name,Value=data}]"},
       "CreateVolume",
       R"(availability_zone: "home-1a" size: 10 volume_type: "gp3" iops: 4000 throughput: 250
          tags { key: "Name" value: "data" })"},
      {"volumes",
       {"create-volume", "--availability-zone", "home-1a", "--size", "4", "--volume-type", "io2",
        "--iops", "100", "--multi-attach-enabled", "--dry-run"},
       "CreateVolume",
       R"(availability_zone: "home-1a" size: 4 volume_type: "io2" iops: 100
          multi_attach_enabled: true dry_run: true)"},
      {"volumes",
       {"describe-volumes", "--volume-ids", "vol-1", "--filters", "Name=status,Values=available"},
       "DescribeVolumes",
       R"(volume_ids: "vol-1" filters { name: "status" values: "available" })"},
      {"volumes",
       {"delete-volume", "--volume-id", "vol-1"},
       "DeleteVolume",
       R"(volume_id: "vol-1")"},
      {"volumes",
       {"modify-volume", "--volume-id", "vol-1", "--size", "20", "--volume-type", "io1", "--iops",
        "1000"},
       "ModifyVolume",
       R"(volume_id: "vol-1" size: 20 volume_type: "io1" iops: 1000)"},
      {"volumes",
       {"modify-volume", "--volume-id", "vol-1", "--no-multi-attach-enabled"},
       "ModifyVolume",
       R"(volume_id: "vol-1" multi_attach_enabled: false)"},
      {"volumes",
       {"describe-volumes-modifications", "--volume-ids", "vol-1"},
       "DescribeVolumesModifications",
       R"(volume_ids: "vol-1")"},
      {"volumes",
       {"attach-volume", "--volume-id", "vol-1", "--instance-id", "i-1", "--device", "/dev/sdf"},
       "AttachVolume",
       R"(volume_id: "vol-1" instance_id: "i-1" device: "/dev/sdf")"},
      {"volumes",
       {"detach-volume", "--volume-id", "vol-1", "--instance-id", "i-1", "--force"},
       "DetachVolume",
       R"(volume_id: "vol-1" instance_id: "i-1" force: true)"},
      {"volumes",
       {"create-volume", "--availability-zone", "home-1a", "--snapshot-id", "snap-1"},
       "CreateVolume",
       R"(availability_zone: "home-1a" snapshot_id: "snap-1")"},
      {"snapshots",
       {"create-snapshot", "--volume-id", "vol-1", "--description", "nightly",
        "--tag-specifications", "ResourceType=snapshot,Tags=[{Key=Name,Value=n}]"},
       "CreateSnapshot",
       R"(volume_id: "vol-1" description: "nightly" tags { key: "Name" value: "n" })"},
      {"snapshots",
       {"describe-snapshots", "--owner-ids", "self", "--snapshot-ids", "snap-1", "--filters",
        "Name=status,Values=completed"},
       "DescribeSnapshots",
       R"(snapshot_ids: "snap-1" owner_ids: "self"
          filters { name: "status" values: "completed" })"},
      {"snapshots",
       {"delete-snapshot", "--snapshot-id", "snap-1", "--dry-run"},
       "DeleteSnapshot",
       R"(snapshot_id: "snap-1" dry_run: true)"},
      {"snapshots",
       {"copy-snapshot", "--source-snapshot-id", "snap-1", "--source-region", "home-1",
        "--description", "copy"},
       "CopySnapshot",
       R"(source_snapshot_id: "snap-1" source_region: "home-1" description: "copy")"},
      // Bug caught: --no-reboot or the snapshot TagSpecification not reaching the request.
      {"images",
       {"create-image", "--instance-id", "i-1", "--name", "baked", "--description", "d",
        "--no-reboot", "--block-device-mappings",
        "DeviceName=/dev/sdf,Ebs={DeleteOnTermination=false}", "--tag-specifications",
        "ResourceType=image,Tags=[{Key=a,Value=b}]",
        "ResourceType=snapshot,Tags=[{Key=c,Value=d}]"},
       "CreateImage",
       R"(instance_id: "i-1" name: "baked" description: "d" no_reboot: true
          block_device_mappings { device_name: "/dev/sdf" ebs { delete_on_termination: false } }
          tags { key: "a" value: "b" } snapshot_tags { key: "c" value: "d" })"},
      {"images",
       {"copy-image", "--source-image-id", "ami-1", "--source-region", "home-1", "--name",
        "copied"},
       "CopyImage",
       R"(source_image_id: "ami-1" source_region: "home-1" name: "copied")"},
  };
  return *kCases;
}

TEST_CASE("each verb turns its flags into the request the controller receives", "[cli][parse]") {
  for (const auto& c : ParseCases()) {
    DYNAMIC_SECTION(c.group << ": " << c.args[0] << " #" << (&c - ParseCases().data())) {
      CliHarness cli;
      cli.api.Answer<v1::DescribePlacementResponse>("DescribePlacement", "would_succeed: true");
      const auto r = cli.Run(c.args);
      INFO(r.err);
      CHECK(r.exit_code == 0);
      REQUIRE(cli.api.sent().size() == 1);
      CHECK(cli.api.sent()[0].operation == c.operation);
      INFO("sent: " << TextOf(*cli.api.sent()[0].request));
      CHECK(EqualsText(*cli.api.sent()[0].request, c.request));
    }
  }
}

TEST_CASE("every verb is registered and has a parse case", "[cli][parse]") {
  // A verb dropped from a Register* function (or a new one without a case) fails here.
  const std::vector<std::string> verbs = {"run-instances",
                                          "describe-instances",
                                          "terminate-instances",
                                          "stop-instances",
                                          "start-instances",
                                          "get-console-output",
                                          "modify-instance-metadata-options",
                                          "modify-instance-attribute",
                                          "describe-instance-attribute",
                                          "wait",
                                          "register-image",
                                          "describe-images",
                                          "deregister-image",
                                          "create-key-pair",
                                          "import-key-pair",
                                          "describe-key-pairs",
                                          "delete-key-pair",
                                          "create-placement-group",
                                          "describe-placement-groups",
                                          "delete-placement-group",
                                          "describe-placement",
                                          "describe-hosts",
                                          "describe-availability-zones",
                                          "describe-instance-types",
                                          "create-tags",
                                          "delete-tags",
                                          "describe-tags",
                                          "reboot-instances",
                                          "describe-instance-status",
                                          "describe-regions",
                                          "create-volume",
                                          "describe-volumes",
                                          "delete-volume",
                                          "modify-volume",
                                          "describe-volumes-modifications",
                                          "create-snapshot",
                                          "describe-snapshots",
                                          "delete-snapshot",
                                          "copy-snapshot",
                                          "create-image",
                                          "copy-image"};
  for (const auto& verb : verbs) {
    INFO(verb);
    // register-image reads the files it uploads: its cases make them first (below).
    CHECK((verb == "register-image" ||
           std::any_of(ParseCases().begin(), ParseCases().end(),
                       [&](const ParseCase& c) { return c.args[0] == verb; })));
    CliHarness cli;
    const auto r = cli.Run({verb, "--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("Usage:") != std::string::npos);
  }
  CliHarness cli;
  const auto r = cli.Run({"--help"});
  for (const auto& verb : verbs) {
    INFO(verb);
    CHECK((r.out.find("\n  " + verb + " ") != std::string::npos ||
           r.out.find("\n  " + verb + "\n") != std::string::npos));
  }
}

struct ErrorCase {
  std::vector<std::string> args;
  std::string error;  // a part of stderr
};

TEST_CASE("bad arguments are usage errors (252) and send nothing", "[cli][parse]") {
  const std::vector<ErrorCase> cases = {
      {{}, "A subcommand is required"},
      {{"run-instances"}, "--image-id is required"},
      {{"create-tags", "--resources", "i-1"}, "--tags is required"},
      {{"create-tags", "--tags", "Key=a"}, "--resources is required"},
      {{"create-tags", "--resources", "i-1", "--tags", "Name=a"},
       "Error parsing parameter '--tags'"},
      {{"reboot-instances"}, "--instance-ids is required"},
      {{"run-instances", "--image-id", "a", "--count", "x"},
       "\nError parsing parameter '--count': expected N or MIN:MAX, got 'x'\n"},
      {{"run-instances", "--image-id", "a", "--count", "1:y"},
       "Error parsing parameter '--count': expected N or MIN:MAX, got '1:y'"},
      {{"run-instances", "--image-id", "a", "--count", "1x"},
       "Error parsing parameter '--count': expected N or MIN:MAX, got '1x'"},
      {{"run-instances", "--image-id", "a", "--count", "1:2:3"},
       "Error parsing parameter '--count': expected N or MIN:MAX, got '1:2:3'"},
      {{"run-instances", "--image-id", "a", "--count", "1:"},
       "Error parsing parameter '--count': expected N or MIN:MAX, got '1:'"},
      {{"run-instances", "--image-id", "a", "--count", " 1"},
       "Error parsing parameter '--count': expected N or MIN:MAX, got ' 1'"},
      {{"run-instances", "--image-id", "a", "--count", "+1"},
       "Error parsing parameter '--count': expected N or MIN:MAX, got '+1'"},
      {{"run-instances", "--image-id", "a", "--count=-1"},
       "Error parsing parameter '--count': expected N or MIN:MAX, got '-1'"},
      {{"run-instances", "--image-id", "a", "--count", "99999999999"},
       "Error parsing parameter '--count': expected N or MIN:MAX, got '99999999999'"},
      {{"run-instances", "--image-id", "a", "--placement", "Foo=1"},
       "Error parsing parameter '--placement': unknown key 'Foo'"},
      {{"run-instances", "--image-id", "a", "--placement", "GroupName"},
       "Error parsing parameter '--placement': expected '=' after 'GroupName'"},
      {{"run-instances", "--image-id", "a", "--placement", "PartitionNumber=x"},
       "Error parsing parameter '--placement': PartitionNumber must be a number"},
      {{"run-instances", "--image-id", "a", "--placement", "Tenancy=dedicated"},
       "Error parsing parameter '--placement': only Tenancy=default exists here"},
      {{"run-instances", "--image-id", "a", "--metadata-options", "HttpPutResponseHopLimit=x"},
       "Error parsing parameter '--metadata-options': HttpPutResponseHopLimit must be a number"},
      {{"run-instances", "--image-id", "a", "--metadata-options", "HttpTokens"},
       "Error parsing parameter '--metadata-options': expected '=' after 'HttpTokens'"},
      {{"run-instances", "--image-id", "a", "--metadata-options", "Hops=2"},
       "Error parsing parameter '--metadata-options': unknown key 'Hops'"},
      {{"run-instances", "--image-id", "a", "--tags", "Value=x"},
       "Error parsing parameter '--tags': each tag needs Key=<k>,Value=<v>"},
      {{"run-instances", "--image-id", "a", "--user-data", "file:///nonexistent/ud.sh"},
       "Error parsing parameter '--user-data': Unable to load paramfile "
       "file:///nonexistent/ud.sh: cannot read '/nonexistent/ud.sh'"},
      {{"describe-instances", "--filters", "instance-state-name=running"},
       "Error parsing parameter '--filters': expected Name=<name>,Values=<v1>,<v2>, got "
       "'instance-state-name=running'"},
      {{"describe-images", "--filters", "Name=name"}, "expected Name=<name>,Values="},
      {{"describe-placement-groups", "--filters", "Values=x"}, "expected Name=<name>,Values="},
      {{"describe-availability-zones", "--filters", "Name=state"}, "expected Name=<name>,Values="},
      {{"terminate-instances"}, "--instance-ids is required"},
      {{"wait", "instance-sleeping", "--instance-ids", "i-1"}, "instance-sleeping not in"},
      {{"wait", "instance-running"}, "--instance-ids is required"},
      {{"register-image", "--image-location", "/x"}, "register-image needs --name (or --manifest)"},
      {{"register-image", "--name", "n"}, "register-image needs --image-location (or --manifest)"},
      {{"register-image", "--name", "n", "--image-location", "/nonexistent/tiny.qcow2"},
       "Error parsing parameter '--image-location': cannot read '/nonexistent/tiny.qcow2'"},
      {{"register-image", "--name", "n", "--image-location", "/"},
       "Error parsing parameter '--image-location': cannot read '/'"},
      {{"register-image", "--manifest", "/nonexistent/manifest.json"},
       "cannot read manifest '/nonexistent/manifest.json'"},
      {{"import-key-pair", "--key-name", "k", "--public-key-material", "fileb:///nonexistent"},
       "Error parsing parameter '--public-key-material': Unable to load paramfile"},
      {{"create-placement-group", "--group-name", "pg"}, "--strategy is required"},
      {{"describe-placement", "--image-id", "a", "--count", "1:x"},
       "Error parsing parameter '--count': expected N or MIN:MAX"},
      {{"describe-placement", "--image-id", "a", "--count", "many"},
       "Error parsing parameter '--count': expected N or MIN:MAX"},
      {{"describe-placement", "--image-id", "a", "--count", "2:3:4"},
       "Error parsing parameter '--count': expected N or MIN:MAX, got '2:3:4'"},
      {{"describe-placement", "--image-id", "a", "--count", "2 "},
       "Error parsing parameter '--count': expected N or MIN:MAX, got '2 '"},
      {{"describe-hosts", "--output", "yaml"}, "yaml not in {json,table,text}"},
      {{"describe-hosts", "--bogus"}, "The following argument was not expected: --bogus"},
      {{"terminate-instances", "--instance-ids", "i-1", "--frobnicate"},
       "argument was not expected: --frobnicate"},
  };
  for (const auto& c : cases) {
    std::string line;
    for (const auto& a : c.args) line += a + " ";
    DYNAMIC_SECTION("minicloud " << line) {
      CliHarness cli;
      const auto r = cli.Run(c.args);
      INFO(r.err);
      CHECK(r.exit_code == kExitUsage);
      CHECK(r.err.find(c.error) != std::string::npos);
      CHECK(cli.api.sent().empty());
    }
  }
}

}  // namespace
}  // namespace minicloud::cli
