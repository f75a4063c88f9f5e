#include "controller/pki/enrollment_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/join_token.h"
#include "common/file/file_util.h"
#include "common/ids.h"
#include "common/status_macros.h"

namespace minicloud::controller {
namespace {

std::string TokensPath(const std::string& pki_dir) { return pki_dir + "/join-tokens"; }

std::optional<std::string> ReadIfExists(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::string> HostPath(const std::string& pki_dir, const std::string& host_id) {
  MC_RETURN_IF_ERROR(CheckId(IdKind::kHost, host_id));
  return pki_dir + "/hosts/" + host_id;
}

}  // namespace

absl::StatusOr<std::string> CreateJoinToken(const std::string& pki_dir,
                                            const CertificateAuthority& ca) {
  MC_ASSIGN_OR_RETURN(crypto::JoinToken token, crypto::NewJoinToken(ca.ca_sha256()));
  std::string lines = ReadIfExists(TokensPath(pki_dir)).value_or("");
  if (!lines.empty() && lines.back() != '\n') lines += '\n';
  absl::StrAppend(&lines, crypto::JoinSecretHash(token.secret), "\n");
  MC_RETURN_IF_ERROR(file::WriteFileAtomic(TokensPath(pki_dir), lines, 0600));
  return crypto::FormatJoinToken(token);
}

absl::Status CheckJoinSecret(const std::string& pki_dir, absl::string_view secret) {
  const std::string want = crypto::JoinSecretHash(secret);
  bool found = false;
  for (absl::string_view line :
       absl::StrSplit(ReadIfExists(TokensPath(pki_dir)).value_or(""), '\n')) {
    // No early exit: every recorded hash is compared.
    found = crypto::SameSecretHash(absl::StripAsciiWhitespace(line), want) || found;
  }
  if (!found)
    return absl::PermissionDeniedError("join token refused: not a token of this controller");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> BoundHostKey(const std::string& pki_dir,
                                                        const std::string& host_id) {
  MC_ASSIGN_OR_RETURN(std::string path, HostPath(pki_dir, host_id));
  std::optional<std::string> text = ReadIfExists(path);
  if (!text) return std::nullopt;
  return std::string(absl::StripAsciiWhitespace(*text));
}

absl::Status BindHostKey(const std::string& pki_dir, const std::string& host_id,
                         const std::string& key_sha256) {
  MC_ASSIGN_OR_RETURN(std::string path, HostPath(pki_dir, host_id));
  MC_RETURN_IF_ERROR(file::EnsureDirectoryMode(pki_dir + "/hosts", 0700));
  return file::WriteFileAtomic(path, key_sha256 + "\n", 0600);
}

absl::Status ForgetHost(const std::string& pki_dir, const std::string& host_id) {
  MC_ASSIGN_OR_RETURN(std::string path, HostPath(pki_dir, host_id));
  std::error_code ec;
  if (!std::filesystem::remove(path, ec)) {
    if (ec) return absl::InternalError(absl::StrCat("remove ", path, ": ", ec.message()));
    return absl::NotFoundError(absl::StrCat("host ", host_id, " has not joined"));
  }
  return absl::OkStatus();
}

}  // namespace minicloud::controller
