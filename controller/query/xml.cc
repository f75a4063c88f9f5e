#include "controller/query/xml.h"

#include "absl/strings/str_cat.h"

namespace minicloud::query {
namespace {

struct StringWriter final : pugi::xml_writer {
  explicit StringWriter(std::string* o) : out(o) {}
  void write(const void* data, size_t size) override {
    out->append(static_cast<const char*>(data), size);
  }
  std::string* out;
};

constexpr unsigned kFormat = pugi::format_raw | pugi::format_no_declaration;

std::string Save(const pugi::xml_document& doc) {
  std::string out;
  out.reserve(1024);
  out.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
  StringWriter w(&out);
  doc.document_element().print(w, "", kFormat, pugi::encoding_utf8);
  return out;
}

}  // namespace

XmlResponse::XmlResponse(absl::string_view action, absl::string_view request_id) {
  root_ = doc_.append_child(absl::StrCat(action, "Response").c_str());
  root_.append_attribute("xmlns") = kEc2Namespace;
  Text(root_, "requestId", request_id);
}

std::string XmlResponse::Serialize() const { return Save(doc_); }

std::string ErrorXml(absl::string_view code, absl::string_view message,
                     absl::string_view request_id) {
  pugi::xml_document doc;
  pugi::xml_node response = doc.append_child("Response");
  pugi::xml_node error = Child(Child(response, "Errors"), "Error");
  Text(error, "Code", code);
  Text(error, "Message", message);
  Text(response, "RequestID", request_id);
  return Save(doc);
}

pugi::xml_node Text(pugi::xml_node parent, const char* name, absl::string_view value) {
  pugi::xml_node n = parent.append_child(name);
  n.append_child(pugi::node_pcdata).set_value(value.data(), value.size());
  return n;
}

void TextIfSet(pugi::xml_node parent, const char* name, absl::string_view value) {
  if (!value.empty()) Text(parent, name, value);
}

void Int(pugi::xml_node parent, const char* name, int64_t value) {
  parent.append_child(name).text().set(static_cast<long long>(value));
}

void Bool(pugi::xml_node parent, const char* name, bool value) {
  Text(parent, name, value ? "true" : "false");
}

std::string FormatEc2Time(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

void Time(pugi::xml_node parent, const char* name, absl::Time t) {
  Text(parent, name, FormatEc2Time(t));
}

void Time(pugi::xml_node parent, const char* name, const google::protobuf::Timestamp& t) {
  Time(parent, name, absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos()));
}

void TimeMs(pugi::xml_node parent, const char* name, int64_t unix_ms) {
  Time(parent, name, absl::FromUnixMillis(unix_ms));
}

pugi::xml_node Child(pugi::xml_node parent, const char* name) { return parent.append_child(name); }

}  // namespace minicloud::query
