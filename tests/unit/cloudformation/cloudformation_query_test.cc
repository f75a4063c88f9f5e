// The CloudFormation Query protocol's edge (controller/query/cloudformation_query.h and the
// action table of cfn_actions.h) over a fake verifier and a recording fake StackApi
// (tests/testing/fake_stack_api.h); the real SigV4 path and the real clients are exercised by
// tests/conformance/cloudformation_test.py. Each case names the one-line bug it catches.
#include "controller/query/cloudformation_query.h"

#include <catch2/catch.hpp>
#include <optional>
#include <string>

#include "common/ec2_error.h"
#include "tests/testing/fake_stack_api.h"

namespace minicloud::query {
namespace {

using testing::FakeStackApi;

// Verifies nothing: hands back the caller it was given and records the service it was asked for.
class FakeVerifier : public auth::RequestVerifier {
 public:
  explicit FakeVerifier(auth::Caller caller) : caller_(std::move(caller)) {}
  absl::StatusOr<auth::Caller> Verify(const auth::SignedRequest&,
                                      absl::string_view service) const override {
    service_ = std::string(service);
    return caller_;
  }
  mutable std::string service_;

 private:
  auth::Caller caller_;
};

HttpRequest Post(const std::string& form) {
  return HttpRequest{"POST",
                     "/",
                     {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                      {"Authorization",
                       "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261204/home-1/cloudformation/"
                       "aws4_request, SignedHeaders=host, Signature=00"}},
                     form};
}

// Percent-encodes a value for a form.
std::string Enc(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += absl::StrFormat("%%%02X", c);
    }
  }
  return out;
}

constexpr char kTemplate[] =
    "Description: d\n"
    "Parameters:\n"
    "  A: {Type: String, Default: x, Description: the a}\n"
    "  B: {Type: String, NoEcho: true, Default: s}\n"
    "Resources:\n"
    "  H:\n"
    "    Type: AWS::CloudFormation::WaitConditionHandle\n"
    "    Metadata: {k: v}\n";

constexpr char kXmlHead[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
constexpr char kNs[] = " xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"";

struct Fixture {
  FakeVerifier verifier{auth::Caller{"AKIAEXAMPLE", std::nullopt}};
  FakeStackApi stacks;

  HttpResponse Call(const std::string& form, const std::string& request_id = "req-1") {
    return HandleCloudFormation(Post(form), verifier, &stacks, request_id);
  }
  std::string Create(const std::string& name) {
    const HttpResponse r = Call("Action=CreateStack&Version=2010-05-15&StackName=" + name +
                                "&TemplateBody=" + Enc(kTemplate));
    REQUIRE(r.status == 200);
    return stacks.last_create.stack_name();
  }
};

// Catches routing by the wrong field of the scope, or a presigned credential not decoded.
TEST_CASE("the credential scope names the service", "[cloudformation]") {
  CHECK(CredentialScopeService(Post("")) == "cloudformation");
  HttpRequest ec2 = Post("");
  ec2.headers[1].second =
      "AWS4-HMAC-SHA256 Credential=AK/20261204/home-1/ec2/aws4_request, SignedHeaders=host";
  CHECK(CredentialScopeService(ec2) == "ec2");
  HttpRequest presigned{"GET",
                        "/?Action=ValidateTemplate&X-Amz-Credential=AK%2f20261204%2Fhome-1%2F"
                        "CloudFormation%2Faws4_request&X-Amz-Signature=00",
                        {},
                        ""};
  CHECK(CredentialScopeService(presigned) == "cloudformation");
  CHECK(CredentialScopeService(HttpRequest{"GET", "/?Action=X", {}, ""}).empty());
  HttpRequest short_scope = Post("");
  short_scope.headers[1].second = "AWS4-HMAC-SHA256 Credential=AK/cloudformation";
  CHECK(CredentialScopeService(short_scope).empty());
}

// The exact answer botocore's query parser reads (ValidateTemplateResult wrapper, member lists,
// the default StackApi hid). Catches EC2's <item> lists, a missing result wrapper, the request's
// body not passed through, the verifier asked for "ec2".
TEST_CASE("ValidateTemplate's answer", "[cloudformation]") {
  Fixture f;
  const HttpResponse r =
      f.Call("Action=ValidateTemplate&Version=2010-05-15&TemplateBody=" + Enc(kTemplate));
  CHECK(f.verifier.service_ == "cloudformation");
  CHECK(f.stacks.last_validate.template_body() == kTemplate);
  CHECK(r.status == 200);
  CHECK(r.body == std::string(kXmlHead) + "<ValidateTemplateResponse" + kNs +
                      "><ValidateTemplateResult><Parameters><member><ParameterKey>A"
                      "</ParameterKey><DefaultValue>x</DefaultValue><NoEcho>false</NoEcho>"
                      "<Description>the a</Description></member><member><ParameterKey>B"
                      "</ParameterKey><DefaultValue>****</DefaultValue><NoEcho>true</NoEcho>"
                      "</member></Parameters><Description>d</Description><Capabilities/>"
                      "<DeclaredTransforms/></ValidateTemplateResult><ResponseMetadata>"
                      "<RequestId>req-1</RequestId></ResponseMetadata></ValidateTemplateResponse>");
}

// Every CreateStack parameter reaches the request StackApi gets. Each CHECK catches one field
// dropped or read under the wrong name (e.g. Tags read as EC2's Tag.N, Parameters without
// `.member`, UsePreviousValue ignored).
TEST_CASE("CreateStack's parameters", "[cloudformation]") {
  Fixture f;
  const HttpResponse r =
      f.Call("Action=CreateStack&Version=2010-05-15&StackName=web&TemplateBody=" + Enc(kTemplate) +
             "&Parameters.member.1.ParameterKey=A&Parameters.member.1.ParameterValue=y"
             "&Parameters.member.2.ParameterKey=B&Parameters.member.2.UsePreviousValue=true"
             "&DisableRollback=true&OnFailure=DO_NOTHING&TimeoutInMinutes=15"
             "&Capabilities.member.1=CAPABILITY_IAM&Capabilities.member.2=CAPABILITY_NAMED_IAM"
             "&Tags.member.1.Key=team&Tags.member.1.Value=blue&ClientRequestToken=tok-1");
  REQUIRE(r.status == 200);
  const v1::CreateStackRequest& q = f.stacks.last_create;
  CHECK(q.stack_name() == "web");
  CHECK(q.template_body() == kTemplate);
  REQUIRE(q.parameters_size() == 2);
  CHECK(q.parameters(0).key() == "A");
  CHECK(q.parameters(0).value() == "y");
  CHECK_FALSE(q.parameters(0).use_previous_value());
  CHECK(q.parameters(1).key() == "B");
  CHECK(q.parameters(1).use_previous_value());
  CHECK(q.disable_rollback());
  CHECK(q.on_failure() == "DO_NOTHING");
  CHECK(q.timeout_in_minutes() == 15);
  CHECK(std::vector<std::string>(q.capabilities().begin(), q.capabilities().end()) ==
        std::vector<std::string>{"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"});
  REQUIRE(q.tags_size() == 1);
  CHECK(q.tags(0).key() == "team");
  CHECK(q.tags(0).value() == "blue");
  CHECK(q.client_request_token() == "tok-1");
  CHECK(f.stacks.calls.back().instance_id.empty());  // an account, never a guest
  CHECK(r.body == std::string(kXmlHead) + "<CreateStackResponse" + kNs +
                      "><CreateStackResult><StackId>arn:aws:cloudformation:home-1:000000000000:"
                      "stack/web/00000001-0000-4000-8000-000000000001</StackId>"
                      "</CreateStackResult><ResponseMetadata><RequestId>req-1</RequestId>"
                      "</ResponseMetadata></CreateStackResponse>");
}

// botocore serializes an empty list as `Name=`. Catches it refused as an unknown parameter.
TEST_CASE("an empty list parameter", "[cloudformation]") {
  Fixture f;
  const HttpResponse r =
      f.Call("Action=CreateStack&Version=2010-05-15&StackName=e&TemplateBody=" + Enc(kTemplate) +
             "&Capabilities=&Tags=&Parameters=");
  CHECK(r.status == 200);
  CHECK(f.stacks.last_create.capabilities_size() == 0);
}

// UpdateStack and DeleteStack: catches UsePreviousTemplate / RetainResources dropped, and
// DeleteStack answered with a Result wrapper (botocore's DeleteStack has no output).
TEST_CASE("UpdateStack and DeleteStack", "[cloudformation]") {
  Fixture f;
  f.Create("web");
  HttpResponse r = f.Call(
      "Action=UpdateStack&Version=2010-05-15&StackName=web&UsePreviousTemplate=true"
      "&Parameters.member.1.ParameterKey=A&Parameters.member.1.ParameterValue=z"
      "&Capabilities.member.1=CAPABILITY_IAM&Tags.member.1.Key=k&Tags.member.1.Value=v"
      "&ClientRequestToken=t2&DisableRollback=true");
  REQUIRE(r.status == 200);
  const v1::UpdateStackRequest& u = f.stacks.last_update;
  CHECK(u.stack_name() == "web");
  CHECK(u.use_previous_template());
  CHECK(u.template_body().empty());
  REQUIRE(u.parameters_size() == 1);
  CHECK(u.parameters(0).value() == "z");
  CHECK(u.capabilities_size() == 1);
  CHECK(u.tags_size() == 1);
  CHECK(u.client_request_token() == "t2");
  CHECK(u.disable_rollback());
  CHECK_THAT(r.body, Catch::Contains("<UpdateStackResult><StackId>arn:aws:cloudformation:"));

  r = f.Call(
      "Action=DeleteStack&Version=2010-05-15&StackName=web&RetainResources.member.1=H"
      "&ClientRequestToken=t3",
      "req-9");
  REQUIRE(r.status == 200);
  CHECK(f.stacks.last_delete.stack_name() == "web");
  REQUIRE(f.stacks.last_delete.retain_resources_size() == 1);
  CHECK(f.stacks.last_delete.retain_resources(0) == "H");
  CHECK(f.stacks.last_delete.client_request_token() == "t3");
  CHECK(r.body == std::string(kXmlHead) + "<DeleteStackResponse" + kNs +
                      "><ResponseMetadata><RequestId>req-9</RequestId></ResponseMetadata>"
                      "</DeleteStackResponse>");
}

// The Stack shape, exactly: member lists, ISO 8601 times, DisableRollback, Tags, the times that
// are set only. Catches a field renamed, EC2's <item>, a timestamp in epoch seconds.
TEST_CASE("DescribeStacks' answer", "[cloudformation]") {
  Fixture f;
  f.Call("Action=CreateStack&Version=2010-05-15&StackName=web&TemplateBody=" + Enc(kTemplate) +
         "&Parameters.member.1.ParameterKey=A&Parameters.member.1.ParameterValue=y"
         "&TimeoutInMinutes=5&Capabilities.member.1=CAPABILITY_IAM"
         "&Tags.member.1.Key=team&Tags.member.1.Value=blue");
  const HttpResponse r = f.Call("Action=DescribeStacks&Version=2010-05-15&StackName=web");
  REQUIRE(r.status == 200);
  CHECK(f.stacks.last_describe_stacks.stack_name() == "web");
  CHECK(r.body ==
        std::string(kXmlHead) + "<DescribeStacksResponse" + kNs +
            "><DescribeStacksResult><Stacks><member><StackId>arn:aws:cloudformation:home-1:"
            "000000000000:stack/web/00000001-0000-4000-8000-000000000001</StackId><StackName>web"
            "</StackName><Description>d</Description><Parameters><member><ParameterKey>A"
            "</ParameterKey><ParameterValue>y</ParameterValue></member></Parameters>"
            "<CreationTime>2025-12-05T00:00:01.000Z</CreationTime><StackStatus>CREATE_COMPLETE"
            "</StackStatus><DisableRollback>false</DisableRollback><NotificationARNs/>"
            "<TimeoutInMinutes>5</TimeoutInMinutes><Capabilities><member>CAPABILITY_IAM</member>"
            "</Capabilities><Tags><member><Key>team</Key><Value>blue</Value></member></Tags>"
            "<DriftInformation><StackDriftStatus>NOT_CHECKED</StackDriftStatus>"
            "</DriftInformation></member></Stacks></DescribeStacksResult><ResponseMetadata>"
            "<RequestId>req-1</RequestId></ResponseMetadata></DescribeStacksResponse>");
}

// NextToken both ways. Catches the request's token dropped or the answer's not written.
TEST_CASE("DescribeStacks pages", "[cloudformation]") {
  Fixture f;
  f.Create("a");
  f.Create("b");
  f.stacks.page_size = 1;
  HttpResponse r = f.Call("Action=DescribeStacks&Version=2010-05-15");
  CHECK_THAT(r.body, Catch::Contains("<StackName>a</StackName>"));
  CHECK_THAT(r.body, Catch::Contains("</Stacks><NextToken>1</NextToken></DescribeStacksResult>"));
  r = f.Call("Action=DescribeStacks&Version=2010-05-15&NextToken=1");
  CHECK(f.stacks.last_describe_stacks.next_token() == "1");
  CHECK_THAT(r.body, Catch::Contains("<StackName>b</StackName>"));
  CHECK_THAT(r.body, !Catch::Contains("NextToken"));
}

// StackEvent's shape and order as StackApi gives it (newest first). Catches fields renamed or
// the order reversed in the Query layer.
TEST_CASE("DescribeStackEvents' answer", "[cloudformation]") {
  Fixture f;
  f.Create("web");
  f.stacks.page_size = 2;
  const HttpResponse r = f.Call("Action=DescribeStackEvents&Version=2010-05-15&StackName=web");
  REQUIRE(r.status == 200);
  CHECK(f.stacks.last_describe_events.stack_name() == "web");
  const std::string id =
      "arn:aws:cloudformation:home-1:000000000000:stack/web/00000001-0000-4000-8000-000000000001";
  CHECK(r.body ==
        std::string(kXmlHead) + "<DescribeStackEventsResponse" + kNs +
            "><DescribeStackEventsResult><StackEvents><member><StackId>" + id +
            "</StackId><EventId>event-5</EventId><StackName>web</StackName><LogicalResourceId>"
            "web</LogicalResourceId><PhysicalResourceId>" +
            id +
            "</PhysicalResourceId><ResourceType>AWS::CloudFormation::Stack</ResourceType>"
            "<Timestamp>2025-12-05T00:00:06.000Z</Timestamp><ResourceStatus>CREATE_COMPLETE"
            "</ResourceStatus></member><member><StackId>" +
            id +
            "</StackId><EventId>event-4</EventId><StackName>web</StackName><LogicalResourceId>H"
            "</LogicalResourceId><PhysicalResourceId>http://169.254.169.254/cloudformation/"
            "waitcondition/token2</PhysicalResourceId><ResourceType>"
            "AWS::CloudFormation::WaitConditionHandle</ResourceType><Timestamp>"
            "2025-12-05T00:00:05.000Z</Timestamp><ResourceStatus>CREATE_COMPLETE"
            "</ResourceStatus></member></StackEvents><NextToken>2</NextToken>"
            "</DescribeStackEventsResult><ResponseMetadata><RequestId>req-1</RequestId>"
            "</ResponseMetadata></DescribeStackEventsResponse>");
}

// StackResourceDetail (LastUpdatedTimestamp, Metadata as a string) and StackResource
// (Timestamp, no Metadata). Catches the two shapes swapped or Metadata dropped.
TEST_CASE("DescribeStackResource and DescribeStackResources", "[cloudformation]") {
  Fixture f;
  f.Create("web");
  HttpResponse r =
      f.Call("Action=DescribeStackResource&Version=2010-05-15&StackName=web&LogicalResourceId=H");
  REQUIRE(r.status == 200);
  CHECK(f.stacks.last_describe_resource.logical_resource_id() == "H");
  const std::string detail =
      "<StackName>web</StackName><StackId>arn:aws:cloudformation:home-1:000000000000:stack/web/"
      "00000001-0000-4000-8000-000000000001</StackId><LogicalResourceId>H</LogicalResourceId>"
      "<PhysicalResourceId>http://169.254.169.254/cloudformation/waitcondition/token2"
      "</PhysicalResourceId><ResourceType>AWS::CloudFormation::WaitConditionHandle"
      "</ResourceType>";
  CHECK(r.body == std::string(kXmlHead) + "<DescribeStackResourceResponse" + kNs +
                      "><DescribeStackResourceResult><StackResourceDetail>" + detail +
                      "<LastUpdatedTimestamp>2025-12-05T00:00:04.000Z</LastUpdatedTimestamp>"
                      "<ResourceStatus>CREATE_COMPLETE</ResourceStatus><Metadata>{\"k\":\"v\"}"
                      "</Metadata><DriftInformation><StackResourceDriftStatus>NOT_CHECKED"
                      "</StackResourceDriftStatus></DriftInformation></StackResourceDetail>"
                      "</DescribeStackResourceResult><ResponseMetadata><RequestId>req-1"
                      "</RequestId></ResponseMetadata></DescribeStackResourceResponse>");
  r = f.Call(
      "Action=DescribeStackResources&Version=2010-05-15&StackName=web&LogicalResourceId=H"
      "&PhysicalResourceId=p");
  REQUIRE(r.status == 200);
  CHECK(f.stacks.last_describe_resources.stack_name() == "web");
  CHECK(f.stacks.last_describe_resources.logical_resource_id() == "H");
  CHECK(f.stacks.last_describe_resources.physical_resource_id() == "p");
  CHECK(r.body == std::string(kXmlHead) + "<DescribeStackResourcesResponse" + kNs +
                      "><DescribeStackResourcesResult><StackResources><member>" + detail +
                      "<Timestamp>2025-12-05T00:00:04.000Z</Timestamp><ResourceStatus>"
                      "CREATE_COMPLETE</ResourceStatus><DriftInformation>"
                      "<StackResourceDriftStatus>NOT_CHECKED</StackResourceDriftStatus>"
                      "</DriftInformation></member></StackResources>"
                      "</DescribeStackResourcesResult><ResponseMetadata><RequestId>req-1"
                      "</RequestId></ResponseMetadata></DescribeStackResourcesResponse>");
}

// SignalResource with minicloud's Reason. Catches Reason, UniqueId or Status dropped, and a
// Result wrapper botocore's SignalResource does not have.
TEST_CASE("SignalResource", "[cloudformation]") {
  Fixture f;
  f.Create("web");
  const HttpResponse r = f.Call(
      "Action=SignalResource&Version=2010-05-15&StackName=web&LogicalResourceId=H"
      "&UniqueId=i-0123&Status=FAILURE&Reason=apt+failed");
  REQUIRE(r.status == 200);
  CHECK(f.stacks.last_signal.stack_name() == "web");
  CHECK(f.stacks.last_signal.logical_resource_id() == "H");
  CHECK(f.stacks.last_signal.unique_id() == "i-0123");
  CHECK(f.stacks.last_signal.status() == "FAILURE");
  CHECK(f.stacks.last_signal.reason() == "apt failed");
  CHECK(r.body == std::string(kXmlHead) + "<SignalResourceResponse" + kNs +
                      "><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>"
                      "</SignalResourceResponse>");
  const HttpResponse unknown = f.Call(
      "Action=SignalResource&Version=2010-05-15&StackName=web&LogicalResourceId=Nope"
      "&UniqueId=i-0123&Status=SUCCESS");
  CHECK(unknown.status == 400);
  CHECK_THAT(unknown.body, Catch::Contains("Resource Nope does not exist for stack web"));
}

// ContentType=JSON on the account endpoint too (aws-cfn-bootstrap's form): catches the JSON
// writer dropping the Result wrapper or writing times as strings.
TEST_CASE("ContentType=JSON answers JSON", "[cloudformation]") {
  Fixture f;
  f.Create("web");
  const HttpResponse r =
      f.Call("Action=DescribeStackResources&Version=2010-05-15&StackName=web&ContentType=JSON");
  REQUIRE(r.status == 200);
  CHECK(r.content_type == "application/json");
  CHECK(r.body ==
        "{\"DescribeStackResourcesResponse\":{\"DescribeStackResourcesResult\":{\"StackResources\":"
        "[{\"StackName\":\"web\",\"StackId\":\"arn:aws:cloudformation:home-1:000000000000:stack/"
        "web/00000001-0000-4000-8000-000000000001\",\"LogicalResourceId\":\"H\","
        "\"PhysicalResourceId\":\"http://169.254.169.254/cloudformation/waitcondition/token2\","
        "\"ResourceType\":\"AWS::CloudFormation::WaitConditionHandle\",\"Timestamp\":1764892804,"
        "\"ResourceStatus\":\"CREATE_COMPLETE\",\"DriftInformation\":"
        "{\"StackResourceDriftStatus\":\"NOT_CHECKED\"}}]},\"ResponseMetadata\":{\"RequestId\":"
        "\"req-1\"}}}");
}

// StackApi's errors keep their CloudFormation code and HTTP status. Catches the code lost
// (InternalError) or AccessDenied answered 400.
TEST_CASE("StackApi's errors on the wire", "[cloudformation]") {
  Fixture f;
  f.Create("web");
  HttpResponse r =
      f.Call("Action=CreateStack&Version=2010-05-15&StackName=web&TemplateBody=" + Enc(kTemplate));
  CHECK(r.status == 400);
  CHECK_THAT(r.body, Catch::Contains("<Type>Sender</Type><Code>AlreadyExistsException</Code>"
                                     "<Message>Stack [web] already exists</Message>"));
  f.stacks.fail_next["DescribeStacks"] =
      Ec2Error(absl::StatusCode::kPermissionDenied, "AccessDenied", "no");
  r = f.Call("Action=DescribeStacks&Version=2010-05-15");
  CHECK(r.status == 403);
  CHECK_THAT(r.body, Catch::Contains("<Code>AccessDenied</Code>"));
  f.stacks.fail_next["DescribeStackEvents"] = absl::InternalError("disk on fire at /var/x");
  r = f.Call("Action=DescribeStackEvents&Version=2010-05-15&StackName=web&ContentType=JSON");
  CHECK(r.status == 500);
  CHECK(r.body ==
        "{\"Error\":{\"Type\":\"Receiver\",\"Code\":\"InternalError\",\"Message\":\"An internal "
        "error has occurred\"},\"RequestId\":\"req-1\"}");
}

// Without a StackApi every action answers ServiceUnavailable. Catches a null dereference.
TEST_CASE("stacks not wired", "[cloudformation]") {
  FakeVerifier verifier(auth::Caller{"AK", std::nullopt});
  for (const char* action : {"CreateStack", "DescribeStacks", "ValidateTemplate"}) {
    const HttpResponse r = HandleCloudFormation(
        Post(absl::StrCat("Action=", action, "&Version=2010-05-15&StackName=x")), verifier, nullptr,
        "req-3");
    CHECK(r.status == 503);
    CHECK_THAT(r.body, Catch::Contains("<Code>ServiceUnavailable</Code><Message>CloudFormation "
                                       "stacks are not enabled on this controller</Message>"));
  }
}

// One row per refusal: the code, the HTTP status and the words of the message, in the query
// protocol's ErrorResponse. Each catches its check missing.
TEST_CASE("CloudFormation refusals", "[cloudformation]") {
  struct Row {
    std::string form;
    bool instance_credentials;
    int status;
    std::string code;
    std::string words;
  };
  const Row rows[] = {
      {"Action=ValidateTemplate&Version=2010-05-15&TemplateBody=x%3A%201", true, 403,
       "AccessDenied", "Instance credentials cannot call CloudFormation actions"},
      {"Action=ValidateTemplate&Version=2016-11-15&TemplateBody=x", false, 400,
       "InvalidParameterValue", "CloudFormation's API version is 2010-05-15"},
      {"Action=ListStacks&Version=2010-05-15", false, 400, "InvalidAction",
       "is not valid for this web service"},
      {"Version=2010-05-15", false, 400, "MissingAction", "Action"},
      {"Action=ValidateTemplate&Version=2010-05-15", false, 400, "ValidationError",
       "Either Template URL or Template Body must be specified."},
      {"Action=ValidateTemplate&Version=2010-05-15&TemplateURL=http%3A%2F%2Fx", false, 400,
       "ValidationError", "there is no S3 to fetch the template from"},
      {"Action=CreateStack&Version=2010-05-15&StackName=s&TemplateURL=http%3A%2F%2Fx", false, 400,
       "ValidationError", "send the template itself in TemplateBody"},
      {"Action=UpdateStack&Version=2010-05-15&StackName=s&TemplateURL=http%3A%2F%2Fx", false, 400,
       "ValidationError", "--template-body file://template.yaml"},
      {"Action=ValidateTemplate&Version=2010-05-15&TemplateBody=x&Bogus=1", false, 400,
       "UnknownParameter", "Bogus"},
      {"Action=CreateStack&Version=2010-05-15&StackName=s&TemplateBody=x&RoleARN=r", false, 400,
       "UnknownParameter", "RoleARN"},
      {"Action=CreateStack&Version=2010-05-15&TemplateBody=x", false, 400, "ValidationError",
       "The parameter StackName is required"},
      {"Action=CreateStack&Version=2010-05-15&StackName=s&TemplateBody=x&TimeoutInMinutes=ten",
       false, 400, "ValidationError", "TimeoutInMinutes"},
      {"Action=CreateStack&Version=2010-05-15&StackName=s&TemplateBody=x&DisableRollback=yes",
       false, 400, "ValidationError", "DisableRollback"},
      {"Action=DescribeStackEvents&Version=2010-05-15", false, 400, "ValidationError",
       "The parameter StackName is required"},
      {"Action=DescribeStackResource&Version=2010-05-15&StackName=s", false, 400, "ValidationError",
       "The parameter LogicalResourceId is required"},
      {"Action=SignalResource&Version=2010-05-15&StackName=s&LogicalResourceId=W&UniqueId=i", false,
       400, "ValidationError", "The parameter Status is required"},
      {"Action=DescribeStacks&Version=2010-05-15&ContentType=YAML", false, 400, "ValidationError",
       "ContentType is JSON or XML"},
      {"Action=ValidateTemplate&Version=2010-05-15&TemplateBody=Resources%3A%20%7B%7D", false, 400,
       "ValidationError",
       "Template format error: Resources: a template must declare at least one resource"},
      {"Action=DescribeStacks&Version=2010-05-15&StackName=nope", false, 400, "ValidationError",
       "Stack with id nope does not exist"},
      {"Action=DescribeStacks&Version=2010-05-15&Parameters.member.x.ParameterKey=1", false, 400,
       "UnknownParameter", "Parameters.member.x.ParameterKey"},
      {"Action=DescribeStacks&Version=2010-05-15&A=%zz", false, 400, "MalformedQueryString", "'%'"},
  };
  for (const Row& row : rows) {
    INFO(row.form);
    FakeVerifier verifier(auth::Caller{
        "AK", row.instance_credentials
                  ? std::optional<std::vector<std::string>>(std::vector<std::string>{"*"})
                  : std::nullopt});
    FakeStackApi stacks;
    const HttpResponse r = HandleCloudFormation(Post(row.form), verifier, &stacks, "req-2");
    CHECK(r.status == row.status);
    CHECK_THAT(r.body, Catch::StartsWith("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ErrorResponse "
                                         "xmlns=\"http://cloudformation.amazonaws.com/doc/"
                                         "2010-05-15/\"><Error><Type>Sender</Type><Code>" +
                                         row.code + "</Code><Message>"));
    CHECK_THAT(r.body, Catch::Contains(row.words));
    CHECK_THAT(r.body, Catch::EndsWith("</Message></Error><RequestId>req-2</RequestId>"
                                       "</ErrorResponse>"));
  }
}

}  // namespace
}  // namespace minicloud::query
