// Reason texts of the filters (filters.h). Built only for rejections that are listed, for error
// messages and for --explain.

#include "controller/scheduler/filters.h"

#include "absl/strings/str_cat.h"

namespace minicloud::scheduler {

std::string RejectionText(const FilterResult& f, const RejectionSubject& s) {
  static const std::string kEmpty;
  auto str = [](const std::string* p) -> const std::string& { return p != nullptr ? *p : kEmpty; };
  switch (f.code) {
    case RejectCode::kNone:
      return "";
    case RejectCode::kHostDown:
      return "host is unreachable";
    case RejectCode::kRegion:
      return absl::StrCat("in region ", str(s.region), ", not ", str(s.requested_region));
    case RejectCode::kAvailabilityZone:
      if (str(s.target_az).empty()) {  // PlacementRequest::allowed_zones left it out
        return absl::StrCat("in ", str(s.availability_zone),
                            ", not an availability zone the request can use");
      }
      return absl::StrCat("in ", str(s.availability_zone), ", not ", str(s.target_az));
    case RejectCode::kClusterAz:
      return absl::StrCat("in ", str(s.availability_zone), "; cluster group ", s.group,
                          " is locked to ", str(s.target_az));
    case RejectCode::kVcpu:
      return absl::StrCat("needs ", f.need, " vCPU, ", f.have, " free");
    case RejectCode::kMemory:
      return absl::StrCat("needs ", f.need, " MiB, ", f.have, " MiB free");
    case RejectCode::kInstanceStore:
      return absl::StrCat("needs ", f.need, " GB instance store, ", f.have, " GB free");
    case RejectCode::kSpreadAzFull:
      return absl::StrCat("spread group ", s.group, " already has ", f.have,
                          " active instances in ", str(s.availability_zone), " (at most ",
                          kMaxSpreadInstancesPerAz, " per AZ)");
    case RejectCode::kSpreadRackTaken:
      return absl::StrCat("rack ", str(s.rack), " already holds an instance of spread group ",
                          s.group);
    case RejectCode::kSpreadHostTaken:
      return absl::StrCat("host already holds an instance of spread group ", s.group);
    case RejectCode::kPartitionRackTaken:
      if (f.other == 0) {
        return absl::StrCat("rack ", str(s.rack), " holds instances of several ", "partitions of ",
                            s.group, "; it takes no more");
      }
      return absl::StrCat("rack ", str(s.rack), " belongs to partition ", f.other, " of ", s.group,
                          f.need > 0 ? absl::StrCat(", not ", f.need) : std::string());
  }
  return "";
}

}  // namespace minicloud::scheduler
