// The parameter tree. Bugs each case catches are named in the section names.
#include "controller/query/params.h"

#include <catch2/catch.hpp>

#include "common/ec2_error.h"

namespace minicloud::query {
namespace {

Params Parse(const std::string& form) {
  auto kv = DecodeForm(form);
  REQUIRE(kv.ok());
  auto p = Params::Parse(*kv);
  REQUIRE(p.ok());
  return *std::move(p);
}

TEST_CASE("form decoding: '+' is a space, %XX a byte, a bad escape is MalformedQueryString") {
  auto kv = DecodeForm("A=a+b%2Bc&B=%e2%82%ac&C&D=x=y");
  REQUIRE(kv.ok());
  REQUIRE(kv->size() == 4);
  CHECK((*kv)[0] == std::make_pair(std::string("A"), std::string("a b+c")));  // '+' left as '+'
  CHECK((*kv)[1].second == "\xe2\x82\xac");
  CHECK((*kv)[2] == std::make_pair(std::string("C"), std::string("")));
  CHECK((*kv)[3].second == "x=y");  // split at the first '=' only
  for (const char* bad : {"A=%", "A=%4", "A=%zz", "%G1=x"}) {
    auto r = DecodeForm(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(Ec2CodeOf(r.status()) == "MalformedQueryString");
  }
}

TEST_CASE("lists come back in numeric index order, nested structures included") {
  // Bug caught: sorting list members as strings ("10" before "2").
  Params p = Parse(
      "InstanceId.10=i-j&InstanceId.2=i-b&InstanceId.1=i-a&"
      "Filter.1.Name=tag:Name&Filter.1.Value.2=y&Filter.1.Value.1=x&Filter.2.Name=state");
  CHECK(p.root().StringList("InstanceId") == std::vector<std::string>{"i-a", "i-b", "i-j"});
  auto filters = p.root().List("Filter");
  REQUIRE(filters.size() == 2);
  CHECK(filters[0]->String("Name") == "tag:Name");
  CHECK(filters[0]->StringList("Value") == std::vector<std::string>{"x", "y"});
  CHECK(filters[1]->StringList("Value").empty());
  CHECK(filters[1]->String("Name") == "state");
  CHECK_FALSE(p.UnusedParameter().has_value());
}

TEST_CASE("the first parameter nobody read is reported with its dotted name") {
  // Bug caught: UnknownParameter never raised, or raised for a parameter that was read.
  Params p = Parse("ImageId=ami-1&Placement.GroupName=g&Placement.Bogus=1&InstanceId.x=i");
  CHECK(p.root().String("ImageId") == "ami-1");
  ParamNode* placement = p.root().Struct("Placement");
  REQUIRE(placement != nullptr);
  CHECK(placement->String("GroupName") == "g");
  CHECK(p.root().StringList("InstanceId").empty());  // "x" is not an index
  CHECK(p.UnusedParameter() == "InstanceId.x");
}

TEST_CASE("a name given twice or with an empty segment is refused") {
  for (const char* bad : {"A=1&A=2", "Filter..Name=x", "A.=1", ".A=1"}) {
    auto kv = DecodeForm(bad);
    REQUIRE(kv.ok());
    auto p = Params::Parse(*kv);
    REQUIRE_FALSE(p.ok());
    CHECK(Ec2CodeOf(p.status()) == "InvalidParameterValue");
  }
}

TEST_CASE("typed reads: integers in range and booleans, else InvalidParameterValue") {
  Params p = Parse("MinCount=3&MaxCount=abc&Big=99999999999&DryRun=TRUE&Force=yes&Neg=-1");
  auto min = p.root().Int("MinCount", 0, 100);
  REQUIRE(min.ok());
  CHECK(*min == 3);
  auto max = p.root().Int("MaxCount", 0, 100);
  REQUIRE_FALSE(max.ok());
  CHECK(Ec2CodeOf(max.status()) == "InvalidParameterValue");
  CHECK(std::string(max.status().message()).find("MaxCount") != std::string::npos);
  CHECK_FALSE(p.root().Int("Big", 0, 2147483647).ok());
  CHECK_FALSE(p.root().Int("Neg", 0, 10).ok());
  auto dry = p.root().Bool("DryRun");
  REQUIRE(dry.ok());
  CHECK(*dry == true);
  CHECK_FALSE(p.root().Bool("Force").ok());
  auto absent = p.root().Int("Nothing", 0, 1);
  REQUIRE(absent.ok());
  CHECK_FALSE(absent->has_value());
}

}  // namespace
}  // namespace minicloud::query
