#pragma once

// The LUKS keys of encrypted EBS disks as libvirt secrets, for exactly one libvirt call.
//
// EbsDisk::luks_key is the volume's data key. Before a domain with encrypted disks is started,
// or an encrypted disk is hot-plugged, each such disk gets a fresh random secret UUID (which its
// <encryption> element names) and a libvirt secret defined ephemeral='yes' (never written under
// the libvirt root) and private='yes' (its value cannot be read back through the API), holding
// the key. libvirt hands the key to QEMU itself (encrypted with the domain's master key, QEMU's
// `secret` object); once QEMU opened the disk the secret is no longer needed, and DiskSecrets'
// destructor undefines every secret it defined. So the key lives on this host only in libvirt's
// and QEMU's memory, for the life of the guest's QEMU process.
//
// The embedded QEMU driver (qemu:///embed?root=DIR) looks secrets up in the embedded secret
// driver of the same root: SecretUri() gives secret:///embed?root=DIR for it, and the URI itself
// for a daemon connection (qemu:///system serves secrets too).

#include <libvirt/libvirt.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/hypervisor/hypervisor.h"

namespace minicloud::hypervisor {

// The connection URI on which secrets for `domain_uri`'s QEMU driver are defined.
std::string SecretUri(const std::string& domain_uri);

// The <secret> definition of a disk's key (no key material in it).
std::string DiskSecretXml(const EbsDisk& disk);

class DiskSecrets {
 public:
  // `uri`: the hypervisor's connection URI. Opens the secret connection on first use.
  explicit DiskSecrets(std::string uri) : uri_(std::move(uri)) {}
  ~DiskSecrets();
  DiskSecrets(const DiskSecrets&) = delete;
  DiskSecrets& operator=(const DiskSecrets&) = delete;

  // For an encrypted disk (luks_key set): picks disk.secret_uuid and defines the secret with
  // the key as its value. Nothing for a plain disk. Errors name the volume, never the key.
  absl::Status Provide(EbsDisk& disk);

 private:
  std::string uri_;
  virConnectPtr conn_ = nullptr;
  std::vector<virSecretPtr> defined_;
};

}  // namespace minicloud::hypervisor
