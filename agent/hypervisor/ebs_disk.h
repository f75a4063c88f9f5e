#pragma once

// EBS volumes on the agent's side, pure (no libvirt headers, no I/O), like domain_xml.h: what
// an EbsDisk may hold (ValidateEbsDisk: every field reaches QEMU's monitor or a domain XML), the
// serial a guest reads, the EC2 device name -> virtio target mapping, and the disks of a libvirt
// domain XML (to keep EBS targets off the root and instance store). The disks themselves are
// plugged over QMP (ebs_qmp.h says why not as libvirt <disk> elements).
//
// Serial = the volume id without its dash ("vol0123456789abcdef0", 20 characters, exactly what
// virtio-blk's 20-byte serial holds). EC2 reports that same string as the NVMe serial number of
// an EBS volume (Amazon EC2 User Guide, "Amazon EBS and NVMe": the volume ID is the device's
// serial number; amazon-ec2-utils' ebsnvme-id reads it back), so a guest finds the volume as
// /dev/disk/by-id/virtio-vol0123456789abcdef0 whatever name its driver gave it.

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
// The iotune part of ValidateEbsDisk; errors name `volume_id`.
absl::Status ValidateIoTune(std::string_view volume_id, const volumes::IoTune& iotune);

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

// The targets ("vda", "vdb", ...) of the <disk> elements of a domain XML as libvirt formats it
// (virDomainGetXMLDesc), in document order: the root and instance store, which an EBS disk must
// not take. Not a general XML parser: it relies on libvirt's well-formed output.
std::vector<std::string> DiskTargetsInDomainXml(std::string_view domain_xml);

}  // namespace minicloud::hypervisor
