#pragma once

// Pure translation DomainSpec -> libvirt domain XML. No libvirt headers, no I/O: the adapter in
// libvirt/ feeds the result to virDomainDefineXML, and tests compare it against golden files.

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/hypervisor/hypervisor.h"

namespace minicloud::hypervisor {

// Ownership marker. Every domain we define carries
//   <metadata><minicloud:instance xmlns:minicloud='kOwnerNamespaceUri'>
//     <minicloud:id>INSTANCE_ID</minicloud:id></minicloud:instance></metadata>
// and the adapter treats a domain as owned only if that element is present and names the domain.
inline constexpr std::string_view kOwnerNamespaceUri = "https://minicloud.dev/xmlns/domain/1";
inline constexpr std::string_view kOwnerNamespacePrefix = "minicloud";

// SMBIOS type 1 strings the guest sees (dmidecode -s system-manufacturer / system-product-name).
inline constexpr std::string_view kSmbiosManufacturer = "Amazon EC2";
inline constexpr std::string_view kSmbiosProduct = "minicloud";

// InvalidArgument (naming the field) when the spec cannot describe a bootable domain: ids and
// names outside a conservative character set, a malformed SMBIOS UUID or MAC, relative paths,
// initrd/cmdline without kernel, non-positive sizes. Everything the agent receives from the
// controller passes through here before it reaches libvirt.
absl::Status ValidateDomainSpec(const DomainSpec& spec);

// The libvirt domain XML for `spec` (validated first). Deterministic: the same spec always
// yields byte-identical XML. An empty smbios_serial defaults to smbios_uuid (cloud-init 22.4
// needs both, equal); an empty console_log gives the guest a serial port that discards output.
absl::StatusOr<std::string> BuildDomainXml(const DomainSpec& spec);

// BuildDomainXml(spec) for a QEMU that starts waiting for a migration stream instead of running
// its guest: QEMU's `-incoming defer` through libvirt's QEMU namespace
// (<qemu:commandline>, https://libvirt.org/drvqemu.html#pass-through-of-arbitrary-qemu-commands).
// The stream is handed over later with `migrate-incoming` (qmp_save.h). Only for starting a
// saved guest: a definition with it would wait forever on its next cold start.
absl::StatusOr<std::string> BuildIncomingDomainXml(const DomainSpec& spec);

// Escapes & < > ' " for use in XML text and attribute values.
std::string XmlEscape(std::string_view s);

// Extracts the instance id from the metadata element returned by virDomainGetMetadata for
// kOwnerNamespaceUri. libvirt 9.0 returns it without prefix or namespace:
// "<instance>\n  <id>i-1</id>\n</instance>"; prefixed forms are accepted too. nullopt when
// there is no id element.
std::optional<std::string> ParseOwnerMetadata(std::string_view metadata_xml);

}  // namespace minicloud::hypervisor
