#include "controller/service/identity_document.h"

#include "absl/time/time.h"
#include "controller/identity/identity_signer.h"
#include "controller/service/guest_view.h"

namespace minicloud::controller {

std::string IdentityDocumentFromFields(const v1::InstanceRecord& r) {
  if (r.identity_pending_time_ms() == 0) return "";
  identity::IdentityFields f;
  f.account_id = r.owner_id();
  f.architecture = r.architecture().empty() ? kDefaultArchitecture : r.architecture();
  f.availability_zone = r.topology().availability_zone();
  f.image_id = r.image_id();
  f.instance_id = r.instance_id();
  f.instance_type = r.instance_type();
  f.pending_time = absl::FromUnixMillis(r.identity_pending_time_ms());
  f.private_ip = r.network().private_ip();
  f.region = r.topology().region();
  return identity::BuildIdentityDocument(f);
}

std::string IdentityDocumentOf(const v1::InstanceRecord& r) {
  if (!r.identity_document().empty()) return r.identity_document();
  return IdentityDocumentFromFields(r);
}

}  // namespace minicloud::controller
