// Key pair verbs: create-key-pair, import-key-pair, describe-key-pairs, delete-key-pair.
#include <memory>

#include "cli/render.h"
#include "cli/shorthand.h"
#include "cli/verb.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using Stub = ComputeApi::Stub;

void AddCreateKeyPair(VerbRegistry& verbs) {
  struct Flags {
    v1::CreateKeyPairRequest req;
    std::string query;
    std::vector<std::string> tags;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("create-key-pair", "new key pair; prints the private key once",
                            [f](VerbContext& ctx) {
                              v1::CreateKeyPairRequest req = f->req;
                              for (const auto& t : f->tags) *req.add_tags() = ParseTag(t);
                              auto resp = ctx.api.Call("CreateKeyPair", &Stub::CreateKeyPair, req);
                              if (f->query == "KeyMaterial" || ctx.globals.output == "text") {
                                ctx.out << resp.key_material();
                              } else {
                                Print(ctx,
                                      {{"KeyFingerprint", resp.key_pair().key_fingerprint()},
                                       {"KeyMaterial", resp.key_material()},
                                       {"KeyName", resp.key_pair().key_name()},
                                       {"KeyPairId", resp.key_pair().key_pair_id()}},
                                      "", {});
                              }
                              return 0;
                            });
  cmd->add_option("--key-name", *f->req.mutable_key_name())->required();
  cmd->add_option("--key-type", *f->req.mutable_key_type(), "rsa | ed25519");
  cmd->add_option("--query", f->query, "KeyMaterial: print only the private key");
  cmd->add_option("--tags", f->tags, "Key=Name,Value=mine (key pair tags; repeatable)");
}

void AddImportKeyPair(VerbRegistry& verbs) {
  struct Flags {
    v1::ImportKeyPairRequest req;
    std::string material;
    std::vector<std::string> tags;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("import-key-pair", "register an existing public key", [f](VerbContext& ctx) {
        v1::ImportKeyPairRequest req = f->req;
        req.set_public_key_material(ReadBlobArg(f->material, "--public-key-material"));
        for (const auto& t : f->tags) *req.add_tags() = ParseTag(t);
        auto resp = ctx.api.Call("ImportKeyPair", &Stub::ImportKeyPair, req);
        Print(ctx,
              {{"KeyFingerprint", resp.key_pair().key_fingerprint()},
               {"KeyName", resp.key_pair().key_name()},
               {"KeyPairId", resp.key_pair().key_pair_id()}},
              "", {});
        return 0;
      });
  cmd->add_option("--key-name", *f->req.mutable_key_name())->required();
  cmd->add_option("--tags", f->tags, "Key=Name,Value=mine (key pair tags; repeatable)");
  cmd->add_option("--public-key-material", f->material,
                  "fileb://~/.ssh/id_ed25519.pub or the key itself")
      ->required();
}

void AddDescribeKeyPairs(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> names, ids, filters;
    bool include_public_key = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("describe-key-pairs", "list key pairs", [f](VerbContext& ctx) {
    v1::DescribeKeyPairsRequest req;
    for (const auto& k : f->names) req.add_key_names(k);
    for (const auto& id : f->ids) req.add_key_pair_ids(id);
    for (const auto& text : f->filters) *req.add_filters() = ParseFilter(text);
    req.set_include_public_key(f->include_public_key);
    auto resp = ctx.api.Call("DescribeKeyPairs", &Stub::DescribeKeyPairs, req);
    json doc = {{"KeyPairs", json::array()}};
    for (const auto& k : resp.key_pairs()) {
      json j = {{"KeyPairId", k.key_pair_id()},
                {"KeyFingerprint", k.key_fingerprint()},
                {"KeyName", k.key_name()},
                {"KeyType", k.key_type()}};
      if (!k.public_key().empty()) j["PublicKey"] = k.public_key();
      if (k.tags_size() > 0) j["Tags"] = TagsJson(k.tags());
      doc["KeyPairs"].push_back(j);
    }
    Print(ctx, doc, "KeyPairs", {"KeyName", "KeyType", "KeyFingerprint", "KeyPairId"});
    return 0;
  });
  cmd->add_option("--key-names", f->names);
  cmd->add_option("--key-pair-ids", f->ids);
  cmd->add_option("--filters", f->filters, "Name=<name>,Values=<v1>,<v2> (tag:<Key>, tag-key, …)");
  cmd->add_flag("--include-public-key", f->include_public_key);
}

void AddDeleteKeyPair(VerbRegistry& verbs) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = verbs.Add("delete-key-pair", "delete a key pair", [name](VerbContext& ctx) {
    v1::DeleteKeyPairRequest req;
    req.set_key_name(*name);
    ctx.api.Call("DeleteKeyPair", &Stub::DeleteKeyPair, req);
    return 0;
  });
  cmd->add_option("--key-name", *name)->required();
}

}  // namespace

void RegisterKeyPairVerbs(VerbRegistry& verbs) {
  AddCreateKeyPair(verbs);
  AddImportKeyPair(verbs);
  AddDescribeKeyPairs(verbs);
  AddDeleteKeyPair(verbs);
}

}  // namespace minicloud::cli
