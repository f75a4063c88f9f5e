// The metadata address's routes besides IMDS (guest_routes.h): which target goes where, the checks
// before a CloudFormation request is forwarded or the helper archive served, and how the
// controller's answer (or its absence) becomes the guest's response. Pure functions, table tests.
//
// One-line bugs each section catches:
//  - RouteOf: a StartsWith("/cloudformation") without the '/' check sends "/cloudformationx" to
//    the controller; dropping the query split misroutes "/minicloud/cfn-bootstrap.tar.gz?x".
//  - BodyLimitFor: returning the IMDS limit for every route refuses 5 KiB signals.
//  - DecideCloudFormation: forgetting the null-instance check forwards an unknown source; a
//    missing X-Forwarded-For check; `>=` instead of `>` refuses a body of exactly 64 KiB; a
//    target without the leading '/' for "/cloudformation?Action=..."; the disabled-endpoint check.
//  - DecideCfnBootstrap: POST accepted; unknown source served.
//  - ForwardFailure / ForwardedResponse: Unavailable not mapped to 503; a 0 status passed on; a
//    content type with CR LF passed on.

#include "agent/metadata/guest_routes.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/unit/metadata/instance_builder.h"

namespace minicloud::metadata {
namespace {

using testing::MakeInstance;

Request Req(std::string method, std::string target, Headers headers = {}) {
  Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers = std::move(headers);
  return r;
}

TEST_CASE("guest routes: which target goes where", "[metadata][guest]") {
  struct Row {
    const char* target;
    GuestRoute route;
  };
  const std::vector<Row> rows = {
      {"/cloudformation", GuestRoute::kCloudFormation},
      {"/cloudformation/", GuestRoute::kCloudFormation},
      {"/cloudformation?Action=DescribeStackResource", GuestRoute::kCloudFormation},
      {"/cloudformation/?Action=SignalResource", GuestRoute::kCloudFormation},
      {"/cloudformation/waitcondition/abc", GuestRoute::kCloudFormation},
      {"/cloudformationx", GuestRoute::kImds},
      {"/cloudformation-x/", GuestRoute::kImds},
      {"/CloudFormation/", GuestRoute::kImds},
      {"/latest/cloudformation/", GuestRoute::kImds},
      {"http://169.254.169.254/cloudformation/", GuestRoute::kImds},  // proxy form: IMDS's 403
      {"/latest/meta-data/", GuestRoute::kImds},
      {"/", GuestRoute::kImds},
      {"/minicloud/cfn-bootstrap.tar.gz", GuestRoute::kCfnBootstrap},
      {"/minicloud/cfn-bootstrap.tar.gz?v=1", GuestRoute::kCfnBootstrap},
      {"/minicloud/cfn-bootstrap.tar.gz/", GuestRoute::kImds},
      {"/minicloud/", GuestRoute::kImds},
  };
  for (const Row& row : rows) {
    INFO(row.target);
    CHECK(RouteOf(row.target) == row.route);
  }
}

TEST_CASE("guest routes: body limit by route", "[metadata][guest]") {
  CHECK(BodyLimitFor("/cloudformation/", 4096) == kMaxCloudFormationBody);
  CHECK(BodyLimitFor("/cloudformation?Action=X", 4096) == kMaxCloudFormationBody);
  CHECK(BodyLimitFor("/latest/api/token", 4096) == 4096);
  CHECK(BodyLimitFor("/minicloud/cfn-bootstrap.tar.gz", 4096) == 4096);
}

TEST_CASE("guest routes: CloudFormation requests forwarded with the target after the prefix",
          "[metadata][guest]") {
  const InstanceMetadata m = MakeInstance().Build();
  struct Row {
    const char* target;
    const char* forwarded;
  };
  const std::vector<Row> rows = {
      {"/cloudformation", "/"},
      {"/cloudformation/", "/"},
      {"/cloudformation?Action=DescribeStackResource&StackName=s",
       "/?Action=DescribeStackResource&StackName=s"},
      {"/cloudformation/?Action=SignalResource", "/?Action=SignalResource"},
      {"/cloudformation/waitcondition/tok%2Fen?x=1", "/waitcondition/tok%2Fen?x=1"},
      {"/cloudformation//double", "//double"},
  };
  for (const Row& row : rows) {
    INFO(row.target);
    const CloudFormationDecision d = DecideCloudFormation(Req("POST", row.target), 10, &m);
    REQUIRE_FALSE(d.answer.has_value());
    CHECK(d.target == row.forwarded);
  }
  // Every method is the endpoint's to judge.
  for (const char* method : {"GET", "POST", "PUT", "DELETE", "PATCH"}) {
    INFO(method);
    CHECK_FALSE(DecideCloudFormation(Req(method, "/cloudformation/"), 0, &m).answer.has_value());
  }
}

TEST_CASE("guest routes: CloudFormation requests refused before forwarding", "[metadata][guest]") {
  const InstanceMetadata m = MakeInstance().Build();
  const InstanceMetadata off = MakeInstance().Endpoint(HttpEndpoint::kDisabled).Build();
  const InstanceMetadata required = MakeInstance().Tokens(HttpTokens::kRequired).Build();
  struct Row {
    const char* name;
    Request request;
    size_t body_size;
    const InstanceMetadata* instance;
    int status;  // 0: forwarded
  };
  const std::vector<Row> rows = {
      {"unknown source", Req("POST", "/cloudformation/"), 10, nullptr, 403},
      {"metadata endpoint disabled", Req("POST", "/cloudformation/"), 10, &off, 403},
      {"through a proxy", Req("POST", "/cloudformation/", {{"X-Forwarded-For", "10.0.0.9"}}), 10,
       &m, 403},
      {"proxy header in another case",
       Req("POST", "/cloudformation/", {{"x-forwarded-for", "10.0.0.9"}}), 10, &m, 403},
      {"body one byte over", Req("POST", "/cloudformation/"), kMaxCloudFormationBody + 1, &m, 413},
      {"body at the limit", Req("POST", "/cloudformation/"), kMaxCloudFormationBody, &m, 0},
      {"no IMDSv2 token needed, even when required", Req("POST", "/cloudformation/"), 10, &required,
       0},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    const CloudFormationDecision d = DecideCloudFormation(row.request, row.body_size, row.instance);
    if (row.status == 0) {
      CHECK_FALSE(d.answer.has_value());
    } else {
      REQUIRE(d.answer.has_value());
      CHECK(d.answer->status == row.status);
      CHECK(d.answer->headers.Get("Content-Type") == "text/plain; charset=utf-8");
      CHECK_FALSE(d.answer->body.empty());
    }
  }
}

TEST_CASE("guest routes: the helper archive", "[metadata][guest]") {
  const InstanceMetadata m = MakeInstance().Build();
  const InstanceMetadata off = MakeInstance().Endpoint(HttpEndpoint::kDisabled).Build();
  const std::string path(kCfnBootstrapPath);
  CHECK_FALSE(DecideCfnBootstrap(Req("GET", path), &m).has_value());
  CHECK_FALSE(DecideCfnBootstrap(Req("HEAD", path), &m).has_value());
  auto post = DecideCfnBootstrap(Req("POST", path), &m);
  REQUIRE(post);
  CHECK(post->status == 405);
  CHECK(post->headers.Get("Allow") == "GET, HEAD");
  auto unknown = DecideCfnBootstrap(Req("GET", path), nullptr);
  REQUIRE(unknown);
  CHECK(unknown->status == 403);
  auto disabled = DecideCfnBootstrap(Req("GET", path), &off);
  REQUIRE(disabled);
  CHECK(disabled->status == 403);

  const Response missing = ArchiveMissing();
  CHECK(missing.status == 404);
  CHECK(missing.body.find("cfn_bootstrap_archive") != std::string::npos);
  const Response found = ArchiveFound(12345);
  CHECK(found.status == 200);
  CHECK(found.headers.Get("Content-Type") == "application/gzip");
  CHECK(found.content_length == 12345u);
  CHECK(found.body.empty());
}

TEST_CASE("guest routes: the controller's answer, or why there is none", "[metadata][guest]") {
  struct Row {
    absl::Status status;
    int http;
  };
  const std::vector<Row> rows = {
      {absl::UnavailableError("connection refused"), 503},
      {absl::DeadlineExceededError("deadline"), 503},
      {absl::UnimplementedError("old controller"), 503},
      {absl::PermissionDeniedError("not on this host"), 403},
      {absl::UnauthenticatedError("no certificate"), 403},
      {absl::InternalError("boom"), 502},
      {absl::InvalidArgumentError("bad id"), 502},
  };
  for (const Row& row : rows) {
    INFO(row.status.ToString());
    const Response r = ForwardFailure(row.status);
    CHECK(r.status == row.http);
    CHECK(r.body.find(std::string(row.status.message())) != std::string::npos);
  }
  CHECK(ForwardFailure(absl::UnavailableError("x")).body.find("cannot reach the controller") !=
        std::string::npos);

  const Response ok = ForwardedResponse(200, "application/json", "{\"a\":1}");
  CHECK(ok.status == 200);
  CHECK(ok.headers.Get("Content-Type") == "application/json");
  CHECK(ok.body == "{\"a\":1}");
  CHECK(ForwardedResponse(404, "text/xml", "<x/>").status == 404);
  CHECK(ForwardedResponse(0, "text/xml", "").status == 502);
  CHECK(ForwardedResponse(199, "text/xml", "").status == 502);
  CHECK(ForwardedResponse(600, "text/xml", "").status == 502);
  CHECK(ForwardedResponse(599, "text/xml", "").status == 599);
  CHECK(ForwardedResponse(204, "text/xml", "x").status == 502);
  CHECK(ForwardedResponse(304, "text/xml", "x").status == 502);
  CHECK(ForwardedResponse(200, "text/xml\r\nX-Evil: 1", "").headers.Get("Content-Type") ==
        "text/plain; charset=utf-8");
  CHECK(ForwardedResponse(200, "", "").headers.Get("Content-Type") == "text/plain; charset=utf-8");
}

}  // namespace
}  // namespace minicloud::metadata
