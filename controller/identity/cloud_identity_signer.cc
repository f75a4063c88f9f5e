#include "controller/identity/cloud_identity_signer.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace minicloud::controller {
namespace {

constexpr char kPendingTimeKey[] = "\"pendingTime\" : \"";
constexpr char kPendingTimeFormat[] = "%Y-%m-%dT%H:%M:%SZ";

}  // namespace

absl::StatusOr<std::unique_ptr<CloudIdentitySigner>> CloudIdentitySigner::Open(
    const std::string& dir, const Clock& clock) {
  MC_ASSIGN_OR_RETURN(auto signer, identity::IdentitySigner::LoadOrCreate(dir, clock.Now()));
  return std::unique_ptr<CloudIdentitySigner>(new CloudIdentitySigner(std::move(signer)));
}

std::string CloudIdentitySigner::Document(const v1::InstanceRecord& r) const {
  identity::IdentityFields f;
  f.account_id = r.owner_id();
  f.architecture = r.architecture().empty() ? "x86_64" : r.architecture();
  f.availability_zone = r.topology().availability_zone();
  f.image_id = r.image_id();
  f.instance_id = r.instance_id();
  f.instance_type = r.instance_type();
  f.pending_time = absl::FromUnixMillis(r.launch_time_ms());
  f.private_ip = r.network().private_ip();
  f.region = r.topology().region();
  return identity::BuildIdentityDocument(f);
}

absl::StatusOr<SignedIdentity> CloudIdentitySigner::Sign(const std::string& document) const {
  const size_t at = document.find(kPendingTimeKey);
  const size_t begin = at == std::string::npos ? at : at + sizeof(kPendingTimeKey) - 1;
  const size_t end = begin == std::string::npos ? begin : document.find('"', begin);
  absl::Time pending;
  std::string error;
  if (end == std::string::npos ||
      !absl::ParseTime(kPendingTimeFormat, document.substr(begin, end - begin), absl::UTCTimeZone(),
                       &pending, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity document has no valid pendingTime: ", error));
  }
  MC_ASSIGN_OR_RETURN(auto doc, signer_.Sign(document, pending));
  return SignedIdentity{doc.document, doc.signature, doc.pkcs7, doc.rsa2048};
}

}  // namespace minicloud::controller
