// The dispatcher over the real services (RocksDB in a temp dir): authentication first, Action and
// Version, UnknownParameter before anything changes, DryRun, and response shapes.
#include "controller/query/query_api.h"

#include <catch2/catch.hpp>
#include <pugixml.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud::query {
namespace {

// Accepts requests carrying `x-test-key: good`; counts the requests it saw.
class TestVerifier : public auth::RequestVerifier {
 public:
  absl::StatusOr<auth::Caller> Verify(const auth::SignedRequest& r,
                                      absl::string_view service) const override {
    ++calls;
    last_service = std::string(service);
    for (const auto& [name, value] : r.headers) {
      if (name == "x-test-key" && value == "good") {
        return auth::Caller{.access_key_id = "AKIDTEST", .allowed_actions = allowed};
      }
    }
    return Ec2Error(absl::StatusCode::kUnauthenticated, "AuthFailure",
                    "AWS was not able to validate the provided access credentials");
  }
  mutable int calls = 0;
  mutable std::string last_service;
  std::optional<std::vector<std::string>> allowed;
};

struct Fixture {
  testing::ControllerFixture ctl;
  TestVerifier verifier;
  QueryApi api{Services{*ctl.compute, *ctl.images, *ctl.key_pairs, *ctl.groups, *ctl.tags},
               verifier, 1};

  HttpResponse Post(const std::string& body, bool signed_ok = true) {
    HttpRequest r;
    r.method = "POST";
    r.target = "/";
    r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    if (signed_ok) r.headers.emplace_back("x-test-key", "good");
    r.body = body;
    return api.Handle(r);
  }
  HttpResponse Call(const std::string& action, const std::string& rest = "") {
    return Post(absl::StrCat("Action=", action, "&Version=2016-11-15", rest));
  }
};

std::string CodeOf(const HttpResponse& r) {
  pugi::xml_document doc;
  REQUIRE(doc.load_string(r.body.c_str()));
  return doc.child("Response").child("Errors").child("Error").child_value("Code");
}

pugi::xml_node Parse(pugi::xml_document& doc, const HttpResponse& r, const char* root) {
  INFO(r.body);
  REQUIRE(r.status == 200);
  REQUIRE(doc.load_string(r.body.c_str()));
  pugi::xml_node n = doc.child(root);
  REQUIRE(n);
  CHECK(std::string(n.attribute("xmlns").value()) == "http://ec2.amazonaws.com/doc/2016-11-15/");
  CHECK(std::string(n.child_value("requestId")).size() == 36);
  return n;
}

TEST_CASE("authentication comes before parsing: a refused request is never parsed") {
  Fixture f;
  // Bug caught: parsing (and answering MalformedQueryString / InvalidAction) before verifying.
  HttpResponse r = f.Post("Action=%zz&Version=1", /*signed_ok=*/false);
  CHECK(r.status == 401);
  CHECK(CodeOf(r) == "AuthFailure");
  CHECK(f.verifier.calls == 1);
  CHECK(f.verifier.last_service == "ec2");
  pugi::xml_document doc;
  REQUIRE(doc.load_string(r.body.c_str()));
  CHECK(std::string(doc.child("Response").child_value("RequestID")).size() == 36);
}

TEST_CASE("Action and Version: InvalidAction, MissingAction, MissingParameter, NoSuchVersion") {
  Fixture f;
  HttpResponse r = f.Call("LaunchRockets");
  CHECK(r.status == 400);
  CHECK(CodeOf(r) == "InvalidAction");
  CHECK(CodeOf(f.Post("Version=2016-11-15")) == "MissingAction");
  CHECK(CodeOf(f.Post("Action=DescribeKeyPairs")) == "MissingParameter");
  CHECK(CodeOf(f.Post("Action=DescribeKeyPairs&Version=2014-01-01")) == "NoSuchVersion");
  CHECK(CodeOf(f.Post("Action=DescribeKeyPairs&Version=2016-11-15&A=%4")) ==
        "MalformedQueryString");
}

TEST_CASE("GET with a query string works like POST") {
  Fixture f;
  HttpRequest r;
  r.method = "GET";
  r.target = "/?Action=DescribeKeyPairs&Version=2016-11-15";
  r.headers = {{"x-test-key", "good"}};
  pugi::xml_document doc;
  Parse(doc, f.api.Handle(r), "DescribeKeyPairsResponse");
  r.method = "DELETE";
  CHECK(CodeOf(f.api.Handle(r)) == "UnsupportedProtocol");
}

TEST_CASE("an unknown parameter is refused before the action changes anything") {
  Fixture f;
  // Bug caught: running the service and only then checking the parameters.
  HttpResponse r = f.Call("CreateKeyPair", "&KeyName=k1&KeyColour=blue");
  CHECK(r.status == 400);
  CHECK(CodeOf(r) == "UnknownParameter");
  CHECK(r.body.find("KeyColour") != std::string::npos);
  pugi::xml_document doc;
  auto keys = Parse(doc, f.Call("DescribeKeyPairs"), "DescribeKeyPairsResponse");
  CHECK_FALSE(keys.child("keySet").child("item"));
  // Every action refuses a parameter it does not know (given what it requires).
  for (const std::string& action : f.api.ActionNames()) {
    INFO(action);
    const std::string code = CodeOf(f.Call(action, "&NoSuchParameter.1=x"));
    CHECK((code == "UnknownParameter" || code == "MissingParameter" ||
           code == "UnsupportedOperation"));
  }
}

TEST_CASE("DryRun: 412 DryRunOperation after validation, nothing changed") {
  Fixture f;
  HttpResponse r = f.Call("CreateKeyPair", "&KeyName=k1&DryRun=true");
  CHECK(r.status == 412);
  CHECK(CodeOf(r) == "DryRunOperation");
  // Validation still runs first: an invalid request is its own error, not DryRunOperation.
  CHECK(CodeOf(f.Call("CreatePlacementGroup", "&GroupName=g&Strategy=diagonal&DryRun=true")) ==
        "InvalidParameterValue");
  // Read-only actions answer DryRunOperation too.
  CHECK(f.Call("DescribeInstances", "&DryRun=true").status == 412);
  CHECK(CodeOf(f.Call("DescribeInstances", "&DryRun=maybe")) == "InvalidParameterValue");
  // The four services that gained DryRun: nothing deleted.
  REQUIRE(f.Call("CreateKeyPair", "&KeyName=k2").status == 200);
  CHECK(f.Call("DeleteKeyPair", "&KeyName=k2&DryRun=true").status == 412);
  pugi::xml_document doc;
  auto keys = Parse(doc, f.Call("DescribeKeyPairs"), "DescribeKeyPairsResponse");
  CHECK(std::string(keys.child("keySet").child("item").child_value("keyName")) == "k2");
  const std::string image = f.ctl.RegisterImage();
  CHECK(f.Call("DeregisterImage", "&ImageId=" + image + "&DryRun=true").status == 412);
  pugi::xml_document doc2;
  auto images = Parse(doc2, f.Call("DescribeImages"), "DescribeImagesResponse");
  CHECK(std::string(images.child("imagesSet").child("item").child_value("imageId")) == image);
}

TEST_CASE("key pairs and placement groups: EC2's response shapes") {
  Fixture f;
  pugi::xml_document d1;
  auto created =
      Parse(d1, f.Call("CreateKeyPair", "&KeyName=k1&KeyType=ed25519"), "CreateKeyPairResponse");
  CHECK(std::string(created.child_value("keyName")) == "k1");
  CHECK(absl::StartsWith(created.child_value("keyPairId"), "key-"));
  CHECK(absl::StrContains(created.child_value("keyMaterial"), "PRIVATE KEY"));
  CHECK(std::string(created.child_value("keyFingerprint")).size() > 10);
  CHECK(CodeOf(f.Call("CreateKeyPair", "&KeyName=k1")) == "InvalidKeyPair.Duplicate");

  pugi::xml_document d2;
  auto pg = Parse(
      d2, f.Call("CreatePlacementGroup", "&GroupName=pg1&Strategy=partition&PartitionCount=3"),
      "CreatePlacementGroupResponse");
  CHECK(std::string(pg.child("placementGroup").child_value("strategy")) == "partition");
  CHECK(std::string(pg.child("placementGroup").child_value("partitionCount")) == "3");
  pugi::xml_document d3;
  auto groups = Parse(d3, f.Call("DescribePlacementGroups", "&GroupName.1=pg1"),
                      "DescribePlacementGroupsResponse");
  pugi::xml_node item = groups.child("placementGroupSet").child("item");
  CHECK(std::string(item.child_value("groupName")) == "pg1");
  CHECK(absl::StartsWith(item.child_value("groupId"), "pg-"));
  CHECK(std::string(item.child_value("state")) == "available");
  pugi::xml_document d4;
  Parse(d4, f.Call("DeletePlacementGroup", "&GroupName=pg1"), "DeletePlacementGroupResponse");
  CHECK(CodeOf(f.Call("DescribePlacementGroups", "&GroupName.1=pg1")) ==
        "InvalidPlacementGroup.Unknown");
}

TEST_CASE("RunInstances and DescribeInstances: reservation and instance shapes, user data") {
  Fixture f;
  f.ctl.AddHost("home-1a");
  const std::string image = f.ctl.RegisterImage();
  CHECK(
      CodeOf(f.Call("RunInstances", "&ImageId=" + image + "&MinCount=1&MaxCount=1&UserData=%%%")) ==
      "MalformedQueryString");
  HttpResponse bad =
      f.Call("RunInstances", "&ImageId=" + image + "&MinCount=1&MaxCount=1&UserData=*");
  CHECK(CodeOf(bad) == "InvalidParameterValue");
  CHECK(absl::StrContains(bad.body, "Invalid BASE64 encoding of user data"));

  pugi::xml_document d1;
  auto run = Parse(
      d1,
      f.Call("RunInstances", "&ImageId=" + image +
                                 "&InstanceType=t3.micro&MinCount=1&MaxCount=1&UserData=aGVsbG8%3D"
                                 "&ClientToken=tok-1&MetadataOptions.HttpTokens=required"
                                 "&TagSpecification.1.ResourceType=instance"
                                 "&TagSpecification.1.Tag.1.Key=Name"
                                 "&TagSpecification.1.Tag.1.Value=web"),
      "RunInstancesResponse");
  CHECK(absl::StartsWith(run.child_value("reservationId"), "r-"));
  pugi::xml_node inst = run.child("instancesSet").child("item");
  const std::string id = inst.child_value("instanceId");
  CHECK(absl::StartsWith(id, "i-"));
  CHECK(std::string(inst.child("instanceState").child_value("code")) == "0");
  CHECK(std::string(inst.child("instanceState").child_value("name")) == "pending");
  CHECK(std::string(inst.child("placement").child_value("availabilityZone")) == "home-1a");
  CHECK(std::string(inst.child("metadataOptions").child_value("httpTokens")) == "required");
  CHECK(std::string(inst.child("tagSet").child("item").child_value("value")) == "web");
  CHECK(std::string(inst.child_value("clientToken")) == "tok-1");

  // ClientToken: the same reservation again.
  pugi::xml_document d2;
  auto again = Parse(
      d2,
      f.Call("RunInstances", "&ImageId=" + image +
                                 "&InstanceType=t3.micro&MinCount=1&MaxCount=1&UserData=aGVsbG8%3D"
                                 "&ClientToken=tok-1&MetadataOptions.HttpTokens=required"
                                 "&TagSpecification.1.ResourceType=instance"
                                 "&TagSpecification.1.Tag.1.Key=Name"
                                 "&TagSpecification.1.Tag.1.Value=web"),
      "RunInstancesResponse");
  CHECK(std::string(again.child_value("reservationId")) == run.child_value("reservationId"));

  pugi::xml_document d3;
  auto desc = Parse(d3,
                    f.Call("DescribeInstances",
                           "&Filter.1.Name=instance-type&Filter.1.Value.1=t3.micro"
                           "&Filter.2.Name=instance-state-name&Filter.2.Value.1=pending"),
                    "DescribeInstancesResponse");
  pugi::xml_node res = desc.child("reservationSet").child("item");
  CHECK(std::string(res.child("instancesSet").child("item").child_value("instanceId")) == id);
  CHECK_FALSE(res.next_sibling("item"));
  pugi::xml_document d4;
  auto none = Parse(
      d4, f.Call("DescribeInstances", "&Filter.1.Name=instance-type&Filter.1.Value.1=m5.large"),
      "DescribeInstancesResponse");
  CHECK_FALSE(none.child("reservationSet").child("item"));
  CHECK(CodeOf(f.Call("DescribeInstances", "&InstanceId.1=i-00000000")) ==
        "InvalidInstanceID.NotFound");

  pugi::xml_document d5;
  auto term =
      Parse(d5, f.Call("TerminateInstances", "&InstanceId.1=" + id), "TerminateInstancesResponse");
  pugi::xml_node change = term.child("instancesSet").child("item");
  CHECK(std::string(change.child_value("instanceId")) == id);
  CHECK(std::string(change.child("previousState").child_value("name")) == "pending");
  CHECK(std::string(change.child("currentState").child_value("code")) == "32");
}

TEST_CASE("minicloud's actions: DescribeHosts and DescribePlacement") {
  Fixture f;
  const std::string host = f.ctl.AddHost("home-1b", 4, 8192);
  pugi::xml_document d1;
  auto hosts = Parse(d1, f.Call("DescribeHosts"), "DescribeHostsResponse");
  pugi::xml_node item = hosts.child("hostSet").child("item");
  CHECK(std::string(item.child_value("hostId")) == host);
  CHECK(std::string(item.child_value("availabilityZone")) == "home-1b");
  CHECK(std::string(item.child("capacity").child_value("vcpus")) == "4");
  CHECK(std::string(item.child_value("accelerator")) == "tcg");
  const std::string image = f.ctl.RegisterImage();
  pugi::xml_document d2;
  auto fits = Parse(d2,
                    f.Call("DescribePlacement",
                           "&ImageId=" + image + "&InstanceType=t3.micro&MinCount=1&MaxCount=1"),
                    "DescribePlacementResponse");
  CHECK(std::string(fits.child_value("wouldSucceed")) == "true");
  CHECK_FALSE(std::string(fits.child_value("explanation")).empty());
  pugi::xml_document d3;
  auto too_many =
      Parse(d3,
            f.Call("DescribePlacement",
                   "&ImageId=" + image + "&InstanceType=t3.micro&MinCount=500&MaxCount=500"),
            "DescribePlacementResponse");
  CHECK(std::string(too_many.child_value("wouldSucceed")) == "false");
  CHECK(std::string(too_many.child_value("errorCode")) == "InsufficientInstanceCapacity");
  // Nothing was placed.
  pugi::xml_document d4;
  auto none = Parse(d4, f.Call("DescribeInstances"), "DescribeInstancesResponse");
  CHECK_FALSE(none.child("reservationSet").child("item"));
}

// Bugs each CHECK would catch: the action parsing a console other than the instance's own
// (wrong "endpoint/id"), "failed" for a failed script in an instance without user data flag
// mixed up, exitStatus written when unknown, the failing line dropped from failureSet, or an
// empty console answered as "running" instead of "unknown".
TEST_CASE("minicloud's actions: DescribeUserDataVerdict from the agent's console") {
  Fixture f;
  f.ctl.AddHost("home-1a");
  const std::string image = f.ctl.RegisterImage();
  auto run = [&](const std::string& user_data) {
    v1::RunInstancesRequest req = f.ctl.Run(image);
    if (!user_data.empty()) req.set_user_data(user_data);
    auto r = f.ctl.compute->RunInstances(req);
    REQUIRE(r.ok());
    return r->instances(0).instance_id();
  };
  const std::string failed = run("#!/bin/sh\nexit 3\n");
  const std::string booting = run("");
  const std::string silent = run("#!/bin/sh\ntrue\n");
  const std::string boot =
      "[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)\n"
      "[  146.755382] cloud-init[495]: Cloud-init v. 22.4.2 running 'modules:final' at Mon, 23 "
      "Nov 2026 15:36:56 +0000. Up 145.61 seconds.\n"
      "[  148.891681] cloud-init[495]: udf: going to fail\n";
  const std::string failed_line =
      "[  149.1] cloud-init[495]: 2026-11-23 15:37:00,001 - util.py[WARNING]: Failed running "
      "/var/lib/cloud/instance/scripts/part-001 [3]";
  const std::string finished =
      "[  153.630943] cloud-init[495]: Cloud-init v. 22.4.2 finished at Mon, 23 Nov 2026 "
      "15:37:04 +0000. Datasource DataSourceEc2Local.  Up 153.43 seconds\n";
  f.ctl.agents.consoles["agent:1/" + failed] = boot + failed_line + "\n" + finished;
  f.ctl.agents.consoles["agent:1/" + booting] = boot;
  f.ctl.agents.consoles["agent:1/" + silent] = "";

  pugi::xml_document d;
  auto resp = Parse(d,
                    f.Call("DescribeUserDataVerdict", "&InstanceId.1=" + failed + "&InstanceId.2=" +
                                                          booting + "&InstanceId.3=" + silent),
                    "DescribeUserDataVerdictResponse");
  pugi::xml_node a = resp.child("verdictSet").child("item");
  pugi::xml_node b = a.next_sibling("item");
  pugi::xml_node c = b.next_sibling("item");
  REQUIRE(c);
  CHECK(std::string(a.child_value("instanceId")) == failed);
  CHECK(std::string(a.child_value("status")) == "failed");
  CHECK(std::string(a.child_value("hasUserData")) == "true");
  CHECK(std::string(a.child_value("cloudInitFinished")) == "true");
  CHECK(std::string(a.child_value("exitStatus")) == "3");
  CHECK(std::string(a.child_value("datasource")) == "DataSourceEc2Local");
  CHECK(absl::StrContains(a.child("failureSet").child("item").child_value("line"),
                          "Failed running /var/lib/cloud/instance/scripts/part-001 [3]"));
  CHECK(std::string(a.child("outputSet").child("item").child_value("line")) ==
        "udf: going to fail");
  CHECK(absl::StrContains(a.child_value("message"), "verdict: user data FAILED (exit status 3)"));

  CHECK(std::string(b.child_value("instanceId")) == booting);
  CHECK(std::string(b.child_value("status")) == "running");
  CHECK(std::string(b.child_value("hasUserData")) == "false");
  CHECK_FALSE(b.child("exitStatus"));

  CHECK(std::string(c.child_value("status")) == "unknown");
  CHECK_FALSE(c.child("message"));

  CHECK(CodeOf(f.Call("DescribeUserDataVerdict")) == "MissingParameter");
  CHECK(CodeOf(f.Call("DescribeUserDataVerdict", "&InstanceId.1=i-0123456789abcdef0")) ==
        "InvalidInstanceID.NotFound");
  CHECK(CodeOf(f.Call("DescribeUserDataVerdict", "&InstanceId.1=nope")) ==
        "InvalidInstanceID.Malformed");
}

TEST_CASE("credentials limited to some actions get UnauthorizedOperation for the others") {
  Fixture f;
  f.verifier.allowed = std::vector<std::string>{"ec2:DescribeKeyPairs"};
  CHECK(f.Call("DescribeKeyPairs").status == 200);
  HttpResponse r = f.Call("CreateKeyPair", "&KeyName=k");
  CHECK(r.status == 403);
  CHECK(CodeOf(r) == "UnauthorizedOperation");
}

}  // namespace
}  // namespace minicloud::query
