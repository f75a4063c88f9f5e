#include "agent/runtime/nbd_client_tls.h"

#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "common/crypto/join_token.h"
#include "common/crypto/x509.h"
#include "common/file/file_util.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/storage/nbd_tls.h"
#include "minicloud/v1/host.grpc.pb.h"

namespace minicloud::agent {
namespace {

// The name of a client certificate `cert_pem` of `host` for `key_pem` from `ca_pem`.
absl::Status CheckPair(const std::string& key_pem, const std::string& cert_pem,
                       const std::string& ca_pem, const HostCredentials& host, absl::Time now) {
  MC_ASSIGN_OR_RETURN(crypto::PkeyPtr key, crypto::ParsePrivateKeyPem(key_pem));
  MC_ASSIGN_OR_RETURN(crypto::X509Ptr cert, crypto::ParseCertificatePem(cert_pem));
  MC_ASSIGN_OR_RETURN(crypto::X509Ptr ca, crypto::ParseCertificatePem(ca_pem));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    crypto::TakeOpenSslErrors();
    return absl::FailedPreconditionError("the NBD client certificate is not for its key");
  }
  MC_RETURN_IF_ERROR(
      crypto::VerifyCertificate(cert.get(), ca.get(), now, crypto::KeyUsage::kClient));
  MC_ASSIGN_OR_RETURN(std::string name, crypto::CommonName(cert.get()));
  if (name != crypto::NbdClientName(host.host_id)) {
    return absl::FailedPreconditionError(absl::StrCat("the NBD client certificate names '", name,
                                                      "', not ",
                                                      crypto::NbdClientName(host.host_id)));
  }
  // Never the host's identity key: QEMU's account reads this one.
  MC_ASSIGN_OR_RETURN(crypto::PkeyPtr identity, crypto::ParsePrivateKeyPem(host.key_pem));
  if (EVP_PKEY_eq(identity.get(), key.get()) == 1) {
    return absl::FailedPreconditionError("the NBD client key is the host's identity key");
  }
  return absl::OkStatus();
}

}  // namespace

std::string NbdClientTlsDir(const std::string& state_dir) { return state_dir + "/nbd-tls"; }

absl::Status CheckNbdClientCredentials(const std::string& state_dir, const HostCredentials& host,
                                       absl::Time now) {
  const std::string dir = NbdClientTlsDir(state_dir);
  MC_ASSIGN_OR_RETURN(std::string key, file::ReadFileToString(dir + "/client-key.pem"));
  MC_ASSIGN_OR_RETURN(std::string cert, file::ReadFileToString(dir + "/client-cert.pem"));
  MC_ASSIGN_OR_RETURN(std::string ca, file::ReadFileToString(dir + "/ca-cert.pem"));
  if (ca != host.ca_pem) {
    return absl::FailedPreconditionError(absl::StrCat(dir, ": another CA than the controller's"));
  }
  return Annotate(CheckPair(key, cert, ca, host, now), dir);
}

absl::Status EnsureNbdClientCredentials(const std::string& endpoint, const HostCredentials& host,
                                        const std::string& state_dir,
                                        const hypervisor::QemuAccount& qemu) {
  const std::string dir = NbdClientTlsDir(state_dir);
  MC_RETURN_IF_ERROR(qemu.ShareDirectory(dir));
  const absl::Status have = CheckNbdClientCredentials(state_dir, host, absl::Now());
  if (!have.ok()) {
    spdlog::info("asking the controller for an NBD client certificate ({})", have.message());
    MC_ASSIGN_OR_RETURN(crypto::PkeyPtr key, crypto::GenerateEcKey());
    MC_ASSIGN_OR_RETURN(std::string key_pem, crypto::PrivateKeyPem(key.get()));
    MC_ASSIGN_OR_RETURN(std::string csr,
                        crypto::MakeCsrPem(key.get(), crypto::NbdClientName(host.host_id)));
    auto stub = v1::HostService::NewStub(ControllerChannel(endpoint, host));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::NbdClientCertificateRequest req;
    req.set_host_id(host.host_id);
    req.set_csr_pem(csr);
    v1::NbdClientCertificate resp;
    if (grpc::Status s = stub->IssueNbdClientCertificate(&ctx, req, &resp); !s.ok()) {
      return Annotate(FromGrpcStatus(s), "NBD client certificate");
    }
    // The answer is checked like anything from the network.
    if (resp.ca_pem() != host.ca_pem) {
      return absl::PermissionDeniedError("NBD client certificate: another CA in the answer");
    }
    MC_RETURN_IF_ERROR(
        Annotate(CheckPair(key_pem, resp.certificate_pem(), host.ca_pem, host, absl::Now()),
                 "NBD client certificate from the controller"));
    MC_RETURN_IF_ERROR(storage::WriteQemuTlsDir(
        dir, storage::QemuTlsEndpoint::kClient,
        {.ca_pem = host.ca_pem, .certificate_pem = resp.certificate_pem(), .key_pem = key_pem},
        0700, 0600));
    spdlog::info("NBD client certificate {} in {}", crypto::NbdClientName(host.host_id), dir);
  }
  // The directory and files for QEMU's group (WriteQemuTlsDir leaves them the agent's).
  MC_RETURN_IF_ERROR(qemu.ShareDirectory(dir));
  for (const char* f : {"ca-cert.pem", "client-cert.pem", "client-key.pem"}) {
    MC_RETURN_IF_ERROR(qemu.ShareReadOnly(absl::StrCat(dir, "/", f)));
  }
  return absl::OkStatus();
}

}  // namespace minicloud::agent
