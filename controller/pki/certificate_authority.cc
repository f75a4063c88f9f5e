#include "controller/pki/certificate_authority.h"

#include <arpa/inet.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/x509.h"
#include "common/file/file_util.h"
#include "common/ids.h"
#include "common/status_macros.h"

namespace minicloud::controller {
namespace {

// A fresh EC key and the certificate `spec` describes, signed by the CA: the chain (leaf, then
// the CA certificate) and the key, in PEM.
absl::StatusOr<KeyPair> IssueKeyPair(const crypto::CertificateSpec& spec, X509* ca,
                                     EVP_PKEY* ca_key, const std::string& ca_pem) {
  MC_ASSIGN_OR_RETURN(crypto::PkeyPtr key, crypto::GenerateEcKey());
  MC_ASSIGN_OR_RETURN(crypto::X509Ptr cert, crypto::IssueCertificate(spec, key.get(), ca, ca_key));
  KeyPair out;
  MC_ASSIGN_OR_RETURN(std::string leaf, crypto::CertificatePem(cert.get()));
  out.certificate_chain_pem = leaf + ca_pem;
  MC_ASSIGN_OR_RETURN(out.private_key_pem, crypto::PrivateKeyPem(key.get()));
  return out;
}

bool IsIpAddress(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::OpenOrCreate(
    const std::string& dir, absl::Time now) {
  MC_RETURN_IF_ERROR(file::EnsureDirectoryMode(dir, 0700));
  const std::string key_path = dir + "/ca.key", cert_path = dir + "/ca.crt";
  const bool have_key = std::filesystem::exists(key_path);
  const bool have_cert = std::filesystem::exists(cert_path);
  if (have_key != have_cert) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, ": has ", have_key ? "ca.key but no ca.crt" : "ca.crt but no ca.key",
                     "; restore the missing file (a new CA would orphan every host certificate)"));
  }
  crypto::PkeyPtr key;
  crypto::X509Ptr ca;
  if (have_key) {
    MC_ASSIGN_OR_RETURN(std::string key_pem, file::ReadFileToString(key_path));
    MC_ASSIGN_OR_RETURN(std::string cert_pem, file::ReadFileToString(cert_path));
    MC_ASSIGN_OR_RETURN(key, crypto::ParsePrivateKeyPem(key_pem));
    MC_ASSIGN_OR_RETURN(ca, crypto::ParseCertificatePem(cert_pem));
    if (X509_check_private_key(ca.get(), key.get()) != 1) {
      crypto::TakeOpenSslErrors();
      return absl::FailedPreconditionError(absl::StrCat(dir, ": ca.key does not match ca.crt"));
    }
  } else {
    MC_ASSIGN_OR_RETURN(key, crypto::GenerateEcKey());
    crypto::CertificateSpec spec{.common_name = "minicloud controller CA",
                                 .usage = crypto::KeyUsage::kCa,
                                 .not_before = now - absl::Hours(1),
                                 .not_after = now + kCaLifetime};
    MC_ASSIGN_OR_RETURN(ca, crypto::IssueCertificate(spec, key.get(), nullptr, key.get()));
    MC_ASSIGN_OR_RETURN(std::string key_pem, crypto::PrivateKeyPem(key.get()));
    MC_ASSIGN_OR_RETURN(std::string cert_pem, crypto::CertificatePem(ca.get()));
    // The key first: a crash between the two leaves a key without a certificate, refused above
    // rather than silently replaced.
    MC_RETURN_IF_ERROR(file::WriteFileAtomic(key_path, key_pem, 0600));
    MC_RETURN_IF_ERROR(file::WriteFileAtomic(cert_path, cert_pem, 0600));
  }
  MC_ASSIGN_OR_RETURN(std::string pem, crypto::CertificatePem(ca.get()));
  MC_ASSIGN_OR_RETURN(std::string sha, crypto::CertificateSha256Hex(ca.get()));
  return std::unique_ptr<CertificateAuthority>(
      new CertificateAuthority(std::move(key), std::move(ca), std::move(pem), std::move(sha)));
}

absl::StatusOr<ServerKeyPair> CertificateAuthority::IssueServerCertificate(
    const std::vector<std::string>& names, absl::Time now) const {
  crypto::CertificateSpec spec{.common_name = kControllerServerName,
                               .dns_names = {kControllerServerName},
                               .usage = crypto::KeyUsage::kServer,
                               .not_before = now - absl::Hours(1),
                               .not_after = now + kServerCertificateLifetime};
  for (const auto& n : names) {
    if (n.empty() || n == kControllerServerName) continue;
    (IsIpAddress(n) ? spec.ip_addresses : spec.dns_names).push_back(n);
  }
  return IssueKeyPair(spec, ca_.get(), key_.get(), ca_pem_);
}

absl::StatusOr<KeyPair> CertificateAuthority::IssueControllerClientCertificate(
    absl::Time now) const {
  crypto::CertificateSpec spec{.common_name = kControllerClientName,
                               .usage = crypto::KeyUsage::kClient,
                               .not_before = now - absl::Hours(1),
                               .not_after = now + kServerCertificateLifetime};
  return IssueKeyPair(spec, ca_.get(), key_.get(), ca_pem_);
}

absl::StatusOr<KeyPair> CertificateAuthority::IssueVolumeServiceCertificate(
    const std::string& zone, const std::vector<std::string>& names, absl::Time now) const {
  const bool label = !zone.empty() && zone.size() <= 63 && zone.front() != '-' &&
                     zone.back() != '-' && std::all_of(zone.begin(), zone.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                     });
  if (!label) {
    return absl::InvalidArgumentError(
        absl::StrCat("volume service certificate: '", zone, "' is not an availability zone name"));
  }
  const std::string own = crypto::VolumeServiceName(zone);
  crypto::CertificateSpec spec{.common_name = own,
                               .dns_names = {own},
                               .usage = crypto::KeyUsage::kServer,
                               .not_before = now - absl::Hours(1),
                               .not_after = now + kServerCertificateLifetime};
  for (const auto& n : names) {
    if (n.empty() || n == own) continue;
    // Names that belong to others: the controller's and the hosts'.
    if (n == kControllerServerName || n == kControllerClientName ||
        CheckId(IdKind::kHost, n).ok() || absl::StartsWith(n, crypto::VolumeServiceName(""))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "volume service certificate: '", n, "' names another part of the cloud, not an address"));
    }
    (IsIpAddress(n) ? spec.ip_addresses : spec.dns_names).push_back(n);
  }
  return IssueKeyPair(spec, ca_.get(), key_.get(), ca_pem_);
}

absl::StatusOr<std::string> CertificateAuthority::IssueHostCertificate(EVP_PKEY* key,
                                                                       const std::string& host_id,
                                                                       absl::Time now) const {
  // The one place a host's name enters a certificate: only a host id, so a host certificate can
  // never carry the controller's names.
  MC_RETURN_IF_ERROR(CheckId(IdKind::kHost, host_id));
  crypto::CertificateSpec spec{.common_name = host_id,
                               .dns_names = {host_id},
                               .usage = crypto::KeyUsage::kHost,
                               .not_before = now - absl::Hours(1),
                               .not_after = now + kHostCertificateLifetime};
  MC_ASSIGN_OR_RETURN(crypto::X509Ptr cert,
                      crypto::IssueCertificate(spec, key, ca_.get(), key_.get()));
  return crypto::CertificatePem(cert.get());
}

absl::StatusOr<std::string> CertificateAuthority::IssueNbdClientCertificate(
    EVP_PKEY* key, const std::string& host_id, absl::Time now) const {
  MC_RETURN_IF_ERROR(CheckId(IdKind::kHost, host_id));
  crypto::CertificateSpec spec{.common_name = crypto::NbdClientName(host_id),
                               .usage = crypto::KeyUsage::kClient,
                               .not_before = now - absl::Hours(1),
                               .not_after = now + kHostCertificateLifetime};
  MC_ASSIGN_OR_RETURN(crypto::X509Ptr cert,
                      crypto::IssueCertificate(spec, key, ca_.get(), key_.get()));
  return crypto::CertificatePem(cert.get());
}

}  // namespace minicloud::controller
