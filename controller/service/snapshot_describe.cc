// DescribeSnapshots, the API view of a snapshot record and the lookup of one.
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/ec2_error.h"
#include "common/ec2_names.h"
#include "common/status_macros.h"
#include "controller/service/filters.h"
#include "controller/service/pagination.h"
#include "controller/service/timestamp.h"
#include "controller/service/volume_service.h"

namespace minicloud::controller {
namespace {

// DescribeSnapshots: MaxResults 5..1000 (EC2 API reference), not with SnapshotIds.
constexpr PageRules kDescribeSnapshotsPages{"DescribeSnapshots", 5, 1000, "SnapshotIds"};

std::string Progress(const v1::SnapshotRecord& s) {
  return s.state() == v1::SNAPSHOT_STATE_COMPLETED ? "100%" : "0%";
}

// DescribeSnapshots' filters (botocore DescribeSnapshotsRequest.Filters).
const FilterTable<v1::SnapshotRecord>& SnapshotFilters() {
  using Getter = FilterTable<v1::SnapshotRecord>::Getter;
  static const auto* kTable = new FilterTable<v1::SnapshotRecord>(
      std::map<std::string, Getter, std::less<>>{
          {"snapshot-id", [](const auto& s) { return s.snapshot_id(); }},
          {"volume-id", [](const auto& s) { return s.volume_id(); }},
          {"status", [](const auto& s) { return std::string(SnapshotStateName(s.state())); }},
          {"volume-size", [](const auto& s) { return absl::StrCat(s.volume_size_gib()); }},
          {"description", [](const auto& s) { return s.description(); }},
          {"progress", [](const auto& s) { return Progress(s); }},
          {"encrypted",
           [](const auto& s) { return std::string(s.encrypted() ? "true" : "false"); }},
          {"start-time",
           [](const auto& s) {
             return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                                     absl::FromUnixMillis(s.start_time_ms()), absl::UTCTimeZone());
           }},
          // Every snapshot is the account's own: OwnerFiltersMatch decides these two.
          {"owner-id", [](const auto&) { return std::string(); }},
          {"owner-alias", [](const auto&) { return std::string(); }},
      },
      [](const v1::SnapshotRecord& s) -> const TagMap& { return s.tags(); });
  return *kTable;
}

// owner-id and owner-alias compare with the account, not with the record (which has no owner:
// every snapshot is the account's). True when every such filter matches.
bool OwnerFiltersMatch(const Filters& filters, const std::string& owner_id) {
  for (const auto& f : filters) {
    if (f.name() == "owner-id" && !AnyValueMatches(f, owner_id)) return false;
    if (f.name() == "owner-alias" && !AnyValueMatches(f, "self")) return false;
  }
  return true;
}

// Owner.N: "self" and the account's own id name the account's snapshots; "amazon",
// "aws-marketplace" and other accounts have none here. No owners given: all.
bool OwnersInclude(const google::protobuf::RepeatedPtrField<std::string>& owners,
                   const std::string& owner_id) {
  if (owners.empty()) return true;
  for (const auto& o : owners) {
    if (o == "self" || o == owner_id) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<const v1::SnapshotRecord*> FindSnapshotLocked(CloudState& state,
                                                             const std::string& id) {
  if (!IsValidId(id, "snap")) {
    return Ec2Error(
        absl::StatusCode::kInvalidArgument, "InvalidSnapshotID.Malformed",
        absl::StrCat("Invalid id: \"", QuoteForMessage(id, 64), "\" (expecting \"snap-...\")"));
  }
  auto it = state.snapshots().find(id);
  if (it == state.snapshots().end() || it->second.state() == v1::SNAPSHOT_STATE_DELETING) {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidSnapshot.NotFound",
                    absl::StrCat("The snapshot '", id, "' does not exist."));
  }
  return &it->second;
}

v1::Snapshot SnapshotToApi(const v1::SnapshotRecord& r, const std::string& owner_id) {
  v1::Snapshot s;
  s.set_snapshot_id(r.snapshot_id());
  s.set_volume_id(r.volume_id());
  s.set_state(r.state());
  if (r.state() == v1::SNAPSHOT_STATE_ERROR) s.set_state_message(r.error_message());
  *s.mutable_start_time() = ToTimestamp(r.start_time_ms());
  s.set_progress(Progress(r));
  s.set_owner_id(owner_id);
  s.set_description(r.description());
  s.set_volume_size(static_cast<int32_t>(r.volume_size_gib()));
  s.set_encrypted(r.encrypted());
  s.set_kms_key_id(r.kms_key_id());
  *s.mutable_tags() = TagList(r.tags());
  s.set_stored_bytes(r.stored_bytes());
  s.set_availability_zone(r.availability_zone());
  if (r.completion_time_ms() > 0)
    *s.mutable_completion_time() = ToTimestamp(r.completion_time_ms());
  return s;
}

absl::StatusOr<v1::DescribeSnapshotsResponse> VolumeService::DescribeSnapshots(
    const v1::DescribeSnapshotsRequest& req) {
  const std::string& owner = state_.config().owner_id;
  const auto& filters = SnapshotFilters();
  MC_RETURN_IF_ERROR(filters.Validate(req.filters()));
  Filters plain;
  for (const auto& f : req.filters()) {
    if (f.name() != "owner-id" && f.name() != "owner-alias") *plain.Add() = f;
  }
  MC_ASSIGN_OR_RETURN(const PageStart start,
                      StartPage(kDescribeSnapshotsPages, {req.max_results(), req.next_token()},
                                !req.snapshot_ids().empty()));
  auto lock = state_.LockCommitted();
  std::set<std::string> ids;
  for (const auto& id : req.snapshot_ids()) {
    MC_RETURN_IF_ERROR(FindSnapshotLocked(state_, id).status());
    ids.insert(id);
  }
  v1::DescribeSnapshotsResponse resp;
  if (!OwnersInclude(req.owner_ids(), owner) || !OwnerFiltersMatch(req.filters(), owner)) {
    return resp;
  }
  std::vector<const v1::SnapshotRecord*> matched;
  std::vector<std::string> keys;
  for (auto it = state_.snapshots().upper_bound(start.after); it != state_.snapshots().end();
       ++it) {
    const v1::SnapshotRecord& s = it->second;
    if (s.state() == v1::SNAPSHOT_STATE_DELETING) continue;
    if (!ids.empty() && !ids.contains(s.snapshot_id())) continue;
    if (!filters.Matches(s, plain)) continue;
    matched.push_back(&s);
    keys.push_back(s.snapshot_id());
    if (start.limit > 0 && static_cast<int32_t>(keys.size()) > start.limit) break;
  }
  const Page page = TakePage(kDescribeSnapshotsPages, PageStart{"", start.limit}, keys);
  for (size_t i = page.begin; i < page.end; ++i) {
    *resp.add_snapshots() = SnapshotToApi(*matched[i], owner);
  }
  resp.set_next_token(page.next_token);
  return resp;
}

}  // namespace minicloud::controller
