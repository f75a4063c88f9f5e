// Key pair verbs: create-key-pair, import-key-pair, describe-key-pairs, delete-key-pair.
#include <memory>

#include "cli/shorthand.h"
#include "cli/verb.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using Stub = ComputeApi::Stub;

void AddCreateKeyPair(VerbRegistry& verbs) {
  struct Flags {
    v1::CreateKeyPairRequest req;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add(
      "create-key-pair", "new key pair; prints the private key once", [f](VerbContext& ctx) {
        auto resp = ctx.api.Call("CreateKeyPair", &Stub::CreateKeyPair, f->req);
        // As aws: `--query KeyMaterial --output text` prints the private key alone.
        Print(ctx, {{"KeyFingerprint", resp.key_pair().key_fingerprint()},
                    {"KeyMaterial", resp.key_material()},
                    {"KeyName", resp.key_pair().key_name()},
                    {"KeyPairId", resp.key_pair().key_pair_id()}});
        return 0;
      });
  cmd->add_option("--key-name", *f->req.mutable_key_name())->required();
  cmd->add_option("--key-type", *f->req.mutable_key_type(), "rsa | ed25519");
}

void AddImportKeyPair(VerbRegistry& verbs) {
  struct Flags {
    v1::ImportKeyPairRequest req;
    std::string material;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("import-key-pair", "register an existing public key", [f](VerbContext& ctx) {
        v1::ImportKeyPairRequest req = f->req;
        req.set_public_key_material(ReadBlobArg(f->material, "--public-key-material"));
        auto resp = ctx.api.Call("ImportKeyPair", &Stub::ImportKeyPair, req);
        Print(ctx,
              {{"KeyFingerprint", resp.key_pair().key_fingerprint()},
               {"KeyName", resp.key_pair().key_name()},
               {"KeyPairId", resp.key_pair().key_pair_id()}},
              "", {});
        return 0;
      });
  cmd->add_option("--key-name", *f->req.mutable_key_name())->required();
  cmd->add_option("--public-key-material", f->material,
                  "fileb://~/.ssh/id_ed25519.pub or the key itself")
      ->required();
}

void AddDescribeKeyPairs(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> names;
    bool include_public_key = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("describe-key-pairs", "list key pairs", [f](VerbContext& ctx) {
    v1::DescribeKeyPairsRequest req;
    for (const auto& k : f->names) req.add_key_names(k);
    req.set_include_public_key(f->include_public_key);
    auto resp = ctx.api.Call("DescribeKeyPairs", &Stub::DescribeKeyPairs, req);
    json doc = {{"KeyPairs", json::array()}};
    for (const auto& k : resp.key_pairs()) {
      json j = {{"KeyPairId", k.key_pair_id()},
                {"KeyFingerprint", k.key_fingerprint()},
                {"KeyName", k.key_name()},
                {"KeyType", k.key_type()}};
      if (!k.public_key().empty()) j["PublicKey"] = k.public_key();
      doc["KeyPairs"].push_back(j);
    }
    Print(ctx, doc, "KeyPairs", {"KeyName", "KeyType", "KeyFingerprint", "KeyPairId"});
    return 0;
  });
  cmd->add_option("--key-names", f->names);
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
