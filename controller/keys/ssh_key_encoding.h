#pragma once

// What SSH key import (ssh_keys.cc) and generation (ssh_key_generation.cc) share: key-format
// errors, strict base64 and the digests behind fingerprints, the SSH wire encoding (RFC 4251
// section 5), and the mapping between an OpenSSL key and its canonical SSH public key blob.
// Internal to minicloud_keys.

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/crypto/openssl.h"
#include "common/status_macros.h"
#include "controller/keys/ssh_keys.h"

namespace minicloud::keys::internal {

using crypto::BnPtr;
using crypto::PkeyPtr;

absl::Status OpenSslInternal(absl::string_view what);

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

inline constexpr absl::string_view kInvalidKeyFormat = "InvalidKey.Format";

absl::Status KeyFormatError(absl::string_view message);

// "Key is not in valid OpenSSH public key format: <detail>" -- EC2's own wording for the
// common case, with the detail that EC2 leaves out.
absl::Status MalformedKey(absl::string_view format, absl::string_view detail);

inline constexpr absl::string_view kOpenSsh = "OpenSSH";
inline constexpr absl::string_view kPem = "PEM";
inline constexpr absl::string_view kDer = "DER";
inline constexpr absl::string_view kRfc4716 = "RFC 4716";

// ---------------------------------------------------------------------------------------------
// Base64, hex and digests.

// Strict RFC 4648 base64 (standard alphabet). Padding is optional but, if present, must be
// correct and final. No whitespace: callers strip it where a format allows it.
std::optional<std::string> Base64DecodeStrict(absl::string_view in);
std::string Base64Encode(absl::string_view data);
std::string ColonHex(const unsigned char* data, size_t len);
absl::StatusOr<std::string> Digest(const EVP_MD* md, absl::string_view data,
                                   absl::string_view what);
// OpenSSH's SHA256 fingerprint body (ssh-keygen -l prints it without '=' after "SHA256:");
// EC2 reports it with the padding [VFY].
absl::StatusOr<std::string> Sha256Base64Fingerprint(absl::string_view ssh_blob);
absl::StatusOr<std::string> ColonHexDigest(const EVP_MD* md, absl::string_view data,
                                           absl::string_view what);

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

inline constexpr absl::string_view kSshRsa = "ssh-rsa";
inline constexpr absl::string_view kSshEd25519 = "ssh-ed25519";
inline constexpr absl::string_view kSshDss = "ssh-dss";
inline constexpr size_t kEd25519KeyBytes = 32;

struct EcCurve {
  absl::string_view ssh_name;   // "ecdsa-sha2-nistp256"
  absl::string_view ssh_curve;  // "nistp256"
  const char* openssl_group;    // "P-256"
  int nid;
  int bits;
};

const EcCurve* CurveBySshName(absl::string_view name);
const EcCurve* CurveByNid(int nid);
bool IsSupportedSshType(absl::string_view t);
absl::Status DsaRejected();
absl::Status UnsupportedType(absl::string_view what);

// A key parsed from any input format, before policy checks.
struct DecodedKey {
  PkeyPtr pkey;
  KeyType type = KeyType::kRsa;
  int bits = 0;
  std::string ssh_blob;  // canonical SSH public key blob
};

// Canonical SSH blob, type and size of an OpenSSL key. Unsupported algorithms are
// InvalidKey.Format (they can only come from DER/PEM input).
absl::StatusOr<DecodedKey> Describe(PkeyPtr pkey, absl::string_view format);

// A public key of `algorithm` ("RSA", "EC") from the parameters in `bld`; `error` is the
// MalformedKey detail when OpenSSL refuses them.
absl::StatusOr<PkeyPtr> FromData(const char* algorithm, OSSL_PARAM_BLD* bld,
                                 absl::string_view format, absl::string_view error);

}  // namespace minicloud::keys::internal
