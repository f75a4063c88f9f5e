#include "common/auth/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace minicloud::auth::sigv4 {
namespace {

bool IsUnreserved(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

std::string UriEncode(absl::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string PercentDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string CanonicalUri(absl::string_view raw_path) {
  if (raw_path.empty()) return "/";
  // Dot segments go as RFC 3986 5.2.4 says; AWS also drops empty segments ("a//b" → "a/b").
  std::vector<absl::string_view> kept;
  for (absl::string_view segment : absl::StrSplit(raw_path, '/')) {
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(segment);
  }
  std::string normalized;
  if (raw_path.front() == '/') normalized = "/";
  normalized += absl::StrJoin(kept, "/");
  if (raw_path.back() == '/' && !kept.empty()) normalized += "/";
  return UriEncode(normalized, /*keep_slash=*/true);
}

std::string CanonicalQueryString(absl::string_view raw_query, absl::string_view drop) {
  std::vector<std::pair<std::string, std::string>> pairs;
  if (raw_query.empty()) return "";
  for (absl::string_view part : absl::StrSplit(raw_query, '&')) {
    if (part.empty()) continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    std::string name = PercentDecode(kv.first);
    if (!drop.empty() && name == drop) continue;
    pairs.emplace_back(UriEncode(name, false), UriEncode(PercentDecode(kv.second), false));
  }
  std::sort(pairs.begin(), pairs.end());
  return absl::StrJoin(pairs, "&", [](std::string* out, const auto& p) {
    absl::StrAppend(out, p.first, "=", p.second);
  });
}

std::string TrimAll(absl::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::string CanonicalHeaders(const std::vector<std::pair<std::string, std::string>>& headers,
                             const std::vector<std::string>& signed_names) {
  std::string out;
  for (const std::string& name : signed_names) {
    std::vector<std::string> values;
    for (const auto& [n, v] : headers) {
      if (absl::EqualsIgnoreCase(n, name)) values.push_back(TrimAll(v));
    }
    absl::StrAppend(&out, name, ":", absl::StrJoin(values, ","), "\n");
  }
  return out;
}

std::string CanonicalRequest(absl::string_view method, absl::string_view raw_path,
                             absl::string_view canonical_query, absl::string_view canonical_headers,
                             absl::string_view signed_headers, absl::string_view payload_hash) {
  return absl::StrCat(method, "\n", CanonicalUri(raw_path), "\n", canonical_query, "\n",
                      canonical_headers, "\n", signed_headers, "\n", payload_hash);
}

std::string CredentialScope(absl::string_view date8, absl::string_view region,
                            absl::string_view service) {
  return absl::StrCat(date8, "/", region, "/", service, "/", kTerminator);
}

std::string StringToSign(absl::string_view amz_date, absl::string_view scope,
                         absl::string_view canonical_request) {
  return absl::StrCat(kAlgorithm, "\n", amz_date, "\n", scope, "\n", Sha256Hex(canonical_request));
}

std::string Hex(absl::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    unsigned char c = static_cast<unsigned char>(ch);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  unsigned int len = 0;
  // EVP_Digest fails only on allocation failure; a wrong hash would then fail verification.
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return Hex(absl::string_view(reinterpret_cast<const char*>(digest), len));
}

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string DeriveSigningKey(absl::string_view secret, absl::string_view date8,
                             absl::string_view region, absl::string_view service) {
  std::string k_date = HmacSha256(absl::StrCat("AWS4", secret), date8);
  std::string k_region = HmacSha256(k_date, region);
  std::string k_service = HmacSha256(k_region, service);
  return HmacSha256(k_service, kTerminator);
}

std::string Signature(absl::string_view signing_key, absl::string_view string_to_sign) {
  return Hex(HmacSha256(signing_key, string_to_sign));
}

void SignRequest(SignedRequest& request, const SigningCredentials& credentials,
                 absl::string_view region, absl::string_view service, absl::Time now) {
  std::erase_if(request.headers, [](const auto& h) {
    return absl::EqualsIgnoreCase(h.first, "authorization") ||
           absl::EqualsIgnoreCase(h.first, "x-amz-date");
  });
  const std::string amz_date = absl::FormatTime(kAmzDateFormat, now, absl::UTCTimeZone());
  request.headers.emplace_back("x-amz-date", amz_date);
  std::vector<std::string> names;
  for (const auto& h : request.headers) names.push_back(absl::AsciiStrToLower(h.first));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  const std::string signed_headers = absl::StrJoin(names, ";");
  const std::string canonical = CanonicalRequest(
      request.method, request.path, CanonicalQueryString(request.query),
      CanonicalHeaders(request.headers, names), signed_headers, Sha256Hex(request.body));
  const std::string date8 = amz_date.substr(0, 8);
  const std::string scope = CredentialScope(date8, region, service);
  const std::string signature =
      Signature(DeriveSigningKey(credentials.secret_access_key, date8, region, service),
                StringToSign(amz_date, scope, canonical));
  request.headers.emplace_back(
      "authorization",
      absl::StrCat(kAlgorithm, " Credential=", credentials.access_key_id, "/", scope,
                   ", SignedHeaders=", signed_headers, ", Signature=", signature));
}

}  // namespace minicloud::auth::sigv4
