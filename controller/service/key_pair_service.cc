#include "controller/service/key_pair_service.h"

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "controller/keys/ssh_keys.h"
#include "controller/service/filters.h"
#include "controller/service/tag_service.h"

namespace minicloud::controller {
namespace {

v1::KeyPairInfo ToApi(const v1::KeyPairRecord& r, bool include_public_key) {
  v1::KeyPairInfo k;
  k.set_key_pair_id(r.key_pair_id());
  k.set_key_name(r.key_name());
  k.set_key_fingerprint(r.fingerprint());
  k.set_key_type(r.key_type());
  if (include_public_key) k.set_public_key(r.public_key());
  k.set_create_time_ms(r.create_time_ms());
  *k.mutable_tags() = TagList(r.tags());
  return k;
}

// DescribeKeyPairs' filters (botocore's EC2 model: key-pair-id, fingerprint, key-name, tag-key,
// tag:<key>; key-type as moto has it).
const FilterTable<v1::KeyPairRecord>& KeyPairFilters() {
  using Getter = FilterTable<v1::KeyPairRecord>::Getter;
  static const auto* kTable = new FilterTable<v1::KeyPairRecord>(
      std::map<std::string, Getter, std::less<>>{
          {"key-pair-id", [](const auto& k) { return k.key_pair_id(); }},
          {"key-name", [](const auto& k) { return k.key_name(); }},
          {"fingerprint", [](const auto& k) { return k.fingerprint(); }},
          {"key-type", [](const auto& k) { return k.key_type(); }},
      },
      [](const v1::KeyPairRecord& k) -> const TagMap& { return k.tags(); });
  return *kTable;
}

absl::Status DuplicateKey(const std::string& name) {
  return Ec2Error(absl::StatusCode::kAlreadyExists, "InvalidKeyPair.Duplicate",
                  absl::StrCat("The keypair '", name, "' already exists."));
}

}  // namespace

absl::StatusOr<v1::KeyPairInfo> KeyPairService::Store(
    const std::string& name, const std::string& type, const std::string& fingerprint,
    const std::string& public_key, const google::protobuf::RepeatedPtrField<v1::Tag>& tags) {
  std::lock_guard<std::mutex> lock(state_.mu());
  if (state_.key_pairs().contains(name)) return DuplicateKey(name);
  v1::KeyPairRecord r;
  r.set_key_pair_id(ids_.Next("key"));
  r.set_key_name(name);
  r.set_key_type(type);
  r.set_fingerprint(fingerprint);
  r.set_public_key(public_key);
  r.set_create_time_ms(absl::ToUnixMillis(clock_.Now()));
  SetTags(tags, *r.mutable_tags());
  CloudState::Changes changes;
  changes.key_pairs[name] = r;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record key pair"));
  return ToApi(r, false);
}

absl::StatusOr<v1::CreateKeyPairResponse> KeyPairService::CreateKeyPair(
    const v1::CreateKeyPairRequest& req) {
  MC_RETURN_IF_ERROR(keys::ValidateKeyName(req.key_name()));
  keys::KeyType type = keys::KeyType::kRsa;
  if (!req.key_type().empty()) {
    auto parsed = keys::ParseKeyType(req.key_type());
    if (!parsed.ok() || *parsed == keys::KeyType::kEcdsa) {
      return InvalidParameterValue(
          absl::StrCat("Value (", req.key_type(), ") for parameter KeyType is invalid."));
    }
    type = *parsed;
  }
  MC_RETURN_IF_ERROR(ValidateTagSpecification(req.tags(), TagUse::kApiOnly, "key pair"));
  {
    std::lock_guard<std::mutex> lock(state_.mu());
    if (state_.key_pairs().contains(req.key_name())) return DuplicateKey(req.key_name());
  }
  if (req.dry_run()) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation",
                    "Request would have succeeded, but DryRun flag is set.");
  }
  MC_ASSIGN_OR_RETURN(auto generated, keys::GenerateKeyPair(type));
  v1::CreateKeyPairResponse resp;
  MC_ASSIGN_OR_RETURN(*resp.mutable_key_pair(),
                      Store(req.key_name(), std::string(keys::KeyTypeName(type)),
                            generated.fingerprint, generated.public_key_openssh, req.tags()));
  resp.set_key_material(generated.private_key_material);
  return resp;
}

absl::StatusOr<v1::ImportKeyPairResponse> KeyPairService::ImportKeyPair(
    const v1::ImportKeyPairRequest& req) {
  MC_RETURN_IF_ERROR(keys::ValidateKeyName(req.key_name()));
  if (req.public_key_material().empty()) {
    return MissingParameter("The request must contain the parameter PublicKeyMaterial");
  }
  MC_ASSIGN_OR_RETURN(auto parsed, keys::ParsePublicKey(req.public_key_material()));
  MC_RETURN_IF_ERROR(ValidateTagSpecification(req.tags(), TagUse::kApiOnly, "key pair"));
  if (req.dry_run()) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation",
                    "Request would have succeeded, but DryRun flag is set.");
  }
  v1::ImportKeyPairResponse resp;
  MC_ASSIGN_OR_RETURN(*resp.mutable_key_pair(),
                      Store(req.key_name(), std::string(keys::KeyTypeName(parsed.type)),
                            parsed.fingerprint, parsed.public_key_openssh, req.tags()));
  return resp;
}

absl::StatusOr<v1::DescribeKeyPairsResponse> KeyPairService::DescribeKeyPairs(
    const v1::DescribeKeyPairsRequest& req) {
  MC_RETURN_IF_ERROR(KeyPairFilters().Validate(req.filters()));
  std::lock_guard<std::mutex> lock(state_.mu());
  v1::DescribeKeyPairsResponse resp;
  for (const auto& name : req.key_names()) {
    if (!state_.key_pairs().contains(name)) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidKeyPair.NotFound",
                      absl::StrCat("The key pair '", name, "' does not exist"));
    }
  }
  for (const auto& id : req.key_pair_ids()) {
    bool found = false;
    for (const auto& [n, r] : state_.key_pairs()) found = found || r.key_pair_id() == id;
    if (!found) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidKeyPair.NotFound",
                      absl::StrCat("The key pair ID '", id, "' does not exist"));
    }
  }
  for (const auto& [name, r] : state_.key_pairs()) {
    bool wanted = req.key_names_size() == 0 && req.key_pair_ids_size() == 0;
    for (const auto& n : req.key_names()) wanted = wanted || n == name;
    for (const auto& id : req.key_pair_ids()) wanted = wanted || id == r.key_pair_id();
    if (wanted && KeyPairFilters().Matches(r, req.filters())) {
      *resp.add_key_pairs() = ToApi(r, req.include_public_key());
    }
  }
  return resp;
}

absl::StatusOr<v1::DeleteKeyPairResponse> KeyPairService::DeleteKeyPair(
    const v1::DeleteKeyPairRequest& req) {
  if (req.key_name().empty() && req.key_pair_id().empty()) {
    return MissingParameter("The request must contain the parameter KeyName or KeyPairId");
  }
  std::lock_guard<std::mutex> lock(state_.mu());
  std::string name;
  for (const auto& [n, r] : state_.key_pairs()) {
    if (n == req.key_name() || r.key_pair_id() == req.key_pair_id()) name = n;
  }
  if (req.dry_run()) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation",
                    "Request would have succeeded, but DryRun flag is set.");
  }
  // EC2 answers success for a name that does not exist.
  if (name.empty()) return v1::DeleteKeyPairResponse();
  CloudState::Changes changes;
  changes.deleted_key_pairs.push_back(name);
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "delete key pair"));
  return v1::DeleteKeyPairResponse();
}

}  // namespace minicloud::controller
