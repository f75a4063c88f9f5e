#include "controller/iam/session_credentials.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "common/status_macros.h"

namespace minicloud::controller::iam {
namespace {

constexpr unsigned char kVersion = 1;
// A token larger than this is not one of ours (a payload is a few hundred bytes).
constexpr size_t kMaxTokenChars = 8192;
constexpr absl::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

absl::Status NotOurs() {
  return absl::InvalidArgumentError("The security token included in the request is invalid.");
}

}  // namespace

bool IsSessionAccessKeyId(absl::string_view id) {
  if (id.size() != 20 || !absl::StartsWith(id, "ASIA")) return false;
  for (char c : id.substr(4)) {
    if (kBase32.find(c) == absl::string_view::npos) return false;
  }
  return true;
}

absl::StatusOr<SessionSealer::Issued> SessionSealer::Issue(v1::SessionTokenPayload claims,
                                                           absl::Time now,
                                                           absl::Duration lifetime) const {
  auto id_bytes = auth::RandomBytes(16);
  if (!id_bytes.ok()) return id_bytes.status();
  std::string key_id = "ASIA";
  for (unsigned char b : *id_bytes) key_id.push_back(kBase32[b % 32]);
  auto secret_bytes = auth::RandomBytes(30);
  if (!secret_bytes.ok()) return secret_bytes.status();
  claims.set_access_key_id(key_id);
  claims.set_secret_access_key(absl::Base64Escape(*secret_bytes));  // 40 characters
  claims.set_issued_ms(absl::ToUnixMillis(now));
  claims.set_expiration_ms(absl::ToUnixMillis(now + lifetime));

  MC_ASSIGN_OR_RETURN(std::string box, box_.Seal(claims.SerializeAsString(), kSessionTokenAad));
  std::string sealed(1, static_cast<char>(kVersion));
  sealed += box;
  return Issued{std::move(claims), absl::Base64Escape(sealed)};
}

absl::StatusOr<v1::SessionTokenPayload> SessionSealer::Open(absl::string_view token) const {
  if (token.size() > kMaxTokenChars) return NotOurs();
  std::string sealed;
  if (!absl::Base64Unescape(token, &sealed) || sealed.empty() ||
      static_cast<unsigned char>(sealed[0]) != kVersion) {
    return NotOurs();
  }
  // Any failure to open (another key, altered bytes, truncation, another purpose) is "not ours".
  absl::StatusOr<std::string> plain =
      box_.Open(absl::string_view(sealed).substr(1), kSessionTokenAad);
  if (!plain.ok()) return NotOurs();
  v1::SessionTokenPayload payload;
  if (!payload.ParseFromString(*plain) || !IsSessionAccessKeyId(payload.access_key_id())) {
    return NotOurs();
  }
  return payload;
}

}  // namespace minicloud::controller::iam
