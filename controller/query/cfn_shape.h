#pragma once

// One CloudFormation answer, built once by an action and written in either of the two forms
// CloudFormation speaks: the query protocol's XML (botocore's cloudformation model: structures
// as elements, lists as `<Name><member>…</member></Name>`, timestamps ISO 8601) or the JSON that
// aws-cfn-bootstrap asks for with ContentType=JSON (lists as arrays, timestamps as Unix seconds,
// e.g. cfnbootstrap/cfn_client.py reads LastUpdatedTimestamp with utcfromtimestamp).
//
// The document is
//   XML:  <{Action}Response xmlns="…"><{Action}Result>…</{Action}Result>
//         <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></{Action}Response>
//   JSON: {"{Action}Response":{"{Action}Result":{…},"ResponseMetadata":{"RequestId":"…"}}}
// without the Result wrapper for actions that have no output (DeleteStack, SignalResource).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/timestamp.pb.h"

namespace minicloud::query {

class Shape {
 public:
  enum class Kind { kStruct, kList, kString, kBool, kInt, kTime };

  Shape() = default;  // an empty structure
  // Fields of a structure, in the order botocore's model lists them.
  Shape& Struct(absl::string_view name);
  Shape& List(absl::string_view name);
  void String(absl::string_view name, absl::string_view value);
  // Nothing when `value` is empty (CloudFormation leaves absent fields out).
  void StringIfSet(absl::string_view name, absl::string_view value);
  void Bool(absl::string_view name, bool value);
  void Int(absl::string_view name, int64_t value);
  void Time(absl::string_view name, const google::protobuf::Timestamp& value);
  // A member of a list: a structure, or a plain string.
  Shape& AddMember();
  void AddString(absl::string_view value);

  Kind kind() const { return kind_; }
  const std::string& name() const { return name_; }
  const std::vector<Shape>& children() const { return children_; }

 private:
  friend struct ShapeWriter;
  Shape& Add(Kind kind, absl::string_view name);

  Kind kind_ = Kind::kStruct;
  std::string name_;
  std::string text_;
  int64_t number_ = 0;
  google::protobuf::Timestamp time_;
  std::vector<Shape> children_;  // a structure's fields or a list's members
};

// The whole answer of `action`; `result` is null for actions without output.
std::string CfnResponseXml(absl::string_view action, const Shape* result,
                           absl::string_view request_id);
std::string CfnResponseJson(absl::string_view action, const Shape* result,
                            absl::string_view request_id);

// CloudFormation's error documents: `<ErrorResponse><Error><Type/><Code/><Message/></Error>
// <RequestId/></ErrorResponse>` and aws-cfn-bootstrap's JSON
// `{"Error":{"Type":…,"Code":…,"Message":…},"RequestId":…}`.
std::string CfnErrorXml(bool sender, absl::string_view code, absl::string_view message,
                        absl::string_view request_id);
std::string CfnErrorJson(bool sender, absl::string_view code, absl::string_view message,
                         absl::string_view request_id);

}  // namespace minicloud::query
