#pragma once

// The EC2 instance options minicloud has fixed (controller/service/instance_options.h) on the
// wire: query_instance_options.cc.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "controller/query/action.h"
#include "controller/query/xml.h"

namespace minicloud::query {

// RunInstances' CreditSpecification.CpuCredits, InstanceInitiatedShutdownBehavior,
// DisableApiTermination, DisableApiStop, EbsOptimized and
// Monitoring.Enabled: read (so they are not UnknownParameter) and refused unless they ask for
// what every minicloud instance is.
absl::Status ParseFixedInstanceOptions(ParamNode& params);

// DescribeInstanceAttribute's attributes answered from the fixed options (and instanceType).
bool IsFixedInstanceAttribute(absl::string_view attribute);
absl::Status WriteFixedInstanceAttribute(Services& services, const std::string& instance_id,
                                         absl::string_view attribute, XmlNode out);

// DescribeInstanceCreditSpecifications.
void AddInstanceOptionActions(ActionTable& table);

}  // namespace minicloud::query
