// The template engine against cfn-lint (installed on every machine; its CloudFormation resource
// schemas are the reference for resource_types.h). Skipped (exit 77) without cfn-lint.
//
// 1. The resource table: every property CloudFormation defines for a supported type is
//    classified (accepted, refused by name, or read-only), the read-only lists are the schemas',
//    every Fn::GetAtt attribute exists, and what CloudFormation requires minicloud requires.
//    Catches a property name misspelled in the table, or one added by CloudFormation and
//    silently called "unknown" here.
// 2. Verdicts: templates both tools must accept, and templates both must refuse at the same
//    path. Catches a check that refuses valid CloudFormation or accepts what cfn-lint refuses.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/cloudformation/template.h"
#include "tests/testing/skip.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::cloudformation {
namespace {

bool HaveCfnLint() { return std::system("command -v cfn-lint >/dev/null 2>&1") == 0; }

std::string Run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  pclose(pipe);
  return out;
}

TEST_CASE("the resource table agrees with CloudFormation's schemas", "[cloudformation]") {
  MC_SKIP_UNLESS(HaveCfnLint(), "cfn-lint is not installed");
  std::vector<std::string> types;
  for (const ResourceTypeSpec& spec : ResourceTypes()) types.emplace_back(spec.type);
  const std::string script = absl::StrCat(
      "import json, sys\n"
      "from cfnlint.schema import PROVIDER_SCHEMA_MANAGER as m\n"
      "out = {}\n"
      "for t in sys.argv[1:]:\n"
      "    s = m.get_resource_schema('us-east-1', t)\n"
      "    sch = s.schema\n"
      "    ro = [p.split('/')[-1] for p in sch.get('readOnlyProperties', [])]\n"
      "    out[t] = {'properties': sorted(sch['properties']), 'readOnly': sorted(ro),\n"
      "              'required': sorted(sch.get('required', [])),\n"
      "              'getatts': sorted(s.get_atts.keys())}\n"
      "print(json.dumps(out))\n");
  testing::TempDir dir;
  std::ofstream(dir / "facts.py") << script;
  const std::string out =
      Run(absl::StrCat("python3 ", dir / "facts.py", " '", absl::StrJoin(types, "' '"), "'"));
  const Json facts = Json::parse(out, nullptr, false);
  REQUIRE_FALSE(facts.is_discarded());
  for (const ResourceTypeSpec& spec : ResourceTypes()) {
    const std::string type(spec.type);
    INFO(type);
    REQUIRE(facts.contains(type));
    const Json& f = facts[type];
    std::set<std::string> schema(f["properties"].begin(), f["properties"].end());
    std::set<std::string> ours;
    for (const PropertySpec& p : spec.properties) ours.emplace(p.name);
    for (absl::string_view p : spec.unsupported) ours.emplace(p);
    for (absl::string_view p : spec.read_only) ours.emplace(p);
    CHECK(ours == schema);
    std::set<std::string> read_only(f["readOnly"].begin(), f["readOnly"].end());
    std::set<std::string> our_read_only(spec.read_only.begin(), spec.read_only.end());
    CHECK(our_read_only == read_only);
    std::set<std::string> getatts(f["getatts"].begin(), f["getatts"].end());
    for (absl::string_view a : spec.attributes) {
      INFO(a);
      CHECK(getatts.count(std::string(a)) == 1);
    }
    for (const Json& required : f["required"]) {
      const PropertySpec* p = FindProperty(spec, required.get<std::string>());
      INFO(required);
      REQUIRE(p != nullptr);
      CHECK(p->required);
    }
  }
}

struct Case {
  std::string name;
  std::string body;
  std::string path;  // "" = valid; else the path both tools name (cfn-lint's Location.Path)
};

const Case kCases[] = {
    {"valid_instance", R"(AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Key: {Type: AWS::EC2::KeyPair::KeyName}
Conditions:
  HasKey: !Not [!Equals [!Ref Key, '']]
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
  Web:
    Type: AWS::EC2::Instance
    CreationPolicy:
      ResourceSignal: {Count: 1, Timeout: PT10M}
    Properties:
      ImageId: ami-12345678
      InstanceType: t3.micro
      KeyName: !If [HasKey, !Ref Key, !Ref AWS::NoValue]
      UserData:
        Fn::Base64: !Sub |
          #!/bin/bash
          /opt/aws/bin/cfn-signal -e 0 --stack ${AWS::StackName} --resource Web --region ${AWS::Region}
Outputs:
  Ip:
    Value: !GetAtt Web.PrivateIp
)",
     ""},
    {"valid_volume", R"({"Resources": {
  "Disk": {"Type": "AWS::EC2::Volume", "DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot",
           "Properties": {"AvailabilityZone": {"Fn::Select": [0, {"Fn::GetAZs": ""}]}, "Size": 8}},
  "Group": {"Type": "AWS::EC2::PlacementGroup", "Properties": {"Strategy": "spread"}},
  "Key": {"Type": "AWS::EC2::KeyPair", "Properties": {"KeyName": {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "key"]]}}}
}})",
     ""},
    {"unknown_property", R"(Resources:
  Web:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: ami-12345678
      ImageIdd: x
)",
     "Resources.Web.Properties.ImageIdd"},
    {"unresolved_ref", R"(Resources:
  Web:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: !Ref Nope
)",
     "Resources.Web.Properties.ImageId.Ref"},
    {"unknown_attribute", R"(Resources:
  Web:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: ami-12345678
Outputs:
  X:
    Value: !GetAtt Web.Bogus
)",
     "Outputs.X.Value.Fn::GetAtt"},
    {"undeclared_condition", R"(Resources:
  Web:
    Type: AWS::EC2::Instance
    Condition: Nope
    Properties:
      ImageId: ami-12345678
)",
     "Resources.Web.Condition"},
    {"bad_format_version", R"(AWSTemplateFormatVersion: '2011-01-01'
Resources:
  H: {Type: AWS::CloudFormation::WaitConditionHandle}
)",
     "AWSTemplateFormatVersion"},
    {"missing_required", R"(Resources:
  A:
    Type: AWS::EC2::VolumeAttachment
    Properties:
      VolumeId: vol-1
)",
     "Resources.A.Properties"},
    {"bad_depends_on", R"(Resources:
  H:
    Type: AWS::CloudFormation::WaitConditionHandle
    DependsOn: Nope
)",
     "Resources.H.DependsOn"},
    {"circular", R"(Resources:
  A:
    Type: AWS::CloudFormation::WaitConditionHandle
    DependsOn: B
  B:
    Type: AWS::CloudFormation::WaitConditionHandle
    DependsOn: A
)",
     "Resources"},
    {"wrong_kind", R"(Resources:
  V:
    Type: AWS::EC2::Volume
    Properties:
      AvailabilityZone: us-east-1a
      Size: [1]
)",
     "Resources.V.Properties.Size"},
};

TEST_CASE("verdicts agree with cfn-lint", "[cloudformation]") {
  MC_SKIP_UNLESS(HaveCfnLint(), "cfn-lint is not installed");
  testing::TempDir dir;
  std::string files;
  for (const Case& c : kCases) {
    const std::string file = dir / (c.name + (c.body[0] == '{' ? ".json" : ".yaml"));
    std::ofstream(file) << c.body;
    absl::StrAppend(&files, " '", file, "'");
  }
  const Json lint = Json::parse(
      Run(absl::StrCat("cfn-lint --format json --regions us-east-1 --", files, " 2>/dev/null")),
      nullptr, false);
  REQUIRE(lint.is_array());
  for (const Case& c : kCases) {
    INFO(c.name);
    std::set<std::string> lint_error_paths;
    for (const Json& m : lint) {
      const std::string file = m["Filename"].get<std::string>();
      if (file.find("/" + c.name + ".") == std::string::npos || m["Level"] != "Error") continue;
      std::vector<std::string> parts;
      for (const Json& p : m["Location"]["Path"]) {
        parts.push_back(p.is_string() ? p.get<std::string>() : p.dump());
      }
      lint_error_paths.insert(absl::StrJoin(parts, "."));
    }
    absl::StatusOr<Template> ours = ParseTemplate(c.body);
    INFO(ours.status().ToString());
    INFO(absl::StrJoin(lint_error_paths, " | "));
    if (c.path.empty()) {
      CHECK(ours.ok());
      CHECK(lint_error_paths.empty());
      continue;
    }
    REQUIRE_FALSE(ours.ok());
    CHECK_THAT(std::string(ours.status().message()),
               Catch::StartsWith("Template format error: " + c.path + ":"));
    bool lint_names_it = false;
    for (const std::string& p : lint_error_paths) {
      if (p.rfind(c.path, 0) == 0) lint_names_it = true;
    }
    CHECK(lint_names_it);
  }
}

}  // namespace
}  // namespace minicloud::cloudformation
