// The identity document and its signatures, verified both in-process and with the openssl CLI
// exactly as the EC2 user guide tells users to (verify-signature.md, verify-pkcs7.md,
// verify-rsa2048.md).

#include "controller/identity/identity_signer.h"

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/metadata/golden.h"

namespace minicloud::metadata {
namespace {

using identity::BuildIdentityDocument;
using identity::IdentityFields;
using identity::IdentitySigner;
using identity::SignedDocument;
using identity::VerifyIdentityPkcs7;
using identity::VerifyIdentitySignature;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

IdentityFields Fields() {
  IdentityFields f;
  f.account_id = "123456789012";
  f.availability_zone = "eu-west-1a";
  f.image_id = "ami-0abcdef1234567890";
  f.instance_id = "i-0123456789abcdef0";
  f.instance_type = "t3.micro";
  f.pending_time = absl::FromUnixSeconds(1'700'000'123);
  f.private_ip = "10.0.0.5";
  f.region = "eu-west-1";
  return f;
}

// One signer for the whole binary: RSA-2048 generation takes a moment.
const IdentitySigner& Signer() {
  static const IdentitySigner s = *IdentitySigner::Generate(kNow);
  return s;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a shell command, returns {exit status, stdout+stderr}.
std::pair<int, std::string> Shell(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  return {WEXITSTATUS(rc), out};
}

TEST_CASE("identity document is EC2's layout (golden)") {
  const std::string doc = BuildIdentityDocument(Fields());
  testing::CheckGolden("identity_document.json", doc);
  CHECK(doc.back() == '}');
  const auto j = nlohmann::json::parse(doc);
  CHECK(j["accountId"] == "123456789012");
  CHECK(j["architecture"] == "x86_64");
  CHECK(j["availabilityZone"] == "eu-west-1a");
  CHECK(j["billingProducts"].is_null());
  CHECK(j["devpayProductCodes"].is_null());
  CHECK(j["marketplaceProductCodes"].is_null());
  CHECK(j["imageId"] == "ami-0abcdef1234567890");
  CHECK(j["instanceId"] == "i-0123456789abcdef0");
  CHECK(j["instanceType"] == "t3.micro");
  CHECK(j["kernelId"].is_null());
  CHECK(j["pendingTime"] == "2023-11-14T22:15:23Z");
  CHECK(j["privateIp"] == "10.0.0.5");
  CHECK(j["ramdiskId"].is_null());
  CHECK(j["region"] == "eu-west-1");
  CHECK(j["version"] == "2017-09-30");
  CHECK(j.size() == 15);
}

TEST_CASE("identity document escapes hostile strings") {
  IdentityFields f = Fields();
  f.instance_type = "t3\"micro\n\\";
  const auto j = nlohmann::json::parse(BuildIdentityDocument(f));
  CHECK(j["instanceType"] == "t3\"micro\n\\");
}

TEST_CASE("signatures verify in-process, tampering does not") {
  const SignedDocument id = *Signer().SignFields(Fields(), kNow);
  const std::string& cert = Signer().certificate_pem();
  CHECK(VerifyIdentitySignature(id.document, id.signature, cert).ok());
  CHECK(*VerifyIdentityPkcs7(id.pkcs7, cert) == id.document);
  CHECK(*VerifyIdentityPkcs7(id.rsa2048, cert) == id.document);

  std::string tampered = id.document;
  tampered[10] = tampered[10] == 'x' ? 'y' : 'x';
  CHECK(VerifyIdentitySignature(tampered, id.signature, cert).code() ==
        absl::StatusCode::kPermissionDenied);

  const IdentitySigner other = *IdentitySigner::Generate(kNow);
  CHECK_FALSE(VerifyIdentitySignature(id.document, id.signature, other.certificate_pem()).ok());
  CHECK_FALSE(VerifyIdentityPkcs7(id.pkcs7, other.certificate_pem()).ok());
  CHECK_FALSE(VerifyIdentityPkcs7("not base64 !!", cert).ok());
  CHECK_FALSE(VerifyIdentityPkcs7("AAAA", cert).ok());
  CHECK_FALSE(VerifyIdentitySignature(id.document, id.signature, "not a cert").ok());
}

TEST_CASE("pkcs7, rsa2048 and signature are PEM bodies: 64 columns, no armour, no final newline") {
  const SignedDocument id = *Signer().SignFields(Fields(), kNow);
  for (const std::string* s : {&id.pkcs7, &id.rsa2048, &id.signature}) {
    CHECK(s->find("-----") == std::string::npos);
    CHECK(s->back() != '\n');
    for (absl::string_view line : absl::StrSplit(*s, '\n')) CHECK(line.size() <= 64);
  }
  // RSA-2048: 256 signature bytes -> 344 base64 characters.
  std::string flat = id.signature;
  flat.erase(std::remove(flat.begin(), flat.end(), '\n'), flat.end());
  CHECK(flat.size() == 344);
}

TEST_CASE("openssl CLI verifies them the way the EC2 user guide does") {
  minicloud::testing::TempDir dir;
  const SignedDocument id = *Signer().SignFields(Fields(), kNow);
  WriteFile(dir / "document", id.document);
  WriteFile(dir / "certificate", Signer().certificate_pem());
  // signature: base64 -d > signature; openssl x509 -pubkey; openssl dgst -sha256 -verify
  WriteFile(dir / "signature.b64", id.signature);
  auto [rc1, out1] = Shell(absl::StrCat("cd ", dir.path(),
                                        " && base64 -d signature.b64 > signature"
                                        " && openssl x509 -pubkey -noout -in certificate > key"
                                        " && openssl dgst -sha256 -verify key -signature signature"
                                        " document"));
  INFO(out1);
  CHECK(rc1 == 0);
  CHECK(out1.find("Verified OK") != std::string::npos);

  // pkcs7 and rsa2048: armour added by the user ("echo BEGIN; curl; echo ''; echo END"), then
  // openssl smime -verify -in pkcs7 -inform PEM -certfile certificate -noverify | tee document
  for (const auto& [name, body] : {std::pair<std::string, std::string>{"pkcs7", id.pkcs7},
                                   std::pair<std::string, std::string>{"rsa2048", id.rsa2048}}) {
    WriteFile(dir / name,
              absl::StrCat("-----BEGIN PKCS7-----\n", body, "\n", "-----END PKCS7-----\n"));
    auto [rc, out] =
        Shell(absl::StrCat("cd ", dir.path(), " && openssl smime -verify -in ", name,
                           " -inform PEM -certfile certificate -noverify -out ", name, ".out"));
    INFO(name << ": " << out);
    CHECK(rc == 0);
    CHECK(out.find("Verification successful") != std::string::npos);
    CHECK(ReadFile(dir / (name + ".out")) == id.document);
  }

  // Tampered document fails the CLI too.
  WriteFile(dir / "document", id.document + " ");
  auto [rc3, out3] = Shell(absl::StrCat("cd ", dir.path(),
                                        " && openssl dgst -sha256 -verify key -signature "
                                        "signature document"));
  CHECK(rc3 != 0);
}

TEST_CASE("the embedded signing time is the injected clock") {
  minicloud::testing::TempDir dir;
  const SignedDocument id = *Signer().Sign("{}", absl::FromUnixSeconds(1'600'000'000));
  WriteFile(dir / "p7",
            absl::StrCat("-----BEGIN PKCS7-----\n", id.pkcs7, "\n-----END PKCS7-----\n"));
  auto [rc, out] = Shell(absl::StrCat("openssl cms -cmsout -print -inform PEM -in ", dir / "p7"));
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("UTCTIME:Sep 13 12:26:40 2020 GMT") != std::string::npos);
  CHECK(out.find("sha256") != std::string::npos);
}

TEST_CASE("LoadOrCreate persists the key and certificate") {
  minicloud::testing::TempDir dir;
  const std::string sub = dir / "identity";
  const IdentitySigner a = *IdentitySigner::LoadOrCreate(sub, kNow);
  struct stat st {};
  REQUIRE(::stat((sub + "/identity-key.pem").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((sub + "/identity-cert.pem").c_str(), &st) == 0);

  const IdentitySigner b = *IdentitySigner::LoadOrCreate(sub, kNow + absl::Hours(1));
  CHECK(b.certificate_pem() == a.certificate_pem());
  const SignedDocument id = *b.Sign("{\"x\" : 1}", kNow);
  CHECK(VerifyIdentitySignature(id.document, id.signature, a.certificate_pem()).ok());

  auto [rc, out] =
      Shell(absl::StrCat("openssl x509 -noout -subject -dates -in ", sub, "/identity-cert.pem"));
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("minicloud instance identity") != std::string::npos);

  SECTION("one file missing is an error, never an overwrite") {
    std::remove((sub + "/identity-cert.pem").c_str());
    const auto r = IdentitySigner::LoadOrCreate(sub, kNow);
    CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
    std::ifstream still(sub + "/identity-key.pem");
    CHECK(still.good());
  }
  SECTION("mismatched key and certificate are refused") {
    const IdentitySigner other = *IdentitySigner::Generate(kNow);
    CHECK_FALSE(IdentitySigner::FromPem(a.private_key_pem(), other.certificate_pem()).ok());
    CHECK(IdentitySigner::FromPem(a.private_key_pem(), a.certificate_pem()).ok());
    CHECK_FALSE(IdentitySigner::FromPem("garbage", a.certificate_pem()).ok());
  }
}

}  // namespace
}  // namespace minicloud::metadata
