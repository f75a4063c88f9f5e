// The CloudFormation Query protocol's edge (controller/query/cloudformation_query.h) over a fake
// verifier (the real SigV4 path is exercised by tests/conformance/cloudformation_test.py with the
// aws CLI and boto3): routing by credential scope, the exact XML of an answer and of an error,
// and each refusal.
#include "controller/query/cloudformation_query.h"

#include <catch2/catch.hpp>
#include <optional>
#include <string>

#include "common/ec2_error.h"

namespace minicloud::query {
namespace {

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
// NoEcho default hidden). Catches EC2's <item> lists, a missing result wrapper, a leaked default.
TEST_CASE("ValidateTemplate's answer", "[cloudformation]") {
  FakeVerifier verifier(auth::Caller{"AKIAEXAMPLE", std::nullopt});
  const HttpResponse r = HandleCloudFormation(
      Post("Action=ValidateTemplate&Version=2010-05-15&TemplateBody="
           "Description%3A%20d%0AParameters%3A%0A%20%20A%3A%20%7BType%3A%20String%2C%20Default%3A"
           "%20x%2C%20Description%3A%20the%20a%7D%0A%20%20B%3A%20%7BType%3A%20String%2C%20NoEcho"
           "%3A%20true%2C%20Default%3A%20s%7D%0AResources%3A%0A%20%20H%3A%20%7BType%3A%20AWS%3A%3A"
           "CloudFormation%3A%3AWaitConditionHandle%7D%0A"),
      verifier, "req-1");
  CHECK(verifier.service_ == "cloudformation");
  CHECK(r.status == 200);
  CHECK(r.body ==
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ValidateTemplateResponse "
        "xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><ValidateTemplateResult>"
        "<Parameters><member><ParameterKey>A</ParameterKey><DefaultValue>x</DefaultValue>"
        "<NoEcho>false</NoEcho><Description>the a</Description></member><member><ParameterKey>B"
        "</ParameterKey><DefaultValue>****</DefaultValue><NoEcho>true</NoEcho></member>"
        "</Parameters><Description>d</Description><Capabilities/><DeclaredTransforms/>"
        "</ValidateTemplateResult><ResponseMetadata><RequestId>req-1</RequestId>"
        "</ResponseMetadata></ValidateTemplateResponse>");
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
      {"Action=CreateStack&Version=2010-05-15", false, 400, "InvalidAction",
       "is not valid for this web service"},
      {"Version=2010-05-15", false, 400, "MissingAction", "Action"},
      {"Action=ValidateTemplate&Version=2010-05-15", false, 400, "ValidationError",
       "Either Template URL or Template Body must be specified."},
      {"Action=ValidateTemplate&Version=2010-05-15&TemplateURL=http%3A%2F%2Fx", false, 400,
       "ValidationError", "TemplateURL is not supported by minicloud"},
      {"Action=ValidateTemplate&Version=2010-05-15&TemplateBody=x&Bogus=1", false, 400,
       "UnknownParameter", "Bogus"},
      {"Action=ValidateTemplate&Version=2010-05-15&TemplateBody=Resources%3A%20%7B%7D", false, 400,
       "ValidationError",
       "Template format error: Resources: a template must declare at least one resource"},
      {"Action=ValidateTemplate&Version=2010-05-15&TemplateBody=%3C%26%3E", false, 400,
       "ValidationError", "a template is a JSON object or a YAML mapping"},
  };
  for (const Row& row : rows) {
    INFO(row.form);
    FakeVerifier verifier(auth::Caller{
        "AK", row.instance_credentials
                  ? std::optional<std::vector<std::string>>(std::vector<std::string>{"*"})
                  : std::nullopt});
    const HttpResponse r = HandleCloudFormation(Post(row.form), verifier, "req-2");
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
