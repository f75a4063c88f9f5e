#include "agent/network/resolv_conf.h"

#include <arpa/inet.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace minicloud::network {
namespace {

// An IPv4 or IPv6 literal (IPv6 with an optional %zone).
bool IsAddressLiteral(absl::string_view text) {
  if (text.empty() || text.size() > 63) return false;
  const std::string s(text);
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return true;
  const std::string without_zone = s.substr(0, s.find('%'));
  if (s.find('%') != std::string::npos && s.size() == without_zone.size() + 1) return false;
  return inet_pton(AF_INET6, without_zone.c_str(), buf) == 1;
}

}  // namespace

std::vector<std::string> ParseResolvConfNameservers(absl::string_view text) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.size() < 2 || words[0] != "nameserver") continue;
    if (IsAddressLiteral(words[1])) out.emplace_back(words[1]);
  }
  return out;
}

bool IsLoopbackResolver(absl::string_view address) {
  const std::string s(address.substr(0, address.find('%')));
  unsigned char b[16];
  if (inet_pton(AF_INET, s.c_str(), b) == 1) return b[0] == 127;
  if (inet_pton(AF_INET6, s.c_str(), b) != 1) return false;
  static constexpr unsigned char kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  bool loop6 = true, mapped = true;
  for (int i = 0; i < 16; ++i) loop6 = loop6 && b[i] == kLoop6[i];
  for (int i = 0; i < 10; ++i) mapped = mapped && b[i] == 0;
  mapped = mapped && b[10] == 0xff && b[11] == 0xff && b[12] == 127;
  return loop6 || mapped;
}

UpstreamChoice ChooseUpstreams(const std::vector<std::string>& nameservers,
                               bool loopback_reachable) {
  UpstreamChoice c;
  for (const std::string& ns : nameservers) {
    if (!loopback_reachable && IsLoopbackResolver(ns)) {
      c.dropped.push_back(ns);
    } else {
      c.servers.push_back(ns);
    }
  }
  return c;
}

absl::Status ValidateUpstreams(const std::vector<std::string>& servers) {
  if (servers.empty()) return absl::InvalidArgumentError("no upstream DNS server given");
  for (const std::string& s : servers) {
    if (!IsAddressLiteral(s)) {
      return absl::InvalidArgumentError(
          absl::StrCat("upstream DNS server '", s, "' is not an IPv4 or IPv6 address"));
    }
  }
  return absl::OkStatus();
}

std::string RenderUpstreamResolvConf(const std::vector<std::string>& servers) {
  std::string out;
  for (const std::string& s : servers) absl::StrAppend(&out, "nameserver ", s, "\n");
  return out;
}

}  // namespace minicloud::network
