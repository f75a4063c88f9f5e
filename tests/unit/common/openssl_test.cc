// crypto:: handles free what they own (a BIO chain with its head) and OpenSslError drains the
// thread's error queue into its message.

#include "common/crypto/openssl.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <catch2/catch.hpp>
#include <string>

namespace minicloud::crypto {
namespace {

int g_freed = 0;

// Counts BIO_CB_FREE, which OpenSSL reports once for each BIO it frees.
long CountFree(BIO*, int oper, const char*, size_t, int, long, int ret, size_t*) {
  if (oper == BIO_CB_FREE) ++g_freed;
  return ret;
}

TEST_CASE("BioPtr frees a whole BIO chain", "[openssl]") {
  g_freed = 0;
  {
    BIO* head = BIO_new(BIO_f_base64());
    BIO* tail = BIO_new(BIO_s_mem());
    REQUIRE(head != nullptr);
    REQUIRE(tail != nullptr);
    BIO_set_callback_ex(head, CountFree);
    BIO_set_callback_ex(tail, CountFree);
    BioPtr chain(BIO_push(head, tail));
    CHECK(g_freed == 0);
  }
  CHECK(g_freed == 2);
}

TEST_CASE("null handles are fine", "[openssl]") {
  PkeyPtr key;
  X509StackPtr certs;
  BioPtr bio(nullptr);
  CHECK(key == nullptr);
}

TEST_CASE("OpenSslError carries the queue and empties it", "[openssl]") {
  ERR_clear_error();
  const std::string garbage =
      "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n";
  BioPtr bio(BIO_new_mem_buf(garbage.data(), static_cast<int>(garbage.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(key == nullptr);
  REQUIRE(ERR_peek_error() != 0);

  const absl::Status s = OpenSslError("parse key");
  CHECK(s.code() == absl::StatusCode::kInternal);
  CHECK(s.message().rfind("parse key: ", 0) == 0);
  CHECK(s.message().find("no OpenSSL error detail") == std::string::npos);
  CHECK(s.message().size() > std::string("parse key: ").size());
  CHECK(ERR_peek_error() == 0);

  // Nothing left for an unrelated later failure to report.
  CHECK(OpenSslError("later").message() == "later: no OpenSSL error detail");
}

}  // namespace
}  // namespace minicloud::crypto
