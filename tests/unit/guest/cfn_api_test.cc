// The helpers' HTTP side (guest/cfn/http_client.*, cfn_api.*) against a real loopback server
// serving canned answers. Each case names the one-line bug it would catch.

#include "guest/cfn/cfn_api.h"

#include <catch2/catch.hpp>

#include "tests/unit/guest/loopback_server.h"

namespace minicloud::guest {
namespace {

using nlohmann::json;
using testing::Canned;
using testing::DescribeAnswer;
using testing::LoopbackServer;
using testing::ParseForm;
using testing::Recorded;

TEST_CASE("ParseHttpUrl", "[guest][http]") {
  auto u = ParseHttpUrl("http://169.254.169.254/cloudformation");
  REQUIRE(u.ok());
  CHECK(u->host == "169.254.169.254");
  CHECK(u->port == "80");
  CHECK(u->target == "/cloudformation");
  auto p = ParseHttpUrl("http://127.0.0.1:8080?x=1");
  REQUIRE(p.ok());
  CHECK(p->port == "8080");
  CHECK(p->target == "/?x=1");
  auto v6 = ParseHttpUrl("http://[fd00:ec2::254]/latest");
  REQUIRE(v6.ok());
  CHECK(v6->host == "fd00:ec2::254");
  for (const char* bad : {"https://h/", "http://", "http://u@h/", "http://h:99999/", "http://h:x/",
                          "http://h/a b", "ftp://h"}) {
    INFO(bad);
    CHECK_FALSE(ParseHttpUrl(bad).ok());
  }
}

TEST_CASE("DescribeStackResource posts the guest endpoint's form and parses its JSON",
          "[guest][http]") {
  const json metadata = {{"AWS::CloudFormation::Init", {{"config", json::object()}}}, {"n", 1}};
  LoopbackServer server([&](const Recorded&) { return Canned{200, DescribeAnswer(metadata)}; });
  StatusOr<ResourceDetail> d =
      DescribeStackResource(server.url() + "/cloudformation", "my stack", "Web");
  REQUIRE(d.ok());
  // Bug caught: Metadata kept as a string instead of parsed.
  CHECK(d->metadata == metadata);
  CHECK(d->physical_id == "i-0123456789abcdef0");
  CHECK(d->logical_id == "Web");
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  // Bug caught: the trailing slash of the action URL dropped.
  CHECK(requests[0].target == "/cloudformation/");
  CHECK(requests[0].headers["Content-Type"] == "application/x-www-form-urlencoded");
  auto form = ParseForm(requests[0].body);
  CHECK(form["Action"] == "DescribeStackResource");
  CHECK(form["StackName"] == "my stack");  // Bug caught: the space not encoded
  CHECK(form["LogicalResourceId"] == "Web");
  CHECK(form["Version"] == "2010-05-15");
  CHECK(form["ContentType"] == "JSON");
}

TEST_CASE("DescribeStackResource errors carry CloudFormation's code and message", "[guest][http]") {
  LoopbackServer server([](const Recorded&) {
    return Canned{400, R"({"Error":{"Type":"Sender","Code":"ValidationError",)"
                       R"("Message":"Resource Nope does not exist"},"RequestId":"r"})"};
  });
  auto d = DescribeStackResource(server.url(), "s", "Nope");
  REQUIRE_FALSE(d.ok());
  CHECK_THAT(d.status().message(), Catch::Contains("HTTP 400"));
  CHECK_THAT(d.status().message(),
             Catch::Contains("ValidationError: Resource Nope does not exist"));

  LoopbackServer xml([](const Recorded&) {
    return Canned{405,
                  "<?xml version=\"1.0\"?>\n<Response><Errors><Error><Code>MethodNotAllowed"
                  "</Code><Message>POST is not served here</Message></Error></Errors></Response>"};
  });
  auto x = DescribeStackResource(xml.url(), "s", "r");
  REQUIRE_FALSE(x.ok());
  // Bug caught: an XML error reported as its first line ("<?xml ...") instead of its code.
  CHECK_THAT(x.status().message(),
             Catch::Contains("HTTP 405: MethodNotAllowed: POST is not served"));

  LoopbackServer garbage([](const Recorded&) { return Canned{200, "<xml/>"}; });
  CHECK_FALSE(DescribeStackResource(garbage.url(), "s", "r").ok());
  LoopbackServer bad_metadata([](const Recorded&) {
    json answer = json::parse(DescribeAnswer(json::object()));
    answer["DescribeStackResourceResponse"]["DescribeStackResourceResult"]["StackResourceDetail"]
          ["Metadata"] = "{not json";
    return Canned{200, answer.dump()};
  });
  auto m = DescribeStackResource(bad_metadata.url(), "s", "r");
  REQUIRE_FALSE(m.ok());
  CHECK_THAT(m.status().message(), Catch::Contains("Metadata is not JSON"));
  // Nobody listening: a connection error, not a crash.
  CHECK_FALSE(DescribeStackResource("http://127.0.0.1:1", "s", "r", {1, {}}).ok());
}

TEST_CASE("Requests are tried again on 5xx and connection errors, not on 4xx", "[guest][http]") {
  const RetryPolicy quick{3, std::chrono::milliseconds(10)};
  int calls = 0;
  LoopbackServer flaky([&](const Recorded&) {
    return ++calls == 1 ? Canned{503, "busy"} : Canned{200, DescribeAnswer(json::object())};
  });
  // Bug caught: no retry (the first 503 is final).
  CHECK(DescribeStackResource(flaky.url(), "s", "r", quick).ok());
  CHECK(flaky.requests().size() == 2);
  LoopbackServer down([](const Recorded&) { return Canned{502, ""}; });
  auto d = SignalResource(down.url(), {"s", "Web", "i-1", true, ""}, quick);
  CHECK_FALSE(d.ok());
  CHECK(down.requests().size() == 3);  // Bug caught: attempts off by one
  LoopbackServer refusing([](const Recorded&) { return Canned{400, "{}"}; });
  CHECK_FALSE(SignalResource(refusing.url(), {"s", "Web", "i-1", true, ""}, quick).ok());
  // Bug caught: a 4xx tried again (a refused signal would be sent several times).
  CHECK(refusing.requests().size() == 1);
}

TEST_CASE("SignalResource sends status, unique id and reason", "[guest][http]") {
  LoopbackServer server([](const Recorded&) {
    return Canned{200, R"({"SignalResourceResponse":{"ResponseMetadata":{"RequestId":"r"}}})"};
  });
  REQUIRE(SignalResource(server.url(), {"s", "Web", "i-1", false, "step 3 & 4 failed"}).ok());
  REQUIRE(SignalResource(server.url(), {"s", "Web", "i-1", true, ""}).ok());
  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  auto failure = ParseForm(requests[0].body);
  CHECK(failure["Action"] == "SignalResource");
  CHECK(failure["UniqueId"] == "i-1");
  // Bug caught: Status inverted.
  CHECK(failure["Status"] == "FAILURE");
  CHECK(failure["Reason"] == "step 3 & 4 failed");  // Bug caught: '&' not encoded
  auto success = ParseForm(requests[1].body);
  CHECK(success["Status"] == "SUCCESS");
  CHECK(success.count("Reason") == 0);

  LoopbackServer refusing([](const Recorded&) {
    return Canned{400, R"({"Error":{"Code":"ValidationError","Message":"timed out"}})"};
  });
  CHECK_FALSE(SignalResource(refusing.url(), {"s", "Web", "i-1", true, ""}).ok());
}

TEST_CASE("A WaitConditionHandle signal is a PUT of the JSON body", "[guest][http]") {
  LoopbackServer server([](const Recorded&) { return Canned{200, ""}; });
  const std::string url = server.url() + "/cloudformation/waitcondition/tok123";
  REQUIRE(SignalWaitCondition(url, WaitConditionBody(true, "done", "i-1", "42")).ok());
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "PUT");
  CHECK(requests[0].target == "/cloudformation/waitcondition/tok123");
  CHECK(json::parse(requests[0].body) ==
        json{{"Status", "SUCCESS"}, {"Reason", "done"}, {"UniqueId", "i-1"}, {"Data", "42"}});
  LoopbackServer refusing([](const Recorded&) { return Canned{404, "{}"}; });
  CHECK_FALSE(SignalWaitCondition(refusing.url() + "/w", "{}").ok());
}

TEST_CASE("The instance id comes from IMDSv2, else IMDSv1", "[guest][http]") {
  SECTION("v2: token first, then the id with the token") {
    LoopbackServer imds([](const Recorded& r) {
      if (r.method == "PUT" && r.target == "/latest/api/token") return Canned{200, "TOKEN"};
      if (r.target == "/latest/meta-data/instance-id" &&
          r.headers.count("X-aws-ec2-metadata-token") &&
          r.headers.at("X-aws-ec2-metadata-token") == "TOKEN") {
        return Canned{200, "i-0aaa"};
      }
      return Canned{401, ""};
    });
    auto id = InstanceIdFromImds(imds.url());
    REQUIRE(id.ok());
    CHECK(*id == "i-0aaa");
    // Bug caught: the token's TTL header missing (IMDS refuses the PUT).
    CHECK(imds.requests()[0].headers.count("X-aws-ec2-metadata-token-ttl-seconds") == 1);
  }
  SECTION("v1 fallback when the token is refused") {
    LoopbackServer imds([](const Recorded& r) {
      if (r.method == "PUT") return Canned{403, ""};
      if (r.target == "/latest/meta-data/instance-id" &&
          !r.headers.count("X-aws-ec2-metadata-token")) {
        return Canned{200, "i-0bbb"};
      }
      return Canned{400, ""};
    });
    auto id = InstanceIdFromImds(imds.url());
    REQUIRE(id.ok());
    CHECK(*id == "i-0bbb");
  }
}

TEST_CASE("LookupKey follows dotted keys", "[guest][http]") {
  json m = {{"a", {{"b", {{"c", "deep"}}}}}, {"list", {10, 20}}};
  CHECK(*LookupKey(m, "a.b.c") == "deep");
  CHECK(*LookupKey(m, "list.1") == 20);
  CHECK_FALSE(LookupKey(m, "a.x").ok());
  CHECK_FALSE(LookupKey(m, "list.99999999999999999999").ok());  // Bug caught: stoul overflow
}

}  // namespace
}  // namespace minicloud::guest
