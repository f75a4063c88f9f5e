// The Query actions over the status services (RebootInstances, DescribeInstanceStatus,
// DescribeRegions) and MaxResults/NextToken on DescribeInstances / DescribeImages, through the
// dispatcher over the real services (RocksDB in a temp dir, fake clock).
//
// Bugs these would catch (one line each): an element misnamed against botocore's model
// (instanceStatusSet, systemStatus, details/item, regionInfo, regionEndpoint) so clients read
// nothing; nextToken not written (or NextToken not read) so paging stops after one page or
// starts over forever; MaxResults parsed but dropped so MaxResults with InstanceId is accepted;
// IncludeAllInstances not passed to the service; RebootInstances not reaching the service.
#include <catch2/catch.hpp>
#include <pugixml.hpp>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/query/query_api.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud::query {
namespace {

class AllowAll : public auth::RequestVerifier {
 public:
  absl::StatusOr<auth::Caller> Verify(const auth::SignedRequest&,
                                      absl::string_view) const override {
    return auth::Caller{.access_key_id = "AKIDTEST", .allowed_actions = std::nullopt};
  }
};

struct Fixture {
  testing::ControllerFixture ctl;
  AllowAll verifier;
  QueryApi api{Services{*ctl.compute, *ctl.images, *ctl.key_pairs, *ctl.groups, *ctl.tags},
               verifier, 1};
  std::string host = ctl.AddHost("home-1a", 64, 65536);
  std::string image = ctl.RegisterImage();

  HttpResponse Call(const std::string& action, const std::string& rest = "") {
    HttpRequest r;
    r.method = "POST";
    r.target = "/";
    r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    r.body = absl::StrCat("Action=", action, "&Version=2016-11-15", rest);
    return api.Handle(r);
  }
  std::vector<std::string> Launch(int n, bool running) {
    auto res = ctl.compute->RunInstances(ctl.Run(image, n));
    REQUIRE(res.ok());
    std::vector<std::string> ids;
    for (const auto& i : res->instances()) {
      ids.push_back(i.instance_id());
      if (running) REQUIRE(ctl.Report(host, i.instance_id(), v1::OBSERVED_STATE_RUNNING).ok());
    }
    return ids;
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
  return n;
}

TEST_CASE("DescribeInstanceStatus: EC2's instanceStatusSet shape, IncludeAllInstances") {
  Fixture f;
  const std::string running = f.Launch(1, true)[0];
  const std::string pending = f.Launch(1, false)[0];

  pugi::xml_document d1;
  auto r = Parse(d1, f.Call("DescribeInstanceStatus"), "DescribeInstanceStatusResponse");
  pugi::xml_node item = r.child("instanceStatusSet").child("item");
  CHECK(std::string(item.child_value("instanceId")) == running);
  CHECK(std::string(item.child_value("availabilityZone")) == "home-1a");
  CHECK(std::string(item.child("instanceState").child_value("code")) == "16");
  CHECK(std::string(item.child("instanceState").child_value("name")) == "running");
  CHECK(std::string(item.child("systemStatus").child_value("status")) == "ok");
  pugi::xml_node detail = item.child("systemStatus").child("details").child("item");
  CHECK(std::string(detail.child_value("name")) == "reachability");
  CHECK(std::string(detail.child_value("status")) == "passed");
  CHECK(std::string(item.child("instanceStatus").child_value("status")) == "initializing");
  CHECK(!item.child("eventsSet"));         // left out when there are no events, as EC2 does
  CHECK_FALSE(item.next_sibling("item"));  // running instances only by default
  CHECK_FALSE(r.child("nextToken"));

  f.ctl.clock.Advance(f.ctl.config.status_check_grace);
  REQUIRE(f.ctl.Report(f.host, running, v1::OBSERVED_STATE_RUNNING).ok());
  pugi::xml_document d2;
  auto ok = Parse(d2, f.Call("DescribeInstanceStatus", "&InstanceId.1=" + running),
                  "DescribeInstanceStatusResponse");
  CHECK(std::string(ok.child("instanceStatusSet")
                        .child("item")
                        .child("instanceStatus")
                        .child_value("status")) == "ok");

  pugi::xml_document d3;
  auto all = Parse(d3, f.Call("DescribeInstanceStatus", "&IncludeAllInstances=true"),
                   "DescribeInstanceStatusResponse");
  std::set<std::string> ids;
  for (pugi::xml_node i : all.child("instanceStatusSet").children("item")) {
    ids.insert(i.child_value("instanceId"));
  }
  CHECK(ids == std::set<std::string>{running, pending});

  pugi::xml_document d4;
  auto filtered = Parse(d4,
                        f.Call("DescribeInstanceStatus",
                               "&IncludeAllInstances=true&Filter.1.Name=instance-state-name"
                               "&Filter.1.Value.1=pending"),
                        "DescribeInstanceStatusResponse");
  CHECK(std::string(filtered.child("instanceStatusSet").child("item").child_value("instanceId")) ==
        pending);
  CHECK_FALSE(filtered.child("instanceStatusSet").child("item").next_sibling("item"));
  CHECK(CodeOf(f.Call("DescribeInstanceStatus", "&IncludeAllInstances=maybe")) ==
        "InvalidParameterValue");
}

TEST_CASE("RebootInstances answers return=true, DescribeRegions answers regionInfo") {
  Fixture f;
  const std::string id = f.Launch(1, true)[0];
  pugi::xml_document d1;
  auto r = Parse(d1, f.Call("RebootInstances", "&InstanceId.1=" + id), "RebootInstancesResponse");
  CHECK(std::string(r.child_value("return")) == "true");
  CHECK(CodeOf(f.Call("RebootInstances")) == "MissingParameter");
  CHECK(CodeOf(f.Call("RebootInstances", "&InstanceId.1=" + id + "&DryRun=true")) ==
        "DryRunOperation");
  CHECK(CodeOf(f.Call("RebootInstances", "&InstanceId.1=i-00000000")) ==
        "InvalidInstanceID.NotFound");

  pugi::xml_document d2;
  auto regions = Parse(d2, f.Call("DescribeRegions"), "DescribeRegionsResponse");
  pugi::xml_node region = regions.child("regionInfo").child("item");
  CHECK(std::string(region.child_value("regionName")) == "home-1");
  CHECK(region.child("regionEndpoint"));
  CHECK(std::string(region.child_value("regionEndpoint")) == f.ctl.config.region_endpoint);
  CHECK(std::string(region.child_value("optInStatus")) == "opt-in-not-required");
  pugi::xml_document d3;
  auto none = Parse(d3, f.Call("DescribeRegions", "&Filter.1.Name=region-name&Filter.1.Value.1=x"),
                    "DescribeRegionsResponse");
  CHECK_FALSE(none.child("regionInfo").child("item"));
}

// Follows nextToken until the last page; returns the instance ids seen, in order.
std::vector<std::string> PageAll(Fixture& f, const std::string& action, const std::string& extra,
                                 int* pages) {
  std::vector<std::string> seen;
  std::string token;
  *pages = 0;
  do {
    std::string rest = extra;
    if (!token.empty()) rest += "&NextToken=" + token;  // tokens are URL-safe
    pugi::xml_document d;
    auto r = Parse(d, f.Call(action, rest), absl::StrCat(action, "Response").c_str());
    ++*pages;
    if (action == "DescribeInstances") {
      for (pugi::xml_node res : r.child("reservationSet").children("item")) {
        for (pugi::xml_node i : res.child("instancesSet").children("item")) {
          seen.push_back(i.child_value("instanceId"));
        }
      }
    } else {
      for (pugi::xml_node i : r.child("instanceStatusSet").children("item")) {
        seen.push_back(i.child_value("instanceId"));
      }
    }
    token = r.child_value("nextToken");
    REQUIRE(*pages < 10);
  } while (!token.empty());
  return seen;
}

TEST_CASE("MaxResults / NextToken round trip on DescribeInstances and DescribeInstanceStatus") {
  Fixture f;
  std::vector<std::string> ids = f.Launch(12, true);
  std::sort(ids.begin(), ids.end());
  for (const std::string action : {"DescribeInstances", "DescribeInstanceStatus"}) {
    INFO(action);
    int pages = 0;
    std::vector<std::string> seen = PageAll(f, action, "&MaxResults=5", &pages);
    std::vector<std::string> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == ids);  // each once: no repeats, none dropped
    CHECK(pages == 3);
    // The service's rules, answered through this API.
    CHECK(CodeOf(f.Call(action, "&MaxResults=5&InstanceId.1=" + ids[0])) ==
          "InvalidParameterCombination");
    CHECK(CodeOf(f.Call(action, "&MaxResults=4")) == "InvalidParameterValue");
    CHECK(CodeOf(f.Call(action, "&MaxResults=five")) == "InvalidParameterValue");
    CHECK(CodeOf(f.Call(action, "&NextToken=garbage")) == "InvalidPaginationToken");
  }
}

}  // namespace
}  // namespace minicloud::query
