// EBS snapshot verbs: create-snapshot, describe-snapshots, delete-snapshot, copy-snapshot, with
// the aws CLI's flags and JSON (botocore `Snapshot`), plus minicloud's StoredBytes.
#include <memory>

#include "cli/render.h"
#include "cli/shorthand.h"
#include "cli/verb.h"
#include "cli/verbs/paging.h"
#include "common/ec2_names.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using Stub = ComputeApi::Stub;

json SnapshotJson(const v1::Snapshot& s) {
  json doc = {{"SnapshotId", s.snapshot_id()},
              {"VolumeId", s.volume_id()},
              {"State", std::string(SnapshotStateName(s.state()))},
              {"StartTime", Iso8601(s.start_time())},
              {"Progress", s.progress()},
              {"OwnerId", s.owner_id()},
              {"Description", s.description()},
              {"VolumeSize", s.volume_size()},
              {"Encrypted", s.encrypted()},
              {"StorageTier", "standard"},
              // minicloud's: what this snapshot alone stores (incremental), and where.
              {"StoredBytes", s.stored_bytes()},
              {"AvailabilityZone", s.availability_zone()}};
  if (!s.state_message().empty()) doc["StateMessage"] = s.state_message();
  if (s.has_completion_time()) doc["CompletionTime"] = Iso8601(s.completion_time());
  if (!s.kms_key_id().empty()) doc["KmsKeyId"] = s.kms_key_id();
  if (!s.tags().empty()) doc["Tags"] = TagsJson(s.tags());
  return doc;
}

void AddCreateSnapshot(VerbRegistry& verbs) {
  struct Flags {
    v1::CreateSnapshotRequest req;
    std::vector<std::string> tag_specifications;
    bool dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add(
      "create-snapshot", "point-in-time, incremental snapshot of a volume", [f](VerbContext& ctx) {
        v1::CreateSnapshotRequest req = f->req;
        req.set_dry_run(f->dry_run);
        for (const auto& t :
             TagsFor(ParseTagSpecifications(f->tag_specifications), "snapshot", "CreateSnapshot")) {
          *req.add_tags() = t;
        }
        auto s = ctx.api.Call("CreateSnapshot", &Stub::CreateSnapshot, req);
        Print(ctx, SnapshotJson(s));
        return 0;
      });
  cmd->add_option("--volume-id", *f->req.mutable_volume_id())->required();
  cmd->add_option("--description", *f->req.mutable_description());
  cmd->add_option("--tag-specifications", f->tag_specifications,
                  "ResourceType=snapshot,Tags=[{Key=Name,Value=nightly}] (or JSON)");
  cmd->add_flag("--dry-run", f->dry_run);
}

void AddDescribeSnapshots(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> ids, owners, filters;
    PagingFlags paging;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("describe-snapshots", "list EBS snapshots", [f](VerbContext& ctx) {
    json doc = {{"Snapshots", json::array()}};
    const std::string next = f->paging.Run(
        [&](int max_results, const std::string& token) {
          v1::DescribeSnapshotsRequest req;
          for (const auto& id : f->ids) req.add_snapshot_ids(id);
          for (const auto& o : f->owners) req.add_owner_ids(o);
          for (auto& filter : ParseFilters(f->filters)) *req.add_filters() = std::move(filter);
          req.set_max_results(max_results);
          req.set_next_token(token);
          auto resp = ctx.api.Call("DescribeSnapshots", &Stub::DescribeSnapshots, req);
          for (const auto& s : resp.snapshots()) doc["Snapshots"].push_back(SnapshotJson(s));
          return resp.next_token();
        },
        doc["Snapshots"]);
    if (!next.empty()) doc["NextToken"] = next;
    Print(ctx, doc, "Snapshots",
          {"SnapshotId", "VolumeId", "State", "Progress", "VolumeSize", "StoredBytes"});
    return 0;
  });
  cmd->add_option("--snapshot-ids", f->ids);
  cmd->add_option("--owner-ids", f->owners, "self or the account id");
  cmd->add_option("--filters", f->filters, "Name=<name>,Values=<v1>,<v2>");
  f->paging.AddTo(cmd);
}

void AddDeleteSnapshot(VerbRegistry& verbs) {
  struct Flags {
    v1::DeleteSnapshotRequest req;
    bool dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("delete-snapshot", "delete a snapshot no AMI uses", [f](VerbContext& ctx) {
        v1::DeleteSnapshotRequest req = f->req;
        req.set_dry_run(f->dry_run);
        ctx.api.Call("DeleteSnapshot", &Stub::DeleteSnapshot, req);
        return 0;
      });
  cmd->add_option("--snapshot-id", *f->req.mutable_snapshot_id())->required();
  cmd->add_flag("--dry-run", f->dry_run);
}

void AddCopySnapshot(VerbRegistry& verbs) {
  struct Flags {
    v1::CopySnapshotRequest req;
    std::vector<std::string> tag_specifications;
    bool encrypted = false, dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("copy-snapshot", "copy a snapshot within the region (shares its data)",
                [f](VerbContext& ctx) {
                  v1::CopySnapshotRequest req = f->req;
                  req.set_encrypted(f->encrypted);
                  req.set_dry_run(f->dry_run);
                  for (const auto& t : TagsFor(ParseTagSpecifications(f->tag_specifications),
                                               "snapshot", "CopySnapshot")) {
                    *req.add_tags() = t;
                  }
                  auto resp = ctx.api.Call("CopySnapshot", &Stub::CopySnapshot, req);
                  json doc = {{"SnapshotId", resp.snapshot_id()}};
                  if (!resp.tags().empty()) doc["Tags"] = TagsJson(resp.tags());
                  Print(ctx, doc);
                  return 0;
                });
  cmd->add_option("--source-snapshot-id", *f->req.mutable_source_snapshot_id())->required();
  cmd->add_option("--source-region", *f->req.mutable_source_region(),
                  "the source's region: this cloud's (copies stay in the region)")
      ->required();
  cmd->add_option("--description", *f->req.mutable_description());
  cmd->add_option("--tag-specifications", f->tag_specifications,
                  "ResourceType=snapshot,Tags=[{Key=Name,Value=copy}] (or JSON)");
  cmd->add_flag("--encrypted", f->encrypted);
  cmd->add_option("--kms-key-id", *f->req.mutable_kms_key_id(),
                  "with --encrypted; only the default key (alias/aws/ebs) exists");
  cmd->add_flag("--dry-run", f->dry_run);
}

}  // namespace

void RegisterSnapshotVerbs(VerbRegistry& verbs) {
  AddCreateSnapshot(verbs);
  AddDescribeSnapshots(verbs);
  AddDeleteSnapshot(verbs);
  AddCopySnapshot(verbs);
}

}  // namespace minicloud::cli
