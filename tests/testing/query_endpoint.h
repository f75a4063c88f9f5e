#pragma once

// The EC2 Query API of an in-process controller, as the tests that drive it with real clients
// (the aws CLI v1 and v2, boto3, Terraform) need it: the QueryApi over a ControllerFixture's
// services, every request checked by a SigV4 verifier, the Beast HTTP server on a loopback port
// the kernel picks; plus running a client command and the `aws ec2` command line with given
// credentials and nothing from the user's configuration.
//
// Used by tests/integration/query_cli_test.cc, query_volumes_test.cc, iam_test.cc and
// tests/conformance/query_cloud.cc.

#include <sys/wait.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "controller/auth/sigv4_verifier.h"
#include "controller/query/http_server.h"
#include "controller/query/query_api.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud::testing {

class QueryEndpoint {
 public:
  // The API over `ctl`'s services behind `verifier` (which must outlive the endpoint), plus the
  // optional services a fixture does not own (`volumes`, `stacks`: CloudFormation's StackApi,
  // a fake or the real StackService; both must outlive it too).
  static absl::StatusOr<std::unique_ptr<QueryEndpoint>> Start(
      ControllerFixture& ctl, const auth::RequestVerifier& verifier, uint64_t request_id_seed,
      controller::VolumeService* volumes = nullptr, controller::StackApi* stacks = nullptr) {
    auto e = std::unique_ptr<QueryEndpoint>(
        new QueryEndpoint(WithServices(ctl, volumes, stacks), verifier, request_id_seed));
    query::HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    QueryEndpoint* self = e.get();
    auto s = query::HttpServer::Start(
        o, [self](const query::HttpRequest& r) { return self->api_.Handle(r); });
    if (!s.ok()) return s.status();
    e->server_ = std::move(*s);
    return e;
  }
  ~QueryEndpoint() {
    if (server_) server_->Stop();
  }

  uint16_t port() const { return server_->port(); }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port()); }
  query::QueryApi& api() { return api_; }

 private:
  static query::Services WithServices(ControllerFixture& ctl, controller::VolumeService* volumes,
                                      controller::StackApi* stacks) {
    query::Services s{*ctl.compute, *ctl.images, *ctl.key_pairs, *ctl.groups, *ctl.tags};
    s.volumes = volumes;
    s.stacks = stacks;
    return s;
  }
  QueryEndpoint(query::Services services, const auth::RequestVerifier& verifier, uint64_t seed)
      : api_(services, verifier, seed) {}

  query::QueryApi api_;
  std::unique_ptr<query::HttpServer> server_;
};

// The controller's SigV4 verifier over its access keys, against the real clock: the clients
// under test sign with the machine's time.
inline std::unique_ptr<auth::RequestVerifier> RealClockVerifier(ControllerFixture& ctl) {
  return controller::auth::MakeSigV4Verifier(*ctl.access_keys, RealClock::Get(), ctl.config.region);
}

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

// Runs `command` with sh, stdout and stderr together.
inline CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

struct AwsCredentials {
  std::string key, secret, token;  // token: a session token, or empty
};

// `<aws> --region home-1 --output json --endpoint-url <endpoint> ec2 <args>` with `c` in the
// environment and no configuration or credentials file of the user's, one attempt, no IMDS.
inline std::string AwsEc2Command(const std::string& endpoint, const AwsCredentials& c,
                                 const std::string& args, const std::string& aws = "aws") {
  return absl::StrCat(
      "env AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ACCESS_KEY_ID=",
      c.key, " AWS_SECRET_ACCESS_KEY='", c.secret, "'",
      c.token.empty() ? "" : absl::StrCat(" AWS_SESSION_TOKEN='", c.token, "'"),
      " AWS_MAX_ATTEMPTS=1 AWS_EC2_METADATA_DISABLED=true ", aws,
      " --region home-1 --output json --endpoint-url ", endpoint, " ec2 ", args);
}

}  // namespace minicloud::testing
