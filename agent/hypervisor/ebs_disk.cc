#include "agent/hypervisor/ebs_disk.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/hypervisor/domain_xml.h"
#include "common/ec2_error.h"
#include "common/string_view_compat.h"

namespace minicloud::hypervisor {
namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }

bool IsVolumeId(std::string_view s) {
  if (!absl::StartsWith(AbslView(s), "vol-")) return false;
  const std::string_view hex = s.substr(4);
  if (hex.size() != 8 && hex.size() != 17) return false;
  return std::all_of(hex.begin(), hex.end(), IsLowerHex);
}

bool IsDnsName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(AbslView(s), '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
  }
  return true;
}

// An IPv6 literal as libvirt's <host name=> takes it: hex groups and colons (at least two), an
// optional dotted IPv4 tail; no brackets, no zone.
bool IsIpv6Literal(std::string_view s) {
  if (s.size() < 2 || s.size() > 45) return false;
  int colons = 0;
  for (char c : s) {
    if (c == ':') {
      ++colons;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != '.') {
      return false;
    }
  }
  return colons >= 2;
}

bool IsExportName(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

// "vd" + 1-2 lowercase letters, not "vda".
bool IsDataTargetDev(std::string_view s) {
  if (!absl::StartsWith(AbslView(s), "vd")) return false;
  const std::string_view letters = s.substr(2);
  if (letters.empty() || letters.size() > 2) return false;
  if (!std::all_of(letters.begin(), letters.end(), IsLower)) return false;
  return s != "vda";
}

absl::Status Invalid(std::string_view volume_id, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("EBS disk ", AbslView(volume_id), ": ", AbslView(what)));
}

// A burst limit needs its sustained limit and is at least it; a burst length needs its burst.
absl::Status CheckBurst(std::string_view id, std::string_view name, int64_t base, int64_t max,
                        int64_t max_length) {
  if (base < 0 || max < 0 || max_length < 0) {
    return Invalid(id, absl::StrCat("iotune ", AbslView(name), " values must be >= 0"));
  }
  if (max > 0 && (base == 0 || max < base)) {
    return Invalid(id, absl::StrCat("iotune ", AbslView(name), "_max needs ", AbslView(name),
                                    " and must be at least it"));
  }
  if (max_length > 0 && max == 0) {
    return Invalid(
        id, absl::StrCat("iotune ", AbslView(name), "_max_length needs ", AbslView(name), "_max"));
  }
  return absl::OkStatus();
}

std::string UnescapeXml(std::string_view s) {
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&apos;", '\''}, {"&quot;", '"'}};
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    bool matched = false;
    if (s[i] == '&') {
      for (const auto& [entity, ch] : kEntities) {
        if (s.substr(i, entity.size()) == entity) {
          out += ch;
          i += entity.size() - 1;
          matched = true;
          break;
        }
      }
    }
    if (!matched) out += s[i];
  }
  return out;
}

// The value of attribute `name` inside the start tag `tag` ("<target dev='vdf' bus='virtio'/>").
std::string AttributeOf(std::string_view tag, std::string_view name) {
  size_t pos = 0;
  while ((pos = tag.find(name, pos)) != std::string_view::npos) {
    const bool word_start =
        pos > 0 && (tag[pos - 1] == ' ' || tag[pos - 1] == '\n' || tag[pos - 1] == '\t');
    const size_t eq = pos + name.size();
    if (word_start && eq + 1 < tag.size() && tag[eq] == '=' &&
        (tag[eq + 1] == '\'' || tag[eq + 1] == '"')) {
      const char quote = tag[eq + 1];
      const size_t end = tag.find(quote, eq + 2);
      if (end == std::string_view::npos) return "";
      return UnescapeXml(tag.substr(eq + 2, end - (eq + 2)));
    }
    pos = eq;
  }
  return "";
}

// The start tag of the first child element `name` in `element` ("" when there is none).
std::string_view StartTag(std::string_view element, std::string_view name) {
  size_t pos = 0;
  const std::string open = absl::StrCat("<", AbslView(name));
  while ((pos = element.find(open, pos)) != std::string_view::npos) {
    const size_t after = pos + open.size();
    if (after < element.size() && (element[after] == ' ' || element[after] == '>' ||
                                   element[after] == '/' || element[after] == '\n')) {
      const size_t end = element.find('>', after);
      if (end == std::string_view::npos) return {};
      return element.substr(pos, end + 1 - pos);
    }
    pos = after;
  }
  return {};
}

}  // namespace

absl::Status ValidateEbsDisk(const EbsDisk& d) {
  const std::string_view id = d.volume_id;
  if (!IsVolumeId(id)) {
    return absl::InvalidArgumentError(
        "EBS disk: volume_id must be vol- and 8 or 17 lowercase hex digits");
  }
  if (!IsDnsName(d.nbd_host) && !IsIpv6Literal(d.nbd_host)) {
    return Invalid(id, "nbd_host must be a DNS name, an IPv4 or an IPv6 literal");
  }
  if (d.nbd_port < 1 || d.nbd_port > 65535) return Invalid(id, "nbd_port must be in [1, 65535]");
  if (!d.nbd_tls_hostname.empty() && (!d.nbd_tls || !IsDnsName(d.nbd_tls_hostname))) {
    return Invalid(id, "nbd_tls_hostname must be a DNS name, and only with nbd_tls");
  }
  if (!IsExportName(d.export_name)) {
    return Invalid(id, "export_name must be 1-255 characters of [A-Za-z0-9._-]");
  }
  if (d.boot ? d.target_dev != "vda" : !IsDataTargetDev(d.target_dev)) {
    return Invalid(id, d.boot ? "target_dev of the boot (root) volume must be vda"
                              : "target_dev must be vd and one or two lowercase letters, not vda");
  }
  return ValidateIoTune(d.volume_id, d.iotune);
}

absl::Status ValidateIoTune(std::string_view volume_id, const volumes::IoTune& t) {
  if (t.size_iops_sec < 0) return Invalid(volume_id, "iotune size_iops_sec must be >= 0");
  if (absl::Status s = CheckBurst(volume_id, "total_bytes_sec", t.total_bytes_sec,
                                  t.total_bytes_sec_max, t.total_bytes_sec_max_length);
      !s.ok()) {
    return s;
  }
  return CheckBurst(volume_id, "total_iops_sec", t.total_iops_sec, t.total_iops_sec_max,
                    t.total_iops_sec_max_length);
}

std::string EbsSerial(std::string_view volume_id) {
  std::string serial(volume_id);
  serial.erase(std::remove(serial.begin(), serial.end(), '-'), serial.end());
  return serial;
}

absl::StatusOr<std::string> EbsTargetDev(std::string_view device_name,
                                         const std::vector<std::string>& targets_in_use) {
  absl::StatusOr<std::string> target = volumes::EbsDeviceTarget(AbslView(device_name));
  if (!target.ok()) return target.status();
  if (std::find(targets_in_use.begin(), targets_in_use.end(), *target) != targets_in_use.end()) {
    return volumes::EbsDeviceInUse(AbslView(device_name));
  }
  return target;
}

std::vector<std::string> DiskTargetsInDomainXml(std::string_view xml) {
  std::vector<std::string> targets;
  size_t pos = 0;
  while (true) {
    const size_t begin = xml.find("<disk", pos);
    if (begin == std::string_view::npos) break;
    const size_t after = begin + 5;
    if (after >= xml.size() || (xml[after] != ' ' && xml[after] != '>')) {
      pos = after;
      continue;
    }
    const size_t end = xml.find("</disk>", after);
    if (end == std::string_view::npos) break;
    const std::string_view element = xml.substr(begin, end + 7 - begin);
    targets.push_back(AttributeOf(StartTag(element, "target"), "dev"));
    pos = end + 7;
  }
  return targets;
}

}  // namespace minicloud::hypervisor
