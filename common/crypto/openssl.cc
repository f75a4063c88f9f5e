#include "common/crypto/openssl.h"

#include <openssl/err.h>

#include "absl/strings/str_cat.h"

namespace minicloud::crypto {

std::string TakeOpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error detail" : out;
}

absl::Status OpenSslError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", TakeOpenSslErrors()));
}

}  // namespace minicloud::crypto
