#include "controller/identity/identity_signer.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/openssl.h"
#include "common/file/file_util.h"
#include "common/status_macros.h"

namespace minicloud::identity {
namespace {

using crypto::BioPtr;
using crypto::BnPtr;
using crypto::MdCtxPtr;
using crypto::Pkcs7Ptr;
using crypto::PkeyPtr;
using crypto::TakeOpenSslErrors;
using crypto::X509Ptr;
using crypto::X509StackPtr;

absl::Status SslError(absl::string_view what) { return crypto::OpenSslError(what); }

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, len > 0 ? static_cast<size_t>(len) : 0);
}

BioPtr MemBio(absl::string_view s) {
  return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

// Base64 in 64-column lines joined by LF, no trailing newline (PEM body without armour).
std::string Base64Lines(absl::string_view bytes) {
  const std::string flat = absl::Base64Escape(bytes);
  std::string out;
  out.reserve(flat.size() + flat.size() / 64 + 1);
  for (size_t i = 0; i < flat.size(); i += 64) {
    if (i != 0) out.push_back('\n');
    out.append(flat, i, 64);
  }
  return out;
}

absl::StatusOr<std::string> Base64Decode(absl::string_view text, absl::string_view what) {
  std::string flat;
  flat.reserve(text.size());
  for (char ch : text) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(ch))) flat.push_back(ch);
  }
  std::string out;
  if (!absl::Base64Unescape(flat, &out)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not base64"));
  }
  return out;
}

absl::StatusOr<X509Ptr> ParseCert(absl::string_view cert_pem) {
  BioPtr bio = MemBio(cert_pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity certificate: not a PEM certificate: ", TakeOpenSslErrors()));
  }
  return cert;
}

absl::Status AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return SslError(absl::StrCat("certificate extension ", value));
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return SslError("X509_add_ext");
  return absl::OkStatus();
}

std::string JsonString(absl::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

struct IdentitySigner::Keys {
  Keys(PkeyPtr k, X509Ptr c) : key(std::move(k)), cert(std::move(c)) {}
  PkeyPtr key;
  X509Ptr cert;
};

std::string BuildIdentityDocument(const IdentityFields& f) {
  // Key order and the `"key" : value` spacing are EC2's (Jackson's default pretty printer).
  const std::string pending =
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", f.pending_time, absl::UTCTimeZone());
  return absl::StrCat(                                             //
      "{\n",                                                       //
      "  \"accountId\" : ", JsonString(f.account_id), ",\n",       //
      "  \"architecture\" : ", JsonString(f.architecture), ",\n",  //
      "  \"availabilityZone\" : ", JsonString(f.availability_zone), ",\n",
      "  \"billingProducts\" : null,\n",                            //
      "  \"devpayProductCodes\" : null,\n",                         //
      "  \"marketplaceProductCodes\" : null,\n",                    //
      "  \"imageId\" : ", JsonString(f.image_id), ",\n",            //
      "  \"instanceId\" : ", JsonString(f.instance_id), ",\n",      //
      "  \"instanceType\" : ", JsonString(f.instance_type), ",\n",  //
      "  \"kernelId\" : null,\n",                                   //
      "  \"pendingTime\" : ", JsonString(pending), ",\n",           //
      "  \"privateIp\" : ", JsonString(f.private_ip), ",\n",        //
      "  \"ramdiskId\" : null,\n",                                  //
      "  \"region\" : ", JsonString(f.region), ",\n",               //
      "  \"version\" : \"2017-09-30\"\n",                           //
      "}");
}

absl::StatusOr<absl::Time> ParsePendingTime(absl::string_view document) {
  constexpr absl::string_view kKey = "\"pendingTime\" : \"";
  const size_t at = document.find(kKey);
  const size_t begin = at == absl::string_view::npos ? at : at + kKey.size();
  const size_t end = begin == absl::string_view::npos ? begin : document.find('"', begin);
  absl::Time pending;
  std::string error = "no \"pendingTime\" : \"...\"";
  if (end == absl::string_view::npos ||
      !absl::ParseTime("%Y-%m-%dT%H:%M:%SZ", document.substr(begin, end - begin),
                       absl::UTCTimeZone(), &pending, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity document has no valid pendingTime: ", error));
  }
  return pending;
}

absl::StatusOr<IdentitySigner> IdentitySigner::Generate(absl::Time now,
                                                        absl::string_view common_name) {
  PkeyPtr key(EVP_RSA_gen(2048));
  if (!key) return SslError("identity key: RSA-2048 generation");

  X509Ptr cert(X509_new());
  if (!cert) return SslError("X509_new");
  if (X509_set_version(cert.get(), 2) != 1) return SslError("X509_set_version");

  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) return SslError("RAND_bytes");
  serial_bytes[0] &= 0x7f;  // positive
  BnPtr serial(BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  if (!serial || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return SslError("certificate serial");
  }

  const time_t not_before = absl::ToTimeT(now - absl::Hours(24));
  const time_t not_after = absl::ToTimeT(now + absl::Hours(24 * 365 * 30));
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), not_before) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), not_after) == nullptr) {
    return SslError("certificate validity");
  }

  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn(common_name);
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("minicloud"), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return SslError("certificate name");
  }
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return SslError("X509_set_pubkey");
  MC_RETURN_IF_ERROR(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  MC_RETURN_IF_ERROR(
      AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign"));
  MC_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return SslError("X509_sign");

  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509(out.get(), cert.get()) != 1) return SslError("certificate PEM");
  std::string cert_pem = BioContents(out.get());
  return IdentitySigner(std::make_shared<const Keys>(std::move(key), std::move(cert)),
                        std::move(cert_pem));
}

absl::StatusOr<IdentitySigner> IdentitySigner::FromPem(absl::string_view key_pem,
                                                       absl::string_view cert_pem) {
  BioPtr kbio = MemBio(key_pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity key: not a PEM private key: ", TakeOpenSslErrors()));
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    return absl::InvalidArgumentError("identity key: not an RSA key");
  }
  MC_ASSIGN_OR_RETURN(X509Ptr cert, ParseCert(cert_pem));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("identity key does not match the certificate");
  }
  return IdentitySigner(std::make_shared<const Keys>(std::move(key), std::move(cert)),
                        std::string(cert_pem));
}

absl::StatusOr<IdentitySigner> IdentitySigner::LoadOrCreate(const std::string& dir,
                                                            absl::Time now) {
  namespace fs = std::filesystem;
  const std::string key_path = (fs::path(dir) / std::string(kKeyFile)).string();
  const std::string cert_path = (fs::path(dir) / std::string(kCertFile)).string();
  std::error_code ec;
  const bool has_key = fs::exists(key_path, ec);
  const bool has_cert = fs::exists(cert_path, ec);
  if (has_key && has_cert) {
    MC_ASSIGN_OR_RETURN(std::string key_pem, file::ReadFileToString(key_path));
    MC_ASSIGN_OR_RETURN(std::string cert_pem, file::ReadFileToString(cert_path));
    absl::StatusOr<IdentitySigner> signer = FromPem(key_pem, cert_pem);
    if (!signer.ok()) return Annotate(signer.status(), absl::StrCat("load ", dir));
    return signer;
  }
  if (has_key || has_cert) {
    return absl::FailedPreconditionError(absl::StrCat("identity signer in ", dir, ": only one of ",
                                                      kKeyFile, " and ", kCertFile,
                                                      " exists; refusing to replace it"));
  }
  MC_ASSIGN_OR_RETURN(IdentitySigner signer, Generate(now));
  MC_RETURN_IF_ERROR(signer.Save(dir));
  return signer;
}

std::string IdentitySigner::private_key_pem() const {
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PrivateKey(out.get(), keys_->key.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    ERR_clear_error();
    return std::string();
  }
  return BioContents(out.get());
}

absl::Status IdentitySigner::Save(const std::string& dir) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", dir, ": ", ec.message()));
  const std::string key_pem = private_key_pem();
  if (key_pem.empty()) return SslError("identity key PEM");
  MC_RETURN_IF_ERROR(
      file::WriteFileAtomic((fs::path(dir) / std::string(kKeyFile)).string(), key_pem, 0600));
  return file::WriteFileAtomic((fs::path(dir) / std::string(kCertFile)).string(), cert_pem_, 0600);
}

absl::StatusOr<SignedDocument> IdentitySigner::Sign(absl::string_view document,
                                                    absl::Time now) const {
  SignedDocument out;
  out.document = std::string(document);

  // signature: RSA-SHA256 over the document bytes.
  {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    size_t len = 0;
    if (!ctx ||
        EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, keys_->key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len,
                       reinterpret_cast<const unsigned char*>(document.data()),
                       document.size()) != 1) {
      return SslError("identity signature");
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(document.data()),
                       document.size()) != 1) {
      return SslError("identity signature");
    }
    sig.resize(len);
    out.signature = Base64Lines(sig);
  }

  // pkcs7 / rsa2048: SignedData with the document embedded, signer certificate left out, binary
  // content (no CRLF canonicalisation), signingTime = now, no S/MIME capabilities.
  {
    const int flags = PKCS7_BINARY | PKCS7_NOCERTS | PKCS7_NOSMIMECAP;
    Pkcs7Ptr p7(PKCS7_sign(nullptr, nullptr, nullptr, nullptr, flags | PKCS7_PARTIAL));
    if (!p7) return SslError("PKCS7_sign");
    PKCS7_SIGNER_INFO* si =
        PKCS7_sign_add_signer(p7.get(), keys_->cert.get(), keys_->key.get(), EVP_sha256(), flags);
    if (si == nullptr) return SslError("PKCS7_sign_add_signer");
    ASN1_TIME* t = ASN1_TIME_set(nullptr, absl::ToTimeT(now));
    if (t == nullptr || PKCS7_add0_attrib_signing_time(si, t) != 1) {
      ASN1_TIME_free(t);
      return SslError("PKCS7 signing time");
    }
    BioPtr data = MemBio(document);
    if (PKCS7_final(p7.get(), data.get(), flags) != 1) return SslError("PKCS7_final");
    unsigned char* der = nullptr;
    const int der_len = i2d_PKCS7(p7.get(), &der);
    if (der_len <= 0) return SslError("i2d_PKCS7");
    std::string der_bytes(reinterpret_cast<const char*>(der), static_cast<size_t>(der_len));
    OPENSSL_free(der);
    out.pkcs7 = Base64Lines(der_bytes);
    out.rsa2048 = out.pkcs7;
  }
  return out;
}

absl::StatusOr<SignedDocument> IdentitySigner::SignFields(const IdentityFields& fields,
                                                          absl::Time now) const {
  return Sign(BuildIdentityDocument(fields), now);
}

absl::Status VerifyIdentitySignature(absl::string_view document, absl::string_view signature_b64,
                                     absl::string_view cert_pem) {
  MC_ASSIGN_OR_RETURN(std::string sig, Base64Decode(signature_b64, "identity signature"));
  MC_ASSIGN_OR_RETURN(X509Ptr cert, ParseCert(cert_pem));
  PkeyPtr pub(X509_get_pubkey(cert.get()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!pub || !ctx ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pub.get()) != 1) {
    return SslError("identity signature verify setup");
  }
  const int rc =
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(document.data()), document.size());
  if (rc != 1) {
    ERR_clear_error();
    return absl::PermissionDeniedError("identity signature does not verify");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> VerifyIdentityPkcs7(absl::string_view pkcs7_b64,
                                                absl::string_view cert_pem) {
  MC_ASSIGN_OR_RETURN(std::string der, Base64Decode(pkcs7_b64, "identity pkcs7"));
  MC_ASSIGN_OR_RETURN(X509Ptr cert, ParseCert(cert_pem));
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  Pkcs7Ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
  if (!p7) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity pkcs7: not DER PKCS#7: ", TakeOpenSslErrors()));
  }
  X509StackPtr certs(sk_X509_new_null());
  if (!certs || sk_X509_push(certs.get(), cert.get()) <= 0) return SslError("cert stack");
  BioPtr content(BIO_new(BIO_s_mem()));
  const int ok = PKCS7_verify(p7.get(), certs.get(), nullptr, nullptr, content.get(),
                              PKCS7_NOVERIFY | PKCS7_BINARY);
  if (ok != 1) {
    return absl::PermissionDeniedError(
        absl::StrCat("identity pkcs7 does not verify: ", TakeOpenSslErrors()));
  }
  return BioContents(content.get());
}

}  // namespace minicloud::identity
