// Parameter values against their declarations, with CloudFormation's messages.
#include "controller/cloudformation/parameters.h"

#include <catch2/catch.hpp>
#include <string>

#include "controller/cloudformation/template_error.h"

namespace minicloud::cloudformation {
namespace {

constexpr char kTemplate[] = R"(
Parameters:
  Name: {Type: String, MinLength: 2, MaxLength: 5, AllowedPattern: '[a-z]+'}
  Kind: {Type: String, Default: a, AllowedValues: [a, b]}
  Port: {Type: Number, MinValue: 1, MaxValue: 65535, Default: 80}
  Ports: {Type: List<Number>, Default: '1,2'}
  Zones: {Type: CommaDelimitedList, Default: 'x,y', AllowedValues: [x, y, z]}
  Key: {Type: AWS::EC2::KeyPair::KeyName}
  Pretty: {Type: String, Default: ok, AllowedPattern: '[a-z]+', ConstraintDescription: lower case only}
Resources:
  H: {Type: AWS::CloudFormation::WaitConditionHandle}
)";

Template Load() {
  absl::StatusOr<Template> t = ParseTemplate(kTemplate);
  INFO(t.status().ToString());
  REQUIRE(t.ok());
  return *t;
}

// Defaults fill in, given values win, lists split. Catches a default overriding a given value or
// a list type given as one string.
TEST_CASE("parameter values: given, default, lists", "[cloudformation]") {
  const Template t = Load();
  absl::StatusOr<ParameterValues> v =
      ResolveParameters(t, {{"Name", "abc"}, {"Key", "k1"}, {"Kind", "b"}});
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  CHECK(v->at("Name") == "abc");
  CHECK(v->at("Kind") == "b");
  CHECK(v->at("Port") == "80");
  CHECK(v->at("Ports") == Json::array({"1", "2"}));
  CHECK(v->at("Zones") == Json::array({"x", "y"}));
  CHECK(v->at("Key") == "k1");

  const ParameterValues previous = *v;
  absl::StatusOr<ParameterValues> again =
      ResolveParameters(t, {{"Name", "", true}, {"Key", "k2"}}, &previous);
  REQUIRE(again.ok());
  CHECK(again->at("Name") == "abc");
  CHECK(again->at("Key") == "k2");
  CHECK(again->at("Kind") == "a");
}

// One row per refusal, with CloudFormation's wording. Each catches its constraint not checked.
TEST_CASE("parameter values that fail their constraints", "[cloudformation]") {
  const Template t = Load();
  struct Row {
    std::vector<ParameterInput> given;
    std::string want;
  };
  const std::vector<ParameterInput> base = {{"Name", "abc"}, {"Key", "k"}};
  auto with = [&](ParameterInput extra) {
    std::vector<ParameterInput> out = {{"Key", "k"}};
    if (extra.key != "Name") out.push_back({"Name", "abc"});
    out.push_back(extra);
    return out;
  };
  const Row rows[] = {
      {{{"Name", "abc"}}, "Parameters: [Key] must have values"},
      {{}, "Parameters: [Name, Key] must have values"},
      {with({"Nope", "1"}), "Parameters: [Nope] do not exist in the template"},
      {with({"Kind", "c"}), "Parameter 'Kind' must be one of AllowedValues"},
      {with({"Zones", "x,w"}), "Parameter 'Zones' must be one of AllowedValues"},
      {with({"Port", "eighty"}), "Parameter 'Port' must be a number"},
      {with({"Ports", "1,x"}), "Parameter 'Ports' must be a number"},
      {with({"Port", "0"}),
       "Parameter 'Port' failed to satisfy constraint: Parameter Port must be a number not less "
       "than 1"},
      {with({"Port", "70000"}), "must be a number not greater than 65535"},
      {with({"Name", "a"}), "Parameter Name must contain at least 2 characters"},
      {with({"Name", "abcdef"}), "Parameter Name must contain at most 5 characters"},
      {with({"Name", "AB"}),
       "Parameter 'Name' failed to satisfy constraint: Malformed input-Parameter Name must match "
       "pattern [a-z]+"},
      {with({"Pretty", "NO"}), "Parameter 'Pretty' failed to satisfy constraint: lower case only"},
      {with({"Name", std::string(5000, 'a')}), "Parameter 'Name' is longer than 4096 bytes"},
      {{{"Name", "abc"}, {"Name", "abd"}, {"Key", "k"}},
       "Parameter 'Name' is given more than once"},
      {with({"Name", "", true}), "Parameter 'Name' has no previous value to use"},
  };
  for (const Row& row : rows) {
    INFO(row.want);
    absl::StatusOr<ParameterValues> v = ResolveParameters(t, row.given);
    REQUIRE_FALSE(v.ok());
    CHECK(IsValidationError(v.status()));
    CHECK_THAT(std::string(v.status().message()), Catch::Contains(row.want));
  }
}

}  // namespace
}  // namespace minicloud::cloudformation
