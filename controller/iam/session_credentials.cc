#include "controller/iam/session_credentials.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/openssl.h"
#include "common/file/file_util.h"

namespace minicloud::controller::iam {
namespace {

constexpr unsigned char kVersion = 1;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
// A token larger than this is not one of ours (a payload is a few hundred bytes).
constexpr size_t kMaxTokenChars = 8192;
constexpr absl::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, crypto::OpenSslDeleter<EVP_CIPHER_CTX_free>>;

absl::StatusOr<std::string> Random(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return crypto::OpenSslError("RAND_bytes");
  }
  return out;
}

absl::Status NotOurs() {
  return absl::InvalidArgumentError("The security token included in the request is invalid.");
}

}  // namespace

bool IsSessionAccessKeyId(absl::string_view id) {
  if (id.size() != 20 || !absl::StartsWith(id, "ASIA")) return false;
  for (char c : id.substr(4)) {
    if (kBase32.find(c) == absl::string_view::npos) return false;
  }
  return true;
}

absl::StatusOr<SessionSealer> SessionSealer::FromKey(std::string key) {
  if (key.size() != kSessionKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("session key must be ", kSessionKeyBytes, " bytes, not ", key.size()));
  }
  return SessionSealer(std::move(key));
}

absl::StatusOr<SessionSealer> SessionSealer::LoadOrCreate(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return absl::InternalError(absl::StrCat("stat ", path, ": ", std::strerror(errno)));
    }
    auto key = Random(kSessionKeyBytes);
    if (!key.ok()) return key.status();
    if (auto s = file::WriteFileAtomic(path, *key, 0600); !s.ok()) return s;
    return FromKey(*std::move(key));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is readable by others (mode ",
                                                      absl::StrCat(st.st_mode & 0777),
                                                      " decimal); it must be 0600"));
  }
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return absl::InternalError(absl::StrCat("read ", path, ": ", std::strerror(errno)));
  }
  if (content.size() != kSessionKeyBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a ", kSessionKeyBytes, "-byte session key"));
  }
  return FromKey(std::move(content));
}

absl::StatusOr<SessionSealer::Issued> SessionSealer::Issue(v1::SessionTokenPayload claims,
                                                           absl::Time now,
                                                           absl::Duration lifetime) const {
  auto id_bytes = Random(16);
  if (!id_bytes.ok()) return id_bytes.status();
  std::string key_id = "ASIA";
  for (unsigned char b : *id_bytes) key_id.push_back(kBase32[b % 32]);
  auto secret_bytes = Random(30);
  if (!secret_bytes.ok()) return secret_bytes.status();
  claims.set_access_key_id(key_id);
  claims.set_secret_access_key(absl::Base64Escape(*secret_bytes));  // 40 characters
  claims.set_issued_ms(absl::ToUnixMillis(now));
  claims.set_expiration_ms(absl::ToUnixMillis(now + lifetime));

  auto nonce = Random(kNonceBytes);
  if (!nonce.ok()) return nonce.status();
  const std::string plain = claims.SerializeAsString();
  std::string sealed(1 + kNonceBytes + plain.size() + kTagBytes, '\0');
  sealed[0] = static_cast<char>(kVersion);
  sealed.replace(1, kNonceBytes, *nonce);
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const unsigned char aad = kVersion;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key_.data()), out + 1) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, &aad, 1) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out + 1 + kNonceBytes, &len,
                        reinterpret_cast<const unsigned char*>(plain.data()),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + 1 + kNonceBytes + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          out + 1 + kNonceBytes + plain.size()) != 1) {
    return crypto::OpenSslError("seal session token");
  }
  return Issued{std::move(claims), absl::Base64Escape(sealed)};
}

absl::StatusOr<v1::SessionTokenPayload> SessionSealer::Open(absl::string_view token) const {
  if (token.size() > kMaxTokenChars) return NotOurs();
  std::string sealed;
  if (!absl::Base64Unescape(token, &sealed) || sealed.size() < 1 + kNonceBytes + kTagBytes ||
      static_cast<unsigned char>(sealed[0]) != kVersion) {
    return NotOurs();
  }
  const auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  const size_t ct_len = sealed.size() - 1 - kNonceBytes - kTagBytes;
  std::string plain(ct_len, '\0');
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const unsigned char aad = kVersion;
  std::string tag(sealed.substr(1 + kNonceBytes + ct_len));
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key_.data()), in + 1) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, &aad, 1) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len,
                        in + 1 + kNonceBytes, static_cast<int>(ct_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) !=
          1) {
    crypto::TakeOpenSslErrors();  // a forged token is not an OpenSSL failure to report
    return NotOurs();
  }
  v1::SessionTokenPayload payload;
  if (!payload.ParseFromString(plain) || !IsSessionAccessKeyId(payload.access_key_id())) {
    return NotOurs();
  }
  return payload;
}

}  // namespace minicloud::controller::iam
