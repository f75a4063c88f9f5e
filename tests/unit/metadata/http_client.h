#pragma once

// A deliberately dumb blocking HTTP/1.1 client over POSIX sockets for the server tests: it can
// bind a chosen source address (127.0.0.2 plays a second guest), send arbitrary bytes (garbage,
// slow drips) and parse one response at a time off a keep-alive connection.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace minicloud::metadata::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpConn {
 public:
  // Connects to host:port (IPv4 or IPv6 literal), optionally from `source` (port 0).
  HttpConn(const std::string& host, int port, const std::string& source = "", int timeout_ms = 5000)
      : timeout_ms_(timeout_ms) {
    const bool v6 = host.find(':') != std::string::npos;
    fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      if (!source.empty()) {
        ::inet_pton(AF_INET6, source.c_str(), &a.sin6_addr);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
          Fail();
          return;
        }
      }
      a.sin6_port = htons(static_cast<uint16_t>(port));
      ::inet_pton(AF_INET6, host.c_str(), &a.sin6_addr);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        Fail();
        return;
      }
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      if (!source.empty()) {
        ::inet_pton(AF_INET, source.c_str(), &a.sin_addr);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
          Fail();
          return;
        }
      }
      a.sin_port = htons(static_cast<uint16_t>(port));
      ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        Fail();
        return;
      }
    }
  }
  ~HttpConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  HttpConn(const HttpConn&) = delete;
  HttpConn& operator=(const HttpConn&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  int local_port() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }

  bool Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // One response. nullopt on timeout, reset or EOF before a complete response.
  std::optional<HttpResponse> Read(bool head = false) {
    size_t header_end;
    while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    HttpResponse r;
    const std::string head_text = buf_.substr(0, header_end);
    buf_.erase(0, header_end + 4);
    bool first = true;
    for (absl::string_view line : absl::StrSplit(head_text, "\r\n")) {
      if (first) {
        first = false;
        std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(' ', 2));
        if (parts.size() < 2 || !absl::SimpleAtoi(parts[1], &r.status)) return std::nullopt;
        continue;
      }
      const size_t colon = line.find(':');
      if (colon == absl::string_view::npos) continue;
      r.headers[absl::AsciiStrToLower(line.substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
    size_t length = 0;
    if (!head && absl::SimpleAtoi(r.header("content-length"), &length)) {
      while (buf_.size() < length) {
        if (!Fill()) return std::nullopt;
      }
      r.body = buf_.substr(0, length);
      buf_.erase(0, length);
    }
    return r;
  }

  std::optional<HttpResponse> Request(const std::string& method, const std::string& target,
                                      const std::map<std::string, std::string>& headers = {},
                                      const std::string& extra = "") {
    std::string req = absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: 169.254.169.254\r\n");
    for (const auto& [k, v] : headers) absl::StrAppend(&req, k, ": ", v, "\r\n");
    absl::StrAppend(&req, extra, "\r\n");
    if (!Send(req)) return std::nullopt;
    return Read(method == "HEAD");
  }

  // True when the peer has already closed (EOF or reset); does not wait and consumes nothing.
  bool ClosedNow() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    char c;
    return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
  }

  // True when the peer closes (EOF or reset) within `ms`; leftover bytes are discarded.
  bool ClosedWithin(int ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    char tmp[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
      if (::poll(&p, 1, std::max(1, left)) <= 0) continue;
      const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n <= 0) return true;
    }
    return false;
  }

 private:
  void Fail() {
    ::close(fd_);
    fd_ = -1;
  }
  bool Fill() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms_) <= 0) return false;
    char tmp[16384];
    const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  int timeout_ms_;
  std::string buf_;
};

}  // namespace minicloud::metadata::testing
