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
// Only a daemon connection (qemu:///system: libvirtd or virtsecretd serves the secrets) works.
// The embedded QEMU driver (qemu:///embed?root=DIR) would look secrets up in the embedded secret
// driver of the same root (SecretUri() names it), but libvirt 9.0's embedded secret driver
// crashes the process on virSecretDefineXML, so Provide() refuses encrypted disks there with
// FailedPrecondition (the fallback, not built yet: start the domain paused and add the
// encrypted disks through QMP — object-add secret, blockdev-add luks over nbd, device_add).

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
