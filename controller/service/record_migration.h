#pragma once

// Brings records written by an earlier version of the controller to the current shape when the
// store is loaded (CloudState::Load), so an existing state directory keeps working. Pure. A
// migrated record is written in the current shape the next time it changes.
//
// Migrations:
//  - InstanceRecord.metadata_options: options stored as strings ("required", "enabled", in the
//    fields InstanceMetadataOptions now reserves) become the typed enums.
//  - InstanceRecord.identity_document: the document's text, stored by versions before
//    identity_pending_time_ms, is dropped when the record's fields (with the text's pendingTime,
//    which a later start does not change) build the same bytes; a text they do not build
//    (another layout, a field changed since) stays and is served as stored
//    (identity_document.h). Either way the guest and its signatures see the same document.
//  - PlacementGroupRecord: legacy_strategy / legacy_spread_level ("spread", "rack") become
//    `strategy` / `spread_level`.
//  - StackRecord.events: events embedded in the stack record (the oldest first, at most 1000)
//    move to their own table (Table::kStackEvents, CloudState::Load writes them with the
//    record); TakeEmbeddedStackEvents takes them out and numbers them after event_sequence.
//  - InstanceRecord.network: records written from now on omit the five derivable network fields
//    (instance_network.h); MigrateDerivedNetwork fills them back from the subnet records
//    (CloudState::Load calls it once the subnets are loaded). Records written before carry the
//    fields and load unchanged; both load to the same record.
// A legacy string that is not an EC2 name is DataLoss: a record we cannot read faithfully.

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "minicloud/v1/records.pb.h"
#include "minicloud/v1/stack_records.pb.h"

namespace minicloud::controller {

// `stored` is the serialized form `r` was parsed from.
absl::Status MigrateRecord(absl::string_view stored, v1::InstanceRecord& r);
absl::Status MigrateRecord(absl::string_view stored, v1::PlacementGroupRecord& r);

// Takes the events embedded in `r` out of it, oldest first, and advances r.event_sequence past
// them: they are numbered event_sequence+1 ... (before) in that order. Empty: nothing to move.
std::vector<v1::StackEventRecord> TakeEmbeddedStackEvents(v1::StackRecord& r);
// A record stored without its derived network fields (NetworkStoredDerived) gets them back from
// its subnet (`subnets` by availability zone, as CloudState keeps them); other records are left
// as they are. DataLoss when the record's subnet is not there.
absl::Status MigrateDerivedNetwork(const std::map<std::string, v1::SubnetRecord>& subnets,
                                   v1::InstanceRecord& r);

// Records with nothing to migrate.
template <typename Record>
absl::Status MigrateRecord(absl::string_view, Record&) {
  return absl::OkStatus();
}

}  // namespace minicloud::controller
