// The volume and attachment lifecycles as tables: every (state, event) pair, what it does, or
// the EC2 error it gives. A state added to v1::VolumeState / v1::AttachmentState or an event
// added to VolumeEvent / AttachmentEvent without rows here fails "the tables list every pair".
#include "controller/lifecycle/volume_lifecycle.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"

namespace minicloud::controller::lifecycle {
namespace {

constexpr auto kNone = v1::VOLUME_STATE_UNSPECIFIED;
constexpr auto kCreating = v1::VOLUME_STATE_CREATING;
constexpr auto kAvailable = v1::VOLUME_STATE_AVAILABLE;
constexpr auto kInUse = v1::VOLUME_STATE_IN_USE;
constexpr auto kDeleting = v1::VOLUME_STATE_DELETING;
constexpr auto kDeleted = v1::VOLUME_STATE_DELETED;
constexpr auto kError = v1::VOLUME_STATE_ERROR;
using E = VolumeEvent;
constexpr char kVol[] = "vol-0123456789abcdef0";

// One row: the expected state after the event (changed when it differs from `from`), or the
// EC2 code of the refusal ("Internal" for events that cannot concern the state).
struct Row {
  v1::VolumeState from;
  E event;
  v1::VolumeState to;  // kNone when refused
  std::string error;   // "" when allowed
  bool multi_attach = false;
  int attachments = 0;
  bool purge = false;
};

const std::vector<Row>& Table() {
  static const auto* rows = new std::vector<Row>{
      // no record yet
      {kNone, E::kCreateAccepted, kCreating, ""},
      {kNone, E::kServiceCreated, kNone, "InternalError"},
      {kNone, E::kServiceFailed, kNone, "InternalError"},
      {kNone, E::kDeleteRequested, kNone, "InternalError"},
      {kNone, E::kServiceDeleted, kNone, "InternalError"},
      {kNone, E::kAttachRequested, kNone, "InternalError"},
      {kNone, E::kLastDetached, kNone, "InternalError"},
      {kNone, E::kModifyRequested, kNone, "InternalError"},
      // creating
      {kCreating, E::kCreateAccepted, kNone, "InternalError"},
      {kCreating, E::kServiceCreated, kAvailable, ""},
      // A volume RunInstances made attached (root, Ebs mapping) shown available while attached.
      {kCreating, E::kServiceCreated, kInUse, "", false, 1},
      {kCreating, E::kServiceFailed, kError, ""},
      {kCreating, E::kDeleteRequested, kNone, "IncorrectState"},
      {kCreating, E::kServiceDeleted, kNone, "InternalError"},
      {kCreating, E::kAttachRequested, kNone, "IncorrectState"},
      {kCreating, E::kLastDetached, kNone, "InternalError"},
      {kCreating, E::kModifyRequested, kNone, "IncorrectState"},
      // available
      {kAvailable, E::kCreateAccepted, kNone, "InternalError"},
      {kAvailable, E::kServiceCreated, kAvailable, ""},
      {kAvailable, E::kServiceFailed, kAvailable, ""},
      {kAvailable, E::kDeleteRequested, kDeleting, ""},
      {kAvailable, E::kServiceDeleted, kNone, "InternalError"},
      {kAvailable, E::kAttachRequested, kInUse, ""},
      {kAvailable, E::kLastDetached, kNone, "InternalError"},
      {kAvailable, E::kModifyRequested, kAvailable, ""},
      // in-use
      {kInUse, E::kCreateAccepted, kNone, "InternalError"},
      {kInUse, E::kServiceCreated, kInUse, ""},
      {kInUse, E::kServiceFailed, kInUse, ""},
      {kInUse, E::kDeleteRequested, kNone, "VolumeInUse", false, 1},
      {kInUse, E::kServiceDeleted, kNone, "InternalError"},
      {kInUse, E::kAttachRequested, kNone, "VolumeInUse", false, 1},
      {kInUse, E::kAttachRequested, kInUse, "", true, 15},
      {kInUse, E::kAttachRequested, kNone, "AttachmentLimitExceeded", true, 16},
      {kInUse, E::kLastDetached, kAvailable, ""},
      {kInUse, E::kModifyRequested, kInUse, ""},
      // deleting
      {kDeleting, E::kCreateAccepted, kNone, "InternalError"},
      {kDeleting, E::kServiceCreated, kDeleting, ""},
      {kDeleting, E::kServiceFailed, kDeleting, ""},
      {kDeleting, E::kDeleteRequested, kDeleting, ""},
      {kDeleting, E::kServiceDeleted, kDeleted, "", false, 0, true},
      {kDeleting, E::kAttachRequested, kNone, "IncorrectState"},
      {kDeleting, E::kLastDetached, kNone, "InternalError"},
      {kDeleting, E::kModifyRequested, kNone, "IncorrectState"},
      // deleted (a record is purged at once; a stale copy refuses everything from the API)
      {kDeleted, E::kCreateAccepted, kNone, "InternalError"},
      {kDeleted, E::kServiceCreated, kDeleted, ""},
      {kDeleted, E::kServiceFailed, kDeleted, ""},
      {kDeleted, E::kDeleteRequested, kNone, "IncorrectState"},
      {kDeleted, E::kServiceDeleted, kNone, "InternalError"},
      {kDeleted, E::kAttachRequested, kNone, "IncorrectState"},
      {kDeleted, E::kLastDetached, kNone, "InternalError"},
      {kDeleted, E::kModifyRequested, kNone, "IncorrectState"},
      // error
      {kError, E::kCreateAccepted, kNone, "InternalError"},
      {kError, E::kServiceCreated, kError, ""},
      {kError, E::kServiceFailed, kError, ""},
      {kError, E::kDeleteRequested, kDeleting, ""},
      {kError, E::kServiceDeleted, kNone, "InternalError"},
      {kError, E::kAttachRequested, kNone, "IncorrectState"},
      {kError, E::kLastDetached, kNone, "InternalError"},
      {kError, E::kModifyRequested, kNone, "IncorrectState"},
  };
  return *rows;
}

TEST_CASE("volume lifecycle: the table lists every state and event") {
  // Bug caught: a new VolumeState or VolumeEvent that nobody decided on.
  std::set<std::pair<int, int>> listed;
  for (const Row& r : Table()) listed.insert({r.from, static_cast<int>(r.event)});
  for (int s = v1::VolumeState_MIN; s <= v1::VolumeState_MAX; ++s) {
    for (int e = 0; e < kVolumeEventCount; ++e) {
      INFO("state " << s << " event " << VolumeEventName(static_cast<E>(e)));
      CHECK(listed.contains({s, e}));
    }
  }
}

TEST_CASE("volume lifecycle: every row") {
  for (const Row& r : Table()) {
    INFO(absl::StrCat("from '", VolumeStateName(r.from), "' on ", VolumeEventName(r.event),
                      " multi-attach=", r.multi_attach, " attachments=", r.attachments));
    VolumeView v{kVol, r.from, r.attachments, r.multi_attach, "i-0123456789abcdef0"};
    auto t = Apply(v, r.event);
    if (!r.error.empty()) {
      REQUIRE_FALSE(t.ok());
      CHECK(Ec2CodeOf(t.status()) == r.error);
      continue;
    }
    REQUIRE(t.ok());
    CHECK(t->state == r.to);
    CHECK(t->changed == (r.to != r.from));
    CHECK(t->purge == r.purge);
  }
}

TEST_CASE("volume lifecycle: EC2's wording of the refusals") {
  // Bug caught: VolumeInUse without the instance, IncorrectState without the state.
  auto in_use =
      Apply(VolumeView{kVol, kInUse, 1, false, "i-0000000000000000a"}, E::kDeleteRequested);
  CHECK(in_use.status().message() ==
        "Volume vol-0123456789abcdef0 is currently attached to i-0000000000000000a");
  auto creating = Apply(VolumeView{kVol, kCreating, 0, false, ""}, E::kDeleteRequested);
  CHECK(creating.status().message() == "The volume 'vol-0123456789abcdef0' is 'creating'.");
}

struct AttachmentRow {
  v1::AttachmentState from;
  AttachmentEvent event;
  v1::AttachmentState to;  // UNSPECIFIED when refused
  std::string error;
};

TEST_CASE("attachment lifecycle: every (state, event) pair") {
  // Bugs caught: a second attach accepted, a detach of a detached attachment accepted, a host
  // report moving an attachment backwards.
  constexpr auto kNo = v1::ATTACHMENT_STATE_UNSPECIFIED;
  constexpr auto kAttaching = v1::ATTACHMENT_STATE_ATTACHING;
  constexpr auto kAttached = v1::ATTACHMENT_STATE_ATTACHED;
  constexpr auto kDetaching = v1::ATTACHMENT_STATE_DETACHING;
  constexpr auto kDetached = v1::ATTACHMENT_STATE_DETACHED;
  using A = AttachmentEvent;
  const std::vector<AttachmentRow> rows{
      {kNo, A::kAttachRequested, kAttaching, ""},
      {kNo, A::kHostAttached, kNo, "IncorrectState"},
      {kNo, A::kDetachRequested, kNo, "IncorrectState"},
      {kNo, A::kHostDetached, kNo, "IncorrectState"},
      {kAttaching, A::kAttachRequested, kNo, "VolumeInUse"},
      {kAttaching, A::kHostAttached, kAttached, ""},
      {kAttaching, A::kDetachRequested, kDetaching, ""},
      {kAttaching, A::kHostDetached, kNo, "IncorrectState"},
      {kAttached, A::kAttachRequested, kNo, "VolumeInUse"},
      {kAttached, A::kHostAttached, kAttached, ""},
      {kAttached, A::kDetachRequested, kDetaching, ""},
      {kAttached, A::kHostDetached, kNo, "IncorrectState"},
      {kDetaching, A::kAttachRequested, kNo, "VolumeInUse"},
      {kDetaching, A::kHostAttached, kNo, "IncorrectState"},
      {kDetaching, A::kDetachRequested, kDetaching, ""},
      {kDetaching, A::kHostDetached, kDetached, ""},
      {kDetached, A::kAttachRequested, kNo, "VolumeInUse"},
      {kDetached, A::kHostAttached, kNo, "IncorrectState"},
      {kDetached, A::kDetachRequested, kNo, "IncorrectState"},
      {kDetached, A::kHostDetached, kNo, "IncorrectState"},
  };
  std::set<std::pair<int, int>> listed;
  for (const auto& r : rows) {
    listed.insert({r.from, static_cast<int>(r.event)});
    INFO(
        absl::StrCat("from '", AttachmentStateName(r.from), "' on ", AttachmentEventName(r.event)));
    auto got = Apply(kVol, r.from, r.event);
    if (!r.error.empty()) {
      REQUIRE_FALSE(got.ok());
      CHECK(Ec2CodeOf(got.status()) == r.error);
    } else {
      REQUIRE(got.ok());
      CHECK(*got == r.to);
    }
  }
  for (int s = v1::AttachmentState_MIN; s <= v1::AttachmentState_MAX; ++s) {
    for (int e = 0; e < kAttachmentEventCount; ++e) CHECK(listed.contains({s, e}));
  }
}

TEST_CASE("volume states carry EC2's names") {
  // Bug caught: "in_use" or "inuse" on the wire.
  CHECK(VolumeStateName(kInUse) == "in-use");
  CHECK(VolumeStateName(kCreating) == "creating");
  CHECK(AttachmentStateName(v1::ATTACHMENT_STATE_DETACHING) == "detaching");
  CHECK(ModificationStateName(v1::MODIFICATION_STATE_OPTIMIZING) == "optimizing");
}

}  // namespace
}  // namespace minicloud::controller::lifecycle
