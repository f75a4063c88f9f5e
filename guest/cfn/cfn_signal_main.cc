// /opt/aws/bin/cfn-signal: a resource signal (SignalResource, for a CreationPolicy) or a
// WaitConditionHandle signal (PUT to the handle's URL). Flags as aws-cfn-bootstrap's.

#include <CLI/CLI.hpp>
#include <cstdio>

#include "guest/cfn/cfn_api.h"

using namespace minicloud::guest;

static int Main(int argc, char** argv) {
  CLI::App app{"cfn-signal: signals a CloudFormation resource or WaitConditionHandle"};
  int exit_code = 0;
  std::string success = "true", reason, id, data, stack, resource, region, handle, ignored;
  std::string url = kDefaultCfnUrl;
  app.add_option("-e,--exit-code", exit_code, "non-zero signals FAILURE");
  app.add_option("-s,--success", success, "true or false")->check(CLI::IsMember({"true", "false"}));
  app.add_option("-r,--reason", reason, "why (shown in the stack's events)");
  app.add_option("-i,--id", id, "unique id of the signal (default: the instance id)");
  app.add_option("-d,--data", data, "data for a WaitCondition");
  app.add_option("--stack", stack, "stack name or id (with --resource: SignalResource)");
  app.add_option("--resource", resource, "logical id of the resource to signal");
  app.add_option("--region", region, "region (the guest's endpoint serves its own)");
  app.add_option("--url", url, "CloudFormation endpoint")->capture_default_str();
  app.add_option("handle", handle, "a WaitConditionHandle URL (instead of --stack/--resource)");
  for (const char* name : {"--role", "-f,--credential-file", "--access-key", "--secret-key",
                           "--http-proxy", "--https-proxy"}) {
    app.add_option(name, ignored, "ignored (accepted for compatibility)")->group("Compatibility");
  }
  CLI11_PARSE(app, argc, argv);

  const bool ok = exit_code == 0 && success == "true";
  const bool resource_form = !stack.empty() || !resource.empty();
  if (resource_form && (stack.empty() || resource.empty())) {
    std::fprintf(stderr, "cfn-signal: --stack and --resource go together\n");
    return 2;
  }
  if (!resource_form && handle.empty()) {
    std::fprintf(stderr, "cfn-signal: give --stack and --resource, or a WaitConditionHandle URL\n");
    return 2;
  }
  if (resource_form && !handle.empty()) {
    std::fprintf(stderr, "cfn-signal: a handle URL and --stack/--resource are exclusive\n");
    return 2;
  }
  if (id.empty()) {
    StatusOr<std::string> instance = InstanceIdFromImds();
    if (!instance.ok()) {
      std::fprintf(stderr, "cfn-signal: %s (give --id)\n", instance.status().message().c_str());
      return 1;
    }
    id = *instance;
  }
  Status st;
  if (resource_form) {
    st = SignalResource(url, SignalRequest{stack, resource, id, ok, reason});
  } else {
    std::string why = reason.empty() ? "exit code " + std::to_string(exit_code) : reason;
    st = SignalWaitCondition(handle, WaitConditionBody(ok, why, id, data));
  }
  if (!st.ok()) {
    std::fprintf(stderr, "cfn-signal: %s\n", st.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "cfn-signal: %s signal sent for %s\n", ok ? "SUCCESS" : "FAILURE",
               resource_form ? (stack + "/" + resource).c_str() : "the wait condition");
  return 0;
}

// Nothing the network sends may crash a helper: an unexpected exception is an error line.
int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cfn-signal: error: %s\n", e.what());
    return 1;
  }
}
