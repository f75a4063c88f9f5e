// Joining on the controller (controller/service/host_enrollment.h) and its CA and files
// (controller/pki/). Each case names the one-line bug it catches.
#include "controller/service/host_enrollment.h"

#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/crypto/join_token.h"
#include "common/crypto/x509.h"
#include "controller/pki/certificate_authority.h"
#include "controller/pki/enrollment_files.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::controller {
namespace {

using testing::TempDir;

struct Fixture {
  TempDir dir;
  FakeClock clock{absl::FromUnixSeconds(1'800'000'000)};
  IdGenerator ids{11};
  std::string pki = dir / "pki";
  std::unique_ptr<CertificateAuthority> ca =
      std::move(*CertificateAuthority::OpenOrCreate(pki, clock.Now()));
  std::string token = *CreateJoinToken(pki, *ca);
  HostEnrollment enrollment{*ca, pki, clock, ids};
};

struct Agent {
  crypto::PkeyPtr key = std::move(*crypto::GenerateEcKey());
  v1::JoinRequest Request(const std::string& token, const std::string& host_id = "") const {
    v1::JoinRequest req;
    req.set_token(token);
    req.set_host_id(host_id);
    req.set_csr_pem(*crypto::MakeCsrPem(key.get(), "ignored-name"));
    return req;
  }
  std::string KeyHash() const { return *crypto::PublicKeySha256Hex(key.get()); }
};

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

TEST_CASE("enrollment: a join returns a client certificate naming a new host id", "[pki]") {
  Fixture f;
  Agent a;
  auto resp = f.enrollment.Join(a.Request(f.token));
  REQUIRE(resp.ok());
  CHECK(CheckId(IdKind::kHost, resp->host_id()).ok());
  CHECK(resp->ca_pem() == f.ca->ca_pem());
  auto cert = crypto::ParseCertificatePem(resp->certificate_pem());
  REQUIRE(cert.ok());
  // Bug: the common name taken from the request ("ignored-name") instead of the host id.
  CHECK(*crypto::CommonName(cert->get()) == resp->host_id());
  // Bug: the certificate issued for the CA's key, or a key other than the request's.
  CHECK(*crypto::CertificateKeySha256Hex(cert->get()) == a.KeyHash());
  // Bug: serverAuth left out (the controller could not accept it on the agent's port).
  CHECK(crypto::VerifyCertificate(cert->get(), f.ca->ca_certificate(), f.clock.Now(),
                                  crypto::KeyUsage::kHost)
            .ok());
  // Bug: the host id missing from the DNS names (the controller checks it as the server name).
  CHECK(X509_check_host(cert->get(), resp->host_id().c_str(), 0, 0, nullptr) == 1);
  CHECK(X509_check_host(cert->get(), kControllerClientName, 0, 0, nullptr) != 1);
  CHECK(f.enrollment.CheckHostKey(resp->host_id(), a.KeyHash()).ok());
  // Bug: the binding file world-readable (umask not applied).
  CHECK(ModeOf(f.pki + "/hosts/" + resp->host_id()) == 0600);
  CHECK(ModeOf(f.pki + "/ca.key") == 0600);
  CHECK(ModeOf(f.pki) == 0700);
}

TEST_CASE("certificate authority: the controller's client certificate is unlike a host's",
          "[pki]") {
  Fixture f;
  auto client = f.ca->IssueControllerClientCertificate(f.clock.Now());
  REQUIRE(client.ok());
  auto leaf = crypto::ParseCertificatePem(
      client->certificate_chain_pem.substr(0, client->certificate_chain_pem.find("-----END") + 25));
  REQUIRE(leaf.ok());
  CHECK(*crypto::CommonName(leaf->get()) == kControllerClientName);
  CHECK(crypto::VerifyCertificate(leaf->get(), f.ca->ca_certificate(), f.clock.Now(),
                                  crypto::KeyUsage::kClient)
            .ok());
  // Bug: serverAuth on the controller's client certificate (the mark agents tell it apart by).
  CHECK_FALSE(crypto::VerifyCertificate(leaf->get(), f.ca->ca_certificate(), f.clock.Now(),
                                        crypto::KeyUsage::kServer)
                  .ok());
  // Bug: a host certificate issued for any name (a host named like the controller).
  Agent a;
  CHECK(f.ca->IssueHostCertificate(a.key.get(), kControllerClientName, f.clock.Now())
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
}

// Bugs caught (one line each): the zone's name left out (the controller, which checks it,
// would refuse every handshake); clientAuth on it (a volume service could call another zone's
// service or an agent's port as a client); a name of the controller or a host id accepted
// (the certificate could answer for them); a zone that is no DNS label accepted.
TEST_CASE("certificate authority: a volume service certificate names its zone and serves only",
          "[pki]") {
  Fixture f;
  auto pair =
      f.ca->IssueVolumeServiceCertificate("home-1a", {"10.0.0.7", "nas.home.arpa"}, f.clock.Now());
  REQUIRE(pair.ok());
  auto leaf = crypto::ParseCertificatePem(
      pair->certificate_chain_pem.substr(0, pair->certificate_chain_pem.find("-----END") + 25));
  REQUIRE(leaf.ok());
  CHECK(*crypto::CommonName(leaf->get()) == "minicloud-volumed.home-1a");
  CHECK(X509_check_host(leaf->get(), "minicloud-volumed.home-1a", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(leaf->get(), "nas.home.arpa", 0, 0, nullptr) == 1);
  CHECK(X509_check_ip_asc(leaf->get(), "10.0.0.7", 0) == 1);
  CHECK(crypto::VerifyCertificate(leaf->get(), f.ca->ca_certificate(), f.clock.Now(),
                                  crypto::KeyUsage::kServer)
            .ok());
  CHECK_FALSE(crypto::VerifyCertificate(leaf->get(), f.ca->ca_certificate(), f.clock.Now(),
                                        crypto::KeyUsage::kClient)
                  .ok());
  for (const std::string& name :
       {std::string(kControllerServerName), std::string(kControllerClientName),
        std::string("h-0123abcd"), std::string("minicloud-volumed.home-1b")}) {
    INFO(name);
    CHECK(f.ca->IssueVolumeServiceCertificate("home-1a", {name}, f.clock.Now()).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
  for (const char* zone : {"", "Home-1a", "home 1a", "-home"}) {
    INFO(zone);
    CHECK(f.ca->IssueVolumeServiceCertificate(zone, {}, f.clock.Now()).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("enrollment: a host's NBD client certificate opens NBD and nothing else", "[pki]") {
  Fixture f;
  Agent host;
  auto joined = f.enrollment.Join(host.Request(f.token));
  REQUIRE(joined.ok());
  const std::string id = joined->host_id();
  Agent nbd;  // a key of its own
  v1::NbdClientCertificateRequest req;
  req.set_host_id(id);
  req.set_csr_pem(*crypto::MakeCsrPem(nbd.key.get(), id));
  auto resp = f.enrollment.IssueNbdClientCertificate(id, req);
  INFO(resp.status().ToString());
  REQUIRE(resp.ok());
  CHECK(resp->ca_pem() == f.ca->ca_pem());
  auto cert = crypto::ParseCertificatePem(resp->certificate_pem());
  REQUIRE(cert.ok());
  // Bug: the host id (or the request's name) as common name: the certificate would pass the
  // controller's host check and authenticate as the host.
  CHECK(*crypto::CommonName(cert->get()) == "nbd-client." + id);
  CHECK_FALSE(f.enrollment.CheckHostKey(*crypto::CommonName(cert->get()), nbd.KeyHash()).ok());
  CHECK(X509_check_host(cert->get(), id.c_str(), 0, 0, nullptr) != 1);
  // Bug: issued for another key than the request's.
  CHECK(*crypto::CertificateKeySha256Hex(cert->get()) == nbd.KeyHash());
  // Bug: serverAuth given too (kHost): it could then serve as a host's agent port.
  CHECK(crypto::VerifyCertificate(cert->get(), f.ca->ca_certificate(), f.clock.Now(),
                                  crypto::KeyUsage::kClient)
            .ok());
  CHECK_FALSE(crypto::VerifyCertificate(cert->get(), f.ca->ca_certificate(), f.clock.Now(),
                                        crypto::KeyUsage::kServer)
                  .ok());
  // Bug: a request for the host's identity key signed: QEMU's account would then hold the key
  // that authenticates the host to the controller.
  v1::NbdClientCertificateRequest identity;
  identity.set_host_id(id);
  identity.set_csr_pem(*crypto::MakeCsrPem(host.key.get(), id));
  CHECK(f.enrollment.IssueNbdClientCertificate(id, identity).status().code() ==
        absl::StatusCode::kInvalidArgument);
  // Bug: a malformed request or a name that is no host id signed anyway.
  v1::NbdClientCertificateRequest no_csr;
  CHECK(f.enrollment.IssueNbdClientCertificate(id, no_csr).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(f.ca->IssueNbdClientCertificate(nbd.key.get(), kControllerClientName, f.clock.Now())
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("enrollment: bad tokens are refused", "[pki]") {
  Fixture f;
  Agent a;
  auto token = crypto::ParseJoinToken(f.token);
  REQUIRE(token.ok());
  // Bug: the secret not checked at all.
  crypto::JoinToken wrong_secret = *token;
  wrong_secret.secret = std::string(64, '0');
  CHECK(f.enrollment.Join(a.Request(crypto::FormatJoinToken(wrong_secret))).status().code() ==
        absl::StatusCode::kPermissionDenied);
  // Bug: the CA hash in the token not compared with this controller's.
  crypto::JoinToken other_ca = *token;
  other_ca.ca_sha256 = std::string(64, 'b');
  CHECK(f.enrollment.Join(a.Request(crypto::FormatJoinToken(other_ca))).status().code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(f.enrollment.Join(a.Request("mcjoin1.nope")).status().code() ==
        absl::StatusCode::kInvalidArgument);
  // Bug: a malformed host id accepted and used as a file name under pki/hosts.
  CHECK(f.enrollment.Join(a.Request(f.token, "../ca.key")).status().code() ==
        absl::StatusCode::kInvalidArgument);
  v1::JoinRequest no_csr = a.Request(f.token);
  no_csr.set_csr_pem("garbage");
  CHECK(f.enrollment.Join(no_csr).status().code() == absl::StatusCode::kInvalidArgument);
  // A second token made later (`minicloud-controller join-token`) is valid too; the first stays.
  // Bug: CreateJoinToken overwriting the list instead of adding to it.
  const std::string second = *CreateJoinToken(f.pki, *f.ca);
  CHECK(f.enrollment.Join(a.Request(second)).ok());
  CHECK(f.enrollment.Join(Agent().Request(f.token)).ok());
}

TEST_CASE("enrollment: a host id is bound to the key it joined with", "[pki]") {
  Fixture f;
  Agent a, b;
  auto first = f.enrollment.Join(a.Request(f.token));
  REQUIRE(first.ok());
  const std::string id = first->host_id();
  // Bug: the binding not checked: another machine takes over a host by naming its id.
  CHECK(f.enrollment.Join(b.Request(f.token, id)).status().code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(f.enrollment.CheckHostKey(id, b.KeyHash()).code() == absl::StatusCode::kPermissionDenied);
  // The same key may fetch a new certificate for its id (a host that lost host.crt).
  auto again = f.enrollment.Join(a.Request(f.token, id));
  REQUIRE(again.ok());
  CHECK(again->host_id() == id);
  // An id the controller has not bound yet (a host that ran before mTLS) is kept.
  auto kept = f.enrollment.Join(b.Request(f.token, "h-0123456789abcdef0"));
  REQUIRE(kept.ok());
  CHECK(kept->host_id() == "h-0123456789abcdef0");
  // After an admin forgets the host, its old key is refused and a new key may take the id.
  REQUIRE(ForgetHost(f.pki, id).ok());
  // Bug: CheckHostKey accepting any key of a host without a binding.
  CHECK(f.enrollment.CheckHostKey(id, a.KeyHash()).code() == absl::StatusCode::kPermissionDenied);
  Agent c;
  CHECK(f.enrollment.Join(c.Request(f.token, id)).ok());
  CHECK(ForgetHost(f.pki, "h-ffffffff").code() == absl::StatusCode::kNotFound);
}

TEST_CASE("certificate authority: reopened as it was, never half-replaced", "[pki]") {
  TempDir dir;
  const absl::Time now = absl::Now();
  auto ca = CertificateAuthority::OpenOrCreate(dir / "pki", now);
  REQUIRE(ca.ok());
  // Bug: a new CA made at every start (every host certificate orphaned).
  auto again = CertificateAuthority::OpenOrCreate(dir / "pki", now);
  REQUIRE(again.ok());
  CHECK((*again)->ca_sha256() == (*ca)->ca_sha256());
  CHECK((*ca)->ca_sha256() == *crypto::CertificateSha256Hex((*ca)->ca_certificate()));
  auto server = (*ca)->IssueServerCertificate({"10.0.0.1", "ctl.example"}, now);
  REQUIRE(server.ok());
  auto leaf = crypto::ParseCertificatePem(
      server->certificate_chain_pem.substr(0, server->certificate_chain_pem.find("-----END") + 25));
  REQUIRE(leaf.ok());
  CHECK(X509_check_host(leaf->get(), kControllerServerName, 0, 0, nullptr) == 1);
  CHECK(X509_check_host(leaf->get(), "ctl.example", 0, 0, nullptr) == 1);
  CHECK(X509_check_ip_asc(leaf->get(), "10.0.0.1", 0) == 1);
  CHECK(crypto::VerifyCertificate(leaf->get(), (*ca)->ca_certificate(), now,
                                  crypto::KeyUsage::kServer)
            .ok());
  // The chain ends with the CA, so an agent can find the pinned certificate in it.
  CHECK(server->certificate_chain_pem.find((*ca)->ca_pem()) != std::string::npos);
  // Bug: a lost ca.crt silently replaced by a new CA.
  std::filesystem::remove(dir / "pki/ca.crt");
  CHECK(CertificateAuthority::OpenOrCreate(dir / "pki", now).status().code() ==
        absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace minicloud::controller
