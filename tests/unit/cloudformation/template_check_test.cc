// The template check: a valid template's sections as parsed, the dependency order, and one row
// per validation error with the path (and line) it must name.
#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "controller/cloudformation/template.h"
#include "controller/cloudformation/template_error.h"

namespace minicloud::cloudformation {
namespace {

constexpr char kWeb[] = R"(AWSTemplateFormatVersion: '2010-09-09'
Description: one web server
Parameters:
  KeyName:
    Type: AWS::EC2::KeyPair::KeyName
    Description: the key
  Size:
    Type: String
    Default: t3.micro
    AllowedValues: [t3.micro, t3.small]
  Secret:
    Type: String
    NoEcho: true
    Default: xyz
Mappings:
  Amis:
    us-east-1: {ami: ami-0123}
Conditions:
  Small: !Equals [!Ref Size, t3.micro]
  Big: !Not [!Condition Small]
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
  Web:
    Type: AWS::EC2::Instance
    Metadata:
      AWS::CloudFormation::Init:
        config:
          commands:
            a: {command: !Sub 'echo ${Handle}'}
    CreationPolicy:
      ResourceSignal: {Count: 1, Timeout: PT15M}
    Properties:
      ImageId: !FindInMap [Amis, !Ref AWS::Region, ami]
      InstanceType: !If [Small, t3.micro, !Ref Size]
      KeyName: !Ref KeyName
      UserData: !Base64 {'Fn::Sub': 'cfn-signal --stack ${AWS::StackName} --resource Web'}
  Disk:
    Type: AWS::EC2::Volume
    DeletionPolicy: Snapshot
    Properties:
      AvailabilityZone: !GetAtt Web.AvailabilityZone
      Size: 10
  Attach:
    Type: AWS::EC2::VolumeAttachment
    Properties:
      InstanceId: !Ref Web
      VolumeId: !Ref Disk
      Device: /dev/sdf
Outputs:
  Ip:
    Value: !GetAtt Web.PrivateIp
    Description: where
)";

absl::StatusOr<Template> Check(const std::string& body) { return ParseTemplate(body); }

// A valid template's sections as declared. Catches a section read into the wrong field, NoEcho
// or DeletionPolicy dropped, the signal timeout misparsed.
TEST_CASE("a valid template's sections", "[cloudformation]") {
  absl::StatusOr<Template> t = Check(kWeb);
  INFO(t.status().ToString());
  REQUIRE(t.ok());
  CHECK(t->format_version == "2010-09-09");
  CHECK(t->description == "one web server");
  REQUIRE(t->parameters.size() == 3);
  CHECK(t->parameters[0].type == "AWS::EC2::KeyPair::KeyName");
  CHECK_FALSE(t->parameters[0].default_value.has_value());
  CHECK(t->parameters[1].allowed_values == std::vector<std::string>{"t3.micro", "t3.small"});
  CHECK(t->parameters[2].no_echo);
  CHECK_FALSE(t->parameters[1].no_echo);
  REQUIRE(t->resources.size() == 4);
  const ResourceDecl* web = t->FindResource("Web");
  REQUIRE(web != nullptr);
  CHECK(web->spec->type == "AWS::EC2::Instance");
  REQUIRE(web->signal.has_value());
  CHECK(web->signal->count == 1);
  CHECK(web->signal->timeout == absl::Minutes(15));
  CHECK(web->metadata.contains("AWS::CloudFormation::Init"));
  CHECK(t->FindResource("Disk")->deletion_policy == "Snapshot");
  CHECK(t->FindResource("Attach")->deletion_policy == "Delete");
  REQUIRE(t->outputs.size() == 1);
  CHECK(t->outputs[0].description == "where");
  CHECK(t->conditions.contains("Big"));
}

// Implicit dependencies from Ref, Fn::GetAtt and Fn::Sub (in Properties and Metadata) plus
// DependsOn, in a deterministic order. Catches a missed Sub reference (Web before Handle), a
// missed GetAtt (Disk before Web) or ties broken other than by declaration order.
TEST_CASE("dependencies are ordered as a graph", "[cloudformation]") {
  absl::StatusOr<Template> t = Check(kWeb);
  REQUIRE(t.ok());
  CHECK(t->creation_order == std::vector<std::string>{"Handle", "Web", "Disk", "Attach"});
  CHECK(t->dependencies.at("Web") == std::vector<std::string>{"Handle"});
  CHECK(t->dependencies.at("Attach") == std::vector<std::string>{"Web", "Disk"});

  struct Row {
    std::string resources;
    std::vector<std::string> order;
  };
  const Row rows[] = {
      // No dependencies: declaration order.
      {"  C: {Type: 'AWS::CloudFormation::WaitConditionHandle'}\n"
       "  A: {Type: 'AWS::CloudFormation::WaitConditionHandle'}\n"
       "  B: {Type: 'AWS::CloudFormation::WaitConditionHandle'}\n",
       {"C", "A", "B"}},
      // DependsOn as a string and as a list.
      {"  C: {Type: 'AWS::CloudFormation::WaitConditionHandle', DependsOn: B}\n"
       "  A: {Type: 'AWS::CloudFormation::WaitConditionHandle', DependsOn: [C, B]}\n"
       "  B: {Type: 'AWS::CloudFormation::WaitConditionHandle'}\n",
       {"B", "C", "A"}},
      // A diamond: D needs B and C, both need A; B before C as declared.
      {"  D: {Type: 'AWS::CloudFormation::WaitConditionHandle', DependsOn: [C, B]}\n"
       "  C: {Type: 'AWS::CloudFormation::WaitConditionHandle', DependsOn: A}\n"
       "  B: {Type: 'AWS::CloudFormation::WaitConditionHandle', DependsOn: A}\n"
       "  A: {Type: 'AWS::CloudFormation::WaitConditionHandle'}\n",
       {"A", "C", "B", "D"}},
      // A wait condition waits for its handle through Ref, and a Sub names a GetAtt.
      {"  W:\n    Type: AWS::CloudFormation::WaitCondition\n"
       "    Properties: {Handle: !Ref H, Timeout: '300'}\n"
       "  K:\n    Type: AWS::EC2::KeyPair\n    Properties: {KeyName: !Sub '${W.Data}'}\n"
       "  H: {Type: 'AWS::CloudFormation::WaitConditionHandle'}\n",
       {"H", "W", "K"}},
  };
  for (const Row& row : rows) {
    INFO(row.resources);
    absl::StatusOr<Template> t2 = Check("Resources:\n" + row.resources);
    INFO(t2.status().ToString());
    REQUIRE(t2.ok());
    CHECK(t2->creation_order == row.order);
  }
}

// One row per validation error: the template (kWeb with one edit, or a small one) and the
// words the error must contain, path first. Each row catches its check missing or naming the
// wrong path.
TEST_CASE("every validation error names its path", "[cloudformation]") {
  struct Row {
    std::string from;  // replaced in kWeb ...
    std::string to;    // ... by this; an empty `from` means `to` is the whole template
    std::string want;
  };
  const std::string minimal =
      "Resources:\n  H: {Type: 'AWS::CloudFormation::WaitConditionHandle'}\n";
  const Row rows[] = {
      // Sections.
      {"Description: one web server", "Descripton: typo",
       "Template format error: Descripton: Invalid template property or properties [Descripton]"},
      {"AWSTemplateFormatVersion: '2010-09-09'", "AWSTemplateFormatVersion: '2011-01-01'",
       "AWSTemplateFormatVersion: the only template format version is 2010-09-09 (line 1)"},
      {"", "Transform: AWS::Serverless-2016-10-31\n" + minimal,
       "Transform: the Transform section is not supported by minicloud"},
      {"", "Rules: {}\n" + minimal, "Rules: the Rules section is not supported"},
      {"", "Description: x\n", "Resources: a template must declare at least one resource"},
      {"", "Resources: {}\n", "Resources: a template must declare at least one resource"},
      {"", "Resources: []\n", "Resources: must be an object"},
      {"Description: one web server", "Description: [a]", "Description: must be a string"},
      {"Description: one web server", "Description: " + std::string(1025, 'x'),
       "Description: longer than 1024"},
      // Parameters.
      {"    Description: the key", "    Descriptionn: the key",
       "Parameters.KeyName.Descriptionn: Invalid template parameter property 'Descriptionn'"},
      {"    Type: AWS::EC2::KeyPair::KeyName", "    Type: AWS::SSM::Parameter::Value<String>",
       "Parameters.KeyName.Type: parameter type AWS::SSM::Parameter::Value<String> is not "
       "supported"},
      {"    Type: AWS::EC2::KeyPair::KeyName", "    Default: x",
       "Parameters.KeyName: a parameter must have a Type"},
      {"    Default: t3.micro", "    Default: m5.large",
       "Parameters.Size.Default: Parameter 'Size' must be one of AllowedValues"},
      {"    NoEcho: true", "    NoEcho: maybe", "Parameters.Secret.NoEcho: must be true or false"},
      {"    NoEcho: true", "    AllowedPattern: '[a-'",
       "Parameters.Secret.AllowedPattern: not a valid pattern"},
      {"    NoEcho: true", "    MinLength: 5\n    MaxLength: 2",
       "Parameters.Secret: MinLength is greater than MaxLength"},
      {"    NoEcho: true", "    MinValue: 1",
       "Parameters.Secret: MinValue and MaxValue apply to Number parameters only"},
      {"    NoEcho: true", "    MinLength: x", "Parameters.Secret.MinLength: must be an integer"},
      {"  Secret:", "  Sec-ret:", "Parameters.Sec-ret: a logical id must be 1 to 255"},
      // Mappings.
      {"    us-east-1: {ami: ami-0123}", "    us-east-1: ami-0123",
       "Mappings.Amis.us-east-1: a mapping's top-level key holds a non-empty object"},
      {"    us-east-1: {ami: ami-0123}", "    us-east-1: {ami: {x: 1}}",
       "Mappings.Amis.us-east-1.ami: a mapping value is a string, number or list"},
      // Conditions.
      {"  Big: !Not [!Condition Small]", "  Big: !Not [!Condition Nope]",
       "Conditions.Big.Fn::Not[0].Condition: undeclared condition Nope"},
      {"  Big: !Not [!Condition Small]", "  Big: !Ref Size",
       "Conditions.Big: a condition must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition"},
      {"  Big: !Not [!Condition Small]", "  Big: !Equals [!Ref Web, x]",
       "Conditions.Big.Fn::Equals[0].Ref: a condition cannot refer to the resource Web"},
      {"  Big: !Not [!Condition Small]", "  Big: !Not [!Condition Big]",
       "Conditions.Big: Circular condition dependency through Big"},
      {"  Big: !Not [!Condition Small]", "  Big: !And [!Condition Small]",
       "Conditions.Big.Fn::And: Fn::And wants 2 to 10 conditions"},
      {"  Big: !Not [!Condition Small]", "  Big: !Equals [a]",
       "Conditions.Big.Fn::Equals: Fn::Equals wants [a, b]"},
      // Resources: types, attributes, properties.
      {"    Type: AWS::EC2::Volume", "    Type: AWS::S3::Bucket",
       "Resources.Disk.Type: resource type AWS::S3::Bucket is not supported by minicloud"},
      {"    Type: AWS::EC2::Volume", "    Typo: AWS::EC2::Volume",
       "Resources.Disk: a resource must have a Type"},
      {"      ImageId: !FindInMap [Amis, !Ref AWS::Region, ami]", "      ImageIdd: ami-1",
       "Resources.Web.Properties.ImageIdd: Encountered unsupported property ImageIdd"},
      {"      Size: 10", "      Size: 10\n      OutpostArn: arn",
       "Resources.Disk.Properties.OutpostArn: property OutpostArn of AWS::EC2::Volume is not "
       "supported by minicloud (line"},
      {"      Size: 10", "      Size: 10\n      VolumeId: vol-1",
       "Resources.Disk.Properties.VolumeId: VolumeId is a read-only property"},
      {"      Size: 10", "      Size: ten", "Resources.Disk.Properties.Size: must be an integer"},
      {"      Device: /dev/sdf", "      Device: [a]",
       "Resources.Attach.Properties.Device: must be a string"},
      {"      Size: 10", "      Size: 10\n      Encrypted: maybe",
       "Resources.Disk.Properties.Encrypted: must be a boolean"},
      {"      InstanceId: !Ref Web\n", "",
       "Resources.Attach.Properties: property InstanceId of AWS::EC2::VolumeAttachment is "
       "required"},
      {"      Size: 10", "    Propertiez: {}",
       "Resources.Disk.Propertiez: Invalid resource attribute"},
      {"    DeletionPolicy: Snapshot", "    DeletionPolicy: Keep",
       "Resources.Disk.DeletionPolicy: DeletionPolicy of AWS::EC2::Volume must be Delete, Retain "
       "or Snapshot"},
      {"    Type: AWS::EC2::VolumeAttachment",
       "    Type: AWS::EC2::VolumeAttachment\n    DeletionPolicy: Snapshot",
       "Resources.Attach.DeletionPolicy: DeletionPolicy of AWS::EC2::VolumeAttachment must be "
       "Delete, Retain (line"},
      {"    Type: AWS::EC2::VolumeAttachment",
       "    Type: AWS::EC2::VolumeAttachment\n    UpdatePolicy: {}",
       "Resources.Attach.UpdatePolicy: UpdatePolicy is not supported"},
      {"    Type: AWS::EC2::VolumeAttachment",
       "    Type: AWS::EC2::VolumeAttachment\n    Condition: Nope",
       "Resources.Attach.Condition: Condition must name a condition"},
      {"    Type: AWS::EC2::VolumeAttachment",
       "    Type: AWS::EC2::VolumeAttachment\n    CreationPolicy: {ResourceSignal: {Count: 1}}",
       "Resources.Attach.CreationPolicy: CreationPolicy does not apply to "
       "AWS::EC2::VolumeAttachment"},
      {"Timeout: PT15M", "Timeout: 15M",
       "Resources.Web.CreationPolicy.ResourceSignal.Timeout: Timeout must be an ISO 8601 "
       "duration"},
      {"Timeout: PT15M", "Timeout: PT13H", "ResourceSignal.Timeout: Timeout must be an ISO 8601"},
      {"Timeout: PT15M", "Timeout: PT5S15M", "ResourceSignal.Timeout: Timeout must be an ISO"},
      {"Count: 1,", "Count: 0,",
       "Resources.Web.CreationPolicy.ResourceSignal.Count: Count must "
       "be a positive integer"},
      {"Count: 1,", "Count: !Ref Size,", "ResourceSignal.Count: minicloud wants a literal value"},
      {"ResourceSignal: {", "AutoScalingCreationPolicy: {",
       "CreationPolicy.AutoScalingCreationPolicy is not supported"},
      {"  Disk:", "  Web:", "Resources.Web: duplicate key"},
      {"  Disk:", "  Size:", "Resources.Size: the logical id Size is also a parameter's name"},
      // DependsOn and cycles.
      {"    DeletionPolicy: Snapshot", "    DependsOn: Nope",
       "Resources.Disk.DependsOn: Unresolved resource dependencies [Nope] in the Resources block"},
      {"    DeletionPolicy: Snapshot", "    DependsOn: [Web, 3]",
       "Resources.Disk.DependsOn[1]: must be a logical id"},
      {"    Type: AWS::CloudFormation::WaitConditionHandle",
       "    Type: AWS::CloudFormation::WaitConditionHandle\n    DependsOn: Attach",
       "Template format error: Resources: Circular dependency between resources: [Handle, Web, "
       "Disk, Attach]"},
      {"    Type: AWS::CloudFormation::WaitConditionHandle",
       "    Type: AWS::CloudFormation::WaitConditionHandle\n    DependsOn: Handle",
       "Circular dependency between resources: [Handle, Web, Disk, Attach]"},
      // Functions.
      {"      KeyName: !Ref KeyName", "      KeyName: !Ref KeyNam",
       "Resources.Web.Properties.KeyName.Ref: Unresolved reference KeyNam: not a parameter, "
       "resource or pseudo parameter (line"},
      {"      KeyName: !Ref KeyName", "      KeyName: !Ref AWS::Nope",
       "Resources.Web.Properties.KeyName.Ref: unknown pseudo parameter AWS::Nope"},
      {"      KeyName: !Ref KeyName", "      KeyName: {Ref: [a]}",
       "KeyName.Ref: Ref wants the name of a parameter or resource"},
      {"      KeyName: !Ref KeyName", "      KeyName: !ImportValue shared",
       "Resources.Web.Properties.KeyName.Fn::ImportValue: Fn::ImportValue is not supported by "
       "minicloud"},
      {"      KeyName: !Ref KeyName", "      KeyName: {'Fn::Bogus': 1}",
       "Resources.Web.Properties.KeyName.Fn::Bogus: unknown intrinsic function Fn::Bogus"},
      {"      KeyName: !Ref KeyName", "      KeyName: {Ref: KeyName, Extra: 1}",
       "Resources.Web.Properties.KeyName.Ref: an intrinsic function must be the only key"},
      {"    Value: !GetAtt Web.PrivateIp", "    Value: !GetAtt Web.Bogus",
       "Outputs.Ip.Value.Fn::GetAtt: resource Web of type AWS::EC2::Instance has no attribute "
       "Bogus (it has: AvailabilityZone, InstanceId, PrivateDnsName, PrivateIp, PublicDnsName, "
       "PublicIp, VpcId)"},
      {"    Value: !GetAtt Web.PrivateIp", "    Value: !GetAtt Nope.PrivateIp",
       "Outputs.Ip.Value.Fn::GetAtt: Fn::GetAtt refers to the undeclared resource Nope"},
      {"    Value: !GetAtt Web.PrivateIp", "    Value: !GetAtt Handle.Data",
       "Handle of type AWS::CloudFormation::WaitConditionHandle has no attribute Data (it has: "
       "Id)"},
      {"    Value: !GetAtt Web.PrivateIp", "    Value: {'Fn::GetAtt': [Web]}",
       "Outputs.Ip.Value.Fn::GetAtt: Fn::GetAtt wants [LogicalId, AttributeName]"},
      {"command: !Sub 'echo ${Handle}'", "command: !Sub 'echo ${Hand}'",
       "Resources.Web.Metadata.AWS::CloudFormation::Init.config.commands.a.command.Fn::Sub: "
       "Unresolved reference Hand"},
      {"command: !Sub 'echo ${Handle}'", "command: !Sub 'echo ${Web.Nope}'",
       "command.Fn::Sub: resource Web of type AWS::EC2::Instance has no attribute Nope"},
      {"command: !Sub 'echo ${Handle}'", "command: !Sub 'echo ${Handle'",
       "command.Fn::Sub: Fn::Sub: '${' at offset 5 has no closing '}'"},
      {"command: !Sub 'echo ${Handle}'", "command: !Sub ['${X}', {X: !Ref Nope}]",
       "command.Fn::Sub[1].X.Ref: Unresolved reference Nope"},
      {"command: !Sub 'echo ${Handle}'", "command: !Sub ['${X}']",
       "command.Fn::Sub: Fn::Sub wants a string or [string, {Name: Value, ...}]"},
      {"      InstanceType: !If [Small, t3.micro, !Ref Size]",
       "      InstanceType: !If [Tiny, t3.micro, !Ref Size]",
       "Resources.Web.Properties.InstanceType.Fn::If[0]: undeclared condition Tiny"},
      {"      InstanceType: !If [Small, t3.micro, !Ref Size]",
       "      InstanceType: !If [Small, t3.micro]",
       "InstanceType.Fn::If: Fn::If wants [ConditionName, ValueIfTrue, ValueIfFalse]"},
      {"      InstanceType: !If [Small, t3.micro, !Ref Size]", "      InstanceType: !Equals [a, b]",
       "InstanceType.Fn::Equals: Fn::Equals can be used only in the Conditions section"},
      {"ImageId: !FindInMap [Amis, !Ref AWS::Region, ami]", "ImageId: !FindInMap [Amiz, x, ami]",
       "Resources.Web.Properties.ImageId.Fn::FindInMap[0]: Fn::FindInMap names the undeclared "
       "mapping Amiz"},
      {"ImageId: !FindInMap [Amis, !Ref AWS::Region, ami]",
       "ImageId: !FindInMap [Amis, eu-west-1, ami]",
       "ImageId.Fn::FindInMap[1]: mapping Amis has no key eu-west-1"},
      {"ImageId: !FindInMap [Amis, !Ref AWS::Region, ami]",
       "ImageId: !FindInMap [Amis, us-east-1, aki]",
       "ImageId.Fn::FindInMap[2]: mapping Amis.us-east-1 has no key aki"},
      {"ImageId: !FindInMap [Amis, !Ref AWS::Region, ami]", "ImageId: !FindInMap [Amis, x]",
       "ImageId.Fn::FindInMap: Fn::FindInMap wants [MapName, TopLevelKey, SecondLevelKey]"},
      {"ImageId: !FindInMap [Amis, !Ref AWS::Region, ami]", "ImageId: !Join [',']",
       "ImageId.Fn::Join: Fn::Join wants [delimiter, [values...]]"},
      {"ImageId: !FindInMap [Amis, !Ref AWS::Region, ami]", "ImageId: !Join [',', x]",
       "ImageId.Fn::Join[1]: Fn::Join's values must be a list or a function"},
      {"ImageId: !FindInMap [Amis, !Ref AWS::Region, ami]", "ImageId: !Select [0]",
       "ImageId.Fn::Select: Fn::Select wants [index, list]"},
      {"ImageId: !FindInMap [Amis, !Ref AWS::Region, ami]", "ImageId: !Split [',']",
       "ImageId.Fn::Split: Fn::Split wants [delimiter, string]"},
      {"ImageId: !FindInMap [Amis, !Ref AWS::Region, ami]", "ImageId: !GetAZs [a]",
       "ImageId.Fn::GetAZs: Fn::GetAZs wants a region name"},
      // Outputs.
      {"    Description: where", "    Export: {Name: x}",
       "Outputs.Ip.Export: Export is not supported by minicloud"},
      {"    Value: !GetAtt Web.PrivateIp", "    Valeu: 1",
       "Outputs.Ip.Valeu: Invalid output property Valeu"},
      {"    Description: where", "    Condition: Nope",
       "Outputs.Ip.Condition: Condition must name a condition"},
  };
  for (const Row& row : rows) {
    std::string body = row.to;
    if (!row.from.empty()) {
      REQUIRE(std::string(kWeb).find(row.from) != std::string::npos);
      body = absl::StrReplaceAll(kWeb, {{row.from, row.to}});
    }
    INFO(row.want);
    absl::StatusOr<Template> t = Check(body);
    REQUIRE_FALSE(t.ok());
    CHECK(IsValidationError(t.status()));
    CHECK_THAT(std::string(t.status().message()), Catch::Contains(row.want));
  }
}

// JSON templates go through the same check. Catches a check that only the YAML path runs.
TEST_CASE("JSON templates are checked the same way", "[cloudformation]") {
  absl::StatusOr<Template> ok = Check(R"({
    "Resources": {
      "Web": {"Type": "AWS::EC2::Instance",
              "Properties": {"ImageId": "ami-1", "UserData": {"Fn::Base64": {"Fn::Join": ["", ["a", {"Ref": "AWS::StackName"}]]}}}}
    }})");
  INFO(ok.status().ToString());
  CHECK(ok.ok());
  absl::StatusOr<Template> bad = Check(R"({"Resources": {"Web": {"Type": "AWS::EC2::Instance",
      "Properties": {"ImageId": "ami-1", "Tenancy": "dedicated"}}}})");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(std::string(bad.status().message()),
             Catch::Contains("Resources.Web.Properties.Tenancy: property Tenancy of "
                             "AWS::EC2::Instance is not supported by minicloud"));
}

}  // namespace
}  // namespace minicloud::cloudformation
