// The Query API's HTTP server on loopback (port 0), spoken to with raw sockets.
#include "controller/query/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace minicloud::query {
namespace {

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void Send(int fd, const std::string& s) {
  REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()));
}

// Reads one response (headers and a Content-Length body).
std::string ReadResponse(int fd) {
  std::string in;
  char buf[4096];
  while (true) {
    const size_t end = in.find("\r\n\r\n");
    if (end != std::string::npos) {
      const size_t cl = in.find("Content-Length: ");
      size_t len = cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16));
      if (in.size() >= end + 4 + len) return in.substr(0, end + 4 + len);
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return in;
    in.append(buf, static_cast<size_t>(n));
  }
}

struct Server {
  std::atomic<int> calls{0};
  std::unique_ptr<HttpServer> server;
  explicit Server(HttpServerOptions o = {}) {
    o.listen = "127.0.0.1:0";
    auto s = HttpServer::Start(o, [this](const HttpRequest& r) {
      ++calls;
      HttpResponse resp;
      resp.body = absl::StrCat(r.method, " ", r.target, " ", r.body.size());
      return resp;
    });
    REQUIRE(s.ok());
    server = std::move(*s);
  }
};

TEST_CASE("keep-alive: two requests on one connection reach the handler") {
  Server s;
  int fd = Connect(s.server->port());
  Send(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  std::string r1 = ReadResponse(fd);
  CHECK(absl::StartsWith(r1, "HTTP/1.1 200"));
  CHECK(absl::EndsWith(r1, "POST / 3"));
  Send(fd, "GET /?Action=X HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(absl::EndsWith(ReadResponse(fd), "GET /?Action=X 0"));
  ::close(fd);
  CHECK(s.calls == 2);
}

TEST_CASE("garbage gets 400, an oversized body 413, and the server keeps serving") {
  HttpServerOptions o;
  o.max_body_bytes = 100;
  Server s(o);
  int fd = Connect(s.server->port());
  Send(fd, "\x16\x03\x01 this is not http\r\n\r\n");
  CHECK(absl::StartsWith(ReadResponse(fd), "HTTP/1.1 400"));
  ::close(fd);
  fd = Connect(s.server->port());
  Send(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
  CHECK(absl::StartsWith(ReadResponse(fd), "HTTP/1.1 413"));
  ::close(fd);
  CHECK(s.calls == 0);
  fd = Connect(s.server->port());
  Send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(absl::StartsWith(ReadResponse(fd), "HTTP/1.1 200"));
  ::close(fd);
}

TEST_CASE("a client that stops sending mid-request is disconnected after the read timeout") {
  HttpServerOptions o;
  o.read_timeout = absl::Milliseconds(300);
  Server s(o);
  int fd = Connect(s.server->port());
  Send(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  char c;
  // Bug caught: no deadline (the recv would block for the whole SO_RCVTIMEO and fail).
  CHECK(::recv(fd, &c, 1, 0) == 0);
  ::close(fd);
}

TEST_CASE("addresses: host:port and [v6]:port") {
  CHECK(SplitHostPort("127.0.0.1:8773")->second == 8773);
  CHECK(SplitHostPort("[::1]:80")->first == "::1");
  CHECK_FALSE(SplitHostPort("localhost").ok());
  CHECK_FALSE(SplitHostPort(":80").ok());
  CHECK_FALSE(SplitHostPort("h:99999").ok());
}

}  // namespace
}  // namespace minicloud::query
