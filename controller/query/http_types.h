#pragma once

// The HTTP exchange as the Query API sees it, independent of the server that carries it.

#include <string>
#include <utility>
#include <vector>

#include "common/auth/signed_request.h"

namespace minicloud::query {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as on the request line: path and query, e.g. "/?Action=..."
  std::vector<std::pair<std::string, std::string>> headers;  // in arrival order
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/xml;charset=UTF-8";
  std::string body;
};

// The request as SigV4 verifies it: the target split into raw path and query at the first '?'.
// The one split for every protocol the Query server carries (EC2, CloudFormation).
inline auth::SignedRequest SignedRequestOf(const HttpRequest& request) {
  const size_t q = request.target.find('?');
  auth::SignedRequest out;
  out.method = request.method;
  out.path = request.target.substr(0, q);
  out.query = q == std::string::npos ? "" : request.target.substr(q + 1);
  out.headers = request.headers;
  out.body = request.body;
  return out;
}

}  // namespace minicloud::query
