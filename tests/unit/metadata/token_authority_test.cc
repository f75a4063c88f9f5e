#include "agent/metadata/token_authority.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "common/clock.h"

namespace minicloud::metadata {
namespace {

TokenAuthority Fixed(char fill = 'k') { return *TokenAuthority::WithKey(std::string(32, fill)); }

TEST_CASE("token lifetime follows the FakeClock") {
  FakeClock clock;
  const TokenAuthority a = Fixed();
  const std::string t = *a.Issue("i-1", absl::Seconds(60), clock.Now());
  CHECK(a.Validate(t, "i-1", clock.Now()) == TokenCheck::kOk);
  clock.Advance(absl::Seconds(59));
  CHECK(a.Validate(t, "i-1", clock.Now()) == TokenCheck::kOk);
  clock.Advance(absl::Milliseconds(999));
  CHECK(a.Validate(t, "i-1", clock.Now()) == TokenCheck::kOk);
  clock.Advance(absl::Milliseconds(1));  // exactly issue + ttl
  CHECK(a.Validate(t, "i-1", clock.Now()) == TokenCheck::kExpired);
  clock.Advance(absl::Hours(24));
  CHECK(a.Validate(t, "i-1", clock.Now()) == TokenCheck::kExpired);
}

TEST_CASE("TTL bounds are EC2's 1..21600 seconds") {
  const TokenAuthority a = Fixed();
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  struct Row {
    absl::Duration ttl;
    bool ok;
  };
  for (const Row& r : {Row{absl::ZeroDuration(), false}, Row{absl::Milliseconds(999), false},
                       Row{absl::Seconds(1), true}, Row{absl::Seconds(21600), true},
                       Row{absl::Seconds(21601), false}, Row{-absl::Seconds(5), false}}) {
    INFO(absl::FormatDuration(r.ttl));
    CHECK(a.Issue("i-1", r.ttl, now).ok() == r.ok);
  }
  CHECK_FALSE(a.Issue("", absl::Seconds(1), now).ok());
  CHECK_FALSE(a.Issue(std::string(256, 'i'), absl::Seconds(1), now).ok());
  CHECK(a.Issue(std::string(255, 'i'), absl::Seconds(1), now).ok());
}

TEST_CASE("tokens are bound to their instance") {
  const TokenAuthority a = Fixed();
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  const std::string t = *a.Issue("i-0123456789abcdef0", absl::Hours(6), now);
  CHECK(a.Validate(t, "i-0123456789abcdef0", now) == TokenCheck::kOk);
  CHECK(a.Validate(t, "i-0123456789abcdef1", now) == TokenCheck::kWrongInstance);
  CHECK(a.Validate(t, "i-0123456789abcdef", now) == TokenCheck::kWrongInstance);
  CHECK(a.Validate(t, "", now) == TokenCheck::kWrongInstance);
}

TEST_CASE("tampering, other keys and garbage are invalid") {
  const TokenAuthority a = Fixed();
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  const std::string t = *a.Issue("i-1", absl::Hours(6), now);

  SECTION("every single-character change of the text") {
    const std::string alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .";
    for (size_t i = 0; i < t.size(); ++i) {
      for (char c : {alphabet[(alphabet.find(t[i]) + 1) % alphabet.size()], '=', '+', '.'}) {
        if (c == t[i]) continue;
        std::string bad = t;
        bad[i] = c;
        INFO("position " << i << " -> " << c);
        CHECK(a.Validate(bad, "i-1", now) == TokenCheck::kInvalid);
      }
    }
  }
  SECTION("every bit of the decoded token, re-encoded") {
    std::string raw;
    REQUIRE(absl::WebSafeBase64Unescape(t, &raw));
    for (size_t i = 0; i < raw.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string bad = raw;
        bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
        const TokenCheck c = a.Validate(absl::WebSafeBase64Escape(bad), "i-1", now);
        INFO("byte " << i << " bit " << bit);
        CHECK(c != TokenCheck::kOk);
        CHECK(c != TokenCheck::kExpired);
      }
    }
  }
  SECTION("truncation and extension") {
    for (size_t n = 0; n < t.size(); ++n) {
      CHECK(a.Validate(t.substr(0, n), "i-1", now) == TokenCheck::kInvalid);
    }
    CHECK(a.Validate(t + "A", "i-1", now) == TokenCheck::kInvalid);
    CHECK(a.Validate(t + "==", "i-1", now) == TokenCheck::kInvalid);
    CHECK(a.Validate(" " + t, "i-1", now) == TokenCheck::kInvalid);
  }
  SECTION("another key") {
    CHECK(Fixed('x').Validate(t, "i-1", now) == TokenCheck::kInvalid);
    const TokenAuthority r1 = *TokenAuthority::WithRandomKey();
    const TokenAuthority r2 = *TokenAuthority::WithRandomKey();
    const std::string t1 = *r1.Issue("i-1", absl::Hours(1), now);
    CHECK(r1.Validate(t1, "i-1", now) == TokenCheck::kOk);
    CHECK(r2.Validate(t1, "i-1", now) == TokenCheck::kInvalid);
  }
  SECTION("garbage") {
    for (const std::string& g : std::vector<std::string>{
             "", "A", "AQ", "AQAEAJ1fK2mQx7Vn8pLtRc3bYdW0sHgZi5uOa6TjE9NrXwPvBk4lQg==",
             std::string(10000, 'A'), std::string("\0\0\0", 3), "%%%%"}) {
      CHECK(a.Validate(g, "i-1", now) == TokenCheck::kInvalid);
    }
  }
}

TEST_CASE("token text is base64url, distinct per issue time") {
  const TokenAuthority a = Fixed();
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string t = *a.Issue("i-0123456789abcdef0", absl::Seconds(60),
                                   absl::FromUnixMillis(1'700'000'000'000 + i));
    for (char c : t) {
      CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'));
    }
    CHECK(t.size() < 100);
    seen.insert(t);
  }
  CHECK(seen.size() == 100);
}

// A connection's memory of its last proven token must never change an answer: each step below is
// checked with the memory and without it.
TEST_CASE("a proven token answers exactly as a full check") {
  FakeClock clock;
  const TokenAuthority a = Fixed();
  const TokenAuthority other_key = Fixed('o');
  const std::string t1 = *a.Issue("i-1", absl::Seconds(60), clock.Now());
  const std::string t2 = *a.Issue("i-1", absl::Seconds(600), clock.Now());
  const std::string foreign = *other_key.Issue("i-1", absl::Seconds(60), clock.Now());
  std::string tampered = t1;
  tampered[12] = tampered[12] == 'A' ? 'B' : 'A';

  struct Step {
    const std::string* token;
    std::string instance;
    absl::Duration advance;
    TokenCheck want;
  };
  const std::vector<Step> steps = {
      {&t1, "i-1", absl::ZeroDuration(), TokenCheck::kOk},             // proved, remembered
      {&t1, "i-1", absl::Seconds(30), TokenCheck::kOk},                // from memory
      {&t1, "i-2", absl::ZeroDuration(), TokenCheck::kWrongInstance},  // address now i-2's
      {&tampered, "i-1", absl::ZeroDuration(), TokenCheck::kInvalid},
      {&foreign, "i-1", absl::ZeroDuration(), TokenCheck::kInvalid},
      {&t1, "i-1", absl::ZeroDuration(), TokenCheck::kOk},    // the failures replaced nothing
      {&t1, "i-1", absl::Seconds(30), TokenCheck::kExpired},  // exactly issue + 60 s
      {&t2, "i-1", absl::ZeroDuration(), TokenCheck::kOk},    // a new token replaces the old
      {&t1, "i-1", absl::ZeroDuration(), TokenCheck::kExpired},
      {&t2, "i-1", absl::Seconds(540), TokenCheck::kExpired},
  };
  ProvenToken proven;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    clock.Advance(s.advance);
    INFO("step " << i);
    CHECK(a.Validate(*s.token, s.instance, clock.Now()) == s.want);
    CHECK(a.Validate(*s.token, s.instance, clock.Now(), &proven) == s.want);
  }
  CHECK(proven.token == t2);
  CHECK(proven.instance_id == "i-1");
}

TEST_CASE("only a valid token is remembered, and a remembered one is not recomputed") {
  const TokenAuthority a = Fixed();
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  ProvenToken proven;
  CHECK(a.Validate("garbage", "i-1", now, &proven) == TokenCheck::kInvalid);
  const std::string expired = *a.Issue("i-1", absl::Seconds(1), now - absl::Seconds(5));
  CHECK(a.Validate(expired, "i-1", now, &proven) == TokenCheck::kExpired);
  CHECK(proven.token.empty());

  // The memory is the caller's own and trusted as written: an entry no full check would accept
  // answers kOk, which shows the full check was skipped.
  proven = ProvenToken{"not-a-token", "i-1", now + absl::Seconds(1)};
  CHECK(a.Validate("not-a-token", "i-1", now, &proven) == TokenCheck::kOk);
  CHECK(a.Validate("not-a-token", "i-1", now) == TokenCheck::kInvalid);
}

TEST_CASE("keys shorter than 32 bytes are refused") {
  CHECK_FALSE(TokenAuthority::WithKey("short").ok());
  CHECK_FALSE(TokenAuthority::WithKey(std::string(31, 'k')).ok());
  CHECK(TokenAuthority::WithKey(std::string(64, 'k')).ok());
}

TEST_CASE("TokenCheckName") {
  CHECK(TokenCheckName(TokenCheck::kOk) == "ok");
  CHECK(TokenCheckName(TokenCheck::kExpired) == "expired");
  CHECK(TokenCheckName(TokenCheck::kInvalid) == "invalid");
  CHECK(TokenCheckName(TokenCheck::kWrongInstance) == "wrong-instance");
}

}  // namespace
}  // namespace minicloud::metadata
