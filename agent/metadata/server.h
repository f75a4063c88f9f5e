#pragma once

// The thin HTTP layer of the metadata service: Boost.Beast over Asio. It parses requests, finds
// the instance that owns the peer address (the address is trustworthy: the agent's anti-spoofing
// rules drop guest packets with foreign source addresses), calls the pure Handle() and writes the
// response, applying the hop limit Handle() asks for as the IP TTL / IPv6 unicast hops of the
// response packets.
//
// Robustness (one guest must not starve the others):
//  - request line + headers limited to `max_header_bytes` (400), body to `max_body_bytes` (413);
//    malformed HTTP -> 400 and close;
//  - a request must arrive completely within `request_timeout` of the previous response (or of
//    connect); slow or idle connections are closed (slowloris);
//  - at most `max_connections_per_source` concurrent connections per peer address and
//    ConnectionCap(max_connections, RLIMIT_NOFILE) overall; excess connections are closed right
//    after accept;
//  - when accept fails (out of file descriptors: EMFILE/ENFILE, or memory) that listener pauses,
//    `accept_backoff_min` doubling up to `accept_backoff_max`, instead of retrying at once;
//    established connections are served meanwhile. Accept failures are logged at most once per
//    `accept_error_log_interval` (with the count since the last line), recovery once;
//  - a token bucket per instance (per peer address for unknown peers): `requests_per_second`,
//    `burst`; requests over it get 429 (EC2: "We throttle queries to the IMDS on a per-instance
//    basis ... and we place limits on the number of simultaneous connections").
//
// Hop limit: before writing a response with ttl_for_response > 0 the socket's IP_TTL (and
// IPV6_UNICAST_HOPS on IPv6 sockets) is set to it. After the write the default (-1) is restored
// once the kernel holds no unacknowledged bytes of the connection (SIOCOUTQ == 0); otherwise the
// lowered TTL stays until the next response finds the queue empty, so retransmissions of a token
// never leave with a higher TTL.
//
// Besides IMDS (guest_routes.h): /cloudformation/... is handed to `cloudformation` (the agent
// forwards it to the controller) and the connection waits for its answer without holding an io
// thread, so other guests are served meanwhile; /minicloud/cfn-bootstrap.tar.gz is the file
// `cfn_bootstrap_archive`, read once and kept in memory until its size or modification time
// changes. Both pass the same rate limit and connection caps as IMDS. Bodies: IMDS keeps
// `max_body_bytes`, CloudFormation requests may carry kMaxCloudFormationBody (64 KiB); more is 413.
//
// Threading: `threads` io_context threads (default 1); each connection runs on its own strand.
// The instance lookup, token authority, clock and forwarder are called from those threads.

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/metadata/handler.h"
#include "agent/metadata/instance_metadata.h"
#include "agent/metadata/token_authority.h"
#include "common/clock.h"

namespace minicloud::metadata {

// A guest's CloudFormation request, with the instance the server found for its source address.
struct ForwardRequest {
  std::string instance_id;
  std::string method;
  std::string target;  // after "/cloudformation", starting with '/', with the query
  Headers headers;
  std::string body;
};
// Answers a ForwardRequest asynchronously: `done` must be called exactly once, from any thread
// (also before the forwarder returns). The forwarder must not block: it runs on an io thread.
using ForwardDone = std::function<void(Response)>;
using Forwarder = std::function<void(ForwardRequest, ForwardDone done)>;

struct ServerOptions {
  // e.g. 169.254.169.254:80 and [fd00:ec2::254]:80; 127.0.0.1:0 in tests. Bound with
  // IP_FREEBIND so the agent may start before the bridge holds the address.
  std::vector<boost::asio::ip::tcp::endpoint> listen;
  int threads = 1;
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 4 * 1024;
  absl::Duration request_timeout = absl::Seconds(5);
  absl::Duration write_timeout = absl::Seconds(5);
  int max_connections_per_source = 16;
  // Upper bound; the server uses at most half of the process's file descriptors (ConnectionCap).
  int max_connections = 4096;
  absl::Duration accept_backoff_min = absl::Milliseconds(10);
  absl::Duration accept_backoff_max = absl::Seconds(1);
  absl::Duration accept_error_log_interval = absl::Seconds(10);
  // Per-instance token bucket; requests_per_second <= 0 disables rate limiting.
  double requests_per_second = 200;
  double burst = 400;
  // /cloudformation/...: null answers 503 (not available on this host).
  Forwarder cloudformation;
  // The helper archive served at /minicloud/cfn-bootstrap.tar.gz; empty or missing: 404.
  std::string cfn_bootstrap_archive;
  // The largest archive kept in memory; a bigger file is answered as missing (and logged).
  size_t max_archive_bytes = 64 * 1024 * 1024;
};

// Reported after each response is written (test hook / access log). Called on an io thread.
struct ServedEvent {
  boost::asio::ip::address peer;
  std::string instance_id;  // empty when no instance owns the peer
  std::string method;
  std::string target;
  int status = 0;
  int ttl_requested = 0;   // Response::ttl_for_response
  int ttl_on_socket = -1;  // getsockopt(IP_TTL / IPV6_UNICAST_HOPS) after applying it; -1 if not
};

struct ServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_rejected = 0;  // per-source or global connection limit
  uint64_t requests = 0;
  uint64_t throttled = 0;      // 429
  uint64_t bad_requests = 0;   // malformed / oversized -> 400 / 413
  uint64_t timeouts = 0;       // connections closed by request_timeout / write_timeout
  uint64_t accept_errors = 0;  // failed accept() calls (each followed by a pause, see above)
  uint64_t forwarded = 0;      // CloudFormation requests handed to the forwarder
  int forwards_pending = 0;    // gauge: forwarded requests not answered yet
  int connections_open = 0;    // gauge
  int connection_cap = 0;      // the overall cap in force (0 before Start)
};

// The overall connection cap for a process whose soft RLIMIT_NOFILE is `fd_limit`: the configured
// cap, but never more than half of the descriptors, so the metadata server alone cannot exhaust
// the agent's table (libvirt, gRPC, disk images and dnsmasq need the rest). At least 1.
int ConnectionCap(int configured, uint64_t fd_limit);

class Server {
 public:
  using InstanceLookup =
      std::function<std::shared_ptr<const InstanceMetadata>(const boost::asio::ip::address& peer)>;
  using Observer = std::function<void(const ServedEvent&)>;

  // `clock` must outlive the server. `observer` may be empty.
  Server(ServerOptions options, InstanceLookup lookup, TokenAuthority tokens, const Clock& clock,
         Observer observer = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listen endpoint and starts the io threads. Unavailable naming the endpoint when
  // a bind fails (nothing is left listening then). FailedPrecondition if already started.
  absl::Status Start();
  // Closes listeners and every connection, joins the threads. Idempotent.
  void Stop();

  // Bound addresses (port 0 resolved), in `options.listen` order. Empty before Start().
  std::vector<boost::asio::ip::tcp::endpoint> local_endpoints() const;
  ServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace minicloud::metadata
