// Access key verbs, shaped like `aws iam`: create-access-key (the secret is printed this once),
// list-access-keys (never a secret), delete-access-key.
#include <memory>

#include "cli/render.h"
#include "cli/verb.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using Stub = ComputeApi::Stub;

void AddCreateAccessKey(VerbRegistry& verbs) {
  verbs.Add("create-access-key",
            "new access key for SigV4 (the aws CLI, boto3, this CLI); prints the secret once",
            [](VerbContext& ctx) {
              auto resp = ctx.api.Call("CreateAccessKey", &Stub::CreateAccessKey,
                                       v1::CreateAccessKeyRequest());
              const v1::AccessKey& k = resp.access_key();
              Print(ctx,
                    {{"AccessKey",
                      {{"AccessKeyId", k.access_key_id()},
                       {"Status", k.status()},
                       {"SecretAccessKey", k.secret_access_key()},
                       {"CreateDate", Iso8601(k.create_date())}}}},
                    "", {});
              return 0;
            });
}

void AddListAccessKeys(VerbRegistry& verbs) {
  verbs.Add("list-access-keys", "list access keys (ids only, never secrets)", [](VerbContext& ctx) {
    auto resp = ctx.api.Call("ListAccessKeys", &Stub::ListAccessKeys, v1::ListAccessKeysRequest());
    json doc = {{"AccessKeyMetadata", json::array()}};
    for (const auto& k : resp.access_key_metadata()) {
      doc["AccessKeyMetadata"].push_back({{"AccessKeyId", k.access_key_id()},
                                          {"Status", k.status()},
                                          {"CreateDate", Iso8601(k.create_date())}});
    }
    Print(ctx, doc, "AccessKeyMetadata", {"AccessKeyId", "Status", "CreateDate"});
    return 0;
  });
}

void AddDeleteAccessKey(VerbRegistry& verbs) {
  auto id = std::make_shared<std::string>();
  CLI::App* cmd = verbs.Add("delete-access-key", "delete an access key (it stops working at once)",
                            [id](VerbContext& ctx) {
                              v1::DeleteAccessKeyRequest req;
                              req.set_access_key_id(*id);
                              ctx.api.Call("DeleteAccessKey", &Stub::DeleteAccessKey, req);
                              return 0;
                            });
  cmd->add_option("--access-key-id", *id)->required();
}

}  // namespace

void RegisterAccessKeyVerbs(VerbRegistry& verbs) {
  AddCreateAccessKey(verbs);
  AddListAccessKeys(verbs);
  AddDeleteAccessKey(verbs);
}

}  // namespace minicloud::cli
