// Parsing template bodies: YAML short-form tags to their long forms, typed plain scalars, JSON,
// lines of values, and malformed input (never a crash, always a ValidationError).
#include "controller/cloudformation/template_document.h"

#include <catch2/catch.hpp>
#include <string>

#include "controller/cloudformation/template_error.h"

namespace minicloud::cloudformation {
namespace {

Json Parse(const std::string& body) {
  absl::StatusOr<TemplateDocument> doc = ParseTemplateBody(body);
  INFO(body);
  REQUIRE(doc.ok());
  return doc->root;
}

// Each short form and the long form CloudFormation defines for it. Catches a tag mapped to the
// wrong function name, or !GetAtt's "A.B" not split at the first dot.
TEST_CASE("short-form tags become their long forms", "[cloudformation]") {
  struct Row {
    std::string yaml;
    Json want;
  };
  const Row rows[] = {
      {"v: !Ref Name", Json::parse(R"({"Ref": "Name"})")},
      {"v: !Sub 'a-${AWS::Region}'", Json::parse(R"({"Fn::Sub": "a-${AWS::Region}"})")},
      {"v: !Sub [ '${X}', {X: 1} ]", Json::parse(R"({"Fn::Sub": ["${X}", {"X": 1}]})")},
      {"v: !GetAtt Web.PrivateIp", Json::parse(R"({"Fn::GetAtt": ["Web", "PrivateIp"]})")},
      {"v: !GetAtt Web.A.B", Json::parse(R"({"Fn::GetAtt": ["Web", "A.B"]})")},
      {"v: !GetAtt [Web, PublicIp]", Json::parse(R"({"Fn::GetAtt": ["Web", "PublicIp"]})")},
      {"v: !Base64 text", Json::parse(R"({"Fn::Base64": "text"})")},
      {"v: !Join [',', [a, b]]", Json::parse(R"({"Fn::Join": [",", ["a", "b"]]})")},
      {"v: !Select [0, !GetAZs '']", Json::parse(R"({"Fn::Select": [0, {"Fn::GetAZs": ""}]})")},
      {"v: !GetAZs", Json::parse(R"({"Fn::GetAZs": ""})")},
      {"v: !Split [',', 'a,b']", Json::parse(R"({"Fn::Split": [",", "a,b"]})")},
      {"v: !If [C, 1, 2]", Json::parse(R"({"Fn::If": ["C", 1, 2]})")},
      {"v: !Equals [!Ref P, x]", Json::parse(R"({"Fn::Equals": [{"Ref": "P"}, "x"]})")},
      {"v: !Not [!Condition C]", Json::parse(R"({"Fn::Not": [{"Condition": "C"}]})")},
      {"v: !And [!Condition A, !Condition B]",
       Json::parse(R"({"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]})")},
      {"v: !Or [!Condition A, !Condition B]",
       Json::parse(R"({"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]})")},
      {"v: !FindInMap [M, !Ref AWS::Region, ami]",
       Json::parse(R"({"Fn::FindInMap": ["M", {"Ref": "AWS::Region"}, "ami"]})")},
      {"v: !ImportValue shared", Json::parse(R"({"Fn::ImportValue": "shared"})")},
      // A short-form operand is a string even when it looks like a number.
      {"v: !Ref 123", Json::parse(R"({"Ref": "123"})")},
  };
  for (const Row& row : rows) {
    INFO(row.yaml);
    CHECK(Parse(row.yaml)["v"] == row.want);
  }
}

// Plain scalars are typed as YAML 1.1 core types; quoted ones and non-canonical numbers stay
// strings. Catches "0123" turned into 123 (an id altered) or "true" left a string.
TEST_CASE("plain scalars are typed, quoted ones are strings", "[cloudformation]") {
  const Json v = Parse(
      "a: 10\nb: '10'\nc: true\nd: 'true'\ne: 0123\nf: 1.5\ng: ~\nh:\ni: -7\nj: +1\nk: 1e3\n"
      "l: ami-0abc\n");
  CHECK(v["a"] == 10);
  CHECK(v["b"] == "10");
  CHECK(v["c"] == true);
  CHECK(v["d"] == "true");
  CHECK(v["e"] == "0123");
  CHECK(v["f"] == 1.5);
  CHECK(v["g"].is_null());
  CHECK(v["h"].is_null());
  CHECK(v["i"] == -7);
  CHECK(v["j"] == "+1");
  CHECK(v["k"] == "1e3");
  CHECK(v["l"] == "ami-0abc");
}

// Key order is the document's (cfn-init runs commands in key order, and the dependency order
// breaks ties in declaration order). Catches an unordered map in the tree.
TEST_CASE("objects keep the document's key order", "[cloudformation]") {
  const Json v = Parse("m:\n  zeta: 1\n  alpha: 2\n  mid: 3\n");
  std::string keys;
  for (const auto& [k, _] : v["m"].items()) keys += k + ",";
  CHECK(keys == "zeta,alpha,mid,");
  const Json j = Parse(R"({"m": {"zeta": 1, "alpha": 2}})");
  CHECK(j["m"].begin().key() == "zeta");
}

TEST_CASE("JSON bodies parse as JSON", "[cloudformation]") {
  const Json v = Parse("  {\"Resources\": {\"A\": {\"Type\": \"T\", \"N\": 5}}}");
  CHECK(v["Resources"]["A"]["N"] == 5);
}

// Lines of values are known for YAML, so errors name them. Catches 0-based lines.
TEST_CASE("YAML values know their lines", "[cloudformation]") {
  absl::StatusOr<TemplateDocument> doc =
      ParseTemplateBody("Resources:\n  Web:\n    Type: AWS::EC2::Instance\n");
  REQUIRE(doc.ok());
  CHECK(doc->LineOf("Resources.Web.Type") == " (line 3)");
  CHECK(doc->LineOf("Resources.Web") == " (line 3)");  // a mapping starts at its first key
  CHECK(doc->LineOf("Nope").empty());
}

// Every malformed body gives a ValidationError whose message holds the expected words.
TEST_CASE("malformed bodies are ValidationErrors naming the problem", "[cloudformation]") {
  struct Row {
    std::string body;
    std::string want;
  };
  const std::string bomb =
      "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
      "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
  const Row rows[] = {
      {"", "the template is empty"},
      {"   \n  ", "the template is empty"},
      {"a: [1, 2", "YAML not well-formed (line"},
      {"{\"a\": ", "JSON not well-formed"},
      {"{\"a\": 1, \"a\": 2}", "duplicate key 'a'"},
      {"a: 1\na: 2\n", "a: duplicate key (line 2)"},
      {"- 1\n- 2\n", "a template is a JSON object or a YAML mapping"},
      {"just text", "a template is a JSON object or a YAML mapping"},
      {"v: !Bogus x", "v: unknown tag !Bogus (line 1)"},
      {"v: !GetAtt NoDot", "!GetAtt wants LogicalId.AttributeName"},
      {"v: !GetAtt Trailing.", "!GetAtt wants LogicalId.AttributeName"},
      {"? [a, b]\n: 1\n", "a key must be a string"},
      {"a: 1\n---\nb: 2\n", "a template is one YAML document; another starts at line 2"},
      {"---\na: 1\n--- \nb: 2\n", "another starts at line 3"},
      {",a: 1", "a template is a JSON object or a YAML mapping"},
      {bomb, "values (after aliases are expanded)"},
      {std::string(kMaxTemplateBodyBytes + 1, ' '), "longer than the maximum"},
      {std::string(100, '[') + std::string(100, ']'), ""},  // YAML flow lists: depth or shape
      {"{" + std::string(70, '[') + std::string(70, ']') + "}", "JSON not well-formed"},
      {"{\"a\":" + std::string(70, '[') + std::string(70, ']') + "}", "nesting deeper than 64"},
  };
  for (const Row& row : rows) {
    INFO(row.body.substr(0, 80));
    absl::StatusOr<TemplateDocument> doc = ParseTemplateBody(row.body);
    REQUIRE_FALSE(doc.ok());
    CHECK(IsValidationError(doc.status()));
    CHECK_THAT(std::string(doc.status().message()), Catch::Contains(row.want));
  }
}

}  // namespace
}  // namespace minicloud::cloudformation
