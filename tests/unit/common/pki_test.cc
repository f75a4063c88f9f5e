// X.509 issuing and checking (common/crypto/x509.h) and join tokens (common/crypto/join_token.h).
// Each case names the one-line bug it catches.
#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "common/crypto/join_token.h"
#include "common/crypto/x509.h"

namespace minicloud::crypto {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
const std::string kHash(64, 'a');

struct Ca {
  PkeyPtr key;
  X509Ptr cert;
};

Ca MakeCa(const std::string& name) {
  Ca ca;
  ca.key = std::move(*GenerateEcKey());
  CertificateSpec spec{.common_name = name,
                       .usage = KeyUsage::kCa,
                       .not_before = kNow - absl::Hours(1),
                       .not_after = kNow + absl::Hours(24 * 365)};
  ca.cert = std::move(*IssueCertificate(spec, ca.key.get(), nullptr, ca.key.get()));
  return ca;
}

X509Ptr Issue(const Ca& ca, EVP_PKEY* key, const std::string& cn, KeyUsage usage,
              absl::Duration life = absl::Hours(24)) {
  CertificateSpec spec{.common_name = cn,
                       .usage = usage,
                       .not_before = kNow - absl::Hours(1),
                       .not_after = kNow + life};
  auto cert = IssueCertificate(spec, key, ca.cert.get(), ca.key.get());
  REQUIRE(cert.ok());
  return std::move(*cert);
}

TEST_CASE("join token: format and parse round trip", "[pki]") {
  auto token = NewJoinToken(kHash);
  REQUIRE(token.ok());
  const std::string text = FormatJoinToken(*token);
  CHECK(text.rfind("mcjoin1.", 0) == 0);
  CHECK(text.size() == 8 + 64 + 1 + 64);
  // Bug: trailing newline of a token file not stripped.
  auto parsed = ParseJoinToken("  " + text + "\n");
  REQUIRE(parsed.ok());
  CHECK(parsed->secret == token->secret);
  CHECK(parsed->ca_sha256 == kHash);
  // Bug: two tokens share a secret (no randomness).
  CHECK(NewJoinToken(kHash)->secret != token->secret);
}

TEST_CASE("join token: malformed tokens are refused without echoing the secret", "[pki]") {
  const std::string secret(64, '1');
  struct Case {
    const char* name;
    std::string text;
  };
  // Each would be accepted by a parser missing one check.
  const std::vector<Case> cases = {
      {"empty", ""},
      {"other prefix", absl::StrCat("mcjoin2.", secret, ".", kHash)},
      {"two parts", absl::StrCat("mcjoin1.", secret)},
      {"four parts", absl::StrCat("mcjoin1.", secret, ".", kHash, ".x")},
      {"short secret", absl::StrCat("mcjoin1.", secret.substr(1), ".", kHash)},
      {"uppercase secret", absl::StrCat("mcjoin1.", std::string(64, 'A'), ".", kHash)},
      {"non-hex CA hash", absl::StrCat("mcjoin1.", secret, ".", std::string(64, 'g'))},
      {"short CA hash", absl::StrCat("mcjoin1.", secret, ".", kHash.substr(2))},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto parsed = ParseJoinToken(c.text);
    CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(parsed.status().message().find(secret) == std::string::npos);
  }
}

TEST_CASE("join token: secret hashes compare exactly", "[pki]") {
  const std::string a = JoinSecretHash(std::string(64, '1'));
  CHECK(a.size() == 64);
  CHECK(SameSecretHash(a, JoinSecretHash(std::string(64, '1'))));
  // Bug: comparing only a prefix, or treating a shorter string as equal.
  CHECK_FALSE(SameSecretHash(a, JoinSecretHash(std::string(64, '2'))));
  CHECK_FALSE(SameSecretHash(a, a.substr(0, 63)));
  CHECK_FALSE(SameSecretHash(a, ""));
}

TEST_CASE("certificates: a host certificate verifies against its CA only", "[pki]") {
  const Ca ca = MakeCa("ca one");
  const Ca other = MakeCa("ca two");
  auto key = GenerateEcKey();
  REQUIRE(key.ok());
  X509Ptr cert = Issue(ca, key->get(), "h-0123456789abcdef0", KeyUsage::kClient);
  CHECK(VerifyCertificate(cert.get(), ca.cert.get(), kNow, KeyUsage::kClient).ok());
  CHECK(*CommonName(cert.get()) == "h-0123456789abcdef0");
  // Bug: the trusted store also trusting the system roots or the cert's own issuer name.
  CHECK(VerifyCertificate(cert.get(), other.cert.get(), kNow).code() ==
        absl::StatusCode::kPermissionDenied);
  // Bug: validity period not checked (X509_VERIFY_PARAM_set_time forgotten).
  CHECK(VerifyCertificate(cert.get(), ca.cert.get(), kNow + absl::Hours(48)).code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(VerifyCertificate(cert.get(), ca.cert.get(), kNow - absl::Hours(2)).code() ==
        absl::StatusCode::kPermissionDenied);
  // Bug: a client certificate usable as the controller's server certificate.
  CHECK(VerifyCertificate(cert.get(), ca.cert.get(), kNow, KeyUsage::kServer).code() ==
        absl::StatusCode::kPermissionDenied);
  // Bug: a leaf certificate able to act as a CA for another (no CA:FALSE).
  auto key2 = GenerateEcKey();
  Ca fake{.key = std::move(*key), .cert = std::move(cert)};
  X509Ptr grandchild = Issue(fake, key2->get(), "h-ffffffff", KeyUsage::kClient);
  CHECK(VerifyCertificate(grandchild.get(), ca.cert.get(), kNow).code() ==
        absl::StatusCode::kPermissionDenied);
}

TEST_CASE("certificates: PEM round trip and hashes", "[pki]") {
  const Ca ca = MakeCa("ca");
  auto pem = CertificatePem(ca.cert.get());
  REQUIRE(pem.ok());
  auto back = ParseCertificatePem(*pem);
  REQUIRE(back.ok());
  CHECK(*CertificateSha256Hex(back->get()) == *CertificateSha256Hex(ca.cert.get()));
  CHECK(*CertificateKeySha256Hex(back->get()) == *PublicKeySha256Hex(ca.key.get()));
  // Bug: a second certificate appended to the file silently ignored.
  CHECK(ParseCertificatePem(*pem + *pem).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseCertificatePem("junk").status().code() == absl::StatusCode::kInvalidArgument);
  auto key_pem = PrivateKeyPem(ca.key.get());
  REQUIRE(key_pem.ok());
  auto key = ParsePrivateKeyPem(*key_pem);
  REQUIRE(key.ok());
  CHECK(*PublicKeySha256Hex(key->get()) == *PublicKeySha256Hex(ca.key.get()));
}

TEST_CASE("certificate requests: the signature proves the key", "[pki]") {
  auto key = GenerateEcKey();
  REQUIRE(key.ok());
  auto csr = MakeCsrPem(key->get(), "h-01234567");
  REQUIRE(csr.ok());
  auto pub = CsrPublicKey(*csr);
  REQUIRE(pub.ok());
  CHECK(*PublicKeySha256Hex(pub->get()) == *PublicKeySha256Hex(key->get()));
  // Bug: X509_REQ_verify skipped: a request for someone else's public key is accepted. Flip one
  // base64 character in the body (the signature sits at the end).
  std::string bad = *csr;
  const size_t end = bad.find("-----END");
  size_t i = end - 10;
  bad[i] = bad[i] == 'A' ? 'B' : 'A';
  CHECK_FALSE(CsrPublicKey(bad).ok());
  CHECK(CsrPublicKey("not a request").status().code() == absl::StatusCode::kInvalidArgument);
  // Bug: any key type accepted (an RSA-512 key would be).
  PkeyPtr rsa(EVP_RSA_gen(1024));
  REQUIRE(rsa);
  auto rsa_csr = MakeCsrPem(rsa.get(), "h-01234567");
  REQUIRE(rsa_csr.ok());
  CHECK(CsrPublicKey(*rsa_csr).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace minicloud::crypto
