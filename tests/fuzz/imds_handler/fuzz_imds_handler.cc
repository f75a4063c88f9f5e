// libFuzzer target for the pure IMDS handler: arbitrary methods, targets, headers and instance
// options must always yield a well-formed response that respects the handler's contract.
//
// Input layout: byte 0 = option bits, byte 1 = method selector, then the target up to the first
// '\n', then "Name: value" header lines.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "agent/metadata/handler.h"
#include "tests/fuzz/imds_sample.h"

using namespace minicloud::metadata;

namespace {

void Require(bool ok) {
  if (!ok) std::abort();
}

const TokenAuthority& Authority() { return fuzz::SampleAuthority(); }

InstanceMetadata Instance(uint8_t bits) {
  return fuzz::SampleInstance(bits, "c", std::string("\0#!", 3));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t bits = data[0];
  static const char* const kMethods[] = {"GET", "HEAD", "PUT", "POST", "get", "", "OPTIONS"};
  Request req;
  req.method = kMethods[data[1] % 7];
  const absl::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  bool first = true;
  for (absl::string_view line : absl::StrSplit(rest, '\n')) {
    if (first) {
      req.target = std::string(line);
      first = false;
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      req.headers.Add(line, "");
    } else {
      absl::string_view v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      req.headers.Add(line.substr(0, colon), v);
    }
  }
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  const InstanceMetadata m = Instance(bits);
  if (bits & 0x20)
    req.headers.Add(kTokenHeader, *Authority().Issue(m.instance_id, absl::Hours(1), now));
  const bool unknown = (bits & 0x08) != 0;

  const Response r = Handle(req, unknown ? nullptr : &m, Authority(), now);

  Require(r.status == 200 || r.status == 400 || r.status == 401 || r.status == 403 ||
          r.status == 404 || r.status == 405);
  Require(r.headers.Get("Content-Type").has_value());
  if (req.method == "HEAD") {
    Require(r.body.empty());
    Require(r.content_length.has_value());
  } else {
    Require(!r.content_length.has_value());
  }
  if (r.status == 405) Require(r.headers.Get("Allow").has_value());
  if (r.status == 200 && req.method == "PUT") {
    Require(r.ttl_for_response >= 1 && r.ttl_for_response <= 64);
    Require(Authority().Validate(r.body, m.instance_id, now) == TokenCheck::kOk);
    Require(!req.headers.Has("X-Forwarded-For"));
  } else {
    Require(r.ttl_for_response == 0);
  }
  if (r.status == 200 && (req.method == "GET" || req.method == "HEAD")) {
    Require(!unknown && m.options.http_endpoint == HttpEndpoint::kEnabled);
    if (m.options.http_tokens == HttpTokens::kRequired) Require(req.headers.Has(kTokenHeader));
  }
  return 0;
}
