#include "agent/hypervisor/libvirt/disk_secrets.h"

#include <libvirt/virterror.h>
#include <openssl/rand.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/hypervisor/domain_xml.h"
#include "common/logging.h"

namespace minicloud::hypervisor {
namespace {

absl::StatusOr<std::string> RandomUuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) return absl::InternalError("no random bytes for a UUID");
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                         b[12], b[13], b[14], b[15]);
}

absl::Status SecretError(const EbsDisk& disk, absl::string_view what) {
  const virErrorPtr e = virGetLastError();
  std::string message = e != nullptr && e->message != nullptr ? e->message : "unknown error";
  virResetLastError();
  return absl::FailedPreconditionError(
      absl::StrCat("key of ", disk.volume_id, ": ", what, ": ", message));
}

}  // namespace

std::string SecretUri(const std::string& domain_uri) {
  constexpr absl::string_view kEmbed = "qemu:///embed?";
  if (absl::StartsWith(domain_uri, kEmbed)) {
    return absl::StrCat("secret:///embed?", domain_uri.substr(kEmbed.size()));
  }
  return domain_uri;
}

std::string DiskSecretXml(const EbsDisk& disk) {
  return absl::StrCat("<secret ephemeral='yes' private='yes'>\n  <uuid>",
                      XmlEscape(disk.secret_uuid), "</uuid>\n  <description>minicloud LUKS key of ",
                      XmlEscape(disk.volume_id), "</description>\n</secret>\n");
}

DiskSecrets::~DiskSecrets() {
  for (virSecretPtr s : defined_) {
    if (virSecretUndefine(s) < 0) {
      spdlog::error("hypervisor: undefine a volume key secret failed");
      virResetLastError();
    }
    virSecretFree(s);
  }
  if (conn_ != nullptr) virConnectClose(conn_);
}

absl::Status DiskSecrets::Provide(EbsDisk& disk) {
  if (disk.luks_key.empty()) return absl::OkStatus();
  if (absl::StrContains(uri_, "embed")) {
    // libvirt 9.0 (Debian 12): virSecretDefineXML on secret:///embed?root=... dereferences a
    // null driver function and kills the process (reproduced with a 20-line program: open the
    // connection, define an ephemeral secret, SIGSEGV inside libvirt_driver_secret.so), and the
    // embedded qemu:///embed connection has no secret driver at all ("not supported by the
    // connection driver"). Refuse instead of crashing the agent; a daemon connection
    // (qemu:///system) serves secrets.
    return absl::FailedPreconditionError(
        absl::StrCat("key of ", disk.volume_id,
                     ": encrypted EBS volumes need a libvirt daemon connection "
                     "(qemu:///system): libvirt's embedded driver cannot hold secrets (",
                     uri_, ")"));
  }
  if (conn_ == nullptr) {
    const std::string uri = SecretUri(uri_);
    conn_ = virConnectOpen(uri.c_str());
    if (conn_ == nullptr) return SecretError(disk, absl::StrCat("connect to ", uri));
  }
  absl::StatusOr<std::string> uuid = RandomUuid();
  if (!uuid.ok()) return uuid.status();
  disk.secret_uuid = *uuid;
  virSecretPtr secret = virSecretDefineXML(conn_, DiskSecretXml(disk).c_str(), 0);
  if (secret == nullptr) return SecretError(disk, "define the libvirt secret");
  defined_.push_back(secret);
  if (virSecretSetValue(secret, reinterpret_cast<const unsigned char*>(disk.luks_key.data()),
                        disk.luks_key.size(), 0) < 0) {
    return SecretError(disk, "set the libvirt secret's value");
  }
  return absl::OkStatus();
}

}  // namespace minicloud::hypervisor
