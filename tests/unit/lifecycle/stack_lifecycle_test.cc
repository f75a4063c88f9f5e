// The stack lifecycle as tables: a stack (status, resources with statuses, needs, signals), what
// the controller observes, the time, and the steps NextSteps must give. Each row names the
// one-line bug it catches.
#include "controller/lifecycle/stack_lifecycle.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"

namespace minicloud::controller::lifecycle {
namespace {

using K = StepKind;
const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

struct Res {
  std::string id;
  std::string status;
  std::string physical;
  std::string needs;  // comma-separated
  int signal_count = 0;
  std::vector<std::pair<std::string, std::string>> signals = {};  // (unique id, status)
  std::string type = "AWS::EC2::Instance";
  std::string extra = "";  // "removed", "replaced:<old>", "retain", "created_by_update"
};

v1::StackRecord Stack(const std::string& status, const std::vector<Res>& rs,
                      const std::string& on_failure = "ROLLBACK", int timeout_min = 0) {
  v1::StackRecord s;
  s.set_name("st");
  s.set_stack_id("arn:aws:cloudformation:home-1:000000000000:stack/st/u");
  s.set_status(status);
  s.set_on_failure(on_failure);
  s.set_timeout_in_minutes(timeout_min);
  s.set_operation_start_ms(absl::ToUnixMillis(kT0));
  for (const Res& x : rs) {
    auto* r = s.add_resources();
    r->set_logical_id(x.id);
    r->set_type(x.type);
    r->set_status(x.status);
    r->set_physical_id(x.physical);
    r->set_status_time_ms(absl::ToUnixMillis(kT0));
    for (auto n : absl::StrSplit(x.needs, ',', absl::SkipEmpty())) r->add_needs(std::string(n));
    r->set_signal_count(x.signal_count);
    r->set_signal_timeout_ms(300000);
    for (const auto& [u, st] : x.signals) {
      auto* sig = r->add_signals();
      sig->set_unique_id(u);
      sig->set_status(st);
      sig->set_reason(st == "FAILURE" ? "cfn-init failed" : "");
    }
    if (x.extra == "removed") r->set_removed(true);
    if (x.extra.rfind("replaced:", 0) == 0) r->set_replaced_physical_id(x.extra.substr(9));
    r->set_deletion_policy(x.extra == "retain" ? "Retain" : "Delete");
    if (x.extra == "created_by_update") r->set_created_by_update(true);
  }
  return s;
}

struct Row {
  std::string name;  // the bug the row catches
  v1::StackRecord stack;
  Observations observed;
  absl::Duration elapsed;
  std::vector<Step> want;
};

Observation Ready() { return {Observed::kReady, ""}; }
Observation Pending() { return {Observed::kPending, ""}; }
Observation Gone() { return {Observed::kGone, ""}; }
Observation FailedObs(const std::string& why) { return {Observed::kFailed, why}; }

std::vector<Row> Rows() {
  const std::string C = "CREATE_IN_PROGRESS", CC = "CREATE_COMPLETE", CF = "CREATE_FAILED";
  const std::string DIP = "DELETE_IN_PROGRESS", DC = "DELETE_COMPLETE", DF = "DELETE_FAILED";
  return {
      {"a resource started before what it needs is complete",
       Stack(C, {{"Key", "", ""}, {"Web", "", "", "Key"}}),
       {},
       absl::ZeroDuration(),
       {{K::kCreate, "Key"}}},
      {"independent resources not started together",
       Stack(C, {{"A", "", ""}, {"B", "", ""}}),
       {},
       absl::ZeroDuration(),
       {{K::kCreate, "A"}, {K::kCreate, "B"}}},
      {"dependent not started once its need is complete",
       Stack(C, {{"Key", CC, "k"}, {"Web", "", "", "Key"}}),
       {},
       absl::ZeroDuration(),
       {{K::kCreate, "Web"}}},
      {"a running instance without CreationPolicy not completed",
       Stack(C, {{"Web", C, "i-1"}}),
       {{"i-1", Ready()}},
       absl::ZeroDuration(),
       {{K::kResourceComplete, "Web"}}},
      {"a pending instance completed too early",
       Stack(C, {{"Web", C, "i-1"}}),
       {{"i-1", Pending()}},
       absl::Minutes(3),
       {}},
      {"completed without its signal",
       Stack(C, {{"Web", C, "i-1", "", 1}}),
       {{"i-1", Ready()}},
       absl::Minutes(1),
       {}},
      {"a SUCCESS signal not counted",
       Stack(C, {{"Web", C, "i-1", "", 1, {{"i-1", "SUCCESS"}}}}),
       {{"i-1", Ready()}},
       absl::Minutes(1),
       {{K::kResourceComplete, "Web"}}},
      {"the same UniqueId counted twice",
       Stack(C, {{"Web", C, "i-1", "", 2, {{"i-1", "SUCCESS"}, {"i-1", "SUCCESS"}}}}),
       {{"i-1", Ready()}},
       absl::Minutes(1),
       {}},
      {"a FAILURE signal ignored, or the stack not rolled back",
       Stack(C, {{"Web", C, "i-1", "", 1, {{"i-1", "FAILURE"}}}}),
       {{"i-1", Ready()}},
       absl::Minutes(1),
       {{K::kResourceFailed, "Web", "", "",
         "Received FAILURE signal with UniqueId i-1. Reason: cfn-init failed"},
        {K::kStackStatus, "", "", "ROLLBACK_IN_PROGRESS",
         "The following resource(s) failed to create: [Web]. Rollback requested by user."}}},
      {"the signal timeout not applied",
       Stack(C, {{"Web", C, "i-1", "", 1}}, "DO_NOTHING"),
       {{"i-1", Ready()}},
       absl::Minutes(5),
       {{K::kResourceFailed, "Web", "", "",
         "Failed to receive 1 resource signal(s) within the specified duration"},
        {K::kStackStatus, "", "", "CREATE_FAILED",
         "The following resource(s) failed to create: [Web]."}}},
      {"a WaitCondition's timeout worded like an instance's",
       Stack(C, {{"Wait", C, "w", "", 1, {}, "AWS::CloudFormation::WaitCondition"}}, "DO_NOTHING"),
       {{"w", Ready()}},
       absl::Minutes(6),
       {{K::kResourceFailed, "Wait", "", "",
         "WaitCondition timed out. Received 0 conditions when expecting 1"},
        {K::kStackStatus, "", "", "CREATE_FAILED",
         "The following resource(s) failed to create: [Wait]."}}},
      {"a launch error not failing the resource, or others not cancelled",
       Stack(C, {{"A", C, "i-1"}, {"B", C, "i-2"}}, "DELETE"),
       {{"i-1", FailedObs("Server.InternalError: boot failed")}, {"i-2", Pending()}},
       absl::ZeroDuration(),
       {{K::kResourceFailed, "A", "", "", "Server.InternalError: boot failed"},
        {K::kResourceFailed, "B", "", "", "Resource creation cancelled"},
        {K::kStackStatus, "", "", "DELETE_IN_PROGRESS",
         "The following resource(s) failed to create: [A, B]. Delete requested by user."}}},
      {"TimeoutInMinutes ignored",
       Stack(C, {{"A", C, "i-1"}}, "ROLLBACK", 10),
       {{"i-1", Pending()}},
       absl::Minutes(10),
       {{K::kResourceFailed, "A", "", "", "Resource creation cancelled"},
        {K::kStackStatus, "", "", "ROLLBACK_IN_PROGRESS",
         "Stack creation time exceeded the specified timeout. Rollback requested by user."}}},
      {"CREATE_COMPLETE not reached when everything is complete",
       Stack(C, {{"A", CC, "a"}, {"B", CC, "b"}}),
       {},
       absl::ZeroDuration(),
       {{K::kStackStatus, "", "", "CREATE_COMPLETE", ""}}},
      {"rollback deletes a resource before what needs it",
       Stack("ROLLBACK_IN_PROGRESS", {{"Key", CC, "k"}, {"Web", CF, "i-1", "Key"}}),
       {{"k", Ready()}, {"i-1", Ready()}},
       absl::ZeroDuration(),
       {{K::kDelete, "Web", "i-1"}}},
      {"a deleted resource not recorded, or its need not deleted next",
       Stack("ROLLBACK_IN_PROGRESS", {{"Key", CC, "k"}, {"Web", DIP, "i-1", "Key"}}),
       {{"k", Ready()}, {"i-1", Gone()}},
       absl::ZeroDuration(),
       {{K::kResourceDeleted, "Web", "i-1"}, {K::kDelete, "Key", "k"}}},
      {"a never-made resource deleted through the EC2 services, or rollback never completes",
       Stack("ROLLBACK_IN_PROGRESS", {{"Key", DC, "k"}, {"Web", CF, "", "Key"}, {"X", "", ""}}),
       {},
       absl::ZeroDuration(),
       {{K::kResourceDeleted, "Web", ""}, {K::kStackStatus, "", "", "ROLLBACK_COMPLETE", ""}}},
      {"a failed deletion not failing the stack, or its need deleted anyway",
       Stack("DELETE_IN_PROGRESS", {{"Vol", CC, "vol-1"}, {"Att", DF, "a", "Vol"}}),
       {},
       absl::ZeroDuration(),
       {{K::kStackStatus, "", "", "DELETE_FAILED",
         "The following resource(s) failed to delete: [Att]."}}},
      {"DeletionPolicy Retain ignored",
       Stack("DELETE_IN_PROGRESS", {{"Vol", CC, "vol-1", "", 0, {}, "AWS::EC2::Volume", "retain"}}),
       {},
       absl::ZeroDuration(),
       {{K::kDeleteSkipped, "Vol", "vol-1"}, {K::kStackStatus, "", "", "DELETE_COMPLETE", ""}}},
      {"an update's removed resource or replaced id not cleaned up",
       Stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
             {{"Old", "UPDATE_COMPLETE", "i-9", "", 0, {}, "AWS::EC2::Instance", "removed"},
              {"Web", "UPDATE_COMPLETE", "i-2", "", 0, {}, "AWS::EC2::Instance", "replaced:i-1"}}),
       {},
       absl::ZeroDuration(),
       {{K::kDelete, "Web", "i-1"}, {K::kDelete, "Old", "i-9"}}},
      {"an update with a replacement not going through cleanup",
       Stack("UPDATE_IN_PROGRESS",
             {{"Web", "UPDATE_COMPLETE", "i-2", "", 0, {}, "AWS::EC2::Instance", "replaced:i-1"}}),
       {},
       absl::ZeroDuration(),
       {{K::kStackStatus, "", "", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", ""}}},
      {"a failed update not rolled back",
       Stack(
           "UPDATE_IN_PROGRESS",
           {{"New", "CREATE_FAILED", "i-3", "", 0, {}, "AWS::EC2::Instance", "created_by_update"}}),
       {},
       absl::ZeroDuration(),
       {{K::kStackStatus, "", "", "UPDATE_ROLLBACK_IN_PROGRESS",
         "The following resource(s) failed to update: [New]."}}},
      {"a failed update's replacement deleted before the rollback's cleanup",
       Stack("UPDATE_ROLLBACK_IN_PROGRESS",
             {{"Web", "UPDATE_FAILED", "i-2", "", 0, {}, "AWS::EC2::Instance", "replaced:i-1"}}),
       {},
       absl::ZeroDuration(),
       {{K::kStackStatus, "", "", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", ""}}},
      {"the rollback's cleanup deleting the old physical id instead of the replacement",
       Stack("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
             {{"Web", "UPDATE_FAILED", "i-2", "", 0, {}, "AWS::EC2::Instance", "replaced:i-1"},
              {"Key", CC, "k", "", 0, {}, "AWS::EC2::KeyPair"}}),
       {},
       absl::ZeroDuration(),
       {{K::kDelete, "Web", "i-2"}}},
      {"the rollback's cleanup not finishing once what the update made is gone",
       Stack("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
             {{"New", "DELETE_COMPLETE", "k", "", 0, {}, "AWS::EC2::KeyPair", "created_by_update"},
              {"Key", CC, "k0", "", 0, {}, "AWS::EC2::KeyPair"}}),
       {},
       absl::ZeroDuration(),
       {{K::kStackStatus, "", "", "UPDATE_ROLLBACK_COMPLETE", ""}}},
      {"an update's cleanup starting before every new resource is in",
       Stack("UPDATE_IN_PROGRESS",
             {{"Web", "UPDATE_IN_PROGRESS", "i-2", "", 0, {}, "AWS::EC2::Instance", "replaced:i-1"},
              {"Old", "UPDATE_COMPLETE", "i-9", "", 0, {}, "AWS::EC2::Instance", "removed"}}),
       {{"i-2", Pending()}},
       absl::ZeroDuration(),
       {}},
      {"a settled stack given steps",
       Stack("CREATE_COMPLETE", {{"A", CC, "a"}}),
       {{"a", Gone()}},
       absl::Hours(1),
       {}},
  };
}

TEST_CASE("NextSteps: the table") {
  for (const Row& row : Rows()) {
    INFO(row.name);
    const std::vector<Step> got = NextSteps(row.stack, row.observed, kT0 + row.elapsed);
    std::vector<std::string> got_s, want_s;
    for (const auto& s : got) got_s.push_back(StepDebugString(s));
    for (const auto& s : row.want) want_s.push_back(StepDebugString(s));
    CHECK(got_s == want_s);
  }
}

TEST_CASE("Apply: statuses, physical ids and events") {
  // Bugs caught: the physical id not recorded; no "Resource creation Initiated" event; event ids
  // not in CloudFormation's form or two events with one id; a stack event without the stack's id;
  // the update's removed resource kept after UPDATE_COMPLETE.
  v1::StackRecord s = Stack("CREATE_IN_PROGRESS", {{"Web", "", ""}});
  int n = 0;
  auto uuid = [&] { return "uuid-" + std::to_string(++n); };
  Apply(s, {K::kCreateStarted, "Web", "i-1"}, kT0, uuid);
  REQUIRE(s.resources(0).physical_id() == "i-1");
  CHECK(s.resources(0).status() == "CREATE_IN_PROGRESS");
  REQUIRE(s.events_size() == 2);
  CHECK(s.events(0).physical_id().empty());
  CHECK(s.events(1).reason() == "Resource creation Initiated");
  CHECK(s.events(0).event_id() == "Web-CREATE_IN_PROGRESS-2023-11-14T22:13:20.000Z");
  CHECK(s.events(1).event_id() == "Web-CREATE_IN_PROGRESS-2023-11-14T22:13:20.000Z-2");
  Apply(s, {K::kResourceComplete, "Web"}, kT0 + absl::Seconds(1), uuid);
  CHECK(s.resources(0).status() == "CREATE_COMPLETE");
  Apply(s, {K::kStackStatus, "", "", "CREATE_COMPLETE", ""}, kT0 + absl::Seconds(1), uuid);
  CHECK(s.status() == "CREATE_COMPLETE");
  CHECK(s.events().rbegin()->event_id() == "uuid-1");
  CHECK(s.events().rbegin()->physical_id() == s.stack_id());
  CHECK(s.events().rbegin()->resource_type() == "AWS::CloudFormation::Stack");

  v1::StackRecord u =
      Stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            {{"Old", "UPDATE_COMPLETE", "i-9", "", 0, {}, "AWS::EC2::Instance", "removed"},
             {"Web", "UPDATE_COMPLETE", "i-2", "", 0, {}, "AWS::EC2::Instance", "replaced:i-1"}});
  Apply(u, {K::kDeleteStarted, "Web", "i-1"}, kT0, uuid);
  CHECK(u.resources(1).status() == "UPDATE_COMPLETE");  // the resource itself stays
  CHECK(u.resources(1).cleanup_status() == "DELETE_IN_PROGRESS");
  CHECK(u.events().rbegin()->physical_id() == "i-1");
  Apply(u, {K::kDeleteStarted, "Old", "i-9"}, kT0, uuid);
  CHECK(u.resources(0).status() == "DELETE_IN_PROGRESS");
  Apply(u, {K::kResourceDeleted, "Old", "i-9"}, kT0, uuid);
  Apply(u, {K::kResourceDeleted, "Web", "i-1"}, kT0, uuid);
  CHECK(NextSteps(u, {}, kT0) ==
        std::vector<Step>{{K::kStackStatus, "", "", "UPDATE_COMPLETE", ""}});
  Apply(u, {K::kStackStatus, "", "", "UPDATE_COMPLETE", ""}, kT0, uuid);
  REQUIRE(u.resources_size() == 1);
  CHECK(u.resources(0).logical_id() == "Web");
  CHECK(u.resources(0).replaced_physical_id().empty());
}

TEST_CASE("Apply: an update rollback restores the replaced physical id and drops new resources") {
  // Bugs caught: the stack left pointing at the deleted replacement; a resource the failed
  // update added kept in the stack; the old metadata not restored; what the update made deleted
  // in UPDATE_ROLLBACK_IN_PROGRESS instead of UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS.
  v1::StackRecord s =
      Stack("UPDATE_ROLLBACK_IN_PROGRESS",
            {{"Web", "UPDATE_FAILED", "i-2", "", 0, {}, "AWS::EC2::Instance", "replaced:i-1"},
             {"New", "CREATE_COMPLETE", "k", "", 0, {}, "AWS::EC2::KeyPair", "created_by_update"}});
  s.mutable_resources(0)->set_updated(true);
  s.mutable_resources(0)->set_previous_metadata_json("{\"v\":1}");
  s.mutable_resources(0)->set_metadata_json("{\"v\":2}");
  auto uuid = [] { return std::string("u"); };
  // The old resources are all in place: rolled back at once, nothing deleted yet.
  auto steps = NextSteps(s, {}, kT0);
  REQUIRE(steps.size() == 1);
  CHECK(steps[0] ==
        Step{K::kStackStatus, "", "", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", ""});
  Apply(s, steps[0], kT0, uuid);
  CHECK(s.events().rbegin()->status() == "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS");
  steps = NextSteps(s, {}, kT0);
  REQUIRE(steps.size() == 2);
  CHECK(steps[0] == Step{K::kDelete, "New", "k"});
  CHECK(steps[1] == Step{K::kDelete, "Web", "i-2"});
  for (const auto& st : steps) {
    Apply(s, {K::kDeleteStarted, st.logical_id, st.physical_id}, kT0, uuid);
  }
  steps = NextSteps(s, {{"i-2", Gone()}, {"k", Gone()}}, kT0);
  REQUIRE(steps.size() == 3);
  for (const auto& st : steps) Apply(s, st, kT0, uuid);
  CHECK(s.status() == "UPDATE_ROLLBACK_COMPLETE");
  REQUIRE(s.resources_size() == 1);
  CHECK(s.resources(0).physical_id() == "i-1");
  CHECK(s.resources(0).metadata_json() == "{\"v\":1}");
  CHECK(s.resources(0).status() == "UPDATE_COMPLETE");
}

TEST_CASE("ResourcesToRecheck: what needs a replaced resource, once the replacement is in") {
  // Bugs caught: a dependent of a replaced instance never evaluated again (the attachment keeps
  // the old instance id and the old instance cannot be deleted); dependents evaluated before the
  // replacement is made (nothing to refer to yet); a resource being replaced itself, or one made
  // by the update, listed; rechecks outside UPDATE_IN_PROGRESS.
  const std::string CC = "CREATE_COMPLETE";
  const std::vector<Res> done = {
      {"Web", "UPDATE_COMPLETE", "i-2", "", 0, {}, "AWS::EC2::Instance", "replaced:i-1"},
      {"Att", CC, "att", "Web,Vol", 0, {}, "AWS::EC2::VolumeAttachment"},
      {"Vol", CC, "vol-1", "", 0, {}, "AWS::EC2::Volume"},
      {"Out", CC, "o", "Vol", 0, {}, "AWS::EC2::KeyPair"},
      {"New", CC, "n", "Web", 0, {}, "AWS::EC2::KeyPair", "created_by_update"}};
  CHECK(ResourcesToRecheck(Stack("UPDATE_IN_PROGRESS", done)) == std::vector<std::string>{"Att"});
  std::vector<Res> pending = done;
  pending[0].status = "UPDATE_IN_PROGRESS";
  CHECK(ResourcesToRecheck(Stack("UPDATE_IN_PROGRESS", pending)).empty());
  CHECK(ResourcesToRecheck(Stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", done)).empty());

  v1::StackRecord s = Stack("UPDATE_IN_PROGRESS", done);
  s.mutable_resources(1)->set_properties_json("{\"InstanceId\":\"i-1\"}");
  MarkForReplacement(*s.mutable_resources(1));
  const auto& att = s.resources(1);
  CHECK(att.replaced_physical_id() == "att");
  CHECK(att.physical_id().empty());
  CHECK(att.status().empty());
  CHECK(att.previous_properties_json() == "{\"InstanceId\":\"i-1\"}");
  // Next: the attachment is made anew (its needs are complete), and only it.
  CHECK(NextSteps(s, {{"i-2", Ready()}, {"vol-1", Ready()}}, kT0) ==
        std::vector<Step>{{K::kCreate, "Att"}});
  CHECK(ResourcesToRecheck(s).empty());
}

}  // namespace
}  // namespace minicloud::controller::lifecycle
