#include "guest/cfn/mustache.h"

namespace minicloud::guest {

StatusOr<std::string> RenderMustache(const std::string& text, const nlohmann::json& context) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t open = text.find("{{", pos);
    if (open == std::string::npos) {
      out.append(text, pos, std::string::npos);
      return out;
    }
    out.append(text, pos, open - pos);
    bool triple = text.compare(open, 3, "{{{") == 0;
    const char* closer = triple ? "}}}" : "}}";
    size_t body = open + (triple ? 3 : 2);
    size_t close = text.find(closer, body);
    if (close == std::string::npos) {
      return Error("context template: unclosed tag at offset " + std::to_string(open));
    }
    std::string tag = text.substr(body, close - body);
    size_t b = tag.find_first_not_of(" \t");
    size_t e = tag.find_last_not_of(" \t");
    tag = b == std::string::npos ? "" : tag.substr(b, e - b + 1);
    pos = close + (triple ? 3 : 2);
    if (!tag.empty() && tag[0] == '!') continue;
    if (!tag.empty() && tag[0] == '&') {
      tag = tag.substr(1);
      size_t f = tag.find_first_not_of(" \t");
      tag = f == std::string::npos ? "" : tag.substr(f);
    }
    if (tag.empty() || std::string("#^/>=").find(tag[0]) != std::string::npos) {
      return Error("context template: unsupported tag {{" + tag + "}}");
    }
    auto it = context.find(tag);
    if (it == context.end() || it->is_null()) continue;
    out += it->is_string() ? it->get<std::string>() : it->dump();
  }
}

}  // namespace minicloud::guest
