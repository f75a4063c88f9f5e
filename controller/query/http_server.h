#pragma once

// A small HTTP/1.1 server (Boost.Beast over asio) for the Query API: a pool of threads running
// one io_context, keep-alive, a limit on the size of a request, a deadline for reading each
// request and for keeping an idle connection. A request that is not valid HTTP, or too large,
// is answered 400 / 413 and the connection closed; nothing a client sends ends the process.
// The handler runs on a pool thread and may block (the services wait for durable commits).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/query/http_types.h"

namespace minicloud::query {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8773";  // "host:port"; port 0 picks one
  int threads = 4;
  uint64_t max_body_bytes = 1 << 20;  // EC2 refuses larger Query requests too
  uint32_t max_header_bytes = 16 << 10;
  absl::Duration read_timeout = absl::Seconds(30);  // one whole request
  absl::Duration idle_timeout = absl::Seconds(60);  // between keep-alive requests
  int max_connections = 1024;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // Binds and starts serving; the bound port (for port 0) is port().
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options,
                                                           HttpHandler handler);
  ~HttpServer();  // Stop()
  // Closes the listener and every connection, then joins the threads. Idempotent.
  void Stop();
  int port() const;

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "host:port" → host and port; IPv6 as "[::1]:8773". InvalidArgument otherwise.
absl::StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& address);

}  // namespace minicloud::query
