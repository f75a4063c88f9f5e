#pragma once

// StackService over the real store (RocksDB in a temp dir) and the controller's real services,
// a fake volume service, and host reports made the way an agent makes them.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "controller/service/stack_service.h"
#include "tests/testing/controller_fixture.h"
#include "tests/testing/fake_volume_service.h"

namespace minicloud::testing {

using controller::StackCaller;
using controller::StackService;
using controller::StackServiceOptions;
using controller::VolumeFleet;
using controller::VolumeService;

// A template of tests/unit/controller/stack_templates/ (they pass cfn-lint).
inline std::string ReadTemplate(const std::string& name) {
  std::ifstream in(std::string(MINICLOUD_SOURCE_DIR) + "/tests/unit/controller/stack_templates/" +
                   name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct StackFixture {
  ControllerFixture ctl;
  std::shared_ptr<FakeVolumeService> backend = std::make_shared<FakeVolumeService>();
  VolumeFleet fleet;
  std::unique_ptr<controller::VolumeService> volumes;
  std::unique_ptr<StackService> stacks;
  std::string host, image;
  int tokens = 0;
  bool real_tokens = false;  // true: the service's own (RAND_bytes) handle tokens after Build()

  StackFixture() {
    host = ctl.AddHost("home-1a");
    fleet.Add("home-1a", backend);
    image = ctl.RegisterImage();
    Build();
  }
  void Build() {
    volumes = std::make_unique<VolumeService>(*ctl.state, ctl.clock, ctl.ids, fleet);
    StackServiceOptions o;
    if (!real_tokens) {
      o.new_handle_token = [this] { return std::string(63, 'a') + std::to_string(++tokens % 10); };
    }
    stacks = std::make_unique<StackService>(*ctl.state, ctl.clock, ctl.ids, *ctl.compute,
                                            *ctl.key_pairs, *ctl.groups, volumes.get(), o);
  }
  // A controller restart on the same state directory.
  void Restart() {
    stacks.reset();
    volumes.reset();
    ctl.Reopen();
    Build();
  }
  absl::StatusOr<std::string> Create(const std::string& name, const std::string& file,
                                     std::map<std::string, std::string> params = {},
                                     const std::string& on_failure = "") {
    v1::CreateStackRequest req;
    req.set_stack_name(name);
    req.set_template_body(ReadTemplate(file));
    if (!params.count("ImageId") && absl::StrContains(req.template_body(), "\n  ImageId:\n")) {
      params["ImageId"] = image;
    }
    for (const auto& [k, v] : params) {
      auto* p = req.add_parameters();
      p->set_key(k);
      p->set_value(v);
    }
    req.set_on_failure(on_failure);
    auto r = stacks->CreateStack(req, {});
    if (!r.ok()) return r.status();
    return r->stack_id();
  }
  v1::Stack Describe(const std::string& name) {
    v1::DescribeStacksRequest d;
    d.set_stack_name(name);
    auto r = stacks->DescribeStacks(d, {});
    REQUIRE(r.ok());
    REQUIRE(r->stacks_size() == 1);
    return r->stacks(0);
  }
  v1::StackResource Resource(const std::string& stack, const std::string& logical,
                             StackCaller caller = {}) {
    v1::DescribeStackResourceRequest d;
    d.set_stack_name(stack);
    d.set_logical_resource_id(logical);
    auto r = stacks->DescribeStackResource(d, caller);
    REQUIRE(r.ok());
    return r->stack_resource_detail();
  }
  std::vector<std::string> Events(const std::string& stack) {
    v1::DescribeStackEventsRequest d;
    d.set_stack_name(stack);
    auto r = stacks->DescribeStackEvents(d, {});
    REQUIRE(r.ok());
    std::vector<std::string> out;
    for (const auto& e : r->stack_events()) {
      out.push_back(e.logical_resource_id() + " " + e.resource_status() + " " +
                    e.resource_status_reason());
    }
    return out;
  }
  bool HasEvent(const std::string& stack, const std::string& text) {
    for (const auto& e : Events(stack)) {
      if (e.find(text) != std::string::npos) return true;
    }
    return false;
  }
  // The host reports every pending instance running.
  void BootAll() {
    std::vector<std::string> pending;
    {
      std::lock_guard<std::mutex> lock(ctl.state->mu());
      for (const auto& [id, r] : ctl.state->instances()) {
        if (r.state() == v1::INSTANCE_STATE_CODE_PENDING) pending.push_back(id);
      }
    }
    for (const auto& id : pending) REQUIRE(ctl.Report(host, id, v1::OBSERVED_STATE_RUNNING).ok());
  }
  v1::InstanceRecord Instance(const std::string& id) {
    std::lock_guard<std::mutex> lock(ctl.state->mu());
    return ctl.state->instances().at(id);
  }
  absl::Status Signal(const std::string& stack, const std::string& logical,
                      const std::string& unique_id, const std::string& status,
                      const std::string& reason = "", StackCaller caller = {}) {
    v1::SignalResourceRequest s;
    s.set_stack_name(stack);
    s.set_logical_resource_id(logical);
    s.set_unique_id(unique_id);
    s.set_status(status);
    s.set_reason(reason);
    return stacks->SignalResource(s, caller).status();
  }
};

}  // namespace minicloud::testing
