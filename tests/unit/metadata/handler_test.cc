// Table-driven tests of the pure IMDS handler: one row per EC2 rule (see handler.cc for the
// sources of each rule). Listings are compared with golden files in tests/golden/metadata/.

#include "agent/metadata/handler.h"

#include <catch2/catch.hpp>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "agent/metadata/token_authority.h"
#include "tests/unit/metadata/golden.h"
#include "tests/unit/metadata/handler_cases.h"
#include "tests/unit/metadata/instance_builder.h"

namespace minicloud::metadata {
namespace {

using testing::Authority;
using testing::Case;
using testing::Check;
using testing::CheckGolden;
using testing::kHtml;
using testing::kNow;
using testing::kTextPlain;
using testing::MakeInstance;

TEST_CASE("listings: versions, version roots, directories with and without slash") {
  const std::vector<Case> cases = {
      {.name = "GET / lists versions, no trailing newline",
       .target = "/",
       .golden = "versions.txt",
       .expect_headers = kTextPlain},
      {.name = "version root lists categories without slashes",
       .target = "/latest/",
       .body = "dynamic\nmeta-data\nuser-data"},
      {.name = "version root without slash",
       .target = "/latest",
       .body = "dynamic\nmeta-data\nuser-data"},
      {.name = "dated version root",
       .target = "/2021-03-23/",
       .body = "dynamic\nmeta-data\nuser-data"},
      {.name = "user-data listed only when present",
       .instance = [] { return MakeInstance().UserData(std::nullopt); },
       .target = "/latest/",
       .body = "dynamic\nmeta-data"},
      {.name = "dynamic appears in 2009-04-04", .target = "/1.0/", .body = "meta-data\nuser-data"},
      {.name = "meta-data/ listing (latest)",
       .target = "/latest/meta-data/",
       .golden = "meta-data_latest.txt"},
      {.name = "meta-data listing without slash",
       .target = "/latest/meta-data",
       .golden = "meta-data_latest.txt"},
      {.name = "meta-data listing 2021-03-23 equals latest",
       .target = "/2021-03-23/meta-data/",
       .golden = "meta-data_latest.txt"},
      {.name = "meta-data listing of 2009-04-04 (cloud-init fallback) lacks newer categories",
       .target = "/2009-04-04/meta-data/",
       .golden = "meta-data_2009-04-04.txt"},
      {.name = "meta-data listing of 2016-09-02",
       .target = "/2016-09-02/meta-data/",
       .golden = "meta-data_2016-09-02.txt"},
      {.name = "meta-data listing with tags enabled",
       .instance = [] { return MakeInstance().TagsInMetadata(true); },
       .target = "/latest/meta-data/",
       .golden = "meta-data_latest_tags.txt"},
      {.name = "meta-data listing without keys",
       .instance = [] { return MakeInstance().NoKeys(); },
       .target = "/latest/meta-data/",
       .golden = "meta-data_latest_nokeys.txt"},
      {.name = "block-device-mapping",
       .target = "/latest/meta-data/block-device-mapping/",
       .body = "ami\nroot"},
      {.name = "block-device-mapping with instance store",
       .instance = [] { return MakeInstance().Ephemeral0("sdb"); },
       .target = "/latest/meta-data/block-device-mapping",
       .body = "ami\nephemeral0\nroot"},
      // Would catch: only the first instance-store volume listed, or the list out of order.
      {.name = "block-device-mapping with two instance-store volumes",
       .instance =
           [] {
             return MakeInstance().Ephemeral("ephemeral0", "sdb").Ephemeral("ephemeral1", "sdc");
           },
       .target = "/latest/meta-data/block-device-mapping/",
       .body = "ami\nephemeral0\nephemeral1\nroot"},
      {.name = "network/", .target = "/latest/meta-data/network/", .body = "interfaces/"},
      {.name = "network/interfaces",
       .target = "/latest/meta-data/network/interfaces",
       .body = "macs/"},
      {.name = "macs/",
       .target = "/latest/meta-data/network/interfaces/macs/",
       .body = "02:00:0a:00:00:05/"},
      {.name = "macs/<mac>/",
       .target = "/latest/meta-data/network/interfaces/macs/02:00:0a:00:00:05/",
       .golden = "mac_latest.txt"},
      {.name = "macs/<mac>/ in 2011-01-01",
       .target = "/2011-01-01/meta-data/network/interfaces/macs/02:00:0a:00:00:05",
       .golden = "mac_2011-01-01.txt"},
      {.name = "placement/",
       .target = "/latest/meta-data/placement/",
       .body = "availability-zone\nregion"},
      {.name = "placement/ with group, partition and zone id",
       .instance = [] { return MakeInstance().PlacementGroup("pg-1", 3).AzId("euw1-az1"); },
       .target = "/latest/meta-data/placement/",
       .body = "availability-zone\navailability-zone-id\ngroup-name\npartition-number\nregion"},
      {.name = "placement/ in 2016-09-02 has only the zone",
       .instance = [] { return MakeInstance().PlacementGroup("pg-1", 3).AzId("euw1-az1"); },
       .target = "/2016-09-02/meta-data/placement/",
       .body = "availability-zone"},
      {.name = "public-keys/ lists index=name",
       .target = "/latest/meta-data/public-keys/",
       .body = "0=test-key"},
      {.name = "public-keys without slash",
       .target = "/latest/meta-data/public-keys",
       .body = "0=test-key"},
      {.name = "public-keys/0/ lists formats",
       .target = "/latest/meta-data/public-keys/0/",
       .body = "openssh-key"},
      {.name = "public-keys/0 without slash",
       .target = "/latest/meta-data/public-keys/0",
       .body = "openssh-key"},
      {.name = "two keys",
       .instance =
           [] {
             return MakeInstance().With([](InstanceMetadata& m) {
               m.public_keys.push_back({"second", "ssh-rsa AAAAB3 second"});
             });
           },
       .target = "/latest/meta-data/public-keys/",
       .body = "0=test-key\n1=second"},
      {.name = "services/", .target = "/latest/meta-data/services/", .body = "domain\npartition"},
      {.name = "services/ before 2015-10-20",
       .target = "/2014-11-05/meta-data/services/",
       .body = "domain"},
      {.name = "events/", .target = "/latest/meta-data/events/", .body = "maintenance/"},
      {.name = "events/maintenance/",
       .target = "/latest/meta-data/events/maintenance/",
       .body = "history\nscheduled"},
      {.name = "dynamic/", .target = "/latest/dynamic/", .body = "instance-identity/"},
      {.name = "dynamic without slash", .target = "/latest/dynamic", .body = "instance-identity/"},
      {.name = "dynamic/instance-identity/",
       .target = "/latest/dynamic/instance-identity/",
       .body = "document\npkcs7\nrsa2048\nsignature"},
      {.name = "dynamic/instance-identity without slash (cloud-init asks this way)",
       .target = "/2021-03-23/dynamic/instance-identity",
       .body = "document\npkcs7\nrsa2048\nsignature"},
      {.name = "tags/ when enabled",
       .instance = [] { return MakeInstance().TagsInMetadata(true); },
       .target = "/latest/meta-data/tags/",
       .body = "instance/"},
      {.name = "tags/instance lists keys (sorted)",
       .instance = [] { return MakeInstance().TagsInMetadata(true); },
       .target = "/latest/meta-data/tags/instance",
       .body = "Empty\nEnvironment\nName"},
      {.name = "tags/instance/ with no tags is an empty listing",
       .instance =
           [] {
             return MakeInstance().TagsInMetadata(true).With(
                 [](InstanceMetadata& m) { m.tags.clear(); });
           },
       .target = "/latest/meta-data/tags/instance/",
       .body = ""},
  };
  for (const Case& c : cases) Check(c);
}

TEST_CASE("leaves") {
  const std::vector<std::pair<std::string, std::string>> leaves = {
      {"ami-id", "ami-0abcdef1234567890"},
      {"ami-launch-index", "0"},
      {"ami-manifest-path", "(unknown)"},
      {"block-device-mapping/ami", "/dev/xvda"},
      {"block-device-mapping/root", "/dev/xvda"},
      {"events/maintenance/history", "[]"},
      {"events/maintenance/scheduled", "[]"},
      {"hostname", "ip-10-0-0-5.eu-west-1.compute.internal"},
      {"instance-action", "none"},
      {"instance-id", "i-0123456789abcdef0"},
      {"instance-life-cycle", "on-demand"},
      {"instance-type", "t3.micro"},
      {"local-hostname", "ip-10-0-0-5.eu-west-1.compute.internal"},
      {"local-ipv4", "10.0.0.5"},
      {"mac", "02:00:0a:00:00:05"},
      {"network/interfaces/macs/02:00:0a:00:00:05/device-number", "0"},
      {"network/interfaces/macs/02:00:0a:00:00:05/interface-id", "eni-0a1b2c3d4e5f60718"},
      {"network/interfaces/macs/02:00:0a:00:00:05/local-hostname",
       "ip-10-0-0-5.eu-west-1.compute.internal"},
      {"network/interfaces/macs/02:00:0a:00:00:05/local-ipv4s", "10.0.0.5"},
      {"network/interfaces/macs/02:00:0a:00:00:05/mac", "02:00:0a:00:00:05"},
      {"network/interfaces/macs/02:00:0a:00:00:05/network-card-index", "0"},
      {"network/interfaces/macs/02:00:0a:00:00:05/owner-id", "123456789012"},
      {"network/interfaces/macs/02:00:0a:00:00:05/security-group-ids", "sg-0aaa1111\nsg-0bbb2222"},
      {"network/interfaces/macs/02:00:0a:00:00:05/security-groups", "default\nweb"},
      {"network/interfaces/macs/02:00:0a:00:00:05/subnet-id", "subnet-0123abcd"},
      {"network/interfaces/macs/02:00:0a:00:00:05/subnet-ipv4-cidr-block", "10.0.0.0/24"},
      {"network/interfaces/macs/02:00:0a:00:00:05/vpc-id", "vpc-0123abcd"},
      {"network/interfaces/macs/02:00:0a:00:00:05/vpc-ipv4-cidr-block", "10.0.0.0/16"},
      {"network/interfaces/macs/02:00:0a:00:00:05/vpc-ipv4-cidr-blocks", "10.0.0.0/16"},
      {"placement/availability-zone", "eu-west-1a"},
      {"placement/region", "eu-west-1"},
      {"profile", "default-hvm"},
      {"public-keys/0/openssh-key", testing::kTestKey},
      {"reservation-id", "r-0fedcba9876543210"},
      {"security-groups", "default\nweb"},
      {"services/domain", "amazonaws.com"},
      {"services/partition", "aws"},
  };
  for (const auto& [path, value] : leaves) {
    Check({.name = "leaf " + path,
           .target = "/latest/meta-data/" + path,
           .body = value,
           .expect_headers = kTextPlain});
  }
  const std::vector<Case> cases = {
      {.name = "leaf with trailing slash still answers",
       .target = "/latest/meta-data/instance-id/",
       .body = "i-0123456789abcdef0"},
      {.name = "empty segments are ignored",
       .target = "/latest//meta-data//instance-id",
       .body = "i-0123456789abcdef0"},
      {.name = "query string ignored",
       .target = "/latest/meta-data/instance-id?foo=bar",
       .body = "i-0123456789abcdef0"},
      {.name = "percent-encoded segment",
       .target = "/latest/meta-data/instance%2did",
       .body = "i-0123456789abcdef0"},
      {.name = "dated version serves the same leaf",
       .target = "/2009-04-04/meta-data/instance-id",
       .body = "i-0123456789abcdef0"},
      {.name = "placement group",
       .instance = [] { return MakeInstance().PlacementGroup("pg-1", 3).AzId("euw1-az1"); },
       .target = "/latest/meta-data/placement/group-name",
       .body = "pg-1"},
      {.name = "partition number",
       .instance = [] { return MakeInstance().PlacementGroup("pg-1", 3); },
       .target = "/latest/meta-data/placement/partition-number",
       .body = "3"},
      {.name = "availability zone id",
       .instance = [] { return MakeInstance().AzId("euw1-az1"); },
       .target = "/latest/meta-data/placement/availability-zone-id",
       .body = "euw1-az1"},
      {.name = "ephemeral0",
       .instance = [] { return MakeInstance().Ephemeral0("sdb"); },
       .target = "/latest/meta-data/block-device-mapping/ephemeral0",
       .body = "sdb"},
      {.name = "ephemeral1 at the name the mapping gave",
       .instance =
           [] {
             return MakeInstance().Ephemeral("ephemeral0", "sdb").Ephemeral("ephemeral1", "xvdf");
           },
       .target = "/latest/meta-data/block-device-mapping/ephemeral1",
       .body = "xvdf"},
      {.name = "tag value",
       .instance = [] { return MakeInstance().TagsInMetadata(true); },
       .target = "/latest/meta-data/tags/instance/Name",
       .body = "web-1"},
      {.name = "empty tag value",
       .instance = [] { return MakeInstance().TagsInMetadata(true); },
       .target = "/latest/meta-data/tags/instance/Empty",
       .body = ""},
      {.name = "region in 2021-03-23",
       .target = "/2021-03-23/meta-data/placement/region",
       .body = "eu-west-1"},
      {.name = "identity document",
       .target = "/latest/dynamic/instance-identity/document",
       .body = "{\"instanceId\" : \"i-0123456789abcdef0\"}",
       .expect_headers = kTextPlain},
      {.name = "identity signature",
       .target = "/latest/dynamic/instance-identity/signature",
       .body = "c2lnbmF0dXJl"},
      {.name = "identity pkcs7",
       .target = "/latest/dynamic/instance-identity/pkcs7",
       .body = "cGtjczc="},
      {.name = "identity rsa2048",
       .target = "/latest/dynamic/instance-identity/rsa2048",
       .body = "cnNhMjA0OA=="},
      {.name = "user-data is raw bytes, application/octet-stream",
       .instance = [] { return MakeInstance().UserData(std::string("\x00\x01\xff#!", 5)); },
       .target = "/latest/user-data",
       .body = std::string("\x00\x01\xff#!", 5),
       .expect_headers = {{"Content-Type", "application/octet-stream"}}},
      {.name = "user-data in a dated version",
       .target = "/2021-03-23/user-data",
       .body = "#cloud-config\nruncmd:\n - echo hello\n"},
  };
  for (const Case& c : cases) Check(c);
}

TEST_CASE("not found: unknown paths, absent data, version gating") {
  const std::vector<Case> cases = {
      {.name = "unknown version",
       .target = "/2099-01-01/meta-data/",
       .status = 404,
       .golden = "error_404.html",
       .expect_headers = kHtml},
      {.name = "unknown category", .target = "/latest/foo", .status = 404},
      {.name = "unknown key",
       .target = "/latest/meta-data/nope",
       .status = 404,
       .golden = "error_404.html"},
      {.name = "segment below a leaf", .target = "/latest/meta-data/instance-id/x", .status = 404},
      {.name = "no leading slash", .target = "latest/meta-data/", .status = 404},
      {.name = "asterisk-form", .target = "*", .status = 404},
      {.name = "bad percent escape", .target = "/latest/meta-data/%zz", .status = 404},
      {.name = "truncated percent escape", .target = "/latest/meta-data/%2", .status = 404},
      {.name = "parent segments are just names",
       .target = "/latest/meta-data/../user-data",
       .status = 404},
      {.name = "user-data absent",
       .instance = [] { return MakeInstance().UserData(std::nullopt); },
       .target = "/latest/user-data",
       .status = 404},
      {.name = "below user-data", .target = "/latest/user-data/x", .status = 404},
      {.name = "GET on the token path", .target = "/latest/api/token", .status = 404},
      {.name = "public key index out of range",
       .target = "/latest/meta-data/public-keys/1",
       .status = 404},
      {.name = "public key by name is not a path",
       .target = "/latest/meta-data/public-keys/0=test-key",
       .status = 404},
      {.name = "no keys: public-keys/ is 404",
       .instance = [] { return MakeInstance().NoKeys(); },
       .target = "/latest/meta-data/public-keys/",
       .status = 404},
      {.name = "tags disabled (default)",
       .target = "/latest/meta-data/tags/instance/Name",
       .status = 404},
      {.name = "tags/ disabled", .target = "/latest/meta-data/tags/", .status = 404},
      {.name = "tags enabled but version before 2021-03-23",
       .instance = [] { return MakeInstance().TagsInMetadata(true); },
       .target = "/2018-09-24/meta-data/tags/instance/Name",
       .status = 404},
      {.name = "unknown tag",
       .instance = [] { return MakeInstance().TagsInMetadata(true); },
       .target = "/latest/meta-data/tags/instance/Nope",
       .status = 404},
      {.name = "mac not in 2009-04-04", .target = "/2009-04-04/meta-data/mac", .status = 404},
      {.name = "network not in 2009-04-04",
       .target = "/2009-04-04/meta-data/network/interfaces/macs/",
       .status = 404},
      {.name = "region not in 2016-09-02",
       .target = "/2016-09-02/meta-data/placement/region",
       .status = 404},
      {.name = "instance-life-cycle not in 2018-09-24",
       .target = "/2018-09-24/meta-data/instance-life-cycle",
       .status = 404},
      {.name = "dynamic not in 1.0", .target = "/1.0/dynamic/", .status = 404},
      {.name = "unknown mac",
       .target = "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:01/",
       .status = 404},
      {.name = "no placement group: group-name 404",
       .target = "/latest/meta-data/placement/group-name",
       .status = 404},
      {.name = "no instance store: ephemeral0 404",
       .target = "/latest/meta-data/block-device-mapping/ephemeral0",
       .status = 404},
      {.name = "identity unsigned: dynamic/instance-identity 404",
       .instance = [] { return MakeInstance().Identity({}); },
       .target = "/latest/dynamic/instance-identity/document",
       .status = 404},
  };
  for (const Case& c : cases) Check(c);
}

TEST_CASE("HEAD answers like GET without a body") {
  const InstanceMetadata m = MakeInstance().Build();
  for (const std::string target : {"/", "/latest/meta-data/", "/latest/meta-data/instance-id",
                                   "/latest/user-data", "/latest/nope"}) {
    INFO(target);
    Request get{.method = "GET", .target = target};
    Request head{.method = "HEAD", .target = target};
    const Response g = Handle(get, &m, Authority(), kNow);
    const Response h = Handle(head, &m, Authority(), kNow);
    CHECK(h.status == g.status);
    CHECK(h.body.empty());
    REQUIRE(h.content_length.has_value());
    CHECK(*h.content_length == g.body.size());
    CHECK(std::string(*h.headers.Get("Content-Type")) ==
          std::string(*g.headers.Get("Content-Type")));
    CHECK_FALSE(g.content_length.has_value());
  }
  const InstanceMetadata req = MakeInstance().Tokens(HttpTokens::kRequired).Build();
  Request head{.method = "HEAD", .target = "/latest/meta-data/"};
  const Response r401 = Handle(head, &req, Authority(), kNow);
  CHECK(r401.status == 401);
  CHECK(r401.body.empty());

  // Found by fuzz_imds_handler: early refusals (unknown source, endpoint off) kept their body.
  const Response r403 = Handle(head, nullptr, Authority(), kNow);
  CHECK(r403.status == 403);
  CHECK(r403.body.empty());
  CHECK(r403.content_length == ErrorResponse(403).body.size());
  const InstanceMetadata off = MakeInstance().Endpoint(HttpEndpoint::kDisabled).Build();
  const Response off403 = Handle(head, &off, Authority(), kNow);
  CHECK(off403.status == 403);
  CHECK(off403.body.empty());
}

// Crawls every path of the tree the way cloud-init's MetadataMaterializer does and prints
// "path => value" lines: one golden file shows the whole tree a guest sees.
void Crawl(const InstanceMetadata& m, const std::string& url, std::vector<std::string>* out) {
  Request req{.method = "GET", .target = url};
  const Response r = Handle(req, &m, Authority(), kNow);
  REQUIRE(r.status == 200);
  for (absl::string_view line : absl::StrSplit(r.body, '\n', absl::SkipEmpty())) {
    std::string item(line);
    if (item.back() == '/') {
      Crawl(m, url + item, out);
      continue;
    }
    const size_t eq = item.find('=');
    if (eq != std::string::npos) {  // public-keys: "0=name" -> 0/openssh-key
      Crawl(m, url + item.substr(0, eq) + "/", out);
      continue;
    }
    Request leaf{.method = "GET", .target = url + item};
    const Response lr = Handle(leaf, &m, Authority(), kNow);
    REQUIRE(lr.status == 200);
    out->push_back(absl::StrCat(url, item, " => ", absl::StrReplaceAll(lr.body, {{"\n", "\\n"}})));
  }
}

TEST_CASE("whole tree per version (golden)") {
  const InstanceMetadata m = MakeInstance()
                                 .TagsInMetadata(true)
                                 .Ephemeral0("sdb")
                                 .PlacementGroup("pg-1", 2)
                                 .AzId("euw1-az1")
                                 .Build();
  for (const std::string version :
       {"latest", "2021-03-23", "2018-09-24", "2016-09-02", "2009-04-04", "1.0"}) {
    std::vector<std::string> lines;
    Crawl(m, "/" + version + "/meta-data/", &lines);
    if (version != "1.0") Crawl(m, "/" + version + "/dynamic/", &lines);
    std::string text;
    for (const auto& l : lines) absl::StrAppend(&text, l, "\n");
    CheckGolden("tree_" + version + ".txt", text);
  }
}

TEST_CASE("handler is total: odd request targets get their exact answer") {
  // Every odd target with GET, HEAD and PUT: GET answers exactly (status and body), HEAD the
  // same status and length without a body, PUT 403 (only PUT /latest/api/token issues tokens).
  const InstanceMetadata m = MakeInstance().Build();
  const std::string versions =
      ::minicloud::testing::ReadGoldenFile(testing::GoldenPath("versions.txt"));
  const std::string not_found =
      ::minicloud::testing::ReadGoldenFile(testing::GoldenPath("error_404.html"));
  const std::string forbidden =
      ::minicloud::testing::ReadGoldenFile(testing::GoldenPath("error_403.html"));
  REQUIRE_FALSE(versions.empty());
  REQUIRE_FALSE(not_found.empty());
  REQUIRE_FALSE(forbidden.empty());
  struct Odd {
    std::string target;
    int status;
    std::string body;  // of the GET
  };
  const std::vector<Odd> cases = {
      {"", 404, not_found},   // not a path
      {"/", 200, versions},   // the version list
      {"//", 200, versions},  // empty segments are ignored
      {"///latest///", 200, "dynamic\nmeta-data\nuser-data"},
      {"%", 404, not_found},                     // not a path
      {"/%", 404, not_found},                    // broken percent-encoding
      {"/latest/%00", 404, not_found},           // a NUL segment names nothing
      {std::string("/\0/", 3), 404, not_found},  // a raw NUL is not a version
      {"?", 404, not_found},                     // only a query: no path
      {"#", 404, not_found},                     // only a fragment: no path
      {"*", 404, not_found},                     // asterisk form: not a path
      {"1.2.3.4:80/", 404, not_found},           // no scheme (starts with a digit): not a path
      {"/latest/meta-data/" + std::string(10000, 'a'), 404, not_found},
  };
  for (const Odd& c : cases) {
    INFO("target '" << absl::CEscape(c.target.substr(0, 40)) << "'");
    const Response get = Handle({.method = "GET", .target = c.target}, &m, Authority(), kNow);
    CHECK(get.status == c.status);
    CHECK(get.body == c.body);
    const Response head = Handle({.method = "HEAD", .target = c.target}, &m, Authority(), kNow);
    CHECK(head.status == c.status);
    CHECK(head.body.empty());
    CHECK(head.content_length == c.body.size());
    const Response put = Handle({.method = "PUT", .target = c.target}, &m, Authority(), kNow);
    CHECK(put.status == 403);
    CHECK(put.body == forbidden);
  }
}

}  // namespace
}  // namespace minicloud::metadata
