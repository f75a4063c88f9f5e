// Instance verbs: run-instances, describe-instances, terminate-instances, stop-instances,
// start-instances, get-console-output, modify-instance-metadata-options,
// modify-instance-attribute, describe-instance-attribute and wait.
#include <chrono>
#include <memory>
#include <tuple>

#include "absl/strings/str_format.h"
#include "cli/render.h"
#include "cli/shorthand.h"
#include "cli/verb.h"
#include "cli/verbs/paging.h"
#include "common/boot_verdict.h"
#include "common/ec2_names.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using Stub = ComputeApi::Stub;

const std::vector<std::string> kInstanceColumns = {"InstanceId",       "State.Name",
                                                   "InstanceType",     "PrivateIpAddress",
                                                   "ImageId",          "Placement.AvailabilityZone",
                                                   "Placement.HostId", "LaunchTime"};
const std::vector<std::string> kStateChangeColumns = {"InstanceId", "PreviousState.Name",
                                                      "CurrentState.Name"};

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
int WaitForVerdict(VerbContext& ctx, const v1::Reservation& reservation, bool has_user_data,
                   double timeout_s, bool json_output) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  json verdicts = json::array();
  auto report = [&](const std::string& id, const BootVerdict& verdict, const std::string& gone) {
    if (json_output) {
      json j = BootVerdictJson(verdict, has_user_data);
      j["InstanceId"] = id;
      if (!gone.empty()) j["Verdict"] = gone;
      verdicts.push_back(j);
    } else if (!gone.empty()) {
      ctx.out << id << "\nverdict: " << gone << "\n";
    } else {
      ctx.out << id << "\n" << FormatBootVerdict(verdict, has_user_data);
    }
  };
  auto finish = [&](int rc) {
    if (json_output) ctx.out << json{{"Verdicts", verdicts}}.dump(4) << "\n";
    return rc;
  };
  int rc = 0;
  for (const auto& inst : reservation.instances()) {
    const std::string& id = inst.instance_id();
    ctx.err << "waiting for " << id << " (timeout " << timeout_s << " s)\n";
    std::string last_state;
    size_t stages_shown = 0;
    BootVerdict verdict;
    bool done = false;
    while (!done) {
      if (elapsed() > timeout_s) {
        ctx.err << "timed out after " << static_cast<int>(elapsed()) << " s\n";
        report(id, verdict, "");
        return finish(kExitWaiterFailed);
      }
      v1::DescribeInstancesRequest dreq;
      dreq.add_instance_ids(id);
      auto d = ctx.api.Call("DescribeInstances", &Stub::DescribeInstances, dreq);
      const auto instances = AllInstances(d);
      const std::string state = instances.empty() ? "" : instances[0].state().name();
      if (state != last_state) {
        ctx.err << absl::StrFormat("[%6.1fs] %s\n", elapsed(), state);
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
        auto c = ctx.api.Call("GetConsoleOutput", &Stub::GetConsoleOutput, creq);
        verdict = ParseBootConsole(c.output());
        for (; stages_shown < verdict.stages.size(); ++stages_shown) {
          const auto& st = verdict.stages[stages_shown];
          ctx.err << absl::StrFormat("[%6.1fs] %s (guest uptime %.1fs)\n", elapsed(), st.name,
                                     st.uptime_s);
        }
        done = verdict.cloud_init_finished;
      }
      if (!done) ctx.sleep(std::chrono::seconds(2));
    }
    ctx.err << absl::StrFormat("[%6.1fs] cloud-init finished\n", elapsed());
    report(id, verdict, "");
    if (verdict.user_data_failed) rc = 1;
  }
  return finish(rc);
}

void AddRunInstances(VerbRegistry& verbs) {
  struct Flags {
    v1::RunInstancesRequest run;
    std::string user_data, az, count, placement, metadata_options, iam_instance_profile;
    std::string hibernation_options;
    int min_count = 0, max_count = 0;
    bool explain = false, dry_run = false, wait = false;
    std::vector<std::string> tags, tag_specifications, block_device_mappings;
    double wait_timeout = 900;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("run-instances", "launch instances from an AMI", [f](VerbContext& ctx) {
    v1::RunInstancesRequest run = f->run;
    int min_count = f->min_count, max_count = f->max_count;
    const std::string& count = f->count;
    if (!count.empty()) std::tie(min_count, max_count) = ParseCountRange(count);
    if (min_count == 0 && max_count == 0 && count.empty()) min_count = max_count = 1;
    if (max_count == 0) max_count = min_count;
    if (min_count == 0 && count.empty()) min_count = max_count;
    run.set_min_count(min_count);
    run.set_max_count(max_count);
    if (!f->user_data.empty()) run.set_user_data(ReadBlobArg(f->user_data, "--user-data"));
    if (!f->placement.empty()) *run.mutable_placement() = ParsePlacement(f->placement);
    if (!f->az.empty()) run.mutable_placement()->set_availability_zone(f->az);
    run.set_explain(f->explain);
    if (!f->metadata_options.empty()) {
      *run.mutable_metadata_options() = ParseMetadataOptions(f->metadata_options);
    }
    for (const auto& t : f->tags) *run.add_tags() = ParseTag(t);
    if (!f->iam_instance_profile.empty()) {
      *run.mutable_iam_instance_profile() = ParseIamInstanceProfile(f->iam_instance_profile);
    }
    for (const auto& t :
         TagsFor(ParseTagSpecifications(f->tag_specifications), "instance", "RunInstances")) {
      *run.add_tags() = t;
    }
    // Parsed here (shorthand, JSON, file://) so that mistakes are named; the controller decides
    // what a mapping may say.
    for (auto& m : ParseBlockDeviceMappings(f->block_device_mappings)) {
      *run.add_block_device_mappings() = std::move(m);
    }
    if (!f->hibernation_options.empty()) {
      run.mutable_hibernation_options()->set_configured(
          ParseHibernationOptions(f->hibernation_options));
    }
    run.set_dry_run(f->dry_run);
    auto resp = ctx.api.Call("RunInstances", &Stub::RunInstances, run);
    if (f->explain) ctx.err << resp.placement_explanation();
    if (!f->wait) {
      Print(ctx, ReservationJson(resp), "Instances", kInstanceColumns);
      return 0;
    }
    // A verdict is for people unless JSON is asked for by name (the global default is json).
    return WaitForVerdict(ctx, resp, !run.user_data().empty(), f->wait_timeout,
                          ctx.globals.output_given && ctx.globals.output == "json");
  });
  cmd->add_option("--image-id", *f->run.mutable_image_id(), "AMI to boot")->required();
  cmd->add_option("--instance-type", *f->run.mutable_instance_type(), "e.g. t3.micro")
      ->default_val("t3.micro");
  cmd->add_option("--count", f->count, "N or MIN:MAX (default 1)");
  cmd->add_option("--min-count", f->min_count);
  cmd->add_option("--max-count", f->max_count);
  cmd->add_option("--user-data", f->user_data, "text, file://path or fileb://path");
  cmd->add_option("--client-token", *f->run.mutable_client_token(), "idempotency token");
  cmd->add_option("--availability-zone", f->az, "place in this AZ");
  cmd->add_option("--placement", f->placement,
                  "AvailabilityZone=home-1a,GroupName=pg,PartitionNumber=2");
  cmd->add_flag("--explain", f->explain, "print why each host was chosen or rejected (to stderr)");
  cmd->add_flag("--dry-run", f->dry_run);
  cmd->add_option("--key-name", *f->run.mutable_key_name(), "key pair for public-keys/");
  cmd->add_option("--metadata-options", f->metadata_options,
                  "HttpTokens=required,HttpEndpoint=enabled,HttpPutResponseHopLimit=2,"
                  "InstanceMetadataTags=enabled");
  cmd->add_option("--tags", f->tags, "Key=Name,Value=web (instance tags; repeatable)");
  cmd->add_option("--iam-instance-profile", f->iam_instance_profile,
                  "Name=<profile> or Arn=<arn>: the guest's credentials at IMDS iam/");
  cmd->add_option("--tag-specifications", f->tag_specifications,
                  "ResourceType=instance,Tags=[{Key=Name,Value=web}] (or JSON)");
  cmd->add_option(
      "--block-device-mappings", f->block_device_mappings,
      "DeviceName=/dev/sda1,Ebs={VolumeSize=20} (or JSON); refused until volumes exist");
  cmd->add_option("--hibernation-options", f->hibernation_options,
                  "Configured=true (or {\"Configured\": true}): the instance may hibernate "
                  "(encrypted EBS root big enough for the RAM)");
  cmd->add_flag("--wait", f->wait,
                "wait for cloud-init to finish, then print whether the user data succeeded, "
                "its output and the boot timeline; exit 1 if it failed, 255 on timeout");
  cmd->add_option("--wait-timeout", f->wait_timeout, "seconds")->capture_default_str();
}

void AddDescribeInstances(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> ids, filters;
    PagingFlags paging;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("describe-instances", "list instances", [f](VerbContext& ctx) {
    json doc = {{"Reservations", json::array()}};
    const std::string next = f->paging.Run(
        [&](int max_results, const std::string& token) {
          v1::DescribeInstancesRequest req;
          for (const auto& id : f->ids) req.add_instance_ids(id);
          for (auto& filter : ParseFilters(f->filters)) *req.add_filters() = std::move(filter);
          req.set_max_results(max_results);
          req.set_next_token(token);
          auto resp = ctx.api.Call("DescribeInstances", &Stub::DescribeInstances, req);
          for (const auto& r : resp.reservations())
            doc["Reservations"].push_back(ReservationJson(r));
          return resp.next_token();
        },
        doc["Reservations"]);
    if (!next.empty()) doc["NextToken"] = next;
    Print(ctx, doc, "Instances", kInstanceColumns);
    return 0;
  });
  cmd->add_option("--instance-ids", f->ids);
  cmd->add_option("--filters", f->filters, "Name=<name>,Values=<v1>,<v2> (repeatable)");
  f->paging.AddTo(cmd);
}

void AddTerminateInstances(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> ids;
    bool dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("terminate-instances", "terminate instances", [f](VerbContext& ctx) {
    v1::TerminateInstancesRequest req;
    for (const auto& id : f->ids) req.add_instance_ids(id);
    req.set_dry_run(f->dry_run);
    auto resp = ctx.api.Call("TerminateInstances", &Stub::TerminateInstances, req);
    json doc = {{"TerminatingInstances", json::array()}};
    for (const auto& c : resp.terminating_instances()) {
      doc["TerminatingInstances"].push_back(StateChangeJson(c));
    }
    Print(ctx, doc, "TerminatingInstances", kStateChangeColumns);
    return 0;
  });
  cmd->add_option("--instance-ids", f->ids)->required();
  cmd->add_flag("--dry-run", f->dry_run);
}

void AddGetConsoleOutput(VerbRegistry& verbs) {
  struct Flags {
    std::string id;
    bool latest = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("get-console-output", "serial console of an instance", [f](VerbContext& ctx) {
        v1::GetConsoleOutputRequest req;
        req.set_instance_id(f->id);
        req.set_latest(f->latest);
        auto resp = ctx.api.Call("GetConsoleOutput", &Stub::GetConsoleOutput, req);
        if (ctx.globals.output == "text") {
          ctx.out << resp.output();
        } else {
          // Console bytes may not be valid UTF-8; replace invalid sequences for JSON.
          json doc = {{"InstanceId", resp.instance_id()},
                      {"Timestamp", Iso8601(resp.timestamp())},
                      {"Output", resp.output()}};
          ctx.out << doc.dump(4, ' ', false, json::error_handler_t::replace) << "\n";
        }
        return 0;
      });
  cmd->add_option("--instance-id", f->id)->required();
  cmd->add_flag("--latest", f->latest);
}

void AddModifyInstanceMetadataOptions(VerbRegistry& verbs) {
  struct Flags {
    std::string instance, tokens, endpoint, tags;
    int hops = 0;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add(
      "modify-instance-metadata-options", "change IMDS settings of an instance",
      [f](VerbContext& ctx) {
        v1::ModifyInstanceMetadataOptionsRequest req;
        req.set_instance_id(f->instance);
        constexpr const char* kOp = "ModifyInstanceMetadataOptions";
        v1::InstanceMetadataOptions* o = req.mutable_options();
        if (!f->tokens.empty()) o->set_http_tokens(NamedOrThrow(ParseHttpTokens(f->tokens), kOp));
        if (!f->endpoint.empty()) {
          o->set_http_endpoint(NamedOrThrow(ParseHttpEndpoint(f->endpoint), kOp));
        }
        o->set_http_put_response_hop_limit(f->hops);
        if (!f->tags.empty()) {
          o->set_instance_metadata_tags(NamedOrThrow(ParseInstanceMetadataTags(f->tags), kOp));
        }
        auto resp = ctx.api.Call("ModifyInstanceMetadataOptions",
                                 &Stub::ModifyInstanceMetadataOptions, req);
        Print(ctx,
              {{"InstanceId", resp.instance_id()},
               {"InstanceMetadataOptions", MetadataOptionsJson(resp.instance_metadata_options())}},
              "", {});
        return 0;
      });
  cmd->add_option("--instance-id", f->instance)->required();
  cmd->add_option("--http-tokens", f->tokens, "optional | required");
  cmd->add_option("--http-endpoint", f->endpoint, "enabled | disabled");
  cmd->add_option("--http-put-response-hop-limit", f->hops, "1..64");
  cmd->add_option("--instance-metadata-tags", f->tags, "enabled | disabled");
}

void AddModifyInstanceAttribute(VerbRegistry& verbs) {
  struct Flags {
    std::string instance, user_data;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("modify-instance-attribute", "change an attribute (user data: only while stopped)",
                [f](VerbContext& ctx) {
                  v1::ModifyInstanceAttributeRequest req;
                  req.set_instance_id(f->instance);
                  req.set_set_user_data(true);
                  req.set_user_data(ReadBlobArg(f->user_data, "--user-data"));
                  ctx.api.Call("ModifyInstanceAttribute", &Stub::ModifyInstanceAttribute, req);
                  return 0;
                });
  cmd->add_option("--instance-id", f->instance)->required();
  cmd->add_option("--user-data", f->user_data, "text, file://path or fileb://path")->required();
}

void AddDescribeInstanceAttribute(VerbRegistry& verbs) {
  struct Flags {
    std::string instance, attribute;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("describe-instance-attribute", "read an attribute", [f](VerbContext& ctx) {
        v1::DescribeInstanceAttributeRequest req;
        req.set_instance_id(f->instance);
        req.set_attribute(f->attribute);
        auto resp =
            ctx.api.Call("DescribeInstanceAttribute", &Stub::DescribeInstanceAttribute, req);
        json doc = {{"InstanceId", resp.instance_id()}, {"UserData", json::object()}};
        if (resp.has_user_data()) doc["UserData"]["Value"] = Base64(resp.user_data());
        Print(ctx, doc, "", {});
        return 0;
      });
  cmd->add_option("--instance-id", f->instance)->required();
  cmd->add_option("--attribute", f->attribute, "userData")->required();
}

void AddStopStartInstances(VerbRegistry& verbs) {
  struct StopFlags {
    std::vector<std::string> ids;
    bool force = false, dry_run = false, hibernate = false;
  };
  auto stop = std::make_shared<StopFlags>();
  CLI::App* stop_cmd = verbs.Add(
      "stop-instances", "stop instances (disk and IP are kept)", [stop](VerbContext& ctx) {
        v1::StopInstancesRequest req;
        for (const auto& id : stop->ids) req.add_instance_ids(id);
        req.set_force(stop->force);
        req.set_hibernate(stop->hibernate);
        req.set_dry_run(stop->dry_run);
        auto resp = ctx.api.Call("StopInstances", &Stub::StopInstances, req);
        json doc = {{"StoppingInstances", json::array()}};
        for (const auto& c : resp.stopping_instances()) {
          doc["StoppingInstances"].push_back(StateChangeJson(c));
        }
        Print(ctx, doc, "StoppingInstances", kStateChangeColumns);
        return 0;
      });
  stop_cmd->add_option("--instance-ids", stop->ids)->required();
  stop_cmd->add_flag("--force", stop->force, "power off without waiting for the guest");
  stop_cmd->add_flag("--hibernate,!--no-hibernate", stop->hibernate,
                     "save the guest's RAM; start-instances resumes it (instances launched with "
                     "--hibernation-options Configured=true)");
  stop_cmd->add_flag("--dry-run", stop->dry_run);

  struct StartFlags {
    std::vector<std::string> ids;
    bool dry_run = false;
  };
  auto start = std::make_shared<StartFlags>();
  CLI::App* start_cmd =
      verbs.Add("start-instances", "start stopped instances", [start](VerbContext& ctx) {
        v1::StartInstancesRequest req;
        for (const auto& id : start->ids) req.add_instance_ids(id);
        req.set_dry_run(start->dry_run);
        auto resp = ctx.api.Call("StartInstances", &Stub::StartInstances, req);
        json doc = {{"StartingInstances", json::array()}};
        for (const auto& c : resp.starting_instances()) {
          doc["StartingInstances"].push_back(StateChangeJson(c));
        }
        Print(ctx, doc, "StartingInstances", kStateChangeColumns);
        return 0;
      });
  start_cmd->add_option("--instance-ids", start->ids)->required();
  start_cmd->add_flag("--dry-run", start->dry_run);
}

// wait user-data-finished: the boot verdict of each instance (see WaitForVerdict).
int WaitUserDataFinished(VerbContext& ctx, const std::vector<std::string>& ids, double timeout_s) {
  v1::Reservation r;
  bool has_user_data = false;
  for (const auto& id : ids) {
    r.add_instances()->set_instance_id(id);
    v1::DescribeInstanceAttributeRequest areq;
    areq.set_instance_id(id);
    areq.set_attribute("userData");
    auto a = ctx.api.Call("DescribeInstanceAttribute", &Stub::DescribeInstanceAttribute, areq);
    has_user_data = has_user_data || a.has_user_data();
  }
  return WaitForVerdict(ctx, r, has_user_data, timeout_s,
                        ctx.globals.output_given && ctx.globals.output == "json");
}

// wait instance-running | instance-stopped | instance-terminated: polls DescribeInstances until
// every instance is in the state; a running-waiter fails at once when one is terminating.
int WaitForState(VerbContext& ctx, const std::string& waiter, const std::vector<std::string>& ids,
                 double timeout_s) {
  const std::string want = waiter == "instance-running"   ? "running"
                           : waiter == "instance-stopped" ? "stopped"
                                                          : "terminated";
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  while (true) {
    v1::DescribeInstancesRequest req;
    for (const auto& id : ids) req.add_instance_ids(id);
    auto resp = ctx.api.Call("DescribeInstances", &Stub::DescribeInstances, req);
    bool done = true;
    for (const auto& i : AllInstances(resp)) {
      if (want == "running" &&
          (i.state().name() == "terminated" || i.state().name() == "shutting-down")) {
        ctx.err << "\nWaiter InstanceRunning failed: " << i.instance_id() << " is "
                << i.state().name()
                << (i.has_state_reason() ? " (" + i.state_reason().message() + ")" : "") << "\n";
        return kExitWaiterFailed;
      }
      done = done && i.state().name() == want;
    }
    if (done) return 0;
    if (std::chrono::steady_clock::now() > deadline) {
      ctx.err << "\nWaiter " << waiter << " failed: Max attempts exceeded\n";
      return kExitWaiterFailed;
    }
    ctx.sleep(std::chrono::seconds(1));
  }
}

// botocore's InstanceStatusOk waiter (waiters-2.json): every listed status has
// InstanceStatus.Status "ok" (an empty list is not done); InvalidInstanceID.NotFound retries.
int WaitForStatusOk(VerbContext& ctx, const std::vector<std::string>& ids, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  while (true) {
    v1::DescribeInstanceStatusRequest req;
    for (const auto& id : ids) req.add_instance_ids(id);
    bool done = false;
    try {
      auto resp = ctx.api.Call("DescribeInstanceStatus", &Stub::DescribeInstanceStatus, req);
      done = resp.instance_statuses_size() > 0;
      for (const auto& s : resp.instance_statuses()) {
        done = done && s.instance_status().status() == "ok";
      }
    } catch (const ServiceError& e) {
      if (e.code != "InvalidInstanceID.NotFound") throw;
    }
    if (done) return 0;
    if (std::chrono::steady_clock::now() > deadline) {
      ctx.err << "\nWaiter InstanceStatusOk failed: Max attempts exceeded\n";
      return kExitWaiterFailed;
    }
    ctx.sleep(std::chrono::seconds(1));
  }
}

void AddWait(VerbRegistry& verbs) {
  struct Flags {
    std::string waiter;
    std::vector<std::string> ids;
    double timeout = 600;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("wait", "wait until instances reach a state", [f](VerbContext& ctx) {
    if (f->waiter == "user-data-finished") return WaitUserDataFinished(ctx, f->ids, f->timeout);
    if (f->waiter == "instance-status-ok") return WaitForStatusOk(ctx, f->ids, f->timeout);
    return WaitForState(ctx, f->waiter, f->ids, f->timeout);
  });
  cmd->add_option("waiter", f->waiter,
                  "instance-running | instance-stopped | instance-terminated | "
                  "instance-status-ok | "
                  "user-data-finished (prints the user-data verdict and boot timeline)")
      ->required()
      ->check(CLI::IsMember({"instance-running", "instance-stopped", "instance-terminated",
                             "instance-status-ok", "user-data-finished"}));
  cmd->add_option("--instance-ids", f->ids)->required();
  cmd->add_option("--timeout", f->timeout,
                  "seconds, then give up (exit 255); user-data-finished exits 1 when the user "
                  "data failed")
      ->capture_default_str();
}

}  // namespace

void RegisterInstanceVerbs(VerbRegistry& verbs) {
  AddRunInstances(verbs);
  AddDescribeInstances(verbs);
  AddTerminateInstances(verbs);
  AddStopStartInstances(verbs);
  AddGetConsoleOutput(verbs);
  AddModifyInstanceMetadataOptions(verbs);
  AddModifyInstanceAttribute(verbs);
  AddDescribeInstanceAttribute(verbs);
  AddWait(verbs);
}

}  // namespace minicloud::cli
