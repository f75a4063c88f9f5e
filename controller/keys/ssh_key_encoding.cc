#include "controller/keys/ssh_key_encoding.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "common/ec2_error.h"

namespace minicloud::keys::internal {

using crypto::ParamPtr;
using crypto::PkeyCtxPtr;

absl::Status OpenSslInternal(absl::string_view what) { return crypto::OpenSslError(what); }

absl::Status KeyFormatError(absl::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, kInvalidKeyFormat, message);
}

// "Key is not in valid OpenSSH public key format: <detail>" -- EC2's own wording for the
// common case, with the detail that EC2 leaves out.
absl::Status MalformedKey(absl::string_view format, absl::string_view detail) {
  return KeyFormatError(
      absl::StrCat("Key is not in valid ", format, " public key format: ", detail));
}

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

absl::StatusOr<std::string> Sha256Base64Fingerprint(absl::string_view ssh_blob) {
  MC_ASSIGN_OR_RETURN(std::string digest, Digest(EVP_sha256(), ssh_blob, "SHA-256 fingerprint"));
  return Base64Encode(digest);
}

absl::StatusOr<std::string> ColonHexDigest(const EVP_MD* md, absl::string_view data,
                                           absl::string_view what) {
  MC_ASSIGN_OR_RETURN(std::string digest, Digest(md, data, what));
  return ColonHex(reinterpret_cast<const unsigned char*>(digest.data()), digest.size());
}

namespace {

absl::StatusOr<BnPtr> GetBn(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
    return OpenSslInternal(absl::StrCat("read RSA parameter ", name));
  }
  return BnPtr(bn);
}

constexpr std::array<EcCurve, 3> kEcCurves = {{
    {"ecdsa-sha2-nistp256", "nistp256", "P-256", NID_X9_62_prime256v1, 256},
    {"ecdsa-sha2-nistp384", "nistp384", "P-384", NID_secp384r1, 384},
    {"ecdsa-sha2-nistp521", "nistp521", "P-521", NID_secp521r1, 521},
}};

}  // namespace

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

}  // namespace minicloud::keys::internal
