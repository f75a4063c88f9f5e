#include "controller/service/record_migration.h"

#include "absl/strings/str_cat.h"
#include "common/ec2_names.h"
#include "controller/identity/identity_signer.h"
#include "controller/service/identity_document.h"
#include "controller/service/instance_network.h"

namespace minicloud::controller {
namespace {

// Parses a legacy EC2 name into `set`; "" leaves the field unset.
template <typename E, typename Parse, typename Set>
absl::Status Legacy(const std::string& text, Parse parse, Set set, absl::string_view what) {
  if (text.empty()) return absl::OkStatus();
  absl::StatusOr<E> v = parse(text, what);
  if (!v.ok()) {
    return absl::DataLossError(absl::StrCat("legacy ", what, " '", text, "' is not an EC2 name"));
  }
  set(*v);
  return absl::OkStatus();
}

// Metadata options stored as strings become the typed enums.
absl::Status MigrateMetadataOptions(absl::string_view stored, v1::InstanceRecord& r) {
  // Typed options were written as a whole: a record with HttpTokens set is current. (Asked
  // before mutable_metadata_options(), which would give a record without options empty ones.)
  if (!r.has_metadata_options() ||
      r.metadata_options().http_tokens() != v1::HTTP_TOKENS_UNSPECIFIED) {
    return absl::OkStatus();
  }
  v1::InstanceMetadataOptions* o = r.mutable_metadata_options();
  v1::LegacyInstanceRecordView view;
  if (!view.ParseFromArray(stored.data(), static_cast<int>(stored.size()))) {
    return absl::DataLossError("instance record does not parse in its legacy shape");
  }
  const v1::LegacyMetadataOptions& l = view.metadata_options();
  absl::Status s = Legacy<v1::HttpTokens>(
      l.http_tokens(), ParseHttpTokens, [&](auto v) { o->set_http_tokens(v); }, "HttpTokens");
  s.Update(Legacy<v1::HttpEndpoint>(
      l.http_endpoint(), ParseHttpEndpoint, [&](auto v) { o->set_http_endpoint(v); },
      "HttpEndpoint"));
  s.Update(Legacy<v1::InstanceMetadataTags>(
      l.instance_metadata_tags(), ParseInstanceMetadataTags,
      [&](auto v) { o->set_instance_metadata_tags(v); }, "InstanceMetadataTags"));
  s.Update(Legacy<v1::HttpProtocolIpv6>(
      l.http_protocol_ipv6(), ParseHttpProtocolIpv6, [&](auto v) { o->set_http_protocol_ipv6(v); },
      "HttpProtocolIpv6"));
  s.Update(Legacy<v1::MetadataOptionsState>(
      l.state(), ParseMetadataOptionsState, [&](auto v) { o->set_state(v); }, "State"));
  if (!s.ok()) {
    return absl::DataLossError(
        absl::StrCat("instance ", r.instance_id(), " metadata options: ", s.message()));
  }
  // The strings were kept as unknown fields of the typed message; they are migrated now.
  o->DiscardUnknownFields();
  return absl::OkStatus();
}

// A stored identity document text becomes the fields it is built from, when they give the same
// bytes; any other text stays and is served as stored.
void MigrateIdentityDocument(v1::InstanceRecord& r) {
  if (r.identity_document().empty() || r.identity_pending_time_ms() != 0) return;
  absl::StatusOr<absl::Time> pending = identity::ParsePendingTime(r.identity_document());
  if (!pending.ok()) return;  // not ours to rewrite: served (and refused by the signer) as before
  v1::InstanceRecord fields = r;
  fields.clear_identity_document();
  fields.set_identity_pending_time_ms(absl::ToUnixMillis(*pending));
  if (IdentityDocumentFromFields(fields) != r.identity_document()) return;
  r.set_identity_pending_time_ms(fields.identity_pending_time_ms());
  r.clear_identity_document();
}

}  // namespace

absl::Status MigrateRecord(absl::string_view stored, v1::InstanceRecord& r) {
  MigrateIdentityDocument(r);
  return MigrateMetadataOptions(stored, r);
}

absl::Status MigrateDerivedNetwork(const std::map<std::string, v1::SubnetRecord>& subnets,
                                   v1::InstanceRecord& r) {
  if (!NetworkStoredDerived(r)) return absl::OkStatus();
  const v1::SubnetRecord* subnet = nullptr;
  if (auto it = subnets.find(r.topology().availability_zone());
      it != subnets.end() && it->second.subnet_id() == r.network().subnet_id()) {
    subnet = &it->second;
  } else {
    for (const auto& [az, s] : subnets) {
      if (s.subnet_id() == r.network().subnet_id()) subnet = &s;
    }
  }
  if (subnet == nullptr) {
    return absl::DataLossError(
        absl::StrCat("instance ", r.instance_id(), ": its subnet '", r.network().subnet_id(),
                     "' is not in the store; its network cannot be derived"));
  }
  absl::Status s = FillDerivedNetwork(*subnet, r);
  if (!s.ok()) {
    return absl::DataLossError(
        absl::StrCat("instance ", r.instance_id(), ": derive network: ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status MigrateRecord(absl::string_view, v1::PlacementGroupRecord& r) {
  absl::Status s;
  if (r.strategy() == v1::PLACEMENT_STRATEGY_UNSPECIFIED) {
    s.Update(Legacy<v1::PlacementStrategy>(
        r.legacy_strategy(), ParsePlacementStrategy, [&](auto v) { r.set_strategy(v); },
        "strategy"));
  }
  if (r.spread_level() == v1::SPREAD_LEVEL_UNSPECIFIED) {
    s.Update(Legacy<v1::SpreadLevel>(
        r.legacy_spread_level(), ParseSpreadLevel, [&](auto v) { r.set_spread_level(v); },
        "SpreadLevel"));
  }
  if (!s.ok()) {
    return absl::DataLossError(absl::StrCat("placement group ", r.group_name(), ": ", s.message()));
  }
  r.clear_legacy_strategy();
  r.clear_legacy_spread_level();
  return absl::OkStatus();
}

std::vector<v1::StackEventRecord> TakeEmbeddedStackEvents(v1::StackRecord& r) {
  std::vector<v1::StackEventRecord> out(r.events().begin(), r.events().end());
  r.set_event_sequence(r.event_sequence() + static_cast<int64_t>(out.size()));
  r.clear_events();
  return out;
}

}  // namespace minicloud::controller
