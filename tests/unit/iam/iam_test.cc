// controller/iam: the allowed-action globs, the one authorization rule, sealed session tokens,
// and the session-aware verifier (the real SigV4 verifier underneath). Each case names the
// one-line bug it catches.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "common/auth/sigv4.h"
#include "common/ec2_error.h"
#include "controller/auth/sigv4_verifier.h"
#include "controller/iam/policy.h"
#include "controller/iam/session_credentials.h"
#include "controller/iam/session_verifier.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::controller::iam {
namespace {

namespace sigv4 = minicloud::auth::sigv4;
constexpr char kRegion[] = "home-1";

TEST_CASE("globs: * and ? and case-insensitive action names") {
  // Bug: '*' matching only a suffix, or matching case-sensitively as IAM does not.
  CHECK(GlobMatch("ec2:Describe*", "ec2:DescribeTags"));
  CHECK(GlobMatch("ec2:describe*", "ec2:DescribeTags"));
  CHECK(GlobMatch("ec2:*Tags", "ec2:CreateTags"));
  CHECK(GlobMatch("ec2:*Tag*", "ec2:DeleteTags"));
  CHECK(GlobMatch("ec2:?reateTags", "ec2:CreateTags"));
  CHECK(GlobMatch("*", "ec2:RunInstances"));
  CHECK(GlobMatch("ec2:*", "ec2:RunInstances"));
  // Bug: a prefix match ("ec2:Describe" allowing DescribeTags) or ignoring the tail.
  CHECK_FALSE(GlobMatch("ec2:Describe", "ec2:DescribeTags"));
  CHECK_FALSE(GlobMatch("ec2:DescribeTags", "ec2:DescribeTagsX"));
  CHECK_FALSE(GlobMatch("ec2:*Tags", "ec2:RunInstances"));
  CHECK_FALSE(GlobMatch("ec2:?", "ec2:"));
  // Backtracking over several stars.
  CHECK(GlobMatch("ec2:*a*b*c", "ec2:xxaxxbxxbxxc"));
  CHECK_FALSE(GlobMatch("ec2:*a*b*c", "ec2:xxaxxbxxbxx"));
}

TEST_CASE("actions are matched with the ec2: prefix") {
  const std::vector<std::string> p = {"ec2:Describe*", "ec2:CreateTags"};
  CHECK(ActionAllowed(p, "DescribeTags"));
  CHECK(ActionAllowed(p, "DescribeInstances"));
  CHECK(ActionAllowed(p, "CreateTags"));
  // Bug: a list allowing everything once non-empty.
  CHECK_FALSE(ActionAllowed(p, "DeleteTags"));
  CHECK_FALSE(ActionAllowed(p, "RunInstances"));
  CHECK_FALSE(ActionAllowed({}, "DescribeTags"));
}

TEST_CASE("pattern validation") {
  CHECK(ValidateActionPattern("*").ok());
  CHECK(ValidateActionPattern("ec2:Describe*").ok());
  CHECK(ValidateActionPattern("EC2:CreateTags").ok());
  // Bug: accepting another service, no action, or characters no action has.
  for (const char* bad : {"s3:GetObject", "ec2:", "DescribeTags", "ec2:Describe Tags", "",
                          "ec2:Describe/Tags", "ec2:*\n"}) {
    INFO(bad);
    absl::Status s = ValidateActionPattern(bad);
    CHECK(Ec2CodeOf(s) == "InvalidParameterValue");
  }
  CHECK(Ec2CodeOf(ValidateActionPatterns({})) == "MissingParameter");
  CHECK(ValidateActionPatterns({"ec2:DescribeTags", "ec2:CreateTags"}).ok());
  CHECK_FALSE(ValidateActionPatterns(std::vector<std::string>(101, "ec2:X")).ok());
}

TEST_CASE("Authorize: account keys pass, a profile's list decides, else UnauthorizedOperation") {
  minicloud::auth::Caller account{"AKIAACCOUNT", std::nullopt};
  CHECK(Authorize(account, "RunInstances").ok());
  minicloud::auth::Caller session{"ASIASESSION", std::vector<std::string>{"ec2:DescribeTags"}};
  CHECK(Authorize(session, "DescribeTags").ok());
  absl::Status denied = Authorize(session, "CreateTags");
  // Bug: refusing with AuthFailure (401) instead of EC2's 403 UnauthorizedOperation.
  CHECK(denied.code() == absl::StatusCode::kPermissionDenied);
  CHECK(Ec2CodeOf(denied) == "UnauthorizedOperation");
  CHECK(std::string(denied.message()).find("ec2:CreateTags") != std::string::npos);
  // Bug: a "*" profile managing keys or profiles (instance credentials minting others).
  minicloud::auth::Caller star{"ASIASTAR", std::vector<std::string>{"*"}};
  CHECK(Authorize(star, "RunInstances").ok());
  CHECK(Ec2CodeOf(Authorize(star, "CreateAccessKey")) == "UnauthorizedOperation");
  CHECK(Ec2CodeOf(Authorize(star, "CreateInstanceProfile")) == "UnauthorizedOperation");
  CHECK(Authorize(account, "CreateAccessKey").ok());
  // An empty list allows nothing (not "no list").
  minicloud::auth::Caller none{"ASIANONE", std::vector<std::string>{}};
  CHECK_FALSE(Authorize(none, "DescribeTags").ok());
}

SessionSealer Sealer(char fill = 'k') {
  return SessionSealer(*auth::SecretBox::FromKey(std::string(32, fill)));
}

v1::SessionTokenPayload Claims() {
  v1::SessionTokenPayload c;
  c.set_instance_id("i-0123456789abcdef0");
  c.set_instance_profile_name("web");
  c.set_instance_profile_arn("arn:aws:iam::000000000000:instance-profile/web");
  c.set_instance_profile_id("AIPAABCDEFGHIJKLMNOPQ");
  c.set_role_name("web-role");
  c.add_allowed_actions("ec2:DescribeTags");
  return c;
}

TEST_CASE("tokens: issued credentials look like STS's and open back to their claims") {
  SessionSealer sealer = Sealer();
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  auto issued = sealer.Issue(Claims(), now);
  REQUIRE(issued.ok());
  CHECK(IsSessionAccessKeyId(issued->payload.access_key_id()));
  CHECK(issued->payload.secret_access_key().size() == 40);
  CHECK(issued->payload.expiration_ms() == absl::ToUnixMillis(now + kSessionLifetime));
  auto opened = sealer.Open(issued->token);
  REQUIRE(opened.ok());
  CHECK(opened->access_key_id() == issued->payload.access_key_id());
  CHECK(opened->secret_access_key() == issued->payload.secret_access_key());
  CHECK(opened->role_name() == "web-role");
  CHECK(opened->allowed_actions(0) == "ec2:DescribeTags");
  // The token is not the payload in clear (bug: only base64, no encryption).
  std::string raw;
  REQUIRE(absl::Base64Unescape(issued->token, &raw));
  CHECK(raw.find(issued->payload.secret_access_key()) == std::string::npos);
  CHECK(raw.find("web-role") == std::string::npos);
  // Two issues never share a key id (bug: deterministic ids).
  auto again = sealer.Issue(Claims(), now);
  CHECK(again->payload.access_key_id() != issued->payload.access_key_id());
}

TEST_CASE("tokens: altered, truncated, foreign or garbage tokens do not open") {
  SessionSealer sealer = Sealer();
  auto issued = sealer.Issue(Claims(), absl::FromUnixSeconds(1'700'000'000));
  REQUIRE(issued.ok());
  std::string raw;
  REQUIRE(absl::Base64Unescape(issued->token, &raw));
  // Bug: tag not checked (a flipped ciphertext bit would still "open").
  for (size_t i : {size_t{1}, size_t{13}, raw.size() / 2, raw.size() - 1}) {
    std::string bad = raw;
    bad[i] ^= 0x01;
    CHECK_FALSE(sealer.Open(absl::Base64Escape(bad)).ok());
  }
  CHECK_FALSE(sealer.Open(absl::Base64Escape(raw.substr(0, raw.size() - 1))).ok());
  CHECK_FALSE(Sealer('x').Open(issued->token).ok());  // another controller's key
  CHECK_FALSE(sealer.Open("").ok());
  CHECK_FALSE(sealer.Open("not base64 at all!").ok());
  CHECK_FALSE(sealer.Open(std::string(100000, 'A')).ok());
}

TEST_CASE("tokens are sealed in the master key's box, bound to their own purpose") {
  testing::TempDir dir;
  const std::string path = dir / "master.key";
  auto box = auth::SecretBox::LoadOrCreate(path);
  REQUIRE(box.ok());
  auto issued = SessionSealer(*box).Issue(Claims(), absl::FromUnixSeconds(1'700'000'000));
  REQUIRE(issued.ok());
  // Bug: the sealer keeping a key of its own (a box loaded again from master.key, as after a
  // restart, would not open the token).
  auto again = auth::SecretBox::LoadOrCreate(path);
  REQUIRE(again.ok());
  CHECK(SessionSealer(*again).Open(issued->token).ok());
  // The token is the version byte and the box's own format; the box opens it only with the
  // session tokens' associated data (bug: tokens sealed with an empty or shared AAD).
  std::string raw;
  REQUIRE(absl::Base64Unescape(issued->token, &raw));
  CHECK(box->Open(raw.substr(1), kSessionTokenAad).ok());
  CHECK_FALSE(box->Open(raw.substr(1), "").ok());
  // Something else the box sealed (an access key's secret, bound to its key id) is no token,
  // even when its plaintext is a well-formed payload.
  auto other = box->Seal(issued->payload.SerializeAsString(), "AKIAEXAMPLEEXAMPLE12");
  REQUIRE(other.ok());
  CHECK_FALSE(SessionSealer(*box).Open(absl::Base64Escape(std::string(1, '\x01') + *other)).ok());
}

// A request signed as botocore signs one with session credentials: the token as a header,
// covered by the signature.
minicloud::auth::SignedRequest Signed(const v1::SessionTokenPayload& p, const std::string& token,
                                      absl::Time at) {
  minicloud::auth::SignedRequest r;
  r.method = "POST";
  r.path = "/";
  r.body = "Action=DescribeTags&Version=2016-11-15";
  r.headers = {{"host", "169.254.169.254:8773"},
               {"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
  if (!token.empty()) r.headers.emplace_back("x-amz-security-token", token);
  sigv4::SignRequest(r, {p.access_key_id(), p.secret_access_key()}, kRegion, "ec2", at);
  return r;
}

struct VerifierFixture {
  FakeClock clock{absl::FromUnixSeconds(1'700'000'000)};
  auth::InMemoryAccessKeys accounts;
  std::unique_ptr<minicloud::auth::RequestVerifier> account =
      auth::MakeSigV4Verifier(accounts, clock, kRegion);
  SessionSealer sealer = Sealer();
  bool instance_alive = true;
  std::unique_ptr<minicloud::auth::RequestVerifier> verifier = MakeSessionAwareVerifier(
      *account, sealer, clock, kRegion, [this](const v1::SessionTokenPayload&) {
        return instance_alive ? absl::OkStatus() : absl::NotFoundError("gone");
      });
  SessionSealer::Issued issued = *sealer.Issue(Claims(), clock.Now());
};

TEST_CASE("session verifier: a signed session request carries the profile's actions") {
  VerifierFixture f;
  auto caller = f.verifier->Verify(Signed(f.issued.payload, f.issued.token, f.clock.Now()), "ec2");
  REQUIRE(caller.ok());
  CHECK(caller->access_key_id == f.issued.payload.access_key_id());
  // Bug: a session treated as an account key (allowed_actions nullopt = everything).
  REQUIRE(caller->allowed_actions.has_value());
  CHECK(*caller->allowed_actions == std::vector<std::string>{"ec2:DescribeTags"});
}

TEST_CASE("session verifier: refusals carry EC2's codes") {
  VerifierFixture f;
  const v1::SessionTokenPayload& p = f.issued.payload;
  // Without the token the key id is unknown (bug: accepting a session key without its token).
  CHECK(Ec2CodeOf(f.verifier->Verify(Signed(p, "", f.clock.Now()), "ec2").status()) ==
        "AuthFailure");
  // A token of another session with this one's key (bug: key id not bound to the token).
  auto other = f.sealer.Issue(Claims(), f.clock.Now());
  CHECK(Ec2CodeOf(f.verifier->Verify(Signed(p, other->token, f.clock.Now()), "ec2").status()) ==
        "AuthFailure");
  // A forged token.
  CHECK(Ec2CodeOf(f.verifier->Verify(Signed(p, "Zm9yZ2Vk", f.clock.Now()), "ec2").status()) ==
        "AuthFailure");
  // Wrong secret: the SigV4 verifier's own answer.
  v1::SessionTokenPayload wrong = p;
  wrong.set_secret_access_key("x" + p.secret_access_key().substr(1));
  CHECK(
      Ec2CodeOf(f.verifier->Verify(Signed(wrong, f.issued.token, f.clock.Now()), "ec2").status()) ==
      "SignatureDoesNotMatch");
  // Instance terminated or profile deleted (bug: check not applied).
  f.instance_alive = false;
  CHECK(Ec2CodeOf(f.verifier->Verify(Signed(p, f.issued.token, f.clock.Now()), "ec2").status()) ==
        "AuthFailure");
}

TEST_CASE("session verifier: expired credentials are RequestExpired, one second after") {
  VerifierFixture f;
  const v1::SessionTokenPayload& p = f.issued.payload;
  f.clock.Advance(kSessionLifetime - absl::Seconds(1));
  CHECK(f.verifier->Verify(Signed(p, f.issued.token, f.clock.Now()), "ec2").ok());
  f.clock.Advance(absl::Seconds(1));
  // Bug: expiry not checked (a session would live forever), or checked with the wrong sign.
  auto late = f.verifier->Verify(Signed(p, f.issued.token, f.clock.Now()), "ec2");
  CHECK(Ec2CodeOf(late.status()) == "RequestExpired");
}

TEST_CASE("session verifier: requests without a token go to the account verifier") {
  VerifierFixture f;
  f.accounts.Put("AKIAACCOUNTKEY000001", {"account-secret", std::nullopt, std::nullopt});
  v1::SessionTokenPayload acct;
  acct.set_access_key_id("AKIAACCOUNTKEY000001");
  acct.set_secret_access_key("account-secret");
  auto caller = f.verifier->Verify(Signed(acct, "", f.clock.Now()), "ec2");
  REQUIRE(caller.ok());
  CHECK_FALSE(caller->allowed_actions.has_value());
  // The query-string form of the token is found as well.
  minicloud::auth::SignedRequest r;
  r.query = "X-Amz-Security-Token=abc%2Bdef";
  CHECK(SecurityTokenOf(r) == "abc+def");
}

}  // namespace
}  // namespace minicloud::controller::iam
