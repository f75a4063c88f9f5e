#include "guest/cfn/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

namespace minicloud::guest {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

StatusOr<Url> ParseHttpUrl(const std::string& url) {
  static const std::string kScheme = "http://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) {
    return Error("URL " + url + ": only http:// URLs are supported here");
  }
  for (char c : url) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '#') {
      return Error("URL " + url + ": malformed (whitespace or fragment)");
    }
  }
  std::string rest = url.substr(kScheme.size());
  size_t slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  Url out;
  if (slash != std::string::npos) {
    out.target = rest.substr(slash);
    if (out.target[0] == '?') out.target = "/" + out.target;
  }
  if (authority.empty() || authority.find('@') != std::string::npos) {
    return Error("URL " + url + ": no host, or userinfo in the host");
  }
  if (authority[0] == '[') {  // [v6]:port
    size_t close = authority.find(']');
    if (close == std::string::npos) return Error("URL " + url + ": unclosed IPv6 literal");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return Error("URL " + url + ": malformed port");
      out.port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) out.port = authority.substr(colon + 1);
  }
  if (out.host.empty() || out.port.empty() || out.port.size() > 5 ||
      out.port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(out.port) > 65535) {
    return Error("URL " + url + ": malformed host or port");
  }
  return out;
}

StatusOr<HttpResponse> SendHttp(const HttpRequest& request) {
  StatusOr<Url> url = ParseHttpUrl(request.url);
  if (!url.ok()) return url.status();
  const std::string what = request.method + " " + request.url;
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(request.timeout);
    auto endpoints = resolver.resolve(url->host, url->port);
    stream.connect(endpoints);

    http::request<http::string_body> req;
    req.method(http::string_to_verb(request.method));
    if (req.method() == http::verb::unknown) return Error(what + ": unknown method");
    req.target(url->target);
    req.version(11);
    req.set(http::field::host, url->host + (url->port == "80" ? "" : ":" + url->port));
    req.set(http::field::user_agent, "minicloud-cfn-bootstrap");
    req.set(http::field::connection, "close");
    for (const auto& [name, value] : request.headers) req.set(name, value);
    req.body() = request.body;
    if (!request.body.empty() || req.method() == http::verb::put ||
        req.method() == http::verb::post) {
      req.prepare_payload();
    }
    http::write(stream, req);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(request.max_body_bytes);
    http::read(stream, buffer, parser);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    HttpResponse out;
    out.status = static_cast<int>(parser.get().result_int());
    out.body = std::move(parser.get().body());
    return out;
  } catch (const boost::system::system_error& e) {
    return Error(what + ": " + e.code().message());
  } catch (const std::exception& e) {
    return Error(what + ": " + e.what());
  }
}

std::string FormEncode(const std::string& value) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace minicloud::guest
