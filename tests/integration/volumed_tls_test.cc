// minicloud-volumed's VolumeService over real mutual TLS on loopback (SECURITY.md, "The volume
// service"): only the controller's client certificate from the controller's CA gets in, the
// controller talks only to the zone's service, and the daemon will not serve plain text where
// others can reach it. The real binary; skipped without qemu-storage-daemon where it must start.
// Each case names the one-line bug it catches.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "common/crypto/join_token.h"
#include "common/crypto/x509.h"
#include "common/file/file_util.h"
#include "common/process/spawn.h"
#include "controller/pki/certificate_authority.h"
#include "controller/volumes/grpc_volume_service_client.h"
#include "tests/testing/nbd_io.h"
#include "tests/testing/run_expecting_exit.h"
#include "tests/testing/skip.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/volumed_process.h"

namespace minicloud {
namespace {

namespace v1 = minicloud::volume::v1;
using testing::VolumedProcess;

constexpr char kZone[] = "home-1a";

bool Have(const std::string& p) { return process::ResolveProgram(p).ok(); }

void SkipWithoutQemu() {
  MC_SKIP_UNLESS(Have("qemu-storage-daemon"), "qemu-storage-daemon not found");
  MC_SKIP_UNLESS(Have("qemu-img"), "qemu-img not found");
}

std::unique_ptr<controller::CertificateAuthority> NewCa(const std::string& dir) {
  auto ca = controller::CertificateAuthority::OpenOrCreate(dir, absl::Now());
  REQUIRE(ca.ok());
  return *std::move(ca);
}

// The status code of GetVolumeServiceStatus through `stub`: OK means the call reached the
// service.
grpc::StatusCode StatusCall(v1::VolumeService::Stub& stub) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::VolumeServiceStatus status;
  grpc::Status s = stub.GetVolumeServiceStatus(&ctx, v1::GetVolumeServiceStatusRequest(), &status);
  UNSCOPED_INFO("rpc: " << s.error_code() << " " << s.error_message());
  return s.error_code();
}

// A caller's side made of a fresh key and a certificate of `spec` that `ca` signed (valid for
// an hour from now, whatever `spec` says).
controller::VolumeServiceTls Issue(const controller::CertificateAuthority& ca,
                                   const std::string& ca_dir, crypto::CertificateSpec spec) {
  auto ca_key = crypto::ParsePrivateKeyPem([&] {
    std::ifstream in(ca_dir + "/ca.key");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }());
  REQUIRE(ca_key.ok());
  auto key = crypto::GenerateEcKey();
  REQUIRE(key.ok());
  spec.not_before = absl::Now() - absl::Hours(1);
  spec.not_after = absl::Now() + absl::Hours(1);
  auto cert = crypto::IssueCertificate(spec, key->get(), ca.ca_certificate(), ca_key->get());
  REQUIRE(cert.ok());
  return {.ca_pem = ca.ca_pem(),
          .certificate_chain_pem = *crypto::CertificatePem(cert->get()),
          .private_key_pem = *crypto::PrivateKeyPem(key->get())};
}

// minicloud-volumed (or another binary of the build) expected to exit within 20 s.
std::pair<int, std::string> RunExpectingExit(const std::string& binary,
                                             const std::vector<std::string>& args) {
  return testing::RunExpectingExit(binary, args, std::chrono::seconds(20));
}

TEST_CASE("volumed TLS: only the controller's client certificate is let in",
          "[integration][mtls]") {
  SkipWithoutQemu();
  testing::TempDir dir;
  auto ca = NewCa(dir / "pki");
  VolumedProcess d(dir / "state", "127.0.0.1:0", "127.0.0.1:0", kZone,
                   testing::MakeVolumedTls(*ca, kZone, dir / "tls"));
  // The reference: the controller's client certificate reaches the service.
  REQUIRE(StatusCall(d.stub()) == grpc::StatusCode::OK);

  // Bug: the VolumeService served with InsecureServerCredentials again (plain text answered).
  CHECK(StatusCall(*d.Stub(std::nullopt)) == grpc::StatusCode::UNAVAILABLE);
  // Bug: GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY instead of ..._REQUIRE_...: TLS without
  // a client certificate would complete the handshake.
  CHECK(StatusCall(*d.Stub(controller::VolumeServiceTls{.ca_pem = ca->ca_pem()})) ==
        grpc::StatusCode::UNAVAILABLE);
  // Bug: the AuthMetadataProcessor not installed: a host's certificate of the same CA (every
  // agent host has one) would create, export and delete volumes.
  crypto::CertificateSpec host{.common_name = "h-0123456789abcdef0",
                               .dns_names = {"h-0123456789abcdef0"},
                               .usage = crypto::KeyUsage::kHost,
                               .not_before = {},
                               .not_after = {}};
  CHECK(StatusCall(*d.Stub(Issue(*ca, dir / "pki", host))) == grpc::StatusCode::PERMISSION_DENIED);
  // Bug: the check of the caller looking at the common name only: the controller's name with
  // serverAuth (the mark of host certificates) is refused.
  crypto::CertificateSpec named{.common_name = crypto::kControllerClientName,
                                .usage = crypto::KeyUsage::kHost,
                                .not_before = {},
                                .not_after = {}};
  CHECK(StatusCall(*d.Stub(Issue(*ca, dir / "pki", named))) == grpc::StatusCode::PERMISSION_DENIED);
  // Bug: client certificates requested without _AND_VERIFY (any chain accepted): the controller's
  // client certificate from another CA fails the handshake.
  auto other = NewCa(dir / "other-pki");
  auto forged = other->IssueControllerClientCertificate(absl::Now());
  REQUIRE(forged.ok());
  CHECK(StatusCall(*d.Stub(controller::VolumeServiceTls{
            .ca_pem = ca->ca_pem(),
            .certificate_chain_pem = forged->certificate_chain_pem,
            .private_key_pem = forged->private_key_pem})) == grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("volumed TLS: the controller talks only to the zone's service of its CA",
          "[integration][mtls]") {
  SkipWithoutQemu();
  testing::TempDir dir;
  auto ca = NewCa(dir / "pki");
  VolumedProcess d(dir / "state", "127.0.0.1:0", "127.0.0.1:0", kZone,
                   testing::MakeVolumedTls(*ca, kZone, dir / "tls"));
  // The reference: the controller's client with the zone and its CA.
  auto served = controller::ProbeVolumeServiceZone(d.client_options(absl::Seconds(5)));
  INFO(served.status().ToString());
  REQUIRE(served.ok());
  CHECK(*served == kZone);
  CHECK(controller::MakeGrpcVolumeServiceClient(d.client_options(absl::Seconds(5)))
            ->GetState()
            .reachable);

  // Bug: the channel without SetSslTargetNameOverride(VolumeServiceName(zone)) (the address's
  // name checked instead; the certificate names 127.0.0.1): home-1a's service would be taken
  // for home-1b's and hold its volumes.
  auto as_other_zone = d.client_options(absl::Seconds(5));
  as_other_zone.zone = "home-1b";
  CHECK(controller::ProbeVolumeServiceZone(as_other_zone).status().code() ==
        absl::StatusCode::kUnavailable);
  controller::VolumeSpec spec;
  spec.volume_id = "vol-0123456789abcdef0";
  spec.size_gib = 1;
  auto create = controller::MakeGrpcVolumeServiceClient(as_other_zone)->CreateVolume(spec);
  CHECK(create.code() == absl::StatusCode::kUnavailable);

  // Bug: the controller trusting any chain (or the system's roots): a service whose certificate
  // another CA issued for the zone's name is refused.
  auto other = NewCa(dir / "other-pki");
  auto trusting_other = d.client_options(absl::Seconds(5));
  trusting_other.tls->ca_pem = other->ca_pem();
  CHECK(controller::ProbeVolumeServiceZone(trusting_other).status().code() ==
        absl::StatusCode::kUnavailable);
}

// Creates and exports a 1 GiB volume `id` on `d` through the controller's client.
volume::v1::NbdExport CreateAndExport(VolumedProcess& d, const std::string& id) {
  auto client = controller::MakeGrpcVolumeServiceClient(d.client_options(absl::Seconds(30)));
  controller::VolumeSpec spec;
  spec.volume_id = id;
  spec.size_gib = 1;
  REQUIRE(client->CreateVolume(spec).ok());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  volume::v1::ExportVolumeRequest req;
  req.set_volume_id(id);
  volume::v1::NbdExport nbd;
  REQUIRE(d.stub().ExportVolume(&ctx, req, &nbd).ok());
  return nbd;
}

// The QEMU client credentials of a fresh clientAuth certificate `ca` issued for `common_name`
// (ca_pem: the CA the client trusts for the server), in `dir`.
std::string ClientDir(const controller::CertificateAuthority& ca, const std::string& ca_dir,
                      const std::string& common_name, const std::string& trusted_ca_pem,
                      const std::string& dir) {
  crypto::CertificateSpec spec{.common_name = common_name,
                               .usage = crypto::KeyUsage::kClient,
                               .not_before = {},
                               .not_after = {}};
  controller::VolumeServiceTls tls = Issue(ca, ca_dir, spec);
  tls.ca_pem = trusted_ca_pem;
  return testing::WriteNbdClientDir(tls, dir);
}

// The NBD port of a volume service with TLS files (SECURITY.md, "The volume service"): only a
// TLS client with a certificate from the controller's CA reads or writes an export, and of
// those only the controller's and hosts' NBD client certificates. qemu-io as the client, as
// hosts' QEMU and the controller's qemu-img connect.
TEST_CASE("volumed TLS: NBD takes only TLS clients with a certificate from the controller's CA",
          "[integration][mtls]") {
  SkipWithoutQemu();
  MC_SKIP_UNLESS(Have("qemu-io"), "qemu-io not found");
  testing::TempDir dir;
  auto ca = NewCa(dir / "pki");
  VolumedProcess d(dir / "state", "127.0.0.1:0", "127.0.0.1:0", kZone,
                   testing::MakeVolumedTls(*ca, kZone, dir / "tls"));
  const volume::v1::NbdExport nbd = CreateAndExport(d, "vol-1");
  // Bug: the export answer not saying TLS (the controller would hand hosts a plain disk that
  // cannot connect), or naming another server name than the certificate's.
  CHECK(nbd.tls());
  CHECK(nbd.tls_hostname() == crypto::VolumeServiceName(kZone));
  // The reference: the controller's client certificate writes and reads back.
  const testing::NbdTarget good = testing::TargetOf(nbd, d.nbd_client_dir());
  REQUIRE(testing::QemuIo(good, "write -P 0x5a 0 64k"));
  CHECK(testing::QemuIo(good, "read -P 0x5a 0 64k"));
  // A host's NBD client certificate reads too.
  CHECK(testing::QemuIo(
      testing::TargetOf(nbd, ClientDir(*ca, dir / "pki", "nbd-client.h-0123456789abcdef0",
                                       ca->ca_pem(), dir / "host-client")),
      "read -P 0x5a 0 64k"));

  // Bug: nbd-server-start without tls-authz: any certificate of the CA opens exports, here a
  // host's identity certificate (its name is the host id).
  CHECK_FALSE(
      testing::QemuIo(testing::TargetOf(nbd, ClientDir(*ca, dir / "pki", "h-0123456789abcdef0",
                                                       ca->ca_pem(), dir / "host-identity")),
                      "read -P 0x5a 0 64k"));

  // Bug: nbd-server-start without tls-creds: a plain client reads the volume.
  testing::NbdTarget plain = good;
  plain.target.tls_creds.clear();
  CHECK_FALSE(testing::QemuIo(plain, "read -P 0x5a 0 64k"));
  // Bug: verify-peer off: TLS without a client certificate is let in.
  testing::NbdTarget anonymous = good;
  anonymous.tls_dir = dir / "anonymous";
  REQUIRE(file::EnsureDirectoryMode(anonymous.tls_dir, 0700).ok());
  REQUIRE(file::WriteFileAtomic(anonymous.tls_dir + "/ca-cert.pem", ca->ca_pem(), 0600).ok());
  CHECK_FALSE(testing::QemuIo(anonymous, "read -P 0x5a 0 64k"));
  // Bug: the daemon's credentials trusting another CA (or any): a client certificate another
  // CA issued is refused.
  auto other = NewCa(dir / "other-pki");
  CHECK_FALSE(testing::QemuIo(
      testing::TargetOf(nbd, ClientDir(*other, dir / "other-pki", crypto::kControllerClientName,
                                       ca->ca_pem(), dir / "other-client")),
      "read -P 0x5a 0 64k"));
  // Bug: the NBD server shown another certificate than the service's (the client checks the
  // name it was told): a client that expects another zone's service is refused.
  testing::NbdTarget other_zone = good;
  other_zone.target.tls_hostname = crypto::VolumeServiceName("home-1b");
  CHECK_FALSE(testing::QemuIo(other_zone, "read -P 0x5a 0 64k"));
  // The credentials directory: 0700, files 0600.
  struct stat st {};
  REQUIRE(stat((dir / "state/nbd-tls").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  for (const char* f : {"ca-cert.pem", "server-cert.pem", "server-key.pem"}) {
    REQUIRE(stat((dir / "state/nbd-tls/" + f).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
}

// Bugs caught (one line each): --nbd-tls off ignored (TLS required anyway, the clients told
// plain); a service without TLS files answering tls (hosts would fail every attach).
TEST_CASE("volumed TLS: NBD is plain with --nbd-tls off and without TLS files",
          "[integration][mtls]") {
  SkipWithoutQemu();
  MC_SKIP_UNLESS(Have("qemu-io"), "qemu-io not found");
  testing::TempDir dir;
  auto ca = NewCa(dir / "pki");
  {
    VolumedProcess d(dir / "state-off", "127.0.0.1:0", "127.0.0.1:0", kZone,
                     testing::MakeVolumedTls(*ca, kZone, dir / "tls"), {"--nbd-tls", "off"});
    const volume::v1::NbdExport nbd = CreateAndExport(d, "vol-1");
    CHECK_FALSE(nbd.tls());
    CHECK(testing::QemuIo(testing::TargetOf(nbd, ""), "read -P 0 0 64k"));
  }
  VolumedProcess d(dir / "state-plain", "127.0.0.1:0", "127.0.0.1:0", kZone);
  const volume::v1::NbdExport nbd = CreateAndExport(d, "vol-1");
  CHECK_FALSE(nbd.tls());
  CHECK(testing::QemuIo(testing::TargetOf(nbd, ""), "read -P 0 0 64k"));
}

// Bugs caught (one line each): plain text served on a non-loopback address without a word (the
// rule in ResolveVolumedSettings gone); a certificate for another zone accepted at start (every
// handshake with the controller would fail later, far from the cause); one TLS file of three
// silently ignored.
TEST_CASE("volumed TLS: the daemon refuses to start without usable TLS where others reach it",
          "[integration][mtls]") {
  testing::TempDir dir;
  auto ca = NewCa(dir / "pki");
  testing::MakeVolumedTls(*ca, "home-1b", dir / "tls-1b");
  const std::vector<std::string> base = {"--state-dir", dir / "state",         "--nbd-listen",
                                         "127.0.0.1:0", "--availability-zone", kZone};
  struct Case {
    std::vector<std::string> flags;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--listen", "0.0.0.0:0"}, "is not loopback and no TLS files are given"},
           {{"--listen", "127.0.0.1:0", "--tls-cert", dir / "tls-1b/server.crt"}, "go together"},
           {{"--listen", "127.0.0.1:0", "--tls-cert", dir / "tls-1b/server.crt", "--tls-key",
             dir / "tls-1b/server.key", "--tls-client-ca", dir / "tls-1b/ca.crt"},
            "not this service's zone (minicloud-volumed.home-1a)"},
       }) {
    std::vector<std::string> args = base;
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    auto [code, output] = RunExpectingExit("minicloud-volumed", args);
    INFO(c.flags.back() << ": " << output);
    CHECK(code == 2);
    CHECK(absl::StrContains(output, c.message));
  }
}

// Bugs caught (one line each): the admin command writing the key readable by others or into a
// directory others can list; its certificate not naming the zone or not from the controller's
// CA (the daemon would refuse it at start, or the controller every handshake).
TEST_CASE("volumed TLS: issue-volume-service-cert writes the files the daemon serves with",
          "[integration][mtls]") {
  SkipWithoutQemu();
  testing::TempDir dir;
  auto [code, output] = RunExpectingExit(
      "minicloud-controller", {"--state-dir", dir / "controller", "issue-volume-service-cert",
                               "--zone", kZone, "--name", "127.0.0.1", "--out", dir / "out"});
  INFO(output);
  REQUIRE(code == 0);
  struct stat st {};
  REQUIRE(stat((dir / "out").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  for (const char* f : {"ca.crt", "server.crt", "server.key"}) {
    REQUIRE(stat((dir / "out" + "/" + f).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
  // The controller's CA, as the running controller loads it.
  auto ca = NewCa(dir / "controller/pki");
  auto client = ca->IssueControllerClientCertificate(absl::Now());
  REQUIRE(client.ok());
  VolumedProcess d(
      dir / "state", "127.0.0.1:0", "127.0.0.1:0", kZone,
      testing::VolumedTls{.dir = dir / "out",
                          .client = {.ca_pem = ca->ca_pem(),
                                     .certificate_chain_pem = client->certificate_chain_pem,
                                     .private_key_pem = client->private_key_pem}});
  CHECK(StatusCall(d.stub()) == grpc::StatusCode::OK);
  // A zone of another region is refused (a typo would issue a certificate no controller uses).
  auto [bad_code, bad_output] = RunExpectingExit(
      "minicloud-controller", {"--state-dir", dir / "controller", "issue-volume-service-cert",
                               "--zone", "moon-1a", "--out", dir / "moon"});
  CHECK(bad_code == 1);
  CHECK(absl::StrContains(bad_output, "unknown availability zone 'moon-1a'"));
}

}  // namespace
}  // namespace minicloud
