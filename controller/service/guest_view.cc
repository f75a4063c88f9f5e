#include "controller/service/guest_view.h"

#include "controller/service/identity_document.h"
#include "controller/service/metadata_options.h"

namespace minicloud::controller {

v1::GuestMetadata BuildGuestMetadata(const v1::InstanceRecord& r, const GuestContext& context) {
  v1::GuestMetadata m;
  m.set_account_id(r.owner_id());
  m.set_image_id(r.image_id());
  m.set_reservation_id(r.reservation_id());
  m.set_ami_launch_index(r.ami_launch_index());
  m.set_region(r.topology().region());
  m.set_availability_zone(r.topology().availability_zone());
  m.set_architecture(r.architecture().empty() ? kDefaultArchitecture : r.architecture());
  m.set_root_device_name(r.root_device_name().empty() ? kDefaultRootDeviceName
                                                      : r.root_device_name());
  m.set_pending_time_ms(r.launch_time_ms());
  m.set_has_user_data(r.has_user_data());
  if (r.has_user_data()) m.set_user_data(r.user_data());
  m.set_key_name(r.key_name());
  if (!r.key_name().empty()) m.set_public_key(r.public_key());
  for (const auto& [k, v] : r.tags()) (*m.mutable_tags())[k] = v;

  const v1::InstanceMetadataOptions defaults = DefaultMetadataOptions();
  const v1::InstanceMetadataOptions& o = r.metadata_options();
  m.set_http_tokens(o.http_tokens() != v1::HTTP_TOKENS_UNSPECIFIED ? o.http_tokens()
                                                                   : defaults.http_tokens());
  m.set_http_endpoint(o.http_endpoint() != v1::HTTP_ENDPOINT_UNSPECIFIED
                          ? o.http_endpoint()
                          : defaults.http_endpoint());
  m.set_hop_limit(o.http_put_response_hop_limit() != 0 ? o.http_put_response_hop_limit()
                                                       : defaults.http_put_response_hop_limit());
  m.set_instance_metadata_tags(o.instance_metadata_tags() != v1::INSTANCE_METADATA_TAGS_UNSPECIFIED
                                   ? o.instance_metadata_tags()
                                   : defaults.instance_metadata_tags());

  m.set_identity_document(IdentityDocumentOf(r));
  m.set_identity_signature(r.identity_signature());
  m.set_identity_pkcs7(r.identity_pkcs7());
  m.set_identity_rsa2048(r.identity_rsa2048());
  if (context.identity != nullptr) ApplySignedIdentity(*context.identity, m);

  auto* sg = m.add_security_groups();
  sg->set_group_id(kDefaultSecurityGroupId);
  sg->set_group_name(kDefaultSecurityGroupName);
  m.set_vpc_cidr(context.vpc_cidr);
  m.set_iam_instance_profile_arn(r.iam_instance_profile_arn());
  m.set_iam_instance_profile_id(r.iam_instance_profile_id());
  m.set_iam_role_name(r.iam_role_name());
  if (!r.placement_group().empty()) {
    m.set_placement_group(r.placement_group());
    m.set_partition_number(r.partition_number());
  }
  return m;
}

void ApplySignedIdentity(const SignedIdentity& identity, v1::GuestMetadata& m) {
  m.set_identity_document(identity.document);
  m.set_identity_signature(identity.signature);
  m.set_identity_pkcs7(identity.pkcs7);
  m.set_identity_rsa2048(identity.rsa2048);
}

}  // namespace minicloud::controller
