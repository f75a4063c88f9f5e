#include "agent/runtime/controller_tls.h"

#include <netdb.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/join_token.h"
#include "common/crypto/x509.h"
#include "common/file/file_util.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "minicloud/v1/host.grpc.pb.h"

namespace minicloud::agent {
namespace {

using SslCtxPtr = std::unique_ptr<SSL_CTX, crypto::OpenSslDeleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, crypto::OpenSslDeleter<SSL_free>>;

constexpr int kConnectTimeoutSeconds = 10;

std::string TlsDir(const std::string& state_dir) { return state_dir + "/tls"; }

std::optional<std::string> ReadIfExists(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Checks that `cert_pem` is issued by `ca_pem` for `key_pem`'s key, as a host certificate (client
// and server; one issued before hosts served TLS is refused: join again), and names a host;
// returns that host id.
absl::StatusOr<std::string> CheckCredentials(const std::string& key_pem,
                                             const std::string& cert_pem, const std::string& ca_pem,
                                             absl::Time now) {
  MC_ASSIGN_OR_RETURN(crypto::PkeyPtr key, crypto::ParsePrivateKeyPem(key_pem));
  MC_ASSIGN_OR_RETURN(crypto::X509Ptr cert, crypto::ParseCertificatePem(cert_pem));
  MC_ASSIGN_OR_RETURN(crypto::X509Ptr ca, crypto::ParseCertificatePem(ca_pem));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    crypto::TakeOpenSslErrors();
    return absl::FailedPreconditionError("the certificate is not for this host's key");
  }
  MC_RETURN_IF_ERROR(crypto::VerifyCertificate(cert.get(), ca.get(), now, crypto::KeyUsage::kHost));
  return crypto::CommonName(cert.get());
}

// A connected TCP socket to "host:port" / "[v6]:port", with send and receive timeouts.
absl::StatusOr<int> Dial(const std::string& endpoint) {
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("controller '", endpoint, "': expected host:port"));
  }
  std::string host = endpoint.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port = endpoint.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolve ", endpoint, ": ", gai_strerror(rc)));
  }
  std::string last = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{.tv_sec = kConnectTimeoutSeconds, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      freeaddrinfo(found);
      return fd;
    }
    last = std::strerror(errno);
    ::close(fd);
  }
  freeaddrinfo(found);
  return absl::UnavailableError(absl::StrCat("connect to controller ", endpoint, ": ", last));
}

}  // namespace

absl::StatusOr<std::optional<HostCredentials>> LoadHostCredentials(const std::string& state_dir) {
  const std::string dir = TlsDir(state_dir);
  auto key = ReadIfExists(dir + "/host.key");
  auto cert = ReadIfExists(dir + "/host.crt");
  auto ca = ReadIfExists(dir + "/ca.crt");
  if (!key || !cert || !ca) return std::nullopt;
  auto host_id = CheckCredentials(*key, *cert, *ca, absl::Now());
  if (!host_id.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, ": ", host_id.status().message(),
                     " (remove host.crt to join again with a join token)"));
  }
  return HostCredentials{
      .host_id = *host_id, .key_pem = *key, .certificate_pem = *cert, .ca_pem = *ca};
}

absl::StatusOr<std::string> FetchPinnedCa(const std::string& endpoint, const std::string& ca_sha256,
                                          absl::Time now) {
  MC_ASSIGN_OR_RETURN(int fd, Dial(endpoint));
  file::UniqueFd owned(fd);
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return crypto::OpenSslError("TLS context");
  // Nothing is trusted yet: the chain is checked below against the pinned hash.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));
  SslPtr ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) return crypto::OpenSslError("TLS connection");
  SSL_set_tlsext_host_name(ssl.get(), crypto::kControllerServerName);
  if (SSL_connect(ssl.get()) != 1) {
    return absl::UnavailableError(absl::StrCat("TLS handshake with controller ", endpoint, ": ",
                                               crypto::TakeOpenSslErrors()));
  }
  X509* leaf = SSL_get0_peer_certificate(ssl.get());
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl.get());
  if (leaf == nullptr || chain == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("controller ", endpoint, " sent no certificate"));
  }
  absl::StatusOr<std::string> result = absl::PermissionDeniedError(
      absl::StrCat("controller ", endpoint, " does not show the CA the join token names (sha256 ",
                   ca_sha256, "): wrong controller or wrong token"));
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* c = sk_X509_value(chain, i);
    auto sha = crypto::CertificateSha256Hex(c);
    if (!sha.ok() || !crypto::SameSecretHash(*sha, ca_sha256)) continue;
    if (auto s = crypto::VerifyCertificate(leaf, c, now, crypto::KeyUsage::kServer); !s.ok()) {
      result = absl::PermissionDeniedError(
          absl::StrCat("controller ", endpoint,
                       ": server certificate not signed by the pinned CA: ", s.message()));
      break;
    }
    result = crypto::CertificatePem(c);
    break;
  }
  SSL_shutdown(ssl.get());
  return result;
}

std::shared_ptr<grpc::Channel> ControllerChannel(const std::string& endpoint,
                                                 const HostCredentials& credentials) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = credentials.ca_pem;
  options.pem_private_key = credentials.key_pem;
  options.pem_cert_chain = credentials.certificate_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(crypto::kControllerServerName);
  return grpc::CreateCustomChannel(endpoint, grpc::SslCredentials(options), args);
}

absl::StatusOr<HostCredentials> JoinController(const std::string& endpoint,
                                               const std::string& token_text,
                                               const std::string& state_dir,
                                               const std::string& host_id_hint) {
  MC_ASSIGN_OR_RETURN(crypto::JoinToken token, crypto::ParseJoinToken(token_text));
  const std::string dir = TlsDir(state_dir);
  MC_RETURN_IF_ERROR(file::EnsureDirectoryMode(dir, 0700));

  HostCredentials creds;
  if (auto key = ReadIfExists(dir + "/host.key")) {
    creds.key_pem = *key;
  } else {
    MC_ASSIGN_OR_RETURN(crypto::PkeyPtr fresh, crypto::GenerateEcKey());
    MC_ASSIGN_OR_RETURN(creds.key_pem, crypto::PrivateKeyPem(fresh.get()));
    MC_RETURN_IF_ERROR(file::WriteFileAtomic(dir + "/host.key", creds.key_pem, 0600));
  }
  MC_ASSIGN_OR_RETURN(crypto::PkeyPtr key, crypto::ParsePrivateKeyPem(creds.key_pem));
  MC_ASSIGN_OR_RETURN(
      std::string csr,
      crypto::MakeCsrPem(key.get(), host_id_hint.empty() ? "new-host" : host_id_hint));
  MC_ASSIGN_OR_RETURN(creds.ca_pem, FetchPinnedCa(endpoint, token.ca_sha256, absl::Now()));

  // Server-verified TLS (the pinned CA, the controller's fixed name), no client certificate yet.
  HostCredentials server_only;
  server_only.ca_pem = creds.ca_pem;
  auto stub = v1::HostService::NewStub(ControllerChannel(endpoint, server_only));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(kConnectTimeoutSeconds));
  v1::JoinRequest req;
  req.set_token(std::string(absl::StripAsciiWhitespace(token_text)));
  req.set_host_id(host_id_hint);
  req.set_csr_pem(csr);
  v1::JoinResponse resp;
  if (grpc::Status s = stub->Join(&ctx, req, &resp); !s.ok()) {
    return Annotate(FromGrpcStatus(s), absl::StrCat("join controller ", endpoint));
  }
  // The controller's answer is checked like anything from the network.
  MC_ASSIGN_OR_RETURN(crypto::X509Ptr ca, crypto::ParseCertificatePem(resp.ca_pem()));
  MC_ASSIGN_OR_RETURN(std::string ca_sha, crypto::CertificateSha256Hex(ca.get()));
  if (!crypto::SameSecretHash(ca_sha, token.ca_sha256)) {
    return absl::PermissionDeniedError("join: the controller answered with another CA");
  }
  MC_ASSIGN_OR_RETURN(std::string named, CheckCredentials(creds.key_pem, resp.certificate_pem(),
                                                          resp.ca_pem(), absl::Now()));
  if (named != resp.host_id() || (!host_id_hint.empty() && named != host_id_hint)) {
    return absl::PermissionDeniedError(
        absl::StrCat("join: the certificate names host '", named, "', not '",
                     host_id_hint.empty() ? resp.host_id() : host_id_hint, "'"));
  }
  creds.host_id = named;
  creds.certificate_pem = resp.certificate_pem();
  creds.ca_pem = resp.ca_pem();
  // The certificate last: its presence means the join is complete (LoadHostCredentials).
  MC_RETURN_IF_ERROR(file::WriteFileAtomic(dir + "/ca.crt", creds.ca_pem, 0600));
  MC_RETURN_IF_ERROR(file::WriteFileAtomic(dir + "/host.crt", creds.certificate_pem, 0600));
  return creds;
}

absl::StatusOr<HostCredentials> LoadOrJoin(const std::string& endpoint,
                                           const std::string& state_dir,
                                           const std::string& join_token) {
  MC_ASSIGN_OR_RETURN(std::optional<HostCredentials> creds, LoadHostCredentials(state_dir));
  if (creds) return *std::move(creds);
  if (join_token.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("this host has not joined controller ", endpoint,
                     " yet and has no join token (join_token or join_token_file; the controller's "
                     "<state>/join-token or `minicloud-controller join-token`)"));
  }
  std::string hint;
  std::ifstream(state_dir + "/host-id") >> hint;
  MC_ASSIGN_OR_RETURN(HostCredentials joined,
                      JoinController(endpoint, join_token, state_dir, hint));
  spdlog::info("joined controller {} as host {}", endpoint, joined.host_id);
  return joined;
}

}  // namespace minicloud::agent
