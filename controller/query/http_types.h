#pragma once

// The HTTP exchange as the Query API sees it, independent of the server that carries it.

#include <string>
#include <utility>
#include <vector>

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

}  // namespace minicloud::query
