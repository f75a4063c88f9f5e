#pragma once

// Paging flags of the Describe verbs whose API pages (MaxResults / NextToken), as the aws CLI
// names them:
//   --page-size N        ask for pages of N and follow NextToken to the end (every item);
//   --max-items N        one page of N items; when more remain, the output carries NextToken;
//   --starting-token T   continue where a --max-items answer stopped (its NextToken).
// Without them the controller answers everything in one page.

#include <CLI/CLI.hpp>
#include <functional>
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

  // Calls `fetch(max_results, token)` page after page; `fetch` adds the page's items to the
  // output and returns the page's NextToken. Returns the NextToken to print ("" = done).
  std::string Run(const std::function<std::string(int, const std::string&)>& fetch) const {
    std::string token = starting_token;
    if (max_items > 0) return fetch(max_items, token);
    do {
      token = fetch(page_size, token);
    } while (!token.empty());
    return token;
  }
};

}  // namespace minicloud::cli
