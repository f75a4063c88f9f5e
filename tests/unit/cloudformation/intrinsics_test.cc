// Evaluating a checked template: each intrinsic function and pseudo parameter with the result
// the CloudFormation Template Reference defines, conditions, AWS::NoValue, and the errors that
// depend on values.
#include "controller/cloudformation/intrinsics.h"

#include <catch2/catch.hpp>
#include <string>

#include "controller/cloudformation/template_error.h"

namespace minicloud::cloudformation {
namespace {

constexpr char kTemplate[] = R"(
Parameters:
  Env: {Type: String, Default: prod, AllowedValues: [prod, dev]}
  Zones: {Type: CommaDelimitedList, Default: 'a,b,c'}
  Ports: {Type: List<Number>, Default: '80,443'}
  Count: {Type: Number, Default: 2}
Mappings:
  Amis:
    us-test-1: {ami: ami-11111111, list: [x, y]}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Equals [!Ref Count, 2]]
  Either: !Or [!Condition IsDev, !Equals ['1', '2']]
  NumberEqualsString: !Equals [2, '2']
Resources:
  Web:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: ami-1
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
)";

struct Fixture {
  Fixture() {
    absl::StatusOr<Template> parsed = ParseTemplate(kTemplate);
    INFO(parsed.status().ToString());
    REQUIRE(parsed.ok());
    tmpl = std::move(*parsed);
    ctx.tmpl = &tmpl;
    ctx.pseudo.stack_name = "teststack";
    ctx.pseudo.stack_id = "arn:aws:cloudformation:us-test-1:123456789012:stack/teststack/u-1";
    ctx.pseudo.region = "us-test-1";
    ctx.pseudo.account_id = "123456789012";
    ctx.availability_zones = {"us-test-1a", "us-test-1b"};
    absl::StatusOr<ParameterValues> values = ResolveParameters(tmpl, {});
    REQUIRE(values.ok());
    ctx.parameters = *values;
    absl::StatusOr<std::map<std::string, bool>> conditions = EvaluateConditions(ctx);
    REQUIRE(conditions.ok());
    ctx.conditions = *conditions;
    ctx.resources["Web"] = CreatedResource{
        "i-0123456789abcdef0", {{"PrivateIp", "10.0.0.5"}, {"AvailabilityZone", "us-test-1a"}}};
    ctx.resources["Handle"] = CreatedResource{"http://169.254.169.254:8773/wait/h", {}};
  }

  Json Eval(const std::string& yaml) {
    absl::StatusOr<TemplateDocument> doc = ParseTemplateBody("v: " + yaml);
    REQUIRE(doc.ok());
    absl::StatusOr<Json> out = Evaluate(doc->root["v"], ctx, "v");
    INFO(yaml << " -> " << out.status().ToString());
    REQUIRE(out.ok());
    return *out;
  }

  Template tmpl;
  EvalContext ctx;
};

// Every function with an expected value worked out by hand from the reference. Each row
// catches its function computing something else (the wrong separator, index, base64 alphabet).
TEST_CASE("each function evaluates as the reference defines", "[cloudformation]") {
  Fixture f;
  struct Row {
    std::string yaml;
    Json want;
  };
  const Row rows[] = {
      {"!Ref AWS::StackName", "teststack"},
      {"!Ref AWS::StackId", "arn:aws:cloudformation:us-test-1:123456789012:stack/teststack/u-1"},
      {"!Ref AWS::Region", "us-test-1"},
      {"!Ref AWS::AccountId", "123456789012"},
      {"!Ref AWS::Partition", "aws"},
      {"!Ref AWS::URLSuffix", "amazonaws.com"},
      {"!Ref Env", "prod"},
      {"!Ref Zones", Json::array({"a", "b", "c"})},
      {"!Ref Ports", Json::array({"80", "443"})},
      {"!Ref Count", "2"},  // parameter values are strings
      {"!Ref Web", "i-0123456789abcdef0"},
      {"!GetAtt Web.PrivateIp", "10.0.0.5"},
      {"{'Fn::GetAtt': [Web, AvailabilityZone]}", "us-test-1a"},
      {"!Sub 'plain'", "plain"},
      {"!Sub '${AWS::StackName}-${Env}'", "teststack-prod"},
      {"!Sub '${Web}/${Web.PrivateIp}'", "i-0123456789abcdef0/10.0.0.5"},
      {"!Sub 'cost ${!Literal} and $notvar and ${!AWS::Region}'",
       "cost ${Literal} and $notvar and ${AWS::Region}"},
      {"!Sub ['${A}:${B}:${Env}', {A: one, B: !Ref Count}]", "one:2:prod"},
      {"!Sub ['${Env}', {Env: shadowed}]", "shadowed"},
      {"!Join [',', [a, b, c]]", "a,b,c"},
      {"!Join ['', [a, !Ref Env, 3]]", "aprod3"},
      {"!Join ['-', !Ref Zones]", "a-b-c"},
      {"!Join ['-', []]", ""},
      {"!Base64 'AWS CloudFormation'", "QVdTIENsb3VkRm9ybWF0aW9u"},
      {"{'Fn::Base64': !Sub '${Env}'}", "cHJvZA=="},
      {"!Select [1, [a, b, c]]", "b"},
      {"!Select ['2', !Ref Zones]", "c"},
      {"!Select [0, !GetAZs '']", "us-test-1a"},
      {"!Select [1, !GetAZs {Ref: 'AWS::Region'}]", "us-test-1b"},
      {"!GetAZs us-test-1", Json::array({"us-test-1a", "us-test-1b"})},
      {"!Split [',', 'a,,b']", Json::array({"a", "", "b"})},
      {"!Split ['::', 'x::y']", Json::array({"x", "y"})},
      {"!Select [1, !Split [',', !Join [',', [p, q]]]]", "q"},
      {"!FindInMap [Amis, !Ref AWS::Region, ami]", "ami-11111111"},
      {"!FindInMap [Amis, us-test-1, list]", Json::array({"x", "y"})},
      {"!If [IsProd, big, small]", "big"},
      {"!If [IsDev, big, small]", "small"},
      {"!If [Both, yes, no]", "yes"},
      {"!If [Either, yes, no]", "no"},
      {"!If [NumberEqualsString, yes, no]", "yes"},
      {"[a, !If [IsDev, b, !Ref AWS::NoValue], c]", Json::array({"a", "c"})},
      {"{keep: 1, drop: !If [IsProd, !Ref AWS::NoValue, 2]}", Json::parse(R"({"keep": 1})")},
      {"{nested: {x: !Ref Env}}", Json::parse(R"({"nested": {"x": "prod"}})")},
      {"!Ref AWS::NoValue", nullptr},
      {"42", 42},
  };
  for (const Row& row : rows) {
    INFO(row.yaml);
    CHECK(f.Eval(row.yaml) == row.want);
  }
}

// Conditions evaluated once for the template. Catches Fn::Not or Fn::Or inverted.
TEST_CASE("template conditions evaluate", "[cloudformation]") {
  Fixture f;
  CHECK(f.ctx.conditions.at("IsProd"));
  CHECK_FALSE(f.ctx.conditions.at("IsDev"));
  CHECK(f.ctx.conditions.at("Both"));
  CHECK_FALSE(f.ctx.conditions.at("Either"));
  CHECK(ConditionHolds(f.ctx, ""));
  CHECK(ConditionHolds(f.ctx, "IsProd"));
  CHECK_FALSE(ConditionHolds(f.ctx, "IsDev"));
  f.ctx.parameters["Env"] = "dev";
  f.ctx.conditions.clear();
  absl::StatusOr<std::map<std::string, bool>> dev = EvaluateConditions(f.ctx);
  REQUIRE(dev.ok());
  CHECK_FALSE(dev->at("IsProd"));
  CHECK(dev->at("IsDev"));
  CHECK(dev->at("Either"));
  CHECK_FALSE(dev->at("Both"));
}

// Errors that depend on values. Catches an out-of-range Select returning null, a Ref to a
// resource not yet created returning "", a list joined into a Sub.
TEST_CASE("evaluation errors name the path", "[cloudformation]") {
  Fixture f;
  struct Row {
    std::string yaml;
    std::string want;
  };
  const Row rows[] = {
      {"!Select [3, [a, b]]",
       "Template error: v.Fn::Select: Fn::Select cannot select "
       "nonexistent value at index 3"},
      {"!Select [-1, [a]]", "v.Fn::Select[0]: Fn::Select's index must be a non-negative integer"},
      {"!Select [x, [a]]", "Fn::Select's index must be a non-negative integer"},
      {"!Select [0, !Ref Env]", "v.Fn::Select[1]: wants a list"},
      {"!Sub '${Zones}'", "v.Fn::Sub: Fn::Sub variable Zones is not a string"},
      {"!Join [',', [a, [b]]]", "v.Fn::Join[1]: Fn::Join joins strings only"},
      {"!FindInMap [Amis, !Ref Env, ami]",
       "v.Fn::FindInMap: Fn::FindInMap: mapping Amis has no entry [prod][ami]"},
      {"!GetAZs eu-west-1", "region eu-west-1 is not this stack's region us-test-1"},
      {"!Split ['', abc]", "Fn::Split's delimiter must be a non-empty string"},
      {"!Base64 [a]", "Fn::Base64 wants a string"},
      {"!Ref Later", "v.Ref: resource Later has not been created"},
      {"!GetAtt Later.Data", "v.Fn::GetAtt: resource Later has not been created"},
      {"!GetAtt Web.PublicIp", "resource Web has no value for attribute PublicIp"},
  };
  for (const Row& row : rows) {
    absl::StatusOr<TemplateDocument> doc = ParseTemplateBody("v: " + row.yaml);
    REQUIRE(doc.ok());
    absl::StatusOr<Json> out = Evaluate(doc->root["v"], f.ctx, "v");
    INFO(row.yaml);
    REQUIRE_FALSE(out.ok());
    CHECK(IsValidationError(out.status()));
    CHECK_THAT(std::string(out.status().message()), Catch::Contains(row.want));
  }
}

// A resource's properties evaluated with NoValue removed. Catches EvaluateProperties reading
// the wrong resource or keeping a NoValue member.
TEST_CASE("properties of a resource", "[cloudformation]") {
  absl::StatusOr<Template> t = ParseTemplate(R"(
Conditions:
  Never: !Equals [a, b]
Resources:
  Web:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: ami-1
      KeyName: !If [Never, k, !Ref AWS::NoValue]
      UserData:
        Fn::Base64: !Sub "#!/bin/sh\necho ${AWS::StackName}"
)");
  REQUIRE(t.ok());
  EvalContext ctx;
  ctx.tmpl = &*t;
  ctx.pseudo.stack_name = "s1";
  ctx.conditions = *EvaluateConditions(ctx);
  absl::StatusOr<Json> props = EvaluateProperties(*t->FindResource("Web"), ctx);
  REQUIRE(props.ok());
  CHECK(*props == Json::parse(R"({"ImageId": "ami-1", "UserData": "IyEvYmluL3NoCmVjaG8gczE="})"));
}

}  // namespace
}  // namespace minicloud::cloudformation
