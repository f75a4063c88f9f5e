// IMDS iam/: the listing, iam/info and iam/security-credentials/<role> as EC2 serves them
// (golden files tests/golden/metadata/iam_*), present only once the agent holds credentials.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "agent/metadata/handler.h"
#include "tests/unit/metadata/golden.h"
#include "tests/unit/metadata/instance_builder.h"

namespace minicloud::metadata {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

const TokenAuthority& Authority() {
  static const TokenAuthority a = *TokenAuthority::WithKey(std::string(32, 'k'));
  return a;
}

InstanceMetadata WithProfile(bool with_credentials) {
  InstanceMetadata m = testing::MakeInstance().Build();
  m.iam = IamProfile{"arn:aws:iam::123456789012:instance-profile/web", "AIPAABCDEFGHIJKLMNOPQ",
                     "web-role", std::nullopt};
  if (with_credentials) {
    m.iam->credentials =
        IamCredentials{"ASIAABCDEFGHIJKLMNOP", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                       "dG9rZW4=", kNow, kNow + absl::Hours(1)};
  }
  return m;
}

Response Get(const InstanceMetadata& m, const std::string& path) {
  Request req;
  req.method = "GET";
  req.target = path;
  return Handle(req, &m, Authority(), kNow);
}

TEST_CASE("iam/: listings and documents as EC2 (golden)") {
  const InstanceMetadata m = WithProfile(true);
  // Bug: iam/ missing from meta-data/, or listed without its slash.
  testing::CheckGolden("meta-data_latest_iam.txt", Get(m, "/latest/meta-data/").body);
  testing::CheckGolden("iam_listing.txt", Get(m, "/latest/meta-data/iam/").body);
  CHECK(Get(m, "/latest/meta-data/iam").body == Get(m, "/latest/meta-data/iam/").body);
  // botocore reads the role name from this listing (first line).
  Response roles = Get(m, "/latest/meta-data/iam/security-credentials/");
  CHECK(roles.status == 200);
  CHECK(roles.body == "web-role");
  testing::CheckGolden("iam_info.json", Get(m, "/latest/meta-data/iam/info").body);
  testing::CheckGolden("iam_security_credentials.json",
                       Get(m, "/latest/meta-data/iam/security-credentials/web-role").body);
}

TEST_CASE("iam/ documents are the JSON botocore's IMDS fetcher expects") {
  const InstanceMetadata m = WithProfile(true);
  auto creds =
      nlohmann::json::parse(Get(m, "/latest/meta-data/iam/security-credentials/web-role").body);
  // botocore.utils.InstanceMetadataFetcher._contains_all_credential_fields.
  CHECK(creds.at("AccessKeyId") == "ASIAABCDEFGHIJKLMNOP");
  CHECK(creds.at("SecretAccessKey") == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  CHECK(creds.at("Token") == "dG9rZW4=");
  // Bug: expiration in local time or with fractions botocore's parser rejects.
  CHECK(creds.at("Expiration") == "2023-11-14T23:13:20Z");
  CHECK(creds.at("LastUpdated") == "2023-11-14T22:13:20Z");
  CHECK(creds.at("Type") == "AWS-HMAC");
  CHECK(creds.at("Code") == "Success");
  auto info = nlohmann::json::parse(Get(m, "/latest/meta-data/iam/info").body);
  CHECK(info.at("InstanceProfileArn") == "arn:aws:iam::123456789012:instance-profile/web");
  CHECK(info.at("InstanceProfileId") == "AIPAABCDEFGHIJKLMNOPQ");
}

TEST_CASE("iam/ is absent without a profile, before credentials, and before 2012-01-12") {
  // Bug: serving an empty role (clients would sign with empty keys) or iam/ for every instance.
  const InstanceMetadata none = testing::MakeInstance().Build();
  CHECK(Get(none, "/latest/meta-data/iam/").status == 404);
  CHECK(Get(none, "/latest/meta-data/").body.find("iam/") == std::string::npos);
  const InstanceMetadata pending = WithProfile(false);
  CHECK(Get(pending, "/latest/meta-data/iam/security-credentials/").status == 404);
  const InstanceMetadata with = WithProfile(true);
  CHECK(Get(with, "/2011-05-01/meta-data/iam/info").status == 404);
  CHECK(Get(with, "/2012-01-12/meta-data/iam/info").status == 200);
  // Another role name is not served.
  CHECK(Get(with, "/latest/meta-data/iam/security-credentials/admin").status == 404);
}

TEST_CASE("a bad role name is refused before it is published") {
  InstanceMetadata m = WithProfile(true);
  m.iam->role_name = "../etc";
  CHECK_FALSE(ValidateInstanceMetadata(m).ok());
  m.iam->role_name = "";
  CHECK_FALSE(ValidateInstanceMetadata(m).ok());
  m.iam->role_name = "web-role+ok=,.@_";
  CHECK(ValidateInstanceMetadata(m).ok());
}

}  // namespace
}  // namespace minicloud::metadata
