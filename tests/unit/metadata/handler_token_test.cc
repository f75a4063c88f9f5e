// Table-driven tests of the pure IMDS handler, IMDSv2 side: issuing tokens (PUT
// /latest/api/token), using them under each HttpTokens/HttpEndpoint setting, and requests in
// absolute or authority form (see handler.cc for the sources of each rule).

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/metadata/handler.h"
#include "tests/unit/metadata/handler_cases.h"
#include "tests/unit/metadata/instance_builder.h"

namespace minicloud::metadata {
namespace {

using testing::Authority;
using testing::Case;
using testing::Check;
using testing::kHtml;
using testing::kNow;
using testing::MakeInstance;

TEST_CASE("IMDSv2 token issue: PUT /latest/api/token") {
  const std::vector<Case> cases = {
      {.name = "valid PUT issues a token, echoes TTL, TTL = hop limit 1",
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}},
       .expect_headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"},
                          {"Content-Type", "text/plain"}},
       .ttl = 1},
      {.name = "hop limit 2 for containers",
       .instance = [] { return MakeInstance().HopLimit(2); },
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "1"}},
       .expect_headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "1"}},
       .ttl = 2},
      {.name = "hop limit 64",
       .instance = [] { return MakeInstance().HopLimit(64); },
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}},
       .ttl = 64},
      {.name = "header name is case-insensitive",
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"x-AWS-ec2-metadata-token-TTL-seconds", "300"}},
       .expect_headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "300"}},
       .ttl = 1},
      {.name = "token PUT works with HttpTokens=required",
       .instance = [] { return MakeInstance().Tokens(HttpTokens::kRequired); },
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "300"}},
       .ttl = 1},
      {.name = "query string on the token path is ignored",
       .method = "PUT",
       .target = "/latest/api/token?x=1",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "300"}},
       .ttl = 1},
      {.name = "TTL missing -> 400",
       .method = "PUT",
       .target = "/latest/api/token",
       .status = 400,
       .golden = "error_400.html",
       .expect_headers = kHtml},
      {.name = "TTL non-numeric -> 400",
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "abc"}},
       .status = 400},
      {.name = "TTL empty -> 400",
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", ""}},
       .status = 400},
      {.name = "TTL 0 -> 400",
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "0"}},
       .status = 400},
      {.name = "TTL 21601 -> 400",
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21601"}},
       .status = 400},
      {.name = "TTL negative -> 400",
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "-1"}},
       .status = 400},
      {.name = "TTL with sign -> 400",
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "+5"}},
       .status = 400},
      {.name = "TTL fractional -> 400",
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "5.0"}},
       .status = 400},
      {.name = "TTL huge -> 400",
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "99999999999999999999"}},
       .status = 400},
      {.name = "versioned token path -> 403",
       .method = "PUT",
       .target = "/2021-03-23/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "300"}},
       .status = 403,
       .golden = "error_403.html",
       .expect_headers = kHtml},
      {.name = "PUT on a metadata path -> 403",
       .method = "PUT",
       .target = "/latest/meta-data/",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "300"}},
       .status = 403},
      {.name = "PUT on token path with trailing slash -> 403",
       .method = "PUT",
       .target = "/latest/api/token/",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "300"}},
       .status = 403},
      {.name = "PUT with X-Forwarded-For -> 403",
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "300"},
                   {"X-Forwarded-For", "203.0.113.7"}},
       .status = 403},
      {.name = "X-Forwarded-For any case -> 403",
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"x-forwarded-for", ""}, {"X-aws-ec2-metadata-token-ttl-seconds", "300"}},
       .status = 403},
  };
  for (const Case& c : cases) Check(c);

  SECTION("the issued token is valid for that instance for TTL seconds") {
    const InstanceMetadata m = MakeInstance().Build();
    Request req{.method = "PUT", .target = "/latest/api/token"};
    req.headers.Add(kTokenTtlHeader, "60");
    const Response r = Handle(req, &m, Authority(), kNow);
    REQUIRE(r.status == 200);
    CHECK(Authority().Validate(r.body, m.instance_id, kNow + absl::Seconds(59)) == TokenCheck::kOk);
    CHECK(Authority().Validate(r.body, m.instance_id, kNow + absl::Seconds(60)) ==
          TokenCheck::kExpired);
    CHECK(Authority().Validate(r.body, "i-other", kNow) == TokenCheck::kWrongInstance);
  }
}

TEST_CASE("IMDSv2 token use, HttpTokens, HttpEndpoint, methods, unknown source") {
  auto required = [] { return MakeInstance().Tokens(HttpTokens::kRequired); };
  const std::string id = "/latest/meta-data/instance-id";
  const std::vector<Case> cases = {
      {.name = "optional: no token (IMDSv1) -> 200", .target = id, .body = "i-0123456789abcdef0"},
      {.name = "optional: valid token -> 200",
       .target = id,
       .headers = {{"X-aws-ec2-metadata-token", "$TOKEN"}},
       .body = "i-0123456789abcdef0"},
      {.name = "optional: garbage token -> 401",
       .target = id,
       .headers = {{"X-aws-ec2-metadata-token", "garbage"}},
       .status = 401,
       .golden = "error_401.html",
       .expect_headers = kHtml},
      {.name = "optional: expired token -> 401",
       .target = id,
       .headers = {{"X-aws-ec2-metadata-token", "$EXPIRED"}},
       .status = 401},
      {.name = "optional: empty token header -> 401",
       .target = id,
       .headers = {{"X-aws-ec2-metadata-token", ""}},
       .status = 401},
      {.name = "token of another instance -> 401",
       .target = id,
       .headers = {{"X-aws-ec2-metadata-token", "$OTHER_INSTANCE"}},
       .status = 401},
      {.name = "token under another key -> 401",
       .target = id,
       .headers = {{"X-aws-ec2-metadata-token", "$OTHER_KEY"}},
       .status = 401},
      {.name = "tampered token -> 401",
       .target = id,
       .headers = {{"X-aws-ec2-metadata-token", "$TAMPERED"}},
       .status = 401},
      {.name = "token header name case-insensitive",
       .target = id,
       .headers = {{"x-aws-EC2-metadata-token", "$TOKEN"}},
       .body = "i-0123456789abcdef0"},
      {.name = "invalid token beats 404",
       .target = "/latest/nope",
       .headers = {{"X-aws-ec2-metadata-token", "garbage"}},
       .status = 401},
      {.name = "required: no token -> 401", .instance = required, .target = id, .status = 401},
      {.name = "required: no token on / -> 401",
       .instance = required,
       .target = "/",
       .status = 401},
      {.name = "required: valid token -> 200",
       .instance = required,
       .target = id,
       .headers = {{"X-aws-ec2-metadata-token", "$TOKEN"}},
       .body = "i-0123456789abcdef0"},
      {.name = "required: expired token -> 401",
       .instance = required,
       .target = id,
       .headers = {{"X-aws-ec2-metadata-token", "$EXPIRED"}},
       .status = 401},
      {.name = "GET with X-Forwarded-For is fine",
       .target = id,
       .headers = {{"X-Forwarded-For", "10.1.1.1"}},
       .body = "i-0123456789abcdef0"},
      {.name = "endpoint disabled: GET -> 403",
       .instance = [] { return MakeInstance().Endpoint(HttpEndpoint::kDisabled); },
       .target = id,
       .status = 403},
      {.name = "endpoint disabled: PUT token -> 403",
       .instance = [] { return MakeInstance().Endpoint(HttpEndpoint::kDisabled); },
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "300"}},
       .status = 403},
      {.name = "unknown source -> 403", .target = id, .status = 403, .unknown_source = true},
      {.name = "unknown source PUT -> 403",
       .method = "PUT",
       .target = "/latest/api/token",
       .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "300"}},
       .status = 403,
       .unknown_source = true},
  };
  for (const Case& c : cases) Check(c);

  for (const std::string method :
       {"POST", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "get", "FOO", ""}) {
    Check({.name = "method " + method + " -> 405",
           .method = method,
           .target = id,
           .status = 405,
           .golden = "error_405.html",
           .expect_headers = {{"Allow", "GET, HEAD, PUT"}, {"Content-Type", "text/html"}}});
  }
}

// A request shaped for a forward proxy (absolute or authority form) is refused whatever its host,
// method or token, before the instance is looked at; origin form is untouched (handler.cc lists
// the rule and why 403).
TEST_CASE("requests in absolute or authority form are refused with 403") {
  const std::vector<std::pair<std::string, std::string>> kTtl = {
      {"X-aws-ec2-metadata-token-ttl-seconds", "300"}};
  const std::vector<std::pair<std::string, std::string>> kToken = {
      {"X-aws-ec2-metadata-token", "$TOKEN"}};
  const std::vector<Case> cases = {
      {.name = "another host",
       .target = "http://evil/latest/meta-data/",
       .status = 403,
       .golden = "error_403.html"},
      {.name = "the metadata address itself",
       .target = "http://169.254.169.254/latest/meta-data/instance-id",
       .status = 403,
       .golden = "error_403.html"},
      {.name = "IPv6 metadata address",
       .target = "http://[fd00:ec2::254]/latest/meta-data/",
       .status = 403},
      {.name = "scheme in capitals", .target = "HTTP://evil/latest/user-data", .status = 403},
      {.name = "https scheme", .target = "https://evil/latest/meta-data/", .status = 403},
      {.name = "no path", .target = "http://evil", .status = 403},
      {.name = "authority form", .target = "evil:80", .status = 403},
      {.name = "other scheme", .target = "urn:x-latest:meta-data", .status = 403},
      {.name = "with a valid token",
       .target = "http://evil/latest/meta-data/",
       .headers = kToken,
       .status = 403},
      {.name = "HttpTokens=required, no token: still 403, not 401",
       .instance = [] { return MakeInstance().Tokens(HttpTokens::kRequired); },
       .target = "http://evil/latest/meta-data/",
       .status = 403},
      {.name = "HEAD", .method = "HEAD", .target = "http://evil/latest/meta-data/", .status = 403},
      {.name = "token PUT through a proxy",
       .method = "PUT",
       .target = "http://169.254.169.254/latest/api/token",
       .headers = kTtl,
       .status = 403},
      {.name = "unknown method still 405 first",
       .method = "POST",
       .target = "http://evil/latest/meta-data/",
       .status = 405},
      // Origin form that merely contains a scheme-like text is a path.
      {.name = "origin form with :// inside",
       .target = "/latest/meta-data/http://evil",
       .status = 404},
      {.name = "origin form still served",
       .target = "/latest/meta-data/instance-id",
       .body = "i-0123456789abcdef0"},
  };
  for (const Case& c : cases) Check(c);
}

}  // namespace
}  // namespace minicloud::metadata
