#pragma once

// Writing EC2 Query responses: elements in EC2's namespace, lists as `<fooSet><item>…</item>
// </fooSet>`, timestamps as EC2 prints them, no indentation.
//
// The response is streamed straight into the body string: there is no document per response.
// An XmlNode is a handle on an element that is still open; writing a child to it closes, in
// order, every element opened under it since (so `Child(a, "b")` followed by `Text(a, "c", …)`
// gives `<a><b/><c>…</c></a>`). Writing to an element that is already closed is a programming
// error: the response is then refused (XmlResponse::Finish returns an internal error) rather
// than written in the wrong shape.
//
// Text is escaped by pugixml (its pcdata rules: `&`, `<`, `>` and control characters as
// character references), so the bytes are the ones pugixml printed when the responses were
// pugixml documents. Element names are the literals of this layer and are written as they are.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace minicloud::query {

inline constexpr char kEc2Namespace[] = "http://ec2.amazonaws.com/doc/2016-11-15/";

class XmlStream;

// An open element of an XmlStream (a cheap value; copy it freely).
class XmlNode {
 public:
  XmlNode() = default;

 private:
  friend class XmlStream;
  friend XmlNode Child(XmlNode parent, const char* name);
  friend XmlNode Text(XmlNode parent, const char* name, absl::string_view value);
  friend void Int(XmlNode parent, const char* name, int64_t value);
  XmlNode(XmlStream* s, uint32_t depth, uint32_t serial) : s_(s), depth_(depth), serial_(serial) {}
  XmlStream* s_ = nullptr;
  uint32_t depth_ = 0;   // index of this element in the stream's stack of open elements
  uint32_t serial_ = 0;  // which element opened at that depth (tells a closed one apart)
};

// The streaming writer behind XmlResponse (and ErrorXml).
class XmlStream {
 public:
  explicit XmlStream(std::string* out) : out_(out) {}
  // Opens the document element `<name xmlns="…">` (namespace empty: no attribute).
  XmlNode OpenRoot(absl::string_view name, absl::string_view xmlns);
  // Closes every open element. False if an element was written to after it was closed.
  bool Close();

 private:
  friend XmlNode Child(XmlNode parent, const char* name);
  friend XmlNode Text(XmlNode parent, const char* name, absl::string_view value);
  friend void Int(XmlNode parent, const char* name, int64_t value);
  // Makes `parent` the innermost open element (closing those above it); false if it is closed.
  bool Enter(const XmlNode& parent);
  XmlNode Open(const char* name);
  // Writes the innermost open element's end (`/>` when it has no content) and pops it.
  void CloseTop();
  void AppendEscaped(absl::string_view text);

  std::string* out_;
  struct Open_ {
    const char* name;  // nullptr for the document element (root_name_)
    uint32_t serial;
    bool has_content;
  };
  std::vector<Open_> open_;
  std::string root_name_;  // the document element's name (the others are literals)
  uint32_t next_serial_ = 1;
  bool broken_ = false;
};

// A response `<?xml…?><{action}Response xmlns="…"><requestId>…</requestId>…`; the action appends
// its fields to root(). The body is written into `body` as the action writes.
class XmlResponse {
 public:
  XmlResponse(absl::string_view action, absl::string_view request_id, std::string* body);
  XmlNode root() const { return root_; }
  // Closes the document; an internal error if the action wrote out of order.
  absl::Status Finish();

 private:
  XmlStream stream_;
  XmlNode root_;
};

// EC2's error document: <Response><Errors><Error><Code/><Message/></Error></Errors>
// <RequestID/></Response> (RequestID in capitals here, unlike requestId on success).
std::string ErrorXml(absl::string_view code, absl::string_view message,
                     absl::string_view request_id);

// Appends <name>value</name> and returns the new element.
XmlNode Text(XmlNode parent, const char* name, absl::string_view value);
// The same, but nothing when `value` is empty (EC2 leaves absent fields out).
void TextIfSet(XmlNode parent, const char* name, absl::string_view value);
void Int(XmlNode parent, const char* name, int64_t value);
void Bool(XmlNode parent, const char* name, bool value);
// "2016-11-15T10:20:30.000Z", as EC2 prints every timestamp.
void Time(XmlNode parent, const char* name, absl::Time t);
void Time(XmlNode parent, const char* name, const google::protobuf::Timestamp& t);
void TimeMs(XmlNode parent, const char* name, int64_t unix_ms);
// Appends <name/> and returns it (structures and lists).
XmlNode Child(XmlNode parent, const char* name);
// Appends <item/> to a list element.
inline XmlNode Item(XmlNode list) { return Child(list, "item"); }

std::string FormatEc2Time(absl::Time t);

// pugixml's escaping of `text` as element content (exposed for the differential test).
void AppendEscapedPcdata(absl::string_view text, std::string* out);

}  // namespace minicloud::query
