// libFuzzer target for what the guest helpers read from the network and from files
// (guest/cfn): any bytes as a DescribeStackResource answer, as AWS::CloudFormation::Init
// metadata planned and executed against a fake System, as a mustache template, and as
// cfn-hup.conf / hooks files. Checked on every input, besides "no crash, no sanitizer report":
//  * nothing throws (a json::type_error escaping a missing type check aborts the fuzzer);
//  * a plan that has a refused step runs nothing (the fake System records no call) and
//    reports exactly one step line and the result line;
//  * every run's report ends with "cfn-init: result: ".
// Bugs each property catches (one line each): a `.get<std::string>()` on a value the planner did
// not check; the refusal check done step by step (a command already ran); a result line missing
// on an early return.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "guest/cfn/cfn_api.h"
#include "guest/cfn/hup.h"
#include "guest/cfn/init_exec.h"
#include "guest/cfn/init_plan.h"
#include "guest/cfn/mustache.h"
#include "tests/unit/guest/fake_system.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace minicloud::guest;
  using nlohmann::json;
  const std::string text(reinterpret_cast<const char*>(data), size);

  (void)ParseDescribeStackResource(HttpResponse{200, text});
  (void)ParseDescribeStackResource(HttpResponse{400, text});
  (void)ParseHupConfig(text);
  (void)ParseHooks(text, "fuzz.conf");
  (void)RenderMustache(text, json{{"a", "b"}, {"n", 1}});
  (void)LookupKey(json{{"a", {{"b", {1, 2}}}}}, text);

  json metadata = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (metadata.is_discarded()) return 0;
  for (const json& candidate : {metadata, json{{"AWS::CloudFormation::Init", metadata}},
                                json{{"AWS::CloudFormation::Init", {{"config", metadata}}}}}) {
    StatusOr<std::vector<Step>> steps = PlanInit(candidate, {});
    if (!steps.ok()) continue;
    bool refused = false;
    for (const Step& step : *steps) refused = refused || !step.refusal.empty();
    testing::FakeSystem system;
    InitExecutor executor(
        system, [](const std::string&) {}, [](const std::string&) {});
    InitResult result = executor.Run(*steps);
    Check(!result.report.empty());
    Check(result.report.back().rfind("cfn-init: result: ", 0) == 0);
    if (refused) {
      Check(system.calls.empty());
      Check(result.report.size() == 2);
      Check(result.exit_code == kInitFailureExit);
    }
  }
  return 0;
}
