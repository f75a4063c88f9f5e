#pragma once

// SSH key pairs as EC2 creates, imports and fingerprints them (CreateKeyPair, ImportKeyPair,
// DescribeKeyPairs). Pure functions over bytes: no files, no clock, no store.
//
// Sources (EC2 behaviour we reproduce; see the comments in ssh_keys.cc for details):
//  [CKP]  EC2 API Reference, CreateKeyPair: "Creates an ED25519 or 2048-bit RSA key pair ...
//         The private key is returned as an unencrypted PEM encoded PKCS#1 private key";
//         KeyName "Constraints: Up to 255 ASCII characters"; KeyType default rsa.
//  [KPI]  EC2 API Reference, KeyPairInfo.keyFingerprint: created RSA -> "SHA-1 digest of the DER
//         encoded private key"; imported RSA -> MD5; ED25519 -> "base64-encoded SHA-256 digest,
//         which is the default for OpenSSH, starting with OpenSSH 6.8".
//  [VFY]  EC2 User Guide, "Verify your key pair's fingerprint" (verify-keys.md): created RSA =
//         `openssl pkcs8 -topk8 -nocrypt -outform DER | openssl sha1 -c`; imported RSA =
//         `openssl rsa -pubout -outform DER | openssl md5 -c`; ED25519 = `ssh-keygen -l`;
//         "Amazon EC2 might append padding to the fingerprint with = characters. Other tools,
//         such as ssh-keygen, might omit this padding."
//  [IMP]  EC2 User Guide, "Create a key pair using a third-party tool and import the public key"
//         (create-key-pairs.md): supported types RSA and ED25519, "Amazon EC2 does not accept DSA
//         keys"; formats: OpenSSH public key format, (RSA only) Base64 encoded DER, (RSA only)
//         RFC 4716 SSH public key file format; "Supported lengths: 1024, 2048, and 4096"; a key
//         name "can include up to 255 ASCII characters. It can't include leading or trailing
//         spaces."

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::keys {

// EC2's KeyType is `rsa | ed25519`. kEcdsa exists only for ImportKeyPair when
// ImportOptions::allow_ecdsa is set (an extension: EC2 itself imports RSA and ED25519 only [IMP]).
enum class KeyType { kRsa, kEd25519, kEcdsa };

// "rsa", "ed25519" (the EC2 wire values) or "ecdsa".
absl::string_view KeyTypeName(KeyType type);

// Parses the EC2 CreateKeyPair `KeyType` value: exactly "rsa" or "ed25519". Anything else is
// InvalidParameterValue. (An absent parameter means rsa; that default belongs to the caller.)
absl::StatusOr<KeyType> ParseKeyType(absl::string_view value);

inline constexpr int kGeneratedRsaBits = 2048;    // [CKP]
inline constexpr int kMinImportRsaBits = 1024;    // [IMP] smallest supported length
inline constexpr int kMaxImportRsaBits = 4096;    // [IMP] largest supported length
inline constexpr size_t kMaxKeyNameLength = 255;  // [CKP], [IMP]

// EC2 key pair names: 1..255 printable ASCII characters (0x20..0x7e), no leading or trailing
// space [IMP]. Control characters are rejected too: the documents say "ASCII", and a name with a
// newline would corrupt logs and CLI tables. Errors: MissingParameter (empty) or
// InvalidParameterValue.
absl::Status ValidateKeyName(absl::string_view name);

struct GeneratedKeyPair {
  KeyType type = KeyType::kRsa;
  // What CreateKeyPair returns as KeyMaterial (KeyFormat=pem), newline-terminated:
  //  rsa:     "-----BEGIN RSA PRIVATE KEY-----" (PKCS#1, unencrypted) [CKP]
  //  ed25519: "-----BEGIN OPENSSH PRIVATE KEY-----" (openssh-key-v1, cipher and kdf "none",
  //           empty comment), the format ssh-keygen writes and `ssh -i` reads.
  std::string private_key_material;
  // "ssh-rsa AAAA..." / "ssh-ed25519 AAAA...": type and base64 blob, no comment, no newline.
  std::string public_key_openssh;
  // rsa: SHA-1 of the DER PKCS#8 PrivateKeyInfo, lowercase colon hex (59 chars).
  // ed25519: base64 SHA-256 of the SSH public key blob, with '=' padding (44 chars).
  std::string fingerprint;
};

// Creates a fresh key pair (RSA 2048 with e=65537, or ED25519). Key material comes from
// OpenSSL's CSPRNG on purpose: a seeded, injectable RNG has no place in secret keys, and nothing
// about the output needs to be reproducible. kEcdsa is InvalidParameterValue (EC2 cannot create
// it). OpenSSL failures are Internal.
absl::StatusOr<GeneratedKeyPair> GenerateKeyPair(KeyType type);

struct ImportOptions {
  // EC2 rejects ECDSA [IMP]; minicloud accepts it by default because OpenSSH users have such
  // keys. Set to false for strict EC2 behaviour. (KeyPairInfo.keyType has no value for it, so a
  // caller that keeps ECDSA keys must decide how to render their type.)
  bool allow_ecdsa = true;
  int min_rsa_bits = kMinImportRsaBits;
  int max_rsa_bits = kMaxImportRsaBits;
};

struct PublicKey {
  KeyType type = KeyType::kRsa;
  // Modulus bits for RSA, 256 for ED25519, curve size (256/384/521) for ECDSA.
  int bits = 0;
  // Normalized "<ssh type> <base64 of the canonical SSH blob>", no comment: the same key always
  // yields the same line whatever format it was imported in.
  std::string public_key_openssh;
  // The OpenSSH line's comment or the RFC 4716 "Comment:" header (unquoted); may be empty.
  std::string comment;
  // The fingerprint EC2 reports for an *imported* key:
  //  rsa:     MD5 of the DER SubjectPublicKeyInfo, lowercase colon hex [VFY]. Note this is NOT
  //           `ssh-keygen -l -E md5`, which hashes the SSH blob.
  //  ed25519: base64 SHA-256 of the SSH blob with '=' padding [KPI], [VFY] (same as created).
  //  ecdsa:   same scheme as ed25519 (EC2 defines none; this is what `ssh-keygen -l` shows).
  std::string fingerprint;
};

// Parses ImportKeyPair's PublicKeyMaterial (after the API-level base64 has been removed).
// Accepted, surrounding whitespace ignored:
//  - an OpenSSH public key line: "ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp{256,384,521} <base64>
//    [comment]" (one line; authorized_keys options and certificates are not accepted);
//  - PEM "PUBLIC KEY" (SubjectPublicKeyInfo) or "RSA PUBLIC KEY" (PKCS#1);
//  - base64 of DER SubjectPublicKeyInfo or PKCS#1 RSAPublicKey (line breaks allowed), or the
//    raw DER bytes;
//  - RFC 4716 "---- BEGIN SSH2 PUBLIC KEY ----" blocks;
//  - a bare base64 SSH public key blob.
// EC2 documents DER and RFC 4716 for RSA only [IMP]; they are accepted here for every supported
// type, since the key inside is the same.
// Errors are InvalidArgument carrying the EC2 code "InvalidKey.Format" with a message naming
// the problem: malformed base64 or structure, truncated data, a blob whose type differs from
// the line's, DSA ("ssh-dss"), unsupported types, RSA outside [min_rsa_bits, max_rsa_bits],
// invalid EC points, private keys pasted by mistake.
absl::StatusOr<PublicKey> ParsePublicKey(absl::string_view material,
                                         const ImportOptions& options = {});

}  // namespace minicloud::keys
