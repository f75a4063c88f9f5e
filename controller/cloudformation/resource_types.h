#pragma once

// The one table of resource types a minicloud template may declare: for each type, the
// properties minicloud accepts (with the JSON kind a literal value must have and whether it is
// required), the properties CloudFormation defines but minicloud refuses by name, the read-only
// ones (CloudFormation computes them; a template reads them with Fn::GetAtt), the Fn::GetAtt
// attributes, and which resource attributes (CreationPolicy, DeletionPolicy: Snapshot) apply.
//
// Source of the property names, kinds and read-only lists: the CloudFormation resource provider
// schemas as cfn-lint 1.51 ships them (cfnlint/data/schemas, region us-east-1), and the
// "AWS::EC2::Instance" / "AWS::EC2::KeyPair" / "AWS::EC2::PlacementGroup" / "AWS::EC2::Volume" /
// "AWS::EC2::VolumeAttachment" / "AWS::CloudFormation::WaitCondition(Handle)" pages of the
// CloudFormation Template Reference ("Return values": Ref and Fn::GetAtt). Tests compare this
// table with the schemas when cfn-lint is installed (tests/unit/cloudformation).

#include <vector>

#include "absl/strings/string_view.h"

namespace minicloud::cloudformation {

enum class ValueKind { kString, kInteger, kBoolean, kList, kObject };

absl::string_view ValueKindName(ValueKind kind);

struct PropertySpec {
  absl::string_view name;
  ValueKind kind;
  bool required = false;
};

struct ResourceTypeSpec {
  absl::string_view type;
  std::vector<PropertySpec> properties = {};  // accepted by minicloud
  std::vector<absl::string_view> unsupported =
      {};                                          // CloudFormation's, refused by minicloud by name
  std::vector<absl::string_view> read_only = {};   // CloudFormation computes them
  std::vector<absl::string_view> attributes = {};  // Fn::GetAtt names
  absl::string_view ref;                           // what Ref returns (documentation)
  bool resource_signal = false;                    // CreationPolicy.ResourceSignal applies
  bool snapshot = false;                           // DeletionPolicy: Snapshot applies
};

// Every supported type, in a fixed order.
const std::vector<ResourceTypeSpec>& ResourceTypes();

// The type's row, or nullptr when minicloud does not support it.
const ResourceTypeSpec* FindResourceType(absl::string_view type);

// The property's row in `spec`, or nullptr.
const PropertySpec* FindProperty(const ResourceTypeSpec& spec, absl::string_view name);

}  // namespace minicloud::cloudformation
