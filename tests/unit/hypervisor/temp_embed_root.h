#pragma once

// A private root for libvirt's embedded QEMU driver, for the hypervisor tests that boot real
// guests (labelled e2e). Short (/tmp/<prefix>-XXXXXX): QEMU's monitor sockets live under it and
// UNIX socket paths are limited to 107 bytes. QEMU runs as root: these tests make their disks
// in the private directory and share nothing. Removed when this goes away.

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "agent/hypervisor/libvirt/embed_root.h"
#include "agent/hypervisor/qemu_account.h"

namespace minicloud::hypervisor::real_guest {

struct TempEmbedRoot {
  explicit TempEmbedRoot(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    const absl::Status s = PrepareEmbedRoot(dir.string(), QemuAccount{});
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
  ~TempEmbedRoot() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  TempEmbedRoot(const TempEmbedRoot&) = delete;
  TempEmbedRoot& operator=(const TempEmbedRoot&) = delete;
  std::string uri() const { return EmbedUri(dir.string()); }
  std::filesystem::path dir;
};

}  // namespace minicloud::hypervisor::real_guest
