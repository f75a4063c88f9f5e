// minicloud: the command-line client. Verbs, flags and JSON shapes follow `aws ec2`.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/boot_verdict.h"
#include "cli/render.h"
#include "common/ec2_error.h"
#include "common/ec2_names.h"
#include "minicloud/v1/compute.grpc.pb.h"

namespace v1 = minicloud::v1;
namespace cli = minicloud::cli;
using nlohmann::json;

namespace {

// Exit codes as the aws CLI uses them.
constexpr int kExitUsage = 252;
constexpr int kExitServiceError = 254;
constexpr int kExitWaiterFailed = 255;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An option value that is not an EC2 name (common/ec2_names.h): reported as the service
// reports it, InvalidParameterValue with exit 254, as the aws CLI shows EC2's refusal.
template <typename T>
T NamedOrExit(const absl::StatusOr<T>& value, const char* operation) {
  if (!value.ok()) {
    std::cerr << "\nAn error occurred (" << minicloud::Ec2CodeOf(value.status())
              << ") when calling the " << operation << " operation: " << value.status().message()
              << "\n";
    std::exit(kExitServiceError);
  }
  return *value;
}

struct Globals {
  std::string endpoint;
  std::string output = "json";
  double timeout_s = 60;
};

class Client {
 public:
  explicit Client(const Globals& g)
      : g_(g),
        stub_(v1::ComputeService::NewStub(
            grpc::CreateChannel(g.endpoint, grpc::InsecureChannelCredentials()))) {}

  // Calls one RPC; on failure prints the aws-style error line and exits.
  template <typename Req, typename Resp, typename Method>
  Resp Call(const char* operation, Method method, const Req& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(static_cast<int64_t>(g_.timeout_s * 1000)));
    Resp resp;
    grpc::Status s = (stub_.get()->*method)(&ctx, req, &resp);
    if (!s.ok()) {
      std::string code = s.error_details();
      if (code.empty()) {
        code = s.error_code() == grpc::StatusCode::UNAVAILABLE ? "EndpointConnectionError"
                                                               : "InternalError";
      }
      std::cerr << "\nAn error occurred (" << code << ") when calling the " << operation
                << " operation: " << s.error_message() << "\n";
      if (s.error_code() == grpc::StatusCode::UNAVAILABLE && s.error_details().empty()) {
        std::cerr << "Is the controller running at " << g_.endpoint
                  << "? (set MINICLOUD_ENDPOINT or --endpoint)\n";
      }
      std::exit(kExitServiceError);
    }
    return resp;
  }

 private:
  const Globals& g_;
  std::unique_ptr<v1::ComputeService::Stub> stub_;
};

// "file://path" reads a file, "fileb://path" too (bytes either way), anything else is literal.
std::string ReadBlobArg(const std::string& value, const std::string& what) {
  for (const char* prefix : {"fileb://", "file://"}) {
    if (absl::StartsWith(value, prefix)) {
      std::string path = value.substr(std::string(prefix).size());
      std::ifstream f(path, std::ios::binary);
      if (!f)
        throw UsageError("Error parsing parameter '" + what + "': Unable to load paramfile " +
                         value + ": cannot read '" + path + "'");
      std::ostringstream ss;
      ss << f.rdbuf();
      return ss.str();
    }
  }
  return value;
}

// "Name=instance-state-name,Values=running,pending"
v1::Filter ParseFilter(const std::string& text) {
  auto values_at = text.find(",Values=");
  if (!absl::StartsWith(text, "Name=") || values_at == std::string::npos) {
    throw UsageError(
        "Error parsing parameter '--filters': expected Name=<name>,Values=<v1>,<v2>, "
        "got '" +
        text + "'");
  }
  v1::Filter f;
  f.set_name(text.substr(5, values_at - 5));
  for (auto v : absl::StrSplit(text.substr(values_at + 8), ',')) f.add_values(std::string(v));
  return f;
}

// "HttpTokens=required,HttpPutResponseHopLimit=2" (the aws CLI shorthand).
v1::InstanceMetadataOptions ParseMetadataOptions(const std::string& text) {
  v1::InstanceMetadataOptions o;
  for (auto item : absl::StrSplit(text, ',')) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2)
      throw UsageError("Error parsing parameter '--metadata-options': '" + std::string(item) + "'");
    if (kv[0] == "HttpTokens")
      o.set_http_tokens(NamedOrExit(minicloud::ParseHttpTokens(kv[1]), "RunInstances"));
    else if (kv[0] == "HttpEndpoint")
      o.set_http_endpoint(NamedOrExit(minicloud::ParseHttpEndpoint(kv[1]), "RunInstances"));
    else if (kv[0] == "InstanceMetadataTags")
      o.set_instance_metadata_tags(
          NamedOrExit(minicloud::ParseInstanceMetadataTags(kv[1]), "RunInstances"));
    else if (kv[0] == "HttpProtocolIpv6")
      o.set_http_protocol_ipv6(
          NamedOrExit(minicloud::ParseHttpProtocolIpv6(kv[1]), "RunInstances"));
    else if (kv[0] == "HttpPutResponseHopLimit") {
      try {
        o.set_http_put_response_hop_limit(std::stoi(kv[1]));
      } catch (const std::exception&) {
        throw UsageError(
            "Error parsing parameter '--metadata-options': HttpPutResponseHopLimit "
            "must be a number");
      }
    } else {
      throw UsageError("Error parsing parameter '--metadata-options': unknown key '" + kv[0] + "'");
    }
  }
  return o;
}

// "AvailabilityZone=home-1a,GroupName=pg,PartitionNumber=2" (the aws CLI shorthand).
v1::Placement ParsePlacement(const std::string& text) {
  v1::Placement p;
  for (auto item : absl::StrSplit(text, ',')) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2)
      throw UsageError("Error parsing parameter '--placement': '" + std::string(item) + "'");
    if (kv[0] == "AvailabilityZone") {
      p.set_availability_zone(kv[1]);
    } else if (kv[0] == "GroupName") {
      p.set_group_name(kv[1]);
    } else if (kv[0] == "PartitionNumber") {
      int n = 0;
      if (!absl::SimpleAtoi(kv[1], &n)) {
        throw UsageError("Error parsing parameter '--placement': PartitionNumber must be a number");
      }
      p.set_partition_number(n);
    } else if (kv[0] == "Tenancy") {
      if (kv[1] != "default") {
        throw UsageError("Error parsing parameter '--placement': only Tenancy=default exists here");
      }
    } else {
      throw UsageError("Error parsing parameter '--placement': unknown key '" + kv[0] + "'");
    }
  }
  return p;
}

// "Key=Name,Value=web"
v1::Tag ParseTag(const std::string& text) {
  auto value_at = text.find(",Value=");
  if (text.rfind("Key=", 0) != 0)
    throw UsageError("Error parsing parameter '--tags': expected Key=<k>,Value=<v>");
  v1::Tag t;
  t.set_key(text.substr(4, value_at == std::string::npos ? std::string::npos : value_at - 4));
  if (value_at != std::string::npos) t.set_value(text.substr(value_at + 7));
  return t;
}

// Fills a RegisterImage request from an image recipe's manifest.json; flags already given win.
void ApplyManifest(const std::string& path, bool direct_kernel, v1::RegisterImageRequest& reg) {
  std::ifstream f(path);
  if (!f) throw UsageError("cannot read manifest '" + path + "'");
  json m;
  try {
    m = json::parse(f);
    const std::string dir = std::filesystem::absolute(path).parent_path().string() + "/";
    if (reg.name().empty()) reg.set_name(m.at("name").get<std::string>());
    if (reg.description().empty()) reg.set_description(m.value("description", ""));
    if (reg.image_location().empty()) {
      reg.set_image_location(dir + m.at("disk").at("file").get<std::string>());
      reg.set_sha256(m.at("disk").at("sha256").get<std::string>());
    }
    reg.set_architecture(m.value("architecture", reg.architecture()));
    reg.set_root_device_name(m.value("root_device_name", reg.root_device_name()));
    const bool firmware = m.value("firmware_bootable", true);
    if (direct_kernel || !firmware) {
      reg.set_kernel_location(dir + m.at("kernel").at("file").get<std::string>());
      if (m.contains("ramdisk") && m["ramdisk"].is_object()) {
        reg.set_ramdisk_location(dir + m["ramdisk"].at("file").get<std::string>());
      }
      reg.set_kernel_command_line(m.value("kernel_cmdline", ""));
    }
  } catch (const json::exception& e) {
    throw UsageError("manifest '" + path + "' is not usable: " + e.what());
  }
}

void Print(const Globals& g, const json& doc, const std::string& array_key,
           const std::vector<std::string>& columns) {
  if (g.output == "table" && !array_key.empty()) {
    std::cout << cli::RenderTable(doc, array_key, columns);
  } else {
    std::cout << doc.dump(4) << "\n";
  }
}

const std::vector<std::string> kInstanceColumns = {"InstanceId",       "State.Name",
                                                   "InstanceType",     "PrivateIpAddress",
                                                   "ImageId",          "Placement.AvailabilityZone",
                                                   "Placement.HostId", "LaunchTime"};

std::vector<v1::Instance> AllInstances(const v1::DescribeInstancesResponse& resp) {
  std::vector<v1::Instance> out;
  for (const auto& r : resp.reservations()) {
    for (const auto& i : r.instances()) out.push_back(i);
  }
  return out;
}

// run-instances --wait: follows each instance to the end of cloud-init, showing progress on
// stderr, then prints the verdict per instance (text, or {"Verdicts": [...]} with json_output).
// Exits 1 when user data failed, 255 when it gives up (timeout, instance gone), as aws waiters.
int WaitForVerdict(Client& client, const v1::Reservation& reservation, bool has_user_data,
                   double timeout_s, bool json_output) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  json verdicts = json::array();
  auto report = [&](const std::string& id, const cli::BootVerdict& verdict,
                    const std::string& gone) {
    if (json_output) {
      json j = cli::BootVerdictJson(verdict, has_user_data);
      j["InstanceId"] = id;
      if (!gone.empty()) j["Verdict"] = gone;
      verdicts.push_back(j);
    } else if (!gone.empty()) {
      std::cout << id << "\nverdict: " << gone << "\n";
    } else {
      std::cout << id << "\n" << cli::FormatBootVerdict(verdict, has_user_data);
    }
  };
  auto finish = [&](int rc) {
    if (json_output) std::cout << json{{"Verdicts", verdicts}}.dump(4) << "\n";
    return rc;
  };
  int rc = 0;
  for (const auto& inst : reservation.instances()) {
    const std::string& id = inst.instance_id();
    std::cerr << "waiting for " << id << " (timeout " << timeout_s << " s)\n";
    std::string last_state;
    size_t stages_shown = 0;
    cli::BootVerdict verdict;
    bool done = false;
    while (!done) {
      if (elapsed() > timeout_s) {
        std::cerr << "timed out after " << static_cast<int>(elapsed()) << " s\n";
        report(id, verdict, "");
        return finish(kExitWaiterFailed);
      }
      v1::DescribeInstancesRequest dreq;
      dreq.add_instance_ids(id);
      auto d = client.Call<v1::DescribeInstancesRequest, v1::DescribeInstancesResponse>(
          "DescribeInstances", &v1::ComputeService::Stub::DescribeInstances, dreq);
      const auto instances = AllInstances(d);
      const std::string state = instances.empty() ? "" : instances[0].state().name();
      if (state != last_state) {
        std::cerr << absl::StrFormat("[%6.1fs] %s\n", elapsed(), state);
        last_state = state;
      }
      if (state == "terminated" || state == "shutting-down") {
        report(id, verdict,
               "instance is " + state + ": " +
                   (instances[0].has_state_reason() ? instances[0].state_reason().message() : ""));
        return finish(kExitWaiterFailed);
      }
      if (state == "running") {
        v1::GetConsoleOutputRequest creq;
        creq.set_instance_id(id);
        auto c = client.Call<v1::GetConsoleOutputRequest, v1::GetConsoleOutputResponse>(
            "GetConsoleOutput", &v1::ComputeService::Stub::GetConsoleOutput, creq);
        verdict = cli::ParseBootConsole(c.output());
        for (; stages_shown < verdict.stages.size(); ++stages_shown) {
          const auto& st = verdict.stages[stages_shown];
          std::cerr << absl::StrFormat("[%6.1fs] %s (guest uptime %.1fs)\n", elapsed(), st.name,
                                       st.uptime_s);
        }
        done = verdict.cloud_init_finished;
      }
      if (!done) std::this_thread::sleep_for(std::chrono::seconds(2));
    }
    std::cerr << absl::StrFormat("[%6.1fs] cloud-init finished\n", elapsed());
    report(id, verdict, "");
    if (verdict.user_data_failed) rc = 1;
  }
  return finish(rc);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"minicloud: EC2 at home. Verbs and output follow `aws ec2`."};
  app.require_subcommand(1);
  Globals g;
  const char* env = std::getenv("MINICLOUD_ENDPOINT");
  g.endpoint = env != nullptr && *env ? env : "127.0.0.1:7700";
  app.add_option("--endpoint", g.endpoint, "controller address (env MINICLOUD_ENDPOINT)")
      ->capture_default_str();
  auto* output_opt = app.add_option("--output", g.output, "json | table | text")
                         ->check(CLI::IsMember({"json", "table", "text"}))
                         ->capture_default_str();
  app.add_option("--cli-read-timeout", g.timeout_s, "seconds to wait for an answer")
      ->capture_default_str();

  // run-instances
  v1::RunInstancesRequest run;
  std::string user_data_arg, az;
  std::string count;
  int min_count = 0, max_count = 0;
  auto* run_cmd = app.add_subcommand("run-instances", "launch instances from an AMI");
  run_cmd->add_option("--image-id", *run.mutable_image_id(), "AMI to boot")->required();
  run_cmd->add_option("--instance-type", *run.mutable_instance_type(), "e.g. t3.micro")
      ->default_val("t3.micro");
  run_cmd->add_option("--count", count, "N or MIN:MAX (default 1)");
  run_cmd->add_option("--min-count", min_count);
  run_cmd->add_option("--max-count", max_count);
  run_cmd->add_option("--user-data", user_data_arg, "text, file://path or fileb://path");
  run_cmd->add_option("--client-token", *run.mutable_client_token(), "idempotency token");
  run_cmd->add_option("--availability-zone", az, "place in this AZ");
  std::string run_placement;
  run_cmd->add_option("--placement", run_placement,
                      "AvailabilityZone=home-1a,GroupName=pg,PartitionNumber=2");
  bool run_explain = false;
  run_cmd->add_flag("--explain", run_explain,
                    "print why each host was chosen or rejected (to stderr)");
  bool run_dry = false;
  run_cmd->add_flag("--dry-run", run_dry);
  run_cmd->add_option("--key-name", *run.mutable_key_name(), "key pair for public-keys/");
  std::string run_metadata_options;
  run_cmd->add_option("--metadata-options", run_metadata_options,
                      "HttpTokens=required,HttpEndpoint=enabled,HttpPutResponseHopLimit=2,"
                      "InstanceMetadataTags=enabled");
  std::vector<std::string> run_tags;
  run_cmd->add_option("--tags", run_tags, "Key=Name,Value=web (instance tags; repeatable)");
  bool run_wait = false;
  double run_wait_timeout = 900;
  run_cmd->add_flag("--wait", run_wait,
                    "wait for cloud-init to finish, then print whether the user data succeeded, "
                    "its output and the boot timeline; exit 1 if it failed, 255 on timeout");
  run_cmd->add_option("--wait-timeout", run_wait_timeout, "seconds")->capture_default_str();

  // describe-instances
  std::vector<std::string> instance_ids, filters;
  auto* desc_cmd = app.add_subcommand("describe-instances", "list instances");
  desc_cmd->add_option("--instance-ids", instance_ids);
  desc_cmd->add_option("--filters", filters, "Name=<name>,Values=<v1>,<v2> (repeatable)");

  // terminate-instances
  std::vector<std::string> term_ids;
  auto* term_cmd = app.add_subcommand("terminate-instances", "terminate instances");
  term_cmd->add_option("--instance-ids", term_ids)->required();
  bool term_dry = false;
  term_cmd->add_flag("--dry-run", term_dry);

  // get-console-output
  std::string console_id;
  bool latest = false;
  auto* console_cmd = app.add_subcommand("get-console-output", "serial console of an instance");
  console_cmd->add_option("--instance-id", console_id)->required();
  console_cmd->add_flag("--latest", latest);

  // register-image / describe-images / deregister-image
  v1::RegisterImageRequest reg;
  auto* reg_cmd = app.add_subcommand("register-image", "add a qcow2 AMI");
  std::string manifest;
  bool direct_kernel = false;
  reg_cmd->add_option("--manifest", manifest,
                      "manifest.json written by images/build-*.sh (fills the fields below)");
  reg_cmd->add_flag("--direct-kernel-boot", direct_kernel,
                    "with --manifest: boot the manifest's kernel and ramdisk directly");
  reg_cmd->add_option("--name", *reg.mutable_name());
  reg_cmd->add_option("--image-location", *reg.mutable_image_location(),
                      "qcow2 file readable by the controller");
  reg_cmd->add_option("--description", *reg.mutable_description());
  reg_cmd->add_option("--architecture", *reg.mutable_architecture())->default_val("x86_64");
  reg_cmd->add_option("--root-device-name", *reg.mutable_root_device_name())
      ->default_val("/dev/xvda");
  reg_cmd->add_option("--sha256", *reg.mutable_sha256(), "expected checksum of the file");
  reg_cmd->add_option("--kernel", *reg.mutable_kernel_location(), "kernel for direct boot");
  reg_cmd->add_option("--ramdisk", *reg.mutable_ramdisk_location(), "initrd for direct boot");
  reg_cmd->add_option("--kernel-command-line", *reg.mutable_kernel_command_line());

  std::vector<std::string> image_ids, image_filters;
  auto* imgs_cmd = app.add_subcommand("describe-images", "list AMIs");
  imgs_cmd->add_option("--image-ids", image_ids);
  imgs_cmd->add_option("--filters", image_filters, "Name=<name>,Values=<v1>,<v2> (repeatable)");
  std::string dereg_id;
  auto* dereg_cmd = app.add_subcommand("deregister-image", "remove an AMI");
  dereg_cmd->add_option("--image-id", dereg_id)->required();

  std::vector<std::string> type_names;
  auto* types_cmd = app.add_subcommand("describe-instance-types", "the instance-type catalog");
  types_cmd->add_option("--instance-types", type_names);

  std::vector<std::string> host_ids;
  auto* hosts_cmd = app.add_subcommand("describe-hosts", "hosts, capacity and accelerator");
  hosts_cmd->add_option("--host-ids", host_ids);

  // key pairs
  v1::CreateKeyPairRequest create_key;
  auto* create_key_cmd =
      app.add_subcommand("create-key-pair", "new key pair; prints the private key once");
  create_key_cmd->add_option("--key-name", *create_key.mutable_key_name())->required();
  create_key_cmd->add_option("--key-type", *create_key.mutable_key_type(), "rsa | ed25519");
  std::string create_key_query;
  create_key_cmd->add_option("--query", create_key_query,
                             "KeyMaterial: print only the private key");
  v1::ImportKeyPairRequest import_key;
  std::string import_material;
  auto* import_key_cmd = app.add_subcommand("import-key-pair", "register an existing public key");
  import_key_cmd->add_option("--key-name", *import_key.mutable_key_name())->required();
  import_key_cmd
      ->add_option("--public-key-material", import_material,
                   "fileb://~/.ssh/id_ed25519.pub or the key itself")
      ->required();
  std::vector<std::string> key_names;
  auto* describe_keys_cmd = app.add_subcommand("describe-key-pairs", "list key pairs");
  describe_keys_cmd->add_option("--key-names", key_names);
  bool include_public_key = false;
  describe_keys_cmd->add_flag("--include-public-key", include_public_key);
  std::string delete_key_name;
  auto* delete_key_cmd = app.add_subcommand("delete-key-pair", "delete a key pair");
  delete_key_cmd->add_option("--key-name", delete_key_name)->required();

  // instance metadata options and attributes
  std::string mmo_instance, mmo_tokens, mmo_endpoint, mmo_tags;
  int mmo_hops = 0;
  auto* mmo_cmd =
      app.add_subcommand("modify-instance-metadata-options", "change IMDS settings of an instance");
  mmo_cmd->add_option("--instance-id", mmo_instance)->required();
  mmo_cmd->add_option("--http-tokens", mmo_tokens, "optional | required");
  mmo_cmd->add_option("--http-endpoint", mmo_endpoint, "enabled | disabled");
  mmo_cmd->add_option("--http-put-response-hop-limit", mmo_hops, "1..64");
  mmo_cmd->add_option("--instance-metadata-tags", mmo_tags, "enabled | disabled");
  std::string mia_instance, mia_user_data;
  auto* mia_cmd = app.add_subcommand("modify-instance-attribute",
                                     "change an attribute (user data: only while stopped)");
  mia_cmd->add_option("--instance-id", mia_instance)->required();
  mia_cmd->add_option("--user-data", mia_user_data, "text, file://path or fileb://path")
      ->required();
  std::string dia_instance, dia_attribute;
  auto* dia_cmd = app.add_subcommand("describe-instance-attribute", "read an attribute");
  dia_cmd->add_option("--instance-id", dia_instance)->required();
  dia_cmd->add_option("--attribute", dia_attribute, "userData")->required();

  // stop-instances / start-instances
  std::vector<std::string> stop_ids, start_ids;
  bool stop_force = false, stop_dry = false, start_dry = false;
  auto* stop_cmd = app.add_subcommand("stop-instances", "stop instances (disk and IP are kept)");
  stop_cmd->add_option("--instance-ids", stop_ids)->required();
  stop_cmd->add_flag("--force", stop_force, "power off without waiting for the guest");
  stop_cmd->add_flag("--dry-run", stop_dry);
  auto* start_cmd = app.add_subcommand("start-instances", "start stopped instances");
  start_cmd->add_option("--instance-ids", start_ids)->required();
  start_cmd->add_flag("--dry-run", start_dry);

  // placement groups and zones
  v1::CreatePlacementGroupRequest create_pg;
  auto* create_pg_cmd = app.add_subcommand("create-placement-group", "create a placement group");
  create_pg_cmd->add_option("--group-name", *create_pg.mutable_group_name())->required();
  std::string pg_strategy, pg_spread_level;
  create_pg_cmd->add_option("--strategy", pg_strategy, "cluster | spread | partition")->required();
  int pg_partitions = 0;
  create_pg_cmd->add_option("--partition-count", pg_partitions,
                            "partition groups: 1..7 (default 2)");
  create_pg_cmd->add_option("--spread-level", pg_spread_level,
                            "spread groups: rack (default) | host");
  std::vector<std::string> pg_names, pg_ids, pg_filters;
  auto* describe_pg_cmd = app.add_subcommand("describe-placement-groups", "list placement groups");
  describe_pg_cmd->add_option("--group-names", pg_names);
  describe_pg_cmd->add_option("--group-ids", pg_ids);
  describe_pg_cmd->add_option("--filters", pg_filters, "Name=<name>,Values=<v1>,<v2>");
  std::string delete_pg_name;
  auto* delete_pg_cmd =
      app.add_subcommand("delete-placement-group", "delete an empty placement group");
  delete_pg_cmd->add_option("--group-name", delete_pg_name)->required();
  std::vector<std::string> zone_names, zone_filters;
  auto* zones_cmd = app.add_subcommand("describe-availability-zones", "zones, racks and hosts");
  zones_cmd->add_option("--zone-names", zone_names);
  zones_cmd->add_option("--filters", zone_filters, "Name=<name>,Values=<v1>,<v2>");
  v1::RunInstancesRequest dp;
  std::string dp_count = "1", dp_placement;
  auto* dp_cmd = app.add_subcommand(
      "describe-placement",
      "what run-instances would decide, host by host, without launching anything");
  dp_cmd->add_option("--instance-type", *dp.mutable_instance_type())->default_val("t3.micro");
  dp_cmd->add_option("--count", dp_count, "N or MIN:MAX")->capture_default_str();
  dp_cmd->add_option("--placement", dp_placement,
                     "AvailabilityZone=home-1a,GroupName=pg,PartitionNumber=2");
  dp_cmd->add_option("--image-id", *dp.mutable_image_id(), "AMI (any registered one)")->required();

  // wait instance-running | instance-terminated
  std::string waiter;
  std::vector<std::string> wait_ids;
  double wait_timeout = 600;
  auto* wait_cmd = app.add_subcommand("wait", "wait until instances reach a state");
  wait_cmd
      ->add_option("waiter", waiter,
                   "instance-running | instance-stopped | instance-terminated | "
                   "user-data-finished (prints the user-data verdict and boot timeline)")
      ->required()
      ->check(CLI::IsMember(
          {"instance-running", "instance-stopped", "instance-terminated", "user-data-finished"}));
  wait_cmd->add_option("--instance-ids", wait_ids)->required();
  wait_cmd
      ->add_option("--timeout", wait_timeout,
                   "seconds, then give up (exit 255); user-data-finished exits 1 when the user "
                   "data failed")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  // A verdict is for people unless JSON is asked for by name (the global default is json).
  const bool verdict_json = output_opt->count() > 0 && g.output == "json";
  try {
    Client client(g);
    if (*run_cmd) {
      if (!count.empty()) {
        std::vector<std::string> parts = absl::StrSplit(count, ':');
        try {
          min_count = std::stoi(parts[0]);
          max_count = parts.size() > 1 ? std::stoi(parts[1]) : min_count;
        } catch (const std::exception&) {
          throw UsageError("Error parsing parameter '--count': expected N or MIN:MAX, got '" +
                           count + "'");
        }
      }
      if (min_count == 0 && max_count == 0 && count.empty()) min_count = max_count = 1;
      if (max_count == 0) max_count = min_count;
      if (min_count == 0 && count.empty()) min_count = max_count;
      run.set_min_count(min_count);
      run.set_max_count(max_count);
      if (!user_data_arg.empty()) run.set_user_data(ReadBlobArg(user_data_arg, "--user-data"));
      if (!run_placement.empty()) *run.mutable_placement() = ParsePlacement(run_placement);
      if (!az.empty()) run.mutable_placement()->set_availability_zone(az);
      run.set_explain(run_explain);
      if (!run_metadata_options.empty()) {
        *run.mutable_metadata_options() = ParseMetadataOptions(run_metadata_options);
      }
      for (const auto& t : run_tags) *run.add_tags() = ParseTag(t);
      run.set_dry_run(run_dry);
      auto resp = client.Call<v1::RunInstancesRequest, v1::Reservation>(
          "RunInstances", &v1::ComputeService::Stub::RunInstances, run);
      if (run_explain) std::cerr << resp.placement_explanation();
      if (!run_wait) {
        Print(g, cli::ReservationJson(resp), "Instances", kInstanceColumns);
      } else {
        return WaitForVerdict(client, resp, !run.user_data().empty(), run_wait_timeout,
                              verdict_json);
      }
    } else if (*desc_cmd) {
      v1::DescribeInstancesRequest req;
      for (const auto& id : instance_ids) req.add_instance_ids(id);
      for (const auto& f : filters) *req.add_filters() = ParseFilter(f);
      auto resp = client.Call<v1::DescribeInstancesRequest, v1::DescribeInstancesResponse>(
          "DescribeInstances", &v1::ComputeService::Stub::DescribeInstances, req);
      json doc = {{"Reservations", json::array()}};
      for (const auto& r : resp.reservations())
        doc["Reservations"].push_back(cli::ReservationJson(r));
      Print(g, doc, "Instances", kInstanceColumns);
    } else if (*term_cmd) {
      v1::TerminateInstancesRequest req;
      for (const auto& id : term_ids) req.add_instance_ids(id);
      req.set_dry_run(term_dry);
      auto resp = client.Call<v1::TerminateInstancesRequest, v1::TerminateInstancesResponse>(
          "TerminateInstances", &v1::ComputeService::Stub::TerminateInstances, req);
      json doc = {{"TerminatingInstances", json::array()}};
      for (const auto& c : resp.terminating_instances()) {
        doc["TerminatingInstances"].push_back(cli::StateChangeJson(c));
      }
      Print(g, doc, "TerminatingInstances",
            {"InstanceId", "PreviousState.Name", "CurrentState.Name"});
    } else if (*console_cmd) {
      v1::GetConsoleOutputRequest req;
      req.set_instance_id(console_id);
      req.set_latest(latest);
      auto resp = client.Call<v1::GetConsoleOutputRequest, v1::GetConsoleOutputResponse>(
          "GetConsoleOutput", &v1::ComputeService::Stub::GetConsoleOutput, req);
      if (g.output == "text") {
        std::cout << resp.output();
      } else {
        // Console bytes may not be valid UTF-8; replace invalid sequences for JSON.
        json doc = {{"InstanceId", resp.instance_id()},
                    {"Timestamp", cli::Iso8601(resp.timestamp())},
                    {"Output", resp.output()}};
        std::cout << doc.dump(4, ' ', false, json::error_handler_t::replace) << "\n";
      }
    } else if (*reg_cmd) {
      if (!manifest.empty()) ApplyManifest(manifest, direct_kernel, reg);
      if (reg.name().empty()) throw UsageError("register-image needs --name (or --manifest)");
      if (reg.image_location().empty()) {
        throw UsageError("register-image needs --image-location (or --manifest)");
      }
      auto resp = client.Call<v1::RegisterImageRequest, v1::RegisterImageResponse>(
          "RegisterImage", &v1::ComputeService::Stub::RegisterImage, reg);
      Print(g, {{"ImageId", resp.image_id()}}, "", {});
    } else if (*imgs_cmd) {
      v1::DescribeImagesRequest req;
      for (const auto& id : image_ids) req.add_image_ids(id);
      for (const auto& f : image_filters) *req.add_filters() = ParseFilter(f);
      auto resp = client.Call<v1::DescribeImagesRequest, v1::DescribeImagesResponse>(
          "DescribeImages", &v1::ComputeService::Stub::DescribeImages, req);
      json doc = {{"Images", json::array()}};
      for (const auto& i : resp.images()) doc["Images"].push_back(cli::ImageJson(i));
      Print(g, doc, "Images", {"ImageId", "Name", "Architecture", "BootMode", "CreationDate"});
    } else if (*dereg_cmd) {
      v1::DeregisterImageRequest req;
      req.set_image_id(dereg_id);
      client.Call<v1::DeregisterImageRequest, v1::DeregisterImageResponse>(
          "DeregisterImage", &v1::ComputeService::Stub::DeregisterImage, req);
    } else if (*types_cmd) {
      v1::DescribeInstanceTypesRequest req;
      for (const auto& t : type_names) req.add_instance_types(t);
      auto resp = client.Call<v1::DescribeInstanceTypesRequest, v1::DescribeInstanceTypesResponse>(
          "DescribeInstanceTypes", &v1::ComputeService::Stub::DescribeInstanceTypes, req);
      json doc = {{"InstanceTypes", json::array()}};
      for (const auto& t : resp.instance_types())
        doc["InstanceTypes"].push_back(cli::InstanceTypeJson(t));
      Print(g, doc, "InstanceTypes",
            {"InstanceType", "VCpuInfo.DefaultVCpus", "MemoryInfo.SizeInMiB"});
    } else if (*hosts_cmd) {
      v1::DescribeHostsRequest req;
      for (const auto& h : host_ids) req.add_host_ids(h);
      auto resp = client.Call<v1::DescribeHostsRequest, v1::DescribeHostsResponse>(
          "DescribeHosts", &v1::ComputeService::Stub::DescribeHosts, req);
      json doc = {{"Hosts", json::array()}};
      for (const auto& h : resp.hosts()) doc["Hosts"].push_back(cli::HostJson(h));
      Print(g, doc, "Hosts",
            {"HostId", "State", "AvailabilityZone", "Rack", "Accelerator", "Used.VCpus",
             "Used.MemoryMiB", "InstanceCount"});
    } else if (*create_key_cmd) {
      auto resp = client.Call<v1::CreateKeyPairRequest, v1::CreateKeyPairResponse>(
          "CreateKeyPair", &v1::ComputeService::Stub::CreateKeyPair, create_key);
      if (create_key_query == "KeyMaterial" || g.output == "text") {
        std::cout << resp.key_material();
      } else {
        Print(g,
              {{"KeyFingerprint", resp.key_pair().key_fingerprint()},
               {"KeyMaterial", resp.key_material()},
               {"KeyName", resp.key_pair().key_name()},
               {"KeyPairId", resp.key_pair().key_pair_id()}},
              "", {});
      }
    } else if (*import_key_cmd) {
      import_key.set_public_key_material(ReadBlobArg(import_material, "--public-key-material"));
      auto resp = client.Call<v1::ImportKeyPairRequest, v1::ImportKeyPairResponse>(
          "ImportKeyPair", &v1::ComputeService::Stub::ImportKeyPair, import_key);
      Print(g,
            {{"KeyFingerprint", resp.key_pair().key_fingerprint()},
             {"KeyName", resp.key_pair().key_name()},
             {"KeyPairId", resp.key_pair().key_pair_id()}},
            "", {});
    } else if (*describe_keys_cmd) {
      v1::DescribeKeyPairsRequest req;
      for (const auto& k : key_names) req.add_key_names(k);
      req.set_include_public_key(include_public_key);
      auto resp = client.Call<v1::DescribeKeyPairsRequest, v1::DescribeKeyPairsResponse>(
          "DescribeKeyPairs", &v1::ComputeService::Stub::DescribeKeyPairs, req);
      json doc = {{"KeyPairs", json::array()}};
      for (const auto& k : resp.key_pairs()) {
        json j = {{"KeyPairId", k.key_pair_id()},
                  {"KeyFingerprint", k.key_fingerprint()},
                  {"KeyName", k.key_name()},
                  {"KeyType", k.key_type()}};
        if (!k.public_key().empty()) j["PublicKey"] = k.public_key();
        doc["KeyPairs"].push_back(j);
      }
      Print(g, doc, "KeyPairs", {"KeyName", "KeyType", "KeyFingerprint", "KeyPairId"});
    } else if (*delete_key_cmd) {
      v1::DeleteKeyPairRequest req;
      req.set_key_name(delete_key_name);
      client.Call<v1::DeleteKeyPairRequest, v1::DeleteKeyPairResponse>(
          "DeleteKeyPair", &v1::ComputeService::Stub::DeleteKeyPair, req);
    } else if (*mmo_cmd) {
      v1::ModifyInstanceMetadataOptionsRequest req;
      req.set_instance_id(mmo_instance);
      constexpr const char* kMmo = "ModifyInstanceMetadataOptions";
      if (!mmo_tokens.empty()) {
        req.mutable_options()->set_http_tokens(
            NamedOrExit(minicloud::ParseHttpTokens(mmo_tokens), kMmo));
      }
      if (!mmo_endpoint.empty()) {
        req.mutable_options()->set_http_endpoint(
            NamedOrExit(minicloud::ParseHttpEndpoint(mmo_endpoint), kMmo));
      }
      req.mutable_options()->set_http_put_response_hop_limit(mmo_hops);
      if (!mmo_tags.empty()) {
        req.mutable_options()->set_instance_metadata_tags(
            NamedOrExit(minicloud::ParseInstanceMetadataTags(mmo_tags), kMmo));
      }
      auto resp = client.Call<v1::ModifyInstanceMetadataOptionsRequest,
                              v1::ModifyInstanceMetadataOptionsResponse>(
          "ModifyInstanceMetadataOptions", &v1::ComputeService::Stub::ModifyInstanceMetadataOptions,
          req);
      Print(
          g,
          {{"InstanceId", resp.instance_id()},
           {"InstanceMetadataOptions", cli::MetadataOptionsJson(resp.instance_metadata_options())}},
          "", {});
    } else if (*mia_cmd) {
      v1::ModifyInstanceAttributeRequest req;
      req.set_instance_id(mia_instance);
      req.set_set_user_data(true);
      req.set_user_data(ReadBlobArg(mia_user_data, "--user-data"));
      client.Call<v1::ModifyInstanceAttributeRequest, v1::ModifyInstanceAttributeResponse>(
          "ModifyInstanceAttribute", &v1::ComputeService::Stub::ModifyInstanceAttribute, req);
    } else if (*dia_cmd) {
      v1::DescribeInstanceAttributeRequest req;
      req.set_instance_id(dia_instance);
      req.set_attribute(dia_attribute);
      auto resp =
          client.Call<v1::DescribeInstanceAttributeRequest, v1::DescribeInstanceAttributeResponse>(
              "DescribeInstanceAttribute", &v1::ComputeService::Stub::DescribeInstanceAttribute,
              req);
      json doc = {{"InstanceId", resp.instance_id()}, {"UserData", json::object()}};
      if (resp.has_user_data()) doc["UserData"]["Value"] = cli::Base64(resp.user_data());
      Print(g, doc, "", {});
    } else if (*stop_cmd || *start_cmd) {
      json doc;
      if (*stop_cmd) {
        v1::StopInstancesRequest req;
        for (const auto& id : stop_ids) req.add_instance_ids(id);
        req.set_force(stop_force);
        req.set_dry_run(stop_dry);
        auto resp = client.Call<v1::StopInstancesRequest, v1::StopInstancesResponse>(
            "StopInstances", &v1::ComputeService::Stub::StopInstances, req);
        doc = {{"StoppingInstances", json::array()}};
        for (const auto& c : resp.stopping_instances()) {
          doc["StoppingInstances"].push_back(cli::StateChangeJson(c));
        }
      } else {
        v1::StartInstancesRequest req;
        for (const auto& id : start_ids) req.add_instance_ids(id);
        req.set_dry_run(start_dry);
        auto resp = client.Call<v1::StartInstancesRequest, v1::StartInstancesResponse>(
            "StartInstances", &v1::ComputeService::Stub::StartInstances, req);
        doc = {{"StartingInstances", json::array()}};
        for (const auto& c : resp.starting_instances()) {
          doc["StartingInstances"].push_back(cli::StateChangeJson(c));
        }
      }
      Print(g, doc, *stop_cmd ? "StoppingInstances" : "StartingInstances",
            {"InstanceId", "PreviousState.Name", "CurrentState.Name"});
    } else if (*create_pg_cmd) {
      create_pg.set_strategy(
          NamedOrExit(minicloud::ParsePlacementStrategy(pg_strategy), "CreatePlacementGroup"));
      if (!pg_spread_level.empty()) {
        create_pg.set_spread_level(NamedOrExit(
            minicloud::ParseSpreadLevel(pg_spread_level, "spreadLevel"), "CreatePlacementGroup"));
      }
      create_pg.set_partition_count(pg_partitions);
      auto resp = client.Call<v1::CreatePlacementGroupRequest, v1::CreatePlacementGroupResponse>(
          "CreatePlacementGroup", &v1::ComputeService::Stub::CreatePlacementGroup, create_pg);
      Print(g, {{"PlacementGroup", cli::PlacementGroupJson(resp.placement_group())}}, "", {});
    } else if (*describe_pg_cmd) {
      v1::DescribePlacementGroupsRequest req;
      for (const auto& n : pg_names) req.add_group_names(n);
      for (const auto& id : pg_ids) req.add_group_ids(id);
      for (const auto& f : pg_filters) *req.add_filters() = ParseFilter(f);
      auto resp =
          client.Call<v1::DescribePlacementGroupsRequest, v1::DescribePlacementGroupsResponse>(
              "DescribePlacementGroups", &v1::ComputeService::Stub::DescribePlacementGroups, req);
      json doc = {{"PlacementGroups", json::array()}};
      for (const auto& pg : resp.placement_groups()) {
        doc["PlacementGroups"].push_back(cli::PlacementGroupJson(pg));
      }
      Print(g, doc, "PlacementGroups",
            {"GroupName", "Strategy", "State", "PartitionCount", "SpreadLevel", "InstanceCount"});
    } else if (*delete_pg_cmd) {
      v1::DeletePlacementGroupRequest req;
      req.set_group_name(delete_pg_name);
      client.Call<v1::DeletePlacementGroupRequest, v1::DeletePlacementGroupResponse>(
          "DeletePlacementGroup", &v1::ComputeService::Stub::DeletePlacementGroup, req);
    } else if (*zones_cmd) {
      v1::DescribeAvailabilityZonesRequest req;
      for (const auto& z : zone_names) req.add_zone_names(z);
      for (const auto& f : zone_filters) *req.add_filters() = ParseFilter(f);
      auto resp =
          client.Call<v1::DescribeAvailabilityZonesRequest, v1::DescribeAvailabilityZonesResponse>(
              "DescribeAvailabilityZones", &v1::ComputeService::Stub::DescribeAvailabilityZones,
              req);
      json doc = {{"AvailabilityZones", json::array()}};
      for (const auto& z : resp.availability_zones()) {
        doc["AvailabilityZones"].push_back(cli::AvailabilityZoneJson(z));
      }
      Print(g, doc, "AvailabilityZones",
            {"ZoneName", "ZoneId", "RegionName", "State", "HostCount", "HostsUp"});
    } else if (*dp_cmd) {
      std::vector<std::string> parts = absl::StrSplit(dp_count, ':');
      int lo = 0, hi = 0;
      if (!absl::SimpleAtoi(parts[0], &lo) ||
          !absl::SimpleAtoi(parts.size() > 1 ? parts[1] : parts[0], &hi)) {
        throw UsageError("Error parsing parameter '--count': expected N or MIN:MAX");
      }
      dp.set_min_count(lo);
      dp.set_max_count(hi);
      if (!dp_placement.empty()) *dp.mutable_placement() = ParsePlacement(dp_placement);
      auto resp = client.Call<v1::RunInstancesRequest, v1::DescribePlacementResponse>(
          "DescribePlacement", &v1::ComputeService::Stub::DescribePlacement, dp);
      if (g.output == "json") {
        Print(g,
              {{"WouldSucceed", resp.would_succeed()},
               {"ErrorCode", resp.error_code()},
               {"Explanation", resp.explanation()}},
              "", {});
      } else {
        std::cout << resp.explanation();
      }
      if (!resp.would_succeed()) return 1;
    } else if (*wait_cmd && waiter == "user-data-finished") {
      v1::Reservation r;
      bool has_user_data = false;
      for (const auto& id : wait_ids) {
        r.add_instances()->set_instance_id(id);
        v1::DescribeInstanceAttributeRequest areq;
        areq.set_instance_id(id);
        areq.set_attribute("userData");
        auto a =
            client
                .Call<v1::DescribeInstanceAttributeRequest, v1::DescribeInstanceAttributeResponse>(
                    "DescribeInstanceAttribute",
                    &v1::ComputeService::Stub::DescribeInstanceAttribute, areq);
        has_user_data = has_user_data || a.has_user_data();
      }
      return WaitForVerdict(client, r, has_user_data, wait_timeout, verdict_json);
    } else if (*wait_cmd) {
      const std::string want = waiter == "instance-running"   ? "running"
                               : waiter == "instance-stopped" ? "stopped"
                                                              : "terminated";
      const auto deadline = std::chrono::steady_clock::now() +
                            std::chrono::milliseconds(static_cast<int64_t>(wait_timeout * 1000));
      while (true) {
        v1::DescribeInstancesRequest req;
        for (const auto& id : wait_ids) req.add_instance_ids(id);
        auto resp = client.Call<v1::DescribeInstancesRequest, v1::DescribeInstancesResponse>(
            "DescribeInstances", &v1::ComputeService::Stub::DescribeInstances, req);
        bool done = true;
        for (const auto& i : AllInstances(resp)) {
          if (want == "running" &&
              (i.state().name() == "terminated" || i.state().name() == "shutting-down")) {
            std::cerr << "\nWaiter InstanceRunning failed: " << i.instance_id() << " is "
                      << i.state().name()
                      << (i.has_state_reason() ? " (" + i.state_reason().message() + ")" : "")
                      << "\n";
            return kExitWaiterFailed;
          }
          done = done && i.state().name() == want;
        }
        if (done) break;
        if (std::chrono::steady_clock::now() > deadline) {
          std::cerr << "\nWaiter " << waiter << " failed: Max attempts exceeded\n";
          return kExitWaiterFailed;
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
  } catch (const UsageError& e) {
    std::cerr << "\n" << e.what() << "\n";
    return kExitUsage;
  }
  return 0;
}
