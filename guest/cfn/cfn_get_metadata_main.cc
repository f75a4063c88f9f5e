// /opt/aws/bin/cfn-get-metadata: a resource's metadata (or one key of it) as JSON.

#include <CLI/CLI.hpp>
#include <cstdio>

#include "guest/cfn/cfn_api.h"

using namespace minicloud::guest;

static int Main(int argc, char** argv) {
  CLI::App app{"cfn-get-metadata: prints a CloudFormation resource's metadata"};
  std::string stack, resource, region, key, ignored, url = kDefaultCfnUrl;
  app.add_option("-s,--stack", stack, "stack name or id")->required();
  app.add_option("-r,--resource", resource, "logical id of the resource")->required();
  app.add_option("--region", region, "region (the guest's endpoint serves its own)");
  app.add_option("--url", url, "CloudFormation endpoint")->capture_default_str();
  app.add_option("-k,--key", key, "a dotted key into the metadata (a.b.c)");
  for (const char* name : {"--role", "-f,--credential-file", "--access-key", "--secret-key",
                           "--http-proxy", "--https-proxy"}) {
    app.add_option(name, ignored, "ignored (accepted for compatibility)")->group("Compatibility");
  }
  CLI11_PARSE(app, argc, argv);

  StatusOr<ResourceDetail> detail = DescribeStackResource(url, stack, resource);
  if (!detail.ok()) {
    std::fprintf(stderr, "cfn-get-metadata: %s\n", detail.status().message().c_str());
    return 1;
  }
  nlohmann::json value = detail->metadata;
  if (!key.empty()) {
    StatusOr<nlohmann::json> found = LookupKey(value, key);
    if (!found.ok()) {
      std::fprintf(stderr, "cfn-get-metadata: %s\n", found.status().message().c_str());
      return 1;
    }
    value = *found;
  }
  // A string is printed as its text (usable in shell scripts); anything else as JSON.
  std::string out = value.is_string() ? value.get<std::string>() : value.dump(4);
  std::printf("%s\n", out.c_str());
  return 0;
}

// Nothing the network sends may crash a helper: an unexpected exception is an error line.
int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cfn-get-metadata: error: %s\n", e.what());
    return 1;
  }
}
