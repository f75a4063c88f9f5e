// The guest CloudFormation endpoint (controller/query/guest_cloudformation_query.h) over a
// recording fake StackApi: aws-cfn-bootstrap's JSON shapes (cfnbootstrap/cfn_client.py reads
// DescribeStackResourceResponse.DescribeStackResourceResult.StackResourceDetail with
// LastUpdatedTimestamp as Unix seconds and Metadata as a JSON string), the caller being the
// instance, the wait-condition PUT, and hostile input. Each case names the bug it catches.
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "absl/strings/str_format.h"
#include "common/ec2_error.h"
#include "controller/query/cloudformation_query.h"
#include "controller/query/guest_cloudformation_query.h"
#include "tests/testing/fake_stack_api.h"

namespace minicloud::query {
namespace {

using testing::FakeStackApi;

constexpr char kTemplate[] =
    "Resources:\n"
    "  Web:\n"
    "    Type: AWS::EC2::Instance\n"
    "    Metadata: {AWS::CloudFormation::Init: {config: {commands: {a: {command: 'true'}}}}}\n"
    "    Properties: {ImageId: ami-12345678, InstanceType: t3.micro}\n"
    "  Handle:\n"
    "    Type: AWS::CloudFormation::WaitConditionHandle\n";

struct Fixture {
  FakeStackApi stacks;
  GuestCloudFormationQuery endpoint{&stacks};
  std::string instance;  // the stack's instance

  Fixture() {
    v1::CreateStackRequest req;
    req.set_stack_name("web");
    req.set_template_body(kTemplate);
    REQUIRE(stacks.CreateStack(req, {}).ok());
    v1::DescribeStackResourceRequest d;
    d.set_stack_name("web");
    d.set_logical_resource_id("Web");
    instance = stacks.DescribeStackResource(d, {})->stack_resource_detail().physical_resource_id();
  }

  HttpResponse Post(const std::string& form, const std::string& id = "") {
    return endpoint.HandleGuest(
        HttpRequest{"POST", "/", {{"Content-Type", "application/x-www-form-urlencoded"}}, form},
        id.empty() ? instance : id, "rid-1");
  }
  HttpResponse Request(const std::string& method, const std::string& target,
                       const std::string& body = "") {
    return endpoint.HandleGuest(HttpRequest{method, target, {}, body}, instance, "rid-1");
  }
};

// The seam's exact JSON (docs: /cloudformation DescribeStackResource with ContentType=JSON).
// Catches Metadata written as an object (cfn_client json.loads a string), the timestamp as an
// ISO string (utcfromtimestamp needs a number), or the caller not being the instance.
TEST_CASE("guest DescribeStackResource in JSON", "[cloudformation][guest]") {
  Fixture f;
  const HttpResponse r = f.Post(
      "Action=DescribeStackResource&StackName=web&LogicalResourceId=Web&Version=2010-05-15"
      "&ContentType=JSON");
  REQUIRE(r.status == 200);
  CHECK(r.content_type == "application/json");
  CHECK(f.stacks.calls.back().method == "DescribeStackResource");
  CHECK(f.stacks.calls.back().instance_id == f.instance);
  CHECK(r.body ==
        "{\"DescribeStackResourceResponse\":{\"DescribeStackResourceResult\":{"
        "\"StackResourceDetail\":{\"StackName\":\"web\",\"StackId\":\"arn:aws:cloudformation:"
        "home-1:000000000000:stack/web/00000001-0000-4000-8000-000000000001\","
        "\"LogicalResourceId\":\"Web\",\"PhysicalResourceId\":\"" +
            f.instance +
            "\",\"ResourceType\":\"AWS::EC2::Instance\",\"LastUpdatedTimestamp\":1764892804,"
            "\"ResourceStatus\":\"CREATE_COMPLETE\",\"Metadata\":\"{\\\"AWS::CloudFormation::"
            "Init\\\":{\\\"config\\\":{\\\"commands\\\":{\\\"a\\\":{\\\"command\\\":\\\"true\\\"}"
            "}}}}\",\"DriftInformation\":{\"StackResourceDriftStatus\":\"NOT_CHECKED\"}}},"
            "\"ResponseMetadata\":{\"RequestId\":\"rid-1\"}}}");
}

// aws-cfn-bootstrap sends GET with the parameters in the query string. Catches the query string
// ignored on the guest endpoint, and XML not answered without ContentType=JSON.
TEST_CASE("guest GET with a query string, answered in XML", "[cloudformation][guest]") {
  Fixture f;
  const HttpResponse r =
      f.Request("GET", "/?Action=DescribeStackResources&StackName=web&Version=2010-05-15");
  REQUIRE(r.status == 200);
  CHECK_THAT(r.body, Catch::StartsWith("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                                       "<DescribeStackResourcesResponse"));
  CHECK_THAT(r.body, Catch::Contains("<LogicalResourceId>Handle</LogicalResourceId>"));
  CHECK(f.stacks.calls.back().instance_id == f.instance);
}

// The seam's SignalResource answer; catches Reason dropped on the guest path, or a Result
// wrapper in JSON.
TEST_CASE("guest SignalResource in JSON", "[cloudformation][guest]") {
  Fixture f;
  const HttpResponse r =
      f.Post("Action=SignalResource&StackName=web&LogicalResourceId=Web&UniqueId=" + f.instance +
             "&Status=FAILURE&Reason=cfn-init+failed&Version=2010-05-15&ContentType=JSON");
  REQUIRE(r.status == 200);
  CHECK(r.body == "{\"SignalResourceResponse\":{\"ResponseMetadata\":{\"RequestId\":\"rid-1\"}}}");
  CHECK(f.stacks.last_signal.reason() == "cfn-init failed");
  CHECK(f.stacks.last_signal.unique_id() == f.instance);
  CHECK(f.stacks.calls.back().instance_id == f.instance);
}

// Catches a guest reaching account actions (the table's guest flag not checked), and the JSON
// error shape aws-cfn-bootstrap reads (Error.Code/Message/Type).
TEST_CASE("a guest may not call account actions", "[cloudformation][guest]") {
  Fixture f;
  for (const char* action : {"DescribeStacks", "CreateStack", "DeleteStack", "ValidateTemplate",
                             "DescribeStackEvents", "UpdateStack"}) {
    INFO(action);
    const size_t calls = f.stacks.calls.size();
    const HttpResponse r = f.Post(
        absl::StrCat("Action=", action, "&StackName=web&Version=2010-05-15&ContentType=JSON"));
    CHECK(r.status == 403);
    CHECK(r.body == absl::StrCat("{\"Error\":{\"Type\":\"Sender\",\"Code\":\"AccessDenied\","
                                 "\"Message\":\"An instance may call DescribeStackResource, "
                                 "DescribeStackResources and SignalResource only, not ",
                                 action, "\"},\"RequestId\":\"rid-1\"}"));
    CHECK(f.stacks.calls.size() == calls);  // StackApi never asked
  }
}

// StackApi's refusal of another stack's instance reaches the guest. Catches the endpoint
// answering as an account (no instance id) so the refusal never happens.
TEST_CASE("an instance of another stack", "[cloudformation][guest]") {
  Fixture f;
  const HttpResponse r =
      f.Post("Action=DescribeStackResource&StackName=web&LogicalResourceId=Web&Version=2010-05-15",
             "i-00000000000000099");
  CHECK(r.status == 403);
  CHECK_THAT(r.body, Catch::Contains("<Code>AccessDenied</Code>"));
  CHECK(f.stacks.calls.back().instance_id == "i-00000000000000099");
}

// The wait-condition PUT. Catches a field of the body dropped or the token taken with its
// prefix.
TEST_CASE("a wait condition signal", "[cloudformation][guest]") {
  Fixture f;
  const HttpResponse r =
      f.Request("PUT", "/waitcondition/token5",
                R"({"Status":"SUCCESS","Reason":"ready","UniqueId":"id-1","Data":"42","Extra":1})");
  REQUIRE(r.status == 200);
  CHECK(r.body.empty());
  REQUIRE(f.stacks.wait_signals.size() == 1);
  const controller::WaitConditionSignal& s = f.stacks.wait_signals[0];
  CHECK(s.handle_token == "token5");
  CHECK(s.status == "SUCCESS");
  CHECK(s.reason == "ready");
  CHECK(s.unique_id == "id-1");
  CHECK(s.data == "42");
}

// Hostile or wrong requests: one row each, the status and code. Each row catches its check
// missing (and none may crash).
TEST_CASE("guest refusals", "[cloudformation][guest]") {
  struct Row {
    std::string method, target, body;
    int status;
    std::string code;
  };
  const std::string big(kGuestCfnMaxBody + 1, 'a');
  const std::string deep = std::string(1000, '[') + std::string(1000, ']');
  const Row rows[] = {
      {"PUT", "/waitcondition/nope", R"({"Status":"SUCCESS"})", 403, "AccessDenied"},
      {"GET", "/waitcondition/token5", "", 400, "ValidationError"},
      {"PUT", "/waitcondition/", R"({"Status":"SUCCESS"})", 404, "NotFound"},
      {"PUT", "/waitcondition/a/b", R"({"Status":"SUCCESS"})", 404, "NotFound"},
      {"PUT", "/waitcondition/token5", "{not json", 400, "ValidationError"},
      {"PUT", "/waitcondition/token5", "[1,2]", 400, "ValidationError"},
      {"PUT", "/waitcondition/token5", R"({"Status":7})", 400, "ValidationError"},
      {"PUT", "/waitcondition/token5", R"({"Reason":"no status"})", 400, "ValidationError"},
      {"PUT", "/waitcondition/token5", deep, 400, "ValidationError"},
      {"PUT", "/waitcondition/token5", "{\"Status\":\"\xff\xfe\"}", 400, "ValidationError"},
      {"POST", "/", big, 400, "ValidationError"},
      {"GET", "/" + std::string(kGuestCfnMaxTarget, 'x'), "", 400, "ValidationError"},
      {"GET", "/latest/meta-data", "", 404, "NotFound"},
      {"DELETE", "/?Action=SignalResource", "", 400, "ValidationError"},
      {"GET", "/?Action=SignalResource&Version=2010-05-15", "", 400, "ValidationError"},
      {"GET", "/?Action=DescribeStackResource&StackName=web&LogicalResourceId=Web", "", 400,
       "InvalidParameterValue"},
      {"GET", "/?Version=2010-05-15", "", 400, "MissingAction"},
      {"GET", "/?Action=Nope&Version=2010-05-15", "", 400, "InvalidAction"},
      {"GET", "/?Action=%G0", "", 400, "MalformedQueryString"},
      {"GET",
       "/?Action=DescribeStackResource&Version=2010-05-15&StackName=web&"
       "LogicalResourceId=Web&StackName=again",
       "", 400, "InvalidParameterValue"},
  };
  for (const Row& row : rows) {
    INFO(row.method << " " << row.target.substr(0, 80));
    Fixture f;
    const HttpResponse r = f.Request(row.method, row.target, row.body);
    CHECK(r.status == row.status);
    CHECK_THAT(r.body, Catch::Contains(row.code));
  }
}

// Without a StackApi (stacks not wired) and without an instance id: catches a null dereference
// and a request served for nobody.
TEST_CASE("guest endpoint not wired, or no instance", "[cloudformation][guest]") {
  GuestCloudFormationQuery endpoint(nullptr);
  HttpResponse r = endpoint.HandleGuest(
      HttpRequest{"GET",
                  "/?Action=DescribeStackResource&StackName=w&LogicalResourceId=W"
                  "&Version=2010-05-15&ContentType=JSON",
                  {},
                  ""},
      "i-1", "rid");
  CHECK(r.status == 503);
  CHECK_THAT(r.body, Catch::Contains("\"Code\":\"ServiceUnavailable\""));
  r = endpoint.HandleGuest(HttpRequest{"PUT", "/waitcondition/t", {}, R"({"Status":"SUCCESS"})"},
                           "i-1", "rid");
  CHECK(r.status == 503);
  FakeStackApi stacks;
  GuestCloudFormationQuery wired(&stacks);
  r = wired.HandleGuest(HttpRequest{"GET", "/?Action=SignalResource&Version=2010-05-15", {}, ""},
                        "", "rid");
  CHECK(r.status == 403);
  CHECK(stacks.calls.empty());
}

// Random bytes in every part of a request: an answer, never a crash (and never a 5xx: garbage
// is the sender's fault). Catches an unchecked parse anywhere on the guest path.
TEST_CASE("guest garbage never crashes", "[cloudformation][guest]") {
  Fixture f;
  std::mt19937 rng(14);
  const char* methods[] = {"GET", "POST", "PUT", "HEAD"};
  const char* prefixes[] = {"/", "/?", "/waitcondition/token5", "/?Action=SignalResource&"};
  for (int i = 0; i < 2000; ++i) {
    std::string target = prefixes[rng() % 4], body;
    for (int n = rng() % 64; n > 0; --n) target.push_back(static_cast<char>(rng() % 256));
    for (int n = rng() % 256; n > 0; --n) body.push_back(static_cast<char>(rng() % 256));
    if (i % 3 == 0) body = "{\"Status\":" + body;
    const HttpResponse r = f.Request(methods[rng() % 4], target, body);
    INFO(target);
    CHECK(r.status >= 200);
    CHECK(r.status < 500);
  }
}

}  // namespace
}  // namespace minicloud::query
