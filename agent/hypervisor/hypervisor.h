#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/volume_limits.h"

namespace minicloud::hypervisor {

// How guests are executed. KVM only when a bounded probe proved it works (see kvm_probe.h).
enum class Accelerator { kKvm, kTcg };
std::string_view AcceleratorName(Accelerator a);  // "kvm" | "tcg"

struct NetworkInterface {
  std::string bridge;  // host bridge the tap joins
  std::string mac;     // "02:xx:xx:xx:xx:xx"
  std::string tap;     // tap device name chosen by the agent (<= 15 chars); empty = hypervisor's
};

// One EBS volume seen by a guest: a network disk that the availability zone's volume service
// exports over NBD (host:port, export name = volume id). The guest reads the volume id back as
// the disk's serial (see ebs_disk.h). Validated by ValidateEbsDisk before any XML is built.
struct EbsDisk {
  std::string volume_id;    // "vol-0123456789abcdef0"
  std::string nbd_host;     // volume service: DNS name, IPv4 or IPv6 literal (no brackets)
  int nbd_port = 10809;     // NBD's registered port
  std::string export_name;  // NBD export name; the volume service uses the volume id
  // NBD over TLS: QEMU shows the host's NBD client certificate (agent/runtime/nbd_client_tls.h)
  // and checks the volume service's against nbd_tls_hostname (a DNS name; empty: nbd_host).
  bool nbd_tls = false;
  std::string nbd_tls_hostname = {};
  std::string target_dev;  // virtio target, "vdf" (EbsTargetDev maps /dev/sdf to it)
  volumes::IoTune iotune;  // volumes::IoTuneOf(type, size, performance)
  // The root volume of an EBS-backed instance: target vda, the disk the guest boots from (in
  // place of DomainSpec::root_disk, which is then empty).
  bool boot = false;
  // An encrypted volume: the NBD export carries LUKS ciphertext and this host's QEMU decrypts
  // it with this passphrase (the volume's data key). SECRET: never in XML, files or logs; the
  // libvirt adapter hands it to QEMU over the monitor socket (ebs_qmp.h), and the domain
  // XML never has the disk.
  std::string luks_key = {};
  // The volume's size as the controller knows it (0: not given). QEMU learns the disk's size
  // from the export; GrowDisk is what makes a running guest see a grown volume.
  int64_t size_bytes = 0;
};

// One instance-store volume: a sparse raw file on this host's disk, created by the agent at boot
// and deleted when the instance stops or terminates. The guest finds it by its serial
// (/dev/disk/by-id/virtio-ephemeral0).
struct InstanceStoreDisk {
  std::string path;        // absolute path of the raw file
  std::string target_dev;  // virtio target, "vdb" (/dev/sdb in EC2's names)
  std::string serial;      // "ephemeral0"
};

// Everything needed to boot one instance. Paths are absolute and prepared by the agent.
struct DomainSpec {
  std::string instance_id;    // the domain name ("i-0123...")
  std::string smbios_uuid;    // system UUID, "ec2xxxxx-xxxx-..." so cloud-init sees an EC2 platform
  std::string smbios_serial;  // equal to smbios_uuid (cloud-init 22.4 checks both)
  int vcpus = 1;
  int64_t memory_mib = 512;
  Accelerator accelerator = Accelerator::kTcg;
  // qcow2 overlay, attached as the first virtio disk (vda); empty when an ebs_disks entry is the
  // boot disk (an EBS-backed instance).
  std::string root_disk;
  // Direct kernel boot (AKI/ARI-style AMIs); empty kernel = boot through firmware from disk.
  std::string kernel;
  std::string initrd;
  std::string kernel_cmdline;
  std::string console_log;  // serial console is appended to this file
  std::vector<NetworkInterface> interfaces;
  std::vector<InstanceStoreDisk> instance_store;  // after the root disk, before EBS disks
  std::vector<EbsDisk> ebs_disks;                 // attached EBS data volumes, after the root disk
};

// An EBS disk a domain has (ListEbsDisks): its virtio target and the NBD export it reads.
struct AttachedEbsDisk {
  std::string target_dev;   // "vdf"
  std::string export_name;  // the volume service's export (the volume id)
  int64_t size_bytes = 0;   // the size the guest sees; 0 when the adapter cannot tell
};

enum class DomainState { kRunning, kPaused, kShutoff, kCrashed, kOther };
std::string_view DomainStateName(DomainState s);

struct DomainInfo {
  std::string instance_id;
  DomainState state = DomainState::kOther;
};

// How StopDomain stops a guest.
enum class StopMode {
  kGraceful,  // press the ACPI power button and return; the guest shuts itself down
  kForce,     // power off at once (like pulling the plug)
};

struct HostResources {
  int cpus = 0;
  int64_t memory_mib = 0;
};

// The agent's only door to a hypervisor. Implementations: libvirt (real), fake (tests).
//
// Contract:
// - Only domains created through this interface are "owned"; List() never returns others, and
//   Destroy() refuses to touch them (FailedPrecondition).
// - CreateAndStart is idempotent: an owned domain of that name that already runs is success.
//   On failure nothing is left defined.
// - Destroy stops (hard) and undefines; a missing domain is success (idempotent).
// - StopDomain stops a running owned domain and keeps it defined, so CreateAndStart boots it
//   again with its disks; a domain that is not running is success, a missing one NotFound.
// - RebootDomain asks a running owned domain's guest to reboot (ACPI) and, when the guest or
//   driver cannot take the request, resets it (like the reset button); the domain stays
//   running and defined, its disks untouched. A domain that is not running is
//   FailedPrecondition, a missing one NotFound.
// - AttachDisk hot-plugs an EBS disk (validated like ebs_disks in a DomainSpec; InvalidArgument
//   otherwise) into the running guest of an owned domain. A domain's persistent definition
//   never holds EBS disks: a domain that is not running gets nothing (success), and a domain is
//   started with its disks in DomainSpec::ebs_disks. Idempotent: the same volume export already
//   at that target is success. Another disk at that target (EBS, root or instance store) is
//   FailedPrecondition; a missing domain NotFound.
// - DetachDisk asks the running guest to release the EBS disk at a virtio target (from
//   DomainSpec::ebs_disks or AttachDisk). Idempotent: no EBS disk at that target is success. The
//   root disk (vda) and instance-store disks are FailedPrecondition. Hot-unplug needs the
//   guest's cooperation: success means the guest was asked to release it; calling again
//   re-asks while it still holds it.
// - ListEbsDisks returns the EBS disks of an owned domain's running guest (a disk whose
//   hot-unplug the guest has not finished is still listed); none for a domain that is not
//   running. A missing domain NotFound.
//   An agent that restarts re-derives what is attached from it.
// - GrowDisk makes the running guest see the EBS disk at a target as `bytes` long (a volume
//   grown online): the volume service re-creates a grown volume's export, so the disk's NBD
//   client reconnects to it first, then the disk is resized and the guest told (virtio's config
//   change). Success when the guest's disk already has at least that size (never shrinks).
//   FailedPrecondition while the export is still smaller (call again later) or the domain is not
//   running; NotFound for a missing domain or no EBS disk at that target.
// - SetDiskLimits sets the I/O limits of the EBS disk at a target of the running guest (a volume
//   whose type or IOPS changed); idempotent. InvalidArgument for limits ValidateEbsDisk refuses;
//   FailedPrecondition when the domain is not running; NotFound as GrowDisk.
// - SaveDomain writes a running owned domain's whole state (RAM, CPU and device state) into the
//   new file `path` (0600; an existing file is replaced) and leaves the domain shut off and
//   defined, its disks untouched (hibernation). A domain that is not running is
//   FailedPrecondition, a missing one NotFound. On failure the guest keeps running and no file
//   is left.
// - RestoreDomain starts `spec`'s domain from a file SaveDomain wrote, here or on another host:
//   spec (validated like CreateAndStart's) says this host's disks, taps and endpoints; the
//   guest's devices must be those it was saved with. The domain is defined with spec and runs
//   on with the processes it had. A domain of that name already running is success (it was
//   restored before); on failure nothing runs (a definition may stay, as for a stopped domain).
// - Domains keep running when the Hypervisor object (or the agent process) goes away; a new
//   instance re-adopts them through List().
// - Methods are thread-safe.
class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  virtual absl::Status CreateAndStart(const DomainSpec& spec) = 0;
  virtual absl::Status Destroy(std::string_view instance_id) = 0;
  virtual absl::Status StopDomain(std::string_view instance_id, StopMode mode) = 0;
  virtual absl::Status RebootDomain(std::string_view instance_id) = 0;
  virtual absl::StatusOr<std::vector<DomainInfo>> List() = 0;
  // NotFound when no owned domain has that name.
  virtual absl::StatusOr<DomainInfo> Get(std::string_view instance_id) = 0;
  virtual absl::StatusOr<HostResources> GetHostResources() = 0;
  virtual absl::Status AttachDisk(std::string_view instance_id, const EbsDisk& disk) = 0;
  virtual absl::Status DetachDisk(std::string_view instance_id, std::string_view target_dev) = 0;
  virtual absl::StatusOr<std::vector<AttachedEbsDisk>> ListEbsDisks(
      std::string_view instance_id) = 0;
  virtual absl::Status GrowDisk(std::string_view instance_id, std::string_view target_dev,
                                int64_t bytes) = 0;
  virtual absl::Status SetDiskLimits(std::string_view instance_id, std::string_view target_dev,
                                     const volumes::IoTune& iotune) = 0;
  virtual absl::Status SaveDomain(std::string_view instance_id, const std::string& path) = 0;
  virtual absl::Status RestoreDomain(const DomainSpec& spec, const std::string& path) = 0;
};

}  // namespace minicloud::hypervisor
