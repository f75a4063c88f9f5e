// libFuzzer target for the metadata server's HTTP request path without sockets: bytes as a guest
// sends them (several pipelined requests included) -> Beast's request parser with the server's
// limits (header first, then the route's body limit: guest_routes.h) -> ParseErrorStatus /
// ToHandlerRequest -> Handle, or the CloudFormation / helper-archive decisions with a forwarded
// answer standing in for the controller's -> SerializeResponse. Every response
// must parse back as exactly one well-formed HTTP response carrying what the handler decided, with
// no field beyond the ones the server writes (no header splitting), and a request in absolute form
// must be refused.
//
// Input layout: byte 0 = option bits (see Instance), then the bytes on the wire.

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "agent/metadata/guest_routes.h"
#include "agent/metadata/handler.h"
#include "agent/metadata/http_codec.h"
#include "agent/metadata/server.h"
#include "common/string_view_compat.h"
#include "tests/fuzz/imds_sample.h"

using namespace minicloud::metadata;
namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

void Require(bool ok) {
  if (!ok) std::abort();
}

const TokenAuthority& Authority() { return fuzz::SampleAuthority(); }

InstanceMetadata Instance(uint8_t bits) {
  return fuzz::SampleInstance(bits, "c\r\nInjected: yes",
                              std::string("\0#!\r\n\r\nHTTP/1.1 200 OK\r\n", 23));
}

bool IsAbsoluteForm(absl::string_view target) {
  return absl::StartsWithIgnoreCase(target, "http://") ||
         absl::StartsWithIgnoreCase(target, "https://");
}

// The number of header fields SerializeResponse writes for `r`.
size_t ExpectedFieldCount(const Response& r, bool keep_alive, unsigned version) {
  size_t n = 3;  // Server, Date, Content-Length
  for (const auto& [name, value] : r.headers.fields()) {
    if (name.find_first_of("\r\n:") == std::string::npos &&
        value.find_first_of("\r\n") == std::string::npos) {
      ++n;
    }
  }
  if (!keep_alive || version == 10) ++n;  // Connection
  return n;
}

// `wire` must be exactly one response to a request with `method` that says what `r` says.
void CheckWire(const std::string& wire, const Response& r, const std::string& method,
               bool keep_alive, unsigned version) {
  http::response_parser<http::string_body> p;
  p.eager(true);
  p.body_limit(64 * 1024 * 1024);
  if (method == "HEAD") p.skip(true);
  boost::beast::error_code ec;
  const size_t used = p.put(asio::buffer(wire.data(), wire.size()), ec);
  Require(!ec);
  Require(p.is_done());
  Require(used == wire.size());  // nothing after the response: no response splitting
  const auto& msg = p.get();
  Require(static_cast<int>(msg.result_int()) == r.status);
  Require(msg.version() == (version == 10 ? 10u : 11u));
  size_t fields = 0;
  for (const auto& f : msg) {
    (void)f;
    ++fields;
  }
  Require(fields == ExpectedFieldCount(r, keep_alive, version));
  size_t length = 0;
  Require(absl::SimpleAtoi(absl::string_view(msg[http::field::content_length].data(),
                                             msg[http::field::content_length].size()),
                           &length));
  if (method == "HEAD") {
    Require(r.body.empty());
    Require(r.content_length.has_value() && length == *r.content_length);
  } else {
    Require(length == r.body.size());
    Require(msg.body() == r.body);
  }
  Require(msg.keep_alive() == keep_alive);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t bits = data[0];
  absl::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const InstanceMetadata m = Instance(bits);
  const bool unknown = (bits & 0x08) != 0;
  const ServerOptions limits;  // the server's defaults
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);

  for (int n = 0; n < 16 && !rest.empty(); ++n) {  // one connection, pipelined requests
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(std::max(limits.max_body_bytes, kMaxCloudFormationBody));
    boost::beast::error_code ec;
    // As http::async_read_header then http::async_read do: put until the header (then the
    // message) is done or fails; when the parser needs more than the guest sent, the guest has
    // stopped sending (end of stream). Between the two the server applies the route's limit.
    bool route_limit_applied = false;
    while (!parser.is_done()) {
      if (parser.is_header_done() && !route_limit_applied) {
        route_limit_applied = true;
        const size_t limit =
            BodyLimitFor(minicloud::AbslView(parser.get().target()), limits.max_body_bytes);
        const auto length = parser.content_length();
        if (length && *length > limit) {
          ec = http::error::body_limit;
          break;
        }
        parser.body_limit(limit);
        parser.eager(true);
        continue;
      }
      ec = {};
      const size_t used = parser.put(asio::buffer(rest.data(), rest.size()), ec);
      rest.remove_prefix(used);
      if (ec == http::error::need_more || (!ec && used == 0)) {
        ec = {};
        if (used > 0) continue;
        parser.put_eof(ec);
        break;
      }
      if (ec) break;
    }

    std::string wire;
    if (ec) {
      const std::optional<int> status = ParseErrorStatus(ec);
      if (!status) return 0;  // the connection closes without an answer
      Require(*status == 400 || *status == 413);
      const Response r = ErrorResponse(*status);
      SerializeResponse(r, /*keep_alive=*/false, 11, "Thu, 01 Jan 1970 00:00:00 GMT", &wire);
      CheckWire(wire, r, "GET", false, 11);
      return 0;  // answered, then closed
    }
    Require(parser.is_done());
    const auto& req = parser.get();
    const Request q = ToHandlerRequest(req);
    Require(q.body_size <= BodyLimitFor(q.target, limits.max_body_bytes));
    Response r;
    switch (RouteOf(q.target)) {
      case GuestRoute::kImds:
        r = Handle(q, unknown ? nullptr : &m, Authority(), now);
        break;
      case GuestRoute::kCfnBootstrap:
        if (std::optional<Response> refused = DecideCfnBootstrap(q, unknown ? nullptr : &m)) {
          r = *std::move(refused);
        } else {
          r = ArchiveMissing();
        }
        break;
      case GuestRoute::kCloudFormation: {
        CloudFormationDecision d = DecideCloudFormation(q, q.body_size, unknown ? nullptr : &m);
        if (unknown) Require(d.answer && d.answer->status == 403);
        if (d.answer) {
          r = *std::move(d.answer);
        } else {
          Require(!d.target.empty() && d.target.front() == '/');
          // The controller's answer is not trusted either: the request's bytes as its body and
          // content type.
          const std::string& raw = req.body();
          r = ForwardedResponse(static_cast<int>(raw.size() % 700), d.target, raw);
        }
        break;
      }
    }
    if (RouteOf(q.target) != GuestRoute::kImds && q.method == "HEAD" && !r.content_length) {
      r.content_length = r.body.size();
      r.body.clear();
    }
    if (IsAbsoluteForm(q.target) &&
        (q.method == "GET" || q.method == "HEAD" || q.method == "PUT")) {
      Require(r.status == 403);
    }
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version() == 10 ? 10 : 11;
    SerializeResponse(r, keep_alive, req.version(), "Thu, 01 Jan 1970 00:00:00 GMT", &wire);
    CheckWire(wire, r, q.method, keep_alive, version);
    if (!keep_alive) return 0;
  }
  return 0;
}
