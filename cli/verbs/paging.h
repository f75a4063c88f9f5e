#pragma once

// Paging flags of the Describe verbs whose API pages (MaxResults / NextToken), as the aws CLI
// has them:
//   --page-size N        MaxResults of each call; every page is fetched (all items);
//   --max-items N        at most N items in all; when more remain, the output's NextToken is a
//                        token for --starting-token (the aws CLI's: base64 of
//                        {"NextToken": <API token>, "boto_truncate_amount": <items to skip>},
//                        so it can stop inside a page);
//   --starting-token T   continue where a --max-items answer stopped (its NextToken; a plain
//                        API NextToken is taken too).
// Without them every page is fetched.

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/verb.h"

namespace minicloud::cli {

struct PagingFlags {
  int page_size = 0;
  int max_items = 0;
  std::string starting_token;

  void AddTo(CLI::App* cmd) {
    cmd->add_option("--page-size", page_size, "items per API call; every page is fetched");
    cmd->add_option("--max-items", max_items, "items to print; NextToken tells where to go on");
    cmd->add_option("--starting-token", starting_token, "NextToken of an earlier --max-items");
  }

  // Calls `fetch(max_results, token)` page after page; `fetch` appends the page's items to
  // `items` (a JSON array) and returns the page's NextToken. Returns the NextToken to print
  // ("" = done). Throws UsageError for a --starting-token that is not one.
  std::string Run(const std::function<std::string(int, const std::string&)>& fetch,
                  nlohmann::json& items) const;
};

}  // namespace minicloud::cli
