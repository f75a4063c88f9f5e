// SigV4's pure pieces (common/auth/sigv4.h) against AWS's published examples and the rules of
// the canonical request as AWS documents them. Each case names the one-line bug it catches.

#include "common/auth/sigv4.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"

namespace minicloud::auth::sigv4 {
namespace {

// AWS's signing-key example ("Examples of how to derive a signing key for Signature Version 4",
// AWS General Reference): secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1,
// iam. Catches: a wrong HMAC chain order, a missing "AWS4" prefix, or a wrong terminator.
TEST_CASE("signing key matches AWS's published derivation example", "[sigv4]") {
  REQUIRE(Hex(DeriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1",
                               "iam")) ==
          "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

// AWS's IAM ListUsers example from the SigV4 documentation (GET
// https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08, 20150830T123600Z): the
// canonical request's hash, the signing key and the signature AWS publishes.
// Catches: the blank line after the canonical headers missing, the query not sorted, or the
// hash of the canonical request taken over anything else.
TEST_CASE("IAM ListUsers example: canonical request, signing key, signature", "[sigv4]") {
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Host", "iam.amazonaws.com"},
      {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
      {"X-Amz-Date", "20150830T123600Z"}};
  const std::vector<std::string> names = {"content-type", "host", "x-amz-date"};
  const std::string canonical = CanonicalRequest(
      "GET", "/", CanonicalQueryString("Action=ListUsers&Version=2010-05-08"),
      CanonicalHeaders(headers, names), "content-type;host;x-amz-date", Sha256Hex(""));
  REQUIRE(canonical ==
          "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
          "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
          "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
          "content-type;host;x-amz-date\n"
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  REQUIRE(Sha256Hex(canonical) ==
          "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  const std::string key =
      DeriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam");
  REQUIRE(Hex(key) == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
  const std::string sts =
      StringToSign("20150830T123600Z", CredentialScope("20150830", "us-east-1", "iam"), canonical);
  REQUIRE(Signature(key, sts) ==
          "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

// Catches: '~' or '/' escaped when they must not be, lower-case hex, or '+' passed through.
TEST_CASE("UriEncode follows AWS's unreserved set", "[sigv4]") {
  struct Case {
    std::string in;
    bool keep_slash;
    std::string out;
  };
  const std::vector<Case> cases = {
      {"AZaz09-_.~", false, "AZaz09-_.~"},
      {"a b", false, "a%20b"},
      {"a+b*c", false, "a%2Bb%2Ac"},
      {"/x/y", false, "%2Fx%2Fy"},
      {"/x/y", true, "/x/y"},
      {"\xc3\xa9", false, "%C3%A9"},
      {"%", false, "%25"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    REQUIRE(UriEncode(c.in, c.keep_slash) == c.out);
  }
}

// Catches: single encoding of the path (AWS encodes the sent path again for every service but
// S3), dot segments kept, empty path not "/".
TEST_CASE("CanonicalUri normalizes and encodes the sent path again", "[sigv4]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "/"},
      {"/", "/"},
      {"/a/./b/../c", "/a/c"},
      {"/a//b/", "/a/b/"},
      {"/..", "/"},
      {"/b%20c", "/b%2520c"},
      {"/minicloud.v1.ComputeService/RunInstances", "/minicloud.v1.ComputeService/RunInstances"},
  };
  for (const auto& [in, out] : cases) {
    CAPTURE(in);
    REQUIRE(CanonicalUri(in) == out);
  }
}

// Catches: unsorted pairs, values not re-encoded after decoding, a value-less parameter
// dropped, ties between equal names not sorted by value, the dropped parameter kept.
TEST_CASE("CanonicalQueryString sorts, decodes and re-encodes", "[sigv4]") {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"", "", ""},
      {"b=2&a=1", "", "a=1&b=2"},
      {"a=2&a=1", "", "a=1&a=2"},
      {"flag&a=1", "", "a=1&flag="},
      {"k=a%2ab", "", "k=a%2Ab"},
      {"k=a b", "", "k=a%20b"},
      {"k=%7E", "", "k=~"},
      {"X-Amz-Signature=abc&Action=X", "X-Amz-Signature", "Action=X"},
      {"Z=1&B=2&a=3", "", "B=2&Z=1&a=3"},
  };
  for (const auto& [in, drop, out] : cases) {
    CAPTURE(in);
    REQUIRE(CanonicalQueryString(in, drop) == out);
  }
}

// Catches: inner whitespace kept, tabs not treated as whitespace, repeated headers not joined.
TEST_CASE("header values are trimmed and repeated headers joined", "[sigv4]") {
  REQUIRE(TrimAll("  a   b\t c  ") == "a b c");
  REQUIRE(TrimAll("") == "");
  REQUIRE(CanonicalHeaders({{"X-A", " 1 "}, {"x-a", "2  3"}, {"Host", "h"}}, {"host", "x-a"}) ==
          "host:h\nx-a:1,2 3\n");
}

// Catches: the signer signing headers other than those it lists, or leaving an old signature.
TEST_CASE("SignRequest replaces an old signature and signs every header", "[sigv4]") {
  SignedRequest request{"POST", "/", "", {{"Host", "h"}, {"Authorization", "old"}}, "body"};
  SignRequest(request, {"AKID", "secret"}, "r1", "ec2", absl::FromUnixSeconds(1440938160));
  int authorizations = 0;
  std::string value;
  for (const auto& [n, v] : request.headers) {
    if (n == "authorization" || n == "Authorization") {
      ++authorizations;
      value = v;
    }
  }
  REQUIRE(authorizations == 1);
  REQUIRE(value.rfind("AWS4-HMAC-SHA256 Credential=AKID/20150830/r1/ec2/aws4_request, "
                      "SignedHeaders=host;x-amz-date, Signature=",
                      0) == 0);
}

}  // namespace
}  // namespace minicloud::auth::sigv4
