#include "controller/cloudformation/template_document.h"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/cloudformation/template_error.h"

namespace minicloud::cloudformation {
namespace {

// The short-form tags and their long names (CloudFormation template reference, "Intrinsic
// function reference": every function's YAML short form). Tags of functions minicloud does not
// evaluate still map here, so the template check names the function instead of the tag.
const absl::flat_hash_map<std::string, std::string>& ShortForms() {
  static const auto* forms = new absl::flat_hash_map<std::string, std::string>{
      {"!Ref", "Ref"},           {"!Condition", "Condition"},
      {"!Sub", "Fn::Sub"},       {"!GetAtt", "Fn::GetAtt"},
      {"!Base64", "Fn::Base64"}, {"!Join", "Fn::Join"},
      {"!Select", "Fn::Select"}, {"!Split", "Fn::Split"},
      {"!If", "Fn::If"},         {"!Equals", "Fn::Equals"},
      {"!Not", "Fn::Not"},       {"!And", "Fn::And"},
      {"!Or", "Fn::Or"},         {"!FindInMap", "Fn::FindInMap"},
      {"!GetAZs", "Fn::GetAZs"}, {"!ImportValue", "Fn::ImportValue"},
      {"!Cidr", "Fn::Cidr"},     {"!Transform", "Fn::Transform"},
      {"!Length", "Fn::Length"}, {"!ToJsonString", "Fn::ToJsonString"},
  };
  return *forms;
}

// A plain (unquoted, untagged) scalar's value as YAML 1.1 core types read it: booleans, null,
// integers and decimals in canonical form; everything else (including "0123", "+1", "1_000")
// stays a string, so an id or a zero-padded number is never altered.
Json PlainScalar(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return Json(nullptr);
  }
  if (text == "true" || text == "True" || text == "TRUE") return Json(true);
  if (text == "false" || text == "False" || text == "FALSE") return Json(false);
  std::size_t i = (text[0] == '-') ? 1 : 0;
  const std::size_t digits_start = i;
  while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) ++i;
  const std::size_t int_digits = i - digits_start;
  const bool canonical_int = int_digits > 0 && (int_digits == 1 || text[digits_start] != '0');
  if (i == text.size() && canonical_int) {
    int64_t value = 0;
    if (absl::SimpleAtoi(text, &value)) return Json(value);
    return Json(text);
  }
  if (canonical_int && i < text.size() && text[i] == '.') {
    std::size_t j = i + 1;
    while (j < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[j]))) ++j;
    if (j == text.size() && j > i + 1) {
      double value = 0;
      if (absl::SimpleAtod(text, &value)) return Json(value);
    }
  }
  return Json(text);
}

class YamlConverter {
 public:
  explicit YamlConverter(TemplateDocument* doc) : doc_(doc) {}

  absl::StatusOr<Json> Convert(const YAML::Node& node, const std::string& path, int depth) {
    if (depth > kMaxTemplateDepth) {
      return TemplateError(
          path, absl::StrCat("nesting deeper than ", kMaxTemplateDepth, " levels", AtLine(node)));
    }
    if (++nodes_ > kMaxTemplateNodes) {
      return TemplateError(path, absl::StrCat("more than ", kMaxTemplateNodes,
                                              " values (after aliases are expanded)"));
    }
    if (!path.empty()) doc_->lines.emplace(path, node.Mark().line + 1);
    const std::string& tag = node.Tag();
    if (!tag.empty() && tag != "?" && tag != "!") {
      const auto it = ShortForms().find(tag);
      if (it == ShortForms().end()) {
        return TemplateError(path, absl::StrCat("unknown tag ", tag, AtLine(node)));
      }
      absl::StatusOr<Json> inner = ConvertUntagged(node, path, depth, /*tagged=*/true);
      if (!inner.ok()) return inner.status();
      if (it->second == "Fn::GetAtt" && inner->is_string()) {
        // !GetAtt Logical.Attribute: the first dot separates the resource from the attribute.
        const std::string text = inner->get<std::string>();
        const std::size_t dot = text.find('.');
        if (dot == std::string::npos || dot == 0 || dot + 1 == text.size()) {
          return TemplateError(path, absl::StrCat("!GetAtt wants LogicalId.AttributeName, got '",
                                                  text, "'", AtLine(node)));
        }
        *inner = Json::array({text.substr(0, dot), text.substr(dot + 1)});
      }
      Json wrapped = Json::object();
      wrapped[it->second] = std::move(*inner);
      return wrapped;
    }
    return ConvertUntagged(node, path, depth, /*tagged=*/false);
  }

 private:
  static std::string AtLine(const YAML::Node& node) {
    return absl::StrCat(" (line ", node.Mark().line + 1, ")");
  }

  absl::StatusOr<Json> ConvertUntagged(const YAML::Node& node, const std::string& path, int depth,
                                       bool tagged) {
    switch (node.Type()) {
      case YAML::NodeType::Null:
        // `!GetAZs` with no operand means the empty string, as `!GetAZs ''`.
        return tagged ? Json("") : Json(nullptr);
      case YAML::NodeType::Scalar:
        // Quoted (tag "!") and short-form operands are strings; plain scalars are typed.
        if (tagged || node.Tag() == "!") return Json(node.Scalar());
        return PlainScalar(node.Scalar());
      case YAML::NodeType::Sequence: {
        Json out = Json::array();
        std::size_t index = 0;
        for (const YAML::Node& item : node) {
          absl::StatusOr<Json> value = Convert(item, IndexPath(path, index++), depth + 1);
          if (!value.ok()) return value.status();
          out.push_back(std::move(*value));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        Json out = Json::object();
        for (const auto& entry : node) {
          if (!entry.first.IsScalar()) {
            return TemplateError(path, absl::StrCat("a key must be a string", AtLine(entry.first)));
          }
          const std::string key = entry.first.Scalar();
          const std::string child = ChildPath(path, key);
          if (out.contains(key)) {
            return TemplateError(child, absl::StrCat("duplicate key", AtLine(entry.first)));
          }
          absl::StatusOr<Json> value = Convert(entry.second, child, depth + 1);
          if (!value.ok()) return value.status();
          out[key] = std::move(*value);
        }
        return out;
      }
      case YAML::NodeType::Undefined:
        break;
    }
    return TemplateError(path, "undefined value");
  }

  TemplateDocument* doc_;
  std::size_t nodes_ = 0;
};

absl::Status CheckJsonDepth(const Json& value, const std::string& path, int depth) {
  if (depth > kMaxTemplateDepth) {
    return TemplateError(path, absl::StrCat("nesting deeper than ", kMaxTemplateDepth, " levels"));
  }
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      const absl::Status s = CheckJsonDepth(child, ChildPath(path, key), depth + 1);
      if (!s.ok()) return s;
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      const absl::Status s = CheckJsonDepth(value[i], IndexPath(path, i), depth + 1);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TemplateDocument> ParseJson(absl::string_view body) {
  TemplateDocument doc;
  // Duplicate keys: the callback sees each key of an object; a repeated one is an error.
  std::vector<std::vector<std::string>> keys_stack;
  std::string duplicate;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        keys_stack.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!keys_stack.empty()) keys_stack.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!keys_stack.empty() && parsed.is_string()) {
          auto& seen = keys_stack.back();
          const std::string key = parsed.get<std::string>();
          for (const std::string& k : seen) {
            if (k == key && duplicate.empty()) duplicate = key;
          }
          seen.push_back(key);
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    doc.root = Json::parse(body.begin(), body.end(), callback, /*allow_exceptions=*/true,
                           /*ignore_comments=*/false);
  } catch (const Json::exception& e) {
    return TemplateError("", absl::StrCat("JSON not well-formed: ", e.what()));
  }
  if (!duplicate.empty()) {
    return TemplateError("", absl::StrCat("JSON has a duplicate key '", duplicate, "'"));
  }
  const absl::Status depth = CheckJsonDepth(doc.root, "", 0);
  if (!depth.ok()) return depth;
  return doc;
}

absl::StatusOr<TemplateDocument> ParseYaml(absl::string_view body) {
  TemplateDocument doc;
  // One document: a "---" at the start of a line after content starts a second one. (Counted
  // here because yaml-cpp 0.7's LoadAll never returns on some malformed input, such as a
  // leading ",": found by tests/unit/cloudformation/malformed_input_test.cc.)
  bool content = false;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    ++line_number;
    const bool marker =
        absl::StartsWith(line, "---") &&
        (line.size() == 3 || absl::ascii_isspace(static_cast<unsigned char>(line[3])));
    if (marker && content) {
      return TemplateError("", absl::StrCat("a template is one YAML document; another starts at "
                                            "line ",
                                            line_number));
    }
    const absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (marker || (!trimmed.empty() && trimmed[0] != '#' && trimmed[0] != '%')) content = true;
  }
  YAML::Node document;
  try {
    document = YAML::Load(std::string(body));
  } catch (const YAML::Exception& e) {
    return TemplateError("", absl::StrCat("YAML not well-formed (line ", e.mark.line + 1,
                                          ", column ", e.mark.column + 1, "): ", e.msg));
  }
  YamlConverter converter(&doc);
  try {
    absl::StatusOr<Json> root = converter.Convert(document, "", 0);
    if (!root.ok()) return root.status();
    doc.root = std::move(*root);
  } catch (const YAML::Exception& e) {
    return TemplateError("", absl::StrCat("YAML not well-formed: ", e.msg));
  }
  return doc;
}

}  // namespace

std::string TemplateDocument::LineOf(absl::string_view path) const {
  // A function's operand written in short form has no line of its own: the nearest enclosing
  // value's line stands for it.
  std::string at(path);
  while (!at.empty()) {
    if (const auto it = lines.find(at); it != lines.end()) {
      return absl::StrCat(" (line ", it->second, ")");
    }
    const std::size_t cut = at.find_last_of(".[");
    if (cut == std::string::npos) break;
    at.resize(cut);
  }
  return "";
}

std::string ChildPath(absl::string_view parent, absl::string_view key) {
  if (parent.empty()) return std::string(key);
  return absl::StrCat(parent, ".", key);
}

std::string IndexPath(absl::string_view parent, std::size_t index) {
  return absl::StrCat(parent, "[", index, "]");
}

absl::StatusOr<TemplateDocument> ParseTemplateBody(absl::string_view body) {
  if (body.size() > kMaxTemplateBodyBytes) {
    return ValidationError(absl::StrCat("Template body of ", body.size(),
                                        " bytes is longer than the maximum of ",
                                        kMaxTemplateBodyBytes));
  }
  const absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(body);
  if (trimmed.empty()) return TemplateError("", "the template is empty");
  absl::StatusOr<TemplateDocument> doc = trimmed.front() == '{' ? ParseJson(body) : ParseYaml(body);
  if (!doc.ok()) return doc.status();
  if (!doc->root.is_object()) {
    return TemplateError("", "a template is a JSON object or a YAML mapping");
  }
  return doc;
}

}  // namespace minicloud::cloudformation
