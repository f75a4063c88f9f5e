#pragma once

// The EC2 instance metadata service (IMDS) as a pure function:
//   Handle(request, instance record, token authority, now) -> response.
// No sockets, no clock reads, no logging: the HTTP layer (server.h) parses bytes into a Request,
// looks the instance up by source address, calls Handle() and writes the Response. Every EC2
// rule this implements, with its source, is listed at the top of handler.cc.

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "agent/metadata/instance_metadata.h"
#include "agent/metadata/token_authority.h"

namespace minicloud::metadata {

inline constexpr absl::string_view kTokenHeader = "X-aws-ec2-metadata-token";
inline constexpr absl::string_view kTokenTtlHeader = "X-aws-ec2-metadata-token-ttl-seconds";
inline constexpr absl::string_view kTokenPath = "/latest/api/token";

// HTTP header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  Headers() = default;
  Headers(std::initializer_list<std::pair<std::string, std::string>> fields);

  void Add(absl::string_view name, absl::string_view value);
  // Replaces every field of that name with one.
  void Set(absl::string_view name, absl::string_view value);
  // Value of the first field with that name.
  std::optional<absl::string_view> Get(absl::string_view name) const;
  bool Has(absl::string_view name) const { return Get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct Request {
  std::string method;  // case-sensitive, as on the wire ("GET")
  std::string target;  // request-target: "/latest/meta-data/?x" or absolute-form
  Headers headers;
  size_t body_size = 0;
};

struct Response {
  int status = 200;
  // Content-Type and handler-specific fields (Allow, the token TTL echo). The HTTP layer adds
  // Server, Date, Content-Length and Connection.
  Headers headers;
  std::string body;
  // Set for HEAD: the Content-Length a GET would have had (the body itself is empty).
  std::optional<size_t> content_length;
  // IP TTL / IPv6 hop limit for the packets of this response; 0 = the socket default.
  int ttl_for_response = 0;
};

// `instance` is null when no instance owns the source address. Never throws; any byte sequence in
// `request` yields a well-formed response. `proven` is the calling connection's memory of the
// last token it proved (token_authority.h); null checks every token in full. Either way the
// answer is the same.
Response Handle(const Request& request, const InstanceMetadata* instance,
                const TokenAuthority& tokens, absl::Time now, ProvenToken* proven = nullptr);

// The error pages EC2's IMDS returns (HTML bodies, text/html). For statuses the HTTP layer
// produces itself (400 malformed, 413, 429).
Response ErrorResponse(int status);

// Versions listed at GET / (oldest first; "latest" last).
absl::Span<const absl::string_view> ImdsVersions();

}  // namespace minicloud::metadata
