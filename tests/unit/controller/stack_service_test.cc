// StackService over the real store (RocksDB in a temp dir), the real ComputeService,
// KeyPairService, PlacementGroupService and VolumeService, a fake volume service and host reports
// made the way an agent makes them. Templates live in stack_templates/ and pass cfn-lint (the
// last test checks that). Each test names the bugs it catches.
#include "controller/service/stack_service.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/match.h"
#include "common/ec2_error.h"
#include "tests/testing/skip.h"
#include "tests/testing/stack_fixture.h"

namespace minicloud::controller {
namespace {

using testing::ReadTemplate;
using Fixture = testing::StackFixture;

TEST_CASE("CreateStack: key pair, then the instance, outputs, tags, metadata resolved") {
  // Bugs caught: the instance launched before its key pair exists; CREATE_COMPLETE before the
  // instance runs; outputs not evaluated (PrivateIp, AvailabilityZone, Ref); CloudFormation's
  // aws:cloudformation tags missing; Metadata served unresolved; NoEcho shown; user data not
  // base64-decoded; the stack id not in CloudFormation's ARN form.
  Fixture f;
  auto id = f.Create("web", "web.yaml");
  REQUIRE(id.ok());
  CHECK(absl::StartsWith(*id, "arn:aws:cloudformation:home-1:000000000000:stack/web/"));
  CHECK(f.Describe("web").stack_status() == "CREATE_IN_PROGRESS");
  f.stacks->Advance();
  const auto web = f.Resource("web", "Web");
  CHECK(web.resource_status() == "CREATE_IN_PROGRESS");
  REQUIRE(absl::StartsWith(web.physical_resource_id(), "i-"));
  CHECK(f.Resource("web", "Key").resource_status() == "CREATE_COMPLETE");
  CHECK(f.Resource("web", "Key").physical_resource_id() == "web-key");
  const v1::InstanceRecord inst = f.Instance(web.physical_resource_id());
  CHECK(inst.key_name() == "web-key");
  CHECK(inst.user_data() == "#!/bin/sh\necho " + *id + " s3cret > /tmp/stack\n");
  CHECK(inst.tags().at("aws:cloudformation:stack-name") == "web");
  CHECK(inst.tags().at("aws:cloudformation:stack-id") == *id);
  CHECK(inst.tags().at("aws:cloudformation:logical-id") == "Web");
  CHECK(inst.tags().at("Name") == "web-web");
  CHECK(
      web.metadata() ==
      R"({"AWS::CloudFormation::Init":{"config":{"files":{"/etc/greeting":{"content":"hello from web in home-1","mode":"000644"}}}}})");
  f.stacks->Advance();
  CHECK(f.Describe("web").stack_status() == "CREATE_IN_PROGRESS");
  f.BootAll();
  f.stacks->Advance();
  const v1::Stack s = f.Describe("web");
  CHECK(s.stack_status() == "CREATE_COMPLETE");
  std::map<std::string, std::string> outputs;
  for (const auto& o : s.outputs()) outputs[o.key()] = o.value();
  CHECK(outputs["Ip"] == f.ctl.Describe(web.physical_resource_id()).private_ip_address());
  CHECK(!outputs["Ip"].empty());
  CHECK(outputs["Zone"] == "home-1a");
  CHECK(outputs["KeyName"] == "web-key");
  for (const auto& p : s.parameters()) {
    if (p.key() == "Secret") CHECK(p.value() == "****");
  }
  auto ev = f.Events("web");
  REQUIRE(!ev.empty());
  CHECK(ev.front() == "web CREATE_COMPLETE ");
  CHECK(ev.back() == "web CREATE_IN_PROGRESS User Initiated");
}

TEST_CASE("CreateStack refuses bad input with CloudFormation's errors") {
  // Bugs caught: a second stack of the same name; a bad name accepted; a missing parameter, an
  // image that does not exist or a value outside AllowedValues accepted; an unsupported property
  // ignored instead of named; a guest creating stacks.
  Fixture f;
  REQUIRE(f.Create("web", "web.yaml").ok());
  auto again = f.Create("web", "web.yaml");
  CHECK(Ec2CodeOf(again.status()) == "AlreadyExistsException");
  CHECK(again.status().message() == "Stack [web] already exists");
  CHECK(Ec2CodeOf(f.Create("1bad", "web.yaml").status()) == "ValidationError");
  auto bad_image = f.Create("b", "web.yaml", {{"ImageId", "ami-00000000000000000"}});
  CHECK(Ec2CodeOf(bad_image.status()) == "ValidationError");
  CHECK(absl::StrContains(bad_image.status().message(), "ImageId"));
  auto bad_type = f.Create("c", "web.yaml", {{"InstanceType", "m5.24xlarge"}});
  CHECK(absl::StrContains(bad_type.status().message(), "AllowedValues"));
  v1::CreateStackRequest req;
  req.set_stack_name("d");
  req.set_template_body(
      "Resources:\n  W:\n    Type: AWS::EC2::Instance\n    Properties:\n      ImageId: ami-1\n"
      "      SubnetId: subnet-1\n");
  auto unsupported = f.stacks->CreateStack(req, {});
  CHECK(Ec2CodeOf(unsupported.status()) == "ValidationError");
  CHECK(absl::StrContains(unsupported.status().message(), "Resources.W.Properties.SubnetId"));
  req.set_template_body(ReadTemplate("web.yaml"));
  auto guest = f.stacks->CreateStack(req, StackCaller{"i-0123456789abcdef0"});
  CHECK(Ec2CodeOf(guest.status()) == "AccessDenied");
}

TEST_CASE("CreationPolicy: SUCCESS completes, duplicates and bad signals are refused") {
  // Bugs caught: CREATE_COMPLETE without the signal; a signal for an unknown resource, or one
  // without a CreationPolicy, accepted; the placement group not made or not used.
  Fixture f;
  REQUIRE(f.Create("sig", "signal.yaml").ok());
  f.stacks->Advance();
  f.BootAll();
  f.stacks->Advance();
  const auto web = f.Resource("sig", "Web");
  CHECK(web.resource_status() == "CREATE_IN_PROGRESS");
  CHECK(f.Instance(web.physical_resource_id()).placement_group() ==
        f.Resource("sig", "Group").physical_resource_id());
  CHECK(Ec2CodeOf(f.Signal("sig", "Nope", "i-1", "SUCCESS")) == "ValidationError");
  CHECK(Ec2CodeOf(f.Signal("sig", "Key", "i-1", "SUCCESS")) == "ValidationError");
  CHECK(Ec2CodeOf(f.Signal("sig", "Web", "i-1", "MAYBE")) == "ValidationError");
  REQUIRE(f.Signal("sig", "Web", web.physical_resource_id(), "SUCCESS").ok());
  f.stacks->Advance();
  CHECK(f.Describe("sig").stack_status() == "CREATE_COMPLETE");
  CHECK(f.HasEvent("sig", "Received SUCCESS signal with UniqueId " + web.physical_resource_id()));
  // After completion: refused, nothing changes.
  CHECK(Ec2CodeOf(f.Signal("sig", "Web", "i-2", "FAILURE")) == "ValidationError");
  f.stacks->Advance();
  CHECK(f.Describe("sig").stack_status() == "CREATE_COMPLETE");
}

TEST_CASE("A FAILURE signal rolls back: reverse order, everything made is deleted") {
  // Bugs caught: the reason lost; the key pair deleted before the instance that uses it; the
  // instance not terminated (leaked); ROLLBACK_COMPLETE before the instance is gone.
  Fixture f;
  REQUIRE(f.Create("fail", "signal.yaml").ok());
  f.stacks->Advance();
  f.BootAll();
  const std::string inst = f.Resource("fail", "Web").physical_resource_id();
  REQUIRE(f.Signal("fail", "Web", inst, "FAILURE", "cfn-init step config/commands/01 failed").ok());
  f.stacks->Advance();
  CHECK(f.HasEvent("fail", "Web CREATE_FAILED Received FAILURE signal with UniqueId " + inst +
                               ". Reason: cfn-init step config/commands/01 failed"));
  CHECK(f.Describe("fail").stack_status() == "ROLLBACK_IN_PROGRESS");
  CHECK(f.Describe("fail").stack_status_reason() ==
        "The following resource(s) failed to create: [Web]. Rollback requested by user.");
  CHECK(f.Resource("fail", "Web").resource_status() == "DELETE_IN_PROGRESS");
  CHECK(f.Resource("fail", "Key").resource_status() == "CREATE_COMPLETE");  // still needed
  REQUIRE(f.ctl.Report(f.host, inst, v1::OBSERVED_STATE_ABSENT).ok());
  f.stacks->Advance();
  CHECK(f.Instance(inst).state() == v1::INSTANCE_STATE_CODE_TERMINATED);
  CHECK(f.Describe("fail").stack_status() == "ROLLBACK_COMPLETE");
  std::lock_guard<std::mutex> lock(f.ctl.state->mu());
  CHECK(f.ctl.state->key_pairs().count("fail-key") == 0);
  CHECK(f.ctl.state->placement_groups().empty());
}

TEST_CASE("A signal timeout fails the resource, DO_NOTHING keeps what was made") {
  // Bugs caught: the timeout never applied; CloudFormation's wording lost; DO_NOTHING rolling
  // back anyway; a signal after the timeout accepted.
  Fixture f;
  REQUIRE(f.Create("slow", "signal.yaml", {}, "DO_NOTHING").ok());
  f.stacks->Advance();
  f.BootAll();
  f.stacks->Advance();
  f.ctl.clock.Advance(absl::Minutes(11));
  const std::string inst = f.Resource("slow", "Web").physical_resource_id();
  CHECK(Ec2CodeOf(f.Signal("slow", "Web", inst, "SUCCESS")) == "ValidationError");
  f.stacks->Advance();
  CHECK(f.Resource("slow", "Web").resource_status_reason() ==
        "Failed to receive 1 resource signal(s) within the specified duration");
  CHECK(f.Describe("slow").stack_status() == "CREATE_FAILED");
  CHECK(f.Instance(inst).state() == v1::INSTANCE_STATE_CODE_RUNNING);
}

TEST_CASE("A launch error fails the resource with its message") {
  // Bugs caught: a RunInstances error swallowed; the stack stuck in CREATE_IN_PROGRESS.
  Fixture f;
  v1::CreateStackRequest req;
  req.set_stack_name("bad");
  req.set_template_body(
      "Resources:\n  W:\n    Type: AWS::EC2::Instance\n    Properties:\n"
      "      ImageId: " +
      f.image + "\n      InstanceType: t3.nonexistent\n");
  REQUIRE(f.stacks->CreateStack(req, {}).ok());
  f.stacks->Advance();
  CHECK(f.HasEvent("bad", "W CREATE_FAILED Invalid value 't3.nonexistent' for InstanceType."));
  CHECK(f.Resource("bad", "W").resource_status() == "DELETE_COMPLETE");  // nothing to delete
  CHECK(f.Describe("bad").stack_status() == "ROLLBACK_COMPLETE");
}

TEST_CASE("The instance-caller rule: a guest reads and signals only its own stack") {
  // Bugs caught: a guest reading another stack's metadata or signaling it; a guest listing
  // stacks; the stack's own instance refused.
  Fixture f;
  REQUIRE(f.Create("a", "signal.yaml").ok());
  REQUIRE(f.Create("b", "web.yaml").ok());
  f.stacks->Advance();
  const std::string a_inst = f.Resource("a", "Web").physical_resource_id();
  const StackCaller guest{a_inst};
  CHECK(f.Resource("a", "Web", guest).logical_resource_id() == "Web");
  v1::DescribeStackResourceRequest other;
  other.set_stack_name("b");
  other.set_logical_resource_id("Web");
  CHECK(Ec2CodeOf(f.stacks->DescribeStackResource(other, guest).status()) == "AccessDenied");
  CHECK(Ec2CodeOf(f.stacks->DescribeStacks({}, guest).status()) == "AccessDenied");
  CHECK(Ec2CodeOf(f.Signal("b", "Web", a_inst, "SUCCESS", "", guest)) == "AccessDenied");
  CHECK(Ec2CodeOf(f.stacks->DeleteStack({}, guest).status()) == "AccessDenied");
  f.BootAll();
  CHECK(f.Signal("a", "Web", a_inst, "SUCCESS", "", guest).ok());
}

TEST_CASE("WaitConditionHandle and WaitCondition: URL, data, forged tokens") {
  // Bugs caught: the handle's Ref not the guest endpoint's URL; a forged token accepted; the
  // wait condition completing without its signal; Fn::GetAtt Data not the signals' data.
  Fixture f;
  REQUIRE(f.Create("w", "wait.yaml").ok());
  f.stacks->Advance();
  const std::string url = f.Resource("w", "Handle").physical_resource_id();
  REQUIRE(absl::StartsWith(url, "http://169.254.169.254/cloudformation/waitcondition/"));
  const std::string token = url.substr(url.rfind('/') + 1);
  const std::string inst = f.Resource("w", "Web").physical_resource_id();
  CHECK(absl::StrContains(f.Instance(inst).user_data(), url));
  CHECK(Ec2CodeOf(f.stacks->SignalWaitCondition({std::string(64, 'b'), "SUCCESS", "", "x", ""})) ==
        "AccessDenied");
  f.BootAll();
  f.stacks->Advance();
  CHECK(f.Resource("w", "Wait").resource_status() == "CREATE_IN_PROGRESS");
  REQUIRE(f.stacks->SignalWaitCondition({token, "SUCCESS", "done", inst, "ready"}).ok());
  f.stacks->Advance();
  CHECK(f.Describe("w").stack_status() == "CREATE_COMPLETE");
  CHECK(f.Resource("w", "Done").metadata() == R"({"Data":"{\")" + inst + R"(\":\"ready\"}"})");
}

TEST_CASE("Volumes: made in the instance's zone, attached, detached and deleted with the stack") {
  // Bugs caught: the attachment made before the volume is available; DeleteStack deleting the
  // volume while attached, or leaking it; DELETE_COMPLETE stacks still found by name.
  Fixture f;
  REQUIRE(f.Create("vol", "volume.yaml", {{"Zone", "home-1a"}}).ok());
  for (int i = 0; i < 3; ++i) {
    f.stacks->Advance();
    f.BootAll();
    f.volumes->Reconcile();
  }
  const std::string inst = f.Resource("vol", "Web").physical_resource_id();
  const std::string vol = f.Resource("vol", "Data").physical_resource_id();
  REQUIRE(absl::StartsWith(vol, "vol-"));
  CHECK(f.Resource("vol", "Attach").resource_status() == "CREATE_IN_PROGRESS");
  // The host reports the disk attached.
  v1::ReportStatusRequest rep;
  rep.set_host_id(f.host);
  auto* o = rep.add_instances();
  o->set_instance_id(inst);
  o->set_state(v1::OBSERVED_STATE_RUNNING);
  o->set_ebs_disks_known(true);
  auto* d = o->add_ebs_disks();
  d->set_volume_id(vol);
  d->set_attached(true);
  REQUIRE(f.ctl.fleet->ReportStatus(rep).ok());
  f.stacks->Advance();
  CHECK(f.Describe("vol").stack_status() == "CREATE_COMPLETE");
  v1::DeleteStackRequest del;
  del.set_stack_name("vol");
  REQUIRE(f.stacks->DeleteStack(del, {}).ok());
  const std::string stack_id = f.Describe("vol").stack_id();
  for (int i = 0; i < 4; ++i) {
    f.stacks->Advance();
    o->clear_ebs_disks();
    o->set_state(v1::OBSERVED_STATE_ABSENT);
    REQUIRE(f.ctl.fleet->ReportStatus(rep).ok());
    f.volumes->Reconcile();
  }
  f.stacks->Advance();
  CHECK(f.Describe(stack_id).stack_status() == "DELETE_COMPLETE");
  v1::DescribeStacksRequest by_name;
  by_name.set_stack_name("vol");
  CHECK(Ec2CodeOf(f.stacks->DescribeStacks(by_name, {}).status()) == "ValidationError");
  std::lock_guard<std::mutex> lock(f.ctl.state->mu());
  CHECK(f.ctl.state->volumes().count(vol) == 0);
}

TEST_CASE("UpdateStack: metadata in place, instance replaced, no-op refused") {
  // Bugs caught: a metadata change replacing the instance (or not reaching DescribeStackResource);
  // a property change updating in place; the old instance not deleted in cleanup; an identical
  // update accepted instead of "No updates are to be performed.".
  Fixture f;
  REQUIRE(f.Create("up", "web.yaml").ok());
  f.stacks->Advance();
  f.BootAll();
  f.stacks->Advance();
  REQUIRE(f.Describe("up").stack_status() == "CREATE_COMPLETE");
  const std::string first = f.Resource("up", "Web").physical_resource_id();
  auto update = [&](std::map<std::string, std::string> params) {
    v1::UpdateStackRequest u;
    u.set_stack_name("up");
    u.set_use_previous_template(true);
    for (const auto& k : {"ImageId", "InstanceType", "Greeting", "Secret"}) {
      auto* p = u.add_parameters();
      p->set_key(k);
      if (params.count(k)) {
        p->set_value(params[k]);
      } else {
        p->set_use_previous_value(true);
      }
    }
    return f.stacks->UpdateStack(u, {}).status();
  };
  CHECK(update({}).message() == "No updates are to be performed.");
  REQUIRE(update({{"Greeting", "hi"}}).ok());
  CHECK(absl::StrContains(f.Resource("up", "Web").metadata(), "hi from up"));
  f.stacks->Advance();
  CHECK(f.Describe("up").stack_status() == "UPDATE_COMPLETE");
  CHECK(f.Resource("up", "Web").physical_resource_id() == first);
  REQUIRE(update({{"InstanceType", "t3.small"}}).ok());
  f.stacks->Advance();
  const std::string second = f.Resource("up", "Web").physical_resource_id();
  CHECK(second != first);
  CHECK(f.Instance(first).state() == v1::INSTANCE_STATE_CODE_RUNNING);  // until cleanup
  f.BootAll();
  f.stacks->Advance();
  CHECK(f.Describe("up").stack_status() == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS");
  REQUIRE(f.ctl.Report(f.host, first, v1::OBSERVED_STATE_ABSENT).ok());
  f.stacks->Advance();
  CHECK(f.Describe("up").stack_status() == "UPDATE_COMPLETE");
  CHECK(f.Instance(first).state() == v1::INSTANCE_STATE_CODE_TERMINATED);
  CHECK(f.Instance(second).instance_type() == "t3.small");
}

TEST_CASE("A restarted controller resumes stacks from their records") {
  // Bugs caught: the driver keeping state only in memory; a second instance launched after the
  // restart (the launch not idempotent); signals lost.
  Fixture f;
  REQUIRE(f.Create("r", "signal.yaml").ok());
  f.stacks->Advance();
  const std::string inst = f.Resource("r", "Web").physical_resource_id();
  f.Restart();
  f.BootAll();
  REQUIRE(f.Signal("r", "Web", inst, "SUCCESS").ok());
  f.Restart();
  f.stacks->Advance();
  CHECK(f.Describe("r").stack_status() == "CREATE_COMPLETE");
  CHECK(f.Resource("r", "Web").physical_resource_id() == inst);
  std::lock_guard<std::mutex> lock(f.ctl.state->mu());
  CHECK(f.ctl.state->instances().size() == 1);
}

TEST_CASE("ValidateTemplate: parameters and description, errors name the path") {
  // Bugs caught: parameters missing from the answer; NoEcho lost; a template error without its
  // path.
  Fixture f;
  v1::ValidateTemplateRequest v;
  v.set_template_body(ReadTemplate("web.yaml"));
  auto r = f.stacks->ValidateTemplate(v);
  REQUIRE(r.ok());
  CHECK(r->description() == "One instance with a key pair, cfn-init metadata and outputs");
  REQUIRE(r->parameters_size() == 4);
  CHECK(r->parameters(3).parameter_key() == "Secret");
  CHECK(r->parameters(3).no_echo());
  v.set_template_body("Resources:\n  W:\n    Type: AWS::EC2::Nope\n");
  auto bad = f.stacks->ValidateTemplate(v);
  CHECK(Ec2CodeOf(bad.status()) == "ValidationError");
  CHECK(absl::StrContains(bad.status().message(), "Resources.W"));
}

TEST_CASE("The test templates pass cfn-lint") {
  // Bug caught: a test template CloudFormation itself would refuse.
  MC_SKIP_UNLESS(std::system("command -v cfn-lint >/dev/null 2>&1") == 0,
                 "cfn-lint is not installed");
  const std::string dir =
      std::string(MINICLOUD_SOURCE_DIR) + "/tests/unit/controller/stack_templates";
  for (const char* t : {"web.yaml", "signal.yaml", "wait.yaml", "volume.yaml", "keys.yaml",
                        "keys2.yaml", "badtype.yaml", "keyed.yaml"}) {
    INFO(t);
    CHECK(std::system(("cfn-lint " + dir + "/" + t).c_str()) == 0);
  }
}

}  // namespace
}  // namespace minicloud::controller
