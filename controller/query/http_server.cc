#include "controller/query/http_server.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace minicloud::query {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

absl::StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& address) {
  std::string host;
  std::string port;
  if (!address.empty() && address[0] == '[') {
    const size_t close = address.find("]:");
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad address '", address, "'"));
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad address '", address, "': expected host:port"));
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  uint32_t p = 0;
  if (host.empty() || !absl::SimpleAtoi(port, &p) || p > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad address '", address, "': expected host:port"));
  }
  return std::make_pair(host, static_cast<uint16_t>(p));
}

// Members are destroyed in reverse order: the io_context (and with it the sessions still
// queued in it, which count themselves out of `connections`) before `connections`.
struct HttpServer::Impl {
  Impl(HttpServerOptions o, HttpHandler h)
      : options(std::move(o)), handler(std::move(h)), acceptor(ioc) {}

  const HttpServerOptions options;
  const HttpHandler handler;
  std::atomic<int> connections{0};
  std::once_flag stopped;
  int port = 0;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;

  void Accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl* server)
      : stream_(std::move(socket)), server_(server) {}
  ~Session() { --server_->connections; }

  void Read(bool first) {
    parser_.emplace();
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->header_limit(server_->options.max_header_bytes);
    // Before the first byte of a keep-alive request the idle deadline applies; the read timeout
    // bounds a whole request (a slow sender cannot hold a thread or a slot forever).
    stream_.expires_after(absl::ToChronoNanoseconds(first ? server_->options.read_timeout
                                                          : server_->options.idle_timeout));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      return Close();
    }
    if (ec == http::error::partial_message && buffer_.size() == 0) return Close();
    if (ec) {
      // Not HTTP, or too large: say so once and close.
      const bool too_large = ec == http::error::body_limit;
      return WriteAndClose(too_large ? http::status::payload_too_large : http::status::bad_request,
                           too_large ? "request body too large\n" : "malformed HTTP request\n");
    }
    const auto& req = parser_->get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    for (const auto& field : req) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = req.body();
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    stream_.expires_never();  // the handler may wait for a durable commit
    HttpResponse r;
    try {
      r = server_->handler(request);
    } catch (const std::exception& e) {
      spdlog::error("query API handler threw: {}", e.what());
      r.status = 500;
      r.body = "internal error\n";
    }
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version);
    res->set(http::field::server, "minicloud");
    res->set(http::field::content_type, r.content_type);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    stream_.expires_after(absl::ToChronoNanoseconds(server_->options.read_timeout));
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) return self->Close();
                        self->Read(false);
                      });
  }

  void WriteAndClose(http::status status, const char* text) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "minicloud");
    res->set(http::field::content_type, "text/plain");
    res->body() = text;
    res->keep_alive(false);
    res->prepare_payload();
    stream_.expires_after(std::chrono::seconds(5));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, size_t) {
      self->Close();
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer::Impl* server_;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc),
                        [self = this](beast::error_code ec, tcp::socket socket) {
                          if (ec == asio::error::operation_aborted || !self->acceptor.is_open())
                            return;
                          if (!ec) {
                            if (self->connections.fetch_add(1) >= self->options.max_connections) {
                              --self->connections;
                              beast::error_code ignored;
                              socket.close(ignored);
                            } else {
                              std::make_shared<Session>(std::move(socket), self)->Read(true);
                            }
                          } else {
                            spdlog::warn("query API accept: {}", ec.message());
                          }
                          self->Accept();
                        });
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options,
                                                              HttpHandler handler) {
  auto hp = SplitHostPort(options.listen);
  if (!hp.ok()) return hp.status();
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  beast::error_code ec;
  const auto address = asio::ip::make_address(hp->first, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("query API: bad address '", hp->first, "': ", ec.message()));
  }
  const tcp::endpoint endpoint(address, hp->second);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("query API: cannot listen on ", impl->options.listen, ": ", ec.message()));
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  for (int i = 0; i < std::max(1, impl->options.threads); ++i) {
    impl->threads.emplace_back([raw = impl.get()] { raw->ioc.run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  std::call_once(impl_->stopped, [this] {
    impl_->ioc.stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
    beast::error_code ignored;
    impl_->acceptor.close(ignored);  // no thread runs the io_context any more
  });
}

int HttpServer::port() const { return impl_->port; }

}  // namespace minicloud::query
