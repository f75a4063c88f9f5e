// A crawler written to imitate the order of requests of cloud-init 22.4's Ec2 datasource, run
// against the REAL server on 127.0.0.1:0. It is not cloud-init: it is a C++ model of
// cloudinit/sources/DataSourceEc2.py and cloudinit/sources/helpers/ec2.py (tag 22.4), fast
// enough for the unit label. The conformance reference is stock cloud-init itself, which the
// e2e tests run in a Debian guest (tests/e2e/boot_lifecycle_test.sh). The imitated steps:
//
//  1. _maybe_fetch_api_token: PUT latest/api/token, X-aws-ec2-metadata-token-ttl-seconds: 21600
//  2. get_metadata_api_version: GET <v>/meta-data/instance-id for v in 2021-03-23, 2018-09-24,
//     2016-09-02; first 200 wins, else 2009-04-04
//  3. crawl_metadata: get_instance_userdata (404 -> ""), get_instance_metadata (tree
//     "meta-data/"), get_instance_identity (tree "dynamic/instance-identity", no slash)
//     - MetadataMaterializer._parse: lines ending in '/' are children; "0=name" leaves become
//       resource "0/openssh-key" named "name"; "security-credentials" skipped
//     - MetadataLeafDecoder: "{...}" parsed as JSON, multi-line -> list, else string
//     - url_helper.combine_url: '/'-joined, add-ons quoted with safe "/:"
//  4. _refresh_stale_aws_token_cb: a 401 clears the token; _get_headers PUTs a new one; retried.
// The crawl result is compared with a golden JSON file (cloud_init_order_crawl.json).

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "controller/identity/identity_signer.h"
#include "tests/unit/metadata/golden.h"
#include "tests/unit/metadata/http_client.h"
#include "tests/unit/metadata/identity_fields.h"
#include "tests/unit/metadata/instance_builder.h"
#include "tests/unit/metadata/server_fixture.h"

namespace minicloud::metadata {
namespace {

using json = nlohmann::json;
using testing::HttpConn;

struct HttpError {
  int code;
  std::string url;
};

// Imitates the parts of cloud-init's url_helper and DataSourceEc2 this sequence needs.
class CloudInitOrderCrawler {
 public:
  CloudInitOrderCrawler(std::string host, int port) : host_(std::move(host)), port_(port) {}

  // The token this crawler sends (empty: none yet); UseToken makes it send one it got elsewhere,
  // like a cloud-init whose cached token was issued by an earlier agent process.
  const std::string& token() const { return token_; }
  void UseToken(std::string token) { token_ = std::move(token); }

  // url_helper.combine_url
  static std::string CombineUrl(std::string url, const std::string& add_on) {
    if (!url.empty() && url.back() != '/') url += '/';
    for (unsigned char ch : add_on) {
      if (absl::ascii_isalnum(ch) || ch == '/' || ch == ':' || ch == '-' || ch == '_' ||
          ch == '.' || ch == '~') {
        url.push_back(static_cast<char>(ch));
      } else {
        absl::StrAppend(&url, "%", absl::Hex(ch, absl::kZeroPad2));
      }
    }
    return url;
  }

  // _refresh_api_token
  bool RefreshToken() {
    ++token_puts;
    HttpConn c(host_, port_);
    auto r =
        c.Request("PUT", "/latest/api/token", {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}});
    if (!r || r->status != 200) return false;
    token_ = r->body;
    return true;
  }

  // readurl with headers_cb=_get_headers, exception_cb=_refresh_stale_aws_token_cb, retries=5.
  // Throws HttpError for a final failure.
  std::string Read(const std::string& path) {
    for (int attempt = 0; attempt <= 5; ++attempt) {
      if (token_.empty() && !RefreshToken()) continue;
      HttpConn c(host_, port_);
      auto r = c.Request("GET", path,
                         {{"X-aws-ec2-metadata-token", token_},
                          {"User-Agent", "Cloud-Init/22.4"},
                          {"Accept-Encoding", "gzip, deflate"},
                          {"Accept", "*/*"},
                          {"Connection", "keep-alive"}});
      REQUIRE(r);
      ++requests;
      if (r->status == 200) return r->body;
      if (r->status == 401) {
        ++unauthorized;
        token_.clear();  // "Clearing cached Ec2 API token due to expiry"
        continue;
      }
      if (r->status == 404) throw HttpError{404, path};  // user-data: SKIP_USERDATA_CODES
    }
    throw HttpError{0, path};
  }

  // get_metadata_api_version
  std::string ApiVersion() {
    for (const std::string v : {"2021-03-23", "2018-09-24", "2016-09-02"}) {
      try {
        Read(absl::StrCat("/", v, "/meta-data/instance-id"));
        return v;
      } catch (const HttpError&) {
      }
    }
    return "2009-04-04";
  }

  // MetadataLeafDecoder
  static json DecodeLeaf(const std::string& blob) {
    if (blob.empty()) return "";
    const absl::string_view t = absl::StripAsciiWhitespace(blob);
    if (absl::StartsWith(t, "{") && absl::EndsWith(t, "}")) {
      json j = json::parse(blob, nullptr, /*allow_exceptions=*/false);
      if (!j.is_discarded()) return j;
    }
    if (blob.find('\n') != std::string::npos) {
      json list = json::array();
      for (absl::string_view line : absl::StrSplit(blob, '\n')) list.push_back(std::string(line));
      if (!list.empty() && list.back() == "") list.erase(list.end() - 1);  // splitlines()
      return list;
    }
    return blob;
  }

  // MetadataMaterializer._materialize
  json Materialize(const std::string& blob, const std::string& base_url) {
    std::vector<std::pair<std::string, std::string>> leaves;  // field -> resource
    std::vector<std::string> children;
    for (absl::string_view raw : absl::StrSplit(blob, '\n')) {
      const std::string field(absl::StripAsciiWhitespace(raw));
      std::string name(absl::StripSuffix(field, "/"));
      while (!name.empty() && name.back() == '/') name.pop_back();
      if (field.empty() || name.empty() || name == "security-credentials") continue;
      if (absl::EndsWith(field, "/")) {
        children.push_back(name);
        continue;
      }
      std::string resource = name;
      const size_t eq = field.find('=');
      int ident = 0;
      if (eq != std::string::npos && absl::SimpleAtoi(field.substr(0, eq), &ident)) {
        resource = absl::StrCat(ident, "/openssh-key");
        name = field.substr(eq + 1);
      }
      leaves.emplace_back(name, resource);
    }
    json out = json::object();
    for (const auto& c : children) {
      std::string child_url = CombineUrl(base_url, c);
      if (child_url.back() != '/') child_url += '/';
      out[c] = Materialize(Read(child_url), child_url);
    }
    for (const auto& [field, resource] : leaves) {
      if (out.contains(field)) continue;  // "Duplicate key found"
      out[field] = DecodeLeaf(Read(CombineUrl(base_url, resource)));
    }
    return out;
  }

  // crawl_metadata
  json Crawl() {
    json crawled;
    const std::string v = ApiVersion();
    crawled["_metadata_api_version"] = v;
    try {
      crawled["user-data"] = Read(absl::StrCat("/", v, "/user-data"));
    } catch (const HttpError& e) {
      REQUIRE(e.code == 404);
      crawled["user-data"] = "";
    }
    const std::string md = CombineUrl(CombineUrl("/" + v, ""), "meta-data/");
    crawled["meta-data"] = Materialize(Read(md), md);
    const std::string id = CombineUrl("/" + v, "dynamic/instance-identity");
    crawled["dynamic"]["instance-identity"] = Materialize(Read(id), id);
    return crawled;
  }

  int token_puts = 0;
  int unauthorized = 0;
  int requests = 0;

 private:
  std::string host_;
  int port_;
  std::string token_;
};

TEST_CASE("cloud-init-order crawler: IMDSv2 crawl of the real server, in cloud-init 22.4's order") {
  const absl::Time launch = absl::FromUnixSeconds(1'700'000'000);
  const identity::IdentitySigner signer = *identity::IdentitySigner::Generate(launch);
  InstanceMetadata m = testing::MakeInstance()
                           .Tokens(HttpTokens::kRequired)
                           .TagsInMetadata(true)
                           .Ephemeral0("sdb")
                           .PlacementGroup("pg-1", 2)
                           .Build();
  m.identity =
      testing::ToIdentityDocument(*signer.SignFields(testing::IdentityFieldsOf(m), launch));
  auto shared = std::make_shared<const InstanceMetadata>(m);
  testing::ServerFixture f({{"127.0.0.1", shared}});
  REQUIRE(f.start_status().ok());

  CloudInitOrderCrawler ci(f.host(), f.port());
  REQUIRE(ci.RefreshToken());  // _maybe_fetch_api_token
  const json crawled = ci.Crawl();
  CHECK(ci.token_puts == 1);
  CHECK(ci.unauthorized == 0);

  CHECK(crawled["_metadata_api_version"] == "2021-03-23");
  CHECK(crawled["user-data"] == *m.user_data);
  const json& md = crawled["meta-data"];
  CHECK(md["instance-id"] == m.instance_id);
  CHECK(md["public-keys"]["test-key"] == testing::kTestKey);
  CHECK(md["network"]["interfaces"]["macs"][m.mac]["local-ipv4s"] == "10.0.0.5");
  CHECK(md["security-groups"] == json::array({"default", "web"}));
  CHECK(md["tags"]["instance"]["Name"] == "web-1");
  CHECK(md["block-device-mapping"]["ephemeral0"] == "sdb");
  const json& identity = crawled["dynamic"]["instance-identity"];
  CHECK(identity["document"]["instanceId"] == m.instance_id);
  CHECK(identity["document"]["privateIp"] == "10.0.0.5");
  CHECK(identity["document"]["region"] == "eu-west-1");
  // The signatures crawled are the ones that verify.
  CHECK(identity::VerifyIdentitySignature(m.identity.document, m.identity.signature,
                                          signer.certificate_pem())
            .ok());

  // The golden file holds the crawl minus the signature blobs (random per key).
  json stable = crawled;
  for (const char* k : {"pkcs7", "rsa2048", "signature"}) {
    CHECK(stable["dynamic"]["instance-identity"][k].is_array());  // multi-line base64
    stable["dynamic"]["instance-identity"][k] = "<signed>";
  }
  testing::CheckGolden("cloud_init_order_crawl.json", stable.dump(2) + "\n");

  SECTION("expired token: 401, the crawler drops it, PUTs a new one, carries on") {
    f.clock().Advance(absl::Seconds(21600));
    CHECK(ci.Read("/2021-03-23/meta-data/instance-id") == m.instance_id);
    CHECK(ci.unauthorized == 1);
    CHECK(ci.token_puts == 2);
    const ServedEvent e401 = f.WaitFor([](const ServedEvent& e) { return e.status == 401; });
    CHECK(e401.method == "GET");
    // The whole crawl works again with the new token.
    CHECK(ci.Crawl()["meta-data"] == md);
  }
  SECTION("agent restart (new key): the old token gets 401, then recovery") {
    // A new server process has a new token key: the token the crawler holds from the first
    // server is sent, refused with 401, dropped, and a fresh PUT makes the read succeed.
    testing::ServerFixture g({{"127.0.0.1", shared}}, testing::ServerFixture::DefaultOptions(),
                             std::string(32, 'n'));
    REQUIRE(g.start_status().ok());
    const std::string old_token = ci.token();
    REQUIRE_FALSE(old_token.empty());
    CloudInitOrderCrawler moved(g.host(), g.port());
    moved.UseToken(old_token);
    CHECK(moved.Read("/latest/meta-data/instance-id") == m.instance_id);
    CHECK(moved.unauthorized == 1);
    CHECK(moved.token_puts == 1);
    CHECK(moved.token() != old_token);
    const std::vector<ServedEvent> events = g.WaitForEvents(3);
    REQUIRE(events.size() == 3);
    CHECK(events[0].method == "GET");
    CHECK(events[0].status == 401);
    CHECK(events[1].method == "PUT");
    CHECK(events[1].status == 200);
    CHECK(events[2].method == "GET");
    CHECK(events[2].status == 200);
  }
}

TEST_CASE("cloud-init-order crawler: token first, then 2021-03-23 answers the version probe") {
  testing::ServerFixture f({{"127.0.0.1", testing::MakeInstance().Shared()}});
  REQUIRE(f.start_status().ok());
  CloudInitOrderCrawler ci(f.host(), f.port());
  CHECK(ci.ApiVersion() == "2021-03-23");
  const std::vector<ServedEvent> events = f.events();
  REQUIRE_FALSE(events.empty());
  CHECK(events.front().target == "/latest/api/token");
}

}  // namespace
}  // namespace minicloud::metadata
