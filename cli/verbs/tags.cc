// Tag verbs: create-tags, delete-tags, describe-tags (aws ec2's flags and output).
#include <memory>

#include "cli/shorthand.h"
#include "cli/verb.h"
#include "cli/verbs/paging.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using Stub = ComputeApi::Stub;

void AddCreateTags(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> resources, tags;
    bool dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("create-tags", "add or overwrite tags of resources", [f](VerbContext& ctx) {
        v1::CreateTagsRequest req;
        for (const auto& id : f->resources) req.add_resources(id);
        for (const auto& t : f->tags) *req.add_tags() = ParseTag(t);
        req.set_dry_run(f->dry_run);
        ctx.api.Call("CreateTags", &Stub::CreateTags, req);
        return 0;  // aws ec2 create-tags prints nothing
      });
  cmd->add_option("--resources", f->resources, "i-…, ami-…, key-…, pg-…")->required();
  cmd->add_option("--tags", f->tags, "Key=Name,Value=web (repeatable)")->required();
  cmd->add_flag("--dry-run", f->dry_run);
}

void AddDeleteTags(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> resources, tags;
    bool dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add(
      "delete-tags", "delete tags (Key=k: any value; Key=k,Value=v: only that value; none: all)",
      [f](VerbContext& ctx) {
        v1::DeleteTagsRequest req;
        for (const auto& id : f->resources) req.add_resources(id);
        for (const auto& text : f->tags) {
          const v1::Tag parsed = ParseTag(text);
          auto* t = req.add_tags();
          t->set_key(parsed.key());
          if (text.find(",Value=") != std::string::npos) t->set_value(parsed.value());
        }
        req.set_dry_run(f->dry_run);
        ctx.api.Call("DeleteTags", &Stub::DeleteTags, req);
        return 0;
      });
  cmd->add_option("--resources", f->resources)->required();
  cmd->add_option("--tags", f->tags, "Key=Name[,Value=web] (repeatable)");
  cmd->add_flag("--dry-run", f->dry_run);
}

void AddDescribeTags(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> filters;
    PagingFlags paging;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("describe-tags", "list tags", [f](VerbContext& ctx) {
    json doc = {{"Tags", json::array()}};
    const std::string next = f->paging.Run([&](int max_results, const std::string& token) {
      v1::DescribeTagsRequest req;
      for (const auto& text : f->filters) *req.add_filters() = ParseFilter(text);
      req.set_max_results(max_results);
      req.set_next_token(token);
      auto resp = ctx.api.Call("DescribeTags", &Stub::DescribeTags, req);
      for (const auto& t : resp.tags()) {
        doc["Tags"].push_back({{"Key", t.key()},
                               {"ResourceId", t.resource_id()},
                               {"ResourceType", t.resource_type()},
                               {"Value", t.value()}});
      }
      return resp.next_token();
    });
    if (!next.empty()) doc["NextToken"] = next;
    Print(ctx, doc, "Tags", {"ResourceId", "ResourceType", "Key", "Value"});
    return 0;
  });
  cmd->add_option("--filters", f->filters,
                  "Name=key|value|resource-id|resource-type|tag:<Key>,Values=… (repeatable)");
  f->paging.AddTo(cmd);
}

}  // namespace

void RegisterTagVerbs(VerbRegistry& verbs) {
  AddCreateTags(verbs);
  AddDeleteTags(verbs);
  AddDescribeTags(verbs);
}

}  // namespace minicloud::cli
