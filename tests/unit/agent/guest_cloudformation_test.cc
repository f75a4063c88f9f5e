// The agent's translations for a guest's CloudFormation request
// (agent/runtime/guest_cloudformation.h): the forwarded request to the HostService message, and the
// controller's answer (or the link's failure) to what the guest is answered. The forwarder over a
// real link and controller: tests/integration/guest_cloudformation_test.cc.
//
// One-line bugs caught: a header or the body not copied, the host id and instance id swapped;
// the controller's status or content type dropped; an Unavailable link error answered as
// anything but 503; the error's text (naming the controller's address) shown to the guest.

#include "agent/runtime/guest_cloudformation.h"

#include <catch2/catch.hpp>

namespace minicloud::agent {
namespace {

TEST_CASE("a forwarded request becomes HostService.GuestCloudFormation field by field",
          "[agent][cloudformation]") {
  metadata::ForwardRequest fr;
  fr.instance_id = "i-0123456789abcdef0";
  fr.method = "PUT";
  fr.target = "/waitcondition/abc?x=1";
  fr.headers.Add("Content-Type", "application/json");
  fr.headers.Add("X-Repeated", "1");
  fr.headers.Add("X-Repeated", "2");
  fr.body = std::string("{\"Status\":\"SUCCESS\"}\0tail", 25);
  const v1::GuestCloudFormationRequest req =
      ToGuestCloudFormationRequest("h-00000000000000001", fr);
  CHECK(req.host_id() == "h-00000000000000001");
  CHECK(req.instance_id() == "i-0123456789abcdef0");
  CHECK(req.method() == "PUT");
  CHECK(req.target() == "/waitcondition/abc?x=1");
  REQUIRE(req.headers_size() == 3);
  CHECK(req.headers(0).name() == "Content-Type");
  CHECK(req.headers(0).value() == "application/json");
  CHECK(req.headers(2).name() == "X-Repeated");
  CHECK(req.headers(2).value() == "2");
  CHECK(req.body() == fr.body);
}

TEST_CASE("the controller's answer, or the link's failure, as the guest's response",
          "[agent][cloudformation]") {
  v1::GuestCloudFormationResponse ok;
  ok.set_status(400);
  ok.set_content_type("application/json");
  ok.set_body("{\"Error\":{}}");
  const metadata::Response r = ToGuestResponse(ok);
  CHECK(r.status == 400);
  CHECK(r.headers.Get("Content-Type") == "application/json");
  CHECK(r.body == "{\"Error\":{}}");

  const metadata::Response down = ToGuestResponse(
      absl::UnavailableError("watch via controller 10.1.2.3:7702: connection refused"));
  CHECK(down.status == 503);
  CHECK(down.body.find("cannot reach the controller") != std::string::npos);
  CHECK(down.body.find("10.1.2.3") == std::string::npos);

  const metadata::Response refused =
      ToGuestResponse(absl::PermissionDeniedError("instance i-1 does not run on host h-2"));
  CHECK(refused.status == 403);
  CHECK(refused.body.find("h-2") == std::string::npos);
}

}  // namespace
}  // namespace minicloud::agent
