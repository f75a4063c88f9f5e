#pragma once

// EBS volumes as libvirt network disks. Pure (no libvirt headers, no I/O), like domain_xml.h:
// BuildDomainXml places every DomainSpec::ebs_disks entry after the root disk, and the hot-plug
// path hands BuildEbsDiskXml's element to virDomainAttachDeviceFlags.
//
// The element (libvirt formatdomain, "Hard drives, floppy disks, CDROMs": network disks,
// <source protocol='nbd' name=EXPORT><host name= port=/></source>, <serial>, <iotune>):
//   <disk type='network' device='disk'>
//     <driver name='qemu' type='raw' cache='none' discard='unmap'/>
//     <source protocol='nbd' name='vol-...'><host name='HOST' port='PORT'/></source>
//       (NBD over TLS: <source ... tls='yes' tlsHostname='NAME'>; libvirt 9.0 builds a
//       tls-creds-x509 client object from qemu.conf's nbd_tls_x509_cert_dir, which the agent's
//       embed root points at the host's NBD client certificate, libvirt/embed_root.h)
//     <target dev='vdf' bus='virtio'/>
//     <iotune>...</iotune>
//     <serial>vol...</serial>
//   </disk>
// Choices:
// - raw over NBD: the volume service owns the image format (qcow2 chains, snapshots); the guest
//   sees a plain block device.
// - cache='none': no host page cache between the guest and the network, so a guest flush is an
//   NBD flush and data the guest believes written is on the volume service, not on this host.
//   No io='native': QEMU's Linux AIO applies to local files and host devices, not to NBD.
// - discard='unmap': the guest's TRIM reaches the volume service (thin volumes stay thin).
// - Serial = the volume id without its dash ("vol0123456789abcdef0", 20 characters, exactly
//   what virtio-blk's 20-byte serial holds). EC2 reports that same string as the NVMe serial
//   number of an EBS volume (Amazon EC2 User Guide, "Amazon EBS and NVMe": the volume ID is the
//   device's serial number; amazon-ec2-utils' ebsnvme-id reads it back), so a guest finds the
//   volume as /dev/disk/by-id/virtio-vol0123456789abcdef0 whatever name its driver gave it.
// - Encrypted volumes (EbsDisk::luks_key set) are never a libvirt element: BuildEbsDiskXml
//   refuses them and BuildDomainXml leaves them out; the libvirt adapter plugs them over QMP
//   (ebs_crypt_qmp.h: QEMU's luks driver over the NBD node, so the data is decrypted in this
//   host's QEMU only; EC2's model: encrypted at rest and in transit).
// - Elements, and <iotune>'s children, are written in the order libvirt 9.0 itself formats them
//   (checked: virsh -c test:///default define + dumpxml gives this element back unchanged), only
//   the non-zero ones: total_bytes_sec, total_iops_sec, total_bytes_sec_max, total_iops_sec_max,
//   size_iops_sec, total_bytes_sec_max_length, total_iops_sec_max_length. Only the total_*
//   family is used (EBS limits reads and writes together); read_*/write_* stay unset because
//   libvirt refuses total_* together with read_*/write_* of the same kind.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/hypervisor/hypervisor.h"

namespace minicloud::hypervisor {

// InvalidArgument (naming the field) unless: volume_id is "vol-" and 8 or 17 lowercase hex
// digits; nbd_host is a DNS name ([A-Za-z0-9-] labels of 1-63, dots, at most 253), an IPv4 or
// an IPv6 literal; nbd_port is in [1, 65535]; export_name is 1-255 characters of
// [A-Za-z0-9._-]; target_dev is "vd" and one or two lowercase letters, not the root's "vda"
// (a boot disk's is exactly "vda");
// nbd_tls_hostname is empty or (with nbd_tls) a DNS name;
// iotune values are non-negative, a *_max needs its base limit and is at least it, and a
// *_max_length needs its *_max.
absl::Status ValidateEbsDisk(const EbsDisk& disk);

// The <disk> element for `disk` (validated first; InvalidArgument for an encrypted disk), each line
// indented by `indent` spaces, ending in a newline. Deterministic. indent 0 for
// virDomainAttachDeviceFlags, 4 inside <devices>.
absl::StatusOr<std::string> BuildEbsDiskXml(const EbsDisk& disk, int indent = 0);

// The serial a guest reads for a volume: its id without the dash ("vol-0abc" -> "vol0abc").
std::string EbsSerial(std::string_view volume_id);

// The virtio target for an EBS device name given at attach-volume / in a block device mapping,
// on an instance whose disks already use `targets_in_use` ("vda", "vdf", ...).
// Accepted names (Amazon EC2 User Guide, "Device names for volumes on Amazon EC2 instances",
// Linux HVM: available /dev/sd[a-z], /dev/xvd[a-d][a-z], /dev/xvd[e-z]; /dev/sda1 and /dev/xvda
// reserved for the root), with or without the "/dev/" prefix:
//   /dev/sd[b-z]      -> vd[b-z]      (EC2 recommends /dev/sd[f-p] for EBS data volumes)
//   /dev/xvd[b-z]     -> vd[b-z]      (the same disk: sdf and xvdf are one slot, as on EC2)
//   /dev/xvd[b-d][a-z] -> vd[b-d][a-z]
// The root's names (/dev/sda, /dev/sda1, /dev/xvda) and anything else are InvalidParameterValue
// ("... is not a valid EBS device name"); a name whose target is in use is InvalidParameterValue
// ("... is already in use").
absl::StatusOr<std::string> EbsTargetDev(std::string_view device_name,
                                         const std::vector<std::string>& targets_in_use);

// A <disk> of a libvirt domain XML (virDomainGetXMLDesc), as far as attach and detach need it.
struct DomainDisk {
  std::string target_dev;   // <target dev=>
  bool network = false;     // type='network'
  std::string source_name;  // <source name=> of a network disk (the NBD export)
  std::string element;      // the whole <disk>...</disk> text, for virDomainDetachDeviceFlags
};
// The disks of a domain XML as libvirt formats it, in document order. Attribute values are
// unescaped. Not a general XML parser: it relies on libvirt's well-formed output.
std::vector<DomainDisk> DisksInDomainXml(std::string_view domain_xml);

// Where an attach must still put `disk`, given the disks of the domain's persistent definition
// and of the running guest (`live`, ignored unless `running`): a target missing from a place is
// to be added there; the same export already at the target is done. Another disk at the target
// in either place is FailedPrecondition. Both false = nothing left to do (idempotent attach).
struct AttachPlan {
  bool config = false;  // VIR_DOMAIN_AFFECT_CONFIG
  bool live = false;    // VIR_DOMAIN_AFFECT_LIVE
};
absl::StatusOr<AttachPlan> PlanAttach(const EbsDisk& disk, const std::vector<DomainDisk>& config,
                                      const std::vector<DomainDisk>& live, bool running);

}  // namespace minicloud::hypervisor
