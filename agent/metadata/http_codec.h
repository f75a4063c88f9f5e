#pragma once

// The socket-free translations of the metadata server's HTTP layer (server.h), shared with the
// fuzz target tests/fuzz/imds_http/: which parse errors get an answer, a parsed request to the
// handler's Request, and the handler's Response to the bytes written.

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "agent/metadata/handler.h"

namespace minicloud::metadata {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// The status answered (then the connection is closed) when parsing a request failed: 413 when the
// body exceeds the limit, 400 for any other malformed or oversized request. nullopt for errors
// that are not the request's shape (end of stream, a message cut short, socket errors): those
// close the connection without an answer.
std::optional<int> ParseErrorStatus(const boost::beast::error_code& ec);

// The handler's view of a parsed request: method and target as on the wire, every header field,
// the body's size.
Request ToHandlerRequest(const HttpRequest& req);

// The response as written: status line (HTTP/1.0 or 1.1 as the request's `version`, 10 or 11),
// Server, Date, the handler's fields (a field whose name or value could split the header — CR, LF
// or a colon in the name — is left out), Content-Length (content_length for HEAD), Connection
// when the default for the version does not apply, then the body. Replaces `out`.
void SerializeResponse(const Response& r, bool keep_alive, unsigned version,
                       absl::string_view http_date, std::string* out);

}  // namespace minicloud::metadata
