#include "controller/query/cfn_shape.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "controller/query/cloudformation_query.h"
#include "controller/query/xml.h"

namespace minicloud::query {

Shape& Shape::Add(Kind kind, absl::string_view name) {
  Shape& s = children_.emplace_back();
  s.kind_ = kind;
  s.name_ = std::string(name);
  return s;
}

Shape& Shape::Struct(absl::string_view name) { return Add(Kind::kStruct, name); }
Shape& Shape::List(absl::string_view name) { return Add(Kind::kList, name); }
void Shape::String(absl::string_view name, absl::string_view value) {
  Add(Kind::kString, name).text_ = std::string(value);
}
void Shape::StringIfSet(absl::string_view name, absl::string_view value) {
  if (!value.empty()) String(name, value);
}
void Shape::Bool(absl::string_view name, bool value) { Add(Kind::kBool, name).number_ = value; }
void Shape::Int(absl::string_view name, int64_t value) { Add(Kind::kInt, name).number_ = value; }
void Shape::Time(absl::string_view name, const google::protobuf::Timestamp& value) {
  Add(Kind::kTime, name).time_ = value;
}
Shape& Shape::AddMember() { return Add(Kind::kStruct, "member"); }
void Shape::AddString(absl::string_view value) { String("member", value); }

struct ShapeWriter {
  static void Xml(XmlNode parent, const Shape& s) {
    const char* name = s.name_.c_str();  // the shape outlives the stream
    switch (s.kind_) {
      case Shape::Kind::kStruct:
      case Shape::Kind::kList: {
        XmlNode node = Child(parent, name);
        for (const Shape& c : s.children_) Xml(node, c);
        return;
      }
      case Shape::Kind::kString:
        Text(parent, name, s.text_);
        return;
      case Shape::Kind::kBool:
        query::Bool(parent, name, s.number_ != 0);
        return;
      case Shape::Kind::kInt:
        query::Int(parent, name, s.number_);
        return;
      case Shape::Kind::kTime:
        query::Time(parent, name, s.time_);
        return;
    }
  }

  static nlohmann::ordered_json Json(const Shape& s) {
    switch (s.kind_) {
      case Shape::Kind::kStruct: {
        nlohmann::ordered_json o = nlohmann::ordered_json::object();
        for (const Shape& c : s.children_) o[c.name_] = Json(c);
        return o;
      }
      case Shape::Kind::kList: {
        nlohmann::ordered_json a = nlohmann::ordered_json::array();
        for (const Shape& c : s.children_) a.push_back(Json(c));
        return a;
      }
      case Shape::Kind::kString:
        return s.text_;
      case Shape::Kind::kBool:
        return s.number_ != 0;
      case Shape::Kind::kInt:
        return s.number_;
      case Shape::Kind::kTime:
        // Unix seconds, as CloudFormation's JSON answers carry timestamps.
        if (s.time_.nanos() == 0) return s.time_.seconds();
        return static_cast<double>(s.time_.seconds()) + s.time_.nanos() / 1e9;
    }
    return nullptr;
  }
};

namespace {

constexpr char kXmlDecl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

// Invalid UTF-8 from a caller is replaced, never thrown on.
std::string Dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

std::string CfnResponseXml(absl::string_view action, const Shape* result,
                           absl::string_view request_id) {
  std::string out = kXmlDecl;
  XmlStream xml(&out);
  XmlNode response = xml.OpenRoot(absl::StrCat(action, "Response"), kCloudFormationNamespace);
  const std::string result_name = absl::StrCat(action, "Result");
  if (result != nullptr) {
    XmlNode r = Child(response, result_name.c_str());
    for (const Shape& c : result->children()) ShapeWriter::Xml(r, c);
  }
  Text(Child(response, "ResponseMetadata"), "RequestId", request_id);
  xml.Close();
  return out;
}

std::string CfnResponseJson(absl::string_view action, const Shape* result,
                            absl::string_view request_id) {
  nlohmann::ordered_json response = nlohmann::ordered_json::object();
  if (result != nullptr) response[absl::StrCat(action, "Result")] = ShapeWriter::Json(*result);
  response["ResponseMetadata"] = {{"RequestId", std::string(request_id)}};
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  doc[absl::StrCat(action, "Response")] = std::move(response);
  return Dump(doc);
}

std::string CfnErrorXml(bool sender, absl::string_view code, absl::string_view message,
                        absl::string_view request_id) {
  std::string out = kXmlDecl;
  XmlStream xml(&out);
  XmlNode root = xml.OpenRoot("ErrorResponse", kCloudFormationNamespace);
  XmlNode error = Child(root, "Error");
  Text(error, "Type", sender ? "Sender" : "Receiver");
  Text(error, "Code", code);
  Text(error, "Message", message);
  Text(root, "RequestId", request_id);
  xml.Close();
  return out;
}

std::string CfnErrorJson(bool sender, absl::string_view code, absl::string_view message,
                         absl::string_view request_id) {
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  doc["Error"] = {{"Type", sender ? "Sender" : "Receiver"},
                  {"Code", std::string(code)},
                  {"Message", std::string(message)}};
  doc["RequestId"] = std::string(request_id);
  return Dump(doc);
}

}  // namespace minicloud::query
