#pragma once

// The table machinery of the pure IMDS handler's tests (handler_test.cc,
// handler_token_test.cc): a Case is one request and the answer EC2 gives to it; Check runs it
// through Handle at a fixed time with a fixed token key. Header values may name a token
// ("$TOKEN", "$EXPIRED", "$OTHER_INSTANCE", "$OTHER_KEY", "$TAMPERED"), made for the case's
// instance.

#include <catch2/catch.hpp>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "agent/metadata/handler.h"
#include "agent/metadata/token_authority.h"
#include "tests/unit/metadata/golden.h"
#include "tests/unit/metadata/instance_builder.h"

namespace minicloud::metadata::testing {

inline const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

inline const TokenAuthority& Authority() {
  static const TokenAuthority a = *TokenAuthority::WithKey(std::string(32, 'k'));
  return a;
}

inline std::string TokenFor(absl::string_view instance_id,
                            absl::Duration ttl = absl::Seconds(21600), absl::Time issued = kNow) {
  return *Authority().Issue(instance_id, ttl, issued);
}

// Placeholders usable in header values of a Case.
inline std::string Expand(const std::string& v, const InstanceMetadata& m) {
  if (v == "$TOKEN") return TokenFor(m.instance_id);
  if (v == "$EXPIRED") return TokenFor(m.instance_id, absl::Seconds(5), kNow - absl::Seconds(10));
  if (v == "$OTHER_INSTANCE") return TokenFor("i-0ffffffffffffffff");
  if (v == "$OTHER_KEY") {
    return *TokenAuthority::WithKey(std::string(32, 'x'))
                ->Issue(m.instance_id, absl::Hours(1), kNow);
  }
  if (v == "$TAMPERED") {
    std::string t = TokenFor(m.instance_id);
    t[t.size() / 2] = t[t.size() / 2] == 'A' ? 'B' : 'A';
    return t;
  }
  return v;
}

struct Case {
  std::string name;
  std::function<InstanceBuilder()> instance = [] { return MakeInstance(); };
  std::string method = "GET";
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  int status = 200;
  std::optional<std::string> body;  // exact body
  std::string golden;               // or: body equals this golden file
  std::vector<std::pair<std::string, std::string>> expect_headers;
  int ttl = 0;
  bool unknown_source = false;
};

inline Response Run(const Case& c) {
  const InstanceMetadata m = c.instance().Build();
  Request req;
  req.method = c.method;
  req.target = c.target;
  for (const auto& [k, v] : c.headers) req.headers.Add(k, Expand(v, m));
  return Handle(req, c.unknown_source ? nullptr : &m, Authority(), kNow);
}

inline void Check(const Case& c) {
  INFO("case: " << c.name << " (" << c.method << " " << c.target << ")");
  const Response r = Run(c);
  CHECK(r.status == c.status);
  if (c.body) CHECK(r.body == *c.body);
  if (!c.golden.empty()) CheckGolden(c.golden, r.body);
  for (const auto& [k, v] : c.expect_headers) {
    INFO("header " << k);
    REQUIRE(r.headers.Get(k).has_value());
    CHECK(std::string(*r.headers.Get(k)) == v);
  }
  CHECK(r.ttl_for_response == c.ttl);
}

inline const std::vector<std::pair<std::string, std::string>> kTextPlain = {
    {"Content-Type", "text/plain"}};
inline const std::vector<std::pair<std::string, std::string>> kHtml = {
    {"Content-Type", "text/html"}};

}  // namespace minicloud::metadata::testing
