#pragma once

// What a guest sees of itself: the one place that turns an instance record into the metadata its
// host's 169.254.169.254 service serves (v1::GuestMetadata, sent to the agent in the desired
// state). Every value and every default the guest is shown is decided here; the agent converts
// the message field by field (agent/runtime/guest_metadata.h) and adds nothing. One exception by
// design: IMDS block-device-mapping/ephemeralN comes from the record's instance_store list
// (decided at RunInstances by block_device_mapping.h, sent as DesiredInstance.instance_store),
// the same list the agent makes the disks from, so a volume and its listed name cannot differ.

#include <string>

#include "controller/service/identity.h"
#include "minicloud/v1/host.pb.h"
#include "minicloud/v1/records.pb.h"

namespace minicloud::controller {

// The security group every instance is in until security groups exist: the default VPC's
// "default" group.
inline constexpr char kDefaultSecurityGroupId[] = "sg-default";
inline constexpr char kDefaultSecurityGroupName[] = "default";
// For records written before the image's architecture and root device were recorded.
inline constexpr char kDefaultArchitecture[] = "x86_64";
inline constexpr char kDefaultRootDeviceName[] = "/dev/xvda";

// What the record does not carry.
struct GuestContext {
  std::string vpc_cidr;  // the VPC's CIDR block (ControllerConfig::vpc_cidr)
  // The signed identity of the record's document; nullptr: the document alone, signatures empty
  // (FleetService signs outside the state lock and then calls ApplySignedIdentity).
  const SignedIdentity* identity = nullptr;
};

// Pure. Metadata options the record leaves UNSPECIFIED (records from before an option existed)
// get EC2's defaults (DefaultMetadataOptions()); a record that names no placement group gives
// none. The identity document is IdentityDocumentOf(r) (identity_document.h): the fields' document,
// or the text a record of an earlier version carries.
v1::GuestMetadata BuildGuestMetadata(const v1::InstanceRecord& r, const GuestContext& context);

// Puts a signed identity document into `m` (the document and its three signatures).
void ApplySignedIdentity(const SignedIdentity& identity, v1::GuestMetadata& m);

}  // namespace minicloud::controller
