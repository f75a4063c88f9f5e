// EC2's XML documents and the one error mapping.
#include <catch2/catch.hpp>

#include "common/ec2_error.h"
#include "controller/query/errors.h"
#include "controller/query/xml.h"

namespace minicloud::query {
namespace {

TEST_CASE("error document: EC2's shape, RequestID in capitals, text escaped") {
  CHECK(ErrorXml("InvalidAction", "The action <x> & co", "req-1") ==
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>InvalidAction"
        "</Code><Message>The action &lt;x&gt; &amp; co</Message></Error></Errors><RequestID>req-1"
        "</RequestID></Response>");
}

TEST_CASE("success document: namespace, requestId first, no indentation") {
  std::string body;
  XmlResponse x("DescribeKeyPairs", "abc", &body);
  XmlNode item = Item(Child(x.root(), "keySet"));
  Text(item, "keyName", "k");
  Int(item, "n", 16);
  Bool(item, "b", false);
  Time(item, "t", absl::FromUnixMillis(1700000000123));
  REQUIRE(x.Finish().ok());
  CHECK(body ==
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DescribeKeyPairsResponse "
        "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>abc</requestId><keySet>"
        "<item><keyName>k</keyName><n>16</n><b>false</b><t>2023-11-14T22:13:20.123Z</t></item>"
        "</keySet></DescribeKeyPairsResponse>");
}

TEST_CASE("error mapping: EC2 code and HTTP status from the status") {
  struct Case {
    absl::Status status;
    std::string code;
    int http;
  };
  const std::vector<Case> cases = {
      {Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation", "x"), "DryRunOperation",
       412},
      {Ec2Error(absl::StatusCode::kNotFound, "InvalidInstanceID.NotFound", "x"),
       "InvalidInstanceID.NotFound", 400},
      {Ec2Error(absl::StatusCode::kResourceExhausted, "InsufficientInstanceCapacity", "x"),
       "InsufficientInstanceCapacity", 500},
      {Ec2Error(absl::StatusCode::kResourceExhausted, "InstanceLimitExceeded", "x"),
       "InstanceLimitExceeded", 400},
      {Ec2Error(absl::StatusCode::kUnauthenticated, "AuthFailure", "x"), "AuthFailure", 401},
      {Ec2Error(absl::StatusCode::kUnauthenticated, "SignatureDoesNotMatch", "x"),
       "SignatureDoesNotMatch", 403},
      {Ec2Error(absl::StatusCode::kUnauthenticated, "RequestExpired", "x"), "RequestExpired", 400},
      {Ec2Error(absl::StatusCode::kPermissionDenied, "UnauthorizedOperation", "x"),
       "UnauthorizedOperation", 403},
      {absl::InvalidArgumentError("x"), "InvalidParameterValue", 400},
      {absl::InternalError("/var/lib/minicloud/db: I/O error"), "InternalError", 500},
  };
  for (const Case& c : cases) {
    INFO(c.status.ToString());
    WireError e = ToWireError(c.status);
    CHECK(e.code == c.code);
    CHECK(e.http_status == c.http);
  }
  // Bug caught: an internal failure's detail (a path) reaching the caller.
  CHECK(ToWireError(absl::InternalError("/var/lib/minicloud/db: I/O error")).message ==
        "An internal error has occurred");
  CHECK(ToWireError(Ec2Error(absl::StatusCode::kNotFound, "InvalidAMIID.NotFound", "no ami-1"))
            .message == "no ami-1");
}

}  // namespace
}  // namespace minicloud::query
