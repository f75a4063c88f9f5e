#include "cli/verbs/paging.h"

#include "absl/strings/escaping.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;

// The aws CLI's resume token (botocore's PageIterator.resume_token).
std::string EncodeToken(const std::string& api_token, int truncate) {
  json t = {{"NextToken", api_token}};
  if (truncate > 0) t["boto_truncate_amount"] = truncate;
  return absl::Base64Escape(t.dump());
}

void DecodeToken(const std::string& text, std::string* api_token, int* truncate) {
  std::string decoded;
  if (absl::Base64Unescape(text, &decoded)) {
    json t = json::parse(decoded, nullptr, false);
    if (t.is_object() && t.contains("NextToken") && t["NextToken"].is_string()) {
      *api_token = t["NextToken"].get<std::string>();
      *truncate = t.value("boto_truncate_amount", 0);
      if (*truncate < 0) throw UsageError("Bad value for --starting-token: " + text);
      return;
    }
  }
  *api_token = text;  // an API NextToken as the controller gave it
  *truncate = 0;
}

}  // namespace

std::string PagingFlags::Run(const std::function<std::string(int, const std::string&)>& fetch,
                             json& items) const {
  std::string token;
  int skip = 0;
  if (!starting_token.empty()) DecodeToken(starting_token, &token, &skip);
  if (!items.is_array()) items = json::array();
  const size_t limit = max_items > 0 ? static_cast<size_t>(max_items) : 0;
  while (true) {
    const std::string page_start = token;
    const size_t before = items.size();
    const std::string next = fetch(page_size, token);
    const int skipped = skip;
    if (skip > 0) {  // the part of the first page an earlier --max-items already printed
      const size_t n = std::min(items.size() - before, static_cast<size_t>(skip));
      items.erase(items.begin() + static_cast<long>(before),
                  items.begin() + static_cast<long>(before + n));
      skip = 0;
    }
    if (limit > 0 && items.size() >= limit) {
      if (items.size() > limit) {  // stop inside this page: resume from its start, skipping
        const int kept = static_cast<int>(limit - before);
        items.erase(items.begin() + static_cast<long>(limit), items.end());
        return EncodeToken(page_start, skipped + kept);
      }
      return next.empty() ? "" : EncodeToken(next, 0);
    }
    if (next.empty()) return "";
    token = next;
  }
}

}  // namespace minicloud::cli
