// Malformed templates never crash: every prefix of valid templates, single-byte replacements at
// every offset, and seeded random edits either parse (and then evaluate) or give a
// ValidationError. Catches an unchecked nlohmann get<>() / operator[] on a value of the wrong
// type (an exception or UB escaping), a status other than ValidationError, and unbounded
// recursion on deep nesting.
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "controller/cloudformation/intrinsics.h"
#include "controller/cloudformation/template_error.h"

namespace minicloud::cloudformation {
namespace {

constexpr char kYaml[] = R"(AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Env: {Type: String, Default: prod, AllowedValues: [prod, dev]}
  Zones: {Type: CommaDelimitedList, Default: 'a,b'}
Mappings:
  M: {us-test-1: {ami: ami-1}}
Conditions:
  P: !Equals [!Ref Env, prod]
  Q: !Or [!Condition P, !Not [!Condition P]]
Resources:
  H: {Type: AWS::CloudFormation::WaitConditionHandle}
  W:
    Type: AWS::CloudFormation::WaitCondition
    Properties: {Handle: !Ref H, Timeout: '60', Count: 1}
  Web:
    Type: AWS::EC2::Instance
    DependsOn: W
    CreationPolicy: {ResourceSignal: {Count: 1, Timeout: PT5M}}
    Metadata: {x: !Sub ['${A}', {A: !Select [0, !Ref Zones]}]}
    Properties:
      ImageId: !FindInMap [M, !Ref AWS::Region, ami]
      UserData: {'Fn::Base64': !Join ['', [a, !GetAtt W.Data, !If [P, b, !Ref AWS::NoValue]]]}
      AvailabilityZone: !Select [0, !GetAZs '']
      Tags: [{Key: k, Value: !Split [',', 'a,b']}]
Outputs:
  O: {Value: !GetAtt Web.PrivateIp, Condition: Q}
)";

constexpr char kJson[] = R"({"Resources": {"A": {"Type": "AWS::EC2::KeyPair",
  "Properties": {"KeyName": {"Fn::Sub": ["${X}-${AWS::StackName}", {"X": {"Ref": "B"}}]}}},
  "B": {"Type": "AWS::EC2::PlacementGroup", "Properties": {"Strategy": "spread"}}},
  "Outputs": {"F": {"Value": {"Fn::GetAtt": ["A", "KeyFingerprint"]}}}})";

// Parses, and when the template is valid, evaluates everything with every resource "created".
void Exercise(const std::string& body) {
  INFO(body);
  absl::StatusOr<Template> t = ParseTemplate(body);
  if (!t.ok()) {
    REQUIRE(IsValidationError(t.status()));
    return;
  }
  EvalContext ctx;
  ctx.tmpl = &*t;
  ctx.pseudo.region = "us-test-1";
  ctx.availability_zones = {"us-test-1a"};
  absl::StatusOr<ParameterValues> values = ResolveParameters(*t, {});
  if (!values.ok()) {
    REQUIRE(IsValidationError(values.status()));
    return;
  }
  ctx.parameters = *values;
  absl::StatusOr<std::map<std::string, bool>> conditions = EvaluateConditions(ctx);
  if (!conditions.ok()) {
    REQUIRE(IsValidationError(conditions.status()));
    return;
  }
  ctx.conditions = *conditions;
  for (const ResourceDecl& r : t->resources) {
    CreatedResource created{"id-" + r.logical_id, {}};
    for (absl::string_view a : r.spec->attributes) created.attributes[std::string(a)] = "v";
    ctx.resources[r.logical_id] = created;
  }
  for (const ResourceDecl& r : t->resources) {
    absl::StatusOr<Json> props = EvaluateProperties(r, ctx);
    if (!props.ok()) REQUIRE(IsValidationError(props.status()));
    absl::StatusOr<Json> meta = Evaluate(r.metadata, ctx, "m");
    if (!meta.ok()) REQUIRE(IsValidationError(meta.status()));
  }
  for (const OutputDecl& o : t->outputs) {
    absl::StatusOr<Json> v = Evaluate(o.value, ctx, "o");
    if (!v.ok()) REQUIRE(IsValidationError(v.status()));
  }
}

TEST_CASE("the seed templates are valid", "[cloudformation]") {
  absl::StatusOr<Template> y = ParseTemplate(kYaml);
  INFO(y.status().ToString());
  CHECK(y.ok());
  absl::StatusOr<Template> j = ParseTemplate(kJson);
  INFO(j.status().ToString());
  CHECK(j.ok());
}

TEST_CASE("every prefix of a template", "[cloudformation]") {
  for (const std::string& seed : {std::string(kYaml), std::string(kJson)}) {
    for (std::size_t n = 0; n <= seed.size(); ++n) Exercise(seed.substr(0, n));
  }
}

TEST_CASE("one byte replaced at every offset", "[cloudformation]") {
  const std::string bytes = std::string(":!&*[]{}\"' \n\t-?|>%@`#,.0") + '\0' + "\xff";
  for (const std::string& seed : {std::string(kYaml), std::string(kJson)}) {
    for (std::size_t i = 0; i < seed.size(); ++i) {
      for (char b : bytes) {
        std::string body = seed;
        body[i] = b;
        Exercise(body);
      }
    }
  }
}

TEST_CASE("seeded random edits", "[cloudformation]") {
  std::mt19937 rng(20261204);
  const std::string tokens[] = {
      "!Ref ",        "!Sub ", "!GetAtt ", "!If ", "!Condition ", "Fn::",
      "${",           "}",     "[",        "]",    "{",           "}",
      "&a ",          "*a",    "\n  ",     ": ",   "Ref",         "Condition",
      "AWS::NoValue", "-1",    "1e999",    "null"};
  for (const std::string& seed : {std::string(kYaml), std::string(kJson)}) {
    for (int round = 0; round < 3000; ++round) {
      std::string body = seed;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !body.empty(); ++e) {
        const std::size_t at = rng() % body.size();
        switch (rng() % 3) {
          case 0:
            body.erase(at, 1 + rng() % 8);
            break;
          case 1:
            body.insert(at, tokens[rng() % std::size(tokens)]);
            break;
          default:
            body.insert(at, body.substr(rng() % body.size(), 1 + rng() % 16));
        }
      }
      Exercise(body);
    }
  }
}

TEST_CASE("deep nesting within the size limit", "[cloudformation]") {
  for (const std::size_t depth : {65u, 1000u, 25000u}) {
    const std::string flow = "a: " + std::string(depth, '[') + std::string(depth, ']');
    Exercise(flow);
    const std::string json = "{\"a\": " + std::string(depth, '[') + std::string(depth, ']') + "}";
    Exercise(json);
    std::string block;
    for (std::size_t i = 0; i < std::min<std::size_t>(depth, 300); ++i) {
      block += std::string(i, ' ') + "k:\n";
    }
    Exercise(block);
  }
}

}  // namespace
}  // namespace minicloud::cloudformation
