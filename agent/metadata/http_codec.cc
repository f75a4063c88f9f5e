#include "agent/metadata/http_codec.h"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>

#include "absl/strings/str_cat.h"
#include "common/string_view_compat.h"

namespace minicloud::metadata {

namespace http = boost::beast::http;

std::optional<int> ParseErrorStatus(const boost::beast::error_code& ec) {
  if (!ec || ec.category() != http::make_error_code(http::error::bad_method).category() ||
      ec == http::error::end_of_stream || ec == http::error::partial_message) {
    return std::nullopt;
  }
  return ec == http::error::body_limit ? 413 : 400;
}

Request ToHandlerRequest(const HttpRequest& req) {
  Request q;
  q.method = std::string(req.method_string());
  q.target = std::string(req.target());
  for (const auto& field : req)
    q.headers.Add(AbslView(field.name_string()), AbslView(field.value()));
  q.body_size = req.body().size();
  return q;
}

// Serialised by hand into one buffer (one sendmsg): cheaper than Beast's generic serializer for
// these small, fixed-shape responses.
void SerializeResponse(const Response& r, bool keep_alive, unsigned version,
                       absl::string_view http_date, std::string* out) {
  const size_t length = r.content_length ? *r.content_length : r.body.size();
  out->clear();
  out->reserve(192 + r.body.size());
  absl::StrAppend(out, version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ", r.status, " ",
                  AbslView(http::obsolete_reason(static_cast<http::status>(r.status))),
                  "\r\nServer: EC2ws\r\nDate: ", http_date, "\r\n");
  for (const auto& [name, value] : r.headers.fields()) {
    // Handler-made fields; CR/LF would split the response, so they never pass.
    if (name.find_first_of("\r\n:") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      continue;
    }
    absl::StrAppend(out, name, ": ", value, "\r\n");
  }
  absl::StrAppend(out, "Content-Length: ", length, "\r\n");
  if (!keep_alive) {
    *out += "Connection: close\r\n";
  } else if (version == 10) {
    *out += "Connection: keep-alive\r\n";
  }
  *out += "\r\n";
  *out += r.body;  // empty for HEAD
}

}  // namespace minicloud::metadata
