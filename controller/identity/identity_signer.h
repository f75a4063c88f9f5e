#pragma once

// The instance identity document and its signatures, as EC2 serves them under
// dynamic/instance-identity/ [AWS EC2 user guide: instance-identity-documents.md,
// verify-signature.md, verify-pkcs7.md, verify-rsa2048.md]:
//
//   document   pretty-printed JSON, fixed key order, `"key" : value` (see BuildIdentityDocument)
//   signature  base64 of an RSA-SHA256 (PKCS#1 v1.5) signature over the document bytes;
//              verify: base64 -d, `openssl dgst -sha256 -verify <pubkey> -signature sig document`
//   pkcs7      PKCS#7 SignedData, DER, base64 in 64-column lines, no PEM armour and no trailing
//              newline. The document is embedded (not detached): EC2's instructions verify with
//              `openssl smime -verify -in pkcs7 -inform PEM -certfile certificate -noverify`,
//              which prints the document. The signer certificate is not embedded (-certfile).
//   rsa2048    the same structure as pkcs7 (EC2 signs it with a different key; minicloud uses the
//              one per-cloud RSA-2048 key for all three).
//
// The controller owns the signer (one RSA-2048 key + self-signed certificate per cloud, stored as
// PEM files) and signs at launch; agents only serve the resulting strings. The certificate is what
// users verify against (`minicloud` publishes it like AWS publishes its regional certificates).

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace minicloud::identity {

struct IdentityFields {
  std::string account_id;
  std::string architecture = "x86_64";
  std::string availability_zone;
  std::string image_id;
  std::string instance_id;
  std::string instance_type;
  absl::Time pending_time;
  std::string private_ip;
  std::string region;
};

// A document and its signatures: the four strings the metadata service serves under
// dynamic/instance-identity/ (document, signature, pkcs7, rsa2048).
struct SignedDocument {
  std::string document;   // JSON text
  std::string signature;  // base64 RSA-SHA256 over `document`
  std::string pkcs7;      // base64 PKCS#7 SignedData (content embedded), no PEM armour
  std::string rsa2048;    // same form as pkcs7
};

// EC2's document text, byte for byte in EC2's layout:
//   {
//     "accountId" : "123456789012",
//     "architecture" : "x86_64",
//     "availabilityZone" : "us-east-1a",
//     "billingProducts" : null,
//     "devpayProductCodes" : null,
//     "marketplaceProductCodes" : null,
//     "imageId" : "ami-…",
//     "instanceId" : "i-…",
//     "instanceType" : "t3.micro",
//     "kernelId" : null,
//     "pendingTime" : "2024-01-02T03:04:05Z",
//     "privateIp" : "10.0.0.5",
//     "ramdiskId" : null,
//     "region" : "us-east-1",
//     "version" : "2017-09-30"
//   }
// (no trailing newline).
std::string BuildIdentityDocument(const IdentityFields& f);

// The "pendingTime" of a document in the layout above (to the second). InvalidArgument when the
// document has none or it is not `YYYY-MM-DDTHH:MM:SSZ`.
absl::StatusOr<absl::Time> ParsePendingTime(absl::string_view document);

// Holds the cloud's identity key and certificate. Copyable (shares the key); thread-safe for
// concurrent Sign() calls.
class IdentitySigner {
 public:
  inline static constexpr absl::string_view kKeyFile = "identity-key.pem";
  inline static constexpr absl::string_view kCertFile = "identity-cert.pem";

  // A new RSA-2048 key and a self-signed certificate (SHA-256, valid from now - 1 day for 30
  // years, CN = `common_name`).
  static absl::StatusOr<IdentitySigner> Generate(
      absl::Time now, absl::string_view common_name = "minicloud instance identity");
  // From PEM text (PKCS#8 or traditional RSA private key; X.509 certificate). The key must match
  // the certificate.
  static absl::StatusOr<IdentitySigner> FromPem(absl::string_view key_pem,
                                                absl::string_view cert_pem);
  // Loads dir/identity-key.pem + dir/identity-cert.pem, or generates and saves both when neither
  // exists. FailedPrecondition when only one exists (never overwrites a key).
  static absl::StatusOr<IdentitySigner> LoadOrCreate(const std::string& dir, absl::Time now);

  // Writes both files (key mode 0600), each atomically (temp file + rename). Creates `dir`.
  absl::Status Save(const std::string& dir) const;

  // Signs `document`; the PKCS#7 signingTime attribute is `now`.
  absl::StatusOr<SignedDocument> Sign(absl::string_view document, absl::Time now) const;

  // Build + sign in one go.
  absl::StatusOr<SignedDocument> SignFields(const IdentityFields& fields, absl::Time now) const;

  const std::string& certificate_pem() const { return cert_pem_; }
  std::string private_key_pem() const;

 private:
  struct Keys;
  IdentitySigner(std::shared_ptr<const Keys> keys, std::string cert_pem)
      : keys_(std::move(keys)), cert_pem_(std::move(cert_pem)) {}

  std::shared_ptr<const Keys> keys_;
  std::string cert_pem_;
};

// Verifies the base64 `signature` over `document` with the certificate's public key.
absl::Status VerifyIdentitySignature(absl::string_view document, absl::string_view signature_b64,
                                     absl::string_view cert_pem);

// Verifies a `pkcs7` / `rsa2048` body (base64, no armour) against the certificate and returns
// the embedded document.
absl::StatusOr<std::string> VerifyIdentityPkcs7(absl::string_view pkcs7_b64,
                                                absl::string_view cert_pem);

}  // namespace minicloud::identity
