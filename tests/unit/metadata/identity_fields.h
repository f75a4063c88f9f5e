#pragma once

// Bridges a metadata-service record and the controller's identity signer for tests that sign a
// record the way the controller signs an instance (controller/identity/cloud_identity_signer.cc
// does the same from the controller's InstanceRecord).

#include "agent/metadata/instance_metadata.h"
#include "controller/identity/identity_signer.h"

namespace minicloud::metadata::testing {

inline identity::IdentityFields IdentityFieldsOf(const InstanceMetadata& m) {
  identity::IdentityFields f;
  f.account_id = m.account_id;
  f.architecture = m.architecture;
  f.availability_zone = m.availability_zone;
  f.image_id = m.image_id;
  f.instance_id = m.instance_id;
  f.instance_type = m.instance_type;
  f.pending_time = m.pending_time;
  f.private_ip = m.local_ipv4;
  f.region = m.region;
  return f;
}

inline IdentityDocument ToIdentityDocument(const identity::SignedDocument& d) {
  return IdentityDocument{d.document, d.signature, d.pkcs7, d.rsa2048};
}

}  // namespace minicloud::metadata::testing
