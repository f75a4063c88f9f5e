#pragma once

// Writing EC2 Query responses with pugixml: elements in EC2's namespace, lists as
// `<fooSet><item>…</item></fooSet>`, timestamps as EC2 prints them, and serialization without
// indentation (the benchmark compares this path with gRPC's binary encoding).

#include <cstdint>
#include <pugixml.hpp>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace minicloud::query {

inline constexpr char kEc2Namespace[] = "http://ec2.amazonaws.com/doc/2016-11-15/";

// A document `<?xml…?><{action}Response xmlns="…"><requestId>…</requestId></…>`; the action
// appends its fields to root().
class XmlResponse {
 public:
  XmlResponse(absl::string_view action, absl::string_view request_id);
  pugi::xml_node root() const { return root_; }
  std::string Serialize() const;

 private:
  pugi::xml_document doc_;
  pugi::xml_node root_;
};

// EC2's error document: <Response><Errors><Error><Code/><Message/></Error></Errors>
// <RequestID/></Response> (RequestID in capitals here, unlike requestId on success).
std::string ErrorXml(absl::string_view code, absl::string_view message,
                     absl::string_view request_id);

// Appends <name>value</name> and returns the new element.
pugi::xml_node Text(pugi::xml_node parent, const char* name, absl::string_view value);
// The same, but nothing when `value` is empty (EC2 leaves absent fields out).
void TextIfSet(pugi::xml_node parent, const char* name, absl::string_view value);
void Int(pugi::xml_node parent, const char* name, int64_t value);
void Bool(pugi::xml_node parent, const char* name, bool value);
// "2016-11-15T10:20:30.000Z", as EC2 prints every timestamp.
void Time(pugi::xml_node parent, const char* name, absl::Time t);
void Time(pugi::xml_node parent, const char* name, const google::protobuf::Timestamp& t);
void TimeMs(pugi::xml_node parent, const char* name, int64_t unix_ms);
// Appends <name/> and returns it (structures and lists).
pugi::xml_node Child(pugi::xml_node parent, const char* name);
// Appends <item/> to a list element.
inline pugi::xml_node Item(pugi::xml_node list) { return list.append_child("item"); }

std::string FormatEc2Time(absl::Time t);

}  // namespace minicloud::query
