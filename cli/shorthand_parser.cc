#include "cli/shorthand_parser.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "cli/shorthand.h"
#include "cli/verb.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;

class Reader {
 public:
  Reader(const std::string& text, const std::string& flag) : s_(text), flag_(flag) {}

  json Top() {
    json obj = Hash('\0');
    if (pos_ != s_.size()) Fail("unexpected '" + std::string(1, s_[pos_]) + "'");
    return obj;
  }

 private:
  [[noreturn]] void Fail(const std::string& why) {
    throw UsageError("Error parsing parameter '" + flag_ + "': " + why + " at position " +
                     std::to_string(pos_) + " of \"" + s_ + "\"");
  }
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
  void SkipSpaces() {
    while (!AtEnd() && absl::ascii_isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }

  // key=value pairs up to `close` ('}' inside braces, '\0' at the top).
  json Hash(char close) {
    json obj = json::object();
    while (true) {
      SkipSpaces();
      if (close != '\0' && Peek() == close) return obj;
      std::string key = Key();
      if (Peek() != '=') Fail("expected '=' after '" + key + "'");
      ++pos_;
      obj[key] = Values(close);
      SkipSpaces();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (AtEnd() || Peek() == close) return obj;
      Fail("expected ',' or the end");
    }
  }

  std::string Key() {
    size_t start = pos_;
    while (!AtEnd() && std::string_view("=,[]{}").find(s_[pos_]) == std::string_view::npos) ++pos_;
    std::string key(absl::StripAsciiWhitespace(s_.substr(start, pos_ - start)));
    if (key.empty()) Fail("expected a key");
    return key;
  }

  // True when the text at pos_ is "key=" (a new pair, not another element of a bare list).
  bool AtPair() const {
    size_t p = pos_;
    while (p < s_.size() && std::string_view("=,[]{}'\"").find(s_[p]) == std::string_view::npos) {
      ++p;
    }
    return p < s_.size() && s_[p] == '=' && p > pos_;
  }

  // A value: [list], {hash}, or one scalar that a bare list may follow ("a,b,c").
  json Values(char close) {
    SkipSpaces();
    if (Peek() == '[') return List();
    if (Peek() == '{') return Braced();
    json first = Scalar(close, ']');
    json list = json::array({first});
    while (Peek() == ',') {
      ++pos_;
      if (AtPair()) {
        --pos_;  // the ',' separates pairs
        break;
      }
      list.push_back(Scalar(close, ']'));
    }
    return list.size() == 1 ? first : list;
  }

  json Braced() {
    ++pos_;  // {
    json obj = Hash('}');
    if (Peek() != '}') Fail("expected '}'");
    ++pos_;
    return obj;
  }

  json List() {
    ++pos_;  // [
    json list = json::array();
    SkipSpaces();
    if (Peek() == ']') {
      ++pos_;
      return list;
    }
    while (true) {
      SkipSpaces();
      list.push_back(Peek() == '{' ? Braced() : Peek() == '[' ? List() : Scalar(']', ']'));
      SkipSpaces();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == ']') {
        ++pos_;
        return list;
      }
      Fail("expected ',' or ']'");
    }
  }

  // A quoted string, or bare text up to ',' or a closing bracket (\ escapes the next char).
  json Scalar(char close, char close2) {
    SkipSpaces();
    if (Peek() == '"' || Peek() == '\'') {
      const char q = s_[pos_++];
      std::string v;
      while (!AtEnd() && s_[pos_] != q) {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size() && s_[pos_ + 1] == q) ++pos_;
        v.push_back(s_[pos_++]);
      }
      if (AtEnd()) Fail("unterminated quoted value");
      ++pos_;
      SkipSpaces();
      return v;
    }
    std::string v;
    while (!AtEnd()) {
      const char c = s_[pos_];
      if (c == ',' || (close != '\0' && c == close) || c == close2 || (close == '\0' && c == '}')) {
        break;
      }
      if (c == '\\' && pos_ + 1 < s_.size()) ++pos_;
      v.push_back(s_[pos_++]);
    }
    return std::string(absl::StripTrailingAsciiWhitespace(v));
  }

  const std::string& s_;
  const std::string& flag_;
  size_t pos_ = 0;
};

bool LooksLikeJson(const std::string& text) {
  absl::string_view t = absl::StripLeadingAsciiWhitespace(text);
  return absl::StartsWith(t, "[") || absl::StartsWith(t, "{");
}

json ParseJsonArg(const std::string& text, const std::string& flag) {
  json v = json::parse(text, nullptr, false);
  if (v.is_discarded()) {
    throw UsageError("Error parsing parameter '" + flag + "': Invalid JSON: " + text);
  }
  return v;
}

// file://path (JSON or shorthand inside) or the text itself.
std::string ArgText(const std::string& arg, const std::string& flag) {
  if (absl::StartsWith(arg, "file://") || absl::StartsWith(arg, "fileb://")) {
    return std::string(absl::StripTrailingAsciiWhitespace(ReadBlobArg(arg, flag)));
  }
  return arg;
}

}  // namespace

json ParseShorthand(const std::string& text, const std::string& flag) {
  return Reader(text, flag).Top();
}

std::vector<json> ParseStructureList(const std::vector<std::string>& args,
                                     const std::string& flag) {
  std::vector<json> out;
  for (const auto& arg : args) {
    const std::string text = ArgText(arg, flag);
    json v = LooksLikeJson(text) ? ParseJsonArg(text, flag) : ParseShorthand(text, flag);
    if (v.is_array()) {
      for (auto& el : v) out.push_back(std::move(el));
    } else {
      out.push_back(std::move(v));
    }
  }
  for (const auto& el : out) {
    if (!el.is_object()) {
      throw UsageError("Error parsing parameter '" + flag + "': expected a structure, got " +
                       el.dump());
    }
  }
  return out;
}

json ParseStructure(const std::string& arg, const std::string& flag) {
  const std::string text = ArgText(arg, flag);
  json v = LooksLikeJson(text) ? ParseJsonArg(text, flag) : ParseShorthand(text, flag);
  if (!v.is_object()) {
    throw UsageError("Error parsing parameter '" + flag + "': expected a structure");
  }
  return v;
}

}  // namespace minicloud::cli
