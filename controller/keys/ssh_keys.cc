#include "controller/keys/ssh_keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/openssl.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"

namespace minicloud::keys {
namespace {

// ---------------------------------------------------------------------------------------------
// OpenSSL plumbing.

using crypto::BioPtr;
using crypto::BnPtr;
using crypto::DecoderCtxPtr;
using crypto::EncoderCtxPtr;
using crypto::P8InfoPtr;
using crypto::ParamBldPtr;
using crypto::ParamPtr;
using crypto::PkeyCtxPtr;
using crypto::PkeyPtr;

absl::Status OpenSslInternal(absl::string_view what) { return crypto::OpenSslError(what); }

// A string whose contents are wiped when it goes away (private key bytes).
struct SecretString {
  std::string s;
  SecretString() = default;
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  ~SecretString() {
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  }
};

// ---------------------------------------------------------------------------------------------
// Errors.

constexpr absl::string_view kInvalidKeyFormat = "InvalidKey.Format";

absl::Status KeyFormatError(absl::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, kInvalidKeyFormat, message);
}

// "Key is not in valid OpenSSH public key format: <detail>" -- EC2's own wording for the
// common case, with the detail that EC2 leaves out.
absl::Status MalformedKey(absl::string_view format, absl::string_view detail) {
  return KeyFormatError(
      absl::StrCat("Key is not in valid ", format, " public key format: ", detail));
}

constexpr absl::string_view kOpenSsh = "OpenSSH";
constexpr absl::string_view kPem = "PEM";
constexpr absl::string_view kDer = "DER";
constexpr absl::string_view kRfc4716 = "RFC 4716";

// ---------------------------------------------------------------------------------------------
// Base64 and hex.

// Strict RFC 4648 base64 (standard alphabet). Padding is optional but, if present, must be
// correct and final. No whitespace: callers strip it where a format allows it.
std::optional<std::string> Base64DecodeStrict(absl::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  size_t pad = 0;
  while (pad < in.size() && pad < 2 && in[in.size() - 1 - pad] == '=') ++pad;
  if (pad > 0 && in.size() % 4 != 0) return std::nullopt;
  absl::string_view body = in.substr(0, in.size() - pad);
  if (body.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(body.size() * 3 / 4);
  uint32_t acc = 0;
  int nbits = 0;
  for (char c : body) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out.push_back(static_cast<char>((acc >> nbits) & 0xff));
    }
  }
  return out;
}

std::string Base64Encode(absl::string_view data) { return absl::Base64Escape(data); }

std::string ColonHex(const unsigned char* data, size_t len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 3);
  for (size_t i = 0; i < len; ++i) {
    if (i > 0) out.push_back(':');
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 0xf]);
  }
  return out;
}

absl::StatusOr<std::string> Digest(const EVP_MD* md, absl::string_view data,
                                   absl::string_view what) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (md == nullptr || EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) {
    return OpenSslInternal(absl::StrCat("compute ", what));
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

// OpenSSH's SHA256 fingerprint body (ssh-keygen -l prints it without '=' after "SHA256:");
// EC2 reports it with the padding [VFY].
absl::StatusOr<std::string> Sha256Base64Fingerprint(absl::string_view ssh_blob) {
  MC_ASSIGN_OR_RETURN(std::string digest, Digest(EVP_sha256(), ssh_blob, "SHA-256 fingerprint"));
  return Base64Encode(digest);
}

absl::StatusOr<std::string> ColonHexDigest(const EVP_MD* md, absl::string_view data,
                                           absl::string_view what) {
  MC_ASSIGN_OR_RETURN(std::string digest, Digest(md, data, what));
  return ColonHex(reinterpret_cast<const unsigned char*>(digest.data()), digest.size());
}

// ---------------------------------------------------------------------------------------------
// SSH wire encoding (RFC 4251 section 5).

class SshWriter {
 public:
  void U32(uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<char>(v >> shift));
  }
  void String(absl::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s.data(), s.size());
  }
  // Non-negative mpint: minimal big-endian bytes, a 0x00 prefix when the top bit is set, and no
  // bytes at all for zero.
  void Mpint(const BIGNUM* bn) {
    std::string bytes(static_cast<size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
    if (!bytes.empty() && (static_cast<unsigned char>(bytes[0]) & 0x80)) bytes.insert(0, 1, '\0');
    String(bytes);
  }
  void Raw(absl::string_view s) { out_.append(s.data(), s.size()); }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class SshReader {
 public:
  SshReader(absl::string_view data, absl::string_view format) : in_(data), format_(format) {}

  absl::StatusOr<uint32_t> U32(absl::string_view field) {
    if (in_.size() < 4) return Truncated(field);
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in_[i]);
    in_.remove_prefix(4);
    return v;
  }
  absl::StatusOr<absl::string_view> String(absl::string_view field) {
    MC_ASSIGN_OR_RETURN(uint32_t len, U32(field));
    if (len > in_.size()) return Truncated(field);
    absl::string_view s = in_.substr(0, len);
    in_.remove_prefix(len);
    return s;
  }
  // Non-negative mpint; leading zero bytes are tolerated (as OpenSSH does) and dropped.
  absl::StatusOr<BnPtr> Mpint(absl::string_view field) {
    MC_ASSIGN_OR_RETURN(absl::string_view bytes, String(field));
    if (!bytes.empty() && (static_cast<unsigned char>(bytes[0]) & 0x80)) {
      return MalformedKey(format_, absl::StrCat(field, " is negative"));
    }
    if (bytes.size() > 2049) {  // > 16384 bits: nothing legitimate is that large
      return MalformedKey(format_, absl::StrCat(field, " is too large"));
    }
    BnPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                       static_cast<int>(bytes.size()), nullptr));
    if (bn == nullptr) return OpenSslInternal("decode mpint");
    return bn;
  }
  absl::Status ExpectEnd() const {
    if (!in_.empty()) {
      return MalformedKey(format_,
                          absl::StrCat(in_.size(), " unexpected trailing byte(s) after the key"));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Truncated(absl::string_view field) const {
    return MalformedKey(format_, absl::StrCat("key data is truncated (reading ", field, ")"));
  }
  absl::string_view in_;
  absl::string_view format_;
};

// ---------------------------------------------------------------------------------------------
// Key algorithms.

constexpr absl::string_view kSshRsa = "ssh-rsa";
constexpr absl::string_view kSshEd25519 = "ssh-ed25519";
constexpr absl::string_view kSshDss = "ssh-dss";
constexpr size_t kEd25519KeyBytes = 32;

struct EcCurve {
  absl::string_view ssh_name;   // "ecdsa-sha2-nistp256"
  absl::string_view ssh_curve;  // "nistp256"
  const char* openssl_group;    // "P-256"
  int nid;
  int bits;
};
constexpr std::array<EcCurve, 3> kEcCurves = {{
    {"ecdsa-sha2-nistp256", "nistp256", "P-256", NID_X9_62_prime256v1, 256},
    {"ecdsa-sha2-nistp384", "nistp384", "P-384", NID_secp384r1, 384},
    {"ecdsa-sha2-nistp521", "nistp521", "P-521", NID_secp521r1, 521},
}};

const EcCurve* CurveBySshName(absl::string_view name) {
  for (const auto& c : kEcCurves)
    if (c.ssh_name == name) return &c;
  return nullptr;
}

const EcCurve* CurveByNid(int nid) {
  for (const auto& c : kEcCurves)
    if (c.nid == nid) return &c;
  return nullptr;
}

bool IsSupportedSshType(absl::string_view t) {
  return t == kSshRsa || t == kSshEd25519 || CurveBySshName(t) != nullptr;
}

absl::Status DsaRejected() {
  return KeyFormatError(
      "DSA keys (ssh-dss) are not supported: Amazon EC2 does not accept DSA keys; import an RSA "
      "or ED25519 key");
}

absl::Status UnsupportedType(absl::string_view what) {
  return KeyFormatError(
      absl::StrCat("unsupported key type ", what,
                   "; supported: ssh-rsa, ssh-ed25519, ecdsa-sha2-nistp256/384/521"));
}

// A key parsed from any input format, before policy checks.
struct DecodedKey {
  PkeyPtr pkey;
  KeyType type = KeyType::kRsa;
  int bits = 0;
  std::string ssh_blob;  // canonical SSH public key blob
};

absl::StatusOr<BnPtr> GetBn(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
    return OpenSslInternal(absl::StrCat("read RSA parameter ", name));
  }
  return BnPtr(bn);
}

// Canonical SSH blob, type and size of an OpenSSL key. Unsupported algorithms are
// InvalidKey.Format (they can only come from DER/PEM input).
absl::StatusOr<DecodedKey> Describe(PkeyPtr pkey, absl::string_view format) {
  DecodedKey out;
  SshWriter w;
  switch (EVP_PKEY_get_base_id(pkey.get())) {
    case EVP_PKEY_RSA: {
      MC_ASSIGN_OR_RETURN(BnPtr n, GetBn(pkey.get(), OSSL_PKEY_PARAM_RSA_N));
      MC_ASSIGN_OR_RETURN(BnPtr e, GetBn(pkey.get(), OSSL_PKEY_PARAM_RSA_E));
      // Sanity only (whatever the input format): OpenSSL accepts these but no real key has them.
      if (BN_is_zero(n.get()) || !BN_is_odd(n.get())) {
        return MalformedKey(format, "RSA modulus is not a positive odd number");
      }
      if (!BN_is_odd(e.get()) || BN_is_one(e.get())) {
        return MalformedKey(format, "RSA exponent must be odd and at least 3");
      }
      w.String(kSshRsa);
      w.Mpint(e.get());
      w.Mpint(n.get());
      out.type = KeyType::kRsa;
      out.bits = BN_num_bits(n.get());
      break;
    }
    case EVP_PKEY_ED25519: {
      unsigned char pub[kEd25519KeyBytes];
      size_t len = sizeof(pub);
      if (EVP_PKEY_get_raw_public_key(pkey.get(), pub, &len) != 1 || len != sizeof(pub)) {
        return OpenSslInternal("read ED25519 public key");
      }
      w.String(kSshEd25519);
      w.String(absl::string_view(reinterpret_cast<const char*>(pub), len));
      out.type = KeyType::kEd25519;
      out.bits = 256;
      break;
    }
    case EVP_PKEY_EC: {
      char group[64] = {0};
      size_t glen = 0;
      if (EVP_PKEY_get_group_name(pkey.get(), group, sizeof(group), &glen) != 1) {
        return MalformedKey(format, "EC key without a named curve");
      }
      int nid = OBJ_sn2nid(group);
      if (nid == NID_undef) nid = EC_curve_nist2nid(group);
      const EcCurve* curve = CurveByNid(nid);
      if (curve == nullptr) {
        return UnsupportedType(absl::StrCat("ECDSA on curve ", group));
      }
      // OpenSSH wants the uncompressed point; a compressed SPKI point keeps its form otherwise.
      if (EVP_PKEY_set_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                         "uncompressed") != 1) {
        return OpenSslInternal("set EC point format");
      }
      unsigned char point[1 + 2 * 66];
      size_t plen = 0;
      if (EVP_PKEY_get_octet_string_param(pkey.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                          sizeof(point), &plen) != 1) {
        return OpenSslInternal("read EC public point");
      }
      w.String(curve->ssh_name);
      w.String(curve->ssh_curve);
      w.String(absl::string_view(reinterpret_cast<const char*>(point), plen));
      out.type = KeyType::kEcdsa;
      out.bits = curve->bits;
      break;
    }
    case EVP_PKEY_DSA:
      return DsaRejected();
    default:
      return UnsupportedType(
          absl::StrCat("\"", OBJ_nid2sn(EVP_PKEY_get_base_id(pkey.get())), "\""));
  }
  out.ssh_blob = std::move(w.out());
  out.pkey = std::move(pkey);
  return out;
}

absl::StatusOr<PkeyPtr> FromData(const char* algorithm, OSSL_PARAM_BLD* bld,
                                 absl::string_view format, absl::string_view error) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr));
  EVP_PKEY* raw = nullptr;
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return MalformedKey(format, error);
  }
  return PkeyPtr(raw);
}

// Parses an SSH public key blob. `expected_type`, when non-empty, is the type named outside the
// blob (the OpenSSH line's first field) and must match the one inside.
absl::StatusOr<DecodedKey> ParseSshBlob(absl::string_view blob, absl::string_view expected_type,
                                        absl::string_view format) {
  SshReader r(blob, format);
  MC_ASSIGN_OR_RETURN(absl::string_view type, r.String("key type"));
  if (!expected_type.empty() && type != expected_type) {
    return MalformedKey(format,
                        absl::StrCat("the key says \"", expected_type, "\" but its data holds a \"",
                                     absl::CHexEscape(type.substr(0, 64)), "\" key"));
  }
  if (type == kSshDss) return DsaRejected();
  PkeyPtr pkey;
  if (type == kSshRsa) {
    MC_ASSIGN_OR_RETURN(BnPtr e, r.Mpint("RSA exponent"));
    MC_ASSIGN_OR_RETURN(BnPtr n, r.Mpint("RSA modulus"));
    MC_RETURN_IF_ERROR(r.ExpectEnd());
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (bld == nullptr || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
      return OpenSslInternal("build RSA parameters");
    }
    MC_ASSIGN_OR_RETURN(pkey, FromData("RSA", bld.get(), format, "invalid RSA public key"));
  } else if (type == kSshEd25519) {
    MC_ASSIGN_OR_RETURN(absl::string_view pub, r.String("ED25519 public key"));
    MC_RETURN_IF_ERROR(r.ExpectEnd());
    if (pub.size() != kEd25519KeyBytes) {
      return MalformedKey(
          format, absl::StrCat("ED25519 public key is ", pub.size(), " bytes, expected 32"));
    }
    pkey.reset(EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(pub.data()), pub.size()));
    if (pkey == nullptr) return OpenSslInternal("load ED25519 public key");
  } else if (const EcCurve* curve = CurveBySshName(type)) {
    MC_ASSIGN_OR_RETURN(absl::string_view curve_name, r.String("ECDSA curve"));
    MC_ASSIGN_OR_RETURN(absl::string_view point, r.String("ECDSA point"));
    MC_RETURN_IF_ERROR(r.ExpectEnd());
    if (curve_name != curve->ssh_curve) {
      return MalformedKey(format, absl::StrCat("ECDSA curve \"", absl::CHexEscape(curve_name),
                                               "\" does not match key type ", type));
    }
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (bld == nullptr ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->openssl_group,
                                        0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1) {
      return OpenSslInternal("build EC parameters");
    }
    MC_ASSIGN_OR_RETURN(pkey, FromData("EC", bld.get(), format,
                                       "invalid ECDSA public key: the point is not on the curve"));
  } else {
    return UnsupportedType(absl::StrCat("\"", absl::CHexEscape(type.substr(0, 64)), "\""));
  }
  return Describe(std::move(pkey), format);
}

// DER SubjectPublicKeyInfo, or PKCS#1 RSAPublicKey (`pkcs1_only` for "RSA PUBLIC KEY" PEM).
absl::StatusOr<DecodedKey> ParseDer(absl::string_view der, bool pkcs1_only,
                                    absl::string_view format) {
  const auto* begin = reinterpret_cast<const unsigned char*>(der.data());
  if (!pkcs1_only) {
    const unsigned char* p = begin;
    PkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
    if (pkey != nullptr) {
      if (p != begin + der.size()) {
        return MalformedKey(format, "unexpected trailing bytes after the DER public key");
      }
      return Describe(std::move(pkey), format);
    }
    ERR_clear_error();
  }
  EVP_PKEY* raw = nullptr;
  DecoderCtxPtr dctx(OSSL_DECODER_CTX_new_for_pkey(&raw, "DER", "type-specific", "RSA",
                                                   EVP_PKEY_PUBLIC_KEY, nullptr, nullptr));
  const unsigned char* p = begin;
  size_t left = der.size();
  if (dctx != nullptr && OSSL_DECODER_from_data(dctx.get(), &p, &left) == 1 && raw != nullptr) {
    PkeyPtr pkey(raw);
    if (left != 0) {
      return MalformedKey(format, "unexpected trailing bytes after the DER public key");
    }
    return Describe(std::move(pkey), format);
  }
  EVP_PKEY_free(raw);
  ERR_clear_error();
  return MalformedKey(format, pkcs1_only
                                  ? "not a DER-encoded PKCS#1 RSAPublicKey"
                                  : "not a DER-encoded SubjectPublicKeyInfo or RSAPublicKey");
}

absl::StatusOr<DecodedKey> ParsePem(absl::string_view text) {
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (bio == nullptr) return OpenSslInternal("allocate BIO");
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
    ERR_clear_error();
    return MalformedKey(kPem, "bad PEM armor or base64 body");
  }
  std::string label(name);
  std::string der(reinterpret_cast<const char*>(data), static_cast<size_t>(len));
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_clear_free(data, static_cast<size_t>(len));  // may be a private key pasted by mistake
  if (absl::StrContains(label, "PRIVATE KEY")) {
    OPENSSL_cleanse(der.data(), der.size());
    return KeyFormatError(absl::StrCat(
        "this is a private key (PEM \"", label,
        "\"); import only the public key, e.g. the output of `ssh-keygen -y -f <key>`"));
  }
  if (label == "PUBLIC KEY") return ParseDer(der, /*pkcs1_only=*/false, kPem);
  if (label == "RSA PUBLIC KEY") return ParseDer(der, /*pkcs1_only=*/true, kPem);
  if (label == "DSA PUBLIC KEY") return DsaRejected();
  return MalformedKey(kPem, absl::StrCat("unsupported PEM type \"", label,
                                         "\"; expected PUBLIC KEY or RSA PUBLIC KEY"));
}

std::vector<absl::string_view> Lines(absl::string_view text) {
  std::vector<absl::string_view> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    lines.push_back(absl::StripAsciiWhitespace(line));  // also drops '\r'
  }
  return lines;
}

// RFC 4716 section 3: BEGIN line, headers ("Tag: value", continued by a trailing '\'), base64
// body, END line.
absl::StatusOr<DecodedKey> ParseRfc4716(absl::string_view text, std::string* comment) {
  static constexpr absl::string_view kBegin = "---- BEGIN SSH2 PUBLIC KEY ----";
  static constexpr absl::string_view kEnd = "---- END SSH2 PUBLIC KEY ----";
  std::vector<absl::string_view> lines = Lines(text);
  if (lines.empty() || lines[0] != kBegin) return MalformedKey(kRfc4716, "missing BEGIN line");
  size_t i = 1;
  // Headers: a line with ':' (base64 never has one), plus its continuation lines.
  while (i < lines.size() && absl::StrContains(lines[i], ':')) {
    std::string header;
    while (true) {
      absl::string_view l = lines[i++];
      bool continued = absl::EndsWith(l, "\\");
      if (continued) l.remove_suffix(1);
      header.append(l.data(), l.size());
      if (!continued) break;
      if (i >= lines.size()) return MalformedKey(kRfc4716, "header continues past the end");
    }
    std::pair<std::string, std::string> kv = absl::StrSplit(header, absl::MaxSplits(':', 1));
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(kv.first), "Comment")) {
      absl::string_view v = absl::StripAsciiWhitespace(kv.second);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      *comment = std::string(v);
    }
  }
  std::string body;
  bool ended = false;
  for (; i < lines.size(); ++i) {
    if (lines[i] == kEnd) {
      ended = true;
      ++i;
      break;
    }
    body.append(lines[i].data(), lines[i].size());
  }
  if (!ended) return MalformedKey(kRfc4716, "missing END line");
  for (; i < lines.size(); ++i) {
    if (!lines[i].empty()) return MalformedKey(kRfc4716, "unexpected data after the END line");
  }
  if (body.empty()) return MalformedKey(kRfc4716, "no key data");
  std::optional<std::string> blob = Base64DecodeStrict(body);
  if (!blob) return MalformedKey(kRfc4716, "key data is not valid base64");
  return ParseSshBlob(*blob, "", kRfc4716);
}

constexpr absl::string_view kExpectedShape =
    "expected \"<type> <base64> [comment]\", PEM, RFC 4716 or base64 DER";

bool LooksLikeSshType(absl::string_view token) {
  return absl::StartsWith(token, "ssh-") || absl::StartsWith(token, "ecdsa-") ||
         absl::StartsWith(token, "sk-") || absl::StrContains(token, "@openssh.com");
}

// True for input holding a byte that is neither printable ASCII nor whitespace. With a leading
// 0x30 (SEQUENCE) that means raw DER; text keys may still carry UTF-8 in their comment.
bool IsBinary(absl::string_view s) {
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && !absl::ascii_isspace(c)) || c > 0x7e) return true;
  }
  return false;
}

absl::StatusOr<DecodedKey> ParseOpenSshLine(absl::string_view line, std::string* comment) {
  if (absl::StrContains(line, '\n')) {
    return MalformedKey(kOpenSsh, "expected one public key on a single line");
  }
  // "<type> <base64> [comment]"; fields are separated by runs of spaces or tabs and the
  // comment may itself contain spaces.
  auto next_field = [&line]() {
    size_t start = line.find_first_not_of(" \t");
    if (start == absl::string_view::npos) start = line.size();
    line.remove_prefix(start);
    size_t end = std::min(line.find_first_of(" \t"), line.size());
    absl::string_view field = line.substr(0, end);
    line.remove_prefix(end);
    return field;
  };
  absl::string_view type = next_field();
  absl::string_view b64 = next_field();
  if (type == kSshDss) return DsaRejected();
  if (!IsSupportedSshType(type)) {
    if (!LooksLikeSshType(type)) return MalformedKey(kOpenSsh, kExpectedShape);
    return UnsupportedType(absl::StrCat("\"", absl::CHexEscape(type.substr(0, 64)), "\""));
  }
  if (b64.empty()) return MalformedKey(kOpenSsh, "missing the base64 key data");
  std::optional<std::string> blob = Base64DecodeStrict(b64);
  if (!blob) return MalformedKey(kOpenSsh, "key data is not valid base64");
  *comment = std::string(absl::StripAsciiWhitespace(line));
  return ParseSshBlob(*blob, type, kOpenSsh);
}

absl::Status CheckPolicy(const DecodedKey& key, const ImportOptions& options) {
  switch (key.type) {
    case KeyType::kRsa:
      if (key.bits < options.min_rsa_bits || key.bits > options.max_rsa_bits) {
        return KeyFormatError(
            absl::StrCat("RSA key length ", key.bits, " bits is not supported; it must be between ",
                         options.min_rsa_bits, " and ", options.max_rsa_bits, " bits"));
      }
      return absl::OkStatus();
    case KeyType::kEd25519:
      return absl::OkStatus();
    case KeyType::kEcdsa: {
      if (!options.allow_ecdsa) {
        return KeyFormatError("ECDSA keys are not supported; import an RSA or ED25519 key");
      }
      // The point must lie on the curve (EVP_PKEY_fromdata / d2i do not all check this).
      PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr));
      if (ctx == nullptr || EVP_PKEY_public_check(ctx.get()) != 1) {
        ERR_clear_error();
        return KeyFormatError("invalid ECDSA public key: the point is not on the curve");
      }
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown key type");
}

// ---------------------------------------------------------------------------------------------
// Generation.

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

// Imported-key fingerprint [KPI], [VFY].
absl::StatusOr<std::string> ImportedFingerprint(const DecodedKey& key) {
  if (key.type != KeyType::kRsa) return Sha256Base64Fingerprint(key.ssh_blob);
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key.pkey.get(), &der);
  if (len <= 0) return OpenSslInternal("encode SubjectPublicKeyInfo");
  std::string spki(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return ColonHexDigest(EVP_md5(), spki, "MD5 fingerprint");
}

constexpr size_t kMaxMaterialBytes = 64 * 1024;  // a 16384-bit RSA line is under 3 KiB

}  // namespace

absl::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return "rsa";
    case KeyType::kEd25519:
      return "ed25519";
    case KeyType::kEcdsa:
      return "ecdsa";
  }
  return "unknown";
}

absl::StatusOr<KeyType> ParseKeyType(absl::string_view value) {
  if (value == "rsa") return KeyType::kRsa;
  if (value == "ed25519") return KeyType::kEd25519;
  return InvalidParameterValue(absl::StrCat("Value (", absl::CHexEscape(value.substr(0, 64)),
                                            ") for parameter KeyType is invalid. Valid values: "
                                            "rsa, ed25519"));
}

absl::Status ValidateKeyName(absl::string_view name) {
  if (name.empty()) return MissingParameter("The request must contain the parameter KeyName");
  if (name.size() > kMaxKeyNameLength) {
    return InvalidParameterValue(absl::StrCat("Value for parameter KeyName is invalid: length ",
                                              name.size(), " exceeds the maximum of ",
                                              kMaxKeyNameLength, " characters"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c > 0x7e) {
      return InvalidParameterValue(
          absl::StrCat("Value for parameter KeyName is invalid: character ", i,
                       " is not printable ASCII (key names are up to 255 ASCII characters)"));
    }
  }
  if (name.front() == ' ' || name.back() == ' ') {
    return InvalidParameterValue(
        "Value for parameter KeyName is invalid: it can't include leading or trailing spaces");
  }
  return absl::OkStatus();
}

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

absl::StatusOr<PublicKey> ParsePublicKey(absl::string_view material, const ImportOptions& options) {
  if (material.size() > kMaxMaterialBytes) {
    return KeyFormatError(absl::StrCat("public key material is too large (", material.size(),
                                       " bytes; at most ", kMaxMaterialBytes, ")"));
  }
  absl::string_view text = absl::StripAsciiWhitespace(material);
  if (text.empty()) return KeyFormatError("public key material is empty");

  std::string comment;
  absl::StatusOr<DecodedKey> decoded;
  if (static_cast<unsigned char>(material[0]) == 0x30 && IsBinary(material)) {
    // Raw DER bytes (checked before trimming: DER may end in a byte that looks like a space).
    decoded = ParseDer(material, /*pkcs1_only=*/false, kDer);
  } else if (absl::StartsWith(text, "-----BEGIN ")) {
    decoded = ParsePem(text);
  } else if (absl::StartsWith(text, "---- BEGIN SSH2 PUBLIC KEY")) {
    decoded = ParseRfc4716(text, &comment);
  } else if (absl::string_view first = text.substr(0, text.find_first_of(" \t\r\n"));
             LooksLikeSshType(first) || text.find_first_of(" \t") != absl::string_view::npos) {
    decoded = ParseOpenSshLine(text, &comment);
  } else {
    // Bare base64, possibly wrapped: of DER (EC2's "Base64 encoded DER format") or of an SSH
    // public key blob.
    std::string compact;
    for (char c : text) {
      if (!absl::ascii_isspace(static_cast<unsigned char>(c))) compact.push_back(c);
    }
    std::optional<std::string> bytes = Base64DecodeStrict(compact);
    if (!bytes || bytes->empty()) {
      return MalformedKey(kOpenSsh, kExpectedShape);
    }
    if (static_cast<unsigned char>((*bytes)[0]) == 0x30) {
      decoded = ParseDer(*bytes, /*pkcs1_only=*/false, kDer);
    } else {
      decoded = ParseSshBlob(*bytes, "", kOpenSsh);
    }
  }
  if (!decoded.ok()) return decoded.status();
  MC_RETURN_IF_ERROR(CheckPolicy(*decoded, options));

  PublicKey out;
  out.type = decoded->type;
  out.bits = decoded->bits;
  absl::string_view blob = decoded->ssh_blob;
  // The blob's first field is the SSH type name.
  SshReader r(blob, kOpenSsh);
  MC_ASSIGN_OR_RETURN(absl::string_view ssh_type, r.String("key type"));
  out.public_key_openssh = absl::StrCat(ssh_type, " ", Base64Encode(blob));
  out.comment = std::move(comment);
  MC_ASSIGN_OR_RETURN(out.fingerprint, ImportedFingerprint(*decoded));
  return out;
}

}  // namespace minicloud::keys
