#pragma once

// A plain-HTTP/1.1 client for the guest helpers (Boost.Beast, header-only): the metadata
// address, the CloudFormation endpoint the host forwards, and the URLs a template names for
// files and sources. One request per connection, a deadline per request; no TLS (the helpers
// link nothing but glibc; https URLs are fetched with the guest's curl by the real System).

#include <chrono>
#include <map>
#include <string>

#include "guest/cfn/status.h"

namespace minicloud::guest {

struct Url {
  std::string host;
  std::string port = "80";
  std::string target = "/";  // path and query, always starting with '/'
};

// "http://host[:port][/path][?query]". Anything else (https, userinfo, fragments, spaces) is an
// error naming the URL.
StatusOr<Url> ParseHttpUrl(const std::string& url);

struct HttpResponse {
  int status = 0;
  std::string body;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::map<std::string, std::string> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};
  size_t max_body_bytes = 64 << 20;
};

// Any HTTP status is a response; a connection, timeout or protocol problem is an error naming
// the method and URL.
StatusOr<HttpResponse> SendHttp(const HttpRequest& request);

// application/x-www-form-urlencoded for one value (RFC 3986 unreserved characters kept).
std::string FormEncode(const std::string& value);

}  // namespace minicloud::guest
