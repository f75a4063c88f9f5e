#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/crypto/openssl.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "controller/keys/ssh_key_encoding.h"
#include "controller/keys/ssh_keys.h"

// CreateKeyPair's keys: RSA 2048 as PKCS#1 PEM with the SHA-1 PKCS#8 fingerprint, ED25519 as an
// openssh-key-v1 file with the SHA-256 fingerprint [CKP], [KPI], [VFY] (sources in ssh_keys.h).

namespace minicloud::keys {
namespace {

using crypto::EncoderCtxPtr;
using crypto::P8InfoPtr;
using crypto::PkeyPtr;
using internal::Base64Encode;
using internal::ColonHexDigest;
using internal::DecodedKey;
using internal::Describe;
using internal::kEd25519KeyBytes;
using internal::kOpenSsh;
using internal::kSshEd25519;
using internal::kSshRsa;
using internal::OpenSslInternal;
using internal::SecretString;
using internal::Sha256Base64Fingerprint;
using internal::SshWriter;

absl::StatusOr<std::string> RsaPkcs8DerSha1(EVP_PKEY* pkey) {
  // [KPI]/[VFY]: the fingerprint of an EC2-created RSA key is SHA-1 over the DER PKCS#8
  // PrivateKeyInfo -- byte for byte what `openssl pkcs8 -topk8 -nocrypt -outform DER` emits
  // (that command is EVP_PKEY2PKCS8 + i2d_PKCS8_PRIV_KEY_INFO too).
  P8InfoPtr p8(EVP_PKEY2PKCS8(pkey));
  if (p8 == nullptr) return OpenSslInternal("convert RSA key to PKCS#8");
  unsigned char* der = nullptr;
  int len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &der);
  if (len <= 0) return OpenSslInternal("encode PKCS#8");
  SecretString s;
  s.s.assign(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_clear_free(der, static_cast<size_t>(len));
  return ColonHexDigest(EVP_sha1(), s.s, "SHA-1 fingerprint");
}

absl::StatusOr<std::string> RsaPkcs1Pem(EVP_PKEY* pkey) {
  // "type-specific" structure for RSA is PKCS#1 RSAPrivateKey -> "BEGIN RSA PRIVATE KEY".
  EncoderCtxPtr ctx(
      OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_KEYPAIR, "PEM", "type-specific", nullptr));
  unsigned char* data = nullptr;
  size_t len = 0;
  if (ctx == nullptr || OSSL_ENCODER_CTX_get_num_encoders(ctx.get()) == 0 ||
      OSSL_ENCODER_to_data(ctx.get(), &data, &len) != 1) {
    return OpenSslInternal("encode RSA private key as PKCS#1 PEM");
  }
  std::string pem(reinterpret_cast<const char*>(data), len);
  OPENSSL_clear_free(data, len);
  return pem;
}

std::string WrapBase64(absl::string_view b64, size_t width) {
  std::string out;
  for (size_t i = 0; i < b64.size(); i += width) {
    absl::StrAppend(&out, b64.substr(i, width), "\n");
  }
  return out;
}

// openssh-key-v1 (OpenSSH PROTOCOL.key), unencrypted, one key:
//   "openssh-key-v1\0" string("none") string("none") string("") uint32(1) string(pubkey)
//   string(uint32 check, uint32 check, string("ssh-ed25519"), string(pk32), string(seed32||pk32),
//          string(comment), padding 1,2,3,... to a multiple of 8)
// base64 wrapped at 70 columns, as ssh-keygen writes it.
absl::StatusOr<std::string> Ed25519OpenSshPrivateKey(absl::string_view seed, absl::string_view pub,
                                                     absl::string_view pub_blob) {
  uint32_t check = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&check), sizeof(check)) != 1) {
    return OpenSslInternal("random check bytes");
  }
  SshWriter priv;
  priv.U32(check);
  priv.U32(check);
  priv.String(kSshEd25519);
  priv.String(pub);
  SecretString sk;
  sk.s = absl::StrCat(seed, pub);
  priv.String(sk.s);
  priv.String("");  // comment
  for (char pad = 1; priv.out().size() % 8 != 0; ++pad) priv.Raw(absl::string_view(&pad, 1));

  SshWriter file;
  file.Raw(absl::string_view("openssh-key-v1\0", 15));
  file.String("none");  // cipher
  file.String("none");  // kdf
  file.String("");      // kdf options
  file.U32(1);          // number of keys
  file.String(pub_blob);
  file.String(priv.out());
  OPENSSL_cleanse(priv.out().data(), priv.out().size());

  SecretString b64;
  b64.s = Base64Encode(file.out());
  OPENSSL_cleanse(file.out().data(), file.out().size());
  return absl::StrCat("-----BEGIN OPENSSH PRIVATE KEY-----\n", WrapBase64(b64.s, 70),
                      "-----END OPENSSH PRIVATE KEY-----\n");
}

absl::StatusOr<GeneratedKeyPair> GenerateRsa() {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(kGeneratedRsaBits)));
  if (pkey == nullptr) return OpenSslInternal("generate RSA key");
  GeneratedKeyPair kp;
  kp.type = KeyType::kRsa;
  MC_ASSIGN_OR_RETURN(kp.private_key_material, RsaPkcs1Pem(pkey.get()));
  MC_ASSIGN_OR_RETURN(kp.fingerprint, RsaPkcs8DerSha1(pkey.get()));
  MC_ASSIGN_OR_RETURN(DecodedKey d, Describe(std::move(pkey), kOpenSsh));
  kp.public_key_openssh = absl::StrCat(kSshRsa, " ", Base64Encode(d.ssh_blob));
  return kp;
}

absl::StatusOr<GeneratedKeyPair> GenerateEd25519() {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (pkey == nullptr) return OpenSslInternal("generate ED25519 key");
  SecretString seed;
  seed.s.assign(kEd25519KeyBytes, '\0');
  size_t len = seed.s.size();
  if (EVP_PKEY_get_raw_private_key(pkey.get(), reinterpret_cast<unsigned char*>(seed.s.data()),
                                   &len) != 1 ||
      len != kEd25519KeyBytes) {
    return OpenSslInternal("read ED25519 private key");
  }
  MC_ASSIGN_OR_RETURN(DecodedKey d, Describe(std::move(pkey), kOpenSsh));
  // The blob is string("ssh-ed25519") string(pk): pk is its last 32 bytes.
  absl::string_view pub = absl::string_view(d.ssh_blob).substr(d.ssh_blob.size() - 32);
  GeneratedKeyPair kp;
  kp.type = KeyType::kEd25519;
  MC_ASSIGN_OR_RETURN(kp.private_key_material, Ed25519OpenSshPrivateKey(seed.s, pub, d.ssh_blob));
  MC_ASSIGN_OR_RETURN(kp.fingerprint, Sha256Base64Fingerprint(d.ssh_blob));
  kp.public_key_openssh = absl::StrCat(kSshEd25519, " ", Base64Encode(d.ssh_blob));
  return kp;
}

}  // namespace

absl::StatusOr<GeneratedKeyPair> GenerateKeyPair(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return GenerateRsa();
    case KeyType::kEd25519:
      return GenerateEd25519();
    case KeyType::kEcdsa:
      break;
  }
  return InvalidParameterValue("CreateKeyPair supports KeyType rsa or ed25519");
}

}  // namespace minicloud::keys
