#include "common/ids.h"

#include <catch2/catch.hpp>
#include <set>

#include "common/ec2_error.h"

namespace minicloud {

TEST_CASE("ids have the EC2 shape and are reproducible from a seed", "[ids]") {
  IdGenerator a(42), b(42);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = a.Next("i");
    REQUIRE(id.size() == 19);
    REQUIRE(IsValidId(id, "i"));
    REQUIRE(id == b.Next("i"));
    seen.insert(id);
  }
  REQUIRE(seen.size() == 1000);
  REQUIRE(IsValidId(a.Next("ami"), "ami"));
  REQUIRE(IsValidId(a.Next("vol"), "vol"));
}

TEST_CASE("ids from a seed stay the ones earlier builds gave", "[ids]") {
  // Seeds are fixed in tests and benchmarks: the same seed must keep giving the same ids.
  IdGenerator g(42);
  CHECK(g.Next("i") == "i-6d2e5ee6d7fd151c8");
  CHECK(g.Next("x") == "x-a0b7e5e0f769c80ce");
}

TEST_CASE("NextDigits draws the digits Next puts after the prefix", "[ids]") {
  IdGenerator a(7), b(7);
  for (int i = 0; i < 100; ++i) {
    char digits[17];
    a.NextDigits(digits);
    REQUIRE(std::string(digits, sizeof(digits)) == b.Next("x").substr(2));
  }
  CHECK(a.Next("i") == b.Next("i"));  // both still in step
}

TEST_CASE("id validation", "[ids]") {
  struct Case {
    const char* id;
    const char* prefix;
    bool valid;
  };
  const Case cases[] = {
      {"i-0123456789abcdef0", "i", true},
      {"i-01234567", "i", true},
      {"i-0123456789ABCDEF0", "i", false},
      {"i-0123456789abcdef", "i", false},
      {"ami-0123456789abcdef0", "i", false},
      {"i0123456789abcdef0", "i", false},
      {"i-", "i", false},
      {"", "i", false},
      {"i-0123456789abcdeg0", "i", false},
      {"ami-0123456789abcdef0", "ami", true},
  };
  for (const auto& c : cases) {
    INFO(c.id);
    REQUIRE(IsValidId(c.id, c.prefix) == c.valid);
  }
}

TEST_CASE("EC2 error codes ride inside absl::Status", "[errors]") {
  auto s = Ec2Error(absl::StatusCode::kNotFound, "InvalidAMIID.NotFound", "no such image");
  REQUIRE(Ec2CodeOf(s) == "InvalidAMIID.NotFound");
  REQUIRE(s.message() == "no such image");
  REQUIRE(Ec2CodeOf(InvalidParameterValue("x")) == "InvalidParameterValue");
  REQUIRE(Ec2CodeOf(absl::InternalError("boom")) == "InternalError");
  REQUIRE(CanonicalCodeForEc2("InvalidInstanceID.NotFound") == absl::StatusCode::kNotFound);
  REQUIRE(CanonicalCodeForEc2("InsufficientInstanceCapacity") ==
          absl::StatusCode::kResourceExhausted);
}

}  // namespace minicloud
