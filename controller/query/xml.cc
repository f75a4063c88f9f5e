#include "controller/query/xml.h"

#include <array>
#include <charconv>
#include <pugixml.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace minicloud::query {
namespace {

struct AppendWriter final : pugi::xml_writer {
  explicit AppendWriter(std::string* o) : out(o) {}
  void write(const void* data, size_t size) override {
    out->append(static_cast<const char*>(data), size);
  }
  std::string* out;
};

constexpr unsigned kFormat = pugi::format_raw | pugi::format_no_declaration;

// One pcdata node of a pugixml document, printed on its own: pugixml's escaping of element
// content, without a document per response.
class PcdataEscaper {
 public:
  PcdataEscaper() { node_ = doc_.append_child(pugi::node_pcdata); }
  void Append(absl::string_view text, std::string* out) {
    node_.set_value(text.data(), text.size());
    AppendWriter w(out);
    node_.print(w, "", kFormat, pugi::encoding_utf8);
  }

 private:
  pugi::xml_document doc_;
  pugi::xml_node node_;
};

PcdataEscaper& Escaper() {
  thread_local PcdataEscaper escaper;
  return escaper;
}

// The bytes pugixml prints as they are in element content, learnt from pugixml itself once:
// a value made only of them is appended directly (the bytes pugixml would print), anything
// else goes through pugixml.
const std::array<bool, 256>& VerbatimBytes() {
  static const std::array<bool, 256> table = [] {
    std::array<bool, 256> t{};
    PcdataEscaper e;
    for (int b = 1; b < 256; ++b) {
      const char c = static_cast<char>(b);
      std::string out;
      e.Append(absl::string_view(&c, 1), &out);
      t[b] = out.size() == 1 && out[0] == c;
    }
    return t;
  }();
  return table;
}

}  // namespace

void AppendEscapedPcdata(absl::string_view text, std::string* out) {
  const std::array<bool, 256>& verbatim = VerbatimBytes();
  for (unsigned char c : text) {
    if (!verbatim[c]) {
      Escaper().Append(text, out);
      return;
    }
  }
  out->append(text.data(), text.size());
}

XmlNode XmlStream::OpenRoot(absl::string_view name, absl::string_view xmlns) {
  out_->push_back('<');
  out_->append(name.data(), name.size());
  if (!xmlns.empty()) {
    out_->append(" xmlns=\"");
    out_->append(xmlns.data(), xmlns.size());  // kEc2Namespace: nothing to escape
    out_->push_back('"');
  }
  open_.push_back(Open_{nullptr, next_serial_, false});
  root_name_.assign(name.data(), name.size());
  return XmlNode(this, 0, next_serial_++);
}

void XmlStream::CloseTop() {
  const Open_& top = open_.back();
  if (top.has_content) {
    out_->append("</");
    if (top.name != nullptr) {
      out_->append(top.name);
    } else {
      out_->append(root_name_);
    }
    out_->push_back('>');
  } else {
    out_->append("/>");
  }
  open_.pop_back();
}

bool XmlStream::Enter(const XmlNode& parent) {
  if (broken_ || parent.depth_ >= open_.size() || open_[parent.depth_].serial != parent.serial_) {
    broken_ = true;
    return false;
  }
  while (open_.size() > parent.depth_ + 1) CloseTop();
  Open_& p = open_.back();
  if (!p.has_content) {
    out_->push_back('>');
    p.has_content = true;
  }
  return true;
}

XmlNode XmlStream::Open(const char* name) {
  out_->push_back('<');
  out_->append(name);
  open_.push_back(Open_{name, next_serial_, false});
  return XmlNode(this, static_cast<uint32_t>(open_.size() - 1), next_serial_++);
}

bool XmlStream::Close() {
  while (!open_.empty()) CloseTop();
  return !broken_;
}

XmlNode Child(XmlNode parent, const char* name) {
  XmlStream* s = parent.s_;
  if (s == nullptr || !s->Enter(parent)) return XmlNode();
  return s->Open(name);
}

XmlNode Text(XmlNode parent, const char* name, absl::string_view value) {
  XmlStream* s = parent.s_;
  if (s == nullptr || !s->Enter(parent)) return XmlNode();
  XmlNode n = s->Open(name);
  s->out_->push_back('>');
  s->open_.back().has_content = true;  // <name></name> even when empty, as pugixml printed it
  AppendEscapedPcdata(value, s->out_);
  return n;
}

void TextIfSet(XmlNode parent, const char* name, absl::string_view value) {
  if (!value.empty()) Text(parent, name, value);
}

void Int(XmlNode parent, const char* name, int64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  Text(parent, name, absl::string_view(buf, end - buf));
}

void Bool(XmlNode parent, const char* name, bool value) {
  Text(parent, name, value ? "true" : "false");
}

std::string FormatEc2Time(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

void Time(XmlNode parent, const char* name, absl::Time t) { Text(parent, name, FormatEc2Time(t)); }

void Time(XmlNode parent, const char* name, const google::protobuf::Timestamp& t) {
  Time(parent, name, absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos()));
}

void TimeMs(XmlNode parent, const char* name, int64_t unix_ms) {
  Time(parent, name, absl::FromUnixMillis(unix_ms));
}

XmlResponse::XmlResponse(absl::string_view action, absl::string_view request_id, std::string* body)
    : stream_(body) {
  body->append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
  root_ = stream_.OpenRoot(absl::StrCat(action, "Response"), kEc2Namespace);
  Text(root_, "requestId", request_id);
}

absl::Status XmlResponse::Finish() {
  if (!stream_.Close()) {
    return absl::InternalError("query response written out of order (an element after it closed)");
  }
  return absl::OkStatus();
}

std::string ErrorXml(absl::string_view code, absl::string_view message,
                     absl::string_view request_id) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
  XmlStream stream(&out);
  XmlNode response = stream.OpenRoot("Response", "");
  XmlNode error = Child(Child(response, "Errors"), "Error");
  Text(error, "Code", code);
  Text(error, "Message", message);
  Text(response, "RequestID", request_id);
  stream.Close();
  return out;
}

}  // namespace minicloud::query
