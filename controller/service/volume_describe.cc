// DescribeVolumes and DescribeVolumesModifications, and the API view of a volume record.
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "controller/lifecycle/volume_lifecycle.h"
#include "controller/service/filters.h"
#include "controller/service/pagination.h"
#include "controller/service/timestamp.h"
#include "controller/service/volume_service.h"

namespace minicloud::controller {
namespace {

using lifecycle::AttachmentStateName;
using lifecycle::ModificationStateName;
using lifecycle::VolumeStateName;

constexpr PageRules kDescribeVolumesPages{"DescribeVolumes", 5, kMaxVolumesPerPage, "VolumeIds"};
constexpr PageRules kDescribeModificationsPages{"DescribeVolumesModifications", 5, 500,
                                                "VolumeIds"};

std::string Bool(bool b) { return b ? "true" : "false"; }

// A filter over a volume's attachments matches when one attachment has one of the values.
using AttachmentGetter = std::function<std::string(const v1::VolumeAttachmentRecord&)>;

// DescribeVolumes' filters (botocore DescribeVolumesRequest.Filters); attachment.* filters are
// handled below, as a volume has several attachments.
const FilterTable<v1::VolumeRecord>& VolumeFilters() {
  using Getter = FilterTable<v1::VolumeRecord>::Getter;
  static const auto* kTable = new FilterTable<v1::VolumeRecord>(
      std::map<std::string, Getter, std::less<>>{
          {"volume-id", [](const auto& v) { return v.volume_id(); }},
          {"status", [](const auto& v) { return std::string(VolumeStateName(v.state())); }},
          {"availability-zone", [](const auto& v) { return v.availability_zone(); }},
          {"size", [](const auto& v) { return absl::StrCat(v.size_gib()); }},
          {"volume-type", [](const auto& v) { return v.volume_type(); }},
          {"snapshot-id", [](const auto& v) { return v.snapshot_id(); }},
          {"encrypted", [](const auto& v) { return Bool(v.encrypted()); }},
          {"multi-attach-enabled", [](const auto& v) { return Bool(v.multi_attach_enabled()); }},
          {"create-time",
           [](const auto& v) {
             return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                                     absl::FromUnixMillis(v.create_time_ms()), absl::UTCTimeZone());
           }},
      },
      [](const v1::VolumeRecord& v) -> const TagMap& { return v.tags(); });
  return *kTable;
}

const std::map<std::string, AttachmentGetter, std::less<>>& AttachmentFilters() {
  static const auto* kMap = new std::map<std::string, AttachmentGetter, std::less<>>{
      {"attachment.instance-id", [](const auto& a) { return a.instance_id(); }},
      {"attachment.device", [](const auto& a) { return a.device(); }},
      {"attachment.status",
       [](const auto& a) { return std::string(AttachmentStateName(a.state())); }},
      {"attachment.delete-on-termination",
       [](const auto& a) { return Bool(a.delete_on_termination()); }},
  };
  return *kMap;
}

// Splits `filters` into the attachment filters and the rest; InvalidParameterValue for a filter
// neither knows.
absl::Status SplitFilters(const Filters& filters, Filters& plain, Filters& attachment) {
  for (const auto& f : filters) {
    (AttachmentFilters().contains(f.name()) ? attachment : plain).Add()->CopyFrom(f);
  }
  return VolumeFilters().Validate(plain);
}

bool AttachmentsMatch(const v1::VolumeRecord& v, const Filters& filters) {
  for (const auto& f : filters) {
    const auto& get = AttachmentFilters().at(f.name());
    bool any = false;
    for (const auto& a : v.attachments()) any = any || AnyValueMatches(f, get(a));
    if (!any) return false;
  }
  return true;
}

using ModGetter = std::function<std::string(const v1::VolumeModification&)>;
const FilterTable<v1::VolumeModification>& ModificationFilters() {
  static const auto* kTable =
      new FilterTable<v1::VolumeModification>(std::map<std::string, ModGetter, std::less<>>{
          {"volume-id", [](const auto& m) { return m.volume_id(); }},
          {"modification-state",
           [](const auto& m) { return std::string(ModificationStateName(m.state())); }},
          {"target-size", [](const auto& m) { return absl::StrCat(m.target_size()); }},
          {"target-iops", [](const auto& m) { return absl::StrCat(m.target_iops()); }},
          {"target-volume-type", [](const auto& m) { return m.target_volume_type(); }},
          {"original-size", [](const auto& m) { return absl::StrCat(m.original_size()); }},
          {"original-iops", [](const auto& m) { return absl::StrCat(m.original_iops()); }},
          {"original-volume-type", [](const auto& m) { return m.original_volume_type(); }},
      });
  return *kTable;
}

// The ids of a Describe, each validated and known.
absl::StatusOr<std::set<std::string>> KnownIdsLocked(
    CloudState& state, const google::protobuf::RepeatedPtrField<std::string>& ids) {
  std::set<std::string> out;
  for (const auto& id : ids) {
    MC_RETURN_IF_ERROR(FindVolumeLocked(state, id).status());
    out.insert(id);
  }
  return out;
}

}  // namespace

v1::VolumeAttachment AttachmentToApi(const std::string& volume_id,
                                     const v1::VolumeAttachmentRecord& a) {
  v1::VolumeAttachment out;
  out.set_volume_id(volume_id);
  out.set_instance_id(a.instance_id());
  out.set_device(a.device());
  out.set_state(a.state());
  *out.mutable_attach_time() = ToTimestamp(a.attach_time_ms());
  out.set_delete_on_termination(a.delete_on_termination());
  return out;
}

v1::Volume VolumeToApi(const v1::VolumeRecord& r) {
  v1::Volume v;
  v.set_volume_id(r.volume_id());
  v.set_size(r.size_gib());
  v.set_snapshot_id(r.snapshot_id());
  v.set_availability_zone(r.availability_zone());
  v.set_state(r.state());
  *v.mutable_create_time() = ToTimestamp(r.create_time_ms());
  for (const auto& a : r.attachments()) *v.add_attachments() = AttachmentToApi(r.volume_id(), a);
  v.set_volume_type(r.volume_type());
  v.set_iops(r.iops());
  v.set_throughput(r.throughput());
  v.set_encrypted(r.encrypted());
  v.set_kms_key_id(r.kms_key_id());
  v.set_multi_attach_enabled(r.multi_attach_enabled());
  *v.mutable_tags() = TagList(r.tags());
  return v;
}

absl::StatusOr<v1::DescribeVolumesResponse> VolumeService::DescribeVolumes(
    const v1::DescribeVolumesRequest& req) {
  Filters plain, attachment;
  MC_RETURN_IF_ERROR(SplitFilters(req.filters(), plain, attachment));
  // EC2: "a value larger than 500 returns 500 items".
  const int32_t max = std::min(req.max_results(), kMaxVolumesPerPage);
  MC_ASSIGN_OR_RETURN(
      const PageStart start,
      StartPage(kDescribeVolumesPages, {max, req.next_token()}, !req.volume_ids().empty()));
  auto lock = state_.LockCommitted();
  MC_ASSIGN_OR_RETURN(const auto ids, KnownIdsLocked(state_, req.volume_ids()));
  std::vector<const v1::VolumeRecord*> matched;
  std::vector<std::string> keys;
  for (auto it = state_.volumes().upper_bound(start.after); it != state_.volumes().end(); ++it) {
    const v1::VolumeRecord& v = it->second;
    if (!v.hibernation_state_of().empty()) continue;  // an instance's saved RAM (hibernation.h)
    if (!ids.empty() && !ids.contains(v.volume_id())) continue;
    if (!VolumeFilters().Matches(v, plain) || !AttachmentsMatch(v, attachment)) continue;
    matched.push_back(&v);
    keys.push_back(v.volume_id());
    if (start.limit > 0 && static_cast<int32_t>(keys.size()) > start.limit) break;
  }
  const Page page = TakePage(kDescribeVolumesPages, PageStart{"", start.limit}, keys);
  v1::DescribeVolumesResponse resp;
  for (size_t i = page.begin; i < page.end; ++i) *resp.add_volumes() = VolumeToApi(*matched[i]);
  resp.set_next_token(page.next_token);
  return resp;
}

absl::StatusOr<v1::DescribeVolumesModificationsResponse>
VolumeService::DescribeVolumesModifications(const v1::DescribeVolumesModificationsRequest& req) {
  MC_RETURN_IF_ERROR(ModificationFilters().Validate(req.filters()));
  MC_ASSIGN_OR_RETURN(const PageStart start,
                      StartPage(kDescribeModificationsPages, {req.max_results(), req.next_token()},
                                !req.volume_ids().empty()));
  auto lock = state_.LockCommitted();
  MC_ASSIGN_OR_RETURN(const auto ids, KnownIdsLocked(state_, req.volume_ids()));
  std::vector<const v1::VolumeModification*> matched;
  std::vector<std::string> keys;
  for (const auto& [id, v] : state_.volumes()) {
    if (!ids.empty() && !ids.contains(id)) continue;
    for (int i = 0; i < v.modifications_size(); ++i) {
      std::string key = absl::StrFormat("%s/%08d", id, i);
      if (key <= start.after && !start.after.empty()) continue;
      if (!ModificationFilters().Matches(v.modifications(i), req.filters())) continue;
      matched.push_back(&v.modifications(i));
      keys.push_back(std::move(key));
    }
  }
  const Page page = TakePage(kDescribeModificationsPages, PageStart{"", start.limit}, keys);
  v1::DescribeVolumesModificationsResponse resp;
  for (size_t i = page.begin; i < page.end; ++i) *resp.add_modifications() = *matched[i];
  resp.set_next_token(page.next_token);
  return resp;
}

}  // namespace minicloud::controller
