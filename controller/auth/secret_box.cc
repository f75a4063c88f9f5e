#include "controller/auth/secret_box.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/crypto/openssl.h"
#include "common/file/file_util.h"

namespace minicloud::controller::auth {
namespace {

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, crypto::OpenSslDeleter<EVP_CIPHER_CTX_free>>;

}  // namespace

absl::StatusOr<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return crypto::OpenSslError("random bytes");
  }
  return out;
}

absl::StatusOr<SecretBox> SecretBox::FromKey(std::string key) {
  if (key.size() != kMasterKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("master key must be ", kMasterKeyBytes, " bytes, not ", key.size()));
  }
  return SecretBox(std::move(key));
}

absl::StatusOr<SecretBox> SecretBox::LoadOrCreate(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return file::ErrnoError(errno, "stat", path);
    auto key = RandomBytes(kMasterKeyBytes);
    if (!key.ok()) return key.status();
    if (auto s = file::WriteFileAtomic(path, *key, 0600); !s.ok()) return s;
    return SecretBox(*std::move(key));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is open to group or others (mode 0",
                                                      (st.st_mode >> 6) & 7, (st.st_mode >> 3) & 7,
                                                      st.st_mode & 7, "); it must be 0600"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return file::ErrnoError(errno, "open", path);
  std::stringstream data;
  data << in.rdbuf();
  std::string key = data.str();
  if (key.size() != kMasterKeyBytes) {
    return absl::FailedPreconditionError(absl::StrCat(path, " holds ", key.size(), " bytes, not a ",
                                                      kMasterKeyBytes, "-byte master key"));
  }
  return SecretBox(std::move(key));
}

absl::StatusOr<std::string> SecretBox::Seal(absl::string_view plaintext,
                                            absl::string_view aad) const {
  auto nonce = RandomBytes(kNonceBytes);
  if (!nonce.ok()) return nonce.status();
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  std::string out = *nonce;
  out.resize(kNonceBytes + plaintext.size() + kTagBytes);
  auto u = [](const char* p) { return reinterpret_cast<const unsigned char*>(p); };
  auto* w = reinterpret_cast<unsigned char*>(out.data());
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(key_.data()), u(nonce->data())) !=
          1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, u(aad.data()), static_cast<int>(aad.size())) !=
          1 ||
      EVP_EncryptUpdate(ctx.get(), w + kNonceBytes, &len, u(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), w + kNonceBytes + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          w + kNonceBytes + plaintext.size()) != 1) {
    return crypto::OpenSslError("AES-256-GCM seal");
  }
  return out;
}

absl::StatusOr<std::string> SecretBox::Open(absl::string_view sealed, absl::string_view aad) const {
  if (sealed.size() < kNonceBytes + kTagBytes) {
    return absl::DataLossError("sealed secret is too short");
  }
  const size_t n = sealed.size() - kNonceBytes - kTagBytes;
  auto u = [](const char* p) { return reinterpret_cast<const unsigned char*>(p); };
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  std::string out(n, '\0');
  std::string tag(sealed.substr(kNonceBytes + n));
  int len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(key_.data()), u(sealed.data())) !=
          1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, u(aad.data()), static_cast<int>(aad.size())) !=
          1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                        u(sealed.data() + kNonceBytes), static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1) {
    crypto::TakeOpenSslErrors();
    return absl::DataLossError("sealed secret cannot be opened");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len,
                          &final_len) != 1) {
    crypto::TakeOpenSslErrors();
    return absl::DataLossError(
        "sealed secret does not authenticate (another master key, or altered)");
  }
  return out;
}

}  // namespace minicloud::controller::auth
