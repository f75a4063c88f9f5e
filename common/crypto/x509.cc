#include "common/crypto/x509.h"

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace minicloud::crypto {
namespace {

using X509ReqPtr = std::unique_ptr<X509_REQ, OpenSslDeleter<X509_REQ_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX_free>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;

std::string HexOf(const unsigned char* data, size_t n) {
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(data), n));
}

absl::StatusOr<std::string> Sha256Hex(const unsigned char* data, size_t n) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data, n, md, &len, EVP_sha256(), nullptr) != 1) return OpenSslError("sha256");
  return HexOf(md, len);
}

BioPtr MemoryBio(absl::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

// True when nothing but whitespace follows what was read from `bio`.
bool OnlyWhitespaceLeft(BIO* bio) {
  char c;
  while (BIO_read(bio, &c, 1) == 1) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') return false;
  }
  return true;
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert, cert, nullptr, nullptr, 0);
  X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(absl::StrCat("certificate extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PkeyPtr> GenerateEcKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("generate P-256 key");
  return key;
}

absl::StatusOr<std::string> PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("encode private key");
  }
  return BioText(bio.get());
}

absl::StatusOr<PkeyPtr> ParsePrivateKeyPem(absl::string_view pem) {
  BioPtr bio = MemoryBio(pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    TakeOpenSslErrors();
    return absl::InvalidArgumentError("not a PEM private key");
  }
  return key;
}

absl::StatusOr<std::string> CertificatePem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return OpenSslError("encode certificate");
  return BioText(bio.get());
}

absl::StatusOr<X509Ptr> ParseCertificatePem(absl::string_view pem) {
  BioPtr bio = MemoryBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    TakeOpenSslErrors();
    return absl::InvalidArgumentError("not a PEM certificate");
  }
  if (!OnlyWhitespaceLeft(bio.get())) {
    return absl::InvalidArgumentError("more than one PEM certificate");
  }
  return cert;
}

absl::StatusOr<std::string> MakeCsrPem(EVP_PKEY* key, absl::string_view common_name) {
  X509ReqPtr req(X509_REQ_new());
  if (!req) return OpenSslError("new certificate request");
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  const std::string cn(common_name);
  if (X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key) != 1 ||
      X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) {
    return OpenSslError("build certificate request");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return OpenSslError("encode certificate request");
  }
  return BioText(bio.get());
}

absl::StatusOr<PkeyPtr> CsrPublicKey(absl::string_view csr_pem) {
  // A request is a few hundred bytes; refuse anything that could not be one before parsing.
  if (csr_pem.size() > 16 * 1024) return absl::InvalidArgumentError("certificate request too big");
  BioPtr bio = MemoryBio(csr_pem);
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) {
    TakeOpenSslErrors();
    return absl::InvalidArgumentError("not a PEM certificate request");
  }
  PkeyPtr key(X509_REQ_get_pubkey(req.get()));
  if (!key) {
    TakeOpenSslErrors();
    return absl::InvalidArgumentError("certificate request without a public key");
  }
  if (X509_REQ_verify(req.get(), key.get()) != 1) {
    TakeOpenSslErrors();
    return absl::InvalidArgumentError("certificate request signature does not verify");
  }
  // Only keys of the kind this CA issues: EC P-256.
  char group[32] = {};
  size_t len = 0;
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC ||
      EVP_PKEY_get_group_name(key.get(), group, sizeof(group), &len) != 1 ||
      std::string(group, len) != "prime256v1") {
    TakeOpenSslErrors();
    return absl::InvalidArgumentError("certificate request key must be EC P-256");
  }
  return key;
}

absl::StatusOr<X509Ptr> IssueCertificate(const CertificateSpec& spec, EVP_PKEY* subject_key,
                                         X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert) return OpenSslError("new certificate");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return OpenSslError("certificate serial");
  serial[0] &= 0x7f;  // positive
  BnPtr bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  Asn1TimePtr not_before(ASN1_TIME_set(nullptr, absl::ToTimeT(spec.not_before)));
  Asn1TimePtr not_after(ASN1_TIME_set(nullptr, absl::ToTimeT(spec.not_after)));
  const std::string cn = spec.common_name;
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!bn || !not_before || !not_after || X509_set_version(cert.get(), 2) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_set1_notBefore(cert.get(), not_before.get()) != 1 ||
      X509_set1_notAfter(cert.get(), not_after.get()) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name) !=
          1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return OpenSslError("build certificate");
  }
  std::string san;
  for (const auto& d : spec.dns_names) absl::StrAppend(&san, san.empty() ? "" : ",", "DNS:", d);
  for (const auto& a : spec.ip_addresses) absl::StrAppend(&san, san.empty() ? "" : ",", "IP:", a);
  absl::Status s;
  switch (spec.usage) {
    case KeyUsage::kCa:
      s = AddExtension(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
      if (s.ok())
        s = AddExtension(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
      break;
    case KeyUsage::kServer:
    case KeyUsage::kClient:
    case KeyUsage::kHost:
      s = AddExtension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE");
      if (s.ok()) s = AddExtension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature");
      if (s.ok()) {
        s = AddExtension(cert.get(), issuer, NID_ext_key_usage,
                         spec.usage == KeyUsage::kServer   ? "serverAuth"
                         : spec.usage == KeyUsage::kClient ? "clientAuth"
                                                           : "serverAuth,clientAuth");
      }
      break;
  }
  if (s.ok()) s = AddExtension(cert.get(), issuer, NID_subject_key_identifier, "hash");
  if (s.ok() && issuer != nullptr) {
    s = AddExtension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always");
  }
  if (s.ok() && !san.empty()) s = AddExtension(cert.get(), issuer, NID_subject_alt_name, san);
  if (!s.ok()) return s;
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) return OpenSslError("sign certificate");
  return cert;
}

absl::Status VerifyCertificate(X509* cert, X509* ca, absl::Time now,
                               std::optional<KeyUsage> purpose) {
  if (purpose == KeyUsage::kHost) {
    MC_RETURN_IF_ERROR(VerifyCertificate(cert, ca, now, KeyUsage::kServer));
    return VerifyCertificate(cert, ca, now, KeyUsage::kClient);
  }
  X509StorePtr store(X509_STORE_new());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1) {
    return OpenSslError("certificate check");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(now));
  if (purpose.has_value()) {
    X509_VERIFY_PARAM_set_purpose(
        param, *purpose == KeyUsage::kServer ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT);
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    TakeOpenSslErrors();
    return absl::PermissionDeniedError(
        absl::StrCat("certificate not accepted: ", X509_verify_cert_error_string(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CommonName(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  const int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return absl::NotFoundError("certificate has no common name");
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return OpenSslError("certificate common name");
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

absl::StatusOr<std::string> CertificateSha256Hex(X509* cert) {
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  if (n <= 0) return OpenSslError("encode certificate");
  auto hex = Sha256Hex(der, static_cast<size_t>(n));
  OPENSSL_free(der);
  return hex;
}

absl::StatusOr<std::string> PublicKeySha256Hex(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  if (n <= 0) return OpenSslError("encode public key");
  auto hex = Sha256Hex(der, static_cast<size_t>(n));
  OPENSSL_free(der);
  return hex;
}

absl::StatusOr<std::string> CertificateKeySha256Hex(X509* cert) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr) return OpenSslError("certificate public key");
  return PublicKeySha256Hex(key);
}

}  // namespace minicloud::crypto
