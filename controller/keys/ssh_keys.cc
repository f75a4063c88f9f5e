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
#include "controller/keys/ssh_key_encoding.h"

namespace minicloud::keys {
namespace {

using crypto::BioPtr;
using crypto::BnPtr;
using crypto::DecoderCtxPtr;
using crypto::ParamBldPtr;
using crypto::PkeyCtxPtr;
using crypto::PkeyPtr;
using internal::Base64DecodeStrict;
using internal::Base64Encode;
using internal::ColonHexDigest;
using internal::CurveBySshName;
using internal::DecodedKey;
using internal::Describe;
using internal::DsaRejected;
using internal::EcCurve;
using internal::FromData;
using internal::IsSupportedSshType;
using internal::kDer;
using internal::kEd25519KeyBytes;
using internal::KeyFormatError;
using internal::kOpenSsh;
using internal::kPem;
using internal::kRfc4716;
using internal::kSshDss;
using internal::kSshEd25519;
using internal::kSshRsa;
using internal::MalformedKey;
using internal::OpenSslInternal;
using internal::Sha256Base64Fingerprint;
using internal::SshReader;
using internal::UnsupportedType;

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
