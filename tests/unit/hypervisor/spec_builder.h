#pragma once

// Builders for hypervisor tests: MakeSpec("i-1").Kernel("/k").Nic("br0", "02:00:00:00:00:01").

#include <string>
#include <utility>

#include "agent/hypervisor/hypervisor.h"

namespace minicloud::hypervisor::testing {

class SpecBuilder {
 public:
  explicit SpecBuilder(std::string id) {
    spec_.instance_id = std::move(id);
    spec_.smbios_uuid = "ec2d3a4b-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
    spec_.smbios_serial = spec_.smbios_uuid;
    spec_.vcpus = 2;
    spec_.memory_mib = 512;
    spec_.accelerator = Accelerator::kTcg;
    spec_.root_disk = "/var/lib/minicloud/instances/" + spec_.instance_id + "/root.qcow2";
    spec_.console_log = "/var/lib/minicloud/instances/" + spec_.instance_id + "/console.log";
  }
  SpecBuilder& Uuid(std::string uuid) {
    spec_.smbios_uuid = uuid;
    spec_.smbios_serial = std::move(uuid);
    return *this;
  }
  SpecBuilder& Serial(std::string serial) {
    spec_.smbios_serial = std::move(serial);
    return *this;
  }
  SpecBuilder& Vcpus(int n) {
    spec_.vcpus = n;
    return *this;
  }
  SpecBuilder& MemoryMib(int64_t mib) {
    spec_.memory_mib = mib;
    return *this;
  }
  SpecBuilder& Kvm() {
    spec_.accelerator = Accelerator::kKvm;
    return *this;
  }
  SpecBuilder& RootDisk(std::string path) {
    spec_.root_disk = std::move(path);
    return *this;
  }
  SpecBuilder& Kernel(std::string kernel, std::string initrd = "", std::string cmdline = "") {
    spec_.kernel = std::move(kernel);
    spec_.initrd = std::move(initrd);
    spec_.kernel_cmdline = std::move(cmdline);
    return *this;
  }
  SpecBuilder& ConsoleLog(std::string path) {
    spec_.console_log = std::move(path);
    return *this;
  }
  SpecBuilder& Nic(std::string bridge, std::string mac, std::string tap = "") {
    spec_.interfaces.push_back(
        {.bridge = std::move(bridge), .mac = std::move(mac), .tap = std::move(tap)});
    return *this;
  }
  SpecBuilder& InstanceStore(std::string path, std::string target, std::string serial) {
    spec_.instance_store.push_back({std::move(path), std::move(target), std::move(serial)});
    return *this;
  }
  SpecBuilder& Ebs(EbsDisk disk) {
    spec_.ebs_disks.push_back(std::move(disk));
    return *this;
  }
  DomainSpec Build() const { return spec_; }
  operator DomainSpec() const { return spec_; }  // NOLINT: builder convenience

 private:
  DomainSpec spec_;
};

inline SpecBuilder MakeSpec(std::string id) { return SpecBuilder(std::move(id)); }

}  // namespace minicloud::hypervisor::testing
