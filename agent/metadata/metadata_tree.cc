#include "agent/metadata/metadata_tree.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace minicloud::metadata {

bool VersionHas(absl::string_view version, absl::string_view since) {
  if (version == "latest") return true;
  return version >= since;  // "1.0" < "2007-…" < … sorts correctly as text
}

namespace {

// ---------------------------------------------------------------------------------------------
// The metadata tree. A directory is a function producing its children for one instance and one
// metadata version; children are filtered by presence and by the version that introduced them.

struct Ctx {
  const InstanceMetadata& m;
  absl::string_view version;  // "latest" compares after every dated version

  bool Has(absl::string_view since) const { return VersionHas(version, since); }
};

struct Child;
using DirFn = std::vector<Child> (*)(const Ctx&, int arg);
using LeafFn = std::string (*)(const Ctx&);

// One entry of a directory. Cheap to build: the name is a view (of a literal or of the
// instance record, which outlives the request) and a leaf's value is only produced for the entry
// a request actually reaches: `ref` points into the record, `fn` computes, `value` is inline.
struct Child {
  absl::string_view name;  // path segment
  std::string listed;      // listing line; empty = name (+ "/" for directories)
  const std::string* ref = nullptr;
  LeafFn fn = nullptr;
  std::string value;
  DirFn dir = nullptr;  // non-null for directories
  int arg = 0;          // passed to `dir` (public key index)

  std::string Value(const Ctx& c) const {
    if (ref != nullptr) return *ref;
    if (fn != nullptr) return fn(c);
    return value;
  }
};

Child Ref(absl::string_view name, const std::string& ref) {
  Child c;
  c.name = name;
  c.ref = &ref;
  return c;
}

Child Computed(absl::string_view name, LeafFn fn) {
  Child c;
  c.name = name;
  c.fn = fn;
  return c;
}

Child Const(absl::string_view name, std::string value) {
  Child c;
  c.name = name;
  c.value = std::move(value);
  return c;
}

Child Dir(absl::string_view name, DirFn fn, int arg = 0) {
  Child c;
  c.name = name;
  c.dir = fn;
  c.arg = arg;
  return c;
}

std::string Lines(const std::vector<std::string>& items) { return absl::StrJoin(items, "\n"); }

std::string SecurityGroupNames(const Ctx& c) {
  std::vector<std::string> names;
  for (const auto& g : c.m.security_groups) names.push_back(g.name);
  return Lines(names);
}

std::string SecurityGroupIds(const Ctx& c) {
  std::vector<std::string> ids;
  for (const auto& g : c.m.security_groups) ids.push_back(g.id);
  return Lines(ids);
}

// Path names of public key indices ("0", "1", ...): views into this table stay valid forever.
constexpr int kMaxPublicKeys = 64;
absl::string_view IndexName(int i) {
  static const std::array<std::string, kMaxPublicKeys> names = [] {
    std::array<std::string, kMaxPublicKeys> n;
    for (int k = 0; k < kMaxPublicKeys; ++k) n[k] = absl::StrCat(k);
    return n;
  }();
  return names[i];
}

std::vector<Child> BlockDeviceMappingDir(const Ctx& c, int) {
  std::vector<Child> out;
  out.push_back(Ref("ami", c.m.block_device_mapping.ami));
  for (const EphemeralDevice& e : c.m.block_device_mapping.ephemeral) {
    out.push_back(Ref(e.virtual_name, e.device_name));
  }
  out.push_back(Ref("root", c.m.block_device_mapping.root));
  return out;
}

std::vector<Child> EventsMaintenanceDir(const Ctx&, int) {
  // No scheduled events in minicloud: EC2 answers an empty JSON list. [CI test_ec2.py]
  std::vector<Child> out;
  out.push_back(Const("history", "[]"));
  out.push_back(Const("scheduled", "[]"));
  return out;
}

std::vector<Child> EventsDir(const Ctx&, int) {
  std::vector<Child> out;
  out.push_back(Dir("maintenance", EventsMaintenanceDir));
  return out;
}

std::vector<Child> MacDir(const Ctx& c, int) {
  const InstanceMetadata& m = c.m;
  std::vector<Child> out;
  out.reserve(14);
  out.push_back(
      Computed("device-number", [](const Ctx& x) { return absl::StrCat(x.m.device_number); }));
  out.push_back(Ref("interface-id", m.interface_id));
  out.push_back(Ref("local-hostname", m.local_hostname));
  out.push_back(Ref("local-ipv4s", m.local_ipv4));
  out.push_back(Ref("mac", m.mac));
  if (c.Has("2020-11-01")) out.push_back(Const("network-card-index", "0"));
  out.push_back(Ref("owner-id", m.account_id));
  out.push_back(Computed("security-group-ids", SecurityGroupIds));
  out.push_back(Computed("security-groups", SecurityGroupNames));
  out.push_back(Ref("subnet-id", m.subnet_id));
  if (m.subnet_ipv4_cidr_block) {
    out.push_back(Ref("subnet-ipv4-cidr-block", *m.subnet_ipv4_cidr_block));
  }
  out.push_back(Ref("vpc-id", m.vpc_id));
  if (m.vpc_ipv4_cidr_block) {
    out.push_back(Ref("vpc-ipv4-cidr-block", *m.vpc_ipv4_cidr_block));
    if (c.Has("2016-06-30")) out.push_back(Ref("vpc-ipv4-cidr-blocks", *m.vpc_ipv4_cidr_block));
  }
  return out;
}

std::vector<Child> MacsDir(const Ctx& c, int) {
  std::vector<Child> out;
  out.push_back(Dir(c.m.mac, MacDir));
  return out;
}

std::vector<Child> InterfacesDir(const Ctx&, int) {
  std::vector<Child> out;
  out.push_back(Dir("macs", MacsDir));
  return out;
}

std::vector<Child> NetworkDir(const Ctx&, int) {
  std::vector<Child> out;
  out.push_back(Dir("interfaces", InterfacesDir));
  return out;
}

std::vector<Child> PlacementDir(const Ctx& c, int) {
  const InstanceMetadata& m = c.m;
  std::vector<Child> out;
  out.push_back(Ref("availability-zone", m.availability_zone));
  if (m.availability_zone_id && c.Has("2019-10-01")) {
    out.push_back(Ref("availability-zone-id", *m.availability_zone_id));
  }
  if (m.placement_group_name && c.Has("2020-08-24")) {
    out.push_back(Ref("group-name", *m.placement_group_name));
  }
  if (m.placement_partition_number && c.Has("2020-08-24")) {
    out.push_back(Computed("partition-number", [](const Ctx& x) {
      return absl::StrCat(*x.m.placement_partition_number);
    }));
  }
  if (c.Has("2020-08-24")) out.push_back(Ref("region", m.region));
  return out;
}

std::vector<Child> PublicKeyDir(const Ctx& c, int index) {
  std::vector<Child> out;
  out.push_back(Ref("openssh-key", c.m.public_keys[index].openssh_key));
  return out;
}

std::vector<Child> PublicKeysDir(const Ctx& c, int) {
  std::vector<Child> out;
  const int n = std::min<int>(static_cast<int>(c.m.public_keys.size()), kMaxPublicKeys);
  for (int i = 0; i < n; ++i) {
    Child d = Dir(IndexName(i), PublicKeyDir, i);
    d.listed = absl::StrCat(i, "=", c.m.public_keys[i].name);
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<Child> ServicesDir(const Ctx& c, int) {
  std::vector<Child> out;
  out.push_back(Ref("domain", c.m.services_domain));
  if (c.Has("2015-10-20")) out.push_back(Ref("partition", c.m.services_partition));
  return out;
}

std::vector<Child> TagsInstanceDir(const Ctx& c, int) {
  std::vector<Child> out;
  for (const auto& [key, value] : c.m.tags) out.push_back(Ref(key, value));
  return out;
}

std::vector<Child> TagsDir(const Ctx&, int) {
  std::vector<Child> out;
  out.push_back(Dir("instance", TagsInstanceDir));
  return out;
}

// iam/: EC2's JSON documents, formatted as EC2 prints them (two-space indent, " : ") [UG
// iam-roles-for-amazon-ec2.md "Retrieve security credentials from instance metadata",
// instancedata-data-categories.md "iam/info"]. botocore's InstanceMetadataFetcher reads the
// role from the security-credentials/ listing, then AccessKeyId, SecretAccessKey, Token and
// Expiration from the role's document.
std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(ch) < 0x20) continue;  // never in these values
    out.push_back(ch);
  }
  out.push_back('"');
  return out;
}

std::string JsonObject(const std::vector<std::pair<absl::string_view, std::string>>& fields) {
  std::vector<std::string> lines;
  for (const auto& [k, v] : fields)
    lines.push_back(absl::StrCat("  \"", k, "\" : ", JsonString(v)));
  return absl::StrCat("{\n", absl::StrJoin(lines, ",\n"), "\n}");
}

std::string IsoSeconds(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string IamInfo(const Ctx& c) {
  const IamProfile& p = *c.m.iam;
  return JsonObject({{"Code", "Success"},
                     {"LastUpdated", IsoSeconds(p.credentials->last_updated)},
                     {"InstanceProfileArn", p.instance_profile_arn},
                     {"InstanceProfileId", p.instance_profile_id}});
}

std::string IamRoleCredentials(const Ctx& c) {
  const IamCredentials& k = *c.m.iam->credentials;
  return JsonObject({{"Code", "Success"},
                     {"LastUpdated", IsoSeconds(k.last_updated)},
                     {"Type", "AWS-HMAC"},
                     {"AccessKeyId", k.access_key_id},
                     {"SecretAccessKey", k.secret_access_key},
                     {"Token", k.token},
                     {"Expiration", IsoSeconds(k.expiration)}});
}

std::vector<Child> IamSecurityCredentialsDir(const Ctx& c, int) {
  std::vector<Child> out;
  out.push_back(Computed(c.m.iam->role_name, IamRoleCredentials));
  return out;
}

std::vector<Child> IamDir(const Ctx&, int) {
  std::vector<Child> out;
  out.push_back(Computed("info", IamInfo));
  out.push_back(Dir("security-credentials", IamSecurityCredentialsDir));
  return out;
}

std::vector<Child> MetaDataDir(const Ctx& c, int) {
  const InstanceMetadata& m = c.m;
  std::vector<Child> out;
  out.reserve(24);
  out.push_back(Ref("ami-id", m.image_id));
  out.push_back(Computed("ami-launch-index",
                         [](const Ctx& x) { return absl::StrCat(x.m.ami_launch_index); }));
  out.push_back(Const("ami-manifest-path", "(unknown)"));  // EBS-backed AMIs [UG]
  if (c.Has("2007-12-15")) out.push_back(Dir("block-device-mapping", BlockDeviceMappingDir));
  if (c.Has("2018-08-17")) out.push_back(Dir("events", EventsDir));
  out.push_back(Ref("hostname", m.hostname));
  // IAM roles for EC2 came with metadata version 2012-01-12 [UG categories table]; listed only
  // once the agent holds credentials.
  if (c.Has("2012-01-12") && m.iam && m.iam->credentials) out.push_back(Dir("iam", IamDir));
  if (c.Has("2008-09-01")) out.push_back(Const("instance-action", "none"));
  out.push_back(Ref("instance-id", m.instance_id));
  if (c.Has("2019-10-01")) out.push_back(Ref("instance-life-cycle", m.instance_life_cycle));
  if (c.Has("2007-08-29")) out.push_back(Ref("instance-type", m.instance_type));
  out.push_back(Ref("local-hostname", m.local_hostname));
  out.push_back(Ref("local-ipv4", m.local_ipv4));
  if (c.Has("2011-01-01") && !m.mac.empty()) {
    out.push_back(Ref("mac", m.mac));
    out.push_back(Dir("network", NetworkDir));
  }
  if (c.Has("2008-02-01")) out.push_back(Dir("placement", PlacementDir));
  out.push_back(Const("profile", "default-hvm"));
  if (!m.public_keys.empty()) out.push_back(Dir("public-keys", PublicKeysDir));
  out.push_back(Ref("reservation-id", m.reservation_id));
  out.push_back(Computed("security-groups", SecurityGroupNames));
  if (c.Has("2014-02-25")) out.push_back(Dir("services", ServicesDir));
  if (c.Has("2021-03-23") && m.options.instance_metadata_tags == InstanceMetadataTags::kEnabled) {
    out.push_back(Dir("tags", TagsDir));
  }
  return out;
}

std::vector<Child> InstanceIdentityDir(const Ctx& c, int) {
  const IdentityDocument& id = c.m.identity;
  std::vector<Child> out;
  if (!id.document.empty()) out.push_back(Ref("document", id.document));
  if (!id.pkcs7.empty()) out.push_back(Ref("pkcs7", id.pkcs7));
  if (!id.rsa2048.empty()) out.push_back(Ref("rsa2048", id.rsa2048));
  if (!id.signature.empty()) out.push_back(Ref("signature", id.signature));
  return out;
}

std::vector<Child> DynamicDir(const Ctx& c, int) {
  std::vector<Child> out;
  if (!c.m.identity.document.empty()) out.push_back(Dir("instance-identity", InstanceIdentityDir));
  return out;
}

std::string Listing(const std::vector<Child>& children) {
  std::string out;
  for (const Child& ch : children) {
    if (!out.empty()) out.push_back('\n');
    if (!ch.listed.empty()) {
      out += ch.listed;
    } else {
      out.append(ch.name.data(), ch.name.size());
      if (ch.dir != nullptr) out.push_back('/');
    }
  }
  return out;
}

// Walks `segments` from directory `dir`. nullopt = 404.
std::optional<std::string> Walk(const Ctx& c, DirFn dir, int arg,
                                absl::Span<const std::string> segments) {
  while (true) {
    std::vector<Child> children = dir(c, arg);
    if (segments.empty()) return Listing(children);
    auto it = std::find_if(children.begin(), children.end(),
                           [&](const Child& ch) { return ch.name == segments.front(); });
    if (it == children.end()) return std::nullopt;
    segments.remove_prefix(1);
    if (it->dir == nullptr) {
      if (!segments.empty()) return std::nullopt;
      return it->Value(c);
    }
    dir = it->dir;
    arg = it->arg;
  }
}

}  // namespace

std::optional<std::string> ReadMetadataTree(const InstanceMetadata& m, absl::string_view version,
                                            MetadataTree tree, absl::Span<const std::string> path) {
  const Ctx ctx{m, version};
  return Walk(ctx, tree == MetadataTree::kMetaData ? MetaDataDir : DynamicDir, 0, path);
}

}  // namespace minicloud::metadata
