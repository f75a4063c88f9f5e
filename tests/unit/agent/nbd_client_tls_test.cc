// The host's NBD client credentials on disk (agent/runtime/nbd_client_tls.h): what the agent
// keeps and what makes it ask the controller again. Each case names the one-line bug it catches.
#include "agent/runtime/nbd_client_tls.h"

#include <catch2/catch.hpp>
#include <string>

#include "common/crypto/join_token.h"
#include "common/crypto/x509.h"
#include "common/storage/nbd_tls.h"
#include "controller/pki/certificate_authority.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::agent {
namespace {

constexpr char kHost[] = "h-0123456789abcdef0";

struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<controller::CertificateAuthority> ca =
      std::move(*controller::CertificateAuthority::OpenOrCreate(dir / "pki", absl::Now()));
  crypto::PkeyPtr host_key = std::move(*crypto::GenerateEcKey());
  HostCredentials host{.host_id = kHost,
                       .key_pem = *crypto::PrivateKeyPem(host_key.get()),
                       .certificate_pem = "",
                       .ca_pem = ca->ca_pem()};
  std::string state = dir / "state";

  // Writes the client credentials of `key` with a certificate `ca` issued for `host_id`.
  void Write(EVP_PKEY* key, const std::string& host_id,
             const controller::CertificateAuthority& issuer) {
    auto cert = issuer.IssueNbdClientCertificate(key, host_id, absl::Now());
    REQUIRE(cert.ok());
    REQUIRE(storage::WriteQemuTlsDir(NbdClientTlsDir(state), storage::QemuTlsEndpoint::kClient,
                                     {.ca_pem = ca->ca_pem(),
                                      .certificate_pem = *cert,
                                      .key_pem = *crypto::PrivateKeyPem(key)})
                .ok());
  }
};

TEST_CASE("NBD client credentials: kept only when of this host, its own key and the CA",
          "[nbd_tls]") {
  Fixture f;
  // Nothing yet: ask.
  CHECK(CheckNbdClientCredentials(f.state, f.host, absl::Now()).code() ==
        absl::StatusCode::kNotFound);
  auto own = crypto::GenerateEcKey();
  REQUIRE(own.ok());
  f.Write(own->get(), kHost, *f.ca);
  CHECK(CheckNbdClientCredentials(f.state, f.host, absl::Now()).ok());

  // Bug: another host's certificate kept (its name is what a volume service could check).
  f.Write(own->get(), "h-0fedcba9876543210", *f.ca);
  CHECK_FALSE(CheckNbdClientCredentials(f.state, f.host, absl::Now()).ok());
  // Bug: the host's identity key given to QEMU's account.
  f.Write(f.host_key.get(), kHost, *f.ca);
  CHECK_FALSE(CheckNbdClientCredentials(f.state, f.host, absl::Now()).ok());
  // Bug: a certificate of another CA kept (every volume service would refuse it).
  testing::TempDir other_dir;
  auto other = controller::CertificateAuthority::OpenOrCreate(other_dir / "pki", absl::Now());
  REQUIRE(other.ok());
  f.Write(own->get(), kHost, **other);
  CHECK_FALSE(CheckNbdClientCredentials(f.state, f.host, absl::Now()).ok());
  // Bug: an expired certificate kept.
  f.Write(own->get(), kHost, *f.ca);
  CHECK_FALSE(
      CheckNbdClientCredentials(f.state, f.host, absl::Now() + absl::Hours(24 * 365 * 11)).ok());
}

}  // namespace
}  // namespace minicloud::agent
