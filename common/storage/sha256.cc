#include "common/storage/sha256.h"

#include <openssl/evp.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/file/file_util.h"
#include "common/status_macros.h"

namespace minicloud::storage {

using file::OpenForRead;
using file::PReadUpTo;
using file::RegularFileSize;
using file::UniqueFd;

struct Sha256::Ctx {
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> md;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md.reset(EVP_MD_CTX_new());
  ok_ = ctx_->md != nullptr && EVP_DigestInit_ex(ctx_->md.get(), EVP_sha256(), nullptr) == 1;
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(std::string_view bytes) {
  if (!ok_ || finished_ || ctx_ == nullptr || bytes.empty()) return;
  ok_ = EVP_DigestUpdate(ctx_->md.get(), bytes.data(), bytes.size()) == 1;
}

absl::StatusOr<std::string> Sha256::Finish() {
  if (finished_ || ctx_ == nullptr) {
    return absl::FailedPreconditionError("sha256: Finish() called twice");
  }
  finished_ = true;
  if (!ok_) return absl::InternalError("sha256: OpenSSL digest failed");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md.get(), digest, &len) != 1 || len != 32) {
    return absl::InternalError("sha256: OpenSSL digest final failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * len, '\0');
  for (unsigned int i = 0; i < len; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return hex;
}

absl::StatusOr<std::string> Sha256Hex(std::string_view bytes) {
  Sha256 h;
  h.Update(bytes);
  return h.Finish();
}

absl::StatusOr<std::string> Sha256FileHex(const std::string& path) {
  MC_ASSIGN_OR_RETURN(UniqueFd fd, OpenForRead(path));
  MC_RETURN_IF_ERROR(RegularFileSize(fd.get(), path).status());
  Sha256 h;
  std::vector<char> buf(1 << 20);
  uint64_t offset = 0;
  for (;;) {
    MC_ASSIGN_OR_RETURN(size_t n, PReadUpTo(fd.get(), buf.data(), buf.size(), offset, path));
    if (n == 0) break;
    h.Update(std::string_view(buf.data(), n));
    offset += n;
  }
  absl::StatusOr<std::string> hex = h.Finish();
  if (!hex.ok()) return Annotate(hex.status(), absl::StrCat("sha256 of ", path));
  return hex;
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace minicloud::storage
